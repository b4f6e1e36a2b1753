/*
 * capture.hip — the GPU side of device capture: the kernels (statistics reduction, graph-slot copy) and the
 * backend of device_backend.h on the HIP runtime, or on CUDA through tt_gpu.h (nvcc -x cu -DTT_GPU_CUDA). It also
 * defines the flavour's public entry points, tt_device_open(), tt_device_count() and tt_device_runtime(); the rest
 * of tt/device.h is the plain C pipeline in device*.c.
 *
 * The kernels are kept as simple as their job allows, because they cannot be tested where the library is built:
 * the statistics' arithmetic lives in device_stats.h and is replayed on the host by the tests; the kernels add
 * only the grid-stride loop and two tree merges. Compiled without floating-point contraction (no FMA), so a GPU
 * computes exactly what tt_gs_reduce_host() computes.
 */
#include <stdint.h>
#include <stdio.h>

#include "tt_gpu.h"

#if !defined(TT_GPU_CUDA)
#include <dlfcn.h>
#endif

#include "device_backend.h"
#include "device_stats.h"

#define TT_STR2(x) #x
#define TT_STR(x) TT_STR2(x)

#define COPY_THREADS 256
#define COPY_MAX_BLOCKS 1024
#define MAX_CAPTURE_DEPS 32

static_assert(sizeof(tt_gpu_stats) == 64, "tt_gpu_stats is 64 bytes on host and device");
static_assert(TT_GPU_STATS_THREADS >= TT_GPU_STATS_MAX_BLOCKS, "the final kernel loads one partial per thread");

/* ---- kernels --------------------------------------------------------------------------------------------- */

/* The slot a kernel writes: given, or read once per block from the mapped reference (0: skip the replay). */
static __device__ unsigned char *slot_of(unsigned char *slot, const volatile uint64_t *ref)
{
    __shared__ uint64_t where;
    if (slot)
        return slot;
    if (threadIdx.x == 0)
        where = *ref;
    __syncthreads();
    return (unsigned char *)(uintptr_t)where;
}

