//===- Int8MatmulKernel.cpp - int8-activation VNNI kernels ----------------===//
//
// Part of the quant-opt project, under the Apache License v2.0 with LLVM
// Exceptions.
//
//===----------------------------------------------------------------------===//
//
// The `compute=int8` kernels of integer-weight products. Each call rounds
// its activations to int8, symmetric, one scale per row and weight group;
// the codes, widened to unsigned bytes, meet them in `vpdpbusd` (AVX-512
// VNNI: 64 u8 x s8 products summed into 16 i32 lanes), and each group's
// integer dot is scaled once in f32:
//
//   y[m, n] = sum_g s[n, g] * d[m, g] * (dot_g(c, q) - z'[n, g] * sum_g(q))
//
// with z' the zero-point plus the offset of codes stored shifted to
// unsigned. Storage is read in units of 64 bytes (ggml: 4 q4_0 or 2 q8_0
// blocks); a unit decodes to one 64-byte vector per bit field, and the
// activations are packed once per call in the same order, so that lane i of
// a decoded vector meets lane i of the packed activations.
//
//===----------------------------------------------------------------------===//

#include "CPUKernels.h"
#include "quant/Dialect/QTensor/Utils/WeightMatching.h"
#include "quant/Numerics/GGUFQuants.h"

#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"

#include "llvm/ADT/STLExtras.h"

using namespace mlir;
using namespace mlir::qtensor;
using namespace mlir::qtensor::cpu;

namespace {

/// Bytes of one `vpdpbusd` operand.
constexpr int64_t kVectorBytes = 64;
/// Prefetch distance of the prepacked decode, in 64-byte words.
constexpr int64_t kPrefetchWords = 32;
/// Activation rows from which a task decodes a panel (prefill): the integer
/// dots are cheap enough that streaming pays only for a few rows.
constexpr int64_t kInt8PanelMinRows = 16;

/// How one layout's storage meets the int8 kernel: 64-byte units, decoded
/// vectors, and how the weight groups fall on their 16 i32 lanes.
struct Int8Layout {
  /// Decoded 64-byte vectors per unit (bit fields of the unit's bytes; for
  /// q4_0 the low and the high nibbles).
  unsigned fields = 1;
  /// Codes per unit, units per weight row (the last one may be partial).
  int64_t unitCodes = 0, numUnits = 0;
  /// One group covers `unitsPerGroup` whole units, or a unit holds
  /// `groupsPerUnit` groups of `lanesPerGroup` lanes each.
  int64_t unitsPerGroup = 1, groupsPerUnit = 1, lanesPerGroup = 16;
  /// Columns of the per-row activation scale arrays (groups padded to whole
  /// units).
  int64_t paddedGroups = 0;
  /// Added to every zero-point: codes stored shifted to unsigned bytes.
  int64_t offset = 0;
  /// Xor applied to the storage bytes (signed codes to unsigned), 0: none.
  uint8_t flip = 0;
  /// ggml blocks per unit (0: a qtensor layout).
  int64_t blocksPerUnit = 0;
  /// Bytes of the last unit (ggml: its blocks) that exist.
  int64_t lastUnitBlocks = 0;
  bool lastUnitPartial = false;

  const DequantKernelPlan *plan = nullptr;

  /// Weights prepacked at compile time: lane c of a 16-channel tile's
  /// vector holds one word of channel c, 4 codes per field (see
  /// prepackInt8Weights); units are 4 words.
  bool prepacked = false;
  /// Prepacked words per channel (a multiple of 4) and per group.
  int64_t words = 0, wordsPerGroup = 0;
  /// Bits per field of a stored byte (the nibbles of q5_x / q6_K).
  unsigned fieldBits = 0;
  /// Prepacked q5_x (1) / q6_K (2): the bits above each nibble, in a plane
  /// of words laid out like a format of `planeBits`-bit codes.
  unsigned planeBits = 0;
  /// Nibble words that share one plane word.
  int64_t planeStep() const { return planeBits ? 4 / planeBits : 1; }

  /// The code (index within its unit) at byte `p` of decoded vector `f`.
  int64_t codeOf(unsigned f, int64_t p) const {
    if (plan->isGGML())
      return plan->fields == 2 ? 32 * (p / 16) + 16 * f + p % 16 : p;
    return fields * p + (plan->msbFirst ? fields - 1 - f : f);
  }
  /// The packed activations are the codes in K order.
  bool naturalOrder() const {
    // Prepacked word w's field f meets activation word fields * w + f.
    if (prepacked)
      return true;
    for (unsigned f = 0; f < fields; ++f)
      for (int64_t p = 0; p < kVectorBytes; ++p)
        if (codeOf(f, p) != f * kVectorBytes + p)
          return false;
    return true;
  }
  int64_t paddedK() const { return numUnits * unitCodes; }
  /// i32 words (4 codes) of one packed activation row.
  int64_t quads() const { return paddedK() / 4; }
  /// Words between packed rows: one cache line more than a row, so that
  /// the rows of a 6-row tile, whose words are read together, do not all
  /// fall into the same L1 set when a row is a multiple of 4 KiB.
  int64_t rowStride() const { return quads() + 16; }
  /// Words of packed activations that one group covers.
  int64_t groupQuads() const {
    return prepacked ? wordsPerGroup * fields : unitsPerGroup * fields * kLanes;
  }
};

/// The prepacked form of `layout` (int8Layout's), or failure when its groups
/// do not cover whole words.
LogicalResult makePrepacked(Int8Layout &layout, std::string &whyNot) {
  const DequantKernelPlan &plan = *layout.plan;
  int64_t wordCodes = 4 * layout.fields;
  if (plan.numGroups > 1 && plan.group % wordCodes != 0)
    return whyNot = "groups of partial words", failure();
  layout.prepacked = true;
  layout.words = llvm::alignTo(llvm::divideCeil(plan.k, wordCodes), 4);
  layout.wordsPerGroup =
      plan.numGroups == 1 ? layout.words : plan.group / wordCodes;
  layout.unitCodes = 4 * wordCodes;
  layout.numUnits = layout.words / 4;
  layout.lastUnitPartial = false;
  layout.unitsPerGroup = 1;
  layout.groupsPerUnit = 1;
  layout.lanesPerGroup = kLanes;
  layout.paddedGroups = plan.numGroups;
  return success();
}

FailureOr<Int8Layout> int8Layout(const DequantKernelPlan &plan,
                                 std::string &whyNot) {
  Int8Layout layout;
  layout.plan = &plan;
  if (plan.isFloatWeight())
    return whyNot = "float weights", failure();
  // q4_K's sub-block scales, the mins of q4_1 / q4_K and the high bits of
  // q5_x / q6_K only in the prepacked form, whose parameters and bit
  // planes sit apart from the codes.
  if (plan.subBlockScales && !plan.int8Prepacked)
    return whyNot = plan.ggmlName + " sub-block scales", failure();
  if (plan.hasMins() && !plan.int8Prepacked)
    return whyNot = plan.ggmlName + " mins", failure();
  if ((plan.fifthBits || plan.kQuantHighBits) && !plan.int8Prepacked)
    return whyNot = plan.ggmlName + " fifth bits", failure();
  if (plan.isLookup())
    return whyNot = plan.lookupName + " codes are not integers", failure();
  layout.fields = plan.fields;
  layout.fieldBits = plan.bits;
  if (plan.threeBitCodes) {
    // q3_K's 3-bit codes take a nibble each.
    layout.fields = 2;
    layout.fieldBits = 4;
  }
  if (plan.fifthBits || plan.kQuantHighBits || plan.sixBitCodes) {
    layout.fields = 2;
    layout.fieldBits = 4;
    layout.planeBits = plan.sixBitCodes ? 2 : 1;
  }
  layout.unitCodes = kVectorBytes * layout.fields;
  layout.numUnits = llvm::divideCeil(plan.k, layout.unitCodes);
  layout.lastUnitPartial = plan.k % layout.unitCodes != 0;
  if (plan.signedCodes) {
    layout.offset = int64_t(1) << (plan.bits - 1);
    for (unsigned j = 0; j < plan.fields; ++j)
      layout.flip |= uint8_t(layout.offset << (plan.bits * j));
  } else {
    layout.offset = plan.offset;
  }
  if (plan.isGGML()) {
    layout.blocksPerUnit = layout.unitCodes / 32;
    int64_t blocks = plan.k / 32;
    layout.lastUnitBlocks =
        blocks - (layout.numUnits - 1) * layout.blocksPerUnit;
  }
  if (plan.int8Prepacked) {
    // makePrepacked lays out whole words per group.
  } else if (plan.numGroups == 1) {
    layout.unitsPerGroup = layout.numUnits;
  } else if (plan.group % layout.unitCodes == 0) {
    layout.unitsPerGroup = plan.group / layout.unitCodes;
  } else if (layout.unitCodes % plan.group == 0 &&
             plan.group % (4 * plan.fields) == 0) {
    layout.groupsPerUnit = layout.unitCodes / plan.group;
    layout.lanesPerGroup = kLanes / layout.groupsPerUnit;
  } else {
    whyNot = (Twine("groups of ") + Twine(plan.group) +
              " codes (the int8 kernel needs a divisor or a multiple of " +
              Twine(layout.unitCodes) + ")")
                 .str();
    return failure();
  }
  layout.paddedGroups = layout.groupsPerUnit > 1
                            ? layout.numUnits * layout.groupsPerUnit
                            : plan.numGroups;
  if (plan.int8Prepacked && failed(makePrepacked(layout, whyNot)))
    return failure();
  return layout;
}

/// The buffers of the int8 kernel's task function.
struct Int8Buffers {
  /// Prepacked q5_x / q6_K: `plane` holds the bits above the nibbles.
  /// Prepacked q4_1 / q4_K / q5_1: `mins` per group; q4_K: `scales` and
  /// `mins` are the 6-bit sub-block ones and `superScales` the (d, dmin)
  /// pairs; q6_K: `scales` the int8 ones and `superScales` d.
  /// W8A8: `inputScales` are the op's activation scales, `actSums` the i32
  /// sums of each row's codes per group (no `actScales`).
  Value packed, storage, plane, scales, zeros, mins, superScales, inputScales,
      actScales, actSums, out;

