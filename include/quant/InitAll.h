//===- InitAll.h - Register quant-opt dialects and passes -------*- C++ -*-===//
//
// Part of the quant-opt project, under the Apache License v2.0 with LLVM
// Exceptions.
//
//===----------------------------------------------------------------------===//

#ifndef QUANT_INITALL_H
#define QUANT_INITALL_H

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/OwningOpRef.h"
#include "llvm/ADT/StringRef.h"

#include <memory>

namespace llvm {
class SourceMgr;
} // namespace llvm

namespace mlir {
class DialectRegistry;
class MLIRContext;
} // namespace mlir

namespace quantopt {

/// The project's dialects plus the external models (bufferization, LLVM
/// translation) its pipelines need.
void registerAllDialects(mlir::DialectRegistry &registry);

/// The upstream dialects that quant-opt parses: func, arith, math, tensor,
/// linalg, ml_program, quant, tosa, plus the dialects of the lowering
/// pipeline.
void registerUpstreamDialects(mlir::DialectRegistry &registry);

/// The project's passes and pipelines.
void registerAllPasses();

/// Makes `--version` print the project's version (quant/Version.h) after
/// LLVM's.
void registerVersionPrinter();

/// The passes that bring frontend IR to linalg on tensors before the
/// quantization passes: `quant-tosa-to-linalg` (upstream's
/// `tosa-to-linalg-named`, `tosa-to-linalg`, `tosa-to-arith` and
/// `tosa-to-tensor`, also registered alone, and `tosa-to-linalg-pipeline`).
void registerFrontendLoweringPasses();

/// Parses a module file, text or bytecode, into `sourceMgr` (which the
/// tools' diagnostic handler uses). A bytecode file's resources, the model's
/// weights, stay in the mapped file instead of being copied: the blobs keep
/// `sourceMgr` alive. Errors go to the context's diagnostics.
mlir::OwningOpRef<mlir::ModuleOp>
parseModuleFile(llvm::StringRef path,
                const std::shared_ptr<llvm::SourceMgr> &sourceMgr,
                mlir::MLIRContext *context);

} // namespace quantopt

#endif // QUANT_INITALL_H
