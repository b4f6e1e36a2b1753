/*
 * test_writer_threads.c — several threads putting at once: every record arrives intact and in a consistent
 * order; with a tiny in-flight bound the block policy loses nothing and the drop policy drops and counts
 * exactly (puts = written + dropped, and the footer says the same).
 */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>

#include "test_support.h"
#include "tt_test.h"

#define THREADS 8
#define PUTS 200
#define ELEMS 3000

typedef struct ctx {
    tt_writer *w;
    int id;
    float *data;
    int ok, dropped, failed;
} ctx;

static void *putter(void *arg)
{
    ctx *c = arg;
    tt_key k = TT_KEY_INIT;
    k.point = "mlp_out";
    k.prompt_id = "p";
    k.rank = c->id;
    uint64_t shape[1] = {ELEMS};
    for (int i = 0; i < PUTS; i++) {
        k.step = i;
        c->data[0] = (float)(c->id * 100000 + i); /* each record's content is unique */
        int rc = tt_put(c->w, &k, TT_F32, 1, shape, c->data);
        if (rc == TT_OK)
            c->ok++;
        else if (rc == TT_DROPPED)
            c->dropped++;
        else
            c->failed++;
    }
    return NULL;
}

static void run(tt_on_full policy, uint64_t inflight)
{
    char path[256];
    ts_path(path, sizeof path, policy == TT_ON_FULL_DROP ? "drop.tt" : "block.tt");
    tt_writer_options o = ts_opts();
    o.on_full = policy;
    o.inflight_bytes = inflight;
    o.threads = 3;
    o.batch_records = 64;
    tt_writer *w;
    CHECK_STATUS(tt_writer_open(&w, path, &o), TT_OK);
    pthread_t th[THREADS];
    ctx c[THREADS];
    for (int t = 0; t < THREADS; t++) {
        c[t] = (ctx){w, t, ts_data(TT_F32, ELEMS, (uint64_t)t), 0, 0, 0};
        pthread_create(&th[t], NULL, putter, &c[t]);
    }
    int ok = 0, dropped = 0, failed = 0;
    for (int t = 0; t < THREADS; t++) {
        pthread_join(th[t], NULL);
        ok += c[t].ok, dropped += c[t].dropped, failed += c[t].failed;
    }
    CHECK_STATUS(tt_writer_close(w), TT_OK);
    CHECK_EQ_INT(failed, 0);
    CHECK_EQ_INT(ok + dropped, THREADS * PUTS);
    if (policy == TT_ON_FULL_BLOCK)
        CHECK_EQ_INT(dropped, 0);
    tt_writer_counters wc;
    tt_writer_get_counters(w, &wc);
    CHECK_EQ_U64(wc.dropped, (uint64_t)dropped);
    CHECK_EQ_U64(wc.written, (uint64_t)ok);
    CHECK_EQ_U64(wc.puts, THREADS * PUTS);
    tt_writer_free(w);

    tt_reader *r;
    CHECK_STATUS(tt_reader_open(&r, path, NULL), TT_OK);
    tt_file_info info;
    tt_reader_info(r, &info);
    CHECK_EQ_U64(info.counters.dropped, (uint64_t)dropped);
    CHECK_EQ_U64(info.counters.written, (uint64_t)ok);
    CHECK_EQ_U64(tt_reader_count(r), (uint64_t)ok);
    /* each thread's records appear in the order that thread put them, with the bytes it put */
    int last[THREADS], seen[THREADS] = {0};
    for (int t = 0; t < THREADS; t++)
        last[t] = -1;
    float *buf = malloc(ELEMS * 4);
    uint64_t prev_seq = 0;
    for (uint64_t i = 0; i < tt_reader_count(r); i++) {
        tt_record rec;
        CHECK_STATUS(tt_reader_record(r, i, &rec), TT_OK);
        CHECK(i == 0 || rec.seq > prev_seq);
        prev_seq = rec.seq;
        int t = rec.key.rank;
        CHECK(t >= 0 && t < THREADS);
        if (t < 0 || t >= THREADS)
            continue;
        CHECK(rec.key.step > last[t]);
        last[t] = rec.key.step;
        seen[t]++;
        CHECK_STATUS(tt_reader_read(r, i, buf, ELEMS * 4), TT_OK);
        CHECK(buf[0] == (float)(t * 100000 + rec.key.step));
        CHECK(memcmp(buf + 1, c[t].data + 1, (ELEMS - 1) * 4) == 0);
    }
    for (int t = 0; t < THREADS; t++) {
        CHECK_EQ_INT(seen[t], c[t].ok);
        free(c[t].data);
    }
    free(buf);
    tt_reader_close(r);
    unlink(path);
}

int main(void)
{
    run(TT_ON_FULL_BLOCK, 1 << 20);       /* the smallest bound: ~87 records in flight at most */
    run(TT_ON_FULL_BLOCK, 256ull << 20);
    run(TT_ON_FULL_DROP, 1 << 20);
    return tt_test_exit();
}
