/*
 * test_disk_full.c — writing to a small filesystem until it is full (a real ENOSPC, not a file-size limit).
 *
 * The test makes a private mount namespace (unshare, as root) and mounts a size-limited tmpfs there, so nothing
 * is visible outside and nothing is left behind; where it cannot (no privileges, a container without
 * CAP_SYS_ADMIN) it says why and exits 77, which ctest reports as skipped. tests/unit/test_full_disk.c covers
 * the same promise with RLIMIT_FSIZE everywhere.
 *
 * Scenarios, each on a fresh file:
 *   flush-each  one thread puts tensors of several chunks and flushes after each, until a call fails;
 *   threads     four threads put and flush now and then, blocking on a 1 MiB in-flight bound, until they fail
 *               (none may hang: the failure must wake blocked puts);
 *   close-sweep the filesystem is filled to leave 4 KiB .. 160 KiB free, then a fixed set of records is put
 *               without a flush and the writer closed: the failure lands in payload, batch, META, footer or
 *               trailer writes in turn (or the close succeeds).
 * Each time: the failing call and every later put, flush and close return TT_E_IO; the message names the file,
 * "write at offset N" and "No space left on device"; the file, cut back to its last whole frame, opens (by its
 * footer when the close succeeded, else by recovery) with no damaged frame; every record flushed before the
 * failure is there with its exact bytes; every record there is one that was put, exact.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "frame.h"
#include "rel_support.h"
#include "tt_test.h"

#define MAX_T 4
#define MAX_I 4096
#define MAX_BYTES (24u << 10)

static uint64_t g_seed;

typedef struct run_log {
    int32_t durable[MAX_T]; /* highest index flushed by each thread, -1 none */
    int32_t put[MAX_T];     /* indices put without error, 0..put-1 */
    int close_ok;
} run_log;

typedef struct figures {
    uint64_t runs, failures_seen, close_ok, durable_checked, records_read;
    uint64_t fail_where[5]; /* the write that failed: in a PAYLOAD, BATCH, META, FOOTER frame, or the trailer */
} figures;

static const char *g_cause = "No space left on device";

static void check_message(const tt_writer *w, const char *path, const char *what)
{
    const char *m = tt_writer_errmsg(w);
    if (!strstr(m, path) || !strstr(m, "write at offset") || !strstr(m, g_cause)) {
        fprintf(stderr, "%s: the error does not name file, offset and cause: \"%s\"\n", what, m);
        tt_test_failures++;
    }
}

/* The file after the failure: opens, nothing damaged, durable records exact, every record exact. */
static void check_file(const char *path, int nthreads, const run_log *L, figures *F, const char *what)
{
    tt_reader *r;
    int rc = tt_reader_open(&r, path, NULL);
    if (rc != TT_OK) {
        fprintf(stderr, "%s: the file does not open: %s\n", what, tt_reader_errmsg(r));
        tt_test_failures++;
        tt_reader_close(r);
        return;
    }
    tt_file_info info;
    tt_reader_info(r, &info);
    CHECK_EQ_U64(info.damaged_frames, 0);
    CHECK_EQ_INT(info.footer_intact, L->close_ok);
    static uint8_t seen[MAX_T][MAX_I];
    memset(seen, 0, sizeof seen);
    uint8_t *buf = malloc(MAX_BYTES + 16), *want = malloc(MAX_BYTES + 16);
    for (uint64_t x = 0; x < tt_reader_count(r); x++) {
        tt_record rec;
        char why[256];
        int t;
        int64_t i;
        CHECK_STATUS(tt_reader_record(r, x, &rec), TT_OK);
        if (rel_check_meta(g_seed, MAX_BYTES, &rec, nthreads, &t, &i, why, sizeof why) != 0 || i >= MAX_I ||
            seen[t][i]) {
            fprintf(stderr, "%s: record %llu is wrong: %s\n", what, (unsigned long long)x, why);
            tt_test_failures++;
            continue;
        }
        rel_spec s;
        rel_spec_of(g_seed, t, (uint64_t)i, MAX_BYTES, &s);
        if (!s.meta_only) {
            rel_fill(g_seed, t, (uint64_t)i, &s, want);
            rc = tt_reader_read(r, x, buf, MAX_BYTES + 16);
            if (rc != TT_OK || memcmp(buf, want, (size_t)s.nbytes) != 0) {
                fprintf(stderr, "%s: record %llu (%d, %lld): %s\n", what, (unsigned long long)x, t, (long long)i,
                        rc == TT_OK ? "WRONG BYTES" : tt_reader_errmsg(r));
                tt_test_failures++;
                continue;
            }
            F->records_read++;
        }
        seen[t][i] = 1;
    }
    for (int t = 0; t < nthreads; t++) {
        int32_t upto = L->close_ok ? L->put[t] - 1 : L->durable[t];
        for (int32_t i = 0; i <= upto; i++) {
            F->durable_checked++;
            if (!seen[t][i]) {
                fprintf(stderr, "%s: record (%d, %d) was flushed before the disk filled but is missing\n", what, t,
                        i);
                tt_test_failures++;
            }
        }
    }
    tt_verify_result vr;
    CHECK_STATUS(tt_reader_verify(r, &vr, NULL, NULL), TT_OK);
    free(buf);
    free(want);
    tt_reader_close(r);
}

