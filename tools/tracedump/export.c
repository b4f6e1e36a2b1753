/*
 * export.c — tracedump --export-npy and --export-safetensors: the selected tensors in the two formats the
 * Python world loads without tensortrace.
 *
 * .npy (format 1.0): one file per tensor. PATH is the file when exactly one tensor is selected; when PATH is a
 * directory (it exists, or its name ends with '/'), one INDEX_NAME.npy per tensor is written in it; several
 * tensors and a PATH that is not a directory is a usage error rather than a guess. numpy has no bfloat16 nor
 * fp8, so bf16 is written as '<u2' and the fp8 types as '|u1' (the raw bits; a note on stderr says how to
 * decode them: for bf16, (a.astype(np.uint32) << 16).view(np.float32)).
 *
 * safetensors: one file, every selected tensor, named PROMPT/PHASE/L<layer>/POINT (#INDEX appended to every
 * name of a group that would repeat). dtypes map to F32 F16 BF16 F64 I8 U8 I16 I32 I64 F8_E4M3 F8_E5M2; the
 * fnuz fp8 types have no safetensors dtype and are written as U8 with a note in __metadata__. __metadata__
 * also holds the trace's metadata ("trace.KEY") and each tensor's record key as a JSON string.
 *
 * Records without a tensor (hash/stats-only) are skipped with a warning; a tensor that cannot be read (damaged)
 * stops the export with the reader's message. Tensors are read whole with tt_reader_read(), which checks
 * their content hash, so an export never holds unverified bytes.
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "tracedump.h"
#include "tt/dtype.h"

typedef struct selection {
    tt_record *recs;
    char **names;
    size_t n, cap;
} selection;

static void selection_free(selection *s)
{
    for (size_t i = 0; i < s->n; i++)
        free(s->names[i]);
    free(s->recs);
    free(s->names);
}

/* The records to export: matching, with a tensor, at most --limit. Record strings stay valid (reader-owned). */
static void select_records(tt_reader *r, const td_options *o, selection *s)
{
    uint64_t cursor = 0, skipped = 0, lost = 0;
    tt_record rec;
    while (s->n < o->limit && td_next(r, o, &cursor, &rec) == 1) {
        if (!(rec.flags & TT_REC_HAS_PAYLOAD)) {
            skipped++;
            continue;
        }
        if (rec.flags & TT_REC_LOST) { /* checked before anything is allocated for the size the file claims */
            lost++;
            continue;
        }
        if (s->n == s->cap) {
            s->cap = s->cap ? 2 * s->cap : 16;
            s->recs = realloc(s->recs, s->cap * sizeof *s->recs);
            s->names = realloc(s->names, s->cap * sizeof *s->names);
            if (!s->recs || !s->names)
                cli_die(CLI_EXIT_INTERNAL, "out of memory");
        }
        char name[1024];
        s->recs[s->n] = rec;
        s->names[s->n] = strdup(td_name(&rec, name, sizeof name));
        if (!s->names[s->n++])
            cli_die(CLI_EXIT_INTERNAL, "out of memory");
    }
    if (skipped && !o->quiet)
        cli_warn("%s: %llu selected record(s) have no tensor (hash/stats-only) and are not exported",
                 o->input_name, (unsigned long long)skipped);
    if (lost)
        cli_warn("%s: %llu selected record(s) lost their tensor (payload frames missing or damaged) and are not "
                 "exported", o->input_name, (unsigned long long)lost);
    if (!s->n)
        cli_die(CLI_EXIT_USAGE, "%s: no tensor to export%s", o->input_name,
                o->where ? " (check --where)" : "");
}

/* Reads a whole tensor (content hash verified); the caller frees. */
static uint8_t *read_tensor(tt_reader *r, const tt_record *rec)
{
    uint8_t *buf = malloc((size_t)rec->nbytes + 1);
    if (!buf)
        cli_die(CLI_EXIT_INTERNAL, "out of memory for a %llu-byte tensor", (unsigned long long)rec->nbytes);
    int rc = tt_reader_read(r, rec->index, buf, (size_t)rec->nbytes);
    if (rc != TT_OK)
        cli_reader_die(r, rc);
    return buf;
}

