/*
 * schema.h — the objects of schemas/trace.fbs in C: encode a record batch, the metadata and the footer into
 * FlatBuffers, and decode them back into views that point into the (verified) buffer.
 *
 * Decoding is where a hostile file meets the library, so tt_fb_decode_*() first run the FlatBuffers verifier
 * (fb_verify) with the schema's descriptions, then check what the verifier cannot know: every per-record
 * column has the batch's record count (or is absent), dictionary indices are inside the dictionary, dtypes and
 * ndim are known, the shapes add up to the dims column and their byte sizes do not overflow, counts are under the
 * limits of frame.h. After a decode succeeds, the tt_batch_get_*() accessors need no further checks.
 *
 * The field ids below are those of trace.fbs (declaration order); they never change.
 */
#ifndef TT_FORMAT_SCHEMA_H
#define TT_FORMAT_SCHEMA_H

#include <stddef.h>
#include <stdint.h>

#include "fb.h"
#include "tt/writer.h" /* tt_writer_counters */

#define TT_FB_IDENT "TTR1"

/* A record batch, column by column. Encoding reads it; decoding fills it with pointers into the buffer.
 * Absent columns (possible in buffers built by other tools) are NULL and read as their defaults. */
typedef struct tt_batch_view {
    uint32_t n;                 /* records */
    uint64_t first_record;
    uint32_t chunk_bytes;
    /* string dictionary: encode from `strings`; decode gives strings_vec for fb_vec_string(buf, ...) */
    const char *const *strings;
    const void *strings_vec;
    uint32_t nstrings;
    const uint64_t *seq, *time_ns;
    const uint32_t *prompt_id, *phase, *point;
    const int32_t *layer, *step, *token_id, *logical_tok_idx, *pos_id, *rows, *rank;
    const uint8_t *dtype, *ndim, *flags;
    const uint64_t *dims;
    uint32_t ndims_total;       /* entries in dims */
    const uint64_t *hash;
    const double *stat_min, *stat_max, *stat_mean, *stat_absmax, *stat_l2;
    const uint64_t *nan_count, *inf_count;
    const uint64_t *payload_offset;
    const uint32_t *payload_frames;
    const uint64_t *payload_stored;
    const uint8_t *shard_kind;  /* absent: every record whole (TT_SHARD_NONE) */
    const int32_t *shard_dim, *shard_index, *shard_count; /* absent: -1 */
    const uint64_t *pack_offset;  /* format 1.1, packed records (flags bit 3): offset of their PACK frame */
    const uint32_t *pack_start;   /* ... and where their content starts in its decoded bytes */
    int has_counters;
    tt_writer_counters counters;
    const uint8_t *buf;         /* decode: the buffer the pointers point into */
} tt_batch_view;

/* The footer's per-batch index, columnar (nb entries). */
typedef struct tt_batch_index_view {
    uint32_t nb;
    const uint64_t *offset, *frame_size, *first_record;
    const uint32_t *record_count;
    const uint64_t *seq_min, *seq_max;
    const int32_t *layer_min, *layer_max, *step_min, *step_max, *pos_min, *pos_max;
} tt_batch_index_view;

typedef struct tt_footer_view {
    uint16_t format_major, format_minor;
    const char *writer;
    uint64_t created_ns, closed_ns;
    uint32_t chunk_bytes;
    uint64_t record_count;
    /* metadata: encode from keys/values; decode gives meta_vec for tt_fb_meta_entry() */
    const char *const *meta_keys;
    const char *const *meta_values;
    const void *meta_vec;
    uint32_t nmeta;
    const char *const *strings;
    const void *strings_vec;
    uint32_t nstrings;
    tt_batch_index_view batches;
    /* frame index */
    uint32_t nframes;
    const uint64_t *frame_offset;
    const uint8_t *frame_type;
    int has_counters;
    tt_writer_counters counters;
    const uint8_t *buf;
} tt_footer_view;

/*! tt_fb_encode_batch() / _meta() / _footer() : build the FlatBuffers object into b (reset first) and
 *  return it in *out / *size (valid until the next use of b). @return : TT_OK or the builder's error. */
int tt_fb_encode_batch(fb_builder *b, const tt_batch_view *v, const uint8_t **out, size_t *size);
int tt_fb_encode_meta(fb_builder *b, const char *const *keys, const char *const *values, uint32_t n,
                      const uint8_t **out, size_t *size);
int tt_fb_encode_footer(fb_builder *b, const tt_footer_view *v, const uint8_t **out, size_t *size);

/*! tt_fb_decode_batch() / _footer() : verify and view. @return : TT_OK, TT_E_CORRUPT or TT_E_LIMIT with err
 *  naming the field. */
int tt_fb_decode_batch(const uint8_t *buf, size_t len, tt_batch_view *v, char *err, size_t errlen);
int tt_fb_decode_footer(const uint8_t *buf, size_t len, tt_footer_view *v, char *err, size_t errlen);
/*! tt_fb_decode_meta() : verify a META object; entries are read with tt_fb_meta_entry(buf, *vec, i, ...). */
int tt_fb_decode_meta(const uint8_t *buf, size_t len, const void **vec, uint32_t *n, char *err, size_t errlen);
/*! tt_fb_meta_entry() : key and value of entry i of a verified vector of KeyValue ("" when absent). */
void tt_fb_meta_entry(const uint8_t *buf, const void *vec, uint32_t i, const char **key, const char **value);

/*! tt_shard_check() : 1 when a shard layout obeys FORMAT.md section 5 for a tensor of ndim dimensions (the rules
 *  of tt_key in tt/common.h), else 0 with why saying which rule it breaks. Kinds above TT_SHARD_PARTIAL are
 *  refused: callers that must accept them (readers of a newer minor version) do not ask. */
int tt_shard_check(int32_t kind, int32_t dim, int32_t index, int32_t count, int ndim, char *why, size_t whylen);

/* Verifier descriptions, exposed for the fuzz targets and tests. */
extern const fb_table_desc tt_fb_desc_footer;
extern const fb_table_desc tt_fb_desc_batch;
extern const fb_table_desc tt_fb_desc_meta;

#endif /* TT_FORMAT_SCHEMA_H */
