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

#include "quant/Dialect/QTensor/Transforms/Executor.h"
#include "quant/Formats/CalibrationStatistics.h"
#include "quant/Numerics/GPTQ.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/Support/LLVM.h"

#include <map>
#include <memory>
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
  /// Run the function one segment at a time where it splits
  /// (SegmentedCalibration); false runs it whole for every collection, the
  /// reference the segmented runs are tested against.
  bool segmented = true;

  /// From the shared pass options (calibrationDataOptions in Passes.td).
  static CalibrationOptions fromPassOptions(StringRef path, StringRef function,
                                            int64_t windows, int64_t offset,
                                            int64_t seed, bool segmented) {
    CalibrationOptions options;
    options.segmented = segmented;
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
/// channel dimension). Where the calibrated function splits into segments
/// (SegmentedCalibration) it runs one segment at a time, each segment's
/// values accumulated as its run goes, so that memory holds one segment's
/// weights and activations; otherwise the whole function runs at once.
/// Both give the same statistics. Errors are emitted on `module` and give
/// failure.
FailureOr<std::vector<quantopt::numerics::HessianAccumulator>>
collectActivationStatistics(ModuleOp module, ArrayRef<Value> values,
                            const CalibrationOptions &options);

/// Runs the module like collectActivationStatistics and returns the raw
/// values instead: for each watched value, the rows of all calls
/// concatenated ([tokens, channels] row-major).
FailureOr<std::vector<std::vector<float>>>
collectActivationSamples(ModuleOp module, ArrayRef<Value> values,
                         const CalibrationOptions &options);

/// Runs the calibration function one segment at a time, as the reference
/// tools run a model one decoder block at a time. Segments end at cut
/// values: values that all later computation goes through (nothing computed
/// before a cut but constants is read after it), which in a transformer is
/// the residual stream between attention and MLP blocks. A segment is
/// outlined into a function of its input and of the constants it reads
/// (weights as arguments), compiled once per distinct body, so blocks of
/// one shape share one compilation, and run on every calibration call's
/// input; running it gives the next segment's inputs. Only the current
/// segment's inputs are kept between runs.
class SegmentedCalibration {
public:
  ~SegmentedCalibration();

  /// Splits the calibration function so that each segment holds at least
  /// one of `products` (top-level ops of that function). Null without an
  /// error when the function cannot be split (fewer than two such segments,
  /// calls or ml_program state in it, no module executor): the caller then
  /// runs the whole function.
  static FailureOr<std::unique_ptr<SegmentedCalibration>>
  create(ModuleOp module, ArrayRef<Operation *> products,
         const CalibrationOptions &options);

  unsigned getNumSegments() const { return boundaries.size() + 1; }
  /// The segment of `op`, a top-level op of the function.
  unsigned getSegment(Operation *op);
  /// Statistics of `values`, computed in segment `segment` (the one whose
  /// inputs are held: 0 at first, then each advance's next), over every
  /// calibration call, accumulated in call order.
  FailureOr<std::vector<quantopt::numerics::HessianAccumulator>>
  collect(unsigned segment, ArrayRef<Value> values);
  /// Runs segment `segment` on every held input and passes each call's
  /// `values` (computed in that segment, as f32) to `consume`, in call
  /// order.
  LogicalResult
  watch(unsigned segment, ArrayRef<Value> values,
        function_ref<void(size_t call, std::vector<HostArray> &)> consume);
  /// Runs segment `segment` as the module now is; its outputs become the
  /// held inputs of the next segment.
  LogicalResult advance(unsigned segment);
  /// Sequences in each calibration call (the batch of an ids input).
  int64_t getSequencesPerCall() const { return sequencesPerCall; }

  /// Compilations and segment runs so far (each run covers every call).
  unsigned getNumCompilations() const { return compiled.size(); }
  unsigned getNumRuns() const { return runs; }

private:
  struct Outlined;
  SegmentedCalibration() = default;
  FailureOr<Outlined> outline(unsigned segment, ArrayRef<Value> watched,
                              bool withOutput);
  /// Runs `segment` on every held input, passing each call's results to
  /// `consume` in call order.
  LogicalResult
  run(unsigned segment, ArrayRef<Value> watched, bool withOutput,
      function_ref<void(size_t, std::vector<HostArray> &)> consume);

  ModuleOp module;
  func::FuncOp func;
  unsigned threads = 1;
  /// The cut value that ends each segment but the last.
  SmallVector<Value> boundaries;
  /// The inputs of segment `held`, one per calibration call.
  std::vector<HostArray> inputs;
  unsigned held = 0;
  int64_t sequencesPerCall = 1;
  /// Compiled segment bodies by their printed form.
  std::map<std::string, std::unique_ptr<ExecutableModule>> compiled;
  unsigned runs = 0;
};

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
