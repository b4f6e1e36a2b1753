/*
 * test_writer_buffers.c — the writer keeps written tensor buffers and gives them to later puts
 * (libtrace/src/writer_bufs.c). Checked here:
 *   - the rules: which kept buffer suits a tensor (capacity n to n + n/4, the smallest), the oldest goes when
 *     16 are kept, a buffer that does not fit under the bound is not kept, and close frees them all;
 *   - puts one at a time (flushed, so every buffer is back before the next put): the second put of a size takes
 *     the first one's buffer, a tensor too small for a buffer does not, and zero-copy records (the device path)
 *     neither take one nor leave theirs behind, their release called exactly once;
 *   - puts from three threads through a 5 MiB bound, copies and zero-copy records mixed, blocking and dropping:
 *     what the bound counts (bytes in flight, workers' memory, kept buffers) never passes it, buffers are
 *     reused, and every record reads back byte for byte.
 * White box: it includes the writer's private header to look at the accounting under the writer's lock.
 */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>
#include <stdatomic.h>

#include "test_support.h"
#include "tt_test.h"
#include "writer_impl.h"

#define MIB ((uint64_t)1 << 20)

static tt_writer *open_writer(const char *path, uint64_t inflight, tt_on_full policy)
{
    tt_writer_options o = ts_opts();
    o.inflight_bytes = inflight;
    o.on_full = policy;
    o.threads = 2;
    o.chunk_bytes = 64 << 10;
    o.batch_records = 16;
    tt_writer *w = NULL;
    CHECK_STATUS(tt_writer_open(&w, path, &o), TT_OK);
    return w;
}

/* ---- the rules ------------------------------------------------------------------------------------------- */

static void test_rules(void)
{
    char path[256];
    tt_writer *w = open_writer(ts_path(path, sizeof path, "rules.tt"), 64 * MIB, TT_ON_FULL_BLOCK);
    pthread_mutex_lock(&w->mu);
    uint64_t base = tt__writer_held(w); /* the workers' memory */
    uint8_t *a = malloc(MIB), *b = malloc(2 * MIB), *c = malloc(4 * MIB);
    CHECK(tt__buf_keep(w, a, MIB) == NULL);
    CHECK(tt__buf_keep(w, b, 2 * MIB) == NULL);
    CHECK(tt__buf_keep(w, c, 4 * MIB) == NULL);
    CHECK_EQ_U64(w->buf_bytes, 7 * MIB);
    CHECK_EQ_U64(tt__writer_held(w), base + 7 * MIB); /* kept buffers count in the bound */

    CHECK_EQ_INT(tt__buf_find(w, MIB), 0);
    CHECK_EQ_INT(tt__buf_find(w, 900 << 10), 0);     /* 1 MiB for 900 KiB: within a quarter */
    CHECK_EQ_INT(tt__buf_find(w, 800 << 10), -1);    /* 1 MiB for 800 KiB: over a quarter */
    CHECK_EQ_INT(tt__buf_find(w, 2 * MIB), 1);       /* exact; 4 MiB would fit no better */
    CHECK_EQ_INT(tt__buf_find(w, 3 * MIB + MIB / 2), 2);
    CHECK_EQ_INT(tt__buf_find(w, 3 * MIB), -1);      /* 4 MiB for 3 MiB: over a quarter */
    CHECK_EQ_INT(tt__buf_find(w, 5 * MIB), -1);      /* nothing large enough */

    uint64_t cap = 0;
    uint8_t *got = tt__buf_take(w, tt__buf_find(w, 3 * MIB + MIB / 2), &cap);
    CHECK(got == c);
    CHECK_EQ_U64(cap, 4 * MIB);
    CHECK_EQ_U64(w->buf_bytes, 3 * MIB);
    CHECK_EQ_U64(w->buf_reused, 1);
    free(got);

    uint8_t *huge = malloc(16);
    CHECK(tt__buf_keep(w, huge, 62 * MIB) == huge); /* would pass the 64 MiB bound: not kept */
    CHECK_EQ_U64(w->buf_bytes, 3 * MIB);
    free(huge);

    /* 16 at most: the oldest (a) makes room */
    for (int i = 0; i < 14; i++)
        CHECK(tt__buf_keep(w, malloc(1000 + (size_t)i), 1000 + (uint64_t)i) == NULL);
    CHECK_EQ_INT(w->nbufs, 16);
    uint8_t *last = malloc(4000);
    CHECK(tt__buf_keep(w, last, 4000) == a);
    free(a);
    CHECK_EQ_INT(w->nbufs, 16);
    CHECK_EQ_INT(tt__buf_find(w, MIB), -1);

    /* eviction spares the buffer a put is about to take */
    int keep = tt__buf_find(w, 2 * MIB);
    CHECK(keep >= 0);
    CHECK_EQ_INT(tt__buf_evict(w, keep), 1); /* b, the oldest, is spared: the next one goes */
    CHECK_EQ_INT(w->nbufs, 15);
    CHECK(w->buf_p[0] == b);
    pthread_mutex_unlock(&w->mu);

    CHECK_STATUS(tt_writer_close(w), TT_OK); /* frees every kept buffer (a leak would show under ASan) */
    tt_writer_mem m;
    CHECK_STATUS(tt__writer_mem_stats(w, &m, 0), TT_OK);
    CHECK_EQ_INT(m.kept, 0);
    CHECK_EQ_U64(m.kept_bytes, 0);
    tt_writer_free(w);
    unlink(path);
}

