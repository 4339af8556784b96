//===- WeightMatching.cpp - Find matmuls with constant weights ------------===//
//
// Part of the quant-opt project, under the Apache License v2.0 with LLVM
// Exceptions.
//
//===----------------------------------------------------------------------===//

#include "quant/Dialect/QTensor/Utils/WeightMatching.h"
#include "quant/Dialect/QTensor/Utils/ProgressRemarks.h"
#include "quant/Formats/ResidentMemory.h"
#include "quant/Numerics/GGUFQuants.h"
#include "quant/Numerics/Numerics.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/MLProgram/IR/MLProgram.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Dialect/Utils/ReshapeOpsUtils.h"
#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/DialectResourceBlobManager.h"
#include "mlir/IR/Matchers.h"
#include "mlir/IR/SymbolTable.h"
#include "mlir/Interfaces/FunctionInterfaces.h"

#include <array>
#include <cmath>
#include <cstring>

using namespace mlir;
using namespace mlir::qtensor;

namespace {
/// A constant tensor value and where it came from.
struct ConstantSource {
  ElementsAttr value;
  std::string name;
  bool fromResource = false;
};
} // namespace

static std::string nameFromLoc(Location loc) {
  if (auto named = dyn_cast<NameLoc>(loc))
    return named.getName().str();
  if (auto fused = dyn_cast<FusedLoc>(loc))
    for (Location inner : fused.getLocations())
      if (auto named = dyn_cast<NameLoc>(inner))
        return named.getName().str();
  return "";
}

static std::optional<ConstantSource> getConstantSource(Value value) {
  Operation *def = value.getDefiningOp();
  if (!def)
    return std::nullopt;
  if (auto load = dyn_cast<ml_program::GlobalLoadConstOp>(def)) {
    auto global = SymbolTable::lookupNearestSymbolFrom<ml_program::GlobalOp>(
        def, load.getGlobal());
    if (!global || global.getIsMutable() || !global.getValue())
      return std::nullopt;
    auto elements = dyn_cast<ElementsAttr>(*global.getValue());
    if (!elements)
      return std::nullopt;
    return ConstantSource{elements, global.getSymName().str(),
                          isa<DenseResourceElementsAttr>(elements)};
  }
  ElementsAttr elements;
  if (!matchPattern(value, m_Constant(&elements)))
    return std::nullopt;
  ConstantSource source{elements, nameFromLoc(def->getLoc()), false};
  if (auto resource = dyn_cast<DenseResourceElementsAttr>(elements)) {
    source.fromResource = true;
    if (source.name.empty())
      source.name = resource.getRawHandle().getKey().str();
  }
  return source;
}

/// The stored bytes of a constant of whole-byte elements, in place (they
/// live as long as the context: attribute storage or a resource blob), and
/// whether they are one splat element.
static std::optional<std::pair<ArrayRef<char>, bool>>
constantData(const ConstantSource &source) {
  auto type = cast<ShapedType>(source.value.getType());
  if (!type.hasStaticShape() || !type.getElementType().isIntOrFloat() ||
      type.getElementTypeBitWidth() % 8 != 0)
    return std::nullopt;
  if (auto resource = dyn_cast<DenseResourceElementsAttr>(source.value)) {
    AsmResourceBlob *blob = resource.getRawHandle().getBlob();
    if (!blob)
      return std::nullopt;
    return std::pair(blob->getData(), false);
  }
  if (auto dense = dyn_cast<DenseElementsAttr>(source.value))
    return std::pair(dense.getRawData(), dense.isSplat());
  return std::nullopt;
}

std::optional<std::vector<uint8_t>>
mlir::qtensor::readConstantBytes(Value value) {
  std::optional<ConstantSource> source = getConstantSource(value);
  if (!source)
    return std::nullopt;
  std::optional<std::pair<ArrayRef<char>, bool>> data = constantData(*source);
  if (!data)
    return std::nullopt;
  auto [raw, splat] = *data;
  auto type = cast<ShapedType>(source->value.getType());
  size_t width = type.getElementTypeBitWidth() / 8;
  size_t size = type.getNumElements() * width;
  std::vector<uint8_t> bytes(size);
  if (raw.size() == size && !splat) {
    std::memcpy(bytes.data(), raw.data(), size);
  } else if (splat && raw.size() == width) {
    for (size_t i = 0; i < size; i += width)
      std::memcpy(bytes.data() + i, raw.data(), width);
  } else {
    return std::nullopt;
  }
  return bytes;
}

std::optional<ArrayRef<char>> mlir::qtensor::viewConstantBytes(Value value) {
  std::optional<ConstantSource> source = getConstantSource(value);
  if (!source)
    return std::nullopt;
  std::optional<std::pair<ArrayRef<char>, bool>> data = constantData(*source);
  auto type = cast<ShapedType>(source->value.getType());
  if (!data || data->second ||
      data->first.size() !=
          size_t(type.getNumElements() * type.getElementTypeBitWidth() / 8))
    return std::nullopt;
  return data->first;
}

/// Whether readFloats can read `attr`: f32, f16 or bf16 elements, dense or
/// in a blob of the right size.
static bool isReadableFloatConstant(ElementsAttr attr) {
  auto type = cast<ShapedType>(attr.getType());
  Type element = type.getElementType();
  if (!isa<Float32Type, Float16Type, BFloat16Type>(element))
    return false;
  if (auto resource = dyn_cast<DenseResourceElementsAttr>(attr)) {
    AsmResourceBlob *blob = resource.getRawHandle().getBlob();
    return blob && blob->getData().size() == size_t(type.getNumElements()) *
                                                 (element.isF32() ? 4 : 2);
  }
  return isa<DenseFPElementsAttr>(attr);
}

