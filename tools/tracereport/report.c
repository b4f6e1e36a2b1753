/*
 * report.c — builds the report document (report.h) from one or more diff results of the same traces: the
 * execution summary (verdict and counts per mode, the prompts, the sides), the KV alignment analysis (projection
 * hashes, attention statistics before and after the softmax from the records' stored stats, the KV-cache
 * indicators and checks), the first failure of every mode with its numbers, histogram and worst elements, the
 * evidence snippets (small JSON objects of at most 25 words), and the artifacts and run metadata. This file holds
 * the helpers the builders share, the header, the execution summary (section 1) and the artifacts (section 8);
 * section 2 is in report_kv.c, sections 4 and 5 in report_failure.c, the judgement sections (3, 6, 7: hypotheses,
 * conclusion, recommendations) in findings.c.
 */
#define _POSIX_C_SOURCE 200809L
#include "report.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "text.h"

#define D (&rep->doc)

/* ---- helpers shared by the builders ---- */

const char *rp_s(rp_report *rep, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    char *p = n >= 0 ? rp_arena_alloc(rep->a, (size_t)n + 1, 1) : NULL;
    if (!p) {
        rep->doc.oom = 1;
        return "";
    }
    va_start(ap, fmt);
    vsnprintf(p, (size_t)n + 1, fmt, ap);
    va_end(ap);
    return p;
}

const char *rp_n(rp_report *rep, double v)
{
    char b[RP_NUM_LEN];
    return rp_s(rep, "%s", rp_fmt(b, v));
}

const char *rp_where_label(rp_report *rep, const char *point, int32_t layer)
{
    return layer >= 0 ? rp_s(rep, "%s L%d", point, (int)layer) : rp_s(rep, "%s", point);
}

const char *rp_pair_label(rp_report *rep, const rp_pair *p)
{
    return rp_where_label(rep, p->point, p->layer);
}

const char *rp_prompt_of(const rp_result *r, uint64_t group)
{
    const char *s = group < r->ngroups ? r->groups[group].prompt_id : NULL;
    return s ? s : "(none)";
}

const char *rp_group_label(rp_report *rep, const rp_result *r, uint64_t group)
{
    if (group >= r->ngroups)
        return "(no group)";
    const rp_group *g = &r->groups[group];
    return rp_s(rep, "%s (token %d, pos %d)", g->prompt_id ? g->prompt_id : "(none)", (int)g->token_id,
                (int)g->pos_id);
}

const char *rp_side_label(rp_report *rep, const rp_input *in)
{
    rp_mem m;
    if (rp_mem_open(&m) != 0) {
        rep->doc.oom = 1;
        return "";
    }
    fputs(in->path, m.f);
    if (in->nfilter) {
        fputs(" [", m.f);
        for (size_t i = 0; i < in->nfilter; i++)
            fprintf(m.f, "%s%s", i ? ", " : "", in->filter[i]);
        fputc(']', m.f);
    }
    char *t = rp_mem_take(&m);
    const char *s = t ? rp_s(rep, "%s", t) : "";
    free(t);
    return s;
}

const char *rp_coord_label(rp_report *rep, const uint64_t *c, int n)
{
    char buf[256];
    size_t o = 0;
    buf[o++] = '[';
    for (int i = 0; i < n && o < sizeof buf - 32; i++)
        o += (size_t)snprintf(buf + o, sizeof buf - o, "%s%llu", i ? ", " : "", (unsigned long long)c[i]);
    snprintf(buf + o, sizeof buf - o, "]");
    return rp_s(rep, "%s", buf);
}

const char *rp_shq(rp_report *rep, const char *word)
{
    rp_mem m;
    if (rp_mem_open(&m) != 0) {
        rep->doc.oom = 1;
        return "";
    }
    rp_put_shell(m.f, word);
    char *t = rp_mem_take(&m);
    const char *s = t ? rp_s(rep, "%s", t) : "";
    free(t);
    return s;
}

