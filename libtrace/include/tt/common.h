/*
 * tt/common.h — what every part of the tensortrace API shares: the version, the export macro, the one list of
 * status codes and their names, the record key, and the element types (dtypes).
 *
 * Conventions (the same in every tt/ header):
 *  - Functions return an int status: TT_OK (0) on success, a negative TT_E_* code on failure. A few calls
 *    return a positive informational code (documented where they do); "< 0" is always the error test.
 *  - Handles are created and freed by the library; free(NULL)-style calls on NULL are no-ops.
 *  - The library never prints, never exits and never aborts on bad input. Each handle keeps a message that says
 *    what failed and where (tt_writer_errmsg, tt_reader_errmsg, ...); tt_strerror() names a bare code.
 *  - No global mutable state: two handles never interfere, and different handles may be used from different
 *    threads at the same time.
 */
#ifndef TT_COMMON_H
#define TT_COMMON_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define TT_VERSION_MAJOR 0
#define TT_VERSION_MINOR 1
#define TT_VERSION_PATCH 0
#define TT_VERSION_STRING "0.1.0"

/* TT_API marks the exported symbols; everything else in the shared library is hidden. */
#if defined(TT_STATIC_DEFINE)
#define TT_API
#elif defined(_WIN32)
#ifdef TT_BUILDING_LIBRARY
#define TT_API __declspec(dllexport)
#else
#define TT_API __declspec(dllimport)
#endif
#else
#define TT_API __attribute__((visibility("default")))
#endif

/*
 * The one list of status codes. X(name, value, text). Values never change once released; new codes are appended.
 */
#define TT_STATUS_LIST(X)                                                                                   \
    X(TT_OK, 0, "ok")                                                                                       \
    X(TT_E_INVAL, -1, "invalid argument")                                                                   \
    X(TT_E_NOMEM, -2, "out of memory")                                                                      \
    X(TT_E_IO, -3, "input/output error")                                                                    \
    X(TT_E_NOTTRACE, -4, "not a tensortrace file")                                                          \
    X(TT_E_VERSION, -5, "unsupported format version")                                                       \
    X(TT_E_CORRUPT, -6, "corrupted data (checksum or structure)")                                           \
    X(TT_E_TRUNCATED, -7, "file is truncated")                                                              \
    X(TT_E_LIMIT, -8, "size or count exceeds a limit")                                                      \
    X(TT_E_NOTFOUND, -9, "not found")                                                                       \
    X(TT_E_RANGE, -10, "out of range")                                                                      \
    X(TT_E_NOPAYLOAD, -11, "record has no tensor payload")                                                  \
    X(TT_E_STATE, -12, "handle is not in a state that allows this call")                                    \
    X(TT_E_NODEVICE, -13, "no GPU device available")                                                        \
    X(TT_E_DEVICE, -14, "GPU runtime error")                                                                \
    X(TT_E_UNSUPPORTED, -15, "not supported")                                                               \
    X(TT_E_PARSE, -16, "cannot parse input")                                                                \
    X(TT_E_MISMATCH, -17, "inputs do not fit together")

typedef enum tt_status {
#define TT_X_ENUM(name, value, text) name = value,
    TT_STATUS_LIST(TT_X_ENUM)
#undef TT_X_ENUM
} tt_status;

/* Positive informational results of tt_put() and friends: the call succeeded but stored nothing. */
#define TT_FILTERED 1 /* the writer's filters (or a disabled writer) rejected the record */
#define TT_DROPPED 2  /* the in-flight limit was reached under the drop policy; counted in the footer */

/*! tt_strerror() : the fixed English text of a status code; never NULL, "unknown status" for others. */
TT_API const char *tt_strerror(int status);

/*! tt_status_name() : the symbolic name of a status code ("TT_E_CORRUPT"); never NULL. */
TT_API const char *tt_status_name(int status);

/*! tt_version() : the library version string, e.g. "0.1.0". */
TT_API const char *tt_version(void);

/*
 * Element types. The numeric values are the ones stored in files (schemas/trace.fbs, enum DType); never renumber.
 * Multi-byte types are little-endian in files. The fp8 types follow the OCP 8-bit floating point specification
 * (E4M3 "fn": no infinities, NaN = S.1111.111; E5M2: IEEE-like) and the FNUZ variants used natively by AMD MI300
 * (exponent bias one higher, no infinities, no negative zero, NaN = 0x80 only).
 */
typedef enum tt_dtype {
    TT_DTYPE_UNKNOWN = 0,
    TT_F32 = 1,
    TT_F16 = 2,
    TT_BF16 = 3,
    TT_F64 = 4,
    TT_I8 = 5,
    TT_U8 = 6,
    TT_I16 = 7,
    TT_I32 = 8,
    TT_I64 = 9,
    TT_F8_E4M3 = 10,
    TT_F8_E5M2 = 11,
    TT_F8_E4M3FNUZ = 12,
    TT_F8_E5M2FNUZ = 13
} tt_dtype;
#define TT_DTYPE_COUNT 14

/* The most dimensions a tensor may have. */
#define TT_MAX_DIMS 8

