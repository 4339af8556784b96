//===- QuantDecodeStep.cpp - Key/value-cached decode step -----------------===//
//
// Part of the quant-opt project, under the Apache License v2.0 with LLVM
// Exceptions.
//
//===----------------------------------------------------------------------===//
//
// Derives `@F_step(tokens, position, keys, values)` from a Llama forward
// `@F(tokens)`: the position-wise ops are cloned with T positions instead of
// S, and each marked attention is replaced with attention over the caches.
//
//===----------------------------------------------------------------------===//

#include "quant/Dialect/QTensor/IR/QTensorOps.h"
#include "quant/Dialect/QTensor/Transforms/Passes.h"
#include "quant/Dialect/QTensor/Utils/CausalAttention.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/IRMapping.h"
#include "mlir/IR/Verifier.h"
#include "mlir/Transforms/RegionUtils.h"
#include "llvm/ADT/SetVector.h"

namespace mlir {
namespace qtensor {
#define GEN_PASS_DEF_QUANTDECODESTEPPASS
#include "quant/Dialect/QTensor/Transforms/Passes.h.inc"
} // namespace qtensor
} // namespace mlir

using namespace mlir;
using namespace mlir::qtensor;

namespace {
using IT = utils::IteratorType;

/// Shapes of the forward and of the step.
struct StepShape {
  int64_t batch = 0, window = 0, tokens = 0;
  int64_t layers = 0, heads = 0, kvHeads = 0, headDim = 0;
  /// The caches hold int8 codes with one f32 scale per layer, batch row,
  /// head and position, or f16 values (else f32 values).
  bool int8Cache = false, f16Cache = false;
};

/// Emits the step's attention over the caches.
class CachedAttentionBuilder {
public:
  /// `caches`: keys and values, then their scales for an int8 cache.
  CachedAttentionBuilder(OpBuilder &b, Location loc, const StepShape &shape,
                         Value position, ValueRange caches)
      : b(b), loc(loc), shape(shape), position(position), caches(caches) {}

  /// Attention of layer `layer` for query/key/value [B, T, heads * D];
  /// returns [B, T, heads * D] and records the new keys and values.
  Value build(int64_t layer, Value q, Value k, Value v);

  /// The new keys and values of every layer, [L, B, Hkv, D, T].
  Value newKeys, newValues;

private:
  OpBuilder &b;
  Location loc;
  const StepShape &shape;
  Value position;
  ValueRange caches;

  /// `x` [B, T, Hkv * D] in cache order [B, Hkv, D, T], written into layer
  /// `layer` of `stacked` [L, B, Hkv, D, T] in place; returns the layer's
  /// slice and updates `stacked`.
  Value toCacheOrder(Value x, int64_t layer, Value &stacked);
  /// The first `position` cached keys (or values) of layer `layer`.
  AttentionEntries past(bool values, int64_t layer);
};
} // namespace

Value CachedAttentionBuilder::toCacheOrder(Value x, int64_t layer,
                                           Value &stacked) {
  int64_t bsz = shape.batch, t = shape.tokens, n = shape.kvHeads,
          d = shape.headDim;
  if (!stacked)
    stacked = tensor::EmptyOp::create(
        b, loc, ArrayRef<int64_t>{shape.layers, bsz, n, d, t}, b.getF32Type());
  SmallVector<OpFoldResult> offsets(5, b.getIndexAttr(0));
  offsets[0] = b.getIndexAttr(layer);
  SmallVector<OpFoldResult> sizes{b.getIndexAttr(1), b.getIndexAttr(bsz),
                                  b.getIndexAttr(n), b.getIndexAttr(d),
                                  b.getIndexAttr(t)};
  SmallVector<OpFoldResult> strides(5, b.getIndexAttr(1));
  auto sliceType = RankedTensorType::get({bsz, n, d, t}, b.getF32Type());
  Value slice = tensor::ExtractSliceOp::create(b, loc, sliceType, stacked,
                                               offsets, sizes, strides);
  Value value = buildHeadDimMajor(b, loc, x, n, d, slice);
  stacked = tensor::InsertSliceOp::create(b, loc, value, stacked, offsets,
                                          sizes, strides);
  return value;
}

