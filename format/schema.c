/*
 * schema.c — schemas/trace.fbs in C: verifier descriptions, encoders and decoders of RecordBatch, Meta and Footer.
 * Field ids are the declaration order in trace.fbs; appending a field there means appending an id here.
 */
#include "schema.h"

#include <stdarg.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include "frame.h"

/* ---- field ids ------------------------------------------------------------------------------------------- */
enum { KV_KEY, KV_VALUE };
enum { CT_PUTS, CT_FILTERED, CT_DROPPED, CT_WRITTEN, CT_BYTES_RAW, CT_BYTES_STORED, CT_PAYLOAD_FRAMES, CT_BATCHES,
       CT_FILE_BYTES, CT_ERRORS, CT_COUNT };
enum { RB_FIRST_RECORD, RB_CHUNK_BYTES, RB_STRINGS, RB_SEQ, RB_TIME_NS, RB_PROMPT_ID, RB_PHASE, RB_POINT, RB_LAYER,
       RB_STEP, RB_TOKEN_ID, RB_LOGICAL_TOK_IDX, RB_POS_ID, RB_ROWS, RB_RANK, RB_DTYPE, RB_NDIM, RB_DIMS, RB_FLAGS,
       RB_HASH, RB_STAT_MIN, RB_STAT_MAX, RB_STAT_MEAN, RB_STAT_ABSMAX, RB_STAT_L2, RB_NAN_COUNT, RB_INF_COUNT,
       RB_PAYLOAD_OFFSET, RB_PAYLOAD_FRAMES, RB_PAYLOAD_STORED, RB_COUNTERS, RB_SHARD_KIND, RB_SHARD_DIM,
       RB_SHARD_INDEX, RB_SHARD_COUNT, RB_PACK_OFFSET, RB_PACK_START };
enum { MT_ENTRIES };
enum { BI_OFFSET, BI_FRAME_SIZE, BI_FIRST_RECORD, BI_RECORD_COUNT, BI_SEQ_MIN, BI_SEQ_MAX, BI_LAYER_MIN,
       BI_LAYER_MAX, BI_STEP_MIN, BI_STEP_MAX, BI_POS_MIN, BI_POS_MAX };
enum { FI_OFFSET, FI_TYPE };
enum { FT_FORMAT_MAJOR, FT_FORMAT_MINOR, FT_WRITER, FT_CREATED_NS, FT_CLOSED_NS, FT_CHUNK_BYTES, FT_RECORD_COUNT,
       FT_META, FT_STRINGS, FT_BATCHES, FT_FRAMES, FT_COUNTERS };

/* ---- verifier descriptions --------------------------------------------------------------------------------- */
#define SCALAR(n, id, sz) {n, id, FB_SCALAR, sz, NULL}
#define VEC(n, id, sz) {n, id, FB_VEC_SCALAR, sz, NULL}

static const fb_field_desc kv_fields[] = {
    {"key", KV_KEY, FB_STRING, 0, NULL},
    {"value", KV_VALUE, FB_STRING, 0, NULL},
};
static const fb_table_desc kv_desc = {"KeyValue", kv_fields, 2};

static const fb_field_desc counters_fields[] = {
    SCALAR("puts", CT_PUTS, 8),         SCALAR("filtered", CT_FILTERED, 8),
    SCALAR("dropped", CT_DROPPED, 8),   SCALAR("written", CT_WRITTEN, 8),
    SCALAR("bytes_raw", CT_BYTES_RAW, 8), SCALAR("bytes_stored", CT_BYTES_STORED, 8),
    SCALAR("payload_frames", CT_PAYLOAD_FRAMES, 8), SCALAR("batches", CT_BATCHES, 8),
    SCALAR("file_bytes", CT_FILE_BYTES, 8), SCALAR("errors", CT_ERRORS, 8),
};
static const fb_table_desc counters_desc = {"Counters", counters_fields, CT_COUNT};

static const fb_field_desc batch_fields[] = {
    SCALAR("first_record", RB_FIRST_RECORD, 8), SCALAR("chunk_bytes", RB_CHUNK_BYTES, 4),
    {"strings", RB_STRINGS, FB_VEC_STRING, 0, NULL},
    VEC("seq", RB_SEQ, 8), VEC("time_ns", RB_TIME_NS, 8), VEC("prompt_id", RB_PROMPT_ID, 4),
    VEC("phase", RB_PHASE, 4), VEC("point", RB_POINT, 4), VEC("layer", RB_LAYER, 4), VEC("step", RB_STEP, 4),
    VEC("token_id", RB_TOKEN_ID, 4), VEC("logical_tok_idx", RB_LOGICAL_TOK_IDX, 4), VEC("pos_id", RB_POS_ID, 4),
    VEC("rows", RB_ROWS, 4), VEC("rank", RB_RANK, 4), VEC("dtype", RB_DTYPE, 1), VEC("ndim", RB_NDIM, 1),
    VEC("dims", RB_DIMS, 8), VEC("flags", RB_FLAGS, 1), VEC("hash", RB_HASH, 8), VEC("stat_min", RB_STAT_MIN, 8),
    VEC("stat_max", RB_STAT_MAX, 8), VEC("stat_mean", RB_STAT_MEAN, 8), VEC("stat_absmax", RB_STAT_ABSMAX, 8),
    VEC("stat_l2", RB_STAT_L2, 8), VEC("nan_count", RB_NAN_COUNT, 8), VEC("inf_count", RB_INF_COUNT, 8),
    VEC("payload_offset", RB_PAYLOAD_OFFSET, 8), VEC("payload_frames", RB_PAYLOAD_FRAMES, 4),
    VEC("payload_stored", RB_PAYLOAD_STORED, 8),
    {"counters", RB_COUNTERS, FB_TABLE, 0, &counters_desc},
    VEC("shard_kind", RB_SHARD_KIND, 1), VEC("shard_dim", RB_SHARD_DIM, 4), VEC("shard_index", RB_SHARD_INDEX, 4),
    VEC("shard_count", RB_SHARD_COUNT, 4),
    VEC("pack_offset", RB_PACK_OFFSET, 8), VEC("pack_start", RB_PACK_START, 4),
};
const fb_table_desc tt_fb_desc_batch = {"RecordBatch", batch_fields, sizeof batch_fields / sizeof batch_fields[0]};

