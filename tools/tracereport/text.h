/*
 * text.h — how tracereport writes text it did not write itself. Every string in a diff JSON (point names, prompt
 * ids, file paths, metadata, messages) comes from the traces of some engine and may hold anything: markup, pipes,
 * tabs, newlines, backticks, invalid UTF-8. Each output format has one escaping function here, and the writers
 * pass every such string through it; nothing from the input is ever printed raw. Also: number formatting shared by
 * all outputs (so the Markdown, the TSV and the page show the same digits), and a memory stream for text that must
 * be measured before it is written (evidence snippets are limited to 25 words).
 */
#ifndef TRACEREPORT_TEXT_H
#define TRACEREPORT_TEXT_H

#include <stddef.h>
#include <stdio.h>

/* Numbers: "%.3g" with "n/a" for NaN (a null in the JSON), "inf"/"-inf"; rp_fmt_prec with a given precision.
 * buf must hold RP_NUM_LEN bytes; returns buf. */
#define RP_NUM_LEN 40
const char *rp_fmt(char *buf, double v);
const char *rp_fmt_prec(char *buf, double v, int prec);

/* HTML text and attribute values (& < > " ' escaped; control characters and invalid UTF-8 become U+FFFD). */
void rp_put_html(FILE *f, const char *s);
/* The same for the content of <pre>: newlines are kept. */
void rp_put_html_pre(FILE *f, const char *s);
/* Markdown inline text, safe inside a table cell: backslash-escapes the characters that Markdown or GFM tables
 * interpret inline (\ ` * [ ] < | ~ & $, and _ at word edges); newlines and tabs become spaces. Block syntax is
 * not escaped: the writers never start a line with text from the input. */
void rp_put_md(FILE *f, const char *s);
/* Markdown code span (`...`) around s: a backtick run longer than any inside s, padded when s starts or ends
 * with a backtick; newlines become spaces. */
void rp_put_md_code(FILE *f, const char *s);
/* One TSV field: tab, newline, carriage return and backslash become \t \n \r \\ (the column count never
 * changes); other control characters and invalid UTF-8 become U+FFFD. */
void rp_put_tsv(FILE *f, const char *s);
/* A JSON string literal with quotes; besides JSON's own escapes, ` < > & are written as \u00XX so the literal is
 * inert inside Markdown code fences and HTML. */
void rp_put_json_str(FILE *f, const char *s);
/* One shell word: bare when it holds only [A-Za-z0-9_./=,:@%+-], else single-quoted ('\'' for quotes), or
 * $'...' with escapes when it holds control characters (no newline ever reaches the output). */
void rp_put_shell(FILE *f, const char *s);

/* A growable string written through a FILE (open_memstream). */
typedef struct rp_mem {
    FILE *f;
    char *buf;
    size_t len;
} rp_mem;
/*! rp_mem_open() : 0 or -1 (out of memory). rp_mem_take() closes the stream and returns the malloc'd text
 *  (NULL on failure); the caller frees it. */
int rp_mem_open(rp_mem *m);
char *rp_mem_take(rp_mem *m);

/*! rp_word_count() : whitespace-separated tokens in s. */
size_t rp_word_count(const char *s);

/*! rp_utf8_next() : decodes the code point at *p and advances; an invalid or truncated sequence gives -1 and
 *  advances one byte. */
long rp_utf8_next(const unsigned char **p);

#endif /* TRACEREPORT_TEXT_H */
