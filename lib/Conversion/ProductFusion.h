//===- ProductFusion.h - What product fusions may merge ---------*- C++ -*-===//
//
// Part of the quant-opt project, under the Apache License v2.0 with LLVM
// Exceptions.
//
//===----------------------------------------------------------------------===//
//
// Private to QuantConversion: the checks and constant surgery shared by the
// passes that merge quantized products (quant-fuse-horizontal,
// quant-fuse-epilogue).
//
//===----------------------------------------------------------------------===//

#ifndef QUANT_LIB_CONVERSION_PRODUCTFUSION_H
#define QUANT_LIB_CONVERSION_PRODUCTFUSION_H

#include "mlir/IR/Builders.h"

#include <optional>
#include <utility>
#include <vector>

namespace mlir {
namespace qtensor {

/// The bytes of a constant tensor operand, or nothing when `value` is not a
/// readable constant. Splats are expanded into `scratch`.
std::optional<ArrayRef<char>> constantBytes(Value value,
                                            std::vector<char> &scratch);

/// The scalar a linalg.fill writes into `init`, when it is one.
Attribute fillValue(Value init);

/// What a product reads besides its activations, by role: constants whose
/// dimension 0 is the output channel, concatenated when products fuse.
struct ProductParts {
  /// Operand numbers of the per-channel constants.
  SmallVector<unsigned> channelOperands;
  unsigned initOperand = 0;
  /// Operands that must be the same value in every fused product.
  SmallVector<unsigned> sharedOperands;
};

/// The parts of a quantized product that can merge with another, or
/// nothing: row-wise weights, no epilogue, and a result that is no other
/// qtensor op's operand or destination.
std::optional<ProductParts> fusibleParts(Operation *op);

/// Whether `a` and `b` can be one product: same op, attributes, shared
/// operands, per-channel constants that differ only in dimension 0, and
/// inits filled with the same value.
bool compatible(Operation *a, Operation *b, const ProductParts &parts);

/// A new dense_resource constant whose row i (dimension 0) is row
/// `rows[i].second` of constant `values[rows[i].first]`.
Value gatherRows(OpBuilder &b, Location loc, ArrayRef<Value> values,
                 ArrayRef<std::pair<unsigned, int64_t>> rows);

} // namespace qtensor
} // namespace mlir

#endif // QUANT_LIB_CONVERSION_PRODUCTFUSION_H
