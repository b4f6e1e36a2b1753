/*
 * writer_file.c — the writer's file thread: the only code that writes to the trace. It takes finished jobs in
 * capture order, appends their payload frames, gathers their metadata into the pending record batch, and writes
 * the batch (with a META frame first when the metadata changed) when it is full, when flush_ms has passed, when
 * a flush is asked for, and at close, followed by the footer and the trailer.
 *
 * Failure: a short or failed write (disk full) cuts the file back to the end of its last whole frame and puts
 * the writer in the failed state; the thread then only drains jobs, so blocked puts wake up and fail, and the
 * file stays readable in recovery mode with everything written before.
 */
#define _POSIX_C_SOURCE 200809L
#include "writer_impl.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include <zstd.h>

#include "schema.h"
#include "tt/dtype.h"

#define IOV_BATCH 512

/* A batch is written early once its records' key strings add up to this many bytes, so that a BATCH frame stays
 * far below the reader's 256 MiB limit (TT_LIMIT_META_FRAME) even with the longest keys: the columns of 65,536
 * records take under 16 MiB, the dictionary at most this plus one record's keys. */
#define BATCH_STRING_BUDGET ((uint64_t)64 << 20)

/* The record batch being gathered; columns of capacity batch_records. */
typedef struct tt_batch_build {
    uint32_t n, cap;
    uint64_t first_record;
    uint64_t start_mono;
    uint64_t *seq, *time_ns, *dims, *hash, *nan_count, *inf_count, *payload_offset, *payload_stored, *pack_offset;
    uint32_t *prompt_id, *phase, *point, *payload_frames, *pack_start;
    uint32_t npacked; /* packed records: the pack columns are written only when there are some */
    int32_t *layer, *step, *token_id, *logical_tok_idx, *pos_id, *rows, *rank;
    int32_t *shard_dim, *shard_index, *shard_count;
    uint8_t *dtype, *ndim, *flags, *shard_kind;
    int sharded; /* some record of the batch is a shard: the shard columns are written */
    double *stat_min, *stat_max, *stat_mean, *stat_absmax, *stat_l2;
    uint32_t ndims;
    uint64_t key_bytes; /* the records' key string lengths, summed (an upper bound of the dictionary's size) */
    /* global string id -> local dictionary index, valid when stamp matches */
    uint32_t *lmap, *lstamp, stamp;
    size_t lcap;
    uint32_t *lids; /* local index -> global id */
} tt_batch_build;

/* Footer's batch index, growable. */
typedef struct tt_bindex {
    size_t n, cap;
    uint64_t *offset, *frame_size, *first_record, *seq_min, *seq_max;
    uint32_t *record_count;
    int32_t *layer_min, *layer_max, *step_min, *step_max, *pos_min, *pos_max;
} tt_bindex;

/* ---- batch buffers ---------------------------------------------------------------------------------------- */

#define BATCH_COLUMNS(X)                                                                                      \
    X(seq, 1) X(time_ns, 1) X(hash, 1) X(nan_count, 1) X(inf_count, 1) X(payload_offset, 1)                   \
    X(payload_stored, 1) X(prompt_id, 1) X(phase, 1) X(point, 1) X(payload_frames, 1) X(layer, 1) X(step, 1) \
    X(token_id, 1) X(logical_tok_idx, 1) X(pos_id, 1) X(rows, 1) X(rank, 1) X(dtype, 1) X(ndim, 1)           \
    X(flags, 1) X(stat_min, 1) X(stat_max, 1) X(stat_mean, 1) X(stat_absmax, 1) X(stat_l2, 1)                \
    X(shard_kind, 1) X(shard_dim, 1) X(shard_index, 1) X(shard_count, 1) X(pack_offset, 1) X(pack_start, 1)  \
    X(dims, TT_MAX_DIMS) X(lids, 3)

static void batch_free(tt_batch_build *b)
{
    if (!b)
        return;
#define FREE_COL(name, mult) free(b->name);
    BATCH_COLUMNS(FREE_COL)
#undef FREE_COL
    free(b->lmap);
    free(b->lstamp);
    free(b);
}

static tt_batch_build *batch_new(uint32_t cap)
{
    tt_batch_build *b = calloc(1, sizeof *b);
    if (!b)
        return NULL;
    b->cap = cap;
    int ok = 1;
#define ALLOC_COL(name, mult) ok &= (b->name = calloc((size_t)cap * (mult), sizeof *b->name)) != NULL;
    BATCH_COLUMNS(ALLOC_COL)
#undef ALLOC_COL
    if (!ok) {
        batch_free(b);
        return NULL;
    }
    return b;
}

