//===- Numerics.cpp - Reference quantization numerics ---------------------===//
//
// Part of the quant-opt project, under the Apache License v2.0 with LLVM
// Exceptions.
//
//===----------------------------------------------------------------------===//

#include "quant/Numerics/Numerics.h"
#include "quant/Numerics/Bitsandbytes.h"

#include <algorithm>
#include <cassert>
#include <cmath>
#include <cstring>

using namespace quantopt::numerics;

float quantopt::numerics::roundHalfEven(float x) {
  // Rounds with the tie rule spelled out rather than relying on the current
  // rounding mode (std::nearbyint would follow fesetround).
  if (!std::isfinite(x))
    return x;
  float floorX = std::floor(x);
  float diff = x - floorX;
  if (diff > 0.5f)
    return floorX + 1.0f;
  if (diff < 0.5f)
    return floorX;
  return std::fmod(floorX, 2.0f) == 0.0f ? floorX : floorX + 1.0f;
}

static uint32_t floatBits(float x) {
  uint32_t bits;
  std::memcpy(&bits, &x, sizeof(bits));
  return bits;
}

static float bitsToFloat(uint32_t bits) {
  float x;
  std::memcpy(&x, &bits, sizeof(x));
  return x;
}

uint16_t quantopt::numerics::toBF16Bits(float x) {
  uint32_t bits = floatBits(x);
  if (std::isnan(x))
    return static_cast<uint16_t>((bits >> 16) | 0x40);
  uint32_t bias = 0x7FFF + ((bits >> 16) & 1);
  return static_cast<uint16_t>((bits + bias) >> 16);
}

float quantopt::numerics::fromBF16Bits(uint16_t bits) {
  return bitsToFloat(static_cast<uint32_t>(bits) << 16);
}

float quantopt::numerics::roundToBF16(float x) {
  return fromBF16Bits(toBF16Bits(x));
}

uint16_t quantopt::numerics::toF16Bits(float x) {
  _Float16 h = static_cast<_Float16>(x); // IEEE conversion, ties to even.
  uint16_t bits;
  std::memcpy(&bits, &h, sizeof(bits));
  return bits;
}

float quantopt::numerics::fromF16Bits(uint16_t bits) {
  _Float16 h;
  std::memcpy(&h, &bits, sizeof(h));
  return static_cast<float>(h);
}

float quantopt::numerics::roundToF16(float x) {
  return fromF16Bits(toF16Bits(x));
}

//===----------------------------------------------------------------------===//
// Element formats
//===----------------------------------------------------------------------===//

namespace {
struct FormatInfo {
  ElementFormat format;
  std::string_view name;
  unsigned bits;
};
} // namespace

static constexpr FormatInfo kFormats[] = {
    {ElementFormat::si2, "si2", 2},
    {ElementFormat::si3, "si3", 3},
    {ElementFormat::si4, "si4", 4},
    {ElementFormat::si5, "si5", 5},
    {ElementFormat::si6, "si6", 6},
    {ElementFormat::si7, "si7", 7},
    {ElementFormat::si8, "si8", 8},
    {ElementFormat::ui2, "ui2", 2},
    {ElementFormat::ui3, "ui3", 3},
    {ElementFormat::ui4, "ui4", 4},
    {ElementFormat::ui5, "ui5", 5},
    {ElementFormat::ui6, "ui6", 6},
    {ElementFormat::ui7, "ui7", 7},
    {ElementFormat::ui8, "ui8", 8},
    {ElementFormat::nf4, "nf4", 4},
    {ElementFormat::fp4, "fp4", 4},
    {ElementFormat::f8E4M3FN, "f8E4M3FN", 8},
    {ElementFormat::f8E5M2, "f8E5M2", 8},
    {ElementFormat::dynamic8, "dynamic8", 8},
};

static const FormatInfo &infoOf(ElementFormat format) {
  return kFormats[static_cast<uint32_t>(format)];
}

std::string_view quantopt::numerics::stringifyElementFormat(ElementFormat f) {
  return infoOf(f).name;
}

