//===- quant-run.cpp - Run and evaluate language-model modules ------------===//
//
// Part of the quant-opt project, under the Apache License v2.0 with LLVM
// Exceptions.
//
//===----------------------------------------------------------------------===//
//
// JIT-compiles a model module (quantized or not) through quant-opt's CPU
// lowering and measures it on a token stream: perplexity over
// non-overlapping windows and, against a reference model, llama.cpp's KL
// divergence statistics. Can also decode greedily.
//
//===----------------------------------------------------------------------===//

#include "quant/Execution/Evaluation.h"
#include "quant/Execution/JitExecutor.h"
#include "quant/Formats/Npy.h"
#include "quant/Import/GGUFLlama.h"
#include "quant/Import/HuggingFaceCheckpoint.h"
#include "quant/Import/Llama2cCheckpoint.h"
#include "quant/Import/Llama2cTokenizer.h"
#include "quant/Import/LlamaImporter.h"
#include "quant/InitAll.h"
#include "quant/Numerics/BLASKernels.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/DialectRegistry.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/Parser/Parser.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Pass/PassRegistry.h"
#include "llvm/Support/CommandLine.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/JSON.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/SourceMgr.h"
#include "llvm/Support/raw_ostream.h"

#include <chrono>
#include <optional>

using namespace mlir;
using namespace quantopt;

static llvm::cl::OptionCategory category("quant-run options");
static llvm::cl::opt<std::string> modelFile(llvm::cl::Positional,
                                            llvm::cl::desc("[model.mlir]"),
                                            llvm::cl::init(""),
                                            llvm::cl::cat(category));
static llvm::cl::opt<std::string> hfDirectory(
    "hf",
    llvm::cl::desc("import a Hugging Face Llama checkpoint directory "
                   "(config.json + model.safetensors)"),
    llvm::cl::init(""), llvm::cl::cat(category));
static llvm::cl::opt<std::string>
    ggufFile("gguf",
             llvm::cl::desc("import a llama.cpp GGUF file of a Llama model"),
             llvm::cl::init(""), llvm::cl::cat(category));
static llvm::cl::opt<std::string> llama2cFile(
    "llama2c",
    llvm::cl::desc(
        "import this llama2.c checkpoint instead of reading a module"),
    llvm::cl::init(""), llvm::cl::cat(category));
static llvm::cl::opt<std::string>
    function("function", llvm::cl::desc("model function (default forward)"),
             llvm::cl::init("forward"), llvm::cl::cat(category));
static llvm::cl::opt<std::string>
    tokensFile("tokens",
               llvm::cl::desc("token ids: raw little-endian int32 or .npy"),
               llvm::cl::init(""), llvm::cl::cat(category));
static llvm::cl::opt<int64_t> window(
    "window",
    llvm::cl::desc("window length when importing (default: the model's)"),
    llvm::cl::init(0), llvm::cl::cat(category));
static llvm::cl::opt<int64_t>
    batch("batch",
          llvm::cl::desc("windows per call when importing (default 1: the "
                         "activations of one window stay in cache)"),
          llvm::cl::init(1), llvm::cl::cat(category));
static llvm::cl::opt<int64_t>
    maxTokens("max-tokens",
              llvm::cl::desc("evaluate only this prefix of the stream"),
              llvm::cl::init(-1), llvm::cl::cat(category));
static llvm::cl::opt<unsigned>
    threads("jobs", llvm::cl::desc("worker threads (default 2)"),
            llvm::cl::init(2), llvm::cl::cat(category));
static llvm::cl::opt<mlir::qtensor::ProductLowering> lowering(
    "lowering",
    llvm::cl::desc("how quantized and f32 matrix products are compiled"),
    llvm::cl::init(mlir::qtensor::ProductLowering::CPUKernels),
    llvm::cl::values(clEnumValN(mlir::qtensor::ProductLowering::CPUKernels,
                                "cpu-kernels",
                                "vectorised CPU kernels (default)"),
                     clEnumValN(mlir::qtensor::ProductLowering::Reference,
                                "reference", "the reference lowering")),
    llvm::cl::cat(category));
