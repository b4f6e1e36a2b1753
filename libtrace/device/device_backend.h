/*
 * device_backend.h — the seam between the capture pipeline (plain C: device.c, device_threads.c, device_graph.c)
 * and a GPU runtime. capture.hip implements it with HIP, or with CUDA through tt_gpu.h; the host-side tests
 * implement it with a fake GPU made of threads and host memory (tests/device/fake_gpu.c), so every line of the
 * pipeline's bookkeeping, locking and error handling runs in CI without a GPU.
 *
 * Every operation returns the runtime's own error code (0 = success); describe() turns one into text and
 * status() into TT_E_NODEVICE or TT_E_DEVICE. `bk` is the backend's context. Streams and events are opaque.
 * Pointers named *_dev are device addresses: the pipeline computes with them but never dereferences them.
 * No operation may be called from inside a host function (host_node's fn): the runtimes forbid it.
 */
#ifndef TT_DEVICE_BACKEND_H
#define TT_DEVICE_BACKEND_H

#include <stddef.h>
#include <stdint.h>

#include "tt/device.h"

#ifdef __cplusplus
extern "C" {
#endif

enum { TT_GPU_CAPTURE_NONE = 0, TT_GPU_CAPTURE_ACTIVE = 1, TT_GPU_CAPTURE_INVALIDATED = 2 };

typedef void (*tt_gpu_host_fn)(void *arg);

typedef struct tt_gpu_ops {
    const char *runtime; /* "hip", "cuda", "fake" */
    /* writes "hipErrorNoDevice (100): no ROCm-capable device is detected" into buf (n bytes) */
    void (*describe)(void *bk, int err, char *buf, size_t n);
    int (*status)(void *bk, int err);           /* TT_E_NODEVICE for "no device / no driver", else TT_E_DEVICE */

    int (*device_count)(void *bk, int *n);
    int (*get_device)(void *bk, int *dev);
    int (*set_device)(void *bk, int dev);
    /* called first by each pipeline thread: binds it to the device; lets it make synchronising calls while an
     * engine thread captures a graph (relaxed capture mode, where the runtime has it) */
    int (*thread_init)(void *bk, int dev);

    int (*malloc_device)(void *bk, void **p_dev, size_t n);
    int (*free_device)(void *bk, void *p_dev);
    int (*malloc_pinned)(void *bk, void **p, size_t n);
    int (*free_pinned)(void *bk, void *p);
    /* pinned host memory that kernels read (coherently, at run time): the graph slot references */
    int (*malloc_mapped)(void *bk, void **host, void **dev, size_t n);
    int (*free_mapped)(void *bk, void *host);

    int (*stream_create)(void *bk, void **s);   /* non-blocking with respect to the legacy default stream */
    int (*stream_destroy)(void *bk, void *s);
    int (*stream_sync)(void *bk, void *s);
    int (*event_create)(void *bk, void **e);    /* blocking synchronisation, no timing */
    int (*event_destroy)(void *bk, void *e);
    int (*event_record)(void *bk, void *e, void *s);
    int (*event_sync)(void *bk, void *e);
    int (*stream_wait_event)(void *bk, void *s, void *e);

    /* copy of n bytes in stream order; the runtime infers the direction from the pointers */
    int (*memcpy_async)(void *bk, void *dst, const void *src, size_t n, void *s);
    /* TT_GPU_CAPTURE_* of a stream */
    int (*capture_status)(void *bk, void *s, int *status);
    /* kernel: copies n bytes from src_dev to the address read from *ref_dev when it runs (0: copies nothing) */
    int (*copy_indirect)(void *bk, void *s, const void *src_dev, size_t n, const uint64_t *ref_dev);
    /* kernels: statistics of n elements of dtype at src_dev into a stats slot (TT_GPU_STATS_SLOT_BYTES, the
     * tt_gpu_stats result first). The slot is slot_dev, or when slot_dev is NULL the address read from *ref_dev
     * when the kernels run (0: nothing is computed). */
    int (*stats)(void *bk, void *s, tt_dtype dtype, const void *src_dev, uint64_t n, void *slot_dev,
                 const uint64_t *ref_dev);
    /* 1 when puts can be captured into graphs (the runtime has host nodes); 0 with the reason in why (n bytes) */
    int (*can_capture)(void *bk, char *why, size_t n);
    /* under capture: adds a host node calling fn(arg) after the work captured so far. *leaf = 1 when the node
     * was made a leaf of the graph (later captured work does not wait for it), 0 when it sits in stream order */
    int (*host_node)(void *bk, void *s, tt_gpu_host_fn fn, void *arg, int *leaf);
} tt_gpu_ops;

/*! tt__device_open_with() : tt_device_open() on a given backend (the flavours pass their runtime; the tests a
 *  fake GPU). */
int tt__device_open_with(tt_device **out, tt_writer *w, const tt_device_options *opts, const tt_gpu_ops *ops,
                         void *bk);

#ifdef __cplusplus
}
#endif
#endif /* TT_DEVICE_BACKEND_H */
