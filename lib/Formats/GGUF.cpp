//===- GGUF.cpp - Read and write GGUF model files -------------------------===//
//
// Part of the quant-opt project, under the Apache License v2.0 with LLVM
// Exceptions.
//
//===----------------------------------------------------------------------===//

#include "quant/Formats/GGUF.h"

#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/ADT/bit.h"
#include "llvm/Support/Endian.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/MathExtras.h"
#include "llvm/Support/raw_ostream.h"

#include <cassert>
#include <cstring>
#include <functional>
#include <numeric>

using namespace quantopt;
using numerics::GGMLType;
using numerics::GGMLTypeTraits;

static constexpr llvm::StringLiteral kMagic = "GGUF";
static constexpr uint32_t kVersion = 3;
static constexpr llvm::StringLiteral kAlignmentKey = "general.alignment";
// The smallest encodings, to bound counts by the bytes left before reserving
// memory: key length + value type + a one-byte value; name length + n_dims +
// type + offset.
static constexpr uint64_t kMinKeyValueBytes = 8 + 4 + 1;
static constexpr uint64_t kMinTensorInfoBytes = 8 + 4 + 4 + 8;

static llvm::Error fail(llvm::StringRef path, const llvm::Twine &what) {
  return llvm::createStringError(
      llvm::formatv("{0}: {1}", path, what.str()).str());
}

//===----------------------------------------------------------------------===//
// Value types
//===----------------------------------------------------------------------===//

// The GGUF type of each scalar alternative of GGUFValueStorage; array
// alternatives follow in the same order.
static constexpr GGUFValueType kScalarTypes[] = {
    GGUFValueType::UInt8,   GGUFValueType::Int8,   GGUFValueType::UInt16,
    GGUFValueType::Int16,   GGUFValueType::UInt32, GGUFValueType::Int32,
    GGUFValueType::Float32, GGUFValueType::Bool,   GGUFValueType::String,
    GGUFValueType::UInt64,  GGUFValueType::Int64,  GGUFValueType::Float64};
static constexpr size_t kScalarCount = std::size(kScalarTypes);
static_assert(std::variant_size_v<GGUFValueStorage> == 2 * kScalarCount);

static bool isKnownValueType(uint32_t id) {
  return id <= static_cast<uint32_t>(GGUFValueType::Float64);
}

llvm::StringRef quantopt::getGGUFValueTypeName(GGUFValueType type) {
  static constexpr llvm::StringLiteral names[] = {
      "u8",   "i8",  "u16", "i16", "u32", "i32", "f32",
      "bool", "str", "arr", "u64", "i64", "f64"};
  auto id = static_cast<uint32_t>(type);
  if (id < std::size(names))
    return names[id];
  return "unknown";
}

namespace {
template <typename T> struct TypeTag {
  using type = T;
};
template <typename T> struct IsVector : std::false_type {};
template <typename T> struct IsVector<std::vector<T>> : std::true_type {};
} // namespace

/// Calls `fn(TypeTag<T>())` with the C++ type T of scalar or string `type`.
template <typename Fn>
static decltype(auto) withScalarType(GGUFValueType type, Fn &&fn) {
  switch (type) {
  case GGUFValueType::UInt8:
    return fn(TypeTag<uint8_t>());
  case GGUFValueType::Int8:
    return fn(TypeTag<int8_t>());
  case GGUFValueType::UInt16:
    return fn(TypeTag<uint16_t>());
  case GGUFValueType::Int16:
    return fn(TypeTag<int16_t>());
  case GGUFValueType::UInt32:
    return fn(TypeTag<uint32_t>());
  case GGUFValueType::Int32:
    return fn(TypeTag<int32_t>());
  case GGUFValueType::Float32:
    return fn(TypeTag<float>());
  case GGUFValueType::Bool:
    return fn(TypeTag<bool>());
  case GGUFValueType::String:
    return fn(TypeTag<std::string>());
  case GGUFValueType::UInt64:
    return fn(TypeTag<uint64_t>());
  case GGUFValueType::Int64:
    return fn(TypeTag<int64_t>());
  case GGUFValueType::Float64:
    return fn(TypeTag<double>());
  case GGUFValueType::Array:
    break;
  }
  llvm_unreachable("not a scalar or string value type");
}

