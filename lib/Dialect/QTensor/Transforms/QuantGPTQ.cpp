//===- QuantGPTQ.cpp - GPTQ weight quantization ---------------------------===//
//
// Part of the quant-opt project, under the Apache License v2.0 with LLVM
// Exceptions.
//
//===----------------------------------------------------------------------===//

#include "quant/Dialect/QTensor/Transforms/Calibration.h"
#include "quant/Dialect/QTensor/Transforms/Passes.h"
#include "quant/Dialect/QTensor/Transforms/Transforms.h"
#include "quant/Dialect/QTensor/Utils/WeightMatching.h"
#include "quant/Numerics/GPTQ.h"
#include "quant/Numerics/Numerics.h"

#include "mlir/Pass/PassManager.h"
#include "mlir/Pass/PassRegistry.h"
#include "llvm/ADT/ScopeExit.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/JSON.h"
#include "llvm/Support/raw_ostream.h"

#include <chrono>

namespace mlir {
namespace qtensor {
#define GEN_PASS_DEF_QUANTGPTQPASS
#include "quant/Dialect/QTensor/Transforms/Passes.h.inc"
} // namespace qtensor
} // namespace mlir

using namespace mlir;
using namespace mlir::qtensor;
namespace num = quantopt::numerics;

namespace {
/// Products sharing one activation input: quantized together, from one
/// Hessian.
struct InputGroup {
  Value input;
  std::vector<ConstantWeightMatmul> matmuls;
};

/// One run of gptqQuantize.
class GPTQRun {
public:
  GPTQRun(ModuleOp module, const GPTQQuantization &options)
      : module(module), options(options), rewriter(module.getContext()) {}

  FailureOr<std::vector<GPTQLayerReport>> run(NamedStatistics *statistics);

private:
  LogicalResult checkOptions();
  LogicalResult quantizeGroup(InputGroup &group,
                              num::HessianAccumulator &stats);

  ModuleOp module;
  const GPTQQuantization &options;
  IRRewriter rewriter;
  std::vector<InputGroup> groups;
  unsigned total = 0;
  /// For the progress remarks' time left.
  std::chrono::steady_clock::time_point started =
      std::chrono::steady_clock::now();
  std::vector<GPTQLayerReport> report;
};
} // namespace

LogicalResult GPTQRun::checkOptions() {
  const num::GPTQOptions &o = options.numerics;
  if (o.bits != 2 && o.bits != 3 && o.bits != 4 && o.bits != 8)
    return module.emitError("gptq-quantize: bits must be 2, 3, 4 or 8, got ")
           << o.bits;
  if (o.groupSize == 0 || o.groupSize < -1)
    return module.emitError(
               "gptq-quantize: group-size must be -1 or positive, got ")
           << o.groupSize;
  if (!(o.percDamp > 0.0f && o.percDamp < 1.0f))
    return module.emitError("gptq-quantize: damp must be in (0, 1), got ")
           << o.percDamp;
  if (o.blockSize < 1)
    return module.emitError("gptq-quantize: block-size must be positive");
  return success();
}

LogicalResult GPTQRun::quantizeGroup(InputGroup &group,
                                     num::HessianAccumulator &stats) {
  MLIRContext *ctx = module.getContext();
  const num::GPTQOptions &opts = options.numerics;
  unsigned bits = opts.bits;
  for (ConstantWeightMatmul &match : group.matmuls) {
    auto start = std::chrono::steady_clock::now();
    if (failed(readMatchedWeight(match, "gptq-quantize")))
      return failure();
    llvm::scope_exit release([&] { releaseMatchedWeight(match); });
    num::GPTQResult result;
    std::string error;
    if (!num::gptqQuantize(match.weight.data(), match.rows, match.cols,
                           stats.hessian(), opts, result, error))
      return match.op->emitError("gptq-quantize: weight '")
             << match.name << "': " << error;
    for (const std::string &warning : result.warnings)
      match.op->emitWarning("gptq-quantize: weight '")
          << match.name << "': " << warning;
    double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
            .count();

    QuantizedWeight q;
    ElementFormat format = num::getIntegerFormat(bits, /*isSigned=*/false);
    PackOrder packing = bits < 8 ? PackOrder::lsb_first : PackOrder::none;
    int64_t rowBytes = num::packedSize(match.cols, bits, packing);
    q.layout = LayoutAttr::get(
        ctx, format,
        ArrayRef<int64_t>{1, opts.groupSize > 0 ? opts.groupSize : 0}, packing);
    q.storage.resize(match.rows * rowBytes);
    for (int64_t r = 0; r < match.rows; ++r)
      num::packCodes(result.codes.data() + r * match.cols, match.cols, bits,
                     packing, q.storage.data() + r * rowBytes);
    q.storageShape = {match.rows, rowBytes};
    q.scales = result.scales;
    q.zeros = result.zeros;
    q.scaleShape = {match.rows, result.groups};
    q.scaleType = Float32Type::get(ctx);
    q.groupIndex = result.groupIndex;

    // Progress, one remark per layer as it is done.
    report.push_back({match.name, match.rows, match.cols, result.loss,
                      result.relativeOutputError, result.damping, seconds,
                      stats.tokens()});
    // Progress: the time so far (calibration included) extrapolated over
    // the products left.
    double elapsed = std::chrono::duration<double>(
                         std::chrono::steady_clock::now() - started)
                         .count();
    double left = elapsed * double(total - report.size()) / report.size();
    emitRemark(
        match.op->getLoc(),
        llvm::formatv(
            "gptq-quantize: [{0}/{1}] {2} {3}x{4}: loss {5:e3}, relative "
            "output "
            "error {6:e3}, damping {7:f3}, {8:f2} s; {9:f0} s so far, about "
            "{10:f0} s left",
            report.size(), total, match.name, match.rows, match.cols,
            result.loss, result.relativeOutputError, result.damping, seconds,
            elapsed, left));
    replaceWithDequantMatmul(rewriter, match, q);
  }
  return success();
}

