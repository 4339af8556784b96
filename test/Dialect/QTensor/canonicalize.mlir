// RUN: quant-opt %s -canonicalize="test-convergence" | FileCheck %s

// fake_quant has no folder: a used one survives canonicalization.
// CHECK-LABEL: func.func @fake_quant_kept(
// CHECK-SAME:    %[[X:[^:]+]]: tensor<4x16xf32>, %[[S:[^:]+]]: tensor<4x1xf32>)
// CHECK:         %[[Y:.*]] = qtensor.fake_quant %[[X]] scales(%[[S]] : tensor<4x1xf32>) layout <si8, block = [1, 0]> : tensor<4x16xf32>
// CHECK-NEXT:    return %[[Y]]
func.func @fake_quant_kept(%x: tensor<4x16xf32>, %s: tensor<4x1xf32>) -> tensor<4x16xf32> {
  %y = qtensor.fake_quant %x scales(%s : tensor<4x1xf32>)
         layout <si8, block = [1, 0]> : tensor<4x16xf32>
  return %y : tensor<4x16xf32>
}

// fake_quant of fake_quant with the same parameters is not collapsed.
// CHECK-LABEL: func.func @fake_quant_of_fake_quant(
// CHECK-SAME:    %[[X:[^:]+]]: tensor<4x64xf32>, %[[S:[^:]+]]: tensor<4x2xf32>, %[[Z:[^:]+]]: tensor<4x2xi8>)
// CHECK:         %[[A:.*]] = qtensor.fake_quant %[[X]] scales(%[[S]] : tensor<4x2xf32>) zero_points(%[[Z]] : tensor<4x2xi8>) layout <ui4, block = [1, 32]> : tensor<4x64xf32>
// CHECK-NEXT:    %[[B:.*]] = qtensor.fake_quant %[[A]] scales(%[[S]] : tensor<4x2xf32>) zero_points(%[[Z]] : tensor<4x2xi8>) layout <ui4, block = [1, 32]> : tensor<4x64xf32>
// CHECK-NEXT:    return %[[B]]
func.func @fake_quant_of_fake_quant(%x: tensor<4x64xf32>, %s: tensor<4x2xf32>, %z: tensor<4x2xi8>) -> tensor<4x64xf32> {
  %a = qtensor.fake_quant %x scales(%s : tensor<4x2xf32>)
         zero_points(%z : tensor<4x2xi8>) layout <ui4, block = [1, 32]>
         : tensor<4x64xf32>
  %b = qtensor.fake_quant %a scales(%s : tensor<4x2xf32>)
         zero_points(%z : tensor<4x2xi8>) layout <ui4, block = [1, 32]>
         : tensor<4x64xf32>
  return %b : tensor<4x64xf32>
}

// Constant operands are not constant-folded through fake_quant.
// CHECK-LABEL: func.func @fake_quant_constant_operands(
// CHECK-DAG:     %[[X:.*]] = arith.constant dense<{{\[}}[1.000000e+00, 2.500000e+00], [-3.000000e+00, 4.000000e+00]]> : tensor<2x2xf32>
// CHECK-DAG:     %[[S:.*]] = arith.constant dense<5.000000e-01> : tensor<2x1xf32>
// CHECK-DAG:     %[[Z:.*]] = arith.constant dense<0.000000e+00> : tensor<2x1xf32>
// CHECK:         %[[Y:.*]] = qtensor.fake_quant %[[X]] scales(%[[S]] : tensor<2x1xf32>) zero_points(%[[Z]] : tensor<2x1xf32>) layout <ui8, block = [1, 0]> : tensor<2x2xf32>
// CHECK-NEXT:    return %[[Y]]
func.func @fake_quant_constant_operands() -> tensor<2x2xf32> {
  %x = arith.constant dense<[[1.0, 2.5], [-3.0, 4.0]]> : tensor<2x2xf32>
  %s = arith.constant dense<0.5> : tensor<2x1xf32>
  %z = arith.constant dense<0.0> : tensor<2x1xf32>
  %y = qtensor.fake_quant %x scales(%s : tensor<2x1xf32>)
         zero_points(%z : tensor<2x1xf32>) layout <ui8, block = [1, 0]>
         : tensor<2x2xf32>
  return %y : tensor<2x2xf32>
}

