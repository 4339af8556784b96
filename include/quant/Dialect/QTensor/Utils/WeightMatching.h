//===- WeightMatching.h - Find matmuls with constant weights ----*- C++ -*-===//
//
// Part of the quant-opt project, under the Apache License v2.0 with LLVM
// Exceptions.
//
//===----------------------------------------------------------------------===//
//
// Shared by every weight quantization pass: recognise a matrix product whose
// weight is a compile-time constant, read the weight in [N, K] order, and
// replace the product with qtensor.dequant_matmul.
//
//===----------------------------------------------------------------------===//

#ifndef QUANT_DIALECT_QTENSOR_UTILS_WEIGHTMATCHING_H
#define QUANT_DIALECT_QTENSOR_UTILS_WEIGHTMATCHING_H

#include "quant/Dialect/QTensor/IR/QTensorOps.h"

#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/IR/PatternMatch.h"
#include "mlir/Pass/Pass.h"

#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace mlir {
namespace qtensor {

/// A matrix product `init + input · Wᵀ` whose weight W is a constant, or a
/// view of one: the chain of transposes, broadcasts, reshapes and element
/// type conversions that frontends put between a parameter and its product
/// (torch-mlir's `linalg.transpose` of an nn.Linear weight, a broadcast into
/// `linalg.batch_matmul`, TOSA's reshapes, a bf16 -> f32 `linalg.generic`).
struct ConstantWeightMatmul {
  linalg::LinalgOp op;
  /// The activation and accumulator when matched (replacing an earlier
  /// product may replace them; `op`'s operands are current).
  Value input;
  Value init;
  /// Stable name of the weight: the global's symbol, the dense_resource key,
  /// or the constant's name location; else "matmul_<n>".
  std::string name;
  /// Batch of weights (0 when unbatched), output channels, reduction size.
  /// A weight broadcast along the product's batch dimension is unbatched.
  int64_t batch = 0, rows = 0, cols = 0;
  /// The weight in [B,] N, K row-major order, as f32: the values the
  /// product multiplies (rounded to the operand's f16/bf16 type if it has
  /// one).
  std::vector<float> weight;
  /// True when the weight came from a dense_resource blob.
  bool fromResource = false;
  /// The constant's stored bytes, in place (empty for splats and globals
  /// read otherwise): what releaseResidentPages gives back once the weight
  /// is quantized.
  ArrayRef<char> storedBytes;
  /// Which input of `op` is the weight, and what each of that operand's
  /// dimensions is: 'b' (batch), 'n' (output channel) or 'k' (reduction).
  unsigned weightOperand = 1;
  SmallVector<char> operandDims;
  /// The view ops between the constant and `op`, nearest to `op` first.
  SmallVector<Operation *> weightChain;
};

/// Recognises `op` as a product with a constant weight. On failure, `reason`
/// says why (empty when `op` is not a contraction with a constant-derived
/// operand at all: not a weight-carrying product). Without `readWeight` the
/// match leaves `weight` empty: it says what the product is, and a later
/// match reads the values when they are needed.
FailureOr<ConstantWeightMatmul>
matchConstantWeightMatmul(linalg::LinalgOp op, std::string &reason,
                          unsigned ordinal, bool readWeight = true);

/// Reads the values of a product matched without them (WeightFilter's
/// `readWeights` off), when their turn comes. Errors name `passName`.
LogicalResult readMatchedWeight(ConstantWeightMatmul &match,
                                StringRef passName);

/// Drops a match's f32 values and releases the pages of its stored
/// constant: what a pass does once the weight is quantized.
void releaseMatchedWeight(ConstantWeightMatmul &match);

/// True when `op` is a matrix product one of whose inputs is a constant or
/// a view of one: a product that weight passes are asked to quantize.
bool isWeightCarryingProduct(Operation *op);

/// The values of `weight` ([B,] N, K, as in ConstantWeightMatmul::weight)
/// laid out as the product's weight operand (transposed, or repeated along
/// a broadcast batch dimension).
std::vector<float> weightInOperandLayout(const ConstantWeightMatmul &match,
                                         ArrayRef<float> weight);

/// The first of the `skip` strings (the passes' `skip` option) that `name`
/// contains, or null.
const std::string *findSkipPattern(StringRef name, ArrayRef<std::string> skip);

/// A host's choice of the products to quantize (Transforms.h).
using WeightSelector = std::function<bool(const ConstantWeightMatmul &)>;

/// Which products forEachConstantWeightMatmul passes over.
struct WeightFilter {
  /// Prefix of the remarks on the products passed over.
  StringRef passName;
  /// Emit a remark saying why each weight-carrying product passed over is
  /// not quantized (the passes' `report-skipped`).
  bool explainSkips = false;
  /// Weights whose name contains one of these strings.
  ArrayRef<std::string> skip;
  /// Products the host's selector declines (when set).
  WeightSelector select;
  /// Batched weights (`[B, N, K]`).
  bool skipBatched = false;
  /// Products whose activations are not f32.
  bool skipNonF32Input = false;
  /// Products whose weight operand is not f32.
  bool skipNonF32Weight = false;
  /// When set, products outside this op (the function a calibrated pass
  /// runs) are passed over.
  Operation *scope = nullptr;
  /// A weight holding NaN or Inf is an error (checkFiniteWeight).
  bool requireFinite = true;
  /// Pass each weight's values to `fn`. A pass that lists the products
  /// first and quantizes them one at a time later (GPTQ) does without them:
  /// each weight is then read only for the finiteness check and dropped
  /// before `fn`, so that one f32 weight is held at a time.
  bool readWeights = true;
  /// Treat f16/bf16 qtensor.ggml_matmul ops (GGUF's float matrices) as
  /// float products: each one not skipped is rewritten, exactly, as a
  /// linalg.generic over an f32 constant before it is matched.
  bool expandFloatGGML = true;
};

/// Calls `fn` on every product under `root` with a constant weight, in
/// program order, except those `filter` passes over. Products are listed
/// before the first call and each weight is read just before its call, so
/// `fn` may replace its product. Returns the first failure of `fn` or of
/// the finiteness check.
LogicalResult forEachConstantWeightMatmul(
    Operation *root, const WeightFilter &filter,
    function_ref<LogicalResult(ConstantWeightMatmul &)> fn);

/// Quantized weight operands to replace a matched product with.
struct QuantizedWeight {
  LayoutAttr layout;
  /// Row-major bytes of the storage tensor and its shape.
  std::vector<uint8_t> storage;
  SmallVector<int64_t> storageShape;
  /// Scales (f32 values, stored as `scaleType`), shape of scales/zeros.
  std::vector<float> scales;
  SmallVector<int64_t> scaleShape;
  Type scaleType;
  /// Integer zero-points; empty for symmetric / non-integer formats.
  std::vector<int32_t> zeros;
  /// Group of each input column (act-order); empty when groups are k/size.
  std::vector<int32_t> groupIndex;
};

/// The weight name of a quantized op: its kWeightNameAttr, else its name
/// location; "" when it has neither.
std::string getWeightName(Operation *op);

/// Creates the constants and the qtensor.dequant_matmul, and replaces the
/// matched op. Large weights become dense_resource blobs named after the
/// weight when the source was a resource.
DequantMatmulOp replaceWithDequantMatmul(RewriterBase &rewriter,
                                         const ConstantWeightMatmul &match,
                                         const QuantizedWeight &weight);

/// Replaces the matched product by what `create(builder, input, init)`
/// builds (an f32 [..., N] value), converting the activations to f32 first
/// when `f32Input`, an f16/bf16 accumulator to f32 and the result back to
/// the product's type; then erases the product and the weight's view chain
/// and constant when nothing else uses them.
void replaceMatchedProduct(
    RewriterBase &rewriter, const ConstantWeightMatmul &match, bool f32Input,
    function_ref<Value(OpBuilder &, Location, Value input, Value init)> create);

/// Runs a weight pass's `quantize` on `root` and reports what it did: the
/// census remark (WeightProductCensus) under `passName` and the pass's
/// statistics.
LogicalResult runWeightPass(Operation *root, StringRef passName,
                            function_ref<LogicalResult()> quantize,
                            Pass::Statistic &numQuantized,
                            Pass::Statistic &numLeftInFloat);

/// `value` (a float tensor) converted elementwise to `elementType` by a
/// linalg.generic of arith.extf / arith.truncf; `value` itself when it has
/// that type already.
Value convertFloatElements(OpBuilder &builder, Location loc, Value value,
                           Type elementType);

/// Counts the weight-carrying products (isWeightCarryingProduct) of each
/// function when constructed; report() then says how many of them a pass
/// quantized, as a remark on each function that had any.
class WeightProductCensus {
public:
  explicit WeightProductCensus(Operation *root);

