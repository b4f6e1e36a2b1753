/*
 * measure_kernel.c — the element kernels of the differ: one pass over a block of left and right elements updates
 * every metric of a pair (max abs error and where, sums for relative L2 and cosine, ULP distance in the stored
 * dtype, count outside atol + rtol*|right|, NaN/Inf disagreements, bit differences), and the detail pass of the
 * first failure (log-spaced histogram of |error|, the k worst elements).
 *
 * Blocks are decoded to double (tt_to_f64) and compared by a loop that assumes every element is finite; a block
 * whose sums come out non-finite (a NaN or an infinity in it) is done again element by element. Sums are double
 * in four lanes; max abs is found per block and its index looked up only when the block beats the running max.
 * f32 and bf16 blocks of one dtype go to the vector kernel (measure_simd.c) first, when the CPU has it.
 *
 * Cosine: <l,r> / (||l|| ||r||). When two whole records are compared and both carry the writer's statistics with
 * no NaN/Inf, the norms are the stored l2 (sums of squares in double over exactly these elements) and the pass
 * only sums <l,r> and ||l - r||^2 (cmp_acc_use_stats); afterwards cmp_stats_consistent checks the identity
 * ||l - r||^2 = ||l||^2 + ||r||^2 - 2<l,r> and Cauchy-Schwarz, and the caller compares again summing the squares
 * when they fail (statistics that do not describe the data). <l,r> is always a double sum of exact products, so
 * 1 - cosine keeps about 1e-16 absolute precision (1e-7 relative when the tensors are 1e-9 apart).
 */
#include "measure.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "tt/dtype.h"

#define CMP_BLOCK 1024

static inline uint64_t load_le(const unsigned char *p, size_t size)
{
    uint64_t v = 0;
    for (size_t i = 0; i < size; i++)
        v |= (uint64_t)p[i] << (8 * i);
    return v;
}

/* Maps the stored bits of a float element to an integer in value order (sign-magnitude to two's complement)
 * so that adjacent representable values differ by 1; +0 and -0 both map to 0. Integers map to their value. */
static inline int64_t ordinal(tt_dtype dt, uint64_t bits)
{
    switch (dt) {
    case TT_F64:
        return (bits >> 63) ? -(int64_t)(bits & 0x7fffffffffffffffull) : (int64_t)bits;
    case TT_F32:
        return (bits >> 31) ? -(int64_t)(bits & 0x7fffffffu) : (int64_t)bits;
    case TT_F16:
    case TT_BF16:
        return (bits >> 15) ? -(int64_t)(bits & 0x7fffu) : (int64_t)bits;
    case TT_F8_E4M3:
    case TT_F8_E5M2:
    case TT_F8_E4M3FNUZ:
    case TT_F8_E5M2FNUZ:
        return (bits >> 7) ? -(int64_t)(bits & 0x7fu) : (int64_t)bits;
    case TT_I8: return (int8_t)(uint8_t)bits;
    case TT_U8: return (int64_t)(uint8_t)bits;
    case TT_I16: return (int16_t)(uint16_t)bits;
    case TT_I32: return (int32_t)(uint32_t)bits;
    case TT_I64: return (int64_t)bits;
    default: return 0;
    }
}

static inline double ord_dist(int64_t a, int64_t b)
{
    uint64_t d = a >= b ? (uint64_t)a - (uint64_t)b : (uint64_t)b - (uint64_t)a;
    return (double)d;
}

double diff_ulp_distance(tt_dtype dt, const void *a, const void *b)
{
    size_t es = tt_dtype_size(dt);
    if (!es)
        return -1;
    double x, y;
    tt_to_f64(dt, a, 1, &x);
    tt_to_f64(dt, b, 1, &y);
    if (isnan(x) || isnan(y))
        return (isnan(x) && isnan(y)) ? 0 : INFINITY;
    return ord_dist(ordinal(dt, load_le(a, es)), ordinal(dt, load_le(b, es)));
}

void cmp_acc_init(cmp_acc *a, int same_dtype)
{
    memset(a, 0, sizeof *a);
    a->max_abs = -1; /* nothing yet */
    a->ulp_ok = same_dtype;
    a->first[0] = a->first[1] = -1;
    a->coarse = TT_DTYPE_UNKNOWN;
}

/* One unit in the last place of dtype dt at the value v (finite): the gap to the next representable value of
 * v's binade, at least the dtype's smallest subnormal. Floating dtypes only. */
