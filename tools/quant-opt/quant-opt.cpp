//===- quant-opt.cpp - The quant-opt driver -------------------------------===//
//
// Part of the quant-opt project, under the Apache License v2.0 with LLVM
// Exceptions.
//
//===----------------------------------------------------------------------===//

#include "quant/Execution/JitExecutor.h"
#include "quant/InitAll.h"
#include "quant/Numerics/BLASKernels.h"

#include "mlir/IR/DialectRegistry.h"
#include "mlir/Tools/mlir-opt/MlirOptMain.h"
#include "mlir/Transforms/Passes.h"

int main(int argc, char **argv) {
  quantopt::numerics::reexecWithNativeBLASKernels(argv);
  quantopt::registerVersionPrinter();
  mlir::registerTransformsPasses();
  quantopt::registerAllPasses();
  quantopt::registerFrontendLoweringPasses();
  mlir::DialectRegistry registry;
  quantopt::registerAllDialects(registry);
  quantopt::registerUpstreamDialects(registry);
  quantopt::registerCPUJitExecutor(registry);
  return mlir::asMainReturnCode(mlir::MlirOptMain(
      argc, argv, "quant-opt: post-training quantization of LLM model IR\n",
      registry));
}
