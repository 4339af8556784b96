//===- KernelSupport.cpp - Helpers shared by the CPU kernels --------------===//
//
// Part of the quant-opt project, under the Apache License v2.0 with LLVM
// Exceptions.
//
//===----------------------------------------------------------------------===//

#include "CPUKernels.h"
#include "quant/Dialect/QTensor/Utils/GatedEpilogue.h"
#include "quant/Dialect/QTensor/Utils/WeightMatching.h"

#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"

#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/xxhash.h"

using namespace mlir;
using namespace mlir::qtensor;
using namespace mlir::qtensor::cpu;

namespace {
std::string typeName(Type type) {
  std::string name;
  llvm::raw_string_ostream os(name);
  os << type;
  return name;
}
} // namespace

std::string cpu::derivedConstantName(Value storage) {
  std::string name = getWeightName(storage.getDefiningOp());
  return name.empty() ? "weight" : name;
}

std::string cpu::kernelName(const DequantKernelPlan &plan, unsigned threads,
                            StringRef suffix) {
  std::string name;
  if (plan.f32Weights) {
    name = llvm::formatv("__qtensor_kernel_matmul_{0}x{1}_f32{2}", plan.n,
                         plan.k, plan.weightKN ? "_kn" : "");
  } else if (plan.typedHalfStorage) {
    name = llvm::formatv("__qtensor_kernel_matmul_{0}x{1}_{2}", plan.n, plan.k,
                         typeName(plan.halfType));
  } else if (plan.isGGML() || plan.isHalf()) {
    name = llvm::formatv("__qtensor_kernel_ggml_matmul_{0}x{1}_{2}", plan.n,
                         plan.k, plan.ggmlName);
  } else {
    std::string format =
        plan.isLookup()
            ? plan.lookupName
            : llvm::formatv("{0}{1}", plan.signedCodes ? "si" : "ui", plan.bits)
                  .str();
    if (plan.msbFirst)
      format += "msb";
    // The lookup's instructions differ per instruction set.
    static constexpr const char *isaSuffixes[] = {"", "_avx2", "_avx512"};
    if (plan.isLookup())
      format += isaSuffixes[int(plan.isa)];
    name = llvm::formatv(
        "__qtensor_kernel_dequant_matmul_{0}x{1}_{2}_g{3}{4}_s{5}", plan.n,
        plan.k, format, plan.group, plan.scalesPerChannel ? "" : "_pt",
        typeName(plan.scaleType));
    if (plan.zeroType)
      name += "_z" + typeName(plan.zeroType);
  }
  if (plan.ggmlParams)
    name += "_params";
  if (plan.epilogue) {
    // Kernels share an epilogue when its ops, attributes and operands (by
    // position) are the same; the text is hashed with a fixed function so
    // that names do not change from run to run.
    llvm::DenseMap<Value, unsigned> numbers;
    for (BlockArgument arg : plan.epilogue->getArguments())
      numbers[arg] = numbers.size();
    std::string text;
    llvm::raw_string_ostream os(text);
    for (Operation &op : *plan.epilogue) {
      os << op.getName() << op.getAttrDictionary();
      for (Value operand : op.getOperands())
        os << " " << numbers.lookup(operand);
      for (Value result : op.getResults()) {
        os << " : " << result.getType();
        numbers[result] = numbers.size();
      }
      os << ";";
    }
    uint64_t hash = llvm::xxh3_64bits(text);
    name += llvm::formatv("_gated{0:x}{1}", hash,
                          plan.epilogueReadsInit ? "_init" : "")
                .str();
  }
  name += suffix;
  if (plan.accumulate)
    name += "_acc";
  if (threads > 1)
    name += llvm::formatv("_t{0}", threads).str();
  return name;
}

func::FuncOp cpu::createKernelFunction(ModuleOp module, Location loc,
                                       StringRef name, TypeRange types,
                                       unsigned firstBuffer) {
  OpBuilder b(module.getContext());
  b.setInsertionPointToEnd(module.getBody());
  auto func =
      func::FuncOp::create(b, loc, name, b.getFunctionType(types, TypeRange{}));
  func.setPrivate();
  // The kernels write only their output, which is a fresh allocation.
  for (unsigned i = firstBuffer; i < types.size(); ++i)
    func.setArgAttr(i, "llvm.noalias", b.getUnitAttr());
  func.addEntryBlock();
  return func;
}

