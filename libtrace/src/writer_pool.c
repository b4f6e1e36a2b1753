/*
 * writer_pool.c — the writer's worker threads. Two kinds of task, taken oldest record first so the file thread
 * (which writes in capture order) is never starved by younger work:
 *   hash   one pass of XXH3-64 over the whole tensor (the content hash is defined on the contiguous bytes);
 *   chunk  statistics of one chunk, then its payload filter and zstd, in place in the job's buffer: the FLOAT
 *          filter (format/floatsplit.c) for bf16, f16, f32 and fp8 chunks, byte shuffle + zstd otherwise.
 * The hash runs before any chunk is compressed, since compression overwrites the raw bytes. Each worker owns a
 * scratch buffer of one chunk and three zstd contexts; nothing else is allocated per task. Their size is charged to
 * the in-flight bound (w->workers_mem, updated when a context grows), so the bound holds the writer's working
 * memory and not only the tensors it holds.
 */
#define _POSIX_C_SOURCE 200809L
#include "writer_impl.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <zstd.h>

#include "tt/dtype.h"

typedef struct worker {
    tt_writer *w;
    uint8_t *scratch;
    ZSTD_CCtx *cctx;       /* unshuffled chunks: zstd at the writer's level */
    ZSTD_CCtx *cctx_planes; /* shuffled chunks: see planes_hashlog() */
    ZSTD_CCtx *cctx_lit;    /* FLOAT chunks: entropy coding only (ZSTD_compressSequences without sequences) */
    uint64_t charged;       /* what this worker holds, as counted in w->workers_mem */
} worker;

/* Shuffled floating-point chunks are byte planes: a low-entropy sign/exponent plane and near-random mantissa
 * planes. Their ratio comes from entropy-coding the literals; the short matches zstd's fast match finder keeps
 * finding in the exponent plane cost more time than they save bytes. A small hash table (2^8 entries) finds
 * fewer of them: measured on activation-like data (tracebench), level 1 goes from 0.60 to 1.30 GB/s per core on
 * bf16 and from 1.04 to 2.27 GB/s on f32, with ratios 1.460 -> 1.489 and 1.187 -> 1.196, while long repeats
 * (repeated rows, zeros) are still found. Only at the fast levels (<= 1): a caller who picks a higher level
 * gets zstd's own parameters. */
#define PLANES_HASHLOG 8

/* Payloads below this many bytes are stored without compression. */
#define SMALL_PAYLOAD 256

void tt__pool_enqueue_hash(tt_writer *w, tt_job *j)
{
    j->next_task = NULL;
    if (w->hash_tail)
        w->hash_tail->next_task = j;
    else
        w->hash_head = j;
    w->hash_tail = j;
    pthread_cond_signal(&w->cv_work);
}

static void enqueue_chunks(tt_writer *w, tt_job *j)
{
    j->next_task = NULL;
    if (w->chunk_tail)
        w->chunk_tail->next_task = j;
    else
        w->chunk_head = j;
    w->chunk_tail = j;
    pthread_cond_broadcast(&w->cv_work);
}

/* Which element size to shuffle by: floating-point types by default (integers rarely gain). */
static size_t shuffle_size(const tt_writer *w, tt_dtype dt)
{
    size_t es = tt_dtype_size(dt);
    if (es < 2 || w->shuffle == TT_SHUFFLE_OFF)
        return 0;
    if (w->shuffle == TT_SHUFFLE_ON)
        return es;
    return tt_dtype_is_float(dt) ? es : 0;
}

/* Chunks in which at least one sampled element in REPEAT_SHARE equals the one before it (runs of zeros, padding,
 * masked attention, repeated rows) are left to byte shuffle + zstd, whose match search codes runs that an
 * order-0 entropy coder cannot. Random bf16 activations repeat about once in a thousand, fp8 ones a few times in
 * a hundred. */
#define REPEAT_SHARE 8

/* A cheap look at a chunk of c elements of es bytes: 64 runs of 64 elements spread over it. @return : nonzero
 * when repeats are frequent. */
static int has_repeats(const uint8_t *p, size_t c, size_t es)
{
    size_t runs = c >= 64 * 64 ? 64 : 1, len = runs == 1 ? c : 64, step = c / runs, rep = 0, seen = 0;
    for (size_t b = 0; b < runs; b++)
        for (size_t i = b * step + 1; i < b * step + len; i++, seen++)
            rep += memcmp(p + i * es, p + (i - 1) * es, es) == 0;
    return seen > 0 && rep * REPEAT_SHARE >= seen;
}

