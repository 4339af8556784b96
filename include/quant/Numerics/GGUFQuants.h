//===- GGUFQuants.h - ggml block quantizers and dequantizers ----*- C++ -*-===//
//
// Part of the quant-opt project, under the Apache License v2.0 with LLVM
// Exceptions.
//
//===----------------------------------------------------------------------===//
//
// Row quantization to the ggml block formats that GGUF files store, and the
// inverse. The encoders reproduce ggml's reference quantizers byte for byte
// (ggml-org/ggml `src/ggml-quants.c`, layouts in `src/ggml-common.h`; see
// docs/Numerics.md §0 and §8): without an importance
// matrix the `quantize_row_*_ref` path, with one the `quantize_*` imatrix
// path. F32, F16 and BF16 are supported as plain element conversions.
//
//===----------------------------------------------------------------------===//

#ifndef QUANT_NUMERICS_GGUFQUANTS_H
#define QUANT_NUMERICS_GGUFQUANTS_H

#include "quant/Numerics/GGMLTypes.h"

#include <cstdint>
#include <string>

namespace quantopt {
namespace numerics {

/// True for the types quantizeGGMLRows / dequantizeGGMLRows handle: F32,
/// F16, BF16, Q4_0, Q4_1, Q5_0, Q5_1, Q8_0 and Q2_K..Q6_K.
bool isGGMLQuantSupported(GGMLType type);

/// Bytes of one row of `cols` elements, or -1 when `cols` is negative or not
/// a multiple of the type's block size.
int64_t ggmlRowBytes(GGMLType type, int64_t cols);

/// Storage cost in bits per weight, from the block size and block bytes
/// (Q4_K: 144 bytes per 256 weights = 4.5).
double ggmlBitsPerWeight(GGMLType type);

/// Quantizes a row-major [rows, cols] f32 matrix into `dst`, which must hold
/// rows * ggmlRowBytes(type, cols) bytes, row after row, as ggml's
/// `quantize_<type>(src, dst, rows, cols, importance)` does. `importance`
/// (nullable) holds one weight per column, e.g. the imatrix's E[x_j^2];
/// null selects the reference (`_ref`) quantizer. Q8_0, F32, F16 and BF16
/// ignore it. Returns false and sets `*error` (when non-null) for an
/// unsupported type, negative sizes, or `cols` not a multiple of the block
/// size.
bool quantizeGGMLRows(GGMLType type, const float *src, int64_t rows,
                      int64_t cols, const float *importance, uint8_t *dst,
                      std::string *error);

/// Decodes rows * ggmlRowBytes(type, cols) bytes into a row-major
/// [rows, cols] f32 matrix, as ggml's `dequantize_row_<type>` does. Returns
/// false and sets `*error` under the same conditions as quantizeGGMLRows.
bool dequantizeGGMLRows(GGMLType type, const uint8_t *src, int64_t rows,
                        int64_t cols, float *dst, std::string *error);

/// The signed scale (sc - 32) of sub-block g (0..15) of a Q3_K super-block
/// from its 12 bytes of packed 6-bit scales.
int8_t unpackScaleQ3K(int g, const uint8_t *scales);

/// The 6-bit scale and min of sub-block g (0..7) of a Q4_K/Q5_K
/// super-block from its 12 packed bytes, as ggml's get_scale_min_k4.
void unpackScaleMinK4(int g, const uint8_t *scales, uint8_t *scale,
                      uint8_t *min);

} // namespace numerics
} // namespace quantopt

#endif // QUANT_NUMERICS_GGUFQUANTS_H
