//===- Calibration.cpp - Activation statistics by execution ---------------===//
//
// Part of the quant-opt project, under the Apache License v2.0 with LLVM
// Exceptions.
//
//===----------------------------------------------------------------------===//

#include "quant/Dialect/QTensor/Transforms/Calibration.h"
#include "quant/Dialect/QTensor/Transforms/Executor.h"
#include "quant/Formats/Npy.h"
#include "quant/Formats/ResidentMemory.h"

#include "quant/Dialect/QTensor/IR/QTensorDialect.h"
#include "quant/Dialect/QTensor/Utils/ConstantGlobals.h"
#include "quant/Dialect/QTensor/Utils/ProgressRemarks.h"
#include "quant/Dialect/QTensor/Utils/WeightMatching.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/MLProgram/IR/MLProgram.h"
#include "mlir/IR/IRMapping.h"
#include "mlir/IR/SymbolTable.h"
#include "mlir/Interfaces/CallInterfaces.h"
#include "mlir/Transforms/RegionUtils.h"
#include "llvm/ADT/SetVector.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/FormatVariadic.h"

#include <atomic>
#include <cstring>
#include <mutex>
#include <random>
#include <thread>

using namespace mlir;
using namespace mlir::qtensor;
using namespace quantopt;

static func::FuncOp findFunction(ModuleOp module, StringRef name) {
  if (!name.empty())
    return module.lookupSymbol<func::FuncOp>(name);
  func::FuncOp only;
  unsigned publicCount = 0;
  for (auto func : module.getOps<func::FuncOp>())
    if (func.isPublic() && !func.isExternal()) {
      only = func;
      ++publicCount;
    }
  if (publicCount == 1)
    return only;
  return module.lookupSymbol<func::FuncOp>("forward");
}

func::FuncOp
mlir::qtensor::findCalibrationFunction(ModuleOp module,
                                       const CalibrationOptions &options) {
  func::FuncOp func = findFunction(module, options.function);
  if (!func)
    module.emitError("calibration: no function to run (give the function "
                     "name, or keep one public function or @forward)");
  return func;
}

namespace {
/// The watched values of every calibration call, in call order.
struct WatchedOutputs {
  std::vector<std::vector<HostArray>> calls;
  std::vector<int64_t> channels;
  int64_t sequencesPerCall = 1;
};
} // namespace

/// Makes a clone runnable by executors that know no ml_program (constant
/// globals read in place, unused ones dropped); mutable state the function
/// still uses is an error naming it.
static LogicalResult prepareForExecution(ModuleOp module, func::FuncOp original,
                                         func::FuncOp calibrated) {
  // Only the calibrated function and what it calls are compiled; callers
  // of its old signature go.
  llvm::SmallPtrSet<Operation *, 8> reachable{calibrated};
  SmallVector<Operation *> work{calibrated};
  while (!work.empty()) {
    Operation *op = work.pop_back_val();
    op->walk([&](Operation *nested) {
      for (NamedAttribute attr : nested->getAttrs()) {
        auto ref = dyn_cast<FlatSymbolRefAttr>(attr.getValue());
        Operation *callee =
            ref ? SymbolTable::lookupSymbolIn(module, ref.getAttr()) : nullptr;
        if (isa_and_nonnull<func::FuncOp>(callee) &&
            reachable.insert(callee).second)
          work.push_back(callee);
      }
    });
  }
  for (auto func : llvm::make_early_inc_range(module.getOps<func::FuncOp>()))
    if (!reachable.contains(func))
      func.erase();
  if (failed(inlineConstantGlobals(module)))
    return failure();
  Operation *remaining = nullptr;
  module.walk([&](Operation *op) {
    if (isa_and_nonnull<ml_program::MLProgramDialect>(op->getDialect()) &&
        !(isa<ml_program::GlobalOp>(op) &&
          SymbolTable::symbolKnownUseEmpty(op, module)))
      remaining = op;
  });
  if (remaining) {
    original.emitError("calibration: @")
        << original.getSymName() << " uses '"
        << remaining->getName().getStringRef()
        << "' (mutable state), which calibration cannot run";
    return failure();
  }
  return success();
}

