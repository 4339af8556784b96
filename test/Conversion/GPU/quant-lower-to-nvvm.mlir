// RUN: quant-opt %s --quant-lower-to-nvvm="max-kernel-constant-bytes=256" -o %t
// RUN: FileCheck %s < %t
// RUN: FileCheck %s --check-prefix=BINARY < %t
// RUN: quant-compile %s --emit=ptx -o - | FileCheck %s --check-prefix=PTX
// RUN: quant-compile %s --emit=ptx --lowering-options="chip=sm_80" -o - | FileCheck %s --check-prefix=PTX80
// RUN: quant-compile %s --emit=llvm --lowering-options="max-kernel-constant-bytes=256" -o - | FileCheck %s --check-prefix=HOST
// RUN: not quant-opt %s --quant-lower-to-nvvm="chip=sm_70" 2>&1 | FileCheck %s --check-prefix=CHIP
// RUN: not quant-opt %s --quant-lower-to-nvvm="format=cubin" 2>&1 | FileCheck %s --check-prefix=FORMAT
// RUN: not quant-opt %s --quant-lower-to-nvvm="features=ptx80" 2>&1 | FileCheck %s --check-prefix=FEATURES
// RUN: not quant-opt %s --quant-lower-to-nvvm="block-size=48" 2>&1 | FileCheck %s --check-prefix=BLOCK
// RUN: not quant-opt %s --quant-lower-to-nvvm="compute-type=bf16" 2>&1 | FileCheck %s --check-prefix=COMPUTE

// CHIP: unsupported chip 'sm_70'
// FORMAT: format must be isa, bin or fatbin, got 'cubin'
// FEATURES: features must name a PTX version such as +ptx80, got 'ptx80'
// BLOCK: block-size must be a power of two in 32..1024
// COMPUTE: quant-lower-to-nvvm: compute-type must be f32 or f16, got 'bf16'

// Every product and elementwise op becomes a kernel of one gpu.binary; the
// host code is LLVM dialect that launches them, with the weights uploaded
// once (quantGpuDeviceConstant) and the arguments and results copied.
// CHECK-NOT: qtensor.
// CHECK-NOT: linalg.
// CHECK-NOT: scf.parallel
// CHECK-LABEL: llvm.func @dequant_int4(
// CHECK: llvm.call @quantGpuDeviceConstant(
// CHECK: gpu.launch_func <%{{.*}} : !llvm.ptr> @kernels::
// CHECK: llvm.call @mgpuMemcpy(
// CHECK-LABEL: llvm.func @lookup_nf4(
// CHECK: gpu.launch_func
// CHECK-LABEL: llvm.func @ggml_q4_0(
// CHECK: gpu.launch_func
// CHECK-LABEL: llvm.func @w8a8(
// CHECK: gpu.launch_func
// CHECK: gpu.launch_func
// CHECK-LABEL: llvm.func @silu(
// CHECK: gpu.launch_func
// CHECK: llvm.mlir.global_dtors

// One binary holds every kernel.
// BINARY-NOT: gpu.module
// BINARY: gpu.binary @kernels {{ *}}[#gpu.object<#nvvm.target<O = 3, chip = "sm_90", features = "+ptx80">
// BINARY-NOT: gpu.binary

// The PTX targets the chip, resolves every call (no libdevice externs) and
// keeps nothing in local memory; the NF4 table lives in the kernel module.
// PTX: .version 8.0
// PTX: .target sm_90
// PTX-NOT: .extern
// PTX-NOT: .local
// PTX: .global .align {{[0-9]+}} .b8 __constant_16xf32[64] = {0, 0, 128, 191,
// PTX: .visible .entry
// PTX-NOT: __nv_
// PTX-NOT: .approx
// PTX: sqrt.rn.f32
// PTX80: .version 7.0
// PTX80: .target sm_80

