//===- QTensorOps.cpp - qtensor operations --------------------------------===//
//
// Part of the quant-opt project, under the Apache License v2.0 with LLVM
// Exceptions.
//
//===----------------------------------------------------------------------===//

#include "quant/Dialect/QTensor/IR/QTensorOps.h"
#include "quant/Numerics/GGMLTypes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/OpImplementation.h"
#include "llvm/ADT/TypeSwitch.h"

using namespace mlir;
using namespace mlir::qtensor;

static std::string shapeString(ArrayRef<int64_t> shape) {
  std::string result;
  llvm::raw_string_ostream os(result);
  llvm::interleave(
      shape, os,
      [&](int64_t d) {
        if (ShapedType::isDynamic(d))
          os << "?";
        else
          os << d;
      },
      "x");
  return result;
}

static std::string dimString(int64_t d) {
  return ShapedType::isDynamic(d) ? "?" : std::to_string(d);
}

/// The output channels of a weight with `rows` rows, for a diagnostic.
static std::string channelsString(int64_t rows, int64_t channels) {
  if (rows == channels)
    return dimString(rows);
  return dimString(rows) + " rows, gate and up, for " + dimString(channels);
}

static bool dimsCompatible(int64_t a, int64_t b) {
  return ShapedType::isDynamic(a) || ShapedType::isDynamic(b) || a == b;
}

static bool shapesCompatible(ArrayRef<int64_t> actual,
                             ArrayRef<int64_t> expected) {
  if (actual.size() != expected.size())
    return false;
  for (auto [a, e] : llvm::zip_equal(actual, expected))
    if (!dimsCompatible(a, e))
      return false;
  return true;
}

/// Checks the zero-points' format and shape against the scales.
static LogicalResult verifyZeroPoints(Operation *op, LayoutAttr layout,
                                      RankedTensorType scalesType,
                                      Value zeroPoints) {
  if (!zeroPoints)
    return success();
  if (!layout.isInteger())
    return op->emitOpError("format ")
           << stringifyElementFormat(layout.getFormat())
           << " takes no zero-points";
  auto zeroType = cast<RankedTensorType>(zeroPoints.getType());
  if (!shapesCompatible(zeroType.getShape(), scalesType.getShape()))
    return op->emitOpError("zero-points shape ")
           << shapeString(zeroType.getShape())
           << " must equal the scales shape "
           << shapeString(scalesType.getShape());
  return success();
}

/// Flat blocks (one block size for a tensor of rank > 1): blocks of the
/// row-major flattened tensor, 1-D storage and 1-D scales.
static LogicalResult verifyFlatOperands(Operation *op, LayoutAttr layout,
                                        ArrayRef<int64_t> logicalShape,
                                        RankedTensorType storageType,
                                        RankedTensorType scalesType,
                                        Value zeroPoints, Value groupIndex) {
  if (!ShapedType::isStaticShape(logicalShape))
    return op->emitOpError("flat blocks (one block size for a rank-")
           << logicalShape.size() << " tensor) need a static logical shape, "
           << "got " << shapeString(logicalShape);
  if (groupIndex)
    return op->emitOpError("group_index needs one block size per dimension, "
                           "not flat blocks");
  // Keeps the packed-size arithmetic far from overflow.
  constexpr int64_t kMaxElements = int64_t(1) << 48;
  int64_t count = 1;
  for (int64_t extent : logicalShape) {
    if (extent > kMaxElements || (extent > 0 && count > kMaxElements / extent))
      return op->emitOpError("flat blocks: logical shape ")
             << shapeString(logicalShape) << " has more than 2^48 elements";
    count *= extent;
  }
  if (storageType) {
    SmallVector<int64_t> expected{layout.getStorageSize(count)};
    if (!shapesCompatible(storageType.getShape(), expected))
      return op->emitOpError("storage shape ")
             << shapeString(storageType.getShape())
             << " does not match logical shape " << shapeString(logicalShape)
             << " under the flat layout; expected " << shapeString(expected);
  }
  int64_t block = layout.getBlock()[0];
  SmallVector<int64_t> expectedScales{
      block == 0 ? 1 : static_cast<int64_t>(llvm::divideCeil(count, block))};
  if (!shapesCompatible(scalesType.getShape(), expectedScales))
    return op->emitOpError("scales shape ")
           << shapeString(scalesType.getShape())
           << " does not match the flat blocks of logical shape "
           << shapeString(logicalShape) << "; expected "
           << shapeString(expectedScales);
  return verifyZeroPoints(op, layout, scalesType, zeroPoints);
}

