/*
 * tt/reader.h — reading trace files: metadata, records, tensors, verification and recovery.
 *
 * A reader opens a file by its trailer and footer, so opening costs time proportional to the footer, not to the
 * file. Records are numbered 0..count-1 in capture order; their metadata is decoded batch by batch on demand with a
 * small cache, so memory stays bounded whatever the file size. Tensors are read into caller memory, whole or as a
 * range of rows (leading-dimension slices), inflating only the payload frames that hold those rows.
 *
 * Trust: nothing read from the file is trusted. Every offset, size, count and shape is checked against the file
 * length, the format's limits (format/FORMAT.md, "Limits") and integer overflow before use; every frame's header
 * and payload checksums are verified when the frame is read; FlatBuffers objects are verified before they are
 * accessed. A damaged file yields an error naming the frame and offset, never a crash and never wrong bytes.
 *
 * Recovery: when the trailer or footer is missing or damaged (the writer crashed, the disk filled, the file was
 * cut), the reader can rebuild its index by scanning the frames from the start, keeping every whole frame and
 * skipping damaged ones. Records whose payload frames did not survive are reported with TT_REC_LOST.
 *
 * Ownership: the reader owns every string and pointer it returns; they stay valid until tt_reader_close()
 * unless said otherwise. A reader handle must be used by one thread at a time; open one handle per thread to
 * read in parallel (opening again is cheap).
 */
#ifndef TT_READER_H
#define TT_READER_H

#include "tt/common.h"
#include "tt/writer.h" /* tt_record, tt_writer_counters */

