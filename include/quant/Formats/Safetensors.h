//===- Safetensors.h - Read and write safetensors files ---------*- C++ -*-===//
//
// Part of the quant-opt project, under the Apache License v2.0 with LLVM
// Exceptions.
//
//===----------------------------------------------------------------------===//
//
// The safetensors container: an 8-byte little-endian header length, a JSON
// header mapping tensor names to {dtype, shape, data_offsets} (plus an
// optional "__metadata__" map of strings), then the tensor bytes.
//
//===----------------------------------------------------------------------===//

#ifndef QUANT_FORMATS_SAFETENSORS_H
#define QUANT_FORMATS_SAFETENSORS_H

#include "llvm/ADT/StringRef.h"
#include "llvm/Support/Error.h"

#include "llvm/ADT/ArrayRef.h"
#include "llvm/ADT/STLFunctionalExtras.h"

#include <map>
#include <string>
#include <vector>

namespace quantopt {

struct SafetensorsTensor {
  std::string dtype; // "F64", "F32", "F16", "BF16", "I64", "I32", "I8", ...
  std::vector<int64_t> shape;
  std::vector<char> bytes;
};

using SafetensorsFile = std::map<std::string, SafetensorsTensor>;

/// Bytes per element of a safetensors dtype, 0 if unknown.
size_t safetensorsElementSize(llvm::StringRef dtype);

/// Writes `tensors` (and string `metadata`) to `path`, atomically: the file
/// appears only when complete.
llvm::Error
writeSafetensors(llvm::StringRef path, const SafetensorsFile &tensors,
                 const std::map<std::string, std::string> &metadata);

/// A tensor of a file written piece by piece: its bytes are asked for when
/// their turn comes, so a writer holds one tensor at a time.
struct SafetensorsTensorSpec {
  std::string name, dtype;
  std::vector<int64_t> shape;
};

/// Writes the tensors `specs` describe, in that order, `bytesOf(i)` giving
/// tensor i's bytes (which must match its dtype and shape), atomically.
llvm::Error
writeSafetensorsStreamed(llvm::StringRef path,
                         llvm::ArrayRef<SafetensorsTensorSpec> specs,
                         const std::map<std::string, std::string> &metadata,
                         llvm::function_ref<std::vector<char>(size_t)> bytesOf);

/// One tensor of a mapped safetensors file, viewed in place.
struct SafetensorsView {
  std::string name, dtype;
  std::vector<int64_t> shape;
  llvm::StringRef bytes;
};

/// Parses the header of safetensors bytes `data` (from file `path`, named in
/// errors) and checks every tensor's dtype, shape and offsets against it.
llvm::Expected<std::vector<SafetensorsView>>
parseSafetensors(llvm::StringRef path, llvm::StringRef data);

/// Reads every tensor of `path`, checking offsets and sizes.
llvm::Expected<SafetensorsFile> readSafetensors(llvm::StringRef path);

} // namespace quantopt

#endif // QUANT_FORMATS_SAFETENSORS_H
