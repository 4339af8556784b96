//===- GGUFQuants.cpp - ggml block quantizers and dequantizers ------------===//
//
// Part of the quant-opt project, under the Apache License v2.0 with LLVM
// Exceptions.
//
//===----------------------------------------------------------------------===//
//
// Reproduces ggml's reference block quantizers (ggml-org/ggml
// `src/ggml-quants.c`; docs/Numerics.md §0, §8) byte
// for byte. Bit-exactness depends on details that look incidental, so the
// code keeps them all: every sum is an f32 sum in element order, operands
// are combined in ggml's order, multiplies and adds stay separate (ggml's
// quantizers live in ggml-base, built without FMA on x86-64; this file is
// compiled with -ffp-contract=off), rounding goes
// through ggml's `nearest_int` trick or its truncating casts, super-block
// scales are rounded to f16 before the codes are recomputed from them, and
// the early-outs for (near-)zero groups are the same.
//
//===----------------------------------------------------------------------===//

#include "quant/Numerics/GGUFQuants.h"
#include "quant/Numerics/Numerics.h"

#include <algorithm>
#include <cassert>
#include <cmath>
#include <cstring>
#include <limits>

static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__,
              "the block structs are ggml's little-endian byte layouts");

using namespace quantopt::numerics;

namespace {

constexpr int kSuperBlock = 256; // QK_K; the legacy types use 32.
// Groups whose largest magnitude is below this get all-zero codes.
constexpr float kGroupMaxEps = 1e-15f;

//===----------------------------------------------------------------------===//
// Block layouts (ggml-common.h). f16 fields are IEEE half bit patterns, all
// multi-byte fields little-endian. Every field is naturally aligned, so the
// structs have no padding; the dispatcher checks sizeof against GGMLTypes.h.
//===----------------------------------------------------------------------===//

// Q4_0, 32 weights: x = d * (q - 8). q[j] is the low nibble of qs[j],
// q[j + 16] the high nibble.
struct BlockQ4_0 {
  uint16_t d;
  uint8_t qs[16];
};

// Q4_1, 32 weights: x = d * q + m; nibbles as Q4_0.
struct BlockQ4_1 {
  uint16_t d, m;
  uint8_t qs[16];
};

// Q5_0, 32 weights: x = d * (q - 16). Low 4 bits as Q4_0; bit 4 of q[j] is
// bit j of the u32 qh.
struct BlockQ5_0 {
  uint16_t d;
  uint8_t qh[4];
  uint8_t qs[16];
};

// Q5_1, 32 weights: x = d * q + m; bits as Q5_0.
struct BlockQ5_1 {
  uint16_t d, m;
  uint8_t qh[4];
  uint8_t qs[16];
};

// Q8_0, 32 weights: x = d * q with signed 8-bit q.
struct BlockQ8_0 {
  uint16_t d;
  int8_t qs[32];
};

// Q2_K, 16 groups of 16: scales[g] = sc | mn << 4 (4 bits each),
// x = d * sc * q - dmin * mn. Element 32 * s + l of each 128-element half h
// is bits 2s..2s+1 of qs[32 * h + l].
struct BlockQ2_K {
  uint8_t scales[16];
  uint8_t qs[64];
  uint16_t d, dmin;
};

// Q3_K, 16 groups of 16: x = d * (sc - 32) * (q - 4) with 6-bit sc. Bits
// 0..3 of sc(g) are the low (g < 8) or high (g >= 8) nibble of
// scales[g % 8], bits 4..5 are bits 2 * (g / 4) of scales[8 + g % 4]. Bits
// 0..1 of q as in Q2_K; bit 2 of element e is bit e / 32 of hmask[e % 32].
struct BlockQ3_K {
  uint8_t hmask[32];
  uint8_t qs[64];
  uint8_t scales[12];
  uint16_t d;
};

// Q4_K, 8 groups of 32: x = d * sc * q - dmin * mn with 6-bit sc and mn
// packed as in packScaleMinK4. Each 64-element chunk c uses qs[32c..32c+31]:
// its first 32 elements in the low nibbles, the next 32 in the high ones.
struct BlockQ4_K {
  uint16_t d, dmin;
  uint8_t scales[12];
  uint8_t qs[128];
};

// Q5_K: as Q4_K with 5-bit q; bit 4 of element 64c + l (l < 32) is bit 2c
// of qh[l], that of element 64c + 32 + l is bit 2c + 1.
struct BlockQ5_K {
  uint16_t d, dmin;
  uint8_t scales[12];
  uint8_t qh[32];
  uint8_t qs[128];
};

// Q6_K, 16 groups of 16: x = d * sc * (q - 32) with signed 8-bit sc. In
// each 128-element half h, element 32 * s + l keeps its low 4 bits in
// ql[64h + 32 * (s & 1) + l] (low nibble for s < 2, high for s >= 2) and its
// top 2 bits at bit 2s of qh[32h + l].
struct BlockQ6_K {
  uint8_t ql[128];
  uint8_t qh[64];
  int8_t scales[16];
  uint16_t d;
};

//===----------------------------------------------------------------------===//
// Scalar helpers with ggml's exact semantics
//===----------------------------------------------------------------------===//

// ggml's nearest_int: adding 1.5 * 2^23 leaves round-half-even(x) in the low
// mantissa bits. Exact for |x| < 2^22; larger inputs wrap as ggml's do.
int nearestInt(float x) {
  float shifted = x + 12582912.f;
  int32_t bits;
  std::memcpy(&bits, &shifted, sizeof(bits));
  return (bits & 0x007fffff) - 0x00400000;
}

// ggml's C casts from float to 8-bit integers compile to a truncating
// 32-bit conversion whose low byte is kept; x86 gives INT32_MIN for NaN and
// out-of-range input. Spelled out so such input is defined behaviour here.
int32_t truncateToInt32(float x) {
  if (x >= -2147483648.0f && x < 2147483648.0f)
    return static_cast<int32_t>(x);
  return std::numeric_limits<int32_t>::min();
}

// ggml's MAX macro: keeps `b` unless a > b (so a NaN `b` propagates).
float ggmlMax(float a, float b) { return a > b ? a : b; }

uint16_t toHalf(float x) { return toF16Bits(x); }
float fromHalf(uint16_t h) { return fromF16Bits(h); }

//===----------------------------------------------------------------------===//
// Group fitting (ggml's make_*_quants)
//===----------------------------------------------------------------------===//

// The value of largest magnitude (the first one on ties) and, in *amax,
// that magnitude.
float signedAbsMax(int n, const float *x, float *amax) {
  float max = 0;
  *amax = 0;
  for (int i = 0; i < n; ++i) {
    float ax = std::fabs(x[i]);
    if (ax > *amax) {
      *amax = ax;
      max = x[i];
    }
  }
  return max;
}

// Symmetric codes l in [-nmax, nmax - 1], stored as l + nmax (make_qx_quants
// with rmse_type 1). Starting from iscale = -nmax / max (max: the signed
// value of largest magnitude), tries -(nmax + 0.1 k) / max for k = ±1..±9
// and keeps the one maximising (sum w x l)^2 / sum w l^2, where w is
// `weights[i]` or x^2 when `weights` is null. Returns the least-squares
// scale of the chosen codes.
float fitSymmetric(int n, int nmax, const float *x, const float *weights,
                   int8_t *levels) {
  float amax;
  float max = signedAbsMax(n, x, &amax);
  if (amax < kGroupMaxEps) {
    std::fill(levels, levels + n, 0);
    return 0.f;
  }
  auto weightOf = [&](int i) { return weights ? weights[i] : x[i] * x[i]; };
  auto codeOf = [&](float iscale, int i) {
    return std::max(-nmax, std::min(nmax - 1, nearestInt(iscale * x[i])));
  };
  float iscale = static_cast<float>(-nmax) / max;
  float sumlx = 0, suml2 = 0;
  for (int i = 0; i < n; ++i) {
    int l = codeOf(iscale, i);
    levels[i] = static_cast<int8_t>(l + nmax);
    float w = weightOf(i);
    sumlx += w * x[i] * static_cast<float>(l);
    suml2 += w * static_cast<float>(l) * static_cast<float>(l);
  }
  float scale = suml2 != 0 ? sumlx / suml2 : 0.0f;
  float best = scale * sumlx;
  for (int k = -9; k <= 9; ++k) {
    if (k == 0)
      continue;
    iscale = -(static_cast<float>(nmax) + 0.1f * static_cast<float>(k)) / max;
    sumlx = suml2 = 0;
    for (int i = 0; i < n; ++i) {
      float l = static_cast<float>(codeOf(iscale, i));
      float w = weightOf(i);
      sumlx += w * x[i] * l;
      suml2 += w * l * l;
    }
    if (suml2 > 0 && sumlx * sumlx > best * suml2) {
      for (int i = 0; i < n; ++i)
        levels[i] = static_cast<int8_t>(nmax + codeOf(iscale, i));
      scale = sumlx / suml2;
      best = scale * sumlx;
    }
  }
  return scale;
}

// Symmetric codes in [-nmax, nmax - 1] (stored + nmax) refined by up to 5
// passes of coordinate descent on the x^2-weighted error (make_q3_quants
// with do_rmse).
float fitSymmetricDescent(int n, int nmax, const float *x, int8_t *levels) {
  float amax;
  float max = signedAbsMax(n, x, &amax);
  if (amax < kGroupMaxEps) {
    std::fill(levels, levels + n, 0);
    return 0.f;
  }
  auto clampCode = [&](int l) {
    return std::max(-nmax, std::min(nmax - 1, l));
  };
  float iscale = static_cast<float>(-nmax) / max;
  float sumlx = 0, suml2 = 0;
  for (int i = 0; i < n; ++i) {
    int l = clampCode(nearestInt(iscale * x[i]));
    levels[i] = static_cast<int8_t>(l);
    float w = x[i] * x[i];
    sumlx += w * x[i] * static_cast<float>(l);
    suml2 += w * static_cast<float>(l) * static_cast<float>(l);
  }
  for (int pass = 0; pass < 5; ++pass) {
    int changed = 0;
    for (int i = 0; i < n; ++i) {
      float w = x[i] * x[i];
      float old = levels[i];
      float slx = sumlx - w * x[i] * old;
      if (slx > 0) {
        float sl2 = suml2 - w * old * old;
        int candidate = clampCode(nearestInt(x[i] * sl2 / slx));
        if (candidate != levels[i]) {
          float l = static_cast<float>(candidate);
          slx += w * x[i] * l;
          sl2 += w * l * l;
          if (sl2 > 0 && slx * slx * suml2 > sumlx * sumlx * sl2) {
            levels[i] = static_cast<int8_t>(candidate);
            sumlx = slx;
            suml2 = sl2;
            ++changed;
          }
        }
      }
    }
    if (!changed)
      break;
  }
  for (int i = 0; i < n; ++i)
    levels[i] = static_cast<int8_t>(levels[i] + nmax);
  return suml2 > 0.0f ? sumlx / suml2 : 0.0f;
}

// Asymmetric codes in [0, nmax] for x ~ scale * q - negMin with the offset
// -negMin <= 0 (make_qkx2_quants; make_qkx3_quants is the same with the
// weights every caller here passes). Starts from the min/max grid, then for
// each of nstep+1 grid densities (nmax + rmin + rdelta * k) / (max - min)
// solves the weighted least squares for scale and offset, keeping the candidate
// whose weighted error (absolute if useMad, else squared) is lowest.
float fitAsymmetric(int n, int nmax, const float *x, const float *weights,
                    uint8_t *levels, float *negMin, float rmin, float rdelta,
                    int nstep, bool useMad) {
  auto weightOf = [&](int i) { return weights[i]; };
  auto errorOf = [&](float diff) {
    return useMad ? std::fabs(diff) : diff * diff;
  };
  float min = x[0], max = x[0];
  float sumW = weightOf(0);
  float sumX = sumW * x[0];
  for (int i = 1; i < n; ++i) {
    if (x[i] < min)
      min = x[i];
    if (x[i] > max)
      max = x[i];
    float w = weightOf(i);
    sumW += w;
    sumX += w * x[i];
  }
  if (min > 0)
    min = 0;
  if (max == min) {
    std::fill(levels, levels + n, 0);
    *negMin = -min;
    return 0.f;
  }
  auto codeOf = [&](float iscale, int i) {
    return std::max(0, std::min(nmax, nearestInt(iscale * (x[i] - min))));
  };
  float iscale = static_cast<float>(nmax) / (max - min);
  float scale = 1 / iscale;
  float bestError = 0;
  for (int i = 0; i < n; ++i) {
    levels[i] = static_cast<uint8_t>(codeOf(iscale, i));
    float diff = scale * levels[i] + min - x[i];
    bestError += weightOf(i) * errorOf(diff);
  }
  if (nstep < 1) {
    *negMin = -min;
    return scale;
  }
  uint8_t candidate[32];
  assert(n <= 32);
  for (int k = 0; k <= nstep; ++k) {
    iscale =
        (rmin + rdelta * static_cast<float>(k) + static_cast<float>(nmax)) /
        (max - min);
    float sumL = 0, sumL2 = 0, sumXL = 0;
    for (int i = 0; i < n; ++i) {
      int l = codeOf(iscale, i);
      candidate[i] = static_cast<uint8_t>(l);
      float fl = static_cast<float>(l);
      float w = weightOf(i);
      sumL += w * fl;
      sumL2 += w * fl * fl;
      sumXL += w * fl * x[i];
    }
    float det = sumW * sumL2 - sumL * sumL;
    if (det > 0) {
      float thisScale = (sumW * sumXL - sumX * sumL) / det;
      float thisMin = (sumL2 * sumX - sumL * sumXL) / det;
      if (thisMin > 0) {
        thisMin = 0;
        thisScale = sumXL / sumL2;
      }
      float error = 0;
      for (int i = 0; i < n; ++i) {
        float diff = thisScale * candidate[i] + thisMin - x[i];
        error += weightOf(i) * errorOf(diff);
      }
      if (error < bestError) {
        std::copy(candidate, candidate + n, levels);
        bestError = error;
        scale = thisScale;
        min = thisMin;
      }
    }
  }
  *negMin = -min;
  return scale;
}

// Codes in [0, nmax] for non-negative values (the sub-block scales and mins
// of the imatrix K-quants; make_qp_quants): picks the best of 9 grid
// densities (nmax + 0.1 k) / max, k = -4..4, on the weighted squared error,
// then refines the codes with up to 5 coordinate-descent passes.
float fitNonNegative(int n, int nmax, const float *x, uint8_t *levels,
                     const float *weights) {
  float max = 0;
  for (int i = 0; i < n; ++i)
    max = ggmlMax(max, x[i]);
  if (max < kGroupMaxEps) {
    std::fill(levels, levels + n, 0);
    return 0.f;
  }
  float iscale = static_cast<float>(nmax) / max;
  for (int i = 0; i < n; ++i)
    levels[i] = static_cast<uint8_t>(nearestInt(iscale * x[i]));
  float scale = 1 / iscale;
  float bestError = 0;
  for (int i = 0; i < n; ++i) {
    float diff = x[i] - scale * levels[i];
    bestError += weights[i] * diff * diff;
  }
  for (int k = -4; k <= 4; ++k) {
    if (k == 0)
      continue;
    float trialIscale = (0.1f * static_cast<float>(k) + nmax) / max;
    float trialScale = 1 / trialIscale;
    float error = 0;
    for (int i = 0; i < n; ++i) {
      int l = std::min(nmax, nearestInt(trialIscale * x[i]));
      float diff = x[i] - trialScale * static_cast<float>(l);
      error += weights[i] * diff * diff;
    }
    if (error < bestError) {
      bestError = error;
      iscale = trialIscale;
    }
  }
  float sumlx = 0, suml2 = 0;
  for (int i = 0; i < n; ++i) {
    int l = std::min(nmax, nearestInt(iscale * x[i]));
    levels[i] = static_cast<uint8_t>(l);
    float w = weights[i];
    sumlx += w * x[i] * static_cast<float>(l);
    suml2 += w * static_cast<float>(l) * static_cast<float>(l);
  }
  for (int pass = 0; pass < 5; ++pass) {
    int changed = 0;
    for (int i = 0; i < n; ++i) {
      float w = weights[i];
      float old = levels[i];
      float slx = sumlx - w * x[i] * old;
      float sl2 = suml2 - w * old * old;
      if (slx > 0 && sl2 > 0) {
        int candidate = std::min(nmax, nearestInt(x[i] * sl2 / slx));
        if (candidate != levels[i]) {
          float l = static_cast<float>(candidate);
          slx += w * x[i] * l;
          sl2 += w * l * l;
          if (slx * slx * suml2 > sumlx * sumlx * sl2) {
            levels[i] = static_cast<uint8_t>(candidate);
            sumlx = slx;
            suml2 = sl2;
            ++changed;
          }
        }
      }
    }
    if (!changed)
      break;
  }
  return suml2 > 0.0f ? sumlx / suml2 : 0.0f;
}

// The imatrix weight of element j: importance_j * sqrt(sigma2 + x_j^2).
void importanceWeights(int n, const float *x, const float *importance,
                       float sigma2, float *weights) {
  for (int j = 0; j < n; ++j)
    weights[j] = importance[j] * std::sqrt(sigma2 + x[j] * x[j]);
}

float sumOfSquares(int64_t n, const float *x) {
  float sum = 0;
  for (int64_t j = 0; j < n; ++j)
    sum += x[j] * x[j];
  return sum;
}

float sumOf(int n, const float *x) {
  float sum = 0;
  for (int j = 0; j < n; ++j)
    sum += x[j];
  return sum;
}

//===----------------------------------------------------------------------===//
// Legacy 32-element types
//===----------------------------------------------------------------------===//

// 4-bit codes of 32 elements: element j low nibble, j + 16 high nibble
// (no masking, as ggml: codes are below 16).
void packNibbles(const uint8_t *codes, uint8_t *qs) {
  for (int j = 0; j < 16; ++j)
    qs[j] = static_cast<uint8_t>(codes[j] | (codes[j + 16] << 4));
}

// 5-bit codes of 32 elements: low 4 bits as packNibbles, bit 4 in qh.
void packFiveBit(const uint8_t *codes, uint8_t *qs, uint8_t *qhBytes) {
  uint32_t qh = 0;
  for (int j = 0; j < 16; ++j) {
    qs[j] =
        static_cast<uint8_t>((codes[j] & 0x0F) | ((codes[j + 16] & 0x0F) << 4));
    qh |= ((codes[j] & 0x10u) >> 4) << j;
    qh |= ((codes[j + 16] & 0x10u) >> 4) << (j + 16);
  }
  for (int b = 0; b < 4; ++b)
    qhBytes[b] = static_cast<uint8_t>(qh >> (8 * b));
}

// Q4_0 / Q5_0 reference: d = -max / 2^(bits-1) from the signed value of
// largest magnitude (the first one on ties); codes floor(x / d + half + .5)
// from the f32 d (not the stored f16), capped at 2^bits - 1.
float legacySymmetricCodes(const float *x, int half, uint8_t *codes) {
  float amax;
  float max = signedAbsMax(32, x, &amax);
  float d = max / static_cast<float>(-half);
  float id = d != 0 ? 1.0f / d : 0.0f;
  float bias = static_cast<float>(half) + 0.5f;
  for (int j = 0; j < 32; ++j) {
    auto code = static_cast<int8_t>(truncateToInt32(x[j] * id + bias));
    codes[j] = static_cast<uint8_t>(std::min<int>(2 * half - 1, code));
  }
  return d;
}

// Q4_1 / Q5_1 reference: d = (max - min) / nmax, codes trunc((x - min) / d +
// .5). Q4_1 caps the code at 15; Q5_1 does not cap (ggml casts straight to
// uint8_t).
float legacyAffineCodes(const float *x, int nmax, bool cap, uint8_t *codes,
                        float *min) {
  float lo = std::numeric_limits<float>::max();
  float hi = -std::numeric_limits<float>::max();
  for (int j = 0; j < 32; ++j) {
    if (x[j] < lo)
      lo = x[j];
    if (x[j] > hi)
      hi = x[j];
  }
  float d = (hi - lo) / static_cast<float>(nmax);
  float id = d != 0 ? 1.0f / d : 0.0f;
  for (int j = 0; j < 32; ++j) {
    int32_t t = truncateToInt32((x[j] - lo) * id + 0.5f);
    codes[j] =
        cap ? static_cast<uint8_t>(std::min<int>(nmax, static_cast<int8_t>(t)))
            : static_cast<uint8_t>(t);
  }
  *min = lo;
  return d;
}

// sigma^2 of the legacy imatrix paths: mean of x^2 over the whole row.
float rowSigma2(const float *x, int64_t n) {
  return sumOfSquares(n, x) / static_cast<float>(n);
}

void packLegacy(const uint8_t *codes, BlockQ4_0 &block) {
  packNibbles(codes, block.qs);
}
void packLegacy(const uint8_t *codes, BlockQ4_1 &block) {
  packNibbles(codes, block.qs);
}
void packLegacy(const uint8_t *codes, BlockQ5_0 &block) {
  packFiveBit(codes, block.qs, block.qh);
}
void packLegacy(const uint8_t *codes, BlockQ5_1 &block) {
  packFiveBit(codes, block.qs, block.qh);
}

// Runs `encode(xb, weights, block, codes)` on each 32-element block, with
// the block's imatrix weights (null on the reference path), then packs.
template <typename Block, typename Encode>
void quantizeRowLegacy(const float *x, int64_t n, const float *importance,
                       uint8_t *dst, Encode encode) {
  float sigma2 = importance ? rowSigma2(x, n) : 0;
  for (int64_t b = 0; b < n / 32; ++b) {
    const float *xb = x + 32 * b;
    float weights[32];
    if (importance)
      importanceWeights(32, xb, importance + 32 * b, sigma2, weights);
    Block block;
    uint8_t codes[32];
    encode(xb, importance ? weights : nullptr, block, codes);
    packLegacy(codes, block);
    std::memcpy(dst + b * sizeof(block), &block, sizeof(block));
  }
}

// Q4_0 (Half = 8) and Q5_0 (Half = 16).
template <typename Block, int Half>
void quantizeRowLegacySymmetric(const float *x, int64_t n,
                                const float *importance, uint8_t *dst) {
  quantizeRowLegacy<Block>(
      x, n, importance, dst,
      [](const float *xb, const float *weights, Block &block, uint8_t *codes) {
        if (!weights) {
          block.d = toHalf(legacySymmetricCodes(xb, Half, codes));
          return;
        }
        int8_t levels[32];
        block.d = toHalf(fitSymmetric(32, Half, xb, weights, levels));
        std::copy(levels, levels + 32, codes);
      });
}

// Q4_1 (Nmax = 15) and Q5_1 (Nmax = 31).
template <typename Block, int Nmax>
void quantizeRowLegacyAffine(const float *x, int64_t n, const float *importance,
                             uint8_t *dst) {
  quantizeRowLegacy<Block>(
      x, n, importance, dst,
      [](const float *xb, const float *weights, Block &block, uint8_t *codes) {
        if (!weights) {
          float min;
          block.d =
              toHalf(legacyAffineCodes(xb, Nmax, Nmax == 15, codes, &min));
          block.m = toHalf(min);
          return;
        }
        float negMin;
        block.d = toHalf(fitAsymmetric(32, Nmax, xb, weights, codes, &negMin,
                                       -0.9f, 0.05f, 36, false));
        block.m = toHalf(-negMin);
      });
}

// Q8_0 (no imatrix variant): d = amax / 127, q = roundf(x / d) (half away
// from zero).
void quantizeRowQ8_0(const float *x, int64_t n, const float *, uint8_t *dst) {
  for (int64_t b = 0; b < n / 32; ++b) {
    const float *xb = x + 32 * b;
    float amax = 0;
    for (int j = 0; j < 32; ++j)
      amax = ggmlMax(amax, std::fabs(xb[j]));
    float d = amax / 127;
    float id = d != 0 ? 1.0f / d : 0.0f;
    BlockQ8_0 block;
    block.d = toHalf(d);
    for (int j = 0; j < 32; ++j)
      block.qs[j] =
          static_cast<int8_t>(truncateToInt32(std::round(xb[j] * id)));
    std::memcpy(dst + b * sizeof(block), &block, sizeof(block));
  }
}

//===----------------------------------------------------------------------===//
// K-quants: packing shared by the reference and imatrix paths
//===----------------------------------------------------------------------===//

// 2-bit codes (0..3) of a super-block into Q2_K/Q3_K's qs.
void packTwoBit(const uint8_t *codes, uint8_t *qs) {
  for (int half = 0; half < 2; ++half)
    for (int l = 0; l < 32; ++l) {
      const uint8_t *c = codes + 128 * half + l;
      qs[32 * half + l] = static_cast<uint8_t>(c[0] | (c[32] << 2) |
                                               (c[64] << 4) | (c[96] << 6));
    }
}

// Q4_K/Q5_K scale and min of group g (both 6-bit) into scales[12]: groups
// 0..3 fill bytes g and g + 4; groups 4..7 put their low nibbles in byte
// g + 4 and their top 2 bits in bits 6..7 of bytes g - 4 (scale) and g
// (min). Must be called for g = 0..7 in order.
void packScaleMinK4(int g, uint8_t scale, uint8_t min, uint8_t *scales) {
  if (g < 4) {
    scales[g] = scale;
    scales[g + 4] = min;
    return;
  }
  scales[g + 4] = static_cast<uint8_t>((scale & 0xF) | ((min & 0xF) << 4));
  scales[g - 4] |= static_cast<uint8_t>((scale >> 4) << 6);
  scales[g] |= static_cast<uint8_t>((min >> 4) << 6);
}

} // namespace

