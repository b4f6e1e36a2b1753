/*
 * npy2tt.c — writes a trace from NumPy .npy files and a JSON manifest, through the public writer API. The
 * reference engine of the accuracy tests (torchref.py) saves each captured tensor as one .npy file and lists
 * them, with their key fields, in manifest.json; this program turns the lot into one trace:
 *
 *   {"meta": {"engine": "torchref", ...},
 *    "records": [{"file": "r0000.npy", "dtype": "bf16", "prompt_id": "ctx200", "phase": "decode0",
 *                 "point": "attn_out", "layer": 0, "step": 1, "token_id": 17, "logical_tok_idx": 199,
 *                 "pos_id": 199, "rows": 1}, ...]}
 *
 * Every .npy is read and checked before the trace is opened, so an input error leaves no partial trace. Records
 * are written in manifest order (capture order). `file` is relative to the manifest's folder. `dtype`
 * is the trace dtype: f32 ('<f4'), f64 ('<f8'), f16 ('<f2'), i32 ('<i4'), or bf16, stored in the .npy as its
 * raw bits ('<u2', NumPy has no bfloat16). Integer key fields left out are TT_UNSET, `rank` is 0.
 *
 * Usage: npy2tt MANIFEST.json OUT.tt   (OUT.tt is replaced). Exit 0 ok, 2 usage or input error (the message
 * names the file and what is wrong), 3 the trace could not be written.
 */
#include <cjson/cJSON.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "tt/writer.h"

#define NPY_MAX_BYTES ((size_t)1 << 32)  /* one tensor; the accuracy traces hold a few MiB */
#define MANIFEST_MAX_BYTES ((size_t)1 << 28)

static const char *prog = "npy2tt";

typedef struct npy {
    char *buf;        /* the whole file */
    const void *data; /* the elements, C order */
    size_t nbytes;
    char descr[8];
    int ndim;
    uint64_t shape[TT_MAX_DIMS];
} npy;

/* Parses the header of a version 1..3 .npy file; 0 on success, else -1 with a message naming the file. */
static int npy_parse(npy *a, const char *path, size_t len)
{
    const unsigned char *b = (const unsigned char *)a->buf;
    if (len < 10 || memcmp(b, "\x93NUMPY", 6) != 0 || b[6] < 1 || b[6] > 3) {
        fprintf(stderr, "%s: %s: not a .npy file (bad magic or version)\n", prog, path);
        return -1;
    }
    size_t hlen, hoff;
    if (b[6] == 1) {
        hlen = (size_t)b[8] | (size_t)b[9] << 8;
        hoff = 10;
    } else {
        if (len < 12) {
            fprintf(stderr, "%s: %s: truncated header\n", prog, path);
            return -1;
        }
        hlen = (size_t)b[8] | (size_t)b[9] << 8 | (size_t)b[10] << 16 | (size_t)b[11] << 24;
        hoff = 12;
    }
    if (hlen > len - hoff) {
        fprintf(stderr, "%s: %s: header of %zu bytes past the end of the file\n", prog, path, hlen);
        return -1;
    }
    char hdr[4096];
    if (hlen >= sizeof hdr) {
        fprintf(stderr, "%s: %s: header of %zu bytes is too long\n", prog, path, hlen);
        return -1;
    }
    memcpy(hdr, a->buf + hoff, hlen);
    hdr[hlen] = '\0';
    const char *d = strstr(hdr, "'descr':");
    const char *fo = strstr(hdr, "'fortran_order':");
    const char *sh = strstr(hdr, "'shape':");
    if (!d || !fo || !sh || sscanf(d, "'descr': '%7[^']'", a->descr) != 1) {
        fprintf(stderr, "%s: %s: header without descr, fortran_order or shape: %s\n", prog, path, hdr);
        return -1;
    }
    if (strncmp(fo, "'fortran_order': False", 22) != 0) {
        fprintf(stderr, "%s: %s: Fortran-ordered arrays are not supported\n", prog, path);
        return -1;
    }
    const char *p = strchr(sh, '(');
    if (!p) {
        fprintf(stderr, "%s: %s: malformed shape in header: %s\n", prog, path, hdr);
        return -1;
    }
    p++;
    a->ndim = 0;
    uint64_t elems = 1;
    for (;;) {
        while (*p == ' ' || *p == ',')
            p++;
        if (*p == ')')
            break;
        char *end;
        unsigned long long v = strtoull(p, &end, 10);
        if (end == p || a->ndim == TT_MAX_DIMS || v > (1ull << 40)) {
            fprintf(stderr, "%s: %s: malformed or too large shape in header: %s\n", prog, path, hdr);
            return -1;
        }
        a->shape[a->ndim++] = v;
        elems *= v;
        p = end;
    }
    a->data = a->buf + hoff + hlen;
    a->nbytes = len - hoff - hlen;
    size_t esize = (size_t)(a->descr[2] - '0');
    if (strlen(a->descr) != 3 || (a->descr[0] != '<' && a->descr[0] != '|') || esize < 1 || esize > 8 ||
        elems * esize != a->nbytes) {
        fprintf(stderr, "%s: %s: descr '%s' and shape do not match the %zu data bytes\n", prog, path, a->descr,
                a->nbytes);
        return -1;
    }
    return 0;
}

