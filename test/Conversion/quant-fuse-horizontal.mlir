// RUN: quant-opt %s -split-input-file --quant-fuse-horizontal | FileCheck %s

// q, k and v: one product over the weights concatenated along N (codes,
// scales and zero-points row after row), then a slice per product.
// CHECK-LABEL: func.func @qkv
// CHECK-DAG: %[[Q:.*]] = arith.constant dense_resource<fused{{.*}}> : tensor<5x2xi8>
// CHECK-DAG: %[[S:.*]] = arith.constant dense_resource<fused{{.*}}> : tensor<5x1xf32>
// CHECK-DAG: %[[Z:.*]] = arith.constant dense_resource<fused{{.*}}> : tensor<5x1xi8>
// CHECK: %[[INIT:.*]] = linalg.fill ins(%{{.*}} : f32) outs(%{{.*}} : tensor<2x5xf32>)
// CHECK: %[[Y:.*]] = qtensor.dequant_matmul %arg0, %[[Q]] scales(%[[S]] : tensor<5x1xf32>) zero_points(%[[Z]] : tensor<5x1xi8>) layout <ui4, block = [1, 0], packing = lsb_first> outs(%[[INIT]] : tensor<2x5xf32>)
// CHECK-NOT: qtensor.weight_name
// CHECK: %[[A:.*]] = tensor.extract_slice %[[Y]][0, 0] [2, 2] [1, 1]
// CHECK: %[[B:.*]] = tensor.extract_slice %[[Y]][0, 2] [2, 1] [1, 1]
// CHECK: %[[C:.*]] = tensor.extract_slice %[[Y]][0, 3] [2, 2] [1, 1]
// CHECK-NOT: qtensor.dequant_matmul
// CHECK: return %[[A]], %[[B]], %[[C]]
// The fused constants hold the rows in order.
// CHECK: fused{{.*}}: "0x{{[0-9A-F]+}}0102030405060708090A"
func.func @qkv(%x: tensor<2x4xf32>) -> (tensor<2x2xf32>, tensor<2x1xf32>, tensor<2x2xf32>) {
  %zero = arith.constant 0.0 : f32
  %e2 = tensor.empty() : tensor<2x2xf32>
  %i2 = linalg.fill ins(%zero : f32) outs(%e2 : tensor<2x2xf32>) -> tensor<2x2xf32>
  %e1 = tensor.empty() : tensor<2x1xf32>
  %i1 = linalg.fill ins(%zero : f32) outs(%e1 : tensor<2x1xf32>) -> tensor<2x1xf32>
  %qa = arith.constant dense<[[1, 2], [3, 4]]> : tensor<2x2xi8>
  %qb = arith.constant dense<[[5, 6]]> : tensor<1x2xi8>
  %qc = arith.constant dense<[[7, 8], [9, 10]]> : tensor<2x2xi8>
  %sa = arith.constant dense<[[1.0], [2.0]]> : tensor<2x1xf32>
  %sb = arith.constant dense<[[3.0]]> : tensor<1x1xf32>
  %sc = arith.constant dense<0.5> : tensor<2x1xf32>
  %z = arith.constant dense<8> : tensor<2x1xi8>
  %zb = arith.constant dense<7> : tensor<1x1xi8>
  %a = qtensor.dequant_matmul %x, %qa scales(%sa : tensor<2x1xf32>) zero_points(%z : tensor<2x1xi8>) layout <ui4, block = [1, 0], packing = lsb_first> outs(%i2 : tensor<2x2xf32>) {qtensor.weight_name = "wq"} : tensor<2x4xf32>, tensor<2x2xi8> -> tensor<2x2xf32>
  %b = qtensor.dequant_matmul %x, %qb scales(%sb : tensor<1x1xf32>) zero_points(%zb : tensor<1x1xi8>) layout <ui4, block = [1, 0], packing = lsb_first> outs(%i1 : tensor<2x1xf32>) {qtensor.weight_name = "wk"} : tensor<2x4xf32>, tensor<1x2xi8> -> tensor<2x1xf32>
  %c = qtensor.dequant_matmul %x, %qc scales(%sc : tensor<2x1xf32>) zero_points(%z : tensor<2x1xi8>) layout <ui4, block = [1, 0], packing = lsb_first> outs(%i2 : tensor<2x2xf32>) {qtensor.weight_name = "wv"} : tensor<2x4xf32>, tensor<2x2xi8> -> tensor<2x2xf32>
  return %a, %b, %c : tensor<2x2xf32>, tensor<2x1xf32>, tensor<2x2xf32>
}

// -----

