// RUN: quant-opt %s -verify-diagnostics --quant-block-causal-attention

// A join marked "output" without the query, key and value splits before it.
func.func @join_without_splits(%x: tensor<1x4x4xf32>) -> tensor<1x4x4xf32> {
  %q = tensor.expand_shape %x [[0], [1], [2, 3]] output_shape [1, 4, 2, 2] {qtensor.attention = "query"} : tensor<1x4x4xf32> into tensor<1x4x2x2xf32>
  // expected-error@+1 {{quant-block-causal-attention: attention output without its query, key and value head splits before it}}
  %o = tensor.collapse_shape %q [[0], [1], [2, 3]] {qtensor.attention = "output"} : tensor<1x4x2x2xf32> into tensor<1x4x4xf32>
  return %o : tensor<1x4x4xf32>
}
