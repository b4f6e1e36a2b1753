/*
 * writer.c — the writer's API: resolving options and TT_TRACE_* environment variables, the capture filters,
 * admission of records under the in-flight bound, metadata, flush and close. The computing is in writer_pool.c
 * and the file in writer_file.c; writer_impl.h describes how they fit.
 */
#define _POSIX_C_SOURCE 200809L
#include "writer_impl.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "schema.h"
#include "tt/dtype.h"

#define DEFAULT_INFLIGHT ((uint64_t)256 << 20)
#define DEFAULT_BATCH_RECORDS 4096u
#define DEFAULT_FLUSH_MS 1000u
#define MAX_THREADS 256u
#define MAX_STRINGS (1u << 20)
/* Distinct key strings are kept for the footer's dictionary: at most this many bytes of them, so that the footer
 * stays well below the reader's 1 GiB limit (TT_LIMIT_FOOTER). */
#define MAX_STRING_BYTES ((uint64_t)512 << 20)

void tt__writer_fail(tt_writer *w, int code, const char *fmt, ...)
{
    if (w->status == TT_OK) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(w->errmsg, sizeof w->errmsg, fmt, ap);
        va_end(ap);
        w->status = code;
    }
    w->failed = 1;
    pthread_cond_broadcast(&w->cv_space);
    pthread_cond_broadcast(&w->cv_flush);
    pthread_cond_broadcast(&w->cv_file);
    pthread_cond_broadcast(&w->cv_work);
}

/* A put-level error (bad arguments): reported to the caller and kept as the message unless the writer has
 * already failed, without failing the writer. */
static int put_error(tt_writer *w, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int put_error(tt_writer *w, int code, const char *fmt, ...)
{
    pthread_mutex_lock(&w->mu);
    w->counters.errors++;
    if (w->status == TT_OK) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(w->errmsg, sizeof w->errmsg, fmt, ap);
        va_end(ap);
    }
    pthread_mutex_unlock(&w->mu);
    return code;
}

/* ---- options and environment ---------------------------------------------------------------------------- */

static int parse_mode(const char *s, tt_mode *m)
{
    static const char *names[] = {"full", "stats", "hash", "off"};
    for (int i = 0; i < 4; i++)
        if (strcmp(s, names[i]) == 0) {
            *m = (tt_mode)(TT_MODE_FULL + i);
            return TT_OK;
        }
    return TT_E_PARSE;
}

/* Reads one integer variable into *out when set. */
static int env_int(tt_writer *w, const char *name, int64_t lo, int64_t hi, int64_t *out, int *set)
{
    const char *s = getenv(name);
    *set = 0;
    if (!s || !*s)
        return TT_OK;
    if (tt_parse_i64(s, lo, hi, out) != TT_OK)
        return tt_seterr(w->errmsg, TT_E_PARSE, "environment variable %s=\"%s\": expected an integer in %lld..%lld",
                         name, s, (long long)lo, (long long)hi);
    *set = 1;
    return TT_OK;
}

static int env_choice(tt_writer *w, const char *name, const char *const *choices, int n, int *out)
{
    const char *s = getenv(name);
    if (!s || !*s)
        return TT_OK;
    for (int i = 0; i < n; i++)
        if (strcmp(s, choices[i]) == 0) {
            *out = i;
            return TT_OK;
        }
    char list[128] = "";
    for (int i = 0; i < n; i++) {
        strncat(list, choices[i], sizeof list - strlen(list) - 1);
        if (i + 1 < n)
            strncat(list, "|", sizeof list - strlen(list) - 1);
    }
    return tt_seterr(w->errmsg, TT_E_PARSE, "environment variable %s=\"%s\": expected %s", name, s, list);
}

/* Option fields read only when the caller's struct is large enough to have them. */
#define OPT(o, field, def) \
    (((o) && (o)->size >= offsetof(tt_writer_options, field) + sizeof((o)->field) && (o)->field) ? (o)->field : (def))

