//===- ConvertQTensorToGPUKernels.cpp - Per-layout GPU product kernels ----===//
//
// Part of the quant-opt project, under the Apache License v2.0 with LLVM
// Exceptions.
//
//===----------------------------------------------------------------------===//
//
// Replaces quantized products with a gpu.launch of a kernel written for
// their layout (a warp per output channel streaming the packed codes with
// 16-byte loads), on buffers of the op's tensors. The rest of
// quant-lower-to-nvvm bufferizes around it and outlines it.
//
//===----------------------------------------------------------------------===//

#include "../KernelOperands.h"
#include "quant/Conversion/Passes.h"
#include "quant/Dialect/QTensor/IR/QTensorOps.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/IR/Matchers.h"

namespace mlir {
namespace qtensor {
#define GEN_PASS_DEF_CONVERTQTENSORTOGPUKERNELSPASS
#include "quant/Conversion/Passes.h.inc"
} // namespace qtensor
} // namespace mlir

using namespace mlir;
using namespace mlir::qtensor;

namespace {

constexpr int64_t kWarpSize = 32;
/// Warps per block: each computes one output channel.
constexpr int64_t kWarpsPerBlock = 4;
/// Activation rows a warp computes per weight pass.
constexpr int64_t kRowsPerPass = 8;
/// Bytes each lane loads per step.
constexpr int64_t kLoadBytes = 16;
/// 2^23 as a float: `0x4B000000 | c` is the float 2^23 + c for c < 2^23.
constexpr uint32_t kMagicBits = 0x4B000000;
constexpr double kMagic = 8388608.0;

/// What the GEMV kernel needs to know about a dequant_matmul's weight.
struct GEMVPlan {
  int64_t n = 0, k = 0;
  unsigned bits = 0;
  /// Codes per byte, per 32-bit word and per lane load.
  int64_t fields = 0, codesPerWord = 0, codesPerLoad = 0;
  int64_t group = 0;
  bool msbFirst = false;
  /// Signed codes are flipped to unsigned (xor 2^(b-1)); the offset joins
  /// the zero-point.
  bool signedCodes = false;
  bool scalesPerChannel = false;
  bool hasZeros = false;
  bool accumulate = true;
  Type scaleType;
  /// ggml blocks of 32 codes (`q4_0`, `q8_0`): bytes per block, the first
  /// two of which are the block's f16 scale; 0 for qtensor layouts.
  int64_t blockBytes = 0;

  bool isGGML() const { return blockBytes != 0; }
  /// Bytes of codes a lane reads per step (one or two 16-byte loads).
  int64_t codeBytes() const { return codesPerLoad / fields; }
  /// The code index, within a lane step, of field `i` of word `t`.
  int64_t codeIndex(int64_t t, int64_t i) const {
    int64_t field = i % fields, byte = 4 * t + i / fields;
    // q4_0: the low nibbles of the 16 bytes are codes 0-15, the high
    // nibbles codes 16-31.
    if (isGGML())
      return field * 16 + byte;
    if (msbFirst)
      field = fields - 1 - field;
    return byte * fields + field;
  }
};

/// The plan for `op`, or a reason why the kernel does not apply.
FailureOr<GEMVPlan> planGEMV(DequantMatmulOp op, std::string &whyNot) {
  auto fail = [&](const Twine &why) {
    whyNot = why.str();
    return failure();
  };
  GEMVPlan plan;
  LayoutAttr layout = op.getLayout();
  SmallVector<int64_t> shape = op.getWeightShape();
  if (shape.size() != 2)
    return fail("batched [B, N, K] weights");
  plan.n = shape[0];
  plan.k = shape[1];
  if (ShapedType::isDynamic(plan.n) || ShapedType::isDynamic(plan.k))
    return fail("dynamic weight shape");
  if (!layout.isInteger())
    return fail("lookup and FP8 formats");
  if (layout.hasFlatBlocks(2))
    return fail("flat blocks");
  if (op.getGroupIndex())
    return fail("an act-order group index");
  if (!op.getInput().getType().getElementType().isF32() ||
      !op.getInit().getType().getElementType().isF32())
    return fail("activations that are not f32");
  plan.bits = layout.getBitWidth();
  if (plan.bits != 2 && plan.bits != 4 && plan.bits != 8)
    return fail(Twine(plan.bits) + "-bit codes");
  if (plan.bits < 8 && layout.getPacking() == PackOrder::none)
    return fail("unpacked sub-byte codes");
  plan.fields = 8 / plan.bits;
  plan.codesPerWord = 4 * plan.fields;
  plan.codesPerLoad = kLoadBytes * plan.fields;
  plan.msbFirst = layout.getPacking() == PackOrder::msb_first;
  plan.signedCodes = layout.isSignedInteger();
  if (op.getStorage().getType().getShape() !=
      ArrayRef<int64_t>{plan.n, plan.k / plan.fields})
    return fail("storage shape");
  if (plan.k % plan.codesPerLoad != 0)
    return fail(Twine("K = ") + Twine(plan.k) + " (a multiple of " +
                Twine(plan.codesPerLoad) + " is needed)");
  int64_t rowBlock = layout.getBlockSize(0, plan.n);
  if (rowBlock != 1 && rowBlock != plan.n)
    return fail(Twine("blocks of ") + Twine(rowBlock) + " channels");
  plan.scalesPerChannel = rowBlock == 1 && plan.n > 1;
  plan.group = layout.getBlockSize(1, plan.k);
  if (plan.group % plan.codesPerLoad != 0)
    return fail(Twine("groups of ") + Twine(plan.group) + " codes");
  int64_t groups = plan.k / plan.group;
  auto scalesType = op.getScales().getType();
  if (scalesType.getShape() !=
      ArrayRef<int64_t>{plan.scalesPerChannel ? plan.n : 1, groups})
    return fail("scales that are not a [channels, groups] matrix");
  plan.scaleType = scalesType.getElementType();
  if (!plan.scaleType.isF32() && !plan.scaleType.isF16() &&
      !plan.scaleType.isBF16())
    return fail("scales that are not f32, f16 or bf16");
  if (Value zeros = op.getZeroPoints()) {
    if (!isa<IntegerType>(getElementTypeOrSelf(zeros.getType())))
      return fail("float zero-points");
    plan.hasZeros = true;
  }
  return plan;
}

/// The plan for a ggml product in `q4_0` or `q8_0` blocks.
FailureOr<GEMVPlan> planGGMLGEMV(GGMLMatmulOp op, std::string &whyNot) {
  auto fail = [&](const Twine &why) {
    whyNot = why.str();
    return failure();
  };
  GEMVPlan plan;
  auto storageType = op.getStorage().getType();
  plan.n = storageType.getShape()[0];
  plan.k = op.getInput().getType().getShape().back();
  if (ShapedType::isDynamic(plan.n) || ShapedType::isDynamic(plan.k))
    return fail("dynamic weight shape");
  switch (op.getGgmlType()) {
  case GGMLType::Q4_0:
    plan.bits = 4;
    plan.blockBytes = 18;
    break;
  case GGMLType::Q8_0:
    plan.bits = 8;
    plan.blockBytes = 34;
    plan.signedCodes = true;
    break;
  default:
    return fail(Twine("ggml type ") + stringifyGGMLType(op.getGgmlType()));
  }
  plan.fields = 8 / plan.bits;
  plan.codesPerWord = 4 * plan.fields;
  plan.codesPerLoad = 32;
  plan.group = 32;
  plan.scalesPerChannel = true;
  if (plan.k % 32 != 0 ||
      storageType.getShape()[1] != plan.k / 32 * plan.blockBytes)
    return fail("storage shape");
  return plan;
}

/// The launch shared by the warp-per-channel kernels: a warp computes one
/// output channel `n` for the 8 activation rows from `firstRow`, lane
/// `lane`; `rows` are those rows clamped to the last (rows past the end
/// repeat it and are not stored).
struct WarpPerChannel {
  Value lane, n, firstRow, rowsTotal;
  SmallVector<Value> rows;
};

/// Creates the launch over `channels` channels and the rows of `x`, and
/// leaves `b` inside its `if (n < channels)`.
WarpPerChannel beginWarpPerChannel(OpBuilder &b, Location loc, Value x,
                                   int64_t channels) {
  auto index = [&](int64_t v) -> Value {
    return arith::ConstantIndexOp::create(b, loc, v);
  };
  WarpPerChannel w;
  w.rowsTotal = memref::DimOp::create(b, loc, x, 0);
  Value one = index(1);
  auto launch = gpu::LaunchOp::create(
      b, loc, index(llvm::divideCeil(channels, kWarpsPerBlock)),
      arith::CeilDivUIOp::create(b, loc, w.rowsTotal, index(kRowsPerPass)), one,
      index(kWarpSize), index(kWarpsPerBlock), one);
  b.setInsertionPointToStart(&launch.getBody().front());
  gpu::TerminatorOp::create(b, loc);
  b.setInsertionPointToStart(&launch.getBody().front());
  w.lane = launch.getThreadIds().x;
  w.n = arith::AddIOp::create(b, loc,
                              arith::MulIOp::create(b, loc,
                                                    launch.getBlockIds().x,
                                                    index(kWarpsPerBlock)),
                              launch.getThreadIds().y);
  w.firstRow = arith::MulIOp::create(b, loc, launch.getBlockIds().y,
                                     index(kRowsPerPass));
  Value inRange = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ult, w.n,
                                        index(channels));
  auto ifChannel = scf::IfOp::create(b, loc, inRange, /*withElse=*/false);
  b.setInsertionPointToStart(&ifChannel.getThenRegion().front());
  Value lastRow = arith::SubIOp::create(b, loc, w.rowsTotal, one);
  for (int64_t r = 0; r < kRowsPerPass; ++r)
    w.rows.push_back(arith::MinUIOp::create(
        b, loc, arith::AddIOp::create(b, loc, w.firstRow, index(r)), lastRow));
  return w;
}