/// Reads an f32/f16/bf16 constant as f32 values in row-major order.
static std::optional<std::vector<float>> readFloats(ElementsAttr attr) {
  if (!isReadableFloatConstant(attr))
    return std::nullopt;
  auto type = cast<ShapedType>(attr.getType());
  Type element = type.getElementType();
  std::vector<float> values;
  values.reserve(type.getNumElements());
  if (auto resource = dyn_cast<DenseResourceElementsAttr>(attr)) {
    ArrayRef<char> data = resource.getRawHandle().getBlob()->getData();
    size_t width = element.isF32() ? 4 : 2;
    for (int64_t i = 0, e = type.getNumElements(); i < e; ++i) {
      const char *p = data.data() + i * width;
      if (element.isF32()) {
        float v;
        std::memcpy(&v, p, 4);
        values.push_back(v);
        continue;
      }
      uint16_t bits;
      std::memcpy(&bits, p, 2);
      values.push_back(element.isF16()
                           ? quantopt::numerics::fromF16Bits(bits)
                           : quantopt::numerics::fromBF16Bits(bits));
    }
    return values;
  }
  for (const APFloat &v : cast<DenseFPElementsAttr>(attr).getValues<APFloat>())
    values.push_back(v.convertToFloat());
  return values;
}

//===----------------------------------------------------------------------===//
// Weight views
//===----------------------------------------------------------------------===//

namespace {
/// A weight operand traced back to its constant: the map from the operand's
/// indices to the constant's, the element types along the way (constant
/// first), and the view ops (nearest to the product first).
struct WeightView {
  ConstantSource source;
  AffineMap toConstant;
  SmallVector<Type> elementTypes;
  SmallVector<Operation *> chain;
};
} // namespace

/// The map from the row-major multi-index of `shape` grouped by
/// `reassociation` to the collapsed index (expand_shape's result -> source),
/// or the inverse (collapse_shape's result -> source) when `expanding` is
/// false.
static AffineMap reshapeMap(ArrayRef<int64_t> expandedShape,
                            ArrayRef<ReassociationIndices> reassociation,
                            bool toCollapsed, MLIRContext *ctx) {
  SmallVector<AffineExpr> exprs;
  if (toCollapsed) {
    for (const ReassociationIndices &group : reassociation) {
      AffineExpr linear = getAffineConstantExpr(0, ctx);
      for (int64_t d : group)
        linear = linear * expandedShape[d] + getAffineDimExpr(d, ctx);
      exprs.push_back(linear);
    }
    return AffineMap::get(expandedShape.size(), 0, exprs, ctx);
  }
  for (auto [g, group] : llvm::enumerate(reassociation)) {
    int64_t stride = 1;
    SmallVector<AffineExpr> groupExprs;
    for (int64_t d : llvm::reverse(group)) {
      AffineExpr e = getAffineDimExpr(g, ctx).floorDiv(stride);
      groupExprs.push_back(group.size() == 1 ? e : e % expandedShape[d]);
      stride *= expandedShape[d];
    }
    exprs.append(groupExprs.rbegin(), groupExprs.rend());
  }
  return AffineMap::get(reassociation.size(), 0, exprs, ctx);
}

/// True when the body of a one-input generic yields its input, or the input
/// converted by one arith.extf / arith.truncf.
static bool isCopyOrConversionBody(linalg::GenericOp op) {
  Block &body = op.getRegion().front();
  auto yield = cast<linalg::YieldOp>(body.getTerminator());
  if (yield.getNumOperands() != 1)
    return false;
  Value v = yield.getOperand(0);
  if (Operation *def = v.getDefiningOp()) {
    if (!isa<arith::ExtFOp, arith::TruncFOp>(def) || def->getBlock() != &body)
      return false;
    v = def->getOperand(0);
  }
  return v == body.getArgument(0) && body.getOperations().size() <= 2;
}

/// One step back through a view op: its source and the map from the op's
/// result indices to the source's indices.
static std::optional<std::pair<Value, AffineMap>> viewStep(Operation *op) {
  MLIRContext *ctx = op->getContext();
  if (auto transpose = dyn_cast<linalg::TransposeOp>(op)) {
    // Result dimension i is input dimension perm[i].
    ArrayRef<int64_t> perm = transpose.getPermutation();
    SmallVector<AffineExpr> exprs(perm.size());
    for (auto [i, p] : llvm::enumerate(perm))
      exprs[p] = getAffineDimExpr(i, ctx);
    return std::pair(transpose.getInput(),
                     AffineMap::get(perm.size(), 0, exprs, ctx));
  }
  if (auto broadcast = dyn_cast<linalg::BroadcastOp>(op)) {
    unsigned rank = broadcast.getInit().getType().getRank();
    ArrayRef<int64_t> added = broadcast.getDimensions();
    SmallVector<AffineExpr> exprs;
    for (unsigned d = 0; d < rank; ++d)
      if (!llvm::is_contained(added, int64_t(d)))
        exprs.push_back(getAffineDimExpr(d, ctx));
    return std::pair(broadcast.getInput(), AffineMap::get(rank, 0, exprs, ctx));
  }
  if (auto generic = dyn_cast<linalg::GenericOp>(op)) {
    if (generic.getNumDpsInputs() != 1 || generic.getNumDpsInits() != 1 ||
        generic.getNumReductionLoops() != 0 ||
        !generic.hasPureTensorSemantics())
      return std::nullopt;
    AffineMap out = generic.getIndexingMapsArray()[1];
    if (!out.isPermutation() || !isCopyOrConversionBody(generic))
      return std::nullopt;
    AffineMap in = generic.getIndexingMapsArray()[0];
    return std::pair(generic.getDpsInputOperand(0)->get(),
                     in.compose(inversePermutation(out)));
  }
  if (auto expand = dyn_cast<tensor::ExpandShapeOp>(op)) {
    if (!expand.getResultType().hasStaticShape())
      return std::nullopt;
    return std::pair(expand.getSrc(),
                     reshapeMap(expand.getResultType().getShape(),
                                expand.getReassociationIndices(),
                                /*toCollapsed=*/true, ctx));
  }
  if (auto collapse = dyn_cast<tensor::CollapseShapeOp>(op)) {
    if (!collapse.getSrcType().hasStaticShape())
      return std::nullopt;
    return std::pair(collapse.getSrc(),
                     reshapeMap(collapse.getSrcType().getShape(),
                                collapse.getReassociationIndices(),
                                /*toCollapsed=*/false, ctx));
  }
  return std::nullopt;
}

