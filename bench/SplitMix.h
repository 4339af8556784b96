//===- SplitMix.h - Fast seeded uniform numbers for synthetic weights -----===//
//
// Part of the quant-opt project, under the Apache License v2.0 with LLVM
// Exceptions.
//
//===----------------------------------------------------------------------===//
//
// splitmix64: fast enough for the billions of weights of the benchmarks'
// synthetic models, and the same sequence on every machine.
//
//===----------------------------------------------------------------------===//

#ifndef QUANT_BENCH_SPLITMIX_H
#define QUANT_BENCH_SPLITMIX_H

#include <cstdint>

namespace quantopt {

class SplitMix {
public:
  explicit SplitMix(uint64_t seed = 0x5eed) : state(seed) {}

  /// Uniform in [0, 1), 24 bits.
  float next() {
    uint64_t z = (state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    z ^= z >> 31;
    return float(z >> 40) * (1.0f / float(1ull << 24));
  }

private:
  uint64_t state;
};

} // namespace quantopt

#endif // QUANT_BENCH_SPLITMIX_H
