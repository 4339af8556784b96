//===- ConvertFloatMatmulToCPUKernels.cpp - f32 products to kernels -------===//
//
// Part of the quant-opt project, under the Apache License v2.0 with LLVM
// Exceptions.
//
//===----------------------------------------------------------------------===//
//
// The --convert-float-matmul-to-cpu-kernels pass: f32 linalg contractions
// shaped as matrix products become calls to generated kernel functions.
//
//===----------------------------------------------------------------------===//

#include "CPUKernels.h"
#include "quant/Conversion/Passes.h"

#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"

namespace mlir {
namespace qtensor {
#define GEN_PASS_DEF_CONVERTFLOATMATMULTOCPUKERNELSPASS
#include "quant/Conversion/Passes.h.inc"
} // namespace qtensor
} // namespace mlir

using namespace mlir;
using namespace mlir::qtensor;

namespace {
struct ConvertFloatMatmulToCPUKernelsPass
    : qtensor::impl::ConvertFloatMatmulToCPUKernelsPassBase<
          ConvertFloatMatmulToCPUKernelsPass> {
  using Base::Base;
  void runOnOperation() override;
};
} // namespace

void ConvertFloatMatmulToCPUKernelsPass::runOnOperation() {
  ModuleOp module = getOperation();
  if (threads == 0) {
    module.emitError("convert-float-matmul-to-cpu-kernels: threads must be "
                     "at least 1, got 0");
    return signalPassFailure();
  }
  cpu::KernelOptions options;
  options.threads = threads;
  SmallVector<linalg::LinalgOp> products;
  module.walk([&](linalg::LinalgOp op) {
    if (op.hasPureTensorSemantics() && linalg::isaContractionOpInterface(op))
      products.push_back(op);
  });
  for (linalg::LinalgOp op : products) {
    std::string whyNot;
    if (succeeded(cpu::lowerFloatMatmulToKernel(op, options, whyNot)))
      continue;
    if (reportFallback)
      op->emitRemark() << "convert-float-matmul-to-cpu-kernels: no kernel "
                          "for this product ("
                       << whyNot << "); it stays a linalg op";
  }
}
