/*
 * jsonl2trace — imports legacy JSONL ("stage_trace" lines with a hash and min/max/mean, no tensor) into a trace
 * of metadata-only records, so that the new tools (tracedump, tracediff) read old runs. Each line becomes one
 * record stored with tt_put_record(): its key, its hash (TT_REC_HAS_HASH) and its statistics
 * (TT_REC_HAS_STATS: min/max/mean as given; absmax and l2 are 0 unless the line gives them, since the legacy
 * format never had them and inventing them would be a wrong answer); no dtype or shape unless given; seq is
 * the line number, so a record leads back to its line. trace2jsonl writes the same lines back.
 *
 * Bad lines: every message names the file, the line and (for syntax) the column. By default a bad line is
 * skipped, reported (the first few) and counted, and the import goes on; with --strict the first bad line stops
 * the import and no output is left behind.
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "legacy_line.h"
#include "tt/writer.h"

#define SHOWN_BAD_LINES 10 /* bad lines reported one by one before only counting */
#define MAX_LINE_BYTES (64u << 20) /* a longer line is not legacy JSONL (and would only exhaust memory) */
#define READ_CHUNK (1u << 16)
#define MAX_UNKNOWN_NAMES 16
#define CLI_STR2(x) #x
#define CLI_STR(x) CLI_STR2(x)

typedef struct options {
    const char *input;
    const char *output;
    cli_out *out; /* the trace, written to a temporary file until it is complete */
    int strict, force, quiet;
    const char **meta; /* KEY=VALUE */
    int nmeta;
} options;

/* The input, read line by line through one buffer that grows to the longest line (at most MAX_LINE_BYTES). */
typedef struct line_reader {
    int fd;
    char *buf;
    size_t cap, pos, len; /* buf[pos..len) not yet returned */
    int eof;
    uint64_t done; /* bytes returned so far */
} line_reader;

enum { LINE_OK = 1, LINE_END = 0, LINE_TOO_LONG = -1, LINE_NOMEM = -2, LINE_READ_ERROR = -3 };

typedef struct import_stats {
    uint64_t lines, records, blank, other_events, bad;
    uint64_t first_bad_line;
    char *unknown[MAX_UNKNOWN_NAMES]; /* ignored field names, first seen first */
    uint64_t unknown_lines[MAX_UNKNOWN_NAMES];
    int nunknown;
    uint64_t unknown_more; /* lines with ignored fields beyond the names kept */
} import_stats;

static void usage(void)
{
    printf("usage: %s [OPTIONS] [INPUT.jsonl] -o TRACE\n"
           "Imports legacy JSONL \"stage_trace\" lines (one JSON object per line with prompt_id, phase, point,\n"
           "layer, step, pos_id, seq_len, hash, min, max, mean and optionally token_id, logical_tok_idx) into a\n"
           "trace of hash/stats-only records. INPUT \"-\" or none reads standard input. Lines whose event is not\n"
           "\"stage_trace\" and blank lines are skipped; unknown fields are ignored (and listed in a note).\n"
           "hash is an unsigned 64-bit integer, read exactly; NaN, Infinity and -Infinity are accepted (Python's\n"
           "json writes them). The fields trace2jsonl --extra adds (rank, dtype, shape, absmax, l2, nan_count,\n"
           "inf_count) and those of tensor-parallel shards (shard_kind, shard_dim, shard_index, shard_count) are\n"
           "imported too. Schema: schemas/stage_trace.schema.json.\n"
           "\n"
           "Options:\n"
           "  -o, --output TRACE  the trace to write (required; a regular file, not \"-\")\n"
           "  -f, --force         replace TRACE if it exists\n"
           "      --strict        stop at the first bad line (exit 2), and refuse an input without any record;\n"
           "                      TRACE is then not written. By default bad lines are reported (the first %d),\n"
           "                      skipped and counted\n"
           "  -m, --meta KEY=VALUE  add file metadata (engine, model, commit, ...); repeatable\n"
           "  -q, --quiet         report bad lines only as a count\n"
           "  -h, --help          this help\n"
           "  -V, --version       version\n"
           "\n"
           "Errors name the place as FILE:LINE:COLUMN. The trace's metadata records source=legacy-jsonl and\n"
           "source_file; each record's seq is its line number.\n"
           "\n"
           "Examples:\n"
           "  %s b3_66.jsonl -o b3_66.tt\n"
           "  %s --strict --meta engine=greta --meta commit=56b755a run.jsonl -o run.tt\n"
           "\n" CLI_EXIT_HELP
           "Skipped bad lines alone do not make the exit status non-zero, unless no line at all could be read.\n",
           cli_prog(), SHOWN_BAD_LINES, cli_prog(), cli_prog());
}

