/*
 * gen_corpus.c — writes the conformance corpus of format/FORMAT.md: small trace files, each with the result a
 * conforming reader must produce (format/conformance/README.md), into an output folder.
 *
 *     gen_corpus OUTDIR      writes OUTDIR/{valid,damaged,refused}/NAME.tt, NAME.json and OUTDIR/manifest.json
 *
 * The files are built frame by frame from the format codec (format/: frame headers, FlatBuffers builder, shuffle,
 * zstd), below the public writer, so that they can hold what the reference writer never writes but a reader must
 * accept (absent columns, unknown frame types and table fields, a newer minor version, zstd frames with a checksum
 * or without a content size, odd shuffle sizes, empty batches) and the damage a reader must survive. Each case
 * keeps a model of what it wrote (records, frames, batches, metadata snapshots, damage done) and the expected
 * results are computed from that model by the rules of FORMAT.md sections 8 and 9, never by reading the files
 * back with the library.
 *
 * Deterministic: no clock, no randomness but a fixed-seed generator; the same libzstd version gives byte-identical
 * files (its version is recorded in manifest.json).
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <zstd.h>

#include "corpus_json.h"
#include "fb.h"
#include "frame.h"

#define CORPUS_VERSION 1
#define MAXR 64     /* records in one case */
#define MAXB 16     /* batches */
#define MAXF 256    /* frames */
#define MAXKV 8     /* metadata entries */
#define MAXS 64     /* strings */
#define CHUNK 4096u /* chunk_bytes of every case: the smallest allowed, so multi-chunk tensors stay small */

/* ---- field ids of schemas/trace.fbs (declaration order) ------------------------------------------------- */
enum { KV_KEY, KV_VALUE };
enum { RB_FIRST_RECORD, RB_CHUNK_BYTES, RB_STRINGS, RB_SEQ, RB_TIME_NS, RB_PROMPT_ID, RB_PHASE, RB_POINT, RB_LAYER,
       RB_STEP, RB_TOKEN_ID, RB_LOGICAL_TOK_IDX, RB_POS_ID, RB_ROWS, RB_RANK, RB_DTYPE, RB_NDIM, RB_DIMS, RB_FLAGS,
       RB_HASH, RB_STAT_MIN, RB_STAT_MAX, RB_STAT_MEAN, RB_STAT_ABSMAX, RB_STAT_L2, RB_NAN_COUNT, RB_INF_COUNT,
       RB_PAYLOAD_OFFSET, RB_PAYLOAD_FRAMES, RB_PAYLOAD_STORED, RB_COUNTERS, RB_NEXT };
enum { BI_OFFSET, BI_FRAME_SIZE, BI_FIRST_RECORD, BI_RECORD_COUNT, BI_SEQ_MIN, BI_SEQ_MAX, BI_LAYER_MIN,
       BI_LAYER_MAX, BI_STEP_MIN, BI_STEP_MAX, BI_POS_MIN, BI_POS_MAX, BI_NEXT };
enum { FT_FORMAT_MAJOR, FT_FORMAT_MINOR, FT_WRITER, FT_CREATED_NS, FT_CLOSED_NS, FT_CHUNK_BYTES, FT_RECORD_COUNT,
       FT_META, FT_STRINGS, FT_BATCHES, FT_FRAMES, FT_COUNTERS, FT_NEXT };
#define COL(id) ((uint64_t)1 << (id))

enum { DMG_NONE, DMG_HEADER, DMG_PAYLOAD };
enum { FR_GARBAGE = 255 }; /* bytes between frames that are no frame */

typedef struct grec {
    uint64_t seq, time_ns;
    const char *prompt_id, *phase, *point; /* NULL: not given */
    int32_t layer, step, token_id, logical_tok_idx, pos_id, rows, rank;
    uint8_t dtype, ndim, flags;
    uint64_t shape[TT_MAX_DIMS];
    uint64_t hash;
    double stats[5]; /* min, max, mean, absmax, l2 */
    uint64_t nan_count, inf_count;
    uint8_t *data;
    uint64_t nbytes;
    uint64_t payload_offset, payload_stored;
    uint32_t payload_frames;
    int bad_hash; /* the hash column does not match the content: reading the tensor must fail */
    int bad_data; /* a chunk passes its checksums but does not decode: reading the tensor must fail */
} grec;

typedef struct gframe {
    uint64_t off, size; /* header + payload bytes */
    uint8_t type;       /* frame type, or FR_GARBAGE */
    int damage;         /* DMG_* */
    int batch, meta;    /* index in g->bat / g->metas for BATCH / META frames */
    uint64_t seq;       /* PAYLOAD: seq and chunk */
    uint32_t aux;
} gframe;

typedef struct gbatch {
    int frame;
    int rec0, count;
    uint64_t mask; /* absent columns */
    int has_counters;
    tt_writer_counters counters;
} gbatch;

typedef struct gmeta {
    int n;
    const char *k[MAXKV], *v[MAXKV];
} gmeta;

/* What the payload of a tensor's chunks looks like. */
typedef struct popt {
    int codec;   /* -1: zstd when smaller (the reference writer's rule); TT_CODEC_RAW; TT_CODEC_ZSTD: always */
    int esize;   /* -1: shuffle by the element size when above 1; 0: no shuffle; 2..16: shuffle by this */
    int zcheck;  /* zstd frame with a content checksum */
    int nosize;  /* zstd frame without its content size */
} popt;
#define POPT_DEFAULT ((popt){-1, -1, 0, 0})

typedef struct gen {
    uint8_t *buf;
    size_t len, cap;
    fb_builder fb;
    ZSTD_CCtx *z;
    uint64_t rng;
    uint16_t major, minor;
    grec rec[MAXR];
    int nrec;
    gframe fr[MAXF];
    int nfr;
    gbatch bat[MAXB];
    int nbat;
    gmeta metas[MAXB];
    int nmeta;
    tt_writer_counters ct;
    /* the footer as written: usable by the rules of section 8, and its contents */
    int footer_frame;     /* index in fr, -1 none */
    int footer_ok;
    const char *footer_error;
    gmeta footer_meta;
    const char *strs[MAXS];
    int nstrs;
    int footer_ranges;    /* the batch index carries key ranges */
    tt_writer_counters footer_counters;
    /* the case */
    const char *cls, *name, *description;
    const char *exercises[12];
    int nex;
    const char *refused; /* error class of a refused file */
} gen;

static void die(const char *what)
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
            die("out of memory");
        g->buf = q;
        g->cap = cap;
    }
    memcpy(g->buf + g->len, p, n);
    g->len += n;
}

