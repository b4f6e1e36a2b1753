/*
 * model.h — tracereport's model of one diff result: everything `tracediff --json` writes (schemas/diff.schema.json,
 * "tensortrace.diff/1"), held in plain C structs. Two loaders fill it: rp_load_json() from a JSON file, checking
 * every field it uses against the schema and every index against the arrays it points into; and rp_load_diff()
 * from a finished tt_diff handle (tracereport --run), following the same rules as tracediff's JSON writer (hash
 * -equal pairs have rel_l2 0, pairs decided without their tensors have none) so both paths give the same report.
 * The writers read only this model and the facts derived from it (analysis.h), never the JSON or the library.
 *
 * Ownership: an rp_result owns all its memory (one arena); rp_result_free() releases it. Strings are never NULL
 * unless the comment says "or NULL". Numbers the JSON holds as null (non-finite) are NAN here.
 */
#ifndef TRACEREPORT_MODEL_H
#define TRACEREPORT_MODEL_H

#include <stddef.h>
#include <stdint.h>

#include "tt/diff.h"

#define RP_SCHEMA_ID "tensortrace.diff/1"
#define RP_MAX_JSON_BYTES ((size_t)1 << 30) /* a diff JSON larger than this is refused */
#define RP_MAX_DIMS 8

typedef enum rp_verdict { RP_MATCH = 0, RP_WITHIN_TOL = 1, RP_MISMATCH = 2, RP_MISSING = 3 } rp_verdict;
typedef enum rp_overall { RP_IDENTICAL = 0, RP_STRUCTURAL = 1, RP_OVERALL_MISMATCH = 2, RP_NA = 3 } rp_overall;
typedef enum rp_mode { RP_NUMERIC = 0, RP_AS_DESIGNED = 1, RP_KV_ALIGNED = 2 } rp_mode;

/* Pair flags, the names of the schema's "flags" array in order (bit i = name i). */
#define RP_FLAG_NAMES {"hash_skip", "compared", "stats_only", "hash_only", "error", "duplicate", "rows", "jump", \
                       "kv_fail", "dtypes", "nonfinite", "outliers"}
#define RP_F_HASH_SKIP 0x001u
#define RP_F_COMPARED 0x002u
#define RP_F_STATS_ONLY 0x004u
#define RP_F_HASH_ONLY 0x008u
#define RP_F_ERROR 0x010u
#define RP_F_DUPLICATE 0x020u
#define RP_F_ROWS 0x040u
#define RP_F_JUMP 0x080u
#define RP_F_KV_FAIL 0x100u
#define RP_F_DTYPES 0x200u
#define RP_F_NONFINITE 0x400u
#define RP_F_OUTLIERS 0x800u

typedef struct rp_stats {
    int present;
    double min, max, mean, absmax, l2;
    uint64_t nan_count, inf_count;
} rp_stats;

/* One side of a pair (a record, or the compared rows of it). */
typedef struct rp_side {
    int present;
    uint64_t record, row_begin, row_count;
    const char *prompt_id, *phase, *point;
    int32_t layer, step, token_id, logical_tok_idx, pos_id, rows, rank;
    const char *dtype;
    int ndim;
    uint64_t shape[RP_MAX_DIMS];
    int has_payload;
    int has_hash;
    char hash[17];     /* 16 hex digits */
    char hash_dec[24]; /* decimal, the seeds' form */
    rp_stats stats;
} rp_side;

typedef struct rp_metrics {
    int present;  /* 0 when a side is missing */
    int compared; /* from the full tensors */
    uint64_t elems, diff_elems;
    double max_abs;
    uint64_t max_abs_index;
    int ncoord;
    uint64_t max_abs_coord[RP_MAX_DIMS];
    double max_abs_left, max_abs_right;
    double rel_l2, cosine, max_ulp; /* NAN when not known */
    uint64_t outside_tol, nan_mismatch, inf_mismatch;
    double rtol, atol, atol_abs, atol_rms, ref_rms;
    const char *tol_source; /* or NULL */
} rp_metrics;

typedef struct rp_pair {
    uint64_t index, group;
    const char *point;
    int32_t layer, stage_rank;
    rp_verdict verdict, numeric_verdict;
    const char *root_cause; /* or NULL */
    uint32_t flags;         /* RP_F_* */
    const char *error;      /* or NULL */
    rp_side left, right;
    rp_metrics m;
    int has_jump;
    double jump_ratio, jump_baseline;
} rp_pair;

typedef struct rp_group {
    const char *prompt_id; /* or NULL */
    int32_t token_id, logical_tok_idx, pos_id;
    uint64_t pairs, match, within_tol, mismatch, missing;
    int64_t first_failure; /* pair index or -1 */
    const char *root_cause; /* or NULL */
} rp_group;

typedef struct rp_worst {
    uint64_t index;
    int ncoord;
    uint64_t coord[RP_MAX_DIMS];
    double left, right, abs_err;
} rp_worst;

/* What decided the first failing pair's verdict (tracediff's "judgement"; absent in older JSON: has = 0). */
typedef struct rp_judgement {
    int has;
    const char *decided_by, *precision, *ulp_dtype;
    double unit, scale, error, baseline, floor, allowed;
    uint64_t outliers, sampled, fit_n;
    double alpha, alpha_t, beta, beta_t;
    uint64_t nan[2], inf[2]; /* left, right */
    int64_t first[2];        /* first NaN/Inf element, or -1 */
} rp_judgement;

