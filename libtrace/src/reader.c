/*
 * reader.c — opening a trace by its trailer and footer, the record index, decoding record batches on demand
 * (with a small cache), filtered iteration, lookup by key, and reading tensors whole or by rows.
 *
 * Every number taken from the file is checked before it is used: offsets and sizes against the file size and
 * the limits of format/frame.h, counts against each other (the footer's batch index must add up), FlatBuffers
 * objects by the verifier. Errors say which file, frame and offset.
 */
#define _POSIX_C_SOURCE 200809L
#include "reader_impl.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <xxhash.h>
#include <zstd.h>

#include "tt/dtype.h"

#define MAX_GLOBAL_STRINGS (1u << 22)

int tt__reader_err(tt_reader *r, int code, const char *fmt, ...)
{
    /* "path: message", truncated to the buffer */
    size_t n = strlen(r->path);
    if (n > sizeof r->errmsg / 2)
        n = sizeof r->errmsg / 2;
    memcpy(r->errmsg, r->path, n);
    r->errmsg[n++] = ':';
    r->errmsg[n++] = ' ';
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->errmsg + n, sizeof r->errmsg - n, fmt, ap);
    va_end(ap);
    return code;
}

int tt__ensure(uint8_t **p, size_t *cap, size_t need)
{
    if (need <= *cap)
        return TT_OK;
    /* a fresh buffer rather than realloc(): nothing in the old one is needed, so nothing is copied */
    uint8_t *q = tt_alloc_big(need);
    if (!q)
        return TT_E_NOMEM;
    free(*p);
    *p = q;
    *cap = need;
    return TT_OK;
}

int tt__read_at(tt_reader *r, uint64_t off, void *buf, size_t n, const char *what)
{
    if (off > r->file_size || n > r->file_size - off)
        return tt__reader_err(r, TT_E_TRUNCATED, "%s at offset %llu: %zu bytes past the end of the %llu-byte file",
                              what, (unsigned long long)off, n, (unsigned long long)r->file_size);
    uint8_t *p = buf;
    while (n > 0) {
        ssize_t k = pread(r->fd, p, n, (off_t)off);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            return tt__reader_err(r, k < 0 ? TT_E_IO : TT_E_TRUNCATED, "%s at offset %llu: read failed: %s", what,
                                  (unsigned long long)off, k < 0 ? strerror(errno) : "unexpected end of file");
        p += k;
        off += (uint64_t)k;
        n -= (size_t)k;
    }
    return TT_OK;
}

int tt__read_frame(tt_reader *r, uint64_t off, tt_frame_header *h, const uint8_t **raw, uint8_t *dst,
                   size_t dst_len)
{
    uint8_t hb[TT_FRAME_HEADER_SIZE];
    char err[TT_ERRMSG_SIZE];
    r->err_offset = off;
    int rc = tt__read_at(r, off, hb, sizeof hb, "frame header");
    if (rc != TT_OK)
        return rc;
    if ((rc = tt_frame_header_decode(hb, h, err, sizeof err)) != TT_OK)
        return tt__reader_err(r, rc, "frame at offset %llu: %s", (unsigned long long)off, err);
    uint64_t start = off + TT_FRAME_HEADER_SIZE;
    if (h->stored_size > r->file_size || start > r->file_size - h->stored_size)
        return tt__reader_err(r, TT_E_TRUNCATED, "%s frame at offset %llu: its %llu bytes run past the end of the file",
                              tt_frame_type_name(h->type), (unsigned long long)off,
                              (unsigned long long)h->stored_size);
    if (tt__ensure(&r->b->stored, &r->b->stored_cap, (size_t)h->stored_size + 1) != TT_OK)
        return tt__reader_err(r, TT_E_NOMEM, "%s frame at offset %llu: out of memory for its %llu stored bytes",
                              tt_frame_type_name(h->type), (unsigned long long)off,
                              (unsigned long long)h->stored_size);
    if ((rc = tt__read_at(r, start, r->b->stored, (size_t)h->stored_size, "frame payload")) != TT_OK)
        return rc;
    if (!TT_CHECKSUM_MATCHES(tt_hash64(r->b->stored, (size_t)h->stored_size), h->payload_hash))
        return tt__reader_err(r, TT_E_CORRUPT, "%s frame at offset %llu: payload checksum mismatch",
                              tt_frame_type_name(h->type), (unsigned long long)off);
    if (!raw)
        return TT_OK;
    size_t need = (size_t)h->raw_size + 1;
    if (dst && h->raw_size != dst_len)
        return tt__reader_err(r, TT_E_CORRUPT, "%s frame at offset %llu: %llu raw bytes where %zu are expected",
                              tt_frame_type_name(h->type), (unsigned long long)off,
                              (unsigned long long)h->raw_size, dst_len);
    if ((!dst && tt__ensure(&r->b->chunk, &r->b->chunk_cap, need) != TT_OK) ||
        (h->filter != TT_FILTER_NONE && tt__ensure(&r->b->scratch, &r->b->scratch_cap, need) != TT_OK))
        return tt__reader_err(r, TT_E_NOMEM, "%s frame at offset %llu: out of memory for its %llu raw bytes",
                              tt_frame_type_name(h->type), (unsigned long long)off, (unsigned long long)h->raw_size);
    uint8_t *out = dst ? dst : r->b->chunk;
    if ((rc = tt_payload_decode(h, r->b->stored, out, r->b->scratch, r->dctx, err, sizeof err)) != TT_OK)
        return tt__reader_err(r, rc, "%s frame at offset %llu: %s", tt_frame_type_name(h->type),
                              (unsigned long long)off, err);
    *raw = out;
    return TT_OK;
}

int tt__add_batch(tt_reader *r, const tt_rbatch *b)
{
    if (tt_grow((void **)&r->batches, &r->batches_cap, r->nbatches + 1, sizeof *r->batches) != TT_OK)
        return tt__reader_err(r, TT_E_NOMEM, "out of memory for the batch index");
    r->batches[r->nbatches++] = *b;
    return TT_OK;
}

