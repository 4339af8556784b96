//===- Evaluation.cpp - Perplexity and KL divergence of models ------------===//
//
// Part of the quant-opt project, under the Apache License v2.0 with LLVM
// Exceptions.
//
//===----------------------------------------------------------------------===//

#include "quant/Runtime/Evaluation.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/raw_ostream.h"

#include <atomic>
#include <chrono>
#include <cmath>
#include <cstring>
#include <mutex>
#include <thread>

using namespace quantopt;

static llvm::Error fail(llvm::StringRef path, const llvm::Twine &what) {
  return llvm::createStringError(
      llvm::formatv("{0}: {1}", path, what.str()).str());
}

namespace {
/// The parts of a .npy file: magic, version, header length (2 or 4 bytes),
/// a Python dict literal with 'descr', 'fortran_order' and 'shape', data.
struct NpyArray {
  llvm::StringRef descr;
  std::vector<int64_t> shape;
  llvm::StringRef payload;
};
} // namespace

static llvm::Expected<NpyArray> parseNpy(llvm::StringRef path,
                                         llvm::StringRef data) {
  if (!data.starts_with("\x93NUMPY") || data.size() < 10)
    return fail(path, "truncated .npy header");
  size_t headerLength = uint8_t(data[8]) | (uint8_t(data[9]) << 8), start = 10;
  if (uint8_t(data[6]) >= 2) {
    if (data.size() < 12)
      return fail(path, "truncated .npy header");
    headerLength =
        uint32_t(uint8_t(data[8])) | uint32_t(uint8_t(data[9])) << 8 |
        uint32_t(uint8_t(data[10])) << 16 | uint32_t(uint8_t(data[11])) << 24;
    start = 12;
  }
  if (headerLength > data.size() - start)
    return fail(path, "truncated .npy header");
  llvm::StringRef header = data.substr(start, headerLength);
  if (header.contains("'fortran_order': True"))
    return fail(path, "Fortran-ordered .npy arrays are not supported");
  NpyArray array;
  size_t descr = header.find("'descr': '");
  size_t open = header.find("'shape': (");
  if (descr == llvm::StringRef::npos || open == llvm::StringRef::npos)
    return fail(path, "the .npy header lacks descr or shape: " + header.trim());
  array.descr =
      header.substr(descr + 10).take_until([](char c) { return c == '\''; });
  llvm::StringRef dims =
      header.substr(open + 10).take_until([](char c) { return c == ')'; });
  llvm::SmallVector<llvm::StringRef> parts;
  dims.split(parts, ',', -1, /*KeepEmpty=*/false);
  for (llvm::StringRef part : parts) {
    int64_t d;
    if (part.trim().getAsInteger(10, d) || d < 0)
      return fail(path, "invalid shape (" + dims + ")");
    array.shape.push_back(d);
  }
  array.payload = data.drop_front(start + headerLength);
  return array;
}

llvm::Expected<std::vector<int32_t>>
quantopt::loadTokenIds(llvm::StringRef path, int32_t vocabSize) {
  auto buffer = llvm::MemoryBuffer::getFile(path, false, false);
  if (!buffer)
    return fail(path, "cannot open: " + buffer.getError().message());
  llvm::StringRef data = (*buffer)->getBuffer();
  size_t elementSize = 4;
  if (data.starts_with("\x93NUMPY")) {
    auto array = parseNpy(path, data);
    if (!array)
      return array.takeError();
    if (array->descr == "<i4")
      elementSize = 4;
    else if (array->descr == "<i8")
      elementSize = 8;
    else
      return fail(path, "the .npy array must hold little-endian int32 or "
                        "int64 token ids (descr '<i4' or '<i8'), got '" +
                            array->descr + "'");
    if (array->shape.size() != 1)
      return fail(path, "token ids must be a 1-D array");
    data = array->payload;
  }
  if (data.size() % elementSize != 0)
    return fail(path,
                llvm::formatv("size {0} is not a multiple of {1}-byte ids",
                              data.size(), elementSize));
  std::vector<int32_t> ids(data.size() / elementSize);
  for (size_t i = 0; i < ids.size(); ++i) {
    int64_t id;
    if (elementSize == 4) {
      int32_t v;
      std::memcpy(&v, data.data() + 4 * i, 4);
      id = v;
    } else {
      std::memcpy(&id, data.data() + 8 * i, 8);
    }
    if (id < 0 || id >= vocabSize)
      return fail(path, llvm::formatv("token id {0} at position {1} is outside "
                                      "the vocabulary [0, {2})",
                                      id, i, vocabSize));
    ids[i] = int32_t(id);
  }
  return ids;
}

llvm::Expected<HostArray> quantopt::loadNpyF32(llvm::StringRef path) {
  auto buffer = llvm::MemoryBuffer::getFile(path, false, false);
  if (!buffer)
    return fail(path, "cannot open: " + buffer.getError().message());
  auto array = parseNpy(path, (*buffer)->getBuffer());
  if (!array)
    return array.takeError();
  if (array->descr != "<f4")
    return fail(path, "expected a little-endian float32 array (descr '<f4'), "
                      "got '" +
                          array->descr + "'");
  HostArray out;
  out.kind = HostArray::Kind::F32;
  out.shape = array->shape;
  int64_t count = out.numElements();
  if (array->payload.size() != size_t(count) * 4)
    return fail(path, llvm::formatv("{0} data bytes for a shape of {1} "
                                    "floats",
                                    array->payload.size(), count));
  out.f32.resize(count);
  std::memcpy(out.f32.data(), array->payload.data(), array->payload.size());
  return out;
}

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
  llvm::json::Object o{{"windows", windows},
                       {"tokens", tokens},
                       {"mean_nll", meanNll},
                       {"perplexity", perplexity},
                       {"seconds", seconds}};
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

llvm::Expected<EvalResult> quantopt::evaluate(JitModule &model,
                                              JitModule *reference,
                                              const ModelSignature &sig,
                                              llvm::ArrayRef<int32_t> ids,
                                              const EvalOptions &options) {
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
      auto logits = model.call(sig.function, {&input}, 3);
      llvm::Expected<HostArray> refLogits =
          reference ? reference->call(sig.function, {&input}, 3)
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
quantopt::greedyDecode(JitModule &model, const ModelSignature &sig,
                       std::vector<int32_t> tokens, int64_t steps) {
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
    auto logits = model.call(sig.function, {&input}, 3);
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
