//===- LlamaTensorNames.cpp - Llama weight names by checkpoint kind -------===//
//
// Part of the quant-opt project, under the Apache License v2.0 with LLVM
// Exceptions.
//
//===----------------------------------------------------------------------===//

#include "quant/Formats/LlamaTensorNames.h"

#include <charconv>

using namespace quantopt;

namespace {
/// A role's name in each convention: the whole name for tensors outside the
/// layers; for per-layer tensors llama2.c's NAME (`NAME.L`), Hugging
/// Face's SUFFIX (`model.layers.L.SUFFIX.weight`) and GGUF's SUFFIX
/// (`blk.L.SUFFIX.weight`).
struct RoleNames {
  LlamaTensorRole role;
  std::string_view llama2c, huggingFace, gguf;
};
} // namespace

static constexpr RoleNames kRoles[] = {
    {LlamaTensorRole::TokenEmbedding, "token_embedding",
     "model.embed_tokens.weight", "token_embd.weight"},
    {LlamaTensorRole::FinalNorm, "rms_final", "model.norm.weight",
     "output_norm.weight"},
    {LlamaTensorRole::Output, "wcls", "lm_head.weight", "output.weight"},
    {LlamaTensorRole::AttnNorm, "rms_att", "input_layernorm", "attn_norm"},
    {LlamaTensorRole::AttnQ, "wq", "self_attn.q_proj", "attn_q"},
    {LlamaTensorRole::AttnK, "wk", "self_attn.k_proj", "attn_k"},
    {LlamaTensorRole::AttnV, "wv", "self_attn.v_proj", "attn_v"},
    {LlamaTensorRole::AttnOutput, "wo", "self_attn.o_proj", "attn_output"},
    {LlamaTensorRole::FfnNorm, "rms_ffn", "post_attention_layernorm",
     "ffn_norm"},
    {LlamaTensorRole::FfnGate, "w1", "mlp.gate_proj", "ffn_gate"},
    {LlamaTensorRole::FfnDown, "w2", "mlp.down_proj", "ffn_down"},
    {LlamaTensorRole::FfnUp, "w3", "mlp.up_proj", "ffn_up"},
};

static std::string_view nameIn(const RoleNames &r, LlamaNaming naming) {
  switch (naming) {
  case LlamaNaming::Llama2c:
    return r.llama2c;
  case LlamaNaming::HuggingFace:
    return r.huggingFace;
  case LlamaNaming::GGUF:
    return r.gguf;
  }
  return {};
}

bool quantopt::isPerLayerRole(LlamaTensorRole role) {
  return role >= LlamaTensorRole::AttnNorm;
}

std::string quantopt::getLlamaTensorName(LlamaNaming naming,
                                         LlamaTensorRole role, int64_t layer) {
  std::string name(nameIn(kRoles[static_cast<int>(role)], naming));
  if (!isPerLayerRole(role))
    return name;
  std::string l = std::to_string(layer);
  switch (naming) {
  case LlamaNaming::Llama2c:
    return name + "." + l;
  case LlamaNaming::HuggingFace:
    return "model.layers." + l + "." + name + ".weight";
  case LlamaNaming::GGUF:
    return "blk." + l + "." + name + ".weight";
  }
  return name;
}

/// Consumes a decimal layer index at the front of `s`.
static bool consumeLayer(std::string_view &s, int64_t &layer) {
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), layer);
  if (ec != std::errc() || end == s.data() || layer < 0)
    return false;
  s.remove_prefix(end - s.data());
  return true;
}

static bool consume(std::string_view &s, std::string_view prefix) {
  if (s.substr(0, prefix.size()) != prefix)
    return false;
  s.remove_prefix(prefix.size());
  return true;
}

std::optional<LlamaTensorId>
quantopt::parseLlamaTensorName(std::string_view name) {
  for (const RoleNames &r : kRoles)
    if (!isPerLayerRole(r.role))
      for (LlamaNaming n :
           {LlamaNaming::Llama2c, LlamaNaming::HuggingFace, LlamaNaming::GGUF})
        if (name == nameIn(r, n))
          return LlamaTensorId{r.role, -1, n};
  // Hugging Face and GGUF: PREFIX LAYER '.' SUFFIX '.weight'.
  for (LlamaNaming n : {LlamaNaming::HuggingFace, LlamaNaming::GGUF}) {
    std::string_view rest = name;
    int64_t layer;
    if (!consume(rest,
                 n == LlamaNaming::HuggingFace ? "model.layers." : "blk.") ||
        !consumeLayer(rest, layer) || !consume(rest, "."))
      continue;
    for (const RoleNames &r : kRoles)
      if (isPerLayerRole(r.role) && rest.size() > 7 &&
          rest.substr(rest.size() - 7) == ".weight" &&
          rest.substr(0, rest.size() - 7) == nameIn(r, n))
        return LlamaTensorId{r.role, layer, n};
    return std::nullopt;
  }
  // llama2.c: NAME '.' LAYER.
  size_t dot = name.rfind('.');
  if (dot == std::string_view::npos)
    return std::nullopt;
  std::string_view head = name.substr(0, dot), tail = name.substr(dot + 1);
  int64_t layer;
  if (!consumeLayer(tail, layer) || !tail.empty())
    return std::nullopt;
  for (const RoleNames &r : kRoles)
    if (isPerLayerRole(r.role) && head == r.llama2c)
      return LlamaTensorId{r.role, layer, LlamaNaming::Llama2c};
  return std::nullopt;
}
