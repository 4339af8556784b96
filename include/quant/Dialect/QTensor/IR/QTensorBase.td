//===- QTensorBase.td - qtensor dialect definition ---------*- tablegen -*-===//
//
// Part of the quant-opt project, under the Apache License v2.0 with LLVM
// Exceptions.
//
//===----------------------------------------------------------------------===//
//
// The dialect, its enums and the base classes of its ops and attributes.
//
//===----------------------------------------------------------------------===//

#ifndef QUANT_DIALECT_QTENSOR_IR_QTENSORBASE_TD
#define QUANT_DIALECT_QTENSOR_IR_QTENSORBASE_TD

include "mlir/IR/OpBase.td"
include "mlir/IR/AttrTypeBase.td"
include "mlir/IR/EnumAttr.td"

def QTensor_Dialect : Dialect {
  let name = "qtensor";
  let cppNamespace = "::mlir::qtensor";
  let summary = "Quantized tensors whose scales and zero-points are SSA values";
  let description = [{
    The `qtensor` dialect represents post-training quantized tensors, mostly
    the weights of large language models, in a form that compiler passes can
    create, inspect, fuse and lower.

    Unlike upstream `!quant.uniform`, a quantized tensor is not a type: it is
    a set of SSA values plus a small layout attribute.

    * **storage**: a `tensor<...xi8>` holding the integer codes, one per
      element or packed several per byte (see `#qtensor.layout`);
    * **scales**: a float tensor (`f32`, `f16` or `bf16`) with one scale per
      block of the logical tensor;
    * **zero-points** (optional): integer or float, same shape as the scales;
      absent means symmetric;
    * **group index** (optional): for act-order (GPTQ `desc_act`) weights, a
      `tensor<Kxi32>` mapping each element of the last axis to its group.

    Because scales are plain values, double quantization is composition: the
    scales operand may itself be the result of a `qtensor.dequantize` of 8-bit
    codes with their own scale.

    All conversions from float round half to even and clamp explicitly; each
    op's description states its exact numerics, and every lowering honours
    them.
  }];
  let useDefaultAttributePrinterParser = 1;
  let hasOperationAttrVerify = 1;
  // Attributes the passes, importers and exporters put on ops they do not
  // own.
  let discardableAttrs = (ins
    // The checkpoint name of the weight a quantized product or constant
    // carries (`model.layers.0.mlp.down_proj.weight`); exporters name the
    // tensors they write after it.
    "::mlir::StringAttr":$weight_name,
    // On a module: llama.cpp's `llama_ftype` id (15 for Q4_K_M), set by
    // --quant-gguf's `mix` and by GGUF import, written by the GGUF exporter
    // as `general.file_type`.
    "::mlir::IntegerAttr":$gguf_file_type,
    // On a module: the hyperparameters of the Llama decoder it holds, set
    // by the importers and read by the exporters.
    "::mlir::qtensor::LlamaConfigAttr":$llama,
    // On a function declaration made by the CPU kernels: the LLVM intrinsic
    // it stands for (`llvm.x86.avx512.vpdpbusd.512`); its calls become
    // `llvm.call_intrinsic` after buffer deallocation.
    "::mlir::StringAttr":$llvm_intrinsic,
    // On a module lowered by quant-lower-to-nvvm: the constant globals
    // (weights) whose device copies kernels read; quant-upload-gpu-constants
    // consumes it.
    "::mlir::ArrayAttr":$gpu_constants,
    // On a public function lowered by quant-lower-to-nvvm: its buffer
    // arguments are device memory already (a caller that keeps weights and
    // activations on the GPU), so they are not copied in.
    "::mlir::UnitAttr":$gpu_device_arguments,
    // On the ops that delimit a causal attention of an imported Llama:
    // "query", "key" and "value" on the tensor.expand_shape ops that split
    // its inputs into heads, "output" on the tensor.collapse_shape that
    // joins the heads of its result. --quant-decode-step replaces what lies
    // between them with attention over a key/value cache.
    "::mlir::StringAttr":$attention
  );
  let extraClassDeclaration = [{
    /// Registers the attributes; defined next to their storage classes.
    void registerAttributes();
  }];
  let dependentDialects = ["::mlir::tensor::TensorDialect",
                           "::mlir::arith::ArithDialect",
                           "::mlir::math::MathDialect"];
}