int8_t quantopt::numerics::unpackScaleQ3K(int g, const uint8_t *scales) {
  int low = g < 8 ? scales[g] & 0xF : scales[g - 8] >> 4;
  int high = (scales[8 + g % 4] >> (2 * (g / 4))) & 3;
  return static_cast<int8_t>((low | (high << 4)) - 32);
}

void quantopt::numerics::unpackScaleMinK4(int g, const uint8_t *scales,
                                          uint8_t *scale, uint8_t *min) {
  if (g < 4) {
    *scale = scales[g] & 63;
    *min = scales[g + 4] & 63;
    return;
  }
  *scale =
      static_cast<uint8_t>((scales[g + 4] & 0xF) | ((scales[g - 4] >> 6) << 4));
  *min = static_cast<uint8_t>((scales[g + 4] >> 4) | ((scales[g] >> 6) << 4));
}

namespace {

// Q3_K: sixteen 6-bit scales (already offset by 32) into scales[12].
void packScalesQ3K(const int *levels, uint8_t *scales) {
  std::memset(scales, 0, 12);
  for (int g = 0; g < 16; ++g) {
    int l = levels[g];
    if (g < 8)
      scales[g] = static_cast<uint8_t>(l & 0xF);
    else
      scales[g - 8] |= static_cast<uint8_t>((l & 0xF) << 4);
    scales[8 + g % 4] |= static_cast<uint8_t>((l >> 4) << (2 * (g / 4)));
  }
}

// Recomputes the codes of the affine K-quants (Q2_K: 16 groups of 16, Q4_K
// and Q5_K: 8 groups of 32) from the stored f16 d and dmin and the integer
// sub-scales; groups whose effective scale is 0 keep their fitted codes.
template <typename ScaleMinOf>
void requantizeAffine(const float *x, int groupSize, int nmax, float d,
                      float dmin, ScaleMinOf scaleMinOf, uint8_t *codes) {
  for (int g = 0; g < kSuperBlock / groupSize; ++g) {
    int scale, min;
    scaleMinOf(g, &scale, &min);
    float groupScale = d * static_cast<float>(scale);
    if (groupScale == 0)
      continue;
    float groupMin = dmin * static_cast<float>(min);
    for (int i = 0; i < groupSize; ++i) {
      int l = nearestInt((x[groupSize * g + i] + groupMin) / groupScale);
      codes[groupSize * g + i] =
          static_cast<uint8_t>(std::max(0, std::min(nmax, l)));
    }
  }
}

//===----------------------------------------------------------------------===//
// Q2_K
//===----------------------------------------------------------------------===//

void finishQ2K(const float *x, BlockQ2_K &block, uint8_t *codes) {
  requantizeAffine(
      x, 16, 3, fromHalf(block.d), fromHalf(block.dmin),
      [&](int g, int *scale, int *min) {
        *scale = block.scales[g] & 0xF;
        *min = block.scales[g] >> 4;
      },
      codes);
  packTwoBit(codes, block.qs);
}

// Reference: per group make_qkx2_quants(|x| weights, MAD), then 4-bit
// sub-scales and mins relative to the largest of each.
void quantizeBlockQ2KRef(const float *x, BlockQ2_K &block) {
  uint8_t codes[kSuperBlock];
  float scales[16], mins[16], weights[16];
  float maxScale = 0, maxMin = 0;
  for (int g = 0; g < 16; ++g) {
    for (int l = 0; l < 16; ++l)
      weights[l] = std::fabs(x[16 * g + l]);
    scales[g] = fitAsymmetric(16, 3, x + 16 * g, weights, codes + 16 * g,
                              &mins[g], -0.5f, 0.1f, 15, true);
    if (scales[g] > maxScale)
      maxScale = scales[g];
    if (mins[g] > maxMin)
      maxMin = mins[g];
  }
  const float levelsMax = 15.f;
  if (maxScale > 0) {
    float iscale = levelsMax / maxScale;
    for (int g = 0; g < 16; ++g)
      block.scales[g] = static_cast<uint8_t>(nearestInt(iscale * scales[g]));
    block.d = toHalf(maxScale / levelsMax);
  } else {
    std::memset(block.scales, 0, sizeof(block.scales));
    block.d = toHalf(0.f);
  }
  if (maxMin > 0) {
    float iscale = levelsMax / maxMin;
    for (int g = 0; g < 16; ++g)
      block.scales[g] |=
          static_cast<uint8_t>(nearestInt(iscale * mins[g]) << 4);
    block.dmin = toHalf(maxMin / levelsMax);
  } else {
    block.dmin = toHalf(0.f);
  }
  finishQ2K(x, block, codes);
}

// imatrix: make_qkx3_quants per group, then make_qp_quants on the
// sub-scales and on the mins, weighted by each group's weight sum.
void quantizeBlockQ2KImatrix(const float *x, const float *importance,
                             BlockQ2_K &block) {
  uint8_t codes[kSuperBlock];
  float scales[16], mins[16], groupWeights[16], weights[16];
  float sigma2 = sumOfSquares(kSuperBlock, x) / kSuperBlock;
  for (int g = 0; g < 16; ++g) {
    importanceWeights(16, x + 16 * g, importance + 16 * g, sigma2, weights);
    groupWeights[g] = sumOf(16, weights);
    scales[g] = fitAsymmetric(16, 3, x + 16 * g, weights, codes + 16 * g,
                              &mins[g], -0.9f, 0.05f, 36, false);
  }
  uint8_t scaleLevels[16], minLevels[16];
  float d = fitNonNegative(16, 15, scales, scaleLevels, groupWeights);
  float dmin = fitNonNegative(16, 15, mins, minLevels, groupWeights);
  block.d = toHalf(d);
  block.dmin = toHalf(dmin);
  for (int g = 0; g < 16; ++g)
    block.scales[g] =
        static_cast<uint8_t>(scaleLevels[g] | (minLevels[g] << 4));
  finishQ2K(x, block, codes);
}

//===----------------------------------------------------------------------===//
// Q3_K
//===----------------------------------------------------------------------===//

// Recomputes the codes from the stored d and 6-bit scales, then splits off
// the high bit into hmask.
void finishQ3K(const float *x, BlockQ3_K &block, int8_t *levels) {
  float d = fromHalf(block.d);
  for (int g = 0; g < 16; ++g) {
    float groupScale = d * static_cast<float>(unpackScaleQ3K(g, block.scales));
    if (groupScale == 0)
      continue;
    for (int i = 0; i < 16; ++i) {
      int l = nearestInt(x[16 * g + i] / groupScale);
      levels[16 * g + i] =
          static_cast<int8_t>(std::max(-4, std::min(3, l)) + 4);
    }
  }
  std::memset(block.hmask, 0, sizeof(block.hmask));
  uint8_t low[kSuperBlock];
  for (int e = 0; e < kSuperBlock; ++e) {
    int l = levels[e];
    if (l > 3) {
      block.hmask[e % 32] |= static_cast<uint8_t>(1u << (e / 32));
      l -= 4;
    }
    low[e] = static_cast<uint8_t>(l);
  }
  packTwoBit(low, block.qs);
}

// Reference: make_q3_quants per group, 6-bit signed sub-scales relative to
// the sub-scale of largest magnitude (iscale = -32 / max).
void quantizeBlockQ3KRef(const float *x, BlockQ3_K &block) {
  int8_t levels[kSuperBlock];
  float scales[16];
  for (int g = 0; g < 16; ++g)
    scales[g] = fitSymmetricDescent(16, 4, x + 16 * g, levels + 16 * g);
  float amax;
  float maxScale = signedAbsMax(16, scales, &amax);
  if (maxScale != 0) {
    float iscale = -32.f / maxScale;
    int scaleLevels[16];
    for (int g = 0; g < 16; ++g) {
      auto l = static_cast<int8_t>(nearestInt(iscale * scales[g]));
      scaleLevels[g] = std::max<int>(-32, std::min<int>(31, l)) + 32;
    }
    packScalesQ3K(scaleLevels, block.scales);
    block.d = toHalf(1 / iscale);
  } else {
    std::memset(block.scales, 0, sizeof(block.scales));
    block.d = toHalf(0.f);
  }
  finishQ3K(x, block, levels);
}

// imatrix: make_qx_quants per group with the imatrix weights, then the
// sixteen sub-scales themselves with make_qx_quants(nmax 32), weighted by
// each group's weight sum.
void quantizeBlockQ3KImatrix(const float *x, const float *importance,
                             BlockQ3_K &block) {
  int8_t levels[kSuperBlock];
  float scales[16], groupWeights[16], weights[16];
  float sigma2 = 2 * sumOfSquares(kSuperBlock, x) / kSuperBlock;
  for (int g = 0; g < 16; ++g) {
    importanceWeights(16, x + 16 * g, importance + 16 * g, sigma2, weights);
    groupWeights[g] = sumOf(16, weights);
    scales[g] = fitSymmetric(16, 4, x + 16 * g, weights, levels + 16 * g);
  }
  int8_t scaleCodes[16];
  float d = fitSymmetric(16, 32, scales, groupWeights, scaleCodes);
  int scaleLevels[16];
  std::copy(scaleCodes, scaleCodes + 16, scaleLevels);
  packScalesQ3K(scaleLevels, block.scales);
  block.d = toHalf(d);
  finishQ3K(x, block, levels);
}

//===----------------------------------------------------------------------===//
// Q4_K and Q5_K
//===----------------------------------------------------------------------===//

void packCodesQ4K(const uint8_t *codes, BlockQ4_K &block) {
  for (int c = 0; c < 4; ++c)
    for (int l = 0; l < 32; ++l)
      block.qs[32 * c + l] = static_cast<uint8_t>(
          codes[64 * c + l] | (codes[64 * c + 32 + l] << 4));
}

void packCodesQ5K(const uint8_t *codes, BlockQ5_K &block) {
  std::memset(block.qh, 0, sizeof(block.qh));
  for (int c = 0; c < 4; ++c)
    for (int l = 0; l < 32; ++l) {
      int lo = codes[64 * c + l], hi = codes[64 * c + 32 + l];
      if (lo > 15) {
        lo -= 16;
        block.qh[l] |= static_cast<uint8_t>(1u << (2 * c));
      }
      if (hi > 15) {
        hi -= 16;
        block.qh[l] |= static_cast<uint8_t>(2u << (2 * c));
      }
      block.qs[32 * c + l] = static_cast<uint8_t>(lo | (hi << 4));
    }
}

// Shared by Q4_K (nmax 15) and Q5_K (nmax 31): fills d, dmin, scales and
// the codes; the caller packs the codes.
template <typename Block>
void quantizeBlockKAffine(const float *x, const float *importance, int nmax,
                          Block &block, uint8_t *codes) {
  float scales[8], mins[8], weights[32];
  uint8_t scaleLevels[8], minLevels[8];
  if (!importance) {
    // Reference: weights sqrt(mean x^2) + |x| per group of 32, 6-bit
    // sub-scales relative to the largest scale and the largest min.
    float rmin = nmax == 15 ? -1.f : -0.5f;
    int nstep = nmax == 15 ? 20 : 15;
    float maxScale = 0, maxMin = 0;
    for (int g = 0; g < 8; ++g) {
      const float *xg = x + 32 * g;
      float avX = std::sqrt(sumOfSquares(32, xg) / 32);
      for (int l = 0; l < 32; ++l)
        weights[l] = avX + std::fabs(xg[l]);
      scales[g] = fitAsymmetric(32, nmax, xg, weights, codes + 32 * g, &mins[g],
                                rmin, 0.1f, nstep, false);
      if (scales[g] > maxScale)
        maxScale = scales[g];
      if (mins[g] > maxMin)
        maxMin = mins[g];
    }
    float invScale = maxScale > 0 ? 63.f / maxScale : 0.f;
    float invMin = maxMin > 0 ? 63.f / maxMin : 0.f;
    for (int g = 0; g < 8; ++g) {
      auto ls = static_cast<uint8_t>(nearestInt(invScale * scales[g]));
      auto lm = static_cast<uint8_t>(nearestInt(invMin * mins[g]));
      scaleLevels[g] = std::min<uint8_t>(63, ls);
      minLevels[g] = std::min<uint8_t>(63, lm);
    }
    block.d = toHalf(maxScale / 63.f);
    block.dmin = toHalf(maxMin / 63.f);
  } else {
    // imatrix: make_qkx3_quants per group, make_qp_quants on the
    // sub-scales and mins weighted by each group's weight sum.
    float groupWeights[8];
    float sigma2 = 2 * sumOfSquares(kSuperBlock, x) / kSuperBlock;
    for (int g = 0; g < 8; ++g) {
      const float *xg = x + 32 * g;
      importanceWeights(32, xg, importance + 32 * g, sigma2, weights);
      groupWeights[g] = sumOf(32, weights);
      scales[g] = fitAsymmetric(32, nmax, xg, weights, codes + 32 * g, &mins[g],
                                -0.9f, 0.05f, 36, false);
    }
    float d = fitNonNegative(8, 63, scales, scaleLevels, groupWeights);
    float dmin = fitNonNegative(8, 63, mins, minLevels, groupWeights);
    block.d = toHalf(d);
    block.dmin = toHalf(dmin);
    // Only ggml's Q5_K caps these; a negative sub-scale wraps past 63.
    if (nmax == 31)
      for (int g = 0; g < 8; ++g) {
        scaleLevels[g] = std::min<uint8_t>(63, scaleLevels[g]);
        minLevels[g] = std::min<uint8_t>(63, minLevels[g]);
      }
  }
  for (int g = 0; g < 8; ++g)
    packScaleMinK4(g, scaleLevels[g], minLevels[g], block.scales);
  requantizeAffine(
      x, 32, nmax, fromHalf(block.d), fromHalf(block.dmin),
      [&](int g, int *scale, int *min) {
        uint8_t sc, mn;
        unpackScaleMinK4(g, block.scales, &sc, &mn);
        *scale = sc;
        *min = mn;
      },
      codes);
}

//===----------------------------------------------------------------------===//
// Q6_K
//===----------------------------------------------------------------------===//

// Reference (importance null, weights x^2) and imatrix (raw importance as
// weights) differ only in make_qx_quants' weights.
void quantizeBlockQ6K(const float *x, const float *importance,
                      BlockQ6_K &block) {
  int8_t levels[kSuperBlock];
  float scales[16];
  for (int g = 0; g < 16; ++g)
    scales[g] = fitSymmetric(16, 32, x + 16 * g,
                             importance ? importance + 16 * g : nullptr,
                             levels + 16 * g);
  float maxAbsScale;
  float maxScale = signedAbsMax(16, scales, &maxAbsScale);
  if (maxAbsScale < kGroupMaxEps) {
    std::memset(&block, 0, sizeof(block));
    block.d = toHalf(0.f);
    return;
  }
  float iscale = -128.f / maxScale;
  block.d = toHalf(1 / iscale);
  for (int g = 0; g < 16; ++g)
    block.scales[g] =
        static_cast<int8_t>(std::min(127, nearestInt(iscale * scales[g])));
  float d = fromHalf(block.d);
  for (int g = 0; g < 16; ++g) {
    float groupScale = d * static_cast<float>(block.scales[g]);
    if (groupScale == 0)
      continue;
    for (int i = 0; i < 16; ++i) {
      int l = nearestInt(x[16 * g + i] / groupScale);
      levels[16 * g + i] =
          static_cast<int8_t>(std::max(-32, std::min(31, l)) + 32);
    }
  }
  for (int half = 0; half < 2; ++half) {
    const int8_t *c = levels + 128 * half;
    uint8_t *ql = block.ql + 64 * half;
    uint8_t *qh = block.qh + 32 * half;
    for (int l = 0; l < 32; ++l) {
      ql[l] = static_cast<uint8_t>((c[l] & 0xF) | ((c[l + 64] & 0xF) << 4));
      ql[l + 32] =
          static_cast<uint8_t>((c[l + 32] & 0xF) | ((c[l + 96] & 0xF) << 4));
      qh[l] = static_cast<uint8_t>((c[l] >> 4) | ((c[l + 32] >> 4) << 2) |
                                   ((c[l + 64] >> 4) << 4) |
                                   ((c[l + 96] >> 4) << 6));
    }
  }
}

//===----------------------------------------------------------------------===//
// Row drivers
//===----------------------------------------------------------------------===//

void quantizeBlockQ2K(const float *x, const float *importance,
                      BlockQ2_K &block) {
  importance ? quantizeBlockQ2KImatrix(x, importance, block)
             : quantizeBlockQ2KRef(x, block);
}

void quantizeBlockQ3K(const float *x, const float *importance,
                      BlockQ3_K &block) {
  importance ? quantizeBlockQ3KImatrix(x, importance, block)
             : quantizeBlockQ3KRef(x, block);
}

void quantizeBlockQ4K(const float *x, const float *importance,
                      BlockQ4_K &block) {
  uint8_t codes[kSuperBlock];
  quantizeBlockKAffine(x, importance, 15, block, codes);
  packCodesQ4K(codes, block);
}

void quantizeBlockQ5K(const float *x, const float *importance,
                      BlockQ5_K &block) {
  uint8_t codes[kSuperBlock];
  quantizeBlockKAffine(x, importance, 31, block, codes);
  packCodesQ5K(codes, block);
}

// Runs a super-block quantizer over a row; the importance of block b starts
// at importance + 256 b.
template <typename Block,
          void (*QuantizeBlock)(const float *, const float *, Block &)>
void quantizeRowK(const float *x, int64_t n, const float *importance,
                  uint8_t *dst) {
  for (int64_t b = 0; b < n / kSuperBlock; ++b) {
    Block block;
    QuantizeBlock(x + kSuperBlock * b,
                  importance ? importance + kSuperBlock * b : nullptr, block);
    std::memcpy(dst + b * sizeof(Block), &block, sizeof(Block));
  }
}

//===----------------------------------------------------------------------===//
// Dequantization (ggml's dequantize_row_*, same operation order)
//===----------------------------------------------------------------------===//

template <typename Block, int BlockElements, typename DecodeBlock>
void dequantizeRowBlocks(const uint8_t *src, int64_t n, float *y,
                         DecodeBlock decodeBlock) {
  for (int64_t b = 0; b < n / BlockElements; ++b) {
    Block block;
    std::memcpy(&block, src + b * sizeof(Block), sizeof(Block));
    decodeBlock(block, y + BlockElements * b);
  }
}

uint32_t loadU32(const uint8_t *bytes) {
  return uint32_t(bytes[0]) | uint32_t(bytes[1]) << 8 |
         uint32_t(bytes[2]) << 16 | uint32_t(bytes[3]) << 24;
}

void dequantizeRowQ4_0(const uint8_t *src, int64_t n, float *y) {
  dequantizeRowBlocks<BlockQ4_0, 32>(
      src, n, y, [](const BlockQ4_0 &b, float *out) {
        float d = fromHalf(b.d);
        for (int j = 0; j < 16; ++j) {
          out[j] = static_cast<float>((b.qs[j] & 0x0F) - 8) * d;
          out[j + 16] = static_cast<float>((b.qs[j] >> 4) - 8) * d;
        }
      });
}

void dequantizeRowQ4_1(const uint8_t *src, int64_t n, float *y) {
  dequantizeRowBlocks<BlockQ4_1, 32>(
      src, n, y, [](const BlockQ4_1 &b, float *out) {
        float d = fromHalf(b.d), m = fromHalf(b.m);
        for (int j = 0; j < 16; ++j) {
          out[j] = static_cast<float>(b.qs[j] & 0x0F) * d + m;
          out[j + 16] = static_cast<float>(b.qs[j] >> 4) * d + m;
        }
      });
}

// The 5-bit codes of a Q5_0/Q5_1 block.
void unpackFiveBit(const uint8_t *qs, const uint8_t *qhBytes, int *codes) {
  uint32_t qh = loadU32(qhBytes);
  for (int j = 0; j < 16; ++j) {
    codes[j] = (qs[j] & 0x0F) | int((qh >> j) << 4 & 0x10);
    codes[j + 16] = (qs[j] >> 4) | int((qh >> (j + 12)) & 0x10);
  }
}

void dequantizeRowQ5_0(const uint8_t *src, int64_t n, float *y) {
  dequantizeRowBlocks<BlockQ5_0, 32>(
      src, n, y, [](const BlockQ5_0 &b, float *out) {
        float d = fromHalf(b.d);
        int codes[32];
        unpackFiveBit(b.qs, b.qh, codes);
        for (int j = 0; j < 32; ++j)
          out[j] = static_cast<float>(codes[j] - 16) * d;
      });
}

void dequantizeRowQ5_1(const uint8_t *src, int64_t n, float *y) {
  dequantizeRowBlocks<BlockQ5_1, 32>(
      src, n, y, [](const BlockQ5_1 &b, float *out) {
        float d = fromHalf(b.d), m = fromHalf(b.m);
        int codes[32];
        unpackFiveBit(b.qs, b.qh, codes);
        for (int j = 0; j < 32; ++j)
          out[j] = static_cast<float>(codes[j]) * d + m;
      });
}

void dequantizeRowQ8_0(const uint8_t *src, int64_t n, float *y) {
  dequantizeRowBlocks<BlockQ8_0, 32>(
      src, n, y, [](const BlockQ8_0 &b, float *out) {
        float d = fromHalf(b.d);
        for (int j = 0; j < 32; ++j)
          out[j] = static_cast<float>(b.qs[j]) * d;
      });
}

// The 2-bit field of element e of a Q2_K/Q3_K qs array.
int twoBitCode(const uint8_t *qs, int e) {
  int half = e / 128, shift = 2 * ((e % 128) / 32), l = e % 32;
  return (qs[32 * half + l] >> shift) & 3;
}

void dequantizeRowQ2_K(const uint8_t *src, int64_t n, float *y) {
  dequantizeRowBlocks<BlockQ2_K, kSuperBlock>(
      src, n, y, [](const BlockQ2_K &b, float *out) {
        float d = fromHalf(b.d), dmin = fromHalf(b.dmin);
        for (int g = 0; g < 16; ++g) {
          float dl = d * static_cast<float>(b.scales[g] & 0xF);
          float ml = dmin * static_cast<float>(b.scales[g] >> 4);
          for (int i = 0; i < 16; ++i)
            out[16 * g + i] =
                dl * static_cast<float>(twoBitCode(b.qs, 16 * g + i)) - ml;
        }
      });
}

void dequantizeRowQ3_K(const uint8_t *src, int64_t n, float *y) {
  dequantizeRowBlocks<BlockQ3_K, kSuperBlock>(
      src, n, y, [](const BlockQ3_K &b, float *out) {
        float d = fromHalf(b.d);
        for (int g = 0; g < 16; ++g) {
          float dl = d * static_cast<float>(unpackScaleQ3K(g, b.scales));
          for (int i = 0; i < 16; ++i) {
            int e = 16 * g + i;
            int high = (b.hmask[e % 32] >> (e / 32)) & 1;
            out[e] =
                dl * static_cast<float>(twoBitCode(b.qs, e) - (high ? 0 : 4));
          }
        }
      });
}

// Q4_K and Q5_K: `codeOf(block, e)` gives the unsigned code of element e.
template <typename Block, typename CodeOf>
void dequantizeRowKAffine(const uint8_t *src, int64_t n, float *y,
                          CodeOf codeOf) {
  dequantizeRowBlocks<Block, kSuperBlock>(
      src, n, y, [&](const Block &b, float *out) {
        float d = fromHalf(b.d), dmin = fromHalf(b.dmin);
        for (int g = 0; g < 8; ++g) {
          uint8_t sc, mn;
          unpackScaleMinK4(g, b.scales, &sc, &mn);
          float dl = d * static_cast<float>(sc);
          float ml = dmin * static_cast<float>(mn);
          for (int i = 0; i < 32; ++i)
            out[32 * g + i] =
                dl * static_cast<float>(codeOf(b, 32 * g + i)) - ml;
        }
      });
}

void dequantizeRowQ4_K(const uint8_t *src, int64_t n, float *y) {
  dequantizeRowKAffine<BlockQ4_K>(src, n, y, [](const BlockQ4_K &b, int e) {
    int c = e / 64, l = e % 32;
    return e % 64 < 32 ? b.qs[32 * c + l] & 0xF : b.qs[32 * c + l] >> 4;
  });
}

void dequantizeRowQ5_K(const uint8_t *src, int64_t n, float *y) {
  dequantizeRowKAffine<BlockQ5_K>(src, n, y, [](const BlockQ5_K &b, int e) {
    int c = e / 64, l = e % 32, upper = (e % 64) / 32;
    int low = upper ? b.qs[32 * c + l] >> 4 : b.qs[32 * c + l] & 0xF;
    int high = (b.qh[l] >> (2 * c + upper)) & 1;
    return low + (high ? 16 : 0);
  });
}

void dequantizeRowQ6_K(const uint8_t *src, int64_t n, float *y) {
  dequantizeRowBlocks<BlockQ6_K, kSuperBlock>(
      src, n, y, [](const BlockQ6_K &b, float *out) {
        float d = fromHalf(b.d);
        for (int e = 0; e < kSuperBlock; ++e) {
          int half = e / 128, s = (e % 128) / 32, l = e % 32;
          uint8_t lowByte = b.ql[64 * half + 32 * (s & 1) + l];
          int low = s < 2 ? lowByte & 0xF : lowByte >> 4;
          int high = (b.qh[32 * half + l] >> (2 * s)) & 3;
          int q = (low | (high << 4)) - 32;
          out[e] =
              d * static_cast<float>(b.scales[e / 16]) * static_cast<float>(q);
        }
      });
}

//===----------------------------------------------------------------------===//
// Plain element types
//===----------------------------------------------------------------------===//

void quantizeRowF32(const float *x, int64_t n, const float *, uint8_t *dst) {
  std::memcpy(dst, x, n * sizeof(float));
}

void dequantizeRowF32(const uint8_t *src, int64_t n, float *y) {
  std::memcpy(y, src, n * sizeof(float));
}

template <uint16_t (*ToBits)(float)>
void quantizeRowHalfWidth(const float *x, int64_t n, const float *,
                          uint8_t *dst) {
  for (int64_t j = 0; j < n; ++j) {
    uint16_t bits = ToBits(x[j]);
    dst[2 * j] = static_cast<uint8_t>(bits);
    dst[2 * j + 1] = static_cast<uint8_t>(bits >> 8);
  }
}

template <float (*FromBits)(uint16_t)>
void dequantizeRowHalfWidth(const uint8_t *src, int64_t n, float *y) {
  for (int64_t j = 0; j < n; ++j)
    y[j] = FromBits(static_cast<uint16_t>(src[2 * j] | src[2 * j + 1] << 8));
}

//===----------------------------------------------------------------------===//
// Dispatch
//===----------------------------------------------------------------------===//

using QuantizeRowFn = void (*)(const float *, int64_t, const float *,
                               uint8_t *);
using DequantizeRowFn = void (*)(const uint8_t *, int64_t, float *);

struct RowCodec {
  GGMLType type;
  size_t blockBytes; // sizeof the block struct, checked against GGMLTypes.h
  QuantizeRowFn quantize;
  DequantizeRowFn dequantize;
};

const RowCodec *findCodec(GGMLType type) {
  static const RowCodec codecs[] = {
      {GGMLType::F32, 4, quantizeRowF32, dequantizeRowF32},
      {GGMLType::F16, 2, quantizeRowHalfWidth<toF16Bits>,
       dequantizeRowHalfWidth<fromF16Bits>},
      {GGMLType::BF16, 2, quantizeRowHalfWidth<toBF16Bits>,
       dequantizeRowHalfWidth<fromBF16Bits>},
      {GGMLType::Q4_0, sizeof(BlockQ4_0),
       quantizeRowLegacySymmetric<BlockQ4_0, 8>, dequantizeRowQ4_0},
      {GGMLType::Q4_1, sizeof(BlockQ4_1),
       quantizeRowLegacyAffine<BlockQ4_1, 15>, dequantizeRowQ4_1},
      {GGMLType::Q5_0, sizeof(BlockQ5_0),
       quantizeRowLegacySymmetric<BlockQ5_0, 16>, dequantizeRowQ5_0},
      {GGMLType::Q5_1, sizeof(BlockQ5_1),
       quantizeRowLegacyAffine<BlockQ5_1, 31>, dequantizeRowQ5_1},
      {GGMLType::Q8_0, sizeof(BlockQ8_0), quantizeRowQ8_0, dequantizeRowQ8_0},
      {GGMLType::Q2_K, sizeof(BlockQ2_K),
       quantizeRowK<BlockQ2_K, quantizeBlockQ2K>, dequantizeRowQ2_K},
      {GGMLType::Q3_K, sizeof(BlockQ3_K),
       quantizeRowK<BlockQ3_K, quantizeBlockQ3K>, dequantizeRowQ3_K},
      {GGMLType::Q4_K, sizeof(BlockQ4_K),
       quantizeRowK<BlockQ4_K, quantizeBlockQ4K>, dequantizeRowQ4_K},
      {GGMLType::Q5_K, sizeof(BlockQ5_K),
       quantizeRowK<BlockQ5_K, quantizeBlockQ5K>, dequantizeRowQ5_K},
      {GGMLType::Q6_K, sizeof(BlockQ6_K),
       quantizeRowK<BlockQ6_K, quantizeBlockQ6K>, dequantizeRowQ6_K},
  };
  for (const RowCodec &codec : codecs)
    if (codec.type == type) {
      assert(static_cast<int64_t>(codec.blockBytes) ==
                 getGGMLTypeTraits(type).blockBytes &&
             "block struct disagrees with GGMLTypes.h");
      return &codec;
    }
  return nullptr;
}

// Validates a call; returns the codec or null with `*error` set.
const RowCodec *checkCall(GGMLType type, int64_t rows, int64_t cols,
                          std::string *error) {
  auto fail = [&](std::string message) -> const RowCodec * {
    if (error)
      *error = std::move(message);
    return nullptr;
  };
  const RowCodec *codec = findCodec(type);
  std::optional<GGMLTypeTraits> traits =
      getGGMLTypeTraits(static_cast<uint32_t>(type));
  if (!codec || !traits)
    return fail("unsupported ggml type id " +
                std::to_string(static_cast<uint32_t>(type)));
  if (rows < 0 || cols < 0)
    return fail("negative matrix size");
  if (cols % traits->blockElements != 0)
    return fail(std::string(traits->name) + " rows must be a multiple of " +
                std::to_string(traits->blockElements) + " elements, got " +
                std::to_string(cols));
  return codec;
}

} // namespace

