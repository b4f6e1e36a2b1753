/*
 * gpu_common.h — what the GPU programs of tests/gpu (correctness, benchmark) and samples/device share: the skip
 * rule (exit 77 when the runtime sees no GPU, so ctest and run_gpu_tests.sh report a skip, not a failure), a
 * checked-call macro, small kernels that play the engine (fill a tensor with a step's values, count steps, hold a
 * stream until the host says go), bf16 conversion on the device, and writer helpers. HIP source; tt_gpu.h maps it
 * onto CUDA.
 */
#ifndef TT_GPU_COMMON_H
#define TT_GPU_COMMON_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "tt_gpu.h"
#include "tt/device.h"
#include "tt/dtype.h"
#include "tt/reader.h"
#include "tt/writer.h"

#define GPU_SKIP 77

#define GPU_CHECK(call)                                                                                       \
    do {                                                                                                      \
        hipError_t gc_e_ = (call);                                                                            \
        if (gc_e_ != hipSuccess) {                                                                            \
            fprintf(stderr, "%s:%d: %s: %s\n", __FILE__, __LINE__, #call, hipGetErrorString(gc_e_));          \
            exit(2);                                                                                          \
        }                                                                                                     \
    } while (0)

/* Exits with GPU_SKIP and a message when there is no GPU to run on. */
static inline void gpu_require_device(const char *program)
{
    int n = tt_device_count();
    if (n <= 0) {
        printf("SKIP: %s: no GPU (%s runtime sees %s)\n", program, tt_device_runtime(),
               n == 0 ? "none" : "an error");
        exit(GPU_SKIP);
    }
    hipDeviceProp_t prop;
    int dev = 0;
    GPU_CHECK(hipGetDevice(&dev));
    GPU_CHECK(hipGetDeviceProperties(&prop, dev));
    printf("%s: GPU %d: %s (%s)\n", program, dev, prop.name, tt_device_runtime());
}

static inline const char *gpu_device_name(void)
{
    static char name[256];
    hipDeviceProp_t prop;
    int dev = 0;
    if (hipGetDevice(&dev) == hipSuccess && hipGetDeviceProperties(&prop, dev) == hipSuccess)
        snprintf(name, sizeof name, "%s", prop.name);
    return name;
}

static inline double gpu_now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* ---- device helpers ---------------------------------------------------------------------------------------- */

static __device__ inline float gpu_bf16_to_f32(uint16_t h) { return __uint_as_float((uint32_t)h << 16); }

static __device__ inline uint16_t gpu_f32_to_bf16(float f)
{
    uint32_t u = __float_as_uint(f);
    u += 0x7fffu + ((u >> 16) & 1u); /* round to nearest even (finite values) */
    return (uint16_t)(u >> 16);
}

/* x[i] = *step + i * 0.25 (f32): a tensor whose every element says which step wrote it */
[[maybe_unused]] static __global__ void gpu_fill_step_f32(float *x, uint64_t n, const int *step)
{
    float s = (float)*step;
    for (uint64_t i = (uint64_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (uint64_t)gridDim.x * blockDim.x)
        x[i] = s + (float)(i % 4096) * 0.25f;
}

[[maybe_unused]] static __global__ void gpu_increment(int *step)
{
    if (threadIdx.x == 0 && blockIdx.x == 0)
        *step += 1;
}

/* Holds its stream until *go (mapped host memory) becomes nonzero, or about `limit` clock ticks pass. */
[[maybe_unused]] static __global__ void gpu_wait_for_host(const volatile int *go, long long limit)
{
    long long t0 = clock64();
    while (!*go && clock64() - t0 < limit) {
    }
}

/* A mapped, coherent host flag a kernel can poll. */
typedef struct gpu_flag {
    int *host;
    int *dev;
} gpu_flag;

static inline gpu_flag gpu_flag_new(void)
{
    gpu_flag f;
    GPU_CHECK(tt_gpu_host_malloc((void **)&f.host, sizeof(int), TT_GPU_HOST_MAPPED_COHERENT));
    *(volatile int *)f.host = 0;
    GPU_CHECK(hipHostGetDevicePointer((void **)&f.dev, f.host, 0));
    return f;
}

static inline void gpu_flag_set(gpu_flag f, int v) { *(volatile int *)f.host = v; }
static inline void gpu_flag_free(gpu_flag f) { (void)hipHostFree(f.host); }

/* Holds stream s until gpu_flag_set(f, 1) (at most ~a minute of GPU clock). */
static inline void gpu_hold(gpu_flag f, hipStream_t s)
{
    gpu_flag_set(f, 0);
    gpu_wait_for_host<<<1, 1, 0, s>>>(f.dev, 100000000000LL);
    GPU_CHECK(hipGetLastError());
}

/* ---- writer helpers ---------------------------------------------------------------------------------------- */

static inline tt_writer *gpu_open_writer(const char *path, tt_mode mode, tt_on_full on_full, uint32_t threads)
{
    tt_writer_options o;
    memset(&o, 0, sizeof o); /* not TT_WRITER_OPTIONS_INIT: C++ warns about the fields it skips */
    o.size = sizeof o;
    o.ignore_env = 1;
    o.overwrite = 1;
    o.mode = mode;
    o.on_full = on_full;
    o.threads = threads;
    o.zstd_level = -1;
    o.zstd_level_set = 1;
    tt_writer *w = NULL;
    if (tt_writer_open(&w, path, &o) != TT_OK) {
        fprintf(stderr, "tt_writer_open %s: %s\n", path, tt_writer_errmsg(w));
        exit(2);
    }
    return w;
}

/* A path in $TT_GPU_TMP (or /tmp) for a trace. */
static inline const char *gpu_path(char *buf, size_t n, const char *name)
{
    const char *dir = getenv("TT_GPU_TMP");
    snprintf(buf, n, "%s/tt_gpu_%d_%s", dir && *dir ? dir : "/tmp", (int)getpid(), name);
    return buf;
}

#endif /* TT_GPU_COMMON_H */
