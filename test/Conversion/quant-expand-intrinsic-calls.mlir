// RUN: quant-opt %s --quant-expand-intrinsic-calls | FileCheck %s

// Calls of a declaration marked qtensor.llvm_intrinsic become
// llvm.call_intrinsic of the named intrinsic, and the declaration goes;
// other calls and functions stay.
// CHECK-NOT: __qtensor_x86_avx512_vpdpbusd_512
// CHECK-LABEL: func.func @dot
// CHECK-NEXT: %[[R:.*]] = llvm.call_intrinsic "llvm.x86.avx512.vpdpbusd.512"(%arg0, %arg1, %arg2) : (vector<16xi32>, vector<64xi8>, vector<64xi8>) -> vector<16xi32>
// CHECK-NEXT: %[[S:.*]] = call @other(%[[R]])
// CHECK-NEXT: return %[[S]]
// CHECK: func.func private @other(vector<16xi32>) -> vector<16xi32>
func.func private @__qtensor_x86_avx512_vpdpbusd_512(vector<16xi32>, vector<64xi8>, vector<64xi8>) -> vector<16xi32> attributes {qtensor.llvm_intrinsic = "llvm.x86.avx512.vpdpbusd.512"}

func.func @dot(%acc: vector<16xi32>, %a: vector<64xi8>, %b: vector<64xi8>) -> vector<16xi32> {
  %0 = call @__qtensor_x86_avx512_vpdpbusd_512(%acc, %a, %b) : (vector<16xi32>, vector<64xi8>, vector<64xi8>) -> vector<16xi32>
  %1 = call @other(%0) : (vector<16xi32>) -> vector<16xi32>
  return %1 : vector<16xi32>
}

func.func private @other(vector<16xi32>) -> vector<16xi32>
