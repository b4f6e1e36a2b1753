/*
 * report_kv.c — section 2 of the report, "KV Alignment Analysis": the Q/K/V projection hashes of both sides at the
 * first layer for every prompt (the seeds' q_proj/k_proj/v_proj table), the attention statistics before and after
 * the softmax taken from the records' stored stats (min/max/mean of attn_scores and attn_probs on both sides, for
 * the first failure's prompt and layer and then per layer), and the KV-cache indicators and checks of the first
 * kv_aligned result — or, without one, what is missing and the command that gets it.
 */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "report.h"
#include "text.h"

#define D (&rep->doc)

static void projection_hashes(rp_report *rep, const rp_result *r, const rp_facts *f)
{
    int32_t L = f->first_layer;
    rp_doc_heading(D, 3, "projection-hashes", "Projection Hashes (Layer %d)", (int)(L < 0 ? 0 : L));
    const char *pts[3] = {f->q_point, f->k_point, f->v_point};
    const char *names[3] = {"q_proj", "k_proj", "v_proj"};
    if (!pts[0] && !pts[1] && !pts[2]) {
        rp_block *p = rp_doc_para(D);
        if (p)
            rp_txt(D, &p->text, "N/A: the trace has no Q/K/V projection records (q_pre_rope, k_pre_rope, v or "
                                "q_proj, k_proj, v_proj): capture them to get this table.");
        return;
    }
    rp_block *t = rp_doc_table(D, 9, "Tensor", "Layer", "Prompt", "Left hash", "Right hash", "Equal", "Rel L2",
                               "Verdict", "Notes");
    for (int k = 0; k < 3; k++) {
        if (!pts[k])
            continue;
        for (size_t gi = 0; gi < r->ngroups; gi++) {
            const rp_pair *p = rp_find_pair(r, gi, L, pts[k]);
            if (!p)
                continue;
            int eq = p->left.has_hash && p->right.has_hash && strcmp(p->left.hash, p->right.hash) == 0;
            rp_doc_row(D, t);
            rp_doc_cell(D, t, RP_CLS_PLAIN, "%s", strcmp(names[k], pts[k]) ? rp_s(rep, "%s (%s)", names[k], pts[k])
                                                                           : pts[k]);
            rp_doc_cell(D, t, RP_CLS_NUM, "%d", (int)p->layer);
            rp_doc_cell(D, t, RP_CLS_PLAIN, "%s", rp_prompt_of(r, gi));
            rp_doc_cell(D, t, RP_CLS_MONO, "%s", rp_hash_cell(rep, &p->left));
            rp_doc_cell(D, t, RP_CLS_MONO, "%s", rp_hash_cell(rep, &p->right));
            rp_doc_cell(D, t, eq ? RP_CLS_OK : RP_CLS_PLAIN, "%s", eq ? "yes" : "no");
            rp_doc_cell(D, t, RP_CLS_NUM, "%s", rp_n(rep, rp_pair_rel(p)));
            rp_doc_cell(D, t, rp_verdict_cls(p->verdict), "%s", rp_verdict_name(p->verdict));
            rp_doc_cell(D, t, RP_CLS_PLAIN, "%s",
                        eq ? "bitwise equal"
                        : (p->flags & RP_F_HASH_ONLY) ? "hash differs; the records hold no values to compare"
                        : (p->flags & RP_F_STATS_ONLY) ? "hash differs; compared by min/max/mean only"
                           : p->numeric_verdict == RP_WITHIN_TOL
                                 ? rp_s(rep, "hash differs, values within tolerance (max |diff| %s)",
                                        rp_n(rep, p->m.max_abs))
                                 : rp_failing(p->numeric_verdict)
                                       ? rp_s(rep, "values differ beyond tolerance (%llu of %llu elements)",
                                              (unsigned long long)p->m.outside_tol, (unsigned long long)p->m.elems)
                                       : "");
        }
    }
}

static void stat_cells(rp_report *rep, rp_block *t, const rp_pair *p, int which)
{
    const rp_stats *a = p && p->left.present ? &p->left.stats : NULL;
    const rp_stats *b = p && p->right.present ? &p->right.stats : NULL;
    double va = NAN, vb = NAN;
    if (a && a->present)
        va = which == 0 ? a->min : which == 1 ? a->max : a->mean;
    if (b && b->present)
        vb = which == 0 ? b->min : which == 1 ? b->max : b->mean;
    char b1[RP_NUM_LEN], b2[RP_NUM_LEN];
    rp_doc_cell(D, t, RP_CLS_NUM, "%s", rp_fmt_prec(b1, va, 6));
    rp_doc_cell(D, t, RP_CLS_NUM, "%s", rp_fmt_prec(b2, vb, 6));
}