/* ---- data ------------------------------------------------------------------------------------------------ */

/* Activation-like values of each dtype, made once; a record's content is a window of them. */
#define POOL_BYTES (6 * MIB)
static uint8_t *pool_f32, *pool_bf16;

/* The content of record (rank t, step i): deterministic, so a reader can check it without keeping it; the
 * record's rank and step in its first bytes make it unique. */
static uint8_t *content(tt_dtype dt, uint64_t nbytes, int t, int i)
{
    const uint8_t *pool = dt == TT_BF16 ? pool_bf16 : pool_f32;
    uint64_t off = ((uint64_t)t * 31u + (uint64_t)i) * 4096u % (POOL_BYTES - nbytes + 1) / 4 * 4;
    uint8_t *p = malloc(nbytes + 1);
    memcpy(p, pool + off, nbytes);
    if (nbytes >= 8) {
        int32_t id[2] = {t, i};
        memcpy(p, id, sizeof id);
    }
    return p;
}

static int put_copy(tt_writer *w, tt_dtype dt, uint64_t nbytes, int t, int i)
{
    tt_key k = TT_KEY_INIT;
    k.point = "x";
    k.rank = t;
    k.step = i;
    uint64_t shape[1] = {nbytes / tt_dtype_size(dt)};
    uint8_t *p = content(dt, nbytes, t, i);
    int rc = tt_put(w, &k, dt, 1, shape, p);
    free(p);
    return rc;
}

typedef struct released {
    atomic_int calls;
    atomic_uintptr_t last; /* the buffer of the latest call */
} released;

static void on_release(void *ctx, void *buf)
{
    released *r = ctx;
    atomic_fetch_add(&r->calls, 1);
    atomic_store(&r->last, (uintptr_t)buf);
    free(buf);
}

/* A record whose bytes the writer takes over (tt__writer_submit with copy = 0, as device capture does); with
 * rel NULL the writer frees them itself. */
static int put_owned(tt_writer *w, tt_dtype dt, uint64_t nbytes, int t, int i, released *rel, uintptr_t *buf)
{
    tt_record rec;
    memset(&rec, 0, sizeof rec);
    rec.key = (tt_key)TT_KEY_INIT;
    rec.key.point = "x";
    rec.key.rank = t;
    rec.key.step = i;
    rec.dtype = dt;
    rec.ndim = 1;
    rec.shape[0] = nbytes / tt_dtype_size(dt);
    uint8_t *p = content(dt, nbytes, t, i);
    if (buf)
        *buf = (uintptr_t)p;
    tt_submit s = {&rec, p, 0, rel ? on_release : NULL, rel, 1, 0};
    return tt__writer_submit(w, &s);
}

/* Reads every record back and compares it with content(); @return : the records checked. */
static uint64_t check_file(const char *path, uint64_t expect_records)
{
    tt_reader *r = NULL;
    CHECK_STATUS(tt_reader_open(&r, path, NULL), TT_OK);
    if (!r)
        return 0;
    uint64_t n = tt_reader_count(r), ok = 0;
    CHECK_EQ_U64(n, expect_records);
    for (uint64_t i = 0; i < n; i++) {
        tt_record rec;
        CHECK_STATUS(tt_reader_record(r, i, &rec), TT_OK);
        uint8_t *got = malloc(rec.nbytes + 1);
        uint8_t *want = content(rec.dtype, rec.nbytes, rec.key.rank, rec.key.step);
        CHECK_STATUS(tt_reader_read(r, i, got, rec.nbytes), TT_OK);
        if (memcmp(got, want, rec.nbytes) == 0)
            ok++;
        else
            fprintf(stderr, "record %llu (rank %d step %d, %llu bytes) differs\n", (unsigned long long)i,
                    rec.key.rank, rec.key.step, (unsigned long long)rec.nbytes);
        free(got);
        free(want);
    }
    CHECK_EQ_U64(ok, n);
    tt_reader_close(r);
    return ok;
}

