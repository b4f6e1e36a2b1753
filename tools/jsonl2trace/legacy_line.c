/*
 * legacy_line.c — one legacy JSONL line to a tt_record (see legacy_line.h for the fields and why the parser is
 * our own). The JSON grammar is RFC 8259's, plus the literals NaN, Infinity and -Infinity that Python writes;
 * nested arrays and objects are accepted (and skipped) in unknown fields, up to a depth limit so that a hostile
 * line cannot exhaust the stack. Every error names its column (1-based, in bytes).
 */
#define _POSIX_C_SOURCE 200809L
#include "legacy_line.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tt/dtype.h"

#define MAX_DEPTH 64          /* nesting of skipped values */
#define MAX_NUMBER_CHARS 400  /* a longer number token is refused rather than copied */
#define MAX_STRING_BYTES 65536 /* the trace format's limit on a key string */

enum field_id {
    F_EVENT, F_PROMPT, F_PHASE, F_POINT, F_LAYER, F_STEP, F_TOKEN, F_LTI, F_POS, F_SEQLEN, F_HASH, F_MIN, F_MAX,
    F_MEAN, F_RANK, F_DTYPE, F_SHAPE, F_ABSMAX, F_L2, F_NAN, F_INF, F_SHARD_KIND, F_SHARD_DIM, F_SHARD_INDEX,
    F_SHARD_COUNT, F_COUNT
};

static const char *const field_names[F_COUNT] = {
    "event", "prompt_id", "phase", "point", "layer", "step", "token_id", "logical_tok_idx", "pos_id", "seq_len",
    "hash", "min", "max", "mean", "rank", "dtype", "shape", "absmax", "l2", "nan_count", "inf_count", "shard_kind",
    "shard_dim", "shard_index", "shard_count"};

enum value_type { V_STRING, V_NUMBER, V_NONFINITE, V_TRUE, V_FALSE, V_NULL, V_ARRAY, V_OBJECT };

typedef struct value {
    int type;
    size_t start, end; /* the token's bytes in the line */
    const char *str;   /* V_STRING: decoded, NUL-terminated, in the arena */
    size_t str_len;
    double nonfinite;  /* V_NONFINITE: NAN, INFINITY or -INFINITY */
} value;

typedef struct jp {
    const char *s;
    size_t n, i;
    legacy_parser *p;
    char *err;
    size_t errlen;
} jp;

