/*
 * trace2jsonl — writes a trace's records as the legacy JSONL "stage_trace" lines that the seeds' probe wrote
 * and old analysers read (one JSON object per line: event, prompt_id, phase, point, layer, step, pos_id,
 * seq_len, hash, min, max, mean and the pairing fields token_id, logical_tok_idx), so those analysers keep
 * running on new traces. --extra appends what the legacy format could not hold (dtype, shape, absmax, l2, NaN
 * and Inf counts, rank). The line layout is cli_buf_stage_trace()'s (tools/common).
 *
 * Speed matters (a million lines per second on one core): lines are formatted into one large buffer with the
 * hand-written number formatters of cli.h and handed to stdio in big writes.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "tt/reader.h"

#define FLUSH_AT (1u << 20) /* bytes of output collected before a write */

typedef struct options {
    const char *input;  /* the first trace given */
    cli_traces inputs;  /* every trace given: several are read as one (cli.h) */
    const char *output;
    tt_filter *where;
    unsigned flags;
    int quiet, force;
} options;

static void usage(void)
{
    printf("usage: %s [OPTIONS] TRACE...\n"
           "Writes one legacy JSONL \"stage_trace\" line per record of TRACE (\"-\" reads the trace from standard\n"
           "input), with the fields and types old analysers read: event, prompt_id, phase, point, layer, step,\n"
           "token_id, logical_tok_idx, pos_id, seq_len, hash (unsigned 64-bit, the record's XXH3-64 content hash),\n"
           "min, max, mean. token_id and logical_tok_idx are written only when set; hash and min/max/mean only\n"
           "when the record has them. Schema: schemas/stage_trace.schema.json.\n"
           "Several TRACEs or glob patterns (run-rank*.tt, quoted or not) are read as one trace: the per-rank\n"
           "files of one run, file after file in rank order (--extra writes each record's rank).\n"
           "\n"
           "Options:\n"
           "  -o, --output FILE   write to FILE (default \"-\": standard output); an existing FILE is replaced\n"
           "                      only with --force\n"
           "  -f, --force         replace FILE if it exists\n"
           "  -w, --where COND    only records matching COND; repeatable, all must match. COND is FIELD=V1,V2,\n"
           "                      FIELD!=V or an integer range (layer=0-3,8). Fields: prompt_id phase point layer\n"
           "                      step token_id logical_tok_idx pos_id rows (seq_len) rank dtype seq index\n"
           "      --extra         also write rank, dtype, shape, absmax, l2, nan_count, inf_count\n"
           "      --nan-as-null   write non-finite statistics as null (default NaN/Infinity/-Infinity, as\n"
           "                      Python's json module does; strict JSON parsers reject those)\n"
           "  -q, --quiet         no warning when the trace had to be recovered by scanning\n"
           "  -h, --help          this help\n"
           "  -V, --version       version\n"
           "\n"
           "Examples:\n"
           "  %s run.tt > run.jsonl\n"
           "  %s --where phase=decode0 --where layer=0-2 run.tt -o decode.jsonl\n"
           "\n" CLI_EXIT_HELP,
           cli_prog(), cli_prog(), cli_prog());
}

static void parse_args(int argc, char **argv, options *o)
{
    const char *v;
    int only_operands = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (only_operands || !cli_is_option(a)) {
            if (!o->input)
                o->input = a;
            cli_traces_add(&o->inputs, a);
        } else if (cli_common_option(argv, &i, &only_operands, usage)) {
            continue;
        } else if (cli_value(argc, argv, &i, "--output", "-o", &v)) {
            o->output = v;
        } else if (cli_value(argc, argv, &i, "--where", "-w", &v)) {
            cli_add_where(o->where, v);
        } else if (cli_flag(argv, &i, "--extra", NULL)) {
            o->flags |= CLI_SJ_EXTRA;
        } else if (cli_flag(argv, &i, "--nan-as-null", NULL)) {
            o->flags |= CLI_SJ_NAN_NULL;
        } else if (cli_flag(argv, &i, "--quiet", "-q")) {
            o->quiet = 1;
        } else if (cli_flag(argv, &i, "--force", "-f")) {
            o->force = 1;
        } else {
            cli_unknown_option(a);
        }
    }
    if (!o->input)
        cli_usage_error("no trace given");
}

/* Streams the matching records to out; returns the number written. */
static uint64_t convert(tt_reader *r, const options *o, FILE *out, const char *out_name)
{
    const tt_filter *f = tt_filter_empty(o->where) ? NULL : o->where;
    cli_buf b = {0};
    cli_buf_grow(&b, FLUSH_AT + 65536);
    cli_progress prog;
    cli_progress_start(&prog, "records", tt_reader_count(r));
    uint64_t cursor = 0, n = 0;
    tt_record rec;
    int rc;
    while ((rc = tt_reader_next(r, f, &cursor, &rec)) == 1) {
        cli_buf_stage_trace(&b, &rec, o->flags);
        n++;
        if (b.len >= FLUSH_AT) {
            cli_buf_write(&b, out, out_name);
            cli_progress_update(&prog, cursor);
        }
    }
    cli_buf_write(&b, out, out_name);
    cli_buf_free(&b);
    cli_progress_end(&prog);
    if (rc < 0)
        cli_reader_die(r, rc); /* a file output is removed: half a conversion is not kept */
    return n;
}

int main(int argc, char **argv)
{
    cli_init(argv[0]);
    options o = {0};
    o.where = tt_filter_new();
    if (!o.where)
        cli_die(CLI_EXIT_INTERNAL, "out of memory");
    parse_args(argc, argv, &o);
    cli_out *out = cli_out_declare(o.output ? o.output : "-", "-o", o.force ? CLI_OUT_FORCE : 0);
    tt_reader *r = cli_open_traces(&o.inputs, TT_RECOVER_AUTO, o.quiet);
    convert(r, &o, cli_out_open(out), cli_out_name(out));
    cli_out_commit(out);
    tt_reader_close(r);
    tt_filter_free(o.where);
    cli_traces_free(&o.inputs);
    return cli_finish(CLI_EXIT_OK);
}
