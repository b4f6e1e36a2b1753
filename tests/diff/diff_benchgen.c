/*
 * diff_benchgen.c — benchmark data for tracediff (not a test): two traces A and B of about BYTES of tensor data
 * each, records of TENSOR bytes ([rows, 4096/esize... ] row-leading), with a fraction IDENT of the pairs bitwise
 * identical and the others slightly different (a third of their elements moved by one ulp: structural drift).
 * Values are pseudo-random normal-ish activations, so they compress like real ones (poorly).
 * usage: diff_benchgen A.tt B.tt [--bytes 1G] [--tensor 4M] [--identical 0.99] [--dtype f32|bf16] [--threads N]
 *                      [--shards N --shard-prefix P]
 * --shards N also writes A as N rank files P-rank<r>.tt (tensor parallelism): each tensor split along its columns
 * into N SPLIT shards, rank r holding shard r (N divides the 4096 columns).
 * See tools/tracediff/README.md, "Benchmarks".
 */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tt/dtype.h"
#include "tt/writer.h"

static uint64_t parse_size(const char *s)
{
    char *e;
    double v = strtod(s, &e);
    switch (*e) {
    case 'k': case 'K': v *= 1024; break;
    case 'm': case 'M': v *= 1048576; break;
    case 'g': case 'G': v *= 1073741824.0; break;
    default: break;
    }
    return (uint64_t)v;
}

