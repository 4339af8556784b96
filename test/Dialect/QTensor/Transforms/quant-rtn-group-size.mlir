// RUN: quant-opt %s --quant-rtn="bits=4 group-size=32" -verify-diagnostics

func.func @group_too_large(%x: tensor<1x4xf32>) -> tensor<1x2xf32> {
  %w = arith.constant dense<1.0> : tensor<4x2xf32> loc("wq")
  %init = arith.constant dense<0.0> : tensor<1x2xf32>
  // expected-error@+1 {{quant-rtn: group-size 32 exceeds the reduction size 4 of weight 'wq'}}
  %y = linalg.matmul ins(%x, %w : tensor<1x4xf32>, tensor<4x2xf32>) outs(%init : tensor<1x2xf32>) -> tensor<1x2xf32>
  return %y : tensor<1x2xf32>
}