/// The sum of `value` (f32 or i32) over the warp, in every lane
/// (butterfly shuffles).
Value warpSum(OpBuilder &b, Location loc, Value value) {
  bool isFloat = isa<FloatType>(value.getType());
  for (int32_t offset = kWarpSize / 2; offset > 0; offset /= 2) {
    Value other = gpu::ShuffleOp::create(b, loc, value, offset, kWarpSize,
                                         gpu::ShuffleMode::XOR)
                      .getShuffleResult();
    value = isFloat ? Value(arith::AddFOp::create(b, loc, value, other))
                    : Value(arith::AddIOp::create(b, loc, value, other));
  }
  return value;
}

/// A loop of warp steps carrying `init`: in step `s`, lane `lane` handles
/// unit `32 s + lane` of `units` through `body(unit, acc)`, which returns the
/// next values; a lane past the last unit keeps its values.
SmallVector<Value>
laneStrideLoop(OpBuilder &b, Location loc, Value lane, int64_t units,
               ValueRange init,
               function_ref<SmallVector<Value>(Value, ValueRange)> body) {
  auto index = [&](int64_t v) -> Value {
    return arith::ConstantIndexOp::create(b, loc, v);
  };
  auto loop = scf::ForOp::create(b, loc, index(0),
                                 index(llvm::divideCeil(units, kWarpSize)),
                                 index(1), init);
  OpBuilder::InsertionGuard guard(b);
  b.setInsertionPointToStart(loop.getBody());
  Value unit = arith::AddIOp::create(
      b, loc,
      arith::MulIOp::create(b, loc, loop.getInductionVar(), index(kWarpSize)),
      lane);
  ValueRange acc = loop.getRegionIterArgs();
  if (units % kWarpSize == 0) {
    scf::YieldOp::create(b, loc, body(unit, acc));
    return loop.getResults();
  }
  Value inside = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ult, unit,
                                       index(units));
  auto ifInside = scf::IfOp::create(b, loc, TypeRange(acc), inside,
                                    /*withElse=*/true);
  b.setInsertionPointToStart(&ifInside.getThenRegion().front());
  scf::YieldOp::create(b, loc, body(unit, acc));
  b.setInsertionPointToStart(&ifInside.getElseRegion().front());
  scf::YieldOp::create(b, loc, acc);
  b.setInsertionPointAfter(ifInside);
  scf::YieldOp::create(b, loc, ifInside.getResults());
  return loop.getResults();
}

