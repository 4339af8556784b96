// A product with a gated epilogue (SwiGLU) equals the two products
// followed by the gating, bit for bit: with the CPU kernels (one row, and
// 50 rows, which take the panel path) and with the reference lowering
// (gated-epilogue-int8.test: the int8 kernels).
// 20 channels: one full block of 16 and a short block of 4.
// RUN: quant-opt %s --quant-lower-to-llvm \
// RUN: | mlir-runner -e main -entry-point-result=void \
// RUN:   -shared-libs=%mlir_runner_utils,%mlir_c_runner_utils \
// RUN: | FileCheck %s
// RUN: quant-opt %s --quant-lower-to-llvm=mode=reference \
// RUN: | mlir-runner -e main -entry-point-result=void \
// RUN:   -shared-libs=%mlir_runner_utils,%mlir_c_runner_utils \
// RUN: | FileCheck %s

// CHECK: max |fused - unfused|, max |unfused|
// CHECK-NEXT: 0
// CHECK-NEXT: {{[1-9][0-9.e+]*}}
// CHECK-NEXT: 0
// CHECK-NEXT: {{[1-9][0-9.e+]*}}

func.func private @printF32(f32)
func.func private @printNewline()
func.func private @printString(!llvm.ptr)
llvm.mlir.global internal constant @header("max |fused - unfused|, max |unfused|\0A\00")

#id = affine_map<(d0, d1) -> (d0, d1)>

// Code of channel c, column k of the gate (side 0) or up (side 1) weight.
func.func @code(%side: index, %c: index, %k: index) -> i8 {
  %c5 = arith.constant 5 : index
  %c3 = arith.constant 3 : index
  %c7 = arith.constant 7 : index
  %c15 = arith.constant 15 : index
  %a = arith.muli %c, %c5 : index
  %b = arith.muli %k, %c3 : index
  %s = arith.muli %side, %c7 : index
  %t0 = arith.addi %a, %b : index
  %t = arith.addi %t0, %s : index
  %m = arith.remui %t, %c15 : index
  %v = arith.subi %m, %c7 : index
  %i = arith.index_cast %v : index to i8
  return %i : i8
}

