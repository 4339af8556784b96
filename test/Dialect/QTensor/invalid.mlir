// RUN: quant-opt %s -split-input-file -verify-diagnostics

//===----------------------------------------------------------------------===//
// #qtensor.layout parser
//===----------------------------------------------------------------------===//

func.func @unknown_format(%x: tensor<4x16xf32>, %s: tensor<4x1xf32>) {
  // expected-error@+1 {{unknown element format 'si9'; expected si2..si8, ui2..ui8, nf4, fp4, f8E4M3FN, f8E5M2 or dynamic8}}
  %0 = qtensor.quantize %x scales(%s : tensor<4x1xf32>) layout <si9, block = [1, 0]> : tensor<4x16xf32> -> tensor<4x16xi8>
  return
}

// -----

func.func @unknown_format_string(%x: tensor<4x16xf32>, %s: tensor<4x1xf32>) {
  // expected-error@+1 {{unknown element format 'int4'}}
  %0 = qtensor.quantize %x scales(%s : tensor<4x1xf32>) layout <"int4", block = [1, 0]> : tensor<4x16xf32> -> tensor<4x16xi8>
  return
}

// -----

func.func @unknown_packing(%x: tensor<4x16xf32>, %s: tensor<4x1xf32>) {
  // expected-error@+1 {{unknown packing 'interleaved'; expected none, lsb_first or msb_first}}
  %0 = qtensor.quantize %x scales(%s : tensor<4x1xf32>) layout <si4, block = [1, 0], packing = interleaved> : tensor<4x16xf32> -> tensor<4x8xi8>
  return
}

// -----

func.func @missing_block(%x: tensor<4x16xf32>, %s: tensor<4x1xf32>) {
  // expected-error@+1 {{expected ','}}
  %0 = qtensor.quantize %x scales(%s : tensor<4x1xf32>) layout <si8> : tensor<4x16xf32> -> tensor<4x16xi8>
  return
}

// -----

func.func @misspelled_block(%x: tensor<4x16xf32>, %s: tensor<4x1xf32>) {
  // expected-error@+1 {{expected 'block'}}
  %0 = qtensor.quantize %x scales(%s : tensor<4x1xf32>) layout <si8, blocks = [1, 0]> : tensor<4x16xf32> -> tensor<4x16xi8>
  return
}

// -----

func.func @non_integer_block(%x: tensor<4x16xf32>, %s: tensor<4x1xf32>) {
  // expected-error@+1 {{expected integer value}}
  %0 = qtensor.quantize %x scales(%s : tensor<4x1xf32>) layout <si8, block = [1, 0.5]> : tensor<4x16xf32> -> tensor<4x16xi8>
  return
}

// -----

func.func @misspelled_packing(%x: tensor<4x16xf32>, %s: tensor<4x1xf32>) {
  // expected-error@+1 {{expected 'packing'}}
  %0 = qtensor.quantize %x scales(%s : tensor<4x1xf32>) layout <si8, block = [1, 0], pack = none> : tensor<4x16xf32> -> tensor<4x16xi8>
  return
}

// -----

func.func @duplicate_packing(%x: tensor<4x16xf32>, %s: tensor<4x1xf32>) {
  // expected-error@+1 {{expected '>'}}
  %0 = qtensor.quantize %x scales(%s : tensor<4x1xf32>) layout <si8, block = [1, 0], packing = none, packing = none> : tensor<4x16xf32> -> tensor<4x16xi8>
  return
}

// -----

// expected-error@+1 {{unknown attribute `layouts` in dialect `qtensor`}}
func.func @unknown_attribute() attributes {a = #qtensor.layouts<si8, block = [0]>} {
  return
}

// -----

//===----------------------------------------------------------------------===//
// #qtensor.layout verifier
//===----------------------------------------------------------------------===//

func.func @empty_block(%x: tensor<4x16xf32>, %s: tensor<4x1xf32>) {
  // expected-error@+1 {{layout needs one block size per dimension, got none}}
  %0 = qtensor.quantize %x scales(%s : tensor<4x1xf32>) layout <si8, block = []> : tensor<4x16xf32> -> tensor<4x16xi8>
  return
}

// -----

func.func @negative_block(%x: tensor<4x16xf32>, %s: tensor<4x1xf32>) {
  // expected-error@+1 {{block sizes must be >= 0 (0 = whole dimension), got -32}}
  %0 = qtensor.quantize %x scales(%s : tensor<4x1xf32>) layout <si8, block = [1, -32]> : tensor<4x16xf32> -> tensor<4x16xi8>
  return
}

// -----

// The attribute verifier also runs outside qtensor ops.
// expected-error@+1 {{block sizes must be >= 0 (0 = whole dimension), got -1}}
func.func @negative_block_standalone() attributes {a = #qtensor.layout<si8, block = [-1]>} {
  return
}

// -----

func.func @lsb_first_8bit(%x: tensor<4x16xf32>, %s: tensor<4x1xf32>) {
  // expected-error@+1 {{packing = lsb_first needs a sub-byte format, got si8}}
  %0 = qtensor.quantize %x scales(%s : tensor<4x1xf32>) layout <si8, block = [1, 0], packing = lsb_first> : tensor<4x16xf32> -> tensor<4x16xi8>
  return
}

// -----

func.func @lsb_first_fp8(%x: tensor<4x16xf32>, %s: tensor<4x1xf32>) {
  // expected-error@+1 {{packing = lsb_first needs a sub-byte format, got f8E5M2}}
  %0 = qtensor.quantize %x scales(%s : tensor<4x1xf32>) layout <f8E5M2, block = [1, 0], packing = lsb_first> : tensor<4x16xf32> -> tensor<4x16xi8>
  return
}

// -----

func.func @msb_first_3bit(%x: tensor<4x16xf32>, %s: tensor<4x1xf32>) {
  // expected-error@+1 {{packing = msb_first supports 2- and 4-bit formats only, got ui3}}
  %0 = qtensor.quantize %x scales(%s : tensor<4x1xf32>) layout <ui3, block = [1, 0], packing = msb_first> : tensor<4x16xf32> -> tensor<4x6xi8>
  return
}

// -----

func.func @msb_first_8bit(%x: tensor<4x16xf32>, %s: tensor<4x1xf32>) {
  // expected-error@+1 {{packing = msb_first supports 2- and 4-bit formats only, got f8E4M3FN}}
  %0 = qtensor.quantize %x scales(%s : tensor<4x1xf32>) layout <f8E4M3FN, block = [1, 0], packing = msb_first> : tensor<4x16xf32> -> tensor<4x16xi8>
  return
}

// -----

//===----------------------------------------------------------------------===//
// Checks shared by quantize, dequantize, dequant_matmul and fake_quant
//===----------------------------------------------------------------------===//

func.func @quantize_rank0(%x: tensor<f32>, %s: tensor<1xf32>) {
  // expected-error@+1 {{'qtensor.quantize' op quantized tensors must have rank >= 1}}
  %0 = qtensor.quantize %x scales(%s : tensor<1xf32>) layout <si8, block = [0]> : tensor<f32> -> tensor<i8>
  return
}

// -----

func.func @dequantize_rank0(%q: tensor<i8>, %s: tensor<1xf32>) {
  // expected-error@+1 {{'qtensor.dequantize' op quantized tensors must have rank >= 1}}
  %0 = qtensor.dequantize %q scales(%s : tensor<1xf32>) layout <si8, block = [0]> : tensor<i8> -> tensor<f32>
  return
}

// -----

func.func @block_rank_mismatch(%x: tensor<4x16xf32>, %s: tensor<4x1xf32>) {
  // expected-error@+1 {{'qtensor.quantize' op layout has 3 block sizes but the quantized tensor has rank 2}}
  %0 = qtensor.quantize %x scales(%s : tensor<4x1xf32>) layout <si8, block = [1, 0, 0]> : tensor<4x16xf32> -> tensor<4x16xi8>
  return
}

// -----

func.func @quantize_unpacked_storage(%x: tensor<8x64xf32>, %s: tensor<8x2xf32>) {
  // expected-error@+1 {{'qtensor.quantize' op storage shape 8x64 does not match logical shape 8x64 under the layout; expected 8x32}}
  %0 = qtensor.quantize %x scales(%s : tensor<8x2xf32>) layout <ui4, block = [1, 32], packing = lsb_first> : tensor<8x64xf32> -> tensor<8x64xi8>
  return
}

// -----

// Rows are padded to whole bytes: 172 3-bit codes need 65 bytes.
func.func @quantize_unpadded_storage(%x: tensor<8x172xf32>, %s: tensor<8x6xf32>) {
  // expected-error@+1 {{storage shape 8x64 does not match logical shape 8x172 under the layout; expected 8x65}}
  %0 = qtensor.quantize %x scales(%s : tensor<8x6xf32>) layout <si3, block = [1, 32], packing = lsb_first> : tensor<8x172xf32> -> tensor<8x64xi8>
  return
}