static double ulp_at(tt_dtype dt, double v)
{
    int mant, emin;
    switch (dt) {
    case TT_BF16: mant = 7, emin = -126; break;
    case TT_F16: mant = 10, emin = -14; break;
    case TT_F32: mant = 23, emin = -126; break;
    case TT_F8_E4M3:
    case TT_F8_E4M3FNUZ: mant = 3, emin = -6; break;
    case TT_F8_E5M2:
    case TT_F8_E5M2FNUZ: mant = 2, emin = -14; break;
    default: mant = 52, emin = -1022; break;
    }
    int e;
    (void)frexp(v, &e); /* v = f 2^e, f in [0.5, 1): the binade's exponent is e - 1 */
    int b = e - 1 < emin ? emin : e - 1;
    return ldexp(1.0, b - mant);
}

/* One element outside the fast path: classifies NaN and Inf, else adds it like the fast loop does. */
/* Counts a non-finite element of one side and keeps the first one's index and value. */
static void note_nonfinite(cmp_acc *a, int side, double v, uint64_t index)
{
    if (isnan(v)) {
        a->nan[side]++;
    } else {
        a->inf[side]++;
        a->neg_inf[side] += v < 0;
    }
    if (a->first[side] < 0 || index < (uint64_t)a->first[side]) {
        a->first[side] = (int64_t)index;
        a->first_value[side] = v;
    }
}

static void cmp_one(cmp_acc *a, double x, double y, uint64_t index, double rtol, double atol)
{
    if (!isfinite(x) || !isfinite(y)) {
        a->nonfinite_elems++;
        if (!isfinite(x))
            note_nonfinite(a, 0, x, index);
        if (!isfinite(y))
            note_nonfinite(a, 1, y, index);
        a->neg_inf_agree += x == -INFINITY && y == -INFINITY;
    }
    int xn = isnan(x), yn = isnan(y);
    if (xn || yn) {
        if (xn != yn)
            a->nan_mismatch++;
        return;
    }
    int xi = isinf(x), yi = isinf(y);
    if (xi || yi) {
        if (!(xi && yi && x == y))
            a->inf_mismatch++;
        return;
    }
    double d = x - y, ad = fabs(d);
    a->sum_d2 += d * d;
    a->sum_l2 += x * x;
    a->sum_r2 += y * y;
    a->sum_lr += x * y;
    if (ad > atol + rtol * fabs(y))
        a->outside++;
    if (ad > a->max_abs) {
        a->max_abs = ad;
        a->max_abs_index = index;
        a->max_abs_l = x;
        a->max_abs_r = y;
    }
}

/* The fast loop over finite elements; returns 0 (accumulator untouched) when the block is not all finite. */
static int cmp_fast(cmp_acc *a, const double *x, const double *y, size_t n, uint64_t base, double rtol, double atol)
{
    double d2[4] = {0}, l2[4] = {0}, r2[4] = {0}, lr[4] = {0}, mx[4] = {0};
    uint64_t out[4] = {0};
    size_t i = 0;
    for (; i + 4 <= n; i += 4) {
        for (int k = 0; k < 4; k++) {
            double xv = x[i + (size_t)k], yv = y[i + (size_t)k];
            double d = xv - yv, ad = fabs(d);
            d2[k] += d * d;
            l2[k] += xv * xv;
            r2[k] += yv * yv;
            lr[k] += xv * yv;
            out[k] += ad > atol + rtol * fabs(yv);
            mx[k] = ad > mx[k] ? ad : mx[k];
        }
    }
    for (; i < n; i++) {
        double xv = x[i], yv = y[i];
        double d = xv - yv, ad = fabs(d);
        d2[0] += d * d;
        l2[0] += xv * xv;
        r2[0] += yv * yv;
        lr[0] += xv * yv;
        out[0] += ad > atol + rtol * fabs(yv);
        mx[0] = ad > mx[0] ? ad : mx[0];
    }
    double sl = (l2[0] + l2[1]) + (l2[2] + l2[3]), sr = (r2[0] + r2[1]) + (r2[2] + r2[3]);
    double sd = (d2[0] + d2[1]) + (d2[2] + d2[3]);
    if (!isfinite(sl) || !isfinite(sr) || !isfinite(sd))
        return 0;
    a->sum_l2 += sl;
    a->sum_r2 += sr;
    a->sum_d2 += sd;
    a->sum_lr += (lr[0] + lr[1]) + (lr[2] + lr[3]);
    a->outside += out[0] + out[1] + out[2] + out[3];
    double m = mx[0];
    for (int k = 1; k < 4; k++)
        m = mx[k] > m ? mx[k] : m;
    if (m > a->max_abs) {
        for (size_t j = 0; j < n; j++)
            if (fabs(x[j] - y[j]) == m) {
                a->max_abs = m;
                a->max_abs_index = base + j;
                a->max_abs_l = x[j];
                a->max_abs_r = y[j];
                break;
            }
    }
    return 1;
}

