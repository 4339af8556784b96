// RUN: quant-opt %s -split-input-file --quant-rtn="bits=4 report-skipped=true" -verify-diagnostics
// RUN: not quant-opt %s --quant-rtn="bits=9" 2>&1 | FileCheck %s --check-prefix=BITS
// RUN: not quant-opt %s --quant-rtn="format=int5" 2>&1 | FileCheck %s --check-prefix=FORMAT
// RUN: not quant-opt %s --quant-rtn="group-size=-2" 2>&1 | FileCheck %s --check-prefix=NEGGROUP
// RUN: not quant-opt %s --quant-rtn="scale-type=f64" 2>&1 | FileCheck %s --check-prefix=SCALE

// BITS: quant-rtn: bits must be in 2..8, got 9
// FORMAT: for the --format option: unknown value 'int5'; expected int, nf4, fp4, f8E4M3FN or f8E5M2
// NEGGROUP: quant-rtn: group-size must be -1 (per channel), 0 (per tensor) or positive, got -2
// SCALE: for the --scale-type option: unknown value 'f64'; expected f32, f16 or bf16

func.func @nan_weight(%x: tensor<1x4xf32>) -> tensor<1x2xf32> {
  %w = arith.constant dense<[[1.0, 2.0], [0x7FC00000, 1.0], [0.0, 1.0], [1.0, 1.0]]> : tensor<4x2xf32> loc("wq")
  %init = arith.constant dense<0.0> : tensor<1x2xf32>
  // expected-error@+1 {{weight 'wq' has a non-finite value (nan) at row 0, column 1; refusing to quantize it}}
  %y = linalg.matmul ins(%x, %w : tensor<1x4xf32>, tensor<4x2xf32>) outs(%init : tensor<1x2xf32>) -> tensor<1x2xf32>
  return %y : tensor<1x2xf32>
}

// -----

func.func @inf_weight(%x: tensor<1x4xf32>) -> tensor<1x2xf32> {
  %w = arith.constant dense<[[1.0, 2.0], [1.0, 1.0], [0.0, 0xFF800000], [1.0, 1.0]]> : tensor<4x2xf32> loc("wk")
  %init = arith.constant dense<0.0> : tensor<1x2xf32>
  // expected-error@+1 {{weight 'wk' has a non-finite value (-INF) at row 1, column 2; refusing to quantize it}}
  %y = linalg.matmul ins(%x, %w : tensor<1x4xf32>, tensor<4x2xf32>) outs(%init : tensor<1x2xf32>) -> tensor<1x2xf32>
  return %y : tensor<1x2xf32>
}

// -----

// A product whose weight cannot be read as a quantizable [N, K] matrix is
// left alone with a remark naming the reason, and counted.
// expected-remark@+1 {{quant-rtn: quantized 0 of 1 weight-carrying matrix products}}
func.func @f64_accumulator(%x: tensor<1x4xf64>) -> tensor<1x2xf64> {
  %w = arith.constant dense<1.0> : tensor<4x2xf64>
  %init = arith.constant dense<0.0> : tensor<1x2xf64>
  // expected-remark@+1 {{quant-rtn: not quantized: only f32, f16 and bf16 products are supported}}
  %y = linalg.matmul ins(%x, %w : tensor<1x4xf64>, tensor<4x2xf64>) outs(%init : tensor<1x2xf64>) -> tensor<1x2xf64>
  return %y : tensor<1x2xf64>
}

// -----

// A product of two activations carries no weight: it is neither quantized
// nor counted.
func.func @non_constant(%x: tensor<1x4xf32>, %w: tensor<4x2xf32>) -> tensor<1x2xf32> {
  %init = arith.constant dense<0.0> : tensor<1x2xf32>
  %y = linalg.matmul ins(%x, %w : tensor<1x4xf32>, tensor<4x2xf32>) outs(%init : tensor<1x2xf32>) -> tensor<1x2xf32>
  return %y : tensor<1x2xf32>
}


// -----

// A constant on the left (rows of the result) is not a weight applied to
// activations.
// expected-remark@+1 {{quant-rtn: quantized 0 of 1 weight-carrying matrix products}}
func.func @constant_lhs(%x: tensor<4x2xf32>) -> tensor<3x2xf32> {
  %w = arith.constant dense<1.0> : tensor<3x4xf32>
  %init = arith.constant dense<0.0> : tensor<3x2xf32>
  // expected-remark@+1 {{quant-rtn: not quantized: the constant is the left-hand side (indexed by the rows of the result), not a weight applied to activations}}
  %y = linalg.matmul ins(%w, %x : tensor<3x4xf32>, tensor<4x2xf32>) outs(%init : tensor<3x2xf32>) -> tensor<3x2xf32>
  return %y : tensor<3x2xf32>
}
