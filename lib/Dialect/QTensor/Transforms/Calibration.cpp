//===- Calibration.cpp - Activation statistics by execution ---------------===//
//
// Part of the quant-opt project, under the Apache License v2.0 with LLVM
// Exceptions.
//
//===----------------------------------------------------------------------===//

#include "quant/Dialect/QTensor/Transforms/Calibration.h"
#include "quant/Dialect/QTensor/Transforms/Executor.h"
#include "quant/Formats/Npy.h"

#include "quant/Dialect/QTensor/Utils/ConstantGlobals.h"
#include "quant/Dialect/QTensor/Utils/WeightMatching.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/MLProgram/IR/MLProgram.h"
#include "mlir/IR/IRMapping.h"
#include "mlir/IR/SymbolTable.h"
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
    for (const std::vector<HostArray> &results : outputs)
      for (size_t i = 0; i < results.size(); ++i)
        for (float v : results[i].f32)
          if (!std::isfinite(v)) {
            module.emitError("calibration: a watched activation (")
                << channels[i] << " channels) has NaN or Inf";
            return failure();
          }
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

  // Calls run on `threads` workers; their results are accumulated in call
  // order so the statistics do not depend on scheduling.
  std::vector<std::vector<HostArray>> outputs(calls->size());
  std::atomic<size_t> next{0};
  std::mutex errorMutex;
  std::string firstError;
  auto worker = [&]() {
    for (size_t c = next.fetch_add(1); c < calls->size();
         c = next.fetch_add(1)) {
      auto results = (*compiled)->call(clonedFunc.getSymName(), {&(*calls)[c]});
      if (!results) {
        std::lock_guard<std::mutex> lock(errorMutex);
        firstError = llvm::toString(results.takeError());
        return;
      }
      outputs[c] = std::move(*results);
    }
  };
  std::vector<std::thread> pool;
  for (unsigned t = 1; t < std::max(1u, options.threads); ++t)
    pool.emplace_back(worker);
  worker();
  for (std::thread &t : pool)
    t.join();
  if (!firstError.empty()) {
    module.emitError("calibration: ") << firstError;
    return failure();
  }
  return checkFinite(std::move(outputs));
}

FailureOr<std::vector<numerics::HessianAccumulator>>
mlir::qtensor::collectActivationStatistics(ModuleOp module,
                                           ArrayRef<Value> values,
                                           const CalibrationOptions &options) {
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
