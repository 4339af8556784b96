// RUN: quant-opt %s --split-input-file --verify-diagnostics --convert-qtensor-to-gpu-kernels="report-fallback" | FileCheck %s
// RUN: quant-compile %s --emit=ptx -o - | FileCheck %s --check-prefix=PTX

// A warp per channel, 4 warps per block, 8 activation rows per block row;
// 16-byte code loads, magic-number decode (or into 2^23, subtract the
// biased zero-point), FMAs, one scale per lane step, butterfly shuffles.
// CHECK-LABEL: func.func @int4_grouped
// CHECK-DAG: %[[X:.*]] = bufferization.to_buffer %{{.*}} read_only : tensor<3x256xf32> to memref<3x256xf32>
// CHECK-DAG: %[[OUT:.*]] = memref.alloc() : memref<3x8xf32>
// CHECK: gpu.launch blocks({{.*}}) in (%{{.*}} = %c2{{.*}}, %{{.*}} = %{{.*}}, %{{.*}} = %c1{{.*}}) threads({{.*}}) in (%{{.*}} = %c32{{.*}}, %{{.*}} = %c4{{.*}}, %{{.*}} = %c1{{.*}})
// CHECK: scf.for
// CHECK: vector.load %{{.*}} {alignment = 16 : i64} : memref<8x128xi8>, vector<16xi8>
// CHECK: vector.bitcast %{{.*}} : vector<16xi8> to vector<4xi32>
// CHECK: arith.ori %{{.*}}, %c1258291200_i32
// CHECK: arith.bitcast %{{.*}} : i32 to f32
// CHECK: arith.subf
// CHECK: math.fma
// CHECK: gpu.shuffle xor %{{.*}}, %c16_i32, %c32_i32 : f32
// CHECK: memref.store
// CHECK: bufferization.to_tensor %[[OUT]] restrict writable
// CHECK-NOT: qtensor.dequant_matmul
func.func @int4_grouped(%x: tensor<3x256xf32>) -> tensor<3x8xf32> {
  %q = arith.constant dense<"0x7942BDF22106F0847762F0F3CB4D764DC7072051159A0F89F2C6DACAE344BB311245FD6F84DF9AD7C5B3D076AC0E8F53A7356C88913F20F6F72DB022D24D0A96DAD43C1617C1A98E78129E0327371065D095864F15ADA0B846C1C0EBC5348ADC799ADF849BAD05D4A10AC0441EAAEEB4B48EFA0B1F0ABD80E998A35ABA5EA0BD8799C1350D439E71897AA75FDE3134A4AA72E05628AC6FE68A733D1161A15D8EAE2BB042D7958AEDB1D594D6D112D34F6602F4DE7110E993AE7422923D7D171165DC1906F63D57997A0AD31B3AAE4081F41FB471653E3D577A8C4103F9CC198A7F89D81AF2A5001C40173F1923F7102CFAA150A124B3C5C79BB88761A8DB3F4101C2285B15BFEBC216DC1BBEFEA1D7D6EB097D6F8A24D972DA420EA6BF863EED3FC037A33402F24978C7162F32C05B0CAE3E0D3AF691992D127A36331FA65C277B5C7FE8C981BCCBB3D62AC078D352D4F74FCD4C5331FEF7E25F4588654BA17697D3886F9D0B89F5C36658B87AA4F749D6F569EF0EF625CC17EF7578236F827B6184465F12825617A05DD82E2B3C2F879512B6E7AC030FABA9DFC2F8276BFAC840A33D8C27DD39E08031BFBCE6978736AD3AFCB41E965D4C5BBDE83F3748A9D7995FEAF69F5A23365CC8B733888AC41B4515F58A7EB5AACEE523B4FE394D8A3339395E60D5C8414ACB63575B6780BD960FE3D0C4A19EFE99F70F61013777FB58EB65636C12E339914E45EF2D190DB87727FF09ADA5A8B044291128AF692066DF71F8A13715D1276652C8FEF222D86AFA9B0BEDEACDE05CE91383BBBDE5B9CD72016B84BD49EB63516B0B57CE560E473856E2FB5E1E0BCEE5A2D0101A7ACE14CBFC0D707B30C7F26154AA3BB13F1A948CEE99FA7F880FACB0A22F1DDE2D01350F2E095712F61B60A966F4AEF5B311C39CC92C965ED33AC7ABCE59C5B75EB9D4E075E3F6B08956C6F9154E570BEF2F31A3791C18E6EEAABD002463CC35AD9F38E6296B7B184E49053975936A70D6A360EF5A2815390C3366822B37EECC7237F8B1CEE43895E3C2693B03ED9927AEB162F824BAD8226D7FB31FAB78DCE02B806FA554696FEDD6BC61D1F7D0F01195095E310E4D961FF114636A8DFBDD13B0EF64934934E399D2E327694EF991C0BE52DC9FEDF271B893920FEDBFB7987C0507434C0A54190068EEB5B911FA5E7A068DDDAD1A30E69F867EFFD685AD160FDB13547E45D3AC448F08561708F81EEBEFD4BD57965D254734D0B4E3E88E82E7904FA14713D2F876EA8B0FA23BF9408F8934DE26BE11F9E5639FB15CC4CBA1198A6D13A2A2C8901243D580D328FD7566283A3F029023DC89F7EC8994185978F956494C5BEFCB0448C81B5C5A9F61424B184D6DC336DDC75D0D8F35433A4A9740C4B4276203BD48F47D20B5F835A0F20AB0E2D0ED9CE24CE9C466975B9955A28867421B1D"> : tensor<8x128xi8>
  %s = arith.constant dense<0.125> : tensor<8x8xf32>
  %z = arith.constant dense<7> : tensor<8x8xi8>
  %init = arith.constant dense<0.0> : tensor<3x8xf32>
  %y = qtensor.dequant_matmul %x, %q scales(%s : tensor<8x8xf32>)
         zero_points(%z : tensor<8x8xi8>)
         layout <ui4, block = [1, 32], packing = lsb_first>
         outs(%init : tensor<3x8xf32>)
         : tensor<3x256xf32>, tensor<8x128xi8> -> tensor<3x8xf32>
  return %y : tensor<3x8xf32>
}

