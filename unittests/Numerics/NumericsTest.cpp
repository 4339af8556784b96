//===- NumericsTest.cpp - Element format properties -----------------------===//
//
// Part of the quant-opt project, under the Apache License v2.0 with LLVM
// Exceptions.
//
//===----------------------------------------------------------------------===//

#include "quant/Numerics/Numerics.h"
#include <gtest/gtest.h>

using namespace quantopt::numerics;

TEST(ElementFormat, IntegerRanges) {
  // Signed b-bit: [-2^(b-1), 2^(b-1)-1]; unsigned: [0, 2^b-1].
  for (unsigned b = 2; b <= 8; ++b) {
    ElementFormat s = getIntegerFormat(b, true), u = getIntegerFormat(b, false);
    EXPECT_EQ(getBitWidth(s), b);
    EXPECT_EQ(getBitWidth(u), b);
    EXPECT_EQ(getMinCode(s), -(1 << (b - 1))) << b;
    EXPECT_EQ(getMaxCode(s), (1 << (b - 1)) - 1) << b;
    EXPECT_EQ(getMinCode(u), 0) << b;
    EXPECT_EQ(getMaxCode(u), (1 << b) - 1) << b;
  }
  EXPECT_EQ(getIntegerFormat(4, true), ElementFormat::si4);
  EXPECT_EQ(getIntegerFormat(8, false), ElementFormat::ui8);
  EXPECT_EQ(getMinCode(ElementFormat::si4), -8);
  EXPECT_EQ(getMaxCode(ElementFormat::ui8), 255);
}

TEST(ElementFormat, Kinds) {
  EXPECT_TRUE(isIntegerFormat(ElementFormat::si4));
  EXPECT_TRUE(isSignedIntegerFormat(ElementFormat::si4));
  EXPECT_TRUE(isIntegerFormat(ElementFormat::ui3));
  EXPECT_FALSE(isSignedIntegerFormat(ElementFormat::ui3));
  for (ElementFormat f :
       {ElementFormat::nf4, ElementFormat::fp4, ElementFormat::f8E4M3FN,
        ElementFormat::f8E5M2, ElementFormat::dynamic8})
    EXPECT_FALSE(isIntegerFormat(f)) << stringifyElementFormat(f);
  EXPECT_TRUE(isF8Format(ElementFormat::f8E5M2));
  EXPECT_FALSE(isF8Format(ElementFormat::dynamic8));
  EXPECT_EQ(getBitWidth(ElementFormat::nf4), 4u);
  EXPECT_EQ(getBitWidth(ElementFormat::dynamic8), 8u);
}

TEST(ElementFormat, NamesRoundTrip) {
  for (uint32_t i = 0; i <= 18; ++i) {
    auto f = static_cast<ElementFormat>(i);
    EXPECT_EQ(symbolizeElementFormat(stringifyElementFormat(f)), f);
  }
  EXPECT_EQ(stringifyElementFormat(ElementFormat::f8E4M3FN), "f8E4M3FN");
  EXPECT_FALSE(symbolizeElementFormat("int4"));
  for (PackOrder o :
       {PackOrder::none, PackOrder::lsb_first, PackOrder::msb_first})
    EXPECT_EQ(symbolizePackOrder(stringifyPackOrder(o)), o);
  EXPECT_FALSE(symbolizePackOrder("lsb"));
}
