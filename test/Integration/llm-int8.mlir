// LLM.int8(): outlier columns (|x| >= 6) go through the float path with the
// int8-dequantized weight columns, the rest through int8 x int8.
// RUN: quant-opt %s --quant-llm-int8 --quant-lower-to-llvm \
// RUN: | mlir-runner -e main -entry-point-result=void \
// RUN:   -shared-libs=%mlir_runner_utils,%mlir_c_runner_utils \
// RUN: | FileCheck %s

func.func private @printMemrefF32(tensor<*xf32>) attributes { llvm.emit_c_interface }

func.func @main() {
  // Column 1 holds 10 >= 6: an outlier column.
  %x = arith.constant dense<[[1.0, 10.0, -2.0], [0.5, 1.0, 1.0]]> : tensor<2x3xf32>
  %w = arith.constant dense<[[1.0, 2.0, 3.0], [4.0, 5.0, -6.0]]> : tensor<2x3xf32>
  %zero = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<2x2xf32>
  %init = linalg.fill ins(%zero : f32) outs(%e : tensor<2x2xf32>) -> tensor<2x2xf32>
  %y = linalg.matmul indexing_maps = [affine_map<(m, n, k) -> (m, k)>,
                                      affine_map<(m, n, k) -> (n, k)>,
                                      affine_map<(m, n, k) -> (m, n)>]
         ins(%x, %w : tensor<2x3xf32>, tensor<2x3xf32>) outs(%init : tensor<2x2xf32>) -> tensor<2x2xf32>
  // Weights: row scales 3/127 and 6/127, codes [42, 85, 127], [85, 106, -127].
  // Inliers (outlier elements zeroed) [1, 0, -2] and [0.5, 1, 1]: token
  // scales 2/127 and 1/127, codes [64, 0, -127] (63.5 ties to 64) and
  // [64, 127, 127] -> column 1 dropped -> [64, 0, 127].
  // int8 part:   -13441 * 6/127^2 = -5.00006,  21569 * 12/127^2 = 16.04737
  //               18817 * 3/127^2 =  3.49997, -10689 *  6/127^2 = -3.97632
  // outlier part: x[:, 1] = [10, 1] times [85 * 3/127, 106 * 6/127]
  //              = [2.007874, 5.007874]
  // Sum (float reference [[15, 66], [5.5, 1]]):
  // CHECK: {{\[\[}}15.078{{[0-9]*}}, 66.126{{[0-9]*}}]
  // CHECK-NEXT: [5.5078{{[0-9]*}}, 1.0315{{[0-9]*}}]]
  %u = tensor.cast %y : tensor<2x2xf32> to tensor<*xf32>
  call @printMemrefF32(%u) : (tensor<*xf32>) -> ()
  return
}
