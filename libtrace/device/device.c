/*
 * device.c — the device capture API: options, opening a handle on a backend (device_backend.h), tt_device_put()
 * on streams that are not capturing (graph capture is in device_graph.c), flush, counters and close. The copy
 * and completion threads are in device_threads.c; device_impl.h tells how the parts fit.
 */
#define _POSIX_C_SOURCE 200809L
#include "device_impl.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "device_stats.h"
#include "tt/dtype.h"

#define DEFAULT_POOL_BYTES ((uint64_t)256 << 20)
#define MIN_POOL_BYTES ((uint64_t)1 << 20)
#define DEFAULT_INFLIGHT 1024u
#define MIN_INFLIGHT 4u
#define MAX_INFLIGHT 65536u
#define DEFAULT_GRAPH_BYTES ((uint64_t)64 << 20)
#define DEFAULT_GRAPH_POINTS 4096u
#define MAX_GRAPH_POINTS (1u << 20)
#define PINNED_RECORDS_PER_JOB 4u /* the writer may still hold pinned buffers of jobs that are done */

/* ---- errors ---------------------------------------------------------------------------------------------- */

int tt__device_fail(tt_device *d, int code, const char *fmt, ...)
{
    if (d->status == TT_OK) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(d->errmsg, sizeof d->errmsg, fmt, ap);
        va_end(ap);
        d->status = code;
    }
    return code;
}

const char *tt__device_errtext(const tt_device *d, int err, char *buf)
{
    buf[0] = 0;
    d->ops->describe(d->bk, err, buf, TT_DEVICE_ERRTEXT);
    return buf;
}

int tt__device_rt_error(tt_device *d, int err, const char *what, const char *point)
{
    char text[TT_DEVICE_ERRTEXT];
    int code = d->ops->status(d->bk, err);
    d->counters.errors++;
    return tt__device_fail(d, code, "%s%s%s: %s", what, point ? " of " : "", point ? point : "",
                           tt__device_errtext(d, err, text));
}

int tt__device_put_error(tt_device *d, int code, const char *fmt, ...)
{
    pthread_mutex_lock(&d->mu);
    d->counters.errors++;
    if (d->status == TT_OK) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(d->errmsg, sizeof d->errmsg, fmt, ap);
        va_end(ap);
    }
    pthread_mutex_unlock(&d->mu);
    return code;
}

/* ---- options --------------------------------------------------------------------------------------------- */

#define OPT(o, field, def)                                                                                    \
    (((o) && (o)->size >= offsetof(tt_device_options, field) + sizeof((o)->field) && (o)->field) ? (o)->field \
                                                                                                 : (def))

static int resolve_options(tt_device *d, const tt_device_options *o)
{
    d->staging_bytes = OPT(o, staging_bytes, DEFAULT_POOL_BYTES);
    d->pinned_bytes = OPT(o, pinned_bytes, DEFAULT_POOL_BYTES);
    d->max_inflight = OPT(o, max_inflight, DEFAULT_INFLIGHT);
    d->on_full = OPT(o, on_full, TT_ON_FULL_DEFAULT);
    tt_device_stats stats = OPT(o, stats_on_device, TT_DEVICE_STATS_DEFAULT);
    d->graph_bytes = OPT(o, graph_bytes, DEFAULT_GRAPH_BYTES);
    d->max_points = OPT(o, graph_points, DEFAULT_GRAPH_POINTS);

    if (d->staging_bytes < MIN_POOL_BYTES || d->pinned_bytes < MIN_POOL_BYTES || d->graph_bytes < MIN_POOL_BYTES)
        return tt_seterr(d->errmsg, TT_E_INVAL,
                         "options staging_bytes %llu, pinned_bytes %llu, graph_bytes %llu: each must be at least 1 MiB",
                         (unsigned long long)d->staging_bytes, (unsigned long long)d->pinned_bytes,
                         (unsigned long long)d->graph_bytes);
    if (d->max_inflight < MIN_INFLIGHT || d->max_inflight > MAX_INFLIGHT)
        return tt_seterr(d->errmsg, TT_E_INVAL, "option max_inflight: %u outside %u..%u", d->max_inflight,
                         MIN_INFLIGHT, MAX_INFLIGHT);
    if (d->on_full < TT_ON_FULL_DEFAULT || d->on_full > TT_ON_FULL_DROP)
        return tt_seterr(d->errmsg, TT_E_INVAL, "option on_full: %d is not a policy", (int)d->on_full);
    if (stats < TT_DEVICE_STATS_DEFAULT || stats > TT_DEVICE_STATS_OFF)
        return tt_seterr(d->errmsg, TT_E_INVAL, "option stats_on_device: %d is not a choice", (int)stats);
    if (d->max_points > MAX_GRAPH_POINTS)
        return tt_seterr(d->errmsg, TT_E_INVAL, "option graph_points: %u (at most %u)", d->max_points,
                         MAX_GRAPH_POINTS);
    if (d->on_full == TT_ON_FULL_DEFAULT)
        d->on_full = tt__writer_on_full(d->w);
    d->stats_on_device = stats != TT_DEVICE_STATS_OFF;
    /* whole multiples of the alignment, so that every range of the rings is aligned */
    d->staging_bytes -= d->staging_bytes % TT_DEVICE_ALIGN;
    d->pinned_bytes -= d->pinned_bytes % TT_DEVICE_ALIGN;
    d->graph_bytes -= d->graph_bytes % TT_DEVICE_ALIGN;
    return TT_OK;
}

