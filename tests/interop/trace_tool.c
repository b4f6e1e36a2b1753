/*
 * trace_tool.c — a test helper that works at the byte level of the format, so the interop tests can hand our
 * frames to the official tools (flatc, zstd) and ours theirs. It is a test program, not a user tool: it uses
 * format/ internals where the public API deliberately has no access.
 *
 *   trace_tool write OUT RAW SHUF     a trace with one bf16 tensor [64,1024] in 2 chunks of 64 KiB, plus metadata;
 *                                     RAW gets the tensor bytes, SHUF the byte-shuffled first chunk
 *   trace_tool frames FILE            one line per frame: offset type codec filter elem_size stored raw aux seq
 *   trace_tool assemble OUT SPEC...   a trace made of RAW frames, SPEC = TYPE:PATH[:AUX[:SEQ]] with TYPE one of
 *                                     payload batch meta footer; a trailer is added when the last one is a footer
 *   trace_tool dump FILE              the records and metadata as the public reader sees them (stable text)
 *   trace_tool golden OUT             the golden sample trace (deterministic content)
 */
#define _POSIX_C_SOURCE 200809L
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "frame.h"
#include "tt/dtype.h"
#include "tt/reader.h"
#include "tt/writer.h"

static int die(const char *msg, const char *arg)
{
    fprintf(stderr, "trace_tool: %s%s%s\n", msg, arg ? ": " : "", arg ? arg : "");
    return 2;
}

static uint8_t *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *p = malloc((size_t)n + 1);
    if (p && fread(p, 1, (size_t)n, f) != (size_t)n) {
        free(p);
        p = NULL;
    }
    fclose(f);
    *len = (size_t)n;
    return p;
}

static int spit(const char *path, const void *p, size_t n)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        return -1;
    size_t k = fwrite(p, 1, n, f);
    return (fclose(f) == 0 && k == n) ? 0 : -1;
}

static int cmd_write(const char *out, const char *raw, const char *shuf)
{
    tt_writer_options o = TT_WRITER_OPTIONS_INIT;
    o.payload_filter = TT_PAYLOAD_FILTER_SHUFFLE; /* this file shows byte shuffle + zstd to the zstd CLI */
    o.ignore_env = 1;
    o.chunk_bytes = 64 << 10;
    tt_writer *w;
    if (tt_writer_open(&w, out, &o) != TT_OK)
        return die(tt_writer_errmsg(w), out);
    tt_writer_set_meta(w, "engine", "interop");
    tt_writer_set_meta(w, "model", "tiny \"quoted\"");
    size_t n = 64 * 1024;
    float *f = malloc(n * sizeof *f);
    uint16_t *b = malloc(n * 2);
    for (size_t i = 0; i < n; i++)
        f[i] = (float)((int)(i * 2654435761u % 2001) - 1000) / 512.0f;
    tt_from_f32(TT_BF16, f, n, b);
    tt_key k = TT_KEY_INIT;
    k.prompt_id = "p0_short";
    k.phase = "prefill_last";
    k.point = "attn_out";
    k.layer = 3;
    k.pos_id = 37;
    k.rows = 64;
    uint64_t shape[2] = {64, 1024};
    int rc = tt_put(w, &k, TT_BF16, 2, shape, b);
    k.point = "mlp_out";
    rc |= tt_put(w, &k, TT_BF16, 2, shape, b);
    rc |= tt_writer_close(w);
    if (rc != TT_OK)
        return die(tt_writer_errmsg(w), out);
    tt_writer_free(w);
    uint8_t *sh = malloc(64 << 10);
    tt_shuffle_bytes((const uint8_t *)b, sh, 64 << 10, 2);
    rc = spit(raw, b, n * 2) | spit(shuf, sh, 64 << 10);
    free(f), free(b), free(sh);
    return rc ? die("cannot write", raw) : 0;
}

static int cmd_frames(const char *path)
{
    size_t len;
    uint8_t *p = slurp(path, &len);
    if (!p)
        return die("cannot read", path);
    uint64_t pos = TT_FILE_HEADER_SIZE;
    while (pos + TT_FRAME_HEADER_SIZE <= len) {
        tt_frame_header h;
        if (tt_frame_header_decode(p + pos, &h, NULL, 0) != TT_OK)
            break;
        printf("%" PRIu64 " %s %u %u %u %" PRIu64 " %" PRIu64 " %u %" PRIu64 "\n", pos, tt_frame_type_name(h.type),
               h.codec, h.filter, h.elem_size, h.stored_size, h.raw_size, h.aux, h.seq);
        pos += TT_FRAME_HEADER_SIZE + h.stored_size;
    }
    free(p);
    return 0;
}

