//===- ConvertQTensorToCPUKernels.cpp - vectorised CPU kernels ------------===//
//
// Part of the quant-opt project, under the Apache License v2.0 with LLVM
// Exceptions.
//
//===----------------------------------------------------------------------===//
//
// The --convert-qtensor-to-cpu-kernels pass: quantized products whose layout
// has a kernel become calls to a generated kernel function on buffers; the
// rest stay for convert-qtensor-to-linalg.
//
//===----------------------------------------------------------------------===//

#include "CPUKernels.h"
#include "quant/Conversion/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "llvm/ADT/TypeSwitch.h"

namespace mlir {
namespace qtensor {
#define GEN_PASS_DEF_CONVERTQTENSORTOCPUKERNELSPASS
#include "quant/Conversion/Passes.h.inc"
} // namespace qtensor
} // namespace mlir

using namespace mlir;
using namespace mlir::qtensor;

namespace {
struct ConvertQTensorToCPUKernelsPass
    : qtensor::impl::ConvertQTensorToCPUKernelsPassBase<
          ConvertQTensorToCPUKernelsPass> {
  using Base::Base;
  void runOnOperation() override;
};
} // namespace

void ConvertQTensorToCPUKernelsPass::runOnOperation() {
  ModuleOp module = getOperation();
  if (threads == 0) {
    module.emitError("convert-qtensor-to-cpu-kernels: threads must be at "
                     "least 1, got 0");
    return signalPassFailure();
  }
  cpu::KernelOptions options;
  options.threads = threads;
  options.compute = compute;
  options.isa = kernelISA;
  options.reportFallback = reportFallback;
  options.prepackInt8 = prepackInt8;
  SmallVector<Operation *> products;
  module.walk([&](Operation *op) {
    if (isa<DequantMatmulOp, GGMLMatmulOp, QuantizedMatmulOp>(op))
      products.push_back(op);
  });
  for (Operation *op : products) {
    std::string whyNot;
    LogicalResult lowered =
        TypeSwitch<Operation *, LogicalResult>(op)
            .Case([&](DequantMatmulOp product) {
              return cpu::lowerDequantMatmulToKernel(product, options, whyNot);
            })
            .Case([&](GGMLMatmulOp product) {
              return cpu::lowerGGMLMatmulToKernel(product, options, whyNot);
            })
            .Case([&](QuantizedMatmulOp product) {
              return cpu::lowerQuantizedMatmulToKernel(product, options,
                                                       whyNot);
            });
    if (succeeded(lowered))
      continue;
    if (reportFallback)
      op->emitRemark() << "convert-qtensor-to-cpu-kernels: no kernel for this "
                          "product ("
                       << whyNot << "); the reference lowering computes it";
  }
}
