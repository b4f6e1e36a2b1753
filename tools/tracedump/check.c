/*
 * check.c — tracedump --verify and --recover.
 *
 * --verify opens the trace (by its footer, or by scanning when the footer is missing or damaged), runs
 * tt_reader_verify() (every frame checksum, every FlatBuffers object, every tensor inflated and re-hashed) and
 * prints each problem with its place. A missing footer is damage too. Exit 0 when the file is whole, 1 when it
 * is damaged (including a file so damaged that it cannot be opened), 2 when it is not a trace or unreadable.
 *
 * --recover writes a clean copy with every record that survived. The damaged file is opened in scanning mode
 * (TT_RECOVER_ALWAYS) even when its footer looks whole: a scan skips a damaged record batch and goes on, where
 * reading by the footer stops at it. Records are copied one by one with tt_put_record(), keeping seq, time and
 * metadata; a record whose tensor is missing or fails its checksum or content hash is left out and counted.
 * (tt_reader_copy() would do the copy, but it stops at the first tensor that fails to read, and a damaged
 * payload frame of an otherwise whole file is exactly what --recover is for.)
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tracedump.h"
#include "tt/dtype.h"

/* ---- --verify ------------------------------------------------------------------------------------------ */

#define SEEN_MAX 64

typedef struct verify_ctx {
    const td_options *o;
    cli_buf *b;
    uint64_t shown;
    uint64_t seen[SEEN_MAX]; /* hashes of the messages printed, to print each once */
    int nseen;
} verify_ctx;

/* Has this message been printed already? tt_reader_verify() reports a damaged payload frame twice: for the
 * record that reads it and again as a frame that no record reached. */
static int repeated(verify_ctx *v, const char *msg)
{
    uint64_t h = tt_hash(msg, strlen(msg));
    for (int i = 0; i < v->nseen; i++)
        if (v->seen[i] == h)
            return 1;
    if (v->nseen < SEEN_MAX)
        v->seen[v->nseen++] = h;
    return 0;
}

static int on_problem(void *ctx, const tt_problem *p)
{
    verify_ctx *v = ctx;
    if (repeated(v, p->message))
        return 0;
    if (v->o->json) {
        cli_buf_printf(v->b, "%s{\"status\": \"%s\", \"offset\": %llu, \"record\": ", v->shown ? ", " : "",
                       tt_status_name(p->status), (unsigned long long)p->offset);
        if (p->record >= 0)
            cli_buf_printf(v->b, "%lld", (long long)p->record);
        else
            cli_buf_puts(v->b, "null");
        cli_buf_puts(v->b, ", \"message\": ");
        cli_buf_json_str(v->b, p->message);
        cli_buf_puts(v->b, "}");
    } else {
        cli_buf_printf(v->b, "problem: %s\n", p->message);
    }
    v->shown++;
    return 0;
}

/* A file that cannot even be opened: damaged (exit 1) or not a trace at all (exit 2). */
static int verify_unopenable(const td_options *o, tt_reader *r, int rc)
{
    int damaged = rc == TT_E_CORRUPT || rc == TT_E_TRUNCATED || rc == TT_E_LIMIT;
    const char *msg = r ? tt_reader_errmsg(r) : "out of memory";
    if (o->json) {
        cli_buf b = {0};
        cli_buf_puts(&b, "{\"file\": ");
        cli_buf_json_str(&b, cli_trace_name(o->input));
        cli_buf_printf(&b, ", \"ok\": false, \"opened\": false, \"status\": \"%s\", \"message\": ",
                       tt_status_name(rc));
        cli_buf_json_str(&b, msg);
        cli_buf_puts(&b, "}\n");
        cli_buf_write(&b, stdout, NULL);
        cli_buf_free(&b);
    } else {
        printf("problem: %s\n", msg);
        printf("verify: %s: %s\n", cli_trace_name(o->input), damaged ? "DAMAGED beyond recovery" : "not readable");
    }
    cli_close_out(stdout, "-");
    if (!damaged)
        cli_error("%s", msg);
    tt_reader_close(r); /* msg points into it */
    return damaged ? CLI_EXIT_FINDING : (rc == TT_E_NOMEM ? CLI_EXIT_INTERNAL : CLI_EXIT_USAGE);
}

