//===- Safetensors.cpp - Read and write safetensors files -----------------===//
//
// Part of the quant-opt project, under the Apache License v2.0 with LLVM
// Exceptions.
//
//===----------------------------------------------------------------------===//

#include "quant/Formats/Safetensors.h"

#include "llvm/ADT/StringSwitch.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/JSON.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/raw_ostream.h"

#include <cstring>

using namespace quantopt;

static llvm::Error fail(llvm::StringRef path, const llvm::Twine &what) {
  return llvm::createStringError(
      llvm::formatv("{0}: {1}", path, what.str()).str());
}

size_t quantopt::safetensorsElementSize(llvm::StringRef dtype) {
  return llvm::StringSwitch<size_t>(dtype)
      .Cases({"F64", "I64", "U64"}, 8)
      .Cases({"F32", "I32", "U32"}, 4)
      .Cases({"F16", "BF16", "I16", "U16"}, 2)
      .Cases({"I8", "U8", "BOOL", "F8_E4M3", "F8_E5M2"}, 1)
      .Default(0);
}

llvm::Error quantopt::writeSafetensorsStreamed(
    llvm::StringRef path, llvm::ArrayRef<SafetensorsTensorSpec> specs,
    const std::map<std::string, std::string> &metadata,
    llvm::function_ref<std::vector<char>(size_t)> bytesOf) {
  llvm::json::Object header;
  if (!metadata.empty()) {
    llvm::json::Object meta;
    for (const auto &[k, v] : metadata)
      meta[k] = v;
    header["__metadata__"] = std::move(meta);
  }
  size_t offset = 0;
  std::vector<size_t> sizes;
  for (const SafetensorsTensorSpec &spec : specs) {
    int64_t count = 1;
    for (int64_t d : spec.shape)
      count *= d;
    sizes.push_back(size_t(count) * safetensorsElementSize(spec.dtype));
    llvm::json::Array shape;
    for (int64_t d : spec.shape)
      shape.push_back(d);
    header[spec.name] = llvm::json::Object{
        {"dtype", spec.dtype},
        {"shape", std::move(shape)},
        {"data_offsets",
         llvm::json::Array{int64_t(offset), int64_t(offset + sizes.back())}}};
    offset += sizes.back();
  }
  std::string text;
  llvm::raw_string_ostream os(text);
  os << llvm::json::Value(std::move(header));
  os.flush();
  while ((8 + text.size()) % 8)
    text += ' ';
  std::string temp = (path + ".tmp").str();
  {
    std::error_code ec;
    llvm::raw_fd_ostream out(temp, ec);
    if (ec)
      return fail(path, "cannot write: " + ec.message());
    uint64_t size = text.size();
    out.write(reinterpret_cast<const char *>(&size), 8);
    out << text;
    for (size_t i = 0; i < specs.size(); ++i) {
      std::vector<char> bytes = bytesOf(i);
      if (bytes.size() != sizes[i]) {
        out.close();
        llvm::sys::fs::remove(temp);
        return fail(path, "tensor '" + specs[i].name + "' has " +
                              std::to_string(bytes.size()) +
                              " bytes, inconsistent with its dtype and shape");
      }
      out.write(bytes.data(), bytes.size());
    }
    out.close();
    if (out.has_error()) {
      out.clear_error();
      llvm::sys::fs::remove(temp);
      return fail(path, "write failed");
    }
  }
  if (std::error_code ec = llvm::sys::fs::rename(temp, path)) {
    llvm::sys::fs::remove(temp);
    return fail(path, "cannot write: " + ec.message());
  }
  return llvm::Error::success();
}

llvm::Error
quantopt::writeSafetensors(llvm::StringRef path, const SafetensorsFile &tensors,
                           const std::map<std::string, std::string> &metadata) {
  std::vector<SafetensorsTensorSpec> specs;
  std::vector<const SafetensorsTensor *> data;
  for (const auto &[name, t] : tensors) {
    specs.push_back({name, t.dtype, t.shape});
    data.push_back(&t);
  }
  return writeSafetensorsStreamed(path, specs, metadata,
                                  [&](size_t i) { return data[i]->bytes; });
}