/// Traces `value` back to a constant through view ops, if it is one.
static std::optional<WeightView> traceWeightView(Value value) {
  auto type = dyn_cast<RankedTensorType>(value.getType());
  if (!type || !type.hasStaticShape())
    return std::nullopt;
  WeightView view;
  view.toConstant =
      AffineMap::getMultiDimIdentityMap(type.getRank(), value.getContext());
  view.elementTypes.push_back(type.getElementType());
  // Frontends put a handful of views between a parameter and its product.
  for (unsigned depth = 0; depth < 16; ++depth) {
    if (std::optional<ConstantSource> source = getConstantSource(value)) {
      view.source = *source;
      std::reverse(view.elementTypes.begin(), view.elementTypes.end());
      return view;
    }
    Operation *def = value.getDefiningOp();
    if (!def)
      return std::nullopt;
    std::optional<std::pair<Value, AffineMap>> step = viewStep(def);
    if (!step)
      return std::nullopt;
    view.toConstant = step->second.compose(view.toConstant);
    view.chain.push_back(def);
    value = step->first;
    auto valueType = dyn_cast<RankedTensorType>(value.getType());
    if (!valueType)
      return std::nullopt;
    view.elementTypes.push_back(valueType.getElementType());
  }
  return std::nullopt;
}

bool mlir::qtensor::isWeightCarryingProduct(Operation *op) {
  if (auto ggml = dyn_cast<GGMLMatmulOp>(op))
    return ggml.hasFloatStorage() && isConstantTensor(ggml.getStorage());
  auto linalgOp = dyn_cast<linalg::LinalgOp>(op);
  if (!linalgOp || linalgOp.getNumDpsInputs() != 2 ||
      linalgOp.getNumReductionLoops() == 0 ||
      !linalg::isaContractionOpInterface(linalgOp))
    return false;
  return llvm::any_of(linalgOp.getDpsInputs(),
                      [](Value v) { return traceWeightView(v).has_value(); });
}

namespace {
/// An affine expression evaluated on integer dimension values.
int64_t evaluate(AffineExpr e, ArrayRef<int64_t> dims) {
  switch (e.getKind()) {
  case AffineExprKind::Constant:
    return cast<AffineConstantExpr>(e).getValue();
  case AffineExprKind::DimId:
    return dims[cast<AffineDimExpr>(e).getPosition()];
  default:
    break;
  }
  auto bin = cast<AffineBinaryOpExpr>(e);
  int64_t l = evaluate(bin.getLHS(), dims), r = evaluate(bin.getRHS(), dims);
  switch (e.getKind()) {
  case AffineExprKind::Add:
    return l + r;
  case AffineExprKind::Mul:
    return l * r;
  case AffineExprKind::Mod:
    return ((l % r) + r) % r;
  case AffineExprKind::FloorDiv:
    return l >= 0 ? l / r : -((-l + r - 1) / r);
  case AffineExprKind::CeilDiv:
    return l >= 0 ? (l + r - 1) / r : -(-l / r);
  default:
    return 0;
  }
}

bool hasDivOrMod(AffineExpr e) {
  bool found = false;
  e.walk([&](AffineExpr sub) {
    found |= sub.getKind() == AffineExprKind::Mod ||
             sub.getKind() == AffineExprKind::FloorDiv ||
             sub.getKind() == AffineExprKind::CeilDiv;
  });
  return found;
}
} // namespace

