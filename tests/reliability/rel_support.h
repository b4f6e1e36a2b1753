/*
 * rel_support.h — what the reliability tests share: a seeded generator, tensors whose every byte follows from
 * their key (so a checker recomputes what a record must hold without keeping it), memfd-backed files for
 * cheap damaged copies, and the environment knobs (TT_RELIABILITY_LONG, TT_RELIABILITY_SEED).
 *
 * A record written by these tests is identified by (thread, index): key.layer = thread, key.step = index,
 * key.point = "t<thread>", key.token_id = a checksum of both. Everything else (dtype, shape, values, whether
 * it carries a tensor) is a function of (seed, thread, index).
 */
#ifndef TT_REL_SUPPORT_H
#define TT_REL_SUPPORT_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* memfd_create; the tests define it before any include too */
#endif
#include <errno.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "tt/dtype.h"
#include "tt/reader.h"
#include "tt/writer.h"

#include "../unit/test_support.h" /* ts_read_file, ts_write_file */

/* ---- random numbers: splitmix64, seeded and printed so that every run can be replayed -------------------- */

static inline uint64_t rel_mix(uint64_t z)
{
    z += 0x9E3779B97F4A7C15ull;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static inline uint64_t rel_next(uint64_t *s)
{
    *s += 0x9E3779B97F4A7C15ull;
    return rel_mix(*s);
}

/* uniform in [lo, hi] */
static inline uint64_t rel_range(uint64_t *s, uint64_t lo, uint64_t hi) { return lo + rel_next(s) % (hi - lo + 1); }

/* TT_RELIABILITY_SEED, or one from the clock; the caller prints it. */
static inline uint64_t rel_seed(void)
{
    const char *e = getenv("TT_RELIABILITY_SEED");
    if (e && *e)
        return strtoull(e, NULL, 0);
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return rel_mix((uint64_t)ts.tv_sec * 1000000007ull ^ (uint64_t)ts.tv_nsec ^ ((uint64_t)getpid() << 32));
}

/* TT_RELIABILITY_LONG=1 (or any nonzero number) selects the long mode. */
static inline int rel_long(void)
{
    const char *e = getenv("TT_RELIABILITY_LONG");
    return e && *e && strcmp(e, "0") != 0;
}

/* An integer from the environment, or def. */
static inline long rel_env_long(const char *name, long def)
{
    const char *e = getenv(name);
    return e && *e ? strtol(e, NULL, 0) : def;
}

static inline double rel_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Sanitizer builds cannot run under a small RLIMIT_AS (their shadow memory is reserved up front). */
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define REL_SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer) || __has_feature(memory_sanitizer)
#define REL_SANITIZED 1
#endif
#endif
#ifndef REL_SANITIZED
#define REL_SANITIZED 0
#endif

/* ---- records derived from their key ---------------------------------------------------------------------- */

typedef struct rel_spec {
    tt_dtype dtype;
    int ndim;
    uint64_t shape[TT_MAX_DIMS];
    uint64_t nbytes;
    int meta_only;   /* stored with tt_put_record(data NULL): hash and statistics only */
    uint64_t hash;   /* meta_only: the hash given */
} rel_spec;

static const tt_dtype rel_dtypes[] = {TT_F32, TT_F16, TT_BF16, TT_F64, TT_I8, TT_U8, TT_I16, TT_I32, TT_I64,
                                      TT_F8_E4M3, TT_F8_E5M2, TT_F8_E4M3FNUZ, TT_F8_E5M2FNUZ};
#define REL_NDTYPES (sizeof rel_dtypes / sizeof rel_dtypes[0])

static inline uint64_t rel_key_hash(uint64_t seed, int t, uint64_t i)
{
    return rel_mix(seed ^ rel_mix(((uint64_t)(uint32_t)t << 40) ^ i));
}

/* The record (t, i) of a run: dtype, shape and size. max_bytes bounds the tensor (several chunks at most). */
static inline void rel_spec_of(uint64_t seed, int t, uint64_t i, uint64_t max_bytes, rel_spec *s)
{
    uint64_t h = rel_key_hash(seed, t, i), r = h;
    memset(s, 0, sizeof *s);
    s->dtype = rel_dtypes[rel_next(&r) % REL_NDTYPES];
    size_t es = tt_dtype_size(s->dtype);
    s->meta_only = rel_next(&r) % 11 == 0;
    uint64_t kind = rel_next(&r) % 16, bytes;
    uint64_t small = max_bytes < 6000 ? max_bytes : 6000;
    if (kind == 0)
        bytes = 0;                                  /* an empty tensor */
    else if (kind < 10)
        bytes = rel_range(&r, 1, small);            /* one or two chunks */
    else
        bytes = rel_range(&r, small, max_bytes);    /* several chunks */
    uint64_t elems = bytes / es;
    if (kind == 1) {
        s->ndim = 0; /* a scalar */
        elems = 1;
    } else if (elems == 0) {
        s->ndim = 2;
        s->shape[0] = 0;
        s->shape[1] = rel_range(&r, 1, 9);
    } else {
        uint64_t rows = rel_range(&r, 1, 8);
        while (elems % rows)
            rows--;
        s->ndim = rows > 1 ? 2 : 1;
        s->shape[0] = rows;
        if (rows > 1)
            s->shape[1] = elems / rows;
        else
            s->shape[0] = elems;
    }
    s->nbytes = elems * es;
    s->hash = rel_next(&r);
}

/* The bytes of record (t, i): a stream of pseudo-random bits, so every byte is checked and nothing compresses
 * away; every 8th record is made of a few repeated values instead, so zstd frames appear as well. */
