/*
 * test_float_filter.c — the FLOAT payload filter (format/floatsplit.c, FORMAT.md section 3): round trips for every
 * dtype it applies to (bf16, f16, f32, the four fp8 types) in every shape (exponent + two mantissa bits, the fast
 * exponent-only one, and form 1's exponent window for bf16), with NaN, infinities, denormals and negative zero,
 * odd byte counts with trailing bytes, the row-delta model, in place; a form 1 payload built by hand from
 * FORMAT.md's rules decoded, and damaged; damaged payloads refused with a message naming the stream or field; frame
 * headers with an unknown filter refused; and a file whose payload frame names an unknown filter read as an
 * error for that record, through the public reader.
 */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <zstd.h>

#include "frame.h"
#include "test_support.h"
#include "tt_test.h"

static const tt_dtype float_types[] = {TT_BF16, TT_F16, TT_F32, TT_F8_E4M3, TT_F8_E5M2, TT_F8_E4M3FNUZ,
                                       TT_F8_E5M2FNUZ};
#define NTYPES (sizeof float_types / sizeof float_types[0])

/* Activation-like values with special ones sprinkled in: NaN, +-Inf, denormals, -0, the largest values. */
static uint8_t *make_data(tt_dtype dt, size_t nbytes, size_t cols, uint64_t seed)
{
    size_t es = tt_dtype_size(dt), n = nbytes / es + 1;
    float *f = malloc(n * sizeof *f);
    uint8_t *p = malloc(n * es + 8);
    for (size_t i = 0; i < n; i++) {
        uint64_t r = ts_rand(&seed);
        double z = ((double)(r % 20001) - 10000.0) / 5000.0;
        /* each column keeps its scale across rows, scales spread over 2^-10..2^9: the row model's case */
        double scale = ldexp(1.0, (int)((i % cols) * 7 % 20) - 10);
        f[i] = (float)(scale * (1.0 + 0.05 * z));
        switch (i % 211) {
        case 3: f[i] = NAN; break;
        case 7: f[i] = INFINITY; break;
        case 11: f[i] = -INFINITY; break;
        case 13: f[i] = 1e-41f; break; /* an f32 denormal; the narrow types round it to 0 or their own */
        case 17: f[i] = -0.0f; break;
        case 19: f[i] = 3e38f; break;
        case 23: f[i] = 6e-8f; break;  /* an f16 denormal */
        default: break;
        }
    }
    tt_from_f32(dt, f, n, p);
    free(f);
    for (size_t i = n * es; i < n * es + 8; i++)
        p[i] = (uint8_t)(0xa5 ^ i);
    /* the bytes past the whole elements (odd sizes) are arbitrary */
    for (size_t i = (nbytes / es) * es; i < nbytes; i++)
        p[i] = (uint8_t)(0x5a + i);
    return p;
}

static int roundtrip(tt_dtype dt, size_t n, uint64_t row_elems, unsigned kind, ZSTD_CCtx *z, int in_place,
                     tt_frame_header *h, uint8_t *model)
{
    uint8_t *src = make_data(dt, n, row_elems ? row_elems : 64, n * 31 + (uint64_t)dt);
    /* a separate destination gets room for zstd's worst case: the only way a single-stream (fp8) payload is
     * coded, since ZSTD_compressSequences is never given less (floatsplit.c) */
    uint8_t *orig = malloc(n + 1), *scratch = malloc(n + 1), *dst = malloc(n + 1024), *back = malloc(n + 1);
    memcpy(orig, src, n);
    char err[256] = "";
    uint8_t *out = in_place ? src : dst;
    int rc = tt_payload_encode_float(src, n, dt, row_elems, kind, z, scratch, out, in_place ? n : n + 1024, h, err,
                                     sizeof err);
    int ok = rc == TT_OK && h->raw_size == n && h->stored_size <= n;
    if (ok && h->filter == TT_FILTER_FLOAT) {
        ok = h->codec == TT_CODEC_ZSTD && h->elem_size == tt_dtype_size(dt) && h->stored_size < n;
        *model = out[0];
    } else if (ok) {
        ok = h->filter == TT_FILTER_NONE && h->codec == TT_CODEC_RAW && memcmp(out, orig, n) == 0;
    }
    ok = ok && h->payload_hash == tt_hash64(out, (size_t)h->stored_size);
    /* the frame header a writer would make decodes, and the payload decodes to the original bytes */
    tt_frame_header fh = *h, dh;
    fh.type = TT_FRAME_PAYLOAD;
    uint8_t hb[TT_FRAME_HEADER_SIZE];
    tt_frame_header_encode(&fh, hb);
    ok = ok && tt_frame_header_decode(hb, &dh, err, sizeof err) == TT_OK;
    memset(back, 0xee, n);
    ok = ok && tt_payload_decode(&dh, out, back, scratch, NULL, err, sizeof err) == TT_OK && memcmp(back, orig, n) == 0;
    if (!ok)
        fprintf(stderr, "round trip failed: dtype %s, %zu bytes, row %llu, kind %u, in place %d: %s\n",
                tt_dtype_name(dt), n, (unsigned long long)row_elems, kind, in_place, err);
    free(src), free(orig), free(scratch), free(dst), free(back);
    return ok;
}