Value KernelEmitter::loadGroupScale(const DequantKernelPlan &plan,
                                    Value storage, Value scales, Value n,
                                    Value paramRow, Value g) {
  if (plan.isFloatWeight())
    return f32Const(1.0);
  if (!plan.isGGML())
    return toF32(
        memref::LoadOp::create(b, loc, scales, ValueRange{paramRow, g}));
  if (plan.sixBitCodes) {
    // q6_K: 16 int8 scales at byte 192, the f16 d at byte 208; group g is
    // scale g mod 16 of block g / 16. d * sc as ggml computes it.
    Value block = arith::DivUIOp::create(b, loc, g, index(16));
    Value base = mul(block, index(plan.ggmlBlockBytes));
    Value scaleByte = memref::LoadOp::create(
        b, loc, storage,
        ValueRange{n, add(add(base, index(192)),
                          arith::RemUIOp::create(b, loc, g, index(16)))});
    Value d = loadF16(storage, n, add(base, index(208)));
    return arith::MulFOp::create(
        b, loc, d, arith::SIToFPOp::create(b, loc, b.getF32Type(), scaleByte));
  }
  if (plan.threeBitCodes) {
    // q3_K: 16 6-bit scales in the 12 bytes at 96 (scale s: its low 4 bits
    // the low (s < 8) or high nibble of byte s mod 8, its high 2 bits bits
    // 2 (s / 4) of byte 8 + s mod 4), stored plus 32; the f16 d at 108.
    // d * (sc - 32) as ggml computes it.
    Type i32 = b.getI32Type();
    Value block = arith::DivUIOp::create(b, loc, g, index(16));
    Value s = arith::RemUIOp::create(b, loc, g, index(16));
    Value base = mul(block, index(plan.ggmlBlockBytes));
    auto byteAt = [&](Value at) -> Value {
      return arith::ExtUIOp::create(
          b, loc, i32,
          memref::LoadOp::create(b, loc, storage,
                                 ValueRange{n, add(add(base, index(96)), at)}));
    };
    auto asI32 = [&](Value v) -> Value {
      return arith::IndexCastOp::create(b, loc, i32, v);
    };
    Value lowByte = byteAt(arith::RemUIOp::create(b, loc, s, index(8)));
    Value lowShift =
        asI32(mul(arith::DivUIOp::create(b, loc, s, index(8)), index(4)));
    Value low = arith::AndIOp::create(
        b, loc, arith::ShRUIOp::create(b, loc, lowByte, lowShift),
        i32Const(15));
    Value highByte =
        byteAt(add(index(8), arith::RemUIOp::create(b, loc, s, index(4))));
    Value highShift =
        asI32(mul(arith::DivUIOp::create(b, loc, s, index(4)), index(2)));
    Value high = arith::AndIOp::create(
        b, loc, arith::ShRUIOp::create(b, loc, highByte, highShift),
        i32Const(3));
    Value scale = arith::SubIOp::create(
        b, loc,
        arith::OrIOp::create(b, loc, low,
                             arith::ShLIOp::create(b, loc, high, i32Const(4))),
        i32Const(32));
    Value d = loadF16(storage, n, add(base, index(108)));
    return arith::MulFOp::create(
        b, loc, d, arith::SIToFPOp::create(b, loc, b.getF32Type(), scale));
  }
  return loadF16(storage, n, mul(g, index(plan.ggmlBlockBytes)));
}

Value KernelEmitter::loadF16(Value storage, Value n, Value column) {
  auto byteAt = [&](Value at) {
    Value byte = memref::LoadOp::create(b, loc, storage, ValueRange{n, at});
    return arith::ExtUIOp::create(b, loc, b.getI16Type(), byte);
  };
  Value low = byteAt(column), high = byteAt(add(column, index(1)));
  Value bits = arith::OrIOp::create(
      b, loc, low,
      arith::ShLIOp::create(
          b, loc, high,
          arith::ConstantOp::create(b, loc, b.getI16IntegerAttr(8))));
  return toF32(arith::BitcastOp::create(b, loc, b.getF16Type(), bits));
}

