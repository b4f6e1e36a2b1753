/*
 * corpus_json.h — the small JSON writer and the shared names of the conformance corpus: the generator
 * (gen_corpus.c) writes each case's expected result with it, and the library's checker (tests/conformance) writes
 * what the library read in the same shape, so that the two compare field by field.
 *
 * Output is deterministic: keys in the order written, integers printed exactly (64-bit values as JSON integers),
 * doubles with 17 significant digits (non-finite ones as the strings "NaN", "Infinity", "-Infinity"), two-space
 * indentation, and arrays of scalars opened with cj_begin_inline() on one line.
 */
#ifndef TT_CORPUS_JSON_H
#define TT_CORPUS_JSON_H

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "tt/common.h"
#include "tt/writer.h" /* tt_writer_counters, tt_record */

#define CJ_MAX_DEPTH 16

typedef struct cj {
    FILE *f;
    int depth;
    int first[CJ_MAX_DEPTH]; /* no element written yet at this level */
    int inl[CJ_MAX_DEPTH];   /* this level is written on one line */
} cj;

static inline void cj_init(cj *j, FILE *f)
{
    memset(j, 0, sizeof *j);
    j->f = f;
    j->first[0] = 1;
}

static inline void cj_str_raw(cj *j, const char *s)
{
    fputc('"', j->f);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\')
            fprintf(j->f, "\\%c", *p);
        else if (*p < 0x20)
            fprintf(j->f, "\\u%04x", *p);
        else
            fputc(*p, j->f);
    }
    fputc('"', j->f);
}

/* Separator, indentation and key before a value at the current level. */
static inline void cj_key(cj *j, const char *key)
{
    int d = j->depth;
    if (d > 0) {
        if (!j->first[d])
            fputc(',', j->f);
        if (j->inl[d])
            fputs(j->first[d] ? "" : " ", j->f);
        else
            fprintf(j->f, "\n%*s", 2 * d, "");
    }
    j->first[d] = 0;
    if (key) {
        cj_str_raw(j, key);
        fputs(": ", j->f);
    }
}

static inline void cj_open(cj *j, const char *key, char c, int inl)
{
    cj_key(j, key);
    fputc(c, j->f);
    j->depth++;
    j->first[j->depth] = 1;
    j->inl[j->depth] = inl || j->inl[j->depth - 1];
}

static inline void cj_close(cj *j, char c)
{
    int d = j->depth--;
    if (!j->first[d] && !j->inl[d])
        fprintf(j->f, "\n%*s", 2 * j->depth, "");
    fputc(c, j->f);
    if (j->depth == 0)
        fputc('\n', j->f);
}

static inline void cj_begin_obj(cj *j, const char *key) { cj_open(j, key, '{', 0); }
static inline void cj_end_obj(cj *j) { cj_close(j, '}'); }
static inline void cj_begin_arr(cj *j, const char *key) { cj_open(j, key, '[', 0); }
static inline void cj_begin_inline(cj *j, const char *key) { cj_open(j, key, '[', 1); }
static inline void cj_end_arr(cj *j) { cj_close(j, ']'); }

static inline void cj_i64(cj *j, const char *key, int64_t v)
{
    cj_key(j, key);
    fprintf(j->f, "%" PRId64, v);
}

static inline void cj_u64(cj *j, const char *key, uint64_t v)
{
    cj_key(j, key);
    fprintf(j->f, "%" PRIu64, v);
}

static inline void cj_str(cj *j, const char *key, const char *s)
{
    cj_key(j, key);
    if (s)
        cj_str_raw(j, s);
    else
        fputs("null", j->f);
}

static inline void cj_null(cj *j, const char *key)
{
    cj_key(j, key);
    fputs("null", j->f);
}

/* A 64-bit hash as 16 lower-case hex digits (JSON numbers lose precision above 2^53 in many parsers). */
static inline void cj_hex(cj *j, const char *key, uint64_t v)
{
    char b[17];
    snprintf(b, sizeof b, "%016" PRIx64, v);
    cj_str(j, key, b);
}

static inline void cj_f64(cj *j, const char *key, double v)
{
    if (isnan(v))
        cj_str(j, key, "NaN");
    else if (isinf(v))
        cj_str(j, key, v > 0 ? "Infinity" : "-Infinity");
    else {
        cj_key(j, key);
        fprintf(j->f, "%.17g", v);
    }
}

/* The Counters table as an object, fields in schema order. */
static inline void cj_counters(cj *j, const char *key, const tt_writer_counters *c)
{
    cj_begin_obj(j, key);
    cj_u64(j, "puts", c->puts);
    cj_u64(j, "filtered", c->filtered);
    cj_u64(j, "dropped", c->dropped);
    cj_u64(j, "written", c->written);
    cj_u64(j, "bytes_raw", c->bytes_raw);
    cj_u64(j, "bytes_stored", c->bytes_stored);
    cj_u64(j, "payload_frames", c->payload_frames);
    cj_u64(j, "batches", c->batches);
    cj_u64(j, "file_bytes", c->file_bytes);
    cj_u64(j, "errors", c->errors);
    cj_end_obj(j);
}

