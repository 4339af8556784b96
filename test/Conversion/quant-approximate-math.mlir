// RUN: quant-opt %s --quant-approximate-math | FileCheck %s
// RUN: quant-opt %s --quant-lower-to-llvm | mlir-runner -e main -entry-point-result=void \
// RUN:   -shared-libs=%mlir_runner_utils,%mlir_c_runner_utils | FileCheck %s --check-prefix=EXEC

// CHECK-LABEL: func.func @exp
// CHECK-NOT: math.exp
// CHECK: arith.bitcast
func.func @exp(%x: tensor<8xf32>) -> tensor<8xf32> {
  %e = tensor.empty() : tensor<8xf32>
  %y = linalg.generic {indexing_maps = [affine_map<(i) -> (i)>, affine_map<(i) -> (i)>],
                       iterator_types = ["parallel"]} ins(%x : tensor<8xf32>) outs(%e : tensor<8xf32>) {
  ^bb0(%a: f32, %b: f32):
    %v = math.exp %a : f32
    linalg.yield %v : f32
  } -> tensor<8xf32>
  return %y : tensor<8xf32>
}

func.func private @printMemrefF32(tensor<*xf32>) attributes { llvm.emit_c_interface }

// Softmax and SiLU need exp(-inf) = 0, exp(0) = 1 exactly and saturation.
// EXEC: [1,   2.71828,   0.367879,   0,   0,   inf,   nan,   22026.5]
func.func @main() {
  %x = arith.constant dense<[0.0, 1.0, -1.0, -100.0, 0xFF800000, 100.0, 0x7FC00000, 10.0]> : tensor<8xf32>
  %y = call @exp(%x) : (tensor<8xf32>) -> tensor<8xf32>
  %u = tensor.cast %y : tensor<8xf32> to tensor<*xf32>
  call @printMemrefF32(%u) : (tensor<*xf32>) -> ()
  return
}