/// Checks storage, scales, zero-points and group index against a logical
/// tensor shape under `layout`. `storageType` is null when no storage
/// exists (fake_quant).
static LogicalResult verifyQuantizedOperands(Operation *op, LayoutAttr layout,
                                             ArrayRef<int64_t> logicalShape,
                                             RankedTensorType storageType,
                                             RankedTensorType scalesType,
                                             Value zeroPoints,
                                             Value groupIndex) {
  size_t rank = logicalShape.size();
  if (rank == 0)
    return op->emitOpError("quantized tensors must have rank >= 1");
  if (layout.hasFlatBlocks(rank))
    return verifyFlatOperands(op, layout, logicalShape, storageType, scalesType,
                              zeroPoints, groupIndex);
  if (layout.getBlock().size() != rank)
    return op->emitOpError("layout has ")
           << layout.getBlock().size()
           << " block sizes but the quantized tensor has rank " << rank;
  // Keeps the packed-size arithmetic far from overflow.
  constexpr int64_t kMaxExtent = int64_t(1) << 48;
  for (int64_t extent : logicalShape)
    if (!ShapedType::isDynamic(extent) && extent > kMaxExtent)
      return op->emitOpError("logical dimension ")
             << extent << " exceeds the supported maximum of 2^48";

  if (storageType) {
    SmallVector<int64_t> expected(logicalShape);
    expected.back() = layout.getStorageSize(expected.back());
    if (!shapesCompatible(storageType.getShape(), expected))
      return op->emitOpError("storage shape ")
             << shapeString(storageType.getShape())
             << " does not match logical shape " << shapeString(logicalShape)
             << " under the layout; expected " << shapeString(expected);
  }

  SmallVector<int64_t> expectedScales;
  for (auto [dim, extent] : llvm::enumerate(logicalShape)) {
    int64_t block = layout.getBlock()[dim];
    if (block == 0)
      expectedScales.push_back(1);
    else if (ShapedType::isDynamic(extent))
      expectedScales.push_back(ShapedType::kDynamic);
    else
      expectedScales.push_back(llvm::divideCeil(extent, block));
  }
  if (groupIndex && layout.getBlock().back() == 0)
    return op->emitOpError("group_index needs a group size along the last "
                           "dimension, but its block is 0");
  if (!shapesCompatible(scalesType.getShape(), expectedScales))
    return op->emitOpError("scales shape ")
           << shapeString(scalesType.getShape())
           << " does not match the blocks of logical shape "
           << shapeString(logicalShape) << "; expected "
           << shapeString(expectedScales);

  if (failed(verifyZeroPoints(op, layout, scalesType, zeroPoints)))
    return failure();

  if (groupIndex) {
    auto indexType = cast<RankedTensorType>(groupIndex.getType());
    if (!dimsCompatible(indexType.getDimSize(0), logicalShape.back()))
      return op->emitOpError("group_index has ")
             << indexType.getDimSize(0)
             << " entries but the last logical dimension is "
             << logicalShape.back();
  }
  return success();
}

//===----------------------------------------------------------------------===//
// QuantizeOp
//===----------------------------------------------------------------------===//

LogicalResult QuantizeOp::verify() {
  return verifyQuantizedOperands(*this, getLayout(),
                                 getInput().getType().getShape(),
                                 getResult().getType(), getScales().getType(),
                                 getZeroPoints(), /*groupIndex=*/nullptr);
}

