/*
 * cli.h — what every tensortrace command-line tool shares: the documented exit codes, error and warning
 * messages on stderr prefixed by the program name, --version output, checking that what was written to stdout
 * arrived, opening inputs without hanging on them (FIFOs, terminals, standard input), number parsing for options, and a progress line on stderr shown only when
 * stderr is a terminal. Tools use libtrace's public headers plus this; they never parse trace bytes.
 */
#ifndef TT_CLI_H
#define TT_CLI_H

#include <stdint.h>
#include <stdio.h>

#include "outfile.h"   /* writing files: temporary file, checks, rename (every tool's outputs) */
#include "tt/reader.h" /* tt_reader, tt_filter, tt_record (the trace helpers below) */

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

/*! cli_close_out() : flushes and closes (stdout is flushed, not closed); exits with CLI_EXIT_OUTPUT naming the
 *  path if anything written was lost (disk full). Files are written through outfile.h; this is for stdout. */
void cli_close_out(FILE *f, const char *path);

/*! cli_finish() : the last call of a tool's main(): flushes stdout and stderr and checks that everything written
 *  to them arrived. A failed write to stdout is reported and turns an exit code of 0 or 1 into
 *  CLI_EXIT_OUTPUT (so does a failed stderr, which cannot be reported). @return : the exit code. */
int cli_finish(int code);

/*! cli_input_fd() : opens an input for reading ("-" = stdin) without blocking on it: a FIFO is opened without
 *  waiting for a writer (one that never comes reads as empty); a directory or a terminal is refused. Exits with
 *  CLI_EXIT_USAGE naming the input. @return : a descriptor in blocking mode. */
int cli_input_fd(const char *path);
/*! cli_open_in() : cli_input_fd() as a stream (stdin itself for "-"). */
FILE *cli_open_in(const char *path);

/*! cli_slurp() : reads a whole file ("-" = stdin) into a zero-terminated malloc'ed buffer; exits with
 *  CLI_EXIT_USAGE naming the file when it cannot be read or is larger than max bytes ("larger than 64 MiB,
 *  not WHAT"). */
char *cli_slurp(const char *path, size_t max, const char *what, size_t *len);

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

/* ---- shared by tracedump, trace2jsonl, jsonl2trace -------------------------------------------------------- */

/* Argument parsing without getopt, so every tool accepts the same forms: "--name VALUE", "--name=VALUE",
 * "-n VALUE", "-nVALUE"; "--" ends the options; "-" alone is an operand (stdin or stdout). */

/*! cli_is_option() : 1 when arg looks like an option ("-x", "--xx"), 0 for operands ("-", "file"). */
int cli_is_option(const char *arg);

/*! cli_flag() : 1 when argv[*i] is the flag `lng` (e.g. "--list") or `shrt` (e.g. "-l", may be NULL).
 *  Exits with CLI_EXIT_USAGE when the flag is given a value ("--list=3"). */
int cli_flag(char **argv, int *i, const char *lng, const char *shrt);

/*! cli_value() : 1 when argv[*i] is the option `lng`/`shrt` taking a value; *val is set to it (the next argument
 *  is consumed, *i is advanced). Exits with CLI_EXIT_USAGE ("option --where needs a value") when it is missing. */
int cli_value(int argc, char **argv, int *i, const char *lng, const char *shrt, const char **val);

/*! cli_common_option() : the options every tool reads alike: "--" (sets *operands_only: what follows is an
 *  operand), -h/--help (calls usage, exits CLI_EXIT_OK) and -V/--version (prints the version, exits CLI_EXIT_OK).
 *  @return : 1 when argv[*i] was one of them. */
int cli_common_option(char **argv, int *i, int *operands_only, void (*usage)(void));

/*! cli_unknown_option() : "unknown option 'ARG' (see PROG --help)" and exit CLI_EXIT_USAGE. */
void cli_unknown_option(const char *arg) __attribute__((noreturn));

/*! cli_getopt_fail() : for the tools that parse with getopt_long (opterr = 0, option string starting with ':'):
 *  "unknown option 'ARG'" for c == '?', "option ARG needs a value" for c == ':'; exits CLI_EXIT_USAGE.
 *  optopt_char is getopt's optopt. */
