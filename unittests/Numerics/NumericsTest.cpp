//===- NumericsTest.cpp - CodeFormat ranges
//--------------------------------===//
//
// Part of the quant-opt project, under the Apache License v2.0 with LLVM
// Exceptions.
//
//===----------------------------------------------------------------------===//

#include "quant/Numerics/Numerics.h"
#include <gtest/gtest.h>

using namespace quantopt::numerics;

TEST(CodeFormat, IntegerRanges) {
  // Signed b-bit: [-2^(b-1), 2^(b-1)-1]; unsigned: [0, 2^b-1].
  for (unsigned b = 2; b <= 8; ++b) {
    CodeFormat s{CodeKind::SignedInt, b}, u{CodeKind::UnsignedInt, b};
    EXPECT_EQ(s.minCode(), -(1 << (b - 1))) << b;
    EXPECT_EQ(s.maxCode(), (1 << (b - 1)) - 1) << b;
    EXPECT_EQ(u.minCode(), 0) << b;
    EXPECT_EQ(u.maxCode(), (1 << b) - 1) << b;
  }
  EXPECT_EQ((CodeFormat{CodeKind::SignedInt, 4}.minCode()), -8);
  EXPECT_EQ((CodeFormat{CodeKind::UnsignedInt, 8}.maxCode()), 255);
}

TEST(CodeFormat, IsInteger) {
  EXPECT_TRUE((CodeFormat{CodeKind::SignedInt, 4}.isInteger()));
  EXPECT_TRUE((CodeFormat{CodeKind::UnsignedInt, 3}.isInteger()));
  EXPECT_FALSE((CodeFormat{CodeKind::NF4, 4}.isInteger()));
  EXPECT_FALSE((CodeFormat{CodeKind::FP4, 4}.isInteger()));
  EXPECT_FALSE((CodeFormat{CodeKind::F8E4M3FN, 8}.isInteger()));
  EXPECT_FALSE((CodeFormat{CodeKind::F8E5M2, 8}.isInteger()));
  // Defaults: unsigned 8-bit.
  CodeFormat d;
  EXPECT_EQ(d.kind, CodeKind::UnsignedInt);
  EXPECT_EQ(d.bits, 8u);
}
