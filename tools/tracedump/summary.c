/*
 * summary.c — tracedump's default output: what a trace holds, in one screen. File facts come from
 * tt_reader_info() (format, writer, footer state, counters); what the records hold (kinds, dtypes, prompts,
 * phases, points, layers, steps, bytes) from one pass over the records, so the summary also describes a
 * recovered file or a --where selection. Distinct values are kept in small hash sets: a trace may hold a
 * million records but only a few distinct prompts, and strings are compared by the reader's interned pointers.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tracedump.h"
#include "tt/dtype.h"

#define SHOW_VALUES 24 /* distinct values listed per line of the text summary */

/* A set of 64-bit values (interned string pointers or integers) that keeps first-insertion order. */
typedef struct vset {
    uint64_t *slots; /* open addressing */
    uint8_t *used;
    size_t cap;
    uint64_t *order;
    size_t n;
} vset;

static size_t vset_slot(const vset *s, uint64_t v)
{
    size_t h = (size_t)((v * 0x9E3779B97F4A7C15ull) >> 20) & (s->cap - 1);
    while (s->used[h] && s->slots[h] != v)
        h = (h + 1) & (s->cap - 1);
    return h;
}

static void vset_add(vset *s, uint64_t v)
{
    if (2 * (s->n + 1) > s->cap) {
        vset g = {0};
        g.cap = s->cap ? 2 * s->cap : 64;
        g.slots = malloc(g.cap * sizeof *g.slots);
        g.used = calloc(g.cap, 1);
        g.order = realloc(s->order, g.cap / 2 * sizeof *g.order);
        if (!g.slots || !g.used || !g.order)
            cli_die(CLI_EXIT_INTERNAL, "out of memory");
        g.n = s->n;
        for (size_t i = 0; i < g.n; i++) {
            size_t h = vset_slot(&g, g.order[i]);
            g.used[h] = 1;
            g.slots[h] = g.order[i];
        }
        free(s->slots);
        free(s->used);
        *s = g;
    }
    size_t h = vset_slot(s, v);
    if (s->used[h])
        return;
    s->used[h] = 1;
    s->slots[h] = v;
    s->order[s->n++] = v;
}

static void vset_free(vset *s)
{
    free(s->slots);
    free(s->used);
    free(s->order);
}

typedef struct tally {
    uint64_t records, full, stats, hash, meta, lost;
    uint64_t dtypes[TT_DTYPE_COUNT];
    uint64_t bytes_raw, bytes_stored;
    uint64_t time_min, time_max;
    vset prompts, phases, points, layers, steps;
} tally;

static void count_record(tally *t, const tt_record *rec)
{
    t->records++;
    const char *kind = td_kind(rec);
    if (kind[0] == 'f')
        t->full++, t->bytes_raw += rec->nbytes, t->bytes_stored += rec->stored_bytes;
    else if (kind[0] == 's')
        t->stats++;
    else if (kind[0] == 'h')
        t->hash++;
    else
        t->meta++;
    t->lost += (rec->flags & TT_REC_LOST) != 0;
    t->dtypes[(unsigned)rec->dtype < TT_DTYPE_COUNT ? rec->dtype : 0]++;
    if (rec->time_ns && (!t->time_min || rec->time_ns < t->time_min))
        t->time_min = rec->time_ns;
    if (rec->time_ns > t->time_max)
        t->time_max = rec->time_ns;
    vset_add(&t->prompts, (uint64_t)(uintptr_t)rec->key.prompt_id);
    vset_add(&t->phases, (uint64_t)(uintptr_t)rec->key.phase);
    vset_add(&t->points, (uint64_t)(uintptr_t)rec->key.point);
    vset_add(&t->layers, (uint64_t)(int64_t)rec->key.layer);
    vset_add(&t->steps, (uint64_t)(int64_t)rec->key.step);
}

