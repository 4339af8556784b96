// RUN: quant-opt %s -split-input-file -verify-diagnostics --quant-decode-step
// RUN: not quant-opt %S/quant-decode-step.mlir --quant-decode-step="tokens=5" 2>&1 | FileCheck %s --check-prefix=TOKENS
// RUN: not quant-opt %S/quant-decode-step.mlir --quant-decode-step --quant-decode-step 2>&1 | FileCheck %s --check-prefix=TWICE
// RUN: not quant-opt %S/quant-decode-step.mlir --quant-decode-step=cache-type=int4 2>&1 | FileCheck %s --check-prefix=TYPE

// Every diagnostic of --quant-decode-step; the two options checked against
// the valid model of quant-decode-step.mlir are below.

#id3 = affine_map<(b, s, i) -> (b, s, i)>
#ids = affine_map<(b, s, i) -> (b, s)>
#bi = affine_map<(b, s, i) -> (b, i)>
#next = affine_map<(b, s, i) -> (s + 1, i)>

// No configuration.
// expected-error@+1 {{quant-decode-step: the module has no 'qtensor.llama' attribute (import the model with quant-import)}}
module {
  func.func @forward(%tokens: tensor<1x4xi32>) -> tensor<1x4x4xf32> {
    %e0 = tensor.empty() : tensor<1x4x4xf32>
    %x = linalg.generic {indexing_maps = [#ids, #id3], iterator_types = ["parallel", "parallel", "parallel"]} ins(%tokens : tensor<1x4xi32>) outs(%e0 : tensor<1x4x4xf32>) {
    ^bb0(%id: i32, %out: f32):
      %v = arith.sitofp %id : i32 to f32
      linalg.yield %v : f32
    } -> tensor<1x4x4xf32>
    %qs = tensor.expand_shape %x [[0], [1], [2, 3]] output_shape [1, 4, 2, 2] {qtensor.attention = "query"} : tensor<1x4x4xf32> into tensor<1x4x2x2xf32>
    %ks = tensor.expand_shape %x [[0], [1], [2, 3]] output_shape [1, 4, 2, 2] {qtensor.attention = "key"} : tensor<1x4x4xf32> into tensor<1x4x2x2xf32>
    %vs = tensor.expand_shape %x [[0], [1], [2, 3]] output_shape [1, 4, 2, 2] {qtensor.attention = "value"} : tensor<1x4x4xf32> into tensor<1x4x2x2xf32>
    %o = tensor.collapse_shape %qs [[0], [1], [2, 3]] {qtensor.attention = "output"} : tensor<1x4x2x2xf32> into tensor<1x4x4xf32>
    return %o : tensor<1x4x4xf32>
  }
}

// -----

#id3 = affine_map<(b, s, i) -> (b, s, i)>
#ids = affine_map<(b, s, i) -> (b, s)>
#bi = affine_map<(b, s, i) -> (b, i)>
#next = affine_map<(b, s, i) -> (s + 1, i)>

// No forward.
// expected-error@+1 {{quant-decode-step: no function @forward}}
module attributes {qtensor.llama = #qtensor.llama<dim = 4, hidden_dim = 4, n_layers = 1, n_heads = 2, n_kv_heads = 1, vocab_size = 3, seq_len = 4, rope_theta = 1.0e+04 : f32, norm_eps = 1.0e-05 : f32, rope = "adjacent", tied_embeddings = false>} {
  func.func @model(%tokens: tensor<1x4xi32>) -> tensor<1x4x4xf32> {
    %e0 = tensor.empty() : tensor<1x4x4xf32>
    %x = linalg.generic {indexing_maps = [#ids, #id3], iterator_types = ["parallel", "parallel", "parallel"]} ins(%tokens : tensor<1x4xi32>) outs(%e0 : tensor<1x4x4xf32>) {
    ^bb0(%id: i32, %out: f32):
      %v = arith.sitofp %id : i32 to f32
      linalg.yield %v : f32
    } -> tensor<1x4x4xf32>
    %qs = tensor.expand_shape %x [[0], [1], [2, 3]] output_shape [1, 4, 2, 2] {qtensor.attention = "query"} : tensor<1x4x4xf32> into tensor<1x4x2x2xf32>
    %ks = tensor.expand_shape %x [[0], [1], [2, 3]] output_shape [1, 4, 2, 2] {qtensor.attention = "key"} : tensor<1x4x4xf32> into tensor<1x4x2x2xf32>
    %vs = tensor.expand_shape %x [[0], [1], [2, 3]] output_shape [1, 4, 2, 2] {qtensor.attention = "value"} : tensor<1x4x4xf32> into tensor<1x4x2x2xf32>
    %o = tensor.collapse_shape %qs [[0], [1], [2, 3]] {qtensor.attention = "output"} : tensor<1x4x2x2xf32> into tensor<1x4x4xf32>
    return %o : tensor<1x4x4xf32>
  }
}

// -----

#id3 = affine_map<(b, s, i) -> (b, s, i)>
#ids = affine_map<(b, s, i) -> (b, s)>
#bi = affine_map<(b, s, i) -> (b, i)>
#next = affine_map<(b, s, i) -> (s + 1, i)>

// Not a token model.
module attributes {qtensor.llama = #qtensor.llama<dim = 4, hidden_dim = 4, n_layers = 1, n_heads = 2, n_kv_heads = 1, vocab_size = 3, seq_len = 4, rope_theta = 1.0e+04 : f32, norm_eps = 1.0e-05 : f32, rope = "adjacent", tied_embeddings = false>} {
  // expected-error@+1 {{quant-decode-step: @forward must take tensor<BxSxi32> token ids and return tensor<BxSxVxf32> logits in one block}}
  func.func @forward(%tokens: tensor<1x4x4xf32>) -> tensor<1x4x4xf32> {

    return %tokens : tensor<1x4x4xf32>
  }
}

// -----

#id3 = affine_map<(b, s, i) -> (b, s, i)>
#ids = affine_map<(b, s, i) -> (b, s)>
#bi = affine_map<(b, s, i) -> (b, i)>
#next = affine_map<(b, s, i) -> (s + 1, i)>

// No attention marks.
module attributes {qtensor.llama = #qtensor.llama<dim = 4, hidden_dim = 4, n_layers = 1, n_heads = 2, n_kv_heads = 1, vocab_size = 3, seq_len = 4, rope_theta = 1.0e+04 : f32, norm_eps = 1.0e-05 : f32, rope = "adjacent", tied_embeddings = false>} {
  // expected-error@+1 {{quant-decode-step: @forward has no attention marked with 'qtensor.attention' (import the model with quant-import)}}
  func.func @forward(%tokens: tensor<1x4xi32>) -> tensor<1x4x4xf32> {
    %e0 = tensor.empty() : tensor<1x4x4xf32>
    %x = linalg.generic {indexing_maps = [#ids, #id3], iterator_types = ["parallel", "parallel", "parallel"]} ins(%tokens : tensor<1x4xi32>) outs(%e0 : tensor<1x4x4xf32>) {
    ^bb0(%id: i32, %out: f32):
      %v = arith.sitofp %id : i32 to f32
      linalg.yield %v : f32
    } -> tensor<1x4x4xf32>
    return %x : tensor<1x4x4xf32>
  }
}

// -----

#id3 = affine_map<(b, s, i) -> (b, s, i)>
#ids = affine_map<(b, s, i) -> (b, s)>
#bi = affine_map<(b, s, i) -> (b, i)>
#next = affine_map<(b, s, i) -> (s + 1, i)>

// A join without its splits.
module attributes {qtensor.llama = #qtensor.llama<dim = 4, hidden_dim = 4, n_layers = 1, n_heads = 2, n_kv_heads = 1, vocab_size = 3, seq_len = 4, rope_theta = 1.0e+04 : f32, norm_eps = 1.0e-05 : f32, rope = "adjacent", tied_embeddings = false>} {
  func.func @forward(%tokens: tensor<1x4xi32>) -> tensor<1x4x4xf32> {
    %e0 = tensor.empty() : tensor<1x4x4xf32>
    %x = linalg.generic {indexing_maps = [#ids, #id3], iterator_types = ["parallel", "parallel", "parallel"]} ins(%tokens : tensor<1x4xi32>) outs(%e0 : tensor<1x4x4xf32>) {
    ^bb0(%id: i32, %out: f32):
      %v = arith.sitofp %id : i32 to f32
      linalg.yield %v : f32
    } -> tensor<1x4x4xf32>
    %qs = tensor.expand_shape %x [[0], [1], [2, 3]] output_shape [1, 4, 2, 2] {qtensor.attention = "query"} : tensor<1x4x4xf32> into tensor<1x4x2x2xf32>
    // expected-error@+1 {{quant-decode-step: attention output without its query, key and value head splits before it}}
    %o = tensor.collapse_shape %qs [[0], [1], [2, 3]] {qtensor.attention = "output"} : tensor<1x4x2x2xf32> into tensor<1x4x4xf32>
    return %o : tensor<1x4x4xf32>
  }
}

// -----

#id3 = affine_map<(b, s, i) -> (b, s, i)>
#ids = affine_map<(b, s, i) -> (b, s)>
#bi = affine_map<(b, s, i) -> (b, i)>
#next = affine_map<(b, s, i) -> (s + 1, i)>

// Per-tensor dynamic quantization mixes positions.
module attributes {qtensor.llama = #qtensor.llama<dim = 4, hidden_dim = 4, n_layers = 1, n_heads = 2, n_kv_heads = 1, vocab_size = 3, seq_len = 4, rope_theta = 1.0e+04 : f32, norm_eps = 1.0e-05 : f32, rope = "adjacent", tied_embeddings = false>} {
  func.func @forward(%tokens: tensor<1x4xi32>) -> tensor<1x4x4xf32> {
    %e0 = tensor.empty() : tensor<1x4x4xf32>
    %x = linalg.generic {indexing_maps = [#ids, #id3], iterator_types = ["parallel", "parallel", "parallel"]} ins(%tokens : tensor<1x4xi32>) outs(%e0 : tensor<1x4x4xf32>) {
    ^bb0(%id: i32, %out: f32):
      %v = arith.sitofp %id : i32 to f32
      linalg.yield %v : f32
    } -> tensor<1x4x4xf32>
    // expected-error@+1 {{quant-decode-step: per-tensor dynamic quantization mixes positions (its scale depends on the whole sequence); a step cannot reproduce it}}
    %q, %s = qtensor.dynamic_quantize %x : tensor<1x4x4xf32> -> tensor<1x4x4xi8>, tensor<1x1x1xf32>
    %qs = tensor.expand_shape %x [[0], [1], [2, 3]] output_shape [1, 4, 2, 2] {qtensor.attention = "query"} : tensor<1x4x4xf32> into tensor<1x4x2x2xf32>
    %ks = tensor.expand_shape %x [[0], [1], [2, 3]] output_shape [1, 4, 2, 2] {qtensor.attention = "key"} : tensor<1x4x4xf32> into tensor<1x4x2x2xf32>
    %vs = tensor.expand_shape %x [[0], [1], [2, 3]] output_shape [1, 4, 2, 2] {qtensor.attention = "value"} : tensor<1x4x4xf32> into tensor<1x4x2x2xf32>
    %o = tensor.collapse_shape %qs [[0], [1], [2, 3]] {qtensor.attention = "output"} : tensor<1x4x2x2xf32> into tensor<1x4x4xf32>
    return %o : tensor<1x4x4xf32>
  }
}

// -----

#id3 = affine_map<(b, s, i) -> (b, s, i)>
#ids = affine_map<(b, s, i) -> (b, s)>
#bi = affine_map<(b, s, i) -> (b, i)>
#next = affine_map<(b, s, i) -> (s + 1, i)>

// A sum over the sequence.
module attributes {qtensor.llama = #qtensor.llama<dim = 4, hidden_dim = 4, n_layers = 1, n_heads = 2, n_kv_heads = 1, vocab_size = 3, seq_len = 4, rope_theta = 1.0e+04 : f32, norm_eps = 1.0e-05 : f32, rope = "adjacent", tied_embeddings = false>} {
  func.func @forward(%tokens: tensor<1x4xi32>) -> tensor<1x4x4xf32> {
    %e0 = tensor.empty() : tensor<1x4x4xf32>
    %x = linalg.generic {indexing_maps = [#ids, #id3], iterator_types = ["parallel", "parallel", "parallel"]} ins(%tokens : tensor<1x4xi32>) outs(%e0 : tensor<1x4x4xf32>) {
    ^bb0(%id: i32, %out: f32):
      %v = arith.sitofp %id : i32 to f32
      linalg.yield %v : f32
    } -> tensor<1x4x4xf32>
    %zero = arith.constant 0.0 : f32
    %e1 = tensor.empty() : tensor<1x4xf32>
    %f1 = linalg.fill ins(%zero : f32) outs(%e1 : tensor<1x4xf32>) -> tensor<1x4xf32>
    // expected-error@+1 {{quant-decode-step: mixes positions (operand #0 is not read at the position of the result)}}
    %sum = linalg.generic {indexing_maps = [#id3, #bi], iterator_types = ["parallel", "reduction", "parallel"]} ins(%x : tensor<1x4x4xf32>) outs(%f1 : tensor<1x4xf32>) {
    ^bb0(%a: f32, %acc: f32):
      %r = arith.addf %a, %acc : f32
      linalg.yield %r : f32
    } -> tensor<1x4xf32>
    %e2 = tensor.empty() : tensor<1x4x4xf32>
    %y = linalg.generic {indexing_maps = [#id3, #bi, #id3], iterator_types = ["parallel", "parallel", "parallel"]} ins(%x, %sum : tensor<1x4x4xf32>, tensor<1x4xf32>) outs(%e2 : tensor<1x4x4xf32>) {
    ^bb0(%a: f32, %b: f32, %out: f32):
      %r = arith.addf %a, %b : f32
      linalg.yield %r : f32
    } -> tensor<1x4x4xf32>
    %qs = tensor.expand_shape %y [[0], [1], [2, 3]] output_shape [1, 4, 2, 2] {qtensor.attention = "query"} : tensor<1x4x4xf32> into tensor<1x4x2x2xf32>
    %ks = tensor.expand_shape %y [[0], [1], [2, 3]] output_shape [1, 4, 2, 2] {qtensor.attention = "key"} : tensor<1x4x4xf32> into tensor<1x4x2x2xf32>
    %vs = tensor.expand_shape %y [[0], [1], [2, 3]] output_shape [1, 4, 2, 2] {qtensor.attention = "value"} : tensor<1x4x4xf32> into tensor<1x4x2x2xf32>
    %o = tensor.collapse_shape %qs [[0], [1], [2, 3]] {qtensor.attention = "output"} : tensor<1x4x2x2xf32> into tensor<1x4x4xf32>
    return %o : tensor<1x4x4xf32>
  }
}

// -----

#id3 = affine_map<(b, s, i) -> (b, s, i)>
#ids = affine_map<(b, s, i) -> (b, s)>
#bi = affine_map<(b, s, i) -> (b, i)>
#next = affine_map<(b, s, i) -> (s + 1, i)>

// The position read as an index.
module attributes {qtensor.llama = #qtensor.llama<dim = 4, hidden_dim = 4, n_layers = 1, n_heads = 2, n_kv_heads = 1, vocab_size = 3, seq_len = 4, rope_theta = 1.0e+04 : f32, norm_eps = 1.0e-05 : f32, rope = "adjacent", tied_embeddings = false>} {
  func.func @forward(%tokens: tensor<1x4xi32>) -> tensor<1x4x4xf32> {
    %e0 = tensor.empty() : tensor<1x4x4xf32>
    %x = linalg.generic {indexing_maps = [#ids, #id3], iterator_types = ["parallel", "parallel", "parallel"]} ins(%tokens : tensor<1x4xi32>) outs(%e0 : tensor<1x4x4xf32>) {
    ^bb0(%id: i32, %out: f32):
      %v = arith.sitofp %id : i32 to f32
      linalg.yield %v : f32
    } -> tensor<1x4x4xf32>
    %e1 = tensor.empty() : tensor<1x4x4xf32>
    // expected-error@+1 {{quant-decode-step: reads the index of the position loop outside attention}}
    %y = linalg.generic {indexing_maps = [#id3, #id3], iterator_types = ["parallel", "parallel", "parallel"]} ins(%x : tensor<1x4x4xf32>) outs(%e1 : tensor<1x4x4xf32>) {
    ^bb0(%a: f32, %out: f32):
      %i = linalg.index 1 : index
      %c = arith.index_cast %i : index to i32
      %f = arith.sitofp %c : i32 to f32
      %r = arith.addf %a, %f : f32
      linalg.yield %r : f32
    } -> tensor<1x4x4xf32>
    %qs = tensor.expand_shape %y [[0], [1], [2, 3]] output_shape [1, 4, 2, 2] {qtensor.attention = "query"} : tensor<1x4x4xf32> into tensor<1x4x2x2xf32>
    %ks = tensor.expand_shape %y [[0], [1], [2, 3]] output_shape [1, 4, 2, 2] {qtensor.attention = "key"} : tensor<1x4x4xf32> into tensor<1x4x2x2xf32>
    %vs = tensor.expand_shape %y [[0], [1], [2, 3]] output_shape [1, 4, 2, 2] {qtensor.attention = "value"} : tensor<1x4x4xf32> into tensor<1x4x2x2xf32>
    %o = tensor.collapse_shape %qs [[0], [1], [2, 3]] {qtensor.attention = "output"} : tensor<1x4x2x2xf32> into tensor<1x4x4xf32>
    return %o : tensor<1x4x4xf32>
  }
}

// -----

#id3 = affine_map<(b, s, i) -> (b, s, i)>
#ids = affine_map<(b, s, i) -> (b, s)>
#bi = affine_map<(b, s, i) -> (b, i)>
#next = affine_map<(b, s, i) -> (s + 1, i)>

// A table read at a shifted position.
module attributes {qtensor.llama = #qtensor.llama<dim = 4, hidden_dim = 4, n_layers = 1, n_heads = 2, n_kv_heads = 1, vocab_size = 3, seq_len = 4, rope_theta = 1.0e+04 : f32, norm_eps = 1.0e-05 : f32, rope = "adjacent", tied_embeddings = false>} {
  func.func @forward(%tokens: tensor<1x4xi32>) -> tensor<1x4x4xf32> {
    %e0 = tensor.empty() : tensor<1x4x4xf32>
    %x = linalg.generic {indexing_maps = [#ids, #id3], iterator_types = ["parallel", "parallel", "parallel"]} ins(%tokens : tensor<1x4xi32>) outs(%e0 : tensor<1x4x4xf32>) {
    ^bb0(%id: i32, %out: f32):
      %v = arith.sitofp %id : i32 to f32
      linalg.yield %v : f32
    } -> tensor<1x4x4xf32>
    %table = arith.constant dense<1.0> : tensor<5x4xf32>
    %e1 = tensor.empty() : tensor<1x4x4xf32>
    // expected-error@+1 {{quant-decode-step: reads a constant at an index computed from the position}}
    %y = linalg.generic {indexing_maps = [#id3, #next, #id3], iterator_types = ["parallel", "parallel", "parallel"]} ins(%x, %table : tensor<1x4x4xf32>, tensor<5x4xf32>) outs(%e1 : tensor<1x4x4xf32>) {
    ^bb0(%a: f32, %t: f32, %out: f32):
      %r = arith.mulf %a, %t : f32
      linalg.yield %r : f32
    } -> tensor<1x4x4xf32>
    %qs = tensor.expand_shape %y [[0], [1], [2, 3]] output_shape [1, 4, 2, 2] {qtensor.attention = "query"} : tensor<1x4x4xf32> into tensor<1x4x2x2xf32>
    %ks = tensor.expand_shape %y [[0], [1], [2, 3]] output_shape [1, 4, 2, 2] {qtensor.attention = "key"} : tensor<1x4x4xf32> into tensor<1x4x2x2xf32>
    %vs = tensor.expand_shape %y [[0], [1], [2, 3]] output_shape [1, 4, 2, 2] {qtensor.attention = "value"} : tensor<1x4x4xf32> into tensor<1x4x2x2xf32>
    %o = tensor.collapse_shape %qs [[0], [1], [2, 3]] {qtensor.attention = "output"} : tensor<1x4x2x2xf32> into tensor<1x4x4xf32>
    return %o : tensor<1x4x4xf32>
  }
}

// TOKENS: error: quant-decode-step: tokens must be in [1, 4] (the forward's positions), got 5
// TYPE: error: quant-decode-step: cache-type must be f32, f16 or int8, got 'int4'
// TWICE: error: quant-decode-step: @forward_step exists already
