//===- GGMLToLinalg.cpp - ggml block ops to linalg ------------------------===//
//
// Part of the quant-opt project, under the Apache License v2.0 with LLVM
// Exceptions.
//
//===----------------------------------------------------------------------===//
//
// Reference lowering of qtensor.ggml_dequantize and qtensor.ggml_matmul. Both
// become one linalg.generic whose body decodes the weight element (n, k)
// straight from the raw ggml block bytes: `tensor.extract` of the bytes it
// needs from the storage tensor, index arithmetic on `linalg.index` values,
// and the float operations of `dequantizeGGMLRows` (quant/Numerics/
// GGUFQuants.cpp) in the same order, each multiply and add separate and
// without fast-math flags, so the result is bit-exact with the C++.
//
//===----------------------------------------------------------------------===//

#include "quant/Conversion/Passes.h"
#include "quant/Dialect/QTensor/IR/QTensorOps.h"
#include "quant/Numerics/GGMLTypes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/PatternMatch.h"

using namespace mlir;
using namespace mlir::qtensor;

namespace {

/// Emits the decode of one weight element from a row of ggml blocks. Byte
/// offsets are index values, bit fields are i32; the field layouts are those
/// of the block structs in GGUFQuants.cpp.
class GGMLElementDecoder {
public:
  /// `rowIndices` select the storage row (all storage dims but the last).
  GGMLElementDecoder(OpBuilder &b, Location loc, Value storage,
                     ValueRange rowIndices)
      : b(b), loc(loc), storage(storage), rowIndices(rowIndices) {}

  /// The f32 value of element `k` (an index) of the row.
  Value decode(GGMLType type, Value k) {
    auto traits = quantopt::numerics::getGGMLTypeTraits(uint32_t(type));
    assert(traits && "verified ggml type");
    blockBase = mul(div(k, traits->blockElements), traits->blockBytes);
    Value e = rem(k, traits->blockElements);
    switch (type) {
    case GGMLType::F16:
      return halfAt(0);
    case GGMLType::BF16:
      return bfloat16At(0);
    case GGMLType::Q4_0:
      return decodeQ4_0(e);
    case GGMLType::Q4_1:
      return decodeQ4_1(e);
    case GGMLType::Q5_0:
      return decodeQ5_0(e);
    case GGMLType::Q5_1:
      return decodeQ5_1(e);
    case GGMLType::Q8_0:
      return decodeQ8_0(e);
    case GGMLType::Q2_K:
      return decodeQ2_K(e);
    case GGMLType::Q3_K:
      return decodeQ3_K(e);
    case GGMLType::Q4_K:
      return decodeQ4_K(e);
    case GGMLType::Q5_K:
      return decodeQ5_K(e);
    case GGMLType::Q6_K:
      return decodeQ6_K(e);
    case GGMLType::F32:
      break; // rejected by the op verifiers
    }
    llvm_unreachable("unknown ggml type");
  }

private:
  //===--------------------------------------------------------------------===//
  // Index and integer helpers
  //===--------------------------------------------------------------------===//

  Value index(int64_t v) { return arith::ConstantIndexOp::create(b, loc, v); }
  Value i32(int64_t v) {
    return arith::ConstantOp::create(b, loc, b.getI32IntegerAttr(v));
  }
  Value div(Value x, int64_t d) {
    return arith::DivUIOp::create(b, loc, x, index(d));
  }
  Value rem(Value x, int64_t d) {
    return arith::RemUIOp::create(b, loc, x, index(d));
  }
  Value mul(Value x, int64_t m) {
    return arith::MulIOp::create(b, loc, x, index(m));
  }
  Value add(Value x, Value y) { return arith::AddIOp::create(b, loc, x, y); }
  Value add(Value x, int64_t c) { return add(x, index(c)); }