/* After a failure every call of the writer fails the same way, and the close says so too. */
static void check_failed_writer(tt_writer *w, const char *path, const char *what)
{
    uint8_t b[64] = {0};
    tt_key k = TT_KEY_INIT;
    k.point = "after";
    uint64_t shape[1] = {16};
    CHECK_STATUS(tt_put(w, &k, TT_F32, 1, shape, b), TT_E_IO);
    CHECK_STATUS(tt_writer_flush(w), TT_E_IO);
    CHECK_STATUS(tt_writer_close(w), TT_E_IO);
    check_message(w, path, what);
}

/* ---- flush-each ------------------------------------------------------------------------------------------ */

static void flush_each(const char *dir, figures *F)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/flush_each.tt", dir);
    tt_writer_options o = TT_WRITER_OPTIONS_INIT;
    o.ignore_env = 1;
    o.chunk_bytes = 4096;
    tt_writer *w;
    CHECK_STATUS(tt_writer_open(&w, path, &o), TT_OK);
    run_log L = {{-1}, {0}, 0};
    uint8_t *buf = malloc(MAX_BYTES + 16);
    int rc = TT_OK;
    for (int i = 0; i < MAX_I && rc == TT_OK; i++) {
        rc = rel_put(w, g_seed, 0, (uint64_t)i, MAX_BYTES, buf);
        if (rc == TT_OK) {
            L.put[0] = i + 1;
            rc = tt_writer_flush(w);
            if (rc == TT_OK)
                L.durable[0] = i;
        }
    }
    free(buf);
    CHECK_EQ_INT(rc, TT_E_IO);
    F->failures_seen += rc == TT_E_IO;
    check_failed_writer(w, path, "flush-each");
    tt_writer_free(w);
    check_file(path, 1, &L, F, "flush-each");
    F->runs++;
    unlink(path);
}

/* ---- threads ---------------------------------------------------------------------------------------------- */

typedef struct tctx {
    tt_writer *w;
    int t;
    run_log *L;
    int last_rc;
} tctx;

static void *putter(void *arg)
{
    tctx *c = arg;
    uint8_t *buf = malloc(MAX_BYTES + 16);
    int rc = TT_OK;
    for (int i = 0; i < MAX_I && rc == TT_OK; i++) {
        rc = rel_put(c->w, g_seed, c->t, (uint64_t)i, MAX_BYTES, buf);
        if (rc == TT_OK) {
            c->L->put[c->t] = i + 1;
            if (i % 5 == 4 && (rc = tt_writer_flush(c->w)) == TT_OK)
                c->L->durable[c->t] = i;
        }
    }
    c->last_rc = rc;
    free(buf);
    return NULL;
}