static const fb_field_desc meta_fields[] = {{"entries", MT_ENTRIES, FB_VEC_TABLE, 0, &kv_desc}};
const fb_table_desc tt_fb_desc_meta = {"Meta", meta_fields, 1};

static const fb_field_desc bindex_fields[] = {
    VEC("offset", BI_OFFSET, 8),         VEC("frame_size", BI_FRAME_SIZE, 8),
    VEC("first_record", BI_FIRST_RECORD, 8), VEC("record_count", BI_RECORD_COUNT, 4),
    VEC("seq_min", BI_SEQ_MIN, 8),       VEC("seq_max", BI_SEQ_MAX, 8),
    VEC("layer_min", BI_LAYER_MIN, 4),   VEC("layer_max", BI_LAYER_MAX, 4),
    VEC("step_min", BI_STEP_MIN, 4),     VEC("step_max", BI_STEP_MAX, 4),
    VEC("pos_min", BI_POS_MIN, 4),       VEC("pos_max", BI_POS_MAX, 4),
};
static const fb_table_desc bindex_desc = {"BatchIndex", bindex_fields, sizeof bindex_fields / sizeof bindex_fields[0]};

static const fb_field_desc findex_fields[] = {VEC("offset", FI_OFFSET, 8), VEC("type", FI_TYPE, 1)};
static const fb_table_desc findex_desc = {"FrameIndex", findex_fields, 2};

static const fb_field_desc footer_fields[] = {
    SCALAR("format_major", FT_FORMAT_MAJOR, 2), SCALAR("format_minor", FT_FORMAT_MINOR, 2),
    {"writer", FT_WRITER, FB_STRING, 0, NULL},  SCALAR("created_ns", FT_CREATED_NS, 8),
    SCALAR("closed_ns", FT_CLOSED_NS, 8),       SCALAR("chunk_bytes", FT_CHUNK_BYTES, 4),
    SCALAR("record_count", FT_RECORD_COUNT, 8), {"meta", FT_META, FB_VEC_TABLE, 0, &kv_desc},
    {"strings", FT_STRINGS, FB_VEC_STRING, 0, NULL}, {"batches", FT_BATCHES, FB_TABLE, 0, &bindex_desc},
    {"frames", FT_FRAMES, FB_TABLE, 0, &findex_desc}, {"counters", FT_COUNTERS, FB_TABLE, 0, &counters_desc},
};
const fb_table_desc tt_fb_desc_footer = {"Footer", footer_fields, sizeof footer_fields / sizeof footer_fields[0]};

/* ---- helpers --------------------------------------------------------------------------------------------- */

/* The counters in field order, so encoding and decoding are one loop each. */
static uint64_t *counter_slot(tt_writer_counters *c, int id)
{
    uint64_t *slots[CT_COUNT] = {&c->puts, &c->filtered, &c->dropped, &c->written, &c->bytes_raw,
                                 &c->bytes_stored, &c->payload_frames, &c->batches, &c->file_bytes, &c->errors};
    return slots[id];
}

static fb_ref encode_counters(fb_builder *b, const tt_writer_counters *c)
{
    tt_writer_counters copy = *c;
    fb_table_begin(b);
    for (int id = 0; id < CT_COUNT; id++)
        fb_add_u64(b, (unsigned)id, *counter_slot(&copy, id));
    return fb_table_end(b);
}

static void decode_counters(const uint8_t *buf, uint32_t t, tt_writer_counters *c)
{
    memset(c, 0, sizeof *c);
    for (int id = 0; id < CT_COUNT; id++)
        *counter_slot(c, id) = fb_get_u64(buf, t, (unsigned)id, 0);
}

static fb_ref encode_strings(fb_builder *b, const char *const *s, uint32_t n)
{
    if (!n)
        return fb_create_vector_refs(b, NULL, 0);
    fb_ref *refs = malloc(n * sizeof *refs);
    if (!refs) {
        b->error = TT_E_NOMEM;
        return 0;
    }
    for (uint32_t i = 0; i < n; i++)
        refs[i] = fb_create_string(b, s[i], strlen(s[i]));
    fb_ref v = fb_create_vector_refs(b, refs, n);
    free(refs);
    return v;
}

