//===- ElementFormat.h - Code formats and packing orders --------*- C++ -*-===//
//
// Part of the quant-opt project, under the Apache License v2.0 with LLVM
// Exceptions.
//
//===----------------------------------------------------------------------===//
//
// The one definition of the element formats and packing orders of quantized
// tensors. The qtensor dialect uses these enums as the parameters of
// #qtensor.layout (its ODS declares them with this namespace), so the
// numerics library, the passes and the IR name the same values.
//
//===----------------------------------------------------------------------===//

#ifndef QUANT_NUMERICS_ELEMENTFORMAT_H
#define QUANT_NUMERICS_ELEMENTFORMAT_H

#include <cstdint>
#include <optional>
#include <string_view>

namespace quantopt {
namespace numerics {

/// The value set and encoding of one quantized code; the enumerator names
/// are the IR's spelling.
/// * siN / uiN (N = 2..8): two's-complement signed and unsigned integers;
/// * nf4, fp4: 4-bit indices into bitsandbytes' NormalFloat4 and FP4 tables;
/// * f8E4M3FN, f8E5M2: OCP FP8 bit patterns;
/// * dynamic8: an 8-bit index into bitsandbytes' signed dynamic map
///   (Bitsandbytes.h dynamicMap8bit()).
enum class ElementFormat : uint32_t {
  si2 = 0,
  si3 = 1,
  si4 = 2,
  si5 = 3,
  si6 = 4,
  si7 = 5,
  si8 = 6,
  ui2 = 7,
  ui3 = 8,
  ui4 = 9,
  ui5 = 10,
  ui6 = 11,
  ui7 = 12,
  ui8 = 13,
  nf4 = 14,
  fp4 = 15,
  f8E4M3FN = 16,
  f8E5M2 = 17,
  dynamic8 = 18,
};

/// How sub-byte codes are laid out in storage bytes: `lsb_first` packs any
/// width as a little-endian bit stream; `msb_first` is defined for 2- and
/// 4-bit codes only (the first code in the high bits of the byte).
enum class PackOrder : uint32_t { none = 0, lsb_first = 1, msb_first = 2 };

std::string_view stringifyElementFormat(ElementFormat format);
std::optional<ElementFormat> symbolizeElementFormat(std::string_view name);
std::string_view stringifyPackOrder(PackOrder order);
std::optional<PackOrder> symbolizePackOrder(std::string_view name);

/// Bits of one code.
unsigned getBitWidth(ElementFormat format);
/// True for siN and uiN.
bool isIntegerFormat(ElementFormat format);
/// True for siN.
bool isSignedIntegerFormat(ElementFormat format);
/// True for the two FP8 formats.
bool isF8Format(ElementFormat format);
/// Smallest and largest code of an integer format.
int32_t getMinCode(ElementFormat format);
int32_t getMaxCode(ElementFormat format);
/// siN or uiN for 2 <= bits <= 8.
ElementFormat getIntegerFormat(unsigned bits, bool isSigned);

} // namespace numerics
} // namespace quantopt

#endif // QUANT_NUMERICS_ELEMENTFORMAT_H
