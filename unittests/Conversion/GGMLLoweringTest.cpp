//===- GGMLLoweringTest.cpp - ggml block ops lowered and run --------------===//
//
// Part of the quant-opt project, under the Apache License v2.0 with LLVM
// Exceptions.
//
//===----------------------------------------------------------------------===//
//
// For every ggml type: quantizes deterministic rows (random, wide-range,
// constant, tiny, sparse) with quantizeGGMLRows, JIT-compiles (mode=reference)
// a module that
// applies qtensor.ggml_dequantize and qtensor.ggml_matmul to those bytes, and
// checks bit for bit that the decoded weights equal dequantizeGGMLRows and
// that the product equals an f32 loop over ascending k on those weights.
// Random block bytes (every bit pattern of the scale fields) are checked the
// same way.
//
//===----------------------------------------------------------------------===//

#include "quant/Execution/JitExecutor.h"
#include "quant/InitAll.h"
#include "quant/Numerics/GGUFQuants.h"

#include "mlir/IR/DialectRegistry.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/Parser/Parser.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/FormatVariadic.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>

using namespace quantopt;
using namespace quantopt::numerics;

namespace {

constexpr int64_t kRows = 6, kCols = 512, kTokens = 3;

struct TypeCase {
  GGMLType type;
  const char *name;      // the qtensor spelling
  int halfOffsets[2];    // byte offsets of the block's f16 fields (-1: none)
  int64_t blockElements; // weights per block
};

const TypeCase kTypes[] = {
    {GGMLType::Q4_0, "q4_0", {0, -1}, 32},
    {GGMLType::Q4_1, "q4_1", {0, 2}, 32},
    {GGMLType::Q5_0, "q5_0", {0, -1}, 32},
    {GGMLType::Q5_1, "q5_1", {0, 2}, 32},
    {GGMLType::Q8_0, "q8_0", {0, -1}, 32},
    {GGMLType::Q2_K, "q2_K", {80, 82}, 256},
    {GGMLType::Q3_K, "q3_K", {108, -1}, 256},
    {GGMLType::Q4_K, "q4_K", {0, 2}, 256},
    {GGMLType::Q5_K, "q5_K", {0, 2}, 256},
    {GGMLType::Q6_K, "q6_K", {208, -1}, 256},
    // One element per "block"; its own top exponent bit is the one cleared.
    {GGMLType::F16, "f16", {0, -1}, 1},
    {GGMLType::BF16, "bf16", {0, -1}, 1},
};

void PrintTo(const TypeCase &tc, std::ostream *os) { *os << tc.name; }

/// kRows x kCols weights: Gaussian; wide-range with outliers; zeros and
/// constants; tiny (subnormal f16 scales); sparse spikes; all negative.
std::vector<float> makeWeights(unsigned seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<float> w(kRows * kCols);
  for (int64_t k = 0; k < kCols; ++k) {
    float g = normal(rng);
    w[0 * kCols + k] = g;
    w[1 * kCols + k] = k % 37 == 0 ? 900.0f * g : 20.0f * g;
    w[2 * kCols + k] =
        k < kCols / 2 ? 0.0f : (k < 3 * kCols / 4 ? 0.75f : -2.0f);
    w[3 * kCols + k] = 1e-6f * g;
    w[4 * kCols + k] = k % 53 == 0 ? 10.0f * g : 0.0f;
    w[5 * kCols + k] = -std::fabs(g) - 0.5f;
  }
  return w;
}

std::vector<float> makeActivations(unsigned seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<float> x(kTokens * kCols);
  for (float &v : x)
    v = normal(rng);
  x[5] = 0.0f;
  x[kCols + 7] = 1e4f;
  x[2 * kCols + 9] = -1e-5f;
  return x;
}

/// A function @run(x, init) -> (dequant(W), init + x · dequant(W)ᵀ) over
/// the block bytes as a dense i8 constant.
std::string makeModule(const TypeCase &tc, const std::vector<uint8_t> &bytes) {
  int64_t rowBytes = ggmlRowBytes(tc.type, kCols);
  std::string storage = llvm::formatv("tensor<{0}x{1}xi8>", kRows, rowBytes);
  std::string weights = llvm::formatv("tensor<{0}x{1}xf32>", kRows, kCols);
  std::string input = llvm::formatv("tensor<{0}x{1}xf32>", kTokens, kCols);
  std::string output = llvm::formatv("tensor<{0}x{1}xf32>", kTokens, kRows);
  return llvm::formatv(R"mlir(
func.func @run(%x: {3}, %init: {4}) -> ({2}, {4}) {
  %blocks = arith.constant dense<"0x{5}"> : {1}
  %w = qtensor.ggml_dequantize %blocks as {0} : {1} -> {2}
  %y = qtensor.ggml_matmul %x, %blocks as {0} outs(%init : {4}) : {3}, {1} -> {4}
  return %w, %y : {2}, {4}
}
)mlir",
                       tc.name, storage, weights, input, output,
                       llvm::toHex(llvm::ArrayRef(bytes)))
      .str();
}

uint32_t bitsOf(float v) {
  uint32_t bits;
  std::memcpy(&bits, &v, sizeof(bits));
  return bits;
}

/// Equal bit patterns, or both NaN (random f16 scale bytes can be NaN, whose
/// payload the two conversions need not agree on).
bool sameFloat(float a, float b) {
  return bitsOf(a) == bitsOf(b) || (std::isnan(a) && std::isnan(b));
}

