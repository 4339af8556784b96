//===- PlaceBuffersOnGPU.cpp - Device memory for mapped functions --------===//
//
// Part of the quant-opt project, under the Apache License v2.0 with LLVM
// Exceptions.
//
//===----------------------------------------------------------------------===//

#include "quant/Conversion/Passes.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/GPU/Utils/GPUUtils.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/SymbolTable.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"
#include "mlir/Interfaces/ViewLikeInterface.h"
#include "llvm/ADT/SetVector.h"

namespace mlir {
namespace qtensor {
#define GEN_PASS_DEF_PLACEBUFFERSONGPUPASS
#include "quant/Conversion/Passes.h.inc"
} // namespace qtensor
} // namespace mlir

using namespace mlir;

namespace {

/// The buffer that `value` is a view of (through view-like ops).
static Value getRootBuffer(Value value) {
  while (Operation *def = value.getDefiningOp()) {
    auto view = dyn_cast<ViewLikeOpInterface>(def);
    if (!view || view.getViewSource() == value)
      break;
    value = view.getViewSource();
  }
  return value;
}

/// Bytes of a statically shaped memref of byte-multiple elements, or -1.
static int64_t getStaticBytes(MemRefType type) {
  if (!type.hasStaticShape())
    return -1;
  unsigned bits = type.getElementTypeBitWidth();
  if (bits % 8 != 0)
    return -1;
  return type.getNumElements() * (bits / 8);
}

/// Dynamic sizes of a buffer like `like`, read with memref.dim.
static SmallVector<Value> getDynamicSizes(OpBuilder &builder, Location loc,
                                          Value like) {
  SmallVector<Value> sizes;
  auto type = cast<MemRefType>(like.getType());
  for (auto [dim, size] : llvm::enumerate(type.getShape()))
    if (ShapedType::isDynamic(size))
      sizes.push_back(memref::DimOp::create(builder, loc, like, dim));
  return sizes;
}

struct PlaceBuffersOnGPUPass
    : qtensor::impl::PlaceBuffersOnGPUPassBase<PlaceBuffersOnGPUPass> {
  using Base::Base;

  void runOnOperation() override;

private:
  LogicalResult checkNothingOnHost(func::FuncOp func);
  LogicalResult placeBuffers(func::FuncOp func,
                             SymbolTableCollection &symbolTables);
  bool isSmallConstant(memref::GetGlobalOp getGlobal,
                       SymbolTableCollection &symbolTables);
};

/// An op outside every kernel may compute addresses and sizes and allocate
/// or free buffers, but not read or write their elements: that work was
/// meant to become a kernel and did not.
LogicalResult PlaceBuffersOnGPUPass::checkNothingOnHost(func::FuncOp func) {
  WalkResult result = func.walk<WalkOrder::PreOrder>([&](Operation *op) {
    if (isa<gpu::LaunchOp>(op))
      return WalkResult::skip();
    auto fail = [&](StringRef what) {
      op->emitError() << what
                      << " outside any GPU kernel: quant-lower-to-nvvm "
                         "maps no such code to the GPU";
      return WalkResult::interrupt();
    };
    if (isa<scf::ParallelOp>(op))
      return fail("a parallel loop stays");
    if (auto call = dyn_cast<func::CallOp>(op)) {
      if (llvm::any_of(call.getOperandTypes(), llvm::IsaPred<MemRefType>))
        return fail("a call that passes buffers stays");
      return WalkResult::advance();
    }
    auto effects = dyn_cast<MemoryEffectOpInterface>(op);
    if (!effects) {
      // Ops with regions (scf.for, scf.if) are checked through their
      // bodies; any other op of unknown effects that takes a buffer is not
      // known to leave its elements alone.
      if (op->getNumRegions() == 0 && !op->hasTrait<OpTrait::IsTerminator>() &&
          llvm::any_of(op->getOperandTypes(), llvm::IsaPred<MemRefType>))
        return fail("an op of unknown memory effects on a buffer stays");
      return WalkResult::advance();
    }
    SmallVector<MemoryEffects::EffectInstance> instances;
    effects.getEffects(instances);
    for (const MemoryEffects::EffectInstance &effect : instances) {
      if (!isa<MemoryEffects::Read, MemoryEffects::Write>(effect.getEffect()))
        continue;
      Value buffer = effect.getValue();
      // Small host scratch (buffer deallocation's ownership flags).
      if (buffer && getRootBuffer(buffer).getDefiningOp<memref::AllocaOp>())
        continue;
      return fail(isa<MemoryEffects::Read>(effect.getEffect())
                      ? "a read of a buffer stays"
                      : "a write to a buffer stays");
    }
    return WalkResult::advance();
  });
  return failure(result.wasInterrupted());
}

bool PlaceBuffersOnGPUPass::isSmallConstant(
    memref::GetGlobalOp getGlobal, SymbolTableCollection &symbolTables) {
  auto global = symbolTables.lookupNearestSymbolFrom<memref::GlobalOp>(
      getGlobal, getGlobal.getNameAttr());
  if (!global || !global.getConstant())
    return false;
  int64_t bytes = getStaticBytes(global.getType());
  return bytes >= 0 && bytes <= maxKernelConstantBytes;
}

LogicalResult
PlaceBuffersOnGPUPass::placeBuffers(func::FuncOp func,
                                    SymbolTableCollection &symbolTables) {
  OpBuilder builder(func.getContext());
  SmallVector<memref::AllocOp> allocs;
  SmallVector<memref::DeallocOp> deallocs;
  func.walk<WalkOrder::PreOrder>([&](Operation *op) {
    if (isa<gpu::LaunchOp>(op))
      return WalkResult::skip();
    if (auto alloc = dyn_cast<memref::AllocOp>(op))
      allocs.push_back(alloc);
    else if (auto dealloc = dyn_cast<memref::DeallocOp>(op))
      deallocs.push_back(dealloc);
    return WalkResult::advance();
  });
  for (memref::AllocOp alloc : allocs) {
    builder.setInsertionPoint(alloc);
    auto device = gpu::AllocOp::create(
        builder, alloc.getLoc(), alloc.getType(), /*asyncToken=*/Type(),
        /*asyncDependencies=*/ValueRange(), alloc.getDynamicSizes(),
        alloc.getSymbolOperands(), /*hostShared=*/nullptr);
    alloc.replaceAllUsesWith(device.getMemref());
    alloc.erase();
  }
  for (memref::DeallocOp dealloc : deallocs) {
    builder.setInsertionPoint(dealloc);
    gpu::DeallocOp::create(builder, dealloc.getLoc(), /*asyncToken=*/Type(),
                           ValueRange(), dealloc.getMemref());
    dealloc.erase();
  }

  // Small constant tables go into the kernels that read them.
  func.walk([&](gpu::LaunchOp launch) {
    (void)sinkOperationsIntoLaunchOp(launch, [&](Operation *op) {
      auto getGlobal = dyn_cast<memref::GetGlobalOp>(op);
      return getGlobal && isSmallConstant(getGlobal, symbolTables);
    });
  });
  // Host copies of what was sunk, now unused.
  SmallVector<memref::GetGlobalOp> unused;
  func.walk([&](memref::GetGlobalOp getGlobal) {
    if (getGlobal->use_empty() && !getGlobal->getParentOfType<gpu::LaunchOp>())
      unused.push_back(getGlobal);
  });
  for (memref::GetGlobalOp getGlobal : unused)
    getGlobal.erase();

  if (!func.isPublic())
    return success();
  // The caller's buffers are host memory: copy them in on entry and the
  // results out before returning.
  Block &entry = func.front();
  builder.setInsertionPointToStart(&entry);
  llvm::SetVector<Value> deviceCopiesOfArguments;
  bool argumentsOnDevice = func->hasAttr("qtensor.gpu_device_arguments");
  for (BlockArgument argument : entry.getArguments()) {
    auto type = dyn_cast<MemRefType>(argument.getType());
    if (!type || argument.use_empty() || argumentsOnDevice)
      continue;
    if (!type.getLayout().isIdentity())
      return func.emitError() << "argument #" << argument.getArgNumber()
                              << " has a strided layout (" << type
                              << "): quant-lower-to-nvvm copies only "
                                 "contiguous buffers to the GPU";
    Location loc = argument.getLoc();
    SmallVector<Value> sizes = getDynamicSizes(builder, loc, argument);
    auto device = gpu::AllocOp::create(builder, loc, type, Type(), ValueRange(),
                                       sizes, ValueRange(), nullptr);
    auto copy = gpu::MemcpyOp::create(builder, loc, Type(), ValueRange(),
                                      device.getMemref(), argument);
    // The host buffer stays the source of the copy and of its sizes.
    SmallPtrSet<Operation *, 4> keep{copy, device};
    for (Value size : sizes)
      keep.insert(size.getDefiningOp());
    argument.replaceAllUsesExcept(device.getMemref(), keep);
    deviceCopiesOfArguments.insert(device.getMemref());
  }
  WalkResult returns = func.walk([&](func::ReturnOp ret) {
    builder.setInsertionPoint(ret);
    llvm::SetVector<Value> freed(deviceCopiesOfArguments.begin(),
                                 deviceCopiesOfArguments.end());
    for (OpOperand &operand : ret->getOpOperands()) {
      auto type = dyn_cast<MemRefType>(operand.get().getType());
      if (!type)
        continue;
      if (!type.getLayout().isIdentity()) {
        ret.emitError() << "result #" << operand.getOperandNumber()
                        << " has a strided layout (" << type
                        << "): quant-lower-to-nvvm copies only contiguous "
                           "buffers back from the GPU";
        return WalkResult::interrupt();
      }
      Location loc = ret.getLoc();
      auto host = memref::AllocOp::create(
          builder, loc, type, getDynamicSizes(builder, loc, operand.get()),
          builder.getI64IntegerAttr(64));
      gpu::MemcpyOp::create(builder, loc, Type(), ValueRange(), host,
                            operand.get());
      Value root = getRootBuffer(operand.get());
      if (root.getDefiningOp<gpu::AllocOp>())
        freed.insert(root);
      operand.set(host);
    }
    for (Value buffer : freed)
      gpu::DeallocOp::create(builder, ret.getLoc(), Type(), ValueRange(),
                             buffer);
    return WalkResult::advance();
  });
  return failure(returns.wasInterrupted());
}

void PlaceBuffersOnGPUPass::runOnOperation() {
  ModuleOp module = getOperation();
  SymbolTableCollection symbolTables;
  SmallVector<func::FuncOp> funcs;
  for (auto func : module.getOps<func::FuncOp>())
    if (!func.isExternal())
      funcs.push_back(func);
  for (func::FuncOp func : funcs)
    if (failed(checkNothingOnHost(func)) ||
        failed(placeBuffers(func, symbolTables)))
      return signalPassFailure();

  // Constants that host code still reads the address of are the ones
  // kernels receive as arguments: they need device copies.
  llvm::SetVector<Attribute> deviceConstants;
  bool usesMutableGlobal = false;
  if (auto existing = module->getAttrOfType<ArrayAttr>("qtensor.gpu_constants"))
    deviceConstants.insert(existing.begin(), existing.end());
  for (func::FuncOp func : funcs) {
    func.walk<WalkOrder::PreOrder>([&](Operation *op) {
      if (isa<gpu::LaunchOp>(op))
        return WalkResult::skip();
      if (auto getGlobal = dyn_cast<memref::GetGlobalOp>(op)) {
        auto global = symbolTables.lookupNearestSymbolFrom<memref::GlobalOp>(
            getGlobal, getGlobal.getNameAttr());
        if (global && global.getConstant()) {
          deviceConstants.insert(getGlobal.getNameAttr());
        } else if (!getGlobal->use_empty()) {
          getGlobal.emitError()
              << "@" << getGlobal.getName()
              << " is a mutable global: its host memory cannot be passed to "
                 "GPU kernels";
          usesMutableGlobal = true;
        }
      }
      return WalkResult::advance();
    });
  }
  if (usesMutableGlobal)
    return signalPassFailure();
  if (!deviceConstants.empty())
    module->setAttr(
        "qtensor.gpu_constants",
        ArrayAttr::get(&getContext(), deviceConstants.getArrayRef()));
}

} // namespace