/* Whether a chunk goes through the FLOAT filter. */
static int use_float(const tt_writer *w, tt_dtype dt, const uint8_t *p, size_t n)
{
    size_t es;
    unsigned mant, ebits;
    /* not fp8: its one stream is coded in place, where there is no room for the worst case that
     * ZSTD_compressSequences must be given (libzstd 1.5.4 writes past a smaller buffer), so it would be stored raw */
    if (w->payload_filter == TT_PAYLOAD_FILTER_SHUFFLE || w->payload_filter == TT_PAYLOAD_FILTER_NONE ||
        !tt_float_layout(dt, &es, &mant, &ebits) || es < 2)
        return 0;
    return !has_repeats(p, n / es, es);
}

/* The tensor's row width in elements (everything after the first dimension), 0 for rank 0 and 1. */
static uint64_t row_elems(const tt_record *r)
{
    if (r->ndim < 2 || r->shape[0] == 0)
        return 0;
    uint64_t e = 1;
    for (int d = 1; d < r->ndim; d++)
        e *= r->shape[d];
    return e;
}

/* Merges per-chunk statistics. One chunk is taken as it is, so small tensors get exactly tt_stats_compute(). */
static void merge_stats(const tt_job *j, uint64_t chunk_elems, uint64_t total_elems, tt_stats *out)
{
    if (j->nchunks == 1) {
        *out = j->chunk_stats[0];
        return;
    }
    double sum = 0, sumsq = 0;
    uint64_t finite = 0;
    tt_stats m = {NAN, NAN, NAN, NAN, NAN, 0, 0};
    for (uint32_t i = 0; i < j->nchunks; i++) {
        const tt_stats *c = &j->chunk_stats[i];
        uint64_t n = i + 1 < j->nchunks ? chunk_elems : total_elems - chunk_elems * (j->nchunks - 1);
        uint64_t nf = n - c->nan_count - c->inf_count;
        m.nan_count += c->nan_count;
        m.inf_count += c->inf_count;
        if (!nf)
            continue;
        if (!finite || c->min < m.min)
            m.min = c->min;
        if (!finite || c->max > m.max)
            m.max = c->max;
        if (!finite || c->absmax > m.absmax)
            m.absmax = c->absmax;
        sum += c->mean * (double)nf;
        sumsq += c->l2 * c->l2;
        finite += nf;
    }
    if (finite) {
        m.mean = sum / (double)finite;
        m.l2 = sqrt(sumsq);
    }
    *out = m;
}

static void job_done(tt_writer *w, tt_job *j)
{
    j->state = JOB_DONE;
    pthread_cond_signal(&w->cv_file);
}

static void run_hash(worker *k, tt_job *j)
{
    tt_writer *w = k->w;
    uint64_t h = tt_hash(j->data, (size_t)j->rec.nbytes);
    pthread_mutex_lock(&w->mu);
    j->rec.hash = h;
    j->rec.flags |= TT_REC_HAS_HASH;
    if (j->check_hash && h != j->given_hash) {
        j->error = TT_E_CORRUPT;
        if (w->status == TT_OK)
            tt_seterr(w->errmsg, TT_E_CORRUPT, "put_record seq %llu: data hashes to %016llx, record says %016llx",
                      (unsigned long long)j->rec.seq, (unsigned long long)h, (unsigned long long)j->given_hash);
    }
    uint64_t cb = w->chunk_bytes;
    if (j->error || j->mode == TT_MODE_HASH || j->rec.nbytes == 0) {
        job_done(w, j);
    } else {
        j->nchunks = (uint32_t)((j->rec.nbytes + cb - 1) / cb);
        j->chunk_hdr = calloc(j->nchunks, sizeof *j->chunk_hdr);
        j->chunk_stats = calloc(j->nchunks, sizeof *j->chunk_stats);
        if (!j->chunk_hdr || !j->chunk_stats) {
            j->error = TT_E_NOMEM;
            job_done(w, j);
        } else {
            j->state = JOB_CHUNKS;
            enqueue_chunks(w, j);
        }
    }
    pthread_mutex_unlock(&w->mu);
}

static uint32_t first_error(const tt_job *j)
{
    uint32_t i = 0;
    while (i < j->nents && !j->ents[i].error)
        i++;
    return i;
}