/// Runs the lowered ops on `bytes` and compares with the C++ decode and an
/// ascending-k f32 loop; returns how many products are finite.
int64_t checkAgainstReference(const TypeCase &tc,
                              const std::vector<uint8_t> &bytes) {
  std::vector<float> expectedW(kRows * kCols);
  std::string error;
  EXPECT_TRUE(dequantizeGGMLRows(tc.type, bytes.data(), kRows, kCols,
                                 expectedW.data(), &error))
      << error;

  HostArray x, init;
  x.shape = {kTokens, kCols};
  x.f32 = makeActivations(11);
  init.shape = {kTokens, kRows};
  for (int64_t i = 0; i < kTokens * kRows; ++i)
    init.f32.push_back(0.125f * static_cast<float>(i) - 1.0f);

  // acc += x * w in f32, k ascending (this file is built without
  // floating-point contraction).
  std::vector<float> expectedY(kTokens * kRows);
  for (int64_t m = 0; m < kTokens; ++m)
    for (int64_t n = 0; n < kRows; ++n) {
      float acc = init.f32[m * kRows + n];
      for (int64_t k = 0; k < kCols; ++k)
        acc += x.f32[m * kCols + k] * expectedW[n * kCols + k];
      expectedY[m * kRows + n] = acc;
    }

  mlir::DialectRegistry registry;
  registerAllDialects(registry);
  registerUpstreamDialects(registry);
  mlir::MLIRContext ctx(registry);
  auto module =
      mlir::parseSourceString<mlir::ModuleOp>(makeModule(tc, bytes), &ctx);
  EXPECT_TRUE(bool(module));
  if (!module)
    return 0;
  // The reference lowering is the bit-exact one; the CPU kernels (q4_0,
  // q8_0) sum in another order and are checked in CPUKernelsTest.
  JitOptions options;
  options.products = mlir::qtensor::ProductLowering::Reference;
  auto jit = JitModule::compile(*module, options);
  EXPECT_TRUE(bool(jit)) << llvm::toString(jit.takeError());
  if (!jit)
    return 0;
  auto results = (*jit)->call("run", {&x, &init});
  EXPECT_TRUE(bool(results)) << llvm::toString(results.takeError());
  if (!results)
    return 0;
  const std::vector<float> &w = (*results)[0].f32, &y = (*results)[1].f32;
  EXPECT_EQ(w.size(), expectedW.size());
  EXPECT_EQ(y.size(), expectedY.size());

  int64_t wrongW = 0, wrongY = 0, finite = 0;
  for (size_t i = 0; i < w.size() && i < expectedW.size(); ++i)
    if (!sameFloat(w[i], expectedW[i]) && wrongW++ < 5)
      ADD_FAILURE() << tc.name << " weight (" << i / kCols << ", " << i % kCols
                    << "): lowered " << w[i] << " (0x"
                    << llvm::utohexstr(bitsOf(w[i])) << "), C++ "
                    << expectedW[i] << " (0x"
                    << llvm::utohexstr(bitsOf(expectedW[i])) << ")";
  for (size_t i = 0; i < y.size() && i < expectedY.size(); ++i) {
    finite += std::isfinite(expectedY[i]);
    if (!sameFloat(y[i], expectedY[i]) && wrongY++ < 5)
      ADD_FAILURE() << tc.name << " product (" << i / kRows << ", " << i % kRows
                    << "): lowered " << y[i] << ", C++ " << expectedY[i];
  }
  EXPECT_EQ(wrongW, 0) << "of " << w.size() << " weights";
  EXPECT_EQ(wrongY, 0) << "of " << y.size() << " products";
  return finite;
}

class GGMLLowering : public ::testing::TestWithParam<TypeCase> {};

TEST_P(GGMLLowering, QuantizedRowsMatchNumerics) {
  const TypeCase &tc = GetParam();
  std::vector<float> weights = makeWeights(2024);
  std::vector<uint8_t> bytes(kRows * ggmlRowBytes(tc.type, kCols));
  std::string error;
  ASSERT_TRUE(quantizeGGMLRows(tc.type, weights.data(), kRows, kCols,
                               /*importance=*/nullptr, bytes.data(), &error))
      << error;
  EXPECT_EQ(checkAgainstReference(tc, bytes), kTokens * kRows);
}

// Every bit pattern of codes and sub-block scales. The first half of the rows
// keeps random f16 fields (infinities and NaNs included); the second half
// clears their top exponent bit (|d| < 2) so that its products are finite.
TEST_P(GGMLLowering, RandomBytesMatchNumerics) {
  const TypeCase &tc = GetParam();
  std::mt19937 rng(99);
  int64_t rowBytes = ggmlRowBytes(tc.type, kCols);
  std::vector<uint8_t> bytes(kRows * rowBytes);
  for (uint8_t &byte : bytes)
    byte = static_cast<uint8_t>(rng());
  int64_t blockBytes = rowBytes / (kCols / tc.blockElements);
  for (int64_t row = kRows / 2; row < kRows; ++row)
    for (int64_t block = 0; block < kCols / tc.blockElements; ++block)
      for (int offset : tc.halfOffsets)
        if (offset >= 0)
          bytes[row * rowBytes + block * blockBytes + offset + 1] &= 0xBF;
  EXPECT_GE(checkAgainstReference(tc, bytes), kTokens * kRows / 2);
}

INSTANTIATE_TEST_SUITE_P(Types, GGMLLowering, ::testing::ValuesIn(kTypes),
                         [](const ::testing::TestParamInfo<TypeCase> &info) {
                           return std::string(info.param.name);
                         });

} // namespace
