/*
 * gen_corpus.h — the conformance corpus generator's model of a trace file: what a case wrote (records, frames,
 * batches, metadata snapshots, damage) and the functions that write it (gen_build.c), compute the expected
 * results from it (gen_expect.c) and define the cases (gen_cases.c). See gen_cases.c for the program and
 * format/conformance/README.md for the corpus.
 */
#ifndef TT_GEN_CORPUS_H
#define TT_GEN_CORPUS_H

#include <stdio.h>

#include <zstd.h>

#include "corpus_json.h"
#include "fb.h"
#include "frame.h"

#define CORPUS_VERSION 1
#define MAXR 64     /* records in one case */
#define MAXB 16     /* batches */
#define MAXF 256    /* frames */
#define MAXKV 8     /* metadata entries */
#define MAXS 64     /* strings */
#define CHUNK 4096u /* chunk_bytes of every case: the smallest allowed, so multi-chunk tensors stay small */

/* ---- field ids of schemas/trace.fbs (declaration order) ------------------------------------------------- */
enum { KV_KEY, KV_VALUE };
enum { RB_FIRST_RECORD, RB_CHUNK_BYTES, RB_STRINGS, RB_SEQ, RB_TIME_NS, RB_PROMPT_ID, RB_PHASE, RB_POINT, RB_LAYER,
       RB_STEP, RB_TOKEN_ID, RB_LOGICAL_TOK_IDX, RB_POS_ID, RB_ROWS, RB_RANK, RB_DTYPE, RB_NDIM, RB_DIMS, RB_FLAGS,
       RB_HASH, RB_STAT_MIN, RB_STAT_MAX, RB_STAT_MEAN, RB_STAT_ABSMAX, RB_STAT_L2, RB_NAN_COUNT, RB_INF_COUNT,
       RB_PAYLOAD_OFFSET, RB_PAYLOAD_FRAMES, RB_PAYLOAD_STORED, RB_COUNTERS, RB_SHARD_KIND, RB_SHARD_DIM,
       RB_SHARD_INDEX, RB_SHARD_COUNT, RB_PACK_OFFSET, RB_PACK_START, RB_NEXT };
enum { BI_OFFSET, BI_FRAME_SIZE, BI_FIRST_RECORD, BI_RECORD_COUNT, BI_SEQ_MIN, BI_SEQ_MAX, BI_LAYER_MIN,
       BI_LAYER_MAX, BI_STEP_MIN, BI_STEP_MAX, BI_POS_MIN, BI_POS_MAX, BI_NEXT };
enum { FT_FORMAT_MAJOR, FT_FORMAT_MINOR, FT_WRITER, FT_CREATED_NS, FT_CLOSED_NS, FT_CHUNK_BYTES, FT_RECORD_COUNT,
       FT_META, FT_STRINGS, FT_BATCHES, FT_FRAMES, FT_COUNTERS, FT_NEXT };
#define COL(id) ((uint64_t)1 << (id))

enum { DMG_NONE, DMG_HEADER, DMG_PAYLOAD };
enum { FR_GARBAGE = 255 }; /* bytes between frames that are no frame */

typedef struct grec {
    uint64_t seq, time_ns;
    const char *prompt_id, *phase, *point; /* NULL: not given */
    int32_t layer, step, token_id, logical_tok_idx, pos_id, rows, rank;
    int32_t shard_kind, shard_dim, shard_index, shard_count; /* format 1.1; written when a record of the batch
                                                                 is a shard (kind != 0) */
    uint8_t dtype, ndim, flags;
    uint64_t shape[TT_MAX_DIMS];
    uint64_t hash;
    double stats[5]; /* min, max, mean, absmax, l2 */
    uint64_t nan_count, inf_count;
    uint8_t *data;
    uint64_t nbytes;
    uint64_t payload_offset, payload_stored;
    uint32_t payload_frames;
    uint64_t pack_offset; /* format 1.1, flags bit 3: the PACK frame holding the content, and where it starts */
    uint32_t pack_start;
    int bad_hash; /* the hash column does not match the content: reading the tensor must fail */
    int bad_data; /* a chunk passes its checksums but does not decode: reading the tensor must fail */
} grec;

