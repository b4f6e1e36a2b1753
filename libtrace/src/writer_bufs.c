/*
 * writer_bufs.c — the writer keeps the tensor buffers it has written and gives them to the next puts.
 *
 * tt_put() copies each tensor into a buffer of the writer's own; the file thread is done with it once the
 * record's frames are written. Freed, a buffer of megabytes goes back to the kernel often enough (glibc unmaps
 * large blocks and trims its heap) that the next put's copy page-faults on fresh pages: in a profile of
 * tracebench (4 MiB tensors, 2 workers) those faults under the copy were about 9 % of all samples. So a written
 * buffer is kept, up to BUF_KEEP of them, and an admission whose tensor fits one takes it.
 *
 * Memory bound: kept buffers are counted with the bytes in flight (w->buf_bytes, beside w->inflight and
 * w->workers_mem), so inflight_bytes bounds them too. A buffer is kept only when it fits under the bound; a put
 * that finds the bound full frees kept buffers (those that its tensor does not fit) before it waits; and a
 * buffer taken by a put moves from buf_bytes to the put's reservation, capacity and all. A buffer is reused only
 * for a tensor it does not outsize by more than a quarter, so little of the bound goes to slack.
 *
 * New buffers come from tt_alloc_big(): from 2 MiB on they ask for huge pages, so the first fill of the bound
 * (the buffers are new until the writer has as many as the bound holds) takes one fault per 2 MiB instead of one
 * per 4 KiB page. BENCHMARKS.md, "Writer: tensor buffers kept for reuse", has the numbers.
 *
 * Everything here runs under the writer's mutex, which admission and the file thread hold at these points
 * anyway: no lock of its own. Only the zero-copy buffers (tt__writer_submit() with copy = 0) are never kept:
 * they go back to whoever handed them over.
 */
#define _POSIX_C_SOURCE 200809L
#include "writer_impl.h"

#include <stdlib.h>
#include <string.h>

uint64_t tt__writer_held(const tt_writer *w) { return w->inflight + w->workers_mem + w->buf_bytes; }

void tt__writer_note_held(tt_writer *w)
{
    uint64_t h = tt__writer_held(w);
    if (h > w->mem_peak)
        w->mem_peak = h;
}

/* Does a buffer of cap bytes suit a tensor of n bytes? */
static int fits(uint64_t cap, uint64_t n) { return cap >= n && cap - n <= n / 4; }

int tt__buf_find(const tt_writer *w, uint64_t n)
{
    int best = -1;
    for (uint32_t i = 0; i < w->nbufs; i++)
        if (fits(w->buf_cap[i], n) && (best < 0 || w->buf_cap[i] < w->buf_cap[best]))
            best = (int)i;
    return best;
}

/* Removes entry i, keeping the others in the order they were kept (oldest first). */
static uint8_t *remove_at(tt_writer *w, uint32_t i, uint64_t *cap)
{
    uint8_t *p = w->buf_p[i];
    *cap = w->buf_cap[i];
    w->buf_bytes -= *cap;
    w->nbufs--;
    memmove(&w->buf_p[i], &w->buf_p[i + 1], (w->nbufs - i) * sizeof *w->buf_p);
    memmove(&w->buf_cap[i], &w->buf_cap[i + 1], (w->nbufs - i) * sizeof *w->buf_cap);
    return p;
}

uint8_t *tt__buf_take(tt_writer *w, int i, uint64_t *cap)
{
    w->buf_reused++;
    return remove_at(w, (uint32_t)i, cap);
}

int tt__buf_evict(tt_writer *w, int except)
{
    for (uint32_t i = 0; i < w->nbufs; i++)
        if ((int)i != except) {
            uint64_t cap;
            /* under the lock, but rare: only when the bound is reached with buffers of other sizes kept */
            free(remove_at(w, i, &cap));
            return 1;
        }
    return 0;
}

uint8_t *tt__buf_keep(tt_writer *w, uint8_t *p, uint64_t cap)
{
    if (!p || !cap || w->closing || w->failed || tt__writer_held(w) + cap > w->inflight_limit)
        return p;
    uint8_t *spill = NULL;
    if (w->nbufs == BUF_KEEP) { /* the oldest makes room */
        uint64_t old;
        spill = remove_at(w, 0, &old);
    }
    w->buf_p[w->nbufs] = p;
    w->buf_cap[w->nbufs++] = cap;
    w->buf_bytes += cap;
    return spill;
}

void tt__buf_free_all(tt_writer *w)
{
    pthread_mutex_lock(&w->mu);
    while (tt__buf_evict(w, -1))
        ;
    pthread_mutex_unlock(&w->mu);
}

int tt__writer_mem_stats(tt_writer *w, tt_writer_mem *out, int reset_peak)
{
    if (!w || !out)
        return TT_E_INVAL;
    pthread_mutex_lock(&w->mu);
    out->limit = w->inflight_limit;
    out->held = tt__writer_held(w);
    out->peak = w->mem_peak;
    out->inflight = w->inflight;
    out->workers = w->workers_mem;
    out->kept_bytes = w->buf_bytes;
    out->kept = w->nbufs;
    out->reused = w->buf_reused;
    if (reset_peak)
        w->mem_peak = out->held;
    pthread_mutex_unlock(&w->mu);
    return TT_OK;
}
