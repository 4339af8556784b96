//===- GGUFExport.cpp - Llama modules as GGUF files -----------------------===//
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

#include "quant/Export/GGUFExport.h"
#include "quant/Dialect/QTensor/IR/QTensorOps.h"
#include "quant/Dialect/QTensor/Utils/WeightMatching.h"
#include "quant/Formats/GGUF.h"
#include "quant/Import/Llama2cTokenizer.h"
#include "quant/Import/LlamaImporter.h"
#include "quant/Numerics/GGUFQuants.h"
#include "quant/Numerics/Numerics.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/IR/BuiltinAttributes.h"
#include "llvm/Support/FormatVariadic.h"

#include <cstring>
#include <deque>
#include <map>

using namespace mlir;
using namespace quantopt;
namespace num = quantopt::numerics;
using num::GGMLType;

//===----------------------------------------------------------------------===//
// Export
//===----------------------------------------------------------------------===//

namespace {
/// The storage of a qtensor.ggml_matmul: [rows, cols] in blocks of `type`.
struct BlockWeight {
  GGMLType type;
  int64_t rows = 0, cols = 0;
  std::vector<uint8_t> bytes;
};

/// The weights a module holds, by name.
struct ModuleWeights {
  llvm::StringMap<qtensor::FloatConstant> floats;
  llvm::StringMap<BlockWeight> blocks;
  /// Weights of products quantized in a way GGUF cannot store: the op name.
  llvm::StringMap<std::string> otherQuantized;
};
} // namespace

static llvm::Expected<ModuleWeights> collectWeights(ModuleOp module) {
  ModuleWeights weights;
  std::string error;
  module.walk([&](Operation *op) {
    if (!error.empty())
      return;
    if (auto constant = dyn_cast<arith::ConstantOp>(op)) {
      // Passes leave replaced weights behind unused.
      auto type = dyn_cast<RankedTensorType>(constant.getType());
      if (!type || !isa<FloatType>(type.getElementType()) ||
          constant->use_empty())
        return;
      if (auto value = qtensor::readFloatConstant(constant.getResult());
          value && !value->name.empty())
        weights.floats.try_emplace(value->name, std::move(*value));
      return;
    }
    if (auto matmul = dyn_cast<qtensor::GGMLMatmulOp>(op)) {
      std::string name = qtensor::getWeightName(op);
      auto bytes = qtensor::readConstantBytes(matmul.getStorage());
      if (!bytes) {
        error = "the ggml blocks of weight '" + name + "' are not a constant";
        return;
      }
      BlockWeight weight;
      weight.type = matmul.getGgmlType();
      weight.rows =
          cast<RankedTensorType>(matmul.getStorage().getType()).getDimSize(0);
      weight.cols =
          cast<RankedTensorType>(matmul.getInput().getType()).getShape().back();
      weight.bytes = std::move(*bytes);
      weights.blocks.try_emplace(name, std::move(weight));
      return;
    }
    if (isa_and_nonnull<qtensor::QTensorDialect>(op->getDialect()) &&
        op->hasAttr(qtensor::kWeightNameAttr))
      weights.otherQuantized.try_emplace(qtensor::getWeightName(op),
                                         op->getName().getStringRef().str());
  });
  if (!error.empty())
    return llvm::createStringError(error);
  // A pass that replaces a float weight (a folded norm weight, say) names
  // the new blob as the old one, which the context uniques to "NAME_1", and
  // printed IR drops the name location: answer to NAME when it is free.
  std::vector<std::pair<std::string, std::string>> aliases;
  for (const auto &entry : weights.floats) {
    llvm::StringRef key = entry.getKey();
    auto [base, suffix] = key.rsplit('_');
    if (!suffix.empty() && llvm::all_of(suffix, llvm::isDigit) &&
        !weights.floats.contains(base))
      aliases.emplace_back(base.str(), key.str());
  }
  for (const auto &[base, key] : aliases) {
    qtensor::FloatConstant value = weights.floats.lookup(key);
    weights.floats.try_emplace(base, std::move(value));
  }
  return std::move(weights);
}

