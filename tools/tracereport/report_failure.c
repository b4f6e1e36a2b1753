/*
 * report_failure.c — sections 4 and 5 of the report: the first failure of every mode with its numbers (where,
 * root cause, tensor, max abs error and where, rel L2, cosine, ULP, elements outside the tolerance and the
 * tolerance used, jump, hashes, what the numbers say in as_designed mode), the propagation chain, the primary's
 * error histogram and worst elements; and the evidence snippets: one-line JSON objects of at most
 * RP_SNIPPET_MAX_WORDS words for the first failure, its two records, the decisive jump and KV check, and each
 * other mode.
 */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "report.h"
#include "text.h"

#define D (&rep->doc)

static void failure_metrics(rp_report *rep, const rp_result *r, const rp_facts *f)
{
    const rp_failure *ff = &r->ff;
    const rp_metrics *m = &ff->m;
    rp_block *t = rp_doc_table(D, 2, "Metric", "Value");
    rp_doc_row(D, t);
    rp_doc_cell(D, t, RP_CLS_PLAIN, "Max abs error and where");
    rp_doc_cell(D, t, RP_CLS_PLAIN, "%s at %s (left %s, right %s)", rp_n(rep, m->max_abs),
                rp_coord_label(rep, m->max_abs_coord, m->ncoord), rp_s(rep, "%.7g", m->max_abs_left),
                rp_s(rep, "%.7g", m->max_abs_right));
    rp_doc_row(D, t);
    rp_doc_cell(D, t, RP_CLS_PLAIN, "Relative L2 error");
    rp_doc_cell(D, t, RP_CLS_PLAIN, "%s", rp_n(rep, m->rel_l2));
    rp_doc_row(D, t);
    rp_doc_cell(D, t, RP_CLS_PLAIN, "Cosine similarity");
    rp_doc_cell(D, t, RP_CLS_PLAIN, "%s", rp_s(rep, "%.9g", m->cosine));
    rp_doc_row(D, t);
    rp_doc_cell(D, t, RP_CLS_PLAIN, "Max ULP distance");
    rp_doc_cell(D, t, RP_CLS_PLAIN, "%s", isnan(m->max_ulp) ? "n/a" : rp_s(rep, "%.0f", m->max_ulp));
    rp_doc_row(D, t);
    rp_doc_cell(D, t, RP_CLS_PLAIN, "Elements outside tolerance");
    rp_doc_cell(D, t, RP_CLS_PLAIN, "%llu of %llu (%s%%); %llu elements differ bitwise",
                (unsigned long long)m->outside_tol, (unsigned long long)m->elems,
                rp_s(rep, "%.3g", m->elems ? 100.0 * (double)m->outside_tol / (double)m->elems : 0.0),
                (unsigned long long)m->diff_elems);
    rp_doc_row(D, t);
    rp_doc_cell(D, t, RP_CLS_PLAIN, "Tolerance used");
    rp_doc_cell(D, t, RP_CLS_PLAIN, "|diff| <= atol %s + rtol %s x |right|, atol = %s + %s x rms %s (%s)",
                rp_n(rep, m->atol), rp_n(rep, m->rtol), rp_n(rep, m->atol_abs), rp_n(rep, m->atol_rms),
                rp_n(rep, m->ref_rms), m->tol_source ? m->tol_source : "source unknown");
    rp_doc_row(D, t);
    rp_doc_cell(D, t, RP_CLS_PLAIN, "NaN / Inf disagreements");
    rp_doc_cell(D, t, RP_CLS_PLAIN, "%llu / %llu", (unsigned long long)m->nan_mismatch,
                (unsigned long long)m->inf_mismatch);
    const rp_judgement *j = &ff->j;
    if (j->has) {
        rp_doc_row(D, t);
        rp_doc_cell(D, t, RP_CLS_PLAIN, "Decided by");
        rp_doc_cell(D, t, RP_CLS_BAD, "%s: judged error %s (%s units of %s) against its inputs' %s; allowed %s "
                    "(floor %s, or the inputs' error times the amplification bound)", j->decided_by,
                    rp_n(rep, j->error), rp_s(rep, "%.3g", j->unit > 0 ? j->error / j->unit : 0.0), j->precision,
                    rp_n(rep, j->baseline), rp_n(rep, j->allowed), rp_n(rep, j->floor));
        rp_doc_row(D, t);
        rp_doc_cell(D, t, RP_CLS_PLAIN, "Scale");
        rp_doc_cell(D, t, RP_CLS_PLAIN, "%s%s", rp_n(rep, j->scale),
                    j->outliers ? rp_s(rep, " (robust: %llu outlying elements of %llu sampled, judged by their own "
                                            "size)", (unsigned long long)j->outliers, (unsigned long long)j->sampled)
                                : " (the reference's RMS)");
        if (j->fit_n && (j->alpha_t != 0 || j->beta_t != 0)) {
            rp_doc_row(D, t);
            rp_doc_cell(D, t, RP_CLS_PLAIN, "Fit left = a x right + b");
            int by_fit = strcmp(j->decided_by, "scale") == 0 || strcmp(j->decided_by, "offset") == 0;
            rp_doc_cell(D, t, by_fit ? RP_CLS_BAD : RP_CLS_PLAIN,
                        "a = 1 %s (t %s), b = %s x scale (t %s) over %llu elements",
                        rp_s(rep, "%+.3g", j->alpha), rp_s(rep, "%.3g", j->alpha_t), rp_s(rep, "%+.3g", j->beta),
                        rp_s(rep, "%.3g", j->beta_t), (unsigned long long)j->fit_n);
        }
        if (j->nan[0] + j->inf[0] + j->nan[1] + j->inf[1]) {
            rp_doc_row(D, t);
            rp_doc_cell(D, t, RP_CLS_PLAIN, "Non-finite values");
            rp_doc_cell(D, t, RP_CLS_BAD, "left %llu NaN %llu Inf (first at element %lld), right %llu NaN %llu Inf "
                        "(first at element %lld)", (unsigned long long)j->nan[0], (unsigned long long)j->inf[0],
                        (long long)j->first[0], (unsigned long long)j->nan[1], (unsigned long long)j->inf[1],
                        (long long)j->first[1]);
        }
        if (strcmp(ff->left.dtype ? ff->left.dtype : "", ff->right.dtype ? ff->right.dtype : "") != 0) {
            rp_doc_row(D, t);
            rp_doc_cell(D, t, RP_CLS_PLAIN, "Dtypes");
            rp_doc_cell(D, t, RP_CLS_PLAIN, "left %s, right %s: judged at %s, ULPs of %s at the reference value",
                        ff->left.dtype, ff->right.dtype, j->precision, j->ulp_dtype);
        }
    }
    if (f->ffp) {
        const rp_pair *p = f->ffp;
        rp_doc_row(D, t);
        rp_doc_cell(D, t, RP_CLS_PLAIN, "Error jump");
        if (p->has_jump)
            rp_doc_cell(D, t, RP_CLS_BAD, "%s -> %s (x%s) against the stages feeding it", rp_n(rep, p->jump_baseline),
                        rp_n(rep, rp_pair_rel(p)), rp_s(rep, "%.3g", p->jump_ratio));
        else
            rp_doc_cell(D, t, RP_CLS_PLAIN, "none flagged");
        rp_doc_row(D, t);
        rp_doc_cell(D, t, RP_CLS_PLAIN, "Hashes (left / right)");
        rp_doc_cell(D, t, RP_CLS_MONO, "%s / %s", rp_hash_cell(rep, &p->left), rp_hash_cell(rep, &p->right));
        if (r->mode == RP_AS_DESIGNED) {
            rp_doc_row(D, t);
            rp_doc_cell(D, t, RP_CLS_PLAIN, "What the numbers say");
            rp_doc_cell(D, t, rp_verdict_cls(p->numeric_verdict), "%s (as_designed fails any hash difference)",
                        rp_verdict_name(p->numeric_verdict));
        }
        if (p->error) {
            rp_doc_row(D, t);
            rp_doc_cell(D, t, RP_CLS_PLAIN, "Not comparable");
            rp_doc_cell(D, t, RP_CLS_BAD, "%s", p->error);
        }
    }
}