std::pair<Value, Value>
KernelEmitter::loadSubBlockScaleAndMin(const DequantKernelPlan &plan,
                                       Value storage, Value n, Value subBlock) {
  if (plan.isQ2K()) {
    // A q2_K super-block: byte s of its first 16 holds sub-block s's scale
    // (low nibble) and min (high nibble); f16 d and dmin at bytes 80, 82.
    Value base = mul(arith::DivUIOp::create(b, loc, subBlock, index(16)),
                     index(plan.ggmlBlockBytes));
    Value byte = arith::ExtUIOp::create(
        b, loc, b.getI32Type(),
        memref::LoadOp::create(
            b, loc, storage,
            ValueRange{n, add(base, arith::RemUIOp::create(b, loc, subBlock,
                                                           index(16)))}));
    auto times = [&](int64_t at, Value v) -> Value {
      return arith::MulFOp::create(
          b, loc, loadF16(storage, n, add(base, index(at))),
          arith::UIToFPOp::create(b, loc, b.getF32Type(), v));
    };
    return {times(80, arith::AndIOp::create(b, loc, byte, i32Const(15))),
            times(82, arith::ShRUIOp::create(b, loc, byte, i32Const(4)))};
  }
  // A q4_K super-block: f16 d, f16 dmin, 12 bytes of 6-bit scales and mins
  // (sub-blocks 0-3: the low 6 bits of bytes j and j + 4; sub-blocks 4-7:
  // the nibbles of byte j + 4 with the top 2 bits of bytes j - 4 and j),
  // then the codes.
  Type i32 = b.getI32Type();
  Value block = arith::DivUIOp::create(b, loc, subBlock, index(8));
  Value j = arith::RemUIOp::create(b, loc, subBlock, index(8));
  Value base = mul(block, index(plan.ggmlBlockBytes));
  Value d = loadF16(storage, n, base);
  Value dmin = loadF16(storage, n, add(base, index(2)));
  auto byteAt = [&](Value at) -> Value {
    Value byte = memref::LoadOp::create(
        b, loc, storage, ValueRange{n, add(base, add(at, index(4)))});
    return arith::ExtUIOp::create(b, loc, i32, byte);
  };
  auto andI = [&](Value v, int64_t mask) {
    return arith::AndIOp::create(b, loc, v, i32Const(mask));
  };
  auto shr = [&](Value v, int64_t bits) {
    return arith::ShRUIOp::create(b, loc, v, i32Const(bits));
  };
  auto topTwoBits = [&](Value v) {
    return arith::ShLIOp::create(b, loc, shr(v, 6), i32Const(4));
  };
  Value firstHalf =
      arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ult, j, index(4));
  Value a = byteAt(j);
  Value c = byteAt(add(j, index(4)));
  Value e =
      byteAt(arith::SelectOp::create(b, loc, firstHalf, j, sub(j, index(4))));
  Value sc = arith::SelectOp::create(
      b, loc, firstHalf, andI(a, 63),
      arith::OrIOp::create(b, loc, andI(c, 15), topTwoBits(e)));
  Value m = arith::SelectOp::create(
      b, loc, firstHalf, andI(c, 63),
      arith::OrIOp::create(b, loc, shr(c, 4), topTwoBits(a)));
  auto toFloat = [&](Value v) {
    return arith::UIToFPOp::create(b, loc, b.getF32Type(), v);
  };
  return {arith::MulFOp::create(b, loc, d, toFloat(sc)),
          arith::MulFOp::create(b, loc, dmin, toFloat(m))};
}

Value KernelEmitter::loadGroupOffset(Value zeros, Value row, Value g,
                                     int64_t offset) {
  Value constant = f32Const(double(offset));
  if (!zeros)
    return constant;
  Value zero = memref::LoadOp::create(b, loc, zeros, ValueRange{row, g});
  return arith::AddFOp::create(b, loc, toF32(zero), constant);
}