static void put_bytes(FILE *f, const void *p, size_t n, const char *path)
{
    if (n && fwrite(p, 1, n, f) != n)
        cli_die(CLI_EXIT_OUTPUT, "%s: write failed: %s", path, strerror(errno));
}

/* ---- .npy ------------------------------------------------------------------------------------------------ */

static const char *npy_descr(tt_dtype dt)
{
    switch (dt) {
    case TT_F32: return "<f4";
    case TT_F16: return "<f2";
    case TT_F64: return "<f8";
    case TT_I8: return "|i1";
    case TT_U8: return "|u1";
    case TT_I16: return "<i2";
    case TT_I32: return "<i4";
    case TT_I64: return "<i8";
    case TT_BF16: return "<u2";
    default: return "|u1"; /* the fp8 family: raw bits */
    }
}

/* Writes one .npy into out's temporary file (the caller commits). */
static void write_npy(tt_reader *r, const tt_record *rec, cli_out *out)
{
    const char *path = cli_out_name(out);
    char hdr[512];
    int n = snprintf(hdr, sizeof hdr, "{'descr': '%s', 'fortran_order': False, 'shape': (", npy_descr(rec->dtype));
    for (int d = 0; d < rec->ndim; d++)
        n += snprintf(hdr + n, sizeof hdr - (size_t)n, "%llu,%s", (unsigned long long)rec->shape[d],
                      d + 1 < rec->ndim ? " " : "");
    if (rec->ndim > 1)
        n--; /* numpy writes (3,) for one dimension but (3, 4) for more */
    n += snprintf(hdr + n, sizeof hdr - (size_t)n, "), }");
    /* magic (6) + version (2) + length (2) + header, padded with spaces to a multiple of 64, ending in \n */
    int total = 10 + n + 1;
    int pad = (64 - total % 64) % 64;
    memset(hdr + n, ' ', (size_t)pad);
    hdr[n + pad] = '\n';
    uint16_t hlen = (uint16_t)(n + pad + 1);
    uint8_t pre[10] = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0, (uint8_t)(hlen & 0xff), (uint8_t)(hlen >> 8)};
    uint8_t *data = read_tensor(r, rec);
    FILE *f = cli_out_open(out);
    put_bytes(f, pre, sizeof pre, path);
    put_bytes(f, hdr, hlen, path);
    put_bytes(f, data, (size_t)rec->nbytes, path);
    cli_out_close(out);
    free(data);
}

int td_npy_is_directory(const char *path)
{
    struct stat st;
    size_t n = strlen(path);
    return (n && path[n - 1] == '/') || (stat(path, &st) == 0 && S_ISDIR(st.st_mode));
}

/* INDEX_NAME.npy with the characters that are awkward in file names replaced by '_'. */
static void npy_file_name(const tt_record *rec, const char *name, const char *dir, char *out, size_t len)
{
    char safe[1024];
    size_t k = 0;
    for (const char *p = name; *p && k + 1 < sizeof safe; p++)
        safe[k++] = (*p == '/' || *p == ' ' || *p == '\\' || (unsigned char)*p < 0x20) ? '_' : *p;
    safe[k] = '\0';
    size_t dl = strlen(dir);
    snprintf(out, len, "%s%s%llu_%s.npy", dir, dl && dir[dl - 1] == '/' ? "" : "/", (unsigned long long)rec->index,
             safe);
}

static void npy_note(const td_options *o, tt_dtype dt)
{
    if (o->quiet)
        return;
    if (dt == TT_BF16)
        fprintf(stderr, "%s: note: bf16 is stored as uint16 (numpy has no bfloat16); as float32: "
                        "(a.astype(np.uint32) << 16).view(np.float32)\n", cli_prog());
    else if (dt >= TT_F8_E4M3)
        fprintf(stderr, "%s: note: %s is stored as its raw uint8 bits (numpy has no fp8 types); decode with "
                        "ml_dtypes or tracedump --show\n", cli_prog(), tt_dtype_name(dt));
}

