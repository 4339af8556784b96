// RUN: quant-opt %s --split-input-file --convert-qtensor-to-gpu-kernels="compute-type=f16" | FileCheck %s
// RUN: quant-compile %s --emit=ptx --lowering-options="compute-type=f16" -o - | FileCheck %s --check-prefix=PTX
// RUN: not quant-opt %s --split-input-file --convert-qtensor-to-gpu-kernels="compute-type=bf16" 2>&1 | FileCheck %s --check-prefix=BAD

// BAD: convert-qtensor-to-gpu-kernels: compute-type must be f32 or f16, got 'bf16'

// With compute-type=f16, a product whose row count is known only at run
// time takes the tensor-core kernel from 9 rows and the GEMV below.
// CHECK-LABEL: func.func @int4_dynamic_rows
// CHECK: %[[M:.*]] = memref.dim %{{.*}}, %c0
// CHECK: %[[MANY:.*]] = arith.cmpi uge, %[[M]], %c9
// CHECK: scf.if %[[MANY]] {
// CHECK: gpu.launch
// CHECK: scf.for
// Each tile's 16 bytes of codes, then step by step: the A fragment (rows
// lane/4 and lane/4 + 8, four columns each, rounded once) and each tile's
// four codes decoded exactly, times the group scale, rounded once.
// CHECK: vector.load %{{.*}} {alignment = 16 : i64} : memref<64x128xi8>, vector<16xi8>
// CHECK: vector.load %{{.*}} {alignment = 16 : i64} : memref<?x256xf32>, vector<4xf32>
// CHECK: arith.truncf %{{.*}} : f32 to f16
// CHECK: vector.from_elements {{.*}} : vector<4x2xf16>
// CHECK: arith.ori %{{.*}}, %c1258291200_i32
// CHECK: arith.mulf
// CHECK: vector.from_elements {{.*}} : vector<2x2xf16>
// CHECK: nvgpu.mma.sync(%{{.*}}, %{{.*}}, %{{.*}}) {mmaShape = [16, 8, 16]} : (vector<4x2xf16>, vector<2x2xf16>, vector<2x2xf32>) -> vector<2x2xf32>
// CHECK: vector.extract %{{.*}}[1, 1] : f32 from vector<2x2xf32>
// CHECK: memref.store
// CHECK: } else {
// CHECK: gpu.launch
// CHECK: gpu.shuffle xor
// CHECK-NOT: nvgpu.mma.sync
// CHECK: return
func.func @int4_dynamic_rows(%x: tensor<?x256xf32>, %q: tensor<64x128xi8>,
                             %s: tensor<64x2xf32>, %z: tensor<64x2xi8>)
    -> tensor<?x64xf32> {
  %c0 = arith.constant 0 : index
  %zero = arith.constant 0.0 : f32
  %m = tensor.dim %x, %c0 : tensor<?x256xf32>
  %empty = tensor.empty(%m) : tensor<?x64xf32>
  %init = linalg.fill ins(%zero : f32) outs(%empty : tensor<?x64xf32>) -> tensor<?x64xf32>
  %y = qtensor.dequant_matmul %x, %q scales(%s : tensor<64x2xf32>)
         zero_points(%z : tensor<64x2xi8>)
         layout <ui4, block = [1, 128], packing = lsb_first>
         outs(%init : tensor<?x64xf32>)
         : tensor<?x256xf32>, tensor<64x128xi8> -> tensor<?x64xf32>
  return %y : tensor<?x64xf32>
}

// -----

// Known row counts choose at compile time: 32 rows, tensor cores only (ggml
// q4_0: a lane's 32 codes are one block); 4 rows, the GEMV only.
// CHECK-LABEL: func.func @q4_0_many_rows
// CHECK-NOT: scf.if
// CHECK: nvgpu.mma.sync
// CHECK-NOT: gpu.shuffle
// CHECK-LABEL: func.func @q4_0_few_rows
// CHECK-NOT: nvgpu.mma.sync
// CHECK: gpu.shuffle
func.func @q4_0_many_rows(%x: tensor<32x128xf32>, %q: tensor<16x72xi8>,
                          %init: tensor<32x16xf32>) -> tensor<32x16xf32> {
  %y = qtensor.ggml_matmul %x, %q as q4_0 outs(%init : tensor<32x16xf32>)
         : tensor<32x128xf32>, tensor<16x72xi8> -> tensor<32x16xf32>
  return %y : tensor<32x16xf32>
}
func.func @q4_0_few_rows(%x: tensor<4x128xf32>, %q: tensor<16x72xi8>,
                         %init: tensor<4x16xf32>) -> tensor<4x16xf32> {
  %y = qtensor.ggml_matmul %x, %q as q4_0 outs(%init : tensor<4x16xf32>)
         : tensor<4x128xf32>, tensor<16x72xi8> -> tensor<4x16xf32>
  return %y : tensor<4x16xf32>
}

// -----

// K = 64 is not a whole number of four-lane chunks of int4 codes (128):
// the GEMV serves every row count.
// CHECK-LABEL: func.func @short_rows
// CHECK-NOT: nvgpu.mma.sync
// CHECK: gpu.shuffle
func.func @short_rows(%x: tensor<32x64xf32>, %q: tensor<8x32xi8>,
                      %s: tensor<8x1xf32>, %init: tensor<32x8xf32>)
    -> tensor<32x8xf32> {
  %y = qtensor.dequant_matmul %x, %q scales(%s : tensor<8x1xf32>)
         layout <si4, block = [1, 0], packing = lsb_first>
         outs(%init : tensor<32x8xf32>)
         : tensor<32x64xf32>, tensor<8x32xi8> -> tensor<32x8xf32>
  return %y : tensor<32x8xf32>
}

// PTX-LABEL: .visible .entry int4_dynamic_rows_kernel(
// PTX-NOT: .local
// PTX: ld.global{{(.nc)?}}.v4.b32
// PTX: cvt.rn.f16x2.f32
// PTX: mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32
// PTX: ret;
// PTX: .visible .entry q4_0_many_rows_kernel
// PTX: mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32