FailureOr<ConstantWeightMatmul>
mlir::qtensor::matchConstantWeightMatmul(linalg::LinalgOp op,
                                         std::string &reason, unsigned ordinal,
                                         bool readWeight) {
  reason.clear();
  if (!op.hasPureTensorSemantics() || op.getNumDpsInputs() != 2 ||
      op.getNumDpsInits() != 1 || !linalg::isaContractionOpInterface(op))
    return failure();
  FailureOr<linalg::ContractionDimensions> dims =
      linalg::inferContractionDims(op);
  if (failed(dims))
    return failure();
  SmallVector<AffineMap> maps = op.getIndexingMapsArray();
  // The weight: the input indexed by an output-channel and the reduction
  // dimension (the right-hand side), a constant or a view of one.
  int weightIdx = -1;
  for (int i = 0; i < 2 && weightIdx < 0; ++i)
    if (llvm::any_of(dims->n,
                     [&](unsigned d) { return maps[i].isFunctionOfDim(d); }) &&
        llvm::any_of(dims->k,
                     [&](unsigned d) { return maps[i].isFunctionOfDim(d); }))
      weightIdx = i;
  std::optional<WeightView> view;
  if (weightIdx >= 0)
    view = traceWeightView(op.getDpsInputOperand(weightIdx)->get());
  if (!view) {
    if (llvm::any_of(op.getDpsInputs(),
                     [](Value v) { return traceWeightView(v).has_value(); }))
      reason = "the constant is the left-hand side (indexed by the rows of "
               "the result), not a weight applied to activations";
    return failure();
  }
  if (dims->k.size() != 1 || dims->n.size() != 1 || dims->batch.size() > 1) {
    reason = "needs exactly one reduction, one output-channel and at most one "
             "batch dimension";
    return failure();
  }
  unsigned kDim = dims->k[0], nDim = dims->n[0];
  std::optional<unsigned> bDim;
  if (!dims->batch.empty())
    bDim = dims->batch[0];
  int inputIdx = 1 - weightIdx;

  auto dimOf = [](AffineExpr e) -> std::optional<unsigned> {
    if (auto d = dyn_cast<AffineDimExpr>(e))
      return d.getPosition();
    return std::nullopt;
  };
  // The weight operand's dimensions must be the loops b, n, k.
  AffineMap wMap = maps[weightIdx];
  SmallVector<char> operandDims;
  for (AffineExpr e : wMap.getResults()) {
    std::optional<unsigned> d = dimOf(e);
    if (d == nDim)
      operandDims.push_back('n');
    else if (d == kDim)
      operandDims.push_back('k');
    else if (bDim && d == bDim)
      operandDims.push_back('b');
    else {
      reason = "the weight operand is indexed by something other than the "
               "batch, output-channel and reduction dimensions";
      return failure();
    }
  }

  // Input map: (b?, m..., k) with k innermost; output (b?, m..., n), same
  // leading dims in the same order.
  AffineMap inMap = maps[inputIdx];
  AffineMap outMap = maps[2];
  if (inMap.getNumResults() != outMap.getNumResults() ||
      dimOf(inMap.getResult(inMap.getNumResults() - 1)) != kDim ||
      dimOf(outMap.getResult(outMap.getNumResults() - 1)) != nDim) {
    reason = "activation must have the reduction dimension innermost and the "
             "result the output channels innermost";
    return failure();
  }
  for (unsigned i = 0; i + 1 < inMap.getNumResults(); ++i) {
    auto d = dimOf(inMap.getResult(i));
    if (!d || d != dimOf(outMap.getResult(i))) {
      reason = "activation and result disagree on their leading dimensions";
      return failure();
    }
  }
  auto initType =
      cast<RankedTensorType>(op.getDpsInitOperand(0)->get().getType());
  auto inputType =
      cast<RankedTensorType>(op.getDpsInputOperand(inputIdx)->get().getType());
  auto isFloat16To32 = [](Type t) {
    return isa<Float32Type, Float16Type, BFloat16Type>(t);
  };
  if (!isFloat16To32(initType.getElementType()) ||
      !isFloat16To32(inputType.getElementType()) ||
      !llvm::all_of(view->elementTypes, isFloat16To32)) {
    reason = "only f32, f16 and bf16 products are supported";
    return failure();
  }
  if (!isReadableFloatConstant(view->source.value)) {
    reason = "weight constant is not a readable f32/f16/bf16 tensor";
    return failure();
  }

  // Constant index of each weight element, from the product's loops.
  AffineMap toConstant = view->toConstant.compose(wMap);
  MLIRContext *ctx = op->getContext();
  SmallVector<int64_t> loopSizes = op.getStaticLoopRanges();
  if (llvm::any_of(loopSizes, ShapedType::isDynamic)) {
    reason = "the product has dynamic sizes";
    return failure();
  }
  // A loop of one iteration (TOSA's [1, M, K] batch) indexes nothing.
  SmallVector<AffineExpr> unitLoopsAtZero;
  for (auto [d, size] : llvm::enumerate(loopSizes))
    unitLoopsAtZero.push_back(size == 1 ? getAffineConstantExpr(0, ctx)
                                        : getAffineDimExpr(d, ctx));
  toConstant = simplifyAffineMap(toConstant.replaceDimsAndSymbols(
      unitLoopsAtZero, {}, loopSizes.size(), 0));
  for (unsigned d = 0; d < loopSizes.size(); ++d)
    if (d != kDim && d != nDim && (!bDim || d != *bDim) &&
        toConstant.isFunctionOfDim(d)) {
      reason = "the weight depends on a row of the activations";
      return failure();
    }
  bool batched = bDim && toConstant.isFunctionOfDim(*bDim);
  auto constantType = cast<ShapedType>(view->source.value.getType());
  SmallVector<int64_t> constantStrides(constantType.getRank(), 1);
  for (int i = int(constantType.getRank()) - 2; i >= 0; --i)
    constantStrides[i] =
        constantStrides[i + 1] * constantType.getDimSize(i + 1);

  ConstantWeightMatmul match;
  match.op = op;
  match.input = op.getDpsInputOperand(inputIdx)->get();
  match.init = op.getDpsInitOperand(0)->get();
  match.name = view->source.name.empty() ? "matmul_" + std::to_string(ordinal)
                                         : view->source.name;
  match.fromResource = view->source.fromResource;
  if (std::optional<std::pair<ArrayRef<char>, bool>> data =
          constantData(view->source);
      data && !data->second)
    match.storedBytes = data->first;
  match.weightOperand = weightIdx;
  match.operandDims = std::move(operandDims);
  match.weightChain = view->chain;
  match.rows = loopSizes[nDim];
  match.cols = loopSizes[kDim];
  match.batch = batched ? loopSizes[*bDim] : 0;
  if (!readWeight)
    return match;
  std::optional<std::vector<float>> values = readFloats(view->source.value);
  int64_t batches = batched ? match.batch : 1;

  SmallVector<int64_t> loop(loopSizes.size(), 0);
  auto flatIndex = [&]() {
    int64_t flat = 0;
    for (auto [e, stride] :
         llvm::zip_equal(toConstant.getResults(), constantStrides))
      flat += evaluate(e, loop) * stride;
    return flat;
  };
  // A linear index: base + n * sn + k * sk, for the batch in `loop`.
  auto linearIndex = [&]() {
    loop[nDim] = loop[kDim] = 0;
    int64_t base = flatIndex();
    loop[nDim] = 1;
    int64_t sn = flatIndex() - base;
    loop[nDim] = 0;
    loop[kDim] = 1;
    int64_t sk = flatIndex() - base;
    loop[kDim] = 0;
    return std::array<int64_t, 3>{base, sn, sk};
  };
  bool linear = llvm::none_of(toConstant.getResults(), hasDivOrMod);
  // Usually the constant is the [N, K] weight itself: no second copy.
  bool isWeight = linear && batches == 1 &&
                  linearIndex() == std::array<int64_t, 3>{0, match.cols, 1} &&
                  int64_t(values->size()) == match.rows * match.cols;
  if (isWeight)
    match.weight = std::move(*values);
  else
    match.weight.resize(batches * match.rows * match.cols);
  for (int64_t b = 0; b < batches && !isWeight; ++b) {
    if (batched)
      loop[*bDim] = b;
    float *out = match.weight.data() + b * match.rows * match.cols;
    if (linear) {
      auto [base, sn, sk] = linearIndex();
      for (int64_t n = 0; n < match.rows; ++n)
        for (int64_t k = 0; k < match.cols; ++k)
          out[n * match.cols + k] = (*values)[base + n * sn + k * sk];
      continue;
    }
    for (int64_t n = 0; n < match.rows; ++n)
      for (int64_t k = 0; k < match.cols; ++k) {
        loop[nDim] = n;
        loop[kDim] = k;
        out[n * match.cols + k] = (*values)[flatIndex()];
      }
  }
  // The product sees the values after every conversion on the way.
  for (Type type : ArrayRef(view->elementTypes).drop_front()) {
    if (type.isF16())
      for (float &v : match.weight)
        v = quantopt::numerics::roundToF16(v);
    else if (type.isBF16())
      for (float &v : match.weight)
        v = quantopt::numerics::roundToBF16(v);
  }
  return match;
}