/* Bit differences and ULP distances of a same-dtype block, from the stored bytes. NaN elements are skipped
 * for ULP (they are counted as NaN disagreements or agreements). */
static void cmp_bits(cmp_acc *a, tt_dtype dt, const unsigned char *pl, const unsigned char *pr, const double *x,
                     const double *y, size_t n)
{
    size_t es = tt_dtype_size(dt);
    uint64_t ndiff = 0;
    double mu = a->max_ulp;
    if (dt == TT_F32) {
        for (size_t i = 0; i < n; i++) {
            uint32_t u, v;
            memcpy(&u, pl + 4 * i, 4);
            memcpy(&v, pr + 4 * i, 4);
            if (u == v)
                continue;
            ndiff++;
            if (x[i] != x[i] || y[i] != y[i])
                continue;
            int64_t ou = (u >> 31) ? -(int64_t)(u & 0x7fffffffu) : (int64_t)u;
            int64_t ov = (v >> 31) ? -(int64_t)(v & 0x7fffffffu) : (int64_t)v;
            double dd = (double)(ou > ov ? ou - ov : ov - ou);
            mu = dd > mu ? dd : mu;
        }
    } else if (es == 2) {
        for (size_t i = 0; i < n; i++) {
            uint16_t u, v;
            memcpy(&u, pl + 2 * i, 2);
            memcpy(&v, pr + 2 * i, 2);
            if (u == v)
                continue;
            ndiff++;
            if (x[i] != x[i] || y[i] != y[i])
                continue;
            double dd = ord_dist(ordinal(dt, u), ordinal(dt, v));
            mu = dd > mu ? dd : mu;
        }
    } else {
        for (size_t i = 0; i < n; i++) {
            uint64_t u = load_le(pl + es * i, es), v = load_le(pr + es * i, es);
            if (u == v)
                continue;
            ndiff++;
            if (x[i] != x[i] || y[i] != y[i])
                continue;
            double dd = ord_dist(ordinal(dt, u), ordinal(dt, v));
            mu = dd > mu ? dd : mu;
        }
    }
    a->diff_elems += ndiff;
    a->max_ulp = mu;
}

int diff_simd_available(void); /* diff_simd.c */
int diff_simd_block_f32(cmp_acc *a, const float *x, const float *y, size_t n, uint64_t base, double rtol,
                        double atol);
int diff_simd_block_bf16(cmp_acc *a, const uint16_t *x, const uint16_t *y, size_t n, uint64_t base, double rtol,
                         double atol);

int cmp_acc_use_stats(cmp_acc *a, double l2_left, double l2_right)
{
    /* Norms below 2^-28 are left to the sums: the bf16 kernel's float products lose bits below 2^-126, at most
     * 2^-150 each, which is then no longer negligible next to ||l|| ||r|| (n 2^-150 / 2^-56 < 2^-54 for n < 2^40) */
    if (!(l2_left >= 0x1p-28 && l2_right >= 0x1p-28 && l2_left <= 0x1p400 && l2_right <= 0x1p400))
        return 0;
    a->stats = 1;
    a->stat_l = l2_left;
    a->stat_r = l2_right;
    return 1;
}

