/*
 * fb.c — the FlatBuffers subset declared in fb.h: a back-to-front builder, a verifier written for hostile
 * buffers, and the accessors that read a verified buffer without further checks.
 *
 * Positions. The builder fills its allocation from the end, so while building an object is known by `used` at
 * the moment its first byte was written (its fb_ref): the distance from the end of the buffer, which does not
 * move when the allocation grows. In the finished buffer of `size` bytes the object sits at `size - ref`. A
 * forward offset from a slot written at `u` to an object at `ref` is therefore `u - ref`, computable before the
 * buffer is finished.
 *
 * Alignment. Every object is aligned relative to the end of the buffer (fb_prep pads so that `used` is a multiple
 * of the alignment once the object is written), and fb_finish pads the whole buffer to the largest alignment
 * used, so relative to the finished buffer's start every object keeps its alignment.
 *
 * Byte order. Every multi-byte value is stored and loaded a byte at a time in little-endian order: no typed
 * access to possibly unaligned memory, and the same bytes on any host.
 */
#include "fb.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tt/common.h"

/* First allocation; doubled from there. */
#define FB_INITIAL_CAP ((size_t)1024)
/* Longest field path kept for error messages ("Footer.meta[3].key"); longer ones are cut. */
#define FB_PATH_MAX 256
/* `in_table` once fb_finish() succeeded: only reset and free are valid then, since anything written after the
 * root offset would move the buffer's start. */
#define FB_FINISHED (-1)

#if defined(__GNUC__) || defined(__clang__)
#define FB_PRINTF(fmt, args) __attribute__((format(printf, fmt, args)))
#else
#define FB_PRINTF(fmt, args)
#endif

/* ---- Little-endian loads and stores ---------------------------------------------------------------------- */

static uint16_t fb_ld16(const uint8_t *p)
{
    return (uint16_t)(p[0] | (unsigned)p[1] << 8);
}

static uint32_t fb_ld32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t fb_ld64(const uint8_t *p)
{
    return (uint64_t)fb_ld32(p) | (uint64_t)fb_ld32(p + 4) << 32;
}

/* Signed values go through memcpy so that the two's-complement reinterpretation is defined behaviour. */
static int32_t fb_ldi32(const uint8_t *p)
{
    uint32_t u = fb_ld32(p);
    int32_t v;
    memcpy(&v, &u, sizeof v);
    return v;
}

static void fb_st16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}

static void fb_st32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static void fb_st64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static int fb_scalar_size_ok(size_t size)
{
    return size == 1 || size == 2 || size == 4 || size == 8;
}

/* The 4 identifier bytes: ident's first 4 characters, zero-padded when shorter (as flatc compares them). */
static void fb_ident_bytes(const char *ident, uint8_t out[4])
{
    size_t i = 0;
    for (; i < 4 && ident[i]; i++)
        out[i] = (uint8_t)ident[i];
    for (; i < 4; i++)
        out[i] = 0;
}

/* ---- Builder: memory ------------------------------------------------------------------------------------- */

static void fb_fail(fb_builder *b, int code)
{
    if (!b->error)
        b->error = code;
}

/* Makes room for n more bytes in front of the data, doubling the allocation and moving the data to its end. */
static int fb_reserve(fb_builder *b, size_t n)
{
    if (b->error)
        return 0;
    if (n <= b->cap - b->used)
        return 1;
    if (n > FB_MAX_BUFFER - b->used) {
        fb_fail(b, TT_E_LIMIT);
        return 0;
    }
    size_t need = b->used + n;
    size_t cap = b->cap ? b->cap : FB_INITIAL_CAP;
    while (cap < need)
        cap = cap > FB_MAX_BUFFER / 2 ? FB_MAX_BUFFER : cap * 2;
    uint8_t *nb = malloc(cap);
    if (!nb) {
        fb_fail(b, TT_E_NOMEM);
        return 0;
    }
    if (b->used)
        memcpy(nb + cap - b->used, b->buf + b->cap - b->used, b->used);
    free(b->buf);
    b->buf = nb;
    b->cap = cap;
    return 1;
}

static void fb_push(fb_builder *b, const void *src, size_t n)
{
    if (!fb_reserve(b, n))
        return;
    b->used += n;
    if (n)
        memcpy(b->buf + b->cap - b->used, src, n);
}

static void fb_push_zeros(fb_builder *b, size_t n)
{
    if (n == 0 || !fb_reserve(b, n))
        return;
    b->used += n;
    memset(b->buf + b->cap - b->used, 0, n);
}