  /// Emits "<pass>: quantized N of M weight-carrying matrix products" on
  /// every function that had M > 0 products, N being those no longer
  /// there. Returns the totals.
  std::pair<unsigned, unsigned> report(StringRef passName);

private:
  Operation *root;
  SmallVector<std::pair<Operation *, unsigned>> before;
};

/// A float constant (arith.constant of dense or dense_resource elements, or
/// a constant ml_program global) read as f32 in row-major order.
struct FloatConstant {
  std::string name;
  bool fromResource = false;
  RankedTensorType type;
  std::vector<float> values;
};
std::optional<FloatConstant> readFloatConstant(Value value);
/// The raw row-major bytes of a constant tensor of whole-byte elements
/// (dense, splat, dense_resource or a constant ml_program global).
std::optional<std::vector<uint8_t>> readConstantBytes(Value value);
/// The stored bytes of such a constant in place, when it is not a splat:
/// they live as long as the context (attribute storage or resource blob).
std::optional<ArrayRef<char>> viewConstantBytes(Value value);
/// True when `value` is such a constant (without reading it).
bool isConstantTensor(Value value);

/// A constant tensor from raw row-major bytes: a dense_resource blob named
/// `name` when `asResource` (the context makes the key unique), else a dense
/// attribute.
Value createRawConstant(OpBuilder &builder, Location loc, RankedTensorType type,
                        ArrayRef<char> bytes, bool asResource, StringRef name);

/// An f32 arith.constant holding `values`: a dense_resource blob named
/// `name` when `asResource` (the context makes the key unique), else a
/// dense attribute.
Value createF32Constant(OpBuilder &builder, Location loc,
                        ArrayRef<int64_t> shape, ArrayRef<float> values,
                        bool asResource, StringRef name);

/// Replaces the weight operand of `match.op` with a new constant of the
/// operand's type holding `match.weight` in the operand's layout, and erases
/// the old view chain and constant when unused.
void updateFloatWeight(OpBuilder &builder, const ConstantWeightMatmul &match);

/// Erases the arith.constant or ml_program.global_load_const defining
/// `value` once nothing uses it.
void eraseIfDeadConstant(Value value);

/// Emits an error naming the weight if it holds NaN or Inf.
LogicalResult checkFiniteWeight(const ConstantWeightMatmul &match);

} // namespace qtensor
} // namespace mlir

#endif // QUANT_DIALECT_QTENSOR_UTILS_WEIGHTMATCHING_H
