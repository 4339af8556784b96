//===- OutlierLayerTest.cpp - SmoothQuant / AWQ on an outlier layer -------===//
//
// Part of the quant-opt project, under the Apache License v2.0 with LLVM
// Exceptions.
//
//===----------------------------------------------------------------------===//
//
// A synthetic linear layer behind a norm-like per-channel weight, fed with
// activations where a few channels are 100x larger than the rest (the
// outlier pattern SmoothQuant and AWQ target). The module is quantized by
// the passes, JIT-compiled, and its output compared with the float layer's
// on held-out activations.
//
//===----------------------------------------------------------------------===//

#include "quant/InitAll.h"
#include "quant/Runtime/JitRunner.h"

#include "mlir/IR/DialectRegistry.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/Parser/Parser.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Pass/PassRegistry.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/FormatVariadic.h"

#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <random>

using namespace quantopt;

namespace {
constexpr int64_t kTokens = 256, kIn = 512, kOut = 96;

/// Activations [copies, kTokens, kIn]: N(0, 1) with 4 of the 512 channels,
/// 3, 40, 77 and 100, scaled by 100 (LLM.int8() reports systematic outliers
/// of this size).
std::vector<float> makeActivations(unsigned seed, int64_t copies) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<float> x(copies * kTokens * kIn);
  for (int64_t i = 0; i < int64_t(x.size()); ++i) {
    int64_t channel = i % kIn;
    bool outlier =
        channel == 3 || channel == 40 || channel == 77 || channel == 100;
    x[i] = normal(rng) * (outlier ? 100.0f : 1.0f);
  }
  return x;
}

std::string writeNpy(const std::vector<float> &x, int64_t copies) {
  llvm::SmallString<128> path;
  llvm::sys::fs::createTemporaryFile("outlier-x", "npy", path);
  std::string header = llvm::formatv("{{'descr': '<f4', 'fortran_order': "
                                     "False, 'shape': ({0}, {1}, {2}), }",
                                     copies, kTokens, kIn)
                           .str();
  while ((10 + header.size() + 1) % 64)
    header += ' ';
  header += '\n';
  std::ofstream out(path.str().str(), std::ios::binary);
  out.write("\x93NUMPY\x01\x00", 8);
  uint16_t length = uint16_t(header.size());
  out.write(reinterpret_cast<const char *>(&length), 2);
  out << header;
  out.write(reinterpret_cast<const char *>(x.data()), x.size() * 4);
  return path.str().str();
}

