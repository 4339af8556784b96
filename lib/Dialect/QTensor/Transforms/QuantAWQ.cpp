//===- QuantAWQ.cpp - Activation-aware weight quantization ----------------===//
//
// Part of the quant-opt project, under the Apache License v2.0 with LLVM
// Exceptions.
//
//===----------------------------------------------------------------------===//

#include "quant/Dialect/QTensor/Transforms/Calibration.h"
#include "quant/Dialect/QTensor/Transforms/Passes.h"
#include "quant/Dialect/QTensor/Transforms/ScaleFolding.h"
#include "quant/Numerics/AWQ.h"
#include "quant/Numerics/Numerics.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "llvm/Support/FormatVariadic.h"

namespace mlir {
namespace qtensor {
#define GEN_PASS_DEF_QUANTAWQPASS
#include "quant/Dialect/QTensor/Transforms/Passes.h.inc"
} // namespace qtensor
} // namespace mlir

using namespace mlir;
using namespace mlir::qtensor;
namespace num = quantopt::numerics;

namespace {
struct QuantAWQPass : qtensor::impl::QuantAWQPassBase<QuantAWQPass> {
  using Base::Base;
  void runOnOperation() override;
};
} // namespace

static bool isReturned(Operation *op) {
  return llvm::any_of(op->getUsers(), [](Operation *user) {
    return isa<func::ReturnOp>(user);
  });
}

/// A contraction of two non-constant operands (attention scores or the
/// attention-weighted values).
static bool isActivationProduct(Operation *op) {
  auto linalgOp = dyn_cast<linalg::LinalgOp>(op);
  return linalgOp && linalgOp.getNumReductionLoops() > 0 &&
         linalgOp.getNumDpsInputs() == 2 &&
         llvm::none_of(linalgOp.getDpsInputs(), isConstantTensor);
}

static bool containsExp(Operation *op) {
  bool found = false;
  op->walk([&](math::ExpOp) { found = true; });
  return found;
}

/// The ops reachable from `start`'s results without passing through a
/// reduction (the search stops at, and includes, the first reductions).
static SmallVector<Operation *> reachUpToReductions(Operation *start) {
  SmallVector<Operation *> found,
      work(start->getUsers().begin(), start->getUsers().end());
  llvm::SmallPtrSet<Operation *, 32> seen;
  while (!work.empty()) {
    Operation *op = work.pop_back_val();
    if (!seen.insert(op).second)
      continue;
    found.push_back(op);
    auto linalgOp = dyn_cast<linalg::LinalgOp>(op);
    if (linalgOp && linalgOp.getNumReductionLoops() > 0)
      continue;
    work.append(op->getUsers().begin(), op->getUsers().end());
  }
  return found;
}

/// Queries and keys: their output meets another activation in a product
/// whose result reaches an exponential (a softmax) before any further
/// product. Values also meet an activation product, but its result goes
/// on to a linear.
static bool isQueryOrKey(Operation *linear) {
  for (Operation *op : reachUpToReductions(linear)) {
    if (!isActivationProduct(op))
      continue;
    for (Operation *after : reachUpToReductions(op))
      if (containsExp(after))
        return true;
  }
  return false;
}

