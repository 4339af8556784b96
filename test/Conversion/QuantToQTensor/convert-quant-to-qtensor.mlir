// RUN: quant-opt %s -split-input-file --convert-quant-to-qtensor -canonicalize | FileCheck %s
// RUN: quant-opt %s -split-input-file --convert-quant-to-qtensor -verify-diagnostics -o /dev/null

// Per-tensor i8 with a zero-point.
// CHECK-LABEL: func.func @per_tensor
// CHECK-DAG: %[[C:.*]] = arith.constant dense<{{\[}}[1, -2], [3, 127]]> : tensor<2x2xi8>
// CHECK-DAG: %[[S:.*]] = arith.constant dense<5.000000e-01> : tensor<1x1xf32>
// CHECK-DAG: %[[Z:.*]] = arith.constant dense<3> : tensor<1x1xi32>
// CHECK: %[[D:.*]] = qtensor.dequantize %[[C]] scales(%[[S]] : tensor<1x1xf32>) zero_points(%[[Z]] : tensor<1x1xi32>) layout <si8, block = [0, 0]> : tensor<2x2xi8> -> tensor<2x2xf32>
// CHECK-NOT: quant.
// CHECK: return %[[D]]
!qt = !quant.uniform<i8:f32, 0.5:3>
func.func @per_tensor() -> tensor<2x2xf32> {
  %c = arith.constant dense<[[1, -2], [3, 127]]> : tensor<2x2xi8>
  %q = quant.scast %c : tensor<2x2xi8> to tensor<2x2x!qt>
  %f = quant.dcast %q : tensor<2x2x!qt> to tensor<2x2xf32>
  return %f : tensor<2x2xf32>
}

// -----

// Per-axis (axis 0) unsigned 4-bit storage without zero-points: one scale
// per row, block [1, 0], codes widened to i8.
// CHECK-LABEL: func.func @per_axis
// CHECK-DAG: %[[C:.*]] = arith.constant dense<{{\[}}[1, 15], [0, 7]]> : tensor<2x2xi8>
// CHECK-DAG: %[[S:.*]] = arith.constant dense<{{\[}}[2.000000e+00], [2.500000e-01]]> : tensor<2x1xf32>
// CHECK: qtensor.dequantize %[[C]] scales(%[[S]] : tensor<2x1xf32>) layout <ui4, block = [1, 0]> : tensor<2x2xi8> -> tensor<2x2xf32>
!qa = !quant.uniform<u4:f32:0, {2.0, 0.25}>
func.func @per_axis() -> tensor<2x2xf32> {
  %c = arith.constant dense<[[1, 15], [0, 7]]> : tensor<2x2xi4>
  %q = quant.scast %c : tensor<2x2xi4> to tensor<2x2x!qa>
  %f = quant.dcast %q : tensor<2x2x!qa> to tensor<2x2xf32>
  return %f : tensor<2x2xf32>
}

// -----

// Non-constant storage stays as it is, with a remark.
// CHECK-LABEL: func.func @not_constant
// CHECK: quant.dcast
!qn = !quant.uniform<i8:f32, 0.5>
func.func @not_constant(%q: tensor<4x!qn>) -> tensor<4xf32> {
  // expected-remark@+1 {{not converted to qtensor: the quantized value is not a quant.scast of an integer constant}}
  %f = quant.dcast %q : tensor<4x!qn> to tensor<4xf32>
  return %f : tensor<4xf32>
}

// -----

// Storage wider than 8 bits cannot be expressed.
// CHECK-LABEL: func.func @too_wide
// CHECK: quant.dcast
!qw = !quant.uniform<i16:f32, 0.5>
func.func @too_wide() -> tensor<2xf32> {
  %c = arith.constant dense<[1, 2]> : tensor<2xi16>
  %q = quant.scast %c : tensor<2xi16> to tensor<2x!qw>
  // expected-remark@+1 {{not converted to qtensor: storage width 16 is outside the supported 2..8 bits}}
  %f = quant.dcast %q : tensor<2x!qw> to tensor<2xf32>
  return %f : tensor<2xf32>
}
