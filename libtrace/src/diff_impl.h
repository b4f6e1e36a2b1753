/*
 * diff_impl.h — the diff engine's private structures, shared by diff.c (loading, pairing, ordering, verdicts),
 * diff_run.c (the comparison workers), diff_metrics.c (the element kernels), diff_kv.c (the KV-cache checks) and
 * diff_tol.c (tolerance tables). Nothing here is API.
 */
#ifndef TT_DIFF_IMPL_H
#define TT_DIFF_IMPL_H

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
} dunit;


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

/* Lookup: fills rtol/atol/source for a point, layer and dtype. */
void diff_tol_lookup(const tt_diff_tols *t, const char *point, int32_t layer, tt_dtype dt, double *rtol,
                     double *atol, double *atol_rms, const char **source);
int diff_tols_copy(const tt_diff_tols *src, tt_diff_tols **out);

/* Element kernels (diff_metrics.c). */
typedef struct cmp_acc {
    uint64_t elems, diff_elems, outside, nan_mismatch, inf_mismatch;
    double sum_d2, sum_l2, sum_r2, sum_lr;
    double max_abs, max_abs_l, max_abs_r;
    uint64_t max_abs_index;
    double max_ulp;
    int ulp_ok; /* same dtype: ULP distances are computed */
    /* Norms from the records' statistics (cmp_acc_use_stats): the vector kernel then leaves sum_l2 and sum_r2
     * out (they may hold only part of the sums) and cmp_finish takes the norms from stat_l, stat_r. */
    int stats;
    double stat_l, stat_r;
    int band_inline; /* vector kernel: the last block needed its tolerance-band counts (a guess, not a result) */
} cmp_acc;

void cmp_acc_init(cmp_acc *a, int same_dtype);
/* Takes ||left|| and ||right|| (the writer's l2 statistics, computed in double over the same elements, all
 * finite) instead of summing the squares: only for a comparison of two whole records. Returns 1 when taken, 0 when
 * the norms are out of the range where that is exact enough (below 2^-28 or above 2^400): the squares are summed. */
int cmp_acc_use_stats(cmp_acc *a, double l2_left, double l2_right);
/* Compares n elements (left of type dl at pl, right of type dr at pr), base = flat index of the first. */
void cmp_block(cmp_acc *a, tt_dtype dl, const void *pl, tt_dtype dr, const void *pr, size_t n, uint64_t base,
               double rtol, double atol);
/* With statistics: 1 when they agree with the sums the pass did compute (||l||^2 + ||r||^2 - 2<l,r> against the
 * sum of squared differences, and Cauchy-Schwarz), else 0: the caller then compares again without them. */
int cmp_stats_consistent(const cmp_acc *a);
void cmp_finish(const cmp_acc *a, tt_diff_metrics *m);

/* Tests only: nonzero makes the vector kernel (diff_simd.c) decline every block, so that the portable double loop
 * does them all. Set it before a comparison starts, never during one. */
extern int diff_simd_off;

/* Detail pass over the first failure: histogram and the k worst elements. */
typedef struct detail_acc {
    double edges[TT_DIFF_HIST_BINS];
    uint64_t counts[TT_DIFF_HIST_BINS + 2];
    tt_diff_worst *heap; /* min-heap by abs_err */
    uint32_t k, n;
} detail_acc;

int detail_init(detail_acc *d, uint32_t k);
void detail_block(detail_acc *d, tt_dtype dl, const void *pl, tt_dtype dr, const void *pr, size_t n, uint64_t base);
void detail_finish(detail_acc *d); /* sorts worst first */

/* ULP distance helpers, exposed for the tests through the library's internal symbols. */
double diff_ulp_distance(tt_dtype dt, const void *a, const void *b);
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
    char *key_text, *stages_text, *left_path, *right_path;
    char *cache_points_text;
    unsigned key_mask;
    int same_file;
    tt_intern strings; /* one pool for both sides: equal strings are equal pointers */

    /* sides */
    dunit *units[2];
    size_t nunits[2], units_cap[2];
    uint64_t nrecords[2];
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
};

int diff_err(tt_diff *d, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
int diff_evidence(tt_diff *d, tt_diff_evidence_kind kind, int64_t pair, double a, double b, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));
const char *diff_intern(tt_diff *d, const char *s); /* NULL on allocation failure; NULL s -> "" */

/* diff_run.c: compares every pair (threads), then the detail pass of one pair. */
int diff_compare_all(tt_diff *d);
int diff_detail(tt_diff *d, const tt_diff_pair *p, tt_diff_failure *f);
/* Reads a unit's rows [r0, r0+nr) of its record into buf (grown as needed). */
int diff_read_rows(tt_reader *r, const tt_diff_side *s, uint64_t r0, uint64_t nr, uint8_t **buf, size_t *cap,
                   char *err, size_t errlen);

/* diff_kv.c: the KV-cache checks of kv_aligned mode. */
int diff_kv_checks(tt_diff *d);
int diff_is_cache_point(const tt_diff *d, const char *point);

#endif /* TT_DIFF_IMPL_H */
