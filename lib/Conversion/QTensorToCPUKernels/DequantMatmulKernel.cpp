//===- DequantMatmulKernel.cpp - dequant_matmul CPU kernel ----------------===//
//
// Part of the quant-opt project, under the Apache License v2.0 with LLVM
// Exceptions.
//
//===----------------------------------------------------------------------===//
//
// The kernels of qtensor.dequant_matmul (integer codes read as 2, 4 or 8
// bits, other widths and act-order columns repacked at compile time; nf4
// and fp4 codes through a 16-entry table, FP8 converted, dynamic8 through
// a 256-entry one) and qtensor.ggml_matmul (every ggml type: q4_0, q4_1,
// q5_0, q5_1, q8_0, q2_K to q6_K, f16, bf16). Each 16-byte load of
// codes is widened to 16 i32 lanes; bit field j of the 16 bytes is one
// vector<16xf32> of codes. Below 48 rows the codes stream past activations that
// a per-call packing step has put in field order, and scales and zero-points
// are applied once per group; from 48 rows each task decodes an exact f32 panel
// of 32 channels and multiplies it with outer products.
//
//===----------------------------------------------------------------------===//

#include "../KernelOperands.h"
#include "CPUKernels.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/IR/Matchers.h"
#include "mlir/IR/SymbolTable.h"

#include "quant/Dialect/QTensor/Utils/WeightMatching.h"
#include "quant/Numerics/GGUFQuants.h"
#include "quant/Numerics/Numerics.h"

#include "llvm/Support/FormatVariadic.h"

#include <cstring>
#include <numeric>

namespace num = quantopt::numerics;

using namespace mlir;
using namespace mlir::qtensor;
using namespace mlir::qtensor::cpu;

namespace {

/// How far ahead the streaming kernels prefetch each weight row.
constexpr int64_t kStreamPrefetchBytes = 2048;

/// The code width and packing a kernel reads when the stored codes of a
/// product must be rewritten at compile time (repackConstantCodes): codes of
/// 3, 5, 6 or 7 bits or unpacked sub-byte codes, widened to 2, 4 or 8 bits;
/// codes widened further until a group is whole 16-byte loads (2-bit codes
/// in groups of 32, 4-bit ones in groups of 16); act-order columns, sorted
/// into their groups.
struct CodeRepacking {
  unsigned bits;
  PackOrder packing;
};

/// How the codes of `op` (groups of `group` codes along K) are repacked, or
/// nothing when the kernels read them as stored.
std::optional<CodeRepacking> codeRepacking(DequantMatmulOp op, int64_t k,
                                           int64_t group) {
  LayoutAttr layout = op.getLayout();
  unsigned bits = layout.getBitWidth();
  PackOrder packing = layout.getPacking();
  unsigned wide = bits <= 2 ? 2 : bits <= 4 ? 4 : 8;
  while (wide < 8 && group < k && group % (kLanes * (8 / wide)) != 0)
    wide *= 2;
  bool readable = wide == bits && (bits == 8 || packing != PackOrder::none);
  if (readable && !op.getGroupIndex())
    return std::nullopt;
  if (wide == 8)
    return CodeRepacking{8, PackOrder::none};
  return CodeRepacking{wide, packing == PackOrder::msb_first
                                 ? PackOrder::msb_first
                                 : PackOrder::lsb_first};
}

/// The kernel plan of `op`; `repacking` says how its codes are rewritten
/// first, if they are.
FailureOr<DequantKernelPlan> planKernel(DequantMatmulOp op,
                                        std::optional<CodeRepacking> &repacking,
                                        std::string &whyNot) {
  DequantKernelPlan plan;
  SmallVector<int64_t> weightShape = op.getWeightShape();
  LayoutAttr layout = op.getLayout();
  auto fail = [&](const Twine &why) {
    whyNot = why.str();
    return failure();
  };
  if (weightShape.size() != 2)
    return fail("batched [B, N, K] weights");
  if (!op.getInput().getType().getElementType().isF32() ||
      !op.getInit().getType().getElementType().isF32())
    return fail("activations that are not f32");
  ElementFormat format = layout.getFormat();
  if (!layout.isInteger()) {
    // nf4 / fp4: 16 entries; FP8 and dynamic8: 256.
    unsigned entries = 1u << layout.getBitWidth();
    for (unsigned code = 0; code < entries; ++code)
      plan.lookup.push_back(num::decodeNonInteger(format, uint8_t(code)));
    plan.lookupName = std::string(stringifyElementFormat(format));
    if (num::isF8Format(format))
      plan.f8Format = format;
  }
  plan.n = weightShape[0];
  plan.k = weightShape[1];
  if (ShapedType::isDynamic(plan.n) || ShapedType::isDynamic(plan.k))
    return fail("dynamic weight shape");
  bool flat = layout.hasFlatBlocks(2);
  // Codes the kernels cannot read as stored are repacked at the call.
  if (!flat)
    repacking = codeRepacking(op, plan.k, layout.getBlockSize(1, plan.k));
  plan.bits = repacking ? repacking->bits : layout.getBitWidth();
  if (flat && plan.bits != 2 && plan.bits != 4 && plan.bits != 8)
    return fail(Twine("flat blocks of ") + Twine(plan.bits) + "-bit codes");
  if (flat && plan.bits < 8 && layout.getPacking() == PackOrder::none)
    return fail("flat blocks of unpacked sub-byte codes");
  plan.fields = 8 / plan.bits;
  plan.chunk = kLanes * plan.fields;
  if (flat) {
    // Flat blocks that divide K are per-channel groups of the rows; the
    // storage and scales are reshaped to [N, ...] at the call.
    int64_t block = layout.getBlock()[0];
    if (block == 0 || plan.k % block != 0 || plan.k % plan.fields != 0)
      return fail("flat blocks that straddle rows");
    plan.scalesPerChannel = plan.n > 1;
    plan.group = block;
  } else {
    int64_t storedColumns =
        repacking
            ? num::packedSize(plan.k, layout.getBitWidth(), layout.getPacking())
            : plan.storageColumns();
    if (op.getStorage().getType().getShape() !=
        ArrayRef<int64_t>{plan.n, storedColumns})
      return fail("storage shape");
    int64_t rowBlock = layout.getBlockSize(0, plan.n);
    if (rowBlock != 1 && rowBlock != plan.n)
      return fail(Twine("blocks of ") + Twine(rowBlock) + " channels");
    plan.scalesPerChannel = rowBlock == 1 && plan.n > 1;
    plan.group = layout.getBlockSize(1, plan.k);
  }
  if (plan.group < plan.k && plan.group % plan.chunk != 0)
    return fail(Twine("groups of ") + Twine(plan.group) +
                " codes (a multiple of " + Twine(plan.chunk) + " is needed)");
  plan.numGroups = llvm::divideCeil(plan.k, plan.group);
  plan.msbFirst = repacking ? repacking->packing == PackOrder::msb_first
                            : layout.getPacking() == PackOrder::msb_first;
  plan.signedCodes = layout.isSignedInteger();
  if (plan.signedCodes && plan.fields > 1)
    plan.offset = int64_t(1) << (plan.bits - 1);
  plan.scaleType = op.getScales().getType().getElementType();
  if (Value zeros = op.getZeroPoints())
    plan.zeroType = cast<RankedTensorType>(zeros.getType()).getElementType();
  return plan;
}

/// The buffers a kernel works on. `packed` and `sums` exist once the
/// activations are packed (`packed` may be `x` itself); a null value is a
/// buffer the layout does not have.
struct KernelBuffers {
  Value x, packed, storage, scales, zeros, sums, out;

  auto fields() {
    return std::tie(x, packed, storage, scales, zeros, sums, out);
  }
};

/// Builds the kernel body. `b` is at the start of the entry block.
class DequantKernelBuilder : public KernelEmitter {
public:
  /// The kernel function's builder; `args` are (x, storage, [scales],
  /// [zero-points], output).
  DequantKernelBuilder(OpBuilder &b, Location loc,
                       const DequantKernelPlan &plan, ValueRange args)
      : DequantKernelBuilder(b, loc, plan, kernelBuffers(plan, args)) {}

  DequantKernelBuilder(OpBuilder &b, Location loc,
                       const DequantKernelPlan &plan,
                       const KernelBuffers &buffers)
      : KernelEmitter(b, loc), plan(plan) {
    module = b.getInsertionBlock()->getParentOp()->getParentOfType<ModuleOp>();
    x = buffers.x;
    packed = buffers.packed;
    storage = buffers.storage;
    scales = buffers.scales;
    zeros = buffers.zeros;
    sums = buffers.sums;
    out = buffers.out;
    f32 = b.getF32Type();
    vf32 = VectorType::get({kLanes}, f32);
    vi32 = VectorType::get({kLanes}, b.getI32Type());
    vi8 = VectorType::get({kLanes}, b.getI8Type());
  }

  /// Emits the kernel: the activation packing, then the task loop, whose
  /// body is a call of `taskFunc` (created here) so that the OpenMP
  /// conversion sees a single-block loop body.
  void build(unsigned threads, ModuleOp module, StringRef taskName) {
    rows = memref::DimOp::create(b, loc, x, 0);
    // Only the streaming path reads packed activations.
    Value streaming = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::slt,
                                            rows, index(kPanelMinRows));
    packRows = arith::SelectOp::create(b, loc, streaming, rows, index(0));
    packActivations();
    KernelBuffers buffers{
        x, packed, storage, scales, zeros, sums, productsBuffer(plan, out)};
    SmallVector<Value> taskArgs = presentBuffers(buffers);
    func::FuncOp taskFunc = createTaskFunction(module, taskName, buffers);
    emitProductTaskLoop(plan, threads, taskFunc, taskArgs, out,
                        (taskName + "_epilogue").str());
  }

private:
  /// The buffers of the kernel function's arguments.
  static KernelBuffers kernelBuffers(const DequantKernelPlan &plan,
                                     ValueRange args) {
    KernelBuffers buffers;
    buffers.x = args[0];
    buffers.storage = args[1];
    bool hasScales =
        (!plan.isGGML() || plan.ggmlParams) && !plan.isFloatWeight();
    if (hasScales)
      buffers.scales = args[2];
    if (plan.zeroType)
      buffers.zeros = args[3];
    buffers.out = args.back();
    return buffers;
  }

