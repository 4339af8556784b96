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

#include "mlir/IR/Builders.h"

namespace mlir {
namespace qtensor {

/// Collapses `value` ([..., D]) to [M, D].
Value collapseToMatrix(OpBuilder &b, Location loc, Value value);

/// A read-only buffer of `tensor` with identity layout; `dynamicRows` makes
/// the first dimension dynamic (kernels that take any number of rows).
Value toBuffer(OpBuilder &b, Location loc, Value tensor, bool dynamicRows);

/// True when `init` is +0.0 everywhere: a linalg.fill or a splat constant of
/// zero. (Adding the products to +0 would only turn a -0 sum into +0.)
bool isZeroFill(Value init);

} // namespace qtensor
} // namespace mlir

#endif // QUANT_LIB_CONVERSION_KERNELOPERANDS_H
