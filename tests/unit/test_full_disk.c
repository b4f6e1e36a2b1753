/*
 * test_full_disk.c — a write that fails part way (the disk fills). A child process limits its file size with
 * RLIMIT_FSIZE (writes past it fail with EFBIG, as they would with ENOSPC on a full disk) and writes a trace
 * until the writer fails. Then: put/flush/close return TT_E_IO, the message names the file and the offset,
 * and the file, cut back to its last whole frame, opens in recovery mode with every record flushed before the
 * failure intact. A second child puts small (packed) records into batches of 4 records, so that the failing
 * write is a batch in the middle of writing a pack's records: the rest of the pack must not be appended to the
 * batch that could not be written (it overflowed its columns once), and what reached the file reads back exact.
 */
#define _POSIX_C_SOURCE 200809L
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>

#include "test_support.h"
#include "tt_test.h"

#define ELEMS 4096

/* In the child: writes records, flushing after each, until a put or flush fails. Reports through the exit
 * status: the number of records known flushed (<= 250), or 255 on an unexpected outcome. */
static int child(const char *path, const char *log)
{
    signal(SIGXFSZ, SIG_IGN);
    struct rlimit rl = {200000, 200000};
    if (setrlimit(RLIMIT_FSIZE, &rl) != 0)
        return 254;
    tt_writer_options o = ts_opts();
    tt_writer *w;
    if (tt_writer_open(&w, path, &o) != TT_OK)
        return 255;
    float *d = ts_data(TT_F32, ELEMS, 9);
    uint64_t shape[1] = {ELEMS};
    int flushed = 0, rc = TT_OK;
    for (int i = 0; i < 250 && rc == TT_OK; i++) {
        tt_key k = TT_KEY_INIT;
        k.point = "x";
        k.layer = i;
        d[0] = (float)i;
        rc = tt_put(w, &k, TT_F32, 1, shape, d);
        if (rc == TT_OK)
            rc = tt_writer_flush(w);
        if (rc == TT_OK)
            flushed = i + 1;
    }
    int crc = tt_writer_close(w);
    FILE *f = fopen(log, "w");
    fprintf(f, "%d %d %d\n%s\n", rc, crc, flushed, tt_writer_errmsg(w));
    fclose(f);
    tt_writer_free(w);
    free(d);
    return flushed;
}

#define SMALL 64

/* In the child: small records, never flushed, batches of 4 records, until a put fails or 4000 are put; then
 * close. Exit status 0 when put or close reported TT_E_IO, else 255 (a crash shows as a signal). */
static int child_packed(const char *path)
{
    signal(SIGXFSZ, SIG_IGN);
    struct rlimit rl = {60000, 60000};
    if (setrlimit(RLIMIT_FSIZE, &rl) != 0)
        return 254;
    tt_writer_options o = ts_opts();
    o.batch_records = 4;
    tt_writer *w;
    if (tt_writer_open(&w, path, &o) != TT_OK)
        return 255;
    float d[SMALL];
    uint64_t shape[1] = {SMALL};
    int rc = TT_OK;
    for (int i = 0; i < 4000 && rc == TT_OK; i++) {
        tt_key k = TT_KEY_INIT;
        k.point = "small";
        k.step = i;
        for (int e = 0; e < SMALL; e++)
            d[e] = (float)(i * SMALL + e);
        rc = tt_put(w, &k, TT_F32, 1, shape, d);
    }
    int crc = tt_writer_close(w);
    tt_writer_free(w);
    return rc == TT_E_IO || crc == TT_E_IO ? 0 : 255;
}

static void test_packed_batches(void)
{
    char path[256];
    ts_path(path, sizeof path, "full_packed.tt");
    pid_t pid = fork();
    if (pid == 0)
        _exit(child_packed(path));
    int st;
    waitpid(pid, &st, 0);
    if (!WIFEXITED(st))
        fprintf(stderr, "packed child: killed by signal %d\n", WIFSIGNALED(st) ? WTERMSIG(st) : 0);
    CHECK(WIFEXITED(st));
    CHECK_EQ_INT(WEXITSTATUS(st), 0);
    tt_reader *r;
    CHECK_STATUS(tt_reader_open(&r, path, NULL), TT_OK);
    tt_file_info info;
    tt_reader_info(r, &info);
    CHECK_EQ_U64(info.damaged_frames, 0);
    uint64_t n = tt_reader_count(r);
    CHECK(n > 0 && n < 4000);
    float buf[SMALL];
    for (uint64_t i = 0; i < n; i++) {
        tt_record rec;
        CHECK_STATUS(tt_reader_record(r, i, &rec), TT_OK);
        CHECK_STATUS(tt_reader_read(r, i, buf, sizeof buf), TT_OK);
        CHECK(buf[0] == (float)(rec.key.step * SMALL) && buf[SMALL - 1] == (float)(rec.key.step * SMALL + SMALL - 1));
    }
    tt_reader_close(r);
    unlink(path);
}

int main(void)
{
    char path[256], log[256];
    ts_path(path, sizeof path, "full.tt");
    ts_path(log, sizeof log, "full.log");
    pid_t pid = fork();
    if (pid == 0)
        _exit(child(path, log));
    int st;
    waitpid(pid, &st, 0);
    CHECK(WIFEXITED(st));
    int flushed = WEXITSTATUS(st);
    CHECK(flushed > 5 && flushed < 250);
    FILE *f = fopen(log, "r");
    int rc = 0, crc = 0, fl = 0;
    char msg[512] = "";
    CHECK(f && fscanf(f, "%d %d %d\n", &rc, &crc, &fl) == 3);
    if (f && fgets(msg, sizeof msg, f) == NULL)
        msg[0] = 0;
    if (f)
        fclose(f);
    CHECK_EQ_INT(rc, TT_E_IO);
    CHECK_EQ_INT(crc, TT_E_IO);
    CHECK_EQ_INT(fl, flushed);
    CHECK(strstr(msg, path) != NULL);            /* what */
    CHECK(strstr(msg, "write at offset") != NULL); /* where */
    CHECK(strstr(msg, "large") != NULL || strstr(msg, "space") != NULL);
    CHECK(ts_file_size(path) <= 200000);

    tt_reader *r;
    CHECK_STATUS(tt_reader_open(&r, path, NULL), TT_OK);
    tt_file_info info;
    tt_reader_info(r, &info);
    CHECK_EQ_INT(info.footer_intact, 0);
    CHECK_EQ_U64(info.damaged_frames, 0); /* cut back to a whole frame: nothing half-written */
    CHECK(tt_reader_count(r) >= (uint64_t)flushed);
    float *buf = malloc(ELEMS * 4), *ref = ts_data(TT_F32, ELEMS, 9);
    for (uint64_t i = 0; i < (uint64_t)flushed; i++) {
        tt_record rec;
        CHECK_STATUS(tt_reader_record(r, i, &rec), TT_OK);
        CHECK_EQ_INT(rec.key.layer, (int)i);
        CHECK_STATUS(tt_reader_read(r, i, buf, ELEMS * 4), TT_OK);
        ref[0] = (float)i;
        CHECK(memcmp(buf, ref, ELEMS * 4) == 0);
    }
    free(buf);
    free(ref);
    tt_reader_close(r);
    unlink(path);
    unlink(log);
    test_packed_batches();
    return tt_test_exit();
}
