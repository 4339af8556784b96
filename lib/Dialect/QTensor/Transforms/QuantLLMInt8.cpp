//===- QuantLLMInt8.cpp - LLM.int8() outlier decomposition ----------------===//
//
// Part of the quant-opt project, under the Apache License v2.0 with LLVM
// Exceptions.
//
//===----------------------------------------------------------------------===//

#include "quant/Dialect/QTensor/Transforms/Passes.h"
#include "quant/Dialect/QTensor/Utils/ScaleFolding.h"
#include "quant/Numerics/Numerics.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"

#include <cmath>

namespace mlir {
namespace qtensor {
#define GEN_PASS_DEF_QUANTLLMINT8PASS
#include "quant/Dialect/QTensor/Transforms/Passes.h.inc"
} // namespace qtensor
} // namespace mlir

using namespace mlir;
using namespace mlir::qtensor;
namespace num = quantopt::numerics;

namespace {
struct QuantLLMInt8Pass
    : qtensor::impl::QuantLLMInt8PassBase<QuantLLMInt8Pass> {
  using Base::Base;
  void runOnOperation() override;

private:
  /// The pass proper; runOnOperation reports what it quantized.
  LogicalResult quantize();
};

/// The run-time decomposition of one shared input.
struct OutlierSplit {
  /// int8 codes of the input without its outlier columns, and their
  /// per-token scales.
  Value codes, scales;
  /// The input with everything but the outlier columns zeroed.
  Value outliers;
};
} // namespace

static Value f32Constant(OpBuilder &b, Location loc, float v) {
  return arith::ConstantOp::create(b, loc, b.getF32FloatAttr(v));
}

static void yieldValue(OpBuilder &b, Location loc, Value v) {
  linalg::YieldOp::create(b, loc, ValueRange{v});
}

/// Emits the outlier detection and activation quantization for `input`
/// ([..., K] f32, static shape).
static OutlierSplit splitOutliers(OpBuilder &b, Location loc, Value input,
                                  float threshold) {
  MLIRContext *ctx = b.getContext();
  auto type = cast<RankedTensorType>(input.getType());
  unsigned rank = type.getRank();
  int64_t k = type.getShape().back();
  AffineMap identity = b.getMultiDimIdentityMap(rank);
  AffineMap channel =
      AffineMap::get(rank, 0, getAffineDimExpr(rank - 1, ctx), ctx);
  SmallVector<utils::IteratorType> parallel(rank,
                                            utils::IteratorType::parallel);
  SmallVector<utils::IteratorType> columns(rank,
                                           utils::IteratorType::reduction);
  columns.back() = utils::IteratorType::parallel;
  Value t = f32Constant(b, loc, threshold);

  // mask[c] = 1 when column c holds any |x| >= threshold.
  auto maskType = RankedTensorType::get({k}, b.getF32Type());
  Value maskInit =
      linalg::FillOp::create(
          b, loc, f32Constant(b, loc, 0.0f),
          tensor::EmptyOp::create(b, loc, maskType.getShape(), b.getF32Type())
              .getResult())
          .getResult(0);
  Value mask = linalg::GenericOp::create(
                   b, loc, maskType, input, maskInit,
                   ArrayRef<AffineMap>{identity, channel}, columns,
                   [&](OpBuilder &nb, Location l, ValueRange args) {
                     Value big = arith::CmpFOp::create(
                         nb, l, arith::CmpFPredicate::OGE,
                         math::AbsFOp::create(nb, l, args[0]), t);
                     Value one = arith::SelectOp::create(
                         nb, l, big, f32Constant(nb, l, 1.0f), args[1]);
                     yieldValue(nb, l, one);
                   })
                   .getResult(0);

  auto emptyLike = [&](Type element) {
    return tensor::EmptyOp::create(b, loc, type.getShape(), element)
        .getResult();
  };
  // x' = x with the outlier elements zeroed; the outlier part keeps x only
  // in the outlier columns.
  Value inliers =
      linalg::GenericOp::create(
          b, loc, type, input, emptyLike(b.getF32Type()),
          ArrayRef<AffineMap>{identity, identity}, parallel,
          [&](OpBuilder &nb, Location l, ValueRange args) {
            Value big =
                arith::CmpFOp::create(nb, l, arith::CmpFPredicate::OGE,
                                      math::AbsFOp::create(nb, l, args[0]), t);
            yieldValue(nb, l,
                       arith::SelectOp::create(
                           nb, l, big, f32Constant(nb, l, 0.0f), args[0]));
          })
          .getResult(0);
  Value outliers =
      linalg::GenericOp::create(
          b, loc, type, ValueRange{input, mask}, emptyLike(b.getF32Type()),
          ArrayRef<AffineMap>{identity, channel, identity}, parallel,
          [&](OpBuilder &nb, Location l, ValueRange args) {
            Value isOutlier =
                arith::CmpFOp::create(nb, l, arith::CmpFPredicate::OGT, args[1],
                                      f32Constant(nb, l, 0.0f));
            yieldValue(nb, l,
                       arith::SelectOp::create(nb, l, isOutlier, args[0],
                                               f32Constant(nb, l, 0.0f)));
          })
          .getResult(0);

  SmallVector<int64_t> scaleShape(type.getShape());
  scaleShape.back() = 1;
  auto quantized = DynamicQuantizeOp::create(
      b, loc, RankedTensorType::get(type.getShape(), b.getI8Type()),
      RankedTensorType::get(scaleShape, b.getF32Type()), inliers,
      b.getI32IntegerAttr(8));
  // The outlier columns are dropped from the int8 part.
  Value codes =
      linalg::GenericOp::create(
          b, loc, RankedTensorType::get(type.getShape(), b.getI8Type()),
          ValueRange{quantized.getCodes(), mask}, emptyLike(b.getI8Type()),
          ArrayRef<AffineMap>{identity, channel, identity}, parallel,
          [&](OpBuilder &nb, Location l, ValueRange args) {
            Value isOutlier =
                arith::CmpFOp::create(nb, l, arith::CmpFPredicate::OGT, args[1],
                                      f32Constant(nb, l, 0.0f));
            Value zero =
                arith::ConstantOp::create(nb, l, nb.getI8IntegerAttr(0));
            yieldValue(
                nb, l,
                arith::SelectOp::create(nb, l, isOutlier, zero, args[0]));
          })
          .getResult(0);
  return {codes, quantized.getScales(), outliers};
}