#ifdef __cplusplus
extern "C" {
#endif

typedef struct tt_reader tt_reader;

typedef enum tt_recovery {
    TT_RECOVER_AUTO = 0,   /* use the footer; when it is missing or damaged, scan the frames */
    TT_RECOVER_NEVER = 1,  /* fail when the footer is missing or damaged */
    TT_RECOVER_ALWAYS = 2  /* ignore the footer and scan the frames */
} tt_recovery;

typedef struct tt_reader_options {
    uint32_t size;          /* sizeof(tt_reader_options), set by TT_READER_OPTIONS_INIT */
    tt_recovery recovery;   /* default TT_RECOVER_AUTO */
    uint32_t cache_batches; /* decoded record batches kept; default 4 */
} tt_reader_options;

#define TT_READER_OPTIONS_INIT {.size = sizeof(tt_reader_options)}

/* What is known of the file as a whole. */
typedef struct tt_file_info {
    uint16_t format_major, format_minor;
    uint64_t file_size;
    uint64_t record_count;
    uint64_t batch_count;
    uint64_t payload_frame_count;
    uint64_t meta_count;         /* metadata keys */
    uint32_t chunk_bytes;        /* raw bytes per payload frame used by the writer (0 if unknown) */
    int footer_intact;           /* 1: opened by the footer; 0: recovered by scanning */
    int counters_known;          /* 1: counters below come from the footer or the last batch */
    tt_writer_counters counters; /* the writer's counters */
    uint64_t created_ns, closed_ns; /* 0 when unknown (recovered files have no close time) */
    const char *writer;          /* the writing library, "tensortrace 0.1.0"; "" when unknown */
    /* recovery only: what the scan found */
    uint64_t damaged_frames;     /* frames skipped as damaged */
    uint64_t lost_records;       /* records whose payload did not survive (TT_REC_LOST) */
    uint64_t scan_end;           /* offset after the last whole frame */
} tt_file_info;

/*! tt_reader_open() : opens a trace. opts NULL means defaults (TT_RECOVER_AUTO).
 *  @return : TT_OK with *out set. On failure a negative code (TT_E_IO: cannot open/read; TT_E_NOTTRACE: bad
 *  magic; TT_E_VERSION: a newer major version; TT_E_CORRUPT / TT_E_TRUNCATED: damaged and recovery not allowed or
 *  nothing recoverable; TT_E_LIMIT: hostile sizes) and *out is a failed handle whose tt_reader_errmsg() says what
 *  and where; close it with tt_reader_close(). *out is NULL only on TT_E_NOMEM. */
TT_API int tt_reader_open(tt_reader **out, const char *path, const tt_reader_options *opts);

/*
 * Several files as one: the per-rank files of a tensor-parallel run (tp8-rank0.tt ... tp8-rank7.tt), or any traces
 * of one run, read through one handle. Records are numbered file after file: the files in rank order when every
 * file names its rank (metadata "rank"), otherwise in the order given; within a file in capture order. A record
 * whose key has no rank gets its file's. Every function of this header works on such a handle (metadata:
 * the first file's); tt_reader_file_of() tells which file a record comes from. Opening costs what opening each
 * file costs (each file's trailer and footer); each file keeps its descriptor open until close.
 */

/*! tt_reader_open_many() : opens n (>= 1) traces as one reader (see above; n == 1 gives a handle equivalent to
 *  tt_reader_open()'s). opts apply to every file.
 *  @return : TT_OK with *out set. On failure a negative code and *out a failed handle whose tt_reader_errmsg()
 *  names the file: the codes of tt_reader_open() for a file that cannot be opened; TT_E_INVAL for no file or a
 *  NULL path, for files of different runs (they disagree on one of the metadata world_size, engine,
 *  engine_version, model, commit, dtype, seed, capture_mode: "B.tt: from another run than A.tt (model ...)") and
 *  for two files of one rank. *out is NULL only on TT_E_NOMEM. */
TT_API int tt_reader_open_many(tt_reader **out, const char *const *paths, size_t n, const tt_reader_options *opts);

/*! tt_reader_reopen() : another handle on the same file(s), for another thread (a handle is single-threaded).
 *  For a handle of several files the files are opened when one of their records is first read (its first file
 *  at once), so that a thread pays only for the files it reads; a file whose record count changed since is then
 *  an error (TT_E_CORRUPT). @return : TT_OK, TT_E_INVAL (r NULL or failed), or an error of opening; *out as for
 *  tt_reader_open(). */
TT_API int tt_reader_reopen(const tt_reader *r, tt_reader **out);

/*! tt_reader_file_count() : the files behind the handle (1 for tt_reader_open(); 0 for a failed handle). */
TT_API size_t tt_reader_file_count(const tt_reader *r);

/*! tt_reader_file_path() : the path of file `file` (0 <= file < tt_reader_file_count), NULL out of range. */
TT_API const char *tt_reader_file_path(const tt_reader *r, size_t file);

/*! tt_reader_file_rank() : the rank file `file` names in its metadata ("rank"), TT_UNSET when none. */
TT_API int32_t tt_reader_file_rank(const tt_reader *r, size_t file);

/*! tt_reader_file_of() : the file that holds record `index`, and (local != NULL) the record's index within
 *  that file; SIZE_MAX when index is out of range. */
TT_API size_t tt_reader_file_of(const tt_reader *r, uint64_t index, uint64_t *local);

/*! tt_reader_close() : frees the reader. NULL is a no-op. */
TT_API void tt_reader_close(tt_reader *r);

/*! tt_reader_errmsg() : the last error with what and where ("t.tt: frame at offset 40960: payload checksum
 *  mismatch"); "" when none. Valid until the next call on r. */
TT_API const char *tt_reader_errmsg(const tt_reader *r);

/*! tt_reader_path() : the path given to tt_reader_open(). */
TT_API const char *tt_reader_path(const tt_reader *r);

/*! tt_reader_info() : file-level facts. @return : TT_OK or TT_E_INVAL. */
TT_API int tt_reader_info(const tt_reader *r, tt_file_info *out);

/*! tt_reader_count() : number of records (0 for a failed handle). */
TT_API uint64_t tt_reader_count(const tt_reader *r);

/*! tt_reader_meta() : the i-th metadata key/value (0 <= i < meta_count). @return : TT_OK or TT_E_RANGE. */
TT_API int tt_reader_meta(const tt_reader *r, uint64_t i, const char **key, const char **value);

/*! tt_reader_meta_get() : the value of a metadata key, or NULL. */
TT_API const char *tt_reader_meta_get(const tt_reader *r, const char *key);

/*! tt_reader_record() : the metadata of record `index` (strings owned by the reader).
 *  @return : TT_OK, TT_E_RANGE, or an error reading its record batch (TT_E_CORRUPT, TT_E_IO, ...). */
TT_API int tt_reader_record(tt_reader *r, uint64_t index, tt_record *out);

/*
 * Filters: conjunctions of conditions on record fields, shared by the reader, the tools (--where) and the
 * differ (--left/--right). A condition is "FIELD=V1,V2,..." (any of the values), "FIELD!=V1,..." (none of them),
 * or, for integer fields, ranges "layer=0-3,8". Fields: prompt_id (alias prompt), phase, point, layer, step,
 * token_id, logical_tok_idx, pos_id, rows (alias seq_len), rank, dtype, seq, index.
 */
typedef struct tt_filter tt_filter;

/*! tt_filter_new() : an empty filter (matches everything). NULL on allocation failure. */
TT_API tt_filter *tt_filter_new(void);
/*! tt_filter_free() : NULL is a no-op. */
TT_API void tt_filter_free(tt_filter *f);
/*! tt_filter_add() : adds a condition. @return : TT_OK, or TT_E_PARSE with a message in err (what is wrong
 *  and where in the text), or TT_E_NOMEM. err may be NULL. */
TT_API int tt_filter_add(tt_filter *f, const char *condition, char *err, size_t errlen);
/*! tt_filter_match() : 1 when the record satisfies every condition (NULL filter: 1). */
TT_API int tt_filter_match(const tt_filter *f, const tt_record *rec);
/*! tt_filter_empty() : 1 when the filter has no condition. */
TT_API int tt_filter_empty(const tt_filter *f);

/*! tt_reader_next() : filtered iteration. *cursor starts at 0; each call returns the next record at index >=
 *  *cursor that matches f (NULL = all), and moves *cursor past it. Batches that cannot match (by the footer's
 *  key ranges) are skipped without being read.
 *  @return : 1 with *out filled, 0 at the end, or a negative error (a record batch that cannot be read: *cursor
 *  is then moved past that batch's records, so the caller may report the error and go on). */
TT_API int tt_reader_next(tt_reader *r, const tt_filter *f, uint64_t *cursor, tt_record *out);

/*! tt_reader_find() : the first record whose key equals *key on every field that is set (strings non-NULL,
 *  integers other than TT_UNSET; TT_KEY_INIT's rank TT_UNSET matches any rank). The shard fields are not
 *  compared. @return : TT_OK with *out filled, TT_E_NOTFOUND, or an error. */
TT_API int tt_reader_find(tt_reader *r, const tt_key *key, tt_record *out);

/*! tt_reader_read() : reads record `index`'s whole tensor into dst (dst_size >= nbytes).
 *  Verifies the frames' checksums and the content hash of the result.
 *  @return : TT_OK; TT_E_NOPAYLOAD for metadata-only records; TT_E_RANGE when dst is too small;
 *  TT_E_CORRUPT (damaged frame or hash mismatch: dst content is then unspecified), TT_E_IO, TT_E_NOMEM. */
TT_API int tt_reader_read(tt_reader *r, uint64_t index, void *dst, size_t dst_size);

/*! tt_reader_read_rows() : reads rows [row_begin, row_begin+row_count) of the leading dimension (shape[0]) into
 *  dst (dst_size >= row_count * bytes per row), inflating only the frames that hold them. Frame checksums are
 *  verified; the content hash, which covers the whole tensor, is not.
 *  @return : as tt_reader_read(), TT_E_RANGE for rows outside the tensor or a rank-0 tensor. */
TT_API int tt_reader_read_rows(tt_reader *r, uint64_t index, uint64_t row_begin, uint64_t row_count, void *dst,
                               size_t dst_size);

/* A problem found by tt_reader_verify(). */
typedef struct tt_problem {
    int status;        /* TT_E_* */
    uint64_t offset;   /* file offset of the frame concerned */
    int64_t record;    /* record index concerned, or -1 */
    const char *message; /* what and where; valid during the callback */
} tt_problem;

typedef struct tt_verify_result {
    uint64_t frames_checked;
    uint64_t records_checked;
    uint64_t payload_bytes_checked; /* raw tensor bytes re-hashed */
    uint64_t problems;
} tt_verify_result;

/*! tt_reader_verify() : checks every frame's header and payload checksums, verifies every FlatBuffers object,
 *  inflates every payload and compares its content hash with the record's, and checks that frames and records
 *  agree. Calls cb (if not NULL) for each problem; a nonzero return from cb stops early.
 *  @return : TT_OK when no problem was found, TT_E_CORRUPT when some were (see res->problems), or an I/O error. */
TT_API int tt_reader_verify(tt_reader *r, tt_verify_result *res, int (*cb)(void *ctx, const tt_problem *p),
                            void *ctx);

/*! tt_reader_copy() : writes every record matching f (NULL = all) to w with tt_put_record(), payloads
 *  included, keeping seq, time and metadata; records marked TT_REC_LOST are skipped and counted in *lost.
 *  Used to write a clean copy of a recovered file, or a subset of a trace. The reader's file metadata is copied
 *  with tt_writer_set_meta(). Records that cannot be read (a damaged record batch, a payload failing its
 *  checksums) are skipped and counted in *lost. @return : TT_OK or the first error that stops the copy
 *  (writer errors, I/O errors, out of memory). */
TT_API int tt_reader_copy(tt_reader *r, const tt_filter *f, tt_writer *w, uint64_t *copied, uint64_t *lost);

/*! tt_reader_strings() : the distinct strings used by the records (prompt ids, phases, points), in first-use
 *  order; valid until close. @return : TT_OK or TT_E_INVAL. */
TT_API int tt_reader_strings(const tt_reader *r, const char *const **strings, uint64_t *count);

#ifdef __cplusplus
}
#endif
#endif /* TT_READER_H */
