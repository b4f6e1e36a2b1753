/*
 * tt/diff.h — the diff engine: pairs the records of two sides (two files, or one file split by filters), compares
 * every pair from its full tensors, gives each pair a verdict, finds the first real divergence in pipeline order
 * and names it, and runs the KV-cache consistency checks. tracediff is a thin CLI on this header; an engine's own
 * test can call tt_diff_run() and read the verdict and the first failure without any tool.
 *
 * Vocabulary (from the seeds, shared/seeds/003_*.txt and 000_*.txt):
 *   pair        one unit of the left side and one of the right side with the same key. Units are whole records,
 *               or with TT_DIFF_ALIGN_POS single rows of multi-row records (see "Row alignment").
 *   verdict     per pair: MATCH (bitwise equal), WITHIN_TOL (every element within atol + rtol*|right|, where
 *               atol = atol_abs + atol_rms*rms(right): see "Tolerances"),
 *               MISMATCH, MISSING (no partner: root cause TRACE_OFFSET).
 *   overall     IDENTICAL, STRUCTURAL_DRIFT (no mismatch, some WITHIN_TOL), MISMATCH, N/A (kv_aligned mode
 *               without the evidence it needs).
 *   right side  is the reference: relative measures divide by it, the tolerance scales with |right|.
 *
 * Modes:
 *   TT_DIFF_NUMERIC      (default) metrics and tolerances decide; overall IDENTICAL / STRUCTURAL_DRIFT / MISMATCH.
 *   TT_DIFF_AS_DESIGNED  the legacy probe: a pair passes when its content hashes are equal, fails otherwise;
 *                        a missing pair anywhere makes TRACE_OFFSET the first failure (verdict order of 003).
 *                        Metrics are still computed and kept as each pair's numeric_verdict.
 *   TT_DIFF_KV_ALIGNED   numeric, plus the KV-cache checks (tt_diff_kv_check) and the Q/K/V and softmax
 *                        evidence; overall N/A when the trace lacks those points or their tensors.
 *
 * Pipeline order: pairs sort by (where, layer, stage) with where = before the layers / in a layer / after the
 * layers (layer -1 records go before the layers when their stage ranks before every stage seen inside layers,
 * e.g. embed_out, and after them otherwise, e.g. logits). The stage order is opts.stages, default
 * TT_DIFF_DEFAULT_STAGES; a point not in the list takes the place it has in capture order, right after the
 * listed stage captured before it.
 *
 * Ownership: the tt_diff handle owns every result; pointers returned by the accessors stay valid until
 * tt_diff_free(). Strings inside options and tolerance tables are copied by tt_diff_run(). The library never
 * prints; it reads the trace files through tt/reader.h (one reader per worker thread) and trusts nothing in them.
 * Thread safety: a handle is used by one thread at a time; different handles are independent.
 */
#ifndef TT_DIFF_H
#define TT_DIFF_H

#include "tt/common.h"
#include "tt/reader.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct tt_diff tt_diff;
typedef struct tt_diff_tols tt_diff_tols;

/* The seeds' pairing key (003_*.txt) and the default stage order (the seeds' list plus Q/K/V, the KV cache and
 * the attention scores and probabilities). */
#define TT_DIFF_DEFAULT_KEY "prompt_id,token_id,logical_tok_idx,pos_id,layer,point"
#define TT_DIFF_DEFAULT_STAGES                                                                              \
    "embed_out,residual_pre_attn,attn_norm_out,q_pre_rope,k_pre_rope,v,q_post_rope,k_post_rope,k_cache,"    \
    "v_cache,attn_scores,attn_probs,attn_out,residual_post_attn,ffn_norm_in,mlp_out,residual_post_mlp,"     \
    "logits,logits_top1"
#define TT_DIFF_DEFAULT_CACHE_POINTS "k_cache,v_cache"
/* The sides of one file compared without filters: the seeds' protocol, the last prefill row against the first
 * decode step. */
#define TT_DIFF_DEFAULT_LEFT "phase=prefill_last"
#define TT_DIFF_DEFAULT_RIGHT "phase=decode0"

typedef enum tt_diff_mode {
    TT_DIFF_MODE_DEFAULT = 0, /* TT_DIFF_NUMERIC */
    TT_DIFF_NUMERIC = 1,
    TT_DIFF_AS_DESIGNED = 2,
    TT_DIFF_KV_ALIGNED = 3
} tt_diff_mode;

typedef enum tt_diff_align {
    TT_DIFF_ALIGN_DEFAULT = 0, /* none */
    TT_DIFF_ALIGN_NONE = 1,    /* a unit is a whole record */
    TT_DIFF_ALIGN_POS = 2      /* multi-row records pair row by row with records at single positions */
} tt_diff_align;

/*
 * Options. Initialise with TT_DIFF_OPTIONS_INIT; 0 / NULL means the default. `size` lets the struct grow.
 *
 * Row alignment (TT_DIFF_ALIGN_POS): records that hold the same key (pos_id and rows included) pair whole; the
 * others are split into rows: row i of a record [rows, ...] with pos_id p stands at position p+i (and
 * logical_tok_idx l+i when set). token_id leaves the key, because a multi-row record carries the token id of its
 * first row only. Rows of a multi-row record that no unit of the other side covers are counted as uncovered, not
 * missing. Cache points (opts.cache_points: [kv_len, features] records indexed by position from pos_id 0) are
 * never split: they pair on the key without token_id and logical_tok_idx, over their common rows, and one cache
 * record may serve several of the other side (one prefill capture against every decode step).
 */
