/*
 * tt/device.h — capturing tensors that live in GPU memory (HIP on AMD, CUDA on NVIDIA) into a tt_writer.
 *
 * An engine gives a device pointer and the stream that produces the tensor. The stream pays only an asynchronous
 * device-to-device snapshot into a bounded device staging pool (plus an event record); a copy thread of the
 * library moves each snapshot to pinned host memory on its own stream, and a completion thread hands the pinned
 * buffer to the writer's worker pool exactly as tt_put() would, without another copy. The engine's stream is
 * never synchronised and the calling thread never blocks, except when a bounded pool is full under the blocking
 * policy (TT_ON_FULL_BLOCK); under TT_ON_FULL_DROP the put returns TT_DROPPED and the drop is counted.
 *
 * In the writer's stats mode (TT_MODE_STATS) f32/f16/bf16 tensors are reduced on the device: a reduction kernel
 * computes min, max, the sums for the mean and the L2 norm, and the NaN/Inf counts, and 64 bytes cross to the
 * host. Those records carry statistics but no content hash (TT_REC_HAS_STATS only). Hash mode, and stats mode for
 * other dtypes, copies the bytes like full mode and lets the host compute.
 *
 * Graph capture (HIP graphs, CUDA graphs): a put on a stream that is being captured becomes part of the graph, and
 * every replay of the graph records the tensor's value at that replay. See libtrace/device/README.md for exactly
 * what holds; in short: replays of one graph must be stream-ordered (the runtimes guarantee it for launches of
 * one executable graph), each such put holds two snapshot slots of graph memory until tt_device_graph_reset(), and
 * the record's key is the one given at capture time (replays differ by seq and time_ns).
 *
 * The library: this API is not in libtrace itself but in a separate static library per GPU runtime,
 * tt::trace_hip (libtrace_hip.a) or tt::trace_cuda (libtrace_cuda.a), which engines link when they want device
 * capture (together with tt::trace_static, which it brings along). Link one flavour per program. On a machine
 * without a GPU, tt_device_open() fails with TT_E_NODEVICE and a message; host captures (tt_put) still work.
 *
 * Ownership: the device handle belongs to the library; key strings are copied during tt_device_put(); the tensor
 * memory stays the engine's (it is read by the stream, in stream order, after tt_device_put() returns). The writer
 * is borrowed: it must stay open until tt_device_close() has returned. All calls on a handle are thread-safe
 * except tt_device_close() and tt_device_free(), which must come after every other call and after every captured
 * graph replay has completed.
 */
#ifndef TT_DEVICE_H
#define TT_DEVICE_H

#include "tt/common.h"
#include "tt/writer.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct tt_device tt_device;

/* Whether stats mode reduces on the device (f32, f16, bf16) or copies the bytes for the host to reduce. */
typedef enum tt_device_stats {
    TT_DEVICE_STATS_DEFAULT = 0, /* on */
    TT_DEVICE_STATS_ON = 1,
    TT_DEVICE_STATS_OFF = 2
} tt_device_stats;

/*
 * Options. Initialise with TT_DEVICE_OPTIONS_INIT; every 0 field means "default". `size` lets the struct grow:
 * the library reads only the fields that existed at the size the caller compiled with.
 */
typedef struct tt_device_options {
    uint32_t size;               /* sizeof(tt_device_options), set by TT_DEVICE_OPTIONS_INIT */
    int device;                  /* GPU ordinal, used when device_set is nonzero */
    int device_set;              /* 0: the calling thread's current device */
    uint64_t staging_bytes;      /* device staging pool; default 256 MiB, at least 1 MiB */
    uint64_t pinned_bytes;       /* pinned host pool; default 256 MiB, at least 1 MiB */
    uint32_t max_inflight;       /* snapshots between put and hand-over to the writer; default 1024, 4..65536 */
    tt_on_full on_full;          /* when a pool is full: default the writer's policy (block unless drop) */
    tt_device_stats stats_on_device; /* default on */
    uint64_t graph_bytes;        /* device memory for puts captured into graphs; default 64 MiB */
    uint32_t graph_points;       /* most puts captured into graphs until tt_device_graph_reset(); default 4096 */
} tt_device_options;

#ifdef __cplusplus /* every field spelled out: C++ compilers warn about designated initializers that skip fields */
#define TT_DEVICE_OPTIONS_INIT                                                                                 \
    {sizeof(tt_device_options), 0, 0, 0, 0, 0, TT_ON_FULL_DEFAULT, TT_DEVICE_STATS_DEFAULT, 0, 0}
#else
#define TT_DEVICE_OPTIONS_INIT {.size = sizeof(tt_device_options)}
#endif

/* Counters of a device handle (the writer keeps its own: tt_writer_get_counters). */
typedef struct tt_device_counters {
    uint64_t puts;            /* tt_device_put() calls on an open handle */
    uint64_t filtered;        /* rejected by the writer's filters or mode before any snapshot */
    uint64_t snapshots;       /* snapshots taken: eager puts plus graph replays whose snapshot was kept */
    uint64_t snapshot_bytes;  /* tensor bytes of those snapshots */
    uint64_t stats_on_device; /* snapshots reduced to statistics on the device */
    uint64_t bytes_to_host;   /* bytes copied from device to pinned host memory */
    uint64_t handed;          /* records the writer accepted */
    uint64_t writer_refused;  /* records the writer refused (its own drop policy, closed, failed): see its counters */
    uint64_t dropped;         /* snapshots not taken because a pool was full under TT_ON_FULL_DROP */
    uint64_t pool_full_waits; /* puts (and graph replays) that waited for staging room, a slot, or a graph slot */
    uint64_t pinned_waits;    /* snapshots that waited for pinned host room (the host is behind) */
    uint64_t graph_puts;      /* puts captured into a graph */
    uint64_t graph_replays;   /* graph replays seen (one per captured put per replay) */
    uint64_t errors;          /* failed puts and failed copies */
} tt_device_counters;