static void histogram_table(rp_report *rep, const rp_failure *ff)
{
    rp_doc_heading(D, 4, "histogram", "Element Error Histogram");
    rp_doc_figure(D, RP_FIG_HISTOGRAM, 0);
    rp_block *t = rp_doc_table(D, 2, "|left - right| in", "Elements");
    if (t)
        t->only = RP_MD_ONLY; /* the page has the picture, with the counts on the bars */
    for (size_t i = 0; i < ff->nedges + 2; i++) {
        if (!ff->counts[i])
            continue;
        rp_doc_row(D, t);
        if (i == 0)
            rp_doc_cell(D, t, RP_CLS_PLAIN, "0 (bitwise)");
        else if (i == 1)
            rp_doc_cell(D, t, RP_CLS_PLAIN, "(0, %s]", rp_s(rep, "%.3g", ff->edges[0]));
        else if (i == ff->nedges + 1)
            rp_doc_cell(D, t, RP_CLS_PLAIN, "> %s", rp_s(rep, "%.3g", ff->edges[ff->nedges - 1]));
        else
            rp_doc_cell(D, t, RP_CLS_PLAIN, "(%s, %s]", rp_s(rep, "%.3g", ff->edges[i - 2]),
                        rp_s(rep, "%.3g", ff->edges[i - 1]));
        rp_doc_cell(D, t, RP_CLS_NUM, "%llu", (unsigned long long)ff->counts[i]);
    }
}

