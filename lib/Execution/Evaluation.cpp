//===- Evaluation.cpp - Perplexity and KL divergence of models ------------===//
//
// Part of the quant-opt project, under the Apache License v2.0 with LLVM
// Exceptions.
//
//===----------------------------------------------------------------------===//

#include "quant/Execution/Evaluation.h"
#include "quant/Execution/JitExecutor.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/raw_ostream.h"

#include <atomic>
#include <chrono>
#include <cmath>
#include <cstring>
#include <mutex>
#include <thread>

using namespace quantopt;

llvm::Expected<ModelSignature>
quantopt::getModelSignature(mlir::ModuleOp module, llvm::StringRef function) {
  auto func = module.lookupSymbol<mlir::func::FuncOp>(function);
  if (!func)
    return llvm::createStringError(
        ("the module has no function @" + function).str());
  mlir::FunctionType type = func.getFunctionType();
  auto in = type.getNumInputs() == 1
                ? llvm::dyn_cast<mlir::RankedTensorType>(type.getInput(0))
                : nullptr;
  auto out = type.getNumResults() == 1
                 ? llvm::dyn_cast<mlir::RankedTensorType>(type.getResult(0))
                 : nullptr;
  if (!in || !out || in.getRank() != 2 || out.getRank() != 3 ||
      !in.getElementType().isInteger(32) || !out.getElementType().isF32() ||
      !in.hasStaticShape() || !out.hasStaticShape() ||
      in.getDimSize(0) != out.getDimSize(0) ||
      in.getDimSize(1) != out.getDimSize(1))
    return llvm::createStringError(
        ("@" + function +
         " must map tensor<BxSxi32> token ids to tensor<BxSxVxf32> logits "
         "(static shapes)")
            .str());
  ModelSignature sig;
  sig.function = function.str();
  sig.batch = in.getDimSize(0);
  sig.seqLen = in.getDimSize(1);
  sig.vocabSize = out.getDimSize(2);
  return sig;
}

llvm::json::Object EvalResult::toJSON() const {
  llvm::json::Object o{
      {"windows", windows},
      {"tokens", tokens},
      {"mean_nll", meanNll},
      {"perplexity", perplexity},
      {"seconds", seconds},
      {"tokens_per_second", seconds > 0 ? tokens / seconds : 0.0}};
  if (hasReference) {
    o["mean_kld"] = meanKld;
    o["same_top_percent"] = sameTopPercent;
    o["rms_delta_p_percent"] = rmsDeltaPPercent;
  }
  return o;
}

namespace {
/// Per-window sums, combined in window order so results do not depend on
/// thread scheduling.
struct WindowStats {
  double nll = 0, kld = 0, sameTop = 0, deltaPSq = 0;
};

/// log-softmax helpers over one row of logits, in double.
struct Row {
  const float *logits;
  int64_t vocab;
  double logSumExp() const {
    double m = -INFINITY;
    for (int64_t i = 0; i < vocab; ++i)
      m = std::max(m, double(logits[i]));
    double s = 0;
    for (int64_t i = 0; i < vocab; ++i)
      s += std::exp(double(logits[i]) - m);
    return m + std::log(s);
  }
  int64_t argmax() const {
    int64_t best = 0;
    for (int64_t i = 1; i < vocab; ++i)
      if (logits[i] > logits[best])
        best = i;
    return best;
  }
};
} // namespace

