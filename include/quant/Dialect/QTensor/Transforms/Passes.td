//===- Passes.td - qtensor transformation passes -----------*- tablegen -*-===//
//
// Part of the quant-opt project, under the Apache License v2.0 with LLVM
// Exceptions.
//
//===----------------------------------------------------------------------===//

#ifndef QUANT_DIALECT_QTENSOR_TRANSFORMS_PASSES_TD
#define QUANT_DIALECT_QTENSOR_TRANSFORMS_PASSES_TD

include "mlir/Pass/PassBase.td"


// Where calibration activations come from; shared by the calibrated passes.
defvar calibrationDataOptions = [
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
    Option<"segmented", "segmented", "bool", /*default=*/"true",
           "run the model one segment (half block) at a time where it "
           "splits, compiling each distinct segment once; false runs it "
           "whole">
];

// Every weight pass says why it left a weight-carrying product in float
// when asked, and counts what it did.
defvar reportSkippedOption = Option<"reportSkipped", "report-skipped", "bool",
    /*default=*/"false",
    "emit a remark for every weight-carrying matrix product left in float, "
    "with the reason">;
defvar weightPassStatistics = [
    Statistic<"numQuantized", "quantized-products",
              "Weight-carrying matrix products quantized">,
    Statistic<"numLeftInFloat", "float-products",
              "Weight-carrying matrix products left in float">];

// Dialects the calibrated passes create. qtensor is among them also because
// a registered module executor (Executor.h) is attached to it: loading it
// loads the dialects the executor's lowering needs.
defvar calibratedPassDialects = [
    "::mlir::qtensor::QTensorDialect", "::mlir::arith::ArithDialect",
    "::mlir::linalg::LinalgDialect", "::mlir::tensor::TensorDialect"];

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
      `ml_program.global_load_const` of a constant `ml_program.global`;
    * `qtensor.ggml_matmul ... as f16` / `as bf16` over a constant (how GGUF
      import keeps F16/BF16 matrices): rewritten exactly as a float
      `linalg.generic` product first. Every weight pass does the same.

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
    Option<"format", "format", "::mlir::qtensor::RTNFormat",
           /*default=*/"::mlir::qtensor::RTNFormat::Int",
           "code format: int, nf4, fp4, f8E4M3FN or f8E5M2">,
    Option<"bits", "bits", "unsigned", /*default=*/"4",
           "bit width of integer codes (2..8)">,
    Option<"groupSize", "group-size", "int64_t", /*default=*/"-1",
           "group size along K; -1 = per output channel, 0 = per tensor">,
    Option<"symmetric", "sym", "bool", /*default=*/"false",
           "symmetric integer quantization (signed codes, no zero-points)">,
    Option<"scaleType", "scale-type", "::mlir::qtensor::ScaleElementType",
           /*default=*/"::mlir::qtensor::ScaleElementType::F32",
           "element type of stored scales: f32, f16 or bf16">,
    Option<"pack", "pack", "bool", /*default=*/"true",
           "pack sub-byte codes LSB-first (otherwise one code per byte)">,
    reportSkippedOption,
    ListOption<"skip", "skip", "std::string",
               "weights whose name contains one of these strings are left "
               "in float">
  ];
  let dependentDialects = ["::mlir::qtensor::QTensorDialect",
                           "::mlir::arith::ArithDialect",
                           "::mlir::tensor::TensorDialect"];
  let statistics = weightPassStatistics;
}