/// The calls to make: token windows for a function of `[B, S] i32` ids, or
/// the copies of a .npy f32 array for a function of one f32 tensor.
static FailureOr<std::vector<HostArray>>
loadCalibrationCalls(ModuleOp module, func::FuncOp func,
                     RankedTensorType inputType,
                     const CalibrationOptions &options) {
  std::vector<HostArray> calls;
  if (inputType.getElementType().isInteger(32) && inputType.getRank() == 2) {
    int64_t batch = inputType.getDimSize(0), seq = inputType.getDimSize(1);
    auto ids = loadTokenIds(options.path, INT32_MAX);
    if (!ids) {
      module.emitError("calibration: ") << llvm::toString(ids.takeError());
      return failure();
    }
    int64_t available = int64_t(ids->size()) - seq;
    if (available < 0 || options.windows <= 0 ||
        (options.seed < 0 &&
         options.offset + options.windows * seq > int64_t(ids->size()))) {
      module.emitError(llvm::formatv(
          "calibration: {0} windows of {1} ids from offset {2} do not fit in "
          "the {3} ids of {4}",
          options.windows, seq, options.offset, ids->size(), options.path));
      return failure();
    }
    std::mt19937_64 rng(options.seed < 0 ? 0 : uint64_t(options.seed));
    std::vector<int64_t> starts;
    for (int64_t w = 0; w < options.windows; ++w)
      starts.push_back(options.seed < 0
                           ? options.offset + w * seq
                           : int64_t(rng() % uint64_t(available + 1)));
    for (size_t w = 0; w < starts.size(); w += batch) {
      HostArray call;
      call.kind = HostArray::Kind::I32;
      call.shape = {batch, seq};
      for (int64_t b = 0; b < batch; ++b) {
        int64_t start = starts[std::min(w + b, starts.size() - 1)];
        call.i32.insert(call.i32.end(), ids->begin() + start,
                        ids->begin() + start + seq);
      }
      calls.push_back(std::move(call));
    }
    return calls;
  }
  if (!inputType.getElementType().isF32()) {
    func.emitError("calibration: the argument must be i32 token ids "
                   "[batch, seq] or an f32 tensor");
    return failure();
  }
  auto array = loadNpyF32(options.path);
  if (!array) {
    module.emitError("calibration: ") << llvm::toString(array.takeError());
    return failure();
  }
  ArrayRef<int64_t> want = inputType.getShape();
  std::vector<int64_t> got = array->shape;
  int64_t copies = 1;
  if (got.size() == want.size() + 1) {
    copies = got.front();
    got.erase(got.begin());
  }
  if (got != std::vector<int64_t>(want.begin(), want.end())) {
    std::string expected;
    llvm::raw_string_ostream os(expected);
    llvm::interleave(want, os, "x");
    module.emitError("calibration: ")
        << options.path << " has shape "
        << llvm::join(
               llvm::map_range(array->shape,
                               [](int64_t d) { return std::to_string(d); }),
               "x")
        << "; the function takes " << expected
        << " (optionally stacked along a new leading axis)";
    return failure();
  }
  int64_t per = inputType.getNumElements();
  for (int64_t c = 0; c < copies; ++c) {
    HostArray call;
    call.shape.assign(want.begin(), want.end());
    call.f32.assign(array->values.begin() + c * per,
                    array->values.begin() + (c + 1) * per);
    calls.push_back(std::move(call));
  }
  return calls;
}

/// Calls `name` once per calibration call, with the arguments `argsOf(c)`,
/// on `threads` workers; the results come back in call order, so that
/// statistics accumulated from them do not depend on scheduling.
static FailureOr<std::vector<std::vector<HostArray>>>
callConcurrently(ExecutableModule &compiled, StringRef name, size_t numCalls,
                 function_ref<SmallVector<const HostArray *>(size_t)> argsOf,
                 unsigned threads, Operation *anchor) {
  std::vector<std::vector<HostArray>> outputs(numCalls);
  std::atomic<size_t> next{0};
  std::mutex errorMutex;
  std::string firstError;
  auto worker = [&]() {
    for (size_t c = next.fetch_add(1); c < numCalls; c = next.fetch_add(1)) {
      auto results = compiled.call(name, argsOf(c));
      if (!results) {
        std::lock_guard<std::mutex> lock(errorMutex);
        firstError = llvm::toString(results.takeError());
        return;
      }
      outputs[c] = std::move(*results);
    }
  };
  std::vector<std::thread> pool;
  for (unsigned t = 1; t < std::max(1u, threads); ++t)
    pool.emplace_back(worker);
  worker();
  for (std::thread &t : pool)
    t.join();
  if (!firstError.empty()) {
    anchor->emitError("calibration: ") << firstError;
    return failure();
  }
  return outputs;
}

