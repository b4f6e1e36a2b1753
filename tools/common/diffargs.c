/*
 * diffargs.c — the shared parser of tracediff's options (see diffargs.h).
 */
#define _POSIX_C_SOURCE 200809L
#include "diffargs.h"

#include <stdlib.h>
#include <stdio.h>
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
    case CLI_DIFF_OPT_LFILE:
    case CLI_DIFF_OPT_RFILE: {
        int s = opt == CLI_DIFF_OPT_RFILE;
        if (a->nside_files[s] >= CLI_DIFF_MAX_CONDS)
            cli_die(CLI_EXIT_USAGE, "option --%s-file: at most %d", s ? "right" : "left", CLI_DIFF_MAX_CONDS);
        a->side_files[s][a->nside_files[s]++] = arg;
        return 1;
    }
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

void cli_diff_args_files(const cli_diff_args *a, char *const *operands, int n, cli_diff_files *out)
{
    memset(out, 0, sizeof *out);
    int given[2] = {a->nside_files[0] > 0, a->nside_files[1] > 0};
    for (int s = 0; s < 2; s++)
        for (size_t i = 0; i < a->nside_files[s]; i++)
            cli_traces_add(&out->side[s], a->side_files[s][i]);
    if (given[0] && given[1]) {
        if (n > 0)
            cli_usage_error("unexpected argument '%s': --left-file and --right-file name both sides", operands[0]);
    } else if (given[0] || given[1]) {
        for (int i = 0; i < n; i++)
            cli_traces_add(&out->side[given[0] ? 1 : 0], operands[i]);
    } else if (n == 1) {
        cli_traces_add(&out->side[0], operands[0]);
    } else {
        for (int i = 0; i + 1 < n; i++)
            cli_traces_add(&out->side[0], operands[i]);
        if (n >= 2)
            cli_traces_add(&out->side[1], operands[n - 1]);
    }
    if (!out->side[0].n)
        cli_die(CLI_EXIT_USAGE, "missing LEFT file (try --help)");
    out->one_file = out->side[1].n == 0;
    for (size_t i = 0; i < out->side[0].n; i++)
        for (size_t j = 0; j < out->side[1].n; j++)
            if (strcmp(out->side[0].paths[i], "-") == 0 && strcmp(out->side[1].paths[j], "-") == 0)
                cli_die(CLI_EXIT_USAGE, "LEFT and RIGHT are both standard input: at most one of them can be \"-\"");
    for (int s = 0; s < 2; s++) {
        const cli_traces *t = &out->side[s && !out->one_file ? 1 : 0];
        if (t->n == 1) /* one file: its name as given ("-" too), as the outputs always showed it */
            snprintf(out->name[s], sizeof out->name[s], "%s", t->paths[0]);
        else
            cli_traces_name(t, out->name[s], sizeof out->name[s]);
    }
}

void cli_diff_files_resolve(cli_diff_files *f)
{
    for (int s = 0; s < 2; s++)
        if (!f->files[s] && f->side[s].n)
            f->files[s] = cli_traces_files(&f->side[s]);
}

int cli_diff_run(const cli_diff_args *a, const cli_diff_files *f, const tt_diff_options *o, tt_diff **out)
{
    return tt_diff_run_many(out, f->files[0], f->side[0].n, a->lf, f->one_file ? NULL : f->files[1],
                            f->one_file ? 0 : f->side[1].n, a->rf, o);
}

void cli_diff_files_free(cli_diff_files *f)
{
    free((void *)f->files[0]);
    free((void *)f->files[1]);
    cli_traces_free(&f->side[0]);
    cli_traces_free(&f->side[1]);
}