void cli_getopt_fail(char **argv, int c, int optopt_char) __attribute__((noreturn));

/*! cli_usage_error() : the message, then "see PROG --help", exit CLI_EXIT_USAGE. */
void cli_usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

/*! cli_add_where() : adds a --where condition to f (tt_filter_add syntax); exits CLI_EXIT_USAGE with the
 *  library's message on a bad condition, CLI_EXIT_INTERNAL when out of memory. */
void cli_add_where(tt_filter *f, const char *cond);

/*! cli_open_trace() : opens a trace for reading ("-" = standard input, or a FIFO: first copied to an unlinked
 *  temporary file because a trace is read from its end; see cli_trace_input()). recovery is a tt_recovery value.
 *  Exits with CLI_EXIT_USAGE and the reader's message (file, frame, offset) when the file cannot be opened;
 *  otherwise returns the reader. When the footer was missing or damaged and the file was recovered by scanning,
 *  warns on stderr (unless quiet) with the reason and what the scan found; when that scan found no record at all,
 *  exits with CLI_EXIT_FINDING saying so (unless recovery is TT_RECOVER_ALWAYS: the caller decides). */
tt_reader *cli_open_trace(const char *path, int recovery, int quiet);

/*! cli_trace_input() : the file a library call (tt_reader_open, tt_diff_run) should open for the trace input
 *  path: path itself for a file, or for "-" (stdin) and a FIFO a temporary copy of the stream (a trace is read
 *  from its end), removed when the process ends. A terminal or a character device is refused (CLI_EXIT_USAGE). */
const char *cli_trace_input(const char *path);
/*! cli_input_msg() : msg with the name of a temporary copy made by cli_trace_input() replaced by the input's name
 *  ("standard input", the FIFO's path). Returns msg itself or buf. */
const char *cli_input_msg(const char *msg, char *buf, size_t len);

/*
 * Several traces as one input: every tool takes several files or glob patterns where it takes a trace
 * (`tracedump run-rank*.tt`, `trace2jsonl 'tp8-rank*.tt'`, one side of tracediff). An operand that holds a glob
 * character (* ? [) and names no existing file is expanded by the tool (so a quoted pattern works as well as one
 * the shell expanded), its matches in natural order (rank2 before rank10); a pattern that matches nothing is
 * exit 2 naming it. The files are read as one with tt_reader_open_many() (records file after file, in rank order
 * when every file names its rank); files of different runs, two files of one rank and an unreadable file are
 * exit 2 naming the file.
 */
typedef struct cli_traces {
    const char **paths; /* as given, patterns expanded */
    size_t n, cap;
    char **own;         /* expanded names, freed by cli_traces_free() */
    size_t nown;
} cli_traces;

/*! cli_traces_add() : adds one operand (a path, "-", or a glob pattern; see above) and declares each file as an
 *  input (cli_input). Exits CLI_EXIT_USAGE for a pattern without match or a second "-". */
void cli_traces_add(cli_traces *t, const char *arg);
/*! cli_traces_free() : frees the list (not the files). */
void cli_traces_free(cli_traces *t);
/*! cli_traces_name() : "FILE" for one file, "FILE (+N files)" for several, for messages. */
const char *cli_traces_name(const cli_traces *t, char *buf, size_t len);
/*! cli_open_traces() : cli_open_trace() for one file; for several, tt_reader_open_many() with the same checks,
 *  messages and exit codes (each file through cli_trace_input(), so "-" and FIFOs work among them). */
tt_reader *cli_open_traces(const cli_traces *t, int recovery, int quiet);
/*! cli_raise_fd_limit() : raises the soft limit of open files to the hard one (a diff of N files per side with
 *  T threads holds about (T + 1) x N descriptors); failure changes nothing. */
void cli_raise_fd_limit(void);
/*! cli_traces_files() : the paths a library call should open (cli_trace_input() of each), into a malloc'd array
 *  of t->n entries (free() it; the strings are not owned). */
const char **cli_traces_files(const cli_traces *t);

/*! cli_trace_name() : the name to show for a trace path in messages ("standard input" for "-"). */
const char *cli_trace_name(const char *path);