// An unused fake_quant is dead (the op is Pure) and goes away.
// CHECK-LABEL: func.func @fake_quant_unused(
// CHECK-NOT:     qtensor.fake_quant
// CHECK:         return %{{.*}} : tensor<4x16xf32>
func.func @fake_quant_unused(%x: tensor<4x16xf32>, %s: tensor<4x1xf32>) -> tensor<4x16xf32> {
  %y = qtensor.fake_quant %x scales(%s : tensor<4x1xf32>)
         layout <si8, block = [1, 0]> : tensor<4x16xf32>
  return %x : tensor<4x16xf32>
}

// dequantize(quantize(x)) is lossy and must not fold to x.
// CHECK-LABEL: func.func @quantize_dequantize_not_folded(
// CHECK-SAME:    %[[X:[^:]+]]: tensor<8x64xf32>, %[[S:[^:]+]]: tensor<8x2xf32>, %[[Z:[^:]+]]: tensor<8x2xi8>)
// CHECK:         %[[Q:.*]] = qtensor.quantize %[[X]] scales(%[[S]] : tensor<8x2xf32>) zero_points(%[[Z]] : tensor<8x2xi8>) layout <ui4, block = [1, 32], packing = lsb_first> : tensor<8x64xf32> -> tensor<8x32xi8>
// CHECK-NEXT:    %[[W:.*]] = qtensor.dequantize %[[Q]] scales(%[[S]] : tensor<8x2xf32>) zero_points(%[[Z]] : tensor<8x2xi8>) layout <ui4, block = [1, 32], packing = lsb_first> : tensor<8x32xi8> -> tensor<8x64xf32>
// CHECK-NEXT:    return %[[W]] : tensor<8x64xf32>
func.func @quantize_dequantize_not_folded(%x: tensor<8x64xf32>, %s: tensor<8x2xf32>, %z: tensor<8x2xi8>) -> tensor<8x64xf32> {
  %q = qtensor.quantize %x scales(%s : tensor<8x2xf32>)
         zero_points(%z : tensor<8x2xi8>)
         layout <ui4, block = [1, 32], packing = lsb_first>
         : tensor<8x64xf32> -> tensor<8x32xi8>
  %w = qtensor.dequantize %q scales(%s : tensor<8x2xf32>)
         zero_points(%z : tensor<8x2xi8>)
         layout <ui4, block = [1, 32], packing = lsb_first>
         : tensor<8x32xi8> -> tensor<8x64xf32>
  return %w : tensor<8x64xf32>
}

// Same with constant operands: nothing is folded to a constant.
// CHECK-LABEL: func.func @quantize_dequantize_constants(
// CHECK-DAG:     %[[X:.*]] = arith.constant dense<1.000000e+00> : tensor<2x4xf32>
// CHECK-DAG:     %[[S:.*]] = arith.constant dense<2.500000e-01> : tensor<1x1xf32>
// CHECK:         %[[Q:.*]] = qtensor.quantize %[[X]] scales(%[[S]] : tensor<1x1xf32>) layout <si8, block = [0, 0]> : tensor<2x4xf32> -> tensor<2x4xi8>
// CHECK-NEXT:    %[[W:.*]] = qtensor.dequantize %[[Q]] scales(%[[S]] : tensor<1x1xf32>) layout <si8, block = [0, 0]> : tensor<2x4xi8> -> tensor<2x4xf32>
// CHECK-NEXT:    return %[[W]]
func.func @quantize_dequantize_constants() -> tensor<2x4xf32> {
  %x = arith.constant dense<1.0> : tensor<2x4xf32>
  %s = arith.constant dense<0.25> : tensor<1x1xf32>
  %q = qtensor.quantize %x scales(%s : tensor<1x1xf32>)
         layout <si8, block = [0, 0]> : tensor<2x4xf32> -> tensor<2x4xi8>
  %w = qtensor.dequantize %q scales(%s : tensor<1x1xf32>)
         layout <si8, block = [0, 0]> : tensor<2x4xi8> -> tensor<2x4xf32>
  return %w : tensor<2x4xf32>
}

// A used dynamic_quantize stays even if only one of its results is used.
// CHECK-LABEL: func.func @dynamic_quantize_partly_used(
// CHECK:         %[[C:[^,]+]], %{{.*}} = qtensor.dynamic_quantize %{{.*}} : tensor<4x64xf32> -> tensor<4x64xi8>, tensor<4x1xf32>
// CHECK-NEXT:    return %[[C]]
func.func @dynamic_quantize_partly_used(%x: tensor<4x64xf32>) -> tensor<4x64xi8> {
  %c, %s = qtensor.dynamic_quantize %x
             : tensor<4x64xf32> -> tensor<4x64xi8>, tensor<4x1xf32>
  return %c : tensor<4x64xi8>
}