/// An error naming the first watched result (of the first `watched`
/// results of each call) that holds NaN or Inf.
static LogicalResult
checkFiniteWatched(const std::vector<std::vector<HostArray>> &outputs,
                   size_t watched, Operation *anchor) {
  for (const std::vector<HostArray> &results : outputs)
    for (size_t i = 0; i < std::min(watched, results.size()); ++i)
      for (float v : results[i].f32)
        if (!std::isfinite(v))
          return anchor->emitError("calibration: a watched activation (")
                 << results[i].shape.back() << " channels) has NaN or Inf";
  return success();
}

static FailureOr<WatchedOutputs> runWatched(ModuleOp module,
                                            ArrayRef<Value> values,
                                            const CalibrationOptions &options) {
  func::FuncOp func = findCalibrationFunction(module, options);
  if (!func)
    return failure();
  FunctionType type = func.getFunctionType();
  if (type.getNumInputs() != 1 || type.getNumResults() == 0) {
    func.emitError("calibration: the function must take one tensor and "
                   "return at least one");
    return failure();
  }
  auto inputType = dyn_cast<RankedTensorType>(type.getInput(0));
  if (!inputType || !inputType.hasStaticShape()) {
    func.emitError("calibration: the function's argument must be a static "
                   "ranked tensor");
    return failure();
  }
  std::vector<int64_t> channels;
  for (Value v : values) {
    auto ranked = dyn_cast<RankedTensorType>(v.getType());
    if (!ranked ||
        !isa<Float32Type, Float16Type, BFloat16Type>(ranked.getElementType()) ||
        ranked.getRank() < 1 || !ranked.hasStaticShape()) {
      func.emitError("calibration: watched values must be static f32, f16 "
                     "or bf16 tensors");
      return failure();
    }
    if (v.getParentRegion() != &func.getBody() &&
        !func.getBody().isAncestor(v.getParentRegion())) {
      func.emitError("calibration: a watched value is not computed by the "
                     "calibrated function @")
          << func.getSymName();
      return failure();
    }
    channels.push_back(ranked.getShape().back());
  }
  FailureOr<std::vector<HostArray>> calls =
      loadCalibrationCalls(module, func, inputType, options);
  if (failed(calls))
    return failure();
  int64_t sequencesPerCall =
      inputType.getElementType().isInteger(32) ? inputType.getDimSize(0) : 1;

  auto checkFinite = [&](std::vector<std::vector<HostArray>> outputs)
      -> FailureOr<WatchedOutputs> {
    if (failed(checkFiniteWatched(outputs, values.size(), module)))
      return failure();
    return WatchedOutputs{std::move(outputs), std::move(channels),
                          sequencesPerCall};
  };

  // Activations given directly: nothing to run.
  Value argument = func.getArgument(0);
  if (llvm::all_of(values, [&](Value v) { return v == argument; })) {
    std::vector<std::vector<HostArray>> outputs;
    for (HostArray &call : *calls)
      outputs.emplace_back(values.size(), call);
    return checkFinite(std::move(outputs));
  }

  ModuleExecutor *executor = getModuleExecutor(module.getContext());
  if (!executor) {
    module.emitError("calibration: running @")
        << func.getSymName()
        << " needs a module executor, and none is registered in this "
           "context (quant-opt, quant-run and QuantPlugin register the CPU "
           "JIT; a host compiler calls qtensor::registerModuleExecutor); "
           "give statistics=FILE from --quant-calibrate, or a .npy of the "
           "products' own input activations, instead";
    return failure();
  }

  // The clone returns only the watched values: everything after the last
  // of them is dead and disappears before compilation, so calibrating the
  // first layers compiles and runs only those layers.
  IRMapping mapping;
  OwningOpRef<ModuleOp> clone(cast<ModuleOp>(module->clone(mapping)));
  auto clonedFunc = cast<func::FuncOp>(mapping.lookup(func.getOperation()));
  auto ret = cast<func::ReturnOp>(clonedFunc.getBody().back().getTerminator());
  SmallVector<Value> returned;
  OpBuilder builder(ret);
  for (Value v : values)
    returned.push_back(convertFloatElements(
        builder, ret.getLoc(), mapping.lookup(v), builder.getF32Type()));
  ret->setOperands(returned);
  clonedFunc.setFunctionType(FunctionType::get(
      module.getContext(), type.getInputs(), ValueRange(returned).getTypes()));
  if (failed(prepareForExecution(*clone, func, clonedFunc)))
    return failure();

  auto compiled = executor->compile(*clone);
  if (!compiled) {
    module.emitError("calibration: ")
        << executor->getName() << " could not compile the module: "
        << llvm::toString(compiled.takeError());
    return failure();
  }

  FailureOr<std::vector<std::vector<HostArray>>> outputs = callConcurrently(
      **compiled, clonedFunc.getSymName(), calls->size(),
      [&](size_t c) { return SmallVector<const HostArray *>{&(*calls)[c]}; },
      options.threads, module);
  if (failed(outputs))
    return failure();
  return checkFinite(std::move(*outputs));
}

