//===- QuantRTN.cpp - Round-to-nearest weight quantization ----------------===//
//
// Part of the quant-opt project, under the Apache License v2.0 with LLVM
// Exceptions.
//
//===----------------------------------------------------------------------===//

#include "quant/Dialect/QTensor/Transforms/Passes.h"
#include "quant/Dialect/QTensor/Transforms/Transforms.h"
#include "quant/Dialect/QTensor/Utils/WeightMatching.h"
#include "quant/Numerics/Numerics.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"

#include <cmath>

namespace mlir {
namespace qtensor {
#define GEN_PASS_DEF_QUANTRTNPASS
#include "quant/Dialect/QTensor/Transforms/Passes.h.inc"
} // namespace qtensor
} // namespace mlir

using namespace mlir;
using namespace mlir::qtensor;
namespace num = quantopt::numerics;

//===----------------------------------------------------------------------===//
// The quantization
//===----------------------------------------------------------------------===//

/// The round-to-nearest codes, scales and zero-points of a matched weight.
static FailureOr<QuantizedWeight>
quantizeWeight(const ConstantWeightMatmul &match,
               const RTNQuantization &options) {
  const num::RTNOptions &rtn = options.numerics;
  if (rtn.groupSize > 0 && rtn.groupSize > match.cols)
    return match.op->emitError("quant-rtn: group-size ")
           << rtn.groupSize << " exceeds the reduction size " << match.cols
           << " of weight '" << match.name << "'";
  MLIRContext *ctx = match.op->getContext();
  // Quantize each [N, K] matrix of the batch.
  int64_t batches = match.batch ? match.batch : 1;
  int64_t rows = match.rows, cols = match.cols;
  QuantizedWeight q;
  unsigned bits = num::getBitWidth(rtn.format);
  PackOrder packing =
      options.pack && bits < 8 ? PackOrder::lsb_first : PackOrder::none;
  int64_t rowBytes = num::packedSize(cols, bits, packing);
  SmallVector<int64_t> block;
  if (match.batch)
    block.push_back(1);
  if (rtn.groupSize == 0) {
    block.append({0, 0});
    if (match.batch)
      block[0] = 1;
  } else {
    block.append({1, rtn.groupSize > 0 ? rtn.groupSize : 0});
  }
  q.layout = LayoutAttr::get(ctx, rtn.format, block, packing);
  switch (rtn.scaleType) {
  case num::RTNOptions::ScaleType::F32:
    q.scaleType = Float32Type::get(ctx);
    break;
  case num::RTNOptions::ScaleType::F16:
    q.scaleType = Float16Type::get(ctx);
    break;
  case num::RTNOptions::ScaleType::BF16:
    q.scaleType = BFloat16Type::get(ctx);
    break;
  }
  int64_t groups = 0, scaleRows = 0;
  for (int64_t b = 0; b < batches; ++b) {
    num::RTNResult result = num::quantizeRTN(
        match.weight.data() + b * rows * cols, rows, cols, rtn);
    groups = result.groups;
    scaleRows = result.scaleRows;
    size_t offset = q.storage.size();
    q.storage.resize(offset + rows * rowBytes);
    for (int64_t r = 0; r < rows; ++r)
      num::packCodes(result.codes.data() + r * cols, cols, bits, packing,
                     q.storage.data() + offset + r * rowBytes);
    q.scales.insert(q.scales.end(), result.scales.begin(), result.scales.end());
    q.zeros.insert(q.zeros.end(), result.zeros.begin(), result.zeros.end());
  }
  q.storageShape = {rows, rowBytes};
  q.scaleShape = {scaleRows, groups};
  if (match.batch) {
    q.storageShape.insert(q.storageShape.begin(), match.batch);
    q.scaleShape.insert(q.scaleShape.begin(), match.batch);
  }
  return q;
}

static LogicalResult checkOptions(Operation *root,
                                  const RTNQuantization &options) {
  if (options.numerics.groupSize < -1)
    return root->emitError("quant-rtn: group-size must be -1 (per channel), "
                           "0 (per tensor) or positive, got ")
           << options.numerics.groupSize;
  return success();
}

