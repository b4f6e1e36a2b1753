/*
 * cli_fixtures.c — makes the traces the CLI tests run the tools on, with known content, at test time (no
 * binary fixtures in git). `cli_fixtures OUTDIR` writes:
 *   mixed.tt       every dtype, full / stats-only / hash-only records, two prompts, two phases, layers -1..1,
 *                  a tensor over several payload frames, a scalar, a 3-D tensor, NaN/Inf values, values of
 *                  far-apart magnitudes (the last record, 40)
 *   mixed.raw/     the exact bytes of every full tensor of mixed.tt (INDEX.bin) and manifest.tsv
 *                  (index, name, dtype, shape), for the export tests to compare with
 *   empty.tt       a trace with metadata and no record
 *   damaged.tt     mixed.tt with one byte flipped inside a payload frame
 *   truncated.tt   mixed.tt cut at 60% (no footer: recovery by scanning)
 *   notatrace.tt   a text file;  short.tt: 10 bytes
 * Records carry fixed seq and time so listings are reproducible. The test may look at bytes (to damage a
 * payload frame it finds one with format/frame.h); the tools never do.
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "frame.h"
#include "tt/dtype.h"
#include "tt/reader.h"
#include "tt/writer.h"

#define T0 1770000000000000000ull /* 2026-02-02: record times, fixed for reproducible output */

typedef struct fixture {
    tt_writer *w;
    const char *dir;
    FILE *manifest;
    uint64_t next; /* records put so far: the next record's index */
} fixture;

static void die(const char *what, const char *msg)
{
    fprintf(stderr, "cli_fixtures: %s: %s\n", what, msg);
    exit(1);
}

static tt_writer *open_writer(const char *dir, const char *name)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    tt_writer_options o = TT_WRITER_OPTIONS_INIT;
    o.ignore_env = 1;
    o.overwrite = 1;
    o.chunk_bytes = 4096; /* tensors over 4 KiB span several payload frames */
    o.threads = 2;
    o.batch_records = 8; /* several record batches, so a truncated copy keeps some */
    tt_writer *w = NULL;
    if (tt_writer_open(&w, path, &o) != TT_OK)
        die(path, w ? tt_writer_errmsg(w) : "out of memory");
    tt_writer_set_meta(w, "engine", "cli_fixtures");
    tt_writer_set_meta(w, "model", "none");
    tt_writer_set_meta(w, "capture_mode", "mixed");
    tt_writer_set_meta(w, "commit", "0000000");
    return w;
}

static void close_writer(tt_writer *w)
{
    if (tt_writer_close(w) != TT_OK)
        die("close", tt_writer_errmsg(w));
    tt_writer_free(w);
}

static tt_key key(const char *prompt, const char *phase, const char *point, int layer, int step, int pos, int rows)
{
    tt_key k = TT_KEY_INIT;
    k.prompt_id = prompt, k.phase = phase, k.point = point;
    k.layer = layer, k.step = step, k.pos_id = pos, k.rows = rows;
    return k;
}

/* Value i of a tensor: small multiples of 1/8 around zero, exact in every float type (fp8 included). */
static float value(size_t i, int salt) { return (float)((int)((i * 7 + (size_t)salt * 3) % 33) - 16) / 8.0f; }

