//===- LowerToLLVMPipeline.cpp - qtensor to LLVM pipeline -----------------===//
//
// Part of the quant-opt project, under the Apache License v2.0 with LLVM
// Exceptions.
//
//===----------------------------------------------------------------------===//
//
// The CPU pipeline: quantized and f32 products with a kernel -> kernel
// calls, the rest of qtensor -> linalg on tensors -> buffers -> loops ->
// LLVM dialect, ready for mlir-runner or the ExecutionEngine.
//
//===----------------------------------------------------------------------===//

#include "quant/Conversion/Passes.h"

#include "mlir/Conversion/Passes.h"
#include "mlir/Dialect/Affine/IR/AffineOps.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Arith/Transforms/BufferizableOpInterfaceImpl.h"
#include "mlir/Dialect/Arith/Transforms/Passes.h"
#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Dialect/Bufferization/Pipelines/Passes.h"
#include "mlir/Dialect/Bufferization/Transforms/FuncBufferizableOpInterfaceImpl.h"
#include "mlir/Dialect/Bufferization/Transforms/Passes.h"
#include "mlir/Dialect/ControlFlow/IR/ControlFlow.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Index/IR/IndexDialect.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Linalg/Passes.h"
#include "mlir/Dialect/Linalg/Transforms/BufferizableOpInterfaceImpl.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/MemRef/Transforms/Passes.h"
#include "mlir/Dialect/OpenMP/OpenMPDialect.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Dialect/Tensor/Transforms/BufferizableOpInterfaceImpl.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/Dialect/Vector/Transforms/VectorTransforms.h"
#include "mlir/IR/DialectRegistry.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Pass/PassRegistry.h"
#include "mlir/Target/LLVMIR/Dialect/Builtin/BuiltinToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Dialect/LLVMIR/LLVMToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Dialect/OpenMP/OpenMPToLLVMIRTranslation.h"
#include "mlir/Transforms/Passes.h"

using namespace mlir;

void mlir::qtensor::buildQTensorToBuffersPipeline(OpPassManager &pm) {
  pm.addPass(createConvertQTensorToLinalgPass());
  pm.addPass(createCanonicalizerPass());
  // Fusing elementwise producers into their consumers removes temporaries
  // (softmax chains, norms) before buffers exist; producers whose elements
  // a consumer would read more than once (transposes feeding a product)
  // stay separate.
  pm.addPass(createFuseElementwiseProducersPass());
  pm.addPass(createApproximateMathPass());
  pm.addPass(createCanonicalizerPass());
  bufferization::OneShotBufferizePassOptions bufferizeOptions;
  bufferizeOptions.bufferizeFunctionBoundaries = true;
  bufferizeOptions.functionBoundaryTypeConversion =
      bufferization::LayoutMapOption::IdentityLayoutMap;
  pm.addPass(bufferization::createOneShotBufferizePass(bufferizeOptions));
  pm.addPass(createCanonicalizerPass());
  // Free every temporary buffer; results returned to the caller are owned by
  // it (the executors free them).
  bufferization::buildBufferDeallocationPipeline(pm);
}

