//===- FuseHorizontalProducts.cpp - One product per shared input ----------===//
//
// Part of the quant-opt project, under the Apache License v2.0 with LLVM
// Exceptions.
//
//===----------------------------------------------------------------------===//
//
// Quantized products that read the same activations with weights of the
// same form (q/k/v, gate/up) become one product over the weights
// concatenated along N, followed by slices of its result.
//
//===----------------------------------------------------------------------===//

#include "ProductFusion.h"

#include "quant/Conversion/Passes.h"
#include "quant/Dialect/QTensor/IR/QTensorOps.h"

#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "llvm/ADT/MapVector.h"

namespace mlir {
namespace qtensor {
#define GEN_PASS_DEF_FUSEHORIZONTALPRODUCTSPASS
#include "quant/Conversion/Passes.h.inc"
} // namespace qtensor
} // namespace mlir

using namespace mlir;
using namespace mlir::qtensor;

namespace {
/// Concatenates the constants `values` along dimension 0.
Value concatenated(OpBuilder &b, Location loc, ArrayRef<Value> values) {
  SmallVector<std::pair<unsigned, int64_t>> rows;
  for (auto [i, value] : llvm::enumerate(values))
    for (int64_t r = 0,
                 e = cast<RankedTensorType>(value.getType()).getDimSize(0);
         r < e; ++r)
      rows.push_back({unsigned(i), r});
  return gatherRows(b, loc, values, rows);
}

/// Replaces `group` (products in program order) with one product and
/// slices of its result.
void fuse(ArrayRef<Operation *> group, const ProductParts &parts) {
  Operation *first = group.front();
  OpBuilder b(first);
  Location loc = first->getLoc();
  IRMapping mapping;
  for (unsigned i : parts.channelOperands) {
    SmallVector<Value> values;
    for (Operation *op : group)
      values.push_back(op->getOperand(i));
    mapping.map(first->getOperand(i), concatenated(b, loc, values));
  }
  auto initType =
      cast<RankedTensorType>(first->getOperand(parts.initOperand).getType());
  SmallVector<int64_t> shape(initType.getShape());
  shape.back() = 0;
  for (Operation *op : group)
    shape.back() +=
        cast<RankedTensorType>(op->getResult(0).getType()).getShape().back();
  auto fill =
      first->getOperand(parts.initOperand).getDefiningOp<linalg::FillOp>();
  Value empty =
      tensor::EmptyOp::create(b, loc, shape, initType.getElementType());
  Value init = linalg::FillOp::create(b, loc, fill.value(), empty).getResult(0);
  mapping.map(first->getOperand(parts.initOperand), init);
  Operation *fused = b.clone(*first, mapping);
  fused->getResult(0).setType(init.getType());
  fused->removeAttr(kWeightNameAttr);

  int64_t offset = 0;
  unsigned rank = shape.size();
  for (Operation *op : group) {
    auto type = cast<RankedTensorType>(op->getResult(0).getType());
    SmallVector<OpFoldResult> offsets(rank, b.getIndexAttr(0));
    offsets.back() = b.getIndexAttr(offset);
    SmallVector<OpFoldResult> sizes;
    for (int64_t size : type.getShape())
      sizes.push_back(b.getIndexAttr(size));
    SmallVector<OpFoldResult> strides(rank, b.getIndexAttr(1));
    Value slice = tensor::ExtractSliceOp::create(
        b, loc, type, fused->getResult(0), offsets, sizes, strides);
    op->getResult(0).replaceAllUsesWith(slice);
    offset += type.getShape().back();
  }
  for (Operation *op : group)
    op->erase();
}

struct FuseHorizontalProductsPass
    : qtensor::impl::FuseHorizontalProductsPassBase<
          FuseHorizontalProductsPass> {
  using Base::Base;
  void runOnOperation() override {
    // Products by shared input, in program order.
    llvm::MapVector<Value, SmallVector<Operation *>> byInput;
    getOperation()->walk([&](Operation *op) {
      if (fusibleParts(op))
        byInput[op->getOperand(0)].push_back(op);
    });
    for (auto &[input, products] : byInput) {
      SmallVector<Operation *> remaining = products;
      while (remaining.size() > 1) {
        Operation *first = remaining.front();
        ProductParts parts = *fusibleParts(first);
        SmallVector<Operation *> group{first}, rest;
        for (Operation *op : ArrayRef(remaining).drop_front())
          (compatible(first, op, parts) ? group : rest).push_back(op);
        if (group.size() > 1) {
          fuse(group, parts);
          ++numFused;
        }
        remaining = std::move(rest);
      }
    }
  }
};
} // namespace
