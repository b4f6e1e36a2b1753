/*
 * compare.c — the document of `tracereport --compare BEFORE.json AFTER.json` (a diff before a fix and one after):
 * the two results side by side, what changed per stage and per layer x stage cell (fixed, new failure, still
 * failing, unchanged), both first failures, and what follows. The cell-by-cell comparison itself is rp_compare()
 * (analysis.c); the heat maps side by side are the figure RP_FIG_COMPARE_MAPS.
 */
#include <stdio.h>
#include <string.h>

#include "report.h"

#define D (&rep->doc)

static rp_inline *T(rp_block *b)
{
    return b ? &b->text : NULL;
}

static rp_cls cell_cls(const rp_cell *c)
{
    if (!c)
        return RP_CLS_NA;
    switch (c->verdict) {
    case RP_MATCH: return RP_CLS_OK;
    case RP_WITHIN_TOL: return RP_CLS_DRIFT;
    case RP_MISSING: return RP_CLS_NA;
    default: return RP_CLS_BAD;
    }
}

static rp_cls change_cls(rp_change c)
{
    switch (c) {
    case RP_CH_FIXED: return RP_CLS_OK;
    case RP_CH_NEW: return RP_CLS_BAD;
    case RP_CH_STILL: return RP_CLS_BAD;
    case RP_CH_UNCHANGED_OK: return RP_CLS_PLAIN;
    default: return RP_CLS_NA;
    }
}

static void row_u64(rp_report *rep, rp_block *t, const char *name, uint64_t a, uint64_t b)
{
    rp_doc_row(D, t);
    rp_doc_cell(D, t, RP_CLS_PLAIN, "%s", name);
    rp_doc_cell(D, t, RP_CLS_NUM, "%llu", (unsigned long long)a);
    rp_doc_cell(D, t, RP_CLS_NUM, "%llu", (unsigned long long)b);
}

static const char *ff_text(rp_report *rep, const rp_result *r)
{
    if (!r->ff.present)
        return "none";
    return rp_s(rep, "%s (%s) in %s", rp_where_label(rep, r->ff.point, r->ff.layer), r->ff.root_cause,
                rp_prompt_of(r, r->ff.group));
}

static uint64_t kv_fails(const rp_facts *f)
{
    return f->kv[0].fail + f->kv[1].fail + f->kv[2].fail;
}

static uint64_t kv_total(const rp_facts *f)
{
    return kv_fails(f) + f->kv[0].pass + f->kv[1].pass + f->kv[2].pass + f->kv[0].na + f->kv[1].na + f->kv[2].na;
}

