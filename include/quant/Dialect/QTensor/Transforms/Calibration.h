//===- Calibration.h - Activation statistics by execution -------*- C++ -*-===//
//
// Part of the quant-opt project, under the Apache License v2.0 with LLVM
// Exceptions.
//
//===----------------------------------------------------------------------===//
//
// Calibration runs a module on calibration data through the context's
// ModuleExecutor (Executor.h) and records statistics of chosen activation
// values (the inputs of the matmuls to quantize). The module is cloned, the
// clone's function returns those values instead of its results, and the
// returned arrays are accumulated in f64 (quant/Numerics/GPTQ.h
// HessianAccumulator). When every watched value is the function's argument
// and the data is a .npy of activations, the data is the activations
// themselves and nothing runs, so no executor is needed.
//
// Calibration data: for a function taking `tensor<BxSxi32>` token ids,
// windows of S ids from a token file (raw int32 or .npy), taken in order
// from an offset or at seeded random positions; for a function taking one
// f32 tensor, a .npy f32 array of exactly that shape (or N stacked copies
// along a new leading axis), one call per copy.
//
//===----------------------------------------------------------------------===//

#ifndef QUANT_DIALECT_QTENSOR_TRANSFORMS_CALIBRATION_H
#define QUANT_DIALECT_QTENSOR_TRANSFORMS_CALIBRATION_H

#include "quant/Formats/CalibrationStatistics.h"
#include "quant/Numerics/GPTQ.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/Support/LLVM.h"

#include <string>
#include <vector>

namespace mlir {
namespace qtensor {

struct CalibrationOptions {
  /// Token ids (.i32 / .npy int) or activations (.npy f32).
  std::string path;
  /// The function to run; empty: the module's only public function, or
  /// @forward.
  std::string function;
  /// Token windows to use, and where they start (-1: seeded random starts).
  int64_t windows = 16;
  int64_t offset = 0;
  int64_t seed = -1;
  unsigned threads = 2;

  /// From the shared pass options (calibrationDataOptions in Passes.td).
  static CalibrationOptions fromPassOptions(StringRef path, StringRef function,
                                            int64_t windows, int64_t offset,
                                            int64_t seed) {
    CalibrationOptions options;
    options.path = path.str();
    options.function = function.str();
    options.windows = windows;
    options.offset = offset;
    options.seed = seed;
    return options;
  }
};

/// The function calibration runs: `options.function`, else the module's
/// only public function, else @forward. Emits an error on `module` and
/// returns null when there is none.
func::FuncOp findCalibrationFunction(ModuleOp module,
                                     const CalibrationOptions &options);

/// Runs the module and accumulates statistics of each value in `values`
/// (all in the module, all ranked f32 tensors whose last dimension is the
/// channel dimension). Errors are emitted on `module` and give failure.
FailureOr<std::vector<quantopt::numerics::HessianAccumulator>>
collectActivationStatistics(ModuleOp module, ArrayRef<Value> values,
                            const CalibrationOptions &options);

/// Runs the module like collectActivationStatistics and returns the raw
/// values instead: for each watched value, the rows of all calls
/// concatenated ([tokens, channels] row-major).
FailureOr<std::vector<std::vector<float>>>
collectActivationSamples(ModuleOp module, ArrayRef<Value> values,
                         const CalibrationOptions &options);

using quantopt::NamedStatistics;

/// Writes `stats` as a statistics file (quant/Formats/CalibrationStatistics.h);
/// errors are emitted on `diagnosticAnchor`.
LogicalResult writeStatistics(StringRef path, const NamedStatistics &stats,
                              Operation *diagnosticAnchor);

/// Reads a statistics file; errors are emitted on `diagnosticAnchor`.
FailureOr<NamedStatistics> readStatistics(StringRef path,
                                          Operation *diagnosticAnchor);

} // namespace qtensor
} // namespace mlir

#endif // QUANT_DIALECT_QTENSOR_TRANSFORMS_CALIBRATION_H
