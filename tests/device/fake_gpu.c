/*
 * fake_gpu.c — the fake GPU of fake_gpu.h. One mutex and one condition variable guard every queue, event and
 * counter: simple and obviously race-free, which is what a test double must be (the tests run under TSan).
 */
#define _POSIX_C_SOURCE 200809L
#include "fake_gpu.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "device_stats.h"

enum { OP_MEMCPY, OP_RECORD, OP_WAIT, OP_HOSTFN, OP_COPY_INDIRECT, OP_STATS, OP_FILL_COUNTER, OP_GRAPH };

typedef struct fevent {
    uint64_t recorded, completed;
} fevent;

typedef struct fgraph fgraph;

typedef struct fop {
    struct fop *next;
    int kind;
    void *dst;
    const void *src;
    size_t n;
    fevent *ev;
    uint64_t seq;
    tt_gpu_host_fn fn;
    void *arg;
    const uint64_t *ref;
    int dtype;
    int *counter;
    fgraph *graph;
} fop;

struct fgraph {
    fop *head, *tail;
};

typedef struct fstream {
    fake_gpu *g;
    pthread_t th;
    fop *head, *tail;
    int paused, stop, busy, internal;
    int capturing, invalid;
    fgraph *cap;
    struct fstream *next_internal;
} fstream;

struct fake_gpu {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int ndevices;
    long live;
    char fail_op[32];
    int fail_nth;
    int internal_paused;
    unsigned copy_delay_us;
    uint64_t host_nodes;
    fstream *internal; /* the pipeline's streams */
};

static _Thread_local int current_device;

/* ---- the machine ------------------------------------------------------------------------------------------- */

static int paused(const fstream *s) { return s->paused || (s->internal && s->g->internal_paused); }

static void sleep_us(unsigned us)
{
    struct timespec ts = {(time_t)(us / 1000000u), (long)(us % 1000000u) * 1000L};
    nanosleep(&ts, NULL);
}

static void exec_op(fake_gpu *g, fstream *s, const fop *op)
{
    switch (op->kind) {
    case OP_MEMCPY: {
        pthread_mutex_lock(&g->mu);
        unsigned delay = s->internal ? g->copy_delay_us : 0;
        pthread_mutex_unlock(&g->mu);
        if (delay)
            sleep_us(delay);
        memcpy(op->dst, op->src, op->n);
        break;
    }
    case OP_RECORD:
        pthread_mutex_lock(&g->mu);
        if (op->seq > op->ev->completed)
            op->ev->completed = op->seq;
        pthread_cond_broadcast(&g->cv);
        pthread_mutex_unlock(&g->mu);
        break;
    case OP_WAIT:
        pthread_mutex_lock(&g->mu);
        while (op->ev->completed < op->seq)
            pthread_cond_wait(&g->cv, &g->mu);
        pthread_mutex_unlock(&g->mu);
        break;
    case OP_HOSTFN:
        pthread_mutex_lock(&g->mu);
        g->host_nodes++;
        pthread_mutex_unlock(&g->mu);
        op->fn(op->arg);
        break;
    case OP_COPY_INDIRECT: {
        void *dst = (void *)(uintptr_t)*(const volatile uint64_t *)op->ref;
        if (dst)
            memcpy(dst, op->src, op->n);
        break;
    }
    case OP_STATS: {
        void *slot = op->dst ? op->dst : (void *)(uintptr_t)*(const volatile uint64_t *)op->ref;
        if (slot) {
            tt_gpu_stats r;
            tt_gs_reduce_host(op->dtype, op->src, op->n, &r);
            memcpy(slot, &r, sizeof r);
        }
        break;
    }
    case OP_FILL_COUNTER: {
        float v = (float)(*op->counter)++;
        float *f = op->dst;
        for (size_t i = 0; i < op->n; i++)
            f[i] = v + (float)i;
        break;
    }
    case OP_GRAPH:
        for (const fop *o = op->graph->head; o; o = o->next)
            exec_op(g, s, o);
        break;
    }
}

