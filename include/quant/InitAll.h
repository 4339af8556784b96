//===- InitAll.h - Register quant-opt dialects and passes -------*- C++ -*-===//
//
// Part of the quant-opt project, under the Apache License v2.0 with LLVM
// Exceptions.
//
//===----------------------------------------------------------------------===//

#ifndef QUANT_INITALL_H
#define QUANT_INITALL_H

namespace mlir {
class DialectRegistry;
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

} // namespace quantopt

#endif // QUANT_INITALL_H
