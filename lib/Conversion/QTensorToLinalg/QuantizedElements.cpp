//===- QuantizedElements.cpp - Element code of the qtensor lowering -------===//
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

#include "QuantizedElements.h"
#include "quant/Numerics/Bitsandbytes.h"
#include "quant/Numerics/Numerics.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"

using namespace mlir;
using namespace mlir::qtensor;
using namespace mlir::qtensor::lowering;
namespace num = quantopt::numerics;

//===----------------------------------------------------------------------===//
// Element helpers
//===----------------------------------------------------------------------===//

Value lowering::f32Const(OpBuilder &b, Location loc, float v) {
  return arith::ConstantOp::create(b, loc, b.getF32FloatAttr(v));
}

Value lowering::i32Const(OpBuilder &b, Location loc, int64_t v) {
  return arith::ConstantOp::create(b, loc, b.getI32IntegerAttr(v));
}

void lowering::yieldValue(OpBuilder &b, Location loc, Value v) {
  linalg::YieldOp::create(b, loc, ValueRange{v});
}

Value lowering::toF32(OpBuilder &b, Location loc, Value v) {
  Type type = v.getType();
  if (type.isF32())
    return v;
  if (isa<FloatType>(type))
    return arith::ExtFOp::create(b, loc, b.getF32Type(), v);
  // Integer zero-points are signed.
  return arith::SIToFPOp::create(b, loc, b.getF32Type(), v);
}

Value lowering::fromF32(OpBuilder &b, Location loc, Value v, Type type) {
  if (type.isF32())
    return v;
  return arith::TruncFOp::create(b, loc, type, v);
}

/// The decode table of a lookup / FP8 format as a constant tensor.
Value lowering::createDecodeTable(OpBuilder &b, Location loc,
                                  LayoutAttr layout) {
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
Value lowering::decodeCode(OpBuilder &b, Location loc, LayoutAttr layout,
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
Value lowering::decodeWithParams(OpBuilder &b, Location loc, LayoutAttr layout,
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
Value lowering::encodeElement(OpBuilder &b, Location loc, LayoutAttr layout,
                              Value x, Value scale, Value zero, Value table) {
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

Value lowering::createEmptyLike(OpBuilder &b, Location loc,
                                RankedTensorType type, Value shapeSource,
                                bool staticOnly) {
  SmallVector<Value> dynamicSizes;
  for (auto [i, d] : llvm::enumerate(type.getShape()))
    if (ShapedType::isDynamic(d) && !staticOnly)
      dynamicSizes.push_back(tensor::DimOp::create(b, loc, shapeSource, i));
  return tensor::EmptyOp::create(b, loc, type.getShape(), type.getElementType(),
                                 dynamicSizes);
}

Value lowering::maybeCreateTable(OpBuilder &b, Location loc,
                                 LayoutAttr layout) {
  return layout.isInteger() ? Value() : createDecodeTable(b, loc, layout);
}

//===----------------------------------------------------------------------===//
// QuantizedReader
//===----------------------------------------------------------------------===//

/// The row-major flat index of the element as an affine expression of the
/// loop dimensions.
AffineExpr lowering::QuantizedReader::getFlatExpr(MLIRContext *ctx) const {
  AffineExpr flat = getAffineConstantExpr(0, ctx);
  int64_t stride = 1;
  for (unsigned i = logicalDims.size(); i-- > 0;) {
    flat = flat + getAffineDimExpr(logicalDims[i], ctx) * stride;
    stride *= logicalShape[i];
  }
  return flat;
}

lowering::QuantizedReader::Args
lowering::QuantizedReader::addInputs(MLIRContext *ctx, unsigned numLoops,
                                     SmallVectorImpl<Value> &inputs,
                                     SmallVectorImpl<AffineMap> &maps) const {
  Args args;
  auto dim = [&](unsigned i) { return getAffineDimExpr(logicalDims[i], ctx); };
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
std::pair<Value, Value> lowering::QuantizedReader::getScaleAndZero(
    OpBuilder &b, Location loc, const Args &args, ValueRange blockArgs) const {
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
Value lowering::QuantizedReader::getCode(OpBuilder &b, Location loc,
                                         const Args &args,
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
    Value slot = arith::RemUIOp::create(b, loc, k, i32Const(b, loc, 8 / bits));
    shift = arith::SubIOp::create(
        b, loc, i32Const(b, loc, 8 - bits),
        arith::MulIOp::create(b, loc, slot, i32Const(b, loc, bits)));
  } else {
    shift = arith::RemUIOp::create(
        b, loc, arith::MulIOp::create(b, loc, k, i32Const(b, loc, bits)),
        i32Const(b, loc, 8));
    if (args.byte1 >= 0) {
      Value byte1 = arith::ExtUIOp::create(b, loc, i32, blockArgs[args.byte1]);
      word = arith::OrIOp::create(
          b, loc, word,
          arith::ShLIOp::create(b, loc, byte1, i32Const(b, loc, 8)));
    }
  }
  return arith::AndIOp::create(
      b, loc, arith::ShRUIOp::create(b, loc, word, shift), mask);
}

/// Decoded f32 value of the element.
Value lowering::QuantizedReader::decode(OpBuilder &b, Location loc,
                                        const Args &args, ValueRange blockArgs,
                                        Value table) const {
  Value code = getCode(b, loc, args, blockArgs);
  auto [scale, zero] = getScaleAndZero(b, loc, args, blockArgs);
  return decodeWithParams(b, loc, layout, code, scale, zero, table);
}

QuantizedReader::Args
lowering::addParamInputs(MLIRContext *ctx, QuantizedReader &reader,
                         unsigned numLoops, SmallVectorImpl<Value> &inputs,
                         SmallVectorImpl<AffineMap> &maps) {
  Value storage = reader.storage;
  reader.storage = nullptr;
  auto args = reader.addInputs(ctx, numLoops, inputs, maps);
  reader.storage = storage;
  return args;
}