static void fb_push_u32(fb_builder *b, uint32_t v)
{
    uint8_t t[4];
    fb_st32(t, v);
    fb_push(b, t, sizeof t);
}

/* Pads so that, once `extra` more bytes are written, `used` is a multiple of align (a power of two <= 8), and
 * reserves room for them so that the object that follows is written without another move. */
static void fb_prep(fb_builder *b, size_t align, size_t extra)
{
    if (b->error)
        return;
    if (extra > FB_MAX_BUFFER) {
        fb_fail(b, TT_E_LIMIT);
        return;
    }
    if (align > b->minalign)
        b->minalign = align;
    /* used and extra are both <= 2^30, so the sum cannot wrap */
    size_t pad = (align - ((b->used + extra) & (align - 1))) & (align - 1);
    if (!fb_reserve(b, pad + extra))
        return;
    fb_push_zeros(b, pad);
}

static fb_ref fb_current_ref(const fb_builder *b)
{
    return b->error ? 0 : (fb_ref)b->used;
}

/* Strings and vectors may only be created between tables: inside one they would land in its inline data. */
static int fb_can_create(fb_builder *b)
{
    if (b->error)
        return 0;
    if (b->in_table) {
        fb_fail(b, TT_E_INVAL);
        return 0;
    }
    return 1;
}

/* ---- Builder: lifecycle ---------------------------------------------------------------------------------- */

void fb_builder_init(fb_builder *b)
{
    memset(b, 0, sizeof *b);
    b->minalign = 1;
}

void fb_builder_free(fb_builder *b)
{
    if (!b)
        return;
    free(b->buf);
    free(b->vtables);
    fb_builder_init(b);
}

void fb_builder_reset(fb_builder *b)
{
    b->used = 0;
    b->minalign = 1;
    b->error = 0;
    b->in_table = 0;
    b->table_start = 0;
    memset(b->field_ref, 0, sizeof b->field_ref);
    b->field_max = 0;
    b->nvtables = 0;
}

int fb_builder_error(const fb_builder *b)
{
    return b->error;
}

/* ---- Builder: strings and vectors ------------------------------------------------------------------------ */

fb_ref fb_create_string(fb_builder *b, const char *s, size_t len)
{
    if (!fb_can_create(b))
        return 0;
    if (!s && len) {
        fb_fail(b, TT_E_INVAL);
        return 0;
    }
    if (len >= FB_MAX_BUFFER) {
        fb_fail(b, TT_E_LIMIT);
        return 0;
    }
    /* [u32 len][bytes][0]: the length is 4-aligned once bytes and terminator are written */
    fb_prep(b, 4, len + 1);
    fb_push_zeros(b, 1);
    fb_push(b, s, len);
    fb_push_u32(b, (uint32_t)len);
    return fb_current_ref(b);
}

fb_ref fb_create_vector(fb_builder *b, const void *data, size_t count, size_t elem_size)
{
    if (!fb_can_create(b))
        return 0;
    if (!fb_scalar_size_ok(elem_size) || (!data && count)) {
        fb_fail(b, TT_E_INVAL);
        return 0;
    }
    if (count > FB_MAX_BUFFER / elem_size) {
        fb_fail(b, TT_E_LIMIT);
        return 0;
    }
    size_t bytes = count * elem_size;
    /* elements aligned to their size, and the count in front of them to 4 */
    fb_prep(b, elem_size > 4 ? elem_size : 4, bytes);
    fb_push(b, data, bytes);
    fb_push_u32(b, (uint32_t)count);
    return fb_current_ref(b);
}

fb_ref fb_create_vector_refs(fb_builder *b, const fb_ref *refs, size_t count)
{
    if (!fb_can_create(b))
        return 0;
    if (!refs && count) {
        fb_fail(b, TT_E_INVAL);
        return 0;
    }
    if (count > FB_MAX_BUFFER / 4) {
        fb_fail(b, TT_E_LIMIT);
        return 0;
    }
    /* an offset points forward, so its target must already be written */
    for (size_t i = 0; i < count; i++) {
        if (refs[i] == 0 || refs[i] > b->used) {
            fb_fail(b, TT_E_INVAL);
            return 0;
        }
    }
    fb_prep(b, 4, count * 4);
    for (size_t i = count; i-- > 0;) {
        if (b->error)
            return 0;
        /* each element's offset is relative to its own slot, which starts at used + 4 once written */
        fb_push_u32(b, (uint32_t)(b->used + 4 - refs[i]));
    }
    fb_push_u32(b, (uint32_t)count);
    return fb_current_ref(b);
}

