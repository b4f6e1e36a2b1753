/*
 * explain.h — step 4 of the diff pipeline (see core.h): root causes, counts, the first failure and its chain, the
 * evidence and the overall verdict. Calls core, pair, measure and judge.
 */
#ifndef TT_DIFF_EXPLAIN_H
#define TT_DIFF_EXPLAIN_H

#include "judge.h"

/* Names root causes, counts, finds the first failure (with its detail pass), writes the evidence, sets the overall
 * verdict. */
int diff_explain(tt_diff *d);

#endif /* TT_DIFF_EXPLAIN_H */
