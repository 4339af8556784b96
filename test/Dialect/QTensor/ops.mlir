// RUN: quant-opt %s | quant-opt | FileCheck %s
// RUN: quant-opt %s --verify-roundtrip | FileCheck %s
// RUN: quant-opt %s -mlir-print-op-generic | quant-opt | FileCheck %s

//===----------------------------------------------------------------------===//
// qtensor.quantize
//===----------------------------------------------------------------------===//

// CHECK-LABEL: func.func @quantize_per_tensor(
// CHECK-SAME:    %[[X:[^:]+]]: tensor<4x16xf32>, %[[S:[^:]+]]: tensor<1x1xf32>)
// CHECK:         %[[Q:.*]] = qtensor.quantize %[[X]] scales(%[[S]] : tensor<1x1xf32>) layout <si8, block = [0, 0]> : tensor<4x16xf32> -> tensor<4x16xi8>
// CHECK:         return %[[Q]] : tensor<4x16xi8>
func.func @quantize_per_tensor(%x: tensor<4x16xf32>, %s: tensor<1x1xf32>) -> tensor<4x16xi8> {
  %q = qtensor.quantize %x scales(%s : tensor<1x1xf32>)
         layout <si8, block = [0, 0]> : tensor<4x16xf32> -> tensor<4x16xi8>
  return %q : tensor<4x16xi8>
}

// f16 scales, one per output channel; an explicit `packing = none` is elided.
// CHECK-LABEL: func.func @quantize_per_channel_f16_scales(
// CHECK-SAME:    %[[X:[^:]+]]: tensor<8x64xf16>, %[[S:[^:]+]]: tensor<8x1xf16>)
// CHECK:         qtensor.quantize %[[X]] scales(%[[S]] : tensor<8x1xf16>) layout <si4, block = [1, 0]> : tensor<8x64xf16> -> tensor<8x64xi8>
func.func @quantize_per_channel_f16_scales(%x: tensor<8x64xf16>, %s: tensor<8x1xf16>) -> tensor<8x64xi8> {
  %q = qtensor.quantize %x scales(%s : tensor<8x1xf16>)
         layout <si4, block = [1, 0], packing = none>
         : tensor<8x64xf16> -> tensor<8x64xi8>
  return %q : tensor<8x64xi8>
}

// K = 172 in groups of 32: 6 groups, the last of 12 elements; 86 packed bytes.
// CHECK-LABEL: func.func @quantize_ragged_groups(
// CHECK-SAME:    %[[X:[^:]+]]: tensor<8x172xf32>, %[[S:[^:]+]]: tensor<8x6xf32>, %[[Z:[^:]+]]: tensor<8x6xi8>)
// CHECK:         qtensor.quantize %[[X]] scales(%[[S]] : tensor<8x6xf32>) zero_points(%[[Z]] : tensor<8x6xi8>) layout <ui4, block = [1, 32], packing = lsb_first> : tensor<8x172xf32> -> tensor<8x86xi8>
func.func @quantize_ragged_groups(%x: tensor<8x172xf32>, %s: tensor<8x6xf32>, %z: tensor<8x6xi8>) -> tensor<8x86xi8> {
  %q = qtensor.quantize %x scales(%s : tensor<8x6xf32>)
         zero_points(%z : tensor<8x6xi8>)
         layout <ui4, block = [1, 32], packing = lsb_first>
         : tensor<8x172xf32> -> tensor<8x86xi8>
  return %q : tensor<8x86xi8>
}

// bf16 input and scales with float zero-points.
// CHECK-LABEL: func.func @quantize_float_zero_points(
// CHECK-SAME:    %[[X:[^:]+]]: tensor<4x64xbf16>, %[[S:[^:]+]]: tensor<4x2xbf16>, %[[Z:[^:]+]]: tensor<4x2xf32>)
// CHECK:         qtensor.quantize %[[X]] scales(%[[S]] : tensor<4x2xbf16>) zero_points(%[[Z]] : tensor<4x2xf32>) layout <ui8, block = [1, 32]> : tensor<4x64xbf16> -> tensor<4x64xi8>
func.func @quantize_float_zero_points(%x: tensor<4x64xbf16>, %s: tensor<4x2xbf16>, %z: tensor<4x2xf32>) -> tensor<4x64xi8> {
  %q = qtensor.quantize %x scales(%s : tensor<4x2xbf16>)
         zero_points(%z : tensor<4x2xf32>) layout <ui8, block = [1, 32]>
         : tensor<4x64xbf16> -> tensor<4x64xi8>
  return %q : tensor<4x64xi8>
}

// Dynamic extents: a group-wise dimension of unknown size has `?` groups.
// CHECK-LABEL: func.func @quantize_dynamic(
// CHECK:         qtensor.quantize %{{.*}} scales(%{{.*}} : tensor<?x2xf32>) layout <si4, block = [1, 32], packing = lsb_first> : tensor<?x64xf32> -> tensor<?x32xi8>
func.func @quantize_dynamic(%x: tensor<?x64xf32>, %s: tensor<?x2xf32>) -> tensor<?x32xi8> {
  %q = qtensor.quantize %x scales(%s : tensor<?x2xf32>)
         layout <si4, block = [1, 32], packing = lsb_first>
         : tensor<?x64xf32> -> tensor<?x32xi8>
  return %q : tensor<?x32xi8>
}

//===----------------------------------------------------------------------===//
// Element formats and packings
//===----------------------------------------------------------------------===//