static int cmd_assemble(const char *out, int n, char **specs)
{
    FILE *f = fopen(out, "wb");
    if (!f)
        return die("cannot create", out);
    uint8_t hb[TT_FILE_HEADER_SIZE];
    tt_file_header fh = {TT_FORMAT_MAJOR, TT_FORMAT_MINOR, 0};
    tt_file_header_encode(&fh, hb);
    fwrite(hb, 1, sizeof hb, f);
    uint64_t pos = TT_FILE_HEADER_SIZE, last_off = 0, last_size = 0;
    int last_footer = 0;
    for (int i = 0; i < n; i++) {
        char *spec = strdup(specs[i]);
        char *type = strtok(spec, ":"), *path = strtok(NULL, ":"), *aux = strtok(NULL, ":"),
             *seq = strtok(NULL, ":");
        size_t len;
        uint8_t *payload = path ? slurp(path, &len) : NULL;
        if (!payload) {
            fclose(f);
            return die("cannot read frame payload", specs[i]);
        }
        tt_frame_header h = {0};
        h.type = strcmp(type, "payload") == 0 ? TT_FRAME_PAYLOAD
                 : strcmp(type, "batch") == 0 ? TT_FRAME_BATCH
                 : strcmp(type, "meta") == 0  ? TT_FRAME_META
                                              : TT_FRAME_FOOTER;
        h.codec = TT_CODEC_RAW;
        h.aux = aux ? (uint32_t)strtoul(aux, NULL, 10) : 0;
        h.seq = seq ? strtoull(seq, NULL, 10) : 0;
        h.stored_size = h.raw_size = len;
        h.payload_hash = tt_hash64(payload, len);
        uint8_t fb[TT_FRAME_HEADER_SIZE];
        tt_frame_header_encode(&h, fb);
        fwrite(fb, 1, sizeof fb, f);
        fwrite(payload, 1, len, f);
        printf("%s %" PRIu64 "\n", type, pos);
        last_off = pos;
        last_size = TT_FRAME_HEADER_SIZE + len;
        last_footer = h.type == TT_FRAME_FOOTER;
        pos += last_size;
        free(payload);
        free(spec);
    }
    if (last_footer) {
        tt_trailer t = {last_off, last_size};
        uint8_t tb[TT_TRAILER_SIZE];
        tt_trailer_encode(&t, tb);
        fwrite(tb, 1, sizeof tb, f);
    }
    return fclose(f) == 0 ? 0 : die("write failed", out);
}

static void print_int(const char *name, int32_t v)
{
    if (v != TT_UNSET)
        printf(" %s=%d", name, v);
}

static int cmd_dump(const char *path)
{
    tt_reader *r;
    if (tt_reader_open(&r, path, NULL) != TT_OK) {
        fprintf(stderr, "%s\n", tt_reader_errmsg(r));
        tt_reader_close(r);
        return 1;
    }
    tt_file_info info;
    tt_reader_info(r, &info);
    printf("format %u.%u records %" PRIu64 " footer %d\n", info.format_major, info.format_minor,
           tt_reader_count(r), info.footer_intact);
    for (uint64_t i = 0; i < info.meta_count; i++) {
        const char *k, *v;
        tt_reader_meta(r, i, &k, &v);
        printf("meta %s=%s\n", k, v);
    }
    int rc = 0;
    for (uint64_t i = 0; i < tt_reader_count(r); i++) {
        tt_record rec;
        if (tt_reader_record(r, i, &rec) != TT_OK) {
            printf("record %" PRIu64 ": %s\n", i, tt_reader_errmsg(r));
            rc = 1;
            continue;
        }
        printf("record %" PRIu64 " seq=%" PRIu64 " prompt=%s phase=%s point=%s", i, rec.seq, rec.key.prompt_id,
               rec.key.phase, rec.key.point);
        print_int("layer", rec.key.layer);
        print_int("step", rec.key.step);
        print_int("token_id", rec.key.token_id);
        print_int("logical_tok_idx", rec.key.logical_tok_idx);
        print_int("pos_id", rec.key.pos_id);
        print_int("rows", rec.key.rows);
        printf(" rank=%d dtype=%s shape=[", rec.key.rank, tt_dtype_name(rec.dtype));
        for (int d = 0; d < rec.ndim; d++)
            printf("%s%" PRIu64, d ? "," : "", rec.shape[d]);
        printf("] flags=%u", rec.flags);
        if (rec.key.shard_kind != TT_SHARD_NONE)
            printf(" shard=%d:%d:%d/%d", rec.key.shard_kind, rec.key.shard_dim, rec.key.shard_index,
                   rec.key.shard_count);
        if (rec.flags & TT_REC_HAS_HASH)
            printf(" hash=%" PRIu64, rec.hash);
        if (rec.flags & TT_REC_HAS_STATS)
            printf(" min=%.9g max=%.9g mean=%.9g absmax=%.9g nan=%" PRIu64 " inf=%" PRIu64, rec.stats.min,
                   rec.stats.max, rec.stats.mean, rec.stats.absmax, rec.stats.nan_count, rec.stats.inf_count);
        if (rec.flags & TT_REC_HAS_PAYLOAD) {
            uint8_t *buf = malloc(rec.nbytes + 1);
            int st = tt_reader_read(r, i, buf, rec.nbytes);
            if (st == TT_OK) {
                printf(" data_hash=%" PRIu64, tt_hash(buf, rec.nbytes));
                if (rec.nbytes <= 64) { /* small tensors in full, so tests can check bytes independently */
                    printf(" data_hex=");
                    for (uint64_t b = 0; b < rec.nbytes; b++)
                        printf("%02x", buf[b]);
                }
            }
            else {
                printf(" read_error=%s", tt_status_name(st));
                rc = 1;
            }
            free(buf);
        }
        printf("\n");
    }
    tt_reader_close(r);
    return rc;
}

