/*
 * frame.h — the fixed binary parts of a trace file: the file header, the frame header and the trailer, plus the
 * format's limits and the payload codec (shuffle + zstd) for one frame. Byte layouts are normative in
 * format/FORMAT.md; this is their one implementation. Pure functions: no I/O, no threads, no global state.
 *
 * Every decode function treats its input as hostile: it checks magic numbers and checksums and the ranges of
 * every field against the limits below, and says what is wrong in a caller-supplied buffer.
 */
#ifndef TT_FORMAT_FRAME_H
#define TT_FORMAT_FRAME_H

#include <stddef.h>
#include <stdint.h>

#include "tt/common.h"

/* ---- Versions ------------------------------------------------------------------------------------------- */
#define TT_FORMAT_MAJOR 1
#define TT_FORMAT_MINOR 1

/* ---- Sizes ---------------------------------------------------------------------------------------------- */
#define TT_FILE_HEADER_SIZE 32
#define TT_FRAME_HEADER_SIZE 56
#define TT_TRAILER_SIZE 32

/* ---- Limits a reader enforces (FORMAT.md "Limits") ------------------------------------------------------- */
#define TT_LIMIT_PAYLOAD_CHUNK ((uint64_t)64 << 20)    /* raw bytes of one PAYLOAD frame */
#define TT_LIMIT_META_FRAME ((uint64_t)256 << 20)      /* raw bytes of a BATCH or META frame */
#define TT_LIMIT_FOOTER ((uint64_t)1 << 30)            /* raw bytes of the FOOTER frame */
#define TT_LIMIT_BATCH_RECORDS 65536u                  /* records in one batch */
#define TT_LIMIT_BATCH_STRINGS 65536u                  /* strings in one batch dictionary */
#define TT_LIMIT_STRING 65536u                         /* bytes in one string (key, value, name) */
#define TT_LIMIT_META_KEYS 4096u                       /* metadata keys */
#define TT_LIMIT_TENSOR_BYTES ((uint64_t)1 << 48)      /* bytes of one tensor */
#define TT_LIMIT_RECORDS ((uint64_t)1 << 40)           /* records in one file */
#define TT_LIMIT_FRAMES ((uint64_t)1 << 40)            /* frames in one file */
#define TT_DEFAULT_CHUNK_BYTES (4u << 20)
#define TT_MIN_CHUNK_BYTES (4u << 10)

/* ---- Enumerations stored in frames (same values as schemas/trace.fbs) --------------------------------------- */
enum {
    TT_FRAME_INVALID = 0,
    TT_FRAME_PAYLOAD = 1,
    TT_FRAME_BATCH = 2,
    TT_FRAME_META = 3,
    TT_FRAME_FOOTER = 4,
    TT_FRAME_PACK = 5 /* format 1.1: the contents of several small records, one after the other */
};
enum { TT_CODEC_RAW = 0, TT_CODEC_ZSTD = 1 };
enum { TT_FILTER_NONE = 0, TT_FILTER_SHUFFLE = 1, TT_FILTER_FLOAT = 2 };
#define TT_FILTER_LAST TT_FILTER_FLOAT /* the highest filter this reader knows */

/* Magic numbers. */
extern const uint8_t tt_file_magic[8];    /* 89 'T' 'T' 'R' 'C' 0D 0A 1A */
extern const uint8_t tt_trailer_magic[8]; /* 'T' 'T' 'R' 'C' 'E' 'N' 'D' 0A */
#define TT_FRAME_MAGIC 0x52465454u        /* "TTFR" read as a little-endian u32 */

/* ---- File header ----------------------------------------------------------------------------------------- */
typedef struct tt_file_header {
    uint16_t major, minor;
    uint32_t flags; /* reserved, 0 */
} tt_file_header;

void tt_file_header_encode(const tt_file_header *h, uint8_t out[TT_FILE_HEADER_SIZE]);
/*! tt_file_header_decode() : @return : TT_OK, TT_E_NOTTRACE (magic), TT_E_CORRUPT (checksum), or TT_E_VERSION
 *  (major newer than TT_FORMAT_MAJOR; h is filled so the caller can name the version). */
int tt_file_header_decode(const uint8_t in[TT_FILE_HEADER_SIZE], tt_file_header *h, char *err, size_t errlen);

