//===- ExecutorTest.cpp - Calibrated passes and module executors ----------===//
//
// Part of the quant-opt project, under the Apache License v2.0 with LLVM
// Exceptions.
//
//===----------------------------------------------------------------------===//
//
// The calibrated passes run modules only through the ModuleExecutor
// registered in the context: a host compiler's own executor is used when
// registered, and without one the passes work from what needs no execution
// (the products' own input activations, a statistics file) and otherwise
// fail with a diagnostic that says what is missing.
//
//===----------------------------------------------------------------------===//

#include "quant/Dialect/QTensor/Transforms/Executor.h"
#include "TestLayers.h"
#include "quant/Execution/JitExecutor.h"
#include "quant/InitAll.h"

#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/DialectRegistry.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/Parser/Parser.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Pass/PassRegistry.h"
#include "llvm/Support/FileSystem.h"

#include <gtest/gtest.h>

#include <atomic>

using namespace quantopt;
using quantopt::testlayers::layerModule;
using quantopt::testlayers::makeActivations;
using quantopt::testlayers::writeNpy;

namespace {
constexpr int64_t kTokens = 32, kIn = 64, kOut = 16;

/// A host compiler's executor: counts what the passes ask of it and
/// delegates the work to the CPU JIT.
class CountingExecutor : public mlir::qtensor::ModuleExecutor {
public:
  llvm::StringRef getName() const override { return "counting"; }
  void getDependentDialects(mlir::DialectRegistry &registry) const override {
    jit.getDependentDialects(registry);
  }
  llvm::Expected<std::unique_ptr<mlir::qtensor::ExecutableModule>>
  compile(mlir::ModuleOp module) const override {
    ++compiles;
    return jit.compile(module);
  }
  mutable std::atomic<int> compiles{0};

private:
  CPUJitExecutor jit;
};

class Executors : public ::testing::Test {
protected:
  void SetUp() override {
    registerAllPasses();
    calibration =
        writeNpy(makeActivations(1, 2, kTokens, kIn), {2, kTokens, kIn});
  }
  void TearDown() override { llvm::sys::fs::remove(calibration); }

  /// Runs `pipeline` on the layer in a context built from `registry`;
  /// returns the printed module, or the diagnostics on failure.
  std::string run(mlir::DialectRegistry &registry, const std::string &pipeline,
                  bool scaleInput, bool &ok) {
    registerAllDialects(registry);
    registerUpstreamDialects(registry);
    mlir::MLIRContext ctx(registry);
    std::string diagnostics;
    mlir::ScopedDiagnosticHandler handler(&ctx, [&](mlir::Diagnostic &d) {
      diagnostics += d.str() + "\n";
      return mlir::success();
    });
    auto module = mlir::parseSourceString<mlir::ModuleOp>(
        layerModule(kTokens, kIn, kOut, scaleInput), &ctx);
    EXPECT_TRUE(bool(module));
    mlir::PassManager pm(&ctx);
    std::string text = pipeline;
    size_t at = text.find("%CALIB");
    if (at != std::string::npos)
      text.replace(at, 6, "calibration=" + calibration);
    EXPECT_TRUE(mlir::succeeded(mlir::parsePassPipeline(text, pm))) << text;
    ok = mlir::succeeded(pm.run(*module));
    if (!ok)
      return diagnostics;
    std::string printed;
    llvm::raw_string_ostream os(printed);
    module->print(os);
    return printed;
  }

  std::string calibration;
};
} // namespace

TEST_F(Executors, RegisteredExecutorRunsTheCalibration) {
  auto executor = std::make_shared<CountingExecutor>();
  mlir::DialectRegistry withCounting;
  mlir::qtensor::registerModuleExecutor(withCounting, executor);
  bool ok = false;
  std::string counted =
      run(withCounting, "gptq-quantize{bits=4 group-size=32 %CALIB}", true, ok);
  ASSERT_TRUE(ok) << counted;
  EXPECT_GE(executor->compiles.load(), 1);

  mlir::DialectRegistry withJit;
  registerCPUJitExecutor(withJit);
  std::string jitted =
      run(withJit, "gptq-quantize{bits=4 group-size=32 %CALIB}", true, ok);
  ASSERT_TRUE(ok) << jitted;
  EXPECT_EQ(counted, jitted);
}

TEST_F(Executors, WithoutExecutorRunningIsAnError) {
  mlir::DialectRegistry bare;
  bool ok = true;
  std::string diagnostics =
      run(bare, "gptq-quantize{bits=4 group-size=32 %CALIB}", true, ok);
  EXPECT_FALSE(ok);
  EXPECT_NE(diagnostics.find("needs a module executor"), std::string::npos)
      << diagnostics;
  EXPECT_NE(diagnostics.find("statistics=FILE"), std::string::npos)
      << diagnostics;
}

TEST_F(Executors, WithoutExecutorInputActivationsNeedNoRun) {
  // The product reads the function's argument: the .npy holds its inputs.
  mlir::DialectRegistry bare, withJit;
  registerCPUJitExecutor(withJit);
  bool ok = false;
  for (const char *pipeline :
       {"gptq-quantize{bits=4 group-size=32 %CALIB}",
        "quant-smoothquant{alpha=0.5 smooth=false %CALIB}",
        "quant-gguf{type=q4_0 %CALIB}"}) {
    std::string without = run(bare, pipeline, false, ok);
    ASSERT_TRUE(ok) << pipeline << "\n" << without;
    std::string with = run(withJit, pipeline, false, ok);
    ASSERT_TRUE(ok) << pipeline << "\n" << with;
    EXPECT_EQ(without, with) << pipeline;
  }
}

TEST_F(Executors, WithoutExecutorStatisticsFilesWork) {
  llvm::SmallString<128> stats;
  llvm::sys::fs::createTemporaryFile("layer-stats", "safetensors", stats);
  mlir::DialectRegistry withJit, bare;
  registerCPUJitExecutor(withJit);
  bool ok = false;
  std::string out =
      run(withJit, "quant-calibrate{%CALIB output=" + stats.str().str() + "}",
          true, ok);
  ASSERT_TRUE(ok) << out;
  std::string fromFile =
      run(bare,
          "gptq-quantize{bits=4 group-size=32 statistics=" + stats.str().str() +
              "}",
          true, ok);
  ASSERT_TRUE(ok) << fromFile;
  std::string fromRun =
      run(withJit,
          "gptq-quantize{bits=4 group-size=32 true-sequential=false %CALIB}",
          true, ok);
  ASSERT_TRUE(ok) << fromRun;
  EXPECT_EQ(fromFile, fromRun);
  llvm::sys::fs::remove(stats);
}