static void parse_args(int argc, char **argv, options *o)
{
    const char *v;
    int only_operands = 0;
    o->meta = calloc((size_t)argc, sizeof *o->meta);
    if (!o->meta)
        cli_die(CLI_EXIT_INTERNAL, "out of memory");
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (only_operands || !cli_is_option(a)) {
            if (o->input)
                cli_usage_error("one input at a time ('%s' and '%s' given)", o->input, a);
            o->input = a;
        } else if (cli_common_option(argv, &i, &only_operands, usage)) {
            continue;
        } else if (cli_value(argc, argv, &i, "--output", "-o", &v)) {
            o->output = v;
        } else if (cli_value(argc, argv, &i, "--meta", "-m", &v)) {
            if (!strchr(v, '=') || v[0] == '=')
                cli_usage_error("--meta '%s': expected KEY=VALUE", v);
            o->meta[o->nmeta++] = v;
        } else if (cli_flag(argv, &i, "--strict", NULL)) {
            o->strict = 1;
        } else if (cli_flag(argv, &i, "--force", "-f")) {
            o->force = 1;
        } else if (cli_flag(argv, &i, "--quiet", "-q")) {
            o->quiet = 1;
        } else {
            cli_unknown_option(a);
        }
    }
    if (!o->output)
        cli_usage_error("no output trace given (-o TRACE)");
    if (!o->input)
        o->input = "-";
}

/* The writer's message, naming the trace as given rather than its temporary file. */
static const char *writer_msg(const tt_writer *w, const options *o, char *buf, size_t len)
{
    return w ? cli_out_msg(o->out, tt_writer_errmsg(w), buf, len) : "out of memory";
}

static tt_writer *open_trace(const options *o)
{
    tt_writer_options wo = TT_WRITER_OPTIONS_INIT;
    wo.ignore_env = 1; /* the import decides what is stored, not TT_TRACE_* */
    wo.overwrite = 1;  /* the temporary file cli_out_open() made */
    wo.threads = 1;    /* metadata-only records: nothing for workers to do */
    tt_writer *w = NULL;
    cli_out_open(o->out);
    int rc = tt_writer_open(&w, cli_out_path(o->out), &wo);
    if (rc != TT_OK) {
        char buf[1200];
        cli_error("%s", writer_msg(w, o, buf, sizeof buf));
        tt_writer_free(w);
        cli_die(rc == TT_E_NOMEM ? CLI_EXIT_INTERNAL : CLI_EXIT_OUTPUT, "%s not written", o->output);
    }
    char buf[256];
    const char *slash = strrchr(o->input, '/');
    tt_writer_set_meta(w, "source", "legacy-jsonl");
    tt_writer_set_meta(w, "source_file", strcmp(o->input, "-") == 0 ? "-" : slash ? slash + 1 : o->input);
    snprintf(buf, sizeof buf, "jsonl2trace %s", tt_version());
    tt_writer_set_meta(w, "converted_by", buf);
    for (int i = 0; i < o->nmeta; i++) {
        char *kv = strdup(o->meta[i]);
        if (!kv)
            cli_die(CLI_EXIT_INTERNAL, "out of memory");
        char *eq = strchr(kv, '=');
        *eq = '\0';
        if (tt_writer_set_meta(w, kv, eq + 1) != TT_OK)
            cli_usage_error("--meta '%.60s': %s", o->meta[i], tt_writer_errmsg(w));
        free(kv);
    }
    return w;
}

