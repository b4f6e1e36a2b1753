/*
 * write_tsv.c — report.tsv: the data behind the heat map and the growth chart, for a spreadsheet or a script.
 * One header line, then one row per (mode, layer x stage cell) holding pairs, in pipeline order; for --compare one
 * row per cell with its verdict before and after and the change. Unknown numbers are empty fields. Strings go
 * through rp_put_tsv, so a tab or newline in a point name never shifts a column.
 *
 * Columns (report): mode row layer stage stage_rank pairs match within_tol mismatch missing verdict worst_rel_l2
 * worst_max_abs worst_prompt jumps first_failure in_chain root_cause
 * Columns (compare): row layer stage before_verdict after_verdict before_rel_l2 after_rel_l2 before_pairs
 * after_pairs change
 */
#include <math.h>

#include "text.h"
#include "write.h"

static void num(FILE *f, double v)
{
    if (isfinite(v))
        fprintf(f, "%.6g", v);
}

static void row_fields(FILE *f, rp_row_kind kind, int32_t layer)
{
    char lb[32];
    rp_row row = {kind, layer};
    fprintf(f, "%s\t%d\t", rp_row_label(&row, lb, sizeof lb), (int)layer);
}

static void report_tsv(FILE *f, const rp_report *rep)
{
    fputs("mode\trow\tlayer\tstage\tstage_rank\tpairs\tmatch\twithin_tol\tmismatch\tmissing\tverdict\tworst_rel_l2\t"
          "worst_max_abs\tworst_prompt\tjumps\tfirst_failure\tin_chain\troot_cause\n",
          f);
    for (size_t k = 0; k < rep->nres; k++) {
        const rp_result *r = rep->res[k];
        const rp_grid *g = &rep->facts[k].g;
        for (size_t ri = 0; ri < g->nrows; ri++)
            for (size_t ci = 0; ci < g->ncols; ci++) {
                const rp_cell *c = rp_cell_at(g, ri, ci);
                if (!c->npairs)
                    continue;
                const rp_pair *w = c->worst_pair >= 0 ? &r->pairs[c->worst_pair] : NULL;
                fprintf(f, "%s\t", rp_mode_name(r->mode));
                row_fields(f, g->rows[ri].kind, g->rows[ri].layer);
                rp_put_tsv(f, g->stages[ci]);
                fprintf(f, "\t%d\t%u\t%u\t%u\t%u\t%u\t%s\t", (int)g->ranks[ci], c->npairs, c->n[RP_MATCH],
                        c->n[RP_WITHIN_TOL], c->n[RP_MISMATCH], c->n[RP_MISSING], rp_verdict_name(c->verdict));
                num(f, c->worst_rel);
                fputc('\t', f);
                num(f, c->worst_max_abs);
                fputc('\t', f);
                rp_put_tsv(f, w ? rp_prompt_of(r, w->group) : "");
                fprintf(f, "\t%u\t%d\t%d\t", c->jumps, c->first_failure, c->in_chain);
                rp_put_tsv(f, w && rp_failing(w->verdict) && w->root_cause ? w->root_cause : "");
                fputc('\n', f);
            }
    }
}

static void compare_tsv(FILE *f, const rp_report *rep)
{
    fputs("row\tlayer\tstage\tbefore_verdict\tafter_verdict\tbefore_rel_l2\tafter_rel_l2\tbefore_pairs\tafter_pairs\t"
          "change\n",
          f);
    const rp_cmp *c = &rep->cmp;
    for (size_t i = 0; i < c->n; i++) {
        const rp_cmp_row *r = &c->rows[i];
        row_fields(f, r->kind, r->layer);
        rp_put_tsv(f, r->stage);
        fprintf(f, "\t%s\t%s\t", r->before ? rp_verdict_name(r->before->verdict) : "",
                r->after ? rp_verdict_name(r->after->verdict) : "");
        num(f, r->before ? r->before->worst_rel : NAN);
        fputc('\t', f);
        num(f, r->after ? r->after->worst_rel : NAN);
        fprintf(f, "\t%u\t%u\t%s\n", r->before ? r->before->npairs : 0, r->after ? r->after->npairs : 0,
                rp_change_key(r->change));
    }
}

void rp_write_tsv(FILE *f, const rp_report *rep)
{
    if (rep->compare)
        compare_tsv(f, rep);
    else
        report_tsv(f, rep);
}
