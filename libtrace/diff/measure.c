/*
 * measure.c — step 2 of the diff pipeline (see core.h), comparing the pairs: a pool of worker threads takes pairs in
 * order from an atomic counter; each worker has its own reader per file (a reader handle is single-threaded) and
 * two reusable buffers, so memory is a few tensors per thread whatever the file size. Tensors larger than opts.slab_bytes are compared in row slabs.
 * Hash-equal pairs are MATCH without reading. Each worker writes only the pairs it took, so no lock is needed.
 * Two whole f32/bf16 records with statistics are compared with the stored norms (see measure_kernel.c); the side
 * read first alternates from pair to pair, and the buffers ask for huge pages (both for the cache and the TLB).
 */
#define _POSIX_C_SOURCE 200809L
#define _DEFAULT_SOURCE /* MADV_HUGEPAGE */
#include "measure.h"
#include "reader_impl.h"
#include "gather.h"
#include "pair.h"

#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tt/dtype.h"

#define MAX_THREADS 16

/* Per-pair error messages, indexed like the pairs; interned by the main thread after the workers end. */
typedef struct err_slot {
    char msg[DIFF_ERRMSG];
} err_slot;

typedef struct shared {
    tt_diff *d;
    err_slot *slots;
    atomic_size_t next;
    atomic_int fatal; /* TT_E_NOMEM or an open failure stops everyone */
    char fatal_msg[DIFF_ERRMSG];
    pthread_mutex_t lock; /* guards fatal_msg only */
    atomic_uint_fast64_t bytes;
} shared;

typedef struct worker {
    shared *sh;
    tt_reader *r[2];
    uint8_t *buf[2];
    size_t cap[2];
    diff_scratch sc; /* gathered sides */
    int flip;       /* which side the next pair of reads starts with */
    double *sx, *sy; /* the sample of the pair being compared (SAMPLE_MAX each) */
} worker;

/* The sample the robust scale, the judged error of tensors with outliers and the scale/offset fit are computed
 * on: every element up to SAMPLE_MAX, else SAMPLE_MAX / SAMPLE_RUN contiguous runs spread evenly over the region
 * (runs, not strides: a sixteenth of the cache lines instead of all of them). */
#define SAMPLE_MAX 16384
#define SAMPLE_RUN 256
/* An element of the reference beyond OUTLIER_X times the RMS of the others is an outlier (a massive channel). */
#define OUTLIER_X 10.0
/* Fewer elements than this (finite, not outliers) and there is no fit. */
#define FIT_MIN 32

/* Grows a worker buffer (contents are not kept; at least one byte, so a reader never gets NULL): tt__ensure(), whose
 * buffers of 2 MiB and more are 2 MiB-aligned and ask for transparent huge pages. Every tensor is written into
 * them by the decoder, hashed and compared, and with 4 KiB pages that streaming pays TLB misses (measured: 1 to 3%
 * of tracediff's CPU time on 1 GiB of 4 MiB tensors; the first touch of a huge page costs more, so short runs
 * gain nothing). */
static int grow_buf(uint8_t **b, size_t *cap, uint64_t need)
{
    if (need > SIZE_MAX / 2)
        return TT_E_LIMIT;
    return tt__ensure(b, cap, need ? (size_t)need : 1);
}

static uint64_t row_bytes_of(const tt_diff_side *s, uint64_t nbytes_whole)
{
    uint64_t rows = s->ndim ? s->shape[0] : 1;
    return rows ? nbytes_whole / rows : 0;
}

static uint64_t side_nbytes(const tt_diff_side *s)
{
    uint64_t elems = 0, nb = 0;
    if (tt_shape_elems(s->ndim, s->shape, tt_dtype_size(s->dtype), &elems, &nb) != TT_OK)
        return 0;
    return nb;
}

static int read_rows_sc(tt_reader *r, const tt_diff_side *s, uint64_t r0, uint64_t nr, uint8_t **buf, size_t *cap,
                        diff_scratch *sc, char *err, size_t errlen);

int diff_read_rows(tt_reader *r, const tt_diff_side *s, uint64_t r0, uint64_t nr, uint8_t **buf, size_t *cap,
                   char *err, size_t errlen)
{
    diff_scratch sc;
    memset(&sc, 0, sizeof sc);
    int rc = read_rows_sc(r, s, r0, nr, buf, cap, &sc, err, errlen);
    diff_scratch_free(&sc);
    return rc;
}

/* diff_read_rows() with the scratch of a gathered side kept by the caller. */
static int read_rows_sc(tt_reader *r, const tt_diff_side *s, uint64_t r0, uint64_t nr, uint8_t **buf, size_t *cap,
                        diff_scratch *sc, char *err, size_t errlen)
{
    uint64_t whole = side_nbytes(s);
    uint64_t rows = s->ndim ? s->shape[0] : 1;
    int is_whole = r0 == 0 && nr == rows;
    uint64_t need = is_whole ? whole : nr * row_bytes_of(s, whole);
    int rc = grow_buf(buf, cap, need);
    if (rc != TT_OK) {
        snprintf(err, errlen, "no memory for %llu bytes of record %llu", (unsigned long long)need,
                 (unsigned long long)s->record);
        return rc;
    }
    if (s->nshards)
        return diff_gather_read(r, s, r0, nr, *buf, sc, err, errlen);
    rc = is_whole ? tt_reader_read(r, s->record, *buf, *cap) : tt_reader_read_rows(r, s->record, r0, nr, *buf, *cap);
    if (rc != TT_OK)
        snprintf(err, errlen, "%s", tt_reader_errmsg(r));
    return rc;
}