static int fail_at(jp *j, size_t pos, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail_at(jp *j, size_t pos, const char *fmt, ...)
{
    int k = snprintf(j->err, j->errlen, ":%zu: ", pos + 1);
    if (k < 0 || (size_t)k >= j->errlen)
        return LEGACY_ERROR;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(j->err + k, j->errlen - (size_t)k, fmt, ap);
    va_end(ap);
    return LEGACY_ERROR;
}

static int fail(jp *j, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(jp *j, const char *fmt, ...)
{
    int k = snprintf(j->err, j->errlen, ": ");
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(j->err + k, j->errlen - (size_t)k, fmt, ap);
    va_end(ap);
    return LEGACY_ERROR;
}

/* A character for messages: printable ASCII as is, others as a hex byte. */
static const char *show_char(unsigned char c, char buf[8])
{
    if (c >= 0x21 && c < 0x7f)
        snprintf(buf, 8, "'%c'", c);
    else
        snprintf(buf, 8, "0x%02x", c);
    return buf;
}

static void skip_ws(jp *j)
{
    while (j->i < j->n && (j->s[j->i] == ' ' || j->s[j->i] == '\t' || j->s[j->i] == '\r' || j->s[j->i] == '\n'))
        j->i++;
}

static int at(const jp *j, char c) { return j->i < j->n && j->s[j->i] == c; }

/* ---- strings ------------------------------------------------------------------------------------------------ */

static int hex4(const char *s, unsigned *out)
{
    unsigned v = 0;
    for (int k = 0; k < 4; k++) {
        char c = s[k];
        v <<= 4;
        if (c >= '0' && c <= '9')
            v |= (unsigned)(c - '0');
        else if (c >= 'a' && c <= 'f')
            v |= (unsigned)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F')
            v |= (unsigned)(c - 'A' + 10);
        else
            return 0;
    }
    *out = v;
    return 1;
}

static char *put_utf8(char *d, unsigned cp)
{
    if (cp < 0x80) {
        *d++ = (char)cp;
    } else if (cp < 0x800) {
        *d++ = (char)(0xc0 | (cp >> 6));
        *d++ = (char)(0x80 | (cp & 0x3f));
    } else if (cp < 0x10000) {
        *d++ = (char)(0xe0 | (cp >> 12));
        *d++ = (char)(0x80 | ((cp >> 6) & 0x3f));
        *d++ = (char)(0x80 | (cp & 0x3f));
    } else {
        *d++ = (char)(0xf0 | (cp >> 18));
        *d++ = (char)(0x80 | ((cp >> 12) & 0x3f));
        *d++ = (char)(0x80 | ((cp >> 6) & 0x3f));
        *d++ = (char)(0x80 | (cp & 0x3f));
    }
    return d;
}

/* Length of a valid UTF-8 sequence at s (at most avail bytes), 0 when invalid. */
static size_t utf8_len(const unsigned char *s, size_t avail)
{
    unsigned c = s[0], cp, min;
    size_t n;
    if (c >= 0xc2 && c <= 0xdf)
        n = 2, min = 0x80;
    else if (c >= 0xe0 && c <= 0xef)
        n = 3, min = 0x800;
    else if (c >= 0xf0 && c <= 0xf4)
        n = 4, min = 0x10000;
    else
        return 0;
    if (n > avail)
        return 0;
    cp = c & (0x3fu >> (n - 1));
    for (size_t i = 1; i < n; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        cp = (cp << 6) | (s[i] & 0x3fu);
    }
    return (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) ? 0 : n;
}

/* An escape sequence at s[i] == '\\'; appends the character at *d. */
static int parse_escape(jp *j, char **d)
{
    size_t start = j->i;
    if (j->i + 1 >= j->n)
        return fail_at(j, start, "unterminated string");
    char c = j->s[j->i + 1];
    const char *simple = "\"\\/bfnrt", *to = "\"\\/\b\f\n\r\t";
    const char *k = strchr(simple, c);
    if (c && k) {
        *(*d)++ = to[k - simple];
        j->i += 2;
        return 0;
    }
    unsigned cp, lo;
    if (c != 'u' || j->i + 6 > j->n || !hex4(j->s + j->i + 2, &cp))
        return fail_at(j, start, "bad escape sequence in a string");
    j->i += 6;
    if (cp >= 0xdc00 && cp <= 0xdfff)
        return fail_at(j, start, "lone low surrogate \\u%04x in a string", cp);
    if (cp >= 0xd800 && cp <= 0xdbff) {
        if (j->i + 6 > j->n || j->s[j->i] != '\\' || j->s[j->i + 1] != 'u' || !hex4(j->s + j->i + 2, &lo) ||
            lo < 0xdc00 || lo > 0xdfff)
            return fail_at(j, start, "high surrogate \\u%04x without its low surrogate", cp);
        cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
        j->i += 6;
    }
    if (cp == 0)
        return fail_at(j, start, "\\u0000 is not allowed in a string");
    *d = put_utf8(*d, cp);
    return 0;
}

/* A string at s[i] == '"', decoded into the arena (room was made for the whole line). */
static int parse_string(jp *j, value *v)
{
    legacy_parser *p = j->p;
    v->type = V_STRING;
    v->start = j->i++;
    char *d0 = p->arena + p->arena_len, *d = d0;
    for (;;) {
        if (j->i >= j->n)
            return fail_at(j, v->start, "unterminated string");
        unsigned char c = (unsigned char)j->s[j->i];
        if (c == '"') {
            j->i++;
            break;
        }
        if (c == '\\') {
            if (parse_escape(j, &d) != 0)
                return LEGACY_ERROR;
        } else if (c < 0x20) {
            return fail_at(j, j->i, "control character 0x%02x in a string (it must be escaped)", c);
        } else if (c < 0x80) {
            *d++ = (char)c;
            j->i++;
        } else {
            size_t k = utf8_len((const unsigned char *)j->s + j->i, j->n - j->i);
            if (!k)
                return fail_at(j, j->i, "invalid UTF-8 in a string");
            memcpy(d, j->s + j->i, k);
            d += k;
            j->i += k;
        }
    }
    *d = '\0';
    v->end = j->i;
    v->str = d0;
    v->str_len = (size_t)(d - d0);
    p->arena_len += v->str_len + 1;
    return 0;
}

/* ---- numbers and literals --------------------------------------------------------------------------------- */

static int is_digit(char c) { return c >= '0' && c <= '9'; }

/* A JSON number: -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)? */
static int parse_number(jp *j, value *v)
{
    const char *s = j->s;
    size_t i = j->i, n = j->n;
    v->type = V_NUMBER;
    v->start = i;
    if (i < n && s[i] == '-')
        i++;
    if (i >= n || !is_digit(s[i]))
        return fail_at(j, v->start, "malformed number");
    if (s[i] == '0' && i + 1 < n && is_digit(s[i + 1]))
        return fail_at(j, v->start, "malformed number (leading zero)");
    while (i < n && is_digit(s[i]))
        i++;
    if (i < n && s[i] == '.') {
        i++;
        if (i >= n || !is_digit(s[i]))
            return fail_at(j, v->start, "malformed number (no digit after '.')");
        while (i < n && is_digit(s[i]))
            i++;
    }
    if (i < n && (s[i] == 'e' || s[i] == 'E')) {
        i++;
        if (i < n && (s[i] == '+' || s[i] == '-'))
            i++;
        if (i >= n || !is_digit(s[i]))
            return fail_at(j, v->start, "malformed number (no digit in the exponent)");
        while (i < n && is_digit(s[i]))
            i++;
    }
    v->end = j->i = i;
    return 0;
}

static int literal(jp *j, const char *word)
{
    size_t k = strlen(word);
    if (j->n - j->i >= k && memcmp(j->s + j->i, word, k) == 0) {
        j->i += k;
        return 1;
    }
    return 0;
}

static int parse_value(jp *j, value *v, int depth);

/* An array or object at s[i], skipped (its contents are validated, not kept). */
static int skip_container(jp *j, value *v, int depth)
{
    char open = j->s[j->i], close = open == '[' ? ']' : '}';
    v->type = open == '[' ? V_ARRAY : V_OBJECT;
    v->start = j->i++;
    if (depth >= MAX_DEPTH)
        return fail_at(j, v->start, "values nested more than %d deep", MAX_DEPTH);
    skip_ws(j);
    if (at(j, close)) {
        j->i++;
        v->end = j->i;
        return 0;
    }
    for (;;) {
        value inner;
        skip_ws(j);
        if (open == '{') {
            if (!at(j, '"'))
                return fail_at(j, j->i, "expected a field name in quotes");
            if (parse_string(j, &inner) != 0)
                return LEGACY_ERROR;
            skip_ws(j);
            if (!at(j, ':'))
                return fail_at(j, j->i, "expected ':' after a field name");
            j->i++;
            skip_ws(j);
        }
        if (parse_value(j, &inner, depth + 1) != 0)
            return LEGACY_ERROR;
        skip_ws(j);
        if (at(j, ',')) {
            j->i++;
            continue;
        }
        if (at(j, close)) {
            j->i++;
            v->end = j->i;
            return 0;
        }
        return fail_at(j, j->i, "expected ',' or '%c'", close);
    }
}

static int parse_value(jp *j, value *v, int depth)
{
    if (j->i >= j->n)
        return fail_at(j, j->i, "expected a value, found the end of the line");
    char c = j->s[j->i], cb[8];
    v->start = j->i;
    if (c == '"')
        return parse_string(j, v);
    if (c == '[' || c == '{')
        return skip_container(j, v, depth);
    if (c == '-' && literal(j, "-Infinity")) {
        v->type = V_NONFINITE, v->nonfinite = -INFINITY;
    } else if (c == '-' || is_digit(c)) {
        return parse_number(j, v);
    } else if (literal(j, "true")) {
        v->type = V_TRUE;
    } else if (literal(j, "false")) {
        v->type = V_FALSE;
    } else if (literal(j, "null")) {
        v->type = V_NULL;
    } else if (literal(j, "NaN")) {
        v->type = V_NONFINITE, v->nonfinite = NAN;
    } else if (literal(j, "Infinity")) {
        v->type = V_NONFINITE, v->nonfinite = INFINITY;
    } else {
        return fail_at(j, j->i, "unexpected %s where a value should be", show_char((unsigned char)c, cb));
    }
    v->end = j->i;
    return 0;
}

/* ---- field conversions ------------------------------------------------------------------------------------ */

static const char *type_name(int t)
{
    static const char *const names[] = {"a string", "a number", "a number", "true", "false", "null", "an array",
                                        "an object"};
    return names[t];
}

static int wrong_type(jp *j, const value *v, int f, const char *want)
{
    return fail_at(j, v->start, "field \"%s\" must be %s, not %s", field_names[f], want, type_name(v->type));
}

/* Is the number token an integer (no fraction, no exponent)? */
static int token_is_integer(const jp *j, const value *v)
{
    for (size_t k = v->start; k < v->end; k++)
        if (j->s[k] == '.' || j->s[k] == 'e' || j->s[k] == 'E')
            return 0;
    return 1;
}

static int to_i32(jp *j, const value *v, int f, int32_t *out)
{
    if (v->type != V_NUMBER)
        return wrong_type(j, v, f, "an integer");
    size_t len = v->end - v->start;
    if (!token_is_integer(j, v) || len > 12)
        return fail_at(j, v->start, "field \"%s\": %.*s is not a 32-bit integer", field_names[f],
                       (int)(len > 40 ? 40 : len), j->s + v->start);
    char buf[16];
    memcpy(buf, j->s + v->start, len);
    buf[len] = '\0';
    long long x = strtoll(buf, NULL, 10);
    if (x < INT32_MIN || x > INT32_MAX)
        return fail_at(j, v->start, "field \"%s\": %s is out of the 32-bit range", field_names[f], buf);
    if (x < -1) /* -1 is the legacy engine's "not given"; no field of the key is otherwise negative */
        return fail_at(j, v->start, "field \"%s\": %s is out of range (-1 = not given, otherwise 0 or more)",
                       field_names[f], buf);
    *out = (int32_t)x;
    return 0;
}

/* Decimal digits [s, s+len) to a u64, exactly; 0 on overflow or a non-digit. */
static int digits_u64(const char *s, size_t len, uint64_t *out)
{
    uint64_t x = 0;
    if (len == 0)
        return 0;
    for (size_t k = 0; k < len; k++) {
        if (!is_digit(s[k]))
            return 0;
        unsigned d = (unsigned)(s[k] - '0');
        if (x > (UINT64_MAX - d) / 10)
            return 0;
        x = x * 10 + d;
    }
    *out = x;
    return 1;
}

static int to_u64(jp *j, const value *v, int f, uint64_t *out)
{
    if (v->type != V_NUMBER)
        return wrong_type(j, v, f, "an unsigned integer");
    size_t len = v->end - v->start;
    if (!digits_u64(j->s + v->start, len, out))
        return fail_at(j, v->start, "field \"%s\": %.*s is not an unsigned 64-bit integer", field_names[f],
                       (int)(len > 40 ? 40 : len), j->s + v->start);
    return 0;
}

/* The hash: a bare unsigned integer (the legacy form), or a string of decimal digits or 0x + hex digits. */
static int to_hash(jp *j, const value *v, uint64_t *out)
{
    if (v->type == V_NUMBER)
        return to_u64(j, v, F_HASH, out);
    if (v->type != V_STRING)
        return wrong_type(j, v, F_HASH, "an unsigned 64-bit integer");
    const char *s = v->str;
    if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X') && v->str_len > 2 && v->str_len <= 18) {
        uint64_t x = 0;
        size_t k = 2;
        for (; k < v->str_len; k++) {
            unsigned d;
            char c = s[k];
            if (is_digit(c))
                d = (unsigned)(c - '0');
            else if ((c | 0x20) >= 'a' && (c | 0x20) <= 'f')
                d = (unsigned)((c | 0x20) - 'a' + 10);
            else
                break;
            x = x << 4 | d;
        }
        if (k == v->str_len) {
            *out = x;
            return 0;
        }
    } else if (digits_u64(s, v->str_len, out)) {
        return 0;
    }
    return fail_at(j, v->start, "field \"hash\": \"%.40s\" is not an unsigned 64-bit integer", s);
}

static int to_double(jp *j, const value *v, int f, double *out)
{
    if (v->type == V_NONFINITE) {
        *out = v->nonfinite;
        return 0;
    }
    if (v->type == V_NULL) { /* null: unknown, the value NaN stands for in statistics */
        *out = NAN;
        return 0;
    }
    if (v->type != V_NUMBER)
        return wrong_type(j, v, f, "a number");
    size_t len = v->end - v->start;
    if (len > MAX_NUMBER_CHARS)
        return fail_at(j, v->start, "field \"%s\": number of %zu characters is too long", field_names[f], len);
    char buf[MAX_NUMBER_CHARS + 1];
    memcpy(buf, j->s + v->start, len);
    buf[len] = '\0';
    errno = 0;
    *out = strtod(buf, NULL); /* the C locale: tools never call setlocale() */
    if (errno == ERANGE && isinf(*out)) /* underflow to 0 or a subnormal is a value; overflow is not */
        return fail_at(j, v->start, "field \"%s\": %.40s is out of the range of a double", field_names[f], buf);
    return 0;
}

static int to_string(jp *j, const value *v, int f, const char **out)
{
    if (v->type != V_STRING)
        return wrong_type(j, v, f, "a string");
    if (v->str_len > MAX_STRING_BYTES)
        return fail_at(j, v->start, "field \"%s\": %zu bytes is over the %d-byte limit", field_names[f],
                       v->str_len, MAX_STRING_BYTES);
    *out = v->str;
    return 0;
}

/* shape: an array of unsigned integers, at most TT_MAX_DIMS. */
static int parse_shape(jp *j, tt_record *rec)
{
    size_t start = j->i;
    if (!at(j, '['))
        return fail_at(j, start, "field \"shape\" must be an array of integers");
    j->i++;
    rec->ndim = 0;
    skip_ws(j);
    if (at(j, ']')) {
        j->i++;
        return 0;
    }
    for (;;) {
        value v;
        skip_ws(j);
        if (parse_value(j, &v, MAX_DEPTH) != 0)
            return LEGACY_ERROR;
        if (rec->ndim == TT_MAX_DIMS)
            return fail_at(j, v.start, "field \"shape\": more than %d dimensions", TT_MAX_DIMS);
        if (to_u64(j, &v, F_SHAPE, &rec->shape[rec->ndim]) != 0)
            return LEGACY_ERROR;
        rec->ndim++;
        skip_ws(j);
        if (at(j, ',')) {
            j->i++;
            continue;
        }
        if (at(j, ']')) {
            j->i++;
            return 0;
        }
        return fail_at(j, j->i, "expected ',' or ']' in \"shape\"");
    }
}

static int field_id(const char *name)
{
    for (int f = 0; f < F_COUNT; f++)
        if (strcmp(field_names[f], name) == 0)
            return f;
    return -1;
}

/* Stores the value of known field f into the result. */
static int set_field(jp *j, int f, const value *v, legacy_result *out)
{
    tt_record *r = &out->rec;
    tt_key *k = &r->key;
    int32_t *ints[F_COUNT] = {0};
    ints[F_LAYER] = &k->layer, ints[F_STEP] = &k->step, ints[F_TOKEN] = &k->token_id;
    ints[F_LTI] = &k->logical_tok_idx, ints[F_POS] = &k->pos_id, ints[F_SEQLEN] = &k->rows, ints[F_RANK] = &k->rank;
    ints[F_SHARD_DIM] = &k->shard_dim, ints[F_SHARD_INDEX] = &k->shard_index, ints[F_SHARD_COUNT] = &k->shard_count;
    double *dbl[F_COUNT] = {0};
    dbl[F_MIN] = &r->stats.min, dbl[F_MAX] = &r->stats.max, dbl[F_MEAN] = &r->stats.mean;
    dbl[F_ABSMAX] = &r->stats.absmax, dbl[F_L2] = &r->stats.l2;
    switch (f) {
    case F_EVENT:
        return to_string(j, v, f, &out->event);
    case F_PROMPT:
        return to_string(j, v, f, &k->prompt_id);
    case F_PHASE:
        return to_string(j, v, f, &k->phase);
    case F_POINT:
        return to_string(j, v, f, &k->point);
    case F_TOKEN:
    case F_LTI:
        if (v->type == V_NULL)
            return 0; /* stays TT_UNSET */
        return to_i32(j, v, f, ints[f]);
    case F_HASH:
        if (v->type == V_NULL)
            return 0;
        r->flags |= TT_REC_HAS_HASH;
        return to_hash(j, v, &r->hash);
    case F_NAN:
        return to_u64(j, v, f, &r->stats.nan_count);
    case F_INF:
        return to_u64(j, v, f, &r->stats.inf_count);
    case F_SHARD_KIND: {
        const char *name = NULL;
        if (to_string(j, v, f, &name) != 0)
            return LEGACY_ERROR;
        if (tt_shard_kind_from_name(name, &k->shard_kind) != TT_OK)
            return fail_at(j, v->start, "field \"shard_kind\": \"%.40s\" is not none, split or partial", name);
        return 0;
    }
    case F_DTYPE: {
        const char *name = NULL;
        if (to_string(j, v, f, &name) != 0)
            return LEGACY_ERROR;
        if (tt_dtype_from_name(name, &r->dtype) != TT_OK && strcmp(name, "unknown") != 0)
            return fail_at(j, v->start, "field \"dtype\": unknown dtype \"%.40s\"", name);
        return 0;
    }
    default:
        if (ints[f])
            return to_i32(j, v, f, ints[f]);
        return to_double(j, v, f, dbl[f]);
    }
}

/* Checks that hold for the record as a whole, once every field is read. */
static int check_record(jp *j, uint32_t seen, legacy_result *out)
{
    static const int required[] = {F_PROMPT, F_PHASE, F_POINT, F_LAYER, F_STEP, F_POS, F_SEQLEN};
    tt_record *r = &out->rec;
    for (size_t q = 0; q < sizeof required / sizeof required[0]; q++)
        if (!(seen & (1u << required[q])))
            return fail(j, "missing field \"%s\"", field_names[required[q]]);
    if (!r->key.point[0])
        return fail(j, "field \"point\" is empty");
    int nstats = !!(seen & (1u << F_MIN)) + !!(seen & (1u << F_MAX)) + !!(seen & (1u << F_MEAN));
    if (nstats != 0 && nstats != 3)
        return fail(j, "min, max and mean go together (%s given without the others)",
                    (seen & (1u << F_MIN)) ? ((seen & (1u << F_MAX)) ? "min and max" : "min")
                                            : (seen & (1u << F_MAX)) ? "max" : "mean");
    if (nstats == 3)
        r->flags |= TT_REC_HAS_STATS;
    uint32_t extra_stats = (1u << F_ABSMAX) | (1u << F_L2) | (1u << F_NAN) | (1u << F_INF);
    if (nstats == 0 && (seen & extra_stats))
        return fail(j, "absmax, l2, nan_count and inf_count need min, max and mean");
    if (r->ndim > 0 && r->dtype == TT_DTYPE_UNKNOWN)
        return fail(j, "field \"shape\" needs a \"dtype\"");
    uint64_t elems, bytes;
    size_t es = tt_dtype_size(r->dtype);
    if (tt_shape_elems(r->ndim, r->shape, es ? es : 1, &elems, &bytes) != TT_OK)
        return fail(j, "field \"shape\": the tensor would be too large");
    uint32_t shard_fields = (1u << F_SHARD_DIM) | (1u << F_SHARD_INDEX) | (1u << F_SHARD_COUNT);
    if (!(seen & (1u << F_SHARD_KIND)) && (seen & shard_fields))
        return fail(j, "shard_dim, shard_index and shard_count need \"shard_kind\"");
    char why[160];
    if (r->key.shard_kind == TT_SHARD_SPLIT && !(seen & (1u << F_SHAPE)))
        return fail(j, "a \"split\" shard needs the \"shape\" its shard_dim refers to");
    if (tt_key_shard_check(&r->key, r->ndim, why, sizeof why) != TT_OK)
        return fail(j, "%s", why);
    return LEGACY_RECORD;
}

static void reset_result(legacy_result *out)
{
    memset(out, 0, sizeof *out);
    tt_key k = TT_KEY_INIT;
    k.rank = 0; /* a line without a rank is rank 0, whatever rank the importing process has */
    out->rec.key = k;
    out->rec.dtype = TT_DTYPE_UNKNOWN;
}

static int make_room(legacy_parser *p, size_t len)
{
    size_t need = len + 16; /* decoded strings never outgrow their text; +1 NUL per string, strings >= 2 bytes */
    p->arena_len = 0;
    if (p->arena_cap >= need)
        return 0;
    char *a = realloc(p->arena, need);
    if (!a)
        return -1;
    p->arena = a;
    p->arena_cap = need;
    return 0;
}

/* The members of the top-level object; the opening '{' is consumed. */
static int parse_members(jp *j, legacy_result *out, uint32_t *seen)
{
    skip_ws(j);
    if (at(j, '}')) {
        j->i++;
        return 0;
    }
    for (;;) {
        value key, v;
        skip_ws(j);
        if (!at(j, '"'))
            return fail_at(j, j->i, "expected a field name in quotes");
        if (parse_string(j, &key) != 0)
            return LEGACY_ERROR;
        skip_ws(j);
        if (!at(j, ':'))
            return fail_at(j, j->i, "expected ':' after the field name \"%.40s\"", key.str);
        j->i++;
        skip_ws(j);
        int f = field_id(key.str);
        if (f >= 0 && (*seen & (1u << f)))
            return fail_at(j, key.start, "field \"%s\" appears twice", field_names[f]);
        if (f == F_SHAPE) {
            if (parse_shape(j, &out->rec) != 0)
                return LEGACY_ERROR;
        } else {
            if (parse_value(j, &v, 1) != 0)
                return LEGACY_ERROR;
            if (f >= 0 && set_field(j, f, &v, out) != 0)
                return LEGACY_ERROR;
        }
        if (f >= 0)
            *seen |= 1u << f;
        else if (out->nunknown < LEGACY_MAX_UNKNOWN)
            out->unknown[out->nunknown++] = key.str;
        skip_ws(j);
        if (at(j, ',')) {
            j->i++;
            continue;
        }
        if (at(j, '}')) {
            j->i++;
            return 0;
        }
        if (j->i >= j->n)
            return fail_at(j, j->i, "the line ends inside the object (missing '}')");
        char cb[8];
        return fail_at(j, j->i, "expected ',' or '}', found %s", show_char((unsigned char)j->s[j->i], cb));
    }
}

int legacy_parse_line(legacy_parser *p, const char *line, size_t len, legacy_result *out, char *err, size_t errlen)
{
    jp j = {line, len, 0, p, err, errlen};
    reset_result(out);
    err[0] = '\0';
    skip_ws(&j);
    if (j.i == j.n)
        return LEGACY_BLANK;
    if (make_room(p, len) != 0)
        return LEGACY_NOMEM;
    if (!at(&j, '{'))
        return fail_at(&j, j.i, "expected '{': each line must be one JSON object");
    j.i++;
    uint32_t seen = 0;
    if (parse_members(&j, out, &seen) != 0)
        return LEGACY_ERROR;
    skip_ws(&j);
    if (j.i < j.n)
        return fail_at(&j, j.i, "text after the end of the object");
    if (!(seen & (1u << F_EVENT)))
        return fail(&j, "missing field \"event\"");
    if (strcmp(out->event, "stage_trace") != 0)
        return LEGACY_OTHER;
    return check_record(&j, seen, out);
}

void legacy_parser_free(legacy_parser *p)
{
    free(p->arena);
    p->arena = NULL;
    p->arena_cap = p->arena_len = 0;
}
