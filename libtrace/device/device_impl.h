/*
 * device_impl.h — the private state of a device capture handle, shared by its parts:
 *   device.c          the API: options, open/close, tt_device_put() on streams that are not capturing, flush
 *   device_threads.c  the copy thread (device to pinned host) and the completion thread (hand-over to the writer)
 *   device_graph.c    puts under graph capture: two slots per put and the host node run at every replay
 *
 * Life of an eager snapshot ("job"), see README.md for the picture:
 *   put (engine thread)  reserve a FIFO job and staging room (block or drop when full), then outside the lock:
 *                        async copy (or the stats kernels) on the engine stream into staging, record ev_snap
 *                        on the engine stream; the job becomes ISSUED.
 *   copy thread          in FIFO order: make the copy stream wait for ev_snap, reserve pinned room (waits while
 *                        the host is behind), async copy staging -> pinned on the copy stream, record ev_done.
 *   completion thread    in FIFO order: wait for ev_done, release the staging room, hand the pinned buffer to
 *                        the writer (tt__writer_submit, copy = 0; the writer releases it when written).
 * A graph job is the same from the copy thread on; its source is a graph slot instead of staging, and it is
 * admitted by the host node of a replay instead of a put.
 *
 * Locking: one mutex (mu) guards the FIFO counters, job states, rings, graph slot states, counters and the error
 * state. Runtime calls are made without it, except none at all from host nodes (the runtimes forbid it).
 */
#ifndef TT_DEVICE_IMPL_H
#define TT_DEVICE_IMPL_H

#include <pthread.h>
#include <stdint.h>

#include "device_backend.h"
#include "device_ring.h"
#include "tt/device.h"
#include "util.h"
#include "writer_internal.h"

enum { DJ_FREE, DJ_ISSUING, DJ_ISSUED, DJ_FAILED, DJ_COPYING, DJ_COPY_FAILED };
enum { KIND_BYTES, KIND_STATS };
enum { SLOT_FREE, SLOT_ARMED, SLOT_COPYING };

#define TT_DEVICE_ALIGN 256u /* staging and pinned ranges start at multiples of this */
#define TT_DEVICE_MAX_DEPS 32 /* graph capture: most dependencies of a captured put we can restore */

typedef struct tt_gpoint tt_gpoint;

typedef struct tt_djob {
    int state;
    int kind;
    tt_gpoint *point;       /* graph job: its put; NULL for an eager job */
    int slot;               /* graph job: which of the point's slots */
    void *ev_snap, *ev_done;
    const void *src_dev;    /* what the copy thread copies: staging + staging_off, or a graph slot */
    uint64_t staging_off;
    uint64_t host_bytes;    /* bytes copied to the host: the tensor, or one tt_gpu_stats */
    uint64_t pinned_off;
    int has_pinned;
    int error;              /* the backend error that failed this job */
    tt_record rec;          /* key strings point into keybuf (eager) or the point's (graph) */
    char *keybuf;
} tt_djob;

struct tt_gpoint {
    tt_device *d;
    int live;
    int kind;
    uint64_t tensor_bytes;  /* snapshot_bytes counted per replay */
    uint64_t host_bytes;
    void *slot_dev[2];
    int slot_state[2];
    int armed;              /* slot the next replay writes, -1: none (the replay is dropped) */
    uint64_t *ref_host;     /* this point's cell of the mapped references */
    uint64_t replays;
    tt_record rec;
    char *keybuf;
};

struct tt_device {
    const tt_gpu_ops *ops;
    void *bk;
    tt_writer *w;
    int dev;
    /* resolved options */
    tt_on_full on_full;
    int stats_on_device;
    uint64_t staging_bytes, pinned_bytes, graph_bytes;
    uint32_t max_inflight, max_points;

    void *copy_stream;
    void *staging_dev;
    void *pinned;
    void *graph_dev;
    uint64_t *refs_host;    /* one reference per graph point, read by kernels at run time */
    uint64_t *refs_dev;
    tt_djob *jobs;
    tt_gpoint *points;

    pthread_mutex_t mu;
    pthread_cond_t cv_space;  /* FIFO jobs, staging room, graph slots freed; closing */
    pthread_cond_t cv_copy;   /* jobs issued for the copy thread */
    pthread_cond_t cv_pinned; /* pinned room freed */
    pthread_cond_t cv_done;   /* jobs copied for the completion thread */
    pthread_cond_t cv_flush;  /* jobs handed over */
    pthread_t copy_thread, done_thread;
    int copy_started, done_started;
    int sync_ready;           /* mu and the condition variables exist */

    /* under mu */
    tt_fifo fifo;
    tt_ring staging, pinned_ring;
    uint64_t graph_used;
    uint32_t npoints;
    int stopping;             /* close: the threads drain the FIFO and exit */
    int closed;
    int failed;               /* open failed: nothing is accepted */
    int status;               /* first error */
    char errmsg[TT_ERRMSG_SIZE];
    tt_device_counters counters;
};

/* Makes the handle's device current for this thread; *prev is what to restore (or -1). */
static inline int tt__device_enter(tt_device *d, int *prev)
{
    *prev = -1;
    int err = d->ops->get_device(d->bk, prev);
    if (err) {
        *prev = -1;
        return err;
    }
    if (*prev == d->dev) {
        *prev = -1;
        return 0;
    }
    return d->ops->set_device(d->bk, d->dev);
}

static inline void tt__device_leave(tt_device *d, int prev)
{
    if (prev >= 0)
        d->ops->set_device(d->bk, prev);
}

/* device.c: records a failure of the pipeline (under mu): the first one becomes the handle's status. */
int tt__device_fail(tt_device *d, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* device.c: a runtime error as a status, with its text in the message (under mu) */
int tt__device_rt_error(tt_device *d, int err, const char *what, const char *point);

/* device.c: a refused put (bad arguments, limits): counted, reported to the caller and kept as the message
 * unless the pipeline has already failed, without failing the handle. Takes mu. */
int tt__device_put_error(tt_device *d, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* device.c: the text of a runtime error, in buf (TT_DEVICE_ERRTEXT bytes) */
#define TT_DEVICE_ERRTEXT 160
const char *tt__device_errtext(const tt_device *d, int err, char *buf);

/* device.c: copies a key's strings into one allocation; rec->key points into *buf. */
int tt__device_copy_key(const tt_key *key, tt_record *rec, char **buf);

/* device_threads.c */
int tt__device_start_threads(tt_device *d);
void tt__device_stop_threads(tt_device *d);

/* device_graph.c */
int tt__device_graph_put(tt_device *d, const tt_record *rec, int kind, const void *src, uint64_t elems,
                         void *stream);
void tt__device_graph_free(tt_device *d); /* under mu, with no job in flight */


#endif /* TT_DEVICE_IMPL_H */
