/*
 * gen_cases.c — the conformance corpus generator (the gen_corpus program): writes the conformance corpus of
 * format/FORMAT.md, small trace files each with the result a conforming reader must produce
 * (format/conformance/README.md), into an output folder.
 *
 *     gen_corpus OUTDIR      writes OUTDIR/{valid,damaged,refused}/NAME.tt, NAME.json and OUTDIR/manifest.json
 *
 * The files are built frame by frame from the format codec (format/: frame headers, FlatBuffers builder, shuffle,
 * zstd), below the public writer, so that they can hold what the reference writer never writes but a reader must
 * accept (absent columns, unknown frame types and table fields, a newer minor version, zstd frames with a checksum
 * or without a content size, odd shuffle sizes, empty batches) and the damage a reader must survive. Each case
 * keeps a model of what it wrote (records, frames, batches, metadata snapshots, damage done) and the expected
 * results are computed from that model by the rules of FORMAT.md sections 8 and 9 (gen_expect.c), never by
 * reading the files back with the library. This file holds the cases and the program; gen_build.c writes files.
 *
 * Deterministic: no clock, no randomness but a generator seeded by each case's name; the same libzstd version
 * gives byte-identical files (its version is recorded in manifest.json).
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "gen_corpus.h"

/* ---- the cases -------------------------------------------------------------------------------------------- */

static void describe(gen *g, const char *description) { g->description = description; }
static void exercises(gen *g, const char *what)
{
    if (g->nex < 12)
        g->exercises[g->nex++] = what;
}

static const uint64_t S1[1] = {4}, S2[2] = {2, 3}, S0[1] = {0}, BIG[2] = {3, 1500}; /* BIG: 18000 bytes of F32 */

/* Three records, two batches, one META frame: the common case the reference writer produces. */
static void base(gen *g)
{
    gen_header(g, 1, 0, 0, 0, 32);
    gen_meta1(g, "engine", "corpus");
    grec *a = gen_record(g, "attn_out", TT_F32, 2, S2);
    gen_stats(a, -1.5, 2.25);
    gen_tensor(g, a);
    grec *b = gen_record(g, "mlp_out", TT_BF16, 1, S1);
    gen_tensor(g, b);
    gen_batch(g, 0, 2, (bopt){0});
    grec *c = gen_record(g, "logits", TT_F32, 2, BIG);
    c->phase = "decode0";
    c->step = 1;
    gen_tensor(g, c);
    gen_batch(g, 2, 1, (bopt){0});
}

static void c_minimal(gen *g)
{
    describe(g, "Three records in two batches, one META frame, closed: what the reference writer writes.");
    exercises(g, "basic");
    base(g);
    gen_footer(g);
}

static void c_every_dtype(gen *g)
{
    describe(g, "One record of each stored dtype (F32 .. F8_E5M2FNUZ) with its tensor, and a metadata-only record "
                "of dtype UNKNOWN whose nbytes is 0 whatever its shape.");
    exercises(g, "every dtype");
    exercises(g, "dtype UNKNOWN");
    exercises(g, "metadata-only records");
    gen_header(g, 1, 0, 0, 0, 32);
    gen_meta1(g, "engine", "corpus");
    static const uint64_t sh[2] = {3, 5};
    for (uint8_t dt = 1; dt < TT_DTYPE_COUNT; dt++) {
        grec *r = gen_record(g, cj_dtype_names[dt], dt, 2, sh);
        gen_tensor(g, r);
    }
    grec *u = gen_record(g, "unknown_type", TT_DTYPE_UNKNOWN, 2, sh);
    u->flags = 2 | 4;
    u->hash = 0x0123456789abcdefull;
    gen_stats(u, -3, 5);
    u->nan_count = 2, u->inf_count = 1;
    gen_batch(g, 0, g->nrec, (bopt){0});
    gen_footer(g);
}

static void c_rank0_empty(gen *g)
{
    describe(g, "A rank-0 tensor (one element), a tensor of shape [0] and one of shape [3, 0, 2]: stored tensors "
                "of 0 bytes have no PAYLOAD frame and payload_offset 0.");
    exercises(g, "rank-0 tensors");
    exercises(g, "empty tensors");
    gen_header(g, 1, 0, 0, 0, 32);
    grec *a = gen_record(g, "scalar", TT_F64, 0, NULL);
    gen_tensor(g, a);
    grec *b = gen_record(g, "empty", TT_F32, 1, S0);
    gen_tensor(g, b);
    static const uint64_t e3[3] = {3, 0, 2};
    grec *c = gen_record(g, "empty3", TT_I8, 3, e3);
    gen_tensor(g, c);
    gen_batch(g, 0, 3, (bopt){0});
    gen_footer(g);
}

static void c_multi_chunk(gen *g)
{
    describe(g, "Tensors of 5 and 3 chunks (chunk_bytes 4096), the last chunk shorter, chunks mixing zstd and "
                "stored, shuffled and not.");
    exercises(g, "multi-chunk tensors");
    exercises(g, "stored (RAW) payloads");
    gen_header(g, 1, 0, 0, 0, 32);
    grec *a = gen_record(g, "big", TT_F32, 2, BIG);
    popt mix[5] = {POPT_DEFAULT, {TT_CODEC_RAW, 0, 0, 0, 0, 0, 0}, {TT_CODEC_RAW, 4, 0, 0, 0, 0, 0}, {-1, 0, 0, 0, 0, 0, 0}, POPT_DEFAULT};
    gen_tensor_chunks(g, a, mix, 1);
    static const uint64_t s9[1] = {9000};
    grec *b = gen_record(g, "bytes", TT_U8, 1, s9);
    gen_tensor_chunks(g, b, mix, 1);
    gen_batch(g, 0, 2, (bopt){0});
    gen_footer(g);
}

static void c_odd_shuffle(gen *g)
{
    describe(g, "Payloads shuffled with element sizes that are not the dtype's (3, 5, 7, 16, and 2 over an odd "
                "byte count), so the n mod s trailing bytes are kept unshuffled; one stored shuffled without zstd.");
    exercises(g, "odd shuffle sizes");
    gen_header(g, 1, 0, 0, 0, 32);
    static const int sizes[5] = {3, 5, 7, 16, 2};
    static const uint64_t s101[1] = {101};
    for (int i = 0; i < 5; i++) {
        grec *r = gen_record(g, "shuffled", TT_U8, 1, s101);
        popt o = {TT_CODEC_ZSTD, sizes[i], 0, 0, 0, 0, 0};
        gen_tensor_chunks(g, r, &o, 0);
    }
    grec *r = gen_record(g, "shuffled_raw", TT_U8, 1, s101);
    popt o = {TT_CODEC_RAW, 3, 0, 0, 0, 0, 0};
    gen_tensor_chunks(g, r, &o, 0);
    gen_batch(g, 0, g->nrec, (bopt){0});
    gen_footer(g);
}