/* ---- Builder: tables ------------------------------------------------------------------------------------- */

void fb_table_begin(fb_builder *b)
{
    if (b->error)
        return;
    if (b->in_table) {
        fb_fail(b, TT_E_INVAL);
        return;
    }
    b->in_table = 1;
    b->table_start = b->used;
    memset(b->field_ref, 0, sizeof b->field_ref);
    b->field_max = 0;
}

/* A field may be added inside a table, with an id in range, once. */
static int fb_field_ok(fb_builder *b, unsigned id)
{
    if (b->error)
        return 0;
    if (b->in_table != 1 || id >= FB_MAX_FIELDS || b->field_ref[id]) {
        fb_fail(b, TT_E_INVAL);
        return 0;
    }
    return 1;
}

static void fb_field_written(fb_builder *b, unsigned id)
{
    if (b->error)
        return;
    b->field_ref[id] = (uint32_t)b->used;
    if ((int)id + 1 > b->field_max)
        b->field_max = (int)id + 1;
}

void fb_add_scalar(fb_builder *b, unsigned id, const void *v, size_t size)
{
    if (!fb_field_ok(b, id))
        return;
    if (!v || !fb_scalar_size_ok(size)) {
        fb_fail(b, TT_E_INVAL);
        return;
    }
    fb_prep(b, size, size);
    fb_push(b, v, size);
    fb_field_written(b, id);
}

void fb_add_u8(fb_builder *b, unsigned id, uint8_t v)
{
    fb_add_scalar(b, id, &v, 1);
}

void fb_add_u16(fb_builder *b, unsigned id, uint16_t v)
{
    uint8_t t[2];
    fb_st16(t, v);
    fb_add_scalar(b, id, t, sizeof t);
}

void fb_add_u32(fb_builder *b, unsigned id, uint32_t v)
{
    uint8_t t[4];
    fb_st32(t, v);
    fb_add_scalar(b, id, t, sizeof t);
}

void fb_add_i32(fb_builder *b, unsigned id, int32_t v)
{
    uint32_t u;
    memcpy(&u, &v, sizeof u);
    fb_add_u32(b, id, u);
}

void fb_add_u64(fb_builder *b, unsigned id, uint64_t v)
{
    uint8_t t[8];
    fb_st64(t, v);
    fb_add_scalar(b, id, t, sizeof t);
}

void fb_add_f64(fb_builder *b, unsigned id, double v)
{
    uint64_t u;
    memcpy(&u, &v, sizeof u);
    fb_add_u64(b, id, u);
}

void fb_add_ref(fb_builder *b, unsigned id, fb_ref ref)
{
    if (!fb_field_ok(b, id) || ref == 0)
        return;
    /* the target must precede the table (created before fb_table_begin) so that the offset points forward */
    if (ref > b->table_start) {
        fb_fail(b, TT_E_INVAL);
        return;
    }
    fb_prep(b, 4, 4);
    fb_push_u32(b, (uint32_t)(b->used + 4 - ref));
    fb_field_written(b, id);
}

/* Position (as a `used` value) of an identical vtable written earlier, or 0. The most recent first, since
 * tables of one kind tend to be written together. */
static uint32_t fb_find_vtable(const fb_builder *b, const uint8_t *vt, size_t vtlen)
{
    for (size_t k = b->nvtables; k-- > 0;) {
        const uint8_t *p = b->buf + b->cap - b->vtables[k];
        if (fb_ld16(p) == vtlen && memcmp(p, vt, vtlen) == 0)
            return b->vtables[k];
    }
    return 0;
}

static void fb_remember_vtable(fb_builder *b, uint32_t pos)
{
    if (b->nvtables == b->capvtables) {
        size_t ncap = b->capvtables ? b->capvtables * 2 : 16;
        uint32_t *nv = ncap <= SIZE_MAX / sizeof *nv ? realloc(b->vtables, ncap * sizeof *nv) : NULL;
        if (!nv) {
            fb_fail(b, TT_E_NOMEM);
            return;
        }
        b->vtables = nv;
        b->capvtables = ncap;
    }
    b->vtables[b->nvtables++] = pos;
}

