/*
 * cli.c — shared command-line behaviour (see cli.h).
 */
#define _POSIX_C_SOURCE 200809L
#include "cli.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "outfile.h"

#include "tt/common.h"
#include "tt/dtype.h"

/* the program name, set once at start by cli_init() before any thread exists */
static const char *prog_name = "tensortrace";

void cli_init(const char *argv0)
{
    if (argv0 && *argv0) {
        const char *s = strrchr(argv0, '/');
        prog_name = s ? s + 1 : argv0;
    }
    /* A closed standard stream would be reused by the next open(): an output file would receive what was meant
     * for stdout. Hold its place with /dev/null opened the wrong way round, so that using it fails (EBADF) and
     * the failure is reported instead of writing into the wrong file. */
    for (int fd = 0; fd <= 2; fd++)
        if (fcntl(fd, F_GETFD) < 0 && errno == EBADF) {
            int k = open("/dev/null", fd == 0 ? O_WRONLY : O_RDONLY);
            if (k >= 0 && k != fd) {
                dup2(k, fd);
                close(k);
            }
        }
}

const char *cli_prog(void) { return prog_name; }

static void vmsg(const char *prefix, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));
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
    cli_out_failed();
    va_list ap;
    va_start(ap, fmt);
    vmsg("", fmt, ap);
    va_end(ap);
    exit(code);
}

void cli_print_version(void)
{
    printf("%s (tensortrace) %s\n", prog_name, tt_version());
    printf("trace format 1.1\n");
}

void cli_close_out(FILE *f, const char *path)
{
    const char *name = (!path || strcmp(path, "-") == 0) ? "standard output" : path;
    errno = 0;
    int bad = fflush(f) != 0 || ferror(f);
    int e = errno;
    if (f != stdout && fclose(f) != 0 && !bad) {
        bad = 1;
        e = errno;
    }
    if (bad)
        cli_die(CLI_EXIT_OUTPUT, "%s: write failed: %s", name, strerror(e ? e : EIO));
}

int cli_finish(int code)
{
    errno = 0;
    if (fflush(stdout) != 0 || ferror(stdout)) {
        int e = errno ? errno : EIO;
        cli_out_failed();
        cli_error("standard output: write failed: %s", strerror(e));
        if (code < CLI_EXIT_USAGE)
            code = CLI_EXIT_OUTPUT;
    }
    if ((fflush(stderr) != 0 || ferror(stderr)) && code < CLI_EXIT_USAGE) {
        cli_out_failed();
        code = CLI_EXIT_OUTPUT; /* nothing left to say it with */
    }
    return code;
}

int cli_input_fd(const char *path)
{
    const char *name = cli_trace_name(path);
    int fd = STDIN_FILENO;
    if (path && strcmp(path, "-") != 0) {
        /* O_NONBLOCK: opening a FIFO does not wait for a writer (one that never comes then reads as empty) */
        fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
        if (fd < 0)
            cli_die(CLI_EXIT_USAGE, "%s: cannot open: %s", path, strerror(errno));
    }
    struct stat st;
    if (fstat(fd, &st) != 0)
        cli_die(CLI_EXIT_USAGE, "%s: cannot read: %s", name, strerror(errno));
    if (S_ISDIR(st.st_mode))
        cli_die(CLI_EXIT_USAGE, "%s: is a directory", name);
    if (isatty(fd))
        cli_die(CLI_EXIT_USAGE, "%s: is a terminal: give a file, or pipe the input in", name);
    int fl = fcntl(fd, F_GETFL);
    if (fl >= 0 && (fl & O_NONBLOCK))
        fcntl(fd, F_SETFL, fl & ~O_NONBLOCK); /* from here on, reads wait for data as usual */
    return fd;
}

FILE *cli_open_in(const char *path)
{
    int fd = cli_input_fd(path);
    if (fd == STDIN_FILENO)
        return stdin;
    FILE *f = fdopen(fd, "rb");
    if (!f)
        cli_die(CLI_EXIT_INTERNAL, "%s: out of memory", path);
    return f;
}

