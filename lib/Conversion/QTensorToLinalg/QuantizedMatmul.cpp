//===- QuantizedMatmul.cpp - W8A8 ops to linalg ---------------------------===//
//
// Part of the quant-opt project, under the Apache License v2.0 with LLVM
// Exceptions.
//
//===----------------------------------------------------------------------===//
//
// The W8A8 ops: dynamic_quantize (absmax scales per token or per tensor,
// then int8 codes) and quantized_matmul (exact i32 sums per output and
// weight group, then the f32 scale epilogue).
//
//===----------------------------------------------------------------------===//

#include "QuantizedElements.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"

using namespace mlir;
using namespace mlir::qtensor;
using namespace mlir::qtensor::lowering;

namespace {
/// dynamic_quantize -> absmax reduction, scale, encode.
struct DynamicQuantizeLowering : OpRewritePattern<DynamicQuantizeOp> {
  using Base::Base;
  LogicalResult matchAndRewrite(DynamicQuantizeOp op,
                                PatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    MLIRContext *ctx = getContext();
    RankedTensorType inputType = op.getInput().getType();
    RankedTensorType scalesType = op.getScales().getType();
    RankedTensorType codesType = op.getCodes().getType();
    unsigned rank = inputType.getRank();
    float qmax = float((1 << (op.getBits() - 1)) - 1);
    AffineMap identity = rewriter.getMultiDimIdentityMap(rank);
    // Per token: dims but the last index the scale; per tensor: none does.
    bool perTensor = op.isPerTensor();
    SmallVector<AffineExpr> rowExprs;
    SmallVector<utils::IteratorType> reduceIterators(
        rank, utils::IteratorType::parallel);
    for (unsigned i = 0; i < rank; ++i) {
      bool reduced = perTensor || i + 1 == rank;
      rowExprs.push_back(reduced ? getAffineConstantExpr(0, ctx)
                                 : getAffineDimExpr(i, ctx));
      if (reduced)
        reduceIterators[i] = utils::IteratorType::reduction;
    }
    AffineMap rowMap = AffineMap::get(rank, 0, rowExprs, ctx);

    Value zero = f32Const(rewriter, loc, 0.0f);
    Value absInit =
        linalg::FillOp::create(rewriter, loc, zero,
                               createEmptyLike(rewriter, loc, scalesType,
                                               op.getInput(), perTensor))
            .getResult(0);
    auto absMax = linalg::GenericOp::create(
        rewriter, loc, scalesType, op.getInput(), absInit,
        ArrayRef<AffineMap>{identity, rowMap}, reduceIterators,
        [&](OpBuilder &b, Location l, ValueRange args) {
          Value a = math::AbsFOp::create(b, l, toF32(b, l, args[0]));
          yieldValue(b, l, arith::MaxNumFOp::create(b, l, a, args[1]));
        });
    SmallVector<utils::IteratorType> parallel(rank,
                                              utils::IteratorType::parallel);
    AffineMap scaleIdentity = rewriter.getMultiDimIdentityMap(rank);
    auto scales = linalg::GenericOp::create(
        rewriter, loc, scalesType, absMax.getResult(0),
        createEmptyLike(rewriter, loc, scalesType, op.getInput(), perTensor),
        ArrayRef<AffineMap>{scaleIdentity, scaleIdentity}, parallel,
        [&](OpBuilder &b, Location l, ValueRange args) {
          Value clamped =
              arith::MaxNumFOp::create(b, l, args[0], f32Const(b, l, 1e-5f));
          yieldValue(
              b, l, arith::DivFOp::create(b, l, clamped, f32Const(b, l, qmax)));
        });
    auto codes = linalg::GenericOp::create(
        rewriter, loc, codesType,
        ValueRange{op.getInput(), scales.getResult(0)},
        createEmptyLike(rewriter, loc, codesType, op.getInput()),
        ArrayRef<AffineMap>{identity, rowMap, identity}, parallel,
        [&](OpBuilder &b, Location l, ValueRange args) {
          Value y = arith::DivFOp::create(b, l, toF32(b, l, args[0]), args[1]);
          Value r = math::RoundEvenOp::create(b, l, y);
          Value c = arith::MinNumFOp::create(
              b, l, arith::MaxNumFOp::create(b, l, r, f32Const(b, l, -qmax)),
              f32Const(b, l, qmax));
          yieldValue(b, l, arith::FPToSIOp::create(b, l, b.getI8Type(), c));
        });
    rewriter.replaceOp(op, {codes.getResult(0), scales.getResult(0)});
    return success();
  }
};

/// quantized_matmul -> i32 contraction per (row, n, group), then an f32
/// epilogue reducing the groups into init.
struct QuantizedMatmulLowering : OpRewritePattern<QuantizedMatmulOp> {
  using Base::Base;
  LogicalResult matchAndRewrite(QuantizedMatmulOp op,
                                PatternRewriter &rewriter) const override {
    // Products with a gated epilogue are split first.
    if (getGatedEpilogue(op))
      return failure();
    Location loc = op.getLoc();
    MLIRContext *ctx = getContext();
    RankedTensorType inputType = op.getInput().getType();
    RankedTensorType initType = op.getInit().getType();
    unsigned lead = inputType.getRank() - 1;
    int64_t n = op.getWeight().getType().getDimSize(0);
    int64_t k = op.getWeight().getType().getDimSize(1);
    int64_t groups = op.getWeightScales().getType().getDimSize(1);
    int64_t groupSize = k / groups;
    if (ShapedType::isDynamic(n))
      return rewriter.notifyMatchFailure(op, "dynamic N");

    // acc[lead.., n, g] = sum_kk x[lead.., g, kk] * w[n, g, kk] over the
    // operands with K split into [G, K/G].
    unsigned accLoops = lead + 3;
    auto dim = [&](unsigned i) { return getAffineDimExpr(i, ctx); };
    SmallVector<ReassociationIndices> xGroups;
    SmallVector<int64_t> xSplitShape;
    for (unsigned i = 0; i < lead; ++i) {
      xGroups.push_back({int64_t(i)});
      xSplitShape.push_back(inputType.getDimSize(i));
    }
    xGroups.push_back({int64_t(lead), int64_t(lead + 1)});
    xSplitShape.append({groups, groupSize});
    SmallVector<OpFoldResult> xOutputShape;
    for (unsigned i = 0; i < lead; ++i)
      xOutputShape.push_back(
          inputType.isDynamicDim(i)
              ? OpFoldResult(
                    tensor::DimOp::create(rewriter, loc, op.getInput(), i)
                        .getResult())
              : OpFoldResult(rewriter.getIndexAttr(inputType.getDimSize(i))));
    xOutputShape.append(
        {rewriter.getIndexAttr(groups), rewriter.getIndexAttr(groupSize)});
    Value xSplit = tensor::ExpandShapeOp::create(
        rewriter, loc, RankedTensorType::get(xSplitShape, rewriter.getI8Type()),
        op.getInput(), xGroups, xOutputShape);
    Value wSplit = tensor::ExpandShapeOp::create(
        rewriter, loc,
        RankedTensorType::get({n, groups, groupSize}, rewriter.getI8Type()),
        op.getWeight(), ArrayRef<ReassociationIndices>{{0}, {1, 2}});
    SmallVector<AffineExpr> xExprs, accExprs;
    for (unsigned i = 0; i < lead; ++i) {
      xExprs.push_back(dim(i));
      accExprs.push_back(dim(i));
    }
    xExprs.append({dim(lead + 1), dim(lead + 2)});
    accExprs.append({dim(lead), dim(lead + 1)});
    AffineMap xMap = AffineMap::get(accLoops, 0, xExprs, ctx);
    AffineMap wMap = AffineMap::get(
        accLoops, 0, {dim(lead), dim(lead + 1), dim(lead + 2)}, ctx);
    AffineMap accMap = AffineMap::get(accLoops, 0, accExprs, ctx);
    SmallVector<int64_t> accShape(initType.getShape());
    accShape.push_back(groups);
    auto accType = RankedTensorType::get(accShape, rewriter.getI32Type());
    SmallVector<Value> dynamicSizes;
    for (unsigned i = 0; i < lead; ++i)
      if (initType.isDynamicDim(i))
        dynamicSizes.push_back(
            tensor::DimOp::create(rewriter, loc, op.getInit(), i));
    Value accEmpty = tensor::EmptyOp::create(
        rewriter, loc, accShape, rewriter.getI32Type(), dynamicSizes);
    Value accInit = linalg::FillOp::create(rewriter, loc,
                                           i32Const(rewriter, loc, 0), accEmpty)
                        .getResult(0);
    SmallVector<utils::IteratorType> accIterators(
        accLoops, utils::IteratorType::parallel);
    accIterators.back() = utils::IteratorType::reduction;
    auto acc = linalg::GenericOp::create(
        rewriter, loc, accType, ValueRange{xSplit, wSplit}, accInit,
        ArrayRef<AffineMap>{xMap, wMap, accMap}, accIterators,
        [&](OpBuilder &b, Location l, ValueRange args) {
          Value x = arith::ExtSIOp::create(b, l, b.getI32Type(), args[0]);
          Value w = arith::ExtSIOp::create(b, l, b.getI32Type(), args[1]);
          Value product = arith::MulIOp::create(b, l, x, w);
          yieldValue(b, l, arith::AddIOp::create(b, l, args[2], product));
        });

    // result[lead.., n] = init + sum_g (f32(acc) * sx) * sw[n, g]
    unsigned outLoops = lead + 2;
    auto odim = [&](unsigned i) { return getAffineDimExpr(i, ctx); };
    SmallVector<AffineExpr> accIn, sxExprs, outExprs;
    ArrayRef<int64_t> sxShape = op.getInputScales().getType().getShape();
    bool perTensor = llvm::all_of(sxShape, [](int64_t d) { return d == 1; });
    for (unsigned i = 0; i < lead; ++i) {
      accIn.push_back(odim(i));
      outExprs.push_back(odim(i));
      sxExprs.push_back(perTensor ? getAffineConstantExpr(0, ctx) : odim(i));
    }
    accIn.append({odim(lead), odim(lead + 1)});
    sxExprs.push_back(getAffineConstantExpr(0, ctx));
    outExprs.push_back(odim(lead));
    bool perTensorWeight =
        op.getWeightScales().getType().getDimSize(0) == 1 && n != 1;
    AffineExpr swRow =
        perTensorWeight ? getAffineConstantExpr(0, ctx) : odim(lead);
    SmallVector<AffineMap> maps = {
        AffineMap::get(outLoops, 0, accIn, ctx),
        AffineMap::get(outLoops, 0, sxExprs, ctx),
        AffineMap::get(outLoops, 0, {swRow, odim(lead + 1)}, ctx),
        AffineMap::get(outLoops, 0, outExprs, ctx)};
    SmallVector<utils::IteratorType> outIterators(
        outLoops, utils::IteratorType::parallel);
    outIterators.back() = utils::IteratorType::reduction;
    auto result = linalg::GenericOp::create(
        rewriter, loc, initType,
        ValueRange{acc.getResult(0), op.getInputScales(), op.getWeightScales()},
        op.getInit(), maps, outIterators,
        [&](OpBuilder &b, Location l, ValueRange args) {
          Value a = arith::SIToFPOp::create(b, l, b.getF32Type(), args[0]);
          Value scaled = arith::MulFOp::create(
              b, l, arith::MulFOp::create(b, l, a, args[1]), args[2]);
          yieldValue(b, l, arith::AddFOp::create(b, l, args[3], scaled));
        });
    rewriter.replaceOp(op, result.getResults());
    return success();
  }
};
} // namespace

void lowering::populateQuantizedMatmulLoweringPatterns(
    RewritePatternSet &patterns) {
  patterns.add<DynamicQuantizeLowering, QuantizedMatmulLowering>(
      patterns.getContext());
}
