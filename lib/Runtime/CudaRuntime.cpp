//===- CudaRuntime.cpp - The mgpu* runtime over the CUDA driver -----------===//
//
// Part of the quant-opt project, under the Apache License v2.0 with LLVM
// Exceptions.
//
//===----------------------------------------------------------------------===//
//
// Written against the host ABI that MLIR 22's gpu-to-llvm lowering and
// offloading translation emit (docs/GPU.md lists it). The driver is
// resolved with dlsym; the types below are the driver API's, declared here
// so that no CUDA header is needed.
//
//===----------------------------------------------------------------------===//

#include "quant/Runtime/CudaRuntime.h"

#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <dlfcn.h>
#include <mutex>
#include <string>

namespace {

using CUresult = int;
using CUdevice = int;
using CUdeviceptr = unsigned long long;
using CUcontext = void *;
using CUmodule = void *;
using CUfunction = void *;
using CUstream = void *;
using CUevent = void *;

constexpr CUresult CUDA_SUCCESS = 0;
constexpr int CU_JIT_INFO_LOG_BUFFER = 3;
constexpr int CU_JIT_INFO_LOG_BUFFER_SIZE_BYTES = 4;
constexpr int CU_JIT_ERROR_LOG_BUFFER = 5;
constexpr int CU_JIT_ERROR_LOG_BUFFER_SIZE_BYTES = 6;
constexpr int CU_JIT_OPTIMIZATION_LEVEL = 7;
constexpr int CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR = 75;
constexpr int CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR = 76;
constexpr int CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES = 8;
constexpr unsigned CU_STREAM_NON_BLOCKING = 1;
constexpr unsigned CU_EVENT_DISABLE_TIMING = 2;
constexpr unsigned CU_MEM_ATTACH_GLOBAL = 1;
constexpr unsigned CU_MEMHOSTREGISTER_PORTABLE = 1;
/// Dynamic shared memory above this needs an opt-in per function.
constexpr int kDefaultSharedMemoryLimit = 48 * 1024;

/// The driver entry points, resolved once.
struct Driver {
  CUresult (*cuInit)(unsigned);
  CUresult (*cuGetErrorName)(CUresult, const char **);
  CUresult (*cuGetErrorString)(CUresult, const char **);
  CUresult (*cuDeviceGetCount)(int *);
  CUresult (*cuDeviceGet)(CUdevice *, int);
  CUresult (*cuDeviceGetName)(char *, int, CUdevice);
  CUresult (*cuDeviceGetAttribute)(int *, int, CUdevice);
  CUresult (*cuDeviceTotalMem)(size_t *, CUdevice);
  CUresult (*cuDevicePrimaryCtxRetain)(CUcontext *, CUdevice);
  CUresult (*cuCtxSetCurrent)(CUcontext);
  CUresult (*cuModuleLoadDataEx)(CUmodule *, const void *, unsigned, int *,
                                 void **);
  CUresult (*cuModuleUnload)(CUmodule);
  CUresult (*cuModuleGetFunction)(CUfunction *, CUmodule, const char *);
  CUresult (*cuFuncSetAttribute)(CUfunction, int, int);
  CUresult (*cuLaunchKernel)(CUfunction, unsigned, unsigned, unsigned, unsigned,
                             unsigned, unsigned, unsigned, CUstream, void **,
                             void **);
  CUresult (*cuStreamCreate)(CUstream *, unsigned);
  CUresult (*cuStreamDestroy)(CUstream);
  CUresult (*cuStreamSynchronize)(CUstream);
  CUresult (*cuStreamWaitEvent)(CUstream, CUevent, unsigned);
  CUresult (*cuEventCreate)(CUevent *, unsigned);
  CUresult (*cuEventDestroy)(CUevent);
  CUresult (*cuEventRecord)(CUevent, CUstream);
  CUresult (*cuEventSynchronize)(CUevent);
  CUresult (*cuMemAlloc)(CUdeviceptr *, size_t);
  CUresult (*cuMemAllocManaged)(CUdeviceptr *, size_t, unsigned);
  CUresult (*cuMemFree)(CUdeviceptr);
  // Stream-ordered allocation (CUDA 11.2 drivers and later), when present.
  CUresult (*cuMemAllocAsync)(CUdeviceptr *, size_t, CUstream);
  CUresult (*cuMemFreeAsync)(CUdeviceptr, CUstream);
  CUresult (*cuMemcpyAsync)(CUdeviceptr, CUdeviceptr, size_t, CUstream);
  CUresult (*cuMemcpyHtoD)(CUdeviceptr, const void *, size_t);
  CUresult (*cuMemsetD32Async)(CUdeviceptr, unsigned, size_t, CUstream);
  CUresult (*cuMemsetD16Async)(CUdeviceptr, unsigned short, size_t, CUstream);
  CUresult (*cuMemHostRegister)(void *, size_t, unsigned);
  CUresult (*cuMemHostUnregister)(void *);
};

struct State {
  std::mutex mutex;
  std::once_flag initialized;
  bool ready = false;
  Driver driver{};
  CUcontext context = nullptr;
  std::string description;
  /// The first error since quantGpuTakeError last ran; non-empty: calls are
  /// no-ops.
  std::string error;
  std::string takenError;
};

/// Never destroyed: module destructors (kernel unloads, constant releases)
/// run after static objects are gone.
State &state() {
  static State *instance = new State();
  return *instance;
}

void setError(const char *format, ...) __attribute__((format(printf, 1, 2)));
void setError(const char *format, ...) {
  char message[2048];
  va_list args;
  va_start(args, format);
  vsnprintf(message, sizeof(message), format, args);
  va_end(args);
  State &s = state();
  std::lock_guard<std::mutex> lock(s.mutex);
  if (s.error.empty())
    s.error = message;
}

bool hasError() {
  State &s = state();
  std::lock_guard<std::mutex> lock(s.mutex);
  return !s.error.empty();
}

std::string describe(CUresult result) {
  const Driver &d = state().driver;
  const char *name = nullptr, *text = nullptr;
  if (d.cuGetErrorName)
    d.cuGetErrorName(result, &name);
  if (d.cuGetErrorString)
    d.cuGetErrorString(result, &text);
  std::string out = name ? name : ("CUDA error " + std::to_string(result));
  if (text)
    out += std::string(" (") + text + ")";
  return out;
}

/// Records a failed driver call; true when `result` is a success.
bool check(CUresult result, const char *call) {
  if (result == CUDA_SUCCESS)
    return true;
  setError("%s failed: %s", call, describe(result).c_str());
  return false;
}

template <typename Fn>
bool resolve(void *library, const char *name, Fn &fn, bool required) {
  fn = reinterpret_cast<Fn>(dlsym(library, name));
  if (!fn && required) {
    setError("the CUDA driver library lacks %s", name);
    return false;
  }
  return true;
}

bool loadDriver(Driver &d) {
  const char *path = getenv("QUANT_CUDA_DRIVER");
  if (!path || !*path)
    path = "libcuda.so.1";
  void *library = dlopen(path, RTLD_NOW | RTLD_LOCAL);
  if (!library) {
    const char *why = dlerror();
    setError("cannot load the CUDA driver (%s): %s; a GPU run needs the "
             "NVIDIA driver",
             path, why ? why : "unknown reason");
    return false;
  }
  bool ok = true;
#define QUANT_RESOLVE(field, symbol)                                           \
  ok &= resolve(library, symbol, d.field, true)
  QUANT_RESOLVE(cuInit, "cuInit");
  QUANT_RESOLVE(cuGetErrorName, "cuGetErrorName");
  QUANT_RESOLVE(cuGetErrorString, "cuGetErrorString");
  QUANT_RESOLVE(cuDeviceGetCount, "cuDeviceGetCount");
  QUANT_RESOLVE(cuDeviceGet, "cuDeviceGet");
  QUANT_RESOLVE(cuDeviceGetName, "cuDeviceGetName");
  QUANT_RESOLVE(cuDeviceGetAttribute, "cuDeviceGetAttribute");
  QUANT_RESOLVE(cuDeviceTotalMem, "cuDeviceTotalMem_v2");
  QUANT_RESOLVE(cuDevicePrimaryCtxRetain, "cuDevicePrimaryCtxRetain");
  QUANT_RESOLVE(cuCtxSetCurrent, "cuCtxSetCurrent");
  QUANT_RESOLVE(cuModuleLoadDataEx, "cuModuleLoadDataEx");
  QUANT_RESOLVE(cuModuleUnload, "cuModuleUnload");
  QUANT_RESOLVE(cuModuleGetFunction, "cuModuleGetFunction");
  QUANT_RESOLVE(cuFuncSetAttribute, "cuFuncSetAttribute");
  QUANT_RESOLVE(cuLaunchKernel, "cuLaunchKernel");
  QUANT_RESOLVE(cuStreamCreate, "cuStreamCreate");
  QUANT_RESOLVE(cuStreamDestroy, "cuStreamDestroy_v2");
  QUANT_RESOLVE(cuStreamSynchronize, "cuStreamSynchronize");
  QUANT_RESOLVE(cuStreamWaitEvent, "cuStreamWaitEvent");
  QUANT_RESOLVE(cuEventCreate, "cuEventCreate");
  QUANT_RESOLVE(cuEventDestroy, "cuEventDestroy_v2");
  QUANT_RESOLVE(cuEventRecord, "cuEventRecord");
  QUANT_RESOLVE(cuEventSynchronize, "cuEventSynchronize");
  QUANT_RESOLVE(cuMemAlloc, "cuMemAlloc_v2");
  QUANT_RESOLVE(cuMemAllocManaged, "cuMemAllocManaged");
  QUANT_RESOLVE(cuMemFree, "cuMemFree_v2");
  QUANT_RESOLVE(cuMemcpyAsync, "cuMemcpyAsync");
  QUANT_RESOLVE(cuMemcpyHtoD, "cuMemcpyHtoD_v2");
  QUANT_RESOLVE(cuMemsetD32Async, "cuMemsetD32Async");
  QUANT_RESOLVE(cuMemsetD16Async, "cuMemsetD16Async");
  QUANT_RESOLVE(cuMemHostRegister, "cuMemHostRegister_v2");
  QUANT_RESOLVE(cuMemHostUnregister, "cuMemHostUnregister");
#undef QUANT_RESOLVE
  resolve(library, "cuMemAllocAsync", d.cuMemAllocAsync, false);
  resolve(library, "cuMemFreeAsync", d.cuMemFreeAsync, false);
  if (!d.cuMemAllocAsync || !d.cuMemFreeAsync)
    d.cuMemAllocAsync = nullptr, d.cuMemFreeAsync = nullptr;
  return ok;
}

void initializeOnce() {
  State &s = state();
  Driver &d = s.driver;
  if (!loadDriver(d) || !check(d.cuInit(0), "cuInit"))
    return;
  int count = 0;
  if (!check(d.cuDeviceGetCount(&count), "cuDeviceGetCount"))
    return;
  int ordinal = 0;
  if (const char *chosen = getenv("QUANT_CUDA_DEVICE"))
    ordinal = atoi(chosen);
  if (count == 0) {
    setError("the CUDA driver reports no GPU");
    return;
  }
  if (ordinal < 0 || ordinal >= count) {
    setError("QUANT_CUDA_DEVICE=%d, but the driver reports %d GPU(s)", ordinal,
             count);
    return;
  }
  CUdevice device = 0;
  if (!check(d.cuDeviceGet(&device, ordinal), "cuDeviceGet") ||
      !check(d.cuDevicePrimaryCtxRetain(&s.context, device),
             "cuDevicePrimaryCtxRetain"))
    return;
  char name[256] = {0};
  int major = 0, minor = 0;
  size_t memory = 0;
  d.cuDeviceGetName(name, sizeof(name) - 1, device);
  d.cuDeviceGetAttribute(&major, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR,
                         device);
  d.cuDeviceGetAttribute(&minor, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR,
                         device);
  d.cuDeviceTotalMem(&memory, device);
  char line[512];
  snprintf(line, sizeof(line), "GPU %d: %s, sm_%d%d, %.1f GiB", ordinal, name,
           major, minor, double(memory) / (1024.0 * 1024 * 1024));
  s.description = line;
  s.ready = true;
}

/// Initialises on first use and makes the context current on this thread;
/// false when the runtime cannot be used (the error is pending).
bool ready() {
  State &s = state();
  std::call_once(s.initialized, initializeOnce);
  if (!s.ready || hasError())
    return false;
  thread_local CUcontext current = nullptr;
  if (current != s.context) {
    if (!check(s.driver.cuCtxSetCurrent(s.context), "cuCtxSetCurrent"))
      return false;
    current = s.context;
  }
  return true;
}

const Driver &driver() { return state().driver; }

CUdeviceptr address(const void *pointer) {
  return reinterpret_cast<CUdeviceptr>(pointer);
}

} // namespace