static void attention_stats(rp_report *rep, const rp_result *r, const rp_facts *f)
{
    uint64_t gi = r->ff.present && r->ff.group < r->ngroups ? r->ff.group : 0;
    int32_t L = r->ff.present && r->ff.layer >= 0 ? r->ff.layer : f->first_layer;
    rp_doc_heading(D, 3, "attention-stats", "Attention Statistics (%s, layer %d)", rp_prompt_of(r, gi),
                   (int)(L < 0 ? 0 : L));
    if (!f->scores_point && !f->probs_point) {
        rp_block *p = rp_doc_para(D);
        if (p)
            rp_txt(D, &p->text, "N/A: the trace has no attention score or probability records (attn_scores, "
                                "attn_probs): capture them to see the statistics before and after the softmax.");
        return;
    }
    const rp_pair *sc = f->scores_point ? rp_find_pair(r, gi, L, f->scores_point) : NULL;
    const rp_pair *pr = f->probs_point ? rp_find_pair(r, gi, L, f->probs_point) : NULL;
    const rp_pair *any = sc ? sc : pr;
    const char *lp = any && any->left.present ? any->left.phase : "left";
    const char *rpn = any && any->right.present ? any->right.phase : "right";
    rp_block *t = rp_doc_table(D, 5, "Metric", rp_s(rep, "Pre-Softmax (%s)", lp), rp_s(rep, "Pre-Softmax (%s)", rpn),
                               rp_s(rep, "Post-Softmax (%s)", lp), rp_s(rep, "Post-Softmax (%s)", rpn));
    static const char *const rows[] = {"Min", "Max", "Mean"};
    for (int k = 0; k < 3; k++) {
        rp_doc_row(D, t);
        rp_doc_cell(D, t, RP_CLS_PLAIN, "%s", rows[k]);
        stat_cells(rep, t, sc, k);
        stat_cells(rep, t, pr, k);
    }
    rp_doc_row(D, t);
    rp_doc_cell(D, t, RP_CLS_PLAIN, "Masked or infinite entries");
    for (int k = 0; k < 2; k++) {
        const rp_pair *p = k ? pr : sc;
        for (int s = 0; s < 2; s++) {
            const rp_side *sd = p ? (s ? &p->right : &p->left) : NULL;
            rp_doc_cell(D, t, RP_CLS_NUM, "%s", sd && sd->present && sd->stats.present
                                                     ? rp_s(rep, "%llu", (unsigned long long)sd->stats.inf_count)
                                                     : "n/a");
        }
    }
    rp_doc_row(D, t);
    rp_doc_cell(D, t, RP_CLS_PLAIN, "Rel L2 / verdict");
    for (int k = 0; k < 2; k++) {
        const rp_pair *p = k ? pr : sc;
        rp_doc_cell(D, t, RP_CLS_NUM, "%s", p ? rp_n(rep, rp_pair_rel(p)) : "n/a");
        rp_doc_cell(D, t, p ? rp_verdict_cls(p->verdict) : RP_CLS_NA, "%s", p ? rp_verdict_name(p->verdict) : "n/a");
    }
    /* per layer, same prompt */
    rp_block *t2 = rp_doc_table(D, 7, "Layer", "Scores rel L2", "Scores max (left / right)", "Scores verdict",
                                "Probs rel L2", "Probs max (left / right)", "Probs verdict");
    for (size_t ri = 0; ri < f->g.nrows; ri++) {
        if (f->g.rows[ri].kind != RP_ROW_LAYER)
            continue;
        int32_t l = f->g.rows[ri].layer;
        const rp_pair *a = f->scores_point ? rp_find_pair(r, gi, l, f->scores_point) : NULL;
        const rp_pair *b = f->probs_point ? rp_find_pair(r, gi, l, f->probs_point) : NULL;
        if (!a && !b)
            continue;
        rp_doc_row(D, t2);
        rp_doc_cell(D, t2, RP_CLS_NUM, "%d", (int)l);
        for (int k = 0; k < 2; k++) {
            const rp_pair *p = k ? b : a;
            if (!p) {
                rp_doc_cell(D, t2, RP_CLS_NA, "n/a");
                rp_doc_cell(D, t2, RP_CLS_NA, "n/a");
                rp_doc_cell(D, t2, RP_CLS_NA, "n/a");
                continue;
            }
            rp_doc_cell(D, t2, RP_CLS_NUM, "%s", rp_n(rep, rp_pair_rel(p)));
            char b1[RP_NUM_LEN], b2[RP_NUM_LEN];
            rp_doc_cell(D, t2, RP_CLS_NUM, "%s / %s",
                        rp_fmt_prec(b1, p->left.present && p->left.stats.present ? p->left.stats.max : NAN, 4),
                        rp_fmt_prec(b2, p->right.present && p->right.stats.present ? p->right.stats.max : NAN, 4));
            rp_doc_cell(D, t2, rp_verdict_cls(p->verdict), "%s", rp_verdict_name(p->verdict));
        }
    }
}