typedef struct tt_diff_options {
    uint32_t size;            /* sizeof(tt_diff_options), set by TT_DIFF_OPTIONS_INIT */
    tt_diff_mode mode;        /* default TT_DIFF_NUMERIC */
    tt_diff_align align;      /* default none */
    const char *key;          /* comma-separated key fields; NULL = TT_DIFF_DEFAULT_KEY, plus phase,step when
                                 neither side's filter constrains phase or step (see tt_diff_run) */
    const char *stages;       /* comma-separated stage order; NULL = TT_DIFF_DEFAULT_STAGES; "" = capture order */
    const char *cache_points; /* NULL = TT_DIFF_DEFAULT_CACHE_POINTS */
    const tt_diff_tols *tols; /* per point/layer tolerances (copied); NULL = the dtype defaults only */
    uint32_t threads;         /* comparison threads; 0 = online CPUs, at most 16 */
    double jump_ratio;        /* amplification bound: a stage's judged error above ratio x its inputs' (the
                                 baseline) is a MISMATCH (see "Judgement"); 0 = 4 */
    double jump_floor;        /* fresh floor in units of the stage precision's epsilon: an error above it is a
                                 MISMATCH whatever the baseline; 0 = the precision's default (see "Judgement") */
    uint32_t topk;            /* worst elements kept for the first failure; 0 = 16, at most 1024 */
    uint64_t slab_bytes;      /* tensors above this are compared in row slabs; 0 = 64 MiB */
    int verify_identical;     /* nonzero: read and compare hash-equal pairs too (default: MATCH unread) */
    int allow_nonfinite;      /* nonzero: NaN/Inf that both sides hold at the same elements are accepted (still
                                 reported); default: any NaN/Inf makes its pair a MISMATCH (root cause NONFINITE) */
    double stat_threshold;    /* |t| above which a scale or offset fit is a finding; 0 = 10 */
} tt_diff_options;

/* designated, so that -Wmissing-field-initializers stays quiet in callers */
#define TT_DIFF_OPTIONS_INIT {.size = sizeof(tt_diff_options)}

typedef enum tt_diff_verdict {
    TT_DIFF_MATCH = 0,
    TT_DIFF_WITHIN_TOL = 1,
    TT_DIFF_MISMATCH = 2,
    TT_DIFF_MISSING = 3
} tt_diff_verdict;

typedef enum tt_diff_overall {
    TT_DIFF_IDENTICAL = 0,
    TT_DIFF_STRUCTURAL_DRIFT = 1,
    TT_DIFF_OVERALL_MISMATCH = 2,
    TT_DIFF_NA = 3
} tt_diff_overall;

/* Pair flags. */
#define TT_DIFF_PAIR_HASH_SKIP 0x001u  /* MATCH decided by equal content hashes; no tensor was read */
#define TT_DIFF_PAIR_COMPARED 0x002u   /* metrics come from the full tensors */
#define TT_DIFF_PAIR_STATS_ONLY 0x004u /* a side has no tensor: compared by hash and min/max/mean only */
#define TT_DIFF_PAIR_HASH_ONLY 0x008u  /* a side has neither tensor nor stats: compared by hash only */
#define TT_DIFF_PAIR_ERROR 0x010u      /* the pair could not be compared (shape, read error): see error */
#define TT_DIFF_PAIR_DUPLICATE 0x020u  /* its key is not unique on a side: paired in capture order */
#define TT_DIFF_PAIR_ROWS 0x040u       /* at least one side is a row range of a larger record */
#define TT_DIFF_PAIR_JUMP 0x080u       /* its error jumps above its inputs' (jump_ratio, jump_baseline) */
#define TT_DIFF_PAIR_KV_FAIL 0x100u    /* a KV-cache check on this pair failed (kv_aligned) */
#define TT_DIFF_PAIR_DTYPES 0x200u     /* the sides have different dtypes: compared by value, ULPs of the coarser */
#define TT_DIFF_PAIR_NONFINITE 0x400u  /* a side holds NaN or Inf in the compared region */
#define TT_DIFF_PAIR_OUTLIERS 0x800u   /* the reference has outlying elements: judged on the robust scale */

/* One side of a pair: the record (strings owned by the diff) and the rows of it that were compared. */
typedef struct tt_diff_side {
    int present;        /* 0: no record on this side (MISSING) */
    uint64_t record;    /* record index in its file */
    uint64_t row_begin; /* first row compared */
    uint64_t row_count; /* rows compared; equal to shape[0] for a whole record (1 for rank 0) */
    tt_key key;         /* as stored (pos_id of the record, not of the row) */
    tt_dtype dtype;
    int ndim;
    uint64_t shape[TT_MAX_DIMS];
    uint32_t flags; /* TT_REC_* */
    uint64_t hash;
    tt_stats stats;
    /* Gathered from tensor-parallel shards (tt_diff_run_many): nshards > 0; key.shard_kind says how (SPLIT along
     * key.shard_dim, or PARTIAL sums), key.shard_count = nshards, key.rank TT_UNSET, shape the whole tensor's,
     * record shard 0's. No hash; statistics only for SPLIT (combined from the shards'). */
    uint32_t nshards;
    const uint64_t *shard_records; /* the shards' record indices (in the side's numbering), in shard order */
    const int32_t *shard_ranks;    /* their ranks */
    const uint64_t *shard_begin;   /* SPLIT: where shard k starts along shard_dim; nshards + 1 entries */
    double shard_rms;              /* PARTIAL: sqrt of the sum of the shards' squared RMS (the size of the
                                      addends, whose rounding the sum carries); 0 when unknown */
} tt_diff_side;

