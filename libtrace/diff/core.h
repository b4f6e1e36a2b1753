/*
 * core.h — the diff engine's private data model, shared by every step of its pipeline
 *
 *     pair.c -> measure.c -> judge.c -> explain.c      (diff.c runs them in this order)
 *
 * Each step is a file (with its header) that calls only core.c / tol.c and the steps before it: pair.c loads the
 * sides and pairs, groups and orders their units; measure.c reads and compares every pair (measure_kernel.c,
 * measure_simd.c: the element kernels); judge.c gives each pair its verdict from the measures (judge_kv.c: the
 * KV-cache checks); explain.c names root causes, finds the first failure and its chain, writes the evidence and the
 * overall verdict. Nothing here is API.
 */
#ifndef TT_DIFF_CORE_H
#define TT_DIFF_CORE_H

#include <stddef.h>
#include <stdint.h>

#include "tt/diff.h"
#include "tt/reader.h"
#include "util.h"

#define DIFF_ERRMSG 512

/* Key fields, as bits of a mask. */
enum {
    KF_PROMPT = 1 << 0,
    KF_PHASE = 1 << 1,
    KF_POINT = 1 << 2,
    KF_LAYER = 1 << 3,
    KF_STEP = 1 << 4,
    KF_TOKEN = 1 << 5,
    KF_LTI = 1 << 6,
    KF_POS = 1 << 7,
    KF_ROWS = 1 << 8,
    KF_RANK = 1 << 9,
    KF_DTYPE = 1 << 10
};

/* One comparable unit of one side: a whole record, or a row range of one. */
typedef struct dunit {
    tt_diff_side s;     /* the record, the rows and the strings (interned) */
    int32_t pos, lti;   /* position and token index of the unit's first row */
    int32_t token;      /* token id, TT_UNSET when unknown (rows > 0 of a split record) */
    uint64_t order;     /* capture order on its side */
    uint64_t nbytes;    /* bytes of the rows compared */
    uint64_t rec_nbytes;
    int is_cache;
    int split;          /* a row of a split multi-row record */
    int used;
    size_t shard_at;    /* gathered: its shards' entries in the side's shard tables (tt_diff.shards) */
    const char *gather_error; /* gathered: why it cannot be made whole (a shard missing...), interned; or NULL */
    int32_t rank_named; /* gathered with gather_error: the rank the error names */
} dunit;


/* The shards of a side's gathered units: records and ranks (count entries per unit, at dunit.shard_at), and
 * where each starts along the split dimension (count + 1 entries per unit, after the records' tables). */
typedef struct diff_shards {
    uint64_t *records, *begin;
    int32_t *ranks;
    size_t n, cap_r, cap_b, cap_k, nbegin;
} diff_shards;

typedef struct tol_entry {
    char *point; /* "*" = any */
    int any_layer;
    int32_t layer;
    double rtol, atol, atol_rms;
    char *source;
} tol_entry;

struct tt_diff_tols {
    tol_entry *v;
    size_t n, cap;
    tt_intern keys; /* "LAYER:POINT" or "*:POINT" -> index in v (interned in the order entries are added) */
};

/* The entry of exactly (point, any_layer, layer), or NULL. */
tol_entry *diff_tol_find(const tt_diff_tols *t, const char *point, int any_layer, int32_t layer);
/* Lookup: fills rtol/atol/source for a point, layer and dtype. */
void diff_tol_lookup(const tt_diff_tols *t, const char *point, int32_t layer, tt_dtype dt, double *rtol,
                     double *atol, double *atol_rms, const char **source);
int diff_tols_copy(const tt_diff_tols *src, tt_diff_tols **out);

/* Units in the last place and precision of a dtype: the gap between 1 and the next value (0 for integers; the
 * unknown dtype of legacy stats-only records counts as bf16). */
double diff_dtype_eps(tt_dtype dt);

/* The evidence list and growable arrays. */
typedef struct ev_list {
    tt_diff_evidence *v;
    size_t n, cap;
} ev_list;

struct tt_diff {
    int failed;
    char errmsg[DIFF_ERRMSG];
    tt_diff_options o;
    tt_diff_tols *tols;
    char *key_text, *stages_text, *left_path, *right_path; /* the sides' names: "FILE" or "FILE (+N files)" */
    char **paths[2];     /* each side's files */
    size_t npaths[2];
    tt_reader *src[2];   /* each side's reader, open from pairing to tt_diff_free (diff_open_side) */
    char *cache_points_text;
    unsigned key_mask;
    int same_file;
    tt_intern strings; /* one pool for both sides: equal strings are equal pointers */

    /* sides */
    dunit *units[2];
    size_t nunits[2], units_cap[2];
    uint64_t nrecords[2];
    /* gathered shards (pair.c): per side, every gathered unit's shard records, ranks and starts */
    diff_shards shards[2];
    int multi_rank[2]; /* the side's records come from more than one rank */
    int by_rank;     /* both sides of several ranks, as many: paired rank by rank */
    int replicated;  /* one side of several ranks without shards: each rank's record pairs with the other's */
    char **meta[2]; /* key, value, key, value ... */
    uint64_t nmeta[2];

    /* stage order */
    const char **stages; /* interned */
    size_t nstages, stages_cap;
    int32_t min_layered_rank;
    const char **cache_points;
    size_t ncache_points;

    /* results */
    tt_diff_pair *pairs;
    size_t npairs, pairs_cap;
    tt_diff_group *groups;
    uint32_t ngroups, groups_cap;
    tt_diff_counts counts;
    tt_diff_overall overall;
    const char *subcause;
    tt_diff_failure failure;
    int has_failure;
    tt_diff_worst *worst;
    uint64_t *chain;
    uint64_t nchain;
    ev_list ev;
    tt_diff_kv_check *kv;
    size_t nkv, kv_cap;
    double seconds;
    uint32_t threads;
    int64_t first_nonfinite[2]; /* pair index per side, -1 when none */
    tt_diff_plan plan;          /* plan.c */
};

int diff_err(tt_diff *d, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
int diff_evidence(tt_diff *d, tt_diff_evidence_kind kind, int64_t pair, double a, double b, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));
const char *diff_intern(tt_diff *d, const char *s); /* NULL on allocation failure; NULL s -> "" */

#endif /* TT_DIFF_CORE_H */
