/*
 * judge.c — step 3 of the diff pipeline (see core.h): each pair's verdict from its measures. A stage is judged by
 * the error it adds beyond what its inputs explain (tt/diff.h, "Judgement"): its precision is the coarsest of its
 * own dtypes and its inputs' (pair.c), its baseline the error of the stages before it; an error above
 * max(floor, ratio x baseline) is a MISMATCH (FRESH when the floor decided, AMPLIFIED when the baseline did), as
 * are elements outside the element tolerance, a scale or offset error the fit finds with confidence, and NaN/Inf.
 * Then the KV-cache checks of kv_aligned mode (judge_kv.c). Calls core, pair and measure.
 */
#include "judge.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tt/dtype.h"

/* The fresh floor in units of the precision's epsilon: 8- and 16-bit stages round every output, so one
 * operation moves an element by at most one unit and the judged error of a tensor stays below 1 unit; f32 and f64
 * stages differ by reduction order (tens of units in wide sums), not by the final rounding. */
static double default_floor(tt_dtype prec)
{
    return diff_dtype_eps(prec) >= 0x1p-10 ? 1.0 : 64.0;
}

uint64_t diff_other_nonfinite(const tt_diff_pair *p)
{
    uint64_t n = 0;
    for (int s = 0; s < 2; s++) {
        const tt_diff_nonfinite *nf = &p->j.nonfinite[s];
        n += nf->nan + nf->inf - (nf->neg_inf_agree < nf->inf ? nf->neg_inf_agree : nf->inf);
    }
    return n;
}

/* The smallest scale or offset error that is a finding at a fit statistic t (see decide). */
static double min_effect(const tt_diff *d, const tt_diff_judgement *j, double t)
{
    double f = 1.6 * d->o.stat_threshold / fabs(t);
    f = f > 1 ? 1 : f < 0.5 ? 0.5 : f;
    double b = f * j->baseline;
    return j->unit / 3 > b ? j->unit / 3 : b;
}

/* The numeric verdict of a compared pair from its tests, in order: comparison error, non-finite values, element
 * tolerance, judged error against max(floor, ratio x baseline), the scale and offset fit. */
