//===- HuggingFaceCheckpoint.cpp - HF Llama checkpoints -------------------===//
//
// Part of the quant-opt project, under the Apache License v2.0 with LLVM
// Exceptions.
//
//===----------------------------------------------------------------------===//

#include "quant/Import/HuggingFaceCheckpoint.h"
#include "quant/Formats/Safetensors.h"
#include "quant/Numerics/Numerics.h"

#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/JSON.h"
#include "llvm/Support/Path.h"

#include <cmath>
#include <cstring>

using namespace quantopt;

static llvm::Error fail(llvm::StringRef path, const llvm::Twine &what) {
  return llvm::createStringError(
      llvm::formatv("{0}: {1}", path, what.str()).str());
}

/// Reads the Llama hyperparameters of config.json.
static llvm::Error readConfig(llvm::StringRef path, LlamaConfig &config,
                              bool &tied) {
  auto buffer = llvm::MemoryBuffer::getFile(path);
  if (!buffer)
    return fail(path, "cannot open: " + buffer.getError().message());
  auto json = llvm::json::parse((*buffer)->getBuffer());
  if (!json)
    return fail(path, "invalid JSON: " + llvm::toString(json.takeError()));
  const llvm::json::Object *o = json->getAsObject();
  if (!o)
    return fail(path, "expected a JSON object");
  if (auto type = o->getString("model_type");
      type && *type != "llama" && *type != "mistral")
    return fail(path,
                "model_type '" + *type + "' is not a Llama-architecture model");
  auto integer = [&](llvm::StringRef key, int64_t &out,
                     std::optional<int64_t> fallback) -> llvm::Error {
    if (auto v = o->getInteger(key)) {
      out = *v;
    } else if (fallback) {
      out = *fallback;
    } else {
      return fail(path, "missing integer '" + key + "'");
    }
    if (out <= 0 || out > (int64_t(1) << 24))
      return fail(path, llvm::formatv("'{0}' = {1} is out of range", key, out));
    return llvm::Error::success();
  };
  if (auto e = integer("hidden_size", config.dim, std::nullopt))
    return e;
  if (auto e = integer("intermediate_size", config.hiddenDim, std::nullopt))
    return e;
  if (auto e = integer("num_hidden_layers", config.numLayers, std::nullopt))
    return e;
  if (auto e = integer("num_attention_heads", config.numHeads, std::nullopt))
    return e;
  if (auto e =
          integer("num_key_value_heads", config.numKVHeads, config.numHeads))
    return e;
  if (auto e = integer("vocab_size", config.vocabSize, std::nullopt))
    return e;
  if (auto e = integer("max_position_embeddings", config.maxSeqLen, 2048))
    return e;
  // As f32, as the model computes with them; an epsilon of 0 is allowed.
  auto real = [&](llvm::StringRef key, float &out, double fallback,
                  bool allowZero) -> llvm::Error {
    double value = o->getNumber(key).value_or(fallback);
    out = float(value);
    if (!std::isfinite(out) || out < 0 || (out == 0 && !allowZero))
      return fail(path,
                  llvm::formatv("'{0}' = {1:e} is out of range", key, value));
    return llvm::Error::success();
  };
  if (auto e = real("rms_norm_eps", config.rmsNormEps, 1e-6,
                    /*allowZero=*/true))
    return e;
  if (auto e = real("rope_theta", config.ropeTheta, 10000.0,
                    /*allowZero=*/false))
    return e;
  config.ropeAdjacentPairs = false;
  tied = o->getBoolean("tie_word_embeddings").value_or(false);
  if (config.dim % config.numHeads != 0 ||
      config.numHeads % config.numKVHeads != 0)
    return fail(path, "hidden_size must be a multiple of num_attention_heads, "
                      "and that of num_key_value_heads");
  if (auto headDim = o->getInteger("head_dim");
      headDim && *headDim != config.dim / config.numHeads)
    return fail(path, "head_dim different from hidden_size / "
                      "num_attention_heads is not supported");
  return llvm::Error::success();
}