void KernelEmitter::forEachStreamTile(
    Value nBegin, Value nEnd, Value rows,
    function_ref<void(Value, int64_t, Value, int64_t)> body,
    int64_t loneRowChannels) {
  Value nPairs = add(nBegin, roundDown(sub(nEnd, nBegin), 2));
  forLoop(index(0), rows, kRowsPerBlock, {}, [&](Value mBegin, ValueRange) {
    Value mEnd = minIndex(add(mBegin, index(kRowsPerBlock)), rows);
    Value mFull = add(mBegin, roundDown(sub(mEnd, mBegin), 4));
    auto rowTiles = [&](Value n0, int64_t channels) {
      forLoop(mBegin, mFull, 4, {}, [&](Value m0, ValueRange) {
        body(n0, channels, m0, 4);
        return SmallVector<Value>();
      });
      return SmallVector<Value>();
    };
    forLoop(nBegin, nPairs, 2, {},
            [&](Value n0, ValueRange) { return rowTiles(n0, 2); });
    forLoop(nPairs, nEnd, 1, {},
            [&](Value n0, ValueRange) { return rowTiles(n0, 1); });
    forLoop(mFull, mEnd, 1, {}, [&](Value m0, ValueRange) {
      Value loneEnd = nBegin;
      if (loneRowChannels == 2) {
        loneEnd = nPairs;
        forLoop(nBegin, nPairs, 2, {}, [&](Value n0, ValueRange) {
          body(n0, 2, m0, 1);
          return SmallVector<Value>();
        });
      }
      forLoop(loneEnd, nEnd, 1, {}, [&](Value n0, ValueRange) {
        body(n0, 1, m0, 1);
        return SmallVector<Value>();
      });
      return SmallVector<Value>();
    });
    return SmallVector<Value>();
  });
}

Value KernelEmitter::productsBuffer(const DequantKernelPlan &plan, Value out) {
  if (!plan.epilogue)
    return out;
  // The buffer deallocation pipeline frees it.
  Value rows = memref::DimOp::create(b, loc, out, 0);
  return memref::AllocOp::create(
      b, loc, MemRefType::get({ShapedType::kDynamic, plan.n}, b.getF32Type()),
      ValueRange{rows});
}

void KernelEmitter::emitProductTaskLoop(const DequantKernelPlan &plan,
                                        unsigned threads, func::FuncOp taskFunc,
                                        SmallVector<Value> taskArgs, Value out,
                                        StringRef taskName) {
  Value numTasks = index(llvm::divideCeil(plan.n, kChannelsPerTask));
  if (!plan.epilogue) {
    emitTaskLoop(threads, numTasks, taskFunc, taskArgs);
    return;
  }
  static_assert(kChannelsPerTask == 2 * kLanes,
                "a task is one block of gate rows and one of up rows");
  Type f32 = b.getF32Type();
  taskArgs.push_back(out);

  SmallVector<Type> types{b.getIndexType()};
  for (Value arg : taskArgs)
    types.push_back(arg.getType());
  auto module = taskFunc->getParentOfType<ModuleOp>();
  func::FuncOp wrapper = createKernelFunction(module, loc, taskName, types, 1);
  {
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(&wrapper.getBody().front());
    ValueRange args = wrapper.getArguments();
    func::CallOp::create(b, loc, taskFunc, args.drop_back());
    Value task = args.front(), blockProducts = args[args.size() - 2],
          blockOut = args.back();
    // Block `task`: gate channels [16 task, 16 task + count), whose gate
    // rows start at 32 task and up rows at 32 task + count.
    int64_t channels = plan.outputChannels();
    Value first = mul(task, index(kLanes));
    Value count = minIndex(index(kLanes), sub(index(channels), first));
    Value gateColumn = mul(task, index(kChannelsPerTask));
    Value upColumn = add(gateColumn, count);
    auto vf32 = VectorType::get({kLanes}, f32);
    Value mask = vector::CreateMaskOp::create(
        b, loc, VectorType::get({kLanes}, b.getI1Type()), ValueRange{count});
    Value zeros = splat(vf32, 0.0);
    Value numRows = memref::DimOp::create(b, loc, blockOut, 0);
    forLoop(index(0), numRows, 1, {}, [&](Value r, ValueRange) {
      auto load = [&](Value buffer, Value column) {
        return vector::MaskedLoadOp::create(b, loc, vf32, buffer,
                                            ValueRange{r, column}, mask, zeros);
      };
      Value gate = load(blockProducts, gateColumn);
      Value up = load(blockProducts, upColumn);
      Value init = plan.epilogueReadsInit ? load(blockOut, first) : zeros;
      Value result = applyGatedEpilogue(b, loc, plan.epilogue, gate, up, init);
      vector::MaskedStoreOp::create(b, loc, blockOut, ValueRange{r, first},
                                    mask, result);
      return SmallVector<Value>();
    });
    func::ReturnOp::create(b, loc);
  }
  emitTaskLoop(threads, numTasks, wrapper, taskArgs);
}