/// norm (x * g) -> linear [96, 512] -> negation (so the product is not the
/// function's output head, which the passes keep in float).
std::string layerModule() {
  std::mt19937 rng(5);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::string gamma, weight;
  for (int64_t j = 0; j < kIn; ++j)
    gamma +=
        llvm::formatv("{0}{1}", j ? ", " : "", 1.0f + 0.1f * normal(rng)).str();
  for (int64_t r = 0; r < kOut; ++r) {
    weight += r ? ", [" : "[";
    for (int64_t j = 0; j < kIn; ++j)
      weight +=
          llvm::formatv("{0}{1}", j ? ", " : "", 0.05f * normal(rng)).str();
    weight += "]";
  }
  return llvm::formatv(R"mlir(
#id = affine_map<(t, c) -> (t, c)>
#ch = affine_map<(t, c) -> (c)>
#mx = affine_map<(t, n, k) -> (t, k)>
#mw = affine_map<(t, n, k) -> (n, k)>
#my = affine_map<(t, n, k) -> (t, n)>
func.func @forward(%x: tensor<{0}x{1}xf32>) -> tensor<{0}x{2}xf32> {{
  %g = arith.constant dense<[{3}]> : tensor<{1}xf32>
  %e = tensor.empty() : tensor<{0}x{1}xf32>
  %n = linalg.generic {{indexing_maps = [#id, #ch, #id], iterator_types = ["parallel", "parallel"]}
      ins(%x, %g : tensor<{0}x{1}xf32>, tensor<{1}xf32>) outs(%e : tensor<{0}x{1}xf32>) {{
  ^bb0(%a: f32, %b: f32, %o: f32):
    %m = arith.mulf %a, %b : f32
    linalg.yield %m : f32
  } -> tensor<{0}x{1}xf32>
  %w = arith.constant dense<[{4}]> : tensor<{2}x{1}xf32> loc("fc")
  %zero = arith.constant 0.0 : f32
  %ye = tensor.empty() : tensor<{0}x{2}xf32>
  %init = linalg.fill ins(%zero : f32) outs(%ye : tensor<{0}x{2}xf32>) -> tensor<{0}x{2}xf32>
  %y = linalg.generic {{indexing_maps = [#mx, #mw, #my], iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%n, %w : tensor<{0}x{1}xf32>, tensor<{2}x{1}xf32>) outs(%init : tensor<{0}x{2}xf32>) {{
  ^bb0(%a: f32, %b: f32, %o: f32):
    %m = arith.mulf %a, %b : f32
    %s = arith.addf %o, %m : f32
    linalg.yield %s : f32
  } -> tensor<{0}x{2}xf32>
  %re = tensor.empty() : tensor<{0}x{2}xf32>
  %r = linalg.generic {{indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]}
      ins(%y : tensor<{0}x{2}xf32>) outs(%re : tensor<{0}x{2}xf32>) {{
  ^bb0(%a: f32, %o: f32):
    %t = arith.negf %a : f32
    linalg.yield %t : f32
  } -> tensor<{0}x{2}xf32>
  return %r : tensor<{0}x{2}xf32>
}
)mlir",
                       kTokens, kIn, kOut, gamma, weight)
      .str();
}

class OutlierLayer : public ::testing::Test {
protected:
  void SetUp() override {
    registerAllPasses();
    registerAllDialects(registry);
    registerUpstreamDialects(registry);
    calibration = writeNpy(makeActivations(1, 4), 4);
    evalInput.shape = {kTokens, kIn};
    evalInput.f32 = makeActivations(2, 1);
    reference = run("");
  }
  void TearDown() override { llvm::sys::fs::remove(calibration); }

  /// Output of the layer after `pipeline` (empty: the float layer).
  std::vector<float> run(const std::string &pipeline) {
    mlir::MLIRContext ctx(registry);
    auto module = mlir::parseSourceString<mlir::ModuleOp>(layerModule(), &ctx);
    EXPECT_TRUE(bool(module));
    if (!pipeline.empty()) {
      std::string text = pipeline;
      size_t at = text.find("%CALIB");
      if (at != std::string::npos)
        text.replace(at, 6, "calibration=" + calibration);
      mlir::PassManager pm(&ctx);
      EXPECT_TRUE(mlir::succeeded(mlir::parsePassPipeline(text, pm))) << text;
      EXPECT_TRUE(mlir::succeeded(pm.run(*module))) << text;
    }
    auto jit = JitModule::compile(*module);
    EXPECT_TRUE(bool(jit));
    auto y = (*jit)->call("forward", {&evalInput}, 2);
    EXPECT_TRUE(bool(y));
    return y->f32;
  }

  /// ||y - reference|| / ||reference||.
  double relativeError(const std::vector<float> &y) {
    double num = 0, den = 0;
    for (size_t i = 0; i < y.size(); ++i) {
      num += (double(y[i]) - reference[i]) * (double(y[i]) - reference[i]);
      den += double(reference[i]) * reference[i];
    }
    return std::sqrt(num / den);
  }

  mlir::DialectRegistry registry;
  std::string calibration;
  HostArray evalInput;
  std::vector<float> reference;
};
} // namespace

TEST_F(OutlierLayer, SmoothQuantCutsW8A8ErrorFivefold) {
  double plain = relativeError(run("quant-smoothquant{smooth=false %CALIB}"));
  double smoothed = relativeError(run("quant-smoothquant{alpha=0.5 %CALIB}"));
  double foldOnly =
      relativeError(run("quant-smoothquant{activations=none %CALIB}"));
  std::printf("W8A8 relative error: plain %.5f, SmoothQuant 0.5 %.5f "
              "(%.1fx); fold only %.2e\n",
              plain, smoothed, plain / smoothed, foldOnly);
  EXPECT_GE(plain / smoothed, 5.0);
  EXPECT_LE(foldOnly, 1e-6);
}

TEST_F(OutlierLayer, AWQBeatsRoundToNearest) {
  double rtn = relativeError(run("quant-rtn{bits=4 group-size=128}"));
  double awq = relativeError(run("quant-awq{bits=4 group-size=128 %CALIB}"));
  std::printf("w4 g128 relative error: RTN %.5f, AWQ %.5f\n", rtn, awq);
  EXPECT_LT(awq, rtn);
}

TEST_F(OutlierLayer, LLMInt8KeepsOutliersInFloat) {
  double plain = relativeError(run("quant-smoothquant{smooth=false}"));
  double int8 = relativeError(run("quant-llm-int8"));
  std::printf("relative error: W8A8 per-token %.5f, LLM.int8() %.5f\n", plain,
              int8);
  // The 100x channels go through the float path, so the int8 part sees
  // only N(0, 1) activations.
  EXPECT_LT(int8 * 5, plain);
}
