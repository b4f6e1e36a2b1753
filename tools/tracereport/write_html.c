/*
 * write_html.c — report.html: one self-contained page (inline CSS and SVG, no external resource; a
 * Content-Security-Policy forbids any network access and any script but the page's own few lines) that opens
 * from disk. It renders the same document as report.md, plus a summary header, a table of contents and the
 * figures (svg.h): the heat map as the centrepiece, the pair verdicts, the growth chart, the first failure's
 * histogram and its propagation chain as boxes and arrows; a comparison gets two heat maps side by side. The
 * page follows the reader's light or dark preference. Every string from the input is HTML-escaped.
 *
 * The script only mirrors a hovered heat-map cell's tooltip into a line under the map; without it the page
 * loses nothing (the <title> tooltips and the tables hold the same numbers).
 */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "svg.h"
#include "text.h"
#include "write.h"

static const char CSS[] =
    ":root{color-scheme:light dark;--bg:#ffffff;--fg:#1c1e21;--muted:#5f6670;--line:#d9dce1;--panel:#f6f7f9;"
    "--grid:#c9cdd3;--bitwise:#b4b9c0;--bad:#d92d4a;--bad-bg:#fde8ec;--ok:#1f8a4c;--ok-bg:#e4f5ea;"
    "--drift:#1f6fb2;--drift-bg:#e6f0fa;--na:#7c828a;--na-bg:#eef0f2;--code:#f1f3f5;--accent:#5b3cc4}"
    "@media (prefers-color-scheme:dark){:root{--bg:#15171a;--fg:#e4e6ea;--muted:#a0a7b1;--line:#30353c;"
    "--panel:#1d2025;--grid:#3c424a;--bitwise:#6b7079;--bad:#ff5c78;--bad-bg:#3a1b22;--ok:#4cc47f;--ok-bg:#16301f;"
    "--drift:#62a8ea;--drift-bg:#172a3d;--na:#9aa1aa;--na-bg:#262a30;--code:#22262b;--accent:#a58cff}}"
    "*{box-sizing:border-box}"
    "body{margin:0;background:var(--bg);color:var(--fg);font:14px/1.5 system-ui,-apple-system,'Segoe UI',Roboto,"
    "'Helvetica Neue',Arial,sans-serif}"
    ".wrap{max-width:1380px;margin:0 auto;padding:0 24px 48px}"
    "header.hero{display:flex;gap:20px;align-items:center;padding:20px 24px;margin:0 -24px 12px;"
    "border-bottom:1px solid var(--line);background:var(--panel)}"
    ".badge{font-weight:700;font-size:15px;letter-spacing:.04em;padding:10px 14px;border-radius:8px;color:#fff;"
    "white-space:nowrap}"
    ".v-MISMATCH .badge{background:var(--bad)}.v-STRUCTURAL_DRIFT .badge{background:var(--drift)}"
    ".v-IDENTICAL .badge{background:var(--ok)}.v-NA .badge{background:var(--na)}"
    "header.hero h1{font-size:21px;margin:0 0 2px;font-weight:650;overflow-wrap:anywhere}"
    "header.hero .sub{margin:0;color:var(--muted)}"
    ".kpis{display:flex;gap:18px;margin:0 0 0 auto;padding:0}"
    ".kpis div{text-align:right}.kpis dt{font-size:11px;color:var(--muted);text-transform:uppercase;"
    "letter-spacing:.05em}.kpis dd{margin:0;font-size:20px;font-weight:650;font-variant-numeric:tabular-nums}"
    ".kpis .bad dd{color:var(--bad)}.kpis .drift dd{color:var(--drift)}"
    "nav.toc{display:flex;flex-wrap:wrap;gap:4px 14px;font-size:13px;margin:4px 0 8px}"
    "nav.toc a{color:var(--accent);text-decoration:none}nav.toc a:hover{text-decoration:underline}"
    "h2{font-size:18px;margin:30px 0 8px;padding-top:10px;border-top:1px solid var(--line)}"
    "h3{font-size:15px;margin:20px 0 6px}h4{font-size:14px;margin:14px 0 6px;color:var(--muted)}"
    "p{margin:6px 0 10px;max-width:110ch}"
    "table{border-collapse:collapse;margin:6px 0 14px;font-size:13px;max-width:100%}"
    "th,td{border:1px solid var(--line);padding:4px 8px;text-align:left;vertical-align:top}"
    "th{background:var(--panel);font-weight:600}"
    "td.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}"
    "td.mono{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:12px;"
    "overflow-wrap:anywhere}"
    "td.ok{background:var(--ok-bg);color:var(--ok)}td.drift{background:var(--drift-bg);color:var(--drift)}"
    "td.bad{background:var(--bad-bg);color:var(--bad)}td.na{background:var(--na-bg);color:var(--na)}"
    "code,pre{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:12.5px}"
    "code{background:var(--code);padding:1px 4px;border-radius:4px;overflow-wrap:anywhere}"
    "pre{background:var(--code);padding:10px 12px;border-radius:6px;overflow-x:auto;margin:6px 0 14px;"
    "white-space:pre-wrap;overflow-wrap:anywhere}"
    "pre code{background:none;padding:0}"
    "blockquote{margin:8px 0;padding:6px 12px;border-left:3px solid var(--accent);color:var(--muted)}"
    "figure{margin:10px 0 16px;overflow-x:auto}"
    "figcaption{font-size:12px;color:var(--muted);margin-top:2px}"
    ".cell-info{font-size:12px;color:var(--muted);min-height:1.5em;font-family:ui-monospace,Menlo,monospace}"
    "svg text{fill:var(--fg);font-family:system-ui,-apple-system,'Segoe UI',Roboto,Arial,sans-serif}"
    "svg .col-label,svg .row-label{font-size:11px}svg .ff{font-weight:700;fill:var(--bad)}"
    "svg .cell{stroke:var(--bg);stroke-width:1}svg .cell:hover{stroke:var(--fg);stroke-width:2}"
    "svg .cell.bitwise{fill:var(--bitwise)}svg .cell.nodata{fill:var(--na-bg)}"
    "svg .cell-text{font-size:9.5px;text-anchor:middle;pointer-events:none}"
    "svg .void{fill:none;stroke:var(--grid);stroke-dasharray:2 2}"
    "svg .mm-outline{fill:none;stroke:var(--bad);stroke-width:2;pointer-events:none}"
    "svg .ff-ring{fill:none;stroke:var(--fg);stroke-width:3;pointer-events:none}"
    "svg .ff-leader{fill:none;stroke:var(--bad);stroke-width:1.5}svg .ff-arrow{fill:var(--bad)}"
    "svg .cell-text.ink-light{fill:#fff}svg .cell-text.ink-dark{fill:#111}svg .cell-text.ink-fg{fill:var(--fg)}"
    "svg .ff-box{fill:var(--panel);stroke:var(--bad);stroke-width:2}"
    "svg .ff-title{font-size:11px;font-weight:700;fill:var(--bad);letter-spacing:.06em}"
    "svg .ff-text{font-size:12.5px;font-weight:600}"
    "svg .hatch-bg{fill:var(--na-bg)}svg .hatch-line{stroke:var(--bad);stroke-width:2}"
    "svg .sw-bitwise{fill:var(--bitwise)}svg .sw-missing{stroke:var(--line)}"
    "svg .sw-nodata{fill:var(--na-bg);stroke:var(--line)}"
    "svg .lg-title,svg .sw-label,svg .tick-label,svg .bar-label,svg .axis-label{font-size:11px}"
    "svg .lg-title,svg .axis-label{fill:var(--muted)}"
    "svg .tick,svg .axis{stroke:var(--muted);stroke-width:1}svg .gridline{stroke:var(--grid);stroke-width:.6}"
    "svg .series .line{fill:none;stroke:currentColor;stroke-width:1.6;opacity:.75}"
    "svg .series.ff .line{stroke-width:3.2;opacity:1}"
    "svg .series .pt.mm{fill:currentColor;stroke:var(--bg);stroke-width:1}"
    "svg .series .pt.ok{fill:var(--bg);stroke:currentColor;stroke-width:1.6}"
    "svg .lg-item line{stroke:currentColor;stroke-width:2.5}svg .lg-item text{font-size:11px}"
    "svg .lg-item.ff text{font-weight:700}"
    "svg .bar.zero{fill:var(--bitwise)}svg .tol-line{stroke:var(--bad);stroke-dasharray:4 3}"
    "svg .tol-label{font-size:11px;fill:var(--bad)}"
    "svg .seg-match{fill:var(--bitwise)}svg .seg-within{fill:#21918c}svg .seg-mismatch{fill:var(--bad)}"
    "svg .seg-missing{fill:var(--na)}"
    "svg .ch-new{fill:var(--bad)}svg .ch-fixed{fill:var(--ok)}"
    ".chain{display:flex;flex-wrap:wrap;align-items:stretch;gap:6px 0;margin:8px 0 14px}"
    ".chain .box{border:1.5px solid var(--line);border-radius:6px;padding:4px 8px;min-width:108px;"
    "background:var(--panel);font-size:12px;line-height:1.35}"
    ".chain .box b{display:block;font-size:12.5px;overflow-wrap:anywhere}"
    ".chain .box .strip{height:5px;border-radius:3px;margin:2px 0 3px;background:var(--bitwise)}"
    ".chain .box.MISMATCH{border-color:var(--bad)}.chain .box.WITHIN_TOL{border-color:var(--drift)}"
    ".chain .box.first{border-width:3px;border-color:var(--bad);background:var(--bad-bg)}"
    ".chain .arrow{align-self:center;padding:0 5px;color:var(--muted);font-size:16px}"
    ".pair{display:flex;flex-wrap:wrap;gap:18px}.pair>div{flex:1 1 620px;min-width:0}"
    "footer{margin-top:36px;color:var(--muted);font-size:12px;border-top:1px solid var(--line);padding-top:8px}";

