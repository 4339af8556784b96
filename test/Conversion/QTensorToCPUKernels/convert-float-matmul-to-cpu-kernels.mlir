// RUN: quant-opt %s --split-input-file --convert-float-matmul-to-cpu-kernels="report-fallback" --verify-diagnostics | FileCheck %s
// RUN: quant-opt %s --split-input-file --convert-float-matmul-to-cpu-kernels="threads=2" 2>/dev/null | FileCheck %s --check-prefix=PAR
// RUN: not quant-opt %s --split-input-file --convert-float-matmul-to-cpu-kernels="threads=0" 2>&1 | FileCheck %s --check-prefix=ZERO

// ZERO: threads must be at least 1, got 0

// The importers' x · Wᵀ generic ([N, K] weight, leading batch and sequence
// dimensions): the activations collapse to a matrix, the zero fill is not
// materialised, and the kernel streams 16-lane loads of weight rows into
// vector.fma below 48 rows; from 48 rows a task transposes 16x16 blocks of
// its weights into a panel and multiplies 6-row tiles of broadcasts.
// CHECK-LABEL: func.func @importer_linear
// CHECK-NOT: linalg.generic
// CHECK: tensor.collapse_shape %{{.*}} {{\[}}[0, 1], [2]] : tensor<1x3x64xf32> into tensor<3x64xf32>
// CHECK: call @[[KERNEL:__qtensor_kernel_matmul_40x64_f32]](
// CHECK: tensor.expand_shape
// CHECK: func.func private @[[KERNEL]](%{{.*}}: memref<?x64xf32> {llvm.noalias}, %{{.*}}: memref<40x64xf32> {llvm.noalias}
// CHECK: func.func private @[[KERNEL]]_task(
// CHECK: scf.if
// CHECK: vector.transpose %{{.*}}, [1, 0] : vector<16x16xf32> to vector<16x16xf32>
// CHECK: vector.broadcast %{{.*}} : f32 to vector<16xf32>
// CHECK: vector.fma
// CHECK: } else {
// CHECK: vector.load %{{.*}} : memref<40x64xf32>, vector<16xf32>
// CHECK: vector.fma
// CHECK: vector.reduction <add>, %{{.*}} fastmath<reassoc> : vector<16xf32> into f32
// PAR-LABEL: func.func @importer_linear
// PAR: call @__qtensor_kernel_matmul_40x64_f32_t2(
// PAR: scf.parallel
func.func @importer_linear(%x: tensor<1x3x64xf32>, %w: tensor<40x64xf32>) -> tensor<1x3x40xf32> {
  %zero = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<1x3x40xf32>
  %init = linalg.fill ins(%zero : f32) outs(%e : tensor<1x3x40xf32>) -> tensor<1x3x40xf32>
  %y = linalg.generic {indexing_maps = [affine_map<(b, s, n, k) -> (b, s, k)>,
                                        affine_map<(b, s, n, k) -> (n, k)>,
                                        affine_map<(b, s, n, k) -> (b, s, n)>],
                       iterator_types = ["parallel", "parallel", "parallel", "reduction"]}
      ins(%x, %w : tensor<1x3x64xf32>, tensor<40x64xf32>) outs(%init : tensor<1x3x40xf32>) {
  ^bb0(%a: f32, %b: f32, %o: f32):
    %p = arith.mulf %a, %b : f32
    %s = arith.addf %o, %p : f32
    linalg.yield %s : f32
  } -> tensor<1x3x40xf32>
  return %y : tensor<1x3x40xf32>
}

// -----

// A bf16 [N, K] weight widened in the body (a Hugging Face BF16 matrix as
// the weight passes expand it): the kernel loads 16 bf16 weights and
// widens them, with no f32 copy of the matrix.
// CHECK-LABEL: func.func @bf16_weight
// CHECK: call @[[KERNEL:__qtensor_kernel_matmul_40x64_bf16]](
// CHECK: func.func private @[[KERNEL]](%{{.*}}: memref<?x64xf32> {llvm.noalias}, %{{.*}}: memref<40x64xbf16> {llvm.noalias}
// CHECK: vector.load %{{.*}} : memref<40x64xbf16>, vector<16xbf16>
// CHECK: arith.extf %{{.*}} : vector<16xbf16> to vector<16xf32>
func.func @bf16_weight(%x: tensor<1x3x64xf32>, %w: tensor<40x64xbf16>) -> tensor<1x3x40xf32> {
  %zero = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<1x3x40xf32>
  %init = linalg.fill ins(%zero : f32) outs(%e : tensor<1x3x40xf32>) -> tensor<1x3x40xf32>
  %y = linalg.generic {indexing_maps = [affine_map<(b, s, n, k) -> (b, s, k)>,
                                        affine_map<(b, s, n, k) -> (n, k)>,
                                        affine_map<(b, s, n, k) -> (b, s, n)>],
                       iterator_types = ["parallel", "parallel", "parallel", "reduction"]}
      ins(%x, %w : tensor<1x3x64xf32>, tensor<40x64xbf16>) outs(%init : tensor<1x3x40xf32>) {
  ^bb0(%a: f32, %b: bf16, %o: f32):
    %bw = arith.extf %b : bf16 to f32
    %p = arith.mulf %a, %bw : f32
    %s = arith.addf %o, %p : f32
    linalg.yield %s : f32
  } -> tensor<1x3x40xf32>
  return %y : tensor<1x3x40xf32>
}

// -----

