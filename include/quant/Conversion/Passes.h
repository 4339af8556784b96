//===- Passes.h - quant-opt conversion passes -------------------*- C++ -*-===//
//
// Part of the quant-opt project, under the Apache License v2.0 with LLVM
// Exceptions.
//
//===----------------------------------------------------------------------===//

#ifndef QUANT_CONVERSION_PASSES_H
#define QUANT_CONVERSION_PASSES_H

#include "mlir/Pass/Pass.h"
#include "mlir/Pass/PassOptions.h"

#include <string>

namespace mlir {
class DialectRegistry;
class RewritePatternSet;
class OpPassManager;

namespace qtensor {

/// How the CPU kernels compute integer-weight products.
enum class KernelCompute {
  /// Exact f32: every weight decoded as the reference decodes it.
  F32,
  /// Activations rounded to int8 per row and weight group, integer dot
  /// products with AVX-512 VNNI, one f32 scale per group (opt-in).
  Int8,
};

/// The instruction set the CPU kernels may use where generic vector code
/// would be slow (the nf4/fp4 table lookup).
enum class KernelISA {
  /// Portable vector code (the lookup is a gather from a small table).
  Generic,
  /// x86-64 with AVX2: two 8-entry vpermps and a blend per lookup.
  AVX2,
  /// x86-64 with AVX-512F: one 16-entry vpermps per lookup.
  AVX512,
};

#define GEN_PASS_DECL
#include "quant/Conversion/Passes.h.inc"

#define GEN_PASS_REGISTRATION
#include "quant/Conversion/Passes.h.inc"

/// Patterns lowering every qtensor op to linalg/arith/math/tensor.
void populateQTensorToLinalgPatterns(RewritePatternSet &patterns);

/// Patterns lowering qtensor.ggml_dequantize and qtensor.ggml_matmul: the
/// body of one linalg.generic decodes each weight from the raw ggml blocks.
void populateGGMLToLinalgPatterns(RewritePatternSet &patterns);

/// Options of the `quant-lower-to-llvm` pipeline.
/// How `quant-lower-to-llvm` computes quantized products.
enum class ProductLowering {
  /// Vectorised kernels where a kernel exists, the reference elsewhere.
  CPUKernels,
  /// Only the reference lowering (one scalar linalg.generic per product).
  Reference,
};

struct LowerToLLVMOptions : public PassPipelineOptions<LowerToLLVMOptions> {
  PassOptions::Option<ProductLowering> mode{
      *this, "mode",
      llvm::cl::desc("How quantized and f32 matrix products are lowered"),
      llvm::cl::init(ProductLowering::CPUKernels),
      llvm::cl::values(
          clEnumValN(ProductLowering::CPUKernels, "cpu-kernels",
                     "vectorised CPU kernels (the reference lowering for "
                     "layouts without one)"),
          clEnumValN(ProductLowering::Reference, "reference",
                     "the reference lowering only"))};
  PassOptions::Option<unsigned> threads{
      *this, "threads",
      llvm::cl::desc("Threads of the CPU kernels (OpenMP when above 1)"),
      llvm::cl::init(1)};
  PassOptions::Option<KernelCompute> compute{
      *this, "compute",
      llvm::cl::desc("How the CPU kernels compute integer-weight products"),
      llvm::cl::init(KernelCompute::F32),
      llvm::cl::values(
          clEnumValN(KernelCompute::F32, "f32",
                     "exact f32 products of the decoded weights"),
          clEnumValN(KernelCompute::Int8, "int8",
                     "int8 activations per row and group, AVX-512 VNNI "
                     "integer dot products (needs avx512vnni)"))};
  PassOptions::Option<KernelISA> isa{
      *this, "isa",
      llvm::cl::desc("Instruction set of the CPU kernels' table lookups"),
      llvm::cl::init(KernelISA::Generic),
      llvm::cl::values(
          clEnumValN(KernelISA::Generic, "generic", "portable vector code"),
          clEnumValN(KernelISA::AVX2, "avx2", "x86-64 with AVX2"),
          clEnumValN(KernelISA::AVX512, "avx512", "x86-64 with AVX-512F"))};
  PassOptions::Option<bool> fuseEpilogue{
      *this, "fuse-epilogue",
      llvm::cl::desc("Move residual additions and SwiGLU gating into the "
                     "quantized products (quant-fuse-epilogue)"),
      llvm::cl::init(true)};
  PassOptions::Option<bool> fuseHorizontal{
      *this, "fuse-horizontal",
      llvm::cl::desc("Fuse quantized products that share their input "
                     "(quant-fuse-horizontal)"),
      llvm::cl::init(true)};
  PassOptions::Option<int64_t> attentionBlockSize{
      *this, "attention-block-size",
      llvm::cl::desc("Queries per block of causal attention "
                     "(quant-block-causal-attention); 0 (the default) keeps "
                     "the full-window attention"),
      llvm::cl::init(0)};
  PassOptions::Option<bool> prepackInt8{
      *this, "prepack-int8",
      llvm::cl::desc("Prepack constant weights of compute=int8 products at "
                     "compile time"),
      llvm::cl::init(true)};
};

/// The part of the CPU and GPU pipelines from qtensor ops on tensors to
/// buffers: qtensor -> linalg, elementwise fusion, math approximations,
/// one-shot bufferization and buffer deallocation.
void buildQTensorToBuffersPipeline(OpPassManager &pm);

/// Lowers a module with qtensor ops on tensors all the way to the LLVM
/// dialect: qtensor -> linalg, bufferization, loops, LLVM.
void buildLowerToLLVMPipeline(OpPassManager &pm,
                              const LowerToLLVMOptions &options);

/// Registers the `quant-lower-to-llvm` pipeline.
void registerLowerToLLVMPipeline();

/// Inserts the dialects the `quant-lower-to-llvm` pipeline creates, their
/// bufferization external models and the LLVM IR translations of the result.
void registerLowerToLLVMDialects(DialectRegistry &registry);

/// Options of the `quant-lower-to-nvvm` pipeline.
struct LowerToNVVMOptions : public PassPipelineOptions<LowerToNVVMOptions> {
  PassOptions::Option<std::string> chip{
      *this, "chip",
      llvm::cl::desc("NVIDIA GPU architecture of the kernels (sm_80 and up)"),
      llvm::cl::init("sm_90")};
  PassOptions::Option<std::string> features{
      *this, "features",
      llvm::cl::desc("PTX features, e.g. +ptx80 (default: the lowest PTX "
                     "version that the chip and CUDA 12 accept)"),
      llvm::cl::init("")};
  PassOptions::Option<std::string> format{
      *this, "format",
      llvm::cl::desc("Kernel binary embedded in the host module: isa (PTX "
                     "text, JIT-compiled by the driver at load), bin (cubin "
                     "from ptxas) or fatbin (needs ptxas and fatbinary)"),
      llvm::cl::init("isa")};
  PassOptions::Option<std::string> toolkit{
      *this, "toolkit",
      llvm::cl::desc("CUDA toolkit directory for format=bin/fatbin "
                     "(default: CUDA_ROOT, CUDA_HOME, CUDA_PATH, PATH)"),
      llvm::cl::init("")};
  PassOptions::Option<unsigned> optLevel{
      *this, "opt-level",
      llvm::cl::desc("LLVM optimisation level of the kernels, 0..3"),
      llvm::cl::init(3)};
  PassOptions::Option<unsigned> blockSize{
      *this, "block-size",
      llvm::cl::desc("Threads per block of the mapped loop nests"),
      llvm::cl::init(256)};
  PassOptions::Option<std::string> computeType{
      *this, "compute-type",
      llvm::cl::desc("Arithmetic of the quantized products above 8 rows: f32 "
                     "(exact, the SIMT kernels) or, opted into, f16 (tensor "
                     "cores: mma.sync with f32 accumulation, weights and "
                     "activations rounded once to f16)"),
      llvm::cl::init("f32")};
  PassOptions::Option<int64_t> maxKernelConstantBytes{
      *this, "max-kernel-constant-bytes",
      llvm::cl::desc("Constants up to this size (decode tables) are copied "
                     "into the kernel module; larger ones (weights) become "
                     "device buffers uploaded once"),
      llvm::cl::init(4096)};
};

/// Lowers a module with qtensor ops on tensors to host code in the LLVM
/// dialect that launches NVVM kernels embedded as `gpu.binary` ops.
void buildLowerToNVVMPipeline(OpPassManager &pm,
                              const LowerToNVVMOptions &options);

/// Checks the options that would otherwise fail deep inside LLVM (an
/// unsupported chip, format or PTX version), reporting through
/// `errorHandler`.
LogicalResult checkLowerToNVVMOptions(
    const LowerToNVVMOptions &options,
    function_ref<LogicalResult(const Twine &)> errorHandler);

/// Registers the `quant-lower-to-nvvm` pipeline.
void registerLowerToNVVMPipeline();

/// Inserts the dialects, interfaces and LLVM IR translations that the
/// `quant-lower-to-nvvm` pipeline and the translation of its result need.
void registerLowerToNVVMDialects(DialectRegistry &registry);

/// The PTX version that `chip` needs at least ("+ptx80" for sm_90), or an
/// empty string for a chip the pipeline does not support.
std::string getDefaultPTXFeatures(llvm::StringRef chip);

/// Whether --convert-qtensor-to-cpu-kernels gives `product` a kernel that
/// reads its storage, scales and zero-points as stored, so that they may be
/// run-time values: a `dequant_matmul` whose codes need no repacking at
/// compile time (no act-order index, widths and groups the kernels load
/// directly). False for every other op.
bool cpuKernelReadsOperandsAsStored(Operation *product);

} // namespace qtensor
} // namespace mlir

#endif // QUANT_CONVERSION_PASSES_H