static const char *cls_name(rp_cls c)
{
    switch (c) {
    case RP_CLS_OK: return "ok";
    case RP_CLS_DRIFT: return "drift";
    case RP_CLS_BAD: return "bad";
    case RP_CLS_NA: return "na";
    case RP_CLS_NUM: return "num";
    case RP_CLS_MONO: return "mono";
    default: return NULL;
    }
}

static void spans(FILE *f, const rp_inline *in)
{
    for (size_t i = 0; in && i < in->n; i++) {
        const rp_span *s = &in->s[i];
        const char *tag = s->kind == RP_SPAN_BOLD ? "strong" : s->kind == RP_SPAN_CODE ? "code" : NULL;
        if (tag)
            fprintf(f, "<%s>", tag);
        rp_put_html(f, s->text);
        if (tag)
            fprintf(f, "</%s>", tag);
    }
}

static void table(FILE *f, const rp_block *b)
{
    fputs("<table", f);
    if (b->id) {
        fputs(" id=\"", f);
        rp_put_html(f, b->id);
        fputc('"', f);
    }
    fputs("><thead><tr>", f);
    for (size_t c = 0; c < b->ncols; c++) {
        fputs("<th>", f);
        rp_put_html(f, b->head[c]);
        fputs("</th>", f);
    }
    fputs("</tr></thead><tbody>", f);
    for (size_t r = 0; r < b->nrows; r++) {
        fputs("<tr>", f);
        for (size_t c = 0; c < b->ncols; c++) {
            const rp_tcell *cell = &b->cells[r * b->ncols + c];
            const char *cn = cls_name(cell->cls);
            if (cn)
                fprintf(f, "<td class=\"%s\">", cn);
            else
                fputs("<td>", f);
            rp_put_html(f, cell->text);
            fputs("</td>", f);
        }
        fputs("</tr>\n", f);
    }
    fputs("</tbody></table>\n", f);
}

