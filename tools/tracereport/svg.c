/*
 * svg.c — the inline SVG figures of report.html (svg.h): heat map with legend and first-failure label, growth
 * chart, error histogram, verdict bar. Colours that must follow the light/dark theme are CSS classes (the page's
 * stylesheet); data colours (viridis) are computed here and written as fill attributes.
 */
#include "svg.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "report.h"
#include "text.h"

/* viridis, 11 stops (matplotlib's) */
static const unsigned char VIRIDIS[11][3] = {{68, 1, 84},    {72, 36, 117},  {65, 68, 135},  {53, 95, 141},
                                            {42, 120, 142}, {33, 145, 140}, {34, 168, 132}, {68, 191, 112},
                                            {122, 209, 81}, {189, 223, 38}, {253, 231, 37}};

void rp_viridis(double t, char *out)
{
    if (!(t >= 0))
        t = 0;
    if (t > 1)
        t = 1;
    double x = t * 10;
    int i = (int)x;
    if (i >= 10)
        i = 9;
    double u = x - i;
    int c[3];
    for (int k = 0; k < 3; k++)
        c[k] = (int)lround(VIRIDIS[i][k] + u * (VIRIDIS[i + 1][k] - VIRIDIS[i][k]));
    snprintf(out, 8, "#%02x%02x%02x", c[0], c[1], c[2]);
}

static double scale_t(double rel, int lo, int hi)
{
    return (log10(rel) - lo) / (double)(hi - lo);
}

const char *rp_err_colour(double rel, int lo, int hi, char *out)
{
    if (!(rel > 0) || !isfinite(rel))
        return NULL;
    rp_viridis(scale_t(rel, lo, hi), out);
    return out;
}

/* dark text on the light end of viridis, light text on the dark end (CSS classes: the page's text colour rule
 * would override a fill attribute) */
static const char *ink_for(double rel, int lo, int hi)
{
    return scale_t(rel, lo, hi) > 0.62 ? "ink-dark" : "ink-light";
}

/* "3e-7", "0.29" style: fits a small cell */
static void short_num(char *buf, size_t len, double v)
{
    if (v >= 0.01 && v < 100)
        snprintf(buf, len, "%.2g", v);
    else {
        char tmp[48];
        snprintf(tmp, sizeof tmp, "%.0e", v); /* "3e-07" */
        char *e = strchr(tmp, 'e');
        if (!e || e - tmp > 8) {
            snprintf(buf, len, "%.8s", tmp);
            return;
        }
        int ex = atoi(e + 1);
        *e = '\0';
        snprintf(buf, len, "%.8se%d", tmp, ex);
    }
}

static void title_line(FILE *f, const char *s, int first)
{
    if (!first)
        fputs("&#10;", f);
    rp_put_html(f, s);
}

static const char *row_label(const rp_row *row, char *buf, size_t len)
{
    return rp_row_label(row, buf, len);
}

static const rp_cmp_row *cmp_find(const rp_cmp *c, const rp_row *row, const char *stage)
{
    for (size_t i = 0; c && i < c->n; i++)
        if (c->rows[i].kind == row->kind && c->rows[i].layer == row->layer && strcmp(c->rows[i].stage, stage) == 0)
            return &c->rows[i];
    return NULL;
}

static int clampi(int v, int lo, int hi)
{
    return v < lo ? lo : v > hi ? hi : v;
}

