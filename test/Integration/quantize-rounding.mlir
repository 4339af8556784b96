// Runtime quantization: ties to even, explicit clamps, NaN/Inf, packing.
// RUN: quant-opt %s --quant-lower-to-llvm \
// RUN: | mlir-runner -e main -entry-point-result=void \
// RUN:   -shared-libs=%mlir_runner_utils,%mlir_c_runner_utils \
// RUN: | FileCheck %s

func.func private @printMemrefI32(tensor<*xi32>) attributes { llvm.emit_c_interface }
func.func private @printMemrefF32(tensor<*xf32>) attributes { llvm.emit_c_interface }

func.func @printCodes(%t: tensor<1x8xi8>) {
  %e = tensor.empty() : tensor<1x8xi32>
  %w = linalg.generic {indexing_maps = [affine_map<(i, j) -> (i, j)>, affine_map<(i, j) -> (i, j)>],
                       iterator_types = ["parallel", "parallel"]}
         ins(%t : tensor<1x8xi8>) outs(%e : tensor<1x8xi32>) {
  ^bb0(%a: i8, %b: i32):
    %x = arith.extsi %a : i8 to i32
    linalg.yield %x : i32
  } -> tensor<1x8xi32>
  %u = tensor.cast %w : tensor<1x8xi32> to tensor<*xi32>
  call @printMemrefI32(%u) : (tensor<*xi32>) -> ()
  return
}

func.func @printBytes(%t: tensor<1x4xi8>) {
  %e = tensor.empty() : tensor<1x4xi32>
  %w = linalg.generic {indexing_maps = [affine_map<(i, j) -> (i, j)>, affine_map<(i, j) -> (i, j)>],
                       iterator_types = ["parallel", "parallel"]}
         ins(%t : tensor<1x4xi8>) outs(%e : tensor<1x4xi32>) {
  ^bb0(%a: i8, %b: i32):
    %x = arith.extui %a : i8 to i32
    linalg.yield %x : i32
  } -> tensor<1x4xi32>
  %u = tensor.cast %w : tensor<1x4xi32> to tensor<*xi32>
  call @printMemrefI32(%u) : (tensor<*xi32>) -> ()
  return
}

