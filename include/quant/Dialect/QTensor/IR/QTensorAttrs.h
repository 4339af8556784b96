//===- QTensorAttrs.h - qtensor attributes ----------------------*- C++ -*-===//
//
// Part of the quant-opt project, under the Apache License v2.0 with LLVM
// Exceptions.
//
//===----------------------------------------------------------------------===//

#ifndef QUANT_DIALECT_QTENSOR_IR_QTENSORATTRS_H
#define QUANT_DIALECT_QTENSOR_IR_QTENSORATTRS_H

#include "mlir/IR/Attributes.h"
#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/DialectImplementation.h"

#include "quant/Numerics/ElementFormat.h"
#include "quant/Numerics/GGMLTypes.h"

namespace mlir {
namespace qtensor {
// The attributes' enums are the numerics library's (one definition shared by
// the IR, the passes and the quantizers).
using quantopt::numerics::ElementFormat;
using quantopt::numerics::GGMLType;
using quantopt::numerics::PackOrder;
} // namespace qtensor
} // namespace mlir

#define GET_ATTRDEF_CLASSES
#include "quant/Dialect/QTensor/IR/QTensorAttrs.h.inc"

#endif // QUANT_DIALECT_QTENSOR_IR_QTENSORATTRS_H
