//===- ConvertQTensorToLinalg.cpp - qtensor to linalg lowering ------------===//
//
// Part of the quant-opt project, under the Apache License v2.0 with LLVM
// Exceptions.
//
//===----------------------------------------------------------------------===//
//
// Reference lowering of qtensor ops to linalg.generic on tensors. Each body
// encodes or decodes one element with the numerics written in the op
// descriptions; the C++ quantizers in quant/Numerics implement the same
// formulas and the tests compare the two.
//
//===----------------------------------------------------------------------===//

#include "quant/Conversion/Passes.h"
#include "quant/Dialect/QTensor/IR/QTensorOps.h"
#include "quant/Numerics/Bitsandbytes.h"
#include "quant/Numerics/Numerics.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/PatternMatch.h"
#include "mlir/Transforms/DialectConversion.h"

namespace mlir {
namespace qtensor {
#define GEN_PASS_DEF_CONVERTQTENSORTOLINALGPASS
#include "quant/Conversion/Passes.h.inc"
} // namespace qtensor
} // namespace mlir

using namespace mlir;
using namespace mlir::qtensor;
namespace num = quantopt::numerics;

//===----------------------------------------------------------------------===//
// Element helpers
//===----------------------------------------------------------------------===//

static Value f32Const(OpBuilder &b, Location loc, float v) {
  return arith::ConstantOp::create(b, loc, b.getF32FloatAttr(v));
}

static Value i32Const(OpBuilder &b, Location loc, int64_t v) {
  return arith::ConstantOp::create(b, loc, b.getI32IntegerAttr(v));
}

static void yieldValue(OpBuilder &b, Location loc, Value v) {
  linalg::YieldOp::create(b, loc, ValueRange{v});
}

static Value toF32(OpBuilder &b, Location loc, Value v) {
  Type type = v.getType();
  if (type.isF32())
    return v;
  if (isa<FloatType>(type))
    return arith::ExtFOp::create(b, loc, b.getF32Type(), v);
  // Integer zero-points are signed.
  return arith::SIToFPOp::create(b, loc, b.getF32Type(), v);
}

static Value fromF32(OpBuilder &b, Location loc, Value v, Type type) {
  if (type.isF32())
    return v;
  return arith::TruncFOp::create(b, loc, type, v);
}

/// The decode table of a lookup / FP8 format as a constant tensor.
static Value createDecodeTable(OpBuilder &b, Location loc, LayoutAttr layout) {
  SmallVector<float> values;
  ElementFormat format = layout.getFormat();
  if (format == ElementFormat::nf4 || format == ElementFormat::fp4) {
    const auto &table =
        format == ElementFormat::nf4 ? num::nf4Table() : num::fp4Table();
    values.assign(table.begin(), table.end());
  } else if (format == ElementFormat::dynamic8) {
    const auto &map = num::dynamicMap8bit();
    values.assign(map.begin(), map.end());
  } else {
    for (unsigned code = 0; code < 256; ++code)
      values.push_back(num::decodeNonInteger(format, code));
  }
  auto type = RankedTensorType::get({int64_t(values.size())}, b.getF32Type());
  return arith::ConstantOp::create(
      b, loc, DenseElementsAttr::get(type, ArrayRef<float>(values)));
}

/// Decodes the unsigned code in `code` (i32, low bits) to its float value
/// without scale: the integer value for integer formats (sign-extended for
/// siN), the table entry otherwise.
static Value decodeCode(OpBuilder &b, Location loc, LayoutAttr layout,
                        Value code, Value table) {
  if (layout.isInteger()) {
    if (layout.isSignedInteger()) {
      Value shift = i32Const(b, loc, 32 - layout.getBitWidth());
      code = arith::ShLIOp::create(b, loc, code, shift);
      code = arith::ShRSIOp::create(b, loc, code, shift);
    }
    return arith::SIToFPOp::create(b, loc, b.getF32Type(), code);
  }
  Value index = arith::IndexCastOp::create(b, loc, b.getIndexType(), code);
  return tensor::ExtractOp::create(b, loc, table, ValueRange{index});
}

/// s * (value(code) - z) in f32, `zero` being optional.
static Value decodeWithParams(OpBuilder &b, Location loc, LayoutAttr layout,
                              Value code, Value scale, Value zero,
                              Value table) {
  Value q = decodeCode(b, loc, layout, code, table);
  if (zero)
    q = arith::SubFOp::create(b, loc, q, toF32(b, loc, zero));
  return arith::MulFOp::create(b, loc, scale, q);
}

/// The dynamic8 code of `y` as num::encodeDynamic8bit computes it (the
/// CUDA kernel's search): seven halving steps from index 127 over the map in
/// `table`, then the f32 midpoint to the neighbour on y's side decides.
static Value encodeDynamic8(OpBuilder &b, Location loc, Value y, Value table) {
  const auto &map = num::dynamicMap8bit();
  auto entry = [&](Value index) -> Value {
    return tensor::ExtractOp::create(b, loc, table,
                                     ValueRange{arith::IndexCastOp::create(
                                         b, loc, b.getIndexType(), index)});
  };
  Value candidate = i32Const(b, loc, 127);
  Value below = i32Const(b, loc, 0), above = i32Const(b, loc, 255);
  Value belowValue = f32Const(b, loc, map[0]);
  Value aboveValue = f32Const(b, loc, map[255]);
  for (int stride = 64; stride > 0; stride /= 2) {
    Value value = entry(candidate);
    Value greater =
        arith::CmpFOp::create(b, loc, arith::CmpFPredicate::OGT, y, value);
    below = arith::SelectOp::create(b, loc, greater, candidate, below);
    belowValue = arith::SelectOp::create(b, loc, greater, value, belowValue);
    above = arith::SelectOp::create(b, loc, greater, above, candidate);
    aboveValue = arith::SelectOp::create(b, loc, greater, aboveValue, value);
    candidate = arith::SelectOp::create(
        b, loc, greater,
        arith::AddIOp::create(b, loc, candidate, i32Const(b, loc, stride)),
        arith::SubIOp::create(b, loc, candidate, i32Const(b, loc, stride)));
  }
  Value value = entry(candidate);
  Value half = f32Const(b, loc, 0.5f);
  Value greater =
      arith::CmpFOp::create(b, loc, arith::CmpFPredicate::OGT, y, value);
  Value upMid = arith::MulFOp::create(
      b, loc, arith::AddFOp::create(b, loc, aboveValue, value), half);
  Value downMid = arith::MulFOp::create(
      b, loc, arith::AddFOp::create(b, loc, belowValue, value), half);
  Value up = arith::SelectOp::create(
      b, loc,
      arith::CmpFOp::create(b, loc, arith::CmpFPredicate::OGT, y, upMid), above,
      candidate);
  Value down = arith::SelectOp::create(
      b, loc,
      arith::CmpFOp::create(b, loc, arith::CmpFPredicate::OLT, y, downMid),
      below, candidate);
  return arith::SelectOp::create(b, loc, greater, up, down);
}