static void c_zstd_variants(gen *g)
{
    describe(g, "zstd payloads with a content checksum, without the content size, and with both; a BATCH frame "
                "stored without zstd.");
    exercises(g, "zstd checksum");
    exercises(g, "zstd without content size");
    exercises(g, "stored (RAW) BATCH frame");
    gen_header(g, 1, 0, 0, 0, 32);
    static const popt v[3] = {{TT_CODEC_ZSTD, -1, 1, 0, 0, 0, 0}, {TT_CODEC_ZSTD, -1, 0, 1, 0, 0, 0},
                              {TT_CODEC_ZSTD, -1, 1, 1, 0, 0, 0}};
    for (int i = 0; i < 3; i++) {
        grec *r = gen_record(g, "z", TT_F16, 2, BIG);
        popt o[3] = {v[i], v[i], v[i]};
        gen_tensor_chunks(g, r, o, 0);
    }
    gen_batch(g, 0, 3, (bopt){.raw = 1});
    gen_footer(g);
}

static void c_absent_columns(gen *g)
{
    describe(g, "Batches built by other tools: one without time_ns, prompt_id, phase, the int key columns, stats "
                "and counters (absent strings are 'not given', absent ints -1); one with only seq, point and flags "
                "(metadata-only records); and an empty batch with no columns at all.");
    exercises(g, "absent columns");
    exercises(g, "empty batch");
    gen_header(g, 1, 0, 0, 0, 32);
    grec *a = gen_record(g, "attn_out", TT_F32, 2, S2);
    gen_tensor(g, a);
    grec *b = gen_record(g, "mlp_out", TT_F32, 1, S1);
    gen_tensor(g, b);
    bopt o = {0};
    o.absent = COL(RB_TIME_NS) | COL(RB_PROMPT_ID) | COL(RB_PHASE) | COL(RB_LAYER) | COL(RB_STEP) |
               COL(RB_TOKEN_ID) | COL(RB_LOGICAL_TOK_IDX) | COL(RB_POS_ID) | COL(RB_ROWS) | COL(RB_RANK) |
               COL(RB_STAT_MIN) | COL(RB_STAT_MAX) | COL(RB_STAT_MEAN) | COL(RB_STAT_ABSMAX) | COL(RB_STAT_L2) |
               COL(RB_NAN_COUNT) | COL(RB_INF_COUNT);
    o.no_counters = 1;
    gen_batch(g, 0, 2, o);
    grec *c = gen_record(g, "norm", TT_DTYPE_UNKNOWN, 0, NULL);
    c->flags = 0;
    grec *d = gen_record(g, "norm", TT_DTYPE_UNKNOWN, 0, NULL);
    d->flags = 0;
    bopt m = {0};
    m.absent = ~(COL(RB_SEQ) | COL(RB_POINT) | COL(RB_FLAGS));
    gen_batch(g, 2, 2, m);
    bopt e = {0};
    e.absent = ~(uint64_t)0;
    e.no_counters = 1;
    gen_batch(g, 4, 0, e);
    gen_footer(g);
}

static void c_not_given(gen *g)
{
    describe(g, "Keys not given: prompt_id and phase stored as the empty string, int keys -1, rows below 1 "
                "(counted as 1 in pos ranges) and pos_id + rows past INT32_MAX (pos_max saturates).");
    exercises(g, "keys not given");
    exercises(g, "batch key ranges");
    gen_header(g, 1, 0, 0, 0, 32);
    grec *a = gen_record(g, "x", TT_F32, 1, S1);
    a->prompt_id = "", a->phase = "";
    a->layer = a->step = a->token_id = a->logical_tok_idx = a->pos_id = a->rows = -1;
    gen_tensor(g, a);
    grec *b = gen_record(g, "y", TT_F32, 1, S1);
    b->pos_id = 10, b->rows = -5, b->layer = 7;
    gen_tensor(g, b);
    grec *c = gen_record(g, "z", TT_F32, 1, S1);
    c->pos_id = INT32_MAX - 2, c->rows = 100, c->step = 3;
    gen_tensor(g, c);
    gen_batch(g, 0, 3, (bopt){0});
    grec *d = gen_record(g, "w", TT_F32, 1, S1);
    d->pos_id = -1, d->rows = 4;
    gen_tensor(g, d);
    gen_batch(g, 3, 1, (bopt){0});
    gen_footer(g);
}

static void c_several_meta(gen *g)
{
    describe(g, "Three META frames as metadata changes during capture; the last holds the complete set and equals "
                "the footer's.");
    exercises(g, "several META frames");
    gen_header(g, 1, 0, 0, 0, 32);
    gen_meta1(g, "engine", "corpus");
    grec *a = gen_record(g, "a", TT_F32, 1, S1);
    gen_tensor(g, a);
    gen_batch(g, 0, 1, (bopt){0});
    gmeta m2 = {2, {"engine", "model"}, {"corpus", "tiny"}};
    gen_meta(g, &m2, 0);
    grec *b = gen_record(g, "b", TT_F32, 1, S1);
    gen_tensor(g, b);
    gen_batch(g, 1, 1, (bopt){0});
    gmeta m3 = {3, {"engine", "model", "device"}, {"corpus-2", "tiny", "cpu"}};
    gen_meta(g, &m3, 0);
    gen_footer(g);
}

static void c_unknown_frames(gen *g)
{
    describe(g, "Frames of types 6, 9 and 200 (unknown to versions 1.0 and 1.1) between the records' frames, zstd "
                "and stored; readers skip them by stored_size.");
    exercises(g, "unknown frame types");
    gen_header(g, 1, 0, 0, 0, 32);
    gen_unknown_frame(g, 9, 300, 0);
    gen_meta1(g, "engine", "corpus");
    grec *a = gen_record(g, "a", TT_F32, 2, BIG);
    gen_tensor(g, a);
    gen_unknown_frame(g, 200, 50, 1);
    grec *b = gen_record(g, "b", TT_F32, 1, S1);
    gen_tensor(g, b);
    gen_batch(g, 0, 2, (bopt){0});
    gen_unknown_frame(g, 6, 0, 1);
    gen_footer(g);
}

