// RUN: quant-opt %s --quant-decode-step | FileCheck %s
// RUN: quant-opt %s --quant-decode-step="tokens=2 step-function=decode" | FileCheck %s --check-prefix=T2
// RUN: quant-opt %s --quant-decode-step="cache-type=int8" | FileCheck %s --check-prefix=INT8
// RUN: quant-opt %s --quant-decode-step="cache-type=f16" | FileCheck %s --check-prefix=F16

// A one-layer forward shaped as the importers write it (4 positions, two
// query heads sharing one key/value head of dimension 2), with a stand-in
// for the attention between the marked head splits and join: the step
// replaces whatever lies there.

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

// The forward stays; the step reads the same constants for one position.
// CHECK-LABEL: func.func @forward(
// CHECK-LABEL: func.func @forward_step(
// CHECK-SAME: %[[TOK:.*]]: tensor<1x1xi32>, %[[POS:.*]]: tensor<1xi32>, %[[KEYS:.*]]: tensor<1x1x1x2x4xf32>, %[[VALUES:.*]]: tensor<1x1x1x2x4xf32>)
// CHECK-SAME: -> (tensor<1x1x3xf32>, tensor<1x1x1x2x1xf32>, tensor<1x1x1x2x1xf32>)
// The position, clamped to [0, S - T].
// CHECK: %[[RAW:.*]] = tensor.extract %[[POS]]
// CHECK: %[[CAST:.*]] = arith.index_cast %[[RAW]]
// CHECK: %[[MIN:.*]] = arith.minsi %[[CAST]], %c3
// CHECK: %[[P:.*]] = arith.maxsi %[[MIN]], %c0
// CHECK: linalg.generic {{.*}} ins(%[[TOK]] : tensor<1x1xi32>) outs({{.*}} : tensor<1x1x4xf32>)
// CHECK: ins({{.*}} : tensor<1x1x4xf32>, tensor<4x4xf32>) outs({{.*}} : tensor<1x1x4xf32>)
// The table's row at the position.
// CHECK: %[[ROW:.*]] = tensor.extract_slice %{{.*}}[%[[P]], 0] [1, 4] [1, 1] : tensor<4x4xf32> to tensor<1x4xf32>
// CHECK: ins(%{{.*}}, %[[ROW]] : tensor<1x1x4xf32>, tensor<1x4xf32>)
// New keys and values, in cache order, into their results.
// CHECK: tensor.extract_slice %{{.*}}[0, 0, 0, 0, 0] [1, 1, 1, 2, 1] [1, 1, 1, 1, 1] : tensor<1x1x1x2x1xf32> to tensor<1x1x2x1xf32>
// The first P cached keys and values.
// CHECK: %[[PK:.*]] = tensor.extract_slice %[[KEYS]][0, 0, 0, 0, 0] [1, 1, 1, 2, %[[P]]] [1, 1, 1, 1, 1] : tensor<1x1x1x2x4xf32> to tensor<1x1x2x?xf32>
// CHECK: %[[PV:.*]] = tensor.extract_slice %[[VALUES]][0, 0, 0, 0, 0] [1, 1, 1, 2, %[[P]]]
// Scores against them, then against the new key, side by side.
// CHECK: %[[TOTAL:.*]] = arith.addi %[[P]], %c1
// CHECK: tensor.empty(%[[TOTAL]]) : tensor<1x2x1x?xf32>
// CHECK: linalg.generic {{.*}} ins(%{{.*}}, %[[PK]] : tensor<1x1x2x2xf32>, tensor<1x1x2x?xf32>)
// Causal mask: key position after the query's (P + s).
// CHECK: arith.cmpi ugt
// CHECK: math.exp
// CHECK: arith.divf
// Values: the cached ones weighted by the first P probabilities.
// CHECK: linalg.generic {{.*}} ins(%{{.*}}, %[[PV]] : tensor<1x2x1x?xf32>, tensor<1x1x2x?xf32>)
// CHECK: tensor.collapse_shape {{.*}} : tensor<1x1x2x2xf32> into tensor<1x1x4xf32>
// CHECK: %[[LOGITS:.*]] = linalg.generic {{.*}} ins({{.*}} : tensor<1x1x4xf32>, tensor<3x4xf32>) outs({{.*}} : tensor<1x1x3xf32>)
// CHECK: return %[[LOGITS]], %{{.*}}, %{{.*}} : tensor<1x1x3xf32>, tensor<1x1x1x2x1xf32>, tensor<1x1x1x2x1xf32>

// T2-LABEL: func.func @decode(
// T2-SAME: tensor<1x2xi32>, %{{.*}}: tensor<1xi32>, %{{.*}}: tensor<1x1x1x2x4xf32>, %{{.*}}: tensor<1x1x1x2x4xf32>)
// T2-SAME: -> (tensor<1x2x3xf32>, tensor<1x1x1x2x2xf32>, tensor<1x1x1x2x2xf32>)
// T2: arith.minsi %{{.*}}, %c2
// T2: tensor.extract_slice %{{.*}}[%{{.*}}, 0] [2, 4] [1, 1] : tensor<4x4xf32> to tensor<2x4xf32>

// int8 caches: codes and a scale per layer, row, head and position, decoded
// inside both products.
// INT8-LABEL: func.func @forward_step(
// INT8-SAME: %{{.*}}: tensor<1x1xi32>, %{{.*}}: tensor<1xi32>, %[[K:.*]]: tensor<1x1x1x2x4xi8>, %[[V:.*]]: tensor<1x1x1x2x4xi8>, %[[KS:.*]]: tensor<1x1x1x4xf32>, %[[VS:.*]]: tensor<1x1x1x4xf32>)
// INT8: %[[KC:.*]] = tensor.extract_slice %[[K]]{{.*}} to tensor<1x1x2x?xi8>
// INT8: %[[KSC:.*]] = tensor.extract_slice %[[KS]]{{.*}} to tensor<1x1x?xf32>
// INT8: %[[VC:.*]] = tensor.extract_slice %[[V]]{{.*}} to tensor<1x1x2x?xi8>
// INT8: %[[VSC:.*]] = tensor.extract_slice %[[VS]]{{.*}} to tensor<1x1x?xf32>
// INT8: linalg.generic {{.*}} ins(%{{.*}}, %[[KC]], %[[KSC]] : tensor<1x1x2x2xf32>, tensor<1x1x2x?xi8>, tensor<1x1x?xf32>)
// INT8: arith.sitofp
// INT8: ins(%{{.*}}, %[[VC]], %[[VSC]] :

// f16 caches, widened exactly inside both products.
// F16-LABEL: func.func @forward_step(
// F16-SAME: %{{.*}}: tensor<1x1xi32>, %{{.*}}: tensor<1xi32>, %[[K:.*]]: tensor<1x1x1x2x4xf16>, %[[V:.*]]: tensor<1x1x1x2x4xf16>)
// F16: %[[KC:.*]] = tensor.extract_slice %[[K]]{{.*}} to tensor<1x1x2x?xf16>
// F16: linalg.generic {{.*}} ins(%{{.*}}, %[[KC]] : tensor<1x1x2x2xf32>, tensor<1x1x2x?xf16>)
// F16: arith.extf
