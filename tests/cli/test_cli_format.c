/*
 * test_cli_format.c — the number and string formatters of tools/common (cli.h) that trace2jsonl and tracedump
 * write JSON with. cli_fmt_double() must give the shortest decimal that reads back exactly, so it is checked
 * against a brute-force reference (printf with 1..17 digits, strtod back) on millions of doubles: random bit
 * patterns, values that came from float32/bf16 (min/max of tensors), means (full doubles), short decimals
 * like the legacy JSONL's, and the edges (powers of two, subnormals, extremes).
 */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "tt/dtype.h"
#include "tt_test.h"

static uint64_t rnd(uint64_t *s)
{
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* The number of significant digits of the shortest printf("%.*e") that reads back. */
static int ref_digits(double v, char *digits)
{
    char buf[64];
    for (int p = 1; p <= 17; p++) {
        snprintf(buf, sizeof buf, "%.*e", p - 1, v);
        if (strtod(buf, NULL) == v) {
            int n = 0;
            for (const char *q = buf; *q && *q != 'e'; q++)
                if (*q >= '0' && *q <= '9')
                    digits[n++] = *q;
            while (n > 1 && digits[n - 1] == '0')
                n--;
            return n;
        }
    }
    return 17;
}

static long checked, shorter, mismatches;

static void check_double(double v)
{
    char out[CLI_NUM_MAX + 1];
    size_t n = cli_fmt_double(out, v);
    out[n] = 0;
    if (!isfinite(v))
        return;
    double back = strtod(out, NULL);
    checked++;
    if (back != v || signbit(back) != signbit(v)) {
        if (mismatches++ < 20)
            fprintf(stderr, "does not read back: %.17g -> %s\n", v, out);
        tt_test_failures++;
        return;
    }
    if (v == 0)
        return;
    char rd[24], md[24];
    int rn = ref_digits(fabs(v), rd), e;
    int mn = cli_shortest_digits(v, md, &e);
    if (mn > rn || (mn == rn && memcmp(md, rd, (size_t)mn) != 0)) {
        /* the reference rounds to nearest, so at equal length it is the nearest and we must agree */
        if (mismatches++ < 20)
            fprintf(stderr, "%.17g: ours %.*s (%d digits), reference %.*s (%d digits)\n", v, mn, md, mn, rn, rd, rn);
        tt_test_failures++;
    } else if (mn < rn) {
        shorter++; /* below a power of two the interval is lopsided; we find the shorter one, as Ryu does */
    }
}

static void check_str(double v, const char *want)
{
    char out[CLI_NUM_MAX + 1];
    size_t n = cli_fmt_double(out, v);
    out[n] = 0;
    CHECK_EQ_STR(out, want);
}

static void check_ints(void)
{
    char b[CLI_NUM_MAX + 1];
    b[cli_fmt_u64(b, 0)] = 0;
    CHECK_EQ_STR(b, "0");
    b[cli_fmt_u64(b, 18446744073709551615ull)] = 0;
    CHECK_EQ_STR(b, "18446744073709551615");
    b[cli_fmt_u64(b, 10153995460507501903ull)] = 0;
    CHECK_EQ_STR(b, "10153995460507501903");
    b[cli_fmt_i64(b, -1)] = 0;
    CHECK_EQ_STR(b, "-1");
    b[cli_fmt_i64(b, INT64_MIN)] = 0;
    CHECK_EQ_STR(b, "-9223372036854775808");
    b[cli_fmt_i64(b, 37)] = 0;
    CHECK_EQ_STR(b, "37");
    uint64_t s = 1;
    for (int i = 0; i < 100000; i++) {
        uint64_t v = rnd(&s) >> (rnd(&s) % 64);
        char ref[32];
        snprintf(ref, sizeof ref, "%llu", (unsigned long long)v);
        b[cli_fmt_u64(b, v)] = 0;
        if (strcmp(b, ref) != 0) {
            CHECK_EQ_STR(b, ref);
            break;
        }
    }
}

static void check_json_strings(void)
{
    cli_buf b = {0};
    cli_buf_json_str(&b, "p0_short");
    cli_buf_json_str(&b, "a\"b\\c\n\x01");
    cli_buf_json_str(&b, "caf\xc3\xa9 \xff\xe2\x82");
    cli_buf_put(&b, "", 1);
    CHECK_EQ_STR(b.p, "\"p0_short\"\"a\\\"b\\\\c\\n\\u0001\"\"caf\xc3\xa9 \\ufffd\\ufffd\\ufffd\"");
    cli_buf_free(&b);
}

int main(int argc, char **argv)
{
    long n = argc > 1 ? atol(argv[1]) : 40000; /* 40000 x 6 kinds + edges: a few seconds */
    check_ints();
    check_json_strings();
    /* exact strings: the legacy seeds' values and the notation rules */
    check_str(-0.00517679, "-0.00517679");
    check_str(0.00719859, "0.00719859");
    check_str(-0.0000471849, "-0.0000471849");
    check_str(-0.00000471849, "-4.71849e-06");
    check_str(0.0, "0.0");
    check_str(-0.0, "-0.0");
    check_str(38.0, "38.0");
    check_str(1e16, "10000000000000000.0");
    check_str(1e17, "1e+17");
    check_str(1.5e300, "1.5e+300");
    check_str(0.1, "0.1");
    check_str(0.3, "0.3");
    check_str(0.1 + 0.2, "0.30000000000000004");
    check_str(1.0 / 3, "0.3333333333333333");
    check_str(5e-324, "5e-324");
    check_str(1.7976931348623157e308, "1.7976931348623157e+308");
    check_str(NAN, "NaN");
    check_str(INFINITY, "Infinity");
    check_str(-INFINITY, "-Infinity");
    check_str((double)3.4028234663852886e38f, "3.4028234663852886e+38");
    check_str((double)0.1f, "0.10000000149011612");

    uint64_t s = 42;
    for (long i = 0; i < n; i++) {
        uint64_t bits = rnd(&s);
        double v;
        memcpy(&v, &bits, sizeof v);
        check_double(v); /* any double, all exponents */
        float f = (float)((double)(int64_t)rnd(&s) / 9.2e18 * pow(10, (double)(rnd(&s) % 16) - 10));
        check_double((double)f);                                       /* float-derived (min/max) */
        uint32_t h = (uint32_t)tt_bf16_from_f32(f) << 16;
        float bf;
        memcpy(&bf, &h, sizeof bf);
        check_double((double)bf);                                      /* bf16-derived */
        check_double((double)f / 3.0 + 1e-9);                          /* means */
        double dec = (double)(int64_t)(rnd(&s) % 1000000000) * pow(10, -(double)(rnd(&s) % 14)); /* short decimals */
        check_double(dec);
        check_double(-dec);
    }
    for (int e = -1074; e <= 1023; e++) { /* powers of two and their neighbours */
        double p = ldexp(1.0, e);
        check_double(p);
        check_double(nextafter(p, 0));
        check_double(nextafter(p, INFINITY));
    }
    fprintf(stderr, "checked %ld doubles, %ld shorter than the printf reference, %ld mismatches\n", checked,
            shorter, mismatches);
    return tt_test_exit();
}
