//===- Evaluation.h - Perplexity and KL divergence of models ----*- C++ -*-===//
//
// Part of the quant-opt project, under the Apache License v2.0 with LLVM
// Exceptions.
//
//===----------------------------------------------------------------------===//
//
// Runs a compiled language model (`[B, S] i32 token ids -> [B, S, V] f32
// logits`, compiled by any ModuleExecutor) over a token stream cut into
// non-overlapping windows: window k is ids[S*k : S*k + S + 1], its first S
// ids the input and its last S the targets, each window an independent
// sequence from position 0. Reports the perplexity and, against a reference
// model, llama.cpp's KL-divergence statistics.
//
//===----------------------------------------------------------------------===//

#ifndef QUANT_EXECUTION_EVALUATION_H
#define QUANT_EXECUTION_EVALUATION_H

#include "quant/Dialect/QTensor/Transforms/Executor.h"

#include "llvm/ADT/ArrayRef.h"
#include "llvm/Support/Error.h"
#include "llvm/Support/JSON.h"

#include <string>
#include <vector>

namespace quantopt {

using mlir::qtensor::ExecutableModule;
using mlir::qtensor::HostArray;

/// The calling convention of a compiled model.
struct ModelSignature {
  std::string function = "forward";
  int64_t batch = 1, seqLen = 0, vocabSize = 0;
};

/// Reads the signature of `function` in `module`: one `tensor<BxSxi32>`
/// argument and one `tensor<BxSxVxf32>` result.
llvm::Expected<ModelSignature> getModelSignature(mlir::ModuleOp module,
                                                 llvm::StringRef function);

struct EvalOptions {
  /// Use at most this many ids of the stream (-1: all).
  int64_t maxTokens = -1;
  unsigned threads = 2;
  /// Progress on stderr under this label; empty: silent.
  std::string progressLabel;
};

struct EvalResult {
  int64_t windows = 0, tokens = 0;
  double meanNll = 0, perplexity = 0;
  bool hasReference = false;
  /// Mean KL(reference || model) per token, % of tokens whose argmax agrees,
  /// and the RMS of p_model(target) - p_reference(target) (llama.cpp's
  /// "RMS Δp"), in %.
  double meanKld = 0, sameTopPercent = 0, rmsDeltaPPercent = 0;
  double seconds = 0;

  llvm::json::Object toJSON() const;
};

/// Evaluates `model` (and `reference`, when given, on the same windows).
llvm::Expected<EvalResult> evaluate(ExecutableModule &model,
                                    ExecutableModule *reference,
                                    const ModelSignature &signature,
                                    llvm::ArrayRef<int32_t> ids,
                                    const EvalOptions &options);

/// Greedy decoding: starting from `prompt`, appends the argmax token until
/// `steps` positions have been run or BOS (1) is produced. The model must
/// take one sequence of at least `steps` ids (batch 1).
llvm::Expected<std::vector<int32_t>>
greedyDecode(ExecutableModule &model, const ModelSignature &signature,
             std::vector<int32_t> prompt, int64_t steps);

/// The calling convention of a decode step made by --quant-decode-step:
/// `(tokens [B,T] i32, position [1] i32, keys, values [L,B,Hkv,D,C] f32) ->
/// (logits [B,T,V], new keys, new values [L,B,Hkv,D,T])`.
struct StepSignature {
  std::string function;
  int64_t batch = 1, tokens = 1, vocabSize = 0;
  /// The caches' shape [L, B, Hkv, D, C].
  std::vector<int64_t> cacheShape;
  /// int8 codes with f32 scales [L, B, Hkv, C] (two more arguments), or
  /// f16 values, else f32 values.
  bool int8Cache = false, f16Cache = false;
  int64_t capacity() const { return cacheShape.back(); }
};

/// Reads the signature of the step function `function` in `module`.
llvm::Expected<StepSignature> getStepSignature(mlir::ModuleOp module,
                                               llvm::StringRef function);

/// Perplexity through a decode step: each window of the step's cache
/// length is run one position per call against the caches the earlier
/// positions filled (quantized as the step's cache type says), as
/// generation would see it. KL divergence is not computed.
llvm::Expected<EvalResult> evaluateCached(ExecutableModule &model,
                                          const StepSignature &signature,
                                          llvm::ArrayRef<int32_t> ids,
                                          const EvalOptions &options);

/// Timings of a cached decode: seconds of each call, in order.
struct DecodeTimings {
  std::vector<double> stepSeconds;
};

/// Greedy decoding with a key/value cache: the prompt is run one position
/// per call, then each call feeds the last token, until `steps` positions
/// have been run or `stopToken` (BOS, 1; -1: none) is produced. Gives the
/// tokens of greedyDecode on the forward the step was derived from. The step
/// must take one sequence and one token per call, with at least `steps`
/// positions of cache.
llvm::Expected<std::vector<int32_t>>
cachedGreedyDecode(ExecutableModule &model, const StepSignature &signature,
                   std::vector<int32_t> prompt, int64_t steps,
                   DecodeTimings *timings = nullptr, int32_t stopToken = 1);

} // namespace quantopt

#endif // QUANT_EXECUTION_EVALUATION_H