/* ---- open / close ---------------------------------------------------------------------------------------- */

static int init_sync(tt_device *d)
{
    if (pthread_mutex_init(&d->mu, NULL))
        return TT_E_NOMEM;
    pthread_cond_t *cv[] = {&d->cv_space, &d->cv_copy, &d->cv_pinned, &d->cv_done, &d->cv_flush};
    for (size_t i = 0; i < sizeof cv / sizeof cv[0]; i++)
        if (pthread_cond_init(cv[i], NULL)) {
            while (i--)
                pthread_cond_destroy(cv[i]);
            pthread_mutex_destroy(&d->mu);
            return TT_E_NOMEM;
        }
    d->sync_ready = 1;
    return TT_OK;
}

static int find_device(tt_device *d, const tt_device_options *o)
{
    const tt_gpu_ops *ops = d->ops;
    char text[TT_DEVICE_ERRTEXT];
    int n = 0, err = ops->device_count(d->bk, &n);
    if (err) {
        int code = ops->status(d->bk, err);
        return tt_seterr(d->errmsg, code, "%s: %s (counting GPUs with the %s runtime); host captures with tt_put() "
                         "still work", code == TT_E_NODEVICE ? "no GPU device" : "GPU runtime error",
                         tt__device_errtext(d, err, text), ops->runtime);
    }
    if (n <= 0)
        return tt_seterr(d->errmsg, TT_E_NODEVICE,
                         "no GPU device: the %s runtime sees none; host captures with tt_put() still work",
                         ops->runtime);
    int device_set = o && o->size >= offsetof(tt_device_options, device_set) + sizeof(int) && o->device_set;
    if (device_set) {
        if (o->device < 0 || o->device >= n)
            return tt_seterr(d->errmsg, TT_E_NODEVICE, "option device: GPU %d does not exist (the %s runtime sees %d)",
                             o->device, ops->runtime, n);
        d->dev = o->device;
        return TT_OK;
    }
    err = ops->get_device(d->bk, &d->dev);
    if (err)
        return tt_seterr(d->errmsg, ops->status(d->bk, err), "current GPU: %s", tt__device_errtext(d, err, text));
    return TT_OK;
}

/* One runtime allocation or creation, with the message naming what it was for. */
static int rt_check(tt_device *d, int err, const char *what, uint64_t bytes)
{
    char text[TT_DEVICE_ERRTEXT];
    if (!err)
        return TT_OK;
    if (bytes)
        return tt_seterr(d->errmsg, d->ops->status(d->bk, err), "%s: allocating %llu bytes: %s", what,
                         (unsigned long long)bytes, tt__device_errtext(d, err, text));
    return tt_seterr(d->errmsg, d->ops->status(d->bk, err), "%s: %s", what, tt__device_errtext(d, err, text));
}

