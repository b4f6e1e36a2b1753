/*
 * reader_verify.c — tt_reader_verify(): every record batch is decoded and verified, every payload inflated
 * and re-hashed against its record (streaming, one chunk in memory at a time), and every payload, PACK or META frame
 * that no record reached is checked by its own checksums; and tt_reader_copy(), which writes a clean copy of
 * (a filtered subset of) a trace.
 */
#define _POSIX_C_SOURCE 200809L
#include "reader_impl.h"

#include <stdlib.h>
#include <string.h>

#include <xxhash.h>

#include "tt/dtype.h"

typedef struct verify_run {
    tt_reader *r;
    tt_verify_result *res;
    int (*cb)(void *, const tt_problem *);
    void *ctx;
    int stop;
} verify_run;

static void problem(verify_run *v, int status, uint64_t offset, int64_t record)
{
    v->res->problems++;
    if (v->cb) {
        tt_problem p = {status, offset, record, v->r->errmsg};
        if (v->cb(v->ctx, &p))
            v->stop = 1;
    }
}

static int hash_chunk(void *ctx, uint32_t c, const uint8_t *data, size_t len)
{
    (void)c;
    XXH3_64bits_update((XXH3_state_t *)ctx, data, len);
    return TT_OK;
}

static void verify_record(verify_run *v, const tt_record *rec, XXH3_state_t *st, uint8_t *mark)
{
    tt_reader *r = v->r;
    v->res->records_checked++;
    if (!(rec->flags & TT_REC_HAS_PAYLOAD))
        return;
    if (rec->flags & TT_REC_LOST) {
        tt__reader_err(r, TT_E_CORRUPT, "record %llu (%s layer %d): payload lost", (unsigned long long)rec->index,
                       rec->key.point, rec->key.layer);
        problem(v, TT_E_CORRUPT, 0, (int64_t)rec->index);
        return;
    }
    XXH3_64bits_reset(st);
    int rc = rec->payload_frames
                 ? tt__chunk_walk(r, rec, 0, rec->payload_frames - 1, hash_chunk, st, mark, NULL)
                 : TT_OK;
    if (rc != TT_OK) {
        problem(v, rc, r->err_offset, (int64_t)rec->index);
        return;
    }
    v->res->frames_checked += rec->payload_frames;
    v->res->payload_bytes_checked += rec->nbytes;
    if ((rec->flags & TT_REC_HAS_HASH) && XXH3_64bits_digest(st) != rec->hash) {
        tt__reader_err(r, TT_E_CORRUPT, "record %llu (%s layer %d): content hash mismatch",
                       (unsigned long long)rec->index, rec->key.point, rec->key.layer);
        problem(v, TT_E_CORRUPT, 0, (int64_t)rec->index);
    }
}

/* Checks the frames at off[0..n) that no record reached (mark[i] == 0) by their own checksums. */
static void check_unreached(verify_run *v, const uint64_t *off, size_t n, const uint8_t *mark)
{
    for (size_t p = 0; p < n && !v->stop; p++) {
        if (mark[p])
            continue;
        tt_frame_header h;
        int rc = tt__read_frame(v->r, off[p], &h, NULL, NULL, 0);
        v->res->frames_checked++;
        if (rc != TT_OK)
            problem(v, rc, off[p], -1);
    }
}

/* META frames of a file opened by its footer: the reader takes the metadata from the footer and never reads
 * them, so without this a damaged META frame would go unreported (and a later recovery would have to skip it).
 * Their offsets are in the footer's frame index; the footer was verified at open. */
static int verify_meta_frames(verify_run *v)
{
    tt_reader *r = v->r;
    tt_frame_header h;
    const uint8_t *raw;
    tt_footer_view f;
    char err[TT_ERRMSG_SIZE];
    int rc = tt__read_frame(r, r->info.scan_end, &h, &raw, NULL, 0);
    if (rc == TT_OK && (rc = tt_fb_decode_footer(raw, (size_t)h.raw_size, &f, err, sizeof err)) != TT_OK)
        tt__reader_err(r, rc, "footer at offset %llu: %s", (unsigned long long)r->info.scan_end, err);
    if (rc == TT_E_NOMEM || rc == TT_E_IO)
        return rc;
    if (rc != TT_OK) { /* the file changed since it was opened: report it and go no further */
        problem(v, rc, r->info.scan_end, -1);
        return TT_OK;
    }
    uint64_t *metas = malloc((f.nframes ? f.nframes : 1) * sizeof *metas);
    if (!metas)
        return tt__reader_err(r, TT_E_NOMEM, "out of memory");
    size_t n = 0;
    for (uint32_t i = 0; i < f.nframes; i++)
        if (f.frame_type && f.frame_type[i] == TT_FRAME_META)
            metas[n++] = f.frame_offset[i];
    /* raw (the footer) is overwritten by the reads below: only the offsets are used from here on */
    for (size_t i = 0; i < n && !v->stop; i++) {
        const void *vec;
        uint32_t nkv;
        rc = tt__read_frame(r, metas[i], &h, &raw, NULL, 0);
        v->res->frames_checked++;
        if (rc == TT_OK && h.type != TT_FRAME_META)
            rc = tt__reader_err(r, TT_E_CORRUPT, "frame at offset %llu: a %s frame where the footer has a META frame",
                                (unsigned long long)metas[i], tt_frame_type_name(h.type));
        if (rc == TT_OK && (rc = tt_fb_decode_meta(raw, (size_t)h.raw_size, &vec, &nkv, err, sizeof err)) != TT_OK)
            tt__reader_err(r, rc, "META frame at offset %llu: %s", (unsigned long long)metas[i], err);
        if (rc == TT_E_NOMEM || rc == TT_E_IO) {
            free(metas);
            return rc;
        }
        if (rc != TT_OK)
            problem(v, rc, metas[i], -1);
    }
    free(metas);
    return TT_OK;
}