/*! cli_reader_die() : prints the reader's last error (it names file, frame and offset) and exits with the code
 *  that fits the status: CLI_EXIT_INTERNAL for TT_E_NOMEM, else CLI_EXIT_USAGE (the input cannot be read). */
void cli_reader_die(const tt_reader *r, int status) __attribute__((noreturn));

/*
 * Fast text output. A cli_buf collects output and hands it to stdio in large writes; the formatters below write
 * numbers without printf because printf costs more than the rest of a JSON line (trace2jsonl's target is a
 * million lines per second on one core).
 */
typedef struct cli_buf {
    char *p;
    size_t len, cap;
} cli_buf;

/*! cli_buf_grow() : makes room for n more bytes; exits CLI_EXIT_INTERNAL when out of memory. */
void cli_buf_grow(cli_buf *b, size_t n);
/*! cli_buf_reserve() : a pointer to room for n more bytes (the caller then adds to b->len what it used). */
static inline char *cli_buf_reserve(cli_buf *b, size_t n)
{
    if (b->cap - b->len < n)
        cli_buf_grow(b, n);
    return b->p + b->len;
}
void cli_buf_free(cli_buf *b);
/*! cli_buf_write() : writes the buffer to f and empties it; exits CLI_EXIT_OUTPUT naming `name` on failure. */
void cli_buf_write(cli_buf *b, FILE *f, const char *name);
void cli_buf_put(cli_buf *b, const char *s, size_t n);
void cli_buf_puts(cli_buf *b, const char *s);
void cli_buf_printf(cli_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/*! cli_buf_json_str() : s as a JSON string literal with its quotes. Control characters, '"' and '\\' are
 *  escaped; bytes that are not valid UTF-8 become \ufffd (JSON text must be UTF-8). */
void cli_buf_json_str(cli_buf *b, const char *s);

/* Number formatters: write into dst (room for CLI_NUM_MAX bytes), return the length; no terminating NUL. */
#define CLI_NUM_MAX 32
size_t cli_fmt_u64(char *dst, uint64_t v);
size_t cli_fmt_i64(char *dst, int64_t v);
/*! cli_fmt_double() : the shortest decimal that reads back (strtod) as exactly v, as a JSON number: fixed
 *  notation for exponents -5..16 ("-0.00517679", "38.0": a '.0' keeps integral values floats), otherwise
 *  "1.5e-07" / "2e+20" as Python's repr writes them. Among the shortest, the one closest to v. NaN and
 *  infinities are written as Python's json module writes them: NaN, Infinity, -Infinity (not standard JSON;
 *  callers that need strict JSON test isfinite() first). */
size_t cli_fmt_double(char *dst, double v);
/*! cli_shortest_digits() : the digits of cli_fmt_double() for a finite v != 0 (sign ignored): writes 1..17
 *  digits to digits (no NUL), returns their count, *exp10 = decimal exponent of the first digit. */
int cli_shortest_digits(double v, char *digits, int *exp10);

/*
 * The legacy JSONL record ("event": "stage_trace"), as the seeds' probe wrote it and old analysers read it:
 *   event, prompt_id, phase, point, layer, step, [token_id, logical_tok_idx,] pos_id, seq_len, [hash,]
 *   [min, max, mean]
 * layer, step, pos_id and seq_len are always written (-1 when unset, as the legacy engine wrote them);
 * token_id and logical_tok_idx only when set (older files have no such fields); hash only when the record has
 * one, min/max/mean only when it has statistics. Separators are Python json.dumps()'s (", " and ": ").
 */
#define CLI_SJ_EXTRA 0x1u    /* append rank, dtype, shape, absmax, l2, nan_count, inf_count */
#define CLI_SJ_NAN_NULL 0x2u /* write non-finite statistics as null instead of NaN/Infinity */
#define CLI_SJ_READER 0x4u   /* append what a reader knows of the record: index, seq, payload, lost, stored_bytes */

/*! cli_buf_stage_trace() : appends one record as a JSON object and a newline. */
void cli_buf_stage_trace(cli_buf *b, const tt_record *rec, unsigned flags);

#endif /* TT_CLI_H */