/// The ops of the calibrated function that compute `values` (one per value,
/// top-level ops of its body), when a segmented run can watch them all:
/// static float tensors computed by the function, not its argument.
static std::optional<SmallVector<Operation *>>
segmentableOwners(ModuleOp module, ArrayRef<Value> values,
                  const CalibrationOptions &options) {
  func::FuncOp func = findFunction(module, options.function);
  if (!options.segmented || !func || func.isExternal() ||
      !llvm::hasSingleElement(func.getBody()) || values.empty())
    return std::nullopt;
  Block &body = func.getBody().front();
  SmallVector<Operation *> owners;
  for (Value v : values) {
    auto type = dyn_cast<RankedTensorType>(v.getType());
    Operation *def = v.getDefiningOp();
    Operation *top = def ? body.findAncestorOpInBlock(*def) : nullptr;
    if (!type || !type.hasStaticShape() || type.getRank() < 1 ||
        !isa<Float32Type, Float16Type, BFloat16Type>(type.getElementType()) ||
        !top)
      return std::nullopt;
    owners.push_back(top);
  }
  return owners;
}

/// Runs the calibrated function one segment at a time and passes every
/// call's activations of each of `values` to `consume(value, array)`, in
/// call order for each value. False, without an error, when the function
/// does not split.
static FailureOr<bool>
watchSegmented(ModuleOp module, ArrayRef<Value> values,
               ArrayRef<Operation *> owners, const CalibrationOptions &options,
               int64_t &sequencesPerCall,
               function_ref<void(size_t, HostArray &)> consume) {
  FailureOr<std::unique_ptr<SegmentedCalibration>> created =
      SegmentedCalibration::create(module, owners, options);
  if (failed(created))
    return failure();
  if (!*created)
    return false;
  SegmentedCalibration &segments = **created;
  sequencesPerCall = segments.getSequencesPerCall();
  SmallVector<unsigned> segmentOf;
  for (Operation *owner : owners)
    segmentOf.push_back(segments.getSegment(owner));
  unsigned last = *llvm::max_element(segmentOf);
  ProgressRemarks progress(module.getLoc(), "calibration", last + 1);
  for (unsigned segment = 0; segment <= last; ++segment) {
    if (segment > 0)
      progress.finished(segment, "segments");
    SmallVector<Value> here;
    SmallVector<size_t> index;
    for (auto [i, s] : llvm::enumerate(segmentOf))
      if (s == segment) {
        here.push_back(values[i]);
        index.push_back(i);
      }
    if (!here.empty() &&
        failed(segments.watch(segment, here,
                              [&](size_t, std::vector<HostArray> &results) {
                                for (auto [j, i] : llvm::enumerate(index))
                                  consume(i, results[j]);
                              })))
      return failure();
    if (segment < last && failed(segments.advance(segment)))
      return failure();
  }
  emitRemark(module.getLoc(),
             llvm::formatv("calibration: ran the model one segment at a "
                           "time: {0} of {1} segments, {2} compilations",
                           last + 1, segments.getNumSegments(),
                           segments.getNumCompilations()));
  return true;
}

