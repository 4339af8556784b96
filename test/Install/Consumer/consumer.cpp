// A host compiler embedding the quantization passes: it registers the
// dialects it needs and, when built with QUANT_CONSUMER_WITH_JIT, the
// project's CPU JIT as the module executor; then it runs pass pipelines
// given on the command line on a module and prints the result's products.
//
//   consumer MODULE PIPELINE...   (a pipeline on builtin.module,
//   "quant-rtn{bits=4}")

#include "quant/Dialect/QTensor/IR/QTensorDialect.h"
#include "quant/Dialect/QTensor/IR/QTensorOps.h"
#include "quant/Dialect/QTensor/Transforms/Executor.h"
#include "quant/Dialect/QTensor/Transforms/Passes.h"
#include "quant/Version.h"
#ifdef QUANT_CONSUMER_WITH_JIT
#include "quant/Execution/JitExecutor.h"
#endif

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/MLProgram/IR/MLProgram.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/Parser/Parser.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Pass/PassRegistry.h"
#include "llvm/Support/raw_ostream.h"

using namespace mlir;

int main(int argc, char **argv) {
  if (argc < 3) {
    llvm::errs() << "usage: consumer MODULE PIPELINE...\n";
    return 2;
  }
  qtensor::registerQTensorPasses();
  DialectRegistry registry;
  registry.insert<arith::ArithDialect, func::FuncDialect, linalg::LinalgDialect,
                  math::MathDialect, ml_program::MLProgramDialect,
                  qtensor::QTensorDialect, tensor::TensorDialect>();
#ifdef QUANT_CONSUMER_WITH_JIT
  quantopt::registerCPUJitExecutor(registry);
#endif
  MLIRContext context(registry);
  context.printOpOnDiagnostic(false);
  // Every diagnostic (remarks included), in order with the rest.
  ScopedDiagnosticHandler handler(&context, [](Diagnostic &diag) {
    llvm::outs() << diag.getLocation() << ": " << diag.str() << "\n";
    return success();
  });
  // The executor is attached to the qtensor dialect when it loads.
  context.getOrLoadDialect<qtensor::QTensorDialect>();
  llvm::outs() << "quant-opt " << QUANT_VERSION_STRING << ", executor: "
               << (qtensor::getModuleExecutor(&context) ? "yes" : "none")
               << "\n";
  int status = 0;
  for (int i = 2; i < argc; ++i) {
    OwningOpRef<ModuleOp> module = parseSourceFile<ModuleOp>(argv[1], &context);
    if (!module)
      return 1;
    PassManager pm = PassManager::on<ModuleOp>(&context);
    if (failed(parsePassPipeline(argv[i], pm)))
      return 1;
    bool ok = succeeded(pm.run(*module));
    unsigned quantized = 0;
    module->walk([&](qtensor::DequantMatmulOp) { ++quantized; });
    llvm::outs() << argv[i] << ": " << (ok ? "ok" : "failed") << ", "
                 << quantized << " quantized products\n";
    status |= !ok;
  }
  return status;
}
