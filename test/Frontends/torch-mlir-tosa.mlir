// IR shaped as torch-mlir's TOSA backend writes a two-layer MLP
// (torch.nn.Linear, ReLU): the weight is a tosa.const, transposed and
// reshaped to [1, K, N] for tosa.matmul, the activations reshaped to
// [1, M, K]. --quant-tosa-to-linalg (upstream's conversions) turns it into
// linalg.batch_matmul over a transpose and an expand_shape of the constant,
// which the weight passes see through: every product is quantized, and the
// result equals that of the same weights given directly in [N, K] form
// (@reference), to the last bit.

// RUN: quant-opt %s --quant-tosa-to-linalg --quant-rtn="bits=4 group-size=16 report-skipped=true" -o %t.mlir 2>&1 | FileCheck %s --check-prefix=REMARK
// RUN: FileCheck %s --check-prefix=IR --input-file=%t.mlir
// RUN: quant-opt %t.mlir --quant-lower-to-llvm | mlir-runner -e main -entry-point-result=void \
// RUN:   -shared-libs=%mlir_runner_utils,%mlir_c_runner_utils | FileCheck %s --check-prefix=EXEC
// RUN: quant-opt %s --quant-tosa-to-linalg --gptq-quantize="bits=4 group-size=16 calibration=%S/Inputs/mlp-x.npy calibration-function=forward" 2>&1 >/dev/null | FileCheck %s --check-prefix=GPTQ

// REMARK-COUNT-2: remark: quant-rtn: quantized 2 of 2 weight-carrying matrix products
// REMARK-NOT: left in float
// REMARK-NOT: not quantized

// IR-LABEL: func.func @forward
// IR-NOT: linalg.batch_matmul
// IR-NOT: linalg.transpose
// IR: qtensor.dequant_matmul {{.*}} layout <ui4, block = [1, 16], packing = lsb_first> {{.*}} {qtensor.weight_name = "torch_tensor_16_32_torch.float32"} : tensor<1x4x32xf32>, tensor<16x16xi8> -> tensor<1x4x16xf32>
// IR: qtensor.dequant_matmul {{.*}} {qtensor.weight_name = "torch_tensor_8_16_torch.float32"} : tensor<1x4x16xf32>, tensor<8x8xi8> -> tensor<1x4x8xf32>

// EXEC: data =
// EXEC-NEXT: [[R0:.*\[.*]]
// EXEC-NEXT: [[R1:.*\[.*]]
// EXEC-NEXT: [[R2:.*\[.*]]
// EXEC-NEXT: [[R3:.*\[.*]]
// EXEC: data =
// EXEC-NEXT: [[R0]]
// EXEC-NEXT: [[R1]]
// EXEC-NEXT: [[R2]]
// EXEC-NEXT: [[R3]]

// GPTQ: gptq-quantize: quantized 2 of 2 weight-carrying matrix products
// GPTQ-NEXT: func.func @forward

