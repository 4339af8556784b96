//===- JitExecutor.h - The CPU JIT executor ---------------------*- C++ -*-===//
//
// Part of the quant-opt project, under the Apache License v2.0 with LLVM
// Exceptions.
//
//===----------------------------------------------------------------------===//
//
// Compiles a tensor-level module (qtensor ops allowed) through the project's
// CPU lowering (`--quant-lower-to-llvm`) with MLIR's ExecutionEngine and
// calls its functions on host arrays. This is the ModuleExecutor that
// quant-opt, quant-run and the mlir-opt plugin register for the calibrated
// passes (registerCPUJitExecutor).
//
//===----------------------------------------------------------------------===//

#ifndef QUANT_EXECUTION_JITEXECUTOR_H
#define QUANT_EXECUTION_JITEXECUTOR_H

#include "quant/Conversion/Passes.h"
#include "quant/Dialect/QTensor/Transforms/Executor.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/OwningOpRef.h"
#include "llvm/ADT/StringMap.h"
#include "llvm/Support/Error.h"

#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

namespace mlir {
class DialectRegistry;
class ExecutionEngine;
} // namespace mlir

namespace quantopt {

using mlir::qtensor::HostArray;

/// Where the compiled code runs.
enum class JitDevice {
  /// This host's CPU (`quant-lower-to-llvm`).
  CPU,
  /// An NVIDIA GPU: kernels through `quant-lower-to-nvvm`, host code on this
  /// CPU calling QuantCudaRuntime.
  CUDA,
};

/// How JitModule::compile lowers and optimises a module.
struct JitOptions {
  JitDevice device = JitDevice::CPU;
  /// With device CUDA: options of `quant-lower-to-nvvm`, e.g.
  /// "chip=sm_80 block-size=128" (empty: its defaults).
  std::string nvvmOptions;
  /// LLVM optimisation level, 0..3.
  unsigned optLevel = 3;
  /// The `mode` of `quant-lower-to-llvm`.
  mlir::qtensor::ProductLowering products =
      mlir::qtensor::ProductLowering::CPUKernels;
  /// Threads of the CPU kernels (OpenMP, from the LLVM toolchain's libomp,
  /// when above 1).
  unsigned threads = 1;
  /// How the CPU kernels compute integer-weight products; `Int8` needs a
  /// host with AVX-512 VNNI (compile fails with a message otherwise).
  mlir::qtensor::KernelCompute compute = mlir::qtensor::KernelCompute::F32;
  /// Instruction set of the kernels' table lookups; unset: the widest this
  /// host runs.
  std::optional<mlir::qtensor::KernelISA> isa;
  /// Prepack constant weights of compute=int8 products at compile time
  /// (false: the int8 kernel reads the stored layout).
  bool prepackInt8 = true;
  /// Move residual additions and SwiGLU gating into the quantized products
  /// (quant-fuse-epilogue).
  bool fuseEpilogue = true;
  /// Fuse quantized products that share their input (quant-fuse-horizontal).
  bool fuseHorizontal = true;
  /// Queries per block of causal attention (quant-block-causal-attention);
  /// 0 keeps the importers' full-window attention.
  int64_t attentionBlockSize = 0;
};

class JitModule : public mlir::qtensor::ExecutableModule {
public:
  ~JitModule() override;

  /// Lowers a clone of `module` with the `quant-lower-to-llvm` pipeline and
  /// JIT-compiles it.
  static llvm::Expected<std::unique_ptr<JitModule>>
  compile(mlir::ModuleOp module, const JitOptions &options);
  static llvm::Expected<std::unique_ptr<JitModule>>
  compile(mlir::ModuleOp module, unsigned optLevel = 3) {
    JitOptions options;
    options.optLevel = optLevel;
    return compile(module, options);
  }

  /// Generates the machine code of public function `name` now (it is
  /// otherwise generated at its first call), so that timings of calls
  /// leave code generation out.
  llvm::Error materialize(llvm::StringRef name);

  /// Calls public function `name` (thread-safe), whose arguments are ranked
  /// tensors matching `args` and whose results are ranked f32 tensors.
  llvm::Expected<std::vector<HostArray>>
  call(llvm::StringRef name, llvm::ArrayRef<const HostArray *> args) override;

private:
  JitModule() = default;
  static llvm::Expected<std::unique_ptr<JitModule>>
  compileForCUDA(mlir::OwningOpRef<mlir::ModuleOp> lowered,
                 llvm::StringMap<std::vector<unsigned>> resultRanks,
                 const JitOptions &options);
  /// Runs on a GPU: calls check the runtime's pending error.
  bool onGPU = false;
  std::unique_ptr<mlir::ExecutionEngine> engine;
  /// Result ranks of each public function, from its type.
  llvm::StringMap<std::vector<unsigned>> resultRanks;
  std::mutex lookupMutex;
  llvm::StringMap<void (*)(void **)> functions;
  /// The packed entry point of `name`, looked up once.
  llvm::Expected<void (*)(void **)> lookupFunction(llvm::StringRef name);
};

/// The ModuleExecutor of JitModule.
class CPUJitExecutor : public mlir::qtensor::ModuleExecutor {
public:
  llvm::StringRef getName() const override { return "cpu-jit"; }
  void getDependentDialects(mlir::DialectRegistry &registry) const override;
  llvm::Expected<std::unique_ptr<mlir::qtensor::ExecutableModule>>
  compile(mlir::ModuleOp module) const override;
  /// The products whose kernels read their operands as stored
  /// (mlir::qtensor::cpuKernelReadsOperandsAsStored).
  bool readsOperandsAsArguments(mlir::Operation *product) const override;
};

/// Tunes the process's allocator for many calls of compiled models (an
/// evaluation): freed buffers stay in the heap for the next call instead of
/// going back to the kernel. Not for processes whose memory should shrink
/// after a phase (quantizing a large model layer by layer): the heap then
/// keeps its largest size.
void keepFreedMemoryForRepeatedCalls();

/// Registers CPUJitExecutor as the executor of the contexts built from
/// `registry`, with the dialects and LLVM IR translations it needs.
void registerCPUJitExecutor(mlir::DialectRegistry &registry);

} // namespace quantopt

#endif // QUANT_EXECUTION_JITEXECUTOR_H
