//===- CausalAttention.cpp - Attention over earlier positions -------------===//
//
// Part of the quant-opt project, under the Apache License v2.0 with LLVM
// Exceptions.
//
//===----------------------------------------------------------------------===//

#include "quant/Dialect/QTensor/Utils/CausalAttention.h"
#include "quant/Dialect/QTensor/IR/QTensorDialect.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Arith/Utils/Utils.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Transforms/RegionUtils.h"
#include "llvm/ADT/SetVector.h"

#include <cmath>
#include <limits>

using namespace mlir;
using namespace mlir::qtensor;

namespace {
using IT = utils::IteratorType;
using BodyFn = function_ref<Value(OpBuilder &, Location, ValueRange)>;

/// Small helpers over linalg.generic on f32 tensors.
class AttentionEmitter {
public:
  AttentionEmitter(OpBuilder &b, Location loc, const AttentionShape &shape)
      : b(b), loc(loc), ctx(b.getContext()), f32(b.getF32Type()), shape(shape) {
  }

  Value attend(Value queries, Value newKeys, Value newValues,
               const AttentionEntries &pastKeys,
               const AttentionEntries &pastValues, OpFoldResult position,
               Value init);

  Value generic(unsigned numLoops, ValueRange inputs,
                ArrayRef<SmallVector<AffineExpr>> inputMaps,
                ArrayRef<AffineExpr> outputExprs, Value init,
                ArrayRef<IT> iterators, BodyFn body) {
    SmallVector<AffineMap> maps;
    for (const auto &exprs : inputMaps)
      maps.push_back(AffineMap::get(numLoops, 0, exprs, ctx));
    maps.push_back(AffineMap::get(numLoops, 0, outputExprs, ctx));
    return linalg::GenericOp::create(
               b, loc, init.getType(), inputs, init, maps, iterators,
               [&](OpBuilder &nb, Location l, ValueRange args) {
                 linalg::YieldOp::create(nb, l, ValueRange{body(nb, l, args)});
               })
        .getResult(0);
  }
  SmallVector<AffineExpr> dims(ArrayRef<unsigned> positions) const {
    SmallVector<AffineExpr> exprs;
    for (unsigned p : positions)
      exprs.push_back(getAffineDimExpr(p, ctx));
    return exprs;
  }

private:
  OpBuilder &b;
  Location loc;
  MLIRContext *ctx;
  Type f32;
  const AttentionShape &shape;

  Value constF32(OpBuilder &nb, Location l, float v) {
    return arith::ConstantOp::create(nb, l, nb.getF32FloatAttr(v));
  }
  arith::FastMathFlagsAttr reassoc() const {
    return arith::FastMathFlagsAttr::get(ctx, arith::FastMathFlags::reassoc);
  }
  /// An f32 tensor of `sizes`, filled with `value` when given.
  Value tensorOf(ArrayRef<OpFoldResult> sizes, std::optional<float> value) {
    Value empty = tensor::EmptyOp::create(b, loc, sizes, f32);
    if (!value)
      return empty;
    return linalg::FillOp::create(b, loc, constF32(b, loc, *value), empty)
        .getResult(0);
  }
  /// Computes `fn(slice)` into a slice of `dest` and inserts it back, so
  /// that bufferization writes the result in place.
  void computeInto(Value &dest, ArrayRef<OpFoldResult> offsets,
                   ArrayRef<OpFoldResult> sizes, function_ref<Value(Value)> fn);
  /// Element `a[index]` of `entries`, decoded with the scale `a[index + 1]`
  /// when they are int8 codes.
  Value decoded(OpBuilder &nb, Location l, ValueRange a, unsigned index,
                const AttentionEntries &entries);
  /// init + sum over the reduction loop of x * decoded(entries); the
  /// entries are read at (b, h / G, d, t) for `entryLoops` = (b, h, d, t).
  Value contract(Value x, ArrayRef<AffineExpr> xMap,
                 const AttentionEntries &entries,
                 ArrayRef<AffineExpr> entryLoops, ArrayRef<AffineExpr> outMap,
                 Value init, ArrayRef<IT> iterators);
  /// scores[b, h, s, t] = sum_d q[b, s, h, d] * keys[b, h / G, d, t].
  Value scores(Value q, const AttentionEntries &keys, Value init);
  /// acc[b, s, h, d] += sum_t probs[b, h, s, t] * values[b, h / G, d, t].
  Value weightedSum(Value probs, const AttentionEntries &values, Value acc);
};
} // namespace

