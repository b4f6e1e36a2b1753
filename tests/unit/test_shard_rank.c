/*
 * test_shard_rank.c — tensor-parallel capture: the shard layout of a put round-trips through a file (by the
 * footer and by recovery), bad layouts are refused with a message naming the rule, files without shards keep
 * their old shape (no shard columns), the writer's rank comes from the options, TT_TRACE_RANK or the launchers'
 * variables in the documented order and lands in the metadata and in every record, and %r / %p / %% expand in
 * the output path.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "frame.h"
#include "schema.h"
#include "test_support.h"
#include "tt_test.h"

/* The launcher variables the writer reads; each test starts with none set. */
static const char *const rank_vars[] = {"TT_TRACE_RANK", "TT_TRACE_WORLD_SIZE", "RANK", "WORLD_SIZE",
                                        "OMPI_COMM_WORLD_RANK", "OMPI_COMM_WORLD_SIZE", "SLURM_PROCID",
                                        "SLURM_NTASKS", "LOCAL_RANK", "LOCAL_WORLD_SIZE", "TT_TRACE_FILE"};

static void clear_rank_env(void)
{
    for (size_t i = 0; i < sizeof rank_vars / sizeof rank_vars[0]; i++)
        unsetenv(rank_vars[i]);
}

/* Options that read the environment (ts_opts() ignores it) but not the capture filters of a caller's shell. */
static tt_writer_options env_opts(void)
{
    tt_writer_options o = TT_WRITER_OPTIONS_INIT;
    o.chunk_bytes = 4096;
    return o;
}

static tt_key shard_key(const char *point, int32_t kind, int32_t dim, int32_t index, int32_t count)
{
    tt_key k = TT_KEY_INIT;
    k.prompt_id = "p0";
    k.phase = "prefill";
    k.point = point;
    k.layer = 0;
    k.shard_kind = kind;
    k.shard_dim = dim;
    k.shard_index = index;
    k.shard_count = count;
    return k;
}

static void check_shard(const tt_record *rec, int32_t kind, int32_t dim, int32_t index, int32_t count)
{
    CHECK_EQ_INT(rec->key.shard_kind, kind);
    CHECK_EQ_INT(rec->key.shard_dim, dim);
    CHECK_EQ_INT(rec->key.shard_index, index);
    CHECK_EQ_INT(rec->key.shard_count, count);
}

/* Four records: whole, SPLIT along dim 1, PARTIAL, and a whole one whose key says NONE with stray values. */
static void check_layouts(tt_reader *r)
{
    tt_record rec;
    CHECK_EQ_U64(tt_reader_count(r), 4);
    CHECK_STATUS(tt_reader_record(r, 0, &rec), TT_OK);
    check_shard(&rec, TT_SHARD_NONE, -1, -1, -1);
    CHECK_STATUS(tt_reader_record(r, 1, &rec), TT_OK);
    check_shard(&rec, TT_SHARD_SPLIT, 1, 2, 4);
    CHECK_EQ_INT(rec.key.rank, 2);
    CHECK_STATUS(tt_reader_record(r, 2, &rec), TT_OK);
    check_shard(&rec, TT_SHARD_PARTIAL, -1, 3, 4);
    CHECK_STATUS(tt_reader_record(r, 3, &rec), TT_OK);
    check_shard(&rec, TT_SHARD_NONE, -1, -1, -1);
}

