/*
 * diffargs.h — the diff options tracediff and `tracereport --run` share: the two sides (--left, --right,
 * --where), pairing (--key, --align, --stages, --cache-points), judging (--mode, --tol, --tol-file,
 * --jump-ratio, --jump-floor, --stat-threshold, --allow-nonfinite, --verify-identical, --threads, --topk). One parser, so both tools accept the
 * same text and give the same errors. Values are checked with the library's own parsers; a bad one exits
 * with CLI_EXIT_USAGE naming the option.
 */
#ifndef TT_CLI_DIFFARGS_H
#define TT_CLI_DIFFARGS_H

#include <getopt.h>
#include <stddef.h>

#include "cli.h"
#include "tt/diff.h"
#include "tt/reader.h"

#define CLI_DIFF_MAX_CONDS 64
#define CLI_DIFF_MAX_TOLS 256

enum {
    CLI_DIFF_OPT_LEFT = 1000, CLI_DIFF_OPT_RIGHT, CLI_DIFF_OPT_WHERE, CLI_DIFF_OPT_KEY, CLI_DIFF_OPT_ALIGN,
    CLI_DIFF_OPT_STAGES, CLI_DIFF_OPT_CACHE, CLI_DIFF_OPT_MODE, CLI_DIFF_OPT_TOL, CLI_DIFF_OPT_TOLFILE,
    CLI_DIFF_OPT_JRATIO, CLI_DIFF_OPT_JFLOOR, CLI_DIFF_OPT_VERIFY, CLI_DIFF_OPT_THREADS, CLI_DIFF_OPT_TOPK,
    CLI_DIFF_OPT_NONFINITE, CLI_DIFF_OPT_STAT, CLI_DIFF_OPT_LFILE, CLI_DIFF_OPT_RFILE, CLI_DIFF_OPT_END
};

/* The long options, to put into a tool's getopt_long table. */
#define CLI_DIFF_LONG_OPTIONS                                                                                  \
    {"left", required_argument, NULL, CLI_DIFF_OPT_LEFT}, {"right", required_argument, NULL, CLI_DIFF_OPT_RIGHT}, \
    {"where", required_argument, NULL, CLI_DIFF_OPT_WHERE}, {"key", required_argument, NULL, CLI_DIFF_OPT_KEY},     \
    {"align", required_argument, NULL, CLI_DIFF_OPT_ALIGN},                                                     \
    {"stages", required_argument, NULL, CLI_DIFF_OPT_STAGES},                                                   \
    {"cache-points", required_argument, NULL, CLI_DIFF_OPT_CACHE},                                              \
    {"mode", required_argument, NULL, CLI_DIFF_OPT_MODE}, {"tol", required_argument, NULL, CLI_DIFF_OPT_TOL},     \
    {"tol-file", required_argument, NULL, CLI_DIFF_OPT_TOLFILE},                                                \
    {"jump-ratio", required_argument, NULL, CLI_DIFF_OPT_JRATIO},                                               \
    {"jump-floor", required_argument, NULL, CLI_DIFF_OPT_JFLOOR},                                               \
    {"verify-identical", no_argument, NULL, CLI_DIFF_OPT_VERIFY},                                               \
    {"allow-nonfinite", no_argument, NULL, CLI_DIFF_OPT_NONFINITE},                                             \
    {"stat-threshold", required_argument, NULL, CLI_DIFF_OPT_STAT},                                             \
    {"threads", required_argument, NULL, CLI_DIFF_OPT_THREADS}, {"topk", required_argument, NULL, CLI_DIFF_OPT_TOPK}, \
    {"left-file", required_argument, NULL, CLI_DIFF_OPT_LFILE},                                                \
    {"right-file", required_argument, NULL, CLI_DIFF_OPT_RFILE}

typedef struct cli_diff_args {
    tt_diff_options o;
    tt_filter *lf, *rf;
    tt_diff_tols *tols;
    const char *lconds[CLI_DIFF_MAX_CONDS], *rconds[CLI_DIFF_MAX_CONDS]; /* as given, for the outputs */
    size_t nl, nr;
    const char *tol_specs[CLI_DIFF_MAX_TOLS];
    int ntol;
    const char *tolfile;
    tt_diff_mode modes[3]; /* --mode as given, in order, each at most once */
    int nmodes;
    const char *side_files[2][CLI_DIFF_MAX_CONDS]; /* --left-file, --right-file as given */
    size_t nside_files[2];
} cli_diff_args;

/*
 * The files of the two sides. Each side is one file or several (the per-rank files of one run, read as one):
 *   tracediff LEFT RIGHT              one operand per side; an operand may be a glob pattern, quoted so that the
 *                                     tool expands it ('tp8-rank*.tt'): then it is one side
 *   tracediff A1 A2 ... AN RIGHT      more than two operands (an unquoted pattern the shell expanded): the last
 *                                     is RIGHT, all the others are LEFT, as cp and mv take their last operand
 *   --left-file F, --right-file F     (repeatable, patterns too) name a side's files explicitly; the operands
 *                                     then all go to the other side (both given: no operand)
 *   tracediff LEFT                    one operand: two sides of it chosen by --left/--right
 */
typedef struct cli_diff_files {
    cli_traces side[2];
    int one_file; /* one side given: its two sides are chosen by filters */
    char name[2][1024]; /* "FILE" or "FILE (+N files)" */
    const char **files[2]; /* what the library opens (cli_diff_files_resolve) */
} cli_diff_files;

/*! cli_diff_args_files() : the sides' files from the operands and --left-file/--right-file (see above); each
 *  file is declared as an input. Exits CLI_EXIT_USAGE when no file is given, a pattern matches nothing, or both
 *  sides would read standard input. */
void cli_diff_args_files(const cli_diff_args *a, char *const *operands, int n, cli_diff_files *out);
/*! cli_diff_files_resolve() : the files the library opens: standard input and FIFOs copied once
 *  (cli_trace_input()), so that several runs on them read the same copy. */
void cli_diff_files_resolve(cli_diff_files *f);
/*! cli_diff_run() : tt_diff_run_many() on the resolved files. */
int cli_diff_run(const cli_diff_args *a, const cli_diff_files *f, const tt_diff_options *o, tt_diff **out);
void cli_diff_files_free(cli_diff_files *f);

/*! cli_diff_args_init() : defaults (TT_DIFF_OPTIONS_INIT, no conditions); exits on out of memory. */
void cli_diff_args_init(cli_diff_args *a);
/*! cli_diff_arg() : handles getopt code opt with its argument. @return : 1 when it was a diff option. */
int cli_diff_arg(cli_diff_args *a, int opt, const char *arg);
/*! cli_diff_args_tols() : reads --tol-file and applies the --tol specs into a->tols (then a->o.tols). Exits
 *  with CLI_EXIT_USAGE naming the file, line and column, or the spec, when one is malformed. */
void cli_diff_args_tols(cli_diff_args *a);
/*! cli_diff_args_sides() : the conditions of each side as they are compared: the given ones, or for one file
 *  without any, tracediff's default sides (phase=prefill_last against phase=decode0). */
void cli_diff_args_sides(const cli_diff_args *a, int one_file, const char *const **lconds, size_t *nl,
                         const char *const **rconds, size_t *nr);
void cli_diff_args_free(cli_diff_args *a);

#endif /* TT_CLI_DIFFARGS_H */
