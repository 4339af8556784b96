// RUN: quant-opt %s --split-input-file --convert-qtensor-to-cpu-kernels="compute=int8 report-fallback" --verify-diagnostics | FileCheck %s
// RUN: quant-opt %s --split-input-file --quant-lower-to-llvm="compute=int8" 2>/dev/null | FileCheck %s --check-prefix=LLVM
// RUN: quant-opt %s --split-input-file --convert-qtensor-to-cpu-kernels="compute=int8 prepack-int8=false" 2>/dev/null | FileCheck %s --check-prefix=NOPACK

// compute=int8 on 4-bit codes in groups of 32 with zero-points. The kernel
// rounds each row's groups of activations to int8 (roundeven of x * 127 /
// max|x|) and packs them in the order of the decoded codes (even codes, then
// odd ones, per 128; rows padded by 16 words); a unit of 64 storage bytes is
// split into its low and high nibbles, and both meet the packed activations
// in vpdpbusd, called through a declaration that stands for the intrinsic.
// Four groups share a unit: their scales are expanded over 4 lanes each.
// CHECK-LABEL: func.func @int4_groups
// CHECK: call @[[KERNEL:__qtensor_kernel_dequant_matmul_40x128_ui4_g32_sf32_zi8_int8_acc]](
// CHECK: func.func private @[[KERNEL]](
// CHECK: memref.alloc(%{{.*}}) : memref<?x48xi32>
// CHECK: math.roundeven %{{.*}} : vector<16xf32>
// CHECK: arith.fptosi %{{.*}} : vector<16xf32> to vector<16xi32>
// CHECK: arith.trunci %{{.*}} : vector<16xi32> to vector<16xi8>
// CHECK: vector.shuffle %{{.*}}, %{{.*}} [0, 2, 4, 6,
// CHECK-SAME: : vector<128xi8>, vector<128xi8>
// CHECK: vector.shuffle %{{.*}}, %{{.*}} [1, 3, 5, 7,
// CHECK: func.func private @[[KERNEL]]_task(
// Prefill: 16 channels' decoded units transposed into i32 panel words.
// CHECK: vector.transpose %{{.*}}, [1, 0] : vector<16x16xi32> to vector<16x16xi32>
// CHECK: vector.broadcast %{{.*}} : i32 to vector<16xi32>
// CHECK: call @__qtensor_x86_avx512_vpdpbusd_512(
// Decode: one 64-byte load per unit, nibbles split, two dots.
// CHECK: vector.load %{{.*}} : memref<40x64xi8>, vector<64xi8>
// CHECK: arith.andi %{{.*}} : vector<64xi8>
// CHECK: arith.shrui %{{.*}} : vector<64xi8>
// CHECK: call @__qtensor_x86_avx512_vpdpbusd_512(
// CHECK: call @__qtensor_x86_avx512_vpdpbusd_512(
// CHECK: vector.shuffle %{{.*}}, %{{.*}} [0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3] : vector<4xf32>, vector<4xf32>
// CHECK: arith.sitofp %{{.*}} : vector<16xi32> to vector<16xf32>
// CHECK-NEXT: vector.fma
// CHECK: func.func private @__qtensor_x86_avx512_vpdpbusd_512(vector<16xi32>, vector<64xi8>, vector<64xi8>) -> vector<16xi32> attributes {qtensor.llvm_intrinsic = "llvm.x86.avx512.vpdpbusd.512"}
// LLVM-LABEL: llvm.func @int4_groups
// LLVM: llvm.call_intrinsic "llvm.x86.avx512.vpdpbusd.512"
// LLVM-NOT: __qtensor_x86_avx512_vpdpbusd_512
func.func @int4_groups(%x: tensor<2x128xf32>, %q: tensor<40x64xi8>,
                       %s: tensor<40x4xf32>, %z: tensor<40x4xi8>,
                       %init: tensor<2x40xf32>) -> tensor<2x40xf32> {
  %y = qtensor.dequant_matmul %x, %q scales(%s : tensor<40x4xf32>)
         zero_points(%z : tensor<40x4xi8>)
         layout <ui4, block = [1, 32], packing = lsb_first>
         outs(%init : tensor<2x40xf32>)
         : tensor<2x128xf32>, tensor<40x64xi8> -> tensor<2x40xf32>
  return %y : tensor<2x40xf32>
}

// -----

