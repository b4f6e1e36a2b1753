/*
 * outfile.c — the output discipline of every tool (see outfile.h): declared outputs checked against the inputs
 * and each other before anything is opened for writing, temporary files renamed into place on success, and
 * everything the run created removed again when it fails, however it ends (exit or signal).
 *
 * What a failed run must remove is kept in a list that a signal handler may walk at any moment: entries are
 * fully built before they are linked in, never unlinked from the list, and their `live` flag says whether their
 * file still has to be removed. Only unlink() and rmdir() are called from the handler (async-signal-safe).
 */
#define _GNU_SOURCE /* renameat2, RENAME_NOREPLACE, mkostemp */
#include "outfile.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"

#define MAX_INPUTS 64

enum { OUT_STDOUT, OUT_FILE, OUT_INPLACE, OUT_SPOOL, OUT_DIR };

struct cli_out {
    const char *path; /* as given */
    const char *opt;  /* the option, for messages */
    unsigned flags;
    int kind;
    char *dest;  /* where the rename goes: the path, or the file a symbolic link points to */
    char *canon; /* the destination with its directory resolved, to find two outputs on one path */
    char *tmp;   /* the temporary file (OUT_FILE), the spool file (OUT_SPOOL), the directory (OUT_DIR) */
    FILE *f;
    int opened, committed, existed;
    dev_t dev; /* of the existing destination, when existed */
    ino_t ino;
    mode_t mode;                /* of the new file: the replaced file's, or 0666 less the umask */
    volatile sig_atomic_t live; /* tmp exists and goes when the run fails */
    struct cli_out *next;
};

static struct {
    dev_t dev;
    ino_t ino;
    const char *path;
} inputs[MAX_INPUTS];
static int ninputs;

static cli_out *volatile outs; /* newest first; walked by the signal handler */
static volatile sig_atomic_t failed;
static int handlers_set;

/* ---- cleanup ----------------------------------------------------------------------------------------------- */

/* Removes what a failed run leaves: temporary files, spool files, then the directories it made (newest first,
 * so children go before their parents; rmdir leaves a directory that is not empty). Two passes: the files go
 * first, since a file declared before its directory was made (--export-npy DIR/) sits after it in the list.
 * Signal-safe. */
static void remove_leftovers(int run_failed)
{
    for (int dirs = 0; dirs < 2; dirs++)
        for (cli_out *o = outs; o; o = o->next) {
            if (!o->live || (o->kind == OUT_DIR) != dirs)
                continue;
            if (o->kind == OUT_DIR) {
                if (run_failed)
                    rmdir(o->tmp);
            } else {
                unlink(o->tmp);
            }
            o->live = 0;
        }
}

static void at_exit(void)
{
    int pending = 0;
    for (cli_out *o = outs; o; o = o->next)
        pending |= o->live && (o->kind == OUT_FILE);
    remove_leftovers(failed || pending);
}

static void on_signal(int sig)
{
    remove_leftovers(1);
    signal(sig, SIG_DFL);
    raise(sig);
}

static void set_handlers(void)
{
    if (handlers_set)
        return;
    handlers_set = 1;
    atexit(at_exit);
    static const int sigs[] = {SIGINT, SIGTERM, SIGHUP, SIGPIPE};
    for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++) {
        struct sigaction sa, old;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = on_signal;
        sigemptyset(&sa.sa_mask);
        /* a signal the caller chose to ignore stays ignored (nohup) */
        if (sigaction(sigs[i], NULL, &old) == 0 && old.sa_handler != SIG_IGN)
            sigaction(sigs[i], &sa, NULL);
    }
}

static cli_out *new_entry(int kind)
{
    cli_out *o = calloc(1, sizeof *o);
    if (!o)
        cli_die(CLI_EXIT_INTERNAL, "out of memory");
    o->kind = kind;
    return o;
}

/* Links a fully built entry in (the handler may see it from now on). */
static void link_entry(cli_out *o)
{
    set_handlers();
    o->next = outs;
    outs = o;
}