/* The shape of the compared region: [row_count, shape[1..]] (rank 0 stays rank 0). */
static void region_shape(const tt_diff_side *s, int *nd, uint64_t *sh)
{
    *nd = s->ndim;
    for (int i = 0; i < s->ndim; i++)
        sh[i] = s->shape[i];
    if (s->ndim)
        sh[0] = s->row_count;
}

/* Two regions fit when their shapes agree once dimensions of size 1 are dropped. */
static int regions_fit(const tt_diff_side *a, const tt_diff_side *b, char *err, size_t errlen)
{
    int na, nb;
    uint64_t sa[TT_MAX_DIMS], sb[TT_MAX_DIMS], ca[TT_MAX_DIMS], cb[TT_MAX_DIMS];
    region_shape(a, &na, sa);
    region_shape(b, &nb, sb);
    int ka = 0, kb = 0;
    for (int i = 0; i < na; i++)
        if (sa[i] != 1)
            ca[ka++] = sa[i];
    for (int i = 0; i < nb; i++)
        if (sb[i] != 1)
            cb[kb++] = sb[i];
    int ok = ka == kb;
    for (int i = 0; ok && i < ka; i++)
        ok = ca[i] == cb[i];
    if (!ok) {
        char x[160] = "", y[160] = "";
        size_t o = 0;
        for (int i = 0; i < na && o < sizeof x - 24; i++)
            o += (size_t)snprintf(x + o, sizeof x - o, "%s%llu", i ? "," : "", (unsigned long long)sa[i]);
        o = 0;
        for (int i = 0; i < nb && o < sizeof y - 24; i++)
            o += (size_t)snprintf(y + o, sizeof y - o, "%s%llu", i ? "," : "", (unsigned long long)sb[i]);
        snprintf(err, errlen, "shapes [%s] and [%s] do not fit", x, y);
    }
    return ok;
}

/* Attention scores and probabilities ([rows, heads, kv_len]). */
static int is_score_point(const char *point)
{
    return point && (strcmp(point, "attn_scores") == 0 || strcmp(point, "attn_probs") == 0);
}

int diff_common_columns(const tt_diff_pair *p, uint64_t *outer, uint64_t *lcols, uint64_t *rcols)
{
    const tt_diff_side *a = &p->left, *b = &p->right;
    if (!is_score_point(p->point) || !a->ndim || !b->ndim)
        return 0;
    int na, nb;
    uint64_t sa[TT_MAX_DIMS], sb[TT_MAX_DIMS];
    region_shape(a, &na, sa);
    region_shape(b, &nb, sb);
    uint64_t la = sa[na - 1], lb = sb[nb - 1];
    if (la == lb || !la || !lb)
        return 0;
    /* the other dimensions, without those of size 1, must agree */
    uint64_t ca[TT_MAX_DIMS], cb[TT_MAX_DIMS], o = 1;
    int ka = 0, kb = 0;
    for (int i = 0; i < na - 1; i++)
        if (sa[i] != 1)
            ca[ka++] = sa[i];
    for (int i = 0; i < nb - 1; i++)
        if (sb[i] != 1)
            cb[kb++] = sb[i];
    if (ka != kb)
        return 0;
    for (int i = 0; i < ka; i++) {
        if (ca[i] != cb[i])
            return 0;
        o *= ca[i];
    }
    *outer = o;
    *lcols = la;
    *rcols = lb;
    return 1;
}

/* Keeps the first `keep` of every `cols` elements of `outer` rows, packed at the front of buf. */
static void keep_columns(uint8_t *buf, size_t esize, uint64_t outer, uint64_t cols, uint64_t keep)
{
    if (keep == cols)
        return;
    for (uint64_t o = 1; o < outer; o++)
        memmove(buf + o * keep * esize, buf + o * cols * esize, (size_t)(keep * esize));
}

uint64_t diff_keep_common_columns(const tt_diff_pair *p, uint8_t *lbuf, uint8_t *rbuf, uint64_t *lcols,
                                  uint64_t *keep)
{
    uint64_t outer, lc, rc;
    if (!diff_common_columns(p, &outer, &lc, &rc))
        return 0;
    uint64_t k = lc < rc ? lc : rc;
    keep_columns(lbuf, tt_dtype_size(p->left.dtype), outer, lc, k);
    keep_columns(rbuf, tt_dtype_size(p->right.dtype), outer, rc, k);
    if (lcols)
        *lcols = lc;
    if (keep)
        *keep = k;
    return outer * k;
}

