//===- ReplaceLibdeviceCalls.cpp - Exact intrinsics for libdevice calls ---===//
//
// Part of the quant-opt project, under the Apache License v2.0 with LLVM
// Exceptions.
//
//===----------------------------------------------------------------------===//

#include "quant/Conversion/Passes.h"

#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/IR/Builders.h"
#include "llvm/ADT/StringSwitch.h"

namespace mlir {
namespace qtensor {
#define GEN_PASS_DEF_REPLACELIBDEVICECALLSPASS
#include "quant/Conversion/Passes.h.inc"
} // namespace qtensor
} // namespace mlir

using namespace mlir;

namespace {

enum class Replacement {
  None,
  Sqrt,
  Rsqrt,
  Fabs,
  Floor,
  Ceil,
  Trunc,
  RoundEven,
  Fma,
  MinNum,
  MaxNum,
  CopySign
};

/// The exact replacement of libdevice function `name` (`__nv_sqrtf`), for
/// f32 (suffix f) and f64 forms alike.
Replacement getReplacement(StringRef name) {
  if (!name.consume_front("__nv_"))
    return Replacement::None;
  name.consume_back("f");
  return llvm::StringSwitch<Replacement>(name)
      .Case("sqrt", Replacement::Sqrt)
      .Case("rsqrt", Replacement::Rsqrt)
      .Case("fabs", Replacement::Fabs)
      .Case("floor", Replacement::Floor)
      .Case("ceil", Replacement::Ceil)
      .Case("trunc", Replacement::Trunc)
      .Cases({"rint", "nearbyint"}, Replacement::RoundEven)
      .Case("fma", Replacement::Fma)
      .Case("fmin", Replacement::MinNum)
      .Case("fmax", Replacement::MaxNum)
      .Case("copysign", Replacement::CopySign)
      .Default(Replacement::None);
}

Value buildReplacement(OpBuilder &builder, Location loc, Replacement kind,
                       ValueRange args) {
  switch (kind) {
  case Replacement::Sqrt:
    return LLVM::SqrtOp::create(builder, loc, args[0]);
  case Replacement::Rsqrt: {
    Value root = LLVM::SqrtOp::create(builder, loc, args[0]);
    Value one =
        LLVM::ConstantOp::create(builder, loc, args[0].getType(),
                                 builder.getFloatAttr(args[0].getType(), 1.0));
    return LLVM::FDivOp::create(builder, loc, one, root);
  }
  case Replacement::Fabs:
    return LLVM::FAbsOp::create(builder, loc, args[0]);
  case Replacement::Floor:
    return LLVM::FFloorOp::create(builder, loc, args[0]);
  case Replacement::Ceil:
    return LLVM::FCeilOp::create(builder, loc, args[0]);
  case Replacement::Trunc:
    return LLVM::FTruncOp::create(builder, loc, args[0]);
  case Replacement::RoundEven:
    return LLVM::RoundEvenOp::create(builder, loc, args[0]);
  case Replacement::Fma:
    return LLVM::FMAOp::create(builder, loc, args[0], args[1], args[2]);
  case Replacement::MinNum:
    return LLVM::MinNumOp::create(builder, loc, args[0], args[1]);
  case Replacement::MaxNum:
    return LLVM::MaxNumOp::create(builder, loc, args[0], args[1]);
  case Replacement::CopySign:
    return LLVM::CopySignOp::create(builder, loc, args[0], args[1]);
  case Replacement::None:
    break;
  }
  return Value();
}

struct ReplaceLibdeviceCallsPass
    : qtensor::impl::ReplaceLibdeviceCallsPassBase<ReplaceLibdeviceCallsPass> {
  void runOnOperation() override {
    gpu::GPUModuleOp module = getOperation();
    OpBuilder builder(&getContext());
    SmallVector<LLVM::CallOp> calls;
    module.walk([&](LLVM::CallOp call) {
      std::optional<StringRef> callee = call.getCallee();
      if (callee && callee->starts_with("__nv_"))
        calls.push_back(call);
    });
    for (LLVM::CallOp call : calls) {
      StringRef callee = *call.getCallee();
      Replacement kind = getReplacement(callee);
      if (kind == Replacement::None) {
        call.emitError() << "kernel calls libdevice's " << callee
                         << ", which quant-lower-to-nvvm cannot link (no "
                            "CUDA toolkit) and has no exact replacement for";
        return signalPassFailure();
      }
      builder.setInsertionPoint(call);
      Value result =
          buildReplacement(builder, call.getLoc(), kind, call.getArgOperands());
      call.getResult().replaceAllUsesWith(result);
      call.erase();
    }
    // Declarations nothing calls any more.
    for (auto function :
         llvm::make_early_inc_range(module.getOps<LLVM::LLVMFuncOp>()))
      if (function.isExternal() && function.getName().starts_with("__nv_") &&
          function.symbolKnownUseEmpty(module))
        function.erase();
  }
};

} // namespace