GGUFValueType GGUFValue::getType() const {
  return isArray() ? GGUFValueType::Array : getElementType();
}

GGUFValueType GGUFValue::getElementType() const {
  return kScalarTypes[storage.index() % kScalarCount];
}

size_t GGUFValue::getElementCount() const {
  return std::visit(
      [](const auto &value) -> size_t {
        if constexpr (IsVector<std::decay_t<decltype(value)>>::value)
          return value.size();
        else
          return 1;
      },
      storage);
}

std::string GGUFValue::getTypeName() const {
  return describeIndex(storage.index());
}

std::string GGUFValue::describeIndex(size_t index) {
  static_assert(kArrayIndex == kScalarCount);
  llvm::StringRef element =
      getGGUFValueTypeName(kScalarTypes[index % kScalarCount]);
  return index < kArrayIndex ? element.str() : ("array of " + element).str();
}

//===----------------------------------------------------------------------===//
// Tensor sizes
//===----------------------------------------------------------------------===//

int64_t GGUFTensorInfo::getElementCount() const {
  return std::accumulate(shape.begin(), shape.end(), int64_t(1),
                         std::multiplies<>());
}

static std::string formatShape(llvm::ArrayRef<int64_t> shape) {
  return "[" +
         llvm::join(llvm::map_range(
                        shape, [](int64_t d) { return std::to_string(d); }),
                    ", ") +
         "]";
}

llvm::Expected<uint64_t>
quantopt::getGGUFTensorByteSize(llvm::StringRef path,
                                llvm::StringRef tensorName,
                                llvm::ArrayRef<int64_t> shape, GGMLType type) {
  GGMLTypeTraits traits = numerics::getGGMLTypeTraits(type);
  if (shape.size() > kGGUFMaxDims)
    return fail(path, llvm::formatv("tensor '{0}' has {1} dimensions; ggml "
                                    "allows at most {2}",
                                    tensorName, shape.size(), kGGUFMaxDims));
  int64_t elements = 1;
  for (auto [index, dim] : llvm::enumerate(shape)) {
    if (dim <= 0)
      return fail(path, llvm::formatv("tensor '{0}' dimension {1} is {2}; "
                                      "dimensions must be positive",
                                      tensorName, index, dim));
    if (llvm::MulOverflow(elements, dim, elements))
      return fail(path,
                  llvm::formatv("tensor '{0}' of shape {1} has more elements "
                                "than int64_t can count",
                                tensorName, formatShape(shape)));
  }
  int64_t rowLength = shape.empty() ? 1 : shape[0];
  if (rowLength % traits.blockElements != 0)
    return fail(path, llvm::formatv("tensor '{0}' of type {1} has rows of {2} "
                                    "elements, not a multiple of the block "
                                    "size {3}",
                                    tensorName, traits.name, rowLength,
                                    traits.blockElements));
  uint64_t blocks = elements / traits.blockElements;
  if (blocks > UINT64_MAX / traits.blockBytes)
    return fail(path, llvm::formatv("tensor '{0}' of shape {1} has a size in "
                                    "bytes that overflows",
                                    tensorName, formatShape(shape)));
  return blocks * traits.blockBytes;
}

/// The alignment that `general.alignment` (null when absent) asks for.
static llvm::Expected<uint32_t> checkAlignment(llvm::StringRef path,
                                               const GGUFValue *value) {
  if (!value)
    return kGGUFDefaultAlignment;
  const uint32_t *alignment = value->getIf<uint32_t>();
  if (!alignment)
    return fail(path, llvm::formatv("key '{0}' must be a u32, not {1}",
                                    kAlignmentKey, value->getTypeName()));
  if (!llvm::isPowerOf2_32(*alignment))
    return fail(path, llvm::formatv("key '{0}' is {1}, not a power of two",
                                    kAlignmentKey, *alignment));
  if (*alignment > kGGUFMaxAlignment)
    return fail(path,
                llvm::formatv("key '{0}' is {1}, above the limit {2}",
                              kAlignmentKey, *alignment, kGGUFMaxAlignment));
  return *alignment;
}

//===----------------------------------------------------------------------===//
// Reader
//===----------------------------------------------------------------------===//