/* A batch's key ranges {layer, step, pos}, each [min, max], from {layer_min, layer_max, step_min, ... pos_max}. */
static inline void cj_ranges(cj *j, const int32_t r6[6])
{
    static const char *const names[3] = {"layer", "step", "pos"};
    cj_begin_obj(j, "ranges");
    for (int k = 0; k < 3; k++) {
        cj_begin_inline(j, names[k]);
        cj_i64(j, NULL, r6[2 * k]);
        cj_i64(j, NULL, r6[2 * k + 1]);
        cj_end_arr(j);
    }
    cj_end_obj(j);
}

/* The names of enum DType in schemas/trace.fbs, by value. */
static const char *const cj_dtype_names[TT_DTYPE_COUNT] = {
    "UNKNOWN", "F32", "F16", "BF16", "F64", "I8", "U8", "I16", "I32", "I64",
    "F8_E4M3", "F8_E5M2", "F8_E4M3FNUZ", "F8_E5M2FNUZ"};

/* A record: its fields as stored ("not given" strings as null), then `payload` ("none", "ok", "lost",
 * "damaged") and, when "ok", the XXH3-64 of the content read. */
static inline void cj_record(cj *j, const tt_record *rec, const char *payload, uint64_t content_xxh3)
{
    const char *strs[3] = {rec->key.prompt_id, rec->key.phase, rec->key.point};
    const char *names[3] = {"prompt_id", "phase", "point"};
    const int32_t ints[7] = {rec->key.layer, rec->key.step, rec->key.token_id, rec->key.logical_tok_idx,
                             rec->key.pos_id, rec->key.rows, rec->key.rank};
    const char *inames[7] = {"layer", "step", "token_id", "logical_tok_idx", "pos_id", "rows", "rank"};
    cj_begin_obj(j, NULL);
    cj_u64(j, "index", rec->index);
    cj_u64(j, "seq", rec->seq);
    cj_u64(j, "time_ns", rec->time_ns);
    for (int k = 0; k < 3; k++)
        cj_str(j, names[k], strs[k] && *strs[k] ? strs[k] : NULL);
    for (int k = 0; k < 7; k++)
        cj_i64(j, inames[k], ints[k]);
    cj_str(j, "dtype", (unsigned)rec->dtype < TT_DTYPE_COUNT ? cj_dtype_names[rec->dtype] : "?");
    cj_begin_inline(j, "shape");
    for (int d = 0; d < rec->ndim; d++)
        cj_u64(j, NULL, rec->shape[d]);
    cj_end_arr(j);
    cj_u64(j, "nbytes", rec->nbytes);
    /* bits 0..3 as stored: a packed record (bit 3) has bit 0 clear, although a reader reports its tensor */
    uint32_t flags = rec->flags & (TT_REC_HAS_PAYLOAD | TT_REC_HAS_HASH | TT_REC_HAS_STATS | TT_REC_PACKED);
    cj_u64(j, "flags", (flags & TT_REC_PACKED) ? flags & ~TT_REC_HAS_PAYLOAD : flags);
    if (rec->flags & TT_REC_HAS_HASH)
        cj_hex(j, "hash", rec->hash);
    if (rec->key.shard_kind != TT_SHARD_NONE) { /* format 1.1: only for shards, so 1.0 results stay as they were */
        static const char *const kinds[3] = {"NONE", "SPLIT", "PARTIAL"};
        cj_begin_obj(j, "shard");
        if (rec->key.shard_kind >= 0 && rec->key.shard_kind <= TT_SHARD_PARTIAL)
            cj_str(j, "kind", kinds[rec->key.shard_kind]);
        else
            cj_i64(j, "kind", rec->key.shard_kind);
        cj_i64(j, "dim", rec->key.shard_dim);
        cj_i64(j, "index", rec->key.shard_index);
        cj_i64(j, "count", rec->key.shard_count);
        cj_end_obj(j);
    }
    if (rec->flags & TT_REC_HAS_STATS) {
        cj_begin_obj(j, "stats");
        cj_f64(j, "min", rec->stats.min);
        cj_f64(j, "max", rec->stats.max);
        cj_f64(j, "mean", rec->stats.mean);
        cj_f64(j, "absmax", rec->stats.absmax);
        cj_f64(j, "l2", rec->stats.l2);
        cj_u64(j, "nan_count", rec->stats.nan_count);
        cj_u64(j, "inf_count", rec->stats.inf_count);
        cj_end_obj(j);
    }
    cj_str(j, "payload", payload);
    if (strcmp(payload, "ok") == 0)
        cj_hex(j, "content_xxh3", content_xxh3);
    cj_end_obj(j);
}

/* The error classes of the corpus (README "Error classes"), from the library's status codes. */
static inline const char *cj_error_class(int status)
{
    switch (status) {
    case TT_E_NOTTRACE: return "not_tensortrace";
    case TT_E_VERSION: return "version";
    case TT_E_TRUNCATED: return "truncated";
    case TT_E_LIMIT: return "limit";
    case TT_E_NOTFOUND: return "no_footer";
    default: return "corrupt";
    }
}

#endif /* TT_CORPUS_JSON_H */
