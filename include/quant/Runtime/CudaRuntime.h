//===- CudaRuntime.h - The mgpu* runtime over the CUDA driver ---*- C++ -*-===//
//
// Part of the quant-opt project, under the Apache License v2.0 with LLVM
// Exceptions.
//
//===----------------------------------------------------------------------===//
//
// QuantCudaRuntime implements the `mgpu*` functions that MLIR 22's host
// lowering of the gpu dialect calls (module loads, launches, streams,
// allocations, copies, events) on top of the CUDA driver API, which it loads
// at run time with dlopen("libcuda.so.1"): it builds with no CUDA headers or
// libraries, and a process without a driver gets an error, not a crash.
// It depends on nothing but the C++ standard library and libdl, so that
// ahead-of-time compiled models link it into self-contained executables.
//
// Errors are sticky: the first failing driver call records a message
// (quantGpuTakeError) and turns every later call into a no-op that returns
// null, since the mgpu* functions have no way to report an error to the
// compiled code that calls them. Callers check after each call of a
// compiled function.
//
//===----------------------------------------------------------------------===//

#ifndef QUANT_RUNTIME_CUDARUNTIME_H
#define QUANT_RUNTIME_CUDARUNTIME_H

#include <cstddef>
#include <cstdint>

extern "C" {

/// The message of the first error since the last call (empty when none),
/// and clears it. The string stays valid until the next call.
const char *quantGpuTakeError();

/// Loads the driver and creates the context of the device (device 0, or
/// QUANT_CUDA_DEVICE) now rather than at the first mgpu* call. Returns 0 on
/// success; otherwise the error is pending (quantGpuTakeError).
int quantGpuInitialize();

/// One line naming the device, its compute capability and memory, or an
/// empty string before a successful quantGpuInitialize.
const char *quantGpuDeviceDescription();

/// The device copy of a constant global: allocated and copied from `host`
/// (`bytes` long) the first time, then stored in `*slot` and returned.
void *quantGpuDeviceConstant(void **slot, const void *host, int64_t bytes);

/// Frees the device copy held by `*slot`, if any.
void quantGpuReleaseDeviceConstant(void **slot);

/// The mgpu* ABI that compiled host code calls (also usable by harnesses
/// that keep buffers on the device). Streams and pointers are opaque.
void *mgpuStreamCreate();
void mgpuStreamDestroy(void *stream);
void mgpuStreamSynchronize(void *stream);
void *mgpuMemAlloc(uint64_t sizeBytes, void *stream, bool isHostShared);
void mgpuMemFree(void *pointer, void *stream);
void mgpuMemcpy(void *dst, void *src, size_t sizeBytes, void *stream);

} // extern "C"

namespace quantopt {

/// Calls `visit` with the name and address of every function that compiled
/// host code may call (the mgpu* ABI and the quantGpu* functions above).
void forEachCudaRuntimeSymbol(void (*visit)(const char *name, void *address,
                                            void *user),
                              void *user);

} // namespace quantopt

#endif // QUANT_RUNTIME_CUDARUNTIME_H