  auto fields() {
    return std::tie(packed, storage, plane, scales, zeros, mins, superScales,
                    inputScales, actScales, actSums, out);
  }
};

class Int8KernelBuilder : public KernelEmitter {
public:
  Int8KernelBuilder(OpBuilder &b, Location loc, ModuleOp module,
                    const DequantKernelPlan &plan, const Int8Layout &layout)
      : KernelEmitter(b, loc), module(module), plan(plan), layout(layout) {
    f32 = b.getF32Type();
    vf32 = VectorType::get({kLanes}, f32);
    vi32 = VectorType::get({kLanes}, b.getI32Type());
    vbytes = VectorType::get({kVectorBytes}, b.getI8Type());
  }

  /// The kernel function body; `args` are (x, storage, [scales],
  /// [zero-points], output).
  void build(ValueRange args, unsigned threads, StringRef taskName) {
    Value x = args[0];
    Int8Buffers buffers;
    buffers.storage = args[1];
    unsigned next = 2;
    if (layout.prepacked && layout.planeBits)
      buffers.plane = args[next++];
    if (!plan.isGGML() || layout.prepacked)
      buffers.scales = args[next++];
    if (plan.zeroType)
      buffers.zeros = args[next++];
    if (layout.prepacked && plan.hasMins())
      buffers.mins = args[next++];
    if (layout.prepacked && plan.subBlockScales)
      buffers.superScales = args[next++];
    if (plan.w8a8)
      buffers.inputScales = args[next++];
    buffers.out = productsBuffer(plan, args.back());
    Value numRows = memref::DimOp::create(b, loc, x, 0);
    if (plan.w8a8)
      packCodes(x, numRows, buffers, (taskName + "_pack").str());
    else
      packActivations(x, numRows, buffers, threads, (taskName + "_pack").str());
    func::FuncOp task = createTaskFunction(taskName, buffers);
    emitProductTaskLoop(plan, threads, task, presentBuffers(buffers),
                        args.back(), (taskName + "_epilogue").str());
  }

private:
  ModuleOp module;
  const DequantKernelPlan &plan;
  const Int8Layout &layout;
  Int8Buffers buf;
  Value rows;
  /// The declaration standing for vpdpbusd.
  func::FuncOp vnniDot;
  Type f32;
  VectorType vf32, vi32, vbytes;

  Value splatBytes(uint8_t v) { return splat(vbytes, v); }
  /// A task's scratch buffer: on the stack up to 64 KiB.
  Value scratch(MemRefType type) {
    int64_t bytes = type.getNumElements() * type.getElementTypeBitWidth() / 8;
    if (bytes <= (64 << 10))
      return memref::AllocaOp::create(b, loc, type);
    return memref::AllocOp::create(b, loc, type);
  }
  /// acc + the sums of 4 adjacent products of unsigned `codes` and signed
  /// `activations` (vpdpbusd).
  Value dot(Value acc, Value codes, Value activations) {
    if (!vnniDot)
      vnniDot = getOrCreateIntrinsicDeclaration(
          module, "llvm.x86.avx512.vpdpbusd.512",
          b.getFunctionType({vi32, vbytes, vbytes}, {vi32}));
    return func::CallOp::create(b, loc, vnniDot,
                                ValueRange{acc, codes, activations})
        .getResult(0);
  }
  /// The sum of the i32 vectors `parts`.
  Value addAll(ArrayRef<Value> parts) {
    Value sum = parts.front();
    for (Value part : parts.drop_front())
      sum = arith::AddIOp::create(b, loc, sum, part);
    return sum;
  }
  /// Row m's activation scale d and d * sum(q) of group g.
  std::pair<Value, Value> activationScaleAndSum(Value m, Value g) {
    return {memref::LoadOp::create(b, loc, buf.actScales, ValueRange{m, g}),
            memref::LoadOp::create(b, loc, buf.actSums, ValueRange{m, g})};
  }
  Value asBytes(Value words) {
    return vector::BitCastOp::create(b, loc, vbytes, words);
  }
  Value concat(Value l, Value r) {
    auto type = cast<VectorType>(l.getType());
    SmallVector<int64_t> mask(2 * type.getNumElements());
    std::iota(mask.begin(), mask.end(), 0);
    return vector::ShuffleOp::create(b, loc, l, r, mask);
  }

  /// A function (row index, `args`...) whose body `body` emits from its
  /// arguments, created at the end of the module.
  func::FuncOp createRowFunction(StringRef name, ArrayRef<Value> args,
                                 function_ref<void(ValueRange)> body) {
    SmallVector<Type> types{b.getIndexType()};
    for (Value v : args)
      types.push_back(v.getType());
    func::FuncOp func = createKernelFunction(module, loc, name, types, 1);
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(&func.getBody().front());
    body(func.getArguments());
    func::ReturnOp::create(b, loc);
    return func;
  }

  /// Rounds each row's activations to int8 per weight group and packs them
  /// in decoded-vector order as i32 words; records each group's scale d and
  /// d * sum(q). Rows are independent; the groups past K read as zero.
  void packActivations(Value x, Value numRows, Int8Buffers &buffers,
                       unsigned threads, StringRef packName) {
    buffers.packed = memref::AllocOp::create(
        b, loc,
        MemRefType::get({ShapedType::kDynamic, layout.rowStride()},
                        b.getI32Type()),
        ValueRange{numRows});
    auto scaleType =
        MemRefType::get({ShapedType::kDynamic, layout.paddedGroups}, f32);
    buffers.actScales =
        memref::AllocOp::create(b, loc, scaleType, ValueRange{numRows});
    buffers.actSums =
        memref::AllocOp::create(b, loc, scaleType, ValueRange{numRows});
    SmallVector<Value> args{x, buffers.packed, buffers.actScales,
                            buffers.actSums};
    func::FuncOp packRow =
        createRowFunction(packName, args, [&](ValueRange rowArgs) {
          emitPackRow(rowArgs[0], rowArgs[1], rowArgs[2], rowArgs[3],
                      rowArgs[4]);
        });
    // Rows in parallel only where they pay for the parallel region.
    if (threads == 1) {
      emitTaskLoop(1, numRows, packRow, args);
      return;
    }
    Value many = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::sge,
                                       numRows, index(kInt8PanelMinRows));
    emitIfElse(
        many, [&] { emitTaskLoop(threads, numRows, packRow, args); },
        [&] { emitTaskLoop(1, numRows, packRow, args); });
  }

  /// W8A8: each row's int8 codes copied into the packed words (zero past
  /// K), and their i32 sums per group.
  void packCodes(Value x, Value numRows, Int8Buffers &buffers,
                 StringRef packName) {
    Type i32 = b.getI32Type();
    buffers.packed = memref::AllocOp::create(
        b, loc,
        MemRefType::get({ShapedType::kDynamic, layout.rowStride()}, i32),
        ValueRange{numRows});
    buffers.actSums = memref::AllocOp::create(
        b, loc, MemRefType::get({ShapedType::kDynamic, plan.numGroups}, i32),
        ValueRange{numRows});
    SmallVector<Value> args{x, buffers.packed, buffers.actSums};
    func::FuncOp packRow =
        createRowFunction(packName, args, [&](ValueRange rowArgs) {
          Value m = rowArgs[0], codes = rowArgs[1], packed = rowArgs[2],
                sums = rowArgs[3];
          auto word = VectorType::get({4}, b.getI8Type());
          auto wide = VectorType::get({4}, i32);
          forLoop(
              index(0), index(plan.numGroups), 1, {}, [&](Value g, ValueRange) {
                Value kBegin = mul(g, index(plan.group));
                Value total = forLoop(
                    kBegin, add(kBegin, index(plan.group)), 4, {splat(wide, 0)},
                    [&](Value k, ValueRange acc) -> SmallVector<Value> {
                      Value v = vector::LoadOp::create(b, loc, word, codes,
                                                       ValueRange{m, k});
                      memref::StoreOp::create(
                          b, loc,
                          vector::ExtractOp::create(
                              b, loc,
                              vector::BitCastOp::create(
                                  b, loc, VectorType::get({1}, i32), v),
                              ArrayRef<int64_t>{0}),
                          packed,
                          ValueRange{
                              m, arith::DivUIOp::create(b, loc, k, index(4))});
                      return {arith::AddIOp::create(
                          b, loc, acc[0],
                          arith::ExtSIOp::create(b, loc, wide, v))};
                    })[0];
                memref::StoreOp::create(
                    b, loc,
                    vector::ReductionOp::create(
                        b, loc, vector::CombiningKind::ADD, total),
                    sums, ValueRange{m, g});
                return SmallVector<Value>();
              });
          Value zero =
              arith::ConstantOp::create(b, loc, b.getI32IntegerAttr(0));
          forLoop(index(plan.k / 4), index(layout.quads()), 1, {},
                  [&](Value q, ValueRange) {
                    memref::StoreOp::create(b, loc, zero, packed,
                                            ValueRange{m, q});
                    return SmallVector<Value>();
                  });
        });
    emitTaskLoop(1, numRows, packRow, args);
  }

