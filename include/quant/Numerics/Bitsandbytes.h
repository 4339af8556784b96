//===- Bitsandbytes.h - bitsandbytes 4-bit and 8-bit blockwise --*- C++ -*-===//
//
// Part of the quant-opt project, under the Apache License v2.0 with LLVM
// Exceptions.
//
//===----------------------------------------------------------------------===//
//
// bitsandbytes' blockwise quantization (bitsandbytes-foundation/bitsandbytes
// `functional.py` quantize_4bit / dequantize_4bit / quantize_blockwise /
// create_dynamic_map with the CUDA kernels of `csrc/kernels.cu`; see
// docs/Numerics.md §0 and §7): NF4 / FP4 codes over
// blocks of the flattened tensor with an f32 absmax per block, optionally
// with double quantization of the absmax (compress_statistics=True): the
// mean is subtracted and the rest is coded with the 8-bit signed dynamic map
// in blocks of 256.
//
// The CUDA kernels are the reference: elements are scaled by the f32
// reciprocal of the absmax (x * (1 / absmax)), NF4 / FP4 use the kernels'
// strict `>` thresholds, and the 8-bit search is kQuantizeBlockwise's
// binary search with its f32 midpoints. Deliberate differences and choices:
//  - An all-zero block has absmax 0; 1 / 0 = inf and 0 * inf = NaN, which
//    the kernels' comparisons send to code 0 (NF4 -1.0, FP4 +0, dynamic map
//    index 0). This is kept; every such element decodes to 0 (NF4: -0.0).
//  - bitsandbytes' CPU fallback (backends/default) differs from CUDA and is
//    not followed: it picks the nearest table entry by argmin of f32
//    distances (ties to the lower index, where CUDA's 8-bit search sends a
//    tie to the even index) and its FP4 table is rounded to 4 decimals.
//  - The double-quantization offset is the f32 mean of the absmax values in
//    torch's CPU steps (an f32 sum, then an f32 division by the count), but
//    the sum is accumulated in f64 in index order and rounded once. torch
//    sums in f32 in an ISA-dependent vectorised cascade (CUDA: a tree sum
//    times f32(1/n)), so its offset can differ in the last bits (1-2 ulp in
//    9 of 116 random cases against torch 1.13); the 4-bit codes never
//    depend on it.
//
//===----------------------------------------------------------------------===//

#ifndef QUANT_NUMERICS_BITSANDBYTES_H
#define QUANT_NUMERICS_BITSANDBYTES_H

#include "quant/Numerics/Numerics.h"

#include <array>
#include <cstdint>
#include <string>
#include <vector>

namespace quantopt {
namespace numerics {

/// Block size of the absmax values under double quantization (fixed by
/// bitsandbytes).
constexpr int64_t kBnbDoubleQuantBlocksize = 256;

/// Whether bitsandbytes accepts `blocksize`: a power of two in [32, 4096].
bool isBnbBlocksize(int64_t blocksize);

/// create_dynamic_map(signed=True, max_exponent_bits=7, total_bits=8): 256
/// sorted f32 values from -0.99296875 to 1.0, with 0 at index 127. Built in
/// the reference's precision steps (see Bitsandbytes.cpp).
const std::array<float, 256> &dynamicMap8bit();

/// Index of `y` (already scaled by 1 / absmax) in the dynamic map, as the
/// CUDA kernel's non-stochastic search returns it: nearest entry by f32
/// midpoints, a value on a midpoint takes the even index, NaN gives 0.
uint8_t encodeDynamic8bit(float y);

/// quantize_blockwise with the dynamic map: one code per element and one f32
/// absmax per block of `blocksize` elements (the last block may be partial).
struct Blockwise8bit {
  int64_t count = 0;
  int64_t blocksize = 0;
  std::vector<uint8_t> codes;
  std::vector<float> absmax;
};

/// Returns false and sets `*error` (when non-null) for count <= 0, a null
/// `x` or a block size bitsandbytes rejects.
bool quantizeBlockwise8bit(const float *x, int64_t count, int64_t blocksize,
                           Blockwise8bit &result, std::string *error);
/// out[i] = map[codes[i]] * absmax[i / blocksize]; `out` holds q.count
/// floats.
void dequantizeBlockwise8bit(const Blockwise8bit &q, float *out);

/// quantize_4bit's result. `packed` holds ceil(count / 2) bytes: element 2k
/// in the high nibble, 2k + 1 in the low one (an odd count leaves the last
/// low nibble 0). Without double quantization `absmax` has one value per
/// block; with it `absmax` is empty and the per-block scales are
/// absmaxCodes decoded plus `offset`.
struct Blockwise4bit {
  ElementFormat format = ElementFormat::nf4;
  int64_t count = 0;
  int64_t blocksize = 64;
  std::vector<uint8_t> packed;
  std::vector<float> absmax;
  bool doubleQuant = false;
  Blockwise8bit absmaxCodes;
  float offset = 0.0f;

  int64_t blocks() const { return (count + blocksize - 1) / blocksize; }
};

/// Quantizes `count` floats (the flattened tensor) to NF4 or FP4. Returns
/// false and sets `*error` (when non-null) for count <= 0, a null `x`, a
/// format other than nf4 / fp4, or a block size bitsandbytes rejects.
bool quantize4bit(const float *x, int64_t count, ElementFormat format,
                  int64_t blocksize, bool doubleQuant, Blockwise4bit &result,
                  std::string *error);

/// The f32 scale of each block as dequantize_4bit uses it: `absmax`, or with
/// double quantization map[code] * absmax2 + offset (two f32 roundings).
std::vector<float> blockScales(const Blockwise4bit &q);

/// out[i] = table[code_i] * scale[i / blocksize]; `out` holds q.count
/// floats.
void dequantize4bit(const Blockwise4bit &q, float *out);

/// Bits stored for `q`: the packed codes plus the f32 absmax values, or with
/// double quantization the 8-bit absmax codes, the f32 absmax2 values and
/// the f32 offset. The format's constant tables are not counted.
int64_t storageBits(const Blockwise4bit &q);
/// storageBits / count: 4.5 for NF4 with blocksize 64, about 4.127 with
/// double quantization.
double bitsPerParameter(const Blockwise4bit &q);

} // namespace numerics
} // namespace quantopt

#endif // QUANT_NUMERICS_BITSANDBYTES_H
