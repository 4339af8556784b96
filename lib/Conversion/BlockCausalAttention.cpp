//===- BlockCausalAttention.cpp - Skip the masked half of attention -------===//
//
// Part of the quant-opt project, under the Apache License v2.0 with LLVM
// Exceptions.
//
//===----------------------------------------------------------------------===//
//
// Replaces each marked attention of a full-sequence forward, which scores
// every query against every key and masks the future, with attention in
// blocks of queries that score only the keys up to their own positions.
//
//===----------------------------------------------------------------------===//

#include "quant/Conversion/Passes.h"
#include "quant/Dialect/QTensor/IR/QTensorDialect.h"
#include "quant/Dialect/QTensor/Utils/CausalAttention.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"

namespace mlir {
namespace qtensor {
#define GEN_PASS_DEF_BLOCKCAUSALATTENTIONPASS
#include "quant/Conversion/Passes.h.inc"
} // namespace qtensor
} // namespace mlir

using namespace mlir;
using namespace mlir::qtensor;

namespace {
struct BlockCausalAttentionPass
    : qtensor::impl::BlockCausalAttentionPassBase<BlockCausalAttentionPass> {
  using Base::Base;
  void runOnOperation() override;
};

/// The blocked attention of `site`: [B, S, H * D], built before its join.
Value blockedAttention(AttentionSite site, int64_t blockSize) {
  auto queryType = cast<RankedTensorType>(site.query.getType());
  auto keyType = cast<RankedTensorType>(site.key.getType());
  int64_t batch = queryType.getDimSize(0), seq = queryType.getDimSize(1),
          heads = queryType.getDimSize(2), headDim = queryType.getDimSize(3),
          kvHeads = keyType.getDimSize(2);
  OpBuilder b(site.output);
  Location loc = site.output.getLoc();
  Type f32 = b.getF32Type();
  auto index = [&](int64_t i) -> OpFoldResult { return b.getIndexAttr(i); };
  // Keys and values of the whole sequence, head dimension major.
  auto headDimMajor = [&](Value x) {
    Value init = tensor::EmptyOp::create(
        b, loc, ArrayRef<int64_t>{batch, kvHeads, headDim, seq}, f32);
    return buildHeadDimMajor(b, loc, x, kvHeads, headDim, init);
  };
  Value keys = headDimMajor(site.key.getSrc());
  Value values = headDimMajor(site.value.getSrc());
  Value queries =
      tensor::ExpandShapeOp::create(b, loc, queryType, site.query.getSrc(),
                                    site.query.getReassociationIndices());
  AttentionShape shape{batch, heads, kvHeads, headDim};
  Value out = tensor::EmptyOp::create(
      b, loc, ArrayRef<int64_t>{batch, seq, heads, headDim}, f32);
  auto columns = [&](Value x, int64_t from, int64_t count) -> Value {
    return tensor::ExtractSliceOp::create(
        b, loc, x, {index(0), index(0), index(0), index(from)},
        {index(batch), index(kvHeads), index(headDim), index(count)},
        {index(1), index(1), index(1), index(1)});
  };
  for (int64_t start = 0; start < seq; start += blockSize) {
    int64_t count = std::min(blockSize, seq - start);
    SmallVector<OpFoldResult> offsets{index(0), index(start), index(0),
                                      index(0)};
    SmallVector<OpFoldResult> sizes{index(batch), index(count), index(heads),
                                    index(headDim)};
    SmallVector<OpFoldResult> strides(4, index(1));
    Value blockQueries = tensor::ExtractSliceOp::create(
        b, loc, queries, offsets, sizes, strides);
    Value blockOut =
        tensor::ExtractSliceOp::create(b, loc, out, offsets, sizes, strides);
    AttentionEntries pastKeys, pastValues;
    if (start > 0) {
      pastKeys.data = columns(keys, 0, start);
      pastValues.data = columns(values, 0, start);
    }
    Value newKeys = columns(keys, start, count);
    Value newValues = columns(values, start, count);
    Value result =
        buildCausalAttention(b, loc, shape, blockQueries, newKeys, newValues,
                             pastKeys, pastValues, index(start), blockOut);
    out = tensor::InsertSliceOp::create(b, loc, result, out, offsets, sizes,
                                        strides);
  }
  return tensor::CollapseShapeOp::create(b, loc, site.output.getType(), out,
                                         site.output.getReassociationIndices());
}
} // namespace

void BlockCausalAttentionPass::runOnOperation() {
  if (blockSize < 1) {
    getOperation()->emitError("quant-block-causal-attention: block-size must "
                              "be at least 1, got ")
        << int64_t(blockSize);
    return signalPassFailure();
  }
  WalkResult walk = getOperation()->walk([&](func::FuncOp func) {
    if (func.isExternal())
      return WalkResult::advance();
    Block &body = func.getBody().front();
    auto sites = findMarkedAttention(body, "quant-block-causal-attention");
    if (failed(sites))
      return WalkResult::interrupt();
    for (AttentionSite site : *sites) {
      auto queryType = cast<RankedTensorType>(site.query.getType());
      // Only static full sequences longer than a block gain anything.
      if (!queryType.hasStaticShape() || queryType.getDimSize(1) <= blockSize)
        continue;
      DenseSet<Operation *> replaced;
      collectAttentionOps(body, site, replaced);
      site.output.getResult().replaceAllUsesWith(
          blockedAttention(site, blockSize));
      // The old attention, from its join back: what only it used.
      SmallVector<Operation *> ops;
      for (Operation &op : body)
        if (replaced.contains(&op))
          ops.push_back(&op);
      for (Operation *op : llvm::reverse(ops))
        if (op->use_empty())
          op->erase();
      ++numBlocked;
    }
    return WalkResult::advance();
  });
  if (walk.wasInterrupted())
    signalPassFailure();
}
