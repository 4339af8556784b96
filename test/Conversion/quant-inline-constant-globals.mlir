// RUN: quant-opt %s -split-input-file --quant-inline-constant-globals -verify-diagnostics | FileCheck %s

// Constant globals are read in place; private globals nothing reads go,
// public and mutable ones stay.
// CHECK-LABEL: module
// CHECK-NOT: @global_seed
// CHECK-NOT: @w
// CHECK: ml_program.global public @kept
// CHECK: ml_program.global private mutable @state
// CHECK-LABEL: func.func @f
// CHECK: %[[W:.*]] = arith.constant dense<[1.000000e+00, 2.000000e+00]> : tensor<2xf32>
// CHECK-NOT: global_load_const
// CHECK: ml_program.global_load @state
// CHECK: return %[[W]]
module {
  ml_program.global private mutable @global_seed(dense<0> : tensor<i64>) : tensor<i64>
  ml_program.global private @w(dense<[1.0, 2.0]> : tensor<2xf32>) : tensor<2xf32>
  ml_program.global public @kept(dense<3.0> : tensor<2xf32>) : tensor<2xf32>
  ml_program.global private mutable @state(dense<0.0> : tensor<2xf32>) : tensor<2xf32>
  func.func @f() -> (tensor<2xf32>, tensor<2xf32>) {
    %w = ml_program.global_load_const @w : tensor<2xf32>
    %s = ml_program.global_load @state : tensor<2xf32>
    return %w, %s : tensor<2xf32>, tensor<2xf32>
  }
}

// -----

// A global defined elsewhere has no value to read.
module {
  ml_program.global private @w(#ml_program.extern : tensor<2xf32>) : tensor<2xf32>
  func.func @f() -> tensor<2xf32> {
    // expected-error@+1 {{the global @w has no constant value of type 'tensor<2xf32>'}}
    %w = ml_program.global_load_const @w : tensor<2xf32>
    return %w : tensor<2xf32>
  }
}