void AttentionEmitter::computeInto(Value &dest, ArrayRef<OpFoldResult> offsets,
                                   ArrayRef<OpFoldResult> sizes,
                                   function_ref<Value(Value)> fn) {
  SmallVector<OpFoldResult> strides(offsets.size(), b.getIndexAttr(1));
  Value slice =
      tensor::ExtractSliceOp::create(b, loc, dest, offsets, sizes, strides);
  dest = tensor::InsertSliceOp::create(b, loc, fn(slice), dest, offsets, sizes,
                                       strides);
}

Value AttentionEmitter::decoded(OpBuilder &nb, Location l, ValueRange a,
                                unsigned index,
                                const AttentionEntries &entries) {
  if (entries.scales) {
    Value code = arith::SIToFPOp::create(nb, l, f32, a[index]);
    return arith::MulFOp::create(nb, l, code, a[index + 1]);
  }
  // f16 entries are widened exactly.
  if (a[index].getType() != f32)
    return arith::ExtFOp::create(nb, l, f32, a[index]);
  return a[index];
}

Value AttentionEmitter::contract(Value x, ArrayRef<AffineExpr> xMap,
                                 const AttentionEntries &entries,
                                 ArrayRef<AffineExpr> entryLoops,
                                 ArrayRef<AffineExpr> outMap, Value init,
                                 ArrayRef<IT> iterators) {
  int64_t group = shape.heads / shape.kvHeads;
  AffineExpr bb = entryLoops[0], kvHead = entryLoops[1].floorDiv(group),
             d = entryLoops[2], t = entryLoops[3];
  SmallVector<Value> inputs{x, entries.data};
  SmallVector<SmallVector<AffineExpr>> maps{SmallVector<AffineExpr>(xMap),
                                            {bb, kvHead, d, t}};
  if (entries.scales) {
    inputs.push_back(entries.scales);
    maps.push_back({bb, kvHead, t});
  }
  return generic(5, inputs, maps, outMap, init, iterators,
                 [&](OpBuilder &nb, Location l, ValueRange a) -> Value {
                   Value m = arith::MulFOp::create(
                       nb, l, a[0], decoded(nb, l, a, 1, entries));
                   return arith::AddFOp::create(nb, l, a.back(), m, reassoc());
                 });
}

Value AttentionEmitter::scores(Value q, const AttentionEntries &keys,
                               Value init) {
  // Loops (b, h, s, d, t): t innermost, contiguous in the keys and scores.
  SmallVector<AffineExpr> l = dims({0, 1, 2, 3, 4});
  return contract(
      q, {l[0], l[2], l[1], l[3]}, keys, {l[0], l[1], l[3], l[4]},
      {l[0], l[1], l[2], l[4]},
      linalg::FillOp::create(b, loc, constF32(b, loc, 0.0f), init).getResult(0),
      {IT::parallel, IT::parallel, IT::parallel, IT::reduction, IT::parallel});
}

Value AttentionEmitter::weightedSum(Value probs, const AttentionEntries &values,
                                    Value acc) {
  // Loops (b, s, h, d, t): a dot product over t, contiguous in both.
  SmallVector<AffineExpr> l = dims({0, 1, 2, 3, 4});
  return contract(
      probs, {l[0], l[2], l[1], l[4]}, values, {l[0], l[2], l[3], l[4]},
      {l[0], l[1], l[2], l[3]}, acc,
      {IT::parallel, IT::parallel, IT::parallel, IT::parallel, IT::reduction});
}

