//===- CalibrationStatistics.cpp - Activation statistics files -----------===//
//
// Part of the quant-opt project, under the Apache License v2.0 with LLVM
// Exceptions.
//
//===----------------------------------------------------------------------===//

#include "quant/Formats/CalibrationStatistics.h"
#include "quant/Formats/Safetensors.h"

#include <cstring>

using namespace quantopt;

template <typename T>
static SafetensorsTensor tensorOf(const std::vector<T> &values,
                                  std::vector<int64_t> shape,
                                  const char *dtype) {
  SafetensorsTensor t;
  t.dtype = dtype;
  t.shape = std::move(shape);
  t.bytes.resize(values.size() * sizeof(T));
  std::memcpy(t.bytes.data(), values.data(), t.bytes.size());
  return t;
}

static std::vector<float> toF32(const std::vector<double> &v) {
  return std::vector<float>(v.begin(), v.end());
}

llvm::Error quantopt::writeCalibrationStatistics(llvm::StringRef path,
                                                 const NamedStatistics &stats) {
  SafetensorsFile file;
  for (const auto &[name, s] : stats) {
    int64_t k = s.columns();
    file[name + "/hessian"] = tensorOf(s.hessian(), {k, k}, "F64");
    file[name + "/max_abs"] = tensorOf(toF32(s.maxAbs()), {k}, "F32");
    file[name + "/mean_abs"] = tensorOf(toF32(s.meanAbs()), {k}, "F32");
    file[name + "/mean_sq"] = tensorOf(toF32(s.meanSquare()), {k}, "F32");
    file[name + "/count"] =
        tensorOf(std::vector<int64_t>{s.tokens(), s.sequences()}, {2}, "I64");
  }
  return writeSafetensors(
      path, file, {{"format", "quant-opt-calibration"}, {"version", "1"}});
}

llvm::Expected<NamedStatistics>
quantopt::readCalibrationStatistics(llvm::StringRef path) {
  auto file = readSafetensors(path);
  if (!file)
    return file.takeError();
  NamedStatistics stats;
  for (const auto &[key, tensor] : *file) {
    llvm::StringRef name(key);
    if (!name.consume_back("/hessian"))
      continue;
    auto get = [&](const char *suffix, const char *dtype,
                   int64_t count) -> const SafetensorsTensor * {
      auto it = file->find((name + suffix).str());
      if (it == file->end() || it->second.dtype != dtype ||
          it->second.bytes.size() !=
              size_t(count) * safetensorsElementSize(dtype))
        return nullptr;
      return &it->second;
    };
    if (tensor.dtype != "F64" || tensor.shape.size() != 2 ||
        tensor.shape[0] != tensor.shape[1])
      return llvm::createStringError(path + ": '" + key +
                                     "' must be a square F64 matrix");
    int64_t k = tensor.shape[0];
    const SafetensorsTensor *maxAbs = get("/max_abs", "F32", k);
    const SafetensorsTensor *meanAbs = get("/mean_abs", "F32", k);
    const SafetensorsTensor *meanSq = get("/mean_sq", "F32", k);
    const SafetensorsTensor *count = get("/count", "I64", 2);
    if (!maxAbs || !meanAbs || !meanSq || !count)
      return llvm::createStringError(
          path + ": the statistics of '" + name +
          "' are incomplete (max_abs, mean_abs, mean_sq F32 [" +
          std::to_string(k) + "] and count I64 [2] are required)");
    auto doubles = [](const SafetensorsTensor &t) {
      std::vector<double> out;
      if (t.dtype == "F64") {
        out.resize(t.bytes.size() / 8);
        std::memcpy(out.data(), t.bytes.data(), t.bytes.size());
      } else {
        std::vector<float> f(t.bytes.size() / 4);
        std::memcpy(f.data(), t.bytes.data(), t.bytes.size());
        out.assign(f.begin(), f.end());
      }
      return out;
    };
    int64_t counts[2];
    std::memcpy(counts, count->bytes.data(), 16);
    stats.emplace(name.str(),
                  numerics::HessianAccumulator::restore(
                      k, doubles(tensor), doubles(*maxAbs), doubles(*meanAbs),
                      doubles(*meanSq), counts[0], counts[1]));
  }
  return stats;
}
