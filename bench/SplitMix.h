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

  /// 64 random bits.
  uint64_t nextBits() {
    uint64_t z = (state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  }

  /// Uniform in [0, 1), 24 bits.
  float next() { return float(nextBits() >> 40) * (1.0f / float(1ull << 24)); }

  /// Uniform in [lo, hi).
  float uniform(float lo, float hi) { return lo + (hi - lo) * next(); }

private:
  uint64_t state;
};

} // namespace quantopt

#endif // QUANT_BENCH_SPLITMIX_H
