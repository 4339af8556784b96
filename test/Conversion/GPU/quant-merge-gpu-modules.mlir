// RUN: quant-opt %s --quant-merge-gpu-modules | FileCheck %s
// RUN: quant-opt %s --quant-merge-gpu-modules="module-name=all" | FileCheck %s --check-prefix=NAMED

// Three outlined kernels, each in its module under the same function name,
// with a copy of the same table: one module, kernels named after their old
// modules, the table kept once, the third kernel (identical to the first
// but for its name) dropped, launches updated.
// CHECK: gpu.module @kernels {
// CHECK-COUNT-1: memref.global "private" constant @table
// CHECK-DAG: gpu.func @first(
// CHECK-DAG: gpu.func @second(
// CHECK-NOT: gpu.func
// CHECK: }
// CHECK-NOT: gpu.module
// CHECK-LABEL: func.func @forward
// CHECK: gpu.launch_func @kernels::@first
// CHECK: gpu.launch_func @kernels::@second
// CHECK: gpu.launch_func @kernels::@first
// NAMED: gpu.module @all
// NAMED: gpu.launch_func @all::@first
module attributes {gpu.container_module} {
  gpu.module @first {
    memref.global "private" constant @table : memref<2xf32> = dense<1.0>
    gpu.func @forward_kernel(%x: memref<2xf32>) kernel {
      %t = memref.get_global @table : memref<2xf32>
      gpu.return
    }
  }
  gpu.module @second {
    memref.global "private" constant @table : memref<2xf32> = dense<1.0>
    gpu.func @forward_kernel(%x: memref<2xf32>) kernel {
      %c0 = arith.constant 0 : index
      %t = memref.get_global @table : memref<2xf32>
      %v = memref.load %t[%c0] : memref<2xf32>
      memref.store %v, %x[%c0] : memref<2xf32>
      gpu.return
    }
  }
  gpu.module @third {
    memref.global "private" constant @table : memref<2xf32> = dense<1.0>
    gpu.func @forward_kernel(%x: memref<2xf32>) kernel {
      %t = memref.get_global @table : memref<2xf32>
      gpu.return
    }
  }
  func.func @forward(%x: memref<2xf32>) {
    %c1 = arith.constant 1 : index
    gpu.launch_func @first::@forward_kernel blocks in (%c1, %c1, %c1) threads in (%c1, %c1, %c1) args(%x : memref<2xf32>)
    gpu.launch_func @second::@forward_kernel blocks in (%c1, %c1, %c1) threads in (%c1, %c1, %c1) args(%x : memref<2xf32>)
    gpu.launch_func @third::@forward_kernel blocks in (%c1, %c1, %c1) threads in (%c1, %c1, %c1) args(%x : memref<2xf32>)
    return
  }
}