static fb_ref encode_kv(fb_builder *b, const char *const *keys, const char *const *values, uint32_t n)
{
    fb_ref *refs = malloc((n ? n : 1) * sizeof *refs);
    if (!refs) {
        b->error = TT_E_NOMEM;
        return 0;
    }
    for (uint32_t i = 0; i < n; i++) {
        fb_ref k = fb_create_string(b, keys[i], strlen(keys[i]));
        fb_ref v = fb_create_string(b, values[i], strlen(values[i]));
        fb_table_begin(b);
        fb_add_ref(b, KV_KEY, k);
        fb_add_ref(b, KV_VALUE, v);
        refs[i] = fb_table_end(b);
    }
    fb_ref vec = fb_create_vector_refs(b, refs, n);
    free(refs);
    return vec;
}

/* A column is written only when the caller has it; absent columns read as defaults. */
static fb_ref col(fb_builder *b, const void *p, size_t n, size_t esize)
{
    return p ? fb_create_vector(b, p, n, esize) : 0;
}

/* ---- RecordBatch ----------------------------------------------------------------------------------------- */

int tt_fb_encode_batch(fb_builder *b, const tt_batch_view *v, const uint8_t **out, size_t *size)
{
    fb_builder_reset(b);
    uint32_t n = v->n;
    fb_ref strings = encode_strings(b, v->strings, v->nstrings);
    fb_ref c[RB_SHARD_COUNT + 1] = {0};
    c[RB_SEQ] = col(b, v->seq, n, 8);
    c[RB_TIME_NS] = col(b, v->time_ns, n, 8);
    c[RB_PROMPT_ID] = col(b, v->prompt_id, n, 4);
    c[RB_PHASE] = col(b, v->phase, n, 4);
    c[RB_POINT] = col(b, v->point, n, 4);
    c[RB_LAYER] = col(b, v->layer, n, 4);
    c[RB_STEP] = col(b, v->step, n, 4);
    c[RB_TOKEN_ID] = col(b, v->token_id, n, 4);
    c[RB_LOGICAL_TOK_IDX] = col(b, v->logical_tok_idx, n, 4);
    c[RB_POS_ID] = col(b, v->pos_id, n, 4);
    c[RB_ROWS] = col(b, v->rows, n, 4);
    c[RB_RANK] = col(b, v->rank, n, 4);
    c[RB_DTYPE] = col(b, v->dtype, n, 1);
    c[RB_NDIM] = col(b, v->ndim, n, 1);
    c[RB_DIMS] = col(b, v->dims, v->ndims_total, 8);
    c[RB_FLAGS] = col(b, v->flags, n, 1);
    c[RB_HASH] = col(b, v->hash, n, 8);
    c[RB_STAT_MIN] = col(b, v->stat_min, n, 8);
    c[RB_STAT_MAX] = col(b, v->stat_max, n, 8);
    c[RB_STAT_MEAN] = col(b, v->stat_mean, n, 8);
    c[RB_STAT_ABSMAX] = col(b, v->stat_absmax, n, 8);
    c[RB_STAT_L2] = col(b, v->stat_l2, n, 8);
    c[RB_NAN_COUNT] = col(b, v->nan_count, n, 8);
    c[RB_INF_COUNT] = col(b, v->inf_count, n, 8);
    c[RB_PAYLOAD_OFFSET] = col(b, v->payload_offset, n, 8);
    c[RB_PAYLOAD_FRAMES] = col(b, v->payload_frames, n, 4);
    c[RB_PAYLOAD_STORED] = col(b, v->payload_stored, n, 8);
    if (v->has_counters)
        c[RB_COUNTERS] = encode_counters(b, &v->counters);
    c[RB_SHARD_KIND] = col(b, v->shard_kind, n, 1);
    c[RB_SHARD_DIM] = col(b, v->shard_dim, n, 4);
    c[RB_SHARD_INDEX] = col(b, v->shard_index, n, 4);
    c[RB_SHARD_COUNT] = col(b, v->shard_count, n, 4);
    fb_ref pack_offset = col(b, v->pack_offset, n, 8), pack_start = col(b, v->pack_start, n, 4);
    fb_table_begin(b);
    fb_add_u64(b, RB_FIRST_RECORD, v->first_record);
    fb_add_u32(b, RB_CHUNK_BYTES, v->chunk_bytes);
    fb_add_ref(b, RB_STRINGS, strings);
    for (unsigned id = RB_SEQ; id <= RB_SHARD_COUNT; id++)
        fb_add_ref(b, id, c[id]);
    fb_add_ref(b, RB_PACK_OFFSET, pack_offset);
    fb_add_ref(b, RB_PACK_START, pack_start);
    fb_ref root = fb_table_end(b);
    return fb_finish(b, root, TT_FB_IDENT, out, size);
}

/* Largest dimension + 1, and largest element count + 1, of a shape: the writer's bound (tt_shape_elems in
 * libtrace/src/dtype.c), so that every shape a writer stores decodes and every shape that decodes is one a writer
 * takes. */
#define SHAPE_DIM_LIMIT ((uint64_t)1 << 62)