static void threads(const char *dir, figures *F)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/threads.tt", dir);
    tt_writer_options o = TT_WRITER_OPTIONS_INIT;
    o.ignore_env = 1;
    o.chunk_bytes = 4096;
    o.inflight_bytes = 1u << 20;
    o.threads = 2;
    o.batch_records = 7;
    tt_writer *w;
    CHECK_STATUS(tt_writer_open(&w, path, &o), TT_OK);
    run_log L;
    memset(&L, 0, sizeof L);
    for (int t = 0; t < MAX_T; t++)
        L.durable[t] = -1;
    pthread_t th[MAX_T];
    tctx c[MAX_T];
    for (int t = 0; t < MAX_T; t++) {
        c[t] = (tctx){w, t, &L, 0};
        pthread_create(&th[t], NULL, putter, &c[t]);
    }
    for (int t = 0; t < MAX_T; t++) {
        pthread_join(th[t], NULL); /* a put blocked on the bound must wake up when the writer fails */
        CHECK_EQ_INT(c[t].last_rc, TT_E_IO);
    }
    F->failures_seen++;
    check_failed_writer(w, path, "threads");
    tt_writer_free(w);
    check_file(path, MAX_T, &L, F, "threads");
    F->runs++;
    unlink(path);
}

/* ---- close-sweep ------------------------------------------------------------------------------------------ */

/* Fills the filesystem, then frees `free_bytes` of it. */
static int fill_leaving(const char *dir, uint64_t free_bytes)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/filler", dir);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0)
        return -1;
    static uint8_t block[1 << 16];
    uint64_t total = 0;
    for (;;) {
        ssize_t k = write(fd, block, sizeof block);
        if (k <= 0)
            break;
        total += (uint64_t)k;
    }
    int rc = ftruncate(fd, (off_t)(total > free_bytes ? total - free_bytes : 0));
    close(fd);
    return rc;
}

/* Where the write that failed was: the frame around offset `at` in the cut-back file (or its end). */
static int classify_failure(const char *path, const char *msg)
{
    const char *p = strstr(msg, "write at offset ");
    uint64_t at = p ? strtoull(p + 16, NULL, 10) : 0;
    size_t len;
    uint8_t *b = ts_read_file(path, &len);
    int where = 0;
    /* the write started at the end of the last whole frame, which is the end of the cut-back file; what it was
     * writing: the frame type is unknown from the file, so infer it from what the writer does next */
    (void)at;
    uint64_t pos = TT_FILE_HEADER_SIZE, last_type = 0;
    while (b && pos + TT_FRAME_HEADER_SIZE <= len) {
        tt_frame_header h;
        if (tt_frame_header_decode(b + pos, &h, NULL, 0) != TT_OK)
            break;
        last_type = h.type;
        pos += TT_FRAME_HEADER_SIZE + h.stored_size;
    }
    if (last_type == TT_FRAME_FOOTER)
        where = 4; /* the footer is whole: the trailer failed */
    else if (at >= pos && last_type == TT_FRAME_BATCH)
        where = 3; /* after the last batch at close: the footer (or a META frame before it) */
    else
        where = last_type == TT_FRAME_PAYLOAD ? 1 : 0; /* payloads or the batch that follows them */
    free(b);
    return where;
}

static void close_sweep(const char *dir, figures *F)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/sweep.tt", dir);
    for (uint64_t kib = 4; kib <= 160; kib += 4) {
        if (fill_leaving(dir, kib << 10) != 0) {
            fprintf(stderr, "close-sweep: cannot fill the filesystem: %s\n", strerror(errno));
            tt_test_failures++;
            return;
        }
        tt_writer_options o = TT_WRITER_OPTIONS_INIT;
        o.ignore_env = 1;
        o.overwrite = 1;
        o.chunk_bytes = 4096;
        o.batch_records = 5;
        tt_writer *w;
        int rc = tt_writer_open(&w, path, &o);
        run_log L;
        memset(&L, 0, sizeof L);
        L.durable[0] = -1;
        if (rc != TT_OK) { /* not even the file header fits */
            CHECK_EQ_INT(rc, TT_E_IO);
            tt_writer_free(w);
            unlink(path);
            continue;
        }
        tt_writer_set_meta(w, "engine", "disk-full");
        uint8_t *buf = malloc(MAX_BYTES + 16);
        int failed_put = 0;
        for (int i = 0; i < 12; i++) {
            rc = rel_put(w, g_seed, 0, (uint64_t)(1000 + i) % MAX_I, MAX_BYTES, buf);
            if (rc != TT_OK) {
                CHECK_EQ_INT(rc, TT_E_IO);
                failed_put = 1;
                break;
            }
        }
        free(buf);
        if (!failed_put)
            tt_writer_set_meta(w, "closing", "yes"); /* a META frame at close */
        rc = tt_writer_close(w);
        F->runs++;
        if (rc == TT_OK) {
            F->close_ok++;
            L.close_ok = 1;
            L.put[0] = 0; /* the indices put start at 1000: checked through the records, not the log */
        } else {
            CHECK_EQ_INT(rc, TT_E_IO);
            check_message(w, path, "close-sweep");
            F->failures_seen++;
            F->fail_where[classify_failure(path, tt_writer_errmsg(w))]++;
        }
        tt_writer_free(w);
        check_file(path, 1, &L, F, "close-sweep");
        unlink(path);
    }
    char filler[1024];
    snprintf(filler, sizeof filler, "%s/filler", dir);
    unlink(filler);
}

