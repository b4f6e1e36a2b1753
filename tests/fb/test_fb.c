/*
 * test_fb.c — unit tests of format/fb.c: builder round trips through the accessors for every kind of field,
 * vtable de-duplication, alignment of what the builder writes, builder misuse and limits, and the verifier
 * against truncated, bit-flipped and hand-corrupted buffers (each verified copy lives in an allocation of exactly
 * its length, so that ASan catches any read past it), plus a buffer built by the official `flatc`.
 *
 * The descriptions below are the test's own, not the schema's, except the Footer subset used for the flatc buffer.
 */
#include <stdlib.h>
#include <string.h>

#include "fb.h"
#include "tt/common.h"
#include "tt_test.h"

/* ---- Descriptions ---------------------------------------------------------------------------------------- */

enum { I_NAME, I_VALUE, I_DATA };
static const fb_field_desc inner_fields[] = {
    {"name", I_NAME, FB_STRING, 0, NULL},
    {"value", I_VALUE, FB_SCALAR, 4, NULL},
    {"data", I_DATA, FB_VEC_SCALAR, 8, NULL},
};
static const fb_table_desc inner_desc = {"Inner", inner_fields, 3};

enum { M_U8, M_U16, M_U32, M_I32, M_U64, M_F64, M_STR, M_V8, M_V16, M_V32, M_V64, M_VSTR, M_SUB, M_VTAB, M_EMPTY };
static const fb_field_desc mixed_fields[] = {
    {"u8", M_U8, FB_SCALAR, 1, NULL},
    {"u16", M_U16, FB_SCALAR, 2, NULL},
    {"u32", M_U32, FB_SCALAR, 4, NULL},
    {"i32", M_I32, FB_SCALAR, 4, NULL},
    {"u64", M_U64, FB_SCALAR, 8, NULL},
    {"f64", M_F64, FB_SCALAR, 8, NULL},
    {"str", M_STR, FB_STRING, 0, NULL},
    {"v8", M_V8, FB_VEC_SCALAR, 1, NULL},
    {"v16", M_V16, FB_VEC_SCALAR, 2, NULL},
    {"v32", M_V32, FB_VEC_SCALAR, 4, NULL},
    {"v64", M_V64, FB_VEC_SCALAR, 8, NULL},
    {"vstr", M_VSTR, FB_VEC_STRING, 0, NULL},
    {"sub", M_SUB, FB_TABLE, 0, &inner_desc},
    {"vtab", M_VTAB, FB_VEC_TABLE, 0, &inner_desc},
    {"empty", M_EMPTY, FB_VEC_SCALAR, 8, NULL},
};
static const fb_table_desc mixed_desc = {"Mixed", mixed_fields, sizeof mixed_fields / sizeof mixed_fields[0]};

/* An older reader's view of Mixed: the first fields only. And a newer one's, with a field this writer lacks. */
static const fb_table_desc mixed_old_desc = {"Mixed", mixed_fields, 3};
static const fb_field_desc mixed_new_fields[] = {
    {"u8", M_U8, FB_SCALAR, 1, NULL},
    {"later", 40, FB_VEC_TABLE, 0, &inner_desc},
};
static const fb_table_desc mixed_new_desc = {"Mixed", mixed_new_fields, 2};

/* A chain of tables, each pointing at the next (recursive description). */
static const fb_table_desc node_desc;
static const fb_field_desc node_fields[] = {
    {"child", 0, FB_TABLE, 0, &node_desc},
    {"kids", 1, FB_VEC_TABLE, 0, &node_desc},
};
static const fb_table_desc node_desc = {"Node", node_fields, 2};

/* The subset of tt.fb.Footer found in the flatc-built buffer below. */
static const fb_field_desc kv_fields[] = {
    {"key", 0, FB_STRING, 0, NULL},
    {"value", 1, FB_STRING, 0, NULL},
};
static const fb_table_desc kv_desc = {"KeyValue", kv_fields, 2};
static const fb_field_desc frameindex_fields[] = {
    {"offset", 0, FB_VEC_SCALAR, 8, NULL},
    {"type", 1, FB_VEC_SCALAR, 1, NULL},
};
static const fb_table_desc frameindex_desc = {"FrameIndex", frameindex_fields, 2};
static const fb_field_desc counters_fields[] = {
    {"puts", 0, FB_SCALAR, 8, NULL},    {"filtered", 1, FB_SCALAR, 8, NULL}, {"dropped", 2, FB_SCALAR, 8, NULL},
    {"written", 3, FB_SCALAR, 8, NULL}, {"errors", 9, FB_SCALAR, 8, NULL},
};
static const fb_table_desc counters_desc = {"Counters", counters_fields, 5};
static const fb_field_desc footer_fields[] = {
    {"format_major", 0, FB_SCALAR, 2, NULL},
    {"format_minor", 1, FB_SCALAR, 2, NULL},
    {"writer", 2, FB_STRING, 0, NULL},
    {"created_ns", 3, FB_SCALAR, 8, NULL},
    {"meta", 7, FB_VEC_TABLE, 0, &kv_desc},
    {"strings", 8, FB_VEC_STRING, 0, NULL},
    {"frames", 10, FB_TABLE, 0, &frameindex_desc},
    {"counters", 11, FB_TABLE, 0, &counters_desc},
};
static const fb_table_desc footer_desc = {"Footer", footer_fields, 8};

/* ---- Helpers --------------------------------------------------------------------------------------------- */

static uint32_t ld32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void st32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t ld64(const void *p)
{
    const uint8_t *q = p;
    return (uint64_t)ld32(q) | (uint64_t)ld32(q + 4) << 32;
}

/* Position of the vtable of the table at tpos. */
static uint32_t vtable_of(const uint8_t *buf, uint32_t tpos)
{
    int32_t so;
    uint32_t u = ld32(buf + tpos);
    memcpy(&so, &u, sizeof so);
    return (uint32_t)((int64_t)tpos - so);
}

/* A copy in an allocation of exactly n bytes (at least 1), so that ASan reports any read past it. */
static uint8_t *exact_copy(const uint8_t *src, size_t n)
{
    uint8_t *p = malloc(n ? n : 1);
    if (p && n)
        memcpy(p, src, n);
    return p;
}

static uint64_t touch_string(const char *s, uint32_t len)
{
    uint64_t h = 0;
    for (uint32_t i = 0; i <= len; i++) /* the terminator too */
        h = h * 31 + (unsigned char)s[i];
    return h;
}

/* Reads every field d describes through the accessors, touching every byte they expose. After a successful
 * fb_verify() with d, ASan must stay quiet here whatever the buffer. */
