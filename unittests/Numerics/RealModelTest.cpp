//===- RealModelTest.cpp - RTN on stories260K weights
//----------------------===//
//
// Part of the quant-opt project, under the Apache License v2.0 with LLVM
// Exceptions.
//
//===----------------------------------------------------------------------===//
//
// Quantizes real weights of the bundled llama2.c stories260K checkpoint with
// quantizeRTN (uint4, groups of 32, asymmetric) and compares against an
// independent, literal transcription of the GPTQ reference quantizer
// (docs/Numerics.md §2, quant.py find_params + quantize) in f32.
//
//===----------------------------------------------------------------------===//

#include "quant/Numerics/Numerics.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <fstream>
#include <string>
#include <vector>

using namespace quantopt::numerics;

namespace {

struct Checkpoint {
  int32_t dim, hiddenDim, nLayers, nHeads, nKvHeads, vocab, seqLen;
  std::vector<float> data; // everything after the header
};

bool loadCheckpoint(const std::string &path, Checkpoint &ck) {
  std::ifstream in(path, std::ios::binary);
  if (!in)
    return false;
  int32_t header[7];
  in.read(reinterpret_cast<char *>(header), sizeof(header));
  if (!in)
    return false;
  ck.dim = header[0];
  ck.hiddenDim = header[1];
  ck.nLayers = header[2];
  ck.nHeads = header[3];
  ck.nKvHeads = header[4];
  ck.vocab = header[5];
  ck.seqLen = header[6];
  in.seekg(0, std::ios::end);
  std::streamoff bytes = static_cast<std::streamoff>(in.tellg()) - 28;
  ck.data.resize(bytes / 4);
  in.seekg(28);
  in.read(reinterpret_cast<char *>(ck.data.data()), ck.data.size() * 4);
  return static_cast<bool>(in);
}

/// Offsets (in floats) of layer-0 wq and w2 in the llama2.c v0 layout:
/// token_embedding (vocab, dim), rms_att (L, dim), wq (L, dim, dim),
/// wk (L, kvDim, dim), wv (L, kvDim, dim), wo (L, dim, dim), rms_ffn (L, dim),
/// w1 (L, hidden, dim), w2 (L, dim, hidden), ...
struct Offsets {
  int64_t wq, w2;
};
Offsets layerZeroOffsets(const Checkpoint &ck) {
  int64_t dim = ck.dim, hidden = ck.hiddenDim, L = ck.nLayers;
  int64_t kvDim = dim * ck.nKvHeads / ck.nHeads;
  int64_t off = int64_t(std::abs(ck.vocab)) * dim; // token_embedding
  off += L * dim;                                  // rms_att
  Offsets o;
  o.wq = off;
  off += L * dim * dim;       // wq
  off += 2 * L * kvDim * dim; // wk, wv
  off += L * dim * dim;       // wo
  off += L * dim;             // rms_ffn
  off += L * hidden * dim;    // w1
  o.w2 = off;
  return o;
}

/// Reference: GPTQ quant.py, one row slice at a time, f32 arithmetic.
struct Reference {
  std::vector<uint8_t> codes;
  std::vector<float> scales, zeros;
};
Reference referenceRTN(const float *w, int64_t rows, int64_t cols,
                       int64_t group, int bits) {
  const float maxq = static_cast<float>((1 << bits) - 1);
  int64_t groups = (cols + group - 1) / group;
  Reference ref;
  ref.codes.resize(rows * cols);
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t g = 0; g < groups; ++g) {
      int64_t c0 = g * group, c1 = std::min(cols, c0 + group);
      // xmin = min(min(x), 0); xmax = max(max(x), 0)
      float xmin = 0.0f, xmax = 0.0f;
      for (int64_t c = c0; c < c1; ++c) {
        xmin = std::min(xmin, w[r * cols + c]);
        xmax = std::max(xmax, w[r * cols + c]);
      }
      if (xmin == 0.0f && xmax == 0.0f) {
        xmin = -1.0f;
        xmax = 1.0f;
      }
      float scale = (xmax - xmin) / maxq;
      // torch.round: half to even (nearbyint in the default rounding mode).
      float zero = std::nearbyint(-xmin / scale);
      ref.scales.push_back(scale);
      ref.zeros.push_back(zero);
      for (int64_t c = c0; c < c1; ++c) {
        float q = std::nearbyint(w[r * cols + c] / scale) + zero;
        q = std::min(std::max(q, 0.0f), maxq);
        ref.codes[r * cols + c] = static_cast<uint8_t>(q);
      }
    }
  return ref;
}

