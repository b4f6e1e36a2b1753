/*
 * render_text.c — the summary a person reads in one screen (verdict, counts, first failure with its numbers,
 * chain, jumps, KV checks, worst pairs, one line per group), the seeds' results table as TSV and the per-pair TSV.
 */
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "render.h"
#include "tt/dtype.h"

double render_pair_err(const tt_diff_pair *p)
{
    if (p->flags & TT_DIFF_PAIR_HASH_SKIP)
        return 0;
    if (!(p->flags & TT_DIFF_PAIR_COMPARED))
        return NAN;
    return p->m.rel_l2;
}

const char *render_pair_label(const tt_diff_pair *p, char *buf, size_t len)
{
    if (p->layer >= 0)
        snprintf(buf, len, "%s L%d", p->point, (int)p->layer);
    else
        snprintf(buf, len, "%s", p->point);
    return buf;
}

static const char *meta_of(const tt_diff *d, int side, const char *key)
{
    for (uint64_t i = 0; i < tt_diff_meta_count(d, side); i++) {
        const char *k, *v;
        if (tt_diff_meta(d, side, i, &k, &v) == TT_OK && strcmp(k, key) == 0)
            return v;
    }
    return NULL;
}

static void side_line(const tt_diff *d, const render_opts *o, int s, uint64_t records, FILE *f)
{
    fprintf(f, "  %-5s %s", s ? "right" : "left", o->side[s].path);
    if (o->side[s].nconds) {
        fputs(" [", f);
        for (int i = 0; i < o->side[s].nconds; i++)
            fprintf(f, "%s%s", i ? " " : "", o->side[s].conds[i]);
        fputc(']', f);
    }
    fprintf(f, "  %" PRIu64 " records", records);
    const char *e = meta_of(d, s, "engine"), *m = meta_of(d, s, "model"), *dt = meta_of(d, s, "dtype");
    if (e || m)
        fprintf(f, "  (%s%s%s%s%s)", e ? e : "", e && m ? ", " : "", m ? m : "", dt ? ", " : "", dt ? dt : "");
    fputc('\n', f);
}

