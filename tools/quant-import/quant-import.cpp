//===- quant-import.cpp - Import checkpoints as MLIR ----------------------===//
//
// Part of the quant-opt project, under the Apache License v2.0 with LLVM
// Exceptions.
//
//===----------------------------------------------------------------------===//
//
// Writes a model checkpoint as a linalg-on-tensors module whose weights are
// dense_resource blobs named after the checkpoint tensors, ready for
// quant-opt's passes and quant-run.
//
//===----------------------------------------------------------------------===//

#include "quant/Import/GGUFLlama.h"
#include "quant/Import/HuggingFaceCheckpoint.h"
#include "quant/Import/Llama2cCheckpoint.h"
#include "quant/Import/LlamaImporter.h"
#include "quant/InitAll.h"

#include "mlir/Bytecode/BytecodeWriter.h"
#include "mlir/IR/DialectRegistry.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/IR/Verifier.h"
#include "mlir/Support/FileUtilities.h"
#include "llvm/Support/CommandLine.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/Process.h"
#include "llvm/Support/ToolOutputFile.h"
#include "llvm/Support/raw_ostream.h"

using namespace mlir;
using namespace quantopt;

static llvm::cl::OptionCategory category("quant-import options");
static llvm::cl::opt<std::string> hfDirectory(
    "hf",
    llvm::cl::desc("Hugging Face Llama checkpoint directory (config.json + "
                   "model.safetensors)"),
    llvm::cl::init(""), llvm::cl::cat(category));
static llvm::cl::opt<std::string>
    ggufFile("gguf", llvm::cl::desc("llama.cpp GGUF file of a Llama model"),
             llvm::cl::init(""), llvm::cl::cat(category));
static llvm::cl::opt<std::string>
    llama2cFile("llama2c", llvm::cl::desc("llama2.c .bin checkpoint"),
                llvm::cl::init(""), llvm::cl::cat(category));
static llvm::cl::opt<int64_t>
    batch("batch", llvm::cl::desc("sequences per call (default 1)"),
          llvm::cl::init(1), llvm::cl::cat(category));
static llvm::cl::opt<int64_t>
    seqLen("seq-len",
           llvm::cl::desc("tokens per sequence (default: the model's)"),
           llvm::cl::init(0), llvm::cl::cat(category));
static llvm::cl::opt<std::string>
    outputFile("o", llvm::cl::desc("output file (default stdout)"),
               llvm::cl::init("-"), llvm::cl::cat(category));
static llvm::cl::opt<bool> emitText(
    "emit-text",
    llvm::cl::desc("write textual MLIR instead of bytecode (bytecode keeps "
                   "the weights' blobs in their stored type and is read "
                   "without parsing them)"),
    llvm::cl::init(false), llvm::cl::cat(category));

int main(int argc, char **argv) {
  quantopt::registerVersionPrinter();
  llvm::InitLLVM init(argc, argv);
  llvm::cl::HideUnrelatedOptions(category);
  llvm::cl::ParseCommandLineOptions(
      argc, argv,
      "quant-import: write a checkpoint as a linalg-on-tensors MLIR module\n");
  if (int(!llama2cFile.empty()) + int(!hfDirectory.empty()) +
          int(!ggufFile.empty()) !=
      1) {
    llvm::errs() << "quant-import: give --llama2c CHECKPOINT, --hf DIRECTORY "
                    "or --gguf FILE\n";
    return 1;
  }
  DialectRegistry registry;
  registerUpstreamDialects(registry);
  MLIRContext ctx(registry);
  LlamaImportOptions options;
  options.batch = batch;
  options.seqLen = seqLen;
  std::string error;
  OwningOpRef<ModuleOp> module;
  // The checkpoint stays mapped until the module is written.
  std::unique_ptr<Llama2cCheckpoint> llama2c;
  std::unique_ptr<HuggingFaceCheckpoint> hf;
  std::unique_ptr<GGUFLlamaModel> gguf;
  auto openFailed = [](llvm::Error error) {
    llvm::errs() << "quant-import: " << llvm::toString(std::move(error))
                 << "\n";
    return 1;
  };
  llvm::StringRef source;
  if (!llama2cFile.empty()) {
    source = llama2cFile;
    auto opened = Llama2cCheckpoint::open(llama2cFile);
    if (!opened)
      return openFailed(opened.takeError());
    llama2c = std::move(*opened);
    module = importLlama2c(&ctx, *llama2c, options, error);
  } else if (!hfDirectory.empty()) {
    source = hfDirectory;
    auto opened = HuggingFaceCheckpoint::open(hfDirectory);
    if (!opened)
      return openFailed(opened.takeError());
    hf = std::move(*opened);
    module = importHuggingFace(&ctx, *hf, options, error);
  } else {
    source = ggufFile;
    auto opened = GGUFLlamaModel::open(ggufFile);
    if (!opened)
      return openFailed(opened.takeError());
    gguf = std::move(*opened);
    module = importGGUFLlama(&ctx, *gguf, options, error);
  }
  if (!module) {
    llvm::errs() << "quant-import: " << source << ": " << error << "\n";
    return 1;
  }
  if (failed(verify(*module))) {
    llvm::errs()
        << "quant-import: internal error: the module does not verify\n";
    return 1;
  }
  if (!emitText && outputFile == "-" &&
      llvm::sys::Process::StandardOutIsDisplayed()) {
    llvm::errs() << "quant-import: not writing bytecode to a terminal: give "
                    "-o FILE, or --emit-text for textual MLIR\n";
    return 1;
  }
  std::string message;
  auto output = openOutputFile(outputFile, &message);
  if (!output) {
    llvm::errs() << "quant-import: " << message << "\n";
    return 1;
  }
  if (emitText) {
    module->print(output->os());
  } else if (failed(writeBytecodeToFile(*module, output->os()))) {
    llvm::errs() << "quant-import: cannot write bytecode to " << outputFile
                 << "\n";
    return 1;
  }
  output->keep();
  return 0;
}