const char *rp_tracediff_cmd(rp_report *rep, const rp_result *r, const char *extra)
{
    rp_mem m;
    if (rp_mem_open(&m) != 0) {
        rep->doc.oom = 1;
        return "";
    }
    fputs("tracediff", m.f);
    int one_file = strcmp(r->left.path, r->right.path) == 0;
    for (size_t i = 0; i < r->left.nfilter; i++) {
        fputs(" --left ", m.f);
        rp_put_shell(m.f, r->left.filter[i]);
    }
    for (size_t i = 0; i < r->right.nfilter; i++) {
        fputs(" --right ", m.f);
        rp_put_shell(m.f, r->right.filter[i]);
    }
    if (r->align_pos)
        fputs(" --align pos", m.f);
    if (extra && *extra)
        fprintf(m.f, " %s", extra);
    fputc(' ', m.f);
    rp_put_shell(m.f, r->left.path);
    if (!one_file) {
        fputc(' ', m.f);
        rp_put_shell(m.f, r->right.path);
    }
    char *t = rp_mem_take(&m);
    const char *s = t ? rp_s(rep, "%s", t) : "";
    free(t);
    return s;
}

static const char *base_name(const char *path)
{
    const char *s = strrchr(path, '/');
    return s ? s + 1 : path;
}

const char *rp_report_title(rp_report *rep)
{
    if (rep->title)
        return rep->title;
    const rp_result *r = rep->res[0];
    if (rep->compare)
        return rp_s(rep, "tensortrace comparison: %s vs %s", base_name(rep->res[0]->source),
                    base_name(rep->res[1]->source));
    if (strcmp(r->left.path, r->right.path) == 0 && (r->left.nfilter || r->right.nfilter))
        return rp_s(rep, "tensortrace report: %s, %s vs %s", base_name(r->left.path),
                    r->left.nfilter ? r->left.filter[0] : "all", r->right.nfilter ? r->right.filter[0] : "all");
    return rp_s(rep, "tensortrace report: %s vs %s", base_name(r->left.path), base_name(r->right.path));
}

int rp_report_init(rp_report *rep)
{
    rep->facts = rp_arena_alloc(rep->a, rep->nres ? rep->nres : 1, sizeof *rep->facts);
    if (!rep->facts)
        return -1;
    for (size_t i = 0; i < rep->nres; i++)
        if (rp_facts_build(&rep->facts[i], rep->res[i]) != 0)
            return -1;
    rep->kv_src = 0;
    for (size_t i = 0; i < rep->nres; i++)
        if (rep->res[i]->mode == RP_KV_ALIGNED) {
            rep->kv_src = (int)i;
            break;
        }
    rp_doc_init(&rep->doc, rep->a);
    return 0;
}

rp_cls rp_verdict_cls(rp_verdict v)
{
    switch (v) {
    case RP_MATCH: return RP_CLS_OK;
    case RP_WITHIN_TOL: return RP_CLS_DRIFT;
    case RP_MISSING: return RP_CLS_NA;
    default: return RP_CLS_BAD;
    }
}

rp_cls rp_overall_cls(rp_overall v)
{
    switch (v) {
    case RP_IDENTICAL: return RP_CLS_OK;
    case RP_STRUCTURAL: return RP_CLS_DRIFT;
    case RP_NA: return RP_CLS_NA;
    default: return RP_CLS_BAD;
    }
}

static const char *ff_label(rp_report *rep, const rp_result *r)
{
    if (!r->ff.present)
        return "none";
    if (r->ff.rank >= 0)
        return rp_s(rep, "%s, %s, rank %d", rp_where_label(rep, r->ff.point, r->ff.layer),
                    rp_prompt_of(r, r->ff.group), (int)r->ff.rank);
    return rp_s(rep, "%s, %s", rp_where_label(rep, r->ff.point, r->ff.layer), rp_prompt_of(r, r->ff.group));
}

/* Whether a's first failure comes before b's in pipeline order (layer -1 stages before layer 0 when they rank
 * before every stage inside layers, as the diff orders them; by their stage rank otherwise). */
