//===- Llama2cCheckpoint.h - llama2.c checkpoint reader ---------*- C++ -*-===//
//
// Part of the quant-opt project, under the Apache License v2.0 with LLVM
// Exceptions.
//
//===----------------------------------------------------------------------===//
//
// Reads Karpathy's llama2.c legacy `.bin` checkpoints (version 0): a header
// of 7 int32 (dim, hidden_dim, n_layers, n_heads, n_kv_heads, vocab_size,
// seq_len; a negative vocab_size means a separate classifier) followed by
// f32 tensors. The file is memory-mapped; every tensor is bounds-checked
// against the file size before it is exposed.
//
//===----------------------------------------------------------------------===//

#ifndef QUANT_IMPORT_LLAMA2CCHECKPOINT_H
#define QUANT_IMPORT_LLAMA2CCHECKPOINT_H

#include "llvm/ADT/ArrayRef.h"
#include "llvm/ADT/StringRef.h"
#include "llvm/Support/Error.h"
#include "llvm/Support/MemoryBuffer.h"

#include <memory>
#include <string>
#include <vector>

namespace quantopt {

struct Llama2cConfig {
  int32_t dim = 0, hiddenDim = 0, numLayers = 0, numHeads = 0, numKVHeads = 0,
          vocabSize = 0, seqLen = 0;
  bool sharedClassifier = true;
  int32_t headDim() const { return dim / numHeads; }
};

/// One tensor of the checkpoint: its name (llama2.c's, with the layer index
/// for per-layer tensors, e.g. "wq.0"), shape, and data inside the mapping.
struct CheckpointTensor {
  std::string name;
  std::vector<int64_t> shape;
  llvm::ArrayRef<float> data;
};

class Llama2cCheckpoint {
public:
  /// Maps and validates `path`. Errors name the file and what is wrong.
  static llvm::Expected<std::unique_ptr<Llama2cCheckpoint>>
  open(llvm::StringRef path);

  const Llama2cConfig &getConfig() const { return config; }
  const std::vector<CheckpointTensor> &getTensors() const { return tensors; }
  /// The tensor named `name`, or null.
  const CheckpointTensor *lookup(llvm::StringRef name) const;

private:
  Llama2cCheckpoint() = default;
  std::unique_ptr<llvm::MemoryBuffer> buffer;
  Llama2cConfig config;
  std::vector<CheckpointTensor> tensors;
};

} // namespace quantopt

#endif // QUANT_IMPORT_LLAMA2CCHECKPOINT_H