void cmp_block(cmp_acc *a, tt_dtype dl, const void *pl, tt_dtype dr, const void *pr, size_t n, uint64_t base,
               double rtol, double atol)
{
    double x[CMP_BLOCK], y[CMP_BLOCK];
    float fx[CMP_BLOCK], fy[CMP_BLOCK]; /* also the aligned copies of a misaligned f32 or bf16 block */
    size_t el = tt_dtype_size(dl), er = tt_dtype_size(dr);
    const unsigned char *bl = pl, *br = pr;
    /* f32 and bf16 pairs of one dtype take the vector kernel when the CPU has it */
    int simd = a->ulp_ok && dl == dr && (dl == TT_F32 || dl == TT_BF16) && diff_simd_available();
    for (size_t off = 0; off < n; off += CMP_BLOCK) {
        size_t k = n - off < CMP_BLOCK ? n - off : CMP_BLOCK;
        if (simd) {
            const void *px = bl + off * el, *py = br + off * er;
            if ((uintptr_t)px % el || (uintptr_t)py % el) {
                memcpy(fx, px, k * el);
                memcpy(fy, py, k * el);
                px = fx;
                py = fy;
            }
            if (dl == TT_BF16 ? diff_simd_block_bf16(a, px, py, k, base + off, rtol, atol)
                              : diff_simd_block_f32(a, px, py, k, base + off, rtol, atol))
                continue;
        }
        tt_to_f64(dl, bl + off * el, k, x);
        tt_to_f64(dr, br + off * er, k, y);
        if (!cmp_fast(a, x, y, k, base + off, rtol, atol))
            for (size_t j = 0; j < k; j++)
                cmp_one(a, x[j], y[j], base + off + j, rtol, atol);
        if (a->ulp_ok && dl == dr) {
            cmp_bits(a, dl, bl + off * el, br + off * er, x, y, k);
        } else {
            for (size_t j = 0; j < k; j++)
                a->diff_elems += !(x[j] == y[j] || (x[j] != x[j] && y[j] != y[j]));
            if (a->coarse != TT_DTYPE_UNKNOWN) {
                /* two dtypes: the difference in units of the coarser one at the reference value */
                double mu = a->max_ulp;
                for (size_t j = 0; j < k; j++) {
                    if (!isfinite(x[j]) || !isfinite(y[j]) || x[j] == y[j])
                        continue;
                    double u = fabs(x[j] - y[j]) / ulp_at(a->coarse, y[j]);
                    mu = u > mu ? u : mu;
                }
                a->max_ulp = mu;
            }
        }
        a->elems += k;
    }
}

int cmp_stats_consistent(const cmp_acc *a)
{
    if (!a->stats)
        return 1;
    double l2 = a->stat_l * a->stat_l, r2 = a->stat_r * a->stat_r;
    if (!isfinite(l2) || !isfinite(r2) || !(a->stat_l >= 0) || !(a->stat_r >= 0))
        return 0;
    /* ||l - r||^2 = ||l||^2 + ||r||^2 - 2<l,r>: the sum of squared differences is a float sum (relative error
     * well below 2^-12), the rest double sums (well below 2^-36 of ||l||^2 + ||r||^2) */
    double resid = l2 + r2 - 2 * a->sum_lr - a->sum_d2;
    if (!(fabs(resid) <= 0x1p-36 * (l2 + r2) + 0x1p-12 * a->sum_d2))
        return 0;
    return fabs(a->sum_lr) <= a->stat_l * a->stat_r * (1 + 0x1p-36);
}

/* Fills the measured fields of m; the tolerance fields (rtol, atol...) are left as they are. */
void cmp_finish(const cmp_acc *a, tt_diff_metrics *m)
{
    m->elems = a->elems;
    m->diff_elems = a->diff_elems;
    m->max_abs = a->max_abs < 0 ? 0 : a->max_abs;
    m->max_abs_index = a->max_abs_index;
    m->max_abs_left = a->max_abs_l;
    m->max_abs_right = a->max_abs_r;
    double nd = sqrt(a->sum_d2), nl = sqrt(a->sum_l2), nr = sqrt(a->sum_r2);
    if (a->stats)
        nl = a->stat_l, nr = a->stat_r;
    m->rel_l2 = nr > 0 ? nd / nr : (nd > 0 ? INFINITY : 0);
    if (nl > 0 && nr > 0) {
        double c = a->sum_lr / (nl * nr);
        m->cosine = c > 1 ? 1 : c < -1 ? -1 : c;
    } else {
        m->cosine = (nl == 0 && nr == 0) ? 1 : 0;
    }
    m->max_ulp = a->ulp_ok || a->coarse != TT_DTYPE_UNKNOWN ? a->max_ulp : -1;
    if (a->elems && a->nonfinite_elems == a->elems) {
        /* no element is finite on both sides: there is no difference to measure, and none to claim */
        m->rel_l2 = NAN;
        m->cosine = NAN;
    }
    m->outside_tol = a->outside;
    m->nan_mismatch = a->nan_mismatch;
    m->inf_mismatch = a->inf_mismatch;
}

