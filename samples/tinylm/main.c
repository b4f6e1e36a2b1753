/*
 * main.c — the tinylm command line: parses options, builds the model, and runs the seeds' protocol on each
 * prompt while libtrace records every stage.
 *
 * The protocol, for a prompt of n tokens (the seeds' N+1):
 *   1. a fresh cache, prefill over the n tokens, recorded as phase "prefill_last" (the last row, step 0) and,
 *      with --capture-full-prefill, as phase "prefill" (every row);
 *   2. a fresh cache, prefill over the first n-1 tokens (not recorded), then decode of token n-1 at position n-1,
 *      recorded as phase "decode0" (step 1).
 * So prefill_last and decode0 hold the same token at the same position, computed by the two paths.
 *
 * With --tp N the engine emulates N tensor-parallel ranks (tinylm.h, tl_tp) and writes one trace per rank: the
 * output path must hold %r, which libtrace expands to each writer's rank.
 *
 * Exit codes: 0 success, 1 runtime error (libtrace's message is printed with the file name), 2 usage error.
 */
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tinylm.h"
#include "trace.h"
#include "tt/common.h"
#include "tt/writer.h"

#ifndef TINYLM_COMMIT
#define TINYLM_COMMIT "unknown"
#endif

enum { EXIT_OK = 0, EXIT_RUNTIME = 1, EXIT_USAGE = 2 };

#define MAX_PROMPTS 64
#define MAX_PROMPT_TOKENS 4096
#define DEFAULT_PROMPTS "p0_short,p6_len_16,p6_len_32"

typedef struct prompt {
    char name[128];
    int n;
} prompt;

typedef struct options {
    const char *output;
    tl_config cfg;
    const char *prompts;
    int full_prefill;
    tt_mode mode;
    const char *mode_name;
    unsigned threads;
    int quiet;
    int tp;       /* --tp N; 0 when not given (one rank, the writer's rank from the environment) */
    int bug_rank; /* --bug-rank R; -1: the bug acts on every rank */
} options;

static void usage(FILE *f)
{
    fprintf(f,
            "usage: tinylm -o FILE [options]\n"
            "\n"
            "A tiny Llama-style engine with a prefill path and a decode path, traced with libtrace.\n"
            "For each prompt of n tokens it records the last row of a prefill over n tokens (phase prefill_last)\n"
            "and the decode of token n after a prefill over n-1 tokens (phase decode0).\n"
            "\n"
            "options:\n"
            "  -o, --output FILE        trace file to write (replaced if it exists); without it $TT_TRACE_FILE,\n"
            "                           and without that the engine runs untraced\n"
            "  --dtype f32|bf16         storage dtype: bf16 rounds every stage's output (default f32)\n"
            "  --bug NAME               switch on one bug (default none), see below\n"
            "  --layers N               decoder layers (default 4)\n"
            "  --hidden N               model width (default 256)\n"
            "  --heads N                query heads (default 8)\n"
            "  --kv-heads N             key/value heads, divides --heads (default 2)\n"
            "  --ffn N                  SwiGLU width (default 8/3 * hidden rounded up to 16: 688)\n"
            "  --vocab N                vocabulary size (default 512)\n"
            "  --seed N                 seed of the weights and prompt tokens (default 1)\n"
            "  --prompts LIST           comma-separated prompt ids (default " DEFAULT_PROMPTS ");\n"
            "                           p0_short has 2 tokens, NAME_len_N has N, NAME:N has N (N >= 2)\n"
            "  --capture-full-prefill   also record the whole prefill, every row (phase prefill)\n"
            "  --mode full|stats|hash|off  capture mode (default full, or $TT_TRACE_MODE)\n"
            "  --threads N              libtrace worker threads (default: libtrace's)\n"
            "  --tp N                   emulate N tensor-parallel ranks (N divides heads and ffn; N divides\n"
            "                           kv-heads or kv-heads divides N) and write one trace per rank: the\n"
            "                           output path needs %%r (the rank), e.g. -o 'tp4-%%r.tt'\n"
            "  --bug-rank R             the --bug acts on rank R only (rope-pos, mask, kv-offset, softmax-scale)\n"
            "  -q, --quiet              print nothing but errors\n"
            "  -h, --help               this help\n"
            "  --version                print the version\n"
            "\n"
            "bugs (each off by default; first stage where it shows, prefill_last vs decode0):\n"
            "  rope-pos       decode rotates q/k for position pos+1          -> q_post_rope, layer 0\n"
            "  mask           prefill's causal mask lets row i see row i+1   -> k_cache/v_cache, layer 1\n"
            "                 (in a full prefill capture: attn_scores, layer 0)\n"
            "  kv-offset      decode writes K/V at cache row pos+1           -> k_cache/v_cache, layer 0\n"
            "  softmax-scale  decode scales scores by 1/d, not 1/sqrt(d)     -> attn_scores, layer 0\n"
            "  norm-eps       decode's RMSNorm eps is 1e-2, not 1e-5         -> attn_norm_out, layer 0\n"
            "\n"
            "libtrace's TT_TRACE_* environment variables apply (TT_TRACE_LAYERS, TT_TRACE_POINTS, ...).\n"
            "exit codes: 0 ok, 1 runtime error, 2 usage error\n");
}

