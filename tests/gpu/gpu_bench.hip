/*
 * gpu_bench.hip — the overhead of device capture on the engine's stream, measured with GPU events:
 *
 *   1. capture cost: GPU time per capture on the engine stream, tt_device_put() against a bare device-to-device
 *      copy of the same size. The stream is held by a kernel while the host enqueues the batch, so the events time
 *      the GPU's work back to back (not the host's enqueueing); the host time per put is reported apart.
 *      Target: put <= copy + 10 us.
 *   2. a synthetic decoder layer loop (hidden 4096, 512 tokens, bf16; RMSNorm, Q/K/V/O projections, a stand-in
 *      for attention, a SiLU-gated MLP of width 11008, residuals), L layers per step, with 10 capture points per
 *      layer (attn_norm q k v attn_out o_proj mlp_norm mlp_act mlp_out layer_out), full mode:
 *        none      no capture;
 *        capture   full capture, pools large enough for one step, drained between steps (the host keeps up);
 *                  target: step time <= 1.10 x none;
 *        block     back-to-back steps with 256 MiB pools under TT_ON_FULL_BLOCK (the host cannot keep up: the
 *                  engine waits, pool_full_waits says how often);
 *        drop      the same under TT_ON_FULL_DROP (nothing waits; `dropped` says how many captures were lost).
 *      GEMMs use cuBLAS (loaded at run time, CUDA flavour) when it is there, else a plain tiled kernel; the table
 *      says which, because the ratio depends on how fast the layer is.
 *
 * Prints a table and one JSON object (also to --json FILE). Exit 0 (targets are reported, not enforced: see
 * run_gpu_tests.sh), 77 without a GPU.
 * Options: --layers L (8)  --steps S (10)  --tokens T (512)  --hidden H (4096)  --json FILE  --quick
 */
#include <math.h>

#include "gpu_common.h"

#if defined(TT_GPU_CUDA)
#include <cublas_v2.h>
#include <dlfcn.h>
#endif

/* ---- kernels of the synthetic layer -------------------------------------------------------------------------- */

static __device__ inline uint32_t mix32(uint32_t x)
{
    x ^= x >> 16;
    x *= 0x7feb352dU;
    x ^= x >> 15;
    x *= 0x846ca68bU;
    x ^= x >> 16;
    return x;
}

