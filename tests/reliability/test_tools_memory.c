/*
 * test_tools_memory.c — the tools' memory stays bounded whatever the size of the trace. A trace much larger
 * than the memory the tools are allowed is written (tensors of 1..12 MiB in 4 MiB chunks, bf16 and f32, not
 * compressible, several prompts, layers and points), then each tool runs on it under RLIMIT_AS (the `ulimit -v`
 * of the shell) and must complete; its peak resident memory is measured and must stay under a fixed budget
 * however large the file: tracedump (summary, --list, --verify, --show), trace2jsonl --extra, tracediff
 * --verify-identical (every tensor of both sides read and compared) and tracedump --recover.
 *
 * Default: a 384 MiB trace, tools under RLIMIT_AS 1 GiB (threads reserve address space for their stacks and
 * malloc arenas), resident budget 384 MiB: tracedump --recover copies through a writer whose in-flight bound is
 * 256 MiB by default, the other tools hold a tensor or two. The figure is the child's ru_maxrss, which also
 * counts the test's own image before the exec (a few MiB). TT_RELIABILITY_LONG=1: a 2 GiB trace, same budget.
 * Sanitizer builds skip the test (exit 77): their shadow memory defeats the measurement.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "rel_support.h"
#include "tt_test.h"

#define TOOL_AS ((rlim_t)1 << 30)
#define RSS_BUDGET_KIB (384L << 10) /* the writer's default in-flight bound (256 MiB, --recover) + tensors */

static const char *g_bin;

static uint64_t write_trace(const char *path, uint64_t target, uint64_t seed, uint64_t *records)
{
    tt_writer_options o = TT_WRITER_OPTIONS_INIT;
    o.ignore_env = 1;
    o.overwrite = 1;
    o.threads = 2;
    o.inflight_bytes = 64u << 20;
    o.zstd_level = -5; /* the data is random: do not spend time trying */
    o.zstd_level_set = 1;
    tt_writer *w;
    CHECK_STATUS(tt_writer_open(&w, path, &o), TT_OK);
    tt_writer_set_meta(w, "engine", "tools-memory");
    uint8_t *buf = malloc(12u << 20);
    uint64_t total = 0, r = seed;
    for (uint64_t k = 0; k < (12u << 20) / 8; k++) {
        uint64_t v = rel_next(&r) & 0x3fff3fff3fff3fffull; /* finite bf16 / f32 values */
        memcpy(buf + 8 * k, &v, 8);
    }
    static const char *const points[] = {"attn_out", "mlp_out", "q_post_rope", "resid"};
    uint64_t n = 0;
    while (total < target) {
        tt_key k = TT_KEY_INIT;
        k.prompt_id = n % 2 ? "p1" : "p0";
        k.phase = "prefill_last";
        k.point = points[n % 4];
        k.layer = (int32_t)(n / 4 % 32);
        k.step = 0;
        k.pos_id = 0;
        uint64_t bytes = (1 + rel_next(&r) % 12) << 20;
        tt_dtype dt = n % 3 ? TT_BF16 : TT_F32;
        uint64_t cols = 1024, rows = bytes / tt_dtype_size(dt) / cols;
        k.rows = (int32_t)rows;
        uint64_t shape[2] = {rows, cols};
        buf[n % 4096] ^= 1; /* no two tensors alike */
        CHECK_STATUS(tt_put(w, &k, dt, 2, shape, buf), TT_OK);
        total += rows * cols * tt_dtype_size(dt);
        n++;
    }
    CHECK_STATUS(tt_writer_close(w), TT_OK);
    tt_writer_free(w);
    free(buf);
    *records = n;
    struct stat st;
    return stat(path, &st) == 0 ? (uint64_t)st.st_size : 0;
}

/* Runs a tool with output to /dev/null; returns its exit code (-signal), *rss its peak RSS in KiB. */
static int run_tool(const char *tool, const char *const *args, long *rss, double *secs)
{
    char exe[1024];
    snprintf(exe, sizeof exe, "%s/tools/%s/%s", g_bin, tool, tool);
    const char *argv[16];
    int k = 0;
    argv[k++] = exe;
    for (int i = 0; args[i]; i++)
        argv[k++] = args[i];
    argv[k] = NULL;
    double t0 = rel_now();
    pid_t pid = fork();
    if (pid == 0) {
        struct rlimit rl = {TOOL_AS, TOOL_AS};
        setrlimit(RLIMIT_AS, &rl);
        int nul = open("/dev/null", O_RDWR);
        dup2(nul, 1);
        dup2(nul, 2);
        execv(exe, (char *const *)argv);
        _exit(127);
    }
    int st;
    struct rusage ru;
    wait4(pid, &st, 0, &ru);
    *rss = ru.ru_maxrss;
    *secs = rel_now() - t0;
    return WIFSIGNALED(st) ? -WTERMSIG(st) : WEXITSTATUS(st);
}

