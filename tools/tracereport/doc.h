/*
 * doc.h — the report as a document: a list of blocks (headings, paragraphs, lists, tables, code, notes, figures)
 * made of spans of plain text. The report builders (report.c, findings.c, compare.c) decide what to say once;
 * the Markdown writer and the HTML writer render the same blocks, so the two outputs never disagree on a number.
 * Text in a block is raw (it may hold anything from the input); escaping is the writers' job (text.h). A figure is
 * a placeholder the HTML writer draws (SVG) and the Markdown writer skips; blocks can be marked for one output
 * only (e.g. a textual verdict map in Markdown where the page has the heat map).
 *
 * Ownership: everything lives in the document's arena. Allocation failures set doc->oom and turn later calls
 * into no-ops; the caller checks oom once at the end.
 */
#ifndef TRACEREPORT_DOC_H
#define TRACEREPORT_DOC_H

#include <stddef.h>

#include "model.h"

typedef enum rp_span_kind { RP_SPAN_TEXT = 0, RP_SPAN_BOLD, RP_SPAN_CODE } rp_span_kind;

typedef struct rp_span {
    rp_span_kind kind;
    const char *text;
} rp_span;

typedef struct rp_inline {
    size_t n, cap;
    rp_span *s;
} rp_inline;

/* Table cell classes: how the HTML colours a cell (Markdown ignores them). */
typedef enum rp_cls {
    RP_CLS_PLAIN = 0,
    RP_CLS_OK,    /* bitwise / pass / supports nothing bad */
    RP_CLS_DRIFT, /* within tolerance */
    RP_CLS_BAD,   /* mismatch / fail */
    RP_CLS_NA,    /* missing / not measured */
    RP_CLS_NUM,   /* a number: right-aligned, tabular digits */
    RP_CLS_MONO   /* hashes, commands */
} rp_cls;

typedef struct rp_tcell {
    const char *text;
    rp_cls cls;
} rp_tcell;

typedef enum rp_block_kind {
    RP_B_HEADING = 0,
    RP_B_PARA,
    RP_B_LIST,  /* bullets */
    RP_B_OLIST, /* numbered */
    RP_B_TABLE,
    RP_B_CODE,
    RP_B_NOTE, /* a remark set apart (blockquote) */
    RP_B_FIGURE
} rp_block_kind;

typedef enum rp_only { RP_BOTH = 0, RP_MD_ONLY, RP_HTML_ONLY } rp_only;

/* Figures the HTML writer draws. */
typedef enum rp_figure {
    RP_FIG_HEATMAP = 0,  /* arg: result index */
    RP_FIG_GROWTH,       /* arg: result index */
    RP_FIG_HISTOGRAM,    /* arg: result index (its first failure) */
    RP_FIG_CHAIN,        /* arg: result index */
    RP_FIG_COMPARE_MAPS, /* the two heat maps of a comparison */
    RP_FIG_COUNTS        /* arg: result index: the pair verdicts as a stacked bar */
} rp_figure;

typedef struct rp_block {
    rp_block_kind kind;
    rp_only only;
    int level;      /* heading: 1..4 */
    const char *id; /* anchor (HTML id), or NULL */
    rp_inline text; /* heading, paragraph, note */
    size_t nitems, capitems;
    rp_inline *items; /* lists */
    size_t ncols, nrows, caprows;
    const char **head; /* table: ncols headings */
    rp_tcell *cells;   /* table: nrows x ncols */
    size_t next_col;   /* table: the next cell of the last row */
    const char *lang, *code;
    rp_figure figure;
    int fig_arg;
} rp_block;

typedef struct rp_doc {
    rp_arena *a;
    size_t n, cap;
    rp_block **b;
    int oom;
} rp_doc;

void rp_doc_init(rp_doc *d, rp_arena *a);

rp_block *rp_doc_heading(rp_doc *d, int level, const char *id, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
rp_block *rp_doc_para(rp_doc *d);
rp_block *rp_doc_note(rp_doc *d);
rp_block *rp_doc_list(rp_doc *d, int ordered);
rp_inline *rp_doc_item(rp_doc *d, rp_block *list);
/* table with ncols headings given as const char * arguments */
rp_block *rp_doc_table(rp_doc *d, size_t ncols, ...);
void rp_doc_row(rp_doc *d, rp_block *t);
void rp_doc_cell(rp_doc *d, rp_block *t, rp_cls cls, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
rp_block *rp_doc_code(rp_doc *d, const char *lang, const char *code);
rp_block *rp_doc_figure(rp_doc *d, rp_figure fig, int arg);

/* spans */
void rp_add(rp_doc *d, rp_inline *in, rp_span_kind kind, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
#define rp_txt(d, in, ...) rp_add((d), (in), RP_SPAN_TEXT, __VA_ARGS__)
#define rp_bold(d, in, ...) rp_add((d), (in), RP_SPAN_BOLD, __VA_ARGS__)
#define rp_code(d, in, ...) rp_add((d), (in), RP_SPAN_CODE, __VA_ARGS__)

#endif /* TRACEREPORT_DOC_H */