//===----------------------------------------------------------------------===//
// quantGpu*
//===----------------------------------------------------------------------===//

extern "C" const char *quantGpuTakeError() {
  State &s = state();
  std::lock_guard<std::mutex> lock(s.mutex);
  s.takenError.swap(s.error);
  s.error.clear();
  return s.takenError.c_str();
}

extern "C" int quantGpuInitialize() { return ready() ? 0 : 1; }

extern "C" const char *quantGpuDeviceDescription() {
  return state().description.c_str();
}

extern "C" void *quantGpuDeviceConstant(void **slot, const void *host,
                                        int64_t bytes) {
  State &s = state();
  {
    std::lock_guard<std::mutex> lock(s.mutex);
    if (*slot)
      return *slot;
  }
  if (!ready())
    return nullptr;
  CUdeviceptr device = 0;
  if (!check(driver().cuMemAlloc(&device, bytes > 0 ? bytes : 1),
             "cuMemAlloc (uploading a constant)") ||
      !check(driver().cuMemcpyHtoD(device, host, bytes),
             "cuMemcpyHtoD (uploading a constant)"))
    return nullptr;
  std::lock_guard<std::mutex> lock(s.mutex);
  if (*slot) {
    // Another thread uploaded it first.
    driver().cuMemFree(device);
    return *slot;
  }
  *slot = reinterpret_cast<void *>(device);
  return *slot;
}