// The enums below are defined once, in C++, by the numerics library
// (quant/Numerics/ElementFormat.h, GGMLTypes.h); these records describe them
// for ODS (parameters, documentation) without generating a second copy.

def QTensor_ElementFormat : I32EnumAttr<"ElementFormat",
    "the value set and encoding of a quantized code", [
  I32EnumAttrCase<"si2", 0>, I32EnumAttrCase<"si3", 1>,
  I32EnumAttrCase<"si4", 2>, I32EnumAttrCase<"si5", 3>,
  I32EnumAttrCase<"si6", 4>, I32EnumAttrCase<"si7", 5>,
  I32EnumAttrCase<"si8", 6>,
  I32EnumAttrCase<"ui2", 7>, I32EnumAttrCase<"ui3", 8>,
  I32EnumAttrCase<"ui4", 9>, I32EnumAttrCase<"ui5", 10>,
  I32EnumAttrCase<"ui6", 11>, I32EnumAttrCase<"ui7", 12>,
  I32EnumAttrCase<"ui8", 13>,
  I32EnumAttrCase<"nf4", 14>, I32EnumAttrCase<"fp4", 15>,
  I32EnumAttrCase<"f8E4M3FN", 16>, I32EnumAttrCase<"f8E5M2", 17>,
  I32EnumAttrCase<"dynamic8", 18>
]> {
  let cppNamespace = "::quantopt::numerics";
  let genSpecializedAttr = 0;
}

def QTensor_PackOrder : I32EnumAttr<"PackOrder",
    "how sub-byte codes are laid out in storage bytes", [
  I32EnumAttrCase<"none", 0>,
  I32EnumAttrCase<"lsb_first", 1>,
  I32EnumAttrCase<"msb_first", 2>
]> {
  let cppNamespace = "::quantopt::numerics";
  let genSpecializedAttr = 0;
}

// The ggml types a qtensor.ggml_* op can store (every type but f32), with
// ggml's ids and names.
def QTensor_GGMLType : I32EnumAttr<"GGMLType",
    "a ggml tensor type (the ids of ggml.h's enum ggml_type)", [
  I32EnumAttrCase<"F16", 1, "f16">, I32EnumAttrCase<"BF16", 30, "bf16">,
  I32EnumAttrCase<"Q4_0", 2, "q4_0">, I32EnumAttrCase<"Q4_1", 3, "q4_1">,
  I32EnumAttrCase<"Q5_0", 6, "q5_0">, I32EnumAttrCase<"Q5_1", 7, "q5_1">,
  I32EnumAttrCase<"Q8_0", 8, "q8_0">,
  I32EnumAttrCase<"Q2_K", 10, "q2_K">, I32EnumAttrCase<"Q3_K", 11, "q3_K">,
  I32EnumAttrCase<"Q4_K", 12, "q4_K">, I32EnumAttrCase<"Q5_K", 13, "q5_K">,
  I32EnumAttrCase<"Q6_K", 14, "q6_K">
]> {
  let cppNamespace = "::quantopt::numerics";
  let genSpecializedAttr = 0;
}

class QTensor_Attr<string name, string attrMnemonic, list<Trait> traits = []>
    : AttrDef<QTensor_Dialect, name, traits> {
  let mnemonic = attrMnemonic;
}

class QTensor_Op<string mnemonic, list<Trait> traits = []>
    : Op<QTensor_Dialect, mnemonic, traits>;

#endif // QUANT_DIALECT_QTENSOR_IR_QTENSORBASE_TD
