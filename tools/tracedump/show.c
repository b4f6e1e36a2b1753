/*
 * show.c — tracedump --show: a tensor's values, printed the way numpy prints an array (nested brackets, a
 * common number format per tensor, big tensors summarised with "..." keeping --edge-items values at each
 * edge), optionally restricted by --slice with numpy's slicing rules. bf16, f16 and the fp8 types are decoded
 * with tt_to_f64(); integers are printed exactly.
 *
 * Only the rows that will be printed are read: the leading dimension is read with tt_reader_read_rows() in at
 * most two runs (the head and the tail when summarising), so showing the corner of a huge tensor inflates only
 * the payload frames that hold it. --json prints every selected value (no summarising) as nested arrays.
 */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tracedump.h"
#include "tt/dtype.h"

#define LINE_WIDTH 75 /* numpy's default linewidth */

typedef struct dim_sel {
    int64_t start, stop, step; /* in the tensor's index space, normalised: 0 <= start, step > 0 */
    uint64_t count;            /* elements selected */
    int drop;                  /* an integer index: the dimension disappears from the result, as in numpy */
} dim_sel;

typedef struct run {
    uint64_t first, n;   /* result indices [first, first+n) of the leading dimension */
    uint64_t orig_first; /* the tensor row of result index `first` */
    uint8_t *buf;        /* rows orig_first .. orig_first + (n-1)*step */
} run;

typedef struct view {
    tt_record rec;
    size_t esize;
    dim_sel sel[TT_MAX_DIMS];
    int rdim;                     /* dimensions of the result */
    int rmap[TT_MAX_DIMS];        /* result dimension -> tensor dimension */
    uint64_t rcount[TT_MAX_DIMS]; /* result shape */
    uint64_t total;               /* result elements */
    uint64_t stride[TT_MAX_DIMS]; /* tensor strides, in elements */
    run runs[2];
    int nruns;
    int summarise, edge;
    /* number format, decided from every value that is printed */
    int is_int, sci, int_w, frac_w, exp_w, nonfinite_w, precision;
} view;

/* ---- slices ------------------------------------------------------------------------------------------------- */

static int parse_i64(const char *s, size_t n, int64_t *out)
{
    char buf[32];
    if (n == 0 || n >= sizeof buf)
        return 0;
    memcpy(buf, s, n);
    buf[n] = '\0';
    char *end;
    long long v = strtoll(buf, &end, 10);
    if (*end)
        return 0;
    *out = v;
    return 1;
}

/* One item of --slice ("3", ":", "1:", ":8", "0:8:2", "-1") for a dimension of size len. */
static void parse_item(const char *s, size_t n, uint64_t len, int d, dim_sel *sel)
{
    const char *c1 = memchr(s, ':', n);
    int64_t L = (int64_t)len;
    if (!c1) {
        int64_t i;
        if (!parse_i64(s, n, &i))
            cli_usage_error("--slice: '%.*s' is not an index or START:STOP[:STEP]", (int)n, s);
        if (i < -L || i >= L)
            cli_usage_error("--slice: index %lld is out of bounds for dimension %d of size %llu", (long long)i, d,
                            (unsigned long long)len);
        sel->start = i < 0 ? i + L : i;
        sel->stop = sel->start + 1, sel->step = 1, sel->count = 1, sel->drop = 1;
        return;
    }
    const char *rest = c1 + 1, *end = s + n;
    const char *c2 = memchr(rest, ':', (size_t)(end - rest));
    int64_t a = 0, b = L, st = 1;
    size_t na = (size_t)(c1 - s), nb = (size_t)((c2 ? c2 : end) - rest);
    if ((na && !parse_i64(s, na, &a)) || (nb && !parse_i64(rest, nb, &b)) ||
        (c2 && c2 + 1 < end && !parse_i64(c2 + 1, (size_t)(end - c2 - 1), &st)))
        cli_usage_error("--slice: '%.*s' is not START:STOP[:STEP] (integers)", (int)n, s);
    if (st <= 0)
        cli_usage_error("--slice: step %lld in '%.*s' must be positive", (long long)st, (int)n, s);
    if (a < 0)
        a += L;
    if (b < 0)
        b += L;
    a = a < 0 ? 0 : a > L ? L : a;
    b = b < 0 ? 0 : b > L ? L : b;
    sel->start = a, sel->stop = b, sel->step = st, sel->drop = 0;
    sel->count = b > a ? (uint64_t)((b - a + st - 1) / st) : 0;
}