static void *stream_main(void *arg)
{
    fstream *s = arg;
    fake_gpu *g = s->g;
    pthread_mutex_lock(&g->mu);
    for (;;) {
        while (!s->stop && (!s->head || paused(s)))
            pthread_cond_wait(&g->cv, &g->mu);
        if (!s->head)
            break; /* stopped and drained */
        fop *op = s->head;
        s->head = op->next;
        if (!s->head)
            s->tail = NULL;
        s->busy = 1;
        pthread_mutex_unlock(&g->mu);
        exec_op(g, s, op);
        free(op);
        pthread_mutex_lock(&g->mu);
        s->busy = 0;
        pthread_cond_broadcast(&g->cv);
    }
    pthread_mutex_unlock(&g->mu);
    return NULL;
}

/* Appends an operation to a stream's queue, or to its graph while it captures (under g->mu). */
static void enqueue_locked(fstream *s, fop *op)
{
    op->next = NULL;
    if (s->capturing) {
        if (s->cap->tail)
            s->cap->tail->next = op;
        else
            s->cap->head = op;
        s->cap->tail = op;
        return;
    }
    if (s->tail)
        s->tail->next = op;
    else
        s->head = op;
    s->tail = op;
    pthread_cond_broadcast(&s->g->cv);
}

static int enqueue(fstream *s, fop *op)
{
    if (!op)
        return FAKE_E_OOM;
    pthread_mutex_lock(&s->g->mu);
    enqueue_locked(s, op);
    pthread_mutex_unlock(&s->g->mu);
    return 0;
}

static fop *new_op(int kind)
{
    fop *op = calloc(1, sizeof *op);
    if (op)
        op->kind = kind;
    return op;
}

static fstream *stream_new(fake_gpu *g, int internal)
{
    fstream *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->g = g;
    s->internal = internal;
    if (pthread_create(&s->th, NULL, stream_main, s) != 0) {
        free(s);
        return NULL;
    }
    pthread_mutex_lock(&g->mu);
    if (internal) {
        s->next_internal = g->internal;
        g->internal = s;
    }
    pthread_mutex_unlock(&g->mu);
    return s;
}

static void stream_free(fstream *s)
{
    fake_gpu *g = s->g;
    pthread_mutex_lock(&g->mu);
    s->stop = 1;
    pthread_cond_broadcast(&g->cv);
    for (fstream **p = &g->internal; *p; p = &(*p)->next_internal)
        if (*p == s) {
            *p = s->next_internal;
            break;
        }
    pthread_mutex_unlock(&g->mu);
    pthread_join(s->th, NULL);
    free(s);
}

/* ---- failure injection, accounting ------------------------------------------------------------------------ */

static int injected(fake_gpu *g, const char *op)
{
    int fail = 0;
    pthread_mutex_lock(&g->mu);
    if (g->fail_nth > 0 && strcmp(g->fail_op, op) == 0 && --g->fail_nth == 0) {
        fail = 1;
        g->fail_op[0] = 0;
    }
    pthread_mutex_unlock(&g->mu);
    return fail;
}

static void live_add(fake_gpu *g, long k)
{
    pthread_mutex_lock(&g->mu);
    g->live += k;
    pthread_mutex_unlock(&g->mu);
}

/* ---- the backend ------------------------------------------------------------------------------------------ */

static void f_describe(void *bk, int err, char *buf, size_t n)
{
    const char *what = err == FAKE_E_NODEVICE   ? "fakeErrorNoDevice: no fake GPU"
                       : err == FAKE_E_OOM      ? "fakeErrorMemoryAllocation: out of memory"
                       : err == FAKE_E_INJECTED ? "fakeErrorInjected: failure injected by the test"
                       : err == FAKE_E_CAPTURE  ? "fakeErrorCapture: operation not permitted under capture"
                                                : "fakeErrorUnknown";
    snprintf(buf, n, "%s (%d)", what, err);
}

static int f_status(void *bk, int err) { return err == FAKE_E_NODEVICE ? TT_E_NODEVICE : TT_E_DEVICE; }

