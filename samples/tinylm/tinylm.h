/*
 * tinylm.h — the tiny reference engine: a Llama-style decoder (token embedding, RMSNorm, Q/K/V projections,
 * RoPE, grouped-query causal attention with a KV cache, output projection, SwiGLU MLP, residuals, final norm,
 * logits) with deterministic weights from a seed, and two genuinely different execution paths:
 *
 *   prefill  the whole prompt at once: row-independent tiled matrix-matrix kernels (every output element is a
 *            plain sequential sum over k, whatever the number of rows), attention as Q.K^T, a full softmax per
 *            row and P.V, causal mask applied by skipping (and recording -inf / 0 for) future positions;
 *   decode   one token against the KV cache: matrix-vector kernels with 8-lane interleaved partial sums and a
 *            tree reduction, 4-lane dot products, an online (streaming, flash-decoding style) softmax over blocks
 *            of keys that never materialises the probabilities.
 *
 * The same function is used where both paths must agree bitwise (embedding lookup, RMSNorm, RoPE, SiLU, the
 * residual adds), so a correct engine's prefill_last and decode0 tensors are bitwise equal up to the first
 * projection of layer 0 and differ by small structural drift after it. Bug switches (tl_bug) reproduce the
 * classic prefill/decode bugs; README.md says where each shows first.
 *
 * Storage dtype: f32, or bf16 where every stage's output is rounded to bf16 (weights too), as engines that keep
 * activations in bf16 do; arithmetic is f32 inside a stage.
 *
 * Ownership: tl_model_init() allocates the weights, tl_model_free() releases them; a tl_cache belongs to its
 * creator (tl_cache_new / tl_cache_free). The engine never prints and never exits; allocation failures return -1.
 */
#ifndef TINYLM_H
#define TINYLM_H

#include <stddef.h>
#include <stdint.h>

#define TINYLM_VERSION "0.1.0"

/* The bug switches. Each is off by default; README.md documents the first stage where each shows. */
typedef enum tl_bug {
    TL_BUG_NONE = 0,
    TL_BUG_ROPE_POS,      /* decode rotates q and k for position pos+1 */
    TL_BUG_MASK,          /* prefill's causal mask is off by one: row i also sees row i+1 */
    TL_BUG_KV_OFFSET,     /* decode writes its K/V at cache row pos+1, then attends over rows 0..pos */
    TL_BUG_SOFTMAX_SCALE, /* decode scales scores by 1/head_dim instead of 1/sqrt(head_dim) */
    TL_BUG_NORM_EPS,      /* decode's RMSNorm uses eps 1e-2 instead of the model's 1e-5 */
    TL_BUG_COUNT
} tl_bug;

/* The eps the norm-eps bug puts in the decode path (the model's own is tl_config.rms_eps). */
#define TL_BUG_NORM_EPS_VALUE 1e-2f

/* Model sizes and numerics. */
typedef struct tl_config {
    int layers;       /* decoder layers */
    int hidden;       /* model width */
    int heads;        /* query heads */
    int kv_heads;     /* key/value heads (grouped-query attention: heads % kv_heads == 0) */
    int head_dim;     /* hidden / heads, even (RoPE rotates pairs) */
    int ffn;          /* SwiGLU inner width */
    int vocab;        /* vocabulary size */
    float rms_eps;    /* RMSNorm epsilon */
    double rope_theta;
    int bf16;         /* 1: round every stage's output (and the weights) to bf16 */
    uint64_t seed;    /* weights and prompt tokens derive from it */
    tl_bug bug;
} tl_config;

/* Fills the defaults: 4 layers, hidden 256, 8 heads, 2 kv heads, ffn 688, vocab 512, f32, seed 1, no bug. */
void tl_config_default(tl_config *c);

/* Derives head_dim (and ffn when 0: 8/3 * hidden rounded up to a multiple of 16) and checks the sizes.
 * @return : 0, or -1 with a message in err naming what is wrong. */
int tl_config_finish(tl_config *c, char *err, size_t errlen);

/* The bug's command-line name ("rope-pos") and back. tl_bug_from_name returns -1 for an unknown name. */
const char *tl_bug_name(tl_bug b);
int tl_bug_from_name(const char *name);