// -----

// Signed 8-bit codes are flipped (xor 0x80808080); a non-zero init is
// copied into the output and added to.
// CHECK-LABEL: func.func @int8_per_channel
// CHECK: memref.copy
// CHECK: gpu.launch
// CHECK: arith.xori %{{.*}}, %c-2139062144_i32
// CHECK: memref.load %{{.*}} : memref<?x4xf32>
// CHECK: arith.addf
// CHECK: memref.store
func.func @int8_per_channel(%x: tensor<?x64xf32>, %init: tensor<?x4xf32>) -> tensor<?x4xf32> {
  %q = arith.constant dense<"0xD15B3A07503ECEBF8C2FEDE1A64A6FA5E9BFA2B7B0AE92988A5D3F71AE7F90DE88E742F4AB5AE21A23D5D9951E79C3C46C26BB6D1CFC3CDCC7B90699BEBDCCE0BE35FD4AA57000BD200047296BA4DE90640F0EA0E3BA6DE1AD3DC173F3479D92613C582BDC0EB3C303FA5EF28C47C768DD98DF92312A20E2A42104A6F5D830A9D673A567C82D1A0D7A2B5C76F0CA91B0E9746798AF44BAB5A168E41EDD9F63FC6E5E35E93DCB6CA15F13A7FF7EC41D79CDBBC7725A9180B0861BAE386A709BE258567DF76B6EBA7659C9D95A9AE2BF1C28EAFA095A89D6FD71C7F8B1CFF75B3AD6AD49A437B24B98F44DE4BFFC15B1672F9B93A5D29505D8B3D8F5BD5C7F9760"> : tensor<4x64xi8>
  %s = arith.constant dense<0.5> : tensor<4x1xf16>
  %y = qtensor.dequant_matmul %x, %q scales(%s : tensor<4x1xf16>)
         layout <si8, block = [1, 0]>
         outs(%init : tensor<?x4xf32>)
         : tensor<?x64xf32>, tensor<4x64xi8> -> tensor<?x4xf32>
  return %y : tensor<?x4xf32>
}