static int ff_before(const rp_result *a, const rp_result *b)
{
    int32_t sa = a->ff.pair >= 0 ? a->pairs[a->ff.pair].stage_rank : 0;
    int32_t sb = b->ff.pair >= 0 ? b->pairs[b->ff.pair].stage_rank : 0;
    int32_t la = a->ff.layer, lb = b->ff.layer;
    if (la != lb && la >= 0 && lb >= 0)
        return la < lb;
    if (la != lb)
        return la < 0 ? sa < sb : !(sb < sa); /* a stage outside the layers: by stage rank (embed before, logits after) */
    return sa < sb;
}

/* Per-rank view: the results of per-rank diffs (each left side one rank's file; scripts/cluster_diff.sh runs them
 * beside the data and merges their JSON here), one row per rank in rank order, and which ranks fail first. */
static void section_ranks(rp_report *rep)
{
    size_t ranked = 0;
    for (size_t i = 0; i < rep->nres; i++)
        ranked += rep->res[i]->rank >= 0 || rep->res[i]->ff.rank >= 0;
    if (!ranked || (rep->nres < 2 && rep->res[0]->rank < 0))
        return;
    rp_doc_heading(D, 3, "ranks", "Per-Rank View");
    rp_block *t = rp_doc_table(D, 8, "Rank", "Result", "Status", "First Failure", "Root Cause", "Pairs", "Mismatch",
                               "Missing");
    /* in rank order (insertion: results are few) */
    size_t *ord = rp_arena_alloc(rep->a, rep->nres, sizeof *ord);
    if (!ord)
        return;
    for (size_t i = 0; i < rep->nres; i++) {
        size_t k = i;
        while (k > 0 && rep->res[ord[k - 1]]->rank > rep->res[i]->rank) {
            ord[k] = ord[k - 1];
            k--;
        }
        ord[k] = i;
    }
    size_t failing = 0;
    const rp_result *earliest = NULL;
    for (size_t n = 0; n < rep->nres; n++) {
        const rp_result *x = rep->res[ord[n]];
        int32_t rank = x->rank >= 0 ? x->rank : x->ff.rank;
        rp_doc_row(D, t);
        if (rank >= 0)
            rp_doc_cell(D, t, RP_CLS_NUM, "%d", (int)rank);
        else
            rp_doc_cell(D, t, RP_CLS_PLAIN, "-");
        rp_doc_cell(D, t, RP_CLS_MONO, "%s", x->source);
        rp_doc_cell(D, t, rp_overall_cls(x->verdict), "%s", rp_verdict_text(rep, x));
        rp_doc_cell(D, t, RP_CLS_PLAIN, "%s", ff_label(rep, x));
        rp_doc_cell(D, t, x->ff.present ? RP_CLS_BAD : RP_CLS_PLAIN, "%s", x->ff.present ? x->ff.root_cause : "-");
        rp_doc_cell(D, t, RP_CLS_NUM, "%llu", (unsigned long long)x->counts.pairs);
        rp_doc_cell(D, t, RP_CLS_NUM, "%llu", (unsigned long long)x->counts.mismatch);
        rp_doc_cell(D, t, RP_CLS_NUM, "%llu", (unsigned long long)x->counts.missing);
        if (x->verdict == RP_OVERALL_MISMATCH) {
            failing++;
            if (x->ff.present && (!earliest || ff_before(x, earliest)))
                earliest = x;
        }
    }
    rp_block *p = rp_doc_para(D);
    if (p) {
        if (!failing)
            rp_txt(D, &p->text, "No rank has a mismatch (%zu results).", rep->nres);
        else if (earliest)
            rp_txt(D, &p->text, "%zu of %zu results have a mismatch. The earliest in pipeline order is %s on rank %d: "
                                "where it starts. Ranks that fail only later got it through what the ranks share (an "
                                "all-reduce spreads one rank's error to every rank); a failure that starts on one rank "
                                "points at that rank's shard of the work (its heads, its MLP columns) or its device, "
                                "one that starts on every rank at once at the code they share.",
                   failing, rep->nres, rp_where_label(rep, earliest->ff.point, earliest->ff.layer),
                   (int)(earliest->rank >= 0 ? earliest->rank : earliest->ff.rank));
        else
            rp_txt(D, &p->text, "%zu of %zu results have a mismatch.", failing, rep->nres);
    }
}

