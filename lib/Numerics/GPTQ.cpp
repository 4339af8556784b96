//===- GPTQ.cpp - The GPTQ layer solver -----------------------------------===//
//
// Part of the quant-opt project, under the Apache License v2.0 with LLVM
// Exceptions.
//
//===----------------------------------------------------------------------===//

#include "quant/Numerics/GPTQ.h"
#include "quant/Numerics/Numerics.h"

#include <cblas.h>
#include <lapacke.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <numeric>
#include <thread>

using namespace quantopt::numerics;

//===----------------------------------------------------------------------===//
// HessianAccumulator
//===----------------------------------------------------------------------===//

HessianAccumulator::HessianAccumulator(int64_t columns)
    : k(columns), h(columns * columns, 0.0), absMax(columns, 0.0),
      absSum(columns, 0.0), sqSum(columns, 0.0) {}

HessianAccumulator HessianAccumulator::restore(
    int64_t columns, std::vector<double> hessian, std::vector<double> maxAbs,
    std::vector<double> meanAbs, std::vector<double> meanSquare, int64_t tokens,
    int64_t sequences) {
  HessianAccumulator acc;
  acc.k = columns;
  acc.n = sequences;
  acc.tokenCount = tokens;
  acc.h = std::move(hessian);
  acc.absMax = std::move(maxAbs);
  acc.absSum = std::move(meanAbs);
  acc.sqSum = std::move(meanSquare);
  for (double &v : acc.absSum)
    v *= double(tokens);
  for (double &v : acc.sqSum)
    v *= double(tokens);
  return acc;
}

void HessianAccumulator::addBatch(const float *x, int64_t tokens,
                                  int64_t batchSequences) {
  // The reference's running form: H *= n / (n + b); n += b; H += (2/n) XᵀX.
  double keep = double(n) / double(n + batchSequences);
  n += batchSequences;
  double scale = 2.0 / double(n);
  for (double &v : h)
    v *= keep;
  // H += scale · XᵀX on the lower triangle (dsyrk), in f64.
  std::vector<double> xd(tokens * k);
  for (int64_t t = 0; t < tokens; ++t)
    for (int64_t i = 0; i < k; ++i) {
      double xi = x[t * k + i];
      xd[t * k + i] = xi;
      absMax[i] = std::max(absMax[i], std::fabs(xi));
      absSum[i] += std::fabs(xi);
      sqSum[i] += xi * xi;
    }
  if (tokens > 0)
    cblas_dsyrk(CblasRowMajor, CblasLower, CblasTrans, int(k), int(tokens),
                scale, xd.data(), int(k), 1.0, h.data(), int(k));
  tokenCount += tokens;
  // Mirror the lower triangle.
  for (int64_t i = 0; i < k; ++i)
    for (int64_t j = i + 1; j < k; ++j)
      h[i * k + j] = h[j * k + i];
}

std::vector<double> HessianAccumulator::meanAbs() const {
  std::vector<double> out(k, 0.0);
  for (int64_t i = 0; i < k && tokenCount; ++i)
    out[i] = absSum[i] / double(tokenCount);
  return out;
}

std::vector<double> HessianAccumulator::meanSquare() const {
  std::vector<double> out(k, 0.0);
  for (int64_t i = 0; i < k && tokenCount; ++i)
    out[i] = sqSum[i] / double(tokenCount);
  return out;
}

//===----------------------------------------------------------------------===//
// The reference quantizer (quant.py), per row of a column range
//===----------------------------------------------------------------------===//