static void free_meta(tt_reader *r)
{
    for (uint32_t i = 0; i < r->nmeta; i++) {
        free(r->meta_keys[i]);
        free(r->meta_values[i]);
    }
    free(r->meta_keys);
    free(r->meta_values);
    r->meta_keys = r->meta_values = NULL;
    r->nmeta = 0;
}

/* Copies a verified vector of KeyValue into the reader's own metadata. */
static int copy_meta(tt_reader *r, const uint8_t *buf, const void *vec, uint32_t n)
{
    free_meta(r);
    r->meta_keys = calloc(n ? n : 1, sizeof(char *));
    r->meta_values = calloc(n ? n : 1, sizeof(char *));
    if (!r->meta_keys || !r->meta_values)
        return tt__reader_err(r, TT_E_NOMEM, "out of memory for metadata");
    for (uint32_t i = 0; i < n; i++) {
        const char *k, *v;
        tt_fb_meta_entry(buf, vec, i, &k, &v);
        r->meta_keys[i] = tt_strdup(k);
        r->meta_values[i] = tt_strdup(v);
        r->nmeta = i + 1;
        if (!r->meta_keys[i] || !r->meta_values[i])
            return tt__reader_err(r, TT_E_NOMEM, "out of memory for metadata");
    }
    return TT_OK;
}

int tt__set_meta_from(tt_reader *r, const uint8_t *obj, size_t len)
{
    const void *vec;
    uint32_t n;
    char err[TT_ERRMSG_SIZE];
    int rc = tt_fb_decode_meta(obj, len, &vec, &n, err, sizeof err);
    if (rc != TT_OK)
        return tt__reader_err(r, rc, "META frame: %s", err);
    return copy_meta(r, obj, vec, n);
}

/* ---- open by the footer ------------------------------------------------------------------------------------ */

static int load_footer_index(tt_reader *r, const tt_footer_view *f, uint64_t footer_off)
{
    const tt_batch_index_view *bi = &f->batches;
    uint64_t expect = 0;
    for (uint32_t i = 0; i < bi->nb; i++) {
        tt_rbatch b = {0};
        b.offset = bi->offset[i];
        b.frame_size = bi->frame_size ? bi->frame_size[i] : 0;
        b.first_record = bi->first_record[i];
        b.count = bi->record_count[i];
        if (b.offset < TT_FILE_HEADER_SIZE || b.offset >= footer_off ||
            (b.frame_size && (b.frame_size < TT_FRAME_HEADER_SIZE || b.frame_size > footer_off - b.offset)))
            return tt__reader_err(r, TT_E_CORRUPT, "footer: batch %u at offset %llu (size %llu) is outside the body",
                                  i, (unsigned long long)b.offset, (unsigned long long)b.frame_size);
        if (b.first_record != expect || b.count > TT_LIMIT_BATCH_RECORDS)
            return tt__reader_err(r, TT_E_CORRUPT, "footer: batch %u starts at record %llu with %u records (expected "
                                  "record %llu)", i, (unsigned long long)b.first_record, b.count,
                                  (unsigned long long)expect);
        if (i && b.offset <= r->batches[r->nbatches - 1].offset)
            return tt__reader_err(r, TT_E_CORRUPT, "footer: batch %u offset %llu is not after the previous one", i,
                                  (unsigned long long)b.offset);
        expect += b.count;
        if (bi->layer_min && bi->layer_max && bi->step_min && bi->step_max && bi->pos_min && bi->pos_max) {
            b.has_ranges = 1;
            b.layer_min = bi->layer_min[i], b.layer_max = bi->layer_max[i];
            b.step_min = bi->step_min[i], b.step_max = bi->step_max[i];
            b.pos_min = bi->pos_min[i], b.pos_max = bi->pos_max[i];
        }
        int rc = tt__add_batch(r, &b);
        if (rc != TT_OK)
            return rc;
    }
    if (expect != f->record_count)
        return tt__reader_err(r, TT_E_CORRUPT, "footer: batches hold %llu records, footer says %llu",
                              (unsigned long long)expect, (unsigned long long)f->record_count);
    r->nrecords = expect;
    for (uint32_t i = 0; i < f->nframes; i++) {
        uint8_t type = f->frame_type ? f->frame_type[i] : TT_FRAME_PAYLOAD;
        uint64_t off = f->frame_offset[i];
        if (off < TT_FILE_HEADER_SIZE || off > footer_off - TT_FRAME_HEADER_SIZE)
            return tt__reader_err(r, TT_E_CORRUPT, "footer: frame %u at offset %llu is outside the body", i,
                                  (unsigned long long)off);
        if (type == TT_FRAME_PACK) {
            if (r->nkframe && off <= r->kframe[r->nkframe - 1])
                return tt__reader_err(r, TT_E_CORRUPT, "footer: frame %u offset %llu is not after the previous one",
                                      i, (unsigned long long)off);
            if (tt__add_pack_frame(r, off) != TT_OK)
                return TT_E_NOMEM;
            continue;
        }
        if (type != TT_FRAME_PAYLOAD)
            continue;
        if (r->npframe && off <= r->pframe[r->npframe - 1])
            return tt__reader_err(r, TT_E_CORRUPT, "footer: frame %u offset %llu is not after the previous one", i,
                                  (unsigned long long)off);
        if (tt_grow((void **)&r->pframe, &r->pframe_cap, r->npframe + 1, sizeof *r->pframe) != TT_OK)
            return tt__reader_err(r, TT_E_NOMEM, "out of memory for the frame index");
        r->pframe[r->npframe++] = off;
    }
    for (uint32_t i = 0; i < f->nstrings; i++) {
        uint32_t len, id;
        const char *s = fb_vec_string(f->buf, f->strings_vec, i, &len);
        if (tt_intern_add(&r->strings, s, len, MAX_GLOBAL_STRINGS, &id) != TT_OK)
            return tt__reader_err(r, TT_E_LIMIT, "footer: too many strings");
    }
    return copy_meta(r, f->buf, f->meta_vec, f->nmeta);
}

