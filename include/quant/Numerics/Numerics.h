//===- Numerics.h - Reference quantization numerics -------------*- C++ -*-===//
//
// Part of the quant-opt project, under the Apache License v2.0 with LLVM
// Exceptions.
//
//===----------------------------------------------------------------------===//
//
// Scalar and row-level numerics shared by the compile-time quantizers (the
// passes), the unit tests and, as the specification, the IR lowerings. This
// library has no MLIR dependency.
//
//===----------------------------------------------------------------------===//

#ifndef QUANT_NUMERICS_NUMERICS_H
#define QUANT_NUMERICS_NUMERICS_H

#include "quant/Numerics/ElementFormat.h"

#include <array>
#include <cstdint>
#include <vector>

namespace quantopt {
namespace numerics {

/// Rounds half to even, whatever the floating-point environment says. The
/// sign of a zero result is not preserved (-0.5 gives +0).
float roundHalfEven(float x);

/// Value of `x` after rounding to IEEE half / bfloat16 (round half to even),
/// returned as f32. Used when scales are stored in 16-bit types.
float roundToF16(float x);
float roundToBF16(float x);
uint16_t toF16Bits(float x);
uint16_t toBF16Bits(float x);
float fromF16Bits(uint16_t bits);
float fromBF16Bits(uint16_t bits);

//===----------------------------------------------------------------------===//
// Integer (affine) codes
//===----------------------------------------------------------------------===//

/// q = clamp(roundeven(x / s) + z, qmin, qmax). NaN gives qmin; s == 0 gives
/// clamp(z).
int32_t quantizeAffine(float x, float scale, int32_t zero, int32_t qmin,
                       int32_t qmax);
/// q = clamp(roundeven(x / s + z), qmin, qmax) for a float zero-point.
int32_t quantizeAffineFloatZero(float x, float scale, float zero, int32_t qmin,
                                int32_t qmax);
/// s * (q - z) in f32.
inline float dequantizeAffine(int32_t q, float scale, float zero) {
  return scale * (static_cast<float>(q) - zero);
}

/// Parameters of the GPTQ reference quantizer (`quant.py`
/// `Quantizer.find_params`) for one row slice: the range is forced to contain
/// 0, symmetric ranges use zero = 2^(bits-1) on an unsigned grid, and an
/// all-zero slice uses the range [-1, 1].
struct AffineParams {
  float scale;
  int32_t zero;
};
/// The range that quantizer fits to a slice, before the scale: [min, max]
/// widened to contain 0, mirrored to [-max|x|, max|x|] when symmetric and
/// the slice has a negative value, [-1, 1] when both ends are 0.
struct GPTQRange {
  float min, max;
};
GPTQRange gptqRange(const float *x, int64_t count, bool sym);
AffineParams gptqFindParams(const float *x, int64_t count, unsigned bits,
                            bool sym);

//===----------------------------------------------------------------------===//
// Lookup codes (bitsandbytes NF4 / FP4) and FP8
//===----------------------------------------------------------------------===//

/// The 16 values of a 4-bit lookup format, indexed by code.
const std::array<float, 16> &nf4Table();
const std::array<float, 16> &fp4Table();
/// Decision thresholds between consecutive table values: 15 for NF4 (on the
/// signed value), 7 for FP4 (on the magnitude, between sorted magnitudes).
const std::array<float, 15> &nf4Thresholds();
const std::array<float, 7> &fp4Thresholds();
/// FP4 bit patterns of the 8 magnitudes in increasing order.
const std::array<uint8_t, 8> &fp4SortedCodes();
/// Code of `y` (already divided by the block's absmax; clamped to [-1, 1]).
/// A value equal to a threshold takes the code below it (for FP4, whose
/// thresholds apply to |y|, the smaller magnitude), as bitsandbytes' strict
/// `>` comparisons do. NaN is treated as -1, like the IR lowering's clamp.
uint8_t encodeNF4(float y);
uint8_t encodeFP4(float y);

/// FP8 conversions: round half to even, saturating at the largest finite
/// value; NaN maps to the format's NaN (0x7F for E4M3FN, 0x7E for E5M2).
uint8_t toF8E4M3FN(float x);
uint8_t toF8E5M2(float x);
float fromF8E4M3FN(uint8_t bits);
float fromF8E5M2(uint8_t bits);
/// Largest finite magnitude of the format: 448 and 57344.
float f8MaxFinite(ElementFormat format);

/// Decodes one code of any non-integer format without its scale.
float decodeNonInteger(ElementFormat format, uint8_t code);
/// Encodes `y` (already divided by the scale) in a non-integer format
/// (Dynamic8: encodeDynamic8bit, the CUDA kernel's search).
uint8_t encodeNonInteger(ElementFormat format, float y);

//===----------------------------------------------------------------------===//
// Packing
//===----------------------------------------------------------------------===//

// PackOrder (ElementFormat.h): msb_first is defined for 2- and 4-bit codes
// only (the layout verifier enforces it).

/// Bytes that hold `count` codes of `bits` bits under `order`.
int64_t packedSize(int64_t count, unsigned bits, PackOrder order);
/// Packs the low `bits` bits of each code (one row) into `out`, which must
/// hold packedSize(count, bits, order) bytes. Padding bits are zero.
void packCodes(const uint8_t *codes, int64_t count, unsigned bits,
               PackOrder order, uint8_t *out);
/// Inverse of packCodes: writes `count` codes (zero-extended) to `codes`.
void unpackCodes(const uint8_t *packed, int64_t count, unsigned bits,
                 PackOrder order, uint8_t *codes);

//===----------------------------------------------------------------------===//
// Whole-matrix round-to-nearest
//===----------------------------------------------------------------------===//

/// Symmetric int8 weights as W8A8 kernels use them: scale
/// max(absmax, 1e-5) / 127 per block and codes clamp(roundeven(w / s), -127,
/// 127). Blocks: groups of `groupSize` columns of a row (`groupSize` must
/// divide `cols`), whole rows (`groupSize` 0) or the whole matrix (-1).
/// `scales` is [rows or 1, groups] row-major.
void quantizeSymmetricInt8(const float *weight, int64_t rows, int64_t cols,
                           int64_t groupSize, std::vector<int8_t> &codes,
                           std::vector<float> &scales);

/// Options of the RTN quantizer. Integer formats use the GPTQ repository's
/// quantizer (its `--nearest` baseline, applied per group); NF4/FP4 use the
/// group's absmax as scale, FP8 absmax / max_finite.
struct RTNOptions {
  ElementFormat format = ElementFormat::ui4;
  /// Group size along the last axis; -1 = one group per row, 0 = whole
  /// tensor.
  int64_t groupSize = -1;
  bool symmetric = false;
  enum class ScaleType { F32, F16, BF16 } scaleType = ScaleType::F32;
};

/// Result of quantizing an [rows, cols] matrix: one code per element (the
/// two's-complement bit pattern for signed formats), `scales` and `zeros`
/// of shape [scaleRows, groups] row-major. `zeros` is empty for symmetric
/// signed and non-integer formats.
struct RTNResult {
  std::vector<uint8_t> codes;
  std::vector<float> scales;
  std::vector<int32_t> zeros;
  int64_t scaleRows = 0;
  int64_t groups = 0;
};

/// Round-to-nearest quantization of a row-major [rows, cols] matrix. Integer
/// formats use the GPTQ reference quantizer per group (a symmetric signed
/// format stores q - 2^(bits-1) and no zero-points); NF4/FP4/FP8 use absmax
/// per group. With f16/bf16 scales the zero-point is computed from the f32
/// scale (as the reference computes its parameters in f32), while the codes
/// use the stored, rounded scale so that decoding matches what is stored.
RTNResult quantizeRTN(const float *w, int64_t rows, int64_t cols,
                      const RTNOptions &options);

} // namespace numerics
} // namespace quantopt

#endif // QUANT_NUMERICS_NUMERICS_H
