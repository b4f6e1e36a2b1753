/*
 * trace.c — the recorder: tinylm's only contact with libtrace's writer (see trace.h for the key layout).
 */
#include "trace.h"

#include <stdlib.h>
#include <time.h>

#include "tt/dtype.h"

static double seconds(void)
{
    struct timespec ts;
    timespec_get(&ts, TIME_UTC);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

void tl_rec_rank(tl_rec *r, int rank)
{
    if (r) {
        r->rank = rank;
        r->layout = TL_LAYOUT_WHOLE;
    }
}

void tl_rec_layout(tl_rec *r, tl_layout layout)
{
    if (r)
        r->layout = layout;
}

/* Which rank's file the next record goes to, with its shard fields in k; -1 when this rank does not write it
 * (a replica of a KV head another rank writes). */
static int target_rank(const tl_rec *r, tt_key *k)
{
    if (r->tp <= 1 || r->rank == TL_REPLICATED)
        return 0; /* a whole tensor, in rank 0's file */
    switch (r->layout) {
    case TL_LAYOUT_HEADS:
        k->shard_kind = TT_SHARD_SPLIT, k->shard_dim = 1, k->shard_index = r->rank, k->shard_count = r->tp;
        return r->rank;
    case TL_LAYOUT_KV_HEADS:
        k->shard_kind = TT_SHARD_SPLIT, k->shard_dim = 1;
        if (r->tp > r->kv_heads) { /* replicated KV heads: the group's first rank writes its head */
            int group = r->tp / r->kv_heads;
            if (r->rank % group != 0)
                return -1;
            k->shard_index = r->rank / group, k->shard_count = r->kv_heads;
        } else {
            k->shard_index = r->rank, k->shard_count = r->tp;
        }
        return r->rank;
    case TL_LAYOUT_PARTIAL:
        k->shard_kind = TT_SHARD_PARTIAL, k->shard_dim = -1, k->shard_index = r->rank, k->shard_count = r->tp;
        return r->rank;
    default:
        return r->rank;
    }
}

static void put_timed(tl_rec *r, tt_writer *w, tt_key *key, const float *data, int ndim, const uint64_t *shape);

static void put(tl_rec *r, const char *phase, int step, const char *point, int layer, int tok_idx, int pos,
                int rows, const float *data, int ndim, const uint64_t *shape)
{
    if (r->status < 0 || !r->w)
        return;
    tt_key key = TT_KEY_INIT;
    int rank = target_rank(r, &key);
    if (rank < 0 || !r->w[rank] || !tt_writer_wants(r->w[rank], point, layer, r->prompt_id, phase))
        return; /* not this rank's, filtered out or tracing off: skip the conversion too */
    key.prompt_id = r->prompt_id;
    key.phase = phase;
    key.point = point;
    key.layer = layer;
    key.step = step;
    key.token_id = r->tokens[tok_idx];
    key.logical_tok_idx = tok_idx;
    key.pos_id = pos;
    key.rows = rows;
    /* key.rank stays TT_UNSET: the writer's own rank (--tp opens rank r's writer with rank r) */
    double t0 = seconds();
    put_timed(r, r->w[rank], &key, data, ndim, shape);
    if (r->status < 0)
        r->failed_rank = rank;
    r->put_seconds += seconds() - t0;
}

static void put_timed(tl_rec *r, tt_writer *w, tt_key *key, const float *data, int ndim, const uint64_t *shape)
{    size_t n = 1;
    for (int i = 0; i < ndim; i++)
        n *= (size_t)shape[i];
    const void *payload = data;
    tt_dtype dt = TT_F32;
    if (r->bf16) {
        if (n > r->scratch_cap) {
            uint16_t *p = realloc(r->scratch, n * sizeof *p);
            if (!p) {
                r->status = TT_E_NOMEM;
                return;
            }
            r->scratch = p;
            r->scratch_cap = n;
        }
        int rc = tt_from_f32(TT_BF16, data, n, r->scratch);
        if (rc < 0) {
            r->status = rc;
            return;
        }
        payload = r->scratch;
        dt = TT_BF16;
    }
    int rc = tt_put(w, key, dt, ndim, shape, payload);
    if (rc < 0)
        r->status = rc;
}

void tl_trace_rows(tl_rec *r, const char *point, int layer, const float *data, int nrows, int ntail,
                   const uint64_t *tail)
{
    if (!r)
        return;
    uint64_t shape[4];
    size_t row_elems = 1;
    for (int i = 0; i < ntail; i++) {
        shape[1 + i] = tail[i];
        row_elems *= (size_t)tail[i];
    }
    if (r->decode) {
        shape[0] = 1;
        put(r, "decode0", 1, point, layer, r->pos, r->pos, 1, data, 1 + ntail, shape);
        return;
    }
    if (r->emit_full) {
        shape[0] = (uint64_t)nrows;
        put(r, "prefill", 0, point, layer, 0, 0, nrows, data, 1 + ntail, shape);
    }
    if (r->emit_last) {
        shape[0] = 1;
        put(r, "prefill_last", 0, point, layer, nrows - 1, nrows - 1, 1, data + (size_t)(nrows - 1) * row_elems,
            1 + ntail, shape);
    }
}

void tl_trace_last(tl_rec *r, const char *point, int layer, const float *row, int n, int ntail,
                   const uint64_t *tail)
{
    if (!r || r->decode || !r->emit_last)
        return;
    uint64_t shape[4];
    shape[0] = 1;
    for (int i = 0; i < ntail; i++)
        shape[1 + i] = tail[i];
    put(r, "prefill_last", 0, point, layer, n - 1, n - 1, 1, row, 1 + ntail, shape);
}

void tl_trace_cache(tl_rec *r, const char *point, int layer, const float *rows, int kv_len, int kv_dim)
{
    if (!r)
        return;
    uint64_t shape[2] = {(uint64_t)kv_len, (uint64_t)kv_dim};
    if (r->decode) {
        put(r, "decode0", 1, point, layer, r->pos, 0, kv_len, rows, 2, shape);
        return;
    }
    if (r->emit_full)
        put(r, "prefill", 0, point, layer, 0, 0, kv_len, rows, 2, shape);
    if (r->emit_last)
        put(r, "prefill_last", 0, point, layer, kv_len - 1, 0, kv_len, rows, 2, shape);
}

void tl_rec_release(tl_rec *r)
{
    if (!r)
        return;
    free(r->scratch);
    r->scratch = NULL;
    r->scratch_cap = 0;
}