char *cli_slurp(const char *path, size_t max, const char *what, size_t *len)
{
    FILE *f = cli_open_in(path);
    const char *name = cli_trace_name(path);
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap + 1);
    if (!buf)
        cli_die(CLI_EXIT_INTERNAL, "%s: out of memory reading it", name);
    for (;;) {
        if (n == cap) {
            if (cap >= max)
                cli_die(CLI_EXIT_USAGE, "%s: larger than %zu MiB, not %s", name, max >> 20, what);
            cap = cap * 2 > max ? max : cap * 2;
            char *q = realloc(buf, cap + 1);
            if (!q)
                cli_die(CLI_EXIT_INTERNAL, "%s: out of memory after reading %zu bytes", name, n);
            buf = q;
        }
        size_t k = fread(buf + n, 1, cap - n, f);
        n += k;
        if (k == 0)
            break;
    }
    if (ferror(f))
        cli_die(CLI_EXIT_USAGE, "%s: read error: %s", name, strerror(errno));
    if (f != stdin)
        fclose(f);
    buf[n] = 0;
    *len = n;
    return buf;
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

/* ---- argument parsing -------------------------------------------------------------------------------------- */

int cli_is_option(const char *arg) { return arg[0] == '-' && arg[1] != '\0'; }

/* Does arg name option lng ("--x", possibly "--x=V") or shrt ("-x", possibly "-xV")? Sets *inline_val. */
static int opt_matches(const char *arg, const char *lng, const char *shrt, const char **inline_val)
{
    size_t n = strlen(lng);
    *inline_val = NULL;
    if (strncmp(arg, lng, n) == 0 && (arg[n] == '\0' || arg[n] == '=')) {
        if (arg[n] == '=')
            *inline_val = arg + n + 1;
        return 1;
    }
    if (shrt && strncmp(arg, shrt, 2) == 0 && arg[0] == '-' && arg[1] != '-') {
        if (arg[2] != '\0')
            *inline_val = arg + 2;
        return 1;
    }
    return 0;
}

int cli_flag(char **argv, int *i, const char *lng, const char *shrt)
{
    const char *v;
    if (!opt_matches(argv[*i], lng, shrt, &v))
        return 0;
    if (v)
        cli_usage_error("option %s takes no value (got '%s')", lng, argv[*i]);
    return 1;
}

int cli_common_option(char **argv, int *i, int *operands_only, void (*usage)(void))
{
    if (strcmp(argv[*i], "--") == 0) {
        *operands_only = 1;
        return 1;
    }
    if (cli_flag(argv, i, "--help", "-h")) {
        usage();
        exit(cli_finish(CLI_EXIT_OK));
    }
    if (cli_flag(argv, i, "--version", "-V")) {
        cli_print_version();
        exit(cli_finish(CLI_EXIT_OK));
    }
    return 0;
}

int cli_value(int argc, char **argv, int *i, const char *lng, const char *shrt, const char **val)
{
    const char *v;
    if (!opt_matches(argv[*i], lng, shrt, &v))
        return 0;
    if (!v) {
        if (*i + 1 >= argc)
            cli_usage_error("option %s needs a value", lng);
        v = argv[++*i];
    }
    *val = v;
    return 1;
}

void cli_unknown_option(const char *arg)
{
    cli_die(CLI_EXIT_USAGE, "unknown option '%s' (see %s --help)", arg, prog_name);
}

void cli_getopt_fail(char **argv, int c, int optopt_char)
{
    /* getopt_long with opterr = 0 and ":" first in the option string: '?' unknown, ':' value missing; the
     * argument at fault is the one before optind (for a short option in a cluster, optopt names it) */
    const char *arg = argv[optind - 1];
    char shrt[3] = {'-', (char)optopt_char, 0};
    if (c == ':')
        cli_usage_error("option %s needs a value", strncmp(arg, "--", 2) == 0 ? arg : shrt);
    if (optopt_char && strncmp(arg, "--", 2) != 0)
        cli_unknown_option(shrt);
    cli_unknown_option(arg);
}

void cli_usage_error(const char *fmt, ...)
{
    cli_out_failed();
    va_list ap;
    va_start(ap, fmt);
    vmsg("", fmt, ap);
    va_end(ap);
    fprintf(stderr, "%s: see %s --help\n", prog_name, prog_name);
    exit(CLI_EXIT_USAGE);
}

void cli_add_where(tt_filter *f, const char *cond)
{
    char err[512];
    int rc = tt_filter_add(f, cond, err, sizeof err);
    if (rc == TT_E_NOMEM)
        cli_die(CLI_EXIT_INTERNAL, "out of memory");
    if (rc != TT_OK)
        cli_usage_error("--where: %s", err);
}

