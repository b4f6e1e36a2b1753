/*
 * measure.h — step 2 of the diff pipeline (see core.h): reading and comparing every pair (measure.c, worker
 * threads) with the element kernels (measure_kernel.c, measure_simd.c), and the detail pass over one pair.
 * Calls only core.
 */
#ifndef TT_DIFF_MEASURE_H
#define TT_DIFF_MEASURE_H

#include "core.h"

/* Element kernels (measure_kernel.c). */
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
    /* non-finite elements of each side (0 left, 1 right), seen by the element loop (the fast kernels refuse
     * blocks that hold any): counts, the first one's index and value; elements non-finite on either side */
    uint64_t nan[2], inf[2], neg_inf[2], neg_inf_agree, nonfinite_elems;
    int64_t first[2];
    double first_value[2];
    /* two dtypes: the coarser one, whose ULP at the reference value max_ulp counts (TT_DTYPE_UNKNOWN: same dtype) */
    tt_dtype coarse;
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

/* Tests only: nonzero makes the vector kernel (measure_simd.c) decline every block, so that the portable double loop
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

/* ULP distance, exposed for the tests through the library's internal symbols. */
double diff_ulp_distance(tt_dtype dt, const void *a, const void *b);

/* Attention scores and probabilities ([rows, heads, kv_len]) over two context lengths (a prefill row against a
 * decode step over a longer context) are compared over their common leading columns. 1 when p is such a pair:
 * attn_scores or attn_probs whose compared regions agree but for their last dimension (dimensions of size 1
 * dropped); then outer = the product of the other dimensions, lcols / rcols = each side's columns. */
int diff_common_columns(const tt_diff_pair *p, uint64_t *outer, uint64_t *lcols, uint64_t *rcols);
/* For such a pair, packs both sides' regions (read whole into lbuf, rbuf) to their common leading columns and
 * returns the elements left (0 for any other pair, the buffers untouched); lcols / keep (may be NULL): the left
 * side's columns and the columns kept, to map an element index back (index / keep * lcols + index % keep). */
uint64_t diff_keep_common_columns(const tt_diff_pair *p, uint8_t *lbuf, uint8_t *rbuf, uint64_t *lcols,
                                  uint64_t *keep);

/* Compares every pair (threads); fills each pair's metrics and its numeric verdict by tolerance. */
int diff_compare_all(tt_diff *d);
/* The detail pass of one pair: histogram and worst elements into f. */
int diff_detail(tt_diff *d, const tt_diff_pair *p, tt_diff_failure *f);
/* Reads a unit's rows [r0, r0+nr) of its record into buf (grown as needed). */
int diff_read_rows(tt_reader *r, const tt_diff_side *s, uint64_t r0, uint64_t nr, uint8_t **buf, size_t *cap,
                   char *err, size_t errlen);

#endif /* TT_DIFF_MEASURE_H */
