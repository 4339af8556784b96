//===- GatedEpilogue.cpp - Products with a gated epilogue -----------------===//
//
// Part of the quant-opt project, under the Apache License v2.0 with LLVM
// Exceptions.
//
//===----------------------------------------------------------------------===//

#include "quant/Dialect/QTensor/Utils/GatedEpilogue.h"

#include "quant/Dialect/QTensor/IR/QTensorOps.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"

using namespace mlir;
using namespace mlir::qtensor;

Value mlir::qtensor::applyGatedEpilogue(OpBuilder &b, Location loc,
                                        Block *epilogue, Value gate, Value up,
                                        Value init) {
  auto vector = dyn_cast<VectorType>(gate.getType());
  auto retype = [&](Type scalar) -> Type {
    return vector ? Type(vector.clone(scalar)) : scalar;
  };
  IRMapping mapping;
  mapping.map(epilogue->getArgument(0), gate);
  mapping.map(epilogue->getArgument(1), up);
  mapping.map(epilogue->getArgument(2), init);
  for (Operation &op : epilogue->without_terminator()) {
    if (auto constant = dyn_cast<arith::ConstantOp>(op)) {
      TypedAttr value = constant.getValue();
      if (vector)
        value = DenseElementsAttr::get(
            cast<ShapedType>(retype(value.getType())), value);
      mapping.map(constant.getResult(),
                  arith::ConstantOp::create(b, loc, value));
      continue;
    }
    // Elementwise ops (the verifier's condition) apply lane by lane.
    OperationState state(loc, op.getName());
    for (Value operand : op.getOperands())
      state.operands.push_back(mapping.lookup(operand));
    for (Type type : op.getResultTypes())
      state.types.push_back(retype(type));
    state.addAttributes(op.getAttrs());
    Operation *created = b.create(state);
    mapping.map(op.getResults(), created->getResults());
  }
  return mapping.lookup(
      cast<YieldOp>(epilogue->getTerminator()).getValues()[0]);
}

Operation *mlir::qtensor::decomposeGatedEpilogue(RewriterBase &rewriter,
                                                 Operation *product) {
  Block *epilogue = getGatedEpilogue(product);
  assert(epilogue && "a product with a gated epilogue");
  int64_t block = getGateBlock(product);
  Location loc = product->getLoc();
  OpBuilder::InsertionGuard guard(rewriter);
  rewriter.setInsertionPoint(product);
  auto resultType = cast<RankedTensorType>(product->getResult(0).getType());
  int64_t channels = resultType.getShape().back();
  unsigned rank = resultType.getRank();

  // The plain product over all rows, into zeros. Every product's init is
  // its last operand.
  Value init = product->getOperand(product->getNumOperands() - 1);
  SmallVector<OpFoldResult> sizes = tensor::getMixedSizes(rewriter, loc, init);
  sizes.back() = rewriter.getIndexAttr(2 * channels);
  Value empty =
      tensor::EmptyOp::create(rewriter, loc, sizes, rewriter.getF32Type());
  Value zero =
      arith::ConstantOp::create(rewriter, loc, rewriter.getF32FloatAttr(0.0f));
  Value zeros = linalg::FillOp::create(rewriter, loc, zero, empty).getResult(0);
  IRMapping mapping;
  mapping.map(init, zeros);
  Operation *plain = rewriter.cloneWithoutRegions(*product, mapping);
  setGateBlock(plain, 0);
  plain->getResult(0).setType(zeros.getType());

  // result[.., n] = epilogue(p[.., gate row of n], p[.., up row of n], init).
  Value products = plain->getResult(0);
  SmallVector<AffineMap> maps(2, rewriter.getMultiDimIdentityMap(rank));
  SmallVector<utils::IteratorType> iterators(rank,
                                             utils::IteratorType::parallel);
  Value destination = tensor::EmptyOp::create(
      rewriter, loc, tensor::getMixedSizes(rewriter, loc, init),
      rewriter.getF32Type());
  auto generic = linalg::GenericOp::create(
      rewriter, loc, TypeRange{resultType}, ValueRange{init},
      ValueRange{destination}, maps, iterators,
      [&](OpBuilder &b, Location l, ValueRange args) {
        SmallVector<Value> indices;
        for (unsigned d = 0; d < rank; ++d)
          indices.push_back(linalg::IndexOp::create(b, l, d));
        // Channel n of block j = n / B: gate row 2 j B + n mod B, up row
        // that plus the block's row count min(B, N - j B).
        Value n = indices.back();
        auto constant = [&](int64_t v) {
          return arith::ConstantIndexOp::create(b, l, v);
        };
        Value first = arith::MulIOp::create(
            b, l, arith::DivUIOp::create(b, l, n, constant(block)),
            constant(block));
        Value rows = arith::MinSIOp::create(
            b, l, constant(block),
            arith::SubIOp::create(b, l, constant(channels), first));
        Value gateRow = arith::AddIOp::create(
            b, l, arith::MulIOp::create(b, l, first, constant(2)),
            arith::RemUIOp::create(b, l, n, constant(block)));
        Value upRow = arith::AddIOp::create(b, l, gateRow, rows);
        indices.back() = gateRow;
        Value gate = tensor::ExtractOp::create(b, l, products, indices);
        indices.back() = upRow;
        Value up = tensor::ExtractOp::create(b, l, products, indices);
        Value result = applyGatedEpilogue(b, l, epilogue, gate, up, args[0]);
        linalg::YieldOp::create(b, l, result);
      });
  rewriter.replaceOp(product, generic.getResults());
  return plain;
}
