//===- GGUF.h - Read and write GGUF model files -----------------*- C++ -*-===//
//
// Part of the quant-opt project, under the Apache License v2.0 with LLVM
// Exceptions.
//
//===----------------------------------------------------------------------===//
//
// GGUF version 3, the container of llama.cpp: a little-endian header (magic
// "GGUF", version, tensor count, key-value count), typed metadata key-value
// pairs, tensor infos (name, ggml-order shape, ggml type, data offset), then
// the tensor data, every tensor starting at a multiple of the alignment
// (`general.alignment`, 32 by default).
//
// The reader accepts what llama.cpp's gguf.cpp accepts (except GGUF version
// 2, ggml types GGMLTypes.h does not know, and zero-sized dimensions) and
// rejects malformed files with an error naming the file, the key or tensor,
// and the problem. The writer produces files that the reader and llama.cpp
// accept.
//
//===----------------------------------------------------------------------===//

#ifndef QUANT_FORMATS_GGUF_H
#define QUANT_FORMATS_GGUF_H

#include "quant/Numerics/GGMLTypes.h"

#include "llvm/ADT/ArrayRef.h"
#include "llvm/ADT/StringMap.h"
#include "llvm/ADT/StringRef.h"
#include "llvm/Support/Error.h"
#include "llvm/Support/MemoryBuffer.h"

#include <cstdint>
#include <memory>
#include <string>
#include <type_traits>
#include <variant>
#include <vector>

namespace llvm {
class raw_ostream;
} // namespace llvm

namespace quantopt {

/// Value type ids as stored in GGUF files (`enum gguf_type`).
enum class GGUFValueType : uint32_t {
  UInt8 = 0,
  Int8 = 1,
  UInt16 = 2,
  Int16 = 3,
  UInt32 = 4,
  Int32 = 5,
  Float32 = 6,
  Bool = 7,
  String = 8,
  Array = 9,
  UInt64 = 10,
  Int64 = 11,
  Float64 = 12,
};

/// llama.cpp's short name of a value type: "u8", "f32", "str", "arr", ...
llvm::StringRef getGGUFValueTypeName(GGUFValueType type);

/// The default `general.alignment`, and the limits llama.cpp enforces.
inline constexpr uint32_t kGGUFDefaultAlignment = 32;
inline constexpr uint32_t kGGUFMaxAlignment = 1u << 20;
inline constexpr uint64_t kGGUFMaxStringLength = 64u << 20;
inline constexpr uint64_t kGGUFMaxArrayLength = 64u << 20;
/// Tensor names hold at most this many bytes (ggml's GGML_MAX_NAME - 1).
inline constexpr size_t kGGUFMaxTensorNameLength = 63;
inline constexpr size_t kGGUFMaxDims = 4;

/// The C++ types of metadata values: scalars in GGUF type-id order (without
/// Array), then arrays of them.
using GGUFValueStorage = std::variant<
    uint8_t, int8_t, uint16_t, int16_t, uint32_t, int32_t, float, bool,
    std::string, uint64_t, int64_t, double, std::vector<uint8_t>,
    std::vector<int8_t>, std::vector<uint16_t>, std::vector<int16_t>,
    std::vector<uint32_t>, std::vector<int32_t>, std::vector<float>,
    std::vector<bool>, std::vector<std::string>, std::vector<uint64_t>,
    std::vector<int64_t>, std::vector<double>>;

namespace detail {
template <typename T, typename Variant> struct IsGGUFAlternative;
template <typename T, typename... Ts>
struct IsGGUFAlternative<T, std::variant<Ts...>>
    : std::disjunction<std::is_same<T, Ts>...> {};
} // namespace detail

/// True for the C++ types a GGUFValue can hold.
template <typename T>
inline constexpr bool isGGUFValueType =
    detail::IsGGUFAlternative<T, GGUFValueStorage>::value;

/// One metadata value: a scalar, a string, or an array of either. Nested
/// arrays are not supported (llama.cpp rejects them).
class GGUFValue {
public:
  // Explicit and exact, so that "text" does not silently become a bool.
  template <typename T,
            typename = std::enable_if_t<isGGUFValueType<std::decay_t<T>>>>
  explicit GGUFValue(T &&value) : storage(std::forward<T>(value)) {}

  /// Array for arrays, else the scalar or string type.
  GGUFValueType getType() const;
  /// The type of the elements of an array; getType() otherwise.
  GGUFValueType getElementType() const;
  bool isArray() const { return storage.index() >= kArrayIndex; }
  /// Elements of an array; 1 for a scalar or string.
  size_t getElementCount() const;
  /// "u32", "str", "array of f32", ...
  std::string getTypeName() const;

