/*
 * render.h — tracediff's renderers: the one-screen summary, the seeds' results table (TSV), the per-pair TSV and
 * the JSON document of schemas/diff.schema.json. They only read a finished tt_diff through tt/diff.h.
 */
#ifndef TRACEDIFF_RENDER_H
#define TRACEDIFF_RENDER_H

#include <stdio.h>

#include "tt/diff.h"

#define RENDER_MAX_CONDS 64

typedef struct render_side {
    const char *path;
    const char *conds[RENDER_MAX_CONDS]; /* the filter conditions, as given */
    int nconds;
} render_side;

typedef struct render_opts {
    render_side side[2];
    int worst; /* worst pairs in the summary */
} render_opts;

void render_text(const tt_diff *d, const render_opts *o, FILE *f);
void render_tsv(const tt_diff *d, FILE *f);
void render_pairs_tsv(const tt_diff *d, FILE *f);
/* --plan: the TT_TRACE_* variables of a second capture in full around the first divergence. */
void render_plan(const tt_diff *d, FILE *f);

/* Shared helpers. */
const char *render_pair_label(const tt_diff_pair *p, char *buf, size_t len); /* "attn_out L0" */
double render_pair_err(const tt_diff_pair *p); /* rel_l2, 0 for hash-equal, NAN when not compared */

#endif
