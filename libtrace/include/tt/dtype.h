/*
 * tt/dtype.h — element types: names, sizes, conversions to and from wider types, the content hash and summary
 * statistics. These are the same routines the writer and the differ use, exposed so that engines and tools
 * compute exactly what the trace stores (an engine's own test can hash a buffer and compare with a record).
 *
 * All functions are pure (no state, thread-safe). Buffers are little-endian element arrays, as stored in traces.
 */
#ifndef TT_DTYPE_H
#define TT_DTYPE_H

#include "tt/common.h"

#ifdef __cplusplus
extern "C" {
#endif

/*! tt_dtype_size() : bytes per element; 0 for TT_DTYPE_UNKNOWN or a value outside the enum. */
TT_API size_t tt_dtype_size(tt_dtype dt);

/*! tt_dtype_name() : the canonical lower-case name ("f32", "bf16", "f8_e4m3fnuz"); "unknown" otherwise. */
TT_API const char *tt_dtype_name(tt_dtype dt);

/*! tt_dtype_from_name() : parses a name as printed by tt_dtype_name(); also accepts the common aliases
 *  "float32", "float16", "bfloat16", "float64", "int8", "uint8", "int16", "int32", "int64", "fp8_e4m3",
 *  "fp8_e5m2". @return : TT_OK, or TT_E_PARSE when the name is unknown (*out untouched). */
TT_API int tt_dtype_from_name(const char *name, tt_dtype *out);

/*! tt_dtype_is_float() : 1 for the floating-point types (f32 f16 bf16 f64 and the fp8 family), else 0. */
TT_API int tt_dtype_is_float(tt_dtype dt);

/*! tt_to_f64() : converts n elements of type dt at src to double at dst (NaN/Inf preserved; fp8 NaN -> NaN).
 *  @return : TT_OK, or TT_E_INVAL for an unknown dtype. */
TT_API int tt_to_f64(tt_dtype dt, const void *src, size_t n, double *dst);

/*! tt_to_f32() : as tt_to_f64() but to float (f64 and i64 values are rounded to nearest float). */
TT_API int tt_to_f32(tt_dtype dt, const void *src, size_t n, float *dst);

/*! tt_from_f32() : converts n floats to type dt, rounding to nearest even (bf16, f16, fp8 saturate to their
 *  largest finite value when the type has no infinity; integers round to nearest and saturate).
 *  Used by engines that store bf16 activations and by the tests. @return : TT_OK or TT_E_INVAL. */
TT_API int tt_from_f32(tt_dtype dt, const float *src, size_t n, void *dst);

/*! tt_bf16_from_f32() / tt_f32_from_bf16() / tt_f16_from_f32() / tt_f32_from_f16() : single conversions. */
TT_API uint16_t tt_bf16_from_f32(float f);
TT_API float tt_f32_from_bf16(uint16_t h);
TT_API uint16_t tt_f16_from_f32(float f);
TT_API float tt_f32_from_f16(uint16_t h);

/*! tt_hash() : the content hash stored in records: XXH3-64 (seed 0) of the bytes. */
TT_API uint64_t tt_hash(const void *data, size_t nbytes);

/*! tt_stats_compute() : the statistics the writer stores (see tt_stats in tt/common.h) over n elements.
 *  @return : TT_OK or TT_E_INVAL for an unknown dtype. */
TT_API int tt_stats_compute(tt_dtype dt, const void *data, size_t n, tt_stats *out);

/*! tt_shape_elems() : the element count of a shape, with overflow checking.
 *  @return : TT_OK, TT_E_INVAL (ndim outside 0..TT_MAX_DIMS) or TT_E_LIMIT (the product or the byte size for
 *  element size esize overflows 2^62). A rank-0 shape has one element. */
TT_API int tt_shape_elems(int ndim, const uint64_t *shape, size_t esize, uint64_t *elems, uint64_t *nbytes);

#ifdef __cplusplus
}
#endif
#endif /* TT_DTYPE_H */
