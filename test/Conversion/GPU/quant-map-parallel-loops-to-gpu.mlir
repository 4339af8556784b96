// RUN: quant-opt %s --split-input-file --pass-pipeline="builtin.module(func.func(quant-map-parallel-loops-to-gpu))" | FileCheck %s
// RUN: quant-opt %s --split-input-file --pass-pipeline="builtin.module(func.func(quant-map-parallel-loops-to-gpu{block-size=64}),func.func(convert-parallel-loops-to-gpu))" | FileCheck %s --check-prefix=LAUNCH
// RUN: not quant-opt %s --split-input-file --pass-pipeline="builtin.module(func.func(quant-map-parallel-loops-to-gpu{block-size=100}))" 2>&1 | FileCheck %s --check-prefix=BLOCK

// BLOCK: block-size must be a power of two in 32..1024, got 100

// A [3, 1000] loop: 256 threads along the innermost dimension (x), the
// grid covers the rest; the tile does not divide 1000, so the body is
// guarded instead of given min() bounds.
// CHECK-LABEL: func.func @elementwise
// CHECK: scf.parallel
// CHECK: scf.parallel
// CHECK: scf.if
// CHECK: memref.store
// CHECK: {mapping = [#gpu.loop_dim_map<processor = thread_y, {{.*}}>, #gpu.loop_dim_map<processor = thread_x, {{.*}}>]}
// CHECK: {mapping = [#gpu.loop_dim_map<processor = block_y, {{.*}}>, #gpu.loop_dim_map<processor = block_x, {{.*}}>]}
// LAUNCH-LABEL: func.func @elementwise
// LAUNCH: gpu.launch
// LAUNCH-NOT: scf.parallel
func.func @elementwise(%a: memref<3x1000xf32>, %b: memref<3x1000xf32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c3 = arith.constant 3 : index
  %c1000 = arith.constant 1000 : index
  scf.parallel (%i, %j) = (%c0, %c0) to (%c3, %c1000) step (%c1, %c1) {
    %v = memref.load %a[%i, %j] : memref<3x1000xf32>
    %w = arith.addf %v, %v : f32
    memref.store %w, %b[%i, %j] : memref<3x1000xf32>
  }
  return
}

// -----

// A copy becomes a mapped loop nest too.
// CHECK-LABEL: func.func @copy
// CHECK-NOT: memref.copy
// CHECK: scf.parallel
// CHECK: processor = thread_x
// LAUNCH-LABEL: func.func @copy
// LAUNCH: gpu.launch
func.func @copy(%a: memref<4x8xf32>, %b: memref<4x8xf32>) {
  memref.copy %a, %b : memref<4x8xf32> to memref<4x8xf32>
  return
}

// -----

// A parallel loop nested after a reduction loop runs in its thread, as
// scf.for.
// CHECK-LABEL: func.func @nested
// CHECK: scf.parallel
// CHECK: scf.parallel
// CHECK: scf.for
// CHECK: scf.for
// CHECK-NOT: scf.parallel
// LAUNCH-LABEL: func.func @nested
// LAUNCH: gpu.launch
// LAUNCH: scf.for
// LAUNCH: scf.for
func.func @nested(%a: memref<8x16x4xf32>, %b: memref<8x4xf32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c4 = arith.constant 4 : index
  %c8 = arith.constant 8 : index
  %c16 = arith.constant 16 : index
  scf.parallel (%i) = (%c0) to (%c8) step (%c1) {
    scf.for %k = %c0 to %c16 step %c1 {
      scf.parallel (%j) = (%c0) to (%c4) step (%c1) {
        %v = memref.load %a[%i, %k, %j] : memref<8x16x4xf32>
        %s = memref.load %b[%i, %j] : memref<8x4xf32>
        %t = arith.addf %s, %v : f32
        memref.store %t, %b[%i, %j] : memref<8x4xf32>
      }
    }
  }
  return
}

