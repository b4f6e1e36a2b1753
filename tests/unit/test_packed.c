/*
 * test_packed.c — small records packed into shared PACK frames (format 1.1): a round trip of small and large
 * records mixed (contents, hashes, statistics, rows, verify), what a reader of format 1.0 finds in the BATCH
 * frame (flags bit 0 clear, bit 3 set, no payload frames), recovery of a file cut before its footer and inside a
 * PACK frame, a damaged PACK frame (only its records fail, with a message naming record and frame, by footer and
 * by scan), and tt_reader_copy() of packed records.
 */
#define _POSIX_C_SOURCE 200809L
#include "frame.h"
#include "schema.h"
#include "test_support.h"
#include "tt_test.h"

#define NREC 300
#define BIG_ELEMS 6000 /* [1, 6000] bf16 is 12000 bytes: above what is packed with 4 KiB chunks (1 KiB) */

/* The tensor of record k: small ones packed, every 7th one large (own PAYLOAD frames), every 50th empty. */
typedef struct spec {
    tt_dtype dt;
    uint64_t shape[2];
    int ndim;
    size_t nbytes;
    void *data;
} spec;

static spec specs[NREC];

static void make_specs(void)
{
    for (int k = 0; k < NREC; k++) {
        spec *s = &specs[k];
        s->dt = k % 3 == 0 ? TT_F32 : TT_BF16;
        s->ndim = 2;
        s->shape[0] = k % 5 == 0 ? 4 : 1;
        s->shape[1] = k % 7 == 3 ? BIG_ELEMS : 16 + (uint64_t)(k % 11) * 8;
        if (k % 50 == 49)
            s->shape[0] = 0;
        size_t n = (size_t)(s->shape[0] * s->shape[1]);
        s->nbytes = n * tt_dtype_size(s->dt);
        s->data = ts_data(s->dt, n ? n : 1, 1000 + (uint64_t)k);
    }
}

static int is_packed_spec(const spec *s) { return s->nbytes > 0 && s->nbytes <= 1024; }

/* Writes the records; flush_every > 0 flushes (writes a batch) after that many puts. */
static void write_trace(const char *path, uint32_t batch_records, int flush_every)
{
    tt_writer_options o = ts_opts(); /* 4 KiB chunks: packs of 4 KiB, records up to 1 KiB packed */
    o.threads = 2;
    o.batch_records = batch_records;
    o.flush_ms = 3600000;
    o.overwrite = 1;
    tt_writer *w;
    CHECK_EQ_INT(tt_writer_open(&w, path, &o), TT_OK);
    for (int k = 0; k < NREC; k++) {
        tt_key key = TT_KEY_INIT;
        key.point = k % 2 ? "resid" : "attn_out";
        key.layer = k;
        key.step = k / 10;
        if (k == 100) { /* a metadata-only record goes into a pack too */
            tt_record rec;
            memset(&rec, 0, sizeof rec);
            rec.key = key;
            rec.dtype = TT_BF16;
            rec.ndim = 1;
            rec.shape[0] = 8;
            rec.flags = TT_REC_HAS_HASH;
            rec.hash = 0x1234;
            CHECK_EQ_INT(tt_put_record(w, &rec, NULL), TT_OK);
            continue;
        }
        CHECK_EQ_INT(tt_put(w, &key, specs[k].dt, specs[k].ndim, specs[k].shape, specs[k].data), TT_OK);
        if (flush_every && k % flush_every == flush_every - 1)
            CHECK_EQ_INT(tt_writer_flush(w), TT_OK);
    }
    CHECK_EQ_INT(tt_writer_close(w), TT_OK);
    tt_writer_free(w);
}

