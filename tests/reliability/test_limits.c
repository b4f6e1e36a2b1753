/*
 * test_limits.c — hostile sizes. Each case is a small file whose checksums are all valid (computed here: XXH3
 * is no protection against a file made to hurt) but whose numbers claim too much: a footer with 2^60 records, a
 * frame of 1 TB, shapes that overflow size_t or pass 2^48 bytes, 2^32 strings, 65,537 records or strings in a
 * batch, 4,097 metadata keys, a zstd bomb at the payload limit, and so on (the table below). Each case is
 * written as a closed file (found through the footer) and, where it matters, as an unclosed one (found by the
 * recovery scan).
 *
 * Every case is opened and used in a child process under RLIMIT_AS = 256 MiB (not in sanitizer builds, whose
 * shadow memory needs more address space), so an attempted huge allocation shows up as a failure: open with
 * recovery and without, every record, reads whole and by rows, filtered iteration, verify, copy. The child must
 * end normally; where the case says which error the reader must give, it must give that one, with a message
 * naming the place. The child's peak resident memory is printed. TT_RELIABILITY_KEEP_DIR=DIR keeps a copy of
 * every case file there.
 *
 * Then the tools run on every case file under RLIMIT_AS = 1 GiB (threads reserve address space for stacks and
 * malloc arenas; their peak resident memory is printed): tracedump (summary, --list, --verify, --show,
 * --recover, --export-npy), trace2jsonl --extra and tracediff --verify-identical. A tool may report the damage
 * (exit 1 or 2) but must not die of a signal or run past 60 s; an exit 4 (out of memory) is reported and counted
 * as a failure: a tool's memory must stay bounded on any input.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <zstd.h>

#include "frame.h"
#include "rel_support.h"
#include "schema.h"
#include "tt_test.h"

#define AS_LIMIT ((rlim_t)256 << 20)       /* the reader's probe */
#define TOOL_AS_LIMIT ((rlim_t)1024 << 20) /* the tools: threads reserve address space (stacks, malloc arenas) */
#define MAX_BATCHES 8

/* ---- writing hostile files -------------------------------------------------------------------------------- */

typedef struct hfile {
    uint8_t *p;
    size_t len, cap;
    uint64_t frame_off[64];
    uint8_t frame_type[64];
    size_t nframes;
    uint64_t boff[MAX_BATCHES], bsize[MAX_BATCHES];
    uint32_t bcount[MAX_BATCHES];
    int nb;
} hfile;

static void hf_put(hfile *f, const void *p, size_t n)
{
    if (f->len + n > f->cap) {
        f->cap = (f->len + n) * 2;
        f->p = realloc(f->p, f->cap);
    }
    memcpy(f->p + f->len, p, n);
    f->len += n;
}

static void hf_init(hfile *f)
{
    memset(f, 0, sizeof *f);
    tt_file_header fh = {TT_FORMAT_MAJOR, TT_FORMAT_MINOR, 0};
    uint8_t hb[TT_FILE_HEADER_SIZE];
    tt_file_header_encode(&fh, hb);
    hf_put(f, hb, sizeof hb);
}

/* A frame with valid checksums; raw_size as claimed (the stored bytes are what they are). */
static uint64_t hf_frame(hfile *f, uint8_t type, uint8_t codec, uint32_t aux, uint64_t seq, const void *stored,
                         size_t n, uint64_t raw_size)
{
    tt_frame_header h = {0};
    h.type = type;
    h.codec = codec;
    h.aux = aux;
    h.seq = seq;
    h.stored_size = n;
    h.raw_size = raw_size;
    h.payload_hash = tt_hash64(stored, n);
    uint8_t hb[TT_FRAME_HEADER_SIZE];
    tt_frame_header_encode(&h, hb);
    uint64_t off = f->len;
    hf_put(f, hb, sizeof hb);
    hf_put(f, stored, n);
    if ((type == TT_FRAME_PAYLOAD || type == TT_FRAME_META) && f->nframes < 64) {
        f->frame_off[f->nframes] = off;
        f->frame_type[f->nframes++] = type;
    }
    return off;
}

/* A frame holding obj, zstd-compressed (raw_size = n unless claim_raw is given). */
static uint64_t hf_zstd(hfile *f, uint8_t type, uint32_t aux, uint64_t seq, const void *obj, size_t n,
                        uint64_t claim_raw)
{
    size_t cap = ZSTD_compressBound(n);
    uint8_t *z = malloc(cap);
    size_t k = ZSTD_compress(z, cap, obj, n, 1);
    uint64_t off = hf_frame(f, type, TT_CODEC_ZSTD, aux, seq, z, k, claim_raw ? claim_raw : n);
    free(z);
    return off;
}

