/*
 * device_threads.c — the two threads of a device capture handle (device_impl.h has the life of a job):
 *   copy thread        takes jobs in FIFO order, makes the copy stream wait for the snapshot, reserves pinned
 *                      room (waiting while the host is behind: the engine side then waits or drops at its own
 *                      pool), enqueues the device-to-host copy and records ev_done. It never blocks on the GPU.
 *   completion thread  takes jobs in FIFO order, waits for ev_done (a blocking-sync event: it sleeps), frees the
 *                      device room and hands the pinned buffer to the writer without copying it; the writer
 *                      releases it (pinned_release) when the record is written, refused or failed.
 * Both drain every admitted job before they exit at close.
 */
#define _POSIX_C_SOURCE 200809L
#include "device_impl.h"

#include <stdlib.h>
#include <string.h>

#include "device_stats.h"

/* The writer's release callback for pinned buffers: runs on the writer's file thread (or on the completion
 * thread when the writer refuses a record). No runtime call here. */
static void pinned_release(void *ctx, void *buf)
{
    tt_device *d = ctx;
    pthread_mutex_lock(&d->mu);
    uint64_t off = (uint64_t)((char *)buf - (char *)d->pinned);
    if (tt_ring_release(&d->pinned_ring, off) != TT_OK)
        tt__device_fail(d, TT_E_STATE, "internal: pinned buffer at offset %llu released twice",
                        (unsigned long long)off);
    pthread_cond_broadcast(&d->cv_pinned);
    pthread_mutex_unlock(&d->mu);
}

/* ---- copy thread ----------------------------------------------------------------------------------------- */

/* Reserves pinned room for a job, waiting while the writer holds too much of it (under mu). */
static int reserve_pinned(tt_device *d, tt_djob *j)
{
    int waited = 0, rc;
    uint64_t off = 0;
    while ((rc = tt_ring_alloc(&d->pinned_ring, j->host_bytes, &off)) == TT_RING_FULL) {
        if (!waited) {
            d->counters.pinned_waits++;
            waited = 1;
        }
        pthread_cond_wait(&d->cv_pinned, &d->mu);
    }
    if (rc != TT_OK) /* cannot happen: tt_device_put() checked that it fits */
        return tt__device_fail(d, TT_E_STATE, "internal: %llu bytes cannot be reserved in the pinned pool",
                               (unsigned long long)j->host_bytes);
    j->pinned_off = off;
    j->has_pinned = 1;
    return TT_OK;
}

/* Enqueues one job's copy to the host; returns the runtime error (mu not held). */
static int enqueue_copy(tt_device *d, tt_djob *j, int *internal)
{
    const tt_gpu_ops *ops = d->ops;
    /* an eager snapshot is ready when the engine stream passes ev_snap; a graph slot is ready already (the host
     * node that admitted it runs after the kernels that wrote it) */
    int err = j->point ? 0 : ops->stream_wait_event(d->bk, d->copy_stream, j->ev_snap);
    if (err)
        return err;
    pthread_mutex_lock(&d->mu);
    *internal = reserve_pinned(d, j) != TT_OK;
    pthread_mutex_unlock(&d->mu);
    if (*internal)
        return 0;
    err = ops->memcpy_async(d->bk, (char *)d->pinned + j->pinned_off, j->src_dev, j->host_bytes, d->copy_stream);
    if (err)
        return err;
    err = ops->event_record(d->bk, j->ev_done, d->copy_stream);
    if (err)
        ops->stream_sync(d->bk, d->copy_stream); /* the copy was enqueued: let it end before the room is reused */
    return err;
}

static void *copy_main(void *arg)
{
    tt_device *d = arg;
    int err = d->ops->thread_init(d->bk, d->dev);
    pthread_mutex_lock(&d->mu);
    if (err)
        tt__device_rt_error(d, err, "copy thread: binding to the GPU", NULL);
    tt_fifo *f = &d->fifo;
    for (;;) {
        if (f->copied == f->admitted) {
            if (d->stopping)
                break;
            pthread_cond_wait(&d->cv_copy, &d->mu);
            continue;
        }
        tt_djob *j = &d->jobs[tt_fifo_slot(f, f->copied)];
        if (j->state == DJ_ISSUING) { /* its put is still enqueueing the snapshot */
            pthread_cond_wait(&d->cv_copy, &d->mu);
            continue;
        }
        if (j->state == DJ_ISSUED) {
            pthread_mutex_unlock(&d->mu);
            int internal = 0;
            err = enqueue_copy(d, j, &internal);
            pthread_mutex_lock(&d->mu);
            if (err) {
                j->error = err;
                tt__device_rt_error(d, err, "copy to host", j->rec.key.point);
            }
            if (err || internal) {
                j->state = DJ_COPY_FAILED;
            } else {
                j->state = DJ_COPYING;
                d->counters.bytes_to_host += j->host_bytes;
            }
        } else {
            j->state = DJ_COPY_FAILED; /* DJ_FAILED: its snapshot was never enqueued */
        }
        f->copied++;
        pthread_cond_signal(&d->cv_done);
    }
    pthread_mutex_unlock(&d->mu);
    return NULL;
}