/* A pack job (writer_pack.c): every record's hash and statistics, and the PACK content, in one task. */
static void run_pack(worker *k, tt_job *j)
{
    tt_writer *w = k->w;
    char err[TT_ERRMSG_SIZE] = "";
    int rc = tt__pack_compute(w, j, k->cctx, k->cctx_planes, k->scratch, err, sizeof err);
    uint64_t held = w->chunk_bytes + ZSTD_sizeof_CCtx(k->cctx) + ZSTD_sizeof_CCtx(k->cctx_planes);
    pthread_mutex_lock(&w->mu);
    if (held > k->charged) {
        w->workers_mem += held - k->charged;
        k->charged = held;
        tt__writer_note_held(w);
    }
    if (rc != TT_OK) {
        j->error = rc;
        if (w->status == TT_OK)
            tt_seterr(w->errmsg, rc, "%s: packed records from seq %llu: %s", w->path,
                      (unsigned long long)(j->nents ? j->ents[0].rec.seq : 0), err);
    }
    uint32_t fe = first_error(j);
    if (fe < j->nents && w->status == TT_OK)
        tt_seterr(w->errmsg, j->ents[fe].error, "put_record seq %llu: data hashes to %016llx, record says %016llx",
                  (unsigned long long)j->ents[fe].rec.seq, (unsigned long long)j->ents[fe].rec.hash,
                  (unsigned long long)j->ents[fe].given_hash);
    job_done(w, j);
    pthread_mutex_unlock(&w->mu);
}

static void run_chunk(worker *k, tt_job *j, uint32_t i)
{
    tt_writer *w = k->w;
    uint64_t cb = w->chunk_bytes, off = (uint64_t)i * cb;
    size_t n = (size_t)(j->rec.nbytes - off < cb ? j->rec.nbytes - off : cb);
    size_t es = tt_dtype_size(j->rec.dtype);
    uint8_t *p = j->data + off;
    tt_stats_compute(j->rec.dtype, p, n / es, &j->chunk_stats[i]);
    int rc = TT_OK;
    char err[TT_ERRMSG_SIZE] = "";
    if (j->mode == TT_MODE_FULL) {
        if (n >= SMALL_PAYLOAD && use_float(w, j->rec.dtype, p, n)) {
            /* auto: the exponent symbol, the least CPU both ways; float: the highest ratio (form 1 for bf16) */
            unsigned kind = w->payload_filter == TT_PAYLOAD_FILTER_FLOAT ? TT_FLOAT_WIDE | TT_FLOAT_WINDOW
                                                                         : TT_FLOAT_FAST;
            rc = tt_payload_encode_float(p, n, j->rec.dtype, row_elems(&j->rec), kind, k->cctx_lit, k->scratch, p, n,
                                         &j->chunk_hdr[i], err, sizeof err);
        } else {
            size_t es_shuffle = w->payload_filter == TT_PAYLOAD_FILTER_NONE ? 0 : shuffle_size(w, j->rec.dtype);
            /* tiny payloads never shrink enough to pay for a zstd call (tens of thousands of instructions) */
            void *z = n < SMALL_PAYLOAD ? NULL : es_shuffle ? k->cctx_planes : k->cctx;
            rc = tt_payload_encode(p, n, es_shuffle, z, k->scratch, p, n, &j->chunk_hdr[i], err, sizeof err);
        }
    }
    uint64_t held = w->chunk_bytes + ZSTD_sizeof_CCtx(k->cctx) + ZSTD_sizeof_CCtx(k->cctx_planes) +
                    ZSTD_sizeof_CCtx(k->cctx_lit);
    pthread_mutex_lock(&w->mu);
    if (held > k->charged) { /* contexts only grow; they are sized at their first compression */
        w->workers_mem += held - k->charged;
        k->charged = held;
        tt__writer_note_held(w);
    }
    if (rc != TT_OK && !j->error) {
        j->error = rc;
        if (w->status == TT_OK)
            tt_seterr(w->errmsg, rc, "%s: record seq %llu chunk %u: %s", w->path, (unsigned long long)j->rec.seq, i,
                      err);
    }
    if (++j->chunks_done == j->nchunks) {
        merge_stats(j, cb / es, j->rec.nbytes / es, &j->rec.stats);
        j->rec.flags |= TT_REC_HAS_STATS;
        job_done(w, j);
    }
    pthread_mutex_unlock(&w->mu);
}

