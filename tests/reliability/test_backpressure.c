/*
 * test_backpressure.c — 8 threads putting at once through the smallest in-flight bound (1 MiB) with tensors of
 * 16..128 KiB, so that only a handful fit in flight and almost every put meets a full writer; a ninth thread
 * flushes and reads the counters meanwhile.
 *   block  every put returns TT_OK (nothing lost); the file holds exactly every record, bytes exact, each
 *          thread's records in its put order; footer counters: puts = written = all, dropped = 0.
 *   drop   every put returns TT_OK or TT_DROPPED; the file holds exactly the records whose put returned TT_OK
 *          (checked record by record, not only counted), and no other; footer counters: dropped = the
 *          TT_DROPPED returns, written = the TT_OK returns, puts = all; drops did happen.
 * Counters read while writing never go backwards. Scale: 400 puts per thread (60 in sanitizer builds), 2000 with
 * TT_RELIABILITY_LONG=1.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdatomic.h>

#include "rel_support.h"
#include "tt_test.h"

#define THREADS 8
#define MIN_BYTES (16u << 10)
#define MAX_BYTES (128u << 10)

static int g_puts;
static uint64_t g_seed;

typedef struct tctx {
    tt_writer *w;
    int t;
    uint8_t *status; /* per put: 1 ok, 2 dropped, 3 error */
    int ok, dropped, failed;
} tctx;

static uint64_t size_of(int t, int i)
{
    uint64_t h = rel_key_hash(g_seed, t, (uint64_t)i);
    return (MIN_BYTES + h % (MAX_BYTES - MIN_BYTES)) & ~(uint64_t)3;
}

static void fill(int t, int i, uint8_t *p, uint64_t n)
{
    uint64_t r = rel_key_hash(g_seed, t, (uint64_t)i);
    for (uint64_t k = 0; k < n; k += 8) {
        uint64_t v = rel_next(&r);
        memcpy(p + k, &v, n - k < 8 ? (size_t)(n - k) : 8);
    }
}

static void *putter(void *arg)
{
    tctx *c = arg;
    uint8_t *buf = malloc(MAX_BYTES);
    char point[16];
    snprintf(point, sizeof point, "t%d", c->t);
    for (int i = 0; i < g_puts; i++) {
        uint64_t n = size_of(c->t, i);
        fill(c->t, i, buf, n);
        tt_key k = TT_KEY_INIT;
        k.point = point;
        k.layer = c->t;
        k.step = i;
        uint64_t shape[1] = {n / 4};
        int rc = tt_put(c->w, &k, TT_F32, 1, shape, buf);
        c->status[i] = rc == TT_OK ? 1 : rc == TT_DROPPED ? 2 : 3;
        c->ok += rc == TT_OK;
        c->dropped += rc == TT_DROPPED;
        c->failed += rc != TT_OK && rc != TT_DROPPED;
    }
    free(buf);
    return NULL;
}

typedef struct watcher {
    tt_writer *w;
    atomic_int stop;
    int flushes, backwards;
} watcher;

static void *watch(void *arg)
{
    watcher *x = arg;
    tt_writer_counters prev = {0}, c;
    while (!atomic_load(&x->stop)) {
        if (tt_writer_flush(x->w) == TT_OK)
            x->flushes++;
        tt_writer_get_counters(x->w, &c);
        if (c.puts < prev.puts || c.written < prev.written || c.dropped < prev.dropped ||
            c.file_bytes < prev.file_bytes)
            x->backwards++;
        prev = c;
        struct timespec ts = {0, 2000000};
        nanosleep(&ts, NULL);
    }
    return NULL;
}

