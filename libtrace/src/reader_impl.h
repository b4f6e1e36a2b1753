/*
 * reader_impl.h — the reader's private state, shared by its parts:
 *   reader.c         open by trailer and footer, the index, records, batches cache, filtered iteration, reads
 *   reader_scan.c    recovery: rebuild the index by scanning frames when the footer is missing or damaged
 *   reader_verify.c  tt_reader_verify() and tt_reader_copy()
 *
 * The index is small and flat: per batch its offset, size, first record, count and key ranges; per payload frame
 * its offset (sorted). Record metadata lives in the batches, decoded on demand into a small cache.
 */
#ifndef TT_READER_IMPL_H
#define TT_READER_IMPL_H

#include <stdint.h>

#include "frame.h"
#include "schema.h"
#include "tt/reader.h"
#include "util.h"

typedef struct tt_rbatch {
    uint64_t offset;       /* BATCH frame offset */
    uint64_t frame_size;   /* header + payload, 0 when unknown (read the header first) */
    uint64_t first_record; /* index of its first record in this reader's numbering */
    uint32_t count;
    int has_ranges;
    int32_t layer_min, layer_max, step_min, step_max, pos_min, pos_max;
} tt_rbatch;

typedef struct tt_cached_batch {
    int64_t index;        /* batch number, -1 = empty slot */
    uint64_t last_use;
    uint8_t *raw;         /* the decoded FlatBuffers object */
    tt_batch_view v;
    uint32_t *dims_at;    /* per record: first entry in v.dims */
    uint32_t *gstr;       /* local dictionary index -> global string id */
} tt_cached_batch;

/* Decode buffers: grown on demand, reused by every read. */
typedef struct tt_rbufs {
    uint8_t *stored;   /* a frame's stored bytes */
    size_t stored_cap;
    uint8_t *chunk;    /* one decoded chunk */
    size_t chunk_cap;
    uint8_t *scratch;  /* unshuffle scratch */
    size_t scratch_cap;
} tt_rbufs;

struct tt_reader {
    char *path;
    int fd;
    uint64_t file_size;
    int failed;
    char errmsg[TT_ERRMSG_SIZE];
    uint64_t err_offset; /* offset of the frame the last frame error concerns */
    tt_file_info info;
    tt_recovery recovery;

    /* metadata */
    char **meta_keys, **meta_values;
    uint32_t nmeta;
    tt_intern strings; /* global strings: footer's dictionary then batches' */

    /* index */
    tt_rbatch *batches;
    size_t nbatches, batches_cap;
    uint64_t *pframe;  /* payload frame offsets, increasing */
    size_t npframe, pframe_cap;
    uint64_t *kframe;  /* PACK frame offsets, increasing (format 1.1) */
    size_t nkframe, kframe_cap;
    uint8_t *kmark;    /* tt_reader_verify(): per PACK frame, reached by a record */
    uint64_t *lost;    /* recovery: sorted record indices whose payload did not survive */
    size_t nlost, lost_cap;
    uint64_t nrecords;

    /* cache and buffers */
    tt_cached_batch *cache;
    uint32_t ncache;
    uint64_t use_clock;
    void *dctx;        /* ZSTD_DCtx */
    tt_rbufs own;      /* this reader's decode buffers */
    tt_rbufs *b;       /* the ones it uses: &own, or another reader's (tt__reader_share_buffers) */
    void *xxh;         /* XXH3_state_t: the content hash, streamed over the chunks as they are decoded */
    struct tt_many *many; /* several files read as one (reader_many.c): the public functions forward to it */
    /* the last PACK frame decoded: records packed together are usually read one after the other */
    uint8_t *pack_buf;
    size_t pack_cap;
    uint64_t pack_off; /* its offset, 0: none */
    uint64_t pack_len; /* its raw bytes */
};