static void side_by_side(rp_report *rep)
{
    const rp_result *b = rep->res[0], *a = rep->res[1];
    const rp_facts *fb = &rep->facts[0], *fa = &rep->facts[1];
    rp_block *t = rp_doc_table(D, 3, "", "Before", "After");
    rp_doc_row(D, t);
    rp_doc_cell(D, t, RP_CLS_PLAIN, "Diff result");
    rp_doc_cell(D, t, RP_CLS_MONO, "%s", b->source);
    rp_doc_cell(D, t, RP_CLS_MONO, "%s", a->source);
    rp_doc_row(D, t);
    rp_doc_cell(D, t, RP_CLS_PLAIN, "Sides");
    rp_doc_cell(D, t, RP_CLS_MONO, "%s vs %s", rp_side_label(rep, &b->left), rp_side_label(rep, &b->right));
    rp_doc_cell(D, t, RP_CLS_MONO, "%s vs %s", rp_side_label(rep, &a->left), rp_side_label(rep, &a->right));
    rp_doc_row(D, t);
    rp_doc_cell(D, t, RP_CLS_PLAIN, "Mode");
    rp_doc_cell(D, t, RP_CLS_PLAIN, "%s", rp_mode_name(b->mode));
    rp_doc_cell(D, t, RP_CLS_PLAIN, "%s", rp_mode_name(a->mode));
    rp_doc_row(D, t);
    rp_doc_cell(D, t, RP_CLS_PLAIN, "Verdict");
    rp_doc_cell(D, t, rp_overall_cls(b->verdict), "%s", rp_verdict_text(rep, b));
    rp_doc_cell(D, t, rp_overall_cls(a->verdict), "%s", rp_verdict_text(rep, a));
    rp_doc_row(D, t);
    rp_doc_cell(D, t, RP_CLS_PLAIN, "First failure");
    rp_doc_cell(D, t, b->ff.present ? RP_CLS_BAD : RP_CLS_OK, "%s", ff_text(rep, b));
    rp_doc_cell(D, t, a->ff.present ? RP_CLS_BAD : RP_CLS_OK, "%s", ff_text(rep, a));
    row_u64(rep, t, "Pairs", b->counts.pairs, a->counts.pairs);
    row_u64(rep, t, "Match (bitwise)", b->counts.match, a->counts.match);
    row_u64(rep, t, "Within tolerance", b->counts.within_tol, a->counts.within_tol);
    row_u64(rep, t, "Mismatch", b->counts.mismatch, a->counts.mismatch);
    row_u64(rep, t, "Missing", b->counts.missing, a->counts.missing);
    row_u64(rep, t, "Error jumps", b->counts.jumps, a->counts.jumps);
    rp_doc_row(D, t);
    rp_doc_cell(D, t, RP_CLS_PLAIN, "KV checks failed");
    rp_doc_cell(D, t, RP_CLS_NUM, "%s", kv_total(fb) ? rp_s(rep, "%llu of %llu", (unsigned long long)kv_fails(fb),
                                                             (unsigned long long)kv_total(fb))
                                                     : "not run");
    rp_doc_cell(D, t, RP_CLS_NUM, "%s", kv_total(fa) ? rp_s(rep, "%llu of %llu", (unsigned long long)kv_fails(fa),
                                                             (unsigned long long)kv_total(fa))
                                                     : "not run");
    rp_doc_row(D, t);
    rp_doc_cell(D, t, RP_CLS_PLAIN, "Largest rel L2");
    for (int s = 0; s < 2; s++) {
        const rp_facts *f = s ? fa : fb;
        const rp_result *r = s ? a : b;
        if (f->worst_pair >= 0) {
            const rp_pair *w = &r->pairs[f->worst_pair];
            rp_doc_cell(D, t, RP_CLS_NUM, "%s at %s", rp_n(rep, rp_pair_rel(w)), rp_pair_label(rep, w));
        } else
            rp_doc_cell(D, t, RP_CLS_NA, "n/a");
    }
}

static void per_stage(rp_report *rep)
{
    const rp_cmp *c = &rep->cmp;
    rp_doc_heading(D, 3, "changes-per-stage", "Verdicts per Stage");
    rp_block *t = rp_doc_table(D, 8, "Stage", "Cells", "Fixed", "New failure", "Still failing", "Unchanged (pass)",
                               "Only before / after", "Summary");
    /* stages in first-seen pipeline order */
    for (size_t i = 0; i < c->n; i++) {
        int seen = 0;
        for (size_t j = 0; j < i && !seen; j++)
            seen = strcmp(c->rows[j].stage, c->rows[i].stage) == 0;
        if (seen)
            continue;
        size_t n[6] = {0}, cells = 0;
        for (size_t j = i; j < c->n; j++)
            if (strcmp(c->rows[j].stage, c->rows[i].stage) == 0) {
                n[c->rows[j].change]++;
                cells++;
            }
        rp_change sum = n[RP_CH_NEW] ? RP_CH_NEW : n[RP_CH_STILL] ? RP_CH_STILL : n[RP_CH_FIXED] ? RP_CH_FIXED
                        : n[RP_CH_UNCHANGED_OK] ? RP_CH_UNCHANGED_OK : n[RP_CH_ONLY_BEFORE] ? RP_CH_ONLY_BEFORE
                                                                                            : RP_CH_ONLY_AFTER;
        rp_doc_row(D, t);
        rp_doc_cell(D, t, RP_CLS_PLAIN, "%s", c->rows[i].stage);
        rp_doc_cell(D, t, RP_CLS_NUM, "%zu", cells);
        rp_doc_cell(D, t, n[RP_CH_FIXED] ? RP_CLS_OK : RP_CLS_NUM, "%zu", n[RP_CH_FIXED]);
        rp_doc_cell(D, t, n[RP_CH_NEW] ? RP_CLS_BAD : RP_CLS_NUM, "%zu", n[RP_CH_NEW]);
        rp_doc_cell(D, t, n[RP_CH_STILL] ? RP_CLS_BAD : RP_CLS_NUM, "%zu", n[RP_CH_STILL]);
        rp_doc_cell(D, t, RP_CLS_NUM, "%zu", n[RP_CH_UNCHANGED_OK]);
        rp_doc_cell(D, t, RP_CLS_NUM, "%zu / %zu", n[RP_CH_ONLY_BEFORE], n[RP_CH_ONLY_AFTER]);
        rp_doc_cell(D, t, change_cls(sum), "%s", rp_change_name(sum));
    }
}