/* Metrics over the finite elements both sides hold (differences are left minus right). */
typedef struct tt_diff_metrics {
    uint64_t elems;        /* elements compared */
    uint64_t diff_elems;   /* elements whose stored bits differ */
    double max_abs;        /* max |left - right| */
    uint64_t max_abs_index;        /* flat index (within the compared rows) of max_abs */
    uint64_t max_abs_coord[TT_MAX_DIMS]; /* its coordinates in the compared region, row first */
    double max_abs_left, max_abs_right;  /* the two values there */
    double rel_l2;         /* ||left - right|| / ||right||; 0 when both are 0, +inf when only right is 0 */
    double cosine;         /* <l,r> / (||l|| ||r||); 1 when both are 0, 0 when one is */
    double max_ulp;        /* max distance in units in the last place of the stored dtype; with two dtypes, the
                              largest |left - right| in units in the last place of the coarser dtype at the
                              reference value (ulp_dtype in the judgement); -1 when not known */
    uint64_t outside_tol;  /* elements with |left - right| > atol + rtol*|right| (atol as applied, below) */
    uint64_t nan_mismatch; /* elements NaN on one side only */
    uint64_t inf_mismatch; /* elements infinite on one side and not the same infinity on the other */
    double rtol, atol;     /* the tolerance applied; atol = atol_abs + atol_rms * ref_rms */
    double atol_abs, atol_rms; /* the tolerance entry's absolute and RMS-relative parts */
    double ref_rms;        /* RMS of the right (reference) record: its stored l2 / sqrt(elements) */
    const char *tol_source; /* where it came from: "dtype bf16", "--tol attn_out", "file:3" ... */
} tt_diff_metrics;

/* Non-finite values of one side of a pair, over the compared region. */
typedef struct tt_diff_nonfinite {
    uint64_t nan, inf; /* counts (inf: both signs) */
    uint64_t neg_inf;  /* of inf, the -inf */
    uint64_t neg_inf_agree; /* -inf on both sides at the same element (the same on both sides' structs) */
    int64_t first;     /* flat index of the first NaN or Inf, -1 when none */
    uint64_t first_coord[TT_MAX_DIMS];
    double first_value; /* NaN, +inf or -inf */
} tt_diff_nonfinite;

/* What decided a pair's verdict (the judgement, see "Judgement" below). */
typedef enum tt_diff_decision {
    TT_DIFF_BY_NONE = 0,       /* MATCH, MISSING, or not compared from tensors */
    TT_DIFF_BY_WITHIN = 1,     /* every test passed: WITHIN_TOL */
    TT_DIFF_BY_TOLERANCE = 2,  /* elements outside the element tolerance */
    TT_DIFF_BY_FRESH = 3,      /* judged error above the fresh floor while the inputs are (near) exact */
    TT_DIFF_BY_AMPLIFIED = 4,  /* judged error above ratio x the inputs' error */
    TT_DIFF_BY_SCALE = 5,      /* the fit left = a*right + b: a != 1 */
    TT_DIFF_BY_OFFSET = 6,     /* the fit: b != 0 */
    TT_DIFF_BY_NONFINITE = 7,  /* NaN/Inf on a side (or disagreeing, with allow_nonfinite) */
    TT_DIFF_BY_ERROR = 8,      /* could not be compared (shapes) */
    TT_DIFF_BY_KV = 9,         /* a failed KV-cache check */
    TT_DIFF_BY_HASH = 10       /* as_designed: content hashes differ */
} tt_diff_decision;

