/*
 * test_key_limits.c — the writer's limits on key strings: records with the longest keys (the writer cuts a batch
 * before its dictionary nears the reader's BATCH frame limit) and the 512 MiB budget of distinct key strings.
 * Apart from test_roundtrip because they move about a gigabyte of strings through one thread: slow under TSan,
 * and not about threads.
 */
#define _POSIX_C_SOURCE 200809L

#include "test_support.h"
#include "tt_test.h"

static char *long_id(size_t len, char fill)
{
    char *id = malloc(len + 1);
    memset(id, fill, len);
    id[len] = '\0';
    return id;
}

static void set_long_id(char *id, int i, char fill)
{
    snprintf(id, 16, "%09d", i);
    id[9] = fill;
}

/* Records with the longest keys: the writer cuts a batch before its dictionary nears the reader's BATCH frame
 * limit (64 MiB of key strings per batch), so every record reads back by the footer, keys intact. */
static void long_keys(void)
{
    char path[512];
    ts_path(path, sizeof path, "long_keys.tt");
    tt_writer_options o = ts_opts();
    o.mode = TT_MODE_STATS;
    tt_writer *w;
    CHECK_STATUS(tt_writer_open(&w, path, &o), TT_OK);
    enum { N = 1100, LEN = 64000 };
    char *id = long_id(LEN, 'p');
    float data[4] = {1, 2, 3, 4};
    uint64_t shape[1] = {4};
    for (int i = 0; i < N; i++) {
        set_long_id(id, i, 'p');
        tt_key k = TT_KEY_INIT;
        k.prompt_id = id;
        k.phase = "decode0";
        k.point = "attn_out";
        k.layer = i;
        CHECK_STATUS(tt_put(w, &k, TT_F32, 1, shape, data), TT_OK);
    }
    CHECK_STATUS(tt_writer_close(w), TT_OK);
    tt_writer_free(w);
    tt_reader_options ro = TT_READER_OPTIONS_INIT;
    ro.recovery = TT_RECOVER_NEVER;
    tt_reader *r;
    CHECK_STATUS(tt_reader_open(&r, path, &ro), TT_OK);
    tt_file_info info;
    tt_reader_info(r, &info);
    CHECK_EQ_U64(tt_reader_count(r), N);
    CHECK(info.counters.batches >= 2); /* 70 MB of key strings: more than one batch */
    for (int i = 0; i < N; i += N - 1) {
        tt_record rec;
        CHECK_STATUS(tt_reader_record(r, (uint64_t)i, &rec), TT_OK);
        set_long_id(id, i, 'p');
        CHECK_EQ_U64(strlen(rec.key.prompt_id), LEN);
        CHECK(strcmp(rec.key.prompt_id, id) == 0);
        CHECK_EQ_INT(rec.key.layer, i);
    }
    tt_reader_close(r);
    free(id);
    unlink(path);
}

/* Distinct key strings go into the footer: past 512 MiB of them a put with a new one is refused (TT_E_LIMIT,
 * saying why), puts with known ones go on, and the file closes with a footer the reader takes. */
static void key_string_budget(void)
{
    char path[512];
    ts_path(path, sizeof path, "key_budget.tt");
    tt_writer_options o = ts_opts();
    o.mode = TT_MODE_HASH;
    tt_writer *w;
    CHECK_STATUS(tt_writer_open(&w, path, &o), TT_OK);
    enum { LEN = 65536 };
    char *id = long_id(LEN, 'q');
    float data[2] = {1, 2};
    uint64_t shape[1] = {2};
    tt_key k = TT_KEY_INIT;
    k.prompt_id = id;
    k.point = "x";
    int ok = 0, refused = 0;
    for (int i = 0; i < 8200; i++) {
        set_long_id(id, i, 'q');
        int rc = tt_put(w, &k, TT_F32, 1, shape, data);
        ok += rc == TT_OK;
        refused += rc == TT_E_LIMIT;
    }
    CHECK_EQ_INT(ok, 8192); /* the string that reaches 512 MiB is kept, the next new one is not */
    CHECK_EQ_INT(refused, 8200 - ok);
    CHECK(strstr(tt_writer_errmsg(w), "512 MiB") != NULL);
    set_long_id(id, 7, 'q');
    CHECK_STATUS(tt_put(w, &k, TT_F32, 1, shape, data), TT_OK); /* a known string still goes in */
    CHECK_STATUS(tt_writer_close(w), TT_OK);
    tt_writer_free(w);
    tt_reader_options ro = TT_READER_OPTIONS_INIT;
    ro.recovery = TT_RECOVER_NEVER;
    tt_reader *r;
    CHECK_STATUS(tt_reader_open(&r, path, &ro), TT_OK);
    CHECK_EQ_U64(tt_reader_count(r), (uint64_t)ok + 1);
    tt_reader_close(r);
    free(id);
    unlink(path);
}

int main(void)
{
    long_keys();
    key_string_budget();
    return tt_test_exit();
}
