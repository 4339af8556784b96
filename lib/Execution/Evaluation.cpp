//===- Evaluation.cpp - Perplexity and KL divergence of models ------------===//
//
// Part of the quant-opt project, under the Apache License v2.0 with LLVM
// Exceptions.
//
//===----------------------------------------------------------------------===//

#include "quant/Execution/Evaluation.h"
#include "quant/Execution/JitExecutor.h"
#include "quant/Numerics/Numerics.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/raw_ostream.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstring>
#include <functional>
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

/// "label: window done/total" on stderr (nothing without a label), under
/// `mutex`; the last one ends the line.
static void reportProgress(const std::string &label, int64_t done,
                           int64_t total, std::mutex &mutex) {
  if (label.empty())
    return;
  std::lock_guard<std::mutex> lock(mutex);
  llvm::errs() << llvm::formatv("\r  {0}: window {1}/{2}", label, done, total);
  if (done == total)
    llvm::errs() << "\n";
}

/// How many windows of `seq` positions (and one more target) the first
/// ids of the stream hold.
static llvm::Expected<int64_t> countWindows(llvm::ArrayRef<int32_t> ids,
                                            const EvalOptions &options,
                                            int64_t seq) {
  int64_t available = options.maxTokens < 0
                          ? int64_t(ids.size())
                          : std::min<int64_t>(options.maxTokens, ids.size());
  int64_t windows = available > 0 ? (available - 1) / seq : 0;
  if (windows == 0)
    return llvm::createStringError(
        llvm::formatv("{0} token ids are fewer than one window of {1} + 1",
                      available, seq)
            .str());
  return windows;
}

/// Runs `worker` on `threads` threads (at least one: this one).
static void runWorkers(unsigned threads, const std::function<void()> &worker) {
  std::vector<std::thread> pool;
  for (unsigned t = 1; t < std::max(1u, threads); ++t)
    pool.emplace_back(worker);
  worker();
  for (std::thread &t : pool)
    t.join();
}

llvm::Expected<EvalResult> quantopt::evaluate(ExecutableModule &model,
                                              ExecutableModule *reference,
                                              const ModelSignature &sig,
                                              llvm::ArrayRef<int32_t> ids,
                                              const EvalOptions &options) {
  keepFreedMemoryForRepeatedCalls();
  auto start = std::chrono::steady_clock::now();
  int64_t seq = sig.seqLen, vocab = sig.vocabSize;
  auto counted = countWindows(ids, options, seq);
  if (!counted)
    return counted.takeError();
  int64_t windows = *counted;
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
      if (done % std::max<int64_t>(1, calls / 20) == 0 || done == calls)
        reportProgress(options.progressLabel,
                       std::min(done * sig.batch, windows), windows,
                       errorMutex);
    }
  };
  runWorkers(options.threads, worker);
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

llvm::Expected<StepSignature>
quantopt::getStepSignature(mlir::ModuleOp module, llvm::StringRef function) {
  auto func = module.lookupSymbol<mlir::func::FuncOp>(function);
  if (!func)
    return llvm::createStringError(
        ("the module has no function @" + function).str());
  mlir::FunctionType type = func.getFunctionType();
  auto ranked = [](mlir::Type t, unsigned rank,
                   bool isF32) -> mlir::RankedTensorType {
    auto r = llvm::dyn_cast<mlir::RankedTensorType>(t);
    if (!r || r.getRank() != rank || !r.hasStaticShape() ||
        (isF32 ? !r.getElementType().isF32()
               : !r.getElementType().isInteger(32)))
      return nullptr;
    return r;
  };
  auto error = llvm::createStringError(
      ("@" + function +
       " is not a decode step: (tensor<BxTxi32>, tensor<1xi32>, "
       "tensor<LxBxHxDxCxf32> x 2) or (..., tensor<LxBxHxDxCxi8> x 2, "
       "tensor<LxBxHxCxf32> x 2) -> (tensor<BxTxVxf32>, "
       "tensor<LxBxHxDxTxf32> x 2)")
          .str());
  if ((type.getNumInputs() != 4 && type.getNumInputs() != 6) ||
      type.getNumResults() != 3)
    return error;
  bool int8Cache = type.getNumInputs() == 6;
  auto tokens = ranked(type.getInput(0), 2, false);
  auto position = ranked(type.getInput(1), 1, false);
  auto keys = llvm::dyn_cast<mlir::RankedTensorType>(type.getInput(2));
  bool f16Cache = keys && keys.getElementType().isF16();
  if (keys && (keys.getRank() != 5 || !keys.hasStaticShape() ||
               (int8Cache ? !keys.getElementType().isInteger(8)
                          : !keys.getElementType().isF32() && !f16Cache)))
    keys = nullptr;
  if (keys && int8Cache) {
    auto scales = ranked(type.getInput(4), 4, true);
    if (!scales || type.getInput(5) != scales ||
        scales.getShape().take_front(3) != keys.getShape().take_front(3) ||
        scales.getDimSize(3) != keys.getDimSize(4))
      return error;
  }
  auto logits = ranked(type.getResult(0), 3, true);
  auto newKeys = ranked(type.getResult(1), 5, true);
  if (!tokens || !position || position.getDimSize(0) != 1 || !keys ||
      type.getInput(3) != keys || !logits || !newKeys ||
      type.getResult(2) != newKeys ||
      logits.getShape().take_front(2) != tokens.getShape() ||
      keys.getShape().drop_back() != newKeys.getShape().drop_back() ||
      newKeys.getDimSize(4) != tokens.getDimSize(1) ||
      keys.getDimSize(1) != tokens.getDimSize(0))
    return error;
  StepSignature sig;
  sig.function = function.str();
  sig.batch = tokens.getDimSize(0);
  sig.tokens = tokens.getDimSize(1);
  sig.vocabSize = logits.getDimSize(2);
  sig.cacheShape.assign(keys.getShape().begin(), keys.getShape().end());
  sig.int8Cache = int8Cache;
  sig.f16Cache = f16Cache;
  return sig;
}

