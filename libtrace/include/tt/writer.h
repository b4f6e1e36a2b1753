/*
 * tt/writer.h — capturing tensors into a trace file from a running engine.
 *
 * One tt_put() per captured tensor. The calling thread checks the filters, copies the tensor into an in-flight
 * buffer (one the writer has written before and kept, when one fits: no fresh pages to fault in) and returns; hashing, statistics, byte shuffling and zstd run on a pool of worker threads, and one
 * writer thread appends frames to the file in capture order. Bytes in flight are bounded: when the bound is
 * reached a put blocks (the default, nothing is lost) or drops the record and counts it (TT_ON_FULL_DROP).
 * Small tensors (at most 16 KiB, and a quarter of chunk_bytes) are copied into a shared pack instead: the workers
 * take a pack of up to 1,024 records as one task and the file gets one PACK frame for them (format 1.1), so a
 * put of a small tensor costs one lock and a copy. Record batches are flushed periodically (every flush_ms, and every batch_records records), so a process that
 * crashes leaves every flushed record readable by tt_reader_open() in recovery mode.
 *
 * Ownership: the writer owns itself and everything it allocates; tensor data passed to tt_put() is copied before
 * the call returns, strings in keys and metadata are copied too. All calls on a writer are thread-safe except
 * tt_writer_free(), which must be the last call.
 *
 * A NULL writer is a disabled writer: tt_put(NULL, ...) returns TT_FILTERED and tt_writer_wants(NULL, ...)
 * returns 0, so an engine keeps its tracing calls in place and pays one branch when tracing is off.
 *
 * Environment variables (read by tt_writer_open() unless options.ignore_env; they override the options, so an
 * engine can be traced without a rebuild). A malformed value makes tt_writer_open() fail naming the variable.
 *   TT_TRACE_FILE        output path when tt_writer_open() is given path NULL; unset = tracing disabled
 *   TT_TRACE_MODE        full | stats | hash | off
 *   TT_TRACE_LAYERS      layers to capture: "0,1,2,4,8", ranges "0-3,8", "all" (see FILTERS)
 *   TT_TRACE_POINTS      capture points, comma separated ("attn_out,mlp_out")
 *   TT_TRACE_PROMPTS     prompt ids, comma separated
 *   TT_TRACE_PHASES      phases, comma separated
 *   TT_TRACE_THREADS     worker threads (1..256)
 *   TT_TRACE_INFLIGHT_MB bound on bytes in flight, MiB
 *   TT_TRACE_ON_FULL     block | drop
 *   TT_TRACE_ZSTD_LEVEL  zstd level (-7..19)
 *   TT_TRACE_FILTER      payload filter: auto | float | shuffle | none
 *   TT_TRACE_SHUFFLE     auto | on | off
 *   TT_TRACE_FLUSH_MS    batch flush interval, milliseconds
 *   TT_TRACE_RANK        this process's rank (0..2^31-2), when tt_writer_options gives none
 *   TT_TRACE_WORLD_SIZE  ranks in the job (1..2^31-1), with TT_TRACE_RANK
 *
 * RANK: the writer's rank names the process in a tensor-parallel (or any multi-process) job. It is, in this
 * order: tt_writer_options.rank (when rank_set); TT_TRACE_RANK; the launchers' variables RANK (torchrun and
 * most Python launchers), OMPI_COMM_WORLD_RANK (Open MPI's mpirun), SLURM_PROCID (srun), LOCAL_RANK (the rank
 * within the node, last because it repeats on every node). The first that is set is used; a value that is not
 * an integer in 0..2^31-2 makes tt_writer_open() fail naming the variable (a later one is not tried). The world
 * size comes from the same source: options.world_size, TT_TRACE_WORLD_SIZE, WORLD_SIZE, OMPI_COMM_WORLD_SIZE,
 * SLURM_NTASKS, LOCAL_WORLD_SIZE; it is optional, and the rank must be below it. ignore_env skips every
 * variable, the launchers' too. The rank is stored in the metadata ("rank", and "world_size" when known) and is
 * the rank of every record whose key has rank TT_UNSET (TT_KEY_INIT); with no rank known that is 0.
 *
 * PATHS: the output path (given to tt_writer_open() or in TT_TRACE_FILE) may hold %r (the rank, in decimal),
 * %p (the process id) and %% (a '%'), so that each rank of a job writes its own file ("run-rank%r.tt"). %r
 * with no rank known fails (TT_E_INVAL): processes that all wrote "rank 0" would collide on one file. Any other
 * character after '%' fails too. tt_writer_path() returns the expanded path.
 *
 * FILTERS: a record is captured when every given list accepts it. The layer list applies to records with
 * layer >= 0; records with layer -1 (embeddings, logits) pass the layer list unless it is prefixed by '='
 * ("=0,1" keeps exactly layers 0 and 1 and nothing outside layers).
 */
