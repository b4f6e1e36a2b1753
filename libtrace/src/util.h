/*
 * util.h — small internal helpers shared by libtrace's modules: message formatting, clocks, list parsing
 * (comma lists of names and of integer ranges, as used by filters and environment variables), a string
 * interning table, growable arrays, and large buffers. Nothing here is API.
 */
#ifndef TT_UTIL_H
#define TT_UTIL_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include "tt/common.h"

#define TT_ERRMSG_SIZE 512

/* Formats into buf (size TT_ERRMSG_SIZE) and returns code, so error paths read `return tt_seterr(...)`. */
int tt_seterr(char *buf, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

uint64_t tt_now_ns(void);       /* CLOCK_REALTIME, ns */
uint64_t tt_monotonic_ns(void); /* CLOCK_MONOTONIC, ns */

char *tt_strdup(const char *s);

/* An inclusive integer range list: "0,1,2,4,8", "0-3,8", "all" (= everything). */
typedef struct tt_range_list {
    int all;
    size_t n;
    int64_t (*r)[2];
} tt_range_list;

/*! tt_range_list_parse() : parses text into l (freed with tt_range_list_free). Negative numbers are allowed
 *  ("-1", "-1--1" is not: ranges are "A-B" with A <= B and A >= 0 unless single). @return : TT_OK or TT_E_PARSE
 *  with a message in err (TT_ERRMSG_SIZE) naming the position. */
int tt_range_list_parse(const char *text, tt_range_list *l, char *err);
int tt_range_list_has(const tt_range_list *l, int64_t v);
void tt_range_list_free(tt_range_list *l);

/* A comma list of names ("attn_out,mlp_out"); empty items are an error. */
typedef struct tt_name_list {
    size_t n;
    char **names;
} tt_name_list;

int tt_name_list_parse(const char *text, tt_name_list *l, char *err);
int tt_name_list_has(const tt_name_list *l, const char *name);
void tt_name_list_free(tt_name_list *l);

/* Parses a whole decimal integer in [lo, hi]. @return : TT_OK or TT_E_PARSE. */
int tt_parse_i64(const char *s, int64_t lo, int64_t hi, int64_t *out);

/* String interning: each distinct string gets a dense id (0, 1, ...) in first-use order. */
typedef struct tt_intern {
    char **strs;
    size_t n, cap;
    uint32_t *slots; /* open addressing: id + 1, 0 = empty */
    size_t nslots;
} tt_intern;

void tt_intern_init(tt_intern *t);
void tt_intern_free(tt_intern *t);
/*! tt_intern_add() : the id of s (len bytes), adding it when new. @return : TT_OK, TT_E_NOMEM or TT_E_LIMIT
 *  (more than max strings). */
int tt_intern_add(tt_intern *t, const char *s, size_t len, size_t max, uint32_t *id);
/*! tt_intern_find() : the id of s, or -1. */
int64_t tt_intern_find(const tt_intern *t, const char *s, size_t len);

/* The position of x in v[0..n) (sorted, increasing), or SIZE_MAX when it is not there. */
size_t tt_sorted_find(const uint64_t *v, size_t n, uint64_t x);

/* Grows *p (elements of esize) to hold at least need elements; doubles. @return : TT_OK or TT_E_NOMEM. */
int tt_grow(void **p, size_t *cap, size_t need, size_t esize);

/*! tt_alloc_big() : malloc() for buffers that are filled and refilled many times (tensor copies, decode buffers).
 *  From 2 MiB on, the buffer is aligned to 2 MiB and asks for transparent huge pages where the system has them
 *  (madvise MADV_HUGEPAGE, a hint): filling it for the first time then costs one page fault per 2 MiB instead of
 *  one per 4 KiB, which on a virtual machine is most of the cost of a first fill, and the TLB misses less.
 *  free() frees it (the advice stays with those pages if the allocator reuses them; no allocator setting is
 *  changed). @return : the buffer, or NULL when out of memory. */
void *tt_alloc_big(size_t n);

#endif /* TT_UTIL_H */
