/*
 * test_filter_util.c — the internal helpers the writer and filters stand on: integer range lists, name lists,
 * string interning, integer parsing.
 */
#include "tt_test.h"
#include "util.h"

int main(void)
{
    char err[TT_ERRMSG_SIZE];
    tt_range_list l;
    CHECK_STATUS(tt_range_list_parse("0,1,2,4,8", &l, err), TT_OK);
    CHECK(tt_range_list_has(&l, 4) && !tt_range_list_has(&l, 3) && !tt_range_list_has(&l, -1));
    tt_range_list_free(&l);
    CHECK_STATUS(tt_range_list_parse("0-3,8,-1", &l, err), TT_OK);
    CHECK(tt_range_list_has(&l, 2) && tt_range_list_has(&l, 8) && tt_range_list_has(&l, -1) && !tt_range_list_has(&l, 5));
    tt_range_list_free(&l);
    CHECK_STATUS(tt_range_list_parse("all", &l, err), TT_OK);
    CHECK(tt_range_list_has(&l, 123456));
    tt_range_list_free(&l);
    const char *bad[] = {"", "1,,2", "3-1", "a", "1-", "1,2x", ",1"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        CHECK_STATUS(tt_range_list_parse(bad[i], &l, err), TT_E_PARSE);
        CHECK(strstr(err, "character") != NULL);
    }
    tt_name_list n;
    CHECK_STATUS(tt_name_list_parse("attn_out,mlp_out", &n, err), TT_OK);
    CHECK_EQ_INT(n.n, 2);
    CHECK(tt_name_list_has(&n, "mlp_out") && !tt_name_list_has(&n, "mlp"));
    tt_name_list_free(&n);
    CHECK_STATUS(tt_name_list_parse("a,,b", &n, err), TT_E_PARSE);
    CHECK_STATUS(tt_name_list_parse("", &n, err), TT_E_PARSE);

    tt_intern t;
    tt_intern_init(&t);
    uint32_t id, id2;
    char name[32];
    for (int i = 0; i < 5000; i++) {
        snprintf(name, sizeof name, "point_%d", i);
        CHECK_STATUS(tt_intern_add(&t, name, strlen(name), 1u << 20, &id), TT_OK);
        CHECK_EQ_INT(id, i);
    }
    CHECK_STATUS(tt_intern_add(&t, "point_1234", 10, 1u << 20, &id2), TT_OK);
    CHECK_EQ_INT(id2, 1234);
    CHECK_EQ_INT(tt_intern_find(&t, "point_77", 8), 77);
    CHECK_EQ_INT(tt_intern_find(&t, "point_7", 6), -1); /* a prefix is not a match */
    CHECK_STATUS(tt_intern_add(&t, "new", 3, 5000, &id), TT_E_LIMIT);
    tt_intern_free(&t);

    int64_t v;
    CHECK_STATUS(tt_parse_i64("42", 0, 100, &v), TT_OK);
    CHECK_EQ_INT(v, 42);
    CHECK_STATUS(tt_parse_i64("101", 0, 100, &v), TT_E_PARSE);
    CHECK_STATUS(tt_parse_i64("4x", 0, 100, &v), TT_E_PARSE);
    CHECK_STATUS(tt_parse_i64("", 0, 100, &v), TT_E_PARSE);
    return tt_test_exit();
}