  template <typename T> const T *getIf() const {
    return std::get_if<T>(&storage);
  }
  const GGUFValueStorage &getStorage() const { return storage; }

  /// The type name of the values that hold a T, as getTypeName() spells it.
  template <typename T> static std::string getTypeNameOf() {
    return describeIndex(GGUFValueStorage(std::in_place_type<T>).index());
  }

  friend bool operator==(const GGUFValue &a, const GGUFValue &b) {
    return a.storage == b.storage;
  }
  friend bool operator!=(const GGUFValue &a, const GGUFValue &b) {
    return !(a == b);
  }

private:
  static std::string describeIndex(size_t index);

  static constexpr size_t kArrayIndex = 12;
  GGUFValueStorage storage;
};

/// One metadata key-value pair.
struct GGUFKeyValue {
  std::string key;
  GGUFValue value;
};

/// One tensor of a GGUF file.
struct GGUFTensorInfo {
  std::string name;
  /// ggml order: shape[0] (ne[0]) is the fastest-varying, the row length.
  std::vector<int64_t> shape;
  numerics::GGMLType type;
  /// Byte offset from the start of the data section.
  uint64_t offset = 0;
  uint64_t byteSize = 0;

  int64_t getElementCount() const;
};

/// Bytes of a tensor of `type` and ggml-order `shape`, or an error (from
/// file `path`, about `tensorName`) when a dimension is not positive, the row
/// length is not a multiple of the block size, or the size overflows.
llvm::Expected<uint64_t> getGGUFTensorByteSize(llvm::StringRef path,
                                               llvm::StringRef tensorName,
                                               llvm::ArrayRef<int64_t> shape,
                                               numerics::GGMLType type);

/// A parsed GGUF file; tensor data are views into the mapped file.
class GGUFFile {
public:
  /// Maps `path` and parses and checks it.
  static llvm::Expected<GGUFFile> read(llvm::StringRef path);
  /// Parses `buffer`, naming it by its buffer identifier in errors.
  static llvm::Expected<GGUFFile>
  parse(std::unique_ptr<llvm::MemoryBuffer> buffer);

  llvm::StringRef getPath() const { return path; }
  uint32_t getVersion() const { return version; }
  uint32_t getAlignment() const { return alignment; }
  /// File offset of the data section.
  uint64_t getDataOffset() const { return dataOffset; }

  /// Metadata in file order.
  llvm::ArrayRef<GGUFKeyValue> getMetadata() const { return metadata; }
  /// The value of `key`, or null.
  const GGUFValue *lookup(llvm::StringRef key) const;
  bool contains(llvm::StringRef key) const { return lookup(key) != nullptr; }

  /// The value of `key` if it holds exactly a T (a scalar type), else an
  /// error naming the key and the types.
  template <typename T> llvm::Expected<T> get(llvm::StringRef key) const {
    static_assert(isGGUFValueType<T> && std::is_scalar_v<T>,
                  "use getString or getArray");
    const GGUFValue *value = lookup(key);
    if (const T *scalar = value ? value->getIf<T>() : nullptr)
      return *scalar;
    return wrongType(key, value, GGUFValue::getTypeNameOf<T>());
  }
  /// The array value of `key` if its elements are exactly T, else an error.
  template <typename T>
  llvm::Expected<const std::vector<T> &> getArray(llvm::StringRef key) const {
    const GGUFValue *value = lookup(key);
    if (const auto *array = value ? value->getIf<std::vector<T>>() : nullptr)
      return *array;
    return wrongType(key, value, GGUFValue::getTypeNameOf<std::vector<T>>());
  }

  llvm::Expected<llvm::StringRef> getString(llvm::StringRef key) const;
  llvm::Expected<uint32_t> getUInt32(llvm::StringRef key) const {
    return get<uint32_t>(key);
  }
  /// Any integer type, as long as the value fits in int64_t.
  llvm::Expected<int64_t> getInteger(llvm::StringRef key) const;
  /// f32 or f64.
  llvm::Expected<double> getFloat(llvm::StringRef key) const;
  llvm::Expected<bool> getBool(llvm::StringRef key) const {
    return get<bool>(key);
  }
  llvm::Expected<const std::vector<std::string> &>
  getStringArray(llvm::StringRef key) const {
    return getArray<std::string>(key);
  }
  llvm::Expected<const std::vector<float> &>
  getFloat32Array(llvm::StringRef key) const {
    return getArray<float>(key);
  }
  llvm::Expected<const std::vector<int32_t> &>
  getInt32Array(llvm::StringRef key) const {
    return getArray<int32_t>(key);
  }