static void cell_title(FILE *f, const rp_result *r, const rp_grid *g, size_t ri, size_t ci, const rp_cell *c,
                       const rp_cmp_row *cr)
{
    char lb[32], b1[RP_NUM_LEN], b2[RP_NUM_LEN], line[512];
    const rp_pair *w = c->worst_pair >= 0 ? &r->pairs[c->worst_pair] : NULL;
    fputs("<title>", f);
    snprintf(line, sizeof line, "%s %s: %s", g->stages[ci], row_label(&g->rows[ri], lb, sizeof lb),
             rp_verdict_name(c->verdict));
    title_line(f, line, 1);
    if (!isnan(c->worst_rel)) {
        snprintf(line, sizeof line, "worst rel L2 %s, max |diff| %s (%s)", rp_fmt(b1, c->worst_rel),
                 rp_fmt(b2, c->worst_max_abs), w ? rp_prompt_of(r, w->group) : "?");
        title_line(f, line, 0);
    } else
        title_line(f, "relative error not measured", 0);
    snprintf(line, sizeof line, "%u pairs: %u bitwise, %u within tol, %u mismatch, %u missing", c->npairs,
             c->n[RP_MATCH], c->n[RP_WITHIN_TOL], c->n[RP_MISMATCH], c->n[RP_MISSING]);
    title_line(f, line, 0);
    if (c->jumps) {
        snprintf(line, sizeof line, "%u error jump%s", c->jumps, c->jumps > 1 ? "s" : "");
        title_line(f, line, 0);
    }
    if (w && rp_failing(w->verdict) && w->root_cause) {
        snprintf(line, sizeof line, "root cause %s", w->root_cause);
        title_line(f, line, 0);
    }
    if (c->first_failure)
        title_line(f, "FIRST FAILURE", 0);
    if (cr) {
        snprintf(line, sizeof line, "change: %s", rp_change_name(cr->change));
        title_line(f, line, 0);
    }
    fputs("</title>", f);
}

static void legend(FILE *f, const char *gid, int x, int y, int w, int lo, int hi, int nodata)
{
    /* row 1: the colour scale with a tick per decade (every other one when there are many) */
    int bw = w < 240 ? 240 : w > 420 ? 420 : w;
    fprintf(f, "<g class=\"legend\" transform=\"translate(%d,%d)\">", x, y);
    fprintf(f, "<text class=\"lg-title\" x=\"0\" y=\"0\">relative L2 error (log scale), worst pair of the cell</text>");
    fprintf(f, "<rect x=\"0\" y=\"8\" width=\"%d\" height=\"12\" fill=\"url(#%s-grad)\" rx=\"2\"/>", bw, gid);
    int step = (hi - lo) * 34 > bw ? 2 : 1;
    for (int d = lo; d <= hi; d += step) {
        double tx = (double)(d - lo) / (hi - lo) * bw;
        fprintf(f, "<line class=\"tick\" x1=\"%.1f\" y1=\"20\" x2=\"%.1f\" y2=\"24\"/>", tx, tx);
        fprintf(f, "<text class=\"tick-label\" x=\"%.1f\" y=\"35\" text-anchor=\"middle\">1e%d</text>", tx, d);
    }
    /* row 2: what the other marks mean */
    int sy = 46, sx = 0;
    fprintf(f, "<rect class=\"sw-bitwise\" x=\"%d\" y=\"%d\" width=\"14\" height=\"12\"/>"
               "<text class=\"sw-label\" x=\"%d\" y=\"%d\">bitwise equal</text>",
            sx, sy, sx + 18, sy + 10);
    sx += 104;
    fprintf(f, "<rect x=\"%d\" y=\"%d\" width=\"14\" height=\"12\" fill=\"#9bd16a\"/>"
               "<rect class=\"mm-outline\" x=\"%d\" y=\"%d\" width=\"14\" height=\"12\"/>"
               "<text class=\"sw-label\" x=\"%d\" y=\"%d\">MISMATCH</text>",
            sx, sy, sx, sy, sx + 18, sy + 10);
    sx += 94;
    fprintf(f, "<rect x=\"%d\" y=\"%d\" width=\"14\" height=\"12\" fill=\"url(#%s-hatch)\" class=\"sw-missing\"/>"
               "<text class=\"sw-label\" x=\"%d\" y=\"%d\">MISSING</text>",
            sx, sy, gid, sx + 18, sy + 10);
    sx += 84;
    fprintf(f, "<rect class=\"void\" x=\"%d\" y=\"%d\" width=\"14\" height=\"12\"/>"
               "<text class=\"sw-label\" x=\"%d\" y=\"%d\">not captured</text>",
            sx, sy, sx + 18, sy + 10);
    sx += 102;
    fprintf(f, "<rect class=\"ff-ring\" x=\"%d\" y=\"%d\" width=\"14\" height=\"12\"/>"
               "<text class=\"sw-label\" x=\"%d\" y=\"%d\">first failure</text>",
            sx, sy, sx + 18, sy + 10);
    if (nodata) {
        sx += 96;
        fprintf(f, "<rect class=\"sw-nodata\" x=\"%d\" y=\"%d\" width=\"14\" height=\"12\"/>"
                   "<text class=\"sw-label\" x=\"%d\" y=\"%d\">no values (hash/stats only)</text>",
                sx, sy, sx + 18, sy + 10);
    }
    fputs("</g>", f);
}

