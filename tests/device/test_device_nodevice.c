/*
 * test_device_nodevice.c — a device capture flavour (libtrace_hip.a or libtrace_cuda.a) on this machine: without
 * a GPU (CI), tt_device_open() fails with TT_E_NODEVICE and a message that says so, and the same writer still
 * takes host captures. On a machine with a GPU it checks only that open and close work: tests/gpu does the rest.
 */
#include <stdio.h>
#include <string.h>

#include "tt/device.h"
#include "tt/reader.h"
#include "tt/writer.h"
#include "tt_test.h"
#include "unit/test_support.h"

int main(void)
{
    char path[256];
    tt_writer_options wo = ts_opts();
    wo.overwrite = 1;
    tt_writer *w = NULL;
    CHECK_STATUS(tt_writer_open(&w, ts_path(path, sizeof path, "nodevice.tt"), &wo), TT_OK);
    int n = tt_device_count();
    printf("runtime %s, %d GPU(s)\n", tt_device_runtime(), n);
    CHECK(n >= 0);
    CHECK(strlen(tt_device_runtime()) > 4);

    tt_device *d = NULL;
    tt_device_options o = TT_DEVICE_OPTIONS_INIT;
    o.staging_bytes = o.pinned_bytes = o.graph_bytes = 1 << 20;
    int rc = tt_device_open(&d, w, &o);
    printf("tt_device_open: %s: %s\n", tt_status_name(rc), tt_device_errmsg(d));
    if (n == 0) {
        CHECK_STATUS(rc, TT_E_NODEVICE);
        CHECK(d != NULL);
        CHECK(strstr(tt_device_errmsg(d), "no GPU device") != NULL);
        tt_key k = TT_KEY_INIT;
        k.point = "x";
        uint64_t shape[1] = {4};
        float x[4] = {1, 2, 3, 4};
        CHECK_STATUS(tt_device_put(d, &k, TT_F32, 1, shape, x, NULL), TT_E_STATE);
        CHECK_STATUS(tt_device_close(d), TT_E_NODEVICE);
        tt_device_free(d);
        /* host captures on the same writer */
        CHECK_STATUS(tt_put(w, &k, TT_F32, 1, shape, x), TT_OK);
    } else {
        CHECK_STATUS(rc, TT_OK);
        CHECK_STATUS(tt_device_close(d), TT_OK);
        tt_device_free(d);
    }
    /* a disabled writer: no handle, no GPU needed */
    CHECK_STATUS(tt_device_open(&d, NULL, NULL), TT_OK);
    CHECK(d == NULL);
    CHECK_STATUS(tt_writer_close(w), TT_OK);
    tt_writer_free(w);
    if (n == 0) {
        tt_reader *r = NULL;
        CHECK_STATUS(tt_reader_open(&r, path, NULL), TT_OK);
        CHECK_EQ_U64(tt_reader_count(r), 1);
        tt_reader_close(r);
    }
    remove(path);
    return tt_test_exit();
}
