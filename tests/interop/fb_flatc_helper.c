/*
 * fb_flatc_helper.c — the C side of tests/interop/test_fb_flatc.sh: writes FlatBuffers shaped like
 * schemas/trace.fbs (a Footer with metadata, strings, batch and frame indexes and counters; a Meta) with
 * format/fb.c for the official `flatc --json` to read, and reads back buffers that `flatc -b` built, printing
 * every field after fb_verify() as "path=value" lines for the script to compare.
 *
 *   fb_flatc_helper write-footer FILE | write-meta FILE | read-footer FILE | read-meta FILE
 *
 * Exit status: 0 on success, 1 when a buffer fails to build, verify or be written, 2 on bad usage.
 * The descriptions here are the test's own transcription of trace.fbs (field ids = declaration order).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fb.h"
#include "tt/common.h"

/* ---- Descriptions of trace.fbs ---------------------------------------------------------------------------- */

static const fb_field_desc kv_fields[] = {
    {"key", 0, FB_STRING, 0, NULL},
    {"value", 1, FB_STRING, 0, NULL},
};
static const fb_table_desc kv_desc = {"KeyValue", kv_fields, 2};

static const fb_field_desc counters_fields[] = {
    {"puts", 0, FB_SCALAR, 8, NULL},         {"filtered", 1, FB_SCALAR, 8, NULL},
    {"dropped", 2, FB_SCALAR, 8, NULL},      {"written", 3, FB_SCALAR, 8, NULL},
    {"bytes_raw", 4, FB_SCALAR, 8, NULL},    {"bytes_stored", 5, FB_SCALAR, 8, NULL},
    {"payload_frames", 6, FB_SCALAR, 8, NULL}, {"batches", 7, FB_SCALAR, 8, NULL},
    {"file_bytes", 8, FB_SCALAR, 8, NULL},   {"errors", 9, FB_SCALAR, 8, NULL},
};
static const fb_table_desc counters_desc = {"Counters", counters_fields, 10};

static const fb_field_desc batchindex_fields[] = {
    {"offset", 0, FB_VEC_SCALAR, 8, NULL},    {"frame_size", 1, FB_VEC_SCALAR, 8, NULL},
    {"first_record", 2, FB_VEC_SCALAR, 8, NULL}, {"record_count", 3, FB_VEC_SCALAR, 4, NULL},
    {"seq_min", 4, FB_VEC_SCALAR, 8, NULL},   {"seq_max", 5, FB_VEC_SCALAR, 8, NULL},
    {"layer_min", 6, FB_VEC_SCALAR, 4, NULL}, {"layer_max", 7, FB_VEC_SCALAR, 4, NULL},
    {"step_min", 8, FB_VEC_SCALAR, 4, NULL},  {"step_max", 9, FB_VEC_SCALAR, 4, NULL},
    {"pos_min", 10, FB_VEC_SCALAR, 4, NULL},  {"pos_max", 11, FB_VEC_SCALAR, 4, NULL},
};
static const fb_table_desc batchindex_desc = {"BatchIndex", batchindex_fields, 12};

static const fb_field_desc frameindex_fields[] = {
    {"offset", 0, FB_VEC_SCALAR, 8, NULL},
    {"type", 1, FB_VEC_SCALAR, 1, NULL},
};
static const fb_table_desc frameindex_desc = {"FrameIndex", frameindex_fields, 2};

enum {
    F_FORMAT_MAJOR, F_FORMAT_MINOR, F_WRITER, F_CREATED_NS, F_CLOSED_NS, F_CHUNK_BYTES, F_RECORD_COUNT, F_META,
    F_STRINGS, F_BATCHES, F_FRAMES, F_COUNTERS
};
static const fb_field_desc footer_fields[] = {
    {"format_major", F_FORMAT_MAJOR, FB_SCALAR, 2, NULL},
    {"format_minor", F_FORMAT_MINOR, FB_SCALAR, 2, NULL},
    {"writer", F_WRITER, FB_STRING, 0, NULL},
    {"created_ns", F_CREATED_NS, FB_SCALAR, 8, NULL},
    {"closed_ns", F_CLOSED_NS, FB_SCALAR, 8, NULL},
    {"chunk_bytes", F_CHUNK_BYTES, FB_SCALAR, 4, NULL},
    {"record_count", F_RECORD_COUNT, FB_SCALAR, 8, NULL},
    {"meta", F_META, FB_VEC_TABLE, 0, &kv_desc},
    {"strings", F_STRINGS, FB_VEC_STRING, 0, NULL},
    {"batches", F_BATCHES, FB_TABLE, 0, &batchindex_desc},
    {"frames", F_FRAMES, FB_TABLE, 0, &frameindex_desc},
    {"counters", F_COUNTERS, FB_TABLE, 0, &counters_desc},
};
static const fb_table_desc footer_desc = {"Footer", footer_fields, 12};