  const DequantKernelPlan &plan;
  ModuleOp module;
  Value x, storage, scales, zeros, out, rows, packRows;
  /// Activations in kernel order, and their sums per group.
  Value packed, sums;
  Type f32;
  VectorType vf32, vi32, vi8;

  Value splatI32(int64_t v) {
    return arith::ConstantOp::create(
        b, loc, DenseElementsAttr::get(vi32, b.getI32IntegerAttr(v)));
  }

  /// The task function: (task, activations, packed activations, storage,
  /// [scales], [zero-points], [activation sums], output).
  func::FuncOp createTaskFunction(ModuleOp module, StringRef name,
                                  const KernelBuffers &buffers) {
    SmallVector<Type> types{b.getIndexType()};
    for (Value v : presentBuffers(buffers))
      types.push_back(v.getType());
    func::FuncOp func = createKernelFunction(module, loc, name, types, 1);
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(&func.getBody().front());
    DequantKernelBuilder task(
        b, loc, plan, rebindBuffers(buffers, func.getArguments().drop_front()));
    task.emitTaskBody(func.getArgument(0));
    func::ReturnOp::create(b, loc);
    return func;
  }

  /// One task on the buffers of this builder: the panel path from 48 rows,
  /// the streaming path below; [K, N] weights always take the panel path.
  void emitTaskBody(Value task) {
    rows = memref::DimOp::create(b, loc, x, 0);
    if (plan.weightKN) {
      emitPanelTask(task);
      return;
    }
    Value prefill = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::sge,
                                          rows, index(kPanelMinRows));
    emitIfElse(prefill, [&] { emitPanelTask(task); }, [&] { emitTask(task); });
  }

  /// Reorders each row of activations so that field j of the bytes loaded
  /// at `kc` meets packed[kc + 16 j .. kc + 16 j + 15], and sums each scale
  /// group.
  void packActivations() {
    if (!plan.needsPacking() && !plan.needsActivationSums()) {
      packed = x;
      return;
    }
    packed = x;
    if (plan.needsPacking())
      packed = memref::AllocOp::create(
          b, loc, MemRefType::get({ShapedType::kDynamic, plan.paddedK()}, f32),
          ValueRange{packRows});
    if (plan.needsActivationSums())
      sums = memref::AllocOp::create(
          b, loc,
          MemRefType::get({ShapedType::kDynamic, plan.numScaleGroups()}, f32),
          ValueRange{packRows});
    int64_t sumsPerGroup = plan.numScaleGroups() / plan.numGroups;
    forLoop(index(0), packRows, 1, {}, [&](Value m, ValueRange) {
      forLoop(index(0), index(plan.numGroups), 1, {},
              [&](Value g, ValueRange) -> SmallVector<Value> {
                Value kBegin = mul(g, index(plan.group));
                Value kEnd = minIndex(add(kBegin, index(plan.group)),
                                      index(plan.paddedK()));
                SmallVector<Value> zeros(sumsPerGroup, f32Const(0.0));
                SmallVector<Value> totals = forLoop(
                    kBegin, kEnd, plan.chunk, zeros,
                    [&](Value kc, ValueRange acc) -> SmallVector<Value> {
                      return forLoop(index(0), index(kLanes), 1, acc,
                                     [&](Value lane, ValueRange laneSums) {
                                       return packLane(m, kc, lane, laneSums);
                                     });
                    });
                if (plan.needsActivationSums())
                  for (int64_t i = 0; i < sumsPerGroup; ++i)
                    memref::StoreOp::create(b, loc, totals[i], sums,
                                            ValueRange{m, scaleGroup(g, i)});
                return {};
              });
      return SmallVector<Value>();
    });
  }

  /// Packs lane `lane` of every field of the load at `kc` of row `m` and
  /// adds the values to `laneSums` (one per field with subBlockScales).
  SmallVector<Value> packLane(Value m, Value kc, Value lane,
                              ValueRange laneSums) {
    SmallVector<Value> next(laneSums.begin(), laneSums.end());
    for (unsigned j = 0; j < plan.fields; ++j) {
      // codeOffset is affine in the lane.
      int64_t fieldOffset = plan.codeOffset(0, j);
      int64_t laneStride = plan.codeOffset(1, j) - fieldOffset;
      Value src = add(add(loadStart(kc), mul(lane, index(laneStride))),
                      index(fieldOffset));
      Value v;
      if (plan.paddedK() == plan.k) {
        v = memref::LoadOp::create(b, loc, x, ValueRange{m, src});
      } else {
        // Codes past K meet zeros.
        Value inside = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ult,
                                             src, index(plan.k));
        Value clamped = minIndex(src, index(plan.k - 1));
        v = arith::SelectOp::create(
            b, loc, inside,
            memref::LoadOp::create(b, loc, x, ValueRange{m, clamped}),
            f32Const(0.0));
      }
      if (plan.needsPacking()) {
        Value dst = add(add(kc, index(kLanes * j)), lane);
        memref::StoreOp::create(b, loc, v, packed, ValueRange{m, dst});
      }
      Value &sum = next[next.size() == 1 ? 0 : j];
      sum = arith::AddFOp::create(b, loc, sum, v);
    }
    return next;
  }

  /// Prefill: decode the task's 32 channels into a [K, 32] f32 panel (each
  /// weight exactly as the reference decodes it), then multiply it with
  /// outer products: 6 rows x 32 channels of accumulators, one broadcast
  /// activation per row and K step.
  void emitPanelTask(Value task) {
    Value n0 = mul(task, index(kChannelsPerTask));
    // Panels up to 64 KiB (K <= 512) live on the stack.
    auto panelType = MemRefType::get({plan.paddedK(), kChannelsPerTask}, f32);
    Value panel = plan.paddedK() * kChannelsPerTask * 4 <= (64 << 10)
                      ? Value(memref::AllocaOp::create(b, loc, panelType))
                      : Value(memref::AllocOp::create(b, loc, panelType));
    if (plan.weightKN)
      copyPanel(n0, panel);
    else
      decodePanel(n0, panel);
    emitRowTiles([&](Value m0, int64_t numRows) {
      emitPanelTile(panel, n0, m0, numRows);
    });
  }

  /// Calls `tile(m0, numRows)` on tiles covering all rows: 6 rows at a
  /// time, then single rows (one tile per remainder size would cost more
  /// JIT compile time than it saves on a panel that sits in cache).
  void emitRowTiles(function_ref<void(Value, int64_t)> tile) {
    Value mFull = roundDown(rows, kPanelRows);
    forLoop(index(0), mFull, kPanelRows, {}, [&](Value m0, ValueRange) {
      tile(m0, kPanelRows);
      return SmallVector<Value>();
    });
    forLoop(mFull, rows, 1, {}, [&](Value m0, ValueRange) {
      tile(m0, 1);
      return SmallVector<Value>();
    });
  }

  /// panel[k, c] = w[k, n0 + c] of [K, N] weights (zero past N): one
  /// contiguous copy of the task's columns, whose rows in place are 4 KiB
  /// multiples apart and would all fall into the same cache sets.
  void copyPanel(Value n0, Value panel) {
    forLoop(index(0), index(plan.k), 1, {}, [&](Value k, ValueRange) {
      for (int64_t h = 0; h < kChannelsPerTask / kLanes; ++h) {
        Value column = add(n0, index(h * kLanes));
        Value row = plan.n % kChannelsPerTask != 0
                        ? Value(vector::TransferReadOp::create(
                              b, loc, vf32, storage, ValueRange{k, column},
                              f32Const(0.0), ArrayRef<bool>{false}))
                        : Value(vector::LoadOp::create(b, loc, vf32, storage,
                                                       ValueRange{k, column}));
        vector::StoreOp::create(b, loc, row, panel,
                                ValueRange{k, index(h * kLanes)});
      }
      return SmallVector<Value>();
    });
  }

  /// panel[k, c] = s * (code - z) of channel n0 + c (channels past N read
  /// the last one; their outputs are never stored). 16 channels x one load
  /// of codes are decoded along K and transposed in registers.
  void decodePanel(Value n0, Value panel) {
    int64_t whole = plan.k / plan.chunk * plan.chunk;
    auto square = VectorType::get({kLanes, kLanes}, f32);
    auto decodeChunk = [&](Value kc, bool masked) {
      Value group = arith::DivUIOp::create(b, loc, kc, index(plan.group));
      for (int64_t half = 0; half < kChannelsPerTask / kLanes; ++half) {
        SmallVector<SmallVector<Value>> columns(plan.fields);
        for (int64_t c = 0; c < kLanes; ++c) {
          Value n =
              minIndex(add(n0, index(half * kLanes + c)), index(plan.n - 1));
          SmallVector<Value> codes = decodeCodes(n, kc, masked);
          if (plan.isFloatWeight()) {
            columns[0].push_back(codes[0]);
            continue;
          }
          Value scaleRow = paramRow(plan, n);
          for (unsigned j = 0; j < plan.fields; ++j)
            columns[j].push_back(
                decodeWeights(n, scaleRow, group, j, codes[j]));
        }
        for (unsigned j = 0; j < plan.fields; ++j) {
          Value block = arith::ConstantOp::create(
              b, loc, DenseElementsAttr::get(square, b.getF32FloatAttr(0.0)));
          for (int64_t c = 0; c < kLanes; ++c)
            block = vector::InsertOp::create(b, loc, columns[j][c], block,
                                             ArrayRef<int64_t>{c});
          Value byK = vector::TransposeOp::create(b, loc, block,
                                                  ArrayRef<int64_t>{1, 0});
          for (int64_t i = 0; i < kLanes; ++i) {
            Value k = add(loadStart(kc), index(plan.codeOffset(i, j)));
            Value row =
                vector::ExtractOp::create(b, loc, byK, ArrayRef<int64_t>{i});
            vector::StoreOp::create(b, loc, row, panel,
                                    ValueRange{k, index(half * kLanes)});
          }
        }
      }
    };
    forLoop(index(0), index(whole), plan.chunk, {}, [&](Value kc, ValueRange) {
      decodeChunk(kc, false);
      return SmallVector<Value>();
    });
    if (whole != plan.k)
      decodeChunk(index(whole), true);
  }

  /// The weights of field `j` of kernel group `group` of channel `n` from
  /// their codes, as the reference decodes them: s * (c - z), or with mins
  /// s * c - min (q4_K: d sc * c - dmin m; q4_1: d * c + m).
  Value decodeWeights(Value n, Value scaleRow, Value group, unsigned j,
                      Value codes) {
    if (plan.hasMins()) {
      auto [scale, min] = loadScaleAndMin(n, scaleGroup(group, j));
      Value scaled = arith::MulFOp::create(
          b, loc, vector::BroadcastOp::create(b, loc, vf32, scale), codes);
      return arith::SubFOp::create(
          b, loc, scaled, vector::BroadcastOp::create(b, loc, vf32, min));
    }
    Value scaleIndex = scaleGroup(group, j);
    Value scale = loadScale(n, scaleRow, scaleIndex);
    Value offset = loadGroupOffset(zeros, scaleRow, scaleIndex, groupOffset());
    Value centred = arith::SubFOp::create(
        b, loc, codes, vector::BroadcastOp::create(b, loc, vf32, offset));
    return arith::MulFOp::create(
        b, loc, vector::BroadcastOp::create(b, loc, vf32, scale), centred);
  }

  /// The scale s and min of scale group `g` of channel `n` of a layout
  /// with mins (w = s c - min).
  std::pair<Value, Value> loadScaleAndMin(Value n, Value g) {
    if (plan.ggmlParams) {
      Value at = mul(g, index(2));
      return {memref::LoadOp::create(b, loc, scales, ValueRange{n, at}),
              memref::LoadOp::create(b, loc, scales,
                                     ValueRange{n, add(at, index(1))})};
    }
    if (plan.subBlockScales)
      return loadSubBlockScaleAndMin(plan, storage, n, g);
    // q4_1: d, then m; w = d c + m.
    Value base = mul(g, index(plan.ggmlBlockBytes));
    Value m = loadF16(storage, n, add(base, index(2)));
    return {loadF16(storage, n, base), arith::NegFOp::create(b, loc, m)};
  }

  /// The scale group of field `j` of kernel group `group`: the group, or
  /// with sub-block scales the 32-code sub-block 2g + j (q4_K) or the
  /// 16-code group 8 (g / 2) + 2 j + g mod 2 (q6_K).
  Value scaleGroup(Value group, unsigned j) {
    if (!plan.subBlockScales)
      return group;
    if (!plan.quarterCodes)
      return add(mul(group, index(plan.fields)), index(j));
    Value half = arith::DivUIOp::create(b, loc, group, index(2));
    Value load = arith::RemUIOp::create(b, loc, group, index(2));
    return add(add(mul(half, index(8)), index(2 * j)), load);
  }

  /// Where codeOffset() counts from for the load at `kc`: kc, or for the
  /// second of a sub-block layout's two interleaved loads kc + 16 - chunk
  /// (its lanes continue the first load's in every field).
  Value loadStart(Value kc) {
    if (!plan.subBlockScales)
      return kc;
    Value load = arith::RemUIOp::create(
        b, loc, arith::DivUIOp::create(b, loc, kc, index(plan.chunk)),
        index(2));
    // kc - load * (chunk - 16), chunk > 16.
    return sub(kc, mul(load, index(plan.chunk - kLanes)));
  }

  /// out[m0 .. m0+numRows, n0 .. n0+32] += x[m0 .., :] * panel.
  void emitPanelTile(Value panel, Value n0, Value m0, int64_t numRows) {
    int64_t halves = kChannelsPerTask / kLanes;
    Value zeroVector = arith::ConstantOp::create(
        b, loc, DenseElementsAttr::get(vf32, b.getF32FloatAttr(0.0)));
    SmallVector<Value> row;
    for (int64_t r = 0; r < numRows; ++r)
      row.push_back(add(m0, index(r)));
    SmallVector<Value> inits(numRows * halves, zeroVector);
    SmallVector<Value> acc = forLoop(
        index(0), index(plan.k), 1, inits, [&](Value k, ValueRange state) {
          SmallVector<Value> weights;
          for (int64_t h = 0; h < halves; ++h)
            weights.push_back(vector::LoadOp::create(
                b, loc, vf32, panel, ValueRange{k, index(h * kLanes)}));
          SmallVector<Value> next(state.begin(), state.end());
          for (int64_t r = 0; r < numRows; ++r) {
            Value activation =
                memref::LoadOp::create(b, loc, x, ValueRange{row[r], k});
            Value broadcast =
                vector::BroadcastOp::create(b, loc, vf32, activation);
            for (int64_t h = 0; h < halves; ++h)
              next[r * halves + h] = vector::FMAOp::create(
                  b, loc, broadcast, weights[h], next[r * halves + h]);
          }
          return next;
        });
    storeRowTile(out, row, n0, acc, plan.accumulate);
  }

  /// One task: output channels [task*32, min(task*32+32, N)) for all rows,
  /// in tiles of 4 rows x 2 channels, whose 8 independent accumulators hide
  /// the FMA latency; the remaining rows stream one channel at a time (a
  /// single sequential weight stream, the decode case) with the K loop
  /// unrolled into several accumulators instead.
  void emitTask(Value task) {
    Value nBegin = mul(task, index(kChannelsPerTask));
    Value nEnd = minIndex(add(nBegin, index(kChannelsPerTask)), index(plan.n));
    forEachStreamTile(
        nBegin, nEnd, rows,
        [&](Value n0, int64_t channels, Value m0, int64_t numRows) {
          // A lone row's accumulators are split among its channels.
          emitMicroKernel(n0, channels, m0, numRows,
                          numRows == 1
                              ? std::max<int64_t>(1, decodeUnroll() / channels)
                              : 1);
        },
        plan.f32Weights ? 2 : 1);
  }

  /// Loads per K step of the single-row kernel: enough independent
  /// accumulators (fields x unroll >= 4) to cover the FMA latency, dividing
  /// the loads of a full group (a shorter last group is not unrolled).
  int64_t decodeUnroll() const {
    for (int64_t unroll = std::max<int64_t>(1, 4 / plan.fields); unroll > 1;
         unroll /= 2)
      if ((plan.group / plan.chunk) % unroll == 0)
        return unroll;
    return 1;
  }

  /// out[m0 .. m0+numRows, n0 .. n0+numChannels] += the products. Each
  /// (channel, row) tile has its own accumulators in vector registers: one
  /// when `unroll` is 1 (the fields of a load share it), else one per field
  /// and unrolled load.
  void emitMicroKernel(Value n0, int64_t numChannels, Value m0, int64_t numRows,
                       int64_t unroll) {
    int64_t tiles = numChannels * numRows;
    // Sub-block scales keep the fields apart even without unrolling.
    int64_t slots =
        unroll == 1 && !plan.subBlockScales ? 1 : unroll * plan.fields;
    bool withSums = plan.needsActivationSums();
    Value zeroVector = arith::ConstantOp::create(
        b, loc, DenseElementsAttr::get(vf32, b.getF32FloatAttr(0.0)));
    SmallVector<Value> inits(tiles, zeroVector);
    if (withSums)
      inits.append(tiles, f32Const(0.0));
    SmallVector<Value> channel, row;
    for (int64_t c = 0; c < numChannels; ++c)
      channel.push_back(add(n0, index(c)));
    for (int64_t r = 0; r < numRows; ++r)
      row.push_back(add(m0, index(r)));

    // Full groups in a loop; a shorter last group (ragged K) after it, with
    // one masked load for a last partial load of codes.
    int64_t fullGroups =
        plan.lastGroupSize() == plan.group && plan.group % plan.chunk == 0
            ? plan.numGroups
            : plan.numGroups - 1;
    auto groupBody = [&](Value g, ValueRange state,
                         bool last) -> SmallVector<Value> {
      Value kBegin = mul(g, index(plan.group));
      SmallVector<Value> groupInits(tiles * slots, zeroVector);
      SmallVector<Value> partial;
      if (!last) {
        partial =
            forLoop(kBegin, add(kBegin, index(plan.group)), plan.chunk * unroll,
                    groupInits, [&](Value kc, ValueRange acc) {
                      SmallVector<Value> next(acc.begin(), acc.end());
                      for (Value n : channel)
                        prefetchAhead(n, kc);
                      for (int64_t u = 0; u < unroll; ++u)
                        emitChunk(add(kc, index(u * plan.chunk)), channel, row,
                                  next, slots, u * plan.fields, false);
                      return next;
                    });
      } else {
        int64_t size = plan.lastGroupSize();
        int64_t whole = size / plan.chunk * plan.chunk;
        partial = forLoop(kBegin, add(kBegin, index(whole)), plan.chunk,
                          groupInits, [&](Value kc, ValueRange acc) {
                            SmallVector<Value> next(acc.begin(), acc.end());
                            emitChunk(kc, channel, row, next, slots, 0, false);
                            return next;
                          });
        if (whole != size)
          emitChunk(add(kBegin, index(whole)), channel, row, partial, slots, 0,
                    true);
      }
      // Fold each tile's slots into one sum per scale group: all slots, or
      // with sub-block scales the slots of each field.
      int64_t sumsPerGroup = plan.subBlockScales ? plan.fields : 1;
      SmallVector<Value> next(state.begin(), state.end());
      for (int64_t i = 0; i < sumsPerGroup; ++i) {
        SmallVector<Value> groupSums;
        for (int64_t t = 0; t < tiles; ++t) {
          Value sum;
          for (int64_t slot = i; slot < slots; slot += sumsPerGroup)
            sum = sum ? arith::AddFOp::create(b, loc, sum,
                                              partial[t * slots + slot])
                      : partial[t * slots + slot];
          groupSums.push_back(sum);
        }
        Value scaleIndex = scaleGroup(g, i);
        for (int64_t c = 0; c < numChannels; ++c) {
          Value scaleRow = paramRow(plan, channel[c]);
          // sum_k x s (c - z) = s sum_k x c - s z sum_k x; with mins
          // sum_k x (s c - min) = s sum_k x c - min sum_k x.
          Value scale, scaledOffset;
          if (plan.hasMins()) {
            std::tie(scale, scaledOffset) =
                loadScaleAndMin(channel[c], scaleIndex);
          } else {
            scale = loadScale(channel[c], scaleRow, scaleIndex);
            if (withSums)
              scaledOffset = arith::MulFOp::create(
                  b, loc, scale,
                  loadGroupOffset(zeros, scaleRow, scaleIndex, groupOffset()));
          }
          Value scaleVector = vector::BroadcastOp::create(b, loc, vf32, scale);
          for (int64_t r = 0; r < numRows; ++r) {
            int64_t t = c * numRows + r;
            next[t] = vector::FMAOp::create(b, loc, scaleVector, groupSums[t],
                                            next[t]);
            if (withSums) {
              Value sum = memref::LoadOp::create(
                  b, loc, sums, ValueRange{row[r], scaleIndex});
              next[tiles + t] = arith::AddFOp::create(
                  b, loc, next[tiles + t],
                  arith::MulFOp::create(b, loc, scaledOffset, sum));
            }
          }
        }
      }
      return next;
    };
    SmallVector<Value> results = forLoop(
        index(0), index(fullGroups), 1, inits,
        [&](Value g, ValueRange state) { return groupBody(g, state, false); });
    if (fullGroups != plan.numGroups)
      results = groupBody(index(fullGroups), results, true);

    for (int64_t c = 0; c < numChannels; ++c) {
      for (int64_t r = 0; r < numRows; ++r) {
        int64_t t = c * numRows + r;
        Value dot = vector::ReductionOp::create(
            b, loc, vector::CombiningKind::ADD, results[t],
            arith::FastMathFlags::reassoc);
        if (withSums)
          dot = arith::SubFOp::create(b, loc, dot, results[tiles + t]);
        if (plan.accumulate)
          dot = arith::AddFOp::create(
              b, loc,
              memref::LoadOp::create(b, loc, out,
                                     ValueRange{row[r], channel[c]}),
              dot);
        memref::StoreOp::create(b, loc, dot, out,
                                ValueRange{row[r], channel[c]});
      }
    }
  }

  Value loadScale(Value n, Value paramRow, Value g) {
    return loadGroupScale(plan, storage, scales, n, paramRow, g);
  }

  /// Prefetches channel `n`'s storage about kStreamPrefetchBytes past code
  /// `kc`: one core keeps few cache misses in flight, and the channels'
  /// rows are separate streams.
  void prefetchAhead(Value n, Value kc) {
    if (plan.weightKN)
      return;
    int64_t codes = kStreamPrefetchBytes * 8 / plan.bits;
    Value ahead = add(kc, index(codes));
    Value column;
    if (plan.f32Weights || plan.typedHalfStorage)
      column = ahead;
    else if (plan.isHalf())
      column = mul(ahead, index(2));
    else if (plan.isGGML())
      column =
          mul(arith::DivUIOp::create(b, loc, ahead, index(plan.ggmlBlockCodes)),
              index(plan.ggmlBlockBytes));
    else
      column = arith::DivUIOp::create(b, loc, ahead, index(plan.fields));
    memref::PrefetchOp::create(b, loc, storage, ValueRange{n, column},
                               /*isWrite=*/false, /*localityHint=*/3,
                               /*isDataCache=*/true);
  }

  /// Bytes of channel `n`'s storage row from `column`. A masked load stops
  /// at the row's end, and the bytes past it read as zero.
  Value loadBytes(VectorType type, Value n, Value column, bool masked) {
    if (!masked)
      return vector::LoadOp::create(b, loc, type, storage,
                                    ValueRange{n, column});
    return vector::TransferReadOp::create(
        b, loc, type, storage, ValueRange{n, column},
        arith::ConstantOp::create(b, loc, b.getI8IntegerAttr(0)),
        ArrayRef<bool>{false});
  }

  /// The codes of one 16-byte load of channel `n` at code `kc`, as f32:
  /// element j is bit field j of the 16 bytes (codes kc + fields*i +
  /// field offset), signed packed codes flipped to unsigned (offset by
  /// 2^(bits-1)). A masked load stops at the row's end and reads zero
  /// codes past it.
  SmallVector<Value> decodeCodes(Value n, Value kc, bool masked) {
    if (plan.f32Weights) {
      if (!masked)
        return {
            vector::LoadOp::create(b, loc, vf32, storage, ValueRange{n, kc})};
      return {vector::TransferReadOp::create(b, loc, vf32, storage,
                                             ValueRange{n, kc}, f32Const(0.0),
                                             ArrayRef<bool>{false})};
    }
    if (plan.typedHalfStorage) {
      auto halvesType = VectorType::get({kLanes}, plan.halfType);
      Value halves =
          masked ? Value(vector::TransferReadOp::create(
                       b, loc, halvesType, storage, ValueRange{n, kc},
                       arith::ConstantOp::create(
                           b, loc, b.getFloatAttr(plan.halfType, 0.0)),
                       ArrayRef<bool>{false}))
                 : Value(vector::LoadOp::create(b, loc, halvesType, storage,
                                                ValueRange{n, kc}));
      return {arith::ExtFOp::create(b, loc, vf32, halves)};
    }
    if (plan.isHalf()) {
      // 16 halves = 32 bytes, widened to f32.
      auto bytesType = VectorType::get({2 * kLanes}, b.getI8Type());
      Value bytes = loadBytes(bytesType, n, mul(kc, index(2)), masked);
      Value halves = vector::BitCastOp::create(
          b, loc, VectorType::get({kLanes}, plan.halfType), bytes);
      return {arith::ExtFOp::create(b, loc, vf32, halves)};
    }
    if (plan.quarterCodes)
      return decodeQuarterCodes(n, kc);
    Value byteColumn;
    if (plan.isGGML()) {
      // Block kc / 32: its f16 scale, then the codes of this load.
      Value block =
          arith::DivUIOp::create(b, loc, kc, index(plan.ggmlBlockCodes));
      Value within =
          arith::RemUIOp::create(b, loc, kc, index(plan.ggmlBlockCodes));
      byteColumn =
          add(add(mul(block, index(plan.ggmlBlockBytes)),
                  index(plan.ggmlHeaderBytes)),
              arith::DivUIOp::create(b, loc, within, index(plan.fields)));
    } else {
      byteColumn = arith::DivUIOp::create(b, loc, kc, index(plan.fields));
    }
    Value bytes = loadBytes(vi8, n, byteColumn, masked);
    Value wide;
    if (plan.fields == 1 && plan.signedCodes) {
      wide = arith::ExtSIOp::create(b, loc, vi32, bytes);
    } else {
      if (plan.signedCodes && plan.offset != 0) {
        // Flip the sign bit of every field: signed codes become unsigned
        // ones offset by 2^(bits-1).
        int64_t flip = 0;
        for (unsigned j = 0; j < plan.fields; ++j)
          flip |= plan.offset << (plan.bits * j);
        bytes = arith::XOrIOp::create(
            b, loc, bytes,
            arith::ConstantOp::create(
                b, loc,
                DenseElementsAttr::get(
                    vi8, b.getIntegerAttr(b.getI8Type(), int8_t(flip)))));
      }
      wide = arith::ExtUIOp::create(b, loc, vi32, bytes);
    }
    int64_t mask = (int64_t(1) << plan.bits) - 1;
    Value fifthBits;
    if (plan.fifthBits) {
      // The block's word of fifth bits, in every lane.
      Value word = vector::LoadOp::create(
          b, loc, VectorType::get({4}, b.getI8Type()), storage,
          ValueRange{n, sub(byteColumn, index(4))});
      word = vector::BitCastOp::create(
          b, loc, VectorType::get({1}, b.getI32Type()), word);
      fifthBits = vector::BroadcastOp::create(
          b, loc, vi32,
          vector::ExtractOp::create(b, loc, word, ArrayRef<int64_t>{0}));
    }
    // q5_K: the bytes of qh that hold bit 4 of this load's codes, and the
    // bit of field 0 (2 c for 64-code run c of the super-block).
    Value highBytes, highShift;
    if (plan.kQuantHighBits) {
      Value within =
          arith::RemUIOp::create(b, loc, kc, index(plan.ggmlBlockCodes));
      Value block =
          arith::DivUIOp::create(b, loc, kc, index(plan.ggmlBlockCodes));
      Value lane = arith::DivUIOp::create(
          b, loc, arith::RemUIOp::create(b, loc, within, index(64)), index(2));
      Value column =
          add(add(mul(block, index(plan.ggmlBlockBytes)), index(16)), lane);
      highBytes = arith::ExtUIOp::create(b, loc, vi32,
                                         loadBytes(vi8, n, column, false));
      Value run = arith::DivUIOp::create(b, loc, within, index(64));
      highShift = vector::BroadcastOp::create(
          b, loc, vi32,
          arith::IndexCastOp::create(b, loc, b.getI32Type(),
                                     mul(run, index(2))));
    }
    SmallVector<Value> codes;
    for (unsigned j = 0; j < plan.fields; ++j) {
      Value field = wide;
      if (plan.fields > 1) {
        if (j > 0)
          field =
              arith::ShRUIOp::create(b, loc, field, splatI32(plan.bits * j));
        // vpermps reads only the low 4 bits of each index.
        if (j + 1 < plan.fields && !plan.isLookup())
          field = arith::AndIOp::create(b, loc, field, splatI32(mask));
      }
      if (fifthBits) {
        // Field j, lane i is code 16 j + i of the block.
        SmallVector<int32_t> shifts;
        for (int64_t i = 0; i < kLanes; ++i)
          shifts.push_back(int32_t(kLanes * j + i));
        field = orBitAt(
            field, fifthBits,
            arith::ConstantOp::create(
                b, loc,
                DenseElementsAttr::get(vi32, ArrayRef<int32_t>(shifts))),
            4);
      }
      if (highBytes)
        field =
            orBitAt(field, highBytes,
                    arith::AddIOp::create(b, loc, highShift, splatI32(j)), 4);
      if (plan.f8Format)
        codes.push_back(decodeF8(field));
      else
        codes.push_back(plan.isLookup() ? lookUp(field) : toCodeValues(field));
    }
    return codes;
  }

  /// FP8 codes (one per i32 lane) as f32, each exactly its table entry:
  /// through f16, whose exponent range holds every FP8 value. An e5m2 code
  /// is an f16's high byte; an e4m3fn code's bits moved into an f16 are
  /// the value times 2^-8, which the f32 product by 256 undoes exactly; its
  /// NaN codes (magnitude bits 0x7f) are NaN.
  Value decodeF8(Value codes) {
    auto vi16 = VectorType::get({kLanes}, b.getI16Type());
    auto vf16 = VectorType::get({kLanes}, b.getF16Type());
    Value narrow = arith::TruncIOp::create(b, loc, vi16, codes);
    auto toF32 = [&](Value halfBits) -> Value {
      Value halves = arith::BitcastOp::create(b, loc, vf16, halfBits);
      return arith::ExtFOp::create(b, loc, vf32, halves);
    };
    if (*plan.f8Format == ElementFormat::f8E5M2)
      return toF32(arith::ShLIOp::create(b, loc, narrow, splat(vi16, 8)));
    Value sign = arith::ShLIOp::create(
        b, loc, arith::AndIOp::create(b, loc, narrow, splat(vi16, 0x80)),
        splat(vi16, 8));
    Value magnitude = arith::AndIOp::create(b, loc, narrow, splat(vi16, 0x7f));
    Value halfBits = arith::OrIOp::create(
        b, loc, sign, arith::ShLIOp::create(b, loc, magnitude, splat(vi16, 7)));
    Value value =
        arith::MulFOp::create(b, loc, toF32(halfBits), splat(vf32, 256.0));
    Value isNaN = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::eq,
                                        magnitude, splat(vi16, 0x7f));
    return arith::SelectOp::create(b, loc, isNaN, splat(vf32, std::nan("")),
                                   value);
  }

  /// `codes` with bit `position` set from bit `shift` (per lane) of
  /// `source`: codes | ((source >> shift) & 1) << position.
  Value orBitAt(Value codes, Value source, Value shift, int64_t position) {
    Value bit = arith::AndIOp::create(
        b, loc, arith::ShRUIOp::create(b, loc, source, shift), splatI32(1));
    return arith::OrIOp::create(
        b, loc, codes, arith::ShLIOp::create(b, loc, bit, splatI32(position)));
  }

  /// Integer codes as f32, less the layout's constant offset where it is
  /// not a zero-point (offsetInCodes).
  Value toCodeValues(Value codes) {
    Value values = arith::SIToFPOp::create(b, loc, vf32, codes);
    if (!plan.offsetInCodes())
      return values;
    return arith::SubFOp::create(b, loc, values,
                                 splat(vf32, double(plan.offset)));
  }

  /// The constant added to zero-points: the offset, unless the codes
  /// carry it.
  int64_t groupOffset() const { return plan.offsetInCodes() ? 0 : plan.offset; }

  /// q2_K, q3_K, q6_K: the 4 fields of the load at `kc` (a half
  /// super-block of 128 codes holds two loads): field f, lane i is code
  /// 32 f + 16 load + i of the half, l = 16 load + i. q6_K: its low 4 bits
  /// the low (f = 0, 1) or high (f = 2, 3) nibble of
  /// ql[64 half + 32 (f mod 2) + l], its high 2 bits bits 2f, 2f + 1 of
  /// qh[32 half + l]. q2_K: bits 2f, 2f + 1 of qs[32 half + l] (qs at byte
  /// 16). q3_K: the same two bits of its qs (at byte 32), and bit 2 from bit
  /// 4 half + f of hmask[l].
  SmallVector<Value> decodeQuarterCodes(Value n, Value kc) {
    Value block = arith::DivUIOp::create(b, loc, kc, index(256));
    Value within = arith::RemUIOp::create(b, loc, kc, index(256));
    Value half = arith::DivUIOp::create(b, loc, within, index(128));
    Value load = arith::DivUIOp::create(
        b, loc, arith::RemUIOp::create(b, loc, within, index(128)), index(64));
    Value base = mul(block, index(plan.ggmlBlockBytes));
    Value lane0 = mul(load, index(16));
    auto wide = [&](Value column) {
      return arith::ExtUIOp::create(b, loc, vi32,
                                    loadBytes(vi8, n, column, false));
    };
    auto bitsAt = [&](Value v, int64_t shift, int64_t mask) -> Value {
      if (shift > 0)
        v = arith::ShRUIOp::create(b, loc, v, splatI32(shift));
      return arith::AndIOp::create(b, loc, v, splatI32(mask));
    };
    SmallVector<Value> codes;
    if (!plan.sixBitCodes) {
      int64_t qsAt = plan.threeBitCodes ? 32 : 16;
      Value qs =
          wide(add(add(base, index(qsAt)), add(mul(half, index(32)), lane0)));
      Value hmask, hmaskShift;
      if (plan.threeBitCodes) {
        hmask = wide(add(base, lane0));
        hmaskShift = vector::BroadcastOp::create(
            b, loc, vi32,
            arith::IndexCastOp::create(b, loc, b.getI32Type(),
                                       mul(half, index(4))));
      }
      for (unsigned f = 0; f < 4; ++f) {
        Value code = bitsAt(qs, 2 * f, 3);
        if (hmask)
          code = orBitAt(code, hmask,
                         arith::AddIOp::create(b, loc, hmaskShift, splatI32(f)),
                         2);
        codes.push_back(toCodeValues(code));
      }
      return codes;
    }
    Value lowStart = add(add(base, mul(half, index(64))), lane0);
    Value highStart =
        add(add(add(base, index(128)), mul(half, index(32))), lane0);
    Value lowA = wide(lowStart), lowB = wide(add(lowStart, index(32)));
    Value high = wide(highStart);
    for (unsigned f = 0; f < 4; ++f) {
      Value low = f % 2 == 0 ? lowA : lowB;
      low = f < 2 ? bitsAt(low, 0, 15) : bitsAt(low, 4, 15);
      Value top = bitsAt(high, 2 * f, 3);
      Value code = arith::OrIOp::create(
          b, loc, low, arith::ShLIOp::create(b, loc, top, splatI32(4)));
      codes.push_back(toCodeValues(code));
    }
    return codes;
  }

  /// lookup[indices[i] & 15] in every lane: one 16-entry vpermps
  /// (AVX-512), two 8-entry vpermps and a blend on bit 3 (AVX2), or a
  /// gather from the table in memory.
  Value lookUp(Value indices) {
    // 256-entry tables (FP8, dynamic8) are gathered from memory.
    bool inRegisters = plan.lookup.size() == size_t(kLanes);
    if (inRegisters && plan.isa == KernelISA::AVX512) {
      func::FuncOp permute = getOrCreateIntrinsicDeclaration(
          module, "llvm.x86.avx512.permvar.sf.512",
          b.getFunctionType({vf32, vi32}, {vf32}));
      return func::CallOp::create(b, loc, permute,
                                  ValueRange{tableVector(0, kLanes), indices})
          .getResult(0);
    }
    if (inRegisters && plan.isa == KernelISA::AVX2) {
      auto vi32x8 = VectorType::get({8}, b.getI32Type());
      auto vf32x8 = VectorType::get({8}, f32);
      func::FuncOp permute = getOrCreateIntrinsicDeclaration(
          module, "llvm.x86.avx2.permps",
          b.getFunctionType({vf32x8, vi32x8}, {vf32x8}));
      Value bit3 = arith::ConstantOp::create(
          b, loc, DenseElementsAttr::get(vi32x8, b.getI32IntegerAttr(8)));
      SmallVector<Value> halves;
      for (int64_t h = 0; h < 2; ++h) {
        Value part = vector::ExtractStridedSliceOp::create(
            b, loc, indices, ArrayRef<int64_t>{8 * h}, ArrayRef<int64_t>{8},
            ArrayRef<int64_t>{1});
        Value low = func::CallOp::create(b, loc, permute,
                                         ValueRange{tableVector(0, 8), part})
                        .getResult(0);
        Value high = func::CallOp::create(b, loc, permute,
                                          ValueRange{tableVector(8, 8), part})
                         .getResult(0);
        Value upper = arith::CmpIOp::create(
            b, loc, arith::CmpIPredicate::ne,
            arith::AndIOp::create(b, loc, part, bit3),
            arith::ConstantOp::create(
                b, loc,
                DenseElementsAttr::get(vi32x8, b.getI32IntegerAttr(0))));
        halves.push_back(arith::SelectOp::create(b, loc, upper, high, low));
      }
      SmallVector<int64_t> mask(kLanes);
      std::iota(mask.begin(), mask.end(), 0);
      return vector::ShuffleOp::create(b, loc, halves[0], halves[1], mask);
    }
    int64_t entryCount = plan.lookup.size();
    Value entries =
        arith::AndIOp::create(b, loc, indices, splatI32(entryCount - 1));
    Value table = memref::GetGlobalOp::create(
        b, loc, MemRefType::get({entryCount}, f32), tableGlobal());
    auto vi1 = VectorType::get({kLanes}, b.getI1Type());
    Value all = arith::ConstantOp::create(
        b, loc, DenseElementsAttr::get(vi1, b.getBoolAttr(true)));
    return vector::GatherOp::create(b, loc, vf32, table, ValueRange{index(0)},
                                    entries, all, splat(vf32, 0.0));
  }

  /// Entries [first, first + size) of the lookup table as a vector.
  Value tableVector(int64_t first, int64_t size) {
    return arith::ConstantOp::create(
        b, loc,
        DenseElementsAttr::get(
            VectorType::get({size}, f32),
            ArrayRef<float>(plan.lookup).slice(first, size)));
  }

  /// The name of a constant global holding the lookup table, created in
  /// the module unless it exists.
  StringRef tableGlobal() {
    std::string name = "__qtensor_" + plan.lookupName + "_table";
    if (auto existing = module.lookupSymbol<memref::GlobalOp>(name))
      return existing.getSymName();
    OpBuilder moduleBuilder = OpBuilder::atBlockBegin(module.getBody());
    int64_t entryCount = plan.lookup.size();
    auto type = MemRefType::get({entryCount}, f32);
    auto global = memref::GlobalOp::create(
        moduleBuilder, loc, name, moduleBuilder.getStringAttr("private"), type,
        DenseElementsAttr::get(RankedTensorType::get({entryCount}, f32),
                               ArrayRef<float>(plan.lookup)),
        /*constant=*/true, /*alignment=*/IntegerAttr());
    return global.getSymName();
  }

  /// One 16-byte load per channel at code `kc`: its fields are decoded to
  /// f32 lanes and multiplied into the accumulators of every row. Tile t's
  /// field j goes to accumulator t * slots + (slots == 1 ? 0 : slot0 + j).
  void emitChunk(Value kc, ArrayRef<Value> channel, ArrayRef<Value> row,
                 SmallVectorImpl<Value> &acc, int64_t slots, int64_t slot0,
                 bool masked) {
    int64_t numRows = row.size();
    // Activations of every field and row, shared by all channels.
    SmallVector<SmallVector<Value>> xs(plan.fields);
    for (unsigned j = 0; j < plan.fields; ++j)
      for (Value r : row)
        xs[j].push_back(vector::LoadOp::create(
            b, loc, vf32, packed, ValueRange{r, add(kc, index(kLanes * j))}));
    for (auto [c, n] : llvm::enumerate(channel)) {
      SmallVector<Value> codes = decodeCodes(n, kc, masked);
      for (unsigned j = 0; j < plan.fields; ++j) {
        Value weights = codes[j];
        for (int64_t r = 0; r < numRows; ++r) {
          int64_t t = int64_t(c) * numRows + r;
          int64_t slot = t * slots + (slots == 1 ? 0 : slot0 + j);
          acc[slot] =
              vector::FMAOp::create(b, loc, xs[j][r], weights, acc[slot]);
        }
      }
    }
  }
};

