/*
 * test_roundtrip.c — write -> read round trips through the public API: every dtype in every capture mode,
 * shapes (rank 0, empty, multi-chunk), row slices across chunk boundaries, metadata, filters (options and
 * environment), lookup, metadata-only records, counters, flush-then-read of a file still being written, and the
 * errors of bad arguments, existing files and newer versions.
 */
#define _POSIX_C_SOURCE 200809L
#include <math.h>

#include "frame.h"
#include "reader_impl.h"
#include "test_support.h"
#include "tt_test.h"

static const tt_dtype all_dtypes[] = {TT_F32, TT_F16, TT_BF16, TT_F64, TT_I8, TT_U8, TT_I16,
                                      TT_I32, TT_I64, TT_F8_E4M3, TT_F8_E5M2, TT_F8_E4M3FNUZ, TT_F8_E5M2FNUZ};
#define NDT (sizeof all_dtypes / sizeof all_dtypes[0])

static void check_stats_near(const tt_stats *a, const tt_stats *b)
{
    CHECK_NEAR(a->min, b->min, 0);
    CHECK_NEAR(a->max, b->max, 0);
    CHECK_NEAR(a->absmax, b->absmax, 0);
    CHECK_NEAR(a->mean, b->mean, 1e-9 * (fabs(b->mean) + 1));
    CHECK_NEAR(a->l2, b->l2, 1e-9 * (b->l2 + 1));
    CHECK_EQ_U64(a->nan_count, b->nan_count);
    CHECK_EQ_U64(a->inf_count, b->inf_count);
}