/* An element index of a region packed to `keep` of its `cols` columns, in the unpacked region. */
static uint64_t unpacked_index(uint64_t index, uint64_t cols, uint64_t keep)
{
    return keep && keep != cols ? index / keep * cols + index % keep : index;
}

static void set_coords(const tt_diff_side *s, uint64_t index, uint64_t *coord)
{
    int nd;
    uint64_t sh[TT_MAX_DIMS];
    region_shape(s, &nd, sh);
    memset(coord, 0, TT_MAX_DIMS * sizeof *coord);
    for (int i = nd - 1; i >= 0; i--) {
        if (sh[i]) {
            coord[i] = index % sh[i];
            index /= sh[i];
        }
    }
    if (nd)
        coord[0] += s->row_begin;
}

/* RMS of the reference record from its stored statistics (finite elements), else of the other side's. */
static double ref_rms(const tt_diff_side *r, const tt_diff_side *l)
{
    for (int k = 0; k < 2; k++) {
        const tt_diff_side *s = k ? l : r;
        uint64_t e, nb;
        if (!(s->flags & TT_REC_HAS_STATS) || !isfinite(s->stats.l2) ||
            tt_shape_elems(s->ndim, s->shape, 1, &e, &nb) != TT_OK)
            continue;
        uint64_t fin = e - (s->stats.nan_count + s->stats.inf_count < e ? s->stats.nan_count + s->stats.inf_count : e);
        if (fin)
            return s->stats.l2 / sqrt((double)fin);
    }
    return 0;
}

/* Stats-only comparison (legacy imports): equal hashes MATCH; else min/max/mean within the tolerance. */
static void compare_stats(tt_diff_pair *p)
{
    const tt_diff_side *l = &p->left, *r = &p->right;
    int lh = (l->flags & TT_REC_HAS_HASH) != 0, rh = (r->flags & TT_REC_HAS_HASH) != 0;
    int ls = (l->flags & TT_REC_HAS_STATS) != 0, rs = (r->flags & TT_REC_HAS_STATS) != 0;
    p->flags |= (ls && rs) ? TT_DIFF_PAIR_STATS_ONLY : TT_DIFF_PAIR_HASH_ONLY;
    if (lh && rh && l->hash == r->hash && l->dtype == r->dtype) {
        p->numeric_verdict = TT_DIFF_MATCH;
        return;
    }
    if (!(ls && rs)) {
        p->numeric_verdict = TT_DIFF_MISMATCH;
        return;
    }
    const double a[3] = {l->stats.min, l->stats.max, l->stats.mean};
    const double b[3] = {r->stats.min, r->stats.max, r->stats.mean};
    int compared = 0, outside = 0;
    double worst = 0, worst_tol = 0;
    for (int k = 0; k < 3; k++) {
        if (isnan(a[k]) || isnan(b[k]))
            continue;
        compared++;
        double dd = fabs(a[k] - b[k]), tol = p->m.atol + p->m.rtol * fabs(b[k]);
        if (dd > tol)
            outside++;
        if (dd > worst || k == 0) {
            worst = dd;
            worst_tol = tol;
        }
    }
    p->m.max_abs = worst;
    p->m.outside_tol = (uint64_t)outside;
    p->jump_baseline = worst_tol; /* reused by the judge for the evidence text */
    p->numeric_verdict = compared && !outside ? TT_DIFF_WITHIN_TOL : TT_DIFF_MISMATCH;
}

/* Reads the rows of both sides into the worker's buffers. The side read first alternates from one call to the
 * next, so that each reader's decode buffers are used twice in a row (one of them still in cache). */
static int read_both(worker *w, const tt_diff_side *l, const tt_diff_side *r, uint64_t l0, uint64_t r0, uint64_t lnr,
                     uint64_t rnr, char *err, size_t errlen)
{
    int rc = TT_OK, s = 0;
    char msg[200] = "";
    for (int k = 0; k < 2 && rc == TT_OK; k++) {
        s = k ^ w->flip;
        rc = s ? read_rows_sc(w->r[1], r, r0, rnr, &w->buf[1], &w->cap[1], &w->sc, msg, sizeof msg)
               : read_rows_sc(w->r[0], l, l0, lnr, &w->buf[0], &w->cap[0], &w->sc, msg, sizeof msg);
    }
    w->flip ^= 1;
    if (rc != TT_OK) {
        const tt_diff *d = w->sh->d;
        const tt_diff_side *x = s ? r : l;
        snprintf(err, errlen, "%s (%s side), record %llu (%s layer %d): %s", s ? d->right_path : d->left_path,
                 s ? "right" : "left", (unsigned long long)x->record, x->key.point ? x->key.point : "?",
                 (int)x->key.layer, msg);
    }
    return rc;
}

