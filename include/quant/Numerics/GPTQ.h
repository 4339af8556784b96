//===- GPTQ.h - The GPTQ layer solver ---------------------------*- C++ -*-===//
//
// Part of the quant-opt project, under the Apache License v2.0 with LLVM
// Exceptions.
//
//===----------------------------------------------------------------------===//
//
// GPTQ (Frantar et al. 2022) for one weight matrix, reproducing the
// reference implementation (IST-DASLab/gptq `gptq.py` `fasterquant` with
// `quant.py`'s quantizer; see docs/Numerics.md §3):
// f32 column updates, lazy batches of `blockSize` columns, group parameters
// computed from the globally updated weights (stale inside a block, as the
// reference), dead columns, act-order with a stable sort, static groups.
// Deliberate differences: the Cholesky factorisations and the inverse run
// in f64 with LAPACK (then rounded to f32), the lazy batch update sums each
// product in column order (threads split rows, so the codes never depend on
// the thread count), and a failed factorisation raises the damping in
// steps of 1% of mean(diag(H)) instead of aborting.
//
//===----------------------------------------------------------------------===//

#ifndef QUANT_NUMERICS_GPTQ_H
#define QUANT_NUMERICS_GPTQ_H

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace quantopt {
namespace numerics {

/// The Hessian proxy of one linear layer, accumulated as the reference does:
/// per batch of `b` sequences, H *= n / (n + b); n += b; H += (2 / n) X Xᵀ
/// (over the batch's tokens), in f64. Also the per-channel statistics other
/// methods use.
class HessianAccumulator {
public:
  explicit HessianAccumulator(int64_t columns = 0);
  /// Statistics saved earlier (see --quant-calibrate); sizes must agree.
  static HessianAccumulator restore(int64_t columns, std::vector<double> h,
                                    std::vector<double> maxAbs,
                                    std::vector<double> meanAbs,
                                    std::vector<double> meanSquare,
                                    int64_t tokens, int64_t sequences);
  /// Adds one batch of `sequences` sequences whose `tokens` rows of
  /// `columns` activations are in `x` (row-major).
  void addBatch(const float *x, int64_t tokens, int64_t sequences);

  int64_t columns() const { return k; }
  int64_t sequences() const { return n; }
  int64_t tokens() const { return tokenCount; }
  /// H = (2 / n) Σ x xᵀ, [columns, columns] row-major.
  /// The full symmetric H (batches add to its lower triangle; the upper
  /// one is mirrored here, once, rather than after every batch).
  const std::vector<double> &hessian() const;
  /// The same matrix, for a solver that works inside it and leaves it as
  /// it found it (gptqQuantize).
  std::vector<double> &hessian() {
    return const_cast<std::vector<double> &>(std::as_const(*this).hessian());
  }
  /// Per-channel max |x|, mean |x| and mean x² over all tokens.
  std::vector<double> maxAbs() const { return absMax; }
  std::vector<double> meanAbs() const;
  std::vector<double> meanSquare() const;

private:
  int64_t k = 0, n = 0, tokenCount = 0;
  mutable std::vector<double> h;
  std::vector<double> absMax, absSum, sqSum;
  /// Whether h's upper triangle equals its lower one.
  mutable bool mirrored = true;
};

struct GPTQOptions {
  unsigned bits = 4;
  /// -1: one group per row (per channel).
  int64_t groupSize = -1;
  bool symmetric = false;
  bool actOrder = false;
  bool staticGroups = false;
  float percDamp = 0.01f;
  int64_t blockSize = 128;
  /// The quantizer's MSE grid search (norm 2.4, grid 100, maxshrink 0.8).
  bool mse = false;
  /// Compute relativeOutputError (one [2N, K] x [K, K] product).
  bool outputError = true;
};

struct GPTQResult {
  /// Codes in [0, 2^bits - 1], [rows, cols] row-major, original order.
  std::vector<uint8_t> codes;
  /// Parameters per (row, group), [rows, groups] row-major. With act-order
  /// and without static groups, group g is the g-th run of `groupSize`
  /// columns in act order and `groupIndex` maps each column to its group.
  std::vector<float> scales;
  std::vector<int32_t> zeros;
  int64_t groups = 1;
  std::vector<int32_t> groupIndex; // empty unless act-order needs it
  /// Σ over weights of (w - q)² / d² / 2, the reference's "error".
  double loss = 0;
  /// ||X Wᵀ - X Qᵀ||² / ||X Wᵀ||² on the calibration set, from H.
  double relativeOutputError = 0;
  /// Damping actually used, as a fraction of mean(diag(H)).
  float damping = 0;
  std::vector<std::string> warnings;
};

/// Quantizes W [rows, cols] (row-major, f32) with the full symmetric
/// Hessian H [cols, cols]. H is the factorisations' workspace while the
/// solver runs (no K x K copy is made: 1 GB at K = 11008) and holds the
/// same values again when it returns. Returns false with `error` set when H
/// is not usable (wrong size, NaN, or no damping below 100% makes it
/// positive definite).
bool gptqQuantize(const float *w, int64_t rows, int64_t cols,
                  std::vector<double> &hessian, const GPTQOptions &opts,
                  GPTQResult &result, std::string &error);

} // namespace numerics
} // namespace quantopt

#endif // QUANT_NUMERICS_GPTQ_H
