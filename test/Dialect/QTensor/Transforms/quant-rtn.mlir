// RUN: quant-opt %s -split-input-file --quant-rtn="bits=4" | FileCheck %s --check-prefix=ASYM
// RUN: quant-opt %s -split-input-file --quant-rtn="bits=4 sym=true" | FileCheck %s --check-prefix=SYM
// RUN: quant-opt %s -split-input-file --quant-rtn="bits=4 group-size=2 scale-type=f16" | FileCheck %s --check-prefix=G2
// RUN: quant-opt %s -split-input-file --quant-rtn="bits=4 pack=false" | FileCheck %s --check-prefix=UNPACKED
// RUN: quant-opt %s -split-input-file --quant-rtn="format=nf4 group-size=0" | FileCheck %s --check-prefix=NF4
// RUN: quant-opt %s -split-input-file --quant-rtn="format=f8E4M3FN scale-type=bf16" | FileCheck %s --check-prefix=FP8
// RUN: quant-opt %s -split-input-file --quant-rtn="format=f8E4M3FN group-size=0" | FileCheck %s --check-prefix=FP8PT
// RUN: quant-opt %s -split-input-file --quant-rtn="format=f8E4M3FN group-size=0" --quant-lower-to-llvm | FileCheck %s --check-prefix=FP8LLVM

// The goldens follow the GPTQ reference quantizer in f32. Rows of Wᵀ:
//   [1, 0.5, 0, -1]: scale = 2/15 = 0.13333334, zero = roundeven(1/scale =
//     7.4999995) = 7, codes [14, 11, 7, 0] -> bytes 14|11<<4 = 190 (-66), 7.
//   [-2, 4, 1, 2]: scale = 0.4, zero = 5, codes [0, 15, 7 (2.5 ties to 2),
//     10] -> bytes 240 (-16), 167 (-89).
// Symmetric codes are q - 8: [7, 4, 0, -7] -> 0x47 = 71, 0x90 = -112 and
// with scale 2*4/15: [-4, 7, 2, 4] -> 0x7C = 124, 0x42 = 66.

// ASYM-LABEL: func.func @matmul
// ASYM-DAG: %[[Q:.*]] = arith.constant dense<{{\[}}[-66, 7], [-16, -89]]> : tensor<2x2xi8>
// ASYM-DAG: %[[S:.*]] = arith.constant dense<{{\[}}[0.13333334], [4.000000e-01]]> : tensor<2x1xf32>
// ASYM-DAG: %[[Z:.*]] = arith.constant dense<{{\[}}[7], [5]]> : tensor<2x1xi8>
// ASYM: qtensor.dequant_matmul %arg0, %[[Q]] scales(%[[S]] : tensor<2x1xf32>) zero_points(%[[Z]] : tensor<2x1xi8>) layout <ui4, block = [1, 0], packing = lsb_first> outs(%{{.*}} : tensor<3x2xf32>) {qtensor.weight_name = "{{.*}}"} : tensor<3x4xf32>, tensor<2x2xi8> -> tensor<3x2xf32>
// ASYM-NOT: linalg.matmul
// SYM-LABEL: func.func @matmul
// SYM-DAG: arith.constant dense<{{\[}}[71, -112], [124, 66]]> : tensor<2x2xi8>
// SYM-DAG: arith.constant dense<{{\[}}[0.13333334], [0.533333361]]> : tensor<2x1xf32>
// SYM: qtensor.dequant_matmul
// SYM-NOT: zero_points
// SYM-SAME: layout <si4, block = [1, 0], packing = lsb_first>
// G2-LABEL: func.func @matmul
// G2: scales(%{{.*}} : tensor<2x2xf16>) zero_points(%{{.*}} : tensor<2x2xi8>) layout <ui4, block = [1, 2], packing = lsb_first>
// UNPACKED-LABEL: func.func @matmul
// UNPACKED: arith.constant dense<{{\[}}[14, 11, 7, 0], [0, 15, 7, 10]]> : tensor<2x4xi8>
// UNPACKED: layout <ui4, block = [1, 0]> outs
// NF4-LABEL: func.func @matmul
// NF4: scales(%{{.*}} : tensor<1x1xf32>) layout <nf4, block = [0, 0], packing = lsb_first>
// FP8-LABEL: func.func @matmul
// FP8: scales(%{{.*}} : tensor<2x1xbf16>) layout <f8E4M3FN, block = [1, 0]> outs
// group-size=0: one E4M3 scale, absmax / 448 = 4 / 448, for the whole weight.
// FP8PT-LABEL: func.func @matmul
// E4M3 codes of 112 * w: 1 -> 0x6E, 0.5 -> 0x66, -1 -> 0xEE, -2 -> 0xF6.
// FP8PT-DAG: arith.constant dense<{{\[}}[110, 102, 0, -18], [-10, 126, 110, 118]]> : tensor<2x4xi8>
// FP8PT-DAG: %[[S:.*]] = arith.constant dense<0.00892857183> : tensor<1x1xf32>
// FP8PT: scales(%[[S]] : tensor<1x1xf32>) layout <f8E4M3FN, block = [0, 0]> outs
// FP8LLVM-LABEL: llvm.func @matmul
// FP8LLVM-NOT: qtensor.
func.func @matmul(%x: tensor<3x4xf32>) -> tensor<3x2xf32> {
  %w = arith.constant dense<[[1.0, -2.0], [0.5, 4.0], [0.0, 1.0], [-1.0, 2.0]]> : tensor<4x2xf32>
  %init = arith.constant dense<0.0> : tensor<3x2xf32>
  %y = linalg.matmul ins(%x, %w : tensor<3x4xf32>, tensor<4x2xf32>)
                     outs(%init : tensor<3x2xf32>) -> tensor<3x2xf32>
  return %y : tensor<3x2xf32>
}