static int resolve_options(tt_writer *w, const tt_writer_options *o)
{
    int ignore_env = OPT(o, ignore_env, 0);
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    w->mode = OPT(o, mode, TT_MODE_FULL);
    w->nthreads = OPT(o, threads, (uint32_t)(ncpu < 1 ? 1 : ncpu > 4 ? 4 : ncpu));
    w->inflight_limit = OPT(o, inflight_bytes, DEFAULT_INFLIGHT);
    w->on_full = OPT(o, on_full, TT_ON_FULL_BLOCK);
    w->zstd_level = OPT(o, zstd_level, 1);
    if (o && o->size >= offsetof(tt_writer_options, zstd_level_set) + sizeof(int) && o->zstd_level_set)
        w->zstd_level = o->zstd_level;
    w->shuffle = OPT(o, shuffle, TT_SHUFFLE_AUTO);
    w->payload_filter = OPT(o, payload_filter, TT_PAYLOAD_FILTER_AUTO);
    w->chunk_bytes = OPT(o, chunk_bytes, TT_DEFAULT_CHUNK_BYTES);
    w->batch_records = OPT(o, batch_records, DEFAULT_BATCH_RECORDS);
    w->flush_ms = OPT(o, flush_ms, DEFAULT_FLUSH_MS);
    const char *layers = OPT(o, layers, (const char *)NULL);
    const char *points = OPT(o, points, (const char *)NULL);
    const char *prompts = OPT(o, prompts, (const char *)NULL);
    const char *phases = OPT(o, phases, (const char *)NULL);
    /* where each filter came from, so an error names the variable or the option */
    const char *layers_from = "option layers", *points_from = "option points";
    const char *prompts_from = "option prompts", *phases_from = "option phases";

    if (!ignore_env) {
        int64_t v;
        int set, rc, choice = -1;
        const char *s = getenv("TT_TRACE_MODE");
        if (s && *s && parse_mode(s, &w->mode) != TT_OK)
            return tt_seterr(w->errmsg, TT_E_PARSE,
                             "environment variable TT_TRACE_MODE=\"%s\": expected full|stats|hash|off", s);
        if ((rc = env_int(w, "TT_TRACE_THREADS", 1, MAX_THREADS, &v, &set)) != TT_OK)
            return rc;
        if (set)
            w->nthreads = (uint32_t)v;
        if ((rc = env_int(w, "TT_TRACE_INFLIGHT_MB", 1, 1 << 20, &v, &set)) != TT_OK)
            return rc;
        if (set)
            w->inflight_limit = (uint64_t)v << 20;
        if ((rc = env_int(w, "TT_TRACE_ZSTD_LEVEL", -7, 22, &v, &set)) != TT_OK)
            return rc;
        if (set)
            w->zstd_level = (int)v;
        if ((rc = env_int(w, "TT_TRACE_FLUSH_MS", 1, 3600000, &v, &set)) != TT_OK)
            return rc;
        if (set)
            w->flush_ms = (uint32_t)v;
        static const char *const full_names[] = {"block", "drop"};
        if ((rc = env_choice(w, "TT_TRACE_ON_FULL", full_names, 2, &choice)) != TT_OK)
            return rc;
        if (choice >= 0)
            w->on_full = (tt_on_full)(TT_ON_FULL_BLOCK + choice);
        static const char *const shuffle_names[] = {"auto", "on", "off"};
        choice = -1;
        if ((rc = env_choice(w, "TT_TRACE_SHUFFLE", shuffle_names, 3, &choice)) != TT_OK)
            return rc;
        if (choice >= 0)
            w->shuffle = (tt_shuffle)choice;
        static const char *const filter_names[] = {"auto", "float", "shuffle", "none"};
        choice = -1;
        if ((rc = env_choice(w, "TT_TRACE_FILTER", filter_names, 4, &choice)) != TT_OK)
            return rc;
        if (choice >= 0)
            w->payload_filter = (tt_payload_filter)choice;
        if ((s = getenv("TT_TRACE_LAYERS")) && *s)
            layers = s, layers_from = "environment variable TT_TRACE_LAYERS";
        if ((s = getenv("TT_TRACE_POINTS")) && *s)
            points = s, points_from = "environment variable TT_TRACE_POINTS";
        if ((s = getenv("TT_TRACE_PROMPTS")) && *s)
            prompts = s, prompts_from = "environment variable TT_TRACE_PROMPTS";
        if ((s = getenv("TT_TRACE_PHASES")) && *s)
            phases = s, phases_from = "environment variable TT_TRACE_PHASES";
    }

    if (w->mode < TT_MODE_FULL || w->mode > TT_MODE_OFF)
        return tt_seterr(w->errmsg, TT_E_INVAL, "option mode: %d is not a capture mode", (int)w->mode);
    if (w->nthreads > MAX_THREADS)
        return tt_seterr(w->errmsg, TT_E_INVAL, "option threads: %u (at most %u)", w->nthreads, MAX_THREADS);
    if (w->inflight_limit < ((uint64_t)1 << 20))
        return tt_seterr(w->errmsg, TT_E_INVAL, "option inflight_bytes: %llu is below 1 MiB",
                         (unsigned long long)w->inflight_limit);
    if (w->on_full < TT_ON_FULL_BLOCK || w->on_full > TT_ON_FULL_DROP)
        return tt_seterr(w->errmsg, TT_E_INVAL, "option on_full: %d is not a policy", (int)w->on_full);
    if (w->zstd_level < -7 || w->zstd_level > 22)
        return tt_seterr(w->errmsg, TT_E_INVAL, "option zstd_level: %d outside -7..22", w->zstd_level);
    if (w->shuffle < TT_SHUFFLE_AUTO || w->shuffle > TT_SHUFFLE_OFF)
        return tt_seterr(w->errmsg, TT_E_INVAL, "option shuffle: %d is not a shuffle mode", (int)w->shuffle);
    if (w->payload_filter < TT_PAYLOAD_FILTER_AUTO || w->payload_filter > TT_PAYLOAD_FILTER_NONE)
        return tt_seterr(w->errmsg, TT_E_INVAL, "option payload_filter: %d is not a payload filter",
                         (int)w->payload_filter);
    if (w->chunk_bytes % 16 || w->chunk_bytes < TT_MIN_CHUNK_BYTES || w->chunk_bytes > TT_LIMIT_PAYLOAD_CHUNK)
        return tt_seterr(w->errmsg, TT_E_INVAL, "option chunk_bytes: %u is not a multiple of 16 in 4 KiB..64 MiB",
                         w->chunk_bytes);
    if (w->batch_records > TT_LIMIT_BATCH_RECORDS)
        return tt_seterr(w->errmsg, TT_E_INVAL, "option batch_records: %u (at most %u)", w->batch_records,
                         TT_LIMIT_BATCH_RECORDS);

    char err[TT_ERRMSG_SIZE];
    if (layers) {
        const char *text = layers;
        if (*text == '=') {
            w->layers_strict = 1;
            text++;
        }
        if (tt_range_list_parse(text, &w->layers, err) != TT_OK)
            return tt_seterr(w->errmsg, TT_E_PARSE, "%s: %s", layers_from, err);
        w->has_layers = 1;
    }
    struct {
        const char *text;
        tt_name_list *list;
        const char *from;
    } lists[] = {{points, &w->points, points_from}, {prompts, &w->prompts, prompts_from},
                 {phases, &w->phases, phases_from}};
    for (int i = 0; i < 3; i++)
        if (lists[i].text && tt_name_list_parse(lists[i].text, lists[i].list, err) != TT_OK)
            return tt_seterr(w->errmsg, TT_E_PARSE, "%s: %s", lists[i].from, err);
    return TT_OK;
}

