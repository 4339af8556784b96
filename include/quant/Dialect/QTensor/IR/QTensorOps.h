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

#endif // QUANT_DIALECT_QTENSOR_IR_QTENSOROPS_H
