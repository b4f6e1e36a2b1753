/*
 * traces.c — several trace files as one input (cli.h, "Several traces as one input"): operands and glob patterns
 * into a list of files, opened as one reader with tt_reader_open_many().
 */
#define _POSIX_C_SOURCE 200809L
#include "cli.h"

#include <glob.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "outfile.h"

static void push(cli_traces *t, const char *path)
{
    if (t->n == t->cap) {
        size_t cap = t->cap ? 2 * t->cap : 8;
        const char **p = realloc(t->paths, cap * sizeof *p);
        if (!p)
            cli_die(CLI_EXIT_INTERNAL, "out of memory");
        t->paths = p;
        t->cap = cap;
    }
    t->paths[t->n++] = path;
}

/* Natural order: runs of digits compare as numbers, so rank2 comes before rank10. */
static int natural_cmp(const void *pa, const void *pb)
{
    const char *a = *(const char *const *)pa, *b = *(const char *const *)pb;
    while (*a && *b) {
        if (*a >= '0' && *a <= '9' && *b >= '0' && *b <= '9') {
            while (*a == '0' && a[1] >= '0' && a[1] <= '9')
                a++;
            while (*b == '0' && b[1] >= '0' && b[1] <= '9')
                b++;
            size_t na = strspn(a, "0123456789"), nb = strspn(b, "0123456789");
            if (na != nb)
                return na < nb ? -1 : 1;
            int c = strncmp(a, b, na);
            if (c)
                return c;
            a += na;
            b += nb;
            continue;
        }
        if (*a != *b)
            return (unsigned char)*a < (unsigned char)*b ? -1 : 1;
        a++, b++;
    }
    return (unsigned char)*a - (unsigned char)*b;
}

void cli_traces_add(cli_traces *t, const char *arg)
{
    struct stat st;
    if (strcmp(arg, "-") == 0) {
        for (size_t i = 0; i < t->n; i++)
            if (strcmp(t->paths[i], "-") == 0)
                cli_usage_error("standard input (\"-\") given twice: it can be read once");
    }
    if (strcmp(arg, "-") == 0 || !strpbrk(arg, "*?[") || stat(arg, &st) == 0) {
        cli_input(arg);
        push(t, arg);
        return;
    }
    glob_t g;
    int rc = glob(arg, GLOB_NOSORT, NULL, &g);
    if (rc == GLOB_NOMATCH || (rc == 0 && g.gl_pathc == 0)) {
        globfree(&g);
        cli_die(CLI_EXIT_USAGE, "%s: no file matches this pattern", arg);
    }
    if (rc != 0) {
        globfree(&g);
        cli_die(rc == GLOB_NOSPACE ? CLI_EXIT_INTERNAL : CLI_EXIT_USAGE, "%s: cannot expand the pattern (%s)", arg,
                rc == GLOB_NOSPACE ? "out of memory" : "read error");
    }
    qsort(g.gl_pathv, g.gl_pathc, sizeof *g.gl_pathv, natural_cmp);
    char **own = realloc(t->own, (t->nown + g.gl_pathc) * sizeof *own);
    if (!own)
        cli_die(CLI_EXIT_INTERNAL, "out of memory");
    t->own = own;
    for (size_t i = 0; i < g.gl_pathc; i++) {
        char *p = strdup(g.gl_pathv[i]);
        if (!p)
            cli_die(CLI_EXIT_INTERNAL, "out of memory");
        t->own[t->nown++] = p;
        cli_input(p);
        push(t, p);
    }
    globfree(&g);
}

void cli_traces_free(cli_traces *t)
{
    for (size_t i = 0; i < t->nown; i++)
        free(t->own[i]);
    free(t->own);
    free(t->paths);
    memset(t, 0, sizeof *t);
}

const char *cli_traces_name(const cli_traces *t, char *buf, size_t len)
{
    if (t->n == 1)
        snprintf(buf, len, "%s", cli_trace_name(t->paths[0]));
    else
        snprintf(buf, len, "%s (+%zu file%s)", t->n ? cli_trace_name(t->paths[0]) : "", t->n ? t->n - 1 : 0,
                 t->n == 2 ? "" : "s");
    return buf;
}

const char **cli_traces_files(const cli_traces *t)
{
    const char **f = malloc((t->n ? t->n : 1) * sizeof *f);
    if (!f)
        cli_die(CLI_EXIT_INTERNAL, "out of memory");
    for (size_t i = 0; i < t->n; i++)
        f[i] = cli_trace_input(t->paths[i]);
    return f;
}

tt_reader *cli_open_traces(const cli_traces *t, int recovery, int quiet)
{
    if (t->n == 1)
        return cli_open_trace(t->paths[0], recovery, quiet);
    const char **files = cli_traces_files(t);
    tt_reader_options o = TT_READER_OPTIONS_INIT;
    o.recovery = (tt_recovery)recovery;
    tt_reader *r = NULL;
    int rc = tt_reader_open_many(&r, files, t->n, &o);
    for (size_t i = 0; i < t->n; i++)
        if (files[i] != t->paths[i])
            unlink(files[i]); /* the reader keeps its descriptor */
    free((void *)files);
    if (!r)
        cli_die(CLI_EXIT_INTERNAL, "out of memory");
    if (rc != TT_OK)
        cli_reader_die(r, rc); /* the message names the file */
    tt_file_info info;
    if (tt_reader_info(r, &info) != TT_OK)
        cli_reader_die(r, TT_E_INVAL);
    if (!quiet && !info.footer_intact) {
        char buf[1200];
        cli_warn("%s; recovered by scanning: %llu record(s) in the %zu files, %llu damaged frame(s) skipped, %llu "
                 "record(s) without their tensor",
                 cli_input_msg(tt_reader_errmsg(r), buf, sizeof buf), (unsigned long long)info.record_count, t->n,
                 (unsigned long long)info.damaged_frames, (unsigned long long)info.lost_records);
    }
    return r;
}

void cli_raise_fd_limit(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        (void)setrlimit(RLIMIT_NOFILE, &rl); /* a hint: the diff says which file it could not open */
    }
}