static void c_unknown_fields(gen *g)
{
    describe(g, "Fields appended by a newer minor version in every table (RecordBatch, Counters, Meta, KeyValue, "
                "Footer, BatchIndex, FrameIndex); readers ignore them. The file says format 1.7.");
    exercises(g, "unknown table fields");
    exercises(g, "minor version > 0");
    gen_header(g, 1, 7, 0, 0, 32);
    gmeta m = {2, {"engine", "note"}, {"corpus", "from the future"}};
    gen_meta(g, &m, 1);
    grec *a = gen_record(g, "a", TT_BF16, 2, S2);
    gen_stats(a, 0.5, 1);
    gen_tensor(g, a);
    gen_batch(g, 0, 1, (bopt){.unknown = 1});
    fopt o = {0};
    o.unknown = 1;
    gen_footer_with(g, o);
}

static void c_header_bits(gen *g)
{
    describe(g, "A file header with every flag bit and the reserved field set (readers ignore both) and minor "
                "version 65535; frame headers whose reserved field is not 0 (ignored too); a footer without key "
                "ranges (readers then skip no batch).");
    exercises(g, "non-zero header flags and reserved");
    exercises(g, "minor version > 0");
    exercises(g, "footer without key ranges");
    gen_header(g, 1, 65535, 0xffffffffu, 0xdeadbeefu, 32);
    grec *a = gen_record(g, "a", TT_I32, 1, S1);
    gen_tensor(g, a);
    gen_batch(g, 0, 1, (bopt){0});
    for (int i = 0; i < g->nfr; i++) { /* reserved = 0x5a5a0000 + i, header checksum made again */
        uint8_t *h = g->buf + g->fr[i].off;
        tt_le32(h + 12, 0x5a5a0000u + (uint32_t)i);
        tt_le64(h + 48, tt_hash64(h, 48));
    }
    fopt o = {0};
    o.no_ranges = 1;
    gen_footer_with(g, o);
}

static void c_empty_file(gen *g)
{
    describe(g, "A closed file with no record: header, footer, trailer.");
    exercises(g, "no records");
    gen_header(g, 1, 0, 0, 0, 32);
    gen_footer(g);
}

/* ---- damaged ---- */

static void c_no_trailer(gen *g)
{
    describe(g, "The writer stopped after its last BATCH frame: no footer, no trailer. Everything is recovered.");
    exercises(g, "missing footer");
    base(g);
    g->footer_ok = 0, g->footer_error = "no_footer";
}

static void c_cut_in_payload(gen *g)
{
    describe(g, "Cut in the middle of a PAYLOAD frame whose record's BATCH was never written: the first batch is "
                "recovered, the cut frame ignored.");
    exercises(g, "truncation");
    base(g);
    gen_cut(g, g->fr[g->bat[1].frame].off - 100);
}

static void c_cut_in_batch(gen *g)
{
    describe(g, "Cut in the middle of the second BATCH frame: its record is gone, the first batch is recovered.");
    exercises(g, "truncation");
    base(g);
    gen_cut(g, g->fr[g->bat[1].frame].off + 60);
}

static void c_cut_in_header(gen *g)
{
    describe(g, "Cut 20 bytes into a frame header (fewer than 56 bytes left): the scan ends there.");
    exercises(g, "truncation");
    base(g);
    gen_footer(g);
    gen_cut(g, g->fr[g->footer_frame].off + 20);
}

static void c_cut_in_footer(gen *g)
{
    describe(g, "Cut inside the FOOTER frame: no trailer; all batches are recovered.");
    exercises(g, "truncation");
    base(g);
    gen_footer(g);
    gen_cut(g, g->fr[g->footer_frame].off + 70);
}

static void c_cut_trailer(gen *g)
{
    describe(g, "The last 5 bytes of the trailer are missing.");
    exercises(g, "truncation");
    exercises(g, "bad trailer");
    base(g);
    gen_footer(g);
    gen_cut(g, g->len - 5);
}

static void c_trailer_checksum(gen *g)
{
    describe(g, "The trailer's checksum does not match: the footer is not used, the file is recovered.");
    exercises(g, "bad trailer");
    base(g);
    gen_footer(g);
    gen_flip(g, g->len - TT_TRAILER_SIZE + 3);
    g->footer_ok = 0, g->footer_error = "corrupt";
}

static void c_trailer_offset(gen *g)
{
    describe(g, "A trailer with a valid checksum whose footer_offset does not end where the trailer begins.");
    exercises(g, "bad trailer");
    base(g);
    gen_footer(g);
    tt_trailer t = {g->fr[g->footer_frame].off - 8, g->fr[g->footer_frame].size};
    tt_trailer_encode(&t, g->buf + g->len - TT_TRAILER_SIZE);
    g->footer_ok = 0, g->footer_error = "corrupt";
}

static void c_footer_header(gen *g)
{
    describe(g, "The FOOTER frame's header is damaged: the footer is unusable, the scan counts it as damaged.");
    exercises(g, "damaged FOOTER frame");
    base(g);
    gen_footer(g);
    gen_damage_header(g, g->footer_frame);
}

static void c_footer_payload(gen *g)
{
    describe(g, "The FOOTER frame's payload is damaged (its header is intact): the footer is unusable; a scan "
                "skips FOOTER frames without reading them.");
    exercises(g, "damaged FOOTER frame");
    base(g);
    gen_footer(g);
    gen_damage_payload(g, g->footer_frame);
}

static void c_footer_version(gen *g)
{
    describe(g, "The footer says format 1.3 while the file header says 1.0: the header's version is the file's, "
                "the footer is not used.");
    exercises(g, "footer version differs");
    base(g);
    fopt o = {0};
    o.major = 1, o.minor = 3;
    gen_footer_with(g, o);
}

static void c_batch_payload(gen *g)
{
    describe(g, "The first BATCH frame's payload is damaged under an intact footer: by the footer its records are "
                "unreadable and the others read; a scan skips the frame and renumbers the records after it.");
    exercises(g, "damaged BATCH frame");
    exercises(g, "damaged BATCH under an intact footer");
    base(g);
    gen_footer(g);
    gen_damage_payload(g, g->bat[0].frame);
}