const char *rp_verdict_text(rp_report *rep, const rp_result *r)
{
    if (r->subcause && r->verdict != RP_STRUCTURAL && r->verdict != RP_IDENTICAL)
        return rp_s(rep, "%s (%s)", rp_overall_name(r->verdict), r->subcause);
    return rp_overall_name(r->verdict);
}

const char *rp_hash_cell(rp_report *rep, const rp_side *s)
{
    if (!s->present)
        return "(missing)";
    return s->has_hash ? rp_s(rep, "%s", s->hash) : "(no hash)";
}

/* ---- header ---- */

static void header(rp_report *rep)
{
    const rp_result *r = rep->res[0];
    rp_doc_heading(D, 1, "top", "%s", rp_report_title(rep));
    /* the page shows verdict and mode in its header: there, one line with the sides and the source */
    rp_block *line = rp_doc_para(D);
    if (line) {
        line->only = RP_HTML_ONLY;
        rp_bold(D, &line->text, "Left");
        rp_txt(D, &line->text, " %s (%llu records) \xC2\xB7 ", rp_side_label(rep, &r->left),
               (unsigned long long)r->left.records);
        rp_bold(D, &line->text, "Right (reference)");
        rp_txt(D, &line->text, " %s (%llu records) \xC2\xB7 ", rp_side_label(rep, &r->right),
               (unsigned long long)r->right.records);
        rp_bold(D, &line->text, "Source");
        for (size_t i = 0; i < rep->nres; i++)
            rp_txt(D, &line->text, "%s%s (%s)", i ? ", " : " ", rep->res[i]->source, rp_mode_name(rep->res[i]->mode));
        rp_txt(D, &line->text, " \xC2\xB7 generated %s", rep->generated);
    }
    rp_block *t = rp_doc_table(D, 2, "Field", "Value");
    if (t)
        t->only = RP_MD_ONLY;
    rp_doc_row(D, t);
    rp_doc_cell(D, t, RP_CLS_PLAIN, "Verdict");
    rp_doc_cell(D, t, rp_overall_cls(r->verdict), "%s", rp_verdict_text(rep, r));
    rp_doc_row(D, t);
    rp_doc_cell(D, t, RP_CLS_PLAIN, "Mode");
    rp_mem m;
    if (rp_mem_open(&m) == 0) {
        for (size_t i = 0; i < rep->nres; i++)
            fprintf(m.f, "%s%s%s", i ? ", " : "", rp_mode_name(rep->res[i]->mode),
                    i == 0 && rep->nres > 1 ? " (primary)" : "");
        char *s = rp_mem_take(&m);
        rp_doc_cell(D, t, RP_CLS_PLAIN, "%s", s ? s : "");
        free(s);
    }
    rp_doc_row(D, t);
    rp_doc_cell(D, t, RP_CLS_PLAIN, "Left");
    rp_doc_cell(D, t, RP_CLS_MONO, "%s, %llu records", rp_side_label(rep, &r->left),
                (unsigned long long)r->left.records);
    rp_doc_row(D, t);
    rp_doc_cell(D, t, RP_CLS_PLAIN, "Right (reference)");
    rp_doc_cell(D, t, RP_CLS_MONO, "%s, %llu records", rp_side_label(rep, &r->right),
                (unsigned long long)r->right.records);
    rp_doc_row(D, t);
    rp_doc_cell(D, t, RP_CLS_PLAIN, "Pairing key");
    if (rp_mem_open(&m) == 0) {
        for (size_t i = 0; i < r->nkey; i++)
            fprintf(m.f, "%s%s", i ? ", " : "", r->key[i]);
        if (r->align_pos)
            fputs(" (rows aligned by position)", m.f);
        char *s = rp_mem_take(&m);
        rp_doc_cell(D, t, RP_CLS_MONO, "%s", s ? s : "");
        free(s);
    }
    rp_doc_row(D, t);
    rp_doc_cell(D, t, RP_CLS_PLAIN, "Generated");
    rp_doc_cell(D, t, RP_CLS_PLAIN, "%s by tracereport %s", rep->generated, tt_version());
    rp_doc_row(D, t);
    rp_doc_cell(D, t, RP_CLS_PLAIN, "Source");
    if (rp_mem_open(&m) == 0) {
        for (size_t i = 0; i < rep->nres; i++) {
            const rp_result *x = rep->res[i];
            fprintf(m.f, "%s%s (%s, tracediff %s, %.3g s on %llu threads)", i ? "; " : "", x->source,
                    rp_mode_name(x->mode), x->version, isnan(x->seconds) ? 0.0 : x->seconds,
                    (unsigned long long)x->threads);
        }
        char *s = rp_mem_take(&m);
        rp_doc_cell(D, t, RP_CLS_MONO, "%s", s ? s : "");
        free(s);
    }
}

