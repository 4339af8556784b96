//===- quant-bench-model.cpp - A Llama with a 7B model's layer shapes -----===//
//
// Part of the quant-opt project, under the Apache License v2.0 with LLVM
// Exceptions.
//
//===----------------------------------------------------------------------===//
//
// Imports a synthetic Llama whose layers have the shapes of a 7B model
// (hidden 4096, intermediate 11008, 32 heads; 1 or 2 layers, a small
// vocabulary), with random weights from a fixed seed, quantizes it with each
// of the given pass pipelines, compiles it with the CPU kernels and times
// a prefill window (tokens/s) and generation with the key/value cache of
// quant-decode-step: a prompt run one position per step, then new tokens
// (tokens/s, and the time of a step early and late, which says whether the
// cost per token stays flat). Not a test: nothing is asserted.
//
//===----------------------------------------------------------------------===//

#include "SplitMix.h"
#include "quant/Dialect/QTensor/IR/QTensorDialect.h"
#include "quant/Execution/Evaluation.h"
#include "quant/Execution/JitExecutor.h"
#include "quant/Import/LlamaImporter.h"
#include "quant/InitAll.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Pass/PassRegistry.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/CommandLine.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/raw_ostream.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <map>

using namespace quantopt;

namespace cl = llvm::cl;

static cl::opt<int64_t> numLayers("layers", cl::desc("decoder layers"),
                                  cl::init(1));
static cl::opt<int64_t> dim("dim", cl::desc("model width"), cl::init(4096));
static cl::opt<int64_t> hiddenDim("hidden", cl::desc("feed-forward width"),
                                  cl::init(11008));
static cl::opt<int64_t> numHeads("heads", cl::desc("attention heads"),
                                 cl::init(32));
static cl::opt<int64_t>
    vocab("vocab",
          cl::desc("vocabulary (small: the layers are what is measured)"),
          cl::init(4096));
static cl::opt<int64_t> window("window", cl::desc("prefill window"),
                               cl::init(128));
static cl::opt<int64_t> prompt("prompt",
                               cl::desc("positions run before generating"),
                               cl::init(128));
static cl::opt<int64_t> generated("generate",
                                  cl::desc("tokens generated after the prompt"),
                                  cl::init(128));
static cl::list<std::string>
    pipelines("pipeline",
              cl::desc("pass pipeline to quantize with (repeatable; 'none': "
                       "the f32 model); default: none, quant-rtn int4 g32, "
                       "quant-gguf Q4_0 and Q4_K_M"));
static cl::opt<unsigned>
    kernelThreads("kernel-threads",
                  cl::desc("threads inside each product kernel"), cl::init(2));
static cl::opt<bool>
    compareFusion("compare-fusion",
                  cl::desc("also time each quantized pipeline without fusion "
                           "(fuse-epilogue=false fuse-horizontal=false)"),
                  cl::init(true));
static cl::opt<bool>
    int8Compute("int8", cl::desc("also time compute=int8 (needs avx512vnni)"),
                cl::init(true));
static cl::opt<double> seconds("seconds",
                               cl::desc("time per measurement (minimum of "
                                        "repeated calls)"),
                               cl::init(3.0));

