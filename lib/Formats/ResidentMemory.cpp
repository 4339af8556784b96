//===- ResidentMemory.cpp - Dropping pages a pass no longer needs ---------===//
//
// Part of the quant-opt project, under the Apache License v2.0 with LLVM
// Exceptions.
//
//===----------------------------------------------------------------------===//

#include "quant/Formats/ResidentMemory.h"

#include <cstdint>

#if defined(__GLIBC__)
#include <malloc.h>
#endif
#if defined(__linux__)
#include <sys/mman.h>
#include <unistd.h>
#endif

void quantopt::releaseResidentPages(const void *data, size_t size) {
#if defined(__linux__) && defined(MADV_PAGEOUT)
  if (!data || size < (size_t(1) << 20))
    return;
  uintptr_t page = uintptr_t(sysconf(_SC_PAGESIZE));
  uintptr_t begin = (uintptr_t(data) + page - 1) & ~(page - 1);
  uintptr_t end = (uintptr_t(data) + size) & ~(page - 1);
  if (end > begin)
    (void)madvise(reinterpret_cast<void *>(begin), end - begin, MADV_PAGEOUT);
#else
  (void)data;
  (void)size;
#endif
}

void quantopt::releaseFreedHeapMemory() {
#if defined(__GLIBC__)
  (void)malloc_trim(0);
#endif
}