static int f_device_count(void *bk, int *n)
{
    fake_gpu *g = bk;
    *n = 0;
    if (injected(g, "device_count"))
        return FAKE_E_INJECTED;
    if (g->ndevices <= 0)
        return FAKE_E_NODEVICE;
    *n = g->ndevices;
    return 0;
}

static int f_get_device(void *bk, int *dev)
{
    *dev = current_device;
    return 0;
}

static int f_set_device(void *bk, int dev)
{
    fake_gpu *g = bk;
    if (dev < 0 || dev >= g->ndevices)
        return FAKE_E_NODEVICE;
    current_device = dev;
    return 0;
}

static int f_thread_init(void *bk, int dev) { return f_set_device(bk, dev); }

static int f_malloc(void *bk, const char *op, void **p, size_t n)
{
    fake_gpu *g = bk;
    *p = NULL;
    if (injected(g, op))
        return FAKE_E_INJECTED;
    *p = malloc(n);
    if (!*p)
        return FAKE_E_OOM;
    live_add(g, 1);
    return 0;
}

static int f_free(void *bk, void *p)
{
    free(p);
    live_add(bk, -1);
    return 0;
}

static int f_malloc_device(void *bk, void **p, size_t n) { return f_malloc(bk, "malloc_device", p, n); }
static int f_malloc_pinned(void *bk, void **p, size_t n) { return f_malloc(bk, "malloc_pinned", p, n); }

static int f_malloc_mapped(void *bk, void **host, void **dev, size_t n)
{
    int err = f_malloc(bk, "malloc_mapped", host, n);
    *dev = *host;
    return err;
}

static int f_stream_create(void *bk, void **s)
{
    fake_gpu *g = bk;
    *s = NULL;
    if (injected(g, "stream_create"))
        return FAKE_E_INJECTED;
    *s = stream_new(g, 1);
    if (!*s)
        return FAKE_E_OOM;
    live_add(g, 1);
    return 0;
}

static int f_stream_destroy(void *bk, void *s)
{
    stream_free(s);
    live_add(bk, -1);
    return 0;
}

static int f_stream_sync(void *bk, void *sv)
{
    fstream *s = sv;
    fake_gpu *g = bk;
    pthread_mutex_lock(&g->mu);
    while (s->head || s->busy)
        pthread_cond_wait(&g->cv, &g->mu);
    pthread_mutex_unlock(&g->mu);
    return 0;
}

static int f_event_create(void *bk, void **e)
{
    fake_gpu *g = bk;
    *e = NULL;
    if (injected(g, "event_create"))
        return FAKE_E_INJECTED;
    *e = calloc(1, sizeof(fevent));
    if (!*e)
        return FAKE_E_OOM;
    live_add(g, 1);
    return 0;
}

static int f_event_destroy(void *bk, void *e) { return f_free(bk, e); }

static int f_event_record(void *bk, void *ev, void *sv)
{
    fake_gpu *g = bk;
    fstream *s = sv;
    fevent *e = ev;
    if (injected(g, "event_record"))
        return FAKE_E_INJECTED;
    fop *op = new_op(OP_RECORD);
    if (!op)
        return FAKE_E_OOM;
    pthread_mutex_lock(&g->mu);
    if (s->capturing) { /* the pipeline must never record its events into a graph */
        s->invalid = 1;
        pthread_mutex_unlock(&g->mu);
        free(op);
        return FAKE_E_CAPTURE;
    }
    op->ev = e;
    op->seq = ++e->recorded;
    enqueue_locked(s, op);
    pthread_mutex_unlock(&g->mu);
    return 0;
}

static int f_event_sync(void *bk, void *ev)
{
    fake_gpu *g = bk;
    fevent *e = ev;
    if (injected(g, "event_sync"))
        return FAKE_E_INJECTED;
    pthread_mutex_lock(&g->mu);
    uint64_t target = e->recorded;
    while (e->completed < target)
        pthread_cond_wait(&g->cv, &g->mu);
    pthread_mutex_unlock(&g->mu);
    return 0;
}