namespace {

/// The bytes one call of a function moves by its IR: every linalg and
/// qtensor op reads each statically shaped tensor operand (constants are
/// weights; a destination only when the op reads it) and writes each
/// result; views, empty tensors and constants move nothing. Kernels'
/// scratch buffers and the attention over the cache (whose size follows
/// the position) are left out.
struct Traffic {
  double weightBytes = 0, activationBytes = 0;
};

Traffic estimateTraffic(mlir::func::FuncOp func) {
  Traffic traffic;
  auto bytes = [](mlir::Value value) -> double {
    auto type = llvm::dyn_cast<mlir::RankedTensorType>(value.getType());
    if (!type || !type.hasStaticShape())
      return 0;
    return double(type.getNumElements()) *
           double(type.getElementTypeBitWidth()) / 8;
  };
  for (mlir::Operation &op : func.getBody().getOps()) {
    auto linalgOp = llvm::dyn_cast<mlir::linalg::LinalgOp>(op);
    if (!linalgOp && !llvm::isa<mlir::qtensor::QTensorDialect>(op.getDialect()))
      continue;
    for (mlir::OpOperand &operand : op.getOpOperands()) {
      if (linalgOp && linalgOp.isDpsInit(&operand) &&
          !linalgOp.payloadUsesValueFromOperand(&operand))
        continue;
      if (operand.get().getDefiningOp<mlir::arith::ConstantOp>())
        traffic.weightBytes += bytes(operand.get());
      else
        traffic.activationBytes += bytes(operand.get());
    }
    for (mlir::Value result : op.getResults())
      traffic.activationBytes += bytes(result);
  }
  return traffic;
}

/// Weights from a fixed seed: uniform with standard deviation 0.02 (norms:
/// 1), generated by splitmix64, which is fast enough for billions of values.
class SyntheticWeights {
public:
  const LlamaWeight *get(llvm::StringRef name, std::vector<int64_t> shape,
                         bool norm) {
    auto [it, inserted] = weights.try_emplace(name.str());
    Entry &entry = it->second;
    if (inserted) {
      int64_t count = 1;
      for (int64_t d : shape)
        count *= d;
      entry.values.resize(count);
      float bound = 0.02f * std::sqrt(3.0f);
      for (float &v : entry.values)
        v = norm ? 1.0f : bound * (2.0f * next() - 1.0f);
      entry.weight.name = name.str();
      entry.weight.shape = std::move(shape);
      entry.weight.data = entry.values;
    }
    return &entry.weight;
  }

private:
  struct Entry {
    std::vector<float> values;
    LlamaWeight weight;
  };
  std::map<std::string, Entry> weights;
  SplitMix random;
  float next() { return random.next(); }
};

double nowSeconds() {
  return std::chrono::duration<double>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

/// The best time of repeated calls of `function` on `tokens`.
llvm::Expected<double> timeForward(JitModule &module, llvm::StringRef function,
                                   const HostArray &tokens) {
  double best = 1e30, start = nowSeconds();
  int calls = 0;
  while (calls < 2 || (nowSeconds() - start < seconds && calls < 50)) {
    double t0 = nowSeconds();
    auto result = module.callSingle(function, {&tokens});
    if (!result)
      return result.takeError();
    best = std::min(best, nowSeconds() - t0);
    ++calls;
  }
  return best;
}

} // namespace

int main(int argc, char **argv) {
  cl::ParseCommandLineOptions(
      argc, argv,
      "quant-bench-model: a synthetic Llama with a 7B model's layer shapes, "
      "quantized and timed\n");
  keepFreedMemoryForRepeatedCalls();
  auto fail = [](const llvm::Twine &message) {
    llvm::errs() << "quant-bench-model: " << message << "\n";
    return 1;
  };
  if (numLayers < 1 || dim < 1 || hiddenDim < 1 || numHeads < 1 || vocab < 2 ||
      window < 1 || dim % numHeads != 0 || kernelThreads == 0 || prompt < 1 ||
      generated < 1)
    return fail("invalid shape or thread options");
  std::vector<std::string> runs(pipelines.begin(), pipelines.end());
  if (runs.empty())
    runs = {"none", "quant-rtn{bits=4 group-size=32}", "quant-gguf{mix=Q4_0}",
            "quant-gguf{mix=Q4_K_M}"};

  mlir::DialectRegistry registry;
  registerAllDialects(registry);
  registerUpstreamDialects(registry);
  registerCPUJitExecutor(registry);
  registerAllPasses();
  mlir::MLIRContext ctx(registry);
  ctx.loadAllAvailableDialects();

  LlamaConfig config;
  config.dim = dim;
  config.hiddenDim = hiddenDim;
  config.numLayers = numLayers;
  config.numHeads = config.numKVHeads = numHeads;
  config.vocabSize = vocab;
  config.maxSeqLen = std::max<int64_t>(window, prompt + generated);
  LlamaWeightNames names =
      LlamaWeightNames::get(LlamaNaming::Llama2c, numLayers, false);
  SyntheticWeights weights;
  std::map<std::string, std::pair<std::vector<int64_t>, bool>> shapes;
  shapes[names.tokenEmbedding] = {{vocab, dim}, false};
  shapes[names.finalNorm] = {{dim}, true};
  shapes[names.classifier] = {{vocab, dim}, false};
  for (int64_t l = 0; l < numLayers; ++l) {
    shapes[names.attnNorm[l]] = {{dim}, true};
    shapes[names.ffnNorm[l]] = {{dim}, true};
    for (const std::string *w :
         {&names.wq[l], &names.wk[l], &names.wv[l], &names.wo[l]})
      shapes[*w] = {{dim, dim}, false};
    shapes[names.w1[l]] = {{hiddenDim, dim}, false};
    shapes[names.w3[l]] = {{hiddenDim, dim}, false};
    shapes[names.w2[l]] = {{dim, hiddenDim}, false};
  }
  auto lookup = [&](llvm::StringRef name) -> const LlamaWeight * {
    auto it = shapes.find(name.str());
    if (it == shapes.end())
      return nullptr;
    return weights.get(name, it->second.first, it->second.second);
  };
  int64_t params = 0;
  for (auto &[name, shape] : shapes) {
    int64_t count = 1;
    for (int64_t d : shape.first)
      count *= d;
    params += count;
  }
  llvm::errs() << llvm::formatv(
      "model: {0} layers, dim {1}, hidden {2}, {3} heads, vocab {4}: {5:f1}M "
      "parameters; prefill window {6}\n",
      numLayers, dim, hiddenDim, numHeads, vocab, double(params) / 1e6, window);

  std::vector<mlir::qtensor::KernelCompute> computes{
      mlir::qtensor::KernelCompute::F32};
  if (int8Compute)
    computes.push_back(mlir::qtensor::KernelCompute::Int8);
  llvm::outs() << llvm::formatv(
      "{0,-36} {1,-5} {2,-5} {3,10} {4,12} {5,14} {6,13} {7,12} {8,11} "
      "{9,11} {10,10} {11,10}\n",
      "pipeline", "comp", "fuse", "compile s", "prefill ms", "prefill tok/s",
      "decode tok/s", "median tok/s", "ms/tok @20", "ms/tok last", "weight MB",
      "act KB");
  int64_t positions = prompt + generated;
  for (const std::string &pipeline : runs) {
    std::vector<std::pair<mlir::qtensor::KernelCompute, bool>> variants;
    for (mlir::qtensor::KernelCompute compute : computes)
      for (bool fuse : {true, false})
        variants.emplace_back(compute, fuse);
    for (auto [compute, fuse] : variants) {
      bool int8 = compute == mlir::qtensor::KernelCompute::Int8;
      if (int8 && pipeline == "none")
        continue;
      if (!fuse && (pipeline == "none" || !compareFusion))
        continue;
      double prefillSeconds = 0, compileSeconds = 0;
      DecodeTimings decode;
      Traffic traffic;
      // The prefill window's forward, then a module of prompt + generated
      // positions whose decode step generates.
      for (bool decoding : {false, true}) {
        LlamaImportOptions options;
        options.seqLen = decoding ? positions : int64_t(window);
        std::string error;
        double t0 = nowSeconds();
        auto module = importLlama(&ctx, config, names, lookup, options, error);
        if (!module)
          return fail("import: " + error);
        std::string passes = pipeline == "none" ? "" : pipeline;
        if (decoding)
          passes +=
              std::string(passes.empty() ? "" : ",") + "quant-decode-step";
        if (!passes.empty()) {
          mlir::PassManager pm(&ctx);
          if (failed(mlir::parsePassPipeline(passes, pm, llvm::errs())))
            return fail("invalid pipeline '" + pipeline + "'");
          if (failed(pm.run(*module)))
            return fail("pipeline '" + passes + "' failed");
        }
        // The step alone is compiled for decoding.
        if (decoding) {
          module->lookupSymbol<mlir::func::FuncOp>(options.functionName)
              .erase();
          // What the step moves as the lowering's fusion passes leave it.
          mlir::OwningOpRef<mlir::ModuleOp> fused = module->clone();
          if (fuse) {
            mlir::PassManager pm(&ctx);
            if (failed(mlir::parsePassPipeline(
                    "quant-fuse-epilogue,quant-fuse-horizontal", pm,
                    llvm::errs())) ||
                failed(pm.run(*fused)))
              return fail("fusion passes failed");
          }
          traffic = estimateTraffic(fused->lookupSymbol<mlir::func::FuncOp>(
              options.functionName + "_step"));
        }
        JitOptions jitOptions;
        jitOptions.threads = kernelThreads;
        jitOptions.compute = compute;
        jitOptions.fuseHorizontal = fuse;
        jitOptions.fuseEpilogue = fuse;
        auto compiled = JitModule::compile(*module, jitOptions);
        if (!compiled)
          return fail(llvm::toString(compiled.takeError()));
        if (!decoding) {
          compileSeconds = nowSeconds() - t0;
          HostArray tokens;
          tokens.kind = HostArray::Kind::I32;
          tokens.shape = {1, window};
          for (int64_t i = 0; i < window; ++i)
            tokens.i32.push_back(int32_t((i * 7919 + 1) % vocab));
          auto best = timeForward(**compiled, options.functionName, tokens);
          if (!best)
            return fail(llvm::toString(best.takeError()));
          prefillSeconds = *best;
          continue;
        }
        std::string stepName = options.functionName + "_step";
        if (llvm::Error error = (*compiled)->materialize(stepName))
          return fail(llvm::toString(std::move(error)));
        auto step = getStepSignature(*module, stepName);
        if (!step)
          return fail(llvm::toString(step.takeError()));
        std::vector<int32_t> promptIds;
        for (int64_t i = 0; i < prompt; ++i)
          promptIds.push_back(int32_t((i * 7919 + 1) % vocab));
        auto tokens = cachedGreedyDecode(**compiled, *step, promptIds,
                                         positions, &decode, /*stopToken=*/-1);
        if (!tokens)
          return fail(llvm::toString(tokens.takeError()));
      }
      // Steps from the prompt's last position on produce the new tokens.
      llvm::ArrayRef<double> steps = decode.stepSeconds;
      steps = steps.drop_front(prompt - 1).take_front(generated);
      double decodeSeconds = 0;
      for (double t : steps)
        decodeSeconds += t;
      // The median step resists this VM's stalls better than the total.
      std::vector<double> sorted(steps.begin(), steps.end());
      std::sort(sorted.begin(), sorted.end());
      double medianSeconds = sorted.empty() ? 0 : sorted[sorted.size() / 2];
      auto meanAround = [&](size_t end) {
        size_t begin = end >= 10 ? end - 10 : 0;
        double sum = 0;
        for (size_t i = begin; i < end; ++i)
          sum += decode.stepSeconds[i];
        return sum / double(end - begin) * 1e3;
      };
      llvm::outs() << llvm::formatv(
          "{0,-36} {1,-5} {2,-5} {3,10:f1} {4,12:f1} {5,14:f1} {6,13:f1} "
          "{7,12:f1} {8,11:f2} {9,11:f2} {10,10:f1} {11,10:f1}\n",
          pipeline, int8 ? "int8" : "f32", fuse ? "on" : "off", compileSeconds,
          prefillSeconds * 1e3, double(window) / prefillSeconds,
          double(steps.size()) / decodeSeconds,
          medianSeconds > 0 ? 1.0 / medianSeconds : 0.0,
          meanAround(std::min<size_t>(20, decode.stepSeconds.size())),
          meanAround(decode.stepSeconds.size()), traffic.weightBytes / 1e6,
          traffic.activationBytes / 1e3);
      llvm::outs().flush();
    }
  }
  llvm::outs() << llvm::formatv(
      "prefill: one forward over the window; decode: {0} tokens generated "
      "after a {1}-token prompt with the key/value cache (one position per "
      "step; median tok/s: 1 / the median step); weight MB / act KB: what a "
      "decode step reads of weights and moves of activations by its IR, "
      "after the fusion passes when fusion is on; ms/tok: mean step time of "
      "the "
      "ten steps before step 20 and "
      "before the last; compile s: import, passes and JIT of the window's "
      "module\n",
      generated, prompt);
  return 0;
}