LogicalResult mlir::qtensor::readMatchedWeight(ConstantWeightMatmul &match,
                                               StringRef passName) {
  std::string reason;
  FailureOr<ConstantWeightMatmul> current = matchConstantWeightMatmul(
      cast<linalg::LinalgOp>(match.op.getOperation()), reason, /*ordinal=*/0);
  if (failed(current))
    return match.op->emitError(passName)
           << ": weight '" << match.name
           << "' cannot be read again: " << reason;
  match.weight = std::move(current->weight);
  return success();
}

void mlir::qtensor::releaseMatchedWeight(ConstantWeightMatmul &match) {
  // Move-assigned: `= {}` would keep the capacity.
  match.weight = std::vector<float>();
  quantopt::releaseResidentPages(match.storedBytes.data(),
                                 match.storedBytes.size());
}

std::vector<float>
mlir::qtensor::weightInOperandLayout(const ConstantWeightMatmul &match,
                                     ArrayRef<float> weight) {
  auto type = cast<RankedTensorType>(
      match.op->getOperand(match.weightOperand).getType());
  ArrayRef<int64_t> shape = type.getShape();
  std::vector<float> out(type.getNumElements());
  SmallVector<int64_t> index(shape.size(), 0);
  for (float &element : out) {
    int64_t b = 0, n = 0, k = 0;
    for (auto [role, i] : llvm::zip_equal(match.operandDims, index))
      (role == 'b' ? b : role == 'n' ? n : k) = i;
    if (!match.batch)
      b = 0;
    element = weight[(b * match.rows + n) * match.cols + k];
    for (int d = int(shape.size()) - 1; d >= 0; --d) {
      if (++index[d] < shape[d])
        break;
      index[d] = 0;
    }
  }
  return out;
}

LogicalResult
mlir::qtensor::checkFiniteWeight(const ConstantWeightMatmul &match) {
  for (size_t i = 0; i < match.weight.size(); ++i) {
    if (std::isfinite(match.weight[i]))
      continue;
    int64_t perBatch = match.rows * match.cols;
    int64_t rem = int64_t(i) % perBatch;
    auto diag = match.op->emitError("weight '")
                << match.name << "' has a non-finite value (" << match.weight[i]
                << ") at row " << rem / match.cols << ", column "
                << rem % match.cols;
    if (match.batch)
      diag << " of batch " << int64_t(i) / perBatch;
    diag << "; refusing to quantize it";
    return failure();
  }
  return success();
}

const std::string *mlir::qtensor::findSkipPattern(StringRef name,
                                                  ArrayRef<std::string> skip) {
  for (const std::string &pattern : skip)
    if (name.contains(pattern))
      return &pattern;
  return nullptr;
}

std::string mlir::qtensor::getWeightName(Operation *op) {
  if (auto attr = op->getAttrOfType<StringAttr>(kWeightNameAttr))
    return attr.str();
  return nameFromLoc(op->getLoc());
}