/* ---- open / close ---------------------------------------------------------------------------------------- */

static int open_file(tt_writer *w, int overwrite)
{
    int flags = O_WRONLY | O_CREAT | O_CLOEXEC | (overwrite ? O_TRUNC : O_EXCL);
    w->fd = open(w->path, flags, 0644);
    if (w->fd < 0) {
        int e = errno;
        if (e == EEXIST)
            return tt_seterr(w->errmsg, TT_E_IO, "%s: file exists (refusing to overwrite it)", w->path);
        return tt_seterr(w->errmsg, TT_E_IO, "%s: cannot create: %s", w->path, strerror(e));
    }
    struct stat st;
    if (fstat(w->fd, &st) == 0 && !S_ISREG(st.st_mode))
        return tt_seterr(w->errmsg, TT_E_IO, "%s: not a regular file (a trace ends with a footer read first)",
                         w->path);
    return TT_OK;
}

/* The rank and world size, when known, are in the file's metadata from the start. */
static int set_rank_meta(tt_writer *w)
{
    char v[16];
    int rc = TT_OK;
    if (w->rank != TT_UNSET) {
        snprintf(v, sizeof v, "%d", (int)w->rank);
        rc = tt_writer_set_meta(w, "rank", v);
    }
    if (rc == TT_OK && w->world_size) {
        snprintf(v, sizeof v, "%d", (int)w->world_size);
        rc = tt_writer_set_meta(w, "world_size", v);
    }
    return rc == TT_OK ? rc : tt_seterr(w->errmsg, rc, "%s: cannot set the rank metadata", w->path);
}

static int init_sync(tt_writer *w)
{
    pthread_condattr_t ca;
    if (pthread_mutex_init(&w->mu, NULL) || pthread_condattr_init(&ca))
        return TT_E_NOMEM;
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    int bad = pthread_cond_init(&w->cv_space, NULL) | pthread_cond_init(&w->cv_work, NULL) |
              pthread_cond_init(&w->cv_file, &ca) | pthread_cond_init(&w->cv_flush, NULL);
    pthread_condattr_destroy(&ca);
    return bad ? TT_E_NOMEM : TT_OK;
}

