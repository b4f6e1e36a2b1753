/*
 * gen_stats_trace.c — writes a trace of N stats-only records for the trace2jsonl throughput benchmark
 * (tools/README.md, "Benchmark"). The records are what an engine captures with TT_TRACE_MODE=stats: each is a
 * real 64-element bf16 activation row put through tt_put(), so the writer computes its hash and statistics
 * (min/max are bf16 values, mean a full double) and stores no tensor. Keys follow the seeds' protocol: three
 * prompts, prefill_last/decode0, layers 0,1,2,4,8, the eleven points of the B3.66 probe.
 *   usage: gen_stats_trace OUT.tt [N=1000000]
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tt/dtype.h"
#include "tt/writer.h"

int main(int argc, char **argv)
{
    if (argc < 2 || argc > 3) {
        fprintf(stderr, "usage: gen_stats_trace OUT.tt [N]\n");
        return 2;
    }
    unsigned long long n = argc == 3 ? strtoull(argv[2], NULL, 10) : 1000000ull;
    static const char *prompts[] = {"p0_short", "p6_len_16", "p6_len_32"};
    static const int lens[] = {38, 16, 32};
    static const char *points[] = {"embed_out", "residual_pre_attn", "attn_norm_out", "q_pre_rope", "q_post_rope",
                                   "attn_out", "residual_post_attn", "ffn_norm_in", "mlp_out", "residual_post_mlp",
                                   "logits_top1"};
    static const int layers[] = {0, 1, 2, 4, 8};
    tt_writer_options o = TT_WRITER_OPTIONS_INIT;
    o.ignore_env = 1;
    o.overwrite = 1;
    o.mode = TT_MODE_STATS;
    tt_writer *w = NULL;
    if (tt_writer_open(&w, argv[1], &o) != TT_OK) {
        fprintf(stderr, "gen_stats_trace: %s\n", w ? tt_writer_errmsg(w) : "out of memory");
        return 1;
    }
    tt_writer_set_meta(w, "engine", "gen_stats_trace");
    tt_writer_set_meta(w, "capture_mode", "stats");
    enum { W = 64 };
    float f[W];
    uint16_t row[W];
    uint64_t state = 12345;
    for (unsigned long long i = 0; i < n; i++) {
        for (int j = 0; j < W; j++) {
            state = state * 6364136223846793005ull + 1442695040888963407ull;
            f[j] = (float)((int64_t)(state >> 33) - (1ll << 30)) / (float)(1ll << 30) * 0.01f;
        }
        tt_from_f32(TT_BF16, f, W, row);
        unsigned long long r = i;
        int pt = (int)(r % 11);
        r /= 11;
        int layer = layers[r % 5];
        r /= 5;
        int ph = (int)(r % 2);
        r /= 2;
        int p = (int)(r % 3);
        tt_key k = TT_KEY_INIT;
        k.prompt_id = prompts[p];
        k.phase = ph ? "decode0" : "prefill_last";
        k.point = points[pt];
        k.layer = layer;
        k.step = ph;
        k.pos_id = lens[p] - 1;
        k.rows = ph ? 1 : lens[p];
        k.token_id = 1000 + (int)(r % 1000);
        k.logical_tok_idx = lens[p] - 1;
        uint64_t shape[2] = {1, W};
        if (tt_put(w, &k, TT_BF16, 2, shape, row) < 0) {
            fprintf(stderr, "gen_stats_trace: %s\n", tt_writer_errmsg(w));
            return 1;
        }
    }
    int rc = tt_writer_close(w);
    if (rc != TT_OK)
        fprintf(stderr, "gen_stats_trace: %s\n", tt_writer_errmsg(w));
    tt_writer_free(w);
    return rc == TT_OK ? 0 : 1;
}
