/*
 * tt_gpu.h — the vendor header: the device code of tensortrace is written in HIP, and this header maps the HIP
 * names it uses onto CUDA when TT_GPU_CUDA is defined, so the same sources build with hipcc (AMD) and with nvcc
 * (NVIDIA: `nvcc -x cu -DTT_GPU_CUDA`). We keep our own small mapping because the HIP-on-NVIDIA headers shipped
 * with Debian's HIP 5.2 do not compile against CUDA 13.
 *
 * Only the calls tensortrace's device code, samples and GPU tests use are mapped; add a line here when a new one
 * is needed. Where HIP and CUDA differ beyond a name (graph capture dependencies, capture mode, host allocation
 * flags) the header provides a tt_gpu_* function with one meaning on both.
 */
#ifndef TT_GPU_H
#define TT_GPU_H

#include <stddef.h>

#if defined(TT_GPU_CUDA)
/* ============================================ CUDA ===================================================== */
#include <cuda_runtime.h>

#define TT_GPU_RUNTIME "cuda"
#define TT_GPU_VERSION CUDART_VERSION

typedef cudaError_t hipError_t;
typedef cudaStream_t hipStream_t;
typedef cudaEvent_t hipEvent_t;
typedef cudaGraph_t hipGraph_t;
typedef cudaGraphExec_t hipGraphExec_t;
typedef cudaGraphNode_t hipGraphNode_t;
typedef cudaStreamCaptureStatus hipStreamCaptureStatus;
typedef cudaStreamCaptureMode hipStreamCaptureMode;
typedef cudaDeviceProp hipDeviceProp_t;
typedef cudaHostFn_t hipHostFn_t;

#define hipSuccess cudaSuccess
#define hipErrorNoDevice cudaErrorNoDevice
#define hipErrorInsufficientDriver cudaErrorInsufficientDriver
#define hipErrorNotSupported cudaErrorNotSupported
#define hipGetErrorName cudaGetErrorName
#define hipGetErrorString cudaGetErrorString
#define hipGetLastError cudaGetLastError
#define hipGetDeviceCount cudaGetDeviceCount
#define hipGetDevice cudaGetDevice
#define hipSetDevice cudaSetDevice
#define hipGetDeviceProperties cudaGetDeviceProperties
#define hipDeviceSynchronize cudaDeviceSynchronize
#define hipMalloc cudaMalloc
#define hipFree cudaFree
#define hipHostFree cudaFreeHost
#define hipHostGetDevicePointer cudaHostGetDevicePointer
#define hipMemcpy cudaMemcpy
#define hipMemcpyAsync cudaMemcpyAsync
#define hipMemset cudaMemset
#define hipMemsetAsync cudaMemsetAsync
#define hipMemcpyDefault cudaMemcpyDefault
#define hipMemcpyHostToDevice cudaMemcpyHostToDevice
#define hipMemcpyDeviceToHost cudaMemcpyDeviceToHost
#define hipMemcpyDeviceToDevice cudaMemcpyDeviceToDevice
#define hipStreamCreate cudaStreamCreate
#define hipStreamCreateWithFlags cudaStreamCreateWithFlags
#define hipStreamNonBlocking cudaStreamNonBlocking
#define hipStreamDestroy cudaStreamDestroy
#define hipStreamSynchronize cudaStreamSynchronize
#define hipStreamWaitEvent cudaStreamWaitEvent
#define hipEventCreate cudaEventCreate
#define hipEventCreateWithFlags cudaEventCreateWithFlags
#define hipEventBlockingSync cudaEventBlockingSync
#define hipEventDisableTiming cudaEventDisableTiming
#define hipEventDestroy cudaEventDestroy
#define hipEventRecord cudaEventRecord
#define hipEventSynchronize cudaEventSynchronize
#define hipEventElapsedTime cudaEventElapsedTime
#define hipStreamIsCapturing cudaStreamIsCapturing
#define hipStreamCaptureStatusNone cudaStreamCaptureStatusNone
#define hipStreamCaptureStatusActive cudaStreamCaptureStatusActive
#define hipStreamCaptureStatusInvalidated cudaStreamCaptureStatusInvalidated
#define hipStreamCaptureModeGlobal cudaStreamCaptureModeGlobal
#define hipStreamCaptureModeThreadLocal cudaStreamCaptureModeThreadLocal
#define hipStreamCaptureModeRelaxed cudaStreamCaptureModeRelaxed
#define hipStreamBeginCapture cudaStreamBeginCapture
#define hipStreamEndCapture cudaStreamEndCapture
#define hipGraphInstantiateWithFlags cudaGraphInstantiateWithFlags
#define hipGraphLaunch cudaGraphLaunch
#define hipGraphExecDestroy cudaGraphExecDestroy
#define hipGraphDestroy cudaGraphDestroy
#define hipLaunchHostFunc cudaLaunchHostFunc

