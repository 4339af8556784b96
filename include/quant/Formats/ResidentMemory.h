//===- ResidentMemory.h - Dropping pages a pass no longer needs -*- C++ -*-===//
//
// Part of the quant-opt project, under the Apache License v2.0 with LLVM
// Exceptions.
//
//===----------------------------------------------------------------------===//
//
// Weights of a model read from bytecode or a checkpoint live in the mapped
// file. Each page a pass reads stays resident until the kernel needs the
// memory, so a pass that reads every weight once has the whole model in its
// resident set at the end. Passes that work layer by layer release a
// weight's pages when they are done with it, so that the resident set holds
// the layer in use.
//
//===----------------------------------------------------------------------===//

#ifndef QUANT_FORMATS_RESIDENTMEMORY_H
#define QUANT_FORMATS_RESIDENTMEMORY_H

#include <cstddef>

namespace quantopt {

/// Asks the kernel to reclaim the whole pages inside [data, data + size)
/// (Linux MADV_PAGEOUT): clean file-backed pages are dropped and read again
/// on the next access; no content is ever lost (anonymous pages go to swap,
/// or stay when there is none). Ranges under 1 MiB, and kernels without the
/// advice, are left alone.
void releaseResidentPages(const void *data, size_t size);

/// Returns the free memory of every malloc arena to the kernel (glibc's
/// malloc_trim). Buffers of a few MiB made and freed by worker threads
/// (activations of calibration runs) stay in their threads' arenas
/// otherwise, and add up to gigabytes over a model's layers. No effect with
/// other C libraries.
void releaseFreedHeapMemory();

} // namespace quantopt

#endif // QUANT_FORMATS_RESIDENTMEMORY_H
