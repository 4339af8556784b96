//===- AWQ.cpp - Activation-aware weight quantization ---------------------===//
//
// Part of the quant-opt project, under the Apache License v2.0 with LLVM
// Exceptions.
//
//===----------------------------------------------------------------------===//

#include "quant/Numerics/AWQ.h"
#include "quant/Numerics/Numerics.h"

#include <cblas.h>

#include <algorithm>
#include <cmath>
#include <limits>

using namespace quantopt::numerics;

/// [begin, end) columns of group `g`.
static std::pair<int64_t, int64_t> groupRange(int64_t g, int64_t cols,
                                              int64_t groupSize) {
  if (groupSize <= 0 || groupSize >= cols)
    return {0, cols};
  return {g * groupSize, std::min(cols, (g + 1) * groupSize)};
}

static int64_t groupCount(int64_t cols, int64_t groupSize) {
  if (groupSize <= 0 || groupSize >= cols)
    return 1;
  return (cols + groupSize - 1) / groupSize;
}

AWQQuantized quantopt::numerics::awqQuantize(const float *weight, int64_t rows,
                                             int64_t cols, unsigned bits,
                                             int64_t groupSize) {
  AWQQuantized q;
  q.groups = groupCount(cols, groupSize);
  q.codes.resize(rows * cols);
  q.scales.resize(rows * q.groups);
  q.zeros.resize(rows * q.groups);
  float qmax = float((1u << bits) - 1);
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t g = 0; g < q.groups; ++g) {
      auto [begin, end] = groupRange(g, cols, groupSize);
      const float *w = weight + r * cols;
      float lo = w[begin], hi = w[begin];
      for (int64_t c = begin; c < end; ++c) {
        lo = std::min(lo, w[c]);
        hi = std::max(hi, w[c]);
      }
      float scale = std::max(hi - lo, 1e-5f) / qmax;
      float zero = std::clamp(-roundHalfEven(lo / scale), 0.0f, qmax);
      for (int64_t c = begin; c < end; ++c)
        q.codes[r * cols + c] =
            uint8_t(std::clamp(roundHalfEven(w[c] / scale) + zero, 0.0f, qmax));
      q.scales[r * q.groups + g] = scale;
      q.zeros[r * q.groups + g] = int32_t(zero);
    }
  return q;
}

std::vector<float> quantopt::numerics::awqDequantize(const AWQQuantized &q,
                                                     int64_t rows, int64_t cols,
                                                     int64_t groupSize) {
  std::vector<float> out(rows * cols);
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t g = 0; g < q.groups; ++g) {
      auto [begin, end] = groupRange(g, cols, groupSize);
      float scale = q.scales[r * q.groups + g];
      float zero = float(q.zeros[r * q.groups + g]);
      for (int64_t c = begin; c < end; ++c)
        out[r * cols + c] = (float(q.codes[r * cols + c]) - zero) * scale;
    }
  return out;
}

/// y = x · wᵀ for x [tokens, k], w [rows, k].
static std::vector<float> linearForward(const std::vector<float> &x,
                                        int64_t tokens, int64_t k,
                                        const float *w, int64_t rows) {
  std::vector<float> y(tokens * rows);
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, int(tokens), int(rows),
              int(k), 1.0f, x.data(), int(k), w, int(k), 0.0f, y.data(),
              int(rows));
  return y;
}