namespace {
struct RowParams {
  std::vector<float> scale;
  std::vector<float> zero; // integral values, as torch keeps them
};

float quantizeValue(float x, float scale, float zero, float maxq) {
  float q = std::fmin(std::fmax(roundHalfEven(x / scale) + zero, 0.0f), maxq);
  return scale * (q - zero);
}

/// find_params(W[:, c0:c1], weight=True): one (scale, zero) per row.
RowParams findParams(const std::vector<float> &w, int64_t rows, int64_t cols,
                     int64_t c0, int64_t c1, const GPTQOptions &o) {
  float maxq = float((1u << o.bits) - 1);
  RowParams p;
  p.scale.resize(rows);
  p.zero.resize(rows);
  std::vector<float> slice(c1 - c0);
  for (int64_t r = 0; r < rows; ++r) {
    std::copy(w.begin() + r * cols + c0, w.begin() + r * cols + c1,
              slice.begin());
    float xmin = 0.0f, xmax = 0.0f;
    for (float v : slice) {
      xmin = std::min(xmin, v);
      xmax = std::max(xmax, v);
    }
    if (o.symmetric) {
      xmax = std::max(std::fabs(xmin), xmax);
      if (xmin < 0.0f)
        xmin = -xmax;
    }
    if (xmin == 0.0f && xmax == 0.0f) {
      xmin = -1.0f;
      xmax = 1.0f;
    }
    float scale = (xmax - xmin) / maxq;
    float zero =
        o.symmetric ? (maxq + 1.0f) / 2.0f : roundHalfEven(-xmin / scale);
    if (o.mse) {
      // norm 2.4, grid 100, maxshrink 0.8; strict improvement.
      float best = INFINITY;
      for (int i = 0; i < 80; ++i) {
        float p = float(1.0 - double(i) / 100.0);
        float xmin1 = p * xmin, xmax1 = p * xmax;
        float scale1 = (xmax1 - xmin1) / maxq;
        float zero1 = o.symmetric ? zero : roundHalfEven(-xmin1 / scale1);
        float err = 0.0f;
        for (float v : slice)
          err += std::pow(std::fabs(quantizeValue(v, scale1, zero1, maxq) - v),
                          2.4f);
        if (err < best) {
          best = err;
          scale = scale1;
          zero = zero1;
        }
      }
    }
    p.scale[r] = scale;
    p.zero[r] = zero;
  }
  return p;
}

/// Runs `body(begin, end)` over row ranges on up to hardware_concurrency
/// threads (large layers only).
void parallelRows(int64_t rows,
                  const std::function<void(int64_t, int64_t)> &body) {
  unsigned threads = std::max(1u, std::thread::hardware_concurrency());
  if (rows < 256 || threads == 1) {
    body(0, rows);
    return;
  }
  std::vector<std::thread> pool;
  int64_t chunk = (rows + threads - 1) / threads;
  for (unsigned t = 1; t < threads && int64_t(t) * chunk < rows; ++t)
    pool.emplace_back(body, int64_t(t) * chunk,
                      std::min(rows, int64_t(t + 1) * chunk));
  body(0, std::min(rows, chunk));
  for (std::thread &th : pool)
    th.join();
}

/// In-place Cholesky factorisation A = L Lᵀ (lower, row-major, f64); the
/// strict upper triangle is zeroed.
bool cholesky(std::vector<double> &a, int64_t n) {
  if (LAPACKE_dpotrf(LAPACK_ROW_MAJOR, 'L', n, a.data(), n) != 0)
    return false;
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = i + 1; j < n; ++j)
      a[i * n + j] = 0.0;
  return true;
}

/// (L Lᵀ)⁻¹ from the lower factor L, as a full symmetric matrix.
std::vector<double> choleskyInverse(const std::vector<double> &l, int64_t n) {
  std::vector<double> inv = l;
  if (LAPACKE_dpotri(LAPACK_ROW_MAJOR, 'L', n, inv.data(), n) != 0)
    return {};
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = i + 1; j < n; ++j)
      inv[i * n + j] = inv[j * n + i];
  return inv;
}
} // namespace

