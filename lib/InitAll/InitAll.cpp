//===- InitAll.cpp - Register quant-opt dialects and passes ---------------===//
//
// Part of the quant-opt project, under the Apache License v2.0 with LLVM
// Exceptions.
//
//===----------------------------------------------------------------------===//

#include "quant/InitAll.h"
#include "quant/Conversion/Passes.h"
#include "quant/Dialect/QTensor/IR/QTensorDialect.h"
#include "quant/Dialect/QTensor/Transforms/Passes.h"
#include "quant/Version.h"

#include "mlir/Conversion/Passes.h"
#include "mlir/Conversion/TosaToArith/TosaToArith.h"
#include "mlir/Conversion/TosaToLinalg/TosaToLinalg.h"
#include "mlir/Conversion/TosaToTensor/TosaToTensor.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/GPU/Transforms/Passes.h"
#include "mlir/Dialect/Linalg/Passes.h"
#include "mlir/Dialect/MLProgram/IR/MLProgram.h"
#include "mlir/Dialect/Quant/IR/Quant.h"
#include "mlir/Dialect/Tosa/IR/TosaOps.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/IR/DialectRegistry.h"
#include "mlir/Parser/Parser.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Pass/PassRegistry.h"
#include "mlir/Support/FileUtilities.h"
#include "llvm/Support/CommandLine.h"
#include "llvm/Support/SourceMgr.h"
#include "llvm/Support/raw_ostream.h"

void quantopt::registerAllDialects(mlir::DialectRegistry &registry) {
  registry.insert<mlir::qtensor::QTensorDialect>();
}

void quantopt::registerUpstreamDialects(mlir::DialectRegistry &registry) {
  using namespace mlir;
  registry.insert<ml_program::MLProgramDialect, mlir::quant::QuantDialect,
                  tosa::TosaDialect, vector::VectorDialect>();
  qtensor::registerLowerToLLVMDialects(registry);
  qtensor::registerLowerToNVVMDialects(registry);
}

void quantopt::registerAllPasses() {
  mlir::qtensor::registerQTensorPasses();
  mlir::qtensor::registerQuantGPTQAlias();
  mlir::qtensor::registerQuantConversionPasses();
  mlir::qtensor::registerLowerToLLVMPipeline();
  mlir::qtensor::registerLowerToNVVMPipeline();
  // The upstream stages of quant-lower-to-nvvm, to run them one by one.
  mlir::registerGPUPasses();
  mlir::registerConvertLinalgToParallelLoopsPass();
  mlir::registerConvertParallelLoopToGpuPass();
  mlir::registerConvertGpuOpsToNVVMOps();
  mlir::registerGpuToLLVMConversionPass();
}

void quantopt::registerFrontendLoweringPasses() {
  // The conversions torch-mlir's TOSA backend applies before handing TOSA
  // to a linalg compiler, in its order.
  mlir::PassPipelineRegistration<>(
      "quant-tosa-to-linalg",
      "Lower TOSA (as torch-mlir's TOSA backend writes it) to linalg on "
      "tensors for the quantization passes: tosa-to-linalg-named, "
      "tosa-to-linalg, tosa-to-arith and tosa-to-tensor on every function",
      [](mlir::OpPassManager &pm) {
        mlir::OpPassManager &funcs = pm.nest<mlir::func::FuncOp>();
        funcs.addPass(mlir::tosa::createTosaToLinalgNamed());
        funcs.addPass(mlir::tosa::createTosaToLinalg());
        funcs.addPass(mlir::createTosaToArithPass());
        funcs.addPass(mlir::createTosaToTensorPass());
      });
  mlir::tosa::registerTosaToLinalgPipelines();
  mlir::registerTosaToLinalg();
  mlir::registerTosaToLinalgNamed();
  mlir::registerTosaToArithPass();
  mlir::registerTosaToTensorPass();
}

void quantopt::registerVersionPrinter() {
  llvm::cl::AddExtraVersionPrinter([](llvm::raw_ostream &os) {
    os << "quant-opt " << QUANT_VERSION_STRING
       << ": post-training quantization of LLMs on MLIR\n";
  });
}

mlir::OwningOpRef<mlir::ModuleOp>
quantopt::parseModuleFile(llvm::StringRef path,
                          const std::shared_ptr<llvm::SourceMgr> &sourceMgr,
                          mlir::MLIRContext *context) {
  std::string error;
  std::unique_ptr<llvm::MemoryBuffer> file = mlir::openInputFile(path, &error);
  if (!file) {
    mlir::emitError(mlir::UnknownLoc::get(context)) << error;
    return nullptr;
  }
  sourceMgr->AddNewSourceBuffer(std::move(file), llvm::SMLoc());
  return mlir::parseSourceFile<mlir::ModuleOp>(sourceMgr,
                                               mlir::ParserConfig(context));
}