static void per_cell(rp_report *rep)
{
    const rp_cmp *c = &rep->cmp;
    rp_doc_heading(D, 3, "changes-per-cell", "Changes per Layer and Stage");
    size_t changed = c->n - c->count[RP_CH_UNCHANGED_OK];
    if (!changed) {
        rp_block *p = rp_doc_para(D);
        rp_txt(D, T(p), "No cell changed its verdict class: all %zu cells pass before and after.", c->n);
        return;
    }
    rp_block *t = rp_doc_table(D, 7, "Layer", "Stage", "Before", "After", "Before rel L2", "After rel L2", "Change");
    size_t shown = 0;
    for (int pass = 0; pass < 5; pass++) {
        static const rp_change order[] = {RP_CH_NEW, RP_CH_STILL, RP_CH_FIXED, RP_CH_ONLY_BEFORE, RP_CH_ONLY_AFTER};
        for (size_t i = 0; i < c->n && shown < 200; i++) {
            const rp_cmp_row *r = &c->rows[i];
            if (r->change != order[pass])
                continue;
            shown++;
            char lb[32];
            rp_row row = {r->kind, r->layer};
            rp_doc_row(D, t);
            rp_doc_cell(D, t, RP_CLS_PLAIN, "%s", rp_row_label(&row, lb, sizeof lb));
            rp_doc_cell(D, t, RP_CLS_PLAIN, "%s", r->stage);
            rp_doc_cell(D, t, cell_cls(r->before), "%s", r->before ? rp_verdict_name(r->before->verdict) : "-");
            rp_doc_cell(D, t, cell_cls(r->after), "%s", r->after ? rp_verdict_name(r->after->verdict) : "-");
            rp_doc_cell(D, t, RP_CLS_NUM, "%s", r->before ? rp_n(rep, r->before->worst_rel) : "-");
            rp_doc_cell(D, t, RP_CLS_NUM, "%s", r->after ? rp_n(rep, r->after->worst_rel) : "-");
            rp_doc_cell(D, t, change_cls(r->change), "%s", rp_change_name(r->change));
        }
    }
    if (changed > shown) {
        rp_block *p = rp_doc_para(D);
        rp_txt(D, T(p), "%zu more changed cells are in report.tsv.", changed - shown);
    }
}

static void outcome(rp_report *rep)
{
    const rp_result *b = rep->res[0], *a = rep->res[1];
    const rp_cmp *c = &rep->cmp;
    rp_block *p = rp_doc_para(D);
    rp_bold(D, T(p), "%s -> %s.", rp_verdict_text(rep, b), rp_verdict_text(rep, a));
    rp_txt(D, T(p), " Of %zu layer x stage cells: %zu fixed, %zu new failures, %zu still failing, %zu pass before and "
                    "after, %zu only before, %zu only after.",
           c->n, c->count[RP_CH_FIXED], c->count[RP_CH_NEW], c->count[RP_CH_STILL], c->count[RP_CH_UNCHANGED_OK],
           c->count[RP_CH_ONLY_BEFORE], c->count[RP_CH_ONLY_AFTER]);
    if (b->ff.present && !a->ff.present)
        rp_txt(D, T(p), " The fix removed the first failure (%s) and everything it propagated to.", ff_text(rep, b));
    else if (b->ff.present && a->ff.present &&
             (strcmp(b->ff.point, a->ff.point) != 0 || b->ff.layer != a->ff.layer))
        rp_txt(D, T(p), " The first failure moved from %s to %s.", ff_text(rep, b), ff_text(rep, a));
    else if (b->ff.present && a->ff.present)
        rp_txt(D, T(p), " The first failure is unchanged: %s.", ff_text(rep, a));
    else if (!b->ff.present && a->ff.present)
        rp_txt(D, T(p), " A regression: the after run fails first at %s.", ff_text(rep, a));
}

