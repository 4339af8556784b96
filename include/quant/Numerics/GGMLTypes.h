//===- GGMLTypes.h - ggml tensor types and their block sizes ----*- C++ -*-===//
//
// Part of the quant-opt project, under the Apache License v2.0 with LLVM
// Exceptions.
//
//===----------------------------------------------------------------------===//
//
// The ggml tensor types that GGUF files store, with the numeric ids of
// ggml.h (they appear in GGUF tensor infos) and the size of one block.
//
//===----------------------------------------------------------------------===//

#ifndef QUANT_NUMERICS_GGMLTYPES_H
#define QUANT_NUMERICS_GGMLTYPES_H

#include <cstdint>
#include <optional>
#include <string_view>

namespace quantopt {
namespace numerics {

/// ggml type ids (`enum ggml_type`); the gaps are retired Q4_2/Q4_3 and
/// types this project does not handle. The qtensor dialect's
/// `#qtensor.ggml_type` takes every type but F32 (a ggml product's storage
/// is blocks or 16-bit floats).
enum class GGMLType : uint32_t {
  F32 = 0,
  F16 = 1,
  Q4_0 = 2,
  Q4_1 = 3,
  Q5_0 = 6,
  Q5_1 = 7,
  Q8_0 = 8,
  Q2_K = 10,
  Q3_K = 11,
  Q4_K = 12,
  Q5_K = 13,
  Q6_K = 14,
  BF16 = 30,
};

/// Elements per block and bytes per block of a type, its name as llama.cpp
/// shows it to users ("Q4_K") and as ggml and the IR spell it ("q4_K").
struct GGMLTypeTraits {
  GGMLType type;
  std::string_view name;
  std::string_view ggmlName;
  int64_t blockElements;
  int64_t blockBytes;
};

/// Traits of a known type id, or std::nullopt.
inline std::optional<GGMLTypeTraits> getGGMLTypeTraits(uint32_t id) {
  static constexpr GGMLTypeTraits table[] = {
      {GGMLType::F32, "F32", "f32", 1, 4},
      {GGMLType::F16, "F16", "f16", 1, 2},
      {GGMLType::Q4_0, "Q4_0", "q4_0", 32, 2 + 16},
      {GGMLType::Q4_1, "Q4_1", "q4_1", 32, 2 + 2 + 16},
      {GGMLType::Q5_0, "Q5_0", "q5_0", 32, 2 + 4 + 16},
      {GGMLType::Q5_1, "Q5_1", "q5_1", 32, 2 + 2 + 4 + 16},
      {GGMLType::Q8_0, "Q8_0", "q8_0", 32, 2 + 32},
      {GGMLType::Q2_K, "Q2_K", "q2_K", 256, 16 + 64 + 2 + 2},
      {GGMLType::Q3_K, "Q3_K", "q3_K", 256, 32 + 64 + 12 + 2},
      {GGMLType::Q4_K, "Q4_K", "q4_K", 256, 2 + 2 + 12 + 128},
      {GGMLType::Q5_K, "Q5_K", "q5_K", 256, 2 + 2 + 12 + 32 + 128},
      {GGMLType::Q6_K, "Q6_K", "q6_K", 256, 128 + 64 + 16 + 2},
      {GGMLType::BF16, "BF16", "bf16", 1, 2},
  };
  for (const GGMLTypeTraits &traits : table)
    if (static_cast<uint32_t>(traits.type) == id)
      return traits;
  return std::nullopt;
}

inline GGMLTypeTraits getGGMLTypeTraits(GGMLType type) {
  return *getGGMLTypeTraits(static_cast<uint32_t>(type));
}

/// Traits of a type named as llama.cpp names it ("Q4_K"; any case), or
/// std::nullopt.
inline std::optional<GGMLTypeTraits>
getGGMLTypeTraitsByName(std::string_view name) {
  auto upper = [](char c) { return c >= 'a' && c <= 'z' ? char(c - 32) : c; };
  for (uint32_t id = 0; id <= 30; ++id) {
    std::optional<GGMLTypeTraits> traits = getGGMLTypeTraits(id);
    if (!traits || traits->name.size() != name.size())
      continue;
    bool same = true;
    for (size_t i = 0; i < name.size(); ++i)
      same &= upper(name[i]) == traits->name[i];
    if (same)
      return traits;
  }
  return std::nullopt;
}

/// ggml's name of a type ("q4_K"), the IR's spelling.
inline std::string_view stringifyGGMLType(GGMLType type) {
  return getGGMLTypeTraits(type).ggmlName;
}

/// The type whose ggml name is exactly `name`, or std::nullopt.
inline std::optional<GGMLType> symbolizeGGMLType(std::string_view name) {
  for (uint32_t id = 0; id <= 30; ++id)
    if (std::optional<GGMLTypeTraits> traits = getGGMLTypeTraits(id);
        traits && traits->ggmlName == name)
      return traits->type;
  return std::nullopt;
}

} // namespace numerics
} // namespace quantopt

#endif // QUANT_NUMERICS_GGMLTYPES_H