/* hipHostMalloc: pinned host memory; mapped (readable by kernels) and coherent on request. CUDA's mapped pinned
 * memory is coherent (kernels read it from host memory) so the coherent flag has no CUDA counterpart. */
#define TT_GPU_HOST_DEFAULT cudaHostAllocDefault
#define TT_GPU_HOST_MAPPED_COHERENT cudaHostAllocMapped
static inline hipError_t tt_gpu_host_malloc(void **p, size_t n, unsigned flags) { return cudaHostAlloc(p, n, flags); }

static inline int tt_gpu_is_nodevice(hipError_t e)
{
    /* 100: no device; 35: the driver is missing or older than the runtime; 34: the driver is a stub library;
     * 46: every device is busy or unavailable */
    return e == cudaErrorNoDevice || e == cudaErrorInsufficientDriver || e == cudaErrorStubLibrary ||
           e == cudaErrorDevicesUnavailable;
}

/* Lets the calling thread make synchronising calls while another thread captures a graph in global mode. */
static inline hipError_t tt_gpu_relaxed_capture_mode(void)
{
    cudaStreamCaptureMode mode = cudaStreamCaptureModeRelaxed;
    return cudaThreadExchangeStreamCaptureMode(&mode);
}

/* The dependencies the next captured node of a capturing stream would get (valid until the next call on s). */
static inline hipError_t tt_gpu_capture_deps(hipStream_t s, const hipGraphNode_t **deps, size_t *n)
{
    cudaStreamCaptureStatus st;
#if CUDART_VERSION >= 13000
    return cudaStreamGetCaptureInfo(s, &st, NULL, NULL, deps, NULL, n);
#elif CUDART_VERSION >= 11030
    return cudaStreamGetCaptureInfo_v2(s, &st, NULL, NULL, deps, n);
#else
    (void)s, (void)st, (void)deps, (void)n;
    return cudaErrorNotSupported;
#endif
}

/* Replaces the dependency set of a capturing stream. */
static inline hipError_t tt_gpu_set_capture_deps(hipStream_t s, hipGraphNode_t *deps, size_t n)
{
#if CUDART_VERSION >= 13000
    return cudaStreamUpdateCaptureDependencies(s, deps, NULL, n, cudaStreamSetCaptureDependencies);
#elif CUDART_VERSION >= 11030
    return cudaStreamUpdateCaptureDependencies(s, deps, n, cudaStreamSetCaptureDependencies);
#else
    (void)s, (void)deps, (void)n;
    return cudaErrorNotSupported;
#endif
}

#else
/* ============================================= HIP ===================================================== */
#include <hip/hip_runtime.h>

#define TT_GPU_RUNTIME "hip"
#define TT_GPU_VERSION HIP_VERSION

#define TT_GPU_HOST_DEFAULT hipHostMallocDefault
#define TT_GPU_HOST_MAPPED_COHERENT (hipHostMallocMapped | hipHostMallocCoherent)
static inline hipError_t tt_gpu_host_malloc(void **p, size_t n, unsigned flags) { return hipHostMalloc(p, n, flags); }

static inline int tt_gpu_is_nodevice(hipError_t e)
{
    return e == hipErrorNoDevice || e == hipErrorInsufficientDriver;
}

static inline hipError_t tt_gpu_relaxed_capture_mode(void)
{
#if defined(TT_HIP_HAVE_CAPTURE_MODE_EXCHANGE)
    hipStreamCaptureMode mode = hipStreamCaptureModeRelaxed;
    return hipThreadExchangeStreamCaptureMode(&mode);
#else
    /* HIP 5.2 has no hipThreadExchangeStreamCaptureMode (the build probes for it): nothing to relax */
    return hipSuccess;
#endif
}

static inline hipError_t tt_gpu_capture_deps(hipStream_t s, const hipGraphNode_t **deps, size_t *n)
{
    hipStreamCaptureStatus st;
    return hipStreamGetCaptureInfo_v2(s, &st, NULL, NULL, deps, n);
}

static inline hipError_t tt_gpu_set_capture_deps(hipStream_t s, hipGraphNode_t *deps, size_t n)
{
    return hipStreamUpdateCaptureDependencies(s, deps, n, hipStreamSetCaptureDependencies);
}
#endif

#endif /* TT_GPU_H */
