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

def QuantGPTQPass : Pass<"gptq-quantize", "ModuleOp"> {
  let summary = "GPTQ weight quantization calibrated by running the module";
  let description = [{
    Quantizes the constant weights of matrix products (the same products as
    `--quant-rtn` finds) with GPTQ, reproducing the reference implementation
    (IST-DASLab/gptq `fasterquant`; ../shared/reference/ptq-algorithms.md
    §1): the quantizer's range is forced through zero, codes round half to
    even, columns are processed in lazy batches of `block-size` with the
    inverse-Hessian error feedback, group parameters come from the globally
    updated weights (stale inside a block, as in the reference), dead input
    channels are zeroed, act-order sorts by decreasing diag(H) with a stable
    sort (ties keep the original column order), and static groups fix the
    group parameters before any update.

    The Hessian H = (2/n) Σ x xᵀ of every product's input is collected by
    executing the module through the project's JIT on the calibration data
    (`calibration`: token ids for a model function, or a .npy of activations
    for a function taking f32 activations). With `true-sequential` (the
    reference default for LLaMA) products are quantized in program order,
    grouped by their shared input (q/k/v, then o, then gate/up, then down),
    and each group's statistics are collected from the module in which the
    earlier groups are already quantized. Without it, all statistics come
    from one run of the float module.

    The result is `qtensor.dequant_matmul` over packed unsigned codes with
    zero-points (symmetric grids store zero 2^(bits-1), as GPTQ does), f32
    scales, and, with act-order and without static groups, the `g_idx`
    group index. Cholesky runs in f64; if it fails the damping is raised by
    1% of mean(diag(H)) at a time with a warning. Per-layer loss, relative
    output error ||XWᵀ - XQᵀ||² / ||XWᵀ||² on the calibration set and time go
    to stderr and, with `report`, to a JSON file.
  }];
  let options = [
    Option<"bits", "bits", "unsigned", /*default=*/"4",
           "bit width of the codes: 2, 3, 4 or 8">,
    Option<"groupSize", "group-size", "int64_t", /*default=*/"-1",
           "group size along K; -1 = per output channel">,
    Option<"symmetric", "sym", "bool", /*default=*/"false",
           "symmetric grid (zero-point 2^(bits-1))">,
    Option<"actOrder", "act-order", "bool", /*default=*/"false",
           "process columns by decreasing Hessian diagonal (desc_act)">,
    Option<"staticGroups", "static-groups", "bool", /*default=*/"false",
           "compute group parameters before any update">,
    Option<"damp", "damp", "double", /*default=*/"0.01",
           "dampening as a fraction of mean(diag(H)) (percdamp)">,
    Option<"blockSize", "block-size", "int64_t", /*default=*/"128",
           "columns per lazy batch">,
    Option<"trueSequential", "true-sequential", "bool", /*default=*/"true",
           "collect each group's statistics after quantizing the earlier "
           "groups">,
    Option<"mse", "mse", "bool", /*default=*/"false",
           "search the quantizer's clipping range (norm 2.4, grid 100, "
           "max shrink 0.8)">,
    ListOption<"skip", "skip", "std::string",
               "weights whose name contains one of these stay in float">,
    Option<"calibration", "calibration", "std::string", /*default=*/"\"\"",
           "calibration data: token ids (.i32/.npy) or activations (.npy)">,
    Option<"calibrationFunction", "calibration-function", "std::string",
           /*default=*/"\"\"", "function to run (default: the only public "
           "one, or @forward)">,
    Option<"calibrationWindows", "calibration-windows", "int64_t",
           /*default=*/"16", "token windows used for calibration">,
    Option<"calibrationOffset", "calibration-offset", "int64_t",
           /*default=*/"0", "first id of the first window (sequential)">,
    Option<"calibrationSeed", "calibration-seed", "int64_t", /*default=*/"-1",
           "if >= 0, windows start at seeded random positions instead">,
    Option<"statistics", "statistics", "std::string", /*default=*/"\"\"",
           "use the statistics file written by --quant-calibrate instead of "
           "running the module (the float model's statistics, as without "
           "true-sequential)">,
    Option<"report", "report", "std::string", /*default=*/"\"\"",
           "write the per-layer report as JSON to this file">
  ];
  let dependentDialects = [
    "::mlir::qtensor::QTensorDialect", "::mlir::arith::ArithDialect",
    "::mlir::tensor::TensorDialect", "::mlir::linalg::LinalgDialect",
    "::mlir::math::MathDialect", "::mlir::bufferization::BufferizationDialect",
    "::mlir::memref::MemRefDialect", "::mlir::scf::SCFDialect",
    "::mlir::cf::ControlFlowDialect", "::mlir::LLVM::LLVMDialect",
    "::mlir::affine::AffineDialect", "::mlir::func::FuncDialect",
    "::mlir::index::IndexDialect"];
}

def QuantCalibratePass : Pass<"quant-calibrate", "ModuleOp"> {
  let summary = "Record activation statistics of every quantizable matmul";
  let description = [{
    Runs the module through the project's JIT on the calibration data and
    records, for the input of every matrix product with a constant weight
    (the products `--quant-rtn` and `--gptq-quantize` quantize), the Hessian
    proxy H = (2/n) Σ x xᵀ accumulated with the GPTQ reference's running
    formula (n counts sequences), the per-channel max |x| (SmoothQuant),
    mean |x| (AWQ), mean x² (llama.cpp's importance matrix) and the token
    and sequence counts. The IR is not changed.

    The statistics go to `output`, a safetensors file with, for each weight
    W (named as --quant-rtn names it), `W/hessian` (F64 [K, K]),
    `W/max_abs`, `W/mean_abs`, `W/mean_sq` (F32 [K]) and `W/count` (I64
    [2]: tokens, sequences), and metadata `format = quant-opt-calibration`,
    `version = 1`. `--gptq-quantize="statistics=FILE"` reuses it, so an
    expensive calibration is done once.
  }];
  let options = [
    Option<"calibration", "calibration", "std::string", /*default=*/"\"\"",
           "calibration data: token ids (.i32/.npy) or activations (.npy)">,
    Option<"calibrationFunction", "calibration-function", "std::string",
           /*default=*/"\"\"", "function to run (default: the only public "
           "one, or @forward)">,
    Option<"calibrationWindows", "calibration-windows", "int64_t",
           /*default=*/"16", "token windows used for calibration">,
    Option<"calibrationOffset", "calibration-offset", "int64_t",
           /*default=*/"0", "first id of the first window (sequential)">,
    Option<"calibrationSeed", "calibration-seed", "int64_t", /*default=*/"-1",
           "if >= 0, windows start at seeded random positions instead">,
    Option<"output", "output", "std::string", /*default=*/"\"\"",
           "safetensors file to write (required)">
  ];
  let dependentDialects = [
    "::mlir::arith::ArithDialect", "::mlir::tensor::TensorDialect",
    "::mlir::linalg::LinalgDialect", "::mlir::math::MathDialect",
    "::mlir::bufferization::BufferizationDialect",
    "::mlir::memref::MemRefDialect", "::mlir::scf::SCFDialect",
    "::mlir::cf::ControlFlowDialect", "::mlir::LLVM::LLVMDialect",
    "::mlir::affine::AffineDialect", "::mlir::func::FuncDialect",
    "::mlir::index::IndexDialect"];
}

#endif // QUANT_DIALECT_QTENSOR_TRANSFORMS_PASSES_TD