void mlir::qtensor::buildLowerToLLVMPipeline(
    OpPassManager &pm, const LowerToLLVMOptions &options) {
  pm.addPass(createInlineConstantGlobalsPass());
  // Gate/up pairs take their gating before the remaining products that
  // share an input (q/k/v) are fused horizontally.
  if (options.fuseEpilogue)
    pm.addPass(createFuseEpiloguePass());
  if (options.fuseHorizontal)
    pm.addPass(createFuseHorizontalProductsPass());
  if (options.attentionBlockSize > 0)
    pm.addPass(createBlockCausalAttentionPass(
        BlockCausalAttentionPassOptions{options.attentionBlockSize}));
  // threads=0 is rejected by the kernel pass, whatever the mode.
  if (options.mode == ProductLowering::CPUKernels || options.threads == 0) {
    ConvertQTensorToCPUKernelsPassOptions kernelOptions;
    kernelOptions.threads = options.threads;
    kernelOptions.compute = options.compute;
    kernelOptions.kernelISA = options.isa;
    kernelOptions.prepackInt8 = options.prepackInt8;
    pm.addPass(createConvertQTensorToCPUKernelsPass(kernelOptions));
  }
  if (options.mode == ProductLowering::CPUKernels) {
    ConvertFloatMatmulToCPUKernelsPassOptions floatOptions;
    floatOptions.threads = options.threads;
    pm.addPass(createConvertFloatMatmulToCPUKernelsPass(floatOptions));
  }
  buildQTensorToBuffersPipeline(pm);
  // Kernel calls of target instructions, hidden from deallocation so far.
  pm.addPass(createExpandIntrinsicCallsPass());
  pm.addPass(createConvertBufferizationToMemRefPass());
  pm.addNestedPass<func::FuncOp>(createConvertLinalgToLoopsPass());
  pm.addPass(createLowerAffinePass());
  // The kernels' task loops (scf.parallel) become OpenMP parallel regions.
  if (options.threads > 1)
    pm.addPass(createConvertSCFToOpenMPPass(
        ConvertSCFToOpenMPPassOptions{options.threads}));
  pm.addPass(createSCFToControlFlowPass());
  pm.addPass(memref::createExpandStridedMetadataPass());
  pm.addPass(createLowerAffinePass());
  // bf16 conversions as integer arithmetic (round half to even): without
  // AVX-512 BF16, LLVM would call compiler-rt's __truncsfbf2, which the JIT
  // does not link, and the rounding is then the same on every host.
  arith::ArithExpandOpsPassOptions expandOptions;
  expandOptions.includeBf16 = true;
  pm.addPass(arith::createArithExpandOpsPass(expandOptions));
  // The kernels transpose 16x16 f32 blocks: with AVX-512 shuffles rather
  // than element by element.
  ConvertVectorToLLVMPassOptions vectorOptions;
  vectorOptions.vectorTransposeLowering =
      vector::VectorTransposeLowering::Shuffle16x16;
  pm.addPass(createConvertVectorToLLVMPass(vectorOptions));
  pm.addPass(createFinalizeMemRefToLLVMConversionPass());
  pm.addPass(createConvertMathToLLVMPass());
  pm.addPass(createArithToLLVMConversionPass());
  pm.addPass(createConvertIndexToLLVMPass());
  pm.addPass(createConvertControlFlowToLLVMPass());
  pm.addPass(createConvertFuncToLLVMPass());
  if (options.threads > 1)
    pm.addPass(createConvertOpenMPToLLVMPass());
  pm.addPass(createReconcileUnrealizedCastsPass());
}

void mlir::qtensor::registerLowerToLLVMPipeline() {
  PassPipelineRegistration<LowerToLLVMOptions>(
      "quant-lower-to-llvm",
      "Lower qtensor and linalg-on-tensors code to the LLVM dialect for CPUs "
      "(vectorised kernels for quantized and f32 products, mode=reference "
      "for the reference lowering only)",
      buildLowerToLLVMPipeline);
}

void mlir::qtensor::registerLowerToLLVMDialects(DialectRegistry &registry) {
  registry.insert<affine::AffineDialect, arith::ArithDialect,
                  bufferization::BufferizationDialect, cf::ControlFlowDialect,
                  func::FuncDialect, index::IndexDialect, LLVM::LLVMDialect,
                  linalg::LinalgDialect, math::MathDialect,
                  memref::MemRefDialect, omp::OpenMPDialect, scf::SCFDialect,
                  tensor::TensorDialect, vector::VectorDialect>();
  arith::registerBufferizableOpInterfaceExternalModels(registry);
  linalg::registerBufferizableOpInterfaceExternalModels(registry);
  tensor::registerBufferizableOpInterfaceExternalModels(registry);
  bufferization::func_ext::registerBufferizableOpInterfaceExternalModels(
      registry);
  registerBuiltinDialectTranslation(registry);
  registerLLVMDialectTranslation(registry);
  registerOpenMPDialectTranslation(registry);
}