static void decide(const tt_diff *d, tt_diff_pair *p, double baseline)
{
    tt_diff_judgement *j = &p->j;
    if (!(p->flags & (TT_DIFF_PAIR_COMPARED | TT_DIFF_PAIR_ERROR))) {
        j->decided_by = TT_DIFF_BY_NONE;
        return;
    }
    j->baseline = baseline;
    j->floor = (d->o.jump_floor > 0 ? d->o.jump_floor : default_floor(j->precision)) * j->unit;
    double amp = d->o.jump_ratio * baseline;
    j->allowed = j->floor > amp ? j->floor : amp;
    if (p->m.tol_source && j->scale > 0) {
        /* an explicit tolerance (--tol, a file, calibration) also bounds the judged error: no element beyond it
         * means a relative error within rtol + atol_rms (+ atol_abs / scale) */
        double t = p->m.rtol + p->m.atol_rms + p->m.atol_abs / j->scale;
        j->allowed = t > j->allowed ? t : j->allowed;
    }
    double ref = j->floor > baseline ? j->floor : baseline;
    p->jump_baseline = baseline;
    p->jump_ratio = ref > 0 ? j->error / ref : 0;
    if (j->unit > 0 && isfinite(j->error) && j->error > j->allowed)
        p->flags |= TT_DIFF_PAIR_JUMP; /* whichever test decides the verdict */
    if (p->flags & TT_DIFF_PAIR_ERROR) {
        j->decided_by = TT_DIFF_BY_ERROR;
        p->numeric_verdict = TT_DIFF_MISMATCH;
        return;
    }
    if (p->m.nan_mismatch || p->m.inf_mismatch || (diff_other_nonfinite(p) && !d->o.allow_nonfinite)) {
        j->decided_by = TT_DIFF_BY_NONFINITE;
        p->numeric_verdict = TT_DIFF_MISMATCH;
        return;
    }
    /* elements outside the element tolerance, unless the inputs' error, amplified, is beyond its relative part:
     * then drift explains elements out there (softmax outputs carry the inputs' absolute score error as a relative
     * error of each probability) and the judged error decides; it cannot when it has no finite value (a reference
     * of zeros against non-zero elements: no upstream error explains an infinite relative one) */
    if (p->m.outside_tol && (amp <= p->m.rtol || p->m.tol_source || j->unit == 0 || !isfinite(j->error))) {
        j->decided_by = TT_DIFF_BY_TOLERANCE;
        p->numeric_verdict = TT_DIFF_MISMATCH;
        return;
    }
    if (j->unit > 0 && isfinite(j->error) && j->error > j->allowed) {
        j->decided_by = amp > j->floor ? TT_DIFF_BY_AMPLIFIED : TT_DIFF_BY_FRESH;
        p->numeric_verdict = TT_DIFF_MISMATCH;
        return;
    }
    /* a systematic error must be confident (|t| above the threshold) and larger than a third of a unit (a rounding
     * bias of one unit on a third of the elements is not a finding; 0.3 % in bf16 is 0.38 units) and than the
     * inputs' error, which carries common factors of its own into a stage (a norm's or a softmax's denominator:
     * measured up to 0.95 x the inputs' error, with |t| up to 17, on correct engines); the more confident the
     * fit, the less of the inputs' error it must exceed: all of it up to |t| = 1.6 x the threshold, half of it
     * from 3.2 x the threshold on */
    if (j->unit > 0 && j->fit_n) {
        if (fabs(j->fit_alpha_t) > d->o.stat_threshold && fabs(j->fit_alpha) > min_effect(d, j, j->fit_alpha_t)) {
            j->decided_by = TT_DIFF_BY_SCALE;
            p->numeric_verdict = TT_DIFF_MISMATCH;
            return;
        }
        if (fabs(j->fit_beta_t) > d->o.stat_threshold && fabs(j->fit_beta) > min_effect(d, j, j->fit_beta_t)) {
            j->decided_by = TT_DIFF_BY_OFFSET;
            p->numeric_verdict = TT_DIFF_MISMATCH;
            return;
        }
    }
    /* every test passed (elements outside the element tolerance included, when drift explains them) */
    if (p->numeric_verdict == TT_DIFF_MISMATCH)
        p->numeric_verdict = TT_DIFF_WITHIN_TOL;
    j->decided_by = p->numeric_verdict == TT_DIFF_MATCH ? TT_DIFF_BY_NONE : TT_DIFF_BY_WITHIN;
}

/* The judged error a pair passes on to the stages after it (0 for bitwise-equal pairs; NaN when unknown). */
static double carried_error(const tt_diff_pair *p)
{
    if (p->flags & TT_DIFF_PAIR_HASH_SKIP)
        return 0;
    if (!(p->flags & TT_DIFF_PAIR_COMPARED) || (p->flags & TT_DIFF_PAIR_ERROR))
        return NAN;
    return isfinite(p->j.error) ? p->j.error : NAN;
}

/* Walks each group in pipeline order, block by block (where, layer): the baseline of a pair is the largest error
 * of the pairs before it in its block and of the previous block's last stage that is not a cache. */