// linalg.matmul with a [K, N] weight that is not a constant: each task
// copies its 32 columns into a contiguous panel (N = 40 is not a multiple
// of 32: masked transfers read zeros past N) and multiplies it with row
// tiles at every row count; the init is added to.
// CHECK-LABEL: func.func @matmul_kn
// CHECK: memref.copy
// CHECK: call @[[KERNEL:__qtensor_kernel_matmul_40x64_f32_kn_acc]](
// CHECK: func.func private @[[KERNEL]]_task(
// CHECK-NOT: vector.transpose
// CHECK: vector.transfer_read %{{.*}} : memref<64x40xf32>, vector<16xf32>
// CHECK: vector.store %{{.*}} : memref<64x32xf32>, vector<16xf32>
// CHECK: vector.fma
func.func @matmul_kn(%x: tensor<5x64xf32>, %w: tensor<64x40xf32>, %init: tensor<5x40xf32>) -> tensor<5x40xf32> {
  %y = linalg.matmul ins(%x, %w : tensor<5x64xf32>, tensor<64x40xf32>)
                     outs(%init : tensor<5x40xf32>) -> tensor<5x40xf32>
  return %y : tensor<5x40xf32>
}

// -----

// A transpose of an [N, K] weight feeding linalg.matmul (torch-mlir's
// nn.Linear) is looked through: the kernel reads the [N, K] source.
// CHECK-LABEL: func.func @matmul_transposed_weight
// CHECK: call @__qtensor_kernel_matmul_64x32_f32(
// CHECK-SAME: memref<64x32xf32>
func.func @matmul_transposed_weight(%x: tensor<4x32xf32>, %w: tensor<64x32xf32>) -> tensor<4x64xf32> {
  %zero = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<4x64xf32>
  %init = linalg.fill ins(%zero : f32) outs(%e : tensor<4x64xf32>) -> tensor<4x64xf32>
  %te = tensor.empty() : tensor<32x64xf32>
  %wt = linalg.transpose ins(%w : tensor<64x32xf32>) outs(%te : tensor<32x64xf32>) permutation = [1, 0]
  %y = linalg.matmul ins(%x, %wt : tensor<4x32xf32>, tensor<32x64xf32>)
                     outs(%init : tensor<4x64xf32>) -> tensor<4x64xf32>
  return %y : tensor<4x64xf32>
}

// -----

// A constant [K, N] weight is transposed at compile time into a new [N, K]
// constant, which the [N, K] kernel streams; the old constant goes.
// CHECK-LABEL: func.func @matmul_constant_kn
// CHECK: %[[NK:.+]] = arith.constant dense<{{\[}}[1.000000e+00, 3.000000e+00, 5.000000e+00], [2.000000e+00, 4.000000e+00, 6.000000e+00]]> : tensor<2x3xf32>
// CHECK-NOT: tensor<3x2xf32>
// CHECK: bufferization.to_buffer %[[NK]]
// CHECK: call @__qtensor_kernel_matmul_2x3_f32(
func.func @matmul_constant_kn(%x: tensor<4x3xf32>) -> tensor<4x2xf32> {
  %w = arith.constant dense<[[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]]> : tensor<3x2xf32>
  %zero = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<4x2xf32>
  %init = linalg.fill ins(%zero : f32) outs(%e : tensor<4x2xf32>) -> tensor<4x2xf32>
  %y = linalg.matmul ins(%x, %w : tensor<4x3xf32>, tensor<3x2xf32>)
                     outs(%init : tensor<4x2xf32>) -> tensor<4x2xf32>
  return %y : tensor<4x2xf32>
}

// -----

// Products the kernels do not take stay linalg, with a remark.
// CHECK-LABEL: func.func @batched
// CHECK: linalg.batch_matmul
func.func @batched(%a: tensor<2x4x8xf32>, %b: tensor<2x8x16xf32>, %init: tensor<2x4x16xf32>) -> tensor<2x4x16xf32> {
  // expected-remark @below {{no kernel for this product (batch dimensions); it stays a linalg op}}
  %y = linalg.batch_matmul ins(%a, %b : tensor<2x4x8xf32>, tensor<2x8x16xf32>)
                           outs(%init : tensor<2x4x16xf32>) -> tensor<2x4x16xf32>
  return %y : tensor<2x4x16xf32>
}

// -----

// CHECK-LABEL: func.func @f16_operands
// CHECK: linalg.matmul
func.func @f16_operands(%a: tensor<4x8xf16>, %b: tensor<8x16xf16>, %init: tensor<4x16xf16>) -> tensor<4x16xf16> {
  // expected-remark @below {{no kernel for this product (operands that are not f32 (or f16/bf16 weights))}}
  %y = linalg.matmul ins(%a, %b : tensor<4x8xf16>, tensor<8x16xf16>)
                     outs(%init : tensor<4x16xf16>) -> tensor<4x16xf16>
  return %y : tensor<4x16xf16>
}

// -----

// The activations must be [rows..., K]: here K comes first.
// CHECK-LABEL: func.func @transposed_activations
// CHECK: linalg.matmul
func.func @transposed_activations(%a: tensor<8x4xf32>, %b: tensor<8x16xf32>, %init: tensor<4x16xf32>) -> tensor<4x16xf32> {
  // expected-remark @below {{no kernel for this product (activations not laid out as [rows..., K])}}
  %y = linalg.matmul indexing_maps = [affine_map<(m, n, k) -> (k, m)>,
                                      affine_map<(m, n, k) -> (k, n)>,
                                      affine_map<(m, n, k) -> (m, n)>]
                     ins(%a, %b : tensor<8x4xf32>, tensor<8x16xf32>)
                     outs(%init : tensor<4x16xf32>) -> tensor<4x16xf32>
  return %y : tensor<4x16xf32>
}