static void worst_table(rp_report *rep, const rp_failure *ff)
{
    rp_doc_heading(D, 4, "worst-elements", "Worst Elements");
    rp_block *t = rp_doc_table(D, 5, "#", "Coordinates", "Left", "Right", "Abs error");
    for (size_t i = 0; i < ff->nworst; i++) {
        const rp_worst *w = &ff->worst[i];
        rp_doc_row(D, t);
        rp_doc_cell(D, t, RP_CLS_NUM, "%zu", i + 1);
        rp_doc_cell(D, t, RP_CLS_MONO, "%s", rp_coord_label(rep, w->coord, w->ncoord));
        rp_doc_cell(D, t, RP_CLS_NUM, "%s", rp_s(rep, "%.7g", w->left));
        rp_doc_cell(D, t, RP_CLS_NUM, "%s", rp_s(rep, "%.7g", w->right));
        rp_doc_cell(D, t, RP_CLS_NUM, "%s", rp_s(rep, "%.4g", w->abs_err));
    }
}

static void mode_failure(rp_report *rep, size_t idx)
{
    const rp_result *r = rep->res[idx];
    const rp_facts *f = &rep->facts[idx];
    rp_doc_heading(D, 3, rp_s(rep, "mode-%zu", idx), "%s Mode%s", rp_mode_name(r->mode),
                   idx == 0 && rep->nres > 1 ? " (primary)" : "");
    rp_block *l = rp_doc_list(D, 0);
    if (!r->ff.present) {
        rp_inline *it = rp_doc_item(D, l);
        rp_bold(D, it, "First Failure");
        rp_txt(D, it, ": none (%s: %llu pairs, %llu bitwise, %llu within tolerance)", rp_verdict_text(rep, r),
               (unsigned long long)r->counts.pairs, (unsigned long long)r->counts.match,
               (unsigned long long)r->counts.within_tol);
        if (f->worst_pair >= 0) {
            const rp_pair *w = &r->pairs[f->worst_pair];
            it = rp_doc_item(D, l);
            rp_bold(D, it, "Largest drift");
            rp_txt(D, it, ": %s, %s: rel L2 %s, max |diff| %s, %s", rp_pair_label(rep, w),
                   rp_prompt_of(r, w->group), rp_n(rep, rp_pair_rel(w)), rp_n(rep, w->m.max_abs),
                   rp_verdict_name(w->verdict));
        }
        if (r->verdict == RP_NA) {
            it = rp_doc_item(D, l);
            rp_bold(D, it, "Evidence");
            rp_txt(D, it, ": N/A, %s", r->subcause ? r->subcause : "the trace lacks what this mode needs");
        }
        return;
    }
    const rp_failure *ff = &r->ff;
    rp_inline *it = rp_doc_item(D, l);
    rp_bold(D, it, "First Failure");
    rp_txt(D, it, ": %s in %s", rp_where_label(rep, ff->point, ff->layer), rp_group_label(rep, r, ff->group));
    if (ff->left_phase || ff->right_phase)
        rp_txt(D, it, ", %s vs %s", ff->left_phase ? ff->left_phase : "-", ff->right_phase ? ff->right_phase : "-");
    it = rp_doc_item(D, l);
    rp_bold(D, it, "Root Cause");
    rp_txt(D, it, ": %s", ff->root_cause);
    if (f->ffp) {
        const rp_pair *p = f->ffp;
        const rp_side *s = p->left.present ? &p->left : &p->right;
        it = rp_doc_item(D, l);
        rp_bold(D, it, "Tensor");
        rp_txt(D, it, ": %s %s %s, pair %llu (left record %s, right record %s), verdict %s", p->point,
               rp_coord_label(rep, s->shape, s->ndim), s->dtype, (unsigned long long)p->index,
               p->left.present ? rp_s(rep, "%llu", (unsigned long long)p->left.record) : "missing",
               p->right.present ? rp_s(rep, "%llu", (unsigned long long)p->right.record) : "missing",
               rp_verdict_name(p->verdict));
    }
    if (f->ffk) {
        it = rp_doc_item(D, l);
        rp_bold(D, it, "KV check");
        rp_txt(D, it, ": %s", f->ffk->text);
    }
    it = rp_doc_item(D, l);
    rp_bold(D, it, "Evidence");
    if (r->mode == RP_KV_ALIGNED)
        rp_txt(D, it, ": QKV/softmax statistics and %zu KV-cache checks (section 2)", r->nkv);
    else if (r->mode == RP_AS_DESIGNED)
        rp_txt(D, it, ": content hashes (the legacy probe: any bit difference fails)");
    else
        rp_txt(D, it, ": metrics of the full tensors against the tolerance");
    if (ff->m.present)
        failure_metrics(rep, r, f);
    if (r->nchain) {
        rp_block *p = rp_doc_para(D);
        if (p && idx == 0)
            p->only = RP_MD_ONLY; /* the page draws the chain as boxes */
        if (p) {
            rp_txt(D, &p->text, "Propagation chain (%zu later pairs of %s not bitwise equal): ", r->nchain,
                   rp_prompt_of(r, ff->group));
            size_t show = r->nchain < 12 ? r->nchain : 12;
            for (size_t i = 0; i < show; i++) {
                const rp_pair *c = &r->pairs[r->chain[i]];
                rp_txt(D, &p->text, "%s%s %s %s", i ? " -> " : "", rp_pair_label(rep, c), rp_verdict_name(c->verdict),
                       rp_n(rep, rp_pair_rel(c)));
            }
            if (r->nchain > show)
                rp_txt(D, &p->text, " -> ... (%zu more)", r->nchain - show);
        }
    }
    if (idx == 0) {
        rp_doc_figure(D, RP_FIG_CHAIN, 0);
        if (ff->has_hist)
            histogram_table(rep, ff);
        if (ff->nworst)
            worst_table(rep, ff);
    }
}

