/*
 * tracedump.h — what the parts of tracedump share: the parsed command line and one entry point per mode.
 *   summary.c  the default one-screen summary (text or --json)
 *   listing.c  --list, one line per record (text or JSON lines)
 *   show.c     --show, a tensor's values printed like numpy, with --slice
 *   export.c   --export-npy and --export-safetensors
 *   check.c    --verify and --recover
 * Every mode reads the trace only through libtrace's public API.
 */
#ifndef TRACEDUMP_H
#define TRACEDUMP_H

#include <stdint.h>

#include "cli.h"
#include "tt/reader.h"

typedef enum td_mode {
    MODE_SUMMARY, MODE_LIST, MODE_SHOW, MODE_VERIFY, MODE_RECOVER, MODE_NPY, MODE_SAFETENSORS
} td_mode;

typedef struct td_options {
    td_mode mode;
    const char *mode_flag;   /* the option that chose the mode, for messages */
    const char *input;       /* the trace, or the first of several, as given */
    cli_traces inputs;       /* every trace given (several are read as one, see cli.h) */
    char input_name[1024];   /* "FILE" or "FILE (+N files)", for messages */
    const char *output;      /* --recover -o FILE */
    const char *export_path; /* --export-npy / --export-safetensors */
    tt_filter *where;        /* NULL when no --where */
    int64_t show_index;      /* --show INDEX, or -1 */
    const char *slice;       /* --slice SPEC */
    uint64_t limit;          /* --limit N; UINT64_MAX = none */
    int edge;                /* --edge-items N */
    uint64_t threshold;      /* --threshold N */
    int precision;           /* --precision P */
    int json, force, quiet;
    const char *show_next;   /* the argument after a bare --show that was not an INDEX, for the message */
    cli_out *out;            /* --recover's copy, or the export file (NULL: an export into a directory) */
} td_options;

int td_summary(tt_reader *r, const td_options *o);
int td_list(tt_reader *r, const td_options *o);
int td_show(tt_reader *r, const td_options *o);
int td_verify(const td_options *o);
int td_recover(const td_options *o);
int td_export_npy(tt_reader *r, const td_options *o);
int td_export_safetensors(tt_reader *r, const td_options *o);
/*! td_npy_is_directory() : whether --export-npy PATH names a directory (it is one, or ends with '/'). */
int td_npy_is_directory(const char *path);

/* Helpers shared by the modes (tracedump.c). */

/*! td_name() : "p0_short/prefill_last/L0/attn_out" (the layer part left out for layer -1) into buf. */
const char *td_name(const tt_record *rec, char *buf, size_t len);
/*! td_shape() : "[38, 64]" into buf. */
const char *td_shape(const tt_record *rec, char *buf, size_t len);
/*! td_kind() : "full", "stats", "hash" or "meta" (neither), by what the record holds. */
const char *td_kind(const tt_record *rec);
/*! td_time() : a capture time as "2026-02-07T12:00:00.123Z" (UTC), "-" for 0. */
const char *td_time(uint64_t ns, char *buf, size_t len);
/*! td_next() : tt_reader_next() with the options' filter; dies with the reader's message on error. */
int td_next(tt_reader *r, const td_options *o, uint64_t *cursor, tt_record *rec);

#endif
