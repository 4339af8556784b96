// RUN: quant-opt %s -split-input-file --convert-qtensor-to-linalg | FileCheck %s

// The fused op becomes one reduction that reads packed bytes through
// `k floordiv 2` and group scales through `k floordiv 32`; no float weight
// tensor is created.
// CHECK-DAG: #[[X:.*]] = affine_map<(d0, d1, d2) -> (d0, d2)>
// CHECK-DAG: #[[Q:.*]] = affine_map<(d0, d1, d2) -> (d1, d2 floordiv 2)>
// CHECK-DAG: #[[S:.*]] = affine_map<(d0, d1, d2) -> (d1, d2 floordiv 32)>
// CHECK-DAG: #[[O:.*]] = affine_map<(d0, d1, d2) -> (d0, d1)>
// CHECK-LABEL: func.func @dequant_matmul
// CHECK-NOT: tensor<8x64xf32>
// CHECK: linalg.generic {indexing_maps = [#[[X]], #[[Q]], #[[S]], #[[S]], #[[O]]], iterator_types = ["parallel", "parallel", "reduction"]}
// CHECK-SAME: ins(%{{.*}}, %{{.*}}, %{{.*}}, %{{.*}} : tensor<4x64xf32>, tensor<8x32xi8>, tensor<8x2xf32>, tensor<8x2xi8>)
// CHECK: arith.shrui
// CHECK: arith.andi
// CHECK: arith.sitofp
// CHECK: arith.subf
// CHECK: arith.mulf
// CHECK: arith.mulf
// CHECK: arith.addf
// CHECK: linalg.yield
// CHECK-NOT: qtensor.
func.func @dequant_matmul(%x: tensor<4x64xf32>, %q: tensor<8x32xi8>, %s: tensor<8x2xf32>,
                          %z: tensor<8x2xi8>, %init: tensor<4x8xf32>) -> tensor<4x8xf32> {
  %y = qtensor.dequant_matmul %x, %q scales(%s : tensor<8x2xf32>) zero_points(%z : tensor<8x2xi8>)
         layout <ui4, block = [1, 32], packing = lsb_first> outs(%init : tensor<4x8xf32>)
         : tensor<4x64xf32>, tensor<8x32xi8> -> tensor<4x8xf32>
  return %y : tensor<4x8xf32>
}

// -----

// 3-bit codes may straddle bytes: two byte reads per element.
// CHECK-DAG: #[[B0:.*]] = affine_map<(d0, d1) -> (d0, (d1 * 3) floordiv 8)>
// CHECK-DAG: #[[B1:.*]] = affine_map<(d0, d1) -> (d0, (d1 * 3 + 2) floordiv 8)>
// CHECK-DAG: #[[PT:.*]] = affine_map<(d0, d1) -> (0, 0)>
// CHECK-LABEL: func.func @dequantize_si3
// CHECK: linalg.generic {indexing_maps = [#[[B0]], #[[B1]], #[[PT]], #{{.*}}], iterator_types = ["parallel", "parallel"]}
// CHECK: arith.shli
// CHECK: arith.ori
// CHECK: arith.shrsi
func.func @dequantize_si3(%q: tensor<2x3xi8>, %s: tensor<1x1xf32>) -> tensor<2x8xf32> {
  %w = qtensor.dequantize %q scales(%s : tensor<1x1xf32>)
         layout <si3, block = [0, 0], packing = lsb_first> : tensor<2x3xi8> -> tensor<2x8xf32>
  return %w : tensor<2x8xf32>
}

// -----

// Quantization rounds half to even and clamps with maxnumf/minnumf.
// CHECK-LABEL: func.func @quantize_si8
// CHECK: linalg.generic
// CHECK: arith.divf
// CHECK: math.roundeven
// CHECK: arith.maxnumf
// CHECK: arith.minnumf
// CHECK: arith.fptosi
// CHECK: arith.trunci
func.func @quantize_si8(%x: tensor<2x8xf32>, %s: tensor<2x1xf32>) -> tensor<2x8xi8> {
  %q = qtensor.quantize %x scales(%s : tensor<2x1xf32>)
         layout <si8, block = [1, 0]> : tensor<2x8xf32> -> tensor<2x8xi8>
  return %q : tensor<2x8xi8>
}

// -----

// Lookup formats decode through a constant table.
// CHECK-LABEL: func.func @dequantize_nf4
// CHECK: arith.constant dense<[-1.000000e+00, -0.6961928, {{.*}}, 0.722956836, 1.000000e+00]> : tensor<16xf32>
// CHECK: linalg.generic
// CHECK: tensor.extract
func.func @dequantize_nf4(%q: tensor<2x4xi8>, %s: tensor<2x1xf32>) -> tensor<2x8xf32> {
  %w = qtensor.dequantize %q scales(%s : tensor<2x1xf32>)
         layout <nf4, block = [1, 0], packing = msb_first> : tensor<2x4xi8> -> tensor<2x8xf32>
  return %w : tensor<2x8xf32>
}

