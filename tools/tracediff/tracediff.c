/*
 * tracediff.c — compares two runs (two files, or two sides of one file chosen by filters) with libtrace's diff
 * engine (tt/diff.h) and renders the answer: a one-screen summary on stdout, JSON (schemas/diff.schema.json),
 * the seeds' results table as TSV, a per-pair TSV, and calibrated tolerances. All the judging is in the library;
 * this file parses the command line and writes files. See README.md beside it.
 */
#define _POSIX_C_SOURCE 200809L
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "diffargs.h"
#include "render.h"
#include "tt/diff.h"
#include "tt/reader.h"

static void usage(FILE *f)
{
    fprintf(f,
            "usage: tracediff [options] LEFT [RIGHT]\n"
            "       tracediff [options] LEFT1 LEFT2 ... RIGHT\n"
            "       tracediff [options] --left-file F... --right-file F... \n"
            "\n"
            "LEFT or RIGHT \"-\" reads that trace from standard input. A side may be several files, the per-rank\n"
            "files of one run (read as one, in rank order): a quoted glob pattern is one side ('tp8-rank*.tt');\n"
            "with more than two operands (an unquoted pattern the shell expanded) the last is RIGHT and all the\n"
            "others are LEFT, as with cp and mv; --left-file/--right-file (repeatable, patterns too) name a\n"
            "side's files, the operands then go to the other side. Sharded records (tensor parallelism) are\n"
            "gathered before they are compared with an unsharded side (SPLIT shards concatenated, PARTIAL sums\n"
            "added in rank order); two sides with the same number of ranks pair rank by rank. A shard missing or\n"
            "held twice is a mismatch naming the rank; a finding on one rank names it.\n"
            "Pairs the records of two sides, compares every pair from its full tensors, finds the first real\n"
            "divergence in pipeline order and names its root cause. One file: the sides are chosen by --left and\n"
            "--right (without them: phase=prefill_last against phase=decode0). Two files: engine against\n"
            "reference, run A against run B. The right side is the reference.\n"
            "\n"
            "sides and pairing:\n"
            "  --left COND            condition on the left side's records (repeatable, all must hold),\n"
            "                         e.g. phase=prefill_last, layer=0-3, prompt_id!=p0_short\n"
            "  --right COND           the same for the right side\n"
            "  --where COND           a condition for both sides\n"
            "  --key FIELDS           pairing key (default " TT_DIFF_DEFAULT_KEY ",\n"
            "                         plus phase,step for two files without --left/--right)\n"
            "  --align none|pos       pos: multi-row records pair row by row with single-position records\n"
            "  --stages LIST          pipeline stage order (default: the seeds' list); 'capture' = capture order\n"
            "  --cache-points LIST    KV-cache points (default " TT_DIFF_DEFAULT_CACHE_POINTS ")\n"
            "  --left-file FILE       a file (or quoted pattern) of the left side; repeatable\n"
            "  --right-file FILE      a file (or quoted pattern) of the right side; repeatable\n"
            "\n"
            "judging:\n"
            "  --mode MODE            numeric (default), as_designed (legacy hash PASS/FAIL), kv_aligned\n"
            "                         (adds Q/K/V/softmax evidence and the KV-cache checks; N/A without them)\n"
            "  --tol POINT[@L]=R:A    tolerance for a point ('*' any point) at layer L (repeatable): rtol R,\n"
            "                         atol A (absolute) or Arms (times the reference's RMS), e.g. attn_out=1e-3:1e-3rms\n"
            "  --tol-file FILE        tolerances from a file (POINT LAYER RTOL ATOL lines; see README.md)\n"
            "  --calibrate FILE       write tolerances observed in this (known-good) comparison x --margin\n"
            "  --margin X             calibration margin (default 4)\n"
            "  --jump-ratio X         amplification bound: a stage's judged error above X times its inputs'\n"
            "                         is a mismatch (default 4)\n"
            "  --jump-floor X         fresh floor in units of the stage precision's epsilon: an error above it\n"
            "                         is a mismatch whatever the inputs (default 1 for 8/16-bit, 64 for f32/f64)\n"
            "  --stat-threshold T     |t| of a scale or offset fit that is a finding (default 10)\n"
            "  --allow-nonfinite      accept NaN/Inf that both sides hold at the same elements (default: any\n"
            "                         NaN/Inf is a mismatch, root cause NONFINITE)\n"
            "  --verify-identical     read and compare hash-equal pairs too\n"
            "  --threads N            comparison threads (default: online CPUs, at most 16)\n"
            "\n"
            "output:\n"
            "  --json FILE            every pair, the first failure and the evidence as JSON ('-' = stdout)\n"
            "  --tsv FILE             the seeds' results table: one row per prompt/token/position\n"
            "  --pairs-tsv FILE       one row per pair with its metrics\n"
            "  --topk N               worst elements kept for the first failure (default 16)\n"
            "  --worst N              worst pairs shown in the summary (default 5)\n"
            "  --plan                 print the plan of a second capture: the TT_TRACE_PROMPTS/PHASES/LAYERS/POINTS\n"
            "                         that capture in full only around the first divergence (diff cheap\n"
            "                         TT_TRACE_MODE=hash or stats traces first); also in the JSON (\"plan\")\n"
            "  -f, --force            replace output files that exist (without it, an existing file is an error)\n"
            "  -q, --quiet            no summary on stdout\n"
            "  -h, --help             this help\n"
            "  -V, --version          print the version\n"
            "\n"
            "Exit status: 0 identical or structural drift only, 1 mismatch (a bug), 2 usage or input error\n"
            "(unreadable or damaged file, a side that selects nothing, no pair, bad tolerance file) and N/A (kv_aligned\n"
            "without the evidence it needs), 3 output could not be written, 4 internal error (e.g. out of memory).\n");
}