static void c_batch_header(gen *g)
{
    describe(g, "The second BATCH frame's header is damaged and the file has no footer: the scan resynchronises "
                "and loses that batch.");
    exercises(g, "damaged BATCH frame");
    base(g);
    gen_damage_header(g, g->bat[1].frame);
    g->footer_ok = 0, g->footer_error = "no_footer";
}

static void c_payload_header(gen *g)
{
    describe(g, "A PAYLOAD frame's header is damaged: by the footer the record's tensor fails to read; a scan does "
                "not find the chunk and reports the record lost.");
    exercises(g, "damaged PAYLOAD frame");
    exercises(g, "lost records");
    base(g);
    gen_footer(g);
    for (int i = 0; i < g->nfr; i++)
        if (g->fr[i].type == TT_FRAME_PAYLOAD && g->fr[i].seq == 2 && g->fr[i].aux == 1) {
            gen_damage_header(g, i);
            break;
        }
}

static void c_payload_data(gen *g)
{
    describe(g, "A PAYLOAD frame's stored bytes are damaged (header intact): the record is not lost but reading "
                "its tensor fails the payload checksum, in both ways of opening.");
    exercises(g, "damaged PAYLOAD frame");
    base(g);
    gen_footer(g);
    for (int i = 0; i < g->nfr; i++)
        if (g->fr[i].type == TT_FRAME_PAYLOAD && g->fr[i].seq == 1) {
            gen_damage_payload(g, i);
            break;
        }
}

static void c_meta_damaged(gen *g)
{
    describe(g, "The second of two META frames is damaged and the file has no footer: the metadata is that of the "
                "last good META frame.");
    exercises(g, "damaged META frame");
    gen_header(g, 1, 0, 0, 0, 32);
    gen_meta1(g, "engine", "first");
    grec *a = gen_record(g, "a", TT_F32, 1, S1);
    gen_tensor(g, a);
    gen_batch(g, 0, 1, (bopt){0});
    gmeta m = {2, {"engine", "model"}, {"second", "tiny"}};
    gen_meta(g, &m, 0);
    grec *b = gen_record(g, "b", TT_F32, 1, S1);
    gen_tensor(g, b);
    gen_batch(g, 1, 1, (bopt){0});
    gen_damage_payload(g, gen_last_frame(g, TT_FRAME_META));
    g->footer_ok = 0, g->footer_error = "no_footer";
}

static void c_unknown_damaged(gen *g)
{
    describe(g, "A frame of unknown type with a damaged header, then one with a damaged payload (not read, so not "
                "counted), and 40 bytes of garbage between frames: the scan resynchronises each time.");
    exercises(g, "damaged unknown frame");
    exercises(g, "garbage between frames");
    gen_header(g, 1, 0, 0, 0, 32);
    grec *a = gen_record(g, "a", TT_F32, 1, S1);
    gen_tensor(g, a);
    gen_unknown_frame(g, 9, 200, 0);
    gen_damage_header(g, g->nfr - 1);
    gen_batch(g, 0, 1, (bopt){0});
    gen_unknown_frame(g, 9, 200, 1);
    gen_damage_payload(g, g->nfr - 1);
    gen_garbage(g, 40);
    grec *b = gen_record(g, "b", TT_F32, 1, S1);
    gen_tensor(g, b);
    gen_batch(g, 1, 1, (bopt){0});
    g->footer_ok = 0, g->footer_error = "no_footer";
}

static void c_hash_mismatch(gen *g)
{
    describe(g, "A record whose hash column does not match its tensor (all checksums valid): reading the tensor "
                "must fail.");
    exercises(g, "content hash mismatch");
    gen_header(g, 1, 0, 0, 0, 32);
    grec *a = gen_record(g, "a", TT_F32, 2, S2);
    a->bad_hash = 1;
    gen_tensor(g, a);
    gen_batch(g, 0, 1, (bopt){0});
    gen_footer(g);
}

static void c_two_zstd_frames(gen *g)
{
    describe(g, "A payload whose stored bytes are two zstd frames that together inflate to raw_size: not exactly "
                "one frame, so the record is damaged (frame checksums are valid).");
    exercises(g, "zstd payload not one frame");
    gen_header(g, 1, 0, 0, 0, 32);
    grec *a = gen_record(g, "a", TT_F32, 2, S2);
    gen_bad_zstd_chunk(g, a, 1);
    gen_batch(g, 0, 1, (bopt){0});
    gen_footer(g);
}

static void c_zstd_checksum_bad(gen *g)
{
    describe(g, "A zstd payload whose zstd content checksum fails (the frame's payload checksum is valid): the "
                "record is damaged.");
    exercises(g, "zstd checksum");
    exercises(g, "damaged PAYLOAD frame");
    gen_header(g, 1, 0, 0, 0, 32);
    grec *a = gen_record(g, "a", TT_F32, 2, S2);
    gen_bad_zstd_chunk(g, a, 0);
    gen_batch(g, 0, 1, (bopt){0});
    gen_footer(g);
}

static void c_unknown_dtype_payload(gen *g)
{
    describe(g, "A batch with a record of dtype UNKNOWN whose flags say its content is stored: the batch is "
                "damaged (unreadable by the footer, skipped by a scan), the other batch reads.");
    exercises(g, "dtype UNKNOWN");
    exercises(g, "damaged BATCH under an intact footer");
    gen_header(g, 1, 0, 0, 0, 32);
    grec *a = gen_record(g, "a", TT_F32, 1, S1);
    gen_tensor(g, a);
    gen_batch(g, 0, 1, (bopt){0});
    grec *b = gen_record(g, "b", TT_DTYPE_UNKNOWN, 1, S1);
    b->flags = 1;
    gen_batch(g, 1, 1, (bopt){0});
    g->fr[g->bat[1].frame].damage = DMG_PAYLOAD; /* well formed, but breaks a rule of section 4 */
    gen_footer(g);
}