static void tally_records(tt_reader *r, const td_options *o, tally *t)
{
    cli_progress prog;
    cli_progress_start(&prog, "records", tt_reader_count(r));
    uint64_t cursor = 0;
    tt_record rec;
    while (td_next(r, o, &cursor, &rec) == 1) {
        count_record(t, &rec);
        if ((t->records & 65535) == 0)
            cli_progress_update(&prog, cursor);
    }
    cli_progress_end(&prog);
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = (int64_t) * (const uint64_t *)a, y = (int64_t) * (const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* The integers of a set, sorted, as "-1, 0-2, 4, 8" (negative values stand alone). */
static void print_ranges(cli_buf *b, vset *s)
{
    if (s->n)
        qsort(s->order, s->n, sizeof *s->order, cmp_i64);
    for (size_t i = 0; i < s->n;) {
        size_t j = i;
        /* ranges only among non-negative values: "-1-2" would read badly */
        while (j + 1 < s->n && (int64_t)s->order[j + 1] == (int64_t)s->order[j] + 1 && (int64_t)s->order[j] >= 0)
            j++;
        cli_buf_printf(b, "%s%lld", i ? ", " : "", (long long)(int64_t)s->order[i]);
        if (j > i)
            cli_buf_printf(b, "%s%lld", j == i + 1 ? ", " : "-", (long long)(int64_t)s->order[j]);
        i = j + 1;
    }
    if (!s->n)
        cli_buf_puts(b, "-");
    cli_buf_puts(b, "\n");
}

static void print_strings(cli_buf *b, const char *label, const vset *s)
{
    cli_buf_printf(b, "%-10s", label);
    for (size_t i = 0; i < s->n && i < SHOW_VALUES; i++)
        cli_buf_printf(b, "%s%s", i ? ", " : "", (const char *)(uintptr_t)s->order[i]);
    if (s->n > SHOW_VALUES)
        cli_buf_printf(b, ", ... (%zu in all)", s->n);
    cli_buf_puts(b, s->n ? "\n" : "-\n");
}

static void text_file_facts(cli_buf *b, tt_reader *r, const td_options *o, const tt_file_info *in)
{
    char h1[32], t1[40], t2[40];
    cli_buf_printf(b, "%-10s%s (%s)\n", "file", o->input_name,
                   cli_human_bytes(in->file_size, h1, sizeof h1));
    size_t nf = tt_reader_file_count(r);
    for (size_t i = 0; nf > 1 && i < nf; i++) {
        int32_t rank = tt_reader_file_rank(r, i);
        if (rank == TT_UNSET)
            cli_buf_printf(b, "%-10s%s (no rank)\n", i ? "" : "files", cli_trace_name(tt_reader_file_path(r, i)));
        else
            cli_buf_printf(b, "%-10srank %d: %s\n", i ? "" : "files", (int)rank,
                           cli_trace_name(tt_reader_file_path(r, i)));
    }
    cli_buf_printf(b, "%-10s%u.%u, written by %s\n", "format", in->format_major, in->format_minor,
                   in->writer[0] ? in->writer : "(unknown)");
    cli_buf_printf(b, "%-10s%s, closed %s\n", "created", td_time(in->created_ns, t1, sizeof t1),
                   in->closed_ns ? td_time(in->closed_ns, t2, sizeof t2) : "- (not closed)");
    if (in->footer_intact)
        cli_buf_printf(b, "%-10sintact\n", "footer");
    else
        cli_buf_printf(b, "%-10sMISSING OR DAMAGED: recovered by scanning; %llu damaged frame(s) skipped, %llu "
                          "record(s) lost their tensor, whole frames end at offset %llu\n", "footer",
                       (unsigned long long)in->damaged_frames, (unsigned long long)in->lost_records,
                       (unsigned long long)in->scan_end);
    for (uint64_t i = 0; i < in->meta_count; i++) {
        const char *k, *v;
        if (tt_reader_meta(r, i, &k, &v) == TT_OK)
            cli_buf_printf(b, "%-10s%s=%s\n", i ? "" : "metadata", k, v);
    }
    if (!in->meta_count)
        cli_buf_printf(b, "%-10s-\n", "metadata");
}

static void text_summary(cli_buf *b, tt_reader *r, const td_options *o, const tt_file_info *in, tally *t)
{
    char h1[32], h2[32], t1[40], t2[40];
    text_file_facts(b, r, o, in);
    cli_buf_printf(b, "%-10s%llu", "records", (unsigned long long)t->records);
    if (o->where)
        cli_buf_printf(b, " of %llu (selected by --where)", (unsigned long long)in->record_count);
    cli_buf_printf(b, ": %llu with tensor, %llu stats-only, %llu hash-only", (unsigned long long)t->full,
                   (unsigned long long)t->stats, (unsigned long long)t->hash);
    if (t->meta)
        cli_buf_printf(b, ", %llu key-only", (unsigned long long)t->meta);
    if (t->lost)
        cli_buf_printf(b, "; %llu LOST (tensor damaged or missing)", (unsigned long long)t->lost);
    cli_buf_printf(b, "\n%-10s%llu record batch(es), %llu payload frame(s)\n", "frames",
                   (unsigned long long)in->batch_count, (unsigned long long)in->payload_frame_count);
    cli_buf_printf(b, "%-10s", "dtypes");
    int any = 0;
    for (int d = 1; d <= TT_DTYPE_COUNT; d++) { /* unknown (0) last */
        int dt = d % TT_DTYPE_COUNT;
        if (t->dtypes[dt])
            cli_buf_printf(b, "%s%s %llu", any++ ? ", " : "", tt_dtype_name((tt_dtype)dt),
                           (unsigned long long)t->dtypes[dt]);
    }
    cli_buf_puts(b, any ? "\n" : "-\n");
    print_strings(b, "prompts", &t->prompts);
    print_strings(b, "phases", &t->phases);
    print_strings(b, "points", &t->points);
    cli_buf_printf(b, "%-10s", "layers");
    print_ranges(b, &t->layers);
    cli_buf_printf(b, "%-10s", "steps");
    print_ranges(b, &t->steps);
    cli_buf_printf(b, "%-10s%s .. %s\n", "captured", td_time(t->time_min, t1, sizeof t1),
                   td_time(t->time_max, t2, sizeof t2));
    cli_buf_printf(b, "%-10sraw %s, stored %s", "tensors", cli_human_bytes(t->bytes_raw, h1, sizeof h1),
                   cli_human_bytes(t->bytes_stored, h2, sizeof h2));
    if (t->bytes_stored)
        cli_buf_printf(b, " (ratio %.2f)\n", (double)t->bytes_raw / (double)t->bytes_stored);
    else
        cli_buf_puts(b, "\n");
    const tt_writer_counters *c = &in->counters;
    if (in->counters_known)
        cli_buf_printf(b, "%-10sputs %llu, written %llu, filtered %llu, dropped %llu, errors %llu%s\n", "writer",
                       (unsigned long long)c->puts, (unsigned long long)c->written, (unsigned long long)c->filtered,
                       (unsigned long long)c->dropped, (unsigned long long)c->errors,
                       c->dropped ? "  <- records were DROPPED (in-flight limit, drop policy)" : "");
    else
        cli_buf_printf(b, "%-10scounters unknown\n", "writer");
}

/* ---- JSON ---------------------------------------------------------------------------------------------------- */

static void json_u64(cli_buf *b, const char *key, uint64_t v, int comma)
{
    cli_buf_printf(b, "%s\"%s\": %llu", comma ? ", " : "", key, (unsigned long long)v);
}

static void json_strings(cli_buf *b, const char *key, const vset *s)
{
    cli_buf_printf(b, ", \"%s\": [", key);
    for (size_t i = 0; i < s->n; i++) {
        if (i)
            cli_buf_puts(b, ", ");
        cli_buf_json_str(b, (const char *)(uintptr_t)s->order[i]);
    }
    cli_buf_puts(b, "]");
}

static void json_ints(cli_buf *b, const char *key, vset *s)
{
    if (s->n)
        qsort(s->order, s->n, sizeof *s->order, cmp_i64);
    cli_buf_printf(b, ", \"%s\": [", key);
    for (size_t i = 0; i < s->n; i++)
        cli_buf_printf(b, "%s%lld", i ? ", " : "", (long long)(int64_t)s->order[i]);
    cli_buf_puts(b, "]");
}

static void json_summary(cli_buf *b, tt_reader *r, const td_options *o, const tt_file_info *in, tally *t)
{
    cli_buf_puts(b, "{\"file\": ");
    cli_buf_json_str(b, o->input_name);
    size_t nf = tt_reader_file_count(r);
    if (nf > 1) {
        cli_buf_puts(b, ", \"files\": [");
        for (size_t i = 0; i < nf; i++) {
            cli_buf_puts(b, i ? ", {\"path\": " : "{\"path\": ");
            cli_buf_json_str(b, cli_trace_name(tt_reader_file_path(r, i)));
            cli_buf_printf(b, ", \"rank\": %d}", (int)tt_reader_file_rank(r, i));
        }
        cli_buf_puts(b, "]");
    }
    json_u64(b, "file_size", in->file_size, 1);
    cli_buf_printf(b, ", \"format\": \"%u.%u\", \"writer\": ", in->format_major, in->format_minor);
    cli_buf_json_str(b, in->writer);
    json_u64(b, "created_ns", in->created_ns, 1);
    json_u64(b, "closed_ns", in->closed_ns, 1);
    cli_buf_printf(b, ", \"footer_intact\": %s", in->footer_intact ? "true" : "false");
    json_u64(b, "damaged_frames", in->damaged_frames, 1);
    cli_buf_puts(b, ", \"metadata\": {");
    for (uint64_t i = 0; i < in->meta_count; i++) {
        const char *k, *v;
        if (tt_reader_meta(r, i, &k, &v) != TT_OK)
            continue;
        if (i)
            cli_buf_puts(b, ", ");
        cli_buf_json_str(b, k);
        cli_buf_puts(b, ": ");
        cli_buf_json_str(b, v);
    }
    cli_buf_puts(b, "}, \"records\": {");
    json_u64(b, "total", in->record_count, 0);
    json_u64(b, "selected", t->records, 1);
    json_u64(b, "full", t->full, 1);
    json_u64(b, "stats_only", t->stats, 1);
    json_u64(b, "hash_only", t->hash, 1);
    json_u64(b, "key_only", t->meta, 1);
    json_u64(b, "lost", t->lost, 1);
    cli_buf_puts(b, "}, \"frames\": {");
    json_u64(b, "batches", in->batch_count, 0);
    json_u64(b, "payload", in->payload_frame_count, 1);
    cli_buf_puts(b, "}, \"dtypes\": {");
    int any = 0;
    for (int d = 0; d < TT_DTYPE_COUNT; d++)
        if (t->dtypes[d])
            cli_buf_printf(b, "%s\"%s\": %llu", any++ ? ", " : "", tt_dtype_name((tt_dtype)d),
                           (unsigned long long)t->dtypes[d]);
    cli_buf_puts(b, "}");
    json_strings(b, "prompts", &t->prompts);
    json_strings(b, "phases", &t->phases);
    json_strings(b, "points", &t->points);
    json_ints(b, "layers", &t->layers);
    json_ints(b, "steps", &t->steps);
    cli_buf_puts(b, ", \"bytes\": {");
    json_u64(b, "raw", t->bytes_raw, 0);
    json_u64(b, "stored", t->bytes_stored, 1);
    if (t->bytes_stored) {
        char num[CLI_NUM_MAX + 1];
        num[cli_fmt_double(num, (double)t->bytes_raw / (double)t->bytes_stored)] = 0;
        cli_buf_printf(b, ", \"ratio\": %s", num);
    } else {
        cli_buf_puts(b, ", \"ratio\": null");
    }
    cli_buf_puts(b, "}, \"counters\": ");
    const tt_writer_counters *c = &in->counters;
    if (in->counters_known) {
        cli_buf_puts(b, "{");
        json_u64(b, "puts", c->puts, 0);
        json_u64(b, "filtered", c->filtered, 1);
        json_u64(b, "dropped", c->dropped, 1);
        json_u64(b, "written", c->written, 1);
        json_u64(b, "bytes_raw", c->bytes_raw, 1);
        json_u64(b, "bytes_stored", c->bytes_stored, 1);
        json_u64(b, "payload_frames", c->payload_frames, 1);
        json_u64(b, "batches", c->batches, 1);
        json_u64(b, "file_bytes", c->file_bytes, 1);
        json_u64(b, "errors", c->errors, 1);
        cli_buf_puts(b, "}");
    } else {
        cli_buf_puts(b, "null");
    }
    cli_buf_puts(b, "}\n");
}

int td_summary(tt_reader *r, const td_options *o)
{
    tt_file_info in;
    if (tt_reader_info(r, &in) != TT_OK)
        cli_reader_die(r, TT_E_INVAL);
    tally t;
    memset(&t, 0, sizeof t);
    tally_records(r, o, &t);
    cli_buf b = {0};
    if (o->json)
        json_summary(&b, r, o, &in, &t);
    else
        text_summary(&b, r, o, &in, &t);
    cli_buf_write(&b, stdout, NULL);
    cli_buf_free(&b);
    cli_close_out(stdout, "-");
    vset *sets[5] = {&t.prompts, &t.phases, &t.points, &t.layers, &t.steps};
    for (int i = 0; i < 5; i++)
        vset_free(sets[i]);
    return CLI_EXIT_OK;
}