static uint64_t walk_table(const uint8_t *buf, uint32_t t, const fb_table_desc *d)
{
    uint64_t h = 0;
    for (size_t i = 0; i < d->nfields; i++) {
        const fb_field_desc *f = &d->fields[i];
        uint32_t n = 0, len = 0;
        const void *v;
        const char *s;
        switch (f->kind) {
        case FB_SCALAR:
            if (f->size == 1)
                h += fb_get_u8(buf, t, f->id, 0);
            else if (f->size == 2)
                h += fb_get_u16(buf, t, f->id, 0);
            else if (f->size == 4)
                h += fb_get_u32(buf, t, f->id, 0) + (uint32_t)fb_get_i32(buf, t, f->id, 0);
            else
                h += fb_get_u64(buf, t, f->id, 0) + (fb_get_f64(buf, t, f->id, 0.0) > 0.0);
            break;
        case FB_STRING:
            s = fb_get_string(buf, t, f->id, &len);
            if (s)
                h += touch_string(s, len);
            break;
        case FB_VEC_SCALAR:
            v = fb_get_vector(buf, t, f->id, &n);
            for (size_t j = 0; j < (size_t)n * f->size; j++)
                h += ((const uint8_t *)v)[j];
            break;
        case FB_VEC_STRING:
            v = fb_get_vector(buf, t, f->id, &n);
            for (uint32_t j = 0; j < n; j++) {
                s = fb_vec_string(buf, v, j, &len);
                h += touch_string(s, len);
            }
            break;
        case FB_TABLE: {
            uint32_t sub = fb_get_table(buf, t, f->id);
            if (sub)
                h += walk_table(buf, sub, f->table);
            break;
        }
        case FB_VEC_TABLE:
            v = fb_get_vector(buf, t, f->id, &n);
            for (uint32_t j = 0; j < n; j++)
                h += walk_table(buf, fb_vec_table(buf, v, j), f->table);
            break;
        default:
            break;
        }
    }
    return h;
}

/* Verifies an exact-size copy of buf[0..n) and walks it when it verifies. Returns fb_verify's status. */
static int verify_and_walk(const uint8_t *buf, size_t n, const char *ident, const fb_table_desc *d)
{
    uint8_t *copy = exact_copy(buf, n);
    char err[256];
    int rc = fb_verify(copy, n, ident, d, NULL, err, sizeof err);
    if (rc == TT_OK) {
        volatile uint64_t h = walk_table(copy, fb_root(copy), d);
        (void)h;
    } else {
        CHECK(err[0] != '\0');
    }
    free(copy);
    return rc;
}

/* ---- The Mixed buffer ------------------------------------------------------------------------------------ */

static const uint8_t v8_data[] = {1, 2, 3};
static const uint16_t v16_data[] = {0x1234, 0xfffe};
static const uint32_t v32_data[] = {7, 0xdeadbeef, 9, 10, 11};
static const uint64_t v64_data[] = {UINT64_C(0x0102030405060708), UINT64_MAX, 0};
static const char *const vstr_data[] = {"alpha", "", "gamma delta"};

/* The test's vectors are written from host order; the format stores little-endian, so convert on a big-endian
 * host (a no-op on the little-endian machines this runs on, but it keeps the test honest about the contract). */
static fb_ref create_le_vector(fb_builder *b, const void *host, size_t count, size_t es)
{
    uint8_t *le = malloc(count > 0 ? count * es : 1);
    const uint8_t *h = host;
    for (size_t i = 0; i < count; i++) {
        uint64_t v = 0;
        if (es == 1)
            v = h[i];
        else if (es == 2) {
            uint16_t x;
            memcpy(&x, h + 2 * i, 2);
            v = x;
        } else if (es == 4) {
            uint32_t x;
            memcpy(&x, h + 4 * i, 4);
            v = x;
        } else {
            memcpy(&v, h + 8 * i, 8);
        }
        for (size_t k = 0; k < es; k++)
            le[i * es + k] = (uint8_t)(v >> (8 * k));
    }
    fb_ref r = fb_create_vector(b, le, count, es);
    free(le);
    return r;
}

static fb_ref build_inner(fb_builder *b, const char *name, uint32_t value, const uint64_t *data, size_t n)
{
    fb_ref nm = name ? fb_create_string(b, name, strlen(name)) : 0;
    fb_ref dv = data ? create_le_vector(b, data, n, 8) : 0;
    fb_table_begin(b);
    fb_add_ref(b, I_NAME, nm);
    fb_add_u32(b, I_VALUE, value);
    fb_add_ref(b, I_DATA, dv);
    return fb_table_end(b);
}

static const uint64_t inner_data[] = {11, 22};

static int build_mixed(fb_builder *b, const char *ident, const uint8_t **out, size_t *size)
{
    fb_ref str = fb_create_string(b, "hello, flatbuffers", 18);
    fb_ref v8 = create_le_vector(b, v8_data, 3, 1);
    fb_ref v16 = create_le_vector(b, v16_data, 2, 2);
    fb_ref v32 = create_le_vector(b, v32_data, 5, 4);
    fb_ref v64 = create_le_vector(b, v64_data, 3, 8);
    fb_ref empty = fb_create_vector(b, NULL, 0, 8);
    fb_ref strs[3];
    for (int i = 0; i < 3; i++)
        strs[i] = fb_create_string(b, vstr_data[i], strlen(vstr_data[i]));
    fb_ref vstr = fb_create_vector_refs(b, strs, 3);
    fb_ref sub = build_inner(b, "sub", 77, inner_data, 2);
    fb_ref kids[3];
    kids[0] = build_inner(b, "k0", 0, NULL, 0);
    kids[1] = build_inner(b, NULL, 1, inner_data, 1);
    kids[2] = build_inner(b, "k2", 2, inner_data, 2);
    fb_ref vtab = fb_create_vector_refs(b, kids, 3);
    fb_table_begin(b);
    fb_add_u8(b, M_U8, 0xab);
    fb_add_u16(b, M_U16, 0xbeef);
    fb_add_u32(b, M_U32, 0xcafebabe);
    fb_add_i32(b, M_I32, -123456);
    fb_add_u64(b, M_U64, UINT64_C(0xfedcba9876543210));
    fb_add_f64(b, M_F64, -2.5e-300);
    fb_add_ref(b, M_STR, str);
    fb_add_ref(b, M_V8, v8);
    fb_add_ref(b, M_V16, v16);
    fb_add_ref(b, M_V32, v32);
    fb_add_ref(b, M_V64, v64);
    fb_add_ref(b, M_VSTR, vstr);
    fb_add_ref(b, M_SUB, sub);
    fb_add_ref(b, M_VTAB, vtab);
    fb_add_ref(b, M_EMPTY, empty);
    fb_ref root = fb_table_end(b);
    return fb_finish(b, root, ident, out, size);
}

static void check_inner(const uint8_t *buf, uint32_t t, const char *name, uint32_t value, size_t ndata)
{
    uint32_t len = 99, n = 99;
    const char *s = fb_get_string(buf, t, I_NAME, &len);
    if (name) {
        CHECK_EQ_STR(s, name);
        CHECK_EQ_INT(len, strlen(name));
    } else {
        CHECK(s == NULL);
        CHECK_EQ_INT(len, 0);
    }
    CHECK_EQ_U64(fb_get_u32(buf, t, I_VALUE, 5), value);
    const void *v = fb_get_vector(buf, t, I_DATA, &n);
    if (ndata == 0) {
        CHECK(v == NULL);
        CHECK_EQ_INT(n, 0);
    } else {
        CHECK_EQ_INT(n, ndata);
        for (size_t i = 0; i < ndata && v; i++)
            CHECK_EQ_U64(ld64((const uint8_t *)v + 8 * i), inner_data[i]);
    }
}