/* Weights of one decoder layer, row-major [out][in] like a framework's Linear. */
typedef struct tl_layer {
    float *attn_norm; /* [hidden] */
    float *wq;        /* [heads*head_dim][hidden] */
    float *wk;        /* [kv_heads*head_dim][hidden] */
    float *wv;        /* [kv_heads*head_dim][hidden] */
    float *wo;        /* [hidden][heads*head_dim] */
    float *ffn_norm;  /* [hidden] */
    float *w_gate;    /* [ffn][hidden] */
    float *w_up;      /* [ffn][hidden] */
    float *w_down;    /* [hidden][ffn] */
} tl_layer;

typedef struct tl_model {
    tl_config cfg;
    float *embed;      /* [vocab][hidden] */
    float *final_norm; /* [hidden] */
    float *lm_head;    /* [vocab][hidden] */
    tl_layer *layer;   /* [layers] */
    float *block;      /* one allocation holding every tensor above */
} tl_model;

/* Generates the weights from cfg->seed (cfg must have passed tl_config_finish). @return : 0 or -1 (memory). */
int tl_model_init(tl_model *m, const tl_config *cfg);
void tl_model_free(tl_model *m);

/* The KV cache of one sequence: per layer, capacity rows of kv_heads*head_dim floats for K and for V, zeroed at
 * creation (so a row never written reads as zeros). */
typedef struct tl_cache {
    int capacity;
    int kv_dim;
    int layers;
    float *k; /* [layers][capacity][kv_dim] */
    float *v;
} tl_cache;

tl_cache *tl_cache_new(const tl_config *cfg, int capacity);
void tl_cache_free(tl_cache *c);

/*
 * Tensor parallelism, emulated in one process (tp.c). Rank r of n holds heads [r*heads/n, (r+1)*heads/n) with
 * their Q rows and output-projection columns, the matching KV heads (a slice when n divides kv_heads; one KV
 * head, replicated on n/kv_heads ranks, when kv_heads divides n), and MLP columns [r*ffn/n, (r+1)*ffn/n) of
 * gate/up with the matching down-projection columns. Each rank computes its slice; the output projection and the
 * down projection give per-rank partial sums, which an all-reduce adds in rank order (a reduction order of its
 * own: TP=1 sums over the whole inner dimension in one pass). Embeddings, norms, residuals and logits are
 * replicated (computed once). n = 1 is the plain engine, bit for bit.
 */
#define TL_MAX_TP 64

typedef struct tl_tp {
    int n;                     /* ranks */
    tl_model full;             /* the whole model (shares the caller's weights); its cfg.bug is the bug of the
                                  replicated stages: none when the bug is on one rank only */
    tl_model rank[TL_MAX_TP];  /* rank r's shard: cfg with heads/n, kv heads, ffn/n and rank r's bug; weights */
    float *block;              /* the shards' copied weights (NULL for n = 1) */
    tl_layer *layers;          /* the shards' layer tables */
} tl_tp;

/* Checks that n ranks can split the model (n divides heads and ffn; n divides kv_heads or kv_heads divides n).
 * @return : 0, or -1 with a message in err. */
int tl_tp_check(const tl_config *cfg, int n, char *err, size_t errlen);

/* Builds the shards of m for n ranks (tl_tp_check must pass). The bug of m->cfg acts on every rank, or only on
 * bug_rank when bug_rank >= 0. @return : 0 or -1 (memory). */
int tl_tp_init(tl_tp *tp, const tl_model *m, int n, int bug_rank);
void tl_tp_free(tl_tp *tp);

struct tl_rec; /* trace.h: where the engine's tensors go; NULL traces nothing */

/* Runs the prompt tokens[0..n) at positions 0..n-1 through the prefill path, writing K/V rows 0..n-1 of each
 * rank's cache (caches[r], made with tl_cache_new(&tp->rank[r].cfg, ...)). logits_out (may be NULL) receives the
 * last row's logits [vocab].
 * @return : 0, or -1 on allocation failure or when n does not fit the cache. */
int tl_prefill(const tl_tp *tp, tl_cache *const *caches, const int32_t *tokens, int n, struct tl_rec *rec,
               float *logits_out);

/* Runs one token at position pos through the decode path, reading cache rows 0..pos-1 and writing row pos.
 * @return : 0 or -1 (allocation failure, pos outside the cache). */
int tl_decode(const tl_tp *tp, tl_cache *const *caches, int32_t token, int pos, struct tl_rec *rec,
              float *logits_out);

/* Deterministic token ids of a prompt: derived from its name and the seed, each in [0, vocab). */
void tl_prompt_tokens(const char *name, uint64_t seed, int vocab, int32_t *out, int n);

#endif /* TINYLM_H */
