//===- CPUKernels.h - Private interface of the CPU kernels ------*- C++ -*-===//
//
// Part of the quant-opt project, under the Apache License v2.0 with LLVM
// Exceptions.
//
//===----------------------------------------------------------------------===//
//
// Private to convert-qtensor-to-cpu-kernels: the kernel generators, one per
// op family, each of which either replaces the op with a kernel call or says
// why it cannot.
//
//===----------------------------------------------------------------------===//

#ifndef QUANT_LIB_CONVERSION_QTENSORTOCPUKERNELS_CPUKERNELS_H
#define QUANT_LIB_CONVERSION_QTENSORTOCPUKERNELS_CPUKERNELS_H

#include "quant/Conversion/Passes.h"
#include "quant/Dialect/QTensor/IR/QTensorOps.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/IR/Builders.h"

#include <string>
#include <tuple>

namespace mlir {
namespace qtensor {
namespace cpu {

struct KernelOptions {
  /// Threads the task loop is written for; 1 emits a sequential loop.
  unsigned threads = 1;
  /// Exact f32 products, or int8 activations and VNNI dot products for
  /// the integer formats that have an int8 kernel.
  KernelCompute compute = KernelCompute::F32;
  /// Instruction set of the nf4/fp4 table lookups.
  KernelISA isa = KernelISA::Generic;
  /// Remark on products that compute=int8 leaves to the exact f32 kernel.
  bool reportFallback = false;
  /// Constant weights of int8 products are prepacked at compile time.
  bool prepackInt8 = true;
};

/// Lanes of one vector register of f32 (AVX-512).
constexpr int64_t kLanes = 16;
/// Output channels per task of the (parallel) task loop: two vectors, the
/// width of the prefill panel.
constexpr int64_t kChannelsPerTask = 32;
/// Activation rows from which a task decodes its weights into a panel and
/// multiplies it with outer products (prefill); fewer rows stream the codes.
constexpr int64_t kPanelMinRows = 48;
/// Rows of the prefill register tile (6 rows x 32 channels = 12 vector
/// accumulators).
constexpr int64_t kPanelRows = 6;
/// Activation rows per cache block.
constexpr int64_t kRowsPerBlock = 32;

/// What the kernel needs to know about one product's weight.
struct DequantKernelPlan {
  int64_t n = 0, k = 0;
  unsigned bits = 0;
  /// Codes per storage byte.
  unsigned fields = 0;
  /// Codes per 16-byte load.
  int64_t chunk = 0;
  /// Codes per scale along K, and the number of groups.
  int64_t group = 0, numGroups = 0;
  /// The output is added to the initial value (else the initial value is
  /// zero and the kernel writes the products over an uninitialised buffer).
  bool accumulate = true;
  /// Scales indexed by channel (else one row of scales for all channels).
  bool scalesPerChannel = false;
  bool msbFirst = false, signedCodes = false;
  /// nf4 / fp4 codes: code c decodes to lookup[c], a 16-entry table held
  /// in one register (vpermps); empty for integer codes.
  SmallVector<float, 16> lookup;
  /// The lookup format's name in kernel names.
  std::string lookupName;
  /// FP8 codes (with a 256-entry `lookup`) are converted to f32 with
  /// integer and f16 instructions instead of being looked up.
  std::optional<ElementFormat> f8Format;
  /// How the lookup is emitted.
  KernelISA isa = KernelISA::Generic;
  /// Constant added to every zero-point (2^(bits-1) for flipped signed
  /// packed codes).
  int64_t offset = 0;
  Type scaleType, zeroType;
  /// ggml blocks of 32 codes (`q4_0`, `q8_0`): bytes per block, whose first
  /// two are the block's f16 scale; 0 for the qtensor layouts, whose scales
  /// are a tensor of their own.
  int64_t ggmlBlockBytes = 0;
  /// Codes per ggml block and the bytes before its codes (scales, mins,
  /// q5's high bits).
  int64_t ggmlBlockCodes = 32, ggmlHeaderBytes = 2;
  std::string ggmlName;
  /// ggml's K-quants (q4_K, q6_K): each field of a load belongs to its own
  /// sub-block with its own scale. q4_K: two fields, 32-code sub-blocks
  /// with a scale and a min (w = d sc c - dmin m); a kernel group is one
  /// 32-byte run of a super-block's codes, two loads, whose low nibbles are
  /// sub-block 2g and high nibbles sub-block 2g + 1.
  bool subBlockScales = false;
  /// ggml's q6_K, with sub-block scales: 4 fields per load of 16 lanes,
  /// each code a nibble of `ql` and two bits of `qh`, one int8 scale per 16
  /// codes (w = d sc (c - 32)). A kernel group is one load.
  bool sixBitCodes = false;
  /// ggml's q2_K, q3_K and q6_K: each 16-lane load holds 4 fields, the
  /// quarters of a 128-code half super-block (field f, lane i of load l is
  /// code 32 f + 16 l + i of the half), with 16-code sub-block scales.
  /// q2_K: 2-bit codes in qs with a 4-bit scale and min per sub-block
  /// (w = d sc c - dmin m); q3_K (`threeBitCodes`): 2 bits in qs and bit 2
  /// in hmask, 6-bit signed scales (w = d (sc - 32) (c - 4)).
  bool quarterCodes = false;
  bool threeBitCodes = false;
  /// ggml's q5_K: q4_K's layout with bit 4 of every code in the 32 bytes
  /// `qh` after the scales: code l of field j of 64-code run c has it at
  /// bit 2 c + j of qh[l].
  bool kQuantHighBits = false;
  /// Constant q4_K / q5_K blocks (exact f32 kernel): every sub-block's f32
  /// scale and min, computed at compile time exactly as the kernel would
  /// from the blocks, in a [N, sub-blocks x 2] `scales` buffer beside
  /// them, so that the kernel loads two floats instead of unpacking 6-bit
  /// fields.
  bool ggmlParams = false;
  /// ggml's q4_1 / q5_1: an f16 min after the block's f16 scale
  /// (w = d c + m).
  bool blockMins = false;
  /// ggml's q5_0 / q5_1: the 4 bytes before the codes are a little-endian
  /// word whose bit i is bit 4 of the block's code i.
  bool fifthBits = false;
  /// Weights of the form w = s c - min (q4_K's sub-blocks, the blocks of
  /// q4_1 and q5_1): a group contributes s sum x c - min sum x.
  bool hasMins() const {
    return (subBlockScales && !sixBitCodes && !threeBitCodes) || blockMins;
  }
  /// q2_K, the only K-quant with 16-code sub-blocks and mins.
  bool isQ2K() const { return quarterCodes && hasMins(); }
  /// ggml's f16 / bf16 weights: 16-bit floats, no scales.
  Type halfType;
  /// The 16-bit float weights are an [N, K] tensor of `halfType` (a float
  /// product's f16/bf16 weight) rather than ggml's bytes.
  bool typedHalfStorage = false;
  /// A float product's f32 weights, no scales: `storage` is the weight.
  bool f32Weights = false;
  /// The f32 weight is [K, N] (linalg.matmul's right operand, not a
  /// constant) instead of [N, K]; each task copies its columns into a panel
  /// at every row count.
  bool weightKN = false;
  /// The int8 kernel's weights were prepacked at compile time
  /// (prepackInt8Weights): codes [N/16, words, 16] x i32, scales and
  /// zero-points [N/16, groups, 16].
  bool int8Prepacked = false;
  /// qtensor.quantized_matmul (W8A8): the activations are int8 codes with
  /// f32 scales (per row, or one for all rows) given by the op, multiplied
  /// as they are; the epilogue is the reference's, in its order.
  bool w8a8 = false;
  /// W8A8: one activation scale per row (else one for all rows).
  bool inputScalePerRow = false;
  /// A gated epilogue (see qtensor.dequant_matmul): the weight's rows are
  /// the gate and up projections interleaved in blocks of kLanes, so that
  /// each task's 32 rows are one block of both; the task applies the
  /// epilogue to its block. Null without one.
  Block *epilogue = nullptr;
  /// The epilogue reads the init (else the output is written over).
  bool epilogueReadsInit = false;
  /// Output channels: the weight's rows, or half of them when gated.
  int64_t outputChannels() const { return epilogue ? n / 2 : n; }

