// RUN: quant-opt %s -split-input-file --quant-fuse-epilogue | FileCheck %s
// RUN: quant-opt %s -split-input-file --quant-fuse-epilogue=gate-block=2 | FileCheck %s --check-prefix=BLOCK2
// RUN: not quant-opt %s --quant-fuse-epilogue=gate-block=0 2>&1 | FileCheck %s --check-prefix=ZERO

// ZERO: quant-fuse-epilogue: gate-block must be positive, got 0

// SwiGLU: silu(gate) * up of two products of the same input becomes one
// product over their rows interleaved in blocks (here one short block of
// 3 gate rows, then 3 up rows) with the generic's body as its epilogue.
// CHECK-LABEL: func.func @swiglu
// CHECK-DAG: %[[Q:.*]] = arith.constant dense_resource<fused{{.*}}> : tensor<6x2xi8>
// CHECK-DAG: %[[S:.*]] = arith.constant dense_resource<fused{{.*}}> : tensor<6x1xf32>
// CHECK: %[[Y:.*]] = qtensor.dequant_matmul %arg0, %[[Q]] scales(%[[S]] : tensor<6x1xf32>) layout <si4, block = [1, 0], packing = lsb_first> outs(%{{.*}} : tensor<2x3xf32>) gated(16) {
// CHECK-NEXT: ^bb0(%[[G:.*]]: f32, %[[U:.*]]: f32, %{{.*}}: f32):
// CHECK-NEXT:   %[[ONE:.*]] = arith.constant 1.000000e+00 : f32
// CHECK-NEXT:   %[[NEG:.*]] = arith.negf %[[G]] : f32
// CHECK-NEXT:   %[[EXP:.*]] = math.exp %[[NEG]] : f32
// CHECK-NEXT:   %[[DEN:.*]] = arith.addf %[[ONE]], %[[EXP]] : f32
// CHECK-NEXT:   %[[SIG:.*]] = arith.divf %[[ONE]], %[[DEN]] : f32
// CHECK-NEXT:   %[[SILU:.*]] = arith.mulf %[[G]], %[[SIG]] : f32
// CHECK-NEXT:   %[[R:.*]] = arith.mulf %[[SILU]], %[[U]] : f32
// CHECK-NEXT:   qtensor.yield %[[R]] : f32
// CHECK-NEXT: } : tensor<2x4xf32>, tensor<6x2xi8> -> tensor<2x3xf32>
// CHECK-NOT: linalg.generic
// CHECK: return %[[Y]]
// Rows: gate 0-2 (codes 1..6), then up 0-2 (codes 11..16).
// CHECK: fused{{.*}}: "0x{{[0-9A-F]+}}0102030405060B0C0D0E0F10"
// With blocks of 2: gate 0-1, up 0-1, gate 2, up 2.
// BLOCK2-LABEL: func.func @swiglu
// BLOCK2: gated(2)
// BLOCK2: fused{{.*}}: "0x{{[0-9A-F]+}}010203040B0C0D0E05060F10"
func.func @swiglu(%x: tensor<2x4xf32>) -> tensor<2x3xf32> {
  %zero = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<2x3xf32>
  %i = linalg.fill ins(%zero : f32) outs(%e : tensor<2x3xf32>) -> tensor<2x3xf32>
  %qg = arith.constant dense<[[1, 2], [3, 4], [5, 6]]> : tensor<3x2xi8>
  %qu = arith.constant dense<[[11, 12], [13, 14], [15, 16]]> : tensor<3x2xi8>
  %s = arith.constant dense<0.5> : tensor<3x1xf32>
  %gate = qtensor.dequant_matmul %x, %qg scales(%s : tensor<3x1xf32>) layout <si4, block = [1, 0], packing = lsb_first> outs(%i : tensor<2x3xf32>) {qtensor.weight_name = "w1"} : tensor<2x4xf32>, tensor<3x2xi8> -> tensor<2x3xf32>
  %up = qtensor.dequant_matmul %x, %qu scales(%s : tensor<3x1xf32>) layout <si4, block = [1, 0], packing = lsb_first> outs(%i : tensor<2x3xf32>) {qtensor.weight_name = "w3"} : tensor<2x4xf32>, tensor<3x2xi8> -> tensor<2x3xf32>
  %act = linalg.generic {indexing_maps = [affine_map<(d0, d1) -> (d0, d1)>, affine_map<(d0, d1) -> (d0, d1)>, affine_map<(d0, d1) -> (d0, d1)>], iterator_types = ["parallel", "parallel"]} ins(%gate, %up : tensor<2x3xf32>, tensor<2x3xf32>) outs(%e : tensor<2x3xf32>) {
  ^bb0(%g: f32, %u: f32, %o: f32):
    %one = arith.constant 1.0 : f32
    %n = arith.negf %g : f32
    %ex = math.exp %n : f32
    %d = arith.addf %one, %ex : f32
    %sig = arith.divf %one, %d : f32
    %silu = arith.mulf %g, %sig : f32
    %r = arith.mulf %silu, %u : f32
    linalg.yield %r : f32
  } -> tensor<2x3xf32>
  return %act : tensor<2x3xf32>
}

