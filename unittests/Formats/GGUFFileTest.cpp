//===- GGUFFileTest.cpp - GGUF reader and writer --------------------------===//
//
// Part of the quant-opt project, under the Apache License v2.0 with LLVM
// Exceptions.
//
//===----------------------------------------------------------------------===//
//
// Round trips every metadata value type and several ggml tensor types
// through the GGUF writer and reader, compares the writer with a file
// spelled out byte by byte from the GGUF specification, and feeds the
// reader corrupt files (every truncation of a valid one, bad counts, types,
// shapes, offsets and alignments), each of which must be rejected with a
// specific message. Buffers handed to the reader are exact-size heap copies,
// so that a sanitizer build flags any read past the end.
//
//===----------------------------------------------------------------------===//

#include "quant/Formats/GGUF.h"

#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/SmallString.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/raw_ostream.h"

#include <gtest/gtest.h>

#include <cstring>
#include <memory>

using namespace quantopt;
using numerics::GGMLType;

namespace {

/// Little-endian byte assembly, independent of the writer under test.
struct Bytes {
  std::vector<uint8_t> data;

  Bytes &u8(uint8_t v) {
    data.push_back(v);
    return *this;
  }
  Bytes &u32(uint32_t v) {
    for (int i = 0; i < 4; ++i)
      data.push_back(uint8_t(v >> (8 * i)));
    return *this;
  }
  Bytes &u64(uint64_t v) {
    for (int i = 0; i < 8; ++i)
      data.push_back(uint8_t(v >> (8 * i)));
    return *this;
  }
  Bytes &i64(int64_t v) { return u64(uint64_t(v)); }
  Bytes &raw(llvm::StringRef s) {
    data.insert(data.end(), s.begin(), s.end());
    return *this;
  }
  Bytes &str(llvm::StringRef s) { return u64(s.size()).raw(s); }
  Bytes &zeros(size_t n) {
    data.insert(data.end(), n, 0);
    return *this;
  }
  Bytes &pad(size_t alignment = 32) {
    return zeros((alignment - data.size() % alignment) % alignment);
  }
  /// Header of a version-3 file.
  Bytes &header(int64_t tensors, int64_t keyValues, uint32_t version = 3) {
    return raw("GGUF").u32(version).i64(tensors).i64(keyValues);
  }
  /// A key with a u32 value.
  Bytes &keyU32(llvm::StringRef key, uint32_t value) {
    return str(key).u32(4).u32(value);
  }
  Bytes &tensor(llvm::StringRef name, llvm::ArrayRef<int64_t> shape,
                uint32_t type, uint64_t offset) {
    str(name).u32(shape.size());
    for (int64_t d : shape)
      i64(d);
    return u32(type).u64(offset);
  }
};

/// Parses an exact-size heap copy of `bytes` and returns the error message,
/// or "" when it parsed.
std::string parseError(llvm::ArrayRef<uint8_t> bytes) {
  std::unique_ptr<char[]> copy(new char[bytes.size()]);
  if (!bytes.empty())
    std::memcpy(copy.get(), bytes.data(), bytes.size());
  auto file = GGUFFile::parse(llvm::MemoryBuffer::getMemBuffer(
      llvm::StringRef(copy.get(), bytes.size()), "corrupt.gguf",
      /*RequiresNullTerminator=*/false));
  return file ? std::string() : llvm::toString(file.takeError());
}

#define EXPECT_PARSE_ERROR(bytes, substring)                                   \
  do {                                                                         \
    std::string message = parseError(bytes);                                   \
    EXPECT_NE(message.find(substring), std::string::npos)                      \
        << "expected '" << (substring) << "' in '" << message << "'";          \
    EXPECT_EQ(message.rfind("corrupt.gguf: ", 0), 0u) << message;              \
  } while (false)

/// The message of a failed result, or "" on success.
std::string errorMessage(llvm::Error error) {
  return error ? llvm::toString(std::move(error)) : std::string();
}
template <typename T> std::string errorMessage(llvm::Expected<T> expected) {
  return errorMessage(expected.takeError());
}

#define EXPECT_ERROR(result, substring)                                        \
  do {                                                                         \
    std::string message = errorMessage(result);                                \
    EXPECT_NE(message.find(substring), std::string::npos)                      \
        << "expected '" << (substring) << "' in '" << message << "'";          \
  } while (false)

llvm::Expected<GGUFFile> parseCopy(llvm::ArrayRef<uint8_t> bytes) {
  return GGUFFile::parse(llvm::MemoryBuffer::getMemBufferCopy(
      llvm::StringRef(reinterpret_cast<const char *>(bytes.data()),
                      bytes.size()),
      "memory.gguf"));
}

std::vector<uint8_t> writeToMemory(const GGUFWriter &writer) {
  llvm::SmallString<256> text;
  llvm::raw_svector_ostream os(text);
  llvm::Error error = writer.write(os);
  EXPECT_FALSE(bool(error)) << llvm::toString(std::move(error));
  return std::vector<uint8_t>(text.begin(), text.end());
}

/// The value of `expected`, or a test failure and a default value.
template <typename T> std::decay_t<T> unwrap(llvm::Expected<T> expected) {
  if (!expected) {
    ADD_FAILURE() << llvm::toString(expected.takeError());
    return std::decay_t<T>();
  }
  return *expected;
}

/// Deterministic filler bytes.
std::vector<uint8_t> filler(size_t size, uint8_t seed) {
  std::vector<uint8_t> bytes(size);
  uint32_t state = seed * 2654435761u + 1;
  for (uint8_t &b : bytes) {
    state = state * 1664525u + 1013904223u;
    b = uint8_t(state >> 24);
  }
  return bytes;
}

class GGUFFiles : public ::testing::Test {
protected:
  void SetUp() override {
    ASSERT_FALSE(llvm::sys::fs::createUniqueDirectory("quant-gguf", dir));
  }
  void TearDown() override { llvm::sys::fs::remove_directories(dir); }
  std::string path(llvm::StringRef name) const {
    llvm::SmallString<128> result(dir);
    llvm::sys::path::append(result, name);
    return std::string(result);
  }
  std::vector<std::string> listDir() const {
    std::vector<std::string> names;
    std::error_code ec;
    for (llvm::sys::fs::directory_iterator it(dir, ec), end; !ec && it != end;
         it.increment(ec))
      names.push_back(llvm::sys::path::filename(it->path()).str());
    return names;
  }
  llvm::SmallString<128> dir;
};

//===----------------------------------------------------------------------===//
// Round trip
//===----------------------------------------------------------------------===//

struct TensorCase {
  std::string name;
  std::vector<int64_t> shape;
  GGMLType type;
  size_t byteSize;
};

const std::vector<TensorCase> &tensorCases() {
  static const std::vector<TensorCase> cases = {
      {"token_embd.weight", {256, 3}, GGMLType::Q4_K, 3 * 144},
      {"blk.0.attn_norm.weight", {7}, GGMLType::F32, 7 * 4},
      {"blk.0.ffn_up.weight", {32}, GGMLType::Q8_0, 34},
      {"blk.0.attn_q.weight", {64, 3}, GGMLType::Q4_0, 2 * 3 * 18},
      {"output.weight", {512, 2, 1}, GGMLType::Q6_K, 2 * 2 * 210},
      {"blk.0.attn_k.weight", {5, 3}, GGMLType::F16, 5 * 3 * 2},
      {"blk.0.attn_v.weight", {32, 1, 2, 3}, GGMLType::Q8_0, 6 * 34},
  };
  return cases;
}

/// Every value type, in the order they are set.
std::vector<GGUFKeyValue> allValueTypes() {
  std::vector<GGUFKeyValue> pairs;
  auto add = [&](const char *key, auto value) {
    pairs.push_back({key, GGUFValue(std::move(value))});
  };
  add("general.architecture", std::string("llama"));
  add("test.u8", uint8_t(200));
  add("test.i8", int8_t(-100));
  add("test.u16", uint16_t(60000));
  add("test.i16", int16_t(-30000));
  add("test.u32", uint32_t(4000000000u));
  add("test.i32", int32_t(-2000000000));
  add("test.f32", 3.25f);
  add("test.bool", true);
  add("test.unicode", std::string("Grüße, 世界 🦙"));
  add("test.empty", std::string());
  add("test.u64", uint64_t(1) << 63);
  add("test.i64", -(int64_t(1) << 62));
  add("test.f64", -1.0e300);
  add("tokenizer.ggml.tokens",
      std::vector<std::string>{"<s>", "", "▁the", "日本", "\n"});
  add("tokenizer.ggml.scores", std::vector<float>{0.0f, -1.5f, 2.25f});
  add("tokenizer.ggml.token_type", std::vector<int32_t>{1, 3, -7});
  add("test.array.u8", std::vector<uint8_t>{0, 255});
  add("test.array.i8", std::vector<int8_t>{-128, 127});
  add("test.array.u16", std::vector<uint16_t>{65535});
  add("test.array.i16", std::vector<int16_t>{-32768, 1});
  add("test.array.u32", std::vector<uint32_t>{1, 2, 3});
  add("test.array.bool", std::vector<bool>{true, false, true});
  add("test.array.u64", std::vector<uint64_t>{~uint64_t(0)});
  add("test.array.i64", std::vector<int64_t>{INT64_MIN, INT64_MAX});
  add("test.array.f64", std::vector<double>{0.5, -0.25});
  add("test.array.empty", std::vector<int32_t>{});
  return pairs;
}

class GGUFRoundTrip : public GGUFFiles,
                      public ::testing::WithParamInterface<uint32_t> {};

TEST_P(GGUFRoundTrip, PreservesMetadataTensorsAndOrder) {
  uint32_t alignment = GetParam();
  GGUFWriter writer;
  std::vector<GGUFKeyValue> pairs = allValueTypes();
  for (const GGUFKeyValue &pair : pairs)
    writer.set(pair.key, pair.value);
  writer.setAlignment(alignment);
  if (alignment != kGGUFDefaultAlignment)
    pairs.push_back({"general.alignment", GGUFValue(alignment)});

  std::vector<std::vector<uint8_t>> contents;
  for (const TensorCase &tensor : tensorCases())
    contents.push_back(filler(tensor.byteSize, contents.size()));
  for (auto [tensor, bytes] : llvm::zip(tensorCases(), contents))
    ASSERT_FALSE(
        bool(writer.addTensor(tensor.name, tensor.shape, tensor.type, bytes)));
  std::string file = path("model.gguf");
  ASSERT_FALSE(bool(writer.write(file)));
  EXPECT_EQ(listDir(), std::vector<std::string>{"model.gguf"});

  llvm::Expected<GGUFFile> read = GGUFFile::read(file);
  ASSERT_TRUE(bool(read)) << llvm::toString(read.takeError());
  EXPECT_EQ(read->getVersion(), 3u);
  EXPECT_EQ(read->getAlignment(), alignment);
  EXPECT_EQ(read->getDataOffset() % alignment, 0u);

  ASSERT_EQ(read->getMetadata().size(), pairs.size());
  for (auto [got, want] : llvm::zip(read->getMetadata(), pairs)) {
    EXPECT_EQ(got.key, want.key);
    EXPECT_TRUE(got.value == want.value) << got.key;
    EXPECT_EQ(got.value.getTypeName(), want.value.getTypeName());
  }

  ASSERT_EQ(read->getTensors().size(), tensorCases().size());
  uint64_t expectedOffset = 0;
  for (auto [got, want, bytes] :
       llvm::zip(read->getTensors(), tensorCases(), contents)) {
    EXPECT_EQ(got.name, want.name);
    EXPECT_EQ(got.shape, want.shape);
    EXPECT_EQ(got.type, want.type);
    EXPECT_EQ(got.byteSize, want.byteSize);
    EXPECT_EQ(got.offset, expectedOffset);
    EXPECT_EQ(got.offset % alignment, 0u);
    llvm::ArrayRef<uint8_t> data = read->getTensorData(got);
    EXPECT_EQ(data.vec(), bytes) << got.name;
    expectedOffset += (got.byteSize + alignment - 1) / alignment * alignment;
    EXPECT_EQ(read->findTensor(want.name), &got);
  }
  // llama.cpp pads the last tensor too.
  uint64_t fileSize = 0;
  ASSERT_FALSE(llvm::sys::fs::file_size(file, fileSize));
  EXPECT_EQ(fileSize, read->getDataOffset() + expectedOffset);

  // Writing to a stream gives the same bytes.
  auto buffer = llvm::MemoryBuffer::getFile(file);
  ASSERT_TRUE(bool(buffer));
  std::vector<uint8_t> streamed = writeToMemory(writer);
  EXPECT_EQ(llvm::StringRef(reinterpret_cast<const char *>(streamed.data()),
                            streamed.size()),
            (*buffer)->getBuffer());
}

INSTANTIATE_TEST_SUITE_P(Alignments, GGUFRoundTrip,
                         ::testing::Values(32u, 64u, 4096u));

TEST(GGUFReaderTest, TypedGetters) {
  GGUFWriter writer;
  for (const GGUFKeyValue &pair : allValueTypes())
    writer.set(pair.key, pair.value);
  std::vector<uint8_t> bytes = writeToMemory(writer);
  llvm::Expected<GGUFFile> file = parseCopy(bytes);
  ASSERT_TRUE(bool(file)) << llvm::toString(file.takeError());

  EXPECT_EQ(unwrap(file->getString("general.architecture")), "llama");
  EXPECT_EQ(unwrap(file->getString("test.unicode")), "Grüße, 世界 🦙");
  EXPECT_EQ(unwrap(file->getUInt32("test.u32")), 4000000000u);
  EXPECT_EQ(unwrap(file->getInteger("test.u8")), 200);
  EXPECT_EQ(unwrap(file->getInteger("test.i16")), -30000);
  EXPECT_EQ(unwrap(file->getInteger("test.i64")), -(int64_t(1) << 62));
  EXPECT_EQ(unwrap(file->getFloat("test.f32")), 3.25);
  EXPECT_EQ(unwrap(file->getFloat("test.f64")), -1.0e300);
  EXPECT_EQ(unwrap(file->get<int8_t>("test.i8")), -100);
  EXPECT_TRUE(unwrap(file->getBool("test.bool")));
  EXPECT_EQ(file->getStringArray("tokenizer.ggml.tokens")->at(2), "▁the");
  EXPECT_EQ(unwrap(file->getFloat32Array("tokenizer.ggml.scores")),
            (std::vector<float>{0.0f, -1.5f, 2.25f}));
  EXPECT_EQ(unwrap(file->getInt32Array("tokenizer.ggml.token_type")),
            (std::vector<int32_t>{1, 3, -7}));
  EXPECT_EQ(unwrap(file->getArray<bool>("test.array.bool")),
            (std::vector<bool>{true, false, true}));
  EXPECT_TRUE(file->getInt32Array("test.array.empty")->empty());
  EXPECT_FALSE(file->contains("general.alignment"));
  EXPECT_EQ(file->getAlignment(), 32u);
  EXPECT_TRUE(file->getTensors().empty());

  const GGUFValue *tokens = file->lookup("tokenizer.ggml.tokens");
  ASSERT_TRUE(tokens);
  EXPECT_TRUE(tokens->isArray());
  EXPECT_EQ(tokens->getType(), GGUFValueType::Array);
  EXPECT_EQ(tokens->getElementType(), GGUFValueType::String);
  EXPECT_EQ(tokens->getElementCount(), 5u);
  EXPECT_EQ(tokens->getTypeName(), "array of str");

  EXPECT_ERROR(file->getString("missing.key"),
               "memory.gguf: key 'missing.key' not found");
  EXPECT_ERROR(file->getUInt32("general.architecture"),
               "key 'general.architecture' holds str, expected u32");
  EXPECT_ERROR(file->getUInt32("test.u64"), "holds u64, expected u32");
  EXPECT_ERROR(file->getInteger("test.u64"),
               "key 'test.u64' is 9223372036854775808, above the int64_t");
  EXPECT_ERROR(file->getInteger("test.f32"), "holds f32, expected an integer");
  EXPECT_ERROR(file->getFloat("test.i32"), "holds i32, expected f32 or f64");
  EXPECT_ERROR(file->getStringArray("test.unicode"),
               "holds str, expected array of str");
  EXPECT_ERROR(file->getFloat32Array("test.array.f64"),
               "holds array of f64, expected array of f32");
  EXPECT_ERROR(file->getTensorData("blk.0.attn_q.weight"),
               "no tensor named 'blk.0.attn_q.weight'");
}

TEST(GGUFWriterTest, SettingAKeyAgainKeepsItsPlace) {
  GGUFWriter writer;
  writer.setString("a", "first");
  writer.setUInt32("b", 1);
  writer.setAlignment(32); // The default: not written.
  writer.setInt64("a", -5);
  EXPECT_EQ(writer.getAlignment(), 32u);
  llvm::Expected<GGUFFile> file = parseCopy(writeToMemory(writer));
  ASSERT_TRUE(bool(file)) << llvm::toString(file.takeError());
  ASSERT_EQ(file->getMetadata().size(), 2u);
  EXPECT_EQ(file->getMetadata()[0].key, "a");
  EXPECT_EQ(unwrap(file->get<int64_t>("a")), -5);
  EXPECT_EQ(file->getMetadata()[1].key, "b");

  writer.setAlignment(128);
  writer.setAlignment(32); // Explicitly set now, so it stays.
  file = parseCopy(writeToMemory(writer));
  ASSERT_TRUE(bool(file)) << llvm::toString(file.takeError());
  EXPECT_EQ(unwrap(file->getUInt32("general.alignment")), 32u);
  EXPECT_EQ(file->getMetadata().size(), 3u);
}

TEST(GGUFWriterTest, TensorNameOfSixtyThreeBytesIsAccepted) {
  GGUFWriter writer;
  std::vector<uint8_t> bytes(4);
  ASSERT_FALSE(
      bool(writer.addTensor(std::string(63, 'n'), {1}, GGMLType::F32, bytes)));
  llvm::Expected<GGUFFile> file = parseCopy(writeToMemory(writer));
  ASSERT_TRUE(bool(file)) << llvm::toString(file.takeError());
  EXPECT_EQ(file->getTensors()[0].name.size(), 63u);
}

//===----------------------------------------------------------------------===//
// Golden bytes
//===----------------------------------------------------------------------===//

// One key, general.architecture = "llama", and one F32 tensor "norm" of
// shape [2] holding {1.0, -2.5}, spelled out from the GGUF specification.
const uint8_t kGoldenFile[] = {
    // Magic "GGUF", version 3, tensor_count 1, metadata_kv_count 1.
    'G', 'G', 'U', 'F', 3, 0, 0, 0, //
    1, 0, 0, 0, 0, 0, 0, 0,         //
    1, 0, 0, 0, 0, 0, 0, 0,         //
    // Key: length 20, "general.architecture"; value type 8 (string).
    20, 0, 0, 0, 0, 0, 0, 0, 'g', 'e', 'n', 'e', 'r', 'a', 'l', '.', 'a', 'r',
    'c', 'h', 'i', 't', 'e', 'c', 't', 'u', 'r', 'e', 8, 0, 0, 0,
    // Value: length 5, "llama".
    5, 0, 0, 0, 0, 0, 0, 0, 'l', 'l', 'a', 'm', 'a',
    // Tensor info: name length 4, "norm", n_dims 1, ne[0] 2, type 0 (F32),
    // offset 0.
    4, 0, 0, 0, 0, 0, 0, 0, 'n', 'o', 'r', 'm', 1, 0, 0, 0, //
    2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,                     //
    0, 0, 0, 0, 0, 0, 0, 0,
    // 105 bytes so far: 23 zeros pad the data section to offset 128.
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    // Data: 1.0f = 0x3f800000, -2.5f = 0xc0200000, little-endian.
    0x00, 0x00, 0x80, 0x3f, 0x00, 0x00, 0x20, 0xc0,
    // 24 zeros pad the tensor to the alignment.
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
static_assert(sizeof(kGoldenFile) == 160);

TEST_F(GGUFFiles, WriterMatchesGoldenBytes) {
  GGUFWriter writer;
  writer.setString("general.architecture", "llama");
  const float values[] = {1.0f, -2.5f};
  llvm::ArrayRef<uint8_t> bytes(reinterpret_cast<const uint8_t *>(values),
                                sizeof(values));
  ASSERT_FALSE(bool(writer.addTensor("norm", {2}, GGMLType::F32, bytes)));
  EXPECT_EQ(writeToMemory(writer), std::vector<uint8_t>(std::begin(kGoldenFile),
                                                        std::end(kGoldenFile)));

  std::string file = path("golden.gguf");
  ASSERT_FALSE(bool(writer.write(file)));
  auto written = llvm::MemoryBuffer::getFile(file);
  ASSERT_TRUE(bool(written));
  EXPECT_EQ((*written)->getBuffer(),
            llvm::StringRef(reinterpret_cast<const char *>(kGoldenFile),
                            sizeof(kGoldenFile)));
}

TEST(GGUFReaderTest, ParsesGoldenBytes) {
  EXPECT_EQ(parseError(kGoldenFile), "");
  llvm::Expected<GGUFFile> file = parseCopy(kGoldenFile);
  ASSERT_TRUE(bool(file)) << llvm::toString(file.takeError());
  EXPECT_EQ(unwrap(file->getString("general.architecture")), "llama");
  EXPECT_EQ(file->getDataOffset(), 128u);
  ASSERT_EQ(file->getTensors().size(), 1u);
  const GGUFTensorInfo &norm = file->getTensors()[0];
  EXPECT_EQ(norm.name, "norm");
  EXPECT_EQ(norm.shape, std::vector<int64_t>{2});
  EXPECT_EQ(norm.type, GGMLType::F32);
  EXPECT_EQ(norm.byteSize, 8u);
  EXPECT_EQ(norm.getElementCount(), 2);
  llvm::Expected<llvm::ArrayRef<uint8_t>> data = file->getTensorData("norm");
  ASSERT_TRUE(bool(data));
  float values[2];
  std::memcpy(values, data->data(), sizeof(values));
  EXPECT_EQ(values[0], 1.0f);
  EXPECT_EQ(values[1], -2.5f);
}

TEST(GGUFReaderTest, AcceptsAFileWithoutTensorsOrPadding) {
  Bytes file;
  file.header(0, 1).keyU32("general.alignment", 64);
  llvm::Expected<GGUFFile> parsed = parseCopy(file.data);
  ASSERT_TRUE(bool(parsed)) << llvm::toString(parsed.takeError());
  EXPECT_EQ(parsed->getAlignment(), 64u);
  EXPECT_EQ(parsed->getDataOffset(), file.data.size());
}

TEST(GGUFReaderTest, MissingFile) {
  EXPECT_ERROR(GGUFFile::read("/nonexistent/dir/model.gguf"),
               "/nonexistent/dir/model.gguf: cannot open");
}

//===----------------------------------------------------------------------===//
// Corrupt files
//===----------------------------------------------------------------------===//

TEST(GGUFReaderTest, EveryTruncationIsAnError) {
  GGUFWriter writer;
  writer.setString("general.architecture", "llama");
  writer.setStringArray("tokenizer.ggml.tokens", {"a", "bc", ""});
  writer.setFloat32Array("tokenizer.ggml.scores", {1.0f, 2.0f});
  writer.setBool("flag", false);
  writer.setFloat64("x", 1.5);
  std::vector<uint8_t> first = filler(18, 1), second = filler(4 * 3, 2);
  ASSERT_FALSE(bool(writer.addTensor("q", {32}, GGMLType::Q4_0, first)));
  ASSERT_FALSE(bool(writer.addTensor("f", {3}, GGMLType::F32, second)));
  std::vector<uint8_t> bytes = writeToMemory(writer);
  llvm::Expected<GGUFFile> whole = parseCopy(bytes);
  ASSERT_TRUE(bool(whole)) << llvm::toString(whole.takeError());
  // The padding after the last tensor is optional, as for llama.cpp's mmap
  // loader; everything before its last byte is required.
  const GGUFTensorInfo &last = whole->getTensors().back();
  size_t required = whole->getDataOffset() + last.offset + last.byteSize;
  ASSERT_LT(required, bytes.size());

  for (size_t size = 0; size <= bytes.size(); ++size) {
    std::string message =
        parseError(llvm::ArrayRef<uint8_t>(bytes).take_front(size));
    if (size >= required) {
      EXPECT_EQ(message, "") << "prefix of " << size << " bytes";
      continue;
    }
    bool named = message.find("truncated") != std::string::npos ||
                 message.find("bytes left") != std::string::npos ||
                 message.find("past the end") != std::string::npos;
    EXPECT_TRUE(named) << "prefix of " << size << " bytes: '" << message << "'";
  }
}

TEST(GGUFReaderTest, RejectsBadMagicAndVersions) {
  Bytes magic;
  magic.raw("GGML").u32(3).i64(0).i64(0);
  EXPECT_PARSE_ERROR(magic.data,
                     "not a GGUF file: the magic is 'GGML', expected 'GGUF'");
  Bytes binary;
  binary.u32(0x00000102).u32(3).i64(0).i64(0);
  EXPECT_PARSE_ERROR(binary.data, "the magic is '\?\?\?\?'");
  for (uint32_t version : {0u, 1u, 2u, 4u, 0xffffffffu}) {
    Bytes file;
    file.header(0, 0, version);
    EXPECT_PARSE_ERROR(file.data, "unsupported GGUF version " +
                                      std::to_string(version) +
                                      "; only version 3 is supported");
  }
  Bytes bigEndian;
  bigEndian.header(0, 0, 0x03000000);
  EXPECT_PARSE_ERROR(bigEndian.data,
                     "GGUF version 0x3000000 is version 3 byte-swapped");
}

TEST(GGUFReaderTest, RejectsHugeCounts) {
  Bytes tensors;
  tensors.header(int64_t(1) << 62, 0);
  EXPECT_PARSE_ERROR(tensors.data, "the tensor count 4611686018427387904 is "
                                   "negative or more than the 0 bytes left");
  Bytes negative;
  negative.header(-1, 0);
  EXPECT_PARSE_ERROR(negative.data, "the tensor count -1 is negative");
  Bytes keyValues;
  keyValues.header(0, int64_t(1) << 62).keyU32("a", 1);
  EXPECT_PARSE_ERROR(keyValues.data,
                     "the key-value count 4611686018427387904 is negative or "
                     "more than the 17 bytes left");

  Bytes keyLength;
  keyLength.header(0, 1).u64(uint64_t(1) << 63).u32(4).u32(0);
  EXPECT_PARSE_ERROR(keyLength.data,
                     "the key of metadata pair 0 is a string of "
                     "9223372036854775808 bytes, above the limit 67108864");
  Bytes valueLength;
  valueLength.header(0, 1).str("name").u32(8).u64(uint64_t(1) << 63);
  EXPECT_PARSE_ERROR(valueLength.data, "the value of key 'name' is a string of "
                                       "9223372036854775808 bytes");
  Bytes stringPastEnd;
  stringPastEnd.header(0, 1).str("name").u32(8).u64(100).raw("short");
  EXPECT_PARSE_ERROR(stringPastEnd.data, "truncated: the value of key 'name' "
                                         "needs 100 bytes at offset 48");

  Bytes arrayLength;
  arrayLength.header(0, 1).str("arr").u32(9).u32(4).u64(uint64_t(1) << 62);
  EXPECT_PARSE_ERROR(arrayLength.data, "key 'arr' is an array of "
                                       "4611686018427387904 elements, above "
                                       "the limit 67108864");
  Bytes arrayPastEnd;
  arrayPastEnd.header(0, 1).str("arr").u32(9).u32(8).u64(1000).str("x");
  EXPECT_PARSE_ERROR(arrayPastEnd.data,
                     "truncated: key 'arr' is an array of 1000 str elements, "
                     "more than the 9 bytes left can hold");
  Bytes nameLength;
  nameLength.header(1, 0).u64(~uint64_t(0)).zeros(24);
  EXPECT_PARSE_ERROR(nameLength.data, "the name of tensor 0 is a string of "
                                      "18446744073709551615 bytes");
}

TEST(GGUFReaderTest, RejectsBadKeysAndValueTypes) {
  Bytes unknown;
  unknown.header(0, 1).str("weird").u32(13).u32(0);
  EXPECT_PARSE_ERROR(unknown.data, "key 'weird' has unknown value type 13");
  Bytes unknownElement;
  unknownElement.header(0, 1).str("weird").u32(9).u32(99).u64(0);
  EXPECT_PARSE_ERROR(unknownElement.data,
                     "key 'weird' is an array of unknown value type 99");
  Bytes nested;
  nested.header(0, 1).str("nested").u32(9).u32(9).u64(1).u32(4).u64(0);
  EXPECT_PARSE_ERROR(nested.data, "key 'nested' is an array of arrays");
  Bytes duplicate;
  duplicate.header(0, 3)
      .keyU32("a", 1)
      .keyU32("general.name", 1)
      .keyU32("general.name", 2);
  EXPECT_PARSE_ERROR(duplicate.data,
                     "duplicate key 'general.name' (metadata pairs 1 and 2)");
  Bytes empty;
  empty.header(0, 1).keyU32("", 1);
  EXPECT_PARSE_ERROR(empty.data, "metadata pair 0 has an empty key");
}

TEST(GGUFReaderTest, RejectsBadAlignments) {
  auto withAlignment = [](uint32_t alignment) {
    Bytes file;
    file.header(0, 1).keyU32("general.alignment", alignment);
    return file.data;
  };
  EXPECT_PARSE_ERROR(withAlignment(48),
                     "key 'general.alignment' is 48, not a power of two");
  EXPECT_PARSE_ERROR(withAlignment(0),
                     "key 'general.alignment' is 0, not a power of two");
  EXPECT_PARSE_ERROR(withAlignment(1u << 21),
                     "key 'general.alignment' is 2097152, above the limit");
  Bytes signedAlignment;
  signedAlignment.header(0, 1).str("general.alignment").u32(5).u32(64);
  EXPECT_PARSE_ERROR(signedAlignment.data,
                     "key 'general.alignment' must be a u32, not i32");
  Bytes arrayAlignment;
  arrayAlignment.header(0, 1).str("general.alignment").u32(9).u32(4).u64(0);
  EXPECT_PARSE_ERROR(arrayAlignment.data, "must be a u32, not array of u32");
}

/// One tensor `t` with the given info fields, then its data (if any).
std::vector<uint8_t> oneTensor(llvm::ArrayRef<int64_t> shape, uint32_t type,
                               size_t dataBytes, uint64_t offset = 0) {
  Bytes file;
  file.header(1, 0).tensor("t", shape, type, offset).pad().zeros(dataBytes);
  return file.data;
}

TEST(GGUFReaderTest, RejectsBadTensorInfos) {
  EXPECT_EQ(parseError(oneTensor({4, 2}, 0, 32)), "");
  EXPECT_PARSE_ERROR(oneTensor({4, 2}, 99, 32),
                     "tensor 't' has ggml type 99, which is unknown or not "
                     "supported");
  // Q8_K exists in ggml, but not in GGMLTypes.h.
  EXPECT_PARSE_ERROR(oneTensor({256}, 15, 292), "ggml type 15");
  EXPECT_PARSE_ERROR(oneTensor({1, 1, 1, 1, 1}, 0, 32),
                     "tensor 't' has 5 dimensions; ggml allows at most 4");
  EXPECT_PARSE_ERROR(oneTensor({4, 0}, 0, 32),
                     "tensor 't' dimension 1 is 0; dimensions must be "
                     "positive");
  EXPECT_PARSE_ERROR(oneTensor({-3}, 0, 32), "tensor 't' dimension 0 is -3");
  EXPECT_PARSE_ERROR(oneTensor({int64_t(1) << 32, int64_t(1) << 32}, 0, 32),
                     "more elements than int64_t can count");
  EXPECT_PARSE_ERROR(oneTensor({int64_t(1) << 62, 1}, 0, 32),
                     "has a size in bytes that overflows");
  EXPECT_PARSE_ERROR(oneTensor({33, 2}, 2, 64),
                     "tensor 't' of type Q4_0 has rows of 33 elements, not a "
                     "multiple of the block size 32");
  EXPECT_PARSE_ERROR(oneTensor({128}, 12, 144),
                     "of type Q4_K has rows of 128 elements, not a multiple "
                     "of the block size 256");

  Bytes longName;
  longName.header(1, 0).tensor(std::string(64, 'x'), {1}, 0, 0).pad().zeros(4);
  EXPECT_PARSE_ERROR(longName.data,
                     "tensor 0 name '" + std::string(64, 'x') +
                         "' is 64 bytes long; ggml allows at most 63");
  Bytes duplicate;
  duplicate.header(2, 0)
      .tensor("blk.0.attn_q.weight", {8}, 0, 0)
      .tensor("blk.0.attn_q.weight", {8}, 0, 32)
      .pad()
      .zeros(64);
  EXPECT_PARSE_ERROR(duplicate.data, "duplicate tensor name "
                                     "'blk.0.attn_q.weight' (tensors 0 and "
                                     "1)");
}

TEST(GGUFReaderTest, RejectsBadOffsets) {
  EXPECT_PARSE_ERROR(oneTensor({8}, 0, 64, 16),
                     "tensor 't' has data offset 16, not a multiple of the "
                     "alignment 32");
  EXPECT_PARSE_ERROR(oneTensor({8}, 0, 64, 96),
                     "tensor 't' has data offset 96, past the end of the "
                     "64-byte data section");
  EXPECT_PARSE_ERROR(oneTensor({8}, 0, 64, 32),
                     "tensor 't' has data offset 32, expected 0: tensor data "
                     "must follow each other without gaps");
  EXPECT_PARSE_ERROR(oneTensor({8}, 0, 16),
                     "truncated: tensor 't' needs 32 bytes at offset 64, but "
                     "the file ends at 80");

  auto twoTensors = [](uint64_t first, uint64_t second) {
    Bytes file;
    file.header(2, 0)
        .tensor("a", {8}, 0, first)
        .tensor("b", {8}, 0, second)
        .pad()
        .zeros(64);
    return file.data;
  };
  EXPECT_EQ(parseError(twoTensors(0, 32)), "");
  EXPECT_PARSE_ERROR(twoTensors(0, 0),
                     "tensor 'b' has data offset 0, expected 32: it overlaps "
                     "the data of tensor 'a'");
  EXPECT_PARSE_ERROR(twoTensors(32, 0), "tensor 'a' has data offset 32, "
                                        "expected 0");

  // 24 + 8 + 1 + 24 = 57 bytes of header: the data section would start at 64.
  Bytes noDataSection;
  noDataSection.header(1, 0).tensor("t", {1}, 0, 0);
  EXPECT_PARSE_ERROR(noDataSection.data,
                     "truncated: the data section starts at offset 64, past "
                     "the end of the file at 57");
}

//===----------------------------------------------------------------------===//
// Writer errors
//===----------------------------------------------------------------------===//

TEST_F(GGUFFiles, WriterRejectsBadTensors) {
  GGUFWriter writer;
  std::vector<uint8_t> bytes(34);
  ASSERT_FALSE(bool(writer.addTensor("w", {32}, GGMLType::Q8_0, bytes)));
  EXPECT_ERROR(writer.addTensor("w", {32}, GGMLType::Q8_0, bytes),
               "GGUF writer: duplicate tensor name 'w'");
  EXPECT_ERROR(writer.addTensor("v", {32}, GGMLType::Q8_0,
                                llvm::ArrayRef(bytes).drop_back()),
               "tensor 'v' has 33 bytes, but a Q8_0 tensor of shape [32] "
               "takes 34");
  EXPECT_ERROR(writer.addTensor("v", {16}, GGMLType::Q8_0, bytes),
               "rows of 16 elements, not a multiple of the block size 32");
  EXPECT_ERROR(writer.addTensor("v", {32, 0}, GGMLType::Q8_0, bytes),
               "tensor 'v' dimension 1 is 0");
  EXPECT_ERROR(writer.addTensor("v", {1, 1, 1, 1, 1}, GGMLType::F32, bytes),
               "tensor 'v' has 5 dimensions");
  EXPECT_ERROR(writer.addTensor("v", {}, GGMLType::F32, bytes),
               "tensor 'v' has no dimensions");
  EXPECT_ERROR(
      writer.addTensor(std::string(64, 'v'), {32}, GGMLType::Q8_0, bytes),
      "is 64 bytes long; ggml allows at most 63");

  // The rejected tensors were not added.
  std::string file = path("model.gguf");
  ASSERT_FALSE(bool(writer.write(file)));
  llvm::Expected<GGUFFile> read = GGUFFile::read(file);
  ASSERT_TRUE(bool(read)) << llvm::toString(read.takeError());
  EXPECT_EQ(read->getTensors().size(), 1u);
}

TEST_F(GGUFFiles, FailedWritesLeaveNoFile) {
  std::string file = path("model.gguf");
  std::vector<uint8_t> bytes(8);
  auto expectNoOutput = [&](const GGUFWriter &writer, llvm::StringRef target,
                            llvm::StringRef substring) {
    llvm::Error error = writer.write(target);
    ASSERT_TRUE(bool(error));
    std::string message = llvm::toString(std::move(error));
    EXPECT_NE(message.find(substring), std::string::npos) << message;
    EXPECT_EQ(listDir(), std::vector<std::string>());
  };

  GGUFWriter badAlignment;
  ASSERT_FALSE(bool(badAlignment.addTensor("t", {2}, GGMLType::F32, bytes)));
  badAlignment.setAlignment(48);
  expectNoOutput(badAlignment, file,
                 "model.gguf: key 'general.alignment' is 48, not a power of "
                 "two");

  GGUFWriter signedAlignment;
  signedAlignment.setInt32("general.alignment", 64);
  expectNoOutput(signedAlignment, file,
                 "key 'general.alignment' must be a u32, not i32");

  GGUFWriter emptyKey;
  emptyKey.setBool("", true);
  expectNoOutput(emptyKey, file, "metadata pair 0 has an empty key");

  GGUFWriter good;
  good.setString("general.architecture", "llama");
  expectNoOutput(good, path("missing/model.gguf"),
                 "cannot create a temporary file");
  expectNoOutput(good, dir, "cannot rename the temporary file into place");

  // Overwriting an existing file replaces it whole.
  ASSERT_FALSE(bool(good.write(file)));
  good.setString("general.architecture", "qwen2");
  ASSERT_FALSE(bool(good.write(file)));
  EXPECT_EQ(listDir(), std::vector<std::string>{"model.gguf"});
  llvm::Expected<GGUFFile> read = GGUFFile::read(file);
  ASSERT_TRUE(bool(read)) << llvm::toString(read.takeError());
  EXPECT_EQ(unwrap(read->getString("general.architecture")), "qwen2");
}

} // namespace