/* Writes every dtype with shapes [rows, cols] in one mode, reads everything back and checks it. */
static void roundtrip_mode(tt_mode mode)
{
    char path[256];
    ts_path(path, sizeof path, "rt.tt");
    tt_writer_options o = ts_opts();
    o.mode = mode;
    o.batch_records = 5; /* several batches */
    tt_writer *w;
    CHECK_STATUS(tt_writer_open(&w, path, &o), TT_OK);
    CHECK_STATUS(tt_writer_set_meta(w, "engine", "test"), TT_OK);
    const uint64_t rows = 37, cols = 129; /* elements not a multiple of the chunk: several chunks, odd tail */
    void *data[NDT];
    for (size_t d = 0; d < NDT; d++) {
        data[d] = ts_data(all_dtypes[d], rows * cols, 100 + d);
        tt_key k = TT_KEY_INIT;
        k.prompt_id = d % 2 ? "p6_len_16" : "p0_short";
        k.phase = "prefill";
        k.point = "attn_out";
        k.layer = (int32_t)d;
        k.step = 0;
        k.token_id = 1000 + (int32_t)d;
        k.logical_tok_idx = 3;
        k.pos_id = 10;
        k.rows = (int32_t)rows;
        uint64_t shape[2] = {rows, cols};
        CHECK_STATUS(tt_put(w, &k, all_dtypes[d], 2, shape, data[d]), TT_OK);
    }
    CHECK_STATUS(tt_writer_close(w), TT_OK);
    tt_writer_counters c;
    tt_writer_get_counters(w, &c);
    CHECK_EQ_U64(c.puts, NDT);
    CHECK_EQ_U64(c.written, NDT);
    CHECK_EQ_U64(c.dropped, 0);
    tt_writer_free(w);

    tt_reader *r;
    CHECK_STATUS(tt_reader_open(&r, path, NULL), TT_OK);
    CHECK_EQ_U64(tt_reader_count(r), NDT);
    CHECK_EQ_STR(tt_reader_meta_get(r, "engine"), "test");
    tt_file_info info;
    CHECK_STATUS(tt_reader_info(r, &info), TT_OK);
    CHECK_EQ_INT(info.footer_intact, 1);
    CHECK_EQ_U64(info.batch_count, (NDT + 4) / 5);
    CHECK_EQ_U64(info.counters.written, NDT);
    CHECK_EQ_INT(info.format_major, TT_FORMAT_MAJOR);
    uint8_t *buf = malloc(rows * cols * 8);
    for (size_t d = 0; d < NDT; d++) {
        tt_record rec;
        size_t es = tt_dtype_size(all_dtypes[d]), nbytes = rows * cols * es;
        CHECK_STATUS(tt_reader_record(r, d, &rec), TT_OK);
        CHECK_EQ_STR(rec.key.point, "attn_out");
        CHECK_EQ_STR(rec.key.prompt_id, d % 2 ? "p6_len_16" : "p0_short");
        CHECK_EQ_INT(rec.key.layer, (int)d);
        CHECK_EQ_INT(rec.key.token_id, 1000 + (int)d);
        CHECK_EQ_INT(rec.key.rows, (int)rows);
        CHECK_EQ_INT(rec.key.rank, 0);
        CHECK_EQ_INT(rec.dtype, all_dtypes[d]);
        CHECK_EQ_INT(rec.ndim, 2);
        CHECK_EQ_U64(rec.shape[0], rows);
        CHECK_EQ_U64(rec.shape[1], cols);
        CHECK_EQ_U64(rec.nbytes, nbytes);
        CHECK_EQ_U64(rec.seq, d);
        CHECK(rec.time_ns > 0);
        CHECK(rec.flags & TT_REC_HAS_HASH);
        CHECK_EQ_U64(rec.hash, tt_hash(data[d], nbytes));
        if (mode == TT_MODE_HASH) {
            CHECK(!(rec.flags & TT_REC_HAS_STATS));
        } else {
            tt_stats ref;
            tt_stats_compute(all_dtypes[d], data[d], rows * cols, &ref);
            CHECK(rec.flags & TT_REC_HAS_STATS);
            check_stats_near(&rec.stats, &ref);
        }
        if (mode != TT_MODE_FULL) {
            CHECK(!(rec.flags & TT_REC_HAS_PAYLOAD));
            CHECK_STATUS(tt_reader_read(r, d, buf, nbytes), TT_E_NOPAYLOAD);
            continue;
        }
        CHECK(rec.flags & TT_REC_HAS_PAYLOAD);
        CHECK_EQ_U64(rec.payload_frames, (nbytes + 4095) / 4096);
        memset(buf, 0xee, nbytes);
        CHECK_STATUS(tt_reader_read(r, d, buf, nbytes), TT_OK);
        CHECK(memcmp(buf, data[d], nbytes) == 0);
        CHECK_STATUS(tt_reader_read(r, d, buf, nbytes - 1), TT_E_RANGE);
        /* row slices, including ones that straddle chunk boundaries and the last row */
        uint64_t slices[][2] = {{0, 1}, {5, 3}, {31, 6}, {36, 1}, {0, rows}, {12, 0}};
        for (size_t s = 0; s < sizeof slices / sizeof slices[0]; s++) {
            uint64_t b = slices[s][0], n = slices[s][1], rb = cols * es;
            memset(buf, 0xee, nbytes);
            CHECK_STATUS(tt_reader_read_rows(r, d, b, n, buf, n * rb), TT_OK);
            CHECK(memcmp(buf, (uint8_t *)data[d] + b * rb, n * rb) == 0);
        }
        CHECK_STATUS(tt_reader_read_rows(r, d, 36, 2, buf, nbytes), TT_E_RANGE);
        CHECK_STATUS(tt_reader_read_rows(r, d, 38, 0, buf, nbytes), TT_E_RANGE);
    }
    tt_verify_result vr;
    CHECK_STATUS(tt_reader_verify(r, &vr, NULL, NULL), TT_OK);
    CHECK_EQ_U64(vr.problems, 0);
    CHECK_EQ_U64(vr.records_checked, NDT);
    tt_reader_close(r);
    for (size_t d = 0; d < NDT; d++)
        free(data[d]);
    free(buf);
    unlink(path);
}