std::optional<ElementFormat>
quantopt::numerics::symbolizeElementFormat(std::string_view name) {
  for (const FormatInfo &info : kFormats)
    if (info.name == name)
      return info.format;
  return std::nullopt;
}

std::string_view quantopt::numerics::stringifyPackOrder(PackOrder order) {
  switch (order) {
  case PackOrder::none:
    return "none";
  case PackOrder::lsb_first:
    return "lsb_first";
  case PackOrder::msb_first:
    return "msb_first";
  }
  return "";
}

std::optional<PackOrder>
quantopt::numerics::symbolizePackOrder(std::string_view name) {
  for (PackOrder order :
       {PackOrder::none, PackOrder::lsb_first, PackOrder::msb_first})
    if (stringifyPackOrder(order) == name)
      return order;
  return std::nullopt;
}

unsigned quantopt::numerics::getBitWidth(ElementFormat format) {
  return infoOf(format).bits;
}

bool quantopt::numerics::isSignedIntegerFormat(ElementFormat format) {
  return format <= ElementFormat::si8;
}

bool quantopt::numerics::isIntegerFormat(ElementFormat format) {
  return format <= ElementFormat::ui8;
}

bool quantopt::numerics::isF8Format(ElementFormat format) {
  return format == ElementFormat::f8E4M3FN || format == ElementFormat::f8E5M2;
}

int32_t quantopt::numerics::getMinCode(ElementFormat format) {
  unsigned bits = getBitWidth(format);
  return isSignedIntegerFormat(format) ? -(1 << (bits - 1)) : 0;
}

int32_t quantopt::numerics::getMaxCode(ElementFormat format) {
  unsigned bits = getBitWidth(format);
  return isSignedIntegerFormat(format) ? (1 << (bits - 1)) - 1
                                       : (1 << bits) - 1;
}

ElementFormat quantopt::numerics::getIntegerFormat(unsigned bits,
                                                   bool isSigned) {
  assert(bits >= 2 && bits <= 8 && "integer codes have 2..8 bits");
  auto first = isSigned ? ElementFormat::si2 : ElementFormat::ui2;
  return static_cast<ElementFormat>(static_cast<uint32_t>(first) + bits - 2);
}

static int32_t clampToCode(float v, int32_t qmin, int32_t qmax) {
  // maxnum/minnum semantics: NaN yields qmin.
  float lo = static_cast<float>(qmin), hi = static_cast<float>(qmax);
  float clamped = std::fmin(std::fmax(v, lo), hi);
  return static_cast<int32_t>(clamped);
}

int32_t quantopt::numerics::quantizeAffine(float x, float scale, int32_t zero,
                                           int32_t qmin, int32_t qmax) {
  if (scale == 0.0f)
    return std::clamp(zero, qmin, qmax);
  return clampToCode(roundHalfEven(x / scale) + static_cast<float>(zero), qmin,
                     qmax);
}

int32_t quantopt::numerics::quantizeAffineFloatZero(float x, float scale,
                                                    float zero, int32_t qmin,
                                                    int32_t qmax) {
  if (scale == 0.0f)
    return clampToCode(roundHalfEven(zero), qmin, qmax);
  return clampToCode(roundHalfEven(x / scale + zero), qmin, qmax);
}

GPTQRange quantopt::numerics::gptqRange(const float *x, int64_t count,
                                        bool sym) {
  float xmin = 0.0f, xmax = 0.0f;
  for (int64_t i = 0; i < count; ++i) {
    xmin = std::min(xmin, x[i]);
    xmax = std::max(xmax, x[i]);
  }
  if (sym) {
    xmax = std::max(std::fabs(xmin), xmax);
    if (xmin < 0.0f)
      xmin = -xmax;
  }
  if (xmin == 0.0f && xmax == 0.0f) {
    xmin = -1.0f;
    xmax = 1.0f;
  }
  return {xmin, xmax};
}

