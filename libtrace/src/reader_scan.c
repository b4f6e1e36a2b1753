/*
 * reader_scan.c — recovery: rebuilding the index of a file whose footer is missing or damaged (the writer was
 * killed, the disk filled, the file was cut or corrupted) by walking its frames from the start.
 *
 * Every frame header carries its own checksum, so a frame is recognised without trusting anything before it.
 * A frame whose header is damaged is skipped by searching forward for the next frame magic with a valid header
 * checksum; a BATCH or META frame whose payload checksum fails is skipped whole (its size is known from its valid
 * header); a frame cut by the end of the file ends the scan. PAYLOAD frames are checked by header only here;
 * their payload checksums are verified when they are read, so a damaged payload is an error at read time, never
 * wrong bytes. A record whose payload frames are not all found (right seq, right chunk numbers) is marked lost, as
 * is a packed record whose PACK frame is not found.
 */
#define _POSIX_C_SOURCE 200809L
#include "reader_impl.h"

#include <stdlib.h>
#include <string.h>

#define RESYNC_WINDOW (1u << 20)

typedef struct scan_state {
    uint64_t *seq;    /* per scanned payload frame: record seq */
    uint32_t *chunk;  /* per scanned payload frame: chunk index */
    size_t cap;
    uint32_t chunk_bytes;
} scan_state;

/* Offset of the next valid frame header after pos, or 0 when there is none. */
static uint64_t resync(tt_reader *r, uint64_t pos)
{
    uint8_t *buf = malloc(RESYNC_WINDOW + TT_FRAME_HEADER_SIZE);
    if (!buf)
        return 0;
    uint64_t at = pos + 1, found = 0;
    while (!found && at + TT_FRAME_HEADER_SIZE <= r->file_size) {
        uint64_t left = r->file_size - at;
        size_t n = left < RESYNC_WINDOW + TT_FRAME_HEADER_SIZE ? (size_t)left : RESYNC_WINDOW + TT_FRAME_HEADER_SIZE;
        if (tt__read_at(r, at, buf, n, "resync") != TT_OK)
            break;
        for (size_t i = 0; i + TT_FRAME_HEADER_SIZE <= n; i++) {
            if (buf[i] != 'T' || tt_rd32(buf + i) != TT_FRAME_MAGIC)
                continue;
            tt_frame_header h;
            if (tt_frame_header_decode(buf + i, &h, NULL, 0) == TT_OK) {
                found = at + i;
                break;
            }
        }
        if (n < RESYNC_WINDOW + TT_FRAME_HEADER_SIZE)
            break;
        at += RESYNC_WINDOW; /* windows overlap by a header, so no header straddles unseen */
    }
    free(buf);
    return found;
}

static int add_payload(tt_reader *r, scan_state *s, uint64_t off, const tt_frame_header *h)
{
    size_t c1 = r->pframe_cap, c2 = s->cap;
    if (tt_grow((void **)&r->pframe, &r->pframe_cap, r->npframe + 1, sizeof *r->pframe) != TT_OK ||
        tt_grow((void **)&s->seq, &c1, r->npframe + 1, sizeof *s->seq) != TT_OK ||
        tt_grow((void **)&s->chunk, &c2, r->npframe + 1, sizeof *s->chunk) != TT_OK)
        return tt__reader_err(r, TT_E_NOMEM, "out of memory for the frame index");
    s->cap = c2;
    s->seq[r->npframe] = h->seq;
    s->chunk[r->npframe] = h->aux;
    r->pframe[r->npframe++] = off;
    return TT_OK;
}

/* Are the payload frames of record i of the batch all there? */
static int payload_whole(const tt_reader *r, const scan_state *s, const tt_batch_view *v, uint32_t i)
{
    uint32_t k = v->payload_frames ? v->payload_frames[i] : 0;
    if (!k)
        return 1;
    uint64_t off = v->payload_offset ? v->payload_offset[i] : 0, seq = v->seq ? v->seq[i] : 0;
    size_t lo = tt_sorted_find(r->pframe, r->npframe, off);
    if (lo == SIZE_MAX || r->npframe - lo < k)
        return 0;
    for (uint32_t c = 0; c < k; c++)
        if (s->seq[lo + c] != seq || s->chunk[lo + c] != c)
            return 0;
    return 1;
}

