//===- GGUFQuantsTest.cpp - ggml block quantizers -------------------------===//
//
// Part of the quant-opt project, under the Apache License v2.0 with LLVM
// Exceptions.
//
//===----------------------------------------------------------------------===//
//
// Golden and property tests of GGUFQuants. The goldens (FNV-1a hashes of
// whole rows, full hex of one block per type) were produced by the library
// and, during development, compared byte for byte with ggml itself (the
// llama.cpp-built libggml-base.so: `quantize_<type>` with and without an
// imatrix, and `dequantize_row_<type>`, on these inputs and on ~300k random
// and edge-case rows, ±inf and NaN included). Inside the suite every golden row
// is also checked without the library's decoder: `decodeBlock` below reads the
// bytes straight from the layout table (docs/Numerics.md §8), and verifyRow
// checks that (a) its values equal dequantizeGGMLRows bit for bit, (b) the
// codes are the nearest grid points of the stored f16 scales wherever ggml
// requantizes, (c) the scales obey ggml's selection rules, and (d) the error
// stays within the grid's step.
//
//===----------------------------------------------------------------------===//

#include "quant/Numerics/GGUFQuants.h"
#include "../Numerics/TestUtil.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

using namespace quantopt::numerics;

namespace {

//===----------------------------------------------------------------------===//
// Deterministic inputs
//===----------------------------------------------------------------------===//

// An approximately normal variate is the sum of 12 uniform 24-bit integers
// (from the shared splitmix64 generator) converted to float once, so inputs
// are the same bits on every platform and standard library.
class Generator {
public:
  explicit Generator(uint64_t seed) : rng(seed) {}
  float gauss() {
    int64_t sum = 0;
    for (int i = 0; i < 12; ++i)
      sum += static_cast<int64_t>(rng.next() >> 40);
    return static_cast<float>(sum - 6 * (int64_t(1) << 24)) / 16777216.0f;
  }
  float uniform() { return static_cast<float>(rng.next() >> 40) / 16777216.0f; }

private:
  quanttest::Rng rng;
};

constexpr int64_t kEdgeCols = 4096;

// 16 super-blocks of 256, each an edge case for some quantizer.
std::vector<float> edgeCaseRow() {
  Generator gen(42);
  std::vector<float> x(kEdgeCols);
  auto superBlock = [&](int s) { return x.data() + 256 * s; };
  for (int s = 0; s < 16; ++s) {
    float *v = superBlock(s);
    for (int k = 0; k < 256; ++k) {
      switch (s) {
      case 0: // plain N(0, 1)
        v[k] = gen.gauss();
        break;
      case 1: // all zero
        v[k] = 0;
        break;
      case 2: // one huge value among small ones
        v[k] = k == 77 ? 1000.0f : 0.01f * gen.gauss();
        break;
      case 3: // far below GROUP_MAX_EPS
        v[k] = 1e-30f * gen.gauss();
        break;
      case 4: // f16-subnormal scales
        v[k] = 1e-6f * gen.gauss();
        break;
      case 5: // each 32-block dominated by a negative value
        v[k] = k % 32 == 5 ? -2.0f - 0.01f * (k / 32) : 0.1f * gen.gauss();
        break;
      case 6: // each 32-block dominated by a positive value
        v[k] = k % 32 == 9 ? 2.0f + 0.01f * (k / 32) : 0.1f * gen.gauss();
        break;
      case 7: // multiples of 1/8 in [-2, 2]: halfway points of d = 1/4
        v[k] = 0.125f * static_cast<float>((k * 7) % 33 - 16);
        break;
      case 8: // Q8_0 gets d = 1 exactly, so x.5 values are exact ties
        v[k] =
            k % 32 == 31 ? 127.0f : static_cast<float>((k * 13) % 254) - 126.5f;
        break;
      case 9: // constant: max == min
        v[k] = 1.0f;
        break;
      case 10:
        v[k] = -0.75f;
        break;
      case 11: // |x| ties everywhere; the first element decides the sign
        v[k] = k % 2 ? -1.0f : 1.0f;
        break;
      case 12: // ramp
        v[k] = (static_cast<float>(k) - 127.5f) / 128.0f;
        break;
      case 13: // half zero, half noise
        v[k] = k < 128 ? 0.0f : gen.gauss();
        break;
      case 14: // large magnitudes (f16 scales near 10^3)
        v[k] = 1e4f * gen.gauss();
        break;
      default: // realistic weights with an offset
        v[k] = 0.02f * gen.gauss() + 0.01f;
        break;
      }
    }
  }
  return x;
}

// E[x^2]-like importance: positive, a few columns 100x larger, and one
// 16-column group with zero importance (weights all zero in that group).
std::vector<float> importanceFor(int64_t cols, uint64_t seed) {
  Generator gen(seed);
  std::vector<float> importance(cols);
  for (int64_t j = 0; j < cols; ++j) {
    importance[j] = 0.1f + gen.uniform();
    if (j % 37 == 0)
      importance[j] *= 100;
    if (j >= 528 && j < 544)
      importance[j] = 0;
  }
  return importance;
}

std::vector<float> gaussRow(int64_t n, uint64_t seed, float scale = 1.0f) {
  Generator gen(seed);
  std::vector<float> x(n);
  for (float &v : x)
    v = scale * gen.gauss();
  return x;
}

//===----------------------------------------------------------------------===//
// Helpers
//===----------------------------------------------------------------------===//

const GGMLType kBlockTypes[] = {GGMLType::Q4_0, GGMLType::Q4_1, GGMLType::Q5_0,
                                GGMLType::Q5_1, GGMLType::Q8_0, GGMLType::Q2_K,
                                GGMLType::Q3_K, GGMLType::Q4_K, GGMLType::Q5_K,
                                GGMLType::Q6_K};

std::string nameOf(GGMLType type) {
  return std::string(getGGMLTypeTraits(type).name);
}

uint64_t fnv1a(const std::vector<uint8_t> &bytes) {
  uint64_t hash = 0xcbf29ce484222325ull;
  for (uint8_t b : bytes) {
    hash ^= b;
    hash *= 0x100000001b3ull;
  }
  return hash;
}

std::string hexOf(const uint8_t *bytes, size_t n) {
  std::string out;
  char buf[3];
  for (size_t i = 0; i < n; ++i) {
    std::snprintf(buf, sizeof(buf), "%02x", bytes[i]);
    out += buf;
  }
  return out;
}

std::vector<uint8_t> quantize(GGMLType type, const std::vector<float> &x,
                              int64_t rows, const float *importance) {
  int64_t cols = static_cast<int64_t>(x.size()) / rows;
  std::vector<uint8_t> bytes(rows * ggmlRowBytes(type, cols));
  std::string error;
  EXPECT_TRUE(quantizeGGMLRows(type, x.data(), rows, cols, importance,
                               bytes.data(), &error))
      << error;
  return bytes;
}

std::vector<float> dequantize(GGMLType type, const std::vector<uint8_t> &bytes,
                              int64_t rows, int64_t cols) {
  std::vector<float> y(rows * cols);
  std::string error;
  EXPECT_TRUE(
      dequantizeGGMLRows(type, bytes.data(), rows, cols, y.data(), &error))
      << error;
  return y;
}

//===----------------------------------------------------------------------===//
// Independent decoder, written from the layout table
//===----------------------------------------------------------------------===//

// IEEE half to float by hand (not via the library's fromF16Bits).
float halfToFloat(const uint8_t *p) {
  unsigned bits = p[0] | p[1] << 8;
  int exponent = (bits >> 10) & 31;
  int mantissa = bits & 1023;
  float magnitude;
  if (exponent == 0)
    magnitude = std::ldexp(static_cast<float>(mantissa), -24);
  else if (exponent == 31)
    magnitude = mantissa ? NAN : INFINITY;
  else
    magnitude = std::ldexp(static_cast<float>(1024 + mantissa), exponent - 25);
  return bits & 0x8000 ? -magnitude : magnitude;
}

// One decoded element: value = scale * (code - zero) - offset, evaluated in
// f32 in this order (ggml's formulas are all of this shape: Q4_1's d*q + m
// is d*q - (-m), Q6_K's d*sc*q is (d*sc)*q).
struct Element {
  int code;
  int zero;
  int maxCode;
  float scale;
  float offset;
  float value() const {
    return scale * static_cast<float>(code - zero) - offset;
  }
  float valueAt(int q) const {
    return scale * static_cast<float>(q - zero) - offset;
  }
};

std::vector<Element> decodeBlock(GGMLType type, const uint8_t *b) {
  std::vector<Element> out;
  auto nibble = [](const uint8_t *qs, int j) {
    // Legacy: element j < 16 low nibble of qs[j], j >= 16 high of qs[j-16].
    return j < 16 ? qs[j] & 15 : qs[j - 16] >> 4;
  };
  auto u32 = [](const uint8_t *p) {
    return uint32_t(p[0]) | uint32_t(p[1]) << 8 | uint32_t(p[2]) << 16 |
           uint32_t(p[3]) << 24;
  };
  auto twoBits = [](const uint8_t *qs, int e) {
    return (qs[32 * (e / 128) + e % 32] >> (2 * ((e % 128) / 32))) & 3;
  };
  auto sixBitK4 = [](const uint8_t *sc, int g, int *scale, int *min) {
    if (g < 4) {
      *scale = sc[g] & 63;
      *min = sc[g + 4] & 63;
    } else {
      *scale = (sc[g + 4] & 15) | (sc[g - 4] >> 6) << 4;
      *min = (sc[g + 4] >> 4) | (sc[g] >> 6) << 4;
    }
  };
  switch (type) {
  case GGMLType::Q4_0: {
    float d = halfToFloat(b);
    for (int j = 0; j < 32; ++j)
      out.push_back({nibble(b + 2, j), 8, 15, d, 0});
    break;
  }
  case GGMLType::Q4_1: {
    float d = halfToFloat(b), m = halfToFloat(b + 2);
    for (int j = 0; j < 32; ++j)
      out.push_back({nibble(b + 4, j), 0, 15, d, -m});
    break;
  }
  case GGMLType::Q5_0:
  case GGMLType::Q5_1: {
    bool hasMin = type == GGMLType::Q5_1;
    float d = halfToFloat(b), m = hasMin ? halfToFloat(b + 2) : 0;
    const uint8_t *qh = b + (hasMin ? 4 : 2), *qs = qh + 4;
    for (int j = 0; j < 32; ++j) {
      int code = nibble(qs, j) | int((u32(qh) >> j) & 1) << 4;
      out.push_back({code, hasMin ? 0 : 16, 31, d, hasMin ? -m : 0});
    }
    break;
  }
  case GGMLType::Q8_0: {
    float d = halfToFloat(b);
    for (int j = 0; j < 32; ++j)
      out.push_back({static_cast<int8_t>(b[2 + j]) + 128, 128, 255, d, 0});
    break;
  }
  case GGMLType::Q2_K: {
    const uint8_t *scales = b, *qs = b + 16;
    float d = halfToFloat(b + 80), dmin = halfToFloat(b + 82);
    for (int e = 0; e < 256; ++e) {
      int sc = scales[e / 16];
      out.push_back({twoBits(qs, e), 0, 3, d * static_cast<float>(sc & 15),
                     dmin * static_cast<float>(sc >> 4)});
    }
    break;
  }
  case GGMLType::Q3_K: {
    const uint8_t *hmask = b, *qs = b + 32, *sc = b + 96;
    float d = halfToFloat(b + 108);
    for (int e = 0; e < 256; ++e) {
      int g = e / 16;
      int low = g < 8 ? sc[g] & 15 : sc[g - 8] >> 4;
      int high = (sc[8 + g % 4] >> (2 * (g / 4))) & 3;
      int scale = (low | high << 4) - 32;
      int code = twoBits(qs, e) | ((hmask[e % 32] >> (e / 32)) & 1) << 2;
      out.push_back({code, 4, 7, d * static_cast<float>(scale), 0});
    }
    break;
  }
  case GGMLType::Q4_K:
  case GGMLType::Q5_K: {
    bool five = type == GGMLType::Q5_K;
    float d = halfToFloat(b), dmin = halfToFloat(b + 2);
    const uint8_t *sc = b + 4, *qh = b + 16, *qs = b + (five ? 48 : 16);
    for (int e = 0; e < 256; ++e) {
      int scale, min;
      sixBitK4(sc, e / 32, &scale, &min);
      int chunk = e / 64, l = e % 32, upper = (e % 64) / 32;
      int code = upper ? qs[32 * chunk + l] >> 4 : qs[32 * chunk + l] & 15;
      if (five)
        code |= ((qh[l] >> (2 * chunk + upper)) & 1) << 4;
      out.push_back({code, 0, five ? 31 : 15, d * static_cast<float>(scale),
                     dmin * static_cast<float>(min)});
    }
    break;
  }
  case GGMLType::Q6_K: {
    const uint8_t *ql = b, *qh = b + 128;
    float d = halfToFloat(b + 208);
    for (int e = 0; e < 256; ++e) {
      int half = e / 128, s = (e % 128) / 32, l = e % 32;
      uint8_t lowByte = ql[64 * half + 32 * (s % 2) + l];
      int low = s < 2 ? lowByte & 15 : lowByte >> 4;
      int high = (qh[32 * half + l] >> (2 * s)) & 3;
      auto scale = static_cast<int8_t>(b[192 + e / 16]);
      out.push_back(
          {low | high << 4, 32, 63, d * static_cast<float>(scale), 0});
    }
    break;
  }
  default:
    ADD_FAILURE() << "no decoder for " << nameOf(type);
  }
  return out;
}

bool isKQuant(GGMLType type) {
  return getGGMLTypeTraits(type).blockElements == 256;
}

int codeBits(GGMLType type) {
  switch (type) {
  case GGMLType::Q2_K:
    return 2;
  case GGMLType::Q3_K:
    return 3;
  case GGMLType::Q4_0:
  case GGMLType::Q4_1:
  case GGMLType::Q4_K:
    return 4;
  case GGMLType::Q5_0:
  case GGMLType::Q5_1:
  case GGMLType::Q5_K:
    return 5;
  case GGMLType::Q6_K:
    return 6;
  default:
    return 8;
  }
}

float f16Round(float x) {
  // Reference rounding through the library-independent decoder: encode
  // with the compiler's IEEE conversion, decode by hand.
  _Float16 h = static_cast<_Float16>(x);
  uint8_t bytes[2];
  std::memcpy(bytes, &h, 2);
  return halfToFloat(bytes);
}

// Checks of ggml's legacy reference rules (§6) on one 32-element block.
void verifyLegacyRefBlock(GGMLType type, const float *x,
                          const std::vector<Element> &elems,
                          const std::string &where) {
  float amax = 0, signedMax = 0, lo = x[0], hi = x[0];
  for (int j = 0; j < 32; ++j) {
    if (std::fabs(x[j]) > amax) {
      amax = std::fabs(x[j]);
      signedMax = x[j];
    }
    lo = std::min(lo, x[j]);
    hi = std::max(hi, x[j]);
  }
  int bits = codeBits(type);
  bool symmetric = type == GGMLType::Q4_0 || type == GGMLType::Q5_0;
  float d = type == GGMLType::Q8_0 ? amax / 127
            : symmetric ? signedMax / -static_cast<float>(1 << (bits - 1))
                        : (hi - lo) / static_cast<float>((1 << bits) - 1);
  float id = d != 0 ? 1 / d : 0;
  // (c) the stored scale (and min) are the f16 roundings of the rule's.
  ASSERT_EQ(elems[0].scale, f16Round(d)) << where;
  if (!symmetric && type != GGMLType::Q8_0) {
    ASSERT_EQ(-elems[0].offset, f16Round(lo)) << where;
  }
  for (int j = 0; j < 32; ++j) {
    // (b) codes from the f32 scale: truncation of x/d + zero + 0.5 (ties
    // up), roundf for Q8_0.
    int expected;
    if (type == GGMLType::Q8_0)
      expected = static_cast<int>(std::round(x[j] * id)) + 128;
    else if (symmetric)
      expected =
          std::min((1 << bits) - 1,
                   static_cast<int>(x[j] * id + (bits == 4 ? 8.5f : 16.5f)));
    else
      expected =
          std::min((1 << bits) - 1, static_cast<int>((x[j] - lo) * id + 0.5f));
    ASSERT_EQ(elems[j].code, expected) << where << " element " << j;
  }
}

// (b) for the K-quants, which recompute every code from the stored f16
// scales: no neighbouring code is nearer (up to the rounding of the
// division ggml uses). Groups with a zero scale keep their fitted codes.
void verifyNearestCodes(const float *x, const std::vector<Element> &elems,
                        const std::string &where) {
  for (size_t e = 0; e < elems.size(); ++e) {
    const Element &el = elems[e];
    if (el.scale == 0)
      continue;
    float err = std::fabs(x[e] - el.value());
    float slack =
        1e-6f * (std::fabs(el.scale) + std::fabs(x[e]) + std::fabs(el.offset));
    for (int q : {el.code - 1, el.code + 1})
      if (q >= 0 && q <= el.maxCode) {
        ASSERT_LE(err, std::fabs(x[e] - el.valueAt(q)) + slack)
            << where << " element " << e << " code " << el.code;
      }
  }
}

// (c) for the K-quants: the largest sub-scale (and min) takes the top of its
// range, as the relative scale quantization maps the maximum to it.
void verifyKScaleSelection(GGMLType type, const uint8_t *block,
                           const std::vector<Element> &elems, bool imatrix,
                           const std::string &where) {
  if (type == GGMLType::Q6_K || (type == GGMLType::Q3_K && !imatrix)) {
    // iscale = -128 / max (Q6_K) or -32 / max (Q3_K): the group with the
    // largest |scale| stores exactly -128 / -32.
    int offset = type == GGMLType::Q6_K ? 208 : 108;
    if (halfToFloat(block + offset) == 0)
      return;
    int target = type == GGMLType::Q6_K ? -128 : -32;
    bool found = false;
    for (int g = 0; g < 16; ++g) {
      int raw = type == GGMLType::Q6_K
                    ? static_cast<int8_t>(block[192 + g])
                    : static_cast<int>(std::lround(elems[16 * g].scale /
                                                   halfToFloat(block + 108)));
      found |= raw == target;
    }
    EXPECT_TRUE(found) << where;
    return;
  }
  if (imatrix || type == GGMLType::Q3_K)
    return;
  // Q2_K: 4-bit sub-scales and mins relative to 15; Q4_K/Q5_K: 6-bit
  // relative to 63.
  int top = type == GGMLType::Q2_K ? 15 : 63;
  int groupSize = type == GGMLType::Q2_K ? 16 : 32;
  float d = halfToFloat(block + (type == GGMLType::Q2_K ? 80 : 0));
  float dmin = halfToFloat(block + (type == GGMLType::Q2_K ? 82 : 2));
  int maxScale = 0, maxMin = 0;
  for (size_t e = 0; e < elems.size(); e += groupSize) {
    if (d != 0)
      maxScale =
          std::max(maxScale, static_cast<int>(std::lround(elems[e].scale / d)));
    if (dmin != 0)
      maxMin = std::max(maxMin,
                        static_cast<int>(std::lround(elems[e].offset / dmin)));
  }
  if (d != 0) {
    EXPECT_EQ(maxScale, top) << where;
  }
  if (dmin != 0) {
    EXPECT_EQ(maxMin, top) << where;
  }
}

// Runs checks (a)-(d) on a quantized row.
void verifyRow(GGMLType type, const std::vector<float> &x,
               const float *importance, const std::vector<uint8_t> &bytes,
               const std::string &where) {
  GGMLTypeTraits traits = getGGMLTypeTraits(type);
  int64_t cols = static_cast<int64_t>(x.size());
  std::vector<float> library = dequantize(type, bytes, 1, cols);
  int bits = codeBits(type);
  for (int64_t b = 0; b < cols / traits.blockElements; ++b) {
    const float *xb = x.data() + b * traits.blockElements;
    const uint8_t *block = bytes.data() + b * traits.blockBytes;
    std::vector<Element> elems = decodeBlock(type, block);
    std::string at = where + " block " + std::to_string(b);
    float amax = 0;
    for (int64_t j = 0; j < traits.blockElements; ++j)
      amax = std::max(amax, std::fabs(xb[j]));
    float sumSq = 0;
    for (size_t j = 0; j < elems.size(); ++j) {
      // (a) the table's formula gives the library's values, bit for bit.
      float mine = elems[j].value();
      float theirs = library[b * traits.blockElements + j];
      ASSERT_EQ(std::memcmp(&mine, &theirs, 4), 0)
          << at << " element " << j << ": " << mine << " vs " << theirs;
      float err = xb[j] - mine;
      sumSq += err * err;
    }
    if (!isKQuant(type)) {
      if (!importance || type == GGMLType::Q8_0)
        verifyLegacyRefBlock(type, xb, elems, at);
    } else {
      verifyNearestCodes(xb, elems, at);
      verifyKScaleSelection(type, block, elems, importance != nullptr, at);
    }
    // (d) the RMS error of a block stays below one step of a grid spanning
    // [-amax, amax], plus a floor for blocks whose scales are f16
    // subnormals (|x| ~ 1e-6), where the scale itself is coarse.
    float step = 2 * amax / static_cast<float>((1 << bits) - 1);
    float rms = std::sqrt(sumSq / static_cast<float>(elems.size()));
    EXPECT_LE(rms, step + 1e-5f) << at;
  }
}

//===----------------------------------------------------------------------===//
// Goldens
//===----------------------------------------------------------------------===//

struct Golden {
  GGMLType type;
  uint64_t edgeRef, edgeImatrix;   // FNV-1a of the 4096-column edge row
  uint64_t gaussRef, gaussImatrix; // FNV-1a of a 256-column N(0,1) row
  const char *tieBlockHex;         // the reference path's block at column 1792
};

// Taken from ggml's own quantize_<type> (libggml-base.so of a llama.cpp
// build), which the library reproduces byte for byte; each row is also
// re-verified by verifyRow.
const Golden kGoldens[] = {
    {GGMLType::Q4_0, 0xebf22a88d97e0f54ull, 0x453d0a7a2581e83dull,
     0xd44a3df3908ce739ull, 0x3430aed6842b3dbcull,
     "003470a4e71b4e81b5f82c5f92c6f93d6fa3"},
    {GGMLType::Q4_1, 0x6326ce775f6a41d3ull, 0xb7cb0fae2433c2f3ull,
     0xe14fcb6d291fbd86ull, 0x41a3f4ba0b4f6118ull,
     "443400c06093d70a4d71a4e71b5e82b5f82c6f93"},
    {GGMLType::Q5_0, 0x8e3b2beb2afbf33bull, 0x4a8405a017c4b8c5ull,
     0x5e6789510b5b2f2dull, 0x4dd337e7cc7ed272ull,
     "00309873c69cd047be158cf269d037ae148bf259cf36"},
    {GGMLType::Q5_1, 0xf6de6f68cd9271f4ull, 0x0854f719b38c57afull,
     0x2d4156ec1cd5e101ull, 0x5550578a14de125aull,
     "213000c09873c69cd037ae148bf259c036ad047be158cf26"},
    {GGMLType::Q8_0, 0x06e6ae2f97924cb9ull, 0x06e6ae2f97924cb9ull,
     0x0ca9afc4b10a0f84ull, 0x0ca9afc4b10a0f84ull,
     "082481b9f0285f91c800386fa1d810477fb1e8205789c0f8306799d0084077a9e018"},
    {GGMLType::Q2_K, 0x18ce3a543b277099ull, 0xdaa9088c7d767b4dull,
     0xbab9f851b415bd57ull, 0x55521251633e8016ull,
     "efeeffdefecefeefeeeedeeeffeefede6cb0c5165b6cb1c51a6bacb1c61a6bbcb1c61b6cb"
     "1c5065b6cb1c61a5bacb1c6acf1c61b6cb1c1165b6cb1c6166bacb1c61b6fbcb1c61b6cb1"
     "c5165b6cb1c61a072db22f"},
    {GGMLType::Q3_K, 0x47b5c430b7fd120eull, 0xddf7ccc1a73bbdeaull,
     0x4b57b7a9be296e54ull, 0xe80d016148698672ull,
     "e6cc993367ce9c3973e7ce9c3973e7ce70e5cf9a3065cf9f3a70e5cf9f3a70e5d96688218"
     "61977dc61872ebbdc72cb2e8b2d9679d678e1873dd77cd24b2e8b3d2db7dd76d862882187"
     "1d76d8628b2db774d2482289279d77de78e38d37dd74d260a250b256aa56aa00fc00fc22a"
     "5"},
    {GGMLType::Q4_K, 0x9b505aa7a24e5d47ull, 0xaae4e83cd210fbc1ull,
     0x9344ca2a29e7fee2ull, 0xd8b7e6002c6e970aull,
     "441cff27ffffffffffffffffffffffffc003377aadd114477bbee225588ccff336699dd00"
     "4477aaee115588bbff22669699cc003377aadd114477bbee225588ccff336699dd004477a"
     "aee115588bbff2f226699cc003377aadd114477bbee225588ccff336699dd004477aaee11"
     "5588b8bbff226699cc003377aadd114477bbee225588ccff336699dd004477aaee115"},
    {GGMLType::Q5_K, 0x2b76c0d3bf79ebceull, 0xf38c79f3aed6c2adull,
     0x304e482c5f639fe7ull, 0x4dd379f4a40ec9aeull,
     "17181428ffffffffffffffffffffffffe6cc983163c68c193367ce9c3973e7ce9c3973e6c"
     "c983163c68c193367ce9c39a0077ee55cc22990077ee44bb2299ff66dd44bb1188ff66dd3"
     "3aa1188ff55cc3c33aa0077ee55cc22990077ee44bb2299ff66dd44bb1188ff66dd33aa11"
     "88ff5f55cc33aa0077ee55cc22990077ee44bb2299ff66dd44bb1188ff66dd33aa118188f"
     "f55cc33aa0077ee55cc22990077ee44bb2299ff66dd44bb1188ff66dd33a"},
    {GGMLType::Q6_K, 0x1b660520e0d7a423ull, 0x990550668d78627bull,
     0x64088e5a1124fb71ull, 0x054314f943ad9708ull,
     "614f0ceac7a582402e0be9c684614f2d0a486781afee0c2b4564a2c1ef09286683614f0ce"
     "ac7a582402e0be9c684614feb0a486781afee0c2b4564a2c1ef09280ae8a684604e0ceac8"
     "a482402e0ce8c68caec0e406486a8ea0e204264a6caec02e0ae8a684604e0ceac8a482402"
     "e0ce84a8caec0e406486a8ea0e204264a6cae6cb0c1061b6cb1c61a6bacb1c61b6fbc0136"
     "eb9c4031f6eb9c4136eb9f5c4136bcf1c61b6cb0c1061b6cb1c61a6bacb139e490430e39e"
     "4934f3ef9e4934e39e580898089847c847c847c847c847c847c2590"},
};

class GGUFGoldenTest : public ::testing::TestWithParam<Golden> {};

std::string hashHex(uint64_t h) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "0x%016llxull",
                static_cast<unsigned long long>(h));
  return buf;
}

