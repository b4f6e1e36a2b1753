/*
 * findings.c — the judgement sections of the report: "Drift Structural vs Real Mismatch" (the hypotheses H0/H1
 * and an evidence matrix in which every row states what was observed, with its numbers, and which hypothesis it
 * supports), the conclusion, and recommendations that follow from the root cause of the first failure, each with
 * the exact command to run next. Nothing here is boilerplate: a row or a recommendation appears because a number
 * in the results calls for it, and says which number.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "report.h"
#include "text.h"

#define D (&rep->doc)

enum { SUP_NONE = 0, SUP_H0 = 1, SUP_H1 = 2 };

typedef struct ev_row {
    const char *evidence, *observed;
    int supports;
} ev_row;

#define MAX_ROWS 12

typedef struct ev_list {
    ev_row r[MAX_ROWS];
    int n;
} ev_list;

static void ev(ev_list *l, const char *evidence, const char *observed, int supports)
{
    if (l->n < MAX_ROWS)
        l->r[l->n++] = (ev_row){evidence, observed, supports};
}

/* "q_pre_rope 3.2e-07, k_pre_rope 4.1e-07" style: the worst relative error of a point at a layer */
static const rp_pair *worst_of(const rp_result *r, int32_t layer, const char *point)
{
    return point ? rp_worst_at(r, layer, point) : NULL;
}

static void row_qkv(rp_report *rep, ev_list *l, const rp_result *r, const rp_facts *f)
{
    int32_t L = f->first_layer < 0 ? 0 : f->first_layer;
    const char *pts[3] = {f->q_point, f->k_point, f->v_point};
    const char *ev_text = rp_s(rep, "Q/K/V projections bitwise or within tolerance at layer %d", (int)L);
    if (!pts[0] && !pts[1] && !pts[2]) {
        ev(l, ev_text, "not captured (no q_pre_rope / k_pre_rope / v records)", SUP_NONE);
        return;
    }
    char buf[600];
    size_t o = 0;
    int bad = 0, all_bitwise = 1;
    for (int k = 0; k < 3; k++) {
        const rp_pair *w = worst_of(r, L, pts[k]);
        if (!w)
            continue;
        /* the worst verdict over the prompts */
        rp_verdict v = RP_MATCH;
        for (size_t i = 0; i < r->npairs; i++)
            if (r->pairs[i].layer == L && strcmp(r->pairs[i].point, pts[k]) == 0 &&
                rp_severity(r->pairs[i].numeric_verdict) > rp_severity(v))
                v = r->pairs[i].numeric_verdict;
        if (rp_failing(v))
            bad = 1;
        if (v != RP_MATCH)
            all_bitwise = 0;
        char nb[40];
        o += (size_t)snprintf(buf + o, o < sizeof buf ? sizeof buf - o : 0, "%s%s rel %s (%s)", o ? ", " : "",
                              pts[k], rp_fmt(nb, rp_pair_rel(w)), rp_verdict_name(v));
        if (o >= sizeof buf)
            break;
    }
    const char *obs = rp_s(rep, "%s: %s; worst over %zu prompts", bad ? "no" : all_bitwise ? "yes, bitwise" : "yes",
                           buf, r->ngroups);
    ev(l, ev_text, obs, bad ? SUP_H1 : SUP_H0);
}

static void row_jump(rp_report *rep, ev_list *l, const rp_result *r, const rp_facts *f)
{
    const char *ev_text = "Error grows smoothly through the pipeline (no jump flagged)";
    int64_t jp = f->ff_jump >= 0 ? f->ff_jump : f->first_jump;
    if (jp >= 0) {
        const rp_pair *p = &r->pairs[jp];
        ev(l, ev_text,
           rp_s(rep, "no: error jump at %s (%s): %s -> %s (x%s); %llu jumps in all", rp_pair_label(rep, p),
                rp_prompt_of(r, p->group), rp_n(rep, p->jump_baseline), rp_n(rep, rp_pair_rel(p)),
                rp_s(rep, "%.3g", p->jump_ratio), (unsigned long long)r->counts.jumps),
           SUP_H1);
        return;
    }
    if (f->worst_pair >= 0) {
        const rp_pair *w = &r->pairs[f->worst_pair];
        ev(l, ev_text,
           rp_s(rep, "yes: no jump among %llu pairs; largest rel L2 %s at %s (%s)", (unsigned long long)r->counts.pairs,
                rp_n(rep, rp_pair_rel(w)), rp_pair_label(rep, w), rp_prompt_of(r, w->group)),
           SUP_H0);
    } else
        ev(l, ev_text, "not measured (no pair compared from its tensors)", SUP_NONE);
}