/// Lane 0 stores `values[r]` to out[firstRow + r, n] for the rows that
/// exist, added to what `out` holds when `addToOutput`.
void storeRows(OpBuilder &b, Location loc, const WarpPerChannel &w,
               ArrayRef<Value> values, Value out, bool addToOutput) {
  OpBuilder::InsertionGuard guard(b);
  Value isFirstLane =
      arith::CmpIOp::create(b, loc, arith::CmpIPredicate::eq, w.lane,
                            arith::ConstantIndexOp::create(b, loc, 0));
  auto ifStore = scf::IfOp::create(b, loc, isFirstLane, false);
  b.setInsertionPointToStart(&ifStore.getThenRegion().front());
  for (auto [r, value] : llvm::enumerate(values)) {
    Value row = arith::AddIOp::create(
        b, loc, w.firstRow, arith::ConstantIndexOp::create(b, loc, r));
    Value valid = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ult, row,
                                        w.rowsTotal);
    auto ifRow = scf::IfOp::create(b, loc, valid, false);
    OpBuilder::InsertionGuard rowGuard(b);
    b.setInsertionPointToStart(&ifRow.getThenRegion().front());
    Value result = value;
    if (addToOutput)
      result = arith::AddFOp::create(
          b, loc, memref::LoadOp::create(b, loc, out, ValueRange{row, w.n}),
          result);
    memref::StoreOp::create(b, loc, result, out, ValueRange{row, w.n});
  }
}

/// Emits the body of the GEMV launch.
class GEMVKernelBuilder {
public:
  GEMVKernelBuilder(OpBuilder &b, Location loc, const GEMVPlan &plan)
      : b(b), loc(loc), plan(plan) {}

  /// Builds the launch computing out[m, n] (+)= sum_k x[m, k] w[n, k].
  void build(Value x, Value storage, Value scales, Value zeros, Value out);

private:
  OpBuilder &b;
  Location loc;
  const GEMVPlan &plan;

  Value index(int64_t v) { return arith::ConstantIndexOp::create(b, loc, v); }
  Value i32(int64_t v) {
    return arith::ConstantIntOp::create(b, loc, b.getI32Type(), v);
  }
  Value f32(double v) {
    return arith::ConstantOp::create(b, loc, b.getF32FloatAttr(v));
  }
  Value toF32(Value v) {
    if (v.getType().isF32())
      return v;
    if (isa<FloatType>(v.getType()))
      return arith::ExtFOp::create(b, loc, b.getF32Type(), v);
    return arith::SIToFPOp::create(b, loc, b.getF32Type(), v);
  }

  /// Accumulators of the rows after one lane step at `codeStart`.
  SmallVector<Value> step(Value x, Value storage, Value scales, Value zeros,
                          Value n, ArrayRef<Value> rows, Value codeStart,
                          ValueRange acc);
};

SmallVector<Value> GEMVKernelBuilder::step(Value x, Value storage, Value scales,
                                           Value zeros, Value n,
                                           ArrayRef<Value> rows,
                                           Value codeStart, ValueRange acc) {
  // The lane's codes, 16 bytes at a time, as words. A qtensor row is
  // 16-byte aligned; a ggml block (18 or 34 bytes) only 2-byte aligned.
  auto bytesType = VectorType::get({kLoadBytes}, b.getI8Type());
  auto wordsType = VectorType::get({kLoadBytes / 4}, b.getI32Type());
  Value g = arith::DivUIOp::create(b, loc, codeStart, index(plan.group));
  Value codesAt, scale;
  if (plan.isGGML()) {
    Value blockStart = arith::MulIOp::create(b, loc, g, index(plan.blockBytes));
    Value header = vector::LoadOp::create(
        b, loc, VectorType::get({2}, b.getI8Type()), storage,
        ValueRange{n, blockStart}, false, llvm::MaybeAlign(2));
    Value half = vector::BitCastOp::create(
        b, loc, VectorType::get({1}, b.getF16Type()), header);
    scale = toF32(vector::ExtractOp::create(b, loc, half, 0));
    codesAt = arith::AddIOp::create(b, loc, blockStart, index(2));
  } else {
    codesAt = arith::DivUIOp::create(b, loc, codeStart, index(plan.fields));
  }
  SmallVector<Value> wordVectors;
  for (int64_t piece = 0; piece < plan.codeBytes() / kLoadBytes; ++piece) {
    Value at =
        arith::AddIOp::create(b, loc, codesAt, index(kLoadBytes * piece));
    Value bytes = vector::LoadOp::create(
        b, loc, bytesType, storage, ValueRange{n, at}, /*nontemporal=*/false,
        llvm::MaybeAlign(plan.isGGML() ? 2 : kLoadBytes));
    wordVectors.push_back(vector::BitCastOp::create(b, loc, wordsType, bytes));
  }

  // One group per lane step: its scale and the float 2^23 + offset + z that
  // the magic-number decode subtracts.
  Value scaleRow = plan.scalesPerChannel ? n : index(0);
  if (!scale)
    scale =
        toF32(memref::LoadOp::create(b, loc, scales, ValueRange{scaleRow, g}));
  // Flipped signed codes, and ggml q4_0's unsigned codes, subtract a
  // constant offset like a zero-point.
  int64_t offset = plan.signedCodes ? int64_t(1) << (plan.bits - 1) : 0;
  if (plan.isGGML() && !plan.signedCodes)
    offset = 8;
  Value bias = f32(kMagic + double(offset));
  if (zeros) {
    Value z = memref::LoadOp::create(b, loc, zeros, ValueRange{scaleRow, g});
    bias = arith::AddFOp::create(b, loc, bias, toF32(z));
  }

  // Activations of the lane's codes, for every row, as 16-byte loads.
  auto vf32 = VectorType::get({4}, b.getF32Type());
  SmallVector<SmallVector<Value>> xs(rows.size());
  for (auto [r, row] : llvm::enumerate(rows)) {
    for (int64_t v = 0; v < plan.codesPerLoad / 4; ++v) {
      Value column = arith::AddIOp::create(b, loc, codeStart, index(4 * v));
      Value quad =
          vector::LoadOp::create(b, loc, vf32, x, ValueRange{row, column},
                                 false, llvm::MaybeAlign(kLoadBytes));
      for (int64_t e = 0; e < 4; ++e)
        xs[r].push_back(vector::ExtractOp::create(b, loc, quad, e));
    }
  }

  SmallVector<Value> partial(rows.size(), f32(0.0));
  Value mask = i32((1 << plan.bits) - 1);
  Value magic = i32(kMagicBits);
  uint32_t flip = 0;
  if (plan.signedCodes)
    for (int64_t i = 0; i < plan.codesPerWord; ++i)
      flip |= uint32_t(1) << (plan.bits * i + plan.bits - 1);
  for (int64_t t = 0; t < plan.codeBytes() / 4; ++t) {
    Value word = vector::ExtractOp::create(b, loc, wordVectors[t / 4], t % 4);
    if (flip)
      word = arith::XOrIOp::create(b, loc, word, i32(int32_t(flip)));
    for (int64_t i = 0; i < plan.codesPerWord; ++i) {
      // (2^23 + c) - (2^23 + offset + z) = value(c) - z, exactly.
      Value code =
          i == 0 ? word
                 : arith::ShRUIOp::create(b, loc, word, i32(plan.bits * i));
      code = arith::AndIOp::create(b, loc, code, mask);
      code = arith::OrIOp::create(b, loc, code, magic);
      Value value = arith::BitcastOp::create(b, loc, b.getF32Type(), code);
      value = arith::SubFOp::create(b, loc, value, bias);
      int64_t c = plan.codeIndex(t, i);
      for (size_t r = 0; r < rows.size(); ++r)
        partial[r] = math::FmaOp::create(b, loc, xs[r][c], value, partial[r]);
    }
  }
  SmallVector<Value> next;
  for (size_t r = 0; r < rows.size(); ++r)
    next.push_back(math::FmaOp::create(b, loc, partial[r], scale, acc[r]));
  return next;
}