static void hf_batch(hfile *f, const uint8_t *obj, size_t n, uint32_t count, uint64_t seq0)
{
    uint64_t off = hf_zstd(f, TT_FRAME_BATCH, count, seq0, obj, n, 0);
    if (f->nb < MAX_BATCHES) {
        f->boff[f->nb] = off;
        f->bsize[f->nb] = f->len - off;
        f->bcount[f->nb++] = count;
    }
}

/* The footer indexing the batches and frames written so far; fv (may be NULL) overrides what it sets. */
static void hf_close(hfile *f, void (*tweak)(tt_footer_view *v, void *ctx), void *ctx)
{
    uint64_t first[MAX_BATCHES], seqs[MAX_BATCHES] = {0};
    int32_t zeros[MAX_BATCHES] = {0};
    uint64_t total = 0;
    for (int i = 0; i < f->nb; i++) {
        first[i] = total;
        total += f->bcount[i];
    }
    tt_footer_view v = {0};
    v.format_major = TT_FORMAT_MAJOR;
    v.format_minor = TT_FORMAT_MINOR; /* the file header's: a footer that differs is not used */
    v.writer = "hostile";
    v.chunk_bytes = 4096;
    v.record_count = total;
    v.batches.nb = (uint32_t)f->nb;
    v.batches.offset = f->boff;
    v.batches.frame_size = f->bsize;
    v.batches.first_record = first;
    v.batches.record_count = f->bcount;
    v.batches.seq_min = v.batches.seq_max = seqs;
    v.batches.layer_min = v.batches.layer_max = v.batches.step_min = v.batches.step_max = zeros;
    v.batches.pos_min = v.batches.pos_max = zeros;
    v.nframes = (uint32_t)f->nframes;
    v.frame_offset = f->frame_off;
    v.frame_type = f->frame_type;
    if (tweak)
        tweak(&v, ctx);
    fb_builder b;
    fb_builder_init(&b);
    const uint8_t *obj;
    size_t n;
    if (tt_fb_encode_footer(&b, &v, &obj, &n) != TT_OK)
        abort();
    uint64_t off = hf_zstd(f, TT_FRAME_FOOTER, 0, 0, obj, n, 0);
    fb_builder_free(&b);
    tt_trailer t = {off, f->len - off};
    uint8_t tb[TT_TRAILER_SIZE];
    tt_trailer_encode(&t, tb);
    hf_put(f, tb, sizeof tb);
}

/* A record batch of n records of one dtype and shape each; dims holds n * ndim entries (NULL: all `dim`). */
typedef struct bspec {
    uint32_t n;
    uint8_t dtype, ndim, flags;
    const uint64_t *dims;
    uint64_t dim;
    uint32_t chunk_bytes;
    uint64_t payload_offset;
    uint32_t payload_frames;
    uint32_t nstrings;       /* dictionary size (>= 1) */
} bspec;

static uint8_t *make_batch(const bspec *s, size_t *len)
{
    uint32_t n = s->n;
    uint64_t *seq = calloc(n, 8), *off = calloc(n, 8), *dims = calloc((size_t)n * s->ndim + 1, 8);
    uint32_t *point = calloc(n, 4), *frames = calloc(n, 4);
    uint8_t *dt = calloc(n, 1), *nd = calloc(n, 1), *fl = calloc(n, 1);
    int32_t *layer = calloc(n, 4);
    uint32_t ns = s->nstrings ? s->nstrings : 1;
    const char **strs = calloc(ns, sizeof *strs);
    char (*names)[12] = calloc(ns, 12);
    for (uint32_t i = 0; i < ns; i++) {
        snprintf(names[i], 12, "s%u", i);
        strs[i] = names[i];
    }
    for (uint32_t i = 0; i < n; i++) {
        seq[i] = i + 1;
        off[i] = s->payload_offset;
        frames[i] = s->payload_frames;
        point[i] = i % ns;
        dt[i] = s->dtype;
        nd[i] = s->ndim;
        fl[i] = s->flags;
        for (uint32_t d = 0; d < s->ndim; d++)
            dims[(size_t)i * s->ndim + d] = s->dims ? s->dims[(size_t)i * s->ndim + d] : s->dim;
    }
    tt_batch_view v = {0};
    v.n = n;
    v.chunk_bytes = s->chunk_bytes ? s->chunk_bytes : 4096;
    v.strings = strs;
    v.nstrings = ns;
    v.seq = seq;
    v.point = point;
    v.layer = layer;
    v.dtype = dt;
    v.ndim = nd;
    v.flags = fl;
    v.dims = dims;
    v.ndims_total = n * s->ndim;
    v.payload_offset = off;
    v.payload_frames = frames;
    fb_builder b;
    fb_builder_init(&b);
    const uint8_t *obj;
    uint8_t *out = NULL;
    if (tt_fb_encode_batch(&b, &v, &obj, len) == TT_OK) {
        out = malloc(*len);
        memcpy(out, obj, *len);
    }
    fb_builder_free(&b);
    free(seq), free(off), free(dims), free(point), free(frames), free(dt), free(nd), free(fl), free(layer);
    free(strs), free(names);
    return out;
}