/* Scalars, empty tensors, a large multi-chunk tensor read by rows, metadata-only records. */
static void shapes_and_records(void)
{
    char path[256];
    ts_path(path, sizeof path, "shapes.tt");
    tt_writer_options o = ts_opts();
    tt_writer *w;
    CHECK_STATUS(tt_writer_open(&w, path, &o), TT_OK);
    tt_key k = TT_KEY_INIT;
    k.point = "scalar";
    float one = 1.5f;
    CHECK_STATUS(tt_put(w, &k, TT_F32, 0, NULL, &one), TT_OK);
    k.point = "empty";
    uint64_t empty_shape[2] = {0, 16};
    CHECK_STATUS(tt_put(w, &k, TT_BF16, 2, empty_shape, NULL), TT_OK);
    k.point = "big";
    uint64_t big_shape[3] = {300, 16, 64}; /* 1.2 MB of f32: 300 chunks of 4 KiB */
    float *big = ts_data(TT_F32, 300 * 16 * 64, 7);
    CHECK_STATUS(tt_put(w, &k, TT_F32, 3, big_shape, big), TT_OK);
    /* a legacy-style record: hash and stats given, no tensor */
    tt_record legacy;
    memset(&legacy, 0, sizeof legacy);
    legacy.key = (tt_key)TT_KEY_INIT;
    legacy.key.point = "attn_out";
    legacy.key.prompt_id = "p0_short";
    legacy.key.phase = "prefill_last";
    legacy.key.layer = 0;
    legacy.key.pos_id = 37;
    legacy.key.rows = 38;
    legacy.flags = TT_REC_HAS_HASH | TT_REC_HAS_STATS;
    legacy.hash = 4144761570523161186ull;
    legacy.stats.min = -0.00517679;
    legacy.stats.max = 0.00719859;
    legacy.stats.mean = -0.0000471849;
    CHECK_STATUS(tt_put_record(w, &legacy, NULL), TT_OK);
    /* put_record with data whose hash disagrees is refused (reported at close, the record is skipped) */
    tt_record bad = legacy;
    bad.dtype = TT_F32;
    bad.ndim = 0;
    bad.flags = TT_REC_HAS_HASH;
    bad.hash = 1;
    CHECK_STATUS(tt_put_record(w, &bad, &one), TT_OK);
    CHECK_STATUS(tt_writer_close(w), TT_OK);
    tt_writer_counters c;
    tt_writer_get_counters(w, &c);
    CHECK_EQ_U64(c.written, 4);
    CHECK_EQ_U64(c.errors, 1);
    CHECK(strstr(tt_writer_errmsg(w), "hashes to") != NULL);
    tt_writer_free(w);

    tt_reader *r;
    CHECK_STATUS(tt_reader_open(&r, path, NULL), TT_OK);
    CHECK_EQ_U64(tt_reader_count(r), 4);
    tt_record rec;
    float f = 0;
    CHECK_STATUS(tt_reader_record(r, 0, &rec), TT_OK);
    CHECK_EQ_INT(rec.ndim, 0);
    CHECK_EQ_U64(rec.nbytes, 4);
    CHECK_STATUS(tt_reader_read(r, 0, &f, sizeof f), TT_OK);
    CHECK(f == 1.5f);
    CHECK_STATUS(tt_reader_read_rows(r, 0, 0, 1, &f, sizeof f), TT_E_RANGE); /* rank 0 has no rows */
    CHECK_STATUS(tt_reader_record(r, 1, &rec), TT_OK);
    CHECK_EQ_U64(rec.nbytes, 0);
    CHECK_EQ_U64(rec.payload_frames, 0);
    CHECK_EQ_U64(rec.hash, tt_hash("", 0));
    CHECK_STATUS(tt_reader_read(r, 1, NULL, 0), TT_OK);
    CHECK_STATUS(tt_reader_record(r, 2, &rec), TT_OK);
    CHECK_EQ_U64(rec.payload_frames, 300);
    float *rows = malloc(16 * 64 * 4 * 7);
    CHECK_STATUS(tt_reader_read_rows(r, 2, 150, 7, rows, 16 * 64 * 4 * 7), TT_OK);
    CHECK(memcmp(rows, big + 150 * 16 * 64, 16 * 64 * 4 * 7) == 0);
    free(rows);
    CHECK_STATUS(tt_reader_record(r, 3, &rec), TT_OK);
    CHECK_EQ_STR(rec.key.phase, "prefill_last");
    CHECK_EQ_U64(rec.hash, 4144761570523161186ull);
    CHECK(rec.stats.min == -0.00517679);
    CHECK(rec.stats.mean == -0.0000471849);
    CHECK_EQ_INT(rec.flags, TT_REC_HAS_HASH | TT_REC_HAS_STATS);
    CHECK_EQ_INT(rec.dtype, TT_DTYPE_UNKNOWN);
    CHECK_STATUS(tt_reader_read(r, 3, &f, sizeof f), TT_E_NOPAYLOAD);
    CHECK(strstr(tt_reader_errmsg(r), "record 3") != NULL);
    CHECK_STATUS(tt_reader_record(r, 4, &rec), TT_E_RANGE);
    tt_reader_close(r);
    free(big);
    unlink(path);
}