static int alloc_resources(tt_device *d)
{
    const tt_gpu_ops *ops = d->ops;
    void *bk = d->bk;
    int rc;
    if ((rc = tt_ring_init(&d->staging, d->staging_bytes, TT_DEVICE_ALIGN, d->max_inflight)) != TT_OK ||
        (rc = tt_ring_init(&d->pinned_ring, d->pinned_bytes, TT_DEVICE_ALIGN,
                           d->max_inflight * PINNED_RECORDS_PER_JOB)) != TT_OK)
        return tt_seterr(d->errmsg, rc, "pool bookkeeping: %s", tt_strerror(rc));
    d->fifo.njobs = d->max_inflight;
    d->jobs = calloc(d->max_inflight, sizeof *d->jobs);
    d->points = calloc(d->max_points ? d->max_points : 1, sizeof *d->points);
    if (!d->jobs || !d->points)
        return tt_seterr(d->errmsg, TT_E_NOMEM, "out of memory for %u jobs and %u graph points", d->max_inflight,
                         d->max_points);
    int prev;
    int err = tt__device_enter(d, &prev);
    if ((rc = rt_check(d, err, "selecting the GPU", 0)) != TT_OK)
        return rc;
    if ((rc = rt_check(d, ops->malloc_device(bk, &d->staging_dev, d->staging_bytes), "staging pool (device)",
                       d->staging_bytes)) == TT_OK &&
        (rc = rt_check(d, ops->malloc_pinned(bk, &d->pinned, d->pinned_bytes), "pinned pool (host)",
                       d->pinned_bytes)) == TT_OK &&
        (rc = rt_check(d, ops->malloc_device(bk, &d->graph_dev, d->graph_bytes), "graph memory (device)",
                       d->graph_bytes)) == TT_OK &&
        (rc = rt_check(d, ops->malloc_mapped(bk, (void **)&d->refs_host, (void **)&d->refs_dev,
                                             (size_t)d->max_points * sizeof(uint64_t) + sizeof(uint64_t)),
                       "graph references (mapped host)", (uint64_t)d->max_points * sizeof(uint64_t))) == TT_OK &&
        (rc = rt_check(d, ops->stream_create(bk, &d->copy_stream), "copy stream", 0)) == TT_OK) {
        memset(d->refs_host, 0, (size_t)d->max_points * sizeof(uint64_t));
        for (uint32_t i = 0; i < d->max_inflight && rc == TT_OK; i++)
            if ((rc = rt_check(d, ops->event_create(bk, &d->jobs[i].ev_snap), "events", 0)) == TT_OK)
                rc = rt_check(d, ops->event_create(bk, &d->jobs[i].ev_done), "events", 0);
    }
    tt__device_leave(d, prev);
    return rc;
}

/* Frees every runtime object the handle holds (no job in flight, threads stopped). */
static void release_resources(tt_device *d)
{
    const tt_gpu_ops *ops = d->ops;
    void *bk = d->bk;
    if (d->points) {
        pthread_mutex_lock(&d->mu);
        tt__device_graph_free(d);
        pthread_mutex_unlock(&d->mu);
    }
    int prev = -1;
    if (d->dev >= 0)
        tt__device_enter(d, &prev);
    if (d->jobs)
        for (uint32_t i = 0; i < d->max_inflight; i++) {
            if (d->jobs[i].ev_snap)
                ops->event_destroy(bk, d->jobs[i].ev_snap);
            if (d->jobs[i].ev_done)
                ops->event_destroy(bk, d->jobs[i].ev_done);
            free(d->jobs[i].keybuf);
        }
    if (d->copy_stream) {
        ops->stream_sync(bk, d->copy_stream);
        ops->stream_destroy(bk, d->copy_stream);
    }
    if (d->staging_dev)
        ops->free_device(bk, d->staging_dev);
    if (d->pinned)
        ops->free_pinned(bk, d->pinned);
    if (d->graph_dev)
        ops->free_device(bk, d->graph_dev);
    if (d->refs_host)
        ops->free_mapped(bk, d->refs_host);
    tt__device_leave(d, prev);
    free(d->jobs);
    free(d->points);
    tt_ring_destroy(&d->staging);
    tt_ring_destroy(&d->pinned_ring);
    d->jobs = NULL;
    d->points = NULL;
    d->copy_stream = d->staging_dev = d->pinned = d->graph_dev = NULL;
    d->refs_host = d->refs_dev = NULL;
}

