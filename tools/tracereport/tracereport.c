/*
 * tracereport.c — the command line: reads one or more `tracediff --json` results (or runs the diff itself through
 * libtrace's tt_diff_run with tracediff's options, --run), builds the report (report.h) and writes report.md,
 * report.tsv and report.html into a directory; --compare puts two results side by side. The three files are
 * written under temporary names and renamed only once all three are complete (tools/common/outfile.h), so a report
 * that fails halfway never replaces a good one nor leaves a part behind. See README.md beside it.
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "diffargs.h"
#include "model.h"
#include "report.h"
#include "tt/diff.h"
#include "tt/reader.h"
#include "write.h"

#define MAX_INPUTS 16

static void usage(FILE *f)
{
    fprintf(f,
            "usage: tracereport [options] DIFF.json [DIFF.json ...] -o DIR\n"
            "       tracereport --run [tracediff options] LEFT [RIGHT] -o DIR\n"
            "       tracereport --compare BEFORE.json AFTER.json -o DIR\n"
            "\n"
            "DIFF.json \"-\" reads a result from standard input; with --run, LEFT or RIGHT \"-\" a trace.\n"
            "Turns a diff result (tracediff --json) into the report of the seeds' templates: report.md (execution\n"
            "summary, KV alignment analysis, structural vs real drift with the evidence, first failure by mode,\n"
            "evidence snippets, conclusion, recommendations), report.tsv (the layer x stage grid as data) and\n"
            "report.html (the same with a heat map, growth chart, histogram and propagation chain; one file, no\n"
            "network). Several results of the same traces in different modes (numeric, as_designed, kv_aligned)\n"
            "make one report: the first is the primary, each appears under \"First Failure by Mode\", the KV\n"
            "section reads the kv_aligned one. Prints the path of report.html.\n"
            "\n"
            "  -o, --output DIR       directory for the report (created if missing)\n"
            "  -f, --force            replace the report files in DIR if they exist (without it, an error)\n"
            "  --title TEXT           the report's title\n"
            "  --compare              two results, before and after a fix: side by side, heat maps, what changed\n"
            "  --run                  run the diff here (libtrace) instead of reading JSON; LEFT [RIGHT] are traces,\n"
            "                         a side of several files as with tracediff (a quoted pattern, LEFT1 ... RIGHT,\n"
            "                         --left-file/--right-file)\n"
            "  -h, --help             this help\n"
            "  -V, --version          print the version\n"
            "\n"
            "tracediff options, with --run (see tracediff --help):\n"
            "  --left COND, --right COND, --where COND, --key FIELDS, --align none|pos, --stages LIST,\n"
            "  --cache-points LIST, --tol POINT[@L]=R:A, --tol-file FILE, --jump-ratio X, --jump-floor X,\n"
            "  --verify-identical, --threads N, --topk N, --left-file FILE, --right-file FILE\n"
            "  --mode MODE            numeric (default), as_designed or kv_aligned; repeat it to report several\n"
            "                         modes of the same traces (the first is the primary)\n"
            "\n"
            "Exit status: 0 the report was written (whatever the verdict), 2 usage or input error (a file that is\n"
            "not a tracediff result, a schema version this tool does not read, a trace that cannot be diffed),\n"
            "3 the output could not be written, 4 internal error (e.g. out of memory).\n");
}

enum { OPT_TITLE = 256, OPT_COMPARE, OPT_RUN };

static const struct option long_opts[] = {
    {"output", required_argument, NULL, 'o'}, {"title", required_argument, NULL, OPT_TITLE},
    {"compare", no_argument, NULL, OPT_COMPARE}, {"run", no_argument, NULL, OPT_RUN},
    {"force", no_argument, NULL, 'f'},
    CLI_DIFF_LONG_OPTIONS,
    {"help", no_argument, NULL, 'h'}, {"version", no_argument, NULL, 'V'}, {NULL, 0, NULL, 0}};

/* Runs the diff once per mode; results appended to res. */
static size_t run_diffs(cli_diff_args *da, cli_diff_files *files, rp_result **res)
{
    const char *left = files->name[0], *right = files->one_file ? NULL : files->name[1];
    cli_diff_args_tols(da);
    /* the conditions as tracediff writes them into its JSON (one file without filters: its default sides) */
    rp_run_sides sides = {left, right, NULL, NULL, 0, 0};
    const char *const *lc, *const *rc_;
    cli_diff_args_sides(da, right == NULL, &lc, &sides.nleft, &rc_, &sides.nright);
    sides.left_conds = lc;
    sides.right_conds = rc_;
    if (da->nmodes == 0)
        da->modes[da->nmodes++] = TT_DIFF_NUMERIC;
    /* streams (standard input, a FIFO) are read once, into a temporary copy every mode's run reads */
    cli_diff_files_resolve(files);
    cli_raise_fd_limit();
    for (int m = 0; m < da->nmodes; m++) {
        da->o.mode = da->modes[m];
        tt_diff *d = NULL;
        int rc = cli_diff_run(da, files, &da->o, &d);
        if (rc != TT_OK) {
            char buf[1400];
            const char *msg = d && tt_diff_errmsg(d)[0] ? tt_diff_errmsg(d) : tt_strerror(rc);
            cli_error("%s", cli_input_msg(msg, buf, sizeof buf));
            tt_diff_free(d);
            cli_out_failed();
            exit(rc == TT_E_NOMEM ? CLI_EXIT_INTERNAL : CLI_EXIT_USAGE);
        }
        res[m] = rp_load_diff(d, &sides);
        tt_diff_free(d);
        if (!res[m])
            cli_die(CLI_EXIT_INTERNAL, "out of memory");
    }
    return (size_t)da->nmodes;
}

