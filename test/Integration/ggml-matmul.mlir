// ggml blocks decoded by the reference lowering: a hand-made q4_0 block
// printed element by element, q8_0 / q4_0 products with ggml_matmul, and
// the f16 / bf16 element types.
// RUN: quant-opt %s --quant-lower-to-llvm \
// RUN: | mlir-runner -e main -entry-point-result=void \
// RUN:   -shared-libs=%mlir_runner_utils,%mlir_c_runner_utils \
// RUN: | FileCheck %s

func.func private @printMemrefF32(tensor<*xf32>) attributes { llvm.emit_c_interface }

func.func @print2d(%t: tensor<?x?xf32>) {
  %u = tensor.cast %t : tensor<?x?xf32> to tensor<*xf32>
  call @printMemrefF32(%u) : (tensor<*xf32>) -> ()
  return
}

func.func @main() {
  // q4_0 block {d: f16, qs[16]}: element j is the low nibble of qs[j] minus
  // 8, element j + 16 the high nibble minus 8, times d.
  // d = -0.5 = f16 0xB800 -> bytes [0x00, 0xB8] = [0, -72].
  // qs[j] = j | (15 - j) << 4 = 240 - 15 j, as i8: -16, -31, ..., -121 for
  // j < 8, then 120, 105, ..., 15.
  // Elements 0..15:  (j - 8) * -0.5 = 4, 3.5, ..., 0.5, -0 (0 * -0.5), -0.5, ..., -3.5
  // Elements 16..31: (7 - j) * -0.5 = -3.5, ..., -0.5, -0, 0.5, ..., 4
  %q4 = arith.constant dense<[[0, -72,
      -16, -31, -46, -61, -76, -91, -106, -121,
      120, 105, 90, 75, 60, 45, 30, 15]]> : tensor<1x18xi8>
  %w4 = qtensor.ggml_dequantize %q4 as q4_0 : tensor<1x18xi8> -> tensor<1x32xf32>
  // CHECK: [4, 3.5, 3, 2.5, 2, 1.5, 1, 0.5, -0, -0.5, -1, -1.5, -2, -2.5, -3, -3.5,
  // CHECK-SAME: -3.5, -3, -2.5, -2, -1.5, -1, -0.5, -0, 0.5, 1, 1.5, 2, 2.5, 3, 3.5, 4]
  %w4d = tensor.cast %w4 : tensor<1x32xf32> to tensor<?x?xf32>
  call @print2d(%w4d) : (tensor<?x?xf32>) -> ()

  // x row 0 all ones, row 1 x[k] = k.
  %x = arith.constant dense<[
      [1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0,
       1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0],
      [0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0, 11.0, 12.0, 13.0, 14.0, 15.0,
       16.0, 17.0, 18.0, 19.0, 20.0, 21.0, 22.0, 23.0, 24.0, 25.0, 26.0, 27.0, 28.0, 29.0, 30.0, 31.0]]>
      : tensor<2x32xf32>
  %zero = arith.constant dense<0.0> : tensor<2x1xf32>
  // Row 0: the sum of the 32 values above: 4 + 4 = 8.
  // Row 1: sum_j j (j - 8) (-0.5) = -0.5 (1240 - 960) = -140 over the first
  // half, sum_j (16 + j) (7 - j) (-0.5) = -0.5 (1792 - 1080 - 1240) = 264
  // over the second: 124.
  %y4 = qtensor.ggml_matmul %x, %q4 as q4_0 outs(%zero : tensor<2x1xf32>)
          : tensor<2x32xf32>, tensor<1x18xi8> -> tensor<2x1xf32>
  // CHECK: [8]
  // CHECK-NEXT: [124]
  %y4d = tensor.cast %y4 : tensor<2x1xf32> to tensor<?x?xf32>
  call @print2d(%y4d) : (tensor<?x?xf32>) -> ()

  // q8_0 blocks {d: f16, qs[32] signed}: x = d * q.
  // Row 0: d = 0.5 (0x3800 -> [0, 56]), q[j] = j - 16: w = -8, -7.5, ..., 7.5.
  // Row 1: d = 0.25 (0x3400 -> [0, 52]), q = [127, -128, 0, ...]: w = 31.75, -32, 0, ...
  %q8 = arith.constant dense<[
      [0, 56, -16, -15, -14, -13, -12, -11, -10, -9, -8, -7, -6, -5, -4, -3, -2, -1,
       0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15],
      [0, 52, 127, -128, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
       0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]]> : tensor<2x34xi8>
  %bias = arith.constant dense<[[0.5, 0.0], [0.0, 1.0]]> : tensor<2x2xf32>
  // Row 0, n0: 0.5 + 0.5 * sum_j (j - 16) = 0.5 + 0.5 * (496 - 512) = -7.5
  //        n1: 31.75 - 32 = -0.25
  // Row 1, n0: 0.5 * sum_j j (j - 16) = 0.5 * (10416 - 7936) = 1240
  //        n1: 1 + 0 * 31.75 + 1 * -32 = -31
  %y8 = qtensor.ggml_matmul %x, %q8 as q8_0 outs(%bias : tensor<2x2xf32>)
          : tensor<2x32xf32>, tensor<2x34xi8> -> tensor<2x2xf32>
  // CHECK: [-7.5, -0.25]
  // CHECK-NEXT: [1240, -31]
  %y8d = tensor.cast %y8 : tensor<2x2xf32> to tensor<?x?xf32>
  call @print2d(%y8d) : (tensor<?x?xf32>) -> ()

  // f16 and bf16 "blocks": one little-endian 16-bit float per element.
  // f16 0x3C00 = 1, 0xC000 = -2, 0x3555 = 0.333251953125, 0x7BFF = 65504.
  %h = arith.constant dense<[[0, 60, 0, -64, 85, 53, -1, 123]]> : tensor<1x8xi8>
  %hw = qtensor.ggml_dequantize %h as f16 : tensor<1x8xi8> -> tensor<1x4xf32>
  // CHECK: [1, -2, 0.333252, 65504]
  %hwd = tensor.cast %hw : tensor<1x4xf32> to tensor<?x?xf32>
  call @print2d(%hwd) : (tensor<?x?xf32>) -> ()
  // bf16 0x3F80 = 1, 0xC040 = -3, 0x3E20 = 0.15625, 0x0000 = 0.
  %bf = arith.constant dense<[[-128, 63, 64, -64, 32, 62, 0, 0]]> : tensor<1x8xi8>
  %bw = qtensor.ggml_dequantize %bf as bf16 : tensor<1x8xi8> -> tensor<1x4xf32>
  // CHECK: [1, -3, 0.15625, 0]
  %bwd = tensor.cast %bw : tensor<1x4xf32> to tensor<?x?xf32>
  call @print2d(%bwd) : (tensor<?x?xf32>) -> ()
  // W = f16 [1, -2, 0.5, 4] (0x3800 = 0.5, 0x4400 = 4); x rows [1, 1, 1, 1]
  // and [0, 1, 2, 3]: 3.5 and -2 + 1 + 12 = 11.
  %x4 = arith.constant dense<[[1.0, 1.0, 1.0, 1.0], [0.0, 1.0, 2.0, 3.0]]> : tensor<2x4xf32>
  %hm = arith.constant dense<[[0, 60, 0, -64, 0, 56, 0, 68]]> : tensor<1x8xi8>
  %yh = qtensor.ggml_matmul %x4, %hm as f16 outs(%zero : tensor<2x1xf32>)
          : tensor<2x4xf32>, tensor<1x8xi8> -> tensor<2x1xf32>
  // CHECK: [3.5]
  // CHECK-NEXT: [11]
  %yhd = tensor.cast %yh : tensor<2x1xf32> to tensor<?x?xf32>
  call @print2d(%yhd) : (tensor<?x?xf32>) -> ()
  return
}