// -----

// Act-order group index: scales gathered with tensor.extract.
// CHECK-LABEL: func.func @group_index
// CHECK: linalg.generic
// CHECK: arith.index_cast
// CHECK: tensor.extract %{{.*}}[%{{.*}}, %{{.*}}] : tensor<2x2xf32>
func.func @group_index(%q: tensor<2x8xi8>, %s: tensor<2x2xf32>, %g: tensor<8xi32>) -> tensor<2x8xf32> {
  %w = qtensor.dequantize %q scales(%s : tensor<2x2xf32>) group_index(%g : tensor<8xi32>)
         layout <si8, block = [1, 4]> : tensor<2x8xi8> -> tensor<2x8xf32>
  return %w : tensor<2x8xf32>
}

// -----

// Per-token dynamic quantization: absmax reduction, scale, encode.
// CHECK-LABEL: func.func @dynamic
// CHECK: linalg.fill
// CHECK: linalg.generic {{.*}} iterator_types = ["parallel", "reduction"]
// CHECK: math.absf
// CHECK: arith.maxnumf
// CHECK: linalg.generic
// CHECK: arith.constant 9.99999974E-6 : f32
// CHECK: arith.constant 1.270000e+02 : f32
// CHECK: linalg.generic
// CHECK: math.roundeven
func.func @dynamic(%x: tensor<3x16xf32>) -> (tensor<3x16xi8>, tensor<3x1xf32>) {
  %q, %s = qtensor.dynamic_quantize %x : tensor<3x16xf32> -> tensor<3x16xi8>, tensor<3x1xf32>
  return %q, %s : tensor<3x16xi8>, tensor<3x1xf32>
}

// -----

// A gated epilogue: the plain product over all 40 rows into zeros, then a
// generic that reads channel n's gate row 2 (n / 16) * 16 + n mod 16 and
// up row (that + min(16, 20 - (n / 16) * 16)) and applies the epilogue
// with the init.
// CHECK-LABEL: func.func @gated
// CHECK: %[[Z:.*]] = linalg.fill ins(%{{.*}} : f32) outs(%{{.*}} : tensor<2x40xf32>)
// CHECK: %[[P:.*]] = linalg.generic {{.*}} iterator_types = ["parallel", "parallel", "reduction"]{{.*}} outs(%[[Z]] : tensor<2x40xf32>)
// CHECK: linalg.generic {{.*}} ins(%arg3 : tensor<2x20xf32>) outs(%{{.*}} : tensor<2x20xf32>) {
// CHECK-NEXT: ^bb0(%[[INIT:.*]]: f32, %{{.*}}: f32):
// CHECK: %[[N:.*]] = linalg.index 1 : index
// CHECK: %[[J:.*]] = arith.divui %[[N]]
// CHECK: %[[FIRST:.*]] = arith.muli %[[J]]
// CHECK: %[[LEFT:.*]] = arith.subi %{{.*}}, %[[FIRST]] : index
// CHECK: %[[ROWS:.*]] = arith.minsi %{{.*}}, %[[LEFT]] : index
// CHECK: %[[IN:.*]] = arith.remui %[[N]]
// CHECK: %[[TWICE:.*]] = arith.muli %[[FIRST]]
// CHECK: %[[GROW:.*]] = arith.addi %[[TWICE]], %[[IN]] : index
// CHECK: %[[UROW:.*]] = arith.addi %[[GROW]], %[[ROWS]] : index
// CHECK: %[[G:.*]] = tensor.extract %[[P]][%{{.*}}, %[[GROW]]]
// CHECK: %[[U:.*]] = tensor.extract %[[P]][%{{.*}}, %[[UROW]]]
// CHECK: %[[M:.*]] = arith.mulf %[[G]], %[[U]] : f32
// CHECK: %[[R:.*]] = arith.addf %[[M]], %[[INIT]] : f32
// CHECK: linalg.yield %[[R]] : f32
func.func @gated(%x: tensor<2x32xf32>, %q: tensor<40x32xi8>, %s: tensor<40x1xf32>, %i: tensor<2x20xf32>) -> tensor<2x20xf32> {
  %y = qtensor.dequant_matmul %x, %q scales(%s : tensor<40x1xf32>) layout <si8, block = [1, 0]> outs(%i : tensor<2x20xf32>) gated(16) {
  ^bb0(%g: f32, %u: f32, %o: f32):
    %m = arith.mulf %g, %u : f32
    %r = arith.addf %m, %o : f32
    qtensor.yield %r : f32
  } : tensor<2x32xf32>, tensor<40x32xi8> -> tensor<2x20xf32>
  return %y : tensor<2x20xf32>
}
