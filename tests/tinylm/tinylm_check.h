/*
 * tinylm_check.h — helpers of the tinylm tests: run the tinylm binary, load a whole trace through the public
 * reader API (records and tensors as doubles), and compare two tensors the way the tests judge drift.
 *
 * Ownership: a tlc_trace owns its reader (whose strings the records borrow) and the tensor copies; free it with
 * tlc_trace_free().
 */
#ifndef TINYLM_CHECK_H
#define TINYLM_CHECK_H

#include <stddef.h>
#include <stdint.h>

#include "tt/reader.h"

/* Capture points inside a layer, in tinylm's capture (pipeline) order, which is also libtrace's default stage
 * order (TT_DIFF_DEFAULT_STAGES); embed_out comes before layer 0 and logits after the last layer (layer -1). */
#define TLC_LAYER_POINTS 16
extern const char *const tlc_layer_points[TLC_LAYER_POINTS];

/* Prepares a test run: unsets the tracing variables of the caller's shell (TT_TRACE_*, and the launchers' rank
 * variables, which would name the writers' ranks) and creates dir with its parents. */
void tlc_prepare(const char *dir);

/* Runs bin with the arguments (NULL-terminated), stdout and stderr into log (may be NULL: /dev/null).
 * @return : the exit status, or -1 when it could not run or was killed. */
int tlc_run(const char *bin, const char *log, const char *const *args);

typedef struct tlc_rec {
    tt_record r;
    double *d; /* the tensor, converted; NULL when the record has no payload */
    size_t n;  /* elements */
    void *raw; /* the tensor as stored (bit-exact comparisons) */
} tlc_rec;

typedef struct tlc_trace {
    tt_reader *rd;
    tlc_rec *recs;
    size_t count;
} tlc_trace;

/* Opens path and reads every record and tensor. @return : 0, or -1 with a message printed on stderr. */
int tlc_trace_load(tlc_trace *t, const char *path);
void tlc_trace_free(tlc_trace *t);

/* The record with this prompt, phase, point and layer, or NULL; *dups counts further matches when not NULL. */
const tlc_rec *tlc_find(const tlc_trace *t, const char *prompt, const char *phase, const char *point, int layer,
                        int *dups);

/* How two tensors of the same shape differ. */
typedef struct tlc_cmp {
    int same_shape;
    int bitwise;       /* stored bytes identical */
    double max_abs;    /* max |a - b| over elements (inf/NaN disagreements count as infinite) */
    double absmax;     /* max |a| over a's finite elements */
    double rel;        /* max_abs / absmax (0 when both are 0) */
    double ulps;       /* max_abs in bf16 ulps of absmax */
    size_t worst;      /* element index of max_abs */
} tlc_cmp;

void tlc_compare(const tlc_rec *a, const tlc_rec *b, tlc_cmp *out);

/* 1 when rows [0, rows) of the two tensors (leading dimension) are bitwise equal. */
int tlc_rows_bitwise(const tlc_rec *a, const tlc_rec *b, uint64_t rows);

/* Drift thresholds of the tests: f32 relative error (max abs error over the reference's absmax), bf16 ulps. */
#define TLC_F32_REL_TOL 1e-4
#define TLC_BF16_ULP_TOL 8.0

/* 1 when the comparison is beyond the drift threshold of dtype. */
int tlc_over(const tlc_cmp *c, tt_dtype dt);

#endif /* TINYLM_CHECK_H */