/// Encodes the f32 `x` with scale and zero-point into its code, an i32:
/// the signed value for siN formats, the unsigned bit pattern otherwise.
/// `table` is the decode table of lookup formats (needed by dynamic8).
static Value encodeElement(OpBuilder &b, Location loc, LayoutAttr layout,
                           Value x, Value scale, Value zero,
                           Value table = nullptr) {
  Value zeroF = f32Const(b, loc, 0.0f);
  Value isZeroScale =
      arith::CmpFOp::create(b, loc, arith::CmpFPredicate::OEQ, scale, zeroF);
  Value y = arith::DivFOp::create(b, loc, x, scale);
  ElementFormat format = layout.getFormat();
  Type i32 = b.getI32Type();
  if (layout.isInteger()) {
    Value z = zero ? toF32(b, loc, zero) : zeroF;
    bool floatZero = zero && isa<FloatType>(zero.getType());
    Value rounded;
    if (floatZero) {
      rounded = math::RoundEvenOp::create(b, loc,
                                          arith::AddFOp::create(b, loc, y, z));
      Value zeroCode = math::RoundEvenOp::create(b, loc, z);
      rounded = arith::SelectOp::create(b, loc, isZeroScale, zeroCode, rounded);
    } else {
      rounded = arith::AddFOp::create(b, loc,
                                      math::RoundEvenOp::create(b, loc, y), z);
      rounded = arith::SelectOp::create(b, loc, isZeroScale, z, rounded);
    }
    // maxnumf turns NaN into qmin.
    Value lo = f32Const(b, loc, float(layout.getMinCode()));
    Value hi = f32Const(b, loc, float(layout.getMaxCode()));
    Value clamped = arith::MinNumFOp::create(
        b, loc, arith::MaxNumFOp::create(b, loc, rounded, lo), hi);
    return arith::FPToSIOp::create(b, loc, i32, clamped);
  }
  y = arith::SelectOp::create(b, loc, isZeroScale, zeroF, y);
  if (format == ElementFormat::dynamic8) {
    assert(table && "dynamic8 encoding needs the map");
    return encodeDynamic8(b, loc, y, table);
  }
  if (format == ElementFormat::nf4 || format == ElementFormat::fp4) {
    Value clamped = arith::MinNumFOp::create(
        b, loc, arith::MaxNumFOp::create(b, loc, y, f32Const(b, loc, -1.0f)),
        f32Const(b, loc, 1.0f));
    // Count the thresholds strictly below the value: ties take the lower
    // code.
    ArrayRef<float> thresholds = format == ElementFormat::nf4
                                     ? ArrayRef<float>(num::nf4Thresholds())
                                     : ArrayRef<float>(num::fp4Thresholds());
    Value subject = format == ElementFormat::nf4
                        ? clamped
                        : math::AbsFOp::create(b, loc, clamped).getResult();
    Value index = i32Const(b, loc, 0);
    for (float t : thresholds) {
      Value above = arith::CmpFOp::create(b, loc, arith::CmpFPredicate::OGT,
                                          subject, f32Const(b, loc, t));
      index = arith::AddIOp::create(b, loc, index,
                                    arith::ExtUIOp::create(b, loc, i32, above));
    }
    if (format == ElementFormat::nf4)
      return index;
    // FP4: map the magnitude rank to its bit pattern, then add the sign.
    const auto &sortedCodes = num::fp4SortedCodes();
    Value code = i32Const(b, loc, sortedCodes[0]);
    for (int32_t rank = 1; rank < 8; ++rank) {
      Value isRank = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::eq,
                                           index, i32Const(b, loc, rank));
      code = arith::SelectOp::create(b, loc, isRank,
                                     i32Const(b, loc, sortedCodes[rank]), code);
    }
    Value negative = arith::CmpFOp::create(b, loc, arith::CmpFPredicate::OLT,
                                           clamped, zeroF);
    return arith::OrIOp::create(b, loc, code,
                                arith::SelectOp::create(b, loc, negative,
                                                        i32Const(b, loc, 8),
                                                        i32Const(b, loc, 0)));
  }
  // FP8: round half to even on the f32 bit pattern for normal results, and
  // on a scaled value for subnormal ones; saturate; add the sign.
  bool e4m3 = format == ElementFormat::f8E4M3FN;
  int manBits = e4m3 ? 3 : 2;
  int bias = e4m3 ? 7 : 15;
  int maxFinite = e4m3 ? 0x7E : 0x7B;
  int nanCode = e4m3 ? 0x7F : 0x7E;
  Value magnitude = math::AbsFOp::create(b, loc, y);
  Value bits = arith::BitcastOp::create(b, loc, i32, magnitude);
  int shift = 23 - manBits;
  Value lsb = arith::AndIOp::create(
      b, loc, arith::ShRUIOp::create(b, loc, bits, i32Const(b, loc, shift)),
      i32Const(b, loc, 1));
  Value roundedBits = arith::AddIOp::create(
      b, loc, bits,
      arith::AddIOp::create(b, loc, i32Const(b, loc, (1 << (shift - 1)) - 1),
                            lsb));
  Value normalCode = arith::SubIOp::create(
      b, loc,
      arith::ShRUIOp::create(b, loc, roundedBits, i32Const(b, loc, shift)),
      i32Const(b, loc, (127 - bias) << manBits));
  float minNormal = std::ldexp(1.0f, 1 - bias);
  Value subnormalCode = arith::FPToSIOp::create(
      b, loc, i32,
      math::RoundEvenOp::create(
          b, loc,
          arith::MulFOp::create(
              b, loc, magnitude,
              f32Const(b, loc, std::ldexp(1.0f, manBits - (1 - bias))))));
  Value isSubnormal =
      arith::CmpFOp::create(b, loc, arith::CmpFPredicate::OLT, magnitude,
                            f32Const(b, loc, minNormal));
  Value code =
      arith::SelectOp::create(b, loc, isSubnormal, subnormalCode, normalCode);
  code = arith::MinSIOp::create(b, loc, code, i32Const(b, loc, maxFinite));
  Value negative = arith::CmpIOp::create(
      b, loc, arith::CmpIPredicate::slt,
      arith::BitcastOp::create(b, loc, i32, y), i32Const(b, loc, 0));
  code = arith::OrIOp::create(b, loc, code,
                              arith::SelectOp::create(b, loc, negative,
                                                      i32Const(b, loc, 0x80),
                                                      i32Const(b, loc, 0)));
  Value isNaN = arith::CmpFOp::create(b, loc, arith::CmpFPredicate::UNO, y, y);
  return arith::SelectOp::create(b, loc, isNaN, i32Const(b, loc, nanCode),
                                 code);
}

