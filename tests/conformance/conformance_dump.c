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

/* One record, its tensor read whole and hashed. */
static void emit_record(cj *j, tt_reader *r, const tt_record *rec)
{
    const char *payload = "none";
    uint64_t content = 0;
    if ((rec->flags & TT_REC_HAS_PAYLOAD) && (rec->flags & TT_REC_LOST)) {
        payload = "lost";
    } else if (rec->flags & TT_REC_HAS_PAYLOAD) {
        void *buf = malloc(rec->nbytes ? (size_t)rec->nbytes : 1);
        int rc = buf ? tt_reader_read(r, rec->index, buf, (size_t)rec->nbytes) : TT_E_NOMEM;
        payload = rc == TT_OK ? "ok" : "damaged";
        if (rc == TT_OK)
            content = XXH3_64bits(buf, (size_t)rec->nbytes);
        free(buf);
    }
    cj_record(j, rec, payload, content);
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