namespace {
/// Little-endian reads from the file bytes; each checks the bytes left and
/// names `what` it was reading when the file ends early.
class Cursor {
public:
  Cursor(llvm::StringRef path, llvm::ArrayRef<uint8_t> bytes)
      : path(path), bytes(bytes) {}

  uint64_t getPosition() const { return position; }
  uint64_t getRemaining() const { return bytes.size() - position; }
  llvm::Error fail(const llvm::Twine &what) const { return ::fail(path, what); }

  llvm::Error need(uint64_t size, const llvm::Twine &what) const {
    if (size <= getRemaining())
      return llvm::Error::success();
    return fail(llvm::formatv("truncated: {0} needs {1} bytes at offset {2}, "
                              "but the file ends at {3}",
                              what.str(), size, position, bytes.size()));
  }

  /// Moves past `size` bytes that need() has checked.
  void skip(uint64_t size) {
    assert(size <= getRemaining());
    position += size;
  }

  template <typename T> llvm::Error read(T &out, const llvm::Twine &what) {
    if constexpr (std::is_same_v<T, std::string>) {
      uint64_t length;
      if (llvm::Error error = read(length, "the length of " + what))
        return error;
      if (length > kGGUFMaxStringLength)
        return fail(llvm::formatv("{0} is a string of {1} bytes, above the "
                                  "limit {2}",
                                  what.str(), length, kGGUFMaxStringLength));
      if (llvm::Error error = need(length, what))
        return error;
      out.assign(reinterpret_cast<const char *>(bytes.data() + position),
                 length);
      position += length;
    } else if constexpr (std::is_same_v<T, bool>) {
      uint8_t byte;
      if (llvm::Error error = read(byte, what))
        return error;
      out = byte != 0; // As llama.cpp reads it.
    } else if constexpr (std::is_floating_point_v<T>) {
      std::conditional_t<sizeof(T) == 4, uint32_t, uint64_t> bits;
      if (llvm::Error error = read(bits, what))
        return error;
      out = llvm::bit_cast<T>(bits);
    } else {
      if (llvm::Error error = need(sizeof(T), what))
        return error;
      out = llvm::support::endian::read<T>(bytes.data() + position,
                                           llvm::endianness::little);
      position += sizeof(T);
    }
    return llvm::Error::success();
  }

private:
  llvm::StringRef path;
  llvm::ArrayRef<uint8_t> bytes;
  uint64_t position = 0;
};
} // namespace

static llvm::Expected<GGUFValue> readValue(Cursor &cursor, uint32_t typeId,
                                           llvm::StringRef key) {
  if (!isKnownValueType(typeId))
    return cursor.fail(
        llvm::formatv("key '{0}' has unknown value type {1}", key, typeId));
  auto type = static_cast<GGUFValueType>(typeId);
  if (type != GGUFValueType::Array)
    return withScalarType(type, [&](auto tag) -> llvm::Expected<GGUFValue> {
      typename decltype(tag)::type value;
      if (llvm::Error error =
              cursor.read(value, "the value of key '" + key + "'"))
        return std::move(error);
      return GGUFValue(std::move(value));
    });

  uint32_t elementTypeId;
  if (llvm::Error error =
          cursor.read(elementTypeId, "the element type of key '" + key + "'"))
    return std::move(error);
  if (elementTypeId == static_cast<uint32_t>(GGUFValueType::Array))
    return cursor.fail(llvm::formatv(
        "key '{0}' is an array of arrays, which llama.cpp rejects", key));
  if (!isKnownValueType(elementTypeId))
    return cursor.fail(llvm::formatv(
        "key '{0}' is an array of unknown value type {1}", key, elementTypeId));
  uint64_t count;
  if (llvm::Error error =
          cursor.read(count, "the array length of key '" + key + "'"))
    return std::move(error);
  if (count > kGGUFMaxArrayLength)
    return cursor.fail(llvm::formatv("key '{0}' is an array of {1} elements, "
                                     "above the limit {2}",
                                     key, count, kGGUFMaxArrayLength));
  auto elementType = static_cast<GGUFValueType>(elementTypeId);
  return withScalarType(
      elementType, [&](auto tag) -> llvm::Expected<GGUFValue> {
        using T = typename decltype(tag)::type;
        // A string takes at least its 8-byte length.
        uint64_t minBytes = std::is_same_v<T, std::string> ? 8 : sizeof(T);
        if (count > cursor.getRemaining() / minBytes)
          return cursor.fail(llvm::formatv(
              "truncated: key '{0}' is an array of {1} {2} elements, more than "
              "the {3} bytes left can hold",
              key, count, getGGUFValueTypeName(elementType),
              cursor.getRemaining()));
        std::vector<T> values;
        values.reserve(count);
        for (uint64_t i = 0; i < count; ++i) {
          T value;
          if (llvm::Error error = cursor.read(
                  value, "element " + llvm::Twine(i) + " of key '" + key + "'"))
            return std::move(error);
          values.push_back(std::move(value));
        }
        return GGUFValue(std::move(values));
      });
}