AttentionEntries CachedAttentionBuilder::past(bool values, int64_t layer) {
  auto slice = [&](Value cache, bool withHeadDim) -> Value {
    auto cacheType = cast<RankedTensorType>(cache.getType());
    SmallVector<OpFoldResult> offsets(cacheType.getRank(), b.getIndexAttr(0));
    offsets[0] = b.getIndexAttr(layer);
    SmallVector<OpFoldResult> sizes{b.getIndexAttr(1),
                                    b.getIndexAttr(shape.batch),
                                    b.getIndexAttr(shape.kvHeads)};
    SmallVector<int64_t> dims{shape.batch, shape.kvHeads};
    if (withHeadDim) {
      sizes.push_back(b.getIndexAttr(shape.headDim));
      dims.push_back(shape.headDim);
    }
    sizes.push_back(position);
    dims.push_back(ShapedType::kDynamic);
    SmallVector<OpFoldResult> strides(cacheType.getRank(), b.getIndexAttr(1));
    return tensor::ExtractSliceOp::create(
        b, loc, RankedTensorType::get(dims, cacheType.getElementType()), cache,
        offsets, sizes, strides);
  };
  AttentionEntries entries;
  entries.data = slice(caches[values ? 1 : 0], /*withHeadDim=*/true);
  if (shape.int8Cache)
    entries.scales = slice(caches[values ? 3 : 2], /*withHeadDim=*/false);
  return entries;
}

Value CachedAttentionBuilder::build(int64_t layer, Value q, Value k, Value v) {
  int64_t bsz = shape.batch, t = shape.tokens, heads = shape.heads,
          d = shape.headDim;
  Value queries = tensor::ExpandShapeOp::create(
      b, loc, RankedTensorType::get({bsz, t, heads, d}, b.getF32Type()), q,
      SmallVector<ReassociationIndices>{{0}, {1}, {2, 3}});
  Value kNew = toCacheOrder(k, layer, newKeys);
  Value vNew = toCacheOrder(v, layer, newValues);
  AttentionShape attention{bsz, heads, shape.kvHeads, d};
  AttentionEntries pastKeys = past(false, layer);
  AttentionEntries pastValues = past(true, layer);
  Value out = buildCausalAttention(b, loc, attention, queries, kNew, vNew,
                                   pastKeys, pastValues, position);
  return tensor::CollapseShapeOp::create(
      b, loc, out, SmallVector<ReassociationIndices>{{0}, {1}, {2, 3}});
}

namespace {
/// Clones the forward's position-wise ops into the step.
class StepDeriver {
public:
  StepDeriver(func::FuncOp forward, const StepShape &shape)
      : forward(forward), shape(shape) {}

  FailureOr<func::FuncOp> derive(StringRef name);

private:
  func::FuncOp forward;
  StepShape shape;
  /// Values computed from the tokens.
  DenseSet<Value> fromTokens;
  /// Ops between an attention's head splits and its join.
  DenseSet<Operation *> attentionOps;
  SmallVector<AttentionSite> sites;
  IRMapping mapping;
  /// Shape-only values of the forward (tensor.empty, fills of one) retyped
  /// for T positions.
  DenseMap<Value, Value> retypedInits;

  LogicalResult findAttention();
  /// `type` with T positions when it is an activation type [B, S, ...].
  Type retype(Type type) const;
  bool hasPositions(Type type) const;
  /// The step's value for operand `value` of a position-wise op.
  FailureOr<Value> operandFor(OpBuilder &b, Operation *user, Value value);
  LogicalResult clonePositionwise(OpBuilder &b, Operation *op, Value position);
};
} // namespace

LogicalResult StepDeriver::findAttention() {
  Block &body = forward.getBody().front();
  auto found = findMarkedAttention(body, "quant-decode-step");
  if (failed(found))
    return failure();
  sites = std::move(*found);
  if (sites.empty())
    return forward.emitError("quant-decode-step: @")
           << forward.getSymName()
           << " has no attention marked with 'qtensor.attention' (import "
              "the model with quant-import)";
  for (const AttentionSite &site : sites)
    collectAttentionOps(body, site, attentionOps);
  return success();
}

bool StepDeriver::hasPositions(Type type) const {
  auto ranked = dyn_cast<RankedTensorType>(type);
  return ranked && ranked.getRank() >= 2 &&
         ranked.getDimSize(0) == shape.batch &&
         ranked.getDimSize(1) == shape.window;
}

Type StepDeriver::retype(Type type) const {
  if (!hasPositions(type))
    return type;
  auto ranked = cast<RankedTensorType>(type);
  SmallVector<int64_t> dims(ranked.getShape());
  dims[1] = shape.tokens;
  return ranked.clone(dims);
}

