// RUN: quant-opt %s --quant-block-causal-attention="block-size=2" | FileCheck %s
// RUN: quant-opt %s --quant-block-causal-attention="block-size=4" | FileCheck %s --check-prefix=WHOLE
// RUN: not quant-opt %s --quant-block-causal-attention="block-size=0" 2>&1 | FileCheck %s --check-prefix=ZERO

// The one-layer forward of quant-decode-step.mlir (4 positions, two query
// heads sharing one key/value head of dimension 2): its marked attention
// becomes two blocks of two queries.

#x = affine_map<(b, s, n, k) -> (b, s, k)>
#w = affine_map<(b, s, n, k) -> (n, k)>
#y = affine_map<(b, s, n, k) -> (b, s, n)>
#id3 = affine_map<(b, s, i) -> (b, s, i)>
#ids = affine_map<(b, s, i) -> (b, s)>
#row = affine_map<(b, s, i) -> (s, i)>
#id4 = affine_map<(b, s, h, d) -> (b, s, h, d)>
#kv = affine_map<(b, s, h, d) -> (b, s, 0, d)>
module attributes {qtensor.llama = #qtensor.llama<dim = 4, hidden_dim = 4, n_layers = 1, n_heads = 2, n_kv_heads = 1, vocab_size = 3, seq_len = 4, rope_theta = 1.0e+04 : f32, norm_eps = 1.0e-05 : f32, rope = "adjacent", tied_embeddings = false>} {
  func.func @forward(%tokens: tensor<1x4xi32>) -> tensor<1x4x3xf32> {
    %zero = arith.constant 0.0 : f32
    %emb = arith.constant dense<[[1.0, 2.0, 3.0, 4.0], [0.5, 0.5, 0.5, 0.5], [-1.0, 0.0, 1.0, 2.0]]> : tensor<3x4xf32>
    %e0 = tensor.empty() : tensor<1x4x4xf32>
    %x = linalg.generic {indexing_maps = [#ids, #id3], iterator_types = ["parallel", "parallel", "parallel"]} ins(%tokens : tensor<1x4xi32>) outs(%e0 : tensor<1x4x4xf32>) {
    ^bb0(%id: i32, %out: f32):
      %i = arith.index_cast %id : i32 to index
      %c = linalg.index 2 : index
      %v = tensor.extract %emb[%i, %c] : tensor<3x4xf32>
      linalg.yield %v : f32
    } -> tensor<1x4x4xf32>
    %wq = arith.constant dense<0.25> : tensor<4x4xf32>
    %e1 = tensor.empty() : tensor<1x4x4xf32>
    %f1 = linalg.fill ins(%zero : f32) outs(%e1 : tensor<1x4x4xf32>) -> tensor<1x4x4xf32>
    %q = linalg.generic {indexing_maps = [#x, #w, #y], iterator_types = ["parallel", "parallel", "parallel", "reduction"]} ins(%x, %wq : tensor<1x4x4xf32>, tensor<4x4xf32>) outs(%f1 : tensor<1x4x4xf32>) {
    ^bb0(%a: f32, %b: f32, %acc: f32):
      %m = arith.mulf %a, %b : f32
      %s = arith.addf %acc, %m : f32
      linalg.yield %s : f32
    } -> tensor<1x4x4xf32>
    // A table read at the position, as the rotary tables are.
    %table = arith.constant dense<[[1.0, 1.0, 1.0, 1.0], [2.0, 2.0, 2.0, 2.0], [3.0, 3.0, 3.0, 3.0], [4.0, 4.0, 4.0, 4.0]]> : tensor<4x4xf32>
    %e2 = tensor.empty() : tensor<1x4x4xf32>
    %qr = linalg.generic {indexing_maps = [#id3, #row, #id3], iterator_types = ["parallel", "parallel", "parallel"]} ins(%q, %table : tensor<1x4x4xf32>, tensor<4x4xf32>) outs(%e2 : tensor<1x4x4xf32>) {
    ^bb0(%a: f32, %t: f32, %out: f32):
      %m = arith.mulf %a, %t : f32
      linalg.yield %m : f32
    } -> tensor<1x4x4xf32>
    %wkv = arith.constant dense<0.5> : tensor<2x4xf32>
    %e3 = tensor.empty() : tensor<1x4x2xf32>
    %f3 = linalg.fill ins(%zero : f32) outs(%e3 : tensor<1x4x2xf32>) -> tensor<1x4x2xf32>
    %k = linalg.generic {indexing_maps = [#x, #w, #y], iterator_types = ["parallel", "parallel", "parallel", "reduction"]} ins(%x, %wkv : tensor<1x4x4xf32>, tensor<2x4xf32>) outs(%f3 : tensor<1x4x2xf32>) {
    ^bb0(%a: f32, %b: f32, %acc: f32):
      %m = arith.mulf %a, %b : f32
      %s = arith.addf %acc, %m : f32
      linalg.yield %s : f32
    } -> tensor<1x4x2xf32>
    %qs = tensor.expand_shape %qr [[0], [1], [2, 3]] output_shape [1, 4, 2, 2] {qtensor.attention = "query"} : tensor<1x4x4xf32> into tensor<1x4x2x2xf32>
    %ks = tensor.expand_shape %k [[0], [1], [2, 3]] output_shape [1, 4, 1, 2] {qtensor.attention = "key"} : tensor<1x4x2xf32> into tensor<1x4x1x2xf32>
    %vs = tensor.expand_shape %k [[0], [1], [2, 3]] output_shape [1, 4, 1, 2] {qtensor.attention = "value"} : tensor<1x4x2xf32> into tensor<1x4x1x2xf32>
    %e4 = tensor.empty() : tensor<1x4x2x2xf32>
    %att = linalg.generic {indexing_maps = [#id4, #kv, #kv, #id4], iterator_types = ["parallel", "parallel", "parallel", "parallel"]} ins(%qs, %ks, %vs : tensor<1x4x2x2xf32>, tensor<1x4x1x2xf32>, tensor<1x4x1x2xf32>) outs(%e4 : tensor<1x4x2x2xf32>) {
    ^bb0(%a: f32, %b: f32, %c: f32, %out: f32):
      %m = arith.addf %a, %b : f32
      %n = arith.addf %m, %c : f32
      linalg.yield %n : f32
    } -> tensor<1x4x2x2xf32>
    %o = tensor.collapse_shape %att [[0], [1], [2, 3]] {qtensor.attention = "output"} : tensor<1x4x2x2xf32> into tensor<1x4x4xf32>
    %wout = arith.constant dense<1.0> : tensor<3x4xf32>
    %e5 = tensor.empty() : tensor<1x4x3xf32>
    %f5 = linalg.fill ins(%zero : f32) outs(%e5 : tensor<1x4x3xf32>) -> tensor<1x4x3xf32>
    %logits = linalg.generic {indexing_maps = [#x, #w, #y], iterator_types = ["parallel", "parallel", "parallel", "reduction"]} ins(%o, %wout : tensor<1x4x4xf32>, tensor<3x4xf32>) outs(%f5 : tensor<1x4x3xf32>) {
    ^bb0(%a: f32, %b: f32, %acc: f32):
      %m = arith.mulf %a, %b : f32
      %s = arith.addf %acc, %m : f32
      linalg.yield %s : f32
    } -> tensor<1x4x3xf32>
    return %logits : tensor<1x4x3xf32>
  }
}


// CHECK-LABEL: func.func @forward(
// Keys and values of the sequence in head-dimension-major order, once.
// CHECK: %[[K:.*]] = linalg.generic {{.*}} outs(%{{.*}} : tensor<1x1x2x4xf32>)
// CHECK: %[[V:.*]] = linalg.generic {{.*}} outs(%{{.*}} : tensor<1x1x2x4xf32>)
// Block 0: queries 0-1 against keys 0-1 only.
// CHECK: tensor.extract_slice %{{.*}}[0, 0, 0, 0] [1, 2, 2, 2] [1, 1, 1, 1] : tensor<1x4x2x2xf32> to tensor<1x2x2x2xf32>
// CHECK: tensor.extract_slice %{{.*}}[0, 0, 0, 0] [1, 2, 2, 2] [1, 1, 1, 1] : tensor<1x4x2x2xf32> to tensor<1x2x2x2xf32>
// CHECK: tensor.extract_slice %[[K]][0, 0, 0, 0] [1, 1, 2, 2] [1, 1, 1, 1]
// CHECK: tensor.extract_slice %[[V]][0, 0, 0, 0] [1, 1, 2, 2] [1, 1, 1, 1]
// CHECK: tensor.empty() : tensor<1x2x2x2xf32>
// CHECK-NOT: tensor<1x2x2x4xf32>
// CHECK: tensor.insert_slice %{{.*}} into %{{.*}}[0, 0, 0, 0] [1, 2, 2, 2] [1, 1, 1, 1] : tensor<1x2x2x2xf32> into tensor<1x4x2x2xf32>
// Block 1: queries 2-3 against keys 0-1 (earlier) and 2-3 (their own).
// CHECK: tensor.extract_slice %{{.*}}[0, 2, 0, 0] [1, 2, 2, 2]
// CHECK: tensor.extract_slice %{{.*}}[0, 2, 0, 0] [1, 2, 2, 2]
// CHECK: tensor.extract_slice %[[K]][0, 0, 0, 0] [1, 1, 2, 2]
// CHECK: tensor.extract_slice %[[V]][0, 0, 0, 0] [1, 1, 2, 2]
// CHECK: tensor.extract_slice %[[K]][0, 0, 0, 2] [1, 1, 2, 2]
// CHECK: tensor.extract_slice %[[V]][0, 0, 0, 2] [1, 1, 2, 2]
// CHECK: tensor.empty() : tensor<1x2x2x4xf32>
// CHECK: arith.cmpi ugt
// CHECK: tensor.insert_slice %{{.*}} into %{{.*}}[0, 2, 0, 0] [1, 2, 2, 2] [1, 1, 1, 1] : tensor<1x2x2x2xf32> into tensor<1x4x2x2xf32>
// CHECK: %[[OUT:.*]] = tensor.collapse_shape %{{.*}} {{\[\[}}0], [1], [2, 3]] : tensor<1x4x2x2xf32> into tensor<1x4x4xf32>
// CHECK: linalg.generic {{.*}} ins(%[[OUT]], %{{.*}} : tensor<1x4x4xf32>, tensor<3x4xf32>)
// The stand-in attention is gone, marks included.
// CHECK-NOT: qtensor.attention

// A window no longer than a block is left as it is.
// WHOLE: qtensor.attention = "output"

// ZERO: error: quant-block-causal-attention: block-size must be at least 1, got 0