/* the first failure and its propagation chain as boxes and arrows */
static void chain(FILE *f, const rp_report *rep, const rp_result *r)
{
    if (!r->ff.present || r->ff.pair < 0)
        return;
    int lo, hi;
    rp_scale(&rep->facts[0].g, NULL, &lo, &hi);
    fputs("<figure><div class=\"chain\" id=\"chain\">", f);
    size_t n = r->nchain < 47 ? r->nchain : 47;
    for (size_t i = 0; i <= n; i++) {
        const rp_pair *p = &r->pairs[i == 0 ? (uint64_t)r->ff.pair : r->chain[i - 1]];
        double rel = rp_pair_rel(p);
        char col[8], num[RP_NUM_LEN];
        const char *fill = rp_err_colour(rel, lo, hi, col);
        if (i)
            fputs("<span class=\"arrow\">&rarr;</span>", f);
        fprintf(f, "<div class=\"box %s%s\"><b>", rp_verdict_name(p->verdict), i == 0 ? " first" : "");
        rp_put_html(f, p->point);
        if (p->layer >= 0)
            fprintf(f, " L%d", (int)p->layer);
        fprintf(f, "</b><div class=\"strip\"%s%s%s></div>%s%s<br>rel %s</div>", fill ? " style=\"background:" : "",
                fill ? fill : "", fill ? "\"" : "", i == 0 ? "first failure · " : "", rp_verdict_name(p->verdict),
                rp_fmt(num, rel));
    }
    if (r->nchain > n)
        fprintf(f, "<span class=\"arrow\">&rarr;</span><div class=\"box\"><b>+%zu more</b>see the tables</div>",
                r->nchain - n);
    fputs("</div><figcaption>The first failure and the pairs after it in its prompt that are not bitwise equal, in "
          "pipeline order; the strip is the error on the heat map's scale.</figcaption></figure>\n",
          f);
}

