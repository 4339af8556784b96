//===- Transforms.h - The quantization passes as a C++ API ------*- C++ -*-===//
//
// Part of the quant-opt project, under the Apache License v2.0 with LLVM
// Exceptions.
//
//===----------------------------------------------------------------------===//
//
// For compilers that embed the project: the weight quantizations as plain
// functions and rewrite patterns, with a callback choosing which products to
// quantize, without the pass manager or command-line options. The passes
// (Passes.td) are thin wrappers around these functions.
//
// Every function emits its errors as diagnostics on the IR and reports
// failure; the IR is valid afterwards either way (products are replaced one
// at a time). Calibration by running the module needs a ModuleExecutor
// registered in the context (Executor.h); statistics computed elsewhere can
// be passed in instead.
//
//===----------------------------------------------------------------------===//

#ifndef QUANT_DIALECT_QTENSOR_TRANSFORMS_TRANSFORMS_H
#define QUANT_DIALECT_QTENSOR_TRANSFORMS_TRANSFORMS_H

#include "quant/Dialect/QTensor/Transforms/Calibration.h"
#include "quant/Dialect/QTensor/Utils/WeightMatching.h"
#include "quant/Numerics/GPTQ.h"
#include "quant/Numerics/Numerics.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/PatternMatch.h"

#include <functional>
#include <string>
#include <vector>

namespace mlir {
namespace qtensor {

/// Which weight-carrying products a quantization may touch.
struct WeightSelection {
  /// Weights whose name contains one of these strings stay in float.
  std::vector<std::string> skip;
  /// The host's choice, asked for every product that is not skipped; a
  /// product it declines stays in float. Null: every product.
  WeightSelector select;
  /// Emit a remark for every weight-carrying product left in float, with
  /// the reason.
  bool explainSkips = false;
};

//===----------------------------------------------------------------------===//
// Round to nearest
//===----------------------------------------------------------------------===//

struct RTNQuantization {
  /// Code format, group size along K (-1 per output channel, 0 per tensor),
  /// symmetric grid, scale element type (quant/Numerics/Numerics.h).
  quantopt::numerics::RTNOptions numerics;
  /// Pack sub-byte codes LSB-first (otherwise one code per byte).
  bool pack = true;
  WeightSelection selection;
};

/// Replaces every selected constant-weight product under `root` with
/// qtensor.dequant_matmul over round-to-nearest codes (the --quant-rtn
/// pass). Fails on a weight with NaN or Inf or a group larger than its row.
LogicalResult quantizeWeightsRTN(Operation *root,
                                 const RTNQuantization &options);

/// The same rewrite as a pattern on linalg products, for a host's own
/// rewrite driver; products it cannot or may not quantize do not match.
void populateQuantizeWeightsRTNPatterns(RewritePatternSet &patterns,
                                        const RTNQuantization &options);

//===----------------------------------------------------------------------===//
// GPTQ
//===----------------------------------------------------------------------===//

struct GPTQQuantization {
  /// Bits (2, 3, 4, 8), group size, symmetric grid, act-order, static
  /// groups, damping, lazy-batch size, MSE clipping (quant/Numerics/GPTQ.h).
  quantopt::numerics::GPTQOptions numerics;
  /// Collect each group's statistics after quantizing the earlier groups
  /// (running the module again); ignored with given statistics.
  bool trueSequential = true;
  /// What to run when no statistics are given (its `segmented`: the model
  /// one segment at a time where the function splits).
  CalibrationOptions calibration;
  WeightSelection selection;
};

/// What GPTQ did to one weight.
struct GPTQLayerReport {
  std::string name;
  int64_t rows = 0, cols = 0;
  double loss = 0, relativeOutputError = 0, damping = 0, seconds = 0;
  int64_t calibrationTokens = 0;
};

/// Replaces every selected constant-weight product of `module` with
/// qtensor.dequant_matmul over GPTQ codes (the --gptq-quantize pass). With
/// `statistics` (keyed by weight name, as --quant-calibrate writes them) the
/// module is not run; otherwise the products of the calibrated function are
/// calibrated by running it with the context's executor (the given
/// statistics' Hessians are the solver's workspace meanwhile and hold the
/// same values afterwards). Emits one progress remark per weight and returns
/// the per-weight report.
FailureOr<std::vector<GPTQLayerReport>>
gptqQuantize(ModuleOp module, const GPTQQuantization &options,
             NamedStatistics *statistics = nullptr);

} // namespace qtensor
} // namespace mlir

#endif // QUANT_DIALECT_QTENSOR_TRANSFORMS_TRANSFORMS_H
