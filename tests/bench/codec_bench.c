/*
 * codec_bench.c — benchmark (not a test): the payload codecs alone, on one thread, next to the other per-byte
 * work of a full-mode put. Reads raw tensor bytes (tracebench --save-raw), cuts them into chunks as the writer
 * does, and times, in CPU seconds per GiB of tensor bytes (the best of RUNS passes, warm buffers, no allocation
 * and no page fault inside a timed pass):
 *   - the format 1.0 path: byte shuffle + zstd level 1 with the writer's small hash table;
 *   - FLOAT form 0 (exponent symbol, raw mantissa), FLOAT form 0 wide (two mantissa bits), FLOAT form 1 (bf16);
 *   - for each FLOAT form, the entropy stage alone: ZSTD_compressSequences over the symbol stream and its
 *     decompression, which every FLOAT chunk pays whatever the regrouping costs;
 *   - the work a put does besides the codec: the copy of the caller's bytes, XXH3 over them, the statistics.
 * The ratio is raw bytes over stored payload bytes. BENCHMARKS.md, "Payload codecs alone", has the numbers.
 * usage: codec_bench RAW bf16|f32 [--chunk BYTES] [--runs N]
 */
#define _POSIX_C_SOURCE 200809L
#define ZSTD_STATIC_LINKING_ONLY /* ZSTD_compressSequences, as floatsplit.c uses it */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <zstd.h>

#include "frame.h"
#include "tt/dtype.h"

static double cpu_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

typedef struct chunks {
    const uint8_t *raw;
    size_t n, cb, count; /* raw bytes, chunk bytes, whole chunks used */
    uint8_t **stored;    /* a chunk's stored payload */
    tt_frame_header *h;
    uint8_t *work, *scratch, *back, *sym;
} chunks;

enum { P_SHUFFLE, P_FORM0, P_WIDE, P_FORM1, NPATHS };
static const char *const path_names[NPATHS] = {"1.0 path: shuffle + zstd -1", "FLOAT form 0 (exponent symbol)",
                                               "FLOAT form 0 wide (2 mantissa bits)", "FLOAT form 1 (window, bf16)"};

/* One encode pass of every chunk with path p. @return : CPU seconds, or -1 on an error. */
static double encode_pass(chunks *c, int p, tt_dtype dt, ZSTD_CCtx *planes, ZSTD_CCtx *lit, uint64_t *stored)
{
    static const unsigned kind[NPATHS] = {0, TT_FLOAT_FAST, TT_FLOAT_WIDE, TT_FLOAT_FAST | TT_FLOAT_WINDOW};
    char err[256];
    double t = 0;
    *stored = 0;
    for (size_t k = 0; k < c->count; k++) {
        memcpy(c->work, c->raw + k * c->cb, c->cb); /* the writer codes in place in its own copy */
        double t0 = cpu_now();
        int rc = p == P_SHUFFLE
                     ? tt_payload_encode(c->work, c->cb, tt_dtype_size(dt), planes, c->scratch, c->work, c->cb, &c->h[k],
                                         err, sizeof err)
                     : tt_payload_encode_float(c->work, c->cb, dt, 0, kind[p], lit, c->scratch, c->work, c->cb,
                                               &c->h[k], err, sizeof err);
        t += cpu_now() - t0;
        if (rc != TT_OK) {
            fprintf(stderr, "codec_bench: encode: %s\n", err);
            return -1;
        }
        memcpy(c->stored[k], c->work, (size_t)c->h[k].stored_size);
        *stored += c->h[k].stored_size;
    }
    return t;
}

static double decode_pass(chunks *c, ZSTD_DCtx *d)
{
    char err[256];
    double t0 = cpu_now();
    for (size_t k = 0; k < c->count; k++)
        if (tt_payload_decode(&c->h[k], c->stored[k], c->back, c->scratch, d, err, sizeof err) != TT_OK) {
            fprintf(stderr, "codec_bench: decode: %s\n", err);
            return -1;
        }
    double t = cpu_now() - t0;
    for (size_t k = 0; k < c->count; k++) { /* outside the clock: every chunk comes back exact */
        tt_payload_decode(&c->h[k], c->stored[k], c->back, c->scratch, d, err, sizeof err);
        if (memcmp(c->back, c->raw + k * c->cb, c->cb) != 0) {
            fprintf(stderr, "codec_bench: chunk %zu does not round trip\n", k);
            return -1;
        }
    }
    return t;
}