static llvm::Error checkVersion(Cursor &cursor, uint32_t version) {
  if (version == kVersion)
    return llvm::Error::success();
  uint32_t swapped = llvm::byteswap(version);
  if ((version & 0xffff) == 0 && swapped >= 1 && swapped <= kVersion)
    return cursor.fail(llvm::formatv("GGUF version {0:x} is version {1} "
                                     "byte-swapped: big-endian files are not "
                                     "supported",
                                     version, swapped));
  return cursor.fail(llvm::formatv(
      "unsupported GGUF version {0}; only version {1} is supported", version,
      kVersion));
}

llvm::Expected<GGUFFile> GGUFFile::read(llvm::StringRef path) {
  auto buffer = llvm::MemoryBuffer::getFile(path, /*IsText=*/false,
                                            /*RequiresNullTerminator=*/false);
  if (!buffer)
    return fail(path, "cannot open: " + buffer.getError().message());
  return parse(std::move(*buffer));
}

llvm::Expected<GGUFFile>
GGUFFile::parse(std::unique_ptr<llvm::MemoryBuffer> buffer) {
  GGUFFile file;
  file.path = buffer->getBufferIdentifier().str();
  llvm::ArrayRef<uint8_t> bytes(
      reinterpret_cast<const uint8_t *>(buffer->getBufferStart()),
      buffer->getBufferSize());
  file.buffer = std::move(buffer);
  Cursor cursor(file.path, bytes);

  // Header.
  if (llvm::Error error = cursor.need(kMagic.size(), "the magic"))
    return std::move(error);
  if (std::memcmp(bytes.data(), kMagic.data(), kMagic.size()) != 0) {
    std::string magic;
    for (uint8_t byte : bytes.take_front(kMagic.size()))
      magic += llvm::isPrint(byte) ? char(byte) : '?';
    return cursor.fail("not a GGUF file: the magic is '" + magic +
                       "', expected 'GGUF'");
  }
  cursor.skip(kMagic.size());
  int64_t tensorCount, keyValueCount;
  if (llvm::Error error = cursor.read(file.version, "the version"))
    return std::move(error);
  if (llvm::Error error = checkVersion(cursor, file.version))
    return std::move(error);
  if (llvm::Error error = cursor.read(tensorCount, "the tensor count"))
    return std::move(error);
  if (llvm::Error error = cursor.read(keyValueCount, "the key-value count"))
    return std::move(error);
  if (tensorCount < 0 ||
      uint64_t(tensorCount) > cursor.getRemaining() / kMinTensorInfoBytes)
    return cursor.fail(llvm::formatv("the tensor count {0} is negative or "
                                     "more than the {1} bytes left can hold",
                                     tensorCount, cursor.getRemaining()));
  if (keyValueCount < 0 ||
      uint64_t(keyValueCount) > cursor.getRemaining() / kMinKeyValueBytes)
    return cursor.fail(llvm::formatv("the key-value count {0} is negative or "
                                     "more than the {1} bytes left can hold",
                                     keyValueCount, cursor.getRemaining()));

  // Metadata.
  // Counts are bounded by the file size, but a corrupt one may still ask for
  // far more memory than the file holds.
  constexpr int64_t kMaxReserve = 1 << 16;
  file.metadata.reserve(std::min(keyValueCount, kMaxReserve));
  for (int64_t i = 0; i < keyValueCount; ++i) {
    std::string key;
    if (llvm::Error error =
            cursor.read(key, "the key of metadata pair " + llvm::Twine(i)))
      return std::move(error);
    if (key.empty())
      return cursor.fail(
          llvm::formatv("metadata pair {0} has an empty key", i));
    auto [slot, inserted] = file.metadataIndex.try_emplace(key, i);
    if (!inserted)
      return cursor.fail(llvm::formatv("duplicate key '{0}' (metadata pairs "
                                       "{1} and {2})",
                                       key, slot->second, i));
    uint32_t typeId;
    if (llvm::Error error =
            cursor.read(typeId, "the value type of key '" + key + "'"))
      return std::move(error);
    llvm::Expected<GGUFValue> value = readValue(cursor, typeId, key);
    if (!value)
      return value.takeError();
    file.metadata.push_back({std::move(key), std::move(*value)});
  }
  llvm::Expected<uint32_t> alignment =
      checkAlignment(file.path, file.lookup(kAlignmentKey));
  if (!alignment)
    return alignment.takeError();
  file.alignment = *alignment;

  // Tensor infos.
  file.tensors.reserve(std::min(tensorCount, kMaxReserve));
  for (int64_t i = 0; i < tensorCount; ++i) {
    GGUFTensorInfo info;
    if (llvm::Error error =
            cursor.read(info.name, "the name of tensor " + llvm::Twine(i)))
      return std::move(error);
    const std::string &name = info.name;
    if (name.size() > kGGUFMaxTensorNameLength)
      return cursor.fail(llvm::formatv("tensor {0} name '{1}' is {2} bytes "
                                       "long; ggml allows at most {3}",
                                       i, name, name.size(),
                                       kGGUFMaxTensorNameLength));
    auto [slot, inserted] = file.tensorIndex.try_emplace(name, i);
    if (!inserted)
      return cursor.fail(llvm::formatv("duplicate tensor name '{0}' (tensors "
                                       "{1} and {2})",
                                       name, slot->second, i));
    uint32_t dimCount;
    if (llvm::Error error = cursor.read(
            dimCount, "the dimension count of tensor '" + name + "'"))
      return std::move(error);
    if (dimCount > kGGUFMaxDims)
      return cursor.fail(llvm::formatv("tensor '{0}' has {1} dimensions; ggml "
                                       "allows at most {2}",
                                       name, dimCount, kGGUFMaxDims));
    info.shape.resize(dimCount);
    for (uint32_t d = 0; d < dimCount; ++d)
      if (llvm::Error error =
              cursor.read(info.shape[d], "dimension " + llvm::Twine(d) +
                                             " of tensor '" + name + "'"))
        return std::move(error);
    uint32_t typeId;
    if (llvm::Error error =
            cursor.read(typeId, "the ggml type of tensor '" + name + "'"))
      return std::move(error);
    std::optional<GGMLTypeTraits> traits = numerics::getGGMLTypeTraits(typeId);
    if (!traits)
      return cursor.fail(llvm::formatv("tensor '{0}' has ggml type {1}, which "
                                       "is unknown or not supported",
                                       name, typeId));
    info.type = traits->type;
    llvm::Expected<uint64_t> byteSize =
        getGGUFTensorByteSize(file.path, name, info.shape, info.type);
    if (!byteSize)
      return byteSize.takeError();
    info.byteSize = *byteSize;
    if (llvm::Error error = cursor.read(
            info.offset, "the data offset of tensor '" + name + "'"))
      return std::move(error);
    file.tensors.push_back(std::move(info));
  }

  // Tensor data: each tensor starts where the previous one, padded to the
  // alignment, ends.
  file.dataOffset = cursor.getPosition();
  if (file.tensors.empty())
    return std::move(file);
  file.dataOffset = llvm::alignTo(file.dataOffset, file.alignment);
  if (file.dataOffset > bytes.size())
    return cursor.fail(llvm::formatv("truncated: the data section starts at "
                                     "offset {0}, past the end of the file at "
                                     "{1}",
                                     file.dataOffset, bytes.size()));
  uint64_t dataSize = bytes.size() - file.dataOffset;
  uint64_t expected = 0;
  for (auto [i, info] : llvm::enumerate(file.tensors)) {
    if (info.offset % file.alignment != 0)
      return cursor.fail(llvm::formatv("tensor '{0}' has data offset {1}, not "
                                       "a multiple of the alignment {2}",
                                       info.name, info.offset, file.alignment));
    if (info.offset > dataSize)
      return cursor.fail(llvm::formatv("tensor '{0}' has data offset {1}, "
                                       "past the end of the {2}-byte data "
                                       "section",
                                       info.name, info.offset, dataSize));
    if (info.offset < expected)
      return cursor.fail(llvm::formatv(
          "tensor '{0}' has data offset {1}, expected {2}: it overlaps the "
          "data of tensor '{3}' (tensor data must be stored in order)",
          info.name, info.offset, expected, file.tensors[i - 1].name));
    if (info.offset > expected)
      return cursor.fail(llvm::formatv(
          "tensor '{0}' has data offset {1}, expected {2}: tensor data must "
          "follow each other without gaps",
          info.name, info.offset, expected));
    if (info.byteSize > dataSize - info.offset)
      return cursor.fail(llvm::formatv(
          "truncated: tensor '{0}' needs {1} bytes at offset {2}, but the "
          "file ends at {3}",
          info.name, info.byteSize, file.dataOffset + info.offset,
          bytes.size()));
    // Cannot overflow: offset + byteSize <= file size.
    expected = llvm::alignTo(info.offset + info.byteSize, file.alignment);
  }
  return std::move(file);
}