//===----------------------------------------------------------------------===//
// DequantizeOp
//===----------------------------------------------------------------------===//

LogicalResult DequantizeOp::verify() {
  return verifyQuantizedOperands(*this, getLayout(),
                                 getResult().getType().getShape(),
                                 getStorage().getType(), getScales().getType(),
                                 getZeroPoints(), getGroupIndex());
}

//===----------------------------------------------------------------------===//
// Gated epilogues of the products
//===----------------------------------------------------------------------===//

Block *mlir::qtensor::getGatedEpilogue(Operation *product) {
  if (!isa<DequantMatmulOp, GGMLMatmulOp, QuantizedMatmulOp>(product) ||
      product->getRegion(0).empty())
    return nullptr;
  return &product->getRegion(0).front();
}

int64_t mlir::qtensor::getGateBlock(Operation *product) {
  std::optional<uint64_t> block =
      llvm::TypeSwitch<Operation *, std::optional<uint64_t>>(product)
          .Case<DequantMatmulOp, GGMLMatmulOp, QuantizedMatmulOp>(
              [](auto op) { return op.getGateBlock(); })
          .Default([](Operation *) { return std::nullopt; });
  return block ? int64_t(*block) : 0;
}

void mlir::qtensor::setGateBlock(Operation *product, int64_t block) {
  IntegerAttr attr;
  if (block > 0)
    attr = IntegerAttr::get(IntegerType::get(product->getContext(), 64), block);
  llvm::TypeSwitch<Operation *>(product)
      .Case<DequantMatmulOp, GGMLMatmulOp, QuantizedMatmulOp>(
          [&](auto op) { op.setGateBlockAttr(attr); });
}

bool mlir::qtensor::isGatedEpilogueOp(Operation &op) {
  bool scalar = llvm::all_of(op.getResultTypes(),
                             [](Type t) { return t.isIntOrIndexOrFloat(); });
  bool elementwise =
      op.hasTrait<OpTrait::Elementwise>() &&
      isa<arith::ArithDialect, math::MathDialect>(op.getDialect()) &&
      op.getNumRegions() == 0;
  return scalar && (elementwise || isa<arith::ConstantOp>(op));
}

/// Checks the epilogue of product `op`, whose weight has `weightRows` rows,
/// and sets `channels` to the output channels its init must have.
static LogicalResult verifyGatedEpilogue(Operation *op, int64_t weightRows,
                                         int64_t &channels) {
  channels = weightRows;
  Region &region = op->getRegion(0);
  int64_t block = getGateBlock(op);
  if (region.empty() && block == 0)
    return success();
  if (region.empty())
    return op->emitOpError("gateBlock needs an epilogue region");
  if (block == 0)
    return op->emitOpError("an epilogue region needs a gateBlock");
  if (!region.hasOneBlock())
    return op->emitOpError("epilogue must be one block");
  Block &body = region.front();
  Type f32 = Float32Type::get(op->getContext());
  if (body.getNumArguments() != 3 ||
      llvm::any_of(body.getArgumentTypes(), [&](Type t) { return t != f32; }))
    return op->emitOpError("epilogue block must take three f32 arguments "
                           "(gate, up, init)");
  auto yield = dyn_cast<YieldOp>(body.getTerminator());
  if (!yield || yield.getValues().size() != 1 ||
      yield.getValues()[0].getType() != f32)
    return op->emitOpError("epilogue must end in qtensor.yield of one f32 "
                           "value");
  for (Operation &inner : body.without_terminator()) {
    if (!isGatedEpilogueOp(inner))
      return op->emitOpError("epilogue op '")
             << inner.getName()
             << "' is not a scalar elementwise arith/math op or a constant";
  }
  if (ShapedType::isDynamic(weightRows) || weightRows % 2 != 0)
    return op->emitOpError("a gated epilogue needs a static, even number of "
                           "weight rows, got ")
           << dimString(weightRows);
  channels = weightRows / 2;
  return success();
}

//===----------------------------------------------------------------------===//
// DequantMatmulOp
//===----------------------------------------------------------------------===//