static const char *tally_value(rp_report *rep, const rp_kv_tally *t)
{
    uint64_t n = t->pass + t->fail + t->na;
    if (!n)
        return "N/A (no check)";
    if (t->fail)
        return rp_s(rep, "False: %llu of %llu checks fail (%llu of %llu rows bad)", (unsigned long long)t->fail,
                    (unsigned long long)n, (unsigned long long)t->bad_rows, (unsigned long long)t->rows);
    if (!t->pass)
        return rp_s(rep, "N/A: %llu checks not applicable", (unsigned long long)t->na);
    return rp_s(rep, "True: %llu of %llu checks pass (%llu rows)", (unsigned long long)t->pass, (unsigned long long)n,
                (unsigned long long)t->rows);
}

static rp_cls tally_cls(const rp_kv_tally *t)
{
    return t->fail ? RP_CLS_BAD : t->pass ? RP_CLS_OK : RP_CLS_NA;
}

static const char *first_fail_text(rp_report *rep, const rp_kv_tally *t)
{
    const rp_kvcheck *k = t->first_fail;
    if (!k)
        return "";
    return rp_s(rep, ". First: %s layer %d (%s), %s, position %lld, max |diff| %s.", k->point ? k->point : "?",
                (int)k->layer, k->prompt_id ? k->prompt_id : "(none)",
                k->side == 2 ? "both sides" : rp_s(rep, "%s side", rp_side_name(k->side)),
                (long long)k->first_bad_row, rp_n(rep, k->max_abs));
}