const GGUFValue *GGUFFile::lookup(llvm::StringRef key) const {
  auto it = metadataIndex.find(key);
  return it == metadataIndex.end() ? nullptr : &metadata[it->second].value;
}

llvm::Error GGUFFile::wrongType(llvm::StringRef key, const GGUFValue *value,
                                llvm::StringRef wanted) const {
  if (!value)
    return fail(path, "key '" + key + "' not found");
  return fail(path, llvm::formatv("key '{0}' holds {1}, expected {2}", key,
                                  value->getTypeName(), wanted));
}

llvm::Expected<llvm::StringRef> GGUFFile::getString(llvm::StringRef key) const {
  const GGUFValue *value = lookup(key);
  if (const std::string *string = value ? value->getIf<std::string>() : nullptr)
    return llvm::StringRef(*string);
  return wrongType(key, value, "str");
}

llvm::Expected<int64_t> GGUFFile::getInteger(llvm::StringRef key) const {
  const GGUFValue *value = lookup(key);
  if (!value)
    return wrongType(key, value, "an integer");
  return std::visit(
      [&](const auto &scalar) -> llvm::Expected<int64_t> {
        using T = std::decay_t<decltype(scalar)>;
        if constexpr (std::is_integral_v<T> && !std::is_same_v<T, bool>) {
          if (std::is_same_v<T, uint64_t> &&
              uint64_t(scalar) > uint64_t(INT64_MAX))
            return fail(path, llvm::formatv("key '{0}' is {1}, above the "
                                            "int64_t range",
                                            key, uint64_t(scalar)));
          return int64_t(scalar);
        } else {
          return wrongType(key, value, "an integer");
        }
      },
      value->getStorage());
}

