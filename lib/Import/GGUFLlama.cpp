//===- GGUFLlama.cpp - Llama models in GGUF files -------------------------===//
//
// Part of the quant-opt project, under the Apache License v2.0 with LLVM
// Exceptions.
//
//===----------------------------------------------------------------------===//
//
// Key names and tensor names follow llama.cpp (src/llama-arch.cpp,
// gguf-py/gguf/constants.py).
//
//===----------------------------------------------------------------------===//

#include "quant/Import/GGUFLlama.h"
#include "quant/Dialect/QTensor/IR/QTensorDialect.h"
#include "quant/Numerics/GGUFQuants.h"

#include "llvm/Support/FormatVariadic.h"

#include <cmath>

using namespace mlir;
using namespace quantopt;
namespace num = quantopt::numerics;
using num::GGMLType;

static llvm::Error fail(llvm::StringRef path, const llvm::Twine &what) {
  return llvm::createStringError(
      llvm::formatv("{0}: {1}", path, what.str()).str());
}

//===----------------------------------------------------------------------===//
// Import
//===----------------------------------------------------------------------===//

/// Reads the llama.* hyperparameters llama.cpp's loader reads for the llama
/// architecture.
static llvm::Error readConfig(const GGUFFile &file, LlamaConfig &config) {
  llvm::StringRef path = file.getPath();
  auto arch = file.getString("general.architecture");
  if (!arch)
    return arch.takeError();
  if (*arch != "llama")
    return fail(path, "general.architecture is '" + *arch +
                          "'; only 'llama' models can be imported");
  auto integer = [&](llvm::StringRef key, int64_t &out,
                     std::optional<int64_t> fallback) -> llvm::Error {
    if (!file.contains(key) && fallback) {
      out = *fallback;
      return llvm::Error::success();
    }
    auto value = file.getInteger(key);
    if (!value)
      return value.takeError();
    if (*value <= 0 || *value > (int64_t(1) << 24))
      return fail(path,
                  llvm::formatv("'{0}' = {1} is out of range", key, *value));
    out = *value;
    return llvm::Error::success();
  };
  // The epsilon may be 0; the RoPE base must be positive.
  auto real = [&](llvm::StringRef key, float &out,
                  std::optional<float> fallback,
                  bool allowZero) -> llvm::Error {
    if (!file.contains(key) && fallback) {
      out = *fallback;
      return llvm::Error::success();
    }
    auto value = file.getFloat(key);
    if (!value)
      return value.takeError();
    if (!std::isfinite(*value) || *value < 0 || (*value == 0 && !allowZero))
      return fail(path,
                  llvm::formatv("'{0}' = {1:e} is out of range", key, *value));
    out = float(*value);
    return llvm::Error::success();
  };
  if (auto e = integer("llama.embedding_length", config.dim, std::nullopt))
    return e;
  if (auto e =
          integer("llama.feed_forward_length", config.hiddenDim, std::nullopt))
    return e;
  if (auto e = integer("llama.block_count", config.numLayers, std::nullopt))
    return e;
  if (auto e =
          integer("llama.attention.head_count", config.numHeads, std::nullopt))
    return e;
  if (auto e = integer("llama.attention.head_count_kv", config.numKVHeads,
                       config.numHeads))
    return e;
  if (auto e = integer("llama.context_length", config.maxSeqLen, std::nullopt))
    return e;
  if (auto e = real("llama.attention.layer_norm_rms_epsilon", config.rmsNormEps,
                    std::nullopt, /*allowZero=*/true))
    return e;
  if (auto e = real("llama.rope.freq_base", config.ropeTheta, 10000.0f,
                    /*allowZero=*/false))
    return e;
  if (config.dim % config.numHeads != 0 ||
      config.numHeads % config.numKVHeads != 0)
    return fail(path, "llama.embedding_length must be a multiple of "
                      "llama.attention.head_count, and that of "
                      "llama.attention.head_count_kv");
  int64_t ropeDims = 0;
  if (auto e =
          integer("llama.rope.dimension_count", ropeDims, config.headDim()))
    return e;
  if (ropeDims != config.headDim())
    return fail(path, llvm::formatv("llama.rope.dimension_count = {0}: only "
                                    "RoPE over the whole head ({1}) is "
                                    "supported",
                                    ropeDims, config.headDim()));
  // The vocabulary: llama.vocab_size, else the embedding table's rows.
  const GGUFTensorInfo *embedding = file.findTensor("token_embd.weight");
  if (!embedding)
    return fail(path, "missing tensor 'token_embd.weight'");
  if (embedding->shape.size() != 2)
    return fail(path, "tensor 'token_embd.weight' must have 2 dimensions");
  if (auto e =
          integer("llama.vocab_size", config.vocabSize, embedding->shape[1]))
    return e;
  config.ropeAdjacentPairs = true;
  config.tiedEmbeddings = !file.findTensor("output.weight");
  return llvm::Error::success();
}

