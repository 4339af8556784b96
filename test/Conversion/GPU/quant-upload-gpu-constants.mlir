// RUN: quant-opt %s --split-input-file --verify-diagnostics --quant-upload-gpu-constants | FileCheck %s

// Host code reads the weight's device copy, uploaded once through a slot
// that a module destructor releases.
// CHECK-NOT: qtensor.gpu_constants
// CHECK: llvm.mlir.global internal @__quant_gpu_copy_of_weight() {{.*}} : !llvm.ptr
// CHECK-LABEL: llvm.func @forward
// CHECK: %[[HOST:.*]] = llvm.mlir.addressof @weight
// CHECK: %[[SLOT:.*]] = llvm.mlir.addressof @__quant_gpu_copy_of_weight
// CHECK: %[[BYTES:.*]] = llvm.mlir.constant(128 : i64)
// CHECK: %[[DEVICE:.*]] = llvm.call @quantGpuDeviceConstant(%[[SLOT]], %[[HOST]], %[[BYTES]])
// CHECK: llvm.return %[[DEVICE]]
// CHECK: llvm.func internal @__quant_gpu_release_constants()
// CHECK: llvm.call @quantGpuReleaseDeviceConstant(
// CHECK: llvm.mlir.global_dtors dtors = [@__quant_gpu_release_constants]
module attributes {qtensor.gpu_constants = [@weight]} {
  llvm.mlir.global private constant @weight(dense<1.0> : tensor<32xf32>) : !llvm.array<32 x f32>
  llvm.func @forward() -> !llvm.ptr {
    %w = llvm.mlir.addressof @weight : !llvm.ptr
    llvm.return %w : !llvm.ptr
  }
}

// -----

// expected-error@+1 {{qtensor.gpu_constants names @missing, which is not a constant LLVM global}}
module attributes {qtensor.gpu_constants = [@missing]} {
}
