// Flat blocks (bitsandbytes: blocks over the flattened tensor, straddling
// rows), the dynamic8 format and double-quantized scales, lowered and run.
// RUN: quant-opt %s --quant-lower-to-llvm \
// RUN: | mlir-runner -e main -entry-point-result=void \
// RUN:   -shared-libs=%mlir_runner_utils,%mlir_c_runner_utils \
// RUN: | FileCheck %s

func.func private @printMemrefF32(tensor<*xf32>) attributes { llvm.emit_c_interface }
func.func private @printMemrefI32(tensor<*xi32>) attributes { llvm.emit_c_interface }

func.func @print(%t: tensor<?x?xf32>) {
  %u = tensor.cast %t : tensor<?x?xf32> to tensor<*xf32>
  call @printMemrefF32(%u) : (tensor<*xf32>) -> ()
  return
}

func.func @main() {
  // A [2, 3] NF4 weight in flat blocks of 4: block 0 is flat 0..3 (row 0
  // and the first element of row 1, absmax 2), block 1 flat 4..5 (absmax
  // 0.5). Codes in flat order [15, 0, 7, 15, 0, 15] (NF4 1, -1, 0), high
  // nibble first: bytes 0xF0 (-16), 0x7F (127), 0x0F (15).
  // CHECK: [2,   -2,   0]
  // CHECK: [2,   -0.5,   0.5]
  %q = arith.constant dense<[-16, 127, 15]> : tensor<3xi8>
  %s = arith.constant dense<[2.0, 0.5]> : tensor<2xf32>
  %w = qtensor.dequantize %q scales(%s : tensor<2xf32>)
         layout <nf4, block = [4], packing = msb_first>
         : tensor<3xi8> -> tensor<2x3xf32>
  %wd = tensor.cast %w : tensor<2x3xf32> to tensor<?x?xf32>
  call @print(%wd) : (tensor<?x?xf32>) -> ()

  // The fused product decodes the same stream: x = I gives W^T, and a row
  // of ones the row sums [0, 2].
  // CHECK: [2,   2]
  // CHECK: [-2,   -0.5]
  // CHECK: [0,   0.5]
  // CHECK: [0,   2]
  %x = arith.constant dense<[[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0],
                             [1.0, 1.0, 1.0]]> : tensor<4x3xf32>
  %zero = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<4x2xf32>
  %init = linalg.fill ins(%zero : f32) outs(%e : tensor<4x2xf32>) -> tensor<4x2xf32>
  %y = qtensor.dequant_matmul %x, %q scales(%s : tensor<2xf32>)
         layout <nf4, block = [4], packing = msb_first> outs(%init : tensor<4x2xf32>)
         : tensor<4x3xf32>, tensor<3xi8> -> tensor<4x2xf32>
  %yd = tensor.cast %y : tensor<4x2xf32> to tensor<?x?xf32>
  call @print(%yd) : (tensor<?x?xf32>) -> ()

  // dynamic8: index 255 is 1.0, 127 is 0, 0 and 254 are -/+0.99296875;
  // flat blocks of 2 over [2, 2] with scales [2, 1].
  // CHECK: [2,   0]
  // CHECK: [-0.992969,   0.992969]
  %c8 = arith.constant dense<[-1, 127, 0, -2]> : tensor<4xi8>
  %s8 = arith.constant dense<[2.0, 1.0]> : tensor<2xf32>
  %d8 = qtensor.dequantize %c8 scales(%s8 : tensor<2xf32>)
          layout <dynamic8, block = [2]> : tensor<4xi8> -> tensor<2x2xf32>
  %d8d = tensor.cast %d8 : tensor<2x2xf32> to tensor<?x?xf32>
  call @print(%d8d) : (tensor<?x?xf32>) -> ()

  // Double quantization: absmax = dequantize(codes [255, 127] with absmax2
  // 1.5) + offset 0.5 = [2, 0.5], the scales of the first weight.
  // CHECK: [2,   -2,   0]
  // CHECK: [2,   -0.5,   0.5]
  %codes = arith.constant dense<[-1, 127]> : tensor<2xi8>
  %absmax2 = arith.constant dense<1.5> : tensor<1xf32>
  %offset = arith.constant dense<0.5> : tensor<f32>
  %a = qtensor.dequantize %codes scales(%absmax2 : tensor<1xf32>)
         layout <dynamic8, block = [256]> : tensor<2xi8> -> tensor<2xf32>
  %ae = tensor.empty() : tensor<2xf32>
  %absmax = linalg.generic {indexing_maps = [affine_map<(d0) -> (d0)>, affine_map<(d0) -> ()>, affine_map<(d0) -> (d0)>],
                            iterator_types = ["parallel"]}
      ins(%a, %offset : tensor<2xf32>, tensor<f32>) outs(%ae : tensor<2xf32>) {
  ^bb0(%v: f32, %o: f32, %out: f32):
    %sum = arith.addf %v, %o : f32
    linalg.yield %sum : f32
  } -> tensor<2xf32>
  %wdq = qtensor.dequantize %q scales(%absmax : tensor<2xf32>)
           layout <nf4, block = [4], packing = msb_first>
           : tensor<3xi8> -> tensor<2x3xf32>
  %wdqd = tensor.cast %wdq : tensor<2x3xf32> to tensor<?x?xf32>
  call @print(%wdqd) : (tensor<?x?xf32>) -> ()

  // Quantizing the decoded weight with the same flat blocks gives the same
  // bytes back.
  // CHECK: [-16,  127,  15]
  %rq = qtensor.quantize %w scales(%s : tensor<2xf32>)
          layout <nf4, block = [4], packing = msb_first>
          : tensor<2x3xf32> -> tensor<3xi8>
  %re = tensor.empty() : tensor<3xi32>
  %rq32 = linalg.generic {indexing_maps = [affine_map<(i) -> (i)>, affine_map<(i) -> (i)>],
                          iterator_types = ["parallel"]}
            ins(%rq : tensor<3xi8>) outs(%re : tensor<3xi32>) {
  ^bb0(%b: i8, %o: i32):
    %ext = arith.extsi %b : i8 to i32
    linalg.yield %ext : i32
  } -> tensor<3xi32>
  %rqu = tensor.cast %rq32 : tensor<3xi32> to tensor<*xi32>
  call @printMemrefI32(%rqu) : (tensor<*xi32>) -> ()

  // dynamic8 encoding (fake_quant, flat blocks of 2 with scales [2, 1]):
  // map values come back; 0.3 lies between entries 204 (0.289844) and 205
  // (0.303906), nearer to 205.
  // CHECK: [2,   0]
  // CHECK: [-0.992969,   0.303906]
  %fx = arith.constant dense<[[2.0, 0.0], [-0.99296875, 0.3]]> : tensor<2x2xf32>
  %fq = qtensor.fake_quant %fx scales(%s8 : tensor<2xf32>)
          layout <dynamic8, block = [2]> : tensor<2x2xf32>
  %fqd = tensor.cast %fq : tensor<2x2xf32> to tensor<?x?xf32>
  call @print(%fqd) : (tensor<?x?xf32>) -> ()
  return
}