#ifndef TT_WRITER_H
#define TT_WRITER_H

#include "tt/common.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct tt_writer tt_writer;

typedef enum tt_mode {
    TT_MODE_DEFAULT = 0, /* full, unless TT_TRACE_MODE says otherwise */
    TT_MODE_FULL = 1,    /* hash, statistics and the whole tensor */
    TT_MODE_STATS = 2,   /* hash and statistics, no tensor bytes */
    TT_MODE_HASH = 3,    /* hash only */
    TT_MODE_OFF = 4      /* nothing is captured; the file is still written with its metadata */
} tt_mode;

typedef enum tt_on_full {
    TT_ON_FULL_DEFAULT = 0, /* block */
    TT_ON_FULL_BLOCK = 1,   /* tt_put() waits until enough in-flight bytes are written; nothing is lost */
    TT_ON_FULL_DROP = 2     /* tt_put() drops the record, counts it and returns TT_DROPPED */
} tt_on_full;

typedef enum tt_shuffle {
    TT_SHUFFLE_AUTO = 0, /* byte shuffle by element size for floating-point types of 2 bytes or more */
    TT_SHUFFLE_ON = 1,   /* shuffle every type of 2 bytes or more */
    TT_SHUFFLE_OFF = 2
} tt_shuffle;

/* The payload filter of tensors in full mode, chosen per chunk (FORMAT.md section 3). */
typedef enum tt_payload_filter {
    TT_PAYLOAD_FILTER_AUTO = 0,    /* FLOAT for bf16, f16 and f32 chunks, its exponent-only symbol with the mantissa
                                      stored as it is, unless a sample of the chunk shows repeats (zeros, repeated
                                      rows), which byte shuffle + zstd codes better; other types as `shuffle` says */
    TT_PAYLOAD_FILTER_FLOAT = 1,   /* as auto, for a higher ratio at more CPU: bf16 chunks take FLOAT form 1 (the
                                      exponent's place in a window and 4 mantissa bits in one symbol), f16 and f32
                                      the wider symbol (exponent + two mantissa bits) with the mantissa's top plane
                                      entropy-coded */
    TT_PAYLOAD_FILTER_SHUFFLE = 2, /* byte shuffle + zstd as `shuffle` says (the format 1.0 path) */
    TT_PAYLOAD_FILTER_NONE = 3     /* zstd alone: no filter, whatever `shuffle` says */
} tt_payload_filter;

/*
 * Options. Initialise with TT_WRITER_OPTIONS_INIT; every 0 / NULL field means "default". `size` lets the struct
 * grow: the library reads only the fields that existed at the size the caller compiled with.
 */
typedef struct tt_writer_options {
    uint32_t size;           /* sizeof(tt_writer_options), set by TT_WRITER_OPTIONS_INIT */
    tt_mode mode;            /* default full */
    uint32_t threads;        /* worker threads; default min(4, online CPUs) */
    uint64_t inflight_bytes; /* bound on the writer's working memory: tensor copies in flight, ~0.5 KiB of
                                bookkeeping per record, each worker's chunk of scratch and zstd contexts
                                (about 6 MiB per worker at the default chunk size), and the written tensor
                                buffers the writer keeps for later puts (at most 16, freed at close or when a
                                put needs their room); default 256 MiB, at least 1 MiB. A tensor larger than
                                what is left is admitted when nothing else is in flight. */
    tt_on_full on_full;      /* default block */
    int zstd_level;          /* default 1; negative levels are zstd's fast levels */
    int zstd_level_set;      /* nonzero: zstd_level is used even when 0 (zstd's own default level 3) */
    tt_shuffle shuffle;      /* default auto */
    uint32_t chunk_bytes;    /* raw bytes per payload frame; default 4 MiB; a multiple of 16, 4 KiB..64 MiB */
    uint32_t batch_records;  /* records per record-batch frame; default 4096, at most 65536 */
    uint32_t flush_ms;       /* flush pending records at least this often; default 1000 */
    const char *layers;      /* layer filter ("0,1,2,4,8"); NULL = all */
    const char *points;      /* point filter; NULL = all */
    const char *prompts;     /* prompt filter; NULL = all */
    const char *phases;      /* phase filter; NULL = all */
    int ignore_env;          /* nonzero: do not read TT_TRACE_* variables */
    int overwrite;           /* nonzero: replace an existing file; default refuse (TT_E_IO, "exists") */
    int32_t rank;            /* this process's rank, 0..2^31-2, used when rank_set is nonzero (see RANK) */
    int rank_set;            /* nonzero: `rank` is given (0 is a rank, so it needs saying) */
    int32_t world_size;      /* ranks in the job; 0 = unknown (then from the environment, see RANK) */
    tt_payload_filter payload_filter; /* default auto; environment TT_TRACE_FILTER=auto|float|shuffle|none */
} tt_writer_options;

