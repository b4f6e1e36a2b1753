/*
 * model.c — tinylm's configuration, its deterministic weights, the KV cache and the prompt tokens.
 *
 * Weights come from a small PRNG of our own (splitmix64 -> Box-Muller), seeded per tensor from (seed, tensor,
 * layer), so a layer's weights do not depend on how many layers the model has nor on generation order, and the
 * same seed gives the same model with any compiler (given the same libm log/cos/sin). Scales follow real models so
 * activations stay in realistic ranges: embeddings ~N(0, 0.02), projections ~N(0, 1/sqrt(in)) (attention scores of
 * a few units), output and down projections small (N(0, 0.1/in) and N(0, 0.25/in)) so each block adds ~0.005-0.02
 * to a residual stream of ~0.02 that grows modestly with depth, norm gains ~1 +- 0.05.
 */
#include "tinylm.h"
#include "kernels.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const bug_names[TL_BUG_COUNT] = {"none", "rope-pos", "mask", "kv-offset", "softmax-scale",
                                                    "norm-eps"};

const char *tl_bug_name(tl_bug b)
{
    return (unsigned)b < TL_BUG_COUNT ? bug_names[b] : "unknown";
}

int tl_bug_from_name(const char *name)
{
    for (int i = 0; i < TL_BUG_COUNT; i++)
        if (strcmp(name, bug_names[i]) == 0)
            return i;
    return -1;
}

void tl_config_default(tl_config *c)
{
    memset(c, 0, sizeof *c);
    c->layers = 4;
    c->hidden = 256;
    c->heads = 8;
    c->kv_heads = 2;
    c->ffn = 0; /* derived */
    c->vocab = 512;
    c->rms_eps = 1e-5f;
    c->rope_theta = 10000.0;
    c->bf16 = 0;
    c->seed = 1;
    c->bug = TL_BUG_NONE;
}

int tl_config_finish(tl_config *c, char *err, size_t errlen)
{
    if (c->layers < 1 || c->hidden < 2 || c->heads < 1 || c->kv_heads < 1 || c->vocab < 2) {
        snprintf(err, errlen, "sizes must be positive (layers, hidden >= 2, heads, kv-heads, vocab >= 2)");
        return -1;
    }
    if (c->hidden % c->heads != 0) {
        snprintf(err, errlen, "hidden (%d) must be a multiple of heads (%d)", c->hidden, c->heads);
        return -1;
    }
    if (c->heads % c->kv_heads != 0) {
        snprintf(err, errlen, "heads (%d) must be a multiple of kv-heads (%d)", c->heads, c->kv_heads);
        return -1;
    }
    c->head_dim = c->hidden / c->heads;
    if (c->head_dim % 2 != 0) {
        snprintf(err, errlen, "head_dim = hidden/heads = %d must be even (RoPE rotates pairs)", c->head_dim);
        return -1;
    }
    if (c->ffn == 0)
        c->ffn = (c->hidden * 8 / 3 + 15) / 16 * 16;
    return 0;
}