int tt_writer_open(tt_writer **out, const char *path, const tt_writer_options *opts)
{
    if (!out)
        return TT_E_INVAL;
    *out = NULL;
    if (!path && !(opts && opts->size >= offsetof(tt_writer_options, ignore_env) + sizeof(int) && opts->ignore_env))
        path = getenv("TT_TRACE_FILE");
    if (!path || !*path)
        return TT_OK; /* disabled writer */
    tt_writer *w = calloc(1, sizeof *w);
    if (!w)
        return TT_E_NOMEM;
    w->fd = -1;
    w->path = tt_strdup(path);
    tt_intern_init(&w->strings);
    fb_builder_init(&w->fb);
    *out = w;
    int rc = init_sync(w);
    if (rc != TT_OK || !w->path) {
        w->closed = w->failed = 1;
        return w->status = tt_seterr(w->errmsg, TT_E_NOMEM, "out of memory");
    }
    if (strcmp(path, "-") == 0)
        rc = tt_seterr(w->errmsg, TT_E_INVAL, "-: a trace cannot be written to stdout (readers start from its end)");
    if (rc == TT_OK)
        rc = resolve_options(w, opts);
    if (rc == TT_OK)
        rc = tt__writer_resolve_rank(w, OPT(opts, rank_set, 0), OPT(opts, rank, 0), OPT(opts, world_size, 0),
                                     !OPT(opts, ignore_env, 0));
    if (rc == TT_OK) {
        char *expanded = NULL;
        rc = tt__expand_path(w, path, &expanded);
        if (rc == TT_OK) {
            free(w->path);
            w->path = expanded;
        }
    }
    if (rc == TT_OK)
        tt__pack_limits(w);
    if (rc == TT_OK)
        rc = open_file(w, OPT(opts, overwrite, 0));
    w->created_ns = tt_now_ns();
    if (rc == TT_OK)
        rc = tt__pool_start(w);
    if (rc == TT_OK)
        rc = set_rank_meta(w);
    if (rc == TT_OK)
        rc = tt__file_start(w);
    if (rc != TT_OK) {
        if (!w->errmsg[0])
            tt_seterr(w->errmsg, rc, "%s: cannot start the writer: %s", w->path, tt_strerror(rc));
        w->status = rc;
        w->failed = 1;
        pthread_mutex_lock(&w->mu);
        w->closing = 1;
        pthread_cond_broadcast(&w->cv_file);
        pthread_mutex_unlock(&w->mu);
        tt__file_finish(w);
        tt__pool_stop(w);
        w->closed = 1;
    }
    return rc;
}

int tt_writer_close(tt_writer *w)
{
    if (!w)
        return TT_OK;
    pthread_mutex_lock(&w->mu);
    if (w->closed) {
        int st = w->status;
        pthread_mutex_unlock(&w->mu);
        return st;
    }
    w->closing = 1;
    tt__pack_seal(w);
    pthread_cond_broadcast(&w->cv_file);
    pthread_cond_broadcast(&w->cv_space);
    pthread_mutex_unlock(&w->mu);
    tt__file_finish(w); /* drains every job, writes the last batch, the footer and the trailer */
    tt__pool_stop(w);
    if (w->fd >= 0 && close(w->fd) != 0) {
        pthread_mutex_lock(&w->mu);
        tt__writer_fail(w, TT_E_IO, "%s: close: %s", w->path, strerror(errno));
        pthread_mutex_unlock(&w->mu);
    }
    w->fd = -1;
    pthread_mutex_lock(&w->mu);
    w->closed = 1;
    int st = w->status;
    pthread_mutex_unlock(&w->mu);
    return st;
}

void tt_writer_free(tt_writer *w)
{
    if (!w)
        return;
    tt_writer_close(w);
    pthread_mutex_destroy(&w->mu);
    pthread_cond_destroy(&w->cv_space);
    pthread_cond_destroy(&w->cv_work);
    pthread_cond_destroy(&w->cv_file);
    pthread_cond_destroy(&w->cv_flush);
    tt_range_list_free(&w->layers);
    tt_name_list_free(&w->points);
    tt_name_list_free(&w->prompts);
    tt_name_list_free(&w->phases);
    tt_intern_free(&w->strings);
    for (uint32_t i = 0; i < w->nmeta; i++) {
        free(w->meta_keys[i]);
        free(w->meta_values[i]);
    }
    free(w->meta_keys);
    free(w->meta_values);
    fb_builder_free(&w->fb);
    free(w->path);
    free(w);
}

const char *tt_writer_errmsg(const tt_writer *w) { return w ? w->errmsg : ""; }
const char *tt_writer_path(const tt_writer *w) { return w ? w->path : ""; }
tt_mode tt__writer_mode(const tt_writer *w) { return w ? w->mode : TT_MODE_OFF; }
tt_on_full tt__writer_on_full(const tt_writer *w) { return w ? w->on_full : TT_ON_FULL_BLOCK; }

void tt__writer_count(tt_writer *w, uint64_t filtered, uint64_t dropped)
{
    if (!w)
        return;
    pthread_mutex_lock(&w->mu);
    w->counters.puts += filtered + dropped;
    w->counters.filtered += filtered;
    w->counters.dropped += dropped;
    pthread_mutex_unlock(&w->mu);
}

int tt_writer_get_counters(const tt_writer *w, tt_writer_counters *out)
{
    if (!w || !out)
        return TT_E_INVAL;
    pthread_mutex_lock((pthread_mutex_t *)&w->mu);
    *out = w->counters;
    pthread_mutex_unlock((pthread_mutex_t *)&w->mu);
    return TT_OK;
}