/* Element size of each stored dtype value (format facts, FORMAT.md "Element types"). */
static size_t dtype_size(uint8_t dt)
{
    static const uint8_t sizes[TT_DTYPE_COUNT] = {0, 4, 2, 2, 8, 1, 1, 2, 4, 8, 1, 1, 1, 1};
    return dt < TT_DTYPE_COUNT ? sizes[dt] : 0;
}

/* Fetches a per-record column and checks its length against the batch's record count. */
static int get_col(const uint8_t *buf, uint32_t t, unsigned id, uint32_t n, const void **out, const char *name,
                   char *err, size_t errlen)
{
    uint32_t count = 0;
    const void *p = fb_get_vector(buf, t, id, &count);
    if (p && count != n)
        return tt_errf(err, errlen, TT_E_CORRUPT, "RecordBatch.%s has %u entries for %u records", name, count, n);
    *out = p;
    return TT_OK;
}

/* The record count of a batch: the length of the longest per-record column. */
static uint32_t batch_record_count(const uint8_t *buf, uint32_t t)
{
    uint32_t n = 0;
    for (size_t i = 0; i < tt_fb_desc_batch.nfields; i++) {
        const fb_field_desc *f = &tt_fb_desc_batch.fields[i];
        if (f->kind != FB_VEC_SCALAR || f->id == RB_DIMS)
            continue;
        uint32_t count = 0;
        fb_get_vector(buf, t, f->id, &count);
        if (count > n)
            n = count;
    }
    return n;
}

int tt_shard_check(int32_t kind, int32_t dim, int32_t index, int32_t count, int ndim, char *why, size_t whylen)
{
    if (kind == TT_SHARD_NONE) {
        if (dim != -1 || index != -1 || count != -1) {
            snprintf(why, whylen, "a whole tensor (shard_kind NONE) has shard_dim %d, shard_index %d, shard_count %d "
                     "(all must be -1)", (int)dim, (int)index, (int)count);
            return 0;
        }
        return 1;
    }
    if (kind != TT_SHARD_SPLIT && kind != TT_SHARD_PARTIAL) {
        snprintf(why, whylen, "shard_kind %d is not NONE (0), SPLIT (1) or PARTIAL (2)", (int)kind);
        return 0;
    }
    if (count < 1 || count > TT_MAX_SHARDS) {
        snprintf(why, whylen, "shard_count %d outside 1..%d", (int)count, TT_MAX_SHARDS);
        return 0;
    }
    if (index < 0 || index >= count) {
        snprintf(why, whylen, "shard_index %d outside 0..%d (shard_count %d)", (int)index, (int)count - 1, (int)count);
        return 0;
    }
    if (kind == TT_SHARD_SPLIT && (dim < 0 || dim >= ndim)) {
        snprintf(why, whylen, "SPLIT along shard_dim %d of a tensor with %d dimensions", (int)dim, ndim);
        return 0;
    }
    if (kind == TT_SHARD_PARTIAL && dim != -1) {
        snprintf(why, whylen, "a PARTIAL sum has shard_dim %d (must be -1: a partial sum is not split)", (int)dim);
        return 0;
    }
    return 1;
}

