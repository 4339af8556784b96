// RUN: quant-opt %s --split-input-file --convert-qtensor-to-cpu-kernels="report-fallback" --verify-diagnostics | FileCheck %s
// RUN: quant-opt %s --split-input-file --convert-qtensor-to-cpu-kernels="threads=2" 2>/dev/null | FileCheck %s --check-prefix=PAR
// RUN: not quant-opt %s --split-input-file --convert-qtensor-to-cpu-kernels="threads=0" 2>&1 | FileCheck %s --check-prefix=ZERO

// ZERO: threads must be at least 1, got 0

// 4-bit codes in groups of 32 with zero-points: the product becomes a call
// on buffers; the kernel packs the activations, and its inner loop is 16-byte
// loads (each weight row prefetched 2 KiB ahead) widened to i32 lanes,
// nibbles split with a mask and a shift,
// converted to f32 and multiplied in with vector.fma; scales are applied
// once per group and each output is one vector.reduction.
// CHECK-LABEL: func.func @int4_groups
// CHECK-NOT: qtensor.dequant_matmul
// CHECK: bufferization.to_buffer %{{.*}} read_only : tensor<2x128xf32> to memref<2x128xf32>
// CHECK: memref.alloc() : memref<2x40xf32>
// CHECK: call @[[KERNEL:__qtensor_kernel_dequant_matmul_40x128_ui4_g32_sf32_zi8_acc]](
// CHECK: bufferization.to_tensor %{{.*}} restrict writable
// CHECK: func.func private @[[KERNEL]](%{{.*}}: memref<?x128xf32> {llvm.noalias}
// CHECK: memref.alloc(%{{.*}}) : memref<?x128xf32>
// CHECK: memref.alloc(%{{.*}}) : memref<?x4xf32>
// CHECK: scf.for
// CHECK: call @[[KERNEL]]_task(
// CHECK: func.func private @[[KERNEL]]_task(
// CHECK: memref.prefetch %{{.*}}, read, locality<3>, data : memref<40x64xi8>
// CHECK: vector.load %{{.*}} : memref<?x128xf32>, vector<16xf32>
// CHECK: vector.load %{{.*}} : memref<40x64xi8>, vector<16xi8>
// CHECK-NEXT: arith.extui %{{.*}} : vector<16xi8> to vector<16xi32>
// CHECK: arith.andi
// CHECK-NEXT: arith.sitofp %{{.*}} : vector<16xi32> to vector<16xf32>
// CHECK: arith.shrui
// CHECK-NEXT: arith.sitofp %{{.*}} : vector<16xi32> to vector<16xf32>
// CHECK-NEXT: vector.fma
// CHECK: vector.fma
// CHECK: vector.broadcast %{{.*}} : f32 to vector<16xf32>
// CHECK: vector.reduction <add>, %{{.*}} fastmath<reassoc> : vector<16xf32> into f32
// PAR-LABEL: func.func @int4_groups
// PAR: call @__qtensor_kernel_dequant_matmul_40x128_ui4_g32_sf32_zi8_acc_t2(
// PAR: scf.parallel
// PAR: call @__qtensor_kernel_dequant_matmul_40x128_ui4_g32_sf32_zi8_acc_t2_task(
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

// Signed 8-bit codes per channel: sign-extended, no packing, no sums; the
// leading dimensions of the activations are collapsed around the call.
// CHECK-LABEL: func.func @int8_channels
// CHECK: tensor.collapse_shape %{{.*}} {{\[\[}}0, 1], [2]] : tensor<2x3x48xf32> into tensor<6x48xf32>
// CHECK: call @[[KERNEL:__qtensor_kernel_dequant_matmul_8x48_si8_g48_sf16_acc]](
// CHECK: tensor.expand_shape
// CHECK: func.func private @[[KERNEL]]_task(
// CHECK: vector.load %{{.*}} : memref<8x48xi8>, vector<16xi8>
// CHECK-NEXT: arith.extsi %{{.*}} : vector<16xi8> to vector<16xi32>
// CHECK-NEXT: arith.sitofp
// CHECK: vector.fma
func.func @int8_channels(%x: tensor<2x3x48xf32>, %q: tensor<8x48xi8>,
                         %s: tensor<8x1xf16>, %init: tensor<2x3x8xf32>)
    -> tensor<2x3x8xf32> {
  %y = qtensor.dequant_matmul %x, %q scales(%s : tensor<8x1xf16>)
         layout <si8, block = [1, 0]> outs(%init : tensor<2x3x8xf32>)
         : tensor<2x3x48xf32>, tensor<8x48xi8> -> tensor<2x3x8xf32>
  return %y : tensor<2x3x8xf32>
}

