//===- ProgressRemarks.cpp - Progress of long passes on stderr ------------===//
//
// Part of the quant-opt project, under the Apache License v2.0 with LLVM
// Exceptions.
//
//===----------------------------------------------------------------------===//

#include "quant/Dialect/QTensor/Utils/ProgressRemarks.h"

#include "mlir/IR/Diagnostics.h"

#include "llvm/Support/FormatVariadic.h"

using namespace mlir;
using namespace mlir::qtensor;

ProgressRemarks::ProgressRemarks(Location loc, StringRef prefix, size_t total,
                                 double intervalSeconds)
    : loc(loc), prefix(prefix.str()), total(total), interval(intervalSeconds) {}

void ProgressRemarks::finished(size_t done, StringRef what) {
  Clock::time_point now = Clock::now();
  if (std::chrono::duration<double>(now - last).count() < interval || !done)
    return;
  last = now;
  double elapsed = std::chrono::duration<double>(now - start).count();
  double left = elapsed * double(total - std::min(done, total)) / done;
  emitRemark(loc, llvm::formatv("{0}: {1}/{2} {3}, {4:f0} s so far, about "
                                "{5:f0} s left",
                                prefix, done, total, what, elapsed, left));
}
