//===- GGUFLlama.h - Llama models in GGUF files -----------------*- C++ -*-===//
//
// Part of the quant-opt project, under the Apache License v2.0 with LLVM
// Exceptions.
//
//===----------------------------------------------------------------------===//
//
// Llama models as llama.cpp stores them in GGUF version 3 files
// (`general.architecture` "llama", tensors `token_embd.weight`,
// `blk.N.attn_q.weight`, ..., adjacent-pair RoPE).
//
// Import: F32 tensors are used in place, F16/BF16 ones widened to f32, and
// quantized matrices become `qtensor.ggml_matmul` over i8 constants of their
// blocks, referenced in the mapped file without a copy (a quantized token
// embedding table is also decoded to f32 for the gather).
//
// The exporter is quant/Export/GGUFExport.h.
//
//===----------------------------------------------------------------------===//

#ifndef QUANT_IMPORT_GGUFLLAMA_H
#define QUANT_IMPORT_GGUFLLAMA_H

#include "quant/Formats/GGUF.h"
#include "quant/Import/LlamaImporter.h"

#include "llvm/ADT/StringMap.h"
#include "llvm/Support/Error.h"

#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace quantopt {

/// A Llama model in a memory-mapped GGUF file.
class GGUFLlamaModel {
public:
  /// Reads and checks the hyperparameters and tensor types of `path`. Errors
  /// name the file and the key or tensor.
  static llvm::Expected<std::unique_ptr<GGUFLlamaModel>>
  open(llvm::StringRef path);

  const LlamaConfig &getConfig() const { return config; }
  llvm::StringRef getPath() const { return file->getPath(); }
  /// The tensor `name` (GGUF name), or null.
  const LlamaWeight *lookup(llvm::StringRef name) const;
  /// `general.file_type` (llama.cpp's `llama_ftype`), when the file has an
  /// integer one.
  std::optional<uint32_t> getFileType() const { return fileType; }

private:
  GGUFLlamaModel() = default;
  std::unique_ptr<GGUFFile> file;
  LlamaConfig config;
  std::optional<uint32_t> fileType;
  struct Entry {
    LlamaWeight weight;
    std::vector<float> decoded; // F16/BF16/quantized data read as values
  };
  std::vector<std::unique_ptr<Entry>> entries;
  llvm::StringMap<size_t> index;
};

/// Imports a GGUF Llama model; `error` gets missing tensors and bad shapes.
mlir::OwningOpRef<mlir::ModuleOp>
importGGUFLlama(mlir::MLIRContext *ctx, const GGUFLlamaModel &model,
                const LlamaImportOptions &options, std::string &error);

} // namespace quantopt

#endif // QUANT_IMPORT_GGUFLLAMA_H