static int open_by_footer(tt_reader *r)
{
    if (r->file_size < TT_FILE_HEADER_SIZE + TT_FRAME_HEADER_SIZE + TT_TRAILER_SIZE)
        return tt__reader_err(r, TT_E_NOTFOUND, "no footer: the file is only %llu bytes",
                              (unsigned long long)r->file_size);
    uint8_t tb[TT_TRAILER_SIZE];
    char err[TT_ERRMSG_SIZE];
    uint64_t toff = r->file_size - TT_TRAILER_SIZE;
    int rc = tt__read_at(r, toff, tb, sizeof tb, "trailer");
    if (rc != TT_OK)
        return rc;
    tt_trailer t;
    if ((rc = tt_trailer_decode(tb, &t, err, sizeof err)) != TT_OK)
        return tt__reader_err(r, rc, "trailer at offset %llu: %s", (unsigned long long)toff, err);
    if (t.footer_offset < TT_FILE_HEADER_SIZE || t.footer_offset > toff || t.footer_size != toff - t.footer_offset)
        return tt__reader_err(r, TT_E_CORRUPT, "trailer at offset %llu: footer at %llu (%llu bytes) does not end at "
                              "the trailer", (unsigned long long)toff, (unsigned long long)t.footer_offset,
                              (unsigned long long)t.footer_size);
    tt_frame_header h;
    const uint8_t *raw;
    if ((rc = tt__read_frame(r, t.footer_offset, &h, &raw, NULL, 0)) != TT_OK)
        return rc;
    if (h.type != TT_FRAME_FOOTER || TT_FRAME_HEADER_SIZE + h.stored_size != t.footer_size)
        return tt__reader_err(r, TT_E_CORRUPT, "frame at offset %llu: a %s frame where the trailer points at the footer",
                              (unsigned long long)t.footer_offset, tt_frame_type_name(h.type));
    /* the decoded footer lives in r->b->chunk, which later reads reuse: take it over */
    uint8_t *fbuf = r->b->chunk;
    r->b->chunk = NULL;
    r->b->chunk_cap = 0;
    tt_footer_view f;
    rc = tt_fb_decode_footer(fbuf, (size_t)h.raw_size, &f, err, sizeof err);
    if (rc != TT_OK) {
        free(fbuf);
        return tt__reader_err(r, rc, "footer at offset %llu: %s", (unsigned long long)t.footer_offset, err);
    }
    /* the file header's version is the file's (FORMAT.md section 2); a footer that says otherwise was not written
     * with this header and is not used: the file is read by scanning, as with any damaged footer */
    if (f.format_major != r->info.format_major || f.format_minor != r->info.format_minor) {
        free(fbuf);
        return tt__reader_err(r, TT_E_CORRUPT, "footer at offset %llu: format %u.%u differs from the file header's "
                              "%u.%u", (unsigned long long)t.footer_offset, f.format_major, f.format_minor,
                              r->info.format_major, r->info.format_minor);
    }
    rc = load_footer_index(r, &f, t.footer_offset);
    if (rc == TT_OK) {
        tt_file_info *in = &r->info;
        in->footer_intact = 1;
        in->counters_known = f.has_counters;
        in->counters = f.counters;
        in->created_ns = f.created_ns;
        in->closed_ns = f.closed_ns;
        in->chunk_bytes = f.chunk_bytes;
        in->writer = tt_strdup(f.writer);
        in->scan_end = t.footer_offset;
        if (!in->writer)
            rc = tt__reader_err(r, TT_E_NOMEM, "out of memory");
    }
    free(fbuf);
    return rc;
}

static void reset_index(tt_reader *r)
{
    free(r->batches);
    free(r->pframe);
    free(r->lost);
    free(r->kframe);
    r->batches = NULL, r->pframe = NULL, r->lost = NULL, r->kframe = NULL;
    r->nbatches = r->batches_cap = r->npframe = r->pframe_cap = r->nlost = r->lost_cap = 0;
    r->nkframe = r->kframe_cap = 0;
    r->pack_off = 0;
    r->nrecords = 0;
    free_meta(r);
    tt_intern_free(&r->strings);
    tt_intern_init(&r->strings);
    free((char *)r->info.writer);
    r->info.writer = NULL;
}