FailureOr<std::vector<numerics::HessianAccumulator>>
mlir::qtensor::collectActivationStatistics(ModuleOp module,
                                           ArrayRef<Value> values,
                                           const CalibrationOptions &options) {
  if (std::optional<SmallVector<Operation *>> owners =
          segmentableOwners(module, values, options)) {
    std::vector<numerics::HessianAccumulator> stats;
    for (Value v : values)
      stats.emplace_back(cast<ShapedType>(v.getType()).getShape().back());
    int64_t sequencesPerCall = 1;
    FailureOr<bool> ran = watchSegmented(
        module, values, *owners, options, sequencesPerCall,
        [&](size_t i, HostArray &a) {
          stats[i].addBatch(a.f32.data(), a.numElements() / stats[i].columns(),
                            sequencesPerCall);
        });
    if (failed(ran))
      return failure();
    if (*ran)
      return stats;
  }
  FailureOr<WatchedOutputs> watched = runWatched(module, values, options);
  if (failed(watched))
    return failure();
  std::vector<numerics::HessianAccumulator> stats;
  for (int64_t k : watched->channels)
    stats.emplace_back(k);
  for (const std::vector<HostArray> &results : watched->calls)
    for (size_t i = 0; i < stats.size(); ++i) {
      const HostArray &a = results[i];
      stats[i].addBatch(a.f32.data(), a.numElements() / watched->channels[i],
                        watched->sequencesPerCall);
    }
  return stats;
}

FailureOr<std::vector<std::vector<float>>>
mlir::qtensor::collectActivationSamples(ModuleOp module, ArrayRef<Value> values,
                                        const CalibrationOptions &options) {
  if (std::optional<SmallVector<Operation *>> owners =
          segmentableOwners(module, values, options)) {
    std::vector<std::vector<float>> samples(values.size());
    int64_t sequencesPerCall = 1;
    FailureOr<bool> ran = watchSegmented(
        module, values, *owners, options, sequencesPerCall,
        [&](size_t i, HostArray &a) {
          samples[i].insert(samples[i].end(), a.f32.begin(), a.f32.end());
        });
    if (failed(ran))
      return failure();
    if (*ran)
      return samples;
  }
  FailureOr<WatchedOutputs> watched = runWatched(module, values, options);
  if (failed(watched))
    return failure();
  std::vector<std::vector<float>> samples(values.size());
  for (const std::vector<HostArray> &results : watched->calls)
    for (size_t i = 0; i < samples.size(); ++i)
      samples[i].insert(samples[i].end(), results[i].f32.begin(),
                        results[i].f32.end());
  return samples;
}

//===----------------------------------------------------------------------===//
// Segmented calibration
//===----------------------------------------------------------------------===//

/// Whether `op` or an op in its regions reads one of `values`.
static bool readsAny(Operation *op, const DenseSet<Value> &values) {
  WalkResult result = op->walk([&](Operation *nested) {
    for (Value operand : nested->getOperands())
      if (values.contains(operand))
        return WalkResult::interrupt();
    return WalkResult::advance();
  });
  return result.wasInterrupted();
}

/// The values of `body` that depend on its arguments (the rest are computed
/// from constants alone, and each segment recomputes what it reads of them).
static DenseSet<Value> argumentDependentValues(Block &body) {
  DenseSet<Value> dependent(body.args_begin(), body.args_end());
  for (Operation &op : body)
    if (readsAny(&op, dependent))
      dependent.insert(op.result_begin(), op.result_end());
  return dependent;
}

/// The cut values that end segments of `body`, each segment holding at
/// least one of `products`: values that are, after some op, the only
/// argument-dependent value still to be read, that are static f32 tensors
/// and not themselves a product's result.
static SmallVector<Value>
findSegmentBoundaries(Block &body,
                      const llvm::SmallPtrSetImpl<Operation *> &products) {
  DenseSet<Value> dependent = argumentDependentValues(body);
  DenseMap<Operation *, unsigned> position;
  SmallVector<Operation *> ops;
  for (Operation &op : body) {
    position[&op] = ops.size();
    ops.push_back(&op);
  }
  // Each dependent value leaves the live set after the last op reading it.
  std::vector<SmallVector<Value>> lastReadBy(ops.size());
  auto addLastRead = [&](Value value) -> bool {
    int64_t last = -1;
    for (Operation *user : value.getUsers())
      if (Operation *top = body.findAncestorOpInBlock(*user))
        last = std::max<int64_t>(last, position[top]);
    if (last >= 0)
      lastReadBy[last].push_back(value);
    return last >= 0;
  };
  llvm::SetVector<Value> live;
  for (Value arg : body.getArguments())
    if (addLastRead(arg))
      live.insert(arg);
  SmallVector<Value> boundaries;
  bool segmentHasProduct = false;
  for (Operation *op : ops) {
    if (products.contains(op))
      segmentHasProduct = true;
    for (Value result : op->getResults())
      if (dependent.contains(result) && addLastRead(result))
        live.insert(result);
    for (Value value : lastReadBy[position[op]])
      live.remove(value);
    if (live.size() != 1 || !segmentHasProduct)
      continue;
    Value cut = live.front();
    auto type = dyn_cast<RankedTensorType>(cut.getType());
    Operation *def = cut.getDefiningOp();
    if (!def || products.contains(def) || !type || !type.hasStaticShape() ||
        !type.getElementType().isF32() ||
        (!boundaries.empty() && boundaries.back() == cut))
      continue;
    boundaries.push_back(cut);
    segmentHasProduct = false;
  }
  // No segment without products at the end.
  auto lastProduct = llvm::find_if(
      llvm::reverse(ops), [&](Operation *op) { return products.contains(op); });
  while (!boundaries.empty() && lastProduct != ops.rend() &&
         position[boundaries.back().getDefiningOp()] >= position[*lastProduct])
    boundaries.pop_back();
  return boundaries;
}