// -----

// Signed 4-bit codes: both nibbles are flipped to unsigned with one xor, and
// a ragged K (100 codes) ends each row with a masked read.
// CHECK-LABEL: func.func @int4_signed_ragged
// CHECK: func.func private @{{.*}}_task(
// CHECK: arith.xori %{{.*}}, %{{.*}} : vector<16xi8>
// CHECK: vector.transfer_read %{{.*}}, %{{.*}} : memref<3x50xi8>, vector<16xi8>
func.func @int4_signed_ragged(%x: tensor<1x100xf32>, %q: tensor<3x50xi8>,
                              %s: tensor<3x1xf32>, %init: tensor<1x3xf32>)
    -> tensor<1x3xf32> {
  %y = qtensor.dequant_matmul %x, %q scales(%s : tensor<3x1xf32>)
         layout <si4, block = [1, 0], packing = lsb_first>
         outs(%init : tensor<1x3xf32>)
         : tensor<1x100xf32>, tensor<3x50xi8> -> tensor<1x3xf32>
  return %y : tensor<1x3xf32>
}

// -----

// Layouts without a kernel stay for the reference lowering, with a remark:
// codes that need repacking at compile time but are not constants, groups
// shorter than a 16-byte load of 8-bit codes, batched weights.
// CHECK-LABEL: func.func @fallbacks
// CHECK-COUNT-4: qtensor.dequant_matmul
func.func @fallbacks(%x: tensor<2x64xf32>, %q4: tensor<4x32xi8>,
                     %q3: tensor<4x24xi8>, %q8: tensor<4x64xi8>,
                     %xb: tensor<2x2x64xf32>, %qb: tensor<2x4x64xi8>,
                     %g: tensor<64xi32>,
                     %s: tensor<4x4xf32>, %s8: tensor<4x8xf32>,
                     %s1: tensor<4x1xf32>, %sb: tensor<2x4x1xf32>,
                     %init: tensor<2x4xf32>, %initb: tensor<2x2x4xf32>)
    -> (tensor<2x4xf32>, tensor<2x4xf32>, tensor<2x4xf32>, tensor<2x4xf32>,
        tensor<2x2x4xf32>) {
  // expected-remark @+1 {{no kernel for this product (3-bit codes that are not constants (the kernels read them repacked at compile time))}}
  %a = qtensor.dequant_matmul %x, %q3 scales(%s1 : tensor<4x1xf32>)
         layout <si3, block = [1, 0], packing = lsb_first>
         outs(%init : tensor<2x4xf32>)
         : tensor<2x64xf32>, tensor<4x24xi8> -> tensor<2x4xf32>
  // expected-remark @+1 {{no kernel for this product (4-bit codes in groups of 16 that are not constants (the kernels read them repacked at compile time))}}
  %b = qtensor.dequant_matmul %x, %q4 scales(%s : tensor<4x4xf32>)
         layout <ui4, block = [1, 16], packing = lsb_first>
         outs(%init : tensor<2x4xf32>)
         : tensor<2x64xf32>, tensor<4x32xi8> -> tensor<2x4xf32>
  // expected-remark @+1 {{no kernel for this product (act-order codes that are not constants (the kernels read them repacked at compile time))}}
  %c = qtensor.dequant_matmul %x, %q4 scales(%s : tensor<4x4xf32>)
         group_index(%g : tensor<64xi32>)
         layout <ui4, block = [1, 16], packing = lsb_first>
         outs(%init : tensor<2x4xf32>)
         : tensor<2x64xf32>, tensor<4x32xi8> -> tensor<2x4xf32>
  // expected-remark @+1 {{no kernel for this product (groups of 8 codes (a multiple of 16 is needed))}}
  %d = qtensor.dequant_matmul %x, %q8 scales(%s8 : tensor<4x8xf32>)
         layout <si8, block = [1, 8], packing = none>
         outs(%init : tensor<2x4xf32>)
         : tensor<2x64xf32>, tensor<4x64xi8> -> tensor<2x4xf32>
  // expected-remark @+1 {{no kernel for this product (batched [B, N, K] weights)}}
  %e = qtensor.dequant_matmul %xb, %qb scales(%sb : tensor<2x4x1xf32>)
         layout <si8, block = [1, 1, 0], packing = none>
         outs(%initb : tensor<2x2x4xf32>)
         : tensor<2x2x64xf32>, tensor<2x4x64xi8> -> tensor<2x2x4xf32>
  return %a, %b, %c, %d, %e : tensor<2x4xf32>, tensor<2x4xf32>, tensor<2x4xf32>,
                              tensor<2x4xf32>, tensor<2x2x4xf32>
}

