#include "quant/Numerics/Numerics.h"
#include <gtest/gtest.h>
using namespace quantopt::numerics;
TEST(Rounding, HalfEven) { EXPECT_EQ(roundHalfEven(2.5f), 2.0f); }