/// The kernel function of `plan`, created at the end of `module` unless it
/// exists: the int8 kernel when asked for and the layout has one, else the
/// exact f32 kernel.
func::FuncOp getOrCreateKernel(ModuleOp module, const DequantKernelPlan &plan,
                               const cpu::KernelOptions &options,
                               TypeRange argTypes, Location loc) {
  bool int8 = false;
  if (options.compute == KernelCompute::Int8) {
    std::string whyNot = whyNoInt8Kernel(plan);
    int8 = whyNot.empty();
    if (!int8 && options.reportFallback)
      emitRemark(loc) << "convert-qtensor-to-cpu-kernels: no int8 kernel for "
                         "this product ("
                      << whyNot << "); the exact f32 kernel computes it";
  }
  std::string name = kernelName(plan, options.threads,
                                plan.int8Prepacked ? "_int8_prepacked"
                                                   : (int8 ? "_int8" : ""));
  if (auto existing = module.lookupSymbol<func::FuncOp>(name))
    return existing;
  if (int8)
    return buildInt8Kernel(module, plan, options.threads, name, argTypes, loc);
  func::FuncOp func = createKernelFunction(module, loc, name, argTypes, 0);
  Block *entry = &func.getBody().front();
  OpBuilder b = OpBuilder::atBlockBegin(entry);
  DequantKernelBuilder(b, loc, plan, entry->getArguments())
      .build(options.threads, module, name + "_task");
  func::ReturnOp::create(b, loc);
  return func;
}