/* Filters in the writer (options and environment) and in the reader (tt_filter, find, batch skipping). */
static void filters(void)
{
    char path[256];
    ts_path(path, sizeof path, "filt.tt");
    setenv("TT_TRACE_LAYERS", "0-1,4", 1);
    setenv("TT_TRACE_POINTS", "attn_out,embed_out,logits", 1);
    tt_writer_options o = ts_opts();
    o.ignore_env = 0;
    o.batch_records = 3;
    o.phases = "prefill_last,decode0";
    tt_writer *w;
    CHECK_STATUS(tt_writer_open(&w, path, &o), TT_OK);
    CHECK_EQ_INT(tt_writer_wants(w, "attn_out", 1, NULL, NULL), 1);
    CHECK_EQ_INT(tt_writer_wants(w, "attn_out", 2, NULL, NULL), 0);
    CHECK_EQ_INT(tt_writer_wants(w, "mlp_out", 0, NULL, NULL), 0);
    CHECK_EQ_INT(tt_writer_wants(w, "logits", -1, NULL, NULL), 1); /* outside layers passes a layer list */
    CHECK_EQ_INT(tt_writer_wants(w, "attn_out", 0, "p0", "prefill"), 0);
    CHECK_EQ_INT(tt_writer_wants(w, "attn_out", 0, "p0", "decode0"), 1);
    const char *points[] = {"embed_out", "attn_out", "mlp_out", "logits"};
    const char *phases[] = {"prefill_last", "decode0", "prefill"};
    float v[4] = {1, 2, 3, 4};
    uint64_t shape[1] = {4};
    int kept = 0, filtered = 0;
    for (int layer = -1; layer < 6; layer++)
        for (int p = 0; p < 4; p++)
            for (int ph = 0; ph < 3; ph++) {
                tt_key k = TT_KEY_INIT;
                k.point = points[p];
                k.layer = layer;
                k.phase = phases[ph];
                k.prompt_id = "p0";
                k.pos_id = layer + 10;
                int rc = tt_put(w, &k, TT_F32, 1, shape, v);
                CHECK(rc == TT_OK || rc == TT_FILTERED);
                rc == TT_OK ? kept++ : filtered++;
            }
    CHECK_STATUS(tt_writer_close(w), TT_OK);
    tt_writer_counters c;
    tt_writer_get_counters(w, &c);
    CHECK_EQ_U64(c.filtered, (uint64_t)filtered);
    CHECK_EQ_U64(c.written, (uint64_t)kept);
    CHECK_EQ_U64(c.puts, (uint64_t)(kept + filtered));
    tt_writer_free(w);
    /* 4 layers kept (-1, 0, 1, 4) x 3 points x 2 phases, but embed_out/logits only make sense... all kept */
    CHECK_EQ_INT(kept, 4 * 3 * 2);
    unsetenv("TT_TRACE_LAYERS");
    unsetenv("TT_TRACE_POINTS");

    tt_reader *r;
    CHECK_STATUS(tt_reader_open(&r, path, NULL), TT_OK);
    tt_filter *f = tt_filter_new();
    char err[256];
    CHECK_STATUS(tt_filter_add(f, "layer=1,4", err, sizeof err), TT_OK);
    CHECK_STATUS(tt_filter_add(f, "point!=logits", err, sizeof err), TT_OK);
    CHECK_STATUS(tt_filter_add(f, "phase=decode0", err, sizeof err), TT_OK);
    uint64_t cur = 0;
    tt_record rec;
    int n = 0, rc;
    while ((rc = tt_reader_next(r, f, &cur, &rec)) == 1) {
        CHECK(rec.key.layer == 1 || rec.key.layer == 4);
        CHECK(strcmp(rec.key.point, "logits") != 0);
        CHECK_EQ_STR(rec.key.phase, "decode0");
        n++;
    }
    CHECK_EQ_INT(rc, 0);
    CHECK_EQ_INT(n, 2 * 2); /* layers 1 and 4, points embed_out and attn_out */
    tt_filter_free(f);
    /* bad filters say what is wrong */
    f = tt_filter_new();
    CHECK_STATUS(tt_filter_add(f, "colour=red", err, sizeof err), TT_E_PARSE);
    CHECK(strstr(err, "unknown field") != NULL);
    CHECK_STATUS(tt_filter_add(f, "layer=x", err, sizeof err), TT_E_PARSE);
    CHECK_STATUS(tt_filter_add(f, "layer", err, sizeof err), TT_E_PARSE);
    CHECK_STATUS(tt_filter_add(f, "dtype=float32", err, sizeof err), TT_OK);
    cur = 0;
    CHECK_EQ_INT(tt_reader_next(r, f, &cur, &rec), 1);
    CHECK_EQ_INT(rec.dtype, TT_F32);
    tt_filter_free(f);
    /* lookup by key */
    tt_key q = TT_KEY_INIT;
    q.point = "attn_out";
    q.layer = 4;
    q.phase = "prefill_last";
    CHECK_STATUS(tt_reader_find(r, &q, &rec), TT_OK);
    CHECK_EQ_INT(rec.key.layer, 4);
    CHECK_EQ_INT(rec.key.pos_id, 14);
    q.layer = 2;
    CHECK_STATUS(tt_reader_find(r, &q, &rec), TT_E_NOTFOUND);
    const char *const *strs;
    uint64_t ns;
    CHECK_STATUS(tt_reader_strings(r, &strs, &ns), TT_OK);
    CHECK(ns >= 4);
    tt_reader_close(r);
    unlink(path);
}

