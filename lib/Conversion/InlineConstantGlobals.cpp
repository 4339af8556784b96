//===- InlineConstantGlobals.cpp - Read constant globals in place ---------===//
//
// Part of the quant-opt project, under the Apache License v2.0 with LLVM
// Exceptions.
//
//===----------------------------------------------------------------------===//

#include "quant/Conversion/Passes.h"
#include "quant/Dialect/QTensor/Utils/ConstantGlobals.h"

#include "mlir/Dialect/Arith/IR/Arith.h"

namespace mlir {
namespace qtensor {
#define GEN_PASS_DEF_INLINECONSTANTGLOBALSPASS
#include "quant/Conversion/Passes.h.inc"
} // namespace qtensor
} // namespace mlir

using namespace mlir;

namespace {
struct InlineConstantGlobalsPass
    : qtensor::impl::InlineConstantGlobalsPassBase<InlineConstantGlobalsPass> {
  void runOnOperation() override {
    if (failed(qtensor::inlineConstantGlobals(getOperation())))
      signalPassFailure();
  }
};
} // namespace