AffineParams quantopt::numerics::gptqFindParams(const float *x, int64_t count,
                                                unsigned bits, bool sym) {
  float maxq = static_cast<float>((1 << bits) - 1);
  GPTQRange range = gptqRange(x, count, sym);
  AffineParams params;
  params.scale = (range.max - range.min) / maxq;
  if (sym)
    params.zero = 1 << (bits - 1);
  else
    params.zero =
        static_cast<int32_t>(roundHalfEven(-range.min / params.scale));
  return params;
}

//===----------------------------------------------------------------------===//
// Lookup formats
//===----------------------------------------------------------------------===//

const std::array<float, 16> &quantopt::numerics::nf4Table() {
  static const std::array<float, 16> table = {-1.0f,
                                              -0.6961928009986877f,
                                              -0.5250730514526367f,
                                              -0.39491748809814453f,
                                              -0.28444138169288635f,
                                              -0.18477343022823334f,
                                              -0.09105003625154495f,
                                              0.0f,
                                              0.07958029955625534f,
                                              0.16093020141124725f,
                                              0.24611230194568634f,
                                              0.33791524171829224f,
                                              0.44070982933044434f,
                                              0.5626170039176941f,
                                              0.7229568362236023f,
                                              1.0f};
  return table;
}

const std::array<float, 16> &quantopt::numerics::fp4Table() {
  // bitsandbytes FP4 (E2M1, bias 2): bit 3 is the sign, bits 2..0 index
  // {0, 0.0625, 8, 12, 4, 6, 2, 3} / 12.
  static const std::array<float, 16> table = [] {
    const float magnitudes[8] = {0.0f, 0.0625f, 8.0f, 12.0f,
                                 4.0f, 6.0f,    2.0f, 3.0f};
    std::array<float, 16> t{};
    for (int i = 0; i < 8; ++i) {
      t[i] = magnitudes[i] / 12.0f;
      t[i + 8] = -magnitudes[i] / 12.0f;
    }
    return t;
  }();
  return table;
}

const std::array<float, 15> &quantopt::numerics::nf4Thresholds() {
  // bitsandbytes' decision thresholds (midpoints of the table).
  static const std::array<float, 15> thresholds = {
      -0.8480964004993439f,   -0.6106329262256622f,  -0.4599952697753906f,
      -0.33967943489551544f,  -0.23460740596055984f, -0.13791173323988914f,
      -0.045525018125772476f, 0.03979014977812767f,  0.1202552504837513f,
      0.2035212516784668f,    0.2920137718319893f,   0.3893125355243683f,
      0.5016634166240692f,    0.6427869200706482f,   0.8614784181118011f};
  return thresholds;
}

const std::array<float, 7> &quantopt::numerics::fp4Thresholds() {
  static const std::array<float, 7> thresholds = {
      0.00260417f, 0.0859375f, 0.20833333f, 0.29166667f,
      0.4166667f,  0.583333f,  0.8333333f};
  return thresholds;
}

const std::array<uint8_t, 8> &quantopt::numerics::fp4SortedCodes() {
  static const std::array<uint8_t, 8> codes = {0b000, 0b001, 0b110, 0b111,
                                               0b100, 0b101, 0b010, 0b011};
  return codes;
}

uint8_t quantopt::numerics::encodeNF4(float y) {
  // A value equal to a threshold takes the lower code; NaN counts as -1.
  if (std::isnan(y))
    return 0;
  uint8_t code = 0;
  for (float t : nf4Thresholds())
    code += y > t ? 1 : 0;
  return code;
}

uint8_t quantopt::numerics::encodeFP4(float y) {
  if (std::isnan(y))
    y = -1.0f;
  float magnitude = std::fabs(y);
  unsigned rank = 0;
  for (float t : fp4Thresholds())
    rank += magnitude > t ? 1 : 0;
  uint8_t code = fp4SortedCodes()[rank];
  if (y < 0.0f)
    code |= 0x8;
  return code;
}

//===----------------------------------------------------------------------===//
// FP8
//===----------------------------------------------------------------------===//