int tt_reader_open(tt_reader **out, const char *path, const tt_reader_options *opts)
{
    if (!out)
        return TT_E_INVAL;
    tt_reader *r = calloc(1, sizeof *r);
    *out = r;
    if (!r)
        return TT_E_NOMEM;
    r->fd = -1;
    r->path = tt_strdup(path ? path : "(null)");
    tt_intern_init(&r->strings);
    r->recovery = (opts && opts->size >= offsetof(tt_reader_options, recovery) + sizeof opts->recovery)
                      ? opts->recovery : TT_RECOVER_AUTO;
    r->ncache = (opts && opts->size >= offsetof(tt_reader_options, cache_batches) + sizeof(uint32_t) &&
                 opts->cache_batches) ? opts->cache_batches : 4;
    if (r->ncache > 1024)
        r->ncache = 1024;
    r->cache = calloc(r->ncache, sizeof *r->cache);
    r->b = &r->own;
    r->dctx = ZSTD_createDCtx();
    int rc = TT_OK;
    if (!r->path || !r->cache || !r->dctx) {
        r->failed = 1;
        snprintf(r->errmsg, sizeof r->errmsg, "out of memory");
        return TT_E_NOMEM;
    }
    for (uint32_t i = 0; i < r->ncache; i++)
        r->cache[i].index = -1;
    if (!path || r->recovery > TT_RECOVER_ALWAYS) {
        rc = tt__reader_err(r, TT_E_INVAL, "bad arguments");
        goto fail;
    }
    r->fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (r->fd < 0 || fstat(r->fd, &st) != 0) {
        rc = tt__reader_err(r, TT_E_IO, "cannot open: %s", strerror(errno));
        goto fail;
    }
    if (S_ISDIR(st.st_mode)) {
        rc = tt__reader_err(r, TT_E_IO, "is a directory");
        goto fail;
    }
    r->file_size = (uint64_t)st.st_size;
    r->info.file_size = r->file_size;
    uint8_t hb[TT_FILE_HEADER_SIZE];
    if (r->file_size < TT_FILE_HEADER_SIZE) {
        rc = tt__reader_err(r, r->file_size >= 8 ? TT_E_TRUNCATED : TT_E_NOTTRACE,
                            "%llu bytes, shorter than the %d-byte file header", (unsigned long long)r->file_size,
                            TT_FILE_HEADER_SIZE);
        if (r->file_size >= 8 && tt__read_at(r, 0, hb, 8, "file header") == TT_OK &&
            memcmp(hb, tt_file_magic, 8) != 0)
            rc = tt__reader_err(r, TT_E_NOTTRACE, "not a tensortrace file (bad magic at offset 0)");
        goto fail;
    }
    if ((rc = tt__read_at(r, 0, hb, sizeof hb, "file header")) != TT_OK)
        goto fail;
    tt_file_header fh;
    char err[TT_ERRMSG_SIZE];
    if ((rc = tt_file_header_decode(hb, &fh, err, sizeof err)) != TT_OK) {
        tt__reader_err(r, rc, "%s", err);
        goto fail;
    }
    r->info.format_major = fh.major;
    r->info.format_minor = fh.minor;
    rc = TT_E_NOTFOUND;
    char footer_err[TT_ERRMSG_SIZE] = "";
    if (r->recovery != TT_RECOVER_ALWAYS) {
        rc = open_by_footer(r);
        if (rc == TT_E_VERSION || rc == TT_E_NOMEM || (rc != TT_OK && r->recovery == TT_RECOVER_NEVER))
            goto fail;
        if (rc != TT_OK) {
            memcpy(footer_err, r->errmsg, sizeof footer_err);
            reset_index(r);
        }
    }
    if (rc != TT_OK) {
        rc = tt__scan(r);
        if (rc != TT_OK)
            goto fail;
        /* keep why the footer was not used, for tools to show */
        if (footer_err[0])
            memcpy(r->errmsg, footer_err, sizeof r->errmsg);
    }
    r->info.record_count = r->nrecords;
    r->info.batch_count = r->nbatches;
    r->info.payload_frame_count = r->npframe + r->nkframe;
    r->info.meta_count = r->nmeta;
    r->info.lost_records = r->nlost;
    if (!r->info.writer)
        r->info.writer = tt_strdup("");
    return TT_OK;
fail:
    r->failed = 1;
    return rc;
}

void tt_reader_close(tt_reader *r)
{
    if (!r)
        return;
    if (r->many)
        tt__many_close(r);
    if (r->fd >= 0)
        close(r->fd);
    reset_index(r);
    tt_intern_free(&r->strings);
    for (uint32_t i = 0; r->cache && i < r->ncache; i++) {
        free(r->cache[i].raw);
        free(r->cache[i].dims_at);
        free(r->cache[i].gstr);
    }
    free(r->cache);
    ZSTD_freeDCtx(r->dctx);
    XXH3_freeState(r->xxh);
    free(r->own.stored);
    free(r->own.chunk);
    free(r->own.scratch);
    free(r->pack_buf);
    free(r->path);
    free(r);
}

const char *tt_reader_errmsg(const tt_reader *r) { return r ? r->errmsg : "out of memory"; }
const char *tt_reader_path(const tt_reader *r) { return r ? r->path : ""; }
uint64_t tt_reader_count(const tt_reader *r) { return r && !r->failed ? r->nrecords : 0; }

int tt_reader_info(const tt_reader *r, tt_file_info *out)
{
    if (!r || !out || r->failed)
        return TT_E_INVAL;
    *out = r->info;
    if (!out->writer)
        out->writer = "";
    return TT_OK;
}

int tt_reader_meta(const tt_reader *r, uint64_t i, const char **key, const char **value)
{
    tt_reader *first;
    if (r && !r->failed && r->many)
        return tt__many_meta((tt_reader *)r, &first) == TT_OK ? tt_reader_meta(first, i, key, value) : TT_E_RANGE;
    if (!r || r->failed || i >= r->nmeta)
        return TT_E_RANGE;
    *key = r->meta_keys[i];
    *value = r->meta_values[i];
    return TT_OK;
}

const char *tt_reader_meta_get(const tt_reader *r, const char *key)
{
    if (!r || r->failed || !key)
        return NULL;
    tt_reader *first;
    if (r->many)
        return tt__many_meta((tt_reader *)r, &first) == TT_OK ? tt_reader_meta_get(first, key) : NULL;
    for (uint32_t i = r->nmeta; i-- > 0;)
        if (strcmp(r->meta_keys[i], key) == 0)
            return r->meta_values[i];
    return NULL;
}

int tt_reader_strings(const tt_reader *r, const char *const **strings, uint64_t *count)
{
    if (!r || r->failed || !strings || !count)
        return TT_E_INVAL;
    *strings = (const char *const *)r->strings.strs;
    *count = r->strings.n;
    return TT_OK;
}

/* ---- batches and records ---------------------------------------------------------------------------------- */

int tt__is_lost(const tt_reader *r, uint64_t index)
{
    return tt_sorted_find(r->lost, r->nlost, index) != SIZE_MAX;
}