  /// An index value as an i32 shift amount or bit field.
  Value toI32(Value x) {
    return arith::IndexCastUIOp::create(b, loc, b.getI32Type(), x);
  }
  Value shl(Value x, int64_t s) {
    return arith::ShLIOp::create(b, loc, x, i32(s));
  }
  /// (x >> shift) & mask, `shift` an index value.
  Value bits(Value x, Value shift, int64_t mask) {
    Value shifted = arith::ShRUIOp::create(b, loc, x, toI32(shift));
    return arith::AndIOp::create(b, loc, shifted, i32(mask));
  }
  Value andMask(Value x, int64_t mask) {
    return arith::AndIOp::create(b, loc, x, i32(mask));
  }
  Value orI(Value x, Value y) { return arith::OrIOp::create(b, loc, x, y); }
  Value subI(Value x, int64_t c) {
    return arith::SubIOp::create(b, loc, x, i32(c));
  }

  //===--------------------------------------------------------------------===//
  // Reading the block
  //===--------------------------------------------------------------------===//

  /// The raw i8 at byte `offset` (an index) of the current block.
  Value rawByte(Value offset) {
    SmallVector<Value> indices(rowIndices);
    indices.push_back(add(blockBase, offset));
    return tensor::ExtractOp::create(b, loc, storage, indices);
  }
  /// The byte at `offset` as an unsigned i32.
  Value byteAt(Value offset) {
    return arith::ExtUIOp::create(b, loc, b.getI32Type(), rawByte(offset));
  }
  Value byteAt(int64_t offset) { return byteAt(index(offset)); }
  /// The byte at `offset` of the field starting at `fieldStart`.
  Value byteAt(int64_t fieldStart, Value offset) {
    return byteAt(add(offset, fieldStart));
  }
  /// The signed byte at `offset` as an i32.
  Value signedByteAt(Value offset) {
    return arith::ExtSIOp::create(b, loc, b.getI32Type(), rawByte(offset));
  }
  /// The little-endian f16 at `offset`, widened exactly to f32.
  Value halfAt(int64_t offset) {
    Value low = byteAt(offset), high = byteAt(offset + 1);
    Value bits16 =
        arith::TruncIOp::create(b, loc, b.getI16Type(), orI(low, shl(high, 8)));
    Value half = arith::BitcastOp::create(b, loc, b.getF16Type(), bits16);
    return arith::ExtFOp::create(b, loc, b.getF32Type(), half);
  }
  /// The little-endian bfloat16 at `offset`: its bits are the high half of
  /// the f32.
  Value bfloat16At(int64_t offset) {
    Value low = byteAt(offset), high = byteAt(offset + 1);
    Value bits32 = shl(orI(low, shl(high, 8)), 16);
    return arith::BitcastOp::create(b, loc, b.getF32Type(), bits32);
  }

  //===--------------------------------------------------------------------===//
  // Float helpers: one IEEE operation each, never fused
  //===--------------------------------------------------------------------===//

  Value toF32(Value i) {
    return arith::SIToFPOp::create(b, loc, b.getF32Type(), i);
  }
  Value mulF(Value x, Value y) { return arith::MulFOp::create(b, loc, x, y); }
  Value addF(Value x, Value y) { return arith::AddFOp::create(b, loc, x, y); }
  Value subF(Value x, Value y) { return arith::SubFOp::create(b, loc, x, y); }

  //===--------------------------------------------------------------------===//
  // Shared fields
  //===--------------------------------------------------------------------===//

  /// Legacy 4-bit field of element e < 32: low nibble of qs[e % 16] for
  /// e < 16, high nibble for e >= 16.
  Value legacyNibble(int64_t qsStart, Value e) {
    return bits(byteAt(qsStart, rem(e, 16)), mul(div(e, 16), 4), 0xF);
  }
  /// Q5_0/Q5_1 bit 4 of element e: bit e of the little-endian u32 qh.
  Value legacyFifthBit(int64_t qhStart, Value e) {
    return shl(bits(byteAt(qhStart, div(e, 8)), rem(e, 8), 1), 4);
  }
  /// Q2_K/Q3_K 2-bit field of element e: bits 2 * ((e % 128) / 32) of
  /// qs[32 * (e / 128) + e % 32].
  Value twoBitCode(int64_t qsStart, Value e) {
    Value offset = add(mul(div(e, 128), 32), rem(e, 32));
    return bits(byteAt(qsStart, offset), mul(div(rem(e, 128), 32), 2), 3);
  }
  /// Q4_K/Q5_K 4-bit field of element e: qs[32 * (e / 64) + e % 32], low
  /// nibble in the first half of each 64-element chunk, high in the second.
  Value kNibble(int64_t qsStart, Value e) {
    Value offset = add(mul(div(e, 64), 32), rem(e, 32));
    return bits(byteAt(qsStart, offset), mul(rem(div(e, 32), 2), 4), 0xF);
  }