typedef struct rp_failure {
    int present;
    int32_t layer;
    const char *point, *root_cause;
    uint64_t group;
    int64_t pair, kv_check; /* or -1 */
    const char *prompt_id;  /* or NULL */
    int32_t token_id, logical_tok_idx, pos_id;
    const char *left_phase, *right_phase; /* or NULL */
    rp_verdict verdict;
    int32_t rank;        /* the rank the failure comes from (tracediff's "rank"), -1 when not known */
    rp_metrics m;
    rp_side left, right;
    int has_hist;
    size_t nedges;       /* histogram: counts has nedges + 2 entries (zeros, <= edges[0], ..., > last edge) */
    double *edges;
    uint64_t *counts;
    size_t nworst;
    rp_worst *worst;
    rp_judgement j;
} rp_failure;

typedef enum rp_ev_kind {
    RP_EV_JUMP = 0, RP_EV_STATS, RP_EV_QKV, RP_EV_NOTE, RP_EV_WARNING, RP_EV_FRESH, RP_EV_STRUCTURED, RP_EV_NONFINITE,
    RP_EV_DTYPES
} rp_ev_kind;
typedef struct rp_evidence {
    rp_ev_kind kind;
    int64_t pair;
    double a, b;
    const char *text;
} rp_evidence;

typedef enum rp_kv_kind { RP_KV_PREFIX = 0, RP_KV_WRITE, RP_KV_CAUSAL } rp_kv_kind;
typedef struct rp_kvcheck {
    rp_kv_kind kind;
    int result; /* 1 pass, 0 fail, -1 n/a */
    int side;   /* 0 left, 1 right, 2 both */
    int64_t pair;
    uint64_t group;
    const char *prompt_id, *point; /* or NULL */
    int32_t layer;
    uint64_t rows_checked, bad_rows;
    int64_t first_bad_row, first_bad_col;
    double max_abs;
    const char *text;
} rp_kvcheck;

typedef struct rp_meta {
    const char *key, *value;
} rp_meta;

typedef struct rp_input {
    const char *path;
    size_t nfilter;
    const char **filter;
    uint64_t records;
    size_t nmeta;
    rp_meta *meta;
} rp_input;

typedef struct rp_counts {
    uint64_t pairs, match, within_tol, mismatch, missing;
    uint64_t duplicates, uncovered_rows, errors, stats_only, hash_skipped, jumps, bytes_compared;
} rp_counts;

typedef struct rp_arena rp_arena;

typedef struct rp_result {
    rp_arena *arena;
    const char *source; /* the JSON file, or "tracereport --run" */
    int from_run;
    const char *version;
    rp_overall verdict;
    const char *subcause; /* or NULL */
    rp_mode mode;
    int align_pos;
    size_t nkey, nstages;
    const char **key, **stages;
    rp_input left, right;
    int32_t rank;       /* the rank this result is for: its left side's "rank" metadata when that side is one
                           file (a per-rank diff, see scripts/cluster_diff.sh), else -1 */
    rp_counts counts;
    rp_failure ff;
    size_t nchain;
    uint64_t *chain;
    size_t ngroups, npairs, nevidence, nkv;
    rp_group *groups;
    rp_pair *pairs;
    rp_evidence *evidence;
    rp_kvcheck *kv;
    double seconds;
    uint64_t threads;
} rp_result;

/*! rp_load_json() : reads and checks a `tracediff --json` file. @return : a result, or NULL with a message in
 *  err naming the file and what is wrong ("not JSON: ... at line 3, column 7", "not a tracediff result: no
 *  \"schema\"", "schema 'x' is not tensortrace.diff/1", "pairs[4].metrics.rel_l2: expected a number or null",
 *  "chain[2]: pair 900 out of range (120 pairs)"). *oom is set when memory ran out instead. */
rp_result *rp_load_json(const char *path, char *err, size_t errlen, int *oom);

/* The sides as tracediff names them in the JSON: the file and the filter conditions given. */
typedef struct rp_run_sides {
    const char *left_path, *right_path; /* right_path NULL: one file */
    const char *const *left_conds, *const *right_conds;
    size_t nleft, nright;
} rp_run_sides;

/*! rp_load_diff() : the model of a finished diff (tt_diff_run returned TT_OK). @return : NULL on out of memory. */
rp_result *rp_load_diff(const tt_diff *d, const rp_run_sides *sides);

void rp_result_free(rp_result *r);

/* Names, as in the JSON. */
const char *rp_verdict_name(rp_verdict v);
const char *rp_overall_name(rp_overall v);
const char *rp_mode_name(rp_mode m);
const char *rp_kv_kind_name(rp_kv_kind k);
const char *rp_kv_result_name(int result);
const char *rp_side_name(int side);

/* The pair's relative L2 error: 0 for hash-equal pairs, NAN when it was not measured. */
double rp_pair_rel(const rp_pair *p);
/*! rp_result_rank() : the rank a result is for (its left side's "rank" metadata when the side is one file:
 *  no "(+N files)" in its path), or -1. */
int32_t rp_result_rank(const rp_result *r);

/* The value of a metadata key of a side, or NULL. */
const char *rp_meta_get(const rp_input *in, const char *key);

/* Arena (used by the loaders and by the report builder). */
rp_arena *rp_arena_new(void);
void rp_arena_free(rp_arena *a);
/* zeroed memory, NULL on out of memory (n * size overflow included) */
void *rp_arena_alloc(rp_arena *a, size_t n, size_t size);
char *rp_arena_strdup(rp_arena *a, const char *s);
/* printf into the arena; NULL on out of memory */
char *rp_arena_printf(rp_arena *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif /* TRACEREPORT_MODEL_H */