SmallVector<int64_t> DequantMatmulOp::getWeightShape() {
  ArrayRef<int64_t> storage = getStorage().getType().getShape();
  int64_t k = getInput().getType().getShape().back();
  // 1-D storage: the flat stream of an [N, K] weight, N from init.
  if (storage.size() == 1)
    return {getInit().getType().getShape().back(), k};
  SmallVector<int64_t> shape(storage);
  shape.back() = k;
  return shape;
}

LogicalResult DequantMatmulOp::verify() {
  RankedTensorType inputType = getInput().getType();
  RankedTensorType initType = getInit().getType();
  RankedTensorType storageType = getStorage().getType();
  if (getResult().getType() != initType)
    return emitOpError("result type ")
           << getResult().getType() << " must equal the init type " << initType;
  if (!initType.getElementType().isF32())
    return emitOpError("accumulates in f32; init must have f32 elements");
  int64_t weightRank = storageType.getRank();
  if (weightRank == 1) {
    if (getLayout().getBlock().size() != 1)
      return emitOpError("1-D storage holds the flat stream of an [N, K] "
                         "weight and needs flat blocks (one block size), got ")
             << getLayout().getBlock().size() << " block sizes";
    weightRank = 2;
  }
  if (weightRank != 2 && weightRank != 3)
    return emitOpError("weight must be [N, K] or [B, N, K], got rank ")
           << weightRank;
  if (inputType.getRank() < 1 || inputType.getRank() != initType.getRank())
    return emitOpError("input rank ")
           << inputType.getRank() << " and init rank " << initType.getRank()
           << " must be equal and >= 1";
  if (weightRank == 3 && inputType.getRank() != 3)
    return emitOpError("a [B, N, K] weight needs a [B, M, K] input");
  ArrayRef<int64_t> inShape = inputType.getShape();
  ArrayRef<int64_t> initShape = initType.getShape();
  for (int64_t d = 0, e = inputType.getRank() - 1; d < e; ++d)
    if (!dimsCompatible(inShape[d], initShape[d]))
      return emitOpError("input shape ")
             << shapeString(inShape) << " and init shape "
             << shapeString(initShape) << " differ outside the last dimension";
  SmallVector<int64_t> weightShape = getWeightShape();
  int64_t n = weightShape[weightRank - 2];
  if (getGatedEpilogue(*this) && storageType.getRank() != 2)
    return emitOpError("a gated epilogue needs an [N, K] weight");
  int64_t channels;
  if (failed(verifyGatedEpilogue(*this, n, channels)))
    return failure();
  if (!dimsCompatible(initShape.back(), channels))
    return emitOpError("init has ")
           << initShape.back() << " output channels but the weight has "
           << channelsString(n, channels);
  if (weightRank == 3 && (!dimsCompatible(inShape[0], weightShape[0]) ||
                          !dimsCompatible(initShape[0], weightShape[0])))
    return emitOpError("input batch ")
           << dimString(inShape[0]) << " and init batch "
           << dimString(initShape[0]) << " must equal the weight batch "
           << dimString(weightShape[0]);
  if (ShapedType::isDynamic(weightShape.back()))
    return emitOpError("the reduction dimension K must be static");
  return verifyQuantizedOperands(*this, getLayout(), weightShape, storageType,
                                 getScales().getType(), getZeroPoints(),
                                 getGroupIndex());
}

//===----------------------------------------------------------------------===//
// FakeQuantOp
//===----------------------------------------------------------------------===//

LogicalResult FakeQuantOp::verify() {
  if (getLayout().getPacking() != PackOrder::none)
    return emitOpError("layout packing must be none: fake_quant has no "
                       "storage");
  return verifyQuantizedOperands(*this, getLayout(),
                                 getInput().getType().getShape(),
                                 /*storageType=*/nullptr, getScales().getType(),
                                 getZeroPoints(), /*groupIndex=*/nullptr);
}

//===----------------------------------------------------------------------===//
// DynamicQuantizeOp
//===----------------------------------------------------------------------===//