/* Fails the import: the writer stops, the temporary trace is removed, an existing TRACE is left as it was. */
static void abandon(tt_writer *w, const options *o, int code)
{
    tt_writer_free(w);
    cli_out_discard(o->out);
    cli_out_failed();
    exit(code);
}

/* The next line of the input (without its newline) in *line, *n. LINE_OK, LINE_END, or a failure. */
static int next_line(line_reader *L, const char **line, size_t *n)
{
    size_t scan = L->pos;
    for (;;) {
        const char *nl = L->len > scan ? memchr(L->buf + scan, '\n', L->len - scan) : NULL;
        if (nl || (L->eof && L->pos < L->len)) {
            size_t end = nl ? (size_t)(nl - L->buf) : L->len;
            *line = L->buf + L->pos;
            *n = end - L->pos;
            L->done += end - L->pos + (nl != NULL);
            L->pos = nl ? end + 1 : end;
            return LINE_OK;
        }
        if (L->eof)
            return LINE_END;
        if (L->len - L->pos > MAX_LINE_BYTES)
            return LINE_TOO_LONG;
        if (L->pos) { /* keep only the unfinished line */
            memmove(L->buf, L->buf + L->pos, L->len - L->pos);
            L->len -= L->pos;
            L->pos = 0;
        }
        scan = L->len;
        if (L->cap - L->len < READ_CHUNK) {
            size_t cap = L->cap ? 2 * L->cap : (1u << 20);
            if (cap > MAX_LINE_BYTES + 2 * READ_CHUNK)
                cap = MAX_LINE_BYTES + 2 * READ_CHUNK;
            char *b = realloc(L->buf, cap);
            if (!b)
                return LINE_NOMEM;
            L->buf = b;
            L->cap = cap;
        }
        ssize_t k = read(L->fd, L->buf + L->len, L->cap - L->len);
        if (k < 0 && errno == EINTR)
            continue;
        if (k < 0)
            return LINE_READ_ERROR;
        if (k == 0)
            L->eof = 1;
        L->len += (size_t)k;
    }
}

static void note_unknown(import_stats *st, const legacy_result *res, const char *name)
{
    int more = 0;
    for (int u = 0; u < res->nunknown; u++) {
        int k = 0;
        while (k < st->nunknown && strcmp(st->unknown[k], res->unknown[u]) != 0)
            k++;
        if (k == st->nunknown && k < MAX_UNKNOWN_NAMES) {
            st->unknown[k] = strdup(res->unknown[u]);
            if (!st->unknown[k])
                cli_die(CLI_EXIT_INTERNAL, "%s:%llu: out of memory", name, (unsigned long long)st->lines);
            st->nunknown++;
        }
        if (k < st->nunknown)
            st->unknown_lines[k]++;
        else
            more = 1;
    }
    st->unknown_more += (uint64_t)more;
}

static void bad_line(import_stats *st, const options *o, const char *name, uint64_t line, const char *err)
{
    st->bad++;
    if (!st->first_bad_line)
        st->first_bad_line = line;
    if (!o->quiet && st->bad <= SHOWN_BAD_LINES)
        cli_warn("%s:%llu%s (line skipped)", name, (unsigned long long)line, err);
}