fb_ref fb_table_end(fb_builder *b)
{
    if (b->error)
        return 0;
    if (b->in_table != 1) {
        fb_fail(b, TT_E_INVAL);
        return 0;
    }
    /* the table starts with its vtable offset, patched below once the vtable's position is known */
    fb_prep(b, 4, 4);
    fb_push_zeros(b, 4);
    if (b->error)
        return 0;
    size_t tref = b->used;
    size_t tsize = tref - b->table_start;
    if (tsize > UINT16_MAX) {
        fb_fail(b, TT_E_LIMIT);
        return 0;
    }
    uint8_t vt[4 + 2 * FB_MAX_FIELDS];
    size_t vtlen = 4 + 2 * (size_t)b->field_max;
    fb_st16(vt, (uint16_t)vtlen);
    fb_st16(vt + 2, (uint16_t)tsize);
    for (int id = 0; id < b->field_max; id++) {
        /* a field written at `used` == r starts tref - r bytes after the table's start */
        uint32_t r = b->field_ref[id];
        fb_st16(vt + 4 + 2 * id, (uint16_t)(r ? tref - r : 0));
    }
    uint32_t vref = fb_find_vtable(b, vt, vtlen);
    if (!vref) {
        fb_prep(b, 2, vtlen);
        fb_push(b, vt, vtlen);
        if (b->error)
            return 0;
        vref = (uint32_t)b->used;
        fb_remember_vtable(b, vref);
        if (b->error)
            return 0;
    }
    /* soffset = table position - vtable position = (size - tref) - (size - vref) */
    int64_t soff = (int64_t)vref - (int64_t)tref;
    fb_st32(b->buf + b->cap - tref, (uint32_t)soff);
    b->in_table = 0;
    return (fb_ref)tref;
}

/* ---- Builder: finish ------------------------------------------------------------------------------------- */

int fb_finish(fb_builder *b, fb_ref root, const char *ident, const uint8_t **data, size_t *size)
{
    if (data)
        *data = NULL;
    if (size)
        *size = 0;
    if (b->error)
        return b->error;
    if (!data || !size || b->in_table || root == 0 || root > b->used || (ident && strlen(ident) != 4)) {
        fb_fail(b, TT_E_INVAL);
        return b->error;
    }
    /* The buffer's start must be aligned to the largest alignment inside it: pad so that used, after the
     * identifier and the root offset, is a multiple of it. */
    size_t head = 4 + (ident ? 4 : 0);
    fb_prep(b, b->minalign > 4 ? b->minalign : 4, head);
    if (ident) {
        uint8_t id[4];
        fb_ident_bytes(ident, id);
        fb_push(b, id, sizeof id);
    }
    fb_push_u32(b, (uint32_t)(b->used + 4 - root));
    if (b->error)
        return b->error;
    b->in_table = FB_FINISHED;
    *data = b->buf + b->cap - b->used;
    *size = b->used;
    return TT_OK;
}

/* ---- Verifier -------------------------------------------------------------------------------------------- */

typedef struct fb_vctx {
    const uint8_t *buf;
    uint64_t len;
    unsigned max_depth;
    size_t max_tables, ntables;
    /* Offsets followed so far, and the bound on them. A tree-shaped buffer follows at most one offset per 4-byte
     * slot; the bound adds room for tables shared between parents (already counted against max_tables) and
     * stops a buffer that shares one huge vector of strings among many tables from costing quadratic time. */
    uint64_t work, max_work;
    char *err;
    size_t errlen;
    char path[FB_PATH_MAX];
    size_t plen;
} fb_vctx;

/* The table as the verifier has checked it: everything below lies inside the buffer. */
typedef struct fb_tview {
    uint64_t pos, vt;
    unsigned vtsize, tsize;
} fb_tview;

FB_PRINTF(3, 4)
static int fb_verr(fb_vctx *c, int code, const char *fmt, ...)
{
    if (!c->err || !c->errlen)
        return code;
    int n = snprintf(c->err, c->errlen, "%s: ", c->path);
    if (n < 0 || (size_t)n >= c->errlen)
        return code;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->err + n, c->errlen - (size_t)n, fmt, ap);
    va_end(ap);
    return code;
}

/* Appends to the path (cut when too long) and returns the length to restore with fb_path_pop(). */
FB_PRINTF(2, 3)
static size_t fb_path_push(fb_vctx *c, const char *fmt, ...)
{
    size_t old = c->plen;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(c->path + old, sizeof c->path - old, fmt, ap);
    va_end(ap);
    if (n > 0)
        c->plen = old + (size_t)n < sizeof c->path ? old + (size_t)n : sizeof c->path - 1;
    return old;
}

static void fb_path_pop(fb_vctx *c, size_t old)
{
    c->plen = old;
    c->path[old] = '\0';
}

