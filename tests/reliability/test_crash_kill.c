/*
 * test_crash_kill.c — the writer killed with SIGKILL at random moments, and what recovery gives back.
 *
 * Each kill point forks a child that writes a trace from several threads (tensors of every dtype whose bytes
 * follow from their key, metadata-only records, metadata updates), calling tt_writer_flush() now and then and
 * closing at the end. Beside the trace the child keeps a log, written with plain write(2) (the page cache
 * survives the death of a process, so no fsync is needed): "P t i" once tt_put of record (t, i) has returned,
 * "F t i" once a flush that thread t called after putting record i has returned (so every record of t up to i
 * is durable), "C" once tt_writer_close() has returned. The parent kills the child with SIGKILL after a random
 * delay, or at a chosen moment (the child writes a byte to a pipe as it starts a flush or the close), then
 * opens the trace as a reader would (recovery when there is no footer) and checks:
 *   - every record logged durable is there, with its tensor readable and exactly the bytes put;
 *   - every record there is one that was put, once, with its key, dtype, shape, flags and bytes (or an error
 *     naming it): never wrong bytes, never a record that was not written;
 *   - records are in capture order (seq increasing; each thread's in its put order);
 *   - tt_reader_verify() finds no problem (nothing half-written is taken for a frame);
 *   - after "C", the footer is intact and its counters say what was written.
 * Records lost are counted: those put but not yet durable (in flight) when the kill came.
 *
 * Kill points: 240 by default (about a minute on 2 cores), 3000 with TT_RELIABILITY_LONG=1, or
 * TT_RELIABILITY_KILLS=N. The seed is printed; TT_RELIABILITY_SEED=S replays a run.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "frame.h"
#include "rel_support.h"
#include "tt_test.h"

#define MAX_THREADS 4
#define MAX_PUTS 1500

enum { KILL_EARLY, KILL_MID, KILL_LATE, KILL_FLUSH, KILL_CLOSE, KILL_MODES };
static const char *const mode_names[KILL_MODES] = {"early", "mid-write", "late", "during flush", "during close"};

typedef struct params {
    uint64_t seed;        /* content of the run */
    int nthreads;         /* putting threads */
    int nputs;            /* puts per thread */
    int flush_every;      /* a thread flushes after this many of its puts */
    uint64_t max_bytes;   /* largest tensor */
    tt_writer_options o;
    int mode;             /* KILL_* */
    uint64_t delay_us;    /* after the start (early/mid/late) or after the trigger */
    int trigger_n;        /* KILL_FLUSH: which flush */
} params;

