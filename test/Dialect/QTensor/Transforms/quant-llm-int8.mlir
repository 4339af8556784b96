// RUN: quant-opt %s --quant-llm-int8 | FileCheck %s
// RUN: quant-opt %s --quant-llm-int8="threshold=3.5 quantize-head=true" | FileCheck %s --check-prefix=HEAD
// RUN: not quant-opt %s --quant-llm-int8="threshold=0" 2>&1 | FileCheck %s --check-prefix=BAD

// Two products share %x: one outlier detection and one activation
// quantization; each product keeps int8 vector-wise weights and adds the
// float outlier part (dequant_matmul of the same int8 codes) first.
// CHECK-LABEL: func.func @forward
// CHECK-NOT:     dense<5.000000e-01> : tensor<2x8xf32>
// CHECK:         %[[MASK:.*]] = linalg.generic {{.*}}iterator_types = ["reduction", "reduction", "parallel"]
// CHECK:           math.absf
// CHECK:           arith.cmpf oge, %{{.*}}, %cst
// CHECK:         %[[IN:.*]] = linalg.generic
// CHECK:         %[[OUT:.*]] = linalg.generic
// CHECK:         %[[Q:.*]], %[[S:.*]] = qtensor.dynamic_quantize %[[IN]] : tensor<1x4x8xf32> -> tensor<1x4x8xi8>, tensor<1x4x1xf32>
// CHECK:         %[[QC:.*]] = linalg.generic
// CHECK-NOT:     qtensor.dynamic_quantize
// CHECK:         %[[FA:.*]] = qtensor.dequant_matmul %[[OUT]], %[[WA:.*]] scales(%[[SA:.*]] : tensor<2x1xf32>) layout <si8, block = [1, 0]>
// CHECK:         qtensor.quantized_matmul %[[QC]], %[[S]], %[[WA]], %[[SA]] outs(%[[FA]] : tensor<1x4x2xf32>) {qtensor.weight_name = "a"}
// CHECK:         %[[FB:.*]] = qtensor.dequant_matmul %[[OUT]], %[[WB:.*]] scales(%[[SB:.*]] : tensor<2x1xf32>)
// CHECK:         qtensor.quantized_matmul %[[QC]], %[[S]], %[[WB]], %[[SB]] outs(%[[FB]] : tensor<1x4x2xf32>) {qtensor.weight_name = "b"}
// CHECK:         return
// The output head stays float by default.
// CHECK:         linalg.matmul
// HEAD-COUNT-3:  qtensor.quantized_matmul
// BAD: quant-llm-int8: threshold must be positive, got 0
#mx = affine_map<(b, m, n, k) -> (b, m, k)>
#mw = affine_map<(b, m, n, k) -> (n, k)>
#my = affine_map<(b, m, n, k) -> (b, m, n)>
func.func @forward(%x: tensor<1x4x8xf32>) -> (tensor<1x4x2xf32>, tensor<1x4x2xf32>) {
  %wa = arith.constant dense<0.5> : tensor<2x8xf32> loc("a")
  %wb = arith.constant dense<-0.25> : tensor<2x8xf32> loc("b")
  %zero = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<1x4x2xf32>
  %init = linalg.fill ins(%zero : f32) outs(%e : tensor<1x4x2xf32>) -> tensor<1x4x2xf32>
  %a = linalg.generic {indexing_maps = [#mx, #mw, #my], iterator_types = ["parallel", "parallel", "parallel", "reduction"]}
      ins(%x, %wa : tensor<1x4x8xf32>, tensor<2x8xf32>) outs(%init : tensor<1x4x2xf32>) {
  ^bb0(%p: f32, %q: f32, %o: f32):
    %m = arith.mulf %p, %q : f32
    %s = arith.addf %o, %m : f32
    linalg.yield %s : f32
  } -> tensor<1x4x2xf32>
  %b = linalg.generic {indexing_maps = [#mx, #mw, #my], iterator_types = ["parallel", "parallel", "parallel", "reduction"]}
      ins(%x, %wb : tensor<1x4x8xf32>, tensor<2x8xf32>) outs(%init : tensor<1x4x2xf32>) {
  ^bb0(%p: f32, %q: f32, %o: f32):
    %m = arith.mulf %p, %q : f32
    %s = arith.addf %o, %m : f32
    linalg.yield %s : f32
  } -> tensor<1x4x2xf32>
  %sum = arith.addf %a, %b : tensor<1x4x2xf32>
  %negb = arith.negf %b : tensor<1x4x2xf32>
  return %sum, %negb : tensor<1x4x2xf32>, tensor<1x4x2xf32>
}

// An output head: its result is returned directly.
func.func @head(%x: tensor<4x8xf32>) -> tensor<4x2xf32> {
  %w = arith.constant dense<0.5> : tensor<2x8xf32> loc("head")
  %zero = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<4x2xf32>
  %init = linalg.fill ins(%zero : f32) outs(%e : tensor<4x2xf32>) -> tensor<4x2xf32>
  %y = linalg.matmul indexing_maps = [affine_map<(m, n, k) -> (m, k)>,
                                      affine_map<(m, n, k) -> (n, k)>,
                                      affine_map<(m, n, k) -> (m, n)>]
         ins(%x, %w : tensor<4x8xf32>, tensor<2x8xf32>) outs(%init : tensor<4x2xf32>) -> tensor<4x2xf32>
  return %y : tensor<4x2xf32>
}