TEST_P(GGUFGoldenTest, EdgeCaseRowReference) {
  // Reference path on the 16 edge-case super-blocks: bytes hash to the
  // golden, the tie block matches its hex dump, and checks (a)-(d) hold.
  const Golden &golden = GetParam();
  std::vector<float> x = edgeCaseRow();
  std::vector<uint8_t> bytes = quantize(golden.type, x, 1, nullptr);
  EXPECT_EQ(fnv1a(bytes), golden.edgeRef) << hashHex(fnv1a(bytes));
  GGMLTypeTraits traits = getGGMLTypeTraits(golden.type);
  int64_t tieBlock = 1792 / traits.blockElements;
  EXPECT_EQ(
      hexOf(bytes.data() + tieBlock * traits.blockBytes, traits.blockBytes),
      golden.tieBlockHex);
  verifyRow(golden.type, x, nullptr, bytes, nameOf(golden.type) + " ref");
}

TEST_P(GGUFGoldenTest, EdgeCaseRowImatrix) {
  // imatrix path on the same row: hash golden plus checks (a), (b) and (d)
  // (and (c) for Q6_K; Q8_0 must equal its reference bytes).
  const Golden &golden = GetParam();
  std::vector<float> x = edgeCaseRow();
  std::vector<float> importance = importanceFor(kEdgeCols, 7);
  std::vector<uint8_t> bytes = quantize(golden.type, x, 1, importance.data());
  EXPECT_EQ(fnv1a(bytes), golden.edgeImatrix) << hashHex(fnv1a(bytes));
  verifyRow(golden.type, x, importance.data(), bytes,
            nameOf(golden.type) + " imatrix");
  if (golden.type == GGMLType::Q8_0) {
    EXPECT_EQ(bytes, quantize(golden.type, x, 1, nullptr));
  }
}