#map = affine_map<(d0, d1) -> (d0, d1)>
#map1 = affine_map<(d0, d1) -> (d1)>
#mx = affine_map<(d0, d1, d2) -> (d0, d2)>
#mw = affine_map<(d0, d1, d2) -> (d1, d2)>
#my = affine_map<(d0, d1, d2) -> (d0, d1)>
module {
  func.func @forward(%arg0: tensor<4x32xf32>) -> tensor<4x8xf32> {
    %0 = "tosa.const"() <{values = dense_resource<torch_tensor_16_32_torch.float32> : tensor<16x32xf32>}> : () -> tensor<16x32xf32>
    %1 = "tosa.const"() <{values = dense_resource<torch_tensor_16_torch.float32> : tensor<16xf32>}> : () -> tensor<16xf32>
    %2 = "tosa.const"() <{values = dense_resource<torch_tensor_8_16_torch.float32> : tensor<8x16xf32>}> : () -> tensor<8x16xf32>
    %3 = "tosa.const"() <{values = dense_resource<torch_tensor_8_torch.float32> : tensor<8xf32>}> : () -> tensor<8xf32>
    %zp = "tosa.const"() <{values = dense<0.000000e+00> : tensor<1xf32>}> : () -> tensor<1xf32>
    %4 = tosa.transpose %0 {perms = array<i32: 1, 0>} : (tensor<16x32xf32>) -> tensor<32x16xf32>
    %s0 = tosa.const_shape {values = dense<[1, 4, 32]> : tensor<3xindex>} : () -> !tosa.shape<3>
    %5 = tosa.reshape %arg0, %s0 : (tensor<4x32xf32>, !tosa.shape<3>) -> tensor<1x4x32xf32>
    %s1 = tosa.const_shape {values = dense<[1, 32, 16]> : tensor<3xindex>} : () -> !tosa.shape<3>
    %6 = tosa.reshape %4, %s1 : (tensor<32x16xf32>, !tosa.shape<3>) -> tensor<1x32x16xf32>
    %7 = tosa.matmul %5, %6, %zp, %zp : (tensor<1x4x32xf32>, tensor<1x32x16xf32>, tensor<1xf32>, tensor<1xf32>) -> tensor<1x4x16xf32>
    %s2 = tosa.const_shape {values = dense<[4, 16]> : tensor<2xindex>} : () -> !tosa.shape<2>
    %8 = tosa.reshape %7, %s2 : (tensor<1x4x16xf32>, !tosa.shape<2>) -> tensor<4x16xf32>
    %s3 = tosa.const_shape {values = dense<[1, 16]> : tensor<2xindex>} : () -> !tosa.shape<2>
    %9 = tosa.reshape %1, %s3 : (tensor<16xf32>, !tosa.shape<2>) -> tensor<1x16xf32>
    %10 = tosa.add %8, %9 : (tensor<4x16xf32>, tensor<1x16xf32>) -> tensor<4x16xf32>
    %11 = tosa.clamp %10 {max_val = 3.40282347E+38 : f32, min_val = 0.000000e+00 : f32} : (tensor<4x16xf32>) -> tensor<4x16xf32>
    %12 = tosa.transpose %2 {perms = array<i32: 1, 0>} : (tensor<8x16xf32>) -> tensor<16x8xf32>
    %s4 = tosa.const_shape {values = dense<[1, 4, 16]> : tensor<3xindex>} : () -> !tosa.shape<3>
    %13 = tosa.reshape %11, %s4 : (tensor<4x16xf32>, !tosa.shape<3>) -> tensor<1x4x16xf32>
    %s5 = tosa.const_shape {values = dense<[1, 16, 8]> : tensor<3xindex>} : () -> !tosa.shape<3>
    %14 = tosa.reshape %12, %s5 : (tensor<16x8xf32>, !tosa.shape<3>) -> tensor<1x16x8xf32>
    %15 = tosa.matmul %13, %14, %zp, %zp : (tensor<1x4x16xf32>, tensor<1x16x8xf32>, tensor<1xf32>, tensor<1xf32>) -> tensor<1x4x8xf32>
    %s6 = tosa.const_shape {values = dense<[4, 8]> : tensor<2xindex>} : () -> !tosa.shape<2>
    %16 = tosa.reshape %15, %s6 : (tensor<1x4x8xf32>, !tosa.shape<2>) -> tensor<4x8xf32>
    %s7 = tosa.const_shape {values = dense<[1, 8]> : tensor<2xindex>} : () -> !tosa.shape<2>
    %17 = tosa.reshape %3, %s7 : (tensor<8xf32>, !tosa.shape<2>) -> tensor<1x8xf32>
    %18 = tosa.add %16, %17 : (tensor<4x8xf32>, tensor<1x8xf32>) -> tensor<4x8xf32>
    return %18 : tensor<4x8xf32>
  }
  // The same network with the weights applied in [N, K] form directly.
  func.func @reference(%arg0: tensor<4x32xf32>) -> tensor<4x8xf32> {
    %cst = arith.constant 0.000000e+00 : f32
    %w1 = arith.constant dense_resource<torch_tensor_16_32_torch.float32> : tensor<16x32xf32>
    %b1 = arith.constant dense_resource<torch_tensor_16_torch.float32> : tensor<16xf32>
    %w2 = arith.constant dense_resource<torch_tensor_8_16_torch.float32> : tensor<8x16xf32>
    %b2 = arith.constant dense_resource<torch_tensor_8_torch.float32> : tensor<8xf32>
    %1 = tensor.empty() : tensor<4x16xf32>
    %2 = linalg.fill ins(%cst : f32) outs(%1 : tensor<4x16xf32>) -> tensor<4x16xf32>
    %3 = linalg.matmul indexing_maps = [#mx, #mw, #my] ins(%arg0, %w1 : tensor<4x32xf32>, tensor<16x32xf32>) outs(%2 : tensor<4x16xf32>) -> tensor<4x16xf32>
    %4 = linalg.generic {indexing_maps = [#map, #map1, #map], iterator_types = ["parallel", "parallel"]} ins(%3, %b1 : tensor<4x16xf32>, tensor<16xf32>) outs(%1 : tensor<4x16xf32>) {
    ^bb0(%in: f32, %in_4: f32, %out: f32):
      %13 = arith.addf %in, %in_4 : f32
      %14 = arith.maximumf %13, %cst : f32
      linalg.yield %14 : f32
    } -> tensor<4x16xf32>
    %7 = tensor.empty() : tensor<4x8xf32>
    %8 = linalg.fill ins(%cst : f32) outs(%7 : tensor<4x8xf32>) -> tensor<4x8xf32>
    %9 = linalg.matmul indexing_maps = [#mx, #mw, #my] ins(%4, %w2 : tensor<4x16xf32>, tensor<8x16xf32>) outs(%8 : tensor<4x8xf32>) -> tensor<4x8xf32>
    %10 = linalg.generic {indexing_maps = [#map, #map1, #map], iterator_types = ["parallel", "parallel"]} ins(%9, %b2 : tensor<4x8xf32>, tensor<8xf32>) outs(%7 : tensor<4x8xf32>) {
    ^bb0(%in: f32, %in_4: f32, %out: f32):
      %13 = arith.addf %in, %in_4 : f32
      linalg.yield %13 : f32
    } -> tensor<4x8xf32>
    return %10 : tensor<4x8xf32>
  }
  func.func @main() {
    %x = arith.constant dense<[[-1.146, 1.118, 0.269, -0.405, 0.689, -0.719, 1.67, 0.456, -0.021, 0.598, -0.829, 0.428, 0.757, 0.751, 0.414, -0.729, 0.27, -0.942, 0.2, -0.394, -0.497, 0.611, 1.495, 1.144, -0.209, -0.24, -0.628, -0.36, 0.154, 0.385, -0.259, 0.065], [-0.777, -0.325, 0.997, 1.023, 0.416, 0.108, 0.203, -0.451, -0.797, 0.411, -0.751, 0.322, -0.803, -0.024, 1.205, 0.456, -0.045, 0.214, -1.077, 0.7, -0.534, -0.56, -0.488, 0.068, -0.479, -0.439, 0.34, 0.145, 0.888, 0.584, 0.868, -0.792], [0.075, 0.388, 0.645, -0.207, 0.453, 0.791, -0.641, -0.593, -0.569, 0.177, -0.774, 0.026, -0.319, -0.694, -1.254, 1.619, 0.902, 0.753, -1.099, 0.629, -0.235, -0.874, -0.389, -0.323, 1.154, 0.117, -0.019, 0.339, 0.352, -0.867, 0.83, 0.171], [0.724, 1.2, -0.218, 1.645, -0.215, -0.184, -1.533, 0.989, -0.123, -0.387, -0.378, 0.413, 0.782, 0.52, -0.166, -0.461, -1.318, -0.445, 0.335, -0.269, 1.377, 0.701, -0.195, 0.374, 0.166, -0.523, -0.214, -1.051, -0.206, 0.75, -0.311, 1.23]]> : tensor<4x32xf32>
    %a = call @forward(%x) : (tensor<4x32xf32>) -> tensor<4x8xf32>
    %b = call @reference(%x) : (tensor<4x32xf32>) -> tensor<4x8xf32>
    %ua = tensor.cast %a : tensor<4x8xf32> to tensor<*xf32>
    %ub = tensor.cast %b : tensor<4x8xf32> to tensor<*xf32>
    call @printMemrefF32(%ua) : (tensor<*xf32>) -> ()
    call @printMemrefF32(%ub) : (tensor<*xf32>) -> ()
    return
  }
  func.func private @printMemrefF32(tensor<*xf32>) attributes {llvm.emit_c_interface}
}

{-#
  dialect_resources: {
    builtin: {
      torch_tensor_16_32_torch.float32: "0x04000000098A1F3E42CF863EF5B91ABE44692FBE75029A3DAA82B13E567DAE3D787A65BE863816BE75029ABBEF38453E6C09793B265385BDE4831EBDC1CA213DF2410FBE17B7D13BB29D6F3D30BBA73E0AD7A3BB9565483E5E4B48BE58CA323E083D1B3D5F29CBBDA69BC43A917E3B3ED57869BD4FAF543EDA1B9C3EF931A63E6FF0A53EEC5178BE99BB963D4A0C02BE14D0443E9FABAD3CA913503DA779C73D40A4DFBD3D2CD43CF08509BE86C9D43E302AA9BDE71D273C849EADBE29CB90BE09F920BE5452273E6519223E492E7F3D8FE4F2BDF697BD3E27C246BE8A8E24BEF31FD23DB7D140BE46B6733DA8574A3E17B7D1BBEA95B23D211F743C6E3400BE9FAB1DBF7B146EBEED0DBE3B5396A1BECFF7D3BDCA32443D3A238A3EA60A86BEF0A7C6BDAAF1523DAEB6E23DDE9387BE2D21BF3EF6971DBEE5D0623EB81E05BD3333B33D16FBAB3E2B87163E4B59063DB8AF43BE910FFABD0D718CBE9790CF3E2C6599BEDC6800BF95D4A93E2FDD843EDC4683BDD7A3303ED26F1FBED122DBBD637FD93D9FABAD3D7A36ABBD9EEFA73E645D1C3E04E70C3D1EA768BE96430B3D66F764BDB9FC07BC6744293ED122DBBDB37B723D1EA7283E52499D3DD656EC3E9FABADBEA69BC4BB7AC769BE4260E5BBCA54013FC139A3BE3D2C54BD5F290B3E82E2C73C371A403E9A089BBE832F4C3E48503CBEC58F71BED712F23D166ACD3DA9A40EBE9CC420BE04E70CBDD044583BD578E9BCA7E848BE9E5EE9BE9EEF873EC1CA213D348077BE1B2F9DBE5E4B08BE77BE9FBDD95FD6BE857C903EC6DCB53DB45975BD2B87963DF1634C3DBF0E5C3EDF4F0D3DEE5A823E80489F3EFBCB6EBDA089B0BD8E0630BE567D2EBDA91310BE7CF2B03B4A7B833D8AB0E13D67D567BE77BE5F3EB29D6FBDE3A59BBC83C0CABD1E16CABE88F45B3DC5FEB2BE5474643E5839343CA54EA03E022B073EBC05123E72F98F3E3480B7BB24289E3E11C7BABC3FC65C3D94F606BE4182E23D280F0B3EF016C8BDAE4781BE0AD7A3BB0EBEB03D2063EEBC014D44BE60E510BEF2414FBDD42B05BF8C4AEABDF38E933E6EA381BE0C9329BD8D28AD3ECE88123E7FD93D3E89D2DEBC304C86BEC139133F925C7E3D16FB4B3D5E4BA83EE71D273E89D25E3C89D25EBEB1BFECBC6519E2BCF01608BEC4B12EBE713D4ABE33C4B1BC8D97EEBD7AC7A93D1748503E26E4833DED0DBE3B92CB9F3E27C2063EABCF95BEF2B010BEE63F243D6ADE31BE88F41B3E6ADEB1BEDCD7C1BE4C37493E4469EF3D4182A2BEDDB5843CF085893E9C3362BE575B71BEEBE276BE14AE47BE4E62B0BE1361C3BD6A4D93BE62A1563CCA32E43E984C55BEECC0393E69006F3E431CEBBEA323B93CA69BC4BA4BC887BD6688233EA1F8B1BD97FF903DBF7D9DBDF5B9DABC9B551FBE2731E83E0E4F2FBC41F163BEB003C73EEEEBA03EE4831EBDEF3805BEABCF15BE11367C3EDDB584BD29CB10BE68222C3E3EE859BD55C128BC1DC9C53ED7A3303E925C7E3E7A36AB3D2F6E833E4C3709BD4BEA443E1904563EE71DA7BD01DE82BED122DB3D8126C2BCFED4F83DFD87F4BDACADD83DA69B443E575BF13EF46CB63E5227A03D21B0923EDBF9FEBD20D26F3EF931E63C82E2873E70CE883D355E3ABD857C10BE8941803EA69B443C85EB113E8104C53DE02DD0BE22FDF63D07F096BD9CC4A03DEF38C53DF5DBB7BE24977FBD5BB13FBCC0EC9E3D6E34403E158C0ABEC8983BBDDBF9FE3DBE9FBABE5249BD3EDC6840BE8273863ED734EF3C5227C03E4FAF543EF4FDD4BBCDCCACBE8716D93C4BEA843D89D2DE3DA54E80BE423E28BEE4831EBED49A663D45D830BE363CBDBC12A53D3E9FCDAABD8351893EB37B723D5E4B48BDD26F5F3E3A23CA3D423E68BD6900EFBD728A0EBC4D848D3DC3F5683EF6975D3D234AFBBDE71D87BE3C4E513D09F9A03DB003673EF46CD6BD9CA283BE9FCD2A3EBADA0ABDC74B77BE151DA93EB459353EF4FD543C4260653DE25817BE713D4A3E7B83AFBD7DAEB6BD8E0670BD545267BE4ED1513E0309AA3EAC8B1B3E45D8D0BE8FC275BD378901BE50FC983DECC0D9BEB515DBBEECC0B9BDF016483E2BF617BD80B7E03E31082CBE4B59063CB1BFECBC55C128BE4182623E666686BEF46C56BE05A392BDA5BDC1BD304C663EABCFD5BDA835CD3DED9EBCBDB840823E5F294BBB3D0A573D54E3A5BE72F90F3E257502BE7D3F353ECEAACF3DAD69DE3DE6AE653EE3369A3D454732BEB840023D287E0C3D32E66EBE234AFB3DEB73953EA779473DED0DBE3CC807BD3DE5F25F3EF5B9DABD2575423E99BB16BE637FD93D61C3D33DB84082BE143F063EEA95323D9E5EA9BE7DAEB6BDB6F3FDBD34A234BE0C93A93D2E9020BE55C1283CD1915CBEABCF55BD07CEB93E55C1A83DB6F39DBE36AB3EBEF775E0BC2653A5BECB10473E6F1203BC89D25EBC0E4F2F3C158C0ABE0B2468BED2001EBFA69BA4BE1283403DF1F40A3E2B1815BD516BBABEDE0289BDFAEDEB3B668883BEB1508B3E0AD763BE17B7513988635DBE226C383E6E3480BE469436BE0A68623EC9E57FBE1AC0DBBD88F4DB3DBC96903DD712B2BEB459F53D44FA6DBD7E1D783EA913B0BE76711B3E0AD7A33D07CE99BDE86AABBD76E09C3D832F0CBE4D848DBD2D431CBE1B2FDD3C39B4083EC1CAA1BE52499D3BFE437A3DE3C7983E3D0A17BE12147F3EEB73B5BD39D6C53DEA95323DF5B95A3D4D158CBD14AE47BEEBE2963E0F9C933EA4DFBEBC4D150CBD7B142EBD82E287BE0A6862BEE71DA73D499D403E355E3ABD6DC53EBE1AC05BBEB515FBBD711B0D3E4ED1113C8E7591BE1FF46CBE4A7B833DB29D6F3D2A3AB23E6ADE913E05A3123D5F290BBEC1CA213DF9A067BE287E0CBE96434B3E4694F63D",
      torch_tensor_16_torch.float32: "0x04000000637F593D8C4A6ABCF5DBB73E88F45B3DE71DA73CED0D3E3DD1225BBD9A9999BD8A8E643DED0D3EBD0DE0AD3D0F0BB5BC492E3FBE3B010DBE10E9B7BDCF6655BE",
      torch_tensor_8_16_torch.float32: "0x040000003F35DE3E1CEB62BE9487853D863856BD211F34BE431CEBBD1895D4BD5305A3BC764F9E3D60764F3E2F6E233D9BE65D3EE86AAB3D62A1563CF4FD54BD60764FBEF931A6BE865AD3BCEA9532BD1A515A3D8AB0613DCBA185BEBF0E1CBEFBCB6EBE492E3F3E96210EBDCA54413C931844BE705F87BEB8AF03BE956508BD9B559F3D9CC4A0BE865A533D6DE73BBE696FF0BD0A68A2BD158CCABDE4149D3D8A1F233E637F593DFE65F7BD287E8C3D8FC2753D098A1F3E9B551F3D8C4AAABE30BB27BE8048BFBDFAED2B3EE71D27BD0C93293E0E2D323D00917EBE0AD7A3BBCAC3C23D705F873D76E09CBEBB278F3D810405BEDA1BDCBECA5401BEE948CEBE67D587BE55308A3E7368F13EA779473E2A3A923D3E79B83E1A515A3DAA6054BEF706FFBEF90F293EF1F4EABE211F14BFCE8812BEE02D90BA5BD33CBEDDB5443E2497FFBC1CEBE23C7593983D386704BEF931E63C787AE53E03784BBE9C33A23CEC2FBB3D8FC2F5BD0F0BB5BCE17AB4BE5F29CBBD6F1283BBBD52563EC66D343E378901BE44FA6DBEE17AB43E0C93293E5E4BC8BE772DA1BDDC4643BECB1007BEE17AB4BECA54C1BD423EE8BDFAED6BBD95D4493EBBB80D3D1C7C81BEBD52B6BE448BECBD65AA603E6B2B363E13F201BED3BC633E091B9E3D810405BE091B9E3DCB10C7BC7AA56CBEEE5AC2BDA69BC43CE5D0823EBF0E5CBE0AD7233D426065BB728A8EBC",
      torch_tensor_8_torch.float32: "0x0400000010E937BDC9763EBE8638163EB98DA63EF31F523D295C0F3EBC96103EA301BC3D"
    }
  }
#-}
