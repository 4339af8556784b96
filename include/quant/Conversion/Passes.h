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
  PassOptions::Option<bool> prepackInt8{
      *this, "prepack-int8",
      llvm::cl::desc("Prepack constant weights of compute=int8 products at "
                     "compile time"),
      llvm::cl::init(true)};
};

/// Lowers a module with qtensor ops on tensors all the way to the LLVM
/// dialect: qtensor -> linalg, bufferization, loops, LLVM.
void buildLowerToLLVMPipeline(OpPassManager &pm,
                              const LowerToLLVMOptions &options);

/// Registers the `quant-lower-to-llvm` pipeline.
void registerLowerToLLVMPipeline();

/// Inserts the dialects the `quant-lower-to-llvm` pipeline creates, their
/// bufferization external models and the LLVM IR translations of the result.
void registerLowerToLLVMDialects(DialectRegistry &registry);

/// Whether --convert-qtensor-to-cpu-kernels gives `product` a kernel that
/// reads its storage, scales and zero-points as stored, so that they may be
/// run-time values: a `dequant_matmul` whose codes need no repacking at
/// compile time (no act-order index, widths and groups the kernels load
/// directly). False for every other op.
bool cpuKernelReadsOperandsAsStored(Operation *product);

} // namespace qtensor
} // namespace mlir

#endif // QUANT_CONVERSION_PASSES_H