TEST_P(GGUFGoldenTest, GaussianRow256) {
  // One super-block (eight legacy blocks) of N(0, 1), both paths.
  const Golden &golden = GetParam();
  std::vector<float> x = gaussRow(256, 1234);
  std::vector<float> importance = importanceFor(256, 99);
  std::vector<uint8_t> ref = quantize(golden.type, x, 1, nullptr);
  std::vector<uint8_t> imat = quantize(golden.type, x, 1, importance.data());
  EXPECT_EQ(fnv1a(ref), golden.gaussRef) << hashHex(fnv1a(ref));
  EXPECT_EQ(fnv1a(imat), golden.gaussImatrix) << hashHex(fnv1a(imat));
  verifyRow(golden.type, x, nullptr, ref, nameOf(golden.type) + " ref");
  verifyRow(golden.type, x, importance.data(), imat,
            nameOf(golden.type) + " imatrix");
}

TEST_P(GGUFGoldenTest, MatrixIsRowByRow) {
  // A [3, 512] matrix quantizes as three independent rows sharing the
  // per-column importance, with and without it; dequantization inverts
  // row by row too.
  const Golden &golden = GetParam();
  std::vector<float> x = gaussRow(3 * 512, 5, 0.05f);
  std::vector<float> importance = importanceFor(512, 3);
  for (const float *imp : {static_cast<const float *>(nullptr),
                           static_cast<const float *>(importance.data())}) {
    std::vector<uint8_t> whole = quantize(golden.type, x, 3, imp);
    std::vector<uint8_t> joined;
    for (int r = 0; r < 3; ++r) {
      std::vector<float> row(x.begin() + 512 * r, x.begin() + 512 * (r + 1));
      std::vector<uint8_t> bytes = quantize(golden.type, row, 1, imp);
      joined.insert(joined.end(), bytes.begin(), bytes.end());
    }
    EXPECT_EQ(whole, joined);
    std::vector<float> y = dequantize(golden.type, whole, 3, 512);
    std::vector<float> y1 =
        dequantize(golden.type,
                   std::vector<uint8_t>(whole.begin() + whole.size() / 3,
                                        whole.begin() + 2 * whole.size() / 3),
                   1, 512);
    EXPECT_TRUE(std::equal(y1.begin(), y1.end(), y.begin() + 512));
  }
}