namespace {
/// The key/value caches of a decode step, on the host.
class HostKVCache {
public:
  explicit HostKVCache(const StepSignature &sig)
      : int8(sig.int8Cache), f16(sig.f16Cache), capacity(sig.capacity()),
        headDim(sig.cacheShape[3]) {
    for (HostArray *cache : {&keys, &values}) {
      cache->kind = int8  ? HostArray::Kind::I8
                    : f16 ? HostArray::Kind::F16
                          : HostArray::Kind::F32;
      cache->shape = sig.cacheShape;
    }
    groups = keys.numElements() / (headDim * capacity);
    for (HostArray *scales : {&keyScales, &valueScales})
      scales->shape = {sig.cacheShape[0], sig.cacheShape[1], sig.cacheShape[2],
                       capacity};
    reset();
  }

  void reset() {
    for (HostArray *cache : {&keys, &values}) {
      if (int8)
        cache->i8.assign(cache->numElements(), 0);
      else if (f16)
        cache->halves.assign(cache->numElements(), 0);
      else
        cache->f32.assign(cache->numElements(), 0.0f);
    }
    if (int8)
      for (HostArray *scales : {&keyScales, &valueScales})
        scales->f32.assign(scales->numElements(), 0.0f);
  }

  /// The step's cache arguments.
  std::vector<const HostArray *> arguments() const {
    if (int8)
      return {&keys, &values, &keyScales, &valueScales};
    return {&keys, &values};
  }

  /// Stores the new keys and values [L, B, Hkv, D, T] of a step that ran
  /// at `position`; positions past the cache are dropped.
  void write(const HostArray &newKeys, const HostArray &newValues,
             int64_t position) {
    write(keys, keyScales, newKeys, position);
    write(values, valueScales, newValues, position);
  }

private:
  bool int8, f16;
  int64_t capacity, headDim, groups = 0;
  HostArray keys, values, keyScales, valueScales;

  void write(HostArray &cache, HostArray &scales, const HostArray &fresh,
             int64_t position) {
    int64_t tokens = fresh.shape.back();
    for (int64_t g = 0; g < groups; ++g)
      for (int64_t j = 0; j < tokens && position + j < capacity; ++j) {
        int64_t at = position + j;
        auto freshAt = [&](int64_t d) {
          return fresh.f32[(g * headDim + d) * tokens + j];
        };
        if (f16) {
          for (int64_t d = 0; d < headDim; ++d)
            cache.halves[(g * headDim + d) * capacity + at] =
                numerics::toF16Bits(freshAt(d));
          continue;
        }
        if (!int8) {
          for (int64_t d = 0; d < headDim; ++d)
            cache.f32[(g * headDim + d) * capacity + at] = freshAt(d);
          continue;
        }
        // Symmetric int8 per (layer, row, head, position).
        float absMax = 0;
        for (int64_t d = 0; d < headDim; ++d)
          absMax = std::max(absMax, std::fabs(freshAt(d)));
        float scale = absMax / 127.0f;
        scales.f32[g * capacity + at] = scale;
        for (int64_t d = 0; d < headDim; ++d) {
          float code = scale > 0 ? std::nearbyint(freshAt(d) / scale) : 0.0f;
          cache.i8[(g * headDim + d) * capacity + at] =
              int8_t(std::clamp(code, -127.0f, 127.0f));
        }
      }
  }
};

/// Runs one position of a single-token step; returns its results.
llvm::Expected<std::vector<HostArray>>
runStep(ExecutableModule &model, const StepSignature &sig, HostKVCache &cache,
        int32_t token, int64_t position) {
  HostArray input, at;
  input.kind = at.kind = HostArray::Kind::I32;
  input.shape = {1, 1};
  at.shape = {1};
  input.i32 = {token};
  at.i32 = {int32_t(position)};
  std::vector<const HostArray *> args{&input, &at};
  for (const HostArray *arg : cache.arguments())
    args.push_back(arg);
  auto results = model.call(sig.function, args);
  if (results)
    cache.write((*results)[1], (*results)[2], position);
  return results;
}

llvm::Error checkSingleTokenStep(const StepSignature &sig) {
  if (sig.batch == 1 && sig.tokens == 1)
    return llvm::Error::success();
  return llvm::createStringError(
      llvm::formatv("@{0} takes batch {1} and {2} tokens per call; cached "
                    "decoding runs one sequence one token at a time "
                    "(quant-decode-step with tokens=1)",
                    sig.function, sig.batch, sig.tokens)
          .str());
}
} // namespace

