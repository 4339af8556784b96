//===- QTensorOps.td - qtensor operations ------------------*- tablegen -*-===//
//
// Part of the quant-opt project, under the Apache License v2.0 with LLVM
// Exceptions.
//
//===----------------------------------------------------------------------===//

#ifndef QUANT_DIALECT_QTENSOR_IR_QTENSOROPS_TD
#define QUANT_DIALECT_QTENSOR_IR_QTENSOROPS_TD

include "quant/Dialect/QTensor/IR/QTensorAttrs.td"
include "mlir/Interfaces/SideEffectInterfaces.td"

def QTensor_Storage : RankedTensorOf<[I8]>;
def QTensor_FloatTensor : RankedTensorOf<[F32, F16, BF16]>;
def QTensor_ScaleTensor : RankedTensorOf<[F32, F16, BF16]>;
def QTensor_ZeroPointTensor : RankedTensorOf<[I8, I16, I32, F32, F16, BF16]>;
def QTensor_GroupIndex : 1DTensorOf<[I32]>;

defvar ggmlBlocks = [{
    **ggml blocks.** Each row of `storage` is the row's ggml blocks, byte for
    byte as llama.cpp writes them in GGUF files: a row of K elements holds
    `K / QK` blocks of `B` bytes (QK = 32 and B = 18, 20, 22, 24, 34 for
    `q4_0`, `q4_1`, `q5_0`, `q5_1`, `q8_0`; QK = 256 and B = 84, 110, 144,
    176, 210 for `q2_K` .. `q6_K`; QK = 1 and B = 2 for `f16` and `bf16`),
    so K must be a multiple of QK and the storage row has `K / QK * B`
    bytes. Elements decode exactly as ggml's
    `dequantize_row_*` does (f16 scales widened to f32, the same products
    in the same order); the scales live inside the blocks, which is why
    these ops take no `scales` operand.
}];