/* A line that cannot be read: out of memory (exit 4), too long to be legacy JSONL or a read error (exit 2). */
static void line_failure(int rc, tt_writer *w, const options *o, const char *name, uint64_t line, size_t have)
{
    if (rc == LINE_NOMEM)
        cli_error("%s:%llu: out of memory reading the line (%zu bytes read of it)", name, (unsigned long long)line,
                  have);
    else if (rc == LINE_TOO_LONG)
        cli_error("%s:%llu: the line is longer than %u MiB: not legacy JSONL", name, (unsigned long long)line,
                  MAX_LINE_BYTES >> 20);
    else
        cli_error("%s: read error at line %llu: %s", name, (unsigned long long)line, strerror(errno));
    cli_error("stopped at line %llu; %s not written", (unsigned long long)line, o->output);
    abandon(w, o, rc == LINE_NOMEM ? CLI_EXIT_INTERNAL : CLI_EXIT_USAGE);
}

/* Reads every line of the input and stores its record. */
static void import(int fd, const char *name, tt_writer *w, const options *o, import_stats *st)
{
    legacy_parser p = {0};
    legacy_result res;
    line_reader in = {.fd = fd};
    char err[512];
    const char *line;
    size_t len;
    struct stat sb;
    cli_progress prog;
    cli_progress_start(&prog, "bytes", fstat(fd, &sb) == 0 && S_ISREG(sb.st_mode) ? (uint64_t)sb.st_size : 0);
    int lrc;
    while ((lrc = next_line(&in, &line, &len)) == LINE_OK) {
        st->lines++;
        size_t n = len;
        while (n && (line[n - 1] == '\n' || line[n - 1] == '\r'))
            n--;
        const char *s = line;
        if (st->lines == 1 && n >= 3 && memcmp(s, "\xef\xbb\xbf", 3) == 0) /* a UTF-8 byte order mark */
            s += 3, n -= 3;
        int rc = legacy_parse_line(&p, s, n, &res, err, sizeof err);
        if (rc == LEGACY_BLANK) {
            st->blank++;
            continue;
        }
        if (rc == LEGACY_NOMEM) {
            cli_error("%s:%llu: out of memory parsing the line (%zu bytes)", name, (unsigned long long)st->lines, n);
            cli_error("stopped at line %llu; %s not written", (unsigned long long)st->lines, o->output);
            free(in.buf);
            legacy_parser_free(&p);
            abandon(w, o, CLI_EXIT_INTERNAL);
        }
        if (rc == LEGACY_ERROR) {
            if (o->strict) {
                cli_error("%s:%llu%s", name, (unsigned long long)st->lines, err);
                cli_error("stopped at the first bad line (--strict); %s not written", o->output);
                free(in.buf);
                legacy_parser_free(&p);
                abandon(w, o, CLI_EXIT_USAGE);
            }
            bad_line(st, o, name, st->lines, err);
            continue;
        }
        if (rc == LEGACY_OTHER) { /* other events have fields of their own: not "unknown" */
            st->other_events++;
            continue;
        }
        note_unknown(st, &res, name);
        res.rec.seq = st->lines; /* the record leads back to its line */
        int prc = tt_put_record(w, &res.rec, NULL);
        if (prc < 0) {
            /* the line was checked, so this is the writer failing (disk full, memory...) */
            char buf[1200];
            cli_error("%s:%llu: cannot store the record: %s", name, (unsigned long long)st->lines,
                      writer_msg(w, o, buf, sizeof buf));
            free(in.buf);
            legacy_parser_free(&p);
            abandon(w, o, prc == TT_E_NOMEM ? CLI_EXIT_INTERNAL : CLI_EXIT_OUTPUT);
        }
        st->records++;
        if ((st->lines & 4095) == 0)
            cli_progress_update(&prog, in.done);
    }
    cli_progress_end(&prog);
    size_t have = in.len - in.pos;
    free(in.buf);
    legacy_parser_free(&p);
    if (lrc != LINE_END)
        line_failure(lrc, w, o, name, st->lines + 1, have);
}