static void bindex_free(tt_bindex *x)
{
    if (!x)
        return;
    free(x->offset);
    free(x->frame_size);
    free(x->first_record);
    free(x->seq_min);
    free(x->seq_max);
    free(x->record_count);
    free(x->layer_min);
    free(x->layer_max);
    free(x->step_min);
    free(x->step_max);
    free(x->pos_min);
    free(x->pos_max);
    free(x);
}

static int bindex_grow(tt_bindex *x)
{
    size_t cap = x->cap, need = x->n + 1;
    if (need <= cap)
        return TT_OK;
    size_t c2 = cap;
    int rc = TT_OK;
    /* each column grows to the same capacity; tt_grow only reallocates when needed */
#define GROW(f)                                                                                               \
    c2 = cap;                                                                                                 \
    rc |= tt_grow((void **)&x->f, &c2, need, sizeof *x->f);
    GROW(offset) GROW(frame_size) GROW(first_record) GROW(seq_min) GROW(seq_max) GROW(record_count)
    GROW(layer_min) GROW(layer_max) GROW(step_min) GROW(step_max) GROW(pos_min) GROW(pos_max)
#undef GROW
    if (rc != TT_OK)
        return TT_E_NOMEM;
    x->cap = c2;
    return TT_OK;
}

/* ---- low-level writing ------------------------------------------------------------------------------------ */

/* Cuts the file back to its last whole frame and fails the writer. Called without the lock. */
static void io_fail(tt_writer *w, uint64_t at, int e)
{
    if (ftruncate(w->fd, (off_t)w->offset) == 0)
        lseek(w->fd, (off_t)w->offset, SEEK_SET);
    pthread_mutex_lock(&w->mu);
    tt__writer_fail(w, TT_E_IO, "%s: write at offset %llu: %s", w->path, (unsigned long long)at, strerror(e));
    pthread_mutex_unlock(&w->mu);
}

/* Writes iov completely at w->offset; on success advances w->offset. */
static int write_iov(tt_writer *w, struct iovec *iov, int cnt)
{
    uint64_t at = w->offset, total = 0;
    for (int i = 0; i < cnt; i++)
        total += iov[i].iov_len;
    while (cnt > 0) {
        ssize_t k = writev(w->fd, iov, cnt);
        if (k < 0) {
            if (errno == EINTR)
                continue;
            io_fail(w, at, errno);
            return TT_E_IO;
        }
        if (k == 0) {
            io_fail(w, at, ENOSPC);
            return TT_E_IO;
        }
        at += (uint64_t)k;
        size_t left = (size_t)k;
        while (cnt > 0 && left >= iov->iov_len) {
            left -= iov->iov_len;
            iov++;
            cnt--;
        }
        if (cnt > 0) {
            iov->iov_base = (uint8_t *)iov->iov_base + left;
            iov->iov_len -= left;
        }
    }
    w->offset += total;
    return TT_OK;
}

static int index_frame(tt_writer *w, uint64_t off, uint8_t type)
{
    size_t c2 = w->frame_cap;
    if (tt_grow((void **)&w->frame_off, &c2, w->nframes + 1, sizeof *w->frame_off) != TT_OK ||
        tt_grow((void **)&w->frame_type, &w->frame_cap, w->nframes + 1, sizeof *w->frame_type) != TT_OK)
        return TT_E_NOMEM;
    w->frame_off[w->nframes] = off;
    w->frame_type[w->nframes++] = type;
    return TT_OK;
}

/* Writes a metadata frame (BATCH, META or FOOTER): the FlatBuffers object, zstd-compressed when that helps. */
static int write_meta_frame(tt_writer *w, uint8_t type, uint32_t aux, uint64_t seq, const uint8_t *obj, size_t len,
                            uint64_t *frame_off, uint64_t *frame_size)
{
    size_t bound = ZSTD_compressBound(len);
    if (bound > w->meta_scratch_cap) {
        uint8_t *p = realloc(w->meta_scratch, bound);
        if (!p)
            return TT_E_NOMEM;
        w->meta_scratch = p;
        w->meta_scratch_cap = bound;
    }
    tt_frame_header h = {0};
    h.type = type;
    h.aux = aux;
    h.seq = seq;
    h.raw_size = len;
    size_t z = ZSTD_compress2(w->zctx, w->meta_scratch, bound, obj, len);
    const uint8_t *payload = obj;
    if (!ZSTD_isError(z) && z < len) {
        h.codec = TT_CODEC_ZSTD;
        payload = w->meta_scratch;
        h.stored_size = z;
    } else {
        h.codec = TT_CODEC_RAW;
        h.stored_size = len;
    }
    h.payload_hash = tt_hash64(payload, (size_t)h.stored_size);
    uint8_t hdr[TT_FRAME_HEADER_SIZE];
    tt_frame_header_encode(&h, hdr);
    struct iovec iov[2] = {{hdr, sizeof hdr}, {(void *)payload, (size_t)h.stored_size}};
    *frame_off = w->offset;
    int rc = write_iov(w, iov, 2);
    *frame_size = TT_FRAME_HEADER_SIZE + h.stored_size;
    return rc;
}

