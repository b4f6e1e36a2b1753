/*
 * make_seeds.c — writes the seed corpora of the fuzz targets fb_verify, frame, jsonl and tolfile from real
 * objects: a small trace is written with libtrace (several dtypes, multi-chunk tensors, metadata-only records,
 * metadata), then its FlatBuffers objects and frames are cut out of it. The jsonl and tolfile seeds are short
 * texts covering each syntax the parsers accept. Run it when the format changes:
 *     build/tests/fuzz/fuzz_make_seeds tests/fuzz/corpus
 * Files are named seed_*; inputs that once crashed (crash-*, regress_*) are never touched.
 *     build/tests/fuzz/fuzz_make_seeds --fix-checksums IN OUT
 * rewrites a frame found by a fuzz build (which accepts any checksum) with valid checksums, so that the regression
 * input reaches the same code in every build.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <zstd.h>

#include "frame.h"
#include "schema.h"
#include "tt/diff.h"
#include "tt/reader.h"
#include "tt/writer.h"

static const char *g_dir;
static int g_written;

static void put_file(const char *target, const char *name, const void *p, size_t n)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", g_dir, target);
    mkdir(path, 0755);
    snprintf(path, sizeof path, "%s/%s/seed_%s", g_dir, target, name);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(p, 1, n, f) != n || fclose(f) != 0) {
        fprintf(stderr, "make_seeds: cannot write %s\n", path);
        exit(1);
    }
    g_written++;
}

static void put_text(const char *target, const char *name, const char *text)
{
    put_file(target, name, text, strlen(text));
}

/* A small trace with a bit of everything, in memory. */
static uint8_t *make_trace(size_t *len)
{
    char path[256];
    snprintf(path, sizeof path, "/tmp/tt_make_seeds_%d.tt", (int)getpid());
    tt_writer_options o = TT_WRITER_OPTIONS_INIT;
    o.ignore_env = 1;
    o.overwrite = 1;
    o.chunk_bytes = 4096;
    o.batch_records = 3;
    o.threads = 1;
    tt_writer *w;
    if (tt_writer_open(&w, path, &o) != TT_OK) {
        fprintf(stderr, "make_seeds: %s\n", tt_writer_errmsg(w));
        exit(1);
    }
    tt_writer_set_meta(w, "engine", "seed");
    tt_writer_set_meta(w, "model", "tiny");
    static float f32[1536];
    static uint16_t bf16[100];
    static int8_t i8[64];
    for (int i = 0; i < 1536; i++)
        f32[i] = (float)((i * 37) % 101) / 8.0f - 6.0f;
    for (int i = 0; i < 100; i++)
        bf16[i] = (uint16_t)(0x3f80 + i);
    for (int i = 0; i < 64; i++)
        i8[i] = (int8_t)(i - 32);
    tt_key k = TT_KEY_INIT;
    k.prompt_id = "p0";
    k.phase = "prefill";
    k.point = "attn_out";
    k.layer = 0;
    k.step = 0;
    k.pos_id = 0;
    k.rows = 3;
    uint64_t s2[2] = {3, 512};
    tt_put(w, &k, TT_F32, 2, s2, f32); /* 6 KiB: two chunks, shuffled */
    k.point = "q";
    k.layer = 1;
    k.shard_kind = TT_SHARD_SPLIT; /* the batch carries the shard columns (format 1.1) */
    k.shard_dim = 0;
    k.shard_index = 1;
    k.shard_count = 2;
    uint64_t s1[1] = {100};
    tt_put(w, &k, TT_BF16, 1, s1, bf16);
    k.shard_kind = TT_SHARD_NONE;
    k.point = "ids";
    k.phase = "decode0";
    k.rows = 1;
    uint64_t s3[1] = {64};
    tt_put(w, &k, TT_I8, 1, s3, i8);
    uint64_t s0[2] = {0, 8};
    k.point = "empty";
    tt_put(w, &k, TT_F16, 2, s0, NULL);
    tt_record rec = {0};
    tt_key k2 = TT_KEY_INIT;
    k2.point = "legacy";
    k2.prompt_id = "p1";
    rec.key = k2;
    rec.flags = TT_REC_HAS_HASH | TT_REC_HAS_STATS;
    rec.hash = 0x123456789abcdefull;
    rec.stats.min = -1, rec.stats.max = 2, rec.stats.mean = 0.5;
    tt_put_record(w, &rec, NULL);
    tt_writer_flush(w);
    tt_writer_set_meta(w, "commit", "56b755a");
    tt_writer_close(w);
    tt_writer_free(w);
    FILE *f = fopen(path, "rb");
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *p = malloc((size_t)n);
    if (fread(p, 1, (size_t)n, f) != (size_t)n)
        exit(1);
    fclose(f);
    unlink(path);
    *len = (size_t)n;
    return p;
}