static void report(const import_stats *st, const options *o, const char *name)
{
    if (st->nunknown) {
        char buf[1024];
        size_t off = 0;
        for (int k = 0; k < st->nunknown && off < sizeof buf; k++)
            off += (size_t)snprintf(buf + off, sizeof buf - off, "%s\"%s\" (%llu line%s)", k ? ", " : "",
                                    st->unknown[k], (unsigned long long)st->unknown_lines[k],
                                    st->unknown_lines[k] == 1 ? "" : "s");
        fprintf(stderr, "%s: note: %s: ignored unknown field%s %s%s\n", cli_prog(), name,
                st->nunknown == 1 ? "" : "s", buf, st->unknown_more ? " and others" : "");
    }
    if (st->other_events)
        fprintf(stderr, "%s: note: %s: skipped %llu line%s whose event is not \"stage_trace\"\n", cli_prog(), name,
                (unsigned long long)st->other_events, st->other_events == 1 ? "" : "s");
    if (st->bad && st->records)
        cli_warn("%s: skipped %llu bad line%s of %llu (first: line %llu)%s; %llu record%s written to %s", name,
                 (unsigned long long)st->bad, st->bad == 1 ? "" : "s", (unsigned long long)st->lines,
                 (unsigned long long)st->first_bad_line,
                 st->bad > SHOWN_BAD_LINES && !o->quiet ? " (only the first " CLI_STR(SHOWN_BAD_LINES) " shown)" : "",
                 (unsigned long long)st->records, st->records == 1 ? "" : "s", o->output);
    else if (st->bad)
        cli_warn("%s: skipped %llu bad line%s of %llu (first: line %llu)%s", name, (unsigned long long)st->bad,
                 st->bad == 1 ? "" : "s", (unsigned long long)st->lines, (unsigned long long)st->first_bad_line,
                 st->bad > SHOWN_BAD_LINES && !o->quiet ? " (only the first " CLI_STR(SHOWN_BAD_LINES) " shown)" : "");
}

int main(int argc, char **argv)
{
    cli_init(argv[0]);
    options o = {0};
    parse_args(argc, argv, &o);
    cli_input(o.input);
    o.out = cli_out_declare(o.output, "-o", CLI_OUT_TRACE | (o.force ? CLI_OUT_FORCE : 0));
    const char *name = strcmp(o.input, "-") == 0 ? "standard input" : o.input;
    int fd = cli_input_fd(o.input);
    tt_writer *w = open_trace(&o);
    import_stats st = {0};
    import(fd, name, w, &o, &st);
    if (fd != 0)
        close(fd);
    if (o.strict && st.records == 0) {
        cli_error("%s: no stage_trace record in %llu line%s (--strict refuses an empty import); %s not written",
                  name, (unsigned long long)st.lines, st.lines == 1 ? "" : "s", o.output);
        abandon(w, &o, CLI_EXIT_USAGE);
    }
    int rc = tt_writer_close(w);
    if (rc != TT_OK) {
        char buf[1200];
        cli_error("%s", writer_msg(w, &o, buf, sizeof buf));
        abandon(w, &o, rc == TT_E_NOMEM ? CLI_EXIT_INTERNAL : CLI_EXIT_OUTPUT);
    }
    tt_writer_free(w);
    free(o.meta);
    if (st.bad && st.records == 0) {
        report(&st, &o, name);
        for (int k = 0; k < st.nunknown; k++)
            free(st.unknown[k]);
        cli_error("%s: no line could be read as a stage_trace record; %s not written", name, o.output);
        cli_out_discard(o.out);
        cli_out_failed();
        return cli_finish(CLI_EXIT_USAGE);
    }
    cli_out_commit(o.out);
    report(&st, &o, name);
    if (st.records == 0)
        cli_warn("%s: no stage_trace record: %s holds none", name, o.output);
    for (int k = 0; k < st.nunknown; k++)
        free(st.unknown[k]);
    return cli_finish(CLI_EXIT_OK);
}
