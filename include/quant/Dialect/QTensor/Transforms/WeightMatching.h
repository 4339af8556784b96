//===- WeightMatching.h - Find matmuls with constant weights ----*- C++ -*-===//
//
// Part of the quant-opt project, under the Apache License v2.0 with LLVM
// Exceptions.
//
//===----------------------------------------------------------------------===//
//
// Shared by every weight quantization pass: recognise a matrix product whose
// weight is a compile-time constant, read the weight in [N, K] order, and
// replace the product with qtensor.dequant_matmul.
//
//===----------------------------------------------------------------------===//

#ifndef QUANT_DIALECT_QTENSOR_TRANSFORMS_WEIGHTMATCHING_H
#define QUANT_DIALECT_QTENSOR_TRANSFORMS_WEIGHTMATCHING_H

#include "quant/Dialect/QTensor/IR/QTensorOps.h"

#include "mlir/Dialect/Linalg/IR/Linalg.h"

#include <string>
#include <vector>

namespace mlir {
namespace qtensor {

/// A matrix product `init + input · Wᵀ` whose weight W is a constant.
struct ConstantWeightMatmul {
  linalg::LinalgOp op;
  Value input;
  Value init;
  /// Stable name of the weight: the global's symbol, the dense_resource key,
  /// or the constant's name location; else "matmul_<n>".
  std::string name;
  /// Batch of weights (0 when unbatched), output channels, reduction size.
  int64_t batch = 0, rows = 0, cols = 0;
  /// The weight in [B,] N, K row-major order, as f32.
  std::vector<float> weight;
  /// True when the weight came from a dense_resource blob.
  bool fromResource = false;
};

/// Recognises `op` as a product with a constant weight. On failure, `reason`
/// says why (empty when `op` is not a contraction at all).
FailureOr<ConstantWeightMatmul> matchConstantWeightMatmul(linalg::LinalgOp op,
                                                          std::string &reason,
                                                          unsigned ordinal);

/// Quantized weight operands to replace a matched product with.
struct QuantizedWeight {
  LayoutAttr layout;
  /// Row-major bytes of the storage tensor and its shape.
  std::vector<uint8_t> storage;
  SmallVector<int64_t> storageShape;
  /// Scales (f32 values, stored as `scaleType`), shape of scales/zeros.
  std::vector<float> scales;
  SmallVector<int64_t> scaleShape;
  Type scaleType;
  /// Integer zero-points; empty for symmetric / non-integer formats.
  std::vector<int32_t> zeros;
  /// Group of each input column (act-order); empty when groups are k/size.
  std::vector<int32_t> groupIndex;
};

/// Discardable attribute naming the source weight of a quantized op (the
/// checkpoint tensor name), used by exporters and reports.
constexpr llvm::StringLiteral kWeightNameAttr = "qtensor.weight_name";

/// Creates the constants and the qtensor.dequant_matmul, and replaces the
/// matched op. Large weights become dense_resource blobs named after the
/// weight when the source was a resource.
DequantMatmulOp replaceWithDequantMatmul(OpBuilder &builder,
                                         const ConstantWeightMatmul &match,
                                         const QuantizedWeight &weight);

/// Emits an error naming the weight if it holds NaN or Inf.
LogicalResult checkFiniteWeight(const ConstantWeightMatmul &match);

} // namespace qtensor
} // namespace mlir

#endif // QUANT_DIALECT_QTENSOR_TRANSFORMS_WEIGHTMATCHING_H