/* Environment handling, disabled writers and open errors. */
static void open_errors(void)
{
    char path[256];
    ts_path(path, sizeof path, "err.tt");
    tt_writer *w = (tt_writer *)1;
    unsetenv("TT_TRACE_FILE");
    CHECK_STATUS(tt_writer_open(&w, NULL, NULL), TT_OK);
    CHECK(w == NULL); /* disabled: every call is a cheap no-op */
    tt_key k = TT_KEY_INIT;
    k.point = "x";
    float v = 1;
    CHECK_STATUS(tt_put(w, &k, TT_F32, 0, NULL, &v), TT_FILTERED);
    CHECK_EQ_INT(tt_writer_wants(w, "x", 0, NULL, NULL), 0);
    CHECK_STATUS(tt_writer_close(w), TT_OK);
    tt_writer_free(w);

    setenv("TT_TRACE_FILE", path, 1);
    setenv("TT_TRACE_MODE", "sometimes", 1);
    CHECK_STATUS(tt_writer_open(&w, NULL, NULL), TT_E_PARSE);
    CHECK(strstr(tt_writer_errmsg(w), "TT_TRACE_MODE") != NULL);
    tt_writer_free(w);
    setenv("TT_TRACE_MODE", "stats", 1);
    setenv("TT_TRACE_INFLIGHT_MB", "lots", 1);
    CHECK_STATUS(tt_writer_open(&w, NULL, NULL), TT_E_PARSE);
    CHECK(strstr(tt_writer_errmsg(w), "TT_TRACE_INFLIGHT_MB") != NULL);
    tt_writer_free(w);
    unsetenv("TT_TRACE_INFLIGHT_MB");
    setenv("TT_TRACE_LAYERS", "0,1,x", 1);
    CHECK_STATUS(tt_writer_open(&w, NULL, NULL), TT_E_PARSE);
    CHECK(strstr(tt_writer_errmsg(w), "TT_TRACE_LAYERS") != NULL);
    tt_writer_free(w);
    setenv("TT_TRACE_LAYERS", "0-3", 1);
    setenv("TT_TRACE_POINTS", "a,,b", 1);
    CHECK_STATUS(tt_writer_open(&w, NULL, NULL), TT_E_PARSE);
    CHECK(strstr(tt_writer_errmsg(w), "TT_TRACE_POINTS") != NULL);
    tt_writer_free(w);
    unsetenv("TT_TRACE_LAYERS");
    unsetenv("TT_TRACE_POINTS");
    CHECK_STATUS(tt_writer_open(&w, NULL, NULL), TT_OK); /* TT_TRACE_FILE names the path */
    CHECK_EQ_STR(tt_writer_path(w), path);
    CHECK_STATUS(tt_put(w, &k, TT_F32, 0, NULL, &v), TT_OK);
    /* bad puts are refused without failing the writer */
    CHECK_STATUS(tt_put(w, &k, (tt_dtype)99, 0, NULL, &v), TT_E_INVAL);
    tt_key nopoint = TT_KEY_INIT;
    CHECK_STATUS(tt_put(w, &nopoint, TT_F32, 0, NULL, &v), TT_E_INVAL);
    uint64_t huge[3] = {1ull << 30, 1ull << 30, 1ull << 30};
    CHECK(tt_put(w, &k, TT_F32, 3, huge, &v) < 0);
    CHECK_STATUS(tt_put(w, &k, TT_F32, 9, huge, &v), TT_E_INVAL);
    CHECK_STATUS(tt_writer_close(w), TT_OK);
    CHECK_STATUS(tt_put(w, &k, TT_F32, 0, NULL, &v), TT_E_STATE);
    tt_writer_free(w);
    unsetenv("TT_TRACE_FILE");
    unsetenv("TT_TRACE_MODE");

    /* an existing file is not overwritten unless asked */
    tt_writer_options o = ts_opts();
    CHECK_STATUS(tt_writer_open(&w, path, &o), TT_E_IO);
    CHECK(strstr(tt_writer_errmsg(w), "exists") != NULL);
    tt_writer_free(w);
    o.overwrite = 1;
    CHECK_STATUS(tt_writer_open(&w, path, &o), TT_OK);
    CHECK_STATUS(tt_writer_close(w), TT_OK);
    tt_writer_free(w);
    CHECK_STATUS(tt_writer_open(&w, "/nonexistent-dir/x.tt", &o), TT_E_IO);
    CHECK(strstr(tt_writer_errmsg(w), "/nonexistent-dir/x.tt") != NULL);
    tt_writer_free(w);
    CHECK_STATUS(tt_writer_open(&w, "-", &o), TT_E_INVAL);
    tt_writer_free(w);
    o.chunk_bytes = 1000; /* not a multiple of 16 */
    CHECK_STATUS(tt_writer_open(&w, path, &o), TT_E_INVAL);
    CHECK(strstr(tt_writer_errmsg(w), "chunk_bytes") != NULL);
    tt_writer_free(w);

    /* reader errors name the file */
    tt_reader *r;
    CHECK_STATUS(tt_reader_open(&r, "/nonexistent-dir/x.tt", NULL), TT_E_IO);
    CHECK(strstr(tt_reader_errmsg(r), "/nonexistent-dir/x.tt") != NULL);
    tt_reader_close(r);
    CHECK_STATUS(tt_reader_open(&r, "/etc/hostname", NULL), TT_E_NOTTRACE);
    tt_reader_close(r);
    /* a newer major version is refused with a clear message */
    size_t len;
    uint8_t *bytes = ts_read_file(path, &len);
    tt_file_header fh = {TT_FORMAT_MAJOR + 1, 3, 0};
    tt_file_header_encode(&fh, bytes);
    char p2[256];
    ts_write_file(ts_path(p2, sizeof p2, "newer.tt"), bytes, len);
    CHECK_STATUS(tt_reader_open(&r, p2, NULL), TT_E_VERSION);
    CHECK(strstr(tt_reader_errmsg(r), "newer") != NULL);
    tt_reader_close(r);
    /* a newer minor version is fine */
    fh.major = TT_FORMAT_MAJOR;
    tt_file_header_encode(&fh, bytes);
    ts_write_file(p2, bytes, len);
    CHECK_STATUS(tt_reader_open(&r, p2, NULL), TT_OK);
    tt_reader_close(r);
    free(bytes);
    unlink(p2);
    unlink(path);
}