extern "C" void quantGpuReleaseDeviceConstant(void **slot) {
  if (!*slot)
    return;
  if (state().ready && driver().cuMemFree)
    driver().cuMemFree(address(*slot));
  *slot = nullptr;
}

//===----------------------------------------------------------------------===//
// The mgpu* ABI
//===----------------------------------------------------------------------===//

static void *loadModule(const void *image, int optLevel, bool isText) {
  if (!ready())
    return nullptr;
  char infoLog[8192] = {0}, errorLog[8192] = {0};
  int options[5] = {CU_JIT_INFO_LOG_BUFFER, CU_JIT_INFO_LOG_BUFFER_SIZE_BYTES,
                    CU_JIT_ERROR_LOG_BUFFER, CU_JIT_ERROR_LOG_BUFFER_SIZE_BYTES,
                    CU_JIT_OPTIMIZATION_LEVEL};
  void *values[5] = {infoLog, reinterpret_cast<void *>(sizeof(infoLog) - 1),
                     errorLog, reinterpret_cast<void *>(sizeof(errorLog) - 1),
                     reinterpret_cast<void *>(intptr_t(optLevel))};
  CUmodule module = nullptr;
  CUresult result = driver().cuModuleLoadDataEx(&module, image, isText ? 5 : 4,
                                                options, values);
  if (result != CUDA_SUCCESS) {
    setError("loading the kernels' %s failed: %s%s%s",
             isText ? "PTX" : "binary", describe(result).c_str(),
             errorLog[0] ? "; JIT log:\n" : "", errorLog);
    return nullptr;
  }
  return module;
}