/* Renders 4 identifier bytes for a message, escaping what is not printable ASCII. */
static void fb_ident_text(const uint8_t id[4], char out[17])
{
    static const char hex[] = "0123456789abcdef";
    size_t o = 0;
    for (int i = 0; i < 4; i++) {
        if (id[i] >= 0x20 && id[i] < 0x7f && id[i] != '"' && id[i] != '\\') {
            out[o++] = (char)id[i];
        } else {
            out[o++] = '\\';
            out[o++] = 'x';
            out[o++] = hex[id[i] >> 4];
            out[o++] = hex[id[i] & 15];
        }
    }
    out[o] = '\0';
}

/* Reads the offset in the 4-byte slot at pos (known to be inside the buffer and 4-aligned) and returns its
 * target, which is checked to be inside the buffer; the object there is checked by the caller. */
static int fb_follow(fb_vctx *c, uint64_t pos, uint64_t *target)
{
    if (++c->work > c->max_work)
        return fb_verr(c, TT_E_LIMIT, "more than %llu offsets to follow (the verifier's work limit for a %llu-byte "
                                      "buffer)", (unsigned long long)c->max_work, (unsigned long long)c->len);
    uint32_t off = fb_ld32(c->buf + pos);
    if (off == 0)
        return fb_verr(c, TT_E_CORRUPT, "offset at %llu is zero", (unsigned long long)pos);
    if (pos + off >= c->len)
        return fb_verr(c, TT_E_CORRUPT, "offset at %llu points to %llu, past the end of the %llu-byte buffer",
                       (unsigned long long)pos, (unsigned long long)(pos + off), (unsigned long long)c->len);
    *target = pos + off;
    return TT_OK;
}

static int fb_check_string(fb_vctx *c, uint64_t pos)
{
    if (pos % 4)
        return fb_verr(c, TT_E_CORRUPT, "string at %llu is not aligned to 4", (unsigned long long)pos);
    if (c->len - pos < 4)
        return fb_verr(c, TT_E_CORRUPT, "string at %llu extends past the end of the %llu-byte buffer",
                       (unsigned long long)pos, (unsigned long long)c->len);
    uint32_t slen = fb_ld32(c->buf + pos);
    /* the bytes and the terminator must fit: slen + 1 <= len - pos - 4 */
    if (slen >= c->len - pos - 4)
        return fb_verr(c, TT_E_CORRUPT, "string at %llu (length %lu) extends past the end of the %llu-byte buffer",
                       (unsigned long long)pos, (unsigned long)slen, (unsigned long long)c->len);
    if (c->buf[pos + 4 + slen] != 0)
        return fb_verr(c, TT_E_CORRUPT, "string at %llu (length %lu) is not zero-terminated",
                       (unsigned long long)pos, (unsigned long)slen);
    return TT_OK;
}

/* Checks the vector header at pos and that count elements of elem_size bytes fit; returns the count. */
static int fb_check_vector(fb_vctx *c, uint64_t pos, unsigned elem_size, uint32_t *count)
{
    if (pos % 4)
        return fb_verr(c, TT_E_CORRUPT, "vector at %llu is not aligned to 4", (unsigned long long)pos);
    if (c->len - pos < 4)
        return fb_verr(c, TT_E_CORRUPT, "vector at %llu extends past the end of the %llu-byte buffer",
                       (unsigned long long)pos, (unsigned long long)c->len);
    uint32_t n = fb_ld32(c->buf + pos);
    /* division, not count * elem_size, so that no product can wrap whatever the width of the types */
    if (n > (c->len - pos - 4) / elem_size)
        return fb_verr(c, TT_E_CORRUPT,
                       "vector at %llu extends past the end of the %llu-byte buffer (%lu elements of %u bytes)",
                       (unsigned long long)pos, (unsigned long long)c->len, (unsigned long)n, elem_size);
    /* Elements aligned to their size so that readers may use them in place. Not for an empty vector: flatc's
     * JSON parser does not align those, and there is nothing to read. */
    if (n && (pos + 4) % elem_size)
        return fb_verr(c, TT_E_CORRUPT, "vector at %llu: elements are not aligned to %u", (unsigned long long)pos,
                       elem_size);
    *count = n;
    return TT_OK;
}

static int fb_check_table(fb_vctx *c, uint64_t pos, const fb_table_desc *d, unsigned depth);

