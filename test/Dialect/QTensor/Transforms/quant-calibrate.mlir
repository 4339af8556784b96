// --quant-calibrate records the statistics once; --gptq-quantize given the
// file produces exactly what running the calibration itself produces.
// RUN: quant-opt %s --quant-calibrate="calibration=%S/Inputs/gptq-x.npy output=%t.stats" | FileCheck %s --check-prefix=UNCHANGED
// RUN: grep -c quant-opt-calibration %t.stats | FileCheck %s --check-prefix=FORMAT
// RUN: quant-opt %s --gptq-quantize="bits=4 group-size=8 statistics=%t.stats" -o %t.from-file.mlir 2>/dev/null
// RUN: quant-opt %s --gptq-quantize="bits=4 group-size=8 calibration=%S/Inputs/gptq-x.npy true-sequential=false" -o %t.direct.mlir 2>/dev/null
// RUN: diff %t.from-file.mlir %t.direct.mlir
// RUN: not quant-opt %s --quant-calibrate="calibration=%S/Inputs/gptq-x.npy" 2>&1 | FileCheck %s --check-prefix=NOOUT
// RUN: head -c 100 %t.stats > %t.truncated
// RUN: not quant-opt %s --gptq-quantize="statistics=%t.truncated" 2>&1 | FileCheck %s --check-prefix=TRUNC
// RUN: sed -e 's/fc.weight/other.weight/' %s > %t.renamed.mlir
// RUN: not quant-opt %t.renamed.mlir --gptq-quantize="statistics=%t.stats" 2>&1 | FileCheck %s --check-prefix=MISSING

// UNCHANGED: linalg.matmul
// UNCHANGED-NOT: qtensor
// FORMAT: 1
// NOOUT: quant-calibrate: give calibration=FILE and output=FILE
// TRUNC: calibration statistics: {{.*}}truncated: the header runs past the end of the file
// MISSING: gptq-quantize: no statistics of 32 channels for weight 'other.weight' were given

func.func @linear(%x: tensor<64x32xf32>) -> tensor<64x16xf32> {
  %w = arith.constant dense<0.25> : tensor<16x32xf32> loc("fc.weight")
  %init = arith.constant dense<0.0> : tensor<64x16xf32>
  %y = linalg.matmul indexing_maps = [affine_map<(m, n, k) -> (m, k)>,
                                      affine_map<(m, n, k) -> (n, k)>,
                                      affine_map<(m, n, k) -> (m, n)>]
         ins(%x, %w : tensor<64x32xf32>, tensor<16x32xf32>)
         outs(%init : tensor<64x16xf32>) -> tensor<64x16xf32>
  return %y : tensor<64x16xf32>
}