/* A frame around obj with codec RAW (the fuzz build accepts any checksum, but these are right anyway). */
static void put_raw_frame(const char *name, uint8_t type, const uint8_t *obj, size_t n)
{
    uint8_t *buf = malloc(TT_FRAME_HEADER_SIZE + n);
    tt_frame_header h = {0};
    h.type = type;
    h.codec = TT_CODEC_RAW;
    h.stored_size = h.raw_size = n;
    h.payload_hash = tt_hash64(obj, n);
    tt_frame_header_encode(&h, buf);
    memcpy(buf + TT_FRAME_HEADER_SIZE, obj, n);
    put_file("frame", name, buf, TT_FRAME_HEADER_SIZE + n);
    free(buf);
}

static void cut_frames(const uint8_t *p, size_t len)
{
    put_file("frame", "file_header", p, TT_FILE_HEADER_SIZE); /* header alone */
    uint8_t ht[TT_FILE_HEADER_SIZE + TT_TRAILER_SIZE];
    memcpy(ht, p, TT_FILE_HEADER_SIZE);
    memcpy(ht + TT_FILE_HEADER_SIZE, p + len - TT_TRAILER_SIZE, TT_TRAILER_SIZE);
    put_file("frame", "header_trailer", ht, sizeof ht);
    uint64_t pos = TT_FILE_HEADER_SIZE;
    int seen[8] = {0};
    while (pos + TT_FRAME_HEADER_SIZE <= len) {
        tt_frame_header h;
        if (tt_frame_header_decode(p + pos, &h, NULL, 0) != TT_OK)
            break;
        size_t n = TT_FRAME_HEADER_SIZE + (size_t)h.stored_size;
        int t = h.type < 8 ? h.type : 0;
        char name[64];
        snprintf(name, sizeof name, "%s_%d%s%s", tt_frame_type_name(h.type), seen[t]++,
                 h.codec == TT_CODEC_ZSTD ? "_zstd" : "_raw", h.filter ? "_shuffle" : "");
        for (char *c = name; *c; c++)
            *c = (char)(*c >= 'A' && *c <= 'Z' ? *c + 32 : *c);
        if (seen[t] <= 3)
            put_file("frame", name, p + pos, n);
        if (h.type != TT_FRAME_PAYLOAD && seen[t] <= 2) {
            /* the object inside, for fb_verify and frame, and as a RAW frame the fuzzer can edit directly */
            uint8_t *obj = malloc((size_t)h.raw_size + 1);
            uint8_t *scratch = malloc((size_t)h.raw_size + 1);
            char err[256];
            if (tt_payload_decode(&h, p + pos + TT_FRAME_HEADER_SIZE, obj, scratch, NULL, err, sizeof err) == TT_OK) {
                snprintf(name, sizeof name, "%s_object_%d", tt_frame_type_name(h.type), seen[t] - 1);
                for (char *c = name; *c; c++)
                    *c = (char)(*c >= 'A' && *c <= 'Z' ? *c + 32 : *c);
                put_file("fb_verify", name, obj, (size_t)h.raw_size);
                put_file("frame", name, obj, (size_t)h.raw_size);
                snprintf(name, sizeof name, "%s_rawframe_%d", tt_frame_type_name(h.type), seen[t] - 1);
                for (char *c = name; *c; c++)
                    *c = (char)(*c >= 'A' && *c <= 'Z' ? *c + 32 : *c);
                put_raw_frame(name, h.type, obj, (size_t)h.raw_size);
            }
            free(obj);
            free(scratch);
        }
        pos += n;
    }
}

