//===- quant-opt.cpp - The quant-opt driver -------------------------------===//
//
// Part of the quant-opt project, under the Apache License v2.0 with LLVM
// Exceptions.
//
//===----------------------------------------------------------------------===//

#include "quant/Execution/JitExecutor.h"
#include "quant/InitAll.h"
#include "quant/Numerics/BLASKernels.h"

#include "mlir/Bytecode/BytecodeReader.h"
#include "mlir/Bytecode/BytecodeWriter.h"
#include "mlir/Debug/CLOptionsSetup.h"
#include "mlir/IR/AsmState.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/DialectRegistry.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Support/FileUtilities.h"
#include "mlir/Support/Timing.h"
#include "mlir/Tools/ParseUtilities.h"
#include "mlir/Tools/mlir-opt/MlirOptMain.h"
#include "mlir/Transforms/Passes.h"

#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/SourceMgr.h"
#include "llvm/Support/ToolOutputFile.h"

using namespace mlir;

/// Whether `path` names a file that starts with MLIR bytecode's magic.
static bool isBytecodeFile(llvm::StringRef path) {
  if (path == "-")
    return false;
  auto head = llvm::MemoryBuffer::getFileSlice(path, 4, 0);
  return head && isBytecode((*head)->getMemBufferRef());
}

/// Whether the run asks for nothing but parse, passes and print, the part
/// runBytecodeInput does itself.
static bool isPlainRun(const MlirOptMainConfig &config) {
  return !config.shouldVerifyDiagnostics() &&
         config.inputSplitMarker().empty() && !config.shouldShowDialects() &&
         !config.shouldListPasses() && !config.shouldRunReproducer() &&
         !config.shouldVerifyRoundtrip() && !config.shouldDumpPassPipeline() &&
         config.getIrdlFile().empty() &&
         config.getReproducerFilename().empty() &&
         !config.shouldEmitRemarks() && config.getRemarksOutputFile().empty() &&
         config.getDiagnosticVerbosityLevel() ==
             VerbosityLevel::ErrorsWarningsAndRemarks;
}

/// MLIR 22's MlirOptMain scans its whole input for expected-* comments even
/// without --verify-diagnostics, which reads every page of a bytecode model
/// (gigabytes, all resident at once) before parsing it. Bytecode carries no
/// comments, so a plain run on bytecode is parsed, run and printed here:
/// weights stay mapped and are read only when a pass reads them.
static LogicalResult runBytecodeInput(llvm::StringRef inputFilename,
                                      llvm::StringRef outputFilename,
                                      DialectRegistry &registry,
                                      const MlirOptMainConfig &config) {
  std::string error;
  std::unique_ptr<llvm::MemoryBuffer> input =
      openInputFile(inputFilename, &error);
  if (!input) {
    llvm::errs() << error << "\n";
    return failure();
  }
  std::unique_ptr<llvm::ToolOutputFile> output =
      openOutputFile(outputFilename, &error);
  if (!output) {
    llvm::errs() << error << "\n";
    return failure();
  }

  MLIRContext context(registry);
  context.allowUnregisteredDialects(config.shouldAllowUnregisteredDialects());
  tracing::InstallDebugHandler debugHandler(context, config.getDebugConfig());
  auto sourceMgr = std::make_shared<llvm::SourceMgr>();
  sourceMgr->AddNewSourceBuffer(std::move(input), llvm::SMLoc());
  SourceMgrDiagnosticHandler diagnostics(*sourceMgr, &context);

  DefaultTimingManager timingManager;
  applyDefaultTimingManagerCLOptions(timingManager);
  TimingScope timing = timingManager.getRootScope();

  FallbackAsmResourceMap fallbackResources;
  ParserConfig parserConfig(&context, config.shouldVerifyOnParsing(),
                            &fallbackResources);
  TimingScope parserTiming = timing.nest("Parser");
  OwningOpRef<Operation *> op = parseSourceFileForTool(
      sourceMgr, parserConfig, !config.shouldUseExplicitModule());
  parserTiming.stop();
  if (!op)
    return failure();

  PassManager pm(op.get()->getName(), PassManager::Nesting::Implicit);
  pm.enableVerifier(config.shouldVerifyPasses());
  if (failed(applyPassManagerCLOptions(pm)))
    return failure();
  pm.enableTiming(timing);
  if (failed(config.setupPassPipeline(pm)) || failed(pm.run(*op)))
    return failure();

  TimingScope outputTiming = timing.nest("Output");
  if (config.shouldEmitBytecode()) {
    BytecodeWriterConfig writerConfig(fallbackResources);
    if (std::optional<int64_t> version = config.bytecodeVersionToEmit())
      writerConfig.setDesiredBytecodeVersion(*version);
    if (config.shouldElideResourceDataFromBytecode())
      writerConfig.setElideResourceDataFlag();
    if (failed(writeBytecodeToFile(op.get(), output->os(), writerConfig)))
      return failure();
  } else {
    AsmState asmState(op.get(), OpPrintingFlags(), /*locationMap=*/nullptr,
                      &fallbackResources);
    op.get()->print(output->os(), asmState);
    output->os() << '\n';
  }
  output->keep();
  return success();
}

int main(int argc, char **argv) {
  quantopt::numerics::reexecWithNativeBLASKernels(argv);
  quantopt::registerVersionPrinter();
  registerTransformsPasses();
  quantopt::registerAllPasses();
  quantopt::registerFrontendLoweringPasses();
  DialectRegistry registry;
  quantopt::registerAllDialects(registry);
  quantopt::registerUpstreamDialects(registry);
  quantopt::registerCPUJitExecutor(registry);
  auto [inputFilename, outputFilename] = registerAndParseCLIOptions(
      argc, argv, "quant-opt: post-training quantization of LLM model IR\n",
      registry);
  MlirOptMainConfig config = MlirOptMainConfig::createFromCLOptions();
  if (isBytecodeFile(inputFilename) && isPlainRun(config))
    return asMainReturnCode(
        runBytecodeInput(inputFilename, outputFilename, registry, config));
  return asMainReturnCode(
      MlirOptMain(argc, argv, inputFilename, outputFilename, registry));
}
