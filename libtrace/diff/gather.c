/*
 * gather.c — reading a gathered side (pair.c, "gather"): the shards of a tensor-parallel tensor made whole
 * again. SPLIT shards are concatenated along their dimension (rows split along dimension 0 are read straight into
 * place; other dimensions through a scratch buffer, one shard at a time); PARTIAL shards are added in shard order
 * in double and rounded once to their dtype. Only the rows asked for are read from each shard.
 */
#include "gather.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tt/dtype.h"

static int grow(uint8_t **p, size_t *cap, uint64_t need)
{
    if (need > SIZE_MAX / 2)
        return TT_E_LIMIT;
    if (*p && *cap >= need)
        return TT_OK;
    uint8_t *q = realloc(*p, need ? (size_t)need : 1);
    if (!q)
        return TT_E_NOMEM;
    *p = q;
    *cap = need ? (size_t)need : 1;
    return TT_OK;
}

void diff_scratch_free(diff_scratch *sc)
{
    free(sc->a);
    free(sc->acc);
    free(sc->tmp);
    memset(sc, 0, sizeof *sc);
}

/* Reads rows [r0, r0+nr) of shard k (its own shape: the gathered one with its width along dim) into dst. */
static int read_shard_rows(tt_reader *r, const tt_diff_side *s, uint32_t k, uint64_t r0, uint64_t nr,
                           uint64_t shard_rows, void *dst, size_t dst_size, char *err, size_t errlen)
{
    int rc = (r0 == 0 && nr == shard_rows) ? tt_reader_read(r, s->shard_records[k], dst, dst_size)
                                           : tt_reader_read_rows(r, s->shard_records[k], r0, nr, dst, dst_size);
    if (rc != TT_OK)
        snprintf(err, errlen, "shard %u (rank %d): %s", k, (int)s->shard_ranks[k], tt_reader_errmsg(r));
    return rc;
}

int diff_gather_read(tt_reader *r, const tt_diff_side *s, uint64_t r0, uint64_t nr, uint8_t *dst, diff_scratch *sc,
                     char *err, size_t errlen)
{
    size_t es = tt_dtype_size(s->dtype);
    int nd = s->ndim;
    uint64_t rows = nd ? s->shape[0] : 1;
    uint64_t row_elems = 1;
    for (int i = 1; i < nd; i++)
        row_elems *= s->shape[i];
    int rc;
    if (s->key.shard_kind == TT_SHARD_SPLIT && s->key.shard_dim == 0) {
        /* rows split: each shard holds a run of rows, read into place */
        for (uint32_t k = 0; k < s->nshards; k++) {
            uint64_t b = s->shard_begin[k], e = s->shard_begin[k + 1];
            uint64_t lo = b > r0 ? b : r0, hi = e < r0 + nr ? e : r0 + nr;
            if (lo >= hi)
                continue;
            uint8_t *at = dst + (lo - r0) * row_elems * es;
            if ((rc = read_shard_rows(r, s, k, lo - b, hi - lo, e - b, at, (size_t)((hi - lo) * row_elems * es), err,
                                      errlen)) != TT_OK)
                return rc;
        }
        return TT_OK;
    }
    if (s->key.shard_kind == TT_SHARD_SPLIT) {
        /* [outer, D, inner] with D split: each shard's [outer, w_k, inner] block rows go to their columns */
        int dim = s->key.shard_dim;
        uint64_t outer = nr, inner = es;
        for (int i = 1; i < dim; i++)
            outer *= s->shape[i];
        for (int i = dim + 1; i < nd; i++)
            inner *= s->shape[i];
        uint64_t full = s->shape[dim] * inner;
        for (uint32_t k = 0; k < s->nshards; k++) {
            uint64_t w = s->shard_begin[k + 1] - s->shard_begin[k];
            uint64_t bytes = outer * w * inner;
            if ((rc = grow(&sc->a, &sc->acap, bytes)) != TT_OK) {
                snprintf(err, errlen, "no memory for %llu bytes of shard %u", (unsigned long long)bytes, k);
                return rc;
            }
            if ((rc = read_shard_rows(r, s, k, r0, nr, rows, sc->a, sc->acap, err, errlen)) != TT_OK)
                return rc;
            uint64_t piece = w * inner;
            uint8_t *to = dst + s->shard_begin[k] * inner;
            const uint8_t *from = sc->a;
            for (uint64_t o = 0; o < outer; o++, to += full, from += piece)
                memcpy(to, from, (size_t)piece);
        }
        return TT_OK;
    }
    /* PARTIAL: the sum of the shards in shard order, in double, rounded once */
    uint64_t n = (nd ? nr : 1) * row_elems;
    if ((rc = grow((uint8_t **)&sc->acc, &sc->acc_cap, n * sizeof(double))) != TT_OK ||
        (rc = grow((uint8_t **)&sc->tmp, &sc->tmp_cap, n * sizeof(double))) != TT_OK ||
        (rc = grow(&sc->a, &sc->acap, n * (es > sizeof(float) ? es : sizeof(float)))) != TT_OK) {
        snprintf(err, errlen, "no memory to add %llu elements", (unsigned long long)n);
        return rc;
    }
    double *acc = sc->acc, *tmp = sc->tmp;
    for (uint32_t k = 0; k < s->nshards; k++) {
        if ((rc = read_shard_rows(r, s, k, nd ? r0 : 0, nd ? nr : 1, rows, sc->a, sc->acap, err, errlen)) != TT_OK)
            return rc;
        if (tt_to_f64(s->dtype, sc->a, (size_t)n, k ? tmp : acc) != TT_OK) {
            snprintf(err, errlen, "partial sums of dtype %s cannot be added", tt_dtype_name(s->dtype));
            return TT_E_INVAL;
        }
        if (k)
            for (uint64_t i = 0; i < n; i++)
                acc[i] += tmp[i];
    }
    if (s->dtype == TT_F64) {
        memcpy(dst, acc, (size_t)(n * sizeof(double)));
        return TT_OK;
    }
    float *f = (float *)(void *)sc->a;
    for (uint64_t i = 0; i < n; i++)
        f[i] = (float)acc[i];
    if (tt_from_f32(s->dtype, f, (size_t)n, dst) != TT_OK) {
        snprintf(err, errlen, "partial sums of dtype %s cannot be added", tt_dtype_name(s->dtype));
        return TT_E_INVAL;
    }
    return TT_OK;
}