extern "C" void *mgpuModuleLoad(void *data, size_t /*gpuBlobSize*/) {
  return loadModule(data, 0, /*isText=*/false);
}

extern "C" void *mgpuModuleLoadJIT(void *data, int optLevel) {
  return loadModule(data, optLevel, /*isText=*/true);
}

extern "C" void mgpuModuleUnload(void *module) {
  if (module && state().ready)
    driver().cuModuleUnload(module);
}

extern "C" void *mgpuModuleGetFunction(void *module, const char *name) {
  if (!module || !ready())
    return nullptr;
  CUfunction function = nullptr;
  CUresult result = driver().cuModuleGetFunction(&function, module, name);
  if (result != CUDA_SUCCESS) {
    setError("kernel %s not found in the loaded module: %s", name,
             describe(result).c_str());
    return nullptr;
  }
  return function;
}

extern "C" void mgpuLaunchKernel(void *function, intptr_t gridX, intptr_t gridY,
                                 intptr_t gridZ, intptr_t blockX,
                                 intptr_t blockY, intptr_t blockZ, int32_t smem,
                                 void *stream, void **params, void **extra,
                                 size_t /*paramsCount*/) {
  if (!function || !ready())
    return;
  if (smem > kDefaultSharedMemoryLimit &&
      !check(
          driver().cuFuncSetAttribute(
              function, CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES, smem),
          "cuFuncSetAttribute (dynamic shared memory)"))
    return;
  if (gridX <= 0 || gridY <= 0 || gridZ <= 0 || blockX <= 0 || blockY <= 0 ||
      blockZ <= 0)
    return; // An empty launch (a loop with no iterations).
  CUresult result =
      driver().cuLaunchKernel(function, gridX, gridY, gridZ, blockX, blockY,
                              blockZ, smem, stream, params, extra);
  if (result != CUDA_SUCCESS)
    setError("launching a kernel (grid %ldx%ldx%ld, block %ldx%ldx%ld) "
             "failed: %s",
             long(gridX), long(gridY), long(gridZ), long(blockX), long(blockY),
             long(blockZ), describe(result).c_str());
}

