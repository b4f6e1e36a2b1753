/*
 * writer_impl.h — the writer's private state, shared by its three parts:
 *   writer.c       the API: options, environment, filters, admission of records (bounded bytes in flight)
 *   writer_pool.c  the worker threads: content hash, statistics, shuffle + zstd of each chunk, in place
 *   writer_file.c  the file thread: appends frames in capture order, record batches, metadata, footer
 *   writer_bufs.c  written tensor buffers kept for the next puts
 *   writer_pack.c  small records packed into shared frames
 *
 * Life of a record ("job"): tt_put() reserves its bytes in flight (blocking or dropping when the bound is
 * reached), takes the next order number and links the job at the tail of the in-order list, then copies the
 * tensor outside the lock. A worker hashes the whole tensor (the hash covers the contiguous bytes, so it is one
 * sequential pass), then chunk tasks compute statistics and compress each chunk into the job's own buffer (in
 * place: the compressed chunk is never larger than the raw one), so memory in flight is exactly the reserved
 * bytes plus a scratch buffer per worker. The file thread waits for the job at the head of the list, writes its
 * payload frames, adds its metadata to the pending record batch, releases the reservation and keeps the buffer
 * for a later put (writer_bufs.c: kept buffers stay counted in the bound) or frees it.
 *
 * Locking: one mutex (mu) guards the list, the task queues, the counters and the error state; the file thread
 * does its I/O and the workers their computing without it.
 */
#ifndef TT_WRITER_IMPL_H
#define TT_WRITER_IMPL_H

#include <pthread.h>
#include <stdint.h>

#include "fb.h"
#include "frame.h"
#include "tt/writer.h"
#include "util.h"
#include "writer_internal.h"

/* Written tensor buffers kept for reuse, at most (writer_bufs.c). */
#define BUF_KEEP 16u

enum { JOB_COPYING, JOB_HASHING, JOB_CHUNKS, JOB_DONE, JOB_OPEN };

/* One small record of a pack job (writer_pack.c). */
typedef struct tt_pack_entry {
    tt_record rec;             /* key strings unused: ids below */
    uint32_t prompt_id, phase, point, key_bytes;
    uint32_t data_off;         /* where its bytes are in the pack's buffer; after the worker, in the PACK content */
    uint8_t mode;              /* tt_mode: what to compute and store */
    uint8_t check_hash, keep_hash, keep_stats;
    uint8_t packed;            /* worker: its content is in the PACK frame */
    int error;                 /* worker: TT_OK, or why this record is not written */
    uint64_t given_hash;
} tt_pack_entry;

typedef struct tt_job {
    struct tt_job *next;       /* in-order list */
    struct tt_job *next_task;  /* hash queue / chunk queue */
    uint64_t order;            /* admission order, dense */
    int state;
    int error;                 /* TT_OK or the failure that makes this job be skipped */
    tt_mode mode;              /* what to compute and store */
    /* metadata */
    tt_record rec;             /* key strings unused here: ids below */
    uint32_t prompt_id, phase, point; /* interned string ids, UINT32_MAX = none */
    uint32_t key_bytes;               /* their lengths, summed: what the record may add to a batch's dictionary */
    int keep_hash, keep_stats; /* metadata-only record with given hash / stats */
    /* data */
    uint8_t *data;             /* tensor bytes; chunks compressed in place */
    uint64_t data_cap;         /* its capacity when the writer allocated it (may be kept for reuse), else 0 */
    tt_release_fn release;     /* NULL: data was malloc'ed (by the writer, or handed over to be freed) */
    void *release_ctx;
    uint64_t reserved;         /* in-flight bytes charged */
    uint32_t nchunks;
    uint32_t next_chunk;       /* next chunk to hand to a worker */
    uint32_t chunks_done;
    tt_frame_header *chunk_hdr; /* per chunk: encoded frame header fields */
    tt_stats *chunk_stats;      /* per chunk statistics, merged when all are done */
    int check_hash;             /* tt_put_record with data and a given hash: verify */
    uint64_t given_hash;
    /* a pack job (writer_pack.c): many small records, one task for the workers and one PACK frame */
    int packed;
    tt_pack_entry *ents;
    uint32_t nents, ents_cap;
    uint32_t data_len;          /* bytes of the records' tensors in data (capacity w->pack_bytes) */
    uint64_t opened_mono;       /* when its first record came: sealed flush_ms later at the latest */
    tt_frame_header pack_hdr;   /* worker: the encoded PACK content (raw_size 0: no content to store) */
} tt_job;