/* Gathers the sample (finite elements on both sides) of n elements at bl / br into w->sx / w->sy; returns its size. */
static size_t gather_sample(worker *w, tt_dtype dl, const uint8_t *bl, tt_dtype dr, const uint8_t *br, size_t n)
{
    size_t el = tt_dtype_size(dl), er = tt_dtype_size(dr), m = 0;
    size_t runs = n <= SAMPLE_MAX ? 1 : SAMPLE_MAX / SAMPLE_RUN, len = n <= SAMPLE_MAX ? n : SAMPLE_RUN;
    for (size_t k = 0; k < runs; k++) {
        size_t start = runs == 1 ? 0 : (size_t)((double)k * (double)(n - len) / (double)(runs - 1));
        double *x = w->sx + m, *y = w->sy + m;
        tt_to_f64(dl, bl + start * el, len, x);
        tt_to_f64(dr, br + start * er, len, y);
        size_t kept = 0;
        for (size_t i = 0; i < len; i++)
            if (isfinite(x[i]) && isfinite(y[i])) {
                x[kept] = x[i];
                y[kept] = y[i];
                kept++;
            }
        m += kept;
    }
    return m;
}

/* From the sample: the robust scale of the reference (the RMS of the elements within OUTLIER_X times it, found by
 * a few fixed-point steps from the plain RMS), the outliers, the judged error on the sample and the fit
 * d = alpha*r + beta over the elements that are not outliers, with heteroscedasticity-robust (HC0) t statistics. */
static void judge_sample(tt_diff_judgement *j, const double *x, const double *y, size_t m, double *sample_error)
{
    double s2 = 0;
    for (size_t i = 0; i < m; i++)
        s2 += y[i] * y[i];
    double rho = m ? sqrt(s2 / (double)m) : 0;
    for (int it = 0; it < 6 && rho > 0; it++) {
        double lim = OUTLIER_X * rho, acc = 0;
        size_t c = 0;
        for (size_t i = 0; i < m; i++)
            if (fabs(y[i]) <= lim) {
                acc += y[i] * y[i];
                c++;
            }
        double nr = c ? sqrt(acc / (double)c) : rho;
        if (nr == rho)
            break;
        rho = nr;
    }
    j->scale = rho;
    j->sampled = m;
    double lim = OUTLIER_X * rho, e2 = 0, sy = 0, sd = 0;
    uint64_t out = 0, nc = 0;
    for (size_t i = 0; i < m; i++) {
        double d = x[i] - y[i];
        if (fabs(y[i]) > lim) {
            out++;
            double q = d * rho / y[i];
            e2 += q * q;
        } else {
            e2 += d * d;
            sy += y[i];
            sd += d;
            nc++;
        }
    }
    j->outliers = out;
    *sample_error = m && rho > 0 ? sqrt(e2 / (double)m) / rho : (e2 > 0 ? INFINITY : 0);
    j->fit_n = nc;
    if (nc < FIT_MIN || !(rho > 0))
        return;
    double my = sy / (double)nc, md = sd / (double)nc, syy = 0, syd = 0;
    for (size_t i = 0; i < m; i++) {
        if (fabs(y[i]) > lim)
            continue;
        double cy = y[i] - my, cd = x[i] - y[i] - md;
        syy += cy * cy;
        syd += cy * cd;
    }
    if (!(syy > 0))
        return;
    double alpha = syd / syy, beta = md - alpha * my, va = 0, ve = 0;
    for (size_t i = 0; i < m; i++) {
        if (fabs(y[i]) > lim)
            continue;
        double cy = y[i] - my, e = x[i] - y[i] - md - alpha * cy;
        va += cy * cy * e * e;
        ve += e * e;
    }
    va /= syy * syy;
    double vb = ve / ((double)nc * (double)nc) + my * my * va;
    j->fit_alpha = alpha;
    j->fit_beta = beta / rho;
    j->fit_alpha_t = va > 0 ? alpha / sqrt(va) : (alpha != 0 ? INFINITY : 0);
    j->fit_beta_t = vb > 0 ? beta / sqrt(vb) : (beta != 0 ? INFINITY : 0);
}

/* The scale the judgement uses, from the sample taken of the first rows read (n elements in the worker's
 * buffers): the reference's RMS, or its robust scale when it has outlying elements. (The element tolerance keeps
 * the RMS: it is the net for a few grossly wrong elements; softmax outputs, whose largest elements always stand
 * out, carry relative errors of several units there without a fault.) */
static void take_sample(worker *w, tt_diff_pair *p, size_t n, double *sample_error)
{
    tt_diff_judgement *j = &p->j;
    size_t m = gather_sample(w, p->left.dtype, w->buf[0], p->right.dtype, w->buf[1], n);
    judge_sample(j, w->sx, w->sy, m, sample_error);
    const tt_diff_side *r = &p->right;
    double absmax = 0;
    if ((r->flags & TT_REC_HAS_STATS) && isfinite(r->stats.absmax))
        absmax = r->stats.absmax;
    else
        for (size_t i = 0; i < m; i++)
            absmax = fabs(w->sy[i]) > absmax ? fabs(w->sy[i]) : absmax;
    if (j->scale > 0 && absmax > OUTLIER_X * j->scale) {
        p->flags |= TT_DIFF_PAIR_OUTLIERS;
    } else {
        j->outliers = 0;
        *sample_error = NAN;
        if (p->m.ref_rms > 0)
            j->scale = p->m.ref_rms;
    }
}

