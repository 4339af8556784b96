// RUN: not quant-opt %s --gptq-quantize="bits=4" 2>&1 | FileCheck %s --check-prefix=NODATA
// RUN: not quant-opt %s --gptq-quantize="bits=5 calibration=%S/Inputs/gptq-x.npy" 2>&1 | FileCheck %s --check-prefix=BITS
// RUN: not quant-opt %s --gptq-quantize="damp=1.5 calibration=%S/Inputs/gptq-x.npy" 2>&1 | FileCheck %s --check-prefix=DAMP
// RUN: not quant-opt %s --gptq-quantize="group-size=64 calibration=%S/Inputs/gptq-x.npy" 2>&1 | FileCheck %s --check-prefix=GROUP
// RUN: not quant-opt %s --gptq-quantize="calibration=%S/Inputs/gptq-x-wrong.npy" 2>&1 | FileCheck %s --check-prefix=SHAPE
// RUN: not quant-opt %s --gptq-quantize="calibration=%S/Inputs/gptq-x-nan.npy" 2>&1 | FileCheck %s --check-prefix=NAN
// RUN: not quant-opt %s --gptq-quantize="calibration=%t.missing.npy" 2>&1 | FileCheck %s --check-prefix=MISSING

// NODATA: gptq-quantize: give calibration data with calibration=FILE
// BITS: gptq-quantize: bits must be 2, 3, 4 or 8, got 5
// DAMP: gptq-quantize: damp must be in (0, 1), got 1.5
// GROUP: gptq-quantize: group-size 64 exceeds the reduction size 32 of weight 'fc.weight'
// SHAPE: gptq-x-wrong.npy has shape 2x64x16; the function takes 64x32
// NAN: calibration: a watched activation (32 channels) has NaN or Inf
// MISSING: missing.npy: cannot open

func.func @linear(%x: tensor<64x32xf32>) -> tensor<64x16xf32> {
  %w = arith.constant dense<0.5> : tensor<16x32xf32> loc("fc.weight")
  %init = arith.constant dense<0.0> : tensor<64x16xf32>
  %y = linalg.matmul indexing_maps = [affine_map<(m, n, k) -> (m, k)>,
                                      affine_map<(m, n, k) -> (n, k)>,
                                      affine_map<(m, n, k) -> (m, n)>]
         ins(%x, %w : tensor<64x32xf32>, tensor<16x32xf32>)
         outs(%init : tensor<64x16xf32>) -> tensor<64x16xf32>
  return %y : tensor<64x16xf32>
}
