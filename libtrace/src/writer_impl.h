/*
 * writer_impl.h — the writer's private state, shared by its three parts:
 *   writer.c       the API: options, environment, filters, admission of records (bounded bytes in flight)
 *   writer_pool.c  the worker threads: content hash, statistics, shuffle + zstd of each chunk, in place
 *   writer_file.c  the file thread: appends frames in capture order, record batches, metadata, footer
 *
 * Life of a record ("job"): tt_put() reserves its bytes in flight (blocking or dropping when the bound is
 * reached), takes the next order number and links the job at the tail of the in-order list, then copies the
 * tensor outside the lock. A worker hashes the whole tensor (the hash covers the contiguous bytes, so it is one
 * sequential pass), then chunk tasks compute statistics and compress each chunk into the job's own buffer (in
 * place: the compressed chunk is never larger than the raw one), so memory in flight is exactly the reserved
 * bytes plus a scratch buffer per worker. The file thread waits for the job at the head of the list, writes its
 * payload frames, adds its metadata to the pending record batch, frees the buffer and releases the reservation.
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

enum { JOB_COPYING, JOB_HASHING, JOB_CHUNKS, JOB_DONE };

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
    tt_release_fn release;     /* NULL: data was malloc'ed by the writer */
    void *release_ctx;
    uint64_t reserved;         /* in-flight bytes charged */
    uint32_t nchunks;
    uint32_t next_chunk;       /* next chunk to hand to a worker */
    uint32_t chunks_done;
    tt_frame_header *chunk_hdr; /* per chunk: encoded frame header fields */
    tt_stats *chunk_stats;      /* per chunk statistics, merged when all are done */
    int check_hash;             /* tt_put_record with data and a given hash: verify */
    uint64_t given_hash;
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
    uint64_t next_order, next_seq;
    tt_job *head, *tail;               /* admitted, not yet written */
    tt_job *hash_head, *hash_tail;     /* jobs waiting for their hash task */
    tt_job *chunk_head, *chunk_tail;   /* jobs with chunk tasks left to hand out */
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

/* writer_file.c */
int tt__file_start(tt_writer *w);   /* writes the file header, starts the thread */
int tt__file_finish(tt_writer *w);  /* joins the thread after close: footer + trailer written by it */
void tt__job_free(tt_job *j);

/* writer_rank.c: the rank and world size from the options or the environment (use_env), and the output path
 * with %r / %p / %% expanded (*out malloc'ed). @return : TT_OK or an error with w->errmsg set. */
int tt__writer_resolve_rank(tt_writer *w, int rank_set, int32_t rank, int32_t world_size, int use_env);
int tt__expand_path(tt_writer *w, const char *pattern, char **out);

/* writer.c: sets the writer's first error (under mu) and wakes everyone. */
void tt__writer_fail(tt_writer *w, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#endif /* TT_WRITER_IMPL_H */
