/*
 * gpu_correctness.hip — device capture on a real GPU, checked against host captures read back with the reader:
 *   full      device captures of every kind of tensor are byte-identical to tt_put() of the same data (same hash);
 *   order     a put records the tensor as its stream had it at the put, though later kernels overwrite it;
 *   stats     stats mode on the device: exactly the kernels' reference (tt_gs_reduce_host), and the writer's
 *             tt_stats_compute() up to the rounding of the sums;
 *   graph     puts captured into a graph (global capture mode): each of the replays records its own step;
 *   threads   several threads, each with its own stream, capturing at once;
 *   full-pool with the stream held, block admits what fits and loses nothing; drop drops exactly the rest and
 *             counts it; a slow writer makes the pinned pool wait and still loses nothing.
 * Prints PASS/FAIL per part; exit 0 when all pass, 1 on a failure, 77 (skip) without a GPU.
 */
#include <math.h>
#include <pthread.h>

#include "gpu_common.h"
#include "gpu_ref.h"

static int failures;

#define EXPECT(cond, ...)                                                                                     \
    do {                                                                                                      \
        if (!(cond)) {                                                                                        \
            failures++;                                                                                       \
            fprintf(stderr, "FAIL %s:%d: %s: ", __FILE__, __LINE__, #cond);                                   \
            fprintf(stderr, __VA_ARGS__);                                                                     \
            fputc('\n', stderr);                                                                              \
        }                                                                                                     \
    } while (0)

#define EXPECT_RC(call, want)                                                                                 \
    do {                                                                                                      \
        int er_ = (call);                                                                                     \
        EXPECT(er_ == (want), "%s returned %s", #call, tt_status_name(er_));                                 \
    } while (0)

static tt_key key(const char *point, int layer, int step)
{
    tt_key k = TT_KEY_INIT;
    k.point = point;
    k.prompt_id = "gpu";
    k.phase = "test";
    k.layer = layer;
    k.step = step;
    return k;
}

static uint64_t rnd(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

/* n elements of dt with varied values; `specials` adds NaN, infinities, signed zeros. */
static void *host_data(tt_dtype dt, size_t n, uint64_t seed, int specials)
{
    float *f = (float *)malloc(n * sizeof(float) + 4);
    for (size_t i = 0; i < n; i++) {
        f[i] = ((float)(rnd(&seed) % 200001) - 100000.0f) / 2500.0f;
        if (specials && i % 1009 == 3)
            f[i] = NAN;
        if (specials && i % 2003 == 5)
            f[i] = (i & 1) ? INFINITY : -INFINITY;
        if (specials && i % 503 == 7)
            f[i] = -0.0f;
    }
    void *p = malloc(n * tt_dtype_size(dt) + 16);
    tt_from_f32(dt, f, n, p);
    free(f);
    return p;
}

static void *to_device(const void *host, size_t n)
{
    void *d = NULL;
    GPU_CHECK(hipMalloc(&d, n + 16));
    GPU_CHECK(hipMemcpy(d, host, n, hipMemcpyHostToDevice));
    return d;
}

static tt_device *open_device(tt_writer *w, const tt_device_options *o)
{
    tt_device *d = NULL;
    int rc = tt_device_open(&d, w, o);
    if (rc != TT_OK) {
        fprintf(stderr, "tt_device_open: %s\n", tt_device_errmsg(d));
        exit(2);
    }
    return d;
}

static tt_device_options opts(uint64_t staging, uint64_t pinned, uint32_t inflight, tt_on_full on_full)
{
    tt_device_options o = TT_DEVICE_OPTIONS_INIT;
    o.staging_bytes = staging;
    o.pinned_bytes = pinned;
    o.max_inflight = inflight;
    o.on_full = on_full;
    return o;
}

static void close_all(tt_device *d, tt_writer *w)
{
    EXPECT_RC(tt_device_close(d), TT_OK);
    if (tt_device_errmsg(d)[0])
        fprintf(stderr, "  device: %s\n", tt_device_errmsg(d));
    tt_device_free(d);
    EXPECT_RC(tt_writer_close(w), TT_OK);
    tt_writer_free(w);
}

static tt_reader *open_reader(const char *path)
{
    tt_reader *r = NULL;
    if (tt_reader_open(&r, path, NULL) != TT_OK) {
        fprintf(stderr, "tt_reader_open %s: %s\n", path, tt_reader_errmsg(r));
        exit(2);
    }
    return r;
}

static int find(tt_reader *r, const char *point, int layer, int step, tt_record *rec)
{
    tt_key k = TT_KEY_INIT;
    k.point = point;
    k.layer = layer;
    k.step = step;
    return tt_reader_find(r, &k, rec) == TT_OK;
}

static int read_equal(tt_reader *r, const tt_record *rec, const void *want, size_t n)
{
    void *got = malloc(n + 1);
    int ok = rec->nbytes == n && tt_reader_read(r, rec->index, got, n) == TT_OK && memcmp(got, want, n) == 0;
    free(got);
    return ok;
}

static void part(const char *name, int before)
{
    printf("%-10s %s\n", name, failures == before ? "PASS" : "FAIL");
    fflush(stdout);
}

/* ---- full: byte-identical to host captures ---------------------------------------------------------------- */

static void test_full(void)
{
    int before = failures;
    char pd[512], ph[512];
    tt_writer *wd = gpu_open_writer(gpu_path(pd, sizeof pd, "full_dev.tt"), TT_MODE_FULL, TT_ON_FULL_BLOCK, 0);
    tt_writer *wh = gpu_open_writer(gpu_path(ph, sizeof ph, "full_host.tt"), TT_MODE_FULL, TT_ON_FULL_BLOCK, 0);
    tt_device_options o = opts(64 << 20, 64 << 20, 256, TT_ON_FULL_BLOCK);
    tt_device *d = open_device(wd, &o);
    hipStream_t s;
    GPU_CHECK(hipStreamCreateWithFlags(&s, hipStreamNonBlocking));
    static const tt_dtype dts[] = {TT_F32, TT_F16, TT_BF16, TT_I8, TT_I32, TT_F8_E4M3FNUZ, TT_F64, TT_BF16};
    static const uint64_t rows[] = {1, 7, 512, 333, 64, 1000, 3, 2048};
    static const uint64_t cols[] = {4096, 257, 4096, 1, 4096, 4095, 11008, 4096};
    enum { NT = 8 };
    void *host[NT], *dev[NT];
    for (int i = 0; i < NT; i++) {
        size_t n = (size_t)(rows[i] * cols[i]), bytes = n * tt_dtype_size(dts[i]);
        host[i] = host_data(dts[i], n, 100 + (uint64_t)i, i == 1);
        dev[i] = to_device(host[i], bytes);
        uint64_t shape[2] = {rows[i], cols[i]};
        tt_key k = key("full", i, 0);
        EXPECT_RC(tt_device_put(d, &k, dts[i], 2, shape, dev[i], s), TT_OK);
        EXPECT_RC(tt_put(wh, &k, dts[i], 2, shape, host[i]), TT_OK);
    }
    /* a view at a 2-byte offset (bf16 slice): the copy does not need alignment */
    uint64_t vshape[1] = {1000};
    tt_key kv = key("view", 0, 0);
    EXPECT_RC(tt_device_put(d, &kv, TT_BF16, 1, vshape, (char *)dev[2] + 2, s), TT_OK);
    EXPECT_RC(tt_put(wh, &kv, TT_BF16, 1, vshape, (char *)host[2] + 2), TT_OK);
    EXPECT_RC(tt_device_flush(d), TT_OK);
    tt_device_counters c;
    tt_device_get_counters(d, &c);
    EXPECT(c.handed == NT + 1, "handed %llu", (unsigned long long)c.handed);
    close_all(d, wd);
    EXPECT_RC(tt_writer_close(wh), TT_OK);
    tt_writer_free(wh);

    tt_reader *rd = open_reader(pd), *rh = open_reader(ph);
    EXPECT(tt_reader_count(rd) == tt_reader_count(rh), "%llu vs %llu records",
           (unsigned long long)tt_reader_count(rd), (unsigned long long)tt_reader_count(rh));
    for (int i = 0; i <= NT; i++) {
        tt_record a, b;
        const char *point = i < NT ? "full" : "view";
        int layer = i < NT ? i : 0;
        if (!find(rd, point, layer, 0, &a) || !find(rh, point, layer, 0, &b)) {
            EXPECT(0, "record %s/%d missing", point, layer);
            continue;
        }
        EXPECT(a.hash == b.hash, "%s/%d: hash %016llx vs host %016llx", point, layer, (unsigned long long)a.hash,
               (unsigned long long)b.hash);
        const void *want = i < NT ? host[i] : (const void *)((char *)host[2] + 2);
        EXPECT(read_equal(rd, &a, want, b.nbytes), "%s/%d: bytes differ from the host data", point, layer);
    }
    tt_reader_close(rd);
    tt_reader_close(rh);
    for (int i = 0; i < NT; i++) {
        free(host[i]);
        GPU_CHECK(hipFree(dev[i]));
    }
    GPU_CHECK(hipStreamDestroy(s));
    remove(pd);
    remove(ph);
    part("full", before);
}

/* ---- order: the snapshot is the value at the put, in stream order ---------------------------------------- */

static __global__ void fill_value_f32(float *x, uint64_t n, float v)
{
    for (uint64_t i = (uint64_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (uint64_t)gridDim.x * blockDim.x)
        x[i] = v + (float)(i % 4096) * 0.25f;
}

static void expected_values(float *x, size_t n, float v)
{
    for (size_t i = 0; i < n; i++)
        x[i] = v + (float)(i % 4096) * 0.25f;
}

static void test_order(void)
{
    int before = failures;
    char path[512];
    tt_writer *w = gpu_open_writer(gpu_path(path, sizeof path, "order.tt"), TT_MODE_FULL, TT_ON_FULL_BLOCK, 0);
    tt_device_options o = opts(128 << 20, 128 << 20, 64, TT_ON_FULL_BLOCK);
    tt_device *d = open_device(w, &o);
    hipStream_t s;
    GPU_CHECK(hipStreamCreateWithFlags(&s, hipStreamNonBlocking));
    enum { N = 512 * 4096, STEPS = 16 };
    float *buf;
    int *step;
    GPU_CHECK(hipMalloc((void **)&buf, N * sizeof(float)));
    GPU_CHECK(hipMalloc((void **)&step, sizeof(int)));
    GPU_CHECK(hipMemset(step, 0, sizeof(int)));
    uint64_t shape[2] = {512, 4096};
    for (int i = 0; i < STEPS; i++) { /* no host synchronisation: the buffer is rewritten right after each put */
        gpu_fill_step_f32<<<256, 256, 0, s>>>(buf, N, step);
        tt_key k = key("order", 0, i);
        EXPECT_RC(tt_device_put(d, &k, TT_F32, 2, shape, buf, s), TT_OK);
        gpu_increment<<<1, 1, 0, s>>>(step);
    }
    GPU_CHECK(hipStreamSynchronize(s));
    close_all(d, w);
    tt_reader *r = open_reader(path);
    float *want = (float *)malloc(N * sizeof(float));
    for (int i = 0; i < STEPS; i++) {
        tt_record rec;
        expected_values(want, N, (float)i);
        EXPECT(find(r, "order", 0, i, &rec) && read_equal(r, &rec, want, N * sizeof(float)),
               "step %d does not hold its own values", i);
    }
    free(want);
    tt_reader_close(r);
    GPU_CHECK(hipFree(buf));
    GPU_CHECK(hipFree(step));
    GPU_CHECK(hipStreamDestroy(s));
    remove(path);
    part("order", before);
}

/* ---- stats on the device ------------------------------------------------------------------------------------ */

static void check_stats(const tt_record *rec, tt_dtype dt, const void *host, size_t n, const char *what)
{
    tt_stats ref, want;
    gpu_ref_stats((int)dt, host, n, &ref);
    tt_stats_compute(dt, host, n, &want);
    EXPECT(rec->flags & TT_REC_HAS_STATS, "%s: no statistics", what);
    EXPECT(!(rec->flags & TT_REC_HAS_PAYLOAD), "%s: has a payload in stats mode", what);
    /* bit for bit what the kernels' reference computes (NaN compares as NaN) */
    const double g[5] = {rec->stats.min, rec->stats.max, rec->stats.mean, rec->stats.absmax, rec->stats.l2};
    const double e[5] = {ref.min, ref.max, ref.mean, ref.absmax, ref.l2};
    for (int i = 0; i < 5; i++)
        EXPECT((isnan(g[i]) && isnan(e[i])) || memcmp(&g[i], &e[i], sizeof(double)) == 0,
               "%s: statistic %d is %.17g, the kernels' reference says %.17g", what, i, g[i], e[i]);
    EXPECT(rec->stats.nan_count == want.nan_count && rec->stats.inf_count == want.inf_count, "%s: NaN/Inf counts",
           what);
    if (!isnan(want.min)) {
        EXPECT(rec->stats.min == want.min && rec->stats.max == want.max && rec->stats.absmax == want.absmax,
               "%s: min/max/absmax differ from tt_stats_compute", what);
        EXPECT(fabs(rec->stats.mean - want.mean) <= 1e-9 * (want.absmax > 1 ? want.absmax : 1),
               "%s: mean %.17g vs %.17g", what, rec->stats.mean, want.mean);
        EXPECT(fabs(rec->stats.l2 - want.l2) <= 1e-9 * want.l2, "%s: l2 %.17g vs %.17g", what, rec->stats.l2,
               want.l2);
    }
}

static void test_stats(void)
{
    int before = failures;
    char path[512];
    tt_writer *w = gpu_open_writer(gpu_path(path, sizeof path, "stats.tt"), TT_MODE_STATS, TT_ON_FULL_BLOCK, 0);
    tt_device_options o = opts(64 << 20, 64 << 20, 256, TT_ON_FULL_BLOCK);
    tt_device *d = open_device(w, &o);
    hipStream_t s;
    GPU_CHECK(hipStreamCreateWithFlags(&s, hipStreamNonBlocking));
    static const tt_dtype dts[] = {TT_F32, TT_F16, TT_BF16};
    static const size_t sizes[] = {1, 1000, 4097, 1 << 20, (size_t)16 << 20};
    enum { ND = 3, NS = 5 };
    void *host[ND][NS], *dev[ND][NS];
    for (int a = 0; a < ND; a++)
        for (int b = 0; b < NS; b++) {
            host[a][b] = host_data(dts[a], sizes[b], 7 + (uint64_t)(a * 10 + b), b % 2 == 1);
            dev[a][b] = to_device(host[a][b], sizes[b] * tt_dtype_size(dts[a]));
            uint64_t shape[1] = {sizes[b]};
            tt_key k = key("stats", a, b);
            EXPECT_RC(tt_device_put(d, &k, dts[a], 1, shape, dev[a][b], s), TT_OK);
        }
    EXPECT_RC(tt_device_flush(d), TT_OK);
    tt_device_counters c;
    tt_device_get_counters(d, &c);
    EXPECT(c.stats_on_device == ND * NS, "stats_on_device %llu", (unsigned long long)c.stats_on_device);
    EXPECT(c.bytes_to_host == (uint64_t)ND * NS * 64, "bytes_to_host %llu", (unsigned long long)c.bytes_to_host);
    close_all(d, w);
    tt_reader *r = open_reader(path);
    for (int a = 0; a < ND; a++)
        for (int b = 0; b < NS; b++) {
            tt_record rec;
            char what[64];
            snprintf(what, sizeof what, "%s x %zu", tt_dtype_name(dts[a]), sizes[b]);
            if (find(r, "stats", a, b, &rec))
                check_stats(&rec, dts[a], host[a][b], sizes[b], what);
            else
                EXPECT(0, "%s: record missing", what);
            free(host[a][b]);
            GPU_CHECK(hipFree(dev[a][b]));
        }
    tt_reader_close(r);
    GPU_CHECK(hipStreamDestroy(s));
    remove(path);
    part("stats", before);
}

/* ---- graph replays ------------------------------------------------------------------------------------------ */

static void graph_run(tt_mode mode, int replays, const char *label)
{
    int before = failures;
    char path[512];
    tt_writer *w = gpu_open_writer(gpu_path(path, sizeof path, "graph.tt"), mode, TT_ON_FULL_BLOCK, 0);
    tt_device_options o = opts(64 << 20, 64 << 20, 64, TT_ON_FULL_BLOCK);
    tt_device *d = open_device(w, &o);
    hipStream_t s;
    GPU_CHECK(hipStreamCreateWithFlags(&s, hipStreamNonBlocking));
    enum { N = 64 * 4096 };
    float *buf;
    int *step;
    GPU_CHECK(hipMalloc((void **)&buf, N * sizeof(float)));
    GPU_CHECK(hipMalloc((void **)&step, sizeof(int)));
    GPU_CHECK(hipMemset(step, 0, sizeof(int)));
    GPU_CHECK(hipDeviceSynchronize());
    uint64_t shape[2] = {64, 4096};
    hipGraph_t graph;
    hipGraphExec_t exec;
    GPU_CHECK(hipStreamBeginCapture(s, hipStreamCaptureModeGlobal));
    gpu_fill_step_f32<<<128, 256, 0, s>>>(buf, N, step);
    tt_key k = key("graph", 1, 0);
    int rc = tt_device_put(d, &k, TT_F32, 2, shape, buf, s);
    gpu_increment<<<1, 1, 0, s>>>(step);
    GPU_CHECK(hipStreamEndCapture(s, &graph));
    EXPECT(rc == TT_OK, "put under capture: %s: %s", tt_status_name(rc), tt_device_errmsg(d));
    if (rc != TT_OK) {
        GPU_CHECK(hipGraphDestroy(graph));
        close_all(d, w);
        part(label, before);
        return;
    }
    GPU_CHECK(hipGraphInstantiateWithFlags(&exec, graph, 0));
    for (int i = 0; i < replays; i++) /* back to back, no host synchronisation */
        GPU_CHECK(hipGraphLaunch(exec, s));
    GPU_CHECK(hipStreamSynchronize(s));
    EXPECT_RC(tt_device_flush(d), TT_OK);
    tt_device_counters c;
    tt_device_get_counters(d, &c);
    EXPECT(c.graph_replays == (uint64_t)replays && c.handed == (uint64_t)replays && c.dropped == 0,
           "replays %llu handed %llu dropped %llu", (unsigned long long)c.graph_replays,
           (unsigned long long)c.handed, (unsigned long long)c.dropped);
    GPU_CHECK(hipGraphExecDestroy(exec));
    GPU_CHECK(hipGraphDestroy(graph));
    close_all(d, w);
    tt_reader *r = open_reader(path);
    EXPECT(tt_reader_count(r) == (uint64_t)replays, "%llu records", (unsigned long long)tt_reader_count(r));
    float *want = (float *)malloc(N * sizeof(float));
    uint64_t last_seq = 0;
    for (int i = 0; i < replays && (uint64_t)i < tt_reader_count(r); i++) {
        tt_record rec;
        EXPECT_RC(tt_reader_record(r, (uint64_t)i, &rec), TT_OK);
        EXPECT(i == 0 || rec.seq > last_seq, "replay %d out of order", i);
        last_seq = rec.seq;
        expected_values(want, N, (float)i);
        char what[64];
        snprintf(what, sizeof what, "graph replay %d", i);
        if (mode == TT_MODE_FULL)
            EXPECT(read_equal(r, &rec, want, N * sizeof(float)), "replay %d does not hold its own values", i);
        else
            check_stats(&rec, TT_F32, want, N, what);
    }
    free(want);
    tt_reader_close(r);
    GPU_CHECK(hipFree(buf));
    GPU_CHECK(hipFree(step));
    GPU_CHECK(hipStreamDestroy(s));
    remove(path);
    part(label, before);
}

/* ---- threads and streams ------------------------------------------------------------------------------------ */

enum { TH = 4, TH_PUTS = 100, TH_N = 128 * 1024 };

typedef struct thr {
    tt_device *d;
    int id, ok;
} thr;

static void *thread_main(void *arg)
{
    thr *t = (thr *)arg;
    hipStream_t s;
    float *buf[4];
    GPU_CHECK(hipStreamCreateWithFlags(&s, hipStreamNonBlocking));
    for (int b = 0; b < 4; b++)
        GPU_CHECK(hipMalloc((void **)&buf[b], TH_N * sizeof(float)));
    uint64_t shape[1] = {TH_N};
    for (int i = 0; i < TH_PUTS; i++) { /* each buffer is rewritten 4 puts later, in stream order */
        float *b = buf[i % 4];
        fill_value_f32<<<64, 256, 0, s>>>(b, TH_N, (float)(t->id * 1000 + i));
        tt_key k = key("thr", t->id, i);
        t->ok += tt_device_put(t->d, &k, TT_F32, 1, shape, b, s) == TT_OK;
    }
    GPU_CHECK(hipStreamSynchronize(s));
    for (int b = 0; b < 4; b++)
        GPU_CHECK(hipFree(buf[b]));
    GPU_CHECK(hipStreamDestroy(s));
    return NULL;
}

static void test_threads(void)
{
    int before = failures;
    char path[512];
    tt_writer *w = gpu_open_writer(gpu_path(path, sizeof path, "threads.tt"), TT_MODE_FULL, TT_ON_FULL_BLOCK, 4);
    tt_device_options o = opts(16 << 20, 16 << 20, 64, TT_ON_FULL_BLOCK); /* small: the threads contend */
    tt_device *d = open_device(w, &o);
    int dev = 0;
    GPU_CHECK(hipGetDevice(&dev));
    thr t[TH];
    pthread_t th[TH];
    for (int i = 0; i < TH; i++) {
        t[i].d = d;
        t[i].id = i;
        t[i].ok = 0;
        pthread_create(&th[i], NULL, thread_main, &t[i]);
    }
    for (int i = 0; i < TH; i++) {
        pthread_join(th[i], NULL);
        EXPECT(t[i].ok == TH_PUTS, "thread %d: %d puts ok", i, t[i].ok);
    }
    close_all(d, w);
    tt_reader *r = open_reader(path);
    EXPECT(tt_reader_count(r) == TH * TH_PUTS, "%llu records", (unsigned long long)tt_reader_count(r));
    float *want = (float *)malloc(TH_N * sizeof(float));
    for (int i = 0; i < TH; i++)
        for (int j = 0; j < TH_PUTS; j++) {
            tt_record rec;
            expected_values(want, TH_N, (float)(i * 1000 + j));
            EXPECT(find(r, "thr", i, j, &rec) && read_equal(r, &rec, want, TH_N * sizeof(float)),
                   "thread %d put %d", i, j);
        }
    free(want);
    tt_reader_close(r);
    remove(path);
    part("threads", before);
}

/* ---- pools full ---------------------------------------------------------------------------------------------- */

typedef struct pool_job {
    tt_device *d;
    hipStream_t s;
    float *buf[10];
    int rc[10];
} pool_job;

enum { POOL_N = 65536 }; /* 256 KiB of f32: four fill a 1 MiB staging pool */

static void *pool_putter(void *arg)
{
    pool_job *p = (pool_job *)arg;
    uint64_t shape[1] = {POOL_N};
    for (int i = 0; i < 10; i++) {
        fill_value_f32<<<64, 256, 0, p->s>>>(p->buf[i], POOL_N, (float)(i * 10));
        tt_key k = key("pool", 0, i);
        p->rc[i] = tt_device_put(p->d, &k, TT_F32, 1, shape, p->buf[i], p->s);
    }
    return NULL;
}

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static void pools_full_run(tt_on_full policy)
{
    int before = failures;
    char path[512];
    tt_writer *w = gpu_open_writer(gpu_path(path, sizeof path, "pool.tt"), TT_MODE_FULL, TT_ON_FULL_BLOCK, 0);
    tt_device_options o = opts(1 << 20, 8 << 20, 64, policy);
    tt_device *d = open_device(w, &o);
    pool_job p;
    p.d = d;
    GPU_CHECK(hipStreamCreateWithFlags(&p.s, hipStreamNonBlocking));
    for (int i = 0; i < 10; i++)
        GPU_CHECK(hipMalloc((void **)&p.buf[i], POOL_N * sizeof(float)));
    gpu_flag go = gpu_flag_new();
    gpu_hold(go, p.s); /* the engine stream is stuck: no snapshot can complete */
    pthread_t th;
    pthread_create(&th, NULL, pool_putter, &p);
    tt_device_counters c;
    for (int i = 0; i < 500; i++) { /* until the fifth put waits (block) or the putter has dropped the rest */
        tt_device_get_counters(d, &c);
        if (c.pool_full_waits >= 1 || c.dropped >= 6)
            break;
        sleep_ms(10);
    }
    sleep_ms(100);
    tt_device_get_counters(d, &c);
    EXPECT(c.snapshots == 4, "%s: %llu snapshots admitted while the stream is held (4 fit)",
           policy == TT_ON_FULL_BLOCK ? "block" : "drop", (unsigned long long)c.snapshots);
    if (policy == TT_ON_FULL_BLOCK)
        EXPECT(c.pool_full_waits == 1, "block: pool_full_waits %llu", (unsigned long long)c.pool_full_waits);
    gpu_flag_set(go, 1);
    pthread_join(th, NULL);
    GPU_CHECK(hipStreamSynchronize(p.s));
    EXPECT_RC(tt_device_flush(d), TT_OK);
    tt_device_get_counters(d, &c);
    int ok = 0, dropped = 0;
    for (int i = 0; i < 10; i++) {
        ok += p.rc[i] == TT_OK;
        dropped += p.rc[i] == TT_DROPPED;
    }
    if (policy == TT_ON_FULL_BLOCK) {
        EXPECT(ok == 10 && c.handed == 10 && c.dropped == 0, "block: %d ok, %llu handed, %llu dropped", ok,
               (unsigned long long)c.handed, (unsigned long long)c.dropped);
    } else {
        EXPECT(ok == 4 && dropped == 6 && c.dropped == 6 && c.handed == 4,
               "drop: %d ok, %d dropped (counter %llu), %llu handed", ok, dropped, (unsigned long long)c.dropped,
               (unsigned long long)c.handed);
    }
    close_all(d, w);
    tt_reader *r = open_reader(path);
    EXPECT(tt_reader_count(r) == (uint64_t)ok, "%llu records, %d puts ok", (unsigned long long)tt_reader_count(r), ok);
    float *want = (float *)malloc(POOL_N * sizeof(float));
    for (int i = 0; i < 10; i++) {
        if (p.rc[i] != TT_OK)
            continue;
        tt_record rec;
        expected_values(want, POOL_N, (float)(i * 10));
        EXPECT(find(r, "pool", 0, i, &rec) && read_equal(r, &rec, want, POOL_N * sizeof(float)), "put %d", i);
    }
    free(want);
    tt_reader_close(r);
    gpu_flag_free(go);
    for (int i = 0; i < 10; i++)
        GPU_CHECK(hipFree(p.buf[i]));
    GPU_CHECK(hipStreamDestroy(p.s));
    remove(path);
    part(policy == TT_ON_FULL_BLOCK ? "pool-block" : "pool-drop", before);
}

/* A writer slower than the GPU (one worker, 1 MiB in flight): the pinned pool fills, the copy thread waits, the
 * staging pool absorbs the rest, nothing is lost. */
static void test_pinned_full(void)
{
    int before = failures;
    char path[512];
    tt_writer_options wo;
    memset(&wo, 0, sizeof wo);
    wo.size = sizeof wo;
    wo.ignore_env = 1;
    wo.overwrite = 1;
    wo.threads = 1;
    wo.inflight_bytes = 1 << 20;
    wo.zstd_level = 9;
    tt_writer *w = NULL;
    EXPECT_RC(tt_writer_open(&w, gpu_path(path, sizeof path, "pinned.tt"), &wo), TT_OK);
    tt_device_options o = opts(64 << 20, 1 << 20, 256, TT_ON_FULL_BLOCK);
    tt_device *d = open_device(w, &o);
    hipStream_t s;
    GPU_CHECK(hipStreamCreateWithFlags(&s, hipStreamNonBlocking));
    enum { PUTS = 40 };
    float *buf;
    GPU_CHECK(hipMalloc((void **)&buf, PUTS * POOL_N * sizeof(float)));
    uint64_t shape[1] = {POOL_N};
    for (int i = 0; i < PUTS; i++) {
        fill_value_f32<<<64, 256, 0, s>>>(buf + (size_t)i * POOL_N, POOL_N, (float)i);
        tt_key k = key("pinned", 0, i);
        EXPECT_RC(tt_device_put(d, &k, TT_F32, 1, shape, buf + (size_t)i * POOL_N, s), TT_OK);
    }
    EXPECT_RC(tt_device_flush(d), TT_OK);
    tt_device_counters c;
    tt_device_get_counters(d, &c);
    printf("           pinned pool: %llu copy-thread waits for pinned room (host behind)\n",
           (unsigned long long)c.pinned_waits);
    EXPECT(c.handed == PUTS, "handed %llu", (unsigned long long)c.handed);
    close_all(d, w);
    tt_reader *r = open_reader(path);
    float *want = (float *)malloc(POOL_N * sizeof(float));
    for (int i = 0; i < PUTS; i++) {
        tt_record rec;
        expected_values(want, POOL_N, (float)i);
        EXPECT(find(r, "pinned", 0, i, &rec) && read_equal(r, &rec, want, POOL_N * sizeof(float)), "put %d", i);
    }
    free(want);
    tt_reader_close(r);
    GPU_CHECK(hipFree(buf));
    GPU_CHECK(hipStreamDestroy(s));
    remove(path);
    part("pinned", before);
}

int main(void)
{
    gpu_require_device("gpu_correctness");
    test_full();
    test_order();
    test_stats();
    graph_run(TT_MODE_FULL, 12, "graph");
    graph_run(TT_MODE_STATS, 12, "graph-stat");
    test_threads();
    pools_full_run(TT_ON_FULL_BLOCK);
    pools_full_run(TT_ON_FULL_DROP);
    test_pinned_full();
    if (failures) {
        printf("gpu_correctness: %d check(s) FAILED\n", failures);
        return 1;
    }
    printf("gpu_correctness: all checks passed\n");
    return 0;
}