/* The trace dtype named NAME and the .npy descr it must be stored as; TT_DTYPE_UNKNOWN if NAME is unknown. */
static tt_dtype dtype_of(const char *name, const char **descr)
{
    static const struct {
        const char *name, *descr;
        tt_dtype dt;
    } map[] = {{"f32", "<f4", TT_F32}, {"bf16", "<u2", TT_BF16}, {"f16", "<f2", TT_F16},
               {"f64", "<f8", TT_F64}, {"i32", "<i4", TT_I32}};
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
        if (strcmp(name, map[i].name) == 0) {
            *descr = map[i].descr;
            return map[i].dt;
        }
    return TT_DTYPE_UNKNOWN;
}

static int int_field(const cJSON *r, const char *name)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(r, name);
    return cJSON_IsNumber(v) ? v->valueint : TT_UNSET;
}

static const char *str_field(const cJSON *r, const char *name)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(r, name);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* Reads and checks the .npy of record I of the manifest (folder DIR) into *a. 0 ok, else 2 (message printed). */
static int load_one(npy *a, tt_dtype *dt, const cJSON *r, int i, const char *dir, const char *mpath)
{
    const char *file = str_field(r, "file"), *dtn = str_field(r, "dtype"), *point = str_field(r, "point");
    const char *want = NULL;
    *dt = dtn ? dtype_of(dtn, &want) : TT_DTYPE_UNKNOWN;
    if (!file || !point || *dt == TT_DTYPE_UNKNOWN) {
        fprintf(stderr, "%s: %s: record %d: needs string fields file, point and dtype (f32, bf16, f16, f64, i32)\n",
                prog, mpath, i);
        return 2;
    }
    char path[8192];
    if ((size_t)snprintf(path, sizeof path, "%s/%s", dir, file) >= sizeof path) {
        fprintf(stderr, "%s: %s: record %d: file name too long\n", prog, mpath, i);
        return 2;
    }
    size_t len = 0;
    a->buf = cli_slurp(path, NPY_MAX_BYTES, "a .npy file", &len); /* exits 2 naming the file if unreadable */
    if (npy_parse(a, path, len) != 0)
        return 2;
    if (strcmp(a->descr + 1, want + 1) != 0) {
        fprintf(stderr, "%s: %s: descr '%s' but record %d of %s says dtype %s (stored as '%s')\n", prog, path,
                a->descr, i, mpath, dtn, want);
        return 2;
    }
    return 0;
}