//===----------------------------------------------------------------------===//
// Reading quantized operands inside a linalg.generic
//===----------------------------------------------------------------------===//

namespace {
/// Describes how a linalg.generic reads the quantized operands of one
/// logical tensor element, whose indices are the loop dimensions
/// `logicalDims` of the generic.
struct QuantizedReader {
  LayoutAttr layout;
  Value storage, scales, zeroPoints, groupIndex;
  ArrayRef<int64_t> logicalShape;
  SmallVector<unsigned> logicalDims;

  /// Adds the operands and indexing maps read per element. Returns the
  /// positions of the block arguments.
  struct Args {
    int byte0 = -1, byte1 = -1, scale = -1, zero = -1, group = -1;
  };

  /// Blocks over the row-major flattened tensor (static shape): storage,
  /// scales and zero-points are 1-D and indexed by the flat index.
  bool isFlat() const { return layout.hasFlatBlocks(logicalDims.size()); }

  /// The row-major flat index of the element as an affine expression of the
  /// loop dimensions.
  AffineExpr getFlatExpr(MLIRContext *ctx) const {
    AffineExpr flat = getAffineConstantExpr(0, ctx);
    int64_t stride = 1;
    for (unsigned i = logicalDims.size(); i-- > 0;) {
      flat = flat + getAffineDimExpr(logicalDims[i], ctx) * stride;
      stride *= logicalShape[i];
    }
    return flat;
  }

  Args addInputs(MLIRContext *ctx, unsigned numLoops,
                 SmallVectorImpl<Value> &inputs,
                 SmallVectorImpl<AffineMap> &maps) const {
    Args args;
    auto dim = [&](unsigned i) {
      return getAffineDimExpr(logicalDims[i], ctx);
    };
    unsigned rank = logicalDims.size();
    auto addInput = [&](Value v, ArrayRef<AffineExpr> exprs) {
      inputs.push_back(v);
      maps.push_back(AffineMap::get(numLoops, 0, exprs, ctx));
      return int(inputs.size() - 1);
    };
    unsigned bits = layout.getBitWidth();
    bool flat = isFlat();
    if (storage) {
      // Flat blocks: one 1-D stream indexed by the flat index.
      SmallVector<AffineExpr> exprs;
      if (!flat)
        for (unsigned i = 0; i + 1 < rank; ++i)
          exprs.push_back(dim(i));
      AffineExpr k = flat ? getFlatExpr(ctx) : dim(rank - 1);
      switch (layout.getPacking()) {
      case PackOrder::none:
        exprs.push_back(k);
        args.byte0 = addInput(storage, exprs);
        break;
      case PackOrder::msb_first:
        exprs.push_back(k.floorDiv(8 / bits));
        args.byte0 = addInput(storage, exprs);
        break;
      case PackOrder::lsb_first:
        // Widths dividing 8 never straddle: one byte, `k floordiv (8/bits)`.
        if (8 % bits == 0) {
          exprs.push_back(k.floorDiv(8 / bits));
          args.byte0 = addInput(storage, exprs);
          break;
        }
        exprs.push_back((k * bits).floorDiv(8));
        args.byte0 = addInput(storage, exprs);
        {
          exprs.back() = (k * bits + (bits - 1)).floorDiv(8);
          args.byte1 = addInput(storage, exprs);
        }
        break;
      }
    }
    if (groupIndex) {
      // Scales are gathered with tensor.extract in the body.
      args.group = addInput(groupIndex, {dim(rank - 1)});
      return args;
    }
    SmallVector<AffineExpr> scaleExprs;
    if (flat) {
      int64_t block = layout.getBlock()[0];
      AffineExpr f = getFlatExpr(ctx);
      scaleExprs.push_back(block == 0   ? getAffineConstantExpr(0, ctx)
                           : block == 1 ? f
                                        : f.floorDiv(block));
    }
    for (unsigned i = 0; i < rank && !flat; ++i) {
      int64_t block = layout.getBlock()[i];
      if (block == 0)
        scaleExprs.push_back(getAffineConstantExpr(0, ctx));
      else if (block == 1)
        scaleExprs.push_back(dim(i));
      else
        scaleExprs.push_back(dim(i).floorDiv(block));
    }
    args.scale = addInput(scales, scaleExprs);
    if (zeroPoints)
      args.zero = addInput(zeroPoints, scaleExprs);
    return args;
  }

