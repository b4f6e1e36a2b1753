/*
 * legacy_line.h — parsing one line of legacy JSONL (a "stage_trace" record) into a tt_record.
 *
 * A small JSON parser of its own rather than cJSON, for three reasons: the hash is an unsigned 64-bit integer
 * that a double (cJSON's only number type) cannot hold above 2^53, so its digits must be read from the text;
 * the legacy probe was Python, whose json module writes NaN, Infinity and -Infinity for non-finite statistics,
 * which cJSON rejects; and every error must say at which column of the line it is.
 *
 * The fields (see schemas/stage_trace.schema.json):
 *   required  event (string), prompt_id, phase, point (strings; point not empty), layer, step, pos_id, seq_len
 *             (32-bit integers; -1 = not given, so -2 and below are out of range)
 *   optional  token_id, logical_tok_idx (32-bit integers; absent, null or -1 = not given), hash (unsigned
 *             64-bit integer; also accepted as a string of decimal digits or "0x" + hex, for writers that quote
 *             big integers), min, max, mean (numbers, NaN/Infinity/-Infinity or null = NaN; all three or none)
 *   extras    (as trace2jsonl --extra writes them) rank (integer), dtype (name), shape (array of integers),
 *             absmax, l2 (numbers), nan_count, inf_count (unsigned integers); absmax..inf_count need min/max/mean
 *   shards    (as trace2jsonl writes them for shards) shard_kind ("none", "split", "partial"), shard_dim,
 *             shard_index, shard_count (32-bit integers); the others need shard_kind, and the layout must obey
 *             tt_key's rules (tt_key_shard_check; a split needs the shape)
 * Numbers must fit a double: a literal beyond its range (1e999) is an error, not an infinity (Infinity is).
 * Other fields are ignored and reported to the caller by name. A line whose event is not "stage_trace" is
 * well-formed but not a record (LEGACY_OTHER).
 *
 * Ownership: the strings of the parsed record point into the parser's arena, valid until the next call.
 */
#ifndef TT_LEGACY_LINE_H
#define TT_LEGACY_LINE_H

#include <stddef.h>

#include "tt/writer.h"

#define LEGACY_MAX_UNKNOWN 8 /* unknown field names reported per line */

typedef struct legacy_parser {
    char *arena; /* decoded strings */
    size_t arena_cap, arena_len;
} legacy_parser;

typedef struct legacy_result {
    tt_record rec;                              /* key, flags, hash, stats, dtype, shape */
    const char *event;                          /* the event field */
    const char *unknown[LEGACY_MAX_UNKNOWN];    /* names of ignored fields */
    int nunknown;
} legacy_result;

enum {
    LEGACY_RECORD = 0, /* a stage_trace record, in out->rec */
    LEGACY_OTHER = 1,  /* a well-formed line with another event: not a record */
    LEGACY_BLANK = 2,  /* only white space */
    LEGACY_ERROR = -1, /* malformed: err holds "COLUMN: message" or ": message" (see below) */
    LEGACY_NOMEM = -2  /* out of memory for the line's strings: not the line's fault */
};

/*! legacy_parse_line() : parses line[0..len) (without its newline). On LEGACY_ERROR, err holds the place and
 *  the problem: ":23: expected ':' after the field name" (column 23) or ": missing field \"seq_len\"" for
 *  problems of the record as a whole, so the caller prints "FILE:LINE" then err. */
int legacy_parse_line(legacy_parser *p, const char *line, size_t len, legacy_result *out, char *err, size_t errlen);

/*! legacy_parser_free() : frees the arena. */
void legacy_parser_free(legacy_parser *p);

#endif