/* ---- 1. execution summary ---- */

/* Symbols of the Markdown verdict map: = bitwise, ~ within tolerance, X mismatch, ? missing, * first failure. */
static const char *map_symbol(const rp_cell *c)
{
    if (!c->npairs)
        return "";
    if (c->first_failure)
        return c->verdict == RP_MISSING ? "?*" : "X*";
    switch (c->verdict) {
    case RP_MATCH: return "=";
    case RP_WITHIN_TOL: return "~";
    case RP_MISSING: return "?";
    default: return "X";
    }
}

static void verdict_map(rp_report *rep, const rp_facts *f)
{
    const rp_grid *g = &f->g;
    if (!g->ncols || !g->nrows)
        return;
    rp_block *h = rp_doc_heading(D, 3, "verdict-map", "Verdict Map (layer x stage)");
    if (h)
        h->only = RP_MD_ONLY;
    rp_block *p = rp_doc_para(D);
    if (p) {
        p->only = RP_MD_ONLY;
        rp_txt(D, &p->text, "Worst verdict over the prompts per layer and stage: = bitwise, ~ within tolerance, "
                            "X mismatch, ? missing, * the first failure; empty: not captured. The numbers are in "
                            "report.tsv, the heat map in report.html.");
    }
    /* a table with ncols + 1 columns: built by hand, as headings are dynamic */
    rp_block *t = rp_doc_table(D, 1, "Layer");
    if (!t)
        return;
    t->only = RP_MD_ONLY;
    t->ncols = g->ncols + 1;
    t->head = rp_arena_alloc(rep->a, t->ncols, sizeof *t->head);
    if (!t->head) {
        rep->doc.oom = 1;
        return;
    }
    t->head[0] = "Layer";
    for (size_t c = 0; c < g->ncols; c++)
        t->head[c + 1] = g->stages[c];
    t->next_col = t->ncols;
    for (size_t r = 0; r < g->nrows; r++) {
        char lb[32];
        rp_doc_row(D, t);
        rp_doc_cell(D, t, RP_CLS_PLAIN, "%s", rp_row_label(&g->rows[r], lb, sizeof lb));
        for (size_t c = 0; c < g->ncols; c++)
            rp_doc_cell(D, t, RP_CLS_PLAIN, "%s", map_symbol(rp_cell_at(g, r, c)));
    }
}