static void row_kv(rp_report *rep, ev_list *l, const rp_result *r, const rp_facts *f)
{
    const char *t_prefix = "Cache rows equal bitwise where both prefills wrote them (cache_prefix)";
    const char *t_write = "Each step's K/V is where its attention reads it (cache_write)";
    if (r->mode != RP_KV_ALIGNED) {
        ev(l, t_prefix, "not measured: no kv_aligned result given", SUP_NONE);
        return;
    }
    const rp_kv_tally *p = &f->kv[RP_KV_PREFIX], *w = &f->kv[RP_KV_WRITE], *c = &f->kv[RP_KV_CAUSAL];
    if (p->fail) {
        const rp_kvcheck *k = p->first_fail;
        ev(l, t_prefix,
           rp_s(rep, "no: %llu of %llu checks fail, %llu of %llu rows bad; first %s L%d (%s) at position %lld, max "
                     "|diff| %s",
                (unsigned long long)p->fail, (unsigned long long)(p->pass + p->fail + p->na),
                (unsigned long long)p->bad_rows, (unsigned long long)p->rows, k->point ? k->point : "?",
                (int)k->layer, k->prompt_id ? k->prompt_id : "(none)", (long long)k->first_bad_row,
                rp_n(rep, k->max_abs)),
           SUP_H1);
    } else if (p->pass)
        ev(l, t_prefix,
           rp_s(rep, "yes: %llu checks pass, %llu rows compared", (unsigned long long)p->pass,
                (unsigned long long)p->rows),
           SUP_H0);
    else
        ev(l, t_prefix, "not measured: no k_cache/v_cache pair", SUP_NONE);
    if (w->fail) {
        const rp_kvcheck *k = w->first_fail;
        ev(l, t_write,
           rp_s(rep, "no: %llu of %llu checks fail; first %s L%d (%s), %s side, position %lld, max |diff| %s",
                (unsigned long long)w->fail, (unsigned long long)(w->pass + w->fail + w->na),
                k->point ? k->point : "?", (int)k->layer, k->prompt_id ? k->prompt_id : "(none)",
                rp_side_name(k->side), (long long)k->first_bad_row, rp_n(rep, k->max_abs)),
           SUP_H1);
    } else if (w->pass)
        ev(l, t_write, rp_s(rep, "yes: %llu checks pass, %llu rows", (unsigned long long)w->pass,
                            (unsigned long long)w->rows),
           SUP_H0);
    if (c->fail + c->pass) {
        const char *t_causal = "No attention weight past a row's own position (causal)";
        if (c->fail)
            ev(l, t_causal,
               rp_s(rep, "no: %llu of %llu checks fail; first %s L%d, weight %s past the diagonal",
                    (unsigned long long)c->fail, (unsigned long long)(c->pass + c->fail + c->na),
                    c->first_fail->point ? c->first_fail->point : "?", (int)c->first_fail->layer,
                    rp_n(rep, c->first_fail->max_abs)),
               SUP_H1);
        else
            ev(l, t_causal, rp_s(rep, "yes: %llu checks pass", (unsigned long long)c->pass), SUP_H0);
    }
}

/* counts of a point's pairs by numeric verdict, and the worst */
static void point_summary(const rp_result *r, const char *point, uint64_t *n, uint64_t *bad, const rp_pair **worst)
{
    *n = *bad = 0;
    *worst = NULL;
    for (size_t i = 0; i < r->npairs; i++) {
        const rp_pair *p = &r->pairs[i];
        if (strcmp(p->point, point) != 0)
            continue;
        (*n)++;
        if (rp_failing(p->numeric_verdict))
            (*bad)++;
        double a = rp_pair_rel(p), b = *worst ? rp_pair_rel(*worst) : NAN;
        if (!*worst || (!isnan(a) && (isnan(b) || a > b)))
            *worst = p;
    }
}

static void row_attention(rp_report *rep, ev_list *l, const rp_result *r, const rp_facts *f)
{
    const char *t = "Attention scores and probabilities within tolerance";
    if (!f->scores_point && !f->probs_point) {
        ev(l, t, "not captured (no attn_scores / attn_probs records)", SUP_NONE);
        return;
    }
    char buf[600];
    size_t o = 0;
    int bad = 0;
    const char *pts[2] = {f->scores_point, f->probs_point};
    for (int k = 0; k < 2; k++) {
        if (!pts[k])
            continue;
        uint64_t n, nb;
        const rp_pair *w;
        point_summary(r, pts[k], &n, &nb, &w);
        char b1[40];
        if (nb)
            bad = 1;
        o += (size_t)snprintf(buf + o, o < sizeof buf ? sizeof buf - o : 0,
                              "%s%s %llu of %llu beyond tolerance (worst rel %s at L%d)", o ? "; " : "", pts[k],
                              (unsigned long long)nb, (unsigned long long)n, rp_fmt(b1, w ? rp_pair_rel(w) : NAN),
                              w ? (int)w->layer : -1);
        if (o >= sizeof buf)
            break;
    }
    ev(l, t, rp_s(rep, "%s: %s", bad ? "no" : "yes", buf), bad ? SUP_H1 : SUP_H0);
}

static void row_counts(rp_report *rep, ev_list *l, const rp_result *r, const rp_facts *f)
{
    const char *t = "Every pair within tolerance by the numbers (no MISMATCH)";
    if (f->numeric_fail) {
        const char *first = r->ff.present ? rp_s(rep, "; first %s", rp_where_label(rep, r->ff.point, r->ff.layer)) : "";
        ev(l, t,
           rp_s(rep, "no: %llu of %llu pairs beyond tolerance%s", (unsigned long long)f->numeric_fail,
                (unsigned long long)r->counts.pairs, first),
           SUP_H1);
    } else
        ev(l, t,
           rp_s(rep, "yes: %llu bitwise, %llu within tolerance, 0 beyond", (unsigned long long)r->counts.match,
                (unsigned long long)r->counts.within_tol),
           SUP_H0);
}

static void row_consistency(rp_report *rep, ev_list *l, const rp_result *r)
{
    uint64_t failing = 0, same = 0;
    const char *rc = r->ff.present ? r->ff.root_cause : NULL;
    for (size_t i = 0; i < r->ngroups; i++) {
        if (r->groups[i].first_failure < 0)
            continue;
        failing++;
        const rp_pair *p = &r->pairs[r->groups[i].first_failure];
        if (rc && r->groups[i].root_cause && strcmp(r->groups[i].root_cause, rc) == 0 && p->layer == r->ff.layer &&
            strcmp(p->point, r->ff.point) == 0)
            same++;
    }
    if (!failing || r->ngroups < 2)
        return;
    const char *t = "The same first failure in every prompt (a systematic cause)";
    if (same == r->ngroups)
        ev(l, t,
           rp_s(rep, "yes: %s at %s in %llu of %zu prompts", rc, rp_where_label(rep, r->ff.point, r->ff.layer),
                (unsigned long long)same, r->ngroups),
           SUP_H1);
    else
        ev(l, t,
           rp_s(rep, "no: %llu of %zu prompts fail, %llu of them first at %s", (unsigned long long)failing, r->ngroups,
                (unsigned long long)same, rp_where_label(rep, r->ff.point, r->ff.layer)),
           SUP_NONE);
}

