//===- ConstantGlobals.h - Read constant ml_program globals in place -*- C++
//-*-===//
//
// Part of the quant-opt project, under the Apache License v2.0 with LLVM
// Exceptions.
//
//===----------------------------------------------------------------------===//
//
// torch-mlir and other frontends keep parameters in ml_program.global ops
// and emit globals nothing reads (torch-mlir's @global_seed). Executing
// such a module (the CPU lowering, calibration) needs neither: constant
// globals read by ml_program.global_load_const become arith.constants and
// private globals nothing reads any more are dropped.
//
//===----------------------------------------------------------------------===//

#ifndef QUANT_DIALECT_QTENSOR_UTILS_CONSTANTGLOBALS_H
#define QUANT_DIALECT_QTENSOR_UTILS_CONSTANTGLOBALS_H

#include "mlir/IR/BuiltinOps.h"
#include "mlir/Support/LLVM.h"

namespace mlir {
namespace qtensor {

/// Rewrites every ml_program.global_load_const of a constant global in
/// `module` to an arith.constant of its value and erases the private globals
/// left unused. Fails (with an error on the load) for a global without a
/// value of the loaded type; mutable state is left alone.
LogicalResult inlineConstantGlobals(ModuleOp module);

} // namespace qtensor
} // namespace mlir

#endif // QUANT_DIALECT_QTENSOR_UTILS_CONSTANTGLOBALS_H