/// Reverses collapseToMatrix for a result shaped like `like`.
Value expandLike(OpBuilder &b, Location loc, Value matrix,
                 RankedTensorType like, Value likeValue) {
  int64_t rank = like.getRank();
  if (rank == 2)
    return matrix;
  if (rank == 1)
    return tensor::CollapseShapeOp::create(
        b, loc, matrix, SmallVector<ReassociationIndices>{{0, 1}});
  ReassociationIndices leading;
  for (int64_t i = 0; i + 1 < rank; ++i)
    leading.push_back(i);
  SmallVector<OpFoldResult> sizes = tensor::getMixedSizes(b, loc, likeValue);
  return tensor::ExpandShapeOp::create(
      b, loc, like, matrix,
      SmallVector<ReassociationIndices>{leading, {rank - 1}}, sizes);
}

} // namespace

LogicalResult cpu::replaceWithKernelCall(Operation *op, DequantKernelPlan plan,
                                         Value input, ValueRange weights,
                                         Value init,
                                         const cpu::KernelOptions &options,
                                         std::string &whyNot,
                                         Value inputScales) {
  auto module = op->getParentOfType<ModuleOp>();
  if (!module) {
    whyNot = "no enclosing module";
    return failure();
  }
  if (Block *epilogue = getGatedEpilogue(op)) {
    if (getGateBlock(op) != kLanes) {
      whyNot = llvm::formatv("gated epilogue in blocks of {0} rows (a task "
                             "is a block of {1} gate and {1} up rows)",
                             getGateBlock(op), kLanes)
                   .str();
      return failure();
    }
    plan.epilogue = epilogue;
    plan.epilogueReadsInit = !epilogue->getArgument(2).use_empty();
  }
  Location loc = op->getLoc();
  OpBuilder b(op);
  Value matrix = collapseToMatrix(b, loc, input);
  Value initMatrix = collapseToMatrix(b, loc, init);
  auto initType = cast<RankedTensorType>(initMatrix.getType());

  // Constant weights of an int8 product are prepacked for its kernel.
  SmallVector<Value> kernelWeights(weights);
  if (options.compute == KernelCompute::Int8 && options.prepackInt8)
    prepackInt8Weights(b, loc, plan, kernelWeights);
  assert((!plan.w8a8 || plan.int8Prepacked) &&
         "W8A8 products are checked for prepackable weights first");
  if (inputScales)
    kernelWeights.push_back(collapseToMatrix(b, loc, inputScales));
  SmallVector<Value> args{toBuffer(b, loc, matrix, /*dynamicRows=*/true)};
  for (Value weight : kernelWeights)
    args.push_back(toBuffer(b, loc, weight, false));
  // A zero-filled init (the usual case) is not materialised: the kernel
  // writes the products, and the fill becomes dead.
  // With a gated epilogue the products are written over a scratch buffer
  // and the epilogue reads the init.
  plan.accumulate = !plan.epilogue && !isZeroFill(init);
  plan.isa = options.isa;
  auto outType = MemRefType::get(initType.getShape(), b.getF32Type());
  SmallVector<Value> dynamicSizes;
  if (outType.isDynamicDim(0))
    dynamicSizes.push_back(tensor::DimOp::create(b, loc, matrix, 0));
  Value output = memref::AllocOp::create(b, loc, outType, dynamicSizes);
  if (plan.accumulate || plan.epilogueReadsInit)
    memref::CopyOp::create(b, loc, toBuffer(b, loc, initMatrix, false), output);
  Value outputArg = output;
  if (!outType.isDynamicDim(0))
    outputArg = memref::CastOp::create(
        b, loc,
        MemRefType::get({ShapedType::kDynamic, plan.outputChannels()},
                        b.getF32Type()),
        output);
  args.push_back(outputArg);

  func::FuncOp kernel = getOrCreateKernel(module, plan, options,
                                          ValueRange(args).getTypes(), loc);
  func::CallOp::create(b, loc, kernel, args);
  Value result = bufferization::ToTensorOp::create(
      b, loc, initType, output, /*restrict=*/b.getUnitAttr(),
      /*writable=*/b.getUnitAttr());
  result = expandLike(b, loc, result,
                      cast<RankedTensorType>(op->getResult(0).getType()), init);
  op->getResult(0).replaceAllUsesWith(result);
  op->erase();
  if (plan.int8Prepacked)
    for (Value weight : weights)
      eraseIfDeadConstant(weight);
  return success();
}

