//===- DequantMatmul.cpp - dequant_matmul to linalg -----------------------===//
//
// Part of the quant-opt project, under the Apache License v2.0 with LLVM
// Exceptions.
//
//===----------------------------------------------------------------------===//
//
// qtensor.dequant_matmul becomes one reduction whose body reads the packed
// codes, scales and zero-points of each weight element and decodes it in
// registers: no float copy of the weight exists.
//
//===----------------------------------------------------------------------===//

#include "QuantizedElements.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"

using namespace mlir;
using namespace mlir::qtensor;
using namespace mlir::qtensor::lowering;

namespace {
/// dequant_matmul -> one reduction linalg.generic decoding weights inline.
struct DequantMatmulLowering : OpRewritePattern<DequantMatmulOp> {
  using Base::Base;
  LogicalResult matchAndRewrite(DequantMatmulOp op,
                                PatternRewriter &rewriter) const override {
    // Products with a gated epilogue are split first.
    if (getGatedEpilogue(op))
      return failure();
    Location loc = op.getLoc();
    MLIRContext *ctx = getContext();
    RankedTensorType inputType = op.getInput().getType();
    unsigned inRank = inputType.getRank();
    SmallVector<int64_t> weightShape = op.getWeightShape();
    bool batched = weightShape.size() == 3;
    // Loops: the input's leading dims, n, k.
    unsigned numLoops = inRank + 1;
    unsigned nDim = inRank - 1, kDim = inRank;
    SmallVector<unsigned> weightDims;
    if (batched)
      weightDims = {0, nDim, kDim};
    else
      weightDims = {nDim, kDim};
    QuantizedReader reader{
        op.getLayout(),     op.getStorage(), op.getScales(), op.getZeroPoints(),
        op.getGroupIndex(), weightShape,     weightDims};
    SmallVector<Value> inputs{op.getInput()};
    SmallVector<AffineExpr> inExprs, outExprs;
    for (unsigned i = 0; i + 1 < inRank; ++i) {
      inExprs.push_back(getAffineDimExpr(i, ctx));
      outExprs.push_back(getAffineDimExpr(i, ctx));
    }
    inExprs.push_back(getAffineDimExpr(kDim, ctx));
    outExprs.push_back(getAffineDimExpr(nDim, ctx));
    SmallVector<AffineMap> maps{AffineMap::get(numLoops, 0, inExprs, ctx)};
    auto args = reader.addInputs(ctx, numLoops, inputs, maps);
    maps.push_back(AffineMap::get(numLoops, 0, outExprs, ctx));
    SmallVector<utils::IteratorType> iterators(numLoops,
                                               utils::IteratorType::parallel);
    iterators[kDim] = utils::IteratorType::reduction;
    Value table = maybeCreateTable(rewriter, loc, op.getLayout());
    auto generic = linalg::GenericOp::create(
        rewriter, loc, op.getResult().getType(), inputs, op.getInit(), maps,
        iterators, [&](OpBuilder &b, Location l, ValueRange blockArgs) {
          Value x = toF32(b, l, blockArgs[0]);
          Value w = reader.decode(b, l, args, blockArgs, table);
          Value acc = blockArgs.back();
          // The accumulation order of a matmul is unspecified; allowing
          // reassociation lets LLVM vectorise the reduction.
          Value sum = arith::AddFOp::create(
              b, l, acc, arith::MulFOp::create(b, l, x, w),
              arith::FastMathFlagsAttr::get(b.getContext(),
                                            arith::FastMathFlags::reassoc));
          yieldValue(b, l, sum);
        });
    rewriter.replaceOp(op, generic.getResults());
    return success();
  }
};
} // namespace

void lowering::populateDequantMatmulLoweringPatterns(
    RewritePatternSet &patterns) {
  patterns.add<DequantMatmulLowering>(patterns.getContext());
}