  //===--------------------------------------------------------------------===//
  // Types
  //===--------------------------------------------------------------------===//

  // Q4_0 {d, qs[16]}: float(q - 8) * d.
  Value decodeQ4_0(Value e) {
    Value d = halfAt(0);
    return mulF(toF32(subI(legacyNibble(2, e), 8)), d);
  }

  // Q4_1 {d, m, qs[16]}: float(q) * d + m.
  Value decodeQ4_1(Value e) {
    Value d = halfAt(0), m = halfAt(2);
    return addF(mulF(toF32(legacyNibble(4, e)), d), m);
  }

  // Q5_0 {d, qh[4], qs[16]}: float(q - 16) * d.
  Value decodeQ5_0(Value e) {
    Value d = halfAt(0);
    Value q = orI(legacyNibble(6, e), legacyFifthBit(2, e));
    return mulF(toF32(subI(q, 16)), d);
  }

  // Q5_1 {d, m, qh[4], qs[16]}: float(q) * d + m.
  Value decodeQ5_1(Value e) {
    Value d = halfAt(0), m = halfAt(2);
    Value q = orI(legacyNibble(8, e), legacyFifthBit(4, e));
    return addF(mulF(toF32(q), d), m);
  }

  // Q8_0 {d, qs[32] signed}: float(q) * d.
  Value decodeQ8_0(Value e) {
    Value d = halfAt(0);
    return mulF(toF32(signedByteAt(add(e, 2))), d);
  }

  // Q2_K {scales[16], qs[64], d, dmin}, group g = e / 16:
  // (d * float(sc)) * float(q) - dmin * float(mn).
  Value decodeQ2_K(Value e) {
    Value d = halfAt(80), dmin = halfAt(82);
    Value scaleMin = byteAt(0, div(e, 16));
    Value dl = mulF(d, toF32(andMask(scaleMin, 0xF)));
    Value ml = mulF(dmin, toF32(bits(scaleMin, index(4), 0xF)));
    return subF(mulF(dl, toF32(twoBitCode(16, e))), ml);
  }

  // Q3_K {hmask[32], qs[64], scales[12], d}, group g = e / 16:
  // (d * float(sc - 32)) * float(q2 - (hbit ? 0 : 4)).
  Value decodeQ3_K(Value e) {
    constexpr int64_t scalesStart = 96;
    Value d = halfAt(108);
    Value g = div(e, 16);
    Value low = bits(byteAt(scalesStart, rem(g, 8)), mul(div(g, 8), 4), 0xF);
    Value high = bits(byteAt(scalesStart + 8, rem(g, 4)), mul(div(g, 4), 2), 3);
    Value scale = subI(orI(low, shl(high, 4)), 32);
    Value dl = mulF(d, toF32(scale));
    Value hbit = bits(byteAt(0, rem(e, 32)), div(e, 32), 1);
    // hbit ? 0 : 4, as (hbit ^ 1) << 2.
    Value offset = shl(arith::XOrIOp::create(b, loc, hbit, i32(1)), 2);
    Value q = arith::SubIOp::create(b, loc, twoBitCode(32, e), offset);
    return mulF(dl, toF32(q));
  }