// -----

// A weight stored [N, K] (torch.nn.Linear) through indexing_maps, and the
// same codes as above.
// ASYM-LABEL: func.func @transposed
// ASYM: arith.constant dense<{{\[}}[-66, 7], [-16, -89]]> : tensor<2x2xi8>
// ASYM: qtensor.dequant_matmul
// ASYM-NOT: linalg.matmul
func.func @transposed(%x: tensor<3x4xf32>) -> tensor<3x2xf32> {
  %w = arith.constant dense<[[1.0, 0.5, 0.0, -1.0], [-2.0, 4.0, 1.0, 2.0]]> : tensor<2x4xf32>
  %init = arith.constant dense<0.0> : tensor<3x2xf32>
  %y = linalg.matmul indexing_maps = [affine_map<(m, n, k) -> (m, k)>,
                                      affine_map<(m, n, k) -> (n, k)>,
                                      affine_map<(m, n, k) -> (m, n)>]
         ins(%x, %w : tensor<3x4xf32>, tensor<2x4xf32>)
         outs(%init : tensor<3x2xf32>) -> tensor<3x2xf32>
  return %y : tensor<3x2xf32>
}

// -----

// A matmul-shaped linalg.generic over [B, S, K] activations, weight from a
// constant ml_program.global.
// ASYM-LABEL: func.func @generic_global
// ASYM: qtensor.dequant_matmul %arg0, %{{.*}} layout <ui4, block = [1, 0], packing = lsb_first> outs(%{{.*}} : tensor<2x3x2xf32>) {qtensor.weight_name = "{{.*}}"} : tensor<2x3x4xf32>, tensor<2x2xi8> -> tensor<2x3x2xf32>
// ASYM-NOT: linalg.generic
ml_program.global private @layers.0.wq(dense<[[1.0, 0.5, 0.0, -1.0], [-2.0, 4.0, 1.0, 2.0]]> : tensor<2x4xf32>) : tensor<2x4xf32>
func.func @generic_global(%x: tensor<2x3x4xf32>) -> tensor<2x3x2xf32> {
  %w = ml_program.global_load_const @layers.0.wq : tensor<2x4xf32>
  %init = arith.constant dense<0.0> : tensor<2x3x2xf32>
  %y = linalg.generic {
         indexing_maps = [affine_map<(b, s, n, k) -> (b, s, k)>,
                          affine_map<(b, s, n, k) -> (n, k)>,
                          affine_map<(b, s, n, k) -> (b, s, n)>],
         iterator_types = ["parallel", "parallel", "parallel", "reduction"]}
         ins(%x, %w : tensor<2x3x4xf32>, tensor<2x4xf32>)
         outs(%init : tensor<2x3x2xf32>) {
  ^bb0(%a: f32, %b: f32, %c: f32):
    %m = arith.mulf %a, %b : f32
    %s = arith.addf %c, %m : f32
    linalg.yield %s : f32
  } -> tensor<2x3x2xf32>
  return %y : tensor<2x3x2xf32>
}

