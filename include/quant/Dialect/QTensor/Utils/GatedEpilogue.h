//===- GatedEpilogue.h - Products with a gated epilogue ---------*- C++ -*-===//
//
// Part of the quant-opt project, under the Apache License v2.0 with LLVM
// Exceptions.
//
//===----------------------------------------------------------------------===//
//
// The lowerings' view of a quantized product's gated epilogue (see
// qtensor.dequant_matmul): the region's ops applied to scalars or vectors,
// and the product split into a plain product and an elementwise generic.
//
//===----------------------------------------------------------------------===//

#ifndef QUANT_DIALECT_QTENSOR_UTILS_GATEDEPILOGUE_H
#define QUANT_DIALECT_QTENSOR_UTILS_GATEDEPILOGUE_H

#include "mlir/IR/PatternMatch.h"

namespace mlir {
namespace qtensor {

/// Emits the ops of `epilogue` (a product's gated epilogue block) on
/// `gate`, `up` and `init`, which are f32 scalars or vectors of f32 of one
/// shape: each op is recreated on that type (constants splatted). Returns
/// the yielded value.
Value applyGatedEpilogue(OpBuilder &b, Location loc, Block *epilogue,
                         Value gate, Value up, Value init);

/// Replaces `product`, which has a gated epilogue, with the same product
/// without it over all 2 N weight rows (into a zero-filled init) and an
/// elementwise linalg.generic that reads each channel's gate and up
/// products and applies the epilogue with the original init. The new
/// product is returned.
Operation *decomposeGatedEpilogue(RewriterBase &rewriter, Operation *product);

} // namespace qtensor
} // namespace mlir

#endif // QUANT_DIALECT_QTENSOR_UTILS_GATEDEPILOGUE_H