static void check_mixed(const uint8_t *buf)
{
    uint32_t r = fb_root(buf);
    CHECK(r >= 8);
    CHECK_EQ_U64(fb_get_u8(buf, r, M_U8, 0), 0xab);
    CHECK_EQ_U64(fb_get_u16(buf, r, M_U16, 0), 0xbeef);
    CHECK_EQ_U64(fb_get_u32(buf, r, M_U32, 0), 0xcafebabe);
    CHECK_EQ_INT(fb_get_i32(buf, r, M_I32, 0), -123456);
    CHECK_EQ_U64(fb_get_u64(buf, r, M_U64, 0), UINT64_C(0xfedcba9876543210));
    CHECK(fb_get_f64(buf, r, M_F64, 0.0) == -2.5e-300);
    uint32_t len = 0, n = 0;
    CHECK_EQ_STR(fb_get_string(buf, r, M_STR, &len), "hello, flatbuffers");
    CHECK_EQ_INT(len, 18);

    const uint8_t *p8 = fb_get_vector(buf, r, M_V8, &n);
    CHECK_EQ_INT(n, 3);
    CHECK(p8 && memcmp(p8, v8_data, 3) == 0);
    const uint8_t *p16 = fb_get_vector(buf, r, M_V16, &n);
    CHECK_EQ_INT(n, 2);
    CHECK(p16 && p16[0] == 0x34 && p16[1] == 0x12 && p16[2] == 0xfe && p16[3] == 0xff);
    const uint8_t *p32 = fb_get_vector(buf, r, M_V32, &n);
    CHECK_EQ_INT(n, 5);
    for (uint32_t i = 0; i < n && p32; i++)
        CHECK_EQ_U64(ld32(p32 + 4 * i), v32_data[i]);
    const uint8_t *p64 = fb_get_vector(buf, r, M_V64, &n);
    CHECK_EQ_INT(n, 3);
    for (uint32_t i = 0; i < n && p64; i++)
        CHECK_EQ_U64(ld64(p64 + 8 * i), v64_data[i]);
    /* alignment relative to the buffer start: vectors' elements to their size, the count to 4 */
    CHECK(p16 && (p16 - buf) % 2 == 0);
    CHECK(p32 && (p32 - buf) % 4 == 0);
    CHECK(p64 && (p64 - buf) % 8 == 0 && (p64 - buf - 4) % 4 == 0);
    CHECK_EQ_INT(fb_field_pos(buf, r, M_U64) % 8, 0);
    CHECK_EQ_INT(fb_field_pos(buf, r, M_F64) % 8, 0);
    CHECK_EQ_INT(fb_field_pos(buf, r, M_U32) % 4, 0);
    CHECK_EQ_INT(fb_field_pos(buf, r, M_U16) % 2, 0);

    /* an empty vector is present (non-NULL) with count 0, unlike an absent one */
    n = 99;
    const void *pe = fb_get_vector(buf, r, M_EMPTY, &n);
    CHECK(pe != NULL);
    CHECK_EQ_INT(n, 0);

    const void *vs = fb_get_vector(buf, r, M_VSTR, &n);
    CHECK_EQ_INT(n, 3);
    for (uint32_t i = 0; i < n && vs; i++) {
        CHECK_EQ_STR(fb_vec_string(buf, vs, i, &len), vstr_data[i]);
        CHECK_EQ_INT(len, strlen(vstr_data[i]));
    }
    uint32_t sub = fb_get_table(buf, r, M_SUB);
    CHECK(sub != 0);
    check_inner(buf, sub, "sub", 77, 2);
    const void *vt = fb_get_vector(buf, r, M_VTAB, &n);
    CHECK_EQ_INT(n, 3);
    if (vt && n == 3) {
        check_inner(buf, fb_vec_table(buf, vt, 0), "k0", 0, 0);
        check_inner(buf, fb_vec_table(buf, vt, 1), NULL, 1, 1);
        check_inner(buf, fb_vec_table(buf, vt, 2), "k2", 2, 2);
    }
}

/* ---- Tests ----------------------------------------------------------------------------------------------- */

static void test_round_trip(void)
{
    fb_builder b;
    fb_builder_init(&b);
    const uint8_t *buf;
    size_t size;
    CHECK_STATUS(build_mixed(&b, "TEST", &buf, &size), TT_OK);
    CHECK_EQ_INT(size % 8, 0); /* padded to the largest alignment inside (8) */
    CHECK(memcmp(buf + 4, "TEST", 4) == 0);
    CHECK(fb_has_ident(buf, size, "TEST"));
    CHECK(!fb_has_ident(buf, size, "TESU"));
    char err[256] = "x";
    CHECK_STATUS(fb_verify(buf, size, "TEST", &mixed_desc, NULL, err, sizeof err), TT_OK);
    CHECK_EQ_STR(err, "");
    CHECK_STATUS(verify_and_walk(buf, size, "TEST", &mixed_desc), TT_OK);
    check_mixed(buf);

    /* the same builder after a reset makes the same bytes */
    uint8_t *first = exact_copy(buf, size);
    size_t first_size = size;
    fb_builder_reset(&b);
    CHECK_STATUS(build_mixed(&b, "TEST", &buf, &size), TT_OK);
    CHECK_EQ_INT(size, first_size);
    CHECK(memcmp(buf, first, size) == 0);
    free(first);

    /* without identifier */
    fb_builder_reset(&b);
    CHECK_STATUS(build_mixed(&b, NULL, &buf, &size), TT_OK);
    CHECK_STATUS(fb_verify(buf, size, NULL, &mixed_desc, NULL, err, sizeof err), TT_OK);
    check_mixed(buf);
    fb_builder_free(&b);
    fb_builder_free(NULL);
}

static void test_unknown_and_absent_fields(void)
{
    fb_builder b;
    fb_builder_init(&b);
    const uint8_t *buf;
    size_t size;
    CHECK_STATUS(build_mixed(&b, "TEST", &buf, &size), TT_OK);
    /* fields a description does not know are ignored; ones the buffer lacks verify as absent */
    CHECK_STATUS(fb_verify(buf, size, "TEST", &mixed_old_desc, NULL, NULL, 0), TT_OK);
    CHECK_STATUS(fb_verify(buf, size, "TEST", &mixed_new_desc, NULL, NULL, 0), TT_OK);
    uint32_t r = fb_root(buf), n = 7;
    CHECK(fb_get_vector(buf, r, 40, &n) == NULL);
    CHECK_EQ_INT(n, 0);
    CHECK_EQ_INT(fb_field_pos(buf, r, 40), 0);
    CHECK_EQ_INT(fb_field_pos(buf, r, 0x7fff), 0);
    CHECK_EQ_INT(fb_field_pos(buf, r, ~0u), 0);

    /* absent inside the vtable (a gap) and beyond it: defaults */
    fb_builder_reset(&b);
    fb_table_begin(&b);
    fb_add_u32(&b, 0, 1);
    fb_add_u64(&b, 3, 2);
    fb_ref t = fb_table_end(&b);
    CHECK_STATUS(fb_finish(&b, t, NULL, &buf, &size), TT_OK);
    CHECK_STATUS(fb_verify(buf, size, NULL, &mixed_desc, NULL, NULL, 0), TT_OK);
    r = fb_root(buf);
    CHECK_EQ_U64(fb_get_u32(buf, r, 0, 9), 1);
    CHECK_EQ_U64(fb_get_u64(buf, r, 3, 9), 2); /* described as i32 in Mixed; read raw by id here */
    CHECK_EQ_U64(fb_get_u16(buf, r, 1, 4242), 4242);
    CHECK_EQ_U64(fb_get_u8(buf, r, 2, 17), 17);
    CHECK_EQ_INT(fb_get_i32(buf, r, 9, -5), -5);
    CHECK(fb_get_f64(buf, r, 10, 1.5) == 1.5);
    uint32_t len = 3;
    CHECK(fb_get_string(buf, r, M_STR, &len) == NULL);
    CHECK_EQ_INT(len, 0);
    CHECK_EQ_INT(fb_get_table(buf, r, M_SUB), 0);
    fb_builder_free(&b);
}