/* Writes record I (its tensor already loaded) to W. 0 ok, 3 write error (message printed). */
static int put_one(tt_writer *w, const cJSON *r, int i, const npy *a, tt_dtype dt)
{
    tt_key k = TT_KEY_INIT;
    k.prompt_id = str_field(r, "prompt_id");
    k.phase = str_field(r, "phase");
    k.point = str_field(r, "point");
    k.layer = int_field(r, "layer");
    k.step = int_field(r, "step");
    k.token_id = int_field(r, "token_id");
    k.logical_tok_idx = int_field(r, "logical_tok_idx");
    k.pos_id = int_field(r, "pos_id");
    k.rows = int_field(r, "rows");
    k.rank = 0;
    if (tt_put(w, &k, dt, a->ndim, a->shape, a->data) < 0) {
        fprintf(stderr, "%s: record %d (%s): %s\n", prog, i, k.point, tt_writer_errmsg(w));
        return 3;
    }
    return 0;
}

int main(int argc, char **argv)
{
    cli_init(argv[0]);
    if (argc != 3) {
        fprintf(stderr, "usage: npy2tt MANIFEST.json OUT.tt\n");
        return 2;
    }
    const char *mpath = argv[1];
    size_t len = 0;
    char *text = cli_slurp(mpath, MANIFEST_MAX_BYTES, "a JSON manifest", &len);
    cJSON *m = cJSON_ParseWithLength(text, len);
    free(text);
    const cJSON *recs = m ? cJSON_GetObjectItemCaseSensitive(m, "records") : NULL;
    if (!cJSON_IsArray(recs)) {
        fprintf(stderr, "%s: %s: not a JSON object with a \"records\" array\n", prog, mpath);
        cJSON_Delete(m);
        return 2;
    }
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", mpath);
    char *slash = strrchr(dir, '/');
    if (slash)
        *slash = '\0';
    else
        snprintf(dir, sizeof dir, ".");

    int n = cJSON_GetArraySize(recs), rc = 0, loaded = 0;
    npy *arrays = calloc((size_t)n + 1, sizeof *arrays);
    tt_dtype *dts = calloc((size_t)n + 1, sizeof *dts);
    if (!arrays || !dts) {
        fprintf(stderr, "%s: out of memory\n", prog);
        rc = 4;
    }
    const cJSON *r;
    cJSON_ArrayForEach(r, recs)
    {
        if (rc)
            break;
        rc = load_one(&arrays[loaded], &dts[loaded], r, loaded, dir, mpath);
        loaded++;
    }

    tt_writer *w = NULL;
    if (!rc) {
        tt_writer_options o = TT_WRITER_OPTIONS_INIT;
        o.ignore_env = 1;
        o.overwrite = 1;
        o.threads = 1;
        if (tt_writer_open(&w, argv[2], &o) != TT_OK) {
            fprintf(stderr, "%s: %s\n", prog, w ? tt_writer_errmsg(w) : "out of memory");
            rc = 3;
        }
    }
    const cJSON *meta = NULL, *todo = NULL, *kv;
    if (!rc) {
        meta = cJSON_GetObjectItemCaseSensitive(m, "meta");
        todo = recs;
    }
    cJSON_ArrayForEach(kv, meta)
    {
        if (cJSON_IsString(kv) && tt_writer_set_meta(w, kv->string, kv->valuestring) != TT_OK) {
            fprintf(stderr, "%s: %s: meta %s: %s\n", prog, mpath, kv->string, tt_writer_errmsg(w));
            rc = 2;
        }
    }
    int i = 0;
    cJSON_ArrayForEach(r, todo)
    {
        if (rc)
            break;
        rc = put_one(w, r, i, &arrays[i], dts[i]);
        i++;
    }
    if (w && tt_writer_close(w) != TT_OK && !rc) {
        fprintf(stderr, "%s: %s\n", prog, tt_writer_errmsg(w));
        rc = 3;
    }
    tt_writer_free(w);
    for (int j = 0; j < loaded; j++)
        free(arrays[j].buf);
    free(arrays);
    free(dts);
    cJSON_Delete(m);
    return rc;
}