/// Permutes the rows of each head from rotate-half order (i, i + hd/2) to
/// adjacent pairs (2i, 2i+1), as convert_hf_to_gguf.py's `permute` does:
/// new row 2i + j of a head is old row j * hd/2 + i. Works on rows of any
/// byte size, so on ggml block rows as well.
static void permuteRotaryRows(std::vector<uint8_t> &bytes, int64_t rows,
                              int64_t heads) {
  size_t rowBytes = bytes.size() / rows;
  int64_t hd = rows / heads, half = hd / 2;
  std::vector<uint8_t> out(bytes.size());
  for (int64_t h = 0; h < heads; ++h)
    for (int64_t i = 0; i < half; ++i)
      for (int64_t j = 0; j < 2; ++j)
        std::memcpy(out.data() + (h * hd + 2 * i + j) * rowBytes,
                    bytes.data() + (h * hd + j * half + i) * rowBytes,
                    rowBytes);
  bytes = std::move(out);
}

/// llama.cpp's `llama_ftype` for the type most of the matrices' weights
/// have (K-quant mixes are reported as their _M variant).
static uint32_t fileTypeOf(const std::map<GGMLType, int64_t> &elements) {
  GGMLType most = GGMLType::F32;
  int64_t best = -1;
  for (auto [type, count] : elements)
    if (count > best) {
      most = type;
      best = count;
    }
  switch (most) {
  case GGMLType::F32:
    return 0;
  case GGMLType::F16:
    return 1;
  case GGMLType::Q4_0:
    return 2;
  case GGMLType::Q4_1:
    return 3;
  case GGMLType::Q8_0:
    return 7;
  case GGMLType::Q5_0:
    return 8;
  case GGMLType::Q5_1:
    return 9;
  case GGMLType::Q2_K:
    return 10;
  case GGMLType::Q3_K:
    return 12;
  case GGMLType::Q4_K:
    return 15;
  case GGMLType::Q5_K:
    return 17;
  case GGMLType::Q6_K:
    return 18;
  case GGMLType::BF16:
    return 32;
  }
  return 0;
}

/// The vocabulary keys of a llama2.c (SentencePiece) tokenizer.
static void setTokenizer(GGUFWriter &writer,
                         const Llama2cTokenizer &tokenizer) {
  // llama.cpp's token types: 1 normal, 2 unknown, 3 control, 6 byte.
  std::vector<std::string> tokens;
  std::vector<float> scores;
  std::vector<int32_t> types;
  for (int32_t id = 0; id < tokenizer.size(); ++id) {
    llvm::StringRef piece = tokenizer.getPiece(id);
    tokens.push_back(piece.str());
    scores.push_back(tokenizer.getScore(id));
    bool byte =
        piece.size() == 6 && piece.starts_with("<0x") && piece.ends_with(">");
    types.push_back(id == 0                        ? 2
                    : id == Llama2cTokenizer::kBos ? 3
                    : id == Llama2cTokenizer::kEos ? 3
                    : byte                         ? 6
                                                   : 1);
  }
  writer.setString("tokenizer.ggml.model", "llama");
  writer.setStringArray("tokenizer.ggml.tokens", tokens);
  writer.setFloat32Array("tokenizer.ggml.scores", scores);
  writer.setInt32Array("tokenizer.ggml.token_type", types);
  writer.setUInt32("tokenizer.ggml.bos_token_id", Llama2cTokenizer::kBos);
  writer.setUInt32("tokenizer.ggml.eos_token_id", Llama2cTokenizer::kEos);
  writer.setUInt32("tokenizer.ggml.unknown_token_id", 0);
}

