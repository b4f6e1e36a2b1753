/*
 * text.c — escaping of untrusted strings for each output format, number formatting and memory streams (text.h).
 * Every escaper walks the string as UTF-8, so a hostile byte sequence cannot smuggle a half character that a
 * browser would merge with the markup around it; control characters are dropped to U+FFFD or to a space.
 */
#define _POSIX_C_SOURCE 200809L
#include "text.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static const char REPLACEMENT[] = "\xEF\xBF\xBD"; /* U+FFFD */

long rp_utf8_next(const unsigned char **p)
{
    const unsigned char *s = *p;
    unsigned c = s[0];
    int n;
    long cp, min;
    if (c < 0x80) {
        *p = s + 1;
        return (long)c;
    }
    if (c >= 0xC2 && c <= 0xDF)
        n = 1, cp = c & 0x1F, min = 0x80;
    else if (c >= 0xE0 && c <= 0xEF)
        n = 2, cp = c & 0x0F, min = 0x800;
    else if (c >= 0xF0 && c <= 0xF4)
        n = 3, cp = c & 0x07, min = 0x10000;
    else {
        *p = s + 1;
        return -1;
    }
    for (int i = 1; i <= n; i++) {
        if ((s[i] & 0xC0) != 0x80) {
            *p = s + 1;
            return -1;
        }
        cp = (cp << 6) | (s[i] & 0x3F);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
        *p = s + 1;
        return -1;
    }
    *p = s + n + 1;
    return cp;
}

/* Writes the code point's bytes as they were in the input (valid UTF-8 is copied through). */
static void put_raw(FILE *f, const unsigned char *from, const unsigned char *to)
{
    fwrite(from, 1, (size_t)(to - from), f);
}

const char *rp_fmt_prec(char *buf, double v, int prec)
{
    if (isnan(v))
        snprintf(buf, RP_NUM_LEN, "n/a");
    else if (isinf(v))
        snprintf(buf, RP_NUM_LEN, "%s", v > 0 ? "inf" : "-inf");
    else
        snprintf(buf, RP_NUM_LEN, "%.*g", prec, v);
    return buf;
}

const char *rp_fmt(char *buf, double v)
{
    return rp_fmt_prec(buf, v, 3);
}

static void put_html(FILE *f, const char *s, int keep_newlines)
{
    const unsigned char *p = (const unsigned char *)(s ? s : "");
    while (*p) {
        const unsigned char *start = p;
        long cp = rp_utf8_next(&p);
        switch (cp) {
        case '&': fputs("&amp;", f); break;
        case '<': fputs("&lt;", f); break;
        case '>': fputs("&gt;", f); break;
        case '"': fputs("&quot;", f); break;
        case '\'': fputs("&#39;", f); break;
        case '\n': fputc(keep_newlines ? '\n' : ' ', f); break;
        case '\t': fputc(' ', f); break;
        default:
            if (cp < 0 || cp < 0x20 || cp == 0x7F || (cp >= 0x80 && cp < 0xA0))
                fputs(REPLACEMENT, f);
            else
                put_raw(f, start, p);
        }
    }
}

void rp_put_html(FILE *f, const char *s)
{
    put_html(f, s, 0);
}

void rp_put_html_pre(FILE *f, const char *s)
{
    put_html(f, s, 1);
}

static int is_alnum(unsigned char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c >= 0x80;
}

void rp_put_md(FILE *f, const char *s)
{
    const unsigned char *p = (const unsigned char *)(s ? s : ""), *begin = p;
    while (*p) {
        const unsigned char *start = p;
        long cp = rp_utf8_next(&p);
        if (cp < 0 || cp == 0x7F || (cp >= 0x80 && cp < 0xA0)) {
            fputs(REPLACEMENT, f);
            continue;
        }
        if (cp < 0x20) {
            fputc(' ', f);
            continue;
        }
        switch (cp) {
        case '_':
            /* intraword underscores (q_post_rope) are literal in GFM; escape only at word edges */
            if (start > begin && is_alnum(start[-1]) && is_alnum(*p))
                fputc('_', f);
            else
                fputs("\\_", f);
            break;
        /* the characters with an inline meaning; block syntax (# - + > 1.) only matters at the start of a line,
         * and every line starts with the writer's own text */
        case '\\': case '`': case '*': case '[': case ']': case '<': case '|': case '~': case '&': case '$':
            fputc('\\', f);
            fputc((int)cp, f);
            break;
        default: put_raw(f, start, p);
        }
    }
}

