//===- QTensorAttrs.cpp - qtensor attributes ------------------------------===//
//
// Part of the quant-opt project, under the Apache License v2.0 with LLVM
// Exceptions.
//
//===----------------------------------------------------------------------===//

#include "quant/Dialect/QTensor/IR/QTensorAttrs.h"
#include "quant/Dialect/QTensor/IR/QTensorDialect.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/DialectImplementation.h"
#include "llvm/ADT/TypeSwitch.h"

#include <cmath>

using namespace mlir;
using namespace mlir::qtensor;

#define GET_ATTRDEF_CLASSES
#include "quant/Dialect/QTensor/IR/QTensorAttrs.cpp.inc"

void QTensorDialect::registerAttributes() {
  addAttributes<
#define GET_ATTRDEF_LIST
#include "quant/Dialect/QTensor/IR/QTensorAttrs.cpp.inc"
      >();
}

//===----------------------------------------------------------------------===//
// LayoutAttr
//===----------------------------------------------------------------------===//

Attribute LayoutAttr::parse(AsmParser &parser, Type) {
  SMLoc formatLoc = parser.getCurrentLocation();
  std::string formatName;
  if (parser.parseLess() || parser.parseKeywordOrString(&formatName))
    return {};
  std::optional<ElementFormat> format =
      quantopt::numerics::symbolizeElementFormat(formatName);
  if (!format) {
    parser.emitError(formatLoc)
        << "unknown element format '" << formatName
        << "'; expected si2..si8, ui2..ui8, nf4, fp4, f8E4M3FN, f8E5M2 "
           "or dynamic8";
    return {};
  }
  SmallVector<int64_t> block;
  if (parser.parseComma() || parser.parseKeyword("block") ||
      parser.parseEqual() ||
      parser.parseCommaSeparatedList(AsmParser::Delimiter::Square, [&]() {
        int64_t size;
        if (parser.parseInteger(size))
          return failure();
        block.push_back(size);
        return success();
      }))
    return {};
  PackOrder packing = PackOrder::none;
  if (succeeded(parser.parseOptionalComma())) {
    SMLoc packingLoc = parser.getCurrentLocation();
    std::string packingName;
    if (parser.parseKeyword("packing") || parser.parseEqual() ||
        parser.parseKeywordOrString(&packingName))
      return {};
    std::optional<PackOrder> parsed =
        quantopt::numerics::symbolizePackOrder(packingName);
    if (!parsed) {
      parser.emitError(packingLoc)
          << "unknown packing '" << packingName
          << "'; expected none, lsb_first or msb_first";
      return {};
    }
    packing = *parsed;
  }
  if (parser.parseGreater())
    return {};
  return LayoutAttr::getChecked([&]() { return parser.emitError(formatLoc); },
                                parser.getContext(), *format, block, packing);
}

void LayoutAttr::print(AsmPrinter &printer) const {
  printer << "<" << stringifyElementFormat(getFormat()) << ", block = [";
  llvm::interleaveComma(getBlock(), printer);
  printer << "]";
  if (getPacking() != PackOrder::none)
    printer << ", packing = " << stringifyPackOrder(getPacking());
  printer << ">";
}

LogicalResult LayoutAttr::verify(function_ref<InFlightDiagnostic()> emitError,
                                 ElementFormat format, ArrayRef<int64_t> block,
                                 PackOrder packing) {
  if (block.empty())
    return emitError() << "layout needs one block size per dimension, got none";
  for (int64_t size : block)
    if (size < 0)
      return emitError() << "block sizes must be >= 0 (0 = whole dimension), "
                            "got "
                         << size;
  unsigned bits = quantopt::numerics::getBitWidth(format);
  if (packing == PackOrder::lsb_first && bits >= 8)
    return emitError() << "packing = lsb_first needs a sub-byte format, got "
                       << stringifyElementFormat(format);
  if (packing == PackOrder::msb_first && bits != 2 && bits != 4)
    return emitError() << "packing = msb_first supports 2- and 4-bit formats "
                          "only, got "
                       << stringifyElementFormat(format);
  return success();
}

unsigned LayoutAttr::getBitWidth() const {
  return quantopt::numerics::getBitWidth(getFormat());
}

bool LayoutAttr::isSignedInteger() const {
  return quantopt::numerics::isSignedIntegerFormat(getFormat());
}

bool LayoutAttr::isInteger() const {
  return quantopt::numerics::isIntegerFormat(getFormat());
}

int64_t LayoutAttr::getMinCode() const {
  return quantopt::numerics::getMinCode(getFormat());
}

int64_t LayoutAttr::getMaxCode() const {
  return quantopt::numerics::getMaxCode(getFormat());
}

int64_t LayoutAttr::getStorageSize(int64_t count) const {
  if (getPacking() == PackOrder::none || ShapedType::isDynamic(count))
    return count;
  return (count * getBitWidth() + 7) / 8;
}

int64_t LayoutAttr::getBlockSize(unsigned dim, int64_t extent) const {
  int64_t size = getBlock()[dim];
  return size == 0 ? extent : size;
}

//===----------------------------------------------------------------------===//
// LlamaConfigAttr
//===----------------------------------------------------------------------===//

LogicalResult
LlamaConfigAttr::verify(function_ref<InFlightDiagnostic()> emitError,
                        int64_t dim, int64_t hiddenDim, int64_t nLayers,
                        int64_t nHeads, int64_t nKvHeads, int64_t vocabSize,
                        int64_t seqLen, FloatAttr ropeTheta, FloatAttr normEps,
                        StringAttr rope, BoolAttr tiedEmbeddings) {
  for (auto [value, key] :
       {std::pair(dim, "dim"), std::pair(hiddenDim, "hidden_dim"),
        std::pair(nLayers, "n_layers"), std::pair(nHeads, "n_heads"),
        std::pair(nKvHeads, "n_kv_heads"), std::pair(vocabSize, "vocab_size"),
        std::pair(seqLen, "seq_len")})
    if (value <= 0)
      return emitError() << "llama config: " << key << " must be positive, got "
                         << value;
  if (dim % nHeads != 0 || nHeads % nKvHeads != 0)
    return emitError() << "llama config: dim (" << dim
                       << ") must be a multiple of n_heads (" << nHeads
                       << "), and n_heads of n_kv_heads (" << nKvHeads << ")";
  // An epsilon of 0 is a valid RMSNorm (GGUF files may carry it).
  double theta = ropeTheta.getValueAsDouble(), eps = normEps.getValueAsDouble();
  if (!std::isfinite(theta) || theta <= 0)
    return emitError() << "llama config: rope_theta must be positive and "
                          "finite, got "
                       << theta;
  if (!std::isfinite(eps) || eps < 0)
    return emitError() << "llama config: norm_eps must be non-negative and "
                          "finite, got "
                       << eps;
  if (rope.getValue() != "adjacent" && rope.getValue() != "rotate_half")
    return emitError() << "llama config: rope must be \"adjacent\" or "
                          "\"rotate_half\", got \""
                       << rope.getValue() << "\"";
  return success();
}
