// RUN: quant-opt %s --quant-rtn="bits=8 skip=lm_head,wk" | FileCheck %s
// RUN: quant-opt %s --quant-rtn="bits=8 skip=lm_head,wk report-skipped=true" -o /dev/null 2>&1 | FileCheck %s --check-prefix=REPORT

// Each skip is explained on request, the count always.
// REPORT-DAG: remark: quant-rtn: weight 'layers.0.wk' is left in float: it matches the skip pattern 'wk'
// REPORT-DAG: remark: quant-rtn: weight 'lm_head' is left in float: it matches the skip pattern 'lm_head'
// REPORT-DAG: remark: quant-rtn: quantized 1 of 3 weight-carrying matrix products

// Weights whose name contains a skip string stay in float.
// CHECK-LABEL: func.func @skip
// CHECK: qtensor.dequant_matmul
// CHECK-SAME: <ui8, block = [1, 0]>
// CHECK: linalg.matmul
// CHECK: linalg.matmul
// CHECK-NOT: qtensor.dequant_matmul
func.func @skip(%x: tensor<1x2xf32>) -> (tensor<1x2xf32>, tensor<1x2xf32>, tensor<1x2xf32>) {
  %init = arith.constant dense<0.0> : tensor<1x2xf32>
  %wq = arith.constant dense<[[1.0, 2.0], [3.0, 4.0]]> : tensor<2x2xf32> loc("layers.0.wq")
  %wk = arith.constant dense<[[1.0, 2.0], [3.0, 4.0]]> : tensor<2x2xf32> loc("layers.0.wk")
  %head = arith.constant dense<[[1.0, 2.0], [3.0, 4.0]]> : tensor<2x2xf32> loc("lm_head")
  %0 = linalg.matmul ins(%x, %wq : tensor<1x2xf32>, tensor<2x2xf32>) outs(%init : tensor<1x2xf32>) -> tensor<1x2xf32>
  %1 = linalg.matmul ins(%x, %wk : tensor<1x2xf32>, tensor<2x2xf32>) outs(%init : tensor<1x2xf32>) -> tensor<1x2xf32>
  %2 = linalg.matmul ins(%x, %head : tensor<1x2xf32>, tensor<2x2xf32>) outs(%init : tensor<1x2xf32>) -> tensor<1x2xf32>
  return %0, %1, %2 : tensor<1x2xf32>, tensor<1x2xf32>, tensor<1x2xf32>
}
