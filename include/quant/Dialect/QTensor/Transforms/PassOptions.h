//===- PassOptions.h - Enumerated options of the qtensor passes -*- C++ -*-===//
//
// Part of the quant-opt project, under the Apache License v2.0 with LLVM
// Exceptions.
//
//===----------------------------------------------------------------------===//
//
// The enumerated options of the quantization passes, typed: the option
// parser accepts exactly the listed spellings (the GGUF names also in any
// case, as llama-quantize does) and rejects others with the list, before
// any pass runs.
//
//===----------------------------------------------------------------------===//

#ifndef QUANT_DIALECT_QTENSOR_TRANSFORMS_PASSOPTIONS_H
#define QUANT_DIALECT_QTENSOR_TRANSFORMS_PASSOPTIONS_H

#include "quant/Numerics/GGMLTypes.h"

#include "mlir/Support/LLVM.h"
#include "llvm/ADT/ArrayRef.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/CommandLine.h"
#include "llvm/Support/raw_ostream.h"

#include <utility>

namespace mlir {
namespace qtensor {

/// --quant-rtn `format`: integer codes (`bits` wide), NF4, FP4 or FP8.
enum class RTNFormat { Int, NF4, FP4, F8E4M3FN, F8E5M2 };

/// Element type of stored scales.
enum class ScaleElementType { F32, F16, BF16 };

/// --quant-smoothquant `activations`: per token (O1, ZeroQuant), per tensor
/// (O2), static per tensor from calibration (O3), or no activation
/// quantization (smoothing only).
enum class ActivationQuantization { PerToken, PerTensor, Static, None };

/// --quant-smoothquant `weights`: one scale per output channel or per
/// tensor.
enum class WeightScaleGranularity { PerChannel, PerTensor };

/// --quant-bnb `format`.
enum class BnbFormat { NF4, FP4 };

/// --quant-gguf `mix`: llama.cpp's file types (`llama_ftype`) whose
/// per-tensor rules are implemented; None: `type` everywhere.
enum class GGUFMix {
  None,
  Q2_K,
  Q3_K_S,
  Q3_K_M,
  Q3_K_L,
  Q4_K_S,
  Q4_K_M,
  Q5_K_S,
  Q5_K_M,
  Q6_K,
  Q4_0,
  Q4_1,
  Q5_0,
  Q5_1,
  Q8_0,
};

/// The spellings of an option enum, in help order. Specialized below.
template <typename EnumT> struct OptionEnumSpellings;

#define QUANT_OPTION_ENUM(EnumT, Insensitive, ...)                             \
  template <> struct OptionEnumSpellings<EnumT> {                              \
    static constexpr bool caseInsensitive = Insensitive;                       \
    static ArrayRef<std::pair<EnumT, llvm::StringLiteral>> get() {             \
      static constexpr std::pair<EnumT, llvm::StringLiteral> values[] = {      \
          __VA_ARGS__};                                                        \
      return values;                                                           \
    }                                                                          \
  };
QUANT_OPTION_ENUM(RTNFormat, false, {RTNFormat::Int, "int"},
                  {RTNFormat::NF4, "nf4"}, {RTNFormat::FP4, "fp4"},
                  {RTNFormat::F8E4M3FN, "f8E4M3FN"},
                  {RTNFormat::F8E5M2, "f8E5M2"})
QUANT_OPTION_ENUM(ScaleElementType, false, {ScaleElementType::F32, "f32"},
                  {ScaleElementType::F16, "f16"},
                  {ScaleElementType::BF16, "bf16"})
QUANT_OPTION_ENUM(ActivationQuantization, false,
                  {ActivationQuantization::PerToken, "per-token"},
                  {ActivationQuantization::PerTensor, "per-tensor"},
                  {ActivationQuantization::Static, "static"},
                  {ActivationQuantization::None, "none"})
QUANT_OPTION_ENUM(WeightScaleGranularity, false,
                  {WeightScaleGranularity::PerChannel, "per-channel"},
                  {WeightScaleGranularity::PerTensor, "per-tensor"})
QUANT_OPTION_ENUM(BnbFormat, false, {BnbFormat::NF4, "nf4"},
                  {BnbFormat::FP4, "fp4"})
QUANT_OPTION_ENUM(GGUFMix, true, {GGUFMix::None, "none"},
                  {GGUFMix::Q2_K, "Q2_K"}, {GGUFMix::Q3_K_S, "Q3_K_S"},
                  {GGUFMix::Q3_K_M, "Q3_K_M"}, {GGUFMix::Q3_K_L, "Q3_K_L"},
                  {GGUFMix::Q4_K_S, "Q4_K_S"}, {GGUFMix::Q4_K_M, "Q4_K_M"},
                  {GGUFMix::Q5_K_S, "Q5_K_S"}, {GGUFMix::Q5_K_M, "Q5_K_M"},
                  {GGUFMix::Q6_K, "Q6_K"}, {GGUFMix::Q4_0, "Q4_0"},
                  {GGUFMix::Q4_1, "Q4_1"}, {GGUFMix::Q5_0, "Q5_0"},
                  {GGUFMix::Q5_1, "Q5_1"}, {GGUFMix::Q8_0, "Q8_0"})
// --quant-gguf `type`: ggml's block types.
QUANT_OPTION_ENUM(quantopt::numerics::GGMLType, true,
                  {quantopt::numerics::GGMLType::Q4_0, "q4_0"},
                  {quantopt::numerics::GGMLType::Q4_1, "q4_1"},
                  {quantopt::numerics::GGMLType::Q5_0, "q5_0"},
                  {quantopt::numerics::GGMLType::Q5_1, "q5_1"},
                  {quantopt::numerics::GGMLType::Q8_0, "q8_0"},
                  {quantopt::numerics::GGMLType::Q2_K, "q2_K"},
                  {quantopt::numerics::GGMLType::Q3_K, "q3_K"},
                  {quantopt::numerics::GGMLType::Q4_K, "q4_K"},
                  {quantopt::numerics::GGMLType::Q5_K, "q5_K"},
                  {quantopt::numerics::GGMLType::Q6_K, "q6_K"})
#undef QUANT_OPTION_ENUM

/// The spelling of `value` in options and printed pipelines.
template <typename EnumT> StringRef stringifyOptionEnum(EnumT value) {
  for (auto [v, name] : OptionEnumSpellings<EnumT>::get())
    if (v == value)
      return name;
  return "";
}

/// The option parser of an enumerated option: the listed spellings, an
/// error naming them otherwise.
template <typename EnumT>
class OptionEnumParser : public llvm::cl::basic_parser<EnumT> {
public:
  using llvm::cl::basic_parser<EnumT>::basic_parser;

