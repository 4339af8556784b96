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

#include "mlir/Dialect/MLProgram/IR/MLProgram.h"
#include "mlir/Dialect/Quant/IR/Quant.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/IR/DialectRegistry.h"

void quantopt::registerAllDialects(mlir::DialectRegistry &registry) {
  registry.insert<mlir::qtensor::QTensorDialect>();
}

void quantopt::registerUpstreamDialects(mlir::DialectRegistry &registry) {
  using namespace mlir;
  registry.insert<ml_program::MLProgramDialect, mlir::quant::QuantDialect,
                  vector::VectorDialect>();
  qtensor::registerLowerToLLVMDialects(registry);
}

void quantopt::registerAllPasses() {
  mlir::qtensor::registerQTensorPasses();
  mlir::qtensor::registerQuantGPTQAlias();
  mlir::qtensor::registerQuantConversionPasses();
  mlir::qtensor::registerLowerToLLVMPipeline();
}