/*! tt_device_count() : the number of GPUs the runtime of this flavour sees; 0 when there is none or no driver.
 *  @return : the count, or TT_E_DEVICE when the runtime fails otherwise. */
TT_API int tt_device_count(void);

/*! tt_device_runtime() : the runtime this flavour was built for and with, e.g. "hip 5.2.21153" or "cuda 13000". */
TT_API const char *tt_device_runtime(void);

/*! tt_device_open() : attaches device capture to a writer: allocates the staging pool on the GPU, the pinned host
 *  pool, the graph memory and the events, creates the copy stream and starts the copy and completion threads.
 *  A NULL writer (tracing disabled) gives *out = NULL and TT_OK: tt_device_put(NULL, ...) then costs a branch.
 *  @return : TT_OK with *out set. On failure a negative code — TT_E_NODEVICE (no GPU, no driver, or the device
 *  ordinal does not exist), TT_E_INVAL (bad option), TT_E_DEVICE (a runtime call failed, e.g. out of device
 *  memory) — and *out is a handle in the failed state whose tt_device_errmsg() says what failed; free it with
 *  tt_device_free(). *out is NULL only on TT_E_NOMEM or a NULL out. */
TT_API int tt_device_open(tt_device **out, tt_writer *w, const tt_device_options *opts);

/*! tt_device_put() : captures one tensor from GPU memory, in stream order. `dev_ptr` holds the tensor's elements
 *  contiguously (little-endian) in memory the device can read (device, managed or pinned host memory); `stream`
 *  is the engine's hipStream_t / cudaStream_t (NULL: the legacy default stream) on the handle's device. The put
 *  takes the snapshot as enqueued on `stream`, so the engine may overwrite the tensor with later work on the same
 *  stream. Filters and mode are the writer's (tt_writer_wants); the record's time is the time of the put.
 *  Zero-element tensors are recorded at once from the host (no snapshot).
 *  Under graph capture of `stream`, the snapshot is captured into the graph: see the top of this header.
 *  @return : TT_OK (snapshot enqueued), TT_FILTERED, TT_DROPPED (a pool was full under the drop policy), or a
 *  negative code: TT_E_INVAL (bad key, dtype, shape or NULL pointer), TT_E_LIMIT (the tensor is larger than the
 *  staging or pinned pool; under capture: graph memory or graph_points exhausted), TT_E_DEVICE (a runtime call
 *  failed; tt_device_errmsg() names it), TT_E_STATE (closed, failed, or the stream's capture is invalidated).
 *  A refused put enqueues nothing on the stream. */
TT_API int tt_device_put(tt_device *d, const tt_key *key, tt_dtype dtype, int ndim, const uint64_t *shape,
                         const void *dev_ptr, void *stream);

/*! tt_device_flush() : waits until every snapshot enqueued so far (and every graph replay whose snapshot has
 *  completed) is handed to the writer. It waits for the engine streams to reach those snapshots. Follow with
 *  tt_writer_flush() to have them in the file.
 *  @return : TT_OK or the first error the pipeline met (a failed copy). */
TT_API int tt_device_flush(tt_device *d);

/*! tt_device_graph_reset() : forgets every put captured into graphs and frees their graph memory. Call it only
 *  when no graph holding such a put will be launched again (destroy them first); flushes before resetting.
 *  @return : TT_OK or as tt_device_flush(). */
TT_API int tt_device_graph_reset(tt_device *d);

/*! tt_device_get_counters() : a snapshot of the counters. @return : TT_OK or TT_E_INVAL. */
TT_API int tt_device_get_counters(const tt_device *d, tt_device_counters *out);

/*! tt_device_errmsg() : what went wrong and where ("staging pool: hipMalloc(268435456 bytes): hipErrorOutOfMemory:
 *  out of memory"): the first failure of the pipeline, else the last refused put; "" when nothing went wrong.
 *  NULL handle: "". */
TT_API const char *tt_device_errmsg(const tt_device *d);

/*! tt_device_close() : flushes, stops the threads, waits until the writer has released every pinned buffer,
 *  and frees the GPU resources. The handle stays valid for tt_device_errmsg()/tt_device_get_counters() until
 *  tt_device_free(). Every graph replay involving this handle must have completed; launching such a graph later
 *  is undefined behaviour. Close the device before closing the writer.
 *  @return : TT_OK or the first error met. Calling it twice returns the same. */
TT_API int tt_device_close(tt_device *d);

/*! tt_device_free() : closes (if not closed) and frees the handle. NULL is a no-op. */
TT_API void tt_device_free(tt_device *d);

#ifdef __cplusplus
}
#endif
#endif /* TT_DEVICE_H */