#define TT_WRITER_OPTIONS_INIT {.size = sizeof(tt_writer_options)}

/* Counters kept by the writer; the same values are stored in the footer. */
typedef struct tt_writer_counters {
    uint64_t puts;           /* tt_put()/tt_put_record() calls on an enabled writer */
    uint64_t filtered;       /* rejected by filters or mode off */
    uint64_t dropped;        /* dropped under TT_ON_FULL_DROP */
    uint64_t written;        /* records written to the file (in a flushed batch) */
    uint64_t bytes_raw;      /* tensor bytes of the captured payloads (before compression) */
    uint64_t bytes_stored;   /* payload bytes in the file (after shuffle and compression, frame headers excluded) */
    uint64_t payload_frames; /* payload frames written */
    uint64_t batches;        /* record-batch frames written */
    uint64_t file_bytes;     /* bytes written to the file so far; as stored in a file (a batch's or the footer's
                                counters), the offset of the frame that holds them (FORMAT.md section 5) */
    uint64_t errors;         /* failed puts (I/O failures included) */
} tt_writer_counters;

/*! tt_writer_open() : creates a trace file and starts the writer's threads.
 *  path NULL means $TT_TRACE_FILE; when that is unset too, *out is set to NULL and TT_OK is returned: a
 *  disabled writer (see above). "-" (stdout) is refused: readers start from the footer at the end of the file,
 *  so a trace must be a regular file. opts NULL means all defaults.
 *  @return : TT_OK with *out set; on failure a negative code, and *out is a handle in the failed state whose
 *  tt_writer_errmsg() says what failed (bad option, bad environment variable, cannot create the file); free it
 *  with tt_writer_free(). *out is NULL only on TT_E_NOMEM. */
TT_API int tt_writer_open(tt_writer **out, const char *path, const tt_writer_options *opts);

/*! tt_writer_set_meta() : sets a file metadata key/value (engine, model, device, commit, capture mode, ...).
 *  Setting a key again replaces its value. Metadata is written to the file with the next flush and in the
 *  footer, so a recovered file keeps it. Keys and values are copied; at most 64 KiB each, 4096 keys.
 *  @return : TT_OK, TT_E_INVAL, TT_E_LIMIT or TT_E_STATE (closed). */
TT_API int tt_writer_set_meta(tt_writer *w, const char *key, const char *value);

/*! tt_writer_wants() : 1 when a record with these fields would pass the filters and the mode, else 0. Cheap
 *  (no locks, no allocation); lets an engine skip preparing a tensor nobody wants. Any string may be NULL,
 *  meaning "not known yet": then that filter is not applied. NULL writer: 0. */
TT_API int tt_writer_wants(const tt_writer *w, const char *point, int32_t layer, const char *prompt_id,
                           const char *phase);

/*! tt_put() : captures one tensor from host memory. `data` holds the tensor's elements contiguously in
 *  little-endian order; it is copied before the call returns (or not at all when filtered or dropped).
 *  shape has ndim (0..TT_MAX_DIMS) entries; key->rows should equal shape[0] for tensors that hold rows.
 *  key->rank TT_UNSET stores the writer's rank. The shard fields follow the rules of tt_key (tt/common.h):
 *  TT_SHARD_SPLIT needs 0 <= shard_dim < ndim, TT_SHARD_PARTIAL needs shard_dim -1, both need
 *  0 <= shard_index < shard_count <= TT_MAX_SHARDS; with TT_SHARD_NONE they are ignored.
 *  @return : TT_OK (queued), TT_FILTERED, TT_DROPPED, or a negative code: TT_E_INVAL (bad dtype or shape, key
 *  without point, bad shard layout), TT_E_LIMIT (tensor over 2^48 bytes, a key string over 64 KiB, or a new key string once the
 *  trace holds 1,048,576 distinct ones or 512 MiB of them), TT_E_IO (a previous write failed: the writer is in the
 *  failed state and accepts nothing more), TT_E_STATE (closed), TT_E_NOMEM. */
TT_API int tt_put(tt_writer *w, const tt_key *key, tt_dtype dtype, int ndim, const uint64_t *shape,
                  const void *data);

