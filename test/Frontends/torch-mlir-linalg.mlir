// IR shaped as torch-mlir's linalg-on-tensors backend writes a two-layer
// MLP (torch.nn.Linear, ReLU): parameters as dense_resource constants, each
// weight transposed by `linalg.transpose` (current torch-mlir) or by a
// transposing `linalg.generic` (older releases), the bias and activation in
// the consumers, and the unused @global_seed every torch-mlir module has.
// Every weight-carrying product is quantized, the transposes disappear, and
// the result equals that of the same weights given to the products directly
// in [N, K] form (@reference), to the last bit.

// RUN: quant-opt %s --quant-rtn="bits=4 group-size=16 report-skipped=true" -o %t.mlir 2>&1 | FileCheck %s --check-prefix=REMARK
// RUN: FileCheck %s --check-prefix=IR --input-file=%t.mlir
// RUN: quant-opt %t.mlir --quant-lower-to-llvm | mlir-runner -e main -entry-point-result=void \
// RUN:   -shared-libs=%mlir_runner_utils,%mlir_c_runner_utils | FileCheck %s --check-prefix=EXEC
// Calibrated passes run @forward despite @global_seed, and leave the
// products of the functions they do not run in float.
// RUN: quant-opt %s --gptq-quantize="bits=4 group-size=16 calibration=%S/Inputs/mlp-x.npy calibration-function=forward report-skipped=true" 2>&1 >/dev/null | FileCheck %s --check-prefix=GPTQ
// RUN: quant-opt %s --quant-awq="bits=4 group-size=16 calibration=%S/Inputs/mlp-x.npy calibration-function=forward" 2>&1 >/dev/null | FileCheck %s --check-prefix=AWQ

// REMARK-DAG: remark: quant-rtn: quantized 2 of 2 weight-carrying matrix products
// REMARK-DAG: remark: quant-rtn: quantized 2 of 2 weight-carrying matrix products
// REMARK-NOT: left in float
// REMARK-NOT: not quantized

// IR-LABEL: func.func @forward
// IR-NOT: linalg.transpose
// IR-NOT: linalg.matmul
// IR: qtensor.dequant_matmul %arg0, %{{.*}} layout <ui4, block = [1, 16], packing = lsb_first> outs(%{{.*}} : tensor<4x16xf32>) {qtensor.weight_name = "torch_tensor_16_32_torch.float32"}
// IR: qtensor.dequant_matmul {{.*}} : tensor<4x16xf32>, tensor<8x8xi8> -> tensor<4x8xf32>
// IR-LABEL: func.func @reference

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

// GPTQ: gptq-quantize: weight 'torch_tensor_16_32_torch.float32' is left in float: it is outside @forward, the function calibration runs
// GPTQ: gptq-quantize: weight 'torch_tensor_8_16_torch.float32' is left in float: it is outside @forward, the function calibration runs
// GPTQ: gptq-quantize: [1/2] torch_tensor_16_32_torch.float32 16x32: loss
// GPTQ: gptq-quantize: [2/2] torch_tensor_8_16_torch.float32 8x16: loss
// GPTQ: remark: gptq-quantize: quantized 2 of 2 weight-carrying matrix products
// GPTQ-NEXT: func.func @forward
// GPTQ: remark: gptq-quantize: quantized 0 of 2 weight-carrying matrix products
// GPTQ-NEXT: func.func @reference
// AWQ: remark: quant-awq: quantized 2 of 2 weight-carrying matrix products
// AWQ-NEXT: func.func @forward

