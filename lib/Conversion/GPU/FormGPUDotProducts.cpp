//===- FormGPUDotProducts.cpp - dp4a from four-byte dot products ---------===//
//
// Part of the quant-opt project, under the Apache License v2.0 with LLVM
// Exceptions.
//
//===----------------------------------------------------------------------===//

#include "quant/Conversion/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/LLVMIR/NVVMDialect.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/IR/PatternMatch.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

namespace mlir {
namespace qtensor {
#define GEN_PASS_DEF_FORMGPUDOTPRODUCTSPASS
#include "quant/Conversion/Passes.h.inc"
} // namespace qtensor
} // namespace mlir

using namespace mlir;

namespace {

/// The vector<4xi8> that `value` sign-extends to vector<4xi32>, or null.
Value getSignExtendedBytes(Value value) {
  auto extend = value.getDefiningOp<arith::ExtSIOp>();
  if (!extend)
    return Value();
  auto type = dyn_cast<VectorType>(extend.getIn().getType());
  if (!type || type.getShape() != ArrayRef<int64_t>{4} ||
      !type.getElementType().isInteger(8))
    return Value();
  return extend.getIn();
}

/// acc + sum(extsi(a) * extsi(b)) over 4 lanes -> dp4a(a, b, acc).
struct FormDotAccumulate : OpRewritePattern<vector::ReductionOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(vector::ReductionOp reduction,
                                PatternRewriter &rewriter) const override {
    if (reduction.getKind() != vector::CombiningKind::ADD ||
        !reduction.getAcc() || !reduction.getType().isInteger(32))
      return failure();
    auto product = reduction.getVector().getDefiningOp<arith::MulIOp>();
    if (!product)
      return failure();
    Value a = getSignExtendedBytes(product.getLhs());
    Value b = getSignExtendedBytes(product.getRhs());
    if (!a || !b)
      return failure();
    auto isSigned = NVVM::DotAccumulateTypeAttr::get(
        getContext(), NVVM::DotAccumulateType::SIGNED);
    rewriter.replaceOpWithNewOp<NVVM::DotAccumulate4WayOp>(
        reduction, rewriter.getI32Type(), a, isSigned, b, isSigned,
        reduction.getAcc());
    return success();
  }
};

struct FormGPUDotProductsPass
    : qtensor::impl::FormGPUDotProductsPassBase<FormGPUDotProductsPass> {
  void runOnOperation() override {
    RewritePatternSet patterns(&getContext());
    patterns.add<FormDotAccumulate>(&getContext());
    if (failed(applyPatternsGreedily(getOperation(), std::move(patterns))))
      signalPassFailure();
  }
};

} // namespace