/* Prints "tinylm: MESSAGE (see tinylm --help)" on stderr and returns the usage exit code. */
static int usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int usage_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "tinylm: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, " (see tinylm --help)\n");
    va_end(ap);
    return EXIT_USAGE;
}

/* Parses a decimal integer in [lo, hi]; the whole string must be the number. */
static int parse_long(const char *s, long long lo, long long hi, long long *out)
{
    char *end;
    if (!s || !*s)
        return -1;
    long long v = strtoll(s, &end, 10);
    if (*end != '\0' || v < lo || v > hi)
        return -1;
    *out = v;
    return 0;
}

/* "p0_short" -> 2; "..._len_N" -> N; "NAME:N" -> N (name becomes NAME). */
static int parse_prompt(const char *spec, size_t len, prompt *p)
{
    if (len == 0 || len >= sizeof p->name)
        return -1;
    memcpy(p->name, spec, len);
    p->name[len] = '\0';
    long long n;
    char *colon = strchr(p->name, ':');
    if (colon) {
        *colon = '\0';
        if (colon == p->name || parse_long(colon + 1, 2, MAX_PROMPT_TOKENS, &n) < 0)
            return -1;
        p->n = (int)n;
        return 0;
    }
    if (strcmp(p->name, "p0_short") == 0) {
        p->n = 2;
        return 0;
    }
    const char *tag = strstr(p->name, "_len_");
    if (tag && parse_long(tag + 5, 2, MAX_PROMPT_TOKENS, &n) == 0) {
        p->n = (int)n;
        return 0;
    }
    return -1;
}

static int parse_prompts(const char *list, prompt *out, int *count)
{
    *count = 0;
    const char *s = list;
    for (;;) {
        const char *comma = strchr(s, ',');
        size_t len = comma ? (size_t)(comma - s) : strlen(s);
        if (*count == MAX_PROMPTS || parse_prompt(s, len, &out[*count]) < 0)
            return -1;
        for (int i = 0; i < *count; i++)
            if (strcmp(out[i].name, out[*count].name) == 0)
                return -1; /* a prompt id must name one prompt: it is part of the pairing key */
        (*count)++;
        if (!comma)
            return 0;
        s = comma + 1;
    }
}

/* Returns the option's value: "--opt=value" or the next argument. NULL when missing. */
static const char *opt_value(int argc, char **argv, int *i, const char *arg, const char *name)
{
    size_t n = strlen(name);
    if (strncmp(arg, name, n) == 0 && arg[n] == '=')
        return arg + n + 1;
    if (*i + 1 < argc)
        return argv[++*i];
    return NULL;
}

static int is_opt(const char *arg, const char *name)
{
    size_t n = strlen(name);
    return strncmp(arg, name, n) == 0 && (arg[n] == '\0' || arg[n] == '=');
}