Value AttentionEmitter::attend(Value queries, Value newKeys, Value newValues,
                               const AttentionEntries &pastKeys,
                               const AttentionEntries &pastValues,
                               OpFoldResult position, Value init) {
  auto queryType = cast<RankedTensorType>(queries.getType());
  int64_t bsz = shape.batch, t = queryType.getDimSize(1), heads = shape.heads,
          d = shape.headDim;
  auto index = [&](int64_t i) -> OpFoldResult { return b.getIndexAttr(i); };
  std::optional<int64_t> staticPosition = getConstantIntValue(position);
  bool hasPast = !staticPosition || *staticPosition > 0;
  Value positionValue = getValueOrCreateConstantIndexOp(b, loc, position);
  OpFoldResult total = staticPosition
                           ? index(*staticPosition + t)
                           : OpFoldResult(arith::AddIOp::create(
                                 b, loc, positionValue,
                                 arith::ConstantIndexOp::create(b, loc, t)));

  // Scores against the earlier positions and against the new ones, side by
  // side in one [B, H, T, position + T] tensor.
  Value all =
      tensorOf({index(bsz), index(heads), index(t), total}, std::nullopt);
  if (hasPast)
    computeInto(all, {index(0), index(0), index(0), index(0)},
                {index(bsz), index(heads), index(t), position},
                [&](Value init) { return scores(queries, pastKeys, init); });
  computeInto(all, {index(0), index(0), index(0), position},
              {index(bsz), index(heads), index(t), index(t)},
              [&](Value init) { return scores(queries, {newKeys, {}}, init); });

  // As the importers' forward: scale, causal mask (key position after the
  // query's), max, exp(x - max), sum, divide.
  float sqrtHd = std::sqrt(float(d));
  float negInf = -std::numeric_limits<float>::infinity();
  SmallVector<OpFoldResult> scoreSizes{index(bsz), index(heads), index(t),
                                       total};
  Value masked = generic(
      4, {all}, {dims({0, 1, 2, 3})}, dims({0, 1, 2, 3}),
      tensorOf(scoreSizes, std::nullopt), SmallVector<IT>(4, IT::parallel),
      [&](OpBuilder &nb, Location l, ValueRange a) -> Value {
        Value query = arith::AddIOp::create(nb, l, positionValue,
                                            linalg::IndexOp::create(nb, l, 2));
        Value key = linalg::IndexOp::create(nb, l, 3);
        Value future =
            arith::CmpIOp::create(nb, l, arith::CmpIPredicate::ugt, key, query);
        Value scaled =
            arith::DivFOp::create(nb, l, a[0], constF32(nb, l, sqrtHd));
        return arith::SelectOp::create(nb, l, future, constF32(nb, l, negInf),
                                       scaled);
      });
  SmallVector<IT> rowReduce{IT::parallel, IT::parallel, IT::parallel,
                            IT::reduction};
  SmallVector<OpFoldResult> rowSizes{index(bsz), index(heads), index(t)};
  Value rowMax = generic(4, {masked}, {dims({0, 1, 2, 3})}, dims({0, 1, 2}),
                         tensorOf(rowSizes, negInf), rowReduce,
                         [](OpBuilder &nb, Location l, ValueRange a) -> Value {
                           return arith::MaximumFOp::create(nb, l, a[0], a[1]);
                         });
  auto withRow = [&](Value x, Value row, bool divide) {
    return generic(4, {x, row}, {dims({0, 1, 2, 3}), dims({0, 1, 2})},
                   dims({0, 1, 2, 3}), tensorOf(scoreSizes, std::nullopt),
                   SmallVector<IT>(4, IT::parallel),
                   [&](OpBuilder &nb, Location l, ValueRange a) -> Value {
                     if (divide)
                       return arith::DivFOp::create(nb, l, a[0], a[1]);
                     return math::ExpOp::create(
                         nb, l, arith::SubFOp::create(nb, l, a[0], a[1]));
                   });
  };
  Value expd = withRow(masked, rowMax, /*divide=*/false);
  Value rowSum =
      generic(4, {expd}, {dims({0, 1, 2, 3})}, dims({0, 1, 2}),
              tensorOf(rowSizes, 0.0f), rowReduce,
              [&](OpBuilder &nb, Location l, ValueRange a) -> Value {
                return arith::AddFOp::create(nb, l, a[1], a[0], reassoc());
              });
  Value probs = withRow(expd, rowSum, /*divide=*/true);

  // out = probs[.., :position] · earlier values + probs[.., position:] · new.
  SmallVector<OpFoldResult> ones(4, index(1));
  auto probsSlice = [&](OpFoldResult offset, OpFoldResult size) -> Value {
    return tensor::ExtractSliceOp::create(
        b, loc, probs,
        SmallVector<OpFoldResult>{index(0), index(0), index(0), offset},
        SmallVector<OpFoldResult>{index(bsz), index(heads), index(t), size},
        ones);
  };
  Value out =
      init ? linalg::FillOp::create(b, loc, constF32(b, loc, 0.0f), init)
                 .getResult(0)
           : tensorOf({index(bsz), index(t), index(heads), index(d)}, 0.0f);
  if (hasPast)
    out = weightedSum(probsSlice(index(0), position), pastValues, out);
  return weightedSum(probsSlice(position, index(t)), {newValues, {}}, out);
}