static int decode_into_cache(tt_reader *r, size_t bi, tt_cached_batch *c)
{
    const tt_rbatch *b = &r->batches[bi];
    tt_frame_header h;
    const uint8_t *raw;
    int rc = tt__read_frame(r, b->offset, &h, &raw, NULL, 0);
    if (rc != TT_OK)
        return rc;
    if (h.type != TT_FRAME_BATCH)
        return tt__reader_err(r, TT_E_CORRUPT, "frame at offset %llu: a %s frame where the index has a batch",
                              (unsigned long long)b->offset, tt_frame_type_name(h.type));
    /* take the decoded object over from the reader's chunk buffer */
    free(c->raw);
    c->raw = r->b->chunk;
    r->b->chunk = NULL;
    r->b->chunk_cap = 0;
    c->index = -1;
    char err[TT_ERRMSG_SIZE];
    if ((rc = tt_fb_decode_batch(c->raw, (size_t)h.raw_size, &c->v, err, sizeof err)) != TT_OK)
        return tt__reader_err(r, rc, "BATCH frame at offset %llu: %s", (unsigned long long)b->offset, err);
    if (c->v.n != b->count)
        return tt__reader_err(r, TT_E_CORRUPT, "BATCH frame at offset %llu holds %u records, the index says %u",
                              (unsigned long long)b->offset, c->v.n, b->count);
    free(c->dims_at);
    free(c->gstr);
    c->dims_at = malloc((c->v.n ? c->v.n : 1) * sizeof *c->dims_at);
    c->gstr = malloc((c->v.nstrings ? c->v.nstrings : 1) * sizeof *c->gstr);
    if (!c->dims_at || !c->gstr)
        return tt__reader_err(r, TT_E_NOMEM, "out of memory");
    uint32_t at = 0;
    for (uint32_t i = 0; i < c->v.n; i++) {
        c->dims_at[i] = at;
        at += c->v.ndim ? c->v.ndim[i] : 0;
    }
    for (uint32_t i = 0; i < c->v.nstrings; i++) {
        uint32_t len;
        const char *s = fb_vec_string(c->raw, c->v.strings_vec, i, &len);
        if (tt_intern_add(&r->strings, s, len, MAX_GLOBAL_STRINGS, &c->gstr[i]) != TT_OK)
            return tt__reader_err(r, TT_E_LIMIT, "BATCH frame at offset %llu: too many distinct strings",
                                  (unsigned long long)b->offset);
    }
    c->index = (int64_t)bi;
    return TT_OK;
}

int tt__batch_get(tt_reader *r, size_t bi, tt_cached_batch **out)
{
    tt_cached_batch *victim = &r->cache[0];
    for (uint32_t i = 0; i < r->ncache; i++) {
        tt_cached_batch *c = &r->cache[i];
        if (c->index == (int64_t)bi) {
            c->last_use = ++r->use_clock;
            *out = c;
            return TT_OK;
        }
        if (c->index < 0 || c->last_use < victim->last_use)
            victim = c;
    }
    int rc = decode_into_cache(r, bi, victim);
    if (rc != TT_OK)
        return rc;
    victim->last_use = ++r->use_clock;
    *out = victim;
    return TT_OK;
}

/* The batch holding record index (binary search on first_record). */
static size_t batch_of(const tt_reader *r, uint64_t index)
{
    size_t lo = 0, hi = r->nbatches;
    while (hi - lo > 1) {
        size_t mid = lo + (hi - lo) / 2;
        if (r->batches[mid].first_record <= index)
            lo = mid;
        else
            hi = mid;
    }
    return lo;
}

#define COL(v, name, i, def) ((v)->name ? (v)->name[i] : (def))

static size_t pframe_find(const tt_reader *r, uint64_t off);

/* Are all payload frames of record i in the frame index? A file opened by its footer is not scanned, so a record
 * whose frames the index lacks (a damaged or hostile footer) is found here, and reported lost as recovery would
 * (FORMAT.md section 9): nothing then sizes a buffer or a read after a tensor that cannot be there. */
static int payload_indexed(const tt_reader *r, const tt_batch_view *v, uint32_t i)
{
    uint32_t k = COL(v, payload_frames, i, 0);
    if (!k)
        return 1;
    size_t p = pframe_find(r, COL(v, payload_offset, i, 0));
    return p != SIZE_MAX && k <= r->npframe - p;
}

void tt__fill_record(tt_reader *r, const tt_cached_batch *cb, uint32_t i, uint64_t index, tt_record *out)
{
    const tt_batch_view *v = &cb->v;
    memset(out, 0, sizeof *out);
    out->index = index;
    out->seq = COL(v, seq, i, 0);
    out->time_ns = COL(v, time_ns, i, 0);
    const uint32_t *sc[3] = {v->prompt_id, v->phase, v->point};
    const char **dst[3] = {&out->key.prompt_id, &out->key.phase, &out->key.point};
    for (int k = 0; k < 3; k++)
        *dst[k] = sc[k] ? r->strings.strs[cb->gstr[sc[k][i]]] : "";
    out->key.layer = COL(v, layer, i, TT_UNSET);
    out->key.step = COL(v, step, i, TT_UNSET);
    out->key.token_id = COL(v, token_id, i, TT_UNSET);
    out->key.logical_tok_idx = COL(v, logical_tok_idx, i, TT_UNSET);
    out->key.pos_id = COL(v, pos_id, i, TT_UNSET);
    out->key.rows = COL(v, rows, i, TT_UNSET);
    out->key.rank = COL(v, rank, i, 0);
    out->key.shard_kind = COL(v, shard_kind, i, TT_SHARD_NONE);
    out->key.shard_dim = COL(v, shard_dim, i, TT_UNSET);
    out->key.shard_index = COL(v, shard_index, i, TT_UNSET);
    out->key.shard_count = COL(v, shard_count, i, TT_UNSET);
    out->dtype = (tt_dtype)COL(v, dtype, i, 0);
    out->ndim = COL(v, ndim, i, 0);
    uint64_t bytes = tt_dtype_size(out->dtype);
    for (int d = 0; d < out->ndim; d++) {
        out->shape[d] = v->dims[cb->dims_at[i] + (uint32_t)d];
        bytes *= out->shape[d]; /* checked against overflow by the batch decoder */
    }
    out->nbytes = bytes;
    out->flags = COL(v, flags, i, 0) & (TT_REC_HAS_PAYLOAD | TT_REC_HAS_HASH | TT_REC_HAS_STATS);
    out->hash = COL(v, hash, i, 0);
    out->stats.min = COL(v, stat_min, i, 0);
    out->stats.max = COL(v, stat_max, i, 0);
    out->stats.mean = COL(v, stat_mean, i, 0);
    out->stats.absmax = COL(v, stat_absmax, i, 0);
    out->stats.l2 = COL(v, stat_l2, i, 0);
    out->stats.nan_count = COL(v, nan_count, i, 0);
    out->stats.inf_count = COL(v, inf_count, i, 0);
    out->stored_bytes = COL(v, payload_stored, i, 0);
    out->payload_frames = (out->flags & TT_REC_HAS_PAYLOAD) ? COL(v, payload_frames, i, 0) : 0;
    int present = !(out->flags & TT_REC_HAS_PAYLOAD) || payload_indexed(r, v, i);
    if ((COL(v, flags, i, 0) & TT_REC_PACKED) && !(out->flags & TT_REC_HAS_PAYLOAD)) {
        /* packed (format 1.1): to the caller a record with its tensor stored, in one frame */
        out->flags |= TT_REC_HAS_PAYLOAD | TT_REC_PACKED;
        out->payload_frames = 1;
        present = tt__pack_indexed(r, COL(v, pack_offset, i, 0));
    }
    if ((r->nlost && tt__is_lost(r, index)) || !present)
        out->flags |= TT_REC_LOST;
}

