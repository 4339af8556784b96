// Decoding of every storage format by the reference lowering.
// RUN: quant-opt %s --quant-lower-to-llvm \
// RUN: | mlir-runner -e main -entry-point-result=void \
// RUN:   -shared-libs=%mlir_runner_utils,%mlir_c_runner_utils \
// RUN: | FileCheck %s

func.func private @printMemrefF32(tensor<*xf32>) attributes { llvm.emit_c_interface }

func.func @print(%t: tensor<1x8xf32>) {
  %u = tensor.cast %t : tensor<1x8xf32> to tensor<*xf32>
  call @printMemrefF32(%u) : (tensor<*xf32>) -> ()
  return
}

func.func @main() {
  %one = arith.constant dense<1.0> : tensor<1x1xf32>

  // si3, LSB-first bit stream: codes [0, 1, 2, 3, -4, -3, -2, -1] are the
  // 3-bit patterns 0..7 at bits 3k: bytes 0b10001000 = 0x88 (-120),
  // 0b11000110 = 0xC6 (-58), 0b11111010 = 0xFA (-6). Codes 2 and 5 straddle.
  // CHECK: [0,   1,   2,   3,   -4,   -3,   -2,   -1]
  %s3 = arith.constant dense<[[-120, -58, -6]]> : tensor<1x3xi8>
  %d3 = qtensor.dequantize %s3 scales(%one : tensor<1x1xf32>)
          layout <si3, block = [0, 0], packing = lsb_first>
          : tensor<1x3xi8> -> tensor<1x8xf32>
  call @print(%d3) : (tensor<1x8xf32>) -> ()

  // ui4 LSB-first with zero-point 8 and scale 0.5: bytes 0x10, 0x32, 0xFE,
  // 0x87 hold codes [0,1,2,3,14,15,7,8] -> 0.5 * (q - 8).
  // CHECK: [-4,   -3.5,   -3,   -2.5,   3,   3.5,   -0.5,   0]
  %s4 = arith.constant dense<[[16, 50, -2, -121]]> : tensor<1x4xi8>
  %half = arith.constant dense<0.5> : tensor<1x1xf32>
  %z8 = arith.constant dense<8> : tensor<1x1xi8>
  %d4 = qtensor.dequantize %s4 scales(%half : tensor<1x1xf32>)
          zero_points(%z8 : tensor<1x1xi8>)
          layout <ui4, block = [0, 0], packing = lsb_first>
          : tensor<1x4xi8> -> tensor<1x8xf32>
  call @print(%d4) : (tensor<1x8xf32>) -> ()

  // NF4, high nibble first (bitsandbytes): bytes 0x07, 0xF8, 0x12, 0x3E
  // hold codes [0,7,15,8,1,2,3,14]; absmax 2.
  // CHECK: [-2,   0,   2,   0.159161,   -1.39239,   -1.05015,   -0.789835,   1.44591]
  %snf = arith.constant dense<[[7, -8, 18, 62]]> : tensor<1x4xi8>
  %two = arith.constant dense<2.0> : tensor<1x1xf32>
  %dnf = qtensor.dequantize %snf scales(%two : tensor<1x1xf32>)
           layout <nf4, block = [0, 0], packing = msb_first>
           : tensor<1x4xi8> -> tensor<1x8xf32>
  call @print(%dnf) : (tensor<1x8xf32>) -> ()

  // FP4 (bitsandbytes E2M1), unpacked: codes 0,1,2,3,4,5,6,7 with scale 12
  // give {0, 0.0625, 8, 12, 4, 6, 2, 3}.
  // CHECK: [0,   0.0625,   8,   12,   4,   6,   2,   3]
  %sfp4 = arith.constant dense<[[0, 1, 2, 3, 4, 5, 6, 7]]> : tensor<1x8xi8>
  %twelve = arith.constant dense<12.0> : tensor<1x1xf32>
  %dfp4 = qtensor.dequantize %sfp4 scales(%twelve : tensor<1x1xf32>)
            layout <fp4, block = [0, 0]> : tensor<1x8xi8> -> tensor<1x8xf32>
  call @print(%dfp4) : (tensor<1x8xf32>) -> ()

  // FP8 E4M3FN: 0x38 = 1, 0xB8 = -1, 0x7E = 448, 0x01 = 2^-9, 0x08 = 2^-6,
  // 0x3C = 1.5, 0x40 = 2, 0x00 = 0.
  // CHECK: [1,   -1,   448,   0.00195312,   0.015625,   1.5,   2,   0]
  %sf8 = arith.constant dense<[[56, -72, 126, 1, 8, 60, 64, 0]]> : tensor<1x8xi8>
  %df8 = qtensor.dequantize %sf8 scales(%one : tensor<1x1xf32>)
           layout <f8E4M3FN, block = [0, 0]> : tensor<1x8xi8> -> tensor<1x8xf32>
  call @print(%df8) : (tensor<1x8xf32>) -> ()

  // FP8 E5M2: 0x3C = 1, 0x7B = 57344, 0x01 = 2^-16, 0xC0 = -2.
  // CHECK: [1,   57344,   1.52588e-05,   -2,   1,   57344,   1.52588e-05,   -2]
  %se5 = arith.constant dense<[[60, 123, 1, -64, 60, 123, 1, -64]]> : tensor<1x8xi8>
  %de5 = qtensor.dequantize %se5 scales(%one : tensor<1x1xf32>)
           layout <f8E5M2, block = [0, 0]> : tensor<1x8xi8> -> tensor<1x8xf32>
  call @print(%de5) : (tensor<1x8xf32>) -> ()

  // Groups of 3 along K (ragged last group of 2), f16 scales, float zeros,
  // act-order group_index [2,0,1,0,2,1,0,2] overriding k / 3.
  // scales [1, 10, 100], zeros [0.5, 0, 1]; si8 codes all 1: s * (1 - z).
  // CHECK: [0,   0.5,   10,   0.5,   0,   10,   0.5,   0]
  %ones = arith.constant dense<1> : tensor<1x8xi8>
  %sg = arith.constant dense<[[1.0, 10.0, 100.0]]> : tensor<1x3xf16>
  %zg = arith.constant dense<[[0.5, 0.0, 1.0]]> : tensor<1x3xf32>
  %gidx = arith.constant dense<[2, 0, 1, 0, 2, 1, 0, 2]> : tensor<8xi32>
  %dg = qtensor.dequantize %ones scales(%sg : tensor<1x3xf16>)
          zero_points(%zg : tensor<1x3xf32>) group_index(%gidx : tensor<8xi32>)
          layout <si8, block = [0, 3]> : tensor<1x8xi8> -> tensor<1x8xf32>
  call @print(%dg) : (tensor<1x8xf32>) -> ()

  // Double quantization: groups of 4 whose scales are ui8 codes [2, 6] with
  // one scale of 0.25, i.e. 0.5 and 1.5; codes si4 unpacked [1..4, -1..-4].
  // CHECK: [0.5,   1,   1.5,   2,   -1.5,   -3,   -4.5,   -6]
  %sc = arith.constant dense<[[2, 6]]> : tensor<1x2xi8>
  %quarter = arith.constant dense<0.25> : tensor<1x1xf32>
  %scales = qtensor.dequantize %sc scales(%quarter : tensor<1x1xf32>)
              layout <ui8, block = [0, 0]> : tensor<1x2xi8> -> tensor<1x2xf32>
  %cd = arith.constant dense<[[1, 2, 3, 4, -1, -2, -3, -4]]> : tensor<1x8xi8>
  %dd = qtensor.dequantize %cd scales(%scales : tensor<1x2xf32>)
          layout <si4, block = [1, 4]> : tensor<1x8xi8> -> tensor<1x8xf32>
  call @print(%dd) : (tensor<1x8xf32>) -> ()
  return
}
