/*
 * test_device_pipeline.c — the whole device capture pipeline (libtrace/device/device*.c) on the fake GPU of
 * fake_gpu.h: what a GPU run checks (tests/gpu/), minus the GPU. Records read back with the reader must hold the
 * bytes the engine stream saw at the put, whatever the stream did after; statistics from the device path must
 * equal the writer's; block loses nothing and drop drops exactly what the counters say; graph replays each record
 * their own step; every error path reports, frees what it holds, and leaves the handle usable; nothing leaks.
 */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "device_backend.h"
#include "fake_gpu.h"
#include "tt/device.h"
#include "tt/dtype.h"
#include "tt/reader.h"
#include "tt/writer.h"
#include "tt_test.h"
#include "unit/test_support.h"

#define MiB ((uint64_t)1 << 20)

static void sleep_ms(unsigned ms)
{
    struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* Polls the counters until pool_full_waits reaches `waits` (or 20 s pass: slow sanitizer runs), then lets a
 * little more time pass so that a pipeline that wrongly goes on would show it. */
static tt_device_counters wait_for_waits(tt_device *d, uint64_t waits)
{
    tt_device_counters c;
    for (int i = 0; i < 2000; i++) {
        tt_device_get_counters(d, &c);
        if (c.pool_full_waits >= waits)
            break;
        sleep_ms(10);
    }
    sleep_ms(50);
    tt_device_get_counters(d, &c);
    return c;
}

static tt_writer *open_writer(const char *path, tt_mode mode, tt_on_full on_full, uint64_t inflight)
{
    tt_writer_options o = ts_opts();
    o.mode = mode;
    o.on_full = on_full;
    o.inflight_bytes = inflight;
    o.overwrite = 1;
    tt_writer *w = NULL;
    int rc = tt_writer_open(&w, path, &o);
    if (rc != TT_OK)
        fprintf(stderr, "tt_writer_open: %s\n", tt_writer_errmsg(w));
    return w;
}

static tt_device_options dev_opts(uint64_t staging, uint64_t pinned, uint32_t inflight, tt_on_full on_full)
{
    tt_device_options o = TT_DEVICE_OPTIONS_INIT;
    o.staging_bytes = staging;
    o.pinned_bytes = pinned;
    o.max_inflight = inflight;
    o.on_full = on_full;
    return o;
}

static tt_key key_of(const char *point, int layer, int step)
{
    tt_key k = TT_KEY_INIT;
    k.point = point;
    k.prompt_id = "p0";
    k.phase = "decode";
    k.layer = layer;
    k.step = step;
    return k;
}

/* Finds the record with this point/layer/step; returns its index or -1. */
static long find_rec(tt_reader *r, const char *point, int layer, int step, tt_record *out)
{
    tt_key k = TT_KEY_INIT;
    k.point = point;
    k.layer = layer;
    k.step = step;
    k.rank = TT_UNSET;
    if (tt_reader_find(r, &k, out) != TT_OK)
        return -1;
    return (long)out->index;
}

static int bytes_equal(tt_reader *r, uint64_t index, const void *want, size_t n)
{
    void *got = malloc(n + 1);
    int ok = tt_reader_read(r, index, got, n) == TT_OK && memcmp(got, want, n) == 0;
    free(got);
    return ok;
}

/* ---- opening --------------------------------------------------------------------------------------------- */

static void test_open_errors(void)
{
    char path[256];
    tt_writer *w = open_writer(ts_path(path, sizeof path, "dev_open.tt"), TT_MODE_FULL, 0, 0);
    tt_device *d = NULL;

    /* disabled writer: no handle, puts are a branch */
    CHECK_STATUS(tt__device_open_with(&d, NULL, NULL, fake_gpu_ops(), NULL), TT_OK);
    CHECK(d == NULL);
    tt_key k = key_of("x", 0, 0);
    uint64_t shape[1] = {4};
    float x[4] = {0};
    CHECK_STATUS(tt_device_put(NULL, &k, TT_F32, 1, shape, x, NULL), TT_FILTERED);
    CHECK_STATUS(tt_device_flush(NULL), TT_OK);
    CHECK_STATUS(tt_device_close(NULL), TT_OK);
    tt_device_free(NULL);
    CHECK_EQ_STR(tt_device_errmsg(NULL), "");

    /* no GPU: TT_E_NODEVICE with a message, and the host path still works */
    fake_gpu *none = fake_gpu_new(0);
    CHECK_STATUS(tt__device_open_with(&d, w, NULL, fake_gpu_ops(), none), TT_E_NODEVICE);
    CHECK(d && strstr(tt_device_errmsg(d), "no GPU device") && strstr(tt_device_errmsg(d), "tt_put"));
    CHECK_STATUS(tt_device_put(d, &k, TT_F32, 1, shape, x, NULL), TT_E_STATE);
    CHECK_STATUS(tt_device_close(d), TT_E_NODEVICE);
    tt_device_free(d);
    CHECK_EQ_INT(fake_gpu_live_objects(none), 0);
    fake_gpu_free(none);
    CHECK_STATUS(tt_put(w, &k, TT_F32, 1, shape, x), TT_OK);

    fake_gpu *g = fake_gpu_new(2);
    /* a device that does not exist */
    tt_device_options o = TT_DEVICE_OPTIONS_INIT;
    o.device = 5;
    o.device_set = 1;
    CHECK_STATUS(tt__device_open_with(&d, w, &o, fake_gpu_ops(), g), TT_E_NODEVICE);
    CHECK(strstr(tt_device_errmsg(d), "GPU 5 does not exist") != NULL);
    tt_device_free(d);
    /* bad options */
    o = dev_opts(1000, 0, 0, 0);
    CHECK_STATUS(tt__device_open_with(&d, w, &o, fake_gpu_ops(), g), TT_E_INVAL);
    CHECK(strstr(tt_device_errmsg(d), "staging_bytes") != NULL);
    tt_device_free(d);
    o = dev_opts(0, 0, 2, 0);
    CHECK_STATUS(tt__device_open_with(&d, w, &o, fake_gpu_ops(), g), TT_E_INVAL);
    CHECK(strstr(tt_device_errmsg(d), "max_inflight") != NULL);
    tt_device_free(d);
    o = dev_opts(0, 0, 0, (tt_on_full)7);
    CHECK_STATUS(tt__device_open_with(&d, w, &o, fake_gpu_ops(), g), TT_E_INVAL);
    tt_device_free(d);
    /* runtime failures while allocating: named, and everything allocated before is freed */
    static const char *ops[] = {"malloc_device", "malloc_pinned", "malloc_mapped", "stream_create", "event_create"};
    for (int i = 0; i < 5; i++) {
        fake_gpu_fail(g, ops[i], 1);
        o = dev_opts(MiB, MiB, 8, 0);
        CHECK_STATUS(tt__device_open_with(&d, w, &o, fake_gpu_ops(), g), TT_E_DEVICE);
        CHECK(strstr(tt_device_errmsg(d), "fakeErrorInjected") != NULL);
        tt_device_free(d);
        CHECK_EQ_INT(fake_gpu_live_objects(g), 0);
    }
    fake_gpu_fail(g, "malloc_device", 2); /* the second: graph memory */
    CHECK_STATUS(tt__device_open_with(&d, w, &o, fake_gpu_ops(), g), TT_E_DEVICE);
    CHECK(strstr(tt_device_errmsg(d), "graph memory") != NULL);
    tt_device_free(d);
    CHECK_EQ_INT(fake_gpu_live_objects(g), 0);
    /* an old, smaller options struct: fields past its size are defaults */
    o = dev_opts(MiB, MiB, 8, 0);
    o.size = (uint32_t)offsetof(tt_device_options, on_full);
    o.graph_points = 1; /* ignored */
    CHECK_STATUS(tt__device_open_with(&d, w, &o, fake_gpu_ops(), g), TT_OK);
    CHECK_STATUS(tt_device_close(d), TT_OK);
    CHECK_STATUS(tt_device_close(d), TT_OK); /* twice: same answer */
    CHECK_STATUS(tt_device_put(d, &k, TT_F32, 1, shape, x, NULL), TT_E_STATE);
    tt_device_free(d);
    CHECK_EQ_INT(fake_gpu_live_objects(g), 0);
    fake_gpu_free(g);
    CHECK_STATUS(tt_writer_close(w), TT_OK);
    tt_writer_free(w);
}

/* ---- full captures ----------------------------------------------------------------------------------------- */

/* Device captures equal host captures of the same data, byte for byte, with the same hash. */
static void test_full_matches_host(void)
{
    char pd[256], ph[256];
    tt_writer *wd = open_writer(ts_path(pd, sizeof pd, "dev_full_d.tt"), TT_MODE_FULL, 0, 0);
    tt_writer *wh = open_writer(ts_path(ph, sizeof ph, "dev_full_h.tt"), TT_MODE_FULL, 0, 0);
    fake_gpu *g = fake_gpu_new(1);
    void *s = fake_stream_new(g);
    tt_device *d = NULL;
    tt_device_options o = dev_opts(4 * MiB, 4 * MiB, 16, 0);
    CHECK_STATUS(tt__device_open_with(&d, wd, &o, fake_gpu_ops(), g), TT_OK);
    static const tt_dtype dts[] = {TT_F32, TT_BF16, TT_F16, TT_I8, TT_F8_E4M3FNUZ, TT_I64, TT_F64};
    static const uint64_t rows[] = {1, 3, 17, 512, 1000, 2, 9};
    void *data[7];
    for (int i = 0; i < 7; i++) {
        uint64_t shape[2] = {rows[i], 257};
        data[i] = ts_data(dts[i], rows[i] * 257, 40 + (uint64_t)i);
        tt_key k = key_of("t", i, 0);
        CHECK_STATUS(tt_device_put(d, &k, dts[i], 2, shape, data[i], s), TT_OK);
        CHECK_STATUS(tt_put(wh, &k, dts[i], 2, shape, data[i]), TT_OK);
    }
    tt_key k0 = key_of("empty", 0, 0);
    uint64_t zero[2] = {0, 8};
    CHECK_STATUS(tt_device_put(d, &k0, TT_F32, 2, zero, NULL, s), TT_OK); /* no elements: no pointer needed */
    CHECK_STATUS(tt_device_flush(d), TT_OK);
    tt_device_counters c;
    CHECK_STATUS(tt_device_get_counters(d, &c), TT_OK);
    CHECK_EQ_U64(c.puts, 8);
    CHECK_EQ_U64(c.snapshots, 7);
    CHECK_EQ_U64(c.handed, 7);
    CHECK_EQ_U64(c.dropped, 0);
    CHECK_EQ_U64(c.errors, 0);
    CHECK_STATUS(tt_device_close(d), TT_OK);
    tt_device_free(d);
    CHECK_EQ_INT(fake_gpu_live_objects(g), 0);
    CHECK_STATUS(tt_writer_close(wd), TT_OK);
    CHECK_STATUS(tt_writer_close(wh), TT_OK);
    tt_writer_free(wd);
    tt_writer_free(wh);

    tt_reader *rd = NULL, *rh = NULL;
    CHECK_STATUS(tt_reader_open(&rd, pd, NULL), TT_OK);
    CHECK_STATUS(tt_reader_open(&rh, ph, NULL), TT_OK);
    CHECK_EQ_U64(tt_reader_count(rd), 8);
    for (int i = 0; i < 7; i++) {
        tt_record a, b;
        CHECK(find_rec(rd, "t", i, 0, &a) >= 0);
        CHECK(find_rec(rh, "t", i, 0, &b) >= 0);
        CHECK_EQ_U64(a.hash, b.hash);
        CHECK_EQ_U64(a.nbytes, b.nbytes);
        CHECK_EQ_INT(a.dtype, b.dtype);
        CHECK_EQ_INT(a.flags & (TT_REC_HAS_PAYLOAD | TT_REC_HAS_HASH | TT_REC_HAS_STATS),
                     TT_REC_HAS_PAYLOAD | TT_REC_HAS_HASH | TT_REC_HAS_STATS);
        CHECK_EQ_STR(a.key.prompt_id, "p0");
        CHECK_EQ_STR(a.key.phase, "decode");
        CHECK(bytes_equal(rd, a.index, data[i], a.nbytes));
        CHECK(a.time_ns > 0);
        free(data[i]);
    }
    tt_record e;
    CHECK(find_rec(rd, "empty", 0, 0, &e) >= 0);
    CHECK_EQ_U64(e.nbytes, 0);
    tt_reader_close(rd);
    tt_reader_close(rh);
    fake_stream_free(s);
    fake_gpu_free(g);
}

/* The snapshot is taken in stream order: later work on the stream does not change what is recorded. */
static void test_stream_order(void)
{
    char path[256];
    tt_writer *w = open_writer(ts_path(path, sizeof path, "dev_order.tt"), TT_MODE_FULL, 0, 0);
    fake_gpu *g = fake_gpu_new(1);
    void *s = fake_stream_new(g);
    tt_device *d = NULL;
    tt_device_options o = dev_opts(MiB, MiB, 16, 0);
    CHECK_STATUS(tt__device_open_with(&d, w, &o, fake_gpu_ops(), g), TT_OK);
    enum { N = 1000 };
    float *buf = calloc(N, sizeof(float)); /* the engine's tensor, in "device memory" */
    int counter = 0;
    uint64_t shape[1] = {N};
    fake_stream_pause(s, 1); /* nothing runs until every put has returned */
    for (int step = 0; step < 5; step++) {
        fake_stream_fill_counter(s, buf, N, &counter); /* the engine computes step's values */
        tt_key k = key_of("h", 0, step);
        CHECK_STATUS(tt_device_put(d, &k, TT_F32, 1, shape, buf, s), TT_OK);
    }
    fake_stream_pause(s, 0);
    CHECK_STATUS(tt_device_flush(d), TT_OK);
    CHECK_STATUS(tt_device_close(d), TT_OK);
    tt_device_free(d);
    CHECK_STATUS(tt_writer_close(w), TT_OK);
    tt_writer_free(w);
    tt_reader *r = NULL;
    CHECK_STATUS(tt_reader_open(&r, path, NULL), TT_OK);
    float *want = malloc(N * sizeof(float));
    for (int step = 0; step < 5; step++) {
        tt_record rec;
        CHECK(find_rec(r, "h", 0, step, &rec) >= 0);
        for (int i = 0; i < N; i++)
            want[i] = (float)step + (float)i;
        CHECK(bytes_equal(r, rec.index, want, sizeof(float) * N));
    }
    free(want);
    free(buf);
    tt_reader_close(r);
    fake_stream_free(s);
    CHECK_EQ_INT(fake_gpu_live_objects(g), 0);
    fake_gpu_free(g);
}

/* ---- stats and hash modes ---------------------------------------------------------------------------------- */

static void test_stats_mode(void)
{
    char path[256];
    tt_writer *w = open_writer(ts_path(path, sizeof path, "dev_stats.tt"), TT_MODE_STATS, 0, 0);
    fake_gpu *g = fake_gpu_new(1);
    void *s = fake_stream_new(g);
    tt_device *d = NULL;
    tt_device_options o = dev_opts(MiB, MiB, 16, 0);
    CHECK_STATUS(tt__device_open_with(&d, w, &o, fake_gpu_ops(), g), TT_OK);
    enum { N = 100003 };
    static const tt_dtype dts[] = {TT_F32, TT_F16, TT_BF16, TT_I32};
    void *data[4];
    for (int i = 0; i < 4; i++) {
        data[i] = ts_data(dts[i], N, 7 + (uint64_t)i);
        if (dts[i] == TT_F32) {
            ((float *)data[i])[10] = NAN;
            ((float *)data[i])[20] = -INFINITY;
        }
        uint64_t shape[1] = {N};
        tt_key k = key_of("s", i, 0);
        CHECK_STATUS(tt_device_put(d, &k, dts[i], 1, shape, data[i], s), TT_OK);
    }
    /* misaligned f32 data: the kernels need aligned elements, so the bytes go to the host instead */
    unsigned char *raw = malloc(4 * 64 + 1);
    float vals[64];
    for (int i = 0; i < 64; i++)
        vals[i] = (float)i - 20.5f;
    memcpy(raw + 1, vals, sizeof vals);
    uint64_t shape64[1] = {64};
    tt_key km = key_of("misaligned", 0, 0);
    CHECK_STATUS(tt_device_put(d, &km, TT_F32, 1, shape64, raw + 1, s), TT_OK);
    CHECK_STATUS(tt_device_flush(d), TT_OK);
    tt_device_counters c;
    tt_device_get_counters(d, &c);
    CHECK_EQ_U64(c.stats_on_device, 3);
    CHECK_EQ_U64(c.bytes_to_host, 3 * 64 + (uint64_t)N * 4 + 64 * 4);
    CHECK_STATUS(tt_device_close(d), TT_OK);
    tt_device_free(d);
    CHECK_STATUS(tt_writer_close(w), TT_OK);
    tt_writer_free(w);

    tt_reader *r = NULL;
    CHECK_STATUS(tt_reader_open(&r, path, NULL), TT_OK);
    for (int i = 0; i < 4; i++) {
        tt_record rec;
        tt_stats want;
        CHECK(find_rec(r, "s", i, 0, &rec) >= 0);
        CHECK_STATUS(tt_stats_compute(dts[i], data[i], N, &want), TT_OK);
        CHECK(rec.flags & TT_REC_HAS_STATS);
        CHECK(!(rec.flags & TT_REC_HAS_PAYLOAD));
        if (dts[i] == TT_I32)
            CHECK(rec.flags & TT_REC_HAS_HASH); /* reduced on the host: hash too */
        else
            CHECK(!(rec.flags & TT_REC_HAS_HASH)); /* reduced on the device: statistics only */
        CHECK(rec.stats.min == want.min);
        CHECK(rec.stats.max == want.max);
        CHECK(rec.stats.absmax == want.absmax);
        CHECK_EQ_U64(rec.stats.nan_count, want.nan_count);
        CHECK_EQ_U64(rec.stats.inf_count, want.inf_count);
        CHECK_NEAR(rec.stats.mean, want.mean, 1e-12 * want.absmax);
        CHECK_NEAR(rec.stats.l2, want.l2, 1e-12 * want.l2);
        CHECK_EQ_U64(rec.nbytes, (uint64_t)N * tt_dtype_size(dts[i]));
        free(data[i]);
    }
    tt_record rec;
    CHECK(find_rec(r, "misaligned", 0, 0, &rec) >= 0);
    CHECK((rec.flags & (TT_REC_HAS_HASH | TT_REC_HAS_STATS)) == (TT_REC_HAS_HASH | TT_REC_HAS_STATS));
    CHECK_EQ_U64(rec.hash, tt_hash(vals, sizeof vals));
    free(raw);
    tt_reader_close(r);
    fake_stream_free(s);
    CHECK_EQ_INT(fake_gpu_live_objects(g), 0);
    fake_gpu_free(g);
}

static void test_hash_mode_and_stats_off(void)
{
    for (int variant = 0; variant < 2; variant++) {
        char path[256];
        tt_mode mode = variant == 0 ? TT_MODE_HASH : TT_MODE_STATS;
        tt_writer *w = open_writer(ts_path(path, sizeof path, "dev_hash.tt"), mode, 0, 0);
        fake_gpu *g = fake_gpu_new(1);
        void *s = fake_stream_new(g);
        tt_device *d = NULL;
        tt_device_options o = dev_opts(MiB, MiB, 16, 0);
        o.stats_on_device = TT_DEVICE_STATS_OFF;
        CHECK_STATUS(tt__device_open_with(&d, w, &o, fake_gpu_ops(), g), TT_OK);
        void *x = ts_data(TT_BF16, 5000, 3);
        uint64_t shape[1] = {5000};
        tt_key k = key_of("hm", 0, 0);
        CHECK_STATUS(tt_device_put(d, &k, TT_BF16, 1, shape, x, s), TT_OK);
        CHECK_STATUS(tt_device_close(d), TT_OK);
        tt_device_counters c;
        tt_device_get_counters(d, &c);
        CHECK_EQ_U64(c.stats_on_device, 0);
        tt_device_free(d);
        CHECK_STATUS(tt_writer_close(w), TT_OK);
        tt_writer_free(w);
        tt_reader *r = NULL;
        CHECK_STATUS(tt_reader_open(&r, path, NULL), TT_OK);
        tt_record rec;
        CHECK(find_rec(r, "hm", 0, 0, &rec) >= 0);
        CHECK(rec.flags & TT_REC_HAS_HASH);
        CHECK(!(rec.flags & TT_REC_HAS_PAYLOAD));
        CHECK_EQ_U64(rec.hash, tt_hash(x, 10000));
        free(x);
        tt_reader_close(r);
        fake_stream_free(s);
        fake_gpu_free(g);
    }
}

static void test_filters_and_args(void)
{
    char path[256];
    tt_writer_options wo = ts_opts();
    wo.layers = "0";
    wo.overwrite = 1;
    tt_writer *w = NULL;
    CHECK_STATUS(tt_writer_open(&w, ts_path(path, sizeof path, "dev_filter.tt"), &wo), TT_OK);
    fake_gpu *g = fake_gpu_new(1);
    void *s = fake_stream_new(g);
    tt_device *d = NULL;
    tt_device_options o = dev_opts(MiB, MiB, 8, 0);
    CHECK_STATUS(tt__device_open_with(&d, w, &o, fake_gpu_ops(), g), TT_OK);
    float x[16] = {0};
    uint64_t shape[1] = {16};
    tt_key k1 = key_of("f", 1, 0), k0 = key_of("f", 0, 0);
    CHECK_STATUS(tt_device_put(d, &k1, TT_F32, 1, shape, x, s), TT_FILTERED);
    CHECK_STATUS(tt_device_put(d, &k0, TT_F32, 1, shape, NULL, s), TT_E_INVAL);
    CHECK(strstr(tt_device_errmsg(d), "dev_ptr is NULL") != NULL);
    CHECK_STATUS(tt_device_put(d, &k0, (tt_dtype)99, 1, shape, x, s), TT_E_INVAL);
    CHECK(strstr(tt_device_errmsg(d), "unknown dtype") != NULL);
    CHECK_STATUS(tt_device_put(d, &k0, TT_F32, 9, shape, x, s), TT_E_INVAL);
    CHECK_STATUS(tt_device_put(d, NULL, TT_F32, 1, shape, x, s), TT_E_INVAL);
    tt_key nopoint = TT_KEY_INIT;
    CHECK_STATUS(tt_device_put(d, &nopoint, TT_F32, 1, shape, x, s), TT_E_INVAL);
    uint64_t big[1] = {MiB}; /* 4 MiB of f32 in 1 MiB pools */
    CHECK_STATUS(tt_device_put(d, &k0, TT_F32, 1, big, x, s), TT_E_LIMIT);
    CHECK(strstr(tt_device_errmsg(d), "staging_bytes") != NULL);
    uint64_t huge[2] = {(uint64_t)1 << 40, (uint64_t)1 << 30};
    CHECK_STATUS(tt_device_put(d, &k0, TT_F32, 2, huge, x, s), TT_E_LIMIT);
    /* invalidated capture: refused, nothing enqueued */
    fake_stream_begin_capture(s);
    fake_stream_invalidate_capture(s);
    CHECK_STATUS(tt_device_put(d, &k0, TT_F32, 1, shape, x, s), TT_E_STATE);
    fake_graph_free(fake_stream_end_capture(s));
    CHECK_STATUS(tt_device_put(d, &k0, TT_F32, 1, shape, x, s), TT_OK);
    tt_device_counters c;
    CHECK_STATUS(tt_device_flush(d), TT_OK); /* refused puts do not fail the pipeline */
    tt_device_get_counters(d, &c);
    CHECK_EQ_U64(c.filtered, 1);
    CHECK_EQ_U64(c.snapshots, 1);
    CHECK_EQ_U64(c.errors, 8);
    CHECK_STATUS(tt_device_close(d), TT_OK);
    tt_device_free(d);
    CHECK_STATUS(tt_writer_close(w), TT_OK);
    tt_writer_free(w);
    fake_stream_free(s);
    CHECK_EQ_INT(fake_gpu_live_objects(g), 0);
    fake_gpu_free(g);
}

/* ---- full pools -------------------------------------------------------------------------------------------- */

/* Drop: with the engine stream stalled, exactly what does not fit is dropped and counted. */
static void test_drop_exact(void)
{
    char path[256];
    tt_writer *w = open_writer(ts_path(path, sizeof path, "dev_drop.tt"), TT_MODE_FULL, 0, 0);
    fake_gpu *g = fake_gpu_new(1);
    void *s = fake_stream_new(g);
    tt_device *d = NULL;
    tt_device_options o = dev_opts(MiB, MiB, 64, TT_ON_FULL_DROP);
    CHECK_STATUS(tt__device_open_with(&d, w, &o, fake_gpu_ops(), g), TT_OK);
    enum { N = 65536 }; /* 256 KiB of f32: four fit the staging pool */
    float *x = malloc(N * sizeof(float));
    for (int i = 0; i < N; i++)
        x[i] = (float)i;
    uint64_t shape[1] = {N};
    fake_stream_pause(s, 1);
    int ok = 0, dropped = 0;
    for (int i = 0; i < 10; i++) {
        tt_key k = key_of("d", 0, i);
        int rc = tt_device_put(d, &k, TT_F32, 1, shape, x, s);
        ok += rc == TT_OK;
        dropped += rc == TT_DROPPED;
    }
    CHECK_EQ_INT(ok, 4);
    CHECK_EQ_INT(dropped, 6);
    fake_stream_pause(s, 0);
    CHECK_STATUS(tt_device_flush(d), TT_OK);
    tt_device_counters c;
    tt_device_get_counters(d, &c);
    CHECK_EQ_U64(c.dropped, 6);
    CHECK_EQ_U64(c.snapshots, 4);
    CHECK_EQ_U64(c.handed, 4);
    CHECK_EQ_U64(c.pool_full_waits, 0);
    /* the FIFO bound drops too: max_inflight 4 */
    CHECK_STATUS(tt_device_close(d), TT_OK);
    tt_device_free(d);
    o = dev_opts(4 * MiB, 4 * MiB, 4, TT_ON_FULL_DROP);
    CHECK_STATUS(tt__device_open_with(&d, w, &o, fake_gpu_ops(), g), TT_OK);
    uint64_t small[1] = {16};
    fake_stream_pause(s, 1);
    ok = dropped = 0;
    for (int i = 0; i < 6; i++) {
        tt_key k = key_of("q", 0, i);
        int rc = tt_device_put(d, &k, TT_F32, 1, small, x, s);
        ok += rc == TT_OK;
        dropped += rc == TT_DROPPED;
    }
    CHECK_EQ_INT(ok, 4);
    CHECK_EQ_INT(dropped, 2);
    fake_stream_pause(s, 0);
    CHECK_STATUS(tt_device_close(d), TT_OK);
    tt_device_free(d);
    CHECK_STATUS(tt_writer_close(w), TT_OK);
    tt_writer_free(w);

    /* no policy given: the writer's (here drop) */
    char p2[256];
    tt_writer *w2 = open_writer(ts_path(p2, sizeof p2, "dev_drop2.tt"), TT_MODE_FULL, TT_ON_FULL_DROP, 0);
    o = dev_opts(4 * MiB, 4 * MiB, 4, TT_ON_FULL_DEFAULT);
    CHECK_STATUS(tt__device_open_with(&d, w2, &o, fake_gpu_ops(), g), TT_OK);
    fake_stream_pause(s, 1);
    dropped = 0;
    for (int i = 0; i < 6; i++) {
        tt_key k = key_of("q", 0, i);
        dropped += tt_device_put(d, &k, TT_F32, 1, small, x, s) == TT_DROPPED;
    }
    CHECK_EQ_INT(dropped, 2);
    fake_stream_pause(s, 0);
    CHECK_STATUS(tt_device_close(d), TT_OK);
    tt_device_free(d);
    CHECK_STATUS(tt_writer_close(w2), TT_OK);
    tt_writer_free(w2);
    tt_reader *r = NULL;
    CHECK_STATUS(tt_reader_open(&r, path, NULL), TT_OK);
    CHECK_EQ_U64(tt_reader_count(r), 8);
    tt_record rec;
    for (int i = 0; i < 4; i++) {
        CHECK(find_rec(r, "d", 0, i, &rec) >= 0);
        CHECK(bytes_equal(r, rec.index, x, sizeof(float) * N));
    }
    CHECK(find_rec(r, "d", 0, 4, &rec) < 0);
    tt_reader_close(r);
    free(x);
    fake_stream_free(s);
    CHECK_EQ_INT(fake_gpu_live_objects(g), 0);
    fake_gpu_free(g);
}

typedef struct putter {
    tt_device *d;
    void *stream;
    const float *x;
    uint64_t n;
    int count, first_step, layer;
    int rc_ok;
} putter;

static void *putter_main(void *arg)
{
    putter *p = arg;
    uint64_t shape[1] = {p->n};
    for (int i = 0; i < p->count; i++) {
        tt_key k = key_of("b", p->layer, p->first_step + i);
        p->rc_ok += tt_device_put(p->d, &k, TT_F32, 1, shape, p->x, p->stream) == TT_OK;
    }
    return NULL;
}

/* Block: the put waits while the pool is full and nothing is lost. */
static void test_block_nothing_lost(void)
{
    char path[256];
    tt_writer *w = open_writer(ts_path(path, sizeof path, "dev_block.tt"), TT_MODE_FULL, 0, 0);
    fake_gpu *g = fake_gpu_new(1);
    void *s = fake_stream_new(g);
    tt_device *d = NULL;
    tt_device_options o = dev_opts(MiB, MiB, 64, TT_ON_FULL_BLOCK);
    CHECK_STATUS(tt__device_open_with(&d, w, &o, fake_gpu_ops(), g), TT_OK);
    enum { N = 65536 };
    float *x = malloc(N * sizeof(float));
    for (int i = 0; i < N; i++)
        x[i] = (float)(i % 1000) * 0.5f;
    fake_stream_pause(s, 1);
    putter p = {d, s, x, N, 10, 0, 3, 0};
    pthread_t th;
    pthread_create(&th, NULL, putter_main, &p);
    tt_device_counters c = wait_for_waits(d, 1);
    CHECK_EQ_U64(c.snapshots, 4); /* four fit; the fifth waits */
    CHECK_EQ_U64(c.pool_full_waits, 1);
    fake_stream_pause(s, 0);
    pthread_join(th, NULL);
    CHECK_EQ_INT(p.rc_ok, 10);
    CHECK_STATUS(tt_device_flush(d), TT_OK);
    tt_device_get_counters(d, &c);
    CHECK_EQ_U64(c.handed, 10);
    CHECK_EQ_U64(c.dropped, 0);
    CHECK(c.pool_full_waits >= 1);
    CHECK_STATUS(tt_device_close(d), TT_OK);
    tt_device_free(d);

    /* the host behind: a slow copy to a small pinned pool makes the copy thread wait, and nothing is lost */
    o = dev_opts(4 * MiB, MiB, 64, TT_ON_FULL_BLOCK);
    CHECK_STATUS(tt__device_open_with(&d, w, &o, fake_gpu_ops(), g), TT_OK);
    fake_gpu_pause_internal(g, 1);
    p = (putter){d, s, x, N, 12, 100, 3, 0};
    pthread_create(&th, NULL, putter_main, &p);
    for (int i = 0; i < 2000; i++) { /* until the copy thread waits for pinned room */
        tt_device_get_counters(d, &c);
        if (c.pinned_waits)
            break;
        sleep_ms(10);
    }
    fake_gpu_set_copy_delay_us(g, 2000);
    fake_gpu_pause_internal(g, 0);
    pthread_join(th, NULL);
    CHECK_STATUS(tt_device_flush(d), TT_OK);
    tt_device_get_counters(d, &c);
    CHECK_EQ_U64(c.handed, 12);
    CHECK(c.pinned_waits >= 1); /* the copy thread waited for pinned room */
    CHECK_STATUS(tt_device_close(d), TT_OK);
    tt_device_free(d);
    fake_gpu_set_copy_delay_us(g, 0);
    CHECK_STATUS(tt_writer_close(w), TT_OK);
    tt_writer_free(w);

    tt_reader *r = NULL;
    CHECK_STATUS(tt_reader_open(&r, path, NULL), TT_OK);
    CHECK_EQ_U64(tt_reader_count(r), 22);
    for (int i = 0; i < 22; i++) {
        tt_record rec;
        int step = i < 10 ? i : 100 + i - 10;
        CHECK(find_rec(r, "b", 3, step, &rec) >= 0);
        CHECK(bytes_equal(r, rec.index, x, sizeof(float) * N));
    }
    tt_reader_close(r);
    free(x);
    fake_stream_free(s);
    CHECK_EQ_INT(fake_gpu_live_objects(g), 0);
    fake_gpu_free(g);
}

/* The writer's own bound under its drop policy: the device hands over, the writer refuses, the counters say so,
 * and every pinned buffer comes back (close would hang otherwise). */
static void test_writer_refuses(void)
{
    char path[256];
    tt_writer *w = open_writer(ts_path(path, sizeof path, "dev_wref.tt"), TT_MODE_FULL, TT_ON_FULL_DROP, MiB);
    fake_gpu *g = fake_gpu_new(1);
    void *s = fake_stream_new(g);
    tt_device *d = NULL;
    tt_device_options o = dev_opts(8 * MiB, 8 * MiB, 64, TT_ON_FULL_BLOCK);
    CHECK_STATUS(tt__device_open_with(&d, w, &o, fake_gpu_ops(), g), TT_OK);
    enum { N = 200000 }; /* 800 KB each: the writer holds one at a time */
    float *x = calloc(N, sizeof(float));
    uint64_t shape[1] = {N};
    for (int i = 0; i < 20; i++) {
        tt_key k = key_of("wr", 0, i);
        CHECK_STATUS(tt_device_put(d, &k, TT_F32, 1, shape, x, s), TT_OK);
    }
    CHECK_STATUS(tt_device_close(d), TT_OK);
    tt_device_counters c;
    tt_device_get_counters(d, &c);
    CHECK_EQ_U64(c.handed + c.writer_refused, 20);
    tt_writer_counters wc;
    tt_writer_get_counters(w, &wc);
    CHECK_EQ_U64(wc.dropped, c.writer_refused);
    tt_device_free(d);
    CHECK_STATUS(tt_writer_close(w), TT_OK);
    tt_writer_free(w);
    free(x);
    fake_stream_free(s);
    CHECK_EQ_INT(fake_gpu_live_objects(g), 0);
    fake_gpu_free(g);
}

/* ---- many threads and streams ------------------------------------------------------------------------------ */

typedef struct worker {
    tt_device *d;
    void *stream;
    int id;
    float *bufs[4];
    int ok;
} worker;

enum { WORKERS = 6, PUTS = 150, WN = 777 };

static void *worker_main(void *arg)
{
    worker *wk = arg;
    uint64_t shape[1] = {WN};
    for (int i = 0; i < PUTS; i++) {
        /* the engine writes a tensor on its stream, then captures it; the buffer is reused 4 puts later */
        float *b = wk->bufs[i % 4];
        float vals[WN];
        for (int j = 0; j < WN; j++)
            vals[j] = (float)(wk->id * 100000 + i * 10 + j % 10);
        fake_stream_copy(wk->stream, b, vals, sizeof vals); /* copies when it runs: vals must live until then */
        fake_stream_sync(wk->stream);
        tt_key k = key_of("mt", wk->id, i);
        wk->ok += tt_device_put(wk->d, &k, TT_F32, 1, shape, b, wk->stream) == TT_OK;
    }
    return NULL;
}

static void test_many_threads(void)
{
    char path[256];
    tt_writer *w = open_writer(ts_path(path, sizeof path, "dev_mt.tt"), TT_MODE_FULL, 0, 0);
    fake_gpu *g = fake_gpu_new(1);
    tt_device *d = NULL;
    tt_device_options o = dev_opts(MiB, MiB, 16, TT_ON_FULL_BLOCK);
    CHECK_STATUS(tt__device_open_with(&d, w, &o, fake_gpu_ops(), g), TT_OK);
    worker wk[WORKERS];
    pthread_t th[WORKERS];
    for (int t = 0; t < WORKERS; t++) {
        wk[t] = (worker){d, fake_stream_new(g), t, {NULL}, 0};
        for (int b = 0; b < 4; b++)
            wk[t].bufs[b] = malloc(WN * sizeof(float));
        pthread_create(&th[t], NULL, worker_main, &wk[t]);
    }
    for (int t = 0; t < WORKERS; t++)
        pthread_join(th[t], NULL);
    CHECK_STATUS(tt_device_flush(d), TT_OK);
    tt_device_counters c;
    tt_device_get_counters(d, &c);
    CHECK_EQ_U64(c.handed, WORKERS * PUTS);
    CHECK_STATUS(tt_device_close(d), TT_OK);
    tt_device_free(d);
    CHECK_STATUS(tt_writer_close(w), TT_OK);
    tt_writer_free(w);
    tt_reader *r = NULL;
    CHECK_STATUS(tt_reader_open(&r, path, NULL), TT_OK);
    CHECK_EQ_U64(tt_reader_count(r), WORKERS * PUTS);
    int bad = 0;
    float *got = malloc(WN * sizeof(float));
    for (uint64_t i = 0; i < tt_reader_count(r); i++) {
        tt_record rec;
        if (tt_reader_record(r, i, &rec) != TT_OK || tt_reader_read(r, i, got, WN * sizeof(float)) != TT_OK) {
            bad++;
            continue;
        }
        for (int j = 0; j < WN; j++)
            if (got[j] != (float)(rec.key.layer * 100000 + rec.key.step * 10 + j % 10)) {
                bad++;
                break;
            }
    }
    CHECK_EQ_INT(bad, 0);
    free(got);
    tt_reader_close(r);
    for (int t = 0; t < WORKERS; t++) {
        CHECK_EQ_INT(wk[t].ok, PUTS);
        fake_stream_free(wk[t].stream);
        for (int b = 0; b < 4; b++)
            free(wk[t].bufs[b]);
    }
    CHECK_EQ_INT(fake_gpu_live_objects(g), 0);
    fake_gpu_free(g);
}

/* ---- graph capture ----------------------------------------------------------------------------------------- */

/* Captures "engine kernel + put" into a graph and replays it; returns the graph. */
static void *capture_step(tt_device *d, void *s, float *buf, size_t n, int *counter, tt_dtype dt, int *rc)
{
    uint64_t shape[1] = {n};
    fake_stream_begin_capture(s);
    fake_stream_fill_counter(s, buf, n, counter);
    tt_key k = key_of("g", 2, 0);
    *rc = tt_device_put(d, &k, dt, 1, shape, buf, s);
    return fake_stream_end_capture(s);
}

static void check_graph_file(const char *path, int records, size_t n, int first_value)
{
    tt_reader *r = NULL;
    CHECK_STATUS(tt_reader_open(&r, path, NULL), TT_OK);
    CHECK_EQ_U64(tt_reader_count(r), (uint64_t)records);
    float *want = malloc(n * sizeof(float)), *got = malloc(n * sizeof(float));
    uint64_t last_seq = 0;
    for (int i = 0; i < records; i++) {
        tt_record rec;
        CHECK_STATUS(tt_reader_record(r, (uint64_t)i, &rec), TT_OK);
        CHECK_EQ_STR(rec.key.point, "g");
        CHECK(i == 0 || rec.seq > last_seq);
        last_seq = rec.seq;
        for (size_t j = 0; j < n; j++)
            want[j] = (float)(first_value + i) + (float)j; /* replay i's values, in replay order */
        CHECK_STATUS(tt_reader_read(r, (uint64_t)i, got, n * sizeof(float)), TT_OK);
        CHECK(memcmp(got, want, n * sizeof(float)) == 0);
    }
    free(want);
    free(got);
    tt_reader_close(r);
}

static void test_graph_replays(void)
{
    char path[256];
    tt_writer *w = open_writer(ts_path(path, sizeof path, "dev_graph.tt"), TT_MODE_FULL, 0, 0);
    fake_gpu *g = fake_gpu_new(1);
    void *s = fake_stream_new(g);
    tt_device *d = NULL;
    tt_device_options o = dev_opts(MiB, MiB, 16, TT_ON_FULL_BLOCK);
    CHECK_STATUS(tt__device_open_with(&d, w, &o, fake_gpu_ops(), g), TT_OK);
    enum { N = 3000 };
    float *buf = calloc(N, sizeof(float));
    int counter = 0, rc = 0;
    void *graph = capture_step(d, s, buf, N, &counter, TT_F32, &rc);
    CHECK_STATUS(rc, TT_OK);
    tt_device_counters c;
    tt_device_get_counters(d, &c);
    CHECK_EQ_U64(c.graph_puts, 1);
    CHECK_EQ_U64(c.snapshots, 0); /* nothing ran at capture */
    for (int i = 0; i < 20; i++)
        fake_graph_launch(graph, s); /* no synchronisation between replays */
    fake_stream_sync(s);
    CHECK_STATUS(tt_device_flush(d), TT_OK);
    tt_device_get_counters(d, &c);
    CHECK_EQ_U64(c.graph_replays, 20);
    CHECK_EQ_U64(c.snapshots, 20);
    CHECK_EQ_U64(c.handed, 20);
    CHECK_EQ_U64(c.dropped, 0);
    CHECK_EQ_INT(fake_gpu_host_nodes_run(g), 20);
    /* eager puts on the same stream between replays still work */
    uint64_t shape[1] = {N};
    tt_key k = key_of("eager", 0, 0);
    CHECK_STATUS(tt_device_put(d, &k, TT_F32, 1, shape, buf, s), TT_OK);
    CHECK_STATUS(tt_device_close(d), TT_OK);
    tt_device_free(d);
    fake_graph_free(graph);
    CHECK_STATUS(tt_writer_close(w), TT_OK);
    tt_writer_free(w);
    tt_reader *r = NULL;
    CHECK_STATUS(tt_reader_open(&r, path, NULL), TT_OK);
    CHECK_EQ_U64(tt_reader_count(r), 21);
    tt_reader_close(r);

    /* block: the copies stall, replays wait in the host node (two slots busy), and still nothing is lost */
    w = open_writer(path, TT_MODE_FULL, 0, 0);
    CHECK_STATUS(tt__device_open_with(&d, w, &o, fake_gpu_ops(), g), TT_OK);
    counter = 0;
    graph = capture_step(d, s, buf, N, &counter, TT_F32, &rc);
    CHECK_STATUS(rc, TT_OK);
    fake_gpu_pause_internal(g, 1);
    for (int i = 0; i < 10; i++)
        fake_graph_launch(graph, s);
    c = wait_for_waits(d, 1);
    CHECK_EQ_U64(c.graph_replays, 2); /* the second replay's host node waits for a free slot */
    CHECK_EQ_U64(c.pool_full_waits, 1);
    fake_gpu_pause_internal(g, 0);
    fake_stream_sync(s);
    CHECK_STATUS(tt_device_flush(d), TT_OK);
    tt_device_get_counters(d, &c);
    CHECK_EQ_U64(c.handed, 10);
    CHECK_EQ_U64(c.dropped, 0);
    CHECK_STATUS(tt_device_close(d), TT_OK);
    tt_device_free(d);
    fake_graph_free(graph);
    CHECK_STATUS(tt_writer_close(w), TT_OK);
    tt_writer_free(w);
    check_graph_file(path, 10, N, 0);

    /* drop: with the copies stalled, replay 1 and 2 are kept, 3..10 are dropped and counted */
    w = open_writer(path, TT_MODE_FULL, 0, 0);
    o.on_full = TT_ON_FULL_DROP;
    CHECK_STATUS(tt__device_open_with(&d, w, &o, fake_gpu_ops(), g), TT_OK);
    counter = 0;
    graph = capture_step(d, s, buf, N, &counter, TT_F32, &rc);
    fake_gpu_pause_internal(g, 1);
    for (int i = 0; i < 10; i++)
        fake_graph_launch(graph, s);
    fake_stream_sync(s);
    tt_device_get_counters(d, &c);
    CHECK_EQ_U64(c.graph_replays, 10);
    CHECK_EQ_U64(c.snapshots, 2);
    CHECK_EQ_U64(c.dropped, 8);
    fake_gpu_pause_internal(g, 0);
    CHECK_STATUS(tt_device_flush(d), TT_OK);
    /* once the slots are copied out, replays are kept again */
    fake_graph_launch(graph, s); /* dropped: its kernel found no armed slot; this host node re-arms */
    fake_graph_launch(graph, s); /* kept */
    fake_stream_sync(s);
    CHECK_STATUS(tt_device_flush(d), TT_OK);
    tt_device_get_counters(d, &c);
    CHECK_EQ_U64(c.snapshots, 3);
    CHECK_EQ_U64(c.dropped, 9);
    CHECK_EQ_U64(c.handed, 3);
    CHECK_STATUS(tt_device_close(d), TT_OK);
    tt_device_free(d);
    fake_graph_free(graph);
    CHECK_STATUS(tt_writer_close(w), TT_OK);
    tt_writer_free(w);
    tt_reader *r2 = NULL;
    CHECK_STATUS(tt_reader_open(&r2, path, NULL), TT_OK);
    CHECK_EQ_U64(tt_reader_count(r2), 3);
    float *got = malloc(N * sizeof(float));
    int firsts[3] = {0, 1, 11};
    for (int i = 0; i < 3; i++) {
        CHECK_STATUS(tt_reader_read(r2, (uint64_t)i, got, N * sizeof(float)), TT_OK);
        CHECK(got[0] == (float)firsts[i] && got[N - 1] == (float)(firsts[i] + N - 1));
    }
    free(got);
    tt_reader_close(r2);
    free(buf);
    fake_stream_free(s);
    CHECK_EQ_INT(fake_gpu_live_objects(g), 0);
    fake_gpu_free(g);
}

static void test_graph_stats_and_limits(void)
{
    char path[256];
    tt_writer *w = open_writer(ts_path(path, sizeof path, "dev_gstats.tt"), TT_MODE_STATS, 0, 0);
    fake_gpu *g = fake_gpu_new(1);
    void *s = fake_stream_new(g);
    tt_device *d = NULL;
    tt_device_options o = dev_opts(MiB, MiB, 16, TT_ON_FULL_BLOCK);
    o.graph_points = 2;
    o.graph_bytes = MiB;
    CHECK_STATUS(tt__device_open_with(&d, w, &o, fake_gpu_ops(), g), TT_OK);
    enum { N = 10000 };
    float *buf = calloc(N, sizeof(float));
    int counter = 0, rc;
    void *graph = capture_step(d, s, buf, N, &counter, TT_F32, &rc);
    CHECK_STATUS(rc, TT_OK);
    for (int i = 0; i < 4; i++)
        fake_graph_launch(graph, s);
    fake_stream_sync(s);
    CHECK_STATUS(tt_device_flush(d), TT_OK);
    /* limits under capture: graph_points, then graph memory after a reset */
    uint64_t shape[1] = {N};
    tt_key k = key_of("lim", 0, 0);
    fake_stream_begin_capture(s);
    CHECK_STATUS(tt_device_put(d, &k, TT_F32, 1, shape, buf, s), TT_OK);
    CHECK_STATUS(tt_device_put(d, &k, TT_F32, 1, shape, buf, s), TT_E_LIMIT);
    CHECK(strstr(tt_device_errmsg(d), "graph_points") != NULL);
    fake_graph_free(fake_stream_end_capture(s));
    fake_graph_free(graph);
    CHECK_STATUS(tt_device_graph_reset(d), TT_OK);
    fake_stream_begin_capture(s);
    uint64_t big[1] = {200000}; /* i32 is copied, not reduced: 2 x 800 KB of graph memory > 1 MiB */
    int32_t *bigbuf = calloc(200000, sizeof(int32_t));
    CHECK_STATUS(tt_device_put(d, &k, TT_I32, 1, big, bigbuf, s), TT_E_LIMIT);
    CHECK(strstr(tt_device_errmsg(d), "graph_bytes") != NULL);
    /* a runtime without host nodes: refused before anything is captured */
    fake_gpu_fail(g, "can_capture", 1);
    CHECK_STATUS(tt_device_put(d, &k, TT_F32, 1, shape, buf, s), TT_E_UNSUPPORTED);
    CHECK(strstr(tt_device_errmsg(d), "no host nodes") != NULL);
    /* a runtime failure while capturing: reported, the point's kernel is disarmed */
    fake_gpu_fail(g, "host_node", 1);
    CHECK_STATUS(tt_device_put(d, &k, TT_F32, 1, shape, buf, s), TT_E_DEVICE);
    void *broken = fake_stream_end_capture(s);
    fake_graph_launch(broken, s);
    fake_stream_sync(s);
    fake_graph_free(broken);
    free(bigbuf);
    tt_device_counters c;
    tt_device_get_counters(d, &c);
    CHECK_EQ_U64(c.graph_replays, 4);
    CHECK_EQ_U64(c.stats_on_device, 4);
    CHECK_STATUS(tt_device_close(d), TT_E_DEVICE); /* the runtime failure is the handle's first error */
    tt_device_free(d);
    CHECK_STATUS(tt_writer_close(w), TT_OK);
    tt_writer_free(w);
    tt_reader *r = NULL;
    CHECK_STATUS(tt_reader_open(&r, path, NULL), TT_OK);
    CHECK_EQ_U64(tt_reader_count(r), 4);
    float *want = malloc(N * sizeof(float));
    for (int i = 0; i < 4; i++) {
        tt_record rec;
        tt_stats st;
        CHECK_STATUS(tt_reader_record(r, (uint64_t)i, &rec), TT_OK);
        for (int j = 0; j < N; j++)
            want[j] = (float)i + (float)j;
        tt_stats_compute(TT_F32, want, N, &st);
        CHECK(rec.flags & TT_REC_HAS_STATS);
        CHECK(rec.stats.min == st.min && rec.stats.max == st.max);
        CHECK_NEAR(rec.stats.mean, st.mean, 1e-9);
    }
    free(want);
    tt_reader_close(r);
    free(buf);
    fake_stream_free(s);
    CHECK_EQ_INT(fake_gpu_live_objects(g), 0);
    fake_gpu_free(g);
}

/* ---- runtime failures in the pipeline ----------------------------------------------------------------------- */

static void test_runtime_failures(void)
{
    static const char *ops[] = {"memcpy_async", "event_record", "stream_wait_event", "event_sync", "capture_status"};
    for (int f = 0; f < 5; f++) {
        char path[256];
        tt_writer *w = open_writer(ts_path(path, sizeof path, "dev_fail.tt"), TT_MODE_FULL, 0, 0);
        fake_gpu *g = fake_gpu_new(1);
        void *s = fake_stream_new(g);
        tt_device *d = NULL;
        tt_device_options o = dev_opts(MiB, MiB, 4, TT_ON_FULL_BLOCK);
        CHECK_STATUS(tt__device_open_with(&d, w, &o, fake_gpu_ops(), g), TT_OK);
        enum { N = 50000 }; /* 200 KB: five fill the staging pool, so leaked room would block */
        float *x = malloc(N * sizeof(float));
        for (int i = 0; i < N; i++)
            x[i] = (float)i;
        uint64_t shape[1] = {N};
        tt_key k = key_of("rf", 0, 0);
        CHECK_STATUS(tt_device_put(d, &k, TT_F32, 1, shape, x, s), TT_OK);
        CHECK_STATUS(tt_device_flush(d), TT_OK);
        fake_gpu_fail(g, ops[f], 1);
        int ok = 0;
        for (int i = 1; i <= 20; i++) {
            k.step = i;
            int rc = tt_device_put(d, &k, TT_F32, 1, shape, x, s);
            ok += rc == TT_OK;
            if (rc != TT_OK)
                CHECK_STATUS(rc, TT_E_DEVICE);
        }
        /* a failure in the put itself is returned by it; one in a pipeline thread only by flush and close */
        CHECK_EQ_INT(ok, f == 2 || f == 3 ? 20 : 19);
        int st = tt_device_flush(d);
        CHECK_STATUS(st, TT_E_DEVICE);
        CHECK(strstr(tt_device_errmsg(d), "fakeErrorInjected") != NULL);
        tt_device_counters c;
        tt_device_get_counters(d, &c);
        CHECK_EQ_U64(c.errors, 1);
        CHECK_EQ_U64(c.handed, 20); /* all but the failed one */
        CHECK_STATUS(tt_device_close(d), TT_E_DEVICE);
        tt_device_free(d);
        CHECK_STATUS(tt_writer_close(w), TT_OK);
        tt_writer_free(w);
        tt_reader *r = NULL;
        CHECK_STATUS(tt_reader_open(&r, path, NULL), TT_OK);
        CHECK_EQ_U64(tt_reader_count(r), 20);
        tt_reader_close(r);
        free(x);
        fake_stream_free(s);
        CHECK_EQ_INT(fake_gpu_live_objects(g), 0);
        fake_gpu_free(g);
    }
}

int main(void)
{
    test_open_errors();
    test_full_matches_host();
    test_stream_order();
    test_stats_mode();
    test_hash_mode_and_stats_off();
    test_filters_and_args();
    test_drop_exact();
    test_block_nothing_lost();
    test_writer_refuses();
    test_many_threads();
    test_graph_replays();
    test_graph_stats_and_limits();
    test_runtime_failures();
    return tt_test_exit();
}