FailureOr<Value> StepDeriver::operandFor(OpBuilder &b, Operation *user,
                                         Value value) {
  if (fromTokens.contains(value))
    return mapping.lookup(value);
  if (!hasPositions(value.getType()))
    return mapping.lookupOrDefault(value);
  // A shape-only init of the forward's size: the same for T positions.
  if (Value done = retypedInits.lookup(value))
    return done;
  Operation *def = value.getDefiningOp();
  Value result;
  if (auto empty = dyn_cast_or_null<tensor::EmptyOp>(def)) {
    auto type = cast<RankedTensorType>(retype(empty.getType()));
    result = tensor::EmptyOp::create(b, empty.getLoc(), type.getShape(),
                                     type.getElementType());
  } else if (auto fill = dyn_cast_or_null<linalg::FillOp>(def)) {
    FailureOr<Value> init = operandFor(b, user, fill.getOutputs()[0]);
    if (failed(init))
      return failure();
    result = linalg::FillOp::create(
                 b, fill.getLoc(), mapping.lookupOrDefault(fill.value()), *init)
                 .getResult(0);
  } else {
    return user->emitError("quant-decode-step: reads a constant of the "
                           "sequence's shape that is not an empty or filled "
                           "tensor; cannot take it for fewer positions");
  }
  retypedInits[value] = result;
  return result;
}

LogicalResult StepDeriver::clonePositionwise(OpBuilder &b, Operation *op,
                                             Value position) {
  if (auto quantize = dyn_cast<DynamicQuantizeOp>(op))
    if (quantize.isPerTensor())
      return op->emitError("quant-decode-step: per-tensor dynamic "
                           "quantization mixes positions (its scale depends "
                           "on the whole sequence); a step cannot reproduce "
                           "it");
  auto generic = dyn_cast<linalg::GenericOp>(op);
  std::optional<unsigned> positionLoop;
  if (generic) {
    // The loop that runs over positions indexes dimension 1 of the result.
    AffineMap outMap = generic.getIndexingMapsArray().back();
    auto expr = outMap.getNumResults() >= 2
                    ? dyn_cast<AffineDimExpr>(outMap.getResult(1))
                    : nullptr;
    if (!expr ||
        generic.getIteratorTypesArray()[expr.getPosition()] != IT::parallel)
      return op->emitError("quant-decode-step: a position-wise op must run "
                           "a parallel loop over dimension 1 of its result");
    positionLoop = expr.getPosition();
    // Every activation operand must be read at the same position.
    for (OpOperand &operand : op->getOpOperands()) {
      if (!fromTokens.contains(operand.get()))
        continue;
      AffineMap map = generic.getMatchingIndexingMap(&operand);
      if (map.getNumResults() < 2 ||
          map.getResult(1) != getAffineDimExpr(*positionLoop, op->getContext()))
        return op->emitError("quant-decode-step: mixes positions (operand #")
               << operand.getOperandNumber()
               << " is not read at the position of the result)";
    }
    bool readsIndex = false;
    generic.getBody()->walk([&](linalg::IndexOp index) {
      readsIndex |= index.getDim() == *positionLoop;
    });
    if (readsIndex)
      return op->emitError("quant-decode-step: reads the index of the "
                           "position loop outside attention");
  }
  SmallVector<Value> operands;
  for (OpOperand &operand : op->getOpOperands()) {
    Value value = operand.get();
    // A constant table read at the position (the rotary tables): its rows
    // from `position` on.
    if (generic && !fromTokens.contains(value) &&
        !generic.isDpsInit(&operand)) {
      AffineMap map = generic.getMatchingIndexingMap(&operand);
      auto type = dyn_cast<RankedTensorType>(value.getType());
      std::optional<unsigned> row;
      for (auto [i, expr] : llvm::enumerate(map.getResults())) {
        if (!expr.isFunctionOfDim(*positionLoop))
          continue;
        auto d = dyn_cast<AffineDimExpr>(expr);
        if (!d || row || !type || type.getDimSize(i) != shape.window)
          return op->emitError("quant-decode-step: reads a constant at an "
                               "index computed from the position");
        row = i;
      }
      if (row) {
        SmallVector<OpFoldResult> offsets(type.getRank(), b.getIndexAttr(0));
        SmallVector<OpFoldResult> sizes;
        for (int64_t size : type.getShape())
          sizes.push_back(b.getIndexAttr(size));
        offsets[*row] = position;
        sizes[*row] = b.getIndexAttr(shape.tokens);
        operands.push_back(tensor::ExtractSliceOp::create(
            b, op->getLoc(), mapping.lookupOrDefault(value), offsets, sizes,
            SmallVector<OpFoldResult>(type.getRank(), b.getIndexAttr(1))));
        continue;
      }
    }
    FailureOr<Value> mapped = operandFor(b, op, value);
    if (failed(mapped))
      return failure();
    operands.push_back(*mapped);
  }
  Operation *clone;
  if (auto expand = dyn_cast<tensor::ExpandShapeOp>(op)) {
    clone = tensor::ExpandShapeOp::create(b, op->getLoc(),
                                          retype(expand.getType()), operands[0],
                                          expand.getReassociationIndices());
  } else if (auto collapse = dyn_cast<tensor::CollapseShapeOp>(op)) {
    clone = tensor::CollapseShapeOp::create(
        b, op->getLoc(), retype(collapse.getType()), operands[0],
        collapse.getReassociationIndices());
  } else if (isa<tensor::ExtractSliceOp, tensor::InsertSliceOp, tensor::PadOp,
                 tensor::ConcatOp>(op)) {
    return op->emitError("quant-decode-step: slices of activations outside "
                         "attention are not supported");
  } else {
    IRMapping operandMapping = mapping;
    for (auto [from, to] : llvm::zip(op->getOperands(), operands))
      operandMapping.map(from, to);
    clone = b.clone(*op, operandMapping);
    for (OpResult result : clone->getResults())
      result.setType(retype(result.getType()));
  }
  for (auto [from, to] : llvm::zip(op->getResults(), clone->getResults())) {
    mapping.map(from, to);
    fromTokens.insert(from);
  }
  return success();
}