static void test_roundtrip(void)
{
    char path[256];
    ts_path(path, sizeof path, "shard_rt.tt");
    tt_writer_options o = ts_opts();
    o.rank = 2, o.rank_set = 1, o.world_size = 4;
    tt_writer *w;
    CHECK_STATUS(tt_writer_open(&w, path, &o), TT_OK);
    CHECK_EQ_INT(tt_writer_rank(w), 2);
    float x[6 * 8];
    for (int i = 0; i < 48; i++)
        x[i] = (float)i * 0.25f;
    uint64_t shape[2] = {6, 8};
    tt_key k = shard_key("resid", TT_SHARD_NONE, -1, -1, -1);
    CHECK_STATUS(tt_put(w, &k, TT_F32, 2, shape, x), TT_OK);
    k = shard_key("q_proj", TT_SHARD_SPLIT, 1, 2, 4);
    CHECK_STATUS(tt_put(w, &k, TT_F32, 2, shape, x), TT_OK);
    k = shard_key("attn_out_partial", TT_SHARD_PARTIAL, -1, 3, 4);
    CHECK_STATUS(tt_put(w, &k, TT_F32, 2, shape, x), TT_OK);
    k = shard_key("zeroed", TT_SHARD_NONE, 0, 0, 0); /* a zero-initialised key: stored as a whole tensor */
    CHECK_STATUS(tt_put(w, &k, TT_F32, 2, shape, x), TT_OK);
    CHECK_STATUS(tt_writer_flush(w), TT_OK); /* a batch in the file before close: recovery reads it */
    CHECK_STATUS(tt_writer_close(w), TT_OK);
    tt_writer_free(w);

    tt_reader *r;
    CHECK_STATUS(tt_reader_open(&r, path, NULL), TT_OK);
    check_layouts(r);
    CHECK_EQ_STR(tt_reader_meta_get(r, "rank"), "2");
    CHECK_EQ_STR(tt_reader_meta_get(r, "world_size"), "4");
    tt_file_info info;
    CHECK_STATUS(tt_reader_info(r, &info), TT_OK);
    CHECK_EQ_INT(info.format_minor, 1);
    tt_verify_result vr;
    CHECK_STATUS(tt_reader_verify(r, &vr, NULL, NULL), TT_OK);
    tt_reader_close(r);

    tt_reader_options ro = TT_READER_OPTIONS_INIT;
    ro.recovery = TT_RECOVER_ALWAYS;
    CHECK_STATUS(tt_reader_open(&r, path, &ro), TT_OK);
    check_layouts(r);
    tt_reader_close(r);
    unlink(path);
}