llvm::Error quantopt::exportGGUFLlama(ModuleOp module, llvm::StringRef path,
                                      const GGUFExportOptions &options) {
  auto configOr = getLlamaConfigAttr(module);
  if (!configOr)
    return configOr.takeError();
  const LlamaConfig &config = *configOr;
  auto weightsOr = collectWeights(module);
  if (!weightsOr)
    return weightsOr.takeError();
  ModuleWeights &weights = *weightsOr;

  // The module's names: those of the checkpoint it was imported from.
  std::optional<LlamaWeightNames> names;
  for (LlamaNaming naming :
       {LlamaNaming::Llama2c, LlamaNaming::HuggingFace, LlamaNaming::GGUF}) {
    LlamaWeightNames candidate =
        LlamaWeightNames::get(naming, config.numLayers, config.tiedEmbeddings);
    if (weights.floats.contains(candidate.tokenEmbedding)) {
      names = std::move(candidate);
      break;
    }
  }
  if (!names)
    return llvm::createStringError(
        "no float token embedding table (token_embedding, "
        "model.embed_tokens.weight or token_embd.weight)");

  GGUFWriter writer;
  writer.setString("general.architecture", "llama");
  writer.setString("general.name", options.modelName);
  // Placeholders, set once the tensor types are known; keys keep their
  // place when set again.
  writer.setUInt32("general.file_type", 0);
  writer.setUInt32("llama.vocab_size", uint32_t(config.vocabSize));
  writer.setUInt32("llama.context_length", uint32_t(config.maxSeqLen));
  writer.setUInt32("llama.embedding_length", uint32_t(config.dim));
  writer.setUInt32("llama.block_count", uint32_t(config.numLayers));
  writer.setUInt32("llama.feed_forward_length", uint32_t(config.hiddenDim));
  writer.setUInt32("llama.attention.head_count", uint32_t(config.numHeads));
  writer.setUInt32("llama.attention.head_count_kv",
                   uint32_t(config.numKVHeads));
  writer.setUInt32("llama.rope.dimension_count", uint32_t(config.headDim()));
  writer.setFloat32("llama.attention.layer_norm_rms_epsilon",
                    config.rmsNormEps);
  writer.setFloat32("llama.rope.freq_base", config.ropeTheta);
  if (options.tokenizer) {
    if (options.tokenizer->size() != config.vocabSize)
      return llvm::createStringError(
          llvm::formatv("the tokenizer has {0} tokens, the model {1}",
                        options.tokenizer->size(), config.vocabSize));
    setTokenizer(writer, *options.tokenizer);
  }

  // Tensor bytes stay alive until the file is written.
  std::deque<std::vector<uint8_t>> keep;
  std::map<GGMLType, int64_t> matrixElements;
  auto addFloat = [&](llvm::StringRef ggufName, const std::string &name,
                      llvm::ArrayRef<int64_t> shape,
                      int64_t ropeHeads) -> llvm::Error {
    auto it = weights.floats.find(name);
    if (it == weights.floats.end())
      return llvm::createStringError("the module has no weight '" + name + "'");
    const qtensor::FloatConstant &value = it->second;
    if (value.type.getShape() != shape)
      return llvm::createStringError(llvm::formatv(
          "weight '{0}' has shape {1:$[x]}, expected {2:$[x]}", name,
          llvm::make_range(value.type.getShape().begin(),
                           value.type.getShape().end()),
          llvm::make_range(shape.begin(), shape.end())));
    std::vector<uint8_t> &bytes = keep.emplace_back(value.values.size() * 4);
    std::memcpy(bytes.data(), value.values.data(), bytes.size());
    if (ropeHeads)
      permuteRotaryRows(bytes, shape[0], ropeHeads);
    if (shape.size() == 2)
      matrixElements[GGMLType::F32] += shape[0] * shape[1];
    llvm::SmallVector<int64_t> ne(shape.rbegin(), shape.rend());
    return writer.addTensor(ggufName, ne, GGMLType::F32, bytes);
  };
  // A matrix [rows, cols]: ggml blocks when its product is a ggml_matmul.
  auto addMatrix = [&](llvm::StringRef ggufName, const std::string &name,
                       int64_t rows, int64_t cols,
                       int64_t ropeHeads = 0) -> llvm::Error {
    if (auto other = weights.otherQuantized.find(name);
        other != weights.otherQuantized.end())
      return llvm::createStringError(
          "weight '" + name + "' is quantized by " + other->second +
          ", which GGUF cannot store; quantize with --quant-gguf or "
          "export the float model");
    auto it = weights.blocks.find(name);
    if (it == weights.blocks.end())
      return addFloat(ggufName, name, {rows, cols}, ropeHeads);
    BlockWeight &block = it->second;
    if (block.rows != rows || block.cols != cols)
      return llvm::createStringError(
          llvm::formatv("weight '{0}' is {1}x{2} ggml blocks, expected {3}x{4}",
                        name, block.rows, block.cols, rows, cols));
    std::vector<uint8_t> &bytes = keep.emplace_back(block.bytes);
    if (ropeHeads)
      permuteRotaryRows(bytes, rows, ropeHeads);
    matrixElements[block.type] += rows * cols;
    return writer.addTensor(ggufName, {cols, rows}, block.type, bytes);
  };

  // llama2.c / llama.cpp order: adjacent pairs need no permutation.
  int64_t qHeads = config.ropeAdjacentPairs ? 0 : config.numHeads;
  int64_t kHeads = config.ropeAdjacentPairs ? 0 : config.numKVHeads;
  int64_t d = config.dim, kvDim = config.headDim() * config.numKVHeads,
          ff = config.hiddenDim;
  LlamaWeightNames gguf =
      LlamaWeightNames::get(LlamaNaming::GGUF, config.numLayers, false);
  if (auto e = addFloat(gguf.tokenEmbedding, names->tokenEmbedding,
                        {config.vocabSize, d}, 0))
    return e;
  auto addLayer = [&](int64_t l) -> llvm::Error {
    if (auto e = addFloat(gguf.attnNorm[l], names->attnNorm[l], {d}, 0))
      return e;
    if (auto e = addMatrix(gguf.wq[l], names->wq[l], d, d, qHeads))
      return e;
    if (auto e = addMatrix(gguf.wk[l], names->wk[l], kvDim, d, kHeads))
      return e;
    if (auto e = addMatrix(gguf.wv[l], names->wv[l], kvDim, d))
      return e;
    if (auto e = addMatrix(gguf.wo[l], names->wo[l], d, d))
      return e;
    if (auto e = addFloat(gguf.ffnNorm[l], names->ffnNorm[l], {d}, 0))
      return e;
    if (auto e = addMatrix(gguf.w1[l], names->w1[l], ff, d))
      return e;
    if (auto e = addMatrix(gguf.w2[l], names->w2[l], d, ff))
      return e;
    return addMatrix(gguf.w3[l], names->w3[l], ff, d);
  };
  for (int64_t l = 0; l < config.numLayers; ++l)
    if (auto e = addLayer(l))
      return e;
  if (auto e = addFloat(gguf.finalNorm, names->finalNorm, {d}, 0))
    return e;
  // A tied classifier is the embedding table unless it was quantized apart.
  bool writeClassifier = !config.tiedEmbeddings ||
                         weights.blocks.contains(names->classifier) ||
                         weights.otherQuantized.contains(names->classifier);
  if (writeClassifier)
    if (auto e =
            addMatrix(gguf.classifier, names->classifier, config.vocabSize, d))
      return e;

  // The file type --quant-gguf's mix named, else a guess from the types.
  uint32_t fileType = fileTypeOf(matrixElements);
  if (auto attr =
          module->getAttrOfType<IntegerAttr>(qtensor::kGGUFFileTypeAttr))
    fileType = uint32_t(attr.getInt());
  writer.setUInt32("general.file_type", fileType);
  if (llvm::any_of(matrixElements, [](const auto &entry) {
        return entry.first != GGMLType::F32;
      }))
    writer.setUInt32("general.quantization_version", 2);
  return writer.write(path);
}