void GEMVKernelBuilder::build(Value x, Value storage, Value scales, Value zeros,
                              Value out) {
  OpBuilder::InsertionGuard guard(b);
  WarpPerChannel w = beginWarpPerChannel(b, loc, x, plan.n);
  Value lane = w.lane, n = w.n;
  ArrayRef<Value> rows = w.rows;

  // Each step the warp covers 32 consecutive lane loads of the row.
  SmallVector<Value> init(kRowsPerPass, f32(0.0));
  SmallVector<Value> partials = laneStrideLoop(
      b, loc, lane, plan.k / plan.codesPerLoad, init,
      [&](Value chunk, ValueRange acc) {
        Value codeStart =
            arith::MulIOp::create(b, loc, chunk, index(plan.codesPerLoad));
        return step(x, storage, scales, zeros, n, rows, codeStart, acc);
      });

  // Warp sums by butterfly shuffles; lane 0 stores.
  SmallVector<Value> sums;
  for (Value partial : partials)
    sums.push_back(warpSum(b, loc, partial));
  storeRows(b, loc, w, sums, out, plan.accumulate);
}

/// ggml's K-quant super-blocks: 256 codes each.
constexpr int64_t kSuperBlock = 256;
/// Lanes that share a super-block; each computes 32 of its products.
constexpr int64_t kLanesPerSuperBlock = 8;

/// What the K-quant GEMV kernel needs to know about a `q4_K` or `q6_K`
/// ggml_matmul.
struct KQuantPlan {
  int64_t n = 0, k = 0;
  GGMLType type = GGMLType::Q4_K;
  int64_t blockBytes = 0;
  bool accumulate = true;
};

FailureOr<KQuantPlan> planKQuantGEMV(GGMLMatmulOp op, std::string &whyNot) {
  auto fail = [&](const Twine &why) {
    whyNot = why.str();
    return failure();
  };
  KQuantPlan plan;
  auto storageType = op.getStorage().getType();
  plan.n = storageType.getShape()[0];
  plan.k = op.getInput().getType().getShape().back();
  plan.type = op.getGgmlType();
  if (ShapedType::isDynamic(plan.n) || ShapedType::isDynamic(plan.k))
    return fail("dynamic weight shape");
  // q4_K: f16 d and dmin, 12 bytes of 6-bit scales and mins, 128 bytes of
  // nibbles (144, so every block is 16-byte aligned). q6_K: 128 bytes of low
  // nibbles, 64 of high bit pairs, 16 int8 scales, f16 d (210: 2-byte
  // aligned).
  plan.blockBytes = plan.type == GGMLType::Q4_K ? 144 : 210;
  if (plan.k % kSuperBlock != 0 ||
      storageType.getShape()[1] != plan.k / kSuperBlock * plan.blockBytes)
    return fail("storage shape");
  return plan;
}

/// Emits the GEMV launch for ggml's q4_K and q6_K blocks. Eight lanes share
/// a super-block, each decoding 32 of its codes with the magic number; the
/// 6-bit (q4_K) or int8 (q6_K) sub-block scales are decoded per lane.
/// q4_K weights are d * sc * q - dmin * m as in ggml (one FMA per weight,
/// shared by the rows); q6_K's scale d * sc multiplies each 8-code partial
/// sum.
class KQuantGEMVBuilder {
public:
  KQuantGEMVBuilder(OpBuilder &b, Location loc, const KQuantPlan &plan)
      : b(b), loc(loc), plan(plan) {}

  void build(Value x, Value storage, Value out);

private:
  OpBuilder &b;
  Location loc;
  const KQuantPlan &plan;

