//===- BnbLoweringTest.cpp - --quant-bnb lowered and run
//-------------------===//
//
// Part of the quant-opt project, under the Apache License v2.0 with LLVM
// Exceptions.
//
//===----------------------------------------------------------------------===//
//
// Runs --quant-bnb (NF4 / FP4, with and without double quantization) on
// products with deterministic weights whose K is and is not a multiple of
// the block size, JIT-compiles the result through the project's lowering,
// and multiplies by the identity: every output must equal bitsandbytes'
// dequantize_4bit of the same flattened weight (quant/Numerics/
// Bitsandbytes.h) exactly. The one-hot products add only signed zeros to
// each weight, so the sums are exact; only the sign of a zero result can
// differ (+0 + -0), which the comparison allows. The lowered dynamic8
// encoding is checked against the kernel's search on every midpoint.
//
//===----------------------------------------------------------------------===//

#include "quant/Execution/JitExecutor.h"
#include "quant/InitAll.h"
#include "quant/Numerics/Bitsandbytes.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/DialectRegistry.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/Parser/Parser.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Pass/PassRegistry.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/FormatVariadic.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <random>

using namespace quantopt;
using namespace quantopt::numerics;

namespace {

struct Shape {
  int64_t rows, cols, blocksize;
};

/// K = 172 straddles rows (flat layout), 128 does not (per-row layout);
/// 64 x 172 in blocks of 32 has 344 absmax values, two double-quantization
/// blocks; one block larger than the whole weight.
const Shape kShapes[] = {
    {6, 172, 64}, {5, 128, 64}, {64, 172, 32}, {3, 100, 4096}};

/// Gaussian weights with outliers, an all-zero block and a constant block.
std::vector<float> makeWeights(const Shape &shape, unsigned seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0.0f, 0.05f);
  int64_t count = shape.rows * shape.cols;
  std::vector<float> w(count);
  for (int64_t i = 0; i < count; ++i) {
    w[i] = normal(rng);
    if (i % 97 == 13)
      w[i] *= 40.0f;
  }
  int64_t bs = std::min<int64_t>(shape.blocksize, count);
  if (count >= 4 * bs) {
    std::fill(w.begin() + bs, w.begin() + 2 * bs, 0.0f);
    std::fill(w.begin() + 2 * bs, w.begin() + 3 * bs, -0.75f);
  }
  return w;
}

std::string hexF32(const std::vector<float> &values) {
  std::string bytes(values.size() * sizeof(float), '\0');
  std::memcpy(bytes.data(), values.data(), bytes.size());
  return llvm::toHex(bytes);
}

/// `@f<i>(x: [K, K]) -> [K, N]`, the product x · Wᵀ with W stored [N, K].
std::string makeFunction(unsigned index, const Shape &s,
                         const std::vector<float> &w) {
  return llvm::formatv(
      R"(func.func @f{0}(%x: tensor<{2}x{2}xf32>) -> tensor<{2}x{1}xf32> {
  %w = arith.constant dense<"0x{3}"> : tensor<{1}x{2}xf32>
  %init = arith.constant dense<0.0> : tensor<{2}x{1}xf32>
  %y = linalg.matmul indexing_maps = [affine_map<(m, n, k) -> (m, k)>,
                                      affine_map<(m, n, k) -> (n, k)>,
                                      affine_map<(m, n, k) -> (m, n)>]
         ins(%x, %w : tensor<{2}x{2}xf32>, tensor<{1}x{2}xf32>)
         outs(%init : tensor<{2}x{1}xf32>) -> tensor<{2}x{1}xf32>
  return %y : tensor<{2}x{1}xf32>
}
)",
      index, s.rows, s.cols, hexF32(w));
}

struct BnbCase {
  ElementFormat kind;
  bool doubleQuant;
};

class BnbLoweringTest : public ::testing::TestWithParam<BnbCase> {};

