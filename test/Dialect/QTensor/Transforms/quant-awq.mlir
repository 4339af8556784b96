// RUN: quant-opt %s --split-input-file --quant-awq="group-size=2 calibration=%S/Inputs/smoothquant-x.npy" 2>/dev/null | FileCheck %s
// RUN: quant-opt %s --split-input-file --quant-awq="group-size=2 calibration=%S/Inputs/smoothquant-x.npy" 2>&1 >/dev/null | FileCheck %s --check-prefix=REMARK
// RUN: not quant-opt %s --split-input-file --quant-awq="bits=9 calibration=%S/Inputs/smoothquant-x.npy" 2>&1 | FileCheck %s --check-prefix=BITS
// RUN: not quant-opt %s --split-input-file --quant-awq 2>&1 | FileCheck %s --check-prefix=CALIB

// BITS: quant-awq: bits must be in 2..8, got 9
// CALIB: quant-awq: give calibration data with calibration=FILE

#id = affine_map<(d0, d1) -> (d0, d1)>
#ch = affine_map<(d0, d1) -> (d1)>
#mx = affine_map<(d0, d1, d2) -> (d0, d2)>
#mw = affine_map<(d0, d1, d2) -> (d1, d2)>
#my = affine_map<(d0, d1, d2) -> (d0, d1)>

// A norm-like producer: the chosen scales are folded into its weight (no
// longer all ones) and the product becomes a 4-bit dequant_matmul with
// AWQ's zero-points, groups of 2 along K.
// CHECK-LABEL: func.func @forward
// CHECK-NOT:     dense<1.000000e+00> : tensor<2xf32>
// CHECK:         linalg.generic
// CHECK:         qtensor.dequant_matmul %{{.*}}, %{{.*}} scales(%{{.*}} : tensor<1x1xf32>) zero_points(%{{.*}} : tensor<1x1xi8>) layout <ui4, block = [1, 0], packing = lsb_first>
// CHECK-SAME:    {qtensor.weight_name = "w"}
func.func @forward(%x: tensor<2x2xf32>) -> tensor<2x1xf32> {
  %g = arith.constant dense<1.0> : tensor<2xf32>
  %e = tensor.empty() : tensor<2x2xf32>
  %n = linalg.generic {indexing_maps = [#id, #ch, #id], iterator_types = ["parallel", "parallel"]}
      ins(%x, %g : tensor<2x2xf32>, tensor<2xf32>) outs(%e : tensor<2x2xf32>) {
  ^bb0(%a: f32, %b: f32, %o: f32):
    %m = arith.mulf %a, %b : f32
    linalg.yield %m : f32
  } -> tensor<2x2xf32>
  %w = arith.constant dense<[[1.0, 4.0]]> : tensor<1x2xf32> loc("w")
  %zero = arith.constant 0.0 : f32
  %ye = tensor.empty() : tensor<2x1xf32>
  %init = linalg.fill ins(%zero : f32) outs(%ye : tensor<2x1xf32>) -> tensor<2x1xf32>
  %y = linalg.generic {indexing_maps = [#mx, #mw, #my], iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%n, %w : tensor<2x2xf32>, tensor<1x2xf32>) outs(%init : tensor<2x1xf32>) {
  ^bb0(%a: f32, %b: f32, %o: f32):
    %m = arith.mulf %a, %b : f32
    %s = arith.addf %o, %m : f32
    linalg.yield %s : f32
  } -> tensor<2x1xf32>
  %re = tensor.empty() : tensor<2x1xf32>
  %r = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]}
      ins(%y : tensor<2x1xf32>) outs(%re : tensor<2x1xf32>) {
  ^bb0(%a: f32, %o: f32):
    %t = arith.negf %a : f32
    linalg.yield %t : f32
  } -> tensor<2x1xf32>
  return %r : tensor<2x1xf32>
}

// -----

#id = affine_map<(d0, d1) -> (d0, d1)>
#mx = affine_map<(d0, d1, d2) -> (d0, d2)>
#mw = affine_map<(d0, d1, d2) -> (d1, d2)>
#my = affine_map<(d0, d1, d2) -> (d0, d1)>

// Nothing can absorb a scale of the function's argument: a remark, and the
// product is still quantized.
// REMARK: remark: quant-awq: not scaling the input of w: the input comes from a function argument
// CHECK-LABEL: func.func @forward
// CHECK:         qtensor.dequant_matmul
func.func @forward(%x: tensor<2x2xf32>) -> tensor<2x1xf32> {
  %w = arith.constant dense<[[1.0, 4.0]]> : tensor<1x2xf32> loc("w")
  %zero = arith.constant 0.0 : f32
  %ye = tensor.empty() : tensor<2x1xf32>
  %init = linalg.fill ins(%zero : f32) outs(%ye : tensor<2x1xf32>) -> tensor<2x1xf32>
  %y = linalg.generic {indexing_maps = [#mx, #mw, #my], iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%x, %w : tensor<2x2xf32>, tensor<1x2xf32>) outs(%init : tensor<2x1xf32>) {
  ^bb0(%a: f32, %b: f32, %o: f32):
    %m = arith.mulf %a, %b : f32
    %s = arith.addf %o, %m : f32
    linalg.yield %s : f32
  } -> tensor<2x1xf32>
  %re = tensor.empty() : tensor<2x1xf32>
  %r = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]}
      ins(%y : tensor<2x1xf32>) outs(%re : tensor<2x1xf32>) {
  ^bb0(%a: f32, %o: f32):
    %t = arith.negf %a : f32
    linalg.yield %t : f32
  } -> tensor<2x1xf32>
  return %r : tensor<2x1xf32>
}