static void add_batch(hfile *f, const bspec *s)
{
    size_t n;
    uint8_t *obj = make_batch(s, &n);
    hf_batch(f, obj, n, s->n, 1);
    free(obj);
}

/* ---- the cases --------------------------------------------------------------------------------------------- */

#define ANY 99

typedef struct hcase {
    const char *name;
    const char *claim;
    void (*build)(hfile *f, int closed);
    int both;          /* also written unclosed (recovery scan) */
    int never_status;  /* closed file opened without recovery: this status (ANY: anything but a crash) */
    int record_status; /* the first record (or its batch): this status (ANY: anything); unclosed files: a
                        * batch refused this way is skipped as a damaged frame instead */
} hcase;

static void tw_records_2e60(tt_footer_view *v, void *ctx) { (void)ctx; v->record_count = (uint64_t)1 << 60; }
static void c_footer_2e60(hfile *f, int closed) { (void)closed; hf_close(f, tw_records_2e60, NULL); }

static uint32_t g_huge_counts[MAX_BATCHES];
static void tw_huge_counts(tt_footer_view *v, void *ctx)
{
    (void)ctx;
    for (uint32_t i = 0; i < v->batches.nb; i++)
        g_huge_counts[i] = UINT32_MAX;
    v->batches.record_count = g_huge_counts;
    v->record_count = (uint64_t)UINT32_MAX * v->batches.nb;
}
static void c_batch_counts(hfile *f, int closed)
{
    bspec s = {.n = 2, .dtype = TT_F32, .ndim = 1, .dim = 4};
    add_batch(f, &s);
    add_batch(f, &s);
    if (closed)
        hf_close(f, tw_huge_counts, NULL);
}

/* a FOOTER frame that claims 1 TB raw, behind a valid trailer */
static void c_footer_1tb(hfile *f, int closed)
{
    (void)closed;
    uint8_t junk[256] = {0x28, 0xb5, 0x2f, 0xfd};
    uint64_t off = hf_frame(f, TT_FRAME_FOOTER, TT_CODEC_ZSTD, 0, 0, junk, sizeof junk, (uint64_t)1 << 40);
    tt_trailer t = {off, f->len - off};
    uint8_t tb[TT_TRAILER_SIZE];
    tt_trailer_encode(&t, tb);
    hf_put(f, tb, sizeof tb);
}

/* a footer frame that claims to store 1 TB in a small file */
static void c_footer_stored_1tb(hfile *f, int closed)
{
    (void)closed;
    tt_frame_header h = {0};
    h.type = TT_FRAME_FOOTER;
    h.codec = TT_CODEC_ZSTD;
    h.raw_size = (uint64_t)1 << 30;
    h.stored_size = (uint64_t)1 << 40; /* over compressBound(1 GiB): refused as corrupt before anything */
    uint8_t hb[TT_FRAME_HEADER_SIZE];
    tt_frame_header_encode(&h, hb);
    uint64_t off = f->len;
    hf_put(f, hb, sizeof hb);
    tt_trailer t = {off, TT_FRAME_HEADER_SIZE + h.stored_size};
    uint8_t tb[TT_TRAILER_SIZE];
    tt_trailer_encode(&t, tb);
    hf_put(f, tb, sizeof tb);
}

/* a PAYLOAD frame claiming 1 TB raw, and a record claiming it */
static void c_payload_1tb(hfile *f, int closed)
{
    uint8_t junk[64] = {0};
    uint64_t off = hf_frame(f, TT_FRAME_PAYLOAD, TT_CODEC_ZSTD, 0, 1, junk, sizeof junk, (uint64_t)1 << 40);
    bspec s = {.n = 1, .dtype = TT_U8, .ndim = 1, .dim = (uint64_t)1 << 40, .flags = TT_REC_HAS_PAYLOAD,
               .chunk_bytes = 64u << 20, .payload_offset = off, .payload_frames = 1u << 14};
    add_batch(f, &s);
    if (closed)
        hf_close(f, NULL, NULL);
}

