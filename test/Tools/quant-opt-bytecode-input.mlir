// quant-opt parses, runs and prints bytecode inputs itself (MLIR's driver
// reads every page of its input looking for expected-* comments first, the
// whole model of a multi-gigabyte file). The results equal those of the text
// input, pass manager options apply, and a failure leaves no output file.

// RUN: rm -rf %t && mkdir %t
// RUN: quant-opt %s --emit-bytecode -o %t/model.mlirbc
// RUN: quant-opt %s --quant-rtn=bits=4 -o %t/from-text.mlir
// RUN: quant-opt %t/model.mlirbc --quant-rtn=bits=4 -o %t/from-bytecode.mlir
// RUN: diff %t/from-text.mlir %t/from-bytecode.mlir
// RUN: FileCheck %s < %t/from-bytecode.mlir
// RUN: quant-opt %t/model.mlirbc --quant-rtn=bits=4 --emit-bytecode -o %t/rtn.mlirbc
// RUN: quant-opt %t/rtn.mlirbc | FileCheck %s
// RUN: quant-opt %t/model.mlirbc --quant-rtn=bits=4 --mlir-timing -o /dev/null 2>&1 | FileCheck %s --check-prefix=TIMING
// RUN: quant-opt %t/model.mlirbc --pass-pipeline='builtin.module(quant-rtn{bits=4})' --mlir-print-ir-after=quant-rtn -o /dev/null 2>&1 | FileCheck %s --check-prefix=AFTER
// RUN: not quant-opt %t/model.mlirbc --quant-rtn=bits=99 -o %t/failed.mlir 2>&1 | FileCheck %s --check-prefix=FAILED
// RUN: not test -e %t/failed.mlir
// RUN: not quant-opt %t/missing.mlirbc 2>&1 | FileCheck %s --check-prefix=MISSING
// RUN: head -c 60 %t/model.mlirbc > %t/truncated.mlirbc
// RUN: not quant-opt %t/truncated.mlirbc --quant-rtn=bits=4 -o %t/truncated.mlir 2>&1 | FileCheck %s --check-prefix=TRUNCATED
// RUN: not test -e %t/truncated.mlir

// CHECK-LABEL: func.func @matmul
// CHECK: qtensor.dequant_matmul
// CHECK-SAME: layout <ui4, block = [1, 0], packing = lsb_first>
// TIMING: Execution time report
// TIMING: Parser
// TIMING: QuantRTN
// TIMING: Output
// AFTER: IR Dump After QuantRTN
// AFTER: qtensor.dequant_matmul
// FAILED: error: quant-rtn: bits must be in 2..8, got 99
// MISSING: missing.mlirbc{{.*}}No such file or directory
// TRUNCATED: truncated.mlirbc:0:0: error: {{.+}}

func.func @matmul(%x: tensor<3x4xf32>) -> tensor<3x2xf32> {
  %w = arith.constant dense<[[1.0, -2.0], [0.5, 4.0], [0.0, 1.0], [-1.0, 2.0]]> : tensor<4x2xf32>
  %init = arith.constant dense<0.0> : tensor<3x2xf32>
  %y = linalg.matmul ins(%x, %w : tensor<3x4xf32>, tensor<4x2xf32>)
                     outs(%init : tensor<3x2xf32>) -> tensor<3x2xf32>
  return %y : tensor<3x2xf32>
}
