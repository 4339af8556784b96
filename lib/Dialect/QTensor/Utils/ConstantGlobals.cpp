//===- ConstantGlobals.cpp - Read constant ml_program globals in place ----===//
//
// Part of the quant-opt project, under the Apache License v2.0 with LLVM
// Exceptions.
//
//===----------------------------------------------------------------------===//

#include "quant/Dialect/QTensor/Utils/ConstantGlobals.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/MLProgram/IR/MLProgram.h"
#include "mlir/IR/SymbolTable.h"

using namespace mlir;

LogicalResult mlir::qtensor::inlineConstantGlobals(ModuleOp module) {
  SmallVector<ml_program::GlobalLoadConstOp> loads;
  module.walk(
      [&](ml_program::GlobalLoadConstOp load) { loads.push_back(load); });
  for (ml_program::GlobalLoadConstOp load : loads) {
    auto global = SymbolTable::lookupNearestSymbolFrom<ml_program::GlobalOp>(
        load, load.getGlobal());
    // An external global (#ml_program.extern) has no value to read.
    auto value = global && global.getValue()
                     ? dyn_cast<ElementsAttr>(*global.getValue())
                     : ElementsAttr();
    if (!value || value.getType() != load.getType())
      return load.emitError("the global @")
             << load.getGlobal().getLeafReference().getValue()
             << " has no constant value of type " << load.getType();
    OpBuilder builder(load);
    Value constant = arith::ConstantOp::create(builder, load.getLoc(),
                                               cast<TypedAttr>(value));
    load.replaceAllUsesWith(constant);
    load.erase();
  }
  for (auto global :
       llvm::make_early_inc_range(module.getOps<ml_program::GlobalOp>()))
    if (global.isPrivate() && SymbolTable::symbolKnownUseEmpty(global, module))
      global.erase();
  return success();
}
