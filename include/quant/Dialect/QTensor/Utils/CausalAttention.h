//===- CausalAttention.h - Attention over earlier positions -----*- C++ -*-===//
//
// Part of the quant-opt project, under the Apache License v2.0 with LLVM
// Exceptions.
//
//===----------------------------------------------------------------------===//
//
// Emits causal attention for T queries at positions `position ..
// position + T - 1` against the keys and values of the `position` earlier
// positions and of the T new ones, as linalg on tensors: the importers'
// numerics (scores scaled by 1/sqrt(D), causal mask, max, exp(x - max),
// sum, divide), but only over the positions a query may see. The decode
// step (--quant-decode-step) reads earlier positions from its caches;
// blocked prefill (--quant-causal-attention) from the sequence's own keys.
//
// Keys and values are head-dimension-major, [B, Hkv, D, P], the order in
// which both products read them contiguously; grouped-query heads read
// key/value head h / (H / Hkv).
//
//===----------------------------------------------------------------------===//

#ifndef QUANT_DIALECT_QTENSOR_UTILS_CAUSALATTENTION_H
#define QUANT_DIALECT_QTENSOR_UTILS_CAUSALATTENTION_H

#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/OpDefinition.h"
#include "llvm/ADT/DenseSet.h"

#include <optional>

namespace mlir {
namespace qtensor {

/// One attention of an imported model, delimited by the importers'
/// `qtensor.attention` marks: the head splits of its query, key and value
/// and the join of its result's heads.
struct AttentionSite {
  tensor::ExpandShapeOp query, key, value;
  tensor::CollapseShapeOp output;
};

/// The marked attentions of `block`, in order. A join without its three
/// splits before it is an error reported on it, prefixed with `passName`.
FailureOr<SmallVector<AttentionSite>> findMarkedAttention(Block &block,
                                                          StringRef passName);

/// Adds to `ops` the ops of `block` that `site`'s join depends on, back to
/// and including its splits: what replacing the attention replaces.
void collectAttentionOps(Block &block, const AttentionSite &site,
                         DenseSet<Operation *> &ops);

/// Keys or values as attention reads them: f32 or f16 [B, Hkv, D, P], or
/// int8 codes of that shape (`data`) with an f32 scale per position
/// (`scales`, [B, Hkv, P]): entry = code * scale.
struct AttentionEntries {
  Value data, scales;
};

struct AttentionShape {
  int64_t batch = 0, heads = 0, kvHeads = 0, headDim = 0;
};

/// Attention of `queries` [B, T, H, D] at positions `position ..`; `newKeys`
/// and `newValues` [B, Hkv, D, T] belong to the same positions, `pastKeys`
/// and `pastValues` to the `position` earlier ones (unused when
/// `position` is the constant 0). Returns [B, T, H, D], written into `init`
/// when given (so that a slice of a larger result is written in place).
Value buildCausalAttention(OpBuilder &b, Location loc,
                           const AttentionShape &shape, Value queries,
                           Value newKeys, Value newValues,
                           const AttentionEntries &pastKeys,
                           const AttentionEntries &pastValues,
                           OpFoldResult position, Value init = {});

/// `x` [B, T, n * D] (n heads) as [B, n, D, T], written into `init`.
Value buildHeadDimMajor(OpBuilder &b, Location loc, Value x, int64_t heads,
                        int64_t headDim, Value init);

} // namespace qtensor
} // namespace mlir

#endif // QUANT_DIALECT_QTENSOR_UTILS_CAUSALATTENTION_H