// -----

func.func @dequantize_storage_rows(%q: tensor<4x32xi8>, %s: tensor<8x2xf32>) {
  // expected-error@+1 {{'qtensor.dequantize' op storage shape 4x32 does not match logical shape 8x64 under the layout; expected 8x32}}
  %0 = qtensor.dequantize %q scales(%s : tensor<8x2xf32>) layout <nf4, block = [1, 32], packing = msb_first> : tensor<4x32xi8> -> tensor<8x64xf32>
  return
}

// -----

func.func @dequantize_storage_rank(%q: tensor<512xi8>, %s: tensor<8x1xf32>) {
  // expected-error@+1 {{storage shape 512 does not match logical shape 8x64 under the layout; expected 8x64}}
  %0 = qtensor.dequantize %q scales(%s : tensor<8x1xf32>) layout <si8, block = [1, 0]> : tensor<512xi8> -> tensor<8x64xf32>
  return
}

// -----

// K = 172 in groups of 32 needs 6 groups, not 5.
func.func @ragged_scales(%x: tensor<8x172xf32>, %s: tensor<8x5xf32>) {
  // expected-error@+1 {{'qtensor.quantize' op scales shape 8x5 does not match the blocks of logical shape 8x172; expected 8x6}}
  %0 = qtensor.quantize %x scales(%s : tensor<8x5xf32>) layout <ui4, block = [1, 32], packing = lsb_first> : tensor<8x172xf32> -> tensor<8x86xi8>
  return
}

// -----

func.func @per_tensor_scales(%x: tensor<4x16xf32>, %s: tensor<1xf32>) {
  // expected-error@+1 {{scales shape 1 does not match the blocks of logical shape 4x16; expected 1x1}}
  %0 = qtensor.fake_quant %x scales(%s : tensor<1xf32>) layout <si8, block = [0, 0]> : tensor<4x16xf32>
  return
}

// -----

func.func @dequantize_scales(%q: tensor<8x64xi8>, %s: tensor<8x1xf32>) {
  // expected-error@+1 {{'qtensor.dequantize' op scales shape 8x1 does not match the blocks of logical shape 8x64; expected 8x2}}
  %0 = qtensor.dequantize %q scales(%s : tensor<8x1xf32>) layout <si8, block = [1, 32]> : tensor<8x64xi8> -> tensor<8x64xf32>
  return
}

// -----

// With group_index the scales still have ceil(K / group) columns.
func.func @group_index_scales(%q: tensor<8x64xi8>, %s: tensor<4x2xf32>, %g: tensor<64xi32>) {
  // expected-error@+1 {{scales shape 4x2 does not match the blocks of logical shape 8x64; expected 8x2}}
  %0 = qtensor.dequantize %q scales(%s : tensor<4x2xf32>) group_index(%g : tensor<64xi32>) layout <si8, block = [1, 32]> : tensor<8x64xi8> -> tensor<8x64xf32>
  return
}

// -----

func.func @nf4_zero_points(%q: tensor<8x32xi8>, %s: tensor<8x2xf32>, %z: tensor<8x2xi8>) {
  // expected-error@+1 {{'qtensor.dequantize' op format nf4 takes no zero-points}}
  %0 = qtensor.dequantize %q scales(%s : tensor<8x2xf32>) zero_points(%z : tensor<8x2xi8>) layout <nf4, block = [1, 32], packing = msb_first> : tensor<8x32xi8> -> tensor<8x64xf32>
  return
}

// -----

func.func @fp4_zero_points(%x: tensor<8x64xf32>, %s: tensor<8x2xf32>, %z: tensor<8x2xf32>) {
  // expected-error@+1 {{'qtensor.quantize' op format fp4 takes no zero-points}}
  %0 = qtensor.quantize %x scales(%s : tensor<8x2xf32>) zero_points(%z : tensor<8x2xf32>) layout <fp4, block = [1, 32], packing = lsb_first> : tensor<8x64xf32> -> tensor<8x32xi8>
  return
}

// -----

func.func @fp8_zero_points(%x: tensor<8x64xf32>, %s: tensor<8x1xf32>, %z: tensor<8x1xf32>) {
  // expected-error@+1 {{'qtensor.fake_quant' op format f8E4M3FN takes no zero-points}}
  %0 = qtensor.fake_quant %x scales(%s : tensor<8x1xf32>) zero_points(%z : tensor<8x1xf32>) layout <f8E4M3FN, block = [1, 0]> : tensor<8x64xf32>
  return
}

// -----

func.func @zero_points_shape(%x: tensor<8x64xf32>, %s: tensor<8x2xf32>, %z: tensor<8x1xi8>) {
  // expected-error@+1 {{'qtensor.quantize' op zero-points shape 8x1 must equal the scales shape 8x2}}
  %0 = qtensor.quantize %x scales(%s : tensor<8x2xf32>) zero_points(%z : tensor<8x1xi8>) layout <ui4, block = [1, 32]> : tensor<8x64xf32> -> tensor<8x64xi8>
  return
}

// -----

func.func @group_index_size(%q: tensor<8x64xi8>, %s: tensor<8x4xf32>, %g: tensor<64xi32>) {
  // expected-error@+1 {{'qtensor.dequantize' op group_index has 64 entries but the last logical dimension is 128}}
  %0 = qtensor.dequantize %q scales(%s : tensor<8x4xf32>) group_index(%g : tensor<64xi32>) layout <ui4, block = [1, 32], packing = lsb_first> : tensor<8x64xi8> -> tensor<8x128xf32>
  return
}

// -----

//===----------------------------------------------------------------------===//
// qtensor.dequant_matmul
//===----------------------------------------------------------------------===//

func.func @matmul_result_type(%x: tensor<4x64xf32>, %q: tensor<8x64xi8>, %s: tensor<8x1xf32>, %i: tensor<4x8xf32>) {
  // expected-error@+1 {{'qtensor.dequant_matmul' op result type 'tensor<4x?xf32>' must equal the init type 'tensor<4x8xf32>'}}
  %0 = qtensor.dequant_matmul %x, %q scales(%s : tensor<8x1xf32>) layout <si8, block = [1, 0]> outs(%i : tensor<4x8xf32>) : tensor<4x64xf32>, tensor<8x64xi8> -> tensor<4x?xf32>
  return
}

// -----

func.func @matmul_f16_init(%x: tensor<4x64xf16>, %q: tensor<8x64xi8>, %s: tensor<8x1xf16>, %i: tensor<4x8xf16>) {
  // expected-error@+1 {{'qtensor.dequant_matmul' op accumulates in f32; init must have f32 elements}}
  %0 = qtensor.dequant_matmul %x, %q scales(%s : tensor<8x1xf16>) layout <si8, block = [1, 0]> outs(%i : tensor<4x8xf16>) : tensor<4x64xf16>, tensor<8x64xi8> -> tensor<4x8xf16>
  return
}

// -----

func.func @matmul_weight_rank1(%x: tensor<4x64xf32>, %q: tensor<64xi8>, %s: tensor<1xf32>, %i: tensor<4x1xf32>) {
  // expected-error@+1 {{'qtensor.dequant_matmul' op 1-D storage holds the flat stream of an [N, K] weight and needs flat blocks (one block size), got 2 block sizes}}
  %0 = qtensor.dequant_matmul %x, %q scales(%s : tensor<1xf32>) layout <si8, block = [1, 0]> outs(%i : tensor<4x1xf32>) : tensor<4x64xf32>, tensor<64xi8> -> tensor<4x1xf32>
  return
}

// -----

func.func @matmul_weight_rank4(%x: tensor<2x2x4x64xf32>, %q: tensor<2x2x8x64xi8>, %s: tensor<1x1x1x1xf32>, %i: tensor<2x2x4x8xf32>) {
  // expected-error@+1 {{weight must be [N, K] or [B, N, K], got rank 4}}
  %0 = qtensor.dequant_matmul %x, %q scales(%s : tensor<1x1x1x1xf32>) layout <si8, block = [0, 0, 0, 0]> outs(%i : tensor<2x2x4x8xf32>) : tensor<2x2x4x64xf32>, tensor<2x2x8x64xi8> -> tensor<2x2x4x8xf32>
  return
}

// -----

func.func @matmul_rank_mismatch(%x: tensor<2x4x64xf32>, %q: tensor<8x64xi8>, %s: tensor<8x1xf32>, %i: tensor<8x8xf32>) {
  // expected-error@+1 {{'qtensor.dequant_matmul' op input rank 3 and init rank 2 must be equal and >= 1}}
  %0 = qtensor.dequant_matmul %x, %q scales(%s : tensor<8x1xf32>) layout <si8, block = [1, 0]> outs(%i : tensor<8x8xf32>) : tensor<2x4x64xf32>, tensor<8x64xi8> -> tensor<8x8xf32>
  return
}

// -----