void rp_svg_heatmap(FILE *f, const rp_result *r, const rp_facts *fa, const rp_heat_opts *o)
{
    const rp_grid *g = &fa->g;
    const char *gid = o->id;
    const char *suffix = strncmp(gid, "heatmap", 7) == 0 ? gid + 7 : "";
    if (!g->nrows || !g->ncols) {
        fprintf(f, "<svg id=\"");
        rp_put_html(f, gid);
        fprintf(f, "\" class=\"heatmap\" width=\"420\" height=\"40\"><text class=\"axis-label\" x=\"0\" "
                   "y=\"24\">no pairs: nothing to draw</text></svg>");
        return;
    }
    size_t longest = 4;
    for (size_t c = 0; c < g->ncols; c++)
        if (strlen(g->stages[c]) > longest)
            longest = strlen(g->stages[c]);
    if (longest > 24)
        longest = 24;
    int cw = clampi(o->max_w / (int)g->ncols, 16, 64);
    int ch = clampi(o->max_h / (int)g->nrows, 8, 30);
    int compact = o->max_w < 600; /* two maps side by side */
    int left = 48, top = (int)(longest * 6.6 * 0.72) + 18, legend_h = 84;
    int right = r->ff.present ? (compact ? 172 : 230) : 24;
    int gw = cw * (int)g->ncols, gh = ch * (int)g->nrows;
    int W = left + gw + right, H = top + gh + legend_h;
    if (W < left + 520)
        W = left + 520; /* room for the legend */
    fprintf(f, "<svg id=\"");
    rp_put_html(f, gid);
    fprintf(f, "\" class=\"heatmap\" xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
               "viewBox=\"0 0 %d %d\" role=\"img\" aria-label=\"relative error by layer and stage\">",
            W, H, W, H);
    /* defs: hatch for MISSING, gradient for the legend */
    fprintf(f, "<defs><pattern id=\"%s-hatch\" width=\"6\" height=\"6\" patternUnits=\"userSpaceOnUse\" "
               "patternTransform=\"rotate(45)\"><rect width=\"6\" height=\"6\" class=\"hatch-bg\"/>"
               "<line x1=\"0\" y1=\"0\" x2=\"0\" y2=\"6\" class=\"hatch-line\"/></pattern>"
               "<linearGradient id=\"%s-grad\" x1=\"0\" x2=\"1\" y1=\"0\" y2=\"0\">",
            gid, gid);
    for (int k = 0; k <= 10; k++) {
        char col[8];
        rp_viridis(k / 10.0, col);
        fprintf(f, "<stop offset=\"%d%%\" stop-color=\"%s\"/>", k * 10, col);
    }
    fputs("</linearGradient></defs>", f);
    /* column labels, rotated */
    for (size_t c = 0; c < g->ncols; c++) {
        double x = left + (c + 0.5) * cw + 3;
        int is_ff = o->id && g->ff_col == (int64_t)c;
        fprintf(f, "<text class=\"col-label%s\" transform=\"translate(%.1f,%d) rotate(-45)\">", is_ff ? " ff" : "", x,
                top - 6);
        rp_put_html(f, g->stages[c]);
        fputs("</text>", f);
    }
    /* row labels */
    for (size_t ri = 0; ri < g->nrows; ri++) {
        char lb[32];
        if (ch < 10 && g->nrows > 40 && ri % 4 && ri + 1 != g->nrows && g->rows[ri].kind == RP_ROW_LAYER)
            continue; /* dense models: every fourth layer */
        fprintf(f, "<text class=\"row-label%s\" x=\"%d\" y=\"%.1f\" text-anchor=\"end\">%s</text>",
                g->ff_row == (int64_t)ri ? " ff" : "", left - 6, top + (ri + 0.5) * ch + 4,
                row_label(&g->rows[ri], lb, sizeof lb));
    }
    /* cells */
    int show_text = ch >= 14 && cw >= 30;
    for (size_t ri = 0; ri < g->nrows; ri++)
        for (size_t ci = 0; ci < g->ncols; ci++) {
            const rp_cell *c = rp_cell_at(g, ri, ci);
            int x = left + (int)ci * cw, y = top + (int)ri * ch;
            if (!c->npairs) {
                fprintf(f, "<rect class=\"void\" x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\"/>", x + 1, y + 1, cw - 2,
                        ch - 2);
                continue;
            }
            char col[8], lb[32], num[RP_NUM_LEN];
            const char *fill = rp_err_colour(c->worst_rel, o->lo, o->hi, col);
            int bitwise = c->verdict == RP_MATCH || (c->worst_rel == 0 && c->verdict != RP_MISSING);
            int missing = c->verdict == RP_MISSING && !fill;
            int nodata = !fill && !bitwise && !missing;
            const rp_cmp_row *cr = o->cmp ? cmp_find(o->cmp, &g->rows[ri], g->stages[ci]) : NULL;
            fprintf(f, "<rect class=\"cell%s%s%s%s%s%s\" id=\"%s-c%zu-%zu\" x=\"%d\" y=\"%d\" width=\"%d\" "
                       "height=\"%d\"",
                    bitwise ? " bitwise" : "", c->verdict == RP_MISMATCH ? " mismatch" : "",
                    missing ? " missing" : "", nodata ? " nodata" : "", c->in_chain ? " chain" : "",
                    c->first_failure ? " first-failure" : "", gid, ri, ci, x, y, cw, ch);
            if (missing)
                fprintf(f, " fill=\"url(#%s-hatch)\"", gid);
            else if (fill && !bitwise)
                fprintf(f, " fill=\"%s\"", fill);
            fprintf(f, " data-row=\"%s\" data-layer=\"%d\" data-stage=\"", row_label(&g->rows[ri], lb, sizeof lb),
                    (int)g->rows[ri].layer);
            rp_put_html(f, g->stages[ci]);
            fprintf(f, "\" data-verdict=\"%s\" data-rel-l2=\"%s\" data-pairs=\"%u\"", rp_verdict_name(c->verdict),
                    rp_fmt_prec(num, c->worst_rel, 4), c->npairs);
            if (cr)
                fprintf(f, " data-change=\"%s\"", rp_change_key(cr->change));
            fputc('>', f);
            cell_title(f, r, g, ri, ci, c, cr);
            fputs("</rect>", f);
            if (show_text) {
                char txt[32];
                if (bitwise)
                    snprintf(txt, sizeof txt, "=");
                else if (missing)
                    snprintf(txt, sizeof txt, "?");
                else if (fill)
                    short_num(txt, sizeof txt, c->worst_rel);
                else
                    snprintf(txt, sizeof txt, "n/a");
                if (txt[0])
                    fprintf(f, "<text class=\"cell-text %s\" x=\"%.1f\" y=\"%.1f\">%s</text>",
                            fill && !bitwise ? ink_for(c->worst_rel, o->lo, o->hi) : "ink-fg", x + cw / 2.0,
                            y + ch / 2.0 + 3.5, txt);
            }
            if (c->verdict == RP_MISMATCH)
                fprintf(f, "<rect class=\"mm-outline\" x=\"%.1f\" y=\"%.1f\" width=\"%d\" height=\"%d\"/>", x + 1.25,
                        y + 1.25, cw - 3 < 1 ? 1 : cw - 3, ch - 3 < 1 ? 1 : ch - 3);
            if (cr && cr->change == RP_CH_NEW)
                fprintf(f, "<path class=\"ch-new\" d=\"M%d %d h-9 l9 9 z\"><title>new failure</title></path>", x + cw,
                        y);
            else if (cr && cr->change == RP_CH_FIXED)
                fprintf(f, "<path class=\"ch-fixed\" d=\"M%d %d h-9 l9 9 z\"><title>fixed</title></path>", x + cw, y);
        }
    /* the first failure: a ring and a label to the right of the grid */
    if (g->ff_row >= 0) {
        int x = left + (int)g->ff_col * cw, y = top + (int)g->ff_row * ch;
        fprintf(f, "<rect class=\"ff-ring\" x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\"/>", x - 2, y - 2, cw + 4,
                ch + 4);
        int lx = left + gw + 18, ly = y + ch / 2 - 26;
        if (ly < 4)
            ly = 4;
        if (ly + 52 > H - 4)
            ly = H - 56;
        /* the leader starts at the grid's edge, not at the cell, so that it hides no other cell of the row; the
         * row and column labels of the cell are drawn in the failure's colour */
        int gx = left + gw + 3, gy = y + ch / 2;
        fprintf(f, "<path class=\"ff-leader\" d=\"M%d %d L%d %d L%d %d\"/>", lx, ly + 26, gx + 8, gy, gx + 1, gy);
        fprintf(f, "<path class=\"ff-arrow\" d=\"M%d %d l7 -4 v8 z\"/>", gx, gy);
        fprintf(f, "<g id=\"first-failure-marker");
        rp_put_html(f, suffix);
        fprintf(f, "\" class=\"ff-marker\" transform=\"translate(%d,%d)\">", lx, ly);
        fprintf(f, "<rect class=\"ff-box\" x=\"0\" y=\"0\" width=\"%d\" height=\"52\" rx=\"6\"/>", right - 26);
        fprintf(f, "<text class=\"ff-title\" x=\"10\" y=\"16\">FIRST FAILURE</text>");
        fprintf(f, "<text class=\"ff-text\" x=\"10\" y=\"31\">");
        char lb[32];
        rp_put_html(f, r->ff.point);
        fprintf(f, " %s</text>", row_label(&g->rows[g->ff_row], lb, sizeof lb));
        fprintf(f, "<text class=\"ff-text\" x=\"10\" y=\"45\">");
        rp_put_html(f, r->ff.root_cause);
        fputs("</text></g>", f);
    } else if (r->ff.present) {
        /* a failure the grid cannot show (a KV check on a point without pairs): say so where the label goes */
        fprintf(f, "<g id=\"first-failure-marker");
        rp_put_html(f, suffix);
        fprintf(f, "\" class=\"ff-marker\" transform=\"translate(%d,%d)\"><text class=\"ff-text\" x=\"0\" y=\"14\">"
                   "first failure: ",
                left + gw + 18, top);
        rp_put_html(f, r->ff.point);
        fprintf(f, " L%d (not in the grid)</text></g>", (int)r->ff.layer);
    }
    int any_nodata = 0;
    for (size_t k = 0; k < g->nrows * g->ncols; k++) {
        const rp_cell *c = &g->cells[k];
        any_nodata |= c->npairs && isnan(c->worst_rel) && c->verdict != RP_MISSING;
    }
    legend(f, gid, left, top + gh + 18, gw, o->lo, o->hi, any_nodata);
    fputs("</svg>", f);
}