static void section_summary(rp_report *rep)
{
    const rp_result *r = rep->res[0];
    const rp_facts *f = &rep->facts[0];
    rp_doc_heading(D, 2, "execution-summary", "1. Execution Summary");
    rp_block *t = rp_doc_table(D, 10, "Mode", "Status", "First Failure", "Root Cause", "Pairs", "Match",
                               "Within tol", "Mismatch", "Missing", "Pass/Fail Count");
    for (size_t i = 0; i < rep->nres; i++) {
        const rp_result *x = rep->res[i];
        rp_doc_row(D, t);
        rp_doc_cell(D, t, RP_CLS_PLAIN, "%s", rp_mode_name(x->mode));
        rp_doc_cell(D, t, rp_overall_cls(x->verdict), "%s", rp_verdict_text(rep, x));
        rp_doc_cell(D, t, RP_CLS_PLAIN, "%s", ff_label(rep, x));
        rp_doc_cell(D, t, x->ff.present ? RP_CLS_BAD : RP_CLS_PLAIN, "%s", x->ff.present ? x->ff.root_cause : "-");
        rp_doc_cell(D, t, RP_CLS_NUM, "%llu", (unsigned long long)x->counts.pairs);
        rp_doc_cell(D, t, RP_CLS_NUM, "%llu", (unsigned long long)x->counts.match);
        rp_doc_cell(D, t, RP_CLS_NUM, "%llu", (unsigned long long)x->counts.within_tol);
        rp_doc_cell(D, t, RP_CLS_NUM, "%llu", (unsigned long long)x->counts.mismatch);
        rp_doc_cell(D, t, RP_CLS_NUM, "%llu", (unsigned long long)x->counts.missing);
        rp_doc_cell(D, t, RP_CLS_NUM, "%llu pass / %llu fail",
                    (unsigned long long)(x->counts.match + x->counts.within_tol),
                    (unsigned long long)(x->counts.mismatch + x->counts.missing));
    }
    rp_block *p = rp_doc_para(D);
    if (p) {
        const rp_counts *c = &r->counts;
        rp_txt(D, &p->text, "%s: %llu pairs, %llu bitwise equal (%llu decided by hash without reading the tensors), "
                            "%llu within tolerance, %llu mismatch, %llu missing; %llu error jumps flagged; %llu of "
                            "%llu pairs with both hashes differ by hash (what the legacy hash probe counts as FAIL).",
               rp_mode_name(r->mode), (unsigned long long)c->pairs, (unsigned long long)c->match,
               (unsigned long long)c->hash_skipped, (unsigned long long)c->within_tol,
               (unsigned long long)c->mismatch, (unsigned long long)c->missing, (unsigned long long)c->jumps,
               (unsigned long long)f->hash_differ, (unsigned long long)f->hash_pairs);
        if (c->duplicates || c->errors || c->uncovered_rows || c->stats_only)
            rp_txt(D, &p->text, " Also: %llu duplicate keys, %llu pairs not comparable, %llu uncovered rows, %llu "
                                "compared by hash/stats only.",
                   (unsigned long long)c->duplicates, (unsigned long long)c->errors,
                   (unsigned long long)c->uncovered_rows, (unsigned long long)c->stats_only);
    }
    section_ranks(rep);
    rp_doc_figure(D, RP_FIG_COUNTS, 0);
    rp_doc_figure(D, RP_FIG_HEATMAP, 0);
    verdict_map(rep, f);

    rp_doc_heading(D, 3, "prompts", "Prompts Executed");
    t = rp_doc_table(D, 10, "Prompt", "Token id", "Pos id", "Pairs", "Match", "Within tol", "Mismatch", "Missing",
                     "First Fail", "Root Cause");
    for (size_t i = 0; i < r->ngroups; i++) {
        const rp_group *g = &r->groups[i];
        rp_doc_row(D, t);
        rp_doc_cell(D, t, RP_CLS_PLAIN, "%s", g->prompt_id ? g->prompt_id : "(none)");
        rp_doc_cell(D, t, RP_CLS_NUM, "%d", (int)g->token_id);
        rp_doc_cell(D, t, RP_CLS_NUM, "%d", (int)g->pos_id);
        rp_doc_cell(D, t, RP_CLS_NUM, "%llu", (unsigned long long)g->pairs);
        rp_doc_cell(D, t, RP_CLS_NUM, "%llu", (unsigned long long)g->match);
        rp_doc_cell(D, t, RP_CLS_NUM, "%llu", (unsigned long long)g->within_tol);
        rp_doc_cell(D, t, RP_CLS_NUM, "%llu", (unsigned long long)g->mismatch);
        rp_doc_cell(D, t, RP_CLS_NUM, "%llu", (unsigned long long)g->missing);
        if (g->first_failure >= 0) {
            rp_doc_cell(D, t, RP_CLS_BAD, "%s", rp_pair_label(rep, &r->pairs[g->first_failure]));
            rp_doc_cell(D, t, RP_CLS_BAD, "%s", g->root_cause ? g->root_cause : "?");
        } else {
            rp_doc_cell(D, t, RP_CLS_OK, "-");
            rp_doc_cell(D, t, g->within_tol ? RP_CLS_DRIFT : RP_CLS_OK, "%s",
                        g->within_tol ? "STRUCTURAL_DRIFT" : "PASS");
        }
    }
    if (r->ngroups == 0) {
        rp_block *q = rp_doc_para(D);
        if (q)
            rp_txt(D, &q->text, "No groups: the result holds no pairs.");
    }
}