defvar quantNumerics = [{
    **Numerics of integer formats.** With scale `s` and zero-point `z` of the
    element's block (`z = 0` when there are no zero-points), quantization is

    ```
    q = clamp(roundeven(x / s) + z, qmin, qmax)     integer z
    q = clamp(roundeven(x / s + z), qmin, qmax)     float z
    ```

    with a true division (not a multiplication by 1/s), `roundeven` rounding
    half to even, and [qmin, qmax] the code range of the format. NaN codes to
    qmin, +-Inf saturate. A zero scale gives `q = clamp(round(z))`, the code of
    0.0. Dequantization is `x' = s * (q - z)` computed in f32.

    **Lookup formats** (`nf4`, `fp4`): `y = x / s` (0 when `s == 0`) is
    clamped to [-1, 1] with NaN becoming -1, then coded as the nearest table
    value; a value exactly on a decision threshold takes the code below it
    (bitsandbytes' strict `>`; FP4 thresholds apply to `|y|`, the sign goes
    to bit 3). Dequantization is `table[q] * s`.

    **FP8 formats**: `x / s` (0 when `s == 0`) is converted to the format
    with round half to even, saturating at the largest finite value (448 for
    E4M3FN, 57344 for E5M2); NaN becomes the format's NaN (0x7F, 0x7E).
    Dequantization is `fp8_to_f32(q) * s`.

    **`dynamic8`**: `y = x / s` (0 when `s == 0`) is coded as bitsandbytes'
    CUDA kernel does (`dQuantize<0>`): a binary search of the 256-entry map
    from index 127 in seven halving steps, then the f32 midpoint to the
    neighbour on `y`'s side decides, a value on the midpoint keeping the
    (even) candidate; values beyond [-1, 1] take the end codes and NaN codes
    to 0. Dequantization is `map[q] * s`. (bitsandbytes scales by the f32
    reciprocal, `x * (1 / s)`; the `--quant-bnb` pass quantizes at compile
    time with exactly that, so its codes are bitsandbytes'.)
}];

defvar gatedEpilogue = [{

    **Gated epilogue** (optional). With `gated(B)` and an `epilogue`
    region, the weight holds two products of the same input, a gate `G`
    and an up projection `U`, each with `N` output channels, their rows
    interleaved in blocks of `B`: block `j` is rows `j B .. j B + b - 1`
    of `G` followed by the same rows of `U`, where `b = min(B, N - j B)`
    (the last block may be short). The weight has `2 N` rows and `init`
    and the result have `N` channels:

    ```
    p[.., r]   = input · dequant(W)[r]ᵀ      (no init; r < 2 N)
    g[.., n]   = p[.., 2 B (n / B) + n mod B]
    u[.., n]   = p[.., 2 B (n / B) + b + n mod B]
    result[.., n] = epilogue(g[.., n], u[.., n], init[.., n])
    ```

    The region takes the three f32 scalars (gate, up, init) and yields the
    result with `qtensor.yield`; it holds only elementwise `arith`/`math`
    ops and constants (`--quant-fuse-epilogue` moves a SwiGLU
    `silu(gate) * up` here). Lowerings apply it to each output while the
    products are in registers or cache, so that the `2 N` products never
    make a trip through memory; the interleaving puts the gate and up rows
    of a channel block in the same task. Each `p` is the product the op
    computes without an epilogue, bit for bit, so the result equals the
    unfused products followed by the region's ops.
}];

def QTensor_QuantizeOp : QTensor_Op<"quantize", [Pure]> {
  let summary = "Quantize a float tensor into codes";
  let description = !strconcat([{
    Converts `input` into the storage codes of `layout`, using one scale (and
    optional zero-point) per block. The result is the storage tensor, packed
    as the layout says.

    Example: 4-bit asymmetric codes in groups of 32 along K, packed two per
    byte with the lower element in the low nibble.

    ```mlir
    %q = qtensor.quantize %w scales(%s : tensor<8x2xf32>)
           zero_points(%z : tensor<8x2xi8>)
           layout <ui4, block = [1, 32], packing = lsb_first>
           : tensor<8x64xf32> -> tensor<8x32xi8>
    ```
  }], quantNumerics);
  let arguments = (ins
    QTensor_FloatTensor:$input,
    QTensor_ScaleTensor:$scales,
    Optional<QTensor_ZeroPointTensor>:$zeroPoints,
    QTensor_LayoutAttr:$layout);
  let results = (outs QTensor_Storage:$result);
  let assemblyFormat = [{
    $input `scales` `(` $scales `:` type($scales) `)`
    (`zero_points` `(` $zeroPoints^ `:` type($zeroPoints) `)`)?
    `layout` $layout attr-dict `:` type($input) `->` type($result)
  }];
  let hasVerifier = 1;
}

def QTensor_DequantizeOp : QTensor_Op<"dequantize",
    [Pure, AttrSizedOperandSegments]> {
  let summary = "Decode quantized storage into a float tensor";
  let description = !strconcat([{
    Computes the float tensor that `storage` encodes under `layout`. The
    result type gives the logical shape (packed storage alone does not).
    With `group_index`, the scale and zero-point of element `[..., k]` are
    taken from column `group_index[k]` of the last axis instead of
    `k / block`, as GPTQ act-order (`g_idx`) checkpoints need; the layout's
    last block is then the group size, and entries must lie in
    `[0, ceil(K / group))` (not checked at run time).

    Double-quantized scales are expressed by feeding the result of another
    `qtensor.dequantize` (of the 8-bit scale codes) as `scales`. bitsandbytes'
    NF4 with double quantization (`compress_statistics=True`) over an
    `[N, 172]` weight in blocks of 64 (G = ceil(N * 172 / 64) blocks):

    ```mlir
    %a = qtensor.dequantize %absmax_codes scales(%absmax2 : tensor<1xf32>)
           layout <dynamic8, block = [256]> : tensor<Gxi8> -> tensor<Gxf32>
    %s = linalg.generic ... ins(%a, %offset : tensor<Gxf32>, tensor<f32>)
           { arith.addf }                                   // absmax + offset
    %w = qtensor.dequantize %codes scales(%s : tensor<Gxf32>)
           layout <nf4, block = [64], packing = msb_first>
           : tensor<(N*86)xi8> -> tensor<Nx172xf32>
    ```

    ```mlir
    %w = qtensor.dequantize %q scales(%s : tensor<8x2xf32>)
           zero_points(%z : tensor<8x2xi8>)
           layout <ui4, block = [1, 32], packing = lsb_first>
           : tensor<8x32xi8> -> tensor<8x64xf32>
    ```
  }], quantNumerics);
  let arguments = (ins
    QTensor_Storage:$storage,
    QTensor_ScaleTensor:$scales,
    Optional<QTensor_ZeroPointTensor>:$zeroPoints,
    Optional<QTensor_GroupIndex>:$groupIndex,
    QTensor_LayoutAttr:$layout);
  let results = (outs QTensor_FloatTensor:$result);
  let assemblyFormat = [{
    $storage `scales` `(` $scales `:` type($scales) `)`
    (`zero_points` `(` $zeroPoints^ `:` type($zeroPoints) `)`)?
    (`group_index` `(` $groupIndex^ `:` type($groupIndex) `)`)?
    `layout` $layout attr-dict `:` type($storage) `->` type($result)
  }];
  let hasVerifier = 1;
}

def QTensor_DequantMatmulOp : QTensor_Op<"dequant_matmul",
    [Pure, AttrSizedOperandSegments, IsolatedFromAbove]> {
  let summary = "Matrix product with a quantized weight, decoded on the fly";
  let description = !strconcat([{
    Computes `result = init + input · dequant(W)ᵀ` where the weight `W` is
    stored output-channel-major, `[N, K]` (the `torch.nn.Linear` and GGUF
    convention), or `[B, N, K]` for a batch of weights. Blocks of the layout
    refer to that logical weight shape, so groups run along K.

    Shapes: with an `[N, K]` weight, `input` is `[..., K]` (any leading
    dimensions) and `init`/`result` are `[..., N]`; with a `[B, N, K]`
    weight, `input` is `[B, M, K]` and `init` is `[B, M, N]`.

    With flat blocks (`block = [B]`, see `#qtensor.layout`) the weight is
    `[N, K]` with N taken from `init`, and `storage` is the 1-D stream of
    its flattened codes: element `(n, k)` is code `n * K + k` of the
    stream, in block `(n * K + k) / B` of the 1-D scales.

    Every weight element is decoded exactly as `qtensor.dequantize` does,
    products are accumulated in the element type of `init` (f32), and
    lowerings must not materialise the decoded weight tensor: it is decoded
    inside the reduction loop.

    ```mlir
    %y = qtensor.dequant_matmul %x, %q scales(%s : tensor<8x2xf32>)
           zero_points(%z : tensor<8x2xi8>)
           layout <ui4, block = [1, 32], packing = lsb_first>
           outs(%init : tensor<4x8xf32>)
           : tensor<4x64xf32>, tensor<8x32xi8> -> tensor<4x8xf32>
    ```

    A gated epilogue needs an `[N, K]` weight without flat blocks.
  }], gatedEpilogue);
  let arguments = (ins
    QTensor_FloatTensor:$input,
    QTensor_Storage:$storage,
    QTensor_ScaleTensor:$scales,
    Optional<QTensor_ZeroPointTensor>:$zeroPoints,
    Optional<QTensor_GroupIndex>:$groupIndex,
    QTensor_FloatTensor:$init,
    QTensor_LayoutAttr:$layout,
    OptionalAttr<ConfinedAttr<I64Attr, [IntPositive]>>:$gateBlock);
  let results = (outs QTensor_FloatTensor:$result);
  let regions = (region AnyRegion:$epilogue);
  let builders = [
    OpBuilder<(ins "::mlir::Type":$result, "::mlir::Value":$input,
                   "::mlir::Value":$storage, "::mlir::Value":$scales,
                   "::mlir::Value":$zeroPoints, "::mlir::Value":$groupIndex,
                   "::mlir::Value":$init, "LayoutAttr":$layout), [{
      build($_builder, $_state, result, input, storage, scales, zeroPoints,
            groupIndex, init, layout, /*gateBlock=*/nullptr);
    }]>
  ];
  let assemblyFormat = [{
    $input `,` $storage `scales` `(` $scales `:` type($scales) `)`
    (`zero_points` `(` $zeroPoints^ `:` type($zeroPoints) `)`)?
    (`group_index` `(` $groupIndex^ `:` type($groupIndex) `)`)?
    `layout` $layout `outs` `(` $init `:` type($init) `)`
    (`gated` `(` $gateBlock^ `)` $epilogue)? attr-dict
    `:` type($input) `,` type($storage) `->` type($result)
  }];
  let hasVerifier = 1;
  let extraClassDeclaration = [{
    /// The logical weight shape: [N, K] or [B, N, K].
    ::llvm::SmallVector<int64_t> getWeightShape();
  }];
}

def QTensor_FakeQuantOp : QTensor_Op<"fake_quant",
    [Pure, AllTypesMatch<["input", "result"]>]> {
  let summary = "Quantize and immediately dequantize (simulated quantization)";
  let description = !strconcat([{
    Returns `dequantize(quantize(input))` with the given scales, zero-points
    and layout, in the input's type. The op exists to measure quantization
    error and to keep a simulated quantization point in the IR: it has no
    folder and no canonicalization, so `-canonicalize` never removes it while
    its result is used, and never folds it into its operand. The layout's
    packing must be `none` (storage never exists).

    ```mlir
    %y = qtensor.fake_quant %x scales(%s : tensor<4x1xf32>)
           layout <si8, block = [1, 0]> : tensor<4x16xf32>
    ```
  }], quantNumerics);
  let arguments = (ins
    QTensor_FloatTensor:$input,
    QTensor_ScaleTensor:$scales,
    Optional<QTensor_ZeroPointTensor>:$zeroPoints,
    QTensor_LayoutAttr:$layout);
  let results = (outs QTensor_FloatTensor:$result);
  let assemblyFormat = [{
    $input `scales` `(` $scales `:` type($scales) `)`
    (`zero_points` `(` $zeroPoints^ `:` type($zeroPoints) `)`)?
    `layout` $layout attr-dict `:` type($input)
  }];
  let hasVerifier = 1;
}

def QTensor_DynamicQuantizeOp : QTensor_Op<"dynamic_quantize", [Pure]> {
  let summary = "Symmetric quantization of activations with run-time scales";
  let description = [{
    Quantizes `input` to signed `bits`-bit codes with scales computed at run
    time from the data. The type of `scales` picks the granularity:

    * the input shape with the last dimension 1: one scale per row (all
      elements sharing the leading indices; the last axis is the channel
      axis), as ZeroQuant and SmoothQuant's per-token activations (O1);
    * all dimensions 1: one scale for the whole tensor (SmoothQuant O2).

    ```
    qmax   = 2^(bits-1) - 1                     (127 for int8)
    s[r]   = max(max_k |x[r, k]|, 1e-5) / qmax   (f32)
    q[r,k] = clamp(roundeven(x[r, k] / s[r]), -qmax, qmax)
    ```

    The code -2^(bits-1) is never produced (the grid is symmetric). NaN codes
    to -qmax. `codes` has the input's shape in `i8`.

    ```mlir
    %q, %s = qtensor.dynamic_quantize %x {bits = 8 : i32}
               : tensor<4x64xf32> -> tensor<4x64xi8>, tensor<4x1xf32>
    ```
  }];
  let arguments = (ins
    QTensor_FloatTensor:$input,
    ConfinedAttr<DefaultValuedAttr<I32Attr, "8">,
                 [IntMinValue<2>, IntMaxValue<8>]>:$bits);
  let results = (outs QTensor_Storage:$codes, RankedTensorOf<[F32]>:$scales);
  let assemblyFormat = [{
    $input attr-dict `:` type($input) `->` type($codes) `,` type($scales)
  }];
  let hasVerifier = 1;
  let extraClassDeclaration = [{
    /// True when one scale covers the whole tensor.
    bool isPerTensor();
  }];
}

def QTensor_QuantizedMatmulOp : QTensor_Op<"quantized_matmul",
    [Pure, IsolatedFromAbove]> {
  let summary = "Integer matrix product of quantized activations and weights";
  let description = !strconcat([{
    Computes `result = init + dequant(input) · dequant(W)ᵀ` where both
    operands are signed 8-bit codes with symmetric scales, the way W8A8
    kernels do it: the products are accumulated exactly in i32 and the
    scales are applied once per output element (per group) in an f32
    epilogue.

    Shapes: `input` codes `[..., K]`; `input_scales` either the input shape
    with the last dimension 1 (per token) or all ones (per tensor); weight
    codes `[N, K]`; `weight_scales` `[N, G]` (per output channel and group)
    or `[1, G]` (per tensor), where `G` divides `K` and groups of `K / G`
    consecutive columns share a scale (`G = 1`: per channel); `init` and
    the result `[..., N]` in f32.

    ```
    acc[.., n, g] = sum over k in group g of i32(x[.., k]) * i32(w[n, k])
    result[.., n] = init[.., n] + sum over g in order of
                    (f32(acc[.., n, g]) * sx[..]) * sw[n, g]
    ```

    The i32 sum is exact for K < 2^17 (|x|, |w| <= 128). With `G = 1` the
    epilogue is `init + (f32(acc) * sx) * sw`.

    ```mlir
    %y = qtensor.quantized_matmul %xq, %xs, %wq, %ws outs(%init : tensor<4x8xf32>)
           : tensor<4x64xi8>, tensor<4x1xf32>, tensor<8x64xi8>, tensor<8x1xf32>
             -> tensor<4x8xf32>
    ```
  }], gatedEpilogue);
  let arguments = (ins
    RankedTensorOf<[I8]>:$input,
    RankedTensorOf<[F32]>:$inputScales,
    2DTensorOf<[I8]>:$weight,
    2DTensorOf<[F32]>:$weightScales,
    RankedTensorOf<[F32]>:$init,
    OptionalAttr<ConfinedAttr<I64Attr, [IntPositive]>>:$gateBlock);
  let results = (outs RankedTensorOf<[F32]>:$result);
  let regions = (region AnyRegion:$epilogue);
  let builders = [
    OpBuilder<(ins "::mlir::Type":$result, "::mlir::Value":$input,
                   "::mlir::Value":$inputScales, "::mlir::Value":$weight,
                   "::mlir::Value":$weightScales, "::mlir::Value":$init), [{
      build($_builder, $_state, result, input, inputScales, weight,
            weightScales, init, /*gateBlock=*/nullptr);
    }]>
  ];
  let assemblyFormat = [{
    $input `,` $inputScales `,` $weight `,` $weightScales
    `outs` `(` $init `:` type($init) `)`
    (`gated` `(` $gateBlock^ `)` $epilogue)? attr-dict
    `:` type($input) `,` type($inputScales) `,` type($weight) `,`
        type($weightScales) `->` type($result)
  }];
  let hasVerifier = 1;
}

def QTensor_GGMLDequantizeOp : QTensor_Op<"ggml_dequantize", [Pure]> {
  let summary = "Decode rows of ggml quantization blocks";
  let description = !strconcat([{
    Decodes `storage` (`[..., K / QK * B]` bytes) into `result` (`[..., K]`).

    ```mlir
    %w = qtensor.ggml_dequantize %blocks as q4_K : tensor<8x144xi8> -> tensor<8x256xf32>
    ```
  }], ggmlBlocks);
  let arguments = (ins
    RankedTensorOf<[I8]>:$storage,
    QTensor_GGMLTypeAttr:$ggmlType);
  let results = (outs RankedTensorOf<[F32]>:$result);
  let assemblyFormat = [{
    $storage `as` custom<GGMLType>($ggmlType) attr-dict `:` type($storage) `->` type($result)
  }];
  let hasVerifier = 1;
}

def QTensor_GGMLMatmulOp : QTensor_Op<"ggml_matmul",
    [Pure, IsolatedFromAbove]> {
  let summary = "Matrix product with a weight in ggml blocks";
  let description = !strconcat([{
    Computes `result = init + input · dequant(W)ᵀ` for a weight `W` of shape
    `[N, K]` stored as ggml blocks (`storage` is `[N, K / QK * B]`), the
    way llama.cpp stores GGUF weights. `input` is `[..., K]`, `init` and the
    result `[..., N]` in f32. Lowerings decode the weight inside the
    reduction. The reference lowering accumulates the f32 products in
    ascending K; the CPU kernels (`q4_0`, `q8_0`) reassociate the sums and
    factor each block's scale out (docs/Numerics.md §9.1).

    ```mlir
    %y = qtensor.ggml_matmul %x, %blocks as q8_0 outs(%init : tensor<4x8xf32>)
           : tensor<4x64xf32>, tensor<8x68xi8> -> tensor<4x8xf32>
    ```
  }], ggmlBlocks, gatedEpilogue);
  let arguments = (ins
    RankedTensorOf<[F32]>:$input,
    2DTensorOf<[I8]>:$storage,
    QTensor_GGMLTypeAttr:$ggmlType,
    RankedTensorOf<[F32]>:$init,
    OptionalAttr<ConfinedAttr<I64Attr, [IntPositive]>>:$gateBlock);
  let results = (outs RankedTensorOf<[F32]>:$result);
  let regions = (region AnyRegion:$epilogue);
  let builders = [
    OpBuilder<(ins "::mlir::Type":$result, "::mlir::Value":$input,
                   "::mlir::Value":$storage, "GGMLTypeAttr":$ggmlType,
                   "::mlir::Value":$init), [{
      build($_builder, $_state, result, input, storage, ggmlType, init,
            /*gateBlock=*/nullptr);
    }]>
  ];
  let assemblyFormat = [{
    $input `,` $storage `as` custom<GGMLType>($ggmlType) `outs` `(` $init `:` type($init) `)`
    (`gated` `(` $gateBlock^ `)` $epilogue)?
    attr-dict `:` type($input) `,` type($storage) `->` type($result)
  }];
  let extraClassDeclaration = [{
    /// True for `f16` / `bf16` storage: a float weight, not quantized blocks.
    bool hasFloatStorage() {
      return getGgmlType() == GGMLType::F16 ||
             getGgmlType() == GGMLType::BF16;
    }
  }];
  let hasVerifier = 1;
}

def QTensor_YieldOp : QTensor_Op<"yield", [Pure, Terminator,
    ParentOneOf<["DequantMatmulOp", "GGMLMatmulOp", "QuantizedMatmulOp"]>]> {
  let summary = "Ends a product's epilogue with its result element";
  let description = [{
    The terminator of the `epilogue` region of `qtensor.dequant_matmul`,
    `qtensor.ggml_matmul` and `qtensor.quantized_matmul`: yields the
    result element computed from the gate, up and init elements.

    ```mlir
    qtensor.yield %r : f32
    ```
  }];
  let arguments = (ins Variadic<AnyType>:$values);
  let assemblyFormat = "attr-dict ($values^ `:` type($values))?";
}

#endif // QUANT_DIALECT_QTENSOR_IR_QTENSOROPS_TD