  /// Scale (f32) and zero-point (original type, or null) of the element.
  std::pair<Value, Value> getScaleAndZero(OpBuilder &b, Location loc,
                                          const Args &args,
                                          ValueRange blockArgs) const {
    if (args.group < 0) {
      Value zero = args.zero >= 0 ? blockArgs[args.zero] : Value();
      return {toF32(b, loc, blockArgs[args.scale]), zero};
    }
    SmallVector<Value> indices;
    unsigned rank = logicalDims.size();
    for (unsigned i = 0; i + 1 < rank; ++i) {
      int64_t block = layout.getBlock()[i];
      if (block == 0) {
        indices.push_back(arith::ConstantIndexOp::create(b, loc, 0));
        continue;
      }
      Value idx = linalg::IndexOp::create(b, loc, logicalDims[i]);
      if (block != 1)
        idx = arith::DivUIOp::create(
            b, loc, idx, arith::ConstantIndexOp::create(b, loc, block));
      indices.push_back(idx);
    }
    indices.push_back(arith::IndexCastOp::create(b, loc, b.getIndexType(),
                                                 blockArgs[args.group]));
    Value scale = tensor::ExtractOp::create(b, loc, scales, indices);
    Value zero;
    if (zeroPoints)
      zero = tensor::ExtractOp::create(b, loc, zeroPoints, indices);
    return {toF32(b, loc, scale), zero};
  }

  /// The unsigned code of the element, in the low bits of an i32.
  Value getCode(OpBuilder &b, Location loc, const Args &args,
                ValueRange blockArgs) const {
    Type i32 = b.getI32Type();
    Value byte0 = arith::ExtUIOp::create(b, loc, i32, blockArgs[args.byte0]);
    if (layout.getPacking() == PackOrder::none)
      return byte0;
    unsigned bits = layout.getBitWidth();
    // Only the position within a byte matters: for flat blocks the flat
    // index modulo 8 (it may exceed i32), else the last index.
    Value k;
    if (isFlat()) {
      Value flat = arith::ConstantIndexOp::create(b, loc, 0);
      int64_t stride = 1;
      for (unsigned i = logicalDims.size(); i-- > 0;) {
        Value idx = linalg::IndexOp::create(b, loc, logicalDims[i]);
        if (stride != 1)
          idx = arith::MulIOp::create(
              b, loc, idx, arith::ConstantIndexOp::create(b, loc, stride));
        flat = arith::AddIOp::create(b, loc, flat, idx);
        stride *= logicalShape[i];
      }
      k = arith::IndexCastOp::create(
          b, loc, i32,
          arith::RemUIOp::create(b, loc, flat,
                                 arith::ConstantIndexOp::create(b, loc, 8)));
    } else {
      k = arith::IndexCastOp::create(
          b, loc, i32, linalg::IndexOp::create(b, loc, logicalDims.back()));
    }
    Value mask = i32Const(b, loc, (1 << bits) - 1);
    Value shift;
    Value word = byte0;
    if (layout.getPacking() == PackOrder::msb_first) {
      // shift = 8 - bits * (k % perByte + 1)
      Value slot =
          arith::RemUIOp::create(b, loc, k, i32Const(b, loc, 8 / bits));
      shift = arith::SubIOp::create(
          b, loc, i32Const(b, loc, 8 - bits),
          arith::MulIOp::create(b, loc, slot, i32Const(b, loc, bits)));
    } else {
      shift = arith::RemUIOp::create(
          b, loc, arith::MulIOp::create(b, loc, k, i32Const(b, loc, bits)),
          i32Const(b, loc, 8));
      if (args.byte1 >= 0) {
        Value byte1 =
            arith::ExtUIOp::create(b, loc, i32, blockArgs[args.byte1]);
        word = arith::OrIOp::create(
            b, loc, word,
            arith::ShLIOp::create(b, loc, byte1, i32Const(b, loc, 8)));
      }
    }
    return arith::AndIOp::create(
        b, loc, arith::ShRUIOp::create(b, loc, word, shift), mask);
  }

  /// Decoded f32 value of the element.
  Value decode(OpBuilder &b, Location loc, const Args &args,
               ValueRange blockArgs, Value table) const {
    Value code = getCode(b, loc, args, blockArgs);
    auto [scale, zero] = getScaleAndZero(b, loc, args, blockArgs);
    return decodeWithParams(b, loc, layout, code, scale, zero, table);
  }
};
} // namespace

/// tensor.empty of `type`; dynamic sizes are those of `shapeSource` (unless
/// `staticOnly`, for shapes that do not follow the source).
static Value createEmptyLike(OpBuilder &b, Location loc, RankedTensorType type,
                             Value shapeSource, bool staticOnly = false) {
  SmallVector<Value> dynamicSizes;
  for (auto [i, d] : llvm::enumerate(type.getShape()))
    if (ShapedType::isDynamic(d) && !staticOnly)
      dynamicSizes.push_back(tensor::DimOp::create(b, loc, shapeSource, i));
  return tensor::EmptyOp::create(b, loc, type.getShape(), type.getElementType(),
                                 dynamicSizes);
}

static Value maybeCreateTable(OpBuilder &b, Location loc, LayoutAttr layout) {
  return layout.isInteger() ? Value() : createDecodeTable(b, loc, layout);
}

//===----------------------------------------------------------------------===//
// Patterns
//===----------------------------------------------------------------------===//

