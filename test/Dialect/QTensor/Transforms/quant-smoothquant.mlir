// RUN: quant-opt %s --split-input-file --quant-smoothquant="activations=none calibration=%S/Inputs/smoothquant-x.npy" | FileCheck %s --check-prefix=SMOOTH
// RUN: quant-opt %s --split-input-file --quant-smoothquant="calibration=%S/Inputs/smoothquant-x.npy" | FileCheck %s --check-prefix=W8A8
// RUN: quant-opt %s --split-input-file --quant-smoothquant="activations=static weights=per-tensor calibration=%S/Inputs/smoothquant-x.npy" | FileCheck %s --check-prefix=STATIC
// RUN: quant-opt %s --split-input-file --quant-smoothquant="smooth=false activations=per-tensor" | FileCheck %s --check-prefix=PLAIN
// RUN: quant-opt %s --split-input-file --quant-smoothquant="calibration=%S/Inputs/smoothquant-x.npy" 2>&1 >/dev/null | FileCheck %s --check-prefix=REMARK
// RUN: quant-opt %s --split-input-file --quant-smoothquant="weight-group-size=1 calibration=%S/Inputs/smoothquant-x.npy" | FileCheck %s --check-prefix=GROUP
// RUN: quant-opt %s --split-input-file --quant-smoothquant="weight-group-size=3 calibration=%S/Inputs/smoothquant-x.npy" 2>&1 >/dev/null | FileCheck %s --check-prefix=NODIV
// RUN: not quant-opt %s --split-input-file --quant-smoothquant="activations=per-row" 2>&1 | FileCheck %s --check-prefix=BADACT
// RUN: not quant-opt %s --split-input-file --quant-smoothquant="weights=per-group" 2>&1 | FileCheck %s --check-prefix=BADW
// BADACT: for the --activations option: unknown value 'per-row'; expected per-token, per-tensor, static or none
// BADW: for the --weights option: unknown value 'per-group'; expected per-channel or per-tensor

#id = affine_map<(d0, d1) -> (d0, d1)>
#ch = affine_map<(d0, d1) -> (d1)>
#mx = affine_map<(d0, d1, d2) -> (d0, d2)>
#mw = affine_map<(d0, d1, d2) -> (d1, d2)>
#my = affine_map<(d0, d1, d2) -> (d0, d1)>

// A norm-like producer (x * g) feeding one linear. Calibration rows
// [8, 1] and [-2, 0.5]: a = max|x| = [8, 1]; w = max|W[:, j]| = [1, 4];
// alpha 0.5: s = sqrt(a / w) = [2.828427, 0.5], so g / s = [0.353553, 2]
// and W * s = [[2.828427, 2]].
// SMOOTH-LABEL: func.func @forward
// SMOOTH:         arith.constant dense<[0.353553{{[0-9]*}}, 2.000000e+00]> : tensor<2xf32>
// SMOOTH:         linalg.generic
// SMOOTH:         arith.constant dense<{{\[\[}}2.82842{{[0-9]*}}, 2.000000e+00]]> : tensor<1x2xf32>
// SMOOTH:         linalg.generic
// SMOOTH-NOT:     qtensor.

// Per-token activations: one run-time quantization, W8A8 product with the
// int8 weight round(W * s / (2.828427 / 127)) = [127, 90] (89.8 -> 90).
// W8A8-LABEL: func.func @forward
// W8A8:         %[[Q:.*]], %[[S:.*]] = qtensor.dynamic_quantize %{{.*}} : tensor<2x2xf32> -> tensor<2x2xi8>, tensor<2x1xf32>
// W8A8-DAG:     %[[W:.*]] = arith.constant dense<{{\[\[}}127, 90]]> : tensor<1x2xi8>
// W8A8-DAG:     %[[WS:.*]] = arith.constant dense<0.02227{{[0-9]*}}> : tensor<1x1xf32>
// W8A8:         qtensor.quantized_matmul %[[Q]], %[[S]], %[[W]], %[[WS]] outs(%{{.*}} : tensor<2x1xf32>) {qtensor.weight_name = "w"}

// Static per-tensor activations (O3): smoothed maxima a / s = [2.828427, 2],
// so the scale is 2.828427 / 127.
// STATIC-LABEL: func.func @forward
// STATIC:         %[[SX:.*]] = arith.constant dense<0.02227{{[0-9]*}}> : tensor<1x1xf32>
// STATIC:         %[[Q:.*]] = qtensor.quantize %{{.*}} scales(%[[SX]] : tensor<1x1xf32>) layout <si8, block = [0, 0]>
// STATIC:         qtensor.quantized_matmul %[[Q]], %[[SX]]

// ZeroQuant-style group-wise weights: groups of one column, scales
// 2.828427 / 127 and 2 / 127, both codes 127.
// GROUP-LABEL: func.func @forward
// GROUP-DAG:     arith.constant dense<127> : tensor<1x2xi8>
// GROUP-DAG:     arith.constant dense<{{\[\[}}0.02227{{[0-9]*}}, 0.015748{{[0-9]*}}]]> : tensor<1x2xf32>
// GROUP:         qtensor.quantized_matmul {{.*}} : tensor<2x2xi8>, tensor<2x1xf32>, tensor<1x2xi8>, tensor<1x2xf32> -> tensor<2x1xf32>
// NODIV: remark: quant-smoothquant: weight-group-size 3 does not divide K = 2 of 'w'; using per-channel scales

// Without smoothing no calibration is needed.
// PLAIN-LABEL: func.func @forward
// PLAIN:         arith.constant dense<1.000000e+00> : tensor<2xf32>
// PLAIN:         qtensor.dynamic_quantize %{{.*}} : tensor<2x2xf32> -> tensor<2x2xi8>, tensor<1x1xf32>
// PLAIN:         arith.constant dense<{{\[\[}}32, 127]]> : tensor<1x2xi8>
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
  // Not the output head: the result goes through one more op.
  %re = tensor.empty() : tensor<2x1xf32>
  %r = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]}
      ins(%y : tensor<2x1xf32>) outs(%re : tensor<2x1xf32>) {
  ^bb0(%a: f32, %o: f32):
    %t = math.tanh %a : f32
    linalg.yield %t : f32
  } -> tensor<2x1xf32>
  return %r : tensor<2x1xf32>
}

// -----

#id = affine_map<(d0, d1) -> (d0, d1)>
#mx = affine_map<(d0, d1, d2) -> (d0, d2)>
#mw = affine_map<(d0, d1, d2) -> (d1, d2)>
#my = affine_map<(d0, d1, d2) -> (d0, d1)>

// The input is the function's argument: nothing can absorb the scale, so
// the product is quantized without smoothing and a remark says why.
// REMARK: remark: quant-smoothquant: not smoothing the input of w: the input comes from a function argument
// W8A8-LABEL: func.func @forward
// W8A8:         qtensor.dynamic_quantize
// W8A8:         arith.constant dense<{{\[\[}}32, 127]]> : tensor<1x2xi8>
// W8A8:         qtensor.quantized_matmul
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
    %t = math.tanh %a : f32
    linalg.yield %t : f32
  } -> tensor<2x1xf32>
  return %r : tensor<2x1xf32>
}