/* ---- completion thread ----------------------------------------------------------------------------------- */

/* Gives one copied job to the writer (mu not held). */
static void hand_over(tt_device *d, tt_djob *j)
{
    char *buf = (char *)d->pinned + j->pinned_off;
    int rc;
    if (j->kind == KIND_STATS) {
        tt_gpu_stats gs;
        memcpy(&gs, buf, sizeof gs);
        pinned_release(d, buf);
        tt_record rec = j->rec;
        rec.flags = TT_REC_HAS_STATS;
        tt_gs_finish(&gs, &rec.stats);
        /* a metadata-only record with the statistics as given; the filters were applied at the put */
        tt_submit s = {&rec, NULL, 1, NULL, NULL, 0, 1};
        rc = tt__writer_submit(d->w, &s);
    } else {
        /* the pinned buffer goes to the worker pool as it is (copy = 0) and comes back through pinned_release */
        tt_submit s = {&j->rec, buf, 0, pinned_release, d, 1, 1};
        rc = tt__writer_submit(d->w, &s);
    }
    pthread_mutex_lock(&d->mu);
    if (rc == TT_OK)
        d->counters.handed++;
    else
        d->counters.writer_refused++;
    pthread_mutex_unlock(&d->mu);
}

/* Frees what a finished job holds on the device and, when it is not handed over, in pinned memory (under mu). */
static void release_job(tt_device *d, tt_djob *j, int handed)
{
    if (j->point)
        j->point->slot_state[j->slot] = SLOT_FREE;
    else if (tt_ring_release(&d->staging, j->staging_off) != TT_OK)
        tt__device_fail(d, TT_E_STATE, "internal: staging room at offset %llu released twice",
                        (unsigned long long)j->staging_off);
    if (!handed && j->has_pinned) {
        tt_ring_release(&d->pinned_ring, j->pinned_off);
        pthread_cond_broadcast(&d->cv_pinned);
    }
    pthread_cond_broadcast(&d->cv_space);
}

static void *done_main(void *arg)
{
    tt_device *d = arg;
    const tt_gpu_ops *ops = d->ops;
    int err = ops->thread_init(d->bk, d->dev);
    pthread_mutex_lock(&d->mu);
    if (err)
        tt__device_rt_error(d, err, "completion thread: binding to the GPU", NULL);
    tt_fifo *f = &d->fifo;
    for (;;) {
        if (f->done == f->copied) {
            if (d->stopping && f->done == f->admitted)
                break;
            pthread_cond_wait(&d->cv_done, &d->mu);
            continue;
        }
        tt_djob *j = &d->jobs[tt_fifo_slot(f, f->done)];
        int copying = j->state == DJ_COPYING;
        pthread_mutex_unlock(&d->mu);
        err = copying ? ops->event_sync(d->bk, j->ev_done) : 0;
        if (err)
            ops->stream_sync(d->bk, d->copy_stream); /* do not free room a copy may still write */
        pthread_mutex_lock(&d->mu);
        if (err) {
            j->error = err;
            tt__device_rt_error(d, err, "waiting for the copy to host", j->rec.key.point);
        }
        int ok = copying && !err;
        release_job(d, j, ok);
        pthread_mutex_unlock(&d->mu);
        if (ok)
            hand_over(d, j);
        free(j->keybuf);
        j->keybuf = NULL;
        pthread_mutex_lock(&d->mu);
        j->state = DJ_FREE;
        f->done++;
        pthread_cond_broadcast(&d->cv_space);
        pthread_cond_broadcast(&d->cv_flush);
    }
    pthread_mutex_unlock(&d->mu);
    return NULL;
}

/* ---- start / stop ---------------------------------------------------------------------------------------- */

int tt__device_start_threads(tt_device *d)
{
    if (pthread_create(&d->copy_thread, NULL, copy_main, d) != 0)
        return tt_seterr(d->errmsg, TT_E_NOMEM, "cannot start the copy thread");
    pthread_mutex_lock(&d->mu);
    d->copy_started = 1;
    pthread_mutex_unlock(&d->mu);
    if (pthread_create(&d->done_thread, NULL, done_main, d) != 0)
        return tt_seterr(d->errmsg, TT_E_NOMEM, "cannot start the completion thread");
    pthread_mutex_lock(&d->mu);
    d->done_started = 1;
    pthread_mutex_unlock(&d->mu);
    return TT_OK;
}

void tt__device_stop_threads(tt_device *d)
{
    pthread_mutex_lock(&d->mu);
    d->stopping = 1;
    int copy = d->copy_started, done = d->done_started;
    pthread_cond_broadcast(&d->cv_space);
    pthread_cond_broadcast(&d->cv_copy);
    pthread_cond_broadcast(&d->cv_done);
    pthread_cond_broadcast(&d->cv_pinned);
    pthread_mutex_unlock(&d->mu);
    if (copy)
        pthread_join(d->copy_thread, NULL);
    if (done)
        pthread_join(d->done_thread, NULL);
    pthread_mutex_lock(&d->mu);
    d->copy_started = d->done_started = 0;
    pthread_cond_broadcast(&d->cv_flush);
    pthread_mutex_unlock(&d->mu);
}