static void c_shape_overflow(hfile *f, int closed)
{
    bspec s = {.n = 1, .dtype = TT_F32, .ndim = 3, .dim = (uint64_t)1 << 40};
    add_batch(f, &s);
    if (closed)
        hf_close(f, NULL, NULL);
}

static void c_shape_2e48(hfile *f, int closed)
{
    bspec s = {.n = 1, .dtype = TT_F64, .ndim = 1, .dim = (uint64_t)1 << 46}; /* 2^49 bytes */
    add_batch(f, &s);
    if (closed)
        hf_close(f, NULL, NULL);
}

/* an empty tensor with a 2^63 dimension: no bytes, but a shape no tensor can have */
static void c_shape_empty_huge(hfile *f, int closed)
{
    uint64_t dims[2] = {0, (uint64_t)1 << 63};
    bspec s = {.n = 1, .dtype = TT_F32, .ndim = 2, .dims = dims, .flags = TT_REC_HAS_PAYLOAD};
    add_batch(f, &s);
    if (closed)
        hf_close(f, NULL, NULL);
}

/* a metadata-only record without a dtype whose shape holds 2^80 elements: no bytes, but no writer makes it */
static void c_shape_untyped(hfile *f, int closed)
{
    bspec s = {.n = 1, .dtype = TT_DTYPE_UNKNOWN, .ndim = 2, .dim = (uint64_t)1 << 40};
    add_batch(f, &s);
    if (closed)
        hf_close(f, NULL, NULL);
}

/* a batch whose dictionary claims 2^32 - 1 strings */
static void c_strings_2e32(hfile *f, int closed)
{
    bspec s = {.n = 1, .dtype = TT_F32, .ndim = 1, .dim = 4, .nstrings = 3};
    size_t n;
    uint8_t *obj = make_batch(&s, &n);
    uint32_t count;
    const void *vec = fb_get_vector(obj, fb_root(obj), 2 /* RecordBatch.strings */, &count);
    uint8_t *len = (uint8_t *)vec - 4;
    tt_le32(len, UINT32_MAX);
    hf_batch(f, obj, n, 1, 1);
    free(obj);
    if (closed)
        hf_close(f, NULL, NULL);
}

static void c_strings_65537(hfile *f, int closed)
{
    bspec s = {.n = 2, .dtype = TT_F32, .ndim = 1, .dim = 4, .nstrings = TT_LIMIT_BATCH_STRINGS + 1};
    add_batch(f, &s);
    if (closed)
        hf_close(f, NULL, NULL);
}

static void c_records_65537(hfile *f, int closed)
{
    bspec s = {.n = TT_LIMIT_BATCH_RECORDS + 1, .dtype = TT_U8, .ndim = 0};
    add_batch(f, &s);
    if (closed)
        hf_close(f, NULL, NULL);
}

static void c_meta_4097(hfile *f, int closed)
{
    static char kb[TT_LIMIT_META_KEYS + 1][12];
    const char *keys[TT_LIMIT_META_KEYS + 1], *vals[TT_LIMIT_META_KEYS + 1];
    for (unsigned i = 0; i <= TT_LIMIT_META_KEYS; i++) {
        snprintf(kb[i], sizeof kb[i], "k%u", i);
        keys[i] = kb[i];
        vals[i] = "v";
    }
    fb_builder b;
    fb_builder_init(&b);
    const uint8_t *obj;
    size_t n;
    tt_fb_encode_meta(&b, keys, vals, TT_LIMIT_META_KEYS + 1, &obj, &n);
    hf_zstd(f, TT_FRAME_META, 0, 0, obj, n, 0);
    fb_builder_free(&b);
    bspec s = {.n = 1, .dtype = TT_F32, .ndim = 1, .dim = 4};
    add_batch(f, &s);
    if (closed)
        hf_close(f, NULL, NULL);
}

/* a batch frame that inflates to 255 MiB of zeros (under the 256 MiB limit of its type, from ~8 KiB) */
static void c_batch_bomb(hfile *f, int closed)
{
    size_t n = (size_t)255 << 20;
    uint8_t *zeros = calloc(n, 1);
    hf_zstd(f, TT_FRAME_BATCH, 1, 1, zeros, n, 0);
    free(zeros);
    f->boff[0] = TT_FILE_HEADER_SIZE;
    f->bsize[0] = f->len - TT_FILE_HEADER_SIZE;
    f->bcount[0] = 1;
    f->nb = 1;
    if (closed)
        hf_close(f, NULL, NULL);
}