static void metrics_line(const tt_diff_pair *p, FILE *f)
{
    const tt_diff_metrics *m = &p->m;
    if (p->error) {
        fprintf(f, "      not comparable: %s\n", p->error);
        return;
    }
    if (!(p->flags & TT_DIFF_PAIR_COMPARED)) {
        if (p->flags & (TT_DIFF_PAIR_STATS_ONLY | TT_DIFF_PAIR_HASH_ONLY))
            fprintf(f, "      %s comparison: hash %016" PRIx64 " vs %016" PRIx64 "; min %.6g/%.6g max %.6g/%.6g "
                       "mean %.6g/%.6g\n", (p->flags & TT_DIFF_PAIR_STATS_ONLY) ? "stats-only" : "hash-only",
                    p->left.hash, p->right.hash, p->left.stats.min, p->right.stats.min, p->left.stats.max,
                    p->right.stats.max, p->left.stats.mean, p->right.stats.mean);
        return;
    }
    const tt_diff_judgement *j = &p->j;
    int nd = p->left.ndim;
    for (int s = 0; s < 2; s++) {
        const tt_diff_nonfinite *nf = &j->nonfinite[s];
        if (!nf->nan && !nf->inf)
            continue;
        fprintf(f, "      %s: %" PRIu64 " NaN, %" PRIu64 " Inf; first %g at [", s ? "right" : "left", nf->nan, nf->inf,
                nf->first_value);
        for (int i = 0; i < nd; i++)
            fprintf(f, "%s%" PRIu64, i ? "," : "", nf->first_coord[i]);
        fputs("]\n", f);
    }
    uint64_t bad = j->nonfinite[0].nan + j->nonfinite[0].inf + j->nonfinite[1].nan + j->nonfinite[1].inf;
    if (bad && isnan(m->rel_l2)) {
        fprintf(f, "      no element is finite on both sides: no max |diff|, relative L2 or cosine to report\n");
    } else {
        fprintf(f, "      max |diff| %.4g at [", m->max_abs);
        for (int i = 0; i < nd; i++)
            fprintf(f, "%s%" PRIu64, i ? "," : "", m->max_abs_coord[i]);
        fprintf(f, "] (left %.7g, right %.7g), rel L2 %.3g, cosine %.9g", m->max_abs_left, m->max_abs_right,
                m->rel_l2, m->cosine);
        if (m->max_ulp >= 0)
            fprintf(f, ", max ULP %.3g%s%s", m->max_ulp, (p->flags & TT_DIFF_PAIR_DTYPES) ? " of " : "",
                    (p->flags & TT_DIFF_PAIR_DTYPES) ? tt_dtype_name(j->ulp_dtype) : "");
        if (bad)
            fputs(" (finite elements only)", f);
        fputc('\n', f);
    }
    if (p->flags & TT_DIFF_PAIR_DTYPES)
        fprintf(f, "      dtypes differ: left %s, right %s; judged at %s\n", tt_dtype_name(p->left.dtype),
                tt_dtype_name(p->right.dtype), tt_dtype_name(j->precision));
    fprintf(f, "      judged error %.3g (%.2f units of %s), inputs %.3g, allowed %.3g (floor %.3g); scale %.4g%s",
            j->error, j->unit > 0 ? j->error / j->unit : 0.0, tt_dtype_name(j->precision), j->baseline, j->allowed,
            j->floor, j->scale, j->outliers ? "" : "");
    if (j->outliers)
        fprintf(f, " (robust: %" PRIu64 " outlying elements in %" PRIu64 " sampled)", j->outliers, j->sampled);
    if (j->fit_alpha_t != 0 || j->fit_beta_t != 0)
        fprintf(f, "; fit a = 1%+.3g (t %.3g), b = %+.3g scale (t %.3g) over %" PRIu64, j->fit_alpha, j->fit_alpha_t,
                j->fit_beta, j->fit_beta_t, j->fit_n);
    fprintf(f, "; decided by %s\n", tt_diff_decision_name(j->decided_by));
    fprintf(f, "      %" PRIu64 " of %" PRIu64 " elements outside atol %.3g + rtol %.3g x |right| (%s", m->outside_tol,
            m->elems, m->atol, m->rtol, m->tol_source ? m->tol_source : "default");
    if (m->atol_rms > 0)
        fprintf(f, "; atol = %.3g x rms %.3g%s", m->atol_rms, m->ref_rms, m->atol_abs > 0 ? " + abs" : "");
    fputc(')', f);
    if (m->nan_mismatch || m->inf_mismatch)
        fprintf(f, "; NaN disagreements %" PRIu64 ", Inf disagreements %" PRIu64, m->nan_mismatch, m->inf_mismatch);
    fputc('\n', f);
}

static void group_desc(const tt_diff_group *g, char *buf, size_t len)
{
    snprintf(buf, len, "%s token %d pos %d", g->prompt_id ? g->prompt_id : "-", (int)g->token_id, (int)g->pos_id);
}