static const unsigned kinds[4] = {TT_FLOAT_WIDE, TT_FLOAT_FAST, TT_FLOAT_WIDE | TT_FLOAT_WINDOW,
                                  TT_FLOAT_FAST | TT_FLOAT_WINDOW};

static void test_roundtrips(ZSTD_CCtx *z)
{
    static const size_t sizes[] = {1, 2, 3, 5, 17, 255, 4096, 4099, 65536 + 3, 262144, 1000003};
    int floats = 0, rows = 0;
    for (size_t t = 0; t < NTYPES; t++)
        for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++)
            for (int kk = 0; kk < 4; kk++) {
                unsigned fast = kinds[kk];
                tt_frame_header h;
                uint8_t model = 0;
                size_t n = sizes[k];
                int in_place = k % 2 && tt_dtype_size(float_types[t]) > 1;
                CHECK(roundtrip(float_types[t], n, 0, fast, z, in_place, &h, &model));
                floats += h.filter == TT_FILTER_FLOAT;
                /* with the row width known and columns of steady scale the row model is taken on big chunks */
                CHECK(roundtrip(float_types[t], n, 512, fast, z, !in_place && tt_dtype_size(float_types[t]) > 1, &h,
                                &model));
                rows += h.filter == TT_FILTER_FLOAT && model == 1;
            }
    /* the larger chunks compress: the filter is really used, not always the raw fallback */
    CHECK(floats >= (int)NTYPES * 4 * 4);
    CHECK(rows > 0);
}

/* Every exponent, every sign, many mantissas of 16-bit types (all 65,536 values), shuffled by a permutation. */
static void test_every_value(ZSTD_CCtx *z)
{
    size_t n = 65536 * 2;
    uint8_t *src = malloc(n), *orig = malloc(n), *scratch = malloc(n), *back = malloc(n);
    for (uint32_t i = 0; i < 65536; i++)
        tt_le16(src + 2 * i, (uint16_t)(i * 40503u)); /* odd multiplier: a permutation of 0..65535 */
    memcpy(orig, src, n);
    const tt_dtype two[2] = {TT_BF16, TT_F16};
    for (int t = 0; t < 2; t++)
        for (int kk = 0; kk < 4; kk++) {
            tt_frame_header h;
            char err[256] = "";
            memcpy(src, orig, n);
            CHECK_STATUS(tt_payload_encode_float(src, n, two[t], 256, kinds[kk], z, scratch, src, n, &h, err,
                                                 sizeof err), TT_OK);
            CHECK_STATUS(tt_payload_decode(&h, src, back, scratch, NULL, err, sizeof err), TT_OK);
            CHECK(memcmp(back, orig, n) == 0);
        }
    free(src), free(orig), free(scratch), free(back);
}

