/*
 * doc.c — building the report document (doc.h): blocks and spans in an arena, grown by doubling.
 */
#include "doc.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

void rp_doc_init(rp_doc *d, rp_arena *a)
{
    memset(d, 0, sizeof *d);
    d->a = a;
}

/* grows an arena array of elements of size sz to hold at least need; 0 or -1 */
static int grow(rp_doc *d, void **arr, size_t *cap, size_t need, size_t sz)
{
    if (need <= *cap)
        return 0;
    size_t nc = *cap ? *cap * 2 : 8;
    while (nc < need)
        nc *= 2;
    void *n = rp_arena_alloc(d->a, nc, sz);
    if (!n) {
        d->oom = 1;
        return -1;
    }
    if (*arr)
        memcpy(n, *arr, *cap * sz);
    *arr = n;
    *cap = nc;
    return 0;
}

static rp_block *add_block(rp_doc *d, rp_block_kind kind)
{
    if (d->oom)
        return NULL;
    void *arr = d->b;
    if (grow(d, &arr, &d->cap, d->n + 1, sizeof *d->b) != 0)
        return NULL;
    d->b = arr;
    rp_block *b = rp_arena_alloc(d->a, 1, sizeof *b);
    if (!b) {
        d->oom = 1;
        return NULL;
    }
    b->kind = kind;
    d->b[d->n++] = b;
    return b;
}

__attribute__((format(printf, 2, 0))) static char *vformat(rp_doc *d, const char *fmt, va_list ap)
{
    va_list ap2;
    va_copy(ap2, ap);
    int n = vsnprintf(NULL, 0, fmt, ap2);
    va_end(ap2);
    if (n < 0)
        n = 0;
    char *s = rp_arena_alloc(d->a, (size_t)n + 1, 1);
    if (!s) {
        d->oom = 1;
        return NULL;
    }
    vsnprintf(s, (size_t)n + 1, fmt, ap);
    return s;
}

static void add_span(rp_doc *d, rp_inline *in, rp_span_kind kind, char *text)
{
    if (!text || !in || d->oom)
        return;
    void *arr = in->s;
    if (grow(d, &arr, &in->cap, in->n + 1, sizeof *in->s) != 0)
        return;
    in->s = arr;
    in->s[in->n].kind = kind;
    in->s[in->n].text = text;
    in->n++;
}

void rp_add(rp_doc *d, rp_inline *in, rp_span_kind kind, const char *fmt, ...)
{
    if (d->oom || !in)
        return;
    va_list ap;
    va_start(ap, fmt);
    char *s = vformat(d, fmt, ap);
    va_end(ap);
    add_span(d, in, kind, s);
}

rp_block *rp_doc_heading(rp_doc *d, int level, const char *id, const char *fmt, ...)
{
    rp_block *b = add_block(d, RP_B_HEADING);
    if (!b)
        return NULL;
    b->level = level;
    b->id = id;
    va_list ap;
    va_start(ap, fmt);
    char *s = vformat(d, fmt, ap);
    va_end(ap);
    add_span(d, &b->text, RP_SPAN_TEXT, s);
    return b;
}

rp_block *rp_doc_para(rp_doc *d)
{
    return add_block(d, RP_B_PARA);
}

rp_block *rp_doc_note(rp_doc *d)
{
    return add_block(d, RP_B_NOTE);
}

rp_block *rp_doc_list(rp_doc *d, int ordered)
{
    return add_block(d, ordered ? RP_B_OLIST : RP_B_LIST);
}

rp_inline *rp_doc_item(rp_doc *d, rp_block *list)
{
    if (!list || d->oom)
        return NULL;
    void *arr = list->items;
    if (grow(d, &arr, &list->capitems, list->nitems + 1, sizeof *list->items) != 0)
        return NULL;
    list->items = arr;
    rp_inline *in = &list->items[list->nitems++];
    memset(in, 0, sizeof *in);
    return in;
}

rp_block *rp_doc_table(rp_doc *d, size_t ncols, ...)
{
    rp_block *b = add_block(d, RP_B_TABLE);
    if (!b)
        return NULL;
    b->ncols = ncols;
    b->head = rp_arena_alloc(d->a, ncols ? ncols : 1, sizeof *b->head);
    if (!b->head) {
        d->oom = 1;
        return NULL;
    }
    va_list ap;
    va_start(ap, ncols);
    for (size_t i = 0; i < ncols; i++)
        b->head[i] = va_arg(ap, const char *);
    va_end(ap);
    b->next_col = ncols; /* no row yet */
    return b;
}

void rp_doc_row(rp_doc *d, rp_block *t)
{
    if (!t || d->oom)
        return;
    void *arr = t->cells;
    size_t cap = t->caprows * t->ncols;
    if (grow(d, &arr, &cap, (t->nrows + 1) * t->ncols, sizeof *t->cells) != 0)
        return;
    t->cells = arr;
    t->caprows = cap / (t->ncols ? t->ncols : 1);
    for (size_t c = 0; c < t->ncols; c++) {
        t->cells[t->nrows * t->ncols + c].text = "";
        t->cells[t->nrows * t->ncols + c].cls = RP_CLS_PLAIN;
    }
    t->nrows++;
    t->next_col = 0;
}

void rp_doc_cell(rp_doc *d, rp_block *t, rp_cls cls, const char *fmt, ...)
{
    if (!t || d->oom || t->nrows == 0 || t->next_col >= t->ncols)
        return;
    va_list ap;
    va_start(ap, fmt);
    char *s = vformat(d, fmt, ap);
    va_end(ap);
    if (!s)
        return;
    rp_tcell *c = &t->cells[(t->nrows - 1) * t->ncols + t->next_col++];
    c->text = s;
    c->cls = cls;
}

rp_block *rp_doc_code(rp_doc *d, const char *lang, const char *code)
{
    rp_block *b = add_block(d, RP_B_CODE);
    if (!b)
        return NULL;
    b->lang = lang;
    b->code = rp_arena_strdup(d->a, code ? code : "");
    if (!b->code)
        d->oom = 1;
    return b;
}

rp_block *rp_doc_figure(rp_doc *d, rp_figure fig, int arg)
{
    rp_block *b = add_block(d, RP_B_FIGURE);
    if (!b)
        return NULL;
    b->figure = fig;
    b->fig_arg = arg;
    b->only = RP_HTML_ONLY;
    return b;
}
