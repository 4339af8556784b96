// RUN: quant-opt %s --split-input-file --verify-diagnostics --convert-float-matmul-to-gpu-kernels="report-fallback" | FileCheck %s
// RUN: quant-opt %s --split-input-file --verify-diagnostics --convert-float-matmul-to-gpu-kernels="report-fallback compute-type=f16" | FileCheck %s --check-prefix=F16
// RUN: quant-compile %s --emit=ptx -o - | FileCheck %s --check-prefix=PTX
// RUN: not quant-opt %s --split-input-file --convert-float-matmul-to-gpu-kernels="compute-type=bf16" 2>&1 | FileCheck %s --check-prefix=BAD

// BAD: convert-float-matmul-to-gpu-kernels: compute-type must be f32 or f16, got 'bf16'

// The importers' x * W^T with an f32 [N, K] weight: the GEMV with weights
// that need no decoding (16-byte loads of four weights and four activations
// per row, FMAs, shuffle reduction), on a fresh output since the init is a
// zero fill.
// CHECK-LABEL: func.func @linear
// CHECK: %[[W:.*]] = bufferization.to_buffer %{{.*}} : tensor<64x128xf32> to memref<64x128xf32>
// CHECK: gpu.launch
// CHECK: scf.for
// CHECK: vector.load %[[W]][%{{.*}}, %{{.*}}] {alignment = 16 : i64} : memref<64x128xf32>, vector<4xf32>
// CHECK: math.fma
// CHECK: gpu.shuffle xor
// CHECK: memref.store
// CHECK-NOT: linalg.generic
// With compute-type=f16, from 9 rows the tensor-core kernel.
// F16-LABEL: func.func @linear
// F16: scf.if
// F16: nvgpu.mma.sync(%{{.*}}, %{{.*}}, %{{.*}}) {mmaShape = [16, 8, 16]} : (vector<4x2xf16>, vector<2x2xf16>, vector<2x2xf32>) -> vector<2x2xf32>
// F16: } else {
// F16: gpu.shuffle xor
#x_wt = affine_map<(m, n, k) -> (m, k)>
#w_nk = affine_map<(m, n, k) -> (n, k)>
#y_mn = affine_map<(m, n, k) -> (m, n)>
func.func @linear(%x: tensor<?x128xf32>, %w: tensor<64x128xf32>)
    -> tensor<?x64xf32> {
  %c0 = arith.constant 0 : index
  %zero = arith.constant 0.0 : f32
  %m = tensor.dim %x, %c0 : tensor<?x128xf32>
  %empty = tensor.empty(%m) : tensor<?x64xf32>
  %init = linalg.fill ins(%zero : f32) outs(%empty : tensor<?x64xf32>) -> tensor<?x64xf32>
  %y = linalg.generic {indexing_maps = [#x_wt, #w_nk, #y_mn],
                       iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%x, %w : tensor<?x128xf32>, tensor<64x128xf32>)
      outs(%init : tensor<?x64xf32>) {
  ^bb0(%a: f32, %b: f32, %acc: f32):
    %p = arith.mulf %a, %b : f32
    %s = arith.addf %acc, %p : f32
    linalg.yield %s : f32
  } -> tensor<?x64xf32>
  return %y : tensor<?x64xf32>
}

// -----

// A [K, N] weight (linalg.matmul) and batched products stay for the
// generic mapping.
func.func @kn_weight(%x: tensor<4x32xf32>, %w: tensor<32x16xf32>,
                     %init: tensor<4x16xf32>) -> tensor<4x16xf32> {
  // expected-remark@+1 {{convert-float-matmul-to-gpu-kernels: no GPU kernel for this product (a weight that is not [N, K]); the generic loop mapping computes it}}
  %y = linalg.matmul ins(%x, %w : tensor<4x32xf32>, tensor<32x16xf32>)
         outs(%init : tensor<4x16xf32>) -> tensor<4x16xf32>
  return %y : tensor<4x16xf32>
}

// -----

func.func @batched(%a: tensor<2x4x8xf32>, %b: tensor<2x8x4xf32>,
                   %init: tensor<2x4x4xf32>) -> tensor<2x4x4xf32> {
  // expected-remark@+1 {{convert-float-matmul-to-gpu-kernels: no GPU kernel for this product (batch dimensions); the generic loop mapping computes it}}
  %y = linalg.batch_matmul ins(%a, %b : tensor<2x4x8xf32>, tensor<2x8x4xf32>)
         outs(%init : tensor<2x4x4xf32>) -> tensor<2x4x4xf32>
  return %y : tensor<2x4x4xf32>
}

// PTX-LABEL: .visible .entry linear_kernel(
// PTX-NOT: .local
// PTX: ld.global{{(.nc)?}}.v4.b32
// PTX: fma.rn.f32
// PTX: shfl.sync.bfly.b32