/* ---- opening traces ---------------------------------------------------------------------------------------- */

const char *cli_trace_name(const char *path)
{
    return (!path || strcmp(path, "-") == 0) ? "standard input" : path;
}

/* Traces read from a stream (standard input, a FIFO) are first copied to a temporary file: a trace is read from
 * its end. The copies, by temporary path, with the names messages give them. */
#define MAX_SPOOLS 4
static struct {
    char *tmp;
    const char *name;
} spools[MAX_SPOOLS];

/* Copies the stream fd to a temporary file (removed at exit, however the run ends) and returns its path. */
static char *spool(int fd, const char *name)
{
    int slot = 0;
    while (slot < MAX_SPOOLS && spools[slot].tmp)
        slot++;
    if (slot == MAX_SPOOLS)
        cli_usage_error("more than %d traces read from streams", MAX_SPOOLS);
    const char *dir = getenv("TMPDIR");
    size_t n = strlen(dir && *dir ? dir : "/tmp") + 32;
    char *path = malloc(n);
    if (!path)
        cli_die(CLI_EXIT_INTERNAL, "%s: out of memory", name);
    snprintf(path, n, "%s/tt-stdin-XXXXXX", dir && *dir ? dir : "/tmp");
    int out = mkstemp(path);
    if (out < 0)
        cli_die(CLI_EXIT_OUTPUT, "%s: cannot create a temporary file to hold %s: %s", path, name, strerror(errno));
    cli_out *cleanup = cli_out_cleanup_path(path);
    char buf[1 << 16];
    ssize_t k;
    int werr = 0;
    uint64_t total = 0;
    while ((k = read(fd, buf, sizeof buf)) != 0) {
        if (k < 0) {
            if (errno == EINTR)
                continue;
            cli_die(CLI_EXIT_USAGE, "%s: read error after %llu bytes: %s", name, (unsigned long long)total,
                    strerror(errno));
        }
        for (ssize_t off = 0; off < k;) {
            ssize_t w = write(out, buf + off, (size_t)(k - off));
            if (w < 0 && errno == EINTR)
                continue;
            if (w <= 0) {
                werr = w < 0 ? errno : ENOSPC;
                break;
            }
            off += w;
        }
        if (werr)
            break;
        total += (uint64_t)k;
    }
    if (werr || close(out) != 0)
        cli_die(CLI_EXIT_OUTPUT, "%s: cannot copy %s to a temporary file: %s", path, name,
                strerror(werr ? werr : errno));
    if (fd != STDIN_FILENO)
        close(fd);
    (void)cleanup;
    spools[slot].tmp = path;
    spools[slot].name = name;
    return path;
}

/* What the stream read into tmp is called in messages; NULL when tmp is not a spooled copy. */
static const char *spool_name(const char *tmp)
{
    for (int i = 0; i < MAX_SPOOLS; i++)
        if (spools[i].tmp && strcmp(spools[i].tmp, tmp) == 0)
            return spools[i].name;
    return NULL;
}

const char *cli_input_msg(const char *msg, char *buf, size_t len)
{
    for (int i = 0; i < MAX_SPOOLS; i++) {
        const char *at = spools[i].tmp ? strstr(msg, spools[i].tmp) : NULL;
        if (at) {
            snprintf(buf, len, "%.*s%s%s", (int)(at - msg), msg, spools[i].name, at + strlen(spools[i].tmp));
            return buf;
        }
    }
    return msg;
}

const char *cli_trace_input(const char *path)
{
    if (!path || strcmp(path, "-") == 0)
        return spool(cli_input_fd("-"), "standard input");
    struct stat st;
    if (stat(path, &st) != 0 || S_ISREG(st.st_mode) || S_ISDIR(st.st_mode) || S_ISBLK(st.st_mode))
        return path; /* the reader opens it, or says why it cannot */
    if (S_ISFIFO(st.st_mode) || S_ISSOCK(st.st_mode))
        return spool(cli_input_fd(path), path);
    cli_die(CLI_EXIT_USAGE, "%s: not a regular file or a pipe: a trace is read from a file", path);
}