/* Puts a full tensor of dtype dt holding value(i) (integers: rounded) and records its bytes. */
static void put_full(fixture *fx, tt_key k, tt_dtype dt, int ndim, const uint64_t *shape, int salt)
{
    uint64_t n = 1;
    for (int i = 0; i < ndim; i++)
        n *= shape[i];
    size_t es = tt_dtype_size(dt);
    float *f = malloc(n * sizeof *f + 1);
    uint8_t *data = malloc(n * es + 1);
    for (uint64_t i = 0; i < n; i++)
        f[i] = tt_dtype_is_float(dt) ? value(i, salt) : (float)((int)(i % 19) - 9) * (dt == TT_U8 ? -1.0f : 1.0f);
    if (dt == TT_U8)
        for (uint64_t i = 0; i < n; i++)
            f[i] = (float)(i * 13 % 256);
    if (salt == 77) { /* the tensor of far-apart magnitudes */
        f[0] = 1.5e-5f, f[1] = -2.25e-7f, f[2] = 3.0f, f[3] = 0.0f;
    }
    if (salt == 99) { /* the NaN/Inf tensor */
        f[1] = NAN;
        f[4] = INFINITY;
        f[5] = -INFINITY;
    }
    tt_from_f32(dt, f, n, data);
    tt_record rec;
    memset(&rec, 0, sizeof rec);
    rec.key = k;
    rec.dtype = dt;
    rec.ndim = ndim;
    for (int i = 0; i < ndim; i++)
        rec.shape[i] = shape[i];
    rec.seq = fx->next + 1;
    rec.time_ns = T0 + fx->next * 1000;
    int rc = tt_put_record(fx->w, &rec, data);
    if (rc != TT_OK)
        die("put", tt_writer_errmsg(fx->w));
    char path[4096];
    snprintf(path, sizeof path, "%s/mixed.raw/%llu.bin", fx->dir, (unsigned long long)fx->next);
    FILE *raw = fopen(path, "wb");
    if (!raw || fwrite(data, 1, n * es, raw) != n * es || fclose(raw) != 0)
        die(path, strerror(errno));
    /* the name tracedump gives the tensor: no layer part outside layers */
    char layer[16] = "";
    if (k.layer != TT_UNSET)
        snprintf(layer, sizeof layer, "L%d/", k.layer);
    fprintf(fx->manifest, "%llu\t%s/%s/%s%s\t%s\t", (unsigned long long)fx->next, k.prompt_id, k.phase, layer,
            k.point, tt_dtype_name(dt));
    for (int i = 0; i < ndim; i++)
        fprintf(fx->manifest, "%s%llu", i ? "," : "", (unsigned long long)shape[i]);
    fprintf(fx->manifest, "\n");
    fx->next++;
    free(f);
    free(data);
}

/* Puts a metadata-only record (no tensor): hash and/or statistics as given. */
static void put_meta_only(fixture *fx, tt_key k, uint32_t flags, uint64_t hash, double mn, double mx, double mean)
{
    tt_record rec;
    memset(&rec, 0, sizeof rec);
    rec.key = k;
    rec.flags = flags;
    rec.hash = hash;
    rec.stats.min = mn, rec.stats.max = mx, rec.stats.mean = mean;
    rec.seq = fx->next + 1;
    rec.time_ns = T0 + fx->next * 1000;
    if (tt_put_record(fx->w, &rec, NULL) != TT_OK)
        die("put_record", tt_writer_errmsg(fx->w));
    fx->next++;
}