int td_verify(const td_options *o)
{
    struct stat st;
    if (strcmp(o->input, "-") == 0) /* damage must be reported against a file a person can look at */
        cli_usage_error("--verify reads a file, not standard input");
    if (stat(o->input, &st) == 0 && !S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode) && !S_ISBLK(st.st_mode))
        cli_usage_error("--verify reads a file: %s is not a regular file", o->input); /* a FIFO would hang */
    tt_reader *r = NULL;
    int rc = tt_reader_open(&r, o->input, NULL);
    if (rc != TT_OK)
        return verify_unopenable(o, r, rc);
    tt_file_info in;
    tt_reader_info(r, &in);
    char footer_why[1100];
    const char *why = tt_reader_errmsg(r);
    size_t pn = strlen(o->input);
    if (strncmp(why, o->input, pn) == 0 && strncmp(why + pn, ": ", 2) == 0)
        why += pn + 2; /* the report names the file already */
    snprintf(footer_why, sizeof footer_why, "%s", why);
    cli_buf b = {0};
    verify_ctx ctx = {o, &b, 0, {0}, 0};
    if (o->json) {
        cli_buf_puts(&b, "{\"file\": ");
        cli_buf_json_str(&b, o->input);
        cli_buf_puts(&b, ", \"problems\": [");
    }
    if (!in.footer_intact) {
        char msg[1200];
        snprintf(msg, sizeof msg, "footer missing or damaged (%s): the file was read by scanning its frames",
                 footer_why[0] ? footer_why : "no reason given");
        tt_problem p = {TT_E_CORRUPT, in.scan_end, -1, msg};
        on_problem(&ctx, &p);
    }
    tt_verify_result res;
    rc = tt_reader_verify(r, &res, on_problem, &ctx);
    if (rc != TT_OK && rc != TT_E_CORRUPT)
        cli_reader_die(r, rc);
    int ok = rc == TT_OK && in.footer_intact;
    char h[32];
    if (o->json) {
        cli_buf_printf(&b, "], \"ok\": %s, \"opened\": true, \"footer_intact\": %s, \"frames_checked\": %llu, "
                           "\"records_checked\": %llu, \"payload_bytes_checked\": %llu}\n",
                       ok ? "true" : "false", in.footer_intact ? "true" : "false",
                       (unsigned long long)res.frames_checked, (unsigned long long)res.records_checked,
                       (unsigned long long)res.payload_bytes_checked);
    } else {
        cli_buf_printf(&b, "verify: %s: %s: %llu record(s), %llu frame(s), %s of tensors re-hashed", o->input,
                       ok ? "OK" : "DAMAGED", (unsigned long long)res.records_checked,
                       (unsigned long long)res.frames_checked, cli_human_bytes(res.payload_bytes_checked, h, sizeof h));
        if (!ok)
            cli_buf_printf(&b, "; %llu problem(s)", (unsigned long long)ctx.shown);
        cli_buf_puts(&b, "\n");
    }
    cli_buf_write(&b, stdout, NULL);
    cli_buf_free(&b);
    cli_close_out(stdout, "-");
    tt_reader_close(r);
    return ok ? CLI_EXIT_OK : CLI_EXIT_FINDING;
}

/* ---- --recover ----------------------------------------------------------------------------------------- */

/* The writer's message, naming the copy as given rather than its temporary file. */
static const char *writer_msg(const td_options *o, const tt_writer *w, char *buf, size_t len)
{
    return w ? cli_out_msg(o->out, tt_writer_errmsg(w), buf, len) : "out of memory";
}

static tt_writer *open_copy(const td_options *o, const tt_file_info *in)
{
    tt_writer_options wo = TT_WRITER_OPTIONS_INIT;
    wo.ignore_env = 1;
    wo.overwrite = 1; /* the temporary file cli_out_open() made */
    /* the original chunking, when it is known and valid, so the copy reads the same way */
    if (in->chunk_bytes >= 4096 && in->chunk_bytes <= (64u << 20) && in->chunk_bytes % 16 == 0)
        wo.chunk_bytes = in->chunk_bytes;
    tt_writer *w = NULL;
    cli_out_open(o->out);
    int rc = tt_writer_open(&w, cli_out_path(o->out), &wo);
    if (rc != TT_OK) {
        char buf[1200];
        cli_error("%s", writer_msg(o, w, buf, sizeof buf));
        tt_writer_free(w);
        cli_die(rc == TT_E_NOMEM ? CLI_EXIT_INTERNAL : CLI_EXIT_OUTPUT, "%s not written", o->output);
    }
    return w;
}