void KernelEmitter::emitTaskLoop(unsigned threads, Value numTasks,
                                 func::FuncOp taskFunc, ValueRange taskArgs) {
  auto callTask = [&](OpBuilder &nested, Location l, Value task) {
    SmallVector<Value> operands{task};
    operands.append(taskArgs.begin(), taskArgs.end());
    func::CallOp::create(nested, l, taskFunc, operands);
  };
  if (threads > 1) {
    scf::ParallelOp::create(b, loc, ValueRange{index(0)}, ValueRange{numTasks},
                            ValueRange{index(1)},
                            [&](OpBuilder &nested, Location l, ValueRange ivs) {
                              callTask(nested, l, ivs[0]);
                            });
    return;
  }
  scf::ForOp::create(b, loc, index(0), numTasks, index(1), ValueRange{},
                     [&](OpBuilder &nested, Location l, Value iv, ValueRange) {
                       callTask(nested, l, iv);
                       scf::YieldOp::create(nested, l);
                     });
}

func::FuncOp cpu::getOrCreateIntrinsicDeclaration(ModuleOp module,
                                                  StringRef intrinsic,
                                                  FunctionType type) {
  // llvm.x86.avx512.vpdpbusd.512 -> __qtensor_x86_avx512_vpdpbusd_512
  std::string name = "__qtensor_" + intrinsic.drop_front(5).str();
  std::replace(name.begin(), name.end(), '.', '_');
  if (auto existing = module.lookupSymbol<func::FuncOp>(name))
    return existing;
  OpBuilder b = OpBuilder::atBlockBegin(module.getBody());
  auto func = func::FuncOp::create(b, module.getLoc(), name, type);
  func.setPrivate();
  func->setAttr(QTensorDialect::LlvmIntrinsicAttrHelper::getNameStr(),
                b.getStringAttr(intrinsic));
  return func;
}

void KernelEmitter::storeRowTile(Value out, ArrayRef<Value> rows, Value n0,
                                 ArrayRef<Value> acc, bool accumulate) {
  auto vf32 = VectorType::get({kLanes}, b.getF32Type());
  int64_t halves = acc.size() / rows.size();
  Value padding = f32Const(0.0);
  for (auto [r, row] : llvm::enumerate(rows)) {
    for (int64_t h = 0; h < halves; ++h) {
      Value column = add(n0, index(h * kLanes));
      Value sum = acc[r * halves + h];
      if (accumulate)
        sum = arith::AddFOp::create(
            b, loc,
            vector::TransferReadOp::create(b, loc, vf32, out,
                                           ValueRange{row, column}, padding,
                                           ArrayRef<bool>{false}),
            sum);
      vector::TransferWriteOp::create(b, loc, sum, out, ValueRange{row, column},
                                      ArrayRef<bool>{false});
    }
  }
}

void KernelEmitter::emitIfElse(Value condition, function_ref<void()> thenBody,
                               function_ref<void()> elseBody) {
  auto region = [&](function_ref<void()> body) {
    return [&, body](OpBuilder &nested, Location l) {
      OpBuilder::InsertionGuard guard(b);
      b.setInsertionPoint(nested.getInsertionBlock(),
                          nested.getInsertionPoint());
      body();
      scf::YieldOp::create(b, l);
    };
  };
  scf::IfOp::create(b, loc, condition, region(thenBody), region(elseBody));
}
