// RUN: quant-opt %s -split-input-file --quant-bnb="report-skipped=true" -verify-diagnostics
// RUN: not quant-opt %s --quant-bnb="format=int4" 2>&1 | FileCheck %s --check-prefix=FORMAT
// RUN: not quant-opt %s --quant-bnb="blocksize=48" 2>&1 | FileCheck %s --check-prefix=BLOCK
// RUN: not quant-opt %s --quant-bnb="blocksize=8192" 2>&1 | FileCheck %s --check-prefix=BLOCK2
// RUN: quant-opt %s -split-input-file --quant-bnb="skip=wq" | FileCheck %s --check-prefix=SKIP

// FORMAT: for the --format option: unknown value 'int4'; expected nf4 or fp4
// BLOCK: quant-bnb: blocksize must be a power of two in [32, 4096], got 48
// BLOCK2: quant-bnb: blocksize must be a power of two in [32, 4096], got 8192

// SKIP-LABEL: func.func @nan_weight
// SKIP: linalg.matmul
func.func @nan_weight(%x: tensor<1x4xf32>) -> tensor<1x2xf32> {
  %w = arith.constant dense<[[1.0, 2.0], [0x7FC00000, 1.0], [0.0, 1.0], [1.0, 1.0]]> : tensor<4x2xf32> loc("wq")
  %init = arith.constant dense<0.0> : tensor<1x2xf32>
  // expected-error@+1 {{weight 'wq' has a non-finite value (nan) at row 0, column 1; refusing to quantize it}}
  %y = linalg.matmul ins(%x, %w : tensor<1x4xf32>, tensor<4x2xf32>) outs(%init : tensor<1x2xf32>) -> tensor<1x2xf32>
  return %y : tensor<1x2xf32>
}

// -----

// Batched products stay in float.
// SKIP-LABEL: func.func @batched
// SKIP: linalg.batch_matmul
// expected-remark@+1 {{quant-bnb: quantized 0 of 1 weight-carrying matrix products}}
func.func @batched(%x: tensor<2x3x4xf32>) -> tensor<2x3x2xf32> {
  %w = arith.constant dense<1.0> : tensor<2x4x2xf32>
  %init = arith.constant dense<0.0> : tensor<2x3x2xf32>
  // expected-remark@+1 {{quant-bnb: weight 'matmul_0' is left in float: batched weights are not supported by this pass}}
  %y = linalg.batch_matmul ins(%x, %w : tensor<2x3x4xf32>, tensor<2x4x2xf32>) outs(%init : tensor<2x3x2xf32>) -> tensor<2x3x2xf32>
  return %y : tensor<2x3x2xf32>
}
