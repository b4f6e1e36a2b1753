/*
 * open_many_bench.c — benchmark (not a test): opening a side of many per-rank files with tt_reader_open_many().
 * Writes FILES traces of RECORDS small bf16 [1, 64] records each (rank metadata 0..FILES-1, every record its own
 * key, as an engine tracing every layer and step writes), then RUNS times: opens them all as one reader and reads
 * one tensor of the last file (warm page cache; one untimed open first). Prints the median and the worst, and the
 * same for opening the first file alone, so that the cost per file can be compared.
 * usage: open_many_bench DIR [--files 64] [--records 10000] [--runs 15]
 * See BENCHMARKS.md, "Several files as one side".
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tt/reader.h"
#include "tt/writer.h"

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: open_many_bench DIR [--files 64] [--records 10000] [--runs 15]\n");
        return 2;
    }
    int files = 64, records = 10000, runs = 15;
    for (int i = 2; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--files")) files = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--records")) records = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--runs")) runs = atoi(argv[i + 1]);
    }
    if (files < 1 || records < 1 || runs < 1 || runs > 1000)
        return 2;
    char **paths = calloc((size_t)files, sizeof *paths);
    double *t = calloc((size_t)runs, sizeof *t), *t1 = calloc((size_t)runs, sizeof *t1);
    if (!paths || !t || !t1)
        return 1;
    uint16_t row[64];
    for (int f = 0; f < files; f++) {
        size_t len = strlen(argv[1]) + 32;
        paths[f] = malloc(len);
        snprintf(paths[f], len, "%s/rank%d.tt", argv[1], f);
        tt_writer_options o = TT_WRITER_OPTIONS_INIT;
        o.ignore_env = 1;
        o.overwrite = 1;
        o.threads = 2;
        o.rank = f;
        o.rank_set = 1;
        o.world_size = files;
        tt_writer *w = NULL;
        if (tt_writer_open(&w, paths[f], &o) != TT_OK) {
            fprintf(stderr, "open_many_bench: %s\n", w ? tt_writer_errmsg(w) : paths[f]);
            return 1;
        }
        const uint64_t shape[2] = {1, 64};
        for (int k = 0; k < records; k++) {
            for (int j = 0; j < 64; j++)
                row[j] = (uint16_t)(0x3f80 + ((k * 64 + j + f) & 0x7f));
            tt_key key = TT_KEY_INIT;
            key.prompt_id = "p0";
            key.phase = "decode";
            key.point = (k % 4) == 0 ? "attn_out" : (k % 4) == 1 ? "mlp_out" : (k % 4) == 2 ? "q_pre_rope" : "v";
            key.layer = (k / 4) % 80;
            key.step = k / 320;
            key.pos_id = key.step;
            if (tt_put(w, &key, TT_BF16, 2, shape, row) < 0) {
                fprintf(stderr, "open_many_bench: put: %s\n", tt_writer_errmsg(w));
                return 1;
            }
        }
        if (tt_writer_close(w) != TT_OK)
            return 1;
        tt_writer_free(w);
    }
    uint16_t got[64];
    for (int pass = 0; pass <= runs; pass++) {
        double a = now();
        tt_reader *r = NULL;
        if (tt_reader_open_many(&r, (const char *const *)paths, (size_t)files, NULL) != TT_OK) {
            fprintf(stderr, "open_many_bench: %s\n", tt_reader_errmsg(r));
            return 1;
        }
        uint64_t last = tt_reader_count(r) - 1;
        if (tt_reader_read(r, last, got, sizeof got) != TT_OK) {
            fprintf(stderr, "open_many_bench: read: %s\n", tt_reader_errmsg(r));
            return 1;
        }
        double b = now();
        tt_reader_close(r);
        tt_reader *one = NULL;
        double c = now();
        if (tt_reader_open(&one, paths[0], NULL) != TT_OK || tt_reader_read(one, 0, got, sizeof got) != TT_OK)
            return 1;
        double e = now();
        tt_reader_close(one);
        if (pass) { /* the first open is the untimed warm-up */
            t[pass - 1] = b - a;
            t1[pass - 1] = e - c;
        }
    }
    qsort(t, (size_t)runs, sizeof *t, cmp);
    qsort(t1, (size_t)runs, sizeof *t1, cmp);
    printf("%d files x %d records: open all + read one: median %.2f ms, worst %.2f ms; one file: median %.3f ms "
           "(x %d = %.2f ms)\n", files, records, 1e3 * t[runs / 2], 1e3 * t[runs - 1], 1e3 * t1[runs / 2], files,
           1e3 * t1[runs / 2] * files);
    for (int f = 0; f < files; f++)
        free(paths[f]);
    free(paths);
    free(t);
    free(t1);
    return 0;
}