  /// Row m of the activations, rounded and packed.
  void emitPackRow(Value m, Value x, Value packed, Value actScales,
                   Value actSums) {
    auto i8 = b.getI8Type();
    bool natural = layout.naturalOrder();
    // Codes in K order, when the packed order differs.
    Value row;
    if (!natural)
      row = memref::AllocaOp::create(b, loc,
                                     MemRefType::get({layout.paddedK()}, i8));
    auto vi8 = VectorType::get({kLanes}, i8);
    auto vquad = VectorType::get({kLanes / 4}, b.getI32Type());
    // Stores 16 codes at k (k a multiple of 16).
    auto storeCodes = [&](Value codes, Value k) {
      if (natural)
        vector::StoreOp::create(
            b, loc, vector::BitCastOp::create(b, loc, vquad, codes), packed,
            ValueRange{m, arith::DivUIOp::create(b, loc, k, index(4))});
      else
        vector::StoreOp::create(b, loc, codes, row, ValueRange{k});
    };
    forLoop(index(0), index(plan.numGroups), 1, {}, [&](Value g, ValueRange) {
      quantizeGroup(x, m, g, actScales, actSums, storeCodes);
      return SmallVector<Value>();
    });
    for (int64_t g = plan.numGroups; g < layout.paddedGroups; ++g) {
      memref::StoreOp::create(b, loc, f32Const(0), actScales,
                              ValueRange{m, index(g)});
      memref::StoreOp::create(b, loc, f32Const(0), actSums,
                              ValueRange{m, index(g)});
    }
    Value zeros = splat(vi8, 0);
    forLoop(index(llvm::alignTo(plan.k, kLanes)), index(layout.paddedK()),
            kLanes, {}, [&](Value k, ValueRange) {
              storeCodes(zeros, k);
              return SmallVector<Value>();
            });
    if (!natural)
      reorderRow(row, packed, m);
  }

  /// Group g of row m: d = max|x| / 127, q = roundeven(x * 127 / max|x|)
  /// clamped to [-127, 127] (0 for an all-zero group).
  void quantizeGroup(Value x, Value m, Value g, Value actScales, Value actSums,
                     function_ref<void(Value, Value)> storeCodes) {
    Value kBegin = mul(g, index(plan.group));
    Value kEnd = minIndex(add(kBegin, index(plan.group)), index(plan.k));
    Value padding = f32Const(0);
    auto read = [&](Value k) {
      return vector::TransferReadOp::create(b, loc, vf32, x, ValueRange{m, k},
                                            padding, ArrayRef<bool>{false});
    };
    Value peak =
        forLoop(kBegin, kEnd, kLanes, {splat(vf32, 0)},
                [&](Value k, ValueRange acc) -> SmallVector<Value> {
                  Value magnitude = math::AbsFOp::create(b, loc, read(k));
                  return {arith::MaximumFOp::create(b, loc, acc[0], magnitude)};
                })[0];
    Value amax = vector::ReductionOp::create(
        b, loc, vector::CombiningKind::MAXIMUMF, peak);
    Value positive = arith::CmpFOp::create(b, loc, arith::CmpFPredicate::OGT,
                                           amax, f32Const(0));
    Value inverse = arith::SelectOp::create(
        b, loc, positive, arith::DivFOp::create(b, loc, f32Const(127), amax),
        f32Const(0));
    Value scale = arith::DivFOp::create(b, loc, amax, f32Const(127));
    Value inverseVector = vector::BroadcastOp::create(b, loc, vf32, inverse);
    Value low = splat(vf32, -127), high = splat(vf32, 127);
    auto vi8 = VectorType::get({kLanes}, b.getI8Type());
    Value total = forLoop(
        kBegin, kEnd, kLanes, {splat(vi32, 0)},
        [&](Value k, ValueRange acc) -> SmallVector<Value> {
          Value scaled = arith::MulFOp::create(b, loc, read(k), inverseVector);
          Value rounded = math::RoundEvenOp::create(b, loc, scaled);
          Value clamped = arith::MinimumFOp::create(
              b, loc, arith::MaximumFOp::create(b, loc, rounded, low), high);
          Value codes = arith::FPToSIOp::create(b, loc, vi32, clamped);
          storeCodes(arith::TruncIOp::create(b, loc, vi8, codes), k);
          return {arith::AddIOp::create(b, loc, acc[0], codes)};
        })[0];
    Value sum =
        vector::ReductionOp::create(b, loc, vector::CombiningKind::ADD, total);
    Value sumF = arith::SIToFPOp::create(b, loc, f32, sum);
    memref::StoreOp::create(b, loc, scale, actScales, ValueRange{m, g});
    memref::StoreOp::create(b, loc, arith::MulFOp::create(b, loc, scale, sumF),
                            actSums, ValueRange{m, g});
  }

  /// packed[m] = the codes of `row` permuted into decoded-vector order, one
  /// unit at a time.
  void reorderRow(Value row, Value packed, Value m) {
    auto unitType = VectorType::get({layout.unitCodes}, b.getI8Type());
    forLoop(index(0), index(layout.numUnits), 1, {}, [&](Value u, ValueRange) {
      Value codes = vector::LoadOp::create(
          b, loc, unitType, row, ValueRange{mul(u, index(layout.unitCodes))});
      for (unsigned f = 0; f < layout.fields; ++f) {
        SmallVector<int64_t> mask;
        for (int64_t p = 0; p < kVectorBytes; ++p)
          mask.push_back(layout.codeOf(f, p));
        Value bytes = vector::ShuffleOp::create(b, loc, codes, codes, mask);
        Value at =
            add(mul(u, index(layout.fields * kLanes)), index(f * kLanes));
        vector::StoreOp::create(b, loc,
                                vector::BitCastOp::create(b, loc, vi32, bytes),
                                packed, ValueRange{m, at});
      }
      return SmallVector<Value>();
    });
  }

  func::FuncOp createTaskFunction(StringRef name, const Int8Buffers &buffers) {
    SmallVector<Type> types{b.getIndexType()};
    for (Value v : presentBuffers(buffers))
      types.push_back(v.getType());
    func::FuncOp func = createKernelFunction(module, loc, name, types, 1);
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(&func.getBody().front());
    Int8KernelBuilder task(b, loc, module, plan, layout);
    task.buf = rebindBuffers(buffers, func.getArguments().drop_front());
    task.emitTaskBody(func.getArgument(0));
    func::ReturnOp::create(b, loc);
    return func;
  }