  Value index(int64_t v) { return arith::ConstantIndexOp::create(b, loc, v); }
  Value i32(int64_t v) {
    return arith::ConstantIntOp::create(b, loc, b.getI32Type(), v);
  }
  Value f32(double v) {
    return arith::ConstantOp::create(b, loc, b.getF32FloatAttr(v));
  }
  Value add(Value lhs, int64_t rhs) {
    return arith::AddIOp::create(b, loc, lhs, index(rhs));
  }
  /// `v - offset` as a float, for 0 <= v < 2^23, without a conversion.
  Value smallIntToF32(Value v, int64_t offset = 0) {
    Value bits = arith::OrIOp::create(b, loc, v, i32(kMagicBits));
    return arith::SubFOp::create(
        b, loc, arith::BitcastOp::create(b, loc, b.getF32Type(), bits),
        f32(kMagic + double(offset)));
  }
  /// Field `(word >> shift) & mask`.
  Value field(Value word, int64_t shift, int64_t mask) {
    Value shifted =
        shift == 0 ? word : arith::ShRUIOp::create(b, loc, word, i32(shift));
    return arith::AndIOp::create(b, loc, shifted, i32(mask));
  }
  /// `bytes` bytes of `storage` at [n, at].
  Value loadBytes(Value storage, Value n, Value at, int64_t bytes,
                  int64_t align) {
    return vector::LoadOp::create(
        b, loc, VectorType::get({bytes}, b.getI8Type()), storage,
        ValueRange{n, at}, false, llvm::MaybeAlign(align));
  }
  /// The elements of `bytes` (a vector of i8) as `type`.
  SmallVector<Value> elementsAs(Value bytes, Type type) {
    int64_t count = cast<VectorType>(bytes.getType()).getNumElements() * 8 /
                    type.getIntOrFloatBitWidth();
    Value cast = vector::BitCastOp::create(
        b, loc, VectorType::get({count}, type), bytes);
    SmallVector<Value> result;
    for (int64_t i = 0; i < count; ++i)
      result.push_back(vector::ExtractOp::create(b, loc, cast, i));
    return result;
  }
  SmallVector<Value> loadWords(Value storage, Value n, Value at, int64_t bytes,
                               int64_t align) {
    return elementsAs(loadBytes(storage, n, at, bytes, align), b.getI32Type());
  }
  /// x[row, column .. column + count) as scalars (16-byte loads).
  SmallVector<Value> loadRun(Value x, Value row, Value column, int64_t count) {
    auto quadType = VectorType::get({4}, b.getF32Type());
    SmallVector<Value> result;
    for (int64_t v = 0; v < count / 4; ++v) {
      Value quad = vector::LoadOp::create(b, loc, quadType, x,
                                          ValueRange{row, add(column, 4 * v)},
                                          false, llvm::MaybeAlign(kLoadBytes));
      for (int64_t e = 0; e < 4; ++e)
        result.push_back(vector::ExtractOp::create(b, loc, quad, e));
    }
    return result;
  }
  Value toF32(Value half) {
    return arith::ExtFOp::create(b, loc, b.getF32Type(), half);
  }

  SmallVector<Value> stepQ4K(Value x, Value storage, Value n,
                             ArrayRef<Value> rows, Value block, Value lane,
                             ValueRange acc);
  SmallVector<Value> stepQ6K(Value x, Value storage, Value n,
                             ArrayRef<Value> rows, Value block, Value lane,
                             ValueRange acc);
};

SmallVector<Value> KQuantGEMVBuilder::stepQ4K(Value x, Value storage, Value n,
                                              ArrayRef<Value> rows, Value block,
                                              Value lane, ValueRange acc) {
  // Lane c of the block reads qs bytes 16c..16c+15: in ggml's order, their
  // low nibbles are codes 64j + 16h + [0, 16) of sub-block 2j and their high
  // nibbles codes 32 later, of sub-block 2j + 1 (j = c / 2, h = c % 2).
  Value blockStart = arith::MulIOp::create(b, loc, block, index(144));
  Value headerBytes = loadBytes(storage, n, blockStart, 16, 16);
  SmallVector<Value> header = elementsAs(headerBytes, b.getI32Type());
  SmallVector<Value> halves = elementsAs(headerBytes, b.getF16Type());
  Value d = toF32(halves[0]), dmin = toF32(halves[1]);
  Value j = arith::DivUIOp::create(b, loc, lane, index(2));
  Value h = arith::RemUIOp::create(b, loc, lane, index(2));
  SmallVector<Value> codes =
      loadWords(storage, n,
                arith::AddIOp::create(
                    b, loc, blockStart,
                    arith::AddIOp::create(
                        b, loc, index(16),
                        arith::MulIOp::create(b, loc, lane, index(16)))),
                16, 16);

  // Sub-block s's 6-bit scale and min: for s < 4, scales[s] and
  // scales[s + 4] (low 6 bits); for s >= 4, the nibbles of scales[s + 4]
  // with the top bits of scales[s - 4] and scales[s]. Byte s % 4 of each
  // 4-byte word is the one needed.
  Value firstHalf =
      arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ult, j, index(2));
  Value jOdd = arith::IndexCastOp::create(
      b, loc, b.getI32Type(), arith::RemUIOp::create(b, loc, j, index(2)));
  Value weightScale[2], negMin[2];
  for (int64_t e = 0; e < 2; ++e) {
    // 8 * (2 * (j % 2) + e): the bit offset of the byte.
    Value shift = arith::AddIOp::create(
        b, loc, arith::MulIOp::create(b, loc, jOdd, i32(16)), i32(8 * e));
    Value bytes[3];
    for (int64_t w = 0; w < 3; ++w)
      bytes[w] = arith::AndIOp::create(
          b, loc, arith::ShRUIOp::create(b, loc, header[1 + w], shift),
          i32(0xFF));
    auto topBits = [&](Value byte) {
      return arith::ShLIOp::create(
          b, loc, arith::ShRUIOp::create(b, loc, byte, i32(6)), i32(4));
    };
    Value scale = arith::SelectOp::create(
        b, loc, firstHalf, arith::AndIOp::create(b, loc, bytes[0], i32(63)),
        arith::OrIOp::create(b, loc,
                             arith::AndIOp::create(b, loc, bytes[2], i32(15)),
                             topBits(bytes[0])));
    Value min = arith::SelectOp::create(
        b, loc, firstHalf, arith::AndIOp::create(b, loc, bytes[1], i32(63)),
        arith::OrIOp::create(b, loc,
                             arith::ShRUIOp::create(b, loc, bytes[2], i32(4)),
                             topBits(bytes[1])));
    weightScale[e] = arith::MulFOp::create(b, loc, d, smallIntToF32(scale));
    negMin[e] = arith::NegFOp::create(
        b, loc, arith::MulFOp::create(b, loc, dmin, smallIntToF32(min)));
  }

  Value lowColumn = arith::AddIOp::create(
      b, loc, arith::MulIOp::create(b, loc, block, index(kSuperBlock)),
      arith::AddIOp::create(b, loc, arith::MulIOp::create(b, loc, j, index(64)),
                            arith::MulIOp::create(b, loc, h, index(16))));
  SmallVector<SmallVector<Value>> xs[2];
  for (Value row : rows) {
    xs[0].push_back(loadRun(x, row, lowColumn, 16));
    xs[1].push_back(loadRun(x, row, add(lowColumn, 32), 16));
  }
  SmallVector<Value> next(acc);
  for (int64_t t = 0; t < 4; ++t) {
    for (int64_t i = 0; i < 8; ++i) {
      int64_t byte = i / 2, nibble = i % 2;
      Value code = smallIntToF32(field(codes[t], 4 * i, 15));
      Value weight = math::FmaOp::create(b, loc, code, weightScale[nibble],
                                         negMin[nibble]);
      for (size_t r = 0; r < rows.size(); ++r)
        next[r] = math::FmaOp::create(b, loc, xs[nibble][r][4 * t + byte],
                                      weight, next[r]);
    }
  }
  return next;
}