static tt_writer *open_w(const char *path, unsigned threads)
{
    tt_writer_options o;
    memset(&o, 0, sizeof o);
    o.size = sizeof o;
    o.ignore_env = 1;
    o.overwrite = 1;
    o.threads = threads;
    tt_writer *w = NULL;
    if (tt_writer_open(&w, path, &o) != TT_OK) {
        fprintf(stderr, "diff_benchgen: %s\n", w ? tt_writer_errmsg(w) : path);
        exit(1);
    }
    return w;
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: diff_benchgen A.tt B.tt [--bytes 1G] [--tensor 4M] [--identical 0.99] "
                        "[--dtype f32|bf16] [--threads N]\n");
        return 2;
    }
    uint64_t total = 1ull << 30, tensor = 4ull << 20;
    double ident = 0.99;
    tt_dtype dt = TT_F32;
    unsigned threads = 0;
    int shards = 0;
    const char *shard_prefix = NULL;
    for (int i = 3; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--bytes"))
            total = parse_size(argv[i + 1]);
        else if (!strcmp(argv[i], "--tensor"))
            tensor = parse_size(argv[i + 1]);
        else if (!strcmp(argv[i], "--identical"))
            ident = atof(argv[i + 1]);
        else if (!strcmp(argv[i], "--dtype"))
            dt = !strcmp(argv[i + 1], "bf16") ? TT_BF16 : TT_F32;
        else if (!strcmp(argv[i], "--threads"))
            threads = (unsigned)atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--shards"))
            shards = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--shard-prefix"))
            shard_prefix = argv[i + 1];
    }
    size_t es = tt_dtype_size(dt), n = (size_t)(tensor / es), cols = 4096;
    if (n < cols)
        cols = n;
    n = n / cols * cols;
    /* a pool of random values the tensors are cut from */
    size_t pool_n = n + (1u << 20);
    float *pool = malloc(pool_n * sizeof *pool), *fa = malloc(n * sizeof *fa);
    uint8_t *a = malloc(n * es), *b = malloc(n * es);
    if (!pool || !fa || !a || !b)
        return 1;
    uint64_t s = 88172645463325252ull;
    for (size_t i = 0; i < pool_n; i++) {
        s ^= s << 13, s ^= s >> 7, s ^= s << 17;
        double u1 = ((s >> 11) + 1) * 0x1p-53;
        s ^= s << 13, s ^= s >> 7, s ^= s << 17;
        double u2 = (s >> 11) * 0x1p-53;
        pool[i] = (float)(sqrt(-2 * log(u1)) * cos(6.283185307179586 * u2));
    }
    if (shards && (!shard_prefix || shards < 1 || shards > 64 || cols % (size_t)shards)) {
        fprintf(stderr, "diff_benchgen: --shards N (dividing %zu) needs --shard-prefix\n", cols);
        return 2;
    }
    tt_writer *wa = open_w(argv[1], threads), *wb = open_w(argv[2], threads);
    tt_writer *ws[64];
    uint8_t *sb = shards ? malloc(n * es / (size_t)shards) : NULL;
    for (int r = 0; r < shards; r++) {
        char path[4096];
        snprintf(path, sizeof path, "%s-rank%d.tt", shard_prefix, r);
        tt_writer_options o;
        memset(&o, 0, sizeof o);
        o.size = sizeof o;
        o.ignore_env = 1;
        o.overwrite = 1;
        o.threads = threads ? (threads + (unsigned)shards - 1) / (unsigned)shards : 1;
        o.rank = r;
        o.rank_set = 1;
        o.world_size = shards;
        ws[r] = NULL;
        if (tt_writer_open(&ws[r], path, &o) != TT_OK || !sb) {
            fprintf(stderr, "diff_benchgen: %s\n", ws[r] ? tt_writer_errmsg(ws[r]) : path);
            return 1;
        }
    }
    uint64_t records = total / (n * es), ndiff = 0;
    const uint64_t shape[2] = {n / cols, cols};
    for (uint64_t r = 0; r < records; r++) {
        size_t off = (size_t)((r * 7919) % (1u << 20));
        memcpy(fa, pool + off, n * sizeof *fa);
        tt_from_f32(dt, fa, n, a);
        memcpy(b, a, n * es);
        int differ = (double)((r * 2654435761u) % 10000) >= ident * 10000;
        if (differ) {
            ndiff++;
            for (size_t i = r % 3; i < n; i += 3) { /* one ulp up: drift */
                if (es == 4) {
                    uint32_t u;
                    memcpy(&u, b + 4 * i, 4);
                    u++;
                    memcpy(b + 4 * i, &u, 4);
                } else {
                    uint16_t u;
                    memcpy(&u, b + 2 * i, 2);
                    u++;
                    memcpy(b + 2 * i, &u, 2);
                }
            }
        }
        tt_key k = TT_KEY_INIT;
        k.prompt_id = "bench";
        k.phase = "prefill";
        k.point = (r % 2) ? "mlp_out" : "attn_out";
        k.layer = (int32_t)(r / 2);
        k.pos_id = 0;
        k.rows = (int32_t)shape[0];
        if (tt_put(wa, &k, dt, 2, shape, a) != TT_OK || tt_put(wb, &k, dt, 2, shape, b) != TT_OK) {
            fprintf(stderr, "diff_benchgen: put: %s %s\n", tt_writer_errmsg(wa), tt_writer_errmsg(wb));
            return 1;
        }
        for (int si = 0; si < shards; si++) {
            /* rank si's columns of A */
            size_t w = cols / (size_t)shards;
            for (size_t row = 0; row < shape[0]; row++)
                memcpy(sb + row * w * es, a + (row * cols + (size_t)si * w) * es, w * es);
            tt_key ks = k;
            ks.shard_kind = TT_SHARD_SPLIT;
            ks.shard_dim = 1;
            ks.shard_index = si;
            ks.shard_count = shards;
            const uint64_t sshape[2] = {shape[0], w};
            if (tt_put(ws[si], &ks, dt, 2, sshape, sb) != TT_OK) {
                fprintf(stderr, "diff_benchgen: put: %s\n", tt_writer_errmsg(ws[si]));
                return 1;
            }
        }
    }
    if (tt_writer_close(wa) != TT_OK || tt_writer_close(wb) != TT_OK) {
        fprintf(stderr, "diff_benchgen: close failed\n");
        return 1;
    }
    tt_writer_free(wa);
    tt_writer_free(wb);
    for (int si = 0; si < shards; si++) {
        if (tt_writer_close(ws[si]) != TT_OK) {
            fprintf(stderr, "diff_benchgen: close failed\n");
            return 1;
        }
        tt_writer_free(ws[si]);
    }
    free(sb);
    printf("%llu records of %llu bytes (%s) per file, %llu pairs differ\n", (unsigned long long)records,
           (unsigned long long)(n * es), tt_dtype_name(dt), (unsigned long long)ndiff);
    free(pool);
    free(fa);
    free(a);
    free(b);
    return 0;
}