/*
 * Judgement: a stage is judged by the error it adds beyond what its inputs explain.
 *   precision  the coarsest dtype of the pair's two sides and of every stage before it in its group's pipeline
 *              order (an f32 tensor computed from bf16 ones is judged at bf16); unit = its epsilon.
 *   scale      the reference's robust scale: its RMS, or, when some elements lie beyond 10x the RMS of the others
 *              (massive channels), the RMS of the others; the default element tolerance's RMS term uses it.
 *   error      the judged relative error: ||l - r|| / (scale sqrt(n)), each outlying element's difference taken
 *              relative to its own size (|d| scale / |r|); equal to rel_l2 when there are no outliers. Estimated on
 *              up to 32,768 elements (contiguous runs spread over the tensor) when there are outliers.
 *   baseline   the largest error of the stages before it in its layer and of the previous layer's last stage.
 *   floor      jump_floor x unit (default 1 for 8- and 16-bit precisions: a rounding flip of every element stays
 *              below it; 64 for f32 and f64, whose stages differ by reduction order, not by rounding).
 *   allowed    max(floor, jump_ratio x baseline). error > allowed is a MISMATCH: FRESH when the floor decided,
 *              AMPLIFIED when the baseline did.
 *   fit        left - right = alpha*right + beta over the elements that are not outliers (least squares), with
 *              heteroscedasticity-robust t statistics; |t| > stat_threshold and |alpha| (|beta|/scale) above
 *              max(unit/3, f x baseline) is a MISMATCH (SCALE / OFFSET; f = 1 up to |t| = 1.6 x the threshold, then
 *              1.6 x threshold / |t|, at least 1/2): rounding noise is unbiased and uncorrelated
 *              with the values, a scale or bias error is neither. Needs 256 elements.
 *   nonfinite  NaN/Inf on a side make the pair a MISMATCH (root cause NONFINITE) unless allow_nonfinite and both
 *              sides agree; -inf on both sides at the same elements (masked attention scores) is accepted, -inf
 *              on one side only is a MISMATCH named after its stage.
 */
typedef struct tt_diff_judgement {
    tt_dtype precision;
    tt_dtype ulp_dtype;  /* dtype whose units max_ulp counts (the coarser side's when the dtypes differ) */
    double unit;         /* epsilon of the precision */
    double scale;        /* robust scale of the reference */
    uint64_t outliers;   /* outlying elements seen (in the sample when sampled) */
    uint64_t sampled;    /* elements the error and the fit were estimated on (0: error = rel_l2, no fit) */
    double error, baseline, floor, allowed;
    double fit_alpha, fit_alpha_t, fit_beta, fit_beta_t; /* beta in units of scale; t = 0 when not fitted */
    uint64_t fit_n;
    tt_diff_nonfinite nonfinite[2]; /* left, right */
    tt_diff_decision decided_by;
} tt_diff_judgement;

typedef struct tt_diff_pair {
    tt_diff_side left, right;
    tt_diff_verdict verdict;         /* in the run's mode */
    tt_diff_verdict numeric_verdict; /* by metrics and tolerances, whatever the mode */
    uint32_t flags;                  /* TT_DIFF_PAIR_* */
    const char *root_cause;          /* "ATTN_OUT_DRIFT", "TRACE_OFFSET"... for pairs that are not MATCH */
    const char *error;               /* why the pair could not be compared, or NULL */
    tt_diff_metrics m;
    uint32_t group;                  /* index of its group (tt_diff_group_at) */
    const char *point;               /* stage (either side's point) */
    int32_t layer;
    int32_t stage_rank;              /* position in the stage order */
    double jump_ratio;               /* error / max(baseline, floor) (the judgement's error) */
    double jump_baseline;            /* the judgement's baseline */
    tt_diff_judgement j;             /* the numbers that decided the verdict */
    int32_t rank;                    /* the rank a finding on this pair comes from: a side's rank when the sides
                                        pair rank by rank or one side is one rank's; for a SPLIT-gathered side the
                                        rank whose shard holds the largest difference; for a missing or duplicate
                                        shard the rank named; TT_UNSET when not known (PARTIAL sums, one rank) */
} tt_diff_pair;

/* A group: the pairs of one prompt/token/position (the key without layer and point) — one row of the seeds'
 * results table. */
typedef struct tt_diff_group {
    const char *prompt_id;
    int32_t token_id, logical_tok_idx, pos_id;
    uint64_t pairs, match, within_tol, mismatch, missing;
    int64_t first_failure; /* pair index, or -1 */
    const char *root_cause; /* of its first failure, or NULL */
} tt_diff_group;

typedef struct tt_diff_counts {
    uint64_t pairs, match, within_tol, mismatch, missing;
    uint64_t left_records, right_records; /* records selected on each side */
    uint64_t duplicates;     /* pairs formed from keys that are not unique on a side */
    uint64_t uncovered_rows; /* row units of multi-row records no unit of the other side covers (align pos) */
    uint64_t errors;         /* pairs that could not be compared */
    uint64_t stats_only;     /* pairs compared by hash/stats only */
    uint64_t hash_skipped;   /* MATCH pairs decided by hash without reading */
    uint64_t jumps;          /* pairs failed by the judged error: FRESH or AMPLIFIED */
    uint64_t bytes_compared; /* tensor bytes read and compared, both sides */
    uint64_t nonfinite;      /* pairs with NaN or Inf on a side */
    uint64_t structured;     /* pairs failed by the scale or offset fit */
    uint64_t mixed_dtypes;   /* pairs whose sides differ in dtype */
} tt_diff_counts;

/* Histogram of |left - right| over the first failing pair: edges[i] = 10^(-10 + i/2) (1e-10 .. 1e4);
 * hist_counts[0] holds exact zeros, hist_counts[1] errors in (0, edges[0]], hist_counts[i+1] errors in
 * (edges[i-1], edges[i]], hist_counts[TT_DIFF_HIST_BINS+1] errors above the last edge. NaN/Inf disagreements are
 * not counted (they lead the worst elements with abs_err = +inf). */
#define TT_DIFF_HIST_BINS 29
typedef struct tt_diff_worst {
    uint64_t index; /* flat index within the compared region */
    uint64_t coord[TT_MAX_DIMS];
    double left, right, abs_err;
} tt_diff_worst;

