/*
 * writer_pack.c — small records travel in packs. A tensor of a few hundred bytes costs far more in hand-offs
 * (a job, a hash task, a chunk task, a frame write, each with its lock and wake-up) and in file bytes (a 56-byte
 * frame header) than in work. So a record whose tensor is at most w->pack_record_max bytes (and any record
 * without a tensor to copy) is appended, under the writer's lock, to the open *pack job*: its metadata to the
 * pack's entries, its bytes to the pack's buffer. The pack is one job in the in-order list (one order number),
 * one task for a worker (hash and statistics of every record, then the pack's content shuffled and compressed
 * as one PACK frame) and one write for the file thread, which then adds its records to the record batch.
 *
 * A pack is sealed (takes no more records and goes to the workers) when it is full (bytes or records), when a
 * record that is not packed is admitted (so capture order holds), when a put has to wait for in-flight room,
 * on flush and close, and flush_ms after its first record (the file thread sees to that).
 */
#define _POSIX_C_SOURCE 200809L
#include "writer_impl.h"

#include <stdlib.h>
#include <string.h>

#include "tt/dtype.h"

/* Content of one PACK frame, and the largest tensor that is packed: a record of 16 KiB ([1, 8192] bf16) already
 * pays its own frame header back 300 times, while the caller copies it under the writer's lock. Both are capped
 * by the chunk size (the workers' scratch buffers hold one chunk). */
#define PACK_BYTES ((uint32_t)256 << 10)
#define PACK_RECORD_MAX ((uint32_t)16 << 10)
#define PACK_MAX_RECORDS 1024u
/* Contents below this many bytes are stored without compression (as payloads are: writer_pool.c). */
#define PACK_STORE_BELOW 256u

void tt__pack_limits(tt_writer *w)
{
    w->pack_bytes = w->chunk_bytes < PACK_BYTES ? w->chunk_bytes : PACK_BYTES;
    w->pack_record_max = w->pack_bytes / 4 < PACK_RECORD_MAX ? w->pack_bytes / 4 : PACK_RECORD_MAX;
}

int tt__pack_small(const tt_writer *w, uint64_t data_bytes) { return data_bytes <= w->pack_record_max; }

uint64_t tt__pack_reserve(uint64_t data_bytes) { return data_bytes + sizeof(tt_pack_entry) + 16; }

void tt__pack_seal(tt_writer *w)
{
    tt_job *p = w->open_pack;
    if (!p)
        return;
    w->open_pack = NULL;
    p->state = JOB_HASHING;
    tt__pool_enqueue_hash(w, p);
}

/* At most this many pack jobs exist (open, with the workers, waiting to be written); written ones are kept and
 * reused. Fresh buffers cost the caller a page fault every few records (the allocator maps large blocks anew),
 * which the profile showed as the largest cost of a small put; and a producer faster than the file thread would
 * otherwise pile up packs up to the in-flight bound. A put that needs a new pack when all are taken waits for one
 * to be written (or drops, under TT_ON_FULL_DROP), as for in-flight room. */
#define PACK_JOBS 8u

void tt__pack_recycle(tt_writer *w, tt_job *p)
{
    p->next = w->pack_spare;
    w->pack_spare = p;
}

void tt__pack_free_spares(tt_writer *w)
{
    while (w->pack_spare) {
        tt_job *p = w->pack_spare;
        w->pack_spare = p->next;
        tt__job_free(p);
    }
}

/* Can the open pack take data_bytes more, and one more record? */
static int open_fits(const tt_writer *w, uint64_t data_bytes)
{
    const tt_job *p = w->open_pack;
    return p && p->nents < PACK_MAX_RECORDS && p->data_len + data_bytes <= w->pack_bytes;
}

int tt__pack_must_wait(tt_writer *w, uint64_t data_bytes)
{
    if (open_fits(w, data_bytes))
        return 0;
    tt__pack_seal(w); /* full: it goes to the workers, and will be reused once written */
    return !w->pack_spare && w->npacks >= PACK_JOBS;
}

static tt_job *pack_new(tt_writer *w)
{
    tt_job *p = w->pack_spare;
    if (p) {
        w->pack_spare = p->next;
        uint8_t *data = p->data;
        tt_pack_entry *ents = p->ents;
        memset(p, 0, sizeof *p);
        p->data = data, p->ents = ents;
    } else {
        if (!(p = calloc(1, sizeof *p)))
            return NULL;
        p->data = malloc(w->pack_bytes);
        p->ents = malloc(PACK_MAX_RECORDS * sizeof *p->ents);
        if (!p->data || !p->ents) {
            free(p->data);
            free(p->ents);
            free(p);
            return NULL;
        }
        w->npacks++;
    }
    p->ents_cap = PACK_MAX_RECORDS;
    p->packed = 1;
    p->order = w->next_order++;
    p->state = JOB_OPEN;
    p->opened_mono = tt_monotonic_ns();
    if (w->tail)
        w->tail->next = p;
    else
        w->head = p;
    w->tail = p;
    w->open_pack = p;
    return p;
}