llvm::Expected<std::unique_ptr<HuggingFaceCheckpoint>>
HuggingFaceCheckpoint::open(llvm::StringRef directory) {
  std::unique_ptr<HuggingFaceCheckpoint> ckpt(new HuggingFaceCheckpoint());
  llvm::SmallString<256> configPath(directory), tensorsPath(directory);
  llvm::sys::path::append(configPath, "config.json");
  llvm::sys::path::append(tensorsPath, "model.safetensors");
  if (auto e = readConfig(configPath, ckpt->config, ckpt->tiedEmbeddings))
    return std::move(e);

  llvm::StringRef path = tensorsPath;
  auto buffer = llvm::MemoryBuffer::getFile(path, false, false);
  if (!buffer)
    return fail(path, "cannot open: " + buffer.getError().message());
  ckpt->buffer = std::move(*buffer);
  auto views = parseSafetensors(path, ckpt->buffer->getBuffer());
  if (!views)
    return views.takeError();
  for (const SafetensorsView &view : *views) {
    if (view.dtype != "F32" && view.dtype != "F16" && view.dtype != "BF16")
      return fail(path, "tensor '" + view.name + "' has unsupported dtype " +
                            view.dtype + " (F32, F16 and BF16 are supported)");
    auto entry = std::make_unique<Entry>();
    entry->weight.name = view.name;
    entry->weight.shape = view.shape;
    entry->dtype = view.dtype;
    size_t width = safetensorsElementSize(view.dtype);
    int64_t count = int64_t(view.bytes.size() / width);
    const char *bytes = view.bytes.data();
    // F16 and BF16 matrices stay in the file, as the ggml_matmul storage
    // that GGUF's float matrices use (the embedding table, read by a gather,
    // is widened); aligned F32 tensors are used in place; the rest (norms)
    // are widened to f32.
    if (width == 2 && view.shape.size() == 2 &&
        view.name != "model.embed_tokens.weight") {
      entry->weight.ggmlType = view.dtype == "F16" ? numerics::GGMLType::F16
                                                   : numerics::GGMLType::BF16;
      entry->weight.blocks = llvm::ArrayRef<uint8_t>(
          reinterpret_cast<const uint8_t *>(bytes), view.bytes.size());
    } else if (width == 4 &&
               reinterpret_cast<uintptr_t>(bytes) % alignof(float) == 0) {
      entry->weight.data =
          llvm::ArrayRef<float>(reinterpret_cast<const float *>(bytes), count);
    } else {
      entry->widened.resize(count);
      for (int64_t i = 0; i < count; ++i) {
        if (width == 4) {
          std::memcpy(&entry->widened[i], bytes + 4 * i, 4);
          continue;
        }
        uint16_t bits;
        std::memcpy(&bits, bytes + 2 * i, 2);
        entry->widened[i] = view.dtype == "F16" ? numerics::fromF16Bits(bits)
                                                : numerics::fromBF16Bits(bits);
      }
      entry->weight.data = entry->widened;
    }
    ckpt->entries.push_back(std::move(entry));
  }
  return std::move(ckpt);
}

const LlamaWeight *HuggingFaceCheckpoint::lookup(llvm::StringRef name) const {
  for (const auto &e : entries)
    if (e->weight.name == name)
      return &e->weight;
  return nullptr;
}

std::string HuggingFaceCheckpoint::storedType(llvm::StringRef name) const {
  for (const auto &e : entries)
    if (e->weight.name == name)
      return e->dtype;
  return "";
}

mlir::OwningOpRef<mlir::ModuleOp> quantopt::importHuggingFace(
    mlir::MLIRContext *ctx, const HuggingFaceCheckpoint &ckpt,
    const LlamaImportOptions &options, std::string &error) {
  const LlamaConfig &config = ckpt.getConfig();
  LlamaWeightNames names = LlamaWeightNames::get(
      LlamaNaming::HuggingFace, config.numLayers, ckpt.hasTiedEmbeddings());
  return importLlama(
      ctx, config, names,
      [&](llvm::StringRef name) { return ckpt.lookup(name); }, options, error);
}
