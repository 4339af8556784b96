//===- TransformsApiTest.cpp - The quantizations as a C++ API -------------===//
//
// Part of the quant-opt project, under the Apache License v2.0 with LLVM
// Exceptions.
//
//===----------------------------------------------------------------------===//
//
// What a host compiler gets from Transforms.h: the functions do what the
// passes do, a selector chooses the products, the RTN pattern works in the
// host's own greedy driver, and GPTQ takes statistics computed elsewhere
// without any executor.
//
//===----------------------------------------------------------------------===//

#include "TestLayers.h"
#include "quant/Dialect/QTensor/Transforms/Transforms.h"
#include "quant/Dialect/QTensor/Utils/ProgressRemarks.h"
#include "quant/InitAll.h"

#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/DialectRegistry.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/Parser/Parser.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Pass/PassRegistry.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"
#include "llvm/Support/FileSystem.h"

#include <gtest/gtest.h>

#include <random>

using namespace quantopt;
using namespace mlir;
using namespace mlir::qtensor;

namespace {
/// Two linear layers, `fc1` and `fc2`, each reading the function argument.
constexpr const char *kTwoLayers = R"mlir(
func.func @forward(%x: tensor<8x16xf32>) -> (tensor<8x4xf32>, tensor<8x4xf32>) {
  %w1 = arith.constant dense<[[0.5, -1.0, 0.25, 2.0, 1.5, -0.5, 0.0, 1.0, 0.75, -0.25, 0.125, 1.25, -2.0, 0.5, 1.0, -1.5], [1.0, 0.5, -0.5, 0.25, -1.0, 2.0, 1.5, 0.0, -0.75, 0.25, 1.0, -1.25, 0.5, 2.0, -0.5, 0.0], [0.0, 1.0, 2.0, -1.0, 0.5, 0.25, -0.25, 1.5, 1.0, -2.0, 0.75, 0.5, -0.5, 0.0, 1.25, 0.125], [-1.0, 0.0, 0.5, 1.0, 2.0, -0.5, 0.25, -1.5, 0.5, 1.0, -0.125, 0.75, 1.5, -1.0, 0.0, 0.5]]> : tensor<4x16xf32> loc("fc1")
  %w2 = arith.constant dense<[[0.25, -1.0, 0.5, 2.0, 1.0, -0.5, 0.0, 1.0, 0.5, -0.25, 0.125, 1.25, -2.0, 0.5, 1.0, -1.5], [1.0, 0.25, -0.5, 0.25, -1.0, 2.0, 1.5, 0.0, -0.75, 0.25, 1.0, -1.25, 0.5, 2.0, -0.5, 0.0], [0.0, 1.0, 2.0, -1.0, 0.5, 0.25, -0.25, 1.5, 1.0, -2.0, 0.75, 0.5, -0.5, 0.0, 1.25, 0.125], [-1.0, 0.0, 0.5, 1.0, 2.0, -0.5, 0.25, -1.5, 0.5, 1.0, -0.125, 0.75, 1.5, -1.0, 0.0, 0.5]]> : tensor<4x16xf32> loc("fc2")
  %init = arith.constant dense<0.0> : tensor<8x4xf32>
  %y1 = linalg.matmul indexing_maps = [affine_map<(m, n, k) -> (m, k)>, affine_map<(m, n, k) -> (n, k)>, affine_map<(m, n, k) -> (m, n)>]
        ins(%x, %w1 : tensor<8x16xf32>, tensor<4x16xf32>) outs(%init : tensor<8x4xf32>) -> tensor<8x4xf32>
  %y2 = linalg.matmul indexing_maps = [affine_map<(m, n, k) -> (m, k)>, affine_map<(m, n, k) -> (n, k)>, affine_map<(m, n, k) -> (m, n)>]
        ins(%x, %w2 : tensor<8x16xf32>, tensor<4x16xf32>) outs(%init : tensor<8x4xf32>) -> tensor<8x4xf32>
  return %y1, %y2 : tensor<8x4xf32>, tensor<8x4xf32>
}
)mlir";

class TransformsApi : public ::testing::Test {
protected:
  void SetUp() override {
    registerAllPasses();
    registerAllDialects(registry);
    registerUpstreamDialects(registry);
    ctx = std::make_unique<MLIRContext>(registry);
    ctx->loadAllAvailableDialects();
  }
  OwningOpRef<ModuleOp> parse() {
    auto module = parseSourceString<ModuleOp>(kTwoLayers, ctx.get());
    EXPECT_TRUE(bool(module));
    return module;
  }
  static std::string print(ModuleOp module) {
    std::string text;
    llvm::raw_string_ostream os(text);
    module.print(os);
    return text;
  }
  std::string runPipeline(const std::string &pipeline) {
    OwningOpRef<ModuleOp> module = parse();
    PassManager pm(ctx.get());
    EXPECT_TRUE(succeeded(parsePassPipeline(pipeline, pm)));
    EXPECT_TRUE(succeeded(pm.run(*module)));
    return print(*module);
  }
  static unsigned count(ModuleOp module) {
    unsigned n = 0;
    module.walk([&](DequantMatmulOp) { ++n; });
    return n;
  }

  DialectRegistry registry;
  std::unique_ptr<MLIRContext> ctx;
};

RTNQuantization int4Group8() {
  RTNQuantization options;
  options.numerics.format = quantopt::numerics::ElementFormat::ui4;
  options.numerics.groupSize = 8;
  return options;
}
} // namespace