// -----

func.func @ragged(%x: tensor<1x48xf32>, %q: tensor<4x24xi8>, %s: tensor<4x1xf32>,
                  %init: tensor<1x4xf32>) -> tensor<1x4xf32> {
  // expected-remark@+1 {{convert-qtensor-to-gpu-kernels: no GPU kernel for this product (K = 48 (a multiple of 32 is needed)); the generic loop mapping computes it}}
  %y = qtensor.dequant_matmul %x, %q scales(%s : tensor<4x1xf32>)
         layout <ui4, block = [1, 0], packing = lsb_first>
         outs(%init : tensor<1x4xf32>)
         : tensor<1x48xf32>, tensor<4x24xi8> -> tensor<1x4xf32>
  return %y : tensor<1x4xf32>
}

// -----

// NF4 (bitsandbytes order: high nibble first): each code is one load from
// the 16-entry table (a small constant: quant-place-buffers-on-gpu moves it
// into the kernel module), and the group scale multiplies the lane's sum
// once.
// CHECK-LABEL: func.func @nf4_grouped
// CHECK: %[[VALUES:.*]] = arith.constant dense<[-1.000000e+00, {{.*}}, 1.000000e+00]> : tensor<16xf32>
// CHECK: %[[TABLE:.*]] = bufferization.to_buffer %[[VALUES]]
// CHECK: gpu.launch
// CHECK: scf.for
// CHECK: arith.index_castui %{{.*}} : i32 to index
// CHECK: memref.load %[[TABLE]][%{{.*}}] : memref<16xf32>
// CHECK: math.fma
// CHECK: gpu.shuffle xor
func.func @nf4_grouped(%x: tensor<?x128xf32>, %q: tensor<8x64xi8>,
                       %s: tensor<8x2xf32>, %init: tensor<?x8xf32>)
    -> tensor<?x8xf32> {
  %y = qtensor.dequant_matmul %x, %q scales(%s : tensor<8x2xf32>)
         layout <nf4, block = [1, 64], packing = msb_first>
         outs(%init : tensor<?x8xf32>)
         : tensor<?x128xf32>, tensor<8x64xi8> -> tensor<?x8xf32>
  return %y : tensor<?x8xf32>
}

// -----

// FP8 E4M3FN: the byte's exponent and mantissa go into an f32's bits
// (<< 20), times 2^120 (exact for normal and subnormal codes); 0x7F/0xFF are
// NaN.
// CHECK-LABEL: func.func @fp8_e4m3
// CHECK: gpu.launch
// CHECK: arith.andi %{{.*}}, %c127_i32
// CHECK: arith.shli %{{.*}}, %c20_i32
// CHECK: arith.mulf %{{.*}}, %cst{{.*}} : f32
// CHECK: arith.cmpi uge, %{{.*}}, %c127_i32
// CHECK: arith.select
// CHECK: math.fma
func.func @fp8_e4m3(%x: tensor<1x64xf32>, %q: tensor<4x64xi8>,
                    %s: tensor<4x1xf32>, %init: tensor<1x4xf32>)
    -> tensor<1x4xf32> {
  %y = qtensor.dequant_matmul %x, %q scales(%s : tensor<4x1xf32>)
         layout <f8E4M3FN, block = [1, 0]>
         outs(%init : tensor<1x4xf32>)
         : tensor<1x64xf32>, tensor<4x64xi8> -> tensor<1x4xf32>
  return %y : tensor<1x4xf32>
}

// -----