INSTANTIATE_TEST_SUITE_P(AllTypes, GGUFGoldenTest,
                         ::testing::ValuesIn(kGoldens),
                         [](const ::testing::TestParamInfo<Golden> &info) {
                           return nameOf(info.param.type);
                         });

//===----------------------------------------------------------------------===//
// Scale rules on hand-built blocks
//===----------------------------------------------------------------------===//

TEST(GGUFQuants, LegacyScaleRules) {
  // Q4_0: d = max / -8 with max the signed largest-magnitude value, the
  // first on |x| ties; Q8_0: d = amax / 127 and roundf ties away from zero.
  std::vector<float> x(32, 0.0f);
  x[3] = 3.0f;
  x[7] = -3.0f;   // same |x|, later: does not win
  x[9] = 0.5625f; // x / d = -1.5: floor(-1.5 + 8.5) = 7
  std::vector<uint8_t> q4 = quantize(GGMLType::Q4_0, x, 1, nullptr);
  EXPECT_EQ(halfToFloat(q4.data()), -0.375f);
  std::vector<Element> e = decodeBlock(GGMLType::Q4_0, q4.data());
  EXPECT_EQ(e[3].code, 0);  // 3 / -0.375 = -8
  EXPECT_EQ(e[7].code, 15); // +8 clamps to 15
  EXPECT_EQ(e[9].code, 7);

  std::vector<float> y(32, 0.0f);
  y[0] = 127.0f; // d = 1
  y[1] = 2.5f;   // roundf: 3 (half away from zero, not to even)
  y[2] = -2.5f;  // -3
  std::vector<uint8_t> q8 = quantize(GGMLType::Q8_0, y, 1, nullptr);
  EXPECT_EQ(halfToFloat(q8.data()), 1.0f);
  EXPECT_EQ(static_cast<int8_t>(q8[2 + 1]), 3);
  EXPECT_EQ(static_cast<int8_t>(q8[2 + 2]), -3);
}