static void *worker_main(void *arg)
{
    worker *k = arg;
    tt_writer *w = k->w;
    pthread_mutex_lock(&w->mu);
    for (;;) {
        tt_job *h = w->hash_head, *c = w->chunk_head;
        if (h && (!c || h->order < c->order)) {
            w->hash_head = h->next_task;
            if (!w->hash_head)
                w->hash_tail = NULL;
            pthread_mutex_unlock(&w->mu);
            if (h->packed)
                run_pack(k, h);
            else
                run_hash(k, h);
            pthread_mutex_lock(&w->mu);
        } else if (c) {
            uint32_t i = c->next_chunk++;
            if (c->next_chunk == c->nchunks) {
                w->chunk_head = c->next_task;
                if (!w->chunk_head)
                    w->chunk_tail = NULL;
            }
            pthread_mutex_unlock(&w->mu);
            run_chunk(k, c, i);
            pthread_mutex_lock(&w->mu);
        } else if (w->stop_workers) {
            break;
        } else {
            pthread_cond_wait(&w->cv_work, &w->mu);
        }
    }
    pthread_mutex_unlock(&w->mu);
    return NULL;
}

static void worker_free(worker *k)
{
    if (!k)
        return;
    free(k->scratch);
    ZSTD_freeCCtx(k->cctx);
    ZSTD_freeCCtx(k->cctx_planes);
    ZSTD_freeCCtx(k->cctx_lit);
    free(k);
}

static void set_params(ZSTD_CCtx *z, int level)
{
    ZSTD_CCtx_setParameter(z, ZSTD_c_compressionLevel, level);
    /* our own XXH3 covers the stored bytes; zstd's checksum would be a second one */
    ZSTD_CCtx_setParameter(z, ZSTD_c_checksumFlag, 0);
    ZSTD_CCtx_setParameter(z, ZSTD_c_contentSizeFlag, 1);
}

static worker *worker_new(tt_writer *w)
{
    worker *k = calloc(1, sizeof *k);
    if (!k)
        return NULL;
    k->w = w;
    k->scratch = tt_alloc_big(w->chunk_bytes); /* filled at every chunk: huge pages where they are offered */
    k->cctx = ZSTD_createCCtx();
    k->cctx_planes = ZSTD_createCCtx();
    k->cctx_lit = ZSTD_createCCtx();
    if (!k->scratch || !k->cctx || !k->cctx_planes || !k->cctx_lit) {
        worker_free(k);
        return NULL;
    }
    set_params(k->cctx, w->zstd_level);
    set_params(k->cctx_planes, w->zstd_level);
    if (w->zstd_level <= 1)
        ZSTD_CCtx_setParameter(k->cctx_planes, ZSTD_c_hashLog, PLANES_HASHLOG);
    tt_float_cctx_params(k->cctx_lit);
    k->charged = w->chunk_bytes;
    pthread_mutex_lock(&w->mu);
    w->workers_mem += k->charged;
    pthread_mutex_unlock(&w->mu);
    return k;
}

static void *worker_thread(void *arg)
{
    worker *k = arg;
    worker_main(k);
    worker_free(k);
    return NULL;
}

int tt__pool_start(tt_writer *w)
{
    uint32_t n = w->nthreads ? w->nthreads : 1;
    w->workers = calloc(n, sizeof *w->workers);
    if (!w->workers)
        return TT_E_NOMEM;
    for (uint32_t i = 0; i < n; i++) {
        worker *k = worker_new(w);
        if (!k)
            return tt_seterr(w->errmsg, TT_E_NOMEM, "%s: cannot allocate worker %u", w->path, i);
        if (pthread_create(&w->workers[i], NULL, worker_thread, k) != 0) {
            worker_free(k);
            return tt_seterr(w->errmsg, TT_E_NOMEM, "%s: cannot start worker thread %u", w->path, i);
        }
        w->nworkers_started++;
    }
    return TT_OK;
}

void tt__pool_stop(tt_writer *w)
{
    pthread_mutex_lock(&w->mu);
    w->stop_workers = 1;
    pthread_cond_broadcast(&w->cv_work);
    pthread_mutex_unlock(&w->mu);
    for (uint32_t i = 0; i < w->nworkers_started; i++)
        pthread_join(w->workers[i], NULL);
    w->nworkers_started = 0;
    free(w->workers);
    w->workers = NULL;
}

size_t tt__shuffle_size(const tt_writer *w, tt_dtype dt) { return shuffle_size(w, dt); }