typedef struct tt_diff_failure {
    int64_t pair;         /* pair index, or -1 when a KV check is the failure */
    int64_t kv_check;     /* KV check index, or -1 */
    uint32_t group;
    int32_t layer;
    const char *point;
    const char *root_cause; /* "ROPE_DRIFT", "TRACE_OFFSET", "KV_CACHE_DRIFT", "CAUSAL_MASK_DRIFT"... */
    int detail;             /* 1 when the histogram and worst elements below are filled */
    double hist_edges[TT_DIFF_HIST_BINS];
    uint64_t hist_counts[TT_DIFF_HIST_BINS + 2];
    uint32_t nworst;
    const tt_diff_worst *worst; /* largest errors first */
} tt_diff_failure;

/* Evidence items: jumps, stats-only comparisons, kv_aligned indicators, warnings about the inputs. */
typedef enum tt_diff_evidence_kind {
    TT_DIFF_EV_JUMP = 0,      /* amplified: a = the pair's judged error, b = its inputs' (the baseline) */
    TT_DIFF_EV_STATS = 1,     /* stats-only comparison: a = max |stat difference|, b = its tolerance */
    TT_DIFF_EV_QKV = 2,       /* kv_aligned: a Q/K/V or softmax pair: a = rel_l2, b = max_abs */
    TT_DIFF_EV_NOTE = 3,      /* something the reader of the report must know (text) */
    TT_DIFF_EV_WARNING = 4,   /* the inputs look wrong (different models...) */
    TT_DIFF_EV_FRESH = 5,     /* fresh divergence: a = judged error, b = the floor it exceeds */
    TT_DIFF_EV_STRUCTURED = 6,/* a scale or offset fit: a = the estimate (alpha, or beta/scale), b = its t */
    TT_DIFF_EV_NONFINITE = 7, /* NaN/Inf on a side: a = NaN count, b = Inf count */
    TT_DIFF_EV_DTYPES = 8     /* the sides differ in dtype: judged at the coarser one's unit */
} tt_diff_evidence_kind;

typedef struct tt_diff_evidence {
    tt_diff_evidence_kind kind;
    int64_t pair; /* or -1 */
    double a, b;
    const char *text;
} tt_diff_evidence;

/* KV-cache checks (kv_aligned mode). */
typedef enum tt_diff_kv_kind {
    TT_DIFF_KV_PREFIX = 0, /* cache rows both sides' prefill wrote must be bitwise equal; the rows decode steps
                              wrote (the last `step` rows of the side with the larger step) are compared with
                              the tolerance */
    TT_DIFF_KV_WRITE = 1,  /* on one side: the cache rows at the positions of a K (k_post_rope) or V record of the
                              same prompt/token/layer must equal that record bitwise (the cache only stores it) */
    TT_DIFF_KV_CAUSAL = 2  /* on one side: an attn_probs record [rows, heads, kv_len] at pos_id p puts no weight
                              on key positions past p+i in row i */
} tt_diff_kv_kind;

typedef struct tt_diff_kv_check {
    tt_diff_kv_kind kind;
    int passed;       /* 1 pass, 0 fail, -1 not applicable (see text) */
    int side;         /* 0 left, 1 right, 2 both (PREFIX) */
    int64_t pair;     /* the cache / attn_probs pair concerned, or -1 */
    uint32_t group;
    const char *prompt_id;
    const char *point;
    int32_t layer;
    uint64_t rows_checked;
    uint64_t bad_rows;    /* rows that failed */
    int64_t first_bad_row; /* position of the first failing row (or -1) */
    int64_t first_bad_col; /* element within that row (causal: head * kv_len + key), or -1 */
    double max_abs;       /* largest difference (causal: largest probability past the position) */
    const char *text;     /* what was checked and found, one sentence */
} tt_diff_kv_check;

/* What the run used: the effective key and stage order, the mode, threads and timings. */
typedef struct tt_diff_info {
    const char *key;     /* effective key, comma separated */
    const char *stages;  /* effective stage order, comma separated (listed stages, then the others placed) */
    tt_diff_mode mode;
    tt_diff_align align;
    uint32_t threads;
    double seconds;      /* wall time of tt_diff_run */
    const char *left_path, *right_path;
    double jump_ratio, jump_floor, stat_threshold; /* the judgement's parameters (jump_floor 0: per precision) */
    int allow_nonfinite;
} tt_diff_info;

/*! tt_diff_run() : reads both sides, pairs, compares and judges. left_path is required; right_path NULL compares
 *  two sides of one file (a right_path equal to left_path compares the file with itself, side against side). The filters (NULL = all records) select each side's records; with
 *  one file they must differ. When opts->key is NULL the key is TT_DIFF_DEFAULT_KEY, plus "phase,step" when
 *  neither filter names phase or step (two runs of one protocol: their phases pair with each other).
 *  @return : TT_OK with *out set, whatever the verdict. On failure a negative code with *out a failed handle
 *  whose tt_diff_errmsg() says what and where (free it with tt_diff_free; NULL only on TT_E_NOMEM):
 *  TT_E_IO / TT_E_NOTTRACE / TT_E_VERSION / TT_E_CORRUPT (a file cannot be opened or read), TT_E_INVAL (bad
 *  options: unknown key field, empty stage name, one file with identical filters), TT_E_NOTFOUND (a side
 *  selects no record: the message names the side and its filter), TT_E_MISMATCH (records on both sides but not
 *  one pair: the message names the key). A tensor of a pair that cannot be read (checksum, damaged frame) fails
 *  the run with TT_E_CORRUPT or TT_E_IO, the message naming the file, the record and the reader's finding (offset
 *  included): damaged input is never a verdict. Shapes that do not fit are not failures of the run: the pair
 *  carries TT_DIFF_PAIR_ERROR and is a MISMATCH. */
