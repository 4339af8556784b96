// RUN: quant-opt %s --split-input-file --convert-qtensor-to-cpu-kernels | FileCheck %s --check-prefix=GENERIC
// RUN: quant-opt %s --split-input-file --convert-qtensor-to-cpu-kernels="isa=avx2" | FileCheck %s --check-prefix=AVX2
// RUN: quant-opt %s --split-input-file --convert-qtensor-to-cpu-kernels="isa=avx512 compute=int8 report-fallback" 2>&1 | FileCheck %s --check-prefix=AVX512
// Each form compiles to x86 machine code with the lookup instructions.
// RUN: quant-opt %s --quant-lower-to-llvm="isa=avx512" | mlir-translate --mlir-to-llvmir | llc -O2 -mattr=+avx512f | FileCheck %s --check-prefix=ASM512
// RUN: quant-opt %s --quant-lower-to-llvm="isa=avx2" | mlir-translate --mlir-to-llvmir | llc -O2 -mattr=+avx2,+fma | FileCheck %s --check-prefix=ASM2

// nf4 codes in groups of 64, high nibble first (bitsandbytes): each field
// of a 16-byte load indexes the 16-entry table in a register instead of
// being converted to f32.
// GENERIC: memref.global "private" constant @__qtensor_nf4_table : memref<16xf32> = dense<[-1.000000e+00,
// GENERIC-LABEL: func.func @nf4_groups
// GENERIC: call @[[KERNEL:__qtensor_kernel_dequant_matmul_8x128_nf4msb_g64_sf32]](
// GENERIC: func.func private @[[KERNEL]]_task(
// GENERIC: vector.load %{{.*}} : memref<8x64xi8>, vector<16xi8>
// GENERIC: memref.get_global @__qtensor_nf4_table
// GENERIC: vector.gather
// GENERIC-NOT: arith.sitofp
// GENERIC: vector.fma

// AVX2-LABEL: func.func @nf4_groups
// AVX2: call @[[KERNEL:__qtensor_kernel_dequant_matmul_8x128_nf4msb_avx2_g64_sf32]](
// AVX2: func.func private @[[KERNEL]]_task(
// AVX2: vector.extract_strided_slice %{{.*}} {offsets = [0], sizes = [8], strides = [1]} : vector<16xi32> to vector<8xi32>
// AVX2: call @__qtensor_x86_avx2_permps(
// AVX2: call @__qtensor_x86_avx2_permps(
// AVX2: arith.select
// AVX2-NOT: arith.sitofp
// AVX2: vector.fma
// AVX2: func.func private @__qtensor_x86_avx2_permps(vector<8xf32>, vector<8xi32>) -> vector<8xf32> attributes {qtensor.llvm_intrinsic = "llvm.x86.avx2.permps"}

// The int8 kernel does not take lookup codes.
// AVX512: remark: convert-qtensor-to-cpu-kernels: no int8 kernel for this product (nf4 codes are not integers); the exact f32 kernel computes it
// AVX512-LABEL: func.func @nf4_groups
// AVX512: call @[[KERNEL:__qtensor_kernel_dequant_matmul_8x128_nf4msb_avx512_g64_sf32]](
// AVX512: func.func private @[[KERNEL]]_task(
// AVX512: call @__qtensor_x86_avx512_permvar_sf_512(%{{.*}}, %{{.*}}) : (vector<16xf32>, vector<16xi32>) -> vector<16xf32>
// AVX512-NOT: arith.sitofp
// AVX512: vector.fma
// AVX512: func.func private @__qtensor_x86_avx512_permvar_sf_512(vector<16xf32>, vector<16xi32>) -> vector<16xf32> attributes {qtensor.llvm_intrinsic = "llvm.x86.avx512.permvar.sf.512"}

// ASM512-LABEL: __qtensor_kernel_dequant_matmul_8x128_nf4msb_avx512_g64_sf32_task:
// ASM512: {{vpermps|vpermd}} {{.*}}zmm
// ASM2-LABEL: __qtensor_kernel_dequant_matmul_8x128_nf4msb_avx2_g64_sf32_task:
// ASM2: {{vpermps|vpermd}} {{.*}}ymm
func.func @nf4_groups(%x: tensor<2x128xf32>, %q: tensor<8x64xi8>,
                      %s: tensor<8x2xf32>) -> tensor<2x8xf32> {
  %zero = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<2x8xf32>
  %init = linalg.fill ins(%zero : f32) outs(%e : tensor<2x8xf32>) -> tensor<2x8xf32>
  %y = qtensor.dequant_matmul %x, %q scales(%s : tensor<8x2xf32>)
         layout <nf4, block = [1, 64], packing = msb_first>
         outs(%init : tensor<2x8xf32>)
         : tensor<2x128xf32>, tensor<8x64xi8> -> tensor<2x8xf32>
  return %y : tensor<2x8xf32>
}

// -----

