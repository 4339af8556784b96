//===- Passes.td - qtensor transformation passes -----------*- tablegen -*-===//
//
// Part of the quant-opt project, under the Apache License v2.0 with LLVM
// Exceptions.
//
//===----------------------------------------------------------------------===//

#ifndef QUANT_DIALECT_QTENSOR_TRANSFORMS_PASSES_TD
#define QUANT_DIALECT_QTENSOR_TRANSFORMS_PASSES_TD

include "mlir/Pass/PassBase.td"

def QuantRTNPass : Pass<"quant-rtn", "ModuleOp"> {
  let summary = "Round-to-nearest weight quantization of constant matmul weights";
  let description = [{
    Finds matrix products whose weight operand is a compile-time constant and
    replaces each with `qtensor.dequant_matmul` over quantized constant
    storage. Recognised products:

    * `linalg.matmul` (with or without `indexing_maps` transposes),
      `linalg.batch_matmul`, and any `linalg.generic` that is a
      multiply-accumulate contraction with one reduction dimension;
    * weights given by `arith.constant` (`dense` or `dense_resource`) or by
      `ml_program.global_load_const` of a constant `ml_program.global`.

    The weight is brought into `[N, K]` (output channel, reduction) order at
    compile time; the activation must have K as its innermost dimension.
    Products that do not fit are left alone (with a remark under
    `report-skipped`).

    Integer formats use the GPTQ reference quantizer per group: the range is
    forced through zero, `scale = (max - min) / (2^bits - 1)`,
    `zero = roundeven(-min / scale)`, codes
    `clamp(roundeven(w / scale) + zero, 0, 2^bits - 1)`. Symmetric
    quantization stores signed codes `q - 2^(bits-1)` without zero-points.
    `nf4`/`fp4` use absmax scales per group, `f8E4M3FN`/`f8E5M2` scales of
    `absmax / max_finite`. Weights with NaN or Inf are rejected.

    Example: `--quant-rtn="bits=4 group-size=32"`

    ```mlir
    %0 = linalg.matmul ins(%x, %w : tensor<4x64xf32>, tensor<64x8xf32>)
                       outs(%init : tensor<4x8xf32>) -> tensor<4x8xf32>
    ```
    becomes
    ```mlir
    %0 = qtensor.dequant_matmul %x, %codes scales(%s : tensor<8x2xf32>)
           zero_points(%z : tensor<8x2xi8>)
           layout <ui4, block = [1, 32], packing = lsb_first>
           outs(%init : tensor<4x8xf32>)
           : tensor<4x64xf32>, tensor<8x32xi8> -> tensor<4x8xf32>
    ```
  }];
  let options = [
    Option<"format", "format", "std::string", /*default=*/"\"int\"",
           "code format: int, nf4, fp4, f8E4M3FN or f8E5M2">,
    Option<"bits", "bits", "unsigned", /*default=*/"4",
           "bit width of integer codes (2..8)">,
    Option<"groupSize", "group-size", "int64_t", /*default=*/"-1",
           "group size along K; -1 = per output channel, 0 = per tensor">,
    Option<"symmetric", "sym", "bool", /*default=*/"false",
           "symmetric integer quantization (signed codes, no zero-points)">,
    Option<"scaleType", "scale-type", "std::string", /*default=*/"\"f32\"",
           "element type of stored scales: f32, f16 or bf16">,
    Option<"pack", "pack", "bool", /*default=*/"true",
           "pack sub-byte codes LSB-first (otherwise one code per byte)">,
    Option<"reportSkipped", "report-skipped", "bool", /*default=*/"false",
           "emit a remark for every matrix product left unquantized, with "
           "the reason">,
    ListOption<"skip", "skip", "std::string",
               "weights whose name contains one of these strings are left "
               "in float">
  ];
  let dependentDialects = ["::mlir::qtensor::QTensorDialect",
                           "::mlir::arith::ArithDialect",
                           "::mlir::tensor::TensorDialect"];
}

#endif // QUANT_DIALECT_QTENSOR_TRANSFORMS_PASSES_TD