/* The entropy stage alone: each FLOAT chunk's symbol stream (stream 0) inflated outside the clock, then coded
 * again and inflated again under it. */
static int entropy_pass(chunks *c, ZSTD_CCtx *lit, ZSTD_DCtx *d, double *enc, double *dec)
{
    *enc = *dec = 0;
    size_t cap = ZSTD_compressBound(c->cb);
    uint8_t *z = malloc(cap);
    if (!z)
        return -1;
    memset(z, 0, cap);
    for (size_t k = 0; k < c->count; k++) {
        const uint8_t *s = c->stored[k];
        if (c->h[k].filter != TT_FILTER_FLOAT)
            continue;
        size_t es = c->h[k].elem_size, nsym = (size_t)c->h[k].raw_size / es;
        size_t hs = es == 2 && s[2] == 1 ? 24 : 12 + 4 * es, len = tt_rd32(s + 12);
        if (len == nsym)
            memcpy(c->sym, s + hs, nsym);
        else if (ZSTD_isError(ZSTD_decompressDCtx(d, c->sym, nsym, s + hs, len)))
            return free(z), -1;
        double t0 = cpu_now();
        size_t zn = ZSTD_compressSequences(lit, z, cap, NULL, 0, c->sym, nsym);
        double t1 = cpu_now();
        if (ZSTD_isError(zn))
            return free(z), -1;
        ZSTD_decompressDCtx(d, c->back, c->cb, z, zn);
        *enc += t1 - t0;
        *dec += cpu_now() - t1;
    }
    free(z);
    return 0;
}

static double best(double a, double b) { return a < 0 || b < a ? b : a; }