// HOST-DAG: declare ptr @mgpuModuleLoadJIT(ptr, i32)
// HOST-DAG: declare void @mgpuLaunchKernel(ptr, i64, i64, i64, i64, i64, i64, i32, ptr, ptr, ptr, i64)
// HOST-DAG: declare ptr @mgpuMemAlloc(i64, ptr, i8)
// HOST-DAG: declare void @mgpuMemcpy(ptr, ptr, i64, ptr)
// HOST-DAG: declare ptr @quantGpuDeviceConstant(ptr, ptr, i64)
// HOST-DAG: @llvm.global_ctors = appending global {{.*}} @kernels_load
// HOST-DAG: define void @_mlir_ciface_dequant_int4(

// Packed int4 codes (a 512-byte constant: a device buffer here).
func.func @dequant_int4(%x: tensor<2x128xf32>) -> tensor<2x8xf32> {
  %q = arith.constant dense<"0xA54DCA182530BB1D6D132CDED6237B2ED91E3F721FCB1971174494D6493C9D5C3460BE31201E69FEDAA0EEE8B9997F5C7C2999FDAFE593253CD654AF4DFAD71427A0AEB3FEE9232F8AF2211F9EE491C5B10BECB5563BFC1E6F93427ECBC8FE2955E5CD8E46DC8ED4B7C2764D2A5A4D767706F85D8690024AD6BDA3401BE9C8CBCCC935F6CD1F61226AE15338AE1A34004D33BA0D246AC04C81B1BAF23E3BF9EEF5F79F2B4934AF87F5520B69B94B0D982E85BB55B672A872637ACD7466FCB60E0E8FF18463B0E4B2BA29703474F064AC68F700F5B02B3DC666F45BDEAA2CCAEDCD2B5157410E4DEE4AF2B34F430A073447DE636C0E806C957BA684D6431FB5EAD7424D09E15D024C5848F23D1FA6F7361D7F618D1532E70E20E2A6668DE7F47E8467E546D53EC8E2A1257BDB256C9B3E4FBB498146EF7030CBF9537252DCCEADD764B6A32FBB09ADEAE109C4A997203975352B878B145C8A42D884CF4CFDA72D8E1D5DD92589082D852A7122873EE805ADD58942167A385286195C679F9C6994E45B8AB1098012070961F37DE436DDFDC99D6E75AF6547CFB11B42072482DC531C2BC3907C9617EB5E5089E40186BAA8A57D119E6FB65D00ABC32AF38E667F022E872D49CC15C90B999B772B4FC7A6FD4C914A16DB4708752B0F1544B835C0E719097DFA8701E9232F21F2812687786976EBFCC327F5931765274BA9829B4406"> : tensor<8x64xi8>
  %s = arith.constant dense<0.25> : tensor<8x4xf32>
  %z = arith.constant dense<7> : tensor<8x4xi8>
  %init = arith.constant dense<0.0> : tensor<2x8xf32>
  %y = qtensor.dequant_matmul %x, %q scales(%s : tensor<8x4xf32>)
         zero_points(%z : tensor<8x4xi8>)
         layout <ui4, block = [1, 32], packing = lsb_first>
         outs(%init : tensor<2x8xf32>)
         : tensor<2x128xf32>, tensor<8x64xi8> -> tensor<2x8xf32>
  return %y : tensor<2x8xf32>
}