/* ---- metadata and batches --------------------------------------------------------------------------------- */

static int write_meta(tt_writer *w)
{
    const uint8_t *obj;
    size_t len;
    pthread_mutex_lock(&w->mu);
    w->meta_dirty = 0;
    int rc = tt_fb_encode_meta(&w->fb, (const char *const *)w->meta_keys, (const char *const *)w->meta_values,
                               w->nmeta, &obj, &len);
    pthread_mutex_unlock(&w->mu);
    if (rc != TT_OK)
        return rc;
    uint64_t off, size;
    rc = write_meta_frame(w, TT_FRAME_META, 0, 0, obj, len, &off, &size);
    if (rc == TT_OK)
        rc = index_frame(w, off, TT_FRAME_META);
    return rc;
}

/* Local dictionary index of global string id g (UINT32_MAX: none). */
static uint32_t local_id(tt_batch_build *b, uint32_t *nl, uint32_t g)
{
    if (g == UINT32_MAX)
        return UINT32_MAX;
    if (b->lstamp[g] != b->stamp) {
        b->lstamp[g] = b->stamp;
        b->lmap[g] = *nl;
        b->lids[(*nl)++] = g;
    }
    return b->lmap[g];
}

static int emit_batch(tt_writer *w)
{
    tt_batch_build *b = w->batch;
    int rc;
    pthread_mutex_lock(&w->mu);
    int dirty = w->meta_dirty;
    pthread_mutex_unlock(&w->mu);
    if (dirty && (rc = write_meta(w)) != TT_OK)
        return rc;
    if (b->n == 0)
        return TT_OK;

    pthread_mutex_lock(&w->mu);
    size_t nglobal = w->strings.n;
    if (nglobal > b->lcap) {
        uint32_t *m = realloc(b->lmap, nglobal * sizeof *m);
        if (m)
            b->lmap = m;
        uint32_t *st = m ? realloc(b->lstamp, nglobal * sizeof *st) : NULL;
        if (!st) {
            pthread_mutex_unlock(&w->mu);
            return TT_E_NOMEM;
        }
        b->lstamp = st;
        b->lcap = nglobal;
        memset(b->lstamp, 0, b->lcap * sizeof *b->lstamp);
        b->stamp = 0;
    }
    if (++b->stamp == 0) { /* stamp wrapped: forget every mapping */
        memset(b->lstamp, 0, b->lcap * sizeof *b->lstamp);
        b->stamp = 1;
    }
    uint32_t nl = 0, empty = UINT32_MAX;
    uint32_t *cols[3] = {b->prompt_id, b->phase, b->point};
    for (uint32_t i = 0; i < b->n; i++)
        for (int c = 0; c < 3; c++)
            cols[c][i] = local_id(b, &nl, cols[c][i]);
    /* one extra entry: records without a prompt or phase point at "" rather than outside the dictionary */
    const char **strs = malloc((nl + 1) * sizeof *strs);
    if (!strs) {
        pthread_mutex_unlock(&w->mu);
        return TT_E_NOMEM;
    }
    for (uint32_t i = 0; i < nl; i++)
        strs[i] = w->strings.strs[b->lids[i]];
    w->counters.written += b->n;
    w->counters.batches++;
    tt_writer_counters snap = w->counters;
    /* FORMAT.md section 5: in a batch, file_bytes is the file's size when the batch is appended (its frame's
     * offset; the metadata frame, if any, is already written) */
    snap.file_bytes = w->offset;
    pthread_mutex_unlock(&w->mu);
    for (uint32_t i = 0; i < b->n; i++)
        for (int c = 0; c < 3; c++)
            if (cols[c][i] == UINT32_MAX) {
                if (empty == UINT32_MAX) {
                    empty = nl;
                    strs[nl++] = "";
                }
                cols[c][i] = empty;
            }

    tt_batch_view v = {0};
    v.n = b->n;
    v.first_record = b->first_record;
    v.chunk_bytes = w->chunk_bytes;
    v.strings = strs;
    v.nstrings = nl;
    v.seq = b->seq, v.time_ns = b->time_ns, v.prompt_id = b->prompt_id, v.phase = b->phase, v.point = b->point;
    v.layer = b->layer, v.step = b->step, v.token_id = b->token_id, v.logical_tok_idx = b->logical_tok_idx;
    v.pos_id = b->pos_id, v.rows = b->rows, v.rank = b->rank, v.dtype = b->dtype, v.ndim = b->ndim;
    v.flags = b->flags, v.dims = b->dims, v.ndims_total = b->ndims, v.hash = b->hash;
    v.stat_min = b->stat_min, v.stat_max = b->stat_max, v.stat_mean = b->stat_mean;
    v.stat_absmax = b->stat_absmax, v.stat_l2 = b->stat_l2, v.nan_count = b->nan_count;
    v.inf_count = b->inf_count, v.payload_offset = b->payload_offset, v.payload_frames = b->payload_frames;
    v.payload_stored = b->payload_stored;
    if (b->sharded) { /* files without shards stay as they were before format 1.1 */
        v.shard_kind = b->shard_kind, v.shard_dim = b->shard_dim;
        v.shard_index = b->shard_index, v.shard_count = b->shard_count;
    }
    if (b->npacked)
        v.pack_offset = b->pack_offset, v.pack_start = b->pack_start;
    v.has_counters = 1;
    v.counters = snap;
    const uint8_t *obj;
    size_t len;
    rc = tt_fb_encode_batch(&w->fb, &v, &obj, &len);
    free(strs);
    if (rc != TT_OK)
        return rc;
    uint64_t off, size;
    if ((rc = write_meta_frame(w, TT_FRAME_BATCH, b->n, b->seq[0], obj, len, &off, &size)) != TT_OK)
        return rc;

    /* footer index entry with the key ranges that let readers skip the batch */
    tt_bindex *x = w->bindex;
    if (bindex_grow(x) != TT_OK)
        return TT_E_NOMEM;
    size_t k = x->n++;
    x->offset[k] = off;
    x->frame_size[k] = size;
    x->first_record[k] = b->first_record;
    x->record_count[k] = b->n;
    x->seq_min[k] = x->seq_max[k] = b->seq[0];
    x->layer_min[k] = x->layer_max[k] = b->layer[0];
    x->step_min[k] = x->step_max[k] = b->step[0];
    x->pos_min[k] = INT32_MAX;
    x->pos_max[k] = INT32_MIN;
    for (uint32_t i = 0; i < b->n; i++) {
        if (b->seq[i] < x->seq_min[k]) x->seq_min[k] = b->seq[i];
        if (b->seq[i] > x->seq_max[k]) x->seq_max[k] = b->seq[i];
        if (b->layer[i] < x->layer_min[k]) x->layer_min[k] = b->layer[i];
        if (b->layer[i] > x->layer_max[k]) x->layer_max[k] = b->layer[i];
        if (b->step[i] < x->step_min[k]) x->step_min[k] = b->step[i];
        if (b->step[i] > x->step_max[k]) x->step_max[k] = b->step[i];
        int64_t lo = b->pos_id[i], hi = lo + (b->rows[i] > 1 ? b->rows[i] - 1 : 0);
        if (lo < x->pos_min[k]) x->pos_min[k] = (int32_t)lo;
        if (hi > x->pos_max[k]) x->pos_max[k] = hi > INT32_MAX ? INT32_MAX : (int32_t)hi;
    }
    w->records_in_batches += b->n;
    b->first_record = w->records_in_batches;
    b->n = 0;
    b->ndims = 0;
    b->key_bytes = 0;
    b->sharded = 0;
    b->npacked = 0;
    pthread_mutex_lock(&w->mu);
    w->counters.file_bytes = w->offset;
    pthread_mutex_unlock(&w->mu);
    return TT_OK;
}

