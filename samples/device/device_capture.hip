/*
 * device_capture.hip — the smallest engine that traces tensors from GPU memory with tt/device.h.
 *
 * A "layer" kernel writes a bf16 activation [16 x 4096] on the engine's stream at each of 4 steps; after each
 * kernel the sample captures the tensor with tt_device_put() (a device pointer and the stream), and the next
 * kernel overwrites the same buffer right away: no synchronisation anywhere, and each record still holds its own
 * step's values, because the capture is a snapshot in stream order. On a machine without a GPU, tt_device_open()
 * says so (TT_E_NODEVICE) and the sample captures the same values from host memory with tt_put() instead.
 *
 *   device_capture_cuda [trace.tt]      (or device_capture_hip)
 *   tracedump trace.tt                  to look at the result
 */
#include <stdio.h>
#include <string.h>

#include "tt_gpu.h"
#include "tt/device.h"
#include "tt/dtype.h"
#include "tt/writer.h"

enum { ROWS = 16, COLS = 4096, STEPS = 4 };

/* the engine's work: act[r][c] = step + r / 16 + c / 4096, rounded to bf16 */
static __global__ void layer(uint16_t *act, int step)
{
    for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < ROWS * COLS; i += gridDim.x * blockDim.x) {
        float v = (float)step + (float)(i / COLS) / ROWS + (float)(i % COLS) / COLS;
        uint32_t u = __float_as_uint(v);
        act[i] = (uint16_t)((u + 0x7fffu + ((u >> 16) & 1u)) >> 16);
    }
}

static tt_key key_for(int step)
{
    tt_key k = TT_KEY_INIT;
    k.prompt_id = "sample";
    k.phase = "decode";
    k.point = "layer_out";
    k.layer = 0;
    k.step = step;
    k.rows = ROWS;
    return k;
}

/* Without a GPU: the same tensors, computed and captured on the host. */
static int host_fallback(tt_writer *w)
{
    static float f[ROWS * COLS];
    static uint16_t act[ROWS * COLS];
    uint64_t shape[2] = {ROWS, COLS};
    for (int step = 0; step < STEPS; step++) {
        for (int i = 0; i < ROWS * COLS; i++)
            f[i] = (float)step + (float)(i / COLS) / ROWS + (float)(i % COLS) / COLS;
        tt_from_f32(TT_BF16, f, ROWS * COLS, act);
        tt_key k = key_for(step);
        if (tt_put(w, &k, TT_BF16, 2, shape, act) < 0)
            return 1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    const char *path = argc > 1 ? argv[1] : "device_sample.tt";
    tt_writer_options wo;
    memset(&wo, 0, sizeof wo);
    wo.size = sizeof wo;
    wo.overwrite = 1;
    tt_writer *w = NULL;
    if (tt_writer_open(&w, path, &wo) != TT_OK) {
        fprintf(stderr, "device_capture: %s\n", tt_writer_errmsg(w));
        tt_writer_free(w);
        return 1;
    }
    tt_writer_set_meta(w, "engine", "samples/device");

    tt_device *d = NULL;
    int rc = tt_device_open(&d, w, NULL);
    int failed = 0;
    if (rc == TT_E_NODEVICE) {
        printf("device_capture: %s\n", tt_device_errmsg(d));
        printf("device_capture: capturing from host memory instead\n");
        tt_device_free(d);
        failed = host_fallback(w);
    } else if (rc != TT_OK) {
        fprintf(stderr, "device_capture: %s\n", tt_device_errmsg(d));
        tt_device_free(d);
        failed = 1;
    } else {
        hipStream_t s;
        uint16_t *act;
        uint64_t shape[2] = {ROWS, COLS};
        if (hipStreamCreateWithFlags(&s, hipStreamNonBlocking) != hipSuccess ||
            hipMalloc((void **)&act, ROWS * COLS * sizeof(uint16_t)) != hipSuccess) {
            fprintf(stderr, "device_capture: cannot allocate on the GPU\n");
            return 1;
        }
        for (int step = 0; step < STEPS; step++) {
            layer<<<64, 256, 0, s>>>(act, step); /* overwrites what the previous put captured */
            tt_key k = key_for(step);
            if (tt_device_put(d, &k, TT_BF16, 2, shape, act, s) < 0) {
                fprintf(stderr, "device_capture: %s\n", tt_device_errmsg(d));
                failed = 1;
            }
        }
        failed |= tt_device_close(d) != TT_OK; /* flushes: every snapshot is with the writer */
        tt_device_counters c;
        tt_device_get_counters(d, &c);
        printf("device_capture: %s: %llu snapshots, %llu bytes to host, %llu dropped\n", tt_device_runtime(),
               (unsigned long long)c.snapshots, (unsigned long long)c.bytes_to_host, (unsigned long long)c.dropped);
        tt_device_free(d);
        (void)hipFree(act);
        (void)hipStreamDestroy(s);
    }
    failed |= tt_writer_close(w) != TT_OK;
    tt_writer_free(w);
    if (!failed)
        printf("device_capture: wrote %s\n", path);
    return failed;
}
