//===- Llama2cCheckpoint.cpp - llama2.c checkpoint reader -----------------===//
//
// Part of the quant-opt project, under the Apache License v2.0 with LLVM
// Exceptions.
//
//===----------------------------------------------------------------------===//

#include "quant/Import/Llama2cCheckpoint.h"

#include "llvm/Support/FormatVariadic.h"

#include <cstring>

using namespace quantopt;

static llvm::Error fail(llvm::StringRef path, const llvm::Twine &message) {
  return llvm::createStringError(
      llvm::formatv("{0}: {1}", path, message.str()).str());
}

llvm::Expected<std::unique_ptr<Llama2cCheckpoint>>
Llama2cCheckpoint::open(llvm::StringRef path) {
  auto buffer = llvm::MemoryBuffer::getFile(path, /*IsText=*/false,
                                            /*RequiresNullTerminator=*/false);
  if (!buffer)
    return fail(path, "cannot open: " + buffer.getError().message());
  std::unique_ptr<Llama2cCheckpoint> ckpt(new Llama2cCheckpoint());
  ckpt->buffer = std::move(*buffer);
  const char *begin = ckpt->buffer->getBufferStart();
  size_t size = ckpt->buffer->getBufferSize();
  if (size < 7 * sizeof(int32_t))
    return fail(path, llvm::formatv("file of {0} bytes is too small for the "
                                    "28-byte llama2.c header",
                                    size));
  int32_t header[7];
  std::memcpy(header, begin, sizeof(header));
  Llama2cConfig &c = ckpt->config;
  c.dim = header[0];
  c.hiddenDim = header[1];
  c.numLayers = header[2];
  c.numHeads = header[3];
  c.numKVHeads = header[4];
  c.sharedClassifier = header[5] > 0;
  c.vocabSize = header[5] < 0 ? -header[5] : header[5];
  c.seqLen = header[6];
  // Plausibility limits keep size arithmetic far from overflow.
  auto inRange = [](int64_t v, int64_t hi) { return v > 0 && v <= hi; };
  if (!inRange(c.dim, 1 << 16) || !inRange(c.hiddenDim, 1 << 18) ||
      !inRange(c.numLayers, 1024) || !inRange(c.numHeads, 1024) ||
      !inRange(c.numKVHeads, 1024) || !inRange(c.vocabSize, 1 << 22) ||
      !inRange(c.seqLen, 1 << 22))
    return fail(
        path, llvm::formatv("implausible header (dim {0}, hidden_dim {1}, "
                            "n_layers {2}, n_heads {3}, n_kv_heads {4}, vocab "
                            "{5}, seq_len {6}); is this a llama2.c .bin file?",
                            c.dim, c.hiddenDim, c.numLayers, c.numHeads,
                            c.numKVHeads, header[5], c.seqLen));
  if (c.dim % c.numHeads != 0 || c.numHeads % c.numKVHeads != 0)
    return fail(path, llvm::formatv("dim {0} must be a multiple of n_heads "
                                    "{1}, and n_heads of n_kv_heads {2}",
                                    c.dim, c.numHeads, c.numKVHeads));
  int64_t dim = c.dim, hidden = c.hiddenDim, layers = c.numLayers;
  int64_t kvDim = dim / c.numHeads * c.numKVHeads;
  int64_t headDim = dim / c.numHeads;

  size_t offset = sizeof(header);
  auto take = [&](llvm::StringRef name,
                  std::vector<int64_t> shape) -> llvm::Error {
    int64_t count = 1;
    for (int64_t d : shape)
      count *= d;
    size_t bytes = size_t(count) * sizeof(float);
    if (offset > size || bytes > size - offset)
      return fail(path, llvm::formatv("truncated: tensor '{0}' needs {1} "
                                      "bytes at offset {2}, but the file has "
                                      "{3}",
                                      name, bytes, offset, size));
    CheckpointTensor t;
    t.name = name.str();
    t.shape = std::move(shape);
    t.data = llvm::ArrayRef<float>(
        reinterpret_cast<const float *>(begin + offset), count);
    offset += bytes;
    ckpt->tensors.push_back(std::move(t));
    return llvm::Error::success();
  };
  auto takeLayers = [&](llvm::StringRef name,
                        std::vector<int64_t> shape) -> llvm::Error {
    for (int64_t l = 0; l < layers; ++l)
      if (llvm::Error err = take((name + "." + llvm::Twine(l)).str(), shape))
        return err;
    return llvm::Error::success();
  };
  if (auto err = take("token_embedding", {c.vocabSize, dim}))
    return std::move(err);
  if (auto err = takeLayers("rms_att", {dim}))
    return std::move(err);
  if (auto err = takeLayers("wq", {dim, dim}))
    return std::move(err);
  if (auto err = takeLayers("wk", {kvDim, dim}))
    return std::move(err);
  if (auto err = takeLayers("wv", {kvDim, dim}))
    return std::move(err);
  if (auto err = takeLayers("wo", {dim, dim}))
    return std::move(err);
  if (auto err = takeLayers("rms_ffn", {dim}))
    return std::move(err);
  if (auto err = takeLayers("w1", {hidden, dim}))
    return std::move(err);
  if (auto err = takeLayers("w2", {dim, hidden}))
    return std::move(err);
  if (auto err = takeLayers("w3", {hidden, dim}))
    return std::move(err);
  if (auto err = take("rms_final", {dim}))
    return std::move(err);
  // Skip the legacy RoPE tables (freq_cis_real/imag, seq_len x head_dim/2).
  size_t ropeBytes = size_t(c.seqLen) * size_t(headDim) * sizeof(float);
  if (!c.sharedClassifier) {
    if (offset > size || ropeBytes > size - offset)
      return fail(path, "truncated: the RoPE tables before the classifier "
                        "are missing");
    offset += ropeBytes;
    if (auto err = take("wcls", {c.vocabSize, dim}))
      return std::move(err);
  }
  return std::move(ckpt);
}

const CheckpointTensor *Llama2cCheckpoint::lookup(llvm::StringRef name) const {
  for (const CheckpointTensor &t : tensors)
    if (t.name == name)
      return &t;
  return nullptr;
}