func.func @matmul_rank0(%x: tensor<f32>, %q: tensor<8x64xi8>, %s: tensor<8x1xf32>, %i: tensor<f32>) {
  // expected-error@+1 {{'qtensor.dequant_matmul' op input rank 0 and init rank 0 must be equal and >= 1}}
  %0 = qtensor.dequant_matmul %x, %q scales(%s : tensor<8x1xf32>) layout <si8, block = [1, 0]> outs(%i : tensor<f32>) : tensor<f32>, tensor<8x64xi8> -> tensor<f32>
  return
}

// -----

func.func @matmul_batched_weight_2d_input(%x: tensor<4x64xf32>, %q: tensor<2x8x64xi8>, %s: tensor<2x8x1xf32>, %i: tensor<4x8xf32>) {
  // expected-error@+1 {{'qtensor.dequant_matmul' op a [B, N, K] weight needs a [B, M, K] input}}
  %0 = qtensor.dequant_matmul %x, %q scales(%s : tensor<2x8x1xf32>) layout <si8, block = [1, 1, 0]> outs(%i : tensor<4x8xf32>) : tensor<4x64xf32>, tensor<2x8x64xi8> -> tensor<4x8xf32>
  return
}

// -----

func.func @matmul_rows(%x: tensor<4x64xf32>, %q: tensor<8x64xi8>, %s: tensor<8x1xf32>, %i: tensor<5x8xf32>) {
  // expected-error@+1 {{'qtensor.dequant_matmul' op input shape 4x64 and init shape 5x8 differ outside the last dimension}}
  %0 = qtensor.dequant_matmul %x, %q scales(%s : tensor<8x1xf32>) layout <si8, block = [1, 0]> outs(%i : tensor<5x8xf32>) : tensor<4x64xf32>, tensor<8x64xi8> -> tensor<5x8xf32>
  return
}

// -----

func.func @matmul_output_channels(%x: tensor<4x64xf32>, %q: tensor<8x64xi8>, %s: tensor<8x1xf32>, %i: tensor<4x16xf32>) {
  // expected-error@+1 {{'qtensor.dequant_matmul' op init has 16 output channels but the weight has 8}}
  %0 = qtensor.dequant_matmul %x, %q scales(%s : tensor<8x1xf32>) layout <si8, block = [1, 0]> outs(%i : tensor<4x16xf32>) : tensor<4x64xf32>, tensor<8x64xi8> -> tensor<4x16xf32>
  return
}

// -----

func.func @matmul_batch(%x: tensor<2x4x64xf32>, %q: tensor<3x8x64xi8>, %s: tensor<3x8x1xf32>, %i: tensor<2x4x8xf32>) {
  // expected-error@+1 {{'qtensor.dequant_matmul' op input batch 2 and init batch 2 must equal the weight batch 3}}
  %0 = qtensor.dequant_matmul %x, %q scales(%s : tensor<3x8x1xf32>) layout <si8, block = [1, 1, 0]> outs(%i : tensor<2x4x8xf32>) : tensor<2x4x64xf32>, tensor<3x8x64xi8> -> tensor<2x4x8xf32>
  return
}

// -----

func.func @matmul_dynamic_k(%x: tensor<4x?xf32>, %q: tensor<8x32xi8>, %s: tensor<8x1xf32>, %i: tensor<4x8xf32>) {
  // expected-error@+1 {{'qtensor.dequant_matmul' op the reduction dimension K must be static}}
  %0 = qtensor.dequant_matmul %x, %q scales(%s : tensor<8x1xf32>) layout <si4, block = [1, 0], packing = lsb_first> outs(%i : tensor<4x8xf32>) : tensor<4x?xf32>, tensor<8x32xi8> -> tensor<4x8xf32>
  return
}

// -----

// The logical K comes from the input: 60 4-bit codes need 30 bytes, not 32.
func.func @matmul_storage_k(%x: tensor<4x60xf32>, %q: tensor<8x32xi8>, %s: tensor<8x2xf32>, %i: tensor<4x8xf32>) {
  // expected-error@+1 {{'qtensor.dequant_matmul' op storage shape 8x32 does not match logical shape 8x60 under the layout; expected 8x30}}
  %0 = qtensor.dequant_matmul %x, %q scales(%s : tensor<8x2xf32>) layout <ui4, block = [1, 32], packing = lsb_first> outs(%i : tensor<4x8xf32>) : tensor<4x60xf32>, tensor<8x32xi8> -> tensor<4x8xf32>
  return
}

// -----

func.func @matmul_block_rank(%x: tensor<2x4x64xf32>, %q: tensor<2x8x64xi8>, %s: tensor<8x1xf32>, %i: tensor<2x4x8xf32>) {
  // expected-error@+1 {{'qtensor.dequant_matmul' op layout has 2 block sizes but the quantized tensor has rank 3}}
  %0 = qtensor.dequant_matmul %x, %q scales(%s : tensor<8x1xf32>) layout <si8, block = [1, 0]> outs(%i : tensor<2x4x8xf32>) : tensor<2x4x64xf32>, tensor<2x8x64xi8> -> tensor<2x4x8xf32>
  return
}

// -----

func.func @matmul_scales(%x: tensor<2x4x64xf32>, %q: tensor<2x8x64xi8>, %s: tensor<8x2xf32>, %i: tensor<2x4x8xf32>) {
  // expected-error@+1 {{'qtensor.dequant_matmul' op scales shape 8x2 does not match the blocks of logical shape 2x8x64; expected 2x8x2}}
  %0 = qtensor.dequant_matmul %x, %q scales(%s : tensor<8x2xf32>) layout <si8, block = [1, 1, 32]> outs(%i : tensor<2x4x8xf32>) : tensor<2x4x64xf32>, tensor<2x8x64xi8> -> tensor<2x4x8xf32>
  return
}

// -----

func.func @matmul_zero_points(%x: tensor<4x64xf32>, %q: tensor<8x32xi8>, %s: tensor<8x2xf32>, %z: tensor<2x8xi8>, %i: tensor<4x8xf32>) {
  // expected-error@+1 {{'qtensor.dequant_matmul' op zero-points shape 2x8 must equal the scales shape 8x2}}
  %0 = qtensor.dequant_matmul %x, %q scales(%s : tensor<8x2xf32>) zero_points(%z : tensor<2x8xi8>) layout <ui4, block = [1, 32], packing = lsb_first> outs(%i : tensor<4x8xf32>) : tensor<4x64xf32>, tensor<8x32xi8> -> tensor<4x8xf32>
  return
}

// -----

func.func @matmul_group_index(%x: tensor<4x64xf32>, %q: tensor<8x32xi8>, %s: tensor<8x2xf32>, %g: tensor<128xi32>, %i: tensor<4x8xf32>) {
  // expected-error@+1 {{'qtensor.dequant_matmul' op group_index has 128 entries but the last logical dimension is 64}}
  %0 = qtensor.dequant_matmul %x, %q scales(%s : tensor<8x2xf32>) group_index(%g : tensor<128xi32>) layout <ui4, block = [1, 32], packing = lsb_first> outs(%i : tensor<4x8xf32>) : tensor<4x64xf32>, tensor<8x32xi8> -> tensor<4x8xf32>
  return
}

// -----

//===----------------------------------------------------------------------===//
// qtensor.fake_quant
//===----------------------------------------------------------------------===//

func.func @fake_quant_packing(%x: tensor<4x16xf32>, %s: tensor<4x1xf32>) {
  // expected-error@+1 {{'qtensor.fake_quant' op layout packing must be none: fake_quant has no storage}}
  %0 = qtensor.fake_quant %x scales(%s : tensor<4x1xf32>) layout <si4, block = [1, 0], packing = lsb_first> : tensor<4x16xf32>
  return
}

// -----

func.func @fake_quant_rank0(%x: tensor<f32>, %s: tensor<1xf32>) {
  // expected-error@+1 {{'qtensor.fake_quant' op quantized tensors must have rank >= 1}}
  %0 = qtensor.fake_quant %x scales(%s : tensor<1xf32>) layout <si8, block = [0]> : tensor<f32>
  return
}

// -----