// FP8 E5M2: << 21, times 2^112; 0x7C and above are infinities and NaNs.
// CHECK-LABEL: func.func @fp8_e5m2
// CHECK: arith.shli %{{.*}}, %c21_i32
// CHECK: arith.cmpi uge, %{{.*}}, %c124_i32
// CHECK: arith.ori %{{.*}}, %c2139095040_i32
func.func @fp8_e5m2(%x: tensor<1x64xf32>, %q: tensor<4x64xi8>,
                    %s: tensor<4x1xf32>, %init: tensor<1x4xf32>)
    -> tensor<1x4xf32> {
  %y = qtensor.dequant_matmul %x, %q scales(%s : tensor<4x1xf32>)
         layout <f8E5M2, block = [1, 0]>
         outs(%init : tensor<1x4xf32>)
         : tensor<1x64xf32>, tensor<4x64xi8> -> tensor<1x4xf32>
  return %y : tensor<1x4xf32>
}

// -----

func.func @dynamic8(%x: tensor<1x64xf32>, %q: tensor<4x64xi8>,
                    %s: tensor<4x1xf32>, %init: tensor<1x4xf32>)
    -> tensor<1x4xf32> {
  // expected-remark@+1 {{convert-qtensor-to-gpu-kernels: no GPU kernel for this product (dynamic8 codes); the generic loop mapping computes it}}
  %y = qtensor.dequant_matmul %x, %q scales(%s : tensor<4x1xf32>)
         layout <dynamic8, block = [1, 0]>
         outs(%init : tensor<1x4xf32>)
         : tensor<1x64xf32>, tensor<4x64xi8> -> tensor<1x4xf32>
  return %y : tensor<1x4xf32>
}

// -----

// ggml q4_0: each lane reads one 18-byte block (2-byte aligned): its f16
// scale, then 16 bytes of codes whose low nibbles are codes 0-15 and high
// nibbles 16-31; the offset 8 is subtracted with the magic bias.
// CHECK-LABEL: func.func @ggml_q4_0
// CHECK: gpu.launch
// CHECK: %[[HEADER:.*]] = vector.load %{{.*}} {alignment = 2 : i64} : memref<4x36xi8>, vector<2xi8>
// CHECK: vector.bitcast %[[HEADER]] : vector<2xi8> to vector<1xf16>
// CHECK: vector.load %{{.*}} {alignment = 2 : i64} : memref<4x36xi8>, vector<16xi8>
// CHECK: arith.constant 0x4B000008 : f32
func.func @ggml_q4_0(%x: tensor<2x64xf32>) -> tensor<2x4xf32> {
  %q = arith.constant dense<"0x2824B70EEE7F1A5039BEF07EC2347F066ED08D22C7512447E3404300026B6E545594A065E123685D64C4980BB8D4544A8721A99A01AD7521B59CF6A15EF6F15A1D830BB7CE09D6BB0C2304E7175C643C7DECB0B580EC37BC971256232E6AAEB94BAE8D2F9FA29C5A284C9EF7F2211829CF1079B080E9D74A1C10FCAB6A42122543D33656DEBE4C1ED79648E856E8F9A2"> : tensor<4x36xi8>
  %init = arith.constant dense<0.0> : tensor<2x4xf32>
  %y = qtensor.ggml_matmul %x, %q as q4_0 outs(%init : tensor<2x4xf32>)
         : tensor<2x64xf32>, tensor<4x36xi8> -> tensor<2x4xf32>
  return %y : tensor<2x4xf32>
}

// -----

// ggml q8_0: 34-byte blocks, two 16-byte loads of signed codes (flipped).
// CHECK-LABEL: func.func @ggml_q8_0
// CHECK: gpu.launch
// CHECK-COUNT-2: vector.load %{{.*}} {alignment = 2 : i64} : memref<4x68xi8>, vector<16xi8>
// CHECK: arith.xori %{{.*}}, %c-2139062144_i32
func.func @ggml_q8_0(%x: tensor<1x64xf32>) -> tensor<1x4xf32> {
  %q = arith.constant dense<"0x932395F0CE4B39C15BFFAD5C2DFB8BB820B6119CBA8FF88796AE5B05F280A68CED93A724B6B28CB0D1B358E6BAAB485565B9F49028D557D79A8A0E6451E15C705C15F173F8214438A25CF76312D4EEB3C2246879BF00B3CF8ED13ABF129A3097AD96B442D6D1A424BDEF4850C3F465442EB300C337A648A6C0DBDD73FC95F5C2C451859AFE80D40AC1229DFB9249F40C3EE37D961445C806F58C7CF2127DFA894F9296FCF33C08409990DA23AC970DEDB3B843120181E9376107DBDAF6C5F3C86497EE219B01DD92F19F49549223FEA94ED9182375882B200DAADB23CFF9193F3E70384495E04C5D5ED352226D16F723C2248F1D3CCC4405DD2EA1FAFAB4BF1C46964D947086207882914478BEE8C75B"> : tensor<4x68xi8>
  %init = arith.constant dense<0.0> : tensor<1x4xf32>
  %y = qtensor.ggml_matmul %x, %q as q8_0 outs(%init : tensor<1x4xf32>)
         : tensor<1x64xf32>, tensor<4x68xi8> -> tensor<1x4xf32>
  return %y : tensor<1x4xf32>
}