bool DynamicQuantizeOp::isPerTensor() {
  return llvm::all_of(getScales().getType().getShape(),
                      [](int64_t d) { return d == 1; });
}

LogicalResult DynamicQuantizeOp::verify() {
  ArrayRef<int64_t> shape = getInput().getType().getShape();
  if (shape.empty())
    return emitOpError("input must have rank >= 1");
  if (!shapesCompatible(getCodes().getType().getShape(), shape))
    return emitOpError("codes shape ")
           << shapeString(getCodes().getType().getShape())
           << " must equal the input shape " << shapeString(shape);
  SmallVector<int64_t> scaleShape(shape);
  scaleShape.back() = 1;
  if (!isPerTensor() &&
      !shapesCompatible(getScales().getType().getShape(), scaleShape))
    return emitOpError("scales shape ")
           << shapeString(getScales().getType().getShape())
           << " must be the input shape with a last dimension of 1, "
           << shapeString(scaleShape) << ", or all ones";
  return success();
}

//===----------------------------------------------------------------------===//
// QuantizedMatmulOp
//===----------------------------------------------------------------------===//

/// Checks shared by the products `init + input · Wᵀ` over a [N, K] weight:
/// result = init type, equal ranks >= 1, equal leading dimensions.
static LogicalResult verifyProductShapes(Operation *op, ShapedType input,
                                         ShapedType init, Type result) {
  ArrayRef<int64_t> inShape = input.getShape();
  ArrayRef<int64_t> initShape = init.getShape();
  if (result != init)
    return op->emitOpError("result type ")
           << result << " must equal the init type " << init;
  if (inShape.empty() || inShape.size() != initShape.size())
    return op->emitOpError("input rank ")
           << inShape.size() << " and init rank " << initShape.size()
           << " must be equal and >= 1";
  for (size_t d = 0; d + 1 < inShape.size(); ++d)
    if (!dimsCompatible(inShape[d], initShape[d]))
      return op->emitOpError("input shape ")
             << shapeString(inShape) << " and init shape "
             << shapeString(initShape) << " differ outside the last dimension";
  return success();
}

LogicalResult QuantizedMatmulOp::verify() {
  ArrayRef<int64_t> inShape = getInput().getType().getShape();
  ArrayRef<int64_t> initShape = getInit().getType().getShape();
  ArrayRef<int64_t> weightShape = getWeight().getType().getShape();
  ArrayRef<int64_t> wScaleShape = getWeightScales().getType().getShape();
  ArrayRef<int64_t> xScaleShape = getInputScales().getType().getShape();
  if (failed(verifyProductShapes(*this, getInput().getType(),
                                 getInit().getType(), getResult().getType())))
    return failure();
  int64_t n = weightShape[0], k = weightShape[1];
  if (ShapedType::isDynamic(k) || !dimsCompatible(inShape.back(), k))
    return emitOpError("weight [N, K] = ")
           << shapeString(weightShape) << " needs a static K equal to the "
           << "input's last dimension " << dimString(inShape.back());
  int64_t channels;
  if (failed(verifyGatedEpilogue(*this, n, channels)))
    return failure();
  if (!dimsCompatible(initShape.back(), channels))
    return emitOpError("init has ") << dimString(initShape.back())
                                    << " output channels but the weight has "
                                    << channelsString(n, channels);
  SmallVector<int64_t> perToken(inShape);
  perToken.back() = 1;
  bool perTensor = xScaleShape.size() == inShape.size() &&
                   llvm::all_of(xScaleShape, [](int64_t d) { return d == 1; });
  if (!perTensor && !shapesCompatible(xScaleShape, perToken))
    return emitOpError("input scales shape ")
           << shapeString(xScaleShape) << " must be " << shapeString(perToken)
           << " (per token) or all ones";
  int64_t groups = wScaleShape[1];
  if (ShapedType::isDynamic(groups) || groups < 1 || k % groups != 0)
    return emitOpError("weight scales ")
           << shapeString(wScaleShape)
           << " must have a static number of groups dividing K = " << k;
  if (wScaleShape[0] != 1 && !dimsCompatible(wScaleShape[0], n))
    return emitOpError("weight scales have ")
           << dimString(wScaleShape[0])
           << " rows; expected 1 or N = " << dimString(n);
  return success();
}

