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

#include "quant/Conversion/Passes.h"
#include "quant/Dialect/QTensor/IR/QTensorOps.h"

#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/AsmState.h"
#include "mlir/IR/DialectResourceBlobManager.h"
#include "mlir/IR/Matchers.h"
#include "mlir/Interfaces/DestinationStyleOpInterface.h"
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
/// The bytes of a constant tensor operand, or nothing when `value` is not a
/// readable constant. Splats are expanded into `scratch`.
std::optional<ArrayRef<char>> constantBytes(Value value,
                                            std::vector<char> &scratch) {
  auto constant = value.getDefiningOp<arith::ConstantOp>();
  if (!constant)
    return std::nullopt;
  auto type = dyn_cast<RankedTensorType>(constant.getType());
  if (!type || !type.hasStaticShape() || type.getElementTypeBitWidth() % 8 != 0)
    return std::nullopt;
  if (auto dense = dyn_cast<DenseElementsAttr>(constant.getValue())) {
    ArrayRef<char> raw = dense.getRawData();
    if (!dense.isSplat())
      return raw;
    scratch.clear();
    for (int64_t i = 0; i < type.getNumElements(); ++i)
      scratch.insert(scratch.end(), raw.begin(), raw.end());
    return ArrayRef<char>(scratch);
  }
  if (auto resource = dyn_cast<DenseResourceElementsAttr>(constant.getValue()))
    if (AsmResourceBlob *blob = resource.getRawHandle().getBlob())
      return blob->getData();
  return std::nullopt;
}

/// The scalar a linalg.fill writes into `init`, when it is one.
Attribute fillValue(Value init) {
  auto fill = init.getDefiningOp<linalg::FillOp>();
  if (!fill)
    return {};
  Attribute value;
  if (!matchPattern(fill.value(), m_Constant(&value)))
    return {};
  return value;
}

/// What a product reads besides its activations, by role: constants whose
/// dimension 0 is the output channel, concatenated when products fuse.
struct ProductParts {
  /// Operand numbers of the per-channel constants.
  SmallVector<unsigned> channelOperands;
  unsigned initOperand = 0;
  /// Operands that must be the same value in every fused product.
  SmallVector<unsigned> sharedOperands;
};

/// The parts of a product that can fuse, or nothing.
std::optional<ProductParts> fusibleParts(Operation *op) {
  if (!isa<DequantMatmulOp, GGMLMatmulOp, QuantizedMatmulOp>(op))
    return std::nullopt;
  // A slice of the fused result would be a strided buffer; where it is
  // another op's destination (LLM.int8()'s outlier product feeding the
  // int8 product), bufferization would copy it through a strided copy.
  for (OpOperand &use : op->getResult(0).getUses()) {
    Operation *user = use.getOwner();
    if (isa<QTensorDialect>(user->getDialect()))
      return std::nullopt;
    if (auto dps = dyn_cast<DestinationStyleOpInterface>(user))
      if (dps.isDpsInit(&use))
        return std::nullopt;
  }
  ProductParts parts;
  if (auto product = dyn_cast<DequantMatmulOp>(op)) {
    // Per-row blocks only (scales [N, G]); no act-order index, no batch.
    ArrayRef<int64_t> block = product.getLayout().getBlock();
    if (product.getGroupIndex() ||
        product.getStorage().getType().getRank() != 2 || block.size() != 2 ||
        block[0] != 1 || product.getScales().getType().getRank() != 2)
      return std::nullopt;
    parts.sharedOperands = {0};
    parts.channelOperands = {1, 2};
    if (product.getZeroPoints())
      parts.channelOperands.push_back(3);
    parts.initOperand = op->getNumOperands() - 1;
    return parts;
  }
  if (isa<GGMLMatmulOp>(op)) {
    parts.sharedOperands = {0};
    parts.channelOperands = {1};
    parts.initOperand = 2;
    return parts;
  }
  if (auto product = dyn_cast<QuantizedMatmulOp>(op)) {
    if (product.getWeightScales().getType().getRank() != 2)
      return std::nullopt;
    parts.sharedOperands = {0, 1};
    parts.channelOperands = {2, 3};
    parts.initOperand = 4;
    return parts;
  }
  return std::nullopt;
}

/// Whether `a` and `b` can be one product: same op, attributes, shared
/// operands, per-channel constants that differ only in dimension 0, and
/// inits filled with the same value.
bool compatible(Operation *a, Operation *b, const ProductParts &parts) {
  // Weight names (discardable) differ; the layout or ggml type may not.
  if (a->getName() != b->getName() ||
      a->getPropertiesAsAttribute() != b->getPropertiesAsAttribute() ||
      a->getBlock() != b->getBlock() ||
      a->getNumOperands() != b->getNumOperands())
    return false;
  for (unsigned i : parts.sharedOperands)
    if (a->getOperand(i) != b->getOperand(i))
      return false;
  std::vector<char> scratch;
  for (unsigned i : parts.channelOperands) {
    auto ta = cast<RankedTensorType>(a->getOperand(i).getType());
    auto tb = cast<RankedTensorType>(b->getOperand(i).getType());
    if (ta.getElementType() != tb.getElementType() ||
        ta.getShape().drop_front() != tb.getShape().drop_front() ||
        !constantBytes(a->getOperand(i), scratch) ||
        !constantBytes(b->getOperand(i), scratch))
      return false;
  }
  auto ia = cast<RankedTensorType>(a->getOperand(parts.initOperand).getType());
  auto ib = cast<RankedTensorType>(b->getOperand(parts.initOperand).getType());
  Attribute fa = fillValue(a->getOperand(parts.initOperand));
  return fa && fa == fillValue(b->getOperand(parts.initOperand)) &&
         ia.getElementType() == ib.getElementType() &&
         ia.getShape().drop_back() == ib.getShape().drop_back();
}

/// Concatenates the constants `values` along dimension 0.
Value concatenated(OpBuilder &b, Location loc, ArrayRef<Value> values) {
  auto first = cast<RankedTensorType>(values.front().getType());
  SmallVector<int64_t> shape(first.getShape());
  shape[0] = 0;
  std::vector<char> bytes, scratch;
  for (Value value : values) {
    shape[0] += cast<RankedTensorType>(value.getType()).getDimSize(0);
    ArrayRef<char> data = *constantBytes(value, scratch);
    bytes.insert(bytes.end(), data.begin(), data.end());
  }
  auto type = RankedTensorType::get(shape, first.getElementType());
  auto blob =
      HeapAsmResourceBlob::allocateAndCopyInferAlign(ArrayRef<char>(bytes));
  auto attr = DenseResourceElementsAttr::get(type, "fused", std::move(blob));
  return arith::ConstantOp::create(b, loc, attr);
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