SmallVector<Value> KQuantGEMVBuilder::stepQ6K(Value x, Value storage, Value n,
                                              ArrayRef<Value> rows, Value block,
                                              Value lane, ValueRange acc) {
  // Lane c reads 8 bytes at l0 = 8 (c % 4) of half h = c / 4: ql[64h + l0],
  // ql[64h + 32 + l0] and qh[32h + l0]. Code l0 + i of run s (s = 0..3,
  // column 128h + 32s + l0 + i) is a nibble of the first (s even) or second
  // ql bytes (low for s < 2) with bits 2s, 2s + 1 of the qh byte on top,
  // minus 32; its scale is scales[8h + 2s + l0 / 16].
  Value blockStart = arith::MulIOp::create(b, loc, block, index(210));
  Value h = arith::DivUIOp::create(b, loc, lane, index(4));
  Value quarter = arith::RemUIOp::create(b, loc, lane, index(4));
  Value lowAt = arith::AddIOp::create(
      b, loc, blockStart,
      arith::AddIOp::create(b, loc, arith::MulIOp::create(b, loc, h, index(64)),
                            arith::MulIOp::create(b, loc, quarter, index(8))));
  SmallVector<Value> lowA = loadWords(storage, n, lowAt, 8, 2);
  SmallVector<Value> lowB = loadWords(storage, n, add(lowAt, 32), 8, 2);
  Value highAt = arith::AddIOp::create(
      b, loc, add(blockStart, 128),
      arith::AddIOp::create(b, loc, arith::MulIOp::create(b, loc, h, index(32)),
                            arith::MulIOp::create(b, loc, quarter, index(8))));
  SmallVector<Value> high = loadWords(storage, n, highAt, 8, 2);
  Value d = toF32(elementsAs(loadBytes(storage, n, add(blockStart, 208), 2, 2),
                             b.getF16Type())[0]);
  Value scaleAt = arith::AddIOp::create(
      b, loc, add(blockStart, 192),
      arith::AddIOp::create(b, loc, arith::MulIOp::create(b, loc, h, index(8)),
                            arith::DivUIOp::create(b, loc, quarter, index(2))));
  Value runScale[4];
  for (int64_t s = 0; s < 4; ++s) {
    Value scale = memref::LoadOp::create(b, loc, storage,
                                         ValueRange{n, add(scaleAt, 2 * s)});
    // The signed byte, offset by 128 into [0, 256) for the magic decode.
    Value biased = arith::AddIOp::create(
        b, loc, arith::ExtSIOp::create(b, loc, b.getI32Type(), scale),
        i32(128));
    runScale[s] = arith::MulFOp::create(b, loc, d, smallIntToF32(biased, 128));
  }

  Value column = arith::AddIOp::create(
      b, loc, arith::MulIOp::create(b, loc, block, index(kSuperBlock)),
      arith::AddIOp::create(b, loc,
                            arith::MulIOp::create(b, loc, h, index(128)),
                            arith::MulIOp::create(b, loc, quarter, index(8))));
  SmallVector<Value> next(acc);
  for (int64_t s = 0; s < 4; ++s) {
    SmallVector<Value> partial(rows.size(), f32(0.0));
    SmallVector<SmallVector<Value>> xs;
    for (Value row : rows)
      xs.push_back(loadRun(x, row, add(column, 32 * s), 8));
    for (int64_t t = 0; t < 2; ++t) {
      // The four 6-bit codes of bytes 4t..4t+3 of run s, one per byte.
      Value low = s % 2 == 0 ? lowA[t] : lowB[t];
      if (s >= 2)
        low = arith::ShRUIOp::create(b, loc, low, i32(4));
      low = arith::AndIOp::create(b, loc, low, i32(0x0F0F0F0F));
      Value top = high[t];
      if (s < 2)
        top = arith::ShLIOp::create(b, loc, top, i32(4 - 2 * s));
      else if (s == 3)
        top = arith::ShRUIOp::create(b, loc, top, i32(2));
      top = arith::AndIOp::create(b, loc, top, i32(0x30303030));
      Value codes = arith::OrIOp::create(b, loc, low, top);
      for (int64_t e = 0; e < 4; ++e) {
        Value code = smallIntToF32(field(codes, 8 * e, 63), 32);
        for (size_t r = 0; r < rows.size(); ++r)
          partial[r] =
              math::FmaOp::create(b, loc, xs[r][4 * t + e], code, partial[r]);
      }
    }
    for (size_t r = 0; r < rows.size(); ++r)
      next[r] = math::FmaOp::create(b, loc, partial[r], runScale[s], next[r]);
  }
  return next;
}

void KQuantGEMVBuilder::build(Value x, Value storage, Value out) {
  OpBuilder::InsertionGuard guard(b);
  WarpPerChannel w = beginWarpPerChannel(b, loc, x, plan.n);
  SmallVector<Value> init(kRowsPerPass, f32(0.0));
  SmallVector<Value> partials = laneStrideLoop(
      b, loc, w.lane, plan.k / kSuperBlock * kLanesPerSuperBlock, init,
      [&](Value unit, ValueRange acc) {
        Value block =
            arith::DivUIOp::create(b, loc, unit, index(kLanesPerSuperBlock));
        Value lane =
            arith::RemUIOp::create(b, loc, unit, index(kLanesPerSuperBlock));
        return plan.type == GGMLType::Q4_K
                   ? stepQ4K(x, storage, w.n, w.rows, block, lane, acc)
                   : stepQ6K(x, storage, w.n, w.rows, block, lane, acc);
      });
  SmallVector<Value> sums;
  for (Value partial : partials)
    sums.push_back(warpSum(b, loc, partial));
  storeRows(b, loc, w, sums, out, plan.accumulate);
}

/// What the W8A8 kernel needs to know about a quantized_matmul.
struct W8A8Plan {
  int64_t n = 0, k = 0, groups = 1, groupSize = 0;
  bool weightScalesPerChannel = false;
  bool inputScalePerRow = false;
  bool accumulate = true;
};

