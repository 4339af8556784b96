//===- FP8Test.cpp - E4M3FN / E5M2 against llvm::APFloat
//-------------------===//
//
// Part of the quant-opt project, under the Apache License v2.0 with LLVM
// Exceptions.
//
//===----------------------------------------------------------------------===//
//
// Oracle: APFloat convert(rmNearestTiesToEven) from f32, then explicit
// saturation (an overflow result, inf or NaN, becomes the largest finite value
// with the input's sign), and NaN -> 0x7F / 0x7E as the header documents.
//
//===----------------------------------------------------------------------===//

#include "TestUtil.h"
#include "quant/Numerics/Numerics.h"

#include "llvm/ADT/APFloat.h"
#include "llvm/ADT/APInt.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <vector>

using namespace quantopt::numerics;
using quanttest::bitsOf;

namespace {

const float kInf = std::numeric_limits<float>::infinity();
const float kNaN = std::numeric_limits<float>::quiet_NaN();

struct Format {
  const char *name;
  ElementFormat kind;
  const llvm::fltSemantics &(*semantics)();
  uint8_t (*encode)(float);
  float (*decode)(uint8_t);
  uint8_t maxFiniteCode;
  uint8_t nanCode;
  float maxFinite;
};

const Format kFormats[] = {
    {"E4M3FN", ElementFormat::f8E4M3FN, llvm::APFloat::Float8E4M3FN, toF8E4M3FN,
     fromF8E4M3FN, 0x7E, 0x7F, 448.0f},
    {"E5M2", ElementFormat::f8E5M2, llvm::APFloat::Float8E5M2, toF8E5M2,
     fromF8E5M2, 0x7B, 0x7E, 57344.0f},
};

float apDecode(const Format &f, uint8_t code) {
  llvm::APFloat v(f.semantics(), llvm::APInt(8, code));
  return v.convertToFloat();
}

uint8_t apEncodeSaturating(const Format &f, float x) {
  if (std::isnan(x))
    return f.nanCode;
  llvm::APFloat v(x);
  bool losesInfo;
  v.convert(f.semantics(), llvm::APFloat::rmNearestTiesToEven, &losesInfo);
  if (v.isInfinity() || v.isNaN())
    return static_cast<uint8_t>((std::signbit(x) ? 0x80 : 0) | f.maxFiniteCode);
  return static_cast<uint8_t>(v.bitcastToAPInt().getZExtValue());
}

void expectSameFloat(float actual, float expected, const char *what,
                     unsigned code) {
  if (std::isnan(expected)) {
    EXPECT_TRUE(std::isnan(actual)) << what << " code 0x" << std::hex << code;
    return;
  }
  EXPECT_EQ(bitsOf(actual), bitsOf(expected))
      << what << " code 0x" << std::hex << code << ": " << actual << " vs "
      << expected;
}

TEST(FP8, DecodeAll256MatchesAPFloat) {
  for (const Format &f : kFormats)
    for (unsigned c = 0; c < 256; ++c) {
      float expected = apDecode(f, static_cast<uint8_t>(c));
      expectSameFloat(f.decode(static_cast<uint8_t>(c)), expected, f.name, c);
      expectSameFloat(decodeNonInteger(f.kind, static_cast<uint8_t>(c)),
                      expected, f.name, c);
    }
}

TEST(FP8, DecodeGoldens) {
  // E4M3FN: bias 7, no infinities, only S.1111.111 is NaN.
  EXPECT_EQ(fromF8E4M3FN(0x7E), 448.0f);     // 1.75 * 2^8
  EXPECT_EQ(fromF8E4M3FN(0x38), 1.0f);       // exponent 7
  EXPECT_EQ(fromF8E4M3FN(0x08), 1.0f / 64);  // min normal 2^-6
  EXPECT_EQ(fromF8E4M3FN(0x01), 1.0f / 512); // min subnormal 2^-9
  EXPECT_EQ(fromF8E4M3FN(0x07), 7.0f / 512); // max subnormal
  EXPECT_EQ(fromF8E4M3FN(0xC4), -3.0f);      // -1.5 * 2^1
  EXPECT_EQ(fromF8E4M3FN(0x78), 256.0f);     // exponent 15 is finite
  EXPECT_TRUE(std::isnan(fromF8E4M3FN(0x7F)));
  EXPECT_TRUE(std::isnan(fromF8E4M3FN(0xFF)));
  EXPECT_TRUE(std::signbit(fromF8E4M3FN(0x80)));
  // E5M2: bias 15, IEEE-like.
  EXPECT_EQ(fromF8E5M2(0x7B), 57344.0f); // 1.75 * 2^15
  EXPECT_EQ(fromF8E5M2(0x3C), 1.0f);
  EXPECT_EQ(fromF8E5M2(0x01), 1.0f / 65536); // min subnormal 2^-16
  EXPECT_EQ(fromF8E5M2(0x7C), kInf);
  EXPECT_EQ(fromF8E5M2(0xFC), -kInf);
  for (uint8_t c : {0x7D, 0x7E, 0x7F, 0xFD, 0xFE, 0xFF})
    EXPECT_TRUE(std::isnan(fromF8E5M2(c))) << int(c);
  EXPECT_EQ(f8MaxFinite(ElementFormat::f8E4M3FN), 448.0f);
  EXPECT_EQ(f8MaxFinite(ElementFormat::f8E5M2), 57344.0f);
}

TEST(FP8, EncodeEveryRepresentableValue) {
  for (const Format &f : kFormats)
    for (unsigned c = 0; c < 256; ++c) {
      float v = apDecode(f, static_cast<uint8_t>(c));
      if (std::isnan(v) || std::isinf(v))
        continue;
      EXPECT_EQ(f.encode(v), c) << f.name << " 0x" << std::hex << c;
      EXPECT_EQ(encodeNonInteger(f.kind, v), c) << f.name;
      EXPECT_EQ(f.encode(v), apEncodeSaturating(f, v)) << f.name;
    }
}

// Sorted positive finite values of a format.
std::vector<double> positiveValues(const Format &f) {
  std::vector<double> v;
  for (unsigned c = 0; c <= f.maxFiniteCode; ++c)
    v.push_back(apDecode(f, static_cast<uint8_t>(c)));
  return v;
}

TEST(FP8, EncodeMidpointsTiesToEven) {
  for (const Format &f : kFormats) {
    std::vector<double> v = positiveValues(f);
    for (size_t i = 0; i + 1 < v.size(); ++i) {
      // One more mantissa bit than FP8: exact in f32.
      float mid = static_cast<float>((v[i] + v[i + 1]) / 2);
      ASSERT_EQ(static_cast<double>(mid), (v[i] + v[i + 1]) / 2);
      // Tie: the code with an even mantissa, i.e. an even code.
      uint8_t even = static_cast<uint8_t>(i % 2 == 0 ? i : i + 1);
      EXPECT_EQ(f.encode(mid), even) << f.name << " mid " << mid;
      EXPECT_EQ(f.encode(-mid), even | 0x80) << f.name << " mid " << -mid;
      EXPECT_EQ(f.encode(mid), apEncodeSaturating(f, mid)) << f.name;
      // Just off the midpoint.
      float above = std::nextafter(mid, kInf), below = std::nextafter(mid, 0.f);
      EXPECT_EQ(f.encode(above), i + 1) << f.name << " " << above;
      EXPECT_EQ(f.encode(below), i) << f.name << " " << below;
      EXPECT_EQ(f.encode(-above), (i + 1) | 0x80) << f.name;
      EXPECT_EQ(f.encode(-below), i | 0x80) << f.name;
      EXPECT_EQ(f.encode(above), apEncodeSaturating(f, above)) << f.name;
      EXPECT_EQ(f.encode(below), apEncodeSaturating(f, below)) << f.name;
    }
  }
}

TEST(FP8, EncodeGoldens) {
  // E4M3FN around 100: 96 = 1.5*2^6 (0x6C, mantissa 4, even) and 104 (0x6D);
  // 100 is the tie -> 0x6C; 108 is the tie 104/112 -> 112 (0x6E).
  EXPECT_EQ(toF8E4M3FN(100.0f), 0x6C);
  EXPECT_EQ(toF8E4M3FN(108.0f), 0x6E);
  EXPECT_EQ(toF8E4M3FN(110.0f), 0x6E);
  EXPECT_EQ(toF8E4M3FN(1.0f), 0x38);
  EXPECT_EQ(toF8E4M3FN(-3.0f), 0xC4);
  // Subnormals: 2^-10 is the tie 0 / 2^-9 -> 0; 3*2^-10 -> 2*2^-9 (0x02).
  EXPECT_EQ(toF8E4M3FN(std::ldexp(1.0f, -10)), 0x00);
  EXPECT_EQ(toF8E4M3FN(std::ldexp(3.0f, -10)), 0x02);
  EXPECT_EQ(toF8E4M3FN(0.001f), 0x01);
  EXPECT_EQ(toF8E4M3FN(-std::ldexp(1.0f, -11)), 0x80);
  EXPECT_EQ(toF8E4M3FN(-0.0f), 0x80);
  EXPECT_EQ(toF8E4M3FN(0.0f), 0x00);
  // E5M2: 1.0 = 0x3C; 1.125 is the tie 1.0 / 1.25 -> 0x3C; 1.375 -> 1.5.
  EXPECT_EQ(toF8E5M2(1.0f), 0x3C);
  EXPECT_EQ(toF8E5M2(1.125f), 0x3C);
  EXPECT_EQ(toF8E5M2(1.375f), 0x3E);
  EXPECT_EQ(toF8E5M2(std::ldexp(1.0f, -17)), 0x00);
  EXPECT_EQ(toF8E5M2(std::ldexp(3.0f, -17)), 0x02);
}

TEST(FP8, OverflowSaturates) {
  // E4M3FN: 448 (0x7E) is the largest finite value; anything larger, inf
  // included, saturates (APFloat alone would give NaN above 464).
  for (float x :
       {448.0f, 449.0f, 463.9f, 464.0f, 465.0f, 480.0f, 1e4f, 3e38f, kInf}) {
    EXPECT_EQ(toF8E4M3FN(x), 0x7E) << x;
    EXPECT_EQ(toF8E4M3FN(-x), 0xFE) << x;
    EXPECT_EQ(toF8E4M3FN(x), apEncodeSaturating(kFormats[0], x)) << x;
  }
  EXPECT_EQ(toF8E4M3FN(447.0f), 0x7E); // 416 < 447 < 448, nearest 448
  EXPECT_EQ(toF8E4M3FN(431.0f), 0x7D); // below midpoint 432 -> 416
  // E5M2: 57344 (0x7B); 61440 is the tie to 65536 (inf, even) -> saturated.
  for (float x : {57344.0f, 60000.0f, 61440.0f, 65536.0f, 1e6f, kInf}) {
    EXPECT_EQ(toF8E5M2(x), 0x7B) << x;
    EXPECT_EQ(toF8E5M2(-x), 0xFB) << x;
    EXPECT_EQ(toF8E5M2(x), apEncodeSaturating(kFormats[1], x)) << x;
  }
  EXPECT_EQ(encodeNonInteger(ElementFormat::f8E4M3FN, 1000.0f), 0x7E);
  EXPECT_EQ(encodeNonInteger(ElementFormat::f8E5M2, -1e9f), 0xFB);
}

TEST(FP8, NaN) {
  EXPECT_EQ(toF8E4M3FN(kNaN), 0x7F);
  EXPECT_EQ(toF8E4M3FN(-kNaN), 0x7F);
  EXPECT_EQ(toF8E5M2(kNaN), 0x7E);
  EXPECT_EQ(toF8E5M2(-kNaN), 0x7E);
  EXPECT_EQ(encodeNonInteger(ElementFormat::f8E4M3FN, kNaN), 0x7F);
  EXPECT_EQ(encodeNonInteger(ElementFormat::f8E5M2, kNaN), 0x7E);
}

TEST(FP8, EncodeSweepMatchesAPFloat) {
  // Random f32 patterns with exponents covering the subnormal, normal and
  // overflow ranges of both formats, and the full f32 range.
  quanttest::Rng rng(41);
  for (int n = 0; n < 300000; ++n) {
    uint32_t r = static_cast<uint32_t>(rng.next());
    float x;
    if (n % 2) {
      int e = static_cast<int>(rng.next() % 44) - 26; // 2^-26 .. 2^17
      x = std::ldexp(1.0f + (r & 0x7FFFFF) / 8388608.0f, e);
      if (r & 0x80000000u)
        x = -x;
    } else {
      x = quanttest::floatOf(r);
    }
    for (const Format &f : kFormats)
      ASSERT_EQ(f.encode(x), apEncodeSaturating(f, x))
          << f.name << " x " << x << " bits 0x" << std::hex << bitsOf(x);
  }
}

} // namespace