static void row_hashes(rp_report *rep, ev_list *l, const rp_result *r, const rp_facts *f)
{
    uint64_t differ_ok = 0;
    for (size_t i = 0; i < r->npairs; i++) {
        const rp_pair *p = &r->pairs[i];
        if (p->left.has_hash && p->right.has_hash && strcmp(p->left.hash, p->right.hash) != 0 &&
            !rp_failing(p->numeric_verdict))
            differ_ok++;
    }
    ev(l, "Content hashes equal (the legacy probe's criterion)",
       rp_s(rep, "%llu of %llu pairs differ by hash, %llu of those within tolerance: a hash difference alone "
                 "cannot tell drift from a bug",
            (unsigned long long)f->hash_differ, (unsigned long long)f->hash_pairs, (unsigned long long)differ_ok),
       SUP_NONE);
}

static void row_missing(rp_report *rep, ev_list *l, const rp_result *r)
{
    if (r->counts.missing)
        ev(l, "Pairing complete (no MISSING pair)",
           rp_s(rep, "no: %llu pairs have no partner (TRACE_OFFSET): the traces do not line up",
                (unsigned long long)r->counts.missing),
           SUP_NONE);
    else
        ev(l, "Pairing complete (no MISSING pair)",
           rp_s(rep, "yes: %llu pairs, none missing", (unsigned long long)r->counts.pairs), SUP_NONE);
}

static void gather(rp_report *rep, ev_list *l)
{
    const rp_result *r = rep->res[0];
    const rp_facts *f = &rep->facts[0];
    row_qkv(rep, l, r, f);
    row_jump(rep, l, r, f);
    row_kv(rep, l, rep->res[rep->kv_src], &rep->facts[rep->kv_src]);
    row_attention(rep, l, r, f);
    row_counts(rep, l, r, f);
    row_consistency(rep, l, r);
    row_hashes(rep, l, r, f);
    row_missing(rep, l, r);
}

static const char *row_ids(rp_report *rep, const ev_list *l, int sup)
{
    char buf[128];
    size_t o = 0;
    buf[0] = '\0';
    for (int i = 0; i < l->n; i++)
        if (l->r[i].supports == sup && o < sizeof buf - 8)
            o += (size_t)snprintf(buf + o, sizeof buf - o, "%sE%d", o ? ", " : "", i + 1);
    return o ? rp_s(rep, "%s", buf) : "none";
}

void rp_section_hypotheses(rp_report *rep)
{
    const rp_result *r = rep->res[0];
    ev_list l = {.n = 0};
    gather(rep, &l);
    int h1 = r->verdict == RP_OVERALL_MISMATCH, h0 = r->verdict == RP_STRUCTURAL || r->verdict == RP_IDENTICAL;

    rp_doc_heading(D, 2, "structural-vs-real", "3. Drift Structural vs Real Mismatch");
    rp_doc_heading(D, 3, "hypotheses", "Hypothesis Testing");
    rp_block *t = rp_doc_table(D, 3, "Hypothesis", "Description", "Result");
    rp_doc_row(D, t);
    rp_doc_cell(D, t, RP_CLS_PLAIN, "H\xE2\x82\x80 (Null)");
    rp_doc_cell(D, t, RP_CLS_PLAIN, "Drift is structural: reduction order, seq_len/cache semantics; no bug");
    rp_doc_cell(D, t, h0 ? RP_CLS_OK : h1 ? RP_CLS_BAD : RP_CLS_NA, "%s",
                h0 ? rp_s(rep, "supported (%s)", row_ids(rep, &l, SUP_H0))
                : h1 ? rp_s(rep, "not supported (against it: %s)", row_ids(rep, &l, SUP_H1))
                     : "undecided: evidence missing (N/A)");
    rp_doc_row(D, t);
    rp_doc_cell(D, t, RP_CLS_PLAIN, "H\xE2\x82\x81 (Alt)");
    rp_doc_cell(D, t, RP_CLS_PLAIN, "Drift is real: a bug in the attention/KV path or before it");
    rp_doc_cell(D, t, h1 ? RP_CLS_BAD : h0 ? RP_CLS_OK : RP_CLS_NA, "%s",
                h1 ? rp_s(rep, "supported (%s)", row_ids(rep, &l, SUP_H1))
                : h0 ? rp_s(rep, "not supported (against it: %s)", row_ids(rep, &l, SUP_H0))
                     : "undecided: evidence missing (N/A)");

    rp_doc_heading(D, 3, "evidence-matrix", "Evidence Matrix");
    t = rp_doc_table(D, 5, "#", "Evidence", "Observed", "Supports H\xE2\x82\x80", "Supports H\xE2\x82\x81");
    for (int i = 0; i < l.n; i++) {
        rp_doc_row(D, t);
        rp_doc_cell(D, t, RP_CLS_PLAIN, "E%d", i + 1);
        rp_doc_cell(D, t, RP_CLS_PLAIN, "%s", l.r[i].evidence);
        rp_doc_cell(D, t, l.r[i].supports == SUP_H1 ? RP_CLS_BAD : l.r[i].supports == SUP_H0 ? RP_CLS_OK : RP_CLS_PLAIN,
                    "%s", l.r[i].observed);
        rp_doc_cell(D, t, l.r[i].supports == SUP_H0 ? RP_CLS_OK : RP_CLS_PLAIN, "%s",
                    l.r[i].supports == SUP_H0 ? "\xE2\x9C\x93" : "");
        rp_doc_cell(D, t, l.r[i].supports == SUP_H1 ? RP_CLS_BAD : RP_CLS_PLAIN, "%s",
                    l.r[i].supports == SUP_H1 ? "\xE2\x9C\x93" : "");
    }

    rp_doc_heading(D, 3, "verdict-criteria", "Verdict Criteria");
    t = rp_doc_table(D, 3, "Verdict", "Condition", "This run");
    static const char *const crit[][2] = {
        {"STRUCTURAL_DRIFT", "No pair beyond tolerance and no failed KV check: drift explained by reduction order "
                             "and seq_len/cache semantics"},
        {"MISMATCH", "A pair beyond tolerance, a missing pair or a failed KV check: evidence of a bug"},
        {"N/A", "Trace incomplete: the Q/K/V, softmax or cache records kv_aligned needs are absent"},
        {"IDENTICAL", "Every pair bitwise equal"}};
    rp_overall order[] = {RP_STRUCTURAL, RP_OVERALL_MISMATCH, RP_NA, RP_IDENTICAL};
    for (int i = 0; i < 4; i++) {
        rp_doc_row(D, t);
        rp_doc_cell(D, t, RP_CLS_PLAIN, "%s", crit[i][0]);
        rp_doc_cell(D, t, RP_CLS_PLAIN, "%s", crit[i][1]);
        rp_doc_cell(D, t, r->verdict == order[i] ? RP_CLS_BAD : RP_CLS_PLAIN, "%s",
                    r->verdict == order[i] ? rp_s(rep, "\xE2\x86\x90 this run (%s)", rp_mode_name(r->mode)) : "");
    }
    rp_block *h = rp_doc_heading(D, 3, "propagation", "Drift Propagation");
    if (h)
        h->only = RP_HTML_ONLY;
    rp_block *p = rp_doc_para(D);
    if (p) {
        if (r->ff.present)
            rp_txt(D, &p->text, "Relative L2 error per layer for every stage (worst over the prompts); the first "
                                "failure's stage is drawn bold. Structural drift grows smoothly; a bug jumps.");
        else
            rp_txt(D, &p->text, "Relative L2 error per layer for every stage (worst over the prompts): structural "
                                "drift grows smoothly through the layers.");
        p->only = RP_HTML_ONLY;
    }
    rp_doc_figure(D, RP_FIG_GROWTH, 0);
}

