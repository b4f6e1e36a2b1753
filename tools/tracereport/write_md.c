/*
 * write_md.c — renders the report document (doc.h) as GitHub-flavoured Markdown, the form of the seeds' reports.
 * Every string passes through text.h's Markdown escaping (tables cannot be broken by a '|' in a point name, nor
 * raw HTML smuggled in by a '<script>' in a prompt id); code blocks get a fence longer than any backtick run in
 * them. Figures are HTML-only and skipped.
 */
#include <string.h>

#include "text.h"
#include "write.h"

static void spans(FILE *f, const rp_inline *in)
{
    for (size_t i = 0; in && i < in->n; i++) {
        const rp_span *s = &in->s[i];
        switch (s->kind) {
        case RP_SPAN_BOLD:
            if (s->text[0]) {
                fputs("**", f);
                rp_put_md(f, s->text);
                fputs("**", f);
            }
            break;
        case RP_SPAN_CODE: rp_put_md_code(f, s->text); break;
        default: rp_put_md(f, s->text);
        }
    }
}

static int numeric_column(const rp_block *b, size_t c)
{
    if (!b->nrows)
        return 0;
    for (size_t r = 0; r < b->nrows; r++)
        if (b->cells[r * b->ncols + c].cls != RP_CLS_NUM)
            return 0;
    return 1;
}

static void table(FILE *f, const rp_block *b)
{
    fputc('|', f);
    for (size_t c = 0; c < b->ncols; c++) {
        fputc(' ', f);
        rp_put_md(f, b->head[c]);
        fputs(" |", f);
    }
    fputs("\n|", f);
    for (size_t c = 0; c < b->ncols; c++)
        fputs(numeric_column(b, c) ? "---:|" : "---|", f);
    fputc('\n', f);
    for (size_t r = 0; r < b->nrows; r++) {
        fputc('|', f);
        for (size_t c = 0; c < b->ncols; c++) {
            fputc(' ', f);
            rp_put_md(f, b->cells[r * b->ncols + c].text);
            fputs(" |", f);
        }
        fputc('\n', f);
    }
}

static void code(FILE *f, const rp_block *b)
{
    size_t run = 0, longest = 0;
    for (const char *q = b->code; *q; q++) {
        run = *q == '`' ? run + 1 : 0;
        if (run > longest)
            longest = run;
    }
    size_t fence = longest >= 3 ? longest + 1 : 3;
    for (size_t i = 0; i < fence; i++)
        fputc('`', f);
    fprintf(f, "%s\n", b->lang ? b->lang : "");
    fputs(b->code, f);
    if (!*b->code || b->code[strlen(b->code) - 1] != '\n')
        fputc('\n', f);
    for (size_t i = 0; i < fence; i++)
        fputc('`', f);
    fputc('\n', f);
}

void rp_write_md(FILE *f, const rp_report *rep)
{
    const rp_doc *d = &rep->doc;
    for (size_t i = 0; i < d->n; i++) {
        const rp_block *b = d->b[i];
        if (b->only == RP_HTML_ONLY)
            continue;
        switch (b->kind) {
        case RP_B_HEADING:
            for (int k = 0; k < (b->level < 1 ? 1 : b->level > 6 ? 6 : b->level); k++)
                fputc('#', f);
            fputc(' ', f);
            spans(f, &b->text);
            fputc('\n', f);
            break;
        case RP_B_PARA:
            spans(f, &b->text);
            fputc('\n', f);
            break;
        case RP_B_NOTE:
            fputs("> ", f);
            spans(f, &b->text);
            fputc('\n', f);
            break;
        case RP_B_LIST:
        case RP_B_OLIST:
            for (size_t k = 0; k < b->nitems; k++) {
                if (b->kind == RP_B_OLIST)
                    fprintf(f, "%zu. ", k + 1);
                else
                    fputs("- ", f);
                spans(f, &b->items[k]);
                fputc('\n', f);
            }
            break;
        case RP_B_TABLE: table(f, b); break;
        case RP_B_CODE: code(f, b); break;
        case RP_B_FIGURE: continue;
        }
        fputc('\n', f);
    }
}