/* A file still being written is readable (in recovery) up to its last flush. */
static void read_while_writing(void)
{
    char path[256];
    ts_path(path, sizeof path, "live.tt");
    tt_writer_options o = ts_opts();
    tt_writer *w;
    CHECK_STATUS(tt_writer_open(&w, path, &o), TT_OK);
    CHECK_STATUS(tt_writer_set_meta(w, "model", "tiny"), TT_OK);
    float *d = ts_data(TT_F32, 5000, 3);
    uint64_t shape[1] = {5000};
    tt_key k = TT_KEY_INIT;
    k.point = "x";
    for (int i = 0; i < 10; i++) {
        k.layer = i;
        CHECK_STATUS(tt_put(w, &k, TT_F32, 1, shape, d), TT_OK);
    }
    CHECK_STATUS(tt_writer_flush(w), TT_OK);
    tt_reader *r;
    CHECK_STATUS(tt_reader_open(&r, path, NULL), TT_OK); /* auto: no trailer yet, so it scans */
    tt_file_info info;
    tt_reader_info(r, &info);
    CHECK_EQ_INT(info.footer_intact, 0);
    CHECK_EQ_U64(tt_reader_count(r), 10);
    CHECK_EQ_STR(tt_reader_meta_get(r, "model"), "tiny");
    CHECK(info.counters_known);
    CHECK_EQ_U64(info.counters.written, 10);
    float *out = malloc(5000 * 4);
    CHECK_STATUS(tt_reader_read(r, 9, out, 5000 * 4), TT_OK);
    CHECK(memcmp(out, d, 5000 * 4) == 0);
    tt_reader_close(r);
    tt_reader_options ro = TT_READER_OPTIONS_INIT;
    ro.recovery = TT_RECOVER_NEVER;
    CHECK_STATUS(tt_reader_open(&r, path, &ro), TT_E_NOTFOUND);
    CHECK(strstr(tt_reader_errmsg(r), "trailer") != NULL);
    tt_reader_close(r);
    CHECK_STATUS(tt_writer_close(w), TT_OK);
    tt_writer_free(w);
    CHECK_STATUS(tt_reader_open(&r, path, &ro), TT_OK);
    tt_reader_close(r);
    free(out);
    free(d);
    unlink(path);
}

