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
#include "GPUKernels.h"
#include "quant/Conversion/Passes.h"
#include "quant/Dialect/QTensor/IR/QTensorOps.h"
#include "quant/Dialect/QTensor/Utils/GatedEpilogue.h"
#include "quant/Numerics/Numerics.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/NVGPU/IR/NVGPUDialect.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Dialect/UB/IR/UBOps.h"
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
  /// The values of the codes of a lookup format (nf4, fp4: 16 entries);
  /// empty for integer codes.
  SmallVector<float> lookup;
  /// FP8 codes (`f8E4M3FN`, `f8E5M2`), decoded with bit operations.
  std::optional<quantopt::numerics::ElementFormat> fp8;
  /// ggml blocks of 32 codes (`q4_0`, `q8_0`): bytes per block, the first
  /// two of which are the block's f16 scale; 0 for qtensor layouts.
  int64_t blockBytes = 0;

  /// f32 weights [N, K] (the float model's products): four values per
  /// 16-byte lane load, no decoding, no scale.
  bool floatWeights = false;

  bool isGGML() const { return blockBytes != 0; }
  /// Bytes of codes a lane reads per step (one or two 16-byte loads).
  int64_t codeBytes() const { return codesPerLoad / fields; }
  /// The word and field of the code at `column` of a lane step.
  std::pair<int64_t, int64_t> fieldOf(int64_t column) const {
    for (int64_t t = 0; t < codeBytes() / 4; ++t)
      for (int64_t i = 0; i < codesPerWord; ++i)
        if (codeIndex(t, i) == column)
          return {t, i};
    llvm_unreachable("column outside the lane step");
  }
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
  if (quantopt::numerics::isF8Format(layout.getFormat())) {
    plan.fp8 = layout.getFormat();
  } else if (!layout.isInteger()) {
    if (layout.getBitWidth() != 4)
      return fail("dynamic8 codes");
    for (unsigned code = 0; code < 16; ++code)
      plan.lookup.push_back(
          quantopt::numerics::decodeNonInteger(layout.getFormat(), code));
  }
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
    if (!plan.lookup.empty() || plan.fp8)
      return fail("zero-points with a lookup or FP8 format");
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

/// What every kernel builder emits with: the builder, the location, and
/// constants and conversions of the kernels' scalar types.
struct KernelEmitter {
  KernelEmitter(OpBuilder &b, Location loc) : b(b), loc(loc) {}

  OpBuilder &b;
  Location loc;

  Value index(int64_t v) { return arith::ConstantIndexOp::create(b, loc, v); }
  Value i32(int64_t v) {
    return arith::ConstantIntOp::create(b, loc, b.getI32Type(), v);
  }
  Value f32(double v) {
    return arith::ConstantOp::create(b, loc, b.getF32FloatAttr(v));
  }
  /// `v` (a float or a signed integer) as f32.
  Value toF32(Value v) {
    if (v.getType().isF32())
      return v;
    if (isa<FloatType>(v.getType()))
      return arith::ExtFOp::create(b, loc, b.getF32Type(), v);
    return arith::SIToFPOp::create(b, loc, b.getF32Type(), v);
  }
};

/// Emits the body of the GEMV launch.
class GEMVKernelBuilder : KernelEmitter {
public:
  GEMVKernelBuilder(OpBuilder &b, Location loc, const GEMVPlan &plan)
      : KernelEmitter(b, loc), plan(plan) {}

  /// Builds the launch computing out[m, n] (+)= sum_k x[m, k] w[n, k].
  void build(Value x, Value storage, Value scales, Value zeros, Value out);

  /// A lane's chunk of one channel: its code words (signed codes flipped),
  /// the chunk's group scale and the magic bias `2^23 + offset + z`.
  struct LaneCodes {
    SmallVector<Value> words;
    Value scale, bias;
  };
  /// Loads the codes of channel `n` at columns
  /// [codeStart, codeStart + codesPerLoad) with their group's scale.
  LaneCodes loadLane(Value storage, Value scales, Value zeros, Value n,
                     Value codeStart);
  /// `value(c) - z` as f32 of the code at `column` of the lane's chunk.
  Value decode(const LaneCodes &lane, int64_t column);
  /// The value of the FP8 byte `code` (an i32): its exponent and mantissa
  /// moved into an f32's low exponent and high mantissa bits, times
  /// 2^(127 - bias), which is exact for normal and subnormal codes; the
  /// all-ones exponent codes give infinities and NaNs as the format has
  /// them.
  Value decodeFP8(Value code);

  /// The decode table of a lookup format: a buffer of a small constant,
  /// which quant-place-buffers-on-gpu moves into the kernel module.
  Value lookupTable;

private:
  const GEMVPlan &plan;

  /// Accumulators of the rows after one lane step at `codeStart`.
  SmallVector<Value> step(Value x, Value storage, Value scales, Value zeros,
                          Value n, ArrayRef<Value> rows, Value codeStart,
                          ValueRange acc);
};

