//===- ProductFusion.cpp - What product fusions may merge -----------------===//
//
// Part of the quant-opt project, under the Apache License v2.0 with LLVM
// Exceptions.
//
//===----------------------------------------------------------------------===//

#include "ProductFusion.h"

#include "quant/Dialect/QTensor/IR/QTensorOps.h"

#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/IR/AsmState.h"
#include "mlir/IR/DialectResourceBlobManager.h"
#include "mlir/IR/Matchers.h"
#include "mlir/Interfaces/DestinationStyleOpInterface.h"

using namespace mlir;
using namespace mlir::qtensor;

std::optional<ArrayRef<char>>
mlir::qtensor::constantBytes(Value value, std::vector<char> &scratch) {
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

Attribute mlir::qtensor::fillValue(Value init) {
  auto fill = init.getDefiningOp<linalg::FillOp>();
  if (!fill)
    return {};
  Attribute value;
  if (!matchPattern(fill.value(), m_Constant(&value)))
    return {};
  return value;
}

std::optional<ProductParts> mlir::qtensor::fusibleParts(Operation *op) {
  if (!isa<DequantMatmulOp, GGMLMatmulOp, QuantizedMatmulOp>(op) ||
      getGatedEpilogue(op))
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

bool mlir::qtensor::compatible(Operation *a, Operation *b,
                               const ProductParts &parts) {
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

Value mlir::qtensor::gatherRows(OpBuilder &b, Location loc,
                                ArrayRef<Value> values,
                                ArrayRef<std::pair<unsigned, int64_t>> rows) {
  auto first = cast<RankedTensorType>(values.front().getType());
  SmallVector<int64_t> shape(first.getShape());
  shape[0] = rows.size();
  int64_t rowBytes = first.getNumElements() / first.getDimSize(0) *
                     first.getElementTypeBitWidth() / 8;
  std::vector<std::vector<char>> scratch(values.size());
  SmallVector<ArrayRef<char>> data;
  for (auto [value, buffer] : llvm::zip_equal(values, scratch))
    data.push_back(*constantBytes(value, buffer));
  std::vector<char> bytes;
  bytes.reserve(rows.size() * rowBytes);
  for (auto [value, row] : rows) {
    ArrayRef<char> source = data[value].slice(row * rowBytes, rowBytes);
    bytes.insert(bytes.end(), source.begin(), source.end());
  }
  auto type = RankedTensorType::get(shape, first.getElementType());
  auto blob =
      HeapAsmResourceBlob::allocateAndCopyInferAlign(ArrayRef<char>(bytes));
  auto attr = DenseResourceElementsAttr::get(type, "fused", std::move(blob));
  return arith::ConstantOp::create(b, loc, attr);
}
