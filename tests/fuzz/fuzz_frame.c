/*
 * fuzz_frame.c — libFuzzer target for the fixed binary parts of the format and the schema decoders
 * (format/frame.c, format/schema.c). The input is read as
 *   - a file header (its first 32 bytes) and a trailer (its last 32 bytes);
 *   - a frame: a 56-byte frame header and the stored payload that follows it. When the header decodes, the
 *     payload is decoded with tt_payload_decode (zstd, unshuffle) into a buffer of exactly raw_size bytes, and
 *     a BATCH, META or FOOTER payload goes on to its schema decoder;
 *   - a FlatBuffers object as a whole, through tt_fb_decode_batch, _footer and _meta.
 * Whatever a decoder accepts is then used the way the reader uses it (every column of every record, every
 * dictionary index, every shape, every metadata entry), and the promises of schema.h are checked: a decoded
 * batch has its shapes inside the dims column, byte sizes under 2^48, dictionary indices inside the
 * dictionary. A violated promise aborts, so libFuzzer reports it like a crash.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <zstd.h>

#include "frame.h"
#include "schema.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_MAX_RAW ((uint64_t)16 << 20) /* larger frames are valid but too slow to decode on every input */

static volatile uint64_t sink;

static void touch(const void *p, size_t n)
{
    const uint8_t *b = p;
    uint64_t s = 0;
    for (size_t i = 0; i < n; i++)
        s += b[i];
    sink += s;
}

#define REQUIRE(c)                                                                                           \
    do {                                                                                                     \
        if (!(c))                                                                                            \
            abort();                                                                                         \
    } while (0)

static size_t dsize(uint8_t dt)
{
    static const uint8_t sizes[14] = {0, 4, 2, 2, 8, 1, 1, 2, 4, 8, 1, 1, 1, 1};
    return dt < 14 ? sizes[dt] : 0;
}

static void use_batch(const uint8_t *buf, size_t len)
{
    tt_batch_view v;
    char err[256];
    if (tt_fb_decode_batch(buf, len, &v, err, sizeof err) != TT_OK) {
        REQUIRE(err[0]);
        return;
    }
    REQUIRE(v.n <= TT_LIMIT_BATCH_RECORDS && v.nstrings <= TT_LIMIT_BATCH_STRINGS);
    for (uint32_t i = 0; i < v.nstrings; i++) {
        uint32_t slen;
        const char *s = fb_vec_string(buf, v.strings_vec, i, &slen);
        REQUIRE(slen <= TT_LIMIT_STRING);
        touch(s, (size_t)slen + 1);
    }
    uint64_t at = 0;
    for (uint32_t i = 0; i < v.n; i++) {
        const uint32_t *sc[3] = {v.prompt_id, v.phase, v.point};
        for (int k = 0; k < 3; k++)
            if (sc[k]) {
                REQUIRE(sc[k][i] < v.nstrings);
                uint32_t slen;
                touch(fb_vec_string(buf, v.strings_vec, sc[k][i], &slen), 1);
            }
        uint8_t dt = v.dtype ? v.dtype[i] : 0, nd = v.ndim ? v.ndim[i] : 0;
        REQUIRE(dt < TT_DTYPE_COUNT && nd <= TT_MAX_DIMS && at + nd <= v.ndims_total);
        /* a shape the writer would take back (tt_shape_elems): every dimension under 2^62, and unless a
         * dimension is 0 (an empty tensor), the byte size under the tensor limit */
        uint64_t bytes = dsize(dt);
        int empty = 0;
        for (uint32_t d = 0; d < nd; d++) {
            REQUIRE(v.dims[at + d] < ((uint64_t)1 << 62));
            empty |= v.dims[at + d] == 0;
        }
        for (uint32_t d = 0; d < nd && !empty; d++) {
            uint64_t dim = v.dims[at + d];
            REQUIRE(bytes <= TT_LIMIT_TENSOR_BYTES / dim);
            bytes *= dim;
        }
        if (empty)
            bytes = 0;
        at += nd;
        sink += bytes + (v.seq ? v.seq[i] : 0) + (v.time_ns ? v.time_ns[i] : 0) + (v.hash ? v.hash[i] : 0);
        sink += (uint64_t)(v.layer ? v.layer[i] : 0) + (uint64_t)(v.step ? v.step[i] : 0);
        sink += (uint64_t)(v.token_id ? v.token_id[i] : 0) + (uint64_t)(v.logical_tok_idx ? v.logical_tok_idx[i] : 0);
        sink += (uint64_t)(v.pos_id ? v.pos_id[i] : 0) + (uint64_t)(v.rows ? v.rows[i] : 0);
        sink += (uint64_t)(v.rank ? v.rank[i] : 0) + (v.flags ? v.flags[i] : 0);
        double st = (v.stat_min ? v.stat_min[i] : 0) + (v.stat_max ? v.stat_max[i] : 0) +
                    (v.stat_mean ? v.stat_mean[i] : 0) + (v.stat_absmax ? v.stat_absmax[i] : 0) +
                    (v.stat_l2 ? v.stat_l2[i] : 0);
        sink += st == st;
        sink += (v.nan_count ? v.nan_count[i] : 0) + (v.inf_count ? v.inf_count[i] : 0);
        sink += (v.payload_offset ? v.payload_offset[i] : 0) + (v.payload_frames ? v.payload_frames[i] : 0) +
                (v.payload_stored ? v.payload_stored[i] : 0);
    }
    REQUIRE(at == v.ndims_total);
    sink += v.counters.puts + v.first_record + v.chunk_bytes;
}

