/*
 * listing.c — tracedump --list: one line per record, in capture order, filtered by --where. The text form is
 * aligned columns for a person (the string columns are as wide as the longest prompt, phase and point in the
 * file, which the reader knows without a pass over the records); --json writes JSON lines: the trace2jsonl
 * fields with --extra, plus what the reader knows (index, seq, payload, lost, nbytes, stored_bytes).
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <string.h>

#include "tracedump.h"
#include "tt/dtype.h"

#define FLUSH_AT (1u << 20)

/* Width of the string columns: the longest distinct string of the file, within limits. */
static int string_width(const tt_reader *r)
{
    const char *const *strs;
    uint64_t n;
    size_t w = 6;
    if (tt_reader_strings(r, &strs, &n) == TT_OK)
        for (uint64_t i = 0; i < n; i++)
            if (strlen(strs[i]) > w)
                w = strlen(strs[i]);
    return w > 40 ? 40 : (int)w;
}

/* An integer key field, "-" when unset. */
static const char *opt_int(int32_t v, char *buf, size_t len)
{
    if (v == TT_UNSET)
        snprintf(buf, len, "-");
    else
        snprintf(buf, len, "%d", (int)v);
    return buf;
}

static void text_line(cli_buf *b, const tt_record *rec, int sw)
{
    const tt_key *k = &rec->key;
    char l[16], s[16], t[16], x[16], p[16], rw[16], shape[200], type[240];
    td_shape(rec, shape, sizeof shape);
    if (rec->dtype == TT_DTYPE_UNKNOWN && rec->ndim == 0)
        snprintf(type, sizeof type, "-");
    else
        snprintf(type, sizeof type, "%s%s", tt_dtype_name(rec->dtype), shape);
    cli_buf_printf(b, "%6llu  %-*s  %-*s  %-*s  %5s %4s %6s %5s %5s %5s  %-14s %-5s", (unsigned long long)rec->index,
                   sw, k->prompt_id, sw, k->phase, sw, k->point, opt_int(k->layer, l, sizeof l),
                   opt_int(k->step, s, sizeof s), opt_int(k->token_id, t, sizeof t),
                   opt_int(k->logical_tok_idx, x, sizeof x), opt_int(k->pos_id, p, sizeof p),
                   opt_int(k->rows, rw, sizeof rw), type, (rec->flags & TT_REC_LOST) ? "LOST" : td_kind(rec));
    if (rec->flags & TT_REC_HAS_HASH)
        cli_buf_printf(b, "  %20llu", (unsigned long long)rec->hash);
    else
        cli_buf_printf(b, "  %20s", "-");
    if (rec->flags & TT_REC_HAS_STATS)
        cli_buf_printf(b, "  %12.6g %12.6g %12.6g", rec->stats.min, rec->stats.max, rec->stats.mean);
    /* tensor-parallel records say whose and which part they are; other lines keep their columns */
    if (k->rank != 0 || k->shard_kind != TT_SHARD_NONE)
        cli_buf_printf(b, "  rank %d", (int)k->rank);
    if (k->shard_kind == TT_SHARD_SPLIT)
        cli_buf_printf(b, " split dim %d: %d/%d", (int)k->shard_dim, (int)k->shard_index, (int)k->shard_count);
    else if (k->shard_kind != TT_SHARD_NONE)
        cli_buf_printf(b, " %s %d/%d", tt_shard_kind_name(k->shard_kind), (int)k->shard_index,
                       (int)k->shard_count);
    cli_buf_puts(b, "\n");
}

int td_list(tt_reader *r, const td_options *o)
{
    cli_buf b = {0};
    int sw = string_width(r);
    if (!o->json)
        cli_buf_printf(&b, "%6s  %-*s  %-*s  %-*s  %5s %4s %6s %5s %5s %5s  %-14s %-5s  %20s  %12s %12s %12s\n",
                       "INDEX", sw, "PROMPT", sw, "PHASE", sw, "POINT", "LAYER", "STEP", "TOKEN", "LTI", "POS",
                       "ROWS", "TYPE", "KIND", "HASH", "MIN", "MAX", "MEAN");
    uint64_t cursor = 0, n = 0;
    tt_record rec;
    while (n < o->limit && td_next(r, o, &cursor, &rec) == 1) {
        if (o->json)
            cli_buf_stage_trace(&b, &rec, CLI_SJ_EXTRA | CLI_SJ_READER);
        else
            text_line(&b, &rec, sw);
        n++;
        if (b.len >= FLUSH_AT)
            cli_buf_write(&b, stdout, NULL);
    }
    cli_buf_write(&b, stdout, NULL);
    cli_buf_free(&b);
    cli_close_out(stdout, "-");
    return CLI_EXIT_OK;
}