/* ---- detail pass -------------------------------------------------------------------------------------------- */

int detail_init(detail_acc *d, uint32_t k)
{
    memset(d, 0, sizeof *d);
    for (int i = 0; i < TT_DIFF_HIST_BINS; i++)
        d->edges[i] = pow(10.0, -10.0 + 0.5 * i);
    d->k = k;
    d->heap = calloc(k ? k : 1, sizeof *d->heap);
    return d->heap ? TT_OK : TT_E_NOMEM;
}

static void heap_sift_down(tt_diff_worst *h, uint32_t n, uint32_t i)
{
    for (;;) {
        uint32_t l = 2 * i + 1, r = l + 1, s = i;
        if (l < n && h[l].abs_err < h[s].abs_err)
            s = l;
        if (r < n && h[r].abs_err < h[s].abs_err)
            s = r;
        if (s == i)
            return;
        tt_diff_worst t = h[i];
        h[i] = h[s];
        h[s] = t;
        i = s;
    }
}

static void heap_push(detail_acc *d, uint64_t index, double x, double y, double ad)
{
    if (!d->k)
        return;
    if (d->n < d->k) {
        uint32_t i = d->n++;
        d->heap[i].index = index;
        d->heap[i].left = x;
        d->heap[i].right = y;
        d->heap[i].abs_err = ad;
        while (i > 0) {
            uint32_t p = (i - 1) / 2;
            if (d->heap[p].abs_err <= d->heap[i].abs_err)
                break;
            tt_diff_worst t = d->heap[p];
            d->heap[p] = d->heap[i];
            d->heap[i] = t;
            i = p;
        }
    } else if (ad > d->heap[0].abs_err) {
        d->heap[0].index = index;
        d->heap[0].left = x;
        d->heap[0].right = y;
        d->heap[0].abs_err = ad;
        heap_sift_down(d->heap, d->n, 0);
    }
}

void detail_block(detail_acc *d, tt_dtype dl, const void *pl, tt_dtype dr, const void *pr, size_t n, uint64_t base)
{
    double x[CMP_BLOCK], y[CMP_BLOCK];
    size_t el = tt_dtype_size(dl), er = tt_dtype_size(dr);
    for (size_t off = 0; off < n; off += CMP_BLOCK) {
        size_t k = n - off < CMP_BLOCK ? n - off : CMP_BLOCK;
        tt_to_f64(dl, (const unsigned char *)pl + off * el, k, x);
        tt_to_f64(dr, (const unsigned char *)pr + off * er, k, y);
        for (size_t j = 0; j < k; j++) {
            double ad = fabs(x[j] - y[j]);
            if (isnan(ad)) {
                /* NaN or Inf disagreement: the worst kind of element, ranked first */
                if (!(isnan(x[j]) && isnan(y[j])) && !(isinf(x[j]) && x[j] == y[j]))
                    heap_push(d, base + off + j, x[j], y[j], INFINITY);
                continue;
            }
            if (isinf(ad)) {
                heap_push(d, base + off + j, x[j], y[j], INFINITY);
                continue;
            }
            if (ad == 0) {
                d->counts[0]++;
                continue;
            }
            /* b = the first edge >= ad (TT_DIFF_HIST_BINS when above them all); counts[b + 1] */
            double g = ceil((log10(ad) + 10.0) * 2.0);
            int b = g < 0 ? 0 : g > TT_DIFF_HIST_BINS ? TT_DIFF_HIST_BINS : (int)g;
            while (b > 0 && d->edges[b - 1] >= ad)
                b--;
            while (b < TT_DIFF_HIST_BINS && d->edges[b] < ad)
                b++;
            d->counts[b + 1]++;
            heap_push(d, base + off + j, x[j], y[j], ad);
        }
    }
}

static int worst_cmp(const void *a, const void *b)
{
    const tt_diff_worst *x = a, *y = b;
    if (x->abs_err != y->abs_err)
        return x->abs_err > y->abs_err ? -1 : 1;
    return (x->index > y->index) - (x->index < y->index);
}

void detail_finish(detail_acc *d)
{
    qsort(d->heap, d->n, sizeof *d->heap, worst_cmp);
}