void rp_put_md_code(FILE *f, const char *s)
{
    s = s ? s : "";
    size_t run = 0, longest = 0;
    for (const char *q = s; *q; q++) {
        run = *q == '`' ? run + 1 : 0;
        if (run > longest)
            longest = run;
    }
    size_t fence = longest + 1;
    size_t n = strlen(s);
    int pad = n > 0 && (s[0] == '`' || s[n - 1] == '`');
    for (size_t i = 0; i < fence; i++)
        fputc('`', f);
    if (pad)
        fputc(' ', f);
    const unsigned char *p = (const unsigned char *)s;
    while (*p) {
        const unsigned char *start = p;
        long cp = rp_utf8_next(&p);
        if (cp < 0 || cp == 0x7F || (cp >= 0x80 && cp < 0xA0))
            fputs(REPLACEMENT, f);
        else if (cp < 0x20)
            fputc(' ', f);
        else
            put_raw(f, start, p);
    }
    if (pad)
        fputc(' ', f);
    for (size_t i = 0; i < fence; i++)
        fputc('`', f);
}

void rp_put_tsv(FILE *f, const char *s)
{
    const unsigned char *p = (const unsigned char *)(s ? s : "");
    while (*p) {
        const unsigned char *start = p;
        long cp = rp_utf8_next(&p);
        switch (cp) {
        case '\t': fputs("\\t", f); break;
        case '\n': fputs("\\n", f); break;
        case '\r': fputs("\\r", f); break;
        case '\\': fputs("\\\\", f); break;
        default:
            if (cp < 0 || cp < 0x20 || cp == 0x7F)
                fputs(REPLACEMENT, f);
            else
                put_raw(f, start, p);
        }
    }
}

void rp_put_json_str(FILE *f, const char *s)
{
    const unsigned char *p = (const unsigned char *)(s ? s : "");
    fputc('"', f);
    while (*p) {
        const unsigned char *start = p;
        long cp = rp_utf8_next(&p);
        if (cp < 0) {
            fputs("\\ufffd", f);
            continue;
        }
        switch (cp) {
        case '"': fputs("\\\"", f); break;
        case '\\': fputs("\\\\", f); break;
        case '\n': fputs("\\n", f); break;
        case '\t': fputs("\\t", f); break;
        case '\r': fputs("\\r", f); break;
        case '`': case '<': case '>': case '&': fprintf(f, "\\u%04lx", (unsigned long)cp); break;
        default:
            if (cp < 0x20 || cp == 0x7F)
                fprintf(f, "\\u%04lx", (unsigned long)cp);
            else
                put_raw(f, start, p);
        }
    }
    fputc('"', f);
}

void rp_put_shell(FILE *f, const char *s)
{
    s = s ? s : "";
    int bare = *s != '\0', ctrl = 0;
    for (const unsigned char *q = (const unsigned char *)s; *q; q++) {
        if (!(is_alnum(*q) && *q < 0x80) && !strchr("_./=,:@%+-", *q))
            bare = 0;
        if (*q < 0x20 || *q == 0x7F)
            ctrl = 1;
    }
    if (bare) {
        fputs(s, f);
        return;
    }
    if (!ctrl) {
        fputc('\'', f);
        for (const char *q = s; *q; q++) {
            if (*q == '\'')
                fputs("'\\''", f);
            else
                fputc(*q, f);
        }
        fputc('\'', f);
        return;
    }
    fputs("$'", f);
    for (const unsigned char *q = (const unsigned char *)s; *q; q++) {
        if (*q == '\'' || *q == '\\')
            fprintf(f, "\\%c", *q);
        else if (*q < 0x20 || *q == 0x7F)
            fprintf(f, "\\x%02x", *q);
        else
            fputc(*q, f);
    }
    fputc('\'', f);
}

int rp_mem_open(rp_mem *m)
{
    m->buf = NULL;
    m->len = 0;
    m->f = open_memstream(&m->buf, &m->len);
    return m->f ? 0 : -1;
}

char *rp_mem_take(rp_mem *m)
{
    if (!m->f)
        return NULL;
    int bad = ferror(m->f);
    if (fclose(m->f) != 0)
        bad = 1;
    m->f = NULL;
    if (bad) {
        free(m->buf);
        m->buf = NULL;
    }
    return m->buf;
}

size_t rp_word_count(const char *s)
{
    size_t n = 0;
    int in = 0;
    for (; s && *s; s++) {
        int sp = *s == ' ' || *s == '\t' || *s == '\n' || *s == '\r';
        if (!sp && !in)
            n++;
        in = !sp;
    }
    return n;
}