static void figure(FILE *f, const rp_report *rep, const rp_block *b)
{
    size_t k = (size_t)b->fig_arg < rep->nres ? (size_t)b->fig_arg : 0;
    const rp_result *r = rep->res[k];
    const rp_facts *fa = &rep->facts[k];
    int lo, hi;
    switch (b->figure) {
    case RP_FIG_HEATMAP: {
        rp_scale(&fa->g, NULL, &lo, &hi);
        rp_heat_opts o = {.id = "heatmap", .max_w = 1000, .max_h = 560, .lo = lo, .hi = hi};
        fputs("<figure>", f);
        rp_svg_heatmap(f, r, fa, &o);
        fputs("<div class=\"cell-info\" id=\"cell-info\"></div><figcaption>Layer x stage: colour is log10 of the "
              "worst relative L2 error over the prompts (grey: bitwise equal); red outline: MISMATCH; hover a cell "
              "for its numbers.</figcaption></figure>\n",
              f);
        break;
    }
    case RP_FIG_GROWTH:
        rp_scale(&fa->g, NULL, &lo, &hi);
        fputs("<figure>", f);
        rp_svg_growth(f, r, fa, lo, hi);
        fputs("</figure>\n", f);
        break;
    case RP_FIG_HISTOGRAM:
        rp_scale(&fa->g, NULL, &lo, &hi);
        if (r->ff.has_hist) {
            fputs("<figure>", f);
            rp_svg_histogram(f, r, lo, hi);
            fputs("<figcaption>Element errors of the first failing pair, counted in half-decade bins; the dashed "
                  "line is the absolute part of its tolerance.</figcaption></figure>\n",
                  f);
        }
        break;
    case RP_FIG_CHAIN: chain(f, rep, r); break;
    case RP_FIG_COUNTS:
        fputs("<figure>", f);
        rp_svg_counts(f, r);
        fputs("</figure>\n", f);
        break;
    case RP_FIG_COMPARE_MAPS: {
        rp_scale(&rep->facts[0].g, &rep->facts[1].g, &lo, &hi);
        rp_heat_opts ob = {.id = "heatmap-before", .max_w = 440, .max_h = 400, .lo = lo, .hi = hi,
                           .cmp = &rep->cmp, .cmp_after = 0};
        rp_heat_opts oa = ob;
        oa.id = "heatmap-after";
        oa.cmp_after = 1;
        fputs("<div class=\"pair\"><div><h3>Before</h3><p class=\"cell-info\">", f);
        rp_put_html(f, rep->res[0]->source);
        fputs("</p><figure>", f);
        rp_svg_heatmap(f, rep->res[0], &rep->facts[0], &ob);
        fputs("</figure></div><div><h3>After</h3><p class=\"cell-info\">", f);
        rp_put_html(f, rep->res[1]->source);
        fputs("</p><figure>", f);
        rp_svg_heatmap(f, rep->res[1], &rep->facts[1], &oa);
        fputs("</figure></div></div><div class=\"cell-info\" id=\"cell-info\"></div>"
              "<p>Both maps share one colour scale. Corner marks: red = a new failure, green = fixed.</p>\n",
              f);
        break;
    }
    }
}

