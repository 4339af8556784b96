// The plugin registers the CPU JIT as the module executor, so a calibrated
// pass that must run the module works in a stock mlir-opt as in quant-opt.
// UNSUPPORTED: sanitizers
// RUN: mlir-opt %s --load-dialect-plugin=%quant_lib_dir/QuantPlugin%shlibext \
// RUN:   --load-pass-plugin=%quant_lib_dir/QuantPlugin%shlibext \
// RUN:   --pass-pipeline="builtin.module(quant-calibrate{calibration=%S/../Dialect/QTensor/Transforms/Inputs/gptq-x.npy output=%t.safetensors})" \
// RUN:   -o /dev/null
// RUN: quant-export --list %t.safetensors | FileCheck %s

// CHECK: fc/count I64 [2]
// CHECK: fc/hessian F64 [32, 32]
// CHECK: fc/max_abs F32 [32]

#id = affine_map<(t, c) -> (t, c)>
func.func @scaled(%x: tensor<64x32xf32>) -> tensor<64x16xf32> {
  %two = arith.constant 2.0 : f32
  %e = tensor.empty() : tensor<64x32xf32>
  %s = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]}
      ins(%x : tensor<64x32xf32>) outs(%e : tensor<64x32xf32>) {
  ^bb0(%a: f32, %o: f32):
    %m = arith.mulf %a, %two : f32
    linalg.yield %m : f32
  } -> tensor<64x32xf32>
  %w = arith.constant dense<0.125> : tensor<32x16xf32> loc("fc")
  %init = arith.constant dense<0.0> : tensor<64x16xf32>
  %y = linalg.matmul ins(%s, %w : tensor<64x32xf32>, tensor<32x16xf32>)
                     outs(%init : tensor<64x16xf32>) -> tensor<64x16xf32>
  return %y : tensor<64x16xf32>
}