// -----

// ggml q4_K: eight lanes share a 144-byte super-block; the 16-byte header
// (f16 d and dmin, 6-bit scales and mins) and each lane's 16 bytes of nibbles
// are aligned loads; weights are d * sc * q - dmin * m (one FMA).
// CHECK-LABEL: func.func @ggml_q4_k
// CHECK: gpu.launch
// CHECK: vector.load %{{.*}} {alignment = 16 : i64} : memref<4x144xi8>, vector<16xi8>
// CHECK: vector.bitcast %{{.*}} : vector<16xi8> to vector<8xf16>
// CHECK: arith.select
// CHECK: arith.negf
// CHECK: arith.ori %{{.*}}, %c1258291200_i32
// CHECK: %[[W:.*]] = math.fma %{{.*}}, %{{.*}}, %{{.*}} : f32
// CHECK: math.fma %{{.*}}, %[[W]], %{{.*}} : f32
// CHECK: gpu.shuffle xor
// CHECK-NOT: qtensor.ggml_matmul
func.func @ggml_q4_k(%x: tensor<1x256xf32>, %q: tensor<4x144xi8>,
                     %init: tensor<1x4xf32>) -> tensor<1x4xf32> {
  %y = qtensor.ggml_matmul %x, %q as q4_K outs(%init : tensor<1x4xf32>)
         : tensor<1x256xf32>, tensor<4x144xi8> -> tensor<1x4xf32>
  return %y : tensor<1x4xf32>
}

// -----

// ggml q6_K: 210-byte super-blocks (2-byte aligned): each lane reads 8 bytes
// of each of the two low-nibble runs and of the high bit pairs, forms four
// 6-bit codes per word, and scales each run's 8-code partial sum by
// d * scales[i] once.
// CHECK-LABEL: func.func @ggml_q6_k
// CHECK: gpu.launch
// CHECK-COUNT-3: vector.load %{{.*}} {alignment = 2 : i64} : memref<2x420xi8>, vector<8xi8>
// CHECK: memref.load %{{.*}} : memref<2x420xi8>
// CHECK: arith.andi %{{.*}}, %c252645135_i32
// CHECK: arith.andi %{{.*}}, %c808464432_i32
// CHECK: arith.constant 8.388640e+06 : f32
// CHECK: gpu.shuffle xor
func.func @ggml_q6_k(%x: tensor<3x512xf32>, %q: tensor<2x420xi8>)
    -> tensor<3x2xf32> {
  %zero = arith.constant 0.0 : f32
  %empty = tensor.empty() : tensor<3x2xf32>
  %init = linalg.fill ins(%zero : f32) outs(%empty : tensor<3x2xf32>) -> tensor<3x2xf32>
  %y = qtensor.ggml_matmul %x, %q as q6_K outs(%init : tensor<3x2xf32>)
         : tensor<3x512xf32>, tensor<2x420xi8> -> tensor<3x2xf32>
  return %y : tensor<3x2xf32>
}

// -----

