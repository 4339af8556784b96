//===- QuantBnb.cpp - bitsandbytes NF4 / FP4 weight quantization ----------===//
//
// Part of the quant-opt project, under the Apache License v2.0 with LLVM
// Exceptions.
//
//===----------------------------------------------------------------------===//
//
// Replaces each product with a constant weight by qtensor.dequant_matmul over
// bitsandbytes' quantize_4bit of the flattened [N, K] weight (codes and
// absmax bit for bit, quant/Numerics/Bitsandbytes.h), optionally with the
// absmax double-quantized: a qtensor.dequantize of 8-bit dynamic-map codes
// plus the offset feeds the scales operand.
//
//===----------------------------------------------------------------------===//

#include "quant/Dialect/QTensor/Transforms/Passes.h"
#include "quant/Dialect/QTensor/Utils/WeightMatching.h"
#include "quant/Numerics/Bitsandbytes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"

namespace mlir {
namespace qtensor {
#define GEN_PASS_DEF_QUANTBNBPASS
#include "quant/Dialect/QTensor/Transforms/Passes.h.inc"
} // namespace qtensor
} // namespace mlir

using namespace mlir;
using namespace mlir::qtensor;
namespace num = quantopt::numerics;

namespace {
struct QuantBnbPass : qtensor::impl::QuantBnbPassBase<QuantBnbPass> {
  using Base::Base;
  void runOnOperation() override;

private:
  /// The pass proper; runOnOperation reports what it quantized.
  LogicalResult quantize();
};
} // namespace

/// absmax = dequantize(codes, absmax2, <dynamic8, block = [256]>) + offset,
/// shaped like the 4-bit op's scales (`scaleShape`).
static Value createDoubleQuantScales(OpBuilder &builder, Location loc,
                                     const num::Blockwise4bit &q,
                                     ArrayRef<int64_t> scaleShape,
                                     bool asResource, const std::string &name) {
  MLIRContext *ctx = builder.getContext();
  const num::Blockwise8bit &codes = q.absmaxCodes;
  Type f32 = Float32Type::get(ctx);
  auto codesType =
      RankedTensorType::get({codes.count}, IntegerType::get(ctx, 8));
  Value codeValues = createRawConstant(
      builder, loc, codesType,
      ArrayRef<char>(reinterpret_cast<const char *>(codes.codes.data()),
                     codes.codes.size()),
      asResource, name + ".absmax");
  Value absmax2 = createF32Constant(
      builder, loc, {static_cast<int64_t>(codes.absmax.size())}, codes.absmax,
      /*asResource=*/false, name + ".nested_absmax");
  auto scaleType = RankedTensorType::get(scaleShape, f32);
  auto layout =
      LayoutAttr::get(ctx, ElementFormat::dynamic8,
                      {num::kBnbDoubleQuantBlocksize}, PackOrder::none);
  Value decoded = DequantizeOp::create(
      builder, loc, scaleType, codeValues, absmax2,
      /*zeroPoints=*/nullptr, /*groupIndex=*/nullptr, layout);
  Value offset = arith::ConstantOp::create(
      builder, loc,
      DenseElementsAttr::get(RankedTensorType::get({}, f32),
                             ArrayRef<float>(q.offset)));
  unsigned rank = scaleShape.size();
  AffineMap identity = builder.getMultiDimIdentityMap(rank);
  AffineMap scalar = AffineMap::get(rank, 0, {}, ctx);
  Value init = tensor::EmptyOp::create(builder, loc, scaleShape, f32);
  SmallVector<utils::IteratorType> parallel(rank,
                                            utils::IteratorType::parallel);
  auto add = linalg::GenericOp::create(
      builder, loc, scaleType, ValueRange{decoded, offset}, init,
      ArrayRef<AffineMap>{identity, scalar, identity}, parallel,
      [](OpBuilder &b, Location l, ValueRange args) {
        linalg::YieldOp::create(
            b, l, ValueRange{arith::AddFOp::create(b, l, args[0], args[1])});
      });
  return add.getResult(0);
}

void QuantBnbPass::runOnOperation() {
  if (failed(runWeightPass(
          getOperation(), getArgument(), [&] { return quantize(); },
          numQuantized, numLeftInFloat)))
    signalPassFailure();
}

LogicalResult QuantBnbPass::quantize() {
  ModuleOp module = getOperation();
  MLIRContext *ctx = &getContext();
  ElementFormat layoutFormat =
      format == BnbFormat::NF4 ? ElementFormat::nf4 : ElementFormat::fp4;
  if (!num::isBnbBlocksize(blocksize)) {
    module.emitError("quant-bnb: blocksize must be a power of two in "
                     "[32, 4096], got ")
        << static_cast<int64_t>(blocksize);
    return failure();
  }

  IRRewriter builder(ctx);
  WeightFilter filter;
  filter.passName = "quant-bnb";
  filter.explainSkips = reportSkipped;
  filter.skip = skip;
  // bitsandbytes quantizes Linear weights.
  filter.skipBatched = true;
  auto quantizeOne = [&](ConstantWeightMatmul &match) -> LogicalResult {
    int64_t rows = match.rows, cols = match.cols;
    num::Blockwise4bit q;
    std::string error;
    if (!num::quantize4bit(match.weight.data(), rows * cols, layoutFormat,
                           blocksize, doubleQuant, q, &error)) {
      return match.op->emitError("quant-bnb: ") << error;
    }
    // With K a multiple of the block size (hence even), blocks and bytes
    // never straddle rows and the per-row form stores the same bytes.
    bool perRow = cols % blocksize == 0;
    QuantizedWeight w;
    w.layout = LayoutAttr::get(ctx, layoutFormat,
                               perRow ? ArrayRef<int64_t>{1, blocksize}
                                      : ArrayRef<int64_t>{blocksize},
                               PackOrder::msb_first);
    w.storage = q.packed;
    w.scaleType = Float32Type::get(ctx);
    if (perRow) {
      w.storageShape = {rows, cols / 2};
      w.scaleShape = {rows, cols / blocksize};
    } else {
      w.storageShape = {static_cast<int64_t>(q.packed.size())};
      w.scaleShape = {q.blocks()};
    }
    // Under double quantization the f32 scales are replaced below.
    w.scales = doubleQuant ? std::vector<float>(q.blocks(), 0.0f) : q.absmax;
    DequantMatmulOp dq = replaceWithDequantMatmul(builder, match, w);
    if (!doubleQuant)
      return success();
    builder.setInsertionPoint(dq);
    Value oldScales = dq.getScales();
    Value scales = createDoubleQuantScales(
        builder, dq.getLoc(), q, w.scaleShape, match.fromResource, match.name);
    dq.getScalesMutable().assign(scales);
    eraseIfDeadConstant(oldScales);
    return success();
  };
  return forEachConstantWeightMatmul(module, filter, quantizeOne);
}
