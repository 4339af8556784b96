//===- LlamaImporter.h - Llama models as linalg-on-tensors ------*- C++ -*-===//
//
// Part of the quant-opt project, under the Apache License v2.0 with LLVM
// Exceptions.
//
//===----------------------------------------------------------------------===//
//
// Emits the forward pass of a Llama-family decoder as `func.func @forward(
// %tokens: tensor<BxSxi32>) -> tensor<BxSxVxf32>` built from linalg.generic,
// tensor, arith and math ops (the form torch-mlir and IREE produce). Every
// weight is an `arith.constant dense_resource<NAME>` whose location is also
// NAME, the checkpoint's tensor name; weight matrices are [out, in] and are
// applied by matmul-shaped linalg.generic ops that --quant-rtn and the later
// quantization passes recognise. Attention is causal, each row of the batch
// an independent sequence starting at position 0.
//
// A matrix given as ggml blocks (GGUF files) is applied by
// `qtensor.ggml_matmul` over an i8 constant of its blocks instead.
//
// The module carries the hyperparameters as its `qtensor.llama` attribute
// (#qtensor.llama, declared and verified by the dialect), which exporters
// read.
//
//===----------------------------------------------------------------------===//

#ifndef QUANT_IMPORT_LLAMAIMPORTER_H
#define QUANT_IMPORT_LLAMAIMPORTER_H

#include "quant/Formats/LlamaTensorNames.h"
#include "quant/Numerics/GGMLTypes.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/OwningOpRef.h"
#include "llvm/ADT/ArrayRef.h"
#include "llvm/ADT/StringRef.h"
#include "llvm/Support/Error.h"

#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace quantopt {

class Llama2cCheckpoint;

/// Hyperparameters of a Llama decoder.
struct LlamaConfig {
  int64_t dim = 0, hiddenDim = 0, numLayers = 0, numHeads = 0, numKVHeads = 0,
          vocabSize = 0, maxSeqLen = 0;
  float rmsNormEps = 1e-5f;
  float ropeTheta = 10000.0f;
  /// true: rotate adjacent pairs (2i, 2i+1), as llama2.c and Meta's code;
  /// false: rotate halves (i, i + head_dim/2), as Hugging Face.
  bool ropeAdjacentPairs = true;
  /// The classifier is the token embedding table. Recorded in
  /// `qtensor.llama`; importLlama takes it from the weight names.
  bool tiedEmbeddings = false;
  int64_t headDim() const { return dim / numHeads; }
};

/// Sets `qtensor.llama` on `module`.
void setLlamaConfigAttr(mlir::ModuleOp module, const LlamaConfig &config);
/// Reads `qtensor.llama`; errors when the module has none.
llvm::Expected<LlamaConfig> getLlamaConfigAttr(mlir::ModuleOp module);

/// A weight given to the importer: its checkpoint name, shape ([out, in] for
/// matrices), and f32 data or ggml blocks that must outlive the module (the
/// module references them without a copy).
struct LlamaWeight {
  std::string name;
  std::vector<int64_t> shape;
  /// The values; may be empty for a matrix given as blocks.
  llvm::ArrayRef<float> data;
  /// Set for a matrix stored as ggml blocks: `blocks` holds shape[0] rows of
  /// numerics::ggmlRowBytes(*ggmlType, shape[1]) bytes. Products with it
  /// become qtensor.ggml_matmul; `data` is used where values are needed
  /// (the embedding gather).
  std::optional<numerics::GGMLType> ggmlType;
  llvm::ArrayRef<uint8_t> blocks;
};

/// Names of the weights, by role. Per-layer names are indexed by layer.
struct LlamaWeightNames {
  std::string tokenEmbedding, finalNorm, classifier;
  std::vector<std::string> attnNorm, wq, wk, wv, wo, ffnNorm, w1, w2, w3;

  /// The names of a checkpoint kind (quant/Formats/LlamaTensorNames.h);
  /// a tied classifier is named as the embedding.
  static LlamaWeightNames get(LlamaNaming naming, int64_t numLayers, bool tied);
};

struct LlamaImportOptions {
  int64_t batch = 1;
  int64_t seqLen = 0; // 0: the model's maximum
  std::string functionName = "forward";
};

/// Builds the module. `lookup` returns the weight of a name (null if
/// absent); errors (missing tensors, wrong shapes) are returned as a string.
mlir::OwningOpRef<mlir::ModuleOp>
importLlama(mlir::MLIRContext *ctx, const LlamaConfig &config,
            const LlamaWeightNames &names,
            const std::function<const LlamaWeight *(llvm::StringRef)> &lookup,
            const LlamaImportOptions &options, std::string &error);

/// Imports a llama2.c checkpoint (adjacent-pair RoPE, theta 10000, eps 1e-5).
mlir::OwningOpRef<mlir::ModuleOp>
importLlama2c(mlir::MLIRContext *ctx, const Llama2cCheckpoint &checkpoint,
              const LlamaImportOptions &options, std::string &error);

} // namespace quantopt

#endif // QUANT_IMPORT_LLAMAIMPORTER_H