// -----

// ggml blocks: the same gating.
// CHECK-LABEL: func.func @ggml_gating
// CHECK: qtensor.ggml_matmul %arg0, %{{.*}} as q8_0 outs(%{{.*}} : tensor<1x32xf32>) gated(16) {
// CHECK: arith.mulf
// CHECK: } : tensor<1x32xf32>, tensor<64x34xi8> -> tensor<1x32xf32>
func.func @ggml_gating(%x: tensor<1x32xf32>) -> tensor<1x32xf32> {
  %zero = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<1x32xf32>
  %i = linalg.fill ins(%zero : f32) outs(%e : tensor<1x32xf32>) -> tensor<1x32xf32>
  %wa = arith.constant dense<1> : tensor<32x34xi8>
  %wb = arith.constant dense<2> : tensor<32x34xi8>
  %a = qtensor.ggml_matmul %x, %wa as q8_0 outs(%i : tensor<1x32xf32>) : tensor<1x32xf32>, tensor<32x34xi8> -> tensor<1x32xf32>
  %b = qtensor.ggml_matmul %x, %wb as q8_0 outs(%i : tensor<1x32xf32>) : tensor<1x32xf32>, tensor<32x34xi8> -> tensor<1x32xf32>
  %act = linalg.generic {indexing_maps = [affine_map<(d0, d1) -> (d0, d1)>, affine_map<(d0, d1) -> (d0, d1)>, affine_map<(d0, d1) -> (d0, d1)>], iterator_types = ["parallel", "parallel"]} ins(%a, %b : tensor<1x32xf32>, tensor<1x32xf32>) outs(%e : tensor<1x32xf32>) {
  ^bb0(%g: f32, %u: f32, %o: f32):
    %r = arith.mulf %g, %u : f32
    linalg.yield %r : f32
  } -> tensor<1x32xf32>
  return %act : tensor<1x32xf32>
}

// -----