enum { OPT_CALIB = 256, OPT_MARGIN, OPT_JSON, OPT_TSV, OPT_PTSV, OPT_WORST, OPT_PLAN };

static const struct option long_opts[] = {
    CLI_DIFF_LONG_OPTIONS,
    {"calibrate", required_argument, NULL, OPT_CALIB}, {"margin", required_argument, NULL, OPT_MARGIN},
    {"json", required_argument, NULL, OPT_JSON},       {"tsv", required_argument, NULL, OPT_TSV},
    {"pairs-tsv", required_argument, NULL, OPT_PTSV},  {"worst", required_argument, NULL, OPT_WORST},
    {"plan", no_argument, NULL, OPT_PLAN},
    {"quiet", no_argument, NULL, 'q'},                 {"force", no_argument, NULL, 'f'},
    {"help", no_argument, NULL, 'h'},
    {"version", no_argument, NULL, 'V'},               {NULL, 0, NULL, 0}};

/* The sides' conditions as the renderers show them. */
static void set_side(render_side *rs, const char *path, const char *const *conds, size_t n)
{
    rs->path = path;
    rs->nconds = 0;
    for (size_t i = 0; i < n && i < RENDER_MAX_CONDS; i++)
        rs->conds[rs->nconds++] = conds[i];
}

