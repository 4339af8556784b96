//===- AutoGPTQExport.h - Quantized weights as safetensors ------*- C++ -*-===//
//
// Part of the quant-opt project, under the Apache License v2.0 with LLVM
// Exceptions.
//
//===----------------------------------------------------------------------===//
//
// Writes the constant weights of a module's qtensor.dequant_matmul ops
// ([N, K], unsigned integer codes, per-row groups along K, integer
// zero-points) as safetensors tensors:
//
// * AutoGPTQ's "gptq" checkpoint format (version 1), per weight PREFIX
//   (the weight's name without ".weight"): PREFIX.qweight (I32
//   [K*bits/32, N]: column n is the code stream of output n along K, packed
//   LSB-first into 32-bit words, a code may straddle two words),
//   PREFIX.qzeros (I32 [G, N*bits/32]: zero-point - 1, masked to `bits`
//   bits, packed the same way along N), PREFIX.scales (F16 [G, N]) and
//   PREFIX.g_idx (I32 [K]: the group of each input column);
// * unpacked, for inspection: PREFIX.codes (U8 [N, K]), PREFIX.scales and
//   PREFIX.zeros (F32 [N, G]), PREFIX.g_idx (I32 [K]).
//
//===----------------------------------------------------------------------===//

#ifndef QUANT_EXPORT_AUTOGPTQEXPORT_H
#define QUANT_EXPORT_AUTOGPTQEXPORT_H

#include "quant/Formats/Safetensors.h"

#include "mlir/IR/BuiltinOps.h"
#include "llvm/ADT/StringRef.h"
#include "llvm/Support/Error.h"

#include <cstdint>
#include <string>
#include <vector>

namespace quantopt {

/// One quantized [N, K] weight with unsigned integer codes, unpacked.
struct UnpackedWeight {
  std::string name;
  int64_t rows = 0, cols = 0, groups = 0;
  unsigned bits = 0;
  /// [rows, cols] codes, [rows, groups] scales and zero-points, [cols]
  /// group of each input column.
  std::vector<uint8_t> codes;
  std::vector<float> scales;
  std::vector<int64_t> zeros;
  std::vector<int32_t> groupIndex;
};

/// Reads the weight of every qtensor.dequant_matmul in `module`; errors name
/// the weight that is not exportable (signed or non-integer codes, scales
/// not per output row, non-constant operands).
llvm::Expected<std::vector<UnpackedWeight>>
collectUnpackedWeights(mlir::ModuleOp module);

/// Packs `weight` into `out` as AutoGPTQ v1 tensors named `prefix`.*. Fails
/// (naming the weight) when cols * bits or rows * bits is not a multiple of
/// 32, which AutoGPTQ's packing cannot represent.
llvm::Error addAutoGPTQTensors(const UnpackedWeight &weight,
                               llvm::StringRef prefix, SafetensorsFile &out);

/// Adds `weight` unpacked, as `prefix`.codes / scales / zeros / g_idx.
void addUnpackedTensors(const UnpackedWeight &weight, llvm::StringRef prefix,
                        SafetensorsFile &out);

enum class WeightExportFormat { AutoGPTQ, Unpacked };

/// Writes every dequant_matmul weight of `module` to `path` atomically, with
/// the metadata the format's loaders expect.
llvm::Error exportQuantizedWeights(mlir::ModuleOp module, llvm::StringRef path,
                                   WeightExportFormat format);

} // namespace quantopt

#endif // QUANT_EXPORT_AUTOGPTQEXPORT_H