/* A key string of len bytes of fill whose first 9 characters are the number i: distinct per record, as long as
 * a test needs. long_id() makes one, set_long_id() renumbers it in place. */
/* FORMAT.md section 5: a batch's Counters count the batch itself, and file_bytes is the offset of the frame that
 * holds them (the BATCH frame; the footer's is the FOOTER frame's offset), with META frames written before. */
static void counters_file_bytes(void)
{
    char path[512], cut[512];
    ts_path(path, sizeof path, "file_bytes.tt");
    ts_path(cut, sizeof cut, "file_bytes_cut.tt");
    tt_writer_options o = ts_opts();
    o.batch_records = 2;
    o.flush_ms = 600000; /* batches cut by count only, however slow the machine */
    tt_writer *w;
    CHECK_STATUS(tt_writer_open(&w, path, &o), TT_OK);
    uint64_t shape[1] = {3000};
    float *data = ts_data(TT_F32, 3000, 7);
    tt_key k = TT_KEY_INIT;
    k.point = "x";
    for (int i = 0; i < 5; i++) {
        char v[16];
        snprintf(v, sizeof v, "v%d", i);
        CHECK_STATUS(tt_writer_set_meta(w, "step", v), TT_OK); /* a META frame before each batch */
        k.layer = i;
        CHECK_STATUS(tt_put(w, &k, TT_F32, 1, shape, data), TT_OK);
    }
    CHECK_STATUS(tt_writer_close(w), TT_OK);
    tt_writer_free(w);
    free(data);

    size_t len;
    uint8_t *file = ts_read_file(path, &len);
    CHECK(file != NULL && len > TT_TRAILER_SIZE);
    tt_reader *r;
    tt_reader_options ro = TT_READER_OPTIONS_INIT;
    ro.recovery = TT_RECOVER_NEVER;
    CHECK_STATUS(tt_reader_open(&r, path, &ro), TT_OK);
    tt_file_info in;
    CHECK_STATUS(tt_reader_info(r, &in), TT_OK);
    CHECK_EQ_U64(in.counters.file_bytes, tt_rd64(file + len - TT_TRAILER_SIZE)); /* the footer's offset */
    CHECK_EQ_U64(r->nbatches, 3);
    for (size_t b = 0; b < r->nbatches && b < 3; b++) {
        /* the file cut after batch b recovers with that batch's counters */
        uint64_t end = r->batches[b].offset + r->batches[b].frame_size;
        CHECK(ts_write_file(cut, file, (size_t)end) == 0);
        tt_reader *c;
        CHECK_STATUS(tt_reader_open(&c, cut, NULL), TT_OK);
        tt_file_info ci;
        CHECK_STATUS(tt_reader_info(c, &ci), TT_OK);
        CHECK(ci.counters_known && !ci.footer_intact);
        CHECK_EQ_U64(ci.counters.file_bytes, r->batches[b].offset);
        CHECK_EQ_U64(ci.counters.batches, b + 1);
        CHECK_EQ_U64(ci.counters.written, b == 2 ? 5 : 2 * (b + 1));
        CHECK_EQ_U64(ci.counters.payload_frames, ci.counters.written * 3); /* 12000 bytes: 3 chunks each */
        tt_reader_close(c);
    }
    tt_reader_close(r);
    free(file);
    unlink(path);
    unlink(cut);
}

int main(void)
{
    roundtrip_mode(TT_MODE_FULL);
    roundtrip_mode(TT_MODE_STATS);
    roundtrip_mode(TT_MODE_HASH);
    shapes_and_records();
    filters();
    open_errors();
    read_while_writing();
    counters_file_bytes();
    return tt_test_exit();
}