  bool isGGML() const { return ggmlBlockBytes != 0; }
  bool isHalf() const { return bool(halfType); }
  /// Float weights of either width: no scales, no zero-points.
  bool isFloatWeight() const { return isHalf() || f32Weights; }
  bool isLookup() const { return !lookup.empty(); }
  /// A constant offset without zero-points (flipped signed codes, q4_0,
  /// q5_0, q6_K) is subtracted from the f32 codes, exactly, instead of
  /// through the activation sums: no per-group scalar epilogue.
  bool offsetInCodes() const { return !zeroType && offset != 0; }
  bool needsActivationSums() const { return zeroType || hasMins(); }
  /// Scale groups of a row: one per kernel group, or one per field of a
  /// kernel group (subBlockScales).
  int64_t numScaleGroups() const {
    return subBlockScales ? numGroups * fields : numGroups;
  }
  /// K rounded up to whole loads: activations are packed with zeros up to
  /// it, so that a last partial load multiplies its extra codes by zero.
  int64_t paddedK() const { return llvm::alignTo(k, chunk); }
  /// The fields of a load already meet consecutive activations: one code
  /// per byte, or ggml's q4_0, whose low nibbles are the block's first 16
  /// codes and high nibbles the next 16.
  bool naturalOrder() const {
    return fields == 1 || (isGGML() && !subBlockScales) || isHalf();
  }
  bool needsPacking() const {
    return !weightKN && (!naturalOrder() || paddedK() != k);
  }
  int64_t storageColumns() const {
    if (f32Weights)
      return weightKN ? n : k;
    if (isHalf())
      return typedHalfStorage ? k : 2 * k;
    return isGGML() ? k / ggmlBlockCodes * ggmlBlockBytes
                    : llvm::divideCeil(k, fields);
  }
  /// Codes of the last group (shorter than `group` when K is ragged).
  int64_t lastGroupSize() const { return k - (numGroups - 1) * group; }
  /// The code index of bit field `j` of lane `i` of the load at `kc`,
  /// relative to `kc` (with sub-block scales, relative to the kernel's
  /// loadStart(kc): fields are 32 codes apart, and the second of two
  /// interleaved loads holds lanes 16-31 of each field).
  int64_t codeOffset(int64_t lane, unsigned j) const {
    if (subBlockScales)
      return 2 * kLanes * j + lane;
    if (isGGML())
      return kLanes * j + lane;
    return fields * lane + (msbFirst ? fields - 1 - j : j);
  }
};

/// The non-null buffers of a buffer set (a struct whose `fields()` ties its
/// Value members in argument order).
template <typename Buffers> SmallVector<Value> presentBuffers(Buffers buffers) {
  SmallVector<Value> values;
  std::apply(
      [&](auto &...field) {
        for (Value v : {field...})
          if (v)
            values.push_back(v);
      },
      buffers.fields());
  return values;
}

/// `buffers` with each non-null member replaced by the next of `args` (the
/// arguments of a function taking presentBuffers(buffers)).
template <typename Buffers>
Buffers rebindBuffers(Buffers buffers, ValueRange args) {
  unsigned next = 0;
  std::apply(
      [&](auto &...field) { ((field = field ? args[next++] : Value()), ...); },
      buffers.fields());
  return buffers;
}

/// Arithmetic and loop helpers over one builder, shared by the kernels.
class KernelEmitter {
public:
  KernelEmitter(OpBuilder &b, Location loc) : b(b), loc(loc) {}

protected:
  OpBuilder &b;
  Location loc;