/* ---- jobs ------------------------------------------------------------------------------------------------- */

void tt__job_free(tt_job *j)
{
    if (!j)
        return;
    if (j->release)
        j->release(j->release_ctx, j->data);
    else
        free(j->data);
    free(j->chunk_hdr);
    free(j->chunk_stats);
    free(j->ents);
    free(j);
}

/* Appends a job's payload frames: headers encoded on the stack, data straight from the job's buffer. */
static int write_payload(tt_writer *w, tt_job *j, uint64_t *stored_total)
{
    uint64_t cb = w->chunk_bytes;
    uint8_t hdrs[IOV_BATCH / 2][TT_FRAME_HEADER_SIZE];
    struct iovec iov[IOV_BATCH];
    *stored_total = 0;
    for (uint32_t i0 = 0; i0 < j->nchunks; i0 += IOV_BATCH / 2) {
        int cnt = 0;
        size_t indexed = w->nframes;
        uint64_t off = w->offset;
        for (uint32_t i = i0; i < j->nchunks && i < i0 + IOV_BATCH / 2; i++) {
            tt_frame_header *h = &j->chunk_hdr[i];
            h->type = TT_FRAME_PAYLOAD;
            h->aux = i;
            h->seq = j->rec.seq;
            tt_frame_header_encode(h, hdrs[i - i0]);
            if (index_frame(w, off, TT_FRAME_PAYLOAD) != TT_OK) {
                w->nframes = indexed;
                return TT_E_NOMEM;
            }
            iov[cnt].iov_base = hdrs[i - i0];
            iov[cnt++].iov_len = TT_FRAME_HEADER_SIZE;
            iov[cnt].iov_base = j->data + (uint64_t)i * cb;
            iov[cnt++].iov_len = (size_t)h->stored_size;
            off += TT_FRAME_HEADER_SIZE + h->stored_size;
            *stored_total += h->stored_size;
        }
        int rc = write_iov(w, iov, cnt);
        if (rc != TT_OK) {
            w->nframes = indexed;
            return rc;
        }
    }
    return TT_OK;
}