  bool parse(llvm::cl::Option &option, StringRef, StringRef arg, EnumT &value) {
    using Spellings = OptionEnumSpellings<EnumT>;
    for (auto [v, name] : Spellings::get())
      if (Spellings::caseInsensitive ? name.equals_insensitive(arg)
                                     : name == arg) {
        value = v;
        return false;
      }
    std::string expected;
    ArrayRef<std::pair<EnumT, llvm::StringLiteral>> all = Spellings::get();
    for (size_t i = 0; i < all.size(); ++i)
      expected += (i == 0                ? ""
                   : i + 1 == all.size() ? " or "
                                         : ", ") +
                  all[i].second.str();
    return option.error("unknown value '" + arg + "'; expected " + expected);
  }

  StringRef getValueName() const override { return "value"; }

  void printOptionDiff(const llvm::cl::Option &option, EnumT value,
                       const llvm::cl::OptionValue<EnumT> &defaultValue,
                       size_t globalWidth) const {
    this->printOptionName(option, globalWidth);
    llvm::outs() << "= " << stringifyOptionEnum(value);
    if (defaultValue.hasValue())
      llvm::outs() << " (default: "
                   << stringifyOptionEnum(defaultValue.getValue()) << ")";
    llvm::outs() << "\n";
  }

  /// How printed pass pipelines spell the value.
  static void print(raw_ostream &os, EnumT value) {
    os << stringifyOptionEnum(value);
  }
};

} // namespace qtensor
} // namespace mlir

namespace llvm {
namespace cl {
#define QUANT_OPTION_PARSER(EnumT)                                             \
  template <>                                                                  \
  class parser<EnumT> : public mlir::qtensor::OptionEnumParser<EnumT> {        \
  public:                                                                      \
    using mlir::qtensor::OptionEnumParser<EnumT>::OptionEnumParser;            \
  };
QUANT_OPTION_PARSER(mlir::qtensor::RTNFormat)
QUANT_OPTION_PARSER(mlir::qtensor::ScaleElementType)
QUANT_OPTION_PARSER(mlir::qtensor::ActivationQuantization)
QUANT_OPTION_PARSER(mlir::qtensor::WeightScaleGranularity)
QUANT_OPTION_PARSER(mlir::qtensor::BnbFormat)
QUANT_OPTION_PARSER(mlir::qtensor::GGUFMix)
QUANT_OPTION_PARSER(quantopt::numerics::GGMLType)
#undef QUANT_OPTION_PARSER
} // namespace cl
} // namespace llvm

#endif // QUANT_DIALECT_QTENSOR_TRANSFORMS_PASSOPTIONS_H
