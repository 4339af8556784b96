//===- quant-export.cpp - Write quantized weights as checkpoints ----------===//
//
// Part of the quant-opt project, under the Apache License v2.0 with LLVM
// Exceptions.
//
//===----------------------------------------------------------------------===//
//
// Exports the constant quantized weights of a module's
// qtensor.dequant_matmul ops:
//   --format=autogptq  AutoGPTQ "gptq" (v1) checkpoint tensors
//                      (quant/Export/AutoGPTQExport.h).
//   --format=unpacked  codes, scales, zero-points and group index unpacked,
//                      for inspection.
//   --format=gguf      the whole Llama model as a llama.cpp GGUF v3 file
//                      (quant/Export/GGUFExport.h): float weights as F32,
//                      qtensor.ggml_matmul weights as their ggml blocks;
//                      --tokenizer adds a llama2.c vocabulary.
// --list prints the tensors of a safetensors file, or the metadata and the
// tensors of a GGUF file with a checksum of each tensor's bytes.
//
//===----------------------------------------------------------------------===//

#include "quant/Export/AutoGPTQExport.h"
#include "quant/Export/GGUFExport.h"
#include "quant/Formats/GGUF.h"
#include "quant/Formats/Safetensors.h"
#include "quant/Import/Llama2cTokenizer.h"
#include "quant/Import/LlamaImporter.h"
#include "quant/InitAll.h"
#include "quant/Numerics/GGMLTypes.h"

#include "mlir/IR/DialectRegistry.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/Parser/Parser.h"
#include "llvm/Support/CommandLine.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/SourceMgr.h"
#include "llvm/Support/raw_ostream.h"
#include "llvm/Support/xxhash.h"

using namespace mlir;
using namespace quantopt;
namespace num = quantopt::numerics;

static llvm::cl::OptionCategory category("quant-export options");
static llvm::cl::opt<std::string> inputFile(llvm::cl::Positional,
                                            llvm::cl::desc("<module.mlir>"),
                                            llvm::cl::init(""),
                                            llvm::cl::cat(category));
static llvm::cl::opt<std::string>
    format("format", llvm::cl::desc("autogptq, unpacked or gguf"),
           llvm::cl::init("autogptq"), llvm::cl::cat(category));
static llvm::cl::opt<std::string>
    outputFile("o", llvm::cl::desc("output .safetensors or .gguf file"),
               llvm::cl::init(""), llvm::cl::cat(category));
static llvm::cl::opt<bool>
    list("list",
         llvm::cl::desc("print the tensors of the safetensors or GGUF file "
                        "given as the positional argument"),
         llvm::cl::init(false), llvm::cl::cat(category));
static llvm::cl::opt<std::string> tokenizerFile(
    "tokenizer",
    llvm::cl::desc("with --format=gguf: llama2.c tokenizer to include"),
    llvm::cl::init(""), llvm::cl::cat(category));
static llvm::cl::opt<std::string> modelName(
    "name",
    llvm::cl::desc("with --format=gguf: general.name (default: the module "
                   "file's name without extension)"),
    llvm::cl::init(""), llvm::cl::cat(category));

static int fail(const llvm::Twine &message) {
  llvm::errs() << "quant-export: " << message << "\n";
  return 1;
}

/// A metadata value as text; long arrays are summarised.
static std::string describeValue(const GGUFValue &value) {
  std::string text;
  llvm::raw_string_ostream os(text);
  std::visit(
      [&](const auto &v) {
        using T = std::decay_t<decltype(v)>;
        if constexpr (std::is_same_v<T, std::string>) {
          os << '"' << v << '"';
        } else if constexpr (std::is_same_v<T, uint8_t> ||
                             std::is_same_v<T, int8_t>) {
          os << int(v);
        } else if constexpr (std::is_same_v<T, bool>) {
          os << (v ? "true" : "false");
        } else if constexpr (std::is_arithmetic_v<T>) {
          os << v;
        } else {
          os << "[" << v.size() << " elements]";
        }
      },
      value.getStorage());
  return text;
}