static void parse_slice(const char *spec, view *v)
{
    const tt_record *rec = &v->rec;
    int d = 0;
    const char *s = spec ? spec : "";
    while (spec && *s) {
        const char *comma = strchr(s, ',');
        size_t n = comma ? (size_t)(comma - s) : strlen(s);
        if (d >= rec->ndim)
            cli_usage_error("--slice '%s': %d items for a tensor of %d dimension(s)", spec, d + 1, rec->ndim);
        parse_item(s, n, rec->shape[d], d, &v->sel[d]);
        d++;
        s += n + (comma ? 1 : 0);
        if (comma && !*s)
            cli_usage_error("--slice '%s': empty item at the end", spec);
    }
    for (; d < rec->ndim; d++) {
        dim_sel *x = &v->sel[d];
        x->start = 0, x->stop = (int64_t)rec->shape[d], x->step = 1, x->count = rec->shape[d], x->drop = 0;
    }
    v->rdim = 0;
    v->total = 1;
    for (d = 0; d < rec->ndim; d++) {
        v->total *= v->sel[d].count;
        if (!v->sel[d].drop) {
            v->rmap[v->rdim] = d;
            v->rcount[v->rdim++] = v->sel[d].count;
        }
    }
    uint64_t st = 1;
    for (d = rec->ndim - 1; d >= 0; d--) {
        v->stride[d] = st;
        st *= rec->shape[d];
    }
}

static void describe_slice(const view *v, char *buf, size_t len)
{
    size_t off = (size_t)snprintf(buf, len, "[");
    for (int d = 0; d < v->rec.ndim && off < len; d++) {
        const dim_sel *x = &v->sel[d];
        const char *sep = d ? ", " : "";
        if (x->drop)
            off += (size_t)snprintf(buf + off, len - off, "%s%lld", sep, (long long)x->start);
        else if (x->step == 1)
            off += (size_t)snprintf(buf + off, len - off, "%s%lld:%lld", sep, (long long)x->start, (long long)x->stop);
        else
            off += (size_t)snprintf(buf + off, len - off, "%s%lld:%lld:%lld", sep, (long long)x->start,
                                    (long long)x->stop, (long long)x->step);
    }
    if (off < len)
        snprintf(buf + off, len - off, "]");
}

/* ---- reading the rows that are printed ------------------------------------------------------------------- */

static void add_run(view *v, tt_reader *r, uint64_t first, uint64_t n)
{
    run *u = &v->runs[v->nruns++];
    const dim_sel *x = &v->sel[0];
    u->first = first, u->n = n;
    u->orig_first = (uint64_t)x->start + first * (uint64_t)x->step;
    uint64_t rows = (n - 1) * (uint64_t)x->step + 1;
    uint64_t row_bytes = v->rec.nbytes / v->rec.shape[0];
    u->buf = malloc((size_t)(rows * row_bytes) + 1);
    if (!u->buf)
        cli_die(CLI_EXIT_INTERNAL, "out of memory for %llu rows of record %llu", (unsigned long long)rows,
                (unsigned long long)v->rec.index);
    int rc = tt_reader_read_rows(r, v->rec.index, u->orig_first, rows, u->buf, (size_t)(rows * row_bytes));
    if (rc != TT_OK)
        cli_reader_die(r, rc);
}

static void read_values(view *v, tt_reader *r)
{
    v->nruns = 0;
    if (v->rec.ndim == 0) { /* a scalar: the whole tensor */
        run *u = &v->runs[v->nruns++];
        u->first = 0, u->n = 1, u->orig_first = 0;
        u->buf = malloc((size_t)v->rec.nbytes + 1);
        if (!u->buf)
            cli_die(CLI_EXIT_INTERNAL, "out of memory");
        int rc = tt_reader_read(r, v->rec.index, u->buf, (size_t)v->rec.nbytes);
        if (rc != TT_OK)
            cli_reader_die(r, rc);
        return;
    }
    uint64_t n0 = v->sel[0].count;
    if (v->total == 0)
        return;
    if (!v->sel[0].drop && v->summarise && n0 > 2 * (uint64_t)v->edge) {
        add_run(v, r, 0, (uint64_t)v->edge);
        add_run(v, r, n0 - (uint64_t)v->edge, (uint64_t)v->edge);
    } else {
        add_run(v, r, 0, n0);
    }
}