int td_export_npy(tt_reader *r, const td_options *o)
{
    selection s = {0};
    select_records(r, o, &s);
    if (o->out && s.n > 1)
        cli_usage_error("%zu tensors are selected but --export-npy %s takes one: select one with --where or give "
                        "a directory (ending in '/') for one .npy each", s.n, o->export_path);
    cli_out **outs = o->out ? NULL : calloc(s.n, sizeof *outs);
    if (!o->out) {
        if (!outs)
            cli_die(CLI_EXIT_INTERNAL, "out of memory");
        /* every file is checked (input, existing) before the first is written */
        for (size_t i = 0; i < s.n; i++) {
            char path[4096];
            npy_file_name(&s.recs[i], s.names[i], o->export_path, path, sizeof path);
            char *keep = strdup(path);
            if (!keep)
                cli_die(CLI_EXIT_INTERNAL, "out of memory");
            outs[i] = cli_out_declare(keep, "--export-npy", o->force ? CLI_OUT_FORCE : 0);
        }
        cli_out_mkdir(o->export_path);
    }
    int noted[TT_DTYPE_COUNT] = {0};
    for (size_t i = 0; i < s.n; i++) {
        write_npy(r, &s.recs[i], o->out ? o->out : outs[i]);
        if (!noted[s.recs[i].dtype]++)
            npy_note(o, s.recs[i].dtype);
    }
    /* all written: only now does any of them replace a file */
    for (size_t i = 0; i < s.n; i++)
        cli_out_commit(o->out ? o->out : outs[i]);
    free(outs); /* the handles and their paths live until the process ends (outfile.h) */
    selection_free(&s);
    return CLI_EXIT_OK;
}

/* ---- safetensors ----------------------------------------------------------------------------------------- */

static const char *st_dtype(tt_dtype dt)
{
    static const char *const names[TT_DTYPE_COUNT] = {"U8", "F32", "F16", "BF16", "F64", "I8", "U8", "I16",
                                                      "I32", "I64", "F8_E4M3", "F8_E5M2", "U8", "U8"};
    return (unsigned)dt < TT_DTYPE_COUNT ? names[dt] : "U8";
}

static int cmp_names(const void *a, const void *b)
{
    const char *const *x = a, *const *y = b;
    return strcmp(*x, *y);
}

/* Appends #INDEX to every name of a group of equal names, so that names are unique and stable. */
static void unique_names(selection *s)
{
    char **sorted = malloc((s->n ? s->n : 1) * sizeof *sorted);
    if (!sorted)
        cli_die(CLI_EXIT_INTERNAL, "out of memory");
    memcpy(sorted, s->names, s->n * sizeof *sorted);
    qsort(sorted, s->n, sizeof *sorted, cmp_names);
    for (size_t i = 0; i < s->n; i++) {
        const char *key = s->names[i];
        const char **hit = bsearch(&key, sorted, s->n, sizeof *sorted, cmp_names);
        size_t at = (size_t)((char **)hit - sorted);
        int dup = (at > 0 && strcmp(sorted[at - 1], key) == 0) || (at + 1 < s->n && strcmp(sorted[at + 1], key) == 0);
        if (!dup)
            continue;
        char buf[1100];
        snprintf(buf, sizeof buf, "%s#%llu", key, (unsigned long long)s->recs[i].index);
        s->names[i] = strdup(buf); /* the old pointer is still in sorted[]: freed below */
        if (!s->names[i])
            cli_die(CLI_EXIT_INTERNAL, "out of memory");
    }
    /* free the replaced originals: those in sorted[] no longer in names[] */
    for (size_t i = 0; i < s->n; i++) {
        int kept = 0;
        for (size_t j = 0; j < s->n && !kept; j++)
            kept = s->names[j] == sorted[i];
        if (!kept)
            free(sorted[i]);
    }
    free(sorted);
}

/* The record's key as a JSON object, in a JSON string (safetensors metadata values are strings). */
static void key_metadata(cli_buf *b, const tt_record *rec)
{
    cli_buf j = {0};
    const tt_key *k = &rec->key;
    cli_buf_puts(&j, "{\"index\": ");
    cli_buf_printf(&j, "%llu, \"prompt_id\": ", (unsigned long long)rec->index);
    cli_buf_json_str(&j, k->prompt_id);
    cli_buf_puts(&j, ", \"phase\": ");
    cli_buf_json_str(&j, k->phase);
    cli_buf_puts(&j, ", \"point\": ");
    cli_buf_json_str(&j, k->point);
    cli_buf_printf(&j, ", \"layer\": %d, \"step\": %d, \"token_id\": %d, \"logical_tok_idx\": %d, \"pos_id\": %d, "
                       "\"rows\": %d, \"rank\": %d, \"dtype\": \"%s\", \"hash\": \"%llu\"}",
                   (int)k->layer, (int)k->step, (int)k->token_id, (int)k->logical_tok_idx, (int)k->pos_id,
                   (int)k->rows, (int)k->rank, tt_dtype_name(rec->dtype), (unsigned long long)rec->hash);
    cli_buf_put(&j, "", 1);
    cli_buf_json_str(b, j.p);
    cli_buf_free(&j);
}

