/*
 * writer_internal.h — what other libtrace modules (device capture, the reader's copy) need of the writer beyond
 * its public header: submitting a record whose bytes already sit in a buffer the caller hands over, and a record
 * whose statistics were computed elsewhere (on a GPU); and, for tests, what the in-flight bound counts. Not API.
 */
#ifndef TT_WRITER_INTERNAL_H
#define TT_WRITER_INTERNAL_H

#include "tt/writer.h"

/* Called by the writer when it no longer needs a buffer handed over with tt__writer_submit(). */
typedef void (*tt_release_fn)(void *ctx, void *buf);

/* Where a submitted record's bytes come from. */
typedef struct tt_submit {
    const tt_record *rec;  /* key, dtype, shape; hash/stats/flags/seq/time as in tt_put_record() */
    const void *data;      /* bytes to copy (copy = 1), or a buffer to take over (copy = 0) */
    int copy;
    tt_release_fn release; /* copy = 0: called once with (release_ctx, data) when done; may be NULL */
    void *release_ctx;
    int apply_filters;     /* 1: filters and mode apply (tt_put); 0: stored as given (tt_put_record) */
    int keep_meta;         /* 1: keep rec's seq/time when nonzero, and metadata-only hash/stats */
} tt_submit;

/*! tt__writer_submit() : the one path by which records enter a writer.
 *  @return : as tt_put(). With copy = 0, the buffer is released on every path (even on errors). */
int tt__writer_submit(tt_writer *w, const tt_submit *s);

/*! tt__writer_mode() : the effective capture mode (after options and environment). */
tt_mode tt__writer_mode(const tt_writer *w);

/*! tt__writer_on_full() : the effective full policy (TT_ON_FULL_BLOCK or TT_ON_FULL_DROP); fixed at open. */
tt_on_full tt__writer_on_full(const tt_writer *w);

/*! tt__writer_count() : records that another stage (device capture) filtered or dropped before they reached
 *  the writer, so the footer's counters account for every put: each is counted as a put too. */
void tt__writer_count(tt_writer *w, uint64_t filtered, uint64_t dropped);

/* What the in-flight bound counts, for tests (writer_bufs.c). */
typedef struct tt_writer_mem {
    uint64_t limit;      /* the bound (inflight_bytes) */
    uint64_t held;       /* inflight + workers + kept_bytes now */
    uint64_t peak;       /* the highest `held` since open or the last reset (noted as it grows) */
    uint64_t inflight;   /* reserved by records not yet written */
    uint64_t workers;    /* the workers' scratch buffers and zstd contexts */
    uint64_t kept_bytes; /* written tensor buffers kept for reuse */
    uint32_t kept;       /* how many */
    uint64_t reused;     /* admissions that took a kept buffer */
} tt_writer_mem;

/*! tt__writer_mem_stats() : a snapshot of the writer's memory accounting; with reset_peak, the peak starts again
 *  from what is held now. @return : TT_OK or TT_E_INVAL. */
int tt__writer_mem_stats(tt_writer *w, tt_writer_mem *out, int reset_peak);

#endif /* TT_WRITER_INTERNAL_H */
