// RUN: quant-opt %s --split-input-file --verify-diagnostics --quant-place-buffers-on-gpu="max-kernel-constant-bytes=64" | FileCheck %s

// Buffers become device memory: the argument is copied in, the result out
// into a host buffer the caller owns; the 16-element table is copied into
// the kernel, the larger weight is listed for upload.
// CHECK: module attributes {qtensor.gpu_constants = [@weight]}
// CHECK-LABEL: func.func @forward(
// CHECK-SAME: %[[ARG:.*]]: memref<4xf32>)
// CHECK: %[[IN:.*]] = gpu.alloc () : memref<4xf32>
// CHECK: gpu.memcpy %[[IN]], %[[ARG]]
// CHECK: %[[W:.*]] = memref.get_global @weight
// CHECK: %[[TMP:.*]] = gpu.alloc () : memref<4xf32>
// CHECK: gpu.launch
// CHECK: memref.get_global @table
// CHECK: memref.load %[[W]]
// CHECK: %[[HOST:.*]] = memref.alloc() {alignment = 64 : i64} : memref<4xf32>
// CHECK: gpu.memcpy %[[HOST]], %[[TMP]]
// CHECK-DAG: gpu.dealloc %[[IN]]
// CHECK-DAG: gpu.dealloc %[[TMP]]
// CHECK: return %[[HOST]]
memref.global "private" constant @table : memref<16xf32> = dense<1.0>
memref.global "private" constant @weight : memref<32xf32> = dense<2.0>
func.func @forward(%x: memref<4xf32>) -> memref<4xf32> {
  %c1 = arith.constant 1 : index
  %c4 = arith.constant 4 : index
  %table = memref.get_global @table : memref<16xf32>
  %w = memref.get_global @weight : memref<32xf32>
  %y = memref.alloc() : memref<4xf32>
  gpu.launch blocks(%bx, %by, %bz) in (%gx = %c1, %gy = %c1, %gz = %c1)
             threads(%tx, %ty, %tz) in (%sx = %c4, %sy = %c1, %sz = %c1) {
    %v = memref.load %x[%tx] : memref<4xf32>
    %t = memref.load %table[%tx] : memref<16xf32>
    %u = memref.load %w[%tx] : memref<32xf32>
    %a = arith.addf %v, %t : f32
    %b = arith.addf %a, %u : f32
    memref.store %b, %y[%tx] : memref<4xf32>
    gpu.terminator
  }
  return %y : memref<4xf32>
}

// -----

func.func @host_read(%x: memref<4xf32>) -> f32 {
  %c0 = arith.constant 0 : index
  // expected-error@+1 {{a read of a buffer stays outside any GPU kernel: quant-lower-to-nvvm maps no such code to the GPU}}
  %v = memref.load %x[%c0] : memref<4xf32>
  return %v : f32
}

// -----

func.func @host_loop(%x: memref<4xf32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c4 = arith.constant 4 : index
  // expected-error@+1 {{a parallel loop stays outside any GPU kernel}}
  scf.parallel (%i) = (%c0) to (%c4) step (%c1) {
    %v = memref.load %x[%i] : memref<4xf32>
    memref.store %v, %x[%i] : memref<4xf32>
  }
  return
}

// -----

memref.global "private" @state : memref<4xf32> = dense<0.0>
func.func @mutable() {
  %c1 = arith.constant 1 : index
  // expected-error@+1 {{@state is a mutable global: its host memory cannot be passed to GPU kernels}}
  %s = memref.get_global @state : memref<4xf32>
  gpu.launch blocks(%bx, %by, %bz) in (%gx = %c1, %gy = %c1, %gz = %c1)
             threads(%tx, %ty, %tz) in (%sx = %c1, %sy = %c1, %sz = %c1) {
    %v = memref.load %s[%tx] : memref<4xf32>
    memref.store %v, %s[%tx] : memref<4xf32>
    gpu.terminator
  }
  return
}

// -----

// expected-error@+1 {{argument #0 has a strided layout ('memref<4xf32, strided<[2]>>'): quant-lower-to-nvvm copies only contiguous buffers to the GPU}}
func.func @strided(%x: memref<4xf32, strided<[2]>>) {
  %c1 = arith.constant 1 : index
  gpu.launch blocks(%bx, %by, %bz) in (%gx = %c1, %gy = %c1, %gz = %c1)
             threads(%tx, %ty, %tz) in (%sx = %c1, %sy = %c1, %sz = %c1) {
    %v = memref.load %x[%tx] : memref<4xf32, strided<[2]>>
    memref.store %v, %x[%tx] : memref<4xf32, strided<[2]>>
    gpu.terminator
  }
  return
}

// -----

// Arguments already in device memory are used in place.
// CHECK-LABEL: func.func @device_arguments(
// CHECK-SAME: %[[ARG:.*]]: memref<4xf32>)
// CHECK-NOT: gpu.memcpy
// CHECK: gpu.launch
// CHECK: memref.load %[[ARG]]
func.func @device_arguments(%x: memref<4xf32>) attributes {qtensor.gpu_device_arguments} {
  %c1 = arith.constant 1 : index
  gpu.launch blocks(%bx, %by, %bz) in (%gx = %c1, %gy = %c1, %gz = %c1)
             threads(%tx, %ty, %tz) in (%sx = %c1, %sy = %c1, %sz = %c1) {
    %v = memref.load %x[%tx] : memref<4xf32>
    memref.store %v, %x[%tx] : memref<4xf32>
    gpu.terminator
  }
  return
}
