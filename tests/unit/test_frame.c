/*
 * test_frame.c — the fixed binary parts of the format: file header, frame header, trailer (encode, decode,
 * every single-bit corruption detected), the shuffle filter, and the payload codec (zstd, raw fallback, in
 * place), against the layouts of format/FORMAT.md.
 */
#include <stdlib.h>
#include <string.h>

#include <zstd.h>

#include "frame.h"
#include "tt_test.h"

static void test_file_header(void)
{
    tt_file_header h = {1, 7, 0}, d;
    uint8_t b[TT_FILE_HEADER_SIZE];
    tt_file_header_encode(&h, b);
    CHECK(memcmp(b, "\x89TTRC\r\n\x1a", 8) == 0);
    CHECK_EQ_INT(tt_rd16(b + 8), 1);
    CHECK_EQ_INT(tt_rd16(b + 10), 7);
    CHECK_STATUS(tt_file_header_decode(b, &d, NULL, 0), TT_OK);
    CHECK_EQ_INT(d.minor, 7);
    for (int bit = 0; bit < TT_FILE_HEADER_SIZE * 8; bit++) {
        uint8_t c[TT_FILE_HEADER_SIZE];
        memcpy(c, b, sizeof c);
        c[bit / 8] ^= (uint8_t)(1u << (bit % 8));
        CHECK(tt_file_header_decode(c, &d, NULL, 0) != TT_OK);
    }
    /* a newer major is refused with its own code and says so */
    tt_file_header n = {2, 0, 0};
    char err[256];
    tt_file_header_encode(&n, b);
    CHECK_STATUS(tt_file_header_decode(b, &d, err, sizeof err), TT_E_VERSION);
    CHECK(strstr(err, "2.0") != NULL);
    memcpy(b, "GARBAGE!", 8);
    CHECK_STATUS(tt_file_header_decode(b, &d, NULL, 0), TT_E_NOTTRACE);
}

static void test_frame_header(void)
{
    tt_frame_header h = {TT_FRAME_PAYLOAD, TT_CODEC_ZSTD, TT_FILTER_SHUFFLE, 2, 5, 123456789, 1000, 4096, 0xabcdef};
    tt_frame_header d;
    uint8_t b[TT_FRAME_HEADER_SIZE];
    tt_frame_header_encode(&h, b);
    CHECK_EQ_U64(tt_rd32(b), TT_FRAME_MAGIC);
    CHECK(memcmp(b, "TTFR", 4) == 0);
    CHECK_STATUS(tt_frame_header_decode(b, &d, NULL, 0), TT_OK);
    CHECK_EQ_INT(d.type, TT_FRAME_PAYLOAD);
    CHECK_EQ_INT(d.elem_size, 2);
    CHECK_EQ_INT(d.aux, 5);
    CHECK_EQ_U64(d.seq, 123456789);
    CHECK_EQ_U64(d.stored_size, 1000);
    CHECK_EQ_U64(d.raw_size, 4096);
    CHECK_EQ_U64(d.payload_hash, 0xabcdef);
    for (int bit = 0; bit < TT_FRAME_HEADER_SIZE * 8; bit++) {
        uint8_t c[TT_FRAME_HEADER_SIZE];
        memcpy(c, b, sizeof c);
        c[bit / 8] ^= (uint8_t)(1u << (bit % 8));
        CHECK(tt_frame_header_decode(c, &d, NULL, 0) != TT_OK);
    }
    /* hostile sizes are refused even with a valid checksum */
    char err[256];
    h.raw_size = (uint64_t)1 << 40; /* "a frame claiming 1 TB" */
    tt_frame_header_encode(&h, b);
    CHECK_STATUS(tt_frame_header_decode(b, &d, err, sizeof err), TT_E_LIMIT);
    CHECK(strstr(err, "PAYLOAD") != NULL);
    h.raw_size = 100;
    h.codec = TT_CODEC_RAW;
    h.stored_size = 200; /* a raw frame cannot store more than its raw size */
    tt_frame_header_encode(&h, b);
    CHECK_STATUS(tt_frame_header_decode(b, &d, NULL, 0), TT_E_CORRUPT);
    h.stored_size = 100;
    h.filter = TT_FILTER_NONE; /* elem_size 2 without shuffle is inconsistent */
    tt_frame_header_encode(&h, b);
    CHECK_STATUS(tt_frame_header_decode(b, &d, NULL, 0), TT_E_CORRUPT);
    h.elem_size = 0;
    h.codec = 9;
    tt_frame_header_encode(&h, b);
    CHECK_STATUS(tt_frame_header_decode(b, &d, NULL, 0), TT_E_CORRUPT);
}

static void test_trailer(void)
{
    tt_trailer t = {1234, 567}, d;
    uint8_t b[TT_TRAILER_SIZE];
    tt_trailer_encode(&t, b);
    CHECK(memcmp(b + 24, "TTRCEND\n", 8) == 0);
    CHECK_STATUS(tt_trailer_decode(b, &d, NULL, 0), TT_OK);
    CHECK_EQ_U64(d.footer_offset, 1234);
    CHECK_EQ_U64(d.footer_size, 567);
    b[3] ^= 1;
    CHECK_STATUS(tt_trailer_decode(b, &d, NULL, 0), TT_E_CORRUPT);
    memset(b, 0, sizeof b);
    CHECK_STATUS(tt_trailer_decode(b, &d, NULL, 0), TT_E_NOTFOUND);
}

