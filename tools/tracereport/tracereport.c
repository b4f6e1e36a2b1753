/*
 * tracereport.c — the command line: reads one or more `tracediff --json` results (or runs the diff itself through
 * libtrace's tt_diff_run with tracediff's options, --run), builds the report (report.h) and writes report.md,
 * report.tsv and report.html into a directory; --compare puts two results side by side. Files are written under a
 * temporary name and renamed, so a report that fails halfway never replaces a good one. See README.md beside it.
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
#include "model.h"
#include "report.h"
#include "tt/diff.h"
#include "tt/reader.h"
#include "write.h"

#define MAX_INPUTS 16
#define MAX_CONDS 64
#define MAX_TOLS 256

static void usage(FILE *f)
{
    fprintf(f,
            "usage: tracereport [options] DIFF.json [DIFF.json ...] -o DIR\n"
            "       tracereport --run [tracediff options] LEFT [RIGHT] -o DIR\n"
            "       tracereport --compare BEFORE.json AFTER.json -o DIR\n"
            "\n"
            "Turns a diff result (tracediff --json) into the report of the seeds' templates: report.md (execution\n"
            "summary, KV alignment analysis, structural vs real drift with the evidence, first failure by mode,\n"
            "evidence snippets, conclusion, recommendations), report.tsv (the layer x stage grid as data) and\n"
            "report.html (the same with a heat map, growth chart, histogram and propagation chain; one file, no\n"
            "network). Several results of the same traces in different modes (numeric, as_designed, kv_aligned)\n"
            "make one report: the first is the primary, each appears under \"First Failure by Mode\", the KV\n"
            "section reads the kv_aligned one. Prints the path of report.html.\n"
            "\n"
            "  -o, --output DIR       directory for the report (created if missing; files in it are replaced)\n"
            "  --title TEXT           the report's title\n"
            "  --compare              two results, before and after a fix: side by side, heat maps, what changed\n"
            "  --run                  run the diff here (libtrace) instead of reading JSON; LEFT [RIGHT] are traces\n"
            "  -h, --help             this help\n"
            "  -V, --version          print the version\n"
            "\n"
            "tracediff options, with --run (see tracediff --help):\n"
            "  --left COND, --right COND, --where COND, --key FIELDS, --align none|pos, --stages LIST,\n"
            "  --cache-points LIST, --tol POINT[@L]=R:A, --tol-file FILE, --jump-ratio X, --jump-floor X,\n"
            "  --verify-identical, --threads N, --topk N\n"
            "  --mode MODE            numeric (default), as_designed or kv_aligned; repeat it to report several\n"
            "                         modes of the same traces (the first is the primary)\n"
            "\n"
            "Exit status: 0 the report was written (whatever the verdict), 2 usage or input error (a file that is\n"
            "not a tracediff result, a schema version this tool does not read, a trace that cannot be diffed),\n"
            "3 the output could not be written, 4 internal error (e.g. out of memory).\n");
}

enum {
    OPT_TITLE = 256, OPT_COMPARE, OPT_RUN, OPT_LEFT, OPT_RIGHT, OPT_WHERE, OPT_KEY, OPT_ALIGN, OPT_STAGES,
    OPT_CACHE, OPT_MODE, OPT_TOL, OPT_TOLFILE, OPT_JRATIO, OPT_JFLOOR, OPT_VERIFY, OPT_THREADS, OPT_TOPK
};

static const struct option long_opts[] = {
    {"output", required_argument, NULL, 'o'},           {"title", required_argument, NULL, OPT_TITLE},
    {"compare", no_argument, NULL, OPT_COMPARE},         {"run", no_argument, NULL, OPT_RUN},
    {"left", required_argument, NULL, OPT_LEFT},         {"right", required_argument, NULL, OPT_RIGHT},
    {"where", required_argument, NULL, OPT_WHERE},       {"key", required_argument, NULL, OPT_KEY},
    {"align", required_argument, NULL, OPT_ALIGN},       {"stages", required_argument, NULL, OPT_STAGES},
    {"cache-points", required_argument, NULL, OPT_CACHE}, {"mode", required_argument, NULL, OPT_MODE},
    {"tol", required_argument, NULL, OPT_TOL},           {"tol-file", required_argument, NULL, OPT_TOLFILE},
    {"jump-ratio", required_argument, NULL, OPT_JRATIO}, {"jump-floor", required_argument, NULL, OPT_JFLOOR},
    {"verify-identical", no_argument, NULL, OPT_VERIFY}, {"threads", required_argument, NULL, OPT_THREADS},
    {"topk", required_argument, NULL, OPT_TOPK},         {"help", no_argument, NULL, 'h'},
    {"version", no_argument, NULL, 'V'},                 {NULL, 0, NULL, 0}};

/* What --run needs: tracediff's options, parsed with the library's own parsers. */
typedef struct run_args {
    tt_diff_options o;
    tt_filter *lf, *rf;
    tt_diff_tols *tols;
    const char *lconds[MAX_CONDS], *rconds[MAX_CONDS];
    size_t nl, nr;
    const char *tol_specs[MAX_TOLS];
    int ntol;
    const char *tolfile;
    tt_diff_mode modes[3];
    int nmodes;
    const char *first_opt; /* a tracediff option seen, for the error without --run */
} run_args;