llvm::Expected<std::vector<int32_t>>
quantopt::cachedGreedyDecode(ExecutableModule &model, const StepSignature &sig,
                             std::vector<int32_t> tokens, int64_t steps,
                             DecodeTimings *timings, int32_t stopToken) {
  keepFreedMemoryForRepeatedCalls();
  if (llvm::Error error = checkSingleTokenStep(sig))
    return std::move(error);
  if (sig.capacity() < steps || tokens.empty())
    return llvm::createStringError(
        llvm::formatv("cached decoding of {0} steps needs {0} cached "
                      "positions (the step has {1}) and a prompt",
                      steps, sig.capacity())
            .str());
  HostKVCache cache(sig);
  for (int64_t pos = 0; pos < steps && pos < int64_t(tokens.size()); ++pos) {
    auto start = std::chrono::steady_clock::now();
    auto results = runStep(model, sig, cache, tokens[pos], pos);
    if (!results)
      return results.takeError();
    if (timings)
      timings->stepSeconds.push_back(
          std::chrono::duration<double>(std::chrono::steady_clock::now() -
                                        start)
              .count());
    // The prompt's positions only fill the caches.
    if (pos + 1 < int64_t(tokens.size()))
      continue;
    Row row{(*results)[0].f32.data(), sig.vocabSize};
    int32_t next = int32_t(row.argmax());
    if (next == stopToken)
      break;
    tokens.push_back(next);
  }
  return tokens;
}

llvm::Expected<EvalResult>
quantopt::evaluateCached(ExecutableModule &model, const StepSignature &sig,
                         llvm::ArrayRef<int32_t> ids,
                         const EvalOptions &options) {
  keepFreedMemoryForRepeatedCalls();
  if (llvm::Error error = checkSingleTokenStep(sig))
    return std::move(error);
  auto start = std::chrono::steady_clock::now();
  int64_t seq = sig.capacity();
  auto counted = countWindows(ids, options, seq);
  if (!counted)
    return counted.takeError();
  int64_t windows = *counted;
  std::vector<double> nll(windows, 0.0);
  std::atomic<int64_t> nextWindow{0}, done{0};
  std::mutex mutex;
  std::string firstError;
  auto worker = [&]() {
    HostKVCache cache(sig);
    for (int64_t w; (w = nextWindow.fetch_add(1)) < windows;) {
      cache.reset();
      for (int64_t p = 0; p < seq; ++p) {
        auto results = runStep(model, sig, cache, ids[w * seq + p], p);
        if (!results) {
          std::lock_guard<std::mutex> lock(mutex);
          firstError = llvm::toString(results.takeError());
          nextWindow = windows;
          return;
        }
        Row row{(*results)[0].f32.data(), sig.vocabSize};
        nll[w] += row.logSumExp() - row.logits[ids[w * seq + p + 1]];
      }
      reportProgress(options.progressLabel, done.fetch_add(1) + 1, windows,
                     mutex);
    }
  };
  runWorkers(options.threads, worker);
  if (!firstError.empty())
    return llvm::createStringError(firstError);
  EvalResult result;
  result.windows = windows;
  result.tokens = windows * seq;
  double total = 0;
  for (double n : nll)
    total += n;
  result.meanNll = total / double(result.tokens);
  result.perplexity = std::exp(result.meanNll);
  result.seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
          .count();
  return result;
}