/* The golden sample: a few records of several dtypes and modes with content that depends on nothing but the
 * code below. Regenerate with: trace_tool golden samples/golden/small.tt (then the expected dump). */
static int cmd_golden(const char *out)
{
    tt_writer_options o = TT_WRITER_OPTIONS_INIT;
    o.ignore_env = 1;
    o.chunk_bytes = 4096;
    o.batch_records = 4;
    tt_writer *w;
    if (tt_writer_open(&w, out, &o) != TT_OK)
        return die(tt_writer_errmsg(w), out);
    tt_writer_set_meta(w, "engine", "golden");
    tt_writer_set_meta(w, "model", "none");
    const tt_dtype dts[] = {TT_F32, TT_BF16, TT_F16, TT_F8_E4M3FNUZ, TT_I32};
    float f[1200];
    for (int i = 0; i < 1200; i++)
        f[i] = (float)((i * 37) % 101 - 50) / 16.0f;
    uint8_t buf[1200 * 4];
    for (int d = 0; d < 5; d++) {
        tt_from_f32(dts[d], f, 1200, buf);
        tt_key k = TT_KEY_INIT;
        k.prompt_id = d % 2 ? "p6_len_16" : "p0_short";
        k.phase = d < 3 ? "prefill_last" : "decode0";
        k.point = d < 2 ? "q_pre_rope" : "attn_out";
        k.layer = d;
        k.step = d < 3 ? 0 : 1;
        k.token_id = 42;
        k.logical_tok_idx = 7;
        k.pos_id = 7;
        k.rows = 1;
        uint64_t shape[3] = {1, 12, 100};
        if (tt_put(w, &k, dts[d], 3, shape, buf) != TT_OK)
            return die(tt_writer_errmsg(w), out);
    }
    tt_record legacy;
    memset(&legacy, 0, sizeof legacy);
    legacy.key = (tt_key)TT_KEY_INIT;
    legacy.key.prompt_id = "p0_short";
    legacy.key.phase = "decode0";
    legacy.key.point = "attn_out";
    legacy.key.layer = 0;
    legacy.key.step = 1;
    legacy.key.pos_id = 37;
    legacy.key.rows = 1;
    legacy.seq = 100;
    legacy.time_ns = 1770422400000000000ull;
    legacy.flags = TT_REC_HAS_HASH | TT_REC_HAS_STATS;
    legacy.hash = 10153995460507501903ull;
    legacy.stats.min = -0.00519423;
    legacy.stats.max = 0.00725079;
    legacy.stats.mean = -0.0000474128;
    if (tt_put_record(w, &legacy, NULL) != TT_OK || tt_writer_close(w) != TT_OK)
        return die(tt_writer_errmsg(w), out);
    tt_writer_free(w);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc >= 5 && strcmp(argv[1], "write") == 0)
        return cmd_write(argv[2], argv[3], argv[4]);
    if (argc == 3 && strcmp(argv[1], "frames") == 0)
        return cmd_frames(argv[2]);
    if (argc >= 4 && strcmp(argv[1], "assemble") == 0)
        return cmd_assemble(argv[2], argc - 3, argv + 3);
    if (argc == 3 && strcmp(argv[1], "dump") == 0)
        return cmd_dump(argv[2]);
    if (argc == 3 && strcmp(argv[1], "golden") == 0)
        return cmd_golden(argv[2]);
    return die("usage: trace_tool write|frames|assemble|dump|golden ...", NULL);
}