/*
 * The record key: which tensor of which run this is. Strings are borrowed for the duration of a call (writer) or
 * owned by the reader (reader). Integer fields use TT_UNSET (-1) for "not given"; the seeds' engines use -1 too.
 *   prompt_id        the prompt or request ("p6_len_16")
 *   phase            the pipeline phase ("prefill_last", "decode0", "prefill")
 *   point            the capture point, i.e. the tensor name ("attn_out")
 *   layer            decoder layer, -1 for tensors outside layers (embed_out, logits)
 *   step             engine step (0 = prefill, 1.. = decode steps)
 *   token_id         vocabulary id of the token being processed
 *   logical_tok_idx  index of the token within the prompt/sequence
 *   pos_id           position id of the first row the tensor holds
 *   rows             number of rows (tokens) the tensor holds: its leading dimension (the seeds' seq_len)
 *   rank             tensor-parallel rank of the process that captured the tensor. TT_UNSET (TT_KEY_INIT's
 *                    value) in a put means "the writer's rank" (tt_writer_options.rank, TT_TRACE_RANK or the
 *                    launcher's variables; 0 when none is known)
 *   shard_kind       how the tensor relates to the whole (unsharded) tensor, TT_SHARD_*:
 *                      TT_SHARD_NONE     the whole tensor (shard_dim, shard_index, shard_count are -1)
 *                      TT_SHARD_SPLIT    slice shard_index of shard_count slices along dimension
 *                                        shard_dim (a column-parallel output): concatenating the shards in
 *                                        shard_index order along shard_dim gives the whole tensor
 *                      TT_SHARD_PARTIAL  addend shard_index of shard_count partial sums (a row-parallel output
 *                                        before its all-reduce): the whole tensor is their sum (shard_dim -1)
 *   shard_dim        SPLIT: the dimension split, 0 <= shard_dim < ndim; otherwise -1
 *   shard_index      SPLIT, PARTIAL: which shard, 0 <= shard_index < shard_count; otherwise -1
 *   shard_count      SPLIT, PARTIAL: how many shards make the whole, 1..TT_MAX_SHARDS; otherwise -1
 * A put checks the shard fields (TT_E_INVAL names the rule broken); with TT_SHARD_NONE the other three are
 * ignored and stored as -1, so a zero-initialised key stores "whole tensor".
 */
typedef struct tt_key {
    const char *prompt_id;
    const char *phase;
    const char *point;
    int32_t layer;
    int32_t step;
    int32_t token_id;
    int32_t logical_tok_idx;
    int32_t pos_id;
    int32_t rows;
    int32_t rank;
    int32_t shard_kind;
    int32_t shard_dim;
    int32_t shard_index;
    int32_t shard_count;
} tt_key;

#define TT_UNSET (-1)
#define TT_KEY_INIT                                                                                          \
    {NULL, NULL, NULL, TT_UNSET, TT_UNSET, TT_UNSET, TT_UNSET, TT_UNSET, TT_UNSET, TT_UNSET, TT_SHARD_NONE,  \
     TT_UNSET, TT_UNSET, TT_UNSET}

/* Shard layouts (tt_key.shard_kind). The values are stored in files (schemas/trace.fbs, enum ShardKind). */
#define TT_SHARD_NONE 0    /* the whole tensor */
#define TT_SHARD_SPLIT 1   /* one of shard_count slices along shard_dim */
#define TT_SHARD_PARTIAL 2 /* one of shard_count addends whose sum is the tensor */
#define TT_MAX_SHARDS 65536 /* the most shards a tensor may be cut into (shard_count) */

/*! tt_shard_kind_name() : "none", "split" or "partial"; "unknown" for other values. */
TT_API const char *tt_shard_kind_name(int32_t kind);

/*! tt_shard_kind_from_name() : the TT_SHARD_* value of a name as printed by tt_shard_kind_name() (or its
 *  number, "0".."2"). @return : TT_OK, or TT_E_PARSE for anything else. */
TT_API int tt_shard_kind_from_name(const char *name, int32_t *kind);

/*! tt_key_shard_check() : checks a key's shard fields against the rules above for a tensor of ndim dimensions,
 *  as tt_put() does. @return : TT_OK, or TT_E_INVAL with the rule broken in why (whylen bytes; why may be NULL),
 *  e.g. "shard_index 4 outside 0..3 (shard_count 4)". */
TT_API int tt_key_shard_check(const tt_key *key, int ndim, char *why, size_t whylen);

/*
 * Summary statistics of a tensor's values, computed in double precision. min, max, mean, absmax and l2 are over
 * the finite elements only; NaN and infinite elements are counted apart. With no finite element, min, max, mean,
 * absmax and l2 are NaN. Integer tensors are summarised as their values converted to double.
 */
typedef struct tt_stats {
    double min;
    double max;
    double mean;
    double absmax;
    double l2; /* sqrt of the sum of squares */
    uint64_t nan_count;
    uint64_t inf_count;
} tt_stats;

#ifdef __cplusplus
}
#endif
#endif /* TT_COMMON_H */