static llvm::cl::opt<mlir::qtensor::KernelCompute> compute(
    "compute",
    llvm::cl::desc("how the CPU kernels compute integer-weight products"),
    llvm::cl::init(mlir::qtensor::KernelCompute::F32),
    llvm::cl::values(
        clEnumValN(mlir::qtensor::KernelCompute::F32, "f32",
                   "exact f32 products of the decoded weights (default)"),
        clEnumValN(mlir::qtensor::KernelCompute::Int8, "int8",
                   "int8 activations per row and weight group, AVX-512 "
                   "VNNI dot products (see docs/Numerics.md)")),
    llvm::cl::cat(category));
static llvm::cl::opt<JitDevice>
    device("device", llvm::cl::desc("where the model runs"),
           llvm::cl::init(JitDevice::CPU),
           llvm::cl::values(
               clEnumValN(JitDevice::CPU, "cpu", "this CPU (default)"),
               clEnumValN(JitDevice::CUDA, "cuda",
                          "an NVIDIA GPU through the CUDA driver (kernels from "
                          "quant-lower-to-nvvm, JIT-compiled by the driver; "
                          "QUANT_CUDA_DEVICE picks the GPU)")),
           llvm::cl::cat(category));
static llvm::cl::opt<std::string> gpuOptions(
    "gpu-options",
    llvm::cl::desc("with --device=cuda: options of quant-lower-to-nvvm, "
                   "e.g. 'chip=sm_80'"),
    llvm::cl::init(""), llvm::cl::cat(category));
static llvm::cl::opt<bool> fuseEpilogue(
    "fuse-epilogue",
    llvm::cl::desc("move residual additions and SwiGLU gating into the "
                   "quantized products (default true; results are the same "
                   "bit for bit with the CPU kernels)"),
    llvm::cl::init(true), llvm::cl::cat(category));
static llvm::cl::opt<bool> fuseHorizontal(
    "fuse-horizontal",
    llvm::cl::desc("fuse quantized products that share their input (default "
                   "true; results are the same bit for bit)"),
    llvm::cl::init(true), llvm::cl::cat(category));
static llvm::cl::opt<int64_t> attentionBlockSize(
    "attention-block-size",
    llvm::cl::desc("queries per block of causal attention, which skips the "
                   "masked keys (default 0: the full-window attention)"),
    llvm::cl::init(0), llvm::cl::cat(category));
static llvm::cl::opt<unsigned> kernelThreads(
    "kernel-threads",
    llvm::cl::desc("threads inside each product kernel (default 1; "
                   "evaluation already runs --jobs windows at once)"),
    llvm::cl::init(1), llvm::cl::cat(category));
static llvm::cl::opt<std::string> referenceFile(
    "reference",
    llvm::cl::desc("reference module for KL divergence (same signature)"),
    llvm::cl::init(""), llvm::cl::cat(category));
static llvm::cl::opt<bool> referenceFloat(
    "reference-float",
    llvm::cl::desc(
        "with --llama2c, --hf or --gguf: use the import as the reference "
        "when --pass-pipeline quantizes the model"),
    llvm::cl::init(false), llvm::cl::cat(category));
static llvm::cl::opt<std::string> passPipeline(
    "pass-pipeline",
    llvm::cl::desc("passes to run on the model before compiling it, e.g. "
                   "'quant-rtn{bits=4 group-size=32}'"),
    llvm::cl::init(""), llvm::cl::cat(category));
static llvm::cl::opt<int64_t> generate(
    "generate",
    llvm::cl::desc("decode greedily from BOS for this many steps and print "
                   "the text (needs --tokenizer)"),
    llvm::cl::init(0), llvm::cl::cat(category));
