/*
 * gen_expect.c — the expected result of each case, computed from the generator's model by the rules of
 * format/FORMAT.md: reading by the footer (section 8: the footer's index and metadata; a damaged BATCH frame makes
 * its records unreadable, a damaged chunk its record's tensor) and by scanning (section 9: which frames a scan
 * finds, damaged-frame counts, renumbering, lost records), then written as JSON with the case's description.
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "gen_corpus.h"

/* ---- expected results ------------------------------------------------------------------------------------- */

enum { PS_NONE, PS_OK, PS_LOST, PS_DAMAGED };
static const char *const ps_names[] = {"none", "ok", "lost", "damaged"};

static void emit_meta(cj *j, const gmeta *m)
{
    cj_begin_arr(j, "meta");
    for (int i = 0; m && i < m->n; i++) {
        cj_begin_inline(j, NULL);
        cj_str(j, NULL, m->k[i]);
        cj_str(j, NULL, m->v[i]);
        cj_end_arr(j);
    }
    cj_end_arr(j);
}

static void emit_record(cj *j, const grec *r, uint64_t index, int ps)
{
    tt_record rec;
    memset(&rec, 0, sizeof rec);
    rec.index = index;
    rec.seq = r->seq;
    rec.time_ns = r->time_ns;
    rec.key.prompt_id = r->prompt_id, rec.key.phase = r->phase, rec.key.point = r->point;
    rec.key.layer = r->layer, rec.key.step = r->step, rec.key.token_id = r->token_id;
    rec.key.logical_tok_idx = r->logical_tok_idx, rec.key.pos_id = r->pos_id, rec.key.rows = r->rows;
    rec.key.rank = r->rank;
    rec.key.shard_kind = r->shard_kind, rec.key.shard_dim = r->shard_dim;
    rec.key.shard_index = r->shard_index, rec.key.shard_count = r->shard_count;
    rec.dtype = (tt_dtype)r->dtype;
    rec.ndim = r->ndim;
    memcpy(rec.shape, r->shape, sizeof rec.shape);
    rec.nbytes = r->nbytes;
    rec.flags = r->flags;
    rec.hash = r->bad_hash ? r->hash ^ 1 : r->hash; /* the hash column as stored */
    rec.stats.min = r->stats[0], rec.stats.max = r->stats[1], rec.stats.mean = r->stats[2];
    rec.stats.absmax = r->stats[3], rec.stats.l2 = r->stats[4];
    rec.stats.nan_count = r->nan_count, rec.stats.inf_count = r->inf_count;
    cj_record(j, &rec, ps_names[ps], ps == PS_OK ? tt_hash64(r->data, (size_t)r->nbytes) : 0);
}

/* Is frame i wholly inside the (possibly cut) file? */
static int present(const gen *g, int i) { return g->fr[i].off + g->fr[i].size <= g->len; }

/* The frame at offset off, or -1. */
static int frame_at(const gen *g, uint64_t off)
{
    for (int i = 0; i < g->nfr; i++)
        if (g->fr[i].off == off && g->fr[i].type != FR_GARBAGE)
            return i;
    return -1;
}

/* Payload state of a record read through a frame list where every chunk is where the batch says. */
static int payload_state_direct(const gen *g, const grec *r)
{
    if (r->flags & 8) { /* packed (format 1.1): its PACK frame must read well */
        int k = frame_at(g, r->pack_offset);
        if (k < 0 || g->fr[k].damage || !present(g, k))
            return PS_DAMAGED;
        return r->bad_hash ? PS_DAMAGED : PS_OK;
    }
    if (!(r->flags & 1))
        return PS_NONE;
    for (int i = 0; i < g->nfr; i++)
        if (g->fr[i].type == TT_FRAME_PAYLOAD && g->fr[i].seq == r->seq && g->fr[i].off >= r->payload_offset &&
            (g->fr[i].damage || !present(g, i)))
            return PS_DAMAGED;
    return r->bad_hash || r->bad_data ? PS_DAMAGED : PS_OK;
}

