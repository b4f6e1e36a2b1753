/*
 * trace.h — where tinylm's tensors go: a recorder that turns the engine's buffers into libtrace records with the
 * seeds' key fields. The engine calls tl_trace_rows() / tl_trace_cache() at every capture point; the recorder
 * knows which pass is running (a prefill, recorded as phase "prefill_last" and/or "prefill", or a decode step,
 * phase "decode0") and fills the key, slices the last row for prefill_last, and converts to bf16 when the model
 * stores bf16. A NULL recorder records nothing (the calls cost a branch).
 *
 * Key fields (see samples/tinylm/README.md, "Trace layout"):
 *   prefill_last  step 0, the last row only: rows 1, pos_id n-1, token_id/logical_tok_idx of the last token
 *   prefill       step 0, every row: rows n, pos_id 0, token_id/logical_tok_idx of the first token
 *   decode0       step 1, the one row: rows 1, pos_id pos, token_id/logical_tok_idx of the decoded token
 *   k_cache, v_cache: [kv_len, kv_dim], rows kv_len, pos_id 0, token fields of the token being processed
 *   (prefill_last, decode0) or of the first token (prefill).
 *
 * Tensor parallelism (--tp N): one writer per rank (tl_rec.w[r]). The engine says which rank computes what
 * follows (tl_rec_rank: a rank, or TL_REPLICATED for the stages every rank computes alike) and how a per-rank
 * tensor relates to the whole (tl_rec_layout). Replicated stages are written once, by rank 0, as whole tensors;
 * a rank's stages go to its own file with the shard layout of tt_key:
 *   TL_LAYOUT_HEADS     q_*, attn_scores, attn_probs: SPLIT along dimension 1 (heads), shard rank of N
 *   TL_LAYOUT_KV_HEADS  k_*, v, k_cache, v_cache: SPLIT along dimension 1 (KV heads), shard rank of N; when KV
 *                       heads are replicated (N > kv_heads) only the first rank of each replica group writes,
 *                       as shard (its KV head) of kv_heads
 *   TL_LAYOUT_PARTIAL   attn_out, mlp_out (before the all-reduce): PARTIAL, addend rank of N
 * With one rank every record is a whole tensor (no shard fields), as without --tp.
 *
 * Errors: the first failing tt_put() is kept (tl_rec.status and the rank whose writer failed, message from
 * tt_writer_errmsg()); later calls do nothing, and the driver stops at the next check.
 */
#ifndef TINYLM_TRACE_H
#define TINYLM_TRACE_H

#include <stddef.h>
#include <stdint.h>

#include "tt/writer.h"

#define TL_REPLICATED (-1) /* tl_rec_rank(): a stage every rank computes alike */

typedef enum tl_layout { TL_LAYOUT_WHOLE, TL_LAYOUT_HEADS, TL_LAYOUT_KV_HEADS, TL_LAYOUT_PARTIAL } tl_layout;

typedef struct tl_rec {
    tt_writer **w;         /* [tp] one writer per rank; NULL entries are disabled writers (libtrace's convention) */
    int tp;                /* ranks (1 without --tp) */
    int kv_heads;          /* the whole model's KV heads (replicated when tp > kv_heads) */
    int rank;              /* the rank computing what follows, or TL_REPLICATED */
    tl_layout layout;      /* the layout of the rank's next records */
    int failed_rank;       /* the rank whose writer failed first (with status) */
    const char *prompt_id;
    const int32_t *tokens; /* the prompt's tokens, indexed by logical_tok_idx */
    int bf16;              /* store tensors as TT_BF16 (values are already bf16-exact) */
    int decode;            /* 0: a prefill pass; 1: a decode step */
    int emit_last;         /* prefill: record phase "prefill_last" (last row) */
    int emit_full;         /* prefill: record phase "prefill" (all rows) */
    int pos;               /* decode: the position of the token */
    int status;            /* first negative tt_put() status, 0 while none */
    uint16_t *scratch;     /* bf16 conversion buffer */
    size_t scratch_cap;
    double put_seconds;    /* time the engine thread spent in the recorder (conversion and tt_put) */
} tl_rec;

/* The rank computing the next stages (or TL_REPLICATED), and the layout of its next records. NULL r: no-op. */
void tl_rec_rank(tl_rec *r, int rank);
void tl_rec_layout(tl_rec *r, tl_layout layout);

/* Records a row-leading tensor [nrows, tail...] held in data (nrows = n for a prefill, 1 for a decode step);
 * tail has ntail (0..3) dimensions. */
void tl_trace_rows(tl_rec *r, const char *point, int layer, const float *data, int nrows, int ntail,
                   const uint64_t *tail);

/* Records, as phase prefill_last only, the last row of an n-row prefill when only that row was computed
 * (the logits); row holds [1, tail...]. Nothing in a decode step. */
void tl_trace_last(tl_rec *r, const char *point, int layer, const float *row, int n, int ntail,
                   const uint64_t *tail);

/* Records the cache rows the attention reads: [kv_len, kv_dim]. */
void tl_trace_cache(tl_rec *r, const char *point, int layer, const float *rows, int kv_len, int kv_dim);

/* Frees the recorder's scratch buffer (not the writer). */
void tl_rec_release(tl_rec *r);

#endif /* TINYLM_TRACE_H */