void rp_section_first_failure(rp_report *rep)
{
    rp_doc_heading(D, 2, "first-failure", "4. First Failure by Mode");
    for (size_t i = 0; i < rep->nres; i++)
        mode_failure(rep, i);
    int seen[3] = {0, 0, 0};
    for (size_t i = 0; i < rep->nres; i++)
        seen[rep->res[i]->mode] = 1;
    const char *missing[3];
    int nm = 0;
    for (int m = 0; m < 3; m++)
        if (!seen[m] && m != RP_NUMERIC)
            missing[nm++] = rp_mode_name((rp_mode)m);
    if (nm) {
        rp_block *p = rp_doc_para(D);
        if (p) {
            rp_txt(D, &p->text, "Not run: %s%s%s. Add a mode with ", missing[0], nm > 1 ? " and " : "",
                   nm > 1 ? missing[1] : "");
            rp_code(D, &p->text, "%s",
                    rp_tracediff_cmd(rep, rep->res[0], rp_s(rep, "--mode %s --json %s.json", missing[0], missing[0])));
            rp_txt(D, &p->text, " and give its JSON to tracereport after this one.");
        }
    }
}

/* ---- 5. evidence snippets ---- */

typedef enum { SF_STR, SF_NUM, SF_INT, SF_COORD } sf_kind;
typedef struct sfield {
    const char *key;
    sf_kind kind;
    const char *s;
    double d;
    long long i;
    const uint64_t *c;
    int nc;
} sfield;