// A residual addition (either operand order) becomes the product's init;
// a bias read through a broadcasting map is broadcast into the init.
// CHECK-LABEL: func.func @residual_and_bias
// CHECK: %[[A:.*]] = qtensor.dequant_matmul %arg0, %{{.*}} outs(%arg1 : tensor<2x3xf32>)
// CHECK: %[[B:.*]] = linalg.generic {{.*}} ins(%arg2 : tensor<3xf32>) outs(%{{.*}} : tensor<2x3xf32>)
// CHECK: %[[C:.*]] = qtensor.dequant_matmul %arg0, %{{.*}} outs(%[[B]] : tensor<2x3xf32>)
// CHECK-NOT: arith.addf
// CHECK: return %[[A]], %[[C]]
func.func @residual_and_bias(%x: tensor<2x4xf32>, %residual: tensor<2x3xf32>, %bias: tensor<3xf32>) -> (tensor<2x3xf32>, tensor<2x3xf32>) {
  %zero = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<2x3xf32>
  %i = linalg.fill ins(%zero : f32) outs(%e : tensor<2x3xf32>) -> tensor<2x3xf32>
  %q = arith.constant dense<1> : tensor<3x2xi8>
  %s = arith.constant dense<0.5> : tensor<3x1xf32>
  %p = qtensor.dequant_matmul %x, %q scales(%s : tensor<3x1xf32>) layout <si4, block = [1, 0], packing = lsb_first> outs(%i : tensor<2x3xf32>) : tensor<2x4xf32>, tensor<3x2xi8> -> tensor<2x3xf32>
  %sum = linalg.generic {indexing_maps = [affine_map<(d0, d1) -> (d0, d1)>, affine_map<(d0, d1) -> (d0, d1)>, affine_map<(d0, d1) -> (d0, d1)>], iterator_types = ["parallel", "parallel"]} ins(%residual, %p : tensor<2x3xf32>, tensor<2x3xf32>) outs(%e : tensor<2x3xf32>) {
  ^bb0(%r: f32, %v: f32, %o: f32):
    %a = arith.addf %r, %v : f32
    linalg.yield %a : f32
  } -> tensor<2x3xf32>
  %p2 = qtensor.dequant_matmul %x, %q scales(%s : tensor<3x1xf32>) layout <si4, block = [1, 0], packing = lsb_first> outs(%i : tensor<2x3xf32>) : tensor<2x4xf32>, tensor<3x2xi8> -> tensor<2x3xf32>
  %biased = linalg.generic {indexing_maps = [affine_map<(d0, d1) -> (d0, d1)>, affine_map<(d0, d1) -> (d1)>, affine_map<(d0, d1) -> (d0, d1)>], iterator_types = ["parallel", "parallel"]} ins(%p2, %bias : tensor<2x3xf32>, tensor<3xf32>) outs(%e : tensor<2x3xf32>) {
  ^bb0(%v: f32, %b: f32, %o: f32):
    %a = arith.addf %v, %b : f32
    linalg.yield %a : f32
  } -> tensor<2x3xf32>
  return %sum, %biased : tensor<2x3xf32>, tensor<2x3xf32>
}

// -----