static void test_empty_table_and_vectors(void)
{
    fb_builder b;
    fb_builder_init(&b);
    const uint8_t *buf;
    size_t size;
    fb_ref e8 = fb_create_vector(&b, NULL, 0, 1);
    fb_ref er = fb_create_vector_refs(&b, NULL, 0);
    fb_ref es = fb_create_string(&b, "", 0);
    fb_table_begin(&b);
    fb_add_ref(&b, M_V8, e8);
    fb_add_ref(&b, M_VTAB, er);
    fb_add_ref(&b, M_STR, es);
    fb_ref t = fb_table_end(&b);
    CHECK_STATUS(fb_finish(&b, t, "TEST", &buf, &size), TT_OK);
    CHECK_STATUS(verify_and_walk(buf, size, "TEST", &mixed_desc), TT_OK);
    uint32_t r = fb_root(buf), n = 5, len = 5;
    CHECK(fb_get_vector(buf, r, M_V8, &n) != NULL);
    CHECK_EQ_INT(n, 0);
    n = 5;
    CHECK(fb_get_vector(buf, r, M_VTAB, &n) != NULL);
    CHECK_EQ_INT(n, 0);
    CHECK_EQ_STR(fb_get_string(buf, r, M_STR, &len), "");
    CHECK_EQ_INT(len, 0);

    /* a table with no field at all */
    fb_builder_reset(&b);
    fb_table_begin(&b);
    t = fb_table_end(&b);
    CHECK_STATUS(fb_finish(&b, t, NULL, &buf, &size), TT_OK);
    CHECK_STATUS(verify_and_walk(buf, size, NULL, &mixed_desc), TT_OK);
    CHECK_EQ_INT(fb_get_u8(buf, fb_root(buf), M_U8, 3), 3);
    fb_builder_free(&b);
}

static void test_vtable_dedup(void)
{
    fb_builder b;
    fb_builder_init(&b);
    const uint8_t *buf;
    size_t size;
    fb_ref kids[4];
    kids[0] = build_inner(&b, "a", 1, NULL, 0);
    kids[1] = build_inner(&b, "b", 2, NULL, 0);
    kids[2] = build_inner(&b, NULL, 3, inner_data, 2); /* another shape */
    kids[3] = build_inner(&b, "c", 4, NULL, 0);
    fb_ref v = fb_create_vector_refs(&b, kids, 4);
    fb_table_begin(&b);
    fb_add_ref(&b, M_VTAB, v);
    fb_ref t = fb_table_end(&b);
    CHECK_STATUS(fb_finish(&b, t, NULL, &buf, &size), TT_OK);
    CHECK_STATUS(verify_and_walk(buf, size, NULL, &mixed_desc), TT_OK);
    uint32_t n;
    const void *vec = fb_get_vector(buf, fb_root(buf), M_VTAB, &n);
    CHECK_EQ_INT(n, 4);
    if (vec && n == 4) {
        uint32_t t0 = fb_vec_table(buf, vec, 0), t1 = fb_vec_table(buf, vec, 1);
        uint32_t t2 = fb_vec_table(buf, vec, 2), t3 = fb_vec_table(buf, vec, 3);
        CHECK_EQ_INT(vtable_of(buf, t0), vtable_of(buf, t1));
        CHECK_EQ_INT(vtable_of(buf, t0), vtable_of(buf, t3));
        CHECK(vtable_of(buf, t0) != vtable_of(buf, t2));
        check_inner(buf, t1, "b", 2, 0);
        check_inner(buf, t3, "c", 4, 0);
    }

    /* by size: a second table of the same shape costs its inline bytes only (4 + 4 + 4), not another vtable */
    size_t one, two;
    fb_builder_reset(&b);
    fb_table_begin(&b);
    fb_add_u32(&b, 0, 1);
    fb_add_u32(&b, 1, 2);
    fb_ref a = fb_table_end(&b);
    CHECK_STATUS(fb_finish(&b, a, NULL, &buf, &one), TT_OK);
    fb_builder_reset(&b);
    fb_table_begin(&b);
    fb_add_u32(&b, 0, 1);
    fb_add_u32(&b, 1, 2);
    fb_table_end(&b);
    fb_table_begin(&b);
    fb_add_u32(&b, 0, 3);
    fb_add_u32(&b, 1, 4);
    a = fb_table_end(&b);
    CHECK_STATUS(fb_finish(&b, a, NULL, &buf, &two), TT_OK);
    CHECK_EQ_INT(two - one, 12);
    fb_builder_free(&b);
}

static void test_many_fields(void)
{
    fb_builder b;
    fb_builder_init(&b);
    static fb_field_desc fields[FB_MAX_FIELDS];
    static const fb_table_desc wide = {"Wide", fields, FB_MAX_FIELDS};
    static const unsigned sizes[4] = {1, 2, 4, 8};
    for (unsigned id = 0; id < FB_MAX_FIELDS; id++) {
        fields[id].name = "f";
        fields[id].id = (uint16_t)id;
        fields[id].kind = FB_SCALAR;
        fields[id].size = (uint8_t)sizes[id % 4];
    }
    fb_table_begin(&b);
    /* added in a scrambled order: ids need not come in sequence */
    for (unsigned k = 0; k < FB_MAX_FIELDS; k++) {
        unsigned id = (k * 37) % FB_MAX_FIELDS;
        uint64_t v = 1000u + id;
        uint8_t le[8];
        for (int i = 0; i < 8; i++)
            le[i] = (uint8_t)(v >> (8 * i));
        fb_add_scalar(&b, id, le, sizes[id % 4]);
    }
    fb_ref t = fb_table_end(&b);
    const uint8_t *buf;
    size_t size;
    CHECK_STATUS(fb_finish(&b, t, NULL, &buf, &size), TT_OK);
    CHECK_STATUS(verify_and_walk(buf, size, NULL, &wide), TT_OK);
    uint32_t r = fb_root(buf);
    for (unsigned id = 0; id < FB_MAX_FIELDS; id++) {
        uint64_t want = 1000u + id;
        switch (sizes[id % 4]) {
        case 1:
            CHECK_EQ_U64(fb_get_u8(buf, r, id, 0), (uint8_t)want);
            break;
        case 2:
            CHECK_EQ_U64(fb_get_u16(buf, r, id, 0), want);
            break;
        case 4:
            CHECK_EQ_U64(fb_get_u32(buf, r, id, 0), want);
            break;
        default:
            CHECK_EQ_U64(fb_get_u64(buf, r, id, 0), want);
            CHECK_EQ_INT(fb_field_pos(buf, r, id) % 8, 0);
        }
    }
    CHECK_EQ_INT(fb_field_pos(buf, r, FB_MAX_FIELDS), 0);
    fb_builder_free(&b);
}