// CHECK-LABEL: func.func @formats_unpacked(
// CHECK:         layout <si2, block = [1, 0]> : tensor<4x10xf32> -> tensor<4x10xi8>
// CHECK:         layout <si3, block = [1, 0]> : tensor<4x10xf32> -> tensor<4x10xi8>
// CHECK:         layout <si4, block = [1, 0]> : tensor<4x10xf32> -> tensor<4x10xi8>
// CHECK:         layout <si5, block = [1, 0]> : tensor<4x10xf32> -> tensor<4x10xi8>
// CHECK:         layout <si6, block = [1, 0]> : tensor<4x10xf32> -> tensor<4x10xi8>
// CHECK:         layout <si7, block = [1, 0]> : tensor<4x10xf32> -> tensor<4x10xi8>
// CHECK:         layout <si8, block = [1, 0]> : tensor<4x10xf32> -> tensor<4x10xi8>
// CHECK:         layout <ui2, block = [1, 0]> : tensor<4x10xf32> -> tensor<4x10xi8>
// CHECK:         layout <ui3, block = [1, 0]> : tensor<4x10xf32> -> tensor<4x10xi8>
// CHECK:         layout <ui4, block = [1, 0]> : tensor<4x10xf32> -> tensor<4x10xi8>
// CHECK:         layout <ui5, block = [1, 0]> : tensor<4x10xf32> -> tensor<4x10xi8>
// CHECK:         layout <ui6, block = [1, 0]> : tensor<4x10xf32> -> tensor<4x10xi8>
// CHECK:         layout <ui7, block = [1, 0]> : tensor<4x10xf32> -> tensor<4x10xi8>
// CHECK:         layout <ui8, block = [1, 0]> : tensor<4x10xf32> -> tensor<4x10xi8>
// CHECK:         layout <nf4, block = [1, 0]> : tensor<4x10xf32> -> tensor<4x10xi8>
// CHECK:         layout <fp4, block = [1, 0]> : tensor<4x10xf32> -> tensor<4x10xi8>
// CHECK:         layout <f8E4M3FN, block = [1, 0]> : tensor<4x10xf32> -> tensor<4x10xi8>
// CHECK:         layout <f8E5M2, block = [1, 0]> : tensor<4x10xf32> -> tensor<4x10xi8>
func.func @formats_unpacked(%x: tensor<4x10xf32>, %s: tensor<4x1xf32>) {
  %0 = qtensor.quantize %x scales(%s : tensor<4x1xf32>) layout <si2, block = [1, 0]> : tensor<4x10xf32> -> tensor<4x10xi8>
  %1 = qtensor.quantize %x scales(%s : tensor<4x1xf32>) layout <si3, block = [1, 0]> : tensor<4x10xf32> -> tensor<4x10xi8>
  %2 = qtensor.quantize %x scales(%s : tensor<4x1xf32>) layout <si4, block = [1, 0]> : tensor<4x10xf32> -> tensor<4x10xi8>
  %3 = qtensor.quantize %x scales(%s : tensor<4x1xf32>) layout <si5, block = [1, 0]> : tensor<4x10xf32> -> tensor<4x10xi8>
  %4 = qtensor.quantize %x scales(%s : tensor<4x1xf32>) layout <si6, block = [1, 0]> : tensor<4x10xf32> -> tensor<4x10xi8>
  %5 = qtensor.quantize %x scales(%s : tensor<4x1xf32>) layout <si7, block = [1, 0]> : tensor<4x10xf32> -> tensor<4x10xi8>
  %6 = qtensor.quantize %x scales(%s : tensor<4x1xf32>) layout <si8, block = [1, 0]> : tensor<4x10xf32> -> tensor<4x10xi8>
  %7 = qtensor.quantize %x scales(%s : tensor<4x1xf32>) layout <ui2, block = [1, 0]> : tensor<4x10xf32> -> tensor<4x10xi8>
  %8 = qtensor.quantize %x scales(%s : tensor<4x1xf32>) layout <ui3, block = [1, 0]> : tensor<4x10xf32> -> tensor<4x10xi8>
  %9 = qtensor.quantize %x scales(%s : tensor<4x1xf32>) layout <ui4, block = [1, 0]> : tensor<4x10xf32> -> tensor<4x10xi8>
  %10 = qtensor.quantize %x scales(%s : tensor<4x1xf32>) layout <ui5, block = [1, 0]> : tensor<4x10xf32> -> tensor<4x10xi8>
  %11 = qtensor.quantize %x scales(%s : tensor<4x1xf32>) layout <ui6, block = [1, 0]> : tensor<4x10xf32> -> tensor<4x10xi8>
  %12 = qtensor.quantize %x scales(%s : tensor<4x1xf32>) layout <ui7, block = [1, 0]> : tensor<4x10xf32> -> tensor<4x10xi8>
  %13 = qtensor.quantize %x scales(%s : tensor<4x1xf32>) layout <ui8, block = [1, 0]> : tensor<4x10xf32> -> tensor<4x10xi8>
  %14 = qtensor.quantize %x scales(%s : tensor<4x1xf32>) layout <nf4, block = [1, 0]> : tensor<4x10xf32> -> tensor<4x10xi8>
  %15 = qtensor.quantize %x scales(%s : tensor<4x1xf32>) layout <fp4, block = [1, 0]> : tensor<4x10xf32> -> tensor<4x10xi8>
  %16 = qtensor.quantize %x scales(%s : tensor<4x1xf32>) layout <f8E4M3FN, block = [1, 0]> : tensor<4x10xf32> -> tensor<4x10xi8>
  %17 = qtensor.quantize %x scales(%s : tensor<4x1xf32>) layout <f8E5M2, block = [1, 0]> : tensor<4x10xf32> -> tensor<4x10xi8>
  return
}

// 10 codes per row pack into ceil(10 * bits / 8) bytes.
// CHECK-LABEL: func.func @formats_lsb_first(
// CHECK:         layout <si2, block = [1, 0], packing = lsb_first> : tensor<4x10xf32> -> tensor<4x3xi8>
// CHECK:         layout <si3, block = [1, 0], packing = lsb_first> : tensor<4x10xf32> -> tensor<4x4xi8>
// CHECK:         layout <si4, block = [1, 0], packing = lsb_first> : tensor<4x10xf32> -> tensor<4x5xi8>
// CHECK:         layout <si5, block = [1, 0], packing = lsb_first> : tensor<4x10xf32> -> tensor<4x7xi8>
// CHECK:         layout <si6, block = [1, 0], packing = lsb_first> : tensor<4x10xf32> -> tensor<4x8xi8>
// CHECK:         layout <si7, block = [1, 0], packing = lsb_first> : tensor<4x10xf32> -> tensor<4x9xi8>
// CHECK:         layout <ui2, block = [1, 0], packing = lsb_first> : tensor<4x10xf32> -> tensor<4x3xi8>
// CHECK:         layout <ui3, block = [1, 0], packing = lsb_first> : tensor<4x10xf32> -> tensor<4x4xi8>
// CHECK:         layout <ui4, block = [1, 0], packing = lsb_first> : tensor<4x10xf32> -> tensor<4x5xi8>
// CHECK:         layout <ui5, block = [1, 0], packing = lsb_first> : tensor<4x10xf32> -> tensor<4x7xi8>
// CHECK:         layout <ui6, block = [1, 0], packing = lsb_first> : tensor<4x10xf32> -> tensor<4x8xi8>
// CHECK:         layout <ui7, block = [1, 0], packing = lsb_first> : tensor<4x10xf32> -> tensor<4x9xi8>
// CHECK:         layout <nf4, block = [1, 0], packing = lsb_first> : tensor<4x10xf32> -> tensor<4x5xi8>
// CHECK:         layout <fp4, block = [1, 0], packing = lsb_first> : tensor<4x10xf32> -> tensor<4x5xi8>
func.func @formats_lsb_first(%x: tensor<4x10xf32>, %s: tensor<4x1xf32>) {
  %0 = qtensor.quantize %x scales(%s : tensor<4x1xf32>) layout <si2, block = [1, 0], packing = lsb_first> : tensor<4x10xf32> -> tensor<4x3xi8>
  %1 = qtensor.quantize %x scales(%s : tensor<4x1xf32>) layout <si3, block = [1, 0], packing = lsb_first> : tensor<4x10xf32> -> tensor<4x4xi8>
  %2 = qtensor.quantize %x scales(%s : tensor<4x1xf32>) layout <si4, block = [1, 0], packing = lsb_first> : tensor<4x10xf32> -> tensor<4x5xi8>
  %3 = qtensor.quantize %x scales(%s : tensor<4x1xf32>) layout <si5, block = [1, 0], packing = lsb_first> : tensor<4x10xf32> -> tensor<4x7xi8>
  %4 = qtensor.quantize %x scales(%s : tensor<4x1xf32>) layout <si6, block = [1, 0], packing = lsb_first> : tensor<4x10xf32> -> tensor<4x8xi8>
  %5 = qtensor.quantize %x scales(%s : tensor<4x1xf32>) layout <si7, block = [1, 0], packing = lsb_first> : tensor<4x10xf32> -> tensor<4x9xi8>
  %6 = qtensor.quantize %x scales(%s : tensor<4x1xf32>) layout <ui2, block = [1, 0], packing = lsb_first> : tensor<4x10xf32> -> tensor<4x3xi8>
  %7 = qtensor.quantize %x scales(%s : tensor<4x1xf32>) layout <ui3, block = [1, 0], packing = lsb_first> : tensor<4x10xf32> -> tensor<4x4xi8>
  %8 = qtensor.quantize %x scales(%s : tensor<4x1xf32>) layout <ui4, block = [1, 0], packing = lsb_first> : tensor<4x10xf32> -> tensor<4x5xi8>
  %9 = qtensor.quantize %x scales(%s : tensor<4x1xf32>) layout <ui5, block = [1, 0], packing = lsb_first> : tensor<4x10xf32> -> tensor<4x7xi8>
  %10 = qtensor.quantize %x scales(%s : tensor<4x1xf32>) layout <ui6, block = [1, 0], packing = lsb_first> : tensor<4x10xf32> -> tensor<4x8xi8>
  %11 = qtensor.quantize %x scales(%s : tensor<4x1xf32>) layout <ui7, block = [1, 0], packing = lsb_first> : tensor<4x10xf32> -> tensor<4x9xi8>
  %12 = qtensor.quantize %x scales(%s : tensor<4x1xf32>) layout <nf4, block = [1, 0], packing = lsb_first> : tensor<4x10xf32> -> tensor<4x5xi8>
  %13 = qtensor.quantize %x scales(%s : tensor<4x1xf32>) layout <fp4, block = [1, 0], packing = lsb_first> : tensor<4x10xf32> -> tensor<4x5xi8>
  return
}

