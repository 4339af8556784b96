//===- ExpandIntrinsicCalls.cpp - intrinsic declarations to intrinsics ----===//
//
// Part of the quant-opt project, under the Apache License v2.0 with LLVM
// Exceptions.
//
//===----------------------------------------------------------------------===//
//
// The --quant-expand-intrinsic-calls pass: calls of private declarations
// marked `qtensor.llvm_intrinsic` become llvm.call_intrinsic ops.
//
//===----------------------------------------------------------------------===//

#include "CPUKernels.h"
#include "quant/Conversion/Passes.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"

namespace mlir {
namespace qtensor {
#define GEN_PASS_DEF_EXPANDINTRINSICCALLSPASS
#include "quant/Conversion/Passes.h.inc"
} // namespace qtensor
} // namespace mlir

using namespace mlir;
using namespace mlir::qtensor;

namespace {
struct ExpandIntrinsicCallsPass
    : qtensor::impl::ExpandIntrinsicCallsPassBase<ExpandIntrinsicCallsPass> {
  void runOnOperation() override;
};
} // namespace

void ExpandIntrinsicCallsPass::runOnOperation() {
  // The dialect verifies that the attribute is an intrinsic's name on a
  // declaration.
  ModuleOp module = getOperation();
  llvm::StringMap<StringAttr> intrinsics;
  SmallVector<func::FuncOp> declarations;
  for (auto func : module.getOps<func::FuncOp>()) {
    if (auto name = func->getAttrOfType<StringAttr>(
            QTensorDialect::LlvmIntrinsicAttrHelper::getNameStr())) {
      intrinsics[func.getSymName()] = name;
      declarations.push_back(func);
    }
  }
  if (intrinsics.empty())
    return;
  module.walk([&](func::CallOp call) {
    auto it = intrinsics.find(call.getCallee());
    if (it == intrinsics.end())
      return;
    OpBuilder b(call);
    auto replacement = LLVM::CallIntrinsicOp::create(
        b, call.getLoc(), call.getResultTypes(), it->second, call.getOperands(),
        LLVM::FastmathFlagsAttr());
    call.replaceAllUsesWith(replacement->getResults());
    call.erase();
  });
  for (func::FuncOp func : declarations)
    func.erase();
}