static int check_records(const tt_batch_view *v, char *err, size_t errlen)
{
    uint64_t dims_used = 0;
    for (uint32_t i = 0; i < v->n; i++) {
        uint32_t idx[3] = {v->prompt_id ? v->prompt_id[i] : 0, v->phase ? v->phase[i] : 0,
                           v->point ? v->point[i] : 0};
        int present[3] = {v->prompt_id != NULL, v->phase != NULL, v->point != NULL};
        for (int k = 0; k < 3; k++)
            if (present[k] && idx[k] >= v->nstrings)
                return tt_errf(err, errlen, TT_E_CORRUPT, "record %u: string index %u outside the %u-entry dictionary",
                            i, idx[k], v->nstrings);
        uint8_t dt = v->dtype ? v->dtype[i] : 0;
        uint8_t nd = v->ndim ? v->ndim[i] : 0;
        if (dt >= TT_DTYPE_COUNT)
            return tt_errf(err, errlen, TT_E_CORRUPT, "record %u: unknown dtype %u", i, dt);
        if (nd > TT_MAX_DIMS)
            return tt_errf(err, errlen, TT_E_CORRUPT, "record %u: %u dimensions (limit %d)", i, nd, TT_MAX_DIMS);
        if (dims_used + nd > v->ndims_total)
            return tt_errf(err, errlen, TT_E_CORRUPT, "record %u: shape runs past the %u-entry dims column", i,
                        v->ndims_total);
        /* The shape obeys the writer's rule (tt_shape_elems): every dimension and the element count under
         * 2^62 even when another dimension is 0 or the dtype has no size, so that what a reader returns a writer
         * takes back (copies, recovery) and nobody walking the dimensions meets an impossible one; and the byte
         * size, checked against overflow, stays under the tensor limit. */
        uint64_t elems = 1;
        int empty = 0;
        for (uint32_t d = 0; d < nd; d++) {
            uint64_t dim = v->dims[dims_used + d];
            if (dim >= SHAPE_DIM_LIMIT)
                return tt_errf(err, errlen, TT_E_LIMIT, "record %u: dimension %u is %llu (limit %llu)", i, d,
                            (unsigned long long)dim, (unsigned long long)SHAPE_DIM_LIMIT - 1);
            empty |= dim == 0;
        }
        for (uint32_t d = 0; d < nd && !empty; d++) {
            uint64_t dim = v->dims[dims_used + d];
            if (elems > (SHAPE_DIM_LIMIT - 1) / dim)
                return tt_errf(err, errlen, TT_E_LIMIT, "record %u: shape holds 2^62 elements or more", i);
            elems *= dim;
        }
        if (empty)
            elems = 0;
        uint64_t esize = dtype_size(dt);
        if (esize && elems > TT_LIMIT_TENSOR_BYTES / esize)
            return tt_errf(err, errlen, TT_E_LIMIT, "record %u: shape exceeds %llu bytes", i,
                        (unsigned long long)TT_LIMIT_TENSOR_BYTES);
        uint64_t bytes = elems * esize;
        dims_used += nd;
        /* Shard layout (FORMAT.md section 5). Kinds a newer minor version may add are returned as stored. */
        uint8_t sk = v->shard_kind ? v->shard_kind[i] : TT_SHARD_NONE;
        char why[160];
        if (sk <= TT_SHARD_PARTIAL &&
            !tt_shard_check(sk, v->shard_dim ? v->shard_dim[i] : -1, v->shard_index ? v->shard_index[i] : -1,
                            v->shard_count ? v->shard_count[i] : -1, nd, why, sizeof why))
            return tt_errf(err, errlen, TT_E_CORRUPT, "record %u: %s", i, why);
        uint8_t flags = v->flags ? v->flags[i] : 0;
        if (flags & TT_REC_PACKED) {
            /* FORMAT.md section 5, "Packed records": the content is bytes [pack_start, pack_start + nbytes) of
             * the PACK frame at pack_offset; where that frame is and what it holds is checked when it is read */
            uint64_t off = v->pack_offset ? v->pack_offset[i] : 0;
            uint64_t start = v->pack_start ? v->pack_start[i] : 0;
            if (flags & TT_REC_HAS_PAYLOAD)
                return tt_errf(err, errlen, TT_E_CORRUPT, "record %u: flags 0x%02x say both payload frames and packed",
                               i, flags);
            if (dt == TT_DTYPE_UNKNOWN || bytes == 0)
                return tt_errf(err, errlen, TT_E_CORRUPT, "record %u: packed record without content (dtype %u, %llu "
                               "bytes)", i, dt, (unsigned long long)bytes);
            if (off < TT_FILE_HEADER_SIZE)
                return tt_errf(err, errlen, TT_E_CORRUPT, "record %u: PACK frame offset %llu inside the file header",
                               i, (unsigned long long)off);
            if (bytes > TT_LIMIT_PAYLOAD_CHUNK || start > TT_LIMIT_PAYLOAD_CHUNK - bytes)
                return tt_errf(err, errlen, TT_E_CORRUPT, "record %u: packed bytes %llu..%llu past the %llu-byte limit "
                               "of a PACK frame", i, (unsigned long long)start,
                               (unsigned long long)(start + bytes), (unsigned long long)TT_LIMIT_PAYLOAD_CHUNK);
        }
        if (flags & TT_REC_HAS_PAYLOAD) {
            if (dt == TT_DTYPE_UNKNOWN)
                return tt_errf(err, errlen, TT_E_CORRUPT, "record %u: payload of unknown dtype", i);
            uint64_t chunk = v->chunk_bytes;
            if (chunk < TT_MIN_CHUNK_BYTES || chunk > TT_LIMIT_PAYLOAD_CHUNK)
                return tt_errf(err, errlen, TT_E_CORRUPT, "RecordBatch.chunk_bytes %u outside %u..%llu", v->chunk_bytes,
                            TT_MIN_CHUNK_BYTES, (unsigned long long)TT_LIMIT_PAYLOAD_CHUNK);
            uint64_t frames = (bytes + chunk - 1) / chunk;
            uint64_t have = v->payload_frames ? v->payload_frames[i] : 0;
            uint64_t off = v->payload_offset ? v->payload_offset[i] : 0;
            if (frames != have)
                return tt_errf(err, errlen, TT_E_CORRUPT, "record %u: %llu payload frames for %llu bytes (need %llu)", i,
                            (unsigned long long)have, (unsigned long long)bytes, (unsigned long long)frames);
            if (frames && off < TT_FILE_HEADER_SIZE)
                return tt_errf(err, errlen, TT_E_CORRUPT, "record %u: payload offset %llu inside the file header", i,
                            (unsigned long long)off);
        }
    }
    if (dims_used != v->ndims_total)
        return tt_errf(err, errlen, TT_E_CORRUPT, "RecordBatch.dims has %u entries, shapes use %llu", v->ndims_total,
                    (unsigned long long)dims_used);
    return TT_OK;
}