/* splitmix64: a tiny, well-mixed generator; one 64-bit state. */
static uint64_t splitmix64(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* A uniform double in (0, 1]: never 0, so log() is finite. */
static double uniform01(uint64_t *s)
{
    return (double)((splitmix64(s) >> 11) + 1) * 0x1.0p-53;
}

/* n normal deviates (Box-Muller, both outputs used) times std plus mean, rounded to bf16 when asked. */
static void fill_normal(float *x, size_t n, uint64_t seed, uint64_t tensor, int layer, double mean, double std,
                        int bf16)
{
    uint64_t s = seed ^ (tensor * 0xd1b54a32d192ed03ull) ^ ((uint64_t)(layer + 1) * 0x8cb92ba72f3d8dd7ull);
    (void)splitmix64(&s);
    const double two_pi = 6.283185307179586476925286766559;
    for (size_t i = 0; i < n; i += 2) {
        double r = sqrt(-2.0 * log(uniform01(&s)));
        double t = two_pi * uniform01(&s);
        x[i] = (float)(mean + std * r * cos(t));
        if (i + 1 < n)
            x[i + 1] = (float)(mean + std * r * sin(t));
    }
    tl_round(x, n, bf16);
}

enum { W_EMBED = 1, W_FINAL_NORM, W_LM_HEAD, W_ATTN_NORM, W_Q, W_K, W_V, W_O, W_FFN_NORM, W_GATE, W_UP, W_DOWN };

int tl_model_init(tl_model *m, const tl_config *cfg)
{
    memset(m, 0, sizeof *m);
    m->cfg = *cfg;
    const size_t H = (size_t)cfg->hidden, V = (size_t)cfg->vocab, F = (size_t)cfg->ffn;
    const size_t QD = (size_t)cfg->heads * cfg->head_dim, KVD = (size_t)cfg->kv_heads * cfg->head_dim;
    const size_t per_layer = H + QD * H + 2 * KVD * H + H * QD + H + 2 * F * H + H * F;
    const size_t total = V * H + H + V * H + per_layer * (size_t)cfg->layers;

    m->block = malloc(total * sizeof(float));
    m->layer = calloc((size_t)cfg->layers, sizeof(tl_layer));
    if (!m->block || !m->layer) {
        tl_model_free(m);
        return -1;
    }
    float *p = m->block;
#define TAKE(n) (p += (n), p - (n))
    const uint64_t seed = cfg->seed;
    const int b = cfg->bf16;
    m->embed = TAKE(V * H);
    fill_normal(m->embed, V * H, seed, W_EMBED, -1, 0.0, 0.02, b);
    m->final_norm = TAKE(H);
    fill_normal(m->final_norm, H, seed, W_FINAL_NORM, -1, 1.0, 0.05, b);
    m->lm_head = TAKE(V * H);
    fill_normal(m->lm_head, V * H, seed, W_LM_HEAD, -1, 0.0, 1.0 / sqrt((double)H), b);
    for (int l = 0; l < cfg->layers; l++) {
        tl_layer *L = &m->layer[l];
        L->attn_norm = TAKE(H);
        fill_normal(L->attn_norm, H, seed, W_ATTN_NORM, l, 1.0, 0.05, b);
        L->wq = TAKE(QD * H);
        fill_normal(L->wq, QD * H, seed, W_Q, l, 0.0, 1.2 / sqrt((double)H), b);
        L->wk = TAKE(KVD * H);
        fill_normal(L->wk, KVD * H, seed, W_K, l, 0.0, 1.2 / sqrt((double)H), b);
        L->wv = TAKE(KVD * H);
        fill_normal(L->wv, KVD * H, seed, W_V, l, 0.0, 1.0 / sqrt((double)H), b);
        L->wo = TAKE(H * QD);
        fill_normal(L->wo, H * QD, seed, W_O, l, 0.0, 0.1 / (double)QD, b);
        L->ffn_norm = TAKE(H);
        fill_normal(L->ffn_norm, H, seed, W_FFN_NORM, l, 1.0, 0.05, b);
        L->w_gate = TAKE(F * H);
        fill_normal(L->w_gate, F * H, seed, W_GATE, l, 0.0, 1.0 / sqrt((double)H), b);
        L->w_up = TAKE(F * H);
        fill_normal(L->w_up, F * H, seed, W_UP, l, 0.0, 1.0 / sqrt((double)H), b);
        L->w_down = TAKE(H * F);
        fill_normal(L->w_down, H * F, seed, W_DOWN, l, 0.0, 0.25 / (double)F, b);
    }
#undef TAKE
    return 0;
}

void tl_model_free(tl_model *m)
{
    if (!m)
        return;
    free(m->block);
    free(m->layer);
    m->block = NULL;
    m->layer = NULL;
}

tl_cache *tl_cache_new(const tl_config *cfg, int capacity)
{
    tl_cache *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    c->capacity = capacity;
    c->kv_dim = cfg->kv_heads * cfg->head_dim;
    c->layers = cfg->layers;
    size_t n = (size_t)cfg->layers * (size_t)capacity * (size_t)c->kv_dim;
    c->k = calloc(n, sizeof(float));
    c->v = calloc(n, sizeof(float));
    if (!c->k || !c->v) {
        tl_cache_free(c);
        return NULL;
    }
    return c;
}

void tl_cache_free(tl_cache *c)
{
    if (!c)
        return;
    free(c->k);
    free(c->v);
    free(c);
}

void tl_prompt_tokens(const char *name, uint64_t seed, int vocab, int32_t *out, int n)
{
    uint64_t h = 0xcbf29ce484222325ull; /* FNV-1a of the name */
    for (const unsigned char *p = (const unsigned char *)name; *p; p++)
        h = (h ^ *p) * 0x100000001b3ull;
    uint64_t s = h ^ (seed * 0x9e3779b97f4a7c15ull);
    for (int i = 0; i < n; i++)
        out[i] = (int32_t)(splitmix64(&s) % (uint64_t)vocab);
}