/*
 * A record as stored: the key, the tensor's type and shape, its content hash and statistics and the payload
 * location. Filled by the reader; also given to tt_put_record() to store a record whose metadata is already known
 * (imports, copies of recovered files).
 */
#define TT_REC_HAS_PAYLOAD 0x01u /* the tensor bytes are in the file */
#define TT_REC_HAS_HASH 0x02u    /* `hash` is the content hash of the tensor */
#define TT_REC_HAS_STATS 0x04u   /* `stats` are valid */
#define TT_REC_PACKED 0x08u      /* reader only: the content is stored packed with other small records in one
                                    PACK frame (format 1.1); TT_REC_HAS_PAYLOAD is set too. Ignored by writers */
#define TT_REC_LOST 0x80u        /* reader only: the payload frames are missing or damaged (recovered file) */

typedef struct tt_record {
    uint64_t index;   /* reader: position of the record in the file (0-based, capture order) */
    uint64_t seq;     /* capture sequence number, unique in a file */
    uint64_t time_ns; /* capture time, ns since the Unix epoch */
    tt_key key;       /* with the shard layout (key.shard_kind ...; TT_SHARD_NONE in files without one) */
    tt_dtype dtype;
    int ndim;
    uint64_t shape[TT_MAX_DIMS];
    uint64_t nbytes; /* element count times element size */
    uint32_t flags;  /* TT_REC_* */
    uint64_t hash;   /* XXH3-64 of the tensor bytes, when TT_REC_HAS_HASH */
    tt_stats stats;  /* when TT_REC_HAS_STATS */
    uint64_t stored_bytes;   /* reader: payload bytes in the file */
    uint32_t payload_frames; /* reader: number of payload frames */
} tt_record;

/*! tt_put_record() : stores a record with its metadata as given: seq and time_ns are kept when nonzero
 *  (otherwise assigned as for tt_put()); the filters and mode are not applied (the caller chose the record).
 *  With data != NULL the tensor is stored (rec->nbytes bytes) and its hash and statistics are computed by the
 *  writer (TT_E_CORRUPT if rec has TT_REC_HAS_HASH and the data does not hash to it). With data NULL a
 *  metadata-only record is stored with rec's TT_REC_HAS_HASH / TT_REC_HAS_STATS fields. The key's rank and
 *  shard fields are treated as by tt_put().
 *  @return : as tt_put(). */
TT_API int tt_put_record(tt_writer *w, const tt_record *rec, const void *data);

/*! tt_writer_flush() : waits until everything put so far is in the file (payload and record-batch frames),
 *  so that a crash after it returns loses none of it. Does not fsync (see tt_writer_sync).
 *  @return : TT_OK or the writer's first error. */
TT_API int tt_writer_flush(tt_writer *w);

/*! tt_writer_sync() : tt_writer_flush() then fsync(), for power-loss durability. */
TT_API int tt_writer_sync(tt_writer *w);

/*! tt_writer_get_counters() : a snapshot of the counters. @return : TT_OK or TT_E_INVAL. */
TT_API int tt_writer_get_counters(const tt_writer *w, tt_writer_counters *out);

/*! tt_writer_close() : writes what is pending, the footer and the trailer, stops the threads and closes the
 *  file. The handle stays valid for tt_writer_errmsg()/tt_writer_get_counters() until tt_writer_free().
 *  On a write error (disk full) the file is cut back to its last whole frame, so it opens in recovery mode.
 *  @return : TT_OK or the first error the writer met (puts included). Calling it twice returns the same. */
TT_API int tt_writer_close(tt_writer *w);

/*! tt_writer_free() : closes (if not closed) and frees the writer. NULL is a no-op. */
TT_API void tt_writer_free(tt_writer *w);

/*! tt_writer_errmsg() : what went wrong and where ("trace.tt: write at offset 4096: No space left on device").
 *  After a failure of the writer itself (I/O) it is that first failure; otherwise the last refused put, which
 *  does not fail the writer. "" when nothing went wrong. Valid until the next call on w. NULL writer: "". */
TT_API const char *tt_writer_errmsg(const tt_writer *w);

/*! tt_writer_path() : the file being written (after %r / %p expansion). */
TT_API const char *tt_writer_path(const tt_writer *w);

/*! tt_writer_rank() : the writer's rank (see RANK), or TT_UNSET when none is known (records then get rank 0).
 *  NULL writer: TT_UNSET. */
TT_API int32_t tt_writer_rank(const tt_writer *w);

#ifdef __cplusplus
}
#endif
#endif /* TT_WRITER_H */