TEST_P(BnbLoweringTest, LoweredProductReproducesDequantize4bit) {
  BnbCase c = GetParam();
  mlir::DialectRegistry registry;
  registerAllDialects(registry);
  registerUpstreamDialects(registry);
  registerAllPasses();
  mlir::MLIRContext ctx(registry);
  ctx.loadAllAvailableDialects();

  // One function per shape; each block size needs its own pass run, so
  // every function is quantized in a module of its own and moved over.
  std::vector<std::vector<float>> weights;
  mlir::OwningOpRef<mlir::ModuleOp> module =
      mlir::ModuleOp::create(mlir::UnknownLoc::get(&ctx));
  for (auto [i, shape] : llvm::enumerate(kShapes)) {
    weights.push_back(makeWeights(shape, 1234 + unsigned(i)));
    mlir::OwningOpRef<mlir::ModuleOp> part =
        mlir::parseSourceString<mlir::ModuleOp>(
            makeFunction(i, shape, weights.back()), &ctx);
    ASSERT_TRUE(part);
    mlir::PassManager pm(&ctx);
    std::string pipeline =
        llvm::formatv("quant-bnb{{format={0} blocksize={1} double-quant={2}}",
                      c.kind == ElementFormat::nf4 ? "nf4" : "fp4",
                      shape.blocksize, c.doubleQuant ? "true" : "false");
    ASSERT_TRUE(mlir::succeeded(mlir::parsePassPipeline(pipeline, pm)));
    ASSERT_TRUE(mlir::succeeded(pm.run(*part)));
    unsigned products = 0;
    part->walk([&](mlir::Operation *op) {
      products += op->getName().getStringRef() == "qtensor.dequant_matmul";
    });
    EXPECT_EQ(products, 1u);
    for (mlir::Operation &op :
         llvm::make_early_inc_range(part->getBody()->getOperations()))
      op.moveBefore(module->getBody(), module->getBody()->end());
  }
  auto jit = JitModule::compile(*module);
  ASSERT_TRUE(bool(jit)) << llvm::toString(jit.takeError());

  for (auto [i, shape] : llvm::enumerate(kShapes)) {
    int64_t n = shape.rows, k = shape.cols, count = n * k;
    Blockwise4bit q;
    std::string error;
    ASSERT_TRUE(quantize4bit(weights[i].data(), count, c.kind, shape.blocksize,
                             c.doubleQuant, q, &error))
        << error;
    std::vector<float> expected(count);
    dequantize4bit(q, expected.data());

    HostArray x;
    x.shape = {k, k};
    x.f32.assign(k * k, 0.0f);
    for (int64_t j = 0; j < k; ++j)
      x.f32[j * k + j] = 1.0f;
    auto y = (*jit)->callSingle(llvm::formatv("f{0}", i).str(), {&x});
    ASSERT_TRUE(bool(y)) << llvm::toString(y.takeError());
    ASSERT_EQ(y->f32.size(), size_t(count));
    int64_t mismatches = 0, nonzero = 0;
    for (int64_t r = 0; r < n; ++r)
      for (int64_t col = 0; col < k; ++col) {
        float want = expected[r * k + col];
        float got = y->f32[col * n + r];
        nonzero += want != 0.0f;
        if (!(got == want || (std::isnan(got) && std::isnan(want)))) {
          if (++mismatches <= 5)
            ADD_FAILURE() << "shape " << n << "x" << k << " block "
                          << shape.blocksize << ": w[" << r << ", " << col
                          << "] = " << got << ", dequantize4bit " << want;
        }
      }
    EXPECT_EQ(mismatches, 0);
    // Outliers send many weights of their blocks to 0; most blocks decode
    // to several non-zero values.
    EXPECT_GT(nonzero, count / 10);
  }
}

/// The lowered dynamic8 encoding (qtensor.fake_quant, scale 1) against
/// encodeDynamic8bit on every map entry, every midpoint between neighbours
/// and its f32 neighbours, random values beyond [-1, 1], NaN and infinities.
TEST(BnbLoweringDynamic8Test, FakeQuantMatchesKernelSearch) {
  const std::array<float, 256> &map = dynamicMap8bit();
  std::vector<float> values(map.begin(), map.end());
  for (size_t i = 0; i + 1 < map.size(); ++i) {
    float mid = (map[i] + map[i + 1]) * 0.5f;
    values.push_back(mid);
    values.push_back(std::nextafter(mid, -2.0f));
    values.push_back(std::nextafter(mid, 2.0f));
  }
  std::mt19937 rng(7);
  std::uniform_real_distribution<float> uniform(-1.25f, 1.25f);
  for (int i = 0; i < 2000; ++i)
    values.push_back(uniform(rng));
  values.push_back(std::numeric_limits<float>::quiet_NaN());
  values.push_back(std::numeric_limits<float>::infinity());
  values.push_back(-std::numeric_limits<float>::infinity());
  values.push_back(-0.0f);
  int64_t count = static_cast<int64_t>(values.size());

  mlir::DialectRegistry registry;
  registerAllDialects(registry);
  registerUpstreamDialects(registry);
  mlir::MLIRContext ctx(registry);
  ctx.loadAllAvailableDialects();
  std::string text = llvm::formatv(
      R"(func.func @fq(%x: tensor<1x{0}xf32>) -> tensor<1x{0}xf32> {
  %s = arith.constant dense<1.0> : tensor<1x1xf32>
  %y = qtensor.fake_quant %x scales(%s : tensor<1x1xf32>)
         layout <dynamic8, block = [0, 0]> : tensor<1x{0}xf32>
  return %y : tensor<1x{0}xf32>
}
)",
      count);
  auto module = mlir::parseSourceString<mlir::ModuleOp>(text, &ctx);
  ASSERT_TRUE(module);
  auto jit = JitModule::compile(*module);
  ASSERT_TRUE(bool(jit)) << llvm::toString(jit.takeError());
  HostArray x;
  x.shape = {1, count};
  x.f32 = values;
  auto y = (*jit)->callSingle("fq", {&x});
  ASSERT_TRUE(bool(y)) << llvm::toString(y.takeError());
  int64_t mismatches = 0;
  for (int64_t i = 0; i < count; ++i) {
    float want = map[encodeDynamic8bit(values[i])];
    if (std::memcmp(&want, &y->f32[i], sizeof(float)) != 0 && ++mismatches <= 5)
      ADD_FAILURE() << "y = " << values[i] << ": lowered " << y->f32[i]
                    << ", encodeDynamic8bit " << want;
  }
  EXPECT_EQ(mismatches, 0);
}

INSTANTIATE_TEST_SUITE_P(Formats, BnbLoweringTest,
                         ::testing::Values(BnbCase{ElementFormat::nf4, false},
                                           BnbCase{ElementFormat::nf4, true},
                                           BnbCase{ElementFormat::fp4, false},
                                           BnbCase{ElementFormat::fp4, true}),
                         [](const ::testing::TestParamInfo<BnbCase> &info) {
                           return std::string(info.param.kind ==
                                                      ElementFormat::nf4
                                                  ? "NF4"
                                                  : "FP4") +
                                  (info.param.doubleQuant ? "DoubleQuant" : "");
                         });

} // namespace
