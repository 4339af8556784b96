//===- QuantRTN.cpp - Round-to-nearest weight quantization ----------------===//
//
// Part of the quant-opt project, under the Apache License v2.0 with LLVM
// Exceptions.
//
//===----------------------------------------------------------------------===//

#include "quant/Dialect/QTensor/Transforms/Passes.h"
#include "quant/Dialect/QTensor/Utils/WeightMatching.h"
#include "quant/Numerics/Numerics.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"

namespace mlir {
namespace qtensor {
#define GEN_PASS_DEF_QUANTRTNPASS
#include "quant/Dialect/QTensor/Transforms/Passes.h.inc"
} // namespace qtensor
} // namespace mlir

using namespace mlir;
using namespace mlir::qtensor;
namespace num = quantopt::numerics;

namespace {
struct QuantRTNPass : qtensor::impl::QuantRTNPassBase<QuantRTNPass> {
  using Base::Base;
  void runOnOperation() override;

private:
  /// The pass proper; runOnOperation reports what it quantized.
  LogicalResult quantize();
  /// Validated options.
  LogicalResult parseOptions(num::RTNOptions &rtn, Type &scaleElementType);
};
} // namespace

LogicalResult QuantRTNPass::parseOptions(num::RTNOptions &rtn,
                                         Type &scaleElementType) {
  ModuleOp module = getOperation();
  MLIRContext *ctx = &getContext();
  switch (format) {
  case RTNFormat::Int:
    if (bits < 2 || bits > 8)
      return module.emitError("quant-rtn: bits must be in 2..8, got ")
             << static_cast<int64_t>(bits);
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
  if (groupSize < -1)
    return module.emitError("quant-rtn: group-size must be -1 (per channel), "
                            "0 (per tensor) or positive, got ")
           << static_cast<int64_t>(groupSize);
  rtn.groupSize = groupSize;
  rtn.symmetric = symmetric;
  switch (scaleType) {
  case ScaleElementType::F32:
    rtn.scaleType = num::RTNOptions::ScaleType::F32;
    scaleElementType = Float32Type::get(ctx);
    break;
  case ScaleElementType::F16:
    rtn.scaleType = num::RTNOptions::ScaleType::F16;
    scaleElementType = Float16Type::get(ctx);
    break;
  case ScaleElementType::BF16:
    rtn.scaleType = num::RTNOptions::ScaleType::BF16;
    scaleElementType = BFloat16Type::get(ctx);
    break;
  }
  return success();
}

void QuantRTNPass::runOnOperation() {
  if (failed(runWeightPass(
          getOperation(), getArgument(), [&] { return quantize(); },
          numQuantized, numLeftInFloat)))
    signalPassFailure();
}

LogicalResult QuantRTNPass::quantize() {
  num::RTNOptions rtn;
  Type scaleElementType;
  if (failed(parseOptions(rtn, scaleElementType)))
    return failure();
  MLIRContext *ctx = &getContext();

  OpBuilder builder(ctx);
  WeightFilter filter;
  filter.passName = "quant-rtn";
  filter.skip = skip;
  filter.explainSkips = reportSkipped;
  auto quantizeOne = [&](ConstantWeightMatmul &match) -> LogicalResult {
    if (rtn.groupSize > 0 && rtn.groupSize > match.cols)
      return match.op->emitError("quant-rtn: group-size ")
             << rtn.groupSize << " exceeds the reduction size " << match.cols
             << " of weight '" << match.name << "'";

    // Quantize each [N, K] matrix of the batch.
    int64_t batches = match.batch ? match.batch : 1;
    int64_t rows = match.rows, cols = match.cols;
    QuantizedWeight q;
    PackOrder packing = PackOrder::none;
    unsigned bits = num::getBitWidth(rtn.format);
    if (pack && bits < 8)
      packing = PackOrder::lsb_first;
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
    q.scaleType = scaleElementType;
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
      q.scales.insert(q.scales.end(), result.scales.begin(),
                      result.scales.end());
      q.zeros.insert(q.zeros.end(), result.zeros.begin(), result.zeros.end());
    }
    if (match.batch)
      q.storageShape = {match.batch, rows, rowBytes};
    else
      q.storageShape = {rows, rowBytes};
    if (match.batch)
      q.scaleShape = {match.batch, scaleRows, groups};
    else
      q.scaleShape = {scaleRows, groups};
    replaceWithDequantMatmul(builder, match, q);
    return success();
  };
  return forEachConstantWeightMatmul(getOperation(), filter, quantizeOne);
}