class RealModel : public ::testing::Test {
protected:
  void SetUp() override {
    std::string path =
        std::string(QUANT_MODELS_DIR) + "/stories260K/stories260K.bin";
    if (!loadCheckpoint(path, ck))
      GTEST_SKIP() << "model not found: " << path;
    ASSERT_EQ(ck.dim, 64);
    ASSERT_EQ(ck.hiddenDim, 172);
    ASSERT_EQ(ck.nLayers, 5);
    ASSERT_EQ(ck.nHeads, 8);
    ASSERT_EQ(ck.nKvHeads, 4);
    ASSERT_EQ(ck.vocab, 512);
    ASSERT_EQ(ck.seqLen, 512);
    off = layerZeroOffsets(ck);
    ASSERT_LE(off.w2 + 64 * 172, static_cast<int64_t>(ck.data.size()));
  }

  void checkMatrix(const float *w, int64_t rows, int64_t cols,
                   int64_t expectedGroups) {
    const int64_t group = 32;
    RTNOptions o;
    o.format = ElementFormat::ui4;
    o.groupSize = group;
    o.symmetric = false;
    RTNResult r = quantizeRTN(w, rows, cols, o);
    Reference ref = referenceRTN(w, rows, cols, group, 4);
    ASSERT_EQ(r.groups, expectedGroups);
    ASSERT_EQ(r.scaleRows, rows);
    ASSERT_EQ(r.scales.size(), ref.scales.size());
    ASSERT_EQ(r.zeros.size(), ref.zeros.size());

    int64_t codeMismatches = 0;
    for (size_t i = 0; i < r.codes.size(); ++i)
      codeMismatches += r.codes[i] != ref.codes[i];
    EXPECT_EQ(codeMismatches, 0) << "of " << r.codes.size();
    for (size_t i = 0; i < r.scales.size(); ++i) {
      EXPECT_EQ(r.scales[i], ref.scales[i]) << "group " << i;
      EXPECT_EQ(static_cast<float>(r.zeros[i]), ref.zeros[i]) << "group " << i;
    }

    // Dequantized error <= scale/2; no element should hit the clamp.
    int64_t clamped = 0;
    double sumSq = 0, sumSqW = 0;
    for (int64_t row = 0; row < rows; ++row)
      for (int64_t c = 0; c < cols; ++c) {
        size_t gi = row * expectedGroups + c / group;
        float s = r.scales[gi], z = static_cast<float>(r.zeros[gi]);
        float x = w[row * cols + c];
        float unclamped = std::nearbyint(x / s) + z;
        clamped += unclamped < 0.0f || unclamped > 15.0f;
        float d = dequantizeAffine(r.codes[row * cols + c], s, z);
        EXPECT_LE(std::fabs(d - x), 0.5f * s * (1.0f + 1e-5f))
            << "row " << row << " col " << c;
        sumSq += double(d - x) * (d - x);
        sumSqW += double(x) * x;
      }
    EXPECT_EQ(clamped, 0);
    // 4-bit g32 RTN keeps the relative error well below 20%.
    EXPECT_LT(std::sqrt(sumSq / sumSqW), 0.2);
  }

  Checkpoint ck;
  Offsets off;
};

TEST_F(RealModel, Layer0WqInt4G32) {
  checkMatrix(ck.data.data() + off.wq, 64, 64, 2);
}

TEST_F(RealModel, Layer0W2Int4G32RaggedK) {
  // K = 172 = 5*32 + 12: the sixth group is ragged.
  checkMatrix(ck.data.data() + off.w2, 64, 172, 6);
}

TEST_F(RealModel, WeightsLookSane) {
  // Guards the offsets: real weights are finite, not all zero, and small.
  for (int64_t base : {off.wq, off.w2}) {
    int64_t n = base == off.wq ? 64 * 64 : 64 * 172;
    float amax = 0;
    int64_t nonzero = 0;
    for (int64_t i = 0; i < n; ++i) {
      float v = ck.data[base + i];
      ASSERT_TRUE(std::isfinite(v));
      amax = std::max(amax, std::fabs(v));
      nonzero += v != 0.0f;
    }
    EXPECT_GT(nonzero, n * 9 / 10);
    EXPECT_LT(amax, 10.0f);
    EXPECT_GT(amax, 0.01f);
  }
  // rms_att layer 0 sits right before wq: RMSNorm weights are positive and
  // near 1, unlike projection weights.
  float meanRms = 0;
  for (int64_t i = 0; i < 64; ++i)
    meanRms += ck.data[512 * 64 + i] / 64;
  EXPECT_GT(meanRms, 0.2f);
}

} // namespace
