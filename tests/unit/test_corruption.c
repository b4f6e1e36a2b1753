/*
 * test_corruption.c — damaged files: truncation at every frame boundary and inside frames, and byte flips over
 * the whole file. For every damaged copy the reader must either fail to open with a message naming the file, or
 * open (possibly in recovery) and then, for every record, either return exactly the bytes that were written or
 * an error naming the record or frame. Records whose frames all precede a cut must be recovered.
 */
#define _POSIX_C_SOURCE 200809L
#include "frame.h"
#include "test_support.h"
#include "tt_test.h"

#define NREC 12
#define ELEMS 2500

static float *orig[NREC];
static uint64_t frame_off[4096];
static int nframes;
static uint64_t batch_end[64]; /* end offset of each BATCH frame */
static int nbatch_end, batch_records_at[64];

/* Lists frame offsets by walking headers (the file is intact here). */
static void walk_frames(const uint8_t *p, size_t len)
{
    uint64_t pos = TT_FILE_HEADER_SIZE;
    int records = 0;
    while (pos + TT_FRAME_HEADER_SIZE <= len) {
        tt_frame_header h;
        if (tt_frame_header_decode(p + pos, &h, NULL, 0) != TT_OK)
            break;
        frame_off[nframes++] = pos;
        pos += TT_FRAME_HEADER_SIZE + h.stored_size;
        if (h.type == TT_FRAME_BATCH) {
            records += (int)h.aux;
            batch_end[nbatch_end] = pos;
            batch_records_at[nbatch_end++] = records;
        }
    }
}

/* Opens a damaged copy and checks the promise. Returns the number of records read back intact. */
static int check_copy(const char *path, const char *what, uint64_t where)
{
    tt_reader *r;
    int rc = tt_reader_open(&r, path, NULL);
    if (rc != TT_OK) {
        CHECK(rc < 0);
        CHECK(strstr(tt_reader_errmsg(r), path) != NULL);
        tt_reader_close(r);
        return 0;
    }
    int intact = 0;
    float *buf = malloc(ELEMS * 4);
    for (uint64_t i = 0; i < tt_reader_count(r); i++) {
        tt_record rec;
        rc = tt_reader_record(r, i, &rec);
        if (rc != TT_OK) {
            CHECK(rc < 0 && tt_reader_errmsg(r)[0]);
            continue;
        }
        int id = rec.key.layer;
        if (id < 0 || id >= NREC || strcmp(rec.key.point, "resid") != 0) {
            fprintf(stderr, "%s at %llu: record %llu has a key that was never written\n", what,
                    (unsigned long long)where, (unsigned long long)i);
            tt_test_failures++;
            continue;
        }
        rc = tt_reader_read(r, i, buf, ELEMS * 4);
        if (rc == TT_OK) {
            if (memcmp(buf, orig[id], ELEMS * 4) != 0) {
                fprintf(stderr, "%s at %llu: record %llu returned wrong bytes\n", what, (unsigned long long)where,
                        (unsigned long long)i);
                tt_test_failures++;
            } else {
                intact++;
            }
        } else {
            CHECK(rc < 0);
            CHECK(strstr(tt_reader_errmsg(r), path) != NULL);
        }
    }
    tt_verify_result vr;
    tt_reader_verify(r, &vr, NULL, NULL); /* must not crash on any damage */
    free(buf);
    tt_reader_close(r);
    return intact;
}

