/*
 * attention.h — tinylm's two attention kernels (see attention.c). Layouts are row-leading:
 *   q       [rows][heads*head_dim]            (after RoPE)
 *   kc, vc  [kv_len][kv_heads*head_dim]       (one layer of the KV cache)
 *   scores, probs  [rows][heads][kv_len]      (prefill: kv_len = n, masked entries -inf / 0)
 *   out     [rows][heads*head_dim]            (before the output projection)
 * Head h reads kv head h / (heads / kv_heads).
 */
#ifndef TINYLM_ATTENTION_H
#define TINYLM_ATTENTION_H

#include "tinylm.h"

/* Prefill over n rows at positions 0..n-1. mask_lookahead is 0 for a correct causal mask; the mask bug passes 1
 * (row i also sees row i+1). */
void tl_attn_prefill(const tl_config *cfg, const float *q, const float *kc, const float *vc, int n, float scale,
                     int mask_lookahead, float *scores, float *probs, float *out);

/* One decode row over cache rows 0..kv_len-1; acc is scratch of head_dim floats. */
void tl_attn_decode(const tl_config *cfg, const float *q, const float *kc, const float *vc, int kv_len, float scale,
                    float *scores, float *probs, float *out, float *acc);

#endif /* TINYLM_ATTENTION_H */