/* Loads the element at tensor index idx[] (a whole-tensor index per dimension). */
static const uint8_t *element(const view *v, const uint64_t *idx)
{
    if (v->rec.ndim == 0)
        return v->runs[0].buf;
    const run *u = &v->runs[0];
    for (int k = 0; k < v->nruns; k++)
        if (idx[0] >= v->runs[k].orig_first)
            u = &v->runs[k];
    uint64_t off = (idx[0] - u->orig_first) * v->stride[0];
    for (int d = 1; d < v->rec.ndim; d++)
        off += idx[d] * v->stride[d];
    return u->buf + off * v->esize;
}

static uint64_t load_le(const uint8_t *p, size_t n)
{
    uint64_t x = 0;
    for (size_t i = 0; i < n; i++)
        x |= (uint64_t)p[i] << (8 * i);
    return x;
}

/* An integer element, exactly (doubles cannot hold every i64). */
static int64_t int_value(const view *v, const uint8_t *p)
{
    uint64_t x = load_le(p, v->esize);
    switch (v->rec.dtype) {
    case TT_I8: return (int8_t)x;
    case TT_I16: return (int16_t)x;
    case TT_I32: return (int32_t)x;
    case TT_I64: return (int64_t)x;
    default: return (int64_t)x; /* u8 */
    }
}

static double float_value(const view *v, const uint8_t *p)
{
    double d = 0;
    tt_to_f64(v->rec.dtype, p, 1, &d);
    return d;
}

/* ---- number format --------------------------------------------------------------------------------------- */

/* Does g read back as the element f of type dt? numpy prints the shortest digits at the array's own precision. */
static int same_in_type(tt_dtype dt, float g, float f)
{
    if (dt == TT_F16)
        return tt_f16_from_f32(g) == tt_f16_from_f32(f);
    if (dt == TT_BF16)
        return tt_bf16_from_f32(g) == tt_bf16_from_f32(f);
    return g == f; /* f32 and the fp8 types, whose values are all floats */
}

/* The shortest digits of x > 0 that read back as the same element of the tensor's type. */
static int type_digits(const view *v, double x, char *dg, int *e)
{
    if (v->rec.dtype != TT_F64) {
        char buf[48];
        for (int p = 1; p <= 9; p++) {
            snprintf(buf, sizeof buf, "%.*e", p - 1, x);
            if (!same_in_type(v->rec.dtype, strtof(buf, NULL), (float)x))
                continue;
            int n = 0;
            const char *q = buf;
            for (; *q && *q != 'e'; q++)
                if (*q >= '0' && *q <= '9')
                    dg[n++] = *q;
            *e = atoi(q + 1);
            while (n > 1 && dg[n - 1] == '0')
                n--;
            return n;
        }
    }
    return cli_shortest_digits(x, dg, e);
}

/* |x| as numpy's unique mode prints it: the shortest digits, at most `precision` after the point (fixed,
 * "12.5", "3.") or precision+1 significant (scientific, "1.5e-05", "3.e+00"). Writes into buf, returns it. */
static const char *float_text(const view *v, double x, char *buf, size_t len)
{
    int prec = v->precision;
    x = fabs(x);
    char dg[24];
    int e = 0, n = 1;
    if (x == 0)
        dg[0] = '0';
    else
        n = type_digits(v, x, dg, &e);
    if (v->sci) {
        if (n > prec + 1) { /* round to prec+1 significant digits */
            char tmp[48];
            snprintf(tmp, sizeof tmp, "%.*e", prec, x);
            n = 0;
            const char *q = tmp;
            for (; *q && *q != 'e'; q++)
                if (*q >= '0' && *q <= '9')
                    dg[n++] = *q;
            e = atoi(q + 1);
            while (n > 1 && dg[n - 1] == '0')
                n--;
        }
        snprintf(buf, len, "%c.%.*se%c%02d", dg[0], n - 1, dg + 1, e < 0 ? '-' : '+', e < 0 ? -e : e);
        return buf;
    }
    int frac = n - 1 - e;
    if (frac < 0)
        frac = 0;
    if (frac > prec)
        frac = prec;
    snprintf(buf, len, "%.*f", frac, x);
    char *dot = strchr(buf, '.'), *q = buf + strlen(buf);
    if (dot) {
        while (q > dot + 1 && q[-1] == '0')
            q--;
        *q = '\0';
    } else {
        strcat(buf, ".");
    }
    return buf;
}