bool quantopt::numerics::gptqQuantize(const float *wIn, int64_t rows,
                                      int64_t cols,
                                      const std::vector<double> &hessian,
                                      const GPTQOptions &o, GPTQResult &result,
                                      std::string &error) {
  if (int64_t(hessian.size()) != cols * cols) {
    error = "the Hessian is " + std::to_string(hessian.size()) +
            " values, expected " + std::to_string(cols * cols);
    return false;
  }
  for (double v : hessian)
    if (!std::isfinite(v)) {
      error = "the Hessian contains NaN or Inf (non-finite calibration "
              "activations?)";
      return false;
    }
  if (o.bits < 2 || o.bits > 8) {
    error = "bits must be in 2..8";
    return false;
  }
  int64_t g = o.groupSize;
  float maxq = float((1u << o.bits) - 1);
  std::vector<float> w(wIn, wIn + rows * cols);
  std::vector<double> h = hessian;

  RowParams channel;
  if (g == -1)
    channel = findParams(w, rows, cols, 0, cols, o);
  // Dead inputs: H[i, i] = 1 and W[:, i] = 0.
  for (int64_t i = 0; i < cols; ++i)
    if (h[i * cols + i] == 0.0) {
      h[i * cols + i] = 1.0;
      for (int64_t r = 0; r < rows; ++r)
        w[r * cols + i] = 0.0f;
    }
  int64_t groupCount = g > 0 ? (cols + g - 1) / g : 1;
  std::vector<RowParams> staticGroups;
  if (g > 0 && o.staticGroups)
    for (int64_t c = 0; c < cols; c += g)
      staticGroups.push_back(
          findParams(w, rows, cols, c, std::min(cols, c + g), o));

  // Act-order: columns by decreasing diag(H), ties by original index.
  std::vector<int64_t> perm(cols);
  std::iota(perm.begin(), perm.end(), 0);
  if (o.actOrder) {
    std::stable_sort(perm.begin(), perm.end(), [&](int64_t a, int64_t b) {
      return h[a * cols + a] > h[b * cols + b];
    });
    std::vector<float> wp(w.size());
    std::vector<double> hp(h.size());
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t j = 0; j < cols; ++j)
        wp[r * cols + j] = w[r * cols + perm[j]];
    for (int64_t i = 0; i < cols; ++i)
      for (int64_t j = 0; j < cols; ++j)
        hp[i * cols + j] = h[perm[i] * cols + perm[j]];
    w.swap(wp);
    h.swap(hp);
  }

  // Damping, raised in steps of 1% of mean(diag) while Cholesky fails.
  double meanDiag = 0.0;
  for (int64_t i = 0; i < cols; ++i)
    meanDiag += h[i * cols + i];
  meanDiag /= double(cols);
  std::vector<double> factor;
  double damp = o.percDamp;
  while (true) {
    factor = h;
    for (int64_t i = 0; i < cols; ++i)
      factor[i * cols + i] += damp * meanDiag;
    if (cholesky(factor, cols))
      break;
    damp += 0.01;
    if (damp >= 1.0) {
      error = "the damped Hessian is not positive definite even with 100% "
              "damping";
      return false;
    }
    result.warnings.push_back("Cholesky failed; damping raised to " +
                              std::to_string(damp));
  }
  result.damping = float(damp);
  std::vector<double> hinv = choleskyInverse(factor, cols);
  if (hinv.empty() || !cholesky(hinv, cols)) {
    error = "the inverse Hessian is not positive definite";
    return false;
  }
  // Upper factor U = Lᵀ of Hinv, in f32 as the reference keeps it.
  std::vector<float> u(cols * cols);
  for (int64_t i = 0; i < cols; ++i)
    for (int64_t j = 0; j < cols; ++j)
      u[i * cols + j] = float(hinv[j * cols + i]);

  std::vector<float> q(rows * cols, 0.0f);
  std::vector<uint8_t> codesPerm(rows * cols, 0);
  result.groups = groupCount;
  result.scales.assign(rows * groupCount, 0.0f);
  result.zeros.assign(rows * groupCount, 0);
  double loss = 0.0;
  RowParams current = channel;
  int64_t bs = std::max<int64_t>(1, o.blockSize);
  std::vector<float> w1, err1;
  for (int64_t i1 = 0; i1 < cols; i1 += bs) {
    int64_t i2 = std::min(i1 + bs, cols), count = i2 - i1;
    w1.assign(rows * count, 0.0f);
    err1.assign(rows * count, 0.0f);
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t j = 0; j < count; ++j)
        w1[r * count + j] = w[r * cols + i1 + j];
    for (int64_t i = 0; i < count; ++i) {
      int64_t col = i1 + i;
      float d = u[col * cols + col];
      int64_t group = 0;
      if (g > 0) {
        if (!o.staticGroups) {
          if (col % g == 0)
            current =
                findParams(w, rows, cols, col, std::min(cols, col + g), o);
          group = col / g;
        } else {
          int64_t idx = o.actOrder ? perm[col] : col;
          group = idx / g;
          current = staticGroups[group];
        }
      }
      for (int64_t r = 0; r < rows; ++r) {
        float wv = w1[r * count + i];
        float s = current.scale[r], z = current.zero[r];
        float code =
            std::fmin(std::fmax(roundHalfEven(wv / s) + z, 0.0f), maxq);
        float qv = s * (code - z);
        q[r * cols + col] = qv;
        codesPerm[r * cols + col] = uint8_t(code);
        loss += double(wv - qv) * double(wv - qv) / (double(d) * d) / 2.0;
        float e = (wv - qv) / d;
        err1[r * count + i] = e;
        float *row = w1.data() + r * count;
        const float *urow = u.data() + col * cols + i1;
        for (int64_t j = i; j < count; ++j)
          row[j] -= e * urow[j];
        if (g > 0 && (o.staticGroups || col % g == 0)) {
          result.scales[r * groupCount + group] = s;
          result.zeros[r * groupCount + group] = int32_t(z);
        }
      }
    }
    // Lazy batch update of the remaining columns: W[:, i2:] -= Err1 · U,
    // each product summed in column order before it is subtracted. Rows
    // are independent, so they are split over threads; the summation order
    // (and so every code) does not depend on the thread count.
    if (i2 < cols)
      parallelRows(rows, [&](int64_t rowBegin, int64_t rowEnd) {
        std::vector<float> update(cols - i2);
        for (int64_t r = rowBegin; r < rowEnd; ++r) {
          const float *e = err1.data() + r * count;
          std::fill(update.begin(), update.end(), 0.0f);
          for (int64_t j = 0; j < count; ++j) {
            float ej = e[j];
            const float *urow = u.data() + (i1 + j) * cols + i2;
            float *out = update.data();
            for (int64_t c = 0, n = cols - i2; c < n; ++c)
              out[c] += ej * urow[c];
          }
          float *row = w.data() + r * cols + i2;
          for (int64_t c = 0, n = cols - i2; c < n; ++c)
            row[c] -= update[c];
        }
      });
  }
  if (g == -1)
    for (int64_t r = 0; r < rows; ++r) {
      result.scales[r] = channel.scale[r];
      result.zeros[r] = int32_t(channel.zero[r]);
    }

  // Back to the original column order.
  result.codes.assign(rows * cols, 0);
  std::vector<float> qOrig(rows * cols);
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t j = 0; j < cols; ++j) {
      result.codes[r * cols + perm[j]] = codesPerm[r * cols + j];
      qOrig[r * cols + perm[j]] = q[r * cols + j];
    }
  result.groupIndex.clear();
  if (g > 0 && o.actOrder && !o.staticGroups) {
    result.groupIndex.resize(cols);
    for (int64_t j = 0; j < cols; ++j)
      result.groupIndex[perm[j]] = int32_t(j / g);
  }
  result.loss = loss;

  // Relative output error tr(D H Dᵀ) / tr(W H Wᵀ) with the undamped H:
  // one product [D; W] · H, then row-wise dot products.
  std::vector<float> stacked(2 * rows * cols),
      hf(hessian.begin(), hessian.end());
  for (int64_t i = 0; i < rows * cols; ++i) {
    stacked[i] = wIn[i] - qOrig[i];
    stacked[rows * cols + i] = wIn[i];
  }
  std::vector<float> product(2 * rows * cols);
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, int(2 * rows),
              int(cols), int(cols), 1.0f, stacked.data(), int(cols), hf.data(),
              int(cols), 0.0f, product.data(), int(cols));
  double num = 0.0, den = 0.0;
  for (int64_t i = 0; i < rows * cols; ++i) {
    num += double(stacked[i]) * product[i];
    den += double(stacked[rows * cols + i]) * product[rows * cols + i];
  }
  result.relativeOutputError = den > 0 ? num / den : 0.0;
  return true;
}