/* Objects built by hand: absent columns, empty vectors, a meta with empty strings. */
static void hand_objects(void)
{
    fb_builder b;
    fb_builder_init(&b);
    const uint8_t *out;
    size_t n;
    const char *keys[2] = {"", "k"}, *vals[2] = {"v", ""};
    if (tt_fb_encode_meta(&b, keys, vals, 2, &out, &n) == TT_OK)
        put_file("fb_verify", "meta_empty_strings", out, n);
    if (tt_fb_encode_meta(&b, NULL, NULL, 0, &out, &n) == TT_OK)
        put_file("fb_verify", "meta_no_entries", out, n);
    /* a batch with only seq and point columns */
    uint64_t seq[2] = {1, 2};
    uint32_t point[2] = {0, 0};
    const char *strs[1] = {"x"};
    tt_batch_view v = {0};
    v.n = 2;
    v.seq = seq;
    v.point = point;
    v.strings = strs;
    v.nstrings = 1;
    if (tt_fb_encode_batch(&b, &v, &out, &n) == TT_OK) {
        put_file("fb_verify", "batch_two_columns", out, n);
        put_raw_frame("batch_two_columns_rawframe", TT_FRAME_BATCH, out, n);
    }
    tt_footer_view f = {0};
    f.format_major = 1;
    f.writer = "hand";
    if (tt_fb_encode_footer(&b, &f, &out, &n) == TT_OK) {
        put_file("fb_verify", "footer_empty", out, n);
        put_raw_frame("footer_empty_rawframe", TT_FRAME_FOOTER, out, n);
    }
    fb_builder_free(&b);
}

static void jsonl_seeds(void)
{
    put_text("jsonl", "legacy_lines",
             "{\"event\": \"stage_trace\", \"prompt_id\": \"p0_short\", \"phase\": \"prefill_last\", \"point\": "
             "\"embed_out\", \"layer\": 0, \"step\": 0, \"pos_id\": 37, \"seq_len\": 38, \"hash\": "
             "4302584179999619633, \"min\": -0.0238338, \"max\": 0.0177152, \"mean\": 0.000172727}\n"
             "{\"event\": \"stage_trace\", \"prompt_id\": \"p0_short\", \"phase\": \"decode0\", \"point\": "
             "\"attn_out\", \"layer\": 0, \"step\": 1, \"token_id\": 4431, \"logical_tok_idx\": 38, \"pos_id\": 38, "
             "\"seq_len\": 1, \"hash\": 4144761570523161186, \"min\": -0.00517679, \"max\": 0.00719859, \"mean\": "
             "-4.71849e-05}\n");
    put_text("jsonl", "nonfinite_and_null",
             "{\"event\":\"stage_trace\",\"prompt_id\":\"p\",\"phase\":\"x\",\"point\":\"logits\",\"layer\":-1,"
             "\"step\":2,\"pos_id\":3,\"seq_len\":1,\"token_id\":null,\"hash\":null,\"min\":NaN,\"max\":Infinity,"
             "\"mean\":-Infinity}\n");
    put_text("jsonl", "quoted_hashes",
             "{\"event\":\"stage_trace\",\"prompt_id\":\"p\",\"phase\":\"x\",\"point\":\"a\",\"layer\":1,\"step\":0,"
             "\"pos_id\":0,\"seq_len\":4,\"hash\":\"18446744073709551615\"}\n"
             "{\"event\":\"stage_trace\",\"prompt_id\":\"p\",\"phase\":\"x\",\"point\":\"b\",\"layer\":1,\"step\":0,"
             "\"pos_id\":0,\"seq_len\":4,\"hash\":\"0xDEADbeef00000001\"}\n");
    put_text("jsonl", "extras",
             "{\"event\":\"stage_trace\",\"prompt_id\":\"p\",\"phase\":\"x\",\"point\":\"mlp\",\"layer\":2,"
             "\"step\":0,\"pos_id\":0,\"seq_len\":2,\"rank\":1,\"dtype\":\"bf16\",\"shape\":[2,4096],\"hash\":7,"
             "\"min\":-1e-3,\"max\":2.5E+2,\"mean\":0.0,\"absmax\":250,\"l2\":12.5,\"nan_count\":0,"
             "\"inf_count\":3}\n");
    put_text("jsonl", "escapes_and_unknown",
             "\xef\xbb\xbf{\"event\":\"stage_trace\",\"prompt_id\":\"p\\u00e9\\ud83d\\ude00\\n\\\"q\\\"\","
             "\"phase\":\"\xc3\xa9t\xc3\xa9\",\"point\":\"a\\/b\",\"layer\":0,\"step\":0,\"pos_id\":0,\"seq_len\":1,"
             "\"extra\":{\"nested\":[1,[2,{\"x\":null}],true,false]},\"note\":\"\"}\r\n");
    put_text("jsonl", "other_events_blank",
             "{\"event\": \"run_start\", \"host\": \"mi300x\", \"commit\": \"56b755a\"}\n\n   \t\n"
             "{\"event\": \"stage_trace\", \"prompt_id\": \"p0_short\", \"phase\": \"decode0\" \"point\": "
             "\"attn_out\"}\n"
             "{\"event\": \"stage_trace\", \"prompt_id\": \"p0_short\", \"phase\": \"decode0\", \"point\": "
             "\"attn_out\", \"layer\": 0, \"step\": 1, \"pos_id\": 37, \"hash\": 1}\n"
             "[1,2]\n{\"event\":\"stage_trace\",\"layer\":1e3}\n");
}

