/*
 * test_tracebench.c — smoke test of the tracebench tool: runs it with tiny sizes (a few MiB, a few thousand
 * records) and --json, parses the object and checks that every documented field is there with a sane value:
 * the data read back was verified, the ratio is above 1, throughputs and memory are positive. Also checks the
 * exit codes of bad command lines. Timing is never asserted.
 *
 * Usage: test_tracebench TRACEBENCH OUTDIR
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <cjson/cJSON.h>

#include "tt_test.h"

static const char *tool;
static const char *outdir;

/* Runs "tool ARGS" (ARGS may redirect), stdout captured; returns the exit status, -1 if it did not exit. */
static int run(const char *args, char *out, size_t cap)
{
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "'%s' %s", tool, args);
    FILE *p = popen(cmd, "r");
    if (!p) {
        fprintf(stderr, "popen %s: %s\n", cmd, strerror(errno));
        return -1;
    }
    size_t n = fread(out, 1, cap - 1, p);
    out[n] = 0;
    int st = pclose(p);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* Runs the tool with --json and parses its stdout; NULL (and a failed check) when it fails. */
static cJSON *run_json(const char *args)
{
    static char out[1 << 16];
    char full[1800];
    snprintf(full, sizeof full, "%s --json", args);
    int code = run(full, out, sizeof out);
    if (code != 0)
        fprintf(stderr, "tracebench %s: exit status %d\n", full, code);
    CHECK_EQ_INT(code, 0);
    if (code != 0)
        return NULL;
    cJSON *j = cJSON_Parse(out);
    if (!j)
        fprintf(stderr, "not JSON: %s\n", out);
    CHECK(j != NULL);
    return j;
}

static double num(const cJSON *j, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, k);
    if (!cJSON_IsNumber(v)) {
        fprintf(stderr, "field %s: missing or not a number\n", k);
        tt_test_failures++;
        return NAN;
    }
    return v->valuedouble;
}

static int is_true(const cJSON *j, const char *k)
{
    return cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(j, k));
}