/* ---- metadata -------------------------------------------------------------------------------------------- */

int tt_writer_set_meta(tt_writer *w, const char *key, const char *value)
{
    if (!w)
        return TT_OK;
    if (!key || !value || !*key)
        return TT_E_INVAL;
    if (strlen(key) > TT_LIMIT_STRING || strlen(value) > TT_LIMIT_STRING)
        return put_error(w, TT_E_LIMIT, "metadata %.40s: key or value over %u bytes", key, TT_LIMIT_STRING);
    int rc = TT_OK;
    pthread_mutex_lock(&w->mu);
    if (w->closing || w->closed) {
        pthread_mutex_unlock(&w->mu);
        return TT_E_STATE;
    }
    uint32_t i = 0;
    while (i < w->nmeta && strcmp(w->meta_keys[i], key) != 0)
        i++;
    char *v = tt_strdup(value);
    if (!v) {
        rc = TT_E_NOMEM;
    } else if (i < w->nmeta) {
        free(w->meta_values[i]);
        w->meta_values[i] = v;
    } else if (w->nmeta >= TT_LIMIT_META_KEYS) {
        free(v);
        rc = TT_E_LIMIT;
    } else {
        size_t cap = w->meta_cap;
        char *k = tt_strdup(key);
        if (!k || tt_grow((void **)&w->meta_keys, &cap, w->nmeta + 1, sizeof(char *)) != TT_OK ||
            tt_grow((void **)&w->meta_values, &w->meta_cap, w->nmeta + 1, sizeof(char *)) != TT_OK) {
            free(k);
            free(v);
            rc = TT_E_NOMEM;
        } else {
            w->meta_keys[w->nmeta] = k;
            w->meta_values[w->nmeta++] = v;
        }
    }
    if (rc == TT_OK)
        w->meta_dirty = 1;
    pthread_mutex_unlock(&w->mu);
    return rc;
}

/* ---- filters --------------------------------------------------------------------------------------------- */

int tt_writer_wants(const tt_writer *w, const char *point, int32_t layer, const char *prompt_id, const char *phase)
{
    /* lock-free: only the filters, fixed at open, are read */
    if (!w || w->mode == TT_MODE_OFF)
        return 0;
    if (w->has_layers) {
        if (layer >= 0 ? !tt_range_list_has(&w->layers, layer)
                       : (w->layers_strict && !tt_range_list_has(&w->layers, layer)))
            return 0;
    }
    if (point && w->points.n && !tt_name_list_has(&w->points, point))
        return 0;
    if (prompt_id && w->prompts.n && !tt_name_list_has(&w->prompts, prompt_id))
        return 0;
    if (phase && w->phases.n && !tt_name_list_has(&w->phases, phase))
        return 0;
    return 1;
}

/* ---- admission ------------------------------------------------------------------------------------------- */

static void release_buffer(const tt_submit *s)
{
    if (!s->copy && s->release)
        s->release(s->release_ctx, (void *)s->data);
}

static int intern_key(tt_writer *w, const tt_key *k, tt_job *j)
{
    const char *s[3] = {k->prompt_id, k->phase, k->point};
    uint32_t *ids[3] = {&j->prompt_id, &j->phase, &j->point};
    for (int i = 0; i < 3; i++) {
        *ids[i] = UINT32_MAX;
        if (!s[i])
            continue;
        size_t n = strlen(s[i]), before = w->strings.n;
        if (w->string_bytes >= MAX_STRING_BYTES) { /* full: strings already known only */
            int64_t id = tt_intern_find(&w->strings, s[i], n);
            if (id < 0)
                return TT_E_LIMIT;
            *ids[i] = (uint32_t)id;
            continue;
        }
        int rc = tt_intern_add(&w->strings, s[i], n, MAX_STRINGS, ids[i]);
        if (rc != TT_OK)
            return rc;
        if (w->strings.n > before)
            w->string_bytes += n;
    }
    return TT_OK;
}

