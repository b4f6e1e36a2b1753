/*
 * device_graph.c — tt_device_put() on a stream that is being captured into a graph (HIP graphs, CUDA graphs).
 *
 * A captured put cannot take room from the staging ring at replay time: the graph's nodes are fixed when it is
 * captured, and nothing on the host runs before a replay's snapshot. So a captured put ("point") owns two slots of
 * graph memory and one 64-bit cell of mapped host memory (its reference) that names the slot the next replay
 * writes, and it captures two nodes:
 *   1. a kernel that reads the reference when it runs and copies the tensor there (or reduces it to statistics
 *      there); reference 0 means "this replay is dropped" and the kernel does nothing;
 *   2. a host node (host_fn below), run after the kernel at every replay, that admits the slot just written as a
 *      job of the ordinary pipeline (the copy thread copies it out, the completion thread frees the slot) and arms
 *      the other slot for the next replay by writing its address into the reference.
 * The host node makes no runtime call. Under TT_ON_FULL_BLOCK it waits when the FIFO is full or when both slots are
 * still being copied out (the host is a whole replay behind); under TT_ON_FULL_DROP it drops instead: a full FIFO
 * drops the replay just written (its slot stays armed), two busy slots drop the next replay (reference 0). Drops
 * are counted when they happen. Where the runtime allows, the host node is made a leaf of the graph (later
 * captured work does not wait for it), so the engine's stream waits neither for the host node nor for its waits;
 * the next replay does (the runtimes start a launch of a graph after the previous launch has completed).
 *
 * What holds: every replay whose host node admitted its slot is recorded with that replay's values, in replay
 * order; the reference is changed only by the host node, between the end of a replay's kernel and the start of the
 * next replay's, so a kernel never writes a slot being copied out. This needs replays of one graph to be
 * stream-ordered (true for launches of one executable graph; two executable instances of one captured graph must
 * not run at the same time) and the handle to outlive every replay.
 */
#define _POSIX_C_SOURCE 200809L
#include "device_impl.h"

#include <stdlib.h>
#include <string.h>

#include "device_stats.h"

static void set_ref(tt_gpoint *p, const void *slot_dev)
{
    /* read by the GPU at the next replay; the runtime orders the host node's end before that replay */
    *(volatile uint64_t *)p->ref_host = (uint64_t)(uintptr_t)slot_dev;
}

/* Admits the slot a replay just wrote as a pipeline job (under mu). TT_OK, TT_DROPPED (FIFO full under the drop
 * policy), or TT_E_STATE (closing). */
static int admit_replay(tt_device *d, tt_gpoint *p, int slot)
{
    int waited = 0;
    while (tt_fifo_full(&d->fifo)) {
        if (d->stopping)
            return TT_E_STATE;
        if (d->on_full == TT_ON_FULL_DROP) {
            d->counters.dropped++;
            tt__writer_count(d->w, 0, 1);
            return TT_DROPPED;
        }
        if (!waited) {
            d->counters.pool_full_waits++;
            waited = 1;
        }
        pthread_cond_wait(&d->cv_space, &d->mu);
    }
    tt_djob *j = &d->jobs[tt_fifo_slot(&d->fifo, d->fifo.admitted++)];
    j->state = DJ_ISSUED;
    j->kind = p->kind;
    j->point = p;
    j->slot = slot;
    j->staging_off = 0;
    j->src_dev = p->slot_dev[slot];
    j->host_bytes = p->host_bytes;
    j->has_pinned = 0;
    j->error = 0;
    j->rec = p->rec;
    j->rec.time_ns = tt_now_ns();
    j->keybuf = NULL;
    p->slot_state[slot] = SLOT_COPYING;
    d->counters.snapshots++;
    d->counters.snapshot_bytes += p->tensor_bytes;
    if (p->kind == KIND_STATS)
        d->counters.stats_on_device++;
    pthread_cond_signal(&d->cv_copy);
    return TT_OK;
}

/* Arms a free slot for the next replay, preferring `prefer` (under mu). */
static void arm_next(tt_device *d, tt_gpoint *p, int prefer)
{
    int waited = 0;
    for (;;) {
        int s = p->slot_state[prefer] == SLOT_FREE ? prefer : p->slot_state[1 - prefer] == SLOT_FREE ? 1 - prefer : -1;
        if (s >= 0) {
            p->slot_state[s] = SLOT_ARMED;
            p->armed = s;
            set_ref(p, p->slot_dev[s]);
            return;
        }
        if (d->stopping || d->on_full == TT_ON_FULL_DROP) {
            p->armed = -1; /* the next replay writes nothing and is counted as dropped */
            set_ref(p, NULL);
            return;
        }
        if (!waited) {
            d->counters.pool_full_waits++;
            waited = 1;
        }
        pthread_cond_wait(&d->cv_space, &d->mu);
    }
}