/* A valid FLOAT payload of f32 (four streams) to damage. */
static uint8_t *good_payload(ZSTD_CCtx *z, tt_frame_header *h, uint8_t **orig, size_t n)
{
    uint8_t *src = make_data(TT_F32, n, 64, 7), *scratch = malloc(n);
    *orig = malloc(n);
    memcpy(*orig, src, n);
    char err[256];
    CHECK_STATUS(tt_payload_encode_float(src, n, TT_F32, 0, TT_FLOAT_WIDE, z, scratch, src, n, h, err, sizeof err),
                 TT_OK);
    CHECK_EQ_INT(h->filter, TT_FILTER_FLOAT);
    free(scratch);
    return src;
}

static void expect_damaged(const tt_frame_header *h, const uint8_t *stored, const char *what)
{
    size_t n = (size_t)h->raw_size;
    uint8_t *scratch = malloc(n), *back = malloc(n);
    char err[256] = "";
    int rc = tt_payload_decode(h, stored, back, scratch, NULL, err, sizeof err);
    if (rc != TT_E_CORRUPT || !strstr(err, what))
        fprintf(stderr, "damaged payload: expected an error naming \"%s\", got %d \"%s\"\n", what, rc, err);
    CHECK_STATUS(rc, TT_E_CORRUPT);
    CHECK(strstr(err, what) != NULL);
    free(scratch), free(back);
}

static void test_damaged(ZSTD_CCtx *z)
{
    size_t n = 65536 + 3;
    tt_frame_header h;
    uint8_t *orig;
    uint8_t *p = good_payload(z, &h, &orig, n);
    size_t ns = (size_t)h.stored_size;
    uint8_t *d = malloc(ns + 64);
    size_t c = n / 4;

#define DAMAGE(stmt, what)                                                                                    \
    do {                                                                                                      \
        tt_frame_header hh = h;                                                                               \
        memcpy(d, p, ns);                                                                                     \
        stmt;                                                                                                 \
        expect_damaged(&hh, d, what);                                                                         \
    } while (0)

    DAMAGE(d[0] = 2, "unknown symbol model 2");
    DAMAGE((d[0] = 1, tt_le32(d + 8, 0)), "row width 0");
    DAMAGE(d[1] = 24, "shift 24");
    DAMAGE(tt_le32(d + 4, 0x80000000u), "base");
    DAMAGE(tt_le32(d + 12, (uint32_t)c + 1), "stream 0 stores");
    DAMAGE(tt_le32(d + 12, tt_rd32(p + 12) - 1), "add up to");
    DAMAGE(hh.stored_size = 11, "below its 28-byte header");
    /* the symbol stream's zstd frame cut by one byte, the lengths kept consistent: zstd says what is wrong */
    DAMAGE((tt_le32(d + 12, tt_rd32(p + 12) - 1), memmove(d + 28 + tt_rd32(p + 12) - 1, p + 28 + tt_rd32(p + 12),
                                                          ns - 28 - tt_rd32(p + 12)),
            hh.stored_size = ns - 1),
           "stream 0");
    /* the symbol stream's frame claims another content size */
    DAMAGE(d[28 + 4] ^= 0x40, "stream 0");
#undef DAMAGE
    /* intact, it still decodes */
    uint8_t *scratch = malloc(n), *back = malloc(n);
    CHECK_STATUS(tt_payload_decode(&h, p, back, scratch, NULL, NULL, 0), TT_OK);
    CHECK(memcmp(back, orig, n) == 0);
    /* a FLOAT frame without scratch is refused, not dereferenced */
    CHECK_STATUS(tt_payload_decode(&h, p, back, NULL, NULL, NULL, 0), TT_E_INVAL);
    free(scratch), free(back), free(d), free(p), free(orig);
}

/* bf16 bits of one scale (a window of 15 exponents holds nearly all) with escapes: zeros, NaN, +-Inf, outliers. */
static uint8_t *narrow_bf16(size_t c, uint64_t seed)
{
    uint8_t *p = malloc(2 * c + 1);
    for (size_t i = 0; i < c; i++) {
        uint64_t r = ts_rand(&seed);
        float f = ((float)(r % 20001) - 10000.0f) / 3000.0f;
        if (i % 301 == 7)
            f = 0.0f;
        else if (i % 499 == 11)
            f = (i & 1) ? NAN : -INFINITY;
        else if (i % 997 == 13)
            f *= 1e6f;
        tt_from_f32(TT_BF16, &f, 1, p + 2 * i);
    }
    p[2 * c] = 0x5b;
    return p;
}

