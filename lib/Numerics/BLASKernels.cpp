//===- BLASKernels.cpp - OpenBLAS kernels for the host CPU ----------------===//
//
// Part of the quant-opt project, under the Apache License v2.0 with LLVM
// Exceptions.
//
//===----------------------------------------------------------------------===//

#include "quant/Numerics/BLASKernels.h"

#include <cblas.h>

#include <cstdlib>
#include <cstring>
#include <strings.h>
#include <unistd.h>

const char *quantopt::numerics::getBLASKernels() {
  const char *name = openblas_get_corename();
  return name ? name : "";
}

void quantopt::numerics::reexecWithNativeBLASKernels(char **argv) {
#if defined(__x86_64__) && defined(__linux__)
  if (!argv || !argv[0] || std::getenv("OPENBLAS_CORETYPE") ||
      strcasecmp(getBLASKernels(), "Prescott") != 0)
    return;
  const char *family = nullptr;
  if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
      __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl"))
    family = "SkylakeX";
  else if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
    family = "Haswell";
  if (!family || setenv("OPENBLAS_CORETYPE", family, 1) != 0)
    return;
  execv("/proc/self/exe", argv);
  // exec failed: go on with the kernels already loaded.
#else
  (void)argv;
#endif
}
