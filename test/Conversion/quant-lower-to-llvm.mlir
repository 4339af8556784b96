// RUN: quant-opt %s --quant-rtn="bits=4 group-size=2" --quant-lower-to-llvm | FileCheck %s
// RUN: quant-opt %s --quant-rtn="bits=4 group-size=2" --quant-lower-to-llvm="mode=reference threads=2" | FileCheck %s
// RUN: not quant-opt %s --quant-lower-to-llvm="threads=0" 2>&1 | FileCheck %s --check-prefix=THREADS
// RUN: not quant-opt %s --quant-lower-to-llvm="mode=fast" 2>&1 | FileCheck %s --check-prefix=MODE
// RUN: not quant-opt %s --quant-lower-to-llvm="compute=int4" 2>&1 | FileCheck %s --check-prefix=COMPUTE

// THREADS: threads must be at least 1, got 0
// COMPUTE: for the --compute option: Cannot find option named 'int4'
// MODE: for the --mode option: Cannot find option named 'fast'

// The whole pipeline leaves only LLVM dialect ops; the packed weights remain
// i8 globals (4 codes x 2 rows -> 2x2 bytes) and no f32 copy of the weight
// exists.
// CHECK-NOT: qtensor.
// CHECK-NOT: linalg.
// CHECK-NOT: tensor<
// CHECK-DAG: llvm.mlir.global private constant @{{.*}}(dense<{{.*}}> : tensor<2x2xi8>)
// CHECK-NOT: !llvm.array<4 x array<2 x f32>>
// CHECK-LABEL: llvm.func @linear
// CHECK: llvm.intr.roundeven
func.func @linear(%x: tensor<3x4xf32>) -> tensor<3x2xf32> {
  %w = arith.constant dense<[[1.0, -2.0], [0.5, 4.0], [0.0, 1.0], [-1.0, 2.0]]> : tensor<4x2xf32>
  %init = arith.constant dense<0.0> : tensor<3x2xf32>
  %y = linalg.matmul ins(%x, %w : tensor<3x4xf32>, tensor<4x2xf32>)
                     outs(%init : tensor<3x2xf32>) -> tensor<3x2xf32>
  %s = arith.constant dense<0.5> : tensor<3x2xf32>
  %q = qtensor.fake_quant %y scales(%s : tensor<3x2xf32>) layout <si8, block = [1, 1]> : tensor<3x2xf32>
  return %q : tensor<3x2xf32>
}
