//===- LowerToNVVMPipeline.cpp - qtensor to NVVM kernels pipeline ---------===//
//
// Part of the quant-opt project, under the Apache License v2.0 with LLVM
// Exceptions.
//
//===----------------------------------------------------------------------===//
//
// The GPU pipeline: qtensor -> linalg on tensors -> buffers -> parallel
// loops mapped to blocks and threads -> gpu.launch with device buffers ->
// outlined kernels in NVVM, serialized to PTX (or cubin) inside gpu.binary
// ops, and host code in the LLVM dialect that calls the mgpu* runtime.
//
//===----------------------------------------------------------------------===//

#include "quant/Conversion/Passes.h"

#include "mlir/Conversion/ArithToLLVM/ArithToLLVM.h"
#include "mlir/Conversion/ControlFlowToLLVM/ControlFlowToLLVM.h"
#include "mlir/Conversion/FuncToLLVM/ConvertFuncToLLVM.h"
#include "mlir/Conversion/GPUCommon/GPUToLLVM.h"
#include "mlir/Conversion/GPUToNVVM/GPUToNVVM.h"
#include "mlir/Conversion/IndexToLLVM/IndexToLLVM.h"
#include "mlir/Conversion/MathToLLVM/MathToLLVM.h"
#include "mlir/Conversion/MemRefToLLVM/MemRefToLLVM.h"
#include "mlir/Conversion/NVVMToLLVM/NVVMToLLVM.h"
#include "mlir/Conversion/Passes.h"
#include "mlir/Conversion/UBToLLVM/UBToLLVM.h"
#include "mlir/Conversion/VectorToLLVM/ConvertVectorToLLVM.h"
#include "mlir/Conversion/VectorToSCF/VectorToSCF.h"
#include "mlir/Dialect/Bufferization/Transforms/Passes.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/GPU/Transforms/Passes.h"
#include "mlir/Dialect/LLVMIR/NVVMDialect.h"
#include "mlir/Dialect/Linalg/Passes.h"
#include "mlir/Dialect/MemRef/Transforms/Passes.h"
#include "mlir/Dialect/NVGPU/IR/NVGPUDialect.h"
#include "mlir/IR/DialectRegistry.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Pass/PassRegistry.h"
#include "mlir/Target/LLVM/NVVM/Target.h"
#include "mlir/Target/LLVMIR/Dialect/GPU/GPUToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Dialect/NVVM/NVVMToLLVMIRTranslation.h"
#include "mlir/Transforms/Passes.h"
#include "llvm/ADT/StringSwitch.h"

using namespace mlir;

std::string mlir::qtensor::getDefaultPTXFeatures(StringRef chip) {
  // The PTX ISA version that introduced each architecture (sm_90a and the
  // other arch-specific variants need the same version as their base).
  StringRef base = chip.take_while([](char c) { return c != 'a' && c != 'f'; });
  if (base.size() != chip.size() && chip.size() - base.size() > 1)
    return "";
  return llvm::StringSwitch<std::string>(base)
      .Case("sm_80", "+ptx70")
      .Case("sm_86", "+ptx71")
      .Case("sm_87", "+ptx74")
      .Case("sm_89", "+ptx78")
      .Case("sm_90", "+ptx80")
      .Case("sm_100", "+ptx86")
      .Case("sm_101", "+ptx86")
      .Case("sm_120", "+ptx87")
      .Default("");
}