// -----

// GPTQ act-order with constant codes: the columns are sorted into their
// groups at compile time (new codes, the group index gone) and the
// activations are gathered in that order before the call; 3-bit codes are
// widened to 4 bits on the way.
// CHECK-LABEL: func.func @act_order
// CHECK-NOT: qtensor.dequant_matmul
// CHECK: arith.constant dense_resource<{{.*}}kernel_codes{{.*}}> : tensor<4x32xi8>
// CHECK: arith.constant dense<[1, 3, 5, 7, {{.*}}, 63, 0, 2, 4, {{.*}}]> : tensor<64xi32>
// CHECK: linalg.generic
// CHECK:   tensor.extract %{{.*}}[%{{.*}}, %{{.*}}] : tensor<2x64xf32>
// CHECK: call @__qtensor_kernel_dequant_matmul_4x64_si4_g32_sf32_acc(
func.func @act_order(%x: tensor<2x64xf32>, %s: tensor<4x2xf32>,
                     %init: tensor<2x4xf32>) -> tensor<2x4xf32> {
  %q = arith.constant dense<7> : tensor<4x24xi8>
  %g = arith.constant dense<[1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0,
                             1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0,
                             1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0,
                             1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0]>
                             : tensor<64xi32>
  %y = qtensor.dequant_matmul %x, %q scales(%s : tensor<4x2xf32>)
         group_index(%g : tensor<64xi32>)
         layout <si3, block = [1, 32], packing = lsb_first>
         outs(%init : tensor<2x4xf32>)
         : tensor<2x64xf32>, tensor<4x24xi8> -> tensor<2x4xf32>
  return %y : tensor<2x4xf32>
}

// -----

// An act-order index whose groups are not runs of the group size (here
// group 0 has 40 columns, group 1 24) stays for the reference lowering.
// CHECK-LABEL: func.func @uneven_act_order
// CHECK: qtensor.dequant_matmul
func.func @uneven_act_order(%x: tensor<2x64xf32>, %s: tensor<4x2xf32>,
                            %init: tensor<2x4xf32>) -> tensor<2x4xf32> {
  %q = arith.constant dense<7> : tensor<4x32xi8>
  %g = arith.constant dense<[0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
                             0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
                             0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1,
                             1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1]>
                             : tensor<64xi32>
  // expected-remark @+1 {{no kernel for this product (act-order groups that are not runs of the group size)}}
  %y = qtensor.dequant_matmul %x, %q scales(%s : tensor<4x2xf32>)
         group_index(%g : tensor<64xi32>)
         layout <ui4, block = [1, 32], packing = lsb_first>
         outs(%init : tensor<2x4xf32>)
         : tensor<2x64xf32>, tensor<4x32xi8> -> tensor<2x4xf32>
  return %y : tensor<2x4xf32>
}

// -----

// A zero-filled init is not copied: the kernel writes the products over a
// fresh buffer, and the fill is left dead.
// CHECK-LABEL: func.func @zero_init
// CHECK-NOT: memref.copy
// CHECK: call @__qtensor_kernel_dequant_matmul_8x64_si4_g64_sf32(
// CHECK-NOT: memref.copy
// CHECK: return
func.func @zero_init(%x: tensor<5x64xf32>, %q: tensor<8x32xi8>,
                     %s: tensor<8x1xf32>) -> tensor<5x8xf32> {
  %zero = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<5x8xf32>
  %init = linalg.fill ins(%zero : f32) outs(%e : tensor<5x8xf32>) -> tensor<5x8xf32>
  %y = qtensor.dequant_matmul %x, %q scales(%s : tensor<8x1xf32>)
         layout <si4, block = [1, 0], packing = lsb_first>
         outs(%init : tensor<5x8xf32>)
         : tensor<5x64xf32>, tensor<8x32xi8> -> tensor<5x8xf32>
  return %y : tensor<5x8xf32>
}

