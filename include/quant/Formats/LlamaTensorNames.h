//===- LlamaTensorNames.h - Llama weight names by checkpoint kind -*- C++ -*-=//
//
// Part of the quant-opt project, under the Apache License v2.0 with LLVM
// Exceptions.
//
//===----------------------------------------------------------------------===//
//
// The one table of Llama weight names: each tensor's role and layer, and
// its name in llama2.c checkpoints (`wq.3`), Hugging Face checkpoints
// (`model.layers.3.self_attn.q_proj.weight`) and GGUF files
// (`blk.3.attn_q.weight`, as llama.cpp's src/llama-arch.cpp names them).
// The importers use it to find the tensors, --quant-gguf to find a weight's
// llama.cpp role, the GGUF exporter to name what it writes.
//
//===----------------------------------------------------------------------===//

#ifndef QUANT_FORMATS_LLAMATENSORNAMES_H
#define QUANT_FORMATS_LLAMATENSORNAMES_H

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace quantopt {

/// What a tensor of a Llama decoder is.
enum class LlamaTensorRole {
  // Outside the layers.
  TokenEmbedding,
  FinalNorm,
  Output,
  // One per layer.
  AttnNorm,
  AttnQ,
  AttnK,
  AttnV,
  AttnOutput,
  FfnNorm,
  FfnGate,
  FfnDown,
  FfnUp,
};

/// The naming conventions of the checkpoint formats.
enum class LlamaNaming { Llama2c, HuggingFace, GGUF };

/// True for the roles with one tensor per layer.
bool isPerLayerRole(LlamaTensorRole role);

/// The name of the tensor of `role` (in layer `layer` for per-layer roles)
/// in `naming`.
std::string getLlamaTensorName(LlamaNaming naming, LlamaTensorRole role,
                               int64_t layer = -1);

/// A tensor name read back: its role, layer (-1 outside the layers) and
/// the convention it is written in.
struct LlamaTensorId {
  LlamaTensorRole role;
  int64_t layer = -1;
  LlamaNaming naming;
};

/// Parses a name of any convention; std::nullopt for other names.
std::optional<LlamaTensorId> parseLlamaTensorName(std::string_view name);

} // namespace quantopt

#endif // QUANT_FORMATS_LLAMATENSORNAMES_H