static void add_cond(tt_filter *f, const char *opt, const char *cond, const char **list, size_t *n)
{
    char err[256];
    int rc = tt_filter_add(f, cond, err, sizeof err);
    if (rc == TT_E_NOMEM)
        cli_die(CLI_EXIT_INTERNAL, "out of memory");
    if (rc != TT_OK)
        cli_die(CLI_EXIT_USAGE, "option --%s '%s': %s", opt, cond, err[0] ? err : tt_strerror(rc));
    if (*n >= MAX_CONDS)
        cli_die(CLI_EXIT_USAGE, "option --%s: more than %d conditions", opt, MAX_CONDS);
    list[(*n)++] = cond;
}

static char *slurp_text(const char *path, size_t *len)
{
    FILE *f = cli_open_in(path);
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap);
    if (!buf)
        cli_die(CLI_EXIT_INTERNAL, "out of memory");
    for (;;) {
        if (n == cap) {
            if (cap > (64u << 20))
                cli_die(CLI_EXIT_USAGE, "%s: larger than 64 MiB, not a tolerance file", path);
            cap *= 2;
            char *q = realloc(buf, cap);
            if (!q)
                cli_die(CLI_EXIT_INTERNAL, "out of memory");
            buf = q;
        }
        size_t k = fread(buf + n, 1, cap - n, f);
        n += k;
        if (k == 0)
            break;
    }
    if (ferror(f))
        cli_die(CLI_EXIT_USAGE, "%s: read error", path);
    if (f != stdin)
        fclose(f);
    *len = n;
    return buf;
}

/* Runs the diff once per mode; results appended to res. */
static size_t run_diffs(run_args *ra, const char *left, const char *right, rp_result **res)
{
    char err[512];
    if (ra->tolfile) {
        size_t len;
        char *text = slurp_text(ra->tolfile, &len);
        int rc = tt_diff_tol_parse(text, len, ra->tols, err, sizeof err);
        free(text);
        if (rc == TT_E_NOMEM)
            cli_die(CLI_EXIT_INTERNAL, "out of memory");
        if (rc != TT_OK)
            cli_die(CLI_EXIT_USAGE, "%s: %s", ra->tolfile, err[0] ? err : tt_strerror(rc));
    }
    for (int i = 0; i < ra->ntol; i++) {
        int rc = tt_diff_tol_spec(ra->tols, ra->tol_specs[i], err, sizeof err);
        if (rc == TT_E_NOMEM)
            cli_die(CLI_EXIT_INTERNAL, "out of memory");
        if (rc != TT_OK)
            cli_die(CLI_EXIT_USAGE, "option --tol %s", err);
    }
    ra->o.tols = ra->tols;
    /* the conditions as tracediff writes them into its JSON (one file without filters: its default sides) */
    static const char *dl[] = {"phase=prefill_last"}, *dr[] = {"phase=decode0"};
    rp_run_sides sides = {left, right, ra->lconds, ra->rconds, ra->nl, ra->nr};
    if (!right && !ra->nl && !ra->nr) {
        sides.left_conds = dl;
        sides.right_conds = dr;
        sides.nleft = sides.nright = 1;
    }
    if (ra->nmodes == 0)
        ra->modes[ra->nmodes++] = TT_DIFF_NUMERIC;
    for (int m = 0; m < ra->nmodes; m++) {
        ra->o.mode = ra->modes[m];
        tt_diff *d = NULL;
        int rc = tt_diff_run(&d, left, ra->lf, right, ra->rf, &ra->o);
        if (rc != TT_OK) {
            cli_error("%s", d && tt_diff_errmsg(d)[0] ? tt_diff_errmsg(d) : tt_strerror(rc));
            tt_diff_free(d);
            exit(rc == TT_E_NOMEM ? CLI_EXIT_INTERNAL : CLI_EXIT_USAGE);
        }
        res[m] = rp_load_diff(d, &sides);
        tt_diff_free(d);
        if (!res[m])
            cli_die(CLI_EXIT_INTERNAL, "out of memory");
    }
    return (size_t)ra->nmodes;
}

