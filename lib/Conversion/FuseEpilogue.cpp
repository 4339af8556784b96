//===- FuseEpilogue.cpp - Elementwise consumers into the product ----------===//
//
// Part of the quant-opt project, under the Apache License v2.0 with LLVM
// Exceptions.
//
//===----------------------------------------------------------------------===//
//
// Moves the elementwise work that follows a quantized product into the
// product: an addition of a residual or a bias becomes the product's init,
// and a gating of two products of the same input (SwiGLU's
// silu(gate) * up) becomes one product with a gated epilogue.
//
//===----------------------------------------------------------------------===//

#include "KernelOperands.h"
#include "ProductFusion.h"

#include "quant/Conversion/Passes.h"
#include "quant/Dialect/QTensor/IR/QTensorOps.h"

#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"

namespace mlir {
namespace qtensor {
#define GEN_PASS_DEF_FUSEEPILOGUEPASS
#include "quant/Conversion/Passes.h.inc"
} // namespace qtensor
} // namespace mlir

using namespace mlir;
using namespace mlir::qtensor;

namespace {

/// An elementwise generic: every loop parallel, the init and the result
/// read and written in loop order.
bool isElementwise(linalg::GenericOp generic) {
  return generic.getNumDpsInits() == 1 &&
         generic.getNumParallelLoops() == generic.getNumLoops() &&
         generic.getMatchingIndexingMap(generic.getDpsInitOperand(0))
             .isIdentity() &&
         generic->getNumResults() == 1;
}

/// The product defining `value`, when it is a quantized product whose only
/// user is `user`. W8A8 products count only with `includeW8A8`: their
/// epilogue adds the groups to the init in order, so an addition absorbed
/// into the init would round differently.
Operation *soleProductOf(Value value, Operation *user, bool includeW8A8) {
  Operation *product = value.getDefiningOp();
  if (!product ||
      !(isa<DequantMatmulOp, GGMLMatmulOp>(product) ||
        (includeW8A8 && isa<QuantizedMatmulOp>(product))) ||
      getGatedEpilogue(product) || !product->getResult(0).hasOneUse() ||
      product->getResult(0).use_begin()->getOwner() != user)
    return nullptr;
  return product;
}

/// The init operand of a dequant_matmul or ggml_matmul.
OpOperand &initOperand(Operation *product) {
  if (auto dequant = dyn_cast<DequantMatmulOp>(product))
    return dequant.getInitMutable();
  return cast<GGMLMatmulOp>(product).getInitMutable();
}

/// `a + b` of a product with a zero init and another operand becomes the
/// product with that operand (broadcast to the result when it is a bias)
/// as its init. The kernels add the finished sum to the init, so the
/// result is the unfused one bit for bit; the reference lowering starts
/// its sums from the init instead (a different rounding).
bool absorbAddition(linalg::GenericOp generic) {
  if (!isElementwise(generic) || generic.getNumDpsInputs() != 2)
    return false;
  Block *body = generic.getBody();
  auto yield = cast<linalg::YieldOp>(body->getTerminator());
  auto add = yield.getValues()[0].getDefiningOp<arith::AddFOp>();
  if (!add || body->getOperations().size() != 2 || !add.getType().isF32())
    return false;
  // The add must read the two inputs, in either order.
  Value lhs = add.getLhs(), rhs = add.getRhs();
  if (!((lhs == body->getArgument(0) && rhs == body->getArgument(1)) ||
        (lhs == body->getArgument(1) && rhs == body->getArgument(0))))
    return false;
  for (unsigned productSide = 0; productSide < 2; ++productSide) {
    OpOperand *productOperand = generic.getDpsInputOperand(productSide);
    OpOperand *other = generic.getDpsInputOperand(1 - productSide);
    Operation *product =
        soleProductOf(productOperand->get(), generic, /*includeW8A8=*/false);
    if (!product ||
        !generic.getMatchingIndexingMap(productOperand).isIdentity())
      continue;
    OpOperand &init = initOperand(product);
    if (!isZeroFill(init.get()))
      continue;
    AffineMap otherMap = generic.getMatchingIndexingMap(other);
    if (!otherMap.isProjectedPermutation())
      continue;
    auto resultType = cast<RankedTensorType>(generic.getResult(0).getType());
    if (product->getResult(0).getType() != resultType)
      continue;
    // The product moves to the addition, where the other operand exists.
    product->moveBefore(generic);
    OpBuilder b(product);
    Value newInit = other->get();
    if (!otherMap.isIdentity() || other->get().getType() != resultType) {
      // A bias: broadcast once into a tensor of the result's shape.
      Value empty =
          tensor::EmptyOp::create(b, generic.getLoc(), resultType.getShape(),
                                  resultType.getElementType());
      int64_t rank = resultType.getRank();
      SmallVector<AffineMap> maps{otherMap, b.getMultiDimIdentityMap(rank)};
      SmallVector<utils::IteratorType> iterators(rank,
                                                 utils::IteratorType::parallel);
      newInit =
          linalg::GenericOp::create(
              b, generic.getLoc(), TypeRange{resultType},
              ValueRange{other->get()}, ValueRange{empty}, maps, iterators,
              [](OpBuilder &nb, Location l, ValueRange args) {
                linalg::YieldOp::create(nb, l, args[0]);
              })
              .getResult(0);
    }
    init.set(newInit);
    generic.getResult(0).replaceAllUsesWith(product->getResult(0));
    generic.erase();
    return true;
  }
  return false;
}

/// `f(gate, up)` of two products of the same input with weights of the same
/// form becomes one product over their rows interleaved in blocks of
/// `block`, whose epilogue is `f`.
bool fuseGating(linalg::GenericOp generic, int64_t block) {
  if (!isElementwise(generic) || generic.getNumDpsInputs() != 2 ||
      !llvm::all_of(generic.getIndexingMapsArray(),
                    [](AffineMap map) { return map.isIdentity(); }))
    return false;
  Block *body = generic.getBody();
  Type f32 = Float32Type::get(generic.getContext());
  if (llvm::any_of(body->getArgumentTypes(),
                   [&](Type t) { return t != f32; }) ||
      !llvm::all_of(body->without_terminator(), isGatedEpilogueOp))
    return false;
  Operation *gate = soleProductOf(generic.getDpsInputs()[0], generic, true);
  Operation *up = soleProductOf(generic.getDpsInputs()[1], generic, true);
  if (!gate || !up || gate == up)
    return false;
  std::optional<ProductParts> parts = fusibleParts(gate);
  if (!parts || !compatible(gate, up, *parts) ||
      !isZeroFill(gate->getOperand(parts->initOperand)))
    return false;
  auto resultType = cast<RankedTensorType>(generic.getResult(0).getType());
  auto productType = cast<RankedTensorType>(gate->getResult(0).getType());
  int64_t channels = productType.getShape().back();
  if (productType != up->getResult(0).getType() || productType != resultType ||
      ShapedType::isDynamic(channels))
    return false;

  // Rows of block j: the gate's rows j*block .. then the same rows of up.
  SmallVector<std::pair<unsigned, int64_t>> rows;
  for (int64_t first = 0; first < channels; first += block) {
    int64_t count = std::min(block, channels - first);
    for (unsigned side = 0; side < 2; ++side)
      for (int64_t r = 0; r < count; ++r)
        rows.push_back({side, first + r});
  }
  // The fused product goes where the generic is: its init may be defined
  // after the products.
  OpBuilder b(generic);
  Location loc = gate->getLoc();
  IRMapping mapping;
  for (unsigned i : parts->channelOperands)
    mapping.map(
        gate->getOperand(i),
        gatherRows(b, loc, {gate->getOperand(i), up->getOperand(i)}, rows));
  mapping.map(gate->getOperand(parts->initOperand), generic.getDpsInits()[0]);
  Operation *fused = b.clone(*gate, mapping);
  fused->getResult(0).setType(resultType);
  fused->removeAttr(kWeightNameAttr);
  setGateBlock(fused, block);

  // The epilogue: (gate, up, init) -> the generic's body.
  Region &region = fused->getRegion(0);
  Block *epilogue =
      b.createBlock(&region, {}, {f32, f32, f32}, {loc, loc, loc});
  IRMapping bodyMapping;
  for (unsigned i = 0; i < 3; ++i)
    bodyMapping.map(body->getArgument(i), epilogue->getArgument(i));
  for (Operation &op : body->without_terminator())
    b.clone(op, bodyMapping);
  Value result = bodyMapping.lookupOrDefault(
      cast<linalg::YieldOp>(body->getTerminator()).getValues()[0]);
  YieldOp::create(b, loc, result);

  generic.getResult(0).replaceAllUsesWith(fused->getResult(0));
  generic.erase();
  gate->erase();
  up->erase();
  return true;
}

struct FuseEpiloguePass
    : qtensor::impl::FuseEpiloguePassBase<FuseEpiloguePass> {
  using Base::Base;
  void runOnOperation() override {
    if (gateBlock < 1) {
      emitError(getOperation()->getLoc())
          << "quant-fuse-epilogue: gate-block must be positive, got "
          << int64_t(gateBlock);
      return signalPassFailure();
    }
    SmallVector<linalg::GenericOp> generics;
    getOperation()->walk(
        [&](linalg::GenericOp generic) { generics.push_back(generic); });
    for (linalg::GenericOp generic : generics) {
      if (fuseGating(generic, gateBlock))
        ++numGated;
      else if (absorbAddition(generic))
        ++numAbsorbed;
    }
  }
};

} // namespace