/// Rewrites an f16/bf16 ggml_matmul with constant storage as a
/// linalg.generic `init + x · extf(W)ᵀ` over an f16/bf16 constant W that
/// views the stored bytes in place (no copy, nothing widened: the passes
/// widen one weight at a time as they quantize it; the same f32 products in
/// the same order). Returns null, leaving `op` alone, when the storage is
/// not a constant whose bytes can be viewed.
static linalg::LinalgOp expandFloatGGMLMatmul(GGMLMatmulOp op) {
  std::optional<ConstantSource> source = getConstantSource(op.getStorage());
  if (!source)
    return {};
  std::optional<std::pair<ArrayRef<char>, bool>> data = constantData(*source);
  auto inputType = cast<RankedTensorType>(op.getInput().getType());
  int64_t rows = op.getStorage().getType().getDimSize(0);
  int64_t cols = inputType.getShape().back();
  if (!data || data->second || int64_t(data->first.size()) != rows * cols * 2)
    return {};
  OpBuilder b(op);
  Type element = op.getGgmlType() == GGMLType::F16 ? Type(b.getF16Type())
                                                   : Type(b.getBF16Type());
  std::string name = getWeightName(op);
  Location loc = op.getLoc();
  if (!name.empty())
    loc = NameLoc::get(b.getStringAttr(name), loc);
  auto weightType = RankedTensorType::get({rows, cols}, element);
  // Half-precision elements need two-byte alignment to be read as such.
  size_t align = reinterpret_cast<uintptr_t>(data->first.data()) % 2 ? 1 : 2;
  auto blob = UnmanagedAsmResourceBlob::allocateWithAlign(data->first, align);
  Value w = arith::ConstantOp::create(
      b, loc,
      DenseResourceElementsAttr::get(weightType, name.empty() ? "weight" : name,
                                     std::move(blob)));
  // Loops: the input's leading dims, then n, then k.
  unsigned rank = inputType.getRank();
  MLIRContext *ctx = op.getContext();
  SmallVector<AffineExpr> inExprs, outExprs;
  for (unsigned i = 0; i + 1 < rank; ++i)
    inExprs.push_back(getAffineDimExpr(i, ctx));
  outExprs = inExprs;
  AffineExpr n = getAffineDimExpr(rank - 1, ctx),
             k = getAffineDimExpr(rank, ctx);
  inExprs.push_back(k);
  outExprs.push_back(n);
  SmallVector<AffineMap> maps = {AffineMap::get(rank + 1, 0, inExprs, ctx),
                                 AffineMap::get(rank + 1, 0, {n, k}, ctx),
                                 AffineMap::get(rank + 1, 0, outExprs, ctx)};
  SmallVector<utils::IteratorType> iterators(rank,
                                             utils::IteratorType::parallel);
  iterators.push_back(utils::IteratorType::reduction);
  auto generic = linalg::GenericOp::create(
      b, op.getLoc(), TypeRange{op.getType()}, ValueRange{op.getInput(), w},
      ValueRange{op.getInit()}, maps, iterators,
      [](OpBuilder &nb, Location l, ValueRange args) {
        Value weight = arith::ExtFOp::create(nb, l, nb.getF32Type(), args[1]);
        Value product = arith::MulFOp::create(nb, l, args[0], weight);
        Value sum = arith::AddFOp::create(nb, l, args[2], product);
        linalg::YieldOp::create(nb, l, sum);
      });
  Value storage = op.getStorage();
  op.getResult().replaceAllUsesWith(generic.getResult(0));
  op.erase();
  eraseIfDeadConstant(storage);
  return cast<linalg::LinalgOp>(generic.getOperation());
}

LogicalResult mlir::qtensor::forEachConstantWeightMatmul(
    Operation *root, const WeightFilter &filter,
    function_ref<LogicalResult(ConstantWeightMatmul &)> fn) {
  SmallVector<Operation *> candidates;
  root->walk([&](Operation *op) {
    auto ggml = dyn_cast<GGMLMatmulOp>(op);
    if (isa<linalg::LinalgOp>(op) ||
        (filter.expandFloatGGML && ggml && ggml.hasFloatStorage()))
      candidates.push_back(op);
  });
  // Remarks name the op's location without printing the op.
  bool explain = filter.explainSkips && !filter.passName.empty();
  auto leftInFloat = [&](Operation *op, StringRef name) {
    return emitRemark(op->getLoc())
           << filter.passName << ": weight '" << name << "' is left in float: ";
  };
  unsigned ordinal = 0;
  std::optional<ProgressRemarks> progress;
  if (!filter.passName.empty())
    progress.emplace(root->getLoc(), filter.passName, candidates.size());
  for (auto [index, candidate] : llvm::enumerate(candidates)) {
    if (progress && index > 0)
      progress->finished(index, "products");
    auto op = dyn_cast<linalg::LinalgOp>(candidate);
    if (auto ggml = dyn_cast<GGMLMatmulOp>(candidate)) {
      std::string name = getWeightName(ggml);
      if (const std::string *pattern = findSkipPattern(name, filter.skip)) {
        if (explain)
          leftInFloat(ggml, name)
              << "it matches the skip pattern '" << *pattern << "'";
        ++ordinal;
        continue;
      }
      if (!(op = expandFloatGGMLMatmul(ggml))) {
        ++ordinal;
        continue;
      }
    }
    std::string reason;
    FailureOr<ConstantWeightMatmul> match = matchConstantWeightMatmul(
        op, reason, ordinal++, filter.readWeights || filter.requireFinite);
    if (failed(match)) {
      if (explain && !reason.empty())
        emitRemark(op->getLoc())
            << filter.passName << ": not quantized: " << reason;
      continue;
    }
    if (const std::string *pattern =
            findSkipPattern(match->name, filter.skip)) {
      if (explain)
        leftInFloat(op, match->name)
            << "it matches the skip pattern '" << *pattern << "'";
      continue;
    }
    if (filter.select && !filter.select(*match)) {
      if (explain)
        leftInFloat(op, match->name) << "the host's selector declined it";
      continue;
    }
    if (filter.skipBatched && match->batch) {
      if (explain)
        leftInFloat(op, match->name)
            << "batched weights are not supported by this pass";
      continue;
    }
    if (filter.scope && !filter.scope->isAncestor(op)) {
      if (explain) {
        auto diag = leftInFloat(op, match->name) << "it is outside ";
        if (auto symbol = dyn_cast<SymbolOpInterface>(filter.scope))
          diag << "@" << symbol.getName() << ", ";
        diag << "the function calibration runs";
      }
      continue;
    }
    if (filter.skipNonF32Input &&
        !cast<ShapedType>(match->input.getType()).getElementType().isF32()) {
      if (explain)
        leftInFloat(op, match->name) << "its activations are not f32";
      continue;
    }
    if (filter.skipNonF32Weight &&
        !cast<ShapedType>(op->getOperand(match->weightOperand).getType())
             .getElementType()
             .isF32()) {
      if (explain)
        leftInFloat(op, match->name) << "its weight operand is not f32";
      continue;
    }
    if (filter.requireFinite && failed(checkFiniteWeight(*match)))
      return failure();
    if (!filter.readWeights)
      match->weight = std::vector<float>();
    ArrayRef<char> stored = match->storedBytes;
    if (failed(fn(*match)))
      return failure();
    // The weight has been read (and usually replaced): its pages of a mapped
    // model need not stay resident.
    quantopt::releaseResidentPages(stored.data(), stored.size());
  }
  return success();
}

