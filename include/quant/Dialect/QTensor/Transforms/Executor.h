//===- Executor.h - How calibrated passes run modules -----------*- C++ -*-===//
//
// Part of the quant-opt project, under the Apache License v2.0 with LLVM
// Exceptions.
//
//===----------------------------------------------------------------------===//
//
// The calibrated passes (GPTQ, AWQ, SmoothQuant, --quant-gguf's importance
// matrix, --quant-calibrate) measure activations by running the model. They
// do not know how: they ask the context for a ModuleExecutor, which a driver
// registers (quant-opt, quant-run and the mlir-opt plugin register the
// project's CPU JIT, quant/Execution/JitExecutor.h; a host compiler may
// register its own runtime). Without one, the passes still work from a
// statistics file, or from .npy activations that are the calibrated
// products' inputs themselves, and say that they need an executor
// otherwise.
//
// The registration follows MLIR's delayed dialect interfaces: the executor
// is a dialect interface of the qtensor dialect added by a registry
// extension, so it is scoped to the contexts built from that registry, and
// the dialects its lowering creates are loaded together with qtensor
// (before any pass runs multi-threaded).
//
//===----------------------------------------------------------------------===//

#ifndef QUANT_DIALECT_QTENSOR_TRANSFORMS_EXECUTOR_H
#define QUANT_DIALECT_QTENSOR_TRANSFORMS_EXECUTOR_H

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/DialectInterface.h"
#include "llvm/Support/Error.h"

#include <cstdint>
#include <memory>
#include <vector>

namespace mlir {
class DialectRegistry;

namespace qtensor {

/// A dense row-major host array passed to or returned from a compiled
/// function: f32, i32, i8, f16 or bf16 elements.
struct HostArray {
  /// I8 arguments carry packed quantized storage (benchmarks, kernels
  /// called with weights as arguments); F16 and BF16 ones half-precision
  /// weights, as their bits in `halves`.
  enum class Kind { F32, I32, I8, F16, BF16 } kind = Kind::F32;
  std::vector<int64_t> shape;
  std::vector<float> f32;
  std::vector<int32_t> i32;
  std::vector<int8_t> i8;
  std::vector<uint16_t> halves;
  /// When set, the elements (of `kind`) are read from here instead: memory
  /// the caller keeps alive, unchanged, for as long as calls use the array
  /// (a weight constant's blob, passed to a compiled function that only
  /// reads it).
  const void *external = nullptr;

  int64_t numElements() const;
  /// Bytes per element of `kind`.
  int64_t elementBytes() const;
};

/// A module compiled once, whose public functions can be called many times,
/// concurrently from several threads.
class ExecutableModule {
public:
  virtual ~ExecutableModule();

  /// Calls public function `name` on `args` (ranked tensors, in order) and
  /// returns its results, which must be ranked f32 tensors.
  virtual llvm::Expected<std::vector<HostArray>>
  call(StringRef name, ArrayRef<const HostArray *> args) = 0;

  /// Calls a function with exactly one result.
  llvm::Expected<HostArray> callSingle(StringRef name,
                                       ArrayRef<const HostArray *> args);
};

/// Compiles tensor-level modules (func + linalg/tensor/arith/math + qtensor)
/// for execution on the host.
class ModuleExecutor {
public:
  virtual ~ModuleExecutor();

  /// A short name for diagnostics ("cpu-jit").
  virtual StringRef getName() const = 0;

  /// The dialects the executor's lowering creates in the module's context.
  /// They are loaded with the qtensor dialect, before passes run.
  virtual void getDependentDialects(DialectRegistry &registry) const = 0;

  /// Compiles `module`, which is not modified (the executor lowers a copy).
  virtual llvm::Expected<std::unique_ptr<ExecutableModule>>
  compile(ModuleOp module) const = 0;

  /// Whether the code this executor compiles computes `product` (a qtensor
  /// product op) as fast when its constant operands are function arguments
  /// as when they are constants. Segmented calibration passes such operands
  /// as arguments, so that blocks of one shape share one compilation, and
  /// keeps the others constant. By default, no product.
  virtual bool readsOperandsAsArguments(Operation *product) const;
};

/// Makes `executor` the executor of every context built from (or appended)
/// `registry`. A second registration in the same registry is ignored.
void registerModuleExecutor(DialectRegistry &registry,
                            std::shared_ptr<ModuleExecutor> executor);

/// The executor registered for `context`, or null when none is (or the
/// qtensor dialect is not loaded).
ModuleExecutor *getModuleExecutor(MLIRContext *context);

} // namespace qtensor
} // namespace mlir

#endif // QUANT_DIALECT_QTENSOR_TRANSFORMS_EXECUTOR_H