// -----

// ggml q4_0: each block's f16 scale comes from its first two bytes, the
// codes start two bytes in, and the low and high nibbles are the block's two
// halves (no activation reordering; the offset 8 is subtracted from the
// converted codes).
// CHECK-LABEL: func.func @ggml_blocks
// CHECK: call @[[KERNEL:__qtensor_kernel_ggml_matmul_8x64_q4_0_acc]](
// CHECK: func.func private @[[KERNEL]]_task(
// CHECK: arith.bitcast %{{.*}} : i16 to f16
// CHECK: vector.load %{{.*}} : memref<8x36xi8>, vector<16xi8>
func.func @ggml_blocks(%x: tensor<3x64xf32>, %q4: tensor<8x36xi8>,
                       %init: tensor<3x8xf32>) -> tensor<3x8xf32> {
  %a = qtensor.ggml_matmul %x, %q4 as q4_0 outs(%init : tensor<3x8xf32>)
         : tensor<3x64xf32>, tensor<8x36xi8> -> tensor<3x8xf32>
  return %a : tensor<3x8xf32>
}

// -----

// q3_K and q2_K take q6_K's shape: one 16-byte load of qs holds the four
// quarters of half a super-block in its 2-bit fields (q3_K adds bit 2 from
// a load of hmask); scales (and q2_K's mins) per 16-code sub-block, q3_K's
// unpacked from its 12 bytes of 6-bit fields and less 32. Neither has an
// int8 kernel: compute=int8 leaves them to this one.
// CHECK-LABEL: func.func @ggml_low_bit_K
// CHECK: call @[[Q3:__qtensor_kernel_ggml_matmul_8x256_q3_K_acc]](
// CHECK: call @[[Q2:__qtensor_kernel_ggml_matmul_8x256_q2_K_acc]](
// CHECK: func.func private @[[Q3]]_task(
// CHECK: vector.load %{{.*}} : memref<8x110xi8>, vector<16xi8>
// CHECK: vector.load %{{.*}} : memref<8x110xi8>, vector<16xi8>
// CHECK: arith.subi %{{.*}}, %{{.*}} : i32
// CHECK: vector.fma
// CHECK: func.func private @[[Q2]]_task(
// CHECK: vector.load %{{.*}} : memref<8x84xi8>, vector<16xi8>
// CHECK: vector.fma
func.func @ggml_low_bit_K(%x: tensor<3x256xf32>, %q3: tensor<8x110xi8>,
                          %q2: tensor<8x84xi8>, %init: tensor<3x8xf32>)
    -> (tensor<3x8xf32>, tensor<3x8xf32>) {
  %a = qtensor.ggml_matmul %x, %q3 as q3_K outs(%init : tensor<3x8xf32>)
         : tensor<3x256xf32>, tensor<8x110xi8> -> tensor<3x8xf32>
  %b = qtensor.ggml_matmul %x, %q2 as q2_K outs(%init : tensor<3x8xf32>)
         : tensor<3x256xf32>, tensor<8x84xi8> -> tensor<3x8xf32>
  return %a, %b : tensor<3x8xf32>, tensor<3x8xf32>
}

// -----

// q4_K: the two nibbles of a load belong to two sub-blocks of 32 codes,
// each with a 6-bit scale and min unpacked from the super-block's 12 bytes
// once per group; the activations are packed and summed per sub-block.
// CHECK-LABEL: func.func @ggml_q4_K
// CHECK: call @[[KERNEL:__qtensor_kernel_ggml_matmul_8x512_q4_K]](
// CHECK: func.func private @[[KERNEL]](
// CHECK: memref.alloc(%{{.*}}) : memref<?x512xf32>
// CHECK: memref.alloc(%{{.*}}) : memref<?x16xf32>
// CHECK: func.func private @[[KERNEL]]_task(
// CHECK: vector.load %{{.*}} : memref<8x288xi8>, vector<16xi8>
// CHECK: arith.shrui
// CHECK: vector.fma
// CHECK: arith.andi %{{.*}}, %{{.*}} : i32
// CHECK: arith.uitofp %{{.*}} : i32 to f32
func.func @ggml_q4_K(%x: tensor<3x512xf32>, %q: tensor<8x288xi8>)
    -> tensor<3x8xf32> {
  %zero = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<3x8xf32>
  %init = linalg.fill ins(%zero : f32) outs(%e : tensor<3x8xf32>) -> tensor<3x8xf32>
  %y = qtensor.ggml_matmul %x, %q as q4_K outs(%init : tensor<3x8xf32>)
         : tensor<3x512xf32>, tensor<8x288xi8> -> tensor<3x8xf32>
  return %y : tensor<3x8xf32>
}