func.func @lookup_nf4(%x: tensor<1x128xf32>) -> tensor<1x8xf32> {
  %q = arith.constant dense<"0xE7EEE7615EF35F30E49B482E15CAE75007201E12617B0FEDA7E1647796FF022BEA8ED02A82A175930F2337CD3794C52208006D6B1AF0C0CBD625658AAC2C9FAA07D13C447E33051EEEF95A60E56143D6C43BCAD76C008A9B0A6B5FC933154A6DE28404A897C525262E6A7C07BCBEE841F745C55D4E9F747F615164C6F728D718353713827AC883D7FB9659234074F5258F6C68082389D2E47F1E175A90BC432FB946E6A9471109F3B79F110A26F6229FA3452526E7BC1642AEB42BF227D50FFF07C3C20624292E3B83D5A9C6EAE1EC2A0F9E2CF60B7539FEF88205BC9A496756AFE2FF7BA7CF8065DC666DC470A26B4544FEB314208D5639E6F18C6DD3C3FCA1E7A426108E158FB59E0945CFE8610C887948183BE437BC276566F3835B05F1125B738BB151C9722CD2C642E6E86403C0AFEDA768323F6D7CC72C9EA48608B22A13E1AFD78CF90E6F20DB1158AB47F04CE1FC2C71E09454839FC36A9B488BFE66D23A02C10E16CD3EFB2F5521EAD3CE897EF2FC41ADDEF3A23762D60F85420B12634F740691A4B57DFF35FF3E8065DF0BC0D351686F6E4577B15CA1A1636F6331447A432D84C631DED74066CE093166B7B83BAF6024F6360C13F64B615E3A68585090301F44EC2731A7C8EFDAB5DC6BBF0614665CD0E8B8BDCF63543007A52BCF61AE848F3B51CF44A8BDDD5CCF695E24AE9AF03305B619768B99AC6ECF5D27C7"> : tensor<8x64xi8>
  %s = arith.constant dense<0.5> : tensor<8x2xf32>
  %init = arith.constant dense<0.0> : tensor<1x8xf32>
  %y = qtensor.dequant_matmul %x, %q scales(%s : tensor<8x2xf32>)
         layout <nf4, block = [1, 64], packing = msb_first>
         outs(%init : tensor<1x8xf32>)
         : tensor<1x128xf32>, tensor<8x64xi8> -> tensor<1x8xf32>
  return %y : tensor<1x8xf32>
}

func.func @ggml_q4_0(%x: tensor<3x64xf32>) -> tensor<3x8xf32> {
  %q = arith.constant dense<60> : tensor<8x36xi8>
  %init = arith.constant dense<0.0> : tensor<3x8xf32>
  %y = qtensor.ggml_matmul %x, %q as q4_0 outs(%init : tensor<3x8xf32>)
         : tensor<3x64xf32>, tensor<8x36xi8> -> tensor<3x8xf32>
  return %y : tensor<3x8xf32>
}

func.func @w8a8(%x: tensor<4x64xf32>) -> tensor<4x16xf32> {
  %q, %s = qtensor.dynamic_quantize %x
             : tensor<4x64xf32> -> tensor<4x64xi8>, tensor<4x1xf32>
  %w = arith.constant dense<3> : tensor<16x64xi8>
  %ws = arith.constant dense<0.01> : tensor<16x1xf32>
  %init = arith.constant dense<0.0> : tensor<4x16xf32>
  %y = qtensor.quantized_matmul %q, %s, %w, %ws outs(%init : tensor<4x16xf32>)
         : tensor<4x64xi8>, tensor<4x1xf32>, tensor<16x64xi8>, tensor<16x1xf32>
           -> tensor<4x16xf32>
  return %y : tensor<4x16xf32>
}

// SiLU and a square root: math ops that would otherwise become libdevice
// calls.
func.func @silu(%x: tensor<1000xf32>) -> tensor<1000xf32> {
  %init = tensor.empty() : tensor<1000xf32>
  %y = linalg.generic {indexing_maps = [affine_map<(d0) -> (d0)>, affine_map<(d0) -> (d0)>],
                       iterator_types = ["parallel"]}
      ins(%x : tensor<1000xf32>) outs(%init : tensor<1000xf32>) {
  ^bb0(%in: f32, %out: f32):
    %neg = arith.negf %in : f32
    %e = math.exp %neg : f32
    %one = arith.constant 1.0 : f32
    %d = arith.addf %one, %e : f32
    %s = arith.divf %in, %d : f32
    %a = math.absf %in : f32
    %r = math.sqrt %a : f32
    %t = arith.addf %s, %r : f32
    linalg.yield %t : f32
  } -> tensor<1000xf32>
  return %y : tensor<1000xf32>
}
