//===- AWQ.h - Activation-aware weight quantization -------------*- C++ -*-===//
//
// Part of the quant-opt project, under the Apache License v2.0 with LLVM
// Exceptions.
//
//===----------------------------------------------------------------------===//
//
// The numerics of AWQ (Lin et al. 2024) as llm-awq / AutoAWQ implement them
// (docs/Numerics.md §4): the group quantizer whose
// range is not forced through zero, the per-channel scale grid search and
// the clipping search. Weights are [N, K] row-major, activations [T, K].
//
//===----------------------------------------------------------------------===//

#ifndef QUANT_NUMERICS_AWQ_H
#define QUANT_NUMERICS_AWQ_H

#include <cstdint>
#include <functional>
#include <vector>

namespace quantopt {
namespace numerics {

/// Codes and parameters of the AWQ quantizer for one [N, K] matrix, groups
/// of `groupSize` columns (the last one may be shorter).
struct AWQQuantized {
  int64_t groups = 0;
  /// [N, K] codes in [0, 2^bits - 1]; [N, groups] scales and zero-points.
  std::vector<uint8_t> codes;
  std::vector<float> scales;
  std::vector<int32_t> zeros;
};

/// s = max(max - min, 1e-5) / (2^bits - 1), z = clamp(-round(min / s), 0,
/// 2^bits - 1), q = clamp(round(w / s) + z, 0, 2^bits - 1), per group;
/// `groupSize` <= 0 means one group per row.
AWQQuantized awqQuantize(const float *weight, int64_t rows, int64_t cols,
                         unsigned bits, int64_t groupSize);

/// (q - z) * s, the dequantized weight.
std::vector<float> awqDequantize(const AWQQuantized &q, int64_t rows,
                                 int64_t cols, int64_t groupSize);

struct AWQScaleSearch {
  int64_t grid = 20;
  /// AutoAWQ's duo scaling: s = x_mean^r / (w_mean^(1-r) + 1e-4).
  bool duoScaling = false;
  unsigned bits = 4;
  int64_t groupSize = 128;
};

/// Result of the scale search: the chosen per-channel scales, the ratio
/// and the losses of each grid point (mean squared output error).
struct AWQScaleResult {
  std::vector<float> scales;
  double bestRatio = -1;
  std::vector<double> losses;
};

/// The loss of candidate weights (one [N_i, K] matrix per linear, already
/// quantized and divided by s again): the mean squared error of the
/// inspected module's output against the float output.
using AWQObjective =
    std::function<double(const std::vector<std::vector<float>> &weights)>;

/// Searches s for linears sharing the input `x` [tokens, K]: each candidate
/// quantizes W * s and divides by s again; the first strict improvement of
/// `objective` wins, as in the reference. Without an objective, the error
/// of x · Wᵀ of all the linears is used. With no finite loss the scales
/// are all 1 (bestRatio -1).
AWQScaleResult
awqSearchScales(const std::vector<float> &x, int64_t tokens, int64_t k,
                const std::vector<const std::vector<float> *> &weights,
                const std::vector<int64_t> &rows, const AWQScaleSearch &options,
                const AWQObjective &objective = nullptr);

/// The clipping search for one linear on (already scaled) inputs: for each
/// (row, group) the max |w| bound among 1 - i/grid, i < maxShrink * grid,
/// minimising the group's output error on at most `sampleTokens` tokens.
/// Returns the clipped weight.
std::vector<float> awqClipWeight(const std::vector<float> &x, int64_t tokens,
                                 const std::vector<float> &weight, int64_t rows,
                                 int64_t k, unsigned bits, int64_t groupSize,
                                 int64_t grid = 20, double maxShrink = 0.5,
                                 int64_t sampleTokens = 512);

} // namespace numerics
} // namespace quantopt

#endif // QUANT_NUMERICS_AWQ_H