extern "C" void *mgpuStreamCreate() {
  if (!ready())
    return nullptr;
  CUstream stream = nullptr;
  check(driver().cuStreamCreate(&stream, CU_STREAM_NON_BLOCKING),
        "cuStreamCreate");
  return stream;
}

extern "C" void mgpuStreamDestroy(void *stream) {
  if (stream && state().ready)
    driver().cuStreamDestroy(stream);
}

extern "C" void mgpuStreamSynchronize(void *stream) {
  if (stream && ready())
    check(driver().cuStreamSynchronize(stream),
          "cuStreamSynchronize (a kernel or copy failed)");
}

extern "C" void mgpuStreamWaitEvent(void *stream, void *event) {
  if (stream && event && ready())
    check(driver().cuStreamWaitEvent(stream, event, 0), "cuStreamWaitEvent");
}

extern "C" void *mgpuEventCreate() {
  if (!ready())
    return nullptr;
  CUevent event = nullptr;
  check(driver().cuEventCreate(&event, CU_EVENT_DISABLE_TIMING),
        "cuEventCreate");
  return event;
}

extern "C" void mgpuEventDestroy(void *event) {
  if (event && state().ready)
    driver().cuEventDestroy(event);
}

extern "C" void mgpuEventSynchronize(void *event) {
  if (event && ready())
    check(driver().cuEventSynchronize(event), "cuEventSynchronize");
}

extern "C" void mgpuEventRecord(void *event, void *stream) {
  if (event && ready())
    check(driver().cuEventRecord(event, stream), "cuEventRecord");
}

extern "C" void *mgpuMemAlloc(uint64_t sizeBytes, void *stream,
                              bool isHostShared) {
  if (!ready() || sizeBytes == 0)
    return nullptr;
  CUdeviceptr pointer = 0;
  const Driver &d = driver();
  bool ok;
  if (isHostShared)
    ok = check(d.cuMemAllocManaged(&pointer, sizeBytes, CU_MEM_ATTACH_GLOBAL),
               "cuMemAllocManaged");
  else if (d.cuMemAllocAsync && stream)
    ok = check(d.cuMemAllocAsync(&pointer, sizeBytes, stream),
               "cuMemAllocAsync");
  else
    ok = check(d.cuMemAlloc(&pointer, sizeBytes), "cuMemAlloc");
  if (!ok)
    return nullptr;
  return reinterpret_cast<void *>(pointer);
}

extern "C" void mgpuMemFree(void *pointer, void *stream) {
  if (!pointer || !state().ready)
    return;
  const Driver &d = driver();
  if (d.cuMemFreeAsync && stream)
    d.cuMemFreeAsync(address(pointer), stream);
  else
    d.cuMemFree(address(pointer));
}

extern "C" void mgpuMemcpy(void *dst, void *src, size_t sizeBytes,
                           void *stream) {
  if (sizeBytes == 0 || !dst || !src || !ready())
    return;
  check(driver().cuMemcpyAsync(address(dst), address(src), sizeBytes, stream),
        "cuMemcpyAsync");
}

extern "C" void mgpuMemset32(void *dst, unsigned int value, size_t count,
                             void *stream) {
  if (count == 0 || !dst || !ready())
    return;
  check(driver().cuMemsetD32Async(address(dst), value, count, stream),
        "cuMemsetD32Async");
}