llvm::Expected<std::vector<SafetensorsView>>
quantopt::parseSafetensors(llvm::StringRef path, llvm::StringRef data) {
  if (data.size() < 8)
    return fail(path, "too small for the 8-byte safetensors header length");
  uint64_t headerSize;
  std::memcpy(&headerSize, data.data(), 8);
  if (headerSize > data.size() - 8)
    return fail(path, llvm::formatv("the header runs past the end of the file "
                                    "({0}-byte header, {1}-byte file)",
                                    headerSize, data.size()));
  auto header = llvm::json::parse(data.substr(8, headerSize));
  if (!header)
    return fail(path,
                "invalid JSON header: " + llvm::toString(header.takeError()));
  const llvm::json::Object *object = header->getAsObject();
  if (!object)
    return fail(path, "the header is not a JSON object");
  llvm::StringRef payload = data.drop_front(8 + headerSize);
  std::vector<SafetensorsView> views;
  for (const auto &[key, value] : *object) {
    if (key == "__metadata__")
      continue;
    std::string name = key.str();
    const llvm::json::Object *info = value.getAsObject();
    const llvm::json::Array *shape = info ? info->getArray("shape") : nullptr;
    const llvm::json::Array *offsets =
        info ? info->getArray("data_offsets") : nullptr;
    auto dtype = info ? info->getString("dtype") : std::nullopt;
    if (!shape || !offsets || !dtype || offsets->size() != 2)
      return fail(path,
                  "tensor '" + name + "' lacks dtype, shape or data_offsets");
    size_t width = safetensorsElementSize(*dtype);
    if (!width)
      return fail(path, "tensor '" + name + "' has unknown dtype " + *dtype);
    SafetensorsView view;
    view.name = name;
    view.dtype = dtype->str();
    int64_t count = 1;
    for (const llvm::json::Value &d : *shape) {
      auto dim = d.getAsInteger();
      if (!dim || *dim < 0 || *dim > (int64_t(1) << 32))
        return fail(path, "tensor '" + name + "' has an invalid shape");
      view.shape.push_back(*dim);
      count *= *dim;
      if (count > (int64_t(1) << 40))
        return fail(path, "tensor '" + name + "' is implausibly large");
    }
    auto begin = (*offsets)[0].getAsInteger();
    auto end = (*offsets)[1].getAsInteger();
    if (!begin || !end || *begin < 0 || *end < *begin ||
        uint64_t(*end) > payload.size())
      return fail(path, llvm::formatv("tensor '{0}' has data_offsets outside "
                                      "the {1} data bytes",
                                      name, payload.size()));
    if (uint64_t(*end - *begin) != uint64_t(count) * width)
      return fail(path, llvm::formatv("tensor '{0}' spans {1} bytes but its "
                                      "shape and dtype need {2}",
                                      name, *end - *begin, count * width));
    view.bytes = payload.substr(*begin, *end - *begin);
    views.push_back(std::move(view));
  }
  return views;
}

llvm::Expected<SafetensorsFile>
quantopt::readSafetensors(llvm::StringRef path) {
  auto buffer = llvm::MemoryBuffer::getFile(path, false, false);
  if (!buffer)
    return fail(path, "cannot open: " + buffer.getError().message());
  auto views = parseSafetensors(path, (*buffer)->getBuffer());
  if (!views)
    return views.takeError();
  SafetensorsFile file;
  for (SafetensorsView &v : *views)
    file.emplace(v.name, SafetensorsTensor{v.dtype, std::move(v.shape),
                                           std::vector<char>(v.bytes.begin(),
                                                             v.bytes.end())});
  return file;
}