static const fb_field_desc meta_fields[] = {
    {"entries", 0, FB_VEC_TABLE, 0, &kv_desc},
};
static const fb_table_desc meta_desc = {"Meta", meta_fields, 1};

/* Fields of type [int] in trace.fbs: the descriptions do not carry signedness, the printout needs it. */
static int is_signed_field(const fb_table_desc *d, const fb_field_desc *f)
{
    return d == &batchindex_desc && f->size == 4 && strcmp(f->name, "record_count") != 0;
}

/* ---- Writing ----------------------------------------------------------------------------------------------- */

/* The values the script expects to find in flatc's JSON. */
static const char *const meta_keys[] = {"model", "note"};
static const char *const meta_values[] = {"tinylm", "quote \" backslash \\ tab\t \xc3\xa9t\xc3\xa9"};
static const char *const dict[] = {"p6_len_16", "prefill_last", "attn_out", ""};

static fb_ref str(fb_builder *b, const char *s)
{
    return fb_create_string(b, s, strlen(s));
}

/* Small vectors (at most 8 elements) from host values, stored little-endian. */
static fb_ref vec_u64(fb_builder *b, const uint64_t *v, size_t n)
{
    uint8_t le[8 * 8];
    for (size_t i = 0; i < n && i < 8; i++)
        for (int k = 0; k < 8; k++)
            le[8 * i + k] = (uint8_t)(v[i] >> (8 * k));
    return fb_create_vector(b, le, n, 8);
}

static fb_ref vec_i32(fb_builder *b, const int32_t *v, size_t n)
{
    uint8_t le[8 * 4];
    for (size_t i = 0; i < n && i < 8; i++) {
        uint32_t u = (uint32_t)v[i];
        for (int k = 0; k < 4; k++)
            le[4 * i + k] = (uint8_t)(u >> (8 * k));
    }
    return fb_create_vector(b, le, n, 4);
}

static fb_ref build_entries(fb_builder *b)
{
    fb_ref kvs[2];
    for (int i = 0; i < 2; i++) {
        fb_ref k = str(b, meta_keys[i]), v = str(b, meta_values[i]);
        fb_table_begin(b);
        fb_add_ref(b, 0, k);
        fb_add_ref(b, 1, v);
        kvs[i] = fb_table_end(b);
    }
    return fb_create_vector_refs(b, kvs, 2);
}

static fb_ref build_batch_index(fb_builder *b)
{
    static const uint64_t offset[] = {64, 8192}, frame_size[] = {100, 200}, first[] = {0, 21};
    static const uint64_t seq_min[] = {1, 22}, seq_max[] = {21, 42};
    static const int32_t count[] = {21, 21}, layer_min[] = {-1, 0}, layer_max[] = {3, 3};
    static const int32_t step_min[] = {0, 1}, step_max[] = {0, 5}, pos_min[] = {-1, 16}, pos_max[] = {15, 20};
    fb_ref r[12] = {vec_u64(b, offset, 2),   vec_u64(b, frame_size, 2), vec_u64(b, first, 2),
                    vec_i32(b, count, 2),    vec_u64(b, seq_min, 2),    vec_u64(b, seq_max, 2),
                    vec_i32(b, layer_min, 2), vec_i32(b, layer_max, 2), vec_i32(b, step_min, 2),
                    vec_i32(b, step_max, 2), vec_i32(b, pos_min, 2),    vec_i32(b, pos_max, 2)};
    fb_table_begin(b);
    for (unsigned i = 0; i < 12; i++)
        fb_add_ref(b, i, r[i]);
    return fb_table_end(b);
}

static fb_ref build_frame_index(fb_builder *b)
{
    static const uint64_t offset[] = {16, 32, 48};
    static const uint8_t type[] = {1, 1, 3}; /* PAYLOAD, PAYLOAD, META */
    fb_ref o = vec_u64(b, offset, 3), t = fb_create_vector(b, type, 3, 1);
    fb_table_begin(b);
    fb_add_ref(b, 0, o);
    fb_add_ref(b, 1, t);
    return fb_table_end(b);
}

