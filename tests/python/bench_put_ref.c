/*
 * bench_put_ref.c — the C side of bench_python.py's put benchmark: times tt_put() of one tensor read from a raw
 * file (the very bytes the Python side puts), and the whole write around it (open, put, close), per round.
 * usage: bench_put_ref RAW TRACE ROWS COLS ROUNDS THREADS   (dtype bf16; prints one JSON object)
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "tt/writer.h"

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int fail(const char *what, const char *detail)
{
    fprintf(stderr, "bench_put_ref: %s: %s\n", what, detail);
    return 2;
}

int main(int argc, char **argv)
{
    if (argc != 7)
        return fail("usage", "bench_put_ref RAW TRACE ROWS COLS ROUNDS THREADS");
    uint64_t shape[2] = {strtoull(argv[3], NULL, 10), strtoull(argv[4], NULL, 10)};
    int rounds = atoi(argv[5]);
    size_t n = (size_t)(shape[0] * shape[1] * 2);
    void *data = malloc(n ? n : 1);
    FILE *f = fopen(argv[1], "rb");
    if (!data || !f || fread(data, 1, n, f) != n || rounds < 1)
        return fail(argv[1], "cannot read the raw tensor (or bad sizes)");
    fclose(f);
    tt_writer_options o = TT_WRITER_OPTIONS_INIT;
    o.threads = (uint32_t)atoi(argv[6]);
    o.overwrite = 1;
    o.ignore_env = 1;
    printf("{\"bytes\": %zu, \"put_s\": [", n);
    for (int r = 0; r < rounds; r++) {
        tt_writer *w;
        if (tt_writer_open(&w, argv[2], &o) != TT_OK)
            return fail(argv[2], w ? tt_writer_errmsg(w) : "out of memory");
        tt_key k = TT_KEY_INIT;
        k.point = "x";
        k.layer = 0;
        k.rows = (int32_t)shape[0];
        double t0 = now();
        int rc = tt_put(w, &k, TT_BF16, 2, shape, data);
        double t1 = now();
        if (rc != TT_OK || tt_writer_close(w) != TT_OK)
            return fail(argv[2], tt_writer_errmsg(w));
        double t2 = now();
        tt_writer_free(w);
        printf("%s[%.6f, %.6f]", r ? ", " : "", t1 - t0, t2 - t0);
    }
    printf("]}\n");
    free(data);
    return 0;
}