/* a real 64 MiB tensor (the payload limit) of zeros in one ~2 KiB zstd frame: valid, and must read in bounded
 * memory (one chunk buffer) */
static void c_payload_bomb(hfile *f, int closed)
{
    size_t n = (size_t)64 << 20;
    uint8_t *zeros = calloc(n, 1);
    uint64_t off = hf_zstd(f, TT_FRAME_PAYLOAD, 0, 1, zeros, n, 0);
    free(zeros);
    bspec s = {.n = 1, .dtype = TT_F32, .ndim = 2, .dim = 4096, .flags = TT_REC_HAS_PAYLOAD,
               .chunk_bytes = 64u << 20, .payload_offset = off, .payload_frames = 1};
    add_batch(f, &s);
    if (closed)
        hf_close(f, NULL, NULL);
}

/* a trailer pointing far past the end */
static void c_trailer_far(hfile *f, int closed)
{
    (void)closed;
    bspec s = {.n = 2, .dtype = TT_F32, .ndim = 1, .dim = 4};
    add_batch(f, &s);
    tt_trailer t = {(uint64_t)1 << 62, (uint64_t)1 << 61};
    uint8_t tb[TT_TRAILER_SIZE];
    tt_trailer_encode(&t, tb);
    hf_put(f, tb, sizeof tb);
}

/* a footer whose frame index claims more entries than its buffer holds */
static uint64_t g_frame_offs[4] = {TT_FILE_HEADER_SIZE, TT_FILE_HEADER_SIZE, TT_FILE_HEADER_SIZE,
                                   TT_FILE_HEADER_SIZE};
static uint8_t g_frame_types[4] = {TT_FRAME_PAYLOAD, TT_FRAME_PAYLOAD, TT_FRAME_PAYLOAD, TT_FRAME_PAYLOAD};
static void tw_frames(tt_footer_view *v, void *ctx)
{
    (void)ctx;
    v->nframes = 4;
    v->frame_offset = g_frame_offs; /* not increasing, all at the same place */
    v->frame_type = g_frame_types;
}
static void c_frames_repeat(hfile *f, int closed)
{
    uint8_t data[16] = {0};
    hf_frame(f, TT_FRAME_PAYLOAD, TT_CODEC_RAW, 0, 1, data, sizeof data, sizeof data);
    (void)closed;
    hf_close(f, tw_frames, NULL);
}

/* a record claiming 2^32 - 1 payload frames for 16 bytes */
static void c_payload_frames(hfile *f, int closed)
{
    uint8_t data[16] = {0};
    uint64_t off = hf_frame(f, TT_FRAME_PAYLOAD, TT_CODEC_RAW, 0, 1, data, sizeof data, sizeof data);
    bspec s = {.n = 1, .dtype = TT_F32, .ndim = 1, .dim = 4, .flags = TT_REC_HAS_PAYLOAD,
               .payload_offset = off, .payload_frames = UINT32_MAX};
    add_batch(f, &s);
    if (closed)
        hf_close(f, NULL, NULL);
}