/* ---- Frame header ---------------------------------------------------------------------------------------- */
typedef struct tt_frame_header {
    uint8_t type;         /* TT_FRAME_* */
    uint8_t codec;        /* TT_CODEC_* */
    uint8_t filter;       /* TT_FILTER_* */
    uint8_t elem_size;    /* SHUFFLE: element size (2..16); FLOAT: 1, 2 or 4; otherwise 0 */
    uint32_t aux;         /* PAYLOAD: chunk index; BATCH, PACK: record count; else 0 */
    uint64_t seq;         /* PAYLOAD: the record's seq; BATCH, PACK: first record's seq; else 0 */
    uint64_t stored_size; /* payload bytes in the file after the header */
    uint64_t raw_size;    /* payload bytes after decoding */
    uint64_t payload_hash;/* XXH3-64 of the stored payload bytes */
} tt_frame_header;

void tt_frame_header_encode(const tt_frame_header *h, uint8_t out[TT_FRAME_HEADER_SIZE]);
/*! tt_frame_header_decode() : checks the magic, the header checksum, codec/filter/elem_size consistency and
 *  the sizes against the limits for the frame type (unknown types are accepted with the META limit, so a reader
 *  can skip frames a newer minor version adds). @return : TT_OK, TT_E_CORRUPT or TT_E_LIMIT. */
int tt_frame_header_decode(const uint8_t in[TT_FRAME_HEADER_SIZE], tt_frame_header *h, char *err, size_t errlen);
/*! tt_frame_raw_limit() : the largest raw_size allowed for a frame type. */
uint64_t tt_frame_raw_limit(uint8_t type);
/*! tt_frame_type_name() : "PAYLOAD", "BATCH", "META", "FOOTER", "PACK" or "UNKNOWN". */
const char *tt_frame_type_name(uint8_t type);

/* ---- Trailer --------------------------------------------------------------------------------------------- */
typedef struct tt_trailer {
    uint64_t footer_offset; /* offset of the FOOTER frame's header */
    uint64_t footer_size;   /* header + payload bytes of the FOOTER frame */
} tt_trailer;

void tt_trailer_encode(const tt_trailer *t, uint8_t out[TT_TRAILER_SIZE]);
/*! tt_trailer_decode() : @return : TT_OK, TT_E_NOTFOUND (no trailer magic: the file was not closed) or
 *  TT_E_CORRUPT (checksum). */
int tt_trailer_decode(const uint8_t in[TT_TRAILER_SIZE], tt_trailer *t, char *err, size_t errlen);

/* ---- Payload codec --------------------------------------------------------------------------------------- */

/*! tt_shuffle_bytes() / tt_unshuffle_bytes() : the byte-shuffle filter. n bytes are viewed as n / esize elements of esize
 *  bytes; output byte j*(n/esize) + i is input byte i*esize + j. Trailing n % esize bytes are copied as they
 *  are. src and dst must not overlap. */
void tt_shuffle_bytes(const uint8_t *src, uint8_t *dst, size_t n, size_t esize);
void tt_unshuffle_bytes(const uint8_t *src, uint8_t *dst, size_t n, size_t esize);

/*! tt_payload_encode() : encodes n raw bytes for a PAYLOAD (or other) frame: byte shuffle by esize when
 *  esize > 1, then zstd with cctx (a ZSTD_CCtx * whose parameters the caller set; NULL stores without
 *  compression). The result goes to dst (capacity dst_cap >= n), which may be the same memory as src: the
 *  input is first moved to scratch (n bytes), so a caller can compress a buffer in place. When compression does
 *  not make the data smaller, the (shuffled) bytes are stored with codec RAW. Fills h's codec, filter,
 *  elem_size, stored_size, raw_size and payload_hash. @return : TT_OK, or TT_E_INVAL / TT_E_CORRUPT (a zstd
 *  error other than "does not fit", message in err). */
int tt_payload_encode(const uint8_t *src, size_t n, size_t esize, void *cctx, uint8_t *scratch, uint8_t *dst,
                      size_t dst_cap, tt_frame_header *h, char *err, size_t errlen);

/*! tt_payload_decode() : decodes a frame's stored payload (already checked against payload_hash) into dst,
 *  which must hold h->raw_size bytes. scratch must hold h->raw_size bytes when the frame is shuffled (it may be
 *  NULL otherwise). dctx is a zstd decompression context (ZSTD_DCtx *) or NULL to use a temporary one.
 *  @return : TT_OK, TT_E_CORRUPT (zstd error or size mismatch, with zstd's message in err). */
int tt_payload_decode(const tt_frame_header *h, const uint8_t *stored, uint8_t *dst, uint8_t *scratch, void *dctx,
                      char *err, size_t errlen);

