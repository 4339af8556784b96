//===- QTensorOps.h - qtensor operations ------------------------*- C++ -*-===//
//
// Part of the quant-opt project, under the Apache License v2.0 with LLVM
// Exceptions.
//
//===----------------------------------------------------------------------===//

#ifndef QUANT_DIALECT_QTENSOR_IR_QTENSOROPS_H
#define QUANT_DIALECT_QTENSOR_IR_QTENSOROPS_H

#include "mlir/Bytecode/BytecodeOpInterface.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/OpDefinition.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"

#include "quant/Dialect/QTensor/IR/QTensorAttrs.h"
#include "quant/Dialect/QTensor/IR/QTensorDialect.h"

#define GET_OP_CLASSES
#include "quant/Dialect/QTensor/IR/QTensorOps.h.inc"

namespace mlir {
namespace qtensor {

/// The block of the gated epilogue of a quantized product (dequant_matmul,
/// ggml_matmul, quantized_matmul): arguments (gate, up, init), ending in
/// qtensor.yield; null when the product has none.
Block *getGatedEpilogue(Operation *product);

/// Rows per block of the interleaved gate and up weights of a product with
/// a gated epilogue; 0 without one.
int64_t getGateBlock(Operation *product);

/// Whether `op` may stand in a gated epilogue: a scalar elementwise arith or
/// math op, or a constant (the lowerings recreate it on vectors).
bool isGatedEpilogueOp(Operation &op);

/// Sets (`block` > 0) or removes (0) the gate block of a quantized product.
void setGateBlock(Operation *product, int64_t block);

} // namespace qtensor
} // namespace mlir

#endif // QUANT_DIALECT_QTENSOR_IR_QTENSOROPS_H