/* The tensor index where every walk starts: a dropped dimension (an integer index) stays at its index. */
static void start_index(const view *v, uint64_t *idx)
{
    memset(idx, 0, TT_MAX_DIMS * sizeof *idx);
    for (int d = 0; d < v->rec.ndim; d++)
        idx[d] = (uint64_t)v->sel[d].start;
}

/* Calls fn on every printed element (the summarised traversal), in order. */
typedef void (*elem_fn)(view *v, const uint8_t *p, void *ctx);

static void walk(view *v, int rd, uint64_t *idx, elem_fn fn, void *ctx)
{
    if (rd == v->rdim) {
        fn(v, element(v, idx), ctx);
        return;
    }
    int d = v->rmap[rd];
    uint64_t n = v->rcount[rd];
    for (uint64_t i = 0; i < n; i++) {
        if (v->summarise && n > 2 * (uint64_t)v->edge && i == (uint64_t)v->edge)
            i = n - (uint64_t)v->edge;
        idx[d] = (uint64_t)v->sel[d].start + i * (uint64_t)v->sel[d].step;
        walk(v, rd + 1, idx, fn, ctx);
    }
}

typedef struct measure {
    double max_abs, min_abs;
    int any_finite;
} measure;

static void measure_elem(view *v, const uint8_t *p, void *ctx)
{
    measure *m = ctx;
    char buf[64];
    if (v->is_int) {
        int w = snprintf(buf, sizeof buf, "%lld", (long long)int_value(v, p));
        if (v->rec.dtype == TT_U8)
            w = snprintf(buf, sizeof buf, "%llu", (unsigned long long)load_le(p, 1));
        if (w > v->int_w)
            v->int_w = w;
        return;
    }
    double x = float_value(v, p);
    if (!isfinite(x)) {
        int w = isnan(x) ? 3 : x < 0 ? 4 : 3;
        if (w > v->nonfinite_w)
            v->nonfinite_w = w;
        return;
    }
    double a = fabs(x);
    if (a > m->max_abs)
        m->max_abs = a;
    if (a != 0 && (!m->any_finite || m->min_abs == 0 || a < m->min_abs))
        m->min_abs = a;
    m->any_finite = 1;
}

static void widths_elem(view *v, const uint8_t *p, void *ctx)
{
    (void)ctx;
    double x = float_value(v, p);
    if (!isfinite(x))
        return;
    char buf[64];
    float_text(v, x, buf, sizeof buf);
    char *dot = strchr(buf, '.');
    char *e = strchr(buf, 'e');
    int iw = (int)(dot - buf) + (signbit(x) ? 1 : 0);
    int fw = (int)((e ? e : buf + strlen(buf)) - dot - 1);
    int ew = e ? (int)strlen(e) : 0;
    if (iw > v->int_w)
        v->int_w = iw;
    if (fw > v->frac_w)
        v->frac_w = fw;
    if (ew > v->exp_w)
        v->exp_w = ew;
}

/* numpy's rule: scientific when the largest magnitude is >= 1e8, the smallest non-zero < 1e-4, or their ratio
 * over 1e3 (the last only when something is non-zero). */
static void decide_format(view *v, int precision)
{
    v->precision = precision;
    v->is_int = !tt_dtype_is_float(v->rec.dtype);
    v->int_w = v->frac_w = v->exp_w = v->nonfinite_w = 0;
    uint64_t idx[TT_MAX_DIMS];
    start_index(v, idx);
    measure m = {0, 0, 0};
    walk(v, 0, idx, measure_elem, &m);
    if (v->is_int)
        return;
    v->sci = m.any_finite && m.max_abs != 0 &&
             (m.max_abs >= 1e8 || (m.min_abs != 0 && (m.min_abs < 1e-4 || m.max_abs / m.min_abs > 1e3)));
    walk(v, 0, idx, widths_elem, NULL);
}