// bitsandbytes' flat blocks that divide K are groups of each row: the flat
// codes and absmax scales are reshaped into [N, ...] matrices at the call.
// FP4 is the other 16-entry table.
// GENERIC: memref.global "private" constant @__qtensor_fp4_table
// GENERIC-LABEL: func.func @fp4_flat_blocks
// GENERIC: tensor.expand_shape %{{.*}} {{\[\[}}0, 1]] output_shape [8, 32] : tensor<256xi8> into tensor<8x32xi8>
// GENERIC: tensor.expand_shape %{{.*}} {{\[\[}}0, 1]] output_shape [8, 2] : tensor<16xf32> into tensor<8x2xf32>
// GENERIC: call @__qtensor_kernel_dequant_matmul_8x64_fp4msb_g32_sf32(
// AVX512-LABEL: func.func @fp4_flat_blocks
// AVX512: call @__qtensor_kernel_dequant_matmul_8x64_fp4msb_avx512_g32_sf32(
// ASM512-LABEL: __qtensor_kernel_dequant_matmul_8x64_fp4msb_avx512_g32_sf32_task:
// ASM512: {{vpermps|vpermd}} {{.*}}zmm
// ASM2-LABEL: __qtensor_kernel_dequant_matmul_8x64_fp4msb_avx2_g32_sf32_task:
// ASM2: {{vpermps|vpermd}} {{.*}}ymm
func.func @fp4_flat_blocks(%x: tensor<3x64xf32>, %q: tensor<256xi8>,
                           %s: tensor<16xf32>) -> tensor<3x8xf32> {
  %zero = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<3x8xf32>
  %init = linalg.fill ins(%zero : f32) outs(%e : tensor<3x8xf32>) -> tensor<3x8xf32>
  %y = qtensor.dequant_matmul %x, %q scales(%s : tensor<16xf32>)
         layout <fp4, block = [32], packing = msb_first>
         outs(%init : tensor<3x8xf32>)
         : tensor<3x64xf32>, tensor<256xi8> -> tensor<3x8xf32>
  return %y : tensor<3x8xf32>
}

// -----

// FP8 codes are converted, not looked up: an e4m3fn code's bits move into
// an f16 (the value times 2^-8), which is widened and multiplied by 256,
// with a select for the NaN codes; an e5m2 code is an f16's high byte.
// bitsandbytes' dynamic8 codes are gathered from their 256-entry table.
// GENERIC: memref.global "private" constant @__qtensor_dynamic8_table : memref<256xf32>
// GENERIC-LABEL: func.func @eight_bit_codes
// GENERIC: call @[[E4M3:__qtensor_kernel_dequant_matmul_8x64_f8E4M3FN_g64_sf32]](
// GENERIC: call @[[E5M2:__qtensor_kernel_dequant_matmul_8x64_f8E5M2_g32_sbf16]](
// GENERIC: call @[[DYN:__qtensor_kernel_dequant_matmul_8x64_dynamic8_g64_sf32]](
// GENERIC: func.func private @[[E4M3]]_task(
// GENERIC: arith.trunci %{{.*}} : vector<16xi32> to vector<16xi16>
// GENERIC: arith.bitcast %{{.*}} : vector<16xi16> to vector<16xf16>
// GENERIC: arith.extf %{{.*}} : vector<16xf16> to vector<16xf32>
// GENERIC: arith.mulf %{{.*}}, %{{.*}} : vector<16xf32>
// GENERIC: arith.select %{{.*}}, %{{.*}}, %{{.*}} : vector<16xi1>, vector<16xf32>
// GENERIC-NOT: vector.gather
// GENERIC: vector.fma
// GENERIC: func.func private @[[E5M2]]_task(
// GENERIC: arith.shli %{{.*}}, %{{.*}} : vector<16xi16>
// GENERIC-NEXT: arith.bitcast %{{.*}} : vector<16xi16> to vector<16xf16>
// GENERIC-NOT: vector.gather
// GENERIC: vector.fma
// GENERIC: func.func private @[[DYN]]_task(
// GENERIC: memref.get_global @__qtensor_dynamic8_table : memref<256xf32>
// GENERIC: vector.gather
// GENERIC: vector.fma
func.func @eight_bit_codes(%x: tensor<2x64xf32>, %q: tensor<8x64xi8>,
                           %s: tensor<8x1xf32>, %sb: tensor<8x2xbf16>,
                           %sd: tensor<8x1xf32>)
    -> (tensor<2x8xf32>, tensor<2x8xf32>, tensor<2x8xf32>) {
  %zero = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<2x8xf32>
  %init = linalg.fill ins(%zero : f32) outs(%e : tensor<2x8xf32>) -> tensor<2x8xf32>
  %a = qtensor.dequant_matmul %x, %q scales(%s : tensor<8x1xf32>)
         layout <f8E4M3FN, block = [1, 0], packing = none>
         outs(%init : tensor<2x8xf32>)
         : tensor<2x64xf32>, tensor<8x64xi8> -> tensor<2x8xf32>
  %b = qtensor.dequant_matmul %x, %q scales(%sb : tensor<8x2xbf16>)
         layout <f8E5M2, block = [1, 32], packing = none>
         outs(%init : tensor<2x8xf32>)
         : tensor<2x64xf32>, tensor<8x64xi8> -> tensor<2x8xf32>
  %c = qtensor.dequant_matmul %x, %q scales(%sd : tensor<8x1xf32>)
         layout <dynamic8, block = [1, 64], packing = none>
         outs(%init : tensor<2x8xf32>)
         : tensor<2x64xf32>, tensor<8x64xi8> -> tensor<2x8xf32>
  return %a, %b, %c : tensor<2x8xf32>, tensor<2x8xf32>, tensor<2x8xf32>
}