/* ---- 6. conclusion ---- */

static const char *jump_phrase(rp_report *rep, const rp_result *r, const rp_facts *f)
{
    if (f->ff_jump < 0)
        return "";
    const rp_pair *p = &r->pairs[f->ff_jump];
    return rp_s(rep, " Its error jumps from %s in the stages feeding it to %s (x%s): drift grows smoothly, bugs "
                     "jump.",
                rp_n(rep, p->jump_baseline), rp_n(rep, rp_pair_rel(p)), rp_s(rep, "%.3g", p->jump_ratio));
}

/* the stage before a post-RoPE stage, for the explanation */
static const char *pre_stage_of(const rp_facts *f, const char *point)
{
    if (f->q_rope_point && strcmp(point, f->q_rope_point) == 0)
        return f->q_point;
    if (f->k_rope_point && strcmp(point, f->k_rope_point) == 0)
        return f->k_point;
    return NULL;
}

void rp_section_conclusion(rp_report *rep)
{
    const rp_result *r = rep->res[0];
    const rp_facts *f = &rep->facts[0];
    rp_doc_heading(D, 2, "conclusion", "6. Conclusion");
    rp_block *p = rp_doc_para(D);
    if (!p)
        return;
    switch (r->verdict) {
    case RP_OVERALL_MISMATCH: {
        const rp_failure *ff = &r->ff;
        uint64_t same = 0, failing = 0;
        for (size_t i = 0; i < r->ngroups; i++)
            if (r->groups[i].first_failure >= 0) {
                failing++;
                if (r->groups[i].root_cause && ff->present && strcmp(r->groups[i].root_cause, ff->root_cause) == 0)
                    same++;
            }
        rp_bold(D, &p->text, "MISMATCH: a real bug, not structural drift.");
        if (ff->present) {
            rp_txt(D, &p->text, " The first divergence in pipeline order is %s (%s) in %s",
                   rp_where_label(rep, ff->point, ff->layer), ff->root_cause, rp_prompt_of(r, ff->group));
            if (r->ngroups > 1)
                rp_txt(D, &p->text, "; %llu of %zu prompts fail, %llu with the same root cause",
                       (unsigned long long)failing,
                       r->ngroups, (unsigned long long)same);
            rp_txt(D, &p->text, ".");
            if (f->ffp && f->ffp->m.present)
                rp_txt(D, &p->text,
                       " There %llu of %llu elements are outside the tolerance (max |diff| %s, rel L2 %s).",
                       (unsigned long long)f->ffp->m.outside_tol, (unsigned long long)f->ffp->m.elems,
                       rp_n(rep, f->ffp->m.max_abs), rp_n(rep, rp_pair_rel(f->ffp)));
            const char *pre = pre_stage_of(f, ff->point);
            const rp_pair *pp = pre && ff->layer >= 0 ? rp_find_pair(r, ff->group, ff->layer, pre) : NULL;
            if (pp)
                rp_txt(D, &p->text, " Its input %s is %s (rel %s), so the stage itself is wrong.", pre,
                       pp->verdict == RP_MATCH ? "bitwise equal" : "within tolerance", rp_n(rep, rp_pair_rel(pp)));
            rp_txt(D, &p->text, "%s", jump_phrase(rep, r, f));
            if (r->nchain)
                rp_txt(D, &p->text, " It propagates to %zu later pairs of that prompt, up to %s.", r->nchain,
                       rp_pair_label(rep, &r->pairs[r->chain[r->nchain - 1]]));
        }
        const rp_facts *kf = &rep->facts[rep->kv_src];
        if (kf->r->mode == RP_KV_ALIGNED) {
            uint64_t fails = kf->kv[0].fail + kf->kv[1].fail + kf->kv[2].fail;
            uint64_t total = fails + kf->kv[0].pass + kf->kv[1].pass + kf->kv[2].pass;
            rp_txt(D, &p->text, " KV-cache checks: %llu of %llu fail.", (unsigned long long)fails,
                   (unsigned long long)total);
        }
        break;
    }
    case RP_STRUCTURAL: {
        rp_bold(D, &p->text, "STRUCTURAL_DRIFT: expected behaviour, no bug.");
        rp_txt(D, &p->text, " All %llu pairs are bitwise equal (%llu) or within tolerance (%llu).",
               (unsigned long long)r->counts.pairs, (unsigned long long)r->counts.match,
               (unsigned long long)r->counts.within_tol);
        if (f->worst_pair >= 0) {
            const rp_pair *w = &r->pairs[f->worst_pair];
            rp_txt(D, &p->text, " The largest relative L2 error is %s at %s (%s)", rp_n(rep, rp_pair_rel(w)),
                   rp_pair_label(rep, w), rp_prompt_of(r, w->group));
            rp_txt(D, &p->text, "%s", r->counts.jumps ? "" : ", with no error jump: the drift grows smoothly");
            rp_txt(D, &p->text, ".");
        }
        const rp_facts *kf = &rep->facts[rep->kv_src];
        if (kf->r->mode == RP_KV_ALIGNED && kf->r->nkv)
            rp_txt(D, &p->text, " Every KV-cache check passes (%llu).",
                   (unsigned long long)(kf->kv[0].pass + kf->kv[1].pass + kf->kv[2].pass));
        rp_txt(D, &p->text, " The two paths compute the same values in a different order (different kernels, "
                            "sequence lengths or cache semantics); document the drift as expected.");
        break;
    }
    case RP_IDENTICAL:
        rp_bold(D, &p->text, "IDENTICAL: every pair is bitwise equal.");
        rp_txt(D, &p->text, " %llu pairs, no difference at all: nothing to explain.",
               (unsigned long long)r->counts.pairs);
        break;
    default:
        rp_bold(D, &p->text, "N/A: the trace lacks the evidence this mode needs.");
        rp_txt(D, &p->text, " Missing: %s. Without it the differ cannot tell structural drift from a bug and refuses "
                            "to pass (never a silent pass).",
               r->subcause ? r->subcause : "KV alignment not available in current trace");
        if (r->counts.pairs)
            rp_txt(D, &p->text, " Of the %llu pairs present, %llu are beyond tolerance.",
                   (unsigned long long)r->counts.pairs, (unsigned long long)r->counts.mismatch);
    }
    /* what the other modes say */
    for (size_t i = 1; i < rep->nres; i++) {
        const rp_result *x = rep->res[i];
        const rp_facts *xf = &rep->facts[i];
        rp_block *q = rp_doc_para(D);
        if (!q)
            break;
        rp_txt(D, &q->text, "%s says %s", rp_mode_name(x->mode), rp_overall_name(x->verdict));
        if (x->ff.present)
            rp_txt(D, &q->text, " (first failure %s, %s)", rp_where_label(rep, x->ff.point, x->ff.layer),
                   x->ff.root_cause);
        if (x->mode == RP_AS_DESIGNED && xf->ffp && !rp_failing(xf->ffp->numeric_verdict))
            rp_txt(D, &q->text, ": by hash only; the numbers put that pair %s (rel %s), so the legacy FAIL there is "
                                "drift",
                   rp_verdict_name(xf->ffp->numeric_verdict), rp_n(rep, rp_pair_rel(xf->ffp)));
        else if (x->verdict == r->verdict)
            rp_txt(D, &q->text, ": it agrees");
        rp_txt(D, &q->text, ".");
    }
}