func.func @ggml_q5_k(%x: tensor<1x256xf32>, %q: tensor<4x176xi8>,
                     %init: tensor<1x4xf32>) -> tensor<1x4xf32> {
  // expected-remark@+1 {{convert-qtensor-to-gpu-kernels: no GPU kernel for this product (ggml type q5_K); the generic loop mapping computes it}}
  %y = qtensor.ggml_matmul %x, %q as q5_K outs(%init : tensor<1x4xf32>)
         : tensor<1x256xf32>, tensor<4x176xi8> -> tensor<1x4xf32>
  return %y : tensor<1x4xf32>
}

// -----

// W8A8: exact i32 sums of byte products per group (vector reductions that
// become dp4a), added across the warp, then the reference's epilogue:
// init + sum over g of (f32(acc_g) * sx) * sw_g.
// CHECK-LABEL: func.func @w8a8
// CHECK: gpu.launch
// CHECK: scf.for
// CHECK: vector.load %{{.*}} {alignment = 16 : i64} : memref<8x64xi8>, vector<16xi8>
// CHECK: vector.shuffle
// CHECK: vector.reduction <add>, %{{.*}}, %{{.*}} : vector<4xi32> into i32
// CHECK: gpu.shuffle xor %{{.*}}, %c16_i32, %c32_i32 : i32
// CHECK: %[[F:.*]] = arith.sitofp %{{.*}} : i32 to f32
// CHECK: %[[T:.*]] = arith.mulf %[[F]], %{{.*}} : f32
// CHECK: %[[U:.*]] = arith.mulf %[[T]], %{{.*}} : f32
// CHECK: arith.addf %{{.*}}, %[[U]] : f32
func.func @w8a8(%x: tensor<3x64xf32>) -> tensor<3x8xf32> {
  %q, %sx = qtensor.dynamic_quantize %x
              : tensor<3x64xf32> -> tensor<3x64xi8>, tensor<3x1xf32>
  %w = arith.constant dense<"0xEDBF88465F03ADED29AB14C256E7D85056791A384320C434956872D72C886BCB8FAE166602D21CC1FB470C79D939013E6567A9042A44082BFE65D723CB622F4A58151B8A4C89113ECE795216BB2CB138BBE76BCD6509C2A800DD396D71E38AA62D9D91341C0DC3DBFEB17F21D97631CDBEBD479457840F195886543D4B06181FE66AC79607B59148F68E462C973C21D7E748C4568CFDB232188D41582B537106675AF2E9C62A58F686220EDF9E21992072463433FBE81EFA1B0EBF7CEA76BEFD7C122B18D1D0232960115C2B210FB5F0F30D26AA2BA404EDE54CC5F44636B276E742627137381A3D262ABE350CEF66BD297802836507E0810B34D51D80F3A1701E8C4399135FB4CE039A300FA2E07ED5A4FBB1CCDC6A288D9AECEEE9E1C55FA8CD1EA62F57A20D606CBA462BACE4C56CAB2609D7F074A532ED019169247205A1152E4CA85331CECAC745B6B78A67A4C55D5B57049C0A8EF5DA2F8B9149E7F5765BA94BB11A8EB00D5F31E844AE6B44D86E67D80519B5FEBE1FBECCEDDF6132552BB5857EF05F06AB72580E1C66AD9142A998CA1227CF7DE8ED15A0584966C34DC210CB4792D5F65C30FF8581BFB107651EED9F34690765ED3F829E9773055BD48BBDB2A5520E446B2D186B0984E0B7B42630D1DA5A1E7C4FD7BA62B2D11152A08DEA9493DFD8351DB772D384BAE7BF21D05D203CA5D8FD099EDE28C78463F156"> : tensor<8x64xi8>
  %sw = arith.constant dense<0.01> : tensor<8x2xf32>
  %init = arith.constant dense<0.0> : tensor<3x8xf32>
  %y = qtensor.quantized_matmul %q, %sx, %w, %sw outs(%init : tensor<3x8xf32>)
         : tensor<3x64xi8>, tensor<3x1xf32>, tensor<8x64xi8>, tensor<8x2xf32>
           -> tensor<3x8xf32>
  return %y : tensor<3x8xf32>
}

// -----

