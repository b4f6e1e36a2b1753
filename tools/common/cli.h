/*
 * cli.h — what every tensortrace command-line tool shares: the documented exit codes, error and warning
 * messages on stderr prefixed by the program name, --version output, opening outputs ("-" is stdout) and
 * checking they were written, number parsing for options, and a progress line on stderr shown only when
 * stderr is a terminal. Tools use libtrace's public headers plus this; they never parse trace bytes.
 */
#ifndef TT_CLI_H
#define TT_CLI_H

#include <stdint.h>
#include <stdio.h>

/* Exit codes, the same for every tool (documented in each --help and in tools/README.md). */
enum {
    CLI_EXIT_OK = 0,      /* success; for tracediff: identical or structural drift only */
    CLI_EXIT_FINDING = 1, /* the answer is negative: tracediff found a mismatch, --verify found damage */
    CLI_EXIT_USAGE = 2,   /* bad command line, or an input that cannot be read or parsed */
    CLI_EXIT_OUTPUT = 3,  /* an output could not be written (disk full, permission) */
    CLI_EXIT_INTERNAL = 4 /* out of memory or another failure of the tool itself */
};

/* The exit-code paragraph every --help ends with. */
#define CLI_EXIT_HELP                                                                                        \
    "Exit status: 0 success, 1 negative finding (mismatch or damage), 2 usage or input error,\n"             \
    "3 output could not be written, 4 internal error (e.g. out of memory).\n"

/*! cli_init() : remembers the program name (basename of argv0) for messages. */
void cli_init(const char *argv0);
const char *cli_prog(void);

/*! cli_error() / cli_warn() : "prog: message\n" on stderr ("prog: warning: message"). */
void cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void cli_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/*! cli_die() : cli_error() then exit(code). */
void cli_die(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3), noreturn));

/*! cli_print_version() : "prog (tensortrace) X.Y.Z" and the trace format version, on stdout. */
void cli_print_version(void);

/*! cli_open_out() : opens path for writing ("-" or NULL = stdout). Exits with CLI_EXIT_OUTPUT naming the path
 *  when it cannot be created. */
FILE *cli_open_out(const char *path);
/*! cli_close_out() : flushes and closes (stdout is flushed, not closed); exits with CLI_EXIT_OUTPUT naming the
 *  path if anything written was lost (disk full). */
void cli_close_out(FILE *f, const char *path);
/*! cli_open_in() : opens path for reading ("-" = stdin); exits with CLI_EXIT_USAGE naming it on failure. */
FILE *cli_open_in(const char *path);

/*! cli_parse_u64() / cli_parse_i64() / cli_parse_double() : a whole option value, or exit CLI_EXIT_USAGE with
 *  "option --NAME: 'TEXT' is not ..." */
uint64_t cli_parse_u64(const char *opt, const char *text, uint64_t lo, uint64_t hi);
int64_t cli_parse_i64(const char *opt, const char *text, int64_t lo, int64_t hi);
double cli_parse_double(const char *opt, const char *text);
/*! cli_parse_size() : "4096", "64k", "4M", "1G" (powers of 1024). */
uint64_t cli_parse_size(const char *opt, const char *text);

/* Progress on stderr for long work: shown only when stderr is a terminal, at most ~10 updates a second. */
typedef struct cli_progress {
    int enabled;
    const char *what;
    uint64_t total;
    uint64_t last_ns;
} cli_progress;

void cli_progress_start(cli_progress *p, const char *what, uint64_t total);
void cli_progress_update(cli_progress *p, uint64_t done);
void cli_progress_end(cli_progress *p);

/*! cli_human_bytes() : "1.5 GiB" into buf. */
const char *cli_human_bytes(uint64_t n, char *buf, size_t len);

#endif /* TT_CLI_H */
