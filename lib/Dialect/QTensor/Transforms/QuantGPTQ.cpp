//===- QuantGPTQ.cpp - GPTQ weight quantization ---------------------------===//
//
// Part of the quant-opt project, under the Apache License v2.0 with LLVM
// Exceptions.
//
//===----------------------------------------------------------------------===//

#include "quant/Dialect/QTensor/Transforms/Calibration.h"
#include "quant/Dialect/QTensor/Transforms/Passes.h"
#include "quant/Dialect/QTensor/Utils/WeightMatching.h"
#include "quant/Numerics/GPTQ.h"
#include "quant/Numerics/Numerics.h"

#include "mlir/Pass/PassManager.h"
#include "mlir/Pass/PassRegistry.h"
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

struct QuantGPTQPass : qtensor::impl::QuantGPTQPassBase<QuantGPTQPass> {
  using Base::Base;
  void runOnOperation() override;

private:
  /// The pass proper; runOnOperation reports what it quantized.
  LogicalResult quantize();
  LogicalResult quantizeGroup(InputGroup &group,
                              const num::HessianAccumulator &stats,
                              llvm::json::Array &report, unsigned &done,
                              unsigned total);
};
} // namespace

LogicalResult QuantGPTQPass::quantizeGroup(InputGroup &group,
                                           const num::HessianAccumulator &stats,
                                           llvm::json::Array &report,
                                           unsigned &done, unsigned total) {
  MLIRContext *ctx = &getContext();
  num::GPTQOptions opts;
  opts.bits = bits;
  opts.groupSize = groupSize;
  opts.symmetric = symmetric;
  opts.actOrder = actOrder;
  opts.staticGroups = staticGroups;
  opts.percDamp = float(damp);
  opts.blockSize = blockSize;
  opts.mse = mse;
  OpBuilder builder(ctx);
  for (ConstantWeightMatmul &match : group.matmuls) {
    auto start = std::chrono::steady_clock::now();
    num::GPTQResult result;
    std::string error;
    if (!num::gptqQuantize(match.weight.data(), match.rows, match.cols,
                           stats.hessian(), opts, result, error)) {
      match.op->emitError("gptq-quantize: weight '")
          << match.name << "': " << error;
      return failure();
    }
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
        ctx, format, ArrayRef<int64_t>{1, groupSize > 0 ? groupSize : 0},
        packing);
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
    ++done;
    match.op->emitRemark(llvm::formatv(
        "gptq-quantize: [{0}/{1}] {2} {3}x{4}: loss {5:e3}, relative output "
        "error {6:e3}, damping {7:f3}, {8:f2} s",
        done, total, match.name, match.rows, match.cols, result.loss,
        result.relativeOutputError, result.damping, seconds));
    replaceWithDequantMatmul(builder, match, q);
    report.push_back(llvm::json::Object{
        {"name", match.name},
        {"rows", match.rows},
        {"cols", match.cols},
        {"loss", result.loss},
        {"relative_output_error", result.relativeOutputError},
        {"damping", result.damping},
        {"calibration_tokens", stats.tokens()},
        {"seconds", seconds}});
  }
  return success();
}

void QuantGPTQPass::runOnOperation() {
  if (failed(runWeightPass(
          getOperation(), getArgument(), [&] { return quantize(); },
          numQuantized, numLeftInFloat)))
    signalPassFailure();
}

LogicalResult QuantGPTQPass::quantize() {
  ModuleOp module = getOperation();
  if (bits != 2 && bits != 3 && bits != 4 && bits != 8) {
    module.emitError("gptq-quantize: bits must be 2, 3, 4 or 8, got ")
        << static_cast<int64_t>(bits);
    return failure();
  }
  if (groupSize == 0 || groupSize < -1) {
    module.emitError("gptq-quantize: group-size must be -1 or positive, got ")
        << static_cast<int64_t>(groupSize);
    return failure();
  }
  if (!(damp > 0.0 && damp < 1.0)) {
    module.emitError("gptq-quantize: damp must be in (0, 1), got ")
        << static_cast<double>(damp);
    return failure();
  }
  if (blockSize < 1) {
    module.emitError("gptq-quantize: block-size must be positive");
    return failure();
  }
  if (calibration.empty() == statistics.empty()) {
    module.emitError("gptq-quantize: give calibration data with "
                     "calibration=FILE (token ids or a .npy of activations), "
                     "or saved statistics with statistics=FILE");
    return failure();
  }

  // The products to quantize, grouped by input, in program order.
  std::vector<InputGroup> groups;
  unsigned total = 0;
  WeightFilter filter;
  filter.passName = "gptq-quantize";
  filter.explainSkips = reportSkipped;
  filter.skip = skip;
  filter.skipBatched = true;
  CalibrationOptions calib = CalibrationOptions::fromPassOptions(
      calibration, calibrationFunction, calibrationWindows, calibrationOffset,
      calibrationSeed);
  // Running the model calibrates only the products of the function it runs.
  if (statistics.empty() &&
      !(filter.scope = findCalibrationFunction(module, calib)))
    return failure();
  auto collect = [&](ConstantWeightMatmul &match) -> LogicalResult {
    if (groupSize > match.cols)
      return match.op->emitError("gptq-quantize: group-size ")
             << static_cast<int64_t>(groupSize)
             << " exceeds the reduction size " << match.cols << " of weight '"
             << match.name << "'";
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
  if (groups.empty())
    return success();

  llvm::json::Array report;
  unsigned done = 0;
  if (!statistics.empty()) {
    auto named = readStatistics(statistics, module);
    if (failed(named))
      return failure();
    for (InputGroup &g : groups) {
      const ConstantWeightMatmul &first = g.matmuls.front();
      auto it = named->find(first.name);
      if (it == named->end() || it->second.columns() != first.cols) {
        first.op->emitError("gptq-quantize: ")
            << statistics << " has no statistics of " << first.cols
            << " channels for weight '" << first.name << "'";
        return failure();
      }
      if (failed(quantizeGroup(g, it->second, report, done, total)))
        return failure();
    }
  } else if (!trueSequential) {
    SmallVector<Value> inputs;
    for (const InputGroup &g : groups)
      inputs.push_back(g.input);
    auto stats = collectActivationStatistics(module, inputs, calib);
    if (failed(stats))
      return failure();
    for (size_t i = 0; i < groups.size(); ++i)
      if (failed(quantizeGroup(groups[i], (*stats)[i], report, done, total)))
        return failure();
  } else {
    for (InputGroup &g : groups) {
      // The earlier groups are already quantized in `module`.
      // Earlier groups' replacements may have replaced the recorded input.
      const ConstantWeightMatmul &first = g.matmuls.front();
      g.input = first.op->getOperand(1 - first.weightOperand);
      auto stats = collectActivationStatistics(module, {g.input}, calib);
      if (failed(stats))
        return failure();
      if (failed(quantizeGroup(g, stats->front(), report, done, total)))
        return failure();
    }
  }

  if (!report.empty() && !std::string(this->report).empty()) {
    std::error_code ec;
    llvm::raw_fd_ostream os(std::string(this->report), ec);
    if (ec) {
      module.emitError("gptq-quantize: cannot write the report to ")
          << std::string(this->report) << ": " << ec.message();
      return failure();
    }
    os << llvm::formatv("{0:2}", llvm::json::Value(std::move(report))) << "\n";
  }
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