/* ---- tail-sweep: byte by byte over the footer and the trailer ----------------------------------------------
 * A tmpfs fills by pages, so the failure rarely lands in the 32-byte trailer. Here the file size is limited
 * byte by byte with RLIMIT_FSIZE (EFBIG, which the writer handles like ENOSPC) over the last 300 bytes of a
 * deterministic trace: every footer and trailer write is cut at every byte. This part needs no privileges. */

static uint64_t write_tail_workload(const char *path, int *close_rc, tt_writer **wout)
{
    tt_writer_options o = TT_WRITER_OPTIONS_INIT;
    o.ignore_env = 1;
    o.overwrite = 1;
    o.chunk_bytes = 4096;
    o.batch_records = 5;
    o.flush_ms = 3600000; /* batches by count only: the same bytes every time */
    o.threads = 1;
    tt_writer *w;
    *close_rc = tt_writer_open(&w, path, &o);
    *wout = w;
    if (*close_rc != TT_OK)
        return 0;
    tt_writer_set_meta(w, "engine", "disk-full");
    uint8_t *buf = malloc(MAX_BYTES + 16);
    for (int i = 0; i < 12; i++)
        if (rel_put(w, g_seed, 0, (uint64_t)(2000 + i), MAX_BYTES, buf) != TT_OK)
            break;
    free(buf);
    tt_writer_set_meta(w, "closing", "yes");
    *close_rc = tt_writer_close(w);
    struct stat st;
    return stat(path, &st) == 0 ? (uint64_t)st.st_size : 0;
}

static void tail_sweep(figures *F)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/tt_tail_sweep_%d.tt", rel_tmpdir(), (int)getpid());
    int crc;
    tt_writer *w;
    uint64_t full = write_tail_workload(path, &crc, &w);
    tt_writer_free(w);
    CHECK_EQ_INT(crc, TT_OK);
    size_t len;
    uint8_t *b = ts_read_file(path, &len);
    uint64_t pos = TT_FILE_HEADER_SIZE, footer = 0, last_batch_end = 0;
    while (b && pos + TT_FRAME_HEADER_SIZE <= len) {
        tt_frame_header h;
        if (tt_frame_header_decode(b + pos, &h, NULL, 0) != TT_OK)
            break;
        if (h.type == TT_FRAME_FOOTER)
            footer = pos;
        pos += TT_FRAME_HEADER_SIZE + h.stored_size;
        if (h.type == TT_FRAME_BATCH)
            last_batch_end = pos;
    }
    free(b);
    CHECK(footer > 0 && last_batch_end > 0 && full == len);
    signal(SIGXFSZ, SIG_IGN);
    struct rlimit old;
    getrlimit(RLIMIT_FSIZE, &old);
    const char *cause = g_cause;
    g_cause = "File too large";
    uint64_t lo = full > 300 ? full - 300 : 0;
    for (uint64_t lim = full - 1; lim >= lo && lim > last_batch_end; lim--) {
        struct rlimit rl = {(rlim_t)lim, old.rlim_max};
        setrlimit(RLIMIT_FSIZE, &rl);
        uint64_t got = write_tail_workload(path, &crc, &w);
        setrlimit(RLIMIT_FSIZE, &old);
        F->runs++;
        CHECK(got <= lim);
        run_log L;
        memset(&L, 0, sizeof L);
        L.durable[0] = -1; /* every record is in a whole batch, checked through the records */
        if (crc == TT_OK) {
            /* the footer holds timestamps, so its compressed size varies by a few bytes from run to run: this
             * one fitted */
            F->close_ok++;
            L.close_ok = 1;
        } else {
            CHECK_EQ_INT(crc, TT_E_IO);
            check_message(w, path, "tail-sweep");
            F->failures_seen++;
            F->fail_where[got + TT_TRAILER_SIZE > lim && got > last_batch_end + TT_FRAME_HEADER_SIZE ? 4 : 3]++;
        }
        tt_writer_free(w);
        check_file(path, 1, &L, F, "tail-sweep");
        tt_reader *r;
        if (tt_reader_open(&r, path, NULL) == TT_OK)
            CHECK_EQ_U64(tt_reader_count(r), 12);
        tt_reader_close(r);
    }
    g_cause = cause;
    signal(SIGXFSZ, SIG_DFL);
    unlink(path);
}