static inline void rel_fill(uint64_t seed, int t, uint64_t i, const rel_spec *s, uint8_t *p)
{
    uint64_t r = rel_key_hash(seed, t, i) ^ 0x5bd1e995ull;
    int compressible = rel_key_hash(seed, t, i) % 8 == 0;
    for (uint64_t k = 0; k < s->nbytes; k += 8) {
        uint64_t v = compressible ? (k / 64) * 0x0101010101010101ull : rel_next(&r);
        uint64_t n = s->nbytes - k < 8 ? s->nbytes - k : 8;
        memcpy(p + k, &v, (size_t)n);
    }
}

static inline void rel_key_of(int t, uint64_t i, char point[16], tt_key *k)
{
    tt_key z = TT_KEY_INIT;
    *k = z;
    snprintf(point, 16, "t%d", t);
    k->point = point;
    k->prompt_id = "rel";
    k->phase = (i % 3) ? "decode" : "prefill";
    k->layer = t;
    k->step = (int32_t)i;
    k->token_id = (int32_t)(rel_mix(((uint64_t)t << 32) | i) & 0x7fffffff);
    k->pos_id = (int32_t)i;
}

/* Puts record (t, i) into w. buf holds at least max_bytes. @return : tt_put()'s status. */
static inline int rel_put(tt_writer *w, uint64_t seed, int t, uint64_t i, uint64_t max_bytes, uint8_t *buf)
{
    rel_spec s;
    char point[16];
    tt_key k;
    rel_spec_of(seed, t, i, max_bytes, &s);
    rel_key_of(t, i, point, &k);
    if (s.meta_only) {
        tt_record rec;
        memset(&rec, 0, sizeof rec);
        rec.key = k;
        rec.dtype = s.dtype;
        rec.ndim = s.ndim;
        memcpy(rec.shape, s.shape, sizeof rec.shape);
        rec.flags = TT_REC_HAS_HASH;
        rec.hash = s.hash;
        return tt_put_record(w, &rec, NULL);
    }
    rel_fill(seed, t, i, &s, buf);
    return tt_put(w, &k, s.dtype, s.ndim, s.shape, buf);
}

/* What a record read back must be, given its key. Returns 0 when rec is exactly (t, i) as put; otherwise writes
 * what differs into why. *t_out / *i_out identify it (-1 when the key is not one this test writes). */
static inline int rel_check_meta(uint64_t seed, uint64_t max_bytes, const tt_record *rec, int nthreads, int *t_out,
                                 int64_t *i_out, char *why, size_t whylen)
{
    *t_out = -1;
    *i_out = -1;
    int t = rec->key.layer;
    int64_t i = rec->key.step;
    char point[16];
    if (t < 0 || t >= nthreads || i < 0) {
        snprintf(why, whylen, "key (layer %d, step %d) was never written", rec->key.layer, rec->key.step);
        return -1;
    }
    tt_key k;
    rel_key_of(t, (uint64_t)i, point, &k);
    if (strcmp(rec->key.point, k.point) || strcmp(rec->key.prompt_id, k.prompt_id) ||
        strcmp(rec->key.phase, k.phase) || rec->key.token_id != k.token_id || rec->key.pos_id != k.pos_id) {
        snprintf(why, whylen, "key of (%d, %" PRId64 ") differs: point %s token %d", t, i, rec->key.point,
                 rec->key.token_id);
        return -1;
    }
    *t_out = t;
    *i_out = i;
    rel_spec s;
    rel_spec_of(seed, t, (uint64_t)i, max_bytes, &s);
    if (rec->dtype != s.dtype || rec->ndim != s.ndim || rec->nbytes != s.nbytes) {
        snprintf(why, whylen, "(%d, %" PRId64 "): dtype %d ndim %d nbytes %" PRIu64 ", expected %d %d %" PRIu64,
                 t, i, (int)rec->dtype, rec->ndim, rec->nbytes, (int)s.dtype, s.ndim, s.nbytes);
        return -1;
    }
    for (int d = 0; d < s.ndim; d++)
        if (rec->shape[d] != s.shape[d]) {
            snprintf(why, whylen, "(%d, %" PRId64 "): shape differs in dimension %d", t, i, d);
            return -1;
        }
    int has_payload = (rec->flags & TT_REC_HAS_PAYLOAD) != 0;
    if (has_payload == s.meta_only || ((rec->flags & TT_REC_HAS_HASH) == 0)) {
        snprintf(why, whylen, "(%d, %" PRId64 "): flags 0x%x", t, i, rec->flags);
        return -1;
    }
    if (s.meta_only && rec->hash != s.hash) {
        snprintf(why, whylen, "(%d, %" PRId64 "): hash %016" PRIx64 ", expected %016" PRIx64, t, i, rec->hash,
                 s.hash);
        return -1;
    }
    return 0;
}

/* ---- files in memory --------------------------------------------------------------------------------------- */

/* A memfd holding len bytes of p; its path (/proc/self/fd/N) in path. @return : the fd or -1. */
static inline int rel_memfd(const uint8_t *p, size_t len, char *path, size_t pathlen)
{
    int fd = memfd_create("tt_reliability", 0);
    if (fd < 0)
        return -1;
    size_t off = 0;
    while (off < len) {
        ssize_t k = pwrite(fd, p + off, len - off, (off_t)off);
        if (k <= 0) {
            close(fd);
            return -1;
        }
        off += (size_t)k;
    }
    snprintf(path, pathlen, "/proc/self/fd/%d", fd);
    return fd;
}

static inline const char *rel_tmpdir(void)
{
    const char *d = getenv("TMPDIR");
    return d && *d ? d : "/tmp";
}

#endif
