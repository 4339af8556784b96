//===- QuantSmoothQuant.cpp - SmoothQuant and W8A8 ------------------------===//
//
// Part of the quant-opt project, under the Apache License v2.0 with LLVM
// Exceptions.
//
//===----------------------------------------------------------------------===//

#include "quant/Dialect/QTensor/Transforms/Calibration.h"
#include "quant/Dialect/QTensor/Transforms/Passes.h"
#include "quant/Dialect/QTensor/Utils/ScaleFolding.h"
#include "quant/Numerics/Numerics.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"

#include <cmath>

namespace mlir {
namespace qtensor {
#define GEN_PASS_DEF_QUANTSMOOTHQUANTPASS
#include "quant/Dialect/QTensor/Transforms/Passes.h.inc"
} // namespace qtensor
} // namespace mlir

using namespace mlir;
using namespace mlir::qtensor;
namespace num = quantopt::numerics;

namespace {

struct QuantSmoothQuantPass
    : qtensor::impl::QuantSmoothQuantPassBase<QuantSmoothQuantPass> {
  using Base::Base;
  void runOnOperation() override;

private:
  /// The pass proper; runOnOperation reports what it quantized.
  LogicalResult quantize();
  /// Per-channel max |x| of each group's input.
  FailureOr<std::vector<std::vector<double>>>
  activationMaxima(ArrayRef<InputGroup> groups);
  /// Replaces the group's products with W8A8 products.
  void quantizeGroup(InputGroup &group, ActivationQuantization mode,
                     float staticAbsMax);
};
} // namespace

FailureOr<std::vector<std::vector<double>>>
QuantSmoothQuantPass::activationMaxima(ArrayRef<InputGroup> groups) {
  ModuleOp module = getOperation();
  std::vector<std::vector<double>> maxima;
  if (!statistics.empty()) {
    auto named = readStatistics(statistics, module);
    if (failed(named))
      return failure();
    for (const InputGroup &group : groups) {
      const ConstantWeightMatmul &first = group.linears.front();
      auto it = named->find(first.name);
      if (it == named->end() || it->second.columns() != first.cols) {
        first.op->emitError("quant-smoothquant: ")
            << statistics << " has no statistics of " << first.cols
            << " channels for weight '" << first.name << "'";
        return failure();
      }
      maxima.push_back(it->second.maxAbs());
    }
    return maxima;
  }
  if (calibration.empty()) {
    module.emitError("quant-smoothquant: give calibration data with "
                     "calibration=FILE or saved statistics with "
                     "statistics=FILE");
    return failure();
  }
  CalibrationOptions calib = CalibrationOptions::fromPassOptions(
      calibration, calibrationFunction, calibrationWindows, calibrationOffset,
      calibrationSeed, segmented);
  SmallVector<Value> inputs;
  for (const InputGroup &group : groups)
    inputs.push_back(group.input);
  auto stats = collectActivationStatistics(module, inputs, calib);
  if (failed(stats))
    return failure();
  for (const num::HessianAccumulator &s : *stats)
    maxima.push_back(s.maxAbs());
  return maxima;
}

void QuantSmoothQuantPass::quantizeGroup(InputGroup &group,
                                         ActivationQuantization mode,
                                         float staticAbsMax) {
  SmallVector<ConstantWeightMatmul *> targets;
  for (ConstantWeightMatmul &linear : group.linears) {
    if (quantizeHead || !isOutputHead(linear.op))
      targets.push_back(&linear);
    else if (reportSkipped)
      linear.op->emitRemark("quant-smoothquant: weight '")
          << linear.name
          << "' is left in float: it is the output head (quantize-head=true "
             "quantizes it)";
  }
  if (targets.empty())
    return;
  MLIRContext *ctx = &getContext();
  OpBuilder builder(targets.front()->op);
  Location loc = targets.front()->op->getLoc();
  Value input = group.input;
  auto inputType = cast<RankedTensorType>(input.getType());
  auto codesType =
      RankedTensorType::get(inputType.getShape(), IntegerType::get(ctx, 8));
  SmallVector<int64_t> scaleShape(inputType.getShape());
  if (mode == ActivationQuantization::PerToken)
    scaleShape.back() = 1;
  else
    std::fill(scaleShape.begin(), scaleShape.end(), 1);
  auto scaleType = RankedTensorType::get(scaleShape, builder.getF32Type());

  // One activation quantization for the whole group.
  Value codes, scales;
  if (mode == ActivationQuantization::Static) {
    float scale = std::max(staticAbsMax, 1e-5f) / 127.0f;
    scales = createF32Constant(builder, loc, scaleShape, {scale}, false, "");
    SmallVector<int64_t> block(inputType.getRank(), 0);
    auto layout =
        LayoutAttr::get(ctx, ElementFormat::si8, block, PackOrder::none);
    codes = QuantizeOp::create(builder, loc, codesType, input, scales,
                               /*zeroPoints=*/Value(), layout);
  } else {
    auto dq = DynamicQuantizeOp::create(builder, loc, codesType, scaleType,
                                        input, builder.getI32IntegerAttr(8));
    codes = dq.getCodes();
    scales = dq.getScales();
  }

  for (ConstantWeightMatmul *linear : targets) {
    std::vector<int8_t> weightCodes;
    std::vector<float> weightScales;
    int64_t blockSize = weightGroupSize > 0 ? int64_t(weightGroupSize)
                        : weights == WeightScaleGranularity::PerTensor ? -1
                                                                       : 0;
    if (blockSize > 0 && linear->cols % blockSize != 0) {
      linear->op->emitRemark("quant-smoothquant: weight-group-size ")
          << blockSize << " does not divide K = " << linear->cols << " of '"
          << linear->name << "'; using per-channel scales";
      blockSize = 0;
    }
    num::quantizeSymmetricInt8(linear->weight.data(), linear->rows,
                               linear->cols, blockSize, weightCodes,
                               weightScales);
    int64_t scaleRows = blockSize < 0 ? 1 : linear->rows;
    int64_t scaleGroups = blockSize > 0 ? linear->cols / blockSize : 1;
    builder.setInsertionPoint(linear->op);
    Location named =
        NameLoc::get(builder.getStringAttr(linear->name), linear->op->getLoc());
    auto i8Type = RankedTensorType::get({linear->rows, linear->cols},
                                        builder.getI8Type());
    Value weightConst = createRawConstant(
        builder, named, i8Type,
        ArrayRef<char>(reinterpret_cast<const char *>(weightCodes.data()),
                       weightCodes.size()),
        linear->fromResource, linear->name + ".int8");
    Value scaleConst = createF32Constant(
        builder, named, {scaleRows, scaleGroups}, weightScales,
        linear->fromResource, linear->name + ".scales");
    auto product = QuantizedMatmulOp::create(
        builder, named, linear->init.getType(), codes, scales, weightConst,
        scaleConst, linear->init);
    product->setAttr(kWeightNameAttr, builder.getStringAttr(linear->name));
    Value floatWeight = linear->op->getOperand(linear->weightOperand);
    linear->op->replaceAllUsesWith(product->getResults());
    linear->op->erase();
    eraseIfDeadConstant(floatWeight);
  }
}