// Not fused: different layouts, an act-order group index, inits filled
// with different values, a result that is another product's init.
// CHECK-LABEL: func.func @unfusible
// CHECK-COUNT-6: qtensor.dequant_matmul
// CHECK-NOT: tensor.extract_slice
func.func @unfusible(%x: tensor<2x4xf32>) -> (tensor<2x2xf32>, tensor<2x2xf32>, tensor<2x2xf32>, tensor<2x2xf32>, tensor<2x2xf32>) {
  %zero = arith.constant 0.0 : f32
  %one = arith.constant 1.0 : f32
  %e = tensor.empty() : tensor<2x2xf32>
  %i0 = linalg.fill ins(%zero : f32) outs(%e : tensor<2x2xf32>) -> tensor<2x2xf32>
  %i1 = linalg.fill ins(%one : f32) outs(%e : tensor<2x2xf32>) -> tensor<2x2xf32>
  %q4 = arith.constant dense<1> : tensor<2x2xi8>
  %q8 = arith.constant dense<1> : tensor<2x4xi8>
  %s = arith.constant dense<1.0> : tensor<2x1xf32>
  %sg = arith.constant dense<1.0> : tensor<2x2xf32>
  %g = arith.constant dense<[0, 1, 0, 1]> : tensor<4xi32>
  %a = qtensor.dequant_matmul %x, %q4 scales(%s : tensor<2x1xf32>) layout <si4, block = [1, 0], packing = lsb_first> outs(%i0 : tensor<2x2xf32>) : tensor<2x4xf32>, tensor<2x2xi8> -> tensor<2x2xf32>
  %b = qtensor.dequant_matmul %x, %q8 scales(%s : tensor<2x1xf32>) layout <si8, block = [1, 0]> outs(%i0 : tensor<2x2xf32>) : tensor<2x4xf32>, tensor<2x4xi8> -> tensor<2x2xf32>
  %c = qtensor.dequant_matmul %x, %q4 scales(%sg : tensor<2x2xf32>) group_index(%g : tensor<4xi32>) layout <si4, block = [1, 2], packing = lsb_first> outs(%i0 : tensor<2x2xf32>) : tensor<2x4xf32>, tensor<2x2xi8> -> tensor<2x2xf32>
  %d = qtensor.dequant_matmul %x, %q4 scales(%s : tensor<2x1xf32>) layout <si4, block = [1, 0], packing = lsb_first> outs(%i1 : tensor<2x2xf32>) : tensor<2x4xf32>, tensor<2x2xi8> -> tensor<2x2xf32>
  %y = arith.constant dense<1.0> : tensor<2x4xf32>
  %e0 = qtensor.dequant_matmul %y, %q8 scales(%s : tensor<2x1xf32>) layout <si8, block = [1, 0]> outs(%i0 : tensor<2x2xf32>) : tensor<2x4xf32>, tensor<2x4xi8> -> tensor<2x2xf32>
  %e1 = qtensor.dequant_matmul %y, %q8 scales(%s : tensor<2x1xf32>) layout <si8, block = [1, 0]> outs(%e0 : tensor<2x2xf32>) : tensor<2x4xf32>, tensor<2x4xi8> -> tensor<2x2xf32>
  return %a, %b, %c, %d, %e1 : tensor<2x2xf32>, tensor<2x2xf32>, tensor<2x2xf32>, tensor<2x2xf32>, tensor<2x2xf32>
}

// -----

// ggml blocks of one type, and W8A8 products of the same activation codes.
// CHECK-LABEL: func.func @ggml_and_w8a8
// CHECK: qtensor.ggml_matmul %arg0, %{{.*}} as q8_0 outs(%{{.*}} : tensor<1x64xf32>) : tensor<1x32xf32>, tensor<64x34xi8> -> tensor<1x64xf32>
// CHECK-COUNT-2: tensor.extract_slice
// CHECK: qtensor.quantized_matmul %arg1, %arg2, %{{.*}}, %{{.*}} outs(%{{.*}} : tensor<1x3xf32>) : tensor<1x4xi8>, tensor<1x1xf32>, tensor<3x4xi8>, tensor<3x1xf32> -> tensor<1x3xf32>
// CHECK-COUNT-2: tensor.extract_slice
func.func @ggml_and_w8a8(%x: tensor<1x32xf32>, %codes: tensor<1x4xi8>, %scales: tensor<1x1xf32>) -> (tensor<1x32xf32>, tensor<1x32xf32>, tensor<1x1xf32>, tensor<1x2xf32>) {
  %zero = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<1x32xf32>
  %i = linalg.fill ins(%zero : f32) outs(%e : tensor<1x32xf32>) -> tensor<1x32xf32>
  %wa = arith.constant dense<1> : tensor<32x34xi8>
  %wb = arith.constant dense<2> : tensor<32x34xi8>
  %a = qtensor.ggml_matmul %x, %wa as q8_0 outs(%i : tensor<1x32xf32>) : tensor<1x32xf32>, tensor<32x34xi8> -> tensor<1x32xf32>
  %b = qtensor.ggml_matmul %x, %wb as q8_0 outs(%i : tensor<1x32xf32>) : tensor<1x32xf32>, tensor<32x34xi8> -> tensor<1x32xf32>
  %e1 = tensor.empty() : tensor<1x1xf32>
  %i1 = linalg.fill ins(%zero : f32) outs(%e1 : tensor<1x1xf32>) -> tensor<1x1xf32>
  %e2 = tensor.empty() : tensor<1x2xf32>
  %i2 = linalg.fill ins(%zero : f32) outs(%e2 : tensor<1x2xf32>) -> tensor<1x2xf32>
  %w1 = arith.constant dense<3> : tensor<1x4xi8>
  %w2 = arith.constant dense<4> : tensor<2x4xi8>
  %s1 = arith.constant dense<0.5> : tensor<1x1xf32>
  %s2 = arith.constant dense<0.25> : tensor<2x1xf32>
  %c = qtensor.quantized_matmul %codes, %scales, %w1, %s1 outs(%i1 : tensor<1x1xf32>) : tensor<1x4xi8>, tensor<1x1xf32>, tensor<1x4xi8>, tensor<1x1xf32> -> tensor<1x1xf32>
  %d = qtensor.quantized_matmul %codes, %scales, %w2, %s2 outs(%i2 : tensor<1x2xf32>) : tensor<1x4xi8>, tensor<1x1xf32>, tensor<2x4xi8>, tensor<2x1xf32> -> tensor<1x2xf32>
  return %a, %b, %c, %d : tensor<1x32xf32>, tensor<1x32xf32>, tensor<1x1xf32>, tensor<1x2xf32>
}