static void check_throughput(const cJSON *j, double tensors, int payload)
{
    CHECK(is_true(j, "verified"));
    CHECK_NEAR(num(j, "tensors"), tensors, 0);
    CHECK(num(j, "total_bytes") == num(j, "tensors") * num(j, "tensor_bytes"));
    CHECK(num(j, "write_gbps") > 0);
    CHECK(num(j, "write_s") > 0);
    CHECK(num(j, "peak_rss_mb") > 0);
    CHECK(num(j, "peak_rss_mb") >= num(j, "baseline_rss_mb"));
    CHECK(num(j, "inflight_mb") >= 1);
    CHECK(num(j, "file_bytes") > 0);
    CHECK(num(j, "records_read") == tensors);
    if (payload) {
        CHECK(num(j, "ratio") > 1.0);
        CHECK(num(j, "read_gbps") > 0);
    } else {
        /* hash/stats modes store no tensor: the file is small and there is no read throughput */
        CHECK(num(j, "ratio") > 10.0);
        CHECK(cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(j, "read_gbps")));
    }
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: %s TRACEBENCH OUTDIR\n", argv[0]);
        return 2;
    }
    tool = argv[1];
    outdir = argv[2];
    mkdir(outdir, 0755);
    char args[1024];

    /* bf16 defaults: 4 MiB of [64, 1024] tensors = 32 tensors */
    cJSON *j = run_json("--size 4M --tokens 64 --hidden 1024 --threads 2");
    if (j) {
        check_throughput(j, 32, 1);
        CHECK_EQ_STR(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(j, "dtype")), "bf16");
        /* shuffled bf16 activations compress; 1.2 leaves room for the tiny tensors' overhead */
        CHECK(num(j, "ratio") > 1.2);
        cJSON_Delete(j);
    }

    /* f32, no shuffle, level 3, small chunks, two rounds, kept trace */
    snprintf(args, sizeof args,
             "--size 3M --dtype f32 --tokens 32 --hidden 1024 --shuffle off --level 3 --chunk 64k --threads 1 "
             "--inflight 1M --repeat 2 -f --out '%s/f32.tt'", outdir);
    j = run_json(args);
    if (j) {
        check_throughput(j, 24, 1);
        CHECK_NEAR(num(j, "rounds"), 2, 0);
        CHECK_NEAR(num(j, "chunk_bytes"), 65536, 0);
        CHECK_EQ_INT(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(j, "write_gbps_runs")), 2);
        char path[1024];
        snprintf(path, sizeof path, "%s/f32.tt", outdir);
        struct stat st;
        CHECK(stat(path, &st) == 0 && (double)st.st_size == num(j, "file_bytes"));
        cJSON_Delete(j);
    }

    /* the FLOAT filter's wider form, next to the format 1.0 path in the same rounds; CPU per GiB both ways */
    j = run_json("--size 4M --tokens 64 --hidden 1024 --threads 2 --filter float --compare-shuffle");
    if (j) {
        check_throughput(j, 32, 1);
        CHECK_EQ_STR(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(j, "filter")), "float");
        CHECK(num(j, "ratio") > num(j, "shuffle_ratio") && num(j, "shuffle_ratio") > 1.2);
        CHECK(num(j, "write_cpu_s_per_gib") > 0 && num(j, "read_cpu_s_per_gib") > 0);
        CHECK(num(j, "shuffle_write_cpu_s_per_gib") > 0 && num(j, "shuffle_read_cpu_s_per_gib") > 0);
        cJSON_Delete(j);
    }

    /* --points on the kept f32 trace: every filter's ratio per point and overall */
    snprintf(args, sizeof args, "--points '%s/f32.tt' --threads 2", outdir);
    j = run_json(args);
    if (j) {
        CHECK_EQ_STR(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(j, "bench")), "points");
        CHECK(num(j, "ratio_shuffle") > 1.0 && num(j, "ratio_auto") > num(j, "ratio_shuffle"));
        CHECK(num(j, "ratio_float") > 1.0 && num(j, "ratio_auto_rank1") > 1.0);
        CHECK(num(j, "write_cpu_s_auto") > 0);
        cJSON_Delete(j);
    }

    /* capture modes without payload */
    j = run_json("--size 2M --tokens 16 --hidden 512 --mode hash");
    if (j) {
        check_throughput(j, 128, 0);
        cJSON_Delete(j);
    }
    j = run_json("--size 2M --tokens 16 --hidden 512 --mode stats --dtype f32");
    if (j) {
        check_throughput(j, 64, 0);
        cJSON_Delete(j);
    }

    /* the raw bytes, and the zstd CLI on them when it is installed */
    snprintf(args, sizeof args, "--size 2M --tokens 32 --hidden 1024 -f --save-raw '%s/raw.bin'%s", outdir,
             system("zstd --version >/dev/null 2>&1") == 0 ? " --compare-zstd" : "");
    j = run_json(args);
    if (j) {
        check_throughput(j, 32, 1);
        char path[1024];
        snprintf(path, sizeof path, "%s/raw.bin", outdir);
        struct stat st;
        CHECK(stat(path, &st) == 0 && (double)st.st_size == num(j, "total_bytes"));
        if (strstr(args, "--compare-zstd")) {
            CHECK(num(j, "zstd_ratio") > 1.0);
            CHECK(num(j, "zstd_gbps") > 0);
            CHECK(num(j, "zstd_dec_gbps") > 0);
        } else {
            fprintf(stderr, "zstd CLI not found: --compare-zstd not tested\n");
        }
        cJSON_Delete(j);
    }

    /* the open benchmark, small */
    j = run_json("--open-bench --records 3000 --small 32 --runs 3");
    if (j) {
        CHECK(is_true(j, "verified"));
        CHECK_NEAR(num(j, "records"), 3000, 0);
        CHECK_NEAR(num(j, "read_index"), 1500, 0);
        CHECK(num(j, "open_read_ms") > 0);
        CHECK(num(j, "open_read_ms_cold") > 0);
        CHECK(num(j, "open_read_ms_min") <= num(j, "open_read_ms"));
        CHECK(num(j, "open_read_ms") <= num(j, "open_read_ms_max"));
        CHECK(num(j, "puts_per_s") > 0);
        cJSON_Delete(j);
    }

    /* human output names the numbers */
    static char out[1 << 16];
    CHECK_EQ_INT(run("--size 1M --tokens 16 --hidden 256", out, sizeof out), 0);
    CHECK(strstr(out, "GB/s") != NULL && strstr(out, "ratio") != NULL && strstr(out, "verified") != NULL);

    /* bad command lines: exit 2 */
    CHECK_EQ_INT(run("--dtype f16 2>/dev/null", out, sizeof out), 2);
    CHECK_EQ_INT(run("--size lots 2>/dev/null", out, sizeof out), 2);
    CHECK_EQ_INT(run("--chunk 100 2>/dev/null", out, sizeof out), 2);
    CHECK_EQ_INT(run("--shuffle maybe 2>/dev/null", out, sizeof out), 2);
    CHECK_EQ_INT(run("--filter sideways 2>/dev/null", out, sizeof out), 2);
    CHECK_EQ_INT(run("--no-such-option 2>/dev/null", out, sizeof out), 2);
    CHECK_EQ_INT(run("--open-bench --compare-zstd 2>/dev/null", out, sizeof out), 2);
    CHECK_EQ_INT(run("--help", out, sizeof out), 0);
    CHECK(strstr(out, "Exit status") != NULL);
    return tt_test_exit();
}