/* FORMAT.md's form 1 rule for one element, written out on its own: symbol, nibble, escape (or -1). */
static int f1_rule(uint16_t v, uint32_t B, unsigned w, uint8_t *sym, uint8_t *nib)
{
    uint32_t x = v & 0x7fffu, y = (x - B) & 0x7fffu, q = y >> 7;
    *sym = (uint8_t)(((q < w ? q : w) << 4) | ((y >> 3) & 15u));
    *nib = (uint8_t)(((v >> 15) << 3) | (y & 7u));
    return q >= w ? (int)q : -1;
}

static void test_form1(ZSTD_CCtx *z)
{
    /* the encoder takes form 1 on narrow bf16, odd element counts and a trailing byte included, and round trips
     * in place and out of place */
    static const size_t counts[] = {16, 17, 4097, 65536 + 1, 1000003};
    for (size_t k = 0; k < sizeof counts / sizeof counts[0]; k++)
        for (int t = 0; t < 2; t++) {
            size_t c = counts[k], n = 2 * c + (size_t)t;
            uint8_t *src = narrow_bf16(c, 40 + k), *orig = malloc(n), *scratch = malloc(n), *back = malloc(n);
            memcpy(orig, src, n);
            tt_frame_header h;
            char err[256] = "";
            CHECK_STATUS(tt_payload_encode_float(src, n, TT_BF16, 0, TT_FLOAT_FAST | TT_FLOAT_WINDOW, z, scratch, src,
                                                 n, &h, err, sizeof err), TT_OK);
            if (c >= 4096) {
                CHECK_EQ_INT(h.filter, TT_FILTER_FLOAT);
                CHECK_EQ_INT(src[2], 1);
                CHECK(src[3] >= 8 && src[3] <= 15);
                CHECK(tt_rd32(src + 8) > 0); /* the zeros, NaN and outliers are escapes */
            }
            CHECK_STATUS(tt_payload_decode(&h, src, back, scratch, NULL, err, sizeof err), TT_OK);
            CHECK(memcmp(back, orig, n) == 0);
            free(src), free(orig), free(scratch), free(back);
        }

    /* the sample (every c / 16384-th element) sees one scale, the rest is far from it: more escapes than half the
     * elements, so the encoder falls back to form 0, and the bytes still round trip */
    size_t c = 1 << 20, step = c / 16384;
    uint8_t *src = malloc(2 * c), *orig = malloc(2 * c), *scratch = malloc(2 * c), *back = malloc(2 * c);
    uint64_t seed = 9;
    for (size_t i = 0; i < c; i++) {
        float f = (float)(ts_rand(&seed) % 1000 + 1) * (i % step ? 1e20f : 1e-3f);
        tt_from_f32(TT_BF16, &f, 1, src + 2 * i);
    }
    memcpy(orig, src, 2 * c);
    tt_frame_header h;
    char err[256] = "";
    CHECK_STATUS(tt_payload_encode_float(src, 2 * c, TT_BF16, 0, TT_FLOAT_FAST | TT_FLOAT_WINDOW, z, scratch, src,
                                         2 * c, &h, err, sizeof err), TT_OK);
    CHECK(h.filter != TT_FILTER_FLOAT || src[2] == 0);
    CHECK_STATUS(tt_payload_decode(&h, src, back, scratch, NULL, err, sizeof err), TT_OK);
    CHECK(memcmp(back, orig, 2 * c) == 0);
    free(src), free(orig), free(scratch), free(back);

    /* a payload built by hand from the rule: 5 elements (an odd count), a trailing byte, window 3 at exponent
     * field 120, all streams stored as they are */
    static const uint16_t v[5] = {0x3c12, 0xbd7f, 0x0000, 0x3ca5, 0x7fc1}; /* q = 0, 2, escape 136, 1, escape 135 */
    const uint32_t B = 120u << 7;
    const unsigned w = 3;
    uint8_t sym[5], nib[5], esc[5], p[64];
    size_t ne = 0;
    for (int i = 0; i < 5; i++) {
        int e = f1_rule(v[i], B, w, &sym[i], &nib[i]);
        if (e >= 0)
            esc[ne++] = (uint8_t)e;
    }
    CHECK_EQ_INT((int)ne, 2);
    memset(p, 0, sizeof p);
    p[1] = 7, p[2] = 1, p[3] = (uint8_t)w;
    tt_le32(p + 4, B);
    tt_le32(p + 8, (uint32_t)ne);
    tt_le32(p + 12, 5), tt_le32(p + 16, 3), tt_le32(p + 20, (uint32_t)ne);
    memcpy(p + 24, sym, 5);
    for (int i = 0; i < 5; i++)
        p[29 + i / 2] = (uint8_t)(p[29 + i / 2] | nib[i] << (4 * (i & 1)));
    memcpy(p + 32, esc, ne);
    p[32 + ne] = 0x77; /* the trailing byte */
    size_t ns = 33 + ne;
    tt_frame_header fh = {TT_FRAME_PAYLOAD, TT_CODEC_ZSTD, TT_FILTER_FLOAT, 2, 0, 0, ns, 11, 0};
    uint8_t out[11], want[11], d[64], scr[11];
    for (int i = 0; i < 5; i++)
        tt_le16(want + 2 * i, v[i]);
    want[10] = 0x77;
    CHECK_STATUS(tt_payload_decode(&fh, p, out, scr, NULL, err, sizeof err), TT_OK);
    CHECK(memcmp(out, want, 11) == 0);

#define DAMAGE(stmt, what)                                                                                    \
    do {                                                                                                      \
        tt_frame_header hh = fh;                                                                              \
        memcpy(d, p, ns);                                                                                     \
        stmt;                                                                                                 \
        expect_damaged(&hh, d, what);                                                                         \
    } while (0)

    DAMAGE(d[2] = 2, "unknown form 2");
    DAMAGE(d[3] = 0, "window 0");
    DAMAGE(d[3] = 16, "window 16");
    DAMAGE(d[0] = 1, "model 1");
    DAMAGE(tt_le32(d + 4, 0x8000u), "base 32768");
    DAMAGE(tt_le32(d + 8, 3), "3 escapes for 5 elements");
    DAMAGE(d[24] = (uint8_t)(4u << 4), "do not match"); /* a symbol above the escape */
    DAMAGE(d[24] = (uint8_t)(3u << 4), "do not match"); /* one escape more than K */
    DAMAGE(d[26] = 0, "do not match");                  /* one fewer (element 2 was an escape) */
    DAMAGE(d[31] |= 0x10, "unused last nibble");
    DAMAGE(tt_le32(d + 16, 4), "stream 1 stores 4 bytes for 3");
    DAMAGE(hh.stored_size = ns + 1, "add up to");
    DAMAGE(hh.stored_size = 20, "below its 24-byte header");
    DAMAGE(hh.elem_size = 4, "form 1 with element size 4");
#undef DAMAGE
}