TT_API int tt_diff_run(tt_diff **out, const char *left_path, const tt_filter *left_filter, const char *right_path,
                       const tt_filter *right_filter, const tt_diff_options *opts);

/*! tt_diff_run_many() : tt_diff_run() with several files per side: each side's files are read as one
 *  (tt_reader_open_many: the per-rank files of one run; files of different runs or two files of one rank fail the
 *  run with TT_E_INVAL naming the file). nright 0 compares two sides of the left files chosen by the filters.
 *  Records keep their rank (tt_diff_side.key.rank) and their file (tt_reader_file_of on a reader of the side).
 *  Pairing across layouts:
 *    - both sides of more than one rank, the same number of ranks: rank by rank (rank joins the key);
 *    - otherwise shards are gathered before they are compared: the records of one side that are shards
 *      (key.shard_kind TT_SHARD_SPLIT / TT_SHARD_PARTIAL) with the same key but for rank and shard index make one
 *      unit, SPLIT shards concatenated along their dimension, PARTIAL sums added in shard order (in double, then
 *      rounded once to their dtype; the stage's precision widens by the partials' size over the sum's, see
 *      tt_diff_judgement.unit). A shard missing, held twice, or shards that disagree on their layout, shape or
 *      dtype make the unit's pair a MISMATCH (TT_DIFF_PAIR_ERROR) whose error names the shard and rank. Records
 *      of several ranks that are not shards (replicated tensors) pair each with the other side's one record.
 *  tt_diff_pair.rank names the rank a finding is attributed to.
 *  @return : as tt_diff_run(). */
TT_API int tt_diff_run_many(tt_diff **out, const char *const *left, size_t nleft, const tt_filter *left_filter,
                            const char *const *right, size_t nright, const tt_filter *right_filter,
                            const tt_diff_options *opts);

/*
 * Two-pass capture. Full capture of a large model is too big to run twice; capture cheaply first
 * (TT_TRACE_MODE=hash or stats), diff, then capture in full only around the first divergence. The plan is
 * the writer's filters for that second run (tt/writer.h, "FILTERS"):
 *   TT_TRACE_PROMPTS  the prompt of the first failure
 *   TT_TRACE_PHASES   its phase(s) (both sides' when they differ)
 *   TT_TRACE_LAYERS   its layer with the one before and the one after ("2-4"); "0" for a stage before the
 *                     layers, the last layer for one after them
 *   TT_TRACE_POINTS   the stages present up to one past the failing stage, and the stage that ends a layer (its
 *                     output feeds the next layer)
 * and how many of the left side's records (and tensor bytes, when the cheap trace knows the shapes) it keeps.
 */
typedef struct tt_diff_plan {
    int64_t pair;              /* the first failure's pair the plan is centred on; -1: no plan (no failure) */
    const char *prompts, *phases, *layers, *points; /* the variables' values; NULL without a plan */
    int32_t layer_lo, layer_hi;                     /* the layers captured (TT_UNSET without a plan) */
    uint64_t records_selected, records_total;       /* of the left side's records */
    uint64_t bytes_selected, bytes_total;           /* their tensor bytes (dtype x shape) */
} tt_diff_plan;

/*! tt_diff_plan_get() : the capture plan of a finished run (see above). @return : TT_OK (out->pair -1 when
 *  there is no failure to capture around), TT_E_INVAL (d NULL or a failed run). */
TT_API int tt_diff_plan_get(const tt_diff *d, tt_diff_plan *out);

/*! tt_diff_free() : NULL is a no-op. */
TT_API void tt_diff_free(tt_diff *d);

/*! tt_diff_errmsg() : the error of a failed run ("" when none). */
TT_API const char *tt_diff_errmsg(const tt_diff *d);

/*! tt_diff_overall_verdict() : the overall verdict. A failed handle gives TT_DIFF_NA. */
TT_API tt_diff_overall tt_diff_overall_verdict(const tt_diff *d);
/*! tt_diff_subcause() : for MISMATCH, the root cause of the first failure ("ROPE_DRIFT"); for N/A, what is
 *  missing ("no k_cache/v_cache tensors"); NULL otherwise. */
TT_API const char *tt_diff_subcause(const tt_diff *d);

/*! tt_diff_counts_get() : the counts. @return : TT_OK or TT_E_INVAL. */
TT_API int tt_diff_counts_get(const tt_diff *d, tt_diff_counts *out);
/*! tt_diff_info_get() : what the run used. @return : TT_OK or TT_E_INVAL. */
TT_API int tt_diff_info_get(const tt_diff *d, tt_diff_info *out);

