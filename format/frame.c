/*
 * frame.c — encode and decode the file header, frame headers and trailer (layouts in format/FORMAT.md), and the
 * payload codec of one frame (shuffle + zstd). Decoders check everything: these bytes come from files that may
 * be truncated, corrupted or hostile.
 */
#include "frame.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <xxhash.h>
#include <zstd.h>
#include <zstd_errors.h>

const uint8_t tt_file_magic[8] = {0x89, 'T', 'T', 'R', 'C', 0x0D, 0x0A, 0x1A};
const uint8_t tt_trailer_magic[8] = {'T', 'T', 'R', 'C', 'E', 'N', 'D', 0x0A};

uint64_t tt_hash64(const void *p, size_t n) { return XXH3_64bits(p, n); }

int tt_errf(char *err, size_t errlen, int code, const char *fmt, ...)
{
    if (err && errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return code;
}

/* ---- file header: magic[8] major u16 minor u16 header_size u32 flags u32 reserved u32 hash u64 ---- */

void tt_file_header_encode(const tt_file_header *h, uint8_t out[TT_FILE_HEADER_SIZE])
{
    memset(out, 0, TT_FILE_HEADER_SIZE);
    memcpy(out, tt_file_magic, 8);
    tt_le16(out + 8, h->major);
    tt_le16(out + 10, h->minor);
    tt_le32(out + 12, TT_FILE_HEADER_SIZE);
    tt_le32(out + 16, h->flags);
    tt_le64(out + 24, tt_hash64(out, 24));
}

int tt_file_header_decode(const uint8_t in[TT_FILE_HEADER_SIZE], tt_file_header *h, char *err, size_t errlen)
{
    if (memcmp(in, tt_file_magic, 8) != 0)
        return tt_errf(err, errlen, TT_E_NOTTRACE, "not a tensortrace file (bad magic at offset 0)");
    if (!TT_CHECKSUM_MATCHES(tt_rd64(in + 24), tt_hash64(in, 24)))
        return tt_errf(err, errlen, TT_E_CORRUPT, "file header at offset 0: checksum mismatch");
    h->major = tt_rd16(in + 8);
    h->minor = tt_rd16(in + 10);
    h->flags = tt_rd32(in + 16);
    if (h->major > TT_FORMAT_MAJOR)
        return tt_errf(err, errlen, TT_E_VERSION,
                    "format version %u.%u is newer than this reader (%u.x): upgrade tensortrace", h->major,
                    h->minor, TT_FORMAT_MAJOR);
    if (h->major < 1 || tt_rd32(in + 12) != TT_FILE_HEADER_SIZE)
        return tt_errf(err, errlen, TT_E_CORRUPT, "file header at offset 0: bad version %u or header size %u",
                    h->major, tt_rd32(in + 12));
    return TT_OK;
}

/* ---- frame header --------------------------------------------------------------------------------------- */

void tt_frame_header_encode(const tt_frame_header *h, uint8_t out[TT_FRAME_HEADER_SIZE])
{
    tt_le32(out + 0, TT_FRAME_MAGIC);
    out[4] = h->type;
    out[5] = h->codec;
    out[6] = h->filter;
    out[7] = h->elem_size;
    tt_le32(out + 8, h->aux);
    tt_le32(out + 12, 0);
    tt_le64(out + 16, h->seq);
    tt_le64(out + 24, h->stored_size);
    tt_le64(out + 32, h->raw_size);
    tt_le64(out + 40, h->payload_hash);
    tt_le64(out + 48, tt_hash64(out, 48));
}

uint64_t tt_frame_raw_limit(uint8_t type)
{
    switch (type) {
    case TT_FRAME_PAYLOAD:
    case TT_FRAME_PACK: return TT_LIMIT_PAYLOAD_CHUNK;
    case TT_FRAME_FOOTER: return TT_LIMIT_FOOTER;
    default: return TT_LIMIT_META_FRAME;
    }
}

const char *tt_frame_type_name(uint8_t type)
{
    switch (type) {
    case TT_FRAME_PAYLOAD: return "PAYLOAD";
    case TT_FRAME_BATCH: return "BATCH";
    case TT_FRAME_META: return "META";
    case TT_FRAME_FOOTER: return "FOOTER";
    case TT_FRAME_PACK: return "PACK";
    default: return "UNKNOWN";
    }
}

int tt_frame_header_decode(const uint8_t in[TT_FRAME_HEADER_SIZE], tt_frame_header *h, char *err, size_t errlen)
{
    if (tt_rd32(in) != TT_FRAME_MAGIC)
        return tt_errf(err, errlen, TT_E_CORRUPT, "no frame magic");
    if (!TT_CHECKSUM_MATCHES(tt_rd64(in + 48), tt_hash64(in, 48)))
        return tt_errf(err, errlen, TT_E_CORRUPT, "frame header checksum mismatch");
    h->type = in[4];
    h->codec = in[5];
    h->filter = in[6];
    h->elem_size = in[7];
    h->aux = tt_rd32(in + 8);
    h->seq = tt_rd64(in + 16);
    h->stored_size = tt_rd64(in + 24);
    h->raw_size = tt_rd64(in + 32);
    h->payload_hash = tt_rd64(in + 40);
    if (h->type == TT_FRAME_INVALID)
        return tt_errf(err, errlen, TT_E_CORRUPT, "frame type 0 is invalid");
    if (h->codec > TT_CODEC_ZSTD)
        return tt_errf(err, errlen, TT_E_CORRUPT, "unknown codec %u", h->codec);
    if (h->filter > TT_FILTER_LAST)
        return tt_errf(err, errlen, TT_E_CORRUPT,
                       "unknown payload filter %u (this reader knows filters 0..%u: the file needs a newer reader)",
                       h->filter, TT_FILTER_LAST);
    int size_ok = h->filter == TT_FILTER_SHUFFLE ? h->elem_size >= 2 && h->elem_size <= 16
                  : h->filter == TT_FILTER_FLOAT ? h->elem_size == 1 || h->elem_size == 2 || h->elem_size == 4
                                                 : h->elem_size == 0;
    if (!size_ok)
        return tt_errf(err, errlen, TT_E_CORRUPT, "element size %u does not fit filter %u", h->elem_size, h->filter);
    if (h->filter == TT_FILTER_FLOAT && h->codec != TT_CODEC_ZSTD)
        return tt_errf(err, errlen, TT_E_CORRUPT, "filter FLOAT with codec %u (it needs codec ZSTD)", h->codec);
    uint64_t limit = tt_frame_raw_limit(h->type);
    if (h->raw_size > limit)
        return tt_errf(err, errlen, TT_E_LIMIT, "%s frame claims %llu raw bytes (limit %llu)",
                    tt_frame_type_name(h->type), (unsigned long long)h->raw_size, (unsigned long long)limit);
    /* RAW stores exactly raw_size bytes (FORMAT.md section 3); zstd never expands by more than a small fraction,
     * so anything larger is not a frame a writer made */
    if (h->codec == TT_CODEC_RAW ? h->stored_size != h->raw_size
                                 : h->stored_size > ZSTD_compressBound((size_t)h->raw_size))
        return tt_errf(err, errlen, TT_E_CORRUPT, "%s frame stores %llu bytes for %llu raw bytes",
                    tt_frame_type_name(h->type), (unsigned long long)h->stored_size,
                    (unsigned long long)h->raw_size);
    return TT_OK;
}

/* ---- trailer: footer_offset u64 footer_size u64 hash u64 magic[8] ----------------------------------------- */

void tt_trailer_encode(const tt_trailer *t, uint8_t out[TT_TRAILER_SIZE])
{
    tt_le64(out + 0, t->footer_offset);
    tt_le64(out + 8, t->footer_size);
    tt_le64(out + 16, tt_hash64(out, 16));
    memcpy(out + 24, tt_trailer_magic, 8);
}

int tt_trailer_decode(const uint8_t in[TT_TRAILER_SIZE], tt_trailer *t, char *err, size_t errlen)
{
    if (memcmp(in + 24, tt_trailer_magic, 8) != 0)
        return tt_errf(err, errlen, TT_E_NOTFOUND, "no trailer (the file was not closed)");
    if (!TT_CHECKSUM_MATCHES(tt_rd64(in + 16), tt_hash64(in, 16)))
        return tt_errf(err, errlen, TT_E_CORRUPT, "trailer checksum mismatch");
    t->footer_offset = tt_rd64(in + 0);
    t->footer_size = tt_rd64(in + 8);
    return TT_OK;
}

/* ---- payload codec ---------------------------------------------------------------------------------------- */

int tt_payload_encode(const uint8_t *src, size_t n, size_t esize, void *cctx, uint8_t *scratch, uint8_t *dst,
                      size_t dst_cap, tt_frame_header *h, char *err, size_t errlen)
{
    if (dst_cap < n || esize > 16)
        return tt_errf(err, errlen, TT_E_INVAL, "payload encode: capacity %zu below %zu bytes", dst_cap, n);
    const uint8_t *in = src;
    h->filter = TT_FILTER_NONE;
    h->elem_size = 0;
    if (esize > 1) {
        tt_shuffle_bytes(src, scratch, n, esize);
        in = scratch;
        h->filter = TT_FILTER_SHUFFLE;
        h->elem_size = (uint8_t)esize;
    } else if (dst == src && cctx) {
        memcpy(scratch, src, n);
        in = scratch;
    }
    h->codec = TT_CODEC_RAW;
    h->raw_size = n;
    size_t stored = n;
    if (cctx && n > 0) {
        /* capacity n - 1: compressed output that is not smaller than the input is not worth storing */
        size_t z = ZSTD_compress2((ZSTD_CCtx *)cctx, dst, n - 1, in, n);
        if (!ZSTD_isError(z)) {
            h->codec = TT_CODEC_ZSTD;
            stored = z;
        } else if (ZSTD_getErrorCode(z) != ZSTD_error_dstSize_tooSmall) {
            return tt_errf(err, errlen, TT_E_CORRUPT, "zstd compression failed: %s", ZSTD_getErrorName(z));
        }
    }
    if (h->codec == TT_CODEC_RAW && in != dst)
        memcpy(dst, in, n);
    h->stored_size = stored;
    h->payload_hash = tt_hash64(dst, stored);
    return TT_OK;
}

int tt_payload_decode(const tt_frame_header *h, const uint8_t *stored, uint8_t *dst, uint8_t *scratch, void *dctx,
                      char *err, size_t errlen)
{
    size_t raw = (size_t)h->raw_size;
    if (h->filter == TT_FILTER_FLOAT)
        return tt_payload_decode_float(h, stored, dst, scratch, dctx, err, errlen);
    uint8_t *out = h->filter == TT_FILTER_SHUFFLE ? scratch : dst;
    if (h->filter == TT_FILTER_SHUFFLE && !scratch)
        return tt_errf(err, errlen, TT_E_INVAL, "payload decode: shuffled frame needs a scratch buffer");
    if (h->codec == TT_CODEC_RAW) {
        if (h->stored_size != h->raw_size)
            return tt_errf(err, errlen, TT_E_CORRUPT, "raw frame stores %llu bytes for %llu",
                        (unsigned long long)h->stored_size, (unsigned long long)h->raw_size);
        memcpy(out, stored, raw);
    } else {
        ZSTD_DCtx *own = NULL;
        ZSTD_DCtx *d = (ZSTD_DCtx *)dctx;
        if (!d && !(d = own = ZSTD_createDCtx()))
            return tt_errf(err, errlen, TT_E_NOMEM, "cannot allocate a zstd context");
        /* the declared content size must equal raw_size: a frame that inflates to more is refused by the
         * capacity, one that inflates to less by the check below */
        unsigned long long content = ZSTD_getFrameContentSize(stored, (size_t)h->stored_size);
        /* exactly one zstd frame (FORMAT.md section 3): zstd itself would also inflate concatenated frames */
        size_t one = ZSTD_findFrameCompressedSize(stored, (size_t)h->stored_size);
        if (ZSTD_isError(one) || one != h->stored_size) {
            ZSTD_freeDCtx(own);
            return tt_errf(err, errlen, TT_E_CORRUPT, "the %llu stored bytes are not exactly one zstd frame",
                           (unsigned long long)h->stored_size);
        }
        size_t z = ZSTD_decompressDCtx(d, out, raw, stored, (size_t)h->stored_size);
        ZSTD_freeDCtx(own);
        if (ZSTD_isError(z))
            return tt_errf(err, errlen, TT_E_CORRUPT, "zstd: %s", ZSTD_getErrorName(z));
        if (z != raw || (content != ZSTD_CONTENTSIZE_UNKNOWN && content != raw))
            return tt_errf(err, errlen, TT_E_CORRUPT, "inflated to %zu bytes, header says %zu", z, raw);
    }
    if (h->filter == TT_FILTER_SHUFFLE)
        tt_unshuffle_bytes(scratch, dst, raw, h->elem_size);
    return TT_OK;
}