func.func @main() {
  %x = arith.constant dense<[[0.5, 1.5, 2.5, -0.5, -2.5, 100.0, -100.0, 0x7FC00000]]> : tensor<1x8xf32>
  %one = arith.constant dense<1.0> : tensor<1x1xf32>

  // si4: ties to even, clamp to [-8, 7], NaN -> -8.
  // CHECK: [0,   2,   2,   0,   -2,   7,   -8,   -8]
  %q = qtensor.quantize %x scales(%one : tensor<1x1xf32>)
         layout <si4, block = [0, 0]> : tensor<1x8xf32> -> tensor<1x8xi8>
  call @printCodes(%q) : (tensor<1x8xi8>) -> ()

  // ui4 with zero-point 3: roundeven(x) + 3 clamped to [0, 15].
  // CHECK: [3,   5,   5,   3,   1,   15,   0,   0]
  %z = arith.constant dense<3> : tensor<1x1xi32>
  %qz = qtensor.quantize %x scales(%one : tensor<1x1xf32>) zero_points(%z : tensor<1x1xi32>)
          layout <ui4, block = [0, 0]> : tensor<1x8xf32> -> tensor<1x8xi8>
  call @printCodes(%qz) : (tensor<1x8xi8>) -> ()

  // The same codes packed LSB-first: [3|5<<4, 5|3<<4, 1|15<<4, 0|0<<4].
  // CHECK: [83,   53,   241,   0]
  %qp = qtensor.quantize %x scales(%one : tensor<1x1xf32>) zero_points(%z : tensor<1x1xi32>)
          layout <ui4, block = [0, 0], packing = lsb_first> : tensor<1x8xf32> -> tensor<1x4xi8>
  call @printBytes(%qp) : (tensor<1x4xi8>) -> ()

  // A zero scale codes everything as the zero-point.
  // CHECK: [3,   3,   3,   3,   3,   3,   3,   3]
  %zero = arith.constant dense<0.0> : tensor<1x1xf32>
  %q0 = qtensor.quantize %x scales(%zero : tensor<1x1xf32>) zero_points(%z : tensor<1x1xi32>)
          layout <ui4, block = [0, 0]> : tensor<1x8xf32> -> tensor<1x8xi8>
  call @printCodes(%q0) : (tensor<1x8xi8>) -> ()

  // si3 packed LSB-first straddles bytes; codes [-4..3] of x = -4..3:
  // the bit patterns 4,5,6,7,0,1,2,3 at bits 3k -> bytes 0x2C 0x4E 0x9A... 
  // checked by unpacking through dequantize instead of by hand.
  // CHECK: [-4,   -3,   -2,   -1,   0,   1,   2,   3]
  %ramp = arith.constant dense<[[-4.0, -3.0, -2.0, -1.0, 0.0, 1.0, 2.0, 3.0]]> : tensor<1x8xf32>
  %q3 = qtensor.quantize %ramp scales(%one : tensor<1x1xf32>)
          layout <si3, block = [0, 0], packing = lsb_first> : tensor<1x8xf32> -> tensor<1x3xi8>
  %d3 = qtensor.dequantize %q3 scales(%one : tensor<1x1xf32>)
          layout <si3, block = [0, 0], packing = lsb_first> : tensor<1x3xi8> -> tensor<1x8xf32>
  %u3 = tensor.cast %d3 : tensor<1x8xf32> to tensor<*xf32>
  call @printMemrefF32(%u3) : (tensor<*xf32>) -> ()

  // NF4 with absmax 1: ties at a threshold take the lower code; +-1 saturate.
  // x = [0.03979014977812767 (threshold 7|8), 0.04, -1, 1, 2, -0.0, 0.5, nan]
  // CHECK: [7,   8,   0,   15,   15,   7,   12,   0]
  %xn = arith.constant dense<[[0.03979014977812767, 0.04, -1.0, 1.0, 2.0, -0.0, 0.5, 0x7FC00000]]> : tensor<1x8xf32>
  %qn = qtensor.quantize %xn scales(%one : tensor<1x1xf32>)
          layout <nf4, block = [0, 0]> : tensor<1x8xf32> -> tensor<1x8xi8>
  call @printCodes(%qn) : (tensor<1x8xi8>) -> ()

  // FP8 E4M3FN: 1 -> 0x38, 1.0625 (tie) -> 1 (even), 1.1875 (tie) -> 1.25
  // (0x3A), 500 -> 448 (0x7E), -2^-10 (tie below the smallest subnormal)
  // -> -0 (0x80 = -128), 2^-9 -> 0x01, -3 -> 0xC4 (-60), NaN -> 0x7F.
  // CHECK: [56,   56,   58,   126,   -128,   1,   -60,   127]
  %x8 = arith.constant dense<[[1.0, 1.0625, 1.1875, 500.0, -0.0009765625, 0.001953125, -3.0, 0x7FC00000]]> : tensor<1x8xf32>
  %q8 = qtensor.quantize %x8 scales(%one : tensor<1x1xf32>)
          layout <f8E4M3FN, block = [0, 0]> : tensor<1x8xf32> -> tensor<1x8xi8>
  call @printCodes(%q8) : (tensor<1x8xi8>) -> ()

  // Per-token dynamic int8: row absmax 100 -> s = 100/127; NaN -> -127.
  // codes round(x * 1.27): 0.635 -> 1, 1.905 -> 2, 3.175 -> 3, -1, -3, 127, -127, -127
  // CHECK: [1,   2,   3,   -1,   -3,   127,   -127,   -127]
  // CHECK: [0.787402]
  %dq, %ds = qtensor.dynamic_quantize %x : tensor<1x8xf32> -> tensor<1x8xi8>, tensor<1x1xf32>
  call @printCodes(%dq) : (tensor<1x8xi8>) -> ()
  %us = tensor.cast %ds : tensor<1x1xf32> to tensor<*xf32>
  call @printMemrefF32(%us) : (tensor<*xf32>) -> ()

  // fake_quant = dequantize(quantize(x)) with si8 scale 0.5: [0.5, 1.5, 2.5,
  // -0.5, -2.5] are exact, 100 and -100 clamp to 63.5 and -64, NaN to -64.
  // CHECK: [0.5,   1.5,   2.5,   -0.5,   -2.5,   63.5,   -64,   -64]
  %half = arith.constant dense<0.5> : tensor<1x1xf32>
  %fq = qtensor.fake_quant %x scales(%half : tensor<1x1xf32>)
          layout <si8, block = [0, 0]> : tensor<1x8xf32>
  %ufq = tensor.cast %fq : tensor<1x8xf32> to tensor<*xf32>
  call @printMemrefF32(%ufq) : (tensor<*xf32>) -> ()
  return
}