/* The host node of a captured put, run by the runtime at every replay after the put's kernel. */
static void host_fn(void *arg)
{
    tt_gpoint *p = arg;
    tt_device *d = p->d;
    pthread_mutex_lock(&d->mu);
    if (!p->live || d->stopping || d->closed) {
        pthread_mutex_unlock(&d->mu);
        return;
    }
    p->replays++;
    d->counters.graph_replays++;
    int cur = p->armed;
    if (cur < 0) {
        d->counters.dropped++; /* this replay's kernel found reference 0 */
        tt__writer_count(d->w, 0, 1);
        arm_next(d, p, 0);
    } else if (admit_replay(d, p, cur) == TT_OK) {
        arm_next(d, p, 1 - cur);
    } /* else dropped (or closing): the slot stays armed and is written again by the next replay */
    pthread_mutex_unlock(&d->mu);
}

int tt__device_graph_put(tt_device *d, const tt_record *rec_in, int kind, const void *src, uint64_t elems,
                         void *stream)
{
    const char *point = rec_in->key.point;
    char why[TT_DEVICE_ERRTEXT];
    if (!d->ops->can_capture(d->bk, why, sizeof why))
        return tt__device_put_error(d, TT_E_UNSUPPORTED, "device put %s under graph capture: %s", point, why);
    uint64_t slot_bytes = kind == KIND_STATS ? TT_GPU_STATS_SLOT_BYTES : rec_in->nbytes;
    uint64_t span = (slot_bytes + TT_DEVICE_ALIGN - 1) / TT_DEVICE_ALIGN * TT_DEVICE_ALIGN;
    tt_record rec = *rec_in;
    char *keybuf = NULL;
    if (tt__device_copy_key(&rec_in->key, &rec, &keybuf) != TT_OK)
        return tt__device_put_error(d, TT_E_NOMEM, "device put %s: out of memory", point);

    pthread_mutex_lock(&d->mu);
    int full = d->npoints >= d->max_points, no_room = 2 * span > d->graph_bytes - d->graph_used;
    uint32_t used_points = d->npoints;
    uint64_t used = d->graph_used;
    tt_gpoint *p = NULL;
    uint32_t idx = 0;
    if (!full && !no_room) {
        idx = d->npoints++;
        p = &d->points[idx];
        memset(p, 0, sizeof *p);
        p->d = d;
        p->live = 1;
        p->kind = kind;
        p->tensor_bytes = rec.nbytes;
        p->host_bytes = kind == KIND_STATS ? sizeof(tt_gpu_stats) : rec.nbytes;
        p->slot_dev[0] = (char *)d->graph_dev + d->graph_used;
        p->slot_dev[1] = (char *)d->graph_dev + d->graph_used + span;
        d->graph_used += 2 * span;
        p->slot_state[0] = SLOT_ARMED;
        p->slot_state[1] = SLOT_FREE;
        p->armed = 0;
        p->ref_host = &d->refs_host[idx];
        set_ref(p, p->slot_dev[0]);
        p->rec = rec;
        p->keybuf = keybuf;
    }
    pthread_mutex_unlock(&d->mu);
    if (full || no_room) {
        free(keybuf);
        if (full)
            return tt__device_put_error(d, TT_E_LIMIT,
                                        "device put %s under graph capture: %u puts are captured already (option "
                                        "graph_points; tt_device_graph_reset() forgets them)",
                                        point, used_points);
        return tt__device_put_error(d, TT_E_LIMIT,
                                    "device put %s under graph capture: needs 2 x %llu bytes of graph memory, %llu of "
                                    "%llu are used (option graph_bytes; tt_device_graph_reset() frees them)",
                                    point, (unsigned long long)span, (unsigned long long)used,
                                    (unsigned long long)d->graph_bytes);
    }

    const tt_gpu_ops *ops = d->ops;
    const uint64_t *ref_dev = d->refs_dev + idx;
    int prev, leaf = 0;
    int err = tt__device_enter(d, &prev);
    if (!err)
        err = kind == KIND_STATS ? ops->stats(d->bk, stream, rec.dtype, src, elems, NULL, ref_dev)
                                 : ops->copy_indirect(d->bk, stream, src, rec.nbytes, ref_dev);
    if (!err)
        err = ops->host_node(d->bk, stream, host_fn, p, &leaf);
    tt__device_leave(d, prev);

    int rc = TT_OK;
    pthread_mutex_lock(&d->mu);
    if (err) {
        p->live = 0; /* a kernel may have been captured: it finds reference 0 and does nothing */
        set_ref(p, NULL);
        rc = tt__device_rt_error(d, err, "device put under graph capture", point);
    } else {
        d->counters.graph_puts++;
    }
    pthread_mutex_unlock(&d->mu);
    return rc;
}

void tt__device_graph_free(tt_device *d)
{
    for (uint32_t i = 0; i < d->npoints; i++) {
        tt_gpoint *p = &d->points[i];
        if (d->refs_host)
            set_ref(p, NULL);
        p->live = 0;
        free(p->keybuf);
        p->keybuf = NULL;
    }
    d->npoints = 0;
    d->graph_used = 0;
}

int tt_device_graph_reset(tt_device *d)
{
    if (!d)
        return TT_OK;
    int rc = tt_device_flush(d);
    pthread_mutex_lock(&d->mu);
    if (!d->closed && d->points)
        tt__device_graph_free(d);
    pthread_mutex_unlock(&d->mu);
    return rc;
}