int tt__pack_add(tt_writer *w, const tt_job *tmp, const void *data, uint64_t data_bytes, uint64_t reserve)
{
    if (!open_fits(w, data_bytes))
        tt__pack_seal(w);
    tt_job *p = w->open_pack;
    if (!p && !(p = pack_new(w)))
        return TT_E_NOMEM;
    tt_pack_entry *e = &p->ents[p->nents++];
    e->rec = tmp->rec;
    e->prompt_id = tmp->prompt_id, e->phase = tmp->phase, e->point = tmp->point;
    e->key_bytes = tmp->key_bytes;
    e->mode = (uint8_t)tmp->mode;
    e->check_hash = (uint8_t)tmp->check_hash, e->keep_hash = (uint8_t)tmp->keep_hash;
    e->keep_stats = (uint8_t)tmp->keep_stats;
    e->given_hash = tmp->given_hash;
    e->packed = 0;
    e->error = TT_OK;
    e->data_off = p->data_len;
    if (data_bytes)
        memcpy(p->data + p->data_len, data, (size_t)data_bytes);
    p->data_len += (uint32_t)data_bytes;
    p->reserved += reserve;
    w->inflight += reserve;
    if (p->nents == PACK_MAX_RECORDS || p->data_len == w->pack_bytes)
        tt__pack_seal(w);
    return TT_OK;
}

/* The record's hash and statistics, as the hash and chunk tasks compute them for a record of its own. */
static void entry_compute(tt_pack_entry *e, const uint8_t *p)
{
    tt_record *r = &e->rec;
    if (e->mode == TT_MODE_OFF) { /* metadata only: hash and stats as given */
        r->flags = (e->keep_hash ? TT_REC_HAS_HASH : 0) | (e->keep_stats ? TT_REC_HAS_STATS : 0);
        return;
    }
    r->hash = tt_hash(p, (size_t)r->nbytes);
    r->flags |= TT_REC_HAS_HASH;
    if (e->check_hash && r->hash != e->given_hash) {
        e->error = TT_E_CORRUPT;
        return;
    }
    if (e->mode == TT_MODE_HASH)
        return;
    if (r->nbytes) {
        tt_stats_compute(r->dtype, p, (size_t)(r->nbytes / tt_dtype_size(r->dtype)), &r->stats);
        r->flags |= TT_REC_HAS_STATS;
    }
    if (e->mode == TT_MODE_FULL)
        r->flags |= TT_REC_HAS_PAYLOAD; /* stored packed (written as flags bit 3) unless it has no bytes */
}

int tt__pack_compute(tt_writer *w, tt_job *j, void *cctx, void *cctx_planes, uint8_t *scratch, char *err,
                     size_t errlen)
{
    uint32_t content = 0;
    size_t esize = SIZE_MAX; /* the shuffle size all stored records share, 0 when they do not */
    for (uint32_t i = 0; i < j->nents; i++) {
        tt_pack_entry *e = &j->ents[i];
        uint8_t *p = j->data + e->data_off;
        entry_compute(e, p);
        if (e->error || !(e->rec.flags & TT_REC_HAS_PAYLOAD) || !e->rec.nbytes)
            continue;
        /* the content of the PACK frame is the stored records' bytes, one after the other: records that only
         * needed their bytes for a hash or statistics are left out (entries only move down) */
        if (e->data_off != content)
            memmove(j->data + content, p, (size_t)e->rec.nbytes);
        e->data_off = content;
        e->packed = 1;
        content += (uint32_t)e->rec.nbytes;
        size_t es = tt__shuffle_size(w, e->rec.dtype);
        esize = esize == SIZE_MAX || esize == es ? es : 0;
    }
    memset(&j->pack_hdr, 0, sizeof j->pack_hdr);
    if (!content)
        return TT_OK;
    if (esize == SIZE_MAX)
        esize = 0;
    /* as for a chunk: tiny contents are stored, shuffled ones use the byte-plane context */
    void *z = content < PACK_STORE_BELOW ? NULL : esize ? cctx_planes : cctx;
    return tt_payload_encode(j->data, content, esize, z, scratch, j->data, content, &j->pack_hdr, err, errlen);
}