static fb_ref build_counters(fb_builder *b)
{
    static const uint64_t v[10] = {50, 3, 5, 42, UINT64_C(9007199254740993), UINT64_MAX, 42, 2, 123456, 0};
    fb_table_begin(b);
    for (unsigned i = 0; i < 10; i++)
        fb_add_u64(b, i, v[i]);
    return fb_table_end(b);
}

static int build_footer(fb_builder *b, const uint8_t **out, size_t *size)
{
    fb_ref writer = str(b, "tensortrace 0.1.0");
    fb_ref meta = build_entries(b);
    fb_ref s[4];
    for (int i = 0; i < 4; i++)
        s[i] = str(b, dict[i]);
    fb_ref strings = fb_create_vector_refs(b, s, 4);
    fb_ref batches = build_batch_index(b);
    fb_ref frames = build_frame_index(b);
    fb_ref counters = build_counters(b);
    fb_table_begin(b);
    fb_add_u16(b, F_FORMAT_MAJOR, 1);
    fb_add_u16(b, F_FORMAT_MINOR, 3);
    fb_add_ref(b, F_WRITER, writer);
    fb_add_u64(b, F_CREATED_NS, UINT64_C(1700000000123456789));
    fb_add_u64(b, F_CLOSED_NS, UINT64_C(1700000001000000000));
    fb_add_u32(b, F_CHUNK_BYTES, 1048576);
    fb_add_u64(b, F_RECORD_COUNT, 42);
    fb_add_ref(b, F_META, meta);
    fb_add_ref(b, F_STRINGS, strings);
    fb_add_ref(b, F_BATCHES, batches);
    fb_add_ref(b, F_FRAMES, frames);
    fb_add_ref(b, F_COUNTERS, counters);
    fb_ref root = fb_table_end(b);
    return fb_finish(b, root, "TTR1", out, size);
}

static int build_meta(fb_builder *b, const uint8_t **out, size_t *size)
{
    fb_ref entries = build_entries(b);
    fb_table_begin(b);
    fb_add_ref(b, 0, entries);
    fb_ref root = fb_table_end(b);
    return fb_finish(b, root, "TTR1", out, size);
}

static int write_file(const char *path, const uint8_t *data, size_t size)
{
    FILE *f = fopen(path, "wb");
    if (!f) {
        perror(path);
        return 1;
    }
    int bad = fwrite(data, 1, size, f) != size;
    bad |= fclose(f) != 0;
    if (bad)
        fprintf(stderr, "%s: write failed\n", path);
    return bad;
}

static int do_write(const char *path, int footer)
{
    fb_builder b;
    fb_builder_init(&b);
    const uint8_t *data;
    size_t size;
    int rc = footer ? build_footer(&b, &data, &size) : build_meta(&b, &data, &size);
    int status = 1;
    if (rc != TT_OK) {
        fprintf(stderr, "building the buffer failed: status %d\n", rc);
    } else {
        /* what we hand to flatc must pass our own verifier first */
        char err[256];
        rc = fb_verify(data, size, "TTR1", footer ? &footer_desc : &meta_desc, NULL, err, sizeof err);
        if (rc != TT_OK)
            fprintf(stderr, "own buffer does not verify: %s\n", err);
        else
            status = write_file(path, data, size);
    }
    fb_builder_free(&b);
    return status;
}

/* ---- Reading ----------------------------------------------------------------------------------------------- */

static uint64_t ld(const uint8_t *p, unsigned size)
{
    uint64_t v = 0;
    for (unsigned k = 0; k < size; k++)
        v |= (uint64_t)p[k] << (8 * k);
    return v;
}

static void print_scalar(uint64_t v, unsigned size, int is_signed)
{
    if (is_signed && size == 4)
        printf("%ld", (long)(int32_t)(uint32_t)v);
    else
        printf("%llu", (unsigned long long)v);
}

/* Strings are printed raw except backslash and control bytes, so that the script can split lines safely. */
static void print_string(const char *s, uint32_t len)
{
    for (uint32_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '\\')
            fputs("\\\\", stdout);
        else if (c < 0x20 || c == 0x7f)
            printf("\\x%02x", c);
        else
            putchar(c);
    }
}

static void print_table(const uint8_t *buf, uint32_t t, const fb_table_desc *d, const char *prefix);