/* Checks every record of an open reader against the specs; returns the number read back intact. */
static int check_all(tt_reader *r, int expect_all)
{
    int intact = 0;
    uint8_t *buf = malloc(BIG_ELEMS * 4 * 4);
    for (uint64_t i = 0; i < tt_reader_count(r); i++) {
        tt_record rec;
        CHECK_EQ_INT(tt_reader_record(r, i, &rec), TT_OK);
        int k = rec.key.layer;
        CHECK(k >= 0 && k < NREC);
        if (k < 0 || k >= NREC)
            continue;
        if (k == 100) {
            CHECK_EQ_INT(rec.flags & (TT_REC_HAS_PAYLOAD | TT_REC_PACKED), 0);
            CHECK_EQ_U64(rec.hash, 0x1234);
            CHECK_EQ_INT(tt_reader_read(r, i, buf, 64), TT_E_NOPAYLOAD);
            intact++;
            continue;
        }
        const spec *s = &specs[k];
        CHECK(rec.flags & TT_REC_HAS_PAYLOAD);
        CHECK_EQ_INT((rec.flags & TT_REC_PACKED) != 0, is_packed_spec(s));
        CHECK_EQ_U64(rec.nbytes, s->nbytes);
        if (is_packed_spec(s))
            CHECK_EQ_INT(rec.payload_frames, 1);
        int rc = tt_reader_read(r, i, buf, BIG_ELEMS * 4 * 4);
        if (rc == TT_OK) {
            CHECK(memcmp(buf, s->data, s->nbytes) == 0);
            intact += memcmp(buf, s->data, s->nbytes) == 0;
        } else if (expect_all) {
            fprintf(stderr, "record %llu: %s\n", (unsigned long long)i, tt_reader_errmsg(r));
            CHECK(rc == TT_OK);
        }
    }
    free(buf);
    return intact;
}

static void test_round_trip(const char *path)
{
    write_trace(path, 64, 0);
    tt_reader *r;
    CHECK_EQ_INT(tt_reader_open(&r, path, NULL), TT_OK);
    tt_file_info in;
    CHECK_EQ_INT(tt_reader_info(r, &in), TT_OK);
    CHECK_EQ_INT(in.format_major, 1);
    CHECK_EQ_INT(in.format_minor, 1);
    CHECK(in.footer_intact);
    CHECK_EQ_U64(tt_reader_count(r), NREC);
    CHECK_EQ_INT(check_all(r, 1), NREC);
    /* statistics and hash of a packed record are those of its tensor alone */
    tt_record rec;
    CHECK_EQ_INT(tt_reader_record(r, 20, &rec), TT_OK);
    CHECK(rec.flags & TT_REC_PACKED);
    CHECK_EQ_U64(rec.hash, tt_hash(specs[20].data, specs[20].nbytes));
    tt_stats st;
    tt_stats_compute(specs[20].dt, specs[20].data, specs[20].nbytes / tt_dtype_size(specs[20].dt), &st);
    CHECK(rec.flags & TT_REC_HAS_STATS);
    CHECK_NEAR(rec.stats.mean, st.mean, 0);
    CHECK_NEAR(rec.stats.max, st.max, 0);
    /* rows of a packed record: record 20 is [4, 88] bf16 */
    CHECK_EQ_U64(rec.shape[0], 4);
    size_t row = (size_t)(rec.nbytes / 4);
    uint8_t rows[1024];
    CHECK_EQ_INT(tt_reader_read_rows(r, 20, 1, 2, rows, sizeof rows), TT_OK);
    CHECK(memcmp(rows, (uint8_t *)specs[20].data + row, 2 * row) == 0);
    tt_verify_result vr;
    CHECK_EQ_INT(tt_reader_verify(r, &vr, NULL, NULL), TT_OK);
    CHECK_EQ_U64(vr.problems, 0);
    tt_reader_close(r);

    /* What a reader of format 1.0 sees: in the BATCH frames, packed records have flags bit 0 clear (metadata
     * only to it) and no payload frames; the PACK frames are a type it skips. */
    size_t len;
    uint8_t *p = ts_read_file(path, &len);
    uint64_t pos = TT_FILE_HEADER_SIZE;
    int packs = 0, packed_records = 0;
    while (p && pos + TT_FRAME_HEADER_SIZE <= len) {
        tt_frame_header h;
        if (tt_frame_header_decode(p + pos, &h, NULL, 0) != TT_OK)
            break;
        packs += h.type == TT_FRAME_PACK;
        if (h.type == TT_FRAME_BATCH) {
            uint8_t *raw = malloc((size_t)h.raw_size + 1);
            CHECK_EQ_INT(tt_payload_decode(&h, p + pos + TT_FRAME_HEADER_SIZE, raw, NULL, NULL, NULL, 0), TT_OK);
            tt_batch_view v;
            CHECK_EQ_INT(tt_fb_decode_batch(raw, (size_t)h.raw_size, &v, NULL, 0), TT_OK);
            for (uint32_t i = 0; i < v.n; i++) {
                if (!(v.flags[i] & TT_REC_PACKED))
                    continue;
                packed_records++;
                CHECK_EQ_INT(v.flags[i] & TT_REC_HAS_PAYLOAD, 0);
                CHECK_EQ_U64(v.payload_frames[i], 0);
                CHECK_EQ_U64(v.payload_offset[i], 0);
                CHECK(v.pack_offset[i] >= TT_FILE_HEADER_SIZE && v.pack_offset[i] < pos);
            }
            free(raw);
        }
        pos += TT_FRAME_HEADER_SIZE + h.stored_size;
    }
    int expect_packed = 0;
    for (int k = 0; k < NREC; k++)
        expect_packed += k != 100 && is_packed_spec(&specs[k]);
    CHECK_EQ_INT(packed_records, expect_packed);
    CHECK(packs > 0 && packs < expect_packed / 4);
    free(p);
}