static int f_stream_wait_event(void *bk, void *sv, void *ev)
{
    fake_gpu *g = bk;
    fstream *s = sv;
    fevent *e = ev;
    if (injected(g, "stream_wait_event"))
        return FAKE_E_INJECTED;
    fop *op = new_op(OP_WAIT);
    if (!op)
        return FAKE_E_OOM;
    pthread_mutex_lock(&g->mu);
    if (s->capturing) {
        s->invalid = 1;
        pthread_mutex_unlock(&g->mu);
        free(op);
        return FAKE_E_CAPTURE;
    }
    op->ev = e;
    op->seq = e->recorded;
    enqueue_locked(s, op);
    pthread_mutex_unlock(&g->mu);
    return 0;
}

static int f_memcpy_async(void *bk, void *dst, const void *src, size_t n, void *s)
{
    if (injected(bk, "memcpy_async"))
        return FAKE_E_INJECTED;
    fop *op = new_op(OP_MEMCPY);
    if (op) {
        op->dst = dst;
        op->src = src;
        op->n = n;
    }
    return enqueue(s, op);
}

static int f_capture_status(void *bk, void *sv, int *status)
{
    fake_gpu *g = bk;
    fstream *s = sv;
    if (injected(g, "capture_status"))
        return FAKE_E_INJECTED;
    pthread_mutex_lock(&g->mu);
    *status = !s->capturing ? TT_GPU_CAPTURE_NONE : s->invalid ? TT_GPU_CAPTURE_INVALIDATED : TT_GPU_CAPTURE_ACTIVE;
    pthread_mutex_unlock(&g->mu);
    return 0;
}

static int f_copy_indirect(void *bk, void *s, const void *src, size_t n, const uint64_t *ref)
{
    if (injected(bk, "copy_indirect"))
        return FAKE_E_INJECTED;
    fop *op = new_op(OP_COPY_INDIRECT);
    if (op) {
        op->src = src;
        op->n = n;
        op->ref = ref;
    }
    return enqueue(s, op);
}

static int f_stats(void *bk, void *s, tt_dtype dtype, const void *src, uint64_t n, void *slot, const uint64_t *ref)
{
    if (injected(bk, "stats"))
        return FAKE_E_INJECTED;
    fop *op = new_op(OP_STATS);
    if (op) {
        op->dtype = (int)dtype;
        op->src = src;
        op->n = (size_t)n;
        op->dst = slot;
        op->ref = ref;
    }
    return enqueue(s, op);
}

static int f_can_capture(void *bk, char *why, size_t n)
{
    if (!injected(bk, "can_capture"))
        return 1;
    snprintf(why, n, "the fake runtime has no host nodes today");
    return 0;
}

static int f_host_node(void *bk, void *sv, tt_gpu_host_fn fn, void *arg, int *leaf)
{
    fake_gpu *g = bk;
    fstream *s = sv;
    *leaf = 0;
    if (injected(g, "host_node"))
        return FAKE_E_INJECTED;
    fop *op = new_op(OP_HOSTFN);
    if (!op)
        return FAKE_E_OOM;
    op->fn = fn;
    op->arg = arg;
    pthread_mutex_lock(&g->mu);
    if (!s->capturing) {
        pthread_mutex_unlock(&g->mu);
        free(op);
        return FAKE_E_CAPTURE;
    }
    enqueue_locked(s, op);
    pthread_mutex_unlock(&g->mu);
    *leaf = 1;
    return 0;
}

static const tt_gpu_ops fake_ops = {
    "fake",
    f_describe,
    f_status,
    f_device_count,
    f_get_device,
    f_set_device,
    f_thread_init,
    f_malloc_device,
    f_free,
    f_malloc_pinned,
    f_free,
    f_malloc_mapped,
    f_free,
    f_stream_create,
    f_stream_destroy,
    f_stream_sync,
    f_event_create,
    f_event_destroy,
    f_event_record,
    f_event_sync,
    f_stream_wait_event,
    f_memcpy_async,
    f_capture_status,
    f_copy_indirect,
    f_stats,
    f_can_capture,
    f_host_node,
};

const tt_gpu_ops *fake_gpu_ops(void) { return &fake_ops; }

/* ---- the tests' controls ---------------------------------------------------------------------------------- */