static const hcase cases[] = {
    {"footer_2e60_records", "Footer.record_count = 2^60", c_footer_2e60, 0, TT_E_LIMIT, ANY},
    {"footer_batch_counts", "batch index: record_count 2^32-1 per batch", c_batch_counts, 0, TT_E_CORRUPT, TT_OK},
    {"footer_frame_1tb", "FOOTER frame raw_size = 1 TB", c_footer_1tb, 0, TT_E_LIMIT, ANY},
    {"footer_stored_1tb", "FOOTER frame stored_size = 1 TB", c_footer_stored_1tb, 0, TT_E_CORRUPT, ANY},
    {"payload_1tb", "PAYLOAD frame raw_size = 1 TB, record of 1 TB", c_payload_1tb, 1, TT_OK, TT_OK},
    {"shape_overflow", "shape [2^40, 2^40, 2^40] f32 (overflows size_t)", c_shape_overflow, 1, TT_OK, TT_E_LIMIT},
    {"shape_2e49_bytes", "shape [2^46] f64 = 2^49 bytes", c_shape_2e48, 1, TT_OK, TT_E_LIMIT},
    {"shape_empty_2e63", "shape [0, 2^63]: no bytes, impossible dimension", c_shape_empty_huge, 1, TT_OK,
     TT_E_LIMIT},
    {"shape_untyped_2e80", "shape [2^40, 2^40] without a dtype: 2^80 elements", c_shape_untyped, 1, TT_OK,
     TT_E_LIMIT},
    {"strings_2e32", "dictionary length field 2^32-1", c_strings_2e32, 1, TT_OK, TT_E_CORRUPT},
    {"strings_65537", "65,537 strings in a batch", c_strings_65537, 1, TT_OK, TT_E_LIMIT},
    {"records_65537", "65,537 records in a batch", c_records_65537, 1, TT_E_CORRUPT, TT_E_LIMIT},
    {"meta_4097_keys", "META frame with 4,097 keys", c_meta_4097, 1, TT_OK, TT_OK},
    {"batch_bomb_255MiB", "BATCH frame inflating to 255 MiB of zeros from 8 KiB", c_batch_bomb, 1, TT_OK, ANY},
    {"payload_bomb_64MiB", "64 MiB tensor of zeros in one 2 KiB frame (valid)", c_payload_bomb, 1, TT_OK, TT_OK},
    {"trailer_far", "trailer: footer at offset 2^62", c_trailer_far, 0, TT_E_CORRUPT, TT_OK},
    {"footer_frames_repeat", "frame index: one offset 4 times", c_frames_repeat, 0, TT_E_CORRUPT, ANY},
    {"payload_frames_2e32", "16-byte tensor in 2^32-1 frames", c_payload_frames, 1, TT_OK, TT_E_CORRUPT},
};
#define NCASES (sizeof cases / sizeof cases[0])

/* ---- probing a file in a child ---------------------------------------------------------------------------- */

static void limit_memory(rlim_t lim)
{
    if (REL_SANITIZED)
        return;
    struct rlimit rl = {lim, lim};
    setrlimit(RLIMIT_AS, &rl);
}

static int placed(const char *m) { return strstr(m, "offset") || strstr(m, "footer") || strstr(m, "record"); }

/* Runs in the child: everything a reader user could do with the file. Returns the number of broken promises. */
static int probe(const hcase *c, const char *path, int closed)
{
    int bad = 0;
    static uint8_t buf[1 << 20];
    tt_reader_options ro = TT_READER_OPTIONS_INIT;
    ro.recovery = TT_RECOVER_NEVER;
    tt_reader *r;
    int rc = tt_reader_open(&r, path, &ro);
    if (closed && c->never_status != ANY && rc != c->never_status) {
        printf("    open without recovery: %s (%d), expected %s\n", tt_status_name(rc), rc,
               tt_status_name(c->never_status));
        bad++;
    }
    if (closed && rc != TT_OK && !placed(tt_reader_errmsg(r))) {
        printf("    open without recovery: message without a place: %s\n", tt_reader_errmsg(r));
        bad++;
    }
    printf("    %s, no recovery: %s%s%s\n", closed ? "closed" : "unclosed", tt_status_name(rc),
           rc ? ": " : "", rc ? tt_reader_errmsg(r) : "");
    tt_reader_close(r);

    rc = tt_reader_open(&r, path, NULL);
    printf("    %s, recovery allowed: %s, %llu record(s)%s%s\n", closed ? "closed" : "unclosed", tt_status_name(rc),
           (unsigned long long)tt_reader_count(r), rc ? ": " : "", rc ? tt_reader_errmsg(r) : "");
    if (rc != TT_OK) {
        tt_reader_close(r);
        return bad;
    }
    uint64_t n = tt_reader_count(r);
    int first_rc = 1;
    for (uint64_t i = 0; i < n && i < 100000; i++) {
        tt_record rec;
        rc = tt_reader_record(r, i, &rec);
        if (first_rc == 1) {
            first_rc = rc;
            if (rc != TT_OK)
                printf("    record 0: %s: %s\n", tt_status_name(rc), tt_reader_errmsg(r));
        }
        if (rc != TT_OK) {
            if (!placed(tt_reader_errmsg(r))) {
                printf("    record %llu: message without a place: %s\n", (unsigned long long)i, tt_reader_errmsg(r));
                bad++;
            }
            break; /* the same batch every time */
        }
        if (rec.flags & TT_REC_HAS_PAYLOAD) {
            rc = tt_reader_read(r, i, buf, sizeof buf);
            if (rc != TT_OK && i == 0)
                printf("    read 0 into 1 MiB: %s: %s\n", tt_status_name(rc), tt_reader_errmsg(r));
            if (rec.ndim >= 1 && rec.shape[0]) {
                rc = tt_reader_read_rows(r, i, 0, 1, buf, sizeof buf);
                if (i == 0)
                    printf("    read row 0: %s%s%s\n", tt_status_name(rc), rc ? ": " : "", rc ? tt_reader_errmsg(r) : "");
            }
        }
    }
    tt_file_info info;
    tt_reader_info(r, &info);
    if (c->record_status != ANY && n > 0 && first_rc != c->record_status && first_rc != 1) {
        printf("    record 0 gave %s, expected %s\n", tt_status_name(first_rc), tt_status_name(c->record_status));
        bad++;
    }
    if (c->record_status != ANY && c->record_status != TT_OK && n == 0 && !info.damaged_frames) {
        printf("    the batch vanished without being counted damaged, expected %s\n",
               tt_status_name(c->record_status));
        bad++;
    }
    if (n == 0 && info.damaged_frames)
        printf("    the batch was skipped by the scan as a damaged frame (%llu counted)\n",
               (unsigned long long)info.damaged_frames);
    tt_filter *flt = tt_filter_new();
    tt_filter_add(flt, "layer=0-3", NULL, 0);
    uint64_t cur = 0, seen = 0;
    tt_record rec;
    while ((rc = tt_reader_next(r, flt, &cur, &rec)) != 0 && seen++ < 200000)
        ;
    tt_filter_free(flt);
    tt_verify_result vr;
    rc = tt_reader_verify(r, &vr, NULL, NULL);
    printf("    verify: %s, %llu problem(s)\n", tt_status_name(rc), (unsigned long long)vr.problems);
    int fd = memfd_create("copy", 0);
    char cpath[64];
    snprintf(cpath, sizeof cpath, "/proc/self/fd/%d", fd);
    tt_writer_options wo = TT_WRITER_OPTIONS_INIT;
    wo.ignore_env = 1;
    wo.overwrite = 1;
    wo.threads = 1;
    tt_writer *w;
    if (tt_writer_open(&w, cpath, &wo) == TT_OK) {
        uint64_t copied, lost;
        rc = tt_reader_copy(r, NULL, w, &copied, &lost);
        printf("    copy: %s, %llu copied, %llu left out\n", tt_status_name(rc), (unsigned long long)copied,
               (unsigned long long)lost);
    }
    tt_writer_free(w);
    close(fd);
    tt_reader_close(r);
    return bad;
}