/// A segment outlined into a module of its own: `@segment(input,
/// constants...) -> (watched values as f32..., output?)`.
struct SegmentedCalibration::Outlined {
  OwningOpRef<ModuleOp> module;
  std::string key;
  std::vector<HostArray> constants;
};

SegmentedCalibration::~SegmentedCalibration() = default;

FailureOr<std::unique_ptr<SegmentedCalibration>>
SegmentedCalibration::create(ModuleOp module, ArrayRef<Operation *> products,
                             const CalibrationOptions &options) {
  std::unique_ptr<SegmentedCalibration> none;
  func::FuncOp func = findFunction(module, options.function);
  if (!func || func.isExternal() || !llvm::hasSingleElement(func.getBody()) ||
      func.getNumArguments() != 1 || !getModuleExecutor(module.getContext()))
    return none;
  auto inputType = dyn_cast<RankedTensorType>(func.getArgument(0).getType());
  if (!inputType || !inputType.hasStaticShape())
    return none;
  // Calls and module state would need more than the segment's own ops.
  WalkResult foreign = func.walk([](Operation *op) {
    return isa<CallOpInterface>(op) ||
                   isa_and_nonnull<ml_program::MLProgramDialect>(
                       op->getDialect())
               ? WalkResult::interrupt()
               : WalkResult::advance();
  });
  if (foreign.wasInterrupted())
    return none;
  llvm::SmallPtrSet<Operation *, 16> productSet(products.begin(),
                                                products.end());
  SmallVector<Value> boundaries =
      findSegmentBoundaries(func.getBody().front(), productSet);
  if (boundaries.empty())
    return none;

  FailureOr<std::vector<HostArray>> calls =
      loadCalibrationCalls(module, func, inputType, options);
  if (failed(calls))
    return failure();
  std::unique_ptr<SegmentedCalibration> result(new SegmentedCalibration());
  result->module = module;
  result->func = func;
  result->threads = options.threads;
  result->boundaries = std::move(boundaries);
  result->inputs = std::move(*calls);
  result->sequencesPerCall =
      inputType.getElementType().isInteger(32) ? inputType.getDimSize(0) : 1;
  return result;
}

unsigned SegmentedCalibration::getSegment(Operation *op) {
  unsigned segment = 0;
  for (Operation &top : func.getBody().front()) {
    if (&top == op)
      return segment;
    if (segment < boundaries.size() &&
        boundaries[segment].getDefiningOp() == &top)
      ++segment;
  }
  return segment;
}

/// A host array viewing a constant that segment functions take as an
/// argument: a non-splat f32, f16, bf16, i32 or i8 tensor. Its elements stay
/// in the constant's storage (attribute or resource blob), which lives as
/// long as the context; the segment functions only read their arguments.
static std::optional<HostArray> argumentConstant(arith::ConstantOp constant) {
  auto type = dyn_cast<RankedTensorType>(constant.getType());
  if (!type || !type.hasStaticShape() || type.getRank() == 0)
    return std::nullopt;
  HostArray array;
  Type element = type.getElementType();
  if (element.isF32())
    array.kind = HostArray::Kind::F32;
  else if (element.isF16())
    array.kind = HostArray::Kind::F16;
  else if (element.isBF16())
    array.kind = HostArray::Kind::BF16;
  else if (element.isInteger(32))
    array.kind = HostArray::Kind::I32;
  else if (element.isInteger(8))
    array.kind = HostArray::Kind::I8;
  else
    return std::nullopt;
  std::optional<ArrayRef<char>> bytes = viewConstantBytes(constant);
  if (!bytes)
    return std::nullopt;
  array.shape.assign(type.getShape().begin(), type.getShape().end());
  array.external = bytes->data();
  return array;
}