def QuantGPTQPass : Pass<"gptq-quantize", "ModuleOp"> {
  let summary = "GPTQ weight quantization calibrated by running the module";
  let description = [{
    Quantizes the constant weights of matrix products (the same products as
    `--quant-rtn` finds) with GPTQ, reproducing the reference implementation
    (IST-DASLab/gptq `fasterquant`; docs/Numerics.md
    §3): the quantizer's range is forced through zero, codes round half to
    even, columns are processed in lazy batches of `block-size` with the
    inverse-Hessian error feedback, group parameters come from the globally
    updated weights (stale inside a block, as in the reference), dead input
    channels are zeroed, act-order sorts by decreasing diag(H) with a stable
    sort (ties keep the original column order), and static groups fix the
    group parameters before any update.

    The Hessian H = (2/n) Σ x xᵀ of every product's input is collected by
    executing the module with the context's module executor (the project's
    CPU JIT in quant-opt, quant-run and QuantPlugin) on the calibration data
    (`calibration`: token ids for a model function, or a .npy of activations
    for a function taking f32 activations). With `true-sequential` (the
    reference default for LLaMA) products are quantized in program order,
    grouped by their shared input (q/k/v, then o, then gate/up, then down),
    and each group's statistics are collected from the module in which the
    earlier groups are already quantized. Without it, all statistics come
    from one run of the float module.

    True-sequential calibration runs the model one segment at a time
    (`segmented`, the default): the function is split at the values all
    later computation goes through (a transformer's residual stream between
    its attention and MLP blocks), each segment becomes a function of its
    input with the weights it reads as arguments, compiled once per distinct
    body (blocks of one shape share it), and only the current segment's
    inputs for the calibration windows are held. This is the reference's
    layer-by-layer loop, with the same statistics; `segmented=false` re-runs
    the whole model from its input for every group (and for the single
    collection without true-sequential), and a function without such cuts
    is run whole.

    The result is `qtensor.dequant_matmul` over packed unsigned codes with
    zero-points (symmetric grids store zero 2^(bits-1), as GPTQ does), f32
    scales, and, with act-order and without static groups, the `g_idx`
    group index. Cholesky runs in f64; if it fails the damping is raised by
    1% of mean(diag(H)) at a time with a warning. Per-layer loss, relative
    output error ||XWᵀ - XQᵀ||² / ||XWᵀ||² on the calibration set and time go
    to stderr and, with `report`, to a JSON file.
  }];
  let options = !listconcat(calibrationDataOptions, [
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
    reportSkippedOption,
    ListOption<"skip", "skip", "std::string",
               "weights whose name contains one of these stay in float">,
    Option<"statistics", "statistics", "std::string", /*default=*/"\"\"",
           "use the statistics file written by --quant-calibrate instead of "
           "running the module (the float model's statistics, as without "
           "true-sequential)">,
    Option<"report", "report", "std::string", /*default=*/"\"\"",
           "write the per-layer report as JSON to this file">
  ]);
  let dependentDialects = calibratedPassDialects;
  let statistics = weightPassStatistics;
}