void cli_out_failed(void) { failed = 1; }

static char *dup_or_die(const char *s)
{
    char *p = strdup(s);
    if (!p)
        cli_die(CLI_EXIT_INTERNAL, "out of memory");
    return p;
}

cli_out *cli_out_cleanup_path(const char *path)
{
    cli_out *o = new_entry(OUT_SPOOL);
    o->path = o->tmp = dup_or_die(path);
    o->live = 1;
    link_entry(o);
    return o;
}

void cli_out_forget(cli_out *o)
{
    if (o)
        o->live = 0;
}

/* ---- inputs ------------------------------------------------------------------------------------------------ */

void cli_input(const char *path)
{
    struct stat st;
    if (!path || ninputs == MAX_INPUTS)
        return;
    int ok = strcmp(path, "-") == 0 ? fstat(STDIN_FILENO, &st) == 0 : stat(path, &st) == 0;
    /* only files can be destroyed by writing an output over them; pipes and devices cannot */
    if (!ok || !S_ISREG(st.st_mode))
        return;
    inputs[ninputs].dev = st.st_dev;
    inputs[ninputs].ino = st.st_ino;
    inputs[ninputs].path = strcmp(path, "-") == 0 ? "standard input" : path;
    ninputs++;
}

/* ---- declaring outputs ------------------------------------------------------------------------------------- */

/* The directory part of path ("." when none), malloc'ed. */
static char *dir_of(const char *path)
{
    const char *s = strrchr(path, '/');
    if (!s)
        return dup_or_die(".");
    if (s == path)
        return dup_or_die("/");
    char *d = dup_or_die(path);
    d[s - path] = '\0';
    return d;
}

static const char *base_of(const char *path)
{
    const char *s = strrchr(path, '/');
    return s ? s + 1 : path;
}

/* The destination with its directory resolved ("./a/../x.json" and "x.json" are one path). */
static char *canonical(const char *dest)
{
    char *dir = dir_of(dest);
    char *rdir = realpath(dir, NULL);
    free(dir);
    if (!rdir)
        return dup_or_die(dest);
    size_t n = strlen(rdir) + strlen(base_of(dest)) + 2;
    char *c = malloc(n);
    if (!c)
        cli_die(CLI_EXIT_INTERNAL, "out of memory");
    snprintf(c, n, "%s/%s", strcmp(rdir, "/") == 0 ? "" : rdir, base_of(dest));
    free(rdir);
    return c;
}

static mode_t default_mode(void)
{
    mode_t m = umask(0);
    umask(m);
    return 0666 & ~m;
}

static void refuse_same(const cli_out *o, const cli_out *other)
{
    if (other)
        cli_usage_error("%s %s and %s %s are the same file: give each output its own path", other->opt,
                        other->path, o->opt, o->path);
}

/* An output that is an input, or the path of an output declared before: refused. */
static void check_collisions(const cli_out *o)
{
    if (o->existed && o->kind == OUT_FILE)
        for (int i = 0; i < ninputs; i++)
            if (inputs[i].dev == o->dev && inputs[i].ino == o->ino)
                cli_usage_error("%s %s is the same file as the input %s: writing it would destroy the input; "
                                "write the output elsewhere", o->opt, o->path, inputs[i].path);
    for (cli_out *p = outs; p; p = p->next) {
        if (p->kind != OUT_FILE && p->kind != OUT_INPLACE && p->kind != OUT_STDOUT)
            continue;
        if (o->kind == OUT_STDOUT || p->kind == OUT_STDOUT) {
            if (o->kind == p->kind)
                cli_usage_error("%s - and %s - both write to standard output: give one of them a file", p->opt,
                                o->opt);
            continue;
        }
        if (strcmp(p->canon, o->canon) == 0 || (o->existed && p->existed && o->dev == p->dev && o->ino == p->ino))
            refuse_same(o, p);
    }
}