namespace {

/// The rest of the plan of a K-quant (q4_K, q6_K): super-blocks of 256
/// codes whose loads hold one sub-block per field; a kernel group is 64
/// codes (two loads of q4_K, one of q6_K).
FailureOr<DequantKernelPlan> planSuperBlocks(DequantKernelPlan plan,
                                             RankedTensorType storageType,
                                             std::string &whyNot) {
  if (plan.k % 256 != 0)
    return whyNot = "K not a multiple of 256", failure();
  plan.chunk = kLanes * plan.fields;
  plan.ggmlBlockCodes = 256;
  plan.subBlockScales = true;
  plan.group = 64;
  plan.numGroups = plan.k / 64;
  plan.scalesPerChannel = true;
  plan.scaleType = Float16Type::get(storageType.getContext());
  if (storageType.getShape()[1] != plan.storageColumns())
    return whyNot = "storage shape", failure();
  return plan;
}

/// The plan of a ggml product: q4_0 (value (c - 8) * d), q4_1 (d * c + m),
/// q5_0 (d * (c - 16)), q5_1 (d * c + m) and q8_0 (c * d) with one f16
/// scale per block of 32 codes, the K-quants q2_K to q6_K, and 16-bit
/// floats.
FailureOr<DequantKernelPlan> planGGMLKernel(GGMLMatmulOp op,
                                            std::string &whyNot) {
  DequantKernelPlan plan;
  auto storageType = op.getStorage().getType();
  int64_t k = op.getInput().getType().getShape().back();
  plan.n = storageType.getShape()[0];
  plan.k = k;
  if (ShapedType::isDynamic(plan.n) || ShapedType::isDynamic(k))
    return whyNot = "dynamic weight shape", failure();
  switch (op.getGgmlType()) {
  case GGMLType::F32:
    // The importers give f32 weights as float tensors (a float product).
    return whyNot = "ggml type f32", failure();
  case GGMLType::F16:
  case GGMLType::BF16:
    plan.bits = 16;
    plan.halfType = op.getGgmlType() == GGMLType::F16
                        ? Type(Float16Type::get(op.getContext()))
                        : Type(BFloat16Type::get(op.getContext()));
    plan.ggmlName = op.getGgmlType() == GGMLType::F16 ? "f16" : "bf16";
    plan.fields = 1;
    plan.chunk = kLanes;
    plan.group = k;
    plan.numGroups = 1;
    plan.scalesPerChannel = true;
    plan.scaleType = Float32Type::get(op.getContext());
    if (storageType.getShape()[1] != plan.storageColumns())
      return whyNot = "storage shape", failure();
    return plan;
  case GGMLType::Q4_0:
    plan.bits = 4;
    plan.ggmlBlockBytes = 18;
    plan.offset = 8;
    plan.ggmlName = "q4_0";
    break;
  case GGMLType::Q4_1:
    plan.bits = 4;
    plan.ggmlBlockBytes = 20;
    plan.ggmlHeaderBytes = 4;
    plan.blockMins = true;
    plan.ggmlName = "q4_1";
    break;
  case GGMLType::Q5_0:
    plan.bits = 4;
    plan.ggmlBlockBytes = 22;
    plan.ggmlHeaderBytes = 6;
    plan.offset = 16;
    plan.fifthBits = true;
    plan.ggmlName = "q5_0";
    break;
  case GGMLType::Q5_1:
    plan.bits = 4;
    plan.ggmlBlockBytes = 24;
    plan.ggmlHeaderBytes = 8;
    plan.blockMins = true;
    plan.fifthBits = true;
    plan.ggmlName = "q5_1";
    break;
  case GGMLType::Q8_0:
    plan.bits = 8;
    plan.ggmlBlockBytes = 34;
    plan.signedCodes = true;
    plan.ggmlName = "q8_0";
    break;
  case GGMLType::Q2_K:
  case GGMLType::Q3_K:
  case GGMLType::Q6_K: {
    // A load holds the four quarters of half a super-block.
    GGMLType type = op.getGgmlType();
    plan.fields = 4;
    plan.quarterCodes = true;
    plan.sixBitCodes = type == GGMLType::Q6_K;
    plan.threeBitCodes = type == GGMLType::Q3_K;
    plan.bits = plan.sixBitCodes ? 6 : plan.threeBitCodes ? 3 : 2;
    plan.offset = plan.sixBitCodes ? 32 : plan.threeBitCodes ? 4 : 0;
    plan.ggmlBlockBytes = plan.sixBitCodes     ? 210
                          : plan.threeBitCodes ? 110
                                               : 84;
    plan.ggmlName = std::string(stringifyGGMLType(type));
    return planSuperBlocks(plan, storageType, whyNot);
  }
  case GGMLType::Q4_K:
  case GGMLType::Q5_K: {
    bool q5 = op.getGgmlType() == GGMLType::Q5_K;
    plan.bits = 4;
    plan.fields = 2;
    plan.ggmlBlockBytes = q5 ? 176 : 144;
    plan.ggmlHeaderBytes = q5 ? 48 : 16;
    plan.ggmlName = q5 ? "q5_K" : "q4_K";
    plan.kQuantHighBits = q5;
    return planSuperBlocks(plan, storageType, whyNot);
  }
  }
  if (k % 32 != 0)
    return whyNot = "K not a multiple of 32", failure();
  plan.fields = 8 / plan.bits;
  plan.chunk = kLanes * plan.fields;
  plan.group = 32;
  plan.numGroups = k / 32;
  plan.scalesPerChannel = true;
  plan.scaleType = Float16Type::get(op.getContext());
  if (storageType.getShape()[1] != plan.storageColumns())
    return whyNot = "storage shape", failure();
  return plan;
}

} // namespace