int tt__device_open_with(tt_device **out, tt_writer *w, const tt_device_options *opts, const tt_gpu_ops *ops,
                         void *bk)
{
    if (!out)
        return TT_E_INVAL;
    *out = NULL;
    if (!w)
        return TT_OK; /* tracing disabled: tt_device_put(NULL, ...) is a branch */
    if (!ops)
        return TT_E_INVAL;
    tt_device *d = calloc(1, sizeof *d);
    if (!d)
        return TT_E_NOMEM;
    d->ops = ops;
    d->bk = bk;
    d->w = w;
    d->dev = -1;
    if (init_sync(d) != TT_OK) {
        free(d);
        return TT_E_NOMEM;
    }
    *out = d;
    int rc = resolve_options(d, opts);
    if (rc == TT_OK)
        rc = find_device(d, opts);
    if (rc == TT_OK)
        rc = alloc_resources(d);
    if (rc == TT_OK)
        rc = tt__device_start_threads(d);
    if (rc != TT_OK) {
        tt__device_stop_threads(d);
        release_resources(d);
        d->status = rc;
        d->failed = 1;
        d->closed = 1;
    }
    return rc;
}

int tt_device_close(tt_device *d)
{
    if (!d)
        return TT_OK;
    pthread_mutex_lock(&d->mu);
    int closed = d->closed;
    pthread_mutex_unlock(&d->mu);
    if (!closed) {
        tt_device_flush(d);
        tt__device_stop_threads(d); /* drains what is left */
        /* the writer holds pinned buffers until it has written them: have it write them, then wait for the last
         * release (a failed writer still releases every buffer it was given) */
        tt_writer_flush(d->w);
        pthread_mutex_lock(&d->mu);
        while (tt_ring_used(&d->pinned_ring) > 0)
            pthread_cond_wait(&d->cv_pinned, &d->mu);
        pthread_mutex_unlock(&d->mu);
        release_resources(d);
        pthread_mutex_lock(&d->mu);
        d->closed = 1;
        pthread_mutex_unlock(&d->mu);
    }
    pthread_mutex_lock(&d->mu);
    int st = d->status;
    pthread_mutex_unlock(&d->mu);
    return st;
}

void tt_device_free(tt_device *d)
{
    if (!d)
        return;
    tt_device_close(d);
    pthread_mutex_destroy(&d->mu);
    pthread_cond_destroy(&d->cv_space);
    pthread_cond_destroy(&d->cv_copy);
    pthread_cond_destroy(&d->cv_pinned);
    pthread_cond_destroy(&d->cv_done);
    pthread_cond_destroy(&d->cv_flush);
    free(d);
}

const char *tt_device_errmsg(const tt_device *d) { return d ? d->errmsg : ""; }

int tt_device_get_counters(const tt_device *d, tt_device_counters *out)
{
    if (!d || !out)
        return TT_E_INVAL;
    pthread_mutex_lock((pthread_mutex_t *)&d->mu);
    *out = d->counters;
    pthread_mutex_unlock((pthread_mutex_t *)&d->mu);
    return TT_OK;
}

int tt_device_flush(tt_device *d)
{
    if (!d)
        return TT_OK;
    pthread_mutex_lock(&d->mu);
    uint64_t target = d->fifo.admitted;
    while (d->done_started && d->fifo.done < target)
        pthread_cond_wait(&d->cv_flush, &d->mu);
    int rc = d->status;
    pthread_mutex_unlock(&d->mu);
    return rc;
}

/* ---- put ------------------------------------------------------------------------------------------------- */