static void st_header(tt_reader *r, const td_options *o, const selection *s, cli_buf *b)
{
    cli_buf_puts(b, "{\"__metadata__\": {\"format\": \"tensortrace\", \"source\": ");
    cli_buf_json_str(b, o->input_name);
    tt_file_info in;
    tt_reader_info(r, &in);
    for (uint64_t i = 0; i < in.meta_count; i++) {
        const char *k, *v;
        if (tt_reader_meta(r, i, &k, &v) != TT_OK)
            continue;
        char key[300];
        snprintf(key, sizeof key, "trace.%.280s", k);
        cli_buf_puts(b, ", ");
        cli_buf_json_str(b, key);
        cli_buf_puts(b, ": ");
        cli_buf_json_str(b, v);
    }
    for (size_t i = 0; i < s->n; i++) {
        char key[1200];
        snprintf(key, sizeof key, "%s", s->names[i]);
        cli_buf_puts(b, ", ");
        cli_buf_json_str(b, key);
        cli_buf_puts(b, ": ");
        key_metadata(b, &s->recs[i]);
        if (s->recs[i].dtype == TT_F8_E4M3FNUZ || s->recs[i].dtype == TT_F8_E5M2FNUZ) {
            snprintf(key, sizeof key, "%s.note", s->names[i]);
            cli_buf_puts(b, ", ");
            cli_buf_json_str(b, key);
            cli_buf_printf(b, ": \"%s: raw fp8 bits stored as U8 (safetensors has no FNUZ type)\"",
                           tt_dtype_name(s->recs[i].dtype));
        }
    }
    cli_buf_puts(b, "}");
    uint64_t off = 0;
    for (size_t i = 0; i < s->n; i++) {
        const tt_record *rec = &s->recs[i];
        cli_buf_puts(b, ", ");
        cli_buf_json_str(b, s->names[i]);
        cli_buf_printf(b, ": {\"dtype\": \"%s\", \"shape\": [", st_dtype(rec->dtype));
        for (int d = 0; d < rec->ndim; d++)
            cli_buf_printf(b, "%s%llu", d ? ", " : "", (unsigned long long)rec->shape[d]);
        cli_buf_printf(b, "], \"data_offsets\": [%llu, %llu]}", (unsigned long long)off,
                       (unsigned long long)(off + rec->nbytes));
        off += rec->nbytes;
    }
    cli_buf_puts(b, "}");
    while (b->len % 8) /* the data starts 8-byte aligned, as the reference implementation writes it */
        cli_buf_puts(b, " ");
}

int td_export_safetensors(tt_reader *r, const td_options *o)
{
    selection s = {0};
    select_records(r, o, &s);
    unique_names(&s);
    cli_buf hdr = {0};
    st_header(r, o, &s, &hdr);
    uint8_t len8[8];
    for (int i = 0; i < 8; i++)
        len8[i] = (uint8_t)((uint64_t)hdr.len >> (8 * i));
    FILE *f = cli_out_open(o->out);
    const char *path = cli_out_name(o->out);
    put_bytes(f, len8, 8, path);
    put_bytes(f, hdr.p, hdr.len, path);
    cli_progress prog;
    cli_progress_start(&prog, "tensors", s.n);
    for (size_t i = 0; i < s.n; i++) {
        uint8_t *data = read_tensor(r, &s.recs[i]);
        put_bytes(f, data, (size_t)s.recs[i].nbytes, path);
        free(data);
        cli_progress_update(&prog, i + 1);
    }
    cli_progress_end(&prog);
    cli_out_commit(o->out);
    cli_buf_free(&hdr);
    selection_free(&s);
    return CLI_EXIT_OK;
}