AWQScaleResult quantopt::numerics::awqSearchScales(
    const std::vector<float> &x, int64_t tokens, int64_t k,
    const std::vector<const std::vector<float> *> &weights,
    const std::vector<int64_t> &rows, const AWQScaleSearch &options,
    const AWQObjective &objective) {
  // Mean |x| per channel.
  std::vector<float> xMean(k, 0.0f);
  {
    std::vector<double> sum(k, 0.0);
    for (int64_t t = 0; t < tokens; ++t)
      for (int64_t j = 0; j < k; ++j)
        sum[j] += std::fabs(x[t * k + j]);
    for (int64_t j = 0; j < k; ++j)
      xMean[j] = float(sum[j] / double(tokens));
  }
  // AutoAWQ's w_mean: |W| normalised by each group's max, averaged over rows.
  std::vector<float> wMean(k, 0.0f);
  if (options.duoScaling) {
    std::vector<double> sum(k, 0.0);
    int64_t totalRows = 0;
    for (size_t i = 0; i < weights.size(); ++i) {
      const std::vector<float> &w = *weights[i];
      int64_t groups = groupCount(k, options.groupSize);
      for (int64_t r = 0; r < rows[i]; ++r)
        for (int64_t g = 0; g < groups; ++g) {
          auto [begin, end] = groupRange(g, k, options.groupSize);
          float m = 0.0f;
          for (int64_t c = begin; c < end; ++c)
            m = std::max(m, std::fabs(w[r * k + c]));
          for (int64_t c = begin; c < end; ++c)
            sum[c] += std::fabs(w[r * k + c]) / (m + 1e-6f);
        }
      totalRows += rows[i];
    }
    for (int64_t j = 0; j < k; ++j)
      wMean[j] = float(sum[j] / double(totalRows));
  }

  // The default objective: the outputs of the linears themselves.
  std::vector<std::vector<float>> reference;
  if (!objective)
    for (size_t i = 0; i < weights.size(); ++i)
      reference.push_back(
          linearForward(x, tokens, k, weights[i]->data(), rows[i]));
  auto linearLoss = [&](const std::vector<std::vector<float>> &candidate) {
    double loss = 0;
    int64_t count = 0;
    for (size_t i = 0; i < candidate.size(); ++i) {
      std::vector<float> y =
          linearForward(x, tokens, k, candidate[i].data(), rows[i]);
      for (size_t e = 0; e < y.size(); ++e) {
        double d = double(reference[i][e]) - double(y[e]);
        loss += d * d;
      }
      count += int64_t(y.size());
    }
    return loss / double(std::max<int64_t>(count, 1));
  };

  AWQScaleResult result;
  result.scales.assign(k, 1.0f);
  double best = std::numeric_limits<double>::infinity();
  std::vector<float> s(k), scaled;
  for (int64_t step = 0; step < options.grid; ++step) {
    float ratio = float(step) / float(options.grid);
    for (int64_t j = 0; j < k; ++j) {
      float v = options.duoScaling
                    ? std::pow(xMean[j], ratio) /
                          (std::pow(wMean[j], 1.0f - ratio) + 1e-4f)
                    : std::pow(xMean[j], ratio);
      s[j] = std::max(v, 1e-4f);
    }
    float sMax = *std::max_element(s.begin(), s.end());
    float sMin = *std::min_element(s.begin(), s.end());
    float norm = std::sqrt(sMax * sMin);
    for (float &v : s)
      v /= norm;
    std::vector<std::vector<float>> candidate;
    for (size_t i = 0; i < weights.size(); ++i) {
      const std::vector<float> &w = *weights[i];
      scaled.resize(w.size());
      for (int64_t r = 0; r < rows[i]; ++r)
        for (int64_t j = 0; j < k; ++j)
          scaled[r * k + j] = w[r * k + j] * s[j];
      AWQQuantized q = awqQuantize(scaled.data(), rows[i], k, options.bits,
                                   options.groupSize);
      std::vector<float> back = awqDequantize(q, rows[i], k, options.groupSize);
      for (int64_t r = 0; r < rows[i]; ++r)
        for (int64_t j = 0; j < k; ++j)
          back[r * k + j] /= s[j];
      candidate.push_back(std::move(back));
    }
    double loss = objective ? objective(candidate) : linearLoss(candidate);
    result.losses.push_back(loss);
    if (loss < best) {
      best = loss;
      result.bestRatio = ratio;
      result.scales = s;
    }
  }
  return result;
}

std::vector<float> quantopt::numerics::awqClipWeight(
    const std::vector<float> &x, int64_t tokens,
    const std::vector<float> &weight, int64_t rows, int64_t k, unsigned bits,
    int64_t groupSize, int64_t grid, double maxShrink, int64_t sampleTokens) {
  // Every (tokens / sampleTokens)-th token, as the reference samples.
  int64_t stride = std::max<int64_t>(1, tokens / sampleTokens);
  std::vector<int64_t> picked;
  for (int64_t t = 0; t < tokens; t += stride)
    picked.push_back(t);
  int64_t groups = groupCount(k, groupSize);
  int64_t steps = int64_t(maxShrink * double(grid));
  std::vector<float> out = weight;
  std::vector<float> clipped;
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t g = 0; g < groups; ++g) {
      auto [begin, end] = groupRange(g, k, groupSize);
      int64_t size = end - begin;
      const float *w = weight.data() + r * k + begin;
      float orgMax = 0.0f;
      for (int64_t c = 0; c < size; ++c)
        orgMax = std::max(orgMax, std::fabs(w[c]));
      std::vector<double> reference(picked.size());
      for (size_t t = 0; t < picked.size(); ++t) {
        const float *xt = x.data() + picked[t] * k + begin;
        float acc = 0.0f;
        for (int64_t c = 0; c < size; ++c)
          acc += xt[c] * w[c];
        reference[t] = acc;
      }
      double bestErr = 1e9;
      float bestMax = orgMax;
      clipped.resize(size);
      for (int64_t step = 0; step < steps; ++step) {
        float maxVal = orgMax * (1.0f - float(step) / float(grid));
        for (int64_t c = 0; c < size; ++c)
          clipped[c] = std::clamp(w[c], -maxVal, maxVal);
        AWQQuantized q = awqQuantize(clipped.data(), 1, size, bits, size);
        std::vector<float> back = awqDequantize(q, 1, size, size);
        double err = 0;
        for (size_t t = 0; t < picked.size(); ++t) {
          const float *xt = x.data() + picked[t] * k + begin;
          float acc = 0.0f;
          for (int64_t c = 0; c < size; ++c)
            acc += xt[c] * back[c];
          double d = double(acc) - reference[t];
          err += d * d;
        }
        err /= double(picked.size());
        if (err < bestErr) {
          bestErr = err;
          bestMax = maxVal;
        }
      }
      for (int64_t c = 0; c < size; ++c)
        out[r * k + begin + c] = std::clamp(w[c], -bestMax, bestMax);
    }
  return out;
}
