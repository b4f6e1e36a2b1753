/*
 * cli.c — shared command-line behaviour (see cli.h).
 */
#define _POSIX_C_SOURCE 200809L
#include "cli.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "tt/common.h"

/* the program name, set once at start by cli_init() before any thread exists */
static const char *prog_name = "tensortrace";

void cli_init(const char *argv0)
{
    if (argv0 && *argv0) {
        const char *s = strrchr(argv0, '/');
        prog_name = s ? s + 1 : argv0;
    }
}

const char *cli_prog(void) { return prog_name; }

static void vmsg(const char *prefix, const char *fmt, va_list ap)
{
    fprintf(stderr, "%s: %s", prog_name, prefix);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
}

void cli_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vmsg("", fmt, ap);
    va_end(ap);
}

void cli_warn(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vmsg("warning: ", fmt, ap);
    va_end(ap);
}

void cli_die(int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vmsg("", fmt, ap);
    va_end(ap);
    exit(code);
}

void cli_print_version(void)
{
    printf("%s (tensortrace) %s\n", prog_name, tt_version());
    printf("trace format 1.0\n");
}

FILE *cli_open_out(const char *path)
{
    if (!path || strcmp(path, "-") == 0)
        return stdout;
    FILE *f = fopen(path, "w");
    if (!f)
        cli_die(CLI_EXIT_OUTPUT, "%s: cannot create: %s", path, strerror(errno));
    return f;
}

void cli_close_out(FILE *f, const char *path)
{
    const char *name = (!path || strcmp(path, "-") == 0) ? "standard output" : path;
    int bad = fflush(f) != 0 || ferror(f);
    int e = errno;
    if (f != stdout && fclose(f) != 0 && !bad) {
        bad = 1;
        e = errno;
    }
    if (bad)
        cli_die(CLI_EXIT_OUTPUT, "%s: write failed: %s", name, strerror(e ? e : EIO));
}

FILE *cli_open_in(const char *path)
{
    if (!path || strcmp(path, "-") == 0)
        return stdin;
    FILE *f = fopen(path, "r");
    if (!f)
        cli_die(CLI_EXIT_USAGE, "%s: cannot open: %s", path, strerror(errno));
    return f;
}

uint64_t cli_parse_u64(const char *opt, const char *text, uint64_t lo, uint64_t hi)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(text, &end, 10);
    if (!*text || *end || errno || text[0] == '-' || v < lo || v > hi)
        cli_die(CLI_EXIT_USAGE, "option %s: '%s' is not an integer in %llu..%llu", opt, text,
                (unsigned long long)lo, (unsigned long long)hi);
    return v;
}

int64_t cli_parse_i64(const char *opt, const char *text, int64_t lo, int64_t hi)
{
    char *end;
    errno = 0;
    long long v = strtoll(text, &end, 10);
    if (!*text || *end || errno || v < lo || v > hi)
        cli_die(CLI_EXIT_USAGE, "option %s: '%s' is not an integer in %lld..%lld", opt, text, (long long)lo,
                (long long)hi);
    return v;
}

double cli_parse_double(const char *opt, const char *text)
{
    char *end;
    errno = 0;
    double v = strtod(text, &end);
    if (!*text || *end || errno || !isfinite(v))
        cli_die(CLI_EXIT_USAGE, "option %s: '%s' is not a number", opt, text);
    return v;
}

uint64_t cli_parse_size(const char *opt, const char *text)
{
    char *end;
    errno = 0;
    double v = strtod(text, &end);
    double mult = 1;
    if (*end == 'k' || *end == 'K')
        mult = 1024.0, end++;
    else if (*end == 'm' || *end == 'M')
        mult = 1024.0 * 1024, end++;
    else if (*end == 'g' || *end == 'G')
        mult = 1024.0 * 1024 * 1024, end++;
    if (*end == 'i' && mult > 1)
        end++;
    if ((*end == 'B' || *end == 'b') && end[1] == 0)
        end++;
    if (!*text || *end || errno || !(v >= 0) || v * mult > 9.2e18)
        cli_die(CLI_EXIT_USAGE, "option %s: '%s' is not a size (examples: 4096, 64k, 4M, 1G)", opt, text);
    return (uint64_t)(v * mult);
}

static uint64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

void cli_progress_start(cli_progress *p, const char *what, uint64_t total)
{
    p->enabled = isatty(STDERR_FILENO);
    p->what = what;
    p->total = total;
    p->last_ns = 0;
}

void cli_progress_update(cli_progress *p, uint64_t done)
{
    if (!p->enabled)
        return;
    uint64_t now = mono_ns();
    if (now - p->last_ns < 100000000u)
        return;
    p->last_ns = now;
    if (p->total)
        fprintf(stderr, "\r%s: %s %llu/%llu (%.0f%%)", prog_name, p->what, (unsigned long long)done,
                (unsigned long long)p->total, 100.0 * (double)done / (double)p->total);
    else
        fprintf(stderr, "\r%s: %s %llu", prog_name, p->what, (unsigned long long)done);
}

void cli_progress_end(cli_progress *p)
{
    if (p->enabled && p->last_ns)
        fprintf(stderr, "\r\033[K");
    p->last_ns = 0;
}

const char *cli_human_bytes(uint64_t n, char *buf, size_t len)
{
    static const char *units[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
    double v = (double)n;
    int u = 0;
    while (v >= 1024 && u < 5) {
        v /= 1024;
        u++;
    }
    if (u == 0)
        snprintf(buf, len, "%llu B", (unsigned long long)n);
    else
        snprintf(buf, len, "%.1f %s", v, units[u]);
    return buf;
}