static void test_frame_headers(void)
{
    tt_frame_header h = {TT_FRAME_PAYLOAD, TT_CODEC_ZSTD, TT_FILTER_FLOAT, 2, 0, 1, 100, 4096, 0}, d;
    uint8_t b[TT_FRAME_HEADER_SIZE];
    char err[256];
    tt_frame_header_encode(&h, b);
    CHECK_STATUS(tt_frame_header_decode(b, &d, err, sizeof err), TT_OK);
    static const uint8_t bad_sizes[] = {0, 3, 8, 16};
    for (size_t i = 0; i < sizeof bad_sizes; i++) {
        tt_frame_header x = h;
        x.elem_size = bad_sizes[i];
        tt_frame_header_encode(&x, b);
        CHECK_STATUS(tt_frame_header_decode(b, &d, err, sizeof err), TT_E_CORRUPT);
    }
    tt_frame_header x = h;
    x.codec = TT_CODEC_RAW;
    x.stored_size = x.raw_size;
    tt_frame_header_encode(&x, b);
    CHECK_STATUS(tt_frame_header_decode(b, &d, err, sizeof err), TT_E_CORRUPT);
    CHECK(strstr(err, "codec ZSTD") != NULL);
    x = h;
    x.filter = 3;
    tt_frame_header_encode(&x, b);
    CHECK_STATUS(tt_frame_header_decode(b, &d, err, sizeof err), TT_E_CORRUPT);
    CHECK(strstr(err, "unknown payload filter 3") != NULL);
}