namespace {

/// `input` [..., K] with its last dimension gathered: result[..., j] =
/// input[..., order[j]].
Value gatherColumns(OpBuilder &b, Location loc, Value input,
                    ArrayRef<int32_t> order) {
  auto type = cast<RankedTensorType>(input.getType());
  int64_t rank = type.getRank();
  Value orderConstant = arith::ConstantOp::create(
      b, loc,
      DenseElementsAttr::get(
          RankedTensorType::get({int64_t(order.size())}, b.getI32Type()),
          order));
  SmallVector<Value> dynamicSizes;
  for (int64_t d = 0; d < rank; ++d)
    if (type.isDynamicDim(d))
      dynamicSizes.push_back(tensor::DimOp::create(b, loc, input, d));
  Value empty = tensor::EmptyOp::create(b, loc, type.getShape(),
                                        type.getElementType(), dynamicSizes);
  MLIRContext *ctx = b.getContext();
  SmallVector<AffineMap> maps{
      AffineMap::get(rank, 0, getAffineDimExpr(rank - 1, ctx)),
      AffineMap::getMultiDimIdentityMap(rank, ctx)};
  SmallVector<utils::IteratorType> iterators(rank,
                                             utils::IteratorType::parallel);
  auto gather = linalg::GenericOp::create(
      b, loc, TypeRange{type}, ValueRange{orderConstant}, ValueRange{empty},
      maps, iterators, [&](OpBuilder &nb, Location nl, ValueRange args) {
        SmallVector<Value> indices;
        for (int64_t d = 0; d + 1 < rank; ++d)
          indices.push_back(linalg::IndexOp::create(nb, nl, d));
        indices.push_back(
            arith::IndexCastOp::create(nb, nl, nb.getIndexType(), args[0]));
        linalg::YieldOp::create(
            nb, nl,
            ValueRange{tensor::ExtractOp::create(nb, nl, input, indices)});
      });
  return gather.getResult(0);
}

/// Rewrites the constant codes of `op` as `repacking` says, at compile
/// time: each code sign-extended (signed formats) and stored at the
/// kernel's width; with act-order, the columns stably sorted by their group
/// (which must make group j the run [j g, (j + 1) g)), and `input` replaced
/// by the activations gathered in that order.
LogicalResult repackConstantCodes(DequantMatmulOp op,
                                  const DequantKernelPlan &plan,
                                  const CodeRepacking &repacking,
                                  Value &storage, Value &input,
                                  std::string &whyNot) {
  LayoutAttr layout = op.getLayout();
  unsigned storedBits = layout.getBitWidth();
  PackOrder storedPacking = layout.getPacking();
  Value groupIndex = op.getGroupIndex();
  std::optional<std::vector<uint8_t>> bytes =
      readConstantBytes(op.getStorage());
  if (!bytes) {
    std::string what = (Twine(storedBits) + "-bit codes").str();
    if (groupIndex)
      what = "act-order codes";
    else if (storedPacking == PackOrder::none && storedBits < 8)
      what = "unpacked " + what;
    else if (storedBits == 2 || storedBits == 4)
      what += (Twine(" in groups of ") + Twine(plan.group)).str();
    return whyNot = what + " that are not constants (the kernels read them "
                           "repacked at compile time)",
           failure();
  }
  int64_t storedRow = num::packedSize(plan.k, storedBits, storedPacking);
  int64_t row = plan.storageColumns();
  if (int64_t(bytes->size()) != plan.n * storedRow ||
      num::packedSize(plan.k, plan.bits, repacking.packing) != row)
    return whyNot = "storage shape", failure();

  std::vector<int32_t> order(plan.k);
  std::iota(order.begin(), order.end(), 0);
  if (groupIndex) {
    std::optional<std::vector<uint8_t>> indexBytes =
        readConstantBytes(groupIndex);
    if (!indexBytes)
      return whyNot = "an act-order group index that is not a constant",
             failure();
    if (int64_t(indexBytes->size()) != 4 * plan.k)
      return whyNot = "group index shape", failure();
    std::vector<int32_t> groupOf(plan.k);
    std::memcpy(groupOf.data(), indexBytes->data(), indexBytes->size());
    std::stable_sort(order.begin(), order.end(), [&](int32_t a, int32_t b) {
      return groupOf[a] < groupOf[b];
    });
    for (int64_t j = 0; j < plan.k; ++j)
      if (groupOf[order[j]] != j / plan.group)
        return whyNot = "act-order groups that are not runs of the group "
                        "size",
               failure();
  }

  std::vector<char> repacked(plan.n * row);
  std::vector<uint8_t> codes(plan.k), ordered(plan.k);
  uint8_t signBit = uint8_t(1u << (storedBits - 1));
  for (int64_t n = 0; n < plan.n; ++n) {
    num::unpackCodes(bytes->data() + n * storedRow, plan.k, storedBits,
                     storedPacking, codes.data());
    for (int64_t j = 0; j < plan.k; ++j) {
      uint8_t code = codes[order[j]];
      if (layout.isSignedInteger() && storedBits < 8 && (code & signBit))
        code |= uint8_t(~((1u << storedBits) - 1));
      ordered[j] = code;
    }
    num::packCodes(ordered.data(), plan.k, plan.bits, repacking.packing,
                   reinterpret_cast<uint8_t *>(repacked.data() + n * row));
  }
  OpBuilder b(op);
  storage = createRawConstant(
      b, op.getLoc(), RankedTensorType::get({plan.n, row}, b.getIntegerType(8)),
      repacked,
      /*asResource=*/true,
      derivedConstantName(op.getStorage()) + ".kernel_codes");
  bool identity = llvm::all_of(llvm::enumerate(order), [](auto entry) {
    return int64_t(entry.value()) == int64_t(entry.index());
  });
  if (!identity)
    input = gatherColumns(b, op.getLoc(), input, order);
  return success();
}

} // namespace