/* ---- 8. artifacts and metadata ---- */

static void section_artifacts(rp_report *rep)
{
    const rp_result *r = rep->res[0];
    rp_doc_heading(D, 2, "artifacts", "8. Artifacts Reference");
    rp_block *t = rp_doc_table(D, 2, "File", "Path");
    for (size_t i = 0; i < rep->nres; i++) {
        rp_doc_row(D, t);
        rp_doc_cell(D, t, RP_CLS_PLAIN, "Diff result (%s)", rp_mode_name(rep->res[i]->mode));
        rp_doc_cell(D, t, RP_CLS_MONO, "%s", rep->res[i]->source);
    }
    rp_doc_row(D, t);
    rp_doc_cell(D, t, RP_CLS_PLAIN, "Left trace");
    rp_doc_cell(D, t, RP_CLS_MONO, "%s", r->left.path);
    if (strcmp(r->left.path, r->right.path) != 0) {
        rp_doc_row(D, t);
        rp_doc_cell(D, t, RP_CLS_PLAIN, "Right trace");
        rp_doc_cell(D, t, RP_CLS_MONO, "%s", r->right.path);
    }
    static const char *const outs[][2] = {{"This report (Markdown)", "report.md"},
                                         {"Heat-map data, one row per layer and stage (TSV)", "report.tsv"},
                                         {"Report with pictures (HTML, self-contained)", "report.html"}};
    for (int i = 0; i < 3; i++) {
        rp_doc_row(D, t);
        rp_doc_cell(D, t, RP_CLS_PLAIN, "%s", outs[i][0]);
        rp_doc_cell(D, t, RP_CLS_MONO, "%s/%s", rep->outdir, outs[i][1]);
    }

    rp_doc_heading(D, 3, "metadata", "Run Metadata");
    if (!r->left.nmeta && !r->right.nmeta) {
        rp_block *p = rp_doc_para(D);
        if (p)
            rp_txt(D, &p->text, "Neither file carries metadata.");
        return;
    }
    t = rp_doc_table(D, 4, "Key", "Left", "Right", "Same");
    for (int side = 0; side < 2; side++) {
        const rp_input *in = side ? &r->right : &r->left, *other = side ? &r->left : &r->right;
        for (size_t i = 0; i < in->nmeta; i++) {
            const char *k = in->meta[i].key;
            if (side && rp_meta_get(other, k))
                continue; /* listed with the left side */
            const char *lv = side ? NULL : in->meta[i].value, *rv = side ? in->meta[i].value : rp_meta_get(other, k);
            int same = lv && rv && strcmp(lv, rv) == 0;
            rp_doc_row(D, t);
            rp_doc_cell(D, t, RP_CLS_MONO, "%s", k);
            rp_doc_cell(D, t, RP_CLS_MONO, "%s", lv ? lv : "(absent)");
            rp_doc_cell(D, t, RP_CLS_MONO, "%s", rv ? rv : "(absent)");
            rp_doc_cell(D, t, same ? RP_CLS_PLAIN : RP_CLS_BAD, "%s", same ? "yes" : "no");
        }
    }
}

int rp_report_build(rp_report *rep)
{
    header(rep);
    section_summary(rep);
    rp_section_kv(rep);
    rp_section_hypotheses(rep);
    rp_section_first_failure(rep);
    rp_section_snippets(rep);
    rp_section_conclusion(rep);
    rp_section_recommendations(rep);
    section_artifacts(rep);
    return rep->doc.oom ? -1 : 0;
}