/* Returns -1 to continue, or an exit code (help, version, usage error). */
static int parse_args(int argc, char **argv, options *o)
{
    const struct {
        const char *name;
        long long lo, hi;
        int *field;
    } ints[] = {
        {"--layers", 1, 256, &o->cfg.layers},   {"--hidden", 2, 16384, &o->cfg.hidden},
        {"--heads", 1, 1024, &o->cfg.heads},    {"--kv-heads", 1, 1024, &o->cfg.kv_heads},
        {"--ffn", 1, 65536, &o->cfg.ffn},       {"--vocab", 2, 1 << 20, &o->cfg.vocab},
    };
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v;
        long long n;
        int matched = 0;
        for (size_t k = 0; k < sizeof ints / sizeof ints[0]; k++) {
            if (!is_opt(a, ints[k].name))
                continue;
            v = opt_value(argc, argv, &i, a, ints[k].name);
            if (parse_long(v, ints[k].lo, ints[k].hi, &n) < 0) {
                fprintf(stderr, "tinylm: %s needs an integer in %lld..%lld, got '%s' (see tinylm --help)\n",
                        ints[k].name, ints[k].lo, ints[k].hi, v ? v : "");
                return EXIT_USAGE;
            }
            *ints[k].field = (int)n;
            matched = 1;
            break;
        }
        if (matched)
            continue;
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            usage(stdout);
            return EXIT_OK;
        } else if (strcmp(a, "--version") == 0) {
            printf("tinylm %s (libtrace %s, commit %s)\n", TINYLM_VERSION, tt_version(), TINYLM_COMMIT);
            return EXIT_OK;
        } else if (strcmp(a, "-o") == 0 || is_opt(a, "--output")) {
            if (!(o->output = opt_value(argc, argv, &i, a, "--output")) || !*o->output)
                return usage_error("%s needs a file name", a);
        } else if (is_opt(a, "--dtype")) {
            v = opt_value(argc, argv, &i, a, "--dtype");
            if (v && (strcmp(v, "f32") == 0 || strcmp(v, "float32") == 0))
                o->cfg.bf16 = 0;
            else if (v && (strcmp(v, "bf16") == 0 || strcmp(v, "bfloat16") == 0))
                o->cfg.bf16 = 1;
            else
                return usage_error("unknown --dtype '%s' (f32 or bf16)", v ? v : "");
        } else if (is_opt(a, "--bug")) {
            v = opt_value(argc, argv, &i, a, "--bug");
            int b = v ? tl_bug_from_name(v) : -1;
            if (b < 0)
                return usage_error("unknown bug '%s' (none, rope-pos, mask, kv-offset, softmax-scale, norm-eps)",
                                   v ? v : "");
            o->cfg.bug = (tl_bug)b;
        } else if (is_opt(a, "--seed")) {
            v = opt_value(argc, argv, &i, a, "--seed");
            char *end;
            if (!v || !*v || *v == '-' || (o->cfg.seed = strtoull(v, &end, 10), *end != '\0'))
                return usage_error("--seed needs a non-negative integer, got '%s'", v ? v : "");
        } else if (is_opt(a, "--prompts")) {
            if (!(o->prompts = opt_value(argc, argv, &i, a, "--prompts")))
                return usage_error("%s needs a list of prompt ids", a);
        } else if (strcmp(a, "--capture-full-prefill") == 0) {
            o->full_prefill = 1;
        } else if (is_opt(a, "--mode")) {
            v = opt_value(argc, argv, &i, a, "--mode");
            static const struct {
                const char *name;
                tt_mode mode;
            } modes[] = {{"full", TT_MODE_FULL}, {"stats", TT_MODE_STATS}, {"hash", TT_MODE_HASH}, {"off", TT_MODE_OFF}};
            size_t k = 0;
            while (v && k < sizeof modes / sizeof modes[0] && strcmp(v, modes[k].name) != 0)
                k++;
            if (!v || k == sizeof modes / sizeof modes[0])
                return usage_error("unknown --mode '%s' (full, stats, hash or off)", v ? v : "");
            o->mode = modes[k].mode;
            o->mode_name = modes[k].name;
        } else if (is_opt(a, "--threads")) {
            v = opt_value(argc, argv, &i, a, "--threads");
            if (parse_long(v, 1, 256, &n) < 0)
                return usage_error("--threads needs an integer in 1..256, got '%s'", v ? v : "");
            o->threads = (unsigned)n;
        } else if (is_opt(a, "--tp")) {
            v = opt_value(argc, argv, &i, a, "--tp");
            if (parse_long(v, 1, TL_MAX_TP, &n) < 0)
                return usage_error("--tp needs an integer in 1..%d, got '%s'", TL_MAX_TP, v ? v : "");
            o->tp = (int)n;
        } else if (is_opt(a, "--bug-rank")) {
            v = opt_value(argc, argv, &i, a, "--bug-rank");
            if (parse_long(v, 0, TL_MAX_TP - 1, &n) < 0)
                return usage_error("--bug-rank needs an integer in 0..%d, got '%s'", TL_MAX_TP - 1, v ? v : "");
            o->bug_rank = (int)n;
        } else if (strcmp(a, "-q") == 0 || strcmp(a, "--quiet") == 0) {
            o->quiet = 1;
        } else {
            return usage_error("unknown option '%s'", a);
        }
    }
    return -1;
}