// Signed 8-bit codes per channel: the codes are flipped to unsigned bytes
// (xor 0x80, an offset of 128 that joins the zero-point), the activations
// are stored in K order, and one i32 accumulator per field sums the whole
// row before a single scaling.
// CHECK-LABEL: func.func @int8_channels
// CHECK: call @[[KERNEL:__qtensor_kernel_dequant_matmul_8x192_si8_g192_sf16_int8_acc]](
// CHECK: func.func private @[[KERNEL]](
// CHECK-NOT: vector.shuffle
// CHECK: vector.bitcast %{{.*}} : vector<16xi8> to vector<4xi32>
// CHECK: func.func private @[[KERNEL]]_task(
// CHECK: vector.load %{{.*}} : memref<8x192xi8>, vector<64xi8>
// CHECK: arith.xori %{{.*}} : vector<64xi8>
// CHECK: call @__qtensor_x86_avx512_vpdpbusd_512(
func.func @int8_channels(%x: tensor<3x192xf32>, %q: tensor<8x192xi8>,
                         %s: tensor<8x1xf16>, %init: tensor<3x8xf32>)
    -> tensor<3x8xf32> {
  %y = qtensor.dequant_matmul %x, %q scales(%s : tensor<8x1xf16>)
         layout <si8, block = [1, 0]> outs(%init : tensor<3x8xf32>)
         : tensor<3x192xf32>, tensor<8x192xi8> -> tensor<3x8xf32>
  return %y : tensor<3x8xf32>
}

// -----

// ggml q4_0: a unit is 4 blocks of 18 bytes; their 16 code bytes are loaded
// after each block's f16 scale and joined into 64 bytes.
// CHECK-LABEL: func.func @q4_0
// CHECK: call @[[KERNEL:__qtensor_kernel_ggml_matmul_16x256_q4_0_int8_acc]](
// CHECK: func.func private @[[KERNEL]]_task(
// CHECK: vector.load %{{.*}} : memref<16x144xi8>, vector<16xi8>
// CHECK: vector.shuffle %{{.*}}, %{{.*}} [0, 1, 2, {{.*}}] : vector<16xi8>, vector<16xi8>
// CHECK: vector.shuffle %{{.*}}, %{{.*}} [0, 1, 2, {{.*}}] : vector<32xi8>, vector<32xi8>
// CHECK: arith.andi %{{.*}} : vector<64xi8>
// CHECK: call @__qtensor_x86_avx512_vpdpbusd_512(
func.func @q4_0(%x: tensor<1x256xf32>, %q: tensor<16x144xi8>,
                %init: tensor<1x16xf32>) -> tensor<1x16xf32> {
  %y = qtensor.ggml_matmul %x, %q as q4_0 outs(%init : tensor<1x16xf32>)
         : tensor<1x256xf32>, tensor<16x144xi8> -> tensor<1x16xf32>
  return %y : tensor<1x16xf32>
}

// -----

// Groups of 96 4-bit codes neither divide nor fill a unit of 128: the exact
// f32 kernel takes the product, with a remark.
// CHECK-LABEL: func.func @int4_groups_of_96
// CHECK: call @__qtensor_kernel_dequant_matmul_4x192_ui4_g96_sf32_acc(
// CHECK-NOT: _int8
func.func @int4_groups_of_96(%x: tensor<1x192xf32>, %q: tensor<4x96xi8>,
                             %s: tensor<4x2xf32>, %init: tensor<1x4xf32>)
    -> tensor<1x4xf32> {
  // expected-remark@+1 {{no int8 kernel for this product (groups of 96 codes (the int8 kernel needs a divisor or a multiple of 128)); the exact f32 kernel computes it}}
  %y = qtensor.dequant_matmul %x, %q scales(%s : tensor<4x2xf32>)
         layout <ui4, block = [1, 96], packing = lsb_first>
         outs(%init : tensor<1x4xf32>)
         : tensor<1x192xf32>, tensor<4x96xi8> -> tensor<1x4xf32>
  return %y : tensor<1x4xf32>
}

// -----