void QuantAWQPass::runOnOperation() {
  ModuleOp module = getOperation();
  if (bits < 2 || bits > 8) {
    module.emitError("quant-awq: bits must be in 2..8, got ")
        << static_cast<int64_t>(bits);
    return signalPassFailure();
  }
  if (grid < 1 || !(maxShrink >= 0.0 && maxShrink < 1.0)) {
    module.emitError("quant-awq: grid must be positive and max-shrink in "
                     "[0, 1)");
    return signalPassFailure();
  }
  if (calibration.empty()) {
    module.emitError("quant-awq: give calibration data with "
                     "calibration=FILE (token ids or a .npy of activations)");
    return signalPassFailure();
  }
  SmallVector<InputGroup> groups = collectInputGroups(module, skip);
  if (groups.empty())
    return;
  for (InputGroup &group : groups)
    for (const ConstantWeightMatmul &linear : group.linears)
      if (failed(checkFiniteWeight(linear)))
        return signalPassFailure();

  // Every group input of the float model, in one run.
  CalibrationOptions calib;
  calib.path = calibration;
  calib.function = calibrationFunction;
  calib.windows = calibrationWindows;
  calib.offset = calibrationOffset;
  calib.seed = calibrationSeed;
  SmallVector<Value> inputs;
  for (const InputGroup &group : groups)
    inputs.push_back(group.input);
  auto samples = collectActivationSamples(module, inputs, calib);
  if (failed(samples))
    return signalPassFailure();

  // Scale search and folding, group by group in program order.
  num::AWQScaleSearch search;
  search.grid = grid;
  search.duoScaling = duoScaling;
  search.bits = bits;
  search.groupSize = groupSize;
  for (size_t g = 0; g < groups.size(); ++g) {
    InputGroup &group = groups[g];
    if (failed(refreshInputGroup(group))) {
      group.linears.front().op->emitError(
          "quant-awq: a product no longer matches after scaling");
      return signalPassFailure();
    }
    if (llvm::any_of(group.linears, [](const ConstantWeightMatmul &linear) {
          return isReturned(linear.op);
        }))
      continue;
    std::string reason;
    FailureOr<ChannelScaleFold> fold = ChannelScaleFold::find(group, reason);
    if (failed(fold)) {
      group.linears.front().op->emitRemark("quant-awq: not scaling the "
                                           "input of ")
          << group.names() << ": " << reason;
      continue;
    }
    int64_t k = group.channels();
    std::vector<float> &x = (*samples)[g];
    int64_t tokens = int64_t(x.size()) / k;
    std::vector<const std::vector<float> *> weights;
    std::vector<int64_t> rows;
    for (const ConstantWeightMatmul &linear : group.linears) {
      weights.push_back(&linear.weight);
      rows.push_back(linear.rows);
    }
    num::AWQScaleResult best =
        num::awqSearchScales(x, tokens, k, weights, rows, search);
    if (best.bestRatio < 0)
      continue;
    fold->apply(group, best.scales);
    // The recorded inputs follow the fold, as the reference's cache does.
    for (int64_t t = 0; t < tokens; ++t)
      for (int64_t j = 0; j < k; ++j)
        x[t * k + j] /= best.scales[j];
  }

  // Clipping and quantization.
  OpBuilder builder(&getContext());
  MLIRContext *ctx = &getContext();
  auto format =
      static_cast<ElementFormat>(unsigned(ElementFormat::ui2) + bits - 2);
  PackOrder packing = bits < 8 ? PackOrder::lsb_first : PackOrder::none;
  num::PackOrder numPacking =
      bits < 8 ? num::PackOrder::LsbFirst : num::PackOrder::None;
  for (size_t g = 0; g < groups.size(); ++g) {
    InputGroup &group = groups[g];
    if (failed(refreshInputGroup(group))) {
      group.linears.front().op->emitError(
          "quant-awq: a product no longer matches after scaling");
      return signalPassFailure();
    }
    int64_t k = group.channels();
    const std::vector<float> &x = (*samples)[g];
    int64_t tokens = int64_t(x.size()) / k;
    for (ConstantWeightMatmul &linear : group.linears) {
      if (clip && !isQueryOrKey(linear.op))
        linear.weight =
            num::awqClipWeight(x, tokens, linear.weight, linear.rows, k, bits,
                               groupSize, grid, maxShrink);
      num::AWQQuantized q = num::awqQuantize(linear.weight.data(), linear.rows,
                                             k, bits, groupSize);
      QuantizedWeight weight;
      int64_t block = groupSize > 0 && groupSize < k ? groupSize : 0;
      weight.layout = LayoutAttr::get(ctx, format, {1, block}, packing);
      int64_t rowBytes = num::packedSize(k, bits, numPacking);
      weight.storage.resize(linear.rows * rowBytes);
      for (int64_t r = 0; r < linear.rows; ++r)
        num::packCodes(q.codes.data() + r * k, k, bits, numPacking,
                       weight.storage.data() + r * rowBytes);
      weight.storageShape = {linear.rows, rowBytes};
      weight.scales = q.scales;
      weight.scaleShape = {linear.rows, q.groups};
      weight.scaleType = builder.getF32Type();
      weight.zeros = q.zeros;
      replaceWithDequantMatmul(builder, linear, weight);
    }
  }
}