// Left alone: a product with another user, a non-zero init, a subtraction,
// gating of products of different inputs, and a body with an index.
// CHECK-LABEL: func.func @unfusible
// CHECK-NOT: gated
// CHECK: qtensor.dequant_matmul
// CHECK: linalg.generic
// CHECK: qtensor.dequant_matmul
// CHECK: linalg.generic
// CHECK: qtensor.dequant_matmul
// CHECK: linalg.generic
// CHECK-COUNT-2: qtensor.dequant_matmul
// CHECK: linalg.generic
// CHECK-COUNT-2: qtensor.dequant_matmul
// CHECK: linalg.generic
func.func @unfusible(%x: tensor<2x4xf32>, %y: tensor<2x4xf32>, %r: tensor<2x3xf32>) -> (tensor<2x3xf32>, tensor<2x3xf32>, tensor<2x3xf32>, tensor<2x3xf32>, tensor<2x3xf32>, tensor<2x3xf32>) {
  %zero = arith.constant 0.0 : f32
  %one = arith.constant 1.0 : f32
  %e = tensor.empty() : tensor<2x3xf32>
  %i = linalg.fill ins(%zero : f32) outs(%e : tensor<2x3xf32>) -> tensor<2x3xf32>
  %i1 = linalg.fill ins(%one : f32) outs(%e : tensor<2x3xf32>) -> tensor<2x3xf32>
  %q = arith.constant dense<1> : tensor<3x2xi8>
  %s = arith.constant dense<0.5> : tensor<3x1xf32>
  %shared = qtensor.dequant_matmul %x, %q scales(%s : tensor<3x1xf32>) layout <si4, block = [1, 0], packing = lsb_first> outs(%i : tensor<2x3xf32>) : tensor<2x4xf32>, tensor<3x2xi8> -> tensor<2x3xf32>
  %a = linalg.generic {indexing_maps = [affine_map<(d0, d1) -> (d0, d1)>, affine_map<(d0, d1) -> (d0, d1)>, affine_map<(d0, d1) -> (d0, d1)>], iterator_types = ["parallel", "parallel"]} ins(%shared, %r : tensor<2x3xf32>, tensor<2x3xf32>) outs(%e : tensor<2x3xf32>) {
  ^bb0(%v: f32, %w: f32, %o: f32):
    %t = arith.addf %v, %w : f32
    linalg.yield %t : f32
  } -> tensor<2x3xf32>
  %p1 = qtensor.dequant_matmul %x, %q scales(%s : tensor<3x1xf32>) layout <si4, block = [1, 0], packing = lsb_first> outs(%i1 : tensor<2x3xf32>) : tensor<2x4xf32>, tensor<3x2xi8> -> tensor<2x3xf32>
  %b = linalg.generic {indexing_maps = [affine_map<(d0, d1) -> (d0, d1)>, affine_map<(d0, d1) -> (d0, d1)>, affine_map<(d0, d1) -> (d0, d1)>], iterator_types = ["parallel", "parallel"]} ins(%p1, %r : tensor<2x3xf32>, tensor<2x3xf32>) outs(%e : tensor<2x3xf32>) {
  ^bb0(%v: f32, %w: f32, %o: f32):
    %t = arith.addf %v, %w : f32
    linalg.yield %t : f32
  } -> tensor<2x3xf32>
  %p2 = qtensor.dequant_matmul %x, %q scales(%s : tensor<3x1xf32>) layout <si4, block = [1, 0], packing = lsb_first> outs(%i : tensor<2x3xf32>) : tensor<2x4xf32>, tensor<3x2xi8> -> tensor<2x3xf32>
  %c = linalg.generic {indexing_maps = [affine_map<(d0, d1) -> (d0, d1)>, affine_map<(d0, d1) -> (d0, d1)>, affine_map<(d0, d1) -> (d0, d1)>], iterator_types = ["parallel", "parallel"]} ins(%p2, %r : tensor<2x3xf32>, tensor<2x3xf32>) outs(%e : tensor<2x3xf32>) {
  ^bb0(%v: f32, %w: f32, %o: f32):
    %t = arith.subf %v, %w : f32
    linalg.yield %t : f32
  } -> tensor<2x3xf32>
  %g1 = qtensor.dequant_matmul %x, %q scales(%s : tensor<3x1xf32>) layout <si4, block = [1, 0], packing = lsb_first> outs(%i : tensor<2x3xf32>) : tensor<2x4xf32>, tensor<3x2xi8> -> tensor<2x3xf32>
  %u1 = qtensor.dequant_matmul %y, %q scales(%s : tensor<3x1xf32>) layout <si4, block = [1, 0], packing = lsb_first> outs(%i : tensor<2x3xf32>) : tensor<2x4xf32>, tensor<3x2xi8> -> tensor<2x3xf32>
  %d = linalg.generic {indexing_maps = [affine_map<(d0, d1) -> (d0, d1)>, affine_map<(d0, d1) -> (d0, d1)>, affine_map<(d0, d1) -> (d0, d1)>], iterator_types = ["parallel", "parallel"]} ins(%g1, %u1 : tensor<2x3xf32>, tensor<2x3xf32>) outs(%e : tensor<2x3xf32>) {
  ^bb0(%v: f32, %w: f32, %o: f32):
    %t = arith.mulf %v, %w : f32
    linalg.yield %t : f32
  } -> tensor<2x3xf32>
  %g2 = qtensor.dequant_matmul %x, %q scales(%s : tensor<3x1xf32>) layout <si4, block = [1, 0], packing = lsb_first> outs(%i : tensor<2x3xf32>) : tensor<2x4xf32>, tensor<3x2xi8> -> tensor<2x3xf32>
  %u2 = qtensor.dequant_matmul %x, %q scales(%s : tensor<3x1xf32>) layout <si4, block = [1, 0], packing = lsb_first> outs(%i : tensor<2x3xf32>) : tensor<2x4xf32>, tensor<3x2xi8> -> tensor<2x3xf32>
  %f = linalg.generic {indexing_maps = [affine_map<(d0, d1) -> (d0, d1)>, affine_map<(d0, d1) -> (d0, d1)>, affine_map<(d0, d1) -> (d0, d1)>], iterator_types = ["parallel", "parallel"]} ins(%g2, %u2 : tensor<2x3xf32>, tensor<2x3xf32>) outs(%e : tensor<2x3xf32>) {
  ^bb0(%v: f32, %w: f32, %o: f32):
    %j = linalg.index 1 : index
    %jf = arith.index_cast %j : index to i32
    %jx = arith.sitofp %jf : i32 to f32
    %t = arith.mulf %v, %jx : f32
    %t2 = arith.mulf %t, %w : f32
    linalg.yield %t2 : f32
  } -> tensor<2x3xf32>
  return %shared, %a, %b, %c, %d, %f : tensor<2x3xf32>, tensor<2x3xf32>, tensor<2x3xf32>, tensor<2x3xf32>, tensor<2x3xf32>, tensor<2x3xf32>
}

