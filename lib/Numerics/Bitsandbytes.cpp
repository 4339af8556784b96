//===- Bitsandbytes.cpp - bitsandbytes 4-bit and 8-bit blockwise ----------===//
//
// Part of the quant-opt project, under the Apache License v2.0 with LLVM
// Exceptions.
//
//===----------------------------------------------------------------------===//

#include "quant/Numerics/Bitsandbytes.h"

#include <algorithm>
#include <cmath>

using namespace quantopt::numerics;

bool quantopt::numerics::isBnbBlocksize(int64_t blocksize) {
  return blocksize >= 32 && blocksize <= 4096 &&
         (blocksize & (blocksize - 1)) == 0;
}

//===----------------------------------------------------------------------===//
// The 8-bit dynamic map
//===----------------------------------------------------------------------===//

/// torch.linspace(0.1, 1, steps) in f32 as current torch's CPU kernel
/// computes it: the first half counts up from the start, the second half
/// down from the end. The multiply-add is fused, as torch's ISA-dispatched
/// kernels are compiled with contraction; these are the values of published
/// dumps of bitsandbytes' map. (torch 1.13's vectorised linspace differs in
/// the last bit of 42 map entries.)
static std::vector<float> torchLinspaceTenthToOne(int64_t steps) {
  const float start = 0.1f;
  const float end = 1.0f;
  const float step = (end - start) / static_cast<float>(steps - 1);
  std::vector<float> values(steps);
  for (int64_t k = 0; k < steps; ++k) {
    if (k < steps / 2)
      values[k] = std::fma(step, static_cast<float>(k), start);
    else
      values[k] = std::fma(-step, static_cast<float>(steps - 1 - k), end);
  }
  return values;
}

const std::array<float, 256> &quantopt::numerics::dynamicMap8bit() {
  // For exponent e = 0..6: 2^e means of consecutive linspace(0.1, 1, 2^e + 1)
  // boundaries (f32), times the Python float 10^(e-6), which torch applies
  // as an f32 multiply; both signs. Then 0 and 1.0, sorted.
  static const std::array<float, 256> map = [] {
    const double decades[7] = {1e-6, 1e-5, 1e-4, 1e-3, 1e-2, 1e-1, 1.0};
    std::array<float, 256> values{};
    size_t next = 0;
    for (int exponent = 0; exponent < 7; ++exponent) {
      std::vector<float> boundaries =
          torchLinspaceTenthToOne((1 << exponent) + 1);
      float scale = static_cast<float>(decades[exponent]);
      for (size_t k = 0; k + 1 < boundaries.size(); ++k) {
        float mean = (boundaries[k] + boundaries[k + 1]) / 2.0f;
        float value = scale * mean;
        values[next++] = value;
        values[next++] = -value;
      }
    }
    values[next++] = 0.0f;
    values[next++] = 1.0f;
    std::sort(values.begin(), values.end());
    return values;
  }();
  return map;
}

uint8_t quantopt::numerics::encodeDynamic8bit(float y) {
  // kQuantizeBlockwise's dQuantize<0>: seven halving steps from index 127
  // leave a candidate (always even) between the last indices found below
  // and above y; the f32 midpoint to the neighbour on y's side decides, and
  // a value exactly on it keeps the candidate. NaN fails every comparison
  // and walks down to 0.
  const std::array<float, 256> &map = dynamicMap8bit();
  int candidate = 127, below = 0, above = 255;
  float belowValue = -1.0f, aboveValue = 1.0f;
  for (int stride = 64; stride > 0; stride /= 2) {
    float value = map[candidate];
    if (y > value) {
      below = candidate;
      belowValue = value;
      candidate += stride;
    } else {
      above = candidate;
      aboveValue = value;
      candidate -= stride;
    }
  }
  if (above == 255)
    aboveValue = map[255];
  if (below == 0)
    belowValue = map[0];
  float value = map[candidate];
  if (y > value) {
    float midpoint = (aboveValue + value) * 0.5f;
    return static_cast<uint8_t>(y > midpoint ? above : candidate);
  }
  float midpoint = (belowValue + value) * 0.5f;
  return static_cast<uint8_t>(y < midpoint ? below : candidate);
}

//===----------------------------------------------------------------------===//
// Blockwise helpers
//===----------------------------------------------------------------------===//

static bool fail(std::string *error, const std::string &message) {
  if (error)
    *error = message;
  return false;
}

static bool checkInput(const float *x, int64_t count, int64_t blocksize,
                       std::string *error) {
  if (count <= 0)
    return fail(error, "bitsandbytes quantization needs at least one element");
  if (!x)
    return fail(error, "bitsandbytes quantization got no input data");
  if (!isBnbBlocksize(blocksize))
    return fail(error, "bitsandbytes block size " + std::to_string(blocksize) +
                           " is not a power of two in [32, 4096]");
  return true;
}

/// Max |x| per block. fmax skips NaN elements as the kernel's fmaxf does.
static std::vector<float> blockAbsmax(const float *x, int64_t count,
                                      int64_t blocksize) {
  std::vector<float> absmax((count + blocksize - 1) / blocksize, 0.0f);
  for (int64_t i = 0; i < count; ++i) {
    float &slot = absmax[i / blocksize];
    slot = std::fmax(slot, std::fabs(x[i]));
  }
  return absmax;
}