FailureOr<SegmentedCalibration::Outlined>
SegmentedCalibration::outline(unsigned segment, ArrayRef<Value> watched,
                              bool withOutput) {
  MLIRContext *ctx = module.getContext();
  ModuleExecutor *executor = getModuleExecutor(ctx);
  Block &body = func.getBody().front();
  DenseSet<Value> dependent = argumentDependentValues(body);
  Value input = segment == 0 ? func.getArgument(0) : boundaries[segment - 1];
  Operation *first =
      segment == 0 ? &body.front() : input.getDefiningOp()->getNextNode();
  Operation *last = segment < boundaries.size()
                        ? boundaries[segment].getDefiningOp()
                        : body.getTerminator();

  Outlined result;
  Location loc = func.getLoc();
  result.module = ModuleOp::create(loc);
  OpBuilder builder(ctx);
  builder.setInsertionPointToEnd(result.module->getBody());
  auto outlined = func::FuncOp::create(
      builder, loc, "segment", FunctionType::get(ctx, input.getType(), {}));
  Block *entry = outlined.addEntryBlock();
  builder.setInsertionPointToEnd(entry);
  IRMapping mapping;
  mapping.map(input, entry->getArgument(0));

  // Constants become arguments unless a product reads them that the
  // executor's code would run slower on arguments.
  auto passedAsArgument = [&](arith::ConstantOp constant) {
    return llvm::all_of(constant->getUsers(), [&](Operation *user) {
      return !isa_and_nonnull<QTensorDialect>(user->getDialect()) ||
             executor->readsOperandsAsArguments(user);
    });
  };
  std::function<LogicalResult(Operation *)> materializeOperands;
  auto materialize = [&](Value value) -> LogicalResult {
    if (mapping.contains(value))
      return success();
    Operation *def = value.getDefiningOp();
    // Anything else computed from the arguments means `input` is no cut.
    if (!def || dependent.contains(value))
      return failure();
    if (auto constant = dyn_cast<arith::ConstantOp>(def))
      if (passedAsArgument(constant))
        if (std::optional<HostArray> array = argumentConstant(constant)) {
          mapping.map(value, entry->addArgument(value.getType(), loc));
          result.constants.push_back(std::move(*array));
          return success();
        }
    if (failed(materializeOperands(def)))
      return failure();
    builder.clone(*def, mapping);
    return success();
  };
  materializeOperands = [&](Operation *op) -> LogicalResult {
    llvm::SetVector<Value> above;
    getUsedValuesDefinedAbove(op->getRegions(), above);
    for (Value value : op->getOperands())
      if (failed(materialize(value)))
        return failure();
    for (Value value : above)
      if (failed(materialize(value)))
        return failure();
    return success();
  };
  auto notACut = [&]() {
    return func.emitError("calibration: segment ")
           << segment << " of @" << func.getSymName()
           << " reads values of earlier segments besides its input";
  };
  for (Operation *op = first; op && op != last->getNextNode();
       op = op->getNextNode()) {
    if (op->hasTrait<OpTrait::IsTerminator>() || !readsAny(op, dependent))
      continue;
    if (failed(materializeOperands(op)))
      return notACut();
    builder.clone(*op, mapping);
  }

  SmallVector<Value> returned;
  for (Value value : watched) {
    if (!mapping.contains(value))
      return func.emitError("calibration: a watched value is not computed "
                            "in segment ")
             << segment << " of @" << func.getSymName();
    returned.push_back(convertFloatElements(builder, loc, mapping.lookup(value),
                                            builder.getF32Type()));
  }
  if (withOutput)
    returned.push_back(mapping.lookup(boundaries[segment]));
  func::ReturnOp::create(builder, loc, returned);
  outlined.setFunctionType(FunctionType::get(ctx, entry->getArgumentTypes(),
                                             ValueRange(returned).getTypes()));
  // Arguments are shared by concurrent calls: never written in place.
  for (unsigned i = 0; i < entry->getNumArguments(); ++i)
    outlined.setArgAttr(i, "bufferization.writable", BoolAttr::get(ctx, false));
  // Names of weights differ between blocks of one shape; the code does not.
  outlined.walk([](Operation *op) { op->removeAttr(kWeightNameAttr); });
  llvm::raw_string_ostream os(result.key);
  outlined.print(os);
  return result;
}