TEST(GGUFQuants, AllZeroBlocksEncodeToZeroScales) {
  // ggml's early-outs: zero scales everywhere; the legacy symmetric types
  // store code 8 / 16 (x * 0 + 8.5), Q6_K an all-zero block.
  std::vector<float> x(256, 0.0f);
  for (GGMLType type : kBlockTypes) {
    std::vector<uint8_t> bytes = quantize(type, x, 1, nullptr);
    std::vector<float> y = dequantize(type, bytes, 1, 256);
    for (float v : y)
      EXPECT_EQ(v, 0.0f) << nameOf(type);
  }
  std::vector<uint8_t> q6 = quantize(GGMLType::Q6_K, x, 1, nullptr);
  EXPECT_TRUE(std::all_of(q6.begin(), q6.end(), [](uint8_t b) { return !b; }));
  std::vector<uint8_t> q4 = quantize(GGMLType::Q4_0, x, 1, nullptr);
  // d = 0 / -8 is -0.0: ggml stores the f16 bits 0x8000.
  EXPECT_EQ(hexOf(q4.data(), 18), "0080" + std::string(32, '8'));
}

//===----------------------------------------------------------------------===//
// Sizes
//===----------------------------------------------------------------------===//

TEST(GGUFQuants, BitsPerWeight) {
  const std::pair<GGMLType, double> expected[] = {
      {GGMLType::Q4_0, 4.5},    {GGMLType::Q4_1, 5.0}, {GGMLType::Q5_0, 5.5},
      {GGMLType::Q5_1, 6.0},    {GGMLType::Q8_0, 8.5}, {GGMLType::Q2_K, 2.625},
      {GGMLType::Q3_K, 3.4375}, {GGMLType::Q4_K, 4.5}, {GGMLType::Q5_K, 5.5},
      {GGMLType::Q6_K, 6.5625}, {GGMLType::F16, 16.0}, {GGMLType::BF16, 16.0},
      {GGMLType::F32, 32.0}};
  for (auto [type, bpw] : expected)
    EXPECT_EQ(ggmlBitsPerWeight(type), bpw) << nameOf(type);
  EXPECT_EQ(ggmlRowBytes(GGMLType::Q4_K, 4096), 16 * 144);
  EXPECT_EQ(ggmlRowBytes(GGMLType::Q8_0, 64), 68);
  EXPECT_EQ(ggmlRowBytes(GGMLType::Q4_K, 128), -1);
}