/* Renders {"k": v, ...}, dropping fields from the end until it has at most RP_SNIPPET_MAX_WORDS words. */
static const char *snippet(rp_report *rep, const sfield *fs, size_t n)
{
    for (; n > 0; n--) {
        rp_mem m;
        if (rp_mem_open(&m) != 0) {
            rep->doc.oom = 1;
            return "";
        }
        fputc('{', m.f);
        for (size_t i = 0; i < n; i++) {
            const sfield *f = &fs[i];
            if (i)
                fputs(", ", m.f);
            rp_put_json_str(m.f, f->key);
            fputs(": ", m.f);
            char b[RP_NUM_LEN];
            switch (f->kind) {
            case SF_STR:
                if (f->s)
                    rp_put_json_str(m.f, f->s);
                else
                    fputs("null", m.f);
                break;
            case SF_NUM: fputs(isfinite(f->d) ? rp_fmt(b, f->d) : "null", m.f); break;
            case SF_INT: fprintf(m.f, "%lld", f->i); break;
            case SF_COORD:
                fputc('[', m.f);
                for (int k = 0; k < f->nc; k++)
                    fprintf(m.f, "%s%llu", k ? "," : "", (unsigned long long)f->c[k]);
                fputc(']', m.f);
                break;
            }
        }
        fputc('}', m.f);
        char *t = rp_mem_take(&m);
        if (!t) {
            rep->doc.oom = 1;
            return "";
        }
        if (rp_word_count(t) <= RP_SNIPPET_MAX_WORDS) {
            const char *s = rp_s(rep, "%s", t);
            free(t);
            return s;
        }
        free(t);
    }
    return "{}";
}

#define SSTR(k, v) {.key = (k), .kind = SF_STR, .s = (v)}
#define SNUM(k, v) {.key = (k), .kind = SF_NUM, .d = (v)}
#define SINT(k, v) {.key = (k), .kind = SF_INT, .i = (long long)(v)}
#define SCOORD(k, v, n) {.key = (k), .kind = SF_COORD, .c = (v), .nc = (n)}

static void add_snippet(rp_report *rep, const char *title, const sfield *fs, size_t n)
{
    rp_block *p = rp_doc_para(D);
    if (p)
        rp_bold(D, &p->text, "%s", title);
    rp_doc_code(D, "json", snippet(rep, fs, n));
}

static void record_snippet(rp_report *rep, const char *title, const rp_result *r, const rp_side *s)
{
    sfield fs[] = {SSTR("prompt_id", s->prompt_id), SSTR("phase", s->phase), SSTR("point", s->point),
                   SINT("layer", s->layer), SINT("step", s->step), SINT("pos_id", s->pos_id),
                   SSTR("hash", s->has_hash ? s->hash : NULL), SNUM("min", s->stats.present ? s->stats.min : NAN),
                   SNUM("max", s->stats.present ? s->stats.max : NAN),
                   SNUM("mean", s->stats.present ? s->stats.mean : NAN)};
    (void)r;
    add_snippet(rep, title, fs, sizeof fs / sizeof fs[0]);
}