static int fb_check_string_vector(fb_vctx *c, uint64_t pos)
{
    uint32_t n;
    int rc = fb_check_vector(c, pos, 4, &n);
    for (uint32_t i = 0; rc == TT_OK && i < n; i++) {
        size_t old = fb_path_push(c, "[%lu]", (unsigned long)i);
        uint64_t s = 0;
        rc = fb_follow(c, pos + 4 + 4 * (uint64_t)i, &s);
        if (rc == TT_OK)
            rc = fb_check_string(c, s);
        fb_path_pop(c, old);
    }
    return rc;
}

static int fb_check_table_vector(fb_vctx *c, uint64_t pos, const fb_table_desc *d, unsigned depth)
{
    uint32_t n;
    int rc = fb_check_vector(c, pos, 4, &n);
    for (uint32_t i = 0; rc == TT_OK && i < n; i++) {
        size_t old = fb_path_push(c, "[%lu]", (unsigned long)i);
        uint64_t t = 0;
        rc = fb_follow(c, pos + 4 + 4 * (uint64_t)i, &t);
        if (rc == TT_OK)
            rc = fb_check_table(c, t, d, depth);
        fb_path_pop(c, old);
    }
    return rc;
}

/* A description the verifier cannot use is the caller's mistake, not the buffer's. */
static int fb_check_desc(fb_vctx *c, const fb_field_desc *f)
{
    switch (f->kind) {
    case FB_SCALAR:
    case FB_VEC_SCALAR:
        if (fb_scalar_size_ok(f->size))
            return TT_OK;
        break;
    case FB_STRING:
    case FB_VEC_STRING:
        return TT_OK;
    case FB_TABLE:
    case FB_VEC_TABLE:
        if (f->table)
            return TT_OK;
        break;
    default:
        break;
    }
    return fb_verr(c, TT_E_INVAL, "invalid field description (kind %u, size %u)", (unsigned)f->kind,
                   (unsigned)f->size);
}

/* Checks the slot of field f in table t and, for an offset, the object it points at. */
static int fb_check_field_at(fb_vctx *c, const fb_tview *t, const fb_field_desc *f, unsigned depth)
{
    int rc = fb_check_desc(c, f);
    if (rc)
        return rc;
    uint64_t slot = 4 + 2 * (uint64_t)f->id;
    if (slot + 2 > t->vtsize)
        return TT_OK; /* beyond the vtable: absent (written by an older writer) */
    unsigned fo = fb_ld16(c->buf + t->vt + slot);
    if (fo == 0)
        return TT_OK;
    unsigned fsize = f->kind == FB_SCALAR ? f->size : 4;
    if (fo < 4 || fo + fsize > t->tsize)
        return fb_verr(c, TT_E_CORRUPT, "field at offset %u (%u bytes) lies outside the table at %llu of inline "
                       "size %u", fo, fsize, (unsigned long long)t->pos, t->tsize);
    uint64_t fpos = t->pos + fo;
    if (fpos % fsize)
        return fb_verr(c, TT_E_CORRUPT, "%s at %llu is not aligned to %u", f->kind == FB_SCALAR ? "scalar" : "offset",
                       (unsigned long long)fpos, fsize);
    if (f->kind == FB_SCALAR)
        return TT_OK;
    uint64_t target = 0;
    rc = fb_follow(c, fpos, &target);
    if (rc)
        return rc;
    switch (f->kind) {
    case FB_STRING:
        return fb_check_string(c, target);
    case FB_VEC_SCALAR: {
        uint32_t n;
        return fb_check_vector(c, target, f->size, &n);
    }
    case FB_VEC_STRING:
        return fb_check_string_vector(c, target);
    case FB_TABLE:
        return fb_check_table(c, target, f->table, depth + 1);
    default: /* FB_VEC_TABLE, the only kind left after fb_check_desc */
        return fb_check_table_vector(c, target, f->table, depth + 1);
    }
}

static int fb_check_field(fb_vctx *c, const fb_tview *t, const fb_field_desc *f, unsigned depth)
{
    size_t old = fb_path_push(c, ".%s", f->name ? f->name : "?");
    int rc = fb_check_field_at(c, t, f, depth);
    fb_path_pop(c, old);
    return rc;
}

