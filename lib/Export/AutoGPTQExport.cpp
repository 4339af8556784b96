//===- AutoGPTQExport.cpp - Quantized weights as safetensors --------------===//
//
// Part of the quant-opt project, under the Apache License v2.0 with LLVM
// Exceptions.
//
//===----------------------------------------------------------------------===//

#include "quant/Export/AutoGPTQExport.h"
#include "quant/Dialect/QTensor/IR/QTensorOps.h"
#include "quant/Dialect/QTensor/Utils/WeightMatching.h"
#include "quant/Numerics/Numerics.h"

#include "llvm/Support/FormatVariadic.h"

#include <cstring>

using namespace mlir;
using namespace quantopt;
namespace num = quantopt::numerics;

/// Float values of a constant f32/f16/bf16 tensor.
static std::optional<std::vector<float>> constantFloats(Value v) {
  auto bytes = qtensor::readConstantBytes(v);
  if (!bytes)
    return std::nullopt;
  Type type = cast<ShapedType>(v.getType()).getElementType();
  std::vector<float> out;
  if (type.isF32()) {
    out.resize(bytes->size() / 4);
    std::memcpy(out.data(), bytes->data(), bytes->size());
    return out;
  }
  for (size_t i = 0; i + 1 < bytes->size(); i += 2) {
    uint16_t b;
    std::memcpy(&b, bytes->data() + i, 2);
    out.push_back(type.isF16() ? num::fromF16Bits(b) : num::fromBF16Bits(b));
  }
  return out;
}

/// Integer values of a constant integer tensor (sign-extended).
static std::optional<std::vector<int64_t>> constantInts(Value v) {
  auto bytes = qtensor::readConstantBytes(v);
  if (!bytes)
    return std::nullopt;
  unsigned width = cast<ShapedType>(v.getType()).getElementTypeBitWidth();
  std::vector<int64_t> out;
  for (size_t i = 0; i < bytes->size(); i += width / 8) {
    if (width == 8) {
      out.push_back(int8_t((*bytes)[i]));
    } else if (width == 16) {
      int16_t x;
      std::memcpy(&x, bytes->data() + i, 2);
      out.push_back(x);
    } else {
      int32_t x;
      std::memcpy(&x, bytes->data() + i, 4);
      out.push_back(x);
    }
  }
  return out;
}

llvm::Expected<std::vector<UnpackedWeight>>
quantopt::collectUnpackedWeights(ModuleOp module) {
  std::vector<UnpackedWeight> weights;
  std::string error;
  module->walk([&](qtensor::DequantMatmulOp op) {
    if (!error.empty())
      return WalkResult::interrupt();
    std::string name = qtensor::getWeightName(op);
    if (name.empty())
      name = "matmul_" + std::to_string(weights.size());
    qtensor::LayoutAttr layout = op.getLayout();
    SmallVector<int64_t> shape = op.getWeightShape();
    if (shape.size() != 2 || !layout.isInteger() || layout.isSignedInteger() ||
        layout.hasFlatBlocks(2)) {
      error = "weight '" + name +
              "': only [N, K] weights with unsigned integer codes can be "
              "exported";
      return WalkResult::interrupt();
    }
    UnpackedWeight w;
    w.name = name;
    w.rows = shape[0];
    w.cols = shape[1];
    w.bits = layout.getBitWidth();
    auto storage = qtensor::readConstantBytes(op.getStorage());
    auto scales = constantFloats(op.getScales());
    std::optional<std::vector<int64_t>> zeros;
    if (op.getZeroPoints() &&
        isa<IntegerType>(
            cast<ShapedType>(op.getZeroPoints().getType()).getElementType()))
      zeros = constantInts(op.getZeroPoints());
    std::optional<std::vector<int64_t>> gidx;
    if (op.getGroupIndex())
      gidx = constantInts(op.getGroupIndex());
    if (!storage || !scales || !zeros || (op.getGroupIndex() && !gidx)) {
      error = "weight '" + name +
              "': storage, scales, integer zero-points and group index must "
              "be constants";
      return WalkResult::interrupt();
    }
    if (layout.getBlock()[0] > 1) {
      error = "weight '" + name + "': scales must be per output channel";
      return WalkResult::interrupt();
    }
    w.groups = cast<ShapedType>(op.getScales().getType()).getDimSize(1);
    int64_t groupSize =
        layout.getBlock()[1] == 0 ? w.cols : layout.getBlock()[1];
    num::PackOrder order = layout.getPacking();
    int64_t rowBytes = num::packedSize(w.cols, w.bits, order);
    w.codes.resize(w.rows * w.cols);
    for (int64_t r = 0; r < w.rows; ++r)
      num::unpackCodes(storage->data() + r * rowBytes, w.cols, w.bits, order,
                       w.codes.data() + r * w.cols);
    w.scales = std::move(*scales);
    w.zeros = std::move(*zeros);
    w.groupIndex.resize(w.cols);
    for (int64_t c = 0; c < w.cols; ++c)
      w.groupIndex[c] = gidx ? int32_t((*gidx)[c]) : int32_t(c / groupSize);
    weights.push_back(std::move(w));
    return WalkResult::advance();
  });
  if (!error.empty())
    return llvm::createStringError(error);
  return weights;
}

