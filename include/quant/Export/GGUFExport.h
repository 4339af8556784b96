//===- GGUFExport.h - Llama modules as GGUF files ---------------*- C++ -*-===//
//
// Part of the quant-opt project, under the Apache License v2.0 with LLVM
// Exceptions.
//
//===----------------------------------------------------------------------===//
//
// Writes an imported Llama module as a llama.cpp GGUF version 3 file: the
// module's float constants become F32 tensors and the storage of its
// `qtensor.ggml_matmul` products is written verbatim; products quantized
// otherwise (qtensor.dequant_matmul, ...) are an error, as ggml has no type
// for them. A model imported with rotate-half RoPE (Hugging Face) gets its
// query and key rows permuted to adjacent pairs, as llama.cpp's
// convert_hf_to_gguf.py does. A tied classifier is not written (llama.cpp
// falls back to token_embd.weight), except when it was quantized apart from
// the float embedding table (--quant-gguf): then it is written as
// output.weight, so the file computes what the module computes.
//
//===----------------------------------------------------------------------===//

#ifndef QUANT_EXPORT_GGUFEXPORT_H
#define QUANT_EXPORT_GGUFEXPORT_H

#include "mlir/IR/BuiltinOps.h"
#include "llvm/ADT/StringRef.h"
#include "llvm/Support/Error.h"

#include <string>

namespace quantopt {

class Llama2cTokenizer;

struct GGUFExportOptions {
  /// `general.name`.
  std::string modelName = "model";
  /// When given, its vocabulary becomes the `tokenizer.ggml.*` keys
  /// (llama.cpp needs them to load the file).
  const Llama2cTokenizer *tokenizer = nullptr;
};

/// Writes the Llama module (imported by quant-import, so carrying
/// the Llama configuration attribute) to `path` atomically.
llvm::Error exportGGUFLlama(mlir::ModuleOp module, llvm::StringRef path,
                            const GGUFExportOptions &options);

} // namespace quantopt

#endif // QUANT_EXPORT_GGUFEXPORT_H