/* Validates the record as given; fills the job's metadata and the byte size. */
static int check_record(tt_writer *w, const tt_submit *s, tt_job *j)
{
    const tt_record *r = s->rec;
    const char *point = r->key.point;
    if (!point || !*point)
        return put_error(w, TT_E_INVAL, "put: the key has no point (tensor name)");
    const char *strs[3] = {r->key.prompt_id, r->key.phase, point};
    j->key_bytes = 0;
    for (int i = 0; i < 3; i++) {
        size_t n = strs[i] ? strlen(strs[i]) : 0;
        if (n > TT_LIMIT_STRING)
            return put_error(w, TT_E_LIMIT, "put %.40s: a key string is over %u bytes", point, TT_LIMIT_STRING);
        j->key_bytes += (uint32_t)n;
    }
    size_t esize = tt_dtype_size(r->dtype);
    if (!esize && (s->data || r->dtype != TT_DTYPE_UNKNOWN))
        return put_error(w, TT_E_INVAL, "put %s: unknown dtype %d", point, (int)r->dtype);
    uint64_t elems = 0, nbytes = 0;
    int rc = tt_shape_elems(r->ndim, r->shape, esize ? esize : 1, &elems, &nbytes);
    if (rc != TT_OK)
        return put_error(w, rc, "put %s: bad shape (ndim %d)", point, r->ndim);
    if (!esize)
        nbytes = 0;
    if (nbytes > TT_LIMIT_TENSOR_BYTES)
        return put_error(w, TT_E_LIMIT, "put %s: %llu bytes is over the %llu-byte tensor limit", point,
                         (unsigned long long)nbytes, (unsigned long long)TT_LIMIT_TENSOR_BYTES);
    if (s->data == NULL && nbytes && s->apply_filters)
        return put_error(w, TT_E_INVAL, "put %s: data is NULL", point);
    j->rec = *r;
    j->rec.nbytes = nbytes;
    j->rec.flags = 0; /* set by what the writer computes and stores */
    memset(&j->rec.key, 0, sizeof j->rec.key);
    j->rec.key.layer = r->key.layer;
    j->rec.key.step = r->key.step;
    j->rec.key.token_id = r->key.token_id;
    j->rec.key.logical_tok_idx = r->key.logical_tok_idx;
    j->rec.key.pos_id = r->key.pos_id;
    j->rec.key.rows = r->key.rows;
    j->rec.key.rank = r->key.rank != TT_UNSET ? r->key.rank : w->rank != TT_UNSET ? w->rank : 0;
    j->rec.key.shard_kind = TT_SHARD_NONE;
    j->rec.key.shard_dim = j->rec.key.shard_index = j->rec.key.shard_count = TT_UNSET;
    if (r->key.shard_kind != TT_SHARD_NONE) {
        char why[160];
        if (tt_key_shard_check(&r->key, r->ndim, why, sizeof why) != TT_OK)
            return put_error(w, TT_E_INVAL, "put %s: %s", point, why);
        j->rec.key.shard_kind = r->key.shard_kind;
        j->rec.key.shard_dim = r->key.shard_dim;
        j->rec.key.shard_index = r->key.shard_index;
        j->rec.key.shard_count = r->key.shard_count;
    }
    return TT_OK;
}

/* Heap a record holds besides its tensor bytes (the job, per-chunk headers and statistics, allocator slack):
 * charged to the in-flight bound too, so that a flood of tiny tensors cannot outgrow it. */
static uint64_t job_overhead(const tt_writer *w, uint64_t nbytes)
{
    uint64_t chunks = (nbytes + w->chunk_bytes - 1) / w->chunk_bytes;
    return sizeof(tt_job) + 64 + chunks * (sizeof(tt_frame_header) + sizeof(tt_stats) + 32);
}

/* Waits, under mu, until reserve more bytes fit the in-flight bound. @return : TT_OK, TT_DROPPED, or the failed
 * writer's error (counted). An open pack is sealed first: its bytes are released only once it is written.
 * want: the tensor bytes the record copies into a buffer of the writer (0: none). A kept buffer that suits them
 * is taken (*buf, capacity in *cap, NULL when none): the record's reservation then holds the whole capacity,
 * which leaves the bound's count, so the sum grows by reserve - want only. Kept buffers of other sizes are freed
 * before a put waits, and before a tensor larger than the whole bound is admitted alone. */
static int wait_for_room(tt_writer *w, uint64_t reserve, uint64_t want, uint8_t **buf, uint64_t *cap)
{
    *buf = NULL;
    *cap = 0;
    if (w->open_pack && tt__writer_held(w) + reserve > w->inflight_limit)
        tt__pack_seal(w);
    int hit;
    for (;;) {
        hit = want ? tt__buf_find(w, want) : -1;
        uint64_t grows = hit >= 0 ? reserve - want : reserve;
        if (tt__writer_held(w) + grows <= w->inflight_limit)
            break;
        if (tt__buf_evict(w, hit))
            continue; /* a kept buffer of another size was freed: look again */
        if (w->inflight == 0)
            break; /* a tensor larger than the whole bound is admitted alone */
        if (w->on_full == TT_ON_FULL_DROP) {
            w->counters.dropped++;
            return TT_DROPPED;
        }
        pthread_cond_wait(&w->cv_space, &w->mu);
        if (w->closing || w->failed) {
            w->counters.errors++;
            return w->failed ? (w->status ? w->status : TT_E_IO) : TT_E_STATE;
        }
    }
    if (hit >= 0)
        *buf = tt__buf_take(w, hit, cap);
    return TT_OK;
}