// CHECK-LABEL: func.func @formats_msb_first(
// CHECK:         layout <si2, block = [1, 0], packing = msb_first> : tensor<4x10xf32> -> tensor<4x3xi8>
// CHECK:         layout <ui2, block = [1, 0], packing = msb_first> : tensor<4x10xf32> -> tensor<4x3xi8>
// CHECK:         layout <si4, block = [1, 0], packing = msb_first> : tensor<4x10xf32> -> tensor<4x5xi8>
// CHECK:         layout <ui4, block = [1, 0], packing = msb_first> : tensor<4x10xf32> -> tensor<4x5xi8>
// CHECK:         layout <nf4, block = [1, 0], packing = msb_first> : tensor<4x10xf32> -> tensor<4x5xi8>
// CHECK:         layout <fp4, block = [1, 0], packing = msb_first> : tensor<4x10xf32> -> tensor<4x5xi8>
func.func @formats_msb_first(%x: tensor<4x10xf32>, %s: tensor<4x1xf32>) {
  %0 = qtensor.quantize %x scales(%s : tensor<4x1xf32>) layout <si2, block = [1, 0], packing = msb_first> : tensor<4x10xf32> -> tensor<4x3xi8>
  %1 = qtensor.quantize %x scales(%s : tensor<4x1xf32>) layout <ui2, block = [1, 0], packing = msb_first> : tensor<4x10xf32> -> tensor<4x3xi8>
  %2 = qtensor.quantize %x scales(%s : tensor<4x1xf32>) layout <si4, block = [1, 0], packing = msb_first> : tensor<4x10xf32> -> tensor<4x5xi8>
  %3 = qtensor.quantize %x scales(%s : tensor<4x1xf32>) layout <ui4, block = [1, 0], packing = msb_first> : tensor<4x10xf32> -> tensor<4x5xi8>
  %4 = qtensor.quantize %x scales(%s : tensor<4x1xf32>) layout <nf4, block = [1, 0], packing = msb_first> : tensor<4x10xf32> -> tensor<4x5xi8>
  %5 = qtensor.quantize %x scales(%s : tensor<4x1xf32>) layout <fp4, block = [1, 0], packing = msb_first> : tensor<4x10xf32> -> tensor<4x5xi8>
  return
}

