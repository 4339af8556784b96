//===- JitRunner.h - JIT compilation and invocation of modules --*- C++ -*-===//
//
// Part of the quant-opt project, under the Apache License v2.0 with LLVM
// Exceptions.
//
//===----------------------------------------------------------------------===//
//
// Compiles a tensor-level module (qtensor ops allowed) through the project's
// CPU lowering with MLIR's ExecutionEngine and calls its functions on host
// arrays.
//
//===----------------------------------------------------------------------===//

#ifndef QUANT_RUNTIME_JITRUNNER_H
#define QUANT_RUNTIME_JITRUNNER_H

#include "mlir/IR/BuiltinOps.h"
#include "llvm/ADT/StringMap.h"
#include "llvm/Support/Error.h"

#include <cstdint>
#include <memory>
#include <mutex>
#include <vector>

namespace mlir {
class ExecutionEngine;
} // namespace mlir

namespace quantopt {

/// A dense row-major host array passed to or returned from a JIT function.
struct HostArray {
  enum class Kind { F32, I32 } kind = Kind::F32;
  std::vector<int64_t> shape;
  std::vector<float> f32;
  std::vector<int32_t> i32;

  int64_t numElements() const;
};

/// A module compiled to machine code.
class JitModule {
public:
  ~JitModule();

  /// Lowers a clone of `module` with the `quant-lower-to-llvm` pipeline and
  /// JIT-compiles it at LLVM -O`optLevel`.
  static llvm::Expected<std::unique_ptr<JitModule>>
  compile(mlir::ModuleOp module, unsigned optLevel = 3);

  /// Calls public function `name` (thread-safe), whose arguments are ranked
  /// tensors matching `args` and whose single result is a ranked f32 tensor of
  /// rank `resultRank`.
  llvm::Expected<HostArray> call(llvm::StringRef name,
                                 const std::vector<const HostArray *> &args,
                                 unsigned resultRank);

  /// Calls public function `name` whose results are ranked f32 tensors of
  /// the given ranks; returns them in order.
  llvm::Expected<std::vector<HostArray>>
  callMulti(llvm::StringRef name, const std::vector<const HostArray *> &args,
            llvm::ArrayRef<unsigned> resultRanks);

private:
  JitModule() = default;
  std::unique_ptr<mlir::ExecutionEngine> engine;
  std::mutex lookupMutex;
  llvm::StringMap<void (*)(void **)> functions;
};

} // namespace quantopt

#endif // QUANT_RUNTIME_JITRUNNER_H