/* The reader's message with a spooled copy's name replaced by what it was read from. */
static const char *reader_msg(const tt_reader *r, char *buf, size_t len)
{
    return cli_input_msg(tt_reader_errmsg(r), buf, len);
}

void cli_reader_die(const tt_reader *r, int status)
{
    char buf[1200];
    cli_die(status == TT_E_NOMEM ? CLI_EXIT_INTERNAL : CLI_EXIT_USAGE, "%s", reader_msg(r, buf, sizeof buf));
}

/* Why the footer could not be used, without the file name the message starts with. */
static const char *footer_why(const tt_reader *r, const char *name, char *buf, size_t len)
{
    const char *why = reader_msg(r, buf, len);
    size_t pn = strlen(name);
    if (strncmp(why, name, pn) == 0 && strncmp(why + pn, ": ", 2) == 0)
        why += pn + 2; /* the message names the file already */
    return *why ? why : "no reason given";
}

tt_reader *cli_open_trace(const char *path, int recovery, int quiet)
{
    const char *file = cli_trace_input(path);
    const char *name = spool_name(file) ? spool_name(file) : path;
    tt_reader_options o = TT_READER_OPTIONS_INIT;
    o.recovery = (tt_recovery)recovery;
    tt_reader *r = NULL;
    int rc = tt_reader_open(&r, file, &o);
    if (file != path)
        unlink(file); /* the reader keeps its descriptor */
    if (!r)
        cli_die(CLI_EXIT_INTERNAL, "%s: out of memory", name);
    if (rc != TT_OK) {
        char buf[1200];
        const char *m = reader_msg(r, buf, sizeof buf);
        int code = rc == TT_E_NOMEM ? CLI_EXIT_INTERNAL : CLI_EXIT_USAGE;
        /* the library says "path: ..."; a message without the path gets it in front */
        char msg[1400];
        if (strncmp(m, name, strlen(name)) == 0)
            snprintf(msg, sizeof msg, "%s", m);
        else
            snprintf(msg, sizeof msg, "%s: %s", name, m);
        tt_reader_close(r);
        cli_die(code, "%s", msg);
    }
    tt_file_info info;
    if (tt_reader_info(r, &info) != TT_OK)
        cli_reader_die(r, TT_E_INVAL);
    if (!info.footer_intact && info.record_count == 0 && recovery != TT_RECOVER_ALWAYS) {
        /* a finding, not an empty answer: the writer stopped before its first record batch reached the file */
        char buf[1200], msg[1400];
        snprintf(msg, sizeof msg, "%s: footer missing or damaged (%s) and no record could be recovered", name,
                 footer_why(r, name, buf, sizeof buf));
        tt_reader_close(r);
        cli_die(CLI_EXIT_FINDING, "%s", msg);
    }
    if (!quiet && !info.footer_intact) {
        char buf[1200];
        const char *why = footer_why(r, name, buf, sizeof buf);
        cli_warn("%s: footer missing or damaged (%s); recovered %llu record(s) by scanning, %llu damaged frame(s) "
                 "skipped, %llu record(s) without their tensor",
                 name, why, (unsigned long long)info.record_count,
                 (unsigned long long)info.damaged_frames, (unsigned long long)info.lost_records);
    }
    return r;
}

/* ---- output buffers ---------------------------------------------------------------------------------------- */

void cli_buf_grow(cli_buf *b, size_t n)
{
    size_t cap = b->cap ? b->cap : 4096;
    while (cap - b->len < n) {
        if (cap > SIZE_MAX / 2)
            cli_die(CLI_EXIT_INTERNAL, "out of memory");
        cap *= 2;
    }
    char *p = realloc(b->p, cap);
    if (!p)
        cli_die(CLI_EXIT_INTERNAL, "out of memory (%zu bytes)", cap);
    b->p = p;
    b->cap = cap;
}

void cli_buf_free(cli_buf *b)
{
    free(b->p);
    b->p = NULL;
    b->len = b->cap = 0;
}

void cli_buf_write(cli_buf *b, FILE *f, const char *name)
{
    if (b->len && fwrite(b->p, 1, b->len, f) != b->len)
        cli_die(CLI_EXIT_OUTPUT, "%s: write failed: %s", name ? name : "standard output", strerror(errno));
    b->len = 0;
}

void cli_buf_put(cli_buf *b, const char *s, size_t n)
{
    memcpy(cli_buf_reserve(b, n), s, n);
    b->len += n;
}

