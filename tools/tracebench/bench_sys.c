/*
 * bench_sys.c — clocks, memory, processes and the page cache for tracebench (see bench_sys.h).
 */
#define _GNU_SOURCE /* mkstemps, wait4 */
#include "bench_sys.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

double bench_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

double bench_cpu_seconds(void)
{
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) != 0)
        return 0;
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec * 1e-6 + (double)ru.ru_stime.tv_sec +
           (double)ru.ru_stime.tv_usec * 1e-6;
}

/* One "Name:   1234 kB" line of /proc/self/status, in bytes. */
static uint64_t status_kb(const char *name)
{
    FILE *f = fopen("/proc/self/status", "r");
    if (!f)
        return 0;
    char line[256];
    size_t n = strlen(name);
    uint64_t v = 0;
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, name, n) == 0 && line[n] == ':') {
            v = strtoull(line + n + 1, NULL, 10) * 1024;
            break;
        }
    }
    fclose(f);
    return v;
}

uint64_t bench_rss_bytes(void) { return status_kb("VmRSS"); }
uint64_t bench_hwm_bytes(void) { return status_kb("VmHWM"); }

int bench_reset_hwm(void)
{
    int fd = open("/proc/self/clear_refs", O_WRONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    int ok = write(fd, "5", 1) == 1;
    close(fd);
    return ok;
}

int bench_run_cmd(char *const argv[], const char *stdout_path, bench_run *res)
{
    memset(res, 0, sizeof *res);
    res->status = -1;
    int out = open(stdout_path ? stdout_path : "/dev/null", O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    int in = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (out < 0 || in < 0) {
        snprintf(res->error, sizeof res->error, "cannot open %s: %s", stdout_path ? stdout_path : "/dev/null",
                 strerror(errno));
        if (out >= 0)
            close(out);
        if (in >= 0)
            close(in);
        return -1;
    }
    /* a pipe closed on exec tells the parent whether execvp worked, and its errno if not */
    int report[2];
    if (pipe2(report, O_CLOEXEC) != 0) {
        snprintf(res->error, sizeof res->error, "pipe: %s", strerror(errno));
        close(out);
        close(in);
        return -1;
    }
    fflush(NULL);
    double t0 = bench_now();
    pid_t pid = fork();
    if (pid == 0) {
        dup2(in, 0);
        dup2(out, 1);
        execvp(argv[0], argv);
        int e = errno;
        if (write(report[1], &e, sizeof e) < 0)
            _exit(127);
        _exit(127);
    }
    close(report[1]);
    close(out);
    close(in);
    if (pid < 0) {
        snprintf(res->error, sizeof res->error, "fork: %s", strerror(errno));
        close(report[0]);
        return -1;
    }
    int exec_errno = 0;
    ssize_t got = read(report[0], &exec_errno, sizeof exec_errno);
    close(report[0]);
    int st = 0;
    struct rusage ru;
    memset(&ru, 0, sizeof ru);
    while (wait4(pid, &st, 0, &ru) < 0 && errno == EINTR)
        ;
    res->wall_s = bench_now() - t0;
    res->cpu_s = (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec * 1e-6 + (double)ru.ru_stime.tv_sec +
                 (double)ru.ru_stime.tv_usec * 1e-6;
    if (got == (ssize_t)sizeof exec_errno) {
        snprintf(res->error, sizeof res->error, "cannot run %s: %s", argv[0], strerror(exec_errno));
        return res->status = -1;
    }
    if (WIFEXITED(st)) {
        res->status = WEXITSTATUS(st);
        if (res->status != 0)
            snprintf(res->error, sizeof res->error, "%s exited with status %d", argv[0], res->status);
    } else {
        snprintf(res->error, sizeof res->error, "%s was killed by signal %d", argv[0],
                 WIFSIGNALED(st) ? WTERMSIG(st) : 0);
    }
    return res->status;
}

double bench_machine_busy_s(void)
{
    FILE *f = fopen("/proc/stat", "r");
    unsigned long long v[8] = {0};
    int n = 0;
    if (f) {
        n = fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5], &v[6],
                   &v[7]);
        fclose(f);
    }
    long hz = sysconf(_SC_CLK_TCK);
    if (n != 8 || hz <= 0)
        return 0;
    /* user nice system idle iowait irq softirq steal: everything but idle and iowait */
    return (double)(v[0] + v[1] + v[2] + v[5] + v[6] + v[7]) / (double)hz;
}

double bench_loadavg(void)
{
    FILE *f = fopen("/proc/loadavg", "r");
    double v = -1;
    if (f) {
        if (fscanf(f, "%lf", &v) != 1)
            v = -1;
        fclose(f);
    }
    return v;
}

int64_t bench_file_size(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? (int64_t)st.st_size : -1;
}

/* Fraction of the file's pages in the page cache. */
static double resident_fraction(int fd, uint64_t size)
{
    if (size == 0)
        return 0;
    void *m = mmap(NULL, (size_t)size, PROT_READ, MAP_SHARED, fd, 0);
    if (m == MAP_FAILED)
        return -1;
    long pg = sysconf(_SC_PAGESIZE);
    size_t pages = (size_t)((size + (uint64_t)pg - 1) / (uint64_t)pg);
    unsigned char *vec = malloc(pages);
    double frac = -1;
    if (vec && mincore(m, (size_t)size, vec) == 0) {
        size_t in = 0;
        for (size_t i = 0; i < pages; i++)
            in += vec[i] & 1;
        frac = (double)in / (double)pages;
    }
    free(vec);
    munmap(m, (size_t)size);
    return frac;
}

double bench_evict(const char *path)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    struct stat st;
    double frac = -1;
    /* dirty pages are not dropped: write them back first */
    if (fstat(fd, &st) == 0 && fdatasync(fd) == 0 && posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED) == 0)
        frac = resident_fraction(fd, (uint64_t)st.st_size);
    close(fd);
    return frac;
}

int bench_temp_path(char *buf, size_t len, const char *suffix)
{
    const char *dir = getenv("TMPDIR");
    if (!dir || !*dir)
        dir = "/tmp";
    int n = snprintf(buf, len, "%s/tracebench-XXXXXX%s", dir, suffix);
    if (n < 0 || (size_t)n >= len) {
        errno = ENAMETOOLONG;
        return -1;
    }
    int fd = mkstemps(buf, (int)strlen(suffix));
    if (fd < 0)
        return -1;
    close(fd);
    return 0;
}