/*! tt_float_layout() : whether the FLOAT filter applies to dtype dt (bf16, f16, f32 and the four fp8 types) and
 *  its element size, mantissa and exponent bits. @return : 1 when it applies, else 0. */
int tt_float_layout(tt_dtype dt, size_t *esize, unsigned *mant_bits, unsigned *exp_bits);

/*! tt_float_cctx_params() : sets a ZSTD_CCtx * up for tt_payload_encode_float(): level 1, no zstd checksum, the
 *  content size in each frame, the smallest match tables (none is searched) and 128 KiB blocks. */
void tt_float_cctx_params(void *cctx);

/* tt_payload_encode_float()'s choice of symbol: FAST, the exponent field (f16: with the top 3 mantissa bits) and
 * the mantissa stored as it is; WIDE, two top mantissa bits in the symbol and the top mantissa stream coded too
 * (more CPU); WINDOW may be added to either: a bf16 chunk whose exponents mostly fall in a window of at most 15
 * takes form 1 (FORMAT.md section 3) instead, the exponent and 4 mantissa bits in one symbol. */
#define TT_FLOAT_FAST 1u
#define TT_FLOAT_WIDE 2u
#define TT_FLOAT_WINDOW 4u

/*! tt_payload_encode_float() : encodes n raw bytes of dtype dt with the FLOAT filter (FORMAT.md section 3): the
 *  symbol stream (exponent and top mantissa bits) entropy-coded by zstd without match search, the mantissa
 *  planes coded only where a sample says it pays. row_elems (0: unknown) is the tensor's row width in elements,
 *  which enables the row-delta symbol model (form 0) when an estimate says it wins. kind: TT_FLOAT_FAST or
 *  TT_FLOAT_WIDE, optionally | TT_FLOAT_WINDOW (above). lit_cctx is a ZSTD_CCtx * used through
 *  ZSTD_compressSequences (level and block size are the caller's; windowLog >= 17 keeps 128 KiB blocks).
 *  scratch holds n bytes; dst (capacity dst_cap >= n) may be src. When the result would not be smaller than n,
 *  the bytes are stored as they are (filter NONE, codec RAW). Fills h's codec, filter, elem_size, stored_size,
 *  raw_size and payload_hash. @return : TT_OK, TT_E_INVAL (dt has no float layout, no context) or TT_E_CORRUPT
 *  (a zstd error, message in err). */
int tt_payload_encode_float(const uint8_t *src, size_t n, tt_dtype dt, uint64_t row_elems, unsigned kind,
                            void *lit_cctx, uint8_t *scratch, uint8_t *dst, size_t dst_cap, tt_frame_header *h,
                            char *err, size_t errlen);

/*! tt_payload_decode_float() : the inverse for a frame of filter FLOAT (called by tt_payload_decode). scratch holds
 *  h->raw_size bytes. Untrusted input: every stream length, the header's fields and each zstd frame are checked;
 *  anything inconsistent is TT_E_CORRUPT with what and which stream in err. */
int tt_payload_decode_float(const tt_frame_header *h, const uint8_t *stored, uint8_t *dst, uint8_t *scratch,
                            void *dctx, char *err, size_t errlen);

/* Fuzzing builds (TT_FUZZ) accept any checksum so that the fuzzer reaches the structure behind it: a hostile
 * file can carry valid checksums anyway (XXH3 is not a cryptographic hash), so what lies behind must be safe. */
#ifdef TT_FUZZING_UNSAFE
#define TT_CHECKSUM_MATCHES(a, b) ((void)(a), (void)(b), 1)
#else
#define TT_CHECKSUM_MATCHES(a, b) ((a) == (b))
#endif

/*! tt_errf() : formats a message into err (errlen bytes; err may be NULL) and returns code, so that error paths
 *  read `return tt_errf(err, errlen, TT_E_CORRUPT, "...", ...)`. */
int tt_errf(char *err, size_t errlen, int code, const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/*! tt_hash64() : XXH3-64 (seed 0), the checksum used everywhere in the format. */
uint64_t tt_hash64(const void *p, size_t n);

/* Little-endian helpers (the format is little-endian on every host). */
static inline void tt_le16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); }
static inline void tt_le32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}
static inline void tt_le64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}
static inline uint16_t tt_rd16(const uint8_t *p) { return (uint16_t)(p[0] | (p[1] << 8)); }
static inline uint32_t tt_rd32(const uint8_t *p)
{
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}
static inline uint64_t tt_rd64(const uint8_t *p) { return (uint64_t)tt_rd32(p) | ((uint64_t)tt_rd32(p + 4) << 32); }

#endif /* TT_FORMAT_FRAME_H */