typedef struct gframe {
    uint64_t off, size; /* header + payload bytes */
    uint8_t type;       /* frame type, or FR_GARBAGE */
    int damage;         /* DMG_* */
    int batch, meta;    /* index in g->bat / g->metas for BATCH / META frames */
    uint64_t seq;       /* PAYLOAD: seq and chunk */
    uint32_t aux;
} gframe;

typedef struct gbatch {
    int frame;
    int rec0, count;
    uint64_t mask; /* absent columns */
    int has_counters;
    tt_writer_counters counters;
} gbatch;

typedef struct gmeta {
    int n;
    const char *k[MAXKV], *v[MAXKV];
} gmeta;

/* What the payload of a tensor's chunks looks like. */
typedef struct popt {
    int codec;   /* -1: zstd when smaller (the reference writer's rule); TT_CODEC_RAW; TT_CODEC_ZSTD: always */
    int esize;   /* -1: shuffle by the element size when above 1; 0: no shuffle; 2..16: shuffle by this */
    int zcheck;  /* zstd frame with a content checksum */
    int nosize;  /* zstd frame without its content size */
    int flt;     /* FLOAT filter (format 1.1): 0 no, else tt_payload_encode_float()'s kind (TT_FLOAT_*) */
    int flt_dtype; /* the dtype whose layout FLOAT uses (0: the record's); row: the row width for the row model */
    uint64_t row;
} popt;
#define POPT_DEFAULT ((popt){-1, -1, 0, 0, 0, 0, 0})
#define POPT_FLOAT(kind, dt, rowlen) ((popt){-1, 0, 0, 0, (kind), (dt), (rowlen)})

typedef struct gen {
    uint8_t *buf;
    size_t len, cap;
    fb_builder fb;
    ZSTD_CCtx *z;
    uint64_t rng;
    uint16_t major, minor;
    grec rec[MAXR];
    int nrec;
    gframe fr[MAXF];
    int nfr;
    gbatch bat[MAXB];
    int nbat;
    gmeta metas[MAXB];
    int nmeta;
    tt_writer_counters ct;
    /* the footer as written: usable by the rules of section 8, and its contents */
    int footer_frame;     /* index in fr, -1 none */
    int footer_ok;
    const char *footer_error;
    gmeta footer_meta;
    const char *strs[MAXS];
    int nstrs;
    int footer_ranges;    /* the batch index carries key ranges */
    tt_writer_counters footer_counters;
    /* the case */
    const char *cls, *name, *description;
    const char *exercises[12];
    int nex;
    const char *refused; /* error class of a refused file */
} gen;

/* Batch options. */
typedef struct bopt {
    uint64_t absent;   /* COL() bits of columns left out */
    int unknown;       /* fields a newer minor appends: in RecordBatch and Counters */
    int raw;           /* stored without zstd */
    int no_counters;   /* no Counters table */
} bopt;

/* Footer options. */
typedef struct fopt {
    int unknown;        /* appended fields in every table */
    int no_ranges;      /* batch index without key ranges */
    uint16_t major, minor; /* version in the footer (0.0: the header's) */
} fopt;

typedef struct gcase {
    const char *cls, *name;
    void (*fn)(gen *);
} gcase;

/* ---- gen_build.c: writing a case's file and its model ------------------------------------------------------ */