void rp_section_snippets(rp_report *rep)
{
    const rp_result *r = rep->res[0];
    const rp_facts *f = &rep->facts[0];
    rp_doc_heading(D, 2, "evidence-snippets", "5. Evidence Snippets (JSON)");
    rp_block *n = rp_doc_note(D);
    if (n)
        rp_txt(D, &n->text, "Evidence snippets are limited to %d words per citation (whitespace-separated tokens).",
               RP_SNIPPET_MAX_WORDS);
    if (r->ff.present) {
        const rp_failure *ff = &r->ff;
        sfield fs[] = {SSTR("prompt", rp_prompt_of(r, ff->group)), SSTR("tensor", ff->point),
                       SINT("layer", ff->layer), SSTR("root_cause", ff->root_cause),
                       SSTR("verdict", rp_verdict_name(ff->verdict)), SNUM("rel_l2", ff->m.rel_l2),
                       SNUM("max_abs", ff->m.max_abs), SCOORD("at", ff->m.max_abs_coord, ff->m.ncoord),
                       SNUM("cosine", ff->m.cosine), SINT("outside_tol", ff->m.outside_tol)};
        add_snippet(rep, "First failure", fs, sizeof fs / sizeof fs[0]);
        if (ff->left.present)
            record_snippet(rep, rp_s(rep, "Left record (%s)", ff->left.phase), r, &ff->left);
        if (ff->right.present)
            record_snippet(rep, rp_s(rep, "Right record (%s)", ff->right.phase), r, &ff->right);
    } else if (f->worst_pair >= 0) {
        const rp_pair *w = &r->pairs[f->worst_pair];
        sfield fs[] = {SSTR("prompt", rp_prompt_of(r, w->group)), SSTR("tensor", w->point), SINT("layer", w->layer),
                       SSTR("verdict", rp_verdict_name(w->verdict)), SNUM("rel_l2", rp_pair_rel(w)),
                       SNUM("max_abs", w->m.max_abs), SINT("outside_tol", w->m.outside_tol),
                       SNUM("atol", w->m.atol)};
        add_snippet(rep, "Largest drift (no failure)", fs, sizeof fs / sizeof fs[0]);
    }
    int64_t jp = f->ff_jump >= 0 ? f->ff_jump : f->first_jump;
    if (jp >= 0) {
        const rp_pair *p = &r->pairs[jp];
        sfield fs[] = {SSTR("evidence", "jump"), SSTR("tensor", p->point), SINT("layer", p->layer),
                       SSTR("prompt", rp_prompt_of(r, p->group)), SNUM("inputs_rel_l2", p->jump_baseline),
                       SNUM("rel_l2", rp_pair_rel(p)), SNUM("ratio", p->jump_ratio)};
        add_snippet(rep, "Decisive evidence: error jump", fs, sizeof fs / sizeof fs[0]);
    }
    const rp_facts *kf = &rep->facts[rep->kv_src];
    const rp_kvcheck *k = kf->kv[RP_KV_WRITE].first_fail ? kf->kv[RP_KV_WRITE].first_fail
                          : kf->kv[RP_KV_PREFIX].first_fail ? kf->kv[RP_KV_PREFIX].first_fail
                                                            : kf->kv[RP_KV_CAUSAL].first_fail;
    if (k) {
        sfield fs[] = {SSTR("check", rp_kv_kind_name(k->kind)), SSTR("result", "fail"), SSTR("tensor", k->point),
                       SINT("layer", k->layer), SSTR("prompt", k->prompt_id), SSTR("side", rp_side_name(k->side)),
                       SINT("bad_rows", k->bad_rows), SINT("rows_checked", k->rows_checked),
                       SINT("first_bad_row", k->first_bad_row), SNUM("max_abs", k->max_abs)};
        add_snippet(rep, "Decisive evidence: KV-cache check", fs, sizeof fs / sizeof fs[0]);
    } else if (kf->r->mode == RP_KV_ALIGNED && kf->r->nkv) {
        const char *kinds = rp_s(rep, "%s%s%s%s%s", kf->kv[0].pass ? "cache_prefix" : "",
                                 kf->kv[0].pass && kf->kv[1].pass ? ", " : "", kf->kv[1].pass ? "cache_write" : "",
                                 (kf->kv[0].pass || kf->kv[1].pass) && kf->kv[2].pass ? ", " : "",
                                 kf->kv[2].pass ? "causal" : "");
        sfield fs[] = {SSTR("checks", kinds), SSTR("result", "pass"),
                       SINT("passed", kf->kv[0].pass + kf->kv[1].pass + kf->kv[2].pass),
                       SINT("rows", kf->kv[0].rows + kf->kv[1].rows + kf->kv[2].rows)};
        add_snippet(rep, "KV-cache checks", fs, sizeof fs / sizeof fs[0]);
    }
    for (size_t i = 1; i < rep->nres; i++) {
        const rp_result *x = rep->res[i];
        const rp_facts *xf = &rep->facts[i];
        sfield fs[] = {SSTR("mode", rp_mode_name(x->mode)), SSTR("verdict", rp_overall_name(x->verdict)),
                       SSTR("tensor", x->ff.present ? x->ff.point : NULL),
                       SINT("layer", x->ff.present ? x->ff.layer : -1),
                       SSTR("root_cause", x->ff.present ? x->ff.root_cause : NULL),
                       SSTR("numeric_verdict", xf->ffp ? rp_verdict_name(xf->ffp->numeric_verdict) : NULL),
                       SNUM("rel_l2", xf->ffp ? rp_pair_rel(xf->ffp) : NAN)};
        add_snippet(rep, rp_s(rep, "Mode %s", rp_mode_name(x->mode)), fs, sizeof fs / sizeof fs[0]);
    }
}