enum class KVCache { None, F32, F16, Int8 };
static llvm::cl::opt<KVCache> kvCache(
    "kv-cache",
    llvm::cl::desc("how --generate and --kv-eval reuse earlier positions"),
    llvm::cl::init(KVCache::F32),
    llvm::cl::values(
        clEnumValN(KVCache::F32, "f32",
                   "key/value cache in f32: each step runs one position "
                   "through the step function of quant-decode-step "
                   "(default)"),
        clEnumValN(KVCache::F16, "f16", "f16 values (rounded to nearest even)"),
        clEnumValN(KVCache::Int8, "int8",
                   "int8 codes with a scale per layer, head and position"),
        clEnumValN(KVCache::None, "none",
                   "no cache: each step runs the whole window")),
    llvm::cl::cat(category));
static llvm::cl::opt<bool> kvEval(
    "kv-eval",
    llvm::cl::desc("measure perplexity through the decode step, one position "
                   "per call against the --kv-cache caches (as generation "
                   "sees the model)"),
    llvm::cl::init(false), llvm::cl::cat(category));
static llvm::cl::opt<std::string>
    tokenizerFile("tokenizer", llvm::cl::desc("llama2.c tokenizer file"),
                  llvm::cl::init(""), llvm::cl::cat(category));
static llvm::cl::opt<std::string> textFile(
    "text",
    llvm::cl::desc("evaluate this UTF-8 text file instead of --tokens: it is "
                   "encoded with --tokenizer, BOS first"),
    llvm::cl::init(""), llvm::cl::cat(category));
static llvm::cl::opt<bool>
    printIds("print-ids",
             llvm::cl::desc("with --text: print the token ids and exit"),
             llvm::cl::init(false), llvm::cl::cat(category));
static llvm::cl::opt<bool> emitJson("json",
                                    llvm::cl::desc("print results as JSON"),
                                    llvm::cl::init(false),
                                    llvm::cl::cat(category));

static int failWith(const llvm::Twine &message) {
  llvm::errs() << "quant-run: " << message << "\n";
  return 1;
}

/// Prints a decoded piece as llama2.c's safe_printf does: single bytes that
/// are neither printable nor whitespace are dropped.
static void printPiece(llvm::raw_ostream &os, const std::string &piece) {
  if (piece.size() == 1) {
    unsigned char c = piece[0];
    if (!(std::isprint(c) || std::isspace(c)))
      return;
  }
  os << piece;
}

