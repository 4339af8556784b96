//===- Passes.h - qtensor transformation passes -----------------*- C++ -*-===//
//
// Part of the quant-opt project, under the Apache License v2.0 with LLVM
// Exceptions.
//
//===----------------------------------------------------------------------===//

#ifndef QUANT_DIALECT_QTENSOR_TRANSFORMS_PASSES_H
#define QUANT_DIALECT_QTENSOR_TRANSFORMS_PASSES_H

#include "quant/Dialect/QTensor/IR/QTensorDialect.h"
#include "quant/Dialect/QTensor/Transforms/PassOptions.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/Pass/Pass.h"

namespace mlir {
namespace qtensor {

#define GEN_PASS_DECL
#include "quant/Dialect/QTensor/Transforms/Passes.h.inc"

#define GEN_PASS_REGISTRATION
#include "quant/Dialect/QTensor/Transforms/Passes.h.inc"

/// Registers `--quant-gptq` as another name of `--gptq-quantize` (the flag
/// users know), taking the same options.
void registerQuantGPTQAlias();

} // namespace qtensor
} // namespace mlir

#endif // QUANT_DIALECT_QTENSOR_TRANSFORMS_PASSES_H
