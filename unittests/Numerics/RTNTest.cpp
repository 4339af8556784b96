//===- RTNTest.cpp - quantizeRTN
//-------------------------------------------===//
//
// Part of the quant-opt project, under the Apache License v2.0 with LLVM
// Exceptions.
//
//===----------------------------------------------------------------------===//

#include "TestUtil.h"
#include "quant/Numerics/Numerics.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <vector>

using namespace quantopt::numerics;

namespace {

using ScaleType = RTNOptions::ScaleType;

RTNOptions opts(ElementFormat format, int64_t groupSize, bool symmetric = false,
                ScaleType st = ScaleType::F32) {
  RTNOptions o;
  o.format = format;
  o.groupSize = groupSize;
  o.symmetric = symmetric;
  o.scaleType = st;
  return o;
}

RTNResult rtn(const std::vector<float> &w, int64_t rows, int64_t cols,
              const RTNOptions &o) {
  return quantizeRTN(w.data(), rows, cols, o);
}

float roundScale(float s, ScaleType st) {
  return st == ScaleType::F16    ? roundToF16(s)
         : st == ScaleType::BF16 ? roundToBF16(s)
                                 : s;
}

/// Checks an integer-format result group by group against gptqFindParams on
/// the group's elements and quantizeAffine with the stored parameters.
void checkIntegerGroups(const std::vector<float> &w, int64_t rows, int64_t cols,
                        const RTNOptions &o, const RTNResult &r) {
  bool perTensor = o.groupSize == 0;
  int64_t g = o.groupSize > 0 ? o.groupSize : cols;
  int64_t groups = perTensor ? 1 : (cols + g - 1) / g;
  ASSERT_EQ(r.scaleRows, perTensor ? 1 : rows);
  ASSERT_EQ(r.groups, groups);
  ASSERT_EQ(r.codes.size(), static_cast<size_t>(rows * cols));
  ASSERT_EQ(r.scales.size(), static_cast<size_t>(r.scaleRows * groups));
  bool signedFmt = isSignedIntegerFormat(o.format);
  ASSERT_EQ(r.zeros.size(), signedFmt ? 0u : r.scales.size());
  bool sym = o.symmetric || signedFmt;
  int32_t qmin = getMinCode(o.format), qmax = getMaxCode(o.format);
  for (int64_t sr = 0; sr < r.scaleRows; ++sr)
    for (int64_t gi = 0; gi < groups; ++gi) {
      int64_t r0 = perTensor ? 0 : sr, r1 = perTensor ? rows : sr + 1;
      int64_t c0 = perTensor ? 0 : gi * g,
              c1 = perTensor ? cols : std::min(cols, (gi + 1) * g);
      std::vector<float> slice;
      for (int64_t i = r0; i < r1; ++i)
        for (int64_t c = c0; c < c1; ++c)
          slice.push_back(w[i * cols + c]);
      AffineParams p = gptqFindParams(slice.data(), slice.size(),
                                      getBitWidth(o.format), sym);
      size_t pi = sr * groups + gi;
      float scale = r.scales[pi];
      ASSERT_EQ(scale, roundScale(p.scale, o.scaleType)) << sr << "," << gi;
      int32_t zero = 0;
      if (!signedFmt) {
        zero = r.zeros[pi];
        if (sym) {
          ASSERT_EQ(zero, 1 << (getBitWidth(o.format) - 1));
        }
        ASSERT_GE(zero, qmin);
        ASSERT_LE(zero, qmax);
      }
      for (int64_t i = r0; i < r1; ++i)
        for (int64_t c = c0; c < c1; ++c) {
          int32_t q = quantizeAffine(w[i * cols + c], scale, zero, qmin, qmax);
          ASSERT_EQ(r.codes[i * cols + c], static_cast<uint8_t>(q))
              << "row " << i << " col " << c;
        }
    }
}

TEST(RTN, HandGoldenAsymPerChannel) {
  // Row {-1, 0.5, 2, 0}: scale 3/15 = 0.2f, zero 5. Codes: -1/0.2 = -5 -> 0;
  // 0.5/0.2f = 2.4999999 rounds (f32) to 2.5 -> 2, +5 = 7; 2/0.2 = 10 -> 15;
  // 0 -> 5. Row {0, 0, 0, 0}: range [-1, 1] -> scale 2/15, zero
  // round_f32(1 / 0.13333334f) = round(7.4999995) = 7, codes 7.
  std::vector<float> w = {-1.0f, 0.5f, 2.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f};
  RTNResult r = rtn(w, 2, 4, opts(getIntegerFormat(4, false), -1));
  EXPECT_EQ(r.scaleRows, 2);
  EXPECT_EQ(r.groups, 1);
  EXPECT_EQ(r.scales, (std::vector<float>{3.0f / 15.0f, 2.0f / 15.0f}));
  EXPECT_EQ(r.zeros, (std::vector<int32_t>{5, 7}));
  EXPECT_EQ(r.codes, (std::vector<uint8_t>{0, 7, 15, 5, 7, 7, 7, 7}));
}

TEST(RTN, HandGoldenSignedSymmetric) {
  // Signed 4-bit: GPTQ symmetric grid shifted by -8, no zero-points. Row
  // {-3, 1.5, 0.2, 3}: xmax = 3, xmin = -3, scale 6/15 = 0.4f. Codes:
  // -3/0.4 = -7.5 -> -8 (0xF8); 1.5/0.4 = 3.75 -> 4; 0.2f/0.4f = 0.5 exactly
  // -> 0; 3/0.4 = 7.5 -> 8 -> clamped 7.
  std::vector<float> w = {-3.0f, 1.5f, 0.2f, 3.0f};
  RTNResult r = rtn(w, 1, 4, opts(getIntegerFormat(4, true), -1));
  EXPECT_TRUE(r.zeros.empty());
  EXPECT_EQ(r.scales, (std::vector<float>{6.0f / 15.0f}));
  EXPECT_EQ(r.codes, (std::vector<uint8_t>{0xF8, 0x04, 0x00, 0x07}));
  // Two's complement in the byte. scale 2/15 = 0.13333334f (above 2/15), so
  // -1/scale = -7.4999995 in f32 -> -7 (0xF9); -0.4f/scale = -2.9999998 -> -3
  // (0xFD).
  r = rtn({-1.0f, -0.4f}, 1, 2, opts(getIntegerFormat(4, true), -1));
  EXPECT_EQ(r.codes, (std::vector<uint8_t>{0xF9, 0xFD}));
  // The `symmetric` flag is implied for signed formats.
  RTNResult r2 = rtn(w, 1, 4, opts(getIntegerFormat(4, true), -1, true));
  EXPECT_EQ(r2.codes, rtn(w, 1, 4, opts(getIntegerFormat(4, true), -1)).codes);
}

TEST(RTN, SignedSymmetricMatchesUnsignedMinus2PowBm1) {
  // Signed codes == unsigned symmetric GPTQ codes - 2^(b-1).
  quanttest::Rng rng(51);
  std::vector<float> w = rng.vec(8 * 96, -1.0f, 1.3f);
  for (unsigned bits : {2u, 3u, 4u, 8u}) {
    RTNResult s = rtn(w, 8, 96, opts(getIntegerFormat(bits, true), 32));
    RTNResult u = rtn(w, 8, 96, opts(getIntegerFormat(bits, false), 32, true));
    ASSERT_EQ(s.scales, u.scales);
    for (size_t i = 0; i < w.size(); ++i)
      ASSERT_EQ(static_cast<int8_t>(s.codes[i]),
                static_cast<int>(u.codes[i]) - (1 << (bits - 1)))
          << bits << " " << i;
    checkIntegerGroups(w, 8, 96, opts(getIntegerFormat(bits, true), 32), s);
  }
}

TEST(RTN, PerChannel) {
  quanttest::Rng rng(52);
  std::vector<float> w = rng.vec(5 * 40, -0.7f, 1.1f);
  for (bool sym : {false, true})
    for (unsigned bits : {2u, 3u, 4u, 8u}) {
      RTNOptions o = opts(getIntegerFormat(bits, false), -1, sym);
      checkIntegerGroups(w, 5, 40, o, rtn(w, 5, 40, o));
    }
}

TEST(RTN, GroupWiseRaggedLastGroup) {
  // cols = 172, group 32: 6 groups, the last of 12 columns. Make the ragged
  // group's range much larger so its scale shows it used only its columns,
  // and group 4 (columns 128..159) must not see it.
  const int64_t rows = 4, cols = 172;
  quanttest::Rng rng(53);
  std::vector<float> w = rng.vec(rows * cols, -1.0f, 1.0f);
  for (int64_t i = 0; i < rows; ++i)
    for (int64_t c = 160; c < cols; ++c)
      w[i * cols + c] *= 100.0f;
  RTNOptions o = opts(getIntegerFormat(4, false), 32);
  RTNResult r = rtn(w, rows, cols, o);
  EXPECT_EQ(r.groups, 6);
  EXPECT_EQ(r.scaleRows, rows);
  checkIntegerGroups(w, rows, cols, o, r);
  for (int64_t i = 0; i < rows; ++i) {
    EXPECT_GT(r.scales[i * 6 + 5], 20.0f * r.scales[i * 6 + 4]);
    // Ragged group parameters straight from its 12 values.
    AffineParams p = gptqFindParams(&w[i * cols + 160], 12, 4, false);
    EXPECT_EQ(r.scales[i * 6 + 5], p.scale);
    EXPECT_EQ(r.zeros[i * 6 + 5], p.zero);
  }
  // Also symmetric, 3-bit and 8-bit.
  for (unsigned bits : {3u, 8u})
    for (bool sym : {false, true}) {
      RTNOptions o2 = opts(getIntegerFormat(bits, false), 32, sym);
      checkIntegerGroups(w, rows, cols, o2, rtn(w, rows, cols, o2));
    }
}

TEST(RTN, GroupLargerThanRowIsOneGroup) {
  quanttest::Rng rng(54);
  std::vector<float> w = rng.vec(3 * 20, -1.0f, 1.0f);
  RTNResult a = rtn(w, 3, 20, opts(getIntegerFormat(4, false), 128));
  RTNResult b = rtn(w, 3, 20, opts(getIntegerFormat(4, false), -1));
  EXPECT_EQ(a.groups, 1);
  EXPECT_EQ(a.scales, b.scales);
  EXPECT_EQ(a.zeros, b.zeros);
  EXPECT_EQ(a.codes, b.codes);
}

TEST(RTN, PerTensor) {
  // groupSize 0: one scale over the whole matrix. Hand golden: max 2 in row
  // 0, min -1 in row 1 -> scale 0.2f, zero 5 for every element.
  std::vector<float> w = {0.0f, 2.0f, -1.0f, 0.5f};
  RTNResult r = rtn(w, 2, 2, opts(getIntegerFormat(4, false), 0));
  EXPECT_EQ(r.scaleRows, 1);
  EXPECT_EQ(r.groups, 1);
  EXPECT_EQ(r.scales, (std::vector<float>{3.0f / 15.0f}));
  EXPECT_EQ(r.zeros, (std::vector<int32_t>{5}));
  EXPECT_EQ(r.codes, (std::vector<uint8_t>{5, 15, 0, 7}));
  quanttest::Rng rng(55);
  std::vector<float> w2 = rng.vec(6 * 50, -0.3f, 2.0f);
  for (ElementFormat f : {ElementFormat::ui4, ElementFormat::si4}) {
    RTNOptions o = opts(f, 0);
    checkIntegerGroups(w2, 6, 50, o, rtn(w2, 6, 50, o));
  }
}

TEST(RTN, SymmetricUnsignedAllPositiveQuirk) {
  // Unsigned symmetric: zero 8 stored; an all-positive group has scale
  // xmax/15 and clips its top at 7*scale.
  std::vector<float> w = {1.0f, 2.0f, 3.0f, 0.5f};
  RTNResult r = rtn(w, 1, 4, opts(getIntegerFormat(4, false), -1, true));
  EXPECT_EQ(r.scales, (std::vector<float>{3.0f / 15.0f}));
  EXPECT_EQ(r.zeros, (std::vector<int32_t>{8}));
  // 1/0.2 = 5 -> 13; 2/0.2 = 10 -> 18 -> 15; 3 -> 15; 0.5/0.2f -> 2.5 -> 2
  // -> 10.
  EXPECT_EQ(r.codes, (std::vector<uint8_t>{13, 15, 15, 10}));
}

TEST(RTN, ScaleTypesRoundTheStoredScaleFirst) {
  quanttest::Rng rng(56);
  const int64_t rows = 16, cols = 96;
  std::vector<float> w = rng.vec(rows * cols, -0.9f, 1.2f);
  RTNResult f32 = rtn(w, rows, cols, opts(getIntegerFormat(4, false), 32));
  for (ScaleType st : {ScaleType::F16, ScaleType::BF16}) {
    for (ElementFormat f : {ElementFormat::ui4, ElementFormat::si4}) {
      RTNOptions o = opts(f, 32, false, st);
      RTNResult r = rtn(w, rows, cols, o);
      checkIntegerGroups(w, rows, cols, o, r);
      for (float s : r.scales)
        ASSERT_EQ(s, roundScale(s, st)); // representable in the scale type
    }
    RTNResult r =
        rtn(w, rows, cols, opts(getIntegerFormat(4, false), 32, false, st));
    // The rounding must actually change scales and, through them, codes.
    size_t scaleDiffs = 0, codeDiffs = 0;
    for (size_t i = 0; i < r.scales.size(); ++i)
      scaleDiffs += r.scales[i] != f32.scales[i];
    for (size_t i = 0; i < r.codes.size(); ++i)
      codeDiffs += r.codes[i] != f32.codes[i];
    EXPECT_GT(scaleDiffs, r.scales.size() / 2);
    EXPECT_GT(codeDiffs, 0u);
  }
  // Hand golden: row {0, 1}: scale 1/15 = 0x3D888889 (f32). bf16 rounds the
  // low half 0x8889 > 0x8000 up -> 0x3D89 = 0.06689453125.
  RTNResult b =
      rtn({0.0f, 1.0f}, 1, 2,
          opts(getIntegerFormat(4, false), -1, false, ScaleType::BF16));
  EXPECT_EQ(b.scales, (std::vector<float>{0.06689453125f}));
  // f16: 1/15 = 1.0666667 * 2^-4 -> mantissa 0.0666667*1024 = 68.27 -> 68:
  // (1 + 68/1024) * 2^-4 = 0.066650390625.
  RTNResult h =
      rtn({0.0f, 1.0f}, 1, 2,
          opts(getIntegerFormat(4, false), -1, false, ScaleType::F16));
  EXPECT_EQ(h.scales, (std::vector<float>{0.066650390625f}));
  // 1 / 0.066650390625 = 15.0037 -> 15 (and 1/0.0669 = 14.95 -> 15).
  EXPECT_EQ(h.codes, (std::vector<uint8_t>{0, 15}));
}

TEST(RTN, NF4) {
  // Scale = absmax; y = w / absmax. Row {-2, 1, 0.1, 2}: y = -1 -> 0;
  // 0.5 (<= threshold 0.5017) -> 12; 0.05 (in (0.0398, 0.1203]) -> 8; 1 -> 15.
  RTNResult r =
      rtn({-2.0f, 1.0f, 0.1f, 2.0f}, 1, 4, opts(ElementFormat::nf4, -1));
  EXPECT_EQ(r.scales, (std::vector<float>{2.0f}));
  EXPECT_TRUE(r.zeros.empty());
  EXPECT_EQ(r.codes, (std::vector<uint8_t>{0, 12, 8, 15}));
  // Random, blocks of 64 with a ragged tail.
  quanttest::Rng rng(57);
  const int64_t rows = 3, cols = 150;
  std::vector<float> w = rng.vec(rows * cols, -2.0f, 1.5f);
  for (ScaleType st : {ScaleType::F32, ScaleType::F16, ScaleType::BF16}) {
    RTNResult q = rtn(w, rows, cols, opts(ElementFormat::nf4, 64, false, st));
    ASSERT_EQ(q.groups, 3);
    for (int64_t i = 0; i < rows; ++i)
      for (int64_t g = 0; g < 3; ++g) {
        float amax = 0;
        for (int64_t c = g * 64; c < std::min(cols, g * 64 + 64); ++c)
          amax = std::max(amax, std::fabs(w[i * cols + c]));
        float s = roundScale(amax, st);
        ASSERT_EQ(q.scales[i * 3 + g], s);
        for (int64_t c = g * 64; c < std::min(cols, g * 64 + 64); ++c) {
          float y = std::fmin(std::fmax(w[i * cols + c] / s, -1.0f), 1.0f);
          ASSERT_EQ(q.codes[i * cols + c], encodeNF4(y));
        }
      }
  }
}

TEST(RTN, FP4) {
  // Row {-2, 1, 0.1, 2}: y = -1 -> 0b1011; 0.5 -> 0b0101; 0.05 -> 0b0001;
  // 1 -> 0b0011.
  RTNResult r =
      rtn({-2.0f, 1.0f, 0.1f, 2.0f}, 1, 4, opts(ElementFormat::fp4, -1));
  EXPECT_EQ(r.scales, (std::vector<float>{2.0f}));
  EXPECT_TRUE(r.zeros.empty());
  EXPECT_EQ(r.codes, (std::vector<uint8_t>{0b1011, 0b0101, 0b0001, 0b0011}));
  quanttest::Rng rng(58);
  std::vector<float> w = rng.vec(2 * 64, -1.0f, 3.0f);
  RTNResult q = rtn(w, 2, 64, opts(ElementFormat::fp4, 0));
  ASSERT_EQ(q.scales.size(), 1u);
  float amax = 0;
  for (float v : w)
    amax = std::max(amax, std::fabs(v));
  EXPECT_EQ(q.scales[0], amax);
  for (size_t i = 0; i < w.size(); ++i)
    ASSERT_EQ(q.codes[i], encodeFP4(w[i] / amax));
}

TEST(RTN, FP8) {
  // Scale = absmax / 448. absmax 448 -> scale 1 and y = w exactly:
  // 448 -> 0x7E, -448 -> 0xFE, 0 -> 0, 100 (tie 96/104) -> 0x6C,
  // 110 -> 112 = 0x6E, 0.001 -> 2^-9 = 0x01.
  RTNResult r = rtn({448.0f, -448.0f, 0.0f, 100.0f, 110.0f, 0.001f}, 1, 6,
                    opts(ElementFormat::f8E4M3FN, -1));
  EXPECT_EQ(r.scales, (std::vector<float>{1.0f}));
  EXPECT_TRUE(r.zeros.empty());
  EXPECT_EQ(r.codes,
            (std::vector<uint8_t>{0x7E, 0xFE, 0x00, 0x6C, 0x6E, 0x01}));
  // E5M2: absmax 57344 -> scale 1; 1.125 (tie 1 / 1.25) -> 0x3C.
  r = rtn({-57344.0f, 1.125f, 1.0f}, 1, 3, opts(ElementFormat::f8E5M2, -1));
  EXPECT_EQ(r.scales, (std::vector<float>{1.0f}));
  EXPECT_EQ(r.codes, (std::vector<uint8_t>{0xFB, 0x3C, 0x3C}));
  quanttest::Rng rng(59);
  const int64_t rows = 4, cols = 100;
  std::vector<float> w = rng.vec(rows * cols, -0.05f, 0.08f);
  for (ElementFormat k : {ElementFormat::f8E4M3FN, ElementFormat::f8E5M2})
    for (ScaleType st : {ScaleType::F32, ScaleType::BF16}) {
      RTNResult q = rtn(w, rows, cols, opts(k, 32, false, st));
      ASSERT_EQ(q.groups, 4);
      for (int64_t i = 0; i < rows; ++i)
        for (int64_t g = 0; g < 4; ++g) {
          int64_t c1 = std::min(cols, g * 32 + 32);
          float amax = 0;
          for (int64_t c = g * 32; c < c1; ++c)
            amax = std::max(amax, std::fabs(w[i * cols + c]));
          float s = roundScale(amax / f8MaxFinite(k), st);
          ASSERT_EQ(q.scales[i * 4 + g], s);
          for (int64_t c = g * 32; c < c1; ++c)
            ASSERT_EQ(q.codes[i * cols + c],
                      encodeNonInteger(k, w[i * cols + c] / s));
        }
    }
}

TEST(RTN, AllZeroGroups) {
  std::vector<float> w(2 * 64, 0.0f);
  for (int c = 32; c < 64; ++c)
    w[c] = 0.25f * (c - 40); // row 0 group 1 non-zero; everything else zero
  // Integer asym: [-1, 1] -> scale 2/15, zero 7 (f32 round of 7.4999995,
  // see GptqFindParams.AllZeroRowUsesUnitRange), codes 7.
  RTNResult r = rtn(w, 2, 64, opts(getIntegerFormat(4, false), 32));
  EXPECT_EQ(r.scales[0], 2.0f / 15.0f);
  EXPECT_EQ(r.zeros[0], 7);
  EXPECT_EQ(r.scales[2], 2.0f / 15.0f);
  EXPECT_EQ(r.scales[3], 2.0f / 15.0f);
  EXPECT_EQ(r.zeros[3], 7);
  for (int c = 0; c < 32; ++c) {
    EXPECT_EQ(r.codes[c], 7);
    EXPECT_EQ(r.codes[64 + c + 32], 7);
  }
  checkIntegerGroups(w, 2, 64, opts(getIntegerFormat(4, false), 32), r);
  // Signed: scale 2/15, codes 0.
  r = rtn(w, 2, 64, opts(getIntegerFormat(4, true), 32));
  EXPECT_EQ(r.scales[0], 2.0f / 15.0f);
  EXPECT_EQ(r.codes[0], 0);
  EXPECT_EQ(r.codes[127], 0);
  // Lookup / FP8: scale 0 and the code of 0.
  struct {
    ElementFormat format;
    uint8_t zeroCode;
  } cases[] = {{ElementFormat::nf4, 7},
               {ElementFormat::fp4, 0},
               {ElementFormat::f8E4M3FN, 0},
               {ElementFormat::f8E5M2, 0}};
  for (auto &k : cases) {
    r = rtn(w, 2, 64, opts(k.format, 32));
    EXPECT_EQ(r.scales[0], 0.0f);
    EXPECT_NE(r.scales[1], 0.0f);
    EXPECT_EQ(r.scales[2], 0.0f);
    EXPECT_EQ(r.scales[3], 0.0f);
    for (int c = 0; c < 32; ++c) {
      EXPECT_EQ(r.codes[c], k.zeroCode);
      EXPECT_EQ(r.codes[64 + c], k.zeroCode);
    }
  }
}

TEST(RTN, DequantizedWithinHalfStep) {
  // Asymmetric integer RTN: every element is within scale/2 of its
  // reconstruction (the range always contains the data).
  quanttest::Rng rng(60);
  const int64_t rows = 8, cols = 172;
  std::vector<float> w = rng.vec(rows * cols, -0.4f, 0.9f);
  for (unsigned bits : {2u, 3u, 4u, 8u}) {
    RTNResult r = rtn(w, rows, cols, opts(getIntegerFormat(bits, false), 32));
    for (int64_t i = 0; i < rows; ++i)
      for (int64_t c = 0; c < cols; ++c) {
        size_t pi = i * r.groups + c / 32;
        float s = r.scales[pi];
        float d = dequantizeAffine(r.codes[i * cols + c], s,
                                   static_cast<float>(r.zeros[pi]));
        ASSERT_LE(std::fabs(d - w[i * cols + c]), s * 0.5f * 1.0001f)
            << bits << " " << i << " " << c;
      }
  }
}

} // namespace