#map = affine_map<(d0, d1) -> (d0, d1)>
#map1 = affine_map<(d0, d1) -> (d1)>
#map2 = affine_map<(d0, d1) -> (d1, d0)>
#mx = affine_map<(d0, d1, d2) -> (d0, d2)>
#mw = affine_map<(d0, d1, d2) -> (d1, d2)>
#my = affine_map<(d0, d1, d2) -> (d0, d1)>
module {
  ml_program.global private mutable @global_seed(dense<0> : tensor<i64>) : tensor<i64>
  func.func @forward(%arg0: tensor<4x32xf32>) -> tensor<4x8xf32> {
    %cst = arith.constant 0.000000e+00 : f32
    %cst_0 = arith.constant dense_resource<torch_tensor_16_32_torch.float32> : tensor<16x32xf32>
    %cst_1 = arith.constant dense_resource<torch_tensor_16_torch.float32> : tensor<16xf32>
    %cst_2 = arith.constant dense_resource<torch_tensor_8_16_torch.float32> : tensor<8x16xf32>
    %cst_3 = arith.constant dense_resource<torch_tensor_8_torch.float32> : tensor<8xf32>
    %0 = tensor.empty() : tensor<32x16xf32>
    %transposed = linalg.transpose ins(%cst_0 : tensor<16x32xf32>) outs(%0 : tensor<32x16xf32>) permutation = [1, 0]
    %1 = tensor.empty() : tensor<4x16xf32>
    %2 = linalg.fill ins(%cst : f32) outs(%1 : tensor<4x16xf32>) -> tensor<4x16xf32>
    %3 = linalg.matmul ins(%arg0, %transposed : tensor<4x32xf32>, tensor<32x16xf32>) outs(%2 : tensor<4x16xf32>) -> tensor<4x16xf32>
    %4 = linalg.generic {indexing_maps = [#map, #map1, #map], iterator_types = ["parallel", "parallel"]} ins(%3, %cst_1 : tensor<4x16xf32>, tensor<16xf32>) outs(%1 : tensor<4x16xf32>) {
    ^bb0(%in: f32, %in_4: f32, %out: f32):
      %13 = arith.addf %in, %in_4 : f32
      %14 = arith.maximumf %13, %cst : f32
      linalg.yield %14 : f32
    } -> tensor<4x16xf32>
    %5 = tensor.empty() : tensor<16x8xf32>
    %6 = linalg.generic {indexing_maps = [#map2, #map], iterator_types = ["parallel", "parallel"]} ins(%cst_2 : tensor<8x16xf32>) outs(%5 : tensor<16x8xf32>) {
    ^bb0(%in: f32, %out: f32):
      linalg.yield %in : f32
    } -> tensor<16x8xf32>
    %7 = tensor.empty() : tensor<4x8xf32>
    %8 = linalg.fill ins(%cst : f32) outs(%7 : tensor<4x8xf32>) -> tensor<4x8xf32>
    %9 = linalg.matmul ins(%4, %6 : tensor<4x16xf32>, tensor<16x8xf32>) outs(%8 : tensor<4x8xf32>) -> tensor<4x8xf32>
    %10 = linalg.generic {indexing_maps = [#map, #map1, #map], iterator_types = ["parallel", "parallel"]} ins(%9, %cst_3 : tensor<4x8xf32>, tensor<8xf32>) outs(%7 : tensor<4x8xf32>) {
    ^bb0(%in: f32, %in_4: f32, %out: f32):
      %13 = arith.addf %in, %in_4 : f32
      linalg.yield %13 : f32
    } -> tensor<4x8xf32>
    return %10 : tensor<4x8xf32>
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
    %x = arith.constant dense<[[-0.434, -0.714, -0.284, 0.452, -0.267, -0.765, 0.419, 0.139, 0.837, 0.88, 0.827, -0.124, 0.606, -0.39, -0.365, -0.201, 0.869, 0.789, -0.503, -0.277, -0.269, -0.273, -0.209, -0.225, -0.61, 0.128, 0.594, 0.081, 0.673, 0.126, -0.647, 0.518], [0.762, -0.437, -0.956, 0.031, 0.088, 0.135, 0.933, 0.302, 0.609, -0.872, 0.094, 0.576, -0.832, -0.837, 0.474, 0.798, -0.831, 0.268, -0.712, 0.492, 0.298, -0.509, -0.559, 0.531, 0.043, 0.529, -0.211, -0.324, 0.937, 0.345, -0.013, 0.075], [0.442, 0.416, 0.83, -0.179, 0.652, 0.333, 0.707, 0.612, 0.668, 0.777, 0.916, 0.281, 0.048, 0.42, 0.605, -0.157, -0.159, -0.708, 0.482, 0.982, -0.249, -0.665, -0.591, -0.15, -0.416, 0.94, -0.882, -0.383, -0.77, 0.296, 0.552, -0.641], [-0.875, -0.082, 0.168, 0.819, -0.927, -0.783, -0.631, -0.565, -0.529, 0.434, 0.19, -0.552, -0.63, -0.438, -0.655, 0.515, -0.377, 0.096, 0.634, -0.041, -0.479, 0.775, 0.829, -0.316, 0.095, 0.914, -0.035, -0.558, -0.901, 0.895, 0.603, -0.23]]> : tensor<4x32xf32>
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
      torch_tensor_16_32_torch.float32: "0x04000000DAAC7ABEBE9F9A3DA8C64B3EF31FD2BDF01688BE62A156BCEFC9C33DD3DE603E6C0979BE386784BEBC96103E8126C23DE4149D3E4C37493EE71DA7BCF77560BD0F9C033FB1BF6CBD9CC420BE302A69BE9A779C3C2063EE3CDF4F8DBD5F294BBC40A45F3DF2D20D3E65AA603E31082C3DC74BB7BECEAA0F3E575B91BE287E0CBD07F096BE17B7D139D26F1FBE0E4F2F3D50FC283FC0EC1EBC448B2C3EC28687BEFAED6BBD14AE073E508D97BC508D973D0C93A93C5F074EBE42CFE63D304C26BE5BB1BF3E17D9CEBD287E0C3E6F12033A6F12433E4694F6BD5F984C3E5F29CBBCE561813E2497FF3D67D5E73CAED81FBE52491D3E5BB1BF3D0B24A83E516B9ABDF853E33DA913D03D67D5673D9FCD2A3D2B18153D4625F5BD05C54FBE0A68A2BDD712F23DF5B99A3EF016483EBEC1573E643B1F3E840D0F3EBD52163DD2001E3E3D9BB53EDD2486BD96210EBE39B4C83E5E4B483D5DDC463EC5FE323EE78C68BEBE30F93EC6DCB53E97FF103DAC1C1A3EA913D03C0F0B35BE3480B7BCBE30993D8A8E643E3C4E113E38F8423C83C08A3E1AC01BBE0A68223ED3BC633ED7346FBDE258B7BEB5A639BE8126423DD044D83DE4839E3E849E4DBE17B7D1394BEA043E250601BD05A3F2BED42B253ECDCCEC3EBBB84D3E6DE73BBEC3F5A8BDC6DC353DA4DFFE3E91EDFC3D5AF5B93CEE7C9F3E948785BC1B9EBE3EBA490CBE5C8FC2BD2AA9133E6ADE913E6FF0053E22FD763D8885BABEBC0512BE910FFABD8885DABDFB3AF03D4C3789BDAE47213E022B873C956588BDCA54C13CE9B7AF3DE9B72F3E8195C3BDC9763EBD569F8BBEE63FA43E4FAF943E05A312BD5DFEC3BDFF217DBE96430B3D302A293DB762DF3ECCEE493D9B551FBE1A51FABE3255903E083D1B3D14D0A4BE98DD133DDDB5A4BE9C33323FD42B653EFA7EEA3D295C0FBDB515DBBEF241CFBC492E9FBE211FF43D9A08DBBE23DB39BEECC0793E7958A83E6ADE71BEE4149DBE211F343EC4B12E3E03094ABECD3B0EBE96210EBE0F9C73BE96430BBE1B0D803EA8350D3EEA95D23EBBB88DBCD200DEBC4C3749BE5F29CBBC827386BE1904B6BEE0BE0E3EBC74933EE86A2B3EB072883E17D94E3DE10B13BEBBB88D3CBE3099BD9CA263BEDF4FADBEF5DB97BEE02D90BA4694F63CEE5AC2BD6154923E05A3123DFBCBEE3D7E8C793E9EEF27BE5EBAC9BEAC1C1A3E3B010DBE143F863E713D8A3D96214E3E645D1C3E0F0BD5BE4F40133E95D409BE2CD41ABE0E2DB2BD52491D3E4625353EBB274F3ECCEEA9BE6ADEF1BD4F40F3BEE71DA7BC8FC2F53D9A771CBE39B4483D12A53D3D04564E3E423E28BE7AC729BE645D1CBEBC74B33E9B555F3EA857CABCC7BA383DC898BB3C304C263D9FCD2ABD70CE88BD65AA80BE4A7B03BEDE02A93E1AC0DB3DF4FD543CC52030BDCDCC4C3C29CB903D014D04BE09F9203DA69B443DF54A19BE539621BE5F984CBE07CE59BEA245363EFCA9F1BEF5B95ABDFE43FABDB6F3FDBD77BE9F3CB003673EDAAC7A3C4260E5BC48E1FABD865AD3BC11C73A3EE561A1BD9FCD6ABE006F81BE789C62BE04568EBE4013613E7368913D5C8F42BDEB73953E27C206BEE3361A3E780B243E925C9EBED26F9FBEB6F33DBEB5A6393EDDB5843E5A647BBE99BB563E76E09CBD772DA1BD8AB0E1BDDDB584BDE336BABE3B014DBEC8077DBEA7E8C83DE2E9D53EDFE00B3F95D489BD1748B0BE0BB5A6BDDC6840BE431CCB3EB1E1E93D613215BE5BB13F3EAC8BDB3D8273A6BED0B3D9BDCA3244BD6C09793BD044D83CBADA8ABDE3A51B3D8E06F0BD6B9A37BE083D9B3E2AA9933D0F9CB33DF853A3BEB9FC07BD30BB273ECA3284BED3DE603E098A9FBD2FDDA43D3EE8D9BCC5FE323D107A763E0B46A5BD6E34A03E522720BE6DC53EBEE09C113E1A515ABEBEC197BDECC0393E10E9773E8FC2B5BEF241CF3DEEEBC03E6ABC743EA69B44BDFDF6F5BD8FE472BD68226CBEACAD58BD9A9919BD2063EEBC0E2D723E7F6A3CBD984C95BEAB3E573EE3A55BBE5917B7BDAC8BDBBC04E78CBD166A4DBE16FB4BBD40A4DF3E90A0F8BD40A4DFBCF931663E3E79183E645D1C3EA089303EF085C9BE7CF230BECE88D23CF163CC3D8A8E843EA54EC03D136143BD006F013CE8D92CBDA8574A3D03090A3E96438BBDD49A26BE69002FBE65AA603EA52C833E5F294B3E7B832F3E68B32A3E6F1203BAB9FC073E197357BE304C26BD863816BEBDE3143E6891EDBD7CF2B0BC780BA43D68B38A3E9C3322BE6E3440BE8B6C273E789C62BE1058B93DD578E9BDE8D9ACBC6C78BABEF31F123ECDCCCCBD470338BE4FAFD43E4ED1113E2AA9333FE71DA73D728A8EBDC520B03C8A8EA43E7CF2B0BBC7BAB83DF38ED33D355E3ABE865AD33CF2D2CDBD12147FBEEA95323E5E4B083E211F743C23DB39BE166ACDBE5DDCC63D2E90A0BC0D71ACBEA69B44BC1AC09BBE9FABADBB8C4AEA3C7368913D33C4313D4D150C3DD57869BEE4149DBDAA82D1BDEEEB40BD1B2F5D3DDB8AFD3D8B6CA73ED88103BFE63FA43D789C22BDF90FE93E492E3F3E6744A9BE5474A43D6132D5BD03784B3E992A58BE304CA6BC1973D7BCC0EC9EBCD734EFBD1136BCBEED9EBC3D5F984C3EF77560BC174850BE304C263DF9A0E73D05C50FBD348037BBFB3A903E9D1165BE8A8EE4BD8A1FC3BE295C0FBE197317BEA69B44BE96210EBE4703B83E09F920BD11C7BABC4013E13E143F46BCC58FB1BE9D11A53DC9E53FBE67D5A73E492E7FBED6C5EDBD5474A4BE77BE9F3C72F94FBE62A156BC516B9ABDB515FBBD5C20413E24973F3ECDCC4C3C226C38BE083D5BBE1B2F5D3DA1D6F43EEC2FBBBD65AA20BE17D90EBEC05B60BECB1047BE9EEF27BD73D7923E17B751B9CE19D1BD4260A5BE",
      torch_tensor_16_torch.float32: "0x04000000567DAE3C7CF230BBB515FBBD1B9EDEBD27A089BBF241CF3DDC68803D55C1A83C014D04BD4A7B033D52499DBAE4835E3E67D5E7BD99BB16BDDCD7013E3EE8D9BC",
      torch_tensor_8_16_torch.float32: "0x0400000085EB913EE02D10BC2063EE3CBEC197BDFB5C8DBE27C246BEE5D0E23ECA32043EB537F83DDC46433EF90FE93D3C4E513E3EE859BD591737BDF085493E4E6290BD423E88BEA32339BD643BDFBD234AFB3DBC7413BE2C6559BEB9FC87BDF7069F3E52491DBC26E4033DFAEDEB3AD712723D24283E3E4DF38E3E9565A8BECC5D8B3E348037BA4A7B83BD3D9BF53EBADA0ABD022BC73E143F463E73D752BEF016C83D07F0163E849ECDBC2063EEBE04E78CBD76E01CBDE5D062BE7FFBBA3E5E4B48BD772DA1BDB45975BDF77520BEC0EC1EBE75029A3C6E34803D3BDFCFBD744694BC04568EBE3D9BD53D637F19BEC520303DECC039BE1826D3BDC520303D470378BE76E0FC3ED734EFBBD7346FBCF46C16BEF853A33E29ED8D3EB459753D4D158CBE3B70CEBD4850FC3D17B7D1BDB37B72BE333373BED2001EBE7CF2303B14D004BEFAED6B3B4DF30E3F228EB53EE17A54BE96B28C3D728A8E3C6519E2BC74B5553EB9FC87BD265385BD2C6599BDC1A8A4BCB8AF833EC0EC1E3E9E5E89BEA1D6B4BDF85323BEE71D273E10E9373DA245363E5F294BBC2F6EC3BEC7BAB83D355E3A3DA913D03D426085BE9487853CCDCC0CBE96B20CBE29CB903D4E62903DB4C836BE0E4FAFBE6D56FDBE8CB9EBBD54E3653E583934BCB98DE6BED7A330BE7AA5AC3D9643AB3ED7346F3E4F1E963DE561213D50FC58BEA323B9BD956588BDE4831EBE",
      torch_tensor_8_torch.float32: "0x040000003B70CE3B09F920BD03090A3D73D7123EBEC1973D7A362B3D5D6DC5BCE3A51BBE"
    }
  }
#-}
