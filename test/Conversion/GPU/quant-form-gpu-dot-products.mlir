// RUN: quant-opt %s --pass-pipeline="builtin.module(gpu.module(quant-form-gpu-dot-products))" | FileCheck %s

// CHECK-LABEL: gpu.func @dot
// CHECK: %[[D:.*]] = nvvm.dot.accumulate.4way %{{.*}} <signed>, %{{.*}} <signed>, %{{.*}} : vector<4xi8>, vector<4xi8>
// CHECK-NOT: vector.reduction
// CHECK: return %[[D]]
// CHECK-LABEL: gpu.func @zero_extended
// CHECK: vector.reduction
gpu.module @kernels {
  gpu.func @dot(%a: vector<4xi8>, %b: vector<4xi8>, %acc: i32) -> i32 {
    %wa = arith.extsi %a : vector<4xi8> to vector<4xi32>
    %wb = arith.extsi %b : vector<4xi8> to vector<4xi32>
    %p = arith.muli %wa, %wb : vector<4xi32>
    %s = vector.reduction <add>, %p, %acc : vector<4xi32> into i32
    gpu.return %s : i32
  }
  // Unsigned bytes are not this dot product's.
  gpu.func @zero_extended(%a: vector<4xi8>, %b: vector<4xi8>, %acc: i32) -> i32 {
    %wa = arith.extui %a : vector<4xi8> to vector<4xi32>
    %wb = arith.extsi %b : vector<4xi8> to vector<4xi32>
    %p = arith.muli %wa, %wb : vector<4xi32>
    %s = vector.reduction <add>, %p, %acc : vector<4xi32> into i32
    gpu.return %s : i32
  }
}