//===----------------------------------------------------------------------===//
// Error behaviour
//===----------------------------------------------------------------------===//

// RMSE of dequant(quant(x)) and its importance-weighted mean square.
struct RoundTripError {
  double rmse;
  double weightedMse;
};

RoundTripError roundTrip(GGMLType type, const std::vector<float> &x,
                         int64_t rows, const std::vector<float> &importance,
                         bool useImportance) {
  int64_t cols = static_cast<int64_t>(importance.size());
  std::vector<uint8_t> bytes =
      quantize(type, x, rows, useImportance ? importance.data() : nullptr);
  std::vector<float> y = dequantize(type, bytes, rows, cols);
  double sq = 0, weighted = 0;
  for (size_t i = 0; i < x.size(); ++i) {
    double err = double(x[i]) - double(y[i]);
    sq += err * err;
    weighted += importance[i % cols] * err * err;
  }
  return {std::sqrt(sq / double(x.size())), weighted / double(x.size())};
}

TEST(GGUFQuants, RoundTripErrorFallsWithBits) {
  // On N(0, 1) data the reference RMSE falls along each family and across
  // any step of at least one bit per weight.
  const int64_t rows = 8, cols = 4096;
  std::vector<float> x = gaussRow(rows * cols, 2024);
  std::vector<float> ones(cols, 1.0f);
  std::vector<std::pair<GGMLType, double>> rmse;
  for (GGMLType type : kBlockTypes)
    rmse.push_back({type, roundTrip(type, x, rows, ones, false).rmse});
  auto rmseOf = [&](GGMLType type) {
    for (auto &[t, r] : rmse)
      if (t == type)
        return r;
    return -1.0;
  };
  const std::vector<std::vector<GGMLType>> families = {
      {GGMLType::Q4_0, GGMLType::Q5_0, GGMLType::Q8_0},
      {GGMLType::Q4_1, GGMLType::Q5_1, GGMLType::Q8_0},
      {GGMLType::Q2_K, GGMLType::Q3_K, GGMLType::Q4_K, GGMLType::Q5_K,
       GGMLType::Q6_K, GGMLType::Q8_0}};
  for (const auto &family : families)
    for (size_t i = 1; i < family.size(); ++i)
      EXPECT_LT(rmseOf(family[i]), rmseOf(family[i - 1]))
          << nameOf(family[i]) << " vs " << nameOf(family[i - 1]);
  for (auto &[a, ra] : rmse)
    for (auto &[b, rb] : rmse)
      if (ggmlBitsPerWeight(a) >= ggmlBitsPerWeight(b) + 1) {
        EXPECT_LT(ra, rb) << nameOf(a) << " vs " << nameOf(b);
      }
  EXPECT_LT(rmseOf(GGMLType::Q8_0), 0.01);
  EXPECT_LT(rmseOf(GGMLType::Q2_K), 0.5);
}

