/*
 * test_support.h — helpers the libtrace tests share: temporary file names, deterministic data of every dtype,
 * writer options for tests (no environment, small chunks), file copy/flip/truncate for damage tests.
 */
#ifndef TT_TEST_SUPPORT_H
#define TT_TEST_SUPPORT_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tt/dtype.h"
#include "tt/reader.h"
#include "tt/writer.h"

/* A fresh path in the test's temporary directory ($TMPDIR or /tmp), unique per process and name. */
static inline const char *ts_path(char *buf, size_t len, const char *name)
{
    const char *dir = getenv("TMPDIR");
    snprintf(buf, len, "%s/tt_test_%d_%s", dir && *dir ? dir : "/tmp", (int)getpid(), name);
    unlink(buf);
    return buf;
}

static inline uint64_t ts_rand(uint64_t *s)
{
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* n elements of dtype dt with activation-like values (floats) or a spread of integers, deterministic in seed. */
static inline void *ts_data(tt_dtype dt, size_t n, uint64_t seed)
{
    size_t es = tt_dtype_size(dt);
    uint8_t *p = malloc(n * es + 1);
    float *f = malloc(n * sizeof(float) + 1);
    for (size_t i = 0; i < n; i++) {
        uint64_t r = ts_rand(&seed);
        f[i] = ((float)(r % 20001) - 10000.0f) / 4000.0f;
        if (i % 97 == 5)
            f[i] *= 40.0f; /* an outlier channel */
    }
    if (tt_dtype_is_float(dt)) {
        tt_from_f32(dt, f, n, p);
    } else {
        for (size_t i = 0; i < n; i++)
            f[i] = (float)((int)(ts_rand(&seed) % 200) - 100);
        tt_from_f32(dt, f, n, p);
    }
    free(f);
    return p;
}

/* Writer options for tests: defaults, but no environment and small chunks so tensors span several frames. */
static inline tt_writer_options ts_opts(void)
{
    tt_writer_options o = TT_WRITER_OPTIONS_INIT;
    o.ignore_env = 1;
    o.chunk_bytes = 4096;
    return o;
}

static inline long ts_file_size(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return -1;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fclose(f);
    return n;
}

/* The whole file in a malloc'd buffer (one spare byte), its size in *len; NULL (and *len 0) if it cannot be read. */
static inline uint8_t *ts_read_file(const char *path, size_t *len)
{
    *len = 0;
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *p = n >= 0 ? malloc((size_t)n + 1) : NULL;
    if (p && fread(p, 1, (size_t)n, f) != (size_t)n) {
        free(p);
        p = NULL;
    }
    fclose(f);
    *len = p ? (size_t)n : 0;
    return p;
}

static inline int ts_write_file(const char *path, const uint8_t *p, size_t len)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        return -1;
    size_t k = fwrite(p, 1, len, f);
    return fclose(f) == 0 && k == len ? 0 : -1;
}

#endif
