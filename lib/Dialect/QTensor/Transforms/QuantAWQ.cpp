//===- QuantAWQ.cpp - Activation-aware weight quantization ----------------===//
//
// Part of the quant-opt project, under the Apache License v2.0 with LLVM
// Exceptions.
//
//===----------------------------------------------------------------------===//

#include "quant/Dialect/QTensor/Transforms/Calibration.h"
#include "quant/Dialect/QTensor/Transforms/Executor.h"
#include "quant/Dialect/QTensor/Transforms/Passes.h"
#include "quant/Dialect/QTensor/Utils/ScaleFolding.h"
#include "quant/Numerics/AWQ.h"
#include "quant/Numerics/Numerics.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/MLProgram/IR/MLProgram.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/IR/IRMapping.h"
#include "mlir/IR/SymbolTable.h"
#include "mlir/Transforms/RegionUtils.h"
#include "llvm/Support/FormatVariadic.h"

#include <atomic>
#include <thread>

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

private:
  /// The pass proper; runOnOperation reports what it quantized.
  LogicalResult quantize();
};
} // namespace

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

/// The op whose result the reference inspects for a group of several
/// linears (q,k,v -> the attention block's output projection; gate,up ->
/// the MLP's down projection): the first later product with a constant
/// weight that every path from the group to the function's results passes
/// through. Null when there is none or the group has one linear.
static Operation *findInspectedProduct(const InputGroup &group) {
  if (group.linears.size() < 2)
    return nullptr;
  Operation *last = group.linears.front().op;
  Block *block = last->getBlock();
  for (const ConstantWeightMatmul &linear : group.linears) {
    if (linear.op->getBlock() != block)
      return nullptr;
    if (last->isBeforeInBlock(linear.op))
      last = linear.op;
  }
  auto postDominates = [&](Operation *candidate) {
    SmallVector<Operation *> work;
    llvm::SmallPtrSet<Operation *, 32> seen;
    for (const ConstantWeightMatmul &linear : group.linears)
      work.push_back(linear.op);
    while (!work.empty()) {
      Operation *op = work.pop_back_val();
      if (op == candidate || !seen.insert(op).second)
        continue;
      if (op->hasTrait<OpTrait::IsTerminator>())
        return false;
      for (Operation *user : op->getUsers())
        work.push_back(block->findAncestorOpInBlock(*user));
    }
    return true;
  };
  for (Operation &op :
       llvm::make_range(std::next(last->getIterator()), block->end())) {
    auto product = dyn_cast<linalg::LinalgOp>(&op);
    if (!product || product.getNumReductionLoops() == 0 ||
        llvm::none_of(product.getDpsInputs(), isConstantTensor))
      continue;
    if (postDominates(&op))
      return &op;
  }
  return nullptr;
}

namespace {
/// Runs the part of the model between a group's input and the inspected
/// product through the context's executor, with the group's weights as
/// arguments, to score candidate weights as the reference's module2inspect
/// does.
class BlockInspector {
public:
  static FailureOr<std::unique_ptr<BlockInspector>>
  create(const InputGroup &group, Operation *inspected,
         const std::vector<float> &samples, std::string &reason);

  /// Mean squared error of the inspected output over all windows for
  /// candidate [N, K] weights.
  double loss(const std::vector<std::vector<float>> &weights);

private:
  HostArray weightArray(const ConstantWeightMatmul &linear,
                        const std::vector<float> &weight) const;
  std::vector<HostArray> run(const std::vector<std::vector<float>> &weights);

  std::unique_ptr<ExecutableModule> executable;
  const InputGroup *group = nullptr;
  std::vector<HostArray> windows;
  std::vector<HostArray> reference;
};
} // namespace