/* ---- one put at a time ----------------------------------------------------------------------------------- */

static void test_sequential(void)
{
    char path[256];
    tt_writer *w = open_writer(ts_path(path, sizeof path, "seq.tt"), 64 * MIB, TT_ON_FULL_BLOCK);
    tt_writer_mem m;
    /* 1 MiB and 2.5 MiB (the second from the huge-page allocation), three times each: each size misses once */
    uint64_t sizes[2] = {MIB, 5 * MIB / 2};
    int step = 0;
    for (int round = 0; round < 3; round++)
        for (int s = 0; s < 2; s++) {
            CHECK_STATUS(put_copy(w, s ? TT_BF16 : TT_F32, sizes[s], 0, step++), TT_OK);
            CHECK_STATUS(tt_writer_flush(w), TT_OK); /* written: its buffer is kept before the flush returns */
            tt__writer_mem_stats(w, &m, 0);
            CHECK_EQ_INT(m.kept, round == 0 ? s + 1 : 2);
            CHECK_EQ_U64(m.kept_bytes, round == 0 && s == 0 ? MIB : MIB + 5 * MIB / 2);
            CHECK_EQ_U64(m.inflight, 0);
        }
    CHECK_EQ_U64(m.reused, 4);

    /* 700 KiB: the 1 MiB buffer is too large for it (over a quarter spare), so a new one */
    CHECK_STATUS(put_copy(w, TT_F32, 700 << 10, 0, step++), TT_OK);
    CHECK_STATUS(tt_writer_flush(w), TT_OK);
    tt__writer_mem_stats(w, &m, 0);
    CHECK_EQ_U64(m.reused, 4);
    CHECK_EQ_INT(m.kept, 3);
    /* 900 KiB takes the 1 MiB buffer and brings it back whole; while the record was in flight, its reservation
     * held the whole buffer: what is held once it is back was reached (counted) at the admission already */
    tt__writer_mem_stats(w, &m, 1);
    CHECK_STATUS(put_copy(w, TT_F32, 900 << 10, 0, step++), TT_OK);
    CHECK_STATUS(tt_writer_flush(w), TT_OK);
    tt__writer_mem_stats(w, &m, 0);
    CHECK_EQ_U64(m.reused, 5);
    CHECK_EQ_INT(m.kept, 3);
    CHECK_EQ_U64(m.kept_bytes, MIB + 5 * MIB / 2 + (700 << 10));
    CHECK(m.peak >= m.held + (sizeof(tt_job) + 64)); /* + the record's bookkeeping, released since */
    CHECK(m.held <= m.limit);

    /* zero-copy records: a kept buffer would suit them, but they bring their own and it goes back to them */
    released rel;
    atomic_init(&rel.calls, 0);
    atomic_init(&rel.last, 0);
    uintptr_t handed = 0;
    CHECK_STATUS(put_owned(w, TT_F32, MIB, 0, step++, &rel, &handed), TT_OK);
    CHECK_STATUS(put_owned(w, TT_F32, MIB, 0, step++, NULL, NULL), TT_OK); /* the writer frees this one */
    CHECK_STATUS(tt_writer_flush(w), TT_OK);
    CHECK_EQ_INT(atomic_load(&rel.calls), 1);
    CHECK(atomic_load(&rel.last) == handed);
    tt__writer_mem_stats(w, &m, 0);
    CHECK_EQ_U64(m.reused, 5);
    CHECK_EQ_INT(m.kept, 3);
    CHECK_EQ_U64(m.kept_bytes, MIB + 5 * MIB / 2 + (700 << 10));

    CHECK_STATUS(tt_writer_close(w), TT_OK);
    CHECK_EQ_INT(atomic_load(&rel.calls), 1);
    tt__writer_mem_stats(w, &m, 0);
    CHECK_EQ_INT(m.kept, 0);
    tt_writer_free(w);
    check_file(path, (uint64_t)step);
    unlink(path);
}

/* ---- several threads, a small bound ---------------------------------------------------------------------- */

#define THREADS 3
#define PUTS 30

/* Sizes that take the job path (over the 16 KiB pack limit at 64 KiB chunks), the last one over 2 MiB. */
static const uint64_t stress_sizes[4] = {20 << 10, 160 << 10, 600 << 10, 2 * MIB + (4 << 10)};

