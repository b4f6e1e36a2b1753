/*
 * tinylm_check.c — see tinylm_check.h. POSIX (fork/exec) is used to run the engine the way a user does.
 */
#define _POSIX_C_SOURCE 200809L
#include "tinylm_check.h"

#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tt/dtype.h"

const char *const tlc_layer_points[TLC_LAYER_POINTS] = {
    "residual_pre_attn", "attn_norm_out", "q_pre_rope",  "k_pre_rope",  "v",                  "q_post_rope",
    "k_post_rope",       "k_cache",       "v_cache",     "attn_scores", "attn_probs",         "attn_out",
    "residual_post_attn", "ffn_norm_in",  "mlp_out",     "residual_post_mlp"};

void tlc_prepare(const char *dir)
{
    static const char *const env[] = {"TT_TRACE_FILE",   "TT_TRACE_MODE",        "TT_TRACE_LAYERS",
                                      "TT_TRACE_POINTS", "TT_TRACE_PROMPTS",     "TT_TRACE_PHASES",
                                      "TT_TRACE_INFLIGHT_MB", "TT_TRACE_ON_FULL", "TT_TRACE_RANK",
                                      "RANK",            "OMPI_COMM_WORLD_RANK", "SLURM_PROCID",
                                      "LOCAL_RANK"};
    for (size_t i = 0; i < sizeof env / sizeof env[0]; i++)
        unsetenv(env[i]);
    char tmp[1024];
    snprintf(tmp, sizeof tmp, "%s", dir);
    for (char *q = tmp + 1; *q; q++) /* mkdir -p */
        if (*q == '/') {
            *q = '\0';
            mkdir(tmp, 0755);
            *q = '/';
        }
    mkdir(tmp, 0755);
}

int tlc_run(const char *bin, const char *log, const char *const *args)
{
    size_t n = 0;
    while (args[n])
        n++;
    char **argv = calloc(n + 2, sizeof *argv);
    if (!argv)
        return -1;
    argv[0] = (char *)bin;
    for (size_t i = 0; i < n; i++)
        argv[i + 1] = (char *)args[i];
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        free(argv);
        return -1;
    }
    if (pid == 0) {
        int fd = open(log ? log : "/dev/null", O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
            close(fd);
        }
        execv(bin, argv);
        _exit(127);
    }
    free(argv);
    int st;
    if (waitpid(pid, &st, 0) < 0 || !WIFEXITED(st))
        return -1;
    return WEXITSTATUS(st);
}

int tlc_trace_load(tlc_trace *t, const char *path)
{
    memset(t, 0, sizeof *t);
    int rc = tt_reader_open(&t->rd, path, NULL);
    if (rc < 0) {
        fprintf(stderr, "%s: cannot open: %s\n", path, t->rd ? tt_reader_errmsg(t->rd) : tt_strerror(rc));
        tlc_trace_free(t);
        return -1;
    }
    t->count = (size_t)tt_reader_count(t->rd);
    t->recs = calloc(t->count ? t->count : 1, sizeof *t->recs);
    if (!t->recs)
        return -1;
    for (size_t i = 0; i < t->count; i++) {
        tlc_rec *r = &t->recs[i];
        rc = tt_reader_record(t->rd, i, &r->r);
        if (rc < 0) {
            fprintf(stderr, "%s: record %zu: %s\n", path, i, tt_reader_errmsg(t->rd));
            return -1;
        }
        if (!(r->r.flags & TT_REC_HAS_PAYLOAD))
            continue;
        size_t es = tt_dtype_size(r->r.dtype);
        if (es == 0 || r->r.nbytes % es != 0) {
            fprintf(stderr, "%s: record %zu: bad dtype/size\n", path, i);
            return -1;
        }
        r->n = (size_t)(r->r.nbytes / es);
        r->raw = malloc(r->r.nbytes ? (size_t)r->r.nbytes : 1);
        r->d = malloc((r->n ? r->n : 1) * sizeof(double));
        if (!r->raw || !r->d)
            return -1;
        rc = tt_reader_read(t->rd, i, r->raw, (size_t)r->r.nbytes);
        if (rc < 0) {
            fprintf(stderr, "%s: record %zu: read: %s\n", path, i, tt_reader_errmsg(t->rd));
            return -1;
        }
        if (tt_to_f64(r->r.dtype, r->raw, r->n, r->d) < 0)
            return -1;
    }
    return 0;
}

