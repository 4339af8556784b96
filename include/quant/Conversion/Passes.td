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

def ConvertQTensorToCPUKernelsPass
    : Pass<"convert-qtensor-to-cpu-kernels", "ModuleOp"> {
  let summary = "Lower quantized matrix products to vectorised CPU kernels";
  let description = [{
    Replaces each `qtensor.dequant_matmul` whose layout a kernel exists for,
    and each `qtensor.ggml_matmul` in `q4_0`, `q8_0`, `f16` or `bf16`, with
    a call of a private kernel function on buffers, generated once per shape
    and layout. The kernel is `vector` dialect code: 16-byte loads of the
    packed codes, the bit fields of each byte widened to 16 `i32` lanes and
    converted to `f32`, `vector.fma` against the activations. Everything
    below is part of its numerics contract (docs/Numerics.md §9.1):

    * **Decode (fewer than 48 rows).** Output channels are split into tasks
      of 32; inside a task, blocks of 32 activation rows; register tiles of
      2 channels x 4 rows, and for the remaining rows (all of them when
      decoding) one channel at a time with the K loop unrolled into 4
      accumulators, so that each weight row is one sequential stream,
      prefetched 2 KiB ahead (`memref.prefetch`: one core keeps too few
      cache misses in flight to stream two rows at the memory's rate
      otherwise). Each output ends with one `vector.reduction`.
    * **Group factoring** (decode). Within one group of `G` codes the kernel
      sums `x * c` and applies the scale once:
      `sum_k x_k * s * (c_k - z) = s * (sum_k x_k * c_k - z * sum_k x_k)`,
      with the sums of `x` per group computed once per call.
    * **Activation packing** (decode). For 2- and 4-bit codes the kernel
      reorders each row of activations once per call so that the `j`-th bit
      field of 16 consecutive bytes meets 16 consecutive activations.
    * **Prefill (48 rows or more).** Each task decodes its 32 channels into
      a `[K, 32]` f32 panel (16 channels x 16 codes decoded along K, then
      transposed with `vector.transpose`; every weight is `s * (c - z)`
      exactly as the reference computes it), then multiplies it with outer
      products: 6 rows x 32 channels of accumulators, one broadcast
      activation and two panel loads per K step.
    * **Signed packed codes** are flipped to unsigned (`c xor 2^(b-1)`) and
      the offset `2^(b-1)` joins the zero-point; ggml `q4_0` is
      `d * (c - 8)` with each block's f16 `d` read from its first two bytes.
      A constant offset without zero-points (flipped signed codes, `q4_0`,
      `q5_0`, `q6_K`) is subtracted from the converted codes instead, which
      is exact and needs no activation sums.
    * **Ragged K.** The activations are packed with zeros up to a whole
      load; the last load of each weight row is a masked
      `vector.transfer_read` that stops at the row's end.
    * **Init.** A zero-filled init is not read: the kernel writes the
      products over a fresh buffer (a -0 sum stays -0 where the reference
      would add it to +0). Any other init is copied and added to.
    * **Threads.** With `threads` > 1 the tasks form an `scf.parallel` loop
      (whose body is a call, so that it stays one block), which the pipeline
      lowers to OpenMP with that many threads.

    Products are f32 with reassociated sums: results match the reference
    lowering to summation order (well under 1e-5 of the largest output),
    not bit for bit.

    **`compute=int8`** (opt-in) gives integer-weight products an integer
    kernel instead (docs/Numerics.md §9.2): each call rounds its activations
    to int8, symmetric, one scale per row and weight group (`q4_0`/`q8_0`:
    per block of 32), packs them in the order in which the codes decode,
    and multiplies them with the codes (as unsigned bytes) in AVX-512 VNNI
    `vpdpbusd` instructions, reached through a function declaration marked
    `qtensor.llvm_intrinsic` that `quant-expand-intrinsic-calls` turns into
    the intrinsic after buffer deallocation. Storage is read in 64-byte
    units (ggml: 4 `q4_0` or 2 `q8_0` blocks); from 16 rows a task decodes
    its 32 channels into a panel of i32 words (4 codes each) and multiplies
    6 x 32 tiles (12 x 32 when a row is one group) with broadcast activation
    words. Each group's integer dot is scaled once in f32. Layouts whose
    groups neither divide nor fill a unit, and 16-bit float weights, keep
    the f32 kernel (with a remark when `report-fallback` is set). The
    result is the exact product of the decoded weights with the rounded
    activations, up to the f32 epilogue. With `prepack-int8` (the
    default), constant weights are repacked at compile time into tiles of
    16 channels whose 64-byte vectors hold one 4-byte word per channel
    (docs/Numerics.md §9.2): decoding then multiplies 16 channels per
    `vpdpbusd` with a broadcast activation word, prefetches the weight
    streams ahead, and scales each group once per 16 channels. With
    `compute=int8`, `qtensor.quantized_matmul` (W8A8) with constant
    weights takes the same kernel on the op's own int8 activation codes,
    with the reference's integer sums and epilogue order: bit for bit the
    reference lowering's result.

    Supported today: `[N, K]` weights, f32 activations, integer formats of
    2, 4 (packed) and 8 bits and the 16-entry lookup formats `nf4` and
    `fp4` (the table sits in a register: one `vpermps` per 16 codes with
    `isa=avx512`, two 8-entry `vpermps` and a blend with `isa=avx2`, a
    gather from a constant global with `isa=generic`; no int8 kernel),
    per-tensor, per-channel or grouped scales (f32/f16/bf16) with optional
    zero-points, groups a multiple of one load (32 4-bit, 64 2-bit or 16
    8-bit codes) or the whole row, bitsandbytes' flat blocks when they
    divide K (the flat codes and scales are reshaped to rows); ggml `q4_K`
    (each load's two nibble fields belong to two 32-code sub-blocks, whose
    6-bit scales and mins are unpacked once per group: w = d sc c - dmin m;
    an int8 kernel for prepacked constant weights, whose activation groups
    are the sub-blocks), `q6_K` (a load is four fields of 6-bit codes, a
    nibble of `ql` and two bits of `qh`, one int8 scale per 16 codes, z =
    32; an int8 kernel for prepacked constant weights, the two bits in a
    bit plane), `q4_1` (w = d c + m: the min times the
    block's activation sum; an int8 kernel for prepacked constant
    weights), `q5_0` / `q5_1` (the
    block's 32-bit word of fifth bits shifted into each lane; an int8
    kernel for prepacked constant weights, the fifth bits in a bit plane),
    ggml `q4_0`,
    `q8_0` and 16-bit float weights (widened to f32, no scale). Other
    products are left to `convert-qtensor-to-linalg`, with a remark when
    `report-fallback` is set.
  }];
  let options = [
    Option<"threads", "threads", "unsigned", "1",
           "Threads the kernels' task loops are written for (1: no "
           "scf.parallel)">,
    Option<"reportFallback", "report-fallback", "bool", "false",
           "Emit a remark for each product left to the reference lowering">,
    Option<"compute", "compute", "::mlir::qtensor::KernelCompute",
           "::mlir::qtensor::KernelCompute::F32",
           "How integer-weight products are computed",
           [{::llvm::cl::values(
               clEnumValN(::mlir::qtensor::KernelCompute::F32, "f32",
                          "exact f32 products of the decoded weights"),
               clEnumValN(::mlir::qtensor::KernelCompute::Int8, "int8",
                          "int8 activations, AVX-512 VNNI dot products"))}]>,
    Option<"kernelISA", "isa", "::mlir::qtensor::KernelISA",
           "::mlir::qtensor::KernelISA::Generic",
           "Instruction set of the nf4/fp4 table lookups",
           [{::llvm::cl::values(
               clEnumValN(::mlir::qtensor::KernelISA::Generic, "generic",
                          "a gather from a 16-entry table"),
               clEnumValN(::mlir::qtensor::KernelISA::AVX2, "avx2",
                          "two 8-entry vpermps and a blend"),
               clEnumValN(::mlir::qtensor::KernelISA::AVX512, "avx512",
                          "one 16-entry vpermps"))}]>,
    Option<"prepackInt8", "prepack-int8", "bool", "true",
           "Prepack the constant weights of compute=int8 products into "
           "16-channel tiles at compile time">
  ];
  let dependentDialects = ["::mlir::arith::ArithDialect",
                           "::mlir::bufferization::BufferizationDialect",
                           "::mlir::func::FuncDialect",
                           "::mlir::LLVM::LLVMDialect",
                           "::mlir::math::MathDialect",
                           "::mlir::memref::MemRefDialect",
                           "::mlir::scf::SCFDialect",
                           "::mlir::tensor::TensorDialect",
                           "::mlir::vector::VectorDialect"];
}

