//===- KernelOperands.cpp - Operands of kernels on buffers ----------------===//
//
// Part of the quant-opt project, under the Apache License v2.0 with LLVM
// Exceptions.
//
//===----------------------------------------------------------------------===//

#include "KernelOperands.h"

#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/Matchers.h"

using namespace mlir;

/// Collapses `value` ([..., D]) to [M, D].
Value mlir::qtensor::collapseToMatrix(OpBuilder &b, Location loc, Value value) {
  auto type = cast<RankedTensorType>(value.getType());
  int64_t rank = type.getRank();
  if (rank == 2)
    return value;
  int64_t last = type.getShape().back();
  if (rank == 1) {
    auto matrix = RankedTensorType::get({1, last}, type.getElementType());
    return tensor::ExpandShapeOp::create(
        b, loc, matrix, value, SmallVector<ReassociationIndices>{{0, 1}});
  }
  ReassociationIndices leading;
  for (int64_t i = 0; i + 1 < rank; ++i)
    leading.push_back(i);
  return tensor::CollapseShapeOp::create(
      b, loc, value, SmallVector<ReassociationIndices>{leading, {rank - 1}});
}

/// A buffer of `tensor` with identity layout; `dynamicRows` makes the first
/// dimension dynamic (the kernels take any number of rows).
Value mlir::qtensor::toBuffer(OpBuilder &b, Location loc, Value tensor,
                              bool dynamicRows) {
  auto type = cast<RankedTensorType>(tensor.getType());
  auto memrefType = MemRefType::get(type.getShape(), type.getElementType());
  Value buffer = bufferization::ToBufferOp::create(b, loc, memrefType, tensor,
                                                   /*read_only=*/true);
  if (!dynamicRows || memrefType.isDynamicDim(0))
    return buffer;
  SmallVector<int64_t> shape(type.getShape());
  shape[0] = ShapedType::kDynamic;
  return memref::CastOp::create(
      b, loc, MemRefType::get(shape, type.getElementType()), buffer);
}

/// True when `init` is +0.0 everywhere: a linalg.fill or a splat constant of
/// zero. (Adding the products to +0 would only turn a -0 sum into +0.)
bool mlir::qtensor::isZeroFill(Value init) {
  Value value = init;
  if (auto fill = init.getDefiningOp<linalg::FillOp>())
    value = fill.getInputs()[0];
  if (matchPattern(value, m_PosZeroFloat()))
    return true;
  DenseElementsAttr attr;
  return matchPattern(value, m_Constant(&attr)) && attr.isSplat() &&
         isa<FloatType>(attr.getElementType()) &&
         attr.getSplatValue<APFloat>().isPosZero();
}

FailureOr<qtensor::MatmulDims>
mlir::qtensor::matchMatmulDims(linalg::LinalgOp op, std::string &whyNot) {
  auto fail = [&](const Twine &why) {
    whyNot = why.str();
    return failure();
  };
  FailureOr<linalg::ContractionDimensions> dims =
      linalg::inferContractionDims(op);
  if (failed(dims))
    return fail("contraction dimensions not inferred");
  if (!dims->batch.empty())
    return fail("batch dimensions");
  if (dims->n.size() != 1 || dims->k.size() != 1)
    return fail("several output-channel or reduction dimensions");
  MatmulDims result;
  result.n = dims->n[0];
  result.k = dims->k[0];
  SmallVector<SmallVector<unsigned>> positions;
  for (AffineMap map : op.getIndexingMapsArray()) {
    SmallVector<unsigned> dimsOf;
    for (AffineExpr expr : map.getResults()) {
      auto dim = dyn_cast<AffineDimExpr>(expr);
      if (!dim)
        return fail("indexing maps that are not projections");
      dimsOf.push_back(dim.getPosition());
    }
    positions.push_back(dimsOf);
  }
  // The activations [rows..., K] and the output [rows..., N] share their
  // leading dimensions, in order, so that both collapse to matrices.
  ArrayRef<unsigned> out = positions[2];
  if (out.back() != result.n)
    return fail("output channels not innermost in the output");
  SmallVector<unsigned> expectedInput(out.drop_back());
  expectedInput.push_back(result.k);
  if (positions[0] != expectedInput)
    return fail("activations not laid out as [rows..., K]");
  result.weight = positions[1];
  return result;
}