/* ---- 7. recommendations ---- */

typedef struct rec_ctx {
    rp_report *rep;
    int n;
} rec_ctx;

static rp_block *rec(rec_ctx *c, const char *title)
{
    rp_report *rep = c->rep;
    rp_block *p = rp_doc_para(D);
    if (p)
        rp_bold(D, &p->text, "%d. %s.", ++c->n, title);
    return p;
}

/* the text of a block, NULL when it could not be made (out of memory: rp_add ignores NULL) */
static rp_inline *T(rp_block *b)
{
    return b ? &b->text : NULL;
}

static void cmd(rec_ctx *c, const char *command)
{
    rp_report *rep = c->rep;
    rp_doc_code(D, "sh", command);
}

static int starts(const char *s, const char *prefix)
{
    return s && strncmp(s, prefix, strlen(prefix)) == 0;
}

/* a diff of one stage over every layer and prompt, its pairs' metrics in a TSV */
static const char *focused_cmd(rp_report *rep, const rp_result *r, const char *point)
{
    char name[64];
    size_t o = 0;
    for (const char *q = point; *q && o < sizeof name - 1; q++)
        name[o++] = ((*q >= 'a' && *q <= 'z') || (*q >= 'A' && *q <= 'Z') || (*q >= '0' && *q <= '9')) ? *q : '_';
    name[o] = '\0';
    const char *cond = rp_shq(rep, rp_s(rep, "point=%s", point));
    return rp_tracediff_cmd(rep, r, rp_s(rep, "--where %s --pairs-tsv %s.tsv", cond,
                                         o ? name : "stage"));
}

/* absmax ratio left/right of a pair, NAN when unknown */
static double absmax_ratio(const rp_pair *p)
{
    if (!p || !p->left.stats.present || !p->right.stats.present || !(p->right.stats.absmax > 0))
        return NAN;
    return p->left.stats.absmax / p->right.stats.absmax;
}

