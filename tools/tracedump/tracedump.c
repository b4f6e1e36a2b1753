/*
 * tracedump.c — the command line of tracedump (see tracedump.h for the modes) and the small helpers the modes
 * share. With just a file, tracedump prints a summary a person reads in one screen; the options choose one
 * other mode. Modes are exclusive: asking for two is a usage error rather than a guess at which was meant.
 */
#define _POSIX_C_SOURCE 200809L
#include "tracedump.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static void usage(void)
{
    printf("usage: %s [OPTIONS] TRACE...\n"
           "Shows a trace: with no mode option, a one-screen summary (metadata, record and frame counts, prompts,\n"
           "phases, points and layers present, tensor bytes raw vs stored, writer counters, footer state).\n"
           "TRACE \"-\" reads the trace from standard input. Several TRACEs or glob patterns (run-rank*.tt, quoted\n"
           "or not) are read as one trace: the per-rank files of one run, records file after file in rank order;\n"
           "files of different runs, two files of one rank, a pattern matching nothing: exit 2 naming them.\n"
           "--verify checks each file; --recover takes one.\n"
           "\n"
           "Modes (one at a time):\n"
           "  -l, --list               one line per record (INDEX PROMPT PHASE POINT LAYER STEP TOKEN LTI POS ROWS\n"
           "                           TYPE KIND HASH MIN MAX MEAN; '-' = not set)\n"
           "  -s, --show [INDEX]       a tensor's values, printed like numpy (big tensors summarised with ...);\n"
           "                           the record is INDEX, or each record --where selects\n"
           "      --verify             check every checksum and content hash; exit 1 on damage\n"
           "      --recover -o FILE    write a clean copy of a damaged TRACE with every record that survived\n"
           "      --export-npy PATH    selected tensors as .npy: PATH is the file when one tensor is selected, or\n"
           "                           a directory (existing, or ending in '/') for one INDEX_NAME.npy each.\n"
           "                           bf16 is written as uint16 and fp8 types as uint8 (numpy has no such types)\n"
           "      --export-safetensors FILE  selected tensors in one safetensors file, named\n"
           "                           PROMPT/PHASE/L<layer>/POINT (#INDEX added when names repeat)\n"
           "Selection and format:\n"
           "  -w, --where COND         only records matching COND; repeatable, all must match. COND is\n"
           "                           FIELD=V1,V2, FIELD!=V or an integer range (layer=0-3,8). Fields: prompt_id\n"
           "                           phase point layer step token_id logical_tok_idx pos_id rows (seq_len)\n"
           "                           rank dtype seq index\n"
           "  -n, --limit N            at most N records (list, show, exports)\n"
           "      --slice SPEC         with --show: per dimension START:STOP[:STEP], an INDEX or ':' (numpy\n"
           "                           rules, negative values count from the end), e.g. 0:4,0:8 or -1,:16\n"
           "      --threshold N        with --show: summarise tensors of more than N elements (default 1000)\n"
           "      --edge-items N       with --show: values kept at each edge when summarising (default 3)\n"
           "      --precision P        with --show: at most P digits after the point (numpy's precision, 8)\n"
           "  -j, --json               the summary, listing (JSON lines), values or verify report as JSON\n"
           "  -o, --output FILE        the file --recover writes\n"
           "  -f, --force              replace existing output files (without it an existing file is an error)\n"
           "  -q, --quiet              no warning when TRACE had to be recovered by scanning, no notes\n"
           "  -h, --help               this help\n"
           "  -V, --version            version\n"
           "\n"
           "Examples:\n"
           "  %s run.tt\n"
           "  %s --list --where point=attn_out --where layer=0 run.tt\n"
           "  %s --show 12 --slice 0:4,0:8 run.tt\n"
           "  %s --verify run.tt || %s --recover -o fixed.tt run.tt\n"
           "  %s --export-safetensors l0.safetensors --where layer=0 run.tt\n"
           "  %s --list --where point=q_pre_rope 'tp8-rank*.tt'\n"
           "\n" CLI_EXIT_HELP,
           cli_prog(), cli_prog(), cli_prog(), cli_prog(), cli_prog(), cli_prog(), cli_prog(), cli_prog());
}

static void set_mode(td_options *o, td_mode m, const char *flag)
{
    if (o->mode != MODE_SUMMARY && o->mode_flag && strcmp(o->mode_flag, flag) != 0)
        cli_usage_error("%s and %s cannot be used together", o->mode_flag, flag);
    o->mode = m;
    o->mode_flag = flag;
}

static int all_digits(const char *s)
{
    if (!*s)
        return 0;
    for (; *s; s++)
        if (*s < '0' || *s > '9')
            return 0;
    return 1;
}