static void sleep_us(uint64_t us)
{
    struct timespec ts = {(time_t)(us / 1000000), (long)(us % 1000000) * 1000};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

/* ---- the child: writes until killed -------------------------------------------------------------------- */

typedef struct child_ctx {
    const params *p;
    tt_writer *w;
    int logfd, trigfd, t;
} child_ctx;

static void log_line(int fd, char kind, int t, int64_t i)
{
    char line[64];
    int n = snprintf(line, sizeof line, "%c %d %lld\n", kind, t, (long long)i);
    if (write(fd, line, (size_t)n) != n)
        _exit(5);
}

static void trigger(int fd, char c)
{
    ssize_t k = write(fd, &c, 1); /* non-blocking: a full pipe just drops the byte */
    (void)k;
}

static void *child_putter(void *arg)
{
    child_ctx *c = arg;
    const params *p = c->p;
    uint8_t *buf = malloc(p->max_bytes + 16);
    char meta[32];
    uint64_t rng = p->seed ^ (uint64_t)(c->t + 1);
    for (int i = 0; i < p->nputs; i++) {
        if (rel_next(&rng) % 4 == 0) /* the engine computing between captures */
            sleep_us(rel_range(&rng, 0, 200));
        int rc = rel_put(c->w, p->seed, c->t, (uint64_t)i, p->max_bytes, buf);
        if (rc != TT_OK) {
            log_line(c->logfd, 'E', c->t, rc);
            _exit(3);
        }
        log_line(c->logfd, 'P', c->t, i);
        if (c->t == 0 && i % 9 == 4) {
            snprintf(meta, sizeof meta, "%d", i);
            tt_writer_set_meta(c->w, "progress", meta);
        }
        if ((i + 1) % p->flush_every == 0) {
            trigger(c->trigfd, 'f');
            if (tt_writer_flush(c->w) != TT_OK)
                _exit(4);
            log_line(c->logfd, 'F', c->t, i);
        }
    }
    free(buf);
    return NULL;
}

static void child_main(const params *p, const char *path, const char *logpath, int trigfd)
{
    int logfd = open(logpath, O_WRONLY | O_CREAT | O_APPEND | O_TRUNC, 0644);
    if (logfd < 0)
        _exit(6);
    tt_writer *w;
    if (tt_writer_open(&w, path, &p->o) != TT_OK)
        _exit(7);
    tt_writer_set_meta(w, "engine", "crash-test");
    child_ctx c[MAX_THREADS];
    pthread_t th[MAX_THREADS];
    for (int t = 0; t < p->nthreads; t++) {
        c[t] = (child_ctx){p, w, logfd, trigfd, t};
        if (pthread_create(&th[t], NULL, child_putter, &c[t]) != 0)
            _exit(8);
    }
    for (int t = 0; t < p->nthreads; t++)
        pthread_join(th[t], NULL);
    trigger(trigfd, 'c');
    if (tt_writer_close(w) != TT_OK)
        _exit(9);
    if (write(logfd, "C\n", 2) != 2)
        _exit(5);
    for (;;)
        pause(); /* wait for the kill */
}

/* ---- the parent: kills, then checks -------------------------------------------------------------------- */

typedef struct tally {
    uint64_t kills, by_mode[KILL_MODES], durable, recovered, read_ok, lost_inflight, closed_runs;
    uint64_t footer_runs, empty_runs, meta_only;
    double check_s;
} tally;

/* Waits for the n-th byte c on fd (or the timeout): the moment to aim the kill at. */
static void wait_trigger(int fd, char c, int n, int timeout_ms)
{
    double end = rel_now() + timeout_ms / 1000.0;
    int seen = 0;
    while (seen < n) {
        int left = (int)((end - rel_now()) * 1000);
        if (left <= 0)
            return;
        struct pollfd pf = {fd, POLLIN, 0};
        if (poll(&pf, 1, left) <= 0)
            return;
        char b[256];
        ssize_t k = read(fd, b, sizeof b);
        if (k <= 0)
            return; /* the child is gone */
        for (ssize_t j = 0; j < k && seen < n; j++)
            seen += b[j] == c;
    }
}

typedef struct logstate {
    int32_t durable[MAX_THREADS]; /* highest index logged durable, -1 none */
    uint8_t put[MAX_THREADS][MAX_PUTS];
    int closed;
} logstate;

static void parse_log(const char *logpath, logstate *L)
{
    memset(L, 0, sizeof *L);
    for (int t = 0; t < MAX_THREADS; t++)
        L->durable[t] = -1;
    FILE *f = fopen(logpath, "r");
    char line[128];
    while (f && fgets(line, sizeof line, f)) {
        char kind;
        int t;
        long long i;
        if (line[0] == 'C') {
            L->closed = 1;
        } else if (sscanf(line, "%c %d %lld", &kind, &t, &i) == 3 && t >= 0 && t < MAX_THREADS && i >= 0 &&
                   i < MAX_PUTS && strchr(line, '\n')) {
            if (kind == 'P')
                L->put[t][i] = 1;
            else if (kind == 'F' && i > L->durable[t])
                L->durable[t] = (int32_t)i;
        }
    }
    if (f)
        fclose(f);
}

#define FAIL(...)                                                                                           \
    do {                                                                                                    \
        fprintf(stderr, "kill %d (%s, delay %lluus, run seed 0x%016llx): ", k, mode_names[p->mode],          \
                (unsigned long long)p->delay_us, (unsigned long long)p->seed);                              \
        fprintf(stderr, __VA_ARGS__);                                                                       \
        fputc('\n', stderr);                                                                                \
        tt_test_failures++;                                                                                 \
    } while (0)

static void check_run(int k, const params *p, const char *path, const char *logpath, tally *T)
{
    double t0 = rel_now();
    logstate L;
    parse_log(logpath, &L);
    int ndurable = 0;
    for (int t = 0; t < p->nthreads; t++)
        ndurable += L.durable[t] + 1;
    T->durable += (uint64_t)ndurable;
    T->closed_runs += (uint64_t)L.closed;

    tt_reader *r;
    int rc = tt_reader_open(&r, path, NULL);
    if (rc != TT_OK) {
        struct stat st;
        int have = stat(path, &st) == 0;
        if (ndurable || L.closed || (have && st.st_size >= TT_FILE_HEADER_SIZE))
            FAIL("open failed with %d durable records: %s", ndurable, tt_reader_errmsg(r));
        T->empty_runs++;
        tt_reader_close(r);
        return;
    }
    tt_file_info info;
    tt_reader_info(r, &info);
    T->footer_runs += (uint64_t)info.footer_intact;
    if (L.closed && !info.footer_intact)
        FAIL("closed, but the footer is not intact: %s", tt_reader_errmsg(r));
    if (info.damaged_frames)
        FAIL("%llu damaged frames after a kill", (unsigned long long)info.damaged_frames);

    static uint8_t present[MAX_THREADS][MAX_PUTS];
    memset(present, 0, sizeof present);
    int32_t last_step[MAX_THREADS];
    for (int t = 0; t < MAX_THREADS; t++)
        last_step[t] = -1;
    uint8_t *buf = malloc(p->max_bytes + 16), *want = malloc(p->max_bytes + 16);
    uint64_t n = tt_reader_count(r), prev_seq = 0;
    for (uint64_t x = 0; x < n; x++) {
        tt_record rec;
        if ((rc = tt_reader_record(r, x, &rec)) != TT_OK) {
            FAIL("record %llu: %s", (unsigned long long)x, tt_reader_errmsg(r));
            continue;
        }
        char why[256];
        int t;
        int64_t i;
        if (rel_check_meta(p->seed, p->max_bytes, &rec, p->nthreads, &t, &i, why, sizeof why) != 0) {
            FAIL("record %llu is wrong: %s", (unsigned long long)x, why);
            continue;
        }
        if (i >= p->nputs || present[t][i]) {
            FAIL("record %llu: (%d, %lld) %s", (unsigned long long)x, t, (long long)i,
                 i >= p->nputs ? "was never put" : "appears twice");
            continue;
        }
        if (x && rec.seq <= prev_seq)
            FAIL("record %llu: seq %llu after %llu", (unsigned long long)x, (unsigned long long)rec.seq,
                 (unsigned long long)prev_seq);
        prev_seq = rec.seq;
        if (i <= last_step[t])
            FAIL("record %llu: thread %d's record %lld after its record %d", (unsigned long long)x, t,
                 (long long)i, last_step[t]);
        last_step[t] = (int32_t)i;
        rel_spec s;
        rel_spec_of(p->seed, t, (uint64_t)i, p->max_bytes, &s);
        if (s.meta_only) {
            T->meta_only++;
            present[t][i] = 1;
            continue;
        }
        rel_fill(p->seed, t, (uint64_t)i, &s, want);
        if (rec.hash != tt_hash64(want, (size_t)s.nbytes))
            FAIL("record %llu (%d, %lld): content hash differs from the bytes put", (unsigned long long)x, t,
                 (long long)i);
        rc = tt_reader_read(r, x, buf, p->max_bytes + 16);
        if (rc == TT_OK) {
            if (memcmp(buf, want, (size_t)s.nbytes) != 0)
                FAIL("record %llu (%d, %lld): WRONG BYTES returned without an error", (unsigned long long)x, t,
                     (long long)i);
            else
                present[t][i] = 1;
            T->read_ok++;
        } else if (!strstr(tt_reader_errmsg(r), "record") && !strstr(tt_reader_errmsg(r), "offset")) {
            FAIL("record %llu: error without a place: %s", (unsigned long long)x, tt_reader_errmsg(r));
        }
    }
    /* every durable record came back whole; what was put and is not back was in flight */
    int recovered = 0;
    for (int t = 0; t < p->nthreads; t++)
        for (int i = 0; i < p->nputs; i++) {
            recovered += present[t][i];
            int durable = L.closed || i <= L.durable[t];
            if (durable && !present[t][i])
                FAIL("record (%d, %d) was durable (%s) but is not readable", t, i, L.closed ? "closed" : "flushed");
            if (L.put[t][i] && !present[t][i] && !durable)
                T->lost_inflight++;
        }
    T->recovered += (uint64_t)recovered;
    if (L.closed) {
        if (!info.counters_known || info.counters.written != n || info.counters.dropped != 0 ||
            info.counters.puts != (uint64_t)(p->nthreads * p->nputs))
            FAIL("footer counters: puts %llu written %llu dropped %llu for %llu records",
                 (unsigned long long)info.counters.puts, (unsigned long long)info.counters.written,
                 (unsigned long long)info.counters.dropped, (unsigned long long)n);
    }
    tt_verify_result vr;
    rc = tt_reader_verify(r, &vr, NULL, NULL);
    if (rc != TT_OK || vr.problems)
        FAIL("verify found %llu problems: %s", (unsigned long long)vr.problems, tt_reader_errmsg(r));
    free(buf);
    free(want);
    tt_reader_close(r);
    T->check_s += rel_now() - t0;
}

static void choose(uint64_t *rng, params *p)
{
    memset(p, 0, sizeof *p);
    p->seed = rel_next(rng);
    p->nthreads = (int)rel_range(rng, 2, MAX_THREADS);
    p->nputs = (int)rel_range(rng, 10, MAX_PUTS);
    p->flush_every = (int)rel_range(rng, 1, 12);
    p->max_bytes = rel_range(rng, 8, 40) << 10;
    tt_writer_options o = TT_WRITER_OPTIONS_INIT;
    o.ignore_env = 1;
    o.overwrite = 1;
    o.threads = (uint32_t)rel_range(rng, 1, 3);
    o.chunk_bytes = rel_next(rng) % 2 ? 4096 : 8192;
    o.batch_records = (uint32_t)(rel_next(rng) % 3 ? rel_range(rng, 1, 24) : 0);
    o.flush_ms = (uint32_t)rel_range(rng, 1, 40);
    o.inflight_bytes = rel_next(rng) % 2 ? (1u << 20) : 0;
    o.zstd_level = (int)rel_range(rng, 0, 3) - 1;
    o.zstd_level_set = 1;
    p->o = o;
    uint64_t m = rel_next(rng) % 100;
    p->mode = m < 10 ? KILL_EARLY : m < 50 ? KILL_MID : m < 60 ? KILL_LATE : m < 85 ? KILL_FLUSH : KILL_CLOSE;
    switch (p->mode) {
    case KILL_EARLY: p->delay_us = rel_range(rng, 0, 2000); break;
    case KILL_MID: p->delay_us = rel_range(rng, 2000, 80000); break;
    case KILL_LATE: p->delay_us = rel_range(rng, 80000, 400000); break;
    case KILL_FLUSH:
        p->trigger_n = (int)rel_range(rng, 1, 40);
        p->delay_us = rel_range(rng, 0, 300);
        break;
    default: p->delay_us = rel_range(rng, 0, 600); break;
    }
}

int main(void)
{
    uint64_t seed = rel_seed(), rng = seed;
    long kills = rel_env_long("TT_RELIABILITY_KILLS", rel_long() ? 3000 : 240);
    printf("test_crash_kill: seed 0x%016llx (TT_RELIABILITY_SEED to replay), %ld kill points\n",
           (unsigned long long)seed, kills);
    fflush(stdout);
    char path[512], logpath[512];
    snprintf(path, sizeof path, "%s/tt_crash_%d.tt", rel_tmpdir(), (int)getpid());
    snprintf(logpath, sizeof logpath, "%s/tt_crash_%d.log", rel_tmpdir(), (int)getpid());
    tally T = {0};
    double start = rel_now();
    for (int k = 0; k < kills; k++) {
        params pp, *p = &pp;
        choose(&rng, p);
        unlink(path);
        unlink(logpath);
        int pfd[2];
        if (pipe2(pfd, O_CLOEXEC) != 0)
            return 1;
        fcntl(pfd[1], F_SETFL, O_NONBLOCK);
        fflush(NULL);
        pid_t pid = fork();
        if (pid == 0) {
            close(pfd[0]);
            child_main(p, path, logpath, pfd[1]);
            _exit(0);
        }
        close(pfd[1]);
        switch (p->mode) {
        case KILL_FLUSH: wait_trigger(pfd[0], 'f', p->trigger_n, 3000); break;
        case KILL_CLOSE: wait_trigger(pfd[0], 'c', 1, 5000); break;
        default: break;
        }
        sleep_us(p->delay_us);
        kill(pid, SIGKILL);
        int st;
        waitpid(pid, &st, 0);
        close(pfd[0]);
        if (!WIFSIGNALED(st) || WTERMSIG(st) != SIGKILL)
            FAIL("the writer child ended by itself (status 0x%x): a put, flush or close failed", st);
        T.kills++;
        T.by_mode[p->mode]++;
        check_run(k, p, path, logpath, &T);
    }
    unlink(path);
    unlink(logpath);
    double el = rel_now() - start;
    printf("test_crash_kill: %llu kill points survived in %.1f s (early %llu, mid-write %llu, late %llu, during "
           "flush %llu, during close %llu); %llu runs had closed, %llu opened by the footer, %llu left no file\n",
           (unsigned long long)T.kills, el, (unsigned long long)T.by_mode[KILL_EARLY],
           (unsigned long long)T.by_mode[KILL_MID], (unsigned long long)T.by_mode[KILL_LATE],
           (unsigned long long)T.by_mode[KILL_FLUSH], (unsigned long long)T.by_mode[KILL_CLOSE],
           (unsigned long long)T.closed_runs, (unsigned long long)T.footer_runs, (unsigned long long)T.empty_runs);
    printf("test_crash_kill: records logged durable %llu, all back; records recovered %llu (%llu tensors read and "
           "compared, %llu metadata-only); lost in flight %llu; checking took %.1f s; failures %d\n",
           (unsigned long long)T.durable, (unsigned long long)T.recovered, (unsigned long long)T.read_ok,
           (unsigned long long)T.meta_only, (unsigned long long)T.lost_inflight, T.check_s, tt_test_failures);
    return tt_test_exit();
}