/* Checks the table at pos: its vtable offset, its vtable, its inline size, then each field d describes. */
static int fb_check_table(fb_vctx *c, uint64_t pos, const fb_table_desc *d, unsigned depth)
{
    if (depth > c->max_depth)
        return fb_verr(c, TT_E_LIMIT, "tables nested deeper than the limit of %u", c->max_depth);
    if (++c->ntables > c->max_tables)
        return fb_verr(c, TT_E_LIMIT, "more than %zu tables (the limit)", c->max_tables);
    if (pos % 4)
        return fb_verr(c, TT_E_CORRUPT, "table at %llu is not aligned to 4", (unsigned long long)pos);
    if (c->len - pos < 4)
        return fb_verr(c, TT_E_CORRUPT, "table at %llu extends past the end of the %llu-byte buffer",
                       (unsigned long long)pos, (unsigned long long)c->len);
    fb_tview t;
    t.pos = pos;
    int64_t vt = (int64_t)pos - fb_ldi32(c->buf + pos);
    if (vt < 0 || (uint64_t)vt > c->len - 4)
        return fb_verr(c, TT_E_CORRUPT, "vtable at %lld of the table at %llu lies outside the %llu-byte buffer",
                       (long long)vt, (unsigned long long)pos, (unsigned long long)c->len);
    if (vt % 2)
        return fb_verr(c, TT_E_CORRUPT, "vtable at %lld is not aligned to 2", (long long)vt);
    t.vt = (uint64_t)vt;
    t.vtsize = fb_ld16(c->buf + t.vt);
    t.tsize = fb_ld16(c->buf + t.vt + 2);
    if (t.vtsize < 4 || t.vtsize % 2)
        return fb_verr(c, TT_E_CORRUPT, "vtable at %llu has an invalid size of %u bytes", (unsigned long long)t.vt,
                       t.vtsize);
    if (t.vt + t.vtsize > c->len)
        return fb_verr(c, TT_E_CORRUPT, "vtable at %llu (%u bytes) extends past the end of the %llu-byte buffer",
                       (unsigned long long)t.vt, t.vtsize, (unsigned long long)c->len);
    if (t.tsize < 4)
        return fb_verr(c, TT_E_CORRUPT, "table at %llu has an inline size of %u bytes, less than its vtable offset",
                       (unsigned long long)pos, t.tsize);
    if (pos + t.tsize > c->len)
        return fb_verr(c, TT_E_CORRUPT, "table at %llu (%u bytes) extends past the end of the %llu-byte buffer",
                       (unsigned long long)pos, t.tsize, (unsigned long long)c->len);
    for (size_t i = 0; i < d->nfields; i++) {
        int rc = fb_check_field(c, &t, &d->fields[i], depth);
        if (rc)
            return rc;
    }
    return TT_OK;
}

int fb_verify(const uint8_t *buf, size_t len, const char *ident, const fb_table_desc *root,
              const fb_limits *limits, char *err, size_t errlen)
{
    fb_vctx c;
    c.buf = buf;
    c.len = len;
    c.max_depth = limits && limits->max_depth ? limits->max_depth : FB_MAX_DEPTH;
    c.max_tables = limits && limits->max_tables ? limits->max_tables : FB_MAX_TABLES;
    c.ntables = 0;
    c.work = 0;
    c.max_work = len / 4 + (uint64_t)FB_MAX_FIELDS * c.max_tables;
    c.err = err;
    c.errlen = errlen;
    c.path[0] = '\0';
    c.plen = 0;
    if (err && errlen)
        err[0] = '\0';
    if (!buf || !root)
        return fb_verr(&c, TT_E_INVAL, "no buffer or no description to verify");
    fb_path_push(&c, "%s", root->name ? root->name : "root");
    if (len < 8)
        return fb_verr(&c, TT_E_CORRUPT, "buffer of %zu bytes is shorter than the 8-byte minimum", len);
    if (len > FB_MAX_BUFFER)
        return fb_verr(&c, TT_E_LIMIT, "buffer of %zu bytes is larger than the %zu-byte limit", len,
                       (size_t)FB_MAX_BUFFER);
    if (ident && !fb_has_ident(buf, len, ident)) {
        uint8_t want[4];
        char got_text[17], want_text[17];
        fb_ident_bytes(ident, want);
        fb_ident_text(buf + 4, got_text);
        fb_ident_text(want, want_text);
        return fb_verr(&c, TT_E_CORRUPT, "file identifier is \"%s\", expected \"%s\"", got_text, want_text);
    }
    uint32_t rootpos = fb_ld32(buf);
    /* 0 would make the root table overlap its own offset, and is the accessors' "absent" */
    if (rootpos == 0 || rootpos >= len)
        return fb_verr(&c, TT_E_CORRUPT, "root offset %lu points outside the %zu-byte buffer", (unsigned long)rootpos,
                       len);
    return fb_check_table(&c, rootpos, root, 1);
}