typedef int (*writer_fn)(FILE *f, const rp_report *rep);

static int md_writer(FILE *f, const rp_report *rep)
{
    rp_write_md(f, rep);
    return 0;
}

static int tsv_writer(FILE *f, const rp_report *rep)
{
    rp_write_tsv(f, rep);
    return 0;
}

/* DIR/NAME, malloc'ed (it lives as long as the output declared with it). */
static char *report_path(const char *dir, const char *name)
{
    size_t n = strlen(dir) + strlen(name) + 2;
    char *path = malloc(n);
    if (!path)
        cli_die(CLI_EXIT_INTERNAL, "out of memory");
    snprintf(path, n, "%s%s%s", dir, dir[strlen(dir) - 1] == '/' ? "" : "/", name);
    return path;
}

/* Writes one file of the report into its temporary file (committed with the others once all are written). */
static void write_file(cli_out *out, writer_fn fn, const rp_report *rep)
{
    FILE *f = cli_out_open(out);
    if (fn(f, rep) != 0)
        cli_die(CLI_EXIT_INTERNAL, "out of memory while writing %s", cli_out_name(out));
    cli_out_close(out);
}

static const char *timestamp(char *buf, size_t len)
{
    time_t t = time(NULL);
    const char *sde = getenv("SOURCE_DATE_EPOCH"); /* reproducible reports */
    if (sde && *sde) {
        char *end;
        long long v = strtoll(sde, &end, 10);
        if (*end == '\0' && v >= 0)
            t = (time_t)v;
    }
    struct tm tm;
    if (!gmtime_r(&t, &tm) || !strftime(buf, len, "%Y-%m-%d %H:%M UTC", &tm))
        snprintf(buf, len, "unknown time");
    return buf;
}

static int same_sides(const rp_result *a, const rp_result *b)
{
    if (strcmp(a->left.path, b->left.path) || strcmp(a->right.path, b->right.path) ||
        a->left.nfilter != b->left.nfilter || a->right.nfilter != b->right.nfilter)
        return 0;
    for (size_t i = 0; i < a->left.nfilter; i++)
        if (strcmp(a->left.filter[i], b->left.filter[i]))
            return 0;
    for (size_t i = 0; i < a->right.nfilter; i++)
        if (strcmp(a->right.filter[i], b->right.filter[i]))
            return 0;
    return 1;
}

