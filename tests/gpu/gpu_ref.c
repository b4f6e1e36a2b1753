/*
 * gpu_ref.c — see gpu_ref.h. Plain C, so that tt_gs_reduce_host() (host-only in device_stats.h) is available.
 */
#include "gpu_ref.h"

#include "device_stats.h"

void gpu_ref_stats(int dtype, const void *p, uint64_t n, tt_stats *out)
{
    tt_gpu_stats g;
    tt_gs_reduce_host(dtype, p, n, &g);
    tt_gs_finish(&g, out);
}