fake_gpu *fake_gpu_new(int ndevices)
{
    fake_gpu *g = calloc(1, sizeof *g);
    if (!g)
        return NULL;
    pthread_mutex_init(&g->mu, NULL);
    pthread_cond_init(&g->cv, NULL);
    g->ndevices = ndevices;
    return g;
}

void fake_gpu_free(fake_gpu *g)
{
    if (!g)
        return;
    pthread_mutex_destroy(&g->mu);
    pthread_cond_destroy(&g->cv);
    free(g);
}

void fake_gpu_fail(fake_gpu *g, const char *op, int nth)
{
    pthread_mutex_lock(&g->mu);
    snprintf(g->fail_op, sizeof g->fail_op, "%s", op);
    g->fail_nth = nth;
    pthread_mutex_unlock(&g->mu);
}

void fake_gpu_pause_internal(fake_gpu *g, int p)
{
    pthread_mutex_lock(&g->mu);
    g->internal_paused = p;
    pthread_cond_broadcast(&g->cv);
    pthread_mutex_unlock(&g->mu);
}

void fake_gpu_set_copy_delay_us(fake_gpu *g, unsigned us)
{
    pthread_mutex_lock(&g->mu);
    g->copy_delay_us = us;
    pthread_mutex_unlock(&g->mu);
}

long fake_gpu_live_objects(fake_gpu *g)
{
    pthread_mutex_lock(&g->mu);
    long n = g->live;
    pthread_mutex_unlock(&g->mu);
    return n;
}

uint64_t fake_gpu_host_nodes_run(fake_gpu *g)
{
    pthread_mutex_lock(&g->mu);
    uint64_t n = g->host_nodes;
    pthread_mutex_unlock(&g->mu);
    return n;
}

void *fake_stream_new(fake_gpu *g) { return stream_new(g, 0); }
void fake_stream_free(void *s) { stream_free(s); }

void fake_stream_pause(void *sv, int p)
{
    fstream *s = sv;
    pthread_mutex_lock(&s->g->mu);
    s->paused = p;
    pthread_cond_broadcast(&s->g->cv);
    pthread_mutex_unlock(&s->g->mu);
}

void fake_stream_sync(void *sv)
{
    fstream *s = sv;
    f_stream_sync(s->g, s);
}

void fake_stream_fill_counter(void *s, float *dst, size_t n, int *counter)
{
    fop *op = new_op(OP_FILL_COUNTER);
    if (op) {
        op->dst = dst;
        op->n = n;
        op->counter = counter;
    }
    enqueue(s, op);
}

void fake_stream_copy(void *s, void *dst, const void *src, size_t n)
{
    fop *op = new_op(OP_MEMCPY);
    if (op) {
        op->dst = dst;
        op->src = src;
        op->n = n;
    }
    enqueue(s, op);
}

void fake_stream_begin_capture(void *sv)
{
    fstream *s = sv;
    pthread_mutex_lock(&s->g->mu);
    s->cap = calloc(1, sizeof *s->cap);
    s->capturing = s->cap != NULL;
    s->invalid = 0;
    pthread_mutex_unlock(&s->g->mu);
}

void fake_stream_invalidate_capture(void *sv)
{
    fstream *s = sv;
    pthread_mutex_lock(&s->g->mu);
    s->invalid = 1;
    pthread_mutex_unlock(&s->g->mu);
}

void *fake_stream_end_capture(void *sv)
{
    fstream *s = sv;
    pthread_mutex_lock(&s->g->mu);
    fgraph *gr = s->cap;
    s->cap = NULL;
    s->capturing = 0;
    pthread_mutex_unlock(&s->g->mu);
    return gr;
}

void fake_graph_launch(void *graph, void *s)
{
    fop *op = new_op(OP_GRAPH);
    if (op)
        op->graph = graph;
    enqueue(s, op);
}

void fake_graph_free(void *graph)
{
    fgraph *gr = graph;
    if (!gr)
        return;
    for (fop *o = gr->head, *next; o; o = next) {
        next = o->next;
        free(o);
    }
    free(gr);
}