/* ---- Accessors (verified buffers only) ------------------------------------------------------------------- */

uint32_t fb_root(const uint8_t *buf)
{
    return fb_ld32(buf);
}

int fb_has_ident(const uint8_t *buf, size_t len, const char *ident)
{
    if (len < 8)
        return 0;
    uint8_t want[4];
    fb_ident_bytes(ident, want);
    return memcmp(buf + 4, want, 4) == 0;
}

uint32_t fb_field_pos(const uint8_t *buf, uint32_t tpos, unsigned id)
{
    if (tpos == 0)
        return 0;
    uint32_t vt = (uint32_t)((int64_t)tpos - fb_ldi32(buf + tpos));
    uint32_t slot = 4 + 2 * (uint32_t)id;
    if (id >= 0x7ffe || slot + 2 > fb_ld16(buf + vt))
        return 0;
    unsigned fo = fb_ld16(buf + vt + slot);
    return fo ? tpos + fo : 0;
}

uint8_t fb_get_u8(const uint8_t *buf, uint32_t tpos, unsigned id, uint8_t def)
{
    uint32_t p = fb_field_pos(buf, tpos, id);
    return p ? buf[p] : def;
}

uint16_t fb_get_u16(const uint8_t *buf, uint32_t tpos, unsigned id, uint16_t def)
{
    uint32_t p = fb_field_pos(buf, tpos, id);
    return p ? fb_ld16(buf + p) : def;
}

uint32_t fb_get_u32(const uint8_t *buf, uint32_t tpos, unsigned id, uint32_t def)
{
    uint32_t p = fb_field_pos(buf, tpos, id);
    return p ? fb_ld32(buf + p) : def;
}

int32_t fb_get_i32(const uint8_t *buf, uint32_t tpos, unsigned id, int32_t def)
{
    uint32_t p = fb_field_pos(buf, tpos, id);
    return p ? fb_ldi32(buf + p) : def;
}

uint64_t fb_get_u64(const uint8_t *buf, uint32_t tpos, unsigned id, uint64_t def)
{
    uint32_t p = fb_field_pos(buf, tpos, id);
    return p ? fb_ld64(buf + p) : def;
}

double fb_get_f64(const uint8_t *buf, uint32_t tpos, unsigned id, double def)
{
    uint32_t p = fb_field_pos(buf, tpos, id);
    if (!p)
        return def;
    uint64_t u = fb_ld64(buf + p);
    double v;
    memcpy(&v, &u, sizeof v);
    return v;
}

/* Target of the offset field id, or 0 when absent. */
static uint32_t fb_field_target(const uint8_t *buf, uint32_t tpos, unsigned id)
{
    uint32_t p = fb_field_pos(buf, tpos, id);
    return p ? p + fb_ld32(buf + p) : 0;
}

const char *fb_get_string(const uint8_t *buf, uint32_t tpos, unsigned id, uint32_t *len)
{
    uint32_t s = fb_field_target(buf, tpos, id);
    if (len)
        *len = s ? fb_ld32(buf + s) : 0;
    return s ? (const char *)buf + s + 4 : NULL;
}

uint32_t fb_get_table(const uint8_t *buf, uint32_t tpos, unsigned id)
{
    return fb_field_target(buf, tpos, id);
}

const void *fb_get_vector(const uint8_t *buf, uint32_t tpos, unsigned id, uint32_t *count)
{
    uint32_t v = fb_field_target(buf, tpos, id);
    if (count)
        *count = v ? fb_ld32(buf + v) : 0;
    return v ? buf + v + 4 : NULL;
}

/* Position of the i-th offset slot of a vector, from the element pointer fb_get_vector() returned. */
static uint32_t fb_vec_slot(const uint8_t *buf, const void *vec, uint32_t i)
{
    return (uint32_t)((const uint8_t *)vec - buf) + 4 * i;
}

uint32_t fb_vec_table(const uint8_t *buf, const void *vec, uint32_t i)
{
    uint32_t slot = fb_vec_slot(buf, vec, i);
    return slot + fb_ld32(buf + slot);
}

const char *fb_vec_string(const uint8_t *buf, const void *vec, uint32_t i, uint32_t *len)
{
    uint32_t slot = fb_vec_slot(buf, vec, i);
    uint32_t s = slot + fb_ld32(buf + slot);
    if (len)
        *len = fb_ld32(buf + s);
    return (const char *)buf + s + 4;
}