  void emitTaskBody(Value task) {
    rows = memref::DimOp::create(b, loc, buf.packed, 0);
    Value n0 = mul(task, index(kChannelsPerTask));
    Value prefill = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::sge,
                                          rows, index(kInt8PanelMinRows));
    if (layout.prepacked) {
      emitIfElse(
          prefill, [&] { emitPrepackedPanelTask(task); },
          [&] { emitPrepackedStreamTask(task); });
      return;
    }
    emitIfElse(
        prefill, [&] { emitPanelTask(n0); },
        [&] {
          Value nEnd =
              minIndex(add(n0, index(kChannelsPerTask)), index(plan.n));
          forEachStreamTile(
              n0, nEnd, rows,
              [&](Value c0, int64_t channels, Value m0, int64_t numRows) {
                emitStreamTile(c0, channels, m0, numRows);
              });
        });
  }

  //===--------------------------------------------------------------------===//
  // Weights
  //===--------------------------------------------------------------------===//

  Value paramRow(Value n) { return KernelEmitter::paramRow(plan, n); }

  /// The decoded vectors of unit `u` of channel `n` (unsigned codes, one
  /// per byte). A partial unit reads zero bytes past the row's end.
  SmallVector<Value> decodeUnit(Value n, Value u, bool partial) {
    Value bytes;
    if (plan.isGGML()) {
      // Each block's codes follow its 2-byte f16 scale.
      int64_t codeBytes = plan.ggmlBlockBytes - 2;
      auto blockType = VectorType::get({codeBytes}, b.getI8Type());
      int64_t blocks = partial ? layout.lastUnitBlocks : layout.blocksPerUnit;
      SmallVector<Value> parts;
      for (int64_t t = 0; t < layout.blocksPerUnit; ++t) {
        if (t >= blocks) {
          parts.push_back(splat(blockType, 0));
          continue;
        }
        Value block = add(mul(u, index(layout.blocksPerUnit)), index(t));
        Value column = add(mul(block, index(plan.ggmlBlockBytes)), index(2));
        parts.push_back(vector::LoadOp::create(b, loc, blockType, buf.storage,
                                               ValueRange{n, column}));
      }
      while (parts.size() > 1) {
        SmallVector<Value> joined;
        for (size_t i = 0; i < parts.size(); i += 2)
          joined.push_back(concat(parts[i], parts[i + 1]));
        parts = std::move(joined);
      }
      bytes = parts[0];
    } else {
      Value column = mul(u, index(kVectorBytes));
      bytes =
          partial
              ? Value(vector::TransferReadOp::create(
                    b, loc, vbytes, buf.storage, ValueRange{n, column},
                    arith::ConstantOp::create(b, loc, b.getI8IntegerAttr(0)),
                    ArrayRef<bool>{false}))
              : Value(vector::LoadOp::create(b, loc, vbytes, buf.storage,
                                             ValueRange{n, column}));
    }
    if (layout.flip)
      bytes = arith::XOrIOp::create(b, loc, bytes, splatBytes(layout.flip));
    return splitFields(bytes);
  }

  /// The bit fields of 64 bytes of unsigned codes, one code per byte each.
  SmallVector<Value> splitFields(Value bytes) {
    SmallVector<Value> decoded;
    uint8_t mask = uint8_t((1u << layout.fieldBits) - 1);
    for (unsigned f = 0; f < layout.fields; ++f) {
      Value field = bytes;
      if (f > 0)
        field = arith::ShRUIOp::create(
            b, loc, field, splatBytes(uint8_t(layout.fieldBits * f)));
      if (f + 1 < layout.fields)
        field = arith::AndIOp::create(b, loc, field, splatBytes(mask));
      decoded.push_back(field);
    }
    return decoded;
  }

  /// The zero-point of group g plus the codes' offset, as f32.
  Value groupOffset(Value n, Value g) {
    return loadGroupOffset(buf.zeros, paramRow(n), g, layout.offset);
  }

  /// Scales and offset zero-points of the groups of unit u (groups past
  /// the row's end read as zero).
  std::pair<Value, Value> unitScalesAndOffsets(Value n, Value u, bool partial) {
    int64_t count = layout.groupsPerUnit;
    auto type = VectorType::get({count}, f32);
    Value first = mul(u, index(count));
    Value scales, offsets;
    if (plan.isGGML() && !partial) {
      // The unit's block scales in one load: the bytes from the first
      // block's scale to the last one's, the scales picked by a shuffle.
      int64_t span = (count - 1) * plan.ggmlBlockBytes + 2;
      Value bytes = vector::LoadOp::create(
          b, loc, VectorType::get({span}, b.getI8Type()), buf.storage,
          ValueRange{n, mul(u, index(count * plan.ggmlBlockBytes))});
      SmallVector<int64_t> picks;
      for (int64_t t = 0; t < count; ++t)
        picks.append({t * plan.ggmlBlockBytes, t * plan.ggmlBlockBytes + 1});
      Value halves = vector::BitCastOp::create(
          b, loc, VectorType::get({count}, b.getF16Type()),
          vector::ShuffleOp::create(b, loc, bytes, bytes, picks));
      scales = toF32(halves);
    } else if (plan.isGGML()) {
      int64_t valid = layout.lastUnitBlocks;
      SmallVector<Value> elements;
      for (int64_t t = 0; t < count; ++t)
        elements.push_back(
            t < valid ? loadGroupScale(plan, buf.storage, buf.scales, n,
                                       paramRow(n), add(first, index(t)))
                      : f32Const(0));
      scales = vector::FromElementsOp::create(b, loc, type, elements);
    } else {
      // Only the last unit can hold groups past the row's end: a masked
      // read there, plain loads elsewhere.
      auto read = [&](Value source) {
        Type element = cast<MemRefType>(source.getType()).getElementType();
        auto type = VectorType::get({count}, element);
        SmallVector<Value, 2> at{paramRow(n), first};
        if (!partial && plan.numGroups % count == 0)
          return toF32(vector::LoadOp::create(b, loc, type, source, at));
        Value padding =
            arith::ConstantOp::create(b, loc, element, b.getZeroAttr(element));
        return toF32(vector::TransferReadOp::create(
            b, loc, type, source, at, padding, ArrayRef<bool>{false}));
      };
      scales = read(buf.scales);
      if (buf.zeros)
        offsets = arith::AddFOp::create(b, loc, read(buf.zeros),
                                        splat(type, double(layout.offset)));
    }
    if (!offsets)
      offsets = splat(type, double(layout.offset));
    return {scales, offsets};
  }

  /// Each of the `groupsPerUnit` elements of `v` repeated over its lanes.
  Value expandToLanes(Value v) {
    SmallVector<int64_t> mask;
    for (int64_t i = 0; i < kLanes; ++i)
      mask.push_back(i / layout.lanesPerGroup);
    return vector::ShuffleOp::create(b, loc, v, v, mask);
  }

  //===--------------------------------------------------------------------===//
  // Decode: codes streamed from storage
  //===--------------------------------------------------------------------===//

  Value packedVector(Value m, Value u, unsigned f) {
    Value at = add(mul(u, index(layout.fields * kLanes)), index(f * kLanes));
    return asBytes(
        vector::LoadOp::create(b, loc, vi32, buf.packed, ValueRange{m, at}));
  }

  /// Outputs [m0, m0 + numRows) x [n0, n0 + numChannels): per (channel,
  /// row), an f32 vector accumulator of scaled group dots and the offset
  /// correction.
  void emitStreamTile(Value n0, int64_t numChannels, Value m0,
                      int64_t numRows) {
    SmallVector<Value> channel, row;
    for (int64_t c = 0; c < numChannels; ++c)
      channel.push_back(add(n0, index(c)));
    for (int64_t r = 0; r < numRows; ++r)
      row.push_back(add(m0, index(r)));
    int64_t tiles = numChannels * numRows;
    SmallVector<Value> results = layout.groupsPerUnit > 1
                                     ? streamGroupsInUnits(channel, row)
                                     : streamUnitsInGroups(channel, row);
    for (int64_t c = 0; c < numChannels; ++c) {
      for (int64_t r = 0; r < numRows; ++r) {
        int64_t t = c * numRows + r;
        Value y = vector::ReductionOp::create(
            b, loc, vector::CombiningKind::ADD, results[t],
            arith::FastMathFlags::reassoc);
        Value correction = results[tiles + t];
        if (isa<VectorType>(correction.getType()))
          correction = vector::ReductionOp::create(
              b, loc, vector::CombiningKind::ADD, correction,
              arith::FastMathFlags::reassoc);
        y = arith::SubFOp::create(b, loc, y, correction);
        if (plan.accumulate)
          y = arith::AddFOp::create(
              b, loc,
              memref::LoadOp::create(b, loc, buf.out,
                                     ValueRange{row[r], channel[c]}),
              y);
        memref::StoreOp::create(b, loc, y, buf.out,
                                ValueRange{row[r], channel[c]});
      }
    }
  }

  /// Several groups per unit: each unit's i32 dots are scaled lane by lane
  /// (each group's s * d expanded over its lanes).
  SmallVector<Value> streamGroupsInUnits(ArrayRef<Value> channel,
                                         ArrayRef<Value> row) {
    int64_t numRows = row.size(), tiles = channel.size() * numRows;
    auto groupsType = VectorType::get({layout.groupsPerUnit}, f32);
    SmallVector<Value> inits(tiles, splat(vf32, 0));
    inits.append(tiles, splat(groupsType, 0));
    auto unitStep = [&](Value u, ValueRange state,
                        bool partial) -> SmallVector<Value> {
      SmallVector<Value> next(state.begin(), state.end());
      SmallVector<SmallVector<Value>> xs(numRows);
      for (int64_t r = 0; r < numRows; ++r)
        for (unsigned f = 0; f < layout.fields; ++f)
          xs[r].push_back(packedVector(row[r], u, f));
      Value groupBase = mul(u, index(layout.groupsPerUnit));
      for (auto [c, n] : llvm::enumerate(channel)) {
        SmallVector<Value> codes = decodeUnit(n, u, partial);
        auto [scales, offsets] = unitScalesAndOffsets(n, u, partial);
        Value scaledOffsets = arith::MulFOp::create(b, loc, scales, offsets);
        for (int64_t r = 0; r < numRows; ++r) {
          int64_t t = int64_t(c) * numRows + r;
          Value acc = splat(vi32, 0);
          for (unsigned f = 0; f < layout.fields; ++f)
            acc = dot(acc, codes[f], xs[r][f]);
          Value actScales = vector::LoadOp::create(
              b, loc, groupsType, buf.actScales, ValueRange{row[r], groupBase});
          Value actSums = vector::LoadOp::create(
              b, loc, groupsType, buf.actSums, ValueRange{row[r], groupBase});
          Value laneScales =
              expandToLanes(arith::MulFOp::create(b, loc, scales, actScales));
          next[t] = vector::FMAOp::create(
              b, loc, arith::SIToFPOp::create(b, loc, vf32, acc), laneScales,
              next[t]);
          next[tiles + t] = vector::FMAOp::create(b, loc, scaledOffsets,
                                                  actSums, next[tiles + t]);
        }
      }
      return next;
    };
    int64_t fullUnits = layout.numUnits - (layout.lastUnitPartial ? 1 : 0);
    SmallVector<Value> state =
        forLoop(index(0), index(fullUnits), 1, inits,
                [&](Value u, ValueRange s) { return unitStep(u, s, false); });
    if (layout.lastUnitPartial)
      state = unitStep(index(fullUnits), state, true);
    return state;
  }

  /// Groups of whole units: i32 dots accumulate over the group (one
  /// accumulator per field and tile), then are scaled once.
  SmallVector<Value> streamUnitsInGroups(ArrayRef<Value> channel,
                                         ArrayRef<Value> row) {
    int64_t numRows = row.size(), tiles = channel.size() * numRows;
    int64_t fields = layout.fields;
    SmallVector<Value> inits(tiles, splat(vf32, 0));
    inits.append(tiles, f32Const(0));
    auto unitStep = [&](Value u, SmallVectorImpl<Value> &acc, bool partial) {
      SmallVector<SmallVector<Value>> xs(numRows);
      for (int64_t r = 0; r < numRows; ++r)
        for (unsigned f = 0; f < fields; ++f)
          xs[r].push_back(packedVector(row[r], u, f));
      for (auto [c, n] : llvm::enumerate(channel)) {
        SmallVector<Value> codes = decodeUnit(n, u, partial);
        for (int64_t r = 0; r < numRows; ++r)
          for (unsigned f = 0; f < fields; ++f) {
            int64_t slot = (int64_t(c) * numRows + r) * fields + f;
            acc[slot] = dot(acc[slot], codes[f], xs[r][f]);
          }
      }
    };
    auto groupStep = [&](Value g, ValueRange state, int64_t units,
                         bool lastPartial) -> SmallVector<Value> {
      Value uBegin = mul(g, index(layout.unitsPerGroup));
      int64_t whole = units - (lastPartial ? 1 : 0);
      SmallVector<Value> acc =
          forLoop(uBegin, add(uBegin, index(whole)), 1,
                  SmallVector<Value>(tiles * fields, splat(vi32, 0)),
                  [&](Value u, ValueRange current) {
                    SmallVector<Value> next(current.begin(), current.end());
                    unitStep(u, next, false);
                    return next;
                  });
      if (lastPartial)
        unitStep(add(uBegin, index(whole)), acc, true);
      SmallVector<Value> next(state.begin(), state.end());
      for (auto [c, n] : llvm::enumerate(channel)) {
        Value scale =
            loadGroupScale(plan, buf.storage, buf.scales, n, paramRow(n), g);
        Value scaledOffset =
            arith::MulFOp::create(b, loc, scale, groupOffset(n, g));
        for (int64_t r = 0; r < numRows; ++r) {
          int64_t t = int64_t(c) * numRows + r;
          Value sum = addAll(ArrayRef(acc).slice(t * fields, fields));
          auto [actScale, actSum] = activationScaleAndSum(row[r], g);
          Value factor = vector::BroadcastOp::create(
              b, loc, vf32, arith::MulFOp::create(b, loc, scale, actScale));
          next[t] = vector::FMAOp::create(
              b, loc, arith::SIToFPOp::create(b, loc, vf32, sum), factor,
              next[t]);
          next[tiles + t] = arith::AddFOp::create(
              b, loc, next[tiles + t],
              arith::MulFOp::create(b, loc, scaledOffset, actSum));
        }
      }
      return next;
    };
    int64_t lastUnits =
        layout.numUnits - (plan.numGroups - 1) * layout.unitsPerGroup;
    SmallVector<Value> state =
        forLoop(index(0), index(plan.numGroups - 1), 1, inits,
                [&](Value g, ValueRange s) {
                  return groupStep(g, s, layout.unitsPerGroup, false);
                });
    return groupStep(index(plan.numGroups - 1), state, lastUnits,
                     layout.lastUnitPartial);
  }

  //===--------------------------------------------------------------------===//
  // Prefill: a decoded panel reused by all rows
  //===--------------------------------------------------------------------===//

  /// Decodes the task's 32 channels into a [quads, 32] panel of i32 words
  /// (4 codes of one channel each, transposed from decoded vectors), and
  /// their scales and scaled offsets into [groups, 32]; then multiplies
  /// 6-row tiles with it.
  void emitPanelTask(Value n0) {
    int64_t quads = layout.quads();
    auto panelType = MemRefType::get({quads, kChannelsPerTask}, b.getI32Type());
    Value panel = scratch(panelType);
    auto paramType = MemRefType::get({plan.numGroups, kChannelsPerTask}, f32);
    Value panelScales = scratch(paramType);
    Value panelOffsets = scratch(paramType);
    auto channelAt = [&](int64_t c) {
      // Channels past N repeat the last one; their outputs are not stored.
      return minIndex(add(n0, index(c)), index(plan.n - 1));
    };
    forLoop(index(0), index(plan.numGroups), 1, {}, [&](Value g, ValueRange) {
      for (int64_t c = 0; c < kChannelsPerTask; ++c) {
        Value n = channelAt(c);
        Value scale =
            loadGroupScale(plan, buf.storage, buf.scales, n, paramRow(n), g);
        memref::StoreOp::create(b, loc, scale, panelScales,
                                ValueRange{g, index(c)});
        memref::StoreOp::create(
            b, loc, arith::MulFOp::create(b, loc, scale, groupOffset(n, g)),
            panelOffsets, ValueRange{g, index(c)});
      }
      return SmallVector<Value>();
    });
    auto square = VectorType::get({kLanes, kLanes}, b.getI32Type());
    auto decodePanelUnit = [&](Value u, bool partial) {
      for (int64_t half = 0; half < kChannelsPerTask / kLanes; ++half) {
        SmallVector<Value> blocks(layout.fields, splat(square, 0));
        for (int64_t c = 0; c < kLanes; ++c) {
          SmallVector<Value> codes =
              decodeUnit(channelAt(half * kLanes + c), u, partial);
          for (unsigned f = 0; f < layout.fields; ++f)
            blocks[f] = vector::InsertOp::create(
                b, loc, vector::BitCastOp::create(b, loc, vi32, codes[f]),
                blocks[f], ArrayRef<int64_t>{c});
        }
        for (unsigned f = 0; f < layout.fields; ++f) {
          Value byQuad = vector::TransposeOp::create(b, loc, blocks[f],
                                                     ArrayRef<int64_t>{1, 0});
          Value quad0 =
              add(mul(u, index(layout.fields * kLanes)), index(f * kLanes));
          for (int64_t i = 0; i < kLanes; ++i)
            vector::StoreOp::create(
                b, loc,
                vector::ExtractOp::create(b, loc, byQuad, ArrayRef<int64_t>{i}),
                panel, ValueRange{add(quad0, index(i)), index(half * kLanes)});
        }
      }
    };
    int64_t fullUnits = layout.numUnits - (layout.lastUnitPartial ? 1 : 0);
    forLoop(index(0), index(fullUnits), 1, {}, [&](Value u, ValueRange) {
      decodePanelUnit(u, false);
      return SmallVector<Value>();
    });
    if (layout.lastUnitPartial)
      decodePanelUnit(index(fullUnits), true);
    multiplyPanel(panel, panelScales, panelOffsets, n0);
  }

  /// The rows times the decoded panel, in register tiles.
  void multiplyPanel(Value panel, Value panelScales, Value panelOffsets,
                     Value n0) {
    // One group per row needs no f32 accumulators inside the loop, which
    // leaves registers for 12 rows x 32 channels of i32 ones.
    // Tiles of 12 rows (6 with several groups), then of 4 and single rows:
    // a lone row's two accumulators would wait on the dot latency.
    SmallVector<int64_t> tileRows{kPanelRows, 4, 1};
    if (plan.numGroups == 1)
      tileRows.insert(tileRows.begin(), 2 * kPanelRows);
    Value mBegin = index(0);
    for (int64_t tile : tileRows) {
      Value mEnd =
          tile == 1 ? rows : add(mBegin, roundDown(sub(rows, mBegin), tile));
      forLoop(mBegin, mEnd, tile, {}, [&](Value m0, ValueRange) {
        emitPanelTile(panel, panelScales, panelOffsets, n0, m0, tile);
        return SmallVector<Value>();
      });
      mBegin = mEnd;
    }
  }

  /// out[m0 .. m0+numRows, n0 .. n0+32] (+)= the products: per group, i32
  /// accumulators of 4-code dots (a panel word times a broadcast word of
  /// activations), then scaled into f32 accumulators.
  void emitPanelTile(Value panel, Value panelScales, Value panelOffsets,
                     Value n0, Value m0, int64_t numRows) {
    int64_t halves = kChannelsPerTask / kLanes;
    int64_t tiles = numRows * halves;
    SmallVector<Value> row;
    for (int64_t r = 0; r < numRows; ++r)
      row.push_back(add(m0, index(r)));
    // Dots of panel words [qBegin, qEnd) added to `acc`.
    auto dotRange = [&](Value qBegin, Value qEnd, ValueRange acc) {
      return forLoop(qBegin, qEnd, 1, acc, [&](Value q, ValueRange current) {
        SmallVector<Value> next(current.begin(), current.end());
        SmallVector<Value> weights;
        for (int64_t h = 0; h < halves; ++h)
          weights.push_back(asBytes(vector::LoadOp::create(
              b, loc, vi32, panel, ValueRange{q, index(h * kLanes)})));
        for (int64_t r = 0; r < numRows; ++r) {
          Value word =
              memref::LoadOp::create(b, loc, buf.packed, ValueRange{row[r], q});
          Value activations =
              asBytes(vector::BroadcastOp::create(b, loc, vi32, word));
          for (int64_t h = 0; h < halves; ++h)
            next[r * halves + h] =
                dot(next[r * halves + h], weights[h], activations);
        }
        return next;
      });
    };
    SmallVector<Value> inits = initialAccumulators(row, n0, halves);
    int64_t unitQuads = layout.fields * kLanes;
    SmallVector<Value> acc = forLoop(
        index(0), index(plan.numGroups), 1, inits,
        [&](Value g, ValueRange state) {
          SmallVector<Value> dots(tiles, splat(vi32, 0));
          if (layout.groupsPerUnit > 1) {
            Value u =
                arith::DivUIOp::create(b, loc, g, index(layout.groupsPerUnit));
            Value sub =
                arith::RemUIOp::create(b, loc, g, index(layout.groupsPerUnit));
            for (unsigned f = 0; f < layout.fields; ++f) {
              Value begin =
                  add(add(mul(u, index(unitQuads)), index(f * kLanes)),
                      mul(sub, index(layout.lanesPerGroup)));
              dots = dotRange(begin, add(begin, index(layout.lanesPerGroup)),
                              dots);
            }
          } else {
            int64_t groupQuads = layout.groupQuads();
            Value begin = mul(g, index(groupQuads));
            Value end =
                minIndex(add(begin, index(groupQuads)), index(layout.quads()));
            dots = dotRange(begin, end, dots);
          }
          SmallVector<Value> next(state.begin(), state.end());
          for (int64_t h = 0; h < halves; ++h) {
            Value scales = vector::LoadOp::create(
                b, loc, vf32, panelScales, ValueRange{g, index(h * kLanes)});
            Value offsets = vector::LoadOp::create(
                b, loc, vf32, panelOffsets, ValueRange{g, index(h * kLanes)});
            for (int64_t r = 0; r < numRows; ++r) {
              int64_t t = r * halves + h;
              if (plan.w8a8) {
                next[t] = w8a8Term(dots[t], row[r], g, scales, next[t]);
                continue;
              }
              auto [actScale, actSum] = activationScaleAndSum(row[r], g);
              Value factor = arith::MulFOp::create(
                  b, loc, scales,
                  vector::BroadcastOp::create(b, loc, vf32, actScale));
              Value scaled = vector::FMAOp::create(
                  b, loc, arith::SIToFPOp::create(b, loc, vf32, dots[t]),
                  factor, next[t]);
              next[t] = vector::FMAOp::create(
                  b, loc, offsets,
                  vector::BroadcastOp::create(
                      b, loc, vf32, arith::NegFOp::create(b, loc, actSum)),
                  scaled);
            }
          }
          return next;
        });
    storeRowTile(buf.out, row, n0, acc, plan.accumulate && !plan.w8a8);
  }

  //===--------------------------------------------------------------------===//
  // Prepacked weights
  //===--------------------------------------------------------------------===//

  /// Tile `h` of the task's two 16-channel tiles (the last task of an odd
  /// number of tiles repeats its first; those channels are not stored).
  Value prepackedTile(Value task, int64_t h) {
    int64_t tiles = llvm::divideCeil(plan.n, kLanes);
    return minIndex(add(mul(task, index(2)), index(h)), index(tiles - 1));
  }

  /// Group g's parameters for the 16 channels of a tile, as f32: w = s (c -
  /// z') (offsets z', no bias) or w = s c + bias (mins).
  struct GroupParams {
    Value scales, offsets, bias;
  };
  GroupParams prepackedParams(Value tile, Value g) {
    auto load = [&](Value source, ValueRange at) {
      Type element = cast<MemRefType>(source.getType()).getElementType();
      return toF32(vector::LoadOp::create(
          b, loc, VectorType::get({kLanes}, element), source, at));
    };
    SmallVector<Value, 3> at{tile, g, index(0)};
    GroupParams params;
    params.scales = load(buf.scales, at);
    if (plan.subBlockScales) {
      // q2_K, q4_K, q5_K: s = d sc, bias = -(dmin m); q6_K: s = d sc,
      // z' = 32; q3_K: s = d (sc - 32), z' = 4; in f32 as ggml computes
      // them (the small integer sc and m convert exactly).
      Value superBlock =
          arith::DivUIOp::create(b, loc, g, index(256 / plan.group));
      auto superScale = [&](int64_t which) {
        SmallVector<Value, 4> where{tile, superBlock, index(which), index(0)};
        return load(buf.superScales, where);
      };
      params.scales =
          arith::MulFOp::create(b, loc, superScale(0), params.scales);
      if (!plan.hasMins()) {
        params.offsets = splat(vf32, double(layout.offset));
        return params;
      }
      params.bias = arith::NegFOp::create(
          b, loc,
          arith::MulFOp::create(b, loc, superScale(1), load(buf.mins, at)));
      return params;
    }
    if (buf.mins) {
      params.bias = load(buf.mins, at);
      return params;
    }
    params.offsets = splat(vf32, double(layout.offset));
    if (buf.zeros)
      params.offsets =
          arith::AddFOp::create(b, loc, load(buf.zeros, at), params.offsets);
    return params;
  }

  /// The unsigned codes, one per byte, of words w0 .. w0 + count - 1 of each
  /// tile, as [word][tile][field]. With a bit plane (q5_x, q6_K), whose
  /// word holds the high bits of planeStep() nibble words, w0 is a multiple
  /// of planeStep() and count equals it.
  SmallVector<SmallVector<SmallVector<Value>>>
  decodePrepackedWords(ArrayRef<Value> tiles, Value w0, int64_t count,
                       bool prefetch) {
    SmallVector<Value> planes;
    if (layout.planeBits) {
      assert(count == layout.planeStep() && "one plane word per step");
      Value planeWord =
          arith::DivUIOp::create(b, loc, w0, index(layout.planeStep()));
      for (Value tile : tiles) {
        if (prefetch)
          memref::PrefetchOp::create(
              b, loc, buf.plane,
              ValueRange{tile, add(planeWord, index(kPrefetchWords)), index(0)},
              /*isWrite=*/false, /*localityHint=*/3, /*isDataCache=*/true);
        planes.push_back(asBytes(vector::LoadOp::create(
            b, loc, vi32, buf.plane, ValueRange{tile, planeWord, index(0)})));
      }
    }
    SmallVector<SmallVector<SmallVector<Value>>> words;
    for (int64_t i = 0; i < count; ++i) {
      Value w = add(w0, index(i));
      SmallVector<SmallVector<Value>> perTile;
      for (auto [h, tile] : llvm::enumerate(tiles)) {
        // One core keeps few cache misses in flight: the weight streams are
        // prefetched kPrefetchWords ahead.
        if (prefetch)
          memref::PrefetchOp::create(
              b, loc, buf.storage,
              ValueRange{tile, add(w, index(kPrefetchWords)), index(0)},
              /*isWrite=*/false, /*localityHint=*/3, /*isDataCache=*/true);
        SmallVector<Value> codes = splitFields(asBytes(vector::LoadOp::create(
            b, loc, vi32, buf.storage, ValueRange{tile, w, index(0)})));
        for (unsigned f = 0; f < layout.fields && layout.planeBits; ++f)
          codes[f] = arith::OrIOp::create(
              b, loc, codes[f],
              highBits(planes[h], int64_t(i) * layout.fields + f));
        perTile.push_back(std::move(codes));
      }
      words.push_back(std::move(perTile));
    }
    return words;
  }

  /// Field `field` of a plane vector moved above the nibble (bits 4 and
  /// up): ((v >> planeBits * field) & mask) << 4.
  Value highBits(Value plane, int64_t field) {
    int64_t shift = layout.planeBits * field;
    uint8_t mask = uint8_t(((1u << layout.planeBits) - 1) << 4);
    Value moved = plane;
    if (shift < 4)
      moved =
          arith::ShLIOp::create(b, loc, plane, splatBytes(uint8_t(4 - shift)));
    else if (shift > 4)
      moved =
          arith::ShRUIOp::create(b, loc, plane, splatBytes(uint8_t(shift - 4)));
    return arith::AndIOp::create(b, loc, moved, splatBytes(mask));
  }

  /// Decode: per group, i32 dots of each tile's words with the broadcast
  /// activation words (lane c: channel c), then one f32 epilogue per 16
  /// channels. Tiles of 4 rows, then single rows.
  void emitPrepackedStreamTask(Value task) {
    Value n0 = mul(task, index(kChannelsPerTask));
    SmallVector<Value> tiles{prepackedTile(task, 0), prepackedTile(task, 1)};
    Value rowsFull = roundDown(rows, 4);
    forLoop(index(0), rowsFull, 4, {}, [&](Value m0, ValueRange) {
      emitPrepackedStreamTile(tiles, n0, m0, 4);
      return SmallVector<Value>();
    });
    forLoop(rowsFull, rows, 1, {}, [&](Value m0, ValueRange) {
      emitPrepackedStreamTile(tiles, n0, m0, 1);
      return SmallVector<Value>();
    });
  }

  void emitPrepackedStreamTile(ArrayRef<Value> tiles, Value n0, Value m0,
                               int64_t numRows) {
    int64_t halves = tiles.size(), fields = layout.fields;
    // A lone row keeps one i32 chain per field and tile, so that the dot
    // latency overlaps.
    int64_t chains = numRows == 1 ? fields : 1;
    SmallVector<Value> row;
    for (int64_t r = 0; r < numRows; ++r)
      row.push_back(add(m0, index(r)));
    // Words per step of the word loop (the JIT does not unroll).
    int64_t step = layout.planeBits                ? layout.planeStep()
                   : layout.wordsPerGroup % 4 == 0 ? 4
                   : layout.wordsPerGroup % 2 == 0 ? 2
                                                   : 1;
    auto wordSteps = [&](Value wBegin, Value wEnd, ValueRange acc) {
      return forLoop(wBegin, wEnd, step, acc, [&](Value w0, ValueRange cur) {
        SmallVector<Value> next(cur.begin(), cur.end());
        auto decoded = decodePrepackedWords(tiles, w0, step, true);
        for (int64_t i = 0; i < step; ++i) {
          Value w = add(w0, index(i));
          auto &codes = decoded[i];
          for (int64_t f = 0; f < fields; ++f) {
            Value quad = add(mul(w, index(fields)), index(f));
            for (int64_t r = 0; r < numRows; ++r) {
              Value word = memref::LoadOp::create(b, loc, buf.packed,
                                                  ValueRange{row[r], quad});
              Value activations =
                  asBytes(vector::BroadcastOp::create(b, loc, vi32, word));
              for (int64_t h = 0; h < halves; ++h) {
                int64_t slot = (r * halves + h) * chains + f % chains;
                next[slot] = dot(next[slot], codes[h][f], activations);
              }
            }
          }
        }
        return next;
      });
    };
    int64_t tilesAcc = numRows * halves;
    SmallVector<Value> inits = initialAccumulators(row, n0, halves);
    SmallVector<Value> y = forLoop(
        index(0), index(plan.numGroups), 1, inits,
        [&](Value g, ValueRange state) {
          Value wBegin = mul(g, index(layout.wordsPerGroup));
          Value wEnd = minIndex(add(wBegin, index(layout.wordsPerGroup)),
                                index(layout.words));
          SmallVector<Value> dots =
              wordSteps(wBegin, wEnd,
                        SmallVector<Value>(tilesAcc * chains, splat(vi32, 0)));
          SmallVector<Value> next(state.begin(), state.end());
          for (int64_t h = 0; h < halves; ++h) {
            GroupParams params = prepackedParams(tiles[h], g);
            for (int64_t r = 0; r < numRows; ++r) {
              int64_t t = r * halves + h;
              Value dotSum = addAll(ArrayRef(dots).slice(t * chains, chains));
              if (plan.w8a8) {
                next[t] = w8a8Term(dotSum, row[r], g, params.scales, next[t]);
                continue;
              }
              Value sum = arith::SIToFPOp::create(b, loc, vf32, dotSum);
              auto [actScale, actSum] = activationScaleAndSum(row[r], g);
              Value scaleVector =
                  vector::BroadcastOp::create(b, loc, vf32, actScale);
              Value sumVector =
                  vector::BroadcastOp::create(b, loc, vf32, actSum);
              if (params.bias) {
                // s * d * dot + bias * d sum(q)
                Value term = arith::MulFOp::create(b, loc, sum, scaleVector);
                next[t] = vector::FMAOp::create(
                    b, loc, params.bias, sumVector,
                    vector::FMAOp::create(b, loc, term, params.scales,
                                          next[t]));
                continue;
              }
              // s * (d * dot - z' * d sum(q))
              Value correction = arith::MulFOp::create(
                  b, loc, params.offsets,
                  arith::NegFOp::create(b, loc, sumVector));
              Value term =
                  vector::FMAOp::create(b, loc, sum, scaleVector, correction);
              next[t] =
                  vector::FMAOp::create(b, loc, term, params.scales, next[t]);
            }
          }
          return next;
        });
    storeRowTile(buf.out, row, n0, y, plan.accumulate && !plan.w8a8);
  }

  /// The f32 accumulators of a tile of `row` x `halves` 16-channel vectors:
  /// zero, or for W8A8, which adds each group's term to the init in order
  /// as the reference does, the init itself.
  SmallVector<Value> initialAccumulators(ArrayRef<Value> row, Value n0,
                                         int64_t halves) {
    SmallVector<Value> inits(row.size() * halves, splat(vf32, 0));
    if (plan.w8a8 && plan.accumulate)
      for (auto [r, m] : llvm::enumerate(row))
        for (int64_t h = 0; h < halves; ++h)
          inits[r * halves + h] = vector::TransferReadOp::create(
              b, loc, vf32, buf.out, ValueRange{m, add(n0, index(h * kLanes))},
              f32Const(0.0), ArrayRef<bool>{false});
    return inits;
  }

  /// W8A8 (streaming tiles and panel alike): y + (f32(acc) * sx) * sw, the
  /// reference's epilogue, where acc =
  /// the dot of the flipped weights minus 128 times the row's code sum
  /// (exact in i32), and no operation is fused.
  Value w8a8Term(Value dotSum, Value m, Value g, Value weightScales, Value y) {
    Value codeSum =
        memref::LoadOp::create(b, loc, buf.actSums, ValueRange{m, g});
    Value correction = arith::MulIOp::create(
        b, loc, codeSum,
        arith::ConstantOp::create(b, loc, b.getI32IntegerAttr(layout.offset)));
    Value acc = arith::SubIOp::create(
        b, loc, dotSum, vector::BroadcastOp::create(b, loc, vi32, correction));
    Value inputScale = memref::LoadOp::create(
        b, loc, buf.inputScales,
        ValueRange{plan.inputScalePerRow ? m : index(0), index(0)});
    Value scaled = arith::MulFOp::create(
        b, loc, arith::SIToFPOp::create(b, loc, vf32, acc),
        vector::BroadcastOp::create(b, loc, vf32, inputScale));
    return arith::AddFOp::create(
        b, loc, y, arith::MulFOp::create(b, loc, scaled, weightScales));
  }

  /// Prefill: the task's prepacked words split into the [quads, 32] panel,
  /// its scales and scaled offsets into [groups, 32]; then the panel tiles.
  void emitPrepackedPanelTask(Value task) {
    Value n0 = mul(task, index(kChannelsPerTask));
    int64_t halves = kChannelsPerTask / kLanes;
    auto panelType =
        MemRefType::get({layout.quads(), kChannelsPerTask}, b.getI32Type());
    Value panel = scratch(panelType);
    auto paramType = MemRefType::get({plan.numGroups, kChannelsPerTask}, f32);
    Value panelScales = scratch(paramType);
    Value panelOffsets = scratch(paramType);
    SmallVector<Value> tiles;
    for (int64_t h = 0; h < halves; ++h)
      tiles.push_back(prepackedTile(task, h));
    forLoop(index(0), index(plan.numGroups), 1, {}, [&](Value g, ValueRange) {
      for (int64_t h = 0; h < halves; ++h) {
        GroupParams params = prepackedParams(tiles[h], g);
        SmallVector<Value, 2> at{g, index(h * kLanes)};
        vector::StoreOp::create(b, loc, params.scales, panelScales, at);
        // The panel tile subtracts offset * d sum(q).
        Value offsets = params.bias
                            ? Value(arith::NegFOp::create(b, loc, params.bias))
                            : Value(arith::MulFOp::create(b, loc, params.scales,
                                                          params.offsets));
        vector::StoreOp::create(b, loc, offsets, panelOffsets, at);
      }
      return SmallVector<Value>();
    });
    int64_t step = layout.planeStep();
    forLoop(index(0), index(layout.words), step, {}, [&](Value w0, ValueRange) {
      auto decoded = decodePrepackedWords(tiles, w0, step, false);
      for (int64_t i = 0; i < step; ++i) {
        Value w = add(w0, index(i));
        for (int64_t h = 0; h < halves; ++h)
          for (unsigned f = 0; f < layout.fields; ++f)
            vector::StoreOp::create(
                b, loc,
                vector::BitCastOp::create(b, loc, vi32, decoded[i][h][f]),
                panel,
                ValueRange{add(mul(w, index(layout.fields)), index(f)),
                           index(h * kLanes)});
      }
      return SmallVector<Value>();
    });
    multiplyPanel(panel, panelScales, panelOffsets, n0);
  }
};

} // namespace