// The K-quants have int8 kernels only for prepacked (constant) weights:
// with weights passed in, the exact f32 kernels take them.
// CHECK-LABEL: func.func @low_bit_K
// CHECK: call @__qtensor_kernel_ggml_matmul_8x256_q3_K_acc(
// CHECK: call @__qtensor_kernel_ggml_matmul_8x256_q2_K_acc(
// CHECK-NOT: _int8
func.func @low_bit_K(%x: tensor<1x256xf32>, %q3: tensor<8x110xi8>,
                     %q2: tensor<8x84xi8>, %init: tensor<1x8xf32>)
    -> (tensor<1x8xf32>, tensor<1x8xf32>) {
  // expected-remark@+1 {{no int8 kernel for this product (q3_K sub-block scales); the exact f32 kernel computes it}}
  %a = qtensor.ggml_matmul %x, %q3 as q3_K outs(%init : tensor<1x8xf32>)
         : tensor<1x256xf32>, tensor<8x110xi8> -> tensor<1x8xf32>
  // expected-remark@+1 {{no int8 kernel for this product (q2_K sub-block scales); the exact f32 kernel computes it}}
  %b = qtensor.ggml_matmul %x, %q2 as q2_K outs(%init : tensor<1x8xf32>)
         : tensor<1x256xf32>, tensor<8x84xi8> -> tensor<1x8xf32>
  return %a, %b : tensor<1x8xf32>, tensor<1x8xf32>
}

// -----

// Constant weights are prepacked at compile time (prepack-int8, the
// default): q4_0's codes become [tiles of 16 channels, words, 16] i32 and
// its f16 block scales [tiles, blocks, 16]; the original blocks go away.
// Decode loads 16 channels' words at once, splits the nibbles, prefetches
// ahead and meets a broadcast activation word; the group epilogue scales 16
// channels.
// CHECK-LABEL: func.func @q4_0_constant
// CHECK-NOT: dense<"0x
// CHECK-DAG: %[[CODES:.*]] = arith.constant dense_resource<{{.*}}.int8_codes> : tensor<2x8x16xi32>
// CHECK-DAG: %[[SCALES:.*]] = arith.constant dense_resource<{{.*}}.int8_scales> : tensor<2x2x16xf16>
// CHECK: call @[[KERNEL:__qtensor_kernel_ggml_matmul_20x64_q4_0_int8_prepacked]](
// CHECK-SAME: memref<2x8x16xi32>, memref<2x2x16xf16>
// CHECK: func.func private @[[KERNEL]]_task(
// CHECK: memref.prefetch %{{.*}}, read, locality<3>, data : memref<2x8x16xi32>
// CHECK: vector.load %{{.*}} : memref<2x8x16xi32>, vector<16xi32>
// CHECK: vector.broadcast %{{.*}} : i32 to vector<16xi32>
// CHECK: call @__qtensor_x86_avx512_vpdpbusd_512(
// CHECK: vector.load %{{.*}} : memref<2x2x16xf16>, vector<16xf16>
// CHECK: vector.fma
// NOPACK-LABEL: func.func @q4_0_constant
// NOPACK: call @__qtensor_kernel_ggml_matmul_20x64_q4_0_int8(
// NOPACK-SAME: memref<20x36xi8>
func.func @q4_0_constant(%x: tensor<?x64xf32>) -> tensor<?x20xf32> {
  %q = arith.constant dense<"0x003CF0E1D2C3B4A5968778695A4B3C2D1E0F003CF0E1D2C3B4A5968778695A4B3C2D1E0F003CE1D2C3B4A5968778695A4B3C2D1E0FF0003CE1D2C3B4A5968778695A4B3C2D1E0FF0003CD2C3B4A5968778695A4B3C2D1E0FF0E1003CD2C3B4A5968778695A4B3C2D1E0FF0E1003CC3B4A5968778695A4B3C2D1E0FF0E1D2003CC3B4A5968778695A4B3C2D1E0FF0E1D2003CB4A5968778695A4B3C2D1E0FF0E1D2C3003CB4A5968778695A4B3C2D1E0FF0E1D2C3003CA5968778695A4B3C2D1E0FF0E1D2C3B4003CA5968778695A4B3C2D1E0FF0E1D2C3B4003C968778695A4B3C2D1E0FF0E1D2C3B4A5003C968778695A4B3C2D1E0FF0E1D2C3B4A5003C8778695A4B3C2D1E0FF0E1D2C3B4A596003C8778695A4B3C2D1E0FF0E1D2C3B4A596003C78695A4B3C2D1E0FF0E1D2C3B4A59687003C78695A4B3C2D1E0FF0E1D2C3B4A59687003C695A4B3C2D1E0FF0E1D2C3B4A5968778003C695A4B3C2D1E0FF0E1D2C3B4A5968778003C5A4B3C2D1E0FF0E1D2C3B4A596877869003C5A4B3C2D1E0FF0E1D2C3B4A596877869003C4B3C2D1E0FF0E1D2C3B4A5968778695A003C4B3C2D1E0FF0E1D2C3B4A5968778695A003C3C2D1E0FF0E1D2C3B4A5968778695A4B003C3C2D1E0FF0E1D2C3B4A5968778695A4B003C2D1E0FF0E1D2C3B4A5968778695A4B3C003C2D1E0FF0E1D2C3B4A5968778695A4B3C003C1E0FF0E1D2C3B4A5968778695A4B3C2D003C1E0FF0E1D2C3B4A5968778695A4B3C2D003C0FF0E1D2C3B4A5968778695A4B3C2D1E003C0FF0E1D2C3B4A5968778695A4B3C2D1E003CF0E1D2C3B4A5968778695A4B3C2D1E0F003CF0E1D2C3B4A5968778695A4B3C2D1E0F003CE1D2C3B4A5968778695A4B3C2D1E0FF0003CE1D2C3B4A5968778695A4B3C2D1E0FF0003CD2C3B4A5968778695A4B3C2D1E0FF0E1003CD2C3B4A5968778695A4B3C2D1E0FF0E1003CC3B4A5968778695A4B3C2D1E0FF0E1D2003CC3B4A5968778695A4B3C2D1E0FF0E1D2"> : tensor<20x36xi8>
  %c0 = arith.constant 0 : index
  %m = tensor.dim %x, %c0 : tensor<?x64xf32>
  %zero = arith.constant 0.0 : f32
  %e = tensor.empty(%m) : tensor<?x20xf32>
  %init = linalg.fill ins(%zero : f32) outs(%e : tensor<?x20xf32>) -> tensor<?x20xf32>
  %y = qtensor.ggml_matmul %x, %q as q4_0 outs(%init : tensor<?x20xf32>)
         : tensor<?x64xf32>, tensor<20x36xi8> -> tensor<?x20xf32>
  return %y : tensor<?x20xf32>
}