// -----

// Constant q4_K blocks: each sub-block's f32 scale and min are computed at
// compile time into a constant beside the blocks, which the kernel loads
// instead of unpacking the 6-bit fields (scale 1 * 1, min 1 * 1 here).
// CHECK-LABEL: func.func @ggml_q4_K_constant
// CHECK: %[[PARAMS:.*]] = arith.constant dense_resource<{{.*}}sub_block_params> : tensor<2x16xf32>
// CHECK: call @[[KERNEL:__qtensor_kernel_ggml_matmul_2x256_q4_K_params]](
// CHECK: func.func private @[[KERNEL]]_task(
// CHECK-SAME: memref<2x16xf32>
// CHECK-NOT: arith.bitcast %{{.*}} : i16 to f16
// CHECK: vector.fma
// CHECK: memref.load %{{.*}} : memref<2x16xf32>
// CHECK: memref.load %{{.*}} : memref<2x16xf32>
func.func @ggml_q4_K_constant(%x: tensor<3x256xf32>) -> tensor<3x2xf32> {
  %q = arith.constant dense<"0x003C003C0101010101010101010101015555555555555555555555555555555555555555555555555555555555555555555555555555555555555555555555555555555555555555555555555555555555555555555555555555555555555555555555555555555555555555555555555555555555555555555555555555555555555555555555555555555555555555003C003C0101010101010101010101015555555555555555555555555555555555555555555555555555555555555555555555555555555555555555555555555555555555555555555555555555555555555555555555555555555555555555555555555555555555555555555555555555555555555555555555555555555555555555555555555555555555555555"> : tensor<2x144xi8>
  %zero = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<3x2xf32>
  %init = linalg.fill ins(%zero : f32) outs(%e : tensor<3x2xf32>) -> tensor<3x2xf32>
  %y = qtensor.ggml_matmul %x, %q as q4_K outs(%init : tensor<3x2xf32>)
         : tensor<3x256xf32>, tensor<2x144xi8> -> tensor<3x2xf32>
  return %y : tensor<3x2xf32>
}

// -----

// q5_K is q4_K with bit 4 of each code in the 32 bytes qh after the
// scales: one more 16-byte load per load of nibbles, shifted by the run's
// bit (2 c + field) and or-ed in above the nibble.
// CHECK-LABEL: func.func @ggml_q5_K
// CHECK: call @[[KERNEL:__qtensor_kernel_ggml_matmul_8x256_q5_K]](
// CHECK: func.func private @[[KERNEL]]_task(
// CHECK: vector.load %{{.*}} : memref<8x176xi8>, vector<16xi8>
// CHECK: vector.load %{{.*}} : memref<8x176xi8>, vector<16xi8>
// CHECK: arith.shrui %{{.*}}, %{{.*}} : vector<16xi32>
// CHECK: arith.shli %{{.*}}, %{{.*}} : vector<16xi32>
// CHECK: arith.ori %{{.*}}, %{{.*}} : vector<16xi32>
// CHECK: vector.fma
func.func @ggml_q5_K(%x: tensor<3x256xf32>, %q: tensor<8x176xi8>)
    -> tensor<3x8xf32> {
  %zero = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<3x8xf32>
  %init = linalg.fill ins(%zero : f32) outs(%e : tensor<3x8xf32>) -> tensor<3x8xf32>
  %y = qtensor.ggml_matmul %x, %q as q5_K outs(%init : tensor<3x8xf32>)
         : tensor<3x256xf32>, tensor<8x176xi8> -> tensor<3x8xf32>
  return %y : tensor<3x8xf32>
}

// -----