/* ---- growth chart ---- */

static void stage_colour(size_t i, size_t n, char *out, size_t len)
{
    double h = n > 1 ? 330.0 * (double)i / (double)(n - 1) : 200;
    snprintf(out, len, "hsl(%.0f,%d%%,%d%%)", h, 68, i % 2 ? 38 : 50);
}

void rp_svg_growth(FILE *f, const rp_result *r, const rp_facts *fa, int lo, int hi)
{
    const rp_grid *g = &fa->g;
    size_t nl = 0;
    for (size_t ri = 0; ri < g->nrows; ri++)
        nl += g->rows[ri].kind == RP_ROW_LAYER;
    if (!nl || !g->ncols) {
        fputs("<svg id=\"growth\" width=\"420\" height=\"40\"><text class=\"axis-label\" x=\"0\" y=\"24\">no layers: "
              "nothing to draw</text></svg>",
              f);
        return;
    }
    int W = 1000, H = 420, ml = 72, mr = 230, mt = 16, mb = 46;
    int pw = W - ml - mr, ph = H - mt - mb - 22; /* the bottom band holds bitwise (0) values */
    double yband = mt + ph + 14;
    fprintf(f, "<svg id=\"growth\" class=\"growth\" xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
               "viewBox=\"0 0 %d %d\" role=\"img\" aria-label=\"error growth through the layers\">",
            W, H, W, H);
    int step = hi - lo > 8 ? 2 : 1;
    for (int d = lo; d <= hi; d += step) {
        double y = mt + ph - (double)(d - lo) / (hi - lo) * ph;
        fprintf(f, "<line class=\"gridline\" x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\"/>", ml, y, ml + pw, y);
        fprintf(f, "<text class=\"tick-label\" x=\"%d\" y=\"%.1f\" text-anchor=\"end\">1e%d</text>", ml - 6, y + 4, d);
    }
    fprintf(f, "<text class=\"tick-label\" x=\"%d\" y=\"%.1f\" text-anchor=\"end\">0 (bitwise)</text>", ml - 6,
            yband + 4);
    fprintf(f, "<line class=\"axis\" x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\"/>", ml, mt, ml, mt + ph + 22);
    size_t li = 0;
    double *xs = NULL;
    double xbuf[512];
    xs = xbuf;
    for (size_t ri = 0; ri < g->nrows; ri++) {
        if (g->rows[ri].kind != RP_ROW_LAYER)
            continue;
        double x = ml + (li + 0.5) * pw / (double)nl;
        if (li < 512)
            xs[li] = x;
        if (nl <= 40 || li % ((nl + 39) / 40) == 0)
            fprintf(f, "<text class=\"tick-label\" x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">%d</text>", x,
                    H - mb + 16, (int)g->rows[ri].layer);
        li++;
    }
    fprintf(f, "<text class=\"axis-label\" x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">layer</text>", ml + pw / 2.0,
            H - 8);
    fprintf(f, "<text class=\"axis-label\" transform=\"translate(14,%.1f) rotate(-90)\" text-anchor=\"middle\">"
               "relative L2 error (worst over prompts)</text>",
            mt + ph / 2.0);
    /* one polyline per stage seen inside the layers */
    size_t nseries = 0;
    for (size_t ci = 0; ci < g->ncols; ci++)
        for (size_t ri = 0; ri < g->nrows; ri++)
            if (g->rows[ri].kind == RP_ROW_LAYER && rp_cell_at(g, ri, ci)->npairs) {
                nseries++;
                break;
            }
    size_t si = 0;
    int legend_rows = (H - mt - 40) / 15;
    for (int pass = 0; pass < 2; pass++) /* the first failure's stage last, on top */
        for (size_t ci = 0, k = 0; ci < g->ncols; ci++) {
            int any = 0;
            for (size_t ri = 0; ri < g->nrows && !any; ri++)
                any = g->rows[ri].kind == RP_ROW_LAYER && rp_cell_at(g, ri, ci)->npairs;
            if (!any)
                continue;
            size_t idx = k++;
            int is_ff = g->ff_col == (int64_t)ci && g->ff_row >= 0 && g->rows[g->ff_row].kind == RP_ROW_LAYER;
            if ((pass == 0) == is_ff)
                continue;
            char col[40];
            stage_colour(idx, nseries, col, sizeof col);
            fprintf(f, "<g class=\"series%s\" data-stage=\"", is_ff ? " ff" : "");
            rp_put_html(f, g->stages[ci]);
            fprintf(f, "\" style=\"color:%s\"><path class=\"line\" d=\"", col);
            int pen = 0;
            li = 0;
            for (size_t ri = 0; ri < g->nrows; ri++) {
                if (g->rows[ri].kind != RP_ROW_LAYER)
                    continue;
                const rp_cell *c = rp_cell_at(g, ri, ci);
                double x = li < 512 ? xs[li] : ml + (li + 0.5) * pw / (double)nl;
                li++;
                if (!c->npairs || isnan(c->worst_rel)) {
                    pen = 0;
                    continue;
                }
                double y = c->worst_rel > 0 ? mt + ph - scale_t(c->worst_rel, lo, hi) * ph : yband;
                if (y < mt)
                    y = mt;
                if (y > yband)
                    y = yband;
                fprintf(f, "%s%.1f %.1f ", pen ? "L" : "M", x, y);
                pen = 1;
            }
            fputs("\"/>", f);
            li = 0;
            for (size_t ri = 0; ri < g->nrows; ri++) {
                if (g->rows[ri].kind != RP_ROW_LAYER)
                    continue;
                const rp_cell *c = rp_cell_at(g, ri, ci);
                double x = li < 512 ? xs[li] : ml + (li + 0.5) * pw / (double)nl;
                li++;
                if (!c->npairs || isnan(c->worst_rel))
                    continue;
                double y = c->worst_rel > 0 ? mt + ph - scale_t(c->worst_rel, lo, hi) * ph : yband;
                if (y < mt)
                    y = mt;
                if (y > yband)
                    y = yband;
                char b1[RP_NUM_LEN];
                fprintf(f, "<circle class=\"pt%s\" cx=\"%.1f\" cy=\"%.1f\" r=\"%s\"><title>",
                        rp_failing(c->verdict) ? " mm" : " ok", x, y, is_ff ? "4.5" : "3.5");
                rp_put_html(f, g->stages[ci]);
                fprintf(f, " L%d: rel L2 %s, %s</title></circle>", (int)g->rows[ri].layer, rp_fmt(b1, c->worst_rel),
                        rp_verdict_name(c->verdict));
            }
            fputs("</g>", f);
            /* legend entry */
            if ((int)idx < legend_rows) {
                double ly = mt + 4 + idx * 15.0;
                fprintf(f, "<g class=\"lg-item%s\" style=\"color:%s\">"
                           "<line x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\"/>"
                           "<text x=\"%d\" y=\"%.1f\">",
                        is_ff ? " ff" : "", col, W - mr + 16, ly, W - mr + 36, ly, W - mr + 42, ly + 4);
                rp_put_html(f, g->stages[ci]);
                fputs(is_ff ? " (first failure)" : "", f);
                fputs("</text></g>", f);
            }
            si++;
        }
    fprintf(f, "<text class=\"sw-label\" x=\"%d\" y=\"%d\">filled: MISMATCH, hollow: within tolerance</text>",
            W - mr + 16, H - 22);
    if ((int)nseries > legend_rows)
        fprintf(f, "<text class=\"sw-label\" x=\"%d\" y=\"%d\">+%d more</text>", W - mr + 16, H - 4,
                (int)nseries - legend_rows);
    (void)si;
    (void)r;
    fputs("</svg>", f);
}

