/*
 * gen_build.c — writing a case's file frame by frame with the format codec (file header, frames with shuffle and
 * zstd, RecordBatch, Meta and Footer objects built with the FlatBuffers builder, trailer), keeping the model the
 * expected results are computed from, and the damage a case does to the file.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdlib.h>
#include <string.h>

#include "gen_corpus.h"

void gen_die(const char *what)
{
    fprintf(stderr, "gen_corpus: %s\n", what);
    exit(4);
}

/* ---- bytes ------------------------------------------------------------------------------------------------ */

static uint64_t rnd(gen *g)
{
    uint64_t z = (g->rng += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static void put(gen *g, const void *p, size_t n)
{
    if (g->len + n > g->cap) {
        size_t cap = g->cap ? g->cap : 1 << 16;
        while (cap < g->len + n)
            cap *= 2;
        uint8_t *q = realloc(g->buf, cap);
        if (!q)
            gen_die("out of memory");
        g->buf = q;
        g->cap = cap;
    }
    memcpy(g->buf + g->len, p, n);
    g->len += n;
}

/* Tensor content that compresses like activations: few distinct high bytes. */
uint8_t *gen_content(gen *g, uint8_t dtype, uint64_t nbytes)
{
    uint8_t *p = malloc(nbytes ? nbytes : 1);
    if (!p)
        gen_die("out of memory");
    size_t es = dtype == TT_DTYPE_UNKNOWN ? 1 : (size_t)(dtype == TT_F32 || dtype == TT_I32 ? 4
                                                  : dtype == TT_F64 || dtype == TT_I64 ? 8
                                                  : dtype == TT_F16 || dtype == TT_BF16 || dtype == TT_I16 ? 2 : 1);
    for (uint64_t i = 0; i < nbytes; i++)
        p[i] = (uint8_t)((i % es == es - 1) ? 0x3c + (rnd(g) & 1) : rnd(g) & 0x1f);
    return p;
}

static size_t dtype_size(uint8_t dt)
{
    static const uint8_t sizes[TT_DTYPE_COUNT] = {0, 4, 2, 2, 8, 1, 1, 2, 4, 8, 1, 1, 1, 1};
    return dt < TT_DTYPE_COUNT ? sizes[dt] : 0;
}

/* ---- frames ----------------------------------------------------------------------------------------------- */

int gen_add_frame(gen *g, const tt_frame_header *h, const uint8_t *stored)
{
    if (g->nfr == MAXF)
        gen_die("too many frames");
    uint8_t hb[TT_FRAME_HEADER_SIZE];
    tt_frame_header_encode(h, hb);
    gframe *f = &g->fr[g->nfr];
    memset(f, 0, sizeof *f);
    f->off = g->len;
    f->size = TT_FRAME_HEADER_SIZE + h->stored_size;
    f->type = h->type;
    f->batch = f->meta = -1;
    f->seq = h->seq;
    f->aux = h->aux;
    put(g, hb, sizeof hb);
    put(g, stored, (size_t)h->stored_size);
    return g->nfr++;
}

/* Encodes n raw bytes as a frame payload (shuffle, then zstd or stored) and appends the frame. */
int gen_frame(gen *g, uint8_t type, uint32_t aux, uint64_t seq, const uint8_t *raw, size_t n, popt o)
{
    uint8_t *sh = malloc(n ? n : 1), *z = malloc(ZSTD_compressBound(n));
    if (!sh || !z)
        gen_die("out of memory");
    tt_frame_header h = {0};
    h.type = type;
    h.aux = aux;
    h.seq = seq;
    h.raw_size = n;
    const uint8_t *in = raw;
    if (o.flt) {
        /* room for zstd's worst case beyond n, so single-stream (fp8) payloads are coded too */
        uint8_t *f = malloc(n + 1024);
        if (!f)
            gen_die("out of memory");
        char err[256];
        ZSTD_CCtx_reset(g->z, ZSTD_reset_session_and_parameters);
        tt_float_cctx_params(g->z);
        if (tt_payload_encode_float(raw, n, (tt_dtype)o.flt_dtype, o.row, (unsigned)o.flt, g->z, sh, f, n + 1024, &h, err,
                                    sizeof err) != TT_OK || h.filter != TT_FILTER_FLOAT) {
            fprintf(stderr, "dtype %d, %zu bytes, filter %u: %s\n", o.flt_dtype, n, h.filter, err);
            gen_die("float filter: the payload did not code");
        }
        h.type = type;
        h.aux = aux;
        h.seq = seq;
        int fi = gen_add_frame(g, &h, f);
        free(f);
        free(sh);
        free(z);
        return fi;
    }
    if (o.esize > 1) {
        tt_shuffle_bytes(raw, sh, n, (size_t)o.esize);
        h.filter = TT_FILTER_SHUFFLE;
        h.elem_size = (uint8_t)o.esize;
        in = sh;
    }
    ZSTD_CCtx_reset(g->z, ZSTD_reset_session_and_parameters);
    ZSTD_CCtx_setParameter(g->z, ZSTD_c_compressionLevel, 1);
    ZSTD_CCtx_setParameter(g->z, ZSTD_c_checksumFlag, o.zcheck);
    ZSTD_CCtx_setParameter(g->z, ZSTD_c_contentSizeFlag, !o.nosize);
    size_t zn = ZSTD_compress2(g->z, z, ZSTD_compressBound(n), in, n);
    if (ZSTD_isError(zn))
        gen_die("zstd");
    const uint8_t *stored = in;
    h.codec = TT_CODEC_RAW;
    h.stored_size = n;
    if (o.codec == TT_CODEC_ZSTD || (o.codec < 0 && n > 0 && zn < n)) {
        h.codec = TT_CODEC_ZSTD;
        h.stored_size = zn;
        stored = z;
    }
    h.payload_hash = tt_hash64(stored, (size_t)h.stored_size);
    int fi = gen_add_frame(g, &h, stored);
    free(sh);
    free(z);
    return fi;
}

/* A metadata-carrying frame (BATCH, META, FOOTER, unknown): zstd when smaller, never shuffled. */
static int object_frame(gen *g, uint8_t type, uint32_t aux, uint64_t seq, const uint8_t *obj, size_t n, int raw)
{
    popt o = POPT_DEFAULT;
    o.esize = 0;
    if (raw)
        o.codec = TT_CODEC_RAW;
    return gen_frame(g, type, aux, seq, obj, n, o);
}

/* ---- records ---------------------------------------------------------------------------------------------- */

grec *gen_record(gen *g, const char *point, uint8_t dtype, int ndim, const uint64_t *shape)
{
    if (g->nrec == MAXR)
        gen_die("too many records");
    grec *r = &g->rec[g->nrec];
    memset(r, 0, sizeof *r);
    r->seq = (uint64_t)g->nrec;
    r->time_ns = 1700000000000000000ull + 1000ull * (uint64_t)g->nrec;
    r->prompt_id = "p0";
    r->phase = "prefill";
    r->point = point;
    r->layer = g->nrec % 3;
    r->step = 0;
    r->token_id = 100 + g->nrec;
    r->logical_tok_idx = g->nrec;
    r->pos_id = 4 * g->nrec;
    r->rows = ndim ? (int32_t)shape[0] : 1;
    r->rank = 0;
    r->shard_kind = 0;
    r->shard_dim = r->shard_index = r->shard_count = -1;
    r->dtype = dtype;
    r->ndim = (uint8_t)ndim;
    uint64_t bytes = dtype_size(dtype);
    for (int d = 0; d < ndim; d++) {
        r->shape[d] = shape[d];
        bytes *= shape[d];
    }
    r->nbytes = bytes;
    g->nrec++;
    g->ct.puts++;
    return r;
}

/* Statistics as a writer would record them; simple binary fractions, so they print exactly. */
void gen_stats(grec *r, double lo, double hi)
{
    r->flags |= 4;
    r->stats[0] = lo, r->stats[1] = hi, r->stats[2] = (lo + hi) / 2;
    r->stats[3] = -lo > hi ? -lo : hi, r->stats[4] = hi * 2;
}

/* Writes the record's tensor as PAYLOAD frames, chunk by chunk, each chunk as o says (o[k] for chunk k when
 * per_chunk, else o[0]). */
void gen_tensor_chunks(gen *g, grec *r, const popt *o, int per_chunk)
{
    if (!r->data) /* a case may have set its own content */
        r->data = gen_content(g, r->dtype, r->nbytes);
    r->flags |= 1 | 2;
    r->hash = tt_hash64(r->data, (size_t)r->nbytes);
    r->payload_frames = (uint32_t)((r->nbytes + CHUNK - 1) / CHUNK);
    r->payload_offset = r->payload_frames ? g->len : 0;
    for (uint32_t k = 0; k < r->payload_frames; k++) {
        uint64_t at = (uint64_t)k * CHUNK, n = r->nbytes - at < CHUNK ? r->nbytes - at : CHUNK;
        popt c = o[per_chunk ? k : 0];
        if (c.esize < 0)
            c.esize = dtype_size(r->dtype) > 1 ? (int)dtype_size(r->dtype) : 0;
        if (c.flt && !c.flt_dtype)
            c.flt_dtype = r->dtype;
        int fi = gen_frame(g, TT_FRAME_PAYLOAD, k, r->seq, r->data + at, (size_t)n, c);
        r->payload_stored += g->fr[fi].size - TT_FRAME_HEADER_SIZE;
        g->ct.payload_frames++;
        g->ct.bytes_stored += g->fr[fi].size - TT_FRAME_HEADER_SIZE;
    }
    g->ct.bytes_raw += r->nbytes;
}

void gen_pack(gen *g, grec **recs, int n, popt o)
{
    uint64_t total = 0;
    for (int i = 0; i < n; i++)
        total += recs[i]->nbytes;
    uint8_t *content = calloc(1, total ? (size_t)total : 1);
    if (!content)
        gen_die("out of memory");
    uint64_t at = 0;
    for (int i = 0; i < n; i++) {
        grec *r = recs[i];
        r->data = gen_content(g, r->dtype, r->nbytes);
        r->flags |= 8 | 2;
        r->hash = tt_hash64(r->data, (size_t)r->nbytes);
        r->pack_offset = g->len;
        r->pack_start = (uint32_t)at;
        memcpy(content + at, r->data, (size_t)r->nbytes);
        at += r->nbytes;
        g->ct.bytes_raw += r->nbytes;
    }
    if (o.esize < 0)
        o.esize = n && dtype_size(recs[0]->dtype) > 1 ? (int)dtype_size(recs[0]->dtype) : 0;
    int fi = gen_frame(g, TT_FRAME_PACK, (uint32_t)n, n ? recs[0]->seq : 0, content, (size_t)total, o);
    uint64_t stored = g->fr[fi].size - TT_FRAME_HEADER_SIZE;
    for (int i = 0; i < n; i++)
        recs[i]->payload_stored = total ? recs[i]->nbytes * stored / total : 0;
    g->ct.payload_frames++;
    g->ct.bytes_stored += stored;
    free(content);
}

void gen_tensor(gen *g, grec *r)
{
    popt o = POPT_DEFAULT;
    gen_tensor_chunks(g, r, &o, 0);
}

/* ---- FlatBuffers objects ---------------------------------------------------------------------------------- */

static fb_ref strings_vec(gen *g, const char *const *s, int n)
{
    fb_ref refs[MAXS];
    for (int i = 0; i < n; i++)
        refs[i] = fb_create_string(&g->fb, s[i], strlen(s[i]));
    return fb_create_vector_refs(&g->fb, refs, (size_t)n);
}

static fb_ref counters_table(gen *g, const tt_writer_counters *c, int unknown)
{
    const uint64_t v[10] = {c->puts, c->filtered, c->dropped, c->written, c->bytes_raw,
                            c->bytes_stored, c->payload_frames, c->batches, c->file_bytes, c->errors};
    fb_table_begin(&g->fb);
    for (unsigned id = 0; id < 10; id++)
        fb_add_u64(&g->fb, id, v[id]);
    if (unknown) /* a counter a newer writer appended */
        fb_add_u64(&g->fb, 10, 12345);
    return fb_table_end(&g->fb);
}

static fb_ref kv_vec(gen *g, const gmeta *m, int unknown)
{
    fb_ref refs[MAXKV];
    for (int i = 0; i < m->n; i++) {
        fb_ref k = fb_create_string(&g->fb, m->k[i], strlen(m->k[i]));
        fb_ref v = fb_create_string(&g->fb, m->v[i], strlen(m->v[i]));
        fb_ref x = unknown ? fb_create_string(&g->fb, "appended", 8) : 0;
        fb_table_begin(&g->fb);
        fb_add_ref(&g->fb, KV_KEY, k);
        fb_add_ref(&g->fb, KV_VALUE, v);
        fb_add_ref(&g->fb, 2, x);
        refs[i] = fb_table_end(&g->fb);
    }
    return fb_create_vector_refs(&g->fb, refs, (size_t)m->n);
}

static void finish(gen *g, fb_ref root, const uint8_t **obj, size_t *len)
{
    if (fb_finish(&g->fb, root, "TTR1", obj, len) != 0)
        gen_die("flatbuffers builder");
}

static int32_t col_i32(const grec *r, int id)
{
    switch (id) {
    case RB_LAYER: return r->layer;
    case RB_STEP: return r->step;
    case RB_TOKEN_ID: return r->token_id;
    case RB_LOGICAL_TOK_IDX: return r->logical_tok_idx;
    case RB_POS_ID: return r->pos_id;
    case RB_ROWS: return r->rows;
    default: return r->rank;
    }
}

/* Applies the defaults of absent columns to the model (FORMAT.md section 5), so the expectation is what a
 * reader must return. */
static void apply_defaults(grec *r, uint64_t mask)
{
    if (mask & COL(RB_SEQ)) r->seq = 0;
    if (mask & COL(RB_TIME_NS)) r->time_ns = 0;
    if (mask & COL(RB_PROMPT_ID)) r->prompt_id = NULL;
    if (mask & COL(RB_PHASE)) r->phase = NULL;
    if (mask & COL(RB_POINT)) r->point = NULL;
    if (mask & COL(RB_LAYER)) r->layer = -1;
    if (mask & COL(RB_STEP)) r->step = -1;
    if (mask & COL(RB_TOKEN_ID)) r->token_id = -1;
    if (mask & COL(RB_LOGICAL_TOK_IDX)) r->logical_tok_idx = -1;
    if (mask & COL(RB_POS_ID)) r->pos_id = -1;
    if (mask & COL(RB_ROWS)) r->rows = -1;
    if (mask & COL(RB_RANK)) r->rank = 0;
    if (mask & COL(RB_HASH)) r->hash = 0;
    if (mask & COL(RB_FLAGS)) r->flags = 0;
    if (mask & (COL(RB_STAT_MIN))) r->stats[0] = 0;
    if (mask & (COL(RB_STAT_MAX))) r->stats[1] = 0;
    if (mask & (COL(RB_STAT_MEAN))) r->stats[2] = 0;
    if (mask & (COL(RB_STAT_ABSMAX))) r->stats[3] = 0;
    if (mask & (COL(RB_STAT_L2))) r->stats[4] = 0;
    if (mask & COL(RB_NAN_COUNT)) r->nan_count = 0;
    if (mask & COL(RB_INF_COUNT)) r->inf_count = 0;
}


void gen_shard(grec *r, int32_t kind, int32_t dim, int32_t index, int32_t count)
{
    r->shard_kind = kind, r->shard_dim = dim, r->shard_index = index, r->shard_count = count;
}

/* Writes records [rec0, rec0 + count) as one BATCH frame. */
void gen_batch(gen *g, int rec0, int count, bopt o)
{
    if (g->nbat == MAXB)
        gen_die("too many batches");
    const char *dict[MAXS];
    int nd = 0;
    uint32_t sidx[3][MAXR] = {{0}};
    uint64_t seq[MAXR], time_ns[MAXR], hash[MAXR], nanc[MAXR], infc[MAXR], dims[MAXR * TT_MAX_DIMS], poff[MAXR],
        pst[MAXR], koff[MAXR];
    uint32_t kstart[MAXR];
    int npacked = 0;
    int32_t ints[7][MAXR];
    uint8_t dtype[MAXR], ndim[MAXR], flags[MAXR];
    double st[5][MAXR];
    uint32_t pfr[MAXR];
    uint32_t ndims = 0;
    uint8_t skind[MAXR];
    int32_t sints[3][MAXR];
    int sharded = 0;
    for (int i = 0; i < count; i++) {
        grec *r = &g->rec[rec0 + i];
        apply_defaults(r, o.absent);
        const char *s[3] = {r->prompt_id, r->phase, r->point};
        for (int c = 0; c < 3; c++) {
            if (o.absent & COL(RB_PROMPT_ID + c)) /* no column, no dictionary entry */
                continue;
            const char *v = s[c] ? s[c] : "";
            int j = 0;
            while (j < nd && strcmp(dict[j], v) != 0)
                j++;
            if (j == nd)
                dict[nd++] = v;
            sidx[c][i] = (uint32_t)j;
        }
        seq[i] = r->seq, time_ns[i] = r->time_ns, hash[i] = r->bad_hash ? r->hash ^ 1 : r->hash;
        nanc[i] = r->nan_count, infc[i] = r->inf_count, poff[i] = r->payload_offset, pst[i] = r->payload_stored;
        for (int c = 0; c < 7; c++)
            ints[c][i] = col_i32(r, RB_LAYER + c);
        dtype[i] = r->dtype, ndim[i] = r->ndim, flags[i] = r->flags, pfr[i] = r->payload_frames;
        koff[i] = r->pack_offset, kstart[i] = r->pack_start;
        npacked += (r->flags & 8) != 0;
        for (int c = 0; c < 5; c++)
            st[c][i] = r->stats[c];
        for (int d = 0; d < r->ndim; d++)
            dims[ndims++] = r->shape[d];
        skind[i] = (uint8_t)r->shard_kind;
        sints[0][i] = r->shard_dim, sints[1][i] = r->shard_index, sints[2][i] = r->shard_count;
        sharded |= r->shard_kind != 0 || r->shard_dim != -1 || r->shard_index != -1 || r->shard_count != -1;
    }
    g->ct.written += (uint64_t)count;
    g->ct.batches++;
    gbatch *b = &g->bat[g->nbat];
    memset(b, 0, sizeof *b);
    b->rec0 = rec0;
    b->count = count;
    b->mask = o.absent;
    b->has_counters = !o.no_counters;
    b->counters = g->ct;
    b->counters.file_bytes = g->len; /* FORMAT.md section 5: the offset of the frame that holds the snapshot */

    fb_builder_reset(&g->fb);
    fb_ref strings = strings_vec(g, dict, nd);
    fb_ref c[RB_NEXT + 1] = {0};
    size_t n = (size_t)count;
#define V(id, arr, es) c[id] = (o.absent & COL(id)) ? 0 : fb_create_vector(&g->fb, arr, id == RB_DIMS ? ndims : n, es)
    V(RB_SEQ, seq, 8);
    V(RB_TIME_NS, time_ns, 8);
    V(RB_PROMPT_ID, sidx[0], 4);
    V(RB_PHASE, sidx[1], 4);
    V(RB_POINT, sidx[2], 4);
    for (int k = 0; k < 7; k++)
        V(RB_LAYER + k, ints[k], 4);
    V(RB_DTYPE, dtype, 1);
    V(RB_NDIM, ndim, 1);
    V(RB_DIMS, dims, 8);
    V(RB_FLAGS, flags, 1);
    V(RB_HASH, hash, 8);
    for (int k = 0; k < 5; k++)
        V(RB_STAT_MIN + k, st[k], 8);
    V(RB_NAN_COUNT, nanc, 8);
    V(RB_INF_COUNT, infc, 8);
    V(RB_PAYLOAD_OFFSET, poff, 8);
    V(RB_PAYLOAD_FRAMES, pfr, 4);
    V(RB_PAYLOAD_STORED, pst, 8);
    if (sharded) { /* the shard columns, as the reference writer does: only in batches that hold a shard */
        V(RB_SHARD_KIND, skind, 1);
        for (int k = 0; k < 3; k++)
            V(RB_SHARD_DIM + k, sints[k], 4);
    }
    if (npacked) { /* format 1.1: the pack columns, in batches that have packed records */
        V(RB_PACK_OFFSET, koff, 8);
        V(RB_PACK_START, kstart, 4);
    }
#undef V
    if (b->has_counters)
        c[RB_COUNTERS] = counters_table(g, &b->counters, o.unknown);
    if (o.unknown) { /* an appended per-record column and an appended string */
        uint32_t extra[MAXR];
        for (int i = 0; i < count; i++)
            extra[i] = 7u * (uint32_t)i;
        c[RB_NEXT] = fb_create_vector(&g->fb, extra, n, 4);
    }
    fb_ref note = o.unknown ? fb_create_string(&g->fb, "a field of format 1.7", 21) : 0;
    fb_table_begin(&g->fb);
    fb_add_u64(&g->fb, RB_FIRST_RECORD, (uint64_t)rec0);
    fb_add_u32(&g->fb, RB_CHUNK_BYTES, CHUNK);
    fb_add_ref(&g->fb, RB_STRINGS, strings);
    for (unsigned id = RB_SEQ; id <= RB_NEXT; id++)
        fb_add_ref(&g->fb, id, c[id]);
    fb_add_ref(&g->fb, RB_NEXT + 5, note);
    const uint8_t *obj;
    size_t len;
    finish(g, fb_table_end(&g->fb), &obj, &len);
    b->frame = object_frame(g, TT_FRAME_BATCH, (uint32_t)count, count ? g->rec[rec0].seq : 0, obj, len, o.raw);
    g->fr[b->frame].batch = g->nbat++;
}

/* Writes a META frame holding m (the complete set, as the writer does). */
void gen_meta(gen *g, const gmeta *m, int unknown)
{
    if (g->nmeta == MAXB)
        gen_die("too many META frames");
    fb_builder_reset(&g->fb);
    fb_ref e = kv_vec(g, m, unknown);
    uint8_t extra[3] = {1, 2, 3};
    fb_ref x = unknown ? fb_create_vector(&g->fb, extra, 3, 1) : 0;
    fb_table_begin(&g->fb);
    fb_add_ref(&g->fb, 0, e);
    fb_add_ref(&g->fb, 1, x);
    const uint8_t *obj;
    size_t len;
    finish(g, fb_table_end(&g->fb), &obj, &len);
    int fi = object_frame(g, TT_FRAME_META, 0, 0, obj, len, 0);
    g->metas[g->nmeta] = *m;
    g->fr[fi].meta = g->nmeta++;
    g->footer_meta = *m;
}

void gen_meta1(gen *g, const char *k, const char *v)
{
    gmeta m = {1, {k}, {v}};
    gen_meta(g, &m, 0);
}


static void add_string(gen *g, const char *s)
{
    if (!s)
        return;
    for (int i = 0; i < g->nstrs; i++)
        if (strcmp(g->strs[i], s) == 0)
            return;
    if (g->nstrs == MAXS)
        gen_die("too many strings");
    g->strs[g->nstrs++] = s;
}

/* The key ranges of a batch by FORMAT.md section 6. */
void gen_ranges(const gen *g, const gbatch *b, int32_t out[6], uint64_t *smin, uint64_t *smax)
{
    out[0] = out[2] = out[4] = INT32_MAX;
    out[1] = out[3] = out[5] = INT32_MIN;
    *smin = UINT64_MAX, *smax = 0;
    for (int i = 0; i < b->count; i++) {
        const grec *r = &g->rec[b->rec0 + i];
        int64_t lo = r->pos_id, hi = lo + (r->rows > 1 ? r->rows - 1 : 0);
        if (hi > INT32_MAX)
            hi = INT32_MAX;
        if (r->layer < out[0]) out[0] = r->layer;
        if (r->layer > out[1]) out[1] = r->layer;
        if (r->step < out[2]) out[2] = r->step;
        if (r->step > out[3]) out[3] = r->step;
        if (lo < out[4]) out[4] = (int32_t)lo;
        if (hi > out[5]) out[5] = (int32_t)hi;
        if (r->seq < *smin) *smin = r->seq;
        if (r->seq > *smax) *smax = r->seq;
    }
    if (!b->count) /* an empty batch covers nothing */
        out[0] = out[1] = out[2] = out[3] = out[4] = out[5] = 0, *smin = *smax = 0;
}

void gen_footer_with(gen *g, fopt o)
{
    for (int i = 0; i < g->nrec; i++) {
        add_string(g, g->rec[i].prompt_id);
        add_string(g, g->rec[i].phase);
        add_string(g, g->rec[i].point);
    }
    uint64_t bo[MAXB], bs[MAXB], bf[MAXB], smin[MAXB], smax[MAXB], total = 0;
    uint32_t bc[MAXB];
    int32_t rg[6][MAXB];
    for (int i = 0; i < g->nbat; i++) {
        const gbatch *b = &g->bat[i];
        int32_t r6[6];
        gen_ranges(g, b, r6, &smin[i], &smax[i]);
        for (int k = 0; k < 6; k++)
            rg[k][i] = r6[k];
        bo[i] = g->fr[b->frame].off, bs[i] = g->fr[b->frame].size, bf[i] = (uint64_t)b->rec0;
        bc[i] = (uint32_t)b->count;
        total += (uint64_t)b->count;
    }
    uint64_t fo[MAXF];
    uint8_t ft[MAXF];
    int nf = 0;
    for (int i = 0; i < g->nfr; i++)
        if (g->fr[i].type == TT_FRAME_PAYLOAD || g->fr[i].type == TT_FRAME_META || g->fr[i].type == TT_FRAME_PACK)
            fo[nf] = g->fr[i].off, ft[nf++] = g->fr[i].type;
    g->footer_counters = g->ct;
    g->footer_counters.file_bytes = g->len;
    g->footer_ranges = !o.no_ranges;

    fb_builder_reset(&g->fb);
    fb_ref writer = fb_create_string(&g->fb, "gen_corpus 1", 12);
    fb_ref mt = kv_vec(g, &g->footer_meta, o.unknown);
    fb_ref strings = strings_vec(g, g->strs, g->nstrs);
    size_t nb = (size_t)g->nbat;
    fb_ref c[BI_NEXT + 1] = {0};
    c[BI_OFFSET] = fb_create_vector(&g->fb, bo, nb, 8);
    c[BI_FRAME_SIZE] = fb_create_vector(&g->fb, bs, nb, 8);
    c[BI_FIRST_RECORD] = fb_create_vector(&g->fb, bf, nb, 8);
    c[BI_RECORD_COUNT] = fb_create_vector(&g->fb, bc, nb, 4);
    if (!o.no_ranges) {
        c[BI_SEQ_MIN] = fb_create_vector(&g->fb, smin, nb, 8);
        c[BI_SEQ_MAX] = fb_create_vector(&g->fb, smax, nb, 8);
        for (int k = 0; k < 6; k++)
            c[BI_LAYER_MIN + k] = fb_create_vector(&g->fb, rg[k], nb, 4);
    }
    if (o.unknown)
        c[BI_NEXT] = fb_create_vector(&g->fb, bc, nb, 4);
    fb_table_begin(&g->fb);
    for (unsigned id = 0; id <= BI_NEXT; id++)
        fb_add_ref(&g->fb, id, c[id]);
    fb_ref batches = fb_table_end(&g->fb);
    fb_ref foff = fb_create_vector(&g->fb, fo, (size_t)nf, 8);
    fb_ref ftyp = fb_create_vector(&g->fb, ft, (size_t)nf, 1);
    fb_ref fx = o.unknown ? fb_create_vector(&g->fb, ft, (size_t)nf, 1) : 0;
    fb_table_begin(&g->fb);
    fb_add_ref(&g->fb, 0, foff);
    fb_add_ref(&g->fb, 1, ftyp);
    fb_add_ref(&g->fb, 2, fx);
    fb_ref frames = fb_table_end(&g->fb);
    fb_ref counters = counters_table(g, &g->footer_counters, o.unknown);
    fb_ref note = o.unknown ? fb_create_string(&g->fb, "appended", 8) : 0;
    fb_table_begin(&g->fb);
    fb_add_u16(&g->fb, FT_FORMAT_MAJOR, o.major ? o.major : g->major);
    fb_add_u16(&g->fb, FT_FORMAT_MINOR, o.major ? o.minor : g->minor);
    fb_add_ref(&g->fb, FT_WRITER, writer);
    fb_add_u64(&g->fb, FT_CREATED_NS, 1700000000000000000ull);
    fb_add_u64(&g->fb, FT_CLOSED_NS, 1700000001000000000ull);
    fb_add_u32(&g->fb, FT_CHUNK_BYTES, CHUNK);
    fb_add_u64(&g->fb, FT_RECORD_COUNT, total);
    fb_add_ref(&g->fb, FT_META, mt);
    fb_add_ref(&g->fb, FT_STRINGS, strings);
    fb_add_ref(&g->fb, FT_BATCHES, batches);
    fb_add_ref(&g->fb, FT_FRAMES, frames);
    fb_add_ref(&g->fb, FT_COUNTERS, counters);
    fb_add_ref(&g->fb, FT_NEXT, note);
    if (o.unknown)
        fb_add_u64(&g->fb, FT_NEXT + 3, 99);
    const uint8_t *obj;
    size_t len;
    finish(g, fb_table_end(&g->fb), &obj, &len);
    g->footer_frame = object_frame(g, TT_FRAME_FOOTER, 0, 0, obj, len, 0);
    tt_trailer t = {g->fr[g->footer_frame].off, g->fr[g->footer_frame].size};
    uint8_t tb[TT_TRAILER_SIZE];
    tt_trailer_encode(&t, tb);
    put(g, tb, sizeof tb);
    g->footer_ok = !o.major || (o.major == g->major && o.minor == g->minor);
    g->footer_error = g->footer_ok ? NULL : "corrupt";
}

void gen_footer(gen *g)
{
    fopt o = {0};
    gen_footer_with(g, o);
}

/* A frame of a type this version does not define (a newer minor may add some). */
void gen_unknown_frame(gen *g, uint8_t type, size_t n, int raw)
{
    uint8_t *p = gen_content(g, TT_U8, n);
    object_frame(g, type, 3, 77, p, n, raw);
    free(p);
}

void gen_header(gen *g, uint16_t major, uint16_t minor, uint32_t flags, uint32_t reserved, uint32_t hsize)
{
    uint8_t hb[TT_FILE_HEADER_SIZE];
    tt_file_header h = {major, minor, flags};
    tt_file_header_encode(&h, hb);
    tt_le32(hb + 12, hsize);
    tt_le32(hb + 20, reserved);
    tt_le64(hb + 24, tt_hash64(hb, 24));
    g->len = 0;
    put(g, hb, sizeof hb);
    g->major = major;
    g->minor = minor;
}

/* ---- damage ----------------------------------------------------------------------------------------------- */

void gen_flip(gen *g, uint64_t off)
{
    if (off >= g->len)
        gen_die("flip outside the file");
    g->buf[off] ^= 0x5a;
}

void gen_damage_header(gen *g, int fi)
{
    gen_flip(g, g->fr[fi].off + 20); /* inside seq: only the header checksum tells */
    g->fr[fi].damage = DMG_HEADER;
    if (fi == g->footer_frame)
        g->footer_ok = 0, g->footer_error = "corrupt";
}

void gen_damage_payload(gen *g, int fi)
{
    gframe *f = &g->fr[fi];
    if (f->size == TT_FRAME_HEADER_SIZE)
        gen_die("no payload to damage");
    gen_flip(g, f->off + TT_FRAME_HEADER_SIZE + (f->size - TT_FRAME_HEADER_SIZE) / 2);
    f->damage = DMG_PAYLOAD;
    if (fi == g->footer_frame)
        g->footer_ok = 0, g->footer_error = "corrupt";
}

void gen_unknown_filter(gen *g, int fi)
{
    uint8_t *hb = g->buf + g->fr[fi].off;
    hb[6] = 3;
    tt_le64(hb + 48, tt_hash64(hb, 48));
    g->fr[fi].damage = DMG_HEADER;
}

void gen_cut(gen *g, uint64_t len)
{
    g->len = len;
    g->footer_ok = 0;
    g->footer_error = "no_footer";
}

void gen_garbage(gen *g, size_t n)
{
    if (g->nfr == MAXF)
        gen_die("too many frames");
    gframe *f = &g->fr[g->nfr++];
    memset(f, 0, sizeof *f);
    f->off = g->len;
    f->size = n;
    f->type = FR_GARBAGE;
    f->batch = f->meta = -1;
    for (size_t i = 0; i < n; i++) {
        uint8_t b = (uint8_t)(rnd(g) | 1); /* never the 'T' of a frame magic */
        put(g, b == 'T' ? "U" : (const char *)&b, 1);
    }
}

int gen_last_frame(const gen *g, uint8_t type)
{
    for (int i = g->nfr; i-- > 0;)
        if (g->fr[i].type == type)
            return i;
    gen_die("no such frame");
    return -1;
}

/* One chunk whose stored bytes, under valid frame checksums, are not one good zstd frame: two frames (zstd would
 * inflate both) or one whose zstd content checksum fails. */
void gen_bad_zstd_chunk(gen *g, grec *r, int two_frames)
{
    r->data = gen_content(g, r->dtype, r->nbytes);
    r->flags |= 1 | 2;
    r->hash = tt_hash64(r->data, (size_t)r->nbytes);
    r->bad_data = 1;
    size_t n = (size_t)r->nbytes, cap = 2 * ZSTD_compressBound(n);
    uint8_t *z = malloc(cap);
    if (!z)
        gen_die("out of memory");
    ZSTD_CCtx_reset(g->z, ZSTD_reset_session_and_parameters);
    ZSTD_CCtx_setParameter(g->z, ZSTD_c_checksumFlag, !two_frames);
    size_t a = ZSTD_compress2(g->z, z, cap, r->data, two_frames ? n / 2 : n), b = 0;
    if (two_frames)
        b = ZSTD_compress2(g->z, z + a, cap - a, r->data + n / 2, n - n / 2);
    if (ZSTD_isError(a) || ZSTD_isError(b))
        gen_die("zstd");
    if (!two_frames)
        z[a - 1] ^= 0x5a; /* the last byte of the zstd checksum */
    tt_frame_header h = {0};
    h.type = TT_FRAME_PAYLOAD;
    h.codec = TT_CODEC_ZSTD;
    h.seq = r->seq;
    h.raw_size = n;
    h.stored_size = a + b;
    h.payload_hash = tt_hash64(z, a + b);
    r->payload_offset = g->len;
    r->payload_frames = 1;
    gen_add_frame(g, &h, z);
    r->payload_stored = a + b;
    g->ct.payload_frames++;
    g->ct.bytes_stored += a + b;
    g->ct.bytes_raw += n;
    free(z);
}
