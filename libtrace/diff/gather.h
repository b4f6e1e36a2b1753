/*
 * gather.h — reading a side gathered from tensor-parallel shards (pair.c builds it: tt_diff_side.nshards > 0).
 * Part of step 1 of the diff pipeline (see core.h); measure.c reads through it.
 */
#ifndef TT_DIFF_GATHER_H
#define TT_DIFF_GATHER_H

#include "core.h"

/* Buffers a reader of gathered sides reuses from one read to the next. */
typedef struct diff_scratch {
    uint8_t *a;   /* one shard's rows */
    size_t acap;
    double *acc, *tmp; /* PARTIAL: the running sum and the shard being added */
    size_t acc_cap, tmp_cap;
} diff_scratch;

void diff_scratch_free(diff_scratch *sc);

/* Reads rows [r0, r0+nr) of the gathered tensor s into dst (room for nr rows of the gathered shape).
 * @return : TT_OK, or an error with err naming the shard and its rank. */
int diff_gather_read(tt_reader *r, const tt_diff_side *s, uint64_t r0, uint64_t nr, uint8_t *dst, diff_scratch *sc,
                     char *err, size_t errlen);

#endif /* TT_DIFF_GATHER_H */