bool mlir::qtensor::cpuKernelReadsOperandsAsStored(Operation *product) {
  auto op = dyn_cast<DequantMatmulOp>(product);
  std::optional<CodeRepacking> repacking;
  std::string whyNot;
  return op && succeeded(planKernel(op, repacking, whyNot)) && !repacking;
}

LogicalResult mlir::qtensor::cpu::lowerDequantMatmulToKernel(
    DequantMatmulOp op, const KernelOptions &options, std::string &whyNot) {
  std::optional<CodeRepacking> repacking;
  FailureOr<DequantKernelPlan> plan = planKernel(op, repacking, whyNot);
  if (failed(plan))
    return failure();
  if (!op->getParentOfType<ModuleOp>())
    return whyNot = "no enclosing module", failure();
  Value storage = op.getStorage(), input = op.getInput();
  Value storedCodes = storage, groupIndex = op.getGroupIndex();
  if (repacking)
    if (failed(
            repackConstantCodes(op, *plan, *repacking, storage, input, whyNot)))
      return failure();
  SmallVector<Value> weights{storage, op.getScales()};
  if (Value zeros = op.getZeroPoints())
    weights.push_back(zeros);
  if (op.getLayout().hasFlatBlocks(2)) {
    // The flat streams as [N, columns] matrices.
    OpBuilder b(op);
    for (Value &weight : weights) {
      auto type = cast<RankedTensorType>(weight.getType());
      int64_t columns = type.getNumElements() / plan->n;
      if (!type.hasStaticShape() || type.getRank() != 1 ||
          columns * plan->n != type.getNumElements()) {
        whyNot = "flat operands that are not whole rows";
        return failure();
      }
      weight = tensor::ExpandShapeOp::create(
          b, op.getLoc(),
          RankedTensorType::get({plan->n, columns}, type.getElementType()),
          weight, SmallVector<ReassociationIndices>{{0, 1}});
    }
  }
  if (failed(replaceWithKernelCall(op, *plan, input, weights, op.getInit(),
                                   options, whyNot)))
    return failure();
  if (storage != storedCodes) {
    eraseIfDeadConstant(storedCodes);
    if (groupIndex)
      eraseIfDeadConstant(groupIndex);
  }
  return success();
}