int main(int argc, char **argv)
{
    if (argc < 3 || (strcmp(argv[2], "bf16") && strcmp(argv[2], "f32"))) {
        fprintf(stderr, "usage: codec_bench RAW bf16|f32 [--chunk BYTES] [--runs N]\n");
        return 2;
    }
    tt_dtype dt = strcmp(argv[2], "bf16") ? TT_F32 : TT_BF16;
    size_t cb = 4u << 20;
    int runs = 5;
    for (int i = 3; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--chunk"))
            cb = (size_t)strtoull(argv[i + 1], NULL, 10);
        else if (!strcmp(argv[i], "--runs"))
            runs = atoi(argv[i + 1]);
        else {
            fprintf(stderr, "codec_bench: unknown option %s\n", argv[i]);
            return 2;
        }
    }
    FILE *f = fopen(argv[1], "rb");
    if (!f || cb < 4096 || runs < 1) {
        fprintf(stderr, "codec_bench: cannot read %s (or a bad --chunk / --runs)\n", argv[1]);
        return 2;
    }
    fseek(f, 0, SEEK_END);
    long fl = ftell(f);
    fseek(f, 0, SEEK_SET);
    chunks c = {0};
    c.n = fl > 0 ? (size_t)fl : 0;
    c.cb = cb;
    c.count = c.n / cb;
    uint8_t *raw = malloc(c.n + 1);
    if (!raw || c.count == 0 || fread(raw, 1, c.n, f) != c.n) {
        fprintf(stderr, "codec_bench: %s: need at least one chunk of %zu bytes\n", argv[1], cb);
        return 2;
    }
    fclose(f);
    c.raw = raw;
    c.stored = calloc(c.count, sizeof *c.stored);
    c.h = calloc(c.count, sizeof *c.h);
    c.work = malloc(cb), c.scratch = malloc(cb), c.back = malloc(cb), c.sym = malloc(cb);
    int ok = c.stored && c.h;
    for (size_t k = 0; ok && k < c.count; k++)
        if ((ok = (c.stored[k] = malloc(cb)) != NULL))
            memset(c.stored[k], 0, cb);
    if (!ok || !c.work || !c.scratch || !c.back || !c.sym) {
        fprintf(stderr, "codec_bench: out of memory\n");
        return 2;
    }
    memset(c.work, 0, cb), memset(c.scratch, 0, cb), memset(c.back, 0, cb), memset(c.sym, 0, cb);
    /* the writer's contexts (writer_pool.c): level 1, no checksum, a 2^8 hash table for shuffled chunks */
    ZSTD_CCtx *planes = ZSTD_createCCtx(), *lit = ZSTD_createCCtx();
    ZSTD_DCtx *d = ZSTD_createDCtx();
    ZSTD_CCtx_setParameter(planes, ZSTD_c_compressionLevel, 1);
    ZSTD_CCtx_setParameter(planes, ZSTD_c_checksumFlag, 0);
    ZSTD_CCtx_setParameter(planes, ZSTD_c_hashLog, 8);
    tt_float_cctx_params(lit);
    double gib = (double)(c.count * cb) / (double)(1u << 30);
    printf("%s: %zu chunks of %zu bytes (%s), best of %d passes, one thread, CPU seconds per GiB of tensor bytes\n\n",
           argv[1], c.count, cb, tt_dtype_name(dt), runs);
    printf("| path | ratio | encode | decode | encode vs 1.0 | decode vs 1.0 | entropy stage: encode | decode |\n");
    printf("|---|---|---|---|---|---|---|---|\n");
    double base_e = 0, base_d = 0;
    for (int p = 0; p < NPATHS; p++) {
        if (p == P_FORM1 && dt != TT_BF16)
            continue;
        double e = -1, dd = -1, he = -1, hd = -1;
        uint64_t stored = 0;
        for (int r = 0; r < runs; r++) {
            double te = encode_pass(&c, p, dt, planes, lit, &stored), td = te < 0 ? -1 : decode_pass(&c, d);
            if (te < 0 || td < 0)
                return 1;
            e = best(e, te), dd = best(dd, td);
            double x, y;
            if (p != P_SHUFFLE && entropy_pass(&c, lit, d, &x, &y) == 0)
                he = best(he, x), hd = best(hd, y);
        }
        if (p == P_SHUFFLE)
            base_e = e, base_d = dd;
        char hs[64] = "-", hd_s[64] = "-";
        if (p != P_SHUFFLE)
            snprintf(hs, sizeof hs, "%.3f (%.2fx 1.0)", he / gib, he / base_e),
                snprintf(hd_s, sizeof hd_s, "%.3f (%.2fx 1.0)", hd / gib, hd / base_d);
        printf("| %s | %.4f | %.3f | %.3f | %.2fx | %.2fx | %s | %s |\n", path_names[p],
               (double)(c.count * cb) / (double)stored, e / gib, dd / gib, e / base_e, dd / base_d, hs, hd_s);
    }
    /* the rest of a put's per-byte work, the same whatever the codec */
    double tc = -1, th = -1, ts = -1;
    uint64_t sink = 0;
    for (int r = 0; r < runs; r++) {
        double t0 = cpu_now();
        for (size_t k = 0; k < c.count; k++)
            memcpy(c.work, raw + k * cb, cb);
        double t1 = cpu_now();
        for (size_t k = 0; k < c.count; k++)
            sink += tt_hash64(raw + k * cb, cb);
        double t2 = cpu_now();
        for (size_t k = 0; k < c.count; k++) {
            tt_stats st;
            tt_stats_compute(dt, raw + k * cb, cb / tt_dtype_size(dt), &st);
            sink += st.nan_count;
        }
        double t3 = cpu_now();
        tc = best(tc, t1 - t0), th = best(th, t2 - t1), ts = best(ts, t3 - t2);
    }
    printf("\nbesides the codec: copy %.3f, XXH3 %.3f, statistics %.3f s per GiB (checksum %llx)\n", tc / gib,
           th / gib, ts / gib, (unsigned long long)(sink & 0xf));
    ZSTD_freeCCtx(planes), ZSTD_freeCCtx(lit), ZSTD_freeDCtx(d);
    for (size_t k = 0; k < c.count; k++)
        free(c.stored[k]);
    free(c.stored), free(c.h), free(c.work), free(c.scratch), free(c.back), free(c.sym), free(raw);
    return 0;
}