FailureOr<std::vector<GPTQLayerReport>>
GPTQRun::run(NamedStatistics *statistics) {
  if (failed(checkOptions()))
    return failure();
  // The products to quantize, grouped by input, in program order.
  WeightFilter filter;
  filter.passName = "gptq-quantize";
  filter.explainSkips = options.selection.explainSkips;
  filter.skip = options.selection.skip;
  filter.select = options.selection.select;
  filter.skipBatched = true;
  // Weights are checked here and read again at their turn in quantizeGroup:
  // one is held in f32 at a time.
  filter.readWeights = false;
  // Running the model calibrates only the products of the function it runs.
  if (!statistics &&
      !(filter.scope = findCalibrationFunction(module, options.calibration)))
    return failure();
  auto collect = [&](ConstantWeightMatmul &match) -> LogicalResult {
    if (options.numerics.groupSize > match.cols)
      return match.op->emitError("gptq-quantize: group-size ")
             << options.numerics.groupSize << " exceeds the reduction size "
             << match.cols << " of weight '" << match.name << "'";
    auto it = llvm::find_if(
        groups, [&](const InputGroup &g) { return g.input == match.input; });
    if (it == groups.end()) {
      groups.push_back({match.input, {}});
      it = std::prev(groups.end());
    }
    it->matmuls.push_back(std::move(match));
    ++total;
    return success();
  };
  if (failed(forEachConstantWeightMatmul(module, filter, collect)))
    return failure();

  if (statistics) {
    for (InputGroup &g : groups) {
      const ConstantWeightMatmul &first = g.matmuls.front();
      auto it = statistics->find(first.name);
      if (it == statistics->end() || it->second.columns() != first.cols)
        return first.op->emitError("gptq-quantize: no statistics of ")
               << first.cols << " channels for weight '" << first.name
               << "' were given";
      if (failed(quantizeGroup(g, it->second)))
        return failure();
    }
  } else if (!options.trueSequential) {
    SmallVector<Value> inputs;
    for (const InputGroup &g : groups)
      inputs.push_back(g.input);
    auto stats =
        collectActivationStatistics(module, inputs, options.calibration);
    if (failed(stats))
      return failure();
    for (size_t i = 0; i < groups.size(); ++i)
      if (failed(quantizeGroup(groups[i], (*stats)[i])))
        return failure();
  } else {
    SmallVector<Operation *> products;
    for (const InputGroup &g : groups)
      for (const ConstantWeightMatmul &match : g.matmuls)
        products.push_back(match.op);
    FailureOr<std::unique_ptr<SegmentedCalibration>> segmented;
    bool segmentedRun = options.calibration.segmented;
    if (segmentedRun && failed(segmented = SegmentedCalibration::create(
                                   module, products, options.calibration)))
      return failure();
    SegmentedCalibration *stream = segmentedRun ? segmented->get() : nullptr;
    unsigned segment = 0;
    for (InputGroup &g : groups) {
      const ConstantWeightMatmul &first = g.matmuls.front();
      // The earlier segments' groups are quantized: their outputs are the
      // next segment's inputs.
      for (unsigned target = stream ? stream->getSegment(first.op) : 0;
           segment < target; ++segment)
        if (failed(stream->advance(segment)))
          return failure();
      // The earlier groups are already quantized in `module`, and their
      // replacements may have replaced the recorded input.
      g.input = first.op->getOperand(1 - first.weightOperand);
      auto stats = stream ? stream->collect(segment, {g.input})
                          : collectActivationStatistics(module, {g.input},
                                                        options.calibration);
      if (failed(stats) || failed(quantizeGroup(g, stats->front())))
        return failure();
    }
    if (stream)
      emitRemark(
          module.getLoc(),
          llvm::formatv(
              "gptq-quantize: calibrated one segment at a time: {0} segments, "
              "{1} compilations, {2} segment runs",
              stream->getNumSegments(), stream->getNumCompilations(),
              stream->getNumRuns()));
  }
  return std::move(report);
}

