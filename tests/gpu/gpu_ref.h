/*
 * gpu_ref.h — host references for the GPU tests, compiled by the C compiler: the statistics the device kernels
 * must produce, bit for bit (device_stats.h's tt_gs_reduce_host, the kernels' exact order of operations).
 */
#ifndef TT_GPU_REF_H
#define TT_GPU_REF_H

#include <stdint.h>

#include "tt/common.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The statistics the stats kernels compute for n elements of dtype at p (host memory). */
void gpu_ref_stats(int dtype, const void *p, uint64_t n, tt_stats *out);

#ifdef __cplusplus
}
#endif
#endif
