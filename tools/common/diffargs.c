/*
 * diffargs.c — the shared parser of tracediff's options (see diffargs.h).
 */
#define _POSIX_C_SOURCE 200809L
#include "diffargs.h"

#include <stdlib.h>
#include <string.h>

#include "cli.h"

void cli_diff_args_init(cli_diff_args *a)
{
    memset(a, 0, sizeof *a);
    a->o = (tt_diff_options)TT_DIFF_OPTIONS_INIT;
    a->lf = tt_filter_new();
    a->rf = tt_filter_new();
    a->tols = tt_diff_tols_new();
    if (!a->lf || !a->rf || !a->tols)
        cli_die(CLI_EXIT_INTERNAL, "out of memory");
}

void cli_diff_args_free(cli_diff_args *a)
{
    tt_filter_free(a->lf);
    tt_filter_free(a->rf);
    tt_diff_tols_free(a->tols);
    memset(a, 0, sizeof *a);
}

static void add_cond(tt_filter *f, const char *opt, const char *cond, const char **list, size_t *n)
{
    char err[256] = "";
    int rc = tt_filter_add(f, cond, err, sizeof err);
    if (rc == TT_E_NOMEM)
        cli_die(CLI_EXIT_INTERNAL, "out of memory");
    if (rc != TT_OK)
        cli_die(CLI_EXIT_USAGE, "option --%s '%s': %s", opt, cond, err[0] ? err : tt_strerror(rc));
    if (*n >= CLI_DIFF_MAX_CONDS)
        cli_die(CLI_EXIT_USAGE, "option --%s: more than %d conditions", opt, CLI_DIFF_MAX_CONDS);
    list[(*n)++] = cond;
}

static double positive(const char *opt, const char *arg, double above)
{
    double v = cli_parse_double(opt, arg);
    if (!(v > above) || v > 1e12)
        cli_die(CLI_EXIT_USAGE, "option --%s: '%s' must be above %g", opt, arg, above);
    return v;
}

int cli_diff_arg(cli_diff_args *a, int opt, const char *arg)
{
    switch (opt) {
    case CLI_DIFF_OPT_LEFT: add_cond(a->lf, "left", arg, a->lconds, &a->nl); return 1;
    case CLI_DIFF_OPT_RIGHT: add_cond(a->rf, "right", arg, a->rconds, &a->nr); return 1;
    case CLI_DIFF_OPT_WHERE:
        add_cond(a->lf, "where", arg, a->lconds, &a->nl);
        add_cond(a->rf, "where", arg, a->rconds, &a->nr);
        return 1;
    case CLI_DIFF_OPT_KEY: a->o.key = arg; return 1;
    case CLI_DIFF_OPT_ALIGN:
        if (strcmp(arg, "none") == 0)
            a->o.align = TT_DIFF_ALIGN_NONE;
        else if (strcmp(arg, "pos") == 0)
            a->o.align = TT_DIFF_ALIGN_POS;
        else
            cli_die(CLI_EXIT_USAGE, "option --align: '%s' is not none or pos", arg);
        return 1;
    case CLI_DIFF_OPT_STAGES: a->o.stages = strcmp(arg, "capture") == 0 ? "" : arg; return 1;
    case CLI_DIFF_OPT_CACHE: a->o.cache_points = arg; return 1;
    case CLI_DIFF_OPT_MODE: {
        tt_diff_mode m;
        if (tt_diff_mode_from_name(arg, &m) != TT_OK)
            cli_die(CLI_EXIT_USAGE, "option --mode: '%s' is not numeric, as_designed or kv_aligned", arg);
        for (int i = 0; i < a->nmodes; i++)
            if (a->modes[i] == m)
                cli_die(CLI_EXIT_USAGE, "option --mode: '%s' given twice", arg);
        a->modes[a->nmodes++] = m;
        a->o.mode = m;
        return 1;
    }
    case CLI_DIFF_OPT_TOL:
        if (a->ntol == CLI_DIFF_MAX_TOLS)
            cli_die(CLI_EXIT_USAGE, "option --tol: more than %d given", CLI_DIFF_MAX_TOLS);
        a->tol_specs[a->ntol++] = arg;
        return 1;
    case CLI_DIFF_OPT_TOLFILE: a->tolfile = arg; return 1;
    case CLI_DIFF_OPT_JRATIO: a->o.jump_ratio = positive("jump-ratio", arg, 1); return 1;
    case CLI_DIFF_OPT_JFLOOR: a->o.jump_floor = positive("jump-floor", arg, 0); return 1;
    case CLI_DIFF_OPT_VERIFY: a->o.verify_identical = 1; return 1;
    case CLI_DIFF_OPT_NONFINITE: a->o.allow_nonfinite = 1; return 1;
    case CLI_DIFF_OPT_STAT: a->o.stat_threshold = positive("stat-threshold", arg, 1); return 1;
    case CLI_DIFF_OPT_THREADS: a->o.threads = (uint32_t)cli_parse_u64("threads", arg, 1, 16); return 1;
    case CLI_DIFF_OPT_TOPK: a->o.topk = (uint32_t)cli_parse_u64("topk", arg, 1, 1024); return 1;
    default: return 0;
    }
}

void cli_diff_args_tols(cli_diff_args *a)
{
    char err[512] = "";
    if (a->tolfile) {
        size_t len;
        char *text = cli_slurp(a->tolfile, 64u << 20, "a tolerance file", &len);
        int rc = tt_diff_tol_parse(text, len, a->tols, err, sizeof err);
        free(text);
        if (rc == TT_E_NOMEM)
            cli_die(CLI_EXIT_INTERNAL, "out of memory");
        if (rc != TT_OK)
            cli_die(CLI_EXIT_USAGE, "%s: %s", a->tolfile, err[0] ? err : tt_strerror(rc));
    }
    for (int i = 0; i < a->ntol; i++) {
        int rc = tt_diff_tol_spec(a->tols, a->tol_specs[i], err, sizeof err);
        if (rc == TT_E_NOMEM)
            cli_die(CLI_EXIT_INTERNAL, "out of memory");
        if (rc != TT_OK)
            cli_die(CLI_EXIT_USAGE, "option --tol %s", err);
    }
    a->o.tols = a->tols;
}

void cli_diff_args_sides(const cli_diff_args *a, int one_file, const char *const **lconds, size_t *nl,
                         const char *const **rconds, size_t *nr)
{
    static const char *const dl[] = {TT_DIFF_DEFAULT_LEFT}, *const dr[] = {TT_DIFF_DEFAULT_RIGHT};
    if (one_file && !a->nl && !a->nr) {
        *lconds = dl, *nl = 1;
        *rconds = dr, *nr = 1;
    } else {
        *lconds = a->lconds, *nl = a->nl;
        *rconds = a->rconds, *nr = a->nr;
    }
}