/* A written file whose payload frame is patched to name filter 3: the record reads as an error naming it, the
 * other record still reads. */
static void test_reader_unknown_filter(void)
{
    char path[512];
    ts_path(path, sizeof path, "float_unknown.tt");
    tt_writer_options o = ts_opts();
    o.threads = 1;
    tt_writer *w;
    CHECK_STATUS(tt_writer_open(&w, path, &o), TT_OK);
    uint64_t shape[2] = {8, 256};
    uint8_t *a = ts_data(TT_BF16, 2048, 1), *b = ts_data(TT_BF16, 2048, 2);
    tt_key k = {0};
    k.point = "a";
    CHECK(tt_put(w, &k, TT_BF16, 2, shape, a) >= 0);
    k.point = "b";
    CHECK(tt_put(w, &k, TT_BF16, 2, shape, b) >= 0);
    CHECK_STATUS(tt_writer_close(w), TT_OK);
    tt_writer_free(w);
    size_t len;
    uint8_t *f = ts_read_file(path, &len);
    CHECK(f != NULL);
    /* the first PAYLOAD frame is the first frame: patch its filter byte and its header checksum */
    tt_frame_header h;
    CHECK_STATUS(tt_frame_header_decode(f + TT_FILE_HEADER_SIZE, &h, NULL, 0), TT_OK);
    CHECK_EQ_INT(h.type, TT_FRAME_PAYLOAD);
    CHECK_EQ_INT(h.filter, TT_FILTER_FLOAT);
    f[TT_FILE_HEADER_SIZE + 6] = 3;
    tt_le64(f + TT_FILE_HEADER_SIZE + 48, tt_hash64(f + TT_FILE_HEADER_SIZE, 48));
    CHECK(ts_write_file(path, f, len) == 0);
    tt_reader *r;
    CHECK_STATUS(tt_reader_open(&r, path, NULL), TT_OK);
    uint8_t buf[4096];
    CHECK(tt_reader_read(r, 0, buf, sizeof buf) < 0);
    CHECK(strstr(tt_reader_errmsg(r), "unknown payload filter 3") != NULL);
    CHECK_STATUS(tt_reader_read(r, 1, buf, sizeof buf), TT_OK);
    CHECK(memcmp(buf, b, sizeof buf) == 0);
    tt_reader_close(r);
    unlink(path);
    free(f), free(a), free(b);
}

/* The writer's choice: FLOAT for activation-like bf16 (form 0 with `auto`, form 1 with `float`), byte shuffle for a
 * chunk full of zeros, each other filter as forced. */