GEMVKernelBuilder::LaneCodes GEMVKernelBuilder::loadLane(Value storage,
                                                         Value scales,
                                                         Value zeros, Value n,
                                                         Value codeStart) {
  LaneCodes lane;
  if (plan.floatWeights) {
    Value values = vector::LoadOp::create(
        b, loc, VectorType::get({4}, b.getF32Type()), storage,
        ValueRange{n, codeStart}, false, llvm::MaybeAlign(kLoadBytes));
    for (int64_t i = 0; i < 4; ++i)
      lane.words.push_back(vector::ExtractOp::create(b, loc, values, i));
    lane.scale = f32(1.0);
    return lane;
  }
  // The lane's codes, 16 bytes at a time, as words. A qtensor row is
  // 16-byte aligned; a ggml block (18 or 34 bytes) only 2-byte aligned.
  auto bytesType = VectorType::get({kLoadBytes}, b.getI8Type());
  auto wordsType = VectorType::get({kLoadBytes / 4}, b.getI32Type());
  Value g = arith::DivUIOp::create(b, loc, codeStart, index(plan.group));
  Value codesAt;
  if (plan.isGGML()) {
    Value blockStart = arith::MulIOp::create(b, loc, g, index(plan.blockBytes));
    Value header = vector::LoadOp::create(
        b, loc, VectorType::get({2}, b.getI8Type()), storage,
        ValueRange{n, blockStart}, false, llvm::MaybeAlign(2));
    Value half = vector::BitCastOp::create(
        b, loc, VectorType::get({1}, b.getF16Type()), header);
    lane.scale = toF32(vector::ExtractOp::create(b, loc, half, 0));
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

  // One group per lane chunk: its scale and the float 2^23 + offset + z that
  // the magic-number decode subtracts.
  Value scaleRow = plan.scalesPerChannel ? n : index(0);
  if (!lane.scale)
    lane.scale =
        toF32(memref::LoadOp::create(b, loc, scales, ValueRange{scaleRow, g}));
  // Flipped signed codes, and ggml q4_0's unsigned codes, subtract a
  // constant offset like a zero-point.
  int64_t offset = plan.signedCodes ? int64_t(1) << (plan.bits - 1) : 0;
  if (plan.isGGML() && !plan.signedCodes)
    offset = 8;
  lane.bias = f32(kMagic + double(offset));
  if (zeros) {
    Value z = memref::LoadOp::create(b, loc, zeros, ValueRange{scaleRow, g});
    lane.bias = arith::AddFOp::create(b, loc, lane.bias, toF32(z));
  }

  uint32_t flip = 0;
  if (plan.signedCodes)
    for (int64_t i = 0; i < plan.codesPerWord; ++i)
      flip |= uint32_t(1) << (plan.bits * i + plan.bits - 1);
  for (int64_t t = 0; t < plan.codeBytes() / 4; ++t) {
    Value word = vector::ExtractOp::create(b, loc, wordVectors[t / 4], t % 4);
    if (flip)
      word = arith::XOrIOp::create(b, loc, word, i32(int32_t(flip)));
    lane.words.push_back(word);
  }
  return lane;
}

Value GEMVKernelBuilder::decode(const LaneCodes &lane, int64_t column) {
  if (plan.floatWeights)
    return lane.words[column];
  auto [t, i] = plan.fieldOf(column);
  Value code = lane.words[t];
  if (i != 0)
    code = arith::ShRUIOp::create(b, loc, code, i32(plan.bits * i));
  code = arith::AndIOp::create(b, loc, code, i32((1 << plan.bits) - 1));
  if (!plan.lookup.empty()) {
    // One load from the 64-byte table, an L1-resident global of the kernel
    // module.
    Value entry = arith::IndexCastUIOp::create(b, loc, b.getIndexType(), code);
    return memref::LoadOp::create(b, loc, lookupTable, ValueRange{entry});
  }
  if (plan.fp8)
    return decodeFP8(code);
  // (2^23 + c) - (2^23 + offset + z) = value(c) - z, exactly.
  code = arith::OrIOp::create(b, loc, code, i32(kMagicBits));
  Value value = arith::BitcastOp::create(b, loc, b.getF32Type(), code);
  return arith::SubFOp::create(b, loc, value, lane.bias);
}

Value GEMVKernelBuilder::decodeFP8(Value code) {
  bool e4m3 = *plan.fp8 == quantopt::numerics::ElementFormat::f8E4M3FN;
  // E4M3FN: 4 exponent bits, bias 7, only S.1111.111 is NaN. E5M2: 5
  // exponent bits, bias 15, IEEE infinities and NaNs.
  int64_t mantissaBits = e4m3 ? 3 : 2;
  double rebias = e4m3 ? 0x1p120 : 0x1p112;
  Value magnitude = arith::AndIOp::create(b, loc, code, i32(0x7F));
  Value sign = arith::ShLIOp::create(
      b, loc, arith::AndIOp::create(b, loc, code, i32(0x80)), i32(24));
  Value bits = arith::OrIOp::create(
      b, loc, arith::ShLIOp::create(b, loc, magnitude, i32(23 - mantissaBits)),
      sign);
  Value value = arith::MulFOp::create(
      b, loc, arith::BitcastOp::create(b, loc, b.getF32Type(), bits),
      f32(rebias));
  // E4M3FN's NaN is 0x7F; E5M2's specials are 0x7C (infinity) and above.
  Value special = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::uge,
                                        magnitude, i32(e4m3 ? 0x7F : 0x7C));
  Value specialBits =
      e4m3 ? arith::OrIOp::create(b, loc, sign, i32(0x7FC00000)).getResult()
           : arith::OrIOp::create(
                 b, loc,
                 arith::OrIOp::create(
                     b, loc, sign,
                     arith::ShLIOp::create(
                         b, loc,
                         arith::AndIOp::create(b, loc, magnitude, i32(3)),
                         i32(21))),
                 i32(0x7F800000))
                 .getResult();
  return arith::SelectOp::create(
      b, loc, special,
      arith::BitcastOp::create(b, loc, b.getF32Type(), specialBits), value);
}