int main(int argc, char **argv) {
  quantopt::numerics::reexecWithNativeBLASKernels(argv);
  quantopt::registerVersionPrinter();
  llvm::InitLLVM init(argc, argv);
  llvm::cl::HideUnrelatedOptions(category);
  llvm::cl::ParseCommandLineOptions(
      argc, argv,
      "quant-run: JIT-compile a language model module and measure its "
      "perplexity / KL divergence on token ids\n");
  if (int(!modelFile.empty()) + int(!llama2cFile.empty()) +
          int(!hfDirectory.empty()) + int(!ggufFile.empty()) !=
      1)
    return failWith("give one of: a model .mlir file, --llama2c CHECKPOINT, "
                    "--hf DIRECTORY, --gguf FILE");

  DialectRegistry registry;
  registerAllDialects(registry);
  registerUpstreamDialects(registry);
  quantopt::registerCPUJitExecutor(registry);
  registerAllPasses();
  MLIRContext ctx(registry);
  ctx.loadAllAvailableDialects();

  std::unique_ptr<Llama2cCheckpoint> checkpoint;
  std::unique_ptr<HuggingFaceCheckpoint> hfCheckpoint;
  std::unique_ptr<GGUFLlamaModel> ggufModel;
  OwningOpRef<ModuleOp> module, reference;
  auto sourceMgr = std::make_shared<llvm::SourceMgr>();
  auto referenceSourceMgr = std::make_shared<llvm::SourceMgr>();
  SourceMgrDiagnosticHandler diagHandler(*sourceMgr, &ctx);
  if (!llama2cFile.empty() || !hfDirectory.empty() || !ggufFile.empty()) {
    LlamaImportOptions options;
    options.functionName = function;
    options.batch = generate > 0 ? 1 : batch;
    options.seqLen = generate > 0 ? generate : window;
    std::string error;
    auto import = [&]() -> OwningOpRef<ModuleOp> {
      if (checkpoint)
        return importLlama2c(&ctx, *checkpoint, options, error);
      if (hfCheckpoint)
        return importHuggingFace(&ctx, *hfCheckpoint, options, error);
      return importGGUFLlama(&ctx, *ggufModel, options, error);
    };
    llvm::StringRef source = !llama2cFile.empty()   ? llama2cFile
                             : !hfDirectory.empty() ? hfDirectory
                                                    : ggufFile;
    if (!llama2cFile.empty()) {
      auto opened = Llama2cCheckpoint::open(llama2cFile);
      if (!opened)
        return failWith(llvm::toString(opened.takeError()));
      checkpoint = std::move(*opened);
    } else if (!hfDirectory.empty()) {
      auto opened = HuggingFaceCheckpoint::open(hfDirectory);
      if (!opened)
        return failWith(llvm::toString(opened.takeError()));
      hfCheckpoint = std::move(*opened);
    } else {
      auto opened = GGUFLlamaModel::open(ggufFile);
      if (!opened)
        return failWith(llvm::toString(opened.takeError()));
      ggufModel = std::move(*opened);
    }
    module = import();
    if (!module)
      return failWith(source + ": " + error);
    if (referenceFloat)
      reference = import();
  } else {
    module = quantopt::parseModuleFile(modelFile, sourceMgr, &ctx);
    if (!module)
      return failWith("cannot parse " + modelFile);
  }
  if (!referenceFile.empty()) {
    reference =
        quantopt::parseModuleFile(referenceFile, referenceSourceMgr, &ctx);
    if (!reference)
      return failWith("cannot parse " + referenceFile);
  }
  if (!passPipeline.empty()) {
    PassManager pm(&ctx);
    if (failed(parsePassPipeline(passPipeline, pm, llvm::errs())))
      return failWith("invalid --pass-pipeline '" + passPipeline + "'");
    if (failed(pm.run(*module)))
      return failWith("--pass-pipeline failed");
  }
  auto signature = getModelSignature(*module, function);
  if (!signature)
    return failWith(llvm::toString(signature.takeError()));
  // Cached generation runs the step function alone; derived here unless the
  // module has one already.
  std::string stepName = function + "_step";
  // The step reads its position on the host, which the GPU lowering
  // refuses; GPU generation recomputes the window.
  if (device == JitDevice::CUDA && kvCache != KVCache::None &&
      (generate > 0 || kvEval)) {
    if (kvCache.getNumOccurrences() || kvEval)
      return failWith("the key/value cache runs on the CPU only so far "
                      "(--device=cpu, or --kv-cache=none on the GPU)");
    llvm::errs() << "quant-run: no key/value cache on the GPU yet; each step "
                    "runs the whole window\n";
    kvCache = KVCache::None;
  }
  if (kvEval && kvCache == KVCache::None)
    return failWith("--kv-eval needs a cache (--kv-cache=f32, f16 or int8)");
  if ((generate > 0 || kvEval) && kvCache != KVCache::None) {
    if (!module->lookupSymbol(stepName)) {
      PassManager pm(&ctx);
      std::string cacheType = kvCache == KVCache::Int8  ? "int8"
                              : kvCache == KVCache::F16 ? "f16"
                                                        : "f32";
      if (failed(parsePassPipeline("quant-decode-step{function=" + function +
                                       " cache-type=" + cacheType + "}",
                                   pm, llvm::errs())) ||
          failed(pm.run(*module)))
        return failWith("cannot derive the decode step of @" + function +
                        " (--kv-cache=none decodes without it)");
    }
    if (auto forward = module->lookupSymbol<func::FuncOp>(function))
      forward.erase();
  }

  if (kernelThreads == 0)
    return failWith("--kernel-threads must be at least 1, got 0");
  if (threads == 0)
    return failWith("--jobs must be at least 1, got 0");
  JitOptions jitOptions;
  jitOptions.products = lowering;
  jitOptions.threads = kernelThreads;
  jitOptions.compute = compute;
  jitOptions.fuseEpilogue = fuseEpilogue;
  jitOptions.fuseHorizontal = fuseHorizontal;
  if (attentionBlockSize < 0)
    return failWith("--attention-block-size must be at least 0");
  jitOptions.attentionBlockSize = attentionBlockSize;
  jitOptions.device = device;
  jitOptions.nvvmOptions = gpuOptions;
  auto compiled = JitModule::compile(*module, jitOptions);
  if (!compiled)
    return failWith("JIT compilation failed: " +
                    llvm::toString(compiled.takeError()));

  if (generate > 0) {
    if (tokenizerFile.empty())
      return failWith("--generate needs --tokenizer");
    auto tokenizer =
        Llama2cTokenizer::open(tokenizerFile, int32_t(signature->vocabSize));
    if (!tokenizer)
      return failWith(llvm::toString(tokenizer.takeError()));
    std::string entry = kvCache == KVCache::None ? function : stepName;
    if (llvm::Error error = (*compiled)->materialize(entry))
      return failWith(llvm::toString(std::move(error)));
    auto start = std::chrono::steady_clock::now();
    DecodeTimings timings;
    llvm::Expected<std::vector<int32_t>> tokens = std::vector<int32_t>();
    if (kvCache == KVCache::None) {
      tokens = greedyDecode(**compiled, *signature, {Llama2cTokenizer::kBos},
                            generate);
    } else {
      auto step = getStepSignature(*module, stepName);
      if (!step)
        return failWith(llvm::toString(step.takeError()));
      tokens = cachedGreedyDecode(**compiled, *step, {Llama2cTokenizer::kBos},
                                  generate, &timings);
    }
    if (!tokens)
      return failWith(llvm::toString(tokens.takeError()));
    double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
            .count();
    int64_t generated = int64_t(tokens->size()) - 1;
    llvm::errs() << llvm::formatv(
        "generated {0} tokens in {1:f2} s ({2:f1} tokens/s)\n", generated,
        seconds, seconds > 0 ? double(generated) / seconds : 0.0);
    // Whether the cost of a step stays flat: mean time of the ten steps
    // before step 20 and before the last.
    auto meanBefore = [&](size_t end) {
      double sum = 0;
      for (size_t i = end - 10; i < end; ++i)
        sum += timings.stepSeconds[i];
      return sum / 10 * 1e3;
    };
    size_t done = timings.stepSeconds.size();
    if (done >= 40)
      llvm::errs() << llvm::formatv(
          "  per token: {0:f3} ms at step 20, {1:f3} ms at step {2}\n",
          meanBefore(20), meanBefore(done), done);
    if (emitJson) {
      llvm::json::Object report{{"generated", generated},
                                {"seconds", seconds},
                                {"kv_cache", kvCache == KVCache::None   ? "none"
                                             : kvCache == KVCache::Int8 ? "int8"
                                             : kvCache == KVCache::F16
                                                 ? "f16"
                                                 : "f32"}};
      llvm::json::Array ids;
      for (int32_t id : *tokens)
        ids.push_back(id);
      report["ids"] = std::move(ids);
      if (done >= 40) {
        report["ms_per_token_step20"] = meanBefore(20);
        report["ms_per_token_last"] = meanBefore(done);
      }
      llvm::outs() << llvm::formatv("{0:2}",
                                    llvm::json::Value(std::move(report)))
                   << "\n";
      return 0;
    }
    for (size_t i = 1; i < tokens->size(); ++i)
      printPiece(llvm::outs(),
                 (*tokenizer)->decode((*tokens)[i - 1], (*tokens)[i]));
    llvm::outs() << "\n";
    return 0;
  }

  if (tokensFile.empty() == textFile.empty())
    return failWith("give --tokens FILE or --text FILE (or --generate N)");
  llvm::Expected<std::vector<int32_t>> ids = std::vector<int32_t>();
  if (!textFile.empty()) {
    if (tokenizerFile.empty())
      return failWith("--text needs --tokenizer");
    auto tokenizer =
        Llama2cTokenizer::open(tokenizerFile, int32_t(signature->vocabSize));
    if (!tokenizer)
      return failWith(llvm::toString(tokenizer.takeError()));
    auto text = llvm::MemoryBuffer::getFile(textFile);
    if (!text)
      return failWith(textFile + ": cannot open: " + text.getError().message());
    *ids = (*tokenizer)
               ->encode((*text)->getBuffer(), /*bos=*/true,
                        /*eos=*/false);
    if (printIds) {
      llvm::interleave(*ids, llvm::outs(), " ");
      llvm::outs() << "\n";
      return 0;
    }
  } else {
    ids = loadTokenIds(tokensFile, int32_t(signature->vocabSize));
    if (!ids)
      return failWith(llvm::toString(ids.takeError()));
  }
  EvalOptions options;
  options.maxTokens = maxTokens;
  options.threads = threads;
  options.progressLabel = emitJson ? "" : "evaluating";
  std::optional<StepSignature> step;
  if (kvEval) {
    if (reference)
      return failWith("--kv-eval measures perplexity only (no --reference)");
    auto found = getStepSignature(*module, stepName);
    if (!found)
      return failWith(llvm::toString(found.takeError()));
    step = *found;
  }
  std::unique_ptr<JitModule> referenceCompiled;
  if (reference) {
    auto refSignature = getModelSignature(*reference, function);
    if (!refSignature)
      return failWith("reference: " + llvm::toString(refSignature.takeError()));
    if (refSignature->batch != signature->batch ||
        refSignature->seqLen != signature->seqLen ||
        refSignature->vocabSize != signature->vocabSize)
      return failWith("the reference module's signature differs from the "
                      "model's");
    auto ref = JitModule::compile(*reference, jitOptions);
    if (!ref)
      return failWith("JIT compilation of the reference failed: " +
                      llvm::toString(ref.takeError()));
    referenceCompiled = std::move(*ref);
  }
  auto result = step ? evaluateCached(**compiled, *step, *ids, options)
                     : evaluate(**compiled, referenceCompiled.get(), *signature,
                                *ids, options);
  if (!result)
    return failWith(llvm::toString(result.takeError()));
  if (emitJson) {
    llvm::outs() << llvm::formatv("{0:2}", llvm::json::Value(result->toJSON()))
                 << "\n";
    return 0;
  }
  llvm::outs() << llvm::formatv(
      "windows {0} x {1} tokens ({2} scored)\nperplexity {3:f4}  (mean NLL "
      "{4:f4} nats/token)\n",
      result->windows, signature->seqLen, result->tokens, result->perplexity,
      result->meanNll);
  if (result->hasReference)
    llvm::outs() << llvm::formatv(
        "mean KLD {0:f6}  same top token {1:f2}%  RMS dp {2:f3}%\n",
        result->meanKld, result->sameTopPercent, result->rmsDeltaPPercent);
  llvm::outs() << llvm::formatv(
      "time {0:f1} s ({1:f0} tokens/s)\n", result->seconds,
      result->seconds > 0 ? double(result->tokens) / result->seconds : 0.0);
  return 0;
}