/* Offsets of the frames of a type, by walking the intact file. */
static int frames_of(const uint8_t *p, size_t len, uint8_t type, uint64_t *off, int max)
{
    uint64_t pos = TT_FILE_HEADER_SIZE;
    int n = 0;
    while (pos + TT_FRAME_HEADER_SIZE <= len) {
        tt_frame_header h;
        if (tt_frame_header_decode(p + pos, &h, NULL, 0) != TT_OK)
            break;
        if (h.type == type && n < max)
            off[n++] = pos;
        pos += TT_FRAME_HEADER_SIZE + h.stored_size;
    }
    return n;
}

static void test_recovery(const char *path, const char *cut)
{
    /* batches of 16 records and a flush every 40 puts: packs and batches end at different records, so some packs
     * hold records of two batches */
    write_trace(path, 16, 40);
    size_t len;
    uint8_t *p = ts_read_file(path, &len);
    uint64_t packs[256], batches[256];
    int np = frames_of(p, len, TT_FRAME_PACK, packs, 256), nb = frames_of(p, len, TT_FRAME_BATCH, batches, 256);
    CHECK(np > 3 && nb > 3);

    /* cut just before the footer: every record recovered by scanning */
    tt_reader *r;
    uint64_t footer_at = len;
    uint64_t f[1];
    if (frames_of(p, len, TT_FRAME_FOOTER, f, 1) == 1)
        footer_at = f[0];
    CHECK_EQ_INT(ts_write_file(cut, p, (size_t)footer_at), 0);
    CHECK_EQ_INT(tt_reader_open(&r, cut, NULL), TT_OK);
    tt_file_info in;
    tt_reader_info(r, &in);
    CHECK(!in.footer_intact);
    CHECK_EQ_U64(tt_reader_count(r), NREC);
    CHECK_EQ_INT(check_all(r, 1), NREC);
    tt_reader_close(r);

    /* cut inside the last PACK frame: the records of the batches written before it read back whole, nothing
     * after the cut is returned */
    uint64_t at = packs[np - 1] + TT_FRAME_HEADER_SIZE + 3;
    uint64_t records_before = 0;
    for (int b = 0; b < nb && batches[b] < at; b++) {
        tt_frame_header h;
        tt_frame_header_decode(p + batches[b], &h, NULL, 0);
        records_before += h.aux;
    }
    CHECK_EQ_INT(ts_write_file(cut, p, (size_t)at), 0);
    CHECK_EQ_INT(tt_reader_open(&r, cut, NULL), TT_OK);
    CHECK_EQ_U64(tt_reader_count(r), records_before);
    CHECK_EQ_INT(check_all(r, 1), (int)records_before);
    tt_reader_close(r);
    free(p);
}

/* A byte of a PACK frame's payload flipped: only that pack's records fail, with a message naming the record and
 * the frame; recovered by scan the same. The PACK frame's header damaged: its records are lost when scanning. */