/* ---- the namespace ----------------------------------------------------------------------------------------- */

static figures g_tail; /* the tail sweep's figures, added to the namespace part's */

static int in_namespace(void)
{
    if (unshare(CLONE_NEWNS) != 0) {
        printf("test_disk_full: SKIPPED: cannot make a mount namespace (unshare: %s); needs root or "
               "CAP_SYS_ADMIN. tests/unit/test_full_disk.c covers the promise with RLIMIT_FSIZE.\n",
               strerror(errno));
        return 77;
    }
    if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0) {
        printf("test_disk_full: SKIPPED: cannot make mounts private (%s)\n", strerror(errno));
        return 77;
    }
    char dir[512];
    snprintf(dir, sizeof dir, "%s/tt_disk_full_XXXXXX", rel_tmpdir());
    if (!mkdtemp(dir)) {
        printf("test_disk_full: cannot make a directory in %s: %s\n", rel_tmpdir(), strerror(errno));
        return 1;
    }
    if (mount("tt_disk_full", dir, "tmpfs", MS_NOSUID | MS_NODEV, "size=1m,mode=0700") != 0) {
        printf("test_disk_full: SKIPPED: cannot mount a tmpfs (%s)\n", strerror(errno));
        rmdir(dir);
        return 77;
    }
    figures F = {0};
    double t0 = rel_now();
    flush_each(dir, &F);
    threads(dir, &F);
    if (umount(dir) != 0 || mount("tt_disk_full", dir, "tmpfs", MS_NOSUID | MS_NODEV, "size=512k,mode=0700") != 0) {
        printf("test_disk_full: cannot remount the tmpfs: %s\n", strerror(errno));
        return 1;
    }
    close_sweep(dir, &F);
    umount(dir);
    rmdir(dir);
    printf("test_disk_full: %llu runs on a full tmpfs in %.1f s: %llu failed with ENOSPC (failing write: %llu in "
           "payloads or batches, %llu at close before the footer, %llu in the trailer), %llu closed cleanly; "
           "%llu flushed records checked present, %llu tensors read back exact; failures %d\n",
           (unsigned long long)F.runs, rel_now() - t0, (unsigned long long)F.failures_seen,
           (unsigned long long)(F.fail_where[0] + F.fail_where[1]), (unsigned long long)F.fail_where[3],
           (unsigned long long)F.fail_where[4], (unsigned long long)F.close_ok,
           (unsigned long long)F.durable_checked, (unsigned long long)F.records_read, tt_test_failures);
    return tt_test_exit();
}

int main(void)
{
    g_seed = rel_seed();
    printf("test_disk_full: seed 0x%016llx\n", (unsigned long long)g_seed);
    fflush(stdout);
    tail_sweep(&g_tail);
    printf("test_disk_full: tail-sweep: %llu closes cut at every byte of the footer and trailer writes: %llu failed "
           "in the footer, %llu in the trailer, each with TT_E_IO and every record recovered; %llu fitted%s\n",
           (unsigned long long)g_tail.runs, (unsigned long long)g_tail.fail_where[3],
           (unsigned long long)g_tail.fail_where[4], (unsigned long long)g_tail.close_ok,
           tt_test_failures ? " -- FAILED" : "");
    if (tt_test_failures)
        return 1;
    fflush(stdout);
    /* the namespace is made in a child, so the test process itself (and ctest) never sees the mount */
    pid_t pid = fork();
    if (pid == 0) {
        int rc = in_namespace();
        fflush(stdout);
        _exit(rc);
    }
    int st;
    waitpid(pid, &st, 0);
    if (!WIFEXITED(st)) {
        fprintf(stderr, "test_disk_full: the child died (status 0x%x)\n", st);
        return 1;
    }
    return WEXITSTATUS(st);
}
