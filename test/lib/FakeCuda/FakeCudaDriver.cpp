//===- FakeCudaDriver.cpp - A recording stand-in for libcuda.so.1 ---------===//
//
// Part of the quant-opt project, under the Apache License v2.0 with LLVM
// Exceptions.
//
//===----------------------------------------------------------------------===//
//
// Test-only. Built as `libcuda.so.1` in the build tree and loaded by
// QuantCudaRuntime through QUANT_CUDA_DRIVER, it lets the whole host side of
// a GPU-lowered model run on machines without a GPU: "device" memory is host
// memory, copies and memsets are performed, kernels are not executed (their
// outputs keep whatever the buffers held). What it checks, each failure
// being a driver error the runtime must report:
//   * module images are PTX with `.entry` kernels and no unresolved
//     `.extern .func` (libdevice calls), or ELF;
//   * kernels exist by name; launches have 1..1024 threads per block, grid
//     y/z up to 65535, and a readable parameter array of as many entries as
//     the kernel's PTX `.param` list;
//   * copies touch at least one live device allocation, within its bounds;
//     frees name live allocations.
// Every call of interest is appended to the file named by FAKE_CUDA_LOG;
// at exit a summary line counts allocations left alive.
// FAKE_CUDA_NO_DEVICE=1 makes cuInit fail as a machine without a GPU does;
// FAKE_CUDA_JIT_ERROR=1 makes every module load fail with a JIT log.
//
//===----------------------------------------------------------------------===//

#include <cstdarg>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace {

using CUresult = int;
using CUdeviceptr = unsigned long long;

constexpr CUresult CUDA_SUCCESS = 0;
constexpr CUresult CUDA_ERROR_INVALID_VALUE = 1;
constexpr CUresult CUDA_ERROR_NO_DEVICE = 100;
constexpr CUresult CUDA_ERROR_INVALID_IMAGE = 200;
constexpr CUresult CUDA_ERROR_INVALID_PTX = 218;
constexpr CUresult CUDA_ERROR_NOT_FOUND = 500;
constexpr int CU_JIT_ERROR_LOG_BUFFER = 5;
constexpr int CU_JIT_ERROR_LOG_BUFFER_SIZE_BYTES = 6;

struct Kernel {
  std::string name;
  unsigned params = 0;
};

struct Module {
  std::vector<std::unique_ptr<Kernel>> kernels;
};

struct Fake {
  std::mutex mutex;
  FILE *log = nullptr;
  /// Live allocations: start -> size.
  std::map<uintptr_t, size_t> allocations;
  long allocs = 0, frees = 0, launches = 0, copies = 0, loads = 0;
  int context = 0;

  Fake() {
    if (const char *path = getenv("FAKE_CUDA_LOG"))
      log = fopen(path, "a");
  }
  void summarize() {
    record("summary allocations=%ld frees=%ld live=%zu launches=%ld "
           "copies=%ld loads=%ld",
           allocs, frees, allocations.size(), launches, copies, loads);
    if (log)
      fclose(log);
    log = nullptr;
  }
  void record(const char *format, ...) __attribute__((format(printf, 2, 3))) {
    if (!log)
      return;
    va_list args;
    va_start(args, format);
    vfprintf(log, format, args);
    va_end(args);
    fputc('\n', log);
    fflush(log);
  }
  /// The live allocation holding [pointer, pointer + bytes), or end().
  std::map<uintptr_t, size_t>::iterator find(uintptr_t pointer, size_t bytes) {
    auto it = allocations.upper_bound(pointer);
    if (it == allocations.begin())
      return allocations.end();
    --it;
    if (pointer + bytes > it->first + it->second)
      return allocations.end();
    return it;
  }
};

/// Never destroyed: programs release device memory from their module
/// destructors, after static objects are gone.
Fake &fake() {
  static Fake *instance = new Fake();
  return *instance;
}

/// The library's own destructor runs after those of the program.
__attribute__((destructor)) void summarizeAtUnload() { fake().summarize(); }

bool flag(const char *name) {
  const char *value = getenv(name);
  return value && *value && strcmp(value, "0") != 0;
}