static int run_probe(const hcase *c, const char *path, int closed, long *maxrss_kb)
{
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        limit_memory(AS_LIMIT);
        int bad = probe(c, path, closed);
        fflush(stdout);
        _exit(bad ? 1 : 0);
    }
    int st;
    struct rusage ru;
    wait4(pid, &st, 0, &ru);
    *maxrss_kb = ru.ru_maxrss;
    if (!WIFEXITED(st)) {
        printf("    CRASHED: %s\n", strsignal(WTERMSIG(st)));
        return 1;
    }
    return WEXITSTATUS(st) != 0;
}

/* ---- the tools -------------------------------------------------------------------------------------------- */

static const char *g_bin;

static long g_tool_rss_max;
static long g_tool_rss; /* peak resident memory of the tools on the current case, KiB */

static int run_tool(const char *tool, const char *const *args, int nargs, const char *file, int *exit_code)
{
    char exe[1024];
    snprintf(exe, sizeof exe, "%s/tools/%s/%s", g_bin, tool, tool);
    if (access(exe, X_OK) != 0)
        return -1;
    const char *argv[16];
    int k = 0;
    argv[k++] = exe;
    for (int i = 0; i < nargs; i++)
        argv[k++] = args[i];
    argv[k++] = file;
    if (strcmp(tool, "tracediff") == 0)
        argv[k++] = file;
    argv[k] = NULL;
    pid_t pid = fork();
    if (pid == 0) {
        limit_memory(TOOL_AS_LIMIT);
        alarm(60);
        int nul = open("/dev/null", O_RDWR);
        dup2(nul, 1);
        dup2(nul, 2);
        execv(exe, (char *const *)argv);
        _exit(127);
    }
    int st;
    struct rusage ru;
    wait4(pid, &st, 0, &ru);
    if (ru.ru_maxrss > g_tool_rss)
        g_tool_rss = ru.ru_maxrss;
    if (WIFSIGNALED(st)) {
        *exit_code = -WTERMSIG(st);
        return 1;
    }
    *exit_code = WEXITSTATUS(st);
    return *exit_code == 4 || *exit_code == 127;
}

