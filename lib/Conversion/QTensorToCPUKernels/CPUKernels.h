//===- CPUKernels.h - Private interface of the CPU kernels ------*- C++ -*-===//
//
// Part of the quant-opt project, under the Apache License v2.0 with LLVM
// Exceptions.
//
//===----------------------------------------------------------------------===//
//
// Private to convert-qtensor-to-cpu-kernels: the kernel generators, one per
// op family, each of which either replaces the op with a kernel call or says
// why it cannot.
//
//===----------------------------------------------------------------------===//

#ifndef QUANT_LIB_CONVERSION_QTENSORTOCPUKERNELS_CPUKERNELS_H
#define QUANT_LIB_CONVERSION_QTENSORTOCPUKERNELS_CPUKERNELS_H

#include "quant/Dialect/QTensor/IR/QTensorOps.h"

#include <string>

namespace mlir {
namespace qtensor {
namespace cpu {

struct KernelOptions {
  /// Threads the task loop is written for; 1 emits a sequential loop.
  unsigned threads = 1;
};

/// Replaces `op` with a call to a vectorised kernel function (created in the
/// enclosing module, shared by products of the same shape and layout). On
/// failure the IR is unchanged and `whyNot` names the unsupported feature.
LogicalResult lowerDequantMatmulToKernel(DequantMatmulOp op,
                                         const KernelOptions &options,
                                         std::string &whyNot);

/// The same for qtensor.ggml_matmul in q4_0 and q8_0 blocks.
LogicalResult lowerGGMLMatmulToKernel(GGMLMatmulOp op,
                                      const KernelOptions &options,
                                      std::string &whyNot);

} // namespace cpu
} // namespace qtensor
} // namespace mlir

#endif // QUANT_LIB_CONVERSION_QTENSORTOCPUKERNELS_CPUKERNELS_H