namespace {
/// An 8-bit IEEE-like float format with `expBits` exponent bits.
struct MiniFloat {
  unsigned expBits;
  unsigned manBits;
  int bias;
  uint8_t maxFiniteCode; // largest positive finite bit pattern
  uint8_t nanCode;

  float decode(uint8_t bits) const {
    bool negative = bits & 0x80;
    unsigned magnitude = bits & 0x7F;
    unsigned exponent = magnitude >> manBits;
    unsigned mantissa = magnitude & ((1u << manBits) - 1);
    float value;
    if (magnitude > maxFiniteCode) {
      // E5M2: 0x7C is infinity, above it NaN. E4M3FN: only 0x7F, NaN.
      if (expBits == 5 && magnitude == 0x7C)
        value = INFINITY;
      else
        value = NAN;
    } else if (exponent == 0) {
      value = std::ldexp(static_cast<float>(mantissa), 1 - bias - manBits);
    } else {
      value = std::ldexp(static_cast<float>(mantissa | (1u << manBits)),
                         static_cast<int>(exponent) - bias -
                             static_cast<int>(manBits));
    }
    return negative ? -value : value;
  }

  uint8_t encode(float x) const {
    if (std::isnan(x))
      return nanCode;
    uint8_t sign = std::signbit(x) ? 0x80 : 0x00;
    double magnitude = std::fabs(static_cast<double>(x));
    // Positive finite codes are ordered like their values: binary search for
    // the largest code not above the magnitude, then round to nearest with
    // ties to the even (mantissa LSB 0) code.
    if (magnitude >= decode(maxFiniteCode))
      return sign | maxFiniteCode;
    unsigned lo = 0, hi = maxFiniteCode;
    while (lo < hi) {
      unsigned mid = (lo + hi + 1) / 2;
      if (decode(static_cast<uint8_t>(mid)) <= magnitude)
        lo = mid;
      else
        hi = mid - 1;
    }
    double below = decode(static_cast<uint8_t>(lo));
    double above = decode(static_cast<uint8_t>(lo + 1));
    double dBelow = magnitude - below, dAbove = above - magnitude;
    unsigned code = lo;
    if (dAbove < dBelow || (dAbove == dBelow && (lo & 1)))
      code = lo + 1;
    return sign | static_cast<uint8_t>(code);
  }
};
} // namespace

static const MiniFloat kE4M3FN{4, 3, 7, 0x7E, 0x7F};
static const MiniFloat kE5M2{5, 2, 15, 0x7B, 0x7E};

uint8_t quantopt::numerics::toF8E4M3FN(float x) { return kE4M3FN.encode(x); }
uint8_t quantopt::numerics::toF8E5M2(float x) { return kE5M2.encode(x); }
float quantopt::numerics::fromF8E4M3FN(uint8_t bits) {
  return kE4M3FN.decode(bits);
}
float quantopt::numerics::fromF8E5M2(uint8_t bits) {
  return kE5M2.decode(bits);
}

float quantopt::numerics::f8MaxFinite(ElementFormat format) {
  return format == ElementFormat::f8E4M3FN ? 448.0f : 57344.0f;
}

float quantopt::numerics::decodeNonInteger(ElementFormat format, uint8_t code) {
  switch (format) {
  case ElementFormat::nf4:
    return nf4Table()[code & 0xF];
  case ElementFormat::fp4:
    return fp4Table()[code & 0xF];
  case ElementFormat::f8E4M3FN:
    return fromF8E4M3FN(code);
  case ElementFormat::f8E5M2:
    return fromF8E5M2(code);
  case ElementFormat::dynamic8:
    return dynamicMap8bit()[code];
  default:
    assert(false && "integer format");
    return 0.0f;
  }
}

uint8_t quantopt::numerics::encodeNonInteger(ElementFormat format, float y) {
  switch (format) {
  case ElementFormat::nf4:
    return encodeNF4(std::fmin(std::fmax(y, -1.0f), 1.0f));
  case ElementFormat::fp4:
    return encodeFP4(std::fmin(std::fmax(y, -1.0f), 1.0f));
  case ElementFormat::f8E4M3FN:
    return toF8E4M3FN(y);
  case ElementFormat::f8E5M2:
    return toF8E5M2(y);
  case ElementFormat::dynamic8:
    return encodeDynamic8bit(y);
  default:
    assert(false && "integer format");
    return 0;
  }
}