FailureOr<std::unique_ptr<BlockInspector>>
BlockInspector::create(const InputGroup &group, Operation *inspected,
                       const std::vector<float> &samples, std::string &reason) {
  Value input = group.input;
  Value output = inspected->getResult(0);
  DenseMap<Value, unsigned> arguments;
  arguments[input] = 0;
  for (auto [i, linear] : llvm::enumerate(group.linears))
    arguments[linear.op->getOperand(linear.weightOperand)] = i + 1;

  // Backward slice of the output, stopping at the arguments.
  Block *block = inspected->getBlock();
  llvm::SmallPtrSet<Operation *, 32> slice;
  SmallVector<Operation *> work{inspected};
  while (!work.empty()) {
    Operation *op = work.pop_back_val();
    if (!slice.insert(op).second)
      continue;
    llvm::SetVector<Value> used(op->getOperands().begin(),
                                op->getOperands().end());
    getUsedValuesDefinedAbove(op->getRegions(), used);
    for (Value v : used) {
      if (arguments.count(v))
        continue;
      Operation *def = v.getDefiningOp();
      if (!def) {
        reason = "the inspected block reads a function argument other than "
                 "the group's input";
        return failure();
      }
      if (def->getBlock() == block)
        work.push_back(def);
    }
  }

  // @inspect(x, w_0, ..) -> output, the slice cloned in program order.
  MLIRContext *ctx = inspected->getContext();
  OpBuilder builder(ctx);
  OwningOpRef<ModuleOp> module = ModuleOp::create(builder.getUnknownLoc());
  builder.setInsertionPointToEnd(module->getBody());
  SmallVector<Type> argTypes{input.getType()};
  for (const ConstantWeightMatmul &linear : group.linears)
    argTypes.push_back(linear.op->getOperand(linear.weightOperand).getType());
  auto func = func::FuncOp::create(
      builder, inspected->getLoc(), "inspect",
      builder.getFunctionType(argTypes, {output.getType()}));
  Block *entry = func.addEntryBlock();
  IRMapping mapping;
  for (auto [value, index] : arguments)
    mapping.map(value, entry->getArgument(index));
  builder.setInsertionPointToEnd(entry);
  for (Operation &op : *block) {
    if (!slice.contains(&op))
      continue;
    // The block's module has no globals: read constant ones in place.
    if (auto load = dyn_cast<ml_program::GlobalLoadConstOp>(op)) {
      auto global = SymbolTable::lookupNearestSymbolFrom<ml_program::GlobalOp>(
          load, load.getGlobal());
      auto value = global && global.getValue()
                       ? dyn_cast<TypedAttr>(*global.getValue())
                       : TypedAttr();
      if (!value) {
        reason = "the inspected block reads a global without a value";
        return failure();
      }
      mapping.map(load.getResult(),
                  arith::ConstantOp::create(builder, load.getLoc(), value));
      continue;
    }
    builder.clone(op, mapping);
  }
  func::ReturnOp::create(builder, inspected->getLoc(), mapping.lookup(output));

  ModuleExecutor *executor = getModuleExecutor(ctx);
  if (!executor) {
    reason = "no module executor is registered to run the inspected block";
    return failure();
  }
  auto inspector = std::make_unique<BlockInspector>();
  auto compiled = executor->compile(*module);
  if (!compiled) {
    reason = "the inspected block does not compile: " +
             llvm::toString(compiled.takeError());
    return failure();
  }
  inspector->executable = std::move(*compiled);
  inspector->group = &group;
  auto inputType = cast<RankedTensorType>(input.getType());
  int64_t perWindow = inputType.getNumElements();
  for (size_t at = 0; at + perWindow <= samples.size(); at += perWindow) {
    HostArray window;
    window.shape.assign(inputType.getShape().begin(),
                        inputType.getShape().end());
    window.f32.assign(samples.begin() + at, samples.begin() + at + perWindow);
    inspector->windows.push_back(std::move(window));
  }
  std::vector<std::vector<float>> original;
  for (const ConstantWeightMatmul &linear : group.linears)
    original.push_back(linear.weight);
  inspector->reference = inspector->run(original);
  if (inspector->reference.size() != inspector->windows.size()) {
    reason = "the inspected block failed to run";
    return failure();
  }
  return inspector;
}

HostArray BlockInspector::weightArray(const ConstantWeightMatmul &linear,
                                      const std::vector<float> &weight) const {
  HostArray array;
  auto type = cast<RankedTensorType>(
      linear.op->getOperand(linear.weightOperand).getType());
  array.shape.assign(type.getShape().begin(), type.getShape().end());
  array.f32 = weightInOperandLayout(linear, weight);
  return array;
}

std::vector<HostArray>
BlockInspector::run(const std::vector<std::vector<float>> &weights) {
  std::vector<HostArray> arrays;
  for (auto [i, linear] : llvm::enumerate(group->linears))
    arrays.push_back(weightArray(linear, weights[i]));
  // Windows run on two threads (the JIT'd code is reentrant); results are
  // kept in window order.
  std::vector<HostArray> outputs(windows.size());
  std::atomic<size_t> next{0};
  std::atomic<bool> failedCall{false};
  auto worker = [&]() {
    for (size_t w = next++; w < windows.size(); w = next++) {
      std::vector<const HostArray *> args{&windows[w]};
      for (const HostArray &a : arrays)
        args.push_back(&a);
      auto y = executable->callSingle("inspect", args);
      if (!y) {
        llvm::consumeError(y.takeError());
        failedCall = true;
        return;
      }
      outputs[w] = std::move(*y);
    }
  };
  std::thread helper(worker);
  worker();
  helper.join();
  if (failedCall)
    return {};
  return outputs;
}