FailureOr<W8A8Plan> planW8A8(QuantizedMatmulOp op, std::string &whyNot) {
  auto fail = [&](const Twine &why) {
    whyNot = why.str();
    return failure();
  };
  W8A8Plan plan;
  auto weightType = op.getWeight().getType();
  auto scalesType = op.getWeightScales().getType();
  if (!weightType.hasStaticShape() || !scalesType.hasStaticShape())
    return fail("dynamic weight shape");
  plan.n = weightType.getDimSize(0);
  plan.k = weightType.getDimSize(1);
  plan.groups = scalesType.getDimSize(1);
  plan.groupSize = plan.k / plan.groups;
  plan.weightScalesPerChannel =
      scalesType.getDimSize(0) == plan.n && plan.n > 1;
  if (plan.groupSize % kLoadBytes != 0)
    return fail(Twine("groups of ") + Twine(plan.groupSize) +
                " codes (a multiple of 16 is needed)");
  plan.inputScalePerRow =
      !llvm::all_of(op.getInputScales().getType().getShape(),
                    [](int64_t size) { return size == 1; });
  return plan;
}

/// Emits the W8A8 GEMV launch: exact i32 sums per group (four byte products
/// at a time, dp4a on the GPU), added across the warp, then the
/// reference's epilogue in its order:
/// result = init + sum over g of (f32(acc_g) * sx) * sw_g.
class W8A8KernelBuilder {
public:
  W8A8KernelBuilder(OpBuilder &b, Location loc, const W8A8Plan &plan)
      : b(b), loc(loc), plan(plan) {}

  void build(Value x, Value inputScales, Value weight, Value weightScales,
             Value out);

private:
  OpBuilder &b;
  Location loc;
  const W8A8Plan &plan;

  Value index(int64_t v) { return arith::ConstantIndexOp::create(b, loc, v); }
  /// Bytes 4q..4q+3 of a 16-byte vector (a shuffle: LLVM lowers it to
  /// register moves).
  Value quad(Value bytes, int64_t q) {
    return vector::ShuffleOp::create(
        b, loc, bytes, bytes,
        ArrayRef<int64_t>{4 * q, 4 * q + 1, 4 * q + 2, 4 * q + 3});
  }
};

void W8A8KernelBuilder::build(Value x, Value inputScales, Value weight,
                              Value weightScales, Value out) {
  OpBuilder::InsertionGuard guard(b);
  WarpPerChannel w = beginWarpPerChannel(b, loc, x, plan.n);
  Value lane = w.lane, n = w.n, one = index(1);
  ArrayRef<Value> rows = w.rows;
  Type f32 = b.getF32Type(), i32 = b.getI32Type();
  SmallVector<Value> inputScale, init;
  for (Value row : rows) {
    inputScale.push_back(memref::LoadOp::create(
        b, loc, inputScales,
        ValueRange{plan.inputScalePerRow ? row : index(0), index(0)}));
    // The running result starts at the initial value, as the reference's.
    init.push_back(
        plan.accumulate
            ? Value(memref::LoadOp::create(b, loc, out, ValueRange{row, n}))
            : Value(arith::ConstantOp::create(b, loc, b.getF32FloatAttr(0))));
  }

  auto groups =
      scf::ForOp::create(b, loc, index(0), index(plan.groups), one, init);
  {
    OpBuilder::InsertionGuard groupGuard(b);
    b.setInsertionPointToStart(groups.getBody());
    Value g = groups.getInductionVar();
    SmallVector<Value> zeros(kRowsPerPass,
                             arith::ConstantIntOp::create(b, loc, i32, 0));
    SmallVector<Value> partials = laneStrideLoop(
        b, loc, lane, plan.groupSize / kLoadBytes, zeros,
        [&](Value chunk, ValueRange acc) {
          Value column = arith::AddIOp::create(
              b, loc, arith::MulIOp::create(b, loc, g, index(plan.groupSize)),
              arith::MulIOp::create(b, loc, chunk, index(kLoadBytes)));
          auto bytesType = VectorType::get({kLoadBytes}, b.getI8Type());
          Value codes = vector::LoadOp::create(b, loc, bytesType, weight,
                                               ValueRange{n, column}, false,
                                               llvm::MaybeAlign(kLoadBytes));
          auto wideType = VectorType::get({4}, i32);
          SmallVector<Value> wWide;
          for (int64_t q = 0; q < kLoadBytes / 4; ++q)
            wWide.push_back(
                arith::ExtSIOp::create(b, loc, wideType, quad(codes, q)));
          SmallVector<Value> next;
          for (auto [r, row] : llvm::enumerate(rows)) {
            Value xs = vector::LoadOp::create(b, loc, bytesType, x,
                                              ValueRange{row, column}, false,
                                              llvm::MaybeAlign(kLoadBytes));
            // Four byte products added to the sum:
            // quant-form-gpu-dot-products makes each a dp4a.
            Value sum = acc[r];
            for (int64_t q = 0; q < kLoadBytes / 4; ++q) {
              Value xWide =
                  arith::ExtSIOp::create(b, loc, wideType, quad(xs, q));
              Value products = arith::MulIOp::create(b, loc, xWide, wWide[q]);
              sum = vector::ReductionOp::create(
                  b, loc, vector::CombiningKind::ADD, products, sum);
            }
            next.push_back(sum);
          }
          return next;
        });
    // Every lane ends with the group's exact sum.
    Value weightScale = memref::LoadOp::create(
        b, loc, weightScales,
        ValueRange{plan.weightScalesPerChannel ? n : index(0), g});
    SmallVector<Value> results;
    for (auto [r, partial] : llvm::enumerate(partials)) {
      Value sum = warpSum(b, loc, partial);
      Value term = arith::MulFOp::create(
          b, loc, arith::SIToFPOp::create(b, loc, f32, sum), inputScale[r]);
      term = arith::MulFOp::create(b, loc, term, weightScale);
      results.push_back(
          arith::AddFOp::create(b, loc, groups.getRegionIterArgs()[r], term));
    }
    scf::YieldOp::create(b, loc, results);
  }
  // The running result already holds the initial value.
  storeRows(b, loc, w, SmallVector<Value>(groups.getResults()), out,
            /*addToOutput=*/false);
}

