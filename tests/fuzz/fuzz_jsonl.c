/*
 * fuzz_jsonl.c — libFuzzer target for the legacy JSONL importer (tools/jsonl2trace/legacy_line.c). The input is
 * a JSONL text. Each line goes through legacy_parse_line(); then the whole import is done as jsonl2trace does
 * it (blank lines and other events skipped, each record stored with tt_put_record, seq = line number) into a
 * writer whose file is a memfd, and the trace is read back.
 *
 * Promises checked (abort on violation, which libFuzzer reports like a crash):
 *   - a refused line has a message that starts with ':' (jsonl2trace prints "FILE:LINE" before it);
 *   - a line the parser accepts is a record the writer stores: tt_put_record never refuses it (jsonl2trace
 *     takes a refusal for a failing disk and stops the import);
 *   - the trace read back has exactly the records accepted, with the keys, hash and statistics parsed.
 */
#define _GNU_SOURCE
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "legacy_line.h"
#include "tt/reader.h"
#include "tt/writer.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_LINES 64 /* records compared per input; the rest are parsed but not imported */

#define REQUIRE(c)                                                                                           \
    do {                                                                                                     \
        if (!(c)) {                                                                                          \
            fprintf(stderr, "fuzz_jsonl: promise broken: %s (line %d)\n", #c, __LINE__);                     \
            abort();                                                                                         \
        }                                                                                                    \
    } while (0)

typedef struct expect {
    tt_record rec;
    char *prompt, *phase, *point;
} expect;

static char *dup_or_empty(const char *s) { return strdup(s ? s : ""); }

static int same_double(double a, double b) { return (isnan(a) && isnan(b)) || a == b; }

static void compare(const expect *e, const tt_record *got)
{
    const tt_record *x = &e->rec;
    REQUIRE(strcmp(got->key.prompt_id, e->prompt) == 0);
    REQUIRE(strcmp(got->key.phase, e->phase) == 0);
    REQUIRE(strcmp(got->key.point, e->point) == 0);
    REQUIRE(got->key.layer == x->key.layer && got->key.step == x->key.step);
    REQUIRE(got->key.token_id == x->key.token_id && got->key.logical_tok_idx == x->key.logical_tok_idx);
    REQUIRE(got->key.pos_id == x->key.pos_id && got->key.rows == x->key.rows && got->key.rank == x->key.rank);
    REQUIRE(got->seq == x->seq);
    REQUIRE(got->dtype == x->dtype && got->ndim == x->ndim);
    for (int d = 0; d < x->ndim; d++)
        REQUIRE(got->shape[d] == x->shape[d]);
    REQUIRE((got->flags & (TT_REC_HAS_HASH | TT_REC_HAS_STATS | TT_REC_HAS_PAYLOAD)) ==
            (x->flags & (TT_REC_HAS_HASH | TT_REC_HAS_STATS)));
    if (x->flags & TT_REC_HAS_HASH)
        REQUIRE(got->hash == x->hash);
    if (x->flags & TT_REC_HAS_STATS) {
        REQUIRE(same_double(got->stats.min, x->stats.min) && same_double(got->stats.max, x->stats.max));
        REQUIRE(same_double(got->stats.mean, x->stats.mean) && same_double(got->stats.absmax, x->stats.absmax));
        REQUIRE(same_double(got->stats.l2, x->stats.l2));
        REQUIRE(got->stats.nan_count == x->stats.nan_count && got->stats.inf_count == x->stats.inf_count);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int fd = memfd_create("fuzz_jsonl", 0);
    if (fd < 0)
        return 0;
    char path[64];
    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    tt_writer_options wo = TT_WRITER_OPTIONS_INIT;
    wo.ignore_env = 1;
    wo.overwrite = 1;
    wo.threads = 1;
    tt_writer *w = NULL;
    if (tt_writer_open(&w, path, &wo) != TT_OK) {
        tt_writer_free(w);
        close(fd);
        return 0;
    }
    tt_writer_set_meta(w, "source", "legacy-jsonl");

    legacy_parser p = {0};
    legacy_result res;
    char err[512];
    expect *ex = calloc(MAX_LINES, sizeof *ex);
    int nex = 0;
    uint64_t lineno = 0;
    size_t pos = 0;
    while (ex && pos < size) {
        const char *s = (const char *)data + pos;
        const char *nl = memchr(s, '\n', size - pos);
        size_t n = nl ? (size_t)(nl - s) : size - pos;
        pos += n + (nl != NULL);
        lineno++;
        while (n && s[n - 1] == '\r')
            n--;
        if (lineno == 1 && n >= 3 && memcmp(s, "\xef\xbb\xbf", 3) == 0)
            s += 3, n -= 3;
        int rc = legacy_parse_line(&p, s, n, &res, err, sizeof err);
        if (rc == LEGACY_ERROR) {
            REQUIRE(err[0] == ':');
            continue;
        }
        REQUIRE(rc == LEGACY_RECORD || rc == LEGACY_OTHER || rc == LEGACY_BLANK);
        if (rc != LEGACY_RECORD || nex == MAX_LINES)
            continue;
        REQUIRE(res.nunknown <= LEGACY_MAX_UNKNOWN);
        for (int u = 0; u < res.nunknown; u++)
            REQUIRE(res.unknown[u] != NULL);
        res.rec.seq = lineno;
        int prc = tt_put_record(w, &res.rec, NULL);
        if (prc < 0)
            fprintf(stderr, "fuzz_jsonl: line %llu accepted by the parser, refused by the writer: %s\n",
                    (unsigned long long)lineno, tt_writer_errmsg(w));
        REQUIRE(prc == TT_OK);
        expect *e = &ex[nex++];
        e->rec = res.rec;
        e->prompt = dup_or_empty(res.rec.key.prompt_id);
        e->phase = dup_or_empty(res.rec.key.phase);
        e->point = dup_or_empty(res.rec.key.point);
    }
    legacy_parser_free(&p);
    REQUIRE(tt_writer_close(w) == TT_OK);
    tt_writer_free(w);

    tt_reader *r;
    REQUIRE(tt_reader_open(&r, path, NULL) == TT_OK);
    REQUIRE(tt_reader_count(r) == (uint64_t)nex);
    for (int i = 0; i < nex; i++) {
        tt_record got;
        REQUIRE(tt_reader_record(r, (uint64_t)i, &got) == TT_OK);
        compare(&ex[i], &got);
    }
    tt_reader_close(r);
    for (int i = 0; i < nex; i++) {
        free(ex[i].prompt);
        free(ex[i].phase);
        free(ex[i].point);
    }
    free(ex);
    close(fd);
    return 0;
}