int main(int argc, char **argv)
{
    cli_init(argv[0]);
    cli_diff_args da;
    cli_diff_args_init(&da);
    render_opts ro;
    memset(&ro, 0, sizeof ro);
    ro.worst = 5;
    const char *json = NULL, *tsv = NULL, *ptsv = NULL, *calib = NULL;
    double margin = 4;
    int quiet = 0, force = 0, plan = 0, c;
    opterr = 0; /* unknown options are reported as every tool reports them (cli_getopt_fail) */
    while ((c = getopt_long(argc, argv, ":qfhV", long_opts, NULL)) != -1) {
        if (cli_diff_arg(&da, c, optarg))
            continue;
        switch (c) {
        case OPT_CALIB: calib = optarg; break;
        case OPT_MARGIN:
            margin = cli_parse_double("margin", optarg);
            if (!(margin > 0) || margin > 1e12)
                cli_die(CLI_EXIT_USAGE, "option --margin: '%s' is not a positive number", optarg);
            break;
        case OPT_JSON: json = optarg; break;
        case OPT_TSV: tsv = optarg; break;
        case OPT_PTSV: ptsv = optarg; break;
        case OPT_WORST: ro.worst = (int)cli_parse_u64("worst", optarg, 0, 100); break;
        case OPT_PLAN: plan = 1; break;
        case 'q': quiet = 1; break;
        case 'f': force = 1; break;
        case 'h':
            usage(stdout);
            cli_diff_args_free(&da);
            return cli_finish(CLI_EXIT_OK);
        case 'V':
            cli_print_version();
            cli_diff_args_free(&da);
            return cli_finish(CLI_EXIT_OK);
        default: cli_getopt_fail(argv, c, optopt);
        }
    }
    /* every output is checked against the inputs and each other before anything is written, and written under
     * a temporary name that replaces the file only once complete (outfile.h) */
    cli_diff_files files;
    cli_diff_args_files(&da, argv + optind, argc - optind, &files);
    const char *left = files.name[0], *right = files.one_file ? NULL : files.name[1];
    cli_input(da.tolfile);
    unsigned oflags = force ? CLI_OUT_FORCE : 0;
    cli_out *ojson = json ? cli_out_declare(json, "--json", oflags) : NULL;
    cli_out *otsv = tsv ? cli_out_declare(tsv, "--tsv", oflags) : NULL;
    cli_out *optsv = ptsv ? cli_out_declare(ptsv, "--pairs-tsv", oflags) : NULL;
    cli_out *ocal = calib ? cli_out_declare(calib, "--calibrate", oflags) : NULL;
    cli_diff_args_tols(&da);
    tt_diff_options o = da.o;
    cli_diff_files_resolve(&files);
    cli_raise_fd_limit();

    /* outputs are created before the work, so a bad path fails fast */
    FILE *fjson = ojson ? cli_out_open(ojson) : NULL;
    FILE *ftsv = otsv ? cli_out_open(otsv) : NULL;
    FILE *fptsv = optsv ? cli_out_open(optsv) : NULL;
    FILE *fcal = ocal ? cli_out_open(ocal) : NULL;

    tt_diff *d = NULL;
    int rc = cli_diff_run(&da, &files, &o, &d);
    if (rc != TT_OK) {
        char buf[1400];
        cli_error("%s", cli_input_msg(d && tt_diff_errmsg(d)[0] ? tt_diff_errmsg(d) : tt_strerror(rc), buf,
                                      sizeof buf));
        tt_diff_free(d);
        cli_diff_args_free(&da);
        cli_diff_files_free(&files);
        cli_out_failed();
        return rc == TT_E_NOMEM ? CLI_EXIT_INTERNAL : CLI_EXIT_USAGE;
    }
    tt_diff_overall v = tt_diff_overall_verdict(d);
    const char *const *lc, *const *rcs;
    size_t nlc, nrc;
    cli_diff_args_sides(&da, right == NULL, &lc, &nlc, &rcs, &nrc);
    set_side(&ro.side[0], left, lc, nlc);
    set_side(&ro.side[1], right ? right : left, rcs, nrc);
    if (fjson) {
        tt_diff_json_options jo = TT_DIFF_JSON_OPTIONS_INIT;
        jo.left_conds = lc, jo.left_nconds = nlc;
        jo.right_conds = rcs, jo.right_nconds = nrc;
        char *doc = NULL;
        if (tt_diff_json(d, &jo, &doc) != TT_OK)
            cli_die(CLI_EXIT_INTERNAL, "out of memory while writing the JSON");
        fputs(doc, fjson);
        free(doc);
        cli_out_commit(ojson);
    }
    if (ftsv) {
        render_tsv(d, ftsv);
        cli_out_commit(otsv);
    }
    if (fptsv) {
        render_pairs_tsv(d, fptsv);
        cli_out_commit(optsv);
    }
    if (fcal) {
        tt_diff_tols *cal = NULL;
        char *text = NULL;
        if (tt_diff_calibrate(d, margin, &cal) != TT_OK || tt_diff_tols_format(cal, &text) != TT_OK)
            cli_die(CLI_EXIT_INTERNAL, "out of memory while calibrating");
        tt_diff_counts cn;
        tt_diff_counts_get(d, &cn);
        if (cn.mismatch || cn.missing)
            cli_warn("calibrating from a comparison with %llu mismatching and %llu missing pairs: their errors are "
                     "taken as known-good noise", (unsigned long long)cn.mismatch, (unsigned long long)cn.missing);
        fprintf(fcal, "# calibrated by tracediff from %s vs %s, margin %g: atol = margin x (max |diff| / rms of the\n"
                      "# reference) observed, rtol = the dtype default; '*' rows hold the largest over the layers\n%s",
                left, right ? right : left, margin, text);
        free(text);
        tt_diff_tols_free(cal);
        cli_out_commit(ocal);
    }
    if (!quiet && !(json && strcmp(json, "-") == 0) && !(tsv && strcmp(tsv, "-") == 0) &&
        !(ptsv && strcmp(ptsv, "-") == 0) && !(calib && strcmp(calib, "-") == 0))
        render_text(d, &ro, stdout);
    if (plan && !(json && strcmp(json, "-") == 0) && !(tsv && strcmp(tsv, "-") == 0) &&
        !(ptsv && strcmp(ptsv, "-") == 0) && !(calib && strcmp(calib, "-") == 0))
        render_plan(d, stdout);
    if (v == TT_DIFF_NA)
        cli_error("N/A: %s", tt_diff_subcause(d) ? tt_diff_subcause(d) : "the trace lacks what this mode needs");
    tt_diff_free(d);
    cli_diff_args_free(&da);
    cli_diff_files_free(&files);
    switch (v) {
    case TT_DIFF_IDENTICAL:
    case TT_DIFF_STRUCTURAL_DRIFT: return cli_finish(CLI_EXIT_OK);
    case TT_DIFF_OVERALL_MISMATCH: return cli_finish(CLI_EXIT_FINDING);
    default: return cli_finish(CLI_EXIT_USAGE);
    }
}