static void c_chunk_order(gen *g)
{
    describe(g, "A two-chunk tensor written chunk 1 first: the first PAYLOAD frame at payload_offset has aux 1, "
                "not 0. By the footer the tensor fails to read; a scan reports the record lost.");
    exercises(g, "chunk checks");
    exercises(g, "lost records");
    gen_header(g, 1, 0, 0, 0, 32);
    static const uint64_t s2k[1] = {1500};
    grec *a = gen_record(g, "a", TT_F32, 1, s2k);
    a->data = gen_content(g, a->dtype, a->nbytes);
    a->flags |= 1 | 2;
    a->hash = tt_hash64(a->data, (size_t)a->nbytes);
    a->payload_frames = 2;
    a->payload_offset = g->len;
    a->bad_data = 1;
    popt o = POPT_DEFAULT;
    o.esize = 4;
    for (int k = 1; k >= 0; k--) {
        uint64_t at = (uint64_t)k * CHUNK, n = k ? a->nbytes - CHUNK : CHUNK;
        int fi = gen_frame(g, TT_FRAME_PAYLOAD, (uint32_t)k, a->seq, a->data + at, (size_t)n, o);
        a->payload_stored += g->fr[fi].size - TT_FRAME_HEADER_SIZE;
    }
    gen_batch(g, 0, 1, (bopt){0});
    gen_footer(g);
}

static void c_header_only(gen *g)
{
    describe(g, "A file header and nothing else (the writer was killed at once): no records.");
    exercises(g, "missing footer");
    gen_header(g, 1, 0, 0, 0, 32);
    g->footer_ok = 0, g->footer_error = "no_footer";
}

/* ---- refused ---- */

static void refuse(gen *g, const char *cls) { g->refused = cls; }

static void c_bad_magic(gen *g)
{
    describe(g, "A closed file whose magic's first byte is 0x89 turned into 0x50.");
    exercises(g, "bad magic");
    base(g);
    gen_footer(g);
    g->buf[0] = 0x50;
    refuse(g, "not_tensortrace");
}

static void c_empty(gen *g)
{
    describe(g, "An empty file.");
    exercises(g, "bad magic");
    g->len = 0;
    refuse(g, "not_tensortrace");
}

static void c_short_header(gen *g)
{
    describe(g, "The first 20 bytes of a file header.");
    exercises(g, "truncation");
    gen_header(g, 1, 0, 0, 0, 32);
    g->len = 20;
    refuse(g, "truncated");
}

static void c_header_checksum(gen *g)
{
    describe(g, "The file header's checksum does not match (minor version changed after it was computed).");
    exercises(g, "bad header fields");
    base(g);
    gen_footer(g);
    g->buf[10] ^= 1;
    refuse(g, "corrupt");
}

static void c_header_size(gen *g)
{
    describe(g, "header_size 64 in an otherwise valid header: version 1 defines only 32.");
    exercises(g, "bad header fields");
    gen_header(g, 1, 0, 0, 0, 64);
    grec *a = gen_record(g, "a", TT_F32, 1, S1);
    gen_tensor(g, a);
    gen_batch(g, 0, 1, (bopt){0});
    gen_footer(g);
    refuse(g, "corrupt");
}

static void c_major_zero(gen *g)
{
    describe(g, "Format major version 0, which never existed.");
    exercises(g, "bad header fields");
    gen_header(g, 0, 9, 0, 0, 32);
    refuse(g, "corrupt");
}

static void c_major_newer(gen *g)
{
    describe(g, "Format major version 2: newer than a version-1 reader, which must refuse it by name.");
    exercises(g, "newer major version");
    gen_header(g, 2, 0, 0, 0, 32);
    grec *a = gen_record(g, "a", TT_F32, 1, S1);
    gen_tensor(g, a);
    gen_batch(g, 0, 1, (bopt){0});
    gen_footer(g);
    refuse(g, "version");
}


static void c_shard_layouts(gen *g)
{
    describe(g, "Format 1.1 shard layouts: a whole tensor, a SPLIT shard (slice 2 of 4 along dimension 1), a PARTIAL "
                "addend (1 of 2, dimension -1), a SPLIT of one shard along dimension 0, on ranks 0..3; a second "
                "batch without the shard columns, whose records are whole tensors (absent = NONE, -1).");
    exercises(g, "shard layout");
    exercises(g, "minor version > 0");
    exercises(g, "absent columns");
    gen_header(g, 1, 1, 0, 0, 32);
    gen_meta1(g, "rank", "0");
    static const uint64_t s28[2] = {2, 8};
    grec *a = gen_record(g, "resid", TT_F32, 2, s28);
    gen_tensor(g, a);
    grec *b = gen_record(g, "q_proj", TT_F32, 2, s28);
    b->rank = 2;
    gen_shard(b, TT_SHARD_SPLIT, 1, 2, 4);
    gen_tensor(g, b);
    grec *c = gen_record(g, "attn_out", TT_BF16, 2, s28);
    c->rank = 1;
    gen_shard(c, TT_SHARD_PARTIAL, -1, 1, 2);
    gen_tensor(g, c);
    grec *d = gen_record(g, "k_cache", TT_F32, 1, S1);
    d->rank = 3;
    gen_shard(d, TT_SHARD_SPLIT, 0, 0, 1);
    gen_tensor(g, d);
    gen_batch(g, 0, 4, (bopt){0});
    grec *e = gen_record(g, "logits", TT_F32, 1, S1);
    gen_tensor(g, e);
    gen_batch(g, 4, 1, (bopt){0});
    gen_footer(g);
}

static void c_shard_kind_reserved(gen *g)
{
    describe(g, "A record with shard_kind 7, a kind a later minor version may define: readers return it as "
                "stored, with its dim/index/count unchecked, and refuse nothing. The file says format 1.4.");
    exercises(g, "shard layout");
    exercises(g, "reserved shard kind");
    gen_header(g, 1, 4, 0, 0, 32);
    grec *a = gen_record(g, "a", TT_F32, 1, S1);
    gen_shard(a, 7, 5, 9, 3);
    gen_tensor(g, a);
    grec *b = gen_record(g, "b", TT_F32, 1, S1);
    gen_tensor(g, b);
    gen_batch(g, 0, 2, (bopt){0});
    gen_footer(g);
}

