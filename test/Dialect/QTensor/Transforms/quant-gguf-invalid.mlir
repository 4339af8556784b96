// RUN: quant-opt %s -split-input-file --quant-gguf="type=q8_0 report-skipped=true" -verify-diagnostics
// RUN: not quant-opt %s --quant-gguf="type=q7_0" 2>&1 | FileCheck %s --check-prefix=TYPE
// RUN: not quant-opt %s --quant-gguf="type=f16" 2>&1 | FileCheck %s --check-prefix=F16
// RUN: not quant-opt %s --quant-gguf="mix=Q4_K_X" 2>&1 | FileCheck %s --check-prefix=MIX
// RUN: not quant-opt %s --quant-gguf="type=q4_0 mix=Q4_K_M" 2>&1 | FileCheck %s --check-prefix=CONFLICT
// RUN: not quant-opt %s --quant-gguf="calibration=ids.i32 statistics=stats.safetensors" 2>&1 | FileCheck %s --check-prefix=BOTH
// RUN: not quant-opt %s --quant-gguf="tensor-type=attn_v" 2>&1 | FileCheck %s --check-prefix=OVERRIDE-FORM
// RUN: not quant-opt %s --quant-gguf="tensor-type=attn_v=q7_0" 2>&1 | FileCheck %s --check-prefix=OVERRIDE-TYPE
// RUN: not quant-opt %s --quant-gguf="tensor-type=attn_[v=q8_0" 2>&1 | FileCheck %s --check-prefix=OVERRIDE-REGEX
// RUN: not quant-opt %s -split-input-file --quant-gguf="type=q8_0 tensor-type=wo=q4_K" 2>&1 | FileCheck %s --check-prefix=OVERRIDE-FIT

// TYPE: for the --type option: unknown value 'q7_0'; expected q4_0, q4_1, q5_0, q5_1, q8_0, q2_K, q3_K, q4_K, q5_K or q6_K
// F16: for the --type option: unknown value 'f16'
// MIX: for the --mix option: unknown value 'Q4_K_X'; expected none, Q2_K, Q3_K_S, Q3_K_M, Q3_K_L, Q4_K_S, Q4_K_M, Q5_K_S, Q5_K_M, Q6_K, Q4_0, Q4_1, Q5_0, Q5_1 or Q8_0
// CONFLICT: quant-gguf: type=q4_0 conflicts with mix=Q4_K_M, whose base type is q4_K; give one of them
// BOTH: quant-gguf: give the importance matrix either as calibration=FILE or as statistics=FILE, not both
// OVERRIDE-FORM: quant-gguf: tensor-type 'attn_v' is not PATTERN=TYPE
// OVERRIDE-TYPE: quant-gguf: tensor-type 'attn_v=q7_0': unknown type 'q7_0'; expected f16, bf16, q4_0, q4_1, q5_0, q5_1, q8_0, q2_K, q3_K, q4_K, q5_K or q6_K
// OVERRIDE-REGEX: quant-gguf: tensor-type 'attn_[v=q8_0': invalid regular expression 'attn_[v': brackets ([ ]) not balanced
// OVERRIDE-FIT: error: quant-gguf: tensor-type 'wo=q4_K' gives weight 'wo.0' type q4_K, whose 256-element blocks do not divide its row length 32

func.func @nan_weight(%x: tensor<1x32xf32>) -> tensor<1x2xf32> {
  %w = arith.constant dense<[[1.0, 0x7FC00000], [0.0, 1.0], [1.0, 1.0], [1.0, 1.0], [1.0, 1.0], [1.0, 1.0], [1.0, 1.0], [1.0, 1.0], [1.0, 1.0], [1.0, 1.0], [1.0, 1.0], [1.0, 1.0], [1.0, 1.0], [1.0, 1.0], [1.0, 1.0], [1.0, 1.0], [1.0, 1.0], [1.0, 1.0], [1.0, 1.0], [1.0, 1.0], [1.0, 1.0], [1.0, 1.0], [1.0, 1.0], [1.0, 1.0], [1.0, 1.0], [1.0, 1.0], [1.0, 1.0], [1.0, 1.0], [1.0, 1.0], [1.0, 1.0], [1.0, 1.0], [1.0, 1.0]]> : tensor<32x2xf32> loc("wq.0")
  %init = arith.constant dense<0.0> : tensor<1x2xf32>
  // expected-error@+1 {{weight 'wq.0' has a non-finite value (nan) at row 1, column 0; refusing to quantize it}}
  %y = linalg.matmul ins(%x, %w : tensor<1x32xf32>, tensor<32x2xf32>) outs(%init : tensor<1x2xf32>) -> tensor<1x2xf32>
  return %y : tensor<1x2xf32>
}

// -----

// expected-remark@+1 {{quant-gguf: quantized 0 of 1 weight-carrying matrix products}}
func.func @batched(%x: tensor<2x1x32xf32>) -> tensor<2x1x2xf32> {
  %w = arith.constant dense<1.0> : tensor<2x32x2xf32> loc("experts")
  %init = arith.constant dense<0.0> : tensor<2x1x2xf32>
  // expected-remark@+1 {{quant-gguf: weight 'experts' is left in float: batched weights are not supported by this pass}}
  %y = linalg.batch_matmul ins(%x, %w : tensor<2x1x32xf32>, tensor<2x32x2xf32>) outs(%init : tensor<2x1x2xf32>) -> tensor<2x1x2xf32>
  return %y : tensor<2x1x2xf32>
}

// -----

// An override must fit the row length (checked by OVERRIDE-FIT).
// expected-remark@+1 {{quant-gguf: quantized 1 of 1 weight-carrying matrix products}}
func.func @override_fit(%x: tensor<1x32xf32>) -> tensor<1x2xf32> {
  %w = arith.constant dense<1.0> : tensor<32x2xf32> loc("wo.0")
  %init = arith.constant dense<0.0> : tensor<1x2xf32>
  %y = linalg.matmul ins(%x, %w : tensor<1x32xf32>, tensor<32x2xf32>) outs(%init : tensor<1x2xf32>) -> tensor<1x2xf32>
  return %y : tensor<1x2xf32>
}