cli_out *cli_out_declare(const char *path, const char *opt, unsigned flags)
{
    if (!path || !*path)
        cli_usage_error("%s: the output path is empty", opt);
    cli_out *o = new_entry(OUT_FILE);
    o->path = path;
    o->opt = opt;
    o->flags = flags;
    o->mode = default_mode();
    if (strcmp(path, "-") == 0) {
        if (flags & CLI_OUT_TRACE)
            cli_usage_error("a trace cannot be written to standard output (it is read from its end): give %s FILE",
                            opt);
        o->kind = OUT_STDOUT;
        check_collisions(o);
        link_entry(o);
        return o;
    }
    struct stat st;
    int dangling = 0;
    if (lstat(path, &st) == 0 && S_ISLNK(st.st_mode)) {
        /* replace the file the link points to, not the link */
        o->dest = realpath(path, NULL);
        dangling = !o->dest;
    }
    if (!o->dest)
        o->dest = dup_or_die(path);
    if (stat(o->dest, &st) == 0) {
        o->existed = 1;
        o->dev = st.st_dev;
        o->ino = st.st_ino;
        if (S_ISDIR(st.st_mode))
            cli_die(CLI_EXIT_OUTPUT, "%s %s: is a directory", opt, path);
        if (!S_ISREG(st.st_mode)) {
            if (flags & CLI_OUT_TRACE)
                cli_usage_error("%s %s: a trace must be written to a regular file", opt, path);
            o->kind = OUT_INPLACE; /* a device or FIFO is written to, never replaced */
        } else {
            o->mode = st.st_mode & 07777;
        }
    }
    o->canon = o->existed ? realpath(o->dest, NULL) : NULL;
    if (!o->canon)
        o->canon = canonical(o->dest);
    check_collisions(o);
    if (o->kind == OUT_FILE && (o->existed || dangling) && !(flags & CLI_OUT_FORCE))
        cli_die(CLI_EXIT_OUTPUT, "%s: exists (use -f/--force to replace it)", path);
    link_entry(o);
    return o;
}

/* ---- writing ----------------------------------------------------------------------------------------------- */

const char *cli_out_name(const cli_out *o) { return o->kind == OUT_STDOUT ? "standard output" : o->path; }

const char *cli_out_path(const cli_out *o) { return o->tmp ? o->tmp : o->dest; }

const char *cli_out_msg(const cli_out *o, const char *msg, char *buf, size_t len)
{
    const char *at = o->tmp ? strstr(msg, o->tmp) : NULL;
    if (!at)
        return msg;
    snprintf(buf, len, "%.*s%s%s", (int)(at - msg), msg, o->path, at + strlen(o->tmp));
    return buf;
}

static void create_temp(cli_out *o)
{
    char *dir = dir_of(o->dest);
    const char *base = base_of(o->dest);
    size_t n = strlen(dir) + strlen(base) + 32;
    char *tmp = malloc(n);
    if (!tmp)
        cli_die(CLI_EXIT_INTERNAL, "out of memory");
    /* hidden, next to the destination (rename cannot cross file systems); long names shortened to fit NAME_MAX */
    snprintf(tmp, n, "%s/.%.200s.tmp-XXXXXX", dir, base);
    free(dir);
    int fd = mkostemp(tmp, O_CLOEXEC);
    if (fd < 0)
        cli_die(CLI_EXIT_OUTPUT, "%s: cannot create: %s", o->path, strerror(errno));
    o->tmp = tmp;
    o->live = 1;
    if (fchmod(fd, o->mode) != 0) {
        int e = errno;
        close(fd);
        cli_die(CLI_EXIT_OUTPUT, "%s: cannot create: %s", o->path, strerror(e));
    }
    if (o->flags & CLI_OUT_TRACE) {
        close(fd); /* the writer opens it again by name */
        return;
    }
    o->f = fdopen(fd, "wb");
    if (!o->f) {
        close(fd);
        cli_die(CLI_EXIT_INTERNAL, "out of memory");
    }
}

