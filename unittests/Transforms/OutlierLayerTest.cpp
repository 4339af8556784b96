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

#include "TestLayers.h"
#include "quant/Execution/JitExecutor.h"
#include "quant/InitAll.h"

#include "mlir/IR/DialectRegistry.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/Parser/Parser.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Pass/PassRegistry.h"
#include "llvm/Support/FileSystem.h"

#include <gtest/gtest.h>

#include <cmath>

using namespace quantopt;

namespace {
constexpr int64_t kTokens = 256, kIn = 512, kOut = 96;
using quantopt::testlayers::layerModule;
using quantopt::testlayers::makeActivations;
using quantopt::testlayers::writeNpy;

class OutlierLayer : public ::testing::Test {
protected:
  void SetUp() override {
    registerAllPasses();
    registerAllDialects(registry);
    registerUpstreamDialects(registry);
    quantopt::registerCPUJitExecutor(registry);
    calibration =
        writeNpy(makeActivations(1, 4, kTokens, kIn), {4, kTokens, kIn});
    evalInput.shape = {kTokens, kIn};
    evalInput.f32 = makeActivations(2, 1, kTokens, kIn);
    reference = run("");
  }
  void TearDown() override { llvm::sys::fs::remove(calibration); }

  /// Output of the layer after `pipeline` (empty: the float layer).
  std::vector<float> run(const std::string &pipeline) {
    mlir::MLIRContext ctx(registry);
    auto module = mlir::parseSourceString<mlir::ModuleOp>(
        layerModule(kTokens, kIn, kOut), &ctx);
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
    auto y = (*jit)->callSingle("forward", {&evalInput});
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