/*! gen_die() : reports a generator bug or an allocation failure and exits with status 4. */
void gen_die(const char *what);
/*! gen_content() : nbytes of tensor content that compresses like activations (malloc'd; the caller frees). */
uint8_t *gen_content(gen *g, uint8_t dtype, uint64_t nbytes);
/*! gen_add_frame() : appends a frame with header h and its stored bytes; returns its index in g->fr. */
int gen_add_frame(gen *g, const tt_frame_header *h, const uint8_t *stored);
/*! gen_frame() : encodes n raw bytes as o says (shuffle, zstd or stored) and appends the frame. */
int gen_frame(gen *g, uint8_t type, uint32_t aux, uint64_t seq, const uint8_t *raw, size_t n, popt o);
/*! gen_header() : starts the file with a file header of these fields (checksum computed). */
void gen_header(gen *g, uint16_t major, uint16_t minor, uint32_t flags, uint32_t reserved, uint32_t hsize);
/*! gen_record() : a new record (the next seq) with default keys; its tensor is written by gen_tensor*(). */
grec *gen_record(gen *g, const char *point, uint8_t dtype, int ndim, const uint64_t *shape);
/*! gen_stats() : gives the record statistics (flags bit 2). */
void gen_stats(grec *r, double lo, double hi);
/*! gen_shard() : gives the record a shard layout (stored as given, valid or not). */
void gen_shard(grec *r, int32_t kind, int32_t dim, int32_t index, int32_t count);
/*! gen_tensor() / gen_tensor_chunks() : writes the record's content as PAYLOAD frames, chunk k as o[k] says
 *  (o[0] for every chunk unless per_chunk). */
void gen_tensor(gen *g, grec *r);
void gen_tensor_chunks(gen *g, grec *r, const popt *o, int per_chunk);
/*! gen_pack() : writes the contents of n records one after the other as one PACK frame (format 1.1) encoded as o
 *  says (o.esize < 0: shuffle by the first record's element size), and marks the records packed (flags bit 3). */
void gen_pack(gen *g, grec **recs, int n, popt o);
/*! gen_bad_zstd_chunk() : writes the record's content as one chunk whose valid frame holds two zstd frames
 *  (two_frames) or one whose zstd checksum fails. */
void gen_bad_zstd_chunk(gen *g, grec *r, int two_frames);
/*! gen_batch() : writes records [rec0, rec0 + count) as a BATCH frame. */
void gen_batch(gen *g, int rec0, int count, bopt o);
/*! gen_meta() / gen_meta1() : writes a META frame holding m (one key/value). */
void gen_meta(gen *g, const gmeta *m, int unknown);
void gen_meta1(gen *g, const char *k, const char *v);
/*! gen_unknown_frame() : a frame of a type format 1.0 does not define, with n bytes of payload. */
void gen_unknown_frame(gen *g, uint8_t type, size_t n, int raw);
/*! gen_footer() / gen_footer_with() : writes the FOOTER frame and the trailer. */
void gen_footer(gen *g);
void gen_footer_with(gen *g, fopt o);
/*! gen_ranges() : the key ranges of a batch by FORMAT.md section 6 (layer, step, pos min/max) and its seq range. */
void gen_ranges(const gen *g, const gbatch *b, int32_t out[6], uint64_t *smin, uint64_t *smax);
/* Damage, recorded in the model: a flipped byte, a frame header or payload damaged, the file cut at len, bytes
 * of garbage appended between frames. */
void gen_flip(gen *g, uint64_t off);
void gen_damage_header(gen *g, int fi);
void gen_damage_payload(gen *g, int fi);
/*! gen_unknown_filter() : sets frame fi's filter byte to 3 (no filter of format 1.1) with a valid header checksum:
 *  a reader must refuse the header by name, which is a damaged header in the model. */
void gen_unknown_filter(gen *g, int fi);
void gen_cut(gen *g, uint64_t len);
void gen_garbage(gen *g, size_t n);
/*! gen_last_frame() : index of the last frame of a type. */
int gen_last_frame(const gen *g, uint8_t type);

/* ---- gen_expect.c: the expected results ------------------------------------------------------------------- */

/*! gen_expect_by_footer() / gen_expect_by_scan() : the result of reading the case's file by its footer (FORMAT.md
 *  section 8) and by scanning (section 9), computed from the model. */
void gen_expect_by_footer(cj *j, const gen *g);
void gen_expect_by_scan(cj *j, const gen *g);
/*! gen_open_out() : opens DIR/CLS/NAME.EXT for writing (exits with status 3 when it cannot). */
FILE *gen_open_out(const char *dir, const char *cls, const char *name, const char *ext, const char *mode);
/*! gen_write_case() : writes the case's file and its expected result. */
void gen_write_case(const char *dir, const gcase *c, gen *g);

#endif /* TT_GEN_CORPUS_H */