  /// Q4_K/Q5_K sub-block scale and min of group g = e / 32 (6 bits each,
  /// unpackScaleMinK4): groups 0..3 are scales[g] & 63 and scales[g + 4] &
  /// 63; groups 4..7 take their low nibbles from scales[g + 4] and their top
  /// bits from bits 6..7 of scales[g - 4] and scales[g].
  std::pair<Value, Value> kScaleMin(Value e) {
    constexpr int64_t scalesStart = 4;
    Value g = div(e, 32);
    Value atG = byteAt(scalesStart, g);
    Value atG4 = byteAt(scalesStart + 4, g);
    // For g < 4 this re-reads scales[g]; the select discards it.
    Value atGMinus4 = byteAt(scalesStart, rem(g, 4));
    Value isLow =
        arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ult, g, index(4));
    Value six = index(6);
    Value highScale = orI(andMask(atG4, 0xF), shl(bits(atGMinus4, six, 3), 4));
    Value highMin = orI(bits(atG4, index(4), 0xF), shl(bits(atG, six, 3), 4));
    Value scale =
        arith::SelectOp::create(b, loc, isLow, andMask(atG, 63), highScale);
    Value min =
        arith::SelectOp::create(b, loc, isLow, andMask(atG4, 63), highMin);
    return {scale, min};
  }

  /// (d * float(sc)) * float(q) - dmin * float(mn).
  Value decodeKAffine(Value e, Value code) {
    Value d = halfAt(0), dmin = halfAt(2);
    auto [scale, min] = kScaleMin(e);
    Value dl = mulF(d, toF32(scale));
    Value ml = mulF(dmin, toF32(min));
    return subF(mulF(dl, toF32(code)), ml);
  }

  // Q4_K {d, dmin, scales[12], qs[128]}.
  Value decodeQ4_K(Value e) { return decodeKAffine(e, kNibble(16, e)); }

  // Q5_K {d, dmin, scales[12], qh[32], qs[128]}: bit 4 of element e is bit
  // e / 32 of qh[e % 32].
  Value decodeQ5_K(Value e) {
    Value high = bits(byteAt(16, rem(e, 32)), div(e, 32), 1);
    return decodeKAffine(e, orI(kNibble(48, e), shl(high, 4)));
  }

  // Q6_K {ql[128], qh[64], scales[16] signed, d}: in half h = e / 128,
  // element 32 s + l has its low 4 bits in ql[64 h + 32 (s & 1) + l] (low
  // nibble for s < 2) and its top 2 bits at bit 2 s of qh[32 h + l];
  // (d * float(sc)) * float(q - 32).
  Value decodeQ6_K(Value e) {
    Value d = halfAt(208);
    Value half = div(e, 128), s = div(rem(e, 128), 32), l = rem(e, 32);
    Value lowOffset = add(add(mul(half, 64), mul(rem(s, 2), 32)), l);
    Value low = bits(byteAt(0, lowOffset), mul(div(s, 2), 4), 0xF);
    Value highOffset = add(mul(half, 32), l);
    Value high = bits(byteAt(128, highOffset), mul(s, 2), 3);
    Value q = subI(orI(low, shl(high, 4)), 32);
    Value scale = signedByteAt(add(div(e, 16), 192));
    return mulF(mulF(d, toF32(scale)), toF32(q));
  }

  OpBuilder &b;
  Location loc;
  Value storage;
  SmallVector<Value> rowIndices;
  Value blockBase;
};

/// linalg.index values of loops 0 .. numLoops - 1.
SmallVector<Value> loopIndices(OpBuilder &b, Location loc, unsigned numLoops) {
  SmallVector<Value> indices;
  for (unsigned d = 0; d < numLoops; ++d)
    indices.push_back(linalg::IndexOp::create(b, loc, d));
  return indices;
}

