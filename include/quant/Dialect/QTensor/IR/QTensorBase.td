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
  let extraClassDeclaration = [{
    /// Registers the attributes; defined next to their storage classes.
    void registerAttributes();
  }];
  let dependentDialects = ["::mlir::tensor::TensorDialect",
                           "::mlir::arith::ArithDialect"];
}

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
  let cppNamespace = "::mlir::qtensor";
  let genSpecializedAttr = 0;
}

def QTensor_PackOrder : I32EnumAttr<"PackOrder",
    "how sub-byte codes are laid out in storage bytes", [
  I32EnumAttrCase<"none", 0>,
  I32EnumAttrCase<"lsb_first", 1>,
  I32EnumAttrCase<"msb_first", 2>
]> {
  let cppNamespace = "::mlir::qtensor";
  let genSpecializedAttr = 0;
}

def QTensor_GGMLQuantType : I32EnumAttr<"GGMLQuantType",
    "a ggml tensor type (the ids of ggml.h's enum ggml_type)", [
  I32EnumAttrCase<"f16", 1>, I32EnumAttrCase<"bf16", 30>,
  I32EnumAttrCase<"q4_0", 2>, I32EnumAttrCase<"q4_1", 3>,
  I32EnumAttrCase<"q5_0", 6>, I32EnumAttrCase<"q5_1", 7>,
  I32EnumAttrCase<"q8_0", 8>,
  I32EnumAttrCase<"q2_K", 10>, I32EnumAttrCase<"q3_K", 11>,
  I32EnumAttrCase<"q4_K", 12>, I32EnumAttrCase<"q5_K", 13>,
  I32EnumAttrCase<"q6_K", 14>
]> {
  let cppNamespace = "::mlir::qtensor";
  let genSpecializedAttr = 0;
}

class QTensor_Attr<string name, string attrMnemonic, list<Trait> traits = []>
    : AttrDef<QTensor_Dialect, name, traits> {
  let mnemonic = attrMnemonic;
}

class QTensor_Op<string mnemonic, list<Trait> traits = []>
    : Op<QTensor_Dialect, mnemonic, traits>;

#endif // QUANT_DIALECT_QTENSOR_IR_QTENSORBASE_TD
