//===- MergeGPUModules.cpp - One gpu.module for all kernels ---------------===//
//
// Part of the quant-opt project, under the Apache License v2.0 with LLVM
// Exceptions.
//
//===----------------------------------------------------------------------===//

#include "quant/Conversion/Passes.h"

#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/SymbolTable.h"
#include "llvm/ADT/StringMap.h"

namespace mlir {
namespace qtensor {
#define GEN_PASS_DEF_MERGEGPUMODULESPASS
#include "quant/Conversion/Passes.h.inc"
} // namespace qtensor
} // namespace mlir

using namespace mlir;

namespace {

/// `kernel` printed without its name: equal strings are equal kernels.
std::string printWithoutName(gpu::GPUFuncOp kernel) {
  std::string text;
  llvm::raw_string_ostream os(text);
  OpPrintingFlags flags;
  flags.printGenericOpForm().useLocalScope();
  std::string name = kernel.getName().str();
  kernel.setName("");
  kernel->print(os, flags);
  kernel.setName(name);
  return text;
}

struct MergeGPUModulesPass
    : qtensor::impl::MergeGPUModulesPassBase<MergeGPUModulesPass> {
  using Base::Base;
  void runOnOperation() override;
};

void MergeGPUModulesPass::runOnOperation() {
  ModuleOp module = getOperation();
  SmallVector<gpu::GPUModuleOp> modules;
  for (auto gpuModule : module.getOps<gpu::GPUModuleOp>())
    if (!gpuModule.getTargetsAttr())
      modules.push_back(gpuModule);
  if (modules.empty())
    return;
  if (module.lookupSymbol(moduleName) &&
      module.lookupSymbol(moduleName) != modules.front()) {
    module.emitError() << "quant-merge-gpu-modules: the module already has a "
                          "symbol named @"
                       << moduleName;
    return signalPassFailure();
  }

  gpu::GPUModuleOp merged = modules.front();
  SymbolTable mergedSymbols(merged);
  // Old kernel reference -> new one.
  DenseMap<Attribute, SymbolRefAttr> renamed;
  auto newName = [&](StringRef kernel) {
    return SymbolRefAttr::get(&getContext(), moduleName,
                              FlatSymbolRefAttr::get(&getContext(), kernel));
  };
  // Printed body -> the kernel that has it.
  llvm::StringMap<std::string> kernelsByBody;
  for (gpu::GPUModuleOp gpuModule : modules) {
    StringRef oldModule = gpuModule.getName();
    for (Operation &op :
         llvm::make_early_inc_range(gpuModule.getBody()->getOperations())) {
      auto kernel = dyn_cast<gpu::GPUFuncOp>(op);
      if (kernel) {
        auto oldRef = SymbolRefAttr::get(
            &getContext(), oldModule,
            FlatSymbolRefAttr::get(&getContext(), kernel.getName()));
        // Outlining gives every launch site a kernel, identical ones
        // included (each layer's products of one shape): keep one.
        auto [existing, isNew] = kernelsByBody.try_emplace(
            printWithoutName(kernel), oldModule.str());
        if (!isNew && gpuModule != merged) {
          renamed[oldRef] = newName(existing->second);
          kernel.erase();
          continue;
        }
        // Outlining named each module after its only kernel's launch site.
        std::string unique = oldModule.str();
        if (gpuModule != merged || kernel.getName() != unique) {
          if (gpuModule == merged)
            mergedSymbols.remove(kernel);
          kernel.setName(unique);
        }
        renamed[oldRef] = newName(unique);
        if (gpuModule == merged) {
          if (!mergedSymbols.lookup(unique))
            mergedSymbols.insert(kernel);
          continue;
        }
        kernel->moveBefore(merged.getBody(), merged.getBody()->end());
        mergedSymbols.insert(kernel);
        continue;
      }
      if (gpuModule == merged)
        continue;
      // Globals copied into several modules by outlining are identical.
      auto symbol = dyn_cast<SymbolOpInterface>(op);
      if (symbol && mergedSymbols.lookup(symbol.getName())) {
        op.erase();
        continue;
      }
      op.moveBefore(merged.getBody(), merged.getBody()->end());
      if (symbol)
        mergedSymbols.insert(&op);
    }
    if (gpuModule != merged)
      gpuModule.erase();
  }
  merged.setName(moduleName);
  module.walk([&](gpu::LaunchFuncOp launch) {
    auto it = renamed.find(launch.getKernel());
    if (it != renamed.end())
      launch.setKernelAttr(it->second);
  });
}

} // namespace