/* By FORMAT.md section 8: the footer's batch index, frame index and metadata. */
void gen_expect_by_footer(cj *j, const gen *g)
{
    if (!g->footer_ok) {
        cj_begin_obj(j, "by_footer");
        cj_str(j, "error", g->footer_error);
        cj_end_obj(j);
        return;
    }
    cj_begin_obj(j, "by_footer");
    cj_begin_obj(j, "format");
    cj_u64(j, "major", g->major);
    cj_u64(j, "minor", g->minor);
    cj_end_obj(j);
    emit_meta(j, &g->footer_meta);
    cj_counters(j, "counters", &g->footer_counters);
    cj_begin_arr(j, "strings");
    for (int i = 0; i < g->nstrs; i++)
        cj_str(j, NULL, g->strs[i]);
    cj_end_arr(j);
    cj_begin_arr(j, "batches");
    uint64_t total = 0;
    for (int b = 0; b < g->nbat; b++) {
        cj_begin_obj(j, NULL);
        cj_u64(j, "offset", g->fr[g->bat[b].frame].off);
        cj_u64(j, "first_record", (uint64_t)g->bat[b].rec0);
        cj_u64(j, "record_count", (uint64_t)g->bat[b].count);
        if (g->footer_ranges && g->bat[b].count) {
            int32_t r6[6];
            uint64_t a, z;
            gen_ranges(g, &g->bat[b], r6, &a, &z);
            cj_ranges(j, r6);
        } else {
            cj_null(j, "ranges");
        }
        cj_end_obj(j);
        total += (uint64_t)g->bat[b].count;
    }
    cj_end_arr(j);
    cj_u64(j, "record_count", total);
    cj_begin_inline(j, "lost");
    cj_end_arr(j);
    cj_begin_arr(j, "records");
    for (int b = 0; b < g->nbat; b++) {
        const gbatch *bt = &g->bat[b];
        int readable = !g->fr[bt->frame].damage;
        for (int i = 0; i < bt->count; i++) {
            const grec *r = &g->rec[bt->rec0 + i];
            if (!readable) {
                cj_begin_obj(j, NULL);
                cj_u64(j, "index", (uint64_t)(bt->rec0 + i));
                cj_str(j, "unreadable", "corrupt");
                cj_end_obj(j);
                continue;
            }
            emit_record(j, r, (uint64_t)(bt->rec0 + i), payload_state_direct(g, r));
        }
    }
    cj_end_arr(j);
    cj_end_obj(j);
}