llvm::Expected<double> GGUFFile::getFloat(llvm::StringRef key) const {
  const GGUFValue *value = lookup(key);
  if (const float *single = value ? value->getIf<float>() : nullptr)
    return *single;
  if (const double *twice = value ? value->getIf<double>() : nullptr)
    return *twice;
  return wrongType(key, value, "f32 or f64");
}

const GGUFTensorInfo *GGUFFile::findTensor(llvm::StringRef name) const {
  auto it = tensorIndex.find(name);
  return it == tensorIndex.end() ? nullptr : &tensors[it->second];
}

llvm::ArrayRef<uint8_t>
GGUFFile::getTensorData(const GGUFTensorInfo &tensor) const {
  const auto *start =
      reinterpret_cast<const uint8_t *>(buffer->getBufferStart());
  return llvm::ArrayRef<uint8_t>(start + dataOffset + tensor.offset,
                                 tensor.byteSize);
}

llvm::Expected<llvm::ArrayRef<uint8_t>>
GGUFFile::getTensorData(llvm::StringRef name) const {
  if (const GGUFTensorInfo *tensor = findTensor(name))
    return getTensorData(*tensor);
  return fail(path, "no tensor named '" + name + "'");
}

//===----------------------------------------------------------------------===//
// Writer
//===----------------------------------------------------------------------===//

