//===- TestLayers.h - Small calibrated layers for pass tests ----*- C++ -*-===//
//
// Part of the quant-opt project, under the Apache License v2.0 with LLVM
// Exceptions.
//
//===----------------------------------------------------------------------===//
//
// A norm-like per-channel scale, a linear layer and a negation, as MLIR
// text, and activations with a few 100x outlier channels written as .npy.
//
//===----------------------------------------------------------------------===//

#ifndef QUANT_UNITTESTS_TRANSFORMS_TESTLAYERS_H
#define QUANT_UNITTESTS_TRANSFORMS_TESTLAYERS_H

#include "llvm/ADT/SmallString.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/FormatVariadic.h"

#include <cstdint>
#include <fstream>
#include <random>
#include <string>
#include <vector>

namespace quantopt {
namespace testlayers {

/// Activations [copies, tokens, in]: N(0, 1) with channels 3, 40, 77 and 100
/// (those below `in`) scaled by 100 (LLM.int8() reports systematic outliers
/// of this size).
inline std::vector<float> makeActivations(unsigned seed, int64_t copies,
                                          int64_t tokens, int64_t in) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<float> x(copies * tokens * in);
  for (int64_t i = 0; i < int64_t(x.size()); ++i) {
    int64_t channel = i % in;
    bool outlier =
        channel == 3 || channel == 40 || channel == 77 || channel == 100;
    x[i] = normal(rng) * (outlier ? 100.0f : 1.0f);
  }
  return x;
}

/// Writes `x` as a temporary f32 .npy of shape `shape`; returns its path.
inline std::string writeNpy(const std::vector<float> &x,
                            const std::vector<int64_t> &shape) {
  llvm::SmallString<128> path;
  llvm::sys::fs::createTemporaryFile("layer-x", "npy", path);
  std::string dims;
  for (int64_t d : shape)
    dims += (dims.empty() ? "" : ", ") + std::to_string(d);
  std::string header =
      "{'descr': '<f4', 'fortran_order': False, 'shape': (" + dims + "), }";
  while ((10 + header.size() + 1) % 64)
    header += ' ';
  header += '\n';
  std::ofstream out(path.str().str(), std::ios::binary);
  out.write("\x93NUMPY\x01\x00", 8);
  uint16_t length = uint16_t(header.size());
  out.write(reinterpret_cast<const char *>(&length), 2);
  out << header;
  out.write(reinterpret_cast<const char *>(x.data()), x.size() * 4);
  return path.str().str();
}

/// @forward(x: [tokens, in]) -> [tokens, out]: x * g (a norm's weight) ->
/// linear `fc` [out, in] -> negation (so the product is not the function's
/// output head, which the passes keep in float). With `scaleInput` false
/// the linear reads x itself.
inline std::string layerModule(int64_t tokens, int64_t in, int64_t out,
                               bool scaleInput = true) {
  std::mt19937 rng(5);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::string gamma, weight;
  for (int64_t j = 0; j < in; ++j)
    gamma +=
        llvm::formatv("{0}{1}", j ? ", " : "", 1.0f + 0.1f * normal(rng)).str();
  for (int64_t r = 0; r < out; ++r) {
    weight += r ? ", [" : "[";
    for (int64_t j = 0; j < in; ++j)
      weight +=
          llvm::formatv("{0}{1}", j ? ", " : "", 0.05f * normal(rng)).str();
    weight += "]";
  }
  return llvm::formatv(R"mlir(
#id = affine_map<(t, c) -> (t, c)>
#ch = affine_map<(t, c) -> (c)>
#mx = affine_map<(t, n, k) -> (t, k)>
#mw = affine_map<(t, n, k) -> (n, k)>
#my = affine_map<(t, n, k) -> (t, n)>
func.func @forward(%x: tensor<{0}x{1}xf32>) -> tensor<{0}x{2}xf32> {{
  %g = arith.constant dense<[{3}]> : tensor<{1}xf32>
  %e = tensor.empty() : tensor<{0}x{1}xf32>
  %n = linalg.generic {{indexing_maps = [#id, #ch, #id], iterator_types = ["parallel", "parallel"]}
      ins(%x, %g : tensor<{0}x{1}xf32>, tensor<{1}xf32>) outs(%e : tensor<{0}x{1}xf32>) {{
  ^bb0(%a: f32, %b: f32, %o: f32):
    %m = arith.mulf %a, %b : f32
    linalg.yield %m : f32
  } -> tensor<{0}x{1}xf32>
  %w = arith.constant dense<[{4}]> : tensor<{2}x{1}xf32> loc("fc")
  %zero = arith.constant 0.0 : f32
  %ye = tensor.empty() : tensor<{0}x{2}xf32>
  %init = linalg.fill ins(%zero : f32) outs(%ye : tensor<{0}x{2}xf32>) -> tensor<{0}x{2}xf32>
  %y = linalg.generic {{indexing_maps = [#mx, #mw, #my], iterator_types = ["parallel", "parallel", "reduction"]}
      ins({5}, %w : tensor<{0}x{1}xf32>, tensor<{2}x{1}xf32>) outs(%init : tensor<{0}x{2}xf32>) {{
  ^bb0(%a: f32, %b: f32, %o: f32):
    %m = arith.mulf %a, %b : f32
    %s = arith.addf %o, %m : f32
    linalg.yield %s : f32
  } -> tensor<{0}x{2}xf32>
  %re = tensor.empty() : tensor<{0}x{2}xf32>
  %r = linalg.generic {{indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]}
      ins(%y : tensor<{0}x{2}xf32>) outs(%re : tensor<{0}x{2}xf32>) {{
  ^bb0(%a: f32, %o: f32):
    %t = arith.negf %a : f32
    linalg.yield %t : f32
  } -> tensor<{0}x{2}xf32>
  return %r : tensor<{0}x{2}xf32>
}
)mlir",
                       tokens, in, out, gamma, weight, scaleInput ? "%n" : "%x")
      .str();
}

} // namespace testlayers
} // namespace quantopt

#endif // QUANT_UNITTESTS_TRANSFORMS_TESTLAYERS_H