int tt_fb_decode_batch(const uint8_t *buf, size_t len, tt_batch_view *v, char *err, size_t errlen)
{
    memset(v, 0, sizeof *v);
    int rc = fb_verify(buf, len, TT_FB_IDENT, &tt_fb_desc_batch, NULL, err, errlen);
    if (rc != TT_OK)
        return rc;
    uint32_t t = fb_root(buf);
    v->buf = buf;
    v->n = batch_record_count(buf, t);
    if (v->n > TT_LIMIT_BATCH_RECORDS)
        return tt_errf(err, errlen, TT_E_LIMIT, "RecordBatch holds %u records (limit %u)", v->n, TT_LIMIT_BATCH_RECORDS);
    v->first_record = fb_get_u64(buf, t, RB_FIRST_RECORD, 0);
    v->chunk_bytes = fb_get_u32(buf, t, RB_CHUNK_BYTES, 0);
    v->strings_vec = fb_get_vector(buf, t, RB_STRINGS, &v->nstrings);
    if (v->nstrings > TT_LIMIT_BATCH_STRINGS)
        return tt_errf(err, errlen, TT_E_LIMIT, "RecordBatch.strings has %u entries (limit %u)", v->nstrings,
                    TT_LIMIT_BATCH_STRINGS);
    for (uint32_t i = 0; i < v->nstrings; i++) {
        uint32_t slen = 0;
        fb_vec_string(buf, v->strings_vec, i, &slen);
        if (slen > TT_LIMIT_STRING)
            return tt_errf(err, errlen, TT_E_LIMIT, "RecordBatch.strings[%u] is %u bytes (limit %u)", i, slen,
                        TT_LIMIT_STRING);
    }
    struct {
        unsigned id;
        const void **dst;
        const char *name;
    } cols[] = {
        {RB_SEQ, (const void **)&v->seq, "seq"},
        {RB_TIME_NS, (const void **)&v->time_ns, "time_ns"},
        {RB_PROMPT_ID, (const void **)&v->prompt_id, "prompt_id"},
        {RB_PHASE, (const void **)&v->phase, "phase"},
        {RB_POINT, (const void **)&v->point, "point"},
        {RB_LAYER, (const void **)&v->layer, "layer"},
        {RB_STEP, (const void **)&v->step, "step"},
        {RB_TOKEN_ID, (const void **)&v->token_id, "token_id"},
        {RB_LOGICAL_TOK_IDX, (const void **)&v->logical_tok_idx, "logical_tok_idx"},
        {RB_POS_ID, (const void **)&v->pos_id, "pos_id"},
        {RB_ROWS, (const void **)&v->rows, "rows"},
        {RB_RANK, (const void **)&v->rank, "rank"},
        {RB_DTYPE, (const void **)&v->dtype, "dtype"},
        {RB_NDIM, (const void **)&v->ndim, "ndim"},
        {RB_FLAGS, (const void **)&v->flags, "flags"},
        {RB_HASH, (const void **)&v->hash, "hash"},
        {RB_STAT_MIN, (const void **)&v->stat_min, "stat_min"},
        {RB_STAT_MAX, (const void **)&v->stat_max, "stat_max"},
        {RB_STAT_MEAN, (const void **)&v->stat_mean, "stat_mean"},
        {RB_STAT_ABSMAX, (const void **)&v->stat_absmax, "stat_absmax"},
        {RB_STAT_L2, (const void **)&v->stat_l2, "stat_l2"},
        {RB_NAN_COUNT, (const void **)&v->nan_count, "nan_count"},
        {RB_INF_COUNT, (const void **)&v->inf_count, "inf_count"},
        {RB_PAYLOAD_OFFSET, (const void **)&v->payload_offset, "payload_offset"},
        {RB_PAYLOAD_FRAMES, (const void **)&v->payload_frames, "payload_frames"},
        {RB_PAYLOAD_STORED, (const void **)&v->payload_stored, "payload_stored"},
        {RB_SHARD_KIND, (const void **)&v->shard_kind, "shard_kind"},
        {RB_SHARD_DIM, (const void **)&v->shard_dim, "shard_dim"},
        {RB_SHARD_INDEX, (const void **)&v->shard_index, "shard_index"},
        {RB_SHARD_COUNT, (const void **)&v->shard_count, "shard_count"},
        {RB_PACK_OFFSET, (const void **)&v->pack_offset, "pack_offset"},
        {RB_PACK_START, (const void **)&v->pack_start, "pack_start"},
    };
    for (size_t i = 0; i < sizeof cols / sizeof cols[0]; i++)
        if ((rc = get_col(buf, t, cols[i].id, v->n, cols[i].dst, cols[i].name, err, errlen)) != TT_OK)
            return rc;
    v->dims = fb_get_vector(buf, t, RB_DIMS, &v->ndims_total);
    uint32_t ct = fb_get_table(buf, t, RB_COUNTERS);
    if (ct) {
        v->has_counters = 1;
        decode_counters(buf, ct, &v->counters);
    }
    return check_records(v, err, errlen);
}

/* ---- Meta ------------------------------------------------------------------------------------------------ */

int tt_fb_encode_meta(fb_builder *b, const char *const *keys, const char *const *values, uint32_t n,
                      const uint8_t **out, size_t *size)
{
    fb_builder_reset(b);
    fb_ref entries = encode_kv(b, keys, values, n);
    fb_table_begin(b);
    fb_add_ref(b, MT_ENTRIES, entries);
    fb_ref root = fb_table_end(b);
    return fb_finish(b, root, TT_FB_IDENT, out, size);
}

