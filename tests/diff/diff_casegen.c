/*
 * diff_casegen.c — synthetic pairs of traces for the judgement's cases (tests/diff/test_tracediff_cases.sh), written
 * through the public writer API: a 12-layer pipeline of 11 stages per layer (plus embed_out and logits), hidden
 * size 4,096, attention scores and probabilities [8, 256] (f32 where the engine is mixed-precision), the right
 * file the reference, the left one the reference plus structural drift that grows with depth (relative
 * 0.08 % x 1.2^layer of each element's scale, both sides rounded to the stored dtype), and one scenario on top:
 *
 *   drift      nothing else (a correct engine)
 *   fresh      a fault of relative size MAG (default 0.01) on every element of FAULT_POINT at FAULT_LAYER
 *   fault      a fault of MAG (default 0.10) times the RMS of the non-massive elements at FAULT_POINT/LAYER
 *   exact      like fresh, with every stage before the fault bitwise equal (no drift) in its layer and before
 *   scale      every element of every stage from FAULT_LAYER on multiplied by 1 + MAG (default 0.003)
 *   nan        NaN on both sides at element 17 of FAULT_POINT/LAYER (MAG 1: the whole tensor on both sides;
 *              MAG 2: the whole tensor on the left side only)
 *
 * Options (after OUTDIR and SCENARIO): --dtype f32|bf16 (both sides), --left-dtype f32 (mixed sides: left f32,
 * right the --dtype), --massive X (two channels X times the others on both sides, default 0), --point P,
 * --layer L, --mag M, --seed S, --phase NAME (both files; default prefill).
 * Usage: diff_casegen OUTDIR SCENARIO [options]    writes OUTDIR/left.tt and OUTDIR/right.tt
 */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "tt/dtype.h"
#include "tt/writer.h"

#include "diff_gen.h"

#define H 4096
#define HEADS 8
#define CTX 256
#define LAYERS 12

static const char *const stages[] = {"attn_norm_out", "q_pre_rope", "k_pre_rope", "v", "attn_scores", "attn_probs",
                                     "attn_out", "residual_post_attn", "ffn_norm_in", "mlp_out",
                                     "residual_post_mlp"};
#define NSTAGES (sizeof stages / sizeof stages[0])

typedef struct cfg {
    const char *scenario, *point, *phase;
    int layer;
    double mag, massive;
    tt_dtype dt, ldt;
    uint64_t seed;
} cfg;

static void die(const char *m)
{
    fprintf(stderr, "diff_casegen: %s\n", m);
    exit(2);
}

static int is_attn(const char *p)
{
    return strcmp(p, "attn_scores") == 0 || strcmp(p, "attn_probs") == 0;
}

/* The dtype a side stores a stage in: the engine's, except scores and probabilities, which a bf16 engine keeps in
 * f32 (mixed precision, as most engines do). */
static tt_dtype stored(tt_dtype engine, const char *point)
{
    return engine == TT_BF16 && is_attn(point) ? TT_F32 : engine;
}

static void put(tt_writer *w, const cfg *c, const char *point, int layer, tt_dtype dt, const double *v, size_t n,
                int ndim, const uint64_t *shape)
{
    float *f = malloc(n * sizeof *f);
    uint8_t *b = malloc(n * 4);
    if (!f || !b)
        die("out of memory");
    for (size_t i = 0; i < n; i++)
        f[i] = (float)v[i];
    tt_from_f32(dt, f, n, b);
    tt_key k = TT_KEY_INIT;
    k.prompt_id = "case";
    k.phase = c->phase;
    k.point = point;
    k.layer = layer;
    k.pos_id = 0;
    k.token_id = 7;
    k.rows = 1;
    if (tt_put(w, &k, dt, ndim, shape, b) != TT_OK)
        die(tt_writer_errmsg(w));
    free(f);
    free(b);
}