// -----

// q4_K has an int8 kernel only with prepacked weights: its int8 groups are
// the 32-code sub-blocks, whose 6-bit scales and mins become bytes
// [tiles, sub-blocks, 16], next to the super-blocks' f16 (d, dmin) pairs
// [tiles, super-blocks, 2, 16]. The group epilogue adds the mins' term
// (bias times the activation sum) after the scaled dot.
// CHECK-LABEL: func.func @q4_K_constant
// CHECK-DAG: arith.constant dense_resource<{{.*}}.int8_codes> : tensor<1x32x16xi32>
// CHECK-DAG: arith.constant dense_resource<{{.*}}.int8_scales> : tensor<1x8x16xi8>
// CHECK-DAG: arith.constant dense_resource<{{.*}}.int8_mins> : tensor<1x8x16xi8>
// CHECK-DAG: arith.constant dense_resource<{{.*}}.int8_super_scales> : tensor<1x1x2x16xf16>
// CHECK: call @[[KERNEL:__qtensor_kernel_ggml_matmul_16x256_q4_K_int8_prepacked_acc]](
// CHECK: func.func private @[[KERNEL]]_task(
// CHECK: vector.load %{{.*}} : memref<1x1x2x16xf16>, vector<16xf16>
// CHECK: arith.negf %{{.*}} : vector<16xf32>
// CHECK: call @__qtensor_x86_avx512_vpdpbusd_512(
// NOPACK-LABEL: func.func @q4_K_constant
// NOPACK: call @__qtensor_kernel_ggml_matmul_16x256_q4_K_acc(
func.func @q4_K_constant(%x: tensor<2x256xf32>, %init: tensor<2x16xf32>)
    -> tensor<2x16xf32> {
  %q = arith.constant dense<17> : tensor<16x144xi8>
  %y = qtensor.ggml_matmul %x, %q as q4_K outs(%init : tensor<2x16xf32>)
         : tensor<2x256xf32>, tensor<16x144xi8> -> tensor<2x16xf32>
  return %y : tensor<2x16xf32>
}

// -----