// q4_1: an f16 min after each block's f16 scale (w = d c + m), subtracted
// as -m times the block's activation sum.
// CHECK-LABEL: func.func @ggml_q4_1
// CHECK: call @[[KERNEL:__qtensor_kernel_ggml_matmul_8x64_q4_1]](
// CHECK: func.func private @[[KERNEL]]_task(
// CHECK: vector.load %{{.*}} : memref<8x40xi8>, vector<16xi8>
// CHECK: arith.negf %{{.*}} : f32
func.func @ggml_q4_1(%x: tensor<3x64xf32>, %q: tensor<8x40xi8>)
    -> tensor<3x8xf32> {
  %zero = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<3x8xf32>
  %init = linalg.fill ins(%zero : f32) outs(%e : tensor<3x8xf32>) -> tensor<3x8xf32>
  %y = qtensor.ggml_matmul %x, %q as q4_1 outs(%init : tensor<3x8xf32>)
         : tensor<3x64xf32>, tensor<8x40xi8> -> tensor<3x8xf32>
  return %y : tensor<3x8xf32>
}

// -----

// q6_K: each load of 16 lanes is 4 fields of 6-bit codes, a nibble of ql
// and two bits of qh, with one int8 scale per 16 codes and z = 32, which
// is subtracted from the converted codes (no activation sums).
// CHECK-LABEL: func.func @ggml_q6_K
// CHECK: call @[[KERNEL:__qtensor_kernel_ggml_matmul_8x256_q6_K]](
// CHECK: func.func private @[[KERNEL]](
// CHECK: memref.alloc(%{{.*}}) : memref<?x256xf32>
// CHECK-NOT: memref<?x16xf32>
// CHECK: func.func private @[[KERNEL]]_task(
// CHECK-COUNT-3: vector.load %{{.*}} : memref<8x210xi8>, vector<16xi8>
// CHECK: arith.ori %{{.*}} : vector<16xi32>
// CHECK: arith.sitofp %{{.*}} : vector<16xi32> to vector<16xf32>
// CHECK: arith.subf %{{.*}}, %{{.*}} : vector<16xf32>
// CHECK: vector.fma
// CHECK: arith.sitofp %{{.*}} : i8 to f32
func.func @ggml_q6_K(%x: tensor<3x256xf32>, %q: tensor<8x210xi8>)
    -> tensor<3x8xf32> {
  %zero = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<3x8xf32>
  %init = linalg.fill ins(%zero : f32) outs(%e : tensor<3x8xf32>) -> tensor<3x8xf32>
  %y = qtensor.ggml_matmul %x, %q as q6_K outs(%init : tensor<3x8xf32>)
         : tensor<3x256xf32>, tensor<8x210xi8> -> tensor<3x8xf32>
  return %y : tensor<3x8xf32>
}

// -----

// q5_0: bit 4 of code i is bit i of the block's word before its codes,
// shifted out per lane; z = 16.
// CHECK-LABEL: func.func @ggml_q5_0
// CHECK: call @[[KERNEL:__qtensor_kernel_ggml_matmul_8x64_q5_0]](
// CHECK: func.func private @[[KERNEL]]_task(
// CHECK: vector.load %{{.*}} : memref<8x44xi8>, vector<16xi8>
// CHECK: vector.load %{{.*}} : memref<8x44xi8>, vector<4xi8>
// CHECK-NEXT: vector.bitcast %{{.*}} : vector<4xi8> to vector<1xi32>
// CHECK: arith.shrui %{{.*}}, %{{.*}} : vector<16xi32>
// CHECK: arith.ori %{{.*}}, %{{.*}} : vector<16xi32>
func.func @ggml_q5_0(%x: tensor<3x64xf32>, %q: tensor<8x44xi8>)
    -> tensor<3x8xf32> {
  %zero = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<3x8xf32>
  %init = linalg.fill ins(%zero : f32) outs(%e : tensor<3x8xf32>) -> tensor<3x8xf32>
  %y = qtensor.ggml_matmul %x, %q as q5_0 outs(%init : tensor<3x8xf32>)
         : tensor<3x64xf32>, tensor<8x44xi8> -> tensor<3x8xf32>
  return %y : tensor<3x8xf32>
}

// -----

// W8A8 products have a kernel only with compute=int8 (their integer dots
// need VNNI); with exact f32 kernels they stay on the reference lowering.
// CHECK-LABEL: func.func @w8a8_needs_int8
// CHECK: qtensor.quantized_matmul
func.func @w8a8_needs_int8(%q: tensor<2x64xi8>, %s: tensor<2x1xf32>,
                           %init: tensor<2x16xf32>) -> tensor<2x16xf32> {
  %w = arith.constant dense<3> : tensor<16x64xi8>
  %ws = arith.constant dense<0.01> : tensor<16x1xf32>
  // expected-remark@+1 {{no kernel for this product (W8A8 products need compute=int8 (and prepack-int8)); the reference lowering computes it}}
  %y = qtensor.quantized_matmul %q, %s, %w, %ws outs(%init : tensor<2x16xf32>)
         : tensor<2x64xi8>, tensor<2x1xf32>, tensor<16x64xi8>, tensor<16x1xf32>
           -> tensor<2x16xf32>
  return %y : tensor<2x16xf32>
}