// W8A8 with a dynamic row count: from 9 rows, int8 tensor cores (exact like
// the dp4a GEMV, so no opt-in): each lane's 16 bytes of activations and
// weights feed two m16n8k32 steps as 32-bit fragment registers, the i32
// group sums then take the reference's epilogue element by element.
// CHECK-LABEL: func.func @w8a8_many_rows
// CHECK: scf.if
// CHECK: gpu.launch
// CHECK: scf.for
// CHECK: scf.for
// CHECK: vector.load %{{.*}} {alignment = 16 : i64} : memref<?x128xi8>, vector<16xi8>
// CHECK: vector.load %{{.*}} {alignment = 16 : i64} : memref<16x128xi8>, vector<16xi8>
// CHECK: vector.shuffle
// CHECK: vector.insert %{{.*}}, %{{.*}} [3] : vector<4xi8> into vector<4x4xi8>
// CHECK: nvgpu.mma.sync(%{{.*}}, %{{.*}}, %{{.*}}) {mmaShape = [16, 8, 32]} : (vector<4x4xi8>, vector<2x4xi8>, vector<2x2xi32>) -> vector<2x2xi32>
// CHECK: %[[F:.*]] = arith.sitofp %{{.*}} : i32 to f32
// CHECK: %[[T:.*]] = arith.mulf %[[F]], %{{.*}} : f32
// CHECK: %[[U:.*]] = arith.mulf %[[T]], %{{.*}} : f32
// CHECK: arith.addf %{{.*}}, %[[U]] : f32
// CHECK: } else {
// CHECK: gpu.launch
// CHECK: vector.reduction <add>
func.func @w8a8_many_rows(%q: tensor<?x128xi8>, %sx: tensor<?x1xf32>,
                          %w: tensor<16x128xi8>, %sw: tensor<16x2xf32>,
                          %init: tensor<?x16xf32>) -> tensor<?x16xf32> {
  %y = qtensor.quantized_matmul %q, %sx, %w, %sw outs(%init : tensor<?x16xf32>)
         : tensor<?x128xi8>, tensor<?x1xf32>, tensor<16x128xi8>, tensor<16x2xf32>
           -> tensor<?x16xf32>
  return %y : tensor<?x16xf32>
}

// PTX-LABEL: .visible .entry int4_grouped_kernel(
// PTX-NOT: .local
// PTX-NOT: cvt.rn.f32.u32
// PTX-NOT: cvt.rn.f32.s32
// PTX: ld.global.nc.v4.b32
// PTX: ld.global.v4.b32
// PTX: fma.rn.f32
// PTX: shfl.sync.bfly.b32
// PTX: ret;

// PTX-LABEL: .visible .entry nf4_grouped_kernel_{{[0-9]+}}(
// PTX-NOT: .local
// PTX: mov.b64 %rd{{[0-9]+}}, __constant_16xf32;
// PTX: ld.global.nc.b32
// PTX: shfl.sync.bfly.b32

// PTX-LABEL: .visible .entry fp8_e4m3_kernel_{{[0-9]+}}(
// PTX-NOT: .local
// PTX-NOT: cvt.rn.f32
// PTX: mul.rn.f32
// PTX: shfl.sync.bfly.b32

// PTX-LABEL: .visible .entry ggml_q4_k_kernel{{.*}}(
// PTX-NOT: .local
// PTX-NOT: cvt.rn.f32.u32
// PTX: ld.global{{(.nc)?}}.v4.b32
// PTX: fma.rn.f32
// PTX: shfl.sync.bfly.b32

// PTX-LABEL: .visible .entry ggml_q6_k_kernel{{.*}}(
// PTX-NOT: .local
// PTX-NOT: cvt.rn.f32.s32
// PTX: fma.rn.f32
// PTX: shfl.sync.bfly.b32

// PTX: .visible .entry w8a8_kernel
// PTX: dp4a.s32.s32
// PTX: shfl.sync.bfly.b32

// PTX: .visible .entry w8a8_many_rows_kernel
// PTX: mma.sync.aligned.m16n8k32.row.col.satfinite.s32.s8.s8.s32