static void c_shard_rules(gen *g)
{
    describe(g, "Six batches, one readable; each of the others has a record whose shard layout breaks a rule of "
                "section 5 (shard_index >= shard_count, a SPLIT along a dimension the tensor lacks, a PARTIAL with "
                "a dimension, shard_count 0, a whole tensor with shard fields): each such batch is damaged "
                "(unreadable by the footer, skipped by a scan).");
    exercises(g, "shard layout");
    exercises(g, "shard rules");
    exercises(g, "damaged BATCH under an intact footer");
    gen_header(g, 1, 1, 0, 0, 32);
    static const uint64_t s28[2] = {2, 8};
    static const int32_t bad[5][4] = {
        {TT_SHARD_SPLIT, 1, 4, 4}, {TT_SHARD_SPLIT, 2, 0, 2}, {TT_SHARD_PARTIAL, 0, 0, 2}, {TT_SHARD_PARTIAL, -1, 0, 0},
        {TT_SHARD_NONE, -1, 0, 2}};
    grec *ok = gen_record(g, "ok", TT_F32, 2, s28);
    gen_shard(ok, TT_SHARD_SPLIT, 1, 3, 4);
    gen_tensor(g, ok);
    gen_batch(g, 0, 1, (bopt){0});
    for (int i = 0; i < 5; i++) {
        grec *r = gen_record(g, "bad", TT_F32, 2, s28);
        gen_shard(r, bad[i][0], bad[i][1], bad[i][2], bad[i][3]);
        gen_tensor(g, r);
        gen_batch(g, 1 + i, 1, (bopt){0});
        g->fr[g->bat[1 + i].frame].damage = DMG_PAYLOAD; /* well formed, but breaks a rule of section 5 */
    }
    gen_footer(g);
}