// -----

// A gated epilogue: the kernel's tasks write the products of all 40 rows
// into a scratch buffer; each task's wrapper runs the task, then applies
// the epilogue to its block (16 gate rows at 32 t, the up rows after the
// block's count of them) on 16-lane vectors, masked to the block.
// CHECK-LABEL: func.func @gated
// CHECK: %[[OUT:.*]] = memref.alloc() : memref<2x20xf32>
// CHECK: memref.copy %{{.*}}, %[[OUT]]
// CHECK: call @[[KERNEL:__qtensor_kernel_dequant_matmul_40x32_si8_g32_sf32_gated[0-9a-fx]+_init]](
// CHECK: func.func private @[[KERNEL]](
// CHECK: %[[P:.*]] = memref.alloc(%{{.*}}) : memref<?x40xf32>
// CHECK: call @[[KERNEL]]_task_epilogue(%{{.*}}, %[[P]], %{{.*}}) : (index, {{.*}}, memref<?x40xf32>, memref<?x20xf32>) -> ()
// CHECK: func.func private @[[KERNEL]]_task_epilogue(%[[T:.*]]: index, {{.*}}, %[[PB:.*]]: memref<?x40xf32> {llvm.noalias}, %[[OB:.*]]: memref<?x20xf32> {llvm.noalias}) {
// CHECK: call @[[KERNEL]]_task(%[[T]], {{.*}}, %[[PB]])
// CHECK: %[[MASK:.*]] = vector.create_mask %{{.*}} : vector<16xi1>
// CHECK: scf.for
// CHECK: %[[G:.*]] = vector.maskedload %[[PB]]
// CHECK: %[[U:.*]] = vector.maskedload %[[PB]]
// CHECK: %[[I:.*]] = vector.maskedload %[[OB]]
// CHECK: %[[M:.*]] = arith.mulf %[[G]], %[[U]] : vector<16xf32>
// CHECK: %[[R:.*]] = arith.addf %[[M]], %[[I]] : vector<16xf32>
// CHECK: vector.maskedstore %[[OB]][%{{.*}}], %[[MASK]], %[[R]]
func.func @gated(%x: tensor<2x32xf32>, %q: tensor<40x32xi8>, %s: tensor<40x1xf32>, %i: tensor<2x20xf32>) -> tensor<2x20xf32> {
  %y = qtensor.dequant_matmul %x, %q scales(%s : tensor<40x1xf32>) layout <si8, block = [1, 0]> outs(%i : tensor<2x20xf32>) gated(16) {
  ^bb0(%g: f32, %u: f32, %o: f32):
    %m = arith.mulf %g, %u : f32
    %r = arith.addf %m, %o : f32
    qtensor.yield %r : f32
  } : tensor<2x32xf32>, tensor<40x32xi8> -> tensor<2x20xf32>
  return %y : tensor<2x20xf32>
}

// -----

// Blocks of another size than a task's 16 + 16 rows: the reference
// lowering computes the product.
// CHECK-LABEL: func.func @gated_block_8
// CHECK: qtensor.dequant_matmul
func.func @gated_block_8(%x: tensor<2x32xf32>, %q: tensor<40x32xi8>, %s: tensor<40x1xf32>, %i: tensor<2x20xf32>) -> tensor<2x20xf32> {
  // expected-remark@+1 {{no kernel for this product (gated epilogue in blocks of 8 rows (a task is a block of 16 gate and 16 up rows))}}
  %y = qtensor.dequant_matmul %x, %q scales(%s : tensor<40x1xf32>) layout <si8, block = [1, 0]> outs(%i : tensor<2x20xf32>) gated(8) {
  ^bb0(%g: f32, %u: f32, %o: f32):
    %m = arith.mulf %g, %u : f32
    qtensor.yield %m : f32
  } : tensor<2x32xf32>, tensor<40x32xi8> -> tensor<2x20xf32>
  return %y : tensor<2x20xf32>
}