/* Prints a runtime error about path: libtrace's message, which usually names the file already. */
static void report(const char *path, const char *msg)
{
    if (path && !strstr(msg, path))
        fprintf(stderr, "tinylm: %s: %s\n", path, msg);
    else
        fprintf(stderr, "tinylm: %s\n", msg);
}

static double now_s(void)
{
    struct timespec ts;
    timespec_get(&ts, TIME_UTC);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int argmax(const float *x, int n)
{
    int best = 0;
    for (int i = 1; i < n; i++)
        if (x[i] > x[best])
            best = i;
    return best;
}

static void set_meta(tt_writer *w, const options *o, const prompt *prompts, int np)
{
    const tl_config *c = &o->cfg;
    char buf[1024];
    tt_writer_set_meta(w, "engine", "tinylm");
    tt_writer_set_meta(w, "engine_version", TINYLM_VERSION);
    snprintf(buf, sizeof buf, "tinylm-L%d-H%d-heads%d-kv%d-hd%d-ffn%d-vocab%d", c->layers, c->hidden, c->heads,
             c->kv_heads, c->head_dim, c->ffn, c->vocab);
    tt_writer_set_meta(w, "model", buf);
    tt_writer_set_meta(w, "dtype", c->bf16 ? "bf16" : "f32");
    tt_writer_set_meta(w, "bug", tl_bug_name(c->bug));
    snprintf(buf, sizeof buf, "%" PRIu64, c->seed);
    tt_writer_set_meta(w, "seed", buf);
    tt_writer_set_meta(w, "device", "cpu");
    tt_writer_set_meta(w, "commit", TINYLM_COMMIT);
    const char *env_mode = getenv("TT_TRACE_MODE");
    tt_writer_set_meta(w, "capture_mode", o->mode_name ? o->mode_name : env_mode && *env_mode ? env_mode : "full");
    tt_writer_set_meta(w, "full_prefill", o->full_prefill ? "1" : "0");
    size_t off = 0;
    buf[0] = '\0';
    for (int i = 0; i < np && off < sizeof buf; i++)
        off += (size_t)snprintf(buf + off, sizeof buf - off, "%s%s:%d", i ? "," : "", prompts[i].name, prompts[i].n);
    tt_writer_set_meta(w, "prompts", buf);
    snprintf(buf, sizeof buf, "%g", (double)c->rms_eps);
    tt_writer_set_meta(w, "rms_eps", buf);
    snprintf(buf, sizeof buf, "%g", c->rope_theta);
    tt_writer_set_meta(w, "rope_theta", buf);
    tt_writer_set_meta(w, "layout", "row-leading; attn_scores/attn_probs [rows, heads, kv_len]; "
                                    "k_cache/v_cache [kv_len, kv_heads*head_dim] with pos_id 0");
    if (o->tp) { /* rank and world_size are libtrace's own keys */
        snprintf(buf, sizeof buf, "%d", o->tp);
        tt_writer_set_meta(w, "tp", buf);
        snprintf(buf, sizeof buf, "%d", o->bug_rank);
        tt_writer_set_meta(w, "bug_rank", o->bug_rank >= 0 ? buf : "all");
    }
}

/* Runs the protocol on one prompt. @return : 0, or -1 with a message in err. */
static int run_prompt(const tl_tp *tp, const prompt *p, tl_rec *rec, int full_prefill, int quiet, char *err,
                      size_t errlen)
{
    const tl_config *c = &tp->full.cfg;
    const int n = p->n;
    int rc = -1, ok = 1;
    int32_t *tokens = malloc((size_t)n * sizeof *tokens);
    float *lp = malloc((size_t)c->vocab * sizeof *lp), *ld = malloc((size_t)c->vocab * sizeof *ld);
    tl_cache *ca[TL_MAX_TP] = {0}, *cb[TL_MAX_TP] = {0}; /* each rank's caches: its KV heads */
    for (int r = 0; r < tp->n; r++) {
        ca[r] = tl_cache_new(&tp->rank[r].cfg, n + 1);
        cb[r] = tl_cache_new(&tp->rank[r].cfg, n + 1);
        ok &= ca[r] && cb[r];
    }
    if (!tokens || !lp || !ld || !ok) {
        snprintf(err, errlen, "%.100s: out of memory", p->name);
        goto done;
    }
    tl_prompt_tokens(p->name, c->seed, c->vocab, tokens, n);
    rec->prompt_id = p->name;
    rec->tokens = tokens;

    rec->decode = 0;
    rec->emit_last = 1;
    rec->emit_full = full_prefill;
    if (tl_prefill(tp, ca, tokens, n, rec, lp) < 0) {
        snprintf(err, errlen, "%.100s: prefill failed (out of memory)", p->name);
        goto done;
    }
    if (tl_prefill(tp, cb, tokens, n - 1, NULL, NULL) < 0) {
        snprintf(err, errlen, "%.100s: prefill failed (out of memory)", p->name);
        goto done;
    }
    rec->decode = 1;
    rec->pos = n - 1;
    if (tl_decode(tp, cb, tokens[n - 1], n - 1, rec, ld) < 0) {
        snprintf(err, errlen, "%.100s: decode failed (out of memory)", p->name);
        goto done;
    }
    if (!quiet) {
        double dmax = 0.0, lmax = 0.0;
        for (int i = 0; i < c->vocab; i++) {
            double d = fabs((double)lp[i] - (double)ld[i]);
            dmax = d > dmax ? d : dmax;
            lmax = fabs((double)lp[i]) > lmax ? fabs((double)lp[i]) : lmax;
        }
        int tpre = argmax(lp, c->vocab), tdec = argmax(ld, c->vocab);
        printf("%-12s %4d tokens  next token: prefill_last %d, decode0 %d  max|dlogit| %.3g (%.3g of max|logit|)\n",
               p->name, n, tpre, tdec, dmax, lmax > 0 ? dmax / lmax : 0.0);
    }
    rc = 0;
done:
    rec->tokens = NULL;
    free(tokens);
    free(lp);
    free(ld);
    for (int r = 0; r < tp->n; r++) {
        tl_cache_free(ca[r]);
        tl_cache_free(cb[r]);
    }
    return rc;
}

/* Checks --tp and --bug-rank against the model. @return : -1 to go on, or the usage exit code. */
static int check_tp(const options *o)
{
    char err[256];
    const int n = o->tp ? o->tp : 1;
    if (tl_tp_check(&o->cfg, n, err, sizeof err) < 0)
        return usage_error("%s", err);
    if (o->bug_rank >= 0) {
        if (o->cfg.bug == TL_BUG_NONE)
            return usage_error("--bug-rank needs a --bug");
        if (o->bug_rank >= n)
            return usage_error("--bug-rank %d: the ranks are 0..%d (--tp %d)", o->bug_rank, n - 1, n);
        if (o->cfg.bug == TL_BUG_NORM_EPS)
            return usage_error("--bug-rank: norm-eps acts on a stage every rank computes alike (the norms); "
                               "choose rope-pos, mask, kv-offset or softmax-scale");
    }
    const char *path = o->output ? o->output : getenv("TT_TRACE_FILE");
    if (n > 1 && path && *path && !strstr(path, "%r"))
        return usage_error("--tp %d writes one trace per rank: the output path '%s' needs %%r (the rank), "
                           "e.g. -o 'tp%d-%%r.tt'",
                           n, path, n);
    return -1;
}

/* Opens one writer per rank (all NULL when tracing is off). @return : 0, or -1 after printing the error. */
static int open_writers(const options *o, int n, tt_writer **w)
{
    /* TT_WRITER_OPTIONS_INIT spelled out: the macro's partial initializer trips -Wmissing-field-initializers. */
    tt_writer_options wo;
    memset(&wo, 0, sizeof wo);
    wo.size = sizeof wo;
    wo.mode = o->mode;
    wo.threads = o->threads;
    wo.overwrite = 1;
    for (int r = 0; r < n; r++) {
        if (o->tp) { /* the emulated ranks name themselves; without --tp the environment may */
            wo.rank = r;
            wo.rank_set = 1;
            wo.world_size = n;
        }
        int rc = tt_writer_open(&w[r], o->output, &wo);
        if (rc < 0) {
            report(o->output ? o->output : getenv("TT_TRACE_FILE"),
                   w[r] && tt_writer_errmsg(w[r])[0] ? tt_writer_errmsg(w[r]) : tt_strerror(rc));
            return -1;
        }
    }
    return 0;
}

int main(int argc, char **argv)
{
    options o;
    memset(&o, 0, sizeof o);
    tl_config_default(&o.cfg);
    o.prompts = DEFAULT_PROMPTS;
    o.bug_rank = -1;
    int rc = parse_args(argc, argv, &o);
    if (rc >= 0)
        return rc;

    char err[256];
    if (tl_config_finish(&o.cfg, err, sizeof err) < 0)
        return usage_error("%s", err);
    if ((rc = check_tp(&o)) >= 0)
        return rc;
    prompt prompts[MAX_PROMPTS];
    int np;
    if (parse_prompts(o.prompts, prompts, &np) < 0)
        return usage_error("bad --prompts '%s': each id is p0_short, NAME_len_N or NAME:N with 2 <= N <= 4096, "
                           "at most 64 distinct ids",
                           o.prompts);

    double t0 = now_s();
    tl_model model;
    static tl_tp tp; /* static: 64 shard descriptions are too much for some stacks */
    const int ntp = o.tp ? o.tp : 1;
    if (tl_model_init(&model, &o.cfg) < 0 || tl_tp_init(&tp, &model, ntp, o.bug_rank) < 0) {
        fprintf(stderr, "tinylm: out of memory for the weights\n");
        tl_model_free(&model);
        return EXIT_RUNTIME;
    }

    tt_writer *w[TL_MAX_TP] = {0};
    int status = EXIT_OK;
    if (open_writers(&o, ntp, w) < 0)
        status = EXIT_RUNTIME;
    for (int r = 0; r < ntp && status == EXIT_OK && w[r]; r++)
        set_meta(w[r], &o, prompts, np);
    if (status == EXIT_OK && !w[0] && !o.quiet)
        printf("tinylm: no -o and no TT_TRACE_FILE: running untraced\n");

    tl_rec rec;
    memset(&rec, 0, sizeof rec);
    rec.w = w;
    rec.tp = ntp;
    rec.kv_heads = o.cfg.kv_heads;
    rec.bf16 = o.cfg.bf16;
    for (int i = 0; i < np && status == EXIT_OK; i++) {
        if (run_prompt(&tp, &prompts[i], &rec, o.full_prefill, o.quiet, err, sizeof err) < 0) {
            fprintf(stderr, "tinylm: %s\n", err);
            status = EXIT_RUNTIME;
        } else if (rec.status < 0) {
            tt_writer *fw = w[rec.failed_rank];
            report(tt_writer_path(fw), tt_writer_errmsg(fw)[0] ? tt_writer_errmsg(fw) : tt_strerror(rec.status));
            status = EXIT_RUNTIME;
        }
    }
    tl_rec_release(&rec);

    uint64_t written = 0, raw = 0, stored = 0;
    for (int r = 0; r < ntp; r++) {
        if (!w[r])
            continue;
        rc = tt_writer_close(w[r]);
        if (rc < 0 && status == EXIT_OK) {
            report(tt_writer_path(w[r]), tt_writer_errmsg(w[r])[0] ? tt_writer_errmsg(w[r]) : tt_strerror(rc));
            status = EXIT_RUNTIME;
        }
        tt_writer_counters cnt;
        if (tt_writer_get_counters(w[r], &cnt) == TT_OK)
            written += cnt.written, raw += cnt.bytes_raw, stored += cnt.bytes_stored;
    }
    if (status == EXIT_OK && !o.quiet && w[0]) {
        printf("tinylm: wrote %" PRIu64 " records (%.2f MiB of tensors, %.2f MiB stored) to %s", written,
               (double)raw / 1048576.0, (double)stored / 1048576.0, tt_writer_path(w[0]));
        if (ntp > 1)
            printf(" .. %s (%d ranks)", tt_writer_path(w[ntp - 1]), ntp);
        printf(" in %.2f s (engine thread in tracing calls: %.1f ms)\n", now_s() - t0, rec.put_seconds * 1e3);
    } else if (status == EXIT_OK && !o.quiet) {
        printf("tinylm: done in %.2f s\n", now_s() - t0);
    }
    for (int r = 0; r < ntp; r++)
        tt_writer_free(w[r]);
    tl_tp_free(&tp);
    tl_model_free(&model);
    return status;
}