// q5_0's fifth bits go to a bit plane laid out like a 1-bit format: one
// plane word per 4 code words, ORed above each nibble (shift, mask, or).
// CHECK-LABEL: func.func @q5_0_constant
// CHECK-DAG: arith.constant dense_resource<{{.*}}.int8_codes> : tensor<1x8x16xi32>
// CHECK-DAG: arith.constant dense_resource<{{.*}}.int8_high_bits> : tensor<1x2x16xi32>
// CHECK-DAG: arith.constant dense_resource<{{.*}}.int8_scales> : tensor<1x2x16xf16>
// CHECK: call @[[KERNEL:__qtensor_kernel_ggml_matmul_16x64_q5_0_int8_prepacked_acc]](
// CHECK: func.func private @[[KERNEL]]_task(
// CHECK: vector.load %{{.*}} : memref<1x2x16xi32>, vector<16xi32>
// CHECK: arith.shli %{{.*}} : vector<64xi8>
// CHECK: arith.andi %{{.*}} : vector<64xi8>
// CHECK: arith.ori %{{.*}} : vector<64xi8>
// CHECK: call @__qtensor_x86_avx512_vpdpbusd_512(
func.func @q5_0_constant(%x: tensor<2x64xf32>, %init: tensor<2x16xf32>)
    -> tensor<2x16xf32> {
  %q = arith.constant dense<17> : tensor<16x44xi8>
  %y = qtensor.ggml_matmul %x, %q as q5_0 outs(%init : tensor<2x16xf32>)
         : tensor<2x64xf32>, tensor<16x44xi8> -> tensor<2x16xf32>
  return %y : tensor<2x16xf32>
}

// -----

// W8A8 (quantized_matmul) with constant int8 weights: the weights are
// prepacked (flipped to unsigned), the op's activation codes are copied
// into the packed words with their i32 sums per group, and each group adds
// (f32(dot - 128 sum) * sx) * sw to the init, the reference's epilogue in
// its order (no fused multiply-add).
// CHECK-LABEL: func.func @w8a8_constant
// CHECK-DAG: arith.constant dense_resource<{{.*}}.int8_codes> : tensor<1x16x16xi32>
// CHECK-DAG: arith.constant dense_resource<{{.*}}.int8_scales> : tensor<1x2x16xf32>
// CHECK: call @[[KERNEL:__qtensor_kernel_dequant_matmul_16x64_si8_g32_sf32_int8_prepacked_acc]](
// CHECK-SAME: memref<?x1xf32>
// CHECK: func.func private @[[KERNEL]]_task_pack(
// CHECK: arith.extsi %{{.*}} : vector<4xi8> to vector<4xi32>
// CHECK: func.func private @[[KERNEL]]_task(
// CHECK: vector.transfer_read
// CHECK: call @__qtensor_x86_avx512_vpdpbusd_512(
// CHECK: arith.subi %{{.*}} : vector<16xi32>
// CHECK: %[[F:.*]] = arith.sitofp
// CHECK: %[[SX:.*]] = arith.mulf %[[F]], %{{.*}} : vector<16xf32>
// CHECK-NEXT: %[[T:.*]] = arith.mulf %[[SX]], %{{.*}} : vector<16xf32>
// CHECK-NEXT: arith.addf %{{.*}}, %[[T]] : vector<16xf32>
func.func @w8a8_constant(%x: tensor<?x64xf32>, %init: tensor<?x16xf32>)
    -> tensor<?x16xf32> {
  %q, %s = qtensor.dynamic_quantize %x
             : tensor<?x64xf32> -> tensor<?x64xi8>, tensor<?x1xf32>
  %w = arith.constant dense<3> : tensor<16x64xi8>
  %ws = arith.constant dense<0.01> : tensor<16x2xf32>
  %y = qtensor.quantized_matmul %q, %s, %w, %ws outs(%init : tensor<?x16xf32>)
         : tensor<?x64xi8>, tensor<?x1xf32>, tensor<16x64xi8>, tensor<16x2xf32>
           -> tensor<?x16xf32>
  return %y : tensor<?x16xf32>
}

// -----

// W8A8 weights that are function arguments stay on the reference lowering.
// CHECK-LABEL: func.func @w8a8_argument
// CHECK: qtensor.quantized_matmul
func.func @w8a8_argument(%q: tensor<2x64xi8>, %s: tensor<2x1xf32>,
                         %w: tensor<16x64xi8>, %ws: tensor<16x1xf32>,
                         %init: tensor<2x16xf32>) -> tensor<2x16xf32> {
  // expected-remark@+1 {{no kernel for this product (weights that are not constants); the reference lowering computes it}}
  %y = qtensor.quantized_matmul %q, %s, %w, %ws outs(%init : tensor<2x16xf32>)
         : tensor<2x64xi8>, tensor<2x1xf32>, tensor<16x64xi8>, tensor<16x1xf32>
           -> tensor<2x16xf32>
  return %y : tensor<2x16xf32>
}