template <typename T>
static SafetensorsTensor tensorOf(const std::vector<T> &values,
                                  std::vector<int64_t> shape,
                                  const char *dtype) {
  SafetensorsTensor t{dtype, std::move(shape), {}};
  t.bytes.resize(values.size() * sizeof(T));
  std::memcpy(t.bytes.data(), values.data(), t.bytes.size());
  return t;
}

/// Packs `values` (each < 2^bits) LSB-first into 32-bit words.
static void packWords(const std::vector<uint32_t> &values, unsigned bits,
                      uint32_t *words) {
  for (size_t i = 0; i < values.size(); ++i) {
    uint64_t bit = uint64_t(i) * bits;
    uint64_t word = bit / 32;
    unsigned shift = bit % 32;
    words[word] |= values[i] << shift;
    if (shift + bits > 32)
      words[word + 1] |= values[i] >> (32 - shift);
  }
}

llvm::Error quantopt::addAutoGPTQTensors(const UnpackedWeight &w,
                                         llvm::StringRef prefix,
                                         SafetensorsFile &out) {
  int64_t n = w.rows, k = w.cols, groups = w.groups;
  unsigned bits = w.bits;
  if ((k * bits) % 32 != 0 || (n * bits) % 32 != 0)
    return llvm::createStringError(
        llvm::formatv("weight '{0}' ({1}x{2}, {3} bits): AutoGPTQ packing "
                      "needs in_features*bits and out_features*bits to be "
                      "multiples of 32",
                      w.name, n, k, bits)
            .str());
  // qweight [K*bits/32, N]: column n is the code stream of output n.
  int64_t kWords = k * bits / 32;
  std::vector<uint32_t> column(k), words(kWords);
  std::vector<int32_t> qweight(kWords * n, 0);
  for (int64_t r = 0; r < n; ++r) {
    for (int64_t c = 0; c < k; ++c)
      column[c] = w.codes[r * k + c];
    std::fill(words.begin(), words.end(), 0u);
    packWords(column, bits, words.data());
    for (int64_t i = 0; i < kWords; ++i)
      qweight[i * n + r] = int32_t(words[i]);
  }
  // qzeros [G, N*bits/32]: zero - 1 (format v1), packed along N.
  int64_t nWords = n * bits / 32;
  uint32_t mask = (1u << bits) - 1;
  std::vector<int32_t> qzeros(groups * nWords, 0);
  std::vector<uint32_t> row(n), zw(nWords);
  for (int64_t g = 0; g < groups; ++g) {
    for (int64_t r = 0; r < n; ++r)
      row[r] = uint32_t(w.zeros[r * groups + g] - 1) & mask;
    std::fill(zw.begin(), zw.end(), 0u);
    packWords(row, bits, zw.data());
    for (int64_t i = 0; i < nWords; ++i)
      qzeros[g * nWords + i] = int32_t(zw[i]);
  }
  std::vector<uint16_t> scalesF16(groups * n);
  for (int64_t g = 0; g < groups; ++g)
    for (int64_t r = 0; r < n; ++r)
      scalesF16[g * n + r] = num::toF16Bits(w.scales[r * groups + g]);
  out[(prefix + ".qweight").str()] = tensorOf(qweight, {kWords, n}, "I32");
  out[(prefix + ".qzeros").str()] = tensorOf(qzeros, {groups, nWords}, "I32");
  out[(prefix + ".scales").str()] = tensorOf(scalesF16, {groups, n}, "F16");
  out[(prefix + ".g_idx").str()] = tensorOf(w.groupIndex, {k}, "I32");
  return llvm::Error::success();
}

void quantopt::addUnpackedTensors(const UnpackedWeight &w,
                                  llvm::StringRef prefix,
                                  SafetensorsFile &out) {
  out[(prefix + ".codes").str()] = tensorOf(w.codes, {w.rows, w.cols}, "U8");
  out[(prefix + ".scales").str()] =
      tensorOf(w.scales, {w.rows, w.groups}, "F32");
  std::vector<float> zeros(w.zeros.begin(), w.zeros.end());
  out[(prefix + ".zeros").str()] = tensorOf(zeros, {w.rows, w.groups}, "F32");
  out[(prefix + ".g_idx").str()] = tensorOf(w.groupIndex, {w.cols}, "I32");
}

llvm::Error quantopt::exportQuantizedWeights(ModuleOp module,
                                             llvm::StringRef path,
                                             WeightExportFormat format) {
  auto weights = collectUnpackedWeights(module);
  if (!weights)
    return weights.takeError();
  if (weights->empty())
    return llvm::createStringError(
        "no qtensor.dequant_matmul with constant weights to export");
  SafetensorsFile out;
  for (const UnpackedWeight &w : *weights) {
    llvm::StringRef prefix(w.name);
    prefix.consume_back(".weight");
    if (format == WeightExportFormat::Unpacked)
      addUnpackedTensors(w, prefix, out);
    else if (llvm::Error err = addAutoGPTQTensors(w, prefix, out))
      return err;
  }
  std::map<std::string, std::string> metadata{{"format", "pt"},
                                              {"quant_method", "gptq"},
                                              {"checkpoint_format", "gptq"}};
  if (format == WeightExportFormat::Unpacked)
    metadata = {{"format", "quant-opt-unpacked"}};
  return writeSafetensors(path, out, metadata);
}