TEST_F(TransformsApi, RTNFunctionIsThePass) {
  OwningOpRef<ModuleOp> module = parse();
  ASSERT_TRUE(succeeded(quantizeWeightsRTN(*module, int4Group8())));
  EXPECT_EQ(count(*module), 2u);
  EXPECT_EQ(print(*module), runPipeline("quant-rtn{bits=4 group-size=8}"));
}

TEST_F(TransformsApi, SelectorChoosesTheProducts) {
  OwningOpRef<ModuleOp> module = parse();
  RTNQuantization options = int4Group8();
  std::vector<std::string> asked;
  options.selection.select = [&](const ConstantWeightMatmul &match) {
    asked.push_back(match.name);
    return match.name == "fc2";
  };
  ASSERT_TRUE(succeeded(quantizeWeightsRTN(*module, options)));
  EXPECT_EQ(asked, (std::vector<std::string>{"fc1", "fc2"}));
  EXPECT_EQ(count(*module), 1u);
  // The same as skipping the other one.
  EXPECT_EQ(print(*module), runPipeline("quant-rtn{bits=4 group-size=8 "
                                        "skip=fc1}"));
}

TEST_F(TransformsApi, RTNPatternInTheHostsDriver) {
  OwningOpRef<ModuleOp> module = parse();
  RewritePatternSet patterns(ctx.get());
  populateQuantizeWeightsRTNPatterns(patterns, int4Group8());
  ASSERT_TRUE(succeeded(applyPatternsGreedily(*module, std::move(patterns))));
  EXPECT_EQ(count(*module), 2u);
  OwningOpRef<ModuleOp> direct = parse();
  ASSERT_TRUE(succeeded(quantizeWeightsRTN(*direct, int4Group8())));
  // The same codes, scales and zero-points, product by product.
  auto operands = [](ModuleOp m) {
    std::vector<std::vector<uint8_t>> bytes;
    m.walk([&](DequantMatmulOp op) {
      for (Value v : {op.getStorage(), op.getScales(), op.getZeroPoints()})
        bytes.push_back(readConstantBytes(v).value_or(std::vector<uint8_t>{}));
    });
    return bytes;
  };
  std::vector<std::vector<uint8_t>> viaPattern = operands(*module);
  EXPECT_EQ(viaPattern.size(), 6u);
  EXPECT_EQ(viaPattern, operands(*direct));
}

TEST_F(TransformsApi, GPTQFromGivenStatisticsWithoutExecutor) {
  OwningOpRef<ModuleOp> module = parse();
  // Statistics of the shared input, computed by the host.
  std::mt19937 rng(3);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<float> x(64 * 16);
  for (float &v : x)
    v = normal(rng);
  quantopt::numerics::HessianAccumulator stats(16);
  stats.addBatch(x.data(), 64, 4);
  NamedStatistics named{{"fc1", stats}, {"fc2", stats}};
  GPTQQuantization options;
  options.numerics.bits = 4;
  options.numerics.groupSize = 8;
  auto report = gptqQuantize(*module, options, &named);
  ASSERT_TRUE(succeeded(report));
  ASSERT_EQ(report->size(), 2u);
  EXPECT_EQ((*report)[0].name, "fc1");
  EXPECT_EQ((*report)[0].rows, 4);
  EXPECT_EQ((*report)[0].cols, 16);
  EXPECT_EQ((*report)[0].calibrationTokens, 64);
  EXPECT_EQ(count(*module), 2u);

  // Activations that are the products' own inputs need no executor either.
  std::string npy = testlayers::writeNpy(x, {8, 8, 16});
  OwningOpRef<ModuleOp> fromActivations = parse();
  options.calibration.path = npy;
  ASSERT_TRUE(succeeded(gptqQuantize(*fromActivations, options)));
  EXPECT_EQ(count(*fromActivations), 2u);

  // Activations computed inside the module need one.
  auto layer =
      parseSourceString<ModuleOp>(testlayers::layerModule(8, 16, 4), ctx.get());
  ASSERT_TRUE(bool(layer));
  std::string diagnostics;
  ScopedDiagnosticHandler handler(ctx.get(), [&](Diagnostic &d) {
    diagnostics += d.str();
    return success();
  });
  EXPECT_TRUE(failed(gptqQuantize(*layer, options)));
  EXPECT_NE(diagnostics.find("needs a module executor"), std::string::npos)
      << diagnostics;
  llvm::sys::fs::remove(npy);
}

// Long passes report items done, time so far and time left; a run shorter
// than the interval prints nothing.
TEST(ProgressRemarks, QuietUntilTheIntervalThenRateLimited) {
  MLIRContext ctx;
  std::vector<std::string> remarks;
  ScopedDiagnosticHandler handler(&ctx, [&](Diagnostic &d) {
    remarks.push_back(d.str());
    return success();
  });
  Location loc = UnknownLoc::get(&ctx);
  ProgressRemarks quiet(loc, "quant-x", 4, /*intervalSeconds=*/3600);
  quiet.finished(1, "w1");
  EXPECT_TRUE(remarks.empty());
  ProgressRemarks every(loc, "quant-x", 4, /*intervalSeconds=*/0);
  every.finished(1, "w1");
  every.finished(4, "w4");
  ASSERT_EQ(remarks.size(), 2u);
  EXPECT_EQ(remarks[0].find("quant-x: 1/4 w1, "), 0u) << remarks[0];
  EXPECT_NE(remarks[0].find(" s so far, about "), std::string::npos);
  EXPECT_NE(remarks[1].find("about 0 s left"), std::string::npos) << remarks[1];
}