static void write_mixed(const char *dir)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/mixed.raw", dir);
    mkdir(path, 0777);
    snprintf(path, sizeof path, "%s/mixed.raw/manifest.tsv", dir);
    fixture fx = {open_writer(dir, "mixed.tt"), dir, fopen(path, "w"), 0};
    if (!fx.manifest)
        die(path, strerror(errno));
    /* the seeds' protocol in miniature: prefill_last (last two rows) vs decode0 (one row) */
    const char *prompts[2] = {"p0_short", "p6_len_16"};
    const int last_pos[2] = {37, 15};
    for (int p = 0; p < 2; p++) {
        for (int ph = 0; ph < 2; ph++) {
            const char *phase = ph ? "decode0" : "prefill_last";
            int rows = ph ? 1 : 2, pos = ph ? last_pos[p] : last_pos[p] - 1;
            uint64_t shape[2] = {(uint64_t)rows, 8};
            tt_key k = key(prompts[p], phase, "embed_out", -1, ph, pos, rows);
            k.token_id = 1000 + p, k.logical_tok_idx = last_pos[p];
            put_full(&fx, k, TT_BF16, 2, shape, 20 + 7 * p + 2 * ph);
            for (int layer = 0; layer < 2; layer++) {
                const char *points[2] = {"attn_out", "mlp_out"};
                for (int q = 0; q < 2; q++) {
                    k = key(prompts[p], phase, points[q], layer, ph, pos, rows);
                    k.token_id = 1000 + p, k.logical_tok_idx = last_pos[p];
                    put_full(&fx, k, TT_BF16, 2, shape, 1 + 5 * p + 3 * layer + q + 11 * ph);
                }
            }
        }
    }
    /* every dtype */
    for (int dt = 1; dt < TT_DTYPE_COUNT; dt++) {
        char point[32];
        snprintf(point, sizeof point, "dt_%s", tt_dtype_name((tt_dtype)dt));
        uint64_t shape[2] = {3, 5};
        put_full(&fx, key("dtypes", "prefill", point, 0, 0, 0, 3), (tt_dtype)dt, 2, shape, dt);
    }
    /* shapes: several payload frames, a scalar, three dimensions, NaN and Inf */
    uint64_t big[2] = {64, 48}, cube[3] = {2, 3, 4}, vec[1] = {6};
    put_full(&fx, key("shapes", "prefill", "big", 2, 0, 0, 64), TT_F32, 2, big, 5);
    put_full(&fx, key("shapes", "prefill", "scalar", 2, 0, TT_UNSET, TT_UNSET), TT_F32, 0, NULL, 1);
    put_full(&fx, key("shapes", "prefill", "cube", 2, 0, 0, 2), TT_F16, 3, cube, 2);
    put_full(&fx, key("shapes", "prefill", "nonfinite", 2, 0, 0, 6), TT_F32, 1, vec, 99);
    /* metadata-only records: the two seed records (stats-only) and a hash-only one */
    tt_key k = key("p0_short", "prefill_last", "attn_out", 8, 0, 37, 38);
    put_meta_only(&fx, k, TT_REC_HAS_HASH | TT_REC_HAS_STATS, 4144761570523161186ull, -0.00517679, 0.00719859,
                  -0.0000471849);
    k = key("p0_short", "decode0", "attn_out", 8, 1, 37, 1);
    put_meta_only(&fx, k, TT_REC_HAS_HASH | TT_REC_HAS_STATS, 10153995460507501903ull, -0.00519423, 0.00725079,
                  -0.0000474128);
    k = key("p0_short", "decode0", "logits_top1", -1, 1, 37, 1);
    put_meta_only(&fx, k, TT_REC_HAS_HASH, 18446744073709551615ull, 0, 0, 0);
    /* magnitudes far apart: printed in scientific notation */
    uint64_t four[1] = {4};
    put_full(&fx, key("shapes", "prefill", "tiny", 2, 0, 0, 4), TT_F32, 1, four, 77);
    fclose(fx.manifest);
    close_writer(fx.w);
}

static void write_empty(const char *dir) { close_writer(open_writer(dir, "empty.tt")); }

static uint8_t *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        die(path, strerror(errno));
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *p = malloc((size_t)n + 1);
    if (fread(p, 1, (size_t)n, f) != (size_t)n)
        die(path, "short read");
    fclose(f);
    *len = (size_t)n;
    return p;
}

static void spit(const char *dir, const char *name, const void *p, size_t len)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(p, 1, len, f) != len || fclose(f) != 0)
        die(path, strerror(errno));
}

/* Flips a byte in the middle of the stored bytes of the first payload frame. */
static void write_damaged(const char *dir)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/mixed.tt", dir);
    size_t len;
    uint8_t *p = slurp(path, &len);
    size_t off = TT_FILE_HEADER_SIZE;
    int done = 0;
    while (!done && off + TT_FRAME_HEADER_SIZE <= len) {
        tt_frame_header h;
        if (tt_frame_header_decode(p + off, &h, NULL, 0) != TT_OK)
            die(path, "cannot walk the frames");
        if (h.type == TT_FRAME_PAYLOAD) {
            p[off + TT_FRAME_HEADER_SIZE + h.stored_size / 2] ^= 0x5a;
            done = 1;
        }
        off += TT_FRAME_HEADER_SIZE + (size_t)h.stored_size;
    }
    if (!done)
        die(path, "no payload frame");
    spit(dir, "damaged.tt", p, len);
    free(p);
    p = slurp(path, &len);
    spit(dir, "truncated.tt", p, len * 6 / 10);
    free(p);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: cli_fixtures OUTDIR\n");
        return 2;
    }
    const char *dir = argv[1];
    mkdir(dir, 0777);
    write_mixed(dir);
    write_empty(dir);
    write_damaged(dir);
    const char *text = "{\"event\": \"stage_trace\"}\nthis is not a trace\n";
    spit(dir, "notatrace.tt", text, strlen(text));
    spit(dir, "short.tt", "\x89TTRC\r\n\x1a\x01\x00", 10);
    return 0;
}