/* Block partials: block b writes its merged statistics at slot + (1 + b) * 64. */
__global__ void __launch_bounds__(TT_GPU_STATS_THREADS)
    tt_stats_partial(int dtype, const void *src, uint64_t n, unsigned char *slot, const volatile uint64_t *ref)
{
    __shared__ tt_gpu_stats s[TT_GPU_STATS_THREADS];
    unsigned char *base = slot_of(slot, ref);
    if (!base)
        return; /* the same for every thread of the grid */
    tt_gpu_stats a;
    tt_gs_init(&a);
    uint64_t stride = (uint64_t)gridDim.x * blockDim.x;
    for (uint64_t i = (uint64_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += stride)
        tt_gs_add(&a, tt_gs_load(dtype, src, i));
    s[threadIdx.x] = a;
    for (unsigned st = blockDim.x / 2; st > 0; st >>= 1) {
        __syncthreads();
        if (threadIdx.x < st)
            tt_gs_merge(&s[threadIdx.x], &s[threadIdx.x + st]);
    }
    if (threadIdx.x == 0)
        ((tt_gpu_stats *)base)[1 + blockIdx.x] = s[0];
}

/* One block: merges the nblocks partials into the result at the start of the slot. */
__global__ void __launch_bounds__(TT_GPU_STATS_THREADS)
    tt_stats_final(unsigned char *slot, const volatile uint64_t *ref, unsigned nblocks)
{
    __shared__ tt_gpu_stats s[TT_GPU_STATS_THREADS];
    unsigned char *base = slot_of(slot, ref);
    if (!base)
        return;
    const tt_gpu_stats *part = (const tt_gpu_stats *)base + 1;
    if (threadIdx.x < nblocks)
        s[threadIdx.x] = part[threadIdx.x];
    else
        tt_gs_init(&s[threadIdx.x]);
    for (unsigned st = blockDim.x / 2; st > 0; st >>= 1) {
        __syncthreads();
        if (threadIdx.x < st)
            tt_gs_merge(&s[threadIdx.x], &s[threadIdx.x + st]);
    }
    if (threadIdx.x == 0)
        *(tt_gpu_stats *)base = s[0];
}

/* A graph slot's snapshot: n bytes from src to the slot named by the reference, 16 bytes at a time when both
 * ends are 16-byte aligned (graph slots are 256-byte aligned; the engine's tensor usually is). */
__global__ void __launch_bounds__(COPY_THREADS)
    tt_copy_indirect(const unsigned char *src, uint64_t n, const volatile uint64_t *ref)
{
    unsigned char *dst = slot_of(NULL, ref);
    if (!dst)
        return;
    uint64_t tid = (uint64_t)blockIdx.x * blockDim.x + threadIdx.x, stride = (uint64_t)gridDim.x * blockDim.x;
    uint64_t head = 0;
    if ((((uintptr_t)src | (uintptr_t)dst) & 15u) == 0) {
        uint64_t nv = n / 16;
        const uint4 *s = (const uint4 *)src;
        uint4 *d = (uint4 *)dst;
        for (uint64_t i = tid; i < nv; i += stride)
            d[i] = s[i];
        head = nv * 16;
    }
    for (uint64_t i = head + tid; i < n; i += stride)
        dst[i] = src[i];
}

/* ---- backend --------------------------------------------------------------------------------------------- */

static int rt(hipError_t e) { return (int)e; }

static void be_describe(void *bk, int err, char *buf, size_t n)
{
    (void)bk;
    snprintf(buf, n, "%s (%d): %s", hipGetErrorName((hipError_t)err), err, hipGetErrorString((hipError_t)err));
}

static int be_status(void *bk, int err)
{
    (void)bk;
    return tt_gpu_is_nodevice((hipError_t)err) ? TT_E_NODEVICE : TT_E_DEVICE;
}

static int be_device_count(void *bk, int *n)
{
    (void)bk;
    *n = 0;
    hipError_t e = hipGetDeviceCount(n);
    if (e != hipSuccess) {
        *n = 0;
        (void)hipGetLastError(); /* leave no pending error to the engine */
    }
    return rt(e);
}

static int be_get_device(void *bk, int *dev) { (void)bk; return rt(hipGetDevice(dev)); }
static int be_set_device(void *bk, int dev) { (void)bk; return rt(hipSetDevice(dev)); }

static int be_thread_init(void *bk, int dev)
{
    (void)bk;
    hipError_t e = hipSetDevice(dev);
    return rt(e != hipSuccess ? e : tt_gpu_relaxed_capture_mode());
}

static int be_malloc_device(void *bk, void **p, size_t n) { (void)bk; return rt(hipMalloc(p, n)); }
static int be_free_device(void *bk, void *p) { (void)bk; return rt(hipFree(p)); }
static int be_malloc_pinned(void *bk, void **p, size_t n)
{
    (void)bk;
    return rt(tt_gpu_host_malloc(p, n, TT_GPU_HOST_DEFAULT));
}
static int be_free_pinned(void *bk, void *p) { (void)bk; return rt(hipHostFree(p)); }

static int be_malloc_mapped(void *bk, void **host, void **dev, size_t n)
{
    (void)bk;
    hipError_t e = tt_gpu_host_malloc(host, n, TT_GPU_HOST_MAPPED_COHERENT);
    if (e != hipSuccess)
        return rt(e);
    e = hipHostGetDevicePointer(dev, *host, 0);
    if (e != hipSuccess) {
        (void)hipHostFree(*host);
        *host = NULL;
    }
    return rt(e);
}

static int be_free_mapped(void *bk, void *host) { (void)bk; return rt(hipHostFree(host)); }

static int be_stream_create(void *bk, void **s)
{
    (void)bk;
    hipStream_t st = NULL;
    hipError_t e = hipStreamCreateWithFlags(&st, hipStreamNonBlocking);
    *s = (void *)st;
    return rt(e);
}

static int be_stream_destroy(void *bk, void *s) { (void)bk; return rt(hipStreamDestroy((hipStream_t)s)); }
static int be_stream_sync(void *bk, void *s) { (void)bk; return rt(hipStreamSynchronize((hipStream_t)s)); }

static int be_event_create(void *bk, void **ev)
{
    (void)bk;
    hipEvent_t e = NULL;
    hipError_t r = hipEventCreateWithFlags(&e, hipEventBlockingSync | hipEventDisableTiming);
    *ev = (void *)e;
    return rt(r);
}

static int be_event_destroy(void *bk, void *e) { (void)bk; return rt(hipEventDestroy((hipEvent_t)e)); }
static int be_event_record(void *bk, void *e, void *s)
{
    (void)bk;
    return rt(hipEventRecord((hipEvent_t)e, (hipStream_t)s));
}
static int be_event_sync(void *bk, void *e) { (void)bk; return rt(hipEventSynchronize((hipEvent_t)e)); }

static int be_stream_wait_event(void *bk, void *s, void *e)
{
    (void)bk;
    return rt(hipStreamWaitEvent((hipStream_t)s, (hipEvent_t)e, 0));
}

static int be_memcpy_async(void *bk, void *dst, const void *src, size_t n, void *s)
{
    (void)bk;
    return rt(hipMemcpyAsync(dst, src, n, hipMemcpyDefault, (hipStream_t)s));
}

static int be_capture_status(void *bk, void *s, int *status)
{
    (void)bk;
    hipStreamCaptureStatus st = hipStreamCaptureStatusNone;
    hipError_t e = hipStreamIsCapturing((hipStream_t)s, &st);
    *status = st == hipStreamCaptureStatusActive        ? TT_GPU_CAPTURE_ACTIVE
              : st == hipStreamCaptureStatusInvalidated ? TT_GPU_CAPTURE_INVALIDATED
                                                        : TT_GPU_CAPTURE_NONE;
    return rt(e);
}

/* Kernel launches report their own error (the <<<>>> form would need hipGetLastError, which also returns errors
 * the engine left pending). */
static int launch(const void *fn, unsigned blocks, unsigned threads, void **args, void *s)
{
#if defined(TT_GPU_CUDA)
    return rt(cudaLaunchKernel(fn, dim3(blocks), dim3(threads), args, 0, (cudaStream_t)s));
#else
    return rt(hipLaunchKernel(fn, dim3(blocks), dim3(threads), args, 0, (hipStream_t)s));
#endif
}

static int be_copy_indirect(void *bk, void *s, const void *src, size_t n, const uint64_t *ref_dev)
{
    (void)bk;
    uint64_t vectors = n / 16 + 1;
    uint64_t blocks = (vectors + COPY_THREADS - 1) / COPY_THREADS;
    if (blocks > COPY_MAX_BLOCKS)
        blocks = COPY_MAX_BLOCKS;
    const unsigned char *src_b = (const unsigned char *)src;
    uint64_t n64 = n;
    const volatile uint64_t *ref = ref_dev;
    void *args[] = {(void *)&src_b, (void *)&n64, (void *)&ref};
    return launch((const void *)tt_copy_indirect, (unsigned)blocks, COPY_THREADS, args, s);
}

static int be_stats(void *bk, void *s, tt_dtype dtype, const void *src, uint64_t n, void *slot_dev,
                    const uint64_t *ref_dev)
{
    (void)bk;
    int dt = (int)dtype;
    unsigned blocks = tt_gs_blocks(n);
    unsigned char *slot = (unsigned char *)slot_dev;
    const volatile uint64_t *ref = ref_dev;
    void *pargs[] = {(void *)&dt, (void *)&src, (void *)&n, (void *)&slot, (void *)&ref};
    int err = launch((const void *)tt_stats_partial, blocks, TT_GPU_STATS_THREADS, pargs, s);
    if (err)
        return err;
    void *fargs[] = {(void *)&slot, (void *)&ref, (void *)&blocks};
    return launch((const void *)tt_stats_final, 1, TT_GPU_STATS_THREADS, fargs, s);
}

/* Host nodes: cudaLaunchHostFunc in CUDA. HIP declares hipLaunchHostFunc since 5.2 but Debian's libamdhip64 5.2
 * does not export it (ROCm >= 5.3 does), so the HIP flavour looks it up in the loaded runtime when first needed:
 * built with HIP 5.2, it captures graphs wherever it runs on a newer ROCm, and refuses clearly elsewhere. */
typedef hipError_t (*launch_host_func_fn)(hipStream_t, hipHostFn_t, void *);

static launch_host_func_fn find_launch_host_func(void)
{
#if defined(TT_GPU_CUDA)
    return cudaLaunchHostFunc;
#else
    void *f = dlsym(RTLD_DEFAULT, "hipLaunchHostFunc");
    Dl_info info;
    if (!f && dladdr((void *)&hipGetDeviceCount, &info) && info.dli_fname) {
        void *h = dlopen(info.dli_fname, RTLD_LAZY | RTLD_NOLOAD); /* the runtime loaded privately */
        if (h) {
            f = dlsym(h, "hipLaunchHostFunc");
            dlclose(h);
        }
    }
    return (launch_host_func_fn)f;
#endif
}

static launch_host_func_fn launch_host_func(void)
{
    static const launch_host_func_fn fn = find_launch_host_func(); /* thread-safe initialisation */
    return fn;
}

static int be_can_capture(void *bk, char *why, size_t n)
{
    (void)bk;
    if (launch_host_func())
        return 1;
    snprintf(why, n, "the HIP runtime in this process has no hipLaunchHostFunc (HIP %s; graph capture needs "
             "ROCm >= 5.3)", TT_STR(HIP_VERSION_MAJOR) "." TT_STR(HIP_VERSION_MINOR));
    return 0;
}

/* Adds the host node and, where the runtime lets us restore the stream's capture dependencies, takes it out of
 * the stream's order again: the node stays in the graph as a leaf that depends on the put's kernel, and the
 * engine's next captured work depends on the kernel only. If the dependencies cannot be read or restored the node
 * stays in stream order, which is correct too (the stream then waits for the host node at every replay). */
static int be_host_node(void *bk, void *s, tt_gpu_host_fn fn, void *arg, int *leaf)
{
    (void)bk;
    hipStream_t st = (hipStream_t)s;
    hipGraphNode_t saved[MAX_CAPTURE_DEPS];
    size_t nsaved = 0;
    const hipGraphNode_t *deps = NULL;
    size_t n = 0;
    *leaf = 0;
    if (tt_gpu_capture_deps(st, &deps, &n) == hipSuccess && n > 0 && n <= MAX_CAPTURE_DEPS && deps) {
        for (size_t i = 0; i < n; i++)
            saved[i] = deps[i];
        nsaved = n;
    }
    launch_host_func_fn launch = launch_host_func();
    if (!launch)
        return rt(hipErrorNotSupported);
    hipError_t e = launch(st, (hipHostFn_t)fn, arg);
    if (e != hipSuccess)
        return rt(e);
    if (nsaved && tt_gpu_set_capture_deps(st, saved, nsaved) == hipSuccess)
        *leaf = 1;
    return 0;
}

static const tt_gpu_ops gpu_ops = {
    TT_GPU_RUNTIME,
    be_describe,
    be_status,
    be_device_count,
    be_get_device,
    be_set_device,
    be_thread_init,
    be_malloc_device,
    be_free_device,
    be_malloc_pinned,
    be_free_pinned,
    be_malloc_mapped,
    be_free_mapped,
    be_stream_create,
    be_stream_destroy,
    be_stream_sync,
    be_event_create,
    be_event_destroy,
    be_event_record,
    be_event_sync,
    be_stream_wait_event,
    be_memcpy_async,
    be_capture_status,
    be_copy_indirect,
    be_stats,
    be_can_capture,
    be_host_node,
};

/* ---- public entry points of the flavour ------------------------------------------------------------------ */

extern "C" int tt_device_open(tt_device **out, tt_writer *w, const tt_device_options *opts)
{
    return tt__device_open_with(out, w, opts, &gpu_ops, NULL);
}

extern "C" int tt_device_count(void)
{
    int n = 0;
    hipError_t e = hipGetDeviceCount(&n);
    if (e == hipSuccess)
        return n;
    (void)hipGetLastError();
    return tt_gpu_is_nodevice(e) ? 0 : TT_E_DEVICE;
}

extern "C" const char *tt_device_runtime(void)
{
#if defined(TT_GPU_CUDA)
    return "cuda " TT_STR(CUDART_VERSION);
#else
    return "hip " TT_STR(HIP_VERSION_MAJOR) "." TT_STR(HIP_VERSION_MINOR) "." TT_STR(HIP_VERSION_PATCH);
#endif
}