/// Parses the `.entry` kernels of PTX text and counts their parameters.
bool parsePTX(const char *text, Module &module, std::string &error) {
  if (strstr(text, ".extern .func")) {
    const char *at = strstr(text, ".extern .func");
    error =
        "unresolved external function: " + std::string(at, strcspn(at, "\n"));
    return false;
  }
  for (const char *at = strstr(text, ".entry "); at;
       at = strstr(at + 1, ".entry ")) {
    const char *name = at + 7;
    size_t length = strcspn(name, "( \n");
    auto kernel = std::make_unique<Kernel>();
    kernel->name.assign(name, length);
    const char *open = name + length;
    while (*open == ' ')
      ++open;
    if (*open == '(') {
      const char *close = strchr(open, ')');
      if (!close) {
        error = "unterminated parameter list of " + kernel->name;
        return false;
      }
      for (const char *p = strstr(open, ".param"); p && p < close;
           p = strstr(p + 1, ".param"))
        ++kernel->params;
    }
    module.kernels.push_back(std::move(kernel));
  }
  if (module.kernels.empty()) {
    error = "no .entry kernel in the PTX";
    return false;
  }
  return true;
}

} // namespace

extern "C" {

CUresult cuInit(unsigned) {
  if (flag("FAKE_CUDA_NO_DEVICE"))
    return CUDA_ERROR_NO_DEVICE;
  fake().record("init");
  return CUDA_SUCCESS;
}

CUresult cuGetErrorName(CUresult result, const char **name) {
  switch (result) {
  case CUDA_SUCCESS:
    *name = "CUDA_SUCCESS";
    break;
  case CUDA_ERROR_INVALID_VALUE:
    *name = "CUDA_ERROR_INVALID_VALUE";
    break;
  case CUDA_ERROR_NO_DEVICE:
    *name = "CUDA_ERROR_NO_DEVICE";
    break;
  case CUDA_ERROR_INVALID_IMAGE:
    *name = "CUDA_ERROR_INVALID_IMAGE";
    break;
  case CUDA_ERROR_INVALID_PTX:
    *name = "CUDA_ERROR_INVALID_PTX";
    break;
  case CUDA_ERROR_NOT_FOUND:
    *name = "CUDA_ERROR_NOT_FOUND";
    break;
  default:
    *name = "CUDA_ERROR_UNKNOWN";
  }
  return CUDA_SUCCESS;
}

CUresult cuGetErrorString(CUresult result, const char **text) {
  *text = result == CUDA_ERROR_NO_DEVICE ? "no CUDA-capable device is detected"
                                         : "fake driver error";
  return CUDA_SUCCESS;
}

CUresult cuDeviceGetCount(int *count) {
  *count = 1;
  return CUDA_SUCCESS;
}

CUresult cuDeviceGet(int *device, int ordinal) {
  *device = ordinal;
  return CUDA_SUCCESS;
}

CUresult cuDeviceGetName(char *name, int length, int) {
  snprintf(name, length, "Fake CUDA device (recording driver)");
  return CUDA_SUCCESS;
}

CUresult cuDeviceGetAttribute(int *value, int attribute, int) {
  *value = attribute == 75 ? 9 : 0;
  return CUDA_SUCCESS;
}

CUresult cuDeviceTotalMem_v2(size_t *bytes, int) {
  *bytes = size_t(80) << 30;
  return CUDA_SUCCESS;
}

CUresult cuDevicePrimaryCtxRetain(void **context, int) {
  *context = &fake().context;
  return CUDA_SUCCESS;
}

CUresult cuCtxSetCurrent(void *) { return CUDA_SUCCESS; }

CUresult cuModuleLoadDataEx(void **module, const void *image,
                            unsigned numOptions, int *options, void **values) {
  Fake &f = fake();
  std::string error;
  auto loaded = std::make_unique<Module>();
  const char *text = static_cast<const char *>(image);
  bool isElf = memcmp(text,
                      "\x7f"
                      "ELF",
                      4) == 0;
  if (flag("FAKE_CUDA_JIT_ERROR"))
    error = "ptxas fatal   : fake JIT failure requested by "
            "FAKE_CUDA_JIT_ERROR";
  else if (!isElf)
    parsePTX(text, *loaded, error);
  if (!error.empty()) {
    char *log = nullptr;
    size_t size = 0;
    for (unsigned i = 0; i < numOptions; ++i) {
      if (options[i] == CU_JIT_ERROR_LOG_BUFFER)
        log = static_cast<char *>(values[i]);
      if (options[i] == CU_JIT_ERROR_LOG_BUFFER_SIZE_BYTES)
        size = reinterpret_cast<uintptr_t>(values[i]);
    }
    if (log && size)
      snprintf(log, size, "%s", error.c_str());
    std::lock_guard<std::mutex> lock(f.mutex);
    f.record("load failed: %s", error.c_str());
    return isElf ? CUDA_ERROR_INVALID_IMAGE : CUDA_ERROR_INVALID_PTX;
  }
  std::lock_guard<std::mutex> lock(f.mutex);
  ++f.loads;
  f.record("load %s kernels=%zu", isElf ? "elf" : "ptx",
           loaded->kernels.size());
  *module = loaded.release();
  return CUDA_SUCCESS;
}

CUresult cuModuleUnload(void *module) {
  std::lock_guard<std::mutex> lock(fake().mutex);
  fake().record("unload");
  delete static_cast<Module *>(module);
  return CUDA_SUCCESS;
}

CUresult cuModuleGetFunction(void **function, void *module, const char *name) {
  for (auto &kernel : static_cast<Module *>(module)->kernels)
    if (kernel->name == name) {
      *function = kernel.get();
      return CUDA_SUCCESS;
    }
  return CUDA_ERROR_NOT_FOUND;
}

CUresult cuFuncSetAttribute(void *, int, int) { return CUDA_SUCCESS; }

CUresult cuLaunchKernel(void *function, unsigned gx, unsigned gy, unsigned gz,
                        unsigned bx, unsigned by, unsigned bz, unsigned smem,
                        void *, void **params, void **) {
  auto *kernel = static_cast<Kernel *>(function);
  Fake &f = fake();
  std::lock_guard<std::mutex> lock(f.mutex);
  uint64_t threads = uint64_t(bx) * by * bz;
  if (threads == 0 || threads > 1024 || gy > 65535 || gz > 65535 || bz > 64) {
    f.record("launch rejected %s grid=%u,%u,%u block=%u,%u,%u",
             kernel->name.c_str(), gx, gy, gz, bx, by, bz);
    return CUDA_ERROR_INVALID_VALUE;
  }
  // Touch every parameter: a short array reads garbage or faults here.
  unsigned nonNull = 0;
  for (unsigned i = 0; params && i < kernel->params; ++i)
    nonNull += params[i] != nullptr;
  if (kernel->params && nonNull != kernel->params) {
    f.record("launch rejected %s: %u of %u parameters given",
             kernel->name.c_str(), nonNull, kernel->params);
    return CUDA_ERROR_INVALID_VALUE;
  }
  ++f.launches;
  f.record("launch %s grid=%u,%u,%u block=%u,%u,%u smem=%u params=%u",
           kernel->name.c_str(), gx, gy, gz, bx, by, bz, smem, kernel->params);
  return CUDA_SUCCESS;
}

CUresult cuStreamCreate(void **stream, unsigned) {
  static int token;
  *stream = &token;
  return CUDA_SUCCESS;
}
CUresult cuStreamDestroy_v2(void *) { return CUDA_SUCCESS; }
CUresult cuStreamSynchronize(void *) { return CUDA_SUCCESS; }
CUresult cuStreamWaitEvent(void *, void *, unsigned) { return CUDA_SUCCESS; }
CUresult cuEventCreate(void **event, unsigned) {
  static int token;
  *event = &token;
  return CUDA_SUCCESS;
}
CUresult cuEventDestroy_v2(void *) { return CUDA_SUCCESS; }
CUresult cuEventRecord(void *, void *) { return CUDA_SUCCESS; }
CUresult cuEventSynchronize(void *) { return CUDA_SUCCESS; }

static CUresult allocate(CUdeviceptr *pointer, size_t bytes, const char *kind) {
  if (bytes == 0)
    return CUDA_ERROR_INVALID_VALUE;
  void *memory = aligned_alloc(256, (bytes + 255) / 256 * 256);
  if (!memory)
    return CUDA_ERROR_INVALID_VALUE;
  // Kernels do not run: make their outputs deterministic.
  memset(memory, 0, bytes);
  Fake &f = fake();
  std::lock_guard<std::mutex> lock(f.mutex);
  f.allocations[reinterpret_cast<uintptr_t>(memory)] = bytes;
  ++f.allocs;
  f.record("%s %zu", kind, bytes);
  *pointer = reinterpret_cast<CUdeviceptr>(memory);
  return CUDA_SUCCESS;
}

CUresult cuMemAlloc_v2(CUdeviceptr *pointer, size_t bytes) {
  return allocate(pointer, bytes, "alloc");
}
CUresult cuMemAllocAsync(CUdeviceptr *pointer, size_t bytes, void *) {
  return allocate(pointer, bytes, "alloc-async");
}
CUresult cuMemAllocManaged(CUdeviceptr *pointer, size_t bytes, unsigned) {
  return allocate(pointer, bytes, "alloc-managed");
}

CUresult cuMemFree_v2(CUdeviceptr pointer) {
  Fake &f = fake();
  std::lock_guard<std::mutex> lock(f.mutex);
  auto it = f.allocations.find(uintptr_t(pointer));
  if (it == f.allocations.end()) {
    f.record("free rejected: %#llx is not a live allocation", pointer);
    return CUDA_ERROR_INVALID_VALUE;
  }
  f.allocations.erase(it);
  ++f.frees;
  free(reinterpret_cast<void *>(pointer));
  return CUDA_SUCCESS;
}
CUresult cuMemFreeAsync(CUdeviceptr pointer, void *) {
  return cuMemFree_v2(pointer);
}

CUresult cuMemcpyAsync(CUdeviceptr dst, CUdeviceptr src, size_t bytes, void *) {
  Fake &f = fake();
  std::lock_guard<std::mutex> lock(f.mutex);
  bool toDevice = f.find(dst, bytes) != f.allocations.end();
  bool fromDevice = f.find(src, bytes) != f.allocations.end();
  if (!toDevice && !fromDevice) {
    f.record("copy rejected: neither side of a %zu-byte copy is device memory",
             bytes);
    return CUDA_ERROR_INVALID_VALUE;
  }
  memcpy(reinterpret_cast<void *>(dst), reinterpret_cast<void *>(src), bytes);
  ++f.copies;
  f.record("copy %s %zu",
           toDevice && fromDevice ? "d2d"
           : toDevice             ? "h2d"
                                  : "d2h",
           bytes);
  return CUDA_SUCCESS;
}

CUresult cuMemcpyHtoD_v2(CUdeviceptr dst, const void *src, size_t bytes) {
  Fake &f = fake();
  std::lock_guard<std::mutex> lock(f.mutex);
  if (f.find(dst, bytes) == f.allocations.end())
    return CUDA_ERROR_INVALID_VALUE;
  memcpy(reinterpret_cast<void *>(dst), src, bytes);
  ++f.copies;
  f.record("upload %zu", bytes);
  return CUDA_SUCCESS;
}

CUresult cuMemsetD32Async(CUdeviceptr dst, unsigned value, size_t count,
                          void *) {
  Fake &f = fake();
  std::lock_guard<std::mutex> lock(f.mutex);
  if (f.find(dst, count * 4) == f.allocations.end())
    return CUDA_ERROR_INVALID_VALUE;
  auto *words = reinterpret_cast<uint32_t *>(dst);
  for (size_t i = 0; i < count; ++i)
    words[i] = value;
  return CUDA_SUCCESS;
}

CUresult cuMemsetD16Async(CUdeviceptr dst, unsigned short value, size_t count,
                          void *) {
  Fake &f = fake();
  std::lock_guard<std::mutex> lock(f.mutex);
  if (f.find(dst, count * 2) == f.allocations.end())
    return CUDA_ERROR_INVALID_VALUE;
  auto *halves = reinterpret_cast<uint16_t *>(dst);
  for (size_t i = 0; i < count; ++i)
    halves[i] = value;
  return CUDA_SUCCESS;
}

CUresult cuMemHostRegister_v2(void *, size_t, unsigned) { return CUDA_SUCCESS; }
CUresult cuMemHostUnregister(void *) { return CUDA_SUCCESS; }

} // extern "C"