/* Where a record's content is, as its batch columns say. */
typedef struct rec_where {
    uint64_t payload_offset, payload_stored, pack_offset;
    uint32_t payload_frames, pack_start;
} rec_where;

/* Adds a record to the pending batch; ids are its interned prompt id, phase and point. since: when the record
 * came (0: now), which starts the batch's flush_ms clock. */
static void batch_append(tt_writer *w, const tt_record *r, const uint32_t ids[3], uint32_t key_bytes,
                         const rec_where *at, uint64_t since)
{
    tt_batch_build *b = w->batch;
    uint32_t i = b->n++;
    if (i == 0)
        b->start_mono = since ? since : tt_monotonic_ns();
    b->seq[i] = r->seq;
    b->time_ns[i] = r->time_ns;
    b->prompt_id[i] = ids[0];
    b->phase[i] = ids[1];
    b->point[i] = ids[2];
    b->layer[i] = r->key.layer;
    b->step[i] = r->key.step;
    b->token_id[i] = r->key.token_id;
    b->logical_tok_idx[i] = r->key.logical_tok_idx;
    b->pos_id[i] = r->key.pos_id;
    b->rows[i] = r->key.rows;
    b->rank[i] = r->key.rank;
    b->shard_kind[i] = (uint8_t)r->key.shard_kind;
    b->shard_dim[i] = r->key.shard_dim;
    b->shard_index[i] = r->key.shard_index;
    b->shard_count[i] = r->key.shard_count;
    b->sharded |= r->key.shard_kind != TT_SHARD_NONE;
    b->dtype[i] = (uint8_t)r->dtype;
    b->ndim[i] = (uint8_t)r->ndim;
    for (int d = 0; d < r->ndim; d++)
        b->dims[b->ndims++] = r->shape[d];
    b->flags[i] = (uint8_t)r->flags;
    b->hash[i] = (r->flags & TT_REC_HAS_HASH) ? r->hash : 0;
    int st = (r->flags & TT_REC_HAS_STATS) != 0;
    b->stat_min[i] = st ? r->stats.min : 0;
    b->stat_max[i] = st ? r->stats.max : 0;
    b->stat_mean[i] = st ? r->stats.mean : 0;
    b->stat_absmax[i] = st ? r->stats.absmax : 0;
    b->stat_l2[i] = st ? r->stats.l2 : 0;
    b->nan_count[i] = st ? r->stats.nan_count : 0;
    b->inf_count[i] = st ? r->stats.inf_count : 0;
    b->payload_offset[i] = at->payload_offset;
    b->payload_frames[i] = at->payload_frames;
    b->payload_stored[i] = at->payload_stored;
    b->pack_offset[i] = at->pack_offset;
    b->pack_start[i] = at->pack_start;
    b->npacked += (r->flags & TT_REC_PACKED) != 0;
    b->key_bytes += key_bytes;
}