/* The element as printed: right-aligned integer part, left-aligned fraction (numpy pads with spaces). */
static void format_elem(const view *v, const uint8_t *p, char *out, size_t len)
{
    if (v->is_int) {
        if (v->rec.dtype == TT_U8)
            snprintf(out, len, "%*llu", v->int_w, (unsigned long long)load_le(p, 1));
        else
            snprintf(out, len, "%*lld", v->int_w, (long long)int_value(v, p));
        return;
    }
    double x = float_value(v, p);
    int total = v->int_w + 1 + v->frac_w + v->exp_w;
    if (total < v->nonfinite_w)
        total = v->nonfinite_w;
    if (!isfinite(x)) {
        snprintf(out, len, "%*s", total, isnan(x) ? "nan" : x < 0 ? "-inf" : "inf");
        return;
    }
    char buf[64], full[96];
    float_text(v, x, buf, sizeof buf);
    if (v->sci) { /* numpy pads the mantissa with zeros in scientific notation */
        char *ep = strchr(buf, 'e');
        int fw = (int)(ep - strchr(buf, '.') - 1);
        size_t k = (size_t)snprintf(full, sizeof full, "%s%.*s", signbit(x) ? "-" : "", (int)(ep - buf), buf);
        for (int z = fw; z < v->frac_w && k + 1 < sizeof full; z++)
            full[k++] = '0';
        snprintf(full + k, sizeof full - k, "%s", ep);
    } else {
        snprintf(full, sizeof full, "%s%s", signbit(x) ? "-" : "", buf);
    }
    char *dot = strchr(full, '.');
    int pad_left = v->int_w - (int)(dot - full);
    if (pad_left < 0)
        pad_left = 0;
    snprintf(out, len, "%*s%-*s", pad_left, "", total - pad_left, full);
}

/* ---- printing ------------------------------------------------------------------------------------------------- */

typedef struct printer {
    cli_buf *b;
    size_t line_start; /* offset in b of the current line */
} printer;

static size_t column(const printer *pr) { return pr->b->len - pr->line_start; }

static void newline(printer *pr, int indent)
{
    cli_buf_puts(pr->b, "\n");
    pr->line_start = pr->b->len;
    for (int i = 0; i < indent; i++)
        cli_buf_puts(pr->b, " ");
}

static void print_dim(view *v, printer *pr, int rd, uint64_t *idx)
{
    if (rd == v->rdim) {
        char out[128];
        format_elem(v, element(v, idx), out, sizeof out);
        cli_buf_puts(pr->b, out);
        return;
    }
    int d = v->rmap[rd];
    uint64_t n = v->rcount[rd];
    int last = rd == v->rdim - 1;
    cli_buf_puts(pr->b, "[");
    for (uint64_t i = 0; i < n; i++) {
        int skip = v->summarise && n > 2 * (uint64_t)v->edge && i == (uint64_t)v->edge;
        if (i) {
            cli_buf_puts(pr->b, ",");
            if (last) {
                cli_buf_puts(pr->b, " ");
            } else {
                for (int k = 0; k < v->rdim - rd - 2; k++)
                    newline(pr, 0);
                newline(pr, rd + 1);
            }
        }
        if (skip) {
            cli_buf_puts(pr->b, "...");
            i = n - (uint64_t)v->edge - 1;
            continue;
        }
        idx[d] = (uint64_t)v->sel[d].start + i * (uint64_t)v->sel[d].step;
        if (last && column(pr) > LINE_WIDTH - 12 && i) {
            /* wrap long rows the way numpy does: the element goes to the next line, aligned under the first */
            pr->b->len--; /* the space after the comma */
            newline(pr, rd + 1);
        }
        print_dim(v, pr, rd + 1, idx);
    }
    cli_buf_puts(pr->b, "]");
}

/* Every value, no summarising, as nested JSON arrays. */
static void json_dim(view *v, cli_buf *b, int rd, uint64_t *idx)
{
    if (rd == v->rdim) {
        const uint8_t *p = element(v, idx);
        char num[CLI_NUM_MAX];
        if (v->is_int)
            cli_buf_put(b, num, v->rec.dtype == TT_U8 ? cli_fmt_u64(num, load_le(p, 1))
                                                      : cli_fmt_i64(num, int_value(v, p)));
        else
            cli_buf_put(b, num, cli_fmt_double(num, float_value(v, p)));
        return;
    }
    int d = v->rmap[rd];
    cli_buf_puts(b, "[");
    for (uint64_t i = 0; i < v->rcount[rd]; i++) {
        if (i)
            cli_buf_puts(b, ", ");
        idx[d] = (uint64_t)v->sel[d].start + i * (uint64_t)v->sel[d].step;
        json_dim(v, b, rd + 1, idx);
    }
    cli_buf_puts(b, "]");
}

