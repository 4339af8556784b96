// RUN: not quant-opt %s --quant-merge-gpu-modules 2>&1 | FileCheck %s

// CHECK: quant-merge-gpu-modules: the module already has a symbol named @kernels
module attributes {gpu.container_module} {
  gpu.module @first {
    gpu.func @forward_kernel() kernel {
      gpu.return
    }
  }
  func.func private @kernels()
}