/// Replaces `op` (a product with one result) with a launch on buffers of
/// its operands, built by `emit(b, x, buffers, out, accumulate)`: `x` is
/// `input` as an [M, K] matrix, `buffers` those of `operands` (null
/// operands stay null), `out` a fresh [M, N] buffer holding `init` when
/// `accumulate` (else uninitialised).
void replaceWithLaunch(
    Operation *op, Value input, ArrayRef<Value> operands, Value init,
    function_ref<void(OpBuilder &, Value, ArrayRef<Value>, Value, bool)> emit) {
  Location loc = op->getLoc();
  OpBuilder b(op);
  Value matrix = collapseToMatrix(b, loc, input);
  Value initMatrix = collapseToMatrix(b, loc, init);
  auto initType = cast<RankedTensorType>(initMatrix.getType());
  bool accumulate = !isZeroFill(init);

  Value x = toBuffer(b, loc, matrix, /*dynamicRows=*/false);
  SmallVector<Value> buffers;
  for (Value operand : operands) {
    if (!operand) {
      buffers.push_back(Value());
      continue;
    }
    // Per-row input scales ([..., 1]) as a matrix, like the input.
    auto type = cast<RankedTensorType>(operand.getType());
    buffers.push_back(toBuffer(
        b, loc,
        type.getRank() == 2 ? operand : collapseToMatrix(b, loc, operand),
        /*dynamicRows=*/false));
  }
  auto outType = MemRefType::get(initType.getShape(), b.getF32Type());
  SmallVector<Value> dynamicSizes;
  if (outType.isDynamicDim(0))
    dynamicSizes.push_back(tensor::DimOp::create(b, loc, matrix, 0));
  Value out = memref::AllocOp::create(b, loc, outType, dynamicSizes);
  if (accumulate)
    memref::CopyOp::create(b, loc, toBuffer(b, loc, initMatrix, false), out);
  emit(b, x, buffers, out, accumulate);
  Value result = bufferization::ToTensorOp::create(
      b, loc, initType, out, /*restrict=*/b.getUnitAttr(),
      /*writable=*/b.getUnitAttr());
  auto resultType = cast<RankedTensorType>(op->getResult(0).getType());
  if (resultType.getRank() == 1) {
    result = tensor::CollapseShapeOp::create(
        b, loc, result, SmallVector<ReassociationIndices>{{0, 1}});
  } else if (resultType.getRank() > 2) {
    ReassociationIndices leading;
    for (int64_t i = 0; i + 1 < resultType.getRank(); ++i)
      leading.push_back(i);
    result = tensor::ExpandShapeOp::create(
        b, loc, resultType, result,
        SmallVector<ReassociationIndices>{leading, {resultType.getRank() - 1}},
        tensor::getMixedSizes(b, loc, init));
  }
  op->getResult(0).replaceAllUsesWith(result);
  op->erase();
}

/// Replaces a dequant_matmul or ggml_matmul with the GEMV launch.
void replaceWithGEMV(Operation *op, GEMVPlan plan, Value input,
                     ArrayRef<Value> weights, Value init) {
  replaceWithLaunch(op, input, weights, init,
                    [&](OpBuilder &b, Value x, ArrayRef<Value> buffers,
                        Value out, bool accumulate) {
                      plan.accumulate = accumulate;
                      GEMVKernelBuilder(b, op->getLoc(), plan)
                          .build(x, buffers[0], buffers[1], buffers[2], out);
                    });
}

struct ConvertQTensorToGPUKernelsPass
    : qtensor::impl::ConvertQTensorToGPUKernelsPassBase<
          ConvertQTensorToGPUKernelsPass> {
  using Base::Base;

  void runOnOperation() override {
    SmallVector<Operation *> products;
    getOperation()->walk([&](Operation *op) {
      if (isa<DequantMatmulOp, GGMLMatmulOp, QuantizedMatmulOp>(op))
        products.push_back(op);
    });
    for (Operation *op : products) {
      std::string whyNot;
      if (failed(lower(op, whyNot)) && reportFallback)
        op->emitRemark() << "convert-qtensor-to-gpu-kernels: no GPU kernel "
                            "for this product ("
                         << whyNot << "); the generic loop mapping computes it";
    }
  }

private:
  LogicalResult lower(Operation *op, std::string &whyNot) {
    if (auto dequant = dyn_cast<DequantMatmulOp>(op)) {
      FailureOr<GEMVPlan> plan = planGEMV(dequant, whyNot);
      if (failed(plan))
        return failure();
      replaceWithGEMV(
          op, *plan, dequant.getInput(),
          {dequant.getStorage(), dequant.getScales(), dequant.getZeroPoints()},
          dequant.getInit());
      return success();
    }
    if (auto ggml = dyn_cast<GGMLMatmulOp>(op)) {
      if (ggml.getGgmlType() == GGMLType::Q4_K ||
          ggml.getGgmlType() == GGMLType::Q6_K) {
        FailureOr<KQuantPlan> plan = planKQuantGEMV(ggml, whyNot);
        if (failed(plan))
          return failure();
        replaceWithLaunch(op, ggml.getInput(), {ggml.getStorage()},
                          ggml.getInit(),
                          [&](OpBuilder &b, Value x, ArrayRef<Value> buffers,
                              Value out, bool accumulate) {
                            KQuantPlan kernelPlan = *plan;
                            kernelPlan.accumulate = accumulate;
                            KQuantGEMVBuilder(b, op->getLoc(), kernelPlan)
                                .build(x, buffers[0], out);
                          });
        return success();
      }
      FailureOr<GEMVPlan> plan = planGGMLGEMV(ggml, whyNot);
      if (failed(plan))
        return failure();
      replaceWithGEMV(op, *plan, ggml.getInput(),
                      {ggml.getStorage(), Value(), Value()}, ggml.getInit());
      return success();
    }
    auto w8a8 = cast<QuantizedMatmulOp>(op);
    FailureOr<W8A8Plan> plan = planW8A8(w8a8, whyNot);
    if (failed(plan))
      return failure();
    replaceWithLaunch(
        op, w8a8.getInput(),
        {w8a8.getInputScales(), w8a8.getWeight(), w8a8.getWeightScales()},
        w8a8.getInit(),
        [&](OpBuilder &b, Value x, ArrayRef<Value> buffers, Value out,
            bool accumulate) {
          W8A8Plan kernelPlan = *plan;
          kernelPlan.accumulate = accumulate;
          W8A8KernelBuilder(b, op->getLoc(), kernelPlan)
              .build(x, buffers[0], buffers[1], buffers[2], out);
        });
    return success();
  }
};

} // namespace