void mlir::qtensor::buildLowerToNVVMPipeline(
    OpPassManager &pm, const LowerToNVVMOptions &options) {
  std::string features = options.features;
  if (features.empty())
    features = getDefaultPTXFeatures(options.chip);

  pm.addPass(createInlineConstantGlobalsPass());
  ConvertQTensorToGPUKernelsPassOptions kernelOptions;
  kernelOptions.computeType = options.computeType;
  pm.addPass(createConvertQTensorToGPUKernelsPass(kernelOptions));
  ConvertFloatMatmulToGPUKernelsPassOptions floatOptions;
  floatOptions.computeType = options.computeType;
  pm.addPass(createConvertFloatMatmulToGPUKernelsPass(floatOptions));
  buildQTensorToBuffersPipeline(pm);
  pm.addPass(createConvertBufferizationToMemRefPass());
  pm.addNestedPass<func::FuncOp>(createConvertLinalgToParallelLoopsPass());
  MapParallelLoopsToGPUPassOptions mapOptions;
  mapOptions.blockSize = options.blockSize;
  pm.addNestedPass<func::FuncOp>(createMapParallelLoopsToGPUPass(mapOptions));
  pm.addNestedPass<func::FuncOp>(createConvertParallelLoopToGpuPass());
  PlaceBuffersOnGPUPassOptions placeOptions;
  placeOptions.maxKernelConstantBytes = options.maxKernelConstantBytes;
  pm.addPass(createPlaceBuffersOnGPUPass(placeOptions));
  pm.addNestedPass<func::FuncOp>(createGpuLaunchSinkIndexComputationsPass());
  pm.addPass(createGpuKernelOutliningPass());
  pm.addPass(createMergeGPUModulesPass());
  pm.addNestedPass<gpu::GPUModuleOp>(createFormGPUDotProductsPass());
  // Allocations, copies and launches on one stream, synchronised before the
  // host reads a result.
  pm.addNestedPass<func::FuncOp>(createGpuAsyncRegionPass());
  pm.addPass(createCanonicalizerPass());

  // Upstream's gpu-lower-to-nvvm-pipeline, except that the libdevice calls
  // that convert-gpu-to-nvvm makes of math ops become exact LLVM intrinsics
  // (sqrt.rn, cvt.rni, ...): nothing links libdevice without a CUDA toolkit.
  pm.addPass(createConvertNVGPUToNVVMPass());
  pm.addPass(createConvertVectorToSCFPass());
  pm.addPass(createSCFToControlFlowPass());
  pm.addPass(createConvertNVVMToLLVMPass());
  pm.addPass(createConvertFuncToLLVMPass());
  pm.addPass(memref::createExpandStridedMetadataPass());
  GpuNVVMAttachTargetOptions target;
  target.chip = options.chip;
  target.features = features;
  target.optLevel = options.optLevel;
  pm.addPass(createGpuNVVMAttachTarget(target));
  pm.addPass(createLowerAffinePass());
  pm.addPass(createArithToLLVMConversionPass());
  ConvertIndexToLLVMPassOptions indexOptions;
  indexOptions.indexBitwidth = 64;
  pm.addPass(createConvertIndexToLLVMPass(indexOptions));
  pm.addPass(createCanonicalizerPass());
  pm.addPass(createCSEPass());
  OpPassManager &kernels = pm.nest<gpu::GPUModuleOp>();
  ConvertGpuOpsToNVVMOpsOptions nvvmOptions;
  nvvmOptions.indexBitwidth = 64;
  kernels.addPass(createConvertGpuOpsToNVVMOps(nvvmOptions));
  kernels.addPass(createReplaceLibdeviceCallsPass());
  kernels.addPass(createCanonicalizerPass());
  kernels.addPass(createCSEPass());
  kernels.addPass(createReconcileUnrealizedCastsPass());
  pm.addPass(createGpuToLLVMConversionPass());
  GpuModuleToBinaryPassOptions binary;
  binary.compilationTarget = options.format;
  binary.toolkitPath = options.toolkit;
  pm.addPass(createGpuModuleToBinaryPass(binary));
  pm.addPass(createConvertMathToLLVMPass());
  pm.addPass(createCanonicalizerPass());
  pm.addPass(createCSEPass());
  pm.addPass(createReconcileUnrealizedCastsPass());
  pm.addPass(createUploadGPUConstantsPass());
}

