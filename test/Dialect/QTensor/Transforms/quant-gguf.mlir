// RUN: quant-opt %s -split-input-file --quant-gguf="type=q4_0" 2>/dev/null | FileCheck %s --check-prefix=Q4_0
// RUN: quant-opt %s -split-input-file --quant-gguf="type=q4_1" 2>/dev/null | FileCheck %s --check-prefix=Q4_1
// RUN: quant-opt %s -split-input-file --quant-gguf="type=q5_0" 2>/dev/null | FileCheck %s --check-prefix=Q5_0
// RUN: quant-opt %s -split-input-file --quant-gguf="type=q5_1" 2>/dev/null | FileCheck %s --check-prefix=Q5_1
// RUN: quant-opt %s -split-input-file --quant-gguf="type=q8_0" 2>/dev/null | FileCheck %s --check-prefix=Q8_0
// RUN: quant-opt %s -split-input-file --quant-gguf="type=q2_K" 2>/dev/null | FileCheck %s --check-prefix=Q2_K
// RUN: quant-opt %s -split-input-file --quant-gguf="type=q3_K" 2>/dev/null | FileCheck %s --check-prefix=Q3_K
// RUN: quant-opt %s -split-input-file --quant-gguf 2>/dev/null | FileCheck %s --check-prefix=Q4_K
// RUN: quant-opt %s -split-input-file --quant-gguf="type=Q5_K" 2>/dev/null | FileCheck %s --check-prefix=Q5_K
// RUN: quant-opt %s -split-input-file --quant-gguf="type=q6_K" 2>/dev/null | FileCheck %s --check-prefix=Q6_K
// RUN: quant-opt %s -split-input-file --quant-gguf 2>&1 >/dev/null | FileCheck %s --check-prefix=REMARK
// RUN: quant-opt %s -split-input-file --quant-gguf="mix=Q4_K_M" 2>/dev/null | FileCheck %s --check-prefix=Q4KM
// RUN: quant-opt %s -split-input-file --quant-gguf="mix=Q4_K_S" 2>/dev/null | FileCheck %s --check-prefix=Q4KS
// RUN: quant-opt %s -split-input-file --quant-gguf="mix=q5_k_m" 2>/dev/null | FileCheck %s --check-prefix=Q5KM
// RUN: quant-opt %s -split-input-file --quant-gguf="mix=Q5_K_S" 2>/dev/null | FileCheck %s --check-prefix=Q5KS
// RUN: quant-opt %s -split-input-file --quant-gguf="mix=Q3_K_M" 2>/dev/null | FileCheck %s --check-prefix=Q3KM
// RUN: quant-opt %s -split-input-file --quant-gguf="type=q4_0 skip=fc,attn_q" 2>/dev/null | FileCheck %s --check-prefix=SKIP
// RUN: quant-opt %s -split-input-file --quant-gguf="tensor-type=attn_v=q8_0,wq=q5_K,ffn_down=q8_0,^output=f16,blk.1.attn_v=q6_K" 2>/dev/null | FileCheck %s --check-prefix=OVERRIDE
// RUN: quant-opt %s -split-input-file --quant-gguf="tensor-type=attn_v=q8_0,wq=q5_K,ffn_down=q8_0,^output=f16,blk.1.attn_v=q6_K" 2>&1 >/dev/null | FileCheck %s --check-prefix=OVERRIDE-REMARK
// RUN: quant-opt %s -split-input-file --quant-gguf="mix=Q4_K_M tensor-type=attn_v=q5_K" 2>/dev/null | FileCheck %s --check-prefix=MIX-OVERRIDE

// The importance matrix: the last split alone, calibrated with the
// activations of gptq-quantize.mlir, from a statistics file or by running
// the module; both give the same blocks, which differ from the reference
// quantizer's.
// RUN: sed -n '/^\/\/ --- imatrix ---$/,$p' %s > %t.imatrix.mlir
// RUN: quant-opt %t.imatrix.mlir --quant-calibrate="calibration=%S/Inputs/gptq-x.npy output=%t.stats" -o /dev/null
// RUN: quant-opt %t.imatrix.mlir --quant-gguf="type=q4_0 statistics=%t.stats" -o %t.from-stats.mlir
// RUN: quant-opt %t.imatrix.mlir --quant-gguf="type=q4_0 calibration=%S/Inputs/gptq-x.npy" -o %t.from-run.mlir
// RUN: diff %t.from-stats.mlir %t.from-run.mlir
// RUN: quant-opt %t.imatrix.mlir --quant-gguf="type=q4_0" -o %t.plain.mlir
// RUN: not diff %t.plain.mlir %t.from-run.mlir >/dev/null
// RUN: FileCheck %s --input-file=%t.from-run.mlir --check-prefix=IMATRIX
// RUN: sed -e 's/fc.weight/other.weight/' %t.imatrix.mlir > %t.renamed.mlir
// RUN: not quant-opt %t.renamed.mlir --quant-gguf="type=q4_0 statistics=%t.stats" 2>&1 | FileCheck %s --check-prefix=MISSING
// RUN: not quant-opt %t.imatrix.mlir --quant-gguf="statistics=%t.missing" 2>&1 | FileCheck %s --check-prefix=NOFILE
// NOFILE: calibration statistics: {{.*}}.missing
// MISSING: quant-gguf: {{.*}} has no statistics of 32 channels for weight 'other.weight'

// Storage of each type: a row of K = 256 is K/QK blocks of B bytes.
// Q4_0-LABEL: func.func @shapes
// Q4_0: qtensor.ggml_matmul %arg0, %{{.*}} as q4_0 outs(%{{.*}} : tensor<3x2xf32>) {qtensor.weight_name = "fc.weight"} : tensor<3x256xf32>, tensor<2x144xi8> -> tensor<3x2xf32>
// Q4_0-NOT: linalg.matmul
// Q4_1-LABEL: func.func @shapes
// Q4_1: as q4_1 {{.*}} tensor<2x160xi8>
// Q5_0-LABEL: func.func @shapes
// Q5_0: as q5_0 {{.*}} tensor<2x176xi8>
// Q5_1-LABEL: func.func @shapes
// Q5_1: as q5_1 {{.*}} tensor<2x192xi8>
// Q8_0-LABEL: func.func @shapes
// Q8_0: as q8_0 {{.*}} tensor<2x272xi8>
// Q2_K-LABEL: func.func @shapes
// Q2_K: as q2_K {{.*}} tensor<2x84xi8>
// Q3_K-LABEL: func.func @shapes
// Q3_K: as q3_K {{.*}} tensor<2x110xi8>
// Q4_K-LABEL: func.func @shapes
// Q4_K: as q4_K {{.*}} tensor<2x144xi8>
// Q5_K-LABEL: func.func @shapes
// Q5_K: as q5_K {{.*}} tensor<2x176xi8>
// Q6_K-LABEL: func.func @shapes
// Q6_K: as q6_K {{.*}} tensor<2x210xi8>
// SKIP-LABEL: func.func @shapes
// SKIP: linalg.matmul
// SKIP-NOT: qtensor.ggml_matmul
func.func @shapes(%x: tensor<3x256xf32>) -> tensor<3x2xf32> {
  %w = arith.constant dense<0.125> : tensor<2x256xf32> loc("fc.weight")
  %init = arith.constant dense<0.0> : tensor<3x2xf32>
  %y = linalg.matmul indexing_maps = [affine_map<(m, n, k) -> (m, k)>,
                                      affine_map<(m, n, k) -> (n, k)>,
                                      affine_map<(m, n, k) -> (m, n)>]
         ins(%x, %w : tensor<3x256xf32>, tensor<2x256xf32>)
         outs(%init : tensor<3x2xf32>) -> tensor<3x2xf32>
  return %y : tensor<3x2xf32>
}