/* The seq and time of an admitted record (under mu). */
static void stamp_record(tt_writer *w, const tt_submit *s, tt_record *rec)
{
    rec->seq = (s->keep_meta && s->rec->seq) ? s->rec->seq : w->next_seq;
    if (rec->seq >= w->next_seq)
        w->next_seq = rec->seq + 1;
    rec->time_ns = (s->keep_meta && s->rec->time_ns) ? s->rec->time_ns : tt_now_ns();
}

int tt__writer_submit(tt_writer *w, const tt_submit *s)
{
    /* the record is checked into a job on the stack: a small one is copied into the open pack without a job of
     * its own (writer_pack.c) */
    tt_job tmp;
    memset(&tmp, 0, sizeof tmp);
    int rc = check_record(w, s, &tmp);
    if (rc != TT_OK) {
        release_buffer(s);
        return rc;
    }
    /* what this record stores */
    tmp.check_hash = tmp.keep_hash = tmp.keep_stats = 0;
    tmp.given_hash = 0;
    if (s->apply_filters) {
        tmp.mode = w->mode;
    } else if (s->data) {
        tmp.mode = TT_MODE_FULL;
        tmp.check_hash = (s->rec->flags & TT_REC_HAS_HASH) != 0;
        tmp.given_hash = s->rec->hash;
    } else {
        tmp.mode = TT_MODE_OFF; /* metadata only: hash and stats as given */
        tmp.keep_hash = (s->rec->flags & TT_REC_HAS_HASH) != 0;
        tmp.keep_stats = (s->rec->flags & TT_REC_HAS_STATS) != 0;
    }
    int needs_data = tmp.mode != TT_MODE_OFF;
    uint64_t data_bytes = needs_data ? tmp.rec.nbytes : 0;
    int small = tt__pack_small(w, data_bytes);
    uint64_t reserve = small ? tt__pack_reserve(data_bytes) : data_bytes + job_overhead(w, tmp.rec.nbytes);
    /* a tensor copied into a buffer of the writer's may get a kept one (writer_bufs.c) */
    uint64_t want = !small && s->copy ? data_bytes : 0;
    uint8_t *buf = NULL;
    uint64_t cap = 0;
    tt_job *j = NULL;

    pthread_mutex_lock(&w->mu);
    w->counters.puts++;
    if (w->closing || w->closed || w->failed) {
        rc = w->failed ? (w->status ? w->status : TT_E_IO) : TT_E_STATE;
        w->counters.errors++;
        goto refuse;
    }
    if (s->apply_filters && (w->mode == TT_MODE_OFF ||
                             !tt_writer_wants(w, s->rec->key.point, s->rec->key.layer, s->rec->key.prompt_id,
                                              s->rec->key.phase))) {
        w->counters.filtered++;
        rc = TT_FILTERED;
        goto refuse;
    }
    if ((rc = intern_key(w, &s->rec->key, &tmp)) != TT_OK) {
        w->counters.errors++;
        if (w->status == TT_OK)
            tt_seterr(w->errmsg, rc, "put %.40s: cannot keep the key strings: %s", s->rec->key.point,
                      rc == TT_E_LIMIT ? "a trace holds at most 1,048,576 distinct prompt ids, phases and points, "
                                         "512 MiB of them in all"
                                       : tt_strerror(rc));
        goto refuse;
    }
    if ((rc = wait_for_room(w, reserve, want, &buf, &cap)) != TT_OK)
        goto refuse;
    if (buf)
        reserve += cap - want; /* the record holds the whole buffer */
    while (small && tt__pack_must_wait(w, data_bytes)) {
        if (w->on_full == TT_ON_FULL_DROP) {
            w->counters.dropped++;
            rc = TT_DROPPED;
            goto refuse;
        }
        pthread_cond_wait(&w->cv_space, &w->mu);
        if (w->closing || w->failed) {
            w->counters.errors++;
            rc = w->failed ? (w->status ? w->status : TT_E_IO) : TT_E_STATE;
            goto refuse;
        }
    }
    if (small) {
        stamp_record(w, s, &tmp.rec);
        /* the bytes are copied under the lock: at most pack_record_max of them, and no second lock */
        if ((rc = tt__pack_add(w, &tmp, s->data, data_bytes, reserve)) != TT_OK)
            goto refuse; /* out of memory: counted with its message below */
        tt__writer_note_held(w);
        pthread_mutex_unlock(&w->mu);
        release_buffer(s);
        return TT_OK;
    }
    if (!(j = malloc(sizeof *j))) {
        rc = TT_E_NOMEM;
        goto refuse;
    }
    *j = tmp;
    /* capture order: the records packed so far come before this one */
    tt__pack_seal(w);
    w->inflight += reserve;
    tt__writer_note_held(w);
    j->reserved = reserve;
    j->order = w->next_order++;
    stamp_record(w, s, &j->rec);
    j->state = JOB_COPYING;
    if (w->tail)
        w->tail->next = j;
    else
        w->head = j;
    w->tail = j;
    pthread_mutex_unlock(&w->mu);

    /* the copy happens outside the lock, so puts from several threads copy in parallel */
    if (needs_data && j->rec.nbytes) {
        if (s->copy) {
            j->data = buf ? buf : tt_alloc_big((size_t)j->rec.nbytes);
            j->data_cap = buf ? cap : j->rec.nbytes;
            if (j->data)
                memcpy(j->data, s->data, j->rec.nbytes);
            else
                j->error = TT_E_NOMEM;
        } else {
            j->data = (uint8_t *)s->data;
            j->release = s->release;
            j->release_ctx = s->release_ctx;
        }
    } else {
        release_buffer(s);
    }
    /* once handed over under the lock, the job belongs to the workers and the file thread: read nothing of it
     * after the unlock */
    int err = j->error;
    uint64_t nbytes = j->rec.nbytes;
    pthread_mutex_lock(&w->mu);
    if (err || !needs_data) {
        j->state = JOB_DONE;
        pthread_cond_signal(&w->cv_file);
    } else {
        j->state = JOB_HASHING;
        tt__pool_enqueue_hash(w, j);
    }
    pthread_mutex_unlock(&w->mu);
    return err ? put_error(w, err, "put %s: out of memory for %llu bytes", s->rec->key.point,
                           (unsigned long long)nbytes)
               : TT_OK;

refuse:
    pthread_mutex_unlock(&w->mu);
    free(buf); /* a kept buffer taken by a record that then failed (no memory for its job) */
    release_buffer(s);
    if (rc == TT_E_NOMEM)
        return put_error(w, rc, "put %s: out of memory", s->rec->key.point);
    return rc;
}