static int check_kv(const uint8_t *buf, const void *vec, uint32_t n, const char *what, char *err, size_t errlen)
{
    if (n > TT_LIMIT_META_KEYS)
        return tt_errf(err, errlen, TT_E_LIMIT, "%s has %u entries (limit %u)", what, n, TT_LIMIT_META_KEYS);
    for (uint32_t i = 0; i < n; i++) {
        uint32_t e = fb_vec_table(buf, vec, i), kl = 0, vl = 0;
        fb_get_string(buf, e, KV_KEY, &kl);
        fb_get_string(buf, e, KV_VALUE, &vl);
        if (kl > TT_LIMIT_STRING || vl > TT_LIMIT_STRING)
            return tt_errf(err, errlen, TT_E_LIMIT, "%s[%u]: key or value over %u bytes", what, i, TT_LIMIT_STRING);
    }
    return TT_OK;
}

int tt_fb_decode_meta(const uint8_t *buf, size_t len, const void **vec, uint32_t *n, char *err, size_t errlen)
{
    *vec = NULL;
    *n = 0;
    int rc = fb_verify(buf, len, TT_FB_IDENT, &tt_fb_desc_meta, NULL, err, errlen);
    if (rc != TT_OK)
        return rc;
    *vec = fb_get_vector(buf, fb_root(buf), MT_ENTRIES, n);
    return check_kv(buf, *vec, *n, "Meta.entries", err, errlen);
}

void tt_fb_meta_entry(const uint8_t *buf, const void *vec, uint32_t i, const char **key, const char **value)
{
    uint32_t e = fb_vec_table(buf, vec, i), len;
    const char *k = fb_get_string(buf, e, KV_KEY, &len);
    const char *val = fb_get_string(buf, e, KV_VALUE, &len);
    *key = k ? k : "";
    *value = val ? val : "";
}

/* ---- Footer ---------------------------------------------------------------------------------------------- */

int tt_fb_encode_footer(fb_builder *b, const tt_footer_view *v, const uint8_t **out, size_t *size)
{
    fb_builder_reset(b);
    const tt_batch_index_view *bi = &v->batches;
    fb_ref writer = fb_create_string(b, v->writer ? v->writer : "", v->writer ? strlen(v->writer) : 0);
    fb_ref meta = encode_kv(b, v->meta_keys, v->meta_values, v->nmeta);
    fb_ref strings = encode_strings(b, v->strings, v->nstrings);
    fb_ref bc[BI_POS_MAX + 1];
    bc[BI_OFFSET] = fb_create_vector(b, bi->offset, bi->nb, 8);
    bc[BI_FRAME_SIZE] = fb_create_vector(b, bi->frame_size, bi->nb, 8);
    bc[BI_FIRST_RECORD] = fb_create_vector(b, bi->first_record, bi->nb, 8);
    bc[BI_RECORD_COUNT] = fb_create_vector(b, bi->record_count, bi->nb, 4);
    bc[BI_SEQ_MIN] = fb_create_vector(b, bi->seq_min, bi->nb, 8);
    bc[BI_SEQ_MAX] = fb_create_vector(b, bi->seq_max, bi->nb, 8);
    bc[BI_LAYER_MIN] = fb_create_vector(b, bi->layer_min, bi->nb, 4);
    bc[BI_LAYER_MAX] = fb_create_vector(b, bi->layer_max, bi->nb, 4);
    bc[BI_STEP_MIN] = fb_create_vector(b, bi->step_min, bi->nb, 4);
    bc[BI_STEP_MAX] = fb_create_vector(b, bi->step_max, bi->nb, 4);
    bc[BI_POS_MIN] = fb_create_vector(b, bi->pos_min, bi->nb, 4);
    bc[BI_POS_MAX] = fb_create_vector(b, bi->pos_max, bi->nb, 4);
    fb_table_begin(b);
    for (unsigned id = 0; id <= BI_POS_MAX; id++)
        fb_add_ref(b, id, bc[id]);
    fb_ref batches = fb_table_end(b);
    fb_ref foff = fb_create_vector(b, v->frame_offset, v->nframes, 8);
    fb_ref ftype = fb_create_vector(b, v->frame_type, v->nframes, 1);
    fb_table_begin(b);
    fb_add_ref(b, FI_OFFSET, foff);
    fb_add_ref(b, FI_TYPE, ftype);
    fb_ref frames = fb_table_end(b);
    fb_ref counters = encode_counters(b, &v->counters);
    fb_table_begin(b);
    fb_add_u16(b, FT_FORMAT_MAJOR, v->format_major);
    fb_add_u16(b, FT_FORMAT_MINOR, v->format_minor);
    fb_add_ref(b, FT_WRITER, writer);
    fb_add_u64(b, FT_CREATED_NS, v->created_ns);
    fb_add_u64(b, FT_CLOSED_NS, v->closed_ns);
    fb_add_u32(b, FT_CHUNK_BYTES, v->chunk_bytes);
    fb_add_u64(b, FT_RECORD_COUNT, v->record_count);
    fb_add_ref(b, FT_META, meta);
    fb_add_ref(b, FT_STRINGS, strings);
    fb_add_ref(b, FT_BATCHES, batches);
    fb_add_ref(b, FT_FRAMES, frames);
    fb_add_ref(b, FT_COUNTERS, counters);
    fb_ref root = fb_table_end(b);
    return fb_finish(b, root, TT_FB_IDENT, out, size);
}

