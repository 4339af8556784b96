//===- FloatMatmulKernel.cpp - f32 matrix product CPU kernel --------------===//
//
// Part of the quant-opt project, under the Apache License v2.0 with LLVM
// Exceptions.
//
//===----------------------------------------------------------------------===//
//
// The float model's own products (the importers' x · Wᵀ generics, linalg
// matmuls with [K, N] weights) through the kernels of the quantized
// products: [N, K] weights are 16-lane "codes" that need no decoding; a
// constant [K, N] weight is transposed to [N, K] at compile time, any other
// [K, N] weight is copied column strip by column strip into panels.
//
//===----------------------------------------------------------------------===//

#include "../KernelOperands.h"
#include "CPUKernels.h"
#include "quant/Dialect/QTensor/Utils/WeightMatching.h"

#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Linalg/IR/LinalgInterfaces.h"

using namespace mlir;
using namespace mlir::qtensor;
using namespace mlir::qtensor::cpu;

/// The [N, K] source of `value` when it is a 2-D transpose (linalg.transpose
/// or a copying linalg.generic) of one, else null.
static Value transposeSource(Value value) {
  Operation *def = value.getDefiningOp();
  if (auto transpose = dyn_cast_or_null<linalg::TransposeOp>(def))
    return transpose.getPermutation() == ArrayRef<int64_t>{1, 0}
               ? transpose.getInput()
               : Value();
  auto generic = dyn_cast_or_null<linalg::GenericOp>(def);
  if (!generic || generic.getNumDpsInputs() != 1 ||
      generic.getNumDpsInits() != 1 || generic.getNumLoops() != 2 ||
      generic.getNumReductionLoops() != 0)
    return {};
  auto yield = cast<linalg::YieldOp>(generic.getBody()->getTerminator());
  if (yield.getValues().size() != 1 ||
      yield.getValues()[0] != generic.getBody()->getArgument(0))
    return {};
  SmallVector<AffineMap> maps = generic.getIndexingMapsArray();
  MLIRContext *ctx = generic.getContext();
  AffineMap swapped =
      AffineMap::getPermutationMap(ArrayRef<unsigned>{1, 0}, ctx);
  AffineMap identity = AffineMap::getMultiDimIdentityMap(2, ctx);
  if ((maps[0] == swapped && maps[1] == identity) ||
      (maps[0] == identity && maps[1] == swapped))
    return generic.getDpsInputs()[0];
  return {};
}

/// A new constant holding the transpose of `weight` when it is a 2-D f32
/// constant [K, N] (prepacking at compile time: the [N, K] kernel streams
/// its rows), else null.
static Value transposeConstant(Value weight) {
  std::optional<FloatConstant> constant = readFloatConstant(weight);
  if (!constant || constant->type.getRank() != 2 ||
      !constant->type.getElementType().isF32())
    return {};
  int64_t k = constant->type.getDimSize(0), n = constant->type.getDimSize(1);
  std::vector<float> transposed(constant->values.size());
  for (int64_t row = 0; row < k; ++row)
    for (int64_t col = 0; col < n; ++col)
      transposed[col * k + row] = constant->values[row * n + col];
  OpBuilder b(weight.getContext());
  b.setInsertionPointAfterValue(weight);
  return createF32Constant(b, weight.getLoc(), {n, k}, transposed,
                           constant->fromResource, constant->name + ".nk");
}

LogicalResult cpu::lowerFloatMatmulToKernel(linalg::LinalgOp op,
                                            const KernelOptions &options,
                                            std::string &whyNot) {
  auto fail = [&](const Twine &why) {
    whyNot = why.str();
    return failure();
  };
  if (!op.hasPureTensorSemantics() || op.getNumDpsInputs() != 2 ||
      op.getNumDpsInits() != 1 || !linalg::isaContractionOpInterface(op))
    return fail("not a contraction of two tensors");
  // f32 activations and result; f32, f16 or bf16 weights (widened in the
  // body: the contraction interface looks through the extf).
  Type weightElement =
      cast<RankedTensorType>(op.getDpsInputs()[1].getType()).getElementType();
  bool halfWeight = isa<Float16Type, BFloat16Type>(weightElement);
  for (Value operand : op->getOperands()) {
    auto type = cast<RankedTensorType>(operand.getType());
    if (!type.getElementType().isF32() &&
        !(halfWeight && operand == op.getDpsInputs()[1]))
      return fail("operands that are not f32 (or f16/bf16 weights)");
    // Kernels are shared by products of one shape: their rows may vary,
    // not K or N.
    if (type.getRank() == 0 || type.isDynamicDim(type.getRank() - 1))
      return fail("dynamic innermost dimension");
  }
  FailureOr<MatmulDims> dims = matchMatmulDims(op, whyNot);
  if (failed(dims))
    return failure();
  unsigned nDim = dims->n, kDim = dims->k;
  const SmallVector<unsigned> *rhs = &dims->weight;

  DequantKernelPlan plan;
  Value weight = op.getDpsInputs()[1];
  Value transposedConstant;
  if (halfWeight) {
    if (*rhs != SmallVector<unsigned>{nDim, kDim})
      return fail("f16/bf16 weight not [N, K]");
    plan.halfType = weightElement;
    plan.typedHalfStorage = true;
  } else {
    plan.f32Weights = true;
  }
  if (halfWeight) {
    // Checked above.
  } else if (*rhs == SmallVector<unsigned>{kDim, nDim}) {
    if (Value source = transposeSource(weight)) {
      weight = source;
    } else if (Value nk = transposeConstant(weight)) {
      transposedConstant = weight;
      weight = nk;
    } else {
      plan.weightKN = true;
    }
  } else if (*rhs != SmallVector<unsigned>{nDim, kDim}) {
    return fail("weight neither [N, K] nor [K, N]");
  }
  auto weightType = cast<RankedTensorType>(weight.getType());
  if (!weightType.hasStaticShape())
    return fail("dynamic weight shape");
  plan.n = weightType.getDimSize(plan.weightKN ? 1 : 0);
  plan.k = weightType.getDimSize(plan.weightKN ? 0 : 1);
  plan.bits = halfWeight ? 16 : 32;
  plan.fields = 1;
  plan.chunk = kLanes;
  plan.group = plan.k;
  plan.numGroups = 1;
  plan.scalesPerChannel = true;
  plan.scaleType = Float32Type::get(op.getContext());
  // Float products have no int8 kernel.
  KernelOptions floatOptions = options;
  floatOptions.compute = KernelCompute::F32;
  if (failed(replaceWithKernelCall(op, plan, op.getDpsInputs()[0], {weight},
                                   op.getDpsInits()[0], floatOptions, whyNot)))
    return failure();
  if (transposedConstant)
    eraseIfDeadConstant(transposedConstant);
  return success();
}
