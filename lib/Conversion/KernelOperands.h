//===- KernelOperands.h - Operands of kernels on buffers --------*- C++ -*-===//
//
// Part of the quant-opt project, under the Apache License v2.0 with LLVM
// Exceptions.
//
//===----------------------------------------------------------------------===//
//
// Private to QuantConversion: how the CPU and GPU kernel lowerings turn a
// product's tensor operands into the buffers their kernels read.
//
//===----------------------------------------------------------------------===//

#ifndef QUANT_LIB_CONVERSION_KERNELOPERANDS_H
#define QUANT_LIB_CONVERSION_KERNELOPERANDS_H

#include "mlir/Dialect/Linalg/IR/LinalgInterfaces.h"
#include "mlir/IR/Builders.h"

#include <string>

namespace mlir {
namespace qtensor {

/// Collapses `value` ([..., D]) to [M, D].
Value collapseToMatrix(OpBuilder &b, Location loc, Value value);

/// A read-only buffer of `tensor` with identity layout; `dynamicRows` makes
/// the first dimension dynamic (kernels that take any number of rows).
Value toBuffer(OpBuilder &b, Location loc, Value tensor, bool dynamicRows);

/// The loop dimensions of a matrix-product-shaped contraction: activations
/// [rows..., K] and output [rows..., N] sharing their leading dimensions in
/// order, one output-channel dimension `n` and one reduction dimension `k`;
/// `weight` lists the dimensions the weight's indexing map yields.
struct MatmulDims {
  unsigned n = 0, k = 0;
  SmallVector<unsigned> weight;
};

/// The dimensions of `op` (a contraction with two inputs and one init), or
/// failure with the reason in `whyNot`.
FailureOr<MatmulDims> matchMatmulDims(linalg::LinalgOp op, std::string &whyNot);

/// True when `init` is +0.0 everywhere: a linalg.fill or a splat constant of
/// zero. (Adding the products to +0 would only turn a -0 sum into +0.)
bool isZeroFill(Value init);

} // namespace qtensor
} // namespace mlir

#endif // QUANT_LIB_CONVERSION_KERNELOPERANDS_H