static __global__ void init_bf16(uint16_t *x, uint64_t n, uint32_t seed, float scale)
{
    for (uint64_t i = (uint64_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (uint64_t)gridDim.x * blockDim.x)
        x[i] = gpu_f32_to_bf16(((float)(mix32((uint32_t)i * 2654435761u + seed) % 2001u) - 1000.0f) * scale);
}

/* one block per row: y = x / rms(x) */
static __global__ void rmsnorm_bf16(const uint16_t *x, uint16_t *y, int cols)
{
    __shared__ float part[256];
    const uint16_t *row = x + (size_t)blockIdx.x * cols;
    float s = 0;
    for (int j = threadIdx.x; j < cols; j += blockDim.x) {
        float v = gpu_bf16_to_f32(row[j]);
        s += v * v;
    }
    part[threadIdx.x] = s;
    for (int st = blockDim.x / 2; st > 0; st >>= 1) {
        __syncthreads();
        if ((int)threadIdx.x < st)
            part[threadIdx.x] += part[threadIdx.x + st];
    }
    __syncthreads();
    float inv = rsqrtf(part[0] / (float)cols + 1e-6f);
    for (int j = threadIdx.x; j < cols; j += blockDim.x)
        y[(size_t)blockIdx.x * cols + j] = gpu_f32_to_bf16(gpu_bf16_to_f32(row[j]) * inv);
}

static __global__ void attn_standin(const uint16_t *q, const uint16_t *k, const uint16_t *v, uint16_t *o, uint64_t n)
{
    for (uint64_t i = (uint64_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (uint64_t)gridDim.x * blockDim.x)
        o[i] = gpu_f32_to_bf16(gpu_bf16_to_f32(q[i]) * 0.5f + gpu_bf16_to_f32(k[i]) * 0.25f + gpu_bf16_to_f32(v[i]));
}

static __global__ void add_bf16(uint16_t *x, const uint16_t *y, uint64_t n)
{
    for (uint64_t i = (uint64_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (uint64_t)gridDim.x * blockDim.x)
        x[i] = gpu_f32_to_bf16(gpu_bf16_to_f32(x[i]) + gpu_bf16_to_f32(y[i]));
}

/* act[r][j] = silu(gu[r][j]) * gu[r][F + j] */
static __global__ void silu_mul_bf16(const uint16_t *gu, uint16_t *act, int rows, int f)
{
    uint64_t n = (uint64_t)rows * f;
    for (uint64_t i = (uint64_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (uint64_t)gridDim.x * blockDim.x) {
        uint64_t r = i / f, j = i % f;
        float g = gpu_bf16_to_f32(gu[r * 2 * f + j]), u = gpu_bf16_to_f32(gu[r * 2 * f + f + j]);
        act[i] = gpu_f32_to_bf16(g / (1.0f + __expf(-g)) * u);
    }
}

/* C[M][N] = A[M][K] B[K][N], bf16 row-major, f32 accumulation: 64x64 tiles, 4x4 outputs per thread. */
#define GT 64
#define GK 16
static __global__ void __launch_bounds__(256) gemm_tiled_bf16(const uint16_t *A, const uint16_t *B, uint16_t *C,
                                                              int M, int N, int K)
{
    __shared__ float As[GK][GT];
    __shared__ float Bs[GK][GT];
    int tx = threadIdx.x % 16, ty = threadIdx.x / 16;
    int row0 = blockIdx.y * GT, col0 = blockIdx.x * GT;
    float acc[4][4];
    for (int i = 0; i < 4; i++)
        for (int j = 0; j < 4; j++)
            acc[i][j] = 0;
    for (int k0 = 0; k0 < K; k0 += GK) {
        for (int e = threadIdx.x; e < GT * GK; e += 256) {
            int m = e / GK, k = e % GK, gr = row0 + m, gk = k0 + k;
            As[k][m] = (gr < M && gk < K) ? gpu_bf16_to_f32(A[(size_t)gr * K + gk]) : 0.0f;
        }
        for (int e = threadIdx.x; e < GK * GT; e += 256) {
            int k = e / GT, n = e % GT, gk = k0 + k, gc = col0 + n;
            Bs[k][n] = (gk < K && gc < N) ? gpu_bf16_to_f32(B[(size_t)gk * N + gc]) : 0.0f;
        }
        __syncthreads();
        for (int k = 0; k < GK; k++) {
            float a[4], b[4];
            for (int i = 0; i < 4; i++) {
                a[i] = As[k][ty * 4 + i];
                b[i] = Bs[k][tx * 4 + i];
            }
            for (int i = 0; i < 4; i++)
                for (int j = 0; j < 4; j++)
                    acc[i][j] += a[i] * b[j];
        }
        __syncthreads();
    }
    for (int i = 0; i < 4; i++)
        for (int j = 0; j < 4; j++) {
            int r = row0 + ty * 4 + i, c = col0 + tx * 4 + j;
            if (r < M && c < N)
                C[(size_t)r * N + c] = gpu_f32_to_bf16(acc[i][j]);
        }
}

/* ---- GEMM: cuBLAS when it can be loaded, else the tiled kernel ------------------------------------------------ */

#if defined(TT_GPU_CUDA)
/* cublasGemmEx's 32-bit form (C++ overloads it with a 64-bit one) */
typedef cublasStatus_t (*gemm_ex_fn)(cublasHandle_t, cublasOperation_t, cublasOperation_t, int, int, int,
                                     const void *, const void *, cudaDataType, int, const void *, cudaDataType, int,
                                     const void *, void *, cudaDataType, int, cublasComputeType_t, cublasGemmAlgo_t);
#endif

typedef struct gemm_ctx {
    const char *kind;
#if defined(TT_GPU_CUDA)
    void *lib;
    cublasHandle_t handle;
    gemm_ex_fn gemm_ex;
#endif
} gemm_ctx;

static void gemm_init(gemm_ctx *g, hipStream_t s)
{
    g->kind = "tiled kernel (no BLAS)";
#if defined(TT_GPU_CUDA)
    static const char *names[] = {"libcublas.so", "libcublas.so.13", "libcublas.so.12"};
    g->lib = NULL;
    for (int i = 0; i < 3 && !g->lib; i++)
        g->lib = dlopen(names[i], RTLD_NOW | RTLD_LOCAL);
    if (!g->lib)
        return;
    decltype(&cublasCreate_v2) create = (decltype(&cublasCreate_v2))dlsym(g->lib, "cublasCreate_v2");
    decltype(&cublasSetStream_v2) set_stream = (decltype(&cublasSetStream_v2))dlsym(g->lib, "cublasSetStream_v2");
    g->gemm_ex = (gemm_ex_fn)dlsym(g->lib, "cublasGemmEx");
    if (create && set_stream && g->gemm_ex && create(&g->handle) == CUBLAS_STATUS_SUCCESS &&
        set_stream(g->handle, s) == CUBLAS_STATUS_SUCCESS)
        g->kind = "cuBLAS (bf16, f32 accumulation)";
    else
        g->gemm_ex = NULL;
#else
    (void)s;
#endif
}

/* C[M][N] = A[M][K] B[K][N] on stream s (row-major) */
static void gemm(gemm_ctx *g, const uint16_t *A, const uint16_t *B, uint16_t *C, int M, int N, int K, hipStream_t s)
{
#if defined(TT_GPU_CUDA)
    if (g->gemm_ex) {
        /* row-major C = A B is column-major C^T = B^T A^T */
        float alpha = 1.0f, beta = 0.0f;
        cublasStatus_t st = g->gemm_ex(g->handle, CUBLAS_OP_N, CUBLAS_OP_N, N, M, K, &alpha, B, CUDA_R_16BF, N, A,
                                       CUDA_R_16BF, K, &beta, C, CUDA_R_16BF, N, CUBLAS_COMPUTE_32F,
                                       CUBLAS_GEMM_DEFAULT);
        if (st != CUBLAS_STATUS_SUCCESS) {
            fprintf(stderr, "cublasGemmEx failed: %d\n", (int)st);
            exit(2);
        }
        return;
    }
#endif
    dim3 grid((unsigned)((N + GT - 1) / GT), (unsigned)((M + GT - 1) / GT));
    gemm_tiled_bf16<<<grid, 256, 0, s>>>(A, B, C, M, N, K);
}

/* ---- the layer -------------------------------------------------------------------------------------------------- */

typedef struct model {
    int T, H, F;
    uint16_t *wq, *wk, *wv, *wo, *wgu, *wd;
    uint16_t *x, *h, *q, *k, *v, *attn, *o, *h2, *gu, *act, *down;
} model;

static uint16_t *dalloc(uint64_t n)
{
    uint16_t *p;
    GPU_CHECK(hipMalloc((void **)&p, n * 2));
    return p;
}

static void model_init(model *m, int T, int H, hipStream_t s)
{
    m->T = T;
    m->H = H;
    m->F = (int)((int64_t)H * 11008 / 4096);
    uint64_t HH = (uint64_t)H * H, TH = (uint64_t)T * H, TF = (uint64_t)T * m->F;
    m->wq = dalloc(HH);
    m->wk = dalloc(HH);
    m->wv = dalloc(HH);
    m->wo = dalloc(HH);
    m->wgu = dalloc((uint64_t)H * 2 * m->F);
    m->wd = dalloc((uint64_t)m->F * H);
    m->x = dalloc(TH);
    m->h = dalloc(TH);
    m->q = dalloc(TH);
    m->k = dalloc(TH);
    m->v = dalloc(TH);
    m->attn = dalloc(TH);
    m->o = dalloc(TH);
    m->h2 = dalloc(TH);
    m->gu = dalloc(2 * TF);
    m->act = dalloc(TF);
    m->down = dalloc(TH);
    float ws = 1.0f / (1000.0f * sqrtf((float)H));
    init_bf16<<<1024, 256, 0, s>>>(m->wq, HH, 1, ws);
    init_bf16<<<1024, 256, 0, s>>>(m->wk, HH, 2, ws);
    init_bf16<<<1024, 256, 0, s>>>(m->wv, HH, 3, ws);
    init_bf16<<<1024, 256, 0, s>>>(m->wo, HH, 4, ws);
    init_bf16<<<1024, 256, 0, s>>>(m->wgu, (uint64_t)H * 2 * m->F, 5, ws);
    init_bf16<<<1024, 256, 0, s>>>(m->wd, (uint64_t)m->F * H, 6, 1.0f / (1000.0f * sqrtf((float)m->F)));
    init_bf16<<<1024, 256, 0, s>>>(m->x, TH, 7, 1e-3f);
    GPU_CHECK(hipStreamSynchronize(s));
}

static void model_free(model *m)
{
    uint16_t *all[] = {m->wq, m->wk, m->wv, m->wo, m->wgu, m->wd, m->x,  m->h,   m->q,
                       m->k,  m->v,  m->attn, m->o, m->h2, m->gu, m->act, m->down};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        GPU_CHECK(hipFree(all[i]));
}

typedef struct capture_ctx {
    tt_device *d;     /* NULL: no capture */
    int step;
    uint64_t bytes;   /* bytes captured */
    uint64_t puts, not_ok;
} capture_ctx;

static void cap(capture_ctx *c, const char *point, int layer, const uint16_t *p, int rows, int cols, hipStream_t s)
{
    if (!c->d)
        return;
    tt_key k = TT_KEY_INIT;
    k.point = point;
    k.layer = layer;
    k.step = c->step;
    k.prompt_id = "bench";
    k.phase = "prefill";
    k.rows = rows;
    uint64_t shape[2] = {(uint64_t)rows, (uint64_t)cols};
    int rc = tt_device_put(c->d, &k, TT_BF16, 2, shape, p, s);
    c->puts++;
    if (rc == TT_OK)
        c->bytes += (uint64_t)rows * cols * 2;
    else
        c->not_ok++;
}

static void layer(model *m, gemm_ctx *g, capture_ctx *c, int l, hipStream_t s)
{
    int T = m->T, H = m->H, F = m->F;
    uint64_t TH = (uint64_t)T * H;
    rmsnorm_bf16<<<T, 256, 0, s>>>(m->x, m->h, H);
    cap(c, "attn_norm", l, m->h, T, H, s);
    gemm(g, m->h, m->wq, m->q, T, H, H, s);
    cap(c, "q", l, m->q, T, H, s);
    gemm(g, m->h, m->wk, m->k, T, H, H, s);
    cap(c, "k", l, m->k, T, H, s);
    gemm(g, m->h, m->wv, m->v, T, H, H, s);
    cap(c, "v", l, m->v, T, H, s);
    attn_standin<<<1024, 256, 0, s>>>(m->q, m->k, m->v, m->attn, TH);
    cap(c, "attn_out", l, m->attn, T, H, s);
    gemm(g, m->attn, m->wo, m->o, T, H, H, s);
    cap(c, "o_proj", l, m->o, T, H, s);
    add_bf16<<<1024, 256, 0, s>>>(m->x, m->o, TH);
    rmsnorm_bf16<<<T, 256, 0, s>>>(m->x, m->h2, H);
    cap(c, "mlp_norm", l, m->h2, T, H, s);
    gemm(g, m->h2, m->wgu, m->gu, T, 2 * F, H, s);
    silu_mul_bf16<<<1024, 256, 0, s>>>(m->gu, m->act, T, F);
    cap(c, "mlp_act", l, m->act, T, F, s);
    gemm(g, m->act, m->wd, m->down, T, H, F, s);
    cap(c, "mlp_out", l, m->down, T, H, s);
    add_bf16<<<1024, 256, 0, s>>>(m->x, m->down, TH);
    cap(c, "layer_out", l, m->x, T, H, s);
}

/* One step of L layers; returns the GPU time of the step (ms) and adds the host time to *host_ms. */
static float run_step(model *m, gemm_ctx *g, capture_ctx *c, int L, hipStream_t s, hipEvent_t e0, hipEvent_t e1,
                      double *host_ms)
{
    double t0 = gpu_now_s();
    GPU_CHECK(hipEventRecord(e0, s));
    for (int l = 0; l < L; l++)
        layer(m, g, c, l, s);
    GPU_CHECK(hipEventRecord(e1, s));
    GPU_CHECK(hipEventSynchronize(e1));
    *host_ms += (gpu_now_s() - t0) * 1e3;
    float ms = 0;
    GPU_CHECK(hipEventElapsedTime(&ms, e0, e1));
    return ms;
}

static int cmp_float(const void *a, const void *b)
{
    float x = *(const float *)a, y = *(const float *)b;
    return x < y ? -1 : x > y;
}

static float median(float *v, int n)
{
    qsort(v, (size_t)n, sizeof(float), cmp_float);
    return n % 2 ? v[n / 2] : 0.5f * (v[n / 2 - 1] + v[n / 2]);
}

/* ---- part 1: engine-stream cost per capture ------------------------------------------------------------------- */

typedef struct cost_row {
    uint64_t bytes;
    float copy_us, put_us, host_put_us;
} cost_row;

static tt_device *open_dev(tt_writer *w, uint64_t staging, uint64_t pinned, tt_on_full policy)
{
    tt_device_options o = TT_DEVICE_OPTIONS_INIT;
    o.staging_bytes = staging;
    o.pinned_bytes = pinned;
    o.max_inflight = 4096;
    o.on_full = policy;
    tt_device *d = NULL;
    if (tt_device_open(&d, w, &o) != TT_OK) {
        fprintf(stderr, "tt_device_open: %s\n", tt_device_errmsg(d));
        exit(2);
    }
    return d;
}

static void capture_cost(cost_row *rows, int nrows, int reps, const char *dir)
{
    enum { BATCH = 32 };
    uint64_t maxb = 0;
    for (int i = 0; i < nrows; i++)
        maxb = rows[i].bytes > maxb ? rows[i].bytes : maxb;
    char path[512];
    snprintf(path, sizeof path, "%s/tt_bench_%d_cost.tt", dir, (int)getpid());
    tt_writer *w = gpu_open_writer(path, TT_MODE_FULL, TT_ON_FULL_BLOCK, 8);
    tt_device *d = open_dev(w, BATCH * maxb + (64 << 20), BATCH * maxb + (64 << 20), TT_ON_FULL_BLOCK);
    hipStream_t s;
    GPU_CHECK(hipStreamCreateWithFlags(&s, hipStreamNonBlocking));
    hipEvent_t e0, e1;
    GPU_CHECK(hipEventCreate(&e0));
    GPU_CHECK(hipEventCreate(&e1));
    void *src, *dst;
    GPU_CHECK(hipMalloc(&src, maxb));
    GPU_CHECK(hipMalloc(&dst, BATCH * maxb));
    GPU_CHECK(hipMemset(src, 1, maxb));
    gpu_flag go = gpu_flag_new();
    for (int r = 0; r < nrows; r++) {
        uint64_t n = rows[r].bytes;
        float copy_ms[16], put_ms[16], host_ms[16];
        for (int rep = 0; rep < reps + 1; rep++) { /* rep 0 warms up */
            /* bare copies */
            gpu_hold(go, s);
            GPU_CHECK(hipEventRecord(e0, s));
            for (int i = 0; i < BATCH; i++)
                GPU_CHECK(hipMemcpyAsync((char *)dst + (uint64_t)i * n, src, n, hipMemcpyDeviceToDevice, s));
            GPU_CHECK(hipEventRecord(e1, s));
            gpu_flag_set(go, 1);
            GPU_CHECK(hipEventSynchronize(e1));
            float ms;
            GPU_CHECK(hipEventElapsedTime(&ms, e0, e1));
            if (rep)
                copy_ms[rep - 1] = ms;
            /* captures */
            gpu_hold(go, s);
            GPU_CHECK(hipEventRecord(e0, s));
            double t0 = gpu_now_s();
            for (int i = 0; i < BATCH; i++) {
                tt_key k = TT_KEY_INIT;
                k.point = "cost";
                k.step = rep * BATCH + i;
                k.layer = r;
                uint64_t shape[1] = {n / 2};
                if (tt_device_put(d, &k, TT_BF16, 1, shape, src, s) != TT_OK) {
                    fprintf(stderr, "put: %s\n", tt_device_errmsg(d));
                    exit(2);
                }
            }
            double host = (gpu_now_s() - t0) * 1e3;
            GPU_CHECK(hipEventRecord(e1, s));
            gpu_flag_set(go, 1);
            GPU_CHECK(hipEventSynchronize(e1));
            GPU_CHECK(hipEventElapsedTime(&ms, e0, e1));
            if (rep) {
                put_ms[rep - 1] = ms;
                host_ms[rep - 1] = (float)host;
            }
            tt_device_flush(d); /* drain before the next batch (untimed) */
            tt_writer_flush(w);
        }
        rows[r].copy_us = median(copy_ms, reps) * 1e3f / BATCH;
        rows[r].put_us = median(put_ms, reps) * 1e3f / BATCH;
        rows[r].host_put_us = median(host_ms, reps) * 1e3f / BATCH;
    }
    gpu_flag_free(go);
    tt_device_free(d);
    tt_writer_close(w);
    tt_writer_free(w);
    remove(path);
    GPU_CHECK(hipFree(src));
    GPU_CHECK(hipFree(dst));
    GPU_CHECK(hipEventDestroy(e0));
    GPU_CHECK(hipEventDestroy(e1));
    GPU_CHECK(hipStreamDestroy(s));
}

/* ---- part 2: the layer loop ----------------------------------------------------------------------------------- */

typedef struct loop_result {
    float step_ms, host_ms;
    uint64_t waits, dropped, puts, captured_bytes;
} loop_result;

/* mode 0: no capture; 1: capture, drained between steps; 2: back to back with `policy` and default pools */
static loop_result layer_loop(model *m, gemm_ctx *g, int L, int steps, int mode, tt_on_full policy,
                              uint64_t step_bytes, const char *dir, hipStream_t s)
{
    loop_result res;
    memset(&res, 0, sizeof res);
    char path[512];
    snprintf(path, sizeof path, "%s/tt_bench_%d_loop.tt", dir, (int)getpid());
    tt_writer *w = NULL;
    capture_ctx c;
    memset(&c, 0, sizeof c);
    if (mode) {
        w = gpu_open_writer(path, TT_MODE_FULL, policy, 8);
        uint64_t pool = mode == 1 ? step_bytes + (64 << 20) : (uint64_t)256 << 20;
        c.d = open_dev(w, pool, pool, policy);
    }
    hipEvent_t e0, e1;
    GPU_CHECK(hipEventCreate(&e0));
    GPU_CHECK(hipEventCreate(&e1));
    float *ms = (float *)malloc(sizeof(float) * (size_t)steps);
    double host = 0, warm = 0;
    for (int i = 0; i < 2; i++) { /* warm-up steps */
        c.step = -1 - i;
        run_step(m, g, &c, L, s, e0, e1, &warm);
        if (mode == 1)
            tt_device_flush(c.d);
    }
    for (int i = 0; i < steps; i++) {
        c.step = i;
        ms[i] = run_step(m, g, &c, L, s, e0, e1, &host);
        if (mode == 1) { /* the host catches up between steps, outside the timed step */
            tt_device_flush(c.d);
            tt_writer_flush(w);
        }
    }
    res.step_ms = median(ms, steps);
    res.host_ms = (float)(host / steps);
    if (mode) {
        tt_device_flush(c.d);
        tt_device_counters dc;
        tt_device_get_counters(c.d, &dc);
        res.waits = dc.pool_full_waits;
        res.dropped = dc.dropped;
        res.puts = dc.puts;
        res.captured_bytes = c.bytes;
        tt_device_free(c.d);
        tt_writer_close(w);
        tt_writer_free(w);
        remove(path);
    }
    free(ms);
    GPU_CHECK(hipEventDestroy(e0));
    GPU_CHECK(hipEventDestroy(e1));
    return res;
}

int main(int argc, char **argv)
{
    int L = 8, steps = 10, T = 512, H = 4096, quick = 0;
    const char *json_path = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--layers") && i + 1 < argc)
            L = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--steps") && i + 1 < argc)
            steps = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--tokens") && i + 1 < argc)
            T = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--hidden") && i + 1 < argc)
            H = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--json") && i + 1 < argc)
            json_path = argv[++i];
        else if (!strcmp(argv[i], "--quick"))
            quick = 1;
        else {
            fprintf(stderr, "usage: %s [--layers L] [--steps S] [--tokens T] [--hidden H] [--json FILE] [--quick]\n",
                    argv[0]);
            return 2;
        }
    }
    if (L < 1 || steps < 1 || T < 1 || H < 64 || H % 64) {
        fprintf(stderr, "gpu_bench: bad sizes (hidden must be a multiple of 64)\n");
        return 2;
    }
    if (quick) {
        L = 2;
        steps = 3;
    }
    gpu_require_device("gpu_bench");
    const char *dir = getenv("TT_GPU_TMP") && *getenv("TT_GPU_TMP") ? getenv("TT_GPU_TMP") : "/tmp";

    cost_row rows[] = {{64 << 10, 0, 0, 0}, {1 << 20, 0, 0, 0}, {4 << 20, 0, 0, 0}, {16 << 20, 0, 0, 0}};
    int nrows = quick ? 2 : 4;
    capture_cost(rows, nrows, quick ? 2 : 7, dir);

    hipStream_t s;
    GPU_CHECK(hipStreamCreateWithFlags(&s, hipStreamNonBlocking));
    gemm_ctx g;
    gemm_init(&g, s);
    model m;
    model_init(&m, T, H, s);
    uint64_t step_bytes = (uint64_t)L * ((uint64_t)T * H * 2 * 9 + (uint64_t)T * m.F * 2);
    loop_result none = layer_loop(&m, &g, L, steps, 0, TT_ON_FULL_BLOCK, step_bytes, dir, s);
    loop_result full = layer_loop(&m, &g, L, steps, 1, TT_ON_FULL_BLOCK, step_bytes, dir, s);
    loop_result blk = layer_loop(&m, &g, L, steps, 2, TT_ON_FULL_BLOCK, step_bytes, dir, s);
    loop_result drp = layer_loop(&m, &g, L, steps, 2, TT_ON_FULL_DROP, step_bytes, dir, s);
    model_free(&m);
    GPU_CHECK(hipStreamDestroy(s));

    const char *gpu = gpu_device_name();
    printf("\ncapture cost on the engine stream (GPU time per capture, batches of 32, median)\n");
    printf("%10s %12s %12s %14s %14s %8s\n", "bytes", "copy us", "put us", "overhead us", "host us/put", "target");
    int cost_ok = 1;
    for (int i = 0; i < nrows; i++) {
        float over = rows[i].put_us - rows[i].copy_us;
        int ok = over < 10.0f;
        cost_ok &= ok;
        printf("%10llu %12.2f %12.2f %14.2f %14.2f %8s\n", (unsigned long long)rows[i].bytes, rows[i].copy_us,
               rows[i].put_us, over, rows[i].host_put_us, ok ? "ok" : "MISSED");
    }
    float ratio = full.step_ms / none.step_ms;
    printf("\nsynthetic layer loop: hidden %d, %d tokens, bf16, %d layers per step, 10 captures per layer, GEMM: %s\n",
           H, T, L, g.kind);
    printf("captured per step: %.1f MiB\n", (double)step_bytes / (1 << 20));
    printf("%-34s %10s %10s %8s %10s %10s\n", "run", "step ms", "host ms", "ratio", "waits", "dropped");
    printf("%-34s %10.3f %10.3f %8s %10s %10s\n", "no capture", none.step_ms, none.host_ms, "1.000", "-", "-");
    printf("%-34s %10.3f %10.3f %8.3f %10llu %10llu\n", "full capture (host keeps up)", full.step_ms, full.host_ms,
           ratio, (unsigned long long)full.waits, (unsigned long long)full.dropped);
    printf("%-34s %10.3f %10.3f %8.3f %10llu %10llu\n", "back to back, 256 MiB pools, block", blk.step_ms,
           blk.host_ms, blk.step_ms / none.step_ms, (unsigned long long)blk.waits, (unsigned long long)blk.dropped);
    printf("%-34s %10.3f %10.3f %8.3f %10llu %10llu\n", "back to back, 256 MiB pools, drop", drp.step_ms,
           drp.host_ms, drp.step_ms / none.step_ms, (unsigned long long)drp.waits, (unsigned long long)drp.dropped);
    printf("target: full capture <= 1.10 x no capture: %s\n", ratio <= 1.10f ? "ok" : "MISSED");

    char json[8192];
    int o = snprintf(json, sizeof json, "{\"gpu\": \"%s\", \"runtime\": \"%s\", \"capture_cost\": [", gpu,
                     tt_device_runtime());
    for (int i = 0; i < nrows; i++)
        o += snprintf(json + o, sizeof json - (size_t)o,
                      "%s{\"bytes\": %llu, \"copy_us\": %.3f, \"put_us\": %.3f, \"overhead_us\": %.3f, "
                      "\"host_put_us\": %.3f}",
                      i ? ", " : "", (unsigned long long)rows[i].bytes, rows[i].copy_us, rows[i].put_us,
                      rows[i].put_us - rows[i].copy_us, rows[i].host_put_us);
    o += snprintf(json + o, sizeof json - (size_t)o,
                  "], \"layer_loop\": {\"hidden\": %d, \"tokens\": %d, \"layers_per_step\": %d, \"points_per_layer\": "
                  "10, \"steps\": %d, \"gemm\": \"%s\", \"captured_mib_per_step\": %.1f, \"no_capture_ms\": %.4f, "
                  "\"capture_ms\": %.4f, \"ratio\": %.4f, \"target_ratio\": 1.10, "
                  "\"block\": {\"step_ms\": %.4f, \"pool_full_waits\": %llu, \"dropped\": %llu}, "
                  "\"drop\": {\"step_ms\": %.4f, \"pool_full_waits\": %llu, \"dropped\": %llu, \"puts\": %llu}}, "
                  "\"targets_met\": {\"capture_cost\": %s, \"layer_loop\": %s}}",
                  H, T, L, steps, g.kind, (double)step_bytes / (1 << 20), none.step_ms, full.step_ms, ratio,
                  blk.step_ms, (unsigned long long)blk.waits, (unsigned long long)blk.dropped, drp.step_ms,
                  (unsigned long long)drp.waits, (unsigned long long)drp.dropped, (unsigned long long)drp.puts,
                  cost_ok ? "true" : "false", ratio <= 1.10f ? "true" : "false");
    printf("\n%s\n", json);
    if (json_path) {
        FILE *f = fopen(json_path, "w");
        if (f) {
            fprintf(f, "%s\n", json);
            fclose(f);
        }
    }
    return 0;
}
