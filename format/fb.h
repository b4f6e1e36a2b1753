/*
 * fb.h — a minimal FlatBuffers builder, verifier and accessors in C, enough for schemas/trace.fbs.
 *
 * There is no C FlatBuffers library among the system packages, and the schema is small, so this is written for
 * the subset it uses: tables whose fields are scalars (1, 2, 4, 8 bytes), strings, vectors of scalars, vectors of
 * strings, vectors of tables and sub-tables. No unions, no structs, no nested flatbuffers. The wire format is the
 * standard one (little-endian, 32-bit unsigned offsets pointing forward, tables with signed offsets to vtables,
 * a 4-byte file identifier after the root offset), so buffers built here convert with the official `flatc
 * --json` and buffers built by `flatc -b` are read here.
 *
 * Builder: back to front, like the official builders: children (strings, vectors, tables) are created before the
 * table that points at them, and only one table is under construction at a time. Errors are sticky: after a
 * failed allocation or a limit, every call returns 0 / does nothing and fb_builder_error() tells; fb_finish()
 * then fails. Vtables are de-duplicated.
 *
 * Verifier: the threat model is a hostile buffer. fb_verify() checks, before anything is read through it, that the
 * buffer is at least 8 bytes, that the root offset, every table, vtable, field, string and vector lies inside the
 * buffer with the alignment of its type, that strings are zero-terminated, that vector byte sizes do not
 * overflow, and that nesting depth and the total number of tables stay under limits. Fields the description does
 * not know (appended by a newer writer) are ignored. After fb_verify() succeeds, the accessors below may be used
 * on that buffer without further checks; before, they must not be.
 *
 * No I/O, no threads, no global state.
 */
#ifndef TT_FORMAT_FB_H
#define TT_FORMAT_FB_H

#include <stddef.h>
#include <stdint.h>

/* Largest buffer the builder produces and the verifier accepts (FlatBuffers itself stops at 2 GiB). */
#define FB_MAX_BUFFER ((size_t)1 << 30)
/* Field ids per table the builder supports. */
#define FB_MAX_FIELDS 64
/* Default verifier limits. */
#define FB_MAX_DEPTH 16
#define FB_MAX_TABLES 1000000

/* A reference to an object created in a builder: its distance from the end of the buffer. 0 means none/failed. */
typedef uint32_t fb_ref;

typedef struct fb_builder {
    uint8_t *buf;        /* allocation; data occupies the last `used` bytes */
    size_t cap;          /* allocation size */
    size_t used;         /* bytes written, counted from the end */
    size_t minalign;     /* largest alignment used so far */
    int error;           /* 0, or a negative TT_E_* code (sticky) */
    /* table under construction */
    int in_table;
    size_t table_start;  /* `used` when the table began */
    uint32_t field_ref[FB_MAX_FIELDS]; /* `used` after the field was written, 0 = absent */
    int field_max;       /* highest field id set + 1 */
    /* written vtables, for de-duplication: their positions as `used` values */
    uint32_t *vtables;
    size_t nvtables, capvtables;
} fb_builder;

/*! fb_builder_init() : an empty builder (no allocation yet). */
void fb_builder_init(fb_builder *b);
/*! fb_builder_free() : releases memory; the builder may be re-initialised. NULL is a no-op. */
void fb_builder_free(fb_builder *b);
/*! fb_builder_reset() : empties the builder, keeping its memory for the next buffer. */
void fb_builder_reset(fb_builder *b);
/*! fb_builder_error() : 0 or the sticky TT_E_* code (TT_E_NOMEM, TT_E_LIMIT, TT_E_INVAL for misuse such as
 *  nesting tables or a field id >= FB_MAX_FIELDS). */
int fb_builder_error(const fb_builder *b);

/*! fb_create_string() : a string of len bytes (need not be zero-terminated; a terminator is added). */
fb_ref fb_create_string(fb_builder *b, const char *s, size_t len);
/*! fb_create_vector() : a vector of count scalars of elem_size bytes (1, 2, 4 or 8), copied from data, which
 *  holds them little-endian. Aligned to max(4, elem_size). count 0 gives an empty vector. */
fb_ref fb_create_vector(fb_builder *b, const void *data, size_t count, size_t elem_size);
/*! fb_create_vector_refs() : a vector of offsets to strings or tables created earlier. */
fb_ref fb_create_vector_refs(fb_builder *b, const fb_ref *refs, size_t count);

/*! fb_table_begin() : starts a table. Fields are then added in any order, each id at most once. */
void fb_table_begin(fb_builder *b);
/*! fb_add_scalar() : adds a scalar field of size 1, 2, 4 or 8 bytes from little-endian bytes at v. Always
 *  written, even when equal to the schema default (readers then need no defaults to agree). */
