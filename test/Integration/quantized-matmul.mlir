// W8A8 execution: run-time activation scales (per token and per tensor),
// exact i32 accumulation and the f32 scale epilogue, per channel and per
// group.
// RUN: quant-opt %s --quant-lower-to-llvm \
// RUN: | mlir-runner -e main -entry-point-result=void \
// RUN:   -shared-libs=%mlir_runner_utils,%mlir_c_runner_utils \
// RUN: | FileCheck %s

func.func private @printMemrefF32(tensor<*xf32>) attributes { llvm.emit_c_interface }

func.func @print(%t: tensor<2x2xf32>) {
  %u = tensor.cast %t : tensor<2x2xf32> to tensor<*xf32>
  call @printMemrefF32(%u) : (tensor<*xf32>) -> ()
  return
}

func.func @main() {
  // Row 0 absmax 127 -> scale 1; row 1 absmax 2.54 -> scale 0.02, codes
  // [127, -64, 0, 32] (1.27 / 0.02 = 63.5 rounds to even 64).
  %x = arith.constant dense<[[127.0, -3.0, 0.5, 1.0],
                             [2.54, -1.27, 0.0, 0.64]]> : tensor<2x4xf32>
  %w = arith.constant dense<[[1, 2, 3, 4], [-1, 0, 127, -128]]> : tensor<2x4xi8>
  %sw = arith.constant dense<[[0.5], [2.0]]> : tensor<2x1xf32>
  %zero = arith.constant dense<0.0> : tensor<2x2xf32>
  %bias = arith.constant dense<[[0.25, 0.0], [0.0, 0.0]]> : tensor<2x2xf32>

  %q, %s = qtensor.dynamic_quantize %x : tensor<2x4xf32> -> tensor<2x4xi8>, tensor<2x1xf32>
  // Row 0 codes [127, -3, 0, 1] (0.5 ties to 0):
  //   n0: 127 - 6 + 0 + 4 = 125 -> 125 * 1 * 0.5 + 0.25 = 62.75
  //   n1: -127 + 0 + 0 - 128 = -255 -> -510
  // Row 1 codes [127, -64, 0, 32], scale 0.02:
  //   n0: 127 - 128 + 128 = 127 -> 127 * 0.02 * 0.5 = 1.27
  //   n1: -127 - 4096 = -4223 -> -4223 * 0.02 * 2 = -168.92
  %y = qtensor.quantized_matmul %q, %s, %w, %sw outs(%bias : tensor<2x2xf32>)
         : tensor<2x4xi8>, tensor<2x1xf32>, tensor<2x4xi8>, tensor<2x1xf32> -> tensor<2x2xf32>
  // CHECK: [62.75, -510]
  // CHECK-NEXT: [1.27, -168.92]
  call @print(%y) : (tensor<2x2xf32>) -> ()

  // Per tensor: absmax 127 over both rows -> scale 1, row 1 codes
  // [3, -1, 0, 1] (2.54 -> 3, -1.27 -> -1, 0.64 -> 1).
  %qt, %st = qtensor.dynamic_quantize %x : tensor<2x4xf32> -> tensor<2x4xi8>, tensor<1x1xf32>
  // Two groups of 2 columns with their own weight scales:
  //   row 1, n0: g0 = 3 - 2 = 1 -> 1 * 1 * 1;  g1 = 0 + 4 = 4 -> 4 * 0.5
  //   row 1, n1: g0 = -3 -> -3 * 1;           g1 = -128 -> -128 * 0.25
  %swg = arith.constant dense<[[1.0, 0.5], [1.0, 0.25]]> : tensor<2x2xf32>
  %yg = qtensor.quantized_matmul %qt, %st, %w, %swg outs(%zero : tensor<2x2xf32>)
         : tensor<2x4xi8>, tensor<1x1xf32>, tensor<2x4xi8>, tensor<2x2xf32> -> tensor<2x2xf32>
  // Row 0: n0 g0 = 127 - 6 = 121, g1 = 0 + 4 = 4 -> 121 + 2 = 123;
  //        n1 g0 = -127, g1 = -128 -> -127 - 32 = -159.
  // CHECK: [123, -159]
  // CHECK-NEXT: [3, -35]
  call @print(%yg) : (tensor<2x2xf32>) -> ()
  return
}