namespace {

/// dequantize -> elementwise linalg.generic over the logical shape.
struct DequantizeLowering : OpRewritePattern<DequantizeOp> {
  using Base::Base;
  LogicalResult matchAndRewrite(DequantizeOp op,
                                PatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    RankedTensorType resultType = op.getResult().getType();
    unsigned rank = resultType.getRank();
    QuantizedReader reader{op.getLayout(),
                           op.getStorage(),
                           op.getScales(),
                           op.getZeroPoints(),
                           op.getGroupIndex(),
                           resultType.getShape(),
                           llvm::to_vector(llvm::seq<unsigned>(0, rank))};
    SmallVector<Value> inputs;
    SmallVector<AffineMap> maps;
    auto args = reader.addInputs(getContext(), rank, inputs, maps);
    maps.push_back(rewriter.getMultiDimIdentityMap(rank));
    Value table = maybeCreateTable(rewriter, loc, op.getLayout());
    Value init = createEmptyLike(rewriter, loc, resultType, op.getStorage());
    SmallVector<utils::IteratorType> iterators(rank,
                                               utils::IteratorType::parallel);
    auto generic = linalg::GenericOp::create(
        rewriter, loc, resultType, inputs, init, maps, iterators,
        [&](OpBuilder &b, Location l, ValueRange blockArgs) {
          Value v = reader.decode(b, l, args, blockArgs, table);
          yieldValue(b, l, fromF32(b, l, v, resultType.getElementType()));
        });
    rewriter.replaceOp(op, generic.getResults());
    return success();
  }
};

/// dequant_matmul -> one reduction linalg.generic decoding weights inline.
struct DequantMatmulLowering : OpRewritePattern<DequantMatmulOp> {
  using Base::Base;
  LogicalResult matchAndRewrite(DequantMatmulOp op,
                                PatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    MLIRContext *ctx = getContext();
    RankedTensorType inputType = op.getInput().getType();
    unsigned inRank = inputType.getRank();
    SmallVector<int64_t> weightShape = op.getWeightShape();
    bool batched = weightShape.size() == 3;
    // Loops: the input's leading dims, n, k.
    unsigned numLoops = inRank + 1;
    unsigned nDim = inRank - 1, kDim = inRank;
    SmallVector<unsigned> weightDims;
    if (batched)
      weightDims = {0, nDim, kDim};
    else
      weightDims = {nDim, kDim};
    QuantizedReader reader{
        op.getLayout(),     op.getStorage(), op.getScales(), op.getZeroPoints(),
        op.getGroupIndex(), weightShape,     weightDims};
    SmallVector<Value> inputs{op.getInput()};
    SmallVector<AffineExpr> inExprs, outExprs;
    for (unsigned i = 0; i + 1 < inRank; ++i) {
      inExprs.push_back(getAffineDimExpr(i, ctx));
      outExprs.push_back(getAffineDimExpr(i, ctx));
    }
    inExprs.push_back(getAffineDimExpr(kDim, ctx));
    outExprs.push_back(getAffineDimExpr(nDim, ctx));
    SmallVector<AffineMap> maps{AffineMap::get(numLoops, 0, inExprs, ctx)};
    auto args = reader.addInputs(ctx, numLoops, inputs, maps);
    maps.push_back(AffineMap::get(numLoops, 0, outExprs, ctx));
    SmallVector<utils::IteratorType> iterators(numLoops,
                                               utils::IteratorType::parallel);
    iterators[kDim] = utils::IteratorType::reduction;
    Value table = maybeCreateTable(rewriter, loc, op.getLayout());
    auto generic = linalg::GenericOp::create(
        rewriter, loc, op.getResult().getType(), inputs, op.getInit(), maps,
        iterators, [&](OpBuilder &b, Location l, ValueRange blockArgs) {
          Value x = toF32(b, l, blockArgs[0]);
          Value w = reader.decode(b, l, args, blockArgs, table);
          Value acc = blockArgs.back();
          // The accumulation order of a matmul is unspecified; allowing
          // reassociation lets LLVM vectorise the reduction.
          Value sum = arith::AddFOp::create(
              b, l, acc, arith::MulFOp::create(b, l, x, w),
              arith::FastMathFlagsAttr::get(b.getContext(),
                                            arith::FastMathFlags::reassoc));
          yieldValue(b, l, sum);
        });
    rewriter.replaceOp(op, generic.getResults());
    return success();
  }
};

/// Reads the scale/zero of a logical element for quantize and fake_quant
/// (which have no group index and use affine maps).
static QuantizedReader::Args addParamInputs(MLIRContext *ctx,
                                            QuantizedReader &reader,
                                            unsigned numLoops,
                                            SmallVectorImpl<Value> &inputs,
                                            SmallVectorImpl<AffineMap> &maps) {
  Value storage = reader.storage;
  reader.storage = nullptr;
  auto args = reader.addInputs(ctx, numLoops, inputs, maps);
  reader.storage = storage;
  return args;
}

/// fake_quant -> elementwise encode + decode.
struct FakeQuantLowering : OpRewritePattern<FakeQuantOp> {
  using Base::Base;
  LogicalResult matchAndRewrite(FakeQuantOp op,
                                PatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    RankedTensorType type = op.getInput().getType();
    unsigned rank = type.getRank();
    QuantizedReader reader{op.getLayout(),
                           nullptr,
                           op.getScales(),
                           op.getZeroPoints(),
                           nullptr,
                           type.getShape(),
                           llvm::to_vector(llvm::seq<unsigned>(0, rank))};
    SmallVector<Value> inputs{op.getInput()};
    SmallVector<AffineMap> maps{rewriter.getMultiDimIdentityMap(rank)};
    auto args = addParamInputs(getContext(), reader, rank, inputs, maps);
    maps.push_back(rewriter.getMultiDimIdentityMap(rank));
    Value table = maybeCreateTable(rewriter, loc, op.getLayout());
    Value init = createEmptyLike(rewriter, loc, type, op.getInput());
    SmallVector<utils::IteratorType> iterators(rank,
                                               utils::IteratorType::parallel);
    LayoutAttr layout = op.getLayout();
    auto generic = linalg::GenericOp::create(
        rewriter, loc, type, inputs, init, maps, iterators,
        [&](OpBuilder &b, Location l, ValueRange blockArgs) {
          auto [scale, zero] = reader.getScaleAndZero(b, l, args, blockArgs);
          Value x = toF32(b, l, blockArgs[0]);
          Value code = encodeElement(b, l, layout, x, scale, zero, table);
          Value v = decodeWithParams(b, l, layout, code, scale, zero, table);
          yieldValue(b, l, fromF32(b, l, v, type.getElementType()));
        });
    rewriter.replaceOp(op, generic.getResults());
    return success();
  }
};

/// quantize -> a generic over the storage shape. Unpacked storage encodes
/// one element per byte; packed storage gathers the elements whose bits fall
/// into each byte.
struct QuantizeLowering : OpRewritePattern<QuantizeOp> {
  using Base::Base;
  /// Flat blocks rewrite into a rank-1 quantize, which this pattern lowers.
  void initialize() { setHasBoundedRewriteRecursion(); }
  LogicalResult matchAndRewrite(QuantizeOp op,
                                PatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    MLIRContext *ctx = getContext();
    LayoutAttr layout = op.getLayout();
    RankedTensorType inputType = op.getInput().getType();
    RankedTensorType storageType = op.getResult().getType();
    unsigned rank = inputType.getRank();
    Value init = createEmptyLike(rewriter, loc, storageType, op.getInput());
    SmallVector<utils::IteratorType> iterators(rank,
                                               utils::IteratorType::parallel);
    Type i8 = rewriter.getI8Type();
    if (layout.hasFlatBlocks(rank)) {
      // Flat blocks: quantize the collapsed 1-D tensor, whose single block
      // size reads the same, into the same 1-D storage.
      SmallVector<ReassociationIndices> all(1);
      for (unsigned i = 0; i < rank; ++i)
        all[0].push_back(i);
      Value flat =
          tensor::CollapseShapeOp::create(rewriter, loc, op.getInput(), all);
      rewriter.replaceOp(op, QuantizeOp::create(rewriter, loc, storageType,
                                                flat, op.getScales(),
                                                op.getZeroPoints(), layout)
                                 .getResult());
      return success();
    }
    if (layout.getPacking() == PackOrder::none) {
      Value table = maybeCreateTable(rewriter, loc, layout);
      QuantizedReader reader{layout,
                             nullptr,
                             op.getScales(),
                             op.getZeroPoints(),
                             nullptr,
                             inputType.getShape(),
                             llvm::to_vector(llvm::seq<unsigned>(0, rank))};
      SmallVector<Value> inputs{op.getInput()};
      SmallVector<AffineMap> maps{rewriter.getMultiDimIdentityMap(rank)};
      auto args = addParamInputs(ctx, reader, rank, inputs, maps);
      maps.push_back(rewriter.getMultiDimIdentityMap(rank));
      auto generic = linalg::GenericOp::create(
          rewriter, loc, storageType, inputs, init, maps, iterators,
          [&](OpBuilder &b, Location l, ValueRange blockArgs) {
            auto [scale, zero] = reader.getScaleAndZero(b, l, args, blockArgs);
            Value code = encodeElement(b, l, layout, toF32(b, l, blockArgs[0]),
                                       scale, zero, table);
            yieldValue(b, l, arith::TruncIOp::create(b, l, i8, code));
          });
      rewriter.replaceOp(op, generic.getResults());
      return success();
    }

    // Packed: for storage byte j of a row, the candidate elements are
    // k = floor(8j / bits) + t for t < ceil(8 / bits) + 1; each contributes
    // the part of its bits that lies in [8j, 8j + 8).
    unsigned bits = layout.getBitWidth();
    int64_t extent = inputType.getShape().back();
    bool msbFirst = layout.getPacking() == PackOrder::msb_first;
    unsigned candidates = msbFirst ? 8 / bits : (8 + bits - 1) / bits + 1;
    SmallVector<AffineMap> maps{rewriter.getMultiDimIdentityMap(rank)};
    Value input = op.getInput(), scales = op.getScales(),
          zeros = op.getZeroPoints();
    Value lastExtent;
    if (ShapedType::isDynamic(extent))
      lastExtent = tensor::DimOp::create(rewriter, loc, input, rank - 1);
    else
      lastExtent = arith::ConstantIndexOp::create(rewriter, loc, extent);
    auto generic = linalg::GenericOp::create(
        rewriter, loc, storageType, ValueRange{}, init, maps, iterators,
        [&](OpBuilder &b, Location l, ValueRange) {
          Type i32 = b.getI32Type();
          Type index = b.getIndexType();
          SmallVector<Value> lead;
          for (unsigned i = 0; i + 1 < rank; ++i)
            lead.push_back(linalg::IndexOp::create(b, l, i));
          Value j = linalg::IndexOp::create(b, l, rank - 1);
          Value firstK =
              msbFirst
                  ? arith::MulIOp::create(
                        b, l, j, arith::ConstantIndexOp::create(b, l, 8 / bits))
                        .getResult()
                  : arith::DivUIOp::create(
                        b, l,
                        arith::MulIOp::create(
                            b, l, j, arith::ConstantIndexOp::create(b, l, 8)),
                        arith::ConstantIndexOp::create(b, l, bits))
                        .getResult();
          Value byteStart = arith::MulIOp::create(
              b, l, arith::IndexCastOp::create(b, l, i32, j),
              i32Const(b, l, 8));
          Value byte = i32Const(b, l, 0);
          for (unsigned t = 0; t < candidates; ++t) {
            Value k = arith::AddIOp::create(
                b, l, firstK, arith::ConstantIndexOp::create(b, l, t));
            Value inRange = arith::CmpIOp::create(
                b, l, arith::CmpIPredicate::ult, k, lastExtent);
            // Clamp the index so the reads stay in bounds; the contribution
            // of an out-of-range element is dropped below.
            Value safeK = arith::SelectOp::create(
                b, l, inRange, k, arith::ConstantIndexOp::create(b, l, 0));
            SmallVector<Value> xIdx(lead);
            xIdx.push_back(safeK);
            Value x = toF32(b, l, tensor::ExtractOp::create(b, l, input, xIdx));
            SmallVector<Value> pIdx;
            for (unsigned i = 0; i < rank; ++i) {
              int64_t block = layout.getBlock()[i];
              Value idx = xIdx[i];
              if (block == 0)
                idx = arith::ConstantIndexOp::create(b, l, 0);
              else if (block != 1)
                idx = arith::DivUIOp::create(
                    b, l, idx, arith::ConstantIndexOp::create(b, l, block));
              pIdx.push_back(idx);
            }
            Value scale =
                toF32(b, l, tensor::ExtractOp::create(b, l, scales, pIdx));
            Value zero;
            if (zeros)
              zero = tensor::ExtractOp::create(b, l, zeros, pIdx);
            Value code = arith::AndIOp::create(
                b, l, encodeElement(b, l, layout, x, scale, zero),
                i32Const(b, l, (1 << bits) - 1));
            Value contribution;
            if (msbFirst) {
              contribution = arith::ShLIOp::create(
                  b, l, code, i32Const(b, l, 8 - bits * (t + 1)));
            } else {
              // offset = k * bits - 8j, in [-bits+1, 8).
              Value offset = arith::SubIOp::create(
                  b, l,
                  arith::MulIOp::create(
                      b, l, arith::IndexCastOp::create(b, l, i32, k),
                      i32Const(b, l, bits)),
                  byteStart);
              Value positive = arith::CmpIOp::create(
                  b, l, arith::CmpIPredicate::sge, offset, i32Const(b, l, 0));
              Value left = arith::ShLIOp::create(
                  b, l, code,
                  arith::MaxSIOp::create(b, l, offset, i32Const(b, l, 0)));
              Value right = arith::ShRUIOp::create(
                  b, l, code,
                  arith::MaxSIOp::create(
                      b, l,
                      arith::SubIOp::create(b, l, i32Const(b, l, 0), offset),
                      i32Const(b, l, 0)));
              contribution =
                  arith::SelectOp::create(b, l, positive, left, right);
              Value belowByteEnd = arith::CmpIOp::create(
                  b, l, arith::CmpIPredicate::slt, offset, i32Const(b, l, 8));
              inRange = arith::AndIOp::create(b, l, inRange, belowByteEnd);
            }
            contribution = arith::SelectOp::create(b, l, inRange, contribution,
                                                   i32Const(b, l, 0));
            byte = arith::OrIOp::create(b, l, byte, contribution);
          }
          (void)index;
          yieldValue(b, l, arith::TruncIOp::create(b, l, i8, byte));
        });
    rewriter.replaceOp(op, generic.getResults());
    return success();
  }
};

/// dynamic_quantize -> absmax reduction, scale, encode.
struct DynamicQuantizeLowering : OpRewritePattern<DynamicQuantizeOp> {
  using Base::Base;
  LogicalResult matchAndRewrite(DynamicQuantizeOp op,
                                PatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    MLIRContext *ctx = getContext();
    RankedTensorType inputType = op.getInput().getType();
    RankedTensorType scalesType = op.getScales().getType();
    RankedTensorType codesType = op.getCodes().getType();
    unsigned rank = inputType.getRank();
    float qmax = float((1 << (op.getBits() - 1)) - 1);
    AffineMap identity = rewriter.getMultiDimIdentityMap(rank);
    // Per token: dims but the last index the scale; per tensor: none does.
    bool perTensor = op.isPerTensor();
    SmallVector<AffineExpr> rowExprs;
    SmallVector<utils::IteratorType> reduceIterators(
        rank, utils::IteratorType::parallel);
    for (unsigned i = 0; i < rank; ++i) {
      bool reduced = perTensor || i + 1 == rank;
      rowExprs.push_back(reduced ? getAffineConstantExpr(0, ctx)
                                 : getAffineDimExpr(i, ctx));
      if (reduced)
        reduceIterators[i] = utils::IteratorType::reduction;
    }
    AffineMap rowMap = AffineMap::get(rank, 0, rowExprs, ctx);

    Value zero = f32Const(rewriter, loc, 0.0f);
    Value absInit =
        linalg::FillOp::create(rewriter, loc, zero,
                               createEmptyLike(rewriter, loc, scalesType,
                                               op.getInput(), perTensor))
            .getResult(0);
    auto absMax = linalg::GenericOp::create(
        rewriter, loc, scalesType, op.getInput(), absInit,
        ArrayRef<AffineMap>{identity, rowMap}, reduceIterators,
        [&](OpBuilder &b, Location l, ValueRange args) {
          Value a = math::AbsFOp::create(b, l, toF32(b, l, args[0]));
          yieldValue(b, l, arith::MaxNumFOp::create(b, l, a, args[1]));
        });
    SmallVector<utils::IteratorType> parallel(rank,
                                              utils::IteratorType::parallel);
    AffineMap scaleIdentity = rewriter.getMultiDimIdentityMap(rank);
    auto scales = linalg::GenericOp::create(
        rewriter, loc, scalesType, absMax.getResult(0),
        createEmptyLike(rewriter, loc, scalesType, op.getInput(), perTensor),
        ArrayRef<AffineMap>{scaleIdentity, scaleIdentity}, parallel,
        [&](OpBuilder &b, Location l, ValueRange args) {
          Value clamped =
              arith::MaxNumFOp::create(b, l, args[0], f32Const(b, l, 1e-5f));
          yieldValue(
              b, l, arith::DivFOp::create(b, l, clamped, f32Const(b, l, qmax)));
        });
    auto codes = linalg::GenericOp::create(
        rewriter, loc, codesType,
        ValueRange{op.getInput(), scales.getResult(0)},
        createEmptyLike(rewriter, loc, codesType, op.getInput()),
        ArrayRef<AffineMap>{identity, rowMap, identity}, parallel,
        [&](OpBuilder &b, Location l, ValueRange args) {
          Value y = arith::DivFOp::create(b, l, toF32(b, l, args[0]), args[1]);
          Value r = math::RoundEvenOp::create(b, l, y);
          Value c = arith::MinNumFOp::create(
              b, l, arith::MaxNumFOp::create(b, l, r, f32Const(b, l, -qmax)),
              f32Const(b, l, qmax));
          yieldValue(b, l, arith::FPToSIOp::create(b, l, b.getI8Type(), c));
        });
    rewriter.replaceOp(op, {codes.getResult(0), scales.getResult(0)});
    return success();
  }
};

/// quantized_matmul -> i32 contraction per (row, n, group), then an f32
/// epilogue reducing the groups into init.
struct QuantizedMatmulLowering : OpRewritePattern<QuantizedMatmulOp> {
  using Base::Base;
  LogicalResult matchAndRewrite(QuantizedMatmulOp op,
                                PatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    MLIRContext *ctx = getContext();
    RankedTensorType inputType = op.getInput().getType();
    RankedTensorType initType = op.getInit().getType();
    unsigned lead = inputType.getRank() - 1;
    int64_t n = op.getWeight().getType().getDimSize(0);
    int64_t k = op.getWeight().getType().getDimSize(1);
    int64_t groups = op.getWeightScales().getType().getDimSize(1);
    int64_t groupSize = k / groups;
    if (ShapedType::isDynamic(n))
      return rewriter.notifyMatchFailure(op, "dynamic N");

    // acc[lead.., n, g] = sum_kk x[lead.., g, kk] * w[n, g, kk] over the
    // operands with K split into [G, K/G].
    unsigned accLoops = lead + 3;
    auto dim = [&](unsigned i) { return getAffineDimExpr(i, ctx); };
    SmallVector<ReassociationIndices> xGroups;
    SmallVector<int64_t> xSplitShape;
    for (unsigned i = 0; i < lead; ++i) {
      xGroups.push_back({int64_t(i)});
      xSplitShape.push_back(inputType.getDimSize(i));
    }
    xGroups.push_back({int64_t(lead), int64_t(lead + 1)});
    xSplitShape.append({groups, groupSize});
    SmallVector<OpFoldResult> xOutputShape;
    for (unsigned i = 0; i < lead; ++i)
      xOutputShape.push_back(
          inputType.isDynamicDim(i)
              ? OpFoldResult(
                    tensor::DimOp::create(rewriter, loc, op.getInput(), i)
                        .getResult())
              : OpFoldResult(rewriter.getIndexAttr(inputType.getDimSize(i))));
    xOutputShape.append(
        {rewriter.getIndexAttr(groups), rewriter.getIndexAttr(groupSize)});
    Value xSplit = tensor::ExpandShapeOp::create(
        rewriter, loc, RankedTensorType::get(xSplitShape, rewriter.getI8Type()),
        op.getInput(), xGroups, xOutputShape);
    Value wSplit = tensor::ExpandShapeOp::create(
        rewriter, loc,
        RankedTensorType::get({n, groups, groupSize}, rewriter.getI8Type()),
        op.getWeight(), ArrayRef<ReassociationIndices>{{0}, {1, 2}});
    SmallVector<AffineExpr> xExprs, accExprs;
    for (unsigned i = 0; i < lead; ++i) {
      xExprs.push_back(dim(i));
      accExprs.push_back(dim(i));
    }
    xExprs.append({dim(lead + 1), dim(lead + 2)});
    accExprs.append({dim(lead), dim(lead + 1)});
    AffineMap xMap = AffineMap::get(accLoops, 0, xExprs, ctx);
    AffineMap wMap = AffineMap::get(
        accLoops, 0, {dim(lead), dim(lead + 1), dim(lead + 2)}, ctx);
    AffineMap accMap = AffineMap::get(accLoops, 0, accExprs, ctx);
    SmallVector<int64_t> accShape(initType.getShape());
    accShape.push_back(groups);
    auto accType = RankedTensorType::get(accShape, rewriter.getI32Type());
    SmallVector<Value> dynamicSizes;
    for (unsigned i = 0; i < lead; ++i)
      if (initType.isDynamicDim(i))
        dynamicSizes.push_back(
            tensor::DimOp::create(rewriter, loc, op.getInit(), i));
    Value accEmpty = tensor::EmptyOp::create(
        rewriter, loc, accShape, rewriter.getI32Type(), dynamicSizes);
    Value accInit = linalg::FillOp::create(rewriter, loc,
                                           i32Const(rewriter, loc, 0), accEmpty)
                        .getResult(0);
    SmallVector<utils::IteratorType> accIterators(
        accLoops, utils::IteratorType::parallel);
    accIterators.back() = utils::IteratorType::reduction;
    auto acc = linalg::GenericOp::create(
        rewriter, loc, accType, ValueRange{xSplit, wSplit}, accInit,
        ArrayRef<AffineMap>{xMap, wMap, accMap}, accIterators,
        [&](OpBuilder &b, Location l, ValueRange args) {
          Value x = arith::ExtSIOp::create(b, l, b.getI32Type(), args[0]);
          Value w = arith::ExtSIOp::create(b, l, b.getI32Type(), args[1]);
          Value product = arith::MulIOp::create(b, l, x, w);
          yieldValue(b, l, arith::AddIOp::create(b, l, args[2], product));
        });

    // result[lead.., n] = init + sum_g (f32(acc) * sx) * sw[n, g]
    unsigned outLoops = lead + 2;
    auto odim = [&](unsigned i) { return getAffineDimExpr(i, ctx); };
    SmallVector<AffineExpr> accIn, sxExprs, outExprs;
    ArrayRef<int64_t> sxShape = op.getInputScales().getType().getShape();
    bool perTensor = llvm::all_of(sxShape, [](int64_t d) { return d == 1; });
    for (unsigned i = 0; i < lead; ++i) {
      accIn.push_back(odim(i));
      outExprs.push_back(odim(i));
      sxExprs.push_back(perTensor ? getAffineConstantExpr(0, ctx) : odim(i));
    }
    accIn.append({odim(lead), odim(lead + 1)});
    sxExprs.push_back(getAffineConstantExpr(0, ctx));
    outExprs.push_back(odim(lead));
    bool perTensorWeight =
        op.getWeightScales().getType().getDimSize(0) == 1 && n != 1;
    AffineExpr swRow =
        perTensorWeight ? getAffineConstantExpr(0, ctx) : odim(lead);
    SmallVector<AffineMap> maps = {
        AffineMap::get(outLoops, 0, accIn, ctx),
        AffineMap::get(outLoops, 0, sxExprs, ctx),
        AffineMap::get(outLoops, 0, {swRow, odim(lead + 1)}, ctx),
        AffineMap::get(outLoops, 0, outExprs, ctx)};
    SmallVector<utils::IteratorType> outIterators(
        outLoops, utils::IteratorType::parallel);
    outIterators.back() = utils::IteratorType::reduction;
    auto result = linalg::GenericOp::create(
        rewriter, loc, initType,
        ValueRange{acc.getResult(0), op.getInputScales(), op.getWeightScales()},
        op.getInit(), maps, outIterators,
        [&](OpBuilder &b, Location l, ValueRange args) {
          Value a = arith::SIToFPOp::create(b, l, b.getF32Type(), args[0]);
          Value scaled = arith::MulFOp::create(
              b, l, arith::MulFOp::create(b, l, a, args[1]), args[2]);
          yieldValue(b, l, arith::AddFOp::create(b, l, args[3], scaled));
        });
    rewriter.replaceOp(op, result.getResults());
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
  patterns
      .add<DequantizeLowering, DequantMatmulLowering, FakeQuantLowering,
           QuantizeLowering, DynamicQuantizeLowering, QuantizedMatmulLowering>(
          patterns.getContext());
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