/* "x5.66, about sqrt(32)" when a ratio is near the square root of a power of two (a head-dimension scale) */
static const char *scale_hint(rp_report *rep, double ratio)
{
    if (!(ratio > 0) || !isfinite(ratio))
        return "";
    double q = ratio >= 1 ? ratio : 1 / ratio;
    for (int e = 2; e <= 14; e++) {
        double s = sqrt((double)(1 << e));
        if (fabs(q - s) / s < 0.03)
            return rp_s(rep, " (x%.3g, close to sqrt(%d): a 1/sqrt(d) vs 1/d scale?)", ratio, 1 << e);
    }
    return rp_s(rep, " (x%.3g)", ratio);
}

static const char *meta_pair(rp_report *rep, const rp_result *r, const char *key)
{
    const char *a = rp_meta_get(&r->left, key), *b = rp_meta_get(&r->right, key);
    if (!a && !b)
        return "";
    if (a && b && strcmp(a, b) == 0)
        return rp_s(rep, " (metadata %s %s on both sides)", key, a);
    return rp_s(rep, " (metadata %s: %s vs %s)", key, a ? a : "absent", b ? b : "absent");
}

static void rec_root_cause(rec_ctx *c, const rp_result *r, const rp_facts *f)
{
    rp_report *rep = c->rep;
    const rp_failure *ff = &r->ff;
    const char *rc = ff->root_cause, *where = rp_where_label(rep, ff->point, ff->layer);
    const rp_pair *p = f->ffp;
    const char *lp = ff->left_phase ? ff->left_phase : "left", *rpn = ff->right_phase ? ff->right_phase : "right";
    rp_block *b;
    const rp_facts *kf = &rep->facts[rep->kv_src];
    int have_kv = kf->r->mode == RP_KV_ALIGNED;
    const char *kv_cmd = rp_tracediff_cmd(rep, r, "--mode kv_aligned --json kv_aligned.json");

    if (strcmp(rc, "ROPE_DRIFT") == 0) {
        b = rec(c, "Check the RoPE position and offset");
        const char *pre = pre_stage_of(f, ff->point);
        const rp_pair *pp = pre && ff->layer >= 0 ? rp_find_pair(r, ff->group, ff->layer, pre) : NULL;
        rp_txt(D, T(b), " %s diverges while its input %s is %s (rel %s -> %s): the rotation, not the "
                            "projection, differs between %s and %s. RoPE is the first stage that uses the position: "
                            "check the position id each path passes to the rotation at pos_id %d (an off-by-one such "
                            "as pos+1, or a cache length used as the position), the pairing convention (rotate-half "
                            "vs interleaved) and theta%s.",
               where, pre ? pre : "(pre-RoPE stage)",
               pp && pp->verdict == RP_MATCH ? "bitwise equal" : "within tolerance",
               rp_n(rep, pp ? rp_pair_rel(pp) : NAN), rp_n(rep, p ? rp_pair_rel(p) : NAN), lp, rpn, (int)ff->pos_id,
               meta_pair(rep, r, "rope_theta"));
        rp_txt(D, T(b), " See which side is wrong by comparing each path with a trusted capture of the same path, "
                            "e.g. the %s records of a known-good build:", rpn);
        cmd(c, rp_s(rep, "tracediff --left phase=%s --right phase=%s %s KNOWN_GOOD.tt", rp_shq(rep, rpn),
                    rp_shq(rep, rpn),
                    rp_shq(rep, r->right.path)));
    } else if (strcmp(rc, "KV_CACHE_DRIFT") == 0) {
        b = rec(c, "Check the KV-cache write and read offsets");
        rp_txt(D, T(b), " The cache the attention reads (%s) differs before any score is computed", where);
        const rp_pair *kr = f->k_rope_point && ff->layer >= 0 ? rp_find_pair(r, ff->group, ff->layer, f->k_rope_point)
                                                              : NULL;
        if (kr && !rp_failing(kr->verdict))
            rp_txt(D, T(b), ", while the K it should hold (%s) is %s (rel %s)", kr->point,
                   rp_verdict_name(kr->verdict), rp_n(rep, rp_pair_rel(kr)));
        rp_txt(D, T(b), ".");
        if (have_kv) {
            const rp_kvcheck *w = kf->kv[RP_KV_WRITE].first_fail, *x = kf->kv[RP_KV_PREFIX].first_fail;
            if (w)
                rp_txt(D, T(b), " cache_write fails on the %s side: the step's K/V is not at position %lld where "
                                    "its attention reads it: check the row the step writes (pos vs pos+1) and the "
                                    "rows it reads.",
                       rp_side_name(w->side), (long long)w->first_bad_row);
            if (x)
                rp_txt(D, T(b), " cache_prefix fails at %s L%d (%s), position %lld: %s.", x->point ? x->point : "?",
                       (int)x->layer, x->prompt_id ? x->prompt_id : "(none)", (long long)x->first_bad_row, x->text);
            if (r->left.nfilter == 1 && strcmp(r->left.filter[0], "phase=prefill_last") == 0) {
                rp_txt(D, T(b), " Compare every prefill row with the decode steps, row-aligned (needs a capture of "
                                "the whole prefill, phase prefill):");
                cmd(c, rp_s(rep, "tracediff --align pos --left phase=prefill --right phase=%s --mode kv_aligned %s",
                            rp_shq(rep, rpn), rp_shq(rep, r->left.path)));
            } else {
                rp_txt(D, T(b), " The cache pairs of every layer and prompt:");
                cmd(c, focused_cmd(rep, r, ff->point));
            }
        } else {
            rp_txt(D, T(b), " Run the KV-cache checks to see which rows are wrong and on which side:");
            cmd(c, kv_cmd);
        }
    } else if (strcmp(rc, "ATTN_SCORES_DRIFT") == 0 || strcmp(rc, "SOFTMAX_DRIFT") == 0 ||
               strcmp(rc, "CAUSAL_MASK_DRIFT") == 0) {
        int scores = strcmp(rc, "ATTN_SCORES_DRIFT") == 0, mask = strcmp(rc, "CAUSAL_MASK_DRIFT") == 0;
        b = rec(c, scores ? "Check the attention score scale and the mask"
                   : mask ? "Check the causal mask"
                          : "Check the softmax normalisation");
        const rp_pair *q = NULL, *k = NULL;
        if (ff->layer >= 0 && f->q_rope_point)
            q = rp_find_pair(r, ff->group, ff->layer, f->q_rope_point);
        if (ff->layer >= 0 && f->k_rope_point)
            k = rp_find_pair(r, ff->group, ff->layer, f->k_rope_point);
        rp_txt(D, T(b), " %s diverges", where);
        if (q && k)
            rp_txt(D, T(b), " while Q and K are %s and %s (rel %s, %s)", rp_verdict_name(q->verdict),
                   rp_verdict_name(k->verdict), rp_n(rep, rp_pair_rel(q)), rp_n(rep, rp_pair_rel(k)));
        rp_txt(D, T(b), ".");
        if (scores && p && p->left.stats.present && p->right.stats.present)
            rp_txt(D, T(b), " Pre-softmax max %s (%s) vs %s (%s)%s: check the 1/sqrt(head_dim) scale, a soft-cap, "
                                "and the mask added before the softmax.",
                   rp_s(rep, "%.4g", p->left.stats.max), lp, rp_s(rep, "%.4g", p->right.stats.max), rpn,
                   scale_hint(rep, absmax_ratio(p)));
        else if (mask)
            rp_txt(D, T(b), " A row puts weight on keys past its own position: check the mask's diagonal "
                                "offset (row i may see keys 0..pos+i) and the key length used by each path.");
        else
            rp_txt(D, T(b), " The scores agree and the probabilities do not: check the max subtraction, the sum "
                                "of exponentials, the rescaling when blocks of an online softmax are merged, and the "
                                "masked entries' contribution.");
        rp_txt(D, T(b), " The pre/post-softmax statistics are in section 2; the KV checks confirm the mask:");
        cmd(c, have_kv ? focused_cmd(rep, r, ff->point) : kv_cmd);
    } else if (strstr(rc, "NORM")) {
        b = rec(c, "Check the normalisation epsilon and formula");
        const rp_pair *in = NULL;
        if (ff->layer >= 0)
            for (size_t i = 0; i < r->npairs; i++) /* the stage just before it in the same group */
                if (r->pairs[i].group == ff->group && r->pairs[i].layer == ff->layer && p &&
                    r->pairs[i].stage_rank < p->stage_rank && (!in || r->pairs[i].stage_rank > in->stage_rank))
                    in = &r->pairs[i];
        rp_txt(D, T(b), " %s diverges", where);
        if (in)
            rp_txt(D, T(b), " while its input %s is %s (rel %s)", in->point, rp_verdict_name(in->verdict),
                   rp_n(rep, rp_pair_rel(in)));
        rp_txt(D, T(b), "; the output's scale differs%s. Compare the epsilon each path adds to the mean square "
                            "(x / sqrt(mean(x^2) + eps) * g), the reduction it uses and the gain%s.",
               scale_hint(rep, absmax_ratio(p)), meta_pair(rep, r, "rms_eps"));
        cmd(c, focused_cmd(rep, r, ff->point));
    } else if (strcmp(rc, "TRACE_OFFSET") == 0) {
        b = rec(c, "Check the pairing: a key exists on one side only");
        rp_txt(D, T(b), " %llu pairs have no partner, first %s in %s. Compare the key fields (%s) the two sides "
                            "record: an off-by-one pos_id or logical token index, a layer or point not captured on one "
                            "side (TT_TRACE_LAYERS / TT_TRACE_POINTS), or a key that must leave out a field (--key), "
                            "or multi-row records that need --align pos.",
               (unsigned long long)r->counts.missing, where, rp_prompt_of(r, ff->group),
               r->nkey ? r->key[0] : "key");
        cmd(c, rp_tracediff_cmd(rep, r, "--align pos --json aligned.json"));
    } else if (starts(rc, "Q_PRE_ROPE") || starts(rc, "K_PRE_ROPE") || strcmp(rc, "V_DRIFT") == 0) {
        b = rec(c, "Check the Q/K/V projection");
        rp_txt(D, T(b), " %s diverges while the normalised input before it agrees: compare the weights each path "
                            "uses (layout, transposition, quantisation) and the GEMM/GEMV kernel for a prefill of %d "
                            "rows vs a single decode row.",
               where, p && p->left.present ? (int)p->left.rows : 1);
        cmd(c, focused_cmd(rep, r, ff->point));
    } else if (strcmp(rc, "ATTN_OUT_DRIFT") == 0) {
        b = rec(c, "Check P.V and the attention output projection");
        rp_txt(D, T(b), " %s diverges after the attention probabilities: check the accumulation of the "
                            "probability-weighted V (rows, heads, GQA head mapping), the final division of an online "
                            "softmax and the output projection.",
               where);
        cmd(c, kv_cmd);
    } else if (strcmp(rc, "MLP_OUT_DRIFT") == 0) {
        b = rec(c, "Check the MLP");
        rp_txt(D, T(b), " %s diverges while its normalised input agrees: compare gate/up/down projections and "
                            "the activation (SiLU/GELU variant) of both paths.",
               where);
        cmd(c, focused_cmd(rep, r, ff->point));
    } else if (starts(rc, "RESIDUAL")) {
        b = rec(c, "Check the residual connection");
        rp_txt(D, T(b), " %s diverges: check which tensors are added and whether an in-place add aliases its "
                            "input.",
               where);
        cmd(c, focused_cmd(rep, r, ff->point));
    } else if (strcmp(rc, "EMBED_DRIFT") == 0) {
        b = rec(c, "Check the token id and the embedding lookup");
        rp_txt(D, T(b), " %s diverges before any layer: the two paths look up different rows (token id %d, "
                            "position %d) or the table differs.",
               where, (int)ff->token_id, (int)ff->pos_id);
        cmd(c, focused_cmd(rep, r, ff->point));
    } else if (strcmp(rc, "LOGITS_DRIFT") == 0) {
        b = rec(c, "Check the final norm and the LM head");
        rp_txt(D, T(b), " Every layer agrees and %s does not: check the final normalisation and the output "
                            "projection (tied embeddings, vocabulary slice).",
               where);
        cmd(c, focused_cmd(rep, r, ff->point));
    } else {
        b = rec(c, rp_s(rep, "Inspect %s", where));
        rp_txt(D, T(b), " Its inputs agree and it does not (%s): compare the two implementations of this stage.",
               rc);
        cmd(c, focused_cmd(rep, r, ff->point));
    }
    if (!have_kv && strcmp(rc, "KV_CACHE_DRIFT") != 0) {
        b = rec(c, "Get the KV-cache evidence");
        rp_txt(D, T(b), " No kv_aligned result was given: the cache checks (prefix rows bitwise, each step's K/V "
                            "at its position, the causal mask) would confirm or clear the cache. Run it and report "
                            "both results together:");
        cmd(c, rp_s(rep, "%s\ntracereport %s kv_aligned.json -o %s", kv_cmd, rp_shq(rep, r->source),
                    rp_shq(rep, rep->outdir)));
    }
}