static int tools_on(const char *file, const char *outdir, int *runs)
{
    char rec[1200], npy[1200];
    snprintf(rec, sizeof rec, "%s/recovered.tt", outdir);
    snprintf(npy, sizeof npy, "%s/npy/", outdir);
    const char *a_sum[] = {"-q"}, *a_list[] = {"--list"}, *a_ver[] = {"--verify"}, *a_show[] = {"--show", "0"};
    const char *a_rec[] = {"--recover", "-f", "-o", rec}, *a_npy[] = {"-q", "-f", "--export-npy", npy};
    const char *a_t2j[] = {"--extra", "-q"}, *a_diff[] = {"--verify-identical", "--threads", "2"};
    struct {
        const char *tool;
        const char *const *args;
        int n;
        const char *what;
    } runs_[] = {
        {"tracedump", a_sum, 1, "tracedump"},          {"tracedump", a_list, 1, "tracedump --list"},
        {"tracedump", a_ver, 1, "tracedump --verify"}, {"tracedump", a_show, 2, "tracedump --show 0"},
        {"tracedump", a_rec, 4, "tracedump --recover"}, {"tracedump", a_npy, 4, "tracedump --export-npy"},
        {"trace2jsonl", a_t2j, 2, "trace2jsonl --extra"}, {"tracediff", a_diff, 3, "tracediff --verify-identical"},
    };
    int bad = 0;
    g_tool_rss = 0;
    char line[2048] = "";
    size_t o = 0;
    for (size_t i = 0; i < sizeof runs_ / sizeof runs_[0]; i++) {
        int code = 0;
        int rc = run_tool(runs_[i].tool, runs_[i].args, runs_[i].n, file, &code);
        if (rc < 0)
            continue;
        (*runs)++;
        o += (size_t)snprintf(line + o, sizeof line - o, " %s=%d", runs_[i].what, code);
        if (rc > 0) {
            printf("    TOOL FAILED: %s on %s: %s %d\n", runs_[i].what, file, code < 0 ? "signal" : "exit",
                   code < 0 ? -code : code);
            bad++;
        }
    }
    printf("    tools (exit codes):%s; peak RSS %ld KiB\n", line, g_tool_rss);
    if (g_tool_rss > g_tool_rss_max)
        g_tool_rss_max = g_tool_rss;
    return bad;
}

int main(void)
{
    const char *bin = getenv("TT_BINARY_DIR");
    g_bin = bin && *bin ? bin : ".";
    char dir[1024];
    snprintf(dir, sizeof dir, "%s/tt_limits_%d", rel_tmpdir(), (int)getpid());
    mkdir(dir, 0755);
    printf("test_limits: %zu hostile cases, RLIMIT_AS %s\n", NCASES,
           REL_SANITIZED ? "not set (sanitizer build)" : "256 MiB");
    int files = 0, tool_runs = 0, bad_cases = 0;
    long worst_rss = 0;
    for (size_t i = 0; i < NCASES; i++) {
        const hcase *c = &cases[i];
        for (int closed = 1; closed >= (c->both ? 0 : 1); closed--) {
            hfile f;
            hf_init(&f);
            c->build(&f, closed);
            char path[1200];
            snprintf(path, sizeof path, "%s/%s%s.tt", dir, c->name, closed ? "" : "_unclosed");
            CHECK(ts_write_file(path, f.p, f.len) == 0);
            const char *keep = getenv("TT_RELIABILITY_KEEP_DIR"); /* to look at the files, or seed a corpus */
            if (keep && *keep) {
                char kp[1400];
                snprintf(kp, sizeof kp, "%s/%s%s.tt", keep, c->name, closed ? "" : "_unclosed");
                CHECK(ts_write_file(kp, f.p, f.len) == 0);
            }
            printf("%s%s (%zu bytes): %s\n", c->name, closed ? "" : " (unclosed)", f.len, c->claim);
            free(f.p);
            long rss = 0;
            int bad = run_probe(c, path, closed, &rss);
            printf("    peak RSS %ld KiB%s\n", rss, bad ? " -- FAILED" : "");
            if (rss > worst_rss)
                worst_rss = rss;
            bad += tools_on(path, dir, &tool_runs);
            bad_cases += bad != 0;
            tt_test_failures += bad;
            files++;
            unlink(path);
        }
    }
    char cmd[2200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "test_limits: cannot remove %s\n", dir);
    printf("test_limits: %d hostile files, %d tool runs; peak RSS: reader %ld KiB, tools %ld KiB; %d case(s) "
           "failed\n", files, tool_runs, worst_rss, g_tool_rss_max, bad_cases);
    return tt_test_exit();
}