static void judge_pairs(tt_diff *d)
{
    size_t i = 0;
    while (i < d->npairs) {
        size_t e = i;
        while (e < d->npairs && d->pairs[e].group == d->pairs[i].group)
            e++;
        double prev_block_out = 0;
        size_t b = i;
        while (b < e) {
            size_t be = b;
            int w = diff_where_of(d, &d->pairs[b]);
            while (be < e && diff_where_of(d, &d->pairs[be]) == w && d->pairs[be].layer == d->pairs[b].layer)
                be++;
            double base = prev_block_out, last_out = NAN;
            for (size_t k = b; k < be; k++) {
                tt_diff_pair *p = &d->pairs[k];
                if (p->left.present && p->right.present)
                    decide(d, p, base);
                double err = carried_error(p);
                if (isnan(err))
                    continue;
                base = err > base ? err : base;
                if (!diff_is_cache_point(d, p->point))
                    last_out = err;
            }
            if (!isnan(last_out))
                prev_block_out = last_out;
            b = be;
        }
        i = e;
    }
}

static int set_verdicts(tt_diff *d)
{
    for (size_t i = 0; i < d->npairs; i++) {
        tt_diff_pair *p = &d->pairs[i];
        if (!p->left.present || !p->right.present) {
            p->verdict = p->numeric_verdict = TT_DIFF_MISSING;
            continue;
        }
        if (!p->m.tol_source) {
            char buf[64];
            tt_dtype td = diff_dtype_eps(p->left.dtype) >= diff_dtype_eps(p->right.dtype) ? p->left.dtype
                                                                                          : p->right.dtype;
            snprintf(buf, sizeof buf, "default %s", tt_dtype_name(td));
            if (!(p->m.tol_source = diff_intern(d, buf)))
                return diff_err(d, TT_E_NOMEM, "out of memory");
        }
        if (d->o.mode == TT_DIFF_AS_DESIGNED) {
            /* the legacy probe: pass on equal content hashes (bitwise equality for row ranges) */
            int whole = !(p->flags & TT_DIFF_PAIR_ROWS);
            int hashes = (p->left.flags & TT_REC_HAS_HASH) && (p->right.flags & TT_REC_HAS_HASH);
            int pass = whole && hashes ? p->left.hash == p->right.hash : p->numeric_verdict == TT_DIFF_MATCH;
            if (p->flags & TT_DIFF_PAIR_ERROR)
                pass = 0;
            p->verdict = pass ? TT_DIFF_MATCH : TT_DIFF_MISMATCH;
            if (!pass && p->numeric_verdict != TT_DIFF_MISMATCH)
                p->j.decided_by = TT_DIFF_BY_HASH;
        } else {
            p->verdict = p->numeric_verdict;
        }
        if ((p->flags & (TT_DIFF_PAIR_STATS_ONLY | TT_DIFF_PAIR_HASH_ONLY)) && p->numeric_verdict != TT_DIFF_MATCH) {
            const tt_stats *a = &p->left.stats, *b = &p->right.stats;
            int rc;
            if (p->flags & TT_DIFF_PAIR_STATS_ONLY)
                rc = diff_evidence(d, TT_DIFF_EV_STATS, (int64_t)i, p->m.max_abs, p->jump_baseline,
                                   "%s layer %d: stats-only comparison (no tensors): min %.9g vs %.9g, max %.9g vs "
                                   "%.9g, mean %.9g vs %.9g; largest difference %.3g against tolerance %.3g",
                                   p->point, p->layer, a->min, b->min, a->max, b->max, a->mean, b->mean, p->m.max_abs,
                                   p->jump_baseline);
            else
                rc = diff_evidence(d, TT_DIFF_EV_STATS, (int64_t)i, 0, 0,
                                   "%s layer %d: hash-only comparison (no tensors, no stats): hash %016llx vs %016llx",
                                   p->point, p->layer, (unsigned long long)p->left.hash,
                                   (unsigned long long)p->right.hash);
            if (rc != TT_OK)
                return diff_err(d, rc, "out of memory");
            p->jump_baseline = 0;
        }
    }
    return TT_OK;
}

int diff_judge(tt_diff *d)
{
    judge_pairs(d);
    int rc = set_verdicts(d);
    if (rc == TT_OK && d->o.mode == TT_DIFF_KV_ALIGNED)
        rc = diff_kv_checks(d);
    return rc;
}
