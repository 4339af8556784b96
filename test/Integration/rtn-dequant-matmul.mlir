// Quantize a constant weight with --quant-rtn, lower to LLVM, run it.
// RUN: quant-opt %s --quant-rtn="bits=4" --quant-lower-to-llvm \
// RUN: | mlir-runner -e main -entry-point-result=void \
// RUN:   -shared-libs=%mlir_runner_utils,%mlir_c_runner_utils \
// RUN: | FileCheck %s

// Wᵀ rows [1, 0.5, 0, -1] and [-2, 4, 1, 2] decode (see quant-rtn.mlir) to
// [0.9333334, 0.53333336, 0, -0.9333334] and [-2, 4, 0.8, 2], so
// x · dequant(W)ᵀ is (numpy, f32):
// CHECK:      [-1.73333, 16.4]
// CHECK-NEXT: [-1.93333, -0.8]
// CHECK-NEXT: [-2.93333, 14]
func.func @main() {
  %x = arith.constant dense<[[1.0, 2.0, 3.0, 4.0], [0.5, -1.0, 0.25, 2.0], [-3.0, 1.5, 0.0, 1.0]]> : tensor<3x4xf32>
  %w = arith.constant dense<[[1.0, -2.0], [0.5, 4.0], [0.0, 1.0], [-1.0, 2.0]]> : tensor<4x2xf32>
  %init = arith.constant dense<0.0> : tensor<3x2xf32>
  %y = linalg.matmul ins(%x, %w : tensor<3x4xf32>, tensor<4x2xf32>)
                     outs(%init : tensor<3x2xf32>) -> tensor<3x2xf32>
  %u = tensor.cast %y : tensor<3x2xf32> to tensor<*xf32>
  call @printMemrefF32(%u) : (tensor<*xf32>) -> ()
  return
}
func.func private @printMemrefF32(tensor<*xf32>) attributes { llvm.emit_c_interface }
