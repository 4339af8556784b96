// Stock mlir-opt loads the qtensor dialect and the quant-opt passes from the
// plugin, parses qtensor IR and runs a project pass. (A sanitized plugin
// needs an instrumented host, so sanitized builds skip this.)
// UNSUPPORTED: sanitizers
// RUN: mlir-opt %s --load-dialect-plugin=%quant_lib_dir/QuantPlugin%shlibext \
// RUN:   --load-pass-plugin=%quant_lib_dir/QuantPlugin%shlibext \
// RUN:   --pass-pipeline="builtin.module(quant-rtn{bits=8})" | FileCheck %s

// CHECK-LABEL: func.func @linear
func.func @linear(%x: tensor<2x4xf32>) -> tensor<2x2xf32> {
  %w = arith.constant dense<[[1.0, -2.0], [0.5, 4.0], [0.0, 1.0], [-1.0, 2.0]]> : tensor<4x2xf32>
  %init = arith.constant dense<0.0> : tensor<2x2xf32>
  // CHECK: qtensor.dequant_matmul %{{.*}} layout <ui8, block = [1, 0]>
  // CHECK-NOT: linalg.matmul
  %y = linalg.matmul ins(%x, %w : tensor<2x4xf32>, tensor<4x2xf32>)
                     outs(%init : tensor<2x2xf32>) -> tensor<2x2xf32>
  return %y : tensor<2x2xf32>
}

// CHECK-LABEL: func.func @parsed
func.func @parsed(%q: tensor<2x2xi8>, %s: tensor<2x1xf32>) -> tensor<2x4xf32> {
  // CHECK: qtensor.dequantize
  %w = qtensor.dequantize %q scales(%s : tensor<2x1xf32>)
         layout <si4, block = [1, 0], packing = lsb_first>
         : tensor<2x2xi8> -> tensor<2x4xf32>
  return %w : tensor<2x4xf32>
}