void rp_section_recommendations(rp_report *rep)
{
    const rp_result *r = rep->res[0];
    const rp_facts *f = &rep->facts[0];
    rec_ctx c = {rep, 0};
    rp_doc_heading(D, 2, "recommendations", "7. Recommendations");
    rp_block *b;
    if (r->mode == RP_AS_DESIGNED) {
        b = rec(&c, "Judge by the numbers, not by hashes");
        rp_txt(D, T(b), " as_designed fails every pair whose bits differ (%llu of %llu here), including "
                            "reduction-order noise; the numeric and kv_aligned modes tell drift from bugs:",
               (unsigned long long)f->hash_differ, (unsigned long long)f->hash_pairs);
        cmd(&c, rp_tracediff_cmd(rep, r, "--mode kv_aligned --json kv_aligned.json"));
    }
    switch (r->verdict) {
    case RP_OVERALL_MISMATCH:
        if (r->ff.present)
            rec_root_cause(&c, r, f);
        b = rec(&c, "After the fix, compare before and after");
        rp_txt(D, T(b), " Re-run the engine, diff it the same way and put both results side by side; the "
                            "comparison lists every stage fixed, still failing or newly failing:");
        cmd(&c, rp_s(rep, "%s\ntracereport --compare %s after.json -o compare",
                     rp_tracediff_cmd(rep, r, rp_s(rep, "--mode %s --json after.json", rp_mode_name(r->mode))),
                     rp_shq(rep, r->source)));
        break;
    case RP_STRUCTURAL:
        b = rec(&c, "No bug: document the drift as expected");
        if (f->worst_pair >= 0) {
            const rp_pair *w = &r->pairs[f->worst_pair];
            rp_txt(D, T(b), " The largest relative L2 error is %s at %s, max |diff| %s; %llu pairs are within "
                                "tolerance and none beyond. Record these numbers with the engine version%s.",
                   rp_n(rep, rp_pair_rel(w)), rp_pair_label(rep, w), rp_n(rep, w->m.max_abs),
                   (unsigned long long)r->counts.within_tol, meta_pair(rep, r, "commit"));
        }
        b = rec(&c, "Calibrate tolerances from this known-good comparison");
        rp_txt(D, T(b), " The default tolerances are loose enough for any correct engine; tolerances calibrated "
                            "on this run make bugs that move a stage by a few ulps visible in the next run:");
        cmd(&c, rp_s(rep, "%s\n%s", rp_tracediff_cmd(rep, r, "--calibrate good.tol"),
                     rp_tracediff_cmd(rep, r, "--tol-file good.tol --json next.json")));
        if (rep->facts[rep->kv_src].r->mode != RP_KV_ALIGNED) {
            b = rec(&c, "Confirm with the KV-cache checks");
            rp_txt(D, T(b), " Tolerances alone can miss a cache bug that moves a row by a few ulps; kv_aligned "
                                "checks the cached rows bitwise:");
            cmd(&c, rp_tracediff_cmd(rep, r, "--mode kv_aligned --json kv_aligned.json"));
        }
        break;
    case RP_IDENTICAL:
        b = rec(&c, "Nothing to fix: the two sides are bitwise identical");
        rp_txt(D, T(b), " Keep this pair of captures as a golden reference; calibrating from it makes every "
                            "stage exact (0rms):");
        cmd(&c, rp_tracediff_cmd(rep, r, "--calibrate exact.tol"));
        break;
    default:
        b = rec(&c, "Capture what kv_aligned needs");
        rp_txt(D, T(b), " Missing: %s. Capture the Q/K/V projections, the attention scores and probabilities and the "
                            "k_cache/v_cache tensors (full capture, not stats or hash only), e.g. with "
                            "TT_TRACE_POINTS including q_pre_rope,k_pre_rope,v,attn_scores,attn_probs,k_cache,"
                            "v_cache and TT_TRACE_MODE=full, then:",
               r->subcause ? r->subcause : "The trace lacks the records kv_aligned needs");
        cmd(&c, rp_tracediff_cmd(rep, r, "--mode kv_aligned --json kv_aligned.json"));
    }
}