static void hero(FILE *f, const rp_report *rep)
{
    const rp_result *r = rep->res[rep->compare ? 1 : 0];
    const char *v = rp_overall_name(r->verdict);
    fprintf(f, "<header class=\"hero v-%s\"><div class=\"badge\">%s%s</div><div><h1>",
            r->verdict == RP_NA ? "NA" : v, rep->compare ? "AFTER: " : "", v);
    rp_put_html(f, rep->doc.n && rep->doc.b[0]->kind == RP_B_HEADING && rep->doc.b[0]->text.n
                       ? rep->doc.b[0]->text.s[0].text
                       : "tensortrace report");
    fputs("</h1><p class=\"sub\">", f);
    if (rep->compare) {
        fputs("before ", f);
        rp_put_html(f, rp_overall_name(rep->res[0]->verdict));
        fputs(" &rarr; after ", f);
        rp_put_html(f, v);
        fprintf(f, " · %zu fixed, %zu new failures, %zu still failing", rep->cmp.count[RP_CH_FIXED],
                rep->cmp.count[RP_CH_NEW], rep->cmp.count[RP_CH_STILL]);
    } else {
        if (r->ff.present) {
            rp_put_html(f, r->ff.root_cause);
            fputs(" · first failure ", f);
            rp_put_html(f, r->ff.point);
            if (r->ff.layer >= 0)
                fprintf(f, " L%d", (int)r->ff.layer);
            fputs(" in ", f);
            rp_put_html(f, rp_prompt_of(r, r->ff.group));
        } else if (r->subcause) {
            rp_put_html(f, r->subcause);
        } else {
            fputs("no failure", f);
        }
        fputs(" · mode ", f);
        for (size_t i = 0; i < rep->nres; i++) {
            fputs(i ? ", " : "", f);
            rp_put_html(f, rp_mode_name(rep->res[i]->mode));
        }
        fputs(" · ", f);
        rp_put_html(f, r->left.path);
        if (strcmp(r->left.path, r->right.path) != 0) {
            fputs(" vs ", f);
            rp_put_html(f, r->right.path);
        }
    }
    const rp_counts *c = &r->counts;
    fprintf(f, "</p></div><dl class=\"kpis\"><div><dt>pairs</dt><dd>%llu</dd></div><div><dt>bitwise</dt><dd>%llu"
               "</dd></div><div class=\"drift\"><dt>within tol</dt><dd>%llu</dd></div><div class=\"bad\"><dt>"
               "mismatch</dt><dd>%llu</dd></div><div><dt>missing</dt><dd>%llu</dd></div></dl></header>\n",
            (unsigned long long)c->pairs, (unsigned long long)c->match, (unsigned long long)c->within_tol,
            (unsigned long long)c->mismatch, (unsigned long long)c->missing);
}

static void toc(FILE *f, const rp_doc *d)
{
    fputs("<nav class=\"toc\">", f);
    for (size_t i = 0; i < d->n; i++) {
        const rp_block *b = d->b[i];
        if (b->kind != RP_B_HEADING || b->level != 2 || !b->id || b->only == RP_MD_ONLY)
            continue;
        fputs("<a href=\"#", f);
        rp_put_html(f, b->id);
        fputs("\">", f);
        spans(f, &b->text);
        fputs("</a>", f);
    }
    fputs("</nav>\n", f);
}

