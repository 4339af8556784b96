//===- Npy.cpp - NumPy arrays and token id files --------------------------===//
//
// Part of the quant-opt project, under the Apache License v2.0 with LLVM
// Exceptions.
//
//===----------------------------------------------------------------------===//

#include "quant/Formats/Npy.h"

#include "llvm/ADT/SmallVector.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/MemoryBuffer.h"

#include <cstring>

using namespace quantopt;

static llvm::Error fail(llvm::StringRef path, const llvm::Twine &what) {
  return llvm::createStringError(
      llvm::formatv("{0}: {1}", path, what.str()).str());
}

namespace {
/// The parts of a .npy file: magic, version, header length (2 or 4 bytes),
/// a Python dict literal with 'descr', 'fortran_order' and 'shape', data.
struct NpyArray {
  llvm::StringRef descr;
  std::vector<int64_t> shape;
  llvm::StringRef payload;
};
} // namespace

static llvm::Expected<NpyArray> parseNpy(llvm::StringRef path,
                                         llvm::StringRef data) {
  if (!data.starts_with("\x93NUMPY") || data.size() < 10)
    return fail(path, "truncated .npy header");
  size_t headerLength = uint8_t(data[8]) | (uint8_t(data[9]) << 8), start = 10;
  if (uint8_t(data[6]) >= 2) {
    if (data.size() < 12)
      return fail(path, "truncated .npy header");
    headerLength =
        uint32_t(uint8_t(data[8])) | uint32_t(uint8_t(data[9])) << 8 |
        uint32_t(uint8_t(data[10])) << 16 | uint32_t(uint8_t(data[11])) << 24;
    start = 12;
  }
  if (headerLength > data.size() - start)
    return fail(path, "truncated .npy header");
  llvm::StringRef header = data.substr(start, headerLength);
  if (header.contains("'fortran_order': True"))
    return fail(path, "Fortran-ordered .npy arrays are not supported");
  NpyArray array;
  size_t descr = header.find("'descr': '");
  size_t open = header.find("'shape': (");
  if (descr == llvm::StringRef::npos || open == llvm::StringRef::npos)
    return fail(path, "the .npy header lacks descr or shape: " + header.trim());
  array.descr =
      header.substr(descr + 10).take_until([](char c) { return c == '\''; });
  llvm::StringRef dims =
      header.substr(open + 10).take_until([](char c) { return c == ')'; });
  llvm::SmallVector<llvm::StringRef> parts;
  dims.split(parts, ',', -1, /*KeepEmpty=*/false);
  for (llvm::StringRef part : parts) {
    // A trailing comma (a Python tuple's "(3, )") leaves a blank part.
    if (part.trim().empty())
      continue;
    int64_t d;
    if (part.trim().getAsInteger(10, d) || d < 0)
      return fail(path, "invalid shape (" + dims + ")");
    array.shape.push_back(d);
  }
  array.payload = data.drop_front(start + headerLength);
  return array;
}

llvm::Expected<std::vector<int32_t>>
quantopt::loadTokenIds(llvm::StringRef path, int32_t vocabSize) {
  auto buffer = llvm::MemoryBuffer::getFile(path, false, false);
  if (!buffer)
    return fail(path, "cannot open: " + buffer.getError().message());
  llvm::StringRef data = (*buffer)->getBuffer();
  size_t elementSize = 4;
  if (data.starts_with("\x93NUMPY")) {
    auto array = parseNpy(path, data);
    if (!array)
      return array.takeError();
    if (array->descr == "<i4")
      elementSize = 4;
    else if (array->descr == "<i8")
      elementSize = 8;
    else
      return fail(path, "the .npy array must hold little-endian int32 or "
                        "int64 token ids (descr '<i4' or '<i8'), got '" +
                            array->descr + "'");
    if (array->shape.size() != 1)
      return fail(path, "token ids must be a 1-D array");
    data = array->payload;
  }
  if (data.size() % elementSize != 0)
    return fail(path,
                llvm::formatv("size {0} is not a multiple of {1}-byte ids",
                              data.size(), elementSize));
  std::vector<int32_t> ids(data.size() / elementSize);
  for (size_t i = 0; i < ids.size(); ++i) {
    int64_t id;
    if (elementSize == 4) {
      int32_t v;
      std::memcpy(&v, data.data() + 4 * i, 4);
      id = v;
    } else {
      std::memcpy(&id, data.data() + 8 * i, 8);
    }
    if (id < 0 || id >= vocabSize)
      return fail(path, llvm::formatv("token id {0} at position {1} is outside "
                                      "the vocabulary [0, {2})",
                                      id, i, vocabSize));
    ids[i] = int32_t(id);
  }
  return ids;
}

llvm::Expected<NpyF32Array> quantopt::loadNpyF32(llvm::StringRef path) {
  auto buffer = llvm::MemoryBuffer::getFile(path, false, false);
  if (!buffer)
    return fail(path, "cannot open: " + buffer.getError().message());
  auto array = parseNpy(path, (*buffer)->getBuffer());
  if (!array)
    return array.takeError();
  if (array->descr != "<f4")
    return fail(path, "expected a little-endian float32 array (descr '<f4'), "
                      "got '" +
                          array->descr + "'");
  NpyF32Array out;
  out.shape = array->shape;
  int64_t count = 1;
  for (int64_t d : out.shape)
    count *= d;
  if (array->payload.size() != size_t(count) * 4)
    return fail(path, llvm::formatv("{0} data bytes for a shape of {1} "
                                    "floats",
                                    array->payload.size(), count));
  out.values.resize(count);
  std::memcpy(out.values.data(), array->payload.data(), array->payload.size());
  return out;
}