LogicalResult SegmentedCalibration::run(
    unsigned segment, ArrayRef<Value> watched, bool withOutput,
    function_ref<void(size_t, std::vector<HostArray> &)> consume) {
  if (segment != held)
    return func.emitError("calibration: segment ")
           << segment << " was asked for while the inputs of segment " << held
           << " are held";
  FailureOr<Outlined> outlined = outline(segment, watched, withOutput);
  if (failed(outlined))
    return failure();
  std::unique_ptr<ExecutableModule> &executable = compiled[outlined->key];
  if (!executable) {
    ModuleExecutor *executor = getModuleExecutor(module.getContext());
    auto compiledSegment = executor->compile(*outlined->module);
    if (!compiledSegment) {
      compiled.erase(outlined->key);
      return module.emitError("calibration: ")
             << executor->getName() << " could not compile segment " << segment
             << ": " << llvm::toString(compiledSegment.takeError());
    }
    executable = std::move(*compiledSegment);
  }
  ++runs;
  // One call per worker at a time, consumed in call order as each round
  // ends: only `threads` calls' results are held at once.
  const std::vector<HostArray> &constants = outlined->constants;
  size_t round = std::max(1u, threads);
  for (size_t first = 0; first < inputs.size(); first += round) {
    size_t count = std::min(round, inputs.size() - first);
    FailureOr<std::vector<std::vector<HostArray>>> outputs = callConcurrently(
        *executable, "segment", count,
        [&](size_t c) {
          SmallVector<const HostArray *> args{&inputs[first + c]};
          for (const HostArray &constant : constants)
            args.push_back(&constant);
          return args;
        },
        threads, module);
    if (failed(outputs) ||
        failed(checkFiniteWatched(*outputs, watched.size(), module)))
      return failure();
    for (size_t c = 0; c < count; ++c)
      consume(first + c, (*outputs)[c]);
  }
  // The segment's weights are read again only by its next run.
  for (const HostArray &constant : constants)
    releaseResidentPages(constant.external,
                         constant.numElements() * constant.elementBytes());
  // The calls' activations were freed in the worker threads' arenas.
  releaseFreedHeapMemory();
  return success();
}

LogicalResult SegmentedCalibration::watch(
    unsigned segment, ArrayRef<Value> values,
    function_ref<void(size_t, std::vector<HostArray> &)> consume) {
  return run(segment, values, /*withOutput=*/false, consume);
}

FailureOr<std::vector<numerics::HessianAccumulator>>
SegmentedCalibration::collect(unsigned segment, ArrayRef<Value> values) {
  std::vector<numerics::HessianAccumulator> stats;
  for (Value value : values)
    stats.emplace_back(cast<ShapedType>(value.getType()).getShape().back());
  if (failed(
          watch(segment, values, [&](size_t, std::vector<HostArray> &results) {
            for (size_t i = 0; i < stats.size(); ++i)
              stats[i].addBatch(results[i].f32.data(),
                                results[i].numElements() / stats[i].columns(),
                                sequencesPerCall);
          })))
    return failure();
  return stats;
}

LogicalResult SegmentedCalibration::advance(unsigned segment) {
  if (segment >= boundaries.size())
    return func.emitError("calibration: segment ")
           << segment << " is the last and has no output";
  // A call's input is replaced once its round has run.
  if (failed(run(segment, {}, /*withOutput=*/true,
                 [&](size_t c, std::vector<HostArray> &results) {
                   inputs[c] = std::move(results.back());
                 })))
    return failure();
  ++held;
  return success();
}

//===----------------------------------------------------------------------===//
// Statistics files
//===----------------------------------------------------------------------===//

LogicalResult mlir::qtensor::writeStatistics(StringRef path,
                                             const NamedStatistics &stats,
                                             Operation *anchor) {
  if (llvm::Error err = writeCalibrationStatistics(path, stats)) {
    anchor->emitError("calibration statistics: ")
        << llvm::toString(std::move(err));
    return failure();
  }
  return success();
}

FailureOr<NamedStatistics> mlir::qtensor::readStatistics(StringRef path,
                                                         Operation *anchor) {
  auto stats = readCalibrationStatistics(path);
  if (!stats) {
    anchor->emitError("calibration statistics: ")
        << llvm::toString(stats.takeError());
    return failure();
  }
  return std::move(*stats);
}