static void free_runs(view *v)
{
    for (int k = 0; k < v->nruns; k++)
        free(v->runs[k].buf);
    v->nruns = 0;
}

/* Prints one record's values; returns 0, or 1 when the record has no readable tensor. */
static int show_record(tt_reader *r, const td_options *o, const tt_record *rec, cli_buf *b, int first)
{
    char name[512], shape[200], sl[300];
    td_name(rec, name, sizeof name);
    if (!(rec->flags & TT_REC_HAS_PAYLOAD) || (rec->flags & TT_REC_LOST)) {
        cli_error("%s: record %llu (%s) has no tensor to show: %s", cli_trace_name(o->input),
                  (unsigned long long)rec->index, name,
                  (rec->flags & TT_REC_LOST) ? "its payload was lost" : "it is a hash/stats-only record");
        return 1;
    }
    view v;
    memset(&v, 0, sizeof v);
    v.rec = *rec;
    v.esize = tt_dtype_size(rec->dtype);
    v.edge = o->edge;
    parse_slice(o->slice, &v);
    v.summarise = !o->json && v.total > o->threshold;
    read_values(&v, r);
    decide_format(&v, o->precision);
    uint64_t idx[TT_MAX_DIMS];
    start_index(&v, idx);
    describe_slice(&v, sl, sizeof sl);
    if (o->json) {
        cli_buf_printf(b, "{\"index\": %llu, \"name\": ", (unsigned long long)rec->index);
        cli_buf_json_str(b, name);
        cli_buf_printf(b, ", \"dtype\": \"%s\", \"shape\": %s, \"slice\": \"%s\", \"values\": ",
                       tt_dtype_name(rec->dtype), td_shape(rec, shape, sizeof shape), sl);
        if (v.total == 0 && v.rdim)
            cli_buf_puts(b, "[]");
        else
            json_dim(&v, b, 0, idx);
        cli_buf_puts(b, "}\n");
    } else {
        if (!first)
            cli_buf_puts(b, "\n");
        cli_buf_printf(b, "record %llu  %s  %s%s", (unsigned long long)rec->index, name, tt_dtype_name(rec->dtype),
                       td_shape(rec, shape, sizeof shape));
        if (o->slice) {
            char rs[200];
            tt_record shaped = *rec;
            shaped.ndim = v.rdim;
            for (int k = 0; k < v.rdim; k++)
                shaped.shape[k] = v.rcount[k];
            cli_buf_printf(b, "  slice %s -> %s", sl, td_shape(&shaped, rs, sizeof rs));
        }
        cli_buf_puts(b, "\n");
        printer pr = {b, b->len};
        if (v.total == 0 && v.rdim)
            cli_buf_puts(b, "[]");
        else
            print_dim(&v, &pr, 0, idx);
        cli_buf_puts(b, "\n");
    }
    free_runs(&v);
    return 0;
}

int td_show(tt_reader *r, const td_options *o)
{
    cli_buf b = {0};
    int failed = 0;
    uint64_t shown = 0;
    tt_record rec;
    if (o->show_index >= 0) {
        int rc = tt_reader_record(r, (uint64_t)o->show_index, &rec);
        if (rc != TT_OK)
            cli_reader_die(r, rc);
        failed += show_record(r, o, &rec, &b, 1);
        shown = 1;
    } else {
        uint64_t cursor = 0;
        while (shown < o->limit && td_next(r, o, &cursor, &rec) == 1) {
            failed += show_record(r, o, &rec, &b, shown == 0);
            shown++;
            cli_buf_write(&b, stdout, NULL);
        }
        if (!shown)
            cli_die(CLI_EXIT_USAGE, "%s: no record matches --where", cli_trace_name(o->input));
    }
    cli_buf_write(&b, stdout, NULL);
    cli_buf_free(&b);
    cli_close_out(stdout, "-");
    return failed ? CLI_EXIT_USAGE : CLI_EXIT_OK;
}