static int add_scanned_batch(tt_reader *r, scan_state *s, uint64_t off, const tt_frame_header *h, const uint8_t *raw)
{
    tt_batch_view v;
    char err[TT_ERRMSG_SIZE];
    if (tt_fb_decode_batch(raw, (size_t)h->raw_size, &v, err, sizeof err) != TT_OK)
        return TT_E_CORRUPT; /* counted as damaged by the caller */
    if (r->nrecords + v.n > TT_LIMIT_RECORDS)
        return tt__reader_err(r, TT_E_LIMIT, "more than %llu records", (unsigned long long)TT_LIMIT_RECORDS);
    tt_rbatch b = {0};
    b.offset = off;
    b.frame_size = TT_FRAME_HEADER_SIZE + h->stored_size;
    b.first_record = r->nrecords;
    b.count = v.n;
    /* the key ranges of FORMAT.md section 6, absent columns read as their default -1 */
    b.has_ranges = 1;
    b.layer_min = b.step_min = b.pos_min = INT32_MAX;
    b.layer_max = b.step_max = b.pos_max = INT32_MIN;
    for (uint32_t i = 0; i < v.n; i++) {
        int32_t layer = v.layer ? v.layer[i] : TT_UNSET, step = v.step ? v.step[i] : TT_UNSET;
        int32_t pos = v.pos_id ? v.pos_id[i] : TT_UNSET, rows = v.rows ? v.rows[i] : TT_UNSET;
        int64_t lo = pos, hi = lo + (rows > 1 ? rows - 1 : 0);
        if (layer < b.layer_min) b.layer_min = layer;
        if (layer > b.layer_max) b.layer_max = layer;
        if (step < b.step_min) b.step_min = step;
        if (step > b.step_max) b.step_max = step;
        if (lo < b.pos_min) b.pos_min = (int32_t)lo;
        if (hi > b.pos_max) b.pos_max = hi > INT32_MAX ? INT32_MAX : (int32_t)hi;
        uint8_t flags = v.flags ? v.flags[i] : 0;
        /* a packed record (format 1.1) is whole when its PACK frame was found, with a valid header, where the
         * record says: the frame precedes the batch, so the scan has met it */
        int packed_lost = !(flags & TT_REC_HAS_PAYLOAD) && (flags & TT_REC_PACKED) &&
                          !tt__pack_indexed(r, v.pack_offset ? v.pack_offset[i] : 0);
        if (packed_lost || ((flags & TT_REC_HAS_PAYLOAD) && !payload_whole(r, s, &v, i))) {
            if (tt_grow((void **)&r->lost, &r->lost_cap, r->nlost + 1, sizeof *r->lost) != TT_OK)
                return tt__reader_err(r, TT_E_NOMEM, "out of memory");
            r->lost[r->nlost++] = r->nrecords + i;
        }
    }
    if (v.has_counters) {
        r->info.counters_known = 1;
        r->info.counters = v.counters;
    }
    if (v.chunk_bytes)
        s->chunk_bytes = v.chunk_bytes;
    /* a batch decoded here may also be cached later: nothing to keep now */
    r->nrecords += v.n;
    return tt__add_batch(r, &b);
}

int tt__scan(tt_reader *r)
{
    scan_state s = {0};
    uint64_t pos = TT_FILE_HEADER_SIZE, damaged = 0;
    int rc = TT_OK;
    r->info.footer_intact = 0;
    while (pos + TT_FRAME_HEADER_SIZE <= r->file_size) {
        uint8_t hb[TT_FRAME_HEADER_SIZE];
        tt_frame_header h;
        if ((rc = tt__read_at(r, pos, hb, sizeof hb, "frame header")) != TT_OK)
            break;
        if (tt_frame_header_decode(hb, &h, NULL, 0) != TT_OK) {
            /* the trailer of a file with a damaged footer ends here too: it is not a frame */
            if (pos + TT_TRAILER_SIZE == r->file_size)
                break;
            damaged++;
            uint64_t next = resync(r, pos);
            if (!next)
                break;
            pos = next;
            continue;
        }
        uint64_t end = pos + TT_FRAME_HEADER_SIZE + h.stored_size;
        if (end > r->file_size || end < pos) /* cut by the end of the file: the scan ends here */
            break;
        if (h.type == TT_FRAME_PAYLOAD) {
            if ((rc = add_payload(r, &s, pos, &h)) != TT_OK)
                goto out;
        } else if (h.type == TT_FRAME_PACK) {
            /* indexed by its valid header, like a PAYLOAD frame; its payload is checked when read */
            if ((rc = tt__add_pack_frame(r, pos)) != TT_OK)
                goto out;
        } else if (h.type == TT_FRAME_BATCH || h.type == TT_FRAME_META) {
            tt_frame_header h2;
            const uint8_t *raw;
            rc = tt__read_frame(r, pos, &h2, &raw, NULL, 0);
            if (rc == TT_E_NOMEM)
                goto out;
            if (rc == TT_OK && h.type == TT_FRAME_BATCH) {
                rc = add_scanned_batch(r, &s, pos, &h2, raw);
                if (rc == TT_E_LIMIT) /* more records than a file may hold (TT_LIMIT_RECORDS): refused */
                    goto out;
            } else if (rc == TT_OK) {
                /* a META object that fails verification, its limits included, is a damaged frame like any
                 * other: skipped and counted, the metadata is then that of the last good one */
                rc = tt__set_meta_from(r, raw, (size_t)h2.raw_size);
            }
            if (rc == TT_E_NOMEM)
                goto out;
            if (rc != TT_OK)
                damaged++;
        }
        /* FOOTER frames (a footer whose trailer is damaged) and types of newer versions are skipped */
        pos = end;
        r->info.scan_end = pos;
    }
    rc = TT_OK;
    r->info.damaged_frames = damaged;
    r->info.chunk_bytes = s.chunk_bytes;
    r->errmsg[0] = 0;
out:
    free(s.seq);
    free(s.chunk);
    return rc;
}
