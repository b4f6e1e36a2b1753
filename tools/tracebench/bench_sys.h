/*
 * bench_sys.h — what tracebench measures about the machine around the library: wall and CPU clocks, the
 * process's resident memory (current and peak, from /proc/self/status, with the peak reset through
 * /proc/self/clear_refs so a phase can be measured on its own), running an external command (the zstd CLI) and
 * timing it, and evicting a file from the page cache (posix_fadvise) to measure cold-ish reads without root's
 * drop_caches. Linux-specific where it must be; a missing /proc reads as 0, never as an error.
 */
#ifndef TRACEBENCH_SYS_H
#define TRACEBENCH_SYS_H

#include <stddef.h>
#include <stdint.h>

/*! bench_now() : monotonic wall clock, seconds. */
double bench_now(void);

/*! bench_cpu_seconds() : user + system CPU time of this process (all threads), seconds. */
double bench_cpu_seconds(void);

/*! bench_rss_bytes() / bench_hwm_bytes() : VmRSS / VmHWM of this process; 0 when unknown. */
uint64_t bench_rss_bytes(void);
uint64_t bench_hwm_bytes(void);

/*! bench_reset_hwm() : resets VmHWM to the current RSS (writes "5" to /proc/self/clear_refs).
 *  @return : 1 when the kernel accepted it, 0 otherwise (then VmHWM covers the whole run so far). */
int bench_reset_hwm(void);

/* What running a command cost. */
typedef struct bench_run {
    int status;      /* exit status, or -1 when it could not be started or was killed */
    double wall_s;   /* wall time from fork to exit */
    double cpu_s;    /* user + system CPU time of the child */
    char error[256]; /* why it failed, "" otherwise */
} bench_run;

/*! bench_run_cmd() : runs argv[0] (searched in PATH) with argv, stdin from /dev/null, stdout to stdout_path
 *  (NULL: /dev/null), stderr inherited, and waits for it. @return : res->status. */
int bench_run_cmd(char *const argv[], const char *stdout_path, bench_run *res);

/*! bench_machine_busy_s() : CPU time the whole machine spent busy (user, nice, system, irq, softirq, steal of
 *  every CPU, from /proc/stat) since boot, seconds; 0 when unknown. The busy time of a phase minus this process's
 *  own CPU time is what other work on the machine took while the phase ran. */
double bench_machine_busy_s(void);

/*! bench_loadavg() : the 1-minute load average (/proc/loadavg); -1 when unknown. */
double bench_loadavg(void);

/*! bench_file_size() : size of a file in bytes; -1 when it cannot be stat'ed. */
int64_t bench_file_size(const char *path);

/*! bench_evict() : writes back and drops a file's pages from the page cache (fdatasync + POSIX_FADV_DONTNEED).
 *  @return : the fraction of its pages still resident afterwards (mincore), 0..1, or -1 on failure. */
double bench_evict(const char *path);

/*! bench_temp_path() : creates an empty file "$TMPDIR/tracebench-XXXXXX<suffix>" (TMPDIR default /tmp) and
 *  writes its name into buf. @return : 0, or -1 with errno set. */
int bench_temp_path(char *buf, size_t len, const char *suffix);

#endif /* TRACEBENCH_SYS_H */