/* The case's random numbers (splitmix64 on the generator's state, as gen_build.c draws them). */
static uint64_t case_rnd(gen *g)
{
    uint64_t z = (g->rng += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* Content of a float dtype with steady columns: [rows, cols] values whose scale depends on the column only. */
static uint8_t *column_content(gen *g, uint8_t dtype, uint64_t rows, uint64_t cols)
{
    size_t es = dtype == TT_F32 ? 4 : 2, n = (size_t)(rows * cols);
    uint8_t *p = malloc(n * es);
    if (!p)
        gen_die("out of memory");
    for (size_t i = 0; i < n; i++) {
        uint32_t e = 118 + (uint32_t)((i % cols) * 5 % 17); /* the column's exponent */
        uint32_t bits = (e << 23) | (uint32_t)(case_rnd(g) & 0x7fffff) | (uint32_t)(case_rnd(g) & 1) << 31;
        if (es == 4)
            tt_le32(p + 4 * i, bits);
        else
            tt_le16(p + 2 * i, (uint16_t)(bits >> 16)); /* bf16: the upper half */
    }
    return p;
}

static void c_float_filter(gen *g)
{
    describe(g, "Payloads coded with the FLOAT filter (format 1.1) for every dtype it applies to: bf16, f16, f32 "
                "and the four fp8 types with the exponent symbol (r = 7, 23 or 0), bf16 and f32 also with the wider "
                "symbol (two mantissa bits, a base), a multi-chunk bf16 tensor with the row-difference model, and "
                "u8 tensors coded with 2- and 4-byte elements over odd byte counts (1 and 3 trailing bytes).");
    exercises(g, "FLOAT filter");
    exercises(g, "minor version > 0");
    gen_header(g, 1, 1, 0, 0, 32);
    static const uint8_t types[7] = {TT_BF16, TT_F16, TT_F32, TT_F8_E4M3, TT_F8_E5M2, TT_F8_E4M3FNUZ,
                                     TT_F8_E5M2FNUZ};
    static const uint64_t s2048[1] = {2048};
    for (int i = 0; i < 7; i++) {
        grec *r = gen_record(g, "fast", types[i], 1, s2048);
        popt o = POPT_FLOAT(TT_FLOAT_FAST, 0, 0);
        gen_tensor_chunks(g, r, &o, 0);
    }
    static const uint8_t wide[2] = {TT_BF16, TT_F32};
    for (int i = 0; i < 2; i++) {
        grec *r = gen_record(g, "wide", wide[i], 1, s2048);
        popt o = POPT_FLOAT(TT_FLOAT_WIDE, 0, 0);
        gen_tensor_chunks(g, r, &o, 0);
    }
    static const uint64_t rc[2] = {64, 96}; /* 12 KiB of bf16: 3 chunks of 32 rows */
    grec *rows = gen_record(g, "rows", TT_BF16, 2, rc);
    rows->data = column_content(g, TT_BF16, 64, 96);
    popt ro = POPT_FLOAT(TT_FLOAT_FAST, 0, 96);
    gen_tensor_chunks(g, rows, &ro, 0);
    static const uint64_t odd[2][1] = {{4095}, {2049}};
    static const uint8_t as[2] = {TT_F32, TT_BF16};
    for (int i = 0; i < 2; i++) {
        grec *r = gen_record(g, "odd", TT_U8, 1, odd[i]);
        popt o = POPT_FLOAT(TT_FLOAT_FAST, as[i], 0);
        gen_tensor_chunks(g, r, &o, 0);
    }
    gen_batch(g, 0, g->nrec, (bopt){0});
    gen_footer(g);
}

/* A FLOAT-coded record of 3 chunks (bf16), the first two records of base() before it. */
static int float_base(gen *g)
{
    gen_header(g, 1, 1, 0, 0, 32);
    grec *a = gen_record(g, "attn_out", TT_F32, 2, S2);
    gen_tensor(g, a);
    static const uint64_t rc[2] = {64, 96};
    grec *b = gen_record(g, "resid", TT_BF16, 2, rc);
    b->data = column_content(g, TT_BF16, 64, 96);
    popt o = POPT_FLOAT(TT_FLOAT_FAST, 0, 96);
    int first = g->nfr;
    gen_tensor_chunks(g, b, &o, 0);
    gen_batch(g, 0, 2, (bopt){0});
    gen_footer(g);
    return first + 1; /* the FLOAT record's second chunk */
}

/* After a payload of frame fi was changed: its payload and header checksums made valid again, and the record it
 * belongs to (float_base's second) damaged in the model. */
static void reseal_float(gen *g, int fi)
{
    uint8_t *p = g->buf + g->fr[fi].off;
    tt_le64(p + 40, tt_hash64(p + TT_FRAME_HEADER_SIZE, g->fr[fi].size - TT_FRAME_HEADER_SIZE));
    tt_le64(p + 48, tt_hash64(p, 48));
    g->rec[1].bad_data = 1;
}

static void c_float_stream_length(gen *g)
{
    describe(g, "A FLOAT payload whose first stream length claims more bytes than the chunk has elements (payload "
                "checksum valid): the record is damaged, in both ways of opening.");
    exercises(g, "FLOAT filter");
    exercises(g, "damaged PAYLOAD frame");
    int fi = float_base(g);
    tt_le32(g->buf + g->fr[fi].off + TT_FRAME_HEADER_SIZE + 12, 4096); /* c is 2048 */
    reseal_float(g, fi);
}

static void c_float_stream_frame(gen *g)
{
    describe(g, "A FLOAT payload whose symbol stream's zstd frame has a damaged byte in its frame header (stream "
                "lengths and payload checksum valid): zstd refuses it and the record is damaged.");
    exercises(g, "FLOAT filter");
    exercises(g, "damaged PAYLOAD frame");
    int fi = float_base(g);
    g->buf[g->fr[fi].off + TT_FRAME_HEADER_SIZE + 20] ^= 0xff; /* the first stream starts at 20 (s = 2): its zstd magic */
    reseal_float(g, fi);
}

/* bf16 bytes of one scale (six binades) with escapes: every 211th element 0, every 401st an outlier at exponent
 * field 200; n bytes (an odd n ends with one more byte). */
static uint8_t *window_content(gen *g, size_t n)
{
    uint8_t *p = malloc(n + 1);
    if (!p)
        gen_die("out of memory");
    for (size_t i = 0; i + 2 <= n; i += 2) {
        uint32_t e = 120 + (uint32_t)(case_rnd(g) % 6), k = (uint32_t)(i / 2);
        if (k % 401 == 5)
            e = 200;
        uint16_t bits = (uint16_t)((e << 7) | (case_rnd(g) & 0x7f) | (case_rnd(g) & 1) << 15);
        tt_le16(p + i, k % 211 == 3 ? 0 : bits);
    }
    if (n & 1)
        p[n - 1] = (uint8_t)case_rnd(g);
    return p;
}

static void c_float_window(gen *g)
{
    describe(g, "Payloads coded with FLOAT form 1 (format 1.1; the exponent's place in a window, 4 mantissa bits, "
                "nibbles and escapes): a bf16 tensor of two chunks whose exponents span six binades with zeros and "
                "outliers as escapes, and a u8 tensor of 4095 bytes coded as bf16 (2047 elements, an odd count, "
                "and a trailing byte).");
    exercises(g, "FLOAT filter");
    exercises(g, "minor version > 0");
    gen_header(g, 1, 1, 0, 0, 32);
    static const uint64_t s4096[1] = {4096};
    grec *a = gen_record(g, "window", TT_BF16, 1, s4096);
    a->data = window_content(g, 8192);
    popt o = POPT_FLOAT(TT_FLOAT_FAST | TT_FLOAT_WINDOW, 0, 0);
    gen_tensor_chunks(g, a, &o, 0);
    static const uint64_t s4095[1] = {4095};
    grec *b = gen_record(g, "odd", TT_U8, 1, s4095);
    b->data = window_content(g, 4095);
    popt ob = POPT_FLOAT(TT_FLOAT_FAST | TT_FLOAT_WINDOW, TT_BF16, 0);
    gen_tensor_chunks(g, b, &ob, 0);
    gen_batch(g, 0, g->nrec, (bopt){0});
    gen_footer(g);
}

static void c_float_form(gen *g)
{
    describe(g, "A FLOAT payload whose form byte is 2, which format 1.1 does not define (payload checksum valid): "
                "the record is damaged, in both ways of opening.");
    exercises(g, "FLOAT filter");
    exercises(g, "damaged PAYLOAD frame");
    int fi = float_base(g);
    g->buf[g->fr[fi].off + TT_FRAME_HEADER_SIZE + 2] = 2;
    reseal_float(g, fi);
}

static void c_unknown_filter(gen *g)
{
    describe(g, "A PAYLOAD frame whose header names filter 3, which format 1.1 does not define (header checksum "
                "valid): a reader refuses the frame by name; by the footer the record's tensor fails to read, a "
                "scan skips the frame and reports the record lost.");
    exercises(g, "unknown filter");
    exercises(g, "lost records");
    int fi = float_base(g);
    gen_unknown_filter(g, fi);
}

/* ---- packed records (format 1.1) -------------------------------------------------------------------------- */

/* Small records packed two by two into PACK frames, one pack's records split between two batches, with a record
 * that has its own PAYLOAD frames and a metadata-only one among them. */
static void packed_base(gen *g)
{
    static const uint64_t s64[2] = {2, 64}, s4x64[2] = {4, 64};
    gen_header(g, 1, 1, 0, 0, 32);
    gen_meta1(g, "engine", "corpus");
    grec *a = gen_record(g, "q", TT_BF16, 2, S2);
    grec *b = gen_record(g, "k", TT_BF16, 1, S1);
    gen_stats(b, -1, 1);
    grec *p1[2] = {a, b};
    popt raw = {TT_CODEC_RAW, 0, 0, 0, 0, 0, 0};
    gen_pack(g, p1, 2, raw); /* 20 bytes: stored as they are, not shuffled */
    grec *c = gen_record(g, "big", TT_F32, 2, BIG);
    gen_tensor(g, c);
    grec *d = gen_record(g, "v", TT_F32, 2, s64);
    grec *e = gen_record(g, "o", TT_F32, 2, s4x64);
    e->step = 1;
    grec *p2[2] = {d, e};
    gen_pack(g, p2, 2, POPT_DEFAULT); /* 1536 bytes: shuffled by 4 and zstd */
    gen_batch(g, 0, 4, (bopt){0});
    grec *f = gen_record(g, "stats_only", TT_BF16, 1, S1);
    f->flags = 2 | 4;
    f->hash = 0x00000000deadbeefull;
    gen_stats(f, -2, 2);
    gen_batch(g, 4, 2, (bopt){0});
}

static void c_packed(gen *g)
{
    describe(g, "Format 1.1: small records packed into shared PACK frames (flags bit 3, pack_offset and pack_start), "
                "one stored and one shuffled and compressed, the records of one pack split between two batches, "
                "beside a record with its own PAYLOAD frames and a metadata-only record.");
    exercises(g, "packed records");
    exercises(g, "minor version > 0");
    packed_base(g);
    gen_footer(g);
}

static void c_packed_payload(gen *g)
{
    describe(g, "The stored bytes of a PACK frame are damaged (header intact): its two records are not lost but "
                "reading either fails the payload checksum, in both ways of opening; the other records read.");
    exercises(g, "damaged PACK frame");
    packed_base(g);
    gen_footer(g);
    gen_damage_payload(g, gen_last_frame(g, TT_FRAME_PACK));
}

static void c_packed_header(gen *g)
{
    describe(g, "The header of a PACK frame is damaged: by the footer its records are damaged (the frame fails when "
                "read); by scanning the frame is not found, so its records, in two batches, are lost.");
    exercises(g, "damaged PACK frame");
    exercises(g, "lost records");
    packed_base(g);
    gen_footer(g);
    gen_damage_header(g, gen_last_frame(g, TT_FRAME_PACK));
}

static void c_packed_cut(gen *g)
{
    describe(g, "No footer, cut inside the last BATCH frame: the first batch is recovered, with its packed record "
                "whose PACK frame it shares with the lost batch.");
    exercises(g, "packed records");
    exercises(g, "truncation");
    packed_base(g);
    gen_cut(g, g->fr[g->bat[1].frame].off + 60);
}

static const gcase cases[] = {
    {"valid", "minimal", c_minimal},
    {"valid", "every_dtype", c_every_dtype},
    {"valid", "rank0_and_empty", c_rank0_empty},
    {"valid", "multi_chunk", c_multi_chunk},
    {"valid", "odd_shuffle", c_odd_shuffle},
    {"valid", "zstd_variants", c_zstd_variants},
    {"valid", "absent_columns", c_absent_columns},
    {"valid", "keys_not_given", c_not_given},
    {"valid", "several_meta", c_several_meta},
    {"valid", "unknown_frames", c_unknown_frames},
    {"valid", "unknown_fields", c_unknown_fields},
    {"valid", "header_flags", c_header_bits},
    {"valid", "no_records", c_empty_file},
    {"damaged", "no_trailer", c_no_trailer},
    {"damaged", "header_only", c_header_only},
    {"damaged", "cut_in_payload", c_cut_in_payload},
    {"damaged", "cut_in_batch", c_cut_in_batch},
    {"damaged", "cut_in_frame_header", c_cut_in_header},
    {"damaged", "cut_in_footer", c_cut_in_footer},
    {"damaged", "cut_trailer", c_cut_trailer},
    {"damaged", "trailer_checksum", c_trailer_checksum},
    {"damaged", "trailer_offset", c_trailer_offset},
    {"damaged", "footer_header", c_footer_header},
    {"damaged", "footer_payload", c_footer_payload},
    {"damaged", "footer_version", c_footer_version},
    {"damaged", "batch_payload_under_footer", c_batch_payload},
    {"damaged", "batch_header", c_batch_header},
    {"damaged", "payload_header", c_payload_header},
    {"damaged", "payload_data", c_payload_data},
    {"damaged", "meta_damaged", c_meta_damaged},
    {"damaged", "unknown_frame_damaged", c_unknown_damaged},
    {"damaged", "hash_mismatch", c_hash_mismatch},
    {"damaged", "two_zstd_frames", c_two_zstd_frames},
    {"damaged", "zstd_checksum_bad", c_zstd_checksum_bad},
    {"damaged", "unknown_dtype_payload", c_unknown_dtype_payload},
    {"damaged", "chunk_order", c_chunk_order},
    {"valid", "shard_layouts", c_shard_layouts},
    {"valid", "shard_kind_reserved", c_shard_kind_reserved},
    {"damaged", "shard_rules", c_shard_rules},
    {"valid", "packed", c_packed},
    {"damaged", "packed_payload", c_packed_payload},
    {"damaged", "packed_header", c_packed_header},
    {"damaged", "packed_cut", c_packed_cut},
    {"refused", "bad_magic", c_bad_magic},
    {"refused", "empty", c_empty},
    {"refused", "short_header", c_short_header},
    {"refused", "header_checksum", c_header_checksum},
    {"refused", "header_size", c_header_size},
    {"refused", "major_zero", c_major_zero},
    {"refused", "major_newer", c_major_newer},
    {"valid", "float_filter", c_float_filter},
    {"damaged", "float_stream_length", c_float_stream_length},
    {"damaged", "float_stream_frame", c_float_stream_frame},
    {"damaged", "unknown_filter", c_unknown_filter},
    {"valid", "float_window", c_float_window},
    {"damaged", "float_form", c_float_form},
};

static void make_dir(const char *dir, const char *sub)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, sub);
    if (mkdir(path, 0777) != 0 && errno != EEXIST) {
        fprintf(stderr, "gen_corpus: cannot create %s: %s\n", path, strerror(errno));
        exit(3);
    }
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: gen_corpus OUTDIR\n");
        return 2;
    }
    const char *dir = argv[1];
    make_dir(dir, ".");
    make_dir(dir, "valid");
    make_dir(dir, "damaged");
    make_dir(dir, "refused");
    size_t ncases = sizeof cases / sizeof cases[0];
    for (size_t i = 0; i < ncases; i++) {
        gen g;
        memset(&g, 0, sizeof g);
        g.rng = tt_hash64(cases[i].name, strlen(cases[i].name)); /* by name: adding a case changes no other */
        g.footer_frame = -1;
        g.footer_error = "no_footer";
        fb_builder_init(&g.fb);
        if (!(g.z = ZSTD_createCCtx()))
            gen_die("out of memory");
        cases[i].fn(&g);
        gen_write_case(dir, &cases[i], &g);
        for (int k = 0; k < g.nrec; k++)
            free(g.rec[k].data);
        free(g.buf);
        fb_builder_free(&g.fb);
        ZSTD_freeCCtx(g.z);
    }
    FILE *f = gen_open_out(dir, "", "manifest", ".json", "w");
    cj j;
    cj_init(&j, f);
    cj_begin_obj(&j, NULL);
    cj_u64(&j, "corpus_version", CORPUS_VERSION);
    cj_u64(&j, "format_major", TT_FORMAT_MAJOR);
    cj_u64(&j, "format_minor", TT_FORMAT_MINOR);
    cj_str(&j, "zstd_version", ZSTD_versionString());
    cj_begin_arr(&j, "cases");
    for (size_t i = 0; i < ncases; i++) {
        char name[256];
        snprintf(name, sizeof name, "%s/%s", cases[i].cls, cases[i].name);
        cj_str(&j, NULL, name);
    }
    cj_end_arr(&j);
    cj_end_obj(&j);
    if (fclose(f) != 0)
        gen_die("write failed");
    return 0;
}