void QuantSmoothQuantPass::runOnOperation() {
  if (failed(runWeightPass(
          getOperation(), getArgument(), [&] { return quantize(); },
          numQuantized, numLeftInFloat)))
    signalPassFailure();
}

LogicalResult QuantSmoothQuantPass::quantize() {
  ModuleOp module = getOperation();
  ActivationQuantization mode = activations;
  if (weightGroupSize < 0) {
    module.emitError("quant-smoothquant: weight-group-size must be >= 0, got ")
        << static_cast<int64_t>(weightGroupSize);
    return failure();
  }
  if (!(alpha >= 0.0 && alpha <= 1.0)) {
    module.emitError("quant-smoothquant: alpha must be in [0, 1], got ")
        << static_cast<double>(alpha);
    return failure();
  }

  bool needStats = smooth || mode == ActivationQuantization::Static;
  WeightFilter filter;
  filter.passName = "quant-smoothquant";
  filter.explainSkips = reportSkipped;
  filter.skip = skip;
  if (needStats && statistics.empty()) {
    filter.scope = findCalibrationFunction(
        module, CalibrationOptions::fromPassOptions(
                    calibration, calibrationFunction, calibrationWindows,
                    calibrationOffset, calibrationSeed, segmented));
    if (!filter.scope)
      return failure();
  }
  SmallVector<InputGroup> groups = collectInputGroups(module, filter);
  if (groups.empty())
    return success();
  for (InputGroup &group : groups)
    for (const ConstantWeightMatmul &linear : group.linears)
      if (failed(checkFiniteWeight(linear)))
        return failure();
  std::vector<std::vector<double>> maxima;
  if (needStats) {
    auto collected = activationMaxima(groups);
    if (failed(collected))
      return failure();
    maxima = std::move(*collected);
  }

  // Smooth every group first: a later fold may rescale the rows of a
  // weight that an earlier group reads.
  float exponent = float(double(alpha));
  std::vector<std::vector<float>> smoothedMax(groups.size());
  for (size_t g = 0; g < groups.size(); ++g) {
    InputGroup &group = groups[g];
    if (needStats)
      smoothedMax[g].assign(maxima[g].begin(), maxima[g].end());
    bool isHead = llvm::any_of(group.linears, [](const auto &linear) {
      return isOutputHead(linear.op);
    });
    if (!smooth || (isHead && !quantizeHead))
      continue;
    if (failed(refreshInputGroup(group))) {
      group.linears.front().op->emitError(
          "quant-smoothquant: a product no longer matches after smoothing");
      return failure();
    }
    std::string reason;
    FailureOr<ChannelScaleFold> fold = ChannelScaleFold::find(group, reason);
    if (failed(fold)) {
      group.linears.front().op->emitRemark("quant-smoothquant: not smoothing "
                                           "the input of ")
          << group.names() << ": " << reason;
      continue;
    }
    if (!smoothAll &&
        fold->getAbsorber() != ChannelScaleFold::Absorber::ElementwiseConstant)
      continue;
    int64_t k = group.channels();
    std::vector<float> s(k);
    for (int64_t j = 0; j < k; ++j) {
      float w = 0.0f;
      for (const ConstantWeightMatmul &linear : group.linears)
        for (int64_t r = 0; r < linear.rows; ++r)
          w = std::max(w, std::fabs(linear.weight[r * k + j]));
      w = std::max(w, 1e-5f);
      s[j] = std::max(std::pow(smoothedMax[g][j], exponent) /
                          std::pow(w, 1.0f - exponent),
                      1e-5f);
      smoothedMax[g][j] /= s[j];
    }
    fold->apply(group, s);
  }
  if (mode == ActivationQuantization::None)
    return success();

  for (size_t g = 0; g < groups.size(); ++g) {
    InputGroup &group = groups[g];
    if (failed(refreshInputGroup(group))) {
      group.linears.front().op->emitError(
          "quant-smoothquant: a product no longer matches after smoothing");
      return failure();
    }
    float staticMax = 0.0f;
    for (float m : smoothedMax[g])
      staticMax = std::max(staticMax, m);
    quantizeGroup(group, mode, staticMax);
  }
  return success();
}