int tt_put(tt_writer *w, const tt_key *key, tt_dtype dtype, int ndim, const uint64_t *shape, const void *data)
{
    if (!w)
        return TT_FILTERED;
    if (!key || (ndim > 0 && !shape))
        return put_error(w, TT_E_INVAL, "put: key or shape is NULL");
    if (ndim < 0 || ndim > TT_MAX_DIMS)
        return put_error(w, TT_E_INVAL, "put %s: ndim %d outside 0..%d", key->point ? key->point : "?", ndim,
                         TT_MAX_DIMS);
    tt_record rec;
    memset(&rec, 0, sizeof rec);
    rec.key = *key;
    rec.dtype = dtype;
    rec.ndim = ndim;
    for (int i = 0; i < ndim; i++)
        rec.shape[i] = shape[i];
    tt_submit s = {&rec, data, 1, NULL, NULL, 1, 0};
    return tt__writer_submit(w, &s);
}

int tt_put_record(tt_writer *w, const tt_record *rec, const void *data)
{
    if (!w)
        return TT_FILTERED;
    if (!rec || rec->ndim < 0 || rec->ndim > TT_MAX_DIMS)
        return put_error(w, TT_E_INVAL, "put_record: NULL record or ndim outside 0..%d", TT_MAX_DIMS);
    tt_submit s = {rec, data, 1, NULL, NULL, 0, 1};
    return tt__writer_submit(w, &s);
}

int tt_key_shard_check(const tt_key *key, int ndim, char *why, size_t whylen)
{
    char buf[160];
    if (!key)
        return TT_E_INVAL;
    if (key->shard_kind == TT_SHARD_NONE) /* the other fields are ignored, as by tt_put() */
        return TT_OK;
    if (tt_shard_check(key->shard_kind, key->shard_dim, key->shard_index, key->shard_count, ndim, buf, sizeof buf))
        return TT_OK;
    if (why && whylen)
        snprintf(why, whylen, "%s", buf);
    return TT_E_INVAL;
}

/* ---- flush ----------------------------------------------------------------------------------------------- */

int tt_writer_flush(tt_writer *w)
{
    if (!w)
        return TT_OK;
    pthread_mutex_lock(&w->mu);
    tt__pack_seal(w);
    uint64_t target = w->next_order;
    if (target > w->flush_target)
        w->flush_target = target;
    pthread_cond_signal(&w->cv_file);
    while (w->durable_order < target && !w->failed && !w->closed)
        pthread_cond_wait(&w->cv_flush, &w->mu);
    int rc = w->failed ? (w->status ? w->status : TT_E_IO) : TT_OK;
    pthread_mutex_unlock(&w->mu);
    return rc;
}

int tt_writer_sync(tt_writer *w)
{
    int rc = tt_writer_flush(w);
    if (rc != TT_OK || !w)
        return rc;
    pthread_mutex_lock(&w->mu);
    if (w->fd >= 0 && fsync(w->fd) != 0)
        tt__writer_fail(w, TT_E_IO, "%s: fsync: %s", w->path, strerror(errno));
    rc = w->status;
    pthread_mutex_unlock(&w->mu);
    return rc;
}