static void kv_indicators(rp_report *rep, const rp_result *r, const rp_facts *f)
{
    rp_doc_heading(D, 3, "kv-indicators", "KV Alignment Indicators");
    if (r->mode != RP_KV_ALIGNED) {
        rp_block *p = rp_doc_para(D);
        if (p) {
            rp_txt(D, &p->text, "Not measured: no kv_aligned result was given, so the KV-cache checks did not run. "
                                "Get them with ");
            rp_code(D, &p->text, "%s", rp_tracediff_cmd(rep, r, "--mode kv_aligned --json kv_aligned.json"));
            rp_txt(D, &p->text, " and pass that JSON to tracereport as well.");
        }
        return;
    }
    rp_block *t = rp_doc_table(D, 3, "Indicator", "Value", "Interpretation");
    rp_doc_row(D, t);
    rp_doc_cell(D, t, RP_CLS_PLAIN, "K Hash Consistency (cache_prefix, K cache)");
    rp_doc_cell(D, t, tally_cls(&f->kv_prefix_k), "%s%s", tally_value(rep, &f->kv_prefix_k),
                first_fail_text(rep, &f->kv_prefix_k));
    rp_doc_cell(D, t, RP_CLS_PLAIN, "True = the K rows both sides' prefill wrote are bitwise equal and decode's own "
                                    "rows within tolerance; False = the cache does not hold what prefill wrote");
    rp_doc_row(D, t);
    rp_doc_cell(D, t, RP_CLS_PLAIN, "V Hash Consistency (cache_prefix, V cache)");
    rp_doc_cell(D, t, tally_cls(&f->kv_prefix_v), "%s%s", tally_value(rep, &f->kv_prefix_v),
                first_fail_text(rep, &f->kv_prefix_v));
    rp_doc_cell(D, t, RP_CLS_PLAIN, "the same for V");
    rp_doc_row(D, t);
    rp_doc_cell(D, t, RP_CLS_PLAIN, "K-V Aligned (cache_write)");
    rp_doc_cell(D, t, tally_cls(&f->kv[RP_KV_WRITE]), "%s%s", tally_value(rep, &f->kv[RP_KV_WRITE]),
                first_fail_text(rep, &f->kv[RP_KV_WRITE]));
    rp_doc_cell(D, t, RP_CLS_PLAIN, "True = each step's K and V sit in the cache at the step's own positions, "
                                    "where its attention reads them; False = written at another offset");
    if (f->kv[RP_KV_CAUSAL].pass + f->kv[RP_KV_CAUSAL].fail + f->kv[RP_KV_CAUSAL].na) {
        rp_doc_row(D, t);
        rp_doc_cell(D, t, RP_CLS_PLAIN, "Causal Mask (causal)");
        rp_doc_cell(D, t, tally_cls(&f->kv[RP_KV_CAUSAL]), "%s%s", tally_value(rep, &f->kv[RP_KV_CAUSAL]),
                    first_fail_text(rep, &f->kv[RP_KV_CAUSAL]));
        rp_doc_cell(D, t, RP_CLS_PLAIN, "True = no row puts weight on a key past its own position");
    }
    /* the checks: failures first, then passes, at most 40 rows */
    rp_doc_heading(D, 3, "kv-checks", "KV-Cache Checks");
    if (!r->nkv) {
        rp_block *p = rp_doc_para(D);
        if (p)
            rp_txt(D, &p->text, "No KV-cache check ran (the trace has no k_cache/v_cache or attention records).");
        return;
    }
    rp_block *k = rp_doc_table(D, 9, "Check", "Result", "Side", "Prompt", "Point", "Layer", "Rows checked",
                               "Bad rows", "Max |diff|");
    size_t shown = 0, limit = 24;
    for (int pass = 0; pass < 3; pass++)
        for (size_t i = 0; i < r->nkv && shown < limit; i++) {
            const rp_kvcheck *c = &r->kv[i];
            int want = pass == 0 ? 0 : pass == 1 ? -1 : 1;
            if (c->result != want)
                continue;
            shown++;
            rp_doc_row(D, k);
            rp_doc_cell(D, k, RP_CLS_PLAIN, "%s", rp_kv_kind_name(c->kind));
            rp_doc_cell(D, k, c->result == 1 ? RP_CLS_OK : c->result == 0 ? RP_CLS_BAD : RP_CLS_NA, "%s",
                        rp_kv_result_name(c->result));
            rp_doc_cell(D, k, RP_CLS_PLAIN, "%s", rp_side_name(c->side));
            rp_doc_cell(D, k, RP_CLS_PLAIN, "%s", c->prompt_id ? c->prompt_id : "(none)");
            rp_doc_cell(D, k, RP_CLS_PLAIN, "%s", c->point ? c->point : "-");
            rp_doc_cell(D, k, RP_CLS_NUM, "%d", (int)c->layer);
            rp_doc_cell(D, k, RP_CLS_NUM, "%llu", (unsigned long long)c->rows_checked);
            rp_doc_cell(D, k, RP_CLS_NUM, "%llu", (unsigned long long)c->bad_rows);
            rp_doc_cell(D, k, RP_CLS_NUM, "%s", rp_n(rep, c->max_abs));
        }
    if (r->nkv > shown) {
        rp_block *p = rp_doc_para(D);
        if (p)
            rp_txt(D, &p->text, "%zu more checks not listed (failures are listed first): %llu pass, %llu fail, %llu "
                                "not applicable in all.",
                   r->nkv - shown, (unsigned long long)(f->kv[0].pass + f->kv[1].pass + f->kv[2].pass),
                   (unsigned long long)(f->kv[0].fail + f->kv[1].fail + f->kv[2].fail),
                   (unsigned long long)(f->kv[0].na + f->kv[1].na + f->kv[2].na));
    }
    const rp_kvcheck *first = NULL;
    for (size_t i = 0; i < r->nkv && !first; i++)
        if (r->kv[i].result == 0)
            first = &r->kv[i];
    if (first) {
        rp_block *p = rp_doc_para(D);
        if (p) {
            rp_txt(D, &p->text, "First failing check, as tracediff words it: ");
            rp_txt(D, &p->text, "%s", first->text);
        }
    }
}

void rp_section_kv(rp_report *rep)
{
    const rp_result *r = rep->res[rep->kv_src];
    const rp_facts *f = &rep->facts[rep->kv_src];
    rp_doc_heading(D, 2, "kv-alignment", "2. KV Alignment Analysis (kv_aligned mode)");
    rp_block *p = rp_doc_para(D);
    if (p) {
        if (r->mode == RP_KV_ALIGNED)
            rp_txt(D, &p->text, "From the kv_aligned result %s: verdict %s.", r->source, rp_verdict_text(rep, r));
        else
            rp_txt(D, &p->text, "No kv_aligned result among the inputs: the hashes and statistics below come from "
                                "the %s result; the cache checks need a kv_aligned run.",
                   rp_mode_name(r->mode));
    }
    if (r->mode == RP_KV_ALIGNED && r->verdict == RP_NA) {
        rp_block *n = rp_doc_note(D);
        if (n)
            rp_txt(D, &n->text, "KV alignment not available in this trace (N/A): %s.",
                   r->subcause ? r->subcause : "the trace lacks the Q/K/V, softmax or cache records");
    }
    projection_hashes(rep, r, f);
    attention_stats(rep, r, f);
    kv_indicators(rep, r, f);
}