/* The options that select or format records. Returns 1 when argv[*i] was one of them. */
static int parse_selection(int argc, char **argv, int *i, td_options *o)
{
    const char *v;
    if (cli_value(argc, argv, i, "--where", "-w", &v)) {
        if (!o->where && !(o->where = tt_filter_new()))
            cli_die(CLI_EXIT_INTERNAL, "out of memory");
        cli_add_where(o->where, v);
    } else if (cli_value(argc, argv, i, "--limit", "-n", &v)) {
        o->limit = cli_parse_u64("--limit", v, 0, UINT64_MAX);
    } else if (cli_value(argc, argv, i, "--slice", NULL, &v)) {
        o->slice = v;
    } else if (cli_value(argc, argv, i, "--threshold", NULL, &v)) {
        o->threshold = cli_parse_u64("--threshold", v, 0, UINT64_MAX);
    } else if (cli_value(argc, argv, i, "--edge-items", NULL, &v)) {
        o->edge = (int)cli_parse_u64("--edge-items", v, 1, 1000);
    } else if (cli_value(argc, argv, i, "--precision", NULL, &v)) {
        o->precision = (int)cli_parse_u64("--precision", v, 1, 17);
    } else {
        return 0;
    }
    return 1;
}

/* The mode options. Returns 1 when argv[*i] was one of them. */
static int parse_mode(int argc, char **argv, int *i, td_options *o)
{
    const char *v;
    if (cli_flag(argv, i, "--list", "-l")) {
        set_mode(o, MODE_LIST, "--list");
    } else if (strncmp(argv[*i], "--show=", 7) == 0) {
        set_mode(o, MODE_SHOW, "--show");
        o->show_index = (int64_t)cli_parse_u64("--show", argv[*i] + 7, 0, INT64_MAX);
    } else if (cli_flag(argv, i, "--show", "-s")) {
        set_mode(o, MODE_SHOW, "--show");
        /* an optional INDEX: the next argument when it is a number (a trace named "12" needs ./12) */
        if (*i + 1 < argc && all_digits(argv[*i + 1]))
            o->show_index = (int64_t)cli_parse_u64("--show", argv[++*i], 0, INT64_MAX);
        else if (*i + 1 < argc)
            o->show_next = argv[*i + 1];
    } else if (cli_flag(argv, i, "--verify", NULL)) {
        set_mode(o, MODE_VERIFY, "--verify");
    } else if (cli_flag(argv, i, "--recover", NULL)) {
        set_mode(o, MODE_RECOVER, "--recover");
    } else if (cli_value(argc, argv, i, "--export-npy", NULL, &v)) {
        set_mode(o, MODE_NPY, "--export-npy");
        o->export_path = v;
    } else if (cli_value(argc, argv, i, "--export-safetensors", NULL, &v)) {
        set_mode(o, MODE_SAFETENSORS, "--export-safetensors");
        o->export_path = v;
    } else {
        return 0;
    }
    return 1;
}

static void check_combinations(const td_options *o)
{
    if (!o->input)
        cli_usage_error("no trace given");
    if (o->mode == MODE_RECOVER && o->inputs.n > 1)
        cli_usage_error("--recover copies one trace (%zu given)", o->inputs.n);
    if (o->mode == MODE_RECOVER && !o->output)
        cli_usage_error("--recover needs -o FILE (the clean copy to write)");
    if (o->output && o->mode != MODE_RECOVER)
        cli_usage_error("-o is the output of --recover (exports take their path as their value)");
    if (o->slice && o->mode != MODE_SHOW)
        cli_usage_error("--slice goes with --show");
    if (o->json && (o->mode == MODE_RECOVER || o->mode == MODE_NPY || o->mode == MODE_SAFETENSORS))
        cli_usage_error("--json does not apply to %s", o->mode_flag);
    if (o->mode == MODE_SHOW && o->show_index < 0 && !o->where)
        cli_usage_error("--show needs a record: give its INDEX (--show 12) or select it with --where");
    if (o->mode == MODE_SHOW && o->show_index >= 0 && o->where)
        cli_usage_error("--show INDEX and --where select records two ways: use one");
}