/*! tt_diff_pair_count() / tt_diff_pair_at() : the pairs, by group (first capture) then pipeline order;
 *  NULL out of range. */
TT_API uint64_t tt_diff_pair_count(const tt_diff *d);
TT_API const tt_diff_pair *tt_diff_pair_at(const tt_diff *d, uint64_t i);

/*! tt_diff_group_count() / tt_diff_group_at() : the groups in order of first capture; NULL out of range. */
TT_API uint32_t tt_diff_group_count(const tt_diff *d);
TT_API const tt_diff_group *tt_diff_group_at(const tt_diff *d, uint32_t i);

/*! tt_diff_first_nonfinite() : the first pair in pipeline order (ties: the earlier group) whose `side` (0 left,
 *  1 right) holds a NaN or an Inf; NULL when none. */
TT_API const tt_diff_pair *tt_diff_first_nonfinite(const tt_diff *d, int side);

/*! tt_diff_decision_name() : "tolerance", "fresh", "amplified", "scale", "offset", "nonfinite"... */
TT_API const char *tt_diff_decision_name(tt_diff_decision v);

/*! tt_diff_first_failure() : the earliest failure in pipeline order (ties: the earlier group), with the
 *  histogram and worst elements of its pair; NULL when there is none. */
TT_API const tt_diff_failure *tt_diff_first_failure(const tt_diff *d);

/*! tt_diff_chain() : the propagation chain: the pairs of the first failure's group after it in pipeline order
 *  that are not MATCH. *n = 0 when there is no failure. */
TT_API const uint64_t *tt_diff_chain(const tt_diff *d, uint64_t *n);

/*! tt_diff_evidence_count() / tt_diff_evidence_at() */
TT_API uint64_t tt_diff_evidence_count(const tt_diff *d);
TT_API const tt_diff_evidence *tt_diff_evidence_at(const tt_diff *d, uint64_t i);

/*! tt_diff_kv_check_count() / tt_diff_kv_check_at() : KV checks run (kv_aligned mode only). */
TT_API uint64_t tt_diff_kv_check_count(const tt_diff *d);
TT_API const tt_diff_kv_check *tt_diff_kv_check_at(const tt_diff *d, uint64_t i);

/*! tt_diff_meta() : the i-th metadata key/value of a side's file (side 0 left, 1 right).
 *  @return : TT_OK or TT_E_RANGE. tt_diff_meta_count() gives the count. */
TT_API uint64_t tt_diff_meta_count(const tt_diff *d, int side);
TT_API int tt_diff_meta(const tt_diff *d, int side, uint64_t i, const char **key, const char **value);

/*
 * The run as a JSON document (schemas/diff.schema.json, "tensortrace.diff/1"): the overall verdict, counts, the
 * first failure with its histogram and worst elements, the chain, groups, every pair with both sides and its
 * metrics, evidence, KV checks, both files' paths, filters and metadata, timing. It is what `tracediff --json`
 * writes. The compiled filters do not keep their text, so the caller names each side's conditions for the
 * document's "filter" fields; one file compared without any is shown with the default sides tt_diff_run() used.
 */
typedef struct tt_diff_json_options {
    uint32_t size;                  /* sizeof(tt_diff_json_options), set by TT_DIFF_JSON_OPTIONS_INIT */
    const char *const *left_conds;  /* the left side's conditions as given ("phase=prefill_last"); may be NULL */
    size_t left_nconds;
    const char *const *right_conds; /* the right side's */
    size_t right_nconds;
} tt_diff_json_options;

#define TT_DIFF_JSON_OPTIONS_INIT {.size = sizeof(tt_diff_json_options)}

/*! tt_diff_json() : renders a finished run as its JSON document, one line of UTF-8 ending in a newline, into
 *  *out (malloc'd, NUL-terminated; free it with free()). Non-finite numbers are null; 64-bit hashes are 16 hex
 *  digits plus a decimal string. opts NULL: no conditions named.
 *  @return : TT_OK; TT_E_INVAL (out or d NULL), TT_E_STATE (d is a failed run), TT_E_NOMEM. *out is NULL on
 *  failure. */
TT_API int tt_diff_json(const tt_diff *d, const tt_diff_json_options *opts, char **out);

/*! tt_diff_verdict_name() / tt_diff_overall_name() / tt_diff_mode_name() : "WITHIN_TOL", "STRUCTURAL_DRIFT",
 *  "N/A", "kv_aligned"...; tt_diff_mode_from_name() parses the latter (TT_E_PARSE when unknown). */
TT_API const char *tt_diff_verdict_name(tt_diff_verdict v);
TT_API const char *tt_diff_overall_name(tt_diff_overall v);
TT_API const char *tt_diff_mode_name(tt_diff_mode m);
TT_API int tt_diff_mode_from_name(const char *name, tt_diff_mode *out);
TT_API const char *tt_diff_kv_kind_name(tt_diff_kv_kind k);

/*! tt_diff_root_cause_name() : the root cause of a failing pair at `point` (EMBED_DRIFT, ATTN_NORM_DRIFT, ...;
 *  upper-case point + "_DRIFT" for points outside the table). Writes into buf; returns buf. */