// -----

// W8A8 products of the same activation codes take the gating too (their
// additions stay: their epilogue adds to the init group by group).
// CHECK-LABEL: func.func @w8a8_gating
// CHECK: %[[Y:.*]] = qtensor.quantized_matmul %arg0, %arg1, %{{.*}}, %{{.*}} outs(%{{.*}} : tensor<2x32xf32>) gated(16) {
// CHECK: } : tensor<2x64xi8>, tensor<2x1xf32>, tensor<64x64xi8>, tensor<64x1xf32> -> tensor<2x32xf32>
// CHECK: linalg.generic
// CHECK: arith.addf
func.func @w8a8_gating(%q: tensor<2x64xi8>, %s: tensor<2x1xf32>, %r: tensor<2x32xf32>) -> tensor<2x32xf32> {
  %zero = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<2x32xf32>
  %i = linalg.fill ins(%zero : f32) outs(%e : tensor<2x32xf32>) -> tensor<2x32xf32>
  %wa = arith.constant dense<3> : tensor<32x64xi8>
  %wb = arith.constant dense<5> : tensor<32x64xi8>
  %ws = arith.constant dense<0.01> : tensor<32x1xf32>
  %a = qtensor.quantized_matmul %q, %s, %wa, %ws outs(%i : tensor<2x32xf32>) : tensor<2x64xi8>, tensor<2x1xf32>, tensor<32x64xi8>, tensor<32x1xf32> -> tensor<2x32xf32>
  %b = qtensor.quantized_matmul %q, %s, %wb, %ws outs(%i : tensor<2x32xf32>) : tensor<2x64xi8>, tensor<2x1xf32>, tensor<32x64xi8>, tensor<32x1xf32> -> tensor<2x32xf32>
  %act = linalg.generic {indexing_maps = [affine_map<(d0, d1) -> (d0, d1)>, affine_map<(d0, d1) -> (d0, d1)>, affine_map<(d0, d1) -> (d0, d1)>], iterator_types = ["parallel", "parallel"]} ins(%a, %b : tensor<2x32xf32>, tensor<2x32xf32>) outs(%e : tensor<2x32xf32>) {
  ^bb0(%g: f32, %u: f32, %o: f32):
    %m = arith.mulf %g, %u : f32
    linalg.yield %m : f32
  } -> tensor<2x32xf32>
  %c = qtensor.quantized_matmul %q, %s, %wa, %ws outs(%i : tensor<2x32xf32>) : tensor<2x64xi8>, tensor<2x1xf32>, tensor<32x64xi8>, tensor<32x1xf32> -> tensor<2x32xf32>
  %sum = linalg.generic {indexing_maps = [affine_map<(d0, d1) -> (d0, d1)>, affine_map<(d0, d1) -> (d0, d1)>, affine_map<(d0, d1) -> (d0, d1)>], iterator_types = ["parallel", "parallel"]} ins(%act, %c : tensor<2x32xf32>, tensor<2x32xf32>) outs(%e : tensor<2x32xf32>) {
  ^bb0(%v: f32, %w: f32, %o: f32):
    %t = arith.addf %v, %w : f32
    linalg.yield %t : f32
  } -> tensor<2x32xf32>
  return %sum : tensor<2x32xf32>
}