/// Scales every element by its block's f32 reciprocal absmax (as CUDA does)
/// and encodes it with `encode`.
template <typename Encoder>
static std::vector<uint8_t>
encodeBlocks(const float *x, int64_t count, int64_t blocksize,
             const std::vector<float> &absmax, Encoder encode) {
  std::vector<uint8_t> codes(count);
  for (int64_t i = 0; i < count; ++i) {
    float inverse = 1.0f / absmax[i / blocksize];
    codes[i] = encode(x[i] * inverse);
  }
  return codes;
}

//===----------------------------------------------------------------------===//
// 8-bit blockwise
//===----------------------------------------------------------------------===//

bool quantopt::numerics::quantizeBlockwise8bit(const float *x, int64_t count,
                                               int64_t blocksize,
                                               Blockwise8bit &result,
                                               std::string *error) {
  if (!checkInput(x, count, blocksize, error))
    return false;
  result.count = count;
  result.blocksize = blocksize;
  result.absmax = blockAbsmax(x, count, blocksize);
  result.codes =
      encodeBlocks(x, count, blocksize, result.absmax, encodeDynamic8bit);
  return true;
}

void quantopt::numerics::dequantizeBlockwise8bit(const Blockwise8bit &q,
                                                 float *out) {
  const std::array<float, 256> &map = dynamicMap8bit();
  for (int64_t i = 0; i < q.count; ++i)
    out[i] = map[q.codes[i]] * q.absmax[i / q.blocksize];
}

//===----------------------------------------------------------------------===//
// 4-bit blockwise
//===----------------------------------------------------------------------===//

/// f32 mean as torch's CPU mean: sum (accumulated in f64, rounded once),
/// then an f32 division by the count.
static float meanF32(const std::vector<float> &values) {
  double sum = 0.0;
  for (float v : values)
    sum += v;
  return static_cast<float>(sum) / static_cast<float>(values.size());
}

static uint8_t encode4bit(ElementFormat format, float y) {
  if (format == ElementFormat::nf4)
    return encodeNF4(y); // NaN gives 0, as in the kernel.
  // The kernel's FP4 tree sends NaN to +0 (code 0); encodeFP4 treats it as
  // -1.
  return std::isnan(y) ? 0 : encodeFP4(y);
}

bool quantopt::numerics::quantize4bit(const float *x, int64_t count,
                                      ElementFormat format, int64_t blocksize,
                                      bool doubleQuant, Blockwise4bit &result,
                                      std::string *error) {
  if (format != ElementFormat::nf4 && format != ElementFormat::fp4)
    return fail(error, "bitsandbytes 4-bit quantization supports NF4 and FP4");
  if (!checkInput(x, count, blocksize, error))
    return false;
  result = Blockwise4bit();
  result.format = format;
  result.count = count;
  result.blocksize = blocksize;
  result.doubleQuant = doubleQuant;
  std::vector<float> absmax = blockAbsmax(x, count, blocksize);
  std::vector<uint8_t> codes =
      encodeBlocks(x, count, blocksize, absmax,
                   [format](float y) { return encode4bit(format, y); });
  result.packed.resize(packedSize(count, 4, PackOrder::msb_first));
  packCodes(codes.data(), count, 4, PackOrder::msb_first, result.packed.data());
  if (!doubleQuant) {
    result.absmax = std::move(absmax);
    return true;
  }
  result.offset = meanF32(absmax);
  std::vector<float> centered(absmax.size());
  for (size_t i = 0; i < absmax.size(); ++i)
    centered[i] = absmax[i] - result.offset;
  return quantizeBlockwise8bit(
      centered.data(), static_cast<int64_t>(centered.size()),
      kBnbDoubleQuantBlocksize, result.absmaxCodes, error);
}

std::vector<float> quantopt::numerics::blockScales(const Blockwise4bit &q) {
  if (!q.doubleQuant)
    return q.absmax;
  std::vector<float> scales(q.absmaxCodes.count);
  dequantizeBlockwise8bit(q.absmaxCodes, scales.data());
  // Rounded after the multiply, as bitsandbytes adds the offset in a second
  // tensor op (this file is compiled with -ffp-contract=off).
  for (float &scale : scales)
    scale += q.offset;
  return scales;
}

void quantopt::numerics::dequantize4bit(const Blockwise4bit &q, float *out) {
  std::vector<float> scales = blockScales(q);
  std::vector<uint8_t> codes(q.count);
  unpackCodes(q.packed.data(), q.count, 4, PackOrder::msb_first, codes.data());
  const std::array<float, 16> &table =
      q.format == ElementFormat::nf4 ? nf4Table() : fp4Table();
  for (int64_t i = 0; i < q.count; ++i)
    out[i] = table[codes[i]] * scales[i / q.blocksize];
}

int64_t quantopt::numerics::storageBits(const Blockwise4bit &q) {
  int64_t bits = static_cast<int64_t>(q.packed.size()) * 8;
  if (!q.doubleQuant)
    return bits + static_cast<int64_t>(q.absmax.size()) * 32;
  return bits + static_cast<int64_t>(q.absmaxCodes.codes.size()) * 8 +
         static_cast<int64_t>(q.absmaxCodes.absmax.size()) * 32 + 32;
}

double quantopt::numerics::bitsPerParameter(const Blockwise4bit &q) {
  return q.count > 0 ? static_cast<double>(storageBits(q)) /
                           static_cast<double>(q.count)
                     : 0.0;
}