void render_text(const tt_diff *d, const render_opts *o, FILE *f)
{
    tt_diff_counts c;
    tt_diff_info in;
    tt_diff_counts_get(d, &c);
    tt_diff_info_get(d, &in);
    tt_diff_overall v = tt_diff_overall_verdict(d);
    const char *sub = tt_diff_subcause(d);
    fprintf(f, "tracediff: %s%s%s%s  (mode %s, key %s%s)\n", tt_diff_overall_name(v), sub ? " (" : "", sub ? sub : "",
            sub ? ")" : "", tt_diff_mode_name(in.mode), in.key, in.align == TT_DIFF_ALIGN_POS ? ", align pos" : "");
    side_line(d, o, 0, c.left_records, f);
    side_line(d, o, 1, c.right_records, f);
    fprintf(f, "  pairs %" PRIu64 ": %" PRIu64 " match (%" PRIu64 " by hash), %" PRIu64 " within tolerance, %" PRIu64
               " mismatch, %" PRIu64 " missing", c.pairs, c.match, c.hash_skipped, c.within_tol, c.mismatch,
            c.missing);
    if (c.duplicates)
        fprintf(f, ", %" PRIu64 " duplicate keys", c.duplicates);
    if (c.errors)
        fprintf(f, ", %" PRIu64 " not comparable", c.errors);
    if (c.uncovered_rows)
        fprintf(f, ", %" PRIu64 " rows uncovered", c.uncovered_rows);
    fprintf(f, "  [%.2f s, %u threads]\n", in.seconds, in.threads);

    char lab[300], gd[300];
    const tt_diff_failure *ff = tt_diff_first_failure(d);
    if (ff) {
        const tt_diff_group *g = tt_diff_group_at(d, ff->group);
        if (g)
            group_desc(g, gd, sizeof gd);
        else
            snprintf(gd, sizeof gd, "-");
        if (ff->pair >= 0) {
            const tt_diff_pair *p = tt_diff_pair_at(d, (uint64_t)ff->pair);
            char rk[48] = "";
            if (p->rank != TT_UNSET)
                snprintf(rk, sizeof rk, " on rank %d", (int)p->rank);
            fprintf(f, "  first failure: %s%s (%s) -> %s  [%s]\n", render_pair_label(p, lab, sizeof lab), rk, gd,
                    ff->root_cause, tt_diff_verdict_name(p->verdict));
            metrics_line(p, f);
        } else {
            const tt_diff_kv_check *k = tt_diff_kv_check_at(d, (uint64_t)ff->kv_check);
            fprintf(f, "  first failure: %s L%d (%s) -> %s  [KV check %s]\n", ff->point, (int)ff->layer, gd,
                    ff->root_cause, tt_diff_kv_kind_name(k->kind));
            fprintf(f, "      %s\n", k->text);
        }
        uint64_t nch;
        const uint64_t *ch = tt_diff_chain(d, &nch);
        if (nch) {
            fputs("  chain:", f);
            uint64_t shown = nch < 6 ? nch : 6;
            for (uint64_t i = 0; i < shown; i++) {
                const tt_diff_pair *p = tt_diff_pair_at(d, ch[i]);
                double e = render_pair_err(p);
                fprintf(f, "%s %s %s", i ? " ->" : "", render_pair_label(p, lab, sizeof lab),
                        p->verdict == TT_DIFF_MISMATCH ? "MISMATCH" : p->verdict == TT_DIFF_MISSING ? "MISSING" : "drift");
                if (!isnan(e))
                    fprintf(f, " %.2g", e);
            }
            if (nch > shown)
                fprintf(f, " -> ... (%" PRIu64 " more)", nch - shown);
            fputc('\n', f);
        }
    }
    /* jumps and warnings */
    uint64_t ne = tt_diff_evidence_count(d), shown_j = 0;
    for (uint64_t i = 0; i < ne; i++) {
        const tt_diff_evidence *e = tt_diff_evidence_at(d, i);
        if ((e->kind == TT_DIFF_EV_JUMP || e->kind == TT_DIFF_EV_FRESH || e->kind == TT_DIFF_EV_STRUCTURED ||
             e->kind == TT_DIFF_EV_NONFINITE) && shown_j < 3) {
            static const char *const kn[] = {"amplified", "", "", "", "", "fresh", "structured", "non-finite"};
            fprintf(f, "  %s: %s\n", kn[e->kind], e->text);
            shown_j++;
        } else if (e->kind == TT_DIFF_EV_DTYPES) {
            fprintf(f, "  dtypes: %s\n", e->text);
        } else if (e->kind == TT_DIFF_EV_WARNING || e->kind == TT_DIFF_EV_NOTE) {
            fprintf(f, "  %s: %s\n", e->kind == TT_DIFF_EV_WARNING ? "warning" : "note", e->text);
        }
    }
    if (c.jumps + c.structured + c.nonfinite > shown_j)
        fprintf(f, "  (%" PRIu64 " judged-error, %" PRIu64 " scale/offset findings, %" PRIu64
                   " pairs with NaN/Inf in all)\n", c.jumps, c.structured, c.nonfinite);
    for (int s = 0; s < 2; s++) {
        const tt_diff_pair *np = tt_diff_first_nonfinite(d, s);
        if (!np)
            continue;
        const tt_diff_nonfinite *nf = &np->j.nonfinite[s];
        fprintf(f, "  NaN/Inf on the %s side first at %s (%" PRIu64 " NaN, %" PRIu64 " Inf there; first %g at "
                   "element %" PRId64 ")\n", s ? "right" : "left", render_pair_label(np, lab, sizeof lab), nf->nan,
                nf->inf, nf->first_value, nf->first);
    }
    uint64_t nk = tt_diff_kv_check_count(d), kp = 0, kf = 0, kn = 0;
    for (uint64_t i = 0; i < nk; i++) {
        const tt_diff_kv_check *k = tt_diff_kv_check_at(d, i);
        kp += k->passed == 1;
        kf += k->passed == 0;
        kn += k->passed < 0;
    }
    if (nk) {
        fprintf(f, "  KV checks: %" PRIu64 " passed, %" PRIu64 " failed, %" PRIu64 " not applicable\n", kp, kf, kn);
        uint64_t shown = 0;
        for (uint64_t i = 0; i < nk && shown < 3; i++) {
            const tt_diff_kv_check *k = tt_diff_kv_check_at(d, i);
            if (k->passed == 0) {
                fprintf(f, "    %s: %s\n", tt_diff_kv_kind_name(k->kind), k->text);
                shown++;
            }
        }
    }
    /* worst pairs by relative error */
    if (o->worst > 0) {
        uint64_t n = tt_diff_pair_count(d);
        int64_t best[100];
        int nb = 0;
        for (uint64_t i = 0; i < n; i++) {
            const tt_diff_pair *p = tt_diff_pair_at(d, i);
            double e = render_pair_err(p);
            if (isnan(e) || e == 0)
                continue;
            int k = nb < o->worst ? nb++ : o->worst;
            if (k == o->worst && e <= render_pair_err(tt_diff_pair_at(d, (uint64_t)best[k - 1])))
                continue;
            if (k == o->worst)
                k--;
            while (k > 0 && render_pair_err(tt_diff_pair_at(d, (uint64_t)best[k - 1])) < e) {
                best[k] = best[k - 1];
                k--;
            }
            best[k] = (int64_t)i;
        }
        if (nb) {
            fputs("  worst pairs (relative L2 error):\n", f);
            for (int i = 0; i < nb; i++) {
                const tt_diff_pair *p = tt_diff_pair_at(d, (uint64_t)best[i]);
                group_desc(tt_diff_group_at(d, p->group), gd, sizeof gd);
                fprintf(f, "    %-24s %-34s %-10s rel %.3g  max|diff| %.3g  ulp %.0f%s\n",
                        render_pair_label(p, lab, sizeof lab), gd, tt_diff_verdict_name(p->verdict), p->m.rel_l2,
                        p->m.max_abs, p->m.max_ulp, (p->flags & TT_DIFF_PAIR_JUMP) ? "  JUMP" : "");
            }
        }
    }
    uint32_t ng = tt_diff_group_count(d);
    uint32_t gshow = ng < 8 ? ng : 8;
    fputs("  groups:\n", f);
    for (uint32_t i = 0; i < gshow; i++) {
        const tt_diff_group *g = tt_diff_group_at(d, i);
        group_desc(g, gd, sizeof gd);
        if (g->first_failure >= 0) {
            const tt_diff_pair *p = tt_diff_pair_at(d, (uint64_t)g->first_failure);
            fprintf(f, "    %-34s %s at %s\n", gd, g->root_cause, render_pair_label(p, lab, sizeof lab));
        } else if (g->root_cause) {
            fprintf(f, "    %-34s %s (KV check)\n", gd, g->root_cause);
        } else {
            fprintf(f, "    %-34s %s (%" PRIu64 " pairs: %" PRIu64 " match, %" PRIu64 " within tolerance)\n", gd,
                    g->within_tol ? "STRUCTURAL_DRIFT" : "IDENTICAL", g->pairs, g->match, g->within_tol);
        }
    }
    if (ng > gshow)
        fprintf(f, "    ... %u more groups (--tsv for all)\n", ng - gshow);
}