FailureOr<func::FuncOp> StepDeriver::derive(StringRef name) {
  if (failed(findAttention()))
    return failure();
  shape.layers = int64_t(sites.size());
  Block &body = forward.getBody().front();
  fromTokens.insert(body.getArgument(0));

  MLIRContext *ctx = forward.getContext();
  OpBuilder b(forward);
  b.setInsertionPointAfter(forward);
  Type f32 = b.getF32Type();
  auto vocab =
      cast<RankedTensorType>(forward.getResultTypes()[0]).getDimSize(2);
  SmallVector<int64_t> cacheShape{shape.layers, shape.batch, shape.kvHeads,
                                  shape.headDim, shape.window};
  SmallVector<int64_t> newShape(cacheShape);
  newShape.back() = shape.tokens;
  auto tokensType =
      RankedTensorType::get({shape.batch, shape.tokens}, b.getI32Type());
  Type cacheElement = shape.int8Cache  ? Type(b.getI8Type())
                      : shape.f16Cache ? Type(b.getF16Type())
                                       : f32;
  auto cacheType = RankedTensorType::get(cacheShape, cacheElement);
  auto newType = RankedTensorType::get(newShape, f32);
  auto logitsType =
      RankedTensorType::get({shape.batch, shape.tokens, vocab}, f32);
  SmallVector<Type> inputs{tokensType,
                           RankedTensorType::get({1}, b.getI32Type()),
                           cacheType, cacheType};
  if (shape.int8Cache) {
    // One scale per layer, batch row, head and position.
    auto scalesType = RankedTensorType::get(
        {shape.layers, shape.batch, shape.kvHeads, shape.window}, f32);
    inputs.append({scalesType, scalesType});
  }
  auto type = FunctionType::get(ctx, inputs, {logitsType, newType, newType});
  auto step = func::FuncOp::create(b, forward.getLoc(), name, type);
  Block *entry = step.addEntryBlock();
  b.setInsertionPointToStart(entry);
  Location loc = forward.getLoc();
  mapping.map(body.getArgument(0), entry->getArgument(0));

  // The position, clamped to [0, S - T] so that reads stay in the caches.
  Value zero = arith::ConstantIndexOp::create(b, loc, 0);
  Value stored = tensor::ExtractOp::create(b, loc, entry->getArgument(1),
                                           ValueRange{zero});
  Value position = arith::IndexCastOp::create(b, loc, b.getIndexType(), stored);
  position = arith::MaxSIOp::create(
      b, loc,
      arith::MinSIOp::create(
          b, loc, position,
          arith::ConstantIndexOp::create(b, loc, shape.window - shape.tokens)),
      zero);
  CachedAttentionBuilder attention(b, loc, shape, position,
                                   entry->getArguments().drop_front(2));

  auto fail = [&]() -> FailureOr<func::FuncOp> {
    step.erase();
    return failure();
  };
  for (Operation &op : body.without_terminator()) {
    bool dependent = false;
    SetVector<Value> used;
    getUsedValuesDefinedAbove(op.getRegions(), used);
    for (Value operand : llvm::concat<Value>(op.getOperands(), used))
      dependent |= fromTokens.contains(operand);
    if (!dependent) {
      // Weights, tables and shape-only values: shared as they are (dead
      // ones are erased at the end).
      b.clone(op, mapping);
      continue;
    }
    if (!attentionOps.contains(&op)) {
      if (failed(clonePositionwise(b, &op, position)))
        return fail();
      continue;
    }
    // Inside an attention: nothing but its output is cloned.
    for (Value result : op.getResults())
      fromTokens.insert(result);
    AttentionSite *site = llvm::find_if(
        sites, [&](const AttentionSite &s) { return s.output == &op; });
    if (site == sites.end())
      continue;
    int64_t layer = site - sites.begin();
    Value out = attention.build(layer, mapping.lookup(site->query.getSrc()),
                                mapping.lookup(site->key.getSrc()),
                                mapping.lookup(site->value.getSrc()));
    mapping.map(op.getResult(0), out);
  }
  auto ret = cast<func::ReturnOp>(body.getTerminator());
  Value logits = mapping.lookup(ret.getOperand(0));
  func::ReturnOp::create(
      b, loc, ValueRange{logits, attention.newKeys, attention.newValues});
  // Drop the shared values nothing in the step reads.
  SmallVector<Operation *> ops;
  for (Operation &op : *entry)
    ops.push_back(&op);
  for (Operation *op : llvm::reverse(ops))
    if (isOpTriviallyDead(op))
      op->erase();
  if (failed(verify(step)))
    return fail();
  return step;
}