  Value index(int64_t v) { return arith::ConstantIndexOp::create(b, loc, v); }
  Value add(Value l, Value r) { return arith::AddIOp::create(b, loc, l, r); }
  Value sub(Value l, Value r) { return arith::SubIOp::create(b, loc, l, r); }
  Value mul(Value l, Value r) { return arith::MulIOp::create(b, loc, l, r); }
  Value minIndex(Value l, Value r) {
    return arith::MinSIOp::create(b, loc, l, r);
  }
  /// `v` rounded down to a multiple of `step`.
  Value roundDown(Value v, int64_t step) {
    return mul(arith::DivUIOp::create(b, loc, v, index(step)), index(step));
  }
  Value f32Const(double v) {
    return arith::ConstantOp::create(b, loc, b.getF32FloatAttr(v));
  }
  Value i32Const(int64_t v) {
    return arith::ConstantOp::create(b, loc, b.getI32IntegerAttr(v));
  }
  /// A splat constant of `type` (integer or float elements).
  Value splat(VectorType type, double v) {
    Type element = type.getElementType();
    TypedAttr attr = isa<FloatType>(element)
                         ? TypedAttr(b.getFloatAttr(element, v))
                         : TypedAttr(b.getIntegerAttr(element, int64_t(v)));
    return arith::ConstantOp::create(b, loc,
                                     DenseElementsAttr::get(type, attr));
  }
  /// `v` (a scalar or vector of f16/bf16/f32 or signed integers) as f32.
  Value toF32(Value v) {
    Type f32 = b.getF32Type();
    if (auto vector = dyn_cast<VectorType>(v.getType()))
      f32 = vector.clone(f32);
    if (v.getType() == f32)
      return v;
    if (isa<FloatType>(getElementTypeOrSelf(v.getType())))
      return arith::ExtFOp::create(b, loc, f32, v);
    // Integer zero-points are signed, as in the reference lowering.
    return arith::SIToFPOp::create(b, loc, f32, v);
  }