/* ---- histogram ---- */

void rp_svg_histogram(FILE *f, const rp_result *r, int lo, int hi)
{
    const rp_failure *ff = &r->ff;
    if (!ff->has_hist)
        return;
    size_t nb = ff->nedges + 2;
    uint64_t mx = 1;
    for (size_t i = 0; i < nb; i++)
        if (ff->counts[i] > mx)
            mx = ff->counts[i];
    int W = 760, H = 280, ml = 56, mr = 16, mt = 34, mb = 52;
    int pw = W - ml - mr, ph = H - mt - mb;
    double bw = (double)pw / (double)nb;
    fprintf(f, "<svg id=\"histogram\" class=\"histogram\" xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" "
               "height=\"%d\" viewBox=\"0 0 %d %d\" role=\"img\" aria-label=\"histogram of element errors\">",
            W, H, W, H);
    for (int k = 0; k <= 4; k++) {
        double y = mt + ph - k * ph / 4.0;
        fprintf(f, "<line class=\"gridline\" x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\"/>", ml, y, ml + pw, y);
        fprintf(f, "<text class=\"tick-label\" x=\"%d\" y=\"%.1f\" text-anchor=\"end\">%.0f</text>", ml - 6, y + 4,
                (double)mx * k / 4.0);
    }
    for (size_t i = 0; i < nb; i++) {
        double x = ml + i * bw;
        double h = (double)ff->counts[i] / (double)mx * ph;
        /* a bin's colour: the relative size of its upper edge on the heat map's scale, taken against the reference
         * RMS (element errors are absolute; this is only a visual cue) */
        char col[8] = "#9aa0a6";
        double upper = i == 0 ? 0 : i == nb - 1 ? ff->edges[ff->nedges - 1] * 3.16 : ff->edges[i - 1];
        double rms = ff->m.ref_rms > 0 ? ff->m.ref_rms : 1;
        if (i > 0)
            rp_viridis((log10(upper / rms) - lo) / (double)(hi - lo), col);
        char lbl[64];
        if (i == 0)
            snprintf(lbl, sizeof lbl, "exactly 0");
        else if (i == 1)
            snprintf(lbl, sizeof lbl, "(0, %.3g]", ff->edges[0]);
        else if (i == nb - 1)
            snprintf(lbl, sizeof lbl, "> %.3g", ff->edges[ff->nedges - 1]);
        else
            snprintf(lbl, sizeof lbl, "(%.3g, %.3g]", ff->edges[i - 2], ff->edges[i - 1]);
        fprintf(f, "<rect class=\"bar%s\" x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"%s\">"
                   "<title>|diff| in %s: %llu elements</title></rect>",
                i == 0 ? " zero" : "", x + 1, mt + ph - h, bw - 2, h, col, lbl, (unsigned long long)ff->counts[i]);
        if (ff->counts[i])
            fprintf(f, "<text class=\"bar-label\" x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">%llu</text>",
                    x + bw / 2, mt + ph - h - 4, (unsigned long long)ff->counts[i]);
    }
    /* x labels: "0" and every decade edge */
    fprintf(f, "<text class=\"tick-label\" x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">0</text>", ml + bw / 2,
            mt + ph + 14);
    for (size_t e = 0; e < ff->nedges; e++) {
        double lg = log10(ff->edges[e]);
        if (fabs(lg - round(lg)) > 1e-6)
            continue;
        double x = ml + (e + 2) * bw; /* the right edge of bin e+1 */
        fprintf(f, "<line class=\"tick\" x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\"/>", x, mt + ph, x, mt + ph + 4);
        if (((int)round(lg)) % 2 == 0)
            fprintf(f, "<text class=\"tick-label\" x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">1e%d</text>", x,
                    mt + ph + 16, (int)round(lg));
    }
    /* the absolute tolerance: where |diff| starts to fail for elements near zero */
    if (ff->m.present && ff->m.atol > 0) {
        double lg = log10(ff->m.atol);
        double first = log10(ff->edges[0]);
        double pos = (lg - first) / 0.5; /* half decades after edges[0] */
        double x = ml + (2 + pos) * bw;
        if (x > ml && x < ml + pw) {
            fprintf(f, "<line class=\"tol-line\" x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\"/>", x, 4, x, mt + ph);
            char b1[RP_NUM_LEN];
            fprintf(f, "<text class=\"tol-label\" x=\"%.1f\" y=\"%d\" text-anchor=\"end\">atol %s</text>", x - 4,
                    12, rp_fmt(b1, ff->m.atol));
        }
    }
    fprintf(f, "<text class=\"axis-label\" x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">|left - right| per element "
               "(half-decade bins)</text>",
            ml + pw / 2.0, H - 8);
    fputs("</svg>", f);
}