struct tt_writer {
    char *path;
    int fd;
    /* resolved options */
    tt_mode mode;
    uint32_t nthreads;
    uint64_t inflight_limit;
    tt_on_full on_full;
    int zstd_level;
    tt_shuffle shuffle;
    tt_payload_filter payload_filter;
    uint32_t chunk_bytes, batch_records, flush_ms;
    int32_t rank;       /* TT_UNSET when unknown (writer_rank.c) */
    int32_t world_size; /* 0 when unknown */
    uint32_t pack_bytes, pack_record_max; /* PACK content size, largest record that is packed (writer_pack.c) */
    /* filters: NULL/empty = all */
    int has_layers, layers_strict;
    tt_range_list layers;
    tt_name_list points, prompts, phases;

    pthread_mutex_t mu;
    pthread_cond_t cv_space;  /* puts waiting for in-flight room */
    pthread_cond_t cv_work;   /* workers waiting for tasks */
    pthread_cond_t cv_file;   /* the file thread waiting for the head job, a flush or close */
    pthread_cond_t cv_flush;  /* flush callers waiting */
    pthread_t *workers;
    pthread_t file_thread;
    uint32_t nworkers_started;
    int file_thread_started;

    /* under mu */
    uint64_t inflight;
    uint64_t workers_mem;              /* the workers' scratch and zstd contexts, charged to the in-flight bound */
    uint8_t *buf_p[BUF_KEEP];          /* written tensor buffers kept for reuse, oldest first (writer_bufs.c) */
    uint64_t buf_cap[BUF_KEEP];        /* their capacities */
    uint32_t nbufs;
    uint64_t buf_bytes;                /* their capacities, summed: charged to the in-flight bound */
    uint64_t buf_reused;               /* admissions that took a kept buffer */
    uint64_t mem_peak;                 /* the highest tt__writer_held() seen (noted as it grows) */
    uint64_t next_order, next_seq;
    tt_job *head, *tail;               /* admitted, not yet written */
    tt_job *hash_head, *hash_tail;     /* jobs waiting for their hash task */
    tt_job *chunk_head, *chunk_tail;   /* jobs with chunk tasks left to hand out */
    tt_job *open_pack;                 /* the pack job taking small records, if any (it is the tail) */
    tt_job *pack_spare;                /* written pack jobs kept for reuse (writer_pack.c) */
    uint32_t npacks;                   /* pack jobs allocated (in use or spare) */
    uint64_t flush_target;             /* order number up to which a flush was asked */
    uint64_t durable_order;            /* records with order < this are in a written batch (or skipped) */
    int stop_workers, closing;
    int closed;                        /* tt_writer_close() has run */
    int failed;                        /* an I/O error: nothing more is accepted */
    int status;                        /* first error */
    char errmsg[TT_ERRMSG_SIZE];
    tt_writer_counters counters;
    tt_intern strings;                 /* prompt ids, phases, points */
    uint64_t string_bytes;             /* their lengths, summed (they all go into the footer) */
    /* metadata */
    char **meta_keys, **meta_values;
    uint32_t nmeta;
    size_t meta_cap;
    int meta_dirty;

    /* file thread only (no lock) */
    uint64_t offset;                   /* end of the last whole frame = file size */
    uint64_t created_ns;
    fb_builder fb;
    void *zctx;                        /* ZSTD_CCtx for metadata frames */
    uint8_t *meta_scratch;
    size_t meta_scratch_cap;
    struct tt_batch_build *batch;      /* the pending record batch */
    /* footer index */
    uint64_t *frame_off;
    uint8_t *frame_type;
    size_t nframes, frame_cap;
    struct tt_bindex *bindex;
    uint64_t records_in_batches;
};

/* writer_pool.c */
int tt__pool_start(tt_writer *w);
void tt__pool_stop(tt_writer *w);
void tt__pool_enqueue_hash(tt_writer *w, tt_job *j); /* under mu */
size_t tt__shuffle_size(const tt_writer *w, tt_dtype dt); /* the element size a tensor is shuffled by, 0: none */