TT_API const char *tt_diff_root_cause_name(const char *point, char *buf, size_t len);

/*
 * Tolerances. A table of (point, layer) -> (rtol, atol_abs, atol_rms); "*" matches any point, any_layer any
 * layer. An element passes when |left - right| <= atol_abs + atol_rms * rms(right) + rtol * |right|, where
 * rms(right) is the root mean square of the reference record (from its stored statistics). The RMS term is what
 * makes one tolerance fit every tensor: reduction-order noise in an element is proportional to the size of the
 * terms summed into it, i.e. to the tensor's scale, not to the element (an element near zero from cancellation
 * carries the noise of its large summands). A pair uses the first entry that fits, in this order: its point and
 * layer, its point and any layer, any point and its layer, any point and any layer; then the default of its
 * dtype (the coarser of its two dtypes). Entries added later replace earlier ones with the same point and layer.
 *
 * Default tolerances (rtol, atol_abs, atol_rms), tools/tracediff/README.md says why: f64 1e-12, 0, 1e-12;
 * f32 1e-4, 0, 1e-4; f16 3.9e-3, 0, 1.56e-2 (4 and 16 eps); bf16 3.125e-2, 0, 0.125 (4 and 16 eps); fp8 e4m3
 * (and fnuz) 0.25, 0, 0.5; fp8 e5m2 (and fnuz) 0.5, 0, 1 (2 and 4 eps); integers exact (0, 0, 0); unknown
 * dtype (legacy stats-only records, compared on min/max/mean) 3.2e-2, 1e-3, 0.
 *
 * File format (tt_diff_tol_parse, written by tt_diff_tols_format): UTF-8 text, one entry a line,
 *   POINT LAYER RTOL ATOL
 * separated by spaces or tabs; POINT a point name or "*"; LAYER an integer >= -1 or "*"; RTOL a finite
 * non-negative decimal number; ATOL the same, absolute, or the same followed by "rms" (e.g. 4e-3rms) for a
 * multiple of the reference's RMS. '#' starts a comment; blank lines are ignored. The same (POINT, LAYER) twice
 * is an error. The command-line form is POINT[@LAYER]=RTOL:ATOL with the same ATOL forms.
 */

/*! tt_diff_tols_new() / tt_diff_tols_free() : an empty table (NULL on allocation failure); free(NULL) no-op. */
TT_API tt_diff_tols *tt_diff_tols_new(void);
TT_API void tt_diff_tols_free(tt_diff_tols *t);

/*! tt_diff_tols_set() : adds or replaces (point, layer); point "*" = any, any_layer nonzero = any layer.
 *  source names the origin for reports (copied; NULL = "api"). @return : TT_OK, TT_E_INVAL (negative or
 *  non-finite values, empty point), TT_E_LIMIT (65536 entries), TT_E_NOMEM. */
TT_API int tt_diff_tols_set(tt_diff_tols *t, const char *point, int any_layer, int32_t layer, double rtol,
                            double atol_abs, double atol_rms, const char *source);

/*! tt_diff_tol_parse() : parses a tolerance file held in text[0..len) (need not be NUL-terminated; untrusted)
 *  and adds its entries to t. @return : TT_OK, or TT_E_PARSE with "line L, column C: what" in err (t then holds
 *  the entries of the lines before), TT_E_NOMEM, TT_E_LIMIT (more than 65536 entries or a line over 4096
 *  bytes). */
TT_API int tt_diff_tol_parse(const char *text, size_t len, tt_diff_tols *t, char *err, size_t errlen);

/*! tt_diff_tol_spec() : parses one command-line override "POINT[@LAYER]=RTOL:ATOL" ("*" for any point) and
 *  adds it. @return : TT_OK or TT_E_PARSE with a message in err. */
TT_API int tt_diff_tol_spec(tt_diff_tols *t, const char *spec, char *err, size_t errlen);

/*! tt_diff_tols_format() : the table as tolerance-file text (malloc'd, NUL-terminated, *out; free with free()).
 *  @return : TT_OK or TT_E_NOMEM. */
TT_API int tt_diff_tols_format(const tt_diff_tols *t, char **out);

/*! tt_diff_tols_count() : entries in the table. */
TT_API size_t tt_diff_tols_count(const tt_diff_tols *t);

/*! tt_diff_default_tol() : the default (rtol, atol_abs, atol_rms) of a dtype (any pointer may be NULL).
 *  @return : TT_OK. */
TT_API int tt_diff_default_tol(tt_dtype dt, double *rtol, double *atol_abs, double *atol_rms);

/*! tt_diff_calibrate() : tolerances from a known-good comparison: for each point and layer with compared pairs,
 *  rtol = the dtype default, atol_abs = 0 and atol_rms = margin x the largest max_abs / rms(right) observed (0
 *  when every pair was bitwise equal: the stage is exact); plus a (point, any layer) entry with the largest over
 *  the layers. margin <= 0 means 4. *out is a new table (tt_diff_tols_free). @return : TT_OK, TT_E_INVAL,
 *  TT_E_NOMEM. */
TT_API int tt_diff_calibrate(const tt_diff *d, double margin, tt_diff_tols **out);

#ifdef __cplusplus
}
#endif
#endif /* TT_DIFF_H */
