//===- BLASKernels.h - OpenBLAS kernels for the host CPU --------*- C++ -*-===//
//
// Part of the quant-opt project, under the Apache License v2.0 with LLVM
// Exceptions.
//
//===----------------------------------------------------------------------===//
//
// Debian's OpenBLAS (0.3.21) chooses its kernels by CPU model at load time
// and falls back to its SSE3 "Prescott" kernels on processors newer than its
// tables (Sapphire Rapids and Zen 5 among them): GPTQ's f64 factorisations
// and Hessian accumulation then run about 3x slower than with the AVX-512
// kernels the CPU can run. OpenBLAS takes the kernel family from the
// OPENBLAS_CORETYPE environment variable, read when the library loads, so a
// tool that finds the fallback re-executes itself with the variable set.
//
//===----------------------------------------------------------------------===//

#ifndef QUANT_NUMERICS_BLASKERNELS_H
#define QUANT_NUMERICS_BLASKERNELS_H

namespace quantopt {
namespace numerics {

/// The kernel family OpenBLAS uses ("SkylakeX", "Haswell", "Prescott", ...).
const char *getBLASKernels();

/// When OpenBLAS fell back to the Prescott kernels on a CPU with AVX-512
/// (AVX2 and FMA), re-executes the running program (`argv` as given to
/// main) with OPENBLAS_CORETYPE=SkylakeX (Haswell). Returns without doing
/// anything when the kernels already suit the CPU, when OPENBLAS_CORETYPE
/// is set (by the user, or by the re-execution), or when exec fails.
void reexecWithNativeBLASKernels(char **argv);

} // namespace numerics
} // namespace quantopt

#endif // QUANT_NUMERICS_BLASKERNELS_H