int main(int argc, char **argv)
{
    if (argc < 3)
        die("usage: diff_casegen OUTDIR SCENARIO [--dtype D] [--left-dtype D] [--massive X] [--point P] [--layer L] "
            "[--mag M] [--seed S] [--phase NAME]");
    cfg c = {argv[2], "mlp_out", "prefill", 5, NAN, 0, TT_BF16, TT_DTYPE_UNKNOWN, 1};
    for (int i = 3; i + 1 < argc; i += 2) {
        const char *o = argv[i], *v = argv[i + 1];
        if (strcmp(o, "--dtype") == 0 || strcmp(o, "--left-dtype") == 0) {
            tt_dtype d = strcmp(v, "f32") == 0 ? TT_F32 : strcmp(v, "bf16") == 0 ? TT_BF16 : TT_DTYPE_UNKNOWN;
            if (d == TT_DTYPE_UNKNOWN)
                die("dtype must be f32 or bf16");
            *(o[2] == 'd' ? &c.dt : &c.ldt) = d;
        } else if (strcmp(o, "--massive") == 0) {
            c.massive = atof(v);
        } else if (strcmp(o, "--point") == 0) {
            c.point = v;
        } else if (strcmp(o, "--layer") == 0) {
            c.layer = atoi(v);
        } else if (strcmp(o, "--mag") == 0) {
            c.mag = atof(v);
        } else if (strcmp(o, "--seed") == 0) {
            c.seed = strtoull(v, NULL, 10);
        } else if (strcmp(o, "--phase") == 0) {
            c.phase = v;
        } else {
            die("unknown option");
        }
    }
    const char *sc = c.scenario;
    const int drift = 1;
    int fresh = 0, fault = 0, exact = 0, scale = 0, nan = 0;
    if (strcmp(sc, "drift") == 0)
        ;
    else if (strcmp(sc, "fresh") == 0)
        fresh = 1;
    else if (strcmp(sc, "fault") == 0)
        fault = 1;
    else if (strcmp(sc, "exact") == 0)
        fresh = exact = 1;
    else if (strcmp(sc, "scale") == 0)
        scale = 1;
    else if (strcmp(sc, "nan") == 0)
        nan = 1;
    else
        die("unknown scenario (drift, fresh, fault, exact, scale, nan)");
    if (isnan(c.mag))
        c.mag = fresh ? 0.01 : fault ? 0.10 : scale ? 0.003 : 0;
    if (c.ldt == TT_DTYPE_UNKNOWN)
        c.ldt = c.dt;
    mkdir(argv[1], 0777);
    tt_writer *wl = dg_open_writer(argv[1], "left.tt", "diff_casegen");
    tt_writer *wr = dg_open_writer(argv[1], "right.tt", "diff_casegen");
    tt_writer_set_meta(wl, "engine", "diff_casegen");
    tt_writer_set_meta(wr, "engine", "diff_casegen");
    uint64_t rng = 0x9E3779B97F4A7C15ull ^ (c.seed * 0xBF58476D1CE4E5B9ull);
    double *x = malloc(H * sizeof *x), *y = malloc(H * sizeof *y), *s = malloc(H * sizeof *s);
    if (!x || !y || !s)
        die("out of memory");
    /* drift in f32 engines is reduction-order noise (a few eps of f32), in bf16 ones a fraction of a bf16 unit */
    const double eps0 = c.dt == TT_F32 && c.ldt == TT_F32 ? 3e-7 : 8e-4;
    const uint64_t hshape[2] = {1, H}, ashape[3] = {1, HEADS, CTX};
    size_t fault_stage = 0;
    while (fault_stage < NSTAGES && strcmp(stages[fault_stage], c.point) != 0)
        fault_stage++;
    for (int L = -1; L <= LAYERS; L++) {
        size_t ns = L < 0 || L == LAYERS ? 1 : NSTAGES;
        for (size_t st = 0; st < ns; st++) {
            const char *point = L < 0 ? "embed_out" : L == LAYERS ? "logits" : stages[st];
            int layer = L == LAYERS ? -1 : L;
            int attn = is_attn(point), probs = strcmp(point, "attn_probs") == 0;
            size_t n = attn ? HEADS * CTX : H;
            double eps = eps0 * pow(1.2, L < 0 ? 0 : L);
            for (size_t i = 0; i < n; i++) {
                double g = dg_nrand(&rng);
                s[i] = 1;
                if (!attn && c.massive > 0 && (i == 7 || i == 1234))
                    s[i] = c.massive;
                /* a massive channel keeps its size (and sign) from token to token: +-X (1 + 0.1 g) */
                x[i] = probs ? exp(2 * g) : s[i] > 1 ? (i == 7 ? -s[i] : s[i]) * (1 + 0.1 * g) : g;
            }
            if (probs)
                for (int h = 0; h < HEADS; h++) {
                    double z = 0;
                    for (int k = 0; k < CTX; k++)
                        z += x[h * CTX + k];
                    for (int k = 0; k < CTX; k++)
                        x[h * CTX + k] /= z;
                }
            int here = layer == c.layer && strcmp(point, c.point) == 0;
            /* exact: nothing drifts before the fault (every earlier layer, and its layer up to it) */
            int nodrift = exact && (L < c.layer || (L == c.layer && st < fault_stage));
            for (size_t i = 0; i < n; i++) {
                double v = x[i];
                if (drift && !nodrift)
                    v += (probs ? fabs(x[i]) : s[i]) * eps * dg_nrand(&rng);
                if (here && fresh)
                    v += fabs(x[i]) * c.mag * dg_nrand(&rng);
                if (here && fault && s[i] == 1)
                    v += (probs ? fabs(x[i]) : 1.0) * c.mag * dg_nrand(&rng);
                if (scale && L >= c.layer && L < LAYERS && L >= 0)
                    v *= 1 + c.mag;
                y[i] = v;
            }
            if (here && nan) {
                if (c.mag >= 1)
                    for (size_t i = 0; i < n; i++) {
                        y[i] = NAN;
                        if (c.mag < 2)
                            x[i] = NAN;
                    }
                else
                    y[17] = x[17] = NAN;
            }
            put(wl, &c, point, layer, stored(c.ldt, point), y, n, attn ? 3 : 2, attn ? ashape : hshape);
            put(wr, &c, point, layer, stored(c.dt, point), x, n, attn ? 3 : 2, attn ? ashape : hshape);
        }
    }
    if (tt_writer_close(wl) != TT_OK || tt_writer_close(wr) != TT_OK)
        die("close failed");
    tt_writer_free(wl);
    tt_writer_free(wr);
    free(x);
    free(y);
    free(s);
    return 0;
}