double BlockInspector::loss(const std::vector<std::vector<float>> &weights) {
  std::vector<HostArray> outputs = run(weights);
  if (outputs.size() != reference.size())
    return std::numeric_limits<double>::infinity();
  double sum = 0;
  int64_t count = 0;
  for (size_t w = 0; w < outputs.size(); ++w) {
    for (size_t e = 0; e < outputs[w].f32.size(); ++e) {
      double d = double(reference[w].f32[e]) - double(outputs[w].f32[e]);
      sum += d * d;
    }
    count += int64_t(outputs[w].f32.size());
  }
  return sum / double(std::max<int64_t>(count, 1));
}

void QuantAWQPass::runOnOperation() {
  if (failed(runWeightPass(
          getOperation(), getArgument(), [&] { return quantize(); },
          numQuantized, numLeftInFloat)))
    signalPassFailure();
}

LogicalResult QuantAWQPass::quantize() {
  ModuleOp module = getOperation();
  if (bits < 2 || bits > 8) {
    module.emitError("quant-awq: bits must be in 2..8, got ")
        << static_cast<int64_t>(bits);
    return failure();
  }
  if (grid < 1 || !(maxShrink >= 0.0 && maxShrink < 1.0)) {
    module.emitError("quant-awq: grid must be positive and max-shrink in "
                     "[0, 1)");
    return failure();
  }
  if (calibration.empty()) {
    module.emitError("quant-awq: give calibration data with "
                     "calibration=FILE (token ids or a .npy of activations)");
    return failure();
  }
  CalibrationOptions calib = CalibrationOptions::fromPassOptions(
      calibration, calibrationFunction, calibrationWindows, calibrationOffset,
      calibrationSeed, segmented);
  WeightFilter filter;
  filter.passName = "quant-awq";
  filter.explainSkips = reportSkipped;
  filter.skip = skip;
  filter.scope = findCalibrationFunction(module, calib);
  if (!filter.scope)
    return failure();
  SmallVector<InputGroup> groups = collectInputGroups(module, filter);
  if (groups.empty())
    return success();
  for (InputGroup &group : groups)
    for (const ConstantWeightMatmul &linear : group.linears)
      if (failed(checkFiniteWeight(linear)))
        return failure();

  // Every group input of the float model, in one run.
  SmallVector<Value> inputs;
  for (const InputGroup &group : groups)
    inputs.push_back(group.input);
  auto samples = collectActivationSamples(module, inputs, calib);
  if (failed(samples))
    return failure();

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
      return failure();
    }
    if (llvm::any_of(group.linears, [](const ConstantWeightMatmul &linear) {
          return isOutputHead(linear.op);
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
    // Score candidates on the block the reference inspects when there is
    // one (q,k,v and gate,up); a single linear is its own block.
    num::AWQObjective objective;
    std::unique_ptr<BlockInspector> inspector;
    if (Operation *inspected = findInspectedProduct(group)) {
      auto created = BlockInspector::create(group, inspected, x, reason);
      if (failed(created)) {
        group.linears.front().op->emitRemark("quant-awq: scoring ")
            << group.names() << " on the products alone: " << reason;
      } else {
        inspector = std::move(*created);
        objective = [&](const std::vector<std::vector<float>> &w) {
          return inspector->loss(w);
        };
      }
    }
    num::AWQScaleResult best =
        num::awqSearchScales(x, tokens, k, weights, rows, search, objective);
    if (best.bestRatio < 0)
      continue;
    fold->apply(group, best.scales);
    // The recorded inputs follow the fold, as the reference's cache does.
    for (int64_t t = 0; t < tokens; ++t)
      for (int64_t j = 0; j < k; ++j)
        x[t * k + j] /= best.scales[j];
  }

  // Clipping and quantization.
  IRRewriter builder(&getContext());
  MLIRContext *ctx = &getContext();
  auto format = num::getIntegerFormat(bits, /*isSigned=*/false);
  PackOrder packing = bits < 8 ? PackOrder::lsb_first : PackOrder::none;
  for (size_t g = 0; g < groups.size(); ++g) {
    InputGroup &group = groups[g];
    if (failed(refreshInputGroup(group))) {
      group.linears.front().op->emitError(
          "quant-awq: a product no longer matches after scaling");
      return failure();
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
      int64_t rowBytes = num::packedSize(k, bits, packing);
      weight.storage.resize(linear.rows * rowBytes);
      for (int64_t r = 0; r < linear.rows; ++r)
        num::packCodes(q.codes.data() + r * k, k, bits, packing,
                       weight.storage.data() + r * rowBytes);
      weight.storageShape = {linear.rows, rowBytes};
      weight.scales = q.scales;
      weight.scaleShape = {linear.rows, q.groups};
      weight.scaleType = builder.getF32Type();
      weight.zeros = q.zeros;
      replaceWithDequantMatmul(builder, linear, weight);
    }
  }
  return success();
}
