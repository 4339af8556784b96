//===- WeightMatching.cpp - Find matmuls with constant weights ------------===//
//
// Part of the quant-opt project, under the Apache License v2.0 with LLVM
// Exceptions.
//
//===----------------------------------------------------------------------===//

#include "quant/Dialect/QTensor/Utils/WeightMatching.h"
#include "quant/Numerics/GGUFQuants.h"
#include "quant/Numerics/Numerics.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/MLProgram/IR/MLProgram.h"
#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/DialectResourceBlobManager.h"
#include "mlir/IR/Matchers.h"
#include "mlir/IR/SymbolTable.h"

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

std::optional<std::vector<uint8_t>>
mlir::qtensor::readConstantBytes(Value value) {
  std::optional<ConstantSource> source = getConstantSource(value);
  if (!source)
    return std::nullopt;
  auto type = cast<ShapedType>(source->value.getType());
  if (!type.hasStaticShape() || !type.getElementType().isIntOrFloat() ||
      type.getElementTypeBitWidth() % 8 != 0)
    return std::nullopt;
  size_t width = type.getElementTypeBitWidth() / 8;
  size_t size = type.getNumElements() * width;
  ArrayRef<char> raw;
  bool splat = false;
  if (auto resource = dyn_cast<DenseResourceElementsAttr>(source->value)) {
    AsmResourceBlob *blob = resource.getRawHandle().getBlob();
    if (!blob)
      return std::nullopt;
    raw = blob->getData();
  } else if (auto dense = dyn_cast<DenseElementsAttr>(source->value)) {
    raw = dense.getRawData();
    splat = dense.isSplat();
  } else {
    return std::nullopt;
  }
  std::vector<uint8_t> bytes(size);
  if (raw.size() == size) {
    std::memcpy(bytes.data(), raw.data(), size);
  } else if (splat && raw.size() == width) {
    for (size_t i = 0; i < size; i += width)
      std::memcpy(bytes.data() + i, raw.data(), width);
  } else {
    return std::nullopt;
  }
  return bytes;
}

/// Reads an f32/f16/bf16 constant as f32 values in row-major order.
static std::optional<std::vector<float>> readFloats(ElementsAttr attr) {
  auto type = cast<ShapedType>(attr.getType());
  Type element = type.getElementType();
  std::vector<float> values;
  values.reserve(type.getNumElements());
  if (auto resource = dyn_cast<DenseResourceElementsAttr>(attr)) {
    AsmResourceBlob *blob = resource.getRawHandle().getBlob();
    if (!blob)
      return std::nullopt;
    ArrayRef<char> data = blob->getData();
    size_t width = element.isF32() ? 4 : 2;
    if (!isa<FloatType>(element) ||
        data.size() != size_t(type.getNumElements()) * width)
      return std::nullopt;
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
      if (element.isF16())
        values.push_back(quantopt::numerics::fromF16Bits(bits));
      else if (element.isBF16())
        values.push_back(quantopt::numerics::fromBF16Bits(bits));
      else
        return std::nullopt;
    }
    return values;
  }
  if (!isa<Float32Type, Float16Type, BFloat16Type>(element))
    return std::nullopt;
  auto dense = dyn_cast<DenseFPElementsAttr>(attr);
  if (!dense)
    return std::nullopt;
  for (const APFloat &v : dense.getValues<APFloat>())
    values.push_back(v.convertToFloat());
  return values;
}

