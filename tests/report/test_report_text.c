/*
 * test_report_text.c — unit tests of tracereport's escaping and number formatting (tools/tracereport/text.c):
 * every output format gets its hostile cases (markup, pipes, tabs, newlines, backticks, quotes, control characters
 * and invalid UTF-8), and the word count behind the 25-word limit of evidence snippets.
 */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "text.h"
#include "tt_test.h"

typedef void (*put_fn)(FILE *f, const char *s);

/* the output of put(s) as a string (static buffer) */
static const char *render(put_fn put, const char *s)
{
    static char out[1024];
    rp_mem m;
    if (rp_mem_open(&m) != 0)
        return "(oom)";
    put(m.f, s);
    char *t = rp_mem_take(&m);
    snprintf(out, sizeof out, "%s", t ? t : "(oom)");
    free(t);
    return out;
}

static void test_html(void)
{
    CHECK_EQ_STR(render(rp_put_html, "<script>alert('x')</script>"),
                 "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;");
    CHECK_EQ_STR(render(rp_put_html, "a&b \"q\""), "a&amp;b &quot;q&quot;");
    CHECK_EQ_STR(render(rp_put_html, "line\nnext\ttab"), "line next tab");
    CHECK_EQ_STR(render(rp_put_html_pre, "line\nnext"), "line\nnext");
    CHECK_EQ_STR(render(rp_put_html, "bad\xff\xfe"), "bad\xEF\xBF\xBD\xEF\xBF\xBD");   /* invalid UTF-8 */
    CHECK_EQ_STR(render(rp_put_html, "ctl\x01"), "ctl\xEF\xBF\xBD");                  /* control character */
    CHECK_EQ_STR(render(rp_put_html, "\xC3\xA9t\xC3\xA9 \xE2\x82\x80"), "\xC3\xA9t\xC3\xA9 \xE2\x82\x80");
    CHECK_EQ_STR(render(rp_put_html, "\xC0\xAF"), "\xEF\xBF\xBD\xEF\xBF\xBD");         /* overlong '/' */
    CHECK_EQ_STR(render(rp_put_html, "\xED\xA0\x80"), "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD"); /* surrogate */
    CHECK_EQ_STR(render(rp_put_html, NULL), "");
}

static void test_markdown(void)
{
    CHECK_EQ_STR(render(rp_put_md, "q_post_rope"), "q_post_rope"); /* intraword underscores stay readable */
    CHECK_EQ_STR(render(rp_put_md, "_x_"), "\\_x\\_");
    CHECK_EQ_STR(render(rp_put_md, "a|b"), "a\\|b");
    CHECK_EQ_STR(render(rp_put_md, "<b>x</b>"), "\\<b>x\\</b>");
    CHECK_EQ_STR(render(rp_put_md, "*[a](u)* `c` ~s~ &amp; $x\\"), "\\*\\[a\\](u)\\* \\`c\\` \\~s\\~ \\&amp; \\$x\\\\");
    CHECK_EQ_STR(render(rp_put_md, "two\nlines\ttab"), "two lines tab");
    CHECK_EQ_STR(render(rp_put_md_code, "plain"), "`plain`");
    CHECK_EQ_STR(render(rp_put_md_code, "a`b"), "``a`b``");
    CHECK_EQ_STR(render(rp_put_md_code, "`x``"), "``` `x`` ```");
}

static void test_tsv(void)
{
    CHECK_EQ_STR(render(rp_put_tsv, "a\tb\nc\rd\\e"), "a\\tb\\nc\\rd\\\\e");
    CHECK_EQ_STR(render(rp_put_tsv, "p0|<script>"), "p0|<script>"); /* TSV has no markup */
    CHECK(strchr(render(rp_put_tsv, "x\x02y"), '\x02') == NULL);
}

static void test_json(void)
{
    CHECK_EQ_STR(render(rp_put_json_str, "q\"\\\n\t"), "\"q\\\"\\\\\\n\\t\"");
    CHECK_EQ_STR(render(rp_put_json_str, "<`>&"), "\"\\u003c\\u0060\\u003e\\u0026\"");
    CHECK_EQ_STR(render(rp_put_json_str, "\x01"), "\"\\u0001\"");
    CHECK_EQ_STR(render(rp_put_json_str, "\xff"), "\"\\ufffd\"");
}

static void test_shell(void)
{
    CHECK_EQ_STR(render(rp_put_shell, "phase=decode0"), "phase=decode0");
    CHECK_EQ_STR(render(rp_put_shell, "/tmp/a b.tt"), "'/tmp/a b.tt'");
    CHECK_EQ_STR(render(rp_put_shell, "it's"), "'it'\\''s'");
    CHECK_EQ_STR(render(rp_put_shell, "$(rm -rf x)`y`"), "'$(rm -rf x)`y`'");
    CHECK_EQ_STR(render(rp_put_shell, "a\nb"), "$'a\\x0ab'");
    CHECK_EQ_STR(render(rp_put_shell, ""), "''");
}

static void test_numbers_and_words(void)
{
    char b[RP_NUM_LEN];
    CHECK_EQ_STR(rp_fmt(b, 0.28734), "0.287");
    CHECK_EQ_STR(rp_fmt(b, 3.192918e-07), "3.19e-07");
    CHECK_EQ_STR(rp_fmt(b, NAN), "n/a");
    CHECK_EQ_STR(rp_fmt(b, -INFINITY), "-inf");
    CHECK_EQ_STR(rp_fmt_prec(b, 1.0 / 3.0, 6), "0.333333");
    CHECK_EQ_INT(rp_word_count("{\"a\": 1, \"b\": \"x y\"}"), 5);
    CHECK_EQ_INT(rp_word_count("  "), 0);
    CHECK_EQ_INT(rp_word_count(NULL), 0);
}

int main(void)
{
    test_html();
    test_markdown();
    test_tsv();
    test_json();
    test_shell();
    test_numbers_and_words();
    return tt_test_failures ? 1 : 0;
}