int tt_reader_record(tt_reader *r, uint64_t index, tt_record *out)
{
    if (!r || !out || r->failed)
        return TT_E_INVAL;
    if (r->many)
        return tt__many_record(r, index, out);
    if (index >= r->nrecords)
        return tt__reader_err(r, TT_E_RANGE, "record %llu: the file has %llu records", (unsigned long long)index,
                              (unsigned long long)r->nrecords);
    size_t bi = batch_of(r, index);
    tt_cached_batch *cb;
    int rc = tt__batch_get(r, bi, &cb);
    if (rc != TT_OK)
        return rc;
    tt__fill_record(r, cb, (uint32_t)(index - r->batches[bi].first_record), index, out);
    return TT_OK;
}

int tt_reader_next(tt_reader *r, const tt_filter *f, uint64_t *cursor, tt_record *out)
{
    if (!r || !cursor || !out || r->failed)
        return TT_E_INVAL;
    if (r->many)
        return tt__many_next(r, f, cursor, out);
    uint64_t i = *cursor;
    while (i < r->nrecords) {
        size_t bi = batch_of(r, i);
        const tt_rbatch *b = &r->batches[bi];
        uint64_t end = b->first_record + b->count;
        if (f && !tt__filter_may_match(f, b)) {
            i = end;
            continue;
        }
        tt_cached_batch *cb;
        int rc = tt__batch_get(r, bi, &cb);
        if (rc != TT_OK) {
            *cursor = end; /* past the batch that cannot be read, so the caller may go on */
            return rc;
        }
        for (; i < end; i++) {
            tt__fill_record(r, cb, (uint32_t)(i - b->first_record), i, out);
            if (tt_filter_match(f, out)) {
                *cursor = i + 1;
                return 1;
            }
        }
    }
    *cursor = i;
    return 0;
}

static int key_matches(const tt_key *k, const tt_record *rec)
{
    const char *qs[3] = {k->prompt_id, k->phase, k->point};
    const char *rs[3] = {rec->key.prompt_id, rec->key.phase, rec->key.point};
    for (int i = 0; i < 3; i++)
        if (qs[i] && strcmp(qs[i], rs[i]) != 0)
            return 0;
    const int32_t qi[7] = {k->layer, k->step, k->token_id, k->logical_tok_idx, k->pos_id, k->rows, k->rank};
    const int32_t ri[7] = {rec->key.layer, rec->key.step, rec->key.token_id, rec->key.logical_tok_idx,
                           rec->key.pos_id, rec->key.rows, rec->key.rank};
    for (int i = 0; i < 7; i++)
        if (qi[i] != TT_UNSET && qi[i] != ri[i])
            return 0;
    return 1;
}

int tt_reader_find(tt_reader *r, const tt_key *key, tt_record *out)
{
    if (!r || !key || !out || r->failed)
        return TT_E_INVAL;
    if (r->many)
        return tt__many_find(r, key, out);
    for (uint64_t i = 0; i < r->nrecords;) {
        size_t bi = batch_of(r, i);
        const tt_rbatch *b = &r->batches[bi];
        uint64_t end = b->first_record + b->count;
        if (b->has_ranges && key->layer != TT_UNSET && (key->layer < b->layer_min || key->layer > b->layer_max)) {
            i = end;
            continue;
        }
        tt_cached_batch *cb;
        int rc = tt__batch_get(r, bi, &cb);
        if (rc != TT_OK)
            return rc;
        for (; i < end; i++) {
            tt__fill_record(r, cb, (uint32_t)(i - b->first_record), i, out);
            if (key_matches(key, out))
                return TT_OK;
        }
    }
    return TT_E_NOTFOUND;
}

/* ---- tensors ---------------------------------------------------------------------------------------------- */

/* Position in pframe of the frame at offset off, or SIZE_MAX. */
static size_t pframe_find(const tt_reader *r, uint64_t off)
{
    return tt_sorted_find(r->pframe, r->npframe, off);
}

/* The record's payload location and chunk size, from its batch; for a packed record, its PACK frame's offset
 * and where its content starts in the frame. */
