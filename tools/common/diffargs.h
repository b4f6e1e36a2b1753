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

#include "tt/diff.h"
#include "tt/reader.h"

#define CLI_DIFF_MAX_CONDS 64
#define CLI_DIFF_MAX_TOLS 256

enum {
    CLI_DIFF_OPT_LEFT = 1000, CLI_DIFF_OPT_RIGHT, CLI_DIFF_OPT_WHERE, CLI_DIFF_OPT_KEY, CLI_DIFF_OPT_ALIGN,
    CLI_DIFF_OPT_STAGES, CLI_DIFF_OPT_CACHE, CLI_DIFF_OPT_MODE, CLI_DIFF_OPT_TOL, CLI_DIFF_OPT_TOLFILE,
    CLI_DIFF_OPT_JRATIO, CLI_DIFF_OPT_JFLOOR, CLI_DIFF_OPT_VERIFY, CLI_DIFF_OPT_THREADS, CLI_DIFF_OPT_TOPK,
    CLI_DIFF_OPT_NONFINITE, CLI_DIFF_OPT_STAT, CLI_DIFF_OPT_END
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
    {"threads", required_argument, NULL, CLI_DIFF_OPT_THREADS}, {"topk", required_argument, NULL, CLI_DIFF_OPT_TOPK}

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
} cli_diff_args;

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
