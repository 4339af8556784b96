//===- QTensorDialect.cpp - qtensor dialect registration ------------------===//
//
// Part of the quant-opt project, under the Apache License v2.0 with LLVM
// Exceptions.
//
//===----------------------------------------------------------------------===//

#include "quant/Dialect/QTensor/IR/QTensorDialect.h"
#include "quant/Dialect/QTensor/IR/QTensorAttrs.h"
#include "quant/Dialect/QTensor/IR/QTensorOps.h"

#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/IR/Builders.h"
#include "mlir/Interfaces/FunctionInterfaces.h"
#include "llvm/ADT/TypeSwitch.h"

using namespace mlir;
using namespace mlir::qtensor;

#include "quant/Dialect/QTensor/IR/QTensorOpsDialect.cpp.inc"

void QTensorDialect::initialize() {
  registerAttributes();
  addOperations<
#define GET_OP_LIST
#include "quant/Dialect/QTensor/IR/QTensorOps.cpp.inc"
      >();
}

LogicalResult QTensorDialect::verifyOperationAttribute(Operation *op,
                                                       NamedAttribute attr) {
  StringRef name = attr.getName().getValue();
  if (name == WeightNameAttrHelper::getNameStr()) {
    if (!isa<StringAttr>(attr.getValue()))
      return op->emitError("'") << name << "' must be a string";
    return success();
  }
  if (name == LlvmIntrinsicAttrHelper::getNameStr()) {
    auto function = dyn_cast<FunctionOpInterface>(op);
    if (!function || !function.isExternal())
      return op->emitError("'")
             << name << "' belongs on a function declaration";
    auto intrinsic = dyn_cast<StringAttr>(attr.getValue());
    if (!intrinsic || !intrinsic.getValue().starts_with("llvm."))
      return op->emitError("'")
             << name << "' must name an LLVM intrinsic (\"llvm.…\")";
    return success();
  }
  bool moduleOnly = name == GgufFileTypeAttrHelper::getNameStr() ||
                    name == LlamaAttrHelper::getNameStr() ||
                    name == GpuConstantsAttrHelper::getNameStr();
  if (moduleOnly && !isa<ModuleOp>(op))
    return op->emitError("'") << name << "' belongs on a builtin.module";
  if (name == GgufFileTypeAttrHelper::getNameStr()) {
    auto fileType = dyn_cast<IntegerAttr>(attr.getValue());
    if (!fileType || !fileType.getType().isInteger(32) || fileType.getInt() < 0)
      return op->emitError("'") << name
                                << "' must be a non-negative i32 (llama.cpp's "
                                   "llama_ftype)";
    return success();
  }
  if (name == LlamaAttrHelper::getNameStr()) {
    if (!isa<LlamaConfigAttr>(attr.getValue()))
      return op->emitError("'") << name << "' must be a #qtensor.llama";
    return success();
  }
  if (name == GpuDeviceArgumentsAttrHelper::getNameStr()) {
    if (!isa<FunctionOpInterface>(op) || !isa<UnitAttr>(attr.getValue()))
      return op->emitError("'")
             << name << "' must be a unit attribute on a function";
    return success();
  }
  if (name == GpuConstantsAttrHelper::getNameStr()) {
    auto names = dyn_cast<ArrayAttr>(attr.getValue());
    if (!names || !llvm::all_of(names, llvm::IsaPred<FlatSymbolRefAttr>))
      return op->emitError("'")
             << name << "' must be an array of global symbol references";
    return success();
  }
  if (name == AttentionAttrHelper::getNameStr()) {
    auto role = dyn_cast<StringAttr>(attr.getValue());
    if (!role || !llvm::is_contained({"query", "key", "value", "output"},
                                     role.getValue()))
      return op->emitError("'")
             << name << "' must be \"query\", \"key\", \"value\" or "
             << "\"output\"";
    bool output = role.getValue() == "output";
    if (output && !isa<tensor::CollapseShapeOp>(op))
      return op->emitError("'") << name
                                << "' = \"output\" belongs on a "
                                   "tensor.collapse_shape";
    if (!output && !isa<tensor::ExpandShapeOp>(op))
      return op->emitError("'") << name << "' = \"" << role.getValue()
                                << "\" belongs on a tensor.expand_shape";
    return success();
  }
  return op->emitError("unknown qtensor attribute '") << name << "'";
}