def QuantCalibratePass : Pass<"quant-calibrate", "ModuleOp"> {
  let summary = "Record activation statistics of every quantizable matmul";
  let description = [{
    Runs the module with the context's module executor on the calibration
    data and
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
  let options = !listconcat(calibrationDataOptions, [
    Option<"output", "output", "std::string", /*default=*/"\"\"",
           "safetensors file to write (required)">
  ]);
  let dependentDialects = calibratedPassDialects;
}

def QuantAWQPass : Pass<"quant-awq", "ModuleOp"> {
  let summary = "AWQ: activation-aware per-channel scaling, clipping and "
                "group quantization";
  let description = [{
    Activation-aware weight quantization (Lin et al. 2024) as llm-awq and
    AutoAWQ do it (docs/Numerics.md §4), on the
    constant-weight products grouped by shared input:

    1. One calibration run of the float model records every group's input
       (the float outputs feed the next layer, as in the reference).
    2. **Scale search**, for each group whose input's producer can absorb
       a per-channel scale (found from the IR's structure, see
       ScaleFolding.h: input norm -> q,k,v; v -> o when each head indexes
       V directly, so not under grouped-query attention; post-attention
       norm -> gate,up; up -> down): for ratio r = 0, 1/grid, ..,
       s = mean|x|^r (or AutoAWQ's duo scaling
       mean|x|^r / (w_mean^(1-r) + 1e-4)), clamped to 1e-4 and divided by
       sqrt(max(s) min(s)); the weights become Q(W s) / s and the mean
       squared error of the group's outputs is measured; the first
       strictly best ratio is applied by folding 1/s into the producer.
       The error is measured where the reference's `module2inspect` ends:
       for several products sharing an input, at the first later product
       with a constant weight that every path from them passes through
       (the attention block's output projection for q,k,v; the MLP's down
       projection for gate,up), by running that part of the model with
       candidate weights on the recorded windows; a single product is its
       own block. The output head (a product whose result the function
       returns) is not scaled.
    3. **Clip search** for every product except queries and keys (products
       whose output reaches a softmax's exponential through an
       activation-by-activation product): per (row, group) the bound
       max|w| (1 - i/grid), i < max-shrink * grid, with the smallest
       output error on every (tokens/512)-th token.
    4. **Quantization** with AWQ's quantizer, whose range is not forced
       through zero: s = max(max - min, 1e-5) / (2^bits - 1),
       z = clamp(-round(min / s)), q = clamp(round(w / s) + z), per group
       of `group-size` columns (a shorter last group when K is not a
       multiple), stored as packed unsigned codes with zero-points.

    Example: `--quant-awq="bits=4 group-size=128 calibration=ids.i32"`
  }];
  let options = !listconcat(calibrationDataOptions, [
    Option<"bits", "bits", "unsigned", /*default=*/"4",
           "bit width of the codes (2..8)">,
    Option<"groupSize", "group-size", "int64_t", /*default=*/"128",
           "group size along K (<= 0: one group per row)">,
    Option<"duoScaling", "duo-scaling", "bool", /*default=*/"false",
           "AutoAWQ's duo scaling instead of the paper's x_mean^r">,
    Option<"grid", "grid", "int64_t", /*default=*/"20",
           "grid points of the scale and clip searches">,
    Option<"clip", "clip", "bool", /*default=*/"true",
           "search clipping bounds">,
    Option<"maxShrink", "max-shrink", "double", /*default=*/"0.5",
           "largest relative shrink of the clipping search">,
    reportSkippedOption,
    ListOption<"skip", "skip", "std::string",
               "weights whose name contains one of these stay in float">
  ]);
  let dependentDialects = calibratedPassDialects;
  let statistics = weightPassStatistics;
}

def QuantLLMInt8Pass : Pass<"quant-llm-int8", "ModuleOp"> {
  let summary = "LLM.int8(): int8 vector-wise products with a float outlier "
                "decomposition";
  let description = [{
    LLM.int8() (Dettmers et al. 2022) as bitsandbytes' `Linear8bitLt` runs
    it by default (docs/Numerics.md §6). Each
    constant-weight product becomes, at run time:

    ```
    cols   = input columns holding any |x| >= threshold (per call)
    x'     = x with the outlier ELEMENTS zeroed
    xq, sx = qtensor.dynamic_quantize x' (per token, int8)
    xq[:, cols] = 0
    y      = init + qtensor.quantized_matmul(xq, sx, Wq, sW)
               + x[:, cols] · (Wq[:, cols] * sW / 127)ᵀ
    ```

    with `Wq = round(W / sW)`, `sW = max|W[n, :]| / 127` per output row
    (int8 weights are stored, and the outlier part multiplies the float
    activations by the int8-dequantized weight columns, as current
    bitsandbytes does with `has_fp16_weights=False`). Products sharing an
    input share the outlier detection and activation quantization. No
    calibration is needed. The output head (a product whose result the
    function returns) stays float unless `quantize-head`.
  }];
  let options = [
    Option<"threshold", "threshold", "double", /*default=*/"6.0",
           "activation magnitude that makes a column an outlier column">,
    Option<"quantizeHead", "quantize-head", "bool", /*default=*/"false",
           "also convert products whose result the function returns">,
    reportSkippedOption,
    ListOption<"skip", "skip", "std::string",
               "weights whose name contains one of these stay in float">
  ];
  let dependentDialects = ["::mlir::qtensor::QTensorDialect",
                           "::mlir::arith::ArithDialect",
                           "::mlir::linalg::LinalgDialect",
                           "::mlir::math::MathDialect",
                           "::mlir::tensor::TensorDialect"];
  let statistics = weightPassStatistics;
}

def QuantSmoothQuantPass : Pass<"quant-smoothquant", "ModuleOp"> {
  let summary = "SmoothQuant: migrate activation outliers into the weights, "
                "then W8A8";
  let description = [{
    SmoothQuant (Xiao et al. 2023), as the reference `smooth_ln_fcs` and
    `fake_quant.py` do it (docs/Numerics.md §5).

    **Smoothing.** The constant-weight products are grouped by their shared
    input x. With the per-channel calibration maximum `a_j = max |x_j|` and
    the weights' column maximum `w_j = max(max over the group's rows
    |W[:, j]|, 1e-5)`, the scale is `s_j = max(a_j^alpha / w_j^(1-alpha),
    1e-5)`; x's producer absorbs `1/s` and every weight column is multiplied
    by `s_j`, so the float function is unchanged up to rounding. The
    producer is found from the IR's structure (see ScaleFolding.h): an
    RMSNorm/LayerNorm weight and bias, a preceding linear's output rows, or
    an elementwise op that gets a division appended. As in the reference,
    only groups whose scale is absorbed by an elementwise op's constant (the
    norms in front of q/k/v and gate/up) are smoothed unless `smooth-all`
    is set; a group whose producer cannot absorb a scale is left unsmoothed
    with a remark. The computation runs in f32 (the reference runs it in the
    weights' dtype, f16 in practice).

    **W8A8.** Then every product (the output head only with `quantize-head`)
    becomes `qtensor.quantized_matmul`: int8 weights with symmetric scales
    `max(absmax, 1e-5) / 127` per output channel (`weights=per-channel`) or
    per tensor, or per group of `weight-group-size` columns (ZeroQuant's
    group-wise weights), codes `roundeven(w / s)`; int8 activations quantized at run
    time per token (`activations=per-token`, O1 / ZeroQuant), per tensor
    (`per-tensor`, O2) or with a static per-tensor scale from the
    calibration maxima (`static`, O3: codes clamped to [-128, 127]).
    `activations=none` only smooths. Products sharing an input share one
    activation quantization.

    Example: `--quant-smoothquant="alpha=0.5 calibration=ids.i32"`
  }];
  let options = !listconcat(calibrationDataOptions, [
    Option<"statistics", "statistics", "std::string", /*default=*/"\"\"",
           "use the statistics file written by --quant-calibrate instead of "
           "running the module">,
    Option<"alpha", "alpha", "double", /*default=*/"0.5",
           "migration strength in [0, 1]">,
    Option<"smooth", "smooth", "bool", /*default=*/"true",
           "smooth before quantizing (false: plain W8A8)">,
    Option<"smoothAll", "smooth-all", "bool", /*default=*/"false",
           "also smooth groups whose producer is a linear or an activation">,
    Option<"activations", "activations",
           "::mlir::qtensor::ActivationQuantization",
           /*default=*/"::mlir::qtensor::ActivationQuantization::PerToken",
           "activation quantization: per-token, per-tensor, static or none">,
    Option<"weights", "weights", "::mlir::qtensor::WeightScaleGranularity",
           /*default=*/"::mlir::qtensor::WeightScaleGranularity::PerChannel",
           "weight scales: per-channel or per-tensor">,
    Option<"weightGroupSize", "weight-group-size", "int64_t", /*default=*/"0",
           "if > 0, weight scales per group of this many columns "
           "(ZeroQuant); must divide every K">,
    Option<"quantizeHead", "quantize-head", "bool", /*default=*/"false",
           "also quantize products whose result the function returns">,
    reportSkippedOption,
    ListOption<"skip", "skip", "std::string",
               "weights whose name contains one of these stay in float">
  ]);
  let dependentDialects = calibratedPassDialects;
  let statistics = weightPassStatistics;
}

def QuantGGUFPass : Pass<"quant-gguf", "ModuleOp"> {
  let summary = "Quantization to llama.cpp's ggml block types and mixes";
  let description = [{
    Quantizes the constant weights of matrix products (the products
    `--quant-rtn` finds) to ggml block types, byte for byte as llama.cpp's
    `llama-quantize` writes them (quant/Numerics/GGUFQuants.h), and replaces
    each product with `qtensor.ggml_matmul` over an i8 constant
    `[N, K / QK * B]` holding the blocks (a `dense_resource` blob named
    `<weight>.qweight` when the weight was one). The op keeps the weight's
    name as its location and in the `qtensor.weight_name` attribute.

    **Types.** `type` is the type of every weight (`q4_0`, `q4_1`, `q5_0`,
    `q5_1`, `q8_0`, `q2_K` .. `q6_K`), like `llama-quantize --pure`.
    `mix` instead names one of llama.cpp's file types (`Q2_K`, `Q3_K_S`,
    `Q3_K_M`, `Q3_K_L`, `Q4_K_S`, `Q4_K_M`, `Q5_K_S`, `Q5_K_M`, `Q6_K`,
    `Q4_0`, `Q4_1`, `Q5_0`, `Q5_1`, `Q8_0`): its base type, with more bits
    for some tensors as `llama_tensor_get_type_impl` in llama.cpp's
    src/llama-quant.cpp chooses them for a dense Llama (no experts, not
    Falcon, not the 70B special case). With `n` layers and
    `use_more_bits(i, n) = i < n/8 || i >= 7n/8 || (i - n/8) % 3 == 2`:

    | tensor | rule |
    | --- | --- |
    | output (classifier, tied or not) | `q8_0` when K is not a multiple of the base type's block, else `q6_K` (base `q8_0` stays `q8_0`) |
    | attn_v | `Q4_K_M`, `Q5_K_M`: `q6_K` where use_more_bits; `Q4_K_S`: `q5_K` in layers 0..3; `Q3_K_M`: `q5_K` in layers 0, 1, else `q4_K`; `Q3_K_L`: `q5_K`; `Q2_K`: `q4_K` when n_head / n_head_kv >= 4, else `q3_K` |
    | ffn_down | `Q4_K_M`, `Q5_K_M`: `q6_K` where use_more_bits; `Q4_K_S`: `q5_K` for i < n/8; `Q3_K_M`: `q5_K` for i < n/16, else `q4_K`; `Q3_K_L`: `q5_K`; `Q2_K`: `q3_K`; `Q4_0`, `Q5_0` with an importance matrix: `q4_1`, `q5_1` for i < n/8 |
    | attn_output | `Q2_K`: `q3_K`; `Q3_K_M`: `q4_K`; `Q3_K_L`: `q5_K` |

    Roles and layers come from the weight names, in any of three naming
    schemes: llama2.c (`wq.3`, `wk.3`, `wv.3`, `wo.3`, `w1.3` gate, `w2.3`
    down, `w3.3` up; classifier `wcls` or the tied `token_embedding`),
    Hugging Face (`model.layers.3.self_attn.v_proj.weight`,
    `model.layers.3.mlp.down_proj.weight`, ..., `lm_head.weight` or the tied
    `model.embed_tokens.weight`) and GGUF (`blk.3.attn_v.weight`, ...,
    `output.weight`, `token_embd.weight`). `n` is the highest layer index
    plus one; the attn_v rules count attn_v tensors, n_head / n_head_kv is
    rows(attn_q) / rows(attn_v). Other names get the base type.

    **Fallback.** When K is not a multiple of the chosen type's block
    (256 for K-quants, 32 for the others), llama.cpp's
    `tensor_type_fallback` applies: `q2_K`, `q3_K` -> `q4_0` (the non-IQ
    choice; older llama.cpp chose IQ4_NL), `q4_K` -> `q5_0`, `q5_K` ->
    `q5_1`, `q6_K` -> `q8_0`, and F16 when 32 does not divide K either. For
    the 32-blocks types, where llama.cpp has no fallback and stops, F16 is
    used too. F16 is `qtensor.ggml_matmul ... as f16`: the weight in ggml's
    f16 storage, decoded exactly to f32 inside the product (llama.cpp's CPU
    backend also rounds the activations to f16 for an F16 weight; here they
    stay f32). Every fallback emits a remark naming the weight and the type
    used.

    **Importance matrix.** With `statistics` (a file from
    `--quant-calibrate`; its `W/mean_sq` entries are E[x^2] per input
    column, which is llama.cpp's imatrix) or `calibration` (the module is
    run on the data first, as `--quant-calibrate` does), the quantizers take
    the imatrix path of ggml's `quantize_<type>`; without either, the
    reference `quantize_row_<type>_ref`. `q8_0` ignores it.

    **Per-tensor types.** `tensor-type` entries `PATTERN=TYPE`, like
    llama-quantize's `--tensor-type`, give the weights whose name matches
    PATTERN (an extended regular expression, found anywhere in the name)
    TYPE instead: a ggml type above, `f16` or `bf16`. A weight matches
    through its own name or its llama.cpp name (`blk.3.attn_v.weight`,
    `output.weight`, `token_embd.weight` for a tied classifier), so
    `attn_v=q8_0` works for every naming scheme; when several entries
    match, the last wins. As in llama-quantize, an entry is not applied
    (a remark says so) to a weight whose mix or base type needed a
    fallback; unlike `--pure`, which ignores `--tensor-type`, entries also
    apply with `type`. A TYPE whose blocks do not divide the weight's row
    length is an error (llama-quantize would abort inside ggml).

    Weights whose names contain a `skip` string stay in float; batched
    products and products with non-f32 activations are left alone with a
    remark, and so are weights already in ggml blocks (a GGUF import's;
    llama-quantize needs --allow-requantize for those). Weights in ggml's
    f16 / bf16 storage count as float weights.

    **File type.** With `mix`, the module gets `qtensor.gguf_file_type`,
    the mix's `llama_ftype` id (15 for Q4_K_M), which the GGUF exporter
    writes as `general.file_type` as llama-quantize does; without `mix` the
    attribute is removed (a GGUF import sets it) and the exporter infers the
    file type from the matrices' types.

    Examples: `--quant-gguf="mix=Q4_K_M statistics=stats.safetensors"`,
    `--quant-gguf="type=q4_0 tensor-type=attn_v=q8_0,blk\.0\.=q6_K"`
  }];
  let options = !listconcat(calibrationDataOptions, [
    Option<"type", "type", "::quantopt::numerics::GGMLType",
           /*default=*/"::quantopt::numerics::GGMLType::Q4_K",
           "ggml type of every weight: q4_0, q4_1, q5_0, q5_1, q8_0, q2_K, "
           "q3_K, q4_K, q5_K or q6_K (any case)">,
    Option<"mix", "mix", "::mlir::qtensor::GGUFMix",
           /*default=*/"::mlir::qtensor::GGUFMix::None",
           "llama.cpp file type choosing the type per tensor (Q4_K_M, "
           "Q4_K_S, Q5_K_M, Q5_K_S, Q3_K_S/M/L, Q2_K, Q6_K, Q4_0, Q4_1, "
           "Q5_0, Q5_1, Q8_0; any case); none: `type` everywhere">,
    Option<"statistics", "statistics", "std::string", /*default=*/"\"\"",
           "importance matrix from a --quant-calibrate statistics file "
           "(W/mean_sq)">,
    ListOption<"tensorTypes", "tensor-type", "std::string",
               "PATTERN=TYPE: weights whose name (or llama.cpp name) "
               "matches the regular expression PATTERN get TYPE; the last "
               "match wins">,
    reportSkippedOption,
    ListOption<"skip", "skip", "std::string",
               "weights whose name contains one of these stay in float">
  ]);
  let dependentDialects = calibratedPassDialects;
  let statistics = weightPassStatistics;
}

def QuantBnbPass : Pass<"quant-bnb", "ModuleOp"> {
  let summary = "bitsandbytes NF4 / FP4 weights, optionally double-quantized";
  let description = [{
    Quantizes every constant-weight matrix product (the products
    `--quant-rtn` recognises) exactly as bitsandbytes' `quantize_4bit` does
    on CUDA, and replaces it with `qtensor.dequant_matmul`:

    * the weight is brought into `[N, K]` order (`torch.nn.Linear`'s) and
      flattened; blocks of `blocksize` consecutive elements of the flat
      tensor (a power of two in [32, 4096]; default 64) share an f32 absmax;
      elements are scaled by the f32 reciprocal `x * (1 / absmax)` and coded
      as NF4 or FP4 with the kernels' strict `>` thresholds, two codes per
      byte, the first in the high nibble (`packing = msb_first`);
    * when K is a multiple of `blocksize`, no block straddles a row and the
      op uses `block = [1, blocksize]` with `[N, K / 2]` storage and
      `[N, K / blocksize]` scales; otherwise (stories260K's K = 172) the flat
      layout `block = [blocksize]` with 1-D storage `[ceil(N * K / 2)]` and
      1-D scales `[ceil(N * K / blocksize)]`. Both store bitsandbytes' bytes
      and absmax unchanged.
    * `double-quant` (bitsandbytes' `compress_statistics`): the absmax
      values lose their f32 mean `offset`, and the rest is coded with the
      signed 8-bit dynamic map in blocks of 256 with an f32 `absmax2` per
      block. The scales operand becomes

      ```mlir
      %a = qtensor.dequantize %codes8 scales(%absmax2 : tensor<1xf32>)
             layout <dynamic8, block = [256]> : tensor<Gxi8> -> tensor<Gxf32>
      %s = linalg.generic {indexing_maps = [id, () -> (), id], ...}
             ins(%a, %offset : tensor<Gxf32>, tensor<f32>) ... { arith.addf }
      ```

      (shaped `[N, K / blocksize]` in the per-row form, where the flat
      `dynamic8` layout reads the codes in the same order), i.e.
      `map[code] * absmax2 + offset` with two f32 roundings, as
      `dequantize_4bit` computes it.

    The codes, absmax, 8-bit codes and absmax2 are bitsandbytes' bit for
    bit (quant/Numerics/Bitsandbytes.h); the offset is the f32 mean summed
    in f64 (torch's f32 sum may differ in the last bits). The lowered
    product decodes `table[q] * scale` inside the reduction. Batched
    products are left in float with a remark; weights with NaN or Inf are
    rejected; weights whose names contain a `skip` string stay in float.

    Example: `--quant-bnb="format=nf4 blocksize=64 double-quant=true"`
  }];
  let options = [
    Option<"format", "format", "::mlir::qtensor::BnbFormat",
           /*default=*/"::mlir::qtensor::BnbFormat::NF4",
           "4-bit code format: nf4 or fp4">,
    Option<"blocksize", "blocksize", "int64_t", /*default=*/"64",
           "elements of the flattened weight per absmax (power of two in "
           "32..4096)">,
    Option<"doubleQuant", "double-quant", "bool", /*default=*/"false",
           "code the absmax with the 8-bit dynamic map in blocks of 256 "
           "(compress_statistics)">,
    reportSkippedOption,
    ListOption<"skip", "skip", "std::string",
               "weights whose name contains one of these strings are left "
               "in float">
  ];
  let dependentDialects = ["::mlir::qtensor::QTensorDialect",
                           "::mlir::arith::ArithDialect",
                           "::mlir::linalg::LinalgDialect",
                           "::mlir::tensor::TensorDialect"];
  let statistics = weightPassStatistics;
}

def QuantDecodeStepPass : Pass<"quant-decode-step", "ModuleOp"> {
  let summary = "Derive a key/value-cached decode step from a Llama forward";
  let description = [{
    Adds, next to an imported Llama's full-sequence forward
    `@F(tensor<BxSxi32>) -> tensor<BxSxVxf32>`, a function that runs
    `tokens` new positions against a key/value cache:

    ```mlir
    func.func @F_step(%tokens: tensor<BxTxi32>, %position: tensor<1xi32>,
                      %keys: tensor<LxBxHkvxDxSxf32>,
                      %values: tensor<LxBxHkvxDxSxf32>)
        -> (tensor<BxTxVxf32>, tensor<LxBxHkvxDxTxf32>,
            tensor<LxBxHkvxDxTxf32>)
    ```

    The caches hold, for each layer, batch row and key/value head, the
    rotated keys and the values of positions `0 .. position - 1`, head
    dimension before position (the order in which attention reads them
    contiguously); the step returns the logits of the `T` new tokens at
    positions `position ..`, and their keys and values, which the caller
    writes into its caches at `position`. `position` is clamped to
    `[0, S - T]`, so reads stay inside the caches; positions beyond the
    forward's window `S` have no rotary table.

    With `cache-type=f16` the caches hold f16 values (the caller rounds
    the new keys and values to nearest even), widened exactly where
    attention reads them. With `cache-type=int8` the caches are `tensor<LxBxHkvxDxSxi8>` codes
    followed by two more arguments, their scales `tensor<LxBxHkvxSxf32>`:
    entry `(l, b, h, d, p)` stands for `code * scale[l, b, h, p]`, decoded
    inside the attention products. The caller quantizes the new keys and
    values it gets back in f32, symmetric per (layer, row, head, position)
    over the head dimension: `scale = max|x| / 127`, `code =
    clamp(roundeven(x / scale), -127, 127)` (a zero vector gets scale 0 and
    codes 0). The new positions' own keys and values are used unrounded
    within the step that computes them.

    The step is derived from the forward as it stands, after any weight
    pass: every op that works position by position (embedding, norms,
    quantized or float products, rotary embedding, activations, residuals,
    `qtensor.dynamic_quantize` per token) is cloned with `T` positions
    instead of `S`, reading the same constants, so the step shares every
    weight and every rewrite of the forward by construction; the rotary
    tables are read from row `position` on. Each attention (found through
    the `qtensor.attention` marks the importers put on its head split and
    join) is replaced with causal attention over the cache followed by the
    new positions: `O(position)` work per token, where the forward's is
    `O(S)`. Run the pass last: later weight passes would quantize the two
    functions separately.

    Errors name the op when the forward mixes positions outside attention
    (a reduction over the sequence, per-tensor dynamic quantization, an
    index of the position loop) or when a mark is missing.
  }];
  let options = [
    Option<"function", "function", "std::string", /*default=*/"\"forward\"",
           "the full-sequence forward">,
    Option<"stepFunction", "step-function", "std::string",
           /*default=*/"\"\"", "name of the step (default: <function>_step)">,
    Option<"tokens", "tokens", "int64_t", /*default=*/"1",
           "new positions per step (T)">,
    Option<"cacheType", "cache-type", "std::string", /*default=*/"\"f32\"",
           "what the caches hold: f32 or f16 values, or int8 codes with an "
           "f32 scale per layer, row, head and position">
  ];
  let dependentDialects = ["::mlir::qtensor::QTensorDialect",
                           "::mlir::arith::ArithDialect",
                           "::mlir::linalg::LinalgDialect",
                           "::mlir::math::MathDialect",
                           "::mlir::tensor::TensorDialect"];
}

#endif // QUANT_DIALECT_QTENSOR_TRANSFORMS_PASSES_TD
