/*
 * fuzz_fb_verify.c — libFuzzer target for the FlatBuffers verifier (format/fb.c). The input is a buffer; it is
 * verified against each of the schema's root descriptions (Footer, RecordBatch, Meta), with and without the
 * file identifier, and with tight limits. When a verification succeeds, every field the description names is
 * read through the accessors, recursively (sub-tables, vectors of tables, vectors of strings), and every byte
 * an accessor returns is touched: the verifier's promise is that after it says yes the accessors need no
 * further checks, so any out-of-bounds read here is a verifier bug that ASan reports.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fb.h"
#include "schema.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static volatile uint64_t sink; /* keeps the reads from being optimised away */

static void touch(const void *p, size_t n)
{
    const uint8_t *b = p;
    uint64_t s = 0;
    for (size_t i = 0; i < n; i++)
        s += b[i];
    sink += s;
}

static void walk_table(const uint8_t *buf, uint32_t t, const fb_table_desc *d, unsigned depth);

static void walk_field(const uint8_t *buf, uint32_t t, const fb_field_desc *f, unsigned depth)
{
    uint32_t n = 0, len = 0;
    switch (f->kind) {
    case FB_SCALAR:
        switch (f->size) {
        case 1: sink += fb_get_u8(buf, t, f->id, 0); break;
        case 2: sink += fb_get_u16(buf, t, f->id, 0); break;
        case 4: sink += fb_get_u32(buf, t, f->id, 0) + (uint64_t)fb_get_i32(buf, t, f->id, 0); break;
        default: {
            double v = fb_get_f64(buf, t, f->id, 0);
            uint64_t u;
            memcpy(&u, &v, sizeof u);
            sink += fb_get_u64(buf, t, f->id, 0) + u;
        }
        }
        break;
    case FB_STRING: {
        const char *s = fb_get_string(buf, t, f->id, &len);
        if (s) {
            touch(s, (size_t)len + 1); /* the terminator included */
            sink += strlen(s) <= len;
        }
        break;
    }
    case FB_VEC_SCALAR: {
        const void *v = fb_get_vector(buf, t, f->id, &n);
        if (v)
            touch(v, (size_t)n * f->size);
        break;
    }
    case FB_VEC_STRING: {
        const void *v = fb_get_vector(buf, t, f->id, &n);
        for (uint32_t i = 0; v && i < n; i++) {
            const char *s = fb_vec_string(buf, v, i, &len);
            touch(s, (size_t)len + 1);
        }
        break;
    }
    case FB_TABLE: {
        uint32_t sub = fb_get_table(buf, t, f->id);
        if (sub)
            walk_table(buf, sub, f->table, depth + 1);
        break;
    }
    case FB_VEC_TABLE: {
        const void *v = fb_get_vector(buf, t, f->id, &n);
        for (uint32_t i = 0; v && i < n; i++)
            walk_table(buf, fb_vec_table(buf, v, i), f->table, depth + 1);
        break;
    }
    }
}

static void walk_table(const uint8_t *buf, uint32_t t, const fb_table_desc *d, unsigned depth)
{
    if (depth > FB_MAX_DEPTH)
        abort(); /* the verifier promised to refuse deeper nesting */
    sink += fb_field_pos(buf, t, 0) + fb_field_pos(buf, t, 63) + fb_field_pos(buf, t, 0x7ffd);
    for (size_t i = 0; i < d->nfields; i++)
        walk_field(buf, t, &d->fields[i], depth);
}

static void verify_and_walk(const uint8_t *buf, size_t len, const fb_table_desc *d, const char *ident,
                            const fb_limits *lim)
{
    char err[256];
    int rc = fb_verify(buf, len, ident, d, lim, err, sizeof err);
    if (rc != 0) {
        if (!err[0])
            abort(); /* every refusal says what and where */
        return;
    }
    if (ident && !fb_has_ident(buf, len, ident))
        abort();
    walk_table(buf, fb_root(buf), d, 1);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* a copy of exactly size bytes, 8-aligned like the reader's buffers, so ASan sees any read past the end */
    uint8_t *buf = malloc(size ? size : 1);
    if (!buf)
        return 0;
    memcpy(buf, data, size);
    const fb_table_desc *descs[3] = {&tt_fb_desc_footer, &tt_fb_desc_batch, &tt_fb_desc_meta};
    fb_limits tight = {3, 8};
    for (int i = 0; i < 3; i++) {
        verify_and_walk(buf, size, descs[i], TT_FB_IDENT, NULL);
        verify_and_walk(buf, size, descs[i], NULL, NULL);
        verify_and_walk(buf, size, descs[i], NULL, &tight);
    }
    free(buf);
    return 0;
}