FILE *cli_out_open(cli_out *o)
{
    if (o->opened)
        return o->f;
    o->opened = 1;
    if (o->kind == OUT_STDOUT) {
        o->f = stdout;
    } else if (o->kind == OUT_INPLACE) {
        o->f = fopen(o->dest, "wb");
        if (!o->f)
            cli_die(CLI_EXIT_OUTPUT, "%s: cannot open for writing: %s", o->path, strerror(errno));
    } else {
        create_temp(o);
    }
    return o->f;
}

void cli_out_close(cli_out *o)
{
    if (!o->f)
        return;
    FILE *f = o->f;
    o->f = NULL;
    cli_close_out(f, o->kind == OUT_STDOUT ? "-" : o->path);
}

/* fsync of a file or directory by name; 0 or an errno. Directories that cannot be synced (EINVAL) are fine. */
static int sync_path(const char *path, int dir)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | (dir ? O_DIRECTORY : 0));
    if (fd < 0)
        return errno;
    int e = fsync(fd) == 0 ? 0 : errno;
    close(fd);
    return (dir && (e == EINVAL || e == EROFS)) ? 0 : e;
}

void cli_out_commit(cli_out *o)
{
    if (!o->opened)
        cli_out_open(o);
    cli_out_close(o);
    if (o->kind != OUT_FILE || o->committed)
        return;
    int trace = (o->flags & CLI_OUT_TRACE) != 0, e;
    if (trace && (e = sync_path(o->tmp, 0)) != 0)
        cli_die(CLI_EXIT_OUTPUT, "%s: cannot sync to disk: %s", o->path, strerror(e));
    int rc = -1;
    if (!(o->flags & CLI_OUT_FORCE)) {
        /* without --force, a file that appeared meanwhile is not replaced either */
        rc = renameat2(AT_FDCWD, o->tmp, AT_FDCWD, o->dest, RENAME_NOREPLACE);
        if (rc != 0 && errno == EEXIST)
            cli_die(CLI_EXIT_OUTPUT, "%s: exists (use -f/--force to replace it)", o->path);
        if (rc != 0 && errno != EINVAL && errno != ENOSYS)
            cli_die(CLI_EXIT_OUTPUT, "%s: cannot put the result in place: %s", o->path, strerror(errno));
    }
    if (rc != 0 && rename(o->tmp, o->dest) != 0)
        cli_die(CLI_EXIT_OUTPUT, "%s: cannot put the result in place: %s", o->path, strerror(errno));
    o->live = 0;
    o->committed = 1;
    if (trace) {
        char *dir = dir_of(o->dest);
        e = sync_path(dir, 1);
        free(dir);
        if (e)
            cli_die(CLI_EXIT_OUTPUT, "%s: cannot sync its directory to disk: %s", o->path, strerror(e));
    }
}

void cli_out_discard(cli_out *o)
{
    if (o->f && o->f != stdout)
        fclose(o->f);
    o->f = NULL;
    if (o->kind == OUT_FILE && o->live) {
        unlink(o->tmp);
        o->live = 0;
    }
}

void cli_out_mkdir(const char *dir)
{
    if (!dir || !*dir)
        cli_usage_error("the output directory is empty");
    char *p = dup_or_die(dir);
    size_t n = strlen(p);
    for (size_t i = 1; i <= n; i++) {
        if (p[i] != '/' && p[i] != '\0')
            continue;
        char c = p[i];
        p[i] = '\0';
        struct stat st;
        if (stat(p, &st) != 0) {
            if (mkdir(p, 0777) == 0) {
                cli_out *d = new_entry(OUT_DIR);
                d->path = d->tmp = dup_or_die(p);
                d->live = 1;
                link_entry(d);
            } else if (errno != EEXIST) {
                cli_die(CLI_EXIT_OUTPUT, "%s: cannot create the directory: %s", p, strerror(errno));
            }
        } else if (!S_ISDIR(st.st_mode)) {
            cli_die(CLI_EXIT_OUTPUT, "%s: not a directory", p);
        }
        p[i] = c;
    }
    free(p);
}
