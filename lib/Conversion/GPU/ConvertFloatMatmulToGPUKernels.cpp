//===- ConvertFloatMatmulToGPUKernels.cpp - f32 products on GPU kernels ---===//
//
// Part of the quant-opt project, under the Apache License v2.0 with LLVM
// Exceptions.
//
//===----------------------------------------------------------------------===//
//
// Gives the float model's own products (the importers' x * W^T generics)
// the GEMV and tensor-core kernels of the quantized products, with f32
// weights that need no decoding.
//
//===----------------------------------------------------------------------===//

#include "GPUKernels.h"
#include "quant/Conversion/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/NVGPU/IR/NVGPUDialect.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Dialect/UB/IR/UBOps.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"

namespace mlir {
namespace qtensor {
#define GEN_PASS_DEF_CONVERTFLOATMATMULTOGPUKERNELSPASS
#include "quant/Conversion/Passes.h.inc"
} // namespace qtensor
} // namespace mlir

using namespace mlir;
using namespace mlir::qtensor;

namespace {

struct ConvertFloatMatmulToGPUKernelsPass
    : qtensor::impl::ConvertFloatMatmulToGPUKernelsPassBase<
          ConvertFloatMatmulToGPUKernelsPass> {
  using Base::Base;

  void runOnOperation() override {
    FloatType compute;
    if (computeType == "f16") {
      compute = Builder(&getContext()).getF16Type();
    } else if (computeType != "f32") {
      emitError(getOperation()->getLoc())
          << "convert-float-matmul-to-gpu-kernels: compute-type must be f32 "
             "or f16, got '"
          << computeType << "'";
      return signalPassFailure();
    }
    SmallVector<linalg::LinalgOp> products;
    getOperation()->walk([&](linalg::LinalgOp op) {
      if (linalg::isaContractionOpInterface(op))
        products.push_back(op);
    });
    for (linalg::LinalgOp op : products) {
      std::string whyNot;
      if (failed(lowerFloatMatmulToGPUKernel(op, compute, whyNot)) &&
          reportFallback)
        op->emitRemark() << "convert-float-matmul-to-gpu-kernels: no GPU "
                            "kernel for this product ("
                         << whyNot << "); the generic loop mapping computes it";
    }
  }
};

} // namespace