static void next_steps(rp_report *rep)
{
    const rp_result *a = rep->res[1];
    const rp_cmp *c = &rep->cmp;
    rp_doc_heading(D, 2, "recommendations", "4. Recommendations");
    rp_block *l = rp_doc_list(D, 1);
    if (c->count[RP_CH_NEW]) {
        const rp_cmp_row *first = NULL;
        for (size_t i = 0; i < c->n && !first; i++)
            if (c->rows[i].change == RP_CH_NEW)
                first = &c->rows[i];
        rp_inline *it = rp_doc_item(D, l);
        rp_txt(D, it, "Regression: %zu cells pass before and fail after, the first at %s %s (rel L2 %s). Read the "
                      "after report: ",
               c->count[RP_CH_NEW], first->stage,
               first->kind == RP_ROW_LAYER ? rp_s(rep, "L%d", (int)first->layer) : "",
               rp_n(rep, first->after->worst_rel));
        rp_code(D, it, "tracereport %s -o after_report", rp_shq(rep, a->source));
    }
    if (a->verdict == RP_OVERALL_MISMATCH && !c->count[RP_CH_NEW]) {
        rp_inline *it = rp_doc_item(D, l);
        rp_txt(D, it, "Still a mismatch after the change, first at %s: the fix is incomplete. Report the after run on "
                      "its own for the evidence and what to check: ",
               ff_text(rep, a));
        rp_code(D, it, "tracereport %s -o after_report", rp_shq(rep, a->source));
    }
    if (a->verdict == RP_STRUCTURAL || a->verdict == RP_IDENTICAL) {
        rp_inline *it = rp_doc_item(D, l);
        rp_txt(D, it, "The after run is %s: keep it as the reference and calibrate tolerances from it, so that a "
                      "smaller regression shows next time: ",
               rp_overall_name(a->verdict));
        rp_code(D, it, "%s", rp_tracediff_cmd(rep, a, "--calibrate good.tol"));
    }
    if (a->mode != RP_KV_ALIGNED) {
        rp_inline *it = rp_doc_item(D, l);
        rp_txt(D, it, "Confirm with the KV-cache checks (kv_aligned) on the after run: ");
        rp_code(D, it, "%s", rp_tracediff_cmd(rep, a, "--mode kv_aligned --json after_kv.json"));
    }
}

int rp_compare_build(rp_report *rep)
{
    if (rp_compare(&rep->cmp, &rep->facts[0], &rep->facts[1], rep->a) != 0)
        return -1;
    rp_doc_heading(D, 1, "top", "%s", rp_report_title(rep));
    rp_block *p = rp_doc_para(D);
    rp_txt(D, T(p), "Generated %s by tracereport %s: two diff results side by side, before and after a change.",
           rep->generated, tt_version());
    rp_doc_heading(D, 2, "summary", "1. Summary");
    side_by_side(rep);
    outcome(rep);
    rp_doc_heading(D, 2, "heatmaps", "2. Heat Maps");
    rp_doc_figure(D, RP_FIG_COMPARE_MAPS, 0);
    rp_block *n = rp_doc_note(D);
    rp_txt(D, T(n), "The heat maps are in report.html; report.tsv holds every cell before and after.");
    if (n)
        n->only = RP_MD_ONLY;
    rp_doc_heading(D, 2, "changes", "3. Changes");
    per_stage(rep);
    per_cell(rep);
    next_steps(rep);
    return rep->doc.oom ? -1 : 0;
}