/// ggml_dequantize -> elementwise linalg.generic over the result.
struct GGMLDequantizeLowering : OpRewritePattern<GGMLDequantizeOp> {
  using Base::Base;
  LogicalResult matchAndRewrite(GGMLDequantizeOp op,
                                PatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    RankedTensorType resultType = op.getResult().getType();
    unsigned rank = resultType.getRank();
    SmallVector<Value> dynamicSizes;
    for (auto [dim, size] : llvm::enumerate(resultType.getShape()))
      if (ShapedType::isDynamic(size))
        dynamicSizes.push_back(
            tensor::DimOp::create(rewriter, loc, op.getStorage(), dim));
    Value init = tensor::EmptyOp::create(rewriter, loc, resultType.getShape(),
                                         rewriter.getF32Type(), dynamicSizes);
    SmallVector<AffineMap> maps{rewriter.getMultiDimIdentityMap(rank)};
    SmallVector<utils::IteratorType> iterators(rank,
                                               utils::IteratorType::parallel);
    auto generic = linalg::GenericOp::create(
        rewriter, loc, TypeRange{resultType}, ValueRange{}, ValueRange{init},
        maps, iterators, [&](OpBuilder &b, Location l, ValueRange) {
          SmallVector<Value> indices = loopIndices(b, l, rank);
          GGMLElementDecoder decoder(b, l, op.getStorage(),
                                     ArrayRef(indices).drop_back());
          Value value = decoder.decode(op.getGgmlType(), indices.back());
          linalg::YieldOp::create(b, l, ValueRange{value});
        });
    rewriter.replaceOp(op, generic.getResults());
    return success();
  }
};

/// ggml_matmul -> one contraction over (leading dims..., n, k), k the
/// reduction, decoding W[n, k] in the body.
struct GGMLMatmulLowering : OpRewritePattern<GGMLMatmulOp> {
  using Base::Base;
  LogicalResult matchAndRewrite(GGMLMatmulOp op,
                                PatternRewriter &rewriter) const override {
    // Products with a gated epilogue are split first.
    if (getGatedEpilogue(op))
      return failure();
    MLIRContext *ctx = getContext();
    unsigned inRank = op.getInput().getType().getRank();
    unsigned numLoops = inRank + 1;
    unsigned nDim = inRank - 1, kDim = inRank;
    SmallVector<AffineExpr> inExprs, outExprs;
    for (unsigned d = 0; d + 1 < inRank; ++d) {
      inExprs.push_back(getAffineDimExpr(d, ctx));
      outExprs.push_back(getAffineDimExpr(d, ctx));
    }
    inExprs.push_back(getAffineDimExpr(kDim, ctx));
    outExprs.push_back(getAffineDimExpr(nDim, ctx));
    SmallVector<AffineMap> maps{AffineMap::get(numLoops, 0, inExprs, ctx),
                                AffineMap::get(numLoops, 0, outExprs, ctx)};
    SmallVector<utils::IteratorType> iterators(numLoops,
                                               utils::IteratorType::parallel);
    iterators[kDim] = utils::IteratorType::reduction;
    auto generic = linalg::GenericOp::create(
        rewriter, op.getLoc(), TypeRange{op.getResult().getType()},
        ValueRange{op.getInput()}, ValueRange{op.getInit()}, maps, iterators,
        [&](OpBuilder &b, Location l, ValueRange args) {
          Value n = linalg::IndexOp::create(b, l, nDim);
          Value k = linalg::IndexOp::create(b, l, kDim);
          GGMLElementDecoder decoder(b, l, op.getStorage(), ValueRange{n});
          Value w = decoder.decode(op.getGgmlType(), k);
          // No reassoc flag: the sum runs over k in ascending order, as the
          // op specifies and the C++ reference computes it.
          Value product = arith::MulFOp::create(b, l, args[0], w);
          Value sum = arith::AddFOp::create(b, l, args[1], product);
          linalg::YieldOp::create(b, l, ValueRange{sum});
        });
    rewriter.replaceOp(op, generic.getResults());
    return success();
  }
};

} // namespace

void mlir::qtensor::populateGGMLToLinalgPatterns(RewritePatternSet &patterns) {
  patterns.add<GGMLDequantizeLowering, GGMLMatmulLowering>(
      patterns.getContext());
}