TEST(GGUFQuants, ImatrixLowersImportanceWeightedError) {
  // A few columns carry most of the importance (as outlier activation
  // channels do); the imatrix path must beat the reference path on the
  // importance-weighted error clearly. Q8_0 ignores the imatrix: equal
  // errors.
  const int64_t rows = 8, cols = 2048;
  std::vector<float> x = gaussRow(rows * cols, 77, 0.02f);
  std::vector<float> importance(cols, 1.0f);
  for (int64_t j = 0; j < cols; j += 29)
    importance[j] = 200.0f;
  for (GGMLType type : kBlockTypes) {
    double ref = roundTrip(type, x, rows, importance, false).weightedMse;
    double imat = roundTrip(type, x, rows, importance, true).weightedMse;
    if (type == GGMLType::Q8_0) {
      EXPECT_EQ(imat, ref);
    } else {
      // Measured: ratios 0.13 (Q4_1) to 0.38 (Q5_0).
      EXPECT_LT(imat, 0.6 * ref) << nameOf(type);
    }
  }
}

//===----------------------------------------------------------------------===//
// Plain types and bad input
//===----------------------------------------------------------------------===//

TEST(GGUFQuants, PlainTypes) {
  // F16 is IEEE round-to-nearest-even with gradual underflow and overflow
  // to infinity, as ggml's GGML_FP32_TO_FP16 (F16C or its bit-exact
  // software path; checked against ggml on 4M values, NaN payloads aside);
  // BF16 is ggml's rounding without subnormal flushing.
  const struct {
    float x;
    uint16_t f16, bf16;
  } cases[] = {
      {1.0f, 0x3c00, 0x3f80},
      {-2.0f, 0xc000, 0xc000},
      {0.1f, 0x2e66, 0x3dcd},
      {std::ldexp(1.0f, -24), 0x0001, 0x3380}, // smallest f16 subnormal
      {std::ldexp(1.0f, -25), 0x0000, 0x3300}, // tie: rounds to even 0
      {std::ldexp(3.0f, -25), 0x0002, 0x33c0}, // tie: rounds to even 2
      {65504.0f, 0x7bff, 0x4780},              // largest finite f16
      {65519.0f, 0x7bff, 0x4780},              // below the overflow tie
      {65520.0f, 0x7c00, 0x4780},              // overflow threshold
      {-1e10f, 0xfc00, 0xd015},
      {1e-40f, 0x0000, 0x0001}, // f32 subnormal
  };
  for (const auto &c : cases) {
    std::vector<float> x = {c.x};
    std::vector<uint8_t> f16 = quantize(GGMLType::F16, x, 1, nullptr);
    std::vector<uint8_t> bf16 = quantize(GGMLType::BF16, x, 1, nullptr);
    EXPECT_EQ(f16[0] | f16[1] << 8, c.f16) << c.x;
    EXPECT_EQ(bf16[0] | bf16[1] << 8, c.bf16) << c.x;
    EXPECT_EQ(dequantize(GGMLType::F16, f16, 1, 1)[0], halfToFloat(f16.data()));
  }
  std::vector<float> x = {1.0f, -2.0f, 0.1f, 65520.0f};
  std::vector<uint8_t> f32 = quantize(GGMLType::F32, x, 1, nullptr);
  EXPECT_EQ(dequantize(GGMLType::F32, f32, 1, 4), x);
}

