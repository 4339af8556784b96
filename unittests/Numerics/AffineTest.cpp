//===- AffineTest.cpp - quantizeAffine and gptqFindParams -----------------===//
//
// Part of the quant-opt project, under the Apache License v2.0 with LLVM
// Exceptions.
//
//===----------------------------------------------------------------------===//

#include "TestUtil.h"
#include "quant/Numerics/Numerics.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <vector>

using namespace quantopt::numerics;

namespace {

const float kInf = std::numeric_limits<float>::infinity();
const float kNaN = std::numeric_limits<float>::quiet_NaN();

//===----------------------------------------------------------------------===//
// quantizeAffine
//===----------------------------------------------------------------------===//

TEST(QuantizeAffine, TiesRoundHalfEvenBeforeZero) {
  // x/s exactly k + 0.5 (s = 1 or 0.5 keeps the division exact).
  EXPECT_EQ(quantizeAffine(0.5f, 1.0f, 0, 0, 15), 0);
  EXPECT_EQ(quantizeAffine(1.5f, 1.0f, 0, 0, 15), 2);
  EXPECT_EQ(quantizeAffine(2.5f, 1.0f, 0, 0, 15), 2);
  EXPECT_EQ(quantizeAffine(1.25f, 0.5f, 0, 0, 15), 2); // 2.5 -> 2
  EXPECT_EQ(quantizeAffine(0.75f, 0.5f, 0, 0, 15), 2); // 1.5 -> 2
  // Negative ties with a zero-point: round(-0.5) + 8 = 8, round(-1.5) + 8 = 6,
  // round(-2.5) + 8 = 6 (half away from zero would give 7, 6, 5).
  EXPECT_EQ(quantizeAffine(-0.5f, 1.0f, 8, 0, 15), 8);
  EXPECT_EQ(quantizeAffine(-1.5f, 1.0f, 8, 0, 15), 6);
  EXPECT_EQ(quantizeAffine(-2.5f, 1.0f, 8, 0, 15), 6);
  // Integer zero added after rounding: round(0.5) + 3 = 3, not round(3.5).
  EXPECT_EQ(quantizeAffine(0.5f, 1.0f, 3, 0, 15), 3);
  EXPECT_EQ(quantizeAffine(1.5f, 1.0f, 3, 0, 15), 5);
}

TEST(QuantizeAffine, Clamping) {
  EXPECT_EQ(quantizeAffine(100.0f, 1.0f, 0, 0, 15), 15);
  EXPECT_EQ(quantizeAffine(-100.0f, 1.0f, 0, 0, 15), 0);
  EXPECT_EQ(quantizeAffine(100.0f, 1.0f, 0, -8, 7), 7);
  EXPECT_EQ(quantizeAffine(-100.0f, 1.0f, 0, -8, 7), -8);
  // At the edges: 7.5 rounds to 8 -> clamped to 7; -8.5 rounds to -8 (kept).
  EXPECT_EQ(quantizeAffine(7.5f, 1.0f, 0, -8, 7), 7);
  EXPECT_EQ(quantizeAffine(-8.5f, 1.0f, 0, -8, 7), -8);
  EXPECT_EQ(quantizeAffine(-9.5f, 1.0f, 0, -8, 7), -8);
  // 8-bit unsigned with zero 128: 127.5 -> 128 + 128 = 256 -> 255.
  EXPECT_EQ(quantizeAffine(127.5f, 1.0f, 128, 0, 255), 255);
  EXPECT_EQ(quantizeAffine(126.5f, 1.0f, 128, 0, 255), 254);
  EXPECT_EQ(quantizeAffine(-128.5f, 1.0f, 128, 0, 255), 0);
  // Zero-point itself outside the range: clamped with the code.
  EXPECT_EQ(quantizeAffine(0.0f, 1.0f, 20, 0, 15), 15);
  EXPECT_EQ(quantizeAffine(0.0f, 1.0f, -3, 0, 15), 0);
  // 2-bit.
  EXPECT_EQ(quantizeAffine(5.0f, 1.0f, 1, 0, 3), 3);
  EXPECT_EQ(quantizeAffine(-0.4f, 1.0f, 1, 0, 3), 1);
}

TEST(QuantizeAffine, NonFinite) {
  EXPECT_EQ(quantizeAffine(kNaN, 1.0f, 8, 0, 15), 0);
  EXPECT_EQ(quantizeAffine(kNaN, 0.3f, 0, -8, 7), -8);
  EXPECT_EQ(quantizeAffine(-kNaN, 0.3f, 100, 0, 255), 0);
  EXPECT_EQ(quantizeAffine(kInf, 1.0f, 8, 0, 15), 15);
  EXPECT_EQ(quantizeAffine(-kInf, 1.0f, 8, 0, 15), 0);
  EXPECT_EQ(quantizeAffine(kInf, 0.1f, 0, -128, 127), 127);
  EXPECT_EQ(quantizeAffine(-kInf, 0.1f, 0, -128, 127), -128);
  // x / s overflowing to +-inf saturates too.
  EXPECT_EQ(quantizeAffine(3e38f, 1e-10f, 0, -8, 7), 7);
  EXPECT_EQ(quantizeAffine(-3e38f, 1e-10f, 0, -8, 7), -8);
}

TEST(QuantizeAffine, ZeroScaleGivesClampedZero) {
  EXPECT_EQ(quantizeAffine(3.0f, 0.0f, 5, 0, 15), 5);
  EXPECT_EQ(quantizeAffine(-3.0f, 0.0f, 5, 0, 15), 5);
  EXPECT_EQ(quantizeAffine(0.0f, 0.0f, 5, 0, 15), 5); // not 0/0 = NaN -> 0
  EXPECT_EQ(quantizeAffine(kNaN, 0.0f, 5, 0, 15), 5);
  EXPECT_EQ(quantizeAffine(1.0f, 0.0f, 20, 0, 15), 15);
  EXPECT_EQ(quantizeAffine(1.0f, 0.0f, -3, 0, 15), 0);
  EXPECT_EQ(quantizeAffine(1.0f, 0.0f, 0, -8, 7), 0);
  EXPECT_EQ(quantizeAffine(1.0f, -0.0f, 4, 0, 15), 4);
}

TEST(QuantizeAffine, MatchesFormulaOnSweep) {
  quanttest::Rng rng(11);
  for (int i = 0; i < 100000; ++i) {
    float x = rng.uniform(-3.0f, 3.0f);
    float s = rng.uniform(0.01f, 0.5f);
    int32_t z = static_cast<int32_t>(rng.next() % 16);
    float r = std::nearbyint(x / s) + static_cast<float>(z);
    int32_t expected =
        static_cast<int32_t>(std::fmin(std::fmax(r, 0.0f), 15.0f));
    ASSERT_EQ(quantizeAffine(x, s, z, 0, 15), expected) << x << " " << s;
  }
}

TEST(QuantizeAffine, Dequantize) {
  EXPECT_EQ(dequantizeAffine(12, 0.5f, 8.0f), 2.0f);
  EXPECT_EQ(dequantizeAffine(0, 0.25f, 8.0f), -2.0f);
  EXPECT_EQ(dequantizeAffine(-8, 0.5f, 0.0f), -4.0f);
  EXPECT_EQ(dequantizeAffine(3, 0.5f, 2.5f), 0.25f);
}

TEST(QuantizeAffineFloatZero, RoundsAfterAddingZero) {
  // round(x/s + z): 0.5 + 0.5 = 1 -> 1; 1.0 + 0.5 = 1.5 -> 2; 0 + 2.5 -> 2;
  // 1 + 2.5 = 3.5 -> 4.
  EXPECT_EQ(quantizeAffineFloatZero(0.5f, 1.0f, 0.5f, 0, 15), 1);
  EXPECT_EQ(quantizeAffineFloatZero(1.0f, 1.0f, 0.5f, 0, 15), 2);
  EXPECT_EQ(quantizeAffineFloatZero(0.0f, 1.0f, 2.5f, 0, 15), 2);
  EXPECT_EQ(quantizeAffineFloatZero(1.0f, 1.0f, 2.5f, 0, 15), 4);
  EXPECT_EQ(quantizeAffineFloatZero(-1.0f, 1.0f, 2.5f, 0, 15), 2);  // 1.5
  EXPECT_EQ(quantizeAffineFloatZero(-0.25f, 0.5f, 0.0f, -8, 7), 0); // -0.5
  EXPECT_EQ(quantizeAffineFloatZero(0.2f, 1.0f, 3.0f, 0, 15), 3);
}

TEST(QuantizeAffineFloatZero, ClampAndNonFinite) {
  EXPECT_EQ(quantizeAffineFloatZero(100.0f, 1.0f, 0.5f, 0, 15), 15);
  EXPECT_EQ(quantizeAffineFloatZero(-100.0f, 1.0f, 0.5f, 0, 15), 0);
  EXPECT_EQ(quantizeAffineFloatZero(6.5f, 1.0f, 1.0f, -8, 7), 7); // 7.5 -> 8
  EXPECT_EQ(quantizeAffineFloatZero(kNaN, 1.0f, 8.0f, 0, 15), 0);
  EXPECT_EQ(quantizeAffineFloatZero(kNaN, 1.0f, 0.0f, -8, 7), -8);
  EXPECT_EQ(quantizeAffineFloatZero(kInf, 1.0f, 8.0f, 0, 15), 15);
  EXPECT_EQ(quantizeAffineFloatZero(-kInf, 1.0f, 8.0f, 0, 15), 0);
  // Zero scale: clamp(roundeven(z)).
  EXPECT_EQ(quantizeAffineFloatZero(3.0f, 0.0f, 5.5f, 0, 15), 6);
  EXPECT_EQ(quantizeAffineFloatZero(3.0f, 0.0f, 4.5f, 0, 15), 4);
  EXPECT_EQ(quantizeAffineFloatZero(3.0f, 0.0f, 20.0f, 0, 15), 15);
  EXPECT_EQ(quantizeAffineFloatZero(3.0f, 0.0f, -2.0f, 0, 15), 0);
}

//===----------------------------------------------------------------------===//
// gptqFindParams (docs/Numerics.md §2)
//===----------------------------------------------------------------------===//

AffineParams params(std::vector<float> x, unsigned bits, bool sym) {
  return gptqFindParams(x.data(), static_cast<int64_t>(x.size()), bits, sym);
}

TEST(GptqFindParams, Asymmetric) {
  // xmin = -1, xmax = 2: scale = 3/15 (f32 0.2f), zero = round(1/0.2f) = 5.
  AffineParams p = params({-1.0f, 0.5f, 2.0f}, 4, false);
  EXPECT_EQ(p.scale, 3.0f / 15.0f);
  EXPECT_EQ(p.zero, 5);
  // 8 bits: scale = 3/255; zero = round(1 / (3/255)) = round(85.0) = 85.
  p = params({2.0f, -1.0f}, 8, false);
  EXPECT_EQ(p.scale, 3.0f / 255.0f);
  EXPECT_EQ(p.zero, 85);
  // 2 bits: [-1, 2] / 3 -> scale 1, zero 1.
  p = params({-1.0f, 2.0f}, 2, false);
  EXPECT_EQ(p.scale, 1.0f);
  EXPECT_EQ(p.zero, 1);
}

TEST(GptqFindParams, ZeroPointTiesRoundHalfEven) {
  // scale = (xmax - xmin)/15 = 0.5 exactly; -xmin/scale = 0.5, 1.5, 2.5 ->
  // zero 0, 2, 2 (half away from zero would give 1, 2, 3).
  AffineParams p = params({-0.25f, 7.25f}, 4, false);
  EXPECT_EQ(p.scale, 0.5f);
  EXPECT_EQ(p.zero, 0);
  p = params({-0.75f, 6.75f}, 4, false);
  EXPECT_EQ(p.scale, 0.5f);
  EXPECT_EQ(p.zero, 2);
  p = params({6.25f, -1.25f}, 4, false);
  EXPECT_EQ(p.scale, 0.5f);
  EXPECT_EQ(p.zero, 2);
}

TEST(GptqFindParams, RangeAlwaysContainsZero) {
  // All positive: xmin = 0 -> scale = xmax/15, zero 0.
  AffineParams p = params({1.0f, 2.0f, 3.0f}, 4, false);
  EXPECT_EQ(p.scale, 3.0f / 15.0f);
  EXPECT_EQ(p.zero, 0);
  // Negative only: xmax = 0 -> scale = 3/15, zero = round(3 / 0.2f) = 15.
  p = params({-3.0f, -1.0f}, 4, false);
  EXPECT_EQ(p.scale, 3.0f / 15.0f);
  EXPECT_EQ(p.zero, 15);
  p = params({-3.0f, -1.0f}, 8, false);
  EXPECT_EQ(p.scale, 3.0f / 255.0f);
  EXPECT_EQ(p.zero, 255);
}

TEST(GptqFindParams, Symmetric) {
  // sym: xmax = max(|xmin|, xmax) = 2, xmin = -2 -> scale 4/15, zero 8.
  AffineParams p = params({-1.0f, 0.5f, 2.0f}, 4, true);
  EXPECT_EQ(p.scale, 4.0f / 15.0f);
  EXPECT_EQ(p.zero, 8);
  // Negative only: xmax = 3, xmin = -3 -> scale 6/15, zero 8.
  p = params({-3.0f, -1.0f}, 4, true);
  EXPECT_EQ(p.scale, 6.0f / 15.0f);
  EXPECT_EQ(p.zero, 8);
  // 8 bits: zero = 128, scale = 2*absmax/255.
  p = params({-0.5f, 1.0f}, 8, true);
  EXPECT_EQ(p.scale, 2.0f / 255.0f);
  EXPECT_EQ(p.zero, 128);
  p = params({-1.0f}, 2, true);
  EXPECT_EQ(p.scale, 2.0f / 3.0f);
  EXPECT_EQ(p.zero, 2);
}

TEST(GptqFindParams, SymmetricAllPositiveQuirk) {
  // Documented quirk: xmin stays 0, so scale = xmax/15 with zero 8, and the
  // positive side clips at 7/15 * xmax.
  AffineParams p = params({1.0f, 2.0f, 3.0f}, 4, true);
  EXPECT_EQ(p.scale, 3.0f / 15.0f);
  EXPECT_EQ(p.zero, 8);
  int32_t q = quantizeAffine(3.0f, p.scale, p.zero, 0, 15);
  EXPECT_EQ(q, 15); // round(15) + 8 clamps
  EXPECT_FLOAT_EQ(dequantizeAffine(q, p.scale, p.zero), 7.0f / 15.0f * 3.0f);
}

TEST(GptqFindParams, AllZeroRowUsesUnitRange) {
  // [-1, 1]: scale = 2/15 = 0.13333334f (0x3E088889, slightly above 2/15).
  // zero = round(1 / 0.13333334f): the exact quotient 7.49999961 rounds (f32,
  // ulp 4.8e-7) to 7.4999995, so torch's f32 round gives 7, not 8.
  float f32Zero = std::nearbyint(1.0f / (2.0f / 15.0f));
  ASSERT_EQ(f32Zero, 7.0f);
  AffineParams p = params({0.0f, 0.0f, -0.0f}, 4, false);
  EXPECT_EQ(p.scale, 2.0f / 15.0f);
  EXPECT_EQ(p.zero, 7);
  // Symmetric: zero is (maxq + 1) / 2 = 8 regardless.
  p = params({0.0f, 0.0f}, 4, true);
  EXPECT_EQ(p.scale, 2.0f / 15.0f);
  EXPECT_EQ(p.zero, 8);
  // 8 bits: 2/255 = 0.007843138f; 1/that = 127.4999925 exactly, f32
  // 127.49999237 -> 127.
  p = params({0.0f}, 8, false);
  EXPECT_EQ(p.scale, 2.0f / 255.0f);
  EXPECT_EQ(p.zero, 127);
  // An empty slice behaves like an all-zero one.
  p = gptqFindParams(nullptr, 0, 4, false);
  EXPECT_EQ(p.scale, 2.0f / 15.0f);
  EXPECT_EQ(p.zero, 7);
  // The all-zero range quantizes zeros exactly: round(0) + 7 -> 0.0.
  EXPECT_EQ(dequantizeAffine(quantizeAffine(0.0f, 2.0f / 15.0f, 7, 0, 15),
                             2.0f / 15.0f, 7.0f),
            0.0f);
}

TEST(GptqFindParams, MatchesReferenceOnRandomRows) {
  // Literal transcription of quant.py find_params for one row, in f32.
  quanttest::Rng rng(12);
  for (int trial = 0; trial < 2000; ++trial) {
    unsigned bits = 2 + trial % 7;
    bool sym = (trial / 7) % 2;
    size_t n = 1 + rng.next() % 100;
    float lo = rng.uniform(-2.0f, 1.0f);
    float hi = lo + rng.uniform(0.0f, 3.0f);
    std::vector<float> x = rng.vec(n, lo, hi);
    float xmin = 0.0f, xmax = 0.0f;
    for (float v : x) {
      xmin = std::fmin(xmin, v);
      xmax = std::fmax(xmax, v);
    }
    float maxq = static_cast<float>((1 << bits) - 1);
    if (sym) {
      xmax = std::fmax(std::fabs(xmin), xmax);
      if (xmin < 0)
        xmin = -xmax;
    }
    if (xmin == 0 && xmax == 0) {
      xmin = -1;
      xmax = 1;
    }
    float scale = (xmax - xmin) / maxq;
    float zero = sym ? (maxq + 1) / 2 : std::nearbyint(-xmin / scale);
    AffineParams p = params(x, bits, sym);
    ASSERT_EQ(p.scale, scale) << trial;
    ASSERT_EQ(p.zero, static_cast<int32_t>(zero)) << trial;
  }
}

} // namespace