//===----------------------------------------------------------------------===//
// ggml block ops
//===----------------------------------------------------------------------===//

/// The ggml type as a bare keyword: `as q4_K`.
static ParseResult parseGGMLType(OpAsmParser &parser, GGMLTypeAttr &type) {
  StringRef keyword;
  SMLoc loc = parser.getCurrentLocation();
  if (parser.parseKeyword(&keyword))
    return failure();
  std::optional<GGMLType> value =
      quantopt::numerics::symbolizeGGMLType(keyword);
  if (!value || *value == GGMLType::F32)
    return parser.emitError(loc, "unknown ggml type '") << keyword << "'";
  type = GGMLTypeAttr::get(parser.getContext(), *value);
  return success();
}

static void printGGMLType(OpAsmPrinter &printer, Operation *,
                          GGMLTypeAttr type) {
  printer << quantopt::numerics::stringifyGGMLType(type.getValue());
}

/// Checks that a storage row of `rowBytes` holds the ggml blocks of `k`
/// elements of `type`.
static LogicalResult verifyGGMLRow(Operation *op, GGMLType type, int64_t k,
                                   int64_t rowBytes) {
  auto traits = quantopt::numerics::getGGMLTypeTraits(uint32_t(type));
  if (!traits || type == GGMLType::F32)
    return op->emitOpError("unknown ggml type");
  if (ShapedType::isDynamic(k) || ShapedType::isDynamic(rowBytes))
    return op->emitOpError("the row length K and the storage row must be "
                           "static");
  if (k % traits->blockElements != 0)
    return op->emitOpError("row length ")
           << k << " is not a multiple of the " << traits->blockElements
           << "-element blocks of " << traits->ggmlName;
  int64_t expected = k / traits->blockElements * traits->blockBytes;
  if (rowBytes != expected)
    return op->emitOpError("storage rows have ")
           << rowBytes << " bytes; " << k << " elements of " << traits->ggmlName
           << " take " << expected;
  return success();
}

LogicalResult GGMLDequantizeOp::verify() {
  ArrayRef<int64_t> storage = getStorage().getType().getShape();
  ArrayRef<int64_t> result = getResult().getType().getShape();
  if (storage.empty() || storage.size() != result.size())
    return emitOpError("storage rank ")
           << storage.size() << " and result rank " << result.size()
           << " must be equal and >= 1";
  for (size_t d = 0; d + 1 < storage.size(); ++d)
    if (!dimsCompatible(storage[d], result[d]))
      return emitOpError("storage shape ")
             << shapeString(storage) << " and result shape "
             << shapeString(result) << " differ outside the last dimension";
  return verifyGGMLRow(*this, getGgmlType(), result.back(), storage.back());
}

LogicalResult GGMLMatmulOp::verify() {
  ArrayRef<int64_t> inShape = getInput().getType().getShape();
  ArrayRef<int64_t> initShape = getInit().getType().getShape();
  ArrayRef<int64_t> storage = getStorage().getType().getShape();
  if (failed(verifyProductShapes(*this, getInput().getType(),
                                 getInit().getType(), getResult().getType())))
    return failure();
  int64_t channels;
  if (failed(verifyGatedEpilogue(*this, storage[0], channels)))
    return failure();
  if (!dimsCompatible(initShape.back(), channels))
    return emitOpError("init has ") << dimString(initShape.back())
                                    << " output channels but the weight has "
                                    << channelsString(storage[0], channels);
  return verifyGGMLRow(*this, getGgmlType(), inShape.back(), storage[1]);
}

#define GET_OP_CLASSES
#include "quant/Dialect/QTensor/IR/QTensorOps.cpp.inc"