static void test_damaged_pack(const char *path, const char *bad)
{
    write_trace(path, 64, 0);
    size_t len;
    uint8_t *p = ts_read_file(path, &len);
    uint64_t packs[256];
    int np = frames_of(p, len, TT_FRAME_PACK, packs, 256);
    CHECK(np > 3);
    uint64_t victim = packs[np / 2];
    tt_frame_header vh;
    CHECK_EQ_INT(tt_frame_header_decode(p + victim, &vh, NULL, 0), TT_OK);

    for (int mode = 0; mode < 2; mode++) {
        uint8_t *q = malloc(len);
        memcpy(q, p, len);
        q[victim + TT_FRAME_HEADER_SIZE + vh.stored_size / 2] ^= 0x20;
        CHECK_EQ_INT(ts_write_file(bad, q, len), 0);
        tt_reader_options ro = TT_READER_OPTIONS_INIT;
        ro.recovery = mode ? TT_RECOVER_ALWAYS : TT_RECOVER_NEVER;
        tt_reader *r;
        CHECK_EQ_INT(tt_reader_open(&r, bad, &ro), TT_OK);
        CHECK_EQ_U64(tt_reader_count(r), NREC);
        int failed = 0, ok = 0;
        uint8_t *buf = malloc(BIG_ELEMS * 4 * 4);
        for (uint64_t i = 0; i < NREC; i++) {
            tt_record rec;
            CHECK_EQ_INT(tt_reader_record(r, i, &rec), TT_OK);
            if (!(rec.flags & TT_REC_HAS_PAYLOAD))
                continue;
            int rc = tt_reader_read(r, i, buf, BIG_ELEMS * 4 * 4);
            if (rc == TT_OK) {
                CHECK(memcmp(buf, specs[rec.key.layer].data, (size_t)rec.nbytes) == 0);
                ok++;
                continue;
            }
            failed++;
            CHECK_EQ_INT(rc, TT_E_CORRUPT);
            CHECK(rec.flags & TT_REC_PACKED);
            CHECK(strstr(tt_reader_errmsg(r), "PACK frame at offset") != NULL);
            CHECK(strstr(tt_reader_errmsg(r), "checksum") != NULL);
            char want[64];
            snprintf(want, sizeof want, "record %llu ", (unsigned long long)i);
            CHECK(strstr(tt_reader_errmsg(r), want) != NULL);
        }
        CHECK_EQ_INT(failed, (int)vh.aux);
        CHECK(ok > NREC / 2);
        tt_verify_result vr;
        CHECK_EQ_INT(tt_reader_verify(r, &vr, NULL, NULL), TT_E_CORRUPT);
        CHECK_EQ_U64(vr.problems, vh.aux);
        free(buf);
        tt_reader_close(r);

        /* the header instead: by scan, the frame is not found and its records are lost */
        memcpy(q, p, len);
        q[victim + 20] ^= 1;
        CHECK_EQ_INT(ts_write_file(bad, q, len), 0);
        CHECK_EQ_INT(tt_reader_open(&r, bad, &ro), TT_OK);
        tt_file_info in;
        tt_reader_info(r, &in);
        if (mode) {
            CHECK_EQ_U64(in.lost_records, vh.aux);
            CHECK_EQ_U64(in.damaged_frames, 1);
        }
        int lost = 0;
        for (uint64_t i = 0; i < tt_reader_count(r); i++) {
            tt_record rec;
            CHECK_EQ_INT(tt_reader_record(r, i, &rec), TT_OK);
            lost += (rec.flags & TT_REC_LOST) != 0;
            if (rec.flags & TT_REC_LOST)
                CHECK(tt_reader_read(r, i, q, len) == TT_E_CORRUPT);
        }
        if (mode)
            CHECK_EQ_INT(lost, (int)vh.aux);
        tt_reader_close(r);
        free(q);
    }
    free(p);
}

static void test_copy(const char *path, const char *copy)
{
    write_trace(path, 64, 0);
    tt_reader *r;
    CHECK_EQ_INT(tt_reader_open(&r, path, NULL), TT_OK);
    tt_writer_options o = ts_opts();
    tt_writer *w;
    CHECK_EQ_INT(tt_writer_open(&w, copy, &o), TT_OK);
    uint64_t copied = 0, lost = 0;
    CHECK_EQ_INT(tt_reader_copy(r, NULL, w, &copied, &lost), TT_OK);
    CHECK_EQ_INT(tt_writer_close(w), TT_OK);
    tt_writer_free(w);
    CHECK_EQ_U64(copied, NREC);
    CHECK_EQ_U64(lost, 0);
    tt_reader_close(r);
    CHECK_EQ_INT(tt_reader_open(&r, copy, NULL), TT_OK);
    CHECK_EQ_U64(tt_reader_count(r), NREC);
    CHECK_EQ_INT(check_all(r, 1), NREC);
    tt_record a;
    CHECK_EQ_INT(tt_reader_record(r, 100, &a), TT_OK);
    CHECK_EQ_U64(a.hash, 0x1234); /* the metadata-only record keeps its given hash */
    tt_reader_close(r);
}

int main(void)
{
    char path[512], other[512];
    ts_path(path, sizeof path, "packed.tt");
    ts_path(other, sizeof other, "packed_other.tt");
    make_specs();
    test_round_trip(path);
    test_recovery(path, other);
    test_damaged_pack(path, other);
    unlink(other);
    test_copy(path, other);
    unlink(path);
    unlink(other);
    for (int k = 0; k < NREC; k++)
        free(specs[k].data);
    return tt_test_exit();
}