  /// Emits `for (iv = lb; iv < ub; iv += step)` with `body(iv, iterArgs)`
  /// returning the next iteration's values.
  SmallVector<Value>
  forLoop(Value lb, Value ub, int64_t step, ValueRange inits,
          function_ref<SmallVector<Value>(Value, ValueRange)> body) {
    auto loop = scf::ForOp::create(
        b, loc, lb, ub, index(step), inits,
        [&](OpBuilder &nested, Location, Value iv, ValueRange iterArgs) {
          OpBuilder::InsertionGuard guard(b);
          b.setInsertionPoint(nested.getInsertionBlock(),
                              nested.getInsertionPoint());
          SmallVector<Value> next = body(iv, iterArgs);
          scf::YieldOp::create(b, loc, next);
        });
    return SmallVector<Value>(loop.getResults());
  }

  /// The f32 scale of group `g` of channel `n` (`paramRow` its row of the
  /// scales tensor); for ggml blocks the f16 in the block's first two bytes
  /// of `storage`; 1 for 16-bit float weights.
  Value loadGroupScale(const DequantKernelPlan &plan, Value storage,
                       Value scales, Value n, Value paramRow, Value g);

  /// The buffer a product kernel's tasks write: `out`, or with a gated
  /// epilogue a scratch buffer of all the weight's rows.
  Value productsBuffer(const DequantKernelPlan &plan, Value out);

  /// The task loop of a product kernel: `taskFunc(task, taskArgs...)` for
  /// each of its tasks of kChannelsPerTask weight rows, where `taskArgs`
  /// end with productsBuffer(plan, out). With a gated epilogue a wrapper
  /// task (named `taskName`) applies the epilogue to each task's block of
  /// products right after the task, writing `out`.
  void emitProductTaskLoop(const DequantKernelPlan &plan, unsigned threads,
                           func::FuncOp taskFunc, SmallVector<Value> taskArgs,
                           Value out, StringRef taskName);

  /// Calls `taskFunc(task, taskArgs...)` for every task in [0, numTasks):
  /// an scf.for, or with several threads an scf.parallel (whose body, a
  /// single call, stays one block for the OpenMP conversion).
  void emitTaskLoop(unsigned threads, Value numTasks, func::FuncOp taskFunc,
                    ValueRange taskArgs);

  /// The f16 at bytes `column`, `column + 1` of storage row `n`, as f32.
  Value loadF16(Value storage, Value n, Value column);

  /// q4_K / q5_K (32-code sub-blocks) and q2_K (16-code ones): the scale
  /// d * sc and the min dmin * m of sub-block `subBlock` of channel `n` (f32,
  /// computed as ggml's dequantize_row_q*_K does).
  std::pair<Value, Value> loadSubBlockScaleAndMin(const DequantKernelPlan &plan,
                                                  Value storage, Value n,
                                                  Value subBlock);

  /// The row of the scales (and zero-points) tensor of channel `n`.
  Value paramRow(const DequantKernelPlan &plan, Value n) {
    return plan.scalesPerChannel ? n : index(0);
  }
  /// Zero-point `zeros[row, g]` (absent: 0) plus `offset`, as f32.
  Value loadGroupOffset(Value zeros, Value row, Value g, int64_t offset);

  /// `if (condition) thenBody() else elseBody()`, as an scf.if whose
  /// regions the bodies fill with this emitter.
  void emitIfElse(Value condition, function_ref<void()> thenBody,
                  function_ref<void()> elseBody);