//===----------------------------------------------------------------------===//
// Packing
//===----------------------------------------------------------------------===//

int64_t quantopt::numerics::packedSize(int64_t count, unsigned bits,
                                       PackOrder order) {
  if (order == PackOrder::none)
    return count;
  return (count * bits + 7) / 8;
}

void quantopt::numerics::packCodes(const uint8_t *codes, int64_t count,
                                   unsigned bits, PackOrder order,
                                   uint8_t *out) {
  assert((order != PackOrder::msb_first || bits == 2 || bits == 4) &&
         "msb_first packing is defined for 2- and 4-bit codes only");
  if (order == PackOrder::none) {
    std::memcpy(out, codes, count);
    return;
  }
  int64_t bytes = packedSize(count, bits, order);
  std::memset(out, 0, bytes);
  uint32_t mask = (1u << bits) - 1;
  for (int64_t k = 0; k < count; ++k) {
    uint32_t code = codes[k] & mask;
    if (order == PackOrder::msb_first) {
      // Element 0 of each byte in the highest bits.
      int64_t perByte = 8 / bits;
      int64_t byte = k / perByte;
      unsigned shift = 8 - bits * static_cast<unsigned>(k % perByte + 1);
      out[byte] |= static_cast<uint8_t>(code << shift);
      continue;
    }
    int64_t bit = k * bits;
    int64_t byte = bit / 8;
    unsigned shift = static_cast<unsigned>(bit % 8);
    uint32_t word = code << shift;
    out[byte] |= static_cast<uint8_t>(word & 0xFF);
    if (shift + bits > 8)
      out[byte + 1] |= static_cast<uint8_t>(word >> 8);
  }
}

void quantopt::numerics::unpackCodes(const uint8_t *packed, int64_t count,
                                     unsigned bits, PackOrder order,
                                     uint8_t *codes) {
  assert((order != PackOrder::msb_first || bits == 2 || bits == 4) &&
         "msb_first packing is defined for 2- and 4-bit codes only");
  if (order == PackOrder::none) {
    std::memcpy(codes, packed, count);
    return;
  }
  uint32_t mask = (1u << bits) - 1;
  int64_t bytes = packedSize(count, bits, order);
  for (int64_t k = 0; k < count; ++k) {
    if (order == PackOrder::msb_first) {
      int64_t perByte = 8 / bits;
      unsigned shift = 8 - bits * static_cast<unsigned>(k % perByte + 1);
      codes[k] = static_cast<uint8_t>((packed[k / perByte] >> shift) & mask);
      continue;
    }
    int64_t bit = k * bits;
    int64_t byte = bit / 8;
    unsigned shift = static_cast<unsigned>(bit % 8);
    uint32_t word = packed[byte];
    if (byte + 1 < bytes)
      word |= static_cast<uint32_t>(packed[byte + 1]) << 8;
    codes[k] = static_cast<uint8_t>((word >> shift) & mask);
  }
}

//===----------------------------------------------------------------------===//
// RTN
//===----------------------------------------------------------------------===//

static float roundScale(float scale, RTNOptions::ScaleType type) {
  switch (type) {
  case RTNOptions::ScaleType::F16:
    return roundToF16(scale);
  case RTNOptions::ScaleType::BF16:
    return roundToBF16(scale);
  case RTNOptions::ScaleType::F32:
    break;
  }
  return scale;
}

