//===- QuantizeOps.cpp - quantize, dequantize, fake_quant -----------------===//
//
// Part of the quant-opt project, under the Apache License v2.0 with LLVM
// Exceptions.
//
//===----------------------------------------------------------------------===//
//
// Lowering of the elementwise qtensor ops: each becomes one linalg.generic
// over the logical shape whose body encodes and/or decodes the element.
//
//===----------------------------------------------------------------------===//

#include "QuantizedElements.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"

using namespace mlir;
using namespace mlir::qtensor;
using namespace mlir::qtensor::lowering;

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
} // namespace

void lowering::populateQuantizeOpLoweringPatterns(RewritePatternSet &patterns) {
  patterns.add<DequantizeLowering, FakeQuantLowering, QuantizeLowering>(
      patterns.getContext());
}