/* Tensor content that compresses like activations: few distinct high bytes. */
static uint8_t *content(gen *g, uint8_t dtype, uint64_t nbytes)
{
    uint8_t *p = malloc(nbytes ? nbytes : 1);
    if (!p)
        die("out of memory");
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

static int add_frame(gen *g, const tt_frame_header *h, const uint8_t *stored)
{
    if (g->nfr == MAXF)
        die("too many frames");
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
static int frame(gen *g, uint8_t type, uint32_t aux, uint64_t seq, const uint8_t *raw, size_t n, popt o)
{
    uint8_t *sh = malloc(n ? n : 1), *z = malloc(ZSTD_compressBound(n));
    if (!sh || !z)
        die("out of memory");
    tt_frame_header h = {0};
    h.type = type;
    h.aux = aux;
    h.seq = seq;
    h.raw_size = n;
    const uint8_t *in = raw;
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
        die("zstd");
    const uint8_t *stored = in;
    h.codec = TT_CODEC_RAW;
    h.stored_size = n;
    if (o.codec == TT_CODEC_ZSTD || (o.codec < 0 && n > 0 && zn < n)) {
        h.codec = TT_CODEC_ZSTD;
        h.stored_size = zn;
        stored = z;
    }
    h.payload_hash = tt_hash64(stored, (size_t)h.stored_size);
    int fi = add_frame(g, &h, stored);
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
    return frame(g, type, aux, seq, obj, n, o);
}

/* ---- records ---------------------------------------------------------------------------------------------- */

static grec *rec_new(gen *g, const char *point, uint8_t dtype, int ndim, const uint64_t *shape)
{
    if (g->nrec == MAXR)
        die("too many records");
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
static void rec_stats(grec *r, double lo, double hi)
{
    r->flags |= 4;
    r->stats[0] = lo, r->stats[1] = hi, r->stats[2] = (lo + hi) / 2;
    r->stats[3] = -lo > hi ? -lo : hi, r->stats[4] = hi * 2;
}

/* Writes the record's tensor as PAYLOAD frames, chunk by chunk, each chunk as o says (o[k] for chunk k when
 * per_chunk, else o[0]). */
static void tensor_chunks(gen *g, grec *r, const popt *o, int per_chunk)
{
    r->data = content(g, r->dtype, r->nbytes);
    r->flags |= 1 | 2;
    r->hash = tt_hash64(r->data, (size_t)r->nbytes);
    r->payload_frames = (uint32_t)((r->nbytes + CHUNK - 1) / CHUNK);
    r->payload_offset = r->payload_frames ? g->len : 0;
    for (uint32_t k = 0; k < r->payload_frames; k++) {
        uint64_t at = (uint64_t)k * CHUNK, n = r->nbytes - at < CHUNK ? r->nbytes - at : CHUNK;
        popt c = o[per_chunk ? k : 0];
        if (c.esize < 0)
            c.esize = dtype_size(r->dtype) > 1 ? (int)dtype_size(r->dtype) : 0;
        int fi = frame(g, TT_FRAME_PAYLOAD, k, r->seq, r->data + at, (size_t)n, c);
        r->payload_stored += g->fr[fi].size - TT_FRAME_HEADER_SIZE;
        g->ct.payload_frames++;
        g->ct.bytes_stored += g->fr[fi].size - TT_FRAME_HEADER_SIZE;
    }
    g->ct.bytes_raw += r->nbytes;
}

static void tensor(gen *g, grec *r)
{
    popt o = POPT_DEFAULT;
    tensor_chunks(g, r, &o, 0);
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
        die("flatbuffers builder");
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

/* Batch options. */
typedef struct bopt {
    uint64_t absent;   /* COL() bits of columns left out */
    int unknown;       /* fields a newer minor appends: in RecordBatch and Counters */
    int raw;           /* stored without zstd */
    int no_counters;
    const char *empty; /* how "not given" strings are stored: NULL = the empty string entry */
} bopt;

/* Writes records [rec0, rec0 + count) as one BATCH frame. */
static void batch(gen *g, int rec0, int count, bopt o)
{
    if (g->nbat == MAXB)
        die("too many batches");
    const char *dict[MAXS];
    int nd = 0;
    uint32_t sidx[3][MAXR] = {{0}};
    uint64_t seq[MAXR], time_ns[MAXR], hash[MAXR], nanc[MAXR], infc[MAXR], dims[MAXR * TT_MAX_DIMS], poff[MAXR],
        pst[MAXR];
    int32_t ints[7][MAXR];
    uint8_t dtype[MAXR], ndim[MAXR], flags[MAXR];
    double st[5][MAXR];
    uint32_t pfr[MAXR];
    uint32_t ndims = 0;
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
        for (int c = 0; c < 5; c++)
            st[c][i] = r->stats[c];
        for (int d = 0; d < r->ndim; d++)
            dims[ndims++] = r->shape[d];
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
static void meta(gen *g, const gmeta *m, int unknown)
{
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

static void meta1(gen *g, const char *k, const char *v)
{
    gmeta m = {1, {k}, {v}};
    meta(g, &m, 0);
}

/* Footer options. */
typedef struct fopt {
    int unknown;        /* appended fields in every table */
    int no_ranges;      /* batch index without key ranges */
    uint16_t major, minor; /* version in the footer (0.0: the header's) */
} fopt;

static void add_string(gen *g, const char *s)
{
    if (!s)
        return;
    for (int i = 0; i < g->nstrs; i++)
        if (strcmp(g->strs[i], s) == 0)
            return;
    if (g->nstrs == MAXS)
        die("too many strings");
    g->strs[g->nstrs++] = s;
}

/* The key ranges of a batch by FORMAT.md section 6. */
static void ranges(const gen *g, const gbatch *b, int32_t out[6], uint64_t *smin, uint64_t *smax)
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

static void footer_and_trailer(gen *g, fopt o)
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
        ranges(g, b, r6, &smin[i], &smax[i]);
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
        if (g->fr[i].type == TT_FRAME_PAYLOAD || g->fr[i].type == TT_FRAME_META)
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

static void footer(gen *g)
{
    fopt o = {0};
    footer_and_trailer(g, o);
}

/* A frame of a type this version does not define (a newer minor may add some). */
static void unknown_frame(gen *g, uint8_t type, size_t n, int raw)
{
    uint8_t *p = content(g, TT_U8, n);
    object_frame(g, type, 3, 77, p, n, raw);
    free(p);
}

static void header(gen *g, uint16_t major, uint16_t minor, uint32_t flags, uint32_t reserved, uint32_t hsize)
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

static void flip(gen *g, uint64_t off)
{
    if (off >= g->len)
        die("flip outside the file");
    g->buf[off] ^= 0x5a;
}

static void damage_header(gen *g, int fi)
{
    flip(g, g->fr[fi].off + 20); /* inside seq: only the header checksum tells */
    g->fr[fi].damage = DMG_HEADER;
    if (fi == g->footer_frame)
        g->footer_ok = 0, g->footer_error = "corrupt";
}

static void damage_payload(gen *g, int fi)
{
    gframe *f = &g->fr[fi];
    if (f->size == TT_FRAME_HEADER_SIZE)
        die("no payload to damage");
    flip(g, f->off + TT_FRAME_HEADER_SIZE + (f->size - TT_FRAME_HEADER_SIZE) / 2);
    f->damage = DMG_PAYLOAD;
    if (fi == g->footer_frame)
        g->footer_ok = 0, g->footer_error = "corrupt";
}

static void cut(gen *g, uint64_t len)
{
    g->len = len;
    g->footer_ok = 0;
    g->footer_error = "no_footer";
}

static void garbage(gen *g, size_t n)
{
    if (g->nfr == MAXF)
        die("too many frames");
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

static int last_frame(const gen *g, uint8_t type)
{
    for (int i = g->nfr; i-- > 0;)
        if (g->fr[i].type == type)
            return i;
    die("no such frame");
    return -1;
}

/* ---- expected results ------------------------------------------------------------------------------------- */

enum { PS_NONE, PS_OK, PS_LOST, PS_DAMAGED };
static const char *const ps_names[] = {"none", "ok", "lost", "damaged"};

static void emit_meta(cj *j, const gmeta *m)
{
    cj_begin_arr(j, "meta");
    for (int i = 0; m && i < m->n; i++) {
        cj_begin_inline(j, NULL);
        cj_str(j, NULL, m->k[i]);
        cj_str(j, NULL, m->v[i]);
        cj_end_arr(j);
    }
    cj_end_arr(j);
}

static void emit_record(cj *j, const grec *r, uint64_t index, int ps)
{
    cj_begin_obj(j, NULL);
    cj_u64(j, "index", index);
    cj_u64(j, "seq", r->seq);
    cj_u64(j, "time_ns", r->time_ns);
    cj_str(j, "prompt_id", r->prompt_id && *r->prompt_id ? r->prompt_id : NULL);
    cj_str(j, "phase", r->phase && *r->phase ? r->phase : NULL);
    cj_str(j, "point", r->point && *r->point ? r->point : NULL);
    cj_i64(j, "layer", r->layer);
    cj_i64(j, "step", r->step);
    cj_i64(j, "token_id", r->token_id);
    cj_i64(j, "logical_tok_idx", r->logical_tok_idx);
    cj_i64(j, "pos_id", r->pos_id);
    cj_i64(j, "rows", r->rows);
    cj_i64(j, "rank", r->rank);
    cj_str(j, "dtype", cj_dtype_names[r->dtype]);
    cj_begin_inline(j, "shape");
    for (int d = 0; d < r->ndim; d++)
        cj_u64(j, NULL, r->shape[d]);
    cj_end_arr(j);
    cj_u64(j, "nbytes", r->nbytes);
    cj_u64(j, "flags", r->flags & 7u);
    if (r->flags & 2)
        cj_hex(j, "hash", r->bad_hash ? r->hash ^ 1 : r->hash);
    if (r->flags & 4) {
        cj_begin_obj(j, "stats");
        cj_f64(j, "min", r->stats[0]);
        cj_f64(j, "max", r->stats[1]);
        cj_f64(j, "mean", r->stats[2]);
        cj_f64(j, "absmax", r->stats[3]);
        cj_f64(j, "l2", r->stats[4]);
        cj_u64(j, "nan_count", r->nan_count);
        cj_u64(j, "inf_count", r->inf_count);
        cj_end_obj(j);
    }
    cj_str(j, "payload", ps_names[ps]);
    if (ps == PS_OK)
        cj_hex(j, "content_xxh3", tt_hash64(r->data, (size_t)r->nbytes));
    cj_end_obj(j);
}

/* Is frame i wholly inside the (possibly cut) file? */
static int present(const gen *g, int i) { return g->fr[i].off + g->fr[i].size <= g->len; }

/* Payload state of a record read through a frame list where every chunk is where the batch says. */
static int payload_state_direct(const gen *g, const grec *r)
{
    if (!(r->flags & 1))
        return PS_NONE;
    for (int i = 0; i < g->nfr; i++)
        if (g->fr[i].type == TT_FRAME_PAYLOAD && g->fr[i].seq == r->seq && g->fr[i].off >= r->payload_offset &&
            (g->fr[i].damage || !present(g, i)))
            return PS_DAMAGED;
    return r->bad_hash || r->bad_data ? PS_DAMAGED : PS_OK;
}

/* By FORMAT.md section 8: the footer's batch index, frame index and metadata. */
static void emit_by_footer(cj *j, const gen *g)
{
    if (!g->footer_ok) {
        cj_begin_obj(j, "by_footer");
        cj_str(j, "error", g->footer_error);
        cj_end_obj(j);
        return;
    }
    cj_begin_obj(j, "by_footer");
    cj_begin_obj(j, "format");
    cj_u64(j, "major", g->major);
    cj_u64(j, "minor", g->minor);
    cj_end_obj(j);
    emit_meta(j, &g->footer_meta);
    cj_counters(j, "counters", &g->footer_counters);
    cj_begin_arr(j, "strings");
    for (int i = 0; i < g->nstrs; i++)
        cj_str(j, NULL, g->strs[i]);
    cj_end_arr(j);
    cj_begin_arr(j, "batches");
    uint64_t total = 0;
    for (int b = 0; b < g->nbat; b++) {
        cj_begin_obj(j, NULL);
        cj_u64(j, "offset", g->fr[g->bat[b].frame].off);
        cj_u64(j, "first_record", (uint64_t)g->bat[b].rec0);
        cj_u64(j, "record_count", (uint64_t)g->bat[b].count);
        if (g->footer_ranges && g->bat[b].count) {
            int32_t r6[6];
            uint64_t a, z;
            ranges(g, &g->bat[b], r6, &a, &z);
            cj_ranges(j, r6);
        } else {
            cj_null(j, "ranges");
        }
        cj_end_obj(j);
        total += (uint64_t)g->bat[b].count;
    }
    cj_end_arr(j);
    cj_u64(j, "record_count", total);
    cj_begin_inline(j, "lost");
    cj_end_arr(j);
    cj_begin_arr(j, "records");
    for (int b = 0; b < g->nbat; b++) {
        const gbatch *bt = &g->bat[b];
        int readable = !g->fr[bt->frame].damage;
        for (int i = 0; i < bt->count; i++) {
            const grec *r = &g->rec[bt->rec0 + i];
            if (!readable) {
                cj_begin_obj(j, NULL);
                cj_u64(j, "index", (uint64_t)(bt->rec0 + i));
                cj_str(j, "unreadable", "corrupt");
                cj_end_obj(j);
                continue;
            }
            emit_record(j, r, (uint64_t)(bt->rec0 + i), payload_state_direct(g, r));
        }
    }
    cj_end_arr(j);
    cj_end_obj(j);
}

/* By FORMAT.md section 9: the frames a scan finds. */
static void emit_by_scan(cj *j, const gen *g)
{
    uint64_t damaged = 0;
    int seen[MAXF] = {0}; /* 1: whole and used; PAYLOAD frames: indexed */
    int last_meta = -1, last_counters = -1;
    for (int i = 0; i < g->nfr; i++) {
        const gframe *f = &g->fr[i];
        if (!present(g, i)) {
            /* cut inside this frame: the scan ends, unless not even its header is there */
            break;
        }
        if (f->type == FR_GARBAGE || f->damage == DMG_HEADER) {
            damaged++;
            continue;
        }
        if ((f->type == TT_FRAME_BATCH || f->type == TT_FRAME_META) && f->damage == DMG_PAYLOAD) {
            damaged++;
            continue;
        }
        seen[i] = 1;
        if (f->type == TT_FRAME_META)
            last_meta = f->meta;
        if (f->type == TT_FRAME_BATCH && g->bat[f->batch].has_counters)
            last_counters = f->batch;
    }
    cj_begin_obj(j, "by_scan");
    cj_begin_obj(j, "format");
    cj_u64(j, "major", g->major);
    cj_u64(j, "minor", g->minor);
    cj_end_obj(j);
    emit_meta(j, last_meta >= 0 ? &g->metas[last_meta] : NULL);
    if (last_counters >= 0)
        cj_counters(j, "counters", &g->bat[last_counters].counters);
    else
        cj_null(j, "counters");
    cj_u64(j, "damaged_frames", damaged);
    uint64_t n = 0;
    cj_begin_arr(j, "batches");
    for (int i = 0; i < g->nfr; i++) {
        if (!seen[i] || g->fr[i].type != TT_FRAME_BATCH)
            continue;
        const gbatch *b = &g->bat[g->fr[i].batch];
        cj_begin_obj(j, NULL);
        cj_u64(j, "offset", g->fr[i].off);
        cj_u64(j, "first_record", n);
        cj_u64(j, "record_count", (uint64_t)b->count);
        int32_t r6[6];
        uint64_t a, z;
        ranges(g, b, r6, &a, &z);
        if (b->count)
            cj_ranges(j, r6);
        else
            cj_null(j, "ranges");
        cj_end_obj(j);
        n += (uint64_t)b->count;
    }
    cj_end_arr(j);
    cj_u64(j, "record_count", n);
    /* the payload frames the scan indexed, in file order */
    int pf[MAXF], npf = 0;
    for (int i = 0; i < g->nfr; i++)
        if (seen[i] && g->fr[i].type == TT_FRAME_PAYLOAD)
            pf[npf++] = i;
    int state[MAXR];
    uint64_t index_of[MAXR];
    n = 0;
    for (int i = 0; i < g->nfr; i++) {
        if (!seen[i] || g->fr[i].type != TT_FRAME_BATCH)
            continue;
        const gbatch *b = &g->bat[g->fr[i].batch];
        for (int k = 0; k < b->count; k++) {
            const grec *r = &g->rec[b->rec0 + k];
            index_of[b->rec0 + k] = n++;
            state[b->rec0 + k] = PS_NONE;
            if (!(r->flags & 1))
                continue;
            /* chunk c is the c-th indexed PAYLOAD frame from payload_offset, with the record's seq and aux = c */
            int p = 0;
            while (p < npf && g->fr[pf[p]].off != r->payload_offset)
                p++;
            int whole = r->payload_frames == 0 || (p < npf && npf - p >= (int)r->payload_frames);
            for (uint32_t c = 0; whole && c < r->payload_frames; c++)
                whole = g->fr[pf[p + (int)c]].seq == r->seq && g->fr[pf[p + (int)c]].aux == c;
            state[b->rec0 + k] = whole ? payload_state_direct(g, r) : PS_LOST;
        }
    }
    cj_begin_inline(j, "lost");
    for (int i = 0; i < g->nfr; i++) {
        if (!seen[i] || g->fr[i].type != TT_FRAME_BATCH)
            continue;
        const gbatch *b = &g->bat[g->fr[i].batch];
        for (int k = 0; k < b->count; k++)
            if (state[b->rec0 + k] == PS_LOST)
                cj_u64(j, NULL, index_of[b->rec0 + k]);
    }
    cj_end_arr(j);
    cj_begin_arr(j, "records");
    for (int i = 0; i < g->nfr; i++) {
        if (!seen[i] || g->fr[i].type != TT_FRAME_BATCH)
            continue;
        const gbatch *b = &g->bat[g->fr[i].batch];
        for (int k = 0; k < b->count; k++)
            emit_record(j, &g->rec[b->rec0 + k], index_of[b->rec0 + k], state[b->rec0 + k]);
    }
    cj_end_arr(j);
    cj_end_obj(j);
}

/* ---- the cases -------------------------------------------------------------------------------------------- */

static void describe(gen *g, const char *description) { g->description = description; }
static void exercises(gen *g, const char *what)
{
    if (g->nex < 12)
        g->exercises[g->nex++] = what;
}

static const uint64_t S1[1] = {4}, S2[2] = {2, 3}, S0[1] = {0}, BIG[2] = {3, 1500}; /* BIG: 18000 bytes of F32 */

/* Three records, two batches, one META frame: the common case the reference writer produces. */
static void base(gen *g)
{
    header(g, 1, 0, 0, 0, 32);
    meta1(g, "engine", "corpus");
    grec *a = rec_new(g, "attn_out", TT_F32, 2, S2);
    rec_stats(a, -1.5, 2.25);
    tensor(g, a);
    grec *b = rec_new(g, "mlp_out", TT_BF16, 1, S1);
    tensor(g, b);
    batch(g, 0, 2, (bopt){0});
    grec *c = rec_new(g, "logits", TT_F32, 2, BIG);
    c->phase = "decode0";
    c->step = 1;
    tensor(g, c);
    batch(g, 2, 1, (bopt){0});
}

static void c_minimal(gen *g)
{
    describe(g, "Three records in two batches, one META frame, closed: what the reference writer writes.");
    exercises(g, "basic");
    base(g);
    footer(g);
}

static void c_every_dtype(gen *g)
{
    describe(g, "One record of each stored dtype (F32 .. F8_E5M2FNUZ) with its tensor, and a metadata-only record "
                "of dtype UNKNOWN whose nbytes is 0 whatever its shape.");
    exercises(g, "every dtype");
    exercises(g, "dtype UNKNOWN");
    exercises(g, "metadata-only records");
    header(g, 1, 0, 0, 0, 32);
    meta1(g, "engine", "corpus");
    static const uint64_t sh[2] = {3, 5};
    for (uint8_t dt = 1; dt < TT_DTYPE_COUNT; dt++) {
        grec *r = rec_new(g, cj_dtype_names[dt], dt, 2, sh);
        tensor(g, r);
    }
    grec *u = rec_new(g, "unknown_type", TT_DTYPE_UNKNOWN, 2, sh);
    u->flags = 2 | 4;
    u->hash = 0x0123456789abcdefull;
    rec_stats(u, -3, 5);
    u->nan_count = 2, u->inf_count = 1;
    batch(g, 0, g->nrec, (bopt){0});
    footer(g);
}

static void c_rank0_empty(gen *g)
{
    describe(g, "A rank-0 tensor (one element), a tensor of shape [0] and one of shape [3, 0, 2]: stored tensors "
                "of 0 bytes have no PAYLOAD frame and payload_offset 0.");
    exercises(g, "rank-0 tensors");
    exercises(g, "empty tensors");
    header(g, 1, 0, 0, 0, 32);
    grec *a = rec_new(g, "scalar", TT_F64, 0, NULL);
    tensor(g, a);
    grec *b = rec_new(g, "empty", TT_F32, 1, S0);
    tensor(g, b);
    static const uint64_t e3[3] = {3, 0, 2};
    grec *c = rec_new(g, "empty3", TT_I8, 3, e3);
    tensor(g, c);
    batch(g, 0, 3, (bopt){0});
    footer(g);
}

static void c_multi_chunk(gen *g)
{
    describe(g, "Tensors of 5 and 3 chunks (chunk_bytes 4096), the last chunk shorter, chunks mixing zstd and "
                "stored, shuffled and not.");
    exercises(g, "multi-chunk tensors");
    exercises(g, "stored (RAW) payloads");
    header(g, 1, 0, 0, 0, 32);
    grec *a = rec_new(g, "big", TT_F32, 2, BIG);
    popt mix[5] = {POPT_DEFAULT, {TT_CODEC_RAW, 0, 0, 0}, {TT_CODEC_RAW, 4, 0, 0}, {-1, 0, 0, 0}, POPT_DEFAULT};
    tensor_chunks(g, a, mix, 1);
    static const uint64_t s9[1] = {9000};
    grec *b = rec_new(g, "bytes", TT_U8, 1, s9);
    tensor_chunks(g, b, mix, 1);
    batch(g, 0, 2, (bopt){0});
    footer(g);
}

static void c_odd_shuffle(gen *g)
{
    describe(g, "Payloads shuffled with element sizes that are not the dtype's (3, 5, 7, 16, and 2 over an odd "
                "byte count), so the n mod s trailing bytes are kept unshuffled; one stored shuffled without zstd.");
    exercises(g, "odd shuffle sizes");
    header(g, 1, 0, 0, 0, 32);
    static const int sizes[5] = {3, 5, 7, 16, 2};
    static const uint64_t s101[1] = {101};
    for (int i = 0; i < 5; i++) {
        grec *r = rec_new(g, "shuffled", TT_U8, 1, s101);
        popt o = {TT_CODEC_ZSTD, sizes[i], 0, 0};
        tensor_chunks(g, r, &o, 0);
    }
    grec *r = rec_new(g, "shuffled_raw", TT_U8, 1, s101);
    popt o = {TT_CODEC_RAW, 3, 0, 0};
    tensor_chunks(g, r, &o, 0);
    batch(g, 0, g->nrec, (bopt){0});
    footer(g);
}

static void c_zstd_variants(gen *g)
{
    describe(g, "zstd payloads with a content checksum, without the content size, and with both; a BATCH frame "
                "stored without zstd.");
    exercises(g, "zstd checksum");
    exercises(g, "zstd without content size");
    exercises(g, "stored (RAW) BATCH frame");
    header(g, 1, 0, 0, 0, 32);
    static const popt v[3] = {{TT_CODEC_ZSTD, -1, 1, 0}, {TT_CODEC_ZSTD, -1, 0, 1}, {TT_CODEC_ZSTD, -1, 1, 1}};
    for (int i = 0; i < 3; i++) {
        grec *r = rec_new(g, "z", TT_F16, 2, BIG);
        popt o[3] = {v[i], v[i], v[i]};
        tensor_chunks(g, r, o, 0);
    }
    batch(g, 0, 3, (bopt){.raw = 1});
    footer(g);
}

static void c_absent_columns(gen *g)
{
    describe(g, "Batches built by other tools: one without time_ns, prompt_id, phase, the int key columns, stats "
                "and counters (absent strings are 'not given', absent ints -1); one with only seq, point and flags "
                "(metadata-only records); and an empty batch with no columns at all.");
    exercises(g, "absent columns");
    exercises(g, "empty batch");
    header(g, 1, 0, 0, 0, 32);
    grec *a = rec_new(g, "attn_out", TT_F32, 2, S2);
    tensor(g, a);
    grec *b = rec_new(g, "mlp_out", TT_F32, 1, S1);
    tensor(g, b);
    bopt o = {0};
    o.absent = COL(RB_TIME_NS) | COL(RB_PROMPT_ID) | COL(RB_PHASE) | COL(RB_LAYER) | COL(RB_STEP) |
               COL(RB_TOKEN_ID) | COL(RB_LOGICAL_TOK_IDX) | COL(RB_POS_ID) | COL(RB_ROWS) | COL(RB_RANK) |
               COL(RB_STAT_MIN) | COL(RB_STAT_MAX) | COL(RB_STAT_MEAN) | COL(RB_STAT_ABSMAX) | COL(RB_STAT_L2) |
               COL(RB_NAN_COUNT) | COL(RB_INF_COUNT);
    o.no_counters = 1;
    batch(g, 0, 2, o);
    grec *c = rec_new(g, "norm", TT_DTYPE_UNKNOWN, 0, NULL);
    c->flags = 0;
    grec *d = rec_new(g, "norm", TT_DTYPE_UNKNOWN, 0, NULL);
    d->flags = 0;
    bopt m = {0};
    m.absent = ~(COL(RB_SEQ) | COL(RB_POINT) | COL(RB_FLAGS));
    batch(g, 2, 2, m);
    bopt e = {0};
    e.absent = ~(uint64_t)0;
    e.no_counters = 1;
    batch(g, 4, 0, e);
    footer(g);
}

static void c_not_given(gen *g)
{
    describe(g, "Keys not given: prompt_id and phase stored as the empty string, int keys -1, rows below 1 "
                "(counted as 1 in pos ranges) and pos_id + rows past INT32_MAX (pos_max saturates).");
    exercises(g, "keys not given");
    exercises(g, "batch key ranges");
    header(g, 1, 0, 0, 0, 32);
    grec *a = rec_new(g, "x", TT_F32, 1, S1);
    a->prompt_id = "", a->phase = "";
    a->layer = a->step = a->token_id = a->logical_tok_idx = a->pos_id = a->rows = -1;
    tensor(g, a);
    grec *b = rec_new(g, "y", TT_F32, 1, S1);
    b->pos_id = 10, b->rows = -5, b->layer = 7;
    tensor(g, b);
    grec *c = rec_new(g, "z", TT_F32, 1, S1);
    c->pos_id = INT32_MAX - 2, c->rows = 100, c->step = 3;
    tensor(g, c);
    batch(g, 0, 3, (bopt){0});
    grec *d = rec_new(g, "w", TT_F32, 1, S1);
    d->pos_id = -1, d->rows = 4;
    tensor(g, d);
    batch(g, 3, 1, (bopt){0});
    footer(g);
}

static void c_several_meta(gen *g)
{
    describe(g, "Three META frames as metadata changes during capture; the last holds the complete set and equals "
                "the footer's.");
    exercises(g, "several META frames");
    header(g, 1, 0, 0, 0, 32);
    meta1(g, "engine", "corpus");
    grec *a = rec_new(g, "a", TT_F32, 1, S1);
    tensor(g, a);
    batch(g, 0, 1, (bopt){0});
    gmeta m2 = {2, {"engine", "model"}, {"corpus", "tiny"}};
    meta(g, &m2, 0);
    grec *b = rec_new(g, "b", TT_F32, 1, S1);
    tensor(g, b);
    batch(g, 1, 1, (bopt){0});
    gmeta m3 = {3, {"engine", "model", "device"}, {"corpus-2", "tiny", "cpu"}};
    meta(g, &m3, 0);
    footer(g);
}

static void c_unknown_frames(gen *g)
{
    describe(g, "Frames of types 5, 9 and 200 (unknown to version 1.0) between the records' frames, zstd and "
                "stored; readers skip them by stored_size.");
    exercises(g, "unknown frame types");
    header(g, 1, 0, 0, 0, 32);
    unknown_frame(g, 9, 300, 0);
    meta1(g, "engine", "corpus");
    grec *a = rec_new(g, "a", TT_F32, 2, BIG);
    tensor(g, a);
    unknown_frame(g, 200, 50, 1);
    grec *b = rec_new(g, "b", TT_F32, 1, S1);
    tensor(g, b);
    batch(g, 0, 2, (bopt){0});
    unknown_frame(g, 5, 0, 1);
    footer(g);
}

static void c_unknown_fields(gen *g)
{
    describe(g, "Fields appended by a newer minor version in every table (RecordBatch, Counters, Meta, KeyValue, "
                "Footer, BatchIndex, FrameIndex); readers ignore them. The file says format 1.7.");
    exercises(g, "unknown table fields");
    exercises(g, "minor version > 0");
    header(g, 1, 7, 0, 0, 32);
    gmeta m = {2, {"engine", "note"}, {"corpus", "from the future"}};
    meta(g, &m, 1);
    grec *a = rec_new(g, "a", TT_BF16, 2, S2);
    rec_stats(a, 0.5, 1);
    tensor(g, a);
    batch(g, 0, 1, (bopt){.unknown = 1});
    fopt o = {0};
    o.unknown = 1;
    footer_and_trailer(g, o);
}

static void c_header_bits(gen *g)
{
    describe(g, "A file header with every flag bit and the reserved field set (readers ignore both) and minor "
                "version 65535; a footer without key ranges (readers then skip no batch).");
    exercises(g, "non-zero header flags and reserved");
    exercises(g, "minor version > 0");
    exercises(g, "footer without key ranges");
    header(g, 1, 65535, 0xffffffffu, 0xdeadbeefu, 32);
    grec *a = rec_new(g, "a", TT_I32, 1, S1);
    tensor(g, a);
    batch(g, 0, 1, (bopt){0});
    fopt o = {0};
    o.no_ranges = 1;
    footer_and_trailer(g, o);
}

static void c_empty_file(gen *g)
{
    describe(g, "A closed file with no record: header, footer, trailer.");
    exercises(g, "no records");
    header(g, 1, 0, 0, 0, 32);
    footer(g);
}

/* ---- damaged ---- */

static void c_no_trailer(gen *g)
{
    describe(g, "The writer stopped after its last BATCH frame: no footer, no trailer. Everything is recovered.");
    exercises(g, "missing footer");
    base(g);
    g->footer_ok = 0, g->footer_error = "no_footer";
}

static void c_cut_in_payload(gen *g)
{
    describe(g, "Cut in the middle of a PAYLOAD frame whose record's BATCH was never written: the first batch is "
                "recovered, the cut frame ignored.");
    exercises(g, "truncation");
    base(g);
    cut(g, g->fr[g->bat[1].frame].off - 100);
}

static void c_cut_in_batch(gen *g)
{
    describe(g, "Cut in the middle of the second BATCH frame: its record is gone, the first batch is recovered.");
    exercises(g, "truncation");
    base(g);
    cut(g, g->fr[g->bat[1].frame].off + 60);
}

static void c_cut_in_header(gen *g)
{
    describe(g, "Cut 20 bytes into a frame header (fewer than 56 bytes left): the scan ends there.");
    exercises(g, "truncation");
    base(g);
    footer(g);
    cut(g, g->fr[g->footer_frame].off + 20);
}

static void c_cut_in_footer(gen *g)
{
    describe(g, "Cut inside the FOOTER frame: no trailer; all batches are recovered.");
    exercises(g, "truncation");
    base(g);
    footer(g);
    cut(g, g->fr[g->footer_frame].off + 70);
}

static void c_cut_trailer(gen *g)
{
    describe(g, "The last 5 bytes of the trailer are missing.");
    exercises(g, "truncation");
    exercises(g, "bad trailer");
    base(g);
    footer(g);
    cut(g, g->len - 5);
}

static void c_trailer_checksum(gen *g)
{
    describe(g, "The trailer's checksum does not match: the footer is not used, the file is recovered.");
    exercises(g, "bad trailer");
    base(g);
    footer(g);
    flip(g, g->len - TT_TRAILER_SIZE + 3);
    g->footer_ok = 0, g->footer_error = "corrupt";
}

static void c_trailer_offset(gen *g)
{
    describe(g, "A trailer with a valid checksum whose footer_offset does not end where the trailer begins.");
    exercises(g, "bad trailer");
    base(g);
    footer(g);
    tt_trailer t = {g->fr[g->footer_frame].off - 8, g->fr[g->footer_frame].size};
    tt_trailer_encode(&t, g->buf + g->len - TT_TRAILER_SIZE);
    g->footer_ok = 0, g->footer_error = "corrupt";
}

static void c_footer_header(gen *g)
{
    describe(g, "The FOOTER frame's header is damaged: the footer is unusable, the scan counts it as damaged.");
    exercises(g, "damaged FOOTER frame");
    base(g);
    footer(g);
    damage_header(g, g->footer_frame);
}

static void c_footer_payload(gen *g)
{
    describe(g, "The FOOTER frame's payload is damaged (its header is intact): the footer is unusable; a scan "
                "skips FOOTER frames without reading them.");
    exercises(g, "damaged FOOTER frame");
    base(g);
    footer(g);
    damage_payload(g, g->footer_frame);
}

static void c_footer_version(gen *g)
{
    describe(g, "The footer says format 1.3 while the file header says 1.0: the header's version is the file's, "
                "the footer is not used.");
    exercises(g, "footer version differs");
    base(g);
    fopt o = {0};
    o.major = 1, o.minor = 3;
    footer_and_trailer(g, o);
}

static void c_batch_payload(gen *g)
{
    describe(g, "The first BATCH frame's payload is damaged under an intact footer: by the footer its records are "
                "unreadable and the others read; a scan skips the frame and renumbers the records after it.");
    exercises(g, "damaged BATCH frame");
    exercises(g, "damaged BATCH under an intact footer");
    base(g);
    footer(g);
    damage_payload(g, g->bat[0].frame);
}

static void c_batch_header(gen *g)
{
    describe(g, "The second BATCH frame's header is damaged and the file has no footer: the scan resynchronises "
                "and loses that batch.");
    exercises(g, "damaged BATCH frame");
    base(g);
    damage_header(g, g->bat[1].frame);
    g->footer_ok = 0, g->footer_error = "no_footer";
}

static void c_payload_header(gen *g)
{
    describe(g, "A PAYLOAD frame's header is damaged: by the footer the record's tensor fails to read; a scan does "
                "not find the chunk and reports the record lost.");
    exercises(g, "damaged PAYLOAD frame");
    exercises(g, "lost records");
    base(g);
    footer(g);
    for (int i = 0; i < g->nfr; i++)
        if (g->fr[i].type == TT_FRAME_PAYLOAD && g->fr[i].seq == 2 && g->fr[i].aux == 1) {
            damage_header(g, i);
            break;
        }
}

static void c_payload_data(gen *g)
{
    describe(g, "A PAYLOAD frame's stored bytes are damaged (header intact): the record is not lost but reading "
                "its tensor fails the payload checksum, in both ways of opening.");
    exercises(g, "damaged PAYLOAD frame");
    base(g);
    footer(g);
    for (int i = 0; i < g->nfr; i++)
        if (g->fr[i].type == TT_FRAME_PAYLOAD && g->fr[i].seq == 1) {
            damage_payload(g, i);
            break;
        }
}

static void c_meta_damaged(gen *g)
{
    describe(g, "The second of two META frames is damaged and the file has no footer: the metadata is that of the "
                "last good META frame.");
    exercises(g, "damaged META frame");
    header(g, 1, 0, 0, 0, 32);
    meta1(g, "engine", "first");
    grec *a = rec_new(g, "a", TT_F32, 1, S1);
    tensor(g, a);
    batch(g, 0, 1, (bopt){0});
    gmeta m = {2, {"engine", "model"}, {"second", "tiny"}};
    meta(g, &m, 0);
    grec *b = rec_new(g, "b", TT_F32, 1, S1);
    tensor(g, b);
    batch(g, 1, 1, (bopt){0});
    damage_payload(g, last_frame(g, TT_FRAME_META));
    g->footer_ok = 0, g->footer_error = "no_footer";
}

static void c_unknown_damaged(gen *g)
{
    describe(g, "A frame of unknown type with a damaged header, then one with a damaged payload (not read, so not "
                "counted), and 40 bytes of garbage between frames: the scan resynchronises each time.");
    exercises(g, "damaged unknown frame");
    exercises(g, "garbage between frames");
    header(g, 1, 0, 0, 0, 32);
    grec *a = rec_new(g, "a", TT_F32, 1, S1);
    tensor(g, a);
    unknown_frame(g, 9, 200, 0);
    damage_header(g, g->nfr - 1);
    batch(g, 0, 1, (bopt){0});
    unknown_frame(g, 9, 200, 1);
    damage_payload(g, g->nfr - 1);
    garbage(g, 40);
    grec *b = rec_new(g, "b", TT_F32, 1, S1);
    tensor(g, b);
    batch(g, 1, 1, (bopt){0});
    g->footer_ok = 0, g->footer_error = "no_footer";
}

static void c_hash_mismatch(gen *g)
{
    describe(g, "A record whose hash column does not match its tensor (all checksums valid): reading the tensor "
                "must fail.");
    exercises(g, "content hash mismatch");
    header(g, 1, 0, 0, 0, 32);
    grec *a = rec_new(g, "a", TT_F32, 2, S2);
    a->bad_hash = 1;
    tensor(g, a);
    batch(g, 0, 1, (bopt){0});
    footer(g);
}

/* One chunk whose stored bytes, under valid frame checksums, are not one good zstd frame: two frames (zstd would
 * inflate both) or one whose zstd content checksum fails. */
static void bad_zstd_chunk(gen *g, grec *r, int two_frames)
{
    r->data = content(g, r->dtype, r->nbytes);
    r->flags |= 1 | 2;
    r->hash = tt_hash64(r->data, (size_t)r->nbytes);
    r->bad_data = 1;
    size_t n = (size_t)r->nbytes, cap = 2 * ZSTD_compressBound(n);
    uint8_t *z = malloc(cap);
    if (!z)
        die("out of memory");
    ZSTD_CCtx_reset(g->z, ZSTD_reset_session_and_parameters);
    ZSTD_CCtx_setParameter(g->z, ZSTD_c_checksumFlag, !two_frames);
    size_t a = ZSTD_compress2(g->z, z, cap, r->data, two_frames ? n / 2 : n), b = 0;
    if (two_frames)
        b = ZSTD_compress2(g->z, z + a, cap - a, r->data + n / 2, n - n / 2);
    if (ZSTD_isError(a) || ZSTD_isError(b))
        die("zstd");
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
    add_frame(g, &h, z);
    r->payload_stored = a + b;
    g->ct.payload_frames++;
    g->ct.bytes_stored += a + b;
    g->ct.bytes_raw += n;
    free(z);
}

static void c_two_zstd_frames(gen *g)
{
    describe(g, "A payload whose stored bytes are two zstd frames that together inflate to raw_size: not exactly "
                "one frame, so the record is damaged (frame checksums are valid).");
    exercises(g, "zstd payload not one frame");
    header(g, 1, 0, 0, 0, 32);
    grec *a = rec_new(g, "a", TT_F32, 2, S2);
    bad_zstd_chunk(g, a, 1);
    batch(g, 0, 1, (bopt){0});
    footer(g);
}

static void c_zstd_checksum_bad(gen *g)
{
    describe(g, "A zstd payload whose zstd content checksum fails (the frame's payload checksum is valid): the "
                "record is damaged.");
    exercises(g, "zstd checksum");
    exercises(g, "damaged PAYLOAD frame");
    header(g, 1, 0, 0, 0, 32);
    grec *a = rec_new(g, "a", TT_F32, 2, S2);
    bad_zstd_chunk(g, a, 0);
    batch(g, 0, 1, (bopt){0});
    footer(g);
}

static void c_unknown_dtype_payload(gen *g)
{
    describe(g, "A batch with a record of dtype UNKNOWN whose flags say its content is stored: the batch is "
                "damaged (unreadable by the footer, skipped by a scan), the other batch reads.");
    exercises(g, "dtype UNKNOWN");
    exercises(g, "damaged BATCH under an intact footer");
    header(g, 1, 0, 0, 0, 32);
    grec *a = rec_new(g, "a", TT_F32, 1, S1);
    tensor(g, a);
    batch(g, 0, 1, (bopt){0});
    grec *b = rec_new(g, "b", TT_DTYPE_UNKNOWN, 1, S1);
    b->flags = 1;
    batch(g, 1, 1, (bopt){0});
    g->fr[g->bat[1].frame].damage = DMG_PAYLOAD; /* well formed, but breaks a rule of section 4 */
    footer(g);
}

static void c_chunk_order(gen *g)
{
    describe(g, "A two-chunk tensor written chunk 1 first: the first PAYLOAD frame at payload_offset has aux 1, "
                "not 0. By the footer the tensor fails to read; a scan reports the record lost.");
    exercises(g, "chunk checks");
    exercises(g, "lost records");
    header(g, 1, 0, 0, 0, 32);
    static const uint64_t s2k[1] = {1500};
    grec *a = rec_new(g, "a", TT_F32, 1, s2k);
    a->data = content(g, a->dtype, a->nbytes);
    a->flags |= 1 | 2;
    a->hash = tt_hash64(a->data, (size_t)a->nbytes);
    a->payload_frames = 2;
    a->payload_offset = g->len;
    a->bad_data = 1;
    popt o = POPT_DEFAULT;
    o.esize = 4;
    for (int k = 1; k >= 0; k--) {
        uint64_t at = (uint64_t)k * CHUNK, n = k ? a->nbytes - CHUNK : CHUNK;
        int fi = frame(g, TT_FRAME_PAYLOAD, (uint32_t)k, a->seq, a->data + at, (size_t)n, o);
        a->payload_stored += g->fr[fi].size - TT_FRAME_HEADER_SIZE;
    }
    batch(g, 0, 1, (bopt){0});
    footer(g);
}

static void c_header_only(gen *g)
{
    describe(g, "A file header and nothing else (the writer was killed at once): no records.");
    exercises(g, "missing footer");
    header(g, 1, 0, 0, 0, 32);
    g->footer_ok = 0, g->footer_error = "no_footer";
}

/* ---- refused ---- */

static void refuse(gen *g, const char *cls) { g->refused = cls; }

static void c_bad_magic(gen *g)
{
    describe(g, "A closed file whose magic's first byte is 0x89 turned into 0x50.");
    exercises(g, "bad magic");
    base(g);
    footer(g);
    g->buf[0] = 0x50;
    refuse(g, "not_tensortrace");
}

static void c_empty(gen *g)
{
    describe(g, "An empty file.");
    exercises(g, "bad magic");
    g->len = 0;
    refuse(g, "not_tensortrace");
}

static void c_short_header(gen *g)
{
    describe(g, "The first 20 bytes of a file header.");
    exercises(g, "truncation");
    header(g, 1, 0, 0, 0, 32);
    g->len = 20;
    refuse(g, "truncated");
}

static void c_header_checksum(gen *g)
{
    describe(g, "The file header's checksum does not match (minor version changed after it was computed).");
    exercises(g, "bad header fields");
    base(g);
    footer(g);
    g->buf[10] ^= 1;
    refuse(g, "corrupt");
}

static void c_header_size(gen *g)
{
    describe(g, "header_size 64 in an otherwise valid header: version 1 defines only 32.");
    exercises(g, "bad header fields");
    header(g, 1, 0, 0, 0, 64);
    grec *a = rec_new(g, "a", TT_F32, 1, S1);
    tensor(g, a);
    batch(g, 0, 1, (bopt){0});
    footer(g);
    refuse(g, "corrupt");
}

static void c_major_zero(gen *g)
{
    describe(g, "Format major version 0, which never existed.");
    exercises(g, "bad header fields");
    header(g, 0, 9, 0, 0, 32);
    refuse(g, "corrupt");
}

static void c_major_newer(gen *g)
{
    describe(g, "Format major version 2: newer than a version-1 reader, which must refuse it by name.");
    exercises(g, "newer major version");
    header(g, 2, 0, 0, 0, 32);
    grec *a = rec_new(g, "a", TT_F32, 1, S1);
    tensor(g, a);
    batch(g, 0, 1, (bopt){0});
    footer(g);
    refuse(g, "version");
}

typedef struct gcase {
    const char *cls, *name;
    void (*fn)(gen *);
} gcase;

static const gcase cases[] = {
    {"valid", "minimal", c_minimal},
    {"valid", "every_dtype", c_every_dtype},
    {"valid", "rank0_and_empty", c_rank0_empty},
    {"valid", "multi_chunk", c_multi_chunk},
    {"valid", "odd_shuffle", c_odd_shuffle},
    {"valid", "zstd_variants", c_zstd_variants},
    {"valid", "absent_columns", c_absent_columns},
    {"valid", "keys_not_given", c_not_given},
    {"valid", "several_meta", c_several_meta},
    {"valid", "unknown_frames", c_unknown_frames},
    {"valid", "unknown_fields", c_unknown_fields},
    {"valid", "header_flags", c_header_bits},
    {"valid", "no_records", c_empty_file},
    {"damaged", "no_trailer", c_no_trailer},
    {"damaged", "header_only", c_header_only},
    {"damaged", "cut_in_payload", c_cut_in_payload},
    {"damaged", "cut_in_batch", c_cut_in_batch},
    {"damaged", "cut_in_frame_header", c_cut_in_header},
    {"damaged", "cut_in_footer", c_cut_in_footer},
    {"damaged", "cut_trailer", c_cut_trailer},
    {"damaged", "trailer_checksum", c_trailer_checksum},
    {"damaged", "trailer_offset", c_trailer_offset},
    {"damaged", "footer_header", c_footer_header},
    {"damaged", "footer_payload", c_footer_payload},
    {"damaged", "footer_version", c_footer_version},
    {"damaged", "batch_payload_under_footer", c_batch_payload},
    {"damaged", "batch_header", c_batch_header},
    {"damaged", "payload_header", c_payload_header},
    {"damaged", "payload_data", c_payload_data},
    {"damaged", "meta_damaged", c_meta_damaged},
    {"damaged", "unknown_frame_damaged", c_unknown_damaged},
    {"damaged", "hash_mismatch", c_hash_mismatch},
    {"damaged", "two_zstd_frames", c_two_zstd_frames},
    {"damaged", "zstd_checksum_bad", c_zstd_checksum_bad},
    {"damaged", "unknown_dtype_payload", c_unknown_dtype_payload},
    {"damaged", "chunk_order", c_chunk_order},
    {"refused", "bad_magic", c_bad_magic},
    {"refused", "empty", c_empty},
    {"refused", "short_header", c_short_header},
    {"refused", "header_checksum", c_header_checksum},
    {"refused", "header_size", c_header_size},
    {"refused", "major_zero", c_major_zero},
    {"refused", "major_newer", c_major_newer},
};

/* ---- output ----------------------------------------------------------------------------------------------- */

static FILE *open_out(const char *dir, const char *cls, const char *name, const char *ext, const char *mode)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s%s%s%s", dir, cls, cls[0] ? "/" : "", name, ext);
    FILE *f = fopen(path, mode);
    if (!f) {
        fprintf(stderr, "gen_corpus: cannot write %s: %s\n", path, strerror(errno));
        exit(3);
    }
    return f;
}

static void write_case(const char *dir, const gcase *c, gen *g)
{
    FILE *f = open_out(dir, c->cls, c->name, ".tt", "wb");
    if (g->len && fwrite(g->buf, 1, g->len, f) != g->len)
        die("write failed");
    if (fclose(f) != 0)
        die("write failed");
    f = open_out(dir, c->cls, c->name, ".json", "w");
    cj j;
    cj_init(&j, f);
    cj_begin_obj(&j, NULL);
    cj_u64(&j, "corpus_version", CORPUS_VERSION);
    cj_str(&j, "class", c->cls);
    char file[256];
    snprintf(file, sizeof file, "%s.tt", c->name);
    cj_str(&j, "file", file);
    cj_u64(&j, "file_size", g->len);
    cj_str(&j, "description", g->description);
    cj_begin_inline(&j, "exercises");
    for (int i = 0; i < g->nex; i++)
        cj_str(&j, NULL, g->exercises[i]);
    cj_end_arr(&j);
    if (g->refused) {
        cj_str(&j, "error", g->refused);
    } else {
        emit_by_footer(&j, g);
        emit_by_scan(&j, g);
    }
    cj_end_obj(&j);
    if (fclose(f) != 0)
        die("write failed");
}

static void make_dir(const char *dir, const char *sub)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, sub);
    if (mkdir(path, 0777) != 0 && errno != EEXIST) {
        fprintf(stderr, "gen_corpus: cannot create %s: %s\n", path, strerror(errno));
        exit(3);
    }
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: gen_corpus OUTDIR\n");
        return 2;
    }
    const char *dir = argv[1];
    make_dir(dir, ".");
    make_dir(dir, "valid");
    make_dir(dir, "damaged");
    make_dir(dir, "refused");
    size_t ncases = sizeof cases / sizeof cases[0];
    for (size_t i = 0; i < ncases; i++) {
        gen g;
        memset(&g, 0, sizeof g);
        g.rng = tt_hash64(cases[i].name, strlen(cases[i].name)); /* by name: adding a case changes no other */
        g.footer_frame = -1;
        g.footer_error = "no_footer";
        fb_builder_init(&g.fb);
        if (!(g.z = ZSTD_createCCtx()))
            die("out of memory");
        cases[i].fn(&g);
        write_case(dir, &cases[i], &g);
        for (int k = 0; k < g.nrec; k++)
            free(g.rec[k].data);
        free(g.buf);
        fb_builder_free(&g.fb);
        ZSTD_freeCCtx(g.z);
    }
    FILE *f = open_out(dir, "", "manifest", ".json", "w");
    cj j;
    cj_init(&j, f);
    cj_begin_obj(&j, NULL);
    cj_u64(&j, "corpus_version", CORPUS_VERSION);
    cj_u64(&j, "format_major", TT_FORMAT_MAJOR);
    cj_u64(&j, "format_minor", TT_FORMAT_MINOR);
    cj_str(&j, "zstd_version", ZSTD_versionString());
    cj_begin_arr(&j, "cases");
    for (size_t i = 0; i < ncases; i++) {
        char name[256];
        snprintf(name, sizeof name, "%s/%s", cases[i].cls, cases[i].name);
        cj_str(&j, NULL, name);
    }
    cj_end_arr(&j);
    cj_end_obj(&j);
    if (fclose(f) != 0)
        die("write failed");
    return 0;
}
