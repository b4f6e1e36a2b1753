/*
 * reader_many.c — several trace files read as one (tt_reader_open_many): the per-rank files of a tensor-parallel
 * run, or any set of traces of one run. The composite handle holds one reader per file and numbers the records
 * file after file (files in rank order when every file names its rank); each public reader function on a
 * composite handle (reader.c, reader_verify.c) forwards to the file that holds the record. Opening costs what
 * opening each file costs (its trailer and footer); a handle made by tt_reader_reopen() opens its files only when
 * a record of theirs is first read, so that the worker threads of a diff pay only for the files they read.
 */
#define _POSIX_C_SOURCE 200809L
#include "reader_impl.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* Metadata that names a run: two files that disagree on one of them are from different runs. */
static const char *const run_keys[] = {"world_size", "engine", "engine_version", "model", "commit",
                                       "dtype",      "seed",   "capture_mode"};

struct tt_many {
    size_t n;
    char **paths;
    tt_reader **sub;   /* NULL until opened (handles made by tt_reader_reopen) */
    uint64_t *base;    /* n + 1: first global index of each file, then the total */
    int32_t *rank;     /* the file's "rank" metadata, TT_UNSET when it has none */
    tt_reader_options opts;
};

static int many_err(tt_reader *r, int code, const char *msg)
{
    snprintf(r->errmsg, sizeof r->errmsg, "%s", msg);
    return code;
}

static void many_free(tt_many *m)
{
    if (!m)
        return;
    for (size_t i = 0; i < m->n; i++) {
        if (m->sub)
            tt_reader_close(m->sub[i]);
        if (m->paths)
            free(m->paths[i]);
    }
    free(m->sub);
    free(m->paths);
    free(m->base);
    free(m->rank);
    free(m);
}

void tt__many_close(tt_reader *r)
{
    many_free(r->many);
    r->many = NULL;
}

static tt_many *many_new(size_t n)
{
    tt_many *m = calloc(1, sizeof *m);
    if (!m)
        return NULL;
    m->n = n;
    m->paths = calloc(n, sizeof *m->paths);
    m->sub = calloc(n, sizeof *m->sub);
    m->base = calloc(n + 1, sizeof *m->base);
    m->rank = calloc(n, sizeof *m->rank);
    if (!m->paths || !m->sub || !m->base || !m->rank) {
        many_free(m);
        return NULL;
    }
    return m;
}

/* The composite handle itself: a reader without a file, whose path is "FIRST (+N-1 files)". */
static tt_reader *shell_new(tt_many *m, const char *first)
{
    tt_reader *r = calloc(1, sizeof *r);
    if (!r)
        return NULL;
    r->fd = -1;
    r->many = m;
    r->b = &r->own;
    tt_intern_init(&r->strings);
    size_t len = strlen(first) + 48;
    r->path = malloc(len);
    if (!r->path) {
        free(r);
        return NULL;
    }
    if (m->n == 1)
        snprintf(r->path, len, "%s", first);
    else
        snprintf(r->path, len, "%s (+%zu file%s)", first, m->n - 1, m->n == 2 ? "" : "s");
    return r;
}

/* The reader of file k, opened on first use; its decode buffers are the composite's. */
static int sub_get(tt_reader *r, size_t k, tt_reader **out)
{
    tt_many *m = r->many;
    if (!m->sub[k]) {
        int rc = tt_reader_open(&m->sub[k], m->paths[k], &m->opts);
        if (rc != TT_OK) {
            many_err(r, rc, m->sub[k] ? tt_reader_errmsg(m->sub[k]) : "out of memory");
            tt_reader_close(m->sub[k]);
            m->sub[k] = NULL;
            return rc;
        }
        if (tt_reader_count(m->sub[k]) != m->base[k + 1] - m->base[k]) {
            char msg[TT_ERRMSG_SIZE];
            snprintf(msg, sizeof msg, "%s: changed since it was first opened (%llu records, was %llu)", m->paths[k],
                     (unsigned long long)tt_reader_count(m->sub[k]),
                     (unsigned long long)(m->base[k + 1] - m->base[k]));
            tt_reader_close(m->sub[k]);
            m->sub[k] = NULL;
            return many_err(r, TT_E_CORRUPT, msg);
        }
    }
    m->sub[k]->b = r->b;
    *out = m->sub[k];
    return TT_OK;
}