void QuantLLMInt8Pass::runOnOperation() {
  if (failed(runWeightPass(
          getOperation(), getArgument(), [&] { return quantize(); },
          numQuantized, numLeftInFloat)))
    signalPassFailure();
}

LogicalResult QuantLLMInt8Pass::quantize() {
  ModuleOp module = getOperation();
  if (!(threshold > 0.0)) {
    module.emitError("quant-llm-int8: threshold must be positive, got ")
        << static_cast<double>(threshold);
    return failure();
  }
  MLIRContext *ctx = &getContext();
  WeightFilter filter;
  filter.passName = "quant-llm-int8";
  filter.explainSkips = reportSkipped;
  filter.skip = skip;
  SmallVector<InputGroup> groups = collectInputGroups(module, filter);
  for (InputGroup &group : groups) {
    SmallVector<ConstantWeightMatmul *> targets;
    for (ConstantWeightMatmul &linear : group.linears) {
      if (quantizeHead || !isOutputHead(linear.op))
        targets.push_back(&linear);
      else if (reportSkipped)
        linear.op->emitRemark("quant-llm-int8: weight '")
            << linear.name
            << "' is left in float: it is the output head (quantize-head=true "
               "quantizes it)";
    }
    auto inputType = cast<RankedTensorType>(group.input.getType());
    if (!targets.empty() && !inputType.hasStaticShape() && reportSkipped)
      for (ConstantWeightMatmul *linear : targets)
        linear->op->emitRemark("quant-llm-int8: weight '")
            << linear->name
            << "' is left in float: its activations have a dynamic shape";
    if (targets.empty() || !inputType.hasStaticShape())
      continue;
    for (ConstantWeightMatmul *linear : targets)
      if (failed(checkFiniteWeight(*linear)))
        return failure();
    OpBuilder builder(targets.front()->op);
    OutlierSplit split = splitOutliers(builder, targets.front()->op->getLoc(),
                                       group.input, float(double(threshold)));

    for (ConstantWeightMatmul *linear : targets) {
      int64_t rows = linear->rows, cols = linear->cols;
      // Vector-wise int8 weights: SCB = max |W[n, :]|, s = SCB / 127.
      std::vector<int8_t> codes;
      std::vector<float> scales;
      num::quantizeSymmetricInt8(linear->weight.data(), rows, cols,
                                 /*groupSize=*/0, codes, scales);
      builder.setInsertionPoint(linear->op);
      Location loc = NameLoc::get(builder.getStringAttr(linear->name),
                                  linear->op->getLoc());
      Value weight = createRawConstant(
          builder, loc,
          RankedTensorType::get({rows, cols}, builder.getI8Type()),
          ArrayRef<char>(reinterpret_cast<const char *>(codes.data()),
                         codes.size()),
          linear->fromResource, linear->name + ".int8");
      Value weightScales = createF32Constant(builder, loc, {rows, 1}, scales,
                                             false, linear->name + ".scb");
      // Outlier part: float activations times the int8-dequantized columns,
      // then the int8 part accumulated on top.
      auto layout = LayoutAttr::get(ctx, ElementFormat::si8,
                                    ArrayRef<int64_t>{1, 0}, PackOrder::none);
      auto outlierPart = DequantMatmulOp::create(
          builder, loc, linear->init.getType(), split.outliers, weight,
          weightScales, /*zeroPoints=*/Value(), /*groupIndex=*/Value(),
          linear->init, layout);
      auto product = QuantizedMatmulOp::create(
          builder, loc, linear->init.getType(), split.codes, split.scales,
          weight, weightScales, outlierPart.getResult());
      product->setAttr(kWeightNameAttr, builder.getStringAttr(linear->name));
      Value floatWeight = linear->op->getOperand(linear->weightOperand);
      linear->op->replaceAllUsesWith(product->getResults());
      linear->op->erase();
      eraseIfDeadConstant(floatWeight);
    }
  }
  return success();
}