static void test_writer_choice(void)
{
    static const tt_payload_filter modes[] = {TT_PAYLOAD_FILTER_AUTO, TT_PAYLOAD_FILTER_FLOAT,
                                              TT_PAYLOAD_FILTER_SHUFFLE, TT_PAYLOAD_FILTER_NONE};
    /* filter of (activations, zeros) expected per mode */
    static const int want[4][2] = {{TT_FILTER_FLOAT, TT_FILTER_SHUFFLE}, {TT_FILTER_FLOAT, TT_FILTER_SHUFFLE},
                                   {TT_FILTER_SHUFFLE, TT_FILTER_SHUFFLE}, {TT_FILTER_NONE, TT_FILTER_NONE}};
    uint64_t shape[2] = {16, 256};
    uint8_t *act = ts_data(TT_BF16, 4096, 3), *zeros = calloc(4096, 2);
    zeros[100] = 1; /* not all equal, or FLOAT's RLE would win anyway */
    for (int m = 0; m < 4; m++) {
        char path[512];
        ts_path(path, sizeof path, "float_choice.tt");
        tt_writer_options o = ts_opts();
        o.chunk_bytes = 8192;
        o.payload_filter = modes[m];
        tt_writer *w;
        CHECK_STATUS(tt_writer_open(&w, path, &o), TT_OK);
        tt_key k = {0};
        k.point = "x";
        int rc1 = tt_put(w, &k, TT_BF16, 2, shape, act), rc2 = tt_put(w, &k, TT_BF16, 2, shape, zeros);
        if (rc1 < 0 || rc2 < 0)
            fprintf(stderr, "put: %s\n", tt_writer_errmsg(w));
        CHECK(rc1 >= 0 && rc2 >= 0);
        CHECK_STATUS(tt_writer_close(w), TT_OK);
        tt_writer_free(w);
        size_t len;
        uint8_t *f = ts_read_file(path, &len);
        tt_frame_header h1, h2;
        CHECK_STATUS(tt_frame_header_decode(f + TT_FILE_HEADER_SIZE, &h1, NULL, 0), TT_OK);
        CHECK_STATUS(tt_frame_header_decode(f + TT_FILE_HEADER_SIZE + TT_FRAME_HEADER_SIZE + h1.stored_size, &h2,
                                            NULL, 0), TT_OK);
        if (h1.filter != want[m][0] || h2.filter != want[m][1])
            fprintf(stderr, "writer mode %d: filters %u %u, expected %d %d\n", m, h1.filter, h2.filter, want[m][0],
                    want[m][1]);
        CHECK_EQ_INT(h1.filter, want[m][0]);
        CHECK_EQ_INT(h2.filter, want[m][1]);
        if (h1.filter == TT_FILTER_FLOAT) { /* auto: form 0, the exponent symbol (shift 7); float: the exponents
                                              * fall in a window of 15, so form 1 (shift 7 too) */
            CHECK_EQ_INT(f[TT_FILE_HEADER_SIZE + TT_FRAME_HEADER_SIZE + 1], 7);
            CHECK_EQ_INT(f[TT_FILE_HEADER_SIZE + TT_FRAME_HEADER_SIZE + 2], m == 1 ? 1 : 0);
        }
        tt_reader *r;
        CHECK_STATUS(tt_reader_open(&r, path, NULL), TT_OK);
        uint8_t buf[8192];
        CHECK_STATUS(tt_reader_read(r, 0, buf, sizeof buf), TT_OK);
        CHECK(memcmp(buf, act, sizeof buf) == 0);
        /* a range of rows inflates only its chunk and comes back exact */
        CHECK_STATUS(tt_reader_read_rows(r, 1, 3, 5, buf, 5 * 512), TT_OK);
        CHECK(memcmp(buf, zeros + 3 * 512, 5 * 512) == 0);
        tt_reader_close(r);
        unlink(path);
        free(f);
    }
    /* TT_TRACE_FILTER is read, and a wrong value is refused by name */
    char path[512];
    ts_path(path, sizeof path, "float_env.tt");
    tt_writer_options o = TT_WRITER_OPTIONS_INIT;
    setenv("TT_TRACE_FILTER", "sideways", 1);
    tt_writer *w = NULL;
    CHECK_STATUS(tt_writer_open(&w, path, &o), TT_E_PARSE);
    CHECK(w && strstr(tt_writer_errmsg(w), "TT_TRACE_FILTER") != NULL);
    tt_writer_free(w);
    unsetenv("TT_TRACE_FILTER");
    unlink(path);
    free(act), free(zeros);
}

int main(void)
{
    ZSTD_CCtx *z = ZSTD_createCCtx();
    tt_float_cctx_params(z);
    test_roundtrips(z);
    test_every_value(z);
    test_damaged(z);
    test_form1(z);
    test_frame_headers();
    test_reader_unknown_filter();
    test_writer_choice();
    ZSTD_freeCCtx(z);
    return tt_test_exit();
}
