//===- HuggingFaceCheckpoint.h - HF Llama checkpoints -----------*- C++ -*-===//
//
// Part of the quant-opt project, under the Apache License v2.0 with LLVM
// Exceptions.
//
//===----------------------------------------------------------------------===//
//
// Reads a Hugging Face Llama checkpoint directory: `config.json` and
// `model.safetensors` (F32, F16 or BF16 tensors). The safetensors file is
// memory-mapped; F32 tensors are used in place, F16/BF16 ones are widened
// to f32 one tensor at a time. Every offset and size is checked against the
// file before it is read.
//
//===----------------------------------------------------------------------===//

#ifndef QUANT_IMPORT_HUGGINGFACECHECKPOINT_H
#define QUANT_IMPORT_HUGGINGFACECHECKPOINT_H

#include "quant/Import/LlamaImporter.h"

#include "llvm/Support/Error.h"
#include "llvm/Support/MemoryBuffer.h"

#include <memory>
#include <string>
#include <vector>

namespace quantopt {

class HuggingFaceCheckpoint {
public:
  /// Opens `directory`/config.json and `directory`/model.safetensors.
  static llvm::Expected<std::unique_ptr<HuggingFaceCheckpoint>>
  open(llvm::StringRef directory);

  const LlamaConfig &getConfig() const { return config; }
  bool hasTiedEmbeddings() const { return tiedEmbeddings; }
  /// The tensor `name` as f32, or null.
  const LlamaWeight *lookup(llvm::StringRef name) const;
  /// Element type stored in the file for `name` ("F32", "F16", "BF16").
  std::string storedType(llvm::StringRef name) const;

private:
  HuggingFaceCheckpoint() = default;
  LlamaConfig config;
  bool tiedEmbeddings = false;
  std::unique_ptr<llvm::MemoryBuffer> buffer;
  struct Entry {
    LlamaWeight weight;
    std::string dtype;
    std::vector<float> widened; // storage for F16/BF16 tensors
  };
  std::vector<std::unique_ptr<Entry>> entries;
};

/// Imports a Hugging Face Llama checkpoint (rotate-half RoPE, the config's
/// rope_theta and rms_norm_eps, GQA, tied or separate lm_head).
mlir::OwningOpRef<mlir::ModuleOp>
importHuggingFace(mlir::MLIRContext *ctx, const HuggingFaceCheckpoint &ckpt,
                  const LlamaImportOptions &options, std::string &error);

} // namespace quantopt

#endif // QUANT_IMPORT_HUGGINGFACECHECKPOINT_H