static void use_meta(const uint8_t *buf, size_t len)
{
    const void *vec;
    uint32_t n;
    char err[256];
    if (tt_fb_decode_meta(buf, len, &vec, &n, err, sizeof err) != TT_OK) {
        REQUIRE(err[0]);
        return;
    }
    REQUIRE(n <= TT_LIMIT_META_KEYS);
    for (uint32_t i = 0; i < n; i++) {
        const char *k, *v;
        tt_fb_meta_entry(buf, vec, i, &k, &v);
        sink += strlen(k) + strlen(v);
    }
}

static void use_footer(const uint8_t *buf, size_t len)
{
    tt_footer_view f;
    char err[256];
    if (tt_fb_decode_footer(buf, len, &f, err, sizeof err) != TT_OK) {
        REQUIRE(err[0]);
        return;
    }
    REQUIRE(f.record_count <= TT_LIMIT_RECORDS && f.nmeta <= TT_LIMIT_META_KEYS);
    sink += strlen(f.writer) + f.created_ns + f.closed_ns + f.chunk_bytes + f.format_major + f.format_minor;
    for (uint32_t i = 0; i < f.nmeta; i++) {
        const char *k, *v;
        tt_fb_meta_entry(buf, f.meta_vec, i, &k, &v);
        sink += strlen(k) + strlen(v);
    }
    for (uint32_t i = 0; i < f.nstrings; i++) {
        uint32_t slen;
        const char *s = fb_vec_string(buf, f.strings_vec, i, &slen);
        touch(s, (size_t)slen + 1);
    }
    const tt_batch_index_view *b = &f.batches;
    for (uint32_t i = 0; i < b->nb; i++) {
        sink += b->offset[i] + b->first_record[i] + b->record_count[i]; /* the required columns */
        sink += (b->frame_size ? b->frame_size[i] : 0) + (b->seq_min ? b->seq_min[i] : 0) +
                (b->seq_max ? b->seq_max[i] : 0);
        sink += (uint64_t)(b->layer_min ? b->layer_min[i] : 0) + (uint64_t)(b->layer_max ? b->layer_max[i] : 0);
        sink += (uint64_t)(b->step_min ? b->step_min[i] : 0) + (uint64_t)(b->step_max ? b->step_max[i] : 0);
        sink += (uint64_t)(b->pos_min ? b->pos_min[i] : 0) + (uint64_t)(b->pos_max ? b->pos_max[i] : 0);
    }
    for (uint32_t i = 0; i < f.nframes; i++)
        sink += f.frame_offset[i] + (f.frame_type ? f.frame_type[i] : 0);
}

