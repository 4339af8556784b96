//===- ConvertQuantToQTensor.cpp - !quant.uniform to qtensor --------------===//
//
// Part of the quant-opt project, under the Apache License v2.0 with LLVM
// Exceptions.
//
//===----------------------------------------------------------------------===//
//
// Imports weights quantized with upstream's `quant` dialect (per-tensor and
// per-axis `!quant.uniform`) as qtensor.dequantize of constant codes, so the
// rest of the pipeline (fusion, lowering, export) sees one representation.
//
//===----------------------------------------------------------------------===//

#include "quant/Conversion/Passes.h"
#include "quant/Dialect/QTensor/IR/QTensorOps.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Quant/IR/Quant.h"
#include "mlir/Dialect/Quant/IR/QuantTypes.h"
#include "mlir/IR/Matchers.h"
#include "mlir/IR/PatternMatch.h"
#include "mlir/Transforms/WalkPatternRewriteDriver.h"

namespace mlir {
namespace qtensor {
#define GEN_PASS_DEF_CONVERTQUANTTOQTENSORPASS
#include "quant/Conversion/Passes.h.inc"
} // namespace qtensor
} // namespace mlir

using namespace mlir;
using namespace mlir::qtensor;

static std::optional<ElementFormat> formatFor(bool isSigned, unsigned width) {
  if (width < 2 || width > 8)
    return std::nullopt;
  unsigned offset = width - 2;
  return static_cast<ElementFormat>(
      static_cast<unsigned>(isSigned ? ElementFormat::si2
                                     : ElementFormat::ui2) +
      offset);
}

namespace {
/// quant.dcast(quant.scast(arith.constant)) -> qtensor.dequantize.
struct DequantizeCastToQTensor : OpRewritePattern<quant::DequantizeCastOp> {
  using Base::Base;
  LogicalResult matchAndRewrite(quant::DequantizeCastOp op,
                                PatternRewriter &rewriter) const override {
    auto resultType = dyn_cast<RankedTensorType>(op.getResult().getType());
    auto quantType = dyn_cast<RankedTensorType>(op.getInput().getType());
    if (!resultType || !quantType || resultType.getRank() == 0 ||
        !resultType.hasStaticShape())
      return rewriter.notifyMatchFailure(op, "needs a static ranked tensor");
    auto storageCast = op.getInput().getDefiningOp<quant::StorageCastOp>();
    DenseIntElementsAttr codes;
    if (!storageCast ||
        !matchPattern(storageCast.getInput(), m_Constant(&codes))) {
      op->emitRemark("not converted to qtensor: the quantized value is not a "
                     "quant.scast of an integer constant");
      return failure();
    }
    auto element = dyn_cast<quant::QuantizedType>(quantType.getElementType());
    if (!element) {
      op->emitRemark("not converted to qtensor: element type is not quantized");
      return failure();
    }
    std::optional<ElementFormat> format =
        formatFor(element.isSigned(), element.getStorageTypeIntegralWidth());
    if (!format) {
      op->emitRemark("not converted to qtensor: storage width ")
          << element.getStorageTypeIntegralWidth()
          << " is outside the supported 2..8 bits";
      return failure();
    }

    unsigned rank = resultType.getRank();
    SmallVector<int64_t> block(rank, 0);
    SmallVector<int64_t> scaleShape(rank, 1);
    SmallVector<float> scales;
    SmallVector<int32_t> zeros;
    if (auto perTensor = dyn_cast<quant::UniformQuantizedType>(element)) {
      scales.push_back(float(perTensor.getScale()));
      zeros.push_back(int32_t(perTensor.getZeroPoint()));
    } else if (auto perAxis =
                   dyn_cast<quant::UniformQuantizedPerAxisType>(element)) {
      int32_t axis = perAxis.getQuantizedDimension();
      block[axis] = 1;
      scaleShape[axis] = resultType.getDimSize(axis);
      for (double s : perAxis.getScales())
        scales.push_back(float(s));
      for (int64_t z : perAxis.getZeroPoints())
        zeros.push_back(int32_t(z));
    } else {
      op->emitRemark("not converted to qtensor: only per-tensor and per-axis "
                     "!quant.uniform types are supported");
      return failure();
    }

    Location loc = op.getLoc();
    MLIRContext *ctx = getContext();
    SmallVector<int8_t> bytes;
    for (const APInt &v : codes.getValues<APInt>())
      bytes.push_back(static_cast<int8_t>(v.getZExtValue() & 0xFF));
    auto storageType =
        RankedTensorType::get(resultType.getShape(), IntegerType::get(ctx, 8));
    Value storage = arith::ConstantOp::create(
        rewriter, loc, DenseElementsAttr::get(storageType, ArrayRef(bytes)));
    auto scalesType = RankedTensorType::get(scaleShape, Float32Type::get(ctx));
    Value scalesValue = arith::ConstantOp::create(
        rewriter, loc, DenseElementsAttr::get(scalesType, ArrayRef(scales)));
    Value zeroPoints;
    if (llvm::any_of(zeros, [](int32_t z) { return z != 0; })) {
      auto zerosType =
          RankedTensorType::get(scaleShape, IntegerType::get(ctx, 32));
      zeroPoints = arith::ConstantOp::create(
          rewriter, loc, DenseElementsAttr::get(zerosType, ArrayRef(zeros)));
    }
    auto layout = LayoutAttr::get(ctx, *format, block, PackOrder::none);
    rewriter.replaceOpWithNewOp<DequantizeOp>(op, resultType, storage,
                                              scalesValue, zeroPoints,
                                              /*groupIndex=*/Value(), layout);
    return success();
  }
};

struct ConvertQuantToQTensorPass
    : qtensor::impl::ConvertQuantToQTensorPassBase<ConvertQuantToQTensorPass> {
  void runOnOperation() override {
    RewritePatternSet patterns(&getContext());
    patterns.add<DequantizeCastToQTensor>(&getContext());
    walkAndApplyPatterns(getOperation(), std::move(patterns));
  }
};
} // namespace