/* The file holding global record `index` (binary search over the bases); n when out of range. */
static size_t file_of(const tt_many *m, uint64_t index)
{
    size_t lo = 0, hi = m->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (m->base[mid + 1] <= index)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* A record of file k as the composite shows it: global index, the file's rank when the record has none. */
static void fix_record(const tt_many *m, size_t k, tt_record *rec)
{
    rec->index += m->base[k];
    if (rec->key.rank == TT_UNSET)
        rec->key.rank = m->rank[k];
}

static int32_t meta_rank(const tt_reader *s)
{
    const char *v = tt_reader_meta_get(s, "rank");
    int64_t x;
    if (v && tt_parse_i64(v, 0, INT32_MAX - 1, &x) == TT_OK)
        return (int32_t)x;
    return TT_UNSET;
}

typedef struct order_item {
    int32_t rank;
    size_t given;
} order_item;

static int order_cmp(const void *a, const void *b)
{
    const order_item *x = a, *y = b;
    if (x->rank != y->rank)
        return x->rank < y->rank ? -1 : 1;
    return (x->given > y->given) - (x->given < y->given);
}

/* Files of one side must come from one run: the same value for every run key both files have, one file per
 * rank. */
static int check_one_run(tt_reader *r, tt_many *m)
{
    char msg[TT_ERRMSG_SIZE];
    /* one file named twice (through another path, a link) would be read twice */
    for (size_t i = 0; i < m->n; i++) {
        struct stat a;
        if (fstat(m->sub[i]->fd, &a) != 0)
            continue;
        for (size_t j = 0; j < i; j++) {
            struct stat b;
            if (fstat(m->sub[j]->fd, &b) == 0 && a.st_dev == b.st_dev && a.st_ino == b.st_ino) {
                snprintf(msg, sizeof msg, "%s: the same file as %s, given twice", m->paths[i], m->paths[j]);
                return many_err(r, TT_E_INVAL, msg);
            }
        }
    }
    for (size_t i = 1; i < m->n; i++) {
        for (size_t k = 0; k < sizeof run_keys / sizeof run_keys[0]; k++) {
            const char *a = tt_reader_meta_get(m->sub[0], run_keys[k]);
            const char *b = tt_reader_meta_get(m->sub[i], run_keys[k]);
            if (a && b && strcmp(a, b) != 0) {
                snprintf(msg, sizeof msg, "%s: from another run than %s (%s \"%.64s\", not \"%.64s\")", m->paths[i],
                         m->paths[0], run_keys[k], b, a);
                return many_err(r, TT_E_INVAL, msg);
            }
        }
        if (m->rank[i] != TT_UNSET && m->rank[i] == m->rank[i - 1]) {
            snprintf(msg, sizeof msg, "%s and %s both hold rank %d: one file per rank (a file given twice, or two "
                                      "runs mixed)", m->paths[i - 1], m->paths[i], (int)m->rank[i]);
            return many_err(r, TT_E_INVAL, msg);
        }
    }
    return TT_OK;
}

/* Every distinct key string of the files, in first-use order (tt_reader_strings). */
static int merge_strings(tt_reader *r, tt_many *m)
{
    for (size_t k = 0; k < m->n; k++) {
        const char *const *s;
        uint64_t n;
        if (tt_reader_strings(m->sub[k], &s, &n) != TT_OK)
            continue;
        for (uint64_t i = 0; i < n; i++) {
            uint32_t id;
            if (tt_intern_add(&r->strings, s[i], strlen(s[i]), SIZE_MAX, &id) != TT_OK)
                return many_err(r, TT_E_NOMEM, "out of memory");
        }
    }
    return TT_OK;
}

static void sum_info(tt_reader *r, const tt_many *m)
{
    tt_file_info *t = &r->info;
    memset(t, 0, sizeof *t);
    t->footer_intact = 1;
    t->counters_known = 1;
    for (size_t k = 0; k < m->n; k++) {
        tt_file_info fi;
        if (tt_reader_info(m->sub[k], &fi) != TT_OK)
            continue;
        if (k == 0) {
            *t = fi;
            t->writer = tt_strdup(fi.writer);
            continue;
        }
        if (fi.format_major > t->format_major ||
            (fi.format_major == t->format_major && fi.format_minor > t->format_minor))
            t->format_major = fi.format_major, t->format_minor = fi.format_minor;
        t->file_size += fi.file_size;
        t->record_count += fi.record_count;
        t->batch_count += fi.batch_count;
        t->payload_frame_count += fi.payload_frame_count;
        t->footer_intact &= fi.footer_intact;
        t->counters_known &= fi.counters_known;
        t->counters.puts += fi.counters.puts;
        t->counters.written += fi.counters.written;
        t->counters.filtered += fi.counters.filtered;
        t->counters.dropped += fi.counters.dropped;
        t->counters.errors += fi.counters.errors;
        if (fi.created_ns && (!t->created_ns || fi.created_ns < t->created_ns))
            t->created_ns = fi.created_ns;
        t->closed_ns = fi.closed_ns && t->closed_ns && fi.closed_ns > t->closed_ns ? fi.closed_ns
                       : fi.closed_ns ? t->closed_ns : 0;
        t->damaged_frames += fi.damaged_frames;
        t->lost_records += fi.lost_records;
        t->scan_end += fi.scan_end;
        if (fi.chunk_bytes != t->chunk_bytes)
            t->chunk_bytes = 0;
    }
    r->nrecords = m->base[m->n];
    r->info.record_count = r->nrecords;
}

int tt_reader_open_many(tt_reader **out, const char *const *paths, size_t n, const tt_reader_options *opts)
{
    if (!out)
        return TT_E_INVAL;
    *out = NULL;
    tt_many *m = n ? many_new(n) : NULL;
    tt_reader *r = m ? shell_new(m, paths && paths[0] ? paths[0] : "(null)") : NULL;
    if (!r) {
        many_free(m);
        if (n == 0 && (r = calloc(1, sizeof *r)) != NULL) {
            r->fd = -1;
            r->b = &r->own;
            r->path = tt_strdup("");
            tt_intern_init(&r->strings);
            r->failed = 1;
            snprintf(r->errmsg, sizeof r->errmsg, "no trace file given");
            *out = r;
            return TT_E_INVAL;
        }
        return TT_E_NOMEM;
    }
    *out = r;
    if (opts && opts->size >= sizeof(uint32_t)) {
        memcpy(&m->opts, opts, opts->size < sizeof m->opts ? opts->size : sizeof m->opts);
    }
    m->opts.size = sizeof m->opts;
    int rc = TT_OK;
    tt_reader **opened = calloc(n, sizeof *opened);
    order_item *ord = calloc(n, sizeof *ord);
    if (!opened || !ord) {
        rc = many_err(r, TT_E_NOMEM, "out of memory");
        goto done;
    }
    int all_ranked = 1;
    for (size_t i = 0; i < n && rc == TT_OK; i++) {
        if (!paths[i]) {
            rc = many_err(r, TT_E_INVAL, "bad arguments: a NULL path");
            break;
        }
        rc = tt_reader_open(&opened[i], paths[i], &m->opts);
        if (rc != TT_OK) {
            many_err(r, rc, opened[i] ? tt_reader_errmsg(opened[i]) : "out of memory");
            break;
        }
        ord[i] = (order_item){meta_rank(opened[i]), i};
        all_ranked &= ord[i].rank != TT_UNSET;
    }
    if (rc != TT_OK)
        goto done;
    if (all_ranked)
        qsort(ord, n, sizeof *ord, order_cmp);
    for (size_t i = 0; i < n; i++) {
        size_t g = ord[i].given;
        m->sub[i] = opened[g];
        opened[g] = NULL;
        m->rank[i] = ord[i].rank;
        m->paths[i] = tt_strdup(paths[g]);
        if (!m->paths[i]) {
            rc = many_err(r, TT_E_NOMEM, "out of memory");
            goto done;
        }
        m->base[i + 1] = m->base[i] + tt_reader_count(m->sub[i]);
    }
    if ((rc = check_one_run(r, m)) != TT_OK || (rc = merge_strings(r, m)) != TT_OK)
        goto done;
    sum_info(r, m);
    r->errmsg[0] = 0;
    /* a recovered file keeps the reason its footer was not used, for the tools to show */
    for (size_t k = 0; k < n; k++)
        if (!r->info.footer_intact && tt_reader_errmsg(m->sub[k])[0]) {
            snprintf(r->errmsg, sizeof r->errmsg, "%s", tt_reader_errmsg(m->sub[k]));
            break;
        }
done:
    for (size_t i = 0; opened && i < n; i++)
        tt_reader_close(opened[i]);
    free(opened);
    free(ord);
    if (rc != TT_OK)
        r->failed = 1;
    return rc;
}

int tt_reader_reopen(const tt_reader *r, tt_reader **out)
{
    if (!out)
        return TT_E_INVAL;
    *out = NULL;
    if (!r || r->failed)
        return TT_E_INVAL;
    if (!r->many)
        return tt_reader_open(out, r->path, NULL);
    const tt_many *p = r->many;
    tt_many *m = many_new(p->n);
    tt_reader *c = m ? shell_new(m, p->paths[0]) : NULL;
    if (!c) {
        many_free(m);
        return TT_E_NOMEM;
    }
    m->opts = p->opts;
    memcpy(m->base, p->base, (p->n + 1) * sizeof *m->base);
    memcpy(m->rank, p->rank, p->n * sizeof *m->rank);
    for (size_t i = 0; i < p->n; i++)
        if (!(m->paths[i] = tt_strdup(p->paths[i]))) {
            c->failed = 1;
            *out = c;
            return many_err(c, TT_E_NOMEM, "out of memory");
        }
    c->nrecords = r->nrecords;
    c->info = r->info;
    c->info.writer = tt_strdup(r->info.writer ? r->info.writer : "");
    tt_reader *first;
    if (sub_get(c, 0, &first) != TT_OK) { /* its metadata is the composite's */
        c->failed = 1;
        *out = c;
        return TT_E_IO;
    }
    for (size_t i = 0; i < r->strings.n; i++) {
        uint32_t id;
        if (tt_intern_add(&c->strings, r->strings.strs[i], strlen(r->strings.strs[i]), SIZE_MAX, &id) != TT_OK) {
            c->failed = 1;
            *out = c;
            return many_err(c, TT_E_NOMEM, "out of memory");
        }
    }
    *out = c;
    return TT_OK;
}

size_t tt_reader_file_count(const tt_reader *r)
{
    if (!r || r->failed)
        return 0;
    return r->many ? r->many->n : 1;
}

const char *tt_reader_file_path(const tt_reader *r, size_t file)
{
    if (!r || r->failed || file >= tt_reader_file_count(r))
        return NULL;
    return r->many ? r->many->paths[file] : r->path;
}

int32_t tt_reader_file_rank(const tt_reader *r, size_t file)
{
    if (!r || r->failed || file >= tt_reader_file_count(r))
        return TT_UNSET;
    return r->many ? r->many->rank[file] : meta_rank(r);
}

size_t tt_reader_file_of(const tt_reader *r, uint64_t index, uint64_t *local)
{
    if (!r || r->failed || index >= r->nrecords)
        return SIZE_MAX;
    if (!r->many) {
        if (local)
            *local = index;
        return 0;
    }
    size_t k = file_of(r->many, index);
    if (local)
        *local = index - r->many->base[k];
    return k;
}

/* ---- the reader functions on a composite (called by reader.c and reader_verify.c) ---------------------- */

/* The file of record index, opened; its local index in *local. */
static int locate(tt_reader *r, uint64_t index, tt_reader **s, size_t *k, uint64_t *local)
{
    if (index >= r->nrecords) {
        char msg[128];
        snprintf(msg, sizeof msg, "record %llu: the %zu files have %llu records", (unsigned long long)index,
                 r->many->n, (unsigned long long)r->nrecords);
        return many_err(r, TT_E_RANGE, msg);
    }
    *k = file_of(r->many, index);
    *local = index - r->many->base[*k];
    return sub_get(r, *k, s);
}

static int forward_err(tt_reader *r, tt_reader *s, int rc)
{
    if (rc < 0)
        many_err(r, rc, tt_reader_errmsg(s));
    return rc;
}

int tt__many_record(tt_reader *r, uint64_t index, tt_record *out)
{
    tt_reader *s;
    size_t k;
    uint64_t local;
    int rc = locate(r, index, &s, &k, &local);
    if (rc != TT_OK)
        return rc;
    if ((rc = tt_reader_record(s, local, out)) != TT_OK)
        return forward_err(r, s, rc);
    fix_record(r->many, k, out);
    return TT_OK;
}

int tt__many_next(tt_reader *r, const tt_filter *f, uint64_t *cursor, tt_record *out)
{
    tt_many *m = r->many;
    while (*cursor < r->nrecords) {
        size_t k = file_of(m, *cursor);
        uint64_t local = *cursor - m->base[k];
        tt_reader *s;
        int rc = sub_get(r, k, &s);
        if (rc != TT_OK) {
            *cursor = m->base[k + 1]; /* past the file that cannot be read, so the caller may go on */
            return rc;
        }
        rc = tt_reader_next(s, f, &local, out);
        *cursor = m->base[k] + local;
        if (rc == 1) {
            fix_record(m, k, out);
            return 1;
        }
        if (rc < 0)
            return forward_err(r, s, rc);
        *cursor = m->base[k + 1];
    }
    return 0;
}

int tt__many_find(tt_reader *r, const tt_key *key, tt_record *out)
{
    tt_many *m = r->many;
    for (size_t k = 0; k < m->n; k++) {
        if (key->rank != TT_UNSET && m->rank[k] != TT_UNSET && m->rank[k] != key->rank)
            continue;
        tt_reader *s;
        int rc = sub_get(r, k, &s);
        if (rc != TT_OK)
            return rc;
        rc = tt_reader_find(s, key, out);
        if (rc == TT_OK) {
            fix_record(m, k, out);
            return TT_OK;
        }
        if (rc != TT_E_NOTFOUND)
            return forward_err(r, s, rc);
    }
    return TT_E_NOTFOUND;
}

int tt__many_read(tt_reader *r, uint64_t index, int rows, uint64_t row_begin, uint64_t row_count, void *dst,
                  size_t dst_size)
{
    tt_reader *s;
    size_t k;
    uint64_t local;
    int rc = locate(r, index, &s, &k, &local);
    if (rc != TT_OK)
        return rc;
    rc = rows ? tt_reader_read_rows(s, local, row_begin, row_count, dst, dst_size)
              : tt_reader_read(s, local, dst, dst_size);
    return forward_err(r, s, rc);
}

int tt__many_meta(tt_reader *r, tt_reader **first)
{
    return sub_get(r, 0, first);
}

typedef struct verify_ctx {
    int (*cb)(void *ctx, const tt_problem *p);
    void *ctx;
    uint64_t base;
} verify_ctx;

static int verify_cb(void *ctx, const tt_problem *p)
{
    verify_ctx *v = ctx;
    tt_problem q = *p;
    if (q.record >= 0)
        q.record += (int64_t)v->base;
    return v->cb ? v->cb(v->ctx, &q) : 0;
}

int tt__many_verify(tt_reader *r, tt_verify_result *res, int (*cb)(void *ctx, const tt_problem *p), void *ctx)
{
    tt_many *m = r->many;
    memset(res, 0, sizeof *res);
    int worst = TT_OK;
    for (size_t k = 0; k < m->n; k++) {
        tt_reader *s;
        int rc = sub_get(r, k, &s);
        if (rc != TT_OK)
            return rc;
        tt_verify_result one;
        verify_ctx v = {cb, ctx, m->base[k]};
        rc = tt_reader_verify(s, &one, verify_cb, &v);
        res->frames_checked += one.frames_checked;
        res->records_checked += one.records_checked;
        res->payload_bytes_checked += one.payload_bytes_checked;
        res->problems += one.problems;
        if (rc == TT_E_CORRUPT)
            worst = rc;
        else if (rc != TT_OK)
            return forward_err(r, s, rc);
    }
    return worst;
}

int tt__many_copy(tt_reader *r, const tt_filter *f, tt_writer *w, uint64_t *copied, uint64_t *lost)
{
    tt_many *m = r->many;
    for (size_t k = 0; k < m->n; k++) {
        tt_reader *s;
        int rc = sub_get(r, k, &s);
        if (rc != TT_OK)
            return rc;
        uint64_t c = 0, l = 0;
        rc = tt_reader_copy(s, f, w, &c, &l);
        if (copied)
            *copied += c;
        if (lost)
            *lost += l;
        if (rc != TT_OK)
            return forward_err(r, s, rc);
    }
    return TT_OK;
}