// -----

// One q8_0 block by hand. ggml's quantize_row_q8_0_ref: d = amax / 127 =
// 63.5 / 127 = 0.5, id = 1 / d = 2, q = roundf(x * id), rounding halves
// away from zero: 63.5 -> 127, -31.75 -> -63.5 -> -64, 1.25 -> 2.5 -> 3,
// 0.2 -> 0.4 -> 0, -0.25 -> -0.5 -> -1, zeros -> 0. The block is d as f16
// (0.5 = 0x3800, little-endian bytes 0x00 0x38 = 0, 56) and the 32 codes.
// The weight is stored [K, N] here (linalg.matmul's default), so the pass
// reads its column as the row.
// Q4_0-LABEL: func.func @q8_block
// SKIP-LABEL: func.func @q8_block
// Q8_0-LABEL: func.func @q8_block
// Q8_0: %[[B:.*]] = arith.constant dense<{{\[\[}}0, 56, 127, -64, 3, 0, -1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]]> : tensor<1x34xi8>
// Q8_0: qtensor.ggml_matmul %arg0, %[[B]] as q8_0 outs(%{{.*}} : tensor<1x1xf32>) {qtensor.weight_name = "q8.weight"} : tensor<1x32xf32>, tensor<1x34xi8> -> tensor<1x1xf32>
// Q8_0-NOT: tensor<32x1xf32>
func.func @q8_block(%x: tensor<1x32xf32>) -> tensor<1x1xf32> {
  %w = arith.constant dense<[[63.5], [-31.75], [1.25], [0.2], [-0.25], [0.0], [0.0], [0.0], [0.0], [0.0], [0.0], [0.0], [0.0], [0.0], [0.0], [0.0], [0.0], [0.0], [0.0], [0.0], [0.0], [0.0], [0.0], [0.0], [0.0], [0.0], [0.0], [0.0], [0.0], [0.0], [0.0], [0.0]]> : tensor<32x1xf32> loc("q8.weight")
  %init = arith.constant dense<0.0> : tensor<1x1xf32>
  %y = linalg.matmul ins(%x, %w : tensor<1x32xf32>, tensor<32x1xf32>)
                     outs(%init : tensor<1x1xf32>) -> tensor<1x1xf32>
  return %y : tensor<1x1xf32>
}

// -----

// Row lengths that do not fit the blocks (stories260K has K = 64 and 172):
// tensor_type_fallback takes q4_K to q5_0 for K = 64, and to F16 for
// K = 48, which 32 does not divide either: the product stays in float
// with weights in ggml's f16 (0.1 -> 0x2E66, little-endian bytes 66 2E).
// REMARK: remark: quant-gguf: weight 'wq.0': row length 64 is not a multiple of the 256-element blocks of q4_K; using q5_0
// REMARK: remark: quant-gguf: weight 'w2.0': row length 48 is not a multiple of the 256-element blocks of q4_K; using f16
// Q4_K-LABEL: func.func @fallback
// Q4_K: qtensor.ggml_matmul %arg0, %{{.*}} as q5_0 {{.*}} : tensor<1x64xf32>, tensor<4x44xi8> -> tensor<1x4xf32>
// Q4_K: %[[F16:.*]] = arith.constant dense<"0x662E662E
// Q4_K: qtensor.ggml_matmul %arg1, %[[F16]] as f16 {{.*}} {qtensor.weight_name = "w2.0"} : tensor<1x48xf32>, tensor<4x96xi8> -> tensor<1x4xf32>
func.func @fallback(%x: tensor<1x64xf32>, %h: tensor<1x48xf32>) -> (tensor<1x4xf32>, tensor<1x4xf32>) {
  %wq = arith.constant dense<0.5> : tensor<4x64xf32> loc("wq.0")
  %w2 = arith.constant dense<0.1> : tensor<4x48xf32> loc("w2.0")
  %init = arith.constant dense<0.0> : tensor<1x4xf32>
  %q = linalg.matmul indexing_maps = [affine_map<(m, n, k) -> (m, k)>,
                                      affine_map<(m, n, k) -> (n, k)>,
                                      affine_map<(m, n, k) -> (m, n)>]
         ins(%x, %wq : tensor<1x64xf32>, tensor<4x64xf32>)
         outs(%init : tensor<1x4xf32>) -> tensor<1x4xf32>
  %d = linalg.matmul indexing_maps = [affine_map<(m, n, k) -> (m, k)>,
                                      affine_map<(m, n, k) -> (n, k)>,
                                      affine_map<(m, n, k) -> (m, n)>]
         ins(%h, %w2 : tensor<1x48xf32>, tensor<4x48xf32>)
         outs(%init : tensor<1x4xf32>) -> tensor<1x4xf32>
  return %q, %d : tensor<1x4xf32>, tensor<1x4xf32>
}

// -----

