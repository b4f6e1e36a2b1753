/*
 * writer_rank.c — which process of a multi-process job a writer belongs to, and the file it writes: the rank and
 * world size from the options, TT_TRACE_RANK / TT_TRACE_WORLD_SIZE or the launchers' variables (tt/writer.h,
 * RANK), and the expansion of %r, %p and %% in the output path (tt/writer.h, PATHS). Each rank of a job then
 * writes its own file without the engine building names itself.
 */
#define _POSIX_C_SOURCE 200809L
#include "writer_impl.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define RANK_MAX (INT32_MAX - 1) /* so that rank + 1 (a world size that holds it) is an int32 too */

/* Where a rank may come from, in the order tried, with the world-size variable of the same launcher. Global
 * ranks come first; LOCAL_RANK repeats on every node of a job, so it names a file uniquely only on one node. */
static const struct {
    const char *rank, *world;
} rank_sources[] = {
    {"TT_TRACE_RANK", "TT_TRACE_WORLD_SIZE"},
    {"RANK", "WORLD_SIZE"},
    {"OMPI_COMM_WORLD_RANK", "OMPI_COMM_WORLD_SIZE"},
    {"SLURM_PROCID", "SLURM_NTASKS"},
    {"LOCAL_RANK", "LOCAL_WORLD_SIZE"},
};

static int env_rank_value(tt_writer *w, const char *name, int64_t lo, int64_t hi, int64_t *out)
{
    const char *s = getenv(name);
    if (!s || !*s)
        return 0;
    if (tt_parse_i64(s, lo, hi, out) != TT_OK)
        return tt_seterr(w->errmsg, TT_E_PARSE, "environment variable %s=\"%s\": expected an integer in %lld..%lld",
                         name, s, (long long)lo, (long long)hi);
    return 1;
}

int tt__writer_resolve_rank(tt_writer *w, int rank_set, int32_t rank, int32_t world_size, int use_env)
{
    w->rank = TT_UNSET;
    w->world_size = 0;
    if (rank_set) {
        if (rank < 0 || rank > RANK_MAX)
            return tt_seterr(w->errmsg, TT_E_INVAL, "option rank: %d outside 0..%d", (int)rank, RANK_MAX);
        w->rank = rank;
    }
    if (world_size < 0)
        return tt_seterr(w->errmsg, TT_E_INVAL, "option world_size: %d is negative", (int)world_size);
    w->world_size = world_size;
    const char *world_from = "option world_size";
    if (use_env) {
        for (size_t i = 0; i < sizeof rank_sources / sizeof rank_sources[0] && w->rank == TT_UNSET; i++) {
            int64_t v;
            int rc = env_rank_value(w, rank_sources[i].rank, 0, RANK_MAX, &v);
            if (rc < 0)
                return rc;
            if (rc == 0)
                continue;
            w->rank = (int32_t)v;
            if (!w->world_size) {
                rc = env_rank_value(w, rank_sources[i].world, 1, INT32_MAX, &v);
                if (rc < 0)
                    return rc;
                if (rc) {
                    w->world_size = (int32_t)v;
                    world_from = rank_sources[i].world;
                }
            }
        }
    }
    if (w->rank != TT_UNSET && w->world_size && w->rank >= w->world_size)
        return tt_seterr(w->errmsg, TT_E_INVAL, "rank %d is not below the world size %d (%s)", (int)w->rank,
                         (int)w->world_size, world_from);
    return TT_OK;
}

int tt__expand_path(tt_writer *w, const char *pattern, char **out)
{
    *out = NULL;
    size_t len = strlen(pattern), cap = len + 1;
    for (const char *p = strchr(pattern, '%'); p; p = strchr(p + 1, '%'))
        cap += 24; /* the longest a %-field expands to */
    char *s = malloc(cap);
    if (!s)
        return tt_seterr(w->errmsg, TT_E_NOMEM, "out of memory");
    size_t n = 0;
    for (size_t i = 0; i < len; i++) {
        if (pattern[i] != '%') {
            s[n++] = pattern[i];
            continue;
        }
        char c = pattern[++i];
        if (c == '%') {
            s[n++] = '%';
        } else if (c == 'r') {
            if (w->rank == TT_UNSET) {
                free(s);
                return tt_seterr(w->errmsg, TT_E_INVAL,
                                 "%s: %%r in the path but no rank is known (set tt_writer_options.rank, "
                                 "TT_TRACE_RANK, or run under a launcher that sets RANK, OMPI_COMM_WORLD_RANK, "
                                 "SLURM_PROCID or LOCAL_RANK)",
                                 pattern);
            }
            n += (size_t)snprintf(s + n, cap - n, "%d", (int)w->rank);
        } else if (c == 'p') {
            n += (size_t)snprintf(s + n, cap - n, "%ld", (long)getpid());
        } else {
            free(s);
            if (!c)
                return tt_seterr(w->errmsg, TT_E_INVAL, "%s: the path ends with a lone %% (write %%%% for a %%)",
                                 pattern);
            return tt_seterr(w->errmsg, TT_E_INVAL,
                             "%s: %%%c at byte %zu of the path is not %%r (rank), %%p (pid) or %%%% (a %%)", pattern, c,
                             i - 1);
        }
    }
    s[n] = '\0';
    *out = s;
    return TT_OK;
}

int32_t tt_writer_rank(const tt_writer *w) { return w ? w->rank : TT_UNSET; }