extern "C" void mgpuMemset16(void *dst, unsigned short value, size_t count,
                             void *stream) {
  if (count == 0 || !dst || !ready())
    return;
  check(driver().cuMemsetD16Async(address(dst), value, count, stream),
        "cuMemsetD16Async");
}

extern "C" void mgpuMemHostRegister(void *pointer, uint64_t sizeBytes) {
  if (pointer && sizeBytes && ready())
    check(driver().cuMemHostRegister(pointer, sizeBytes,
                                     CU_MEMHOSTREGISTER_PORTABLE),
          "cuMemHostRegister");
}

extern "C" void mgpuMemHostUnregister(void *pointer) {
  if (pointer && state().ready)
    driver().cuMemHostUnregister(pointer);
}

namespace {
/// The prefix of a ranked memref descriptor: {allocated, aligned, offset,
/// sizes[rank], strides[rank]}.
struct DescriptorPrefix {
  char *allocated;
  char *aligned;
  int64_t offset;
  int64_t sizes[1];
};

uint64_t describedBytes(int64_t rank, const DescriptorPrefix *descriptor,
                        int64_t elementSizeBytes) {
  uint64_t elements = 1;
  for (int64_t i = 0; i < rank; ++i)
    elements *= uint64_t(descriptor->sizes[i]);
  return elements * uint64_t(elementSizeBytes);
}
} // namespace

extern "C" void mgpuMemHostRegisterMemRef(int64_t rank, void *descriptor,
                                          int64_t elementSizeBytes) {
  auto *prefix = static_cast<const DescriptorPrefix *>(descriptor);
  mgpuMemHostRegister(prefix->aligned + prefix->offset * elementSizeBytes,
                      describedBytes(rank, prefix, elementSizeBytes));
}

extern "C" void mgpuMemHostUnregisterMemRef(int64_t /*rank*/, void *descriptor,
                                            int64_t elementSizeBytes) {
  auto *prefix = static_cast<const DescriptorPrefix *>(descriptor);
  mgpuMemHostUnregister(prefix->aligned + prefix->offset * elementSizeBytes);
}

extern "C" void mgpuSetDefaultDevice(int32_t device) {
  // The device is chosen once, at initialisation (QUANT_CUDA_DEVICE).
  if (device != 0)
    setError("mgpuSetDefaultDevice(%d): choose the device with "
             "QUANT_CUDA_DEVICE instead",
             device);
}

void quantopt::forEachCudaRuntimeSymbol(
    void (*visit)(const char *name, void *address, void *user), void *user) {
#define QUANT_SYMBOL(name) visit(#name, reinterpret_cast<void *>(&name), user)
  QUANT_SYMBOL(quantGpuDeviceConstant);
  QUANT_SYMBOL(quantGpuReleaseDeviceConstant);
  QUANT_SYMBOL(mgpuModuleLoad);
  QUANT_SYMBOL(mgpuModuleLoadJIT);
  QUANT_SYMBOL(mgpuModuleUnload);
  QUANT_SYMBOL(mgpuModuleGetFunction);
  QUANT_SYMBOL(mgpuLaunchKernel);
  QUANT_SYMBOL(mgpuStreamCreate);
  QUANT_SYMBOL(mgpuStreamDestroy);
  QUANT_SYMBOL(mgpuStreamSynchronize);
  QUANT_SYMBOL(mgpuStreamWaitEvent);
  QUANT_SYMBOL(mgpuEventCreate);
  QUANT_SYMBOL(mgpuEventDestroy);
  QUANT_SYMBOL(mgpuEventSynchronize);
  QUANT_SYMBOL(mgpuEventRecord);
  QUANT_SYMBOL(mgpuMemAlloc);
  QUANT_SYMBOL(mgpuMemFree);
  QUANT_SYMBOL(mgpuMemcpy);
  QUANT_SYMBOL(mgpuMemset32);
  QUANT_SYMBOL(mgpuMemset16);
  QUANT_SYMBOL(mgpuMemHostRegister);
  QUANT_SYMBOL(mgpuMemHostUnregister);
  QUANT_SYMBOL(mgpuMemHostRegisterMemRef);
  QUANT_SYMBOL(mgpuMemHostUnregisterMemRef);
  QUANT_SYMBOL(mgpuSetDefaultDevice);
#undef QUANT_SYMBOL
}