static void parse_args(int argc, char **argv, td_options *o)
{
    int only_operands = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v;
        if (only_operands || !cli_is_option(a)) {
            if (o->input && o->show_next == o->input)
                cli_usage_error("--show %s: '%s' is not a record INDEX (a number: --show 12)", o->input, o->input);
            if (!o->input)
                o->input = a;
            cli_traces_add(&o->inputs, a);
        } else if (cli_common_option(argv, &i, &only_operands, usage)) {
            continue;
        } else if (parse_mode(argc, argv, &i, o) || parse_selection(argc, argv, &i, o)) {
            continue;
        } else if (cli_value(argc, argv, &i, "--output", "-o", &v)) {
            o->output = v;
        } else if (cli_flag(argv, &i, "--json", "-j")) {
            o->json = 1;
        } else if (cli_flag(argv, &i, "--force", "-f")) {
            o->force = 1;
        } else if (cli_flag(argv, &i, "--quiet", "-q")) {
            o->quiet = 1;
        } else {
            cli_unknown_option(a);
        }
    }
    check_combinations(o);
}

/* ---- helpers shared by the modes ---------------------------------------------------------------------------- */

const char *td_name(const tt_record *rec, char *buf, size_t len)
{
    const tt_key *k = &rec->key;
    if (k->layer == TT_UNSET)
        snprintf(buf, len, "%s/%s/%s", k->prompt_id, k->phase, k->point);
    else
        snprintf(buf, len, "%s/%s/L%d/%s", k->prompt_id, k->phase, (int)k->layer, k->point);
    return buf;
}

const char *td_shape(const tt_record *rec, char *buf, size_t len)
{
    size_t off = (size_t)snprintf(buf, len, "[");
    for (int i = 0; i < rec->ndim && off < len; i++)
        off += (size_t)snprintf(buf + off, len - off, "%s%llu", i ? ", " : "", (unsigned long long)rec->shape[i]);
    if (off < len)
        snprintf(buf + off, len - off, "]");
    return buf;
}

const char *td_kind(const tt_record *rec)
{
    if (rec->flags & TT_REC_HAS_PAYLOAD)
        return "full";
    if (rec->flags & TT_REC_HAS_STATS)
        return "stats";
    if (rec->flags & TT_REC_HAS_HASH)
        return "hash";
    return "meta";
}

const char *td_time(uint64_t ns, char *buf, size_t len)
{
    if (!ns) {
        snprintf(buf, len, "-");
        return buf;
    }
    time_t s = (time_t)(ns / 1000000000u);
    struct tm tm;
    gmtime_r(&s, &tm);
    size_t n = strftime(buf, len, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(buf + n, len - n, ".%03uZ", (unsigned)(ns / 1000000u % 1000u));
    return buf;
}

int td_next(tt_reader *r, const td_options *o, uint64_t *cursor, tt_record *rec)
{
    int rc = tt_reader_next(r, o->where, cursor, rec);
    if (rc < 0)
        cli_reader_die(r, rc);
    return rc;
}

/* Every output is checked against the input and for an existing file before anything is read or written; the
 * files of an export into a directory are known only once the records are selected (export.c). */
static void declare_outputs(td_options *o)
{
    unsigned force = o->force ? CLI_OUT_FORCE : 0;
    if (o->mode == MODE_RECOVER)
        o->out = cli_out_declare(o->output, "-o", CLI_OUT_TRACE | force);
    else if (o->mode == MODE_SAFETENSORS)
        o->out = cli_out_declare(o->export_path, "--export-safetensors", force);
    else if (o->mode == MODE_NPY && !td_npy_is_directory(o->export_path))
        o->out = cli_out_declare(o->export_path, "--export-npy", force);
}

int main(int argc, char **argv)
{
    cli_init(argv[0]);
    td_options o;
    memset(&o, 0, sizeof o);
    o.show_index = -1;
    o.limit = UINT64_MAX;
    o.edge = 3;
    o.threshold = 1000;
    o.precision = 8;
    parse_args(argc, argv, &o);
    declare_outputs(&o);
    int code = CLI_EXIT_OK;
    cli_traces_name(&o.inputs, o.input_name, sizeof o.input_name);
    if (o.mode == MODE_VERIFY) {
        /* each file on its own: damage is reported against the file that holds it */
        for (size_t i = 0; i < o.inputs.n; i++) {
            o.input = o.inputs.paths[i];
            int c = td_verify(&o);
            if (c > code)
                code = c;
        }
    } else if (o.mode == MODE_RECOVER) {
        code = td_recover(&o);
    } else {
        tt_reader *r = cli_open_traces(&o.inputs, TT_RECOVER_AUTO, o.quiet);
        switch (o.mode) {
        case MODE_LIST: code = td_list(r, &o); break;
        case MODE_SHOW: code = td_show(r, &o); break;
        case MODE_NPY: code = td_export_npy(r, &o); break;
        case MODE_SAFETENSORS: code = td_export_safetensors(r, &o); break;
        default: code = td_summary(r, &o); break;
        }
        tt_reader_close(r);
    }
    tt_filter_free(o.where);
    cli_traces_free(&o.inputs);
    return cli_finish(code);
}