// The layout also parses as a standalone attribute, and names may be quoted.
// CHECK-LABEL: func.func @layout_attribute(
// CHECK:         layout <si4, block = [1, 32], packing = msb_first> {test.layout = #qtensor.layout<f8E4M3FN, block = [0, 0]>}
func.func @layout_attribute(%x: tensor<4x64xf32>, %s: tensor<4x2xf32>) -> tensor<4x32xi8> {
  %q = qtensor.quantize %x scales(%s : tensor<4x2xf32>)
         layout <"si4", block = [1, 32], packing = "msb_first">
         {test.layout = #qtensor.layout<f8E4M3FN, block = [0, 0]>}
         : tensor<4x64xf32> -> tensor<4x32xi8>
  return %q : tensor<4x32xi8>
}

//===----------------------------------------------------------------------===//
// qtensor.dequantize
//===----------------------------------------------------------------------===//

// CHECK-LABEL: func.func @dequantize_symmetric(
// CHECK-SAME:    %[[Q:[^:]+]]: tensor<8x32xi8>, %[[S:[^:]+]]: tensor<8x1xbf16>)
// CHECK:         %[[W:.*]] = qtensor.dequantize %[[Q]] scales(%[[S]] : tensor<8x1xbf16>) layout <nf4, block = [1, 0], packing = msb_first> : tensor<8x32xi8> -> tensor<8x64xbf16>
// CHECK:         return %[[W]]
func.func @dequantize_symmetric(%q: tensor<8x32xi8>, %s: tensor<8x1xbf16>) -> tensor<8x64xbf16> {
  %w = qtensor.dequantize %q scales(%s : tensor<8x1xbf16>)
         layout <nf4, block = [1, 0], packing = msb_first>
         : tensor<8x32xi8> -> tensor<8x64xbf16>
  return %w : tensor<8x64xbf16>
}

// CHECK-LABEL: func.func @dequantize_zero_points(
// CHECK-SAME:    %[[Q:[^:]+]]: tensor<8x86xi8>, %[[S:[^:]+]]: tensor<8x6xf16>, %[[Z:[^:]+]]: tensor<8x6xi32>)
// CHECK:         qtensor.dequantize %[[Q]] scales(%[[S]] : tensor<8x6xf16>) zero_points(%[[Z]] : tensor<8x6xi32>) layout <ui4, block = [1, 32], packing = lsb_first> : tensor<8x86xi8> -> tensor<8x172xf32>
func.func @dequantize_zero_points(%q: tensor<8x86xi8>, %s: tensor<8x6xf16>, %z: tensor<8x6xi32>) -> tensor<8x172xf32> {
  %w = qtensor.dequantize %q scales(%s : tensor<8x6xf16>)
         zero_points(%z : tensor<8x6xi32>)
         layout <ui4, block = [1, 32], packing = lsb_first>
         : tensor<8x86xi8> -> tensor<8x172xf32>
  return %w : tensor<8x172xf32>
}

// CHECK-LABEL: func.func @dequantize_float_zero_points(
// CHECK:         qtensor.dequantize %{{.*}} scales(%{{.*}} : tensor<4x2xf32>) zero_points(%{{.*}} : tensor<4x2xf16>) layout <ui3, block = [1, 16], packing = lsb_first> : tensor<4x12xi8> -> tensor<4x32xf32>
func.func @dequantize_float_zero_points(%q: tensor<4x12xi8>, %s: tensor<4x2xf32>, %z: tensor<4x2xf16>) -> tensor<4x32xf32> {
  %w = qtensor.dequantize %q scales(%s : tensor<4x2xf32>)
         zero_points(%z : tensor<4x2xf16>)
         layout <ui3, block = [1, 16], packing = lsb_first>
         : tensor<4x12xi8> -> tensor<4x32xf32>
  return %w : tensor<4x32xf32>
}

// Act-order: with group_index the number of groups is free.
// CHECK-LABEL: func.func @dequantize_group_index(
// CHECK-SAME:    %[[Q:[^:]+]]: tensor<8x64xi8>, %[[S:[^:]+]]: tensor<8x4xf32>, %[[G:[^:]+]]: tensor<128xi32>)
// CHECK:         qtensor.dequantize %[[Q]] scales(%[[S]] : tensor<8x4xf32>) group_index(%[[G]] : tensor<128xi32>) layout <si4, block = [1, 32], packing = lsb_first> : tensor<8x64xi8> -> tensor<8x128xf32>
func.func @dequantize_group_index(%q: tensor<8x64xi8>, %s: tensor<8x4xf32>, %g: tensor<128xi32>) -> tensor<8x128xf32> {
  %w = qtensor.dequantize %q scales(%s : tensor<8x4xf32>)
         group_index(%g : tensor<128xi32>)
         layout <si4, block = [1, 32], packing = lsb_first>
         : tensor<8x64xi8> -> tensor<8x128xf32>
  return %w : tensor<8x128xf32>
}

// CHECK-LABEL: func.func @dequantize_zero_points_group_index(
// CHECK-SAME:    %[[Q:[^:]+]]: tensor<8x64xi8>, %[[S:[^:]+]]: tensor<8x4xf16>, %[[Z:[^:]+]]: tensor<8x4xi8>, %[[G:[^:]+]]: tensor<128xi32>)
// CHECK:         qtensor.dequantize %[[Q]] scales(%[[S]] : tensor<8x4xf16>) zero_points(%[[Z]] : tensor<8x4xi8>) group_index(%[[G]] : tensor<128xi32>) layout <ui4, block = [1, 32], packing = lsb_first> : tensor<8x64xi8> -> tensor<8x128xf16>
func.func @dequantize_zero_points_group_index(%q: tensor<8x64xi8>, %s: tensor<8x4xf16>, %z: tensor<8x4xi8>, %g: tensor<128xi32>) -> tensor<8x128xf16> {
  %w = qtensor.dequantize %q scales(%s : tensor<8x4xf16>)
         zero_points(%z : tensor<8x4xi8>) group_index(%g : tensor<128xi32>)
         layout <ui4, block = [1, 32], packing = lsb_first>
         : tensor<8x64xi8> -> tensor<8x128xf16>
  return %w : tensor<8x128xf16>
}

// CHECK-LABEL: func.func @dequantize_fp8_per_tensor(
// CHECK:         qtensor.dequantize %{{.*}} scales(%{{.*}} : tensor<1x1x1xf32>) layout <f8E5M2, block = [0, 0, 0]> : tensor<2x4x16xi8> -> tensor<2x4x16xf32>
func.func @dequantize_fp8_per_tensor(%q: tensor<2x4x16xi8>, %s: tensor<1x1x1xf32>) -> tensor<2x4x16xf32> {
  %w = qtensor.dequantize %q scales(%s : tensor<1x1x1xf32>)
         layout <f8E5M2, block = [0, 0, 0]>
         : tensor<2x4x16xi8> -> tensor<2x4x16xf32>
  return %w : tensor<2x4x16xf32>
}

// Double quantization: the group scales are themselves ui8 codes with one
// f32 scale.
// CHECK-LABEL: func.func @double_quantized_scales(
// CHECK-SAME:    %[[Q:[^:]+]]: tensor<8x86xi8>, %[[SQ:[^:]+]]: tensor<8x6xi8>, %[[SS:[^:]+]]: tensor<1x1xf32>)
// CHECK:         %[[S:.*]] = qtensor.dequantize %[[SQ]] scales(%[[SS]] : tensor<1x1xf32>) layout <ui8, block = [0, 0]> : tensor<8x6xi8> -> tensor<8x6xf32>
// CHECK:         %[[W:.*]] = qtensor.dequantize %[[Q]] scales(%[[S]] : tensor<8x6xf32>) layout <nf4, block = [1, 32], packing = msb_first> : tensor<8x86xi8> -> tensor<8x172xf32>
// CHECK:         return %[[W]]
func.func @double_quantized_scales(%q: tensor<8x86xi8>, %sq: tensor<8x6xi8>, %ss: tensor<1x1xf32>) -> tensor<8x172xf32> {
  %s = qtensor.dequantize %sq scales(%ss : tensor<1x1xf32>)
         layout <ui8, block = [0, 0]> : tensor<8x6xi8> -> tensor<8x6xf32>
  %w = qtensor.dequantize %q scales(%s : tensor<8x6xf32>)
         layout <nf4, block = [1, 32], packing = msb_first>
         : tensor<8x86xi8> -> tensor<8x172xf32>
  return %w : tensor<8x172xf32>
}

// CHECK-LABEL: func.func @dequantize_dynamic(
// CHECK:         qtensor.dequantize %{{.*}} scales(%{{.*}} : tensor<?x1xf32>) layout <si8, block = [1, 0]> : tensor<?x?xi8> -> tensor<?x?xf32>
func.func @dequantize_dynamic(%q: tensor<?x?xi8>, %s: tensor<?x1xf32>) -> tensor<?x?xf32> {
  %w = qtensor.dequantize %q scales(%s : tensor<?x1xf32>)
         layout <si8, block = [1, 0]> : tensor<?x?xi8> -> tensor<?x?xf32>
  return %w : tensor<?x?xf32>
}

//===----------------------------------------------------------------------===//
// qtensor.dequant_matmul
//===----------------------------------------------------------------------===//

// CHECK-LABEL: func.func @dequant_matmul_2d(
// CHECK-SAME:    %[[X:[^:]+]]: tensor<4x172xf32>, %[[Q:[^:]+]]: tensor<8x86xi8>, %[[S:[^:]+]]: tensor<8x6xf16>, %[[Z:[^:]+]]: tensor<8x6xi8>, %[[I:[^:]+]]: tensor<4x8xf32>)
// CHECK:         %[[Y:.*]] = qtensor.dequant_matmul %[[X]], %[[Q]] scales(%[[S]] : tensor<8x6xf16>) zero_points(%[[Z]] : tensor<8x6xi8>) layout <ui4, block = [1, 32], packing = lsb_first> outs(%[[I]] : tensor<4x8xf32>) : tensor<4x172xf32>, tensor<8x86xi8> -> tensor<4x8xf32>
// CHECK:         return %[[Y]]
func.func @dequant_matmul_2d(%x: tensor<4x172xf32>, %q: tensor<8x86xi8>, %s: tensor<8x6xf16>, %z: tensor<8x6xi8>, %init: tensor<4x8xf32>) -> tensor<4x8xf32> {
  %y = qtensor.dequant_matmul %x, %q scales(%s : tensor<8x6xf16>)
         zero_points(%z : tensor<8x6xi8>)
         layout <ui4, block = [1, 32], packing = lsb_first>
         outs(%init : tensor<4x8xf32>)
         : tensor<4x172xf32>, tensor<8x86xi8> -> tensor<4x8xf32>
  return %y : tensor<4x8xf32>
}

// [B, M, K] activations with an unbatched [N, K] weight.
// CHECK-LABEL: func.func @dequant_matmul_3d_input(
// CHECK-SAME:    %[[X:[^:]+]]: tensor<2x4x64xbf16>, %[[Q:[^:]+]]: tensor<8x64xi8>, %[[S:[^:]+]]: tensor<8x1xf32>, %[[I:[^:]+]]: tensor<2x4x8xf32>)
// CHECK:         qtensor.dequant_matmul %[[X]], %[[Q]] scales(%[[S]] : tensor<8x1xf32>) layout <f8E4M3FN, block = [1, 0]> outs(%[[I]] : tensor<2x4x8xf32>) : tensor<2x4x64xbf16>, tensor<8x64xi8> -> tensor<2x4x8xf32>
func.func @dequant_matmul_3d_input(%x: tensor<2x4x64xbf16>, %q: tensor<8x64xi8>, %s: tensor<8x1xf32>, %init: tensor<2x4x8xf32>) -> tensor<2x4x8xf32> {
  %y = qtensor.dequant_matmul %x, %q scales(%s : tensor<8x1xf32>)
         layout <f8E4M3FN, block = [1, 0]> outs(%init : tensor<2x4x8xf32>)
         : tensor<2x4x64xbf16>, tensor<8x64xi8> -> tensor<2x4x8xf32>
  return %y : tensor<2x4x8xf32>
}

// A single activation row: [K] x [N, K] -> [N].
// CHECK-LABEL: func.func @dequant_matmul_1d_input(
// CHECK:         qtensor.dequant_matmul %{{.*}}, %{{.*}} scales(%{{.*}} : tensor<8x2xf32>) layout <si8, block = [1, 32]> outs(%{{.*}} : tensor<8xf32>) : tensor<64xf16>, tensor<8x64xi8> -> tensor<8xf32>
func.func @dequant_matmul_1d_input(%x: tensor<64xf16>, %q: tensor<8x64xi8>, %s: tensor<8x2xf32>, %init: tensor<8xf32>) -> tensor<8xf32> {
  %y = qtensor.dequant_matmul %x, %q scales(%s : tensor<8x2xf32>)
         layout <si8, block = [1, 32]> outs(%init : tensor<8xf32>)
         : tensor<64xf16>, tensor<8x64xi8> -> tensor<8xf32>
  return %y : tensor<8xf32>
}

// CHECK-LABEL: func.func @dequant_matmul_batched(
// CHECK-SAME:    %[[X:[^:]+]]: tensor<3x4x64xf32>, %[[Q:[^:]+]]: tensor<3x8x32xi8>, %[[S:[^:]+]]: tensor<3x8x2xf32>, %[[Z:[^:]+]]: tensor<3x8x2xf32>, %[[I:[^:]+]]: tensor<3x4x8xf32>)
// CHECK:         qtensor.dequant_matmul %[[X]], %[[Q]] scales(%[[S]] : tensor<3x8x2xf32>) zero_points(%[[Z]] : tensor<3x8x2xf32>) layout <ui4, block = [1, 1, 32], packing = msb_first> outs(%[[I]] : tensor<3x4x8xf32>) : tensor<3x4x64xf32>, tensor<3x8x32xi8> -> tensor<3x4x8xf32>
func.func @dequant_matmul_batched(%x: tensor<3x4x64xf32>, %q: tensor<3x8x32xi8>, %s: tensor<3x8x2xf32>, %z: tensor<3x8x2xf32>, %init: tensor<3x4x8xf32>) -> tensor<3x4x8xf32> {
  %y = qtensor.dequant_matmul %x, %q scales(%s : tensor<3x8x2xf32>)
         zero_points(%z : tensor<3x8x2xf32>)
         layout <ui4, block = [1, 1, 32], packing = msb_first>
         outs(%init : tensor<3x4x8xf32>)
         : tensor<3x4x64xf32>, tensor<3x8x32xi8> -> tensor<3x4x8xf32>
  return %y : tensor<3x4x8xf32>
}

// CHECK-LABEL: func.func @dequant_matmul_group_index(
// CHECK-SAME:    %[[X:[^:]+]]: tensor<?x128xf32>, %[[Q:[^:]+]]: tensor<8x64xi8>, %[[S:[^:]+]]: tensor<8x4xf32>, %[[Z:[^:]+]]: tensor<8x4xi8>, %[[G:[^:]+]]: tensor<128xi32>, %[[I:[^:]+]]: tensor<?x8xf32>)
// CHECK:         qtensor.dequant_matmul %[[X]], %[[Q]] scales(%[[S]] : tensor<8x4xf32>) zero_points(%[[Z]] : tensor<8x4xi8>) group_index(%[[G]] : tensor<128xi32>) layout <ui4, block = [1, 32], packing = lsb_first> outs(%[[I]] : tensor<?x8xf32>) : tensor<?x128xf32>, tensor<8x64xi8> -> tensor<?x8xf32>
func.func @dequant_matmul_group_index(%x: tensor<?x128xf32>, %q: tensor<8x64xi8>, %s: tensor<8x4xf32>, %z: tensor<8x4xi8>, %g: tensor<128xi32>, %init: tensor<?x8xf32>) -> tensor<?x8xf32> {
  %y = qtensor.dequant_matmul %x, %q scales(%s : tensor<8x4xf32>)
         zero_points(%z : tensor<8x4xi8>) group_index(%g : tensor<128xi32>)
         layout <ui4, block = [1, 32], packing = lsb_first>
         outs(%init : tensor<?x8xf32>)
         : tensor<?x128xf32>, tensor<8x64xi8> -> tensor<?x8xf32>
  return %y : tensor<?x8xf32>
}

//===----------------------------------------------------------------------===//
// qtensor.fake_quant
//===----------------------------------------------------------------------===//

// CHECK-LABEL: func.func @fake_quant(
// CHECK-SAME:    %[[X:[^:]+]]: tensor<4x16xf32>, %[[S:[^:]+]]: tensor<4x1xf32>)
// CHECK:         %[[Y:.*]] = qtensor.fake_quant %[[X]] scales(%[[S]] : tensor<4x1xf32>) layout <si8, block = [1, 0]> : tensor<4x16xf32>
// CHECK:         return %[[Y]] : tensor<4x16xf32>
func.func @fake_quant(%x: tensor<4x16xf32>, %s: tensor<4x1xf32>) -> tensor<4x16xf32> {
  %y = qtensor.fake_quant %x scales(%s : tensor<4x1xf32>)
         layout <si8, block = [1, 0]> : tensor<4x16xf32>
  return %y : tensor<4x16xf32>
}

// CHECK-LABEL: func.func @fake_quant_zero_points(
// CHECK-SAME:    %[[X:[^:]+]]: tensor<4x172xbf16>, %[[S:[^:]+]]: tensor<4x6xbf16>, %[[Z:[^:]+]]: tensor<4x6xbf16>)
// CHECK:         qtensor.fake_quant %[[X]] scales(%[[S]] : tensor<4x6xbf16>) zero_points(%[[Z]] : tensor<4x6xbf16>) layout <ui4, block = [1, 32]> : tensor<4x172xbf16>
func.func @fake_quant_zero_points(%x: tensor<4x172xbf16>, %s: tensor<4x6xbf16>, %z: tensor<4x6xbf16>) -> tensor<4x172xbf16> {
  %y = qtensor.fake_quant %x scales(%s : tensor<4x6xbf16>)
         zero_points(%z : tensor<4x6xbf16>) layout <ui4, block = [1, 32]>
         : tensor<4x172xbf16>
  return %y : tensor<4x172xbf16>
}

// CHECK-LABEL: func.func @fake_quant_fp8_per_tensor(
// CHECK:         qtensor.fake_quant %{{.*}} scales(%{{.*}} : tensor<1xf16>) layout <f8E4M3FN, block = [0]> : tensor<?xf16>
func.func @fake_quant_fp8_per_tensor(%x: tensor<?xf16>, %s: tensor<1xf16>) -> tensor<?xf16> {
  %y = qtensor.fake_quant %x scales(%s : tensor<1xf16>)
         layout <f8E4M3FN, block = [0]> : tensor<?xf16>
  return %y : tensor<?xf16>
}

//===----------------------------------------------------------------------===//
// qtensor.dynamic_quantize
//===----------------------------------------------------------------------===//

// The default `bits = 8` is elided when printing.
// CHECK-LABEL: func.func @dynamic_quantize(
// CHECK-SAME:    %[[X:[^:]+]]: tensor<4x64xf32>)
// CHECK:         %[[C:[^,]+]], %[[S:.*]] = qtensor.dynamic_quantize %[[X]] : tensor<4x64xf32> -> tensor<4x64xi8>, tensor<4x1xf32>
// CHECK-NEXT:    %[[C8:[^,]+]], %[[S8:.*]] = qtensor.dynamic_quantize %[[X]] : tensor<4x64xf32> -> tensor<4x64xi8>, tensor<4x1xf32>
// CHECK-NEXT:    %[[C2:[^,]+]], %[[S2:.*]] = qtensor.dynamic_quantize %[[X]] {bits = 2 : i32} : tensor<4x64xf32> -> tensor<4x64xi8>, tensor<4x1xf32>
// CHECK:         return %[[C]], %[[S]], %[[C8]], %[[S8]], %[[C2]], %[[S2]]
func.func @dynamic_quantize(%x: tensor<4x64xf32>)
    -> (tensor<4x64xi8>, tensor<4x1xf32>, tensor<4x64xi8>, tensor<4x1xf32>, tensor<4x64xi8>, tensor<4x1xf32>) {
  %c, %s = qtensor.dynamic_quantize %x
             : tensor<4x64xf32> -> tensor<4x64xi8>, tensor<4x1xf32>
  %c8, %s8 = qtensor.dynamic_quantize %x {bits = 8 : i32}
               : tensor<4x64xf32> -> tensor<4x64xi8>, tensor<4x1xf32>
  %c2, %s2 = qtensor.dynamic_quantize %x {bits = 2 : i32}
               : tensor<4x64xf32> -> tensor<4x64xi8>, tensor<4x1xf32>
  return %c, %s, %c8, %s8, %c2, %s2
      : tensor<4x64xi8>, tensor<4x1xf32>, tensor<4x64xi8>, tensor<4x1xf32>, tensor<4x64xi8>, tensor<4x1xf32>
}

// CHECK-LABEL: func.func @dynamic_quantize_3d(
// CHECK:         qtensor.dynamic_quantize %{{.*}} {bits = 4 : i32} : tensor<2x?x64xf16> -> tensor<2x?x64xi8>, tensor<2x?x1xf32>
func.func @dynamic_quantize_3d(%x: tensor<2x?x64xf16>) -> (tensor<2x?x64xi8>, tensor<2x?x1xf32>) {
  %c, %s = qtensor.dynamic_quantize %x {bits = 4 : i32}
             : tensor<2x?x64xf16> -> tensor<2x?x64xi8>, tensor<2x?x1xf32>
  return %c, %s : tensor<2x?x64xi8>, tensor<2x?x1xf32>
}

// Per-tensor run-time scales: all scale dimensions are 1.
// CHECK-LABEL: func.func @dynamic_quantize_per_tensor(
// CHECK:         qtensor.dynamic_quantize %{{.*}} : tensor<2x8x64xf32> -> tensor<2x8x64xi8>, tensor<1x1x1xf32>
func.func @dynamic_quantize_per_tensor(%x: tensor<2x8x64xf32>) -> (tensor<2x8x64xi8>, tensor<1x1x1xf32>) {
  %c, %s = qtensor.dynamic_quantize %x : tensor<2x8x64xf32> -> tensor<2x8x64xi8>, tensor<1x1x1xf32>
  return %c, %s : tensor<2x8x64xi8>, tensor<1x1x1xf32>
}

//===----------------------------------------------------------------------===//
// qtensor.quantized_matmul
//===----------------------------------------------------------------------===//

// CHECK-LABEL: func.func @quantized_matmul(
// CHECK:         qtensor.quantized_matmul %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}} outs(%{{.*}} : tensor<2x?x8xf32>) : tensor<2x?x64xi8>, tensor<2x?x1xf32>, tensor<8x64xi8>, tensor<8x2xf32> -> tensor<2x?x8xf32>
// CHECK:         qtensor.quantized_matmul %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}} outs(%{{.*}} : tensor<2x?x8xf32>) : tensor<2x?x64xi8>, tensor<1x1x1xf32>, tensor<8x64xi8>, tensor<1x1xf32> -> tensor<2x?x8xf32>
func.func @quantized_matmul(%x: tensor<2x?x64xi8>, %sx: tensor<2x?x1xf32>, %st: tensor<1x1x1xf32>,
                            %w: tensor<8x64xi8>, %sw: tensor<8x2xf32>, %swt: tensor<1x1xf32>,
                            %init: tensor<2x?x8xf32>) -> (tensor<2x?x8xf32>, tensor<2x?x8xf32>) {
  %0 = qtensor.quantized_matmul %x, %sx, %w, %sw outs(%init : tensor<2x?x8xf32>)
         : tensor<2x?x64xi8>, tensor<2x?x1xf32>, tensor<8x64xi8>, tensor<8x2xf32> -> tensor<2x?x8xf32>
  %1 = qtensor.quantized_matmul %x, %st, %w, %swt outs(%init : tensor<2x?x8xf32>)
         : tensor<2x?x64xi8>, tensor<1x1x1xf32>, tensor<8x64xi8>, tensor<1x1xf32> -> tensor<2x?x8xf32>
  return %0, %1 : tensor<2x?x8xf32>, tensor<2x?x8xf32>
}

//===----------------------------------------------------------------------===//
// qtensor.ggml_dequantize
//===----------------------------------------------------------------------===//

// Every ggml type; rows of 256 elements take 8 legacy blocks or 1 K block.
// CHECK-LABEL: func.func @ggml_dequantize_types(
// CHECK:         qtensor.ggml_dequantize %{{.*}} as q4_0 : tensor<8x144xi8> -> tensor<8x256xf32>
// CHECK:         qtensor.ggml_dequantize %{{.*}} as q4_1 : tensor<8x160xi8> -> tensor<8x256xf32>
// CHECK:         qtensor.ggml_dequantize %{{.*}} as q5_0 : tensor<8x176xi8> -> tensor<8x256xf32>
// CHECK:         qtensor.ggml_dequantize %{{.*}} as q5_1 : tensor<8x192xi8> -> tensor<8x256xf32>
// CHECK:         qtensor.ggml_dequantize %{{.*}} as q8_0 : tensor<8x272xi8> -> tensor<8x256xf32>
// CHECK:         qtensor.ggml_dequantize %{{.*}} as q2_K : tensor<8x84xi8> -> tensor<8x256xf32>
// CHECK:         qtensor.ggml_dequantize %{{.*}} as q3_K : tensor<8x110xi8> -> tensor<8x256xf32>
// CHECK:         qtensor.ggml_dequantize %{{.*}} as q4_K : tensor<8x144xi8> -> tensor<8x256xf32>
// CHECK:         qtensor.ggml_dequantize %{{.*}} as q5_K : tensor<8x176xi8> -> tensor<8x256xf32>
// CHECK:         qtensor.ggml_dequantize %{{.*}} as q6_K : tensor<8x210xi8> -> tensor<8x256xf32>
func.func @ggml_dequantize_types(
    %q4_0: tensor<8x144xi8>, %q4_1: tensor<8x160xi8>, %q5_0: tensor<8x176xi8>,
    %q5_1: tensor<8x192xi8>, %q8_0: tensor<8x272xi8>, %q2_k: tensor<8x84xi8>,
    %q3_k: tensor<8x110xi8>, %q4_k: tensor<8x144xi8>, %q5_k: tensor<8x176xi8>,
    %q6_k: tensor<8x210xi8>)
    -> (tensor<8x256xf32>, tensor<8x256xf32>, tensor<8x256xf32>, tensor<8x256xf32>,
        tensor<8x256xf32>, tensor<8x256xf32>, tensor<8x256xf32>, tensor<8x256xf32>,
        tensor<8x256xf32>, tensor<8x256xf32>) {
  %0 = qtensor.ggml_dequantize %q4_0 as q4_0 : tensor<8x144xi8> -> tensor<8x256xf32>
  %1 = qtensor.ggml_dequantize %q4_1 as q4_1 : tensor<8x160xi8> -> tensor<8x256xf32>
  %2 = qtensor.ggml_dequantize %q5_0 as q5_0 : tensor<8x176xi8> -> tensor<8x256xf32>
  %3 = qtensor.ggml_dequantize %q5_1 as q5_1 : tensor<8x192xi8> -> tensor<8x256xf32>
  %4 = qtensor.ggml_dequantize %q8_0 as q8_0 : tensor<8x272xi8> -> tensor<8x256xf32>
  %5 = qtensor.ggml_dequantize %q2_k as q2_K : tensor<8x84xi8> -> tensor<8x256xf32>
  %6 = qtensor.ggml_dequantize %q3_k as q3_K : tensor<8x110xi8> -> tensor<8x256xf32>
  %7 = qtensor.ggml_dequantize %q4_k as q4_K : tensor<8x144xi8> -> tensor<8x256xf32>
  %8 = qtensor.ggml_dequantize %q5_k as q5_K : tensor<8x176xi8> -> tensor<8x256xf32>
  %9 = qtensor.ggml_dequantize %q6_k as q6_K : tensor<8x210xi8> -> tensor<8x256xf32>
  return %0, %1, %2, %3, %4, %5, %6, %7, %8, %9
    : tensor<8x256xf32>, tensor<8x256xf32>, tensor<8x256xf32>, tensor<8x256xf32>,
      tensor<8x256xf32>, tensor<8x256xf32>, tensor<8x256xf32>, tensor<8x256xf32>,
      tensor<8x256xf32>, tensor<8x256xf32>
}

// The 16-bit float types: two bytes per element, any row length.
// CHECK-LABEL: func.func @ggml_float_types(
// CHECK:         qtensor.ggml_dequantize %{{.*}} as f16 : tensor<3x14xi8> -> tensor<3x7xf32>
// CHECK:         qtensor.ggml_dequantize %{{.*}} as bf16 : tensor<3x14xi8> -> tensor<3x7xf32>
func.func @ggml_float_types(%s: tensor<3x14xi8>) -> (tensor<3x7xf32>, tensor<3x7xf32>) {
  %0 = qtensor.ggml_dequantize %s as f16 : tensor<3x14xi8> -> tensor<3x7xf32>
  %1 = qtensor.ggml_dequantize %s as bf16 : tensor<3x14xi8> -> tensor<3x7xf32>
  return %0, %1 : tensor<3x7xf32>, tensor<3x7xf32>
}

// Dynamic leading dimensions, and a single row.
// CHECK-LABEL: func.func @ggml_dequantize_shapes(
// CHECK-SAME:    %[[A:[^:]+]]: tensor<2x?x144xi8>, %[[B:[^:]+]]: tensor<34xi8>)
// CHECK:         qtensor.ggml_dequantize %[[A]] as q4_K : tensor<2x?x144xi8> -> tensor<2x?x256xf32>
// CHECK:         qtensor.ggml_dequantize %[[B]] as q8_0 : tensor<34xi8> -> tensor<32xf32>
func.func @ggml_dequantize_shapes(%a: tensor<2x?x144xi8>, %b: tensor<34xi8>) -> (tensor<2x?x256xf32>, tensor<32xf32>) {
  %0 = qtensor.ggml_dequantize %a as q4_K : tensor<2x?x144xi8> -> tensor<2x?x256xf32>
  %1 = qtensor.ggml_dequantize %b as q8_0 : tensor<34xi8> -> tensor<32xf32>
  return %0, %1 : tensor<2x?x256xf32>, tensor<32xf32>
}

//===----------------------------------------------------------------------===//
// qtensor.ggml_matmul
//===----------------------------------------------------------------------===//

// CHECK-LABEL: func.func @ggml_matmul_2d(
// CHECK-SAME:    %[[X:[^:]+]]: tensor<4x64xf32>, %[[W:[^:]+]]: tensor<8x68xi8>, %[[I:[^:]+]]: tensor<4x8xf32>)
// CHECK:         %[[Y:.*]] = qtensor.ggml_matmul %[[X]], %[[W]] as q8_0 outs(%[[I]] : tensor<4x8xf32>) : tensor<4x64xf32>, tensor<8x68xi8> -> tensor<4x8xf32>
// CHECK:         return %[[Y]]
func.func @ggml_matmul_2d(%x: tensor<4x64xf32>, %w: tensor<8x68xi8>, %init: tensor<4x8xf32>) -> tensor<4x8xf32> {
  %y = qtensor.ggml_matmul %x, %w as q8_0 outs(%init : tensor<4x8xf32>)
         : tensor<4x64xf32>, tensor<8x68xi8> -> tensor<4x8xf32>
  return %y : tensor<4x8xf32>
}

// [B, M, K] activations with dynamic rows; a [K] row with a dynamic N.
// CHECK-LABEL: func.func @ggml_matmul_shapes(
// CHECK:         qtensor.ggml_matmul %{{.*}}, %{{.*}} as q6_K outs(%{{.*}} : tensor<2x?x8xf32>) : tensor<2x?x512xf32>, tensor<8x420xi8> -> tensor<2x?x8xf32>
// CHECK:         qtensor.ggml_matmul %{{.*}}, %{{.*}} as q4_1 outs(%{{.*}} : tensor<?xf32>) : tensor<64xf32>, tensor<?x40xi8> -> tensor<?xf32>
func.func @ggml_matmul_shapes(%x: tensor<2x?x512xf32>, %w: tensor<8x420xi8>, %init: tensor<2x?x8xf32>,
                              %row: tensor<64xf32>, %v: tensor<?x40xi8>, %vinit: tensor<?xf32>)
    -> (tensor<2x?x8xf32>, tensor<?xf32>) {
  %0 = qtensor.ggml_matmul %x, %w as q6_K outs(%init : tensor<2x?x8xf32>)
         : tensor<2x?x512xf32>, tensor<8x420xi8> -> tensor<2x?x8xf32>
  %1 = qtensor.ggml_matmul %row, %v as q4_1 outs(%vinit : tensor<?xf32>)
         : tensor<64xf32>, tensor<?x40xi8> -> tensor<?xf32>
  return %0, %1 : tensor<2x?x8xf32>, tensor<?xf32>
}

//===----------------------------------------------------------------------===//
// Flat blocks and the dynamic8 format (bitsandbytes)
//===----------------------------------------------------------------------===//

// NF4 blocks of 64 over a flattened [3, 172] weight (9 blocks, 258 bytes),
// with double-quantized absmax: dynamic8 codes in one flat block of 256.
// CHECK-LABEL: func.func @bnb_flat_double_quant(
// CHECK:         %[[A:.*]] = qtensor.dequantize %{{.*}} scales(%{{.*}} : tensor<1xf32>) layout <dynamic8, block = [256]> : tensor<9xi8> -> tensor<9xf32>
// CHECK:         qtensor.dequant_matmul %{{.*}}, %{{.*}} scales(%[[A]] : tensor<9xf32>) layout <nf4, block = [64], packing = msb_first> outs(%{{.*}} : tensor<4x3xf32>) : tensor<4x172xf32>, tensor<258xi8> -> tensor<4x3xf32>
// CHECK:         qtensor.dequantize %{{.*}} scales(%{{.*}} : tensor<2xf32>) layout <dynamic8, block = [256]> : tensor<512xi8> -> tensor<4x128xf32>
// CHECK:         qtensor.fake_quant %{{.*}} scales(%{{.*}} : tensor<11xf32>) layout <f8E4M3FN, block = [64]> : tensor<4x172xf32>
func.func @bnb_flat_double_quant(%x: tensor<4x172xf32>, %q: tensor<258xi8>, %c: tensor<9xi8>, %a2: tensor<1xf32>,
                                 %init: tensor<4x3xf32>, %q8: tensor<512xi8>, %s8: tensor<2xf32>, %s11: tensor<11xf32>)
    -> (tensor<4x3xf32>, tensor<4x128xf32>, tensor<4x172xf32>) {
  %a = qtensor.dequantize %c scales(%a2 : tensor<1xf32>) layout <dynamic8, block = [256]>
         : tensor<9xi8> -> tensor<9xf32>
  %y = qtensor.dequant_matmul %x, %q scales(%a : tensor<9xf32>)
         layout <nf4, block = [64], packing = msb_first> outs(%init : tensor<4x3xf32>)
         : tensor<4x172xf32>, tensor<258xi8> -> tensor<4x3xf32>
  %w = qtensor.dequantize %q8 scales(%s8 : tensor<2xf32>) layout <dynamic8, block = [256]>
         : tensor<512xi8> -> tensor<4x128xf32>
  %f = qtensor.fake_quant %x scales(%s11 : tensor<11xf32>) layout <f8E4M3FN, block = [64]> : tensor<4x172xf32>
  return %y, %w, %f : tensor<4x3xf32>, tensor<4x128xf32>, tensor<4x172xf32>
}

//===----------------------------------------------------------------------===//
// Gated epilogues
//===----------------------------------------------------------------------===//

// CHECK-LABEL: func.func @gated_epilogues(
// CHECK:         qtensor.dequant_matmul %{{.*}}, %{{.*}} scales(%{{.*}} : tensor<6x1xf32>) layout <si4, block = [1, 0], packing = lsb_first> outs(%{{.*}} : tensor<2x3xf32>) gated(16) {
// CHECK-NEXT:    ^bb0(%[[G:.*]]: f32, %[[U:.*]]: f32, %[[I:.*]]: f32):
// CHECK-NEXT:      %[[M:.*]] = arith.mulf %[[G]], %[[U]] : f32
// CHECK-NEXT:      %[[A:.*]] = arith.addf %[[M]], %[[I]] : f32
// CHECK-NEXT:      qtensor.yield %[[A]] : f32
// CHECK-NEXT:    } : tensor<2x4xf32>, tensor<6x2xi8> -> tensor<2x3xf32>
// CHECK:         qtensor.ggml_matmul %{{.*}}, %{{.*}} as q8_0 outs(%{{.*}} : tensor<1x32xf32>) gated(8) {
// CHECK:         } : tensor<1x32xf32>, tensor<64x34xi8> -> tensor<1x32xf32>
// CHECK:         qtensor.quantized_matmul {{.*}} outs(%{{.*}} : tensor<2x2xf32>) gated(2) {
// CHECK:         } : tensor<2x4xi8>, tensor<2x1xf32>, tensor<4x4xi8>, tensor<4x1xf32> -> tensor<2x2xf32>
func.func @gated_epilogues(%x: tensor<2x4xf32>, %q: tensor<6x2xi8>, %s: tensor<6x1xf32>, %i: tensor<2x3xf32>,
                           %x32: tensor<1x32xf32>, %w: tensor<64x34xi8>, %i32: tensor<1x32xf32>,
                           %xq: tensor<2x4xi8>, %xs: tensor<2x1xf32>, %wq: tensor<4x4xi8>, %ws: tensor<4x1xf32>, %i2: tensor<2x2xf32>)
    -> (tensor<2x3xf32>, tensor<1x32xf32>, tensor<2x2xf32>) {
  %a = qtensor.dequant_matmul %x, %q scales(%s : tensor<6x1xf32>) layout <si4, block = [1, 0], packing = lsb_first> outs(%i : tensor<2x3xf32>) gated(16) {
  ^bb0(%g: f32, %u: f32, %o: f32):
    %m = arith.mulf %g, %u : f32
    %r = arith.addf %m, %o : f32
    qtensor.yield %r : f32
  } : tensor<2x4xf32>, tensor<6x2xi8> -> tensor<2x3xf32>
  %b = qtensor.ggml_matmul %x32, %w as q8_0 outs(%i32 : tensor<1x32xf32>) gated(8) {
  ^bb0(%g: f32, %u: f32, %o: f32):
    %m = arith.mulf %g, %u : f32
    qtensor.yield %m : f32
  } : tensor<1x32xf32>, tensor<64x34xi8> -> tensor<1x32xf32>
  %c = qtensor.quantized_matmul %xq, %xs, %wq, %ws outs(%i2 : tensor<2x2xf32>) gated(2) {
  ^bb0(%g: f32, %u: f32, %o: f32):
    %n = arith.negf %g : f32
    %e = math.exp %n : f32
    %m = arith.mulf %e, %u : f32
    qtensor.yield %m : f32
  } : tensor<2x4xi8>, tensor<2x1xf32>, tensor<4x4xi8>, tensor<4x1xf32> -> tensor<2x2xf32>
  return %a, %b, %c : tensor<2x3xf32>, tensor<1x32xf32>, tensor<2x2xf32>
}
