/*
 * test_diff_json.c — tt_diff_json(): the document of a run (the one tracediff --json writes) parsed back with
 * cJSON: verdict, counts, first failure, the sides' paths and conditions (given, or the defaults of a one-file
 * run), non-finite numbers as null; and its errors (NULL arguments, a failed run).
 * usage: test_diff_json DIR (created if missing; the traces are written there)
 */
#define _POSIX_C_SOURCE 200809L
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "tt/diff.h"
#include "tt/writer.h"
#include "tt_test.h"

static char g_path[3][1024];

static void write_trace(int which, const char *phase, float bump)
{
    tt_writer_options o = TT_WRITER_OPTIONS_INIT;
    o.ignore_env = 1;
    o.overwrite = 1;
    o.threads = 1;
    tt_writer *w = NULL;
    if (tt_writer_open(&w, g_path[which], &o) != TT_OK) {
        fprintf(stderr, "%s: %s\n", g_path[which], w ? tt_writer_errmsg(w) : "out of memory");
        exit(1);
    }
    tt_writer_set_meta(w, "engine", which ? "other" : "one");
    float x[2][8];
    for (int layer = 0; layer < 3; layer++) {
        for (int i = 0; i < 16; i++)
            x[i / 8][i % 8] = (float)(i - 7) * 0.25f + (layer == 2 ? bump : 0.0f);
        tt_key k = TT_KEY_INIT;
        k.prompt_id = "p0";
        k.phase = phase;
        k.point = "attn_out";
        k.layer = layer;
        k.pos_id = 4;
        k.logical_tok_idx = 4;
        k.rows = 2;
        uint64_t shape[2] = {2, 8};
        CHECK_STATUS(tt_put(w, &k, TT_F32, 2, shape, x), TT_OK);
        if (which == 2) { /* a second phase in the same file, for the one-file run */
            k.phase = "decode0";
            x[1][3] += 1.0f;
            CHECK_STATUS(tt_put(w, &k, TT_F32, 2, shape, x), TT_OK);
        }
    }
    if (which < 2) { /* zeros on the right (b) only: the relative error is infinite */
        static const float zero[8];
        tt_key k = TT_KEY_INIT;
        k.prompt_id = "p0";
        k.phase = phase;
        k.point = "zero";
        k.layer = 2;
        k.pos_id = 4;
        k.logical_tok_idx = 4;
        k.rows = 1;
        uint64_t shape[2] = {1, 8};
        CHECK_STATUS(tt_put(w, &k, TT_F32, 2, shape, which ? (const void *)zero : (const void *)x), TT_OK);
    }
    CHECK_STATUS(tt_writer_close(w), TT_OK);
    tt_writer_free(w);
}

static cJSON *render(const tt_diff *d, const tt_diff_json_options *o)
{
    char *text = NULL;
    CHECK_STATUS(tt_diff_json(d, o, &text), TT_OK);
    if (!text)
        return NULL;
    size_t n = strlen(text);
    CHECK(n > 2 && strchr(text, '\n') == text + n - 1); /* one line, ending in a newline */
    cJSON *doc = cJSON_Parse(text);
    CHECK(doc != NULL);
    free(text);
    return doc;
}