// Names the writer in errors raised before there is a path.
static constexpr llvm::StringLiteral kWriterName = "GGUF writer";

void GGUFWriter::set(llvm::StringRef key, GGUFValue value) {
  auto [slot, inserted] = metadataIndex.try_emplace(key, metadata.size());
  if (inserted)
    metadata.push_back({key.str(), std::move(value)});
  else
    metadata[slot->second].value = std::move(value);
}

void GGUFWriter::setAlignment(uint32_t alignment) {
  if (alignment != kGGUFDefaultAlignment || metadataIndex.count(kAlignmentKey))
    setUInt32(kAlignmentKey, alignment);
}

uint32_t GGUFWriter::getAlignment() const {
  auto it = metadataIndex.find(kAlignmentKey);
  if (it != metadataIndex.end())
    if (const uint32_t *alignment =
            metadata[it->second].value.getIf<uint32_t>())
      return *alignment;
  return kGGUFDefaultAlignment;
}

llvm::Error GGUFWriter::addTensor(llvm::StringRef name,
                                  llvm::ArrayRef<int64_t> shape, GGMLType type,
                                  llvm::ArrayRef<uint8_t> bytes) {
  if (name.size() > kGGUFMaxTensorNameLength)
    return fail(kWriterName,
                llvm::formatv("tensor name '{0}' is {1} bytes long; ggml "
                              "allows at most {2}",
                              name, name.size(), kGGUFMaxTensorNameLength));
  if (tensorIndex.count(name))
    return fail(kWriterName,
                llvm::formatv("duplicate tensor name '{0}'", name));
  if (shape.empty())
    return fail(kWriterName,
                llvm::formatv("tensor '{0}' has no dimensions", name));
  llvm::Expected<uint64_t> byteSize =
      getGGUFTensorByteSize(kWriterName, name, shape, type);
  if (!byteSize)
    return byteSize.takeError();
  if (bytes.size() != *byteSize)
    return fail(kWriterName,
                llvm::formatv("tensor '{0}' has {1} bytes, but a {2} tensor "
                              "of shape {3} takes {4}",
                              name, bytes.size(),
                              numerics::getGGMLTypeTraits(type).name,
                              formatShape(shape), *byteSize));
  tensorIndex.try_emplace(name, tensors.size());
  tensors.push_back({GGUFTensorInfo{name.str(), shape.vec(), type,
                                    /*offset=*/0, *byteSize},
                     bytes});
  return llvm::Error::success();
}

llvm::Error GGUFWriter::validate(llvm::StringRef path) const {
  auto tooLong = [&](const std::string &string) {
    return string.size() > kGGUFMaxStringLength;
  };
  for (auto [i, pair] : llvm::enumerate(metadata)) {
    if (pair.key.empty())
      return fail(path, llvm::formatv("metadata pair {0} has an empty key", i));
    if (tooLong(pair.key))
      return fail(path, llvm::formatv("metadata pair {0} has a key above the "
                                      "{1}-byte limit",
                                      i, kGGUFMaxStringLength));
    const GGUFValue &value = pair.value;
    if (value.isArray() && value.getElementCount() > kGGUFMaxArrayLength)
      return fail(path, llvm::formatv("key '{0}' is an array of {1} elements, "
                                      "above the limit {2}",
                                      pair.key, value.getElementCount(),
                                      kGGUFMaxArrayLength));
    const auto *strings = value.getIf<std::vector<std::string>>();
    const std::string *string = value.getIf<std::string>();
    if ((string && tooLong(*string)) ||
        (strings && llvm::any_of(*strings, tooLong)))
      return fail(path, llvm::formatv("key '{0}' holds a string above the "
                                      "{1}-byte limit",
                                      pair.key, kGGUFMaxStringLength));
  }
  auto alignment = metadataIndex.find(kAlignmentKey);
  return checkAlignment(path, alignment == metadataIndex.end()
                                  ? nullptr
                                  : &metadata[alignment->second].value)
      .takeError();
}