/* a nonce for the page's own script: unpredictable to whoever wrote the traces */
static void make_nonce(char *out, size_t len)
{
    unsigned char raw[12] = {0};
    FILE *u = fopen("/dev/urandom", "rb");
    size_t got = u ? fread(raw, 1, sizeof raw, u) : 0;
    if (u)
        fclose(u);
    if (got != sizeof raw) {
        unsigned long long x = (unsigned long long)time(NULL) ^ ((unsigned long long)getpid() << 32) ^
                               (unsigned long long)(uintptr_t)out;
        for (size_t i = 0; i < sizeof raw; i++) {
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            raw[i] = (unsigned char)x;
        }
    }
    size_t o = 0;
    for (size_t i = 0; i < sizeof raw && o + 2 < len; i++)
        o += (size_t)snprintf(out + o, len - o, "%02x", raw[i]);
}

static const char SCRIPT[] =
    "(function(){var info=document.getElementById('cell-info');if(!info)return;"
    "document.querySelectorAll('svg.heatmap rect.cell').forEach(function(c){"
    "c.addEventListener('mouseenter',function(){var t=c.querySelector('title');"
    "info.textContent=t?t.textContent.replace(/\\n/g,' \\u00b7 '):'';});});})();";

int rp_write_html(FILE *f, const rp_report *rep)
{
    const rp_doc *d = &rep->doc;
    char nonce[40];
    make_nonce(nonce, sizeof nonce);
    fputs("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
          "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">",
          f);
    fprintf(f, "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src "
               "'unsafe-inline'; img-src data:; script-src 'nonce-%s'\">",
            nonce);
    fputs("<meta name=\"color-scheme\" content=\"light dark\"><meta name=\"generator\" content=\"tracereport\">"
          "<title>",
          f);
    rp_put_html(f, d->n && d->b[0]->kind == RP_B_HEADING && d->b[0]->text.n ? d->b[0]->text.s[0].text
                                                                              : "tensortrace report");
    fprintf(f, "</title><style>%s</style></head>\n<body><div class=\"wrap\">\n", CSS);
    hero(f, rep);
    toc(f, d);
    fputs("<main>\n", f);
    for (size_t i = 0; i < d->n; i++) {
        const rp_block *b = d->b[i];
        if (b->only == RP_MD_ONLY)
            continue;
        switch (b->kind) {
        case RP_B_HEADING: {
            if (b->level == 1)
                continue; /* the hero holds the title */
            int lv = b->level < 2 ? 2 : b->level > 6 ? 6 : b->level;
            fprintf(f, "<h%d", lv);
            if (b->id) {
                fputs(" id=\"", f);
                rp_put_html(f, b->id);
                fputc('"', f);
            }
            fputc('>', f);
            spans(f, &b->text);
            fprintf(f, "</h%d>\n", lv);
            break;
        }
        case RP_B_PARA:
            fputs("<p>", f);
            spans(f, &b->text);
            fputs("</p>\n", f);
            break;
        case RP_B_NOTE:
            fputs("<blockquote>", f);
            spans(f, &b->text);
            fputs("</blockquote>\n", f);
            break;
        case RP_B_LIST:
        case RP_B_OLIST:
            fputs(b->kind == RP_B_OLIST ? "<ol>" : "<ul>", f);
            for (size_t k = 0; k < b->nitems; k++) {
                fputs("<li>", f);
                spans(f, &b->items[k]);
                fputs("</li>", f);
            }
            fputs(b->kind == RP_B_OLIST ? "</ol>\n" : "</ul>\n", f);
            break;
        case RP_B_TABLE: table(f, b); break;
        case RP_B_CODE:
            fputs("<pre><code>", f);
            rp_put_html_pre(f, b->code);
            fputs("</code></pre>\n", f);
            break;
        case RP_B_FIGURE: figure(f, rep, b); break;
        }
    }
    fputs("</main>\n<footer>Made by tracereport ", f);
    rp_put_html(f, tt_version());
    fputs(" (tensortrace) on ", f);
    rp_put_html(f, rep->generated);
    fputs(". Self-contained: no network, no external files.</footer>\n</div>", f);
    fprintf(f, "<script nonce=\"%s\">%s</script>\n</body></html>\n", nonce, SCRIPT);
    return 0;
}
