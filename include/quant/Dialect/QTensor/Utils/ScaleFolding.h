//===- ScaleFolding.h - Fold per-channel scales into producers --*- C++ -*-===//
//
// Part of the quant-opt project, under the Apache License v2.0 with LLVM
// Exceptions.
//
//===----------------------------------------------------------------------===//
//
// SmoothQuant and AWQ rescale the input channels of a group of linears that
// share one input: x' = x / s, W' = W * s (columns), so x' W'ᵀ = x Wᵀ. The
// division has to be absorbed by whatever produces x. This file finds that
// producer from the IR's structure alone (no op or weight names) and applies
// the rewrite on both sides.
//
// The search walks backwards from x, carrying the scale as a tensor over
// some dimensions of the current value:
//
// * `tensor.collapse_shape` / `tensor.expand_shape` re-index it;
// * a `linalg` op whose body is linear in some of its operands (products
//   with factors that do not depend on them, sums, negation; a zero-filled
//   accumulator) passes it to those operands, provided each scaled result
//   dimension indexes them directly (so per-head scales cannot pass through
//   a grouped-query broadcast, which is why AWQ skips v -> o under GQA);
// * a float constant absorbs it (an RMSNorm / LayerNorm weight and bias, a
//   linear's output rows, a bias);
// * an elementwise `linalg.generic` that is not linear in anything (an
//   activation) gets a division by a constant appended to its body, as
//   AWQ's ScaledActivation does.
//
// Every value on the path other than x must have a single use, so nothing
// else sees the scaled values; x's users must be exactly the group.
//
//===----------------------------------------------------------------------===//

#ifndef QUANT_DIALECT_QTENSOR_UTILS_SCALEFOLDING_H
#define QUANT_DIALECT_QTENSOR_UTILS_SCALEFOLDING_H

#include "quant/Dialect/QTensor/Utils/WeightMatching.h"

#include <string>
#include <vector>

namespace mlir {
namespace qtensor {

/// Unbatched constant-weight products sharing one input value, in program
/// order.
struct InputGroup {
  Value input;
  SmallVector<ConstantWeightMatmul, 0> linears;
  /// Input channels (K).
  int64_t channels() const { return linears.front().cols; }
  /// "a, b, c": the weight names.
  std::string names() const;
};

/// Groups the constant-weight products under `root` that `filter` keeps and
/// that are unbatched with f32 weights and activations by their input.
SmallVector<InputGroup> collectInputGroups(Operation *root,
                                           WeightFilter filter);

/// True when `op`'s result goes straight to a function's return: the output
/// head, which the W8A8 and AWQ references keep in float / unscaled.
bool isOutputHead(Operation *op);

/// Re-reads the group's weights and input from the IR (after folds that
/// changed them). Fails if an op no longer matches.
LogicalResult refreshInputGroup(InputGroup &group);

/// A structurally valid way to divide a group input's channels by a scale.
class ChannelScaleFold {
public:
  /// Finds the fold for `group`; on failure `reason` says why.
  static FailureOr<ChannelScaleFold> find(const InputGroup &group,
                                          std::string &reason);

  /// What absorbs 1/s, for remarks and reports.
  const std::string &getDescription() const { return description; }

  /// The kind of the first absorber on the path.
  enum class Absorber {
    /// A constant operand of an elementwise op (a norm's weight and bias).
    ElementwiseConstant,
    /// A constant operand of a reduction (a preceding linear's rows).
    ReductionConstant,
    /// A division appended to an elementwise op (an activation).
    AppendedDivision,
  };
  Absorber getAbsorber() const { return absorber; }

  /// Divides the group input's channels by `s` (one positive value per
  /// channel) at the producer and multiplies the weight columns of the
  /// group's linears by `s`, updating `group`'s weights.
  void apply(InputGroup &group, ArrayRef<float> s);

private:
  std::string description;
  Absorber absorber = Absorber::ElementwiseConstant;
};

} // namespace qtensor
} // namespace mlir

#endif // QUANT_DIALECT_QTENSOR_UTILS_SCALEFOLDING_H
