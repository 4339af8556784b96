//===- Passes.td - quant-opt conversion passes -------------*- tablegen -*-===//
//
// Part of the quant-opt project, under the Apache License v2.0 with LLVM
// Exceptions.
//
//===----------------------------------------------------------------------===//

#ifndef QUANT_CONVERSION_PASSES_TD
#define QUANT_CONVERSION_PASSES_TD

include "mlir/Pass/PassBase.td"

def ConvertQTensorToLinalgPass : Pass<"convert-qtensor-to-linalg"> {
  let summary = "Lower qtensor ops to linalg, arith and math on tensors";
  let description = [{
    The reference CPU lowering. Every qtensor op becomes a `linalg.generic`
    whose body decodes or encodes one element with `arith`/`math` ops, with
    exactly the numerics of the op's description: `math.roundeven` for ties,
    explicit `arith.maxnumf`/`arith.minnumf` clamps, shifts and masks for
    packed codes, and constant lookup tables for `nf4`, `fp4` and FP8.

    `qtensor.dequant_matmul` becomes one reduction `linalg.generic` that
    reads the packed bytes, scales and zero-points through affine indexing
    maps (`k floordiv 2`, `k floordiv 32`, ...) and decodes each weight
    element inside the reduction: no float weight tensor is created.

    The result is ordinary tensor IR; bufferize and lower it with the
    `quant-lower-to-llvm` pipeline or any upstream pipeline.
  }];
  let dependentDialects = ["::mlir::linalg::LinalgDialect",
                           "::mlir::arith::ArithDialect",
                           "::mlir::math::MathDialect",
                           "::mlir::tensor::TensorDialect"];
}

def ConvertQuantToQTensorPass : Pass<"convert-quant-to-qtensor"> {
  let summary = "Import upstream !quant.uniform weights as qtensor ops";
  let description = [{
    Rewrites `quant.dcast` whose operand is a `quant.scast` of an integer
    constant (per-tensor or per-axis `!quant.uniform`) into
    `qtensor.dequantize` with constant scales and zero-points. Storage
    types `i2`..`i8` (signed or unsigned) map to the `siN`/`uiN` formats;
    per-axis quantization along dimension `d` gives a layout whose block is
    1 along `d` and 0 elsewhere.

    ```mlir
    %c = arith.constant dense<[[1, -2]]> : tensor<1x2xi8>
    %q = quant.scast %c : tensor<1x2xi8> to tensor<1x2x!quant.uniform<i8:f32, 0.5:1>>
    %f = quant.dcast %q : tensor<1x2x!quant.uniform<i8:f32, 0.5:1>> to tensor<1x2xf32>
    ```
    becomes
    ```mlir
    %f = qtensor.dequantize %c scales(%s : tensor<1x1xf32>)
           zero_points(%z : tensor<1x1xi32>)
           layout <si8, block = [0, 0]> : tensor<1x2xi8> -> tensor<1x2xf32>
    ```
    Quantized types that the dialect cannot express (storage wider than 8
    bits, sub-channel blocks, non-constant storage) are reported with a
    remark and left unchanged.
  }];
  let dependentDialects = ["::mlir::qtensor::QTensorDialect",
                           "::mlir::arith::ArithDialect"];
}

def InlineConstantGlobalsPass
    : Pass<"quant-inline-constant-globals", "ModuleOp"> {
  let summary = "Read constant ml_program globals in place and drop unused "
                "private globals";
  let description = [{
    Frontends keep parameters in `ml_program.global` ops (torch-mlir with
    its `--ml-program` option) and emit globals nothing reads (torch-mlir's
    `@global_seed`). This pass replaces every `ml_program.global_load_const`
    of a constant global with an `arith.constant` of its value and erases
    the private globals no longer used, so that the module can be lowered
    and run without ml_program support. The weight passes read constant
    globals directly and do not need it; `quant-lower-to-llvm` runs it
    first. A load of a global without a constant value of the loaded type is
    an error; mutable globals are left alone.

    ```mlir
    ml_program.global private @w(dense<1.0> : tensor<2xf32>) : tensor<2xf32>
    %w = ml_program.global_load_const @w : tensor<2xf32>
    ```
    becomes
    ```mlir
    %w = arith.constant dense<1.0> : tensor<2xf32>
    ```
  }];
  let dependentDialects = ["::mlir::arith::ArithDialect"];
}

def ApproximateMathPass : Pass<"quant-approximate-math"> {
  let summary = "Replace math.exp with a vectorisable polynomial";
  let description = [{
    Rewrites `math.exp` on f32 into MLIR's polynomial approximation
    (range reduction to `2^k * exp(r)` and a polynomial in `r`) built from
    `arith` ops only. libm's `expf` is a call LLVM cannot vectorise, and
    softmax and SiLU evaluate it on every attention score and hidden unit;
    the polynomial form vectorises with the surrounding loop. Overflow gives
    +inf, large negative inputs 0, NaN stays NaN. The results differ from
    libm's by a few ULP; `quant-lower-to-llvm` runs this pass.
  }];
  let dependentDialects = ["::mlir::arith::ArithDialect",
                           "::mlir::math::MathDialect"];
}

#endif // QUANT_CONVERSION_PASSES_TD