static int payload_where(tt_reader *r, const tt_record *rec, uint64_t *first_off, uint32_t *chunk_bytes,
                         uint32_t *pack_start)
{
    size_t bi = batch_of(r, rec->index);
    tt_cached_batch *cb;
    int rc = tt__batch_get(r, bi, &cb);
    if (rc != TT_OK)
        return rc;
    uint32_t i = (uint32_t)(rec->index - r->batches[bi].first_record);
    int packed = (rec->flags & TT_REC_PACKED) != 0;
    *first_off = packed ? COL(&cb->v, pack_offset, i, 0) : COL(&cb->v, payload_offset, i, 0);
    *pack_start = packed ? COL(&cb->v, pack_start, i, 0) : 0;
    *chunk_bytes = cb->v.chunk_bytes;
    return TT_OK;
}

int tt__add_pack_frame(tt_reader *r, uint64_t off)
{
    if (tt_grow((void **)&r->kframe, &r->kframe_cap, r->nkframe + 1, sizeof *r->kframe) != TT_OK)
        return tt__reader_err(r, TT_E_NOMEM, "out of memory for the frame index");
    r->kframe[r->nkframe++] = off;
    return TT_OK;
}

int tt__pack_indexed(const tt_reader *r, uint64_t off) { return tt_sorted_find(r->kframe, r->nkframe, off) != SIZE_MAX; }

/* The decoded content of the PACK frame at off, kept until another one is read. */
static int pack_content(tt_reader *r, uint64_t off, const uint8_t **data, uint64_t *len)
{
    if (r->pack_off != off || !r->pack_off) {
        tt_frame_header h;
        const uint8_t *raw;
        r->pack_off = 0;
        int rc = tt__read_frame(r, off, &h, &raw, NULL, 0);
        if (rc != TT_OK)
            return rc;
        if (h.type != TT_FRAME_PACK)
            return tt__reader_err(r, TT_E_CORRUPT, "frame at offset %llu: a %s frame where a PACK frame should be",
                                  (unsigned long long)off, tt_frame_type_name(h.type));
        /* take the decoded bytes over from the reader's chunk buffer, and give it the old pack buffer */
        uint8_t *old = r->pack_buf;
        size_t old_cap = r->pack_cap;
        r->pack_buf = r->b->chunk;
        r->pack_cap = r->b->chunk_cap;
        r->b->chunk = old;
        r->b->chunk_cap = old_cap;
        r->pack_off = off;
        r->pack_len = h.raw_size;
    }
    *data = r->pack_buf;
    *len = r->pack_len;
    return TT_OK;
}

/* Reads a packed record's content (FORMAT.md section 5): bytes [start, start + nbytes) of its PACK frame. */
static int pack_walk(tt_reader *r, const tt_record *rec, uint64_t off, uint32_t start,
                     int (*fn)(void *ctx, uint32_t c, const uint8_t *data, size_t len), void *ctx, uint8_t *direct)
{
    size_t k = tt_sorted_find(r->kframe, r->nkframe, off);
    if (k == SIZE_MAX)
        return tt__reader_err(r, TT_E_CORRUPT, "record %llu: PACK frame at offset %llu is not in the frame index",
                              (unsigned long long)rec->index, (unsigned long long)off);
    if (r->kmark) /* reached, whether or not it reads well */
        r->kmark[k] = 1;
    const uint8_t *data = NULL;
    uint64_t len = 0;
    int rc = pack_content(r, off, &data, &len);
    if (rc != TT_OK) {
        char why[TT_ERRMSG_SIZE];
        size_t n = strlen(r->path) + 2;
        snprintf(why, sizeof why, "%s", strlen(r->errmsg) > n ? r->errmsg + n : r->errmsg);
        return tt__reader_err(r, rc, "record %llu (%s layer %d), packed: %s", (unsigned long long)rec->index,
                              rec->key.point, rec->key.layer, why);
    }
    if (start > len || rec->nbytes > len - start)
        return tt__reader_err(r, TT_E_CORRUPT, "record %llu: packed bytes %u..%llu outside the %llu bytes of the PACK "
                              "frame at offset %llu", (unsigned long long)rec->index, start,
                              (unsigned long long)(start + rec->nbytes), (unsigned long long)len,
                              (unsigned long long)off);
    const uint8_t *p = data + start;
    if (direct) {
        memcpy(direct, p, (size_t)rec->nbytes);
        p = direct;
    }
    return fn ? fn(ctx, 0, p, (size_t)rec->nbytes) : TT_OK;
}

int tt__chunk_walk(tt_reader *r, const tt_record *rec, uint32_t first, uint32_t last,
                   int (*fn)(void *ctx, uint32_t c, const uint8_t *data, size_t len), void *ctx, uint8_t *mark,
                   uint8_t *direct)
{
    uint64_t off0;
    uint32_t cb, start;
    int rc = payload_where(r, rec, &off0, &cb, &start);
    if (rc != TT_OK)
        return rc;
    if (rec->flags & TT_REC_PACKED)
        return pack_walk(r, rec, off0, start, fn, ctx, direct);
    size_t p = pframe_find(r, off0);
    if (p == SIZE_MAX || p + rec->payload_frames > r->npframe)
        return tt__reader_err(r, TT_E_CORRUPT, "record %llu: payload frame at offset %llu is not in the frame index",
                              (unsigned long long)rec->index, (unsigned long long)off0);
    for (uint32_t c = first; c <= last; c++) {
        uint64_t off = r->pframe[p + c];
        tt_frame_header h;
        const uint8_t *raw;
        uint64_t expect = rec->nbytes - (uint64_t)c * cb < cb ? rec->nbytes - (uint64_t)c * cb : cb;
        uint8_t *dst = direct ? direct + (uint64_t)c * cb : NULL;
        if (mark) /* reached, whether or not it reads well: reported once, with the record */
            mark[p + c] = 1;
        if ((rc = tt__read_frame(r, off, &h, &raw, dst, (size_t)expect)) != TT_OK)
            return rc;
        if (h.type != TT_FRAME_PAYLOAD || h.seq != rec->seq || h.aux != c || h.raw_size != expect)
            return tt__reader_err(r, TT_E_CORRUPT, "frame at offset %llu: expected chunk %u of record %llu (seq %llu, "
                                  "%llu bytes), found %s frame of seq %llu chunk %u (%llu bytes)",
                                  (unsigned long long)off, c, (unsigned long long)rec->index,
                                  (unsigned long long)rec->seq, (unsigned long long)expect,
                                  tt_frame_type_name(h.type), (unsigned long long)h.seq, h.aux,
                                  (unsigned long long)h.raw_size);
        if (fn && (rc = fn(ctx, c, raw, (size_t)h.raw_size)) != TT_OK)
            return rc;
    }
    return TT_OK;
}

