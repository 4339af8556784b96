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

using namespace mlir;
using namespace mlir::qtensor;

#include "quant/Dialect/QTensor/IR/QTensorEnums.cpp.inc"

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
  std::optional<ElementFormat> format = symbolizeElementFormat(formatName);
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
    std::optional<PackOrder> parsed = symbolizePackOrder(packingName);
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
  unsigned bits = LayoutAttr::getFormatBitWidth(format);
  if (packing == PackOrder::lsb_first && bits >= 8)
    return emitError() << "packing = lsb_first needs a sub-byte format, got "
                       << stringifyElementFormat(format);
  if (packing == PackOrder::msb_first && bits != 2 && bits != 4)
    return emitError() << "packing = msb_first supports 2- and 4-bit formats "
                          "only, got "
                       << stringifyElementFormat(format);
  return success();
}

unsigned LayoutAttr::getFormatBitWidth(ElementFormat format) {
  switch (format) {
  case ElementFormat::si2:
  case ElementFormat::ui2:
    return 2;
  case ElementFormat::si3:
  case ElementFormat::ui3:
    return 3;
  case ElementFormat::si4:
  case ElementFormat::ui4:
  case ElementFormat::nf4:
  case ElementFormat::fp4:
    return 4;
  case ElementFormat::si5:
  case ElementFormat::ui5:
    return 5;
  case ElementFormat::si6:
  case ElementFormat::ui6:
    return 6;
  case ElementFormat::si7:
  case ElementFormat::ui7:
    return 7;
  case ElementFormat::si8:
  case ElementFormat::ui8:
  case ElementFormat::f8E4M3FN:
  case ElementFormat::f8E5M2:
  case ElementFormat::dynamic8:
    return 8;
  }
  llvm_unreachable("unknown element format");
}

unsigned LayoutAttr::getBitWidth() const {
  return getFormatBitWidth(getFormat());
}

bool LayoutAttr::isSignedInteger() const {
  return getFormat() <= ElementFormat::si8;
}

bool LayoutAttr::isInteger() const { return getFormat() <= ElementFormat::ui8; }

int64_t LayoutAttr::getMinCode() const {
  return isSignedInteger() ? -(int64_t(1) << (getBitWidth() - 1)) : 0;
}

int64_t LayoutAttr::getMaxCode() const {
  if (isSignedInteger())
    return (int64_t(1) << (getBitWidth() - 1)) - 1;
  return (int64_t(1) << getBitWidth()) - 1;
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