template <typename T>
static void writeLittleEndian(llvm::raw_ostream &os, T v) {
  char bytes[sizeof(T)];
  llvm::support::endian::write<T>(bytes, v, llvm::endianness::little);
  os.write(bytes, sizeof(T));
}

static void writeString(llvm::raw_ostream &os, llvm::StringRef string) {
  writeLittleEndian<uint64_t>(os, string.size());
  os << string;
}

/// Writes a scalar or string value without its type.
template <typename T>
static void writeScalar(llvm::raw_ostream &os, const T &value) {
  if constexpr (std::is_same_v<T, std::string>)
    writeString(os, value);
  else if constexpr (std::is_same_v<T, bool>)
    writeLittleEndian<uint8_t>(os, value ? 1 : 0);
  else if constexpr (std::is_same_v<T, float>)
    writeLittleEndian(os, llvm::bit_cast<uint32_t>(value));
  else if constexpr (std::is_same_v<T, double>)
    writeLittleEndian(os, llvm::bit_cast<uint64_t>(value));
  else
    writeLittleEndian(os, value);
}

static void writeValue(llvm::raw_ostream &os, const GGUFValue &value) {
  writeLittleEndian(os, static_cast<uint32_t>(value.getType()));
  std::visit(
      [&](const auto &stored) {
        using T = std::decay_t<decltype(stored)>;
        if constexpr (IsVector<T>::value) {
          using Element = typename T::value_type;
          writeLittleEndian(os, static_cast<uint32_t>(value.getElementType()));
          writeLittleEndian<uint64_t>(os, stored.size());
          for (const Element &element : stored)
            writeScalar<Element>(os, element);
        } else {
          writeScalar(os, stored);
        }
      },
      value.getStorage());
}

void GGUFWriter::writeUnchecked(llvm::raw_ostream &os) const {
  uint64_t start = os.tell();
  uint32_t alignment = getAlignment();
  auto pad = [&] {
    uint64_t written = os.tell() - start;
    os.write_zeros(llvm::alignTo(written, alignment) - written);
  };

  os << kMagic;
  writeLittleEndian(os, kVersion);
  writeLittleEndian<int64_t>(os, tensors.size());
  writeLittleEndian<int64_t>(os, metadata.size());
  for (const GGUFKeyValue &pair : metadata) {
    writeString(os, pair.key);
    writeValue(os, pair.value);
  }
  uint64_t offset = 0;
  for (const PendingTensor &tensor : tensors) {
    writeString(os, tensor.info.name);
    writeLittleEndian<uint32_t>(os, tensor.info.shape.size());
    for (int64_t dim : tensor.info.shape)
      writeLittleEndian(os, dim);
    writeLittleEndian(os, static_cast<uint32_t>(tensor.info.type));
    writeLittleEndian(os, offset);
    offset += llvm::alignTo(tensor.info.byteSize, alignment);
  }
  // llama.cpp pads the data section start and every tensor, the last too.
  pad();
  for (const PendingTensor &tensor : tensors) {
    os.write(reinterpret_cast<const char *>(tensor.bytes.data()),
             tensor.bytes.size());
    pad();
  }
}

llvm::Error GGUFWriter::write(llvm::raw_ostream &os) const {
  if (llvm::Error error = validate(kWriterName))
    return error;
  writeUnchecked(os);
  return llvm::Error::success();
}

llvm::Error GGUFWriter::write(llvm::StringRef path) const {
  if (llvm::Error error = validate(path))
    return error;
  llvm::Expected<llvm::sys::fs::TempFile> temp =
      llvm::sys::fs::TempFile::create(path + ".tmp-%%%%%%");
  if (!temp)
    return fail(path, "cannot create a temporary file: " +
                          llvm::toString(temp.takeError()));
  std::error_code writeError;
  {
    llvm::raw_fd_ostream os(temp->FD, /*shouldClose=*/false);
    writeUnchecked(os);
    os.flush();
    writeError = os.error();
    os.clear_error();
  }
  if (writeError) {
    llvm::consumeError(temp->discard());
    return fail(path, "write failed: " + writeError.message());
  }
  // keep() removes the temporary file itself when the rename fails.
  if (llvm::Error error = temp->keep(path))
    return fail(path, "cannot rename the temporary file into place: " +
                          llvm::toString(std::move(error)));
  return llvm::Error::success();
}