int tt__device_copy_key(const tt_key *key, tt_record *rec, char **buf)
{
    const char *s[3] = {key->prompt_id, key->phase, key->point};
    const char **dst[3] = {&rec->key.prompt_id, &rec->key.phase, &rec->key.point};
    size_t len[3], total = 1;
    for (int i = 0; i < 3; i++) {
        len[i] = s[i] ? strlen(s[i]) + 1 : 0;
        total += len[i];
    }
    char *b = malloc(total);
    if (!b)
        return TT_E_NOMEM;
    rec->key = *key;
    char *p = b;
    for (int i = 0; i < 3; i++) {
        *dst[i] = NULL;
        if (s[i]) {
            memcpy(p, s[i], len[i]);
            *dst[i] = p;
            p += len[i];
        }
    }
    *buf = b;
    return TT_OK;
}

/* Validates a put's arguments and fills rec (key strings borrowed) and the element count. */
static int check_put(tt_device *d, const tt_key *key, tt_dtype dtype, int ndim, const uint64_t *shape,
                     tt_record *rec, uint64_t *elems)
{
    if (!key || (ndim > 0 && !shape))
        return tt__device_put_error(d, TT_E_INVAL, "device put: key or shape is NULL");
    if (!key->point || !*key->point)
        return tt__device_put_error(d, TT_E_INVAL, "device put: the key has no point (tensor name)");
    if (ndim < 0 || ndim > TT_MAX_DIMS)
        return tt__device_put_error(d, TT_E_INVAL, "device put %s: ndim %d outside 0..%d", key->point, ndim,
                                    TT_MAX_DIMS);
    size_t esize = tt_dtype_size(dtype);
    if (!esize)
        return tt__device_put_error(d, TT_E_INVAL, "device put %s: unknown dtype %d", key->point, (int)dtype);
    uint64_t nbytes = 0;
    int rc = tt_shape_elems(ndim, shape, esize, elems, &nbytes);
    if (rc != TT_OK)
        return tt__device_put_error(d, rc, "device put %s: bad shape (ndim %d)", key->point, ndim);
    memset(rec, 0, sizeof *rec);
    rec->key = *key;
    rec->dtype = dtype;
    rec->ndim = ndim;
    for (int i = 0; i < ndim; i++)
        rec->shape[i] = shape[i];
    rec->nbytes = nbytes;
    return TT_OK;
}

/* Admits an eager job: a FIFO slot and staging room, waiting or dropping as the policy says (under mu). */
static int admit(tt_device *d, uint64_t dev_bytes, uint64_t *off)
{
    int waited = 0;
    for (;;) {
        if (d->stopping || d->closed)
            return TT_E_STATE;
        if (!tt_fifo_full(&d->fifo) && tt_ring_alloc(&d->staging, dev_bytes, off) == TT_OK)
            return TT_OK;
        if (d->on_full == TT_ON_FULL_DROP) {
            d->counters.dropped++;
            tt__writer_count(d->w, 0, 1); /* lock order: device mu, then writer mu (never the reverse) */
            return TT_DROPPED;
        }
        if (!waited) {
            d->counters.pool_full_waits++;
            waited = 1;
        }
        pthread_cond_wait(&d->cv_space, &d->mu);
    }
}

