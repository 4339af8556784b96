//===- GPUKernels.h - Product kernels shared by the GPU passes --*- C++ -*-===//
//
// Part of the quant-opt project, under the Apache License v2.0 with LLVM
// Exceptions.
//
//===----------------------------------------------------------------------===//
//
// The per-layout GEMV and tensor-core kernels of
// convert-qtensor-to-gpu-kernels, also used by
// convert-float-matmul-to-gpu-kernels for f32 weights.
//
//===----------------------------------------------------------------------===//

#ifndef QUANT_LIB_CONVERSION_GPU_GPUKERNELS_H
#define QUANT_LIB_CONVERSION_GPU_GPUKERNELS_H

#include "mlir/Dialect/Linalg/IR/LinalgInterfaces.h"
#include "mlir/IR/BuiltinTypes.h"

#include <string>

namespace mlir {
namespace qtensor {

/// Replaces the f32 contraction `op`, activations [rows..., K] times an f32
/// weight [N, K] (the importers' x * W^T), with the GEMV launch (weights
/// that need no decoding) and, when `computeType` is set, the tensor-core
/// launch from 9 rows. Fails, with the reason in `whyNot` and `op` left
/// alone, for any other shape.
LogicalResult lowerFloatMatmulToGPUKernel(linalg::LinalgOp op,
                                          FloatType computeType,
                                          std::string &whyNot);

} // namespace qtensor
} // namespace mlir

#endif // QUANT_LIB_CONVERSION_GPU_GPUKERNELS_H