/* writer_pack.c */
/*! tt__pack_limits() : sets pack_bytes and pack_record_max from the chunk size. */
void tt__pack_limits(tt_writer *w);
/*! tt__pack_small() : 1 when a record that brings data_bytes of tensor goes into a pack job. */
int tt__pack_small(const tt_writer *w, uint64_t data_bytes);
/*! tt__pack_reserve() : in-flight bytes a packed record holds (its tensor and its entry). */
uint64_t tt__pack_reserve(uint64_t data_bytes);
/*! tt__pack_add() : under mu, after admission: adds the record (metadata in tmp, data_bytes from data) to the
 *  open pack job, opening one (linked at the tail, next order number) when there is none or it is full.
 *  @return : TT_OK or TT_E_NOMEM. */
int tt__pack_add(tt_writer *w, const tt_job *tmp, const void *data, uint64_t data_bytes, uint64_t reserve);
/*! tt__pack_must_wait() : under mu, before tt__pack_add(): 1 when the record needs a new pack and every pack job
 *  is in use (the caller then waits on cv_space, which the file thread signals as it writes packs). A full open
 *  pack is sealed. */
int tt__pack_must_wait(tt_writer *w, uint64_t data_bytes);
/*! tt__pack_recycle() : under mu (file thread): a written pack job is kept for reuse. */
void tt__pack_recycle(tt_writer *w, tt_job *p);
/*! tt__pack_free_spares() : frees the kept pack jobs (at close). */
void tt__pack_free_spares(tt_writer *w);
/*! tt__pack_seal() : under mu: the open pack job, if any, takes no more records and goes to the workers. */
void tt__pack_seal(tt_writer *w);
/*! tt__pack_compute() : worker, without the lock: hashes, statistics and (for full capture) the PACK content of
 *  every record of the pack, encoded with cctx (NULL: stored) by esize rules of the pool. Records that fail (a
 *  given hash that does not match) get their error; a failure of the whole pack is returned, message in err. */
int tt__pack_compute(tt_writer *w, tt_job *j, void *cctx, void *cctx_planes, uint8_t *scratch, char *err,
                     size_t errlen);

/* writer_file.c */
int tt__file_start(tt_writer *w);   /* writes the file header, starts the thread */
int tt__file_finish(tt_writer *w);  /* joins the thread after close: footer + trailer written by it */
void tt__job_free(tt_job *j);

/* writer_bufs.c, all under mu but tt__buf_free_all(); new buffers come from tt_alloc_big() (util.h) */
/*! tt__writer_held() : what the in-flight bound counts: bytes in flight, the workers' memory, kept buffers. */
uint64_t tt__writer_held(const tt_writer *w);
/*! tt__writer_note_held() : records tt__writer_held() in mem_peak when it is higher. */
void tt__writer_note_held(tt_writer *w);
/*! tt__buf_find() : the kept buffer that suits a tensor of n bytes best (the smallest of capacity n to n + n/4),
 *  or -1. */
int tt__buf_find(const tt_writer *w, uint64_t n);
/*! tt__buf_take() : removes kept buffer i (from tt__buf_find()) and returns it, its capacity in *cap; the caller
 *  charges that capacity to its reservation. */
uint8_t *tt__buf_take(tt_writer *w, int i, uint64_t *cap);
/*! tt__buf_evict() : frees one kept buffer other than number except (-1: any), the oldest. @return : 1 when one
 *  was freed, 0 when there was none. */
int tt__buf_evict(tt_writer *w, int except);
/*! tt__buf_keep() : offers a written buffer p of capacity cap (after its reservation was released). It is kept
 *  when it fits under the bound and the writer is not closing; the oldest kept one makes room when BUF_KEEP are.
 *  @return : the buffer the caller frees, outside the lock: p when it is not kept, the evicted one, or NULL. */
uint8_t *tt__buf_keep(tt_writer *w, uint8_t *p, uint64_t cap);
/*! tt__buf_free_all() : frees every kept buffer (takes mu; at close). */
void tt__buf_free_all(tt_writer *w);

/* writer_rank.c: the rank and world size from the options or the environment (use_env), and the output path
 * with %r / %p / %% expanded (*out malloc'ed). @return : TT_OK or an error with w->errmsg set. */
int tt__writer_resolve_rank(tt_writer *w, int rank_set, int32_t rank, int32_t world_size, int use_env);
int tt__expand_path(tt_writer *w, const char *pattern, char **out);

/* writer.c: sets the writer's first error (under mu) and wakes everyone. */
void tt__writer_fail(tt_writer *w, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#endif /* TT_WRITER_IMPL_H */