Value mlir::qtensor::buildCausalAttention(
    OpBuilder &b, Location loc, const AttentionShape &shape, Value queries,
    Value newKeys, Value newValues, const AttentionEntries &pastKeys,
    const AttentionEntries &pastValues, OpFoldResult position, Value init) {
  return AttentionEmitter(b, loc, shape)
      .attend(queries, newKeys, newValues, pastKeys, pastValues, position,
              init);
}

FailureOr<SmallVector<AttentionSite>>
mlir::qtensor::findMarkedAttention(Block &block, StringRef passName) {
  SmallVector<AttentionSite> sites;
  AttentionSite current;
  for (Operation &op : block) {
    auto role = op.getAttrOfType<StringAttr>(kAttentionAttr);
    if (!role)
      continue;
    StringRef r = role.getValue();
    if (r == "query")
      current.query = cast<tensor::ExpandShapeOp>(op);
    else if (r == "key")
      current.key = cast<tensor::ExpandShapeOp>(op);
    else if (r == "value")
      current.value = cast<tensor::ExpandShapeOp>(op);
    else {
      if (!current.query || !current.key || !current.value)
        return op.emitError(passName)
               << ": attention output without its query, key and value head "
                  "splits before it";
      current.output = cast<tensor::CollapseShapeOp>(op);
      sites.push_back(current);
      current = AttentionSite();
    }
  }
  return sites;
}

void mlir::qtensor::collectAttentionOps(Block &block, const AttentionSite &site,
                                        DenseSet<Operation *> &ops) {
  SmallVector<Operation *> worklist{site.output};
  while (!worklist.empty()) {
    Operation *op = worklist.pop_back_val();
    if (!ops.insert(op).second)
      continue;
    if (op == site.query || op == site.key || op == site.value)
      continue;
    SetVector<Value> used;
    getUsedValuesDefinedAbove(op->getRegions(), used);
    for (Value operand : llvm::concat<Value>(op->getOperands(), used))
      if (Operation *def = operand.getDefiningOp())
        if (def->getBlock() == &block)
          worklist.push_back(def);
  }
}

Value mlir::qtensor::buildHeadDimMajor(OpBuilder &b, Location loc, Value x,
                                       int64_t heads, int64_t headDim,
                                       Value init) {
  auto type = cast<RankedTensorType>(x.getType());
  Value split = tensor::ExpandShapeOp::create(
      b, loc,
      RankedTensorType::get(
          {type.getDimSize(0), type.getDimSize(1), heads, headDim},
          type.getElementType()),
      x, SmallVector<ReassociationIndices>{{0}, {1}, {2, 3}});
  AttentionShape unused;
  AttentionEmitter emitter(b, loc, unused);
  return emitter.generic(
      4, {split}, {emitter.dims({0, 3, 1, 2})}, emitter.dims({0, 1, 2, 3}),
      init, SmallVector<IT>(4, IT::parallel),
      [](OpBuilder &, Location, ValueRange a) { return a[0]; });
}