Value mlir::qtensor::createRawConstant(OpBuilder &builder, Location loc,
                                       RankedTensorType type,
                                       ArrayRef<char> bytes, bool asResource,
                                       StringRef name) {
  if (asResource) {
    auto blob = HeapAsmResourceBlob::allocateAndCopyInferAlign(bytes);
    auto attr = DenseResourceElementsAttr::get(type, name, std::move(blob));
    return arith::ConstantOp::create(builder, loc, attr);
  }
  auto attr = DenseElementsAttr::getFromRawBuffer(type, bytes);
  return arith::ConstantOp::create(builder, loc, attr);
}

std::optional<FloatConstant> mlir::qtensor::readFloatConstant(Value value) {
  std::optional<ConstantSource> source = getConstantSource(value);
  if (!source)
    return std::nullopt;
  auto type = dyn_cast<RankedTensorType>(source->value.getType());
  if (!type || !type.hasStaticShape())
    return std::nullopt;
  std::optional<std::vector<float>> values = readFloats(source->value);
  if (!values)
    return std::nullopt;
  return FloatConstant{source->name, source->fromResource, type,
                       std::move(*values)};
}

bool mlir::qtensor::isConstantTensor(Value value) {
  return getConstantSource(value).has_value();
}

Value mlir::qtensor::createF32Constant(OpBuilder &builder, Location loc,
                                       ArrayRef<int64_t> shape,
                                       ArrayRef<float> values, bool asResource,
                                       StringRef name) {
  auto type = RankedTensorType::get(shape, builder.getF32Type());
  ArrayRef<char> bytes(reinterpret_cast<const char *>(values.data()),
                       values.size() * sizeof(float));
  return createRawConstant(builder, loc, type, bytes, asResource, name);
}

/// Erases the view ops and the constant behind a weight operand that the
/// product no longer uses, nearest first, while they have no other user.
static void eraseDeadWeightChain(RewriterBase &rewriter, Value old,
                                 ArrayRef<Operation *> chain) {
  for (Operation *op : chain) {
    if (!op->use_empty())
      return;
    old = op->getOperand(0);
    rewriter.eraseOp(op);
  }
  Operation *def = old.getDefiningOp();
  if (def && old.use_empty() &&
      isa<arith::ConstantOp, ml_program::GlobalLoadConstOp>(def))
    rewriter.eraseOp(def);
}

void mlir::qtensor::updateFloatWeight(OpBuilder &builder,
                                      const ConstantWeightMatmul &match) {
  OpOperand &operand = match.op->getOpOperand(match.weightOperand);
  auto type = cast<RankedTensorType>(operand.get().getType());
  std::vector<float> values = weightInOperandLayout(match, match.weight);
  std::vector<char> bytes;
  for (float v : values) {
    if (type.getElementType().isF32()) {
      const char *p = reinterpret_cast<const char *>(&v);
      bytes.insert(bytes.end(), p, p + 4);
      continue;
    }
    uint16_t bits = type.getElementType().isF16()
                        ? quantopt::numerics::toF16Bits(v)
                        : quantopt::numerics::toBF16Bits(v);
    const char *p = reinterpret_cast<const char *>(&bits);
    bytes.insert(bytes.end(), p, p + 2);
  }
  OpBuilder::InsertionGuard guard(builder);
  builder.setInsertionPoint(match.op);
  Location loc =
      NameLoc::get(builder.getStringAttr(match.name), match.op->getLoc());
  Value old = operand.get();
  operand.set(createRawConstant(builder, loc, type, bytes, match.fromResource,
                                match.name));
  IRRewriter rewriter(builder);
  eraseDeadWeightChain(rewriter, old, match.weightChain);
}

void mlir::qtensor::eraseIfDeadConstant(Value value) {
  Operation *def = value.getDefiningOp();
  if (def && value.use_empty() &&
      isa<arith::ConstantOp, ml_program::GlobalLoadConstOp>(def))
    def->erase();
}

DequantMatmulOp
mlir::qtensor::replaceWithDequantMatmul(RewriterBase &builder,
                                        const ConstantWeightMatmul &match,
                                        const QuantizedWeight &weight) {
  MLIRContext *ctx = builder.getContext();
  // The weight's name stays on the op, so exporters can name its tensors.
  Location loc =
      NameLoc::get(builder.getStringAttr(match.name), match.op->getLoc());
  builder.setInsertionPoint(match.op);
  bool asResource = match.fromResource;

  auto storageType =
      RankedTensorType::get(weight.storageShape, IntegerType::get(ctx, 8));
  Value storage = createRawConstant(
      builder, loc, storageType,
      ArrayRef<char>(reinterpret_cast<const char *>(weight.storage.data()),
                     weight.storage.size()),
      asResource, match.name + ".qweight");

  auto scalesType = RankedTensorType::get(weight.scaleShape, weight.scaleType);
  std::vector<char> scaleBytes;
  for (float s : weight.scales) {
    if (weight.scaleType.isF32()) {
      const char *p = reinterpret_cast<const char *>(&s);
      scaleBytes.insert(scaleBytes.end(), p, p + 4);
      continue;
    }
    uint16_t bits = weight.scaleType.isF16()
                        ? quantopt::numerics::toF16Bits(s)
                        : quantopt::numerics::toBF16Bits(s);
    const char *p = reinterpret_cast<const char *>(&bits);
    scaleBytes.insert(scaleBytes.end(), p, p + 2);
  }
  Value scales = createRawConstant(builder, loc, scalesType, scaleBytes,
                                   asResource, match.name + ".scales");

  Value zeros;
  if (!weight.zeros.empty()) {
    // i8 holds every zero-point of up to 7-bit codes; 8-bit codes need i16.
    bool wide = weight.layout.getBitWidth() >= 8;
    Type zeroType = IntegerType::get(ctx, wide ? 16 : 8);
    std::vector<char> zeroBytes;
    for (int32_t z : weight.zeros) {
      if (wide) {
        int16_t v = static_cast<int16_t>(z);
        const char *p = reinterpret_cast<const char *>(&v);
        zeroBytes.insert(zeroBytes.end(), p, p + 2);
      } else {
        zeroBytes.push_back(static_cast<char>(z));
      }
    }
    zeros = createRawConstant(
        builder, loc, RankedTensorType::get(weight.scaleShape, zeroType),
        zeroBytes, asResource, match.name + ".qzeros");
  }
  Value groupIndex;
  if (!weight.groupIndex.empty())
    groupIndex = createRawConstant(
        builder, loc,
        RankedTensorType::get({int64_t(weight.groupIndex.size())},
                              IntegerType::get(ctx, 32)),
        ArrayRef<char>(reinterpret_cast<const char *>(weight.groupIndex.data()),
                       weight.groupIndex.size() * sizeof(int32_t)),
        asResource, match.name + ".g_idx");
  DequantMatmulOp op;
  replaceMatchedProduct(
      builder, match, /*f32Input=*/false,
      [&](OpBuilder &b, Location, Value input, Value init) {
        op = DequantMatmulOp::create(b, loc, init.getType(), input, storage,
                                     scales, zeros, groupIndex, init,
                                     weight.layout);
        // Printed IR drops locations by default; the attribute keeps the
        // name.
        op->setAttr(kWeightNameAttr, b.getStringAttr(match.name));
        return op.getResult();
      });
  return op;
}