/* Packs both sides' buffers to their common leading columns and takes the reference's RMS and the absolute
 * tolerance from the columns compared (the record's statistics cover all of its columns, masked ones included). */
static void crop_both(worker *w, tt_diff_pair *p)
{
    size_t n = (size_t)diff_keep_common_columns(p, w->buf[0], w->buf[1], NULL, NULL);
    size_t es = tt_dtype_size(p->right.dtype), fin = 0;
    double s2 = 0;
    for (size_t i = 0; i < n; i += SAMPLE_MAX) {
        size_t c = n - i < SAMPLE_MAX ? n - i : SAMPLE_MAX;
        tt_to_f64(p->right.dtype, w->buf[1] + i * es, c, w->sy);
        for (size_t k = 0; k < c; k++)
            if (isfinite(w->sy[k])) {
                s2 += w->sy[k] * w->sy[k];
                fin++;
            }
    }
    p->m.ref_rms = fin ? sqrt(s2 / (double)fin) : 0;
    p->m.atol = p->m.atol_abs + p->m.atol_rms * p->m.ref_rms;
    p->j.scale = p->m.ref_rms;
}

static int compare_pair(worker *w, tt_diff_pair *p, char *err, size_t errlen, int *read_failed)
{
    tt_diff *d = w->sh->d;
    tt_diff_side *l = &p->left, *r = &p->right;
    uint64_t lrows = l->ndim ? l->shape[0] : 1, rrows = r->ndim ? r->shape[0] : 1;
    int lwhole = l->row_begin == 0 && l->row_count == lrows, rwhole = r->row_begin == 0 && r->row_count == rrows;
    /* the stage's precision (pair.c: the coarsest of its dtypes and its inputs') decides the default tolerance */
    tt_dtype td = p->j.precision;
    const char *src;
    diff_tol_lookup(d->tols, p->point, p->layer, td, &p->m.rtol, &p->m.atol_abs, &p->m.atol_rms, &src);
    p->m.tol_source = src; /* NULL: the dtype default, named by the judge */
    p->m.ref_rms = ref_rms(r, l);
    p->m.atol = p->m.atol_abs + p->m.atol_rms * p->m.ref_rms;
    if (!isfinite(p->m.atol))
        p->m.atol = p->m.atol_abs;
    if (l->dtype != r->dtype)
        p->flags |= TT_DIFF_PAIR_DTYPES;
    p->j.scale = p->m.ref_rms;
    p->j.ulp_dtype = l->dtype == r->dtype ? l->dtype
                     : diff_dtype_eps(l->dtype) >= diff_dtype_eps(r->dtype) ? l->dtype : r->dtype;
    /* records whose statistics count NaN/Inf are read even when their hashes agree: where they are is reported */
    int nonfinite = ((l->flags & TT_REC_HAS_STATS) && (l->stats.nan_count || l->stats.inf_count)) ||
                    ((r->flags & TT_REC_HAS_STATS) && (r->stats.nan_count || r->stats.inf_count));

    if (lwhole && rwhole && (l->flags & TT_REC_HAS_HASH) && (r->flags & TT_REC_HAS_HASH) && l->hash == r->hash &&
        l->dtype == r->dtype && side_nbytes(l) == side_nbytes(r) && !d->o.verify_identical && !nonfinite &&
        regions_fit(l, r, err, errlen)) {
        p->flags |= TT_DIFF_PAIR_HASH_SKIP;
        if (!(l->flags & TT_REC_HAS_PAYLOAD) || !(r->flags & TT_REC_HAS_PAYLOAD))
            p->flags |= ((l->flags & r->flags) & TT_REC_HAS_STATS) ? TT_DIFF_PAIR_STATS_ONLY : TT_DIFF_PAIR_HASH_ONLY;
        p->numeric_verdict = TT_DIFF_MATCH;
        p->m.elems = side_nbytes(l) / (tt_dtype_size(l->dtype) ? tt_dtype_size(l->dtype) : 1);
        p->m.max_ulp = 0;
        p->m.cosine = 1;
        return TT_OK;
    }
    int lp = (l->flags & TT_REC_HAS_PAYLOAD) && !(l->flags & TT_REC_LOST);
    int rp = (r->flags & TT_REC_HAS_PAYLOAD) && !(r->flags & TT_REC_LOST);
    if (!lp || !rp || !tt_dtype_size(l->dtype) || !tt_dtype_size(r->dtype)) {
        if ((l->flags & TT_REC_LOST) || (r->flags & TT_REC_LOST)) {
            snprintf(err, errlen, "the %s record's tensor did not survive (recovered file)",
                     (l->flags & TT_REC_LOST) ? "left" : "right");
            return TT_E_CORRUPT;
        }
        compare_stats(p);
        p->j.error = NAN;
        return TT_OK;
    }
    /* attention scores/probabilities over different context lengths: their common leading columns */
    uint64_t outer = 0, lcols = 0, rcols = 0;
    int crop = 0;
    if (!regions_fit(l, r, err, errlen)) {
        if (!diff_common_columns(p, &outer, &lcols, &rcols))
            return TT_E_MISMATCH;
        crop = 1;
        err[0] = 0;
    }
    uint64_t keep = lcols < rcols ? lcols : rcols;

    uint64_t lwb = side_nbytes(l), rwb = side_nbytes(r);
    uint64_t lrb = row_bytes_of(l, lwb), rrb = row_bytes_of(r, rwb);
    uint64_t lbytes = l->ndim ? l->row_count * lrb : lwb, rbytes = r->ndim ? r->row_count * rrb : rwb;
    size_t le = tt_dtype_size(l->dtype), re = tt_dtype_size(r->dtype);
    cmp_acc acc;
    cmp_acc_init(&acc, l->dtype == r->dtype);
    if (l->dtype != r->dtype)
        acc.coarse = p->j.ulp_dtype;
    double sample_error = NAN;
    /* Two whole f32/bf16 records with statistics and no NaN/Inf: their norms are the writer's l2 (double sums of
     * the same finite elements), so the kernel sums only <l,r>. Checked against the pass's own sums after it. */
    if (!crop && lwhole && rwhole && l->dtype == r->dtype && (l->dtype == TT_F32 || l->dtype == TT_BF16) &&
        (l->flags & r->flags & TT_REC_HAS_STATS) && !l->stats.nan_count && !l->stats.inf_count &&
        !r->stats.nan_count && !r->stats.inf_count && isfinite(l->stats.l2) && isfinite(r->stats.l2))
        cmp_acc_use_stats(&acc, l->stats.l2, r->stats.l2);
    int rc;
    /* row slabs when both regions are large and have the same rows */
    size_t ncmp = crop ? (size_t)(outer * keep) : (size_t)(lbytes / le); /* elements compared (not in slabs) */
    int slabs = !crop && (lbytes > d->o.slab_bytes || rbytes > d->o.slab_bytes) && l->ndim && r->ndim &&
                l->row_count == r->row_count && lrb / le == rrb / re && lrb && rrb;
    for (int pass = 0;; pass++) {
        if (slabs) {
            uint64_t per = d->o.slab_bytes / (lrb > rrb ? lrb : rrb);
            if (!per)
                per = 1;
            for (uint64_t k = 0; k < l->row_count; k += per) {
                uint64_t nr = l->row_count - k < per ? l->row_count - k : per;
                if ((rc = read_both(w, l, r, l->row_begin + k, r->row_begin + k, nr, nr, err, errlen)) != TT_OK) {
                    *read_failed = 1;
                    return rc;
                }
                if (pass == 0 && k == 0)
                    take_sample(w, p, (size_t)(nr * lrb / le), &sample_error);
                cmp_block(&acc, l->dtype, w->buf[0], r->dtype, w->buf[1], (size_t)(nr * lrb / le), k * (lrb / le),
                          p->m.rtol, p->m.atol);
            }
        } else {
            if (pass == 0) {
                if ((rc = read_both(w, l, r, l->row_begin, r->row_begin, l->row_count, r->row_count, err, errlen)) !=
                    TT_OK) {
                    *read_failed = 1;
                    return rc;
                }
                if (crop)
                    crop_both(w, p);
                take_sample(w, p, ncmp, &sample_error);
            }
            cmp_block(&acc, l->dtype, w->buf[0], r->dtype, w->buf[1], ncmp, 0, p->m.rtol, p->m.atol);
        }
        if (cmp_stats_consistent(&acc))
            break;
        /* statistics that disagree with the data: compare again, summing the squares */
        cmp_acc_init(&acc, l->dtype == r->dtype);
        if (l->dtype != r->dtype)
            acc.coarse = p->j.ulp_dtype;
    }
    atomic_fetch_add(&w->sh->bytes, lbytes + rbytes);
    cmp_finish(&acc, &p->m);
    if (crop)
        p->m.max_abs_index = unpacked_index(p->m.max_abs_index, lcols, keep);
    set_coords(l, p->m.max_abs_index, p->m.max_abs_coord);
    diff_split_rank(p);
    p->flags |= TT_DIFF_PAIR_COMPARED;
    for (int s = 0; s < 2; s++) {
        tt_diff_nonfinite *nf = &p->j.nonfinite[s];
        nf->nan = acc.nan[s];
        nf->inf = acc.inf[s];
        nf->neg_inf = acc.neg_inf[s];
        nf->neg_inf_agree = acc.neg_inf_agree;
        nf->first = acc.first[s] >= 0 && crop ? (int64_t)unpacked_index((uint64_t)acc.first[s], lcols, keep)
                                              : acc.first[s];
        nf->first_value = acc.first_value[s];
        if (nf->first >= 0) {
            set_coords(l, (uint64_t)nf->first, nf->first_coord);
            p->flags |= TT_DIFF_PAIR_NONFINITE;
        }
    }
    p->j.error = isnan(sample_error) ? p->m.rel_l2 : sample_error;
    if (p->m.nan_mismatch || p->m.inf_mismatch || p->m.outside_tol)
        p->numeric_verdict = TT_DIFF_MISMATCH;
    else if (p->m.diff_elems == 0 && l->dtype == r->dtype)
        p->numeric_verdict = TT_DIFF_MATCH;
    else
        p->numeric_verdict = TT_DIFF_WITHIN_TOL;
    return TT_OK;
}