  /// Tensors in file order.
  llvm::ArrayRef<GGUFTensorInfo> getTensors() const { return tensors; }
  /// The tensor called `name`, or null.
  const GGUFTensorInfo *findTensor(llvm::StringRef name) const;
  /// The bytes of `tensor` (one of getTensors()) in the mapped file.
  llvm::ArrayRef<uint8_t> getTensorData(const GGUFTensorInfo &tensor) const;
  /// The bytes of the tensor called `name`, or an error if there is none.
  llvm::Expected<llvm::ArrayRef<uint8_t>>
  getTensorData(llvm::StringRef name) const;

private:
  GGUFFile() = default;
  llvm::Error wrongType(llvm::StringRef key, const GGUFValue *value,
                        llvm::StringRef wanted) const;

  std::unique_ptr<llvm::MemoryBuffer> buffer;
  std::string path;
  uint32_t version = 3;
  uint32_t alignment = kGGUFDefaultAlignment;
  uint64_t dataOffset = 0;
  std::vector<GGUFKeyValue> metadata;
  llvm::StringMap<size_t> metadataIndex;
  std::vector<GGUFTensorInfo> tensors;
  llvm::StringMap<size_t> tensorIndex;
};

/// Accumulates metadata and tensors, in insertion order, and writes a GGUF
/// version 3 file.
class GGUFWriter {
public:
  /// Setting a key again replaces its value in place.
  void set(llvm::StringRef key, GGUFValue value);
  void setUInt8(llvm::StringRef key, uint8_t v) { set(key, GGUFValue(v)); }
  void setInt8(llvm::StringRef key, int8_t v) { set(key, GGUFValue(v)); }
  void setUInt16(llvm::StringRef key, uint16_t v) { set(key, GGUFValue(v)); }
  void setInt16(llvm::StringRef key, int16_t v) { set(key, GGUFValue(v)); }
  void setUInt32(llvm::StringRef key, uint32_t v) { set(key, GGUFValue(v)); }
  void setInt32(llvm::StringRef key, int32_t v) { set(key, GGUFValue(v)); }
  void setUInt64(llvm::StringRef key, uint64_t v) { set(key, GGUFValue(v)); }
  void setInt64(llvm::StringRef key, int64_t v) { set(key, GGUFValue(v)); }
  void setFloat32(llvm::StringRef key, float v) { set(key, GGUFValue(v)); }
  void setFloat64(llvm::StringRef key, double v) { set(key, GGUFValue(v)); }
  void setBool(llvm::StringRef key, bool v) { set(key, GGUFValue(v)); }
  void setString(llvm::StringRef key, llvm::StringRef v) {
    set(key, GGUFValue(v.str()));
  }
  void setStringArray(llvm::StringRef key, llvm::ArrayRef<std::string> v) {
    set(key, GGUFValue(v.vec()));
  }
  void setFloat32Array(llvm::StringRef key, llvm::ArrayRef<float> v) {
    set(key, GGUFValue(v.vec()));
  }
  void setInt32Array(llvm::StringRef key, llvm::ArrayRef<int32_t> v) {
    set(key, GGUFValue(v.vec()));
  }

  /// Sets `general.alignment`; left out of the file while it is the default
  /// 32 and was never set. write() rejects non-powers of two.
  void setAlignment(uint32_t alignment);
  /// `general.alignment` if it is a u32, else the default.
  uint32_t getAlignment() const;

  /// Adds a tensor of ggml-order `shape` (1 to 4 positive dimensions) whose
  /// `bytes` must match the type and shape and stay alive until write().
  /// Errors: a duplicate or too long name, a bad shape, a size mismatch.
  llvm::Error addTensor(llvm::StringRef name, llvm::ArrayRef<int64_t> shape,
                        numerics::GGMLType type, llvm::ArrayRef<uint8_t> bytes);

  /// Checks the metadata (non-empty keys, a valid `general.alignment`,
  /// string and array lengths llama.cpp accepts), then writes the file.
  llvm::Error write(llvm::raw_ostream &os) const;
  /// As above, into `path` atomically: the bytes go to a temporary file in
  /// the same directory, renamed to `path` once complete; on error no file
  /// is left behind.
  llvm::Error write(llvm::StringRef path) const;

private:
  struct PendingTensor {
    GGUFTensorInfo info;
    llvm::ArrayRef<uint8_t> bytes;
  };
  llvm::Error validate(llvm::StringRef path) const;
  void writeUnchecked(llvm::raw_ostream &os) const;

  std::vector<GGUFKeyValue> metadata;
  llvm::StringMap<size_t> metadataIndex;
  std::vector<PendingTensor> tensors;
  llvm::StringMap<size_t> tensorIndex;
};

} // namespace quantopt

#endif // QUANT_FORMATS_GGUF_H
