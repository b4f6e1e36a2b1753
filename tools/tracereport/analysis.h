/*
 * analysis.h — facts derived from a diff result that several outputs share: the layer x stage grid behind the heat
 * map, the growth chart and report.tsv (one cell per layer and stage, aggregating the pairs of every prompt); the
 * first failure's pair, group and KV check; the worst pairs; KV check tallies; the Q/K/V point names; and the
 * cell-by-cell comparison of two results (--compare). Pure functions of the model: no output here.
 *
 * Grid rows: "pre" (layer -1 stages ranked before every stage seen inside the layers, e.g. embed_out), each layer
 * present in ascending order, "post" (the other layer -1 stages, e.g. logits) — the rule libtrace's pipeline order
 * uses. Columns: the points present, in stage order (stage_rank). A cell aggregates its pairs: the worst verdict
 * (MISMATCH > MISSING > WITHIN_TOL > MATCH), the largest relative L2 error and the pair holding it.
 */
#ifndef TRACEREPORT_ANALYSIS_H
#define TRACEREPORT_ANALYSIS_H

#include "model.h"

typedef enum rp_row_kind { RP_ROW_PRE = 0, RP_ROW_LAYER = 1, RP_ROW_POST = 2 } rp_row_kind;

typedef struct rp_row {
    rp_row_kind kind;
    int32_t layer; /* RP_ROW_LAYER: the layer; else the layer of its pairs (-1) */
} rp_row;

typedef struct rp_cell {
    uint32_t npairs;
    uint32_t n[4];         /* pairs per rp_verdict */
    rp_verdict verdict;    /* the worst */
    double worst_rel;      /* largest finite relative L2 error, NAN when none was measured */
    int64_t worst_pair;    /* the pair with worst_rel, else the first pair with the worst verdict */
    double worst_max_abs;  /* max |diff| of worst_pair */
    uint32_t jumps;        /* pairs flagged as error jumps */
    int first_failure;     /* holds the first failure */
    int in_chain;          /* holds a pair of the propagation chain */
} rp_cell;

typedef struct rp_grid {
    size_t nrows, ncols;
    rp_row *rows;
    const char **stages; /* column names */
    int32_t *ranks;      /* column stage ranks */
    rp_cell *cells;      /* nrows x ncols; npairs 0: nothing captured there */
    int64_t ff_row, ff_col; /* the first failure's cell, or -1 */
    double min_rel, max_rel; /* smallest positive and largest finite relative error over the cells (NAN: none) */
} rp_grid;

typedef struct rp_kv_tally {
    uint64_t pass, fail, na, rows, bad_rows;
    const rp_kvcheck *first_fail; /* lowest layer, then capture order */
} rp_kv_tally;

typedef struct rp_facts {
    const rp_result *r;
    rp_grid g;
    const rp_pair *ffp;    /* the first failure's pair, or NULL */
    const rp_kvcheck *ffk; /* the first failure's KV check, or NULL */
    const rp_group *ffg;   /* the first failure's group, or NULL */
    int64_t worst_pair;    /* largest measured relative L2 error, or -1 */
    int64_t worst_ok_pair; /* the same among MATCH / WITHIN_TOL pairs, or -1 */
    int64_t ff_jump;       /* the jump pair that marks the first failure (same pair or same cell), or -1 */
    int64_t first_jump;    /* the earliest jump in pipeline order, or -1 */
    uint64_t hash_differ;  /* pairs with both hashes whose hashes differ (the legacy probe's FAIL) */
    uint64_t hash_pairs;   /* pairs with both hashes */
    uint64_t numeric_fail; /* pairs whose numeric verdict is MISMATCH or MISSING */
    rp_kv_tally kv[3];     /* per rp_kv_kind, and per cache point for cache_prefix: */
    rp_kv_tally kv_prefix_k, kv_prefix_v;
    int32_t first_layer;   /* smallest layer >= 0 with pairs, or -1 */
    const char *q_point, *k_point, *v_point; /* Q/K/V projection points present (or NULL) */
    const char *q_rope_point, *k_rope_point; /* after RoPE (or NULL) */
    const char *scores_point, *probs_point;  /* attention scores / probabilities (or NULL) */
} rp_facts;

/*! rp_facts_build() : derives the facts of r (allocated in r's arena). @return : 0, or -1 out of memory. */
int rp_facts_build(rp_facts *f, const rp_result *r);

/* The cell of (row, col). */
static inline const rp_cell *rp_cell_at(const rp_grid *g, size_t row, size_t col)
{
    return &g->cells[row * g->ncols + col];
}

/* "L3", "pre", "post" */
const char *rp_row_label(const rp_row *row, char *buf, size_t len);

/*! rp_find_pair() : the pair of group g at (layer, point), or NULL. */
const rp_pair *rp_find_pair(const rp_result *r, uint64_t group, int32_t layer, const char *point);
/*! rp_has_point() : some pair has this point. */
int rp_has_point(const rp_result *r, const char *point);
/*! rp_worst_at() : among the pairs at (layer, point) of every group, the one with the largest relative error
 *  (or the first), NULL when there is none. */
const rp_pair *rp_worst_at(const rp_result *r, int32_t layer, const char *point);

/* verdict severity: MATCH 0 < WITHIN_TOL 1 < MISSING 2 < MISMATCH 3 */
int rp_severity(rp_verdict v);
int rp_failing(rp_verdict v);

/* Scale of a heat map: decades lo..hi of log10(relative error) covering both grids (b may be NULL). */
void rp_scale(const rp_grid *a, const rp_grid *b, int *lo, int *hi);

/* --compare: one row per (row label, stage) present in either result. */
typedef enum rp_change {
    RP_CH_UNCHANGED_OK = 0, /* passing before and after */
    RP_CH_FIXED,            /* failing before, passing after */
    RP_CH_NEW,              /* passing before, failing after: a regression */
    RP_CH_STILL,            /* failing before and after */
    RP_CH_ONLY_BEFORE,      /* no pairs after */
    RP_CH_ONLY_AFTER        /* no pairs before */
} rp_change;

typedef struct rp_cmp_row {
    rp_row_kind kind;
    int32_t layer;
    const char *stage;
    int32_t rank;
    const rp_cell *before, *after; /* NULL where that side has no pairs */
    rp_change change;
} rp_cmp_row;

typedef struct rp_cmp {
    size_t n;
    rp_cmp_row *rows;  /* in pipeline order */
    size_t count[6];   /* per rp_change */
} rp_cmp;

/*! rp_compare() : the cell-by-cell comparison (allocated in arena a). @return : 0 or -1 out of memory. */
int rp_compare(rp_cmp *c, const rp_facts *before, const rp_facts *after, rp_arena *a);
const char *rp_change_name(rp_change c);
/* the same as one token for data: unchanged, fixed, new, still_failing, only_before, only_after */
const char *rp_change_key(rp_change c);

#endif /* TRACEREPORT_ANALYSIS_H */