func.func @weight(%side: index) -> tensor<20x32xi8> {
  %e = tensor.empty() : tensor<20x32xi8>
  %w = linalg.generic {indexing_maps = [#id], iterator_types = ["parallel", "parallel"]} outs(%e : tensor<20x32xi8>) {
  ^bb0(%o: i8):
    %c = linalg.index 0 : index
    %k = linalg.index 1 : index
    %v = func.call @code(%side, %c, %k) : (index, index, index) -> i8
    linalg.yield %v : i8
  } -> tensor<20x32xi8>
  return %w : tensor<20x32xi8>
}

// Rows interleaved in blocks of 16: block j holds gate rows 16j.. and then
// the same up rows (count = min(16, 20 - 16j) each).
func.func @fused_weight() -> tensor<40x32xi8> {
  %e = tensor.empty() : tensor<40x32xi8>
  %w = linalg.generic {indexing_maps = [#id], iterator_types = ["parallel", "parallel"]} outs(%e : tensor<40x32xi8>) {
  ^bb0(%o: i8):
    %f = linalg.index 0 : index
    %k = linalg.index 1 : index
    %c16 = arith.constant 16 : index
    %c20 = arith.constant 20 : index
    %c32 = arith.constant 32 : index
    %j = arith.divui %f, %c32 : index
    %within = arith.remui %f, %c32 : index
    %first = arith.muli %j, %c16 : index
    %left = arith.subi %c20, %first : index
    %count = arith.minui %left, %c16 : index
    %up = arith.cmpi uge, %within, %count : index
    %side = arith.index_castui %up : i1 to index
    %skip = arith.muli %side, %count : index
    %off = arith.subi %within, %skip : index
    %c = arith.addi %first, %off : index
    %v = func.call @code(%side, %c, %k) : (index, index, index) -> i8
    linalg.yield %v : i8
  } -> tensor<40x32xi8>
  return %w : tensor<40x32xi8>
}

func.func @activations(%rows: index) -> tensor<?x32xf32> {
  %e = tensor.empty(%rows) : tensor<?x32xf32>
  %x = linalg.generic {indexing_maps = [#id], iterator_types = ["parallel", "parallel"]} outs(%e : tensor<?x32xf32>) {
  ^bb0(%o: f32):
    %m = linalg.index 0 : index
    %k = linalg.index 1 : index
    %c7 = arith.constant 7 : index
    %c11 = arith.constant 11 : index
    %a = arith.muli %m, %c7 : index
    %t = arith.addi %a, %k : index
    %r = arith.remui %t, %c11 : index
    %i = arith.index_cast %r : index to i32
    %f = arith.sitofp %i : i32 to f32
    %h = arith.constant 0.125 : f32
    %five = arith.constant 5.0 : f32
    %d = arith.subf %f, %five : f32
    %v = arith.mulf %d, %h : f32
    linalg.yield %v : f32
  } -> tensor<?x32xf32>
  return %x : tensor<?x32xf32>
}

func.func @compare(%rows: index, %wg: tensor<20x32xi8>, %wu: tensor<20x32xi8>, %wf: tensor<40x32xi8>) {
  %x = call @activations(%rows) : (index) -> tensor<?x32xf32>
  %zero = arith.constant 0.0 : f32
  %s = arith.constant dense<0.03125> : tensor<20x1xf32>
  %sf = arith.constant dense<0.03125> : tensor<40x1xf32>
  %e = tensor.empty(%rows) : tensor<?x20xf32>
  %i = linalg.fill ins(%zero : f32) outs(%e : tensor<?x20xf32>) -> tensor<?x20xf32>
  %g = qtensor.dequant_matmul %x, %wg scales(%s : tensor<20x1xf32>) layout <si8, block = [1, 0]> outs(%i : tensor<?x20xf32>) : tensor<?x32xf32>, tensor<20x32xi8> -> tensor<?x20xf32>
  %u = qtensor.dequant_matmul %x, %wu scales(%s : tensor<20x1xf32>) layout <si8, block = [1, 0]> outs(%i : tensor<?x20xf32>) : tensor<?x32xf32>, tensor<20x32xi8> -> tensor<?x20xf32>
  %unfused = linalg.generic {indexing_maps = [#id, #id, #id], iterator_types = ["parallel", "parallel"]} ins(%g, %u : tensor<?x20xf32>, tensor<?x20xf32>) outs(%e : tensor<?x20xf32>) {
  ^bb0(%a: f32, %b: f32, %o: f32):
    %one = arith.constant 1.0 : f32
    %n = arith.negf %a : f32
    %ex = math.exp %n : f32
    %den = arith.addf %one, %ex : f32
    %sig = arith.divf %one, %den : f32
    %silu = arith.mulf %a, %sig : f32
    %r = arith.mulf %silu, %b : f32
    linalg.yield %r : f32
  } -> tensor<?x20xf32>
  %e2 = tensor.empty(%rows) : tensor<?x20xf32>
  %fused = qtensor.dequant_matmul %x, %wf scales(%sf : tensor<40x1xf32>) layout <si8, block = [1, 0]> outs(%e2 : tensor<?x20xf32>) gated(16) {
  ^bb0(%a: f32, %b: f32, %o: f32):
    %one = arith.constant 1.0 : f32
    %n = arith.negf %a : f32
    %ex = math.exp %n : f32
    %den = arith.addf %one, %ex : f32
    %sig = arith.divf %one, %den : f32
    %silu = arith.mulf %a, %sig : f32
    %r = arith.mulf %silu, %b : f32
    qtensor.yield %r : f32
  } : tensor<?x32xf32>, tensor<40x32xi8> -> tensor<?x20xf32>
  %acc = tensor.empty() : tensor<2xf32>
  %acc0 = linalg.fill ins(%zero : f32) outs(%acc : tensor<2xf32>) -> tensor<2xf32>
  %acc1 = linalg.fill ins(%zero : f32) outs(%acc : tensor<2xf32>) -> tensor<2xf32>
  %max:2 = linalg.generic {indexing_maps = [#id, #id, affine_map<(d0, d1) -> (0)>, affine_map<(d0, d1) -> (1)>], iterator_types = ["reduction", "reduction"]} ins(%fused, %unfused : tensor<?x20xf32>, tensor<?x20xf32>) outs(%acc0, %acc1 : tensor<2xf32>, tensor<2xf32>) {
  ^bb0(%a: f32, %b: f32, %d: f32, %m: f32):
    %diff = arith.subf %a, %b : f32
    %ad = math.absf %diff : f32
    %ab = math.absf %b : f32
    %d2 = arith.maximumf %d, %ad : f32
    %m2 = arith.maximumf %m, %ab : f32
    linalg.yield %d2, %m2 : f32, f32
  } -> (tensor<2xf32>, tensor<2xf32>)
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %dmax = tensor.extract %max#0[%c0] : tensor<2xf32>
  %umax = tensor.extract %max#1[%c1] : tensor<2xf32>
  call @printF32(%dmax) : (f32) -> ()
  call @printNewline() : () -> ()
  call @printF32(%umax) : (f32) -> ()
  call @printNewline() : () -> ()
  return
}

func.func @main() {
  %header = llvm.mlir.addressof @header : !llvm.ptr
  call @printString(%header) : (!llvm.ptr) -> ()
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %wg = call @weight(%c0) : (index) -> tensor<20x32xi8>
  %wu = call @weight(%c1) : (index) -> tensor<20x32xi8>
  %wf = call @fused_weight() : () -> tensor<40x32xi8>
  %one = arith.constant 1 : index
  call @compare(%one, %wg, %wu, %wf) : (index, tensor<20x32xi8>, tensor<20x32xi8>, tensor<40x32xi8>) -> ()
  %fifty = arith.constant 50 : index
  call @compare(%fifty, %wg, %wu, %wf) : (index, tensor<20x32xi8>, tensor<20x32xi8>, tensor<40x32xi8>) -> ()
  return
}