/* Each refused layout names its rule; the writer stays usable. */
static void test_refused_layouts(void)
{
    char path[256];
    ts_path(path, sizeof path, "shard_bad.tt");
    tt_writer_options o = ts_opts();
    tt_writer *w;
    CHECK_STATUS(tt_writer_open(&w, path, &o), TT_OK);
    float x[8] = {0};
    uint64_t shape[2] = {2, 4};
    struct {
        int32_t kind, dim, index, count;
        const char *words;
    } bad[] = {
        {TT_SHARD_SPLIT, 1, 4, 4, "shard_index 4 outside 0..3"},
        {TT_SHARD_SPLIT, 1, -1, 4, "shard_index -1"},
        {TT_SHARD_SPLIT, 2, 0, 4, "shard_dim 2 of a tensor with 2 dimensions"},
        {TT_SHARD_SPLIT, -1, 0, 4, "shard_dim -1"},
        {TT_SHARD_PARTIAL, 0, 0, 4, "PARTIAL sum has shard_dim 0"},
        {TT_SHARD_PARTIAL, -1, 0, 0, "shard_count 0 outside 1..65536"},
        {TT_SHARD_SPLIT, 0, 0, TT_MAX_SHARDS + 1, "shard_count 65537"},
        {3, -1, 0, 2, "shard_kind 3 is not"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        tt_key k = shard_key("t", bad[i].kind, bad[i].dim, bad[i].index, bad[i].count);
        CHECK_STATUS(tt_put(w, &k, TT_F32, 2, shape, x), TT_E_INVAL);
        CHECK(strstr(tt_writer_errmsg(w), bad[i].words) != NULL);
        CHECK(strstr(tt_writer_errmsg(w), "put t") != NULL);
    }
    tt_key ok = shard_key("t", TT_SHARD_SPLIT, 0, 0, 1); /* one shard of one: allowed */
    CHECK_STATUS(tt_put(w, &ok, TT_F32, 2, shape, x), TT_OK);
    CHECK_STATUS(tt_writer_close(w), TT_OK);
    tt_writer_free(w);
    tt_reader *r;
    CHECK_STATUS(tt_reader_open(&r, path, NULL), TT_OK);
    CHECK_EQ_U64(tt_reader_count(r), 1);
    tt_reader_close(r);
    unlink(path);
}

/* Does the first BATCH frame of the file carry the shard columns? -1 when no batch decodes. */
static int batch_has_shard_columns(const char *path)
{
    size_t len = 0;
    uint8_t *file = ts_read_file(path, &len);
    int found = -1;
    for (size_t off = TT_FILE_HEADER_SIZE; file && found < 0 && off + TT_FRAME_HEADER_SIZE <= len;) {
        tt_frame_header h;
        if (tt_frame_header_decode(file + off, &h, NULL, 0) != TT_OK || h.stored_size > len - off - TT_FRAME_HEADER_SIZE)
            break;
        if (h.type == TT_FRAME_BATCH) {
            uint8_t *raw = malloc(h.raw_size + 1);
            tt_batch_view v;
            if (tt_payload_decode(&h, file + off + TT_FRAME_HEADER_SIZE, raw, NULL, NULL, NULL, 0) == TT_OK &&
                tt_fb_decode_batch(raw, h.raw_size, &v, NULL, 0) == TT_OK)
                found = v.shard_kind != NULL && v.shard_dim && v.shard_index && v.shard_count;
            free(raw);
        }
        off += TT_FRAME_HEADER_SIZE + h.stored_size;
    }
    free(file);
    return found;
}

/* A batch without shards has no shard columns (as a format 1.0 writer made it); one shard brings all four. */
static void test_shard_columns(void)
{
    char a[256], b[256];
    ts_path(a, sizeof a, "shard_none.tt");
    ts_path(b, sizeof b, "shard_one.tt");
    float x[4] = {1, 2, 3, 4};
    uint64_t shape[1] = {4};
    for (int f = 0; f < 2; f++) {
        tt_writer_options o = ts_opts();
        tt_writer *w;
        CHECK_STATUS(tt_writer_open(&w, f ? b : a, &o), TT_OK);
        for (int i = 0; i < 8; i++) {
            tt_key k = f && i == 5 ? shard_key("t", TT_SHARD_SPLIT, 0, 0, 2) : shard_key("t", 0, -1, -1, -1);
            CHECK_STATUS(tt_put(w, &k, TT_F32, 1, shape, x), TT_OK);
        }
        CHECK_STATUS(tt_writer_close(w), TT_OK);
        tt_writer_free(w);
    }
    CHECK_EQ_INT(batch_has_shard_columns(a), 0);
    CHECK_EQ_INT(batch_has_shard_columns(b), 1);
    unlink(a);
    unlink(b);
}

/* Opens a writer on pattern with options o, returns the expanded path's rank metadata and the rank of a
 * record put with TT_KEY_INIT's rank. */
static int open_status(const char *pattern, const tt_writer_options *o, char *path_out, size_t len, char *err,
                       size_t errlen)
{
    tt_writer *w = NULL;
    int rc = tt_writer_open(&w, pattern, o);
    snprintf(path_out, len, "%s", w ? tt_writer_path(w) : "");
    snprintf(err, errlen, "%s", w ? tt_writer_errmsg(w) : "");
    if (rc == TT_OK) {
        tt_key k = TT_KEY_INIT;
        k.point = "x";
        float v = 1;
        CHECK_STATUS(tt_put(w, &k, TT_F32, 0, NULL, &v), TT_OK);
        CHECK_STATUS(tt_writer_close(w), TT_OK);
    }
    tt_writer_free(w);
    return rc;
}

static int32_t record_rank(const char *path)
{
    tt_reader *r;
    tt_record rec;
    if (tt_reader_open(&r, path, NULL) != TT_OK) {
        tt_reader_close(r);
        return -100;
    }
    int32_t rank = tt_reader_record(r, 0, &rec) == TT_OK ? rec.key.rank : -100;
    tt_reader_close(r);
    return rank;
}

static const char *meta_of(const char *path, const char *key, char *buf, size_t len)
{
    tt_reader *r;
    buf[0] = '\0';
    if (tt_reader_open(&r, path, NULL) == TT_OK) {
        const char *v = tt_reader_meta_get(r, key);
        snprintf(buf, len, "%s", v ? v : "(none)");
    }
    tt_reader_close(r);
    return buf;
}

static void test_rank_sources(void)
{
    char base[256], pattern[300], path[320], want[320], err[512], m[64];
    clear_rank_env();
    ts_path(base, sizeof base, "rank");
    snprintf(pattern, sizeof pattern, "%s-%%r.tt", base);
    tt_writer_options o = env_opts();

    /* no rank anywhere: %r is an error naming the ways to give one, and nothing is created */
    CHECK_STATUS(open_status(pattern, &o, path, sizeof path, err, sizeof err), TT_E_INVAL);
    CHECK(strstr(err, "%r in the path but no rank is known") != NULL);
    CHECK(strstr(err, "TT_TRACE_RANK") != NULL);

    /* without %r and without a rank: records get rank 0, no rank metadata */
    snprintf(want, sizeof want, "%s-plain.tt", base);
    unlink(want);
    CHECK_STATUS(open_status(want, &o, path, sizeof path, err, sizeof err), TT_OK);
    CHECK_EQ_INT(record_rank(want), 0);
    CHECK_EQ_STR(meta_of(want, "rank", m, sizeof m), "(none)");
    unlink(want);

    /* each source alone, in the documented order: the first one set wins */
    struct {
        const char *var, *value, *world_var, *world;
        int rank;
    } src[] = {
        {"LOCAL_RANK", "5", "LOCAL_WORLD_SIZE", "8", 5},
        {"SLURM_PROCID", "6", "SLURM_NTASKS", "16", 6},
        {"OMPI_COMM_WORLD_RANK", "7", "OMPI_COMM_WORLD_SIZE", "8", 7},
        {"RANK", "9", "WORLD_SIZE", "10", 9},
        {"TT_TRACE_RANK", "11", "TT_TRACE_WORLD_SIZE", "12", 11},
    };
    for (size_t i = 0; i < sizeof src / sizeof src[0]; i++) {
        setenv(src[i].var, src[i].value, 1);
        setenv(src[i].world_var, src[i].world, 1);
        snprintf(want, sizeof want, "%s-%d.tt", base, src[i].rank);
        unlink(want);
        CHECK_STATUS(open_status(pattern, &o, path, sizeof path, err, sizeof err), TT_OK);
        CHECK_EQ_STR(path, want);
        CHECK_EQ_INT(record_rank(want), src[i].rank);
        CHECK_EQ_STR(meta_of(want, "rank", m, sizeof m), src[i].value);
        CHECK_EQ_STR(meta_of(want, "world_size", m, sizeof m), src[i].world);
        unlink(want);
    }
    /* the options come first, over every variable */
    o.rank = 0, o.rank_set = 1, o.world_size = 2;
    snprintf(want, sizeof want, "%s-0.tt", base);
    unlink(want);
    CHECK_STATUS(open_status(pattern, &o, path, sizeof path, err, sizeof err), TT_OK);
    CHECK_EQ_STR(path, want);
    CHECK_EQ_INT(record_rank(want), 0);
    CHECK_EQ_STR(meta_of(want, "world_size", m, sizeof m), "2");
    unlink(want);
    /* ignore_env: no variable is read, the launchers' neither */
    o = env_opts();
    o.ignore_env = 1;
    CHECK_STATUS(open_status(pattern, &o, path, sizeof path, err, sizeof err), TT_E_INVAL);

    /* a bad value is an error naming the variable, even when a later source would do */
    o = env_opts();
    unsetenv("TT_TRACE_RANK");
    setenv("RANK", "two", 1);
    CHECK_STATUS(open_status(pattern, &o, path, sizeof path, err, sizeof err), TT_E_PARSE);
    CHECK(strstr(err, "RANK=\"two\"") != NULL);
    setenv("RANK", "-1", 1);
    CHECK_STATUS(open_status(pattern, &o, path, sizeof path, err, sizeof err), TT_E_PARSE);
    setenv("RANK", "3", 1);
    setenv("WORLD_SIZE", "0", 1);
    CHECK_STATUS(open_status(pattern, &o, path, sizeof path, err, sizeof err), TT_E_PARSE);
    CHECK(strstr(err, "WORLD_SIZE=\"0\"") != NULL);
    setenv("WORLD_SIZE", "3", 1);
    CHECK_STATUS(open_status(pattern, &o, path, sizeof path, err, sizeof err), TT_E_INVAL);
    CHECK(strstr(err, "rank 3 is not below the world size 3 (WORLD_SIZE)") != NULL);
    o.rank = -2, o.rank_set = 1;
    CHECK_STATUS(open_status(pattern, &o, path, sizeof path, err, sizeof err), TT_E_INVAL);
    CHECK(strstr(err, "option rank: -2") != NULL);
    clear_rank_env();

    /* a key's own rank is kept; TT_UNSET takes the writer's */
    snprintf(want, sizeof want, "%s-own.tt", base);
    unlink(want);
    o = ts_opts();
    o.rank = 3, o.rank_set = 1;
    tt_writer *w;
    CHECK_STATUS(tt_writer_open(&w, want, &o), TT_OK);
    tt_key k = TT_KEY_INIT;
    k.point = "x";
    k.rank = 1;
    float v = 1;
    CHECK_STATUS(tt_put(w, &k, TT_F32, 0, NULL, &v), TT_OK);
    CHECK_STATUS(tt_writer_close(w), TT_OK);
    tt_writer_free(w);
    CHECK_EQ_INT(record_rank(want), 1);
    unlink(want);
}

static void test_path_patterns(void)
{
    char base[256], pattern[300], path[320], want[320], err[512];
    clear_rank_env();
    ts_path(base, sizeof base, "pat");
    tt_writer_options o = ts_opts();
    o.rank = 12, o.rank_set = 1;

    snprintf(pattern, sizeof pattern, "%s-%%r-%%p-100%%%%.tt", base);
    snprintf(want, sizeof want, "%s-12-%ld-100%%.tt", base, (long)getpid());
    unlink(want);
    CHECK_STATUS(open_status(pattern, &o, path, sizeof path, err, sizeof err), TT_OK);
    CHECK_EQ_STR(path, want);
    CHECK_EQ_INT(record_rank(want), 12);
    unlink(want);

    snprintf(pattern, sizeof pattern, "%s-%%d.tt", base);
    CHECK_STATUS(open_status(pattern, &o, path, sizeof path, err, sizeof err), TT_E_INVAL);
    CHECK(strstr(err, "%d at byte") != NULL);
    snprintf(pattern, sizeof pattern, "%s-%%", base);
    CHECK_STATUS(open_status(pattern, &o, path, sizeof path, err, sizeof err), TT_E_INVAL);
    CHECK(strstr(err, "lone %") != NULL);

    /* TT_TRACE_FILE is expanded too, with the rank from the environment */
    snprintf(pattern, sizeof pattern, "%s-env-%%r.tt", base);
    setenv("TT_TRACE_FILE", pattern, 1);
    setenv("SLURM_PROCID", "4", 1);
    snprintf(want, sizeof want, "%s-env-4.tt", base);
    unlink(want);
    o = env_opts();
    CHECK_STATUS(open_status(NULL, &o, path, sizeof path, err, sizeof err), TT_OK);
    CHECK_EQ_STR(path, want);
    CHECK_EQ_INT(record_rank(want), 4);
    unlink(want);
    clear_rank_env();
}

int main(void)
{
    /* the capture filters of the caller's shell would change what is written */
    const char *filters[] = {"TT_TRACE_MODE", "TT_TRACE_LAYERS", "TT_TRACE_POINTS", "TT_TRACE_PROMPTS",
                             "TT_TRACE_PHASES"};
    for (size_t i = 0; i < sizeof filters / sizeof filters[0]; i++)
        unsetenv(filters[i]);
    test_roundtrip();
    test_refused_layouts();
    test_shard_columns();
    test_rank_sources();
    test_path_patterns();
    return tt_test_exit();
}