void fb_add_scalar(fb_builder *b, unsigned id, const void *v, size_t size);
void fb_add_u8(fb_builder *b, unsigned id, uint8_t v);
void fb_add_u16(fb_builder *b, unsigned id, uint16_t v);
void fb_add_u32(fb_builder *b, unsigned id, uint32_t v);
void fb_add_i32(fb_builder *b, unsigned id, int32_t v);
void fb_add_u64(fb_builder *b, unsigned id, uint64_t v);
void fb_add_f64(fb_builder *b, unsigned id, double v);
/*! fb_add_ref() : adds an offset field (string, vector or table); ref 0 means "absent" and adds nothing. */
void fb_add_ref(fb_builder *b, unsigned id, fb_ref ref);
/*! fb_table_end() : finishes the table (writes or reuses its vtable). */
fb_ref fb_table_end(fb_builder *b);

/*! fb_finish() : writes the root offset and the 4-byte file identifier (ident may be NULL for none) and
 *  returns the finished buffer, which stays valid until the next call on the builder.
 *  @return : 0 (TT_OK), or the sticky error. */
int fb_finish(fb_builder *b, fb_ref root, const char *ident, const uint8_t **data, size_t *size);

/* ---- Verification ---------------------------------------------------------------------------------------- */

typedef enum fb_kind {
    FB_SCALAR = 1,     /* size = 1, 2, 4 or 8 */
    FB_STRING = 2,
    FB_VEC_SCALAR = 3, /* size = element size */
    FB_VEC_STRING = 4,
    FB_TABLE = 5,      /* table = description of the sub-table */
    FB_VEC_TABLE = 6   /* table = description of the element tables */
} fb_kind;

typedef struct fb_table_desc fb_table_desc;

typedef struct fb_field_desc {
    const char *name;
    uint16_t id;
    uint8_t kind;  /* fb_kind */
    uint8_t size;  /* scalar or element size */
    const fb_table_desc *table;
} fb_field_desc;

struct fb_table_desc {
    const char *name;
    const fb_field_desc *fields;
    size_t nfields;
};

typedef struct fb_limits {
    unsigned max_depth;  /* 0 = FB_MAX_DEPTH */
    size_t max_tables;   /* 0 = FB_MAX_TABLES */
} fb_limits;

/*! fb_verify() : verifies buf[0..len) as a buffer whose root table is described by root, with file identifier
 *  ident (NULL: not checked). On failure writes into err (errlen bytes, may be 0) what is wrong and where, as
 *  "Footer.batches.offset: vector at 1234 extends past the end of the 2000-byte buffer".
 *  @return : 0 (TT_OK) or TT_E_CORRUPT (TT_E_LIMIT when a limit, not the structure, is what failed). */
int fb_verify(const uint8_t *buf, size_t len, const char *ident, const fb_table_desc *root,
              const fb_limits *limits, char *err, size_t errlen);

/* ---- Access (verified buffers only) ------------------------------------------------------------------------
 * Tables are addressed by their absolute position in the buffer (uint32_t; 0 is never a valid table position
 * since the root offset occupies bytes 0..3, so 0 means "absent").
 */

/*! fb_root() : position of the root table. */
uint32_t fb_root(const uint8_t *buf);
/*! fb_has_ident() : 1 when bytes 4..7 equal ident (len must be >= 8). */
int fb_has_ident(const uint8_t *buf, size_t len, const char *ident);
/*! fb_field_pos() : absolute position of field id of the table at tpos, or 0 when absent. */
uint32_t fb_field_pos(const uint8_t *buf, uint32_t tpos, unsigned id);

uint8_t fb_get_u8(const uint8_t *buf, uint32_t tpos, unsigned id, uint8_t def);
uint16_t fb_get_u16(const uint8_t *buf, uint32_t tpos, unsigned id, uint16_t def);
uint32_t fb_get_u32(const uint8_t *buf, uint32_t tpos, unsigned id, uint32_t def);
int32_t fb_get_i32(const uint8_t *buf, uint32_t tpos, unsigned id, int32_t def);
uint64_t fb_get_u64(const uint8_t *buf, uint32_t tpos, unsigned id, uint64_t def);
double fb_get_f64(const uint8_t *buf, uint32_t tpos, unsigned id, double def);

/*! fb_get_string() : the string field (zero-terminated) and its length, or NULL when absent. */
const char *fb_get_string(const uint8_t *buf, uint32_t tpos, unsigned id, uint32_t *len);
/*! fb_get_table() : position of a sub-table field, 0 when absent. */
uint32_t fb_get_table(const uint8_t *buf, uint32_t tpos, unsigned id);
/*! fb_get_vector() : pointer to the first element of a vector field and its element count; NULL with
 *  *count = 0 when absent. For vectors of scalars the elements are little-endian, aligned to their size. */
const void *fb_get_vector(const uint8_t *buf, uint32_t tpos, unsigned id, uint32_t *count);
/*! fb_vec_table() : position of element i of a vector of tables returned by fb_get_vector(). */
uint32_t fb_vec_table(const uint8_t *buf, const void *vec, uint32_t i);
/*! fb_vec_string() : element i of a vector of strings returned by fb_get_vector(), with its length. */
const char *fb_vec_string(const uint8_t *buf, const void *vec, uint32_t i, uint32_t *len);

#endif /* TT_FORMAT_FB_H */