static int check_payload(tt_reader *r, const tt_record *rec)
{
    if (!(rec->flags & TT_REC_HAS_PAYLOAD))
        return tt__reader_err(r, TT_E_NOPAYLOAD, "record %llu (%s layer %d): no tensor stored (hash/stats-only)",
                              (unsigned long long)rec->index, rec->key.point, rec->key.layer);
    if (rec->flags & TT_REC_LOST)
        return tt__reader_err(r, TT_E_CORRUPT, "record %llu (%s layer %d): its payload did not survive",
                              (unsigned long long)rec->index, rec->key.point, rec->key.layer);
    return TT_OK;
}

/* Streams the content hash over each chunk as it lands in the destination, while it is still in cache. */
static int hash_chunk_in_place(void *ctx, uint32_t c, const uint8_t *data, size_t len)
{
    (void)c;
    (void)XXH3_64bits_update((XXH3_state_t *)ctx, data, len);
    return TT_OK;
}

void tt__reader_share_buffers(tt_reader *r, tt_reader *from)
{
    if (r && from && r != from)
        r->b = from->b;
}

int tt_reader_read(tt_reader *r, uint64_t index, void *dst, size_t dst_size)
{
    if (r && !r->failed && r->many)
        return tt__many_read(r, index, 0, 0, 0, dst, dst_size);
    tt_record rec;
    int rc = tt_reader_record(r, index, &rec);
    if (rc != TT_OK)
        return rc;
    if ((rc = check_payload(r, &rec)) != TT_OK)
        return rc;
    if (dst_size < rec.nbytes || (!dst && rec.nbytes))
        return tt__reader_err(r, TT_E_RANGE, "record %llu: %llu bytes do not fit the %zu-byte buffer",
                              (unsigned long long)index, (unsigned long long)rec.nbytes, dst_size);
    if (!rec.payload_frames)
        return TT_OK;
    XXH3_state_t *st = NULL; /* the record has a content hash: XXH3-64 of the contiguous bytes, streamed */
    if (rec.flags & TT_REC_HAS_HASH) {
        if (!r->xxh && !(r->xxh = XXH3_createState()))
            return tt__reader_err(r, TT_E_NOMEM, "out of memory");
        st = r->xxh;
        (void)XXH3_64bits_reset(st);
    }
    /* each chunk decodes straight into its place in dst: no intermediate copy */
    if ((rc = tt__chunk_walk(r, &rec, 0, rec.payload_frames - 1, st ? hash_chunk_in_place : NULL, st, NULL,
                             dst)) != TT_OK)
        return rc;
    if (st && XXH3_64bits_digest(st) != rec.hash)
        return tt__reader_err(r, TT_E_CORRUPT, "record %llu (%s layer %d): content hash mismatch",
                              (unsigned long long)index, rec.key.point, rec.key.layer);
    return TT_OK;
}

typedef struct rows_ctx {
    uint8_t *dst;
    uint64_t begin, end; /* byte range of the tensor wanted */
    uint32_t chunk_bytes;
} rows_ctx;

static int copy_rows(void *ctx, uint32_t c, const uint8_t *data, size_t len)
{
    rows_ctx *x = ctx;
    uint64_t cs = (uint64_t)c * x->chunk_bytes, ce = cs + len;
    uint64_t s = cs > x->begin ? cs : x->begin, e = ce < x->end ? ce : x->end;
    if (s < e)
        memcpy(x->dst + (s - x->begin), data + (s - cs), (size_t)(e - s));
    return TT_OK;
}

int tt_reader_read_rows(tt_reader *r, uint64_t index, uint64_t row_begin, uint64_t row_count, void *dst,
                        size_t dst_size)
{
    if (r && !r->failed && r->many)
        return tt__many_read(r, index, 1, row_begin, row_count, dst, dst_size);
    tt_record rec;
    int rc = tt_reader_record(r, index, &rec);
    if (rc != TT_OK)
        return rc;
    if ((rc = check_payload(r, &rec)) != TT_OK)
        return rc;
    if (rec.ndim < 1 || rec.shape[0] == 0 || row_begin > rec.shape[0] || row_count > rec.shape[0] - row_begin)
        return tt__reader_err(r, TT_E_RANGE, "record %llu: rows %llu..%llu outside the tensor's %llu rows",
                              (unsigned long long)index, (unsigned long long)row_begin,
                              (unsigned long long)(row_begin + row_count), (unsigned long long)(rec.ndim ? rec.shape[0] : 0));
    uint64_t row_bytes = rec.nbytes / rec.shape[0];
    rows_ctx x = {dst, row_begin * row_bytes, (row_begin + row_count) * row_bytes, 0};
    if (dst_size < x.end - x.begin || (!dst && x.end > x.begin))
        return tt__reader_err(r, TT_E_RANGE, "record %llu: %llu bytes of rows do not fit the %zu-byte buffer",
                              (unsigned long long)index, (unsigned long long)(x.end - x.begin), dst_size);
    if (x.end == x.begin)
        return TT_OK;
    uint64_t off0;
    uint32_t start;
    if ((rc = payload_where(r, &rec, &off0, &x.chunk_bytes, &start)) != TT_OK)
        return rc;
    uint32_t first = (uint32_t)(x.begin / x.chunk_bytes), last = (uint32_t)((x.end - 1) / x.chunk_bytes);
    return tt__chunk_walk(r, &rec, first, last, copy_rows, &x, NULL, NULL);
}
