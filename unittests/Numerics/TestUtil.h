//===- TestUtil.h - Helpers shared by the numerics unit tests -------------===//
//
// Part of the quant-opt project, under the Apache License v2.0 with LLVM
// Exceptions.
//
//===----------------------------------------------------------------------===//

#ifndef QUANT_UNITTESTS_NUMERICS_TESTUTIL_H
#define QUANT_UNITTESTS_NUMERICS_TESTUTIL_H

#include <cstdint>
#include <cstring>
#include <random>
#include <vector>

namespace quanttest {

inline uint32_t bitsOf(float x) {
  uint32_t b;
  std::memcpy(&b, &x, sizeof(b));
  return b;
}

inline float floatOf(uint32_t b) {
  float x;
  std::memcpy(&x, &b, sizeof(x));
  return x;
}

/// Deterministic pseudo-random floats in [lo, hi), independent of the
/// standard library's distribution implementations.
class Rng {
public:
  explicit Rng(uint64_t seed) : state(seed) {}
  uint64_t next() {
    // splitmix64
    uint64_t z = (state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  float uniform(float lo, float hi) {
    float u = static_cast<float>(next() >> 40) * (1.0f / 16777216.0f);
    return lo + (hi - lo) * u;
  }
  std::vector<float> vec(size_t n, float lo, float hi) {
    std::vector<float> v(n);
    for (float &x : v)
      x = uniform(lo, hi);
    return v;
  }

private:
  uint64_t state;
};

} // namespace quanttest

#endif // QUANT_UNITTESTS_NUMERICS_TESTUTIL_H
