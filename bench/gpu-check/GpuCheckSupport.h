//===- GpuCheckSupport.h - Shared helpers of the GPU check binaries -------===//
//
// Part of the quant-opt project, under the Apache License v2.0 with LLVM
// Exceptions.
//
//===----------------------------------------------------------------------===//
//
// The GPU check runs on machines without LLVM: these binaries depend only on
// the C++ library, QuantCudaRuntime and the objects quant-compile wrote.
//
//===----------------------------------------------------------------------===//

#ifndef QUANT_BENCH_GPUCHECK_GPUCHECKSUPPORT_H
#define QUANT_BENCH_GPUCHECK_GPUCHECKSUPPORT_H

#include "../SplitMix.h"
#include "quant/Runtime/CudaRuntime.h"

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>

namespace gpucheck {

/// A ranked memref descriptor as the C interface passes it.
template <int Rank> struct Descriptor {
  void *allocated = nullptr;
  void *aligned = nullptr;
  int64_t offset = 0;
  int64_t sizes[Rank] = {};
  int64_t strides[Rank] = {};
};

/// A contiguous descriptor of `data` with shape `shape`.
template <int Rank>
Descriptor<Rank> describe(void *data, const int64_t (&shape)[Rank]) {
  Descriptor<Rank> d;
  d.allocated = d.aligned = data;
  int64_t stride = 1;
  for (int i = Rank - 1; i >= 0; --i) {
    d.sizes[i] = shape[i];
    d.strides[i] = stride;
    stride *= shape[i];
  }
  return d;
}

/// Exits with the runtime's pending error, if any, naming `what`.
inline void checkRuntime(const char *what) {
  const char *error = quantGpuTakeError();
  if (error && *error) {
    std::fprintf(stderr, "%s: %s\n", what, error);
    std::exit(2);
  }
}

inline double now() {
  return std::chrono::duration<double>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

} // namespace gpucheck

#endif // QUANT_BENCH_GPUCHECK_GPUCHECKSUPPORT_H