namespace {
struct QuantDecodeStepPass
    : qtensor::impl::QuantDecodeStepPassBase<QuantDecodeStepPass> {
  using Base::Base;
  void runOnOperation() override;
};
} // namespace

void QuantDecodeStepPass::runOnOperation() {
  ModuleOp module = getOperation();
  auto forward = module.lookupSymbol<func::FuncOp>(function);
  if (!forward || forward.isExternal()) {
    module.emitError("quant-decode-step: no function @") << function;
    return signalPassFailure();
  }
  std::string name = stepFunction.empty() ? function + "_step" : stepFunction;
  if (module.lookupSymbol(name)) {
    module.emitError("quant-decode-step: @") << name << " exists already";
    return signalPassFailure();
  }
  auto config = module->getAttrOfType<LlamaConfigAttr>(kLlamaConfigAttr);
  if (!config) {
    module.emitError("quant-decode-step: the module has no '")
        << kLlamaConfigAttr << "' attribute (import the model with "
        << "quant-import)";
    return signalPassFailure();
  }
  FunctionType type = forward.getFunctionType();
  auto tokensType = type.getNumInputs() == 1
                        ? dyn_cast<RankedTensorType>(type.getInput(0))
                        : RankedTensorType();
  auto logitsType = type.getNumResults() == 1
                        ? dyn_cast<RankedTensorType>(type.getResult(0))
                        : RankedTensorType();
  if (!tokensType || tokensType.getRank() != 2 ||
      !tokensType.getElementType().isInteger(32) ||
      !tokensType.hasStaticShape() || !logitsType ||
      logitsType.getRank() != 3 || !logitsType.hasStaticShape() ||
      logitsType.getDimSize(0) != tokensType.getDimSize(0) ||
      logitsType.getDimSize(1) != tokensType.getDimSize(1) ||
      forward.getBody().getBlocks().size() != 1) {
    forward.emitError("quant-decode-step: @")
        << function
        << " must take tensor<BxSxi32> token ids and return "
           "tensor<BxSxVxf32> logits in one block";
    return signalPassFailure();
  }
  StepShape shape;
  shape.batch = tokensType.getDimSize(0);
  shape.window = tokensType.getDimSize(1);
  shape.tokens = tokens;
  shape.heads = config.getNHeads();
  shape.kvHeads = config.getNKvHeads();
  shape.headDim = config.getDim() / config.getNHeads();
  if (cacheType != "f32" && cacheType != "f16" && cacheType != "int8") {
    module.emitError("quant-decode-step: cache-type must be f32, f16 or "
                     "int8, got '")
        << cacheType << "'";
    return signalPassFailure();
  }
  shape.int8Cache = cacheType == "int8";
  shape.f16Cache = cacheType == "f16";
  if (tokens < 1 || tokens > shape.window) {
    module.emitError("quant-decode-step: tokens must be in [1, ")
        << shape.window << "] (the forward's positions), got "
        << int64_t(tokens);
    return signalPassFailure();
  }
  if (failed(StepDeriver(forward, shape).derive(name)))
    return signalPassFailure();
}
