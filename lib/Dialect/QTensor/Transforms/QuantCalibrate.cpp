//===- QuantCalibrate.cpp - Record activation statistics ------------------===//
//
// Part of the quant-opt project, under the Apache License v2.0 with LLVM
// Exceptions.
//
//===----------------------------------------------------------------------===//

#include "quant/Dialect/QTensor/Transforms/Calibration.h"
#include "quant/Dialect/QTensor/Transforms/Passes.h"
#include "quant/Dialect/QTensor/Utils/WeightMatching.h"

namespace mlir {
namespace qtensor {
#define GEN_PASS_DEF_QUANTCALIBRATEPASS
#include "quant/Dialect/QTensor/Transforms/Passes.h.inc"
} // namespace qtensor
} // namespace mlir

using namespace mlir;
using namespace mlir::qtensor;

namespace {
struct QuantCalibratePass
    : qtensor::impl::QuantCalibratePassBase<QuantCalibratePass> {
  using Base::Base;
  void runOnOperation() override;
};
} // namespace

void QuantCalibratePass::runOnOperation() {
  ModuleOp module = getOperation();
  if (calibration.empty() || output.empty()) {
    module.emitError("quant-calibrate: give calibration=FILE and output=FILE");
    return signalPassFailure();
  }
  // Weight names and their inputs; products sharing an input share one
  // set of statistics.
  SmallVector<Value> inputs;
  std::vector<std::pair<std::string, unsigned>> names;
  CalibrationOptions options = CalibrationOptions::fromPassOptions(
      calibration, calibrationFunction, calibrationWindows, calibrationOffset,
      calibrationSeed, segmented);
  WeightFilter filter;
  filter.skipBatched = true;
  filter.requireFinite = false;
  filter.scope = findCalibrationFunction(module, options);
  if (!filter.scope)
    return signalPassFailure();
  (void)forEachConstantWeightMatmul(module, filter,
                                    [&](ConstantWeightMatmul &match) {
                                      auto it = llvm::find(inputs, match.input);
                                      unsigned index = it - inputs.begin();
                                      if (it == inputs.end())
                                        inputs.push_back(match.input);
                                      names.emplace_back(match.name, index);
                                      return success();
                                    });
  if (inputs.empty()) {
    module.emitRemark("quant-calibrate: no matrix product with a constant "
                      "weight; nothing to record");
    return;
  }
  auto stats = collectActivationStatistics(module, inputs, options);
  if (failed(stats))
    return signalPassFailure();
  NamedStatistics named;
  for (const auto &[name, index] : names)
    named.emplace(name, (*stats)[index]);
  if (failed(writeStatistics(output, named, module)))
    return signalPassFailure();
  markAllAnalysesPreserved();
}