void cli_buf_puts(cli_buf *b, const char *s) { cli_buf_put(b, s, strlen(s)); }

void cli_buf_printf(cli_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    char *d = cli_buf_reserve(b, (size_t)n + 1);
    va_start(ap, fmt);
    vsnprintf(d, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

/* Length of the valid UTF-8 sequence at s (1..4), or 0 when the bytes there are not one. */
static size_t utf8_seq(const unsigned char *s)
{
    unsigned c = s[0];
    size_t n;
    unsigned min;
    if (c >= 0xc2 && c <= 0xdf)
        n = 2, min = 0x80;
    else if (c >= 0xe0 && c <= 0xef)
        n = 3, min = 0x800;
    else if (c >= 0xf0 && c <= 0xf4)
        n = 4, min = 0x10000;
    else
        return 0;
    unsigned cp = c & (0x3fu >> (n - 1));
    for (size_t i = 1; i < n; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        cp = (cp << 6) | (s[i] & 0x3fu);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
        return 0;
    return n;
}

void cli_buf_json_str(cli_buf *b, const char *s)
{
    static const char hex[] = "0123456789abcdef";
    size_t n = strlen(s);
    char *d = cli_buf_reserve(b, 6 * n + 2), *d0 = d;
    const unsigned char *p = (const unsigned char *)s;
    *d++ = '"';
    while (*p) {
        unsigned c = *p;
        if (c >= 0x20 && c < 0x80 && c != '"' && c != '\\') {
            *d++ = (char)c;
            p++;
        } else if (c == '"' || c == '\\') {
            *d++ = '\\';
            *d++ = (char)c;
            p++;
        } else if (c < 0x20) {
            const char *esc = c == '\n' ? "\\n" : c == '\t' ? "\\t" : c == '\r' ? "\\r" : NULL;
            if (esc) {
                memcpy(d, esc, 2);
                d += 2;
            } else {
                memcpy(d, "\\u00", 4);
                d[4] = hex[c >> 4];
                d[5] = hex[c & 15];
                d += 6;
            }
            p++;
        } else {
            size_t k = utf8_seq(p);
            if (k) {
                memcpy(d, p, k);
                d += k;
                p += k;
            } else {
                memcpy(d, "\\ufffd", 6);
                d += 6;
                p++;
            }
        }
    }
    *d++ = '"';
    b->len += (size_t)(d - d0);
}

/* ---- numbers ----------------------------------------------------------------------------------------------- */

static const uint64_t pow10_u64[20] = {
    1ull, 10ull, 100ull, 1000ull, 10000ull, 100000ull, 1000000ull, 10000000ull, 100000000ull, 1000000000ull,
    10000000000ull, 100000000000ull, 1000000000000ull, 10000000000000ull, 100000000000000ull, 1000000000000000ull,
    10000000000000000ull, 100000000000000000ull, 1000000000000000000ull, 10000000000000000000ull};

static const char digit_pairs[] = "00010203040506070809101112131415161718192021222324252627282930313233343536373839"
                                  "40414243444546474849505152535455565758596061626364656667686970717273747576777879"
                                  "8081828384858687888990919293949596979899";

/* Number of decimal digits of v (1..20). */
static int u64_digits(uint64_t v)
{
    int n = 1;
    while (n < 20 && v >= pow10_u64[n])
        n++;
    return n;
}

size_t cli_fmt_u64(char *dst, uint64_t v)
{
    /* digits written backwards straight into place, two at a time */
    int n = u64_digits(v);
    char *p = dst + n;
    while (v >= 100) {
        unsigned r = (unsigned)(v % 100);
        v /= 100;
        p -= 2;
        memcpy(p, digit_pairs + 2 * r, 2);
    }
    if (v >= 10) {
        p -= 2;
        memcpy(p, digit_pairs + 2 * v, 2);
    } else {
        *--p = (char)('0' + v);
    }
    return (size_t)n;
}

size_t cli_fmt_i64(char *dst, int64_t v)
{
    if (v >= 0)
        return cli_fmt_u64(dst, (uint64_t)v);
    dst[0] = '-';
    return 1 + cli_fmt_u64(dst + 1, (uint64_t)0 - (uint64_t)v);
}


/* 5^0 .. 5^27, the powers of five that fit 64 bits */
static const uint64_t pow5_u64[28] = {
    1ull, 5ull, 25ull, 125ull, 625ull, 3125ull, 15625ull, 78125ull, 390625ull, 1953125ull, 9765625ull,
    48828125ull, 244140625ull, 1220703125ull, 6103515625ull, 30517578125ull, 152587890625ull, 762939453125ull,
    3814697265625ull, 19073486328125ull, 95367431640625ull, 476837158203125ull, 2384185791015625ull,
    11920928955078125ull, 59604644775390625ull, 298023223876953125ull, 1490116119384765625ull,
    7450580596923828125ull};

__extension__ typedef unsigned __int128 u128;

/* Is there a multiple of 10^k in [cl, ch]? */
static inline int has_multiple(uint64_t cl, uint64_t ch, int k)
{
    uint64_t p = pow10_u64[k];
    uint64_t m = (cl + p - 1) / p * p;
    return m >= cl && m <= ch;
}

/*
 * Shortest digits by exact integer arithmetic (the idea of Ryu and Schubfach, restricted to the range where
 * 128 bits suffice, which covers |v| from about 1e-12 to 1e15: activations and their statistics). With
 * v = M * 2^E and a decimal scale s chosen so that v * 10^s has 17 or 18 digits, everything is scaled by
 * 2^(F+2), F = -(E+s): v becomes X = 4 M 5^s and the half-gaps to the neighbouring doubles become 2*5^s (or 5^s
 * below a power of two), all integers. The decimals that read back as v are the integers c (in units of
 * 10^-s) inside [X - gap_down, X + gap_up] / 2^(F+2), bounds included when M is even (round-half-even). The
 * shortest is the multiple of the largest power of ten in that range, the nearest to X among them.
 * Returns 0 when v is outside the range; the caller then uses the slower printf path.
 */
static int shortest_int128(double v, uint64_t *out_digits, int *out_k, int *out_s)
{
    uint64_t bits;
    memcpy(&bits, &v, sizeof bits);
    int bexp = (int)((bits >> 52) & 0x7ff);
    uint64_t frac = bits & ((1ull << 52) - 1);
    if (bexp == 0 || bexp == 0x7ff)
        return 0;
    uint64_t M = frac | (1ull << 52);
    int E = bexp - 1075;
    double t = (double)(E + 52) * 0.30102999566398120; /* log10(2^(E+52)), never within 1e-6 of an integer */
    int e10 = (int)t;
    e10 -= t < e10; /* floor without a libm call */
    int s = 16 - e10;
    int F = -(E + s);
    if (s < 0 || s > 31 || F < 0 || F > 68)
        return 0;
    u128 p5 = s <= 27 ? (u128)pow5_u64[s] : (u128)pow5_u64[27] * pow5_u64[s - 27];
    u128 X = (u128)(4 * M) * p5;
    u128 gap_up = 2 * p5, gap_down = (frac == 0 && bexp > 1) ? p5 : 2 * p5;
    int sh = F + 2, odd = (int)(M & 1);
    u128 L = X - gap_down, H = X + gap_up;
    uint64_t cl = (uint64_t)(L >> sh), ch = (uint64_t)(H >> sh);
    if (((u128)cl << sh) != L || odd)
        cl++;
    if (((u128)ch << sh) == H && odd)
        ch--;
    uint64_t xi = (uint64_t)(X >> sh);
    u128 xr = X - ((u128)xi << sh);
    /* the largest k with a multiple of 10^k in [cl, ch]: a multiple of 10^k is one of 10^(k-1), so the answer
     * is found by bisection; most doubles (means) need 16-17 digits, so k <= 2 is tried first */
    int lo, hi;
    if (has_multiple(cl, ch, 2))
        lo = 2, hi = 18;
    else
        lo = has_multiple(cl, ch, 1) ? 1 : 0, hi = lo;
    while (lo < hi) {
        int mid = (lo + hi + 1) / 2;
        if (has_multiple(cl, ch, mid))
            lo = mid;
        else
            hi = mid - 1;
    }
    uint64_t p = pow10_u64[lo];
    uint64_t c0 = xi / p * p, c1 = c0 + p, c;
    int in0 = c0 >= cl && c0 <= ch, in1 = c1 >= cl && c1 <= ch;
    if (in0 && in1) {
        /* nearer to X' = xi + xr/2^sh: compare 2(X'-c0) with p, i.e. a + xr/2^(sh-1) with 0 */
        int64_t a = 2 * (int64_t)(xi - c0) - (int64_t)p;
        u128 half = (u128)1 << (sh - 1);
        int cmp; /* <0: c0 nearer, >0: c1 nearer, 0: tie */
        if (a <= -2)
            cmp = -1;
        else if (a >= 1)
            cmp = 1;
        else if (a == 0)
            cmp = xr ? 1 : 0;
        else
            cmp = xr < half ? -1 : xr > half ? 1 : 0;
        c = cmp < 0 ? c0 : cmp > 0 ? c1 : ((c0 / p) % 2 == 0 ? c0 : c1);
    } else {
        c = in0 ? c0 : c1;
    }
    *out_digits = c / p;
    *out_k = lo;
    *out_s = s;
    return 1;
}

/* The slow but general path: the correctly rounded p-digit decimal for p = 1..17, the first that reads back. */
static int shortest_printf(double v, char *digits, int *exp10)
{
    char buf[64];
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(buf, sizeof buf, "%.*e", prec - 1, v);
        if (strtod(buf, NULL) == v || prec == 17) {
            int n = 0;
            const char *q = buf;
            for (; *q && *q != 'e'; q++)
                if (*q >= '0' && *q <= '9')
                    digits[n++] = *q;
            *exp10 = atoi(q + 1);
            while (n > 1 && digits[n - 1] == '0')
                n--;
            return n;
        }
    }
    return 0; /* not reached */
}

int cli_shortest_digits(double v, char *digits, int *exp10)
{
    v = fabs(v);
    uint64_t d;
    int k, s;
    if (!shortest_int128(v, &d, &k, &s))
        return shortest_printf(v, digits, exp10);
    char tmp[24];
    size_t n = cli_fmt_u64(tmp, d);
    while (n > 1 && tmp[n - 1] == '0') { /* cannot happen by construction; kept for safety */
        n--;
        k++;
    }
    memcpy(digits, tmp, n);
    *exp10 = (int)n - 1 + k - s;
    return (int)n;
}

size_t cli_fmt_double(char *dst, double v)
{
    if (isnan(v)) {
        memcpy(dst, "NaN", 3);
        return 3;
    }
    if (isinf(v)) {
        if (v < 0) {
            memcpy(dst, "-Infinity", 9);
            return 9;
        }
        memcpy(dst, "Infinity", 8);
        return 8;
    }
    char *d = dst;
    if (signbit(v))
        *d++ = '-';
    if (v == 0) {
        memcpy(d, "0.0", 3);
        return (size_t)(d - dst) + 3;
    }
    char dg[24];
    int e;
    int n = cli_shortest_digits(v, dg, &e);
    if (e >= -5 && e <= 16) {
        if (e < 0) {
            memcpy(d, "0.", 2);
            d += 2;
            for (int i = -1; i > e; i--)
                *d++ = '0';
            memcpy(d, dg, (size_t)n);
            d += n;
        } else {
            int ip = e + 1; /* digits before the point */
            for (int i = 0; i < ip; i++)
                *d++ = i < n ? dg[i] : '0';
            *d++ = '.';
            if (n > ip) {
                memcpy(d, dg + ip, (size_t)(n - ip));
                d += n - ip;
            } else {
                *d++ = '0';
            }
        }
    } else {
        *d++ = dg[0];
        if (n > 1) {
            *d++ = '.';
            memcpy(d, dg + 1, (size_t)(n - 1));
            d += n - 1;
        }
        *d++ = 'e';
        *d++ = e < 0 ? '-' : '+';
        int ae = e < 0 ? -e : e;
        if (ae >= 100)
            *d++ = (char)('0' + ae / 100);
        *d++ = (char)('0' + ae / 10 % 10);
        *d++ = (char)('0' + ae % 10);
    }
    return (size_t)(d - dst);
}

/* ---- the legacy stage_trace record ------------------------------------------------------------------------- */

#define SJ_LIT(d, s) (memcpy((d), (s), sizeof(s) - 1), (d) += sizeof(s) - 1)

static char *sj_double(char *d, double v, unsigned flags)
{
    if ((flags & CLI_SJ_NAN_NULL) && !isfinite(v)) {
        SJ_LIT(d, "null");
        return d;
    }
    return d + cli_fmt_double(d, v);
}

void cli_buf_stage_trace(cli_buf *b, const tt_record *rec, unsigned flags)
{
    const tt_key *k = &rec->key;
    cli_buf_puts(b, "{\"event\": \"stage_trace\", \"prompt_id\": ");
    cli_buf_json_str(b, k->prompt_id ? k->prompt_id : "");
    cli_buf_puts(b, ", \"phase\": ");
    cli_buf_json_str(b, k->phase ? k->phase : "");
    cli_buf_puts(b, ", \"point\": ");
    cli_buf_json_str(b, k->point ? k->point : "");
    /* the numbers: at most ~40 bytes each, the 8 dims of a shape included */
    char *d0 = cli_buf_reserve(b, 1024), *d = d0;
    SJ_LIT(d, ", \"layer\": ");
    d += cli_fmt_i64(d, k->layer);
    SJ_LIT(d, ", \"step\": ");
    d += cli_fmt_i64(d, k->step);
    if (k->token_id != TT_UNSET) {
        SJ_LIT(d, ", \"token_id\": ");
        d += cli_fmt_i64(d, k->token_id);
    }
    if (k->logical_tok_idx != TT_UNSET) {
        SJ_LIT(d, ", \"logical_tok_idx\": ");
        d += cli_fmt_i64(d, k->logical_tok_idx);
    }
    SJ_LIT(d, ", \"pos_id\": ");
    d += cli_fmt_i64(d, k->pos_id);
    SJ_LIT(d, ", \"seq_len\": ");
    d += cli_fmt_i64(d, k->rows);
    if (rec->flags & TT_REC_HAS_HASH) {
        SJ_LIT(d, ", \"hash\": ");
        d += cli_fmt_u64(d, rec->hash);
    }
    int stats = (rec->flags & TT_REC_HAS_STATS) != 0;
    if (stats) {
        SJ_LIT(d, ", \"min\": ");
        d = sj_double(d, rec->stats.min, flags);
        SJ_LIT(d, ", \"max\": ");
        d = sj_double(d, rec->stats.max, flags);
        SJ_LIT(d, ", \"mean\": ");
        d = sj_double(d, rec->stats.mean, flags);
    }
    if (flags & CLI_SJ_EXTRA) {
        SJ_LIT(d, ", \"rank\": ");
        d += cli_fmt_i64(d, k->rank);
        SJ_LIT(d, ", \"dtype\": \"");
        const char *dn = tt_dtype_name(rec->dtype);
        size_t dl = strlen(dn);
        memcpy(d, dn, dl);
        d += dl;
        SJ_LIT(d, "\", \"shape\": [");
        for (int i = 0; i < rec->ndim && i < TT_MAX_DIMS; i++) {
            if (i)
                SJ_LIT(d, ", ");
            d += cli_fmt_u64(d, rec->shape[i]);
        }
        *d++ = ']';
        if (stats) {
            SJ_LIT(d, ", \"absmax\": ");
            d = sj_double(d, rec->stats.absmax, flags);
            SJ_LIT(d, ", \"l2\": ");
            d = sj_double(d, rec->stats.l2, flags);
            SJ_LIT(d, ", \"nan_count\": ");
            d += cli_fmt_u64(d, rec->stats.nan_count);
            SJ_LIT(d, ", \"inf_count\": ");
            d += cli_fmt_u64(d, rec->stats.inf_count);
        }
    }
    if (flags & CLI_SJ_READER) {
        SJ_LIT(d, ", \"index\": ");
        d += cli_fmt_u64(d, rec->index);
        SJ_LIT(d, ", \"seq\": ");
        d += cli_fmt_u64(d, rec->seq);
        if (rec->flags & TT_REC_HAS_PAYLOAD)
            SJ_LIT(d, ", \"payload\": true");
        else
            SJ_LIT(d, ", \"payload\": false");
        if (rec->flags & TT_REC_LOST)
            SJ_LIT(d, ", \"lost\": true");
        SJ_LIT(d, ", \"nbytes\": ");
        d += cli_fmt_u64(d, rec->nbytes);
        SJ_LIT(d, ", \"stored_bytes\": ");
        d += cli_fmt_u64(d, rec->stored_bytes);
    }
    SJ_LIT(d, "}\n");
    b->len += (size_t)(d - d0);
}