static void print_field(const uint8_t *buf, uint32_t t, const fb_table_desc *d, const fb_field_desc *f,
                        const char *path)
{
    uint32_t n = 0, len = 0;
    const void *v;
    const char *s;
    char sub[256];
    switch (f->kind) {
    case FB_SCALAR: {
        uint32_t pos = fb_field_pos(buf, t, f->id);
        if (!pos)
            return;
        printf("%s=", path);
        print_scalar(ld(buf + pos, f->size), f->size, is_signed_field(d, f));
        putchar('\n');
        return;
    }
    case FB_STRING:
        s = fb_get_string(buf, t, f->id, &len);
        if (!s)
            return;
        printf("%s=", path);
        print_string(s, len);
        putchar('\n');
        return;
    case FB_VEC_SCALAR:
        v = fb_get_vector(buf, t, f->id, &n);
        if (!v)
            return;
        printf("%s=", path);
        for (uint32_t i = 0; i < n; i++) {
            if (i)
                putchar(',');
            print_scalar(ld((const uint8_t *)v + (size_t)i * f->size, f->size), f->size, is_signed_field(d, f));
        }
        putchar('\n');
        return;
    case FB_VEC_STRING:
        v = fb_get_vector(buf, t, f->id, &n);
        if (!v)
            return;
        printf("%s.count=%lu\n", path, (unsigned long)n);
        for (uint32_t i = 0; i < n; i++) {
            s = fb_vec_string(buf, v, i, &len);
            printf("%s[%lu]=", path, (unsigned long)i);
            print_string(s, len);
            putchar('\n');
        }
        return;
    case FB_TABLE: {
        uint32_t st = fb_get_table(buf, t, f->id);
        if (st)
            print_table(buf, st, f->table, path);
        return;
    }
    case FB_VEC_TABLE:
        v = fb_get_vector(buf, t, f->id, &n);
        if (!v)
            return;
        printf("%s.count=%lu\n", path, (unsigned long)n);
        for (uint32_t i = 0; i < n; i++) {
            /* the paths of trace.fbs are short; a cut one would only print under a shorter name */
            if (snprintf(sub, sizeof sub, "%s[%lu]", path, (unsigned long)i) < 0)
                return;
            print_table(buf, fb_vec_table(buf, v, i), f->table, sub);
        }
        return;
    default:
        return;
    }
}

static void print_table(const uint8_t *buf, uint32_t t, const fb_table_desc *d, const char *prefix)
{
    char path[256];
    for (size_t i = 0; i < d->nfields; i++) {
        const fb_field_desc *f = &d->fields[i];
        if (snprintf(path, sizeof path, "%s%s%s", prefix, *prefix ? "." : "", f->name) < 0)
            return;
        print_field(buf, t, d, f, path);
    }
}

static uint8_t *read_file(const char *path, size_t *size)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        perror(path);
        return NULL;
    }
    size_t cap = 4096, n = 0;
    uint8_t *buf = malloc(cap);
    while (buf) {
        n += fread(buf + n, 1, cap - n, f);
        if (n < cap)
            break;
        uint8_t *nb = cap <= FB_MAX_BUFFER ? realloc(buf, cap * 2) : NULL;
        if (!nb) {
            free(buf);
            buf = NULL;
            break;
        }
        buf = nb;
        cap *= 2;
    }
    if (!buf || ferror(f)) {
        fprintf(stderr, "%s: cannot read\n", path);
        free(buf);
        buf = NULL;
    }
    fclose(f);
    *size = n;
    return buf;
}

static int do_read(const char *path, int footer)
{
    size_t size;
    uint8_t *buf = read_file(path, &size);
    if (!buf)
        return 1;
    const fb_table_desc *d = footer ? &footer_desc : &meta_desc;
    char err[256];
    int rc = fb_verify(buf, size, "TTR1", d, NULL, err, sizeof err);
    if (rc != TT_OK) {
        fprintf(stderr, "%s: does not verify (status %d): %s\n", path, rc, err);
        free(buf);
        return 1;
    }
    printf("size=%zu\n", size);
    print_table(buf, fb_root(buf), d, "");
    free(buf);
    return fflush(stdout) != 0;
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: %s write-footer|write-meta|read-footer|read-meta FILE\n", argv[0]);
        return 2;
    }
    if (strcmp(argv[1], "write-footer") == 0)
        return do_write(argv[2], 1);
    if (strcmp(argv[1], "write-meta") == 0)
        return do_write(argv[2], 0);
    if (strcmp(argv[1], "read-footer") == 0)
        return do_read(argv[2], 1);
    if (strcmp(argv[1], "read-meta") == 0)
        return do_read(argv[2], 0);
    fprintf(stderr, "unknown command '%s'\n", argv[1]);
    return 2;
}