static void tolfile_seeds(void)
{
    put_text("tolfile", "basic",
             "# POINT LAYER RTOL ATOL\n"
             "attn_out * 0.03 1e-3\n"
             "q_post_rope 0 0.0156 4e-3rms\n"
             "*\t*\t1e-4\t0\n"
             "\n"
             "logits -1 0 0.5   # trailing comment\n");
    put_text("tolfile", "bad_lines",
             "attn_out 0 -1 0\n"
             "attn_out x 0.1 0.1\n");
    put_text("tolfile", "duplicate", "a 1 0.1 0.1\na 1 0.2 0.2\n");
    put_text("tolfile", "spec_line", "attn_out@3=0.01:2e-3rms\n");
    tt_diff_tols *t = tt_diff_tols_new();
    tt_diff_tols_set(t, "mlp_out", 0, 5, 0.0078125, 0, 0.0625, "seed");
    tt_diff_tols_set(t, "*", 1, 0, 1e-4, 1e-12, 0, "seed");
    char *out = NULL;
    if (tt_diff_tols_format(t, &out) == TT_OK) {
        put_text("tolfile", "formatted", out);
        free(out);
    }
    tt_diff_tols_free(t);
}

/* --fix-checksums IN OUT: IN is a frame (a frame header and what follows) as a fuzz build found it, where any
 * checksum passes; OUT gets the same bytes with the header's payload and header checksums made right, so the
 * input reaches the same code in every build (ctest's replays run without TT_FUZZING_UNSAFE). */
static int fix_checksums(const char *in, const char *out)
{
    FILE *f = fopen(in, "rb");
    if (!f)
        return 1;
    static uint8_t b[1 << 24];
    size_t n = fread(b, 1, sizeof b, f);
    fclose(f);
    if (n < TT_FRAME_HEADER_SIZE) {
        fprintf(stderr, "make_seeds: %s: shorter than a frame header\n", in);
        return 1;
    }
    uint64_t stored = tt_rd64(b + 24);
    if (stored <= n - TT_FRAME_HEADER_SIZE)
        tt_le64(b + 40, tt_hash64(b + TT_FRAME_HEADER_SIZE, (size_t)stored));
    tt_le64(b + 48, tt_hash64(b, 48));
    f = fopen(out, "wb");
    if (!f || fwrite(b, 1, n, f) != n || fclose(f) != 0)
        return 1;
    return 0;
}

int main(int argc, char **argv)
{
    if (argc == 4 && strcmp(argv[1], "--fix-checksums") == 0)
        return fix_checksums(argv[2], argv[3]);
    if (argc != 2) {
        fprintf(stderr, "usage: %s CORPUS_DIR (tests/fuzz/corpus)\n"
                        "       %s --fix-checksums IN OUT\n", argv[0], argv[0]);
        return 2;
    }
    g_dir = argv[1];
    size_t len;
    uint8_t *trace = make_trace(&len);
    cut_frames(trace, len);
    free(trace);
    hand_objects();
    jsonl_seeds();
    tolfile_seeds();
    printf("make_seeds: %d seed files written under %s\n", g_written, g_dir);
    return 0;
}