static void tsv_text(FILE *f, const char *s)
{
    for (; s && *s; s++)
        fputc(*s == '\t' || *s == '\n' || *s == '\r' ? ' ' : *s, f);
}

/* The seeds' results table (003_*.txt): one row per prompt/token/position. */
void render_tsv(const tt_diff *d, FILE *f)
{
    fputs("PROMPT\tTOKEN_ID\tPOS_ID\tLAYER\tFIRST_FAIL\tROOT_CAUSE\tDETAILS\n", f);
    char lab[300];
    for (uint32_t i = 0; i < tt_diff_group_count(d); i++) {
        const tt_diff_group *g = tt_diff_group_at(d, i);
        tsv_text(f, g->prompt_id);
        fprintf(f, "\t%d\t%d\t", (int)g->token_id, (int)g->pos_id);
        if (g->first_failure >= 0) {
            const tt_diff_pair *p = tt_diff_pair_at(d, (uint64_t)g->first_failure);
            fprintf(f, "%d\t", (int)p->layer);
            tsv_text(f, p->point);
            fprintf(f, "\t%s\t", g->root_cause);
            if (p->verdict == TT_DIFF_MISSING)
                fprintf(f, "no %s record with this key", p->left.present ? "right" : "left");
            else if (p->error)
                tsv_text(f, p->error);
            else if (p->flags & TT_DIFF_PAIR_COMPARED)
                fprintf(f, "%s max_abs=%.4g rel_l2=%.4g cosine=%.9g max_ulp=%.0f outside=%" PRIu64 "/%" PRIu64
                           " rtol=%.3g atol=%.3g%s%s", tt_diff_verdict_name(p->verdict), p->m.max_abs, p->m.rel_l2,
                        p->m.cosine, p->m.max_ulp, p->m.outside_tol, p->m.elems, p->m.rtol, p->m.atol,
                        (p->flags & TT_DIFF_PAIR_JUMP) ? " jump" : "", (p->flags & TT_DIFF_PAIR_KV_FAIL) ? " kv_check_failed" : "");
            else
                fprintf(f, "hash %" PRIu64 " vs %" PRIu64 " min %.9g/%.9g max %.9g/%.9g mean %.9g/%.9g", p->left.hash,
                        p->right.hash, p->left.stats.min, p->right.stats.min, p->left.stats.max, p->right.stats.max,
                        p->left.stats.mean, p->right.stats.mean);
            fputc('\n', f);
        } else if (g->root_cause) {
            const tt_diff_kv_check *k = NULL;
            for (uint64_t j = 0; j < tt_diff_kv_check_count(d); j++) {
                const tt_diff_kv_check *x = tt_diff_kv_check_at(d, j);
                if (x->passed == 0 && x->pair < 0 && x->group == i) {
                    k = x;
                    break;
                }
            }
            fprintf(f, "%d\t", k ? (int)k->layer : -1);
            tsv_text(f, k ? k->point : "-");
            fprintf(f, "\t%s\t", g->root_cause);
            tsv_text(f, k ? k->text : "");
            fputc('\n', f);
        } else {
            fprintf(f, "-\t-\t%s\t%" PRIu64 " pairs: %" PRIu64 " match, %" PRIu64 " within tolerance\n",
                    g->within_tol ? "STRUCTURAL_DRIFT" : "PASS", g->pairs, g->match, g->within_tol);
        }
        (void)lab;
    }
}