SmallVector<Value> GEMVKernelBuilder::step(Value x, Value storage, Value scales,
                                           Value zeros, Value n,
                                           ArrayRef<Value> rows,
                                           Value codeStart, ValueRange acc) {
  LaneCodes lane = loadLane(storage, scales, zeros, n, codeStart);
  // Activations of the lane's codes, for every row, as 16-byte loads.
  auto vf32 = VectorType::get({4}, b.getF32Type());
  SmallVector<Value> next;
  for (auto [r, row] : llvm::enumerate(rows)) {
    Value partial = f32(0.0);
    for (int64_t v = 0; v < plan.codesPerLoad / 4; ++v) {
      Value column = arith::AddIOp::create(b, loc, codeStart, index(4 * v));
      Value quad =
          vector::LoadOp::create(b, loc, vf32, x, ValueRange{row, column},
                                 false, llvm::MaybeAlign(kLoadBytes));
      for (int64_t e = 0; e < 4; ++e)
        partial = math::FmaOp::create(
            b, loc, vector::ExtractOp::create(b, loc, quad, e),
            decode(lane, 4 * v + e), partial);
    }
    next.push_back(
        plan.floatWeights
            ? Value(arith::AddFOp::create(b, loc, acc[r], partial))
            : Value(math::FmaOp::create(b, loc, partial, lane.scale, acc[r])));
  }
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

/// Activation rows of one mma tile.
constexpr int64_t kMmaRows = 16;
/// n8 tiles (8 output channels each) a warp of the tensor-core kernel
/// computes; they share each A fragment.
constexpr int64_t kMmaTilesPerWarp = 4;
/// Warps per block of the tensor-core kernel.
constexpr int64_t kMmaWarps = 4;
/// The products' row count above which the tensor-core kernel runs.
constexpr int64_t kMmaMinRows = 9;

/// Emits the tensor-core launch for `compute-type=f16`: mma.sync
/// m16n8k16 with f32 accumulation, the weights decoded in f32 as the GEMV
/// decodes them, times their scale, rounded once to the compute type; the
/// activations rounded once too.
///
/// A warp computes 16 rows x 32 channels. The four lanes of a quad
/// (`t = lane % 4`) read, per weight row, consecutive lane chunks of the
/// GEMV (16 bytes of codes each), so a chunk of `4 * codesPerLoad` columns
/// takes `codesPerLoad / 4` k16 steps. The mma's k order is a permutation
/// of the columns: in step `s`, lane `t`'s columns `4s .. 4s + 3` of its
/// chunk are the k indices `2t, 2t + 1, 2t + 8, 2t + 9`, which is where the
/// m16n8k16 fragments hold them for A (rows `lane / 4` and `lane / 4 + 8`)
/// and for B (channel `lane / 4`). The same permutation on both operands
/// leaves the sum unchanged, so the codes need no re-packing: each lane's
/// fragments are contiguous in the stored layout.
class MMAKernelBuilder : KernelEmitter {
public:
  MMAKernelBuilder(OpBuilder &b, Location loc, const GEMVPlan &plan,
                   FloatType computeType)
      : KernelEmitter(b, loc), plan(plan), computeType(computeType),
        decoder(b, loc, plan) {}

  void build(Value x, Value storage, Value scales, Value zeros, Value out);
  void setLookupTable(Value table) { decoder.lookupTable = table; }

private:
  const GEMVPlan &plan;
  FloatType computeType;
  GEMVKernelBuilder decoder;

  Value toCompute(Value v) {
    return arith::TruncFOp::create(b, loc, computeType, v);
  }
  /// A vector of `shape` from f32 scalars rounded to the compute type.
  Value fragment(ArrayRef<int64_t> shape, ArrayRef<Value> values) {
    SmallVector<Value> rounded;
    for (Value v : values)
      rounded.push_back(toCompute(v));
    return vector::FromElementsOp::create(
        b, loc, VectorType::get(shape, computeType), rounded);
  }
};

/// The launch shared by the tensor-core kernels: a warp computes rows
/// [firstRow, firstRow + 16) by channels [firstChannel, firstChannel + 32)
/// as four m16n8 tiles; lane `lane` is `group = lane / 4`, `quadLane =
/// lane % 4` of the mma fragments.
struct MmaTile {
  Value lane, group, quadLane, firstChannel, firstRow, rowsTotal;
  /// The fragment rows (group, group + 8) and, clamped to the last row, the
  /// rows they load (rows past the end read the last one, not stored).
  Value rowLow, rowHigh, loadRowLow, loadRowHigh;
  /// The channel each tile's B fragment loads (clamped like the rows).
  SmallVector<Value> channels;
};

/// Creates the tensor-core launch over `n` channels and the rows of `x`,
/// leaving `b` at the start of its body.
MmaTile beginMmaTile(OpBuilder &b, Location loc, Value x, int64_t n) {
  auto index = [&](int64_t v) -> Value {
    return arith::ConstantIndexOp::create(b, loc, v);
  };
  MmaTile tile;
  tile.rowsTotal = memref::DimOp::create(b, loc, x, 0);
  int64_t channelsPerBlock = 8 * kMmaTilesPerWarp * kMmaWarps;
  Value one = index(1);
  auto launch = gpu::LaunchOp::create(
      b, loc, index(llvm::divideCeil(n, channelsPerBlock)),
      arith::CeilDivUIOp::create(b, loc, tile.rowsTotal, index(kMmaRows)), one,
      index(kWarpSize), index(kMmaWarps), one);
  b.setInsertionPointToStart(&launch.getBody().front());
  gpu::TerminatorOp::create(b, loc);
  b.setInsertionPointToStart(&launch.getBody().front());
  tile.lane = launch.getThreadIds().x;
  tile.group = arith::DivUIOp::create(b, loc, tile.lane, index(4));
  tile.quadLane = arith::RemUIOp::create(b, loc, tile.lane, index(4));
  tile.firstChannel = arith::MulIOp::create(
      b, loc,
      arith::AddIOp::create(b, loc,
                            arith::MulIOp::create(b, loc,
                                                  launch.getBlockIds().x,
                                                  index(kMmaWarps)),
                            launch.getThreadIds().y),
      index(8 * kMmaTilesPerWarp));
  tile.firstRow =
      arith::MulIOp::create(b, loc, launch.getBlockIds().y, index(kMmaRows));
  Value lastRow = arith::SubIOp::create(b, loc, tile.rowsTotal, one);
  tile.rowLow = arith::AddIOp::create(b, loc, tile.firstRow, tile.group);
  tile.rowHigh = arith::AddIOp::create(b, loc, tile.rowLow, index(8));
  tile.loadRowLow = arith::MinUIOp::create(b, loc, tile.rowLow, lastRow);
  tile.loadRowHigh = arith::MinUIOp::create(b, loc, tile.rowHigh, lastRow);
  for (int64_t j = 0; j < kMmaTilesPerWarp; ++j)
    tile.channels.push_back(arith::MinUIOp::create(
        b, loc,
        arith::AddIOp::create(
            b, loc, tile.firstChannel,
            arith::AddIOp::create(b, loc, tile.group, index(8 * j))),
        index(n - 1)));
  return tile;
}

/// Calls `body(j, h, e, row, channel)` for the C-fragment element (h, e) of
/// tile j: row `group + 8h`, channel `8j + 2 quadLane + e` of the warp's.
void forEachTileElement(
    OpBuilder &b, Location loc, const MmaTile &tile,
    function_ref<void(int64_t, int64_t, int64_t, Value, Value)> body) {
  auto index = [&](int64_t v) -> Value {
    return arith::ConstantIndexOp::create(b, loc, v);
  };
  for (int64_t j = 0; j < kMmaTilesPerWarp; ++j) {
    Value tileChannel = arith::AddIOp::create(
        b, loc, tile.firstChannel,
        arith::AddIOp::create(
            b, loc, arith::MulIOp::create(b, loc, tile.quadLane, index(2)),
            index(8 * j)));
    for (int64_t h = 0; h < 2; ++h)
      for (int64_t e = 0; e < 2; ++e)
        body(j, h, e, h == 0 ? tile.rowLow : tile.rowHigh,
             arith::AddIOp::create(b, loc, tileChannel, index(e)));
  }
}

/// Stores `values[j][2h + e]` to out[row, channel] of each element that
/// exists, added to what `out` holds when `addToOutput`.
void storeTile(OpBuilder &b, Location loc, const MmaTile &tile, int64_t n,
               ArrayRef<SmallVector<Value>> values, Value out,
               bool addToOutput) {
  forEachTileElement(
      b, loc, tile,
      [&](int64_t j, int64_t h, int64_t e, Value row, Value channel) {
        Value valid = arith::AndIOp::create(
            b, loc,
            arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ult, row,
                                  tile.rowsTotal),
            arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ult, channel,
                                  arith::ConstantIndexOp::create(b, loc, n)));
        auto ifValid = scf::IfOp::create(b, loc, valid, false);
        OpBuilder::InsertionGuard guard(b);
        b.setInsertionPointToStart(&ifValid.getThenRegion().front());
        Value value = values[j][2 * h + e];
        if (addToOutput)
          value = arith::AddFOp::create(
              b, loc,
              memref::LoadOp::create(b, loc, out, ValueRange{row, channel}),
              value);
        memref::StoreOp::create(b, loc, value, out, ValueRange{row, channel});
      });
}