/* mkdir -p; exits with CLI_EXIT_OUTPUT naming what could not be made */
static void make_dir(const char *dir)
{
    size_t n = strlen(dir);
    char *p = malloc(n + 1);
    if (!p)
        cli_die(CLI_EXIT_INTERNAL, "out of memory");
    memcpy(p, dir, n + 1);
    for (size_t i = 1; i <= n; i++) {
        if (p[i] != '/' && p[i] != '\0')
            continue;
        char c = p[i];
        p[i] = '\0';
        struct stat st;
        if (stat(p, &st) != 0) {
            if (mkdir(p, 0777) != 0 && errno != EEXIST)
                cli_die(CLI_EXIT_OUTPUT, "%s: cannot create the directory: %s", p, strerror(errno));
        } else if (!S_ISDIR(st.st_mode))
            cli_die(CLI_EXIT_OUTPUT, "%s: not a directory", p);
        p[i] = c;
    }
    free(p);
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

/* Writes dir/name through a temporary file renamed into place; returns the final path (malloc'd). */
static char *write_file(const char *dir, const char *name, writer_fn fn, const rp_report *rep)
{
    size_t n = strlen(dir) + strlen(name) + 64;
    char *path = malloc(n), *tmp = malloc(n);
    if (!path || !tmp)
        cli_die(CLI_EXIT_INTERNAL, "out of memory");
    snprintf(path, n, "%s/%s", dir, name);
    snprintf(tmp, n, "%s/.%s.%ld.tmp", dir, name, (long)getpid());
    FILE *f = fopen(tmp, "w");
    if (!f)
        cli_die(CLI_EXIT_OUTPUT, "%s: cannot create: %s", path, strerror(errno));
    int rc = fn(f, rep);
    int bad = ferror(f) != 0;
    int e = errno;
    if (fclose(f) != 0 && !bad) {
        bad = 1;
        e = errno;
    }
    if (rc != 0) {
        unlink(tmp);
        cli_die(CLI_EXIT_INTERNAL, "out of memory while writing %s", path);
    }
    if (bad) {
        unlink(tmp);
        cli_die(CLI_EXIT_OUTPUT, "%s: write failed: %s", path, strerror(e ? e : EIO));
    }
    if (rename(tmp, path) != 0) {
        e = errno;
        unlink(tmp);
        cli_die(CLI_EXIT_OUTPUT, "%s: cannot replace: %s", path, strerror(e));
    }
    free(tmp);
    return path;
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
    run_args ra;
    memset(&ra, 0, sizeof ra);
    ra.o = (tt_diff_options)TT_DIFF_OPTIONS_INIT;
    ra.lf = tt_filter_new();
    ra.rf = tt_filter_new();
    ra.tols = tt_diff_tols_new();
    if (!ra.lf || !ra.rf || !ra.tols)
        cli_die(CLI_EXIT_INTERNAL, "out of memory");
    const char *outdir = NULL, *title = NULL;
    int compare = 0, run = 0, c;
    while ((c = getopt_long(argc, argv, "o:hV", long_opts, NULL)) != -1) {
        if (c >= OPT_LEFT && !ra.first_opt)
            ra.first_opt = argv[optind - 1 - (optarg && optarg == argv[optind - 1])];
        switch (c) {
        case 'o': outdir = optarg; break;
        case OPT_TITLE: title = optarg; break;
        case OPT_COMPARE: compare = 1; break;
        case OPT_RUN: run = 1; break;
        case OPT_LEFT: add_cond(ra.lf, "left", optarg, ra.lconds, &ra.nl); break;
        case OPT_RIGHT: add_cond(ra.rf, "right", optarg, ra.rconds, &ra.nr); break;
        case OPT_WHERE:
            add_cond(ra.lf, "where", optarg, ra.lconds, &ra.nl);
            add_cond(ra.rf, "where", optarg, ra.rconds, &ra.nr);
            break;
        case OPT_KEY: ra.o.key = optarg; break;
        case OPT_ALIGN:
            if (strcmp(optarg, "none") == 0)
                ra.o.align = TT_DIFF_ALIGN_NONE;
            else if (strcmp(optarg, "pos") == 0)
                ra.o.align = TT_DIFF_ALIGN_POS;
            else
                cli_die(CLI_EXIT_USAGE, "option --align: '%s' is not none or pos", optarg);
            break;
        case OPT_STAGES: ra.o.stages = strcmp(optarg, "capture") == 0 ? "" : optarg; break;
        case OPT_CACHE: ra.o.cache_points = optarg; break;
        case OPT_MODE: {
            tt_diff_mode m;
            if (tt_diff_mode_from_name(optarg, &m) != TT_OK)
                cli_die(CLI_EXIT_USAGE, "option --mode: '%s' is not numeric, as_designed or kv_aligned", optarg);
            if (m == TT_DIFF_MODE_DEFAULT)
                m = TT_DIFF_NUMERIC;
            for (int i = 0; i < ra.nmodes; i++)
                if (ra.modes[i] == m)
                    cli_die(CLI_EXIT_USAGE, "option --mode: '%s' given twice", optarg);
            ra.modes[ra.nmodes++] = m;
            break;
        }
        case OPT_TOL:
            if (ra.ntol == MAX_TOLS)
                cli_die(CLI_EXIT_USAGE, "option --tol: more than %d given", MAX_TOLS);
            ra.tol_specs[ra.ntol++] = optarg;
            break;
        case OPT_TOLFILE: ra.tolfile = optarg; break;
        case OPT_JRATIO:
            ra.o.jump_ratio = cli_parse_double("jump-ratio", optarg);
            if (!(ra.o.jump_ratio > 1))
                cli_die(CLI_EXIT_USAGE, "option --jump-ratio: '%s' must be above 1", optarg);
            break;
        case OPT_JFLOOR:
            ra.o.jump_floor = cli_parse_double("jump-floor", optarg);
            if (!(ra.o.jump_floor > 0))
                cli_die(CLI_EXIT_USAGE, "option --jump-floor: '%s' must be above 0", optarg);
            break;
        case OPT_VERIFY: ra.o.verify_identical = 1; break;
        case OPT_THREADS: ra.o.threads = (uint32_t)cli_parse_u64("threads", optarg, 1, 16); break;
        case OPT_TOPK: ra.o.topk = (uint32_t)cli_parse_u64("topk", optarg, 1, 1024); break;
        case 'h':
        case 'V':
            if (c == 'h')
                usage(stdout);
            else
                cli_print_version();
            tt_filter_free(ra.lf);
            tt_filter_free(ra.rf);
            tt_diff_tols_free(ra.tols);
            return CLI_EXIT_OK;
        default: cli_die(CLI_EXIT_USAGE, "try --help");
        }
    }
    int nin = argc - optind;
    if (run && compare)
        cli_die(CLI_EXIT_USAGE, "--run and --compare do not go together (compare two JSON results)");
    if (!run && ra.first_opt)
        cli_die(CLI_EXIT_USAGE, "option %s is a diff option: it needs --run (a JSON result is already diffed)",
                ra.first_opt);
    if (!outdir)
        cli_die(CLI_EXIT_USAGE, "missing -o DIR: the directory to write the report to (try --help)");
    if (nin < 1)
        cli_die(CLI_EXIT_USAGE, "missing %s (try --help)", run ? "the trace file(s)" : "the diff result (DIFF.json)");
    if (run && nin > 2)
        cli_die(CLI_EXIT_USAGE, "unexpected argument '%s': --run takes at most two trace files", argv[optind + 2]);
    if (compare && nin != 2)
        cli_die(CLI_EXIT_USAGE, "--compare takes exactly two diff results, BEFORE.json and AFTER.json (got %d)", nin);
    if (nin > MAX_INPUTS)
        cli_die(CLI_EXIT_USAGE, "more than %d diff results", MAX_INPUTS);

    rp_result *res[MAX_INPUTS];
    size_t nres = 0;
    if (run) {
        nres = run_diffs(&ra, argv[optind], nin == 2 ? argv[optind + 1] : NULL, res);
    } else {
        for (int i = 0; i < nin; i++) {
            char err[1024];
            int oom = 0;
            res[nres] = rp_load_json(argv[optind + i], err, sizeof err, &oom);
            if (!res[nres])
                cli_die(oom ? CLI_EXIT_INTERNAL : CLI_EXIT_USAGE, "%s", err);
            nres++;
        }
        for (size_t i = 1; i < nres && !compare; i++) {
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
    tt_filter_free(ra.lf);
    tt_filter_free(ra.rf);
    tt_diff_tols_free(ra.tols);

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

    make_dir(outdir);
    free(write_file(outdir, "report.md", md_writer, &rep));
    free(write_file(outdir, "report.tsv", tsv_writer, &rep));
    char *html = write_file(outdir, "report.html", rp_write_html, &rep);
    printf("%s\n", html);
    free(html);
    if (fflush(stdout) != 0)
        cli_die(CLI_EXIT_OUTPUT, "standard output: write failed");
    for (size_t i = 0; i < nres; i++)
        rp_result_free(res[i]);
    rp_arena_free(rep.a);
    return CLI_EXIT_OK;
}
