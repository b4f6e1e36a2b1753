/*
 * fake_gpu.h — a GPU made of threads and host memory, implementing device_backend.h, so that the device capture
 * pipeline (locking, pools, FIFO, block/drop, flush, close, graph replays, error paths) runs in CI without a GPU.
 *
 * Model: "device memory" is malloc'ed host memory. A stream is a thread that runs its queue of operations in order
 * (copies, event records and waits, host functions, the two indirect kernels, and the tests' own "engine kernels").
 * Events carry a sequence number: a wait enqueued after the k-th record of an event waits for that record, as on a
 * GPU. A stream can be paused (its operations queue up but do not run), and the streams the pipeline creates (its
 * copy stream) can be paused and slowed down all together, which is how the tests fill the pools at will. A stream
 * can capture: its operations then go into a graph, which the test launches on a stream as many times as it wants.
 * The statistics kernels are replayed with tt_gs_reduce_host(), the kernels' exact order of operations.
 *
 * Errors: codes FAKE_E_* ; fake_gpu_fail() makes the n-th next call of a named operation fail. Every allocation,
 * stream and event is counted so a test can check that the pipeline freed them all.
 */
#ifndef TT_FAKE_GPU_H
#define TT_FAKE_GPU_H

#include <stddef.h>
#include <stdint.h>

#include "device_backend.h"

enum { FAKE_E_OOM = 2, FAKE_E_NODEVICE = 100, FAKE_E_INJECTED = 700, FAKE_E_CAPTURE = 900 };

typedef struct fake_gpu fake_gpu;

fake_gpu *fake_gpu_new(int ndevices);
void fake_gpu_free(fake_gpu *g);
const tt_gpu_ops *fake_gpu_ops(void);

/* The n-th (1-based) next call of operation `op` ("memcpy_async", "event_sync", "malloc_device", ...) fails with
 * FAKE_E_INJECTED. */
void fake_gpu_fail(fake_gpu *g, const char *op, int nth);
/* Pauses or resumes every stream the pipeline created (its copy stream). */
void fake_gpu_pause_internal(fake_gpu *g, int paused);
/* Every device-to-host copy on the pipeline's streams sleeps this long first. */
void fake_gpu_set_copy_delay_us(fake_gpu *g, unsigned us);
/* Objects (allocations, streams, events) not freed yet. */
long fake_gpu_live_objects(fake_gpu *g);
/* Host nodes that ran. */
uint64_t fake_gpu_host_nodes_run(fake_gpu *g);

/* Engine streams of the tests. */
void *fake_stream_new(fake_gpu *g);
void fake_stream_free(void *s);
void fake_stream_pause(void *s, int paused);
void fake_stream_sync(void *s);
/* An "engine kernel": fills dst with n floats counter, counter+1, ... where counter is read (and incremented) when
 * the kernel runs, so each graph replay writes new values. */
void fake_stream_fill_counter(void *s, float *dst, size_t n, int *counter);
/* An "engine kernel": copies n bytes from host memory into device memory when it runs. */
void fake_stream_copy(void *s, void *dst, const void *src, size_t n);
/* Graph capture of a stream, and launches of the captured graph. */
void fake_stream_begin_capture(void *s);
void fake_stream_invalidate_capture(void *s);
void *fake_stream_end_capture(void *s);
void fake_graph_launch(void *graph, void *s);
void fake_graph_free(void *graph);

#endif /* TT_FAKE_GPU_H */
