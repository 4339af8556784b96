// RUN: quant-opt %s --split-input-file --verify-diagnostics --pass-pipeline="builtin.module(gpu.module(quant-replace-libdevice-calls))" | FileCheck %s

// CHECK-LABEL: gpu.module @exact
// CHECK-NOT: __nv_
// CHECK: llvm.intr.sqrt
// CHECK: %[[ROOT:.*]] = llvm.intr.sqrt
// CHECK: %[[ONE:.*]] = llvm.mlir.constant(1.000000e+00 : f32)
// CHECK: llvm.fdiv %[[ONE]], %[[ROOT]]
// CHECK: llvm.intr.roundeven
// CHECK: llvm.intr.floor
// CHECK: llvm.intr.fma
// CHECK-NOT: __nv_
gpu.module @exact {
  llvm.func @__nv_sqrtf(f32) -> f32
  llvm.func @__nv_rsqrtf(f32) -> f32
  llvm.func @__nv_rintf(f32) -> f32
  llvm.func @__nv_floor(f64) -> f64
  llvm.func @__nv_fmaf(f32, f32, f32) -> f32
  llvm.func @kernel(%x: f32, %d: f64) -> f32 {
    %a = llvm.call @__nv_sqrtf(%x) : (f32) -> f32
    %b = llvm.call @__nv_rsqrtf(%a) : (f32) -> f32
    %c = llvm.call @__nv_rintf(%b) : (f32) -> f32
    %e = llvm.call @__nv_floor(%d) : (f64) -> f64
    %f = llvm.call @__nv_fmaf(%a, %b, %c) : (f32, f32, f32) -> f32
    llvm.return %f : f32
  }
}

// -----

gpu.module @approximate {
  llvm.func @__nv_tanhf(f32) -> f32
  llvm.func @kernel(%x: f32) -> f32 {
    // expected-error@+1 {{kernel calls libdevice's __nv_tanhf, which quant-lower-to-nvvm cannot link (no CUDA toolkit) and has no exact replacement for}}
    %a = llvm.call @__nv_tanhf(%x) : (f32) -> f32
    llvm.return %a : f32
  }
}