// Every qtensor op is Pure: unused ones, including a whole dead
// double-quantization chain, are erased.
// CHECK-LABEL: func.func @unused_ops_erased(
// CHECK-NOT:     qtensor.
// CHECK:         return
// CHECK-NEXT:  }
func.func @unused_ops_erased(%x: tensor<4x64xf32>, %q: tensor<8x32xi8>, %sq: tensor<8x2xi8>, %ss: tensor<1x1xf32>, %init: tensor<4x8xf32>) {
  %0 = qtensor.quantize %x scales(%ss : tensor<1x1xf32>)
         layout <si8, block = [0, 0]> : tensor<4x64xf32> -> tensor<4x64xi8>
  %s = qtensor.dequantize %sq scales(%ss : tensor<1x1xf32>)
         layout <ui8, block = [0, 0]> : tensor<8x2xi8> -> tensor<8x2xf32>
  %1 = qtensor.dequantize %q scales(%s : tensor<8x2xf32>)
         layout <nf4, block = [1, 32], packing = msb_first>
         : tensor<8x32xi8> -> tensor<8x64xf32>
  %2 = qtensor.dequant_matmul %x, %q scales(%s : tensor<8x2xf32>)
         layout <nf4, block = [1, 32], packing = msb_first>
         outs(%init : tensor<4x8xf32>)
         : tensor<4x64xf32>, tensor<8x32xi8> -> tensor<4x8xf32>
  %3 = qtensor.fake_quant %x scales(%ss : tensor<1x1xf32>)
         layout <si8, block = [0, 0]> : tensor<4x64xf32>
  %4:2 = qtensor.dynamic_quantize %x {bits = 4 : i32}
           : tensor<4x64xf32> -> tensor<4x64xi8>, tensor<4x1xf32>
  return
}

// Only the dead part of a chain is erased: the used dequant_matmul keeps its
// double-quantized scales.
// CHECK-LABEL: func.func @dead_and_live(
// CHECK-SAME:    %[[X:[^:]+]]: tensor<4x64xf32>, %[[Q:[^:]+]]: tensor<8x32xi8>, %[[SQ:[^:]+]]: tensor<8x2xi8>, %[[SS:[^:]+]]: tensor<1x1xf32>, %[[I:[^:]+]]: tensor<4x8xf32>)
// CHECK-NEXT:    %[[S:.*]] = qtensor.dequantize %[[SQ]] scales(%[[SS]] : tensor<1x1xf32>) layout <ui8, block = [0, 0]> : tensor<8x2xi8> -> tensor<8x2xf32>
// CHECK-NEXT:    %[[Y:.*]] = qtensor.dequant_matmul %[[X]], %[[Q]] scales(%[[S]] : tensor<8x2xf32>) layout <nf4, block = [1, 32], packing = msb_first> outs(%[[I]] : tensor<4x8xf32>) : tensor<4x64xf32>, tensor<8x32xi8> -> tensor<4x8xf32>
// CHECK-NEXT:    return %[[Y]]
func.func @dead_and_live(%x: tensor<4x64xf32>, %q: tensor<8x32xi8>, %sq: tensor<8x2xi8>, %ss: tensor<1x1xf32>, %init: tensor<4x8xf32>) -> tensor<4x8xf32> {
  %s = qtensor.dequantize %sq scales(%ss : tensor<1x1xf32>)
         layout <ui8, block = [0, 0]> : tensor<8x2xi8> -> tensor<8x2xf32>
  %w = qtensor.dequantize %q scales(%s : tensor<8x2xf32>)
         layout <nf4, block = [1, 32], packing = msb_first>
         : tensor<8x32xi8> -> tensor<8x64xf32>
  %y = qtensor.dequant_matmul %x, %q scales(%s : tensor<8x2xf32>)
         layout <nf4, block = [1, 32], packing = msb_first>
         outs(%init : tensor<4x8xf32>)
         : tensor<4x64xf32>, tensor<8x32xi8> -> tensor<4x8xf32>
  return %y : tensor<4x8xf32>
}
