//===- UploadGPUConstants.cpp - Device copies of constant globals --------===//
//
// Part of the quant-opt project, under the Apache License v2.0 with LLVM
// Exceptions.
//
//===----------------------------------------------------------------------===//

#include "quant/Conversion/Passes.h"

#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/Interfaces/DataLayoutInterfaces.h"
#include "llvm/ADT/MapVector.h"

namespace mlir {
namespace qtensor {
#define GEN_PASS_DEF_UPLOADGPUCONSTANTSPASS
#include "quant/Conversion/Passes.h.inc"
} // namespace qtensor
} // namespace mlir

using namespace mlir;

namespace {

constexpr StringLiteral kDeviceConstantFn = "quantGpuDeviceConstant";
constexpr StringLiteral kReleaseFn = "quantGpuReleaseDeviceConstant";

/// Declares `name` in `module` unless it exists.
static LLVM::LLVMFuncOp declareFunction(OpBuilder &builder, ModuleOp module,
                                        StringRef name,
                                        LLVM::LLVMFunctionType type) {
  if (auto existing = module.lookupSymbol<LLVM::LLVMFuncOp>(name))
    return existing;
  OpBuilder::InsertionGuard guard(builder);
  builder.setInsertionPointToEnd(module.getBody());
  return LLVM::LLVMFuncOp::create(builder, module.getLoc(), name, type);
}

struct UploadGPUConstantsPass
    : qtensor::impl::UploadGPUConstantsPassBase<UploadGPUConstantsPass> {
  void runOnOperation() override;
};

void UploadGPUConstantsPass::runOnOperation() {
  ModuleOp module = getOperation();
  auto names = module->getAttrOfType<ArrayAttr>("qtensor.gpu_constants");
  if (!names)
    return;
  module->removeAttr("qtensor.gpu_constants");
  MLIRContext *ctx = &getContext();
  OpBuilder builder(ctx);
  auto ptrType = LLVM::LLVMPointerType::get(ctx);
  auto i64Type = IntegerType::get(ctx, 64);
  auto voidType = LLVM::LLVMVoidType::get(ctx);
  const DataLayout &layout = DataLayout::closest(module);

  // Globals to upload, with the slot that will hold each device copy.
  llvm::MapVector<StringRef, LLVM::GlobalOp> slots;
  for (Attribute name : names) {
    auto symbol = dyn_cast<FlatSymbolRefAttr>(name);
    if (!symbol)
      continue;
    auto global = module.lookupSymbol<LLVM::GlobalOp>(symbol.getAttr());
    if (!global || !global.getConstant()) {
      module.emitError() << "qtensor.gpu_constants names @" << symbol.getValue()
                         << ", which is not a constant LLVM global";
      return signalPassFailure();
    }
    builder.setInsertionPointAfter(global);
    std::string slotName = ("__quant_gpu_copy_of_" + symbol.getValue()).str();
    auto slot = LLVM::GlobalOp::create(builder, global.getLoc(), ptrType,
                                       /*isConstant=*/false,
                                       LLVM::Linkage::Internal, slotName,
                                       /*value=*/Attribute());
    Block *init = builder.createBlock(&slot.getInitializerRegion());
    builder.setInsertionPointToStart(init);
    Value null = LLVM::ZeroOp::create(builder, global.getLoc(), ptrType);
    LLVM::ReturnOp::create(builder, global.getLoc(), null);
    slots[symbol.getValue()] = slot;
  }
  if (slots.empty())
    return;

  LLVM::LLVMFuncOp deviceConstantFn = declareFunction(
      builder, module, kDeviceConstantFn,
      LLVM::LLVMFunctionType::get(ptrType, {ptrType, ptrType, i64Type}));
  LLVM::LLVMFuncOp releaseFn =
      declareFunction(builder, module, kReleaseFn,
                      LLVM::LLVMFunctionType::get(voidType, {ptrType}));

  // Host code only: kernels live in gpu.binary ops by now.
  SmallVector<LLVM::AddressOfOp> addresses;
  for (auto func : module.getOps<LLVM::LLVMFuncOp>())
    func.walk([&](LLVM::AddressOfOp address) {
      if (slots.count(address.getGlobalName()))
        addresses.push_back(address);
    });
  for (LLVM::AddressOfOp address : addresses) {
    auto global = module.lookupSymbol<LLVM::GlobalOp>(address.getGlobalName());
    int64_t bytes = layout.getTypeSize(global.getGlobalType());
    Location loc = address.getLoc();
    builder.setInsertionPointAfter(address);
    Value slot =
        LLVM::AddressOfOp::create(builder, loc, slots[address.getGlobalName()]);
    Value size = LLVM::ConstantOp::create(builder, loc, i64Type,
                                          builder.getI64IntegerAttr(bytes));
    auto call =
        LLVM::CallOp::create(builder, loc, deviceConstantFn,
                             ValueRange{slot, address.getResult(), size});
    address.getResult().replaceAllUsesExcept(call.getResult(), call);
  }

  // Free the device copies when the module goes away.
  builder.setInsertionPointToEnd(module.getBody());
  auto release = LLVM::LLVMFuncOp::create(
      builder, module.getLoc(), "__quant_gpu_release_constants",
      LLVM::LLVMFunctionType::get(voidType, {}), LLVM::Linkage::Internal);
  builder.setInsertionPointToStart(release.addEntryBlock(builder));
  for (auto &[name, slot] : slots) {
    Value address = LLVM::AddressOfOp::create(builder, module.getLoc(), slot);
    LLVM::CallOp::create(builder, module.getLoc(), releaseFn,
                         ValueRange{address});
  }
  LLVM::ReturnOp::create(builder, module.getLoc(), ValueRange());
  builder.setInsertionPointToEnd(module.getBody());
  LLVM::GlobalDtorsOp::create(
      builder, module.getLoc(),
      builder.getArrayAttr(FlatSymbolRefAttr::get(release.getSymNameAttr())),
      builder.getI32ArrayAttr({65535}),
      builder.getArrayAttr(LLVM::ZeroAttr::get(ctx)));
}

} // namespace