int main(void)
{
    char path[256], cpy[256];
    ts_path(path, sizeof path, "orig.tt");
    ts_path(cpy, sizeof cpy, "damaged.tt");
    tt_writer_options o = ts_opts();
    o.batch_records = 3;
    tt_writer *w;
    CHECK_STATUS(tt_writer_open(&w, path, &o), TT_OK);
    tt_writer_set_meta(w, "engine", "corruption-test");
    for (int i = 0; i < NREC; i++) {
        orig[i] = ts_data(TT_F32, ELEMS, (uint64_t)i + 1);
        tt_key k = TT_KEY_INIT;
        k.point = "resid";
        k.layer = i;
        uint64_t shape[2] = {25, 100};
        CHECK_STATUS(tt_put(w, &k, i % 3 ? TT_F32 : TT_F32, 2, shape, orig[i]), TT_OK);
    }
    CHECK_STATUS(tt_writer_close(w), TT_OK);
    tt_writer_free(w);
    size_t len;
    uint8_t *bytes = ts_read_file(path, &len);
    walk_frames(bytes, len);
    CHECK(nframes > NREC);
    CHECK_EQ_INT(check_copy(path, "intact", 0), NREC);

    /* truncation at every frame boundary, one byte either side, and in the middle of every frame */
    for (int f = 0; f < nframes; f++) {
        uint64_t next = f + 1 < nframes ? frame_off[f + 1] : len;
        uint64_t cuts[4] = {frame_off[f], frame_off[f] + 1, frame_off[f] + 30, (frame_off[f] + next) / 2};
        for (int c = 0; c < 4; c++) {
            ts_write_file(cpy, bytes, cuts[c]);
            int intact = check_copy(cpy, "truncated", cuts[c]);
            int expect = 0; /* records of batches wholly before the cut come back */
            for (int b = 0; b < nbatch_end; b++)
                if (batch_end[b] <= cuts[c])
                    expect = batch_records_at[b];
            CHECK_EQ_INT(intact, expect);
        }
    }
    for (uint64_t cut = len - 40; cut < len; cut += 3) { /* inside the trailer: footer lost, everything back */
        ts_write_file(cpy, bytes, cut);
        CHECK_EQ_INT(check_copy(cpy, "truncated", cut), NREC);
    }
    /* short files */
    for (uint64_t cut = 0; cut < 40; cut += 7) {
        ts_write_file(cpy, bytes, cut);
        check_copy(cpy, "short", cut);
    }

    /* byte flips everywhere: each copy has one byte changed */
    uint8_t *flipped = malloc(len);
    int total_intact_min = NREC;
    for (size_t pos = 0; pos < len; pos += (pos < 200 || pos > len - 600) ? 1 : 13) {
        memcpy(flipped, bytes, len);
        flipped[pos] ^= 0x5a;
        ts_write_file(cpy, flipped, len);
        int intact = check_copy(cpy, "flip", pos);
        if (pos >= TT_FILE_HEADER_SIZE && intact < total_intact_min)
            total_intact_min = intact;
    }
    /* one flipped byte costs at most the records of one batch (a damaged batch frame) */
    CHECK(total_intact_min >= NREC - 3);

    /* tt_reader_copy of a file with one damaged payload and one damaged batch: the rest is copied, the damaged
     * records are counted as lost, and the copy verifies clean */
    memcpy(flipped, bytes, len);
    int payload_seen = 0, batch_seen = 0;
    uint64_t damaged_payload = 0, damaged_batch = 0;
    for (int f = 0; f < nframes; f++) {
        tt_frame_header h;
        tt_frame_header_decode(bytes + frame_off[f], &h, NULL, 0);
        if (h.type == TT_FRAME_PAYLOAD && h.seq == 1 && !payload_seen++)
            damaged_payload = frame_off[f] + TT_FRAME_HEADER_SIZE + 5;
        if (h.type == TT_FRAME_BATCH && ++batch_seen == 3)
            damaged_batch = frame_off[f] + TT_FRAME_HEADER_SIZE + 3;
    }
    flipped[damaged_payload] ^= 0x11;
    flipped[damaged_batch] ^= 0x11;
    ts_write_file(cpy, flipped, len);
    char out[256];
    ts_path(out, sizeof out, "copied.tt");
    tt_reader *r;
    CHECK_STATUS(tt_reader_open(&r, cpy, NULL), TT_OK);
    tt_writer_options wo = ts_opts();
    CHECK_STATUS(tt_writer_open(&w, out, &wo), TT_OK);
    uint64_t copied = 0, lost = 0;
    CHECK_STATUS(tt_reader_copy(r, NULL, w, &copied, &lost), TT_OK);
    CHECK_EQ_U64(lost, 1 + 3);   /* record seq 1's payload, and batch 3's three records */
    CHECK_EQ_U64(copied, NREC - 4);
    tt_verify_result vr;
    int problems = 0;
    CHECK_STATUS(tt_reader_verify(r, &vr, NULL, NULL), TT_E_CORRUPT);
    problems = (int)vr.problems;
    CHECK_EQ_INT(problems, 2); /* each damage reported once */
    tt_reader_close(r);
    CHECK_STATUS(tt_writer_close(w), TT_OK);
    tt_writer_free(w);
    CHECK_STATUS(tt_reader_open(&r, out, NULL), TT_OK);
    CHECK_EQ_U64(tt_reader_count(r), NREC - 4);
    CHECK_STATUS(tt_reader_verify(r, &vr, NULL, NULL), TT_OK);
    CHECK_EQ_STR(tt_reader_meta_get(r, "engine"), "corruption-test");
    tt_reader_close(r);
    unlink(out);
    free(flipped);
    free(bytes);
    for (int i = 0; i < NREC; i++)
        free(orig[i]);
    unlink(path);
    unlink(cpy);
    return tt_test_exit();
}