static void copy_meta(tt_reader *r, tt_writer *w, const tt_file_info *in, const td_options *o)
{
    for (uint64_t i = 0; i < in->meta_count; i++) {
        const char *k, *v;
        if (tt_reader_meta(r, i, &k, &v) == TT_OK && tt_writer_set_meta(w, k, v) != TT_OK)
            cli_die(CLI_EXIT_OUTPUT, "%s: %s", o->output, tt_writer_errmsg(w));
    }
}

typedef struct recover_count {
    uint64_t copied, lost;
    uint64_t first_lost;
} recover_count;

/* Copies one record; a tensor that does not read back whole is counted as lost, not fatal. */
static void copy_record(tt_reader *r, tt_writer *w, const td_options *o, tt_record *rec, uint8_t **buf,
                        size_t *cap, recover_count *n)
{
    const void *data = NULL;
    if (rec->flags & TT_REC_HAS_PAYLOAD) {
        int rc = TT_E_CORRUPT;
        if (!(rec->flags & TT_REC_LOST)) {
            if (*cap < rec->nbytes + 1) {
                free(*buf);
                *cap = (size_t)rec->nbytes + 1;
                *buf = malloc(*cap);
                if (!*buf)
                    cli_die(CLI_EXIT_INTERNAL, "out of memory for a %llu-byte tensor", (unsigned long long)rec->nbytes);
            }
            rc = tt_reader_read(r, rec->index, *buf, *cap);
        }
        if (rc == TT_E_NOMEM || rc == TT_E_IO)
            cli_reader_die(r, rc);
        if (rc != TT_OK) {
            if (!n->lost++)
                n->first_lost = rec->index;
            if (!o->quiet) {
                char name[512];
                cli_warn("record %llu (%s) left out: %s", (unsigned long long)rec->index,
                         td_name(rec, name, sizeof name),
                         (rec->flags & TT_REC_LOST) ? "its payload frames are missing" : tt_reader_errmsg(r));
            }
            return;
        }
        data = *buf;
    }
    int rc = tt_put_record(w, rec, data);
    char msg[1200];
    if (rc < 0)
        cli_die(rc == TT_E_NOMEM ? CLI_EXIT_INTERNAL : CLI_EXIT_OUTPUT, "%s: record %llu: %s", o->output,
                (unsigned long long)rec->index, writer_msg(o, w, msg, sizeof msg));
    n->copied++;
}

int td_recover(const td_options *o)
{
    tt_reader *r = cli_open_trace(o->input, TT_RECOVER_ALWAYS, 1);
    tt_file_info in;
    tt_reader_info(r, &in);
    if (in.record_count == 0) { /* nothing survived: a finding, and no empty copy to mistake for the run */
        tt_reader_close(r);
        cli_die(CLI_EXIT_FINDING, "%s: no record could be recovered (%llu damaged frame(s) skipped); %s not written",
                cli_trace_name(o->input), (unsigned long long)in.damaged_frames, o->output);
    }
    tt_writer *w = open_copy(o, &in);
    copy_meta(r, w, &in, o);
    recover_count n = {0, 0, 0};
    uint8_t *buf = NULL;
    size_t cap = 0;
    uint64_t cursor = 0;
    tt_record rec;
    cli_progress prog;
    cli_progress_start(&prog, "records", in.record_count);
    while (td_next(r, o, &cursor, &rec) == 1) {
        copy_record(r, w, o, &rec, &buf, &cap, &n);
        cli_progress_update(&prog, cursor);
    }
    cli_progress_end(&prog);
    free(buf);
    int rc = tt_writer_close(w);
    if (rc != TT_OK) {
        char msg[1200];
        cli_error("%s", writer_msg(o, w, msg, sizeof msg));
        tt_writer_free(w);
        cli_die(rc == TT_E_NOMEM ? CLI_EXIT_INTERNAL : CLI_EXIT_OUTPUT, "%s not written", o->output);
    }
    tt_writer_free(w);
    if (n.copied == 0) {
        tt_reader_close(r);
        cli_die(CLI_EXIT_FINDING, "%s: no record could be copied (%llu left out: tensor missing or damaged); %s not "
                "written", cli_trace_name(o->input), (unsigned long long)n.lost, o->output);
    }
    cli_out_commit(o->out);
    printf("recover: %s -> %s: %llu record(s) copied, %llu left out (tensor missing or damaged), %llu damaged "
           "frame(s) skipped\n",
           cli_trace_name(o->input), o->output, (unsigned long long)n.copied, (unsigned long long)n.lost,
           (unsigned long long)in.damaged_frames);
    cli_close_out(stdout, "-");
    tt_reader_close(r);
    return CLI_EXIT_OK;
}