FailureOr<std::vector<GPTQLayerReport>>
mlir::qtensor::gptqQuantize(ModuleOp module, const GPTQQuantization &options,
                            NamedStatistics *statistics) {
  return GPTQRun(module, options).run(statistics);
}

//===----------------------------------------------------------------------===//
// The pass
//===----------------------------------------------------------------------===//

namespace {
struct QuantGPTQPass : qtensor::impl::QuantGPTQPassBase<QuantGPTQPass> {
  using Base::Base;
  void runOnOperation() override;

private:
  LogicalResult quantize();
};
} // namespace

void QuantGPTQPass::runOnOperation() {
  if (failed(runWeightPass(
          getOperation(), getArgument(), [&] { return quantize(); },
          numQuantized, numLeftInFloat)))
    signalPassFailure();
}

LogicalResult QuantGPTQPass::quantize() {
  ModuleOp module = getOperation();
  if (calibration.empty() == statistics.empty())
    return module.emitError("gptq-quantize: give calibration data with "
                            "calibration=FILE (token ids or a .npy of "
                            "activations), or saved statistics with "
                            "statistics=FILE");
  GPTQQuantization options;
  options.numerics.bits = bits;
  options.numerics.groupSize = groupSize;
  options.numerics.symmetric = symmetric;
  options.numerics.actOrder = actOrder;
  options.numerics.staticGroups = staticGroups;
  options.numerics.percDamp = float(damp);
  options.numerics.blockSize = blockSize;
  options.numerics.mse = mse;
  options.trueSequential = trueSequential;
  options.calibration = CalibrationOptions::fromPassOptions(
      calibration, calibrationFunction, calibrationWindows, calibrationOffset,
      calibrationSeed, segmented);
  options.selection.skip.assign(skip.begin(), skip.end());
  options.selection.explainSkips = reportSkipped;

  FailureOr<NamedStatistics> named;
  if (!statistics.empty() && failed(named = readStatistics(statistics, module)))
    return failure();
  FailureOr<std::vector<GPTQLayerReport>> layers =
      gptqQuantize(module, options, statistics.empty() ? nullptr : &*named);
  if (failed(layers))
    return failure();
  if (layers->empty() || std::string(report).empty())
    return success();
  llvm::json::Array json;
  for (const GPTQLayerReport &layer : *layers)
    json.push_back(
        llvm::json::Object{{"name", layer.name},
                           {"rows", layer.rows},
                           {"cols", layer.cols},
                           {"loss", layer.loss},
                           {"relative_output_error", layer.relativeOutputError},
                           {"damping", layer.damping},
                           {"calibration_tokens", layer.calibrationTokens},
                           {"seconds", layer.seconds}});
  std::error_code ec;
  llvm::raw_fd_ostream os(std::string(report), ec);
  if (ec)
    return module.emitError("gptq-quantize: cannot write the report to ")
           << std::string(report) << ": " << ec.message();
  os << llvm::formatv("{0:2}", llvm::json::Value(std::move(json))) << "\n";
  return success();
}

void mlir::qtensor::registerQuantGPTQAlias() {
  registerPassPipeline(
      "quant-gptq",
      "The GPTQ pass under the quant-* naming: the same pass and options as "
      "--gptq-quantize",
      [](OpPassManager &pm, StringRef options,
         function_ref<LogicalResult(const Twine &)> errorHandler) {
        std::unique_ptr<Pass> pass = createQuantGPTQPass();
        if (failed(pass->initializeOptions(options, errorHandler)))
          return failure();
        pm.addPass(std::move(pass));
        return success();
      },
      [](function_ref<void(const mlir::detail::PassOptions &)>) {});
}