llvm::Expected<std::unique_ptr<GGUFLlamaModel>>
GGUFLlamaModel::open(llvm::StringRef path) {
  auto file = GGUFFile::read(path);
  if (!file)
    return file.takeError();
  std::unique_ptr<GGUFLlamaModel> model(new GGUFLlamaModel());
  model->file = std::make_unique<GGUFFile>(std::move(*file));
  if (auto e = readConfig(*model->file, model->config))
    return std::move(e);
  // Informational: kept for re-export, ignored when malformed.
  if (model->file->contains("general.file_type")) {
    auto fileType = model->file->getInteger("general.file_type");
    if (fileType && *fileType >= 0 && *fileType <= UINT32_MAX)
      model->fileType = uint32_t(*fileType);
    else if (!fileType)
      llvm::consumeError(fileType.takeError());
  }
  for (const GGUFTensorInfo &info : model->file->getTensors()) {
    auto entry = std::make_unique<Entry>();
    LlamaWeight &weight = entry->weight;
    weight.name = info.name;
    // ggml order (row length first) to [rows, row length].
    weight.shape.assign(info.shape.rbegin(), info.shape.rend());
    llvm::ArrayRef<uint8_t> bytes = model->file->getTensorData(info);
    int64_t count = info.getElementCount();
    int64_t cols = info.shape[0], rows = count / cols;
    // Matrices other than F32 stay in their ggml storage (F16 and BF16
    // too, so that they are written back as they were).
    if (info.type != GGMLType::F32 && weight.shape.size() == 2) {
      weight.ggmlType = info.type;
      weight.blocks = bytes;
    }
    // Values: F32 in place when aligned; other types decoded, except the
    // blocks of matrices other than the embedding table (read as blocks).
    if (info.type == GGMLType::F32 &&
        reinterpret_cast<uintptr_t>(bytes.data()) % alignof(float) == 0) {
      weight.data = llvm::ArrayRef<float>(
          reinterpret_cast<const float *>(bytes.data()), count);
    } else if (!weight.ggmlType || info.name == "token_embd.weight") {
      if (!num::isGGMLQuantSupported(info.type))
        return fail(path, "tensor '" + info.name + "' has type " +
                              getGGMLTypeTraits(info.type).name.data() +
                              ", which cannot be decoded");
      entry->decoded.resize(count);
      std::string error;
      if (!num::dequantizeGGMLRows(info.type, bytes.data(), rows, cols,
                                   entry->decoded.data(), &error))
        return fail(path, "tensor '" + info.name + "': " + error);
      weight.data = entry->decoded;
    }
    model->index[info.name] = model->entries.size();
    model->entries.push_back(std::move(entry));
  }
  return std::move(model);
}

const LlamaWeight *GGUFLlamaModel::lookup(llvm::StringRef name) const {
  auto it = index.find(name);
  return it == index.end() ? nullptr : &entries[it->second]->weight;
}

OwningOpRef<ModuleOp>
quantopt::importGGUFLlama(MLIRContext *ctx, const GGUFLlamaModel &model,
                          const LlamaImportOptions &options,
                          std::string &error) {
  const LlamaConfig &config = model.getConfig();
  LlamaWeightNames names = LlamaWeightNames::get(
      LlamaNaming::GGUF, config.numLayers, config.tiedEmbeddings);
  OwningOpRef<ModuleOp> module = importLlama(
      ctx, config, names,
      [&](llvm::StringRef name) { return model.lookup(name); }, options, error);
  // The file type travels with the module, so re-export writes it back.
  if (module && model.getFileType())
    (*module)->setAttr(
        qtensor::kGGUFFileTypeAttr,
        IntegerAttr::get(IntegerType::get(ctx, 32), *model.getFileType()));
  return module;
}
