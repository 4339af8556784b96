//===- QTensorDialect.h - qtensor dialect -----------------------*- C++ -*-===//
//
// Part of the quant-opt project, under the Apache License v2.0 with LLVM
// Exceptions.
//
//===----------------------------------------------------------------------===//

#ifndef QUANT_DIALECT_QTENSOR_IR_QTENSORDIALECT_H
#define QUANT_DIALECT_QTENSOR_IR_QTENSORDIALECT_H

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/Dialect.h"

#include "quant/Dialect/QTensor/IR/QTensorOpsDialect.h.inc"

#endif // QUANT_DIALECT_QTENSOR_IR_QTENSORDIALECT_H