TEST(GGUFQuants, BadInputIsAnError) {
  std::vector<float> x(300, 1.0f);
  std::vector<uint8_t> dst(1024);
  std::vector<float> y(300);
  std::string error;
  EXPECT_FALSE(quantizeGGMLRows(GGMLType::Q4_0, x.data(), 1, 100, nullptr,
                                dst.data(), &error));
  EXPECT_NE(error.find("multiple of 32"), std::string::npos) << error;
  error.clear();
  EXPECT_FALSE(quantizeGGMLRows(GGMLType::Q4_K, x.data(), 1, 288, nullptr,
                                dst.data(), &error));
  EXPECT_NE(error.find("multiple of 256"), std::string::npos) << error;
  error.clear();
  EXPECT_FALSE(
      dequantizeGGMLRows(GGMLType::Q6_K, dst.data(), 1, 32, y.data(), &error));
  EXPECT_FALSE(error.empty());
  error.clear();
  EXPECT_FALSE(quantizeGGMLRows(static_cast<GGMLType>(4), x.data(), 1, 32,
                                nullptr, dst.data(), &error));
  EXPECT_NE(error.find("unsupported"), std::string::npos) << error;
  EXPECT_FALSE(quantizeGGMLRows(GGMLType::Q8_0, x.data(), -1, 32, nullptr,
                                dst.data(), nullptr));
  EXPECT_FALSE(isGGMLQuantSupported(static_cast<GGMLType>(4)));
  // Zero rows is valid and writes nothing.
  EXPECT_TRUE(quantizeGGMLRows(GGMLType::Q8_0, x.data(), 0, 32, nullptr,
                               dst.data(), &error));
}

} // namespace
