//===- ProgressRemarks.h - Progress of long passes on stderr ----*- C++ -*-===//
//
// Part of the quant-opt project, under the Apache License v2.0 with LLVM
// Exceptions.
//
//===----------------------------------------------------------------------===//
//
// Passes over a real model's weights or layers run for minutes. They report
// their progress as remarks (stderr in quant-opt): items done, time so far
// and an estimate of the time left. Short runs (tests, small models) print
// nothing: a remark comes only once the pass has run for the interval, and
// then at most once per interval.
//
//===----------------------------------------------------------------------===//

#ifndef QUANT_DIALECT_QTENSOR_UTILS_PROGRESSREMARKS_H
#define QUANT_DIALECT_QTENSOR_UTILS_PROGRESSREMARKS_H

#include "mlir/IR/Location.h"

#include <chrono>
#include <string>

namespace mlir {
namespace qtensor {

class ProgressRemarks {
public:
  /// Progress of `total` items, as "`prefix`: done/total `what`, ...".
  ProgressRemarks(Location loc, StringRef prefix, size_t total,
                  double intervalSeconds = 10.0);
  /// Item `done` (counting from 1) is finished; `what` names it.
  void finished(size_t done, StringRef what);

private:
  using Clock = std::chrono::steady_clock;
  Location loc;
  std::string prefix;
  size_t total;
  double interval;
  Clock::time_point start = Clock::now(), last = start;
};

} // namespace qtensor
} // namespace mlir

#endif // QUANT_DIALECT_QTENSOR_UTILS_PROGRESSREMARKS_H