static const char *jstr(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

static double jnum(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsNumber(v) ? v->valuedouble : NAN;
}

static void two_files(void)
{
    tt_diff *d = NULL;
    tt_diff_options o = TT_DIFF_OPTIONS_INIT;
    o.threads = 1;
    tt_filter *lf = tt_filter_new(), *rf = tt_filter_new();
    CHECK_STATUS(tt_filter_add(lf, "layer=0-2", NULL, 0), TT_OK);
    CHECK_STATUS(tt_diff_run(&d, g_path[0], lf, g_path[1], rf, &o), TT_OK);
    const char *lc[] = {"layer=0-2"};
    tt_diff_json_options jo = TT_DIFF_JSON_OPTIONS_INIT;
    jo.left_conds = lc, jo.left_nconds = 1;
    cJSON *doc = render(d, &jo);
    CHECK_EQ_STR(jstr(doc, "schema"), "tensortrace.diff/1");
    CHECK_EQ_STR(jstr(doc, "tool"), "tracediff");
    CHECK_EQ_STR(jstr(doc, "verdict"), "MISMATCH");
    CHECK_EQ_STR(jstr(doc, "mode"), "numeric");
    const cJSON *left = cJSON_GetObjectItemCaseSensitive(doc, "left"),
                *right = cJSON_GetObjectItemCaseSensitive(doc, "right");
    CHECK_EQ_STR(jstr(left, "path"), g_path[0]);
    CHECK_EQ_STR(jstr(right, "path"), g_path[1]);
    const cJSON *lfl = cJSON_GetObjectItemCaseSensitive(left, "filter");
    CHECK_EQ_INT(cJSON_GetArraySize(lfl), 1);
    CHECK_EQ_STR(cJSON_GetArrayItem(lfl, 0)->valuestring, "layer=0-2");
    CHECK_EQ_INT(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(right, "filter")), 0);
    CHECK_EQ_STR(jstr(cJSON_GetObjectItemCaseSensitive(right, "meta"), "engine"), "other");
    const cJSON *counts = cJSON_GetObjectItemCaseSensitive(doc, "counts");
    CHECK_EQ_INT(jnum(counts, "pairs"), 4);
    CHECK_EQ_INT(jnum(counts, "match"), 2);
    CHECK_EQ_INT(jnum(counts, "mismatch"), 2);
    const cJSON *ff = cJSON_GetObjectItemCaseSensitive(doc, "first_failure");
    CHECK_EQ_INT(jnum(ff, "layer"), 2);
    CHECK_EQ_STR(jstr(ff, "root_cause"), "ATTN_OUT_DRIFT");
    const cJSON *pairs = cJSON_GetObjectItemCaseSensitive(doc, "pairs"), *zero = NULL;
    CHECK_EQ_INT(cJSON_GetArraySize(pairs), 4);
    for (int i = 0; i < cJSON_GetArraySize(pairs); i++) {
        const char *point = jstr(cJSON_GetArrayItem(pairs, i), "point");
        if (point && strcmp(point, "zero") == 0)
            zero = cJSON_GetArrayItem(pairs, i);
    }
    /* JSON has no infinity: the relative error against an all-zero reference is written as null */
    const cJSON *zm = cJSON_GetObjectItemCaseSensitive(zero, "metrics");
    CHECK(zero && cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(zm, "rel_l2")));
    CHECK(jnum(zm, "max_abs") > 0);
    cJSON_Delete(doc);
    /* no options: no conditions named */
    doc = render(d, NULL);
    CHECK_EQ_INT(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(doc, "left"),
                                                                      "filter")), 0);
    cJSON_Delete(doc);
    tt_diff_free(d);
    tt_filter_free(lf);
    tt_filter_free(rf);
}

static void one_file_defaults(void)
{
    tt_diff *d = NULL;
    tt_diff_options o = TT_DIFF_OPTIONS_INIT;
    o.threads = 1;
    /* one file, no filters: prefill_last against decode0, and the document says so */
    CHECK_STATUS(tt_diff_run(&d, g_path[2], NULL, NULL, NULL, &o), TT_OK);
    cJSON *doc = render(d, NULL);
    const cJSON *l = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(doc, "left"), "filter");
    const cJSON *r = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(doc, "right"), "filter");
    CHECK_EQ_INT(cJSON_GetArraySize(l), 1);
    CHECK_EQ_STR(cJSON_GetArrayItem(l, 0)->valuestring, "phase=prefill_last");
    CHECK_EQ_STR(cJSON_GetArrayItem(r, 0)->valuestring, "phase=decode0");
    CHECK_EQ_STR(jstr(cJSON_GetObjectItemCaseSensitive(doc, "right"), "path"), g_path[2]);
    CHECK_EQ_STR(jstr(doc, "verdict"), "MISMATCH");
    cJSON_Delete(doc);
    tt_diff_free(d);
}

static void errors(void)
{
    char *text = (char *)"untouched";
    CHECK_STATUS(tt_diff_json(NULL, NULL, &text), TT_E_INVAL);
    CHECK(text == NULL);
    tt_diff *d = NULL;
    tt_filter *lf = tt_filter_new(), *rf = tt_filter_new();
    CHECK_STATUS(tt_filter_add(lf, "phase=nothing", NULL, 0), TT_OK);
    CHECK_STATUS(tt_filter_add(rf, "phase=decode0", NULL, 0), TT_OK);
    CHECK_STATUS(tt_diff_run(&d, g_path[2], lf, NULL, rf, NULL), TT_E_NOTFOUND);
    text = (char *)"untouched";
    CHECK_STATUS(tt_diff_json(d, NULL, &text), TT_E_STATE);
    CHECK(text == NULL);
    CHECK_STATUS(tt_diff_json(d, NULL, NULL), TT_E_INVAL);
    tt_diff_free(d);
    tt_filter_free(lf);
    tt_filter_free(rf);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: test_diff_json DIR\n");
        return 2;
    }
    mkdir(argv[1], 0755);
    const char *names[3] = {"a.tt", "b.tt", "one.tt"};
    for (int i = 0; i < 3; i++)
        snprintf(g_path[i], sizeof g_path[i], "%s/%s", argv[1], names[i]);
    write_trace(0, "decode0", 0.0f);
    write_trace(1, "decode0", 0.5f);
    write_trace(2, "prefill_last", 0.0f);
    two_files();
    one_file_defaults();
    errors();
    return tt_test_exit();
}