std::string cpu::whyNoInt8Kernel(const DequantKernelPlan &plan) {
  std::string whyNot;
  (void)int8Layout(plan, whyNot);
  return whyNot;
}

func::FuncOp cpu::buildInt8Kernel(ModuleOp module,
                                  const DequantKernelPlan &plan,
                                  unsigned threads, StringRef name,
                                  TypeRange argTypes, Location loc) {
  std::string whyNot;
  FailureOr<Int8Layout> layout = int8Layout(plan, whyNot);
  assert(succeeded(layout) && "buildInt8Kernel without an int8 layout");
  func::FuncOp func = createKernelFunction(module, loc, name, argTypes, 0);
  Block *entry = &func.getBody().front();
  OpBuilder b = OpBuilder::atBlockBegin(entry);
  Int8KernelBuilder(b, loc, module, plan, *layout)
      .build(entry->getArguments(), threads, (name + "_task").str());
  func::ReturnOp::create(b, loc);
  return func;
}

bool cpu::prepackInt8Weights(OpBuilder &b, Location loc,
                             DequantKernelPlan &plan,
                             SmallVectorImpl<Value> &weights) {
  DequantKernelPlan prepackedPlan = plan;
  prepackedPlan.int8Prepacked = true;
  // K-quants: sub-block scales and mins from 6-bit fields (q4_K, q5_K)
  // or a byte's nibbles (q2_K), or scales alone, int8 (q6_K) or 6-bit
  // (q3_K).
  bool q2K = plan.isQ2K();
  bool q4K = plan.subBlockScales && plan.hasMins() && !q2K;
  bool q6K = plan.sixBitCodes, q3K = plan.threeBitCodes;
  if (plan.subBlockScales) {
    // The int8 groups are the sub-blocks: 32 codes (q4_K, q5_K), 16 (q2_K,
    // q3_K, q6_K).
    prepackedPlan.group = plan.quarterCodes ? 16 : 32;
    prepackedPlan.numGroups = plan.k / prepackedPlan.group;
  }
  std::string whyNot;
  FailureOr<Int8Layout> layout = int8Layout(prepackedPlan, whyNot);
  if (failed(layout))
    return false;
  bool ggml = plan.isGGML();
  Value storageValue = weights[0];
  Value scalesValue = ggml ? Value() : weights[1];
  Value zerosValue = plan.zeroType ? weights.back() : Value();
  auto isWholeBytes = [](Type t) {
    return t.isIntOrFloat() && t.getIntOrFloatBitWidth() % 8 == 0;
  };
  if (!isa<FloatType>(plan.scaleType) || !isWholeBytes(plan.scaleType) ||
      (plan.zeroType && !isWholeBytes(plan.zeroType)))
    return false;
  std::optional<std::vector<uint8_t>> storage = readConstantBytes(storageValue);
  std::optional<std::vector<uint8_t>> scales, zeros;
  if (scalesValue)
    scales = readConstantBytes(scalesValue);
  if (zerosValue)
    zeros = readConstantBytes(zerosValue);
  if (!storage || (scalesValue && !scales) || (zerosValue && !zeros))
    return false;

  int64_t n = plan.n, k = plan.k, groups = prepackedPlan.numGroups;
  int64_t columns = plan.storageColumns();
  int64_t paramRows = plan.scalesPerChannel ? n : 1;
  int64_t scaleBytes = plan.scaleType.getIntOrFloatBitWidth() / 8;
  int64_t zeroBytes =
      plan.zeroType ? plan.zeroType.getIntOrFloatBitWidth() / 8 : 0;
  if (int64_t(storage->size()) != n * columns ||
      (scales && int64_t(scales->size()) != paramRows * groups * scaleBytes) ||
      (zeros && int64_t(zeros->size()) != paramRows * groups * zeroBytes))
    return false;

  // Code k of channel c as an unsigned byte (signed codes flipped).
  unsigned bits = plan.bits, fields = layout->fields;
  unsigned fieldBits = layout->fieldBits, planeBits = layout->planeBits;
  uint8_t mask = uint8_t((1u << bits) - 1);
  auto blockOf = [&](int64_t c, int64_t kk) {
    return storage->data() + c * columns +
           kk / plan.ggmlBlockCodes * plan.ggmlBlockBytes;
  };
  // Code i of a 32-code block's 16 nibble bytes (q4_0's order).
  auto blockNibble = [](const uint8_t *codes, int64_t i) {
    return uint8_t(i < 16 ? codes[i] & 15 : codes[i - 16] >> 4);
  };
  auto codeAt = [&](int64_t c, int64_t kk) -> uint8_t {
    uint8_t code;
    if (q4K) {
      // 32-byte runs of 64 codes: low nibbles, then high nibbles.
      int64_t i = kk % 256;
      const uint8_t *block = blockOf(c, kk);
      uint8_t byte = block[plan.ggmlHeaderBytes + 32 * (i / 64) + i % 32];
      code = uint8_t(i % 64 < 32 ? byte & 15 : byte >> 4);
      // q5_K: bit 4 at bit 2 (i / 64) + (i % 64) / 32 of qh[i % 32].
      if (plan.kQuantHighBits)
        code |= uint8_t(
            ((block[16 + i % 32] >> (2 * (i / 64) + i % 64 / 32)) & 1) << 4);
    } else if (q2K || q3K) {
      // Halves of 128 codes, each 4 quarters of 32: two bits of qs shifted
      // by 2 per quarter; q3_K's bit 2 from bit 4 half + quarter of hmask.
      const uint8_t *block = blockOf(c, kk);
      int64_t i = kk % 256, half = i / 128, quarter = i % 128 / 32, l = i % 32;
      code = (block[(q3K ? 32 : 16) + 32 * half + l] >> (2 * quarter)) & 3;
      if (q3K)
        code |= uint8_t(((block[l] >> (4 * half + quarter)) & 1) << 2);
    } else if (q6K) {
      // Halves of 128 codes, each 4 quarters of 32: the nibbles of ql (low
      // ones for quarters 0-1), two bits of qh shifted by 2 per quarter.
      const uint8_t *block = blockOf(c, kk);
      int64_t i = kk % 256, half = i / 128, quarter = i % 128 / 32, l = i % 32;
      uint8_t low = block[64 * half + l + 32 * (quarter % 2)];
      low = uint8_t(quarter < 2 ? low & 15 : low >> 4);
      uint8_t high = (block[128 + 32 * half + l] >> (2 * quarter)) & 3;
      code = uint8_t(low | (high << 4));
    } else if (plan.fifthBits) {
      // The nibbles as in q4_0, bit 4 from the block's little-endian qh
      // word (the 4 bytes before the codes).
      const uint8_t *codes = blockOf(c, kk) + plan.ggmlHeaderBytes;
      const uint8_t *qh = codes - 4;
      int64_t i = kk % 32;
      code =
          uint8_t(blockNibble(codes, i) | (((qh[i / 8] >> (i % 8)) & 1) << 4));
    } else if (ggml) {
      int64_t i = kk % 32;
      const uint8_t *codes = blockOf(c, kk) + plan.ggmlHeaderBytes;
      code = fields == 2 ? blockNibble(codes, i) : codes[i];
    } else {
      int64_t j = kk % fields;
      int64_t shift = bits * (plan.msbFirst ? fields - 1 - j : j);
      code =
          uint8_t((storage->data()[c * columns + kk / fields] >> shift) & mask);
    }
    return plan.signedCodes ? uint8_t(code ^ (1u << (bits - 1))) : code;
  };

  // Codes: [tiles, words, 16] words; byte j of channel c's word w holds, in
  // field f, code 4 * (fields * w + f) + j. With a plane, the nibbles here
  // and the bits above them in the plane, whose word w holds in field f
  // those of code 4 * (8 / planeBits * w + f) + j.
  int64_t tiles = llvm::divideCeil(n, kLanes), words = layout->words;
  uint8_t fieldMask = uint8_t((1u << fieldBits) - 1);
  std::vector<char> packed(tiles * words * kLanes * 4, 0);
  int64_t planeWords = words * planeBits / 4;
  std::vector<char> plane(tiles * planeWords * kLanes * 4, 0);
  auto put = [&](std::vector<char> &out, int64_t count, unsigned width,
                 int64_t c, int64_t w, unsigned f, int64_t j, uint8_t value) {
    int64_t at = ((c / kLanes * count + w) * kLanes + c % kLanes) * 4 + j;
    out[at] = char(uint8_t(out[at]) | (value << (width * f)));
  };
  for (int64_t c = 0; c < n; ++c)
    for (int64_t kk = 0; kk < k; ++kk) {
      uint8_t code = codeAt(c, kk);
      int64_t quad = kk / 4, j = kk % 4;
      put(packed, words, fieldBits, c, quad / fields, unsigned(quad % fields),
          j, uint8_t(code & fieldMask));
      if (planeBits) {
        int64_t planeFields = 8 / planeBits;
        put(plane, planeWords, planeBits, c, quad / planeFields,
            unsigned(quad % planeFields), j, uint8_t(code >> fieldBits));
      }
    }
  // Per-group parameters: [tiles, count, 16] elements of `elementBytes`
  // (`count` groups or super-blocks), copied from source(c, i); zero past N.
  auto spread = [&](int64_t count, int64_t elementBytes, auto &&source) {
    std::vector<char> out(tiles * count * kLanes * elementBytes, 0);
    for (int64_t c = 0; c < n; ++c)
      for (int64_t i = 0; i < count; ++i)
        std::memcpy(out.data() +
                        ((c / kLanes * count + i) * kLanes + c % kLanes) *
                            elementBytes,
                    source(c, i), elementBytes);
    return out;
  };
  auto paramAt = [&](const std::vector<uint8_t> &bytes, int64_t elementBytes) {
    return [&, elementBytes](int64_t c, int64_t g) {
      int64_t row = plan.scalesPerChannel ? c : 0;
      return bytes.data() + (row * groups + g) * elementBytes;
    };
  };
  // ggml: a 32-code block's f16 at byte `at`.
  auto blockHalf = [&](int64_t at) {
    return [&, at](int64_t c, int64_t g) { return blockOf(c, g * 32) + at; };
  };
  // Sub-block g's scale (which = 0) and min (which = 1): q4_K's and
  // q5_K's 6-bit ones, q2_K's nibbles, q3_K's signed scale (sc - 32).
  std::vector<uint8_t> subBlockParams;
  if (q4K || q2K || q3K) {
    subBlockParams.resize(n * groups * 2);
    for (int64_t c = 0; c < n; ++c)
      for (int64_t g = 0; g < groups; ++g) {
        uint8_t *scale = &subBlockParams[(c * groups + g) * 2];
        if (q4K) {
          quantopt::numerics::unpackScaleMinK4(
              int(g % 8), blockOf(c, g * 32) + 4, scale, scale + 1);
        } else if (q2K) {
          uint8_t byte = blockOf(c, g * 16)[g % 16];
          scale[0] = byte & 15;
          scale[1] = byte >> 4;
        } else {
          scale[0] = uint8_t(quantopt::numerics::unpackScaleQ3K(
              int(g % 16), blockOf(c, g * 16) + 96));
        }
      }
  }
  auto subBlockParam = [&](int64_t which) {
    return [&, which](int64_t c, int64_t g) {
      return &subBlockParams[(c * groups + g) * 2 + which];
    };
  };

  std::string name = derivedConstantName(storageValue);
  auto constant = [&](ArrayRef<int64_t> shape, Type element,
                      ArrayRef<char> bytes, StringRef suffix) {
    return createRawConstant(b, loc, RankedTensorType::get(shape, element),
                             bytes, /*asResource=*/true, name + suffix.str());
  };
  Type f16 = b.getF16Type(), i8 = b.getI8Type();
  SmallVector<int64_t, 3> paramShape{tiles, groups, kLanes};
  SmallVector<Value> result{
      constant({tiles, words, kLanes}, b.getI32Type(), packed, ".int8_codes")};
  if (planeBits)
    result.push_back(constant({tiles, planeWords, kLanes}, b.getI32Type(),
                              plane, ".int8_high_bits"));
  if (q6K || q3K) {
    // Sub-block g's int8 scale (q6_K: byte 192 + g mod 16 of block g / 16;
    // q3_K: unpacked), then d (at byte 208, 108): [tiles, super-blocks, 1,
    // 16].
    result.push_back(
        constant(paramShape, i8,
                 spread(groups, 1,
                        [&](int64_t c, int64_t g) -> const uint8_t * {
                          if (q3K)
                            return subBlockParam(0)(c, g);
                          return blockOf(c, g * 16) + 192 + g % 16;
                        }),
                 ".int8_scales"));
    int64_t superBlocks = k / 256, dAt = q3K ? 108 : 208;
    result.push_back(constant(
        {tiles, superBlocks, 1, kLanes}, f16,
        spread(superBlocks, 2,
               [&](int64_t c, int64_t i) { return blockOf(c, i * 256) + dAt; }),
        ".int8_super_scales"));
  } else if (q4K || q2K) {
    result.push_back(constant(
        paramShape, i8, spread(groups, 1, subBlockParam(0)), ".int8_scales"));
    result.push_back(constant(
        paramShape, i8, spread(groups, 1, subBlockParam(1)), ".int8_mins"));
    // (d, dmin) of each super-block: [tiles, super-blocks, 2, 16].
    int64_t superBlocks = k / 256;
    // (d, dmin) start q4_K and q5_K blocks and sit at byte 80 of q2_K's.
    int64_t pairAt = q2K ? 80 : 0;
    std::vector<char> pairs =
        spread(2 * superBlocks, 2, [&](int64_t c, int64_t i) {
          int64_t block = i / 2, which = i % 2;
          return blockOf(c, block * 256) + pairAt + 2 * which;
        });
    // spread laid out [tiles, 2 * superBlocks, 16]: the same bytes as
    // [tiles, superBlocks, 2, 16].
    result.push_back(constant({tiles, superBlocks, 2, kLanes}, f16, pairs,
                              ".int8_super_scales"));
  } else if (ggml) {
    result.push_back(constant(paramShape, f16, spread(groups, 2, blockHalf(0)),
                              ".int8_scales"));
    if (plan.blockMins)
      result.push_back(constant(paramShape, f16,
                                spread(groups, 2, blockHalf(2)), ".int8_mins"));
  } else {
    result.push_back(
        constant(paramShape, plan.scaleType,
                 spread(groups, scaleBytes, paramAt(*scales, scaleBytes)),
                 ".int8_scales"));
    if (zeros)
      result.push_back(
          constant(paramShape, plan.zeroType,
                   spread(groups, zeroBytes, paramAt(*zeros, zeroBytes)),
                   ".int8_zero_points"));
  }
  weights.assign(result.begin(), result.end());
  plan = prepackedPlan;
  return true;
}