static void test_shuffle(void)
{
    /* sizes with and without whole 16-element blocks (the SIMD path) and with a tail */
    const size_t sizes[] = {0, 1, 103, 256, 1000, 4099, 65536 + 7};
    for (size_t z = 0; z < sizeof sizes / sizeof sizes[0]; z++) {
        size_t n = sizes[z];
        uint8_t *src = malloc(n + 1), *sh = malloc(n + 1), *back = malloc(n + 1);
        uint64_t x = 0x9e3779b97f4a7c15ull + n;
        for (size_t i = 0; i < n; i++) {
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            src[i] = (uint8_t)x;
        }
        for (size_t es = 1; es <= 16; es++) {
            tt_shuffle_bytes(src, sh, n, es);
            tt_unshuffle_bytes(sh, back, n, es);
            CHECK(memcmp(src, back, n) == 0);
            if (es < 2)
                continue;
            size_t c = n / es, bad = 0;
            /* byte j of element i lands at j*c + i (FORMAT.md section 3); the tail stays in place */
            for (size_t i = 0; i < c; i++)
                for (size_t j = 0; j < es; j++)
                    bad += sh[j * c + i] != src[i * es + j];
            for (size_t k = c * es; k < n; k++)
                bad += sh[k] != src[k];
            if (bad)
                fprintf(stderr, "shuffle n=%zu es=%zu: %zu bytes misplaced\n", n, es, bad);
            CHECK(bad == 0);
        }
        free(src), free(sh), free(back);
    }
}

static void test_payload(void)
{
    size_t n = 1 << 16;
    uint8_t *src = malloc(n), *orig = malloc(n), *scratch = malloc(n), *out = malloc(n), *sc2 = malloc(n);
    ZSTD_CCtx *z = ZSTD_createCCtx();
    ZSTD_CCtx_setParameter(z, ZSTD_c_compressionLevel, 1);
    /* compressible bf16-like data: the high bytes repeat */
    for (size_t i = 0; i < n; i += 2) {
        src[i] = (uint8_t)(i * 2654435761u >> 13);
        src[i + 1] = (uint8_t)(0x3c + (i % 3));
    }
    memcpy(orig, src, n);
    tt_frame_header h = {0};
    char err[256];
    /* in place: dst == src */
    CHECK_STATUS(tt_payload_encode(src, n, 2, z, scratch, src, n, &h, err, sizeof err), TT_OK);
    CHECK_EQ_INT(h.codec, TT_CODEC_ZSTD);
    CHECK_EQ_INT(h.filter, TT_FILTER_SHUFFLE);
    CHECK(h.stored_size < n);
    CHECK_EQ_U64(h.payload_hash, tt_hash64(src, h.stored_size));
    /* the stored bytes are a plain zstd frame of the shuffled data */
    CHECK_EQ_U64(ZSTD_getFrameContentSize(src, h.stored_size), n);
    CHECK_STATUS(tt_payload_decode(&h, src, out, sc2, NULL, err, sizeof err), TT_OK);
    CHECK(memcmp(out, orig, n) == 0);
    /* incompressible data is stored raw, still shuffled, and decodes */
    uint64_t x = 88172645463325252ull;
    for (size_t i = 0; i < n; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        src[i] = orig[i] = (uint8_t)x;
    }
    CHECK_STATUS(tt_payload_encode(src, n, 4, z, scratch, src, n, &h, err, sizeof err), TT_OK);
    CHECK_EQ_INT(h.codec, TT_CODEC_RAW);
    CHECK_EQ_U64(h.stored_size, n);
    CHECK_STATUS(tt_payload_decode(&h, src, out, sc2, NULL, err, sizeof err), TT_OK);
    CHECK(memcmp(out, orig, n) == 0);
    /* no shuffle, separate dst */
    CHECK_STATUS(tt_payload_encode(orig, n, 0, z, scratch, out, n, &h, err, sizeof err), TT_OK);
    CHECK_EQ_INT(h.filter, TT_FILTER_NONE);
    memcpy(src, out, h.stored_size);
    CHECK_STATUS(tt_payload_decode(&h, src, out, NULL, NULL, err, sizeof err), TT_OK);
    CHECK(memcmp(out, orig, n) == 0);
    /* a frame that claims more raw bytes than its zstd frame holds is refused */
    CHECK_STATUS(tt_payload_encode(orig, n / 2, 0, NULL, scratch, src, n, &h, err, sizeof err), TT_OK);
    CHECK_EQ_INT(h.codec, TT_CODEC_RAW);
    for (size_t i = 0; i < n; i++)
        src[i] = (uint8_t)(i / 64);
    CHECK_STATUS(tt_payload_encode(src, n, 0, z, scratch, out, n, &h, err, sizeof err), TT_OK);
    CHECK_EQ_INT(h.codec, TT_CODEC_ZSTD);
    h.raw_size = n * 2;
    uint8_t *big = malloc(n * 2);
    CHECK_STATUS(tt_payload_decode(&h, out, big, NULL, NULL, err, sizeof err), TT_E_CORRUPT);
    h.raw_size = n / 2;
    CHECK_STATUS(tt_payload_decode(&h, out, big, NULL, NULL, err, sizeof err), TT_E_CORRUPT);
    free(big);
    ZSTD_freeCCtx(z);
    free(src), free(orig), free(scratch), free(out), free(sc2);
}

int main(void)
{
    test_file_header();
    test_frame_header();
    test_trailer();
    test_shuffle();
    test_payload();
    return tt_test_exit();
}
