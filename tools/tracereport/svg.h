/*
 * svg.h — the pictures of report.html, drawn as inline SVG by small functions: the layer x stage heat map of
 * error (log10 of the worst relative L2 error per cell on a viridis scale, grey for bitwise equal, an outline for
 * MISMATCH, hatching for MISSING, a ring and a label for the first failure, a legend), the error growth through
 * the layers per stage (log y), the histogram of element errors of the first failing pair, and the pair verdicts
 * as one stacked bar. Every text from the input is escaped (text.h); each cell carries its numbers in a <title>
 * tooltip and in data- attributes, so the page reads without JavaScript and tests can query the DOM.
 *
 * DOM hooks (the tests rely on them):
 *   <svg id="ID" class="heatmap"> (ID "heatmap" in a report, "heatmap-before"/"heatmap-after" in a comparison)
 *   <rect class="cell ..."> one per layer x stage cell holding pairs, with data-row, data-layer, data-stage,
 *     data-verdict, data-rel-l2, data-pairs (and data-change in a comparison's after map); extra classes:
 *     bitwise, mismatch, missing, nodata, chain, first-failure
 *   <g id="first-failure-marker"> (suffixed "-before"/"-after" in a comparison): the visible label
 *   <svg id="growth">, <svg id="histogram">, <svg id="counts">
 */
#ifndef TRACEREPORT_SVG_H
#define TRACEREPORT_SVG_H

#include <stdio.h>

#include "analysis.h"

typedef struct rp_heat_opts {
    const char *id;        /* the svg's id; the marker's id is "first-failure-marker" plus id's suffix after
                              "heatmap" */
    int max_w, max_h;      /* room for the grid of cells, in px */
    int lo, hi;            /* colour scale: 10^lo .. 10^hi */
    const rp_cmp *cmp;     /* a comparison's after map: mark each cell's change, or NULL */
    int cmp_after;         /* which side of cmp this map is (1 after, 0 before) */
} rp_heat_opts;

/* viridis at t in [0, 1], as "#rrggbb" into out[8] */
void rp_viridis(double t, char *out);
/* the fill colour of a relative error on the scale (NAN or 0: NULL) */
const char *rp_err_colour(double rel, int lo, int hi, char *out);

void rp_svg_heatmap(FILE *f, const rp_result *r, const rp_facts *fa, const rp_heat_opts *o);
void rp_svg_growth(FILE *f, const rp_result *r, const rp_facts *fa, int lo, int hi);
void rp_svg_histogram(FILE *f, const rp_result *r, int lo, int hi);
void rp_svg_counts(FILE *f, const rp_result *r);

#endif /* TRACEREPORT_SVG_H */
