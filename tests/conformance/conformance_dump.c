/*
 * conformance_dump.c — what the library reads from one file of the conformance corpus, as JSON in the shape of the
 * corpus's expected results (format/conformance/README.md): the file opened by its footer (TT_RECOVER_NEVER) and
 * by scanning (TT_RECOVER_ALWAYS), each with its metadata, counters, batch index, lost records and every record
 * with its tensor read and hashed. test_conformance.py compares this with the expected result.
 *
 *     conformance_dump FILE
 *
 * The batch index and its key ranges are not part of the public API; they are read from the reader's private
 * state (reader_impl.h), as tests may.
 */
#include <stdlib.h>

#include <xxhash.h>

#include "corpus_json.h"
#include "reader_impl.h"

static void emit_batches(cj *j, const tt_reader *r)
{
    cj_begin_arr(j, "batches");
    for (size_t i = 0; i < r->nbatches; i++) {
        const tt_rbatch *b = &r->batches[i];
        cj_begin_obj(j, NULL);
        cj_u64(j, "offset", b->offset);
        cj_u64(j, "first_record", b->first_record);
        cj_u64(j, "record_count", b->count);
        if (b->has_ranges && b->count) {
            const int32_t v[6] = {b->layer_min, b->layer_max, b->step_min, b->step_max, b->pos_min, b->pos_max};
            cj_ranges(j, v);
        } else {
            cj_null(j, "ranges");
        }
        cj_end_obj(j);
    }
    cj_end_arr(j);
}

static const char *given(const char *s) { return s && *s ? s : NULL; }

/* One record, its tensor read whole and hashed. */
static void emit_record(cj *j, tt_reader *r, const tt_record *rec)
{
    cj_begin_obj(j, NULL);
    cj_u64(j, "index", rec->index);
    cj_u64(j, "seq", rec->seq);
    cj_u64(j, "time_ns", rec->time_ns);
    cj_str(j, "prompt_id", given(rec->key.prompt_id));
    cj_str(j, "phase", given(rec->key.phase));
    cj_str(j, "point", given(rec->key.point));
    cj_i64(j, "layer", rec->key.layer);
    cj_i64(j, "step", rec->key.step);
    cj_i64(j, "token_id", rec->key.token_id);
    cj_i64(j, "logical_tok_idx", rec->key.logical_tok_idx);
    cj_i64(j, "pos_id", rec->key.pos_id);
    cj_i64(j, "rows", rec->key.rows);
    cj_i64(j, "rank", rec->key.rank);
    cj_str(j, "dtype", rec->dtype < TT_DTYPE_COUNT ? cj_dtype_names[rec->dtype] : "?");
    cj_begin_inline(j, "shape");
    for (int d = 0; d < rec->ndim; d++)
        cj_u64(j, NULL, rec->shape[d]);
    cj_end_arr(j);
    cj_u64(j, "nbytes", rec->nbytes);
    cj_u64(j, "flags", rec->flags & (TT_REC_HAS_PAYLOAD | TT_REC_HAS_HASH | TT_REC_HAS_STATS));
    if (rec->flags & TT_REC_HAS_HASH)
        cj_hex(j, "hash", rec->hash);
    if (rec->flags & TT_REC_HAS_STATS) {
        cj_begin_obj(j, "stats");
        cj_f64(j, "min", rec->stats.min);
        cj_f64(j, "max", rec->stats.max);
        cj_f64(j, "mean", rec->stats.mean);
        cj_f64(j, "absmax", rec->stats.absmax);
        cj_f64(j, "l2", rec->stats.l2);
        cj_u64(j, "nan_count", rec->stats.nan_count);
        cj_u64(j, "inf_count", rec->stats.inf_count);
        cj_end_obj(j);
    }
    if (!(rec->flags & TT_REC_HAS_PAYLOAD)) {
        cj_str(j, "payload", "none");
    } else if (rec->flags & TT_REC_LOST) {
        cj_str(j, "payload", "lost");
    } else {
        void *buf = malloc(rec->nbytes ? (size_t)rec->nbytes : 1);
        int rc = buf ? tt_reader_read(r, rec->index, buf, (size_t)rec->nbytes) : TT_E_NOMEM;
        if (rc == TT_OK) {
            cj_str(j, "payload", "ok");
            cj_hex(j, "content_xxh3", XXH3_64bits(buf, (size_t)rec->nbytes));
        } else {
            cj_str(j, "payload", "damaged");
        }
        free(buf);
    }
    cj_end_obj(j);
}

static void emit_result(cj *j, const char *key, const char *path, tt_recovery mode)
{
    tt_reader_options o = TT_READER_OPTIONS_INIT;
    o.recovery = mode;
    tt_reader *r;
    int rc = tt_reader_open(&r, path, &o);
    cj_begin_obj(j, key);
    if (rc != TT_OK) {
        cj_str(j, "error", cj_error_class(rc));
        cj_end_obj(j);
        tt_reader_close(r);
        return;
    }
    tt_file_info in;
    tt_reader_info(r, &in);
    cj_begin_obj(j, "format");
    cj_u64(j, "major", in.format_major);
    cj_u64(j, "minor", in.format_minor);
    cj_end_obj(j);
    cj_begin_arr(j, "meta");
    const char *k, *v;
    for (uint64_t i = 0; tt_reader_meta(r, i, &k, &v) == TT_OK; i++) {
        cj_begin_inline(j, NULL);
        cj_str(j, NULL, k);
        cj_str(j, NULL, v);
        cj_end_arr(j);
    }
    cj_end_arr(j);
    if (in.counters_known)
        cj_counters(j, "counters", &in.counters);
    else
        cj_null(j, "counters");
    if (mode == TT_RECOVER_NEVER) {
        /* before any batch is decoded, the reader's strings are the footer's dictionary */
        const char *const *s;
        uint64_t n;
        tt_reader_strings(r, &s, &n);
        cj_begin_arr(j, "strings");
        for (uint64_t i = 0; i < n; i++)
            cj_str(j, NULL, s[i]);
        cj_end_arr(j);
    } else {
        cj_u64(j, "damaged_frames", in.damaged_frames);
    }
    emit_batches(j, r);
    uint64_t n = tt_reader_count(r);
    cj_u64(j, "record_count", n);
    cj_begin_inline(j, "lost");
    for (uint64_t i = 0; i < n; i++) {
        tt_record rec;
        if (tt_reader_record(r, i, &rec) == TT_OK && (rec.flags & TT_REC_LOST))
            cj_u64(j, NULL, i);
    }
    cj_end_arr(j);
    cj_begin_arr(j, "records");
    for (uint64_t i = 0; i < n; i++) {
        tt_record rec;
        rc = tt_reader_record(r, i, &rec);
        if (rc != TT_OK) {
            cj_begin_obj(j, NULL);
            cj_u64(j, "index", i);
            cj_str(j, "unreadable", cj_error_class(rc));
            cj_end_obj(j);
            continue;
        }
        emit_record(j, r, &rec);
    }
    cj_end_arr(j);
    cj_end_obj(j);
    tt_reader_close(r);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: conformance_dump FILE\n");
        return 2;
    }
    cj j;
    cj_init(&j, stdout);
    cj_begin_obj(&j, NULL);
    emit_result(&j, "by_footer", argv[1], TT_RECOVER_NEVER);
    emit_result(&j, "by_scan", argv[1], TT_RECOVER_ALWAYS);
    cj_end_obj(&j);
    return fflush(stdout) == 0 ? 0 : 3;
}