/* Every batch-index column must be absent or have nb entries; absent required columns are an error. */
static int decode_batch_index(const uint8_t *buf, uint32_t t, tt_batch_index_view *bi, char *err, size_t errlen)
{
    memset(bi, 0, sizeof *bi);
    if (!t)
        return TT_OK;
    uint32_t nb = 0;
    const void *off = fb_get_vector(buf, t, BI_OFFSET, &nb);
    struct {
        unsigned id;
        const void **dst;
        const char *name;
        int required;
    } cols[] = {
        {BI_OFFSET, (const void **)&bi->offset, "offset", 1},
        {BI_FRAME_SIZE, (const void **)&bi->frame_size, "frame_size", 0},
        {BI_FIRST_RECORD, (const void **)&bi->first_record, "first_record", 1},
        {BI_RECORD_COUNT, (const void **)&bi->record_count, "record_count", 1},
        {BI_SEQ_MIN, (const void **)&bi->seq_min, "seq_min", 0},
        {BI_SEQ_MAX, (const void **)&bi->seq_max, "seq_max", 0},
        {BI_LAYER_MIN, (const void **)&bi->layer_min, "layer_min", 0},
        {BI_LAYER_MAX, (const void **)&bi->layer_max, "layer_max", 0},
        {BI_STEP_MIN, (const void **)&bi->step_min, "step_min", 0},
        {BI_STEP_MAX, (const void **)&bi->step_max, "step_max", 0},
        {BI_POS_MIN, (const void **)&bi->pos_min, "pos_min", 0},
        {BI_POS_MAX, (const void **)&bi->pos_max, "pos_max", 0},
    };
    (void)off;
    for (size_t i = 0; i < sizeof cols / sizeof cols[0]; i++) {
        uint32_t count = 0;
        const void *p = fb_get_vector(buf, t, cols[i].id, &count);
        if ((p || cols[i].required) && count != nb)
            return tt_errf(err, errlen, TT_E_CORRUPT, "Footer.batches.%s has %u entries for %u batches", cols[i].name,
                        count, nb);
        *cols[i].dst = p;
    }
    bi->nb = nb;
    return TT_OK;
}

int tt_fb_decode_footer(const uint8_t *buf, size_t len, tt_footer_view *v, char *err, size_t errlen)
{
    memset(v, 0, sizeof *v);
    int rc = fb_verify(buf, len, TT_FB_IDENT, &tt_fb_desc_footer, NULL, err, errlen);
    if (rc != TT_OK)
        return rc;
    uint32_t t = fb_root(buf), slen = 0;
    v->buf = buf;
    v->format_major = fb_get_u16(buf, t, FT_FORMAT_MAJOR, 0);
    v->format_minor = fb_get_u16(buf, t, FT_FORMAT_MINOR, 0);
    v->writer = fb_get_string(buf, t, FT_WRITER, &slen);
    if (!v->writer)
        v->writer = "";
    v->created_ns = fb_get_u64(buf, t, FT_CREATED_NS, 0);
    v->closed_ns = fb_get_u64(buf, t, FT_CLOSED_NS, 0);
    v->chunk_bytes = fb_get_u32(buf, t, FT_CHUNK_BYTES, 0);
    v->record_count = fb_get_u64(buf, t, FT_RECORD_COUNT, 0);
    if (v->record_count > TT_LIMIT_RECORDS)
        return tt_errf(err, errlen, TT_E_LIMIT, "Footer.record_count %llu over the limit %llu",
                    (unsigned long long)v->record_count, (unsigned long long)TT_LIMIT_RECORDS);
    v->meta_vec = fb_get_vector(buf, t, FT_META, &v->nmeta);
    if ((rc = check_kv(buf, v->meta_vec, v->nmeta, "Footer.meta", err, errlen)) != TT_OK)
        return rc;
    v->strings_vec = fb_get_vector(buf, t, FT_STRINGS, &v->nstrings);
    if ((rc = decode_batch_index(buf, fb_get_table(buf, t, FT_BATCHES), &v->batches, err, errlen)) != TT_OK)
        return rc;
    uint32_t ft = fb_get_table(buf, t, FT_FRAMES);
    if (ft) {
        uint32_t nt = 0;
        v->frame_offset = fb_get_vector(buf, ft, FI_OFFSET, &v->nframes);
        v->frame_type = fb_get_vector(buf, ft, FI_TYPE, &nt);
        if (v->frame_type && nt != v->nframes)
            return tt_errf(err, errlen, TT_E_CORRUPT, "Footer.frames.type has %u entries for %u frames", nt,
                        v->nframes);
    }
    uint32_t ct = fb_get_table(buf, t, FT_COUNTERS);
    if (ct) {
        v->has_counters = 1;
        decode_counters(buf, ct, &v->counters);
    }
    return TT_OK;
}
