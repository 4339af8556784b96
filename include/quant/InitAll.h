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
/// linalg, ml_program, quant, plus the dialects of the lowering pipeline.
void registerUpstreamDialects(mlir::DialectRegistry &registry);

/// The project's passes and pipelines.
void registerAllPasses();

} // namespace quantopt

#endif // QUANT_INITALL_H