  /// Writes (or, with `accumulate`, adds) `acc` (row r's 16-lane vector h
  /// at r * halves + h) to out[rows[r], n0 + 16 h ..]; masked, since the
  /// last task's channels may end inside the output row.
  void storeRowTile(Value out, ArrayRef<Value> rows, Value n0,
                    ArrayRef<Value> acc, bool accumulate);

  /// Runs `body` on every tile of channels [nBegin, nEnd) x rows
  /// [0, rows): blocks of 32 rows, tiles of 2 channels x 4 rows, then the
  /// remaining rows one channel at a time (body(n0, channels, m0, rows)).
  void
  forEachStreamTile(Value nBegin, Value nEnd, Value rows,
                    function_ref<void(Value, int64_t, Value, int64_t)> body,
                    int64_t loneRowChannels = 1);
};

/// The declaration standing for LLVM intrinsic `intrinsic` of `type`
/// (marked `qtensor.llvm_intrinsic`, whose calls quant-expand-intrinsic-calls
/// turns into llvm.call_intrinsic), created in `module` unless it exists.
func::FuncOp getOrCreateIntrinsicDeclaration(ModuleOp module,
                                             StringRef intrinsic,
                                             FunctionType type);

/// A private function with an entry block at the end of `module`. The
/// arguments from `firstBuffer` on are buffers marked `llvm.noalias`.
func::FuncOp createKernelFunction(ModuleOp module, Location loc, StringRef name,
                                  TypeRange types, unsigned firstBuffer);

/// The name of the weight behind constant `storage` (importer name or
/// "weight"), which the constants derived from it at compile time extend.
std::string derivedConstantName(Value storage);

/// The kernel function's name: shape, layout, init, threads (and `suffix`).
std::string kernelName(const DequantKernelPlan &plan, unsigned threads,
                       StringRef suffix = "");

/// Why `plan` has no int8 kernel, or an empty string when it has one.
std::string whyNoInt8Kernel(const DequantKernelPlan &plan);

/// Replaces the product `op` (activations `input`, weight operands
/// `weights`, accumulator `init`) with a call of the kernel of `plan`,
/// created in the enclosing module unless it exists.
LogicalResult replaceWithKernelCall(Operation *op, DequantKernelPlan plan,
                                    Value input, ValueRange weights, Value init,
                                    const KernelOptions &options,
                                    std::string &whyNot,
                                    Value inputScales = {});

/// Replaces constant `weights` (storage, [scales], [zero-points]) of an
/// int8 product with the prepacked constants of its kernel and sets
/// `plan.int8Prepacked`; leaves both unchanged (false) when a weight is not a
/// constant or the layout has no prepacked form.
bool prepackInt8Weights(OpBuilder &b, Location loc, DequantKernelPlan &plan,
                        SmallVectorImpl<Value> &weights);

/// Builds the int8 kernel of `plan` as a function named `name` taking
/// `argTypes` (activations, storage, [scales], [zero-points], output).
func::FuncOp buildInt8Kernel(ModuleOp module, const DequantKernelPlan &plan,
                             unsigned threads, StringRef name,
                             TypeRange argTypes, Location loc);

/// Replaces `op` with a call to a vectorised kernel function (created in the
/// enclosing module, shared by products of the same shape and layout). On
/// failure the IR is unchanged and `whyNot` names the unsupported feature.
LogicalResult lowerDequantMatmulToKernel(DequantMatmulOp op,
                                         const KernelOptions &options,
                                         std::string &whyNot);

/// The same for qtensor.ggml_matmul in q4_0 and q8_0 blocks.
LogicalResult lowerGGMLMatmulToKernel(GGMLMatmulOp op,
                                      const KernelOptions &options,
                                      std::string &whyNot);

/// The same for qtensor.quantized_matmul with constant weights (the int8
/// kernel, prepacked; compute=int8 only).
LogicalResult lowerQuantizedMatmulToKernel(QuantizedMatmulOp op,
                                           const KernelOptions &options,
                                           std::string &whyNot);

/// The same for a float product (a linalg contraction of f32 tensors
/// shaped as `[..., K] x [N, K]` or `[..., K] x [K, N]`).
LogicalResult lowerFloatMatmulToKernel(linalg::LinalgOp op,
                                       const KernelOptions &options,
                                       std::string &whyNot);

} // namespace cpu
} // namespace qtensor
} // namespace mlir

#endif // QUANT_LIB_CONVERSION_QTENSORTOCPUKERNELS_CPUKERNELS_H
