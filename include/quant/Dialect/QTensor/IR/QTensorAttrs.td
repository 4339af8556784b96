//===- QTensorAttrs.td - qtensor attributes ----------------*- tablegen -*-===//
//
// Part of the quant-opt project, under the Apache License v2.0 with LLVM
// Exceptions.
//
//===----------------------------------------------------------------------===//

#ifndef QUANT_DIALECT_QTENSOR_IR_QTENSORATTRS_TD
#define QUANT_DIALECT_QTENSOR_IR_QTENSORATTRS_TD

include "quant/Dialect/QTensor/IR/QTensorBase.td"

def QTensor_LayoutAttr : QTensor_Attr<"Layout", "layout"> {
  let summary = "Element format, block shape and packing of a quantized tensor";
  let description = [{
    Syntax:

    ```
    #qtensor.layout<FORMAT, block = [B0, B1, ...] (, packing = ORDER)?>
    ```

    **Element format.** `siN`/`uiN` (N = 2..8) are two's-complement signed and
    unsigned integer codes with ranges [-2^(N-1), 2^(N-1)-1] and [0, 2^N-1].
    `nf4` and `fp4` are 4-bit indices into the bitsandbytes NormalFloat4 and
    FP4 (E2M1, bias 2) tables, values in [-1, 1] multiplied by the scale.
    `f8E4M3FN` and `f8E5M2` are the OCP FP8 bit patterns multiplied by the
    scale. `dynamic8` is an 8-bit index into bitsandbytes' signed dynamic map
    (`create_dynamic_map(signed=True)`: 256 sorted values from -0.99296875 to
    1.0, 0 at index 127; see quant/Numerics/Bitsandbytes.h), multiplied by
    the scale; bitsandbytes codes its double-quantized absmax with it.

    **Blocks.** `block` has one entry per dimension of the logical tensor.
    Each scale (and zero-point) covers one block; `0` means the whole
    dimension. The scales tensor has the logical rank and dimension
    `ceil(D / B)` along each axis, so a last block may be ragged (K = 172 with
    groups of 32 gives 6 groups, the last of 12 elements). Per-tensor is
    `block = [0, 0]` with `tensor<1x1xf32>` scales; per output channel of an
    `[N, K]` weight is `[1, 0]`; groups of 32 along K are `[1, 32]`.

    **Packing** applies along the last dimension (along the flat stream for
    flat blocks); each row of the storage is padded to whole bytes, so the last storage dimension is
    `ceil(D_last * bits / 8)`.
    * `none` (default): one code per `i8`. Signed codes are stored in two's
      complement, unsigned codes (up to 255) as their bit pattern.
    * `lsb_first`: the row is a little-endian bit stream; code `k` occupies
      bits `[k*bits, (k+1)*bits)` counting from bit 0 of byte 0. For 4-bit
      codes element `2j` is the low nibble of byte `j` (GPTQ, ggml); 3-, 5-,
      6- and 7-bit codes may straddle two bytes. Unused high bits of the last
      byte are zero.
    * `msb_first`: for 2- and 4-bit codes only; element `2j` is the high
      nibble of byte `j` (bitsandbytes), and for 2-bit codes element `4j` is
      bits 7..6.
  }];
  let parameters = (ins
    EnumParameter<QTensor_ElementFormat>:$format,
    ArrayRefParameter<"int64_t", "block size per dimension, 0 = whole">:$block,
    EnumParameter<QTensor_PackOrder>:$packing
  );
  let hasCustomAssemblyFormat = 1;
  let genVerifyDecl = 1;
  let extraClassDeclaration = [{
    /// Number of bits of one code.
    unsigned getBitWidth() const;
    /// True for the siN formats.
    bool isSignedInteger() const;
    /// True for siN and uiN formats.
    bool isInteger() const;
    /// Smallest and largest code of an integer format.
    int64_t getMinCode() const;
    int64_t getMaxCode() const;
    /// Number of storage bytes holding `count` codes along the last axis.
    int64_t getStorageSize(int64_t count) const;
    /// Block size along `dim` of a tensor whose extent there is `extent`.
    int64_t getBlockSize(unsigned dim, int64_t extent) const;
    /// True when the blocks run over the flattened tensor: one block size
    /// for a logical tensor of rank `rank` > 1.
    bool hasFlatBlocks(int64_t rank) const {
      return getBlock().size() == 1 && rank > 1;
    }
  }];
}

def QTensor_GGMLTypeAttr
    : EnumAttr<QTensor_Dialect, QTensor_GGMLType, "ggml_type"> {
  // The enum is the numerics library's; the attribute is the dialect's.
  let cppNamespace = "::mlir::qtensor";
  let constBuilderCall =
      "::mlir::qtensor::GGMLTypeAttr::get($_builder.getContext(), $0)";
  let summary = "A ggml tensor type: a block quantization or a 16-bit float";
  let description = [{
    One of llama.cpp's block formats, named as GGUF files name them in lower
    case: `q4_0`, `q4_1`, `q5_0`, `q5_1`, `q8_0`, `q2_K`, `q3_K`, `q4_K`,
    `q5_K`, `q6_K`. The byte layout of each block and its decoding are
    ggml's (`ggml-common.h`, `dequantize_row_*`); see
    quant/Numerics/GGUFQuants.h. `f16` and `bf16` are ggml's 16-bit float
    types (little-endian IEEE binary16 and bfloat16, one element per
    "block"): the type llama.cpp falls back to when no block type fits a
    row, and how GGUF files often store unquantized matrices.
  }];
}

def QTensor_LlamaConfigAttr : QTensor_Attr<"LlamaConfig", "llama"> {
  let summary = "Hyperparameters of an imported Llama decoder";
  let description = [{
    What an exporter needs to know of the model that the IR does not say
    directly, set by the importers as the module's `qtensor.llama`
    attribute:

    ```mlir
    module attributes {qtensor.llama = #qtensor.llama<dim = 64,
        hidden_dim = 172, n_layers = 5, n_heads = 8, n_kv_heads = 4,
        vocab_size = 512, seq_len = 512, rope_theta = 1.0e+04 : f32,
        norm_eps = 1.0e-05 : f32, rope = "adjacent",
        tied_embeddings = true>} { ... }
    ```

    `seq_len` is the model's context length, not the imported window.
    `rope` is `"adjacent"` (pairs (2i, 2i+1) rotate, as llama2.c, Meta's
    code and GGUF files) or `"rotate_half"` (pairs (i, i + head_dim/2), as
    Hugging Face). `tied_embeddings`: the classifier is the token embedding
    table. All sizes are positive, `dim` is a multiple of `n_heads` and
    `n_heads` of `n_kv_heads`.
  }];
  let parameters = (ins
    "int64_t":$dim,
    "int64_t":$hidden_dim,
    "int64_t":$n_layers,
    "int64_t":$n_heads,
    "int64_t":$n_kv_heads,
    "int64_t":$vocab_size,
    "int64_t":$seq_len,
    "::mlir::FloatAttr":$rope_theta,
    "::mlir::FloatAttr":$norm_eps,
    "::mlir::StringAttr":$rope,
    "::mlir::BoolAttr":$tied_embeddings
  );
  let assemblyFormat = "`<` struct(params) `>`";
  let genVerifyDecl = 1;
}

#endif // QUANT_DIALECT_QTENSOR_IR_QTENSORATTRS_TD