LogicalResult
mlir::qtensor::quantizeWeightsRTN(Operation *root,
                                  const RTNQuantization &options) {
  if (failed(checkOptions(root, options)))
    return failure();
  IRRewriter rewriter(root->getContext());
  WeightFilter filter;
  filter.passName = "quant-rtn";
  filter.skip = options.selection.skip;
  filter.select = options.selection.select;
  filter.explainSkips = options.selection.explainSkips;
  return forEachConstantWeightMatmul(
      root, filter, [&](ConstantWeightMatmul &match) -> LogicalResult {
        FailureOr<QuantizedWeight> q = quantizeWeight(match, options);
        if (failed(q))
          return failure();
        replaceWithDequantMatmul(rewriter, match, *q);
        return success();
      });
}

namespace {
/// quantizeWeightsRTN for one product, as a pattern.
struct QuantizeWeightRTNPattern : OpInterfaceRewritePattern<linalg::LinalgOp> {
  QuantizeWeightRTNPattern(MLIRContext *ctx, const RTNQuantization &options)
      : OpInterfaceRewritePattern(ctx), options(options) {}

  LogicalResult matchAndRewrite(linalg::LinalgOp op,
                                PatternRewriter &rewriter) const override {
    std::string reason;
    FailureOr<ConstantWeightMatmul> match =
        matchConstantWeightMatmul(op, reason, 0);
    if (failed(match))
      return rewriter.notifyMatchFailure(
          op, reason.empty() ? "not a weight-carrying product" : reason);
    if (findSkipPattern(match->name, options.selection.skip) ||
        (options.selection.select && !options.selection.select(*match)))
      return rewriter.notifyMatchFailure(op, "not selected");
    if (!llvm::all_of(match->weight, [](float v) { return std::isfinite(v); }))
      return rewriter.notifyMatchFailure(op, "the weight has NaN or Inf");
    if (options.numerics.groupSize > match->cols)
      return rewriter.notifyMatchFailure(op, "group larger than a row");
    FailureOr<QuantizedWeight> q = quantizeWeight(*match, options);
    if (failed(q))
      return failure();
    replaceWithDequantMatmul(rewriter, *match, *q);
    return success();
  }

  RTNQuantization options;
};
} // namespace

void mlir::qtensor::populateQuantizeWeightsRTNPatterns(
    RewritePatternSet &patterns, const RTNQuantization &options) {
  patterns.add<QuantizeWeightRTNPattern>(patterns.getContext(), options);
}

//===----------------------------------------------------------------------===//
// The pass
//===----------------------------------------------------------------------===//

namespace {
struct QuantRTNPass : qtensor::impl::QuantRTNPassBase<QuantRTNPass> {
  using Base::Base;
  void runOnOperation() override;
};
} // namespace

void QuantRTNPass::runOnOperation() {
  ModuleOp module = getOperation();
  RTNQuantization options;
  num::RTNOptions &rtn = options.numerics;
  switch (format) {
  case RTNFormat::Int:
    if (bits < 2 || bits > 8) {
      module.emitError("quant-rtn: bits must be in 2..8, got ")
          << static_cast<int64_t>(bits);
      return signalPassFailure();
    }
    rtn.format = num::getIntegerFormat(bits, symmetric);
    break;
  case RTNFormat::NF4:
    rtn.format = ElementFormat::nf4;
    break;
  case RTNFormat::FP4:
    rtn.format = ElementFormat::fp4;
    break;
  case RTNFormat::F8E4M3FN:
    rtn.format = ElementFormat::f8E4M3FN;
    break;
  case RTNFormat::F8E5M2:
    rtn.format = ElementFormat::f8E5M2;
    break;
  }
  rtn.groupSize = groupSize;
  rtn.symmetric = symmetric;
  rtn.scaleType =
      scaleType == ScaleElementType::F16    ? num::RTNOptions::ScaleType::F16
      : scaleType == ScaleElementType::BF16 ? num::RTNOptions::ScaleType::BF16
                                            : num::RTNOptions::ScaleType::F32;
  options.pack = pack;
  options.selection.skip.assign(skip.begin(), skip.end());
  options.selection.explainSkips = reportSkipped;
  if (failed(runWeightPass(
          module, getArgument(),
          [&] { return quantizeWeightsRTN(module, options); }, numQuantized,
          numLeftInFloat)))
    signalPassFailure();
}