/* Writes the batch once it is full; a failure to build it fails the writer. */
static int emit_if_full(tt_writer *w)
{
    int full = w->batch->n == w->batch->cap || w->batch->key_bytes >= BATCH_STRING_BUDGET;
    int rc = full ? emit_batch(w) : TT_OK;
    if (rc == TT_E_NOMEM) {
        pthread_mutex_lock(&w->mu);
        tt__writer_fail(w, rc, "%s: out of memory writing a record batch", w->path);
        pthread_mutex_unlock(&w->mu);
    }
    return rc;
}

/* Writes (or, after a failure, discards) a pack job: its PACK frame, then its records into the batch. A packed
 * record is written with flags bit 3 instead of bit 0 (FORMAT.md section 5): a reader of format 1.0 sees it as a
 * record without a stored tensor rather than looking for payload frames it does not have. */
static void write_pack(tt_writer *w, tt_job *j)
{
    pthread_mutex_lock(&w->mu);
    int skip = w->failed || j->error;
    pthread_mutex_unlock(&w->mu);
    tt_frame_header *h = &j->pack_hdr;
    uint64_t off = 0, errors = 0;
    int rc = TT_OK, framed = 0;
    if (!skip && h->raw_size) {
        h->type = TT_FRAME_PACK;
        h->aux = 0;
        for (uint32_t i = 0; i < j->nents; i++)
            if (j->ents[i].packed && !j->ents[i].error && !h->aux++)
                h->seq = j->ents[i].rec.seq;
        uint8_t hdr[TT_FRAME_HEADER_SIZE];
        tt_frame_header_encode(h, hdr);
        struct iovec iov[2] = {{hdr, sizeof hdr}, {j->data, (size_t)h->stored_size}};
        off = w->offset;
        rc = index_frame(w, off, TT_FRAME_PACK);
        if (rc == TT_OK && (rc = write_iov(w, iov, 2)) != TT_OK)
            w->nframes--;
        framed = rc == TT_OK;
        if (rc == TT_E_NOMEM) {
            pthread_mutex_lock(&w->mu);
            tt__writer_fail(w, rc, "%s: out of memory indexing frames", w->path);
            pthread_mutex_unlock(&w->mu);
        }
    }
    for (uint32_t i = 0; i < j->nents; i++) {
        tt_pack_entry *e = &j->ents[i];
        errors += e->error != TT_OK || j->error != TT_OK;
        if (skip || rc != TT_OK || e->error)
            continue;
        rec_where at = {0};
        if (e->packed) {
            e->rec.flags = (e->rec.flags & ~TT_REC_HAS_PAYLOAD) | TT_REC_PACKED;
            at.pack_offset = off;
            at.pack_start = e->data_off;
            /* informative: the record's share of the frame's stored bytes */
            at.payload_stored = e->rec.nbytes * h->stored_size / h->raw_size;
        }
        uint32_t ids[3] = {e->prompt_id, e->phase, e->point};
        /* the pack already held its records up to flush_ms: the batch is due flush_ms after the first came */
        batch_append(w, &e->rec, ids, e->key_bytes, &at, j->opened_mono);
        /* a batch that could not be written stays full: the writer has failed, and no later record of the pack
         * may go into it */
        int erc = emit_if_full(w);
        if (erc != TT_OK)
            rc = erc;
    }
    pthread_mutex_lock(&w->mu);
    w->counters.errors += errors;
    if (framed) {
        w->counters.bytes_raw += h->raw_size;
        w->counters.bytes_stored += h->stored_size;
        w->counters.payload_frames++;
    }
    w->inflight -= j->reserved;
    tt__pack_recycle(w, j);
    pthread_cond_broadcast(&w->cv_space);
    pthread_mutex_unlock(&w->mu);
}

