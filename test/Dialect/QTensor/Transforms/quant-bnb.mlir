// RUN: quant-opt %s -split-input-file --quant-bnb="blocksize=32" | FileCheck %s --check-prefix=NF4
// RUN: quant-opt %s -split-input-file --quant-bnb="blocksize=32 double-quant=true" | FileCheck %s --check-prefix=DQ
// RUN: quant-opt %s -split-input-file --quant-bnb="format=fp4 blocksize=32" | FileCheck %s --check-prefix=FP4
// RUN: quant-opt %s -split-input-file --quant-bnb="blocksize=32 double-quant=true" --quant-lower-to-llvm | FileCheck %s --check-prefix=LLVM

// A [2, 48] weight (torch.nn.Linear order) in blocks of 32 of the flattened
// tensor: K = 48 is not a multiple of 32, so block 1 (flat 32..63) holds
// the end of row 0 and the start of row 1, and the op takes the flat
// layout. Non-zero weights: flat 0 = 4, 1 = -4 (block 0, absmax 4),
// 32 = 2, 48 = -2 (block 1, absmax 2), 95 = 1 (block 2, absmax 1).
// NF4 codes: y = 1 -> 15, y = -1 -> 0, 0 -> 7; high nibble first:
// byte 0 = 0xF0 (-16), byte 16 = 0xF7 (-9), byte 24 = 0x07, byte 47 = 0x7F,
// all others 0x77 (119).
// Double quantization: offset = mean(4, 2, 1) = 2.33333325 (f32);
// absmax - offset = [1.66666675, -0.333333254, -1.33333325], absmax2 =
// 1.66666675, and the dynamic-map codes of [1, -0.2, -0.8] are 255 (-1),
// 56 and 14.

// NF4-LABEL: func.func @flat
// NF4-DAG: %[[Q:.*]] = arith.constant dense<[-16, 119, 119, 119, 119, 119, 119, 119, 119, 119, 119, 119, 119, 119, 119, 119, -9, 119, 119, 119, 119, 119, 119, 119, 7, 119, 119, 119, 119, 119, 119, 119, 119, 119, 119, 119, 119, 119, 119, 119, 119, 119, 119, 119, 119, 119, 119, 127]> : tensor<48xi8>
// NF4-DAG: %[[S:.*]] = arith.constant dense<[4.000000e+00, 2.000000e+00, 1.000000e+00]> : tensor<3xf32>
// NF4: qtensor.dequant_matmul %arg0, %[[Q]] scales(%[[S]] : tensor<3xf32>) layout <nf4, block = [32], packing = msb_first> outs(%{{.*}} : tensor<3x2xf32>) {qtensor.weight_name = "{{.*}}"} : tensor<3x48xf32>, tensor<48xi8> -> tensor<3x2xf32>
// NF4-NOT: linalg.matmul

// DQ-LABEL: func.func @flat
// DQ-DAG: %[[Q:.*]] = arith.constant dense<[-16, 119, 119, 119, 119, 119, 119, 119, 119, 119, 119, 119, 119, 119, 119, 119, -9, 119, 119, 119, 119, 119, 119, 119, 7, 119, 119, 119, 119, 119, 119, 119, 119, 119, 119, 119, 119, 119, 119, 119, 119, 119, 119, 119, 119, 119, 119, 127]> : tensor<48xi8>
// DQ-DAG: %[[C:.*]] = arith.constant dense<[-1, 56, 14]> : tensor<3xi8>
// DQ-DAG: %[[A2:.*]] = arith.constant dense<1.66666675> : tensor<1xf32>
// DQ: %[[A:.*]] = qtensor.dequantize %[[C]] scales(%[[A2]] : tensor<1xf32>) layout <dynamic8, block = [256]> : tensor<3xi8> -> tensor<3xf32>
// DQ: %[[OFF:.*]] = arith.constant dense<2.33333325> : tensor<f32>
// DQ: %[[S:.*]] = linalg.generic {{.*}} ins(%[[A]], %[[OFF]] : tensor<3xf32>, tensor<f32>)
// DQ: arith.addf
// DQ: qtensor.dequant_matmul %arg0, %[[Q]] scales(%[[S]] : tensor<3xf32>) layout <nf4, block = [32], packing = msb_first>

// FP4-LABEL: func.func @flat
// FP4: qtensor.dequant_matmul {{.*}} scales(%{{.*}} : tensor<3xf32>) layout <fp4, block = [32], packing = msb_first> {{.*}} : tensor<3x48xf32>, tensor<48xi8> -> tensor<3x2xf32>

// LLVM-LABEL: llvm.func @flat
// LLVM-NOT: qtensor.
func.func @flat(%x: tensor<3x48xf32>) -> tensor<3x2xf32> {
  %w = arith.constant dense<[[4.0, -4.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 2.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0], [-2.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0]]> : tensor<2x48xf32>
  %init = arith.constant dense<0.0> : tensor<3x2xf32>
  %y = linalg.matmul indexing_maps = [affine_map<(m, n, k) -> (m, k)>,
                                      affine_map<(m, n, k) -> (n, k)>,
                                      affine_map<(m, n, k) -> (m, n)>]
         ins(%x, %w : tensor<3x48xf32>, tensor<2x48xf32>)
         outs(%init : tensor<3x2xf32>) -> tensor<3x2xf32>
  return %y : tensor<3x2xf32>
}

// -----

// K = 64 is a multiple of 32: no block straddles a row and the per-row form
// [1, 32] stores the same bytes. Row 0: 3 at k = 0, 0.5 at k = 32; row 1:
// 1 at k = 0, -8 at k = 63: absmax [[3, 0.5], [1, 8]]. Under double
// quantization the flat dynamic8 layout reads the 4 codes as [2, 2] scales.

// NF4-LABEL: func.func @per_row
// NF4-DAG: %[[S:.*]] = arith.constant dense<{{\[}}[3.000000e+00, 5.000000e-01], [1.000000e+00, 8.000000e+00]]> : tensor<2x2xf32>
// NF4: qtensor.dequant_matmul %arg0, %{{.*}} scales(%[[S]] : tensor<2x2xf32>) layout <nf4, block = [1, 32], packing = msb_first> {{.*}} : tensor<3x64xf32>, tensor<2x32xi8> -> tensor<3x2xf32>

// DQ-LABEL: func.func @per_row
// DQ: %[[A:.*]] = qtensor.dequantize %{{.*}} scales(%{{.*}} : tensor<1xf32>) layout <dynamic8, block = [256]> : tensor<4xi8> -> tensor<2x2xf32>
// DQ: %[[S:.*]] = linalg.generic
// DQ: qtensor.dequant_matmul %arg0, %{{.*}} scales(%[[S]] : tensor<2x2xf32>) layout <nf4, block = [1, 32], packing = msb_first>

// LLVM-LABEL: llvm.func @per_row
func.func @per_row(%x: tensor<3x64xf32>) -> tensor<3x2xf32> {
  %w = arith.constant dense<[[3.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.5, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0], [1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, -8.0]]> : tensor<2x64xf32>
  %init = arith.constant dense<0.0> : tensor<3x2xf32>
  %y = linalg.matmul indexing_maps = [affine_map<(m, n, k) -> (m, k)>,
                                      affine_map<(m, n, k) -> (n, k)>,
                                      affine_map<(m, n, k) -> (m, n)>]
         ins(%x, %w : tensor<3x64xf32>, tensor<2x64xf32>)
         outs(%init : tensor<3x2xf32>) -> tensor<3x2xf32>
  return %y : tensor<3x2xf32>
}