/* reader.c */
int tt__reader_err(tt_reader *r, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
int tt__read_at(tt_reader *r, uint64_t off, void *buf, size_t n, const char *what);
/*! tt__ensure() : grows the buffer *p (capacity *cap) to hold need bytes; its content is not kept. Buffers of
 *  2 MiB and more come from tt_alloc_big(). @return : TT_OK or TT_E_NOMEM (*p unchanged). */
int tt__ensure(uint8_t **p, size_t *cap, size_t need);
/*! tt__read_frame() : reads and checks the frame at off (header checksum, limits, inside the file, payload
 *  checksum) and decodes its payload, unless raw is NULL: into dst when dst is given (the frame must then decode
 *  to exactly dst_len bytes, else TT_E_CORRUPT before anything is written), otherwise into a buffer of the
 *  reader; *raw points at the result (the reader's buffer is valid until the next frame read).
 *  @return : TT_OK or an error with the frame and offset in errmsg. */
int tt__read_frame(tt_reader *r, uint64_t off, tt_frame_header *h, const uint8_t **raw, uint8_t *dst,
                   size_t dst_len);
int tt__add_batch(tt_reader *r, const tt_rbatch *b);
int tt__set_meta_from(tt_reader *r, const uint8_t *obj, size_t len);
/*! tt__batch_get() : the decoded batch number bi (cached). */
int tt__batch_get(tt_reader *r, size_t bi, tt_cached_batch **out);
void tt__fill_record(tt_reader *r, const tt_cached_batch *cb, uint32_t i, uint64_t index, tt_record *out);
int tt__is_lost(const tt_reader *r, uint64_t index);
/*! tt__chunk_walk() : decodes the payload chunks of rec from first to last (inclusive) one after the other,
 *  calling fn(ctx, chunk_index, data, len) for each (fn may be NULL). With direct != NULL (the whole tensor's
 *  destination), each chunk is decoded in place there instead of into the reader's buffer. mark, when given,
 *  gets a 1 at the frame-index position of every frame read. A packed record (TT_REC_PACKED) is read from its PACK
 *  frame (the last one decoded is kept) as one piece, chunk 0, whatever first and last say; r->kmark, when set,
 *  gets a 1 at the frame's position. */
int tt__chunk_walk(tt_reader *r, const tt_record *rec, uint32_t first, uint32_t last,
                   int (*fn)(void *ctx, uint32_t c, const uint8_t *data, size_t len), void *ctx, uint8_t *mark,
                   uint8_t *direct);

/*! tt__reader_share_buffers() : r decodes into from's buffers instead of its own, so that two readers used in
 *  turn by one thread (tracediff's left and right) keep one set of buffers in cache instead of two. Both must then
 *  be used by one thread at a time, and from must stay open as long as r. */
void tt__reader_share_buffers(tt_reader *r, tt_reader *from);

/* reader_many.c: a composite handle (r->many) forwards to the file holding each record */
typedef struct tt_many tt_many;
void tt__many_close(tt_reader *r);
int tt__many_record(tt_reader *r, uint64_t index, tt_record *out);
int tt__many_next(tt_reader *r, const tt_filter *f, uint64_t *cursor, tt_record *out);
int tt__many_find(tt_reader *r, const tt_key *key, tt_record *out);
/* rows 0: tt_reader_read(); rows 1: tt_reader_read_rows() */
int tt__many_read(tt_reader *r, uint64_t index, int rows, uint64_t row_begin, uint64_t row_count, void *dst,
                  size_t dst_size);
/* the first file's reader, whose metadata the composite shows */
int tt__many_meta(tt_reader *r, tt_reader **first);
int tt__many_verify(tt_reader *r, tt_verify_result *res, int (*cb)(void *ctx, const tt_problem *p), void *ctx);
int tt__many_copy(tt_reader *r, const tt_filter *f, tt_writer *w, uint64_t *copied, uint64_t *lost);
/*! tt__add_pack_frame() : appends a PACK frame offset to the index (offsets must increase). */
int tt__add_pack_frame(tt_reader *r, uint64_t off);
/*! tt__pack_indexed() : is there a PACK frame at off in the index? */
int tt__pack_indexed(const tt_reader *r, uint64_t off);

/* reader_scan.c */
int tt__scan(tt_reader *r);

/* filter.c: can a batch with these key ranges hold a match? (conservative) */
int tt__filter_may_match(const tt_filter *f, const tt_rbatch *b);

#endif /* TT_READER_IMPL_H */