def ConvertFloatMatmulToCPUKernelsPass
    : Pass<"convert-float-matmul-to-cpu-kernels", "ModuleOp"> {
  let summary = "Lower f32 matrix products to vectorised CPU kernels";
  let description = [{
    Replaces each f32 linalg contraction shaped as a matrix product of
    activations `[rows..., K]` with a weight `[N, K]` (the importers'
    `x · Wᵀ` generic) or `[K, N]` (`linalg.matmul`; a transpose of an
    `[N, K]` tensor feeding it is looked through) with a call of a kernel
    function on buffers, generated once per shape. The kernels are those of
    `convert-qtensor-to-cpu-kernels` with weights that need no decoding:

    * **`[N, K]`, fewer than 48 rows**: each weight row streams past the
      activations in 16-lane loads (register tiles of 2 channels x 4 rows;
      two channels at a time, two accumulators each, for the remaining
      rows: two weight streams in flight).
    * **`[N, K]`, 48 rows or more**: each task of 32 channels transposes its
      weights into a `[K, 32]` panel (16x16 blocks, `vector.transpose`) and
      multiplies it with 6 x 32 outer-product tiles.
    * **`[K, N]`, constant**: transposed at compile time into a new
      `[N, K]` constant, which takes the two paths above.
    * **`[K, N]`, any other value**: each task copies its 32 columns into a
      contiguous `[K, 32]` panel (in place, rows N floats apart fall into
      the same cache sets) and multiplies it with 6 x 32 tiles at every row
      count; a partial last task reads zeros past N.

    Each output is an f32 sum over K in a fixed order per tile: results
    match the linalg loops to summation order, not bit for bit. A
    zero-filled init is not read (a -0 sum stays -0). Batched products,
    several reduction or channel dimensions, non-f32 operands and dynamic
    K or N stay linalg (with a remark when `report-fallback` is set).
    `quant-lower-to-llvm` runs this pass in its default `cpu-kernels` mode,
    before elementwise fusion.
  }];
  let options = [
    Option<"threads", "threads", "unsigned", "1",
           "Threads the kernels' task loops are written for (1: no "
           "scf.parallel)">,
    Option<"reportFallback", "report-fallback", "bool", "false",
           "Emit a remark for each f32 contraction left to linalg">
  ];
  let dependentDialects = ["::mlir::arith::ArithDialect",
                           "::mlir::bufferization::BufferizationDialect",
                           "::mlir::func::FuncDialect",
                           "::mlir::memref::MemRefDialect",
                           "::mlir::scf::SCFDialect",
                           "::mlir::tensor::TensorDialect",
                           "::mlir::vector::VectorDialect"];
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

def ExpandIntrinsicCallsPass
    : Pass<"quant-expand-intrinsic-calls", "ModuleOp"> {
  let summary = "Replace calls of intrinsic declarations with "
                "llvm.call_intrinsic";
  let description = [{
    The CPU kernels call target instructions (AVX-512 VNNI's `vpdpbusd`)
    through private function declarations that carry the LLVM intrinsic's
    name in a `qtensor.llvm_intrinsic` attribute, because
    `llvm.call_intrinsic` has unknown memory effects and buffer deallocation
    refuses functions that hold one. After deallocation, this pass replaces
    each `func.call` of such a declaration with `llvm.call_intrinsic` of the
    named intrinsic on the same operands and erases the declarations.
    `quant-lower-to-llvm` runs it after buffer deallocation.

    ```mlir
    func.func private @__qtensor_vpdpbusd_512(vector<16xi32>, vector<64xi8>,
        vector<64xi8>) -> vector<16xi32>
        attributes {qtensor.llvm_intrinsic = "llvm.x86.avx512.vpdpbusd.512"}
    %r = func.call @__qtensor_vpdpbusd_512(%acc, %a, %b) : ...
    ```
    becomes
    ```mlir
    %r = llvm.call_intrinsic "llvm.x86.avx512.vpdpbusd.512"(%acc, %a, %b) : ...
    ```
    (The qtensor dialect verifies that the attribute names an intrinsic and
    sits on a declaration.)
  }];
  let dependentDialects = ["::mlir::LLVM::LLVMDialect"];
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

def FuseElementwiseProducersPass : Pass<"quant-fuse-elementwise"> {
  let summary = "Fuse elementwise linalg producers where no value is "
                "computed twice";
  let description = [{
    Fuses an elementwise `linalg.generic` into the linalg op that consumes
    its result (and folds reshapes into generics by expansion), like
    upstream's `linalg-fuse-elementwise-ops`, with one more condition: the
    consumer must read each element of the producer's result exactly once,
    that is, its indexing map for the fused operand uses every one of its
    loops. Fusing a producer into a consumer that revisits its elements
    recomputes the producer for every revisit and replaces its layout with
    the consumer's access pattern: fusing the importers' transposes of K
    and V into attention's products turns their contiguous reads into
    strided gathers, and fusing softmax's division into the probabilities
    times V product divides once per head dimension instead of once. The
    producer must also have no other user. `quant-lower-to-llvm` runs this
    pass; the results are those of the unfused ops, bit for bit.
  }];
  let dependentDialects = ["::mlir::linalg::LinalgDialect",
                           "::mlir::tensor::TensorDialect"];
}

def FuseHorizontalProductsPass : Pass<"quant-fuse-horizontal"> {
  let summary = "One quantized product for products that share their input";
  let description = [{
    Finds quantized products that read the same activations (a Llama's q,
    k and v projections; gate and up) and whose weights have the same form,
    and replaces them with one product over the weights concatenated along
    the output channels, followed by `tensor.extract_slice`s of its result:

    * `qtensor.dequant_matmul` with `[N, K]` storage, per-row blocks
      (`block = [1, G]`), no act-order group index, the same layout, scale
      and zero-point types;
    * `qtensor.ggml_matmul` of the same ggml type;
    * `qtensor.quantized_matmul` with the same activation codes and scales
      and `[N, G]` weight scales.

    Storage, scales and zero-points must be constants (their rows are
    copied into new `dense_resource` constants) and every init a
    `linalg.fill` of the same value. Every output channel is computed from
    the same operands in the same order as before, so the results are the
    unfused ones bit for bit; the activations are read once per group
    instead of once per product, and a decode step calls one kernel where
    it called two or three. `quant-lower-to-llvm` runs the pass unless
    `fuse-horizontal=false`.
  }];
  let dependentDialects = ["::mlir::arith::ArithDialect",
                           "::mlir::linalg::LinalgDialect",
                           "::mlir::tensor::TensorDialect"];
  let statistics = [
    Statistic<"numFused", "fused-groups", "Groups of products fused">
  ];
}

def FuseEpiloguePass : Pass<"quant-fuse-epilogue"> {
  let summary = "Move residual additions and SwiGLU gating into the "
                "quantized products";
  let description = [{
    Fuses the elementwise work that follows a quantized product into it,
    so that the products' outputs make no extra trip through memory:

    * **Residual and bias additions.** An elementwise `linalg.generic`
      whose body is one `arith.addf` of a `qtensor.dequant_matmul` or
      `qtensor.ggml_matmul` (zero-filled init, no other user) and another
      tensor becomes the product with that tensor
      as its init (a bias, read through a broadcasting map, is broadcast
      into the init first). The CPU kernels add the finished sum to the
      init, so their result is the unfused one bit for bit; the reference
      lowering accumulates from the init, which rounds differently.
    * **Gating (SwiGLU).** An elementwise generic of two products that
      read the same activations with weights of the same form (the checks
      of `quant-fuse-horizontal`), whose body holds only scalar `arith` /
      `math` ops (`silu(gate) * up`), becomes one product with a gated
      epilogue: the gate's and the up projection's rows interleaved in
      blocks of `gate-block` (the CPU kernels' tasks need 16) and the
      generic's body as the epilogue region (see `qtensor.dequant_matmul`).
      Every product is computed as before and the epilogue runs the same
      ops on it, so the result is the unfused one bit for bit.

    Gating applies to the three quantized products; additions are left
    after `qtensor.quantized_matmul`, whose own epilogue (the W8A8 scales)
    adds each group's term to the init in order, so that a residual in the
    init would round differently. `quant-lower-to-llvm` runs the pass
    before `quant-fuse-horizontal` unless `fuse-epilogue=false`.
  }];
  let options = [
    Option<"gateBlock", "gate-block", "int64_t", /*default=*/"16",
           "rows per block of interleaved gate and up weights">
  ];
  let dependentDialects = ["::mlir::arith::ArithDialect",
                           "::mlir::linalg::LinalgDialect",
                           "::mlir::math::MathDialect",
                           "::mlir::tensor::TensorDialect"];
  let statistics = [
    Statistic<"numGated", "gated-products", "Gate/up pairs fused with their "
              "gating">,
    Statistic<"numAbsorbed", "absorbed-additions", "Additions moved into a "
              "product's init">
  ];
}

def BlockCausalAttentionPass : Pass<"quant-block-causal-attention"> {
  let summary = "Causal attention in blocks of queries that skip the future";
  let description = [{
    The importers' attention scores every query against every key of the
    window and masks the keys after the query: half of its products and
    exponentials are thrown away. This pass replaces each attention marked
    `qtensor.attention` (see `--quant-decode-step`) whose sequence is longer
    than `block-size` with attention in blocks of `block-size` queries:
    block `i` scores its queries against the keys of positions
    `0 .. (i + 1) * block-size` only, with the same numerics (scale by
    1/sqrt(D), mask, max, exp(x - max), sum, divide) over those keys, so
    the work follows the causal triangle (`S^2 / 2 + S * block-size / 2`
    score products instead of `S^2`). Keys and values are put in
    head-dimension-major order once; every block writes its rows of the
    result in place. Results equal the unblocked attention up to the order
    of the f32 sums over keys (masked keys contributed exact zeros).
    `quant-lower-to-llvm` runs it when `attention-block-size` is above 0
    (off by default: on stories260K's 512-position windows the blocked
    form measured no faster than the full window, its per-block overhead
    outweighing the halved products at that size).
  }];
  let options = [
    Option<"blockSize", "block-size", "int64_t", /*default=*/"64",
           "queries per block">
  ];
  let dependentDialects = ["::mlir::arith::ArithDialect",
                           "::mlir::linalg::LinalgDialect",
                           "::mlir::math::MathDialect",
                           "::mlir::tensor::TensorDialect"];
  let statistics = [
    Statistic<"numBlocked", "blocked-attentions", "Attentions blocked">
  ];
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

//===----------------------------------------------------------------------===//
// GPU (NVVM) lowering
//===----------------------------------------------------------------------===//

def ConvertFloatMatmulToGPUKernelsPass
    : Pass<"convert-float-matmul-to-gpu-kernels", "ModuleOp"> {
  let summary = "Lower f32 matrix products to the GPU GEMV kernels";
  let description = [{
    Replaces each f32 linalg contraction of activations `[rows..., K]` with
    a weight `[N, K]` (the importers' `x · Wᵀ` generic; static N and K, K a
    multiple of 4) with the GEMV launch of `convert-qtensor-to-gpu-kernels`
    on weights that need no decoding: a warp per output channel, each lane
    loading four weights and four activations per row with 16-byte loads,
    8 rows per pass, shuffle reduction. With `compute-type=f16` (an opt-in)
    products of 9 rows or more take the tensor-core kernel, weights and
    activations rounded once to f16. Results equal the linalg loops' up to
    the order of the sums. Batched products (attention), `[K, N]` weights
    and other contractions keep the generic loop mapping (with a remark
    when `report-fallback` is set). `quant-lower-to-nvvm` runs it after
    `convert-qtensor-to-gpu-kernels`.
  }];
  let options = [
    Option<"reportFallback", "report-fallback", "bool", "false",
           "Emit a remark for each contraction left to the generic mapping">,
    Option<"computeType", "compute-type", "std::string", "\"f32\"",
           "f32 (exact SIMT kernel), or f16: tensor-core kernel for "
           "products of more than 8 rows">,
  ];
  let dependentDialects = ["::mlir::gpu::GPUDialect",
                           "::mlir::nvgpu::NVGPUDialect",
                           "::mlir::bufferization::BufferizationDialect",
                           "::mlir::math::MathDialect",
                           "::mlir::memref::MemRefDialect",
                           "::mlir::scf::SCFDialect",
                           "::mlir::ub::UBDialect",
                           "::mlir::vector::VectorDialect"];
}

def ConvertQTensorToGPUKernelsPass
    : Pass<"convert-qtensor-to-gpu-kernels", "ModuleOp"> {
  let summary = "Lower quantized matrix products to per-layout GPU kernels";
  let description = [{
    Replaces each `qtensor.dequant_matmul` whose layout the kernel reads,
    and each `qtensor.ggml_matmul` in `q4_0`, `q8_0`, `q4_K` or `q6_K`
    blocks, with a
    `gpu.launch` on buffers of its operands (the rest of
    `quant-lower-to-nvvm` bufferizes around it). The kernel is a SIMT GEMV
    streaming the packed codes, exact in f32 (docs/GPU.md):

    * **Work split.** A warp computes one output channel for 8 activation
      rows (a block holds 4 warps; the grid's y dimension covers the rows 8
      at a time, so all rows of a pass share each weight load). Rows past
      the last are computed on a repeated row and not stored.
    * **Loads.** Each lane loads 16 bytes of the channel's codes per step
      (`vector.load` aligned to 16: `ld.global.v4`), consecutive lanes
      consecutive 16-byte chunks: a warp reads 512 contiguous bytes per
      step. The lane's activations are read as 16-byte vectors too.
    * **Decode without int->float conversions.** A code `c` becomes the
      float `2^23 + c` by or-ing it into the bits of 2^23 (`0x4B000000`);
      subtracting `2^23 + offset + z` (one float per group) gives
      `value(c) - z` exactly. Signed codes are flipped to unsigned (xor
      `2^(b-1)`) first, the offset `2^(b-1)` joining the bias.
    * **Group factoring.** A lane's codes lie in one group (groups must be a
      multiple of the codes per load): the lane sums `x * (c - z)` with
      FMAs and scales the sum once: `acc += s * sum`.
    * **Reduction.** The 32 lane sums of each row are added with butterfly
      shuffles (`shfl.sync.bfly`); lane 0 stores, adding the initial value
      unless it is a zero fill.

    `qtensor.quantized_matmul` (W8A8) with groups that are a multiple of 16
    codes gets the same work split with exact i32 sums: four byte products
    at a time (written as a vector reduction that
    `quant-form-gpu-dot-products` makes a `dp4a`), each group's sum added
    across the warp, then the reference's epilogue in its order,
    `init + sum over g of (f32(acc_g) * sx) * sw_g`: bit for bit the
    reference lowering's result. From 9 rows (groups a multiple of 64) the
    W8A8 product runs on the int8 tensor cores (`nvgpu.mma.sync` m16n8k32,
    i32 accumulation, the same k permutation as below, the same epilogue),
    which is exact too and so the default.

    Supported: `[N, K]` weights, f32 activations, integer codes of 2, 4
    (packed, either order) or 8 bits, signed or unsigned, `nf4`/`fp4` codes
    (one load each from the 16-entry table, a small constant that ends up
    in the kernel module), FP8 codes (exponent and mantissa shifted into an
    f32 and multiplied by 2^(127 - bias), exact, NaNs and infinities
    selected), per-channel or
    per-tensor groups that are a multiple of one load (64 2-bit, 32 4-bit,
    16 8-bit codes) or the whole row, f32/f16/bf16 scales, integer
    zero-points or none, K a multiple of one load; ggml `q4_0` and `q8_0`
    blocks, one block per lane step (18 or 34 bytes: 2-byte aligned loads
    of the f16 scale and the codes; `q4_0`'s offset 8 and `q8_0`'s flipped
    signed codes go into the magic bias); ggml `q4_K` and `q6_K`
    super-blocks (K a multiple of 256), eight lanes per super-block, each
    decoding 32 codes and unpacking its sub-blocks' scales (and `q4_K`'s
    mins) from the block with shifts and masks, weights
    `fma(q, d * sc, -dmin * m)` for `q4_K`, `d * sc` applied once per
    8-code partial sum for `q6_K`.

    With `compute-type=f16` (an opt-in: results within the tolerance of
    rounding weights and activations to f16, no longer the exact-f32
    contract), the `dequant_matmul` and `q4_0`/`q8_0`
    products that the GEMV takes also get a tensor-core kernel, chosen at
    run time when the product has more than 8 rows: `nvgpu.mma.sync`
    m16n8k16 with f32 accumulation, a warp computing 16 rows by 32
    channels. Each lane decodes the same 16-byte chunks as the GEMV
    (exactly, in f32, times the group scale) and rounds once; the mma's k
    order is a permutation of each chunk's columns applied to both operands
    (lane `t` of a quad feeds columns `4s..4s+3` of its chunk as k = `2t`,
    `2t+1`, `2t+8`, `2t+9`), so the stored layouts need no re-packing.
    Other products stay for
    the generic mapping (with a remark when `report-fallback` is set). The
    result equals the reference lowering's up to the order of the sums.
  }];
  let options = [
    Option<"reportFallback", "report-fallback", "bool", "false",
           "Emit a remark for each product left to the generic mapping">,
    Option<"computeType", "compute-type", "std::string", "\"f32\"",
           "f32 (exact SIMT kernels), or f16: tensor-core kernel for "
           "products of more than 8 rows">,
  ];
  let dependentDialects = ["::mlir::gpu::GPUDialect",
                           "::mlir::nvgpu::NVGPUDialect",
                           "::mlir::bufferization::BufferizationDialect",
                           "::mlir::math::MathDialect",
                           "::mlir::memref::MemRefDialect",
                           "::mlir::scf::SCFDialect",
                           "::mlir::ub::UBDialect",
                           "::mlir::vector::VectorDialect"];
}

def MapParallelLoopsToGPUPass
    : Pass<"quant-map-parallel-loops-to-gpu", "::mlir::func::FuncOp"> {
  let summary = "Tile buffer-level parallel loops into GPU blocks and "
                "threads";
  let description = [{
    Prepares the loops of a bufferized function for
    `convert-parallel-loops-to-gpu`: every outermost `scf.parallel` is
    tiled into a grid loop and a block loop of at most `block-size`
    iterations, whose `mapping` attributes put the innermost loop dimension
    on `x` (consecutive threads then touch consecutive elements: coalesced
    loads and stores), the next ones on `y` and `z`, and any further
    dimension on a sequential loop. Tiles need not divide the extents: the
    block loop guards its body with an `scf.if` instead of taking
    `min(tile, rest)` bounds, which would make the conversion leave the
    loop on the host. Parallel loops nested inside another one (loops of a
    linalg op after one of its reduction dimensions) run sequentially in
    their thread. `memref.copy` ops become copy loops first, so that they
    run on the GPU too.

    Grid dimensions `y` and `z` hold at most 65535 blocks: a dimension that
    would need more is run as a sequential loop inside each block.
  }];
  let options = [
    Option<"blockSize", "block-size", "unsigned", "256",
           "Threads per block (a power of two, 32..1024)">,
  ];
  let dependentDialects = ["::mlir::gpu::GPUDialect",
                           "::mlir::scf::SCFDialect",
                           "::mlir::linalg::LinalgDialect"];
}

def PlaceBuffersOnGPUPass : Pass<"quant-place-buffers-on-gpu", "ModuleOp"> {
  let summary = "Put a mapped function's buffers in GPU memory";
  let description = [{
    Runs after `convert-parallel-loops-to-gpu`, when every loop of the
    functions is a `gpu.launch`. It checks that nothing else touches
    memory on the host (an op that reads or writes a buffer outside a
    `gpu.launch` is an error naming it: the lowering never leaves work on
    the host silently), then:

    * every `memref.alloc` / `memref.dealloc` becomes `gpu.alloc` /
      `gpu.dealloc`, so that temporaries live in device memory;
    * each buffer argument of a public function is copied into a device
      buffer on entry (unless the function carries
      `qtensor.gpu_device_arguments`: its caller passes device memory), and
      each returned buffer is copied into a fresh host buffer (owned by the
      caller, as in the CPU lowering) and its device buffer freed;
    * constant `memref.global`s of at most `max-kernel-constant-bytes`
      that kernels read (the decode tables of lookup formats, rotary
      tables) are sunk into the launches, so that kernel outlining copies
      them into the `gpu.module`;
    * larger constants (weights) stay host globals, listed in the module's
      `qtensor.gpu_constants` attribute: `quant-upload-gpu-constants`
      later gives kernels device copies of them, uploaded once.
  }];
  let options = [
    Option<"maxKernelConstantBytes", "max-kernel-constant-bytes", "int64_t",
           "4096",
           "Largest constant global copied into the kernel module">,
  ];
  let dependentDialects = ["::mlir::gpu::GPUDialect",
                           "::mlir::memref::MemRefDialect"];
}

def MergeGPUModulesPass : Pass<"quant-merge-gpu-modules", "ModuleOp"> {
  let summary = "Put every outlined kernel into one gpu.module";
  let description = [{
    `gpu-kernel-outlining` gives each kernel a `gpu.module` of its own; each
    becomes a separate binary that the runtime loads (and the driver
    JIT-compiles) on its own. This pass moves all kernels of the module into
    the first `gpu.module` (renamed `kernels` unless `module-name` says
    otherwise): each kernel takes its old module's name, which outlining made
    unique; kernels identical but for their name (outlining makes one per
    launch site: every layer's products of one shape) are kept once;
    globals that outlining copied into several modules are kept once;
    every `gpu.launch_func` is updated. Modules that already carry a target
    attribute are left alone.
  }];
  let options = [
    Option<"moduleName", "module-name", "std::string", "\"kernels\"",
           "Name of the merged gpu.module">,
  ];
  let dependentDialects = ["::mlir::gpu::GPUDialect"];
}

def FormGPUDotProductsPass
    : Pass<"quant-form-gpu-dot-products", "::mlir::gpu::GPUModuleOp"> {
  let summary = "Turn four-byte integer dot products in kernels into dp4a";
  let description = [{
    Rewrites `vector.reduction <add>` of the product of two sign-extended
    `vector<4xi8>` (to `vector<4xi32>`) plus an i32 accumulator into
    `nvvm.dot.accumulate.4way` (PTX `dp4a.s32.s32`), which computes the same
    exact sum in one instruction. The GPU kernels write the dot products in
    vector form because buffer deallocation rejects ops of unknown memory
    effects, which NVVM's are; this pass runs on the outlined kernels, after
    deallocation.
  }];
  let dependentDialects = ["::mlir::NVVM::NVVMDialect"];
}

def ReplaceLibdeviceCallsPass
    : Pass<"quant-replace-libdevice-calls", "::mlir::gpu::GPUModuleOp"> {
  let summary = "Replace libdevice calls in kernels with exact LLVM "
                "intrinsics";
  let description = [{
    `convert-gpu-to-nvvm` turns math ops into calls of CUDA's libdevice
    (`__nv_sqrtf`, `__nv_floorf`, ...). Without a CUDA toolkit nothing links
    libdevice: the calls either stay unresolved in the PTX (the driver then
    refuses to load it) or are folded into approximate instructions
    (`sqrt.approx.f32`). This pass, run on each `gpu.module` after
    `convert-gpu-to-nvvm`, replaces the calls whose result PTX computes
    exactly in one instruction with the LLVM intrinsic that NVPTX lowers to
    it: `sqrtf` (`sqrt.rn.f32`), `rsqrtf` (`1 / sqrt.rn`, as the CPU
    lowering computes it), `fabsf`, `floorf`, `ceilf`, `truncf`,
    `rintf`/`nearbyintf` (round half to even), `fmaf`, `fminf`, `fmaxf`,
    `copysignf` and their double forms. Any other libdevice call is an
    error naming the function: the kernel would not load or would not
    compute what the CPU lowering computes.
  }];
  let dependentDialects = ["::mlir::LLVM::LLVMDialect"];
}

def UploadGPUConstantsPass
    : Pass<"quant-upload-gpu-constants", "ModuleOp"> {
  let summary = "Give kernels device copies of constant globals, uploaded "
                "once";
  let description = [{
    Runs on the host code in the LLVM dialect, after `gpu-to-llvm`. For
    each global named in the module's `qtensor.gpu_constants` attribute,
    every `llvm.mlir.addressof` of it in a host function is replaced with
    a call of the runtime's `quantGpuDeviceConstant(slot, host, bytes)`,
    where `slot` is a new internal pointer global of the module: the first
    call allocates device memory, copies the constant and stores the device
    address in the slot; later calls return it. A destructor of the module
    (`llvm.global_dtors`) frees the copies with
    `quantGpuReleaseDeviceConstant(slot)`. The host copy of each constant
    remains in the module; only its address changes to the device copy.
  }];
  let dependentDialects = ["::mlir::LLVM::LLVMDialect"];
}

#endif // QUANT_CONVERSION_PASSES_TD
