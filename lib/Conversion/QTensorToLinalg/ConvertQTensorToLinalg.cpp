//===- ConvertQTensorToLinalg.cpp - qtensor to linalg lowering ------------===//
//
// Part of the quant-opt project, under the Apache License v2.0 with LLVM
// Exceptions.
//
//===----------------------------------------------------------------------===//
//
// The --convert-qtensor-to-linalg pass: every qtensor op becomes linalg /
// arith / math / tensor code with the op's exact element numerics. The
// patterns live with their op family (QuantizeOps.cpp, DequantMatmul.cpp,
// QuantizedMatmul.cpp, GGMLToLinalg.cpp); QuantizedElements.h holds what
// they share.
//
//===----------------------------------------------------------------------===//

#include "QuantizedElements.h"
#include "quant/Conversion/Passes.h"
#include "quant/Dialect/QTensor/Utils/GatedEpilogue.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Transforms/DialectConversion.h"

namespace mlir {
namespace qtensor {
#define GEN_PASS_DEF_CONVERTQTENSORTOLINALGPASS
#include "quant/Conversion/Passes.h.inc"
} // namespace qtensor
} // namespace mlir

using namespace mlir;
using namespace mlir::qtensor;

namespace {
/// A product with a gated epilogue becomes the plain product and an
/// elementwise generic, which the other patterns and linalg lower.
struct DecomposeGatedEpilogue : RewritePattern {
  DecomposeGatedEpilogue(MLIRContext *context)
      : RewritePattern(MatchAnyOpTypeTag(), /*benefit=*/2, context) {}
  LogicalResult matchAndRewrite(Operation *op,
                                PatternRewriter &rewriter) const override {
    if (!isa<DequantMatmulOp, GGMLMatmulOp, QuantizedMatmulOp>(op) ||
        !getGatedEpilogue(op))
      return failure();
    decomposeGatedEpilogue(rewriter, op);
    return success();
  }
};

struct ConvertQTensorToLinalgPass
    : qtensor::impl::ConvertQTensorToLinalgPassBase<
          ConvertQTensorToLinalgPass> {
  void runOnOperation() override;
};
} // namespace

void mlir::qtensor::populateQTensorToLinalgPatterns(
    RewritePatternSet &patterns) {
  patterns.add<DecomposeGatedEpilogue>(patterns.getContext());
  lowering::populateQuantizeOpLoweringPatterns(patterns);
  lowering::populateDequantMatmulLoweringPatterns(patterns);
  lowering::populateQuantizedMatmulLoweringPatterns(patterns);
  populateGGMLToLinalgPatterns(patterns);
}

void ConvertQTensorToLinalgPass::runOnOperation() {
  RewritePatternSet patterns(&getContext());
  populateQTensorToLinalgPatterns(patterns);
  ConversionTarget target(getContext());
  target.addIllegalDialect<QTensorDialect>();
  target.addLegalDialect<arith::ArithDialect, linalg::LinalgDialect,
                         math::MathDialect, tensor::TensorDialect>();
  target.markUnknownOpDynamicallyLegal([](Operation *) { return true; });
  target.addIllegalDialect<QTensorDialect>();
  if (failed(
          applyPartialConversion(getOperation(), target, std::move(patterns))))
    signalPassFailure();
}
