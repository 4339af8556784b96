//===- QuantizedElements.h - Element code of the qtensor lowering -*- C++
//-*-===//
//
// Part of the quant-opt project, under the Apache License v2.0 with LLVM
// Exceptions.
//
//===----------------------------------------------------------------------===//
//
// Private to the qtensor -> linalg lowering: the scalar encode/decode code
// that every linalg.generic body of the lowering is built from, the reader
// of quantized operands inside a generic, and the pattern sets of each op
// family (populated together by populateQTensorToLinalgPatterns).
//
//===----------------------------------------------------------------------===//

#ifndef QUANT_LIB_CONVERSION_QTENSORTOLINALG_QUANTIZEDELEMENTS_H
#define QUANT_LIB_CONVERSION_QTENSORTOLINALG_QUANTIZEDELEMENTS_H

#include "quant/Dialect/QTensor/IR/QTensorOps.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/PatternMatch.h"

namespace mlir {
namespace qtensor {
namespace lowering {

//===----------------------------------------------------------------------===//
// Element helpers
//===----------------------------------------------------------------------===//

Value f32Const(OpBuilder &b, Location loc, float v);
Value i32Const(OpBuilder &b, Location loc, int64_t v);
void yieldValue(OpBuilder &b, Location loc, Value v);
/// Extends or truncates a float scalar to f32 / to `type`.
Value toF32(OpBuilder &b, Location loc, Value v);
Value fromF32(OpBuilder &b, Location loc, Value v, Type type);

/// The decode table of a lookup / FP8 format as a constant tensor.
Value createDecodeTable(OpBuilder &b, Location loc, LayoutAttr layout);
/// createDecodeTable for non-integer formats; null for integer ones.
Value maybeCreateTable(OpBuilder &b, Location loc, LayoutAttr layout);

/// Decodes the unsigned code in `code` (i32, low bits) to its float value
/// without scale: the integer value for integer formats (sign-extended for
/// siN), the table entry otherwise.
Value decodeCode(OpBuilder &b, Location loc, LayoutAttr layout, Value code,
                 Value table);

/// s * (value(code) - z) in f32, `zero` being optional.
Value decodeWithParams(OpBuilder &b, Location loc, LayoutAttr layout,
                       Value code, Value scale, Value zero, Value table);

/// Encodes the f32 `x` with scale and zero-point into its code, an i32:
/// the signed value for siN formats, the unsigned bit pattern otherwise.
/// `table` is the decode table of lookup formats (needed by dynamic8).
Value encodeElement(OpBuilder &b, Location loc, LayoutAttr layout, Value x,
                    Value scale, Value zero, Value table = nullptr);

/// tensor.empty of `type`; dynamic sizes are those of `shapeSource` (unless
/// `staticOnly`, for shapes that do not follow the source).
Value createEmptyLike(OpBuilder &b, Location loc, RankedTensorType type,
                      Value shapeSource, bool staticOnly = false);

//===----------------------------------------------------------------------===//
// Reading quantized operands inside a linalg.generic
//===----------------------------------------------------------------------===//

/// Describes how a linalg.generic reads the quantized operands of one
/// logical tensor element, whose indices are the loop dimensions
/// `logicalDims` of the generic.
struct QuantizedReader {
  LayoutAttr layout;
  Value storage, scales, zeroPoints, groupIndex;
  ArrayRef<int64_t> logicalShape;
  SmallVector<unsigned> logicalDims;

  /// Positions of the block arguments that addInputs added (-1: none).
  struct Args {
    int byte0 = -1, byte1 = -1, scale = -1, zero = -1, group = -1;
  };

  /// Blocks over the row-major flattened tensor (static shape): storage,
  /// scales and zero-points are 1-D and indexed by the flat index.
  bool isFlat() const { return layout.hasFlatBlocks(logicalDims.size()); }

  /// The row-major flat index of the element as an affine expression of the
  /// loop dimensions.
  AffineExpr getFlatExpr(MLIRContext *ctx) const;

  /// Adds the operands and indexing maps read per element and returns the
  /// positions of their block arguments.
  Args addInputs(MLIRContext *ctx, unsigned numLoops,
                 SmallVectorImpl<Value> &inputs,
                 SmallVectorImpl<AffineMap> &maps) const;

  /// Scale (f32) and zero-point (original type, or null) of the element.
  std::pair<Value, Value> getScaleAndZero(OpBuilder &b, Location loc,
                                          const Args &args,
                                          ValueRange blockArgs) const;

  /// The unsigned code of the element, in the low bits of an i32.
  Value getCode(OpBuilder &b, Location loc, const Args &args,
                ValueRange blockArgs) const;

  /// Decoded f32 value of the element.
  Value decode(OpBuilder &b, Location loc, const Args &args,
               ValueRange blockArgs, Value table) const;
};

/// Reads the scale/zero of a logical element for quantize and fake_quant
/// (which have no group index and use affine maps).
QuantizedReader::Args addParamInputs(MLIRContext *ctx, QuantizedReader &reader,
                                     unsigned numLoops,
                                     SmallVectorImpl<Value> &inputs,
                                     SmallVectorImpl<AffineMap> &maps);

//===----------------------------------------------------------------------===//
// Pattern sets by op family
//===----------------------------------------------------------------------===//

/// quantize, dequantize and fake_quant (QuantizeOps.cpp).
void populateQuantizeOpLoweringPatterns(RewritePatternSet &patterns);
/// dequant_matmul (DequantMatmul.cpp).
void populateDequantMatmulLoweringPatterns(RewritePatternSet &patterns);
/// dynamic_quantize and quantized_matmul, the W8A8 ops (QuantizedMatmul.cpp).
void populateQuantizedMatmulLoweringPatterns(RewritePatternSet &patterns);

} // namespace lowering
} // namespace qtensor
} // namespace mlir

#endif // QUANT_LIB_CONVERSION_QTENSORTOLINALG_QUANTIZEDELEMENTS_H