void MMAKernelBuilder::build(Value x, Value storage, Value scales, Value zeros,
                             Value out) {
  OpBuilder::InsertionGuard guard(b);
  MmaTile tile = beginMmaTile(b, loc, x, plan.n);
  auto accType = VectorType::get({2, 2}, b.getF32Type());
  Value zero = arith::ConstantOp::create(
      b, loc, accType, DenseElementsAttr::get(accType, b.getF32FloatAttr(0)));
  SmallVector<Value> init(kMmaTilesPerWarp, zero);
  int64_t chunkCodes = 4 * plan.codesPerLoad;
  int64_t steps = plan.codesPerLoad / 4;
  auto loop = scf::ForOp::create(b, loc, index(0), index(plan.k / chunkCodes),
                                 index(1), init);
  {
    OpBuilder::InsertionGuard bodyGuard(b);
    b.setInsertionPointToStart(loop.getBody());
    Value codeStart = arith::AddIOp::create(
        b, loc,
        arith::MulIOp::create(b, loc, loop.getInductionVar(),
                              index(chunkCodes)),
        arith::MulIOp::create(b, loc, tile.quadLane, index(plan.codesPerLoad)));
    // A fragments: rows lane/4 and lane/4 + 8, columns 4s..4s+3 of the
    // lane's chunk as k = 2t, 2t+1 (a0-a3) and 2t+8, 2t+9 (a4-a7).
    auto quadType = VectorType::get({4}, b.getF32Type());
    auto aFragment = [&](int64_t s) {
      Value column = arith::AddIOp::create(b, loc, codeStart, index(4 * s));
      SmallVector<Value> low, high;
      for (auto [row, values] : {std::pair{tile.loadRowLow, &low},
                                 std::pair{tile.loadRowHigh, &high}}) {
        Value quad =
            vector::LoadOp::create(b, loc, quadType, x, ValueRange{row, column},
                                   false, llvm::MaybeAlign(kLoadBytes));
        for (int64_t e = 0; e < 4; ++e)
          values->push_back(vector::ExtractOp::create(b, loc, quad, e));
      }
      return fragment({4, 2}, {low[0], low[1], high[0], high[1], low[2], low[3],
                               high[2], high[3]});
    };
    // Step-major, so that only one step's weights are live: each tile's
    // codes stay packed until their step decodes them.
    SmallVector<GEMVKernelBuilder::LaneCodes> lanes;
    for (Value channel : tile.channels)
      lanes.push_back(
          decoder.loadLane(storage, scales, zeros, channel, codeStart));
    SmallVector<Value> next(loop.getRegionIterArgs());
    for (int64_t s = 0; s < steps; ++s) {
      Value a = aFragment(s);
      for (auto [j, lane] : llvm::enumerate(lanes)) {
        // B fragment of channel lane/4: the same columns, the same k.
        SmallVector<Value> weights;
        for (int64_t e = 0; e < 4; ++e)
          weights.push_back(arith::MulFOp::create(
              b, loc, decoder.decode(lane, 4 * s + e), lane.scale));
        next[j] =
            nvgpu::MmaSyncOp::create(b, loc, a, fragment({2, 2}, weights),
                                     next[j], ArrayRef<int64_t>{16, 8, 16});
      }
    }
    scf::YieldOp::create(b, loc, next);
  }

  // C fragments: c0, c1 at row lane/4, channels 2t, 2t+1 of the tile; c2,
  // c3 eight rows below.
  SmallVector<SmallVector<Value>> values;
  for (Value acc : loop.getResults()) {
    SmallVector<Value> elements;
    for (int64_t h = 0; h < 2; ++h)
      for (int64_t e = 0; e < 2; ++e)
        elements.push_back(
            vector::ExtractOp::create(b, loc, acc, ArrayRef<int64_t>{h, e}));
    values.push_back(elements);
  }
  storeTile(b, loc, tile, plan.n, values, out, plan.accumulate);
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
class KQuantGEMVBuilder : KernelEmitter {
public:
  KQuantGEMVBuilder(OpBuilder &b, Location loc, const KQuantPlan &plan)
      : KernelEmitter(b, loc), plan(plan) {}

  void build(Value x, Value storage, Value out);

private:
  const KQuantPlan &plan;

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
class W8A8KernelBuilder : KernelEmitter {
public:
  W8A8KernelBuilder(OpBuilder &b, Location loc, const W8A8Plan &plan)
      : KernelEmitter(b, loc), plan(plan) {}

  void build(Value x, Value inputScales, Value weight, Value weightScales,
             Value out);

private:
  const W8A8Plan &plan;

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

/// Emits the W8A8 tensor-core launch (products of more than 8 rows, groups
/// a multiple of 64 codes): `mma.sync` m16n8k32 on the int8 codes with i32
/// accumulation, exact like the GEMV's dp4a sums, then the reference's
/// epilogue per group in its order. As in the f16 kernel, lane `t` of a
/// quad reads a 16-byte chunk of each weight row and of the activation rows
/// (columns `16t .. 16t + 15` of each 64-column chunk); in k-step `s` its
/// bytes `8s .. 8s + 3` are the fragment's k = `4t .. 4t + 3` and bytes
/// `8s + 4 .. 8s + 7` are k = `4t + 16 .. 4t + 19`, for A and B alike.
class W8A8MMAKernelBuilder : KernelEmitter {
public:
  W8A8MMAKernelBuilder(OpBuilder &b, Location loc, const W8A8Plan &plan)
      : KernelEmitter(b, loc), plan(plan) {}

  void build(Value x, Value inputScales, Value weight, Value weightScales,
             Value out);

private:
  const W8A8Plan &plan;

  /// Bytes `picks` of the concatenation of `first` and `second` (16 bytes
  /// each) as a vector of `rows` x 4 bytes (one 32-bit fragment register
  /// per row; a 2-D vector is built row by row, which lowers to register
  /// moves).
  Value fragment(Value first, Value second, ArrayRef<int64_t> picks,
                 int64_t rows) {
    auto type = VectorType::get({rows, 4}, b.getI8Type());
    Value result = ub::PoisonOp::create(b, loc, type);
    for (int64_t r = 0; r < rows; ++r) {
      Value row = vector::ShuffleOp::create(b, loc, first, second,
                                            picks.slice(4 * r, 4));
      result = vector::InsertOp::create(b, loc, row, result, r);
    }
    return result;
  }
};

void W8A8MMAKernelBuilder::build(Value x, Value inputScales, Value weight,
                                 Value weightScales, Value out) {
  OpBuilder::InsertionGuard guard(b);
  MmaTile tile = beginMmaTile(b, loc, x, plan.n);
  Type f32 = b.getF32Type();
  // The running results start at the initial value, as the reference's.
  Value inputScale[2];
  for (int64_t h = 0; h < 2; ++h)
    inputScale[h] = memref::LoadOp::create(
        b, loc, inputScales,
        ValueRange{plan.inputScalePerRow
                       ? (h == 0 ? tile.loadRowLow : tile.loadRowHigh)
                       : index(0),
                   index(0)});
  SmallVector<Value> init;
  SmallVector<Value> channelOf;
  forEachTileElement(
      b, loc, tile, [&](int64_t, int64_t h, int64_t, Value, Value channel) {
        Value loadChannel =
            arith::MinUIOp::create(b, loc, channel, index(plan.n - 1));
        channelOf.push_back(loadChannel);
        init.push_back(
            plan.accumulate
                ? Value(memref::LoadOp::create(
                      b, loc, out,
                      ValueRange{h == 0 ? tile.loadRowLow : tile.loadRowHigh,
                                 loadChannel}))
                : Value(
                      arith::ConstantOp::create(b, loc, b.getF32FloatAttr(0))));
      });

  auto groups =
      scf::ForOp::create(b, loc, index(0), index(plan.groups), index(1), init);
  {
    OpBuilder::InsertionGuard groupGuard(b);
    b.setInsertionPointToStart(groups.getBody());
    Value g = groups.getInductionVar();
    auto accType = VectorType::get({2, 2}, b.getI32Type());
    Value zero = arith::ConstantOp::create(
        b, loc, accType,
        DenseElementsAttr::get(accType, b.getI32IntegerAttr(0)));
    SmallVector<Value> zeros(kMmaTilesPerWarp, zero);
    auto chunks = scf::ForOp::create(
        b, loc, index(0), index(plan.groupSize / 64), index(1), zeros);
    {
      OpBuilder::InsertionGuard chunkGuard(b);
      b.setInsertionPointToStart(chunks.getBody());
      Value column = arith::AddIOp::create(
          b, loc,
          arith::AddIOp::create(
              b, loc, arith::MulIOp::create(b, loc, g, index(plan.groupSize)),
              arith::MulIOp::create(b, loc, chunks.getInductionVar(),
                                    index(64))),
          arith::MulIOp::create(b, loc, tile.quadLane, index(16)));
      auto bytesType = VectorType::get({kLoadBytes}, b.getI8Type());
      auto load = [&](Value source, Value row) -> Value {
        return vector::LoadOp::create(b, loc, bytesType, source,
                                      ValueRange{row, column}, false,
                                      llvm::MaybeAlign(kLoadBytes));
      };
      Value low = load(x, tile.loadRowLow), high = load(x, tile.loadRowHigh);
      SmallVector<Value> codes;
      for (Value channel : tile.channels)
        codes.push_back(load(weight, channel));
      SmallVector<Value> next(chunks.getRegionIterArgs());
      for (int64_t s = 0; s < 2; ++s) {
        int64_t at = 8 * s;
        // a0: row g, k 4t..; a1: row g + 8; a2, a3: k 4t + 16.. (the
        // second operand's bytes are numbered from 16).
        SmallVector<int64_t> aPicks;
        for (int64_t base : {at, 16 + at, at + 4, 16 + at + 4})
          for (int64_t i = 0; i < 4; ++i)
            aPicks.push_back(base + i);
        Value a = fragment(low, high, aPicks, 4);
        SmallVector<int64_t> bPicks;
        for (int64_t i = 0; i < 8; ++i)
          bPicks.push_back(at + i);
        for (auto [j, tileCodes] : llvm::enumerate(codes))
          next[j] = nvgpu::MmaSyncOp::create(
              b, loc, a, fragment(tileCodes, tileCodes, bPicks, 2), next[j],
              ArrayRef<int64_t>{16, 8, 32});
      }
      scf::YieldOp::create(b, loc, next);
    }
    // result += (f32(acc_g) * sx) * sw_g, element by element.
    SmallVector<Value> results;
    ValueRange running = groups.getRegionIterArgs();
    int64_t element = 0;
    for (auto [j, acc] : llvm::enumerate(chunks.getResults())) {
      for (int64_t h = 0; h < 2; ++h) {
        for (int64_t e = 0; e < 2; ++e, ++element) {
          Value sum =
              vector::ExtractOp::create(b, loc, acc, ArrayRef<int64_t>{h, e});
          Value weightScale = memref::LoadOp::create(
              b, loc, weightScales,
              ValueRange{plan.weightScalesPerChannel ? channelOf[element]
                                                     : index(0),
                         g});
          Value term = arith::MulFOp::create(
              b, loc, arith::SIToFPOp::create(b, loc, f32, sum), inputScale[h]);
          term = arith::MulFOp::create(b, loc, term, weightScale);
          results.push_back(
              arith::AddFOp::create(b, loc, running[element], term));
        }
      }
    }
    scf::YieldOp::create(b, loc, results);
  }
  SmallVector<SmallVector<Value>> values;
  for (int64_t j = 0; j < kMmaTilesPerWarp; ++j)
    values.push_back(SmallVector<Value>(groups.getResults().slice(4 * j, 4)));
  // The running results already hold the initial value.
  storeTile(b, loc, tile, plan.n, values, out, /*addToOutput=*/false);
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

/// Emits `emitMMA` for products of kMmaMinRows rows or more and `emitGEMV`
/// below, choosing at run time when the row count of `x` is dynamic;
/// `emitGEMV` only when `tensorCores` is false.
void emitByRowCount(OpBuilder &b, Location loc, Value x, bool tensorCores,
                    function_ref<void()> emitGEMV,
                    function_ref<void()> emitMMA) {
  int64_t rows = cast<MemRefType>(x.getType()).getDimSize(0);
  if (!tensorCores || (!ShapedType::isDynamic(rows) && rows < kMmaMinRows))
    return emitGEMV();
  if (!ShapedType::isDynamic(rows))
    return emitMMA();
  Value manyRows = arith::CmpIOp::create(
      b, loc, arith::CmpIPredicate::uge, memref::DimOp::create(b, loc, x, 0),
      arith::ConstantIndexOp::create(b, loc, kMmaMinRows));
  auto ifMany = scf::IfOp::create(b, loc, manyRows, /*withElse=*/true);
  OpBuilder::InsertionGuard guard(b);
  b.setInsertionPointToStart(&ifMany.getThenRegion().front());
  emitMMA();
  b.setInsertionPointToStart(&ifMany.getElseRegion().front());
  emitGEMV();
}

/// Replaces a dequant_matmul or ggml_matmul with the GEMV launch, and, when
/// `computeType` is set and the weights allow it, the tensor-core launch for
/// products of more than 8 rows (chosen at run time when M is dynamic).
void replaceWithGEMV(Operation *op, GEMVPlan plan, Value input,
                     ArrayRef<Value> weights, Value init,
                     FloatType computeType) {
  bool tensorCores =
      computeType && plan.k % (4 * plan.codesPerLoad) == 0 && plan.n >= 8;
  replaceWithLaunch(
      op, input, weights, init,
      [&](OpBuilder &b, Value x, ArrayRef<Value> buffers, Value out,
          bool accumulate) {
        Location loc = op->getLoc();
        plan.accumulate = accumulate;
        Value table;
        if (!plan.lookup.empty()) {
          auto tableType = RankedTensorType::get({int64_t(plan.lookup.size())},
                                                 b.getF32Type());
          Value values = arith::ConstantOp::create(
              b, loc, tableType,
              DenseElementsAttr::get(tableType, ArrayRef<float>(plan.lookup)));
          table = toBuffer(b, loc, values, /*dynamicRows=*/false);
        }
        auto emitGEMV = [&] {
          GEMVKernelBuilder builder(b, loc, plan);
          builder.lookupTable = table;
          builder.build(x, buffers[0], buffers[1], buffers[2], out);
        };
        auto emitMMA = [&] {
          MMAKernelBuilder builder(b, loc, plan, computeType);
          builder.setLookupTable(table);
          builder.build(x, buffers[0], buffers[1], buffers[2], out);
        };
        emitByRowCount(b, loc, x, tensorCores, emitGEMV, emitMMA);
      });
}

struct ConvertQTensorToGPUKernelsPass
    : qtensor::impl::ConvertQTensorToGPUKernelsPassBase<
          ConvertQTensorToGPUKernelsPass> {
  using Base::Base;

  void runOnOperation() override {
    // bf16 would need nvvm.mma.sync directly: MLIR 22's nvgpu.mma.sync
    // cannot type bf16 operands.
    if (computeType != "f32" && computeType != "f16") {
      emitError(getOperation()->getLoc())
          << "convert-qtensor-to-gpu-kernels: compute-type must be f32 or "
             "f16, got '"
          << computeType << "'";
      return signalPassFailure();
    }
    SmallVector<Operation *> products;
    getOperation()->walk([&](Operation *op) {
      if (isa<DequantMatmulOp, GGMLMatmulOp, QuantizedMatmulOp>(op))
        products.push_back(op);
    });
    for (Operation *op : products) {
      // The GPU kernels have no epilogue: the gating becomes an
      // elementwise generic after the plain product.
      if (getGatedEpilogue(op)) {
        IRRewriter rewriter(op->getContext());
        op = decomposeGatedEpilogue(rewriter, op);
      }
      std::string whyNot;
      if (failed(lower(op, whyNot)) && reportFallback)
        op->emitRemark() << "convert-qtensor-to-gpu-kernels: no GPU kernel "
                            "for this product ("
                         << whyNot << "); the generic loop mapping computes it";
    }
  }

private:
  /// The tensor cores' operand type, or null for the exact f32 kernels.
  FloatType getComputeType() {
    Builder b(&getContext());
    if (computeType == "f16")
      return b.getF16Type();
    return FloatType();
  }

  LogicalResult lower(Operation *op, std::string &whyNot) {
    if (auto dequant = dyn_cast<DequantMatmulOp>(op)) {
      FailureOr<GEMVPlan> plan = planGEMV(dequant, whyNot);
      if (failed(plan))
        return failure();
      replaceWithGEMV(
          op, *plan, dequant.getInput(),
          {dequant.getStorage(), dequant.getScales(), dequant.getZeroPoints()},
          dequant.getInit(), getComputeType());
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
                      {ggml.getStorage(), Value(), Value()}, ggml.getInit(),
                      getComputeType());
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
          Location loc = op->getLoc();
          emitByRowCount(
              b, loc, x, plan->groupSize % 64 == 0 && plan->n >= 8,
              [&] {
                W8A8KernelBuilder(b, loc, kernelPlan)
                    .build(x, buffers[0], buffers[1], buffers[2], out);
              },
              [&] {
                W8A8MMAKernelBuilder(b, loc, kernelPlan)
                    .build(x, buffers[0], buffers[1], buffers[2], out);
              });
        });
    return success();
  }
};

} // namespace

LogicalResult mlir::qtensor::lowerFloatMatmulToGPUKernel(linalg::LinalgOp op,
                                                         FloatType computeType,
                                                         std::string &whyNot) {
  auto fail = [&](const Twine &why) {
    whyNot = why.str();
    return failure();
  };
  if (!op.hasPureTensorSemantics() || op.getNumDpsInputs() != 2 ||
      op.getNumDpsInits() != 1 || !linalg::isaContractionOpInterface(op))
    return fail("not a contraction of two tensors");
  for (Value operand : op->getOperands())
    if (!cast<RankedTensorType>(operand.getType()).getElementType().isF32())
      return fail("operands that are not f32");
  FailureOr<MatmulDims> dims = matchMatmulDims(op, whyNot);
  if (failed(dims))
    return failure();
  if (dims->weight != SmallVector<unsigned>{dims->n, dims->k})
    return fail("a weight that is not [N, K]");
  auto weightType = cast<RankedTensorType>(op.getDpsInputs()[1].getType());
  if (!weightType.hasStaticShape())
    return fail("dynamic weight shape");
  GEMVPlan plan;
  plan.floatWeights = true;
  plan.n = weightType.getDimSize(0);
  plan.k = weightType.getDimSize(1);
  plan.bits = 32;
  plan.fields = 1;
  plan.codesPerWord = 1;
  plan.codesPerLoad = 4;
  plan.group = plan.k;
  if (plan.k % plan.codesPerLoad != 0)
    return fail(Twine("K = ") + Twine(plan.k) + " (a multiple of 4 is needed)");
  replaceWithGEMV(op, plan, op.getDpsInputs()[0],
                  {op.getDpsInputs()[1], Value(), Value()}, op.getDpsInits()[0],
                  computeType);
  return success();
}