/* Writes (or, after a failure, discards) one finished job. */
static void write_job(tt_writer *w, tt_job *j)
{
    if (j->packed) {
        write_pack(w, j);
        return;
    }
    int skip;
    pthread_mutex_lock(&w->mu);
    skip = w->failed || j->error;
    pthread_mutex_unlock(&w->mu);
    uint64_t off = 0, stored = 0;
    int rc = TT_OK;
    if (!skip) {
        if (j->mode == TT_MODE_OFF) {
            /* metadata-only record from tt_put_record: hash and stats as given */
            j->rec.flags = (j->keep_hash ? TT_REC_HAS_HASH : 0) | (j->keep_stats ? TT_REC_HAS_STATS : 0);
        } else if (j->mode == TT_MODE_FULL) {
            off = w->offset;
            rc = write_payload(w, j, &stored);
            j->rec.flags |= TT_REC_HAS_PAYLOAD;
            if (!j->nchunks)
                off = 0;
        }
        if (rc == TT_OK) {
            rec_where at = {off, stored, 0, (j->rec.flags & TT_REC_HAS_PAYLOAD) ? j->nchunks : 0, 0};
            uint32_t ids[3] = {j->prompt_id, j->phase, j->point};
            batch_append(w, &j->rec, ids, j->key_bytes, &at, 0);
        } else if (rc == TT_E_NOMEM) {
            pthread_mutex_lock(&w->mu);
            tt__writer_fail(w, rc, "%s: out of memory indexing frames", w->path);
            pthread_mutex_unlock(&w->mu);
        }
    }
    pthread_mutex_lock(&w->mu);
    if (j->error)
        w->counters.errors++;
    if (!skip && rc == TT_OK && j->mode == TT_MODE_FULL) {
        w->counters.bytes_raw += j->rec.nbytes;
        w->counters.bytes_stored += stored;
        w->counters.payload_frames += j->nchunks;
    }
    w->inflight -= j->reserved;
    if (j->data_cap) /* the writer's own buffer: kept for a later put, or freed below */
        j->data = tt__buf_keep(w, j->data, j->data_cap);
    pthread_cond_broadcast(&w->cv_space);
    pthread_mutex_unlock(&w->mu);
    tt__job_free(j);
    if (!skip && rc == TT_OK)
        emit_if_full(w);
}

/* ---- footer ---------------------------------------------------------------------------------------------- */

static int write_footer(tt_writer *w)
{
    tt_bindex *x = w->bindex;
    tt_footer_view v = {0};
    const uint8_t *obj;
    size_t len;
    pthread_mutex_lock(&w->mu);
    v.format_major = TT_FORMAT_MAJOR;
    v.format_minor = TT_FORMAT_MINOR;
    v.writer = "tensortrace " TT_VERSION_STRING;
    v.created_ns = w->created_ns;
    v.closed_ns = tt_now_ns();
    v.chunk_bytes = w->chunk_bytes;
    v.record_count = w->records_in_batches;
    v.meta_keys = (const char *const *)w->meta_keys;
    v.meta_values = (const char *const *)w->meta_values;
    v.nmeta = w->nmeta;
    v.strings = (const char *const *)w->strings.strs;
    v.nstrings = (uint32_t)w->strings.n;
    v.batches.nb = (uint32_t)x->n;
    v.batches.offset = x->offset, v.batches.frame_size = x->frame_size, v.batches.first_record = x->first_record;
    v.batches.record_count = x->record_count, v.batches.seq_min = x->seq_min, v.batches.seq_max = x->seq_max;
    v.batches.layer_min = x->layer_min, v.batches.layer_max = x->layer_max, v.batches.step_min = x->step_min;
    v.batches.step_max = x->step_max, v.batches.pos_min = x->pos_min, v.batches.pos_max = x->pos_max;
    v.nframes = (uint32_t)w->nframes;
    v.frame_offset = w->frame_off;
    v.frame_type = w->frame_type;
    v.has_counters = 1;
    w->counters.file_bytes = w->offset;
    v.counters = w->counters;
    int rc = tt_fb_encode_footer(&w->fb, &v, &obj, &len);
    pthread_mutex_unlock(&w->mu);
    if (rc != TT_OK)
        return rc;
    if (len > TT_LIMIT_FOOTER)
        return TT_E_LIMIT;
    uint64_t off, size;
    if ((rc = write_meta_frame(w, TT_FRAME_FOOTER, 0, 0, obj, len, &off, &size)) != TT_OK)
        return rc;
    tt_trailer t = {off, size};
    uint8_t tb[TT_TRAILER_SIZE];
    tt_trailer_encode(&t, tb);
    struct iovec iov = {tb, sizeof tb};
    /* a failed trailer write cuts the file back to the last whole frame (the footer itself), which a reader
     * opens in recovery mode */
    return write_iov(w, &iov, 1);
}

/* ---- the thread ------------------------------------------------------------------------------------------- */