RTNResult quantopt::numerics::quantizeRTN(const float *w, int64_t rows,
                                          int64_t cols,
                                          const RTNOptions &options) {
  ElementFormat format = options.format;
  bool isInteger = isIntegerFormat(format);
  bool perTensor = options.groupSize == 0;
  int64_t groupSize = options.groupSize > 0 ? options.groupSize : cols;
  RTNResult result;
  result.scaleRows = perTensor ? 1 : rows;
  result.groups = perTensor ? 1 : (cols + groupSize - 1) / groupSize;
  result.codes.resize(rows * cols);
  result.scales.resize(result.scaleRows * result.groups);
  bool signedSym = isSignedIntegerFormat(format);
  bool storeZeros = isInteger && !signedSym;
  if (storeZeros)
    result.zeros.resize(result.scales.size());

  // Quantizes the elements [r, c0..c1) of every row in `rowBegin..rowEnd`
  // with parameters computed over all of them.
  std::vector<float> slice;
  auto quantizeBlock = [&](int64_t rowBegin, int64_t rowEnd, int64_t c0,
                           int64_t c1, int64_t paramIndex) {
    slice.clear();
    for (int64_t r = rowBegin; r < rowEnd; ++r)
      slice.insert(slice.end(), w + r * cols + c0, w + r * cols + c1);
    if (isInteger) {
      // A signed format stores the symmetric GPTQ grid shifted by -2^(b-1).
      bool sym = options.symmetric || signedSym;
      AffineParams params =
          gptqFindParams(slice.data(), slice.size(), getBitWidth(format), sym);
      float scale = roundScale(params.scale, options.scaleType);
      int32_t zero = signedSym ? 0 : params.zero;
      int32_t qmin = getMinCode(format), qmax = getMaxCode(format);
      result.scales[paramIndex] = scale;
      if (storeZeros)
        result.zeros[paramIndex] = zero;
      for (int64_t r = rowBegin; r < rowEnd; ++r)
        for (int64_t c = c0; c < c1; ++c)
          result.codes[r * cols + c] = static_cast<uint8_t>(
              quantizeAffine(w[r * cols + c], scale, zero, qmin, qmax));
      return;
    }
    float absMax = 0.0f;
    for (float v : slice)
      absMax = std::max(absMax, std::fabs(v));
    float scale = absMax;
    if (isF8Format(format))
      scale = absMax / f8MaxFinite(format);
    scale = roundScale(scale, options.scaleType);
    result.scales[paramIndex] = scale;
    for (int64_t r = rowBegin; r < rowEnd; ++r)
      for (int64_t c = c0; c < c1; ++c) {
        float y = scale == 0.0f ? 0.0f : w[r * cols + c] / scale;
        result.codes[r * cols + c] = encodeNonInteger(format, y);
      }
  };

  if (perTensor) {
    quantizeBlock(0, rows, 0, cols, 0);
    return result;
  }
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t g = 0; g < result.groups; ++g)
      quantizeBlock(r, r + 1, g * groupSize,
                    std::min(cols, (g + 1) * groupSize), r * result.groups + g);
  return result;
}

void quantopt::numerics::quantizeSymmetricInt8(const float *weight,
                                               int64_t rows, int64_t cols,
                                               int64_t groupSize,
                                               std::vector<int8_t> &codes,
                                               std::vector<float> &scales) {
  codes.resize(rows * cols);
  int64_t width = groupSize > 0 ? groupSize : cols;
  int64_t groups = cols / width;
  auto scaleOf = [](float absMax) { return std::max(absMax, 1e-5f) / 127.0f; };
  scales.clear();
  if (groupSize < 0) {
    float absMax = 0.0f;
    for (int64_t i = 0; i < rows * cols; ++i)
      absMax = std::max(absMax, std::fabs(weight[i]));
    scales.push_back(scaleOf(absMax));
  } else {
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t g = 0; g < groups; ++g) {
        float absMax = 0.0f;
        for (int64_t c = g * width; c < (g + 1) * width; ++c)
          absMax = std::max(absMax, std::fabs(weight[r * cols + c]));
        scales.push_back(scaleOf(absMax));
      }
  }
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c) {
      float s = groupSize < 0 ? scales[0] : scales[r * groups + c / width];
      float q = roundHalfEven(weight[r * cols + c] / s);
      codes[r * cols + c] = int8_t(std::clamp(q, -127.0f, 127.0f));
    }
}
