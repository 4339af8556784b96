//===- Npy.h - NumPy arrays and token id files ------------------*- C++ -*-===//
//
// Part of the quant-opt project, under the Apache License v2.0 with LLVM
// Exceptions.
//
//===----------------------------------------------------------------------===//
//
// NumPy `.npy` files (format versions 1 to 3: the magic "\x93NUMPY", a
// version, a 2- or 4-byte header length, a Python dict literal with
// 'descr', 'fortran_order' and 'shape', then the C-order data) and token id
// streams (`.npy` int32/int64 or raw little-endian int32).
//
//===----------------------------------------------------------------------===//

#ifndef QUANT_FORMATS_NPY_H
#define QUANT_FORMATS_NPY_H

#include "llvm/ADT/StringRef.h"
#include "llvm/Support/Error.h"

#include <cstdint>
#include <vector>

namespace quantopt {

/// A float32 array read from a `.npy` file.
struct NpyF32Array {
  std::vector<int64_t> shape;
  std::vector<float> values;
};

/// Reads token ids: a `.npy` file (1-D little-endian int32 or int64) or raw
/// little-endian int32. Ids outside [0, vocabSize) are an error naming the
/// position.
llvm::Expected<std::vector<int32_t>> loadTokenIds(llvm::StringRef path,
                                                  int32_t vocabSize);

/// Reads a little-endian f32 `.npy` array (C order) with its shape.
llvm::Expected<NpyF32Array> loadNpyF32(llvm::StringRef path);

} // namespace quantopt

#endif // QUANT_FORMATS_NPY_H
