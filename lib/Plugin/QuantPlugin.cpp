//===- QuantPlugin.cpp - mlir-opt dialect and pass plugin -----------------===//
//
// Part of the quant-opt project, under the Apache License v2.0 with LLVM
// Exceptions.
//
//===----------------------------------------------------------------------===//
//
// Lets a stock mlir-opt load the qtensor dialect and the quant-opt passes:
//   mlir-opt --load-dialect-plugin=QuantPlugin.so \
//            --load-pass-plugin=QuantPlugin.so --quant-rtn ...
// The dialect plugin also registers the CPU JIT as the module executor, so
// the calibrated passes (--gptq-quantize, --quant-awq, ...) run as they do
// in quant-opt.
//
//===----------------------------------------------------------------------===//

#include "quant/Execution/JitExecutor.h"
#include "quant/InitAll.h"

#include "mlir/IR/DialectRegistry.h"
#include "mlir/Tools/Plugins/DialectPlugin.h"
#include "mlir/Tools/Plugins/PassPlugin.h"
#include "llvm/Config/llvm-config.h"
#include "llvm/Support/Compiler.h"

extern "C" LLVM_ATTRIBUTE_WEAK mlir::DialectPluginLibraryInfo
mlirGetDialectPluginInfo() {
  return {MLIR_PLUGIN_API_VERSION, "QuantDialects", LLVM_VERSION_STRING,
          [](mlir::DialectRegistry *registry) {
            quantopt::registerAllDialects(*registry);
            quantopt::registerCPUJitExecutor(*registry);
          }};
}

extern "C" LLVM_ATTRIBUTE_WEAK mlir::PassPluginLibraryInfo
mlirGetPassPluginInfo() {
  return {MLIR_PLUGIN_API_VERSION, "QuantPasses", LLVM_VERSION_STRING,
          []() { quantopt::registerAllPasses(); }};
}