static void run(tt_on_full policy)
{
    const char *name = policy == TT_ON_FULL_DROP ? "drop" : "block";
    char path[512];
    snprintf(path, sizeof path, "%s/tt_backpressure_%d_%s.tt", rel_tmpdir(), (int)getpid(), name);
    tt_writer_options o = TT_WRITER_OPTIONS_INIT;
    o.ignore_env = 1;
    o.overwrite = 1;
    o.on_full = policy;
    o.inflight_bytes = 1u << 20; /* the smallest bound the writer takes */
    o.threads = 3;
    o.chunk_bytes = 16384;
    o.batch_records = 50;
    tt_writer *w;
    CHECK_STATUS(tt_writer_open(&w, path, &o), TT_OK);
    double t0 = rel_now();
    pthread_t th[THREADS], wt;
    tctx c[THREADS];
    watcher x = {w, 0, 0, 0};
    atomic_init(&x.stop, 0);
    pthread_create(&wt, NULL, watch, &x);
    for (int t = 0; t < THREADS; t++) {
        c[t] = (tctx){w, t, calloc((size_t)g_puts, 1), 0, 0, 0};
        pthread_create(&th[t], NULL, putter, &c[t]);
    }
    int ok = 0, dropped = 0, failed = 0;
    for (int t = 0; t < THREADS; t++) {
        pthread_join(th[t], NULL);
        ok += c[t].ok, dropped += c[t].dropped, failed += c[t].failed;
    }
    atomic_store(&x.stop, 1);
    pthread_join(wt, NULL);
    CHECK_STATUS(tt_writer_close(w), TT_OK);
    double el = rel_now() - t0;
    tt_writer_counters wc;
    tt_writer_get_counters(w, &wc);
    tt_writer_free(w);
    CHECK_EQ_INT(failed, 0);
    CHECK_EQ_INT(ok + dropped, THREADS * g_puts);
    CHECK_EQ_INT(x.backwards, 0);
    if (policy == TT_ON_FULL_BLOCK)
        CHECK_EQ_INT(dropped, 0);
    else
        CHECK(dropped > 0); /* the bound was reached: otherwise this run proved nothing */
    CHECK_EQ_U64(wc.puts, (uint64_t)THREADS * g_puts);
    CHECK_EQ_U64(wc.dropped, (uint64_t)dropped);
    CHECK_EQ_U64(wc.written, (uint64_t)ok);

    tt_reader *r;
    CHECK_STATUS(tt_reader_open(&r, path, NULL), TT_OK);
    tt_file_info info;
    tt_reader_info(r, &info);
    CHECK(info.footer_intact && info.counters_known);
    CHECK_EQ_U64(info.counters.puts, (uint64_t)THREADS * g_puts);
    CHECK_EQ_U64(info.counters.dropped, (uint64_t)dropped);
    CHECK_EQ_U64(info.counters.written, (uint64_t)ok);
    CHECK_EQ_U64(tt_reader_count(r), (uint64_t)ok);
    uint8_t *seen[THREADS];
    int last[THREADS];
    for (int t = 0; t < THREADS; t++) {
        seen[t] = calloc((size_t)g_puts, 1);
        last[t] = -1;
    }
    uint8_t *buf = malloc(MAX_BYTES), *want = malloc(MAX_BYTES);
    uint64_t bytes = 0;
    for (uint64_t i = 0; i < tt_reader_count(r); i++) {
        tt_record rec;
        CHECK_STATUS(tt_reader_record(r, i, &rec), TT_OK);
        int t = rec.key.layer, s = rec.key.step;
        if (t < 0 || t >= THREADS || s < 0 || s >= g_puts || seen[t][s]) {
            fprintf(stderr, "%s: record %llu (%d, %d) was never put or appears twice\n", name, (unsigned long long)i,
                    t, s);
            tt_test_failures++;
            continue;
        }
        seen[t][s] = 1;
        if (c[t].status[s] != 1) {
            fprintf(stderr, "%s: record (%d, %d) is in the file but its put returned %s\n", name, t, s,
                    c[t].status[s] == 2 ? "TT_DROPPED" : "an error");
            tt_test_failures++;
        }
        CHECK(s > last[t]);
        last[t] = s;
        uint64_t n = size_of(t, s);
        fill(t, s, want, n);
        CHECK_EQ_U64(rec.nbytes, n);
        if (tt_reader_read(r, i, buf, MAX_BYTES) != TT_OK || memcmp(buf, want, (size_t)n) != 0) {
            fprintf(stderr, "%s: record (%d, %d) does not read back exact: %s\n", name, t, s, tt_reader_errmsg(r));
            tt_test_failures++;
        }
        bytes += n;
    }
    for (int t = 0; t < THREADS; t++) {
        for (int s = 0; s < g_puts; s++)
            if (c[t].status[s] == 1 && !seen[t][s]) {
                fprintf(stderr, "%s: record (%d, %d) was put (TT_OK) but is not in the file\n", name, t, s);
                tt_test_failures++;
            }
        free(seen[t]);
        free(c[t].status);
    }
    free(buf);
    free(want);
    tt_reader_close(r);
    unlink(path);
    printf("test_backpressure: %-5s %d threads x %d puts through a 1 MiB bound in %.1f s: %d written, %d dropped "
           "(footer: puts %llu, written %llu, dropped %llu), %.0f MiB checked byte for byte, %d flushes meanwhile\n",
           name, THREADS, g_puts, el, ok, dropped, (unsigned long long)info.counters.puts,
           (unsigned long long)info.counters.written, (unsigned long long)info.counters.dropped,
           (double)bytes / (1 << 20), x.flushes);
}

int main(void)
{
    g_seed = rel_seed();
    g_puts = rel_long() ? 2000 : REL_SANITIZED ? 60 : 400;
    printf("test_backpressure: seed 0x%016llx\n", (unsigned long long)g_seed);
    run(TT_ON_FULL_BLOCK);
    run(TT_ON_FULL_DROP);
    return tt_test_exit();
}
