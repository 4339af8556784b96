//===- QTensorDialect.h - qtensor dialect -----------------------*- C++ -*-===//
//
// Part of the quant-opt project, under the Apache License v2.0 with LLVM
// Exceptions.
//
//===----------------------------------------------------------------------===//

#ifndef QUANT_DIALECT_QTENSOR_IR_QTENSORDIALECT_H
#define QUANT_DIALECT_QTENSOR_IR_QTENSORDIALECT_H

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/Dialect.h"

// The dialect's discardable attribute helpers name its attributes.
#include "quant/Dialect/QTensor/IR/QTensorAttrs.h"

#include "quant/Dialect/QTensor/IR/QTensorOpsDialect.h.inc"

namespace mlir {
namespace qtensor {
/// The names of the dialect's discardable attributes (QTensorBase.td).
inline constexpr llvm::StringLiteral kWeightNameAttr =
    QTensorDialect::WeightNameAttrHelper::getNameStr();
inline constexpr llvm::StringLiteral kGGUFFileTypeAttr =
    QTensorDialect::GgufFileTypeAttrHelper::getNameStr();
inline constexpr llvm::StringLiteral kLlamaConfigAttr =
    QTensorDialect::LlamaAttrHelper::getNameStr();
inline constexpr llvm::StringLiteral kAttentionAttr =
    QTensorDialect::AttentionAttrHelper::getNameStr();
} // namespace qtensor
} // namespace mlir

#endif // QUANT_DIALECT_QTENSOR_IR_QTENSORDIALECT_H
