//===- RoundingTest.cpp - roundHalfEven, f16 / bf16 conversions -----------===//
//
// Part of the quant-opt project, under the Apache License v2.0 with LLVM
// Exceptions.
//
//===----------------------------------------------------------------------===//

#include "TestUtil.h"
#include "quant/Numerics/Numerics.h"

#include "llvm/ADT/APFloat.h"
#include "llvm/ADT/APInt.h"

#include <gtest/gtest.h>

#include <cfenv>
#include <cmath>
#include <limits>

using namespace quantopt::numerics;
using quanttest::bitsOf;
using quanttest::floatOf;

namespace {

const float kInf = std::numeric_limits<float>::infinity();
const float kNaN = std::numeric_limits<float>::quiet_NaN();

//===----------------------------------------------------------------------===//
// roundHalfEven
//===----------------------------------------------------------------------===//

TEST(RoundHalfEven, Ties) {
  EXPECT_EQ(roundHalfEven(0.5f), 0.0f);
  EXPECT_EQ(roundHalfEven(-0.5f), 0.0f); // value only; see the report on -0
  EXPECT_EQ(roundHalfEven(1.5f), 2.0f);
  EXPECT_EQ(roundHalfEven(2.5f), 2.0f);
  EXPECT_EQ(roundHalfEven(3.5f), 4.0f);
  EXPECT_EQ(roundHalfEven(-1.5f), -2.0f);
  EXPECT_EQ(roundHalfEven(-2.5f), -2.0f);
  EXPECT_EQ(roundHalfEven(-3.5f), -4.0f);
  EXPECT_EQ(roundHalfEven(7.5f), 8.0f);
  EXPECT_EQ(roundHalfEven(-8.5f), -8.0f);
  EXPECT_EQ(roundHalfEven(127.5f), 128.0f);
  EXPECT_EQ(roundHalfEven(128.5f), 128.0f);
}

TEST(RoundHalfEven, NonTies) {
  EXPECT_EQ(roundHalfEven(0.0f), 0.0f);
  EXPECT_TRUE(std::signbit(roundHalfEven(-0.0f)));
  EXPECT_EQ(roundHalfEven(0.49999997f), 0.0f); // largest float below 0.5
  EXPECT_EQ(roundHalfEven(0.50000006f), 1.0f); // smallest float above 0.5
  EXPECT_EQ(roundHalfEven(2.4999998f), 2.0f);
  EXPECT_EQ(roundHalfEven(2.5000002f), 3.0f);
  EXPECT_EQ(roundHalfEven(-2.5000002f), -3.0f);
  EXPECT_EQ(roundHalfEven(-0.50000006f), -1.0f);
  EXPECT_EQ(roundHalfEven(-0.49999997f), 0.0f);
  EXPECT_EQ(roundHalfEven(1e-30f), 0.0f);
  EXPECT_EQ(roundHalfEven(-1e-30f), 0.0f);
  EXPECT_EQ(roundHalfEven(0.7f), 1.0f);
  EXPECT_EQ(roundHalfEven(-0.7f), -1.0f);
}

TEST(RoundHalfEven, LargeValues) {
  // 2^22 + 0.5 and 2^22 + 1.5 are the largest ties a float can hold (ulp 0.5
  // in [2^22, 2^23)).
  EXPECT_EQ(roundHalfEven(4194304.5f), 4194304.0f);
  EXPECT_EQ(roundHalfEven(4194305.5f), 4194306.0f);
  EXPECT_EQ(roundHalfEven(-4194304.5f), -4194304.0f);
  EXPECT_EQ(roundHalfEven(-4194305.5f), -4194306.0f);
  EXPECT_EQ(roundHalfEven(8388607.5f), 8388608.0f);
  // Floats >= 2^23 are integers and pass through.
  EXPECT_EQ(roundHalfEven(8388609.0f), 8388609.0f);
  EXPECT_EQ(roundHalfEven(16777215.0f), 16777215.0f);
  EXPECT_EQ(roundHalfEven(1e30f), 1e30f);
  EXPECT_EQ(roundHalfEven(-3.4028235e38f), -3.4028235e38f);
}

TEST(RoundHalfEven, NonFinitePassThrough) {
  EXPECT_TRUE(std::isnan(roundHalfEven(kNaN)));
  EXPECT_EQ(roundHalfEven(kInf), kInf);
  EXPECT_EQ(roundHalfEven(-kInf), -kInf);
}

TEST(RoundHalfEven, MatchesNearbyIntOnSweep) {
  // std::nearbyint in the default mode is IEEE roundToIntegralTiesToEven.
  ASSERT_EQ(std::fegetround(), FE_TONEAREST);
  quanttest::Rng rng(1);
  for (int i = 0; i < 200000; ++i) {
    float x = floatOf(static_cast<uint32_t>(rng.next()));
    if (!std::isfinite(x))
      continue;
    ASSERT_EQ(roundHalfEven(x), std::nearbyint(x)) << x;
  }
  // Every multiple of 0.25 in [-64, 64]: hits every tie and every quarter.
  for (int k = -256; k <= 256; ++k) {
    float x = k * 0.25f;
    ASSERT_EQ(roundHalfEven(x), std::nearbyint(x)) << x;
  }
}

TEST(RoundHalfEven, IgnoresRoundingMode) {
  const float inputs[] = {0.5f,  1.5f,        2.5f,         -0.5f,      -1.5f,
                          -2.5f, 0.49999997f, -0.50000006f, 4194304.5f, 3.7f};
  const float expected[] = {0.0f,  2.0f, 2.0f,  0.0f,       -2.0f,
                            -2.0f, 0.0f, -1.0f, 4194304.0f, 4.0f};
  for (int mode : {FE_UPWARD, FE_DOWNWARD, FE_TOWARDZERO}) {
    ASSERT_EQ(std::fesetround(mode), 0);
    for (size_t i = 0; i < sizeof(inputs) / sizeof(inputs[0]); ++i) {
      volatile float x = inputs[i];
      float r = roundHalfEven(x);
      std::fesetround(FE_TONEAREST);
      EXPECT_EQ(r, expected[i]) << "mode " << mode << " x " << inputs[i];
      std::fesetround(mode);
    }
    std::fesetround(FE_TONEAREST);
  }
}

//===----------------------------------------------------------------------===//
// f16
//===----------------------------------------------------------------------===//

// Half: sign | 5-bit exponent (bias 15) | 10-bit mantissa.
TEST(F16, GoldenBits) {
  EXPECT_EQ(toF16Bits(1.0f), 0x3C00);  // exponent 15 -> 0b01111 << 10
  EXPECT_EQ(toF16Bits(-2.0f), 0xC000); // sign | exponent 16
  EXPECT_EQ(toF16Bits(0.0f), 0x0000);
  EXPECT_EQ(toF16Bits(-0.0f), 0x8000);
  EXPECT_EQ(toF16Bits(65504.0f), 0x7BFF); // max finite: (2 - 2^-10) * 2^15
  EXPECT_EQ(toF16Bits(std::ldexp(1.0f, -14)), 0x0400); // min normal
  EXPECT_EQ(toF16Bits(std::ldexp(1.0f, -24)), 0x0001); // min subnormal
  // 0.1f = 1.6 * 2^-4: exponent 11 -> 0x2C00; mantissa 0.6*1024 = 614.4 ->
  // 614 = 0x266.
  EXPECT_EQ(toF16Bits(0.1f), 0x2E66);
  // 1/3 = 1.333 * 2^-2: exponent 13 -> 0x3400; 0.333*1024 = 341.3 -> 0x155.
  EXPECT_EQ(toF16Bits(1.0f / 3.0f), 0x3555);
  EXPECT_EQ(toF16Bits(kInf), 0x7C00);
  EXPECT_EQ(toF16Bits(-kInf), 0xFC00);
  uint16_t nan = toF16Bits(kNaN);
  EXPECT_EQ(nan & 0x7C00, 0x7C00);
  EXPECT_NE(nan & 0x03FF, 0);
}

TEST(F16, Ties) {
  // Half ulp at 1.0 is 2^-11. 1 + 2^-11 lies halfway between 0x3C00 (even)
  // and 0x3C01: goes down; 1 + 3*2^-11 between 0x3C01 and 0x3C02 (even): up.
  EXPECT_EQ(toF16Bits(1.0f + std::ldexp(1.0f, -11)), 0x3C00);
  EXPECT_EQ(toF16Bits(1.0f + 3 * std::ldexp(1.0f, -11)), 0x3C02);
  EXPECT_EQ(toF16Bits(1.0f + std::ldexp(1.0f, -11) + std::ldexp(1.0f, -20)),
            0x3C01);
  EXPECT_EQ(toF16Bits(-1.0f - std::ldexp(1.0f, -11)), 0xBC00);
  // Subnormal ties: 2^-25 is halfway between 0 and 0x0001 -> 0; 3*2^-25
  // between 0x0001 and 0x0002 -> 0x0002.
  EXPECT_EQ(toF16Bits(std::ldexp(1.0f, -25)), 0x0000);
  EXPECT_EQ(toF16Bits(3 * std::ldexp(1.0f, -25)), 0x0002);
  EXPECT_EQ(toF16Bits(std::ldexp(1.0f, -25) + std::ldexp(1.0f, -40)), 0x0001);
  // 1023.5 * 2^-24: between the largest subnormal 0x03FF (odd) and 0x0400.
  EXPECT_EQ(toF16Bits(1023.5f * std::ldexp(1.0f, -24)), 0x0400);
  EXPECT_EQ(roundToF16(1.0f + std::ldexp(1.0f, -11)), 1.0f);
  EXPECT_EQ(roundToF16(1.0f + 3 * std::ldexp(1.0f, -11)),
            1.0f + std::ldexp(1.0f, -9));
}

TEST(F16, Overflow) {
  // Values at or above 65520 (halfway between 65504 = 0x7BFF, odd mantissa,
  // and 2^16, the would-be next value) round to infinity; below it to 65504.
  EXPECT_EQ(toF16Bits(65519.0f), 0x7BFF);
  EXPECT_EQ(toF16Bits(std::nextafter(65520.0f, 0.0f)), 0x7BFF);
  EXPECT_EQ(toF16Bits(65520.0f), 0x7C00);
  EXPECT_EQ(toF16Bits(-65520.0f), 0xFC00);
  EXPECT_EQ(toF16Bits(1e5f), 0x7C00);
  EXPECT_EQ(toF16Bits(3.4028235e38f), 0x7C00);
  EXPECT_EQ(roundToF16(65519.0f), 65504.0f);
  EXPECT_EQ(roundToF16(65520.0f), kInf);
  EXPECT_EQ(roundToF16(-1e6f), -kInf);
}

TEST(F16, FromBits) {
  EXPECT_EQ(fromF16Bits(0x3C00), 1.0f);
  EXPECT_EQ(fromF16Bits(0x7BFF), 65504.0f);
  EXPECT_EQ(fromF16Bits(0x0001), std::ldexp(1.0f, -24));
  EXPECT_EQ(fromF16Bits(0x3555), 0.333251953125f); // 1365 * 2^-12
  EXPECT_EQ(fromF16Bits(0xFC00), -kInf);
  EXPECT_TRUE(std::isnan(fromF16Bits(0x7E00)));
  EXPECT_TRUE(std::signbit(fromF16Bits(0x8000)));
  // Every finite half round-trips exactly.
  for (uint32_t b = 0; b < 0x10000; ++b) {
    if ((b & 0x7C00) == 0x7C00)
      continue;
    ASSERT_EQ(toF16Bits(fromF16Bits(static_cast<uint16_t>(b))), b) << b;
  }
}

// Oracle: llvm::APFloat IEEE single -> half, round to nearest even.
static uint16_t apfloatF16(float x) {
  llvm::APFloat v(x);
  bool losesInfo;
  v.convert(llvm::APFloat::IEEEhalf(), llvm::APFloat::rmNearestTiesToEven,
            &losesInfo);
  return static_cast<uint16_t>(v.bitcastToAPInt().getZExtValue());
}

static uint16_t apfloatBF16(float x) {
  llvm::APFloat v(x);
  bool losesInfo;
  v.convert(llvm::APFloat::BFloat(), llvm::APFloat::rmNearestTiesToEven,
            &losesInfo);
  return static_cast<uint16_t>(v.bitcastToAPInt().getZExtValue());
}

TEST(F16, MatchesAPFloatAtEveryTie) {
  // For every f32 whose top 19 bits are fixed, the low 13 bits decide the
  // rounding to half's 10 mantissa bits (in the normal range); test just
  // below, at and just above the halfway point, and a random low part.
  quanttest::Rng rng(2);
  for (uint32_t hi = 0; hi < (1u << 19); hi += 3) {
    for (uint32_t lo : {0x0FFFu, 0x1000u, 0x1001u, 0u,
                        static_cast<uint32_t>(rng.next() & 0x1FFF)}) {
      float x = floatOf((hi << 13) | lo);
      if (std::isnan(x))
        continue;
      ASSERT_EQ(toF16Bits(x), apfloatF16(x)) << std::hex << bitsOf(x);
      ASSERT_EQ(bitsOf(roundToF16(x)), bitsOf(fromF16Bits(apfloatF16(x))))
          << std::hex << bitsOf(x);
    }
  }
}

//===----------------------------------------------------------------------===//
// bf16
//===----------------------------------------------------------------------===//

// bf16 is the top half of the f32 pattern, rounded on the low 16 bits.
TEST(BF16, GoldenBits) {
  EXPECT_EQ(toBF16Bits(1.0f), 0x3F80);  // 0x3F800000
  EXPECT_EQ(toBF16Bits(-1.5f), 0xBFC0); // 0xBFC00000
  EXPECT_EQ(toBF16Bits(-0.0f), 0x8000);
  // pi = 0x40490FDB: low half 0x0FDB < 0x8000 -> truncate.
  EXPECT_EQ(toBF16Bits(3.14159265f), 0x4049);
  // 0.1f = 0x3DCCCCCD: low half 0xCCCD > 0x8000 -> 0x3DCC + 1.
  EXPECT_EQ(toBF16Bits(0.1f), 0x3DCD);
  EXPECT_EQ(toBF16Bits(kInf), 0x7F80);
  EXPECT_EQ(toBF16Bits(-kInf), 0xFF80);
  EXPECT_EQ(fromBF16Bits(0x3DCD), floatOf(0x3DCD0000));
  EXPECT_EQ(fromBF16Bits(0x7F7F), floatOf(0x7F7F0000));
}

TEST(BF16, Ties) {
  // 0x3F808000 = 1 + 2^-8: halfway between 0x3F80 (even) and 0x3F81 -> down.
  EXPECT_EQ(toBF16Bits(floatOf(0x3F808000)), 0x3F80);
  // 0x3F818000 = 1 + 3*2^-8: halfway between 0x3F81 and 0x3F82 (even) -> up.
  EXPECT_EQ(toBF16Bits(floatOf(0x3F818000)), 0x3F82);
  EXPECT_EQ(toBF16Bits(floatOf(0x3F808001)), 0x3F81);
  EXPECT_EQ(toBF16Bits(floatOf(0x3F817FFF)), 0x3F81);
  EXPECT_EQ(toBF16Bits(floatOf(0xBF818000)), 0xBF82);
  // Subnormals: 0x00008000 halfway between 0 and 0x0001 -> 0; 0x00018000 ->
  // 0x0002; 0x00007FFF -> 0.
  EXPECT_EQ(toBF16Bits(floatOf(0x00008000)), 0x0000);
  EXPECT_EQ(toBF16Bits(floatOf(0x00018000)), 0x0002);
  EXPECT_EQ(toBF16Bits(floatOf(0x00007FFF)), 0x0000);
  // A carry out of the mantissa bumps the exponent: 0x3FFF8000 = 1.99609375
  // is 0x3FFF (odd) + half an ulp -> 0x4000 = 2.0.
  EXPECT_EQ(toBF16Bits(floatOf(0x3FFF8000)), 0x4000);
  EXPECT_EQ(roundToBF16(floatOf(0x3F818000)), floatOf(0x3F820000));
  EXPECT_EQ(roundToBF16(floatOf(0x3F808000)), 1.0f);
}

TEST(BF16, Overflow) {
  // Largest bf16 is 0x7F7F. 0x7F7F8000 is halfway to 0x7F80 (inf, even) and
  // rounds to infinity, as do all larger finite floats (FLT_MAX included).
  EXPECT_EQ(toBF16Bits(floatOf(0x7F7F7FFF)), 0x7F7F);
  EXPECT_EQ(toBF16Bits(floatOf(0x7F7F8000)), 0x7F80);
  EXPECT_EQ(toBF16Bits(3.4028235e38f), 0x7F80);
  EXPECT_EQ(toBF16Bits(-3.4028235e38f), 0xFF80);
  EXPECT_EQ(roundToBF16(3.4028235e38f), kInf);
  EXPECT_EQ(roundToBF16(floatOf(0x7F7F7FFF)), floatOf(0x7F7F0000));
}

TEST(BF16, NaNStaysNaN) {
  // A signalling NaN with only low mantissa bits set must not truncate to
  // infinity.
  for (uint32_t b :
       {0x7FC00000u, 0x7F800001u, 0xFF800001u, 0x7F80FFFFu, 0x7FFFFFFFu}) {
    uint16_t h = toBF16Bits(floatOf(b));
    EXPECT_EQ(h & 0x7F80, 0x7F80) << std::hex << b;
    EXPECT_NE(h & 0x007F, 0) << std::hex << b;
    EXPECT_EQ(h & 0x8000, (b >> 16) & 0x8000) << std::hex << b;
    EXPECT_TRUE(std::isnan(roundToBF16(floatOf(b))));
  }
}

TEST(BF16, MatchesAPFloatAtEveryTie) {
  quanttest::Rng rng(3);
  for (uint32_t hi = 0; hi < 0x10000; ++hi) {
    for (uint32_t lo : {0x7FFFu, 0x8000u, 0x8001u, 0u, 0xFFFFu,
                        static_cast<uint32_t>(rng.next() & 0xFFFF)}) {
      float x = floatOf((hi << 16) | lo);
      if (std::isnan(x))
        continue;
      ASSERT_EQ(toBF16Bits(x), apfloatBF16(x)) << std::hex << bitsOf(x);
    }
  }
}

} // namespace