int main(int argc, char **argv)
{
    cli_init(argv[0]);
    cli_diff_args da;
    cli_diff_args_init(&da);
    const char *first_diff_opt = NULL; /* a tracediff option seen, for the error without --run */
    const char *outdir = NULL, *title = NULL;
    int compare = 0, run = 0, force = 0, c;
    opterr = 0; /* unknown options are reported as every tool reports them (cli_getopt_fail) */
    while ((c = getopt_long(argc, argv, ":o:fhV", long_opts, NULL)) != -1) {
        if (cli_diff_arg(&da, c, optarg)) {
            if (!first_diff_opt)
                first_diff_opt = argv[optind - 1 - (optarg && optarg == argv[optind - 1])];
            continue;
        }
        switch (c) {
        case 'o': outdir = optarg; break;
        case OPT_TITLE: title = optarg; break;
        case OPT_COMPARE: compare = 1; break;
        case OPT_RUN: run = 1; break;
        case 'f': force = 1; break;
        case 'h':
        case 'V':
            if (c == 'h')
                usage(stdout);
            else
                cli_print_version();
            cli_diff_args_free(&da);
            return cli_finish(CLI_EXIT_OK);
        default: cli_getopt_fail(argv, c, optopt);
        }
    }
    int nin = argc - optind;
    if (run && compare)
        cli_die(CLI_EXIT_USAGE, "--run and --compare do not go together (compare two JSON results)");
    if (!run && first_diff_opt)
        cli_die(CLI_EXIT_USAGE, "option %s is a diff option: it needs --run (a JSON result is already diffed)",
                first_diff_opt);
    if (!outdir)
        cli_die(CLI_EXIT_USAGE, "missing -o DIR: the directory to write the report to (try --help)");
    if (nin < 1 && !(run && (da.nside_files[0] || da.nside_files[1])))
        cli_die(CLI_EXIT_USAGE, "missing %s (try --help)", run ? "the trace file(s)" : "the diff result (DIFF.json)");
    if (compare && nin != 2)
        cli_die(CLI_EXIT_USAGE, "--compare takes exactly two diff results, BEFORE.json and AFTER.json (got %d)", nin);
    if (nin > MAX_INPUTS)
        cli_die(CLI_EXIT_USAGE, "more than %d diff results", MAX_INPUTS);
    if (!*outdir)
        cli_usage_error("-o: the output directory is empty");
    int nstdin = 0;
    for (int i = 0; i < nin; i++)
        nstdin += strcmp(argv[optind + i], "-") == 0;
    if (nstdin > 1)
        cli_die(CLI_EXIT_USAGE, "standard input (\"-\") given %d times: it can be read once", nstdin);

    /* the report's files are checked against the inputs and for existing ones before anything is read */
    cli_diff_files files;
    memset(&files, 0, sizeof files);
    if (run)
        cli_diff_args_files(&da, argv + optind, nin, &files); /* declares the traces as inputs */
    else
        for (int i = 0; i < nin; i++)
            cli_input(argv[optind + i]);
    cli_input(da.tolfile);
    static const char *const names[3] = {"report.md", "report.tsv", "report.html"};
    cli_out *outs[3];
    for (int i = 0; i < 3; i++)
        outs[i] = cli_out_declare(report_path(outdir, names[i]), "-o", force ? CLI_OUT_FORCE : 0);

    rp_result *res[MAX_INPUTS];
    size_t nres = 0;
    if (run) {
        nres = run_diffs(&da, &files, res);
    } else {
        for (int i = 0; i < nin; i++) {
            char err[1024];
            int oom = 0;
            res[nres] = rp_load_json(argv[optind + i], err, sizeof err, &oom);
            if (!res[nres])
                cli_die(oom ? CLI_EXIT_INTERNAL : CLI_EXIT_USAGE, "%s", err);
            nres++;
        }
        int per_rank = 1; /* per-rank results (one per rank): other sides by design */
        for (size_t i = 0; i < nres; i++)
            for (size_t j = 0; j < i && per_rank; j++)
                per_rank = res[i]->rank >= 0 && res[j]->rank >= 0 && res[i]->rank != res[j]->rank;
        per_rank &= nres > 1 && res[0]->rank >= 0;
        for (size_t i = 1; i < nres && !compare && !per_rank; i++) {
            if (!same_sides(res[0], res[i]))
                cli_warn("%s compares other sides (%s vs %s) than %s (%s vs %s): reported together anyway",
                         res[i]->source, res[i]->left.path, res[i]->right.path, res[0]->source, res[0]->left.path,
                         res[0]->right.path);
            for (size_t j = 0; j < i; j++)
                if (res[j]->mode == res[i]->mode)
                    cli_warn("%s and %s are both %s results: \"First Failure by Mode\" lists both", res[j]->source,
                             res[i]->source, rp_mode_name(res[i]->mode));
        }
    }
    cli_diff_args_free(&da);
    cli_diff_files_free(&files);

    char when[64];
    rp_report rep;
    memset(&rep, 0, sizeof rep);
    rep.a = rp_arena_new();
    if (!rep.a)
        cli_die(CLI_EXIT_INTERNAL, "out of memory");
    rep.title = title;
    rep.nres = nres;
    rep.res = res;
    rep.compare = compare;
    rep.generated = timestamp(when, sizeof when);
    rep.outdir = outdir;
    if (rp_report_init(&rep) != 0 || (compare ? rp_compare_build(&rep) : rp_report_build(&rep)) != 0)
        cli_die(CLI_EXIT_INTERNAL, "out of memory while building the report");

    cli_out_mkdir(outdir);
    write_file(outs[0], md_writer, &rep);
    write_file(outs[1], tsv_writer, &rep);
    write_file(outs[2], rp_write_html, &rep);
    for (int i = 0; i < 3; i++) /* all three written: only now does any of them replace a file */
        cli_out_commit(outs[i]);
    printf("%s\n", cli_out_name(outs[2]));
    for (size_t i = 0; i < nres; i++)
        rp_result_free(res[i]);
    rp_arena_free(rep.a);
    return cli_finish(CLI_EXIT_OK);
}
