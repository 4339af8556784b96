//===- CalibrationStatistics.h - Activation statistics files ----*- C++ -*-===//
//
// Part of the quant-opt project, under the Apache License v2.0 with LLVM
// Exceptions.
//
//===----------------------------------------------------------------------===//
//
// The file --quant-calibrate writes and the calibrated passes read
// (`statistics=FILE`): a safetensors file holding, for each weight W,
// `W/hessian` (F64 [K, K]), `W/max_abs`, `W/mean_abs`, `W/mean_sq` (F32 [K])
// and `W/count` (I64 [2]: tokens, sequences), with metadata
// `format = quant-opt-calibration`, `version = 1`.
//
//===----------------------------------------------------------------------===//

#ifndef QUANT_FORMATS_CALIBRATIONSTATISTICS_H
#define QUANT_FORMATS_CALIBRATIONSTATISTICS_H

#include "quant/Numerics/GPTQ.h"

#include "llvm/ADT/StringRef.h"
#include "llvm/Support/Error.h"

#include <map>
#include <string>

namespace quantopt {

/// Statistics keyed by weight name.
using NamedStatistics = std::map<std::string, numerics::HessianAccumulator>;

/// Writes `stats` to `path` atomically.
llvm::Error writeCalibrationStatistics(llvm::StringRef path,
                                       const NamedStatistics &stats);

/// Reads a file written by writeCalibrationStatistics; errors name the file
/// and the incomplete or ill-typed entry.
llvm::Expected<NamedStatistics> readCalibrationStatistics(llvm::StringRef path);

} // namespace quantopt

#endif // QUANT_FORMATS_CALIBRATIONSTATISTICS_H