int tt_device_put(tt_device *d, const tt_key *key, tt_dtype dtype, int ndim, const uint64_t *shape,
                  const void *dev_ptr, void *stream)
{
    if (!d)
        return TT_FILTERED;
    pthread_mutex_lock(&d->mu);
    int usable = !d->failed && !d->closed && !d->stopping;
    if (usable)
        d->counters.puts++;
    pthread_mutex_unlock(&d->mu);
    if (!usable)
        return TT_E_STATE;
    tt_record rec;
    uint64_t elems = 0;
    int rc = check_put(d, key, dtype, ndim, shape, &rec, &elems);
    if (rc != TT_OK)
        return rc;
    if (!tt_writer_wants(d->w, key->point, key->layer, key->prompt_id, key->phase)) {
        pthread_mutex_lock(&d->mu);
        d->counters.filtered++;
        pthread_mutex_unlock(&d->mu);
        tt__writer_count(d->w, 1, 0);
        return TT_FILTERED;
    }
    if (rec.nbytes == 0)
        return tt_put(d->w, key, dtype, ndim, shape, NULL); /* nothing to snapshot */
    if (!dev_ptr)
        return tt__device_put_error(d, TT_E_INVAL, "device put %s: dev_ptr is NULL", key->point);

    /* stats mode reduces on the device when it can (the kernels read elements at their natural alignment) */
    size_t esize = tt_dtype_size(dtype);
    int kind = (tt__writer_mode(d->w) == TT_MODE_STATS && d->stats_on_device && tt_gs_supported(dtype) &&
                (uintptr_t)dev_ptr % esize == 0)
                   ? KIND_STATS
                   : KIND_BYTES;
    uint64_t dev_bytes = kind == KIND_STATS ? TT_GPU_STATS_SLOT_BYTES : rec.nbytes;
    uint64_t host_bytes = kind == KIND_STATS ? sizeof(tt_gpu_stats) : rec.nbytes;
    if (!tt_ring_fits(&d->staging, dev_bytes) || !tt_ring_fits(&d->pinned_ring, host_bytes))
        return tt__device_put_error(d, TT_E_LIMIT,
                                    "device put %s: %llu bytes do not fit the pools (staging %llu, pinned %llu "
                                    "bytes: options staging_bytes, pinned_bytes)",
                                    key->point, (unsigned long long)rec.nbytes, (unsigned long long)d->staging_bytes,
                                    (unsigned long long)d->pinned_bytes);

    int capture = TT_GPU_CAPTURE_NONE;
    int err = d->ops->capture_status(d->bk, stream, &capture);
    if (err) {
        pthread_mutex_lock(&d->mu);
        rc = tt__device_rt_error(d, err, "device put: stream capture status", key->point);
        pthread_mutex_unlock(&d->mu);
        return rc;
    }
    if (capture == TT_GPU_CAPTURE_ACTIVE)
        return tt__device_graph_put(d, &rec, kind, dev_ptr, elems, stream);
    if (capture != TT_GPU_CAPTURE_NONE)
        return tt__device_put_error(d, TT_E_STATE, "device put %s: the stream's graph capture is invalidated",
                                    key->point);

    rec.time_ns = tt_now_ns();
    char *keybuf = NULL;
    if (tt__device_copy_key(key, &rec, &keybuf) != TT_OK)
        return tt__device_put_error(d, TT_E_NOMEM, "device put %s: out of memory", key->point);
    uint64_t off = 0;
    pthread_mutex_lock(&d->mu);
    rc = admit(d, dev_bytes, &off);
    if (rc != TT_OK) {
        pthread_mutex_unlock(&d->mu);
        free(keybuf);
        return rc;
    }
    tt_djob *j = &d->jobs[tt_fifo_slot(&d->fifo, d->fifo.admitted++)];
    j->state = DJ_ISSUING;
    j->kind = kind;
    j->point = NULL;
    j->slot = 0;
    j->staging_off = off;
    j->src_dev = (const char *)d->staging_dev + off;
    j->host_bytes = host_bytes;
    j->has_pinned = 0;
    j->error = 0;
    j->rec = rec;
    j->keybuf = keybuf;
    void *ev_snap = j->ev_snap;
    pthread_mutex_unlock(&d->mu);

    /* the engine stream's whole cost: one copy (or the two stats kernels) and an event record */
    void *dst = (char *)d->staging_dev + off;
    int prev;
    err = tt__device_enter(d, &prev);
    if (!err)
        err = kind == KIND_STATS ? d->ops->stats(d->bk, stream, dtype, dev_ptr, elems, dst, NULL)
                                 : d->ops->memcpy_async(d->bk, dst, dev_ptr, rec.nbytes, stream);
    int copied = !err;
    if (!err)
        err = d->ops->event_record(d->bk, ev_snap, stream);
    if (err && copied)
        d->ops->stream_sync(d->bk, stream); /* error path: the copy may still write the staging room */
    tt__device_leave(d, prev);

    pthread_mutex_lock(&d->mu);
    if (err) {
        j->state = DJ_FAILED;
        j->error = err;
        rc = tt__device_rt_error(d, err, "device put: snapshot", key->point);
    } else {
        j->state = DJ_ISSUED;
        d->counters.snapshots++;
        d->counters.snapshot_bytes += rec.nbytes;
        if (kind == KIND_STATS)
            d->counters.stats_on_device++;
    }
    pthread_cond_signal(&d->cv_copy);
    pthread_mutex_unlock(&d->mu);
    return rc;
}