Value mlir::qtensor::convertFloatElements(OpBuilder &builder, Location loc,
                                          Value value, Type elementType) {
  auto type = cast<RankedTensorType>(value.getType());
  if (type.getElementType() == elementType)
    return value;
  auto resultType = type.clone(elementType);
  Value empty =
      tensor::EmptyOp::create(builder, loc, resultType.getShape(), elementType);
  AffineMap id = builder.getMultiDimIdentityMap(type.getRank());
  SmallVector<utils::IteratorType> iterators(type.getRank(),
                                             utils::IteratorType::parallel);
  bool widen = elementType.getIntOrFloatBitWidth() >
               type.getElementType().getIntOrFloatBitWidth();
  return linalg::GenericOp::create(
             builder, loc, TypeRange{resultType}, ValueRange{value},
             ValueRange{empty}, ArrayRef<AffineMap>{id, id}, iterators,
             [&](OpBuilder &b, Location l, ValueRange args) {
               Value converted = widen ? Value(arith::ExtFOp::create(
                                             b, l, elementType, args[0]))
                                       : Value(arith::TruncFOp::create(
                                             b, l, elementType, args[0]));
               linalg::YieldOp::create(b, l, converted);
             })
      .getResult(0);
}

void mlir::qtensor::replaceMatchedProduct(
    RewriterBase &builder, const ConstantWeightMatmul &match, bool f32Input,
    function_ref<Value(OpBuilder &, Location, Value, Value)> create) {
  OpBuilder::InsertionGuard guard(builder);
  builder.setInsertionPoint(match.op);
  Location loc = match.op->getLoc();
  Type f32 = builder.getF32Type();
  // The activation as it is now: an earlier replacement may have replaced
  // the value recorded when the product was matched.
  Value input = match.op->getOperand(1 - match.weightOperand);
  if (f32Input)
    input = convertFloatElements(builder, loc, input, f32);
  // The quantized products accumulate in f32; an f16/bf16 result is
  // rounded once at the end.
  Value init = convertFloatElements(builder, loc, match.op->getOperand(2), f32);
  Value result = create(builder, loc, input, init);
  Type resultElement =
      cast<RankedTensorType>(match.op->getResult(0).getType()).getElementType();
  result = convertFloatElements(builder, loc, result, resultElement);
  Value oldWeight = match.op->getOperand(match.weightOperand);
  builder.replaceOp(match.op, result);
  eraseDeadWeightChain(builder, oldWeight, match.weightChain);
}

//===----------------------------------------------------------------------===//
// Census
//===----------------------------------------------------------------------===//

/// The number of weight-carrying products in each function under `root`.
static SmallVector<std::pair<Operation *, unsigned>>
countWeightProducts(Operation *root) {
  SmallVector<std::pair<Operation *, unsigned>> counts;
  root->walk([&](FunctionOpInterface func) {
    unsigned n = 0;
    func->walk([&](Operation *op) { n += isWeightCarryingProduct(op); });
    counts.emplace_back(func, n);
  });
  return counts;
}

WeightProductCensus::WeightProductCensus(Operation *root)
    : root(root), before(countWeightProducts(root)) {}

std::pair<unsigned, unsigned> WeightProductCensus::report(StringRef passName) {
  unsigned quantized = 0, total = 0;
  for (auto [func, remaining] : countWeightProducts(root)) {
    auto it = llvm::find_if(before, [&](auto &p) { return p.first == func; });
    if (it == before.end() || it->second == 0)
      continue;
    unsigned done = it->second > remaining ? it->second - remaining : 0;
    emitRemark(func->getLoc())
        << passName << ": quantized " << done << " of " << it->second
        << " weight-carrying matrix products";
    quantized += done;
    total += it->second;
  }
  return {quantized, total};
}

LogicalResult mlir::qtensor::runWeightPass(
    Operation *root, StringRef passName, function_ref<LogicalResult()> quantize,
    Pass::Statistic &numQuantized, Pass::Statistic &numLeftInFloat) {
  WeightProductCensus census(root);
  if (failed(quantize()))
    return failure();
  auto [quantized, total] = census.report(passName);
  numQuantized += quantized;
  numLeftInFloat += total - quantized;
  return success();
}