void tlc_trace_free(tlc_trace *t)
{
    if (!t)
        return;
    for (size_t i = 0; t->recs && i < t->count; i++) {
        free(t->recs[i].d);
        free(t->recs[i].raw);
    }
    free(t->recs);
    tt_reader_close(t->rd);
    memset(t, 0, sizeof *t);
}

static int str_eq(const char *a, const char *b)
{
    return a && b && strcmp(a, b) == 0;
}

const tlc_rec *tlc_find(const tlc_trace *t, const char *prompt, const char *phase, const char *point, int layer,
                        int *dups)
{
    const tlc_rec *found = NULL;
    if (dups)
        *dups = 0;
    for (size_t i = 0; i < t->count; i++) {
        const tt_key *k = &t->recs[i].r.key;
        if (k->layer != layer || !str_eq(k->point, point) || !str_eq(k->phase, phase) || !str_eq(k->prompt_id, prompt))
            continue;
        if (!found)
            found = &t->recs[i];
        else if (dups)
            (*dups)++;
    }
    return found;
}

/* The bf16 ulp at x: the spacing of bf16 values in x's binade (8 significant bits). */
static double bf16_ulp(double x)
{
    int e;
    x = fabs(x);
    if (x == 0.0 || !isfinite(x))
        return 0.0;
    frexp(x, &e); /* x = f * 2^e, f in [0.5, 1) */
    return ldexp(1.0, e - 8);
}

void tlc_compare(const tlc_rec *a, const tlc_rec *b, tlc_cmp *out)
{
    memset(out, 0, sizeof *out);
    out->same_shape = a->r.ndim == b->r.ndim && a->n == b->n && a->d && b->d;
    for (int i = 0; out->same_shape && i < a->r.ndim; i++)
        out->same_shape = a->r.shape[i] == b->r.shape[i];
    if (!out->same_shape) {
        out->max_abs = out->rel = out->ulps = INFINITY;
        return;
    }
    out->bitwise = a->r.nbytes == b->r.nbytes && a->r.dtype == b->r.dtype &&
                   memcmp(a->raw, b->raw, (size_t)a->r.nbytes) == 0;
    for (size_t i = 0; i < a->n; i++) {
        double x = a->d[i], y = b->d[i], d;
        if (isfinite(x) && fabs(x) > out->absmax)
            out->absmax = fabs(x);
        if (isnan(x) || isnan(y))
            d = isnan(x) && isnan(y) ? 0.0 : INFINITY;
        else if (isinf(x) || isinf(y))
            d = x == y ? 0.0 : INFINITY;
        else
            d = fabs(x - y);
        if (d > out->max_abs) {
            out->max_abs = d;
            out->worst = i;
        }
    }
    if (out->max_abs == 0.0) {
        out->rel = out->ulps = 0.0;
    } else if (out->absmax == 0.0) {
        out->rel = out->ulps = INFINITY;
    } else {
        out->rel = out->max_abs / out->absmax;
        out->ulps = out->max_abs / bf16_ulp(out->absmax);
    }
}

int tlc_rows_bitwise(const tlc_rec *a, const tlc_rec *b, uint64_t rows)
{
    if (!a->raw || !b->raw || a->r.ndim < 1 || b->r.ndim < 1 || a->r.dtype != b->r.dtype)
        return 0;
    if (rows > a->r.shape[0] || rows > b->r.shape[0] || a->r.shape[0] == 0 || b->r.shape[0] == 0)
        return 0;
    uint64_t ra = a->r.nbytes / a->r.shape[0], rb = b->r.nbytes / b->r.shape[0];
    return ra == rb && memcmp(a->raw, b->raw, (size_t)(ra * rows)) == 0;
}

int tlc_over(const tlc_cmp *c, tt_dtype dt)
{
    if (!c->same_shape)
        return 1;
    return dt == TT_BF16 ? c->ulps > TLC_BF16_ULP_TOL : c->rel > TLC_F32_REL_TOL;
}
