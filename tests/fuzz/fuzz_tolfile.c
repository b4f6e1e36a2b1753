/*
 * fuzz_tolfile.c — libFuzzer target for the tolerance-file parser (tt_diff_tol_parse in libtrace/diff/tol.c).
 * The input is a tolerance file. Whatever it holds, the parser returns TT_OK or an error with a message; and
 * what it accepts must survive a round trip: the table written back by tt_diff_tols_format() parses again into
 * a table of the same size that formats to the same text.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tt/diff.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define REQUIRE(c)                                                                                           \
    do {                                                                                                     \
        if (!(c)) {                                                                                          \
            fprintf(stderr, "fuzz_tolfile: promise broken: %s (line %d)\n", #c, __LINE__);                   \
            abort();                                                                                         \
        }                                                                                                    \
    } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    tt_diff_tols *t = tt_diff_tols_new();
    if (!t)
        return 0;
    /* an exact-size copy, not NUL-terminated: the parser must not read past len */
    char *text = malloc(size ? size : 1);
    if (!text) {
        tt_diff_tols_free(t);
        return 0;
    }
    memcpy(text, data, size);
    char err[512];
    err[0] = '\0';
    int rc = tt_diff_tol_parse(text, size, t, err, sizeof err);
    REQUIRE(rc == TT_OK || rc == TT_E_PARSE || rc == TT_E_LIMIT || rc == TT_E_NOMEM);
    if (rc != TT_OK)
        REQUIRE(err[0] != '\0');
    if (rc == TT_OK) {
        char *out = NULL, *out2 = NULL;
        REQUIRE(tt_diff_tols_format(t, &out) == TT_OK && out);
        tt_diff_tols *t2 = tt_diff_tols_new();
        REQUIRE(t2);
        int rc2 = tt_diff_tol_parse(out, strlen(out), t2, err, sizeof err);
        if (rc2 != TT_OK)
            fprintf(stderr, "fuzz_tolfile: formatted table does not parse again: %s\n--\n%s--\n", err, out);
        REQUIRE(rc2 == TT_OK);
        REQUIRE(tt_diff_tols_count(t2) == tt_diff_tols_count(t));
        REQUIRE(tt_diff_tols_format(t2, &out2) == TT_OK && out2);
        if (strcmp(out, out2) != 0)
            fprintf(stderr, "fuzz_tolfile: formatting is not stable:\n--\n%s--\n%s--\n", out, out2);
        REQUIRE(strcmp(out, out2) == 0);
        free(out);
        free(out2);
        tt_diff_tols_free(t2);
    }
    /* the command-line form on the first line, too */
    const char *nl = memchr(text, '\n', size);
    size_t n = nl ? (size_t)(nl - text) : size;
    if (n < 4096) {
        char spec[4096];
        memcpy(spec, text, n);
        spec[n] = '\0';
        rc = tt_diff_tol_spec(t, spec, err, sizeof err);
        REQUIRE(rc == TT_OK || err[0] != '\0');
    }
    free(text);
    tt_diff_tols_free(t);
    return 0;
}