/// Metadata, then per tensor its type, ggml-order shape and an xxh3 of its
/// bytes, so that two files can be compared tensor by tensor.
static int listGGUF() {
  auto file = GGUFFile::read(inputFile);
  if (!file)
    return fail(llvm::toString(file.takeError()));
  for (const GGUFKeyValue &kv : file->getMetadata())
    llvm::outs() << kv.key << " " << kv.value.getTypeName() << " "
                 << describeValue(kv.value) << "\n";
  for (const GGUFTensorInfo &tensor : file->getTensors()) {
    llvm::outs() << tensor.name << " "
                 << num::getGGMLTypeTraits(tensor.type).name << " [";
    llvm::interleaveComma(tensor.shape, llvm::outs());
    llvm::outs() << llvm::formatv(
        "] {0:x16}\n", llvm::xxh3_64bits(file->getTensorData(tensor)));
  }
  return 0;
}

static int listFile() {
  if (llvm::StringRef(inputFile).ends_with(".gguf"))
    return listGGUF();
  auto file = readSafetensors(inputFile);
  if (!file)
    return fail(llvm::toString(file.takeError()));
  for (const auto &[name, t] : *file) {
    llvm::outs() << name << " " << t.dtype << " [";
    llvm::interleaveComma(t.shape, llvm::outs());
    llvm::outs() << "]\n";
  }
  return 0;
}

static int exportGGUF(ModuleOp module) {
  GGUFExportOptions options;
  options.modelName = modelName.empty() ? llvm::sys::path::stem(inputFile).str()
                                        : modelName.getValue();
  std::unique_ptr<Llama2cTokenizer> tokenizer;
  if (!tokenizerFile.empty()) {
    auto config = getLlamaConfigAttr(module);
    if (!config)
      return fail(inputFile + ": " + llvm::toString(config.takeError()));
    auto opened =
        Llama2cTokenizer::open(tokenizerFile, int32_t(config->vocabSize));
    if (!opened)
      return fail(llvm::toString(opened.takeError()));
    tokenizer = std::move(*opened);
    options.tokenizer = tokenizer.get();
  }
  if (llvm::Error err = exportGGUFLlama(module, outputFile, options))
    return fail(inputFile + ": " + llvm::toString(std::move(err)));
  return 0;
}

int main(int argc, char **argv) {
  quantopt::registerVersionPrinter();
  llvm::InitLLVM init(argc, argv);
  llvm::cl::HideUnrelatedOptions(category);
  llvm::cl::ParseCommandLineOptions(
      argc, argv,
      "quant-export: write the quantized weights of a module as a "
      "safetensors checkpoint (AutoGPTQ or unpacked), or the model as GGUF\n");
  if (inputFile.empty())
    return fail("give a module (or, with --list, a safetensors file)");
  if (list)
    return listFile();
  if (outputFile.empty())
    return fail("give the output file with -o");
  if (format != "autogptq" && format != "unpacked" && format != "gguf")
    return fail("unknown --format '" + format +
                "'; expected autogptq, unpacked or gguf");
  DialectRegistry registry;
  quantopt::registerAllDialects(registry);
  quantopt::registerUpstreamDialects(registry);
  MLIRContext ctx(registry);
  auto sourceMgr = std::make_shared<llvm::SourceMgr>();
  SourceMgrDiagnosticHandler handler(*sourceMgr, &ctx);
  OwningOpRef<ModuleOp> module =
      quantopt::parseModuleFile(inputFile, sourceMgr, &ctx);
  if (!module)
    return fail("cannot parse " + inputFile);
  if (format == "gguf")
    return exportGGUF(*module);

  if (llvm::Error err = exportQuantizedWeights(
          *module, outputFile,
          format == "unpacked" ? WeightExportFormat::Unpacked
                               : WeightExportFormat::AutoGPTQ))
    return fail(inputFile + ": " + llvm::toString(std::move(err)));
  return 0;
}
