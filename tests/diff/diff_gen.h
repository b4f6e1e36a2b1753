/*
 * diff_gen.h — what the diff tests' data generators share (diff_testgen, diff_neargen, test_diff_kernel): a
 * seeded xorshift64 generator with uniform and normal draws, opening a trace for writing in a directory, and
 * saving raw bytes for the numpy cross-checks. Header-only: each program links only what it uses.
 */
#ifndef TT_TESTS_DIFF_GEN_H
#define TT_TESTS_DIFF_GEN_H

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tt/writer.h"

/* Uniform in [0, 1), 53 bits, from the state *s (xorshift64; any non-zero seed). */
static inline double dg_urand(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return (double)(*s >> 11) * 0x1p-53;
}

/* Standard normal (Box-Muller). */
static inline double dg_nrand(uint64_t *s)
{
    double u = dg_urand(s) + 1e-300, v = dg_urand(s);
    return sqrt(-2 * log(u)) * cos(6.283185307179586 * v);
}

/* DIR/NAME opened for writing (replaced if it exists; TT_TRACE_* ignored); exits with a message naming PROG. */
static inline tt_writer *dg_open_writer(const char *dir, const char *name, const char *prog)
{
    char p[1024];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    tt_writer_options o;
    memset(&o, 0, sizeof o);
    o.size = sizeof o;
    o.ignore_env = 1;
    o.overwrite = 1;
    tt_writer *w = NULL;
    if (tt_writer_open(&w, p, &o) != TT_OK) {
        fprintf(stderr, "%s: %s: %s\n", prog, p, w ? tt_writer_errmsg(w) : "cannot open");
        exit(1);
    }
    return w;
}

/* DIR/SIDE_POINT.bin: the raw bytes, for the numpy checks; exits with a message naming PROG. */
static inline void dg_save(const char *dir, const char *side, const char *point, const void *data, size_t n,
                           const char *prog)
{
    char p[1024];
    snprintf(p, sizeof p, "%s/%s_%s.bin", dir, side, point);
    FILE *f = fopen(p, "wb");
    if (!f || fwrite(data, 1, n, f) != n || fclose(f) != 0) {
        fprintf(stderr, "%s: cannot write %s\n", prog, p);
        exit(1);
    }
}

#endif /* TT_TESTS_DIFF_GEN_H */
