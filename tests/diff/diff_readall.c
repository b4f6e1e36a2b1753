/*
 * diff_readall.c — the baseline of tracediff's throughput benchmark (not a test): decompresses every tensor of
 * one or more traces with tt_reader_read (frame checksums and content hash verified, as tracediff's reads are),
 * on N threads, each with its own reader per file and one reusable buffer, records taken from a shared counter.
 * usage: diff_readall [--threads N] FILE...
 */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tt/reader.h"

static char **g_files;
static int g_nfiles;
static uint64_t g_counts[64];
static uint64_t g_total;
static atomic_uint_fast64_t g_next;
static atomic_uint_fast64_t g_bytes;
static atomic_int g_err;

static void *work(void *arg)
{
    (void)arg;
    tt_reader *r[64] = {0};
    uint8_t *buf = NULL;
    size_t cap = 0;
    for (int f = 0; f < g_nfiles; f++)
        if (tt_reader_open(&r[f], g_files[f], NULL) != TT_OK) {
            atomic_store(&g_err, 1);
            return NULL;
        }
    for (;;) {
        uint64_t i = atomic_fetch_add(&g_next, 1);
        if (i >= g_total)
            break;
        int f = 0;
        while (i >= g_counts[f])
            i -= g_counts[f++];
        tt_record rec;
        if (tt_reader_record(r[f], i, &rec) != TT_OK || !(rec.flags & TT_REC_HAS_PAYLOAD))
            continue;
        if (rec.nbytes > cap) {
            free(buf);
            cap = rec.nbytes;
            buf = malloc(cap);
        }
        if (tt_reader_read(r[f], i, buf, cap) != TT_OK) {
            fprintf(stderr, "%s\n", tt_reader_errmsg(r[f]));
            atomic_store(&g_err, 1);
        }
        atomic_fetch_add(&g_bytes, rec.nbytes);
    }
    for (int f = 0; f < g_nfiles; f++)
        tt_reader_close(r[f]);
    free(buf);
    return NULL;
}

int main(int argc, char **argv)
{
    int threads = 1, i = 1;
    if (argc > 2 && !strcmp(argv[1], "--threads")) {
        threads = atoi(argv[2]);
        i = 3;
    }
    g_files = argv + i;
    g_nfiles = argc - i;
    if (g_nfiles < 1 || g_nfiles > 64 || threads < 1 || threads > 256) {
        fprintf(stderr, "usage: diff_readall [--threads N] FILE...\n");
        return 2;
    }
    for (int f = 0; f < g_nfiles; f++) {
        tt_reader *r = NULL;
        if (tt_reader_open(&r, g_files[f], NULL) != TT_OK) {
            fprintf(stderr, "%s\n", r ? tt_reader_errmsg(r) : g_files[f]);
            return 2;
        }
        g_counts[f] = tt_reader_count(r);
        g_total += g_counts[f];
        tt_reader_close(r);
    }
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    pthread_t tid[256];
    for (int t = 0; t < threads; t++)
        pthread_create(&tid[t], NULL, work, NULL);
    for (int t = 0; t < threads; t++)
        pthread_join(tid[t], NULL);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double s = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) * 1e-9;
    double gb = (double)atomic_load(&g_bytes) / 1e9;
    printf("read %.3f GB of tensors in %.3f s with %d threads: %.3f GB/s\n", gb, s, threads, gb / s);
    return atomic_load(&g_err) ? 1 : 0;
}