int tt_reader_verify(tt_reader *r, tt_verify_result *res, int (*cb)(void *ctx, const tt_problem *p), void *ctx)
{
    if (!r || !res || r->failed)
        return TT_E_INVAL;
    if (r->many)
        return tt__many_verify(r, res, cb, ctx);
    memset(res, 0, sizeof *res);
    verify_run v = {r, res, cb, ctx, 0};
    XXH3_state_t *st = XXH3_createState();
    uint8_t *mark = calloc(r->npframe ? r->npframe : 1, 1);
    r->kmark = calloc(r->nkframe ? r->nkframe : 1, 1);
    if (!st || !mark || !r->kmark) {
        XXH3_freeState(st);
        free(mark);
        free(r->kmark);
        r->kmark = NULL;
        return tt__reader_err(r, TT_E_NOMEM, "out of memory");
    }
    for (size_t bi = 0; bi < r->nbatches && !v.stop; bi++) {
        tt_cached_batch *cb2;
        int rc = tt__batch_get(r, bi, &cb2);
        res->frames_checked++;
        if (rc != TT_OK) {
            if (rc == TT_E_IO || rc == TT_E_NOMEM) {
                XXH3_freeState(st);
                free(mark);
                free(r->kmark);
                r->kmark = NULL;
                return rc;
            }
            problem(&v, rc, r->batches[bi].offset, -1);
            continue;
        }
        /* a copy of the view: reading payloads below may evict this batch from the cache */
        const tt_rbatch b = r->batches[bi];
        for (uint32_t i = 0; i < b.count && !v.stop; i++) {
            tt_record rec;
            if ((rc = tt_reader_record(r, b.first_record + i, &rec)) != TT_OK) {
                problem(&v, rc, b.offset, (int64_t)(b.first_record + i));
                break;
            }
            verify_record(&v, &rec, st, mark);
        }
    }
    /* frames no record reached: their own checksums */
    check_unreached(&v, r->pframe, r->npframe, mark);
    check_unreached(&v, r->kframe, r->nkframe, r->kmark);
    XXH3_freeState(st);
    free(mark);
    free(r->kmark);
    r->kmark = NULL;
    if (r->info.footer_intact && !v.stop) {
        int rc = verify_meta_frames(&v);
        if (rc != TT_OK)
            return rc;
    }
    if (r->info.damaged_frames && !v.stop) {
        tt__reader_err(r, TT_E_CORRUPT, "recovery skipped %llu damaged frame(s)",
                       (unsigned long long)r->info.damaged_frames);
        problem(&v, TT_E_CORRUPT, 0, -1);
    }
    if (res->problems)
        return TT_E_CORRUPT;
    r->errmsg[0] = 0;
    return TT_OK;
}

int tt_reader_copy(tt_reader *r, const tt_filter *f, tt_writer *w, uint64_t *copied, uint64_t *lost)
{
    if (copied)
        *copied = 0;
    if (lost)
        *lost = 0;
    if (!r || !w || r->failed)
        return TT_E_INVAL;
    if (r->many)
        return tt__many_copy(r, f, w, copied, lost);
    for (uint32_t i = 0; i < r->nmeta; i++) {
        int rc = tt_writer_set_meta(w, r->meta_keys[i], r->meta_values[i]);
        if (rc != TT_OK)
            return rc;
    }
    uint8_t *buf = NULL;
    size_t cap = 0;
    uint64_t cursor = 0;
    tt_record rec;
    int rc;
    for (;;) {
        uint64_t before = cursor;
        rc = tt_reader_next(r, f, &cursor, &rec);
        if (rc == 0)
            break;
        if (rc < 0) {
            /* a damaged record batch: its records are lost, the iteration goes on after it */
            if (rc != TT_E_CORRUPT && rc != TT_E_TRUNCATED && rc != TT_E_LIMIT)
                break;
            if (lost)
                *lost += cursor - before;
            continue;
        }
        if (rec.flags & TT_REC_LOST) {
            if (lost)
                (*lost)++;
            continue;
        }
        const void *data = NULL;
        if (rec.flags & TT_REC_HAS_PAYLOAD) {
            if (tt__ensure(&buf, &cap, (size_t)rec.nbytes + 1) != TT_OK) {
                rc = tt__reader_err(r, TT_E_NOMEM, "out of memory for a %llu-byte tensor",
                                    (unsigned long long)rec.nbytes);
                break;
            }
            rc = tt_reader_read(r, rec.index, buf, cap);
            if (rc == TT_E_CORRUPT || rc == TT_E_TRUNCATED) {
                /* a payload that fails its checksums is not copied: lost, like one the scan found missing */
                if (lost)
                    (*lost)++;
                continue;
            }
            if (rc != TT_OK)
                break;
            data = buf;
        }
        rc = tt_put_record(w, &rec, data);
        if (rc < 0) {
            tt__reader_err(r, rc, "copying record %llu: %s", (unsigned long long)rec.index, tt_writer_errmsg(w));
            break;
        }
        if (copied)
            (*copied)++;
    }
    free(buf);
    return rc < 0 ? rc : TT_OK;
}