LogicalResult mlir::qtensor::checkLowerToNVVMOptions(
    const LowerToNVVMOptions &options,
    function_ref<LogicalResult(const Twine &)> errorHandler) {
  if (getDefaultPTXFeatures(options.chip).empty())
    return errorHandler("quant-lower-to-nvvm: unsupported chip '" +
                        options.chip +
                        "' (supported: sm_80, sm_86, sm_87, sm_89, sm_90, "
                        "sm_90a, sm_100, sm_101, sm_120 and their a/f "
                        "variants)");
  StringRef format = options.format;
  if (format != "isa" && format != "bin" && format != "fatbin")
    return errorHandler("quant-lower-to-nvvm: format must be isa, bin or "
                        "fatbin, got '" +
                        format + "'");
  StringRef features = options.features;
  if (!features.empty() && !features.starts_with("+ptx"))
    return errorHandler("quant-lower-to-nvvm: features must name a PTX "
                        "version such as +ptx80, got '" +
                        features + "'");
  StringRef computeType = options.computeType;
  if (computeType != "f32" && computeType != "f16")
    return errorHandler("quant-lower-to-nvvm: compute-type must be f32 or "
                        "f16, got '" +
                        computeType + "'");
  if (options.optLevel > 3)
    return errorHandler("quant-lower-to-nvvm: opt-level must be 0..3");
  unsigned block = options.blockSize;
  if (block < 32 || block > 1024 || !llvm::isPowerOf2_32(block))
    return errorHandler("quant-lower-to-nvvm: block-size must be a power of "
                        "two in 32..1024");
  return success();
}

void mlir::qtensor::registerLowerToNVVMPipeline() {
  registerPassPipeline(
      "quant-lower-to-nvvm",
      "Lower qtensor and linalg-on-tensors code to NVVM kernels (PTX in "
      "gpu.binary ops) and host code in the LLVM dialect that calls the "
      "mgpu* runtime (QuantCudaRuntime)",
      [](OpPassManager &pm, StringRef text,
         function_ref<LogicalResult(const Twine &)> errorHandler) {
        LowerToNVVMOptions options;
        std::string parseErrors;
        llvm::raw_string_ostream parseStream(parseErrors);
        if (failed(options.parseFromString(text, parseStream)))
          return errorHandler("quant-lower-to-nvvm: " + parseErrors);
        if (failed(checkLowerToNVVMOptions(options, errorHandler)))
          return failure();
        buildLowerToNVVMPipeline(pm, options);
        return success();
      },
      [](function_ref<void(const detail::PassOptions &)> printOptions) {
        LowerToNVVMOptions options;
        printOptions(options);
      });
}

void mlir::qtensor::registerLowerToNVVMDialects(DialectRegistry &registry) {
  registry.insert<gpu::GPUDialect, NVVM::NVVMDialect, nvgpu::NVGPUDialect>();
  NVVM::registerNVVMTargetInterfaceExternalModels(registry);
  NVVM::registerConvertGpuToNVVMInterface(registry);
  registerConvertNVVMToLLVMInterface(registry);
  // convert-gpu-to-nvvm lowers the kernels' other dialects through their
  // ConvertToLLVM interfaces.
  arith::registerConvertArithToLLVMInterface(registry);
  cf::registerConvertControlFlowToLLVMInterface(registry);
  registerConvertFuncToLLVMInterface(registry);
  gpu::registerConvertGpuToLLVMInterface(registry);
  index::registerConvertIndexToLLVMInterface(registry);
  registerConvertMathToLLVMInterface(registry);
  registerConvertMemRefToLLVMInterface(registry);
  ub::registerConvertUBToLLVMInterface(registry);
  vector::registerConvertVectorToLLVMInterface(registry);
  registerNVVMDialectTranslation(registry);
  registerGPUDialectTranslation(registry);
  gpu::registerOffloadingLLVMTranslationInterfaceExternalModels(registry);
}