// -----

// linalg.batch_matmul with a constant [B, K, N] weight: per-batch scales.
// ASYM-LABEL: func.func @batched
// ASYM: scales(%{{.*}} : tensor<2x2x1xf32>) zero_points(%{{.*}} : tensor<2x2x1xi8>) layout <ui4, block = [1, 1, 0], packing = lsb_first> outs(%{{.*}} : tensor<2x3x2xf32>) {qtensor.weight_name = "{{.*}}"} : tensor<2x3x4xf32>, tensor<2x2x2xi8> -> tensor<2x3x2xf32>
func.func @batched(%x: tensor<2x3x4xf32>) -> tensor<2x3x2xf32> {
  %w = arith.constant dense<[[[1.0, -2.0], [0.5, 4.0], [0.0, 1.0], [-1.0, 2.0]],
                             [[1.0, -2.0], [0.5, 4.0], [0.0, 1.0], [-1.0, 2.0]]]> : tensor<2x4x2xf32>
  %init = arith.constant dense<0.0> : tensor<2x3x2xf32>
  %y = linalg.batch_matmul ins(%x, %w : tensor<2x3x4xf32>, tensor<2x4x2xf32>)
                           outs(%init : tensor<2x3x2xf32>) -> tensor<2x3x2xf32>
  return %y : tensor<2x3x2xf32>
}

// -----

// Products of two activations (attention scores) are not weights.
// ASYM-LABEL: func.func @activations
// ASYM: linalg.matmul
// ASYM-NOT: qtensor
func.func @activations(%a: tensor<3x4xf32>, %b: tensor<4x2xf32>) -> tensor<3x2xf32> {
  %init = arith.constant dense<0.0> : tensor<3x2xf32>
  %y = linalg.matmul ins(%a, %b : tensor<3x4xf32>, tensor<4x2xf32>)
                     outs(%init : tensor<3x2xf32>) -> tensor<3x2xf32>
  return %y : tensor<3x2xf32>
}

// -----

// An all-zero row takes the reference's fallback range [-1, 1]: scale
// 2/15, zero roundeven(7.4999995) = 7, every code 7 (bytes 0x77 = 119).
// ASYM-LABEL: func.func @zero_row
// ASYM-DAG: arith.constant dense<{{\[}}[-66, 7], [119, 119]]> : tensor<2x2xi8>
// ASYM-DAG: arith.constant dense<0.13333334> : tensor<2x1xf32>
// ASYM-DAG: arith.constant dense<7> : tensor<2x1xi8>
func.func @zero_row(%x: tensor<3x4xf32>) -> tensor<3x2xf32> {
  %w = arith.constant dense<[[1.0, 0.0], [0.5, 0.0], [0.0, 0.0], [-1.0, 0.0]]> : tensor<4x2xf32>
  %init = arith.constant dense<0.0> : tensor<3x2xf32>
  %y = linalg.matmul ins(%x, %w : tensor<3x4xf32>, tensor<4x2xf32>)
                     outs(%init : tensor<3x2xf32>) -> tensor<3x2xf32>
  return %y : tensor<3x2xf32>
}