static void test_large_vector(void)
{
    enum { N = 1000000 };
    uint64_t *data = malloc(N * sizeof *data);
    uint8_t *le = malloc(N * 8);
    CHECK(data && le);
    if (!data || !le) {
        free(data);
        free(le);
        return;
    }
    for (size_t i = 0; i < N; i++) {
        data[i] = (uint64_t)i * UINT64_C(0x9E3779B97F4A7C15);
        for (int k = 0; k < 8; k++)
            le[8 * i + k] = (uint8_t)(data[i] >> (8 * k));
    }
    fb_builder b;
    fb_builder_init(&b);
    /* a few small objects first, so that growth has to move existing data */
    fb_ref s = fb_create_string(&b, "before", 6);
    fb_ref v = fb_create_vector(&b, le, N, 8);
    fb_ref s2 = fb_create_string(&b, "after", 5);
    fb_table_begin(&b);
    fb_add_ref(&b, M_STR, s);
    fb_add_ref(&b, M_V64, v);
    fb_table_end(&b);
    (void)s2;
    fb_table_begin(&b);
    fb_add_ref(&b, M_STR, s2);
    fb_add_ref(&b, M_V64, v); /* two tables sharing one vector */
    fb_ref t = fb_table_end(&b);
    const uint8_t *buf;
    size_t size;
    CHECK_STATUS(fb_finish(&b, t, "BIG!", &buf, &size), TT_OK);
    CHECK(size > (size_t)N * 8);
    CHECK(b.cap >= size);
    char err[256];
    CHECK_STATUS(fb_verify(buf, size, "BIG!", &mixed_desc, NULL, err, sizeof err), TT_OK);
    uint32_t r = fb_root(buf), n = 0;
    const uint8_t *p = fb_get_vector(buf, r, M_V64, &n);
    CHECK_EQ_INT(n, N);
    CHECK(p && memcmp(p, le, (size_t)N * 8) == 0);
    CHECK_EQ_STR(fb_get_string(buf, r, M_STR, NULL), "after");
    fb_builder_free(&b);
    free(data);
    free(le);
}

static void test_builder_misuse(void)
{
    fb_builder b;
    const uint8_t *buf = (const uint8_t *)"x";
    size_t size = 5;

    /* nested table_begin: sticky INVAL, later calls do nothing, finish fails */
    fb_builder_init(&b);
    fb_table_begin(&b);
    fb_table_begin(&b);
    CHECK_EQ_INT(fb_builder_error(&b), TT_E_INVAL);
    fb_add_u32(&b, 0, 1);
    CHECK_EQ_INT(fb_table_end(&b), 0);
    CHECK_EQ_INT(fb_create_string(&b, "a", 1), 0);
    CHECK_EQ_INT(fb_builder_error(&b), TT_E_INVAL);
    CHECK_STATUS(fb_finish(&b, 4, NULL, &buf, &size), TT_E_INVAL);
    CHECK(buf == NULL);
    CHECK_EQ_INT(size, 0);
    /* reset clears the error */
    fb_builder_reset(&b);
    CHECK_EQ_INT(fb_builder_error(&b), TT_OK);

    /* field id out of range */
    fb_table_begin(&b);
    fb_add_u8(&b, FB_MAX_FIELDS, 1);
    CHECK_EQ_INT(fb_builder_error(&b), TT_E_INVAL);
    fb_builder_reset(&b);
    fb_table_begin(&b);
    fb_add_ref(&b, FB_MAX_FIELDS + 100, 0);
    CHECK_EQ_INT(fb_builder_error(&b), TT_E_INVAL);

    /* same field twice */
    fb_builder_reset(&b);
    fb_table_begin(&b);
    fb_add_u8(&b, 3, 1);
    fb_add_u8(&b, 3, 2);
    CHECK_EQ_INT(fb_builder_error(&b), TT_E_INVAL);

    /* fields outside a table, string inside a table, end without begin */
    fb_builder_reset(&b);
    fb_add_u32(&b, 0, 1);
    CHECK_EQ_INT(fb_builder_error(&b), TT_E_INVAL);
    fb_builder_reset(&b);
    fb_table_begin(&b);
    CHECK_EQ_INT(fb_create_string(&b, "x", 1), 0);
    CHECK_EQ_INT(fb_builder_error(&b), TT_E_INVAL);
    fb_builder_reset(&b);
    CHECK_EQ_INT(fb_table_end(&b), 0);
    CHECK_EQ_INT(fb_builder_error(&b), TT_E_INVAL);

    /* bad scalar size, bad element size, NULL data */
    fb_builder_reset(&b);
    fb_table_begin(&b);
    fb_add_scalar(&b, 0, "abc", 3);
    CHECK_EQ_INT(fb_builder_error(&b), TT_E_INVAL);
    fb_builder_reset(&b);
    CHECK_EQ_INT(fb_create_vector(&b, "abcdef", 2, 3), 0);
    CHECK_EQ_INT(fb_builder_error(&b), TT_E_INVAL);
    fb_builder_reset(&b);
    CHECK_EQ_INT(fb_create_vector(&b, NULL, 2, 4), 0);
    CHECK_EQ_INT(fb_builder_error(&b), TT_E_INVAL);

    /* a ref created after the table began, a ref that was never created, a vector of a 0 ref */
    fb_builder_reset(&b);
    fb_ref s = fb_create_string(&b, "s", 1);
    fb_table_begin(&b);
    fb_add_ref(&b, 0, s + 64);
    CHECK_EQ_INT(fb_builder_error(&b), TT_E_INVAL);
    fb_builder_reset(&b);
    fb_ref zero = 0;
    CHECK_EQ_INT(fb_create_vector_refs(&b, &zero, 1), 0);
    CHECK_EQ_INT(fb_builder_error(&b), TT_E_INVAL);

    /* finish: open table, no root, root beyond the data, identifier of the wrong length */
    fb_builder_reset(&b);
    fb_table_begin(&b);
    CHECK_STATUS(fb_finish(&b, 4, NULL, &buf, &size), TT_E_INVAL);
    fb_builder_reset(&b);
    fb_table_begin(&b);
    fb_ref t = fb_table_end(&b);
    CHECK_STATUS(fb_finish(&b, 0, NULL, &buf, &size), TT_E_INVAL);
    fb_builder_reset(&b);
    fb_table_begin(&b);
    t = fb_table_end(&b);
    CHECK_STATUS(fb_finish(&b, t + 100, NULL, &buf, &size), TT_E_INVAL);
    fb_builder_reset(&b);
    fb_table_begin(&b);
    t = fb_table_end(&b);
    CHECK_STATUS(fb_finish(&b, t, "TOOLONG", &buf, &size), TT_E_INVAL);

    /* nothing may be added once finished */
    fb_builder_reset(&b);
    fb_table_begin(&b);
    t = fb_table_end(&b);
    CHECK_STATUS(fb_finish(&b, t, "ABCD", &buf, &size), TT_OK);
    CHECK_EQ_INT(fb_create_string(&b, "late", 4), 0);
    CHECK_EQ_INT(fb_builder_error(&b), TT_E_INVAL);

    /* limits: refused before anything is read or allocated */
    fb_builder_reset(&b);
    uint64_t small[2] = {0, 0};
    CHECK_EQ_INT(fb_create_vector(&b, small, FB_MAX_BUFFER / 8 + 1, 8), 0);
    CHECK_EQ_INT(fb_builder_error(&b), TT_E_LIMIT);
    CHECK_STATUS(fb_finish(&b, 4, NULL, &buf, &size), TT_E_LIMIT);
    fb_builder_reset(&b);
    CHECK_EQ_INT(fb_create_string(&b, "x", FB_MAX_BUFFER), 0);
    CHECK_EQ_INT(fb_builder_error(&b), TT_E_LIMIT);
    fb_builder_reset(&b);
    CHECK_EQ_INT(fb_create_vector_refs(&b, (const fb_ref *)small, (size_t)FB_MAX_BUFFER), 0);
    CHECK_EQ_INT(fb_builder_error(&b), TT_E_LIMIT);
    fb_builder_free(&b);
}