static void *worker_main(void *arg)
{
    worker *w = arg;
    shared *sh = w->sh;
    tt_diff *d = sh->d;
    err_slot *slots = sh->slots;
    for (;;) {
        if (atomic_load(&sh->fatal))
            break;
        size_t i = atomic_fetch_add(&sh->next, 1);
        if (i >= d->npairs)
            break;
        tt_diff_pair *p = &d->pairs[i];
        if (!p->left.present || !p->right.present || (p->flags & TT_DIFF_PAIR_ERROR))
            continue; /* ERROR already: a shard missing or held twice (pair.c) */
        char err[sizeof slots[i].msg] = "";
        int read_failed = 0;
        int rc = compare_pair(w, p, err, sizeof err, &read_failed);
        if (rc == TT_E_NOMEM || (rc != TT_OK && read_failed)) {
            /* damaged input is an input error of the run, never a verdict on a pair */
            int expected = 0;
            if (atomic_compare_exchange_strong(&sh->fatal, &expected, rc)) {
                pthread_mutex_lock(&sh->lock);
                snprintf(sh->fatal_msg, sizeof sh->fatal_msg, "%s", err[0] ? err : "out of memory");
                pthread_mutex_unlock(&sh->lock);
            }
            break;
        }
        if (rc != TT_OK) {
            p->flags |= TT_DIFF_PAIR_ERROR;
            p->numeric_verdict = TT_DIFF_MISMATCH;
            snprintf(slots[i].msg, sizeof slots[i].msg, "%s", err[0] ? err : tt_strerror(rc));
        }
    }
    return NULL;
}

