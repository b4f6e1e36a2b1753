/*
 * fuzz_reader.c — libFuzzer target for the reader: the input is a whole trace file. It is opened (footer or
 * recovery), every record's metadata is read, small tensors are read whole and by rows, and the file is
 * verified. The reader must never crash, hang or read out of bounds, whatever the bytes.
 */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <sys/mman.h>
#include <unistd.h>

#include "tt/reader.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int fd = memfd_create("fuzz_reader", 0);
    if (fd < 0)
        return 0;
    if (write(fd, data, size) != (ssize_t)size) {
        close(fd);
        return 0;
    }
    char path[64];
    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    tt_reader *r;
    if (tt_reader_open(&r, path, NULL) == TT_OK) {
        tt_file_info info;
        tt_reader_info(r, &info);
        static uint8_t buf[1 << 20];
        uint64_t n = tt_reader_count(r);
        for (uint64_t i = 0; i < n && i < 4096; i++) {
            tt_record rec;
            if (tt_reader_record(r, i, &rec) != TT_OK)
                continue;
            if ((rec.flags & TT_REC_HAS_PAYLOAD) && rec.nbytes <= sizeof buf) {
                tt_reader_read(r, i, buf, sizeof buf);
                if (rec.ndim > 0 && rec.shape[0] > 0)
                    tt_reader_read_rows(r, i, rec.shape[0] / 2, 1, buf, sizeof buf);
            }
        }
        tt_filter *f = tt_filter_new();
        tt_filter_add(f, "layer=0-3", NULL, 0);
        uint64_t cur = 0;
        tt_record rec;
        while (tt_reader_next(r, f, &cur, &rec) == 1 && cur < 4096)
            ;
        tt_filter_free(f);
        tt_verify_result vr;
        tt_reader_verify(r, &vr, NULL, NULL);
    }
    tt_reader_close(r);
    close(fd);
    return 0;
}