namespace {

/// The f32 scale d * sc and min dmin * m of every 32-code sub-block of
/// constant q4_K / q5_K blocks, as a [N, sub-blocks x 2] constant,
/// computed as ggml's dequantize_row_q4_K computes them (d and dmin widened
/// from f16, times the 6-bit sc and m, in f32); null when the blocks are
/// not constant.
Value subBlockParamsConstant(GGMLMatmulOp op, const DequantKernelPlan &plan) {
  assert(plan.subBlockScales && !plan.quarterCodes && "q4_K or q5_K");
  std::optional<std::vector<uint8_t>> bytes =
      readConstantBytes(op.getStorage());
  int64_t rowBytes = plan.storageColumns();
  if (!bytes || int64_t(bytes->size()) != plan.n * rowBytes)
    return {};
  int64_t subBlocks = plan.numScaleGroups();
  std::vector<float> params(plan.n * subBlocks * 2);
  auto half = [](const uint8_t *at) {
    return num::fromF16Bits(uint16_t(at[0] | (at[1] << 8)));
  };
  for (int64_t n = 0; n < plan.n; ++n) {
    for (int64_t g = 0; g < subBlocks; ++g) {
      const uint8_t *block =
          bytes->data() + n * rowBytes + g / 8 * plan.ggmlBlockBytes;
      uint8_t scale, min;
      num::unpackScaleMinK4(int(g % 8), block + 4, &scale, &min);
      float *out = &params[(n * subBlocks + g) * 2];
      out[0] = half(block) * float(scale);
      out[1] = half(block + 2) * float(min);
    }
  }
  OpBuilder b(op);
  return createF32Constant(b, op.getLoc(), {plan.n, subBlocks * 2}, params,
                           /*asResource=*/true,
                           derivedConstantName(op.getStorage()) +
                               ".sub_block_params");
}

} // namespace

LogicalResult mlir::qtensor::cpu::lowerGGMLMatmulToKernel(
    GGMLMatmulOp op, const KernelOptions &options, std::string &whyNot) {
  FailureOr<DequantKernelPlan> plan = planGGMLKernel(op, whyNot);
  if (failed(plan))
    return failure();
  SmallVector<Value> weights{op.getStorage()};
  // The exact kernel of constant q4_K / q5_K blocks reads their sub-block
  // parameters unpacked at compile time (the int8 kernel prepacks them).
  // The quarter-order K-quants unpack theirs cheaply enough, and q2_K's and
  // q3_K's would more than double or add half to the bytes read.
  if (plan->subBlockScales && !plan->quarterCodes &&
      options.compute == KernelCompute::F32 &&
      op->getParentOfType<ModuleOp>()) {
    if (Value params = subBlockParamsConstant(op, *plan)) {
      weights.push_back(params);
      plan->ggmlParams = true;
    }
  }
  return replaceWithKernelCall(op, *plan, op.getInput(), weights, op.getInit(),
                               options, whyNot);
}

LogicalResult mlir::qtensor::cpu::lowerQuantizedMatmulToKernel(
    QuantizedMatmulOp op, const KernelOptions &options, std::string &whyNot) {
  // The int8 kernel multiplies the codes as the reference does, exactly;
  // it needs VNNI, which compute=int8 asks for.
  if (options.compute != KernelCompute::Int8 || !options.prepackInt8)
    return whyNot = "W8A8 products need compute=int8 (and prepack-int8)",
           failure();
  auto weightType = op.getWeight().getType();
  auto inputType = op.getInput().getType();
  DequantKernelPlan plan;
  plan.n = weightType.getDimSize(0);
  plan.k = weightType.getDimSize(1);
  int64_t groups = op.getWeightScales().getType().getDimSize(1);
  if (ShapedType::isDynamic(plan.n) || ShapedType::isDynamic(plan.k) ||
      ShapedType::isDynamic(groups) ||
      inputType.isDynamicDim(inputType.getRank() - 1))
    return whyNot = "dynamic weight shape", failure();
  plan.bits = 8;
  plan.fields = 1;
  plan.chunk = kLanes;
  plan.signedCodes = true;
  plan.numGroups = groups;
  plan.group = plan.k / groups;
  if (plan.group % 4 != 0)
    return whyNot = "groups that are not whole 4-code words", failure();
  plan.scalesPerChannel = op.getWeightScales().getType().getDimSize(0) != 1;
  plan.scaleType = Float32Type::get(op.getContext());
  plan.w8a8 = true;
  plan.inputScalePerRow = !op.getInputScales().getType().hasStaticShape() ||
                          op.getInputScales().getType().getNumElements() != 1;
  if (!isConstantTensor(op.getWeight()) ||
      !isConstantTensor(op.getWeightScales()))
    return whyNot = "weights that are not constants", failure();
  return replaceWithKernelCall(
      op, plan, op.getInput(), {op.getWeight(), op.getWeightScales()},
      op.getInit(), options, whyNot, op.getInputScales());
}