FailureOr<ConstantWeightMatmul> mlir::qtensor::matchConstantWeightMatmul(
    linalg::LinalgOp op, std::string &reason, unsigned ordinal) {
  reason.clear();
  if (!op.hasPureTensorSemantics() || op.getNumDpsInputs() != 2 ||
      op.getNumDpsInits() != 1 || !linalg::isaContractionOpInterface(op))
    return failure();
  FailureOr<linalg::ContractionDimensions> dims =
      linalg::inferContractionDims(op);
  if (failed(dims))
    return failure();
  if (dims->k.size() != 1 || dims->n.size() != 1 || dims->batch.size() > 1) {
    reason = "needs exactly one reduction, one output-channel and at most one "
             "batch dimension";
    return failure();
  }
  unsigned kDim = dims->k[0], nDim = dims->n[0];
  std::optional<unsigned> bDim;
  if (!dims->batch.empty())
    bDim = dims->batch[0];

  // The weight is the input indexed by n and k (and batch), not by m.
  SmallVector<AffineMap> maps = op.getIndexingMapsArray();
  int weightIdx = -1;
  for (int i = 0; i < 2; ++i)
    if (maps[i].isFunctionOfDim(nDim) && maps[i].isFunctionOfDim(kDim))
      weightIdx = i;
  if (weightIdx < 0)
    return failure();
  int inputIdx = 1 - weightIdx;
  Value weightValue = op.getDpsInputOperand(weightIdx)->get();
  std::optional<ConstantSource> source = getConstantSource(weightValue);
  if (!source) {
    reason = "weight operand is not a constant (arith.constant, "
             "dense_resource or constant ml_program.global)";
    return failure();
  }

  auto dimOf = [](AffineExpr e) -> std::optional<unsigned> {
    if (auto d = dyn_cast<AffineDimExpr>(e))
      return d.getPosition();
    return std::nullopt;
  };
  // Weight map: (b?, n, k) or (b?, k, n).
  AffineMap wMap = maps[weightIdx];
  unsigned wRank = wMap.getNumResults();
  if (wRank != (bDim ? 3u : 2u)) {
    reason = "weight map is not [B,] N x K";
    return failure();
  }
  if (bDim && dimOf(wMap.getResult(0)) != bDim) {
    reason = "batch must be the outermost weight dimension";
    return failure();
  }
  auto last = dimOf(wMap.getResult(wRank - 1));
  auto secondLast = dimOf(wMap.getResult(wRank - 2));
  bool transposed; // true when stored [K, N]
  if (secondLast == nDim && last == kDim)
    transposed = false;
  else if (secondLast == kDim && last == nDim)
    transposed = true;
  else {
    reason = "weight map is not a plain or transposed matrix";
    return failure();
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
  if (bDim &&
      (inMap.getNumResults() != 3 || dimOf(inMap.getResult(0)) != bDim)) {
    reason = "a batched weight needs a [B, M, K] activation";
    return failure();
  }
  auto initType =
      cast<RankedTensorType>(op.getDpsInitOperand(0)->get().getType());
  auto inputType =
      cast<RankedTensorType>(op.getDpsInputOperand(inputIdx)->get().getType());
  if (!initType.getElementType().isF32() ||
      !isa<Float32Type, Float16Type, BFloat16Type>(
          inputType.getElementType())) {
    reason = "only f32 accumulation with f32/f16/bf16 activations is supported";
    return failure();
  }

  std::optional<std::vector<float>> values = readFloats(source->value);
  if (!values) {
    reason = "weight constant is not a readable f32/f16/bf16 tensor";
    return failure();
  }
  auto weightType = cast<ShapedType>(source->value.getType());
  ArrayRef<int64_t> shape = weightType.getShape();
  ConstantWeightMatmul match;
  match.op = op;
  match.input = op.getDpsInputOperand(inputIdx)->get();
  match.init = op.getDpsInitOperand(0)->get();
  match.name =
      source->name.empty() ? "matmul_" + std::to_string(ordinal) : source->name;
  match.fromResource = source->fromResource;
  match.weightOperand = weightIdx;
  match.transposed = transposed;
  match.batch = bDim ? shape[0] : 0;
  int64_t batches = bDim ? shape[0] : 1;
  int64_t outer = shape[wRank - 2], inner = shape[wRank - 1];
  match.rows = transposed ? inner : outer;
  match.cols = transposed ? outer : inner;
  if (!transposed) {
    match.weight = std::move(*values);
  } else {
    match.weight.resize(values->size());
    for (int64_t b = 0; b < batches; ++b)
      for (int64_t r = 0; r < outer; ++r)
        for (int64_t c = 0; c < inner; ++c)
          match.weight[b * outer * inner + c * outer + r] =
              (*values)[b * outer * inner + r * inner + c];
  }
  return match;
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

bool mlir::qtensor::isSkippedWeight(StringRef name,
                                    ArrayRef<std::string> skip) {
  return llvm::any_of(skip,
                      [&](const std::string &s) { return name.contains(s); });
}

std::string mlir::qtensor::getWeightName(Operation *op) {
  if (auto attr = op->getAttrOfType<StringAttr>(kWeightNameAttr))
    return attr.str();
  return nameFromLoc(op->getLoc());
}

/// Rewrites an f16/bf16 ggml_matmul with constant storage as a
/// linalg.generic `init + x · Wᵀ` over an f32 constant W (the decoded
/// values, exactly; the same f32 products in the same order). Returns
/// null, leaving `op` alone, when the storage is not a readable constant.
static linalg::LinalgOp expandFloatGGMLMatmul(GGMLMatmulOp op) {
  std::optional<ConstantSource> source = getConstantSource(op.getStorage());
  std::optional<std::vector<uint8_t>> bytes =
      readConstantBytes(op.getStorage());
  if (!source || !bytes)
    return {};
  auto inputType = cast<RankedTensorType>(op.getInput().getType());
  int64_t rows = op.getStorage().getType().getDimSize(0);
  int64_t cols = inputType.getShape().back();
  std::vector<float> weight(rows * cols);
  GGMLType type = op.getGgmlType();
  std::string error;
  if (!quantopt::numerics::dequantizeGGMLRows(type, bytes->data(), rows, cols,
                                              weight.data(), &error))
    return {};
  std::string name = getWeightName(op);
  OpBuilder b(op);
  Location loc = op.getLoc();
  if (!name.empty())
    loc = NameLoc::get(b.getStringAttr(name), loc);
  Value w = createF32Constant(b, loc, {rows, cols}, weight,
                              source->fromResource, name);
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
        Value product = arith::MulFOp::create(nb, l, args[0], args[1]);
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
  bool remarks = !filter.passName.empty();
  unsigned ordinal = 0;
  for (Operation *candidate : candidates) {
    auto op = dyn_cast<linalg::LinalgOp>(candidate);
    if (auto ggml = dyn_cast<GGMLMatmulOp>(candidate)) {
      if (isSkippedWeight(getWeightName(ggml), filter.skip) ||
          !(op = expandFloatGGMLMatmul(ggml))) {
        ++ordinal;
        continue;
      }
    }
    std::string reason;
    FailureOr<ConstantWeightMatmul> match =
        matchConstantWeightMatmul(op, reason, ordinal++);
    if (failed(match)) {
      if (remarks && filter.remarkUnmatched && !reason.empty())
        emitRemark(op->getLoc())
            << filter.passName << ": not quantized: " << reason;
      continue;
    }
    if (isSkippedWeight(match->name, filter.skip))
      continue;
    if (filter.skipBatched && match->batch) {
      if (remarks)
        emitRemark(op->getLoc()) << filter.passName << ": batched weight '"
                                 << match->name << "' is left in float";
      continue;
    }
    if (filter.skipNonF32Input &&
        !cast<ShapedType>(match->input.getType()).getElementType().isF32()) {
      if (remarks)
        emitRemark(op->getLoc())
            << filter.passName << ": weight '" << match->name
            << "' is left in float: its activations are not f32";
      continue;
    }
    if (filter.requireFinite && failed(checkFiniteWeight(*match)))
      return failure();
    if (failed(fn(*match)))
      return failure();
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

void mlir::qtensor::updateFloatWeight(OpBuilder &builder,
                                      const ConstantWeightMatmul &match) {
  int64_t batches = match.batch ? match.batch : 1;
  int64_t rows = match.rows, cols = match.cols;
  std::vector<float> stored = match.weight;
  SmallVector<int64_t> shape;
  if (match.batch)
    shape.push_back(match.batch);
  if (match.transposed) {
    shape.append({cols, rows});
    for (int64_t b = 0; b < batches; ++b)
      for (int64_t r = 0; r < rows; ++r)
        for (int64_t c = 0; c < cols; ++c)
          stored[b * rows * cols + c * rows + r] =
              match.weight[b * rows * cols + r * cols + c];
  } else {
    shape.append({rows, cols});
  }
  OpOperand &operand = match.op->getOpOperand(match.weightOperand);
  OpBuilder::InsertionGuard guard(builder);
  builder.setInsertionPoint(match.op);
  Location loc =
      NameLoc::get(builder.getStringAttr(match.name), match.op->getLoc());
  Value old = operand.get();
  operand.set(createF32Constant(builder, loc, shape, stored, match.fromResource,
                                match.name));
  eraseIfDeadConstant(old);
}

void mlir::qtensor::eraseIfDeadConstant(Value value) {
  Operation *def = value.getDefiningOp();
  if (def && value.use_empty() && isa<arith::ConstantOp>(def))
    def->erase();
}

DequantMatmulOp
mlir::qtensor::replaceWithDequantMatmul(OpBuilder &builder,
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
  auto op = DequantMatmulOp::create(builder, loc, match.init.getType(),
                                    match.input, storage, scales, zeros,
                                    groupIndex, match.init, weight.layout);
  // Printed IR drops locations by default; the attribute keeps the name.
  op->setAttr(kWeightNameAttr, builder.getStringAttr(match.name));
  match.op->getResult(0).replaceAllUsesWith(op.getResult());
  match.op->erase();
  return op;
}