// Mixes on an 8-layer model (llama2.c names, K = 256): use_more_bits(i, 8)
// holds for layers 0, 3, 6, 7, where Q4_K_M and Q5_K_M give attn_v (wv)
// and ffn_down (w2) q6_K; Q4_K_S gives attn_v of layers 0..3 and ffn_down
// of layer 0 (i < n/8) q5_K; Q3_K_M gives attn_v q5_K in layers 0, 1 and
// q4_K elsewhere, ffn_down q4_K (i < n/16 is empty). The classifier (wcls)
// gets q6_K in every mix, the base type without one.
// Q4KM-LABEL: func.func @mix
// Q4KM: as q4_K outs({{.*}}) {qtensor.weight_name = "wq.0"}
// Q4KM: as q6_K outs({{.*}}) {qtensor.weight_name = "wv.0"}
// Q4KM: as q4_K outs({{.*}}) {qtensor.weight_name = "wv.1"}
// Q4KM: as q4_K outs({{.*}}) {qtensor.weight_name = "wv.2"}
// Q4KM: as q6_K outs({{.*}}) {qtensor.weight_name = "wv.3"}
// Q4KM: as q4_K outs({{.*}}) {qtensor.weight_name = "wv.4"}
// Q4KM: as q4_K outs({{.*}}) {qtensor.weight_name = "wv.5"}
// Q4KM: as q6_K outs({{.*}}) {qtensor.weight_name = "wv.6"}
// Q4KM: as q6_K outs({{.*}}) {qtensor.weight_name = "wv.7"}
// Q4KM: as q6_K outs({{.*}}) {qtensor.weight_name = "w2.0"}
// Q4KM: as q4_K outs({{.*}}) {qtensor.weight_name = "w2.1"}
// Q4KM: as q4_K outs({{.*}}) {qtensor.weight_name = "w2.2"}
// Q4KM: as q6_K outs({{.*}}) {qtensor.weight_name = "w2.3"}
// Q4KM: as q4_K outs({{.*}}) {qtensor.weight_name = "w2.4"}
// Q4KM: as q4_K outs({{.*}}) {qtensor.weight_name = "w2.5"}
// Q4KM: as q6_K outs({{.*}}) {qtensor.weight_name = "w2.6"}
// Q4KM: as q6_K outs({{.*}}) {qtensor.weight_name = "w2.7"}
// Q4KM: as q6_K outs({{.*}}) {qtensor.weight_name = "wcls"}
// Q4KS-LABEL: func.func @mix
// Q4KS: as q4_K outs({{.*}}) {qtensor.weight_name = "wq.0"}
// Q4KS: as q5_K outs({{.*}}) {qtensor.weight_name = "wv.0"}
// Q4KS: as q5_K outs({{.*}}) {qtensor.weight_name = "wv.1"}
// Q4KS: as q5_K outs({{.*}}) {qtensor.weight_name = "wv.2"}
// Q4KS: as q5_K outs({{.*}}) {qtensor.weight_name = "wv.3"}
// Q4KS: as q4_K outs({{.*}}) {qtensor.weight_name = "wv.4"}
// Q4KS: as q4_K outs({{.*}}) {qtensor.weight_name = "wv.5"}
// Q4KS: as q4_K outs({{.*}}) {qtensor.weight_name = "wv.6"}
// Q4KS: as q4_K outs({{.*}}) {qtensor.weight_name = "wv.7"}
// Q4KS: as q5_K outs({{.*}}) {qtensor.weight_name = "w2.0"}
// Q4KS: as q4_K outs({{.*}}) {qtensor.weight_name = "w2.1"}
// Q4KS: as q4_K outs({{.*}}) {qtensor.weight_name = "w2.2"}
// Q4KS: as q4_K outs({{.*}}) {qtensor.weight_name = "w2.3"}
// Q4KS: as q4_K outs({{.*}}) {qtensor.weight_name = "w2.4"}
// Q4KS: as q4_K outs({{.*}}) {qtensor.weight_name = "w2.5"}
// Q4KS: as q4_K outs({{.*}}) {qtensor.weight_name = "w2.6"}
// Q4KS: as q4_K outs({{.*}}) {qtensor.weight_name = "w2.7"}
// Q4KS: as q6_K outs({{.*}}) {qtensor.weight_name = "wcls"}
// Q5KM-LABEL: func.func @mix
// Q5KM: as q5_K outs({{.*}}) {qtensor.weight_name = "wq.0"}
// Q5KM: as q6_K outs({{.*}}) {qtensor.weight_name = "wv.0"}
// Q5KM: as q5_K outs({{.*}}) {qtensor.weight_name = "wv.1"}
// Q5KM: as q5_K outs({{.*}}) {qtensor.weight_name = "wv.2"}
// Q5KM: as q6_K outs({{.*}}) {qtensor.weight_name = "wv.3"}
// Q5KM: as q5_K outs({{.*}}) {qtensor.weight_name = "wv.4"}
// Q5KM: as q5_K outs({{.*}}) {qtensor.weight_name = "wv.5"}
// Q5KM: as q6_K outs({{.*}}) {qtensor.weight_name = "wv.6"}
// Q5KM: as q6_K outs({{.*}}) {qtensor.weight_name = "wv.7"}
// Q5KM: as q6_K outs({{.*}}) {qtensor.weight_name = "w2.0"}
// Q5KM: as q5_K outs({{.*}}) {qtensor.weight_name = "w2.1"}
// Q5KM: as q5_K outs({{.*}}) {qtensor.weight_name = "w2.2"}
// Q5KM: as q6_K outs({{.*}}) {qtensor.weight_name = "w2.3"}
// Q5KM: as q5_K outs({{.*}}) {qtensor.weight_name = "w2.4"}
// Q5KM: as q5_K outs({{.*}}) {qtensor.weight_name = "w2.5"}
// Q5KM: as q6_K outs({{.*}}) {qtensor.weight_name = "w2.6"}
// Q5KM: as q6_K outs({{.*}}) {qtensor.weight_name = "w2.7"}
// Q5KM: as q6_K outs({{.*}}) {qtensor.weight_name = "wcls"}
// Q5KS-LABEL: func.func @mix
// Q5KS: as q5_K outs({{.*}}) {qtensor.weight_name = "wq.0"}
// Q5KS: as q5_K outs({{.*}}) {qtensor.weight_name = "wv.0"}
// Q5KS: as q5_K outs({{.*}}) {qtensor.weight_name = "wv.1"}
// Q5KS: as q5_K outs({{.*}}) {qtensor.weight_name = "wv.2"}
// Q5KS: as q5_K outs({{.*}}) {qtensor.weight_name = "wv.3"}
// Q5KS: as q5_K outs({{.*}}) {qtensor.weight_name = "wv.4"}
// Q5KS: as q5_K outs({{.*}}) {qtensor.weight_name = "wv.5"}
// Q5KS: as q5_K outs({{.*}}) {qtensor.weight_name = "wv.6"}
// Q5KS: as q5_K outs({{.*}}) {qtensor.weight_name = "wv.7"}
// Q5KS: as q5_K outs({{.*}}) {qtensor.weight_name = "w2.0"}
// Q5KS: as q5_K outs({{.*}}) {qtensor.weight_name = "w2.1"}
// Q5KS: as q5_K outs({{.*}}) {qtensor.weight_name = "w2.2"}
// Q5KS: as q5_K outs({{.*}}) {qtensor.weight_name = "w2.3"}
// Q5KS: as q5_K outs({{.*}}) {qtensor.weight_name = "w2.4"}
// Q5KS: as q5_K outs({{.*}}) {qtensor.weight_name = "w2.5"}
// Q5KS: as q5_K outs({{.*}}) {qtensor.weight_name = "w2.6"}
// Q5KS: as q5_K outs({{.*}}) {qtensor.weight_name = "w2.7"}
// Q5KS: as q6_K outs({{.*}}) {qtensor.weight_name = "wcls"}
// Q3KM-LABEL: func.func @mix
// Q3KM: as q3_K outs({{.*}}) {qtensor.weight_name = "wq.0"}
// Q3KM: as q5_K outs({{.*}}) {qtensor.weight_name = "wv.0"}
// Q3KM: as q5_K outs({{.*}}) {qtensor.weight_name = "wv.1"}
// Q3KM: as q4_K outs({{.*}}) {qtensor.weight_name = "wv.2"}
// Q3KM: as q4_K outs({{.*}}) {qtensor.weight_name = "wv.3"}
// Q3KM: as q4_K outs({{.*}}) {qtensor.weight_name = "wv.4"}
// Q3KM: as q4_K outs({{.*}}) {qtensor.weight_name = "wv.5"}
// Q3KM: as q4_K outs({{.*}}) {qtensor.weight_name = "wv.6"}
// Q3KM: as q4_K outs({{.*}}) {qtensor.weight_name = "wv.7"}
// Q3KM: as q4_K outs({{.*}}) {qtensor.weight_name = "w2.0"}
// Q3KM: as q4_K outs({{.*}}) {qtensor.weight_name = "w2.1"}
// Q3KM: as q4_K outs({{.*}}) {qtensor.weight_name = "w2.2"}
// Q3KM: as q4_K outs({{.*}}) {qtensor.weight_name = "w2.3"}
// Q3KM: as q4_K outs({{.*}}) {qtensor.weight_name = "w2.4"}
// Q3KM: as q4_K outs({{.*}}) {qtensor.weight_name = "w2.5"}
// Q3KM: as q4_K outs({{.*}}) {qtensor.weight_name = "w2.6"}
// Q3KM: as q4_K outs({{.*}}) {qtensor.weight_name = "w2.7"}
// Q3KM: as q6_K outs({{.*}}) {qtensor.weight_name = "wcls"}
// Q4_K-LABEL: func.func @mix
// Q4_K: as q4_K outs({{.*}}) {qtensor.weight_name = "wq.0"}
// Q4_K: as q4_K outs({{.*}}) {qtensor.weight_name = "wv.0"}
// Q4_K: as q4_K outs({{.*}}) {qtensor.weight_name = "wv.1"}
// Q4_K: as q4_K outs({{.*}}) {qtensor.weight_name = "wv.2"}
// Q4_K: as q4_K outs({{.*}}) {qtensor.weight_name = "wv.3"}
// Q4_K: as q4_K outs({{.*}}) {qtensor.weight_name = "wv.4"}
// Q4_K: as q4_K outs({{.*}}) {qtensor.weight_name = "wv.5"}
// Q4_K: as q4_K outs({{.*}}) {qtensor.weight_name = "wv.6"}
// Q4_K: as q4_K outs({{.*}}) {qtensor.weight_name = "wv.7"}
// Q4_K: as q4_K outs({{.*}}) {qtensor.weight_name = "w2.0"}
// Q4_K: as q4_K outs({{.*}}) {qtensor.weight_name = "w2.1"}
// Q4_K: as q4_K outs({{.*}}) {qtensor.weight_name = "w2.2"}
// Q4_K: as q4_K outs({{.*}}) {qtensor.weight_name = "w2.3"}
// Q4_K: as q4_K outs({{.*}}) {qtensor.weight_name = "w2.4"}
// Q4_K: as q4_K outs({{.*}}) {qtensor.weight_name = "w2.5"}
// Q4_K: as q4_K outs({{.*}}) {qtensor.weight_name = "w2.6"}
// Q4_K: as q4_K outs({{.*}}) {qtensor.weight_name = "w2.7"}
// Q4_K: as q4_K outs({{.*}}) {qtensor.weight_name = "wcls"}
#x = affine_map<(m, n, k) -> (m, k)>
#w = affine_map<(m, n, k) -> (n, k)>
#y = affine_map<(m, n, k) -> (m, n)>
func.func @mix(%x0: tensor<1x256xf32>, %x1: tensor<1x256xf32>, %x2: tensor<1x256xf32>, %x3: tensor<1x256xf32>, %x4: tensor<1x256xf32>, %x5: tensor<1x256xf32>, %x6: tensor<1x256xf32>, %x7: tensor<1x256xf32>, %x8: tensor<1x256xf32>, %x9: tensor<1x256xf32>, %x10: tensor<1x256xf32>, %x11: tensor<1x256xf32>, %x12: tensor<1x256xf32>, %x13: tensor<1x256xf32>, %x14: tensor<1x256xf32>, %x15: tensor<1x256xf32>, %x16: tensor<1x256xf32>, %x17: tensor<1x256xf32>) -> (tensor<1x1xf32>, tensor<1x1xf32>, tensor<1x1xf32>, tensor<1x1xf32>, tensor<1x1xf32>, tensor<1x1xf32>, tensor<1x1xf32>, tensor<1x1xf32>, tensor<1x1xf32>, tensor<1x1xf32>, tensor<1x1xf32>, tensor<1x1xf32>, tensor<1x1xf32>, tensor<1x1xf32>, tensor<1x1xf32>, tensor<1x1xf32>, tensor<1x1xf32>, tensor<1x1xf32>) {
  %init = arith.constant dense<0.0> : tensor<1x1xf32>
  %w0 = arith.constant dense<0.25> : tensor<1x256xf32> loc("wq.0")
  %y0 = linalg.matmul indexing_maps = [#x, #w, #y] ins(%x0, %w0 : tensor<1x256xf32>, tensor<1x256xf32>) outs(%init : tensor<1x1xf32>) -> tensor<1x1xf32>
  %w1 = arith.constant dense<0.25> : tensor<1x256xf32> loc("wv.0")
  %y1 = linalg.matmul indexing_maps = [#x, #w, #y] ins(%x1, %w1 : tensor<1x256xf32>, tensor<1x256xf32>) outs(%init : tensor<1x1xf32>) -> tensor<1x1xf32>
  %w2 = arith.constant dense<0.25> : tensor<1x256xf32> loc("wv.1")
  %y2 = linalg.matmul indexing_maps = [#x, #w, #y] ins(%x2, %w2 : tensor<1x256xf32>, tensor<1x256xf32>) outs(%init : tensor<1x1xf32>) -> tensor<1x1xf32>
  %w3 = arith.constant dense<0.25> : tensor<1x256xf32> loc("wv.2")
  %y3 = linalg.matmul indexing_maps = [#x, #w, #y] ins(%x3, %w3 : tensor<1x256xf32>, tensor<1x256xf32>) outs(%init : tensor<1x1xf32>) -> tensor<1x1xf32>
  %w4 = arith.constant dense<0.25> : tensor<1x256xf32> loc("wv.3")
  %y4 = linalg.matmul indexing_maps = [#x, #w, #y] ins(%x4, %w4 : tensor<1x256xf32>, tensor<1x256xf32>) outs(%init : tensor<1x1xf32>) -> tensor<1x1xf32>
  %w5 = arith.constant dense<0.25> : tensor<1x256xf32> loc("wv.4")
  %y5 = linalg.matmul indexing_maps = [#x, #w, #y] ins(%x5, %w5 : tensor<1x256xf32>, tensor<1x256xf32>) outs(%init : tensor<1x1xf32>) -> tensor<1x1xf32>
  %w6 = arith.constant dense<0.25> : tensor<1x256xf32> loc("wv.5")
  %y6 = linalg.matmul indexing_maps = [#x, #w, #y] ins(%x6, %w6 : tensor<1x256xf32>, tensor<1x256xf32>) outs(%init : tensor<1x1xf32>) -> tensor<1x1xf32>
  %w7 = arith.constant dense<0.25> : tensor<1x256xf32> loc("wv.6")
  %y7 = linalg.matmul indexing_maps = [#x, #w, #y] ins(%x7, %w7 : tensor<1x256xf32>, tensor<1x256xf32>) outs(%init : tensor<1x1xf32>) -> tensor<1x1xf32>
  %w8 = arith.constant dense<0.25> : tensor<1x256xf32> loc("wv.7")
  %y8 = linalg.matmul indexing_maps = [#x, #w, #y] ins(%x8, %w8 : tensor<1x256xf32>, tensor<1x256xf32>) outs(%init : tensor<1x1xf32>) -> tensor<1x1xf32>
  %w9 = arith.constant dense<0.25> : tensor<1x256xf32> loc("w2.0")
  %y9 = linalg.matmul indexing_maps = [#x, #w, #y] ins(%x9, %w9 : tensor<1x256xf32>, tensor<1x256xf32>) outs(%init : tensor<1x1xf32>) -> tensor<1x1xf32>
  %w10 = arith.constant dense<0.25> : tensor<1x256xf32> loc("w2.1")
  %y10 = linalg.matmul indexing_maps = [#x, #w, #y] ins(%x10, %w10 : tensor<1x256xf32>, tensor<1x256xf32>) outs(%init : tensor<1x1xf32>) -> tensor<1x1xf32>
  %w11 = arith.constant dense<0.25> : tensor<1x256xf32> loc("w2.2")
  %y11 = linalg.matmul indexing_maps = [#x, #w, #y] ins(%x11, %w11 : tensor<1x256xf32>, tensor<1x256xf32>) outs(%init : tensor<1x1xf32>) -> tensor<1x1xf32>
  %w12 = arith.constant dense<0.25> : tensor<1x256xf32> loc("w2.3")
  %y12 = linalg.matmul indexing_maps = [#x, #w, #y] ins(%x12, %w12 : tensor<1x256xf32>, tensor<1x256xf32>) outs(%init : tensor<1x1xf32>) -> tensor<1x1xf32>
  %w13 = arith.constant dense<0.25> : tensor<1x256xf32> loc("w2.4")
  %y13 = linalg.matmul indexing_maps = [#x, #w, #y] ins(%x13, %w13 : tensor<1x256xf32>, tensor<1x256xf32>) outs(%init : tensor<1x1xf32>) -> tensor<1x1xf32>
  %w14 = arith.constant dense<0.25> : tensor<1x256xf32> loc("w2.5")
  %y14 = linalg.matmul indexing_maps = [#x, #w, #y] ins(%x14, %w14 : tensor<1x256xf32>, tensor<1x256xf32>) outs(%init : tensor<1x1xf32>) -> tensor<1x1xf32>
  %w15 = arith.constant dense<0.25> : tensor<1x256xf32> loc("w2.6")
  %y15 = linalg.matmul indexing_maps = [#x, #w, #y] ins(%x15, %w15 : tensor<1x256xf32>, tensor<1x256xf32>) outs(%init : tensor<1x1xf32>) -> tensor<1x1xf32>
  %w16 = arith.constant dense<0.25> : tensor<1x256xf32> loc("w2.7")
  %y16 = linalg.matmul indexing_maps = [#x, #w, #y] ins(%x16, %w16 : tensor<1x256xf32>, tensor<1x256xf32>) outs(%init : tensor<1x1xf32>) -> tensor<1x1xf32>
  %w17 = arith.constant dense<0.25> : tensor<1x256xf32> loc("wcls")
  %y17 = linalg.matmul indexing_maps = [#x, #w, #y] ins(%x17, %w17 : tensor<1x256xf32>, tensor<1x256xf32>) outs(%init : tensor<1x1xf32>) -> tensor<1x1xf32>
  return %y0, %y1, %y2, %y3, %y4, %y5, %y6, %y7, %y8, %y9, %y10, %y11, %y12, %y13, %y14, %y15, %y16, %y17 : tensor<1x1xf32>, tensor<1x1xf32>, tensor<1x1xf32>, tensor<1x1xf32>, tensor<1x1xf32>, tensor<1x1xf32>, tensor<1x1xf32>, tensor<1x1xf32>, tensor<1x1xf32>, tensor<1x1xf32>, tensor<1x1xf32>, tensor<1x1xf32>, tensor<1x1xf32>, tensor<1x1xf32>, tensor<1x1xf32>, tensor<1x1xf32>, tensor<1x1xf32>, tensor<1x1xf32>
}

// -----

// Hugging Face names, two layers: use_more_bits(i, 2) holds for i = 1 only,
// so Q4_K_M gives layer 1's v_proj and down_proj q6_K; lm_head is the
// output tensor.
// Q4KM-LABEL: func.func @hf_names
// Q4KM: as q4_K outs({{.*}}) {qtensor.weight_name = "model.layers.0.self_attn.v_proj.weight"}
// Q4KM: as q6_K outs({{.*}}) {qtensor.weight_name = "model.layers.1.self_attn.v_proj.weight"}
// Q4KM: as q4_K outs({{.*}}) {qtensor.weight_name = "model.layers.0.mlp.down_proj.weight"}
// Q4KM: as q6_K outs({{.*}}) {qtensor.weight_name = "model.layers.1.mlp.down_proj.weight"}
// Q4KM: as q4_K outs({{.*}}) {qtensor.weight_name = "model.layers.1.mlp.up_proj.weight"}
// Q4KM: as q6_K outs({{.*}}) {qtensor.weight_name = "lm_head.weight"}
#x = affine_map<(m, n, k) -> (m, k)>
#w = affine_map<(m, n, k) -> (n, k)>
#y = affine_map<(m, n, k) -> (m, n)>
func.func @hf_names(%x0: tensor<1x256xf32>, %x1: tensor<1x256xf32>, %x2: tensor<1x256xf32>, %x3: tensor<1x256xf32>, %x4: tensor<1x256xf32>, %x5: tensor<1x256xf32>) -> (tensor<1x1xf32>, tensor<1x1xf32>, tensor<1x1xf32>, tensor<1x1xf32>, tensor<1x1xf32>, tensor<1x1xf32>) {
  %init = arith.constant dense<0.0> : tensor<1x1xf32>
  %w0 = arith.constant dense<0.25> : tensor<1x256xf32> loc("model.layers.0.self_attn.v_proj.weight")
  %y0 = linalg.matmul indexing_maps = [#x, #w, #y] ins(%x0, %w0 : tensor<1x256xf32>, tensor<1x256xf32>) outs(%init : tensor<1x1xf32>) -> tensor<1x1xf32>
  %w1 = arith.constant dense<0.25> : tensor<1x256xf32> loc("model.layers.1.self_attn.v_proj.weight")
  %y1 = linalg.matmul indexing_maps = [#x, #w, #y] ins(%x1, %w1 : tensor<1x256xf32>, tensor<1x256xf32>) outs(%init : tensor<1x1xf32>) -> tensor<1x1xf32>
  %w2 = arith.constant dense<0.25> : tensor<1x256xf32> loc("model.layers.0.mlp.down_proj.weight")
  %y2 = linalg.matmul indexing_maps = [#x, #w, #y] ins(%x2, %w2 : tensor<1x256xf32>, tensor<1x256xf32>) outs(%init : tensor<1x1xf32>) -> tensor<1x1xf32>
  %w3 = arith.constant dense<0.25> : tensor<1x256xf32> loc("model.layers.1.mlp.down_proj.weight")
  %y3 = linalg.matmul indexing_maps = [#x, #w, #y] ins(%x3, %w3 : tensor<1x256xf32>, tensor<1x256xf32>) outs(%init : tensor<1x1xf32>) -> tensor<1x1xf32>
  %w4 = arith.constant dense<0.25> : tensor<1x256xf32> loc("model.layers.1.mlp.up_proj.weight")
  %y4 = linalg.matmul indexing_maps = [#x, #w, #y] ins(%x4, %w4 : tensor<1x256xf32>, tensor<1x256xf32>) outs(%init : tensor<1x1xf32>) -> tensor<1x1xf32>
  %w5 = arith.constant dense<0.25> : tensor<1x256xf32> loc("lm_head.weight")
  %y5 = linalg.matmul indexing_maps = [#x, #w, #y] ins(%x5, %w5 : tensor<1x256xf32>, tensor<1x256xf32>) outs(%init : tensor<1x1xf32>) -> tensor<1x1xf32>
  return %y0, %y1, %y2, %y3, %y4, %y5 : tensor<1x1xf32>, tensor<1x1xf32>, tensor<1x1xf32>, tensor<1x1xf32>, tensor<1x1xf32>, tensor<1x1xf32>
}

// -----

// A dense_resource weight gives dense_resource blocks named after it.
// Q8_0-LABEL: func.func @resource
// Q8_0: %[[B:.*]] = arith.constant dense_resource<wq.0.qweight> : tensor<2x34xi8>
// Q8_0: qtensor.ggml_matmul %arg0, %[[B]] as q8_0 {{.*}} {qtensor.weight_name = "wq.0"}
// Q8_0-NOT: dense_resource<wq.0> :
func.func @resource(%x: tensor<1x32xf32>) -> tensor<1x2xf32> {
  %w = arith.constant dense_resource<wq.0> : tensor<2x32xf32>
  %init = arith.constant dense<0.0> : tensor<1x2xf32>
  %y = linalg.matmul indexing_maps = [affine_map<(m, n, k) -> (m, k)>,
                                      affine_map<(m, n, k) -> (n, k)>,
                                      affine_map<(m, n, k) -> (m, n)>]
         ins(%x, %w : tensor<1x32xf32>, tensor<2x32xf32>)
         outs(%init : tensor<1x2xf32>) -> tensor<1x2xf32>
  return %y : tensor<1x2xf32>
}

{-#
  dialect_resources: {
    builtin: {
      wq.0: "0x040000000000803E0000803E0000803E0000803E0000803E0000803E0000803E0000803E0000803E0000803E0000803E0000803E0000803E0000803E0000803E0000803E0000803E0000803E0000803E0000803E0000803E0000803E0000803E0000803E0000803E0000803E0000803E0000803E0000803E0000803E0000803E0000803E0000803E0000803E0000803E0000803E0000803E0000803E0000803E0000803E0000803E0000803E0000803E0000803E0000803E0000803E0000803E0000803E0000803E0000803E0000803E0000803E0000803E0000803E0000803E0000803E0000803E0000803E0000803E0000803E0000803E0000803E0000803E0000803E"
    }
  }
#-}

// -----

// Per-tensor types (llama-quantize --tensor-type). Entries match the
// weight's own name (`wq` matches wq.0) or its llama.cpp name (`attn_v`
// matches wv.0 as blk.0.attn_v.weight; `^output` matches wcls as
// output.weight, but not wo.0, blk.0.attn_output.weight). The last
// matching entry wins (blk.1.attn_v takes wv.1 to q6_K). w2.0 has K = 64,
// so q4_K needs the fallback to q5_0 and, as in llama-quantize, its
// ffn_down entry is not applied. The classifier gets f16.
// OVERRIDE-LABEL: func.func @overrides
// OVERRIDE: as q5_K outs({{.*}}) {qtensor.weight_name = "wq.0"}
// OVERRIDE: as q8_0 outs({{.*}}) {qtensor.weight_name = "wv.0"}
// OVERRIDE: as q6_K outs({{.*}}) {qtensor.weight_name = "wv.1"}
// OVERRIDE: as q5_0 outs({{.*}}) {qtensor.weight_name = "w2.0"}
// OVERRIDE: as q4_K outs({{.*}}) {qtensor.weight_name = "wo.0"}
// OVERRIDE: as f16 outs({{.*}}) {qtensor.weight_name = "wcls"} : tensor<1x256xf32>, tensor<2x512xi8>
// OVERRIDE-REMARK: remark: quant-gguf: weight 'w2.0': row length 64 is not a multiple of the 256-element blocks of q4_K; using q5_0
// OVERRIDE-REMARK: remark: quant-gguf: weight 'w2.0': tensor-type 'ffn_down=q8_0' is not applied to a tensor that needed a fallback
// With a mix, an entry replaces the mix's choice (attn_v would be q6_K in
// layer 0 under Q4_K_M).
// MIX-OVERRIDE-LABEL: func.func @overrides
// MIX-OVERRIDE: as q4_K outs({{.*}}) {qtensor.weight_name = "wq.0"}
// MIX-OVERRIDE: as q5_K outs({{.*}}) {qtensor.weight_name = "wv.0"}
// MIX-OVERRIDE: as q5_K outs({{.*}}) {qtensor.weight_name = "wv.1"}
// MIX-OVERRIDE: as q6_K outs({{.*}}) {qtensor.weight_name = "wcls"}
#x = affine_map<(m, n, k) -> (m, k)>
#w = affine_map<(m, n, k) -> (n, k)>
#y = affine_map<(m, n, k) -> (m, n)>
func.func @overrides(%x: tensor<1x256xf32>, %h: tensor<1x64xf32>) -> (tensor<1x2xf32>, tensor<1x2xf32>, tensor<1x2xf32>, tensor<1x2xf32>, tensor<1x2xf32>, tensor<1x2xf32>) {
  %init = arith.constant dense<0.0> : tensor<1x2xf32>
  %wq = arith.constant dense<0.25> : tensor<2x256xf32> loc("wq.0")
  %q = linalg.matmul indexing_maps = [#x, #w, #y] ins(%x, %wq : tensor<1x256xf32>, tensor<2x256xf32>) outs(%init : tensor<1x2xf32>) -> tensor<1x2xf32>
  %wv0 = arith.constant dense<0.25> : tensor<2x256xf32> loc("wv.0")
  %v0 = linalg.matmul indexing_maps = [#x, #w, #y] ins(%x, %wv0 : tensor<1x256xf32>, tensor<2x256xf32>) outs(%init : tensor<1x2xf32>) -> tensor<1x2xf32>
  %wv1 = arith.constant dense<0.25> : tensor<2x256xf32> loc("wv.1")
  %v1 = linalg.matmul indexing_maps = [#x, #w, #y] ins(%x, %wv1 : tensor<1x256xf32>, tensor<2x256xf32>) outs(%init : tensor<1x2xf32>) -> tensor<1x2xf32>
  %w2 = arith.constant dense<0.25> : tensor<2x64xf32> loc("w2.0")
  %d = linalg.matmul indexing_maps = [#x, #w, #y] ins(%h, %w2 : tensor<1x64xf32>, tensor<2x64xf32>) outs(%init : tensor<1x2xf32>) -> tensor<1x2xf32>
  %wo = arith.constant dense<0.25> : tensor<2x256xf32> loc("wo.0")
  %o = linalg.matmul indexing_maps = [#x, #w, #y] ins(%x, %wo : tensor<1x256xf32>, tensor<2x256xf32>) outs(%init : tensor<1x2xf32>) -> tensor<1x2xf32>
  %wcls = arith.constant dense<0.1> : tensor<2x256xf32> loc("wcls")
  %c = linalg.matmul indexing_maps = [#x, #w, #y] ins(%x, %wcls : tensor<1x256xf32>, tensor<2x256xf32>) outs(%init : tensor<1x2xf32>) -> tensor<1x2xf32>
  return %q, %v0, %v1, %d, %o, %c : tensor<1x2xf32>, tensor<1x2xf32>, tensor<1x2xf32>, tensor<1x2xf32>, tensor<1x2xf32>, tensor<1x2xf32>
}

// -----

// A weight already in ggml's f16 storage (as GGUF import gives F16
// matrices) counts as a float weight: it is quantized like one, keeping
// its name, unless skipped. Bytes 0, 56 are f16 0x3800 = 0.5.
// Q8_0-LABEL: func.func @f16_source
// Q8_0: qtensor.ggml_matmul %arg0, %{{.*}} as q8_0 outs({{.*}}) {qtensor.weight_name = "blk.0.attn_q.weight"} : tensor<1x32xf32>, tensor<2x34xi8>
// Q8_0-NOT: as f16
// SKIP-LABEL: func.func @f16_source
// SKIP: as f16
func.func @f16_source(%x: tensor<1x32xf32>) -> tensor<1x2xf32> {
  %b = arith.constant dense<[[0, 56, 0, 56, 0, 56, 0, 56, 0, 56, 0, 56, 0, 56, 0, 56, 0, 56, 0, 56, 0, 56, 0, 56, 0, 56, 0, 56, 0, 56, 0, 56, 0, 56, 0, 56, 0, 56, 0, 56, 0, 56, 0, 56, 0, 56, 0, 56, 0, 56, 0, 56, 0, 56, 0, 56, 0, 56, 0, 56, 0, 56, 0, 56], [0, 56, 0, 56, 0, 56, 0, 56, 0, 56, 0, 56, 0, 56, 0, 56, 0, 56, 0, 56, 0, 56, 0, 56, 0, 56, 0, 56, 0, 56, 0, 56, 0, 56, 0, 56, 0, 56, 0, 56, 0, 56, 0, 56, 0, 56, 0, 56, 0, 56, 0, 56, 0, 56, 0, 56, 0, 56, 0, 56, 0, 56, 0, 56]]> : tensor<2x64xi8>
  %init = arith.constant dense<0.0> : tensor<1x2xf32>
  %y = qtensor.ggml_matmul %x, %b as f16 outs(%init : tensor<1x2xf32>) {qtensor.weight_name = "blk.0.attn_q.weight"} : tensor<1x32xf32>, tensor<2x64xi8> -> tensor<1x2xf32>
  return %y : tensor<1x2xf32>
}

// -----

// Weights already in ggml blocks are not requantized (llama-quantize needs
// --allow-requantize for that); a remark names them.
// REMARK: remark: quant-gguf: weight 'blk.0.attn_k.weight' is already in q8_0 blocks and is left as it is
// Q4_K-LABEL: func.func @already_quantized
// Q4_K: qtensor.ggml_matmul %arg0, %{{.*}} as q8_0
func.func @already_quantized(%x: tensor<1x32xf32>) -> tensor<1x1xf32> {
  %b = arith.constant dense<1> : tensor<1x34xi8>
  %init = arith.constant dense<0.0> : tensor<1x1xf32>
  %y = qtensor.ggml_matmul %x, %b as q8_0 outs(%init : tensor<1x1xf32>) {qtensor.weight_name = "blk.0.attn_k.weight"} : tensor<1x32xf32>, tensor<1x34xi8> -> tensor<1x1xf32>
  return %y : tensor<1x1xf32>
}

// -----

// --- imatrix ---
// One linear layer with the weights and calibration activations of
// gptq-quantize.mlir (channel 5 dead, outliers in channels 3, 14, 25).
// IMATRIX: qtensor.ggml_matmul %arg0, %{{.*}} as q4_0 outs(%{{.*}} : tensor<64x16xf32>) {qtensor.weight_name = "fc.weight"} : tensor<64x32xf32>, tensor<16x18xi8> -> tensor<64x16xf32>
func.func @linear(%x: tensor<64x32xf32>) -> tensor<64x16xf32> {
  %w = arith.constant dense<[[-1.964767e-01, 1.084934e-01, 1.304478e-01, -2.334345e-02, 1.748779e-01, -6.452764e-03, -2.391547e-03, 1.140467e-01, 1.243540e-03, -4.542737e-02, -3.586670e-02, -1.718514e-01, -7.811126e-03, -1.998454e-03, 1.218845e-01, 6.440087e-02, -7.457023e-02, 8.062658e-02, 2.931696e-02, 1.566125e-01, 9.036202e-02, -1.036502e-02, 1.043734e-01, -3.730545e-02, -9.591484e-02, 2.421035e-02, 5.568541e-02, 1.045524e-01, -2.909074e-03, 5.805529e-03, 7.251462e-02, -7.248528e-03], [1.610346e-01, -1.485868e-01, -1.266218e-01, -2.757975e-02, 1.108018e-01, -9.185971e-03, -1.354752e-01, 7.765745e-02, -1.124419e-01, 1.283083e-01, 9.046283e-02, 1.505366e-01, 1.253993e-01, 1.095283e-01, 7.156248e-02, -3.096064e-02, -1.011066e-02, 1.410759e-03, 1.978427e-02, -5.376260e-02, -7.305887e-02, 1.419967e-01, -1.170955e-01, 1.079887e-01, 2.036081e-01, -1.016742e-01, 1.390830e-01, -1.140084e-02, 1.466123e-01, -5.615626e-02, 1.295707e-01, -6.870622e-02], [-1.307991e-01, 1.769805e-01, -8.331625e-02, -1.270741e-01, 3.499090e-03, -3.137315e-02, 1.191083e-01, -8.650475e-02, -4.358603e-02, 7.912645e-02, -7.191613e-02, 1.034633e-01, 1.075263e-01, 1.986133e-01, 2.100981e-01, -7.227960e-02, -7.155944e-02, -9.132881e-02, -1.672843e-03, -1.257521e-02, -2.166568e-02, -1.148415e-01, 1.300553e-01, -1.482302e-01, -5.376299e-02, 8.003467e-02, 6.272976e-02, -2.070087e-02, 9.518369e-02, -3.301447e-02, 1.982033e-01, 1.048395e-01], [-7.487124e-02, 8.579858e-02, -2.189525e-02, 3.851613e-02, 1.223585e-01, -8.253111e-02, 1.405502e-01, -2.666308e-02, 1.094123e-01, 4.428288e-02, -5.512188e-02, -1.358856e-01, -1.224185e-01, 2.972894e-02, -1.087277e-01, -4.945540e-02, -2.463963e-02, -6.411520e-02, -4.470118e-02, 6.071701e-02, 1.118968e-01, 4.668209e-02, 6.452443e-02, 5.343700e-02, -4.386634e-02, 1.854320e-02, -1.690496e-01, 8.108277e-03, -4.276302e-02, 1.237544e-01, -1.857959e-01, -1.070018e-01], [2.279256e-01, 7.349469e-02, 1.382799e-01, -7.886936e-02, -1.453807e-01, 4.824338e-02, 1.602489e-02, 5.443034e-02, 1.546659e-01, 8.543063e-02, -1.547410e-01, -5.101822e-02, -2.206513e-01, 5.470084e-02, -4.652482e-02, -1.270793e-01, 3.594882e-02, -1.105429e-01, 1.008260e-01, 7.170967e-02, 2.234641e-01, -7.527247e-02, 9.545152e-02, -4.509908e-02, -1.203866e-01, 1.858243e-01, -1.061408e-01, 1.650648e-01, -3.554037e-02, 7.245181e-02, -4.269811e-02, -7.731640e-02], [-9.003220e-02, -4.173453e-02, 2.460757e-02, 1.401437e-01, -7.936544e-02, 2.848806e-03, -2.693745e-02, -8.430482e-03, -1.023060e-01, -1.380528e-01, -4.688571e-02, -3.225475e-03, 2.404995e-01, 1.498397e-01, -4.049968e-02, -1.294912e-01, -1.709617e-01, 9.432952e-02, 1.203859e-01, 2.076781e-01, -2.626195e-02, 3.894065e-02, -3.427063e-02, 1.424782e-01, 9.285856e-02, -7.745126e-02, 1.691067e-02, -9.992433e-02, 1.112187e-02, -1.415500e-01, 1.962775e-02, 1.192659e-01], [1.263996e-01, -1.239153e-01, 5.108059e-03, -1.335206e-01, 1.091778e-01, 4.071324e-02, -1.134841e-01, -9.134674e-02, 5.592575e-02, -1.698674e-01, 6.879475e-03, 3.618897e-02, -6.599920e-02, -2.654883e-02, 9.039339e-03, 5.778280e-02, -1.248724e-01, -5.618160e-02, 8.009185e-02, -2.611064e-01, 9.804291e-02, 1.337458e-01, 1.896902e-01, -2.359741e-01, -4.591429e-02, -6.474849e-02, 1.451267e-01, 6.673570e-02, 1.024393e-01, 7.350971e-02, -1.523957e-01, 4.200511e-02], [-2.177826e-01, 4.418990e-02, 2.012256e-02, -1.804122e-02, 2.385261e-02, 7.148880e-02, -7.816230e-02, 3.585355e-02, 1.456147e-01, 3.957363e-02, 2.306911e-02, -1.451051e-03, -1.297831e-01, 1.428524e-01, -4.123820e-02, 4.024210e-03, -2.982917e-02, -3.555964e-02, -5.898105e-02, -7.042683e-02, 9.323236e-02, 1.365790e-01, 2.421193e-02, -1.155188e-01, -6.618076e-03, 2.220554e-01, 3.123584e-02, -1.958812e-02, -8.191352e-02, 5.301863e-02, -2.392727e-02, 1.284075e-01], [1.086719e-01, 5.141404e-02, 7.527301e-03, 5.387430e-02, 3.156476e-02, -2.337635e-02, 1.329856e-01, -9.270347e-03, -5.347589e-02, -1.677663e-01, -2.148642e-02, -1.533701e-01, 7.627209e-02, -8.060800e-02, -9.152379e-02, -2.264389e-01, 2.761355e-02, -3.029169e-02, 6.999575e-02, -9.280057e-02, 1.022881e-01, 7.385810e-02, 1.639582e-01, -4.548851e-02, 1.129208e-01, -8.159720e-02, 1.054949e-02, -2.358641e-02, 1.389685e-01, 4.367777e-02, 1.960426e-01, 4.001376e-02], [1.796224e-02, -6.510027e-03, 2.750042e-02, -7.158738e-02, -1.065063e-01, -5.302233e-02, -3.580018e-02, -5.092597e-02, 2.188044e-01, -1.745597e-02, -2.900098e-02, 1.263978e-01, 9.073398e-02, -7.223670e-02, 8.610306e-02, 1.020416e-01, -8.248600e-02, -1.309534e-02, 7.201031e-02, 9.125161e-02, -7.360326e-02, 1.205223e-01, 5.542605e-02, -9.071315e-02, -2.343968e-02, 1.841946e-01, 3.989378e-02, -1.885411e-01, -1.236527e-01, 1.516467e-01, -4.905673e-03, 1.736746e-02], [-1.162699e-01, 1.543861e-01, -1.111481e-02, -6.000804e-02, -1.200089e-02, 3.013728e-01, 3.256556e-03, 3.767978e-02, -1.430451e-01, -6.270123e-02, -1.859279e-01, 9.588096e-02, -6.788483e-02, -4.466081e-02, 1.272876e-02, 3.653619e-02, 2.062511e-01, 2.550789e-03, 1.058247e-01, -7.119340e-02, -9.919235e-02, -7.117428e-02, -5.701672e-03, 2.596759e-02, 1.057550e-01, 9.223910e-02, -5.625273e-02, 2.968162e-02, 1.081476e-01, -1.335324e-01, -6.736499e-02, -1.270667e-01], [6.087894e-02, -2.281806e-03, -8.703903e-02, 5.098758e-02, -3.562067e-02, 9.869541e-02, -1.953675e-02, 3.307847e-02, -1.388716e-01, 4.531402e-02, -3.786071e-02, -1.691772e-01, -1.811110e-01, -9.735728e-02, 7.836154e-02, -2.118806e-01, 1.175875e-01, -1.739308e-02, 2.340267e-02, 7.538784e-02, -7.910427e-02, -2.847900e-03, -1.452759e-02, -5.890350e-02, 8.557782e-02, 1.226487e-02, 7.557236e-02, 8.597254e-02, 4.008379e-02, 7.733165e-02, -1.123838e-01, -1.309063e-01], [1.452866e-01, -3.781830e-02, 6.514164e-02, 1.097569e-01, 3.676278e-02, 8.077034e-02, -1.213617e-01, -1.314149e-01, -1.157524e-01, -6.080448e-02, -2.604759e-01, -4.034296e-02, -1.851956e-01, 9.965940e-02, 4.325042e-02, 4.861388e-02, -1.937040e-01, -3.922973e-02, 1.454766e-01, -7.130912e-02, 8.577458e-02, -8.873978e-02, -1.533183e-02, 2.646974e-01, 6.704378e-02, 1.315586e-01, -4.865399e-03, -1.534632e-01, -1.452150e-01, 8.296655e-02, 3.004282e-02, 1.455503e-01], [-4.761308e-02, 3.558794e-02, -6.954272e-02, 6.648479e-02, -2.082138e-01, 3.754326e-03, -8.868577e-02, -1.294886e-02, 1.014617e-01, 3.873408e-02, 6.268910e-02, -7.936745e-02, -2.671890e-01, -1.125897e-01, 2.617417e-02, -1.169188e-01, 3.710374e-02, -1.841744e-01, -1.568137e-02, 1.332168e-01, 5.027093e-02, -8.495364e-02, 6.790911e-02, -1.331532e-02, -6.240514e-02, 1.124853e-01, 3.798316e-02, -1.959697e-01, -6.410343e-02, 1.542762e-01, -1.152495e-02, 1.979883e-01], [7.535820e-02, 9.486248e-02, -1.665302e-01, -4.773596e-02, 1.508435e-01, 1.373116e-01, 1.962198e-02, -6.636469e-02, -8.977603e-02, -2.722581e-02, -1.068716e-02, -9.806726e-02, -9.736053e-02, 5.667638e-02, 1.267487e-01, 4.147577e-02, 1.166770e-02, 1.365958e-01, -1.201712e-01, -1.625929e-02, -3.972319e-02, -5.237128e-02, -9.595464e-02, 1.000303e-01, 5.914340e-02, -2.317952e-02, 1.531705e-01, -1.493935e-01, -1.874424e-02, -9.364426e-02, 1.676901e-01, -1.796563e-02], [3.117033e-02, -3.536025e-02, 1.099225e-01, 5.479693e-02, 4.862876e-02, 1.571453e-02, 8.592536e-02, 5.134278e-02, 6.213235e-02, -1.427687e-01, 1.220705e-01, 1.091246e-01, 6.947029e-02, -2.807069e-02, 4.412271e-03, -1.068687e-01, -4.776147e-02, 2.004208e-01, -1.128749e-02, -5.471607e-02, 2.983989e-02, -1.154978e-02, -1.056782e-01, 4.984371e-02, -4.246037e-02, 6.495806e-03, 1.197067e-01, 2.764625e-02, 1.352929e-01, 5.483146e-02, -6.574129e-02, -7.527651e-02]]> : tensor<16x32xf32> loc("fc.weight")
  %init = arith.constant dense<0.0> : tensor<64x16xf32>
  %y = linalg.matmul indexing_maps = [affine_map<(m, n, k) -> (m, k)>,
                                      affine_map<(m, n, k) -> (n, k)>,
                                      affine_map<(m, n, k) -> (m, n)>]
         ins(%x, %w : tensor<64x32xf32>, tensor<16x32xf32>)
         outs(%init : tensor<64x16xf32>) -> tensor<64x16xf32>
  return %y : tensor<64x16xf32>
}