static int open_worker(shared *sh, worker *w)
{
    tt_diff *d = sh->d;
    memset(w, 0, sizeof *w);
    w->sh = sh;
    w->sx = malloc(SAMPLE_MAX * sizeof *w->sx);
    w->sy = malloc(SAMPLE_MAX * sizeof *w->sy);
    if (!w->sx || !w->sy)
        return diff_err(d, TT_E_NOMEM, "out of memory");
    for (int s = 0; s < 2; s++) {
        if (s == 1 && d->same_file) {
            w->r[1] = NULL;
            break;
        }
        int rc = diff_open_side(d, s, &w->r[s]);
        if (rc != TT_OK) {
            diff_err(d, rc, "%s", w->r[s] ? tt_reader_errmsg(w->r[s]) : tt_strerror(rc));
            return rc;
        }
    }
    return TT_OK;
}

static void close_worker(worker *w)
{
    free(w->sx);
    free(w->sy);
    tt_reader_close(w->r[0]);
    tt_reader_close(w->r[1]);
    free(w->buf[0]);
    free(w->buf[1]);
    diff_scratch_free(&w->sc);
}

int diff_compare_all(tt_diff *d)
{
    uint32_t nt = d->o.threads;
    if (!nt) {
        long c = sysconf(_SC_NPROCESSORS_ONLN);
        nt = c > 0 ? (uint32_t)c : 1;
    }
    if (nt > MAX_THREADS)
        nt = MAX_THREADS;
    size_t need = 0;
    for (size_t i = 0; i < d->npairs; i++)
        need += d->pairs[i].left.present && d->pairs[i].right.present;
    if (nt > need)
        nt = need ? (uint32_t)need : 1;
    d->threads = nt;

    err_slot *slots = calloc(d->npairs ? d->npairs : 1, sizeof *slots);
    worker *ws = calloc(nt, sizeof *ws);
    if (!slots || !ws) {
        free(slots);
        free(ws);
        return diff_err(d, TT_E_NOMEM, "out of memory");
    }
    shared sh;
    memset(&sh, 0, sizeof sh);
    sh.d = d;
    atomic_init(&sh.next, 0);
    atomic_init(&sh.fatal, 0);
    atomic_init(&sh.bytes, 0);
    pthread_mutex_init(&sh.lock, NULL);
    sh.slots = slots;
    int rc = TT_OK;
    uint32_t started = 0;
    pthread_t *tids = calloc(nt, sizeof *tids);
    if (!tids)
        rc = diff_err(d, TT_E_NOMEM, "out of memory");
    for (uint32_t t = 0; t < nt && rc == TT_OK; t++) {
        if ((rc = open_worker(&sh, &ws[t])) != TT_OK)
            break;
    }
    if (rc == TT_OK) {
        for (uint32_t t = 0; t < nt; t++) {
            /* same file: both sides read through one handle per worker; two files: the worker's two readers
             * decode into one set of buffers, so that half as much of the cache goes to them (measured: tracediff
             * 10-15 % faster on two 1 GiB traces that differ everywhere) */
            if (d->same_file)
                ws[t].r[1] = ws[t].r[0];
            else
                tt__reader_share_buffers(ws[t].r[1], ws[t].r[0]);
        }
        if (nt == 1) {
            worker_main(&ws[0]);
        } else {
            for (; started < nt; started++)
                if (pthread_create(&tids[started], NULL, worker_main, &ws[started]) != 0)
                    break;
            if (started == 0)
                worker_main(&ws[0]);
            for (uint32_t t = 0; t < started; t++)
                pthread_join(tids[t], NULL);
        }
        for (uint32_t t = 0; t < nt; t++)
            if (d->same_file)
                ws[t].r[1] = NULL;
        if (atomic_load(&sh.fatal))
            rc = diff_err(d, atomic_load(&sh.fatal), "%s", sh.fatal_msg);
    }
    for (uint32_t t = 0; t < nt; t++)
        close_worker(&ws[t]);
    free(ws);
    free(tids);
    pthread_mutex_destroy(&sh.lock);
    d->counts.bytes_compared = atomic_load(&sh.bytes);
    /* per-pair errors into interned strings */
    for (size_t i = 0; i < d->npairs && rc == TT_OK; i++)
        if ((d->pairs[i].flags & TT_DIFF_PAIR_ERROR) && slots[i].msg[0]) { /* pair.c's errors are set already */
            d->pairs[i].error = diff_intern(d, slots[i].msg);
            if (!d->pairs[i].error)
                rc = diff_err(d, TT_E_NOMEM, "out of memory");
        }
    free(slots);
    return rc;
}