bool quantopt::numerics::isGGMLQuantSupported(GGMLType type) {
  return findCodec(type) != nullptr;
}

int64_t quantopt::numerics::ggmlRowBytes(GGMLType type, int64_t cols) {
  std::optional<GGMLTypeTraits> traits =
      getGGMLTypeTraits(static_cast<uint32_t>(type));
  if (!traits || cols < 0 || cols % traits->blockElements != 0)
    return -1;
  return cols / traits->blockElements * traits->blockBytes;
}

double quantopt::numerics::ggmlBitsPerWeight(GGMLType type) {
  std::optional<GGMLTypeTraits> traits =
      getGGMLTypeTraits(static_cast<uint32_t>(type));
  if (!traits)
    return 0;
  return 8.0 * static_cast<double>(traits->blockBytes) /
         static_cast<double>(traits->blockElements);
}

bool quantopt::numerics::quantizeGGMLRows(GGMLType type, const float *src,
                                          int64_t rows, int64_t cols,
                                          const float *importance, uint8_t *dst,
                                          std::string *error) {
  const RowCodec *codec = checkCall(type, rows, cols, error);
  if (!codec)
    return false;
  int64_t rowBytes = ggmlRowBytes(type, cols);
  for (int64_t r = 0; r < rows; ++r)
    codec->quantize(src + r * cols, cols, importance, dst + r * rowBytes);
  return true;
}

bool quantopt::numerics::dequantizeGGMLRows(GGMLType type, const uint8_t *src,
                                            int64_t rows, int64_t cols,
                                            float *dst, std::string *error) {
  const RowCodec *codec = checkCall(type, rows, cols, error);
  if (!codec)
    return false;
  int64_t rowBytes = ggmlRowBytes(type, cols);
  for (int64_t r = 0; r < rows; ++r)
    codec->dequantize(src + r * rowBytes, cols, dst + r * cols);
  return true;
}