int main(void)
{
    if (REL_SANITIZED) {
        printf("test_tools_memory: SKIPPED in a sanitizer build (shadow memory defeats RLIMIT_AS and RSS)\n");
        return 77;
    }
    const char *bin = getenv("TT_BINARY_DIR");
    g_bin = bin && *bin ? bin : ".";
    char probe[1024];
    snprintf(probe, sizeof probe, "%s/tools/tracedump/tracedump", g_bin);
    if (access(probe, X_OK) != 0) {
        printf("test_tools_memory: SKIPPED: no tools in %s (TT_BUILD_TOOLS=OFF?)\n", g_bin);
        return 77;
    }
    uint64_t target = rel_long() ? (2048ull << 20) : (384ull << 20);
    uint64_t seed = rel_seed();
    char path[512], out[600], rec[600];
    snprintf(path, sizeof path, "%s/tt_tools_memory_%d.tt", rel_tmpdir(), (int)getpid());
    snprintf(rec, sizeof rec, "%s.recovered", path);
    double t0 = rel_now();
    uint64_t nrec;
    uint64_t size = write_trace(path, target, seed, &nrec);
    printf("test_tools_memory: seed 0x%016llx; a %.0f MiB trace of %llu tensors written in %.1f s; tools under "
           "RLIMIT_AS %llu MiB, resident budget %ld MiB\n",
           (unsigned long long)seed, (double)size / (1 << 20), (unsigned long long)nrec, rel_now() - t0,
           (unsigned long long)(TOOL_AS >> 20), RSS_BUDGET_KIB >> 10);
    snprintf(out, sizeof out, "%llu", (unsigned long long)(nrec - 1));
    const char *a_sum[] = {path, NULL}, *a_list[] = {"--list", path, NULL}, *a_ver[] = {"--verify", path, NULL};
    const char *a_show[] = {"--show", out, path, NULL}, *a_t2j[] = {"--extra", path, NULL};
    const char *a_diff[] = {"--verify-identical", "--threads", "2", path, path, NULL};
    const char *a_rec[] = {"--recover", "-f", "-o", rec, path, NULL};
    struct {
        const char *tool, *what;
        const char *const *args;
        int ok_code;
    } runs[] = {
        {"tracedump", "tracedump", a_sum, 0},        {"tracedump", "tracedump --list", a_list, 0},
        {"tracedump", "tracedump --verify", a_ver, 0}, {"tracedump", "tracedump --show", a_show, 0},
        {"trace2jsonl", "trace2jsonl --extra", a_t2j, 0}, {"tracediff", "tracediff --verify-identical", a_diff, 0},
        {"tracedump", "tracedump --recover", a_rec, 0},
    };
    long worst = 0;
    for (size_t i = 0; i < sizeof runs / sizeof runs[0]; i++) {
        long rss;
        double secs;
        int code = run_tool(runs[i].tool, runs[i].args, &rss, &secs);
        printf("test_tools_memory: %-28s exit %d, peak RSS %5.1f MiB, %.1f s\n", runs[i].what, code,
               (double)rss / 1024, secs);
        if (code != runs[i].ok_code) {
            fprintf(stderr, "%s: exit %d, expected %d\n", runs[i].what, code, runs[i].ok_code);
            tt_test_failures++;
        }
        if (rss > RSS_BUDGET_KIB) {
            fprintf(stderr, "%s: peak RSS %ld KiB over the %ld KiB budget\n", runs[i].what, rss, RSS_BUDGET_KIB);
            tt_test_failures++;
        }
        if (rss > worst)
            worst = rss;
    }
    unlink(path);
    unlink(rec);
    printf("test_tools_memory: %zu tool runs on a %.0f MiB trace, largest peak RSS %.1f MiB; failures %d\n",
           sizeof runs / sizeof runs[0], (double)size / (1 << 20), (double)worst / 1024, tt_test_failures);
    return tt_test_exit();
}