int diff_detail(tt_diff *d, const tt_diff_pair *p, tt_diff_failure *f)
{
    if (!(p->flags & TT_DIFF_PAIR_COMPARED))
        return TT_OK;
    tt_reader *r[2] = {NULL, NULL};
    uint8_t *buf[2] = {NULL, NULL};
    size_t cap[2] = {0, 0};
    char err[256];
    detail_acc acc;
    int rc = detail_init(&acc, d->o.topk);
    if (rc != TT_OK)
        return diff_err(d, rc, "out of memory");
    if ((rc = diff_open_side(d, 0, &r[0])) != TT_OK || (rc = diff_open_side(d, 1, &r[1])) != TT_OK)
        goto done;
    const tt_diff_side *l = &p->left, *rs = &p->right;
    size_t le = tt_dtype_size(l->dtype);
    uint64_t lrb = row_bytes_of(l, side_nbytes(l));
    uint64_t per = l->ndim && lrb ? d->o.slab_bytes / lrb : 0;
    uint64_t outer = 0, lcols = 0, rcols = 0, keep = 0;
    int crop = diff_common_columns(p, &outer, &lcols, &rcols);
    if (crop || !l->ndim || !rs->ndim || l->row_count != rs->row_count || !per) {
        if ((rc = diff_read_rows(r[0], l, l->row_begin, l->row_count, &buf[0], &cap[0], err, sizeof err)) != TT_OK ||
            (rc = diff_read_rows(r[1], rs, rs->row_begin, rs->row_count, &buf[1], &cap[1], err, sizeof err)) != TT_OK)
            goto done;
        uint64_t bytes = l->ndim ? l->row_count * lrb : side_nbytes(l);
        if (crop)
            bytes = diff_keep_common_columns(p, buf[0], buf[1], &lcols, &keep) * le;
        detail_block(&acc, l->dtype, buf[0], rs->dtype, buf[1], (size_t)(bytes / le), 0);
    } else {
        for (uint64_t k = 0; k < l->row_count; k += per) {
            uint64_t nr = l->row_count - k < per ? l->row_count - k : per;
            if ((rc = diff_read_rows(r[0], l, l->row_begin + k, nr, &buf[0], &cap[0], err, sizeof err)) != TT_OK ||
                (rc = diff_read_rows(r[1], rs, rs->row_begin + k, nr, &buf[1], &cap[1], err, sizeof err)) != TT_OK)
                goto done;
            detail_block(&acc, l->dtype, buf[0], rs->dtype, buf[1], (size_t)(nr * lrb / le), k * (lrb / le));
        }
    }
    detail_finish(&acc);
    for (uint32_t i = 0; i < acc.n; i++) {
        acc.heap[i].index = unpacked_index(acc.heap[i].index, lcols, keep);
        set_coords(l, acc.heap[i].index, acc.heap[i].coord);
    }
    memcpy(f->hist_edges, acc.edges, sizeof f->hist_edges);
    memcpy(f->hist_counts, acc.counts, sizeof f->hist_counts);
    f->nworst = acc.n;
    d->worst = acc.heap;
    acc.heap = NULL;
    f->worst = d->worst;
    f->detail = 1;
done:
    free(acc.heap);
    free(buf[0]);
    free(buf[1]);
    tt_reader_close(r[0]);
    tt_reader_close(r[1]);
    /* a failed detail pass leaves the failure without histogram; it is not an error of the run */
    return rc == TT_E_NOMEM ? diff_err(d, rc, "out of memory") : TT_OK;
}