llvm::Expected<EvalResult> quantopt::evaluate(ExecutableModule &model,
                                              ExecutableModule *reference,
                                              const ModelSignature &sig,
                                              llvm::ArrayRef<int32_t> ids,
                                              const EvalOptions &options) {
  keepFreedMemoryForRepeatedCalls();
  auto start = std::chrono::steady_clock::now();
  int64_t available = options.maxTokens < 0
                          ? int64_t(ids.size())
                          : std::min<int64_t>(options.maxTokens, ids.size());
  int64_t seq = sig.seqLen, vocab = sig.vocabSize;
  int64_t windows = available > 0 ? (available - 1) / seq : 0;
  if (windows == 0)
    return llvm::createStringError(
        llvm::formatv("{0} token ids are fewer than one window of {1} + 1",
                      available, seq)
            .str());
  int64_t calls = (windows + sig.batch - 1) / sig.batch;
  std::vector<WindowStats> stats(windows);
  std::atomic<int64_t> nextCall{0}, doneCalls{0};
  std::mutex errorMutex;
  std::string firstError;

  auto worker = [&]() {
    HostArray input;
    input.kind = HostArray::Kind::I32;
    input.shape = {sig.batch, seq};
    input.i32.resize(sig.batch * seq);
    while (true) {
      int64_t call = nextCall.fetch_add(1);
      if (call >= calls)
        return;
      {
        std::lock_guard<std::mutex> lock(errorMutex);
        if (!firstError.empty())
          return;
      }
      // Fill the batch; a short last call repeats its last window.
      for (int64_t b = 0; b < sig.batch; ++b) {
        int64_t w = std::min(call * sig.batch + b, windows - 1);
        std::copy_n(ids.begin() + w * seq, seq, input.i32.begin() + b * seq);
      }
      auto logits = model.callSingle(sig.function, {&input});
      llvm::Expected<HostArray> refLogits =
          reference ? reference->callSingle(sig.function, {&input})
                    : llvm::Expected<HostArray>(HostArray());
      if (!logits || !refLogits) {
        std::string message = !logits ? llvm::toString(logits.takeError())
                                      : llvm::toString(refLogits.takeError());
        if (!refLogits)
          llvm::consumeError(refLogits.takeError());
        std::lock_guard<std::mutex> lock(errorMutex);
        firstError = message;
        return;
      }
      for (int64_t b = 0; b < sig.batch; ++b) {
        int64_t w = call * sig.batch + b;
        if (w >= windows)
          break;
        WindowStats &ws = stats[w];
        for (int64_t p = 0; p < seq; ++p) {
          int32_t target = ids[w * seq + p + 1];
          Row row{logits->f32.data() + (b * seq + p) * vocab, vocab};
          double lse = row.logSumExp();
          ws.nll += lse - row.logits[target];
          if (!reference)
            continue;
          Row ref{refLogits->f32.data() + (b * seq + p) * vocab, vocab};
          double refLse = ref.logSumExp();
          double kld = 0;
          for (int64_t v = 0; v < vocab; ++v) {
            double logP = ref.logits[v] - refLse;
            double logQ = row.logits[v] - lse;
            kld += std::exp(logP) * (logP - logQ);
          }
          ws.kld += kld;
          ws.sameTop += row.argmax() == ref.argmax() ? 1 : 0;
          double dp = std::exp(row.logits[target] - lse) -
                      std::exp(ref.logits[target] - refLse);
          ws.deltaPSq += dp * dp;
        }
      }
      int64_t done = doneCalls.fetch_add(1) + 1;
      if (!options.progressLabel.empty() &&
          (done % std::max<int64_t>(1, calls / 20) == 0 || done == calls)) {
        std::lock_guard<std::mutex> lock(errorMutex);
        llvm::errs() << llvm::formatv(
            "\r  {0}: window {1}/{2}", options.progressLabel,
            std::min(done * sig.batch, windows), windows);
        if (done == calls)
          llvm::errs() << "\n";
      }
    }
  };
  unsigned threads = std::max(1u, options.threads);
  std::vector<std::thread> pool;
  for (unsigned t = 1; t < threads; ++t)
    pool.emplace_back(worker);
  worker();
  for (std::thread &t : pool)
    t.join();
  if (!firstError.empty())
    return llvm::createStringError(firstError);

  EvalResult result;
  result.windows = windows;
  result.tokens = windows * seq;
  WindowStats total;
  for (const WindowStats &ws : stats) {
    total.nll += ws.nll;
    total.kld += ws.kld;
    total.sameTop += ws.sameTop;
    total.deltaPSq += ws.deltaPSq;
  }
  double n = double(result.tokens);
  result.meanNll = total.nll / n;
  result.perplexity = std::exp(result.meanNll);
  if (reference) {
    result.hasReference = true;
    result.meanKld = total.kld / n;
    result.sameTopPercent = 100.0 * total.sameTop / n;
    result.rmsDeltaPPercent = 100.0 * std::sqrt(total.deltaPSq / n);
  }
  result.seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
          .count();
  return result;
}

llvm::Expected<std::vector<int32_t>>
quantopt::greedyDecode(ExecutableModule &model, const ModelSignature &sig,
                       std::vector<int32_t> tokens, int64_t steps) {
  keepFreedMemoryForRepeatedCalls();
  if (sig.batch != 1 || sig.seqLen < steps || tokens.empty())
    return llvm::createStringError(
        llvm::formatv("greedy decoding of {0} steps needs a model of batch 1 "
                      "and at least {0} positions (got {1}x{2}) and a prompt",
                      steps, sig.batch, sig.seqLen)
            .str());
  HostArray input;
  input.kind = HostArray::Kind::I32;
  input.shape = {1, sig.seqLen};
  // Causal attention: padding after the current position does not change
  // the logits at it.
  for (int64_t pos = int64_t(tokens.size()) - 1; pos < steps; ++pos) {
    input.i32.assign(sig.seqLen, 0);
    std::copy(tokens.begin(), tokens.end(), input.i32.begin());
    auto logits = model.callSingle(sig.function, {&input});
    if (!logits)
      return logits.takeError();
    Row row{logits->f32.data() + pos * sig.vocabSize, sig.vocabSize};
    int32_t next = int32_t(row.argmax());
    if (next == 1)
      break;
    tokens.push_back(next);
  }
  return tokens;
}