/* A buffer whose last bytes belong to a vector the verifier checks: any truncation must fail. */
static void test_truncation_tight(void)
{
    fb_builder b;
    fb_builder_init(&b);
    const uint32_t le_first[3] = {0, 0, 0}; /* all-zero: the same bytes in either byte order */
    fb_ref v = fb_create_vector(&b, le_first, 3, 4); /* the first object written lies at the very end */
    fb_ref s = fb_create_string(&b, "abc", 3);
    fb_table_begin(&b);
    fb_add_ref(&b, M_V32, v);
    fb_add_ref(&b, M_STR, s);
    fb_add_u64(&b, M_U64, 5);
    fb_ref t = fb_table_end(&b);
    const uint8_t *buf;
    size_t size;
    CHECK_STATUS(fb_finish(&b, t, "TEST", &buf, &size), TT_OK);
    CHECK_STATUS(verify_and_walk(buf, size, "TEST", &mixed_desc), TT_OK);
    for (size_t n = 0; n < size; n++) {
        uint8_t *copy = exact_copy(buf, n);
        char err[256];
        int rc = fb_verify(copy, n, "TEST", &mixed_desc, NULL, err, sizeof err);
        if (rc != TT_E_CORRUPT)
            fprintf(stderr, "truncated to %zu of %zu bytes: status %d\n", n, size, rc);
        CHECK_EQ_INT(rc, TT_E_CORRUPT);
        free(copy);
    }
    fb_builder_free(&b);
}

static void test_truncation_mixed(void)
{
    fb_builder b;
    fb_builder_init(&b);
    const uint8_t *buf;
    size_t size;
    CHECK_STATUS(build_mixed(&b, "TEST", &buf, &size), TT_OK);
    int ok = 0;
    for (size_t n = 0; n < size; n++)
        ok += verify_and_walk(buf, n, "TEST", &mixed_desc) == TT_OK;
    /* only trailing padding may be cut from the buffer: at most 7 bytes (8-byte alignment) */
    CHECK(ok <= 7);
    fb_builder_free(&b);
}

/* Every single-byte change of a small buffer either fails or verifies into something the accessors read within
 * bounds (ASan checks the latter, since the copy is exactly the buffer's size). */
static void test_byte_flips(const uint8_t *buf, size_t size, const char *ident, const fb_table_desc *d)
{
    uint8_t *m = exact_copy(buf, size);
    size_t accepted = 0, rejected = 0;
    for (size_t i = 0; i < size; i++) {
        for (unsigned x = 1; x < 256; x++) {
            m[i] = (uint8_t)(buf[i] ^ x);
            if (verify_and_walk(m, size, ident, d) == TT_OK)
                accepted++;
            else
                rejected++;
        }
        m[i] = buf[i];
    }
    CHECK(rejected > 0);
    CHECK_EQ_INT(accepted + rejected, size * 255);
    free(m);
}

static void test_flips_mixed(void)
{
    fb_builder b;
    fb_builder_init(&b);
    const uint8_t *buf;
    size_t size;
    CHECK_STATUS(build_mixed(&b, "TEST", &buf, &size), TT_OK);
    test_byte_flips(buf, size, "TEST", &mixed_desc);
    test_byte_flips(buf, size, NULL, &mixed_desc);
    fb_builder_free(&b);
}

/* Patches of specific structures, with the message each must give. */
static void expect_corrupt(const uint8_t *buf, size_t size, const char *ident, const fb_table_desc *d,
                           int want, const char *needle)
{
    uint8_t *copy = exact_copy(buf, size);
    char err[256] = "";
    int rc = fb_verify(copy, size, ident, d, NULL, err, sizeof err);
    CHECK_EQ_INT(rc, want);
    if (!strstr(err, needle)) {
        fprintf(stderr, "message \"%s\" lacks \"%s\"\n", err, needle);
        CHECK(0);
    }
    free(copy);
}