static void use_object(uint8_t type, const uint8_t *buf, size_t len)
{
    if (type == TT_FRAME_BATCH)
        use_batch(buf, len);
    else if (type == TT_FRAME_META)
        use_meta(buf, len);
    else if (type == TT_FRAME_FOOTER)
        use_footer(buf, len);
}

static void fuzz_frame(const uint8_t *data, size_t size, ZSTD_DCtx *dctx)
{
    tt_frame_header h;
    char err[256];
    if (size < TT_FRAME_HEADER_SIZE)
        return;
    if (tt_frame_header_decode(data, &h, err, sizeof err) != TT_OK) {
        REQUIRE(err[0]);
        return;
    }
    /* the header's promises: sizes inside the limits of its type, stored consistent with the codec */
    REQUIRE(h.type != TT_FRAME_INVALID && h.raw_size <= tt_frame_raw_limit(h.type));
    REQUIRE(h.codec == TT_CODEC_ZSTD || h.stored_size == h.raw_size);
    sink += (uint64_t)strlen(tt_frame_type_name(h.type));
    if (h.stored_size > size - TT_FRAME_HEADER_SIZE || h.raw_size > FUZZ_MAX_RAW)
        return;
    /* exactly stored_size bytes in their own allocation, so a read past them is caught */
    uint8_t *stored = malloc(h.stored_size ? (size_t)h.stored_size : 1);
    uint8_t *dst = malloc(h.raw_size ? (size_t)h.raw_size : 1);
    uint8_t *scratch = malloc(h.raw_size ? (size_t)h.raw_size : 1);
    if (stored && dst && scratch) {
        memcpy(stored, data + TT_FRAME_HEADER_SIZE, (size_t)h.stored_size);
        int rc = tt_payload_decode(&h, stored, dst, scratch, dctx, err, sizeof err);
        if (rc == TT_OK) {
            use_object(h.type, dst, (size_t)h.raw_size);
            /* the same bytes through the encoder and back */
            tt_frame_header h2 = {0};
            ZSTD_CCtx *cctx = ZSTD_createCCtx();
            uint8_t *enc = malloc(h.raw_size ? (size_t)h.raw_size : 1);
            if (cctx && enc &&
                tt_payload_encode(dst, (size_t)h.raw_size, h.elem_size, cctx, scratch, enc, (size_t)h.raw_size, &h2,
                                  err, sizeof err) == TT_OK) {
                uint8_t *back = malloc(h.raw_size ? (size_t)h.raw_size : 1);
                REQUIRE(back);
                REQUIRE(tt_payload_decode(&h2, enc, back, scratch, NULL, err, sizeof err) == TT_OK);
                REQUIRE(memcmp(back, dst, (size_t)h.raw_size) == 0);
                free(back);
            }
            free(enc);
            ZSTD_freeCCtx(cctx);
        } else {
            REQUIRE(err[0]);
        }
        /* a shuffled or FLOAT frame without scratch is refused, not dereferenced */
        if (h.filter != TT_FILTER_NONE)
            REQUIRE(tt_payload_decode(&h, stored, dst, NULL, dctx, err, sizeof err) != TT_OK);
    }
    free(stored);
    free(dst);
    free(scratch);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[256];
    if (size >= TT_FILE_HEADER_SIZE) {
        tt_file_header fh;
        int rc = tt_file_header_decode(data, &fh, err, sizeof err);
        REQUIRE(rc == TT_OK || err[0]);
        tt_trailer t;
        rc = tt_trailer_decode(data + size - TT_TRAILER_SIZE, &t, err, sizeof err);
        REQUIRE(rc == TT_OK || err[0]);
    }
    ZSTD_DCtx *dctx = ZSTD_createDCtx();
    fuzz_frame(data, size, dctx);
    fuzz_frame(data, size, NULL);
    ZSTD_freeDCtx(dctx);
    /* the input as a FlatBuffers object of each kind, in an exact-size allocation */
    uint8_t *buf = malloc(size ? size : 1);
    if (buf) {
        memcpy(buf, data, size);
        use_batch(buf, size);
        use_meta(buf, size);
        use_footer(buf, size);
        free(buf);
    }
    return 0;
}
