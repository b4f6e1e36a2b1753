/*
 * pair.h — step 1 of the diff pipeline (see core.h): options, the sides' units, the stage order, pairing, groups
 * and pipeline order. Calls only core.
 */
#ifndef TT_DIFF_PAIR_H
#define TT_DIFF_PAIR_H

#include "core.h"

/* Checks and completes the options, names the files and the sides' filters (own[] receives filters made here, for
 * the caller to free). */
int diff_pair_setup(tt_diff *d, const char *const *left, size_t nleft, const char *const *right, size_t nright,
                    const tt_filter **lf, const tt_filter **rf, tt_filter **own);
/* A reader of a side's file(s) for the caller's thread (tt_reader_reopen of the side's reader; the same file's for
 * both sides of one file). On failure the run's error is set. */
int diff_open_side(tt_diff *d, int side, tt_reader **out);
/* Loads both sides, builds the stage order, pairs the units and puts the pairs in groups and pipeline order. */
int diff_pair_all(tt_diff *d, const tt_filter *lf, const tt_filter *rf);
/* After a pair with a SPLIT-gathered side was compared: its rank is the one whose shard holds the largest
 * difference (m.max_abs_coord). */
void diff_split_rank(tt_diff_pair *p);
/* The capture plan around the first failure (plan.c), after the pipeline. */
int diff_plan(tt_diff *d);
/* Nonzero when point is one of the cache points. */
int diff_is_cache_point(const tt_diff *d, const char *point);
/* 0 before the layers, 1 in a layer, 2 after them. */
int diff_where_of(const tt_diff *d, const tt_diff_pair *p);
/* Position of a (interned) point in the stage order; nstages when it is not listed. */
int32_t diff_stage_rank(const tt_diff *d, const char *point);

#endif /* TT_DIFF_PAIR_H */