static void test_corruptions(void)
{
    fb_builder b;
    fb_builder_init(&b);
    const uint8_t *built;
    size_t size;
    CHECK_STATUS(build_mixed(&b, "TEST", &built, &size), TT_OK);
    uint8_t *buf = exact_copy(built, size);
    uint8_t *m = exact_copy(built, size);
    uint32_t r = fb_root(buf), n;

    /* identifier */
    expect_corrupt(buf, size, "TTR1", &mixed_desc, TT_E_CORRUPT,
                   "Mixed: file identifier is \"TEST\", expected \"TTR1\"");
    memcpy(m, buf, size);
    m[5] = 0x01;
    expect_corrupt(m, size, "TEST", &mixed_desc, TT_E_CORRUPT, "\"T\\x01ST\"");

    /* root offset */
    memcpy(m, buf, size);
    st32(m, (uint32_t)size);
    expect_corrupt(m, size, NULL, &mixed_desc, TT_E_CORRUPT, "root offset");
    st32(m, 0);
    expect_corrupt(m, size, NULL, &mixed_desc, TT_E_CORRUPT, "root offset 0");
    st32(m, r + 2);
    expect_corrupt(m, size, NULL, &mixed_desc, TT_E_CORRUPT, "not aligned to 4");

    /* vector count that overflows (count * 8 wraps 32 bits) or just runs past the end */
    const uint8_t *p64 = fb_get_vector(buf, r, M_V64, &n);
    size_t cpos = (size_t)(p64 - buf) - 4;
    char needle[128];
    snprintf(needle, sizeof needle, "Mixed.v64: vector at %zu extends past the end of the %zu-byte buffer", cpos, size);
    const uint32_t counts[] = {0xffffffffu, 0x20000000u, 0x20000001u, (uint32_t)(size / 8)};
    for (size_t k = 0; k < sizeof counts / sizeof counts[0]; k++) {
        memcpy(m, buf, size);
        st32(m + cpos, counts[k]);
        expect_corrupt(m, size, "TEST", &mixed_desc, TT_E_CORRUPT, needle);
    }

    /* string without terminator, string longer than the buffer */
    uint32_t len;
    const char *s = fb_get_string(buf, r, M_STR, &len);
    size_t spos = (size_t)(s - (const char *)buf) - 4;
    memcpy(m, buf, size);
    m[spos + 4 + len] = 'x';
    expect_corrupt(m, size, "TEST", &mixed_desc, TT_E_CORRUPT, "Mixed.str: string at");
    expect_corrupt(m, size, "TEST", &mixed_desc, TT_E_CORRUPT, "is not zero-terminated");
    memcpy(m, buf, size);
    st32(m + spos, 0xfffffffbu);
    expect_corrupt(m, size, "TEST", &mixed_desc, TT_E_CORRUPT, "extends past the end");

    /* a string in a vector of strings, and a table in a vector of tables: the path has the index */
    const void *vs = fb_get_vector(buf, r, M_VSTR, &n);
    s = fb_vec_string(buf, vs, 2, &len);
    memcpy(m, buf, size);
    m[(size_t)(s - (const char *)buf) + len] = '!';
    expect_corrupt(m, size, "TEST", &mixed_desc, TT_E_CORRUPT, "Mixed.vstr[2]: string at");
    const void *vt = fb_get_vector(buf, r, M_VTAB, &n);
    uint32_t k2 = fb_vec_table(buf, vt, 2);
    const char *k2name = fb_get_string(buf, k2, I_NAME, &len);
    memcpy(m, buf, size);
    m[(size_t)(k2name - (const char *)buf) + len] = '!';
    expect_corrupt(m, size, "TEST", &mixed_desc, TT_E_CORRUPT, "Mixed.vtab[2].name: string at");

    /* vtable: soffset pointing outside, odd size, table inline size past the end */
    memcpy(m, buf, size);
    st32(m + r, (uint32_t)(r + 1000000));
    expect_corrupt(m, size, "TEST", &mixed_desc, TT_E_CORRUPT, "lies outside");
    uint32_t vtp = vtable_of(buf, r);
    memcpy(m, buf, size);
    m[vtp] |= 1;
    expect_corrupt(m, size, "TEST", &mixed_desc, TT_E_CORRUPT, "invalid size");
    memcpy(m, buf, size);
    m[vtp + 2] = 0xff;
    m[vtp + 3] = 0xff;
    expect_corrupt(m, size, "TEST", &mixed_desc, TT_E_CORRUPT, "extends past the end");

    /* a field slot pointing past the table's inline size; a misaligned 8-byte scalar */
    memcpy(m, buf, size);
    m[vtp + 4 + 2 * M_U64] = 0xf0;
    m[vtp + 4 + 2 * M_U64 + 1] = 0x00;
    expect_corrupt(m, size, "TEST", &mixed_desc, TT_E_CORRUPT, "Mixed.u64: field at offset 240");
    memcpy(m, buf, size);
    m[vtp + 4 + 2 * M_U64] = (uint8_t)(m[vtp + 4 + 2 * M_U64] + 4);
    expect_corrupt(m, size, "TEST", &mixed_desc, TT_E_CORRUPT, "Mixed.u64: ");

    /* an offset field of zero */
    uint32_t fpos = fb_field_pos(buf, r, M_SUB);
    memcpy(m, buf, size);
    st32(m + fpos, 0);
    expect_corrupt(m, size, "TEST", &mixed_desc, TT_E_CORRUPT, "Mixed.sub: offset at");

    /* buffers too short, too long, NULL, bad descriptions */
    expect_corrupt(buf, 7, NULL, &mixed_desc, TT_E_CORRUPT, "shorter than the 8-byte minimum");
    CHECK_STATUS(fb_verify(buf, (size_t)FB_MAX_BUFFER + 1, NULL, &mixed_desc, NULL, NULL, 0), TT_E_LIMIT);
    CHECK_STATUS(fb_verify(NULL, size, NULL, &mixed_desc, NULL, NULL, 0), TT_E_INVAL);
    CHECK_STATUS(fb_verify(buf, size, NULL, NULL, NULL, NULL, 0), TT_E_INVAL);
    static const fb_field_desc bad_fields[] = {{"bad", M_U32, FB_SCALAR, 3, NULL}};
    static const fb_table_desc bad_desc = {"Bad", bad_fields, 1};
    expect_corrupt(buf, size, NULL, &bad_desc, TT_E_INVAL, "Bad.bad: invalid field description");

    /* a small error buffer is cut, still terminated */
    memcpy(m, buf, size);
    st32(m, 0);
    char tiny[8];
    memset(tiny, 'z', sizeof tiny);
    CHECK_STATUS(fb_verify(m, size, NULL, &mixed_desc, NULL, tiny, sizeof tiny), TT_E_CORRUPT);
    CHECK_EQ_STR(tiny, "Mixed: ");

    free(m);
    free(buf);
    fb_builder_free(&b);
}

/* Elements of a non-empty vector must be aligned to their size; an empty one may be misaligned, as flatc's JSON
 * parser writes them. A hand-made buffer: root -> table at 12 (vtable at 4), field 0 -> vector at 24, whose
 * elements start at 28. */
static void test_vector_alignment(void)
{
    static const fb_field_desc f[] = {{"v", 0, FB_VEC_SCALAR, 8, NULL}};
    static const fb_table_desc d = {"T", f, 1};
    uint8_t buf[36] = {
        0x0c, 0, 0, 0,                   /* root offset: table at 12 */
        0x06, 0, 0x08, 0, 0x04, 0, 0, 0, /* vtable: 6 bytes, table of 8 bytes, field 0 at +4; padding */
        0x08, 0, 0, 0,                   /* table: vtable at 12 - 8 = 4 */
        0x08, 0, 0, 0,                   /* field 0: vector at 16 + 8 = 24 */
        0, 0, 0, 0,                      /* padding */
        0, 0, 0, 0,                      /* vector count */
        1, 2, 3, 4, 5, 6, 7, 8};         /* one element, when the count says so */
    char err[256];
    CHECK_STATUS(fb_verify(buf, 28, NULL, &d, NULL, err, sizeof err), TT_OK);
    CHECK_STATUS(verify_and_walk(buf, 28, NULL, &d), TT_OK);
    buf[24] = 1;
    CHECK_STATUS(fb_verify(buf, 36, NULL, &d, NULL, err, sizeof err), TT_E_CORRUPT);
    CHECK_EQ_STR(err, "T.v: vector at 24: elements are not aligned to 8");
    /* the same vector with its elements at 32 is fine */
    static const fb_field_desc f4[] = {{"v", 0, FB_VEC_SCALAR, 4, NULL}};
    static const fb_table_desc d4 = {"T", f4, 1};
    CHECK_STATUS(verify_and_walk(buf, 36, NULL, &d4), TT_OK);
    buf[16] = 0x04; /* vector at 20: count 0 there */
    buf[20] = 1;
    buf[24] = 0x11;
    CHECK_STATUS(verify_and_walk(buf, 36, NULL, &d), TT_OK);
    uint32_t n;
    const uint8_t *p = fb_get_vector(buf, fb_root(buf), 0, &n);
    CHECK_EQ_INT(n, 1);
    CHECK(p == buf + 24);
}

/* A chain of depth tables (root included), each the child of the previous. */
static int build_chain(fb_builder *b, unsigned depth, const uint8_t **buf, size_t *size)
{
    fb_ref child = 0;
    for (unsigned i = 0; i < depth; i++) {
        fb_table_begin(b);
        fb_add_ref(b, 0, child);
        child = fb_table_end(b);
    }
    return fb_finish(b, child, NULL, buf, size);
}