static void *file_main(void *arg)
{
    tt_writer *w = arg;
    pthread_mutex_lock(&w->mu);
    uint64_t appended = 0; /* order of the next job to take */
    for (;;) {
        tt_job *j = w->head;
        if (j && j->state == JOB_DONE) {
            w->head = j->next;
            if (!w->head)
                w->tail = NULL;
            appended = j->order + 1;
            pthread_mutex_unlock(&w->mu);
            write_job(w, j);
            pthread_mutex_lock(&w->mu);
            continue;
        }
        uint64_t flush_ns = (uint64_t)w->flush_ms * 1000000u;
        if (j && j->state == JOB_OPEN && tt_monotonic_ns() - j->opened_mono >= flush_ns) {
            tt__pack_seal(w); /* small records wait flush_ms at most for their pack to fill */
            continue;
        }
        int flush = w->flush_target > w->durable_order && (!w->head || w->head->order >= w->flush_target);
        int draining_done = w->closing && !w->head;
        int due = w->batch->n > 0 && tt_monotonic_ns() - w->batch->start_mono >= flush_ns;
        if (flush || draining_done || due) {
            if (!w->failed) {
                pthread_mutex_unlock(&w->mu);
                int rc = emit_batch(w);
                pthread_mutex_lock(&w->mu);
                if (rc == TT_E_NOMEM || rc == TT_E_LIMIT)
                    tt__writer_fail(w, rc, "%s: cannot write a record batch: %s", w->path, tt_strerror(rc));
            }
            if (appended > w->durable_order)
                w->durable_order = appended;
            if (!w->head && w->next_order > w->durable_order)
                w->durable_order = w->next_order;
            pthread_cond_broadcast(&w->cv_flush);
            if (draining_done)
                break;
            continue;
        }
        int open_head = j && j->state == JOB_OPEN;
        if (w->batch->n > 0 || open_head) {
            uint64_t deadline = w->batch->n > 0 ? w->batch->start_mono + flush_ns : UINT64_MAX;
            if (open_head && j->opened_mono + flush_ns < deadline)
                deadline = j->opened_mono + flush_ns;
            struct timespec ts = {(time_t)(deadline / 1000000000u), (long)(deadline % 1000000000u)};
            pthread_cond_timedwait(&w->cv_file, &w->mu, &ts);
        } else {
            pthread_cond_wait(&w->cv_file, &w->mu);
        }
    }
    int failed = w->failed;
    pthread_mutex_unlock(&w->mu);
    if (!failed) {
        int rc = write_footer(w);
        if (rc != TT_OK && rc != TT_E_IO) {
            pthread_mutex_lock(&w->mu);
            tt__writer_fail(w, rc, "%s: cannot write the footer: %s", w->path, tt_strerror(rc));
            pthread_mutex_unlock(&w->mu);
        }
    }
    return NULL;
}

int tt__file_start(tt_writer *w)
{
    w->batch = batch_new(w->batch_records);
    w->bindex = calloc(1, sizeof *w->bindex);
    w->zctx = ZSTD_createCCtx();
    if (!w->batch || !w->bindex || !w->zctx)
        return tt_seterr(w->errmsg, TT_E_NOMEM, "%s: out of memory", w->path);
    ZSTD_CCtx_setParameter(w->zctx, ZSTD_c_compressionLevel, 1);
    /* a smaller hash table than level 1's: record batches (the columns of 4,096 records, ~700 KB) compress 45 %
     * faster per CPU second for 0.2 % more bytes (measured on tracebench's small records) */
    ZSTD_CCtx_setParameter(w->zctx, ZSTD_c_hashLog, 10);
    ZSTD_CCtx_setParameter(w->zctx, ZSTD_c_checksumFlag, 0);
    tt_file_header fh = {TT_FORMAT_MAJOR, TT_FORMAT_MINOR, 0};
    uint8_t hb[TT_FILE_HEADER_SIZE];
    tt_file_header_encode(&fh, hb);
    struct iovec iov = {hb, sizeof hb};
    if (write_iov(w, &iov, 1) != TT_OK)
        return TT_E_IO;
    if (pthread_create(&w->file_thread, NULL, file_main, w) != 0)
        return tt_seterr(w->errmsg, TT_E_NOMEM, "%s: cannot start the file thread", w->path);
    w->file_thread_started = 1;
    return TT_OK;
}

int tt__file_finish(tt_writer *w)
{
    if (w->file_thread_started) {
        pthread_join(w->file_thread, NULL);
        w->file_thread_started = 0;
    }
    /* jobs left behind by a failed start */
    while (w->head) {
        tt_job *j = w->head;
        w->head = j->next;
        tt__job_free(j);
    }
    w->tail = NULL;
    tt__pack_free_spares(w);
    tt__buf_free_all(w);
    batch_free(w->batch);
    w->batch = NULL;
    bindex_free(w->bindex);
    w->bindex = NULL;
    ZSTD_freeCCtx(w->zctx);
    w->zctx = NULL;
    free(w->meta_scratch);
    w->meta_scratch = NULL;
    free(w->frame_off);
    free(w->frame_type);
    w->frame_off = NULL;
    w->frame_type = NULL;
    return TT_OK;
}