/* By FORMAT.md section 9: the frames a scan finds. */
void gen_expect_by_scan(cj *j, const gen *g)
{
    uint64_t damaged = 0;
    int seen[MAXF] = {0}; /* 1: whole and used; PAYLOAD frames: indexed */
    int last_meta = -1, last_counters = -1;
    for (int i = 0; i < g->nfr; i++) {
        const gframe *f = &g->fr[i];
        if (!present(g, i)) {
            /* cut inside this frame: the scan ends, unless not even its header is there */
            break;
        }
        if (f->type == FR_GARBAGE || f->damage == DMG_HEADER) {
            damaged++;
            continue;
        }
        if ((f->type == TT_FRAME_BATCH || f->type == TT_FRAME_META) && f->damage == DMG_PAYLOAD) {
            damaged++;
            continue;
        }
        seen[i] = 1;
        if (f->type == TT_FRAME_META)
            last_meta = f->meta;
        if (f->type == TT_FRAME_BATCH && g->bat[f->batch].has_counters)
            last_counters = f->batch;
    }
    cj_begin_obj(j, "by_scan");
    cj_begin_obj(j, "format");
    cj_u64(j, "major", g->major);
    cj_u64(j, "minor", g->minor);
    cj_end_obj(j);
    emit_meta(j, last_meta >= 0 ? &g->metas[last_meta] : NULL);
    if (last_counters >= 0)
        cj_counters(j, "counters", &g->bat[last_counters].counters);
    else
        cj_null(j, "counters");
    cj_u64(j, "damaged_frames", damaged);
    uint64_t n = 0;
    cj_begin_arr(j, "batches");
    for (int i = 0; i < g->nfr; i++) {
        if (!seen[i] || g->fr[i].type != TT_FRAME_BATCH)
            continue;
        const gbatch *b = &g->bat[g->fr[i].batch];
        cj_begin_obj(j, NULL);
        cj_u64(j, "offset", g->fr[i].off);
        cj_u64(j, "first_record", n);
        cj_u64(j, "record_count", (uint64_t)b->count);
        int32_t r6[6];
        uint64_t a, z;
        gen_ranges(g, b, r6, &a, &z);
        if (b->count)
            cj_ranges(j, r6);
        else
            cj_null(j, "ranges");
        cj_end_obj(j);
        n += (uint64_t)b->count;
    }
    cj_end_arr(j);
    cj_u64(j, "record_count", n);
    /* the payload frames the scan indexed, in file order */
    int pf[MAXF], npf = 0;
    for (int i = 0; i < g->nfr; i++)
        if (seen[i] && g->fr[i].type == TT_FRAME_PAYLOAD)
            pf[npf++] = i;
    int state[MAXR];
    uint64_t index_of[MAXR];
    n = 0;
    for (int i = 0; i < g->nfr; i++) {
        if (!seen[i] || g->fr[i].type != TT_FRAME_BATCH)
            continue;
        const gbatch *b = &g->bat[g->fr[i].batch];
        for (int k = 0; k < b->count; k++) {
            const grec *r = &g->rec[b->rec0 + k];
            index_of[b->rec0 + k] = n++;
            state[b->rec0 + k] = PS_NONE;
            if (r->flags & 8) { /* packed: lost unless the scan indexed its PACK frame (valid header, whole) */
                int f = frame_at(g, r->pack_offset);
                state[b->rec0 + k] = f >= 0 && seen[f] && g->fr[f].type == TT_FRAME_PACK ? payload_state_direct(g, r)
                                                                                       : PS_LOST;
                continue;
            }
            if (!(r->flags & 1))
                continue;
            /* chunk c is the c-th indexed PAYLOAD frame from payload_offset, with the record's seq and aux = c */
            int p = 0;
            while (p < npf && g->fr[pf[p]].off != r->payload_offset)
                p++;
            int whole = r->payload_frames == 0 || (p < npf && npf - p >= (int)r->payload_frames);
            for (uint32_t c = 0; whole && c < r->payload_frames; c++)
                whole = g->fr[pf[p + (int)c]].seq == r->seq && g->fr[pf[p + (int)c]].aux == c;
            state[b->rec0 + k] = whole ? payload_state_direct(g, r) : PS_LOST;
        }
    }
    cj_begin_inline(j, "lost");
    for (int i = 0; i < g->nfr; i++) {
        if (!seen[i] || g->fr[i].type != TT_FRAME_BATCH)
            continue;
        const gbatch *b = &g->bat[g->fr[i].batch];
        for (int k = 0; k < b->count; k++)
            if (state[b->rec0 + k] == PS_LOST)
                cj_u64(j, NULL, index_of[b->rec0 + k]);
    }
    cj_end_arr(j);
    cj_begin_arr(j, "records");
    for (int i = 0; i < g->nfr; i++) {
        if (!seen[i] || g->fr[i].type != TT_FRAME_BATCH)
            continue;
        const gbatch *b = &g->bat[g->fr[i].batch];
        for (int k = 0; k < b->count; k++)
            emit_record(j, &g->rec[b->rec0 + k], index_of[b->rec0 + k], state[b->rec0 + k]);
    }
    cj_end_arr(j);
    cj_end_obj(j);
}

/* ---- output ----------------------------------------------------------------------------------------------- */

FILE *gen_open_out(const char *dir, const char *cls, const char *name, const char *ext, const char *mode)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s%s%s%s", dir, cls, cls[0] ? "/" : "", name, ext);
    FILE *f = fopen(path, mode);
    if (!f) {
        fprintf(stderr, "gen_corpus: cannot write %s: %s\n", path, strerror(errno));
        exit(3);
    }
    return f;
}

void gen_write_case(const char *dir, const gcase *c, gen *g)
{
    FILE *f = gen_open_out(dir, c->cls, c->name, ".tt", "wb");
    if (g->len && fwrite(g->buf, 1, g->len, f) != g->len)
        gen_die("write failed");
    if (fclose(f) != 0)
        gen_die("write failed");
    f = gen_open_out(dir, c->cls, c->name, ".json", "w");
    cj j;
    cj_init(&j, f);
    cj_begin_obj(&j, NULL);
    cj_u64(&j, "corpus_version", CORPUS_VERSION);
    cj_str(&j, "class", c->cls);
    char file[256];
    snprintf(file, sizeof file, "%s.tt", c->name);
    cj_str(&j, "file", file);
    cj_u64(&j, "file_size", g->len);
    cj_str(&j, "description", g->description);
    cj_begin_inline(&j, "exercises");
    for (int i = 0; i < g->nex; i++)
        cj_str(&j, NULL, g->exercises[i]);
    cj_end_arr(&j);
    if (g->refused) {
        cj_str(&j, "error", g->refused);
    } else {
        gen_expect_by_footer(&j, g);
        gen_expect_by_scan(&j, g);
    }
    cj_end_obj(&j);
    if (fclose(f) != 0)
        gen_die("write failed");
}