/* ---- the verdicts of every pair as one bar ---- */

void rp_svg_counts(FILE *f, const rp_result *r)
{
    const rp_counts *c = &r->counts;
    uint64_t total = c->match + c->within_tol + c->mismatch + c->missing;
    if (!total)
        return;
    int W = 1000, H = 40;
    fprintf(f, "<svg id=\"counts\" class=\"counts\" xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 %d %d\" "
               "width=\"%d\" height=\"%d\" role=\"img\" aria-label=\"pair verdicts\">",
            W, H, W, H);
    static const char *const names[] = {"bitwise equal", "within tolerance", "mismatch", "missing"};
    static const char *const cls[] = {"seg-match", "seg-within", "seg-mismatch", "seg-missing"};
    uint64_t v[4] = {c->match, c->within_tol, c->mismatch, c->missing};
    double x = 0;
    for (int k = 0; k < 4; k++) {
        double w = (double)v[k] / (double)total * W;
        if (v[k] == 0)
            continue;
        fprintf(f, "<rect class=\"%s\" x=\"%.1f\" y=\"0\" width=\"%.1f\" height=\"16\"><title>%s: %llu of %llu "
                   "pairs</title></rect>",
                cls[k], x, w, names[k], (unsigned long long)v[k], (unsigned long long)total);
        x += w;
    }
    x = 0;
    for (int k = 0; k < 4; k++) {
        fprintf(f, "<rect class=\"%s\" x=\"%.1f\" y=\"24\" width=\"12\" height=\"12\"/><text class=\"sw-label\" "
                   "x=\"%.1f\" y=\"34\">%s %llu (%.1f%%)</text>",
                cls[k], x, x + 16, names[k], (unsigned long long)v[k], 100.0 * (double)v[k] / (double)total);
        x += 250;
    }
    fputs("</svg>", f);
}
