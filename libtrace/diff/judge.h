/*
 * judge.h — step 3 of the diff pipeline (see core.h): verdicts from the measures (judge.c) and the KV-cache checks
 * of kv_aligned mode (judge_kv.c). Calls core, pair and measure.
 */
#ifndef TT_DIFF_JUDGE_H
#define TT_DIFF_JUDGE_H

#include "measure.h"
#include "pair.h"

/* Every pair's verdict (in the run's mode and numerically) and what decided it; then the KV-cache checks. */
int diff_judge(tt_diff *d);
/* NaN and Inf of a pair on both sides, less the -inf both sides hold at the same elements (masked attention
 * scores): what makes a pair NONFINITE. */
uint64_t diff_other_nonfinite(const tt_diff_pair *p);
/* The KV-cache checks; a failed check makes its pair a MISMATCH (TT_DIFF_PAIR_KV_FAIL). */
int diff_kv_checks(tt_diff *d);

#endif /* TT_DIFF_JUDGE_H */