static void test_limits(void)
{
    fb_builder b;
    fb_builder_init(&b);
    const uint8_t *buf;
    size_t size;
    char err[256];

    CHECK_STATUS(build_chain(&b, FB_MAX_DEPTH, &buf, &size), TT_OK);
    CHECK_STATUS(fb_verify(buf, size, NULL, &node_desc, NULL, err, sizeof err), TT_OK);
    fb_builder_reset(&b);
    CHECK_STATUS(build_chain(&b, FB_MAX_DEPTH + 1, &buf, &size), TT_OK);
    CHECK_STATUS(fb_verify(buf, size, NULL, &node_desc, NULL, err, sizeof err), TT_E_LIMIT);
    CHECK(strstr(err, "Node.child.child") != NULL && strstr(err, "deeper than the limit of 16") != NULL);
    fb_limits deeper = {40, 0};
    CHECK_STATUS(fb_verify(buf, size, NULL, &node_desc, &deeper, err, sizeof err), TT_OK);
    fb_limits shallow = {3, 0};
    CHECK_STATUS(fb_verify(buf, size, NULL, &node_desc, &shallow, err, sizeof err), TT_E_LIMIT);

    /* table count: a root with 100 children is 101 tables */
    fb_builder_reset(&b);
    fb_ref kids[100];
    for (int i = 0; i < 100; i++) {
        fb_table_begin(&b);
        kids[i] = fb_table_end(&b);
    }
    fb_ref v = fb_create_vector_refs(&b, kids, 100);
    fb_table_begin(&b);
    fb_add_ref(&b, 1, v);
    fb_ref t = fb_table_end(&b);
    CHECK_STATUS(fb_finish(&b, t, NULL, &buf, &size), TT_OK);
    fb_limits tables = {0, 101};
    CHECK_STATUS(fb_verify(buf, size, NULL, &node_desc, &tables, err, sizeof err), TT_OK);
    tables.max_tables = 100;
    CHECK_STATUS(fb_verify(buf, size, NULL, &node_desc, &tables, err, sizeof err), TT_E_LIMIT);
    CHECK(strstr(err, "Node.kids[99]: more than 100 tables") != NULL);

    /* many references to one table count once each */
    fb_builder_reset(&b);
    fb_table_begin(&b);
    fb_ref leaf = fb_table_end(&b);
    fb_ref same[50];
    for (int i = 0; i < 50; i++)
        same[i] = leaf;
    v = fb_create_vector_refs(&b, same, 50);
    fb_table_begin(&b);
    fb_add_ref(&b, 1, v);
    t = fb_table_end(&b);
    CHECK_STATUS(fb_finish(&b, t, NULL, &buf, &size), TT_OK);
    tables.max_tables = 50;
    CHECK_STATUS(fb_verify(buf, size, NULL, &node_desc, &tables, err, sizeof err), TT_E_LIMIT);
    tables.max_tables = 51;
    CHECK_STATUS(fb_verify(buf, size, NULL, &node_desc, &tables, err, sizeof err), TT_OK);
    fb_builder_free(&b);
}

/* Footer {format_major: 1, format_minor: 2, writer: "flatc", created_ns: 123456789012345,
 * meta: [{key: "k", value: "v"}], strings: ["a", "bc"], frames: {offset: [7, 8], type: [PAYLOAD, META]},
 * counters: {puts: 5, errors: 1}}, built by `flatc -b --root-type tt.fb.Footer schemas/trace.fbs g.json`
 * (flatc 2.0.8) and dumped with `xxd -i g.ttr`. Regenerate the same way if the schema's Footer changes. */
static const uint8_t flatc_footer[] = {
    0x24, 0x00, 0x00, 0x00, 0x54, 0x54, 0x52, 0x31, 0x1c, 0x00, 0x28, 0x00, 0x04, 0x00, 0x06, 0x00, 0x08, 0x00,
    0x1c, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x0c, 0x00, 0x10, 0x00, 0x00, 0x00, 0x14, 0x00, 0x18, 0x00,
    0x1c, 0x00, 0x00, 0x00, 0x01, 0x00, 0x02, 0x00, 0xc0, 0x00, 0x00, 0x00, 0x90, 0x00, 0x00, 0x00, 0x70, 0x00,
    0x00, 0x00, 0x40, 0x00, 0x00, 0x00, 0x28, 0x00, 0x00, 0x00, 0x79, 0xdf, 0x0d, 0x86, 0x48, 0x70, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x18, 0x00, 0x14, 0x00, 0x04, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x0c, 0x00, 0x18, 0x00, 0x00, 0x00, 0x05, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xb0, 0xff, 0xff, 0xff, 0x10, 0x00,
    0x00, 0x00, 0x04, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x01, 0x03, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00,
    0x07, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x10, 0x00, 0x00, 0x00, 0x04, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00,
    0x62, 0x63, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x61, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x0c, 0x00,
    0x00, 0x00, 0x08, 0x00, 0x0c, 0x00, 0x04, 0x00, 0x08, 0x00, 0x08, 0x00, 0x00, 0x00, 0x10, 0x00, 0x00, 0x00,
    0x04, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x76, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x6b, 0x00,
    0x00, 0x00, 0x05, 0x00, 0x00, 0x00, 0x66, 0x6c, 0x61, 0x74, 0x63, 0x00, 0x00, 0x00};

static void test_flatc_buffer(void)
{
    const uint8_t *buf = flatc_footer;
    size_t size = sizeof flatc_footer;
    char err[256];
    int rc = fb_verify(buf, size, "TTR1", &footer_desc, NULL, err, sizeof err);
    CHECK_STATUS(rc, TT_OK);
    if (rc != TT_OK) {
        fprintf(stderr, "flatc buffer: %s\n", err);
        return; /* the accessors are only for verified buffers */
    }
    CHECK_STATUS(verify_and_walk(buf, size, "TTR1", &footer_desc), TT_OK);
    uint32_t r = fb_root(buf), n, len;
    CHECK_EQ_U64(fb_get_u16(buf, r, 0, 0), 1);
    CHECK_EQ_U64(fb_get_u16(buf, r, 1, 0), 2);
    CHECK_EQ_STR(fb_get_string(buf, r, 2, &len), "flatc");
    CHECK_EQ_U64(fb_get_u64(buf, r, 3, 0), UINT64_C(123456789012345));
    CHECK_EQ_U64(fb_get_u64(buf, r, 4, 77), 77); /* closed_ns: absent */
    const void *meta = fb_get_vector(buf, r, 7, &n);
    CHECK_EQ_INT(n, 1);
    if (meta && n == 1) {
        uint32_t kv = fb_vec_table(buf, meta, 0);
        CHECK_EQ_STR(fb_get_string(buf, kv, 0, NULL), "k");
        CHECK_EQ_STR(fb_get_string(buf, kv, 1, NULL), "v");
    }
    const void *strs = fb_get_vector(buf, r, 8, &n);
    CHECK_EQ_INT(n, 2);
    if (strs && n == 2) {
        CHECK_EQ_STR(fb_vec_string(buf, strs, 0, &len), "a");
        CHECK_EQ_STR(fb_vec_string(buf, strs, 1, &len), "bc");
        CHECK_EQ_INT(len, 2);
    }
    uint32_t frames = fb_get_table(buf, r, 10);
    const uint8_t *off = fb_get_vector(buf, frames, 0, &n);
    CHECK_EQ_INT(n, 2);
    CHECK(off && ld64(off) == 7 && ld64(off + 8) == 8);
    const uint8_t *type = fb_get_vector(buf, frames, 1, &n);
    CHECK_EQ_INT(n, 2);
    CHECK(type && type[0] == 1 && type[1] == 3);
    uint32_t ctr = fb_get_table(buf, r, 11);
    CHECK_EQ_U64(fb_get_u64(buf, ctr, 0, 0), 5);
    CHECK_EQ_U64(fb_get_u64(buf, ctr, 9, 0), 1);
    CHECK_EQ_U64(fb_get_u64(buf, ctr, 2, 42), 42);
    CHECK_EQ_INT(fb_get_table(buf, r, 9), 0); /* batches: absent */
    test_byte_flips(buf, size, "TTR1", &footer_desc);
}

int main(void)
{
    test_round_trip();
    test_unknown_and_absent_fields();
    test_empty_table_and_vectors();
    test_vtable_dedup();
    test_many_fields();
    test_large_vector();
    test_builder_misuse();
    test_truncation_tight();
    test_truncation_mixed();
    test_flips_mixed();
    test_corruptions();
    test_vector_alignment();
    test_limits();
    test_flatc_buffer();
    return tt_test_exit();
}
