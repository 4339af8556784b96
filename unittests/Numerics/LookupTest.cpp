//===- LookupTest.cpp - NF4 / FP4 tables and encoders
//----------------------===//
//
// Part of the quant-opt project, under the Apache License v2.0 with LLVM
// Exceptions.
//
//===----------------------------------------------------------------------===//
//
// Expected values are the code tables of docs/Numerics.md §1 and §7
// (bitsandbytes).
//
//===----------------------------------------------------------------------===//

#include "TestUtil.h"
#include "quant/Numerics/Numerics.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>

using namespace quantopt::numerics;

namespace {

const float kSpecNF4[16] = {-1.0f,
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

const float kSpecNF4Thresholds[15] = {
    -0.8480964004993439f,   -0.6106329262256622f,  -0.4599952697753906f,
    -0.33967943489551544f,  -0.23460740596055984f, -0.13791173323988914f,
    -0.045525018125772476f, 0.03979014977812767f,  0.1202552504837513f,
    0.2035212516784668f,    0.2920137718319893f,   0.3893125355243683f,
    0.5016634166240692f,    0.6427869200706482f,   0.8614784181118011f};

// FP4 in bit-pattern order 0b000..0b111: {0, 0.0625, 8, 12, 4, 6, 2, 3}/12.
const float kSpecFP4Magnitudes[8] = {0.0f, 0.0625f, 8.0f, 12.0f,
                                     4.0f, 6.0f,    2.0f, 3.0f};
const float kSpecFP4Thresholds[7] = {0.00260417f, 0.0859375f, 0.20833333f,
                                     0.29166667f, 0.4166667f, 0.583333f,
                                     0.8333333f};

float up(float x) { return std::nextafter(x, 2.0f); }
float down(float x) { return std::nextafter(x, -2.0f); }

//===----------------------------------------------------------------------===//
// NF4
//===----------------------------------------------------------------------===//

TEST(NF4, TableMatchesSpec) {
  const auto &t = nf4Table();
  for (int i = 0; i < 16; ++i) {
    EXPECT_EQ(t[i], kSpecNF4[i]) << i;
    EXPECT_EQ(decodeNonInteger(ElementFormat::nf4, static_cast<uint8_t>(i)),
              kSpecNF4[i]);
    // Only the low nibble is read.
    EXPECT_EQ(
        decodeNonInteger(ElementFormat::nf4, static_cast<uint8_t>(i | 0xF0)),
        kSpecNF4[i]);
  }
  for (int i = 0; i < 15; ++i)
    EXPECT_LT(t[i], t[i + 1]);
  EXPECT_FALSE(std::signbit(t[7]));
}

TEST(NF4, ThresholdsMatchSpecAndAreMidpoints) {
  const auto &thr = nf4Thresholds();
  for (int i = 0; i < 15; ++i) {
    EXPECT_EQ(thr[i], kSpecNF4Thresholds[i]) << i;
    double mid = (static_cast<double>(kSpecNF4[i]) + kSpecNF4[i + 1]) / 2;
    EXPECT_NEAR(thr[i], mid, 1e-7) << i;
  }
}

TEST(NF4, EncodeAtThresholds) {
  // Strict '>': a value equal to threshold i takes code i (the lower one);
  // the next float up takes code i + 1.
  const auto &thr = nf4Thresholds();
  for (int i = 0; i < 15; ++i) {
    EXPECT_EQ(encodeNF4(kSpecNF4Thresholds[i]), i) << i;
    EXPECT_EQ(encodeNF4(up(kSpecNF4Thresholds[i])), i + 1) << i;
    EXPECT_EQ(encodeNF4(down(kSpecNF4Thresholds[i])), i) << i;
    EXPECT_EQ(encodeNonInteger(ElementFormat::nf4, thr[i]), i) << i;
    EXPECT_EQ(encodeNonInteger(ElementFormat::nf4, up(thr[i])), i + 1) << i;
  }
}

TEST(NF4, EncodeSpecialValues) {
  EXPECT_EQ(encodeNF4(1.0f), 15);
  EXPECT_EQ(encodeNF4(-1.0f), 0);
  EXPECT_EQ(encodeNF4(0.0f), 7);
  EXPECT_EQ(encodeNF4(-0.0f), 7);
  EXPECT_EQ(encodeNF4(1e-30f), 7);
  EXPECT_EQ(encodeNF4(-1e-30f), 7);
  // Every table value encodes to its own code.
  for (int i = 0; i < 16; ++i)
    EXPECT_EQ(encodeNF4(kSpecNF4[i]), i) << i;
  // encodeNonInteger clamps to [-1, 1] first.
  EXPECT_EQ(encodeNonInteger(ElementFormat::nf4, 5.0f), 15);
  EXPECT_EQ(encodeNonInteger(ElementFormat::nf4, -5.0f), 0);
  EXPECT_EQ(encodeNonInteger(ElementFormat::nf4,
                             std::numeric_limits<float>::infinity()),
            15);
}

TEST(NF4, EncodeIsNearest) {
  quanttest::Rng rng(31);
  const auto &t = nf4Table();
  for (int n = 0; n < 100000; ++n) {
    float y = rng.uniform(-1.0f, 1.0f);
    uint8_t c = encodeNF4(y);
    ASSERT_LT(c, 16);
    float best = 10.0f;
    for (float v : t)
      best = std::fmin(best, std::fabs(y - v));
    // Thresholds are f32-rounded midpoints: allow a few ulps at ties.
    ASSERT_LE(std::fabs(y - t[c]), best + 1e-7f) << y;
  }
}

//===----------------------------------------------------------------------===//
// FP4
//===----------------------------------------------------------------------===//

TEST(FP4, TableMatchesSpec) {
  const auto &t = fp4Table();
  for (int i = 0; i < 8; ++i) {
    EXPECT_EQ(t[i], kSpecFP4Magnitudes[i] / 12.0f) << i;
    EXPECT_EQ(t[i + 8], -kSpecFP4Magnitudes[i] / 12.0f) << i;
    EXPECT_EQ(decodeNonInteger(ElementFormat::fp4, static_cast<uint8_t>(i)),
              t[i]);
    EXPECT_EQ(decodeNonInteger(ElementFormat::fp4, static_cast<uint8_t>(i + 8)),
              t[i + 8]);
  }
  // Spot values from the spec: 0b0011 = 1.0, 0b0010 = 0.6667, 0b0101 = 0.5,
  // 0b0001 = 0.0052083, 0b1011 = -1.
  EXPECT_EQ(t[3], 1.0f);
  EXPECT_EQ(t[5], 0.5f);
  EXPECT_EQ(t[11], -1.0f);
  EXPECT_NEAR(t[2], 0.6667f, 1e-4f);
  EXPECT_NEAR(t[1], 0.0052083f, 1e-7f);
  EXPECT_NEAR(t[4], 0.3333f, 1e-4f);
  EXPECT_EQ(t[7], 0.25f);
  EXPECT_NEAR(t[6], 0.1667f, 1e-4f);
}

TEST(FP4, SortedCodesAndThresholds) {
  const auto &codes = fp4SortedCodes();
  const auto &t = fp4Table();
  const uint8_t expected[8] = {0b000, 0b001, 0b110, 0b111,
                               0b100, 0b101, 0b010, 0b011};
  for (int i = 0; i < 8; ++i)
    EXPECT_EQ(codes[i], expected[i]) << i;
  for (int i = 0; i < 7; ++i) {
    EXPECT_LT(t[codes[i]], t[codes[i + 1]]);
    EXPECT_EQ(fp4Thresholds()[i], kSpecFP4Thresholds[i]) << i;
    EXPECT_NEAR(fp4Thresholds()[i], (t[codes[i]] + t[codes[i + 1]]) / 2, 1e-6f)
        << i;
  }
}

TEST(FP4, EncodeAtThresholds) {
  // Thresholds apply to |y| with strict '>': |y| == t_i takes the smaller
  // magnitude codes[i], the next float up codes[i + 1]. The sign is bit 3.
  const auto &codes = fp4SortedCodes();
  for (int i = 0; i < 7; ++i) {
    float t = kSpecFP4Thresholds[i];
    EXPECT_EQ(encodeFP4(t), codes[i]) << i;
    EXPECT_EQ(encodeFP4(up(t)), codes[i + 1]) << i;
    EXPECT_EQ(encodeFP4(down(t)), codes[i]) << i;
    EXPECT_EQ(encodeFP4(-t), codes[i] | 0x8) << i;
    EXPECT_EQ(encodeFP4(-up(t)), codes[i + 1] | 0x8) << i;
    EXPECT_EQ(encodeFP4(-down(t)), codes[i] | 0x8) << i;
  }
}

TEST(FP4, EncodeSpecialValuesAndSign) {
  EXPECT_EQ(encodeFP4(1.0f), 0b0011);
  EXPECT_EQ(encodeFP4(-1.0f), 0b1011);
  EXPECT_EQ(encodeFP4(0.0f), 0b0000);
  // -0.0 is not < 0: code 0 (as bitsandbytes' `x < 0 ? 0b1000 : 0`).
  EXPECT_EQ(encodeFP4(-0.0f), 0b0000);
  // A tiny negative rounds to zero magnitude but keeps the sign bit.
  EXPECT_EQ(encodeFP4(-1e-4f), 0b1000);
  EXPECT_EQ(decodeNonInteger(ElementFormat::fp4, 0b1000), 0.0f);
  EXPECT_EQ(encodeFP4(0.5f), 0b0101);
  EXPECT_EQ(encodeFP4(-0.5f), 0b1101);
  EXPECT_EQ(encodeFP4(0.3f), 0b0100);  // 0.2917 < 0.3 <= 0.4167 -> 4/12
  EXPECT_EQ(encodeFP4(-0.7f), 0b1010); // 0.5833 < 0.7 <= 0.8333 -> 8/12
  EXPECT_EQ(encodeFP4(0.05f), 0b0001); // 0.0026 < 0.05 <= 0.0859 -> 0.0625
  // Every code but 0b1000 (negative zero) round-trips.
  for (uint8_t c = 0; c < 16; ++c) {
    if (c == 0b1000)
      continue;
    EXPECT_EQ(encodeFP4(fp4Table()[c]), c) << int(c);
    EXPECT_EQ(encodeNonInteger(ElementFormat::fp4, fp4Table()[c]), c) << int(c);
  }
  EXPECT_EQ(encodeNonInteger(ElementFormat::fp4, 3.0f), 0b0011);
  EXPECT_EQ(encodeNonInteger(ElementFormat::fp4, -3.0f), 0b1011);
}

TEST(FP4, EncodeIsNearestWithSign) {
  quanttest::Rng rng(32);
  const auto &t = fp4Table();
  for (int n = 0; n < 100000; ++n) {
    float y = rng.uniform(-1.0f, 1.0f);
    uint8_t c = encodeFP4(y);
    ASSERT_LT(c, 16);
    ASSERT_EQ((c & 0x8) != 0, y < 0.0f) << y;
    float best = 10.0f;
    for (float v : t)
      best = std::fmin(best, std::fabs(y - v));
    ASSERT_LE(std::fabs(y - t[c]), best + 1e-6f) << y;
  }
}

} // namespace