typedef struct putter_ctx {
    tt_writer *w;
    int t;
    released *rel;
    int ok, dropped, failed, owned;
} putter_ctx;

static void *putter(void *arg)
{
    putter_ctx *c = arg;
    for (int i = 0; i < PUTS; i++) {
        uint64_t n = stress_sizes[(c->t + i) % 4];
        tt_dtype dt = (i / 4) % 2 ? TT_BF16 : TT_F32;
        int rc;
        if (c->t == THREADS - 1 && i % 2) {
            rc = put_owned(c->w, dt, n, c->t, i, c->rel, NULL);
            c->owned++;
        } else {
            rc = put_copy(c->w, dt, n, c->t, i);
        }
        if (rc == TT_OK)
            c->ok++;
        else if (rc == TT_DROPPED)
            c->dropped++;
        else
            c->failed++;
    }
    return NULL;
}

static void test_threads(tt_on_full policy)
{
    char path[256];
    uint64_t limit = 5 * MIB;
    tt_writer *w = open_writer(ts_path(path, sizeof path, policy == TT_ON_FULL_DROP ? "drop.tt" : "block.tt"), limit,
                               policy);
    released rel;
    atomic_init(&rel.calls, 0);
    atomic_init(&rel.last, 0);
    /* warm-up, one at a time: the workers' zstd contexts reach their size (they are charged to the bound as they
     * grow, after the admissions that made them grow) */
    int warm = 0;
    for (int s = 0; s < 4; s++)
        for (int d = 0; d < 2; d++) {
            CHECK_STATUS(put_copy(w, d ? TT_BF16 : TT_F32, stress_sizes[s], 99, warm++), TT_OK);
            CHECK_STATUS(tt_writer_flush(w), TT_OK);
        }
    tt_writer_mem m0, m;
    CHECK_STATUS(tt__writer_mem_stats(w, &m0, 1), TT_OK);
    CHECK(m0.held <= limit);

    pthread_t th[THREADS];
    putter_ctx c[THREADS];
    for (int t = 0; t < THREADS; t++) {
        c[t] = (putter_ctx){w, t, &rel, 0, 0, 0, 0};
        pthread_create(&th[t], NULL, putter, &c[t]);
    }
    int ok = 0, dropped = 0, failed = 0, owned = 0;
    for (int t = 0; t < THREADS; t++) {
        pthread_join(th[t], NULL);
        ok += c[t].ok, dropped += c[t].dropped, failed += c[t].failed, owned += c[t].owned;
    }
    CHECK_STATUS(tt__writer_mem_stats(w, &m, 0), TT_OK);
    /* the bound held throughout, but for what the contexts grew since the warm-up */
    CHECK(m.peak <= limit + (m.workers - m0.workers));
    if (m.peak > limit + (m.workers - m0.workers))
        fprintf(stderr, "peak %llu, limit %llu, workers %llu -> %llu\n", (unsigned long long)m.peak,
                (unsigned long long)limit, (unsigned long long)m0.workers, (unsigned long long)m.workers);
    CHECK(m.kept <= BUF_KEEP);
    if (policy == TT_ON_FULL_BLOCK) {
        CHECK_EQ_INT(dropped, 0);
        CHECK(m.reused > m0.reused); /* sizes repeat: written buffers went to later puts */
    }
    CHECK_STATUS(tt_writer_close(w), TT_OK);
    CHECK_EQ_INT(failed, 0);
    CHECK_EQ_INT(ok + dropped, THREADS * PUTS);
    CHECK_EQ_INT(atomic_load(&rel.calls), owned); /* every zero-copy buffer released once, dropped ones too */
    tt_writer_counters wc;
    tt_writer_get_counters(w, &wc);
    CHECK_EQ_U64(wc.dropped, (uint64_t)dropped);
    CHECK_EQ_U64(wc.written, (uint64_t)(ok + warm));
    tt__writer_mem_stats(w, &m, 0);
    CHECK_EQ_INT(m.kept, 0);
    CHECK_EQ_U64(m.inflight, 0);
    tt_writer_free(w);
    check_file(path, (uint64_t)(ok + warm));
    unlink(path);
}

int main(void)
{
    pool_f32 = ts_data(TT_F32, POOL_BYTES / 4, 1);
    pool_bf16 = ts_data(TT_BF16, POOL_BYTES / 2, 2);
    test_rules();
    test_sequential();
    test_threads(TT_ON_FULL_BLOCK);
    test_threads(TT_ON_FULL_DROP);
    free(pool_f32);
    free(pool_bf16);
    return tt_test_exit();
}