static const char *const flag_names[] = {"hash_skip", "compared", "stats_only", "hash_only", "error",     "duplicate",
                                         "rows",      "jump",     "kv_fail",    "dtypes",    "nonfinite", "outliers"};

void render_pairs_tsv(const tt_diff *d, FILE *f)
{
    fputs("INDEX\tGROUP\tPROMPT\tTOKEN_ID\tLOGICAL_TOK_IDX\tPOS_ID\tLAYER\tPOINT\tVERDICT\tNUMERIC_VERDICT\tROOT_CAUSE"
          "\tLEFT_DTYPE\tRIGHT_DTYPE\tELEMS\tMAX_ABS\tREL_L2\tCOSINE\tMAX_ULP\tOUTSIDE_TOL\tNAN_MISMATCH\tINF_MISMATCH"
          "\tRTOL\tATOL\tFLAGS\tERROR\n", f);
    for (uint64_t i = 0; i < tt_diff_pair_count(d); i++) {
        const tt_diff_pair *p = tt_diff_pair_at(d, i);
        const tt_diff_side *s = p->left.present ? &p->left : &p->right;
        int32_t off = (int32_t)s->row_begin;
        fprintf(f, "%" PRIu64 "\t%u\t", i, p->group);
        tsv_text(f, s->key.prompt_id);
        fprintf(f, "\t%d\t%d\t%d\t%d\t", (int)s->key.token_id,
                s->key.logical_tok_idx < 0 ? -1 : (int)(s->key.logical_tok_idx + off),
                s->key.pos_id < 0 ? -1 : (int)(s->key.pos_id + off), (int)p->layer);
        tsv_text(f, p->point);
        fprintf(f, "\t%s\t%s\t%s\t%s\t%s\t%" PRIu64 "\t%.6g\t%.6g\t%.12g\t%.0f\t%" PRIu64 "\t%" PRIu64 "\t%" PRIu64
                   "\t%.3g\t%.3g\t", tt_diff_verdict_name(p->verdict), tt_diff_verdict_name(p->numeric_verdict),
                p->root_cause ? p->root_cause : "-", p->left.present ? tt_dtype_name(p->left.dtype) : "-",
                p->right.present ? tt_dtype_name(p->right.dtype) : "-", p->m.elems, p->m.max_abs, p->m.rel_l2,
                p->m.cosine, p->m.max_ulp, p->m.outside_tol, p->m.nan_mismatch, p->m.inf_mismatch, p->m.rtol,
                p->m.atol);
        int first = 1;
        for (size_t b = 0; b < sizeof flag_names / sizeof flag_names[0]; b++)
            if (p->flags & (1u << b)) {
                fprintf(f, "%s%s", first ? "" : ",", flag_names[b]);
                first = 0;
            }
        if (first)
            fputc('-', f);
        fputc('\t', f);
        tsv_text(f, p->error ? p->error : "-");
        fputc('\n', f);
    }
}

void render_plan(const tt_diff *d, FILE *f)
{
    tt_diff_plan pl;
    if (tt_diff_plan_get(d, &pl) != TT_OK || pl.pair < 0) {
        fputs("plan: no divergence: nothing to capture in full\n", f);
        return;
    }
    char lab[300];
    const tt_diff_pair *p = tt_diff_pair_at(d, (uint64_t)pl.pair);
    fprintf(f, "plan: capture in full around the first divergence (%s), %" PRIu64 " of %" PRIu64
               " records of the left side", render_pair_label(p, lab, sizeof lab), pl.records_selected,
            pl.records_total);
    if (pl.bytes_total)
        fprintf(f, ", %.3g%% of its tensor bytes", 100.0 * (double)pl.bytes_selected / (double)pl.bytes_total);
    fprintf(f, ":\n  TT_TRACE_MODE=full TT_TRACE_PROMPTS=%s TT_TRACE_PHASES=%s TT_TRACE_LAYERS=%s TT_TRACE_POINTS=%s\n",
            pl.prompts, pl.phases, pl.layers, pl.points);
}
