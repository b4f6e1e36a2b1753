/*
 * report.h — one report: the diff results it is made of, the facts derived from them, and the document that says
 * what they mean (doc.h). The builders fill the document section by section, in the order of the seeds' report
 * templates (shared/seeds/001_*.txt, 002_*.txt, 004_*.txt): execution summary, KV alignment analysis, structural
 * drift vs real mismatch, first failure by mode, evidence snippets, conclusion, recommendations, artifacts. Every
 * TBD of the templates becomes a number taken from the results; where the results do not hold what a section
 * needs, the section says what is missing and how to get it.
 *
 * Several results of the same traces in different modes make one report: res[0] is the primary (its pairs fill
 * the heat map, the tables and the drill-down), every result appears in the execution summary and in "First
 * Failure by Mode", and the KV section uses the first kv_aligned result (kv_src). A comparison (--compare) has
 * exactly two results, before and after.
 */
#ifndef TRACEREPORT_REPORT_H
#define TRACEREPORT_REPORT_H

#include "analysis.h"
#include "doc.h"

#define RP_SNIPPET_MAX_WORDS 25

typedef struct rp_report {
    rp_arena *a;
    const char *title;     /* --title, or NULL for the default */
    size_t nres;
    rp_result **res;       /* res[0] primary (or "before") */
    rp_facts *facts;       /* one per result */
    int kv_src;            /* the result the KV section reads */
    int compare;           /* a --compare report */
    rp_cmp cmp;            /* its cell-by-cell comparison */
    const char *generated; /* UTC time the report was made (SOURCE_DATE_EPOCH when set) */
    const char *outdir;
    rp_doc doc;
} rp_report;

/*! rp_report_init() : derives the facts of every result and picks kv_src. @return : 0 or -1 (out of memory). */
int rp_report_init(rp_report *rep);
/*! rp_report_build() / rp_compare_build() : fill rep->doc. @return : 0 or -1 (out of memory). */
int rp_report_build(rp_report *rep);
int rp_compare_build(rp_report *rep);

/* The title shown on top (--title or a default naming the sides). */
const char *rp_report_title(rp_report *rep);

/* Sections: 2 in report_kv.c, 4 and 5 in report_failure.c, the judgement (3, 6, 7: what the evidence supports,
 * what follows, what to do) in findings.c. */
void rp_section_kv(rp_report *rep);
void rp_section_first_failure(rp_report *rep);
void rp_section_snippets(rp_report *rep);
void rp_section_hypotheses(rp_report *rep);
void rp_section_conclusion(rp_report *rep);
void rp_section_recommendations(rp_report *rep);

/* Helpers the builders share (strings in the report's arena; "" on out of memory). */
const char *rp_s(rp_report *rep, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
const char *rp_n(rp_report *rep, double v);                    /* %.3g, "n/a" for NAN */
const char *rp_pair_label(rp_report *rep, const rp_pair *p);   /* "q_post_rope L0" */
const char *rp_where_label(rp_report *rep, const char *point, int32_t layer); /* "q_post_rope L0" / "logits" */
const char *rp_group_label(rp_report *rep, const rp_result *r, uint64_t group); /* "p0_short (token 455, pos 1)" */
const char *rp_prompt_of(const rp_result *r, uint64_t group); /* the prompt id, "(none)" */
const char *rp_side_label(rp_report *rep, const rp_input *in); /* "rope.tt [phase=prefill_last]" */
const char *rp_coord_label(rp_report *rep, const uint64_t *c, int n); /* "[0, 176]" */
/* A tracediff command line reproducing r's sides, with extra (raw, already-quoted) arguments appended. */
const char *rp_tracediff_cmd(rp_report *rep, const rp_result *r, const char *extra);
/* A word quoted for the shell. */
const char *rp_shq(rp_report *rep, const char *word);
/* "MISMATCH (ROPE_DRIFT)", "STRUCTURAL_DRIFT" */
const char *rp_verdict_text(rp_report *rep, const rp_result *r);
/* a side's hash, or "(missing)" / "(no hash)" */
const char *rp_hash_cell(rp_report *rep, const rp_side *s);
/* table-cell classes of verdicts */
rp_cls rp_verdict_cls(rp_verdict v);
rp_cls rp_overall_cls(rp_overall v);

#endif /* TRACEREPORT_REPORT_H */