func.func @fake_quant_result_type(%x: tensor<4x16xf32>, %s: tensor<4x1xf32>) {
  // expected-error@+1 {{'qtensor.fake_quant' op failed to verify that all of {input, result} have same type}}
  %0 = "qtensor.fake_quant"(%x, %s) <{layout = #qtensor.layout<si8, block = [1, 0]>}> : (tensor<4x16xf32>, tensor<4x1xf32>) -> tensor<4x16xf16>
  return
}

// -----

//===----------------------------------------------------------------------===//
// qtensor.dynamic_quantize
//===----------------------------------------------------------------------===//

func.func @dynamic_quantize_rank0(%x: tensor<f32>) {
  // expected-error@+1 {{'qtensor.dynamic_quantize' op input must have rank >= 1}}
  %0:2 = qtensor.dynamic_quantize %x : tensor<f32> -> tensor<i8>, tensor<f32>
  return
}

// -----

func.func @dynamic_quantize_codes(%x: tensor<4x64xf32>) {
  // expected-error@+1 {{'qtensor.dynamic_quantize' op codes shape 4x32 must equal the input shape 4x64}}
  %0:2 = qtensor.dynamic_quantize %x {bits = 4 : i32} : tensor<4x64xf32> -> tensor<4x32xi8>, tensor<4x1xf32>
  return
}

// -----

func.func @dynamic_quantize_scales(%x: tensor<4x64xf32>) {
  // expected-error@+1 {{'qtensor.dynamic_quantize' op scales shape 1x64 must be the input shape with a last dimension of 1, 4x1, or all ones}}
  %0:2 = qtensor.dynamic_quantize %x : tensor<4x64xf32> -> tensor<4x64xi8>, tensor<1x64xf32>
  return
}

// -----

func.func @dynamic_quantize_scales_rank(%x: tensor<4x64xf32>) {
  // expected-error@+1 {{scales shape 4 must be the input shape with a last dimension of 1, 4x1}}
  %0:2 = qtensor.dynamic_quantize %x : tensor<4x64xf32> -> tensor<4x64xi8>, tensor<4xf32>
  return
}

// -----

func.func @dynamic_quantize_bits_low(%x: tensor<4x64xf32>) {
  // expected-error@+1 {{attribute 'bits' failed to satisfy constraint: 32-bit signless integer attribute whose minimum value is 2 whose maximum value is 8}}
  %0:2 = qtensor.dynamic_quantize %x {bits = 1 : i32} : tensor<4x64xf32> -> tensor<4x64xi8>, tensor<4x1xf32>
  return
}

// -----

func.func @dynamic_quantize_bits_high(%x: tensor<4x64xf32>) {
  // expected-error@+1 {{attribute 'bits' failed to satisfy constraint: 32-bit signless integer attribute whose minimum value is 2 whose maximum value is 8}}
  %0:2 = qtensor.dynamic_quantize %x {bits = 9 : i32} : tensor<4x64xf32> -> tensor<4x64xi8>, tensor<4x1xf32>
  return
}

// -----

func.func @dynamic_quantize_bits_i64(%x: tensor<4x64xf32>) {
  // expected-error@+1 {{attribute 'bits' failed to satisfy constraint: 32-bit signless integer attribute}}
  %0:2 = qtensor.dynamic_quantize %x {bits = 8 : i64} : tensor<4x64xf32> -> tensor<4x64xi8>, tensor<4x1xf32>
  return
}

// -----

func.func @dynamic_quantize_f16_scales(%x: tensor<4x64xf32>) {
  // expected-error@+1 {{'qtensor.dynamic_quantize' op result #1 must be ranked tensor of 32-bit float values, but got 'tensor<4x1xf16>'}}
  %0:2 = qtensor.dynamic_quantize %x : tensor<4x64xf32> -> tensor<4x64xi8>, tensor<4x1xf16>
  return
}

// -----

func.func @dynamic_quantize_i32_codes(%x: tensor<4x64xf32>) {
  // expected-error@+1 {{'qtensor.dynamic_quantize' op result #0 must be ranked tensor of 8-bit signless integer values, but got 'tensor<4x64xi32>'}}
  %0:2 = qtensor.dynamic_quantize %x : tensor<4x64xf32> -> tensor<4x64xi32>, tensor<4x1xf32>
  return
}

// -----

//===----------------------------------------------------------------------===//
// ODS type constraints
//===----------------------------------------------------------------------===//

func.func @f64_scales(%x: tensor<4x16xf32>, %s: tensor<4x1xf64>) {
  // expected-error@+1 {{'qtensor.quantize' op operand #1 must be ranked tensor of 32-bit float or 16-bit float or bfloat16 type values, but got 'tensor<4x1xf64>'}}
  %0 = qtensor.quantize %x scales(%s : tensor<4x1xf64>) layout <si8, block = [1, 0]> : tensor<4x16xf32> -> tensor<4x16xi8>
  return
}

// -----

func.func @f8_scales(%q: tensor<4x16xi8>, %s: tensor<4x1xf8E4M3FN>) {
  // expected-error@+1 {{'qtensor.dequantize' op operand #1 must be ranked tensor of 32-bit float or 16-bit float or bfloat16 type values, but got 'tensor<4x1xf8E4M3FN>'}}
  %0 = qtensor.dequantize %q scales(%s : tensor<4x1xf8E4M3FN>) layout <si8, block = [1, 0]> : tensor<4x16xi8> -> tensor<4x16xf32>
  return
}

// -----

func.func @f64_input(%x: tensor<4x16xf64>, %s: tensor<4x1xf32>) {
  // expected-error@+1 {{'qtensor.quantize' op operand #0 must be ranked tensor of 32-bit float or 16-bit float or bfloat16 type values, but got 'tensor<4x16xf64>'}}
  %0 = qtensor.quantize %x scales(%s : tensor<4x1xf32>) layout <si8, block = [1, 0]> : tensor<4x16xf64> -> tensor<4x16xi8>
  return
}

// -----

func.func @i16_quantize_result(%x: tensor<4x16xf32>, %s: tensor<4x1xf32>) {
  // expected-error@+1 {{'qtensor.quantize' op result #0 must be ranked tensor of 8-bit signless integer values, but got 'tensor<4x16xi16>'}}
  %0 = qtensor.quantize %x scales(%s : tensor<4x1xf32>) layout <si8, block = [1, 0]> : tensor<4x16xf32> -> tensor<4x16xi16>
  return
}

// -----

func.func @i16_storage(%q: tensor<4x16xi16>, %s: tensor<4x1xf32>) {
  // expected-error@+1 {{'qtensor.dequantize' op operand #0 must be ranked tensor of 8-bit signless integer values, but got 'tensor<4x16xi16>'}}
  %0 = qtensor.dequantize %q scales(%s : tensor<4x1xf32>) layout <si8, block = [1, 0]> : tensor<4x16xi16> -> tensor<4x16xf32>
  return
}

// -----

func.func @ui8_storage(%q: tensor<4x16xui8>, %s: tensor<4x1xf32>) {
  // expected-error@+1 {{'qtensor.dequantize' op operand #0 must be ranked tensor of 8-bit signless integer values, but got 'tensor<4x16xui8>'}}
  %0 = qtensor.dequantize %q scales(%s : tensor<4x1xf32>) layout <ui8, block = [1, 0]> : tensor<4x16xui8> -> tensor<4x16xf32>
  return
}

// -----

func.func @f64_dequantize_result(%q: tensor<4x16xi8>, %s: tensor<4x1xf32>) {
  // expected-error@+1 {{'qtensor.dequantize' op result #0 must be ranked tensor of 32-bit float or 16-bit float or bfloat16 type values, but got 'tensor<4x16xf64>'}}
  %0 = qtensor.dequantize %q scales(%s : tensor<4x1xf32>) layout <si8, block = [1, 0]> : tensor<4x16xi8> -> tensor<4x16xf64>
  return
}

// -----

func.func @unsigned_zero_points(%x: tensor<4x16xf32>, %s: tensor<4x1xf32>, %z: tensor<4x1xui8>) {
  // expected-error@+1 {{'qtensor.quantize' op operand #2 must be ranked tensor of 8-bit signless integer or 16-bit signless integer or 32-bit signless integer or 32-bit float or 16-bit float or bfloat16 type values, but got 'tensor<4x1xui8>'}}
  %0 = qtensor.quantize %x scales(%s : tensor<4x1xf32>) zero_points(%z : tensor<4x1xui8>) layout <ui8, block = [1, 0]> : tensor<4x16xf32> -> tensor<4x16xi8>
  return
}

// -----

func.func @f64_zero_points(%q: tensor<4x16xi8>, %s: tensor<4x1xf32>, %z: tensor<4x1xf64>) {
  // expected-error@+1 {{'qtensor.dequantize' op operand #2 must be ranked tensor of 8-bit signless integer or 16-bit signless integer or 32-bit signless integer or 32-bit float or 16-bit float or bfloat16 type values, but got 'tensor<4x1xf64>'}}
  %0 = qtensor.dequantize %q scales(%s : tensor<4x1xf32>) zero_points(%z : tensor<4x1xf64>) layout <ui8, block = [1, 0]> : tensor<4x16xi8> -> tensor<4x16xf32>
  return
}

// -----

func.func @i64_group_index(%q: tensor<4x16xi8>, %s: tensor<4x1xf32>, %g: tensor<16xi64>) {
  // expected-error@+1 {{'qtensor.dequantize' op operand #2 must be 1D tensor of 32-bit signless integer values, but got 'tensor<16xi64>'}}
  %0 = qtensor.dequantize %q scales(%s : tensor<4x1xf32>) group_index(%g : tensor<16xi64>) layout <ui8, block = [1, 0]> : tensor<4x16xi8> -> tensor<4x16xf32>
  return
}

// -----

func.func @group_index_2d(%x: tensor<4x16xf32>, %q: tensor<8x16xi8>, %s: tensor<8x1xf32>, %g: tensor<1x16xi32>, %i: tensor<4x8xf32>) {
  // expected-error@+1 {{'qtensor.dequant_matmul' op operand #3 must be 1D tensor of 32-bit signless integer values, but got 'tensor<1x16xi32>'}}
  %0 = qtensor.dequant_matmul %x, %q scales(%s : tensor<8x1xf32>) group_index(%g : tensor<1x16xi32>) layout <si8, block = [1, 0]> outs(%i : tensor<4x8xf32>) : tensor<4x16xf32>, tensor<8x16xi8> -> tensor<4x8xf32>
  return
}

// -----

func.func @f64_init(%x: tensor<4x16xf32>, %q: tensor<8x16xi8>, %s: tensor<8x1xf32>, %i: tensor<4x8xf64>) {
  // expected-error@+1 {{'qtensor.dequant_matmul' op operand #3 must be ranked tensor of 32-bit float or 16-bit float or bfloat16 type values, but got 'tensor<4x8xf64>'}}
  %0 = qtensor.dequant_matmul %x, %q scales(%s : tensor<8x1xf32>) layout <si8, block = [1, 0]> outs(%i : tensor<4x8xf64>) : tensor<4x16xf32>, tensor<8x16xi8> -> tensor<4x8xf64>
  return
}

// -----

func.func @unranked_input(%x: tensor<*xf32>, %s: tensor<1xf32>) {
  // expected-error@+1 {{invalid kind of type specified: expected builtin.tensor, but found 'tensor<*xf32>'}}
  %0 = qtensor.fake_quant %x scales(%s : tensor<1xf32>) layout <si8, block = [0]> : tensor<*xf32>
  return
}

// -----

func.func @missing_layout(%x: tensor<4x16xf32>, %s: tensor<4x1xf32>) {
  // expected-error@+1 {{'qtensor.quantize' op requires attribute 'layout'}}
  %0 = "qtensor.quantize"(%x, %s) : (tensor<4x16xf32>, tensor<4x1xf32>) -> tensor<4x16xi8>
  return
}

// -----

func.func @wrong_layout_kind(%x: tensor<4x16xf32>, %s: tensor<4x1xf32>) {
  // expected-error@+1 {{'qtensor.quantize' op attribute 'layout' failed to satisfy constraint: Element format, block shape and packing of a quantized tensor}}
  %0 = "qtensor.quantize"(%x, %s) {layout = 3 : i32} : (tensor<4x16xf32>, tensor<4x1xf32>) -> tensor<4x16xi8>
  return
}

// -----

func.func @group_index_needs_group(%q: tensor<8x64xi8>, %s: tensor<1x1xf32>, %g: tensor<64xi32>) {
  // expected-error@+1 {{'qtensor.dequantize' op group_index needs a group size along the last dimension, but its block is 0}}
  %0 = qtensor.dequantize %q scales(%s : tensor<1x1xf32>) group_index(%g : tensor<64xi32>) layout <si8, block = [0, 0]> : tensor<8x64xi8> -> tensor<8x64xf32>
  return
}

// -----

func.func @huge_extent(%x: tensor<1x4611686018427387904xf32>, %s: tensor<1x1xf32>) {
  // expected-error@+1 {{'qtensor.quantize' op logical dimension 4611686018427387904 exceeds the supported maximum of 2^48}}
  %0 = qtensor.quantize %x scales(%s : tensor<1x1xf32>) layout <ui4, block = [0, 0], packing = lsb_first> : tensor<1x4611686018427387904xf32> -> tensor<1x0xi8>
  return
}

// -----

func.func @batched_init_batch(%x: tensor<?x4x64xf32>, %q: tensor<3x8x64xi8>, %s: tensor<3x8x1xf32>, %init: tensor<5x4x8xf32>) {
  // expected-error@+1 {{'qtensor.dequant_matmul' op input batch ? and init batch 5 must equal the weight batch 3}}
  %0 = qtensor.dequant_matmul %x, %q scales(%s : tensor<3x8x1xf32>) layout <si8, block = [1, 1, 0]> outs(%init : tensor<5x4x8xf32>) : tensor<?x4x64xf32>, tensor<3x8x64xi8> -> tensor<5x4x8xf32>
  return
}

// -----

//===----------------------------------------------------------------------===//
// qtensor.quantized_matmul
//===----------------------------------------------------------------------===//

func.func @quantized_matmul_result(%x: tensor<4x64xi8>, %sx: tensor<4x1xf32>, %w: tensor<8x64xi8>, %sw: tensor<8x1xf32>, %init: tensor<4x8xf32>) {
  // expected-error@+1 {{'qtensor.quantized_matmul' op result type 'tensor<4x9xf32>' must equal the init type 'tensor<4x8xf32>'}}
  %0 = "qtensor.quantized_matmul"(%x, %sx, %w, %sw, %init) ({
  }) : (tensor<4x64xi8>, tensor<4x1xf32>, tensor<8x64xi8>, tensor<8x1xf32>, tensor<4x8xf32>) -> tensor<4x9xf32>
  return
}

// -----

func.func @quantized_matmul_rank(%x: tensor<4x64xi8>, %sx: tensor<4x1xf32>, %w: tensor<8x64xi8>, %sw: tensor<8x1xf32>, %init: tensor<1x4x8xf32>) {
  // expected-error@+1 {{'qtensor.quantized_matmul' op input rank 2 and init rank 3 must be equal and >= 1}}
  %0 = qtensor.quantized_matmul %x, %sx, %w, %sw outs(%init : tensor<1x4x8xf32>) : tensor<4x64xi8>, tensor<4x1xf32>, tensor<8x64xi8>, tensor<8x1xf32> -> tensor<1x4x8xf32>
  return
}

// -----

func.func @quantized_matmul_rows(%x: tensor<4x64xi8>, %sx: tensor<4x1xf32>, %w: tensor<8x64xi8>, %sw: tensor<8x1xf32>, %init: tensor<5x8xf32>) {
  // expected-error@+1 {{'qtensor.quantized_matmul' op input shape 4x64 and init shape 5x8 differ outside the last dimension}}
  %0 = qtensor.quantized_matmul %x, %sx, %w, %sw outs(%init : tensor<5x8xf32>) : tensor<4x64xi8>, tensor<4x1xf32>, tensor<8x64xi8>, tensor<8x1xf32> -> tensor<5x8xf32>
  return
}

// -----

func.func @quantized_matmul_k(%x: tensor<4x32xi8>, %sx: tensor<4x1xf32>, %w: tensor<8x64xi8>, %sw: tensor<8x1xf32>, %init: tensor<4x8xf32>) {
  // expected-error@+1 {{'qtensor.quantized_matmul' op weight [N, K] = 8x64 needs a static K equal to the input's last dimension 32}}
  %0 = qtensor.quantized_matmul %x, %sx, %w, %sw outs(%init : tensor<4x8xf32>) : tensor<4x32xi8>, tensor<4x1xf32>, tensor<8x64xi8>, tensor<8x1xf32> -> tensor<4x8xf32>
  return
}

// -----

func.func @quantized_matmul_n(%x: tensor<4x64xi8>, %sx: tensor<4x1xf32>, %w: tensor<8x64xi8>, %sw: tensor<8x1xf32>, %init: tensor<4x7xf32>) {
  // expected-error@+1 {{'qtensor.quantized_matmul' op init has 7 output channels but the weight has 8}}
  %0 = qtensor.quantized_matmul %x, %sx, %w, %sw outs(%init : tensor<4x7xf32>) : tensor<4x64xi8>, tensor<4x1xf32>, tensor<8x64xi8>, tensor<8x1xf32> -> tensor<4x7xf32>
  return
}

// -----

func.func @quantized_matmul_input_scales(%x: tensor<4x64xi8>, %sx: tensor<1x4xf32>, %w: tensor<8x64xi8>, %sw: tensor<8x1xf32>, %init: tensor<4x8xf32>) {
  // expected-error@+1 {{'qtensor.quantized_matmul' op input scales shape 1x4 must be 4x1 (per token) or all ones}}
  %0 = qtensor.quantized_matmul %x, %sx, %w, %sw outs(%init : tensor<4x8xf32>) : tensor<4x64xi8>, tensor<1x4xf32>, tensor<8x64xi8>, tensor<8x1xf32> -> tensor<4x8xf32>
  return
}

// -----

func.func @quantized_matmul_groups(%x: tensor<4x64xi8>, %sx: tensor<4x1xf32>, %w: tensor<8x64xi8>, %sw: tensor<8x3xf32>, %init: tensor<4x8xf32>) {
  // expected-error@+1 {{'qtensor.quantized_matmul' op weight scales 8x3 must have a static number of groups dividing K = 64}}
  %0 = qtensor.quantized_matmul %x, %sx, %w, %sw outs(%init : tensor<4x8xf32>) : tensor<4x64xi8>, tensor<4x1xf32>, tensor<8x64xi8>, tensor<8x3xf32> -> tensor<4x8xf32>
  return
}

// -----

func.func @quantized_matmul_scale_rows(%x: tensor<4x64xi8>, %sx: tensor<4x1xf32>, %w: tensor<8x64xi8>, %sw: tensor<4x1xf32>, %init: tensor<4x8xf32>) {
  // expected-error@+1 {{'qtensor.quantized_matmul' op weight scales have 4 rows; expected 1 or N = 8}}
  %0 = qtensor.quantized_matmul %x, %sx, %w, %sw outs(%init : tensor<4x8xf32>) : tensor<4x64xi8>, tensor<4x1xf32>, tensor<8x64xi8>, tensor<4x1xf32> -> tensor<4x8xf32>
  return
}

// -----

//===----------------------------------------------------------------------===//
// qtensor.ggml_dequantize
//===----------------------------------------------------------------------===//

func.func @ggml_unknown_type(%q: tensor<8x144xi8>) {
  // expected-error@+1 {{unknown ggml type 'q4_2'}}
  %0 = qtensor.ggml_dequantize %q as q4_2 : tensor<8x144xi8> -> tensor<8x256xf32>
  return
}

// -----

func.func @ggml_dequantize_rank(%q: tensor<8x144xi8>) {
  // expected-error@+1 {{'qtensor.ggml_dequantize' op storage rank 2 and result rank 1 must be equal and >= 1}}
  %0 = qtensor.ggml_dequantize %q as q4_K : tensor<8x144xi8> -> tensor<256xf32>
  return
}

// -----

func.func @ggml_dequantize_rank0(%q: tensor<i8>) {
  // expected-error@+1 {{'qtensor.ggml_dequantize' op storage rank 0 and result rank 0 must be equal and >= 1}}
  %0 = qtensor.ggml_dequantize %q as q8_0 : tensor<i8> -> tensor<f32>
  return
}

// -----

func.func @ggml_dequantize_rows(%q: tensor<8x144xi8>) {
  // expected-error@+1 {{'qtensor.ggml_dequantize' op storage shape 8x144 and result shape 4x256 differ outside the last dimension}}
  %0 = qtensor.ggml_dequantize %q as q4_K : tensor<8x144xi8> -> tensor<4x256xf32>
  return
}

// -----

func.func @ggml_dequantize_dynamic_row(%q: tensor<8x?xi8>) {
  // expected-error@+1 {{'qtensor.ggml_dequantize' op the row length K and the storage row must be static}}
  %0 = qtensor.ggml_dequantize %q as q4_K : tensor<8x?xi8> -> tensor<8x256xf32>
  return
}

// -----

func.func @ggml_dequantize_block_multiple(%q: tensor<8x144xi8>) {
  // expected-error@+1 {{'qtensor.ggml_dequantize' op row length 128 is not a multiple of the 256-element blocks of q4_K}}
  %0 = qtensor.ggml_dequantize %q as q4_K : tensor<8x144xi8> -> tensor<8x128xf32>
  return
}

// -----

func.func @ggml_dequantize_row_bytes(%q: tensor<8x140xi8>) {
  // expected-error@+1 {{'qtensor.ggml_dequantize' op storage rows have 140 bytes; 256 elements of q4_K take 144}}
  %0 = qtensor.ggml_dequantize %q as q4_K : tensor<8x140xi8> -> tensor<8x256xf32>
  return
}

// -----

func.func @ggml_dequantize_f16_row_bytes(%q: tensor<3x7xi8>) {
  // expected-error@+1 {{'qtensor.ggml_dequantize' op storage rows have 7 bytes; 7 elements of f16 take 14}}
  %w = qtensor.ggml_dequantize %q as f16 : tensor<3x7xi8> -> tensor<3x7xf32>
  return
}

// -----

//===----------------------------------------------------------------------===//
// qtensor.ggml_matmul
//===----------------------------------------------------------------------===//

func.func @ggml_matmul_result(%x: tensor<4x64xf32>, %w: tensor<8x68xi8>, %init: tensor<4x8xf32>) {
  // expected-error@+1 {{'qtensor.ggml_matmul' op result type 'tensor<4x9xf32>' must equal the init type 'tensor<4x8xf32>'}}
  %0 = qtensor.ggml_matmul %x, %w as q8_0 outs(%init : tensor<4x8xf32>) : tensor<4x64xf32>, tensor<8x68xi8> -> tensor<4x9xf32>
  return
}

// -----

func.func @ggml_matmul_rank(%x: tensor<4x64xf32>, %w: tensor<8x68xi8>, %init: tensor<8xf32>) {
  // expected-error@+1 {{'qtensor.ggml_matmul' op input rank 2 and init rank 1 must be equal and >= 1}}
  %0 = qtensor.ggml_matmul %x, %w as q8_0 outs(%init : tensor<8xf32>) : tensor<4x64xf32>, tensor<8x68xi8> -> tensor<8xf32>
  return
}

// -----

func.func @ggml_matmul_rows(%x: tensor<4x64xf32>, %w: tensor<8x68xi8>, %init: tensor<3x8xf32>) {
  // expected-error@+1 {{'qtensor.ggml_matmul' op input shape 4x64 and init shape 3x8 differ outside the last dimension}}
  %0 = qtensor.ggml_matmul %x, %w as q8_0 outs(%init : tensor<3x8xf32>) : tensor<4x64xf32>, tensor<8x68xi8> -> tensor<3x8xf32>
  return
}

// -----

func.func @ggml_matmul_channels(%x: tensor<4x64xf32>, %w: tensor<8x68xi8>, %init: tensor<4x7xf32>) {
  // expected-error@+1 {{'qtensor.ggml_matmul' op init has 7 output channels but the weight has 8}}
  %0 = qtensor.ggml_matmul %x, %w as q8_0 outs(%init : tensor<4x7xf32>) : tensor<4x64xf32>, tensor<8x68xi8> -> tensor<4x7xf32>
  return
}

// -----

func.func @ggml_matmul_dynamic_k(%x: tensor<4x?xf32>, %w: tensor<8x68xi8>, %init: tensor<4x8xf32>) {
  // expected-error@+1 {{'qtensor.ggml_matmul' op the row length K and the storage row must be static}}
  %0 = qtensor.ggml_matmul %x, %w as q8_0 outs(%init : tensor<4x8xf32>) : tensor<4x?xf32>, tensor<8x68xi8> -> tensor<4x8xf32>
  return
}

// -----

func.func @ggml_matmul_block_multiple(%x: tensor<4x48xf32>, %w: tensor<8x68xi8>, %init: tensor<4x8xf32>) {
  // expected-error@+1 {{'qtensor.ggml_matmul' op row length 48 is not a multiple of the 32-element blocks of q8_0}}
  %0 = qtensor.ggml_matmul %x, %w as q8_0 outs(%init : tensor<4x8xf32>) : tensor<4x48xf32>, tensor<8x68xi8> -> tensor<4x8xf32>
  return
}

// -----

func.func @ggml_matmul_row_bytes(%x: tensor<4x64xf32>, %w: tensor<8x64xi8>, %init: tensor<4x8xf32>) {
  // expected-error@+1 {{'qtensor.ggml_matmul' op storage rows have 64 bytes; 64 elements of q8_0 take 68}}
  %0 = qtensor.ggml_matmul %x, %w as q8_0 outs(%init : tensor<4x8xf32>) : tensor<4x64xf32>, tensor<8x64xi8> -> tensor<4x8xf32>
  return
}

// -----

//===----------------------------------------------------------------------===//
// Flat blocks (one block size for a rank > 1 tensor)
//===----------------------------------------------------------------------===//

func.func @flat_dynamic_shape(%q: tensor<172xi8>, %s: tensor<6xf32>) {
  // expected-error@+1 {{'qtensor.dequantize' op flat blocks (one block size for a rank-2 tensor) need a static logical shape, got ?x172}}
  %0 = qtensor.dequantize %q scales(%s : tensor<6xf32>) layout <nf4, block = [64], packing = msb_first> : tensor<172xi8> -> tensor<?x172xf32>
  return
}

// -----

func.func @flat_group_index(%q: tensor<344xi8>, %s: tensor<6xf32>, %g: tensor<172xi32>) {
  // expected-error@+1 {{'qtensor.dequantize' op group_index needs one block size per dimension, not flat blocks}}
  %0 = qtensor.dequantize %q scales(%s : tensor<6xf32>) group_index(%g : tensor<172xi32>) layout <nf4, block = [64], packing = msb_first> : tensor<344xi8> -> tensor<2x172xf32>
  return
}

// -----

func.func @flat_too_many_elements(%q: tensor<8xi8>, %s: tensor<1xf32>) {
  // expected-error@+1 {{'qtensor.dequantize' op flat blocks: logical shape 16777216x16777216x2 has more than 2^48 elements}}
  %0 = qtensor.dequantize %q scales(%s : tensor<1xf32>) layout <si8, block = [0]> : tensor<8xi8> -> tensor<16777216x16777216x2xf32>
  return
}

// -----

func.func @flat_storage_shape(%q: tensor<2x86xi8>, %s: tensor<6xf32>) {
  // expected-error@+1 {{'qtensor.dequantize' op storage shape 2x86 does not match logical shape 2x172 under the flat layout; expected 172}}
  %0 = qtensor.dequantize %q scales(%s : tensor<6xf32>) layout <nf4, block = [64], packing = msb_first> : tensor<2x86xi8> -> tensor<2x172xf32>
  return
}

// -----

func.func @flat_scales_shape(%q: tensor<172xi8>, %s: tensor<2x3xf32>) {
  // expected-error@+1 {{'qtensor.dequantize' op scales shape 2x3 does not match the flat blocks of logical shape 2x172; expected 6}}
  %0 = qtensor.dequantize %q scales(%s : tensor<2x3xf32>) layout <nf4, block = [64], packing = msb_first> : tensor<172xi8> -> tensor<2x172xf32>
  return
}

// -----

func.func @flat_matmul_storage(%x: tensor<4x172xf32>, %q: tensor<256xi8>, %s: tensor<9xf32>, %i: tensor<4x3xf32>) {
  // expected-error@+1 {{'qtensor.dequant_matmul' op storage shape 256 does not match logical shape 3x172 under the flat layout; expected 258}}
  %0 = qtensor.dequant_matmul %x, %q scales(%s : tensor<9xf32>) layout <nf4, block = [64], packing = msb_first> outs(%i : tensor<4x3xf32>) : tensor<4x172xf32>, tensor<256xi8> -> tensor<4x3xf32>
  return
}

// -----

func.func @flat_zero_points(%x: tensor<4x16xf32>, %s: tensor<2xf32>, %z: tensor<4xi8>) {
  // expected-error@+1 {{'qtensor.quantize' op zero-points shape 4 must equal the scales shape 2}}
  %0 = qtensor.quantize %x scales(%s : tensor<2xf32>) zero_points(%z : tensor<4xi8>) layout <ui4, block = [32], packing = lsb_first> : tensor<4x16xf32> -> tensor<32xi8>
  return
}

// -----

func.func @dynamic8_packed(%x: tensor<4x16xf32>, %s: tensor<4x1xf32>) {
  // expected-error@+1 {{packing = lsb_first needs a sub-byte format, got dynamic8}}
  %0 = qtensor.quantize %x scales(%s : tensor<4x1xf32>) layout <dynamic8, block = [1, 0], packing = lsb_first> : tensor<4x16xf32> -> tensor<4x16xi8>
  return
}

// -----

func.func @dynamic8_zero_points(%q: tensor<512xi8>, %s: tensor<2xf32>, %z: tensor<2xi8>) {
  // expected-error@+1 {{'qtensor.dequantize' op format dynamic8 takes no zero-points}}
  %0 = qtensor.dequantize %q scales(%s : tensor<2xf32>) zero_points(%z : tensor<2xi8>) layout <dynamic8, block = [256]> : tensor<512xi8> -> tensor<512xf32>
  return
}

// -----

func.func @ggml_f32(%x: tensor<2x32xf32>, %w: tensor<4x128xi8>, %init: tensor<2x4xf32>) -> tensor<2x4xf32> {
  // expected-error@+1 {{unknown ggml type 'f32'}}
  %0 = qtensor.ggml_matmul %x, %w as f32 outs(%init : tensor<2x4xf32>) : tensor<2x32xf32>, tensor<4x128xi8> -> tensor<2x4xf32>
  return %0 : tensor<2x4xf32>
}

// -----

func.func @ggml_f32_generic(%q: tensor<8x128xi8>) {
  // expected-error@+1 {{'qtensor.ggml_dequantize' op unknown ggml type}}
  %0 = "qtensor.ggml_dequantize"(%q) <{ggmlType = #qtensor<ggml_type f32>}> : (tensor<8x128xi8>) -> tensor<8x32xf32>
  return
}

//===----------------------------------------------------------------------===//
// Discardable attributes
//===----------------------------------------------------------------------===//

// -----

func.func @weight_name_not_string() {
  // expected-error@+1 {{'qtensor.weight_name' must be a string}}
  %0 = arith.constant {qtensor.weight_name = 3 : i32} dense<1.0> : tensor<2xf32>
  return
}

// -----

// expected-error@+1 {{'qtensor.gguf_file_type' must be a non-negative i32 (llama.cpp's llama_ftype)}}
module attributes {qtensor.gguf_file_type = 15 : i64} {}

// -----

// expected-error@+1 {{'qtensor.gguf_file_type' must be a non-negative i32 (llama.cpp's llama_ftype)}}
module attributes {qtensor.gguf_file_type = -1 : i32} {}

// -----

func.func @file_type_on_function() attributes {qtensor.gguf_file_type = 15 : i32} {
  // expected-error@-1 {{'qtensor.gguf_file_type' belongs on a builtin.module}}
  return
}

// -----

// expected-error@+1 {{'qtensor.llama' must be a #qtensor.llama}}
module attributes {qtensor.llama = {dim = 64 : i64}} {}

// -----

// expected-error@+1 {{unknown qtensor attribute 'qtensor.llama_config'}}
module attributes {qtensor.llama_config = 1 : i32} {}

// -----

// A well-formed configuration verifies.
module attributes {qtensor.gguf_file_type = 15 : i32, qtensor.llama = #qtensor.llama<dim = 64, hidden_dim = 172, n_layers = 5, n_heads = 8, n_kv_heads = 4, vocab_size = 512, seq_len = 512, rope_theta = 1.000000e+04 : f32, norm_eps = 9.99999974E-6 : f32, rope = "adjacent", tied_embeddings = true>} {}

// -----

// expected-error@+1 {{llama config: n_kv_heads must be positive, got 0}}
module attributes {qtensor.llama = #qtensor.llama<dim = 64, hidden_dim = 172, n_layers = 5, n_heads = 8, n_kv_heads = 0, vocab_size = 512, seq_len = 512, rope_theta = 1.0e+04 : f32, norm_eps = 1.0e-05 : f32, rope = "adjacent", tied_embeddings = true>} {}

// -----

// expected-error@+1 {{llama config: dim (64) must be a multiple of n_heads (6), and n_heads of n_kv_heads (4)}}
module attributes {qtensor.llama = #qtensor.llama<dim = 64, hidden_dim = 172, n_layers = 5, n_heads = 6, n_kv_heads = 4, vocab_size = 512, seq_len = 512, rope_theta = 1.0e+04 : f32, norm_eps = 1.0e-05 : f32, rope = "adjacent", tied_embeddings = true>} {}

// -----

// expected-error@+1 {{llama config: rope_theta must be positive and finite, got 0}}
module attributes {qtensor.llama = #qtensor.llama<dim = 64, hidden_dim = 172, n_layers = 5, n_heads = 8, n_kv_heads = 4, vocab_size = 512, seq_len = 512, rope_theta = 0.0 : f32, norm_eps = 1.0e-05 : f32, rope = "adjacent", tied_embeddings = true>} {}

// -----

// expected-error@+1 {{llama config: norm_eps must be non-negative and finite, got -1}}
module attributes {qtensor.llama = #qtensor.llama<dim = 64, hidden_dim = 172, n_layers = 5, n_heads = 8, n_kv_heads = 4, vocab_size = 512, seq_len = 512, rope_theta = 1.0e+04 : f32, norm_eps = -1.0 : f32, rope = "adjacent", tied_embeddings = true>} {}

// -----

// expected-error@+1 {{llama config: rope must be "adjacent" or "rotate_half", got "neox"}}
module attributes {qtensor.llama = #qtensor.llama<dim = 64, hidden_dim = 172, n_layers = 5, n_heads = 8, n_kv_heads = 4, vocab_size = 512, seq_len = 512, rope_theta = 1.0e+04 : f32, norm_eps = 1.0e-05 : f32, rope = "neox", tied_embeddings = true>} {}

// -----

func.func @intrinsic_on_definition() attributes {qtensor.llvm_intrinsic = "llvm.x86.avx512.vpdpbusd.512"} {
  // expected-error@-1 {{'qtensor.llvm_intrinsic' belongs on a function declaration}}
  return
}

// -----

// expected-error@+1 {{'qtensor.llvm_intrinsic' must name an LLVM intrinsic ("llvm.…")}}
func.func private @intrinsic_not_named(vector<16xi32>) -> vector<16xi32> attributes {qtensor.llvm_intrinsic = "vpdpbusd"}

// -----

// expected-error@+1 {{'qtensor.gpu_constants' must be an array of global symbol references}}
module attributes {qtensor.gpu_constants = ["weights"]} {}

// -----

func.func @gpu_constants_on_function() attributes {qtensor.gpu_constants = [@w]} {
  // expected-error@-1 {{'qtensor.gpu_constants' belongs on a builtin.module}}
  return
}

// -----

// expected-error@+1 {{'qtensor.gpu_device_arguments' must be a unit attribute on a function}}
module attributes {qtensor.gpu_device_arguments} {}

// -----

func.func @attention_role_unknown(%x: tensor<1x4x8xf32>) -> tensor<1x4x2x4xf32> {
  // expected-error@+1 {{'qtensor.attention' must be "query", "key", "value" or "output"}}
  %0 = tensor.expand_shape %x [[0], [1], [2, 3]] output_shape [1, 4, 2, 4] {qtensor.attention = "queries"} : tensor<1x4x8xf32> into tensor<1x4x2x4xf32>
  return %0 : tensor<1x4x2x4xf32>
}

// -----

func.func @attention_output_on_expand(%x: tensor<1x4x8xf32>) -> tensor<1x4x2x4xf32> {
  // expected-error@+1 {{'qtensor.attention' = "output" belongs on a tensor.collapse_shape}}
  %0 = tensor.expand_shape %x [[0], [1], [2, 3]] output_shape [1, 4, 2, 4] {qtensor.attention = "output"} : tensor<1x4x8xf32> into tensor<1x4x2x4xf32>
  return %0 : tensor<1x4x2x4xf32>
}

// -----

func.func @attention_key_on_collapse(%x: tensor<1x4x2x4xf32>) -> tensor<1x4x8xf32> {
  // expected-error@+1 {{'qtensor.attention' = "key" belongs on a tensor.expand_shape}}
  %0 = tensor.collapse_shape %x [[0], [1], [2, 3]] {qtensor.attention = "key"} : tensor<1x4x2x4xf32> into tensor<1x4x8xf32>
  return %0 : tensor<1x4x8xf32>
}

//===----------------------------------------------------------------------===//
// Gated epilogues of the products
//===----------------------------------------------------------------------===//

// -----

func.func @gate_block_without_region(%x: tensor<2x4xf32>, %q: tensor<6x2xi8>, %s: tensor<6x1xf32>, %i: tensor<2x3xf32>) {
  // expected-error@+1 {{gateBlock needs an epilogue region}}
  %0 = qtensor.dequant_matmul %x, %q scales(%s : tensor<6x1xf32>) layout <si4, block = [1, 0], packing = lsb_first> outs(%i : tensor<2x3xf32>) {gateBlock = 16 : i64} : tensor<2x4xf32>, tensor<6x2xi8> -> tensor<2x3xf32>
  return
}

// -----

func.func @region_without_gate_block(%x: tensor<1x32xf32>, %w: tensor<64x34xi8>, %i: tensor<1x32xf32>) {
  // expected-error@+1 {{an epilogue region needs a gateBlock}}
  %0 = "qtensor.ggml_matmul"(%x, %w, %i) <{ggmlType = #qtensor<ggml_type q8_0>}> ({
  ^bb0(%g: f32, %u: f32, %o: f32):
    qtensor.yield %g : f32
  }) : (tensor<1x32xf32>, tensor<64x34xi8>, tensor<1x32xf32>) -> tensor<1x32xf32>
  return
}

// -----

func.func @epilogue_two_blocks(%x: tensor<2x4xf32>, %q: tensor<6x2xi8>, %s: tensor<6x1xf32>, %i: tensor<2x3xf32>) {
  // expected-error@+1 {{epilogue must be one block}}
  %0 = qtensor.dequant_matmul %x, %q scales(%s : tensor<6x1xf32>) layout <si4, block = [1, 0], packing = lsb_first> outs(%i : tensor<2x3xf32>) gated(16) {
  ^bb0(%g: f32, %u: f32, %o: f32):
    qtensor.yield %g : f32
  ^bb1:
    %c = arith.constant 0.0 : f32
    qtensor.yield %c : f32
  } : tensor<2x4xf32>, tensor<6x2xi8> -> tensor<2x3xf32>
  return
}

// -----

func.func @epilogue_arguments(%x: tensor<2x4xf32>, %q: tensor<6x2xi8>, %s: tensor<6x1xf32>, %i: tensor<2x3xf32>) {
  // expected-error@+1 {{epilogue block must take three f32 arguments (gate, up, init)}}
  %0 = qtensor.dequant_matmul %x, %q scales(%s : tensor<6x1xf32>) layout <si4, block = [1, 0], packing = lsb_first> outs(%i : tensor<2x3xf32>) gated(16) {
  ^bb0(%g: f32, %u: f32):
    qtensor.yield %g : f32
  } : tensor<2x4xf32>, tensor<6x2xi8> -> tensor<2x3xf32>
  return
}

// -----

func.func @epilogue_yield(%x: tensor<2x4xf32>, %q: tensor<6x2xi8>, %s: tensor<6x1xf32>, %i: tensor<2x3xf32>) {
  // expected-error@+1 {{epilogue must end in qtensor.yield of one f32 value}}
  %0 = qtensor.dequant_matmul %x, %q scales(%s : tensor<6x1xf32>) layout <si4, block = [1, 0], packing = lsb_first> outs(%i : tensor<2x3xf32>) gated(16) {
  ^bb0(%g: f32, %u: f32, %o: f32):
    qtensor.yield %g, %u : f32, f32
  } : tensor<2x4xf32>, tensor<6x2xi8> -> tensor<2x3xf32>
  return
}

// -----

func.func @epilogue_op(%x: tensor<2x4xf32>, %q: tensor<6x2xi8>, %s: tensor<6x1xf32>, %i: tensor<2x3xf32>) {
  // expected-error@+1 {{epilogue op 'tensor.empty' is not a scalar elementwise arith/math op or a constant}}
  %0 = qtensor.dequant_matmul %x, %q scales(%s : tensor<6x1xf32>) layout <si4, block = [1, 0], packing = lsb_first> outs(%i : tensor<2x3xf32>) gated(16) {
  ^bb0(%g: f32, %u: f32, %o: f32):
    %e = tensor.empty() : tensor<2xf32>
    qtensor.yield %g : f32
  } : tensor<2x4xf32>, tensor<6x2xi8> -> tensor<2x3xf32>
  return
}

// -----

func.func @epilogue_odd_rows(%xq: tensor<2x4xi8>, %xs: tensor<2x1xf32>, %w: tensor<5x4xi8>, %ws: tensor<5x1xf32>, %i: tensor<2x3xf32>) {
  // expected-error@+1 {{a gated epilogue needs a static, even number of weight rows, got 5}}
  %0 = qtensor.quantized_matmul %xq, %xs, %w, %ws outs(%i : tensor<2x3xf32>) gated(16) {
  ^bb0(%g: f32, %u: f32, %o: f32):
    qtensor.yield %g : f32
  } : tensor<2x4xi8>, tensor<2x1xf32>, tensor<5x4xi8>, tensor<5x1xf32> -> tensor<2x3xf32>
  return
}

// -----

func.func @epilogue_batched_weight(%x: tensor<2x3x4xf32>, %q: tensor<2x6x4xi8>, %s: tensor<2x6x1xf32>, %i: tensor<2x3x3xf32>) {
  // expected-error@+1 {{a gated epilogue needs an [N, K] weight}}
  %0 = qtensor.dequant_matmul %x, %q scales(%s : tensor<2x6x1xf32>) layout <si8, block = [1, 1, 0]> outs(%i : tensor<2x3x3xf32>) gated(16) {
  ^bb0(%g: f32, %u: f32, %o: f32):
    qtensor.yield %g : f32
  } : tensor<2x3x4xf32>, tensor<2x6x4xi8> -> tensor<2x3x3xf32>
  return
}

// -----

func.func @epilogue_channels(%x: tensor<1x32xf32>, %w: tensor<64x34xi8>, %i: tensor<1x64xf32>) {
  // expected-error@+1 {{init has 64 output channels but the weight has 64 rows, gate and up, for 32}}
  %0 = qtensor.ggml_matmul %x, %w as q8_0 outs(%i : tensor<1x64xf32>) gated(16) {
  ^bb0(%g: f32, %u: f32, %o: f32):
    qtensor.yield %g : f32
  } : tensor<1x32xf32>, tensor<64x34xi8> -> tensor<1x64xf32>
  return
}

// -----

func.func @yield_outside_product() {
  // expected-error@+1 {{'qtensor.yield' op expects parent op to be one of 'qtensor.dequant_matmul, qtensor.ggml_matmul, qtensor.quantized_matmul'}}
  qtensor.yield
}
