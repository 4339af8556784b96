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
  for (int64_t t = 0; t < tokens; ++t)
    for (int64_t i = 0; i < k; ++i) {
      double xi = x[t * k + i];
      absMax[i] = std::max(absMax[i], std::fabs(xi));
      absSum[i] += std::fabs(xi);
      sqSum[i] += xi * xi;
    }
  if (k >= 256) {
    // H += scale · XᵀX on the lower triangle (dsyrk), in f64.
    std::vector<double> xd(x, x + tokens * k);
    cblas_dsyrk(CblasRowMajor, CblasLower, CblasTrans, int(k), int(tokens),
                scale, xd.data(), int(k), 1.0, h.data(), int(k));
  } else {
    // Small layers: a plain loop beats BLAS's threading overhead.
    for (int64_t t = 0; t < tokens; ++t) {
      const float *row = x + t * k;
      for (int64_t i = 0; i < k; ++i) {
        double sxi = scale * row[i];
        double *hrow = h.data() + i * k;
        for (int64_t j = 0; j <= i; ++j)
          hrow[j] += sxi * row[j];
      }
    }
  }
  tokenCount += tokens;
  mirrored = false;
}

const std::vector<double> &HessianAccumulator::hessian() const {
  if (!mirrored) {
    for (int64_t i = 0; i < k; ++i)
      for (int64_t j = i + 1; j < k; ++j)
        h[i * k + j] = h[j * k + i];
    mirrored = true;
  }
  return h;
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
    GPTQRange range =
        gptqRange(slice.data(), int64_t(slice.size()), o.symmetric);
    float xmin = range.min, xmax = range.max;
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

/// One tile of the lazy batch update: for `nr` rows and `nc` columns,
/// update = Σ_j err[r, j] · U[j, c] (in order j) and W[r, c] -= update,
/// with `uRows[j]` pointing at U[j, c0]. Compiled for AVX-512, AVX2 and
/// baseline x86-64, chosen at run time; the arithmetic (separate multiply
/// and add, same order) is the same in all.
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
__attribute__((target_clones("avx512f", "avx2", "default")))
#endif
void lazyUpdateTile(float *__restrict update, int64_t updateStride,
                    const float *__restrict err, int64_t count,
                    const float *const *__restrict uRows, int64_t nr,
                    int64_t nc, float *__restrict w, int64_t wStride) {
  for (int64_t r = 0; r < nr; ++r)
    for (int64_t c = 0; c < nc; ++c)
      update[r * updateStride + c] = 0.0f;
  for (int64_t j = 0; j < count; ++j) {
    const float *__restrict urow = uRows[j];
    for (int64_t r = 0; r < nr; ++r) {
      float ej = err[r * count + j];
      float *out = update + r * updateStride;
      for (int64_t c = 0; c < nc; ++c) {
        float product = ej * urow[c];
        out[c] = out[c] + product;
      }
    }
  }
  for (int64_t r = 0; r < nr; ++r)
    for (int64_t c = 0; c < nc; ++c)
      w[r * wStride + c] -= update[r * updateStride + c];
}

// The K x K f64 Hessian is 1 GB at K = 11008, so the solver works inside
// it instead of copying it: LAPACK's factorisations read and write only the
// row-major lower triangle and the diagonal (the column-major upper
// triangle), the strict upper triangle keeps H, and the matrix holds H
// again when the solver returns.

/// Copies the strict upper triangle onto the strict lower one, in tiles so
/// that the transposed reads stay in cache.
void mirrorUpperToLower(double *a, int64_t n) {
  constexpr int64_t kTile = 64;
  for (int64_t i0 = 0; i0 < n; i0 += kTile)
    for (int64_t j0 = 0; j0 <= i0; j0 += kTile)
      for (int64_t i = i0; i < std::min(n, i0 + kTile); ++i)
        for (int64_t j = j0; j < std::min(i, j0 + kTile); ++j)
          a[i * n + j] = a[j * n + i];
}

/// B[i][j] = A[perm[i]][perm[j]] in place (A symmetric, both triangles
/// valid): columns within each row, then rows along the permutation's
/// cycles, one row of scratch.
void permuteSymmetric(double *a, int64_t n, const std::vector<int64_t> &perm) {
  std::vector<double> row(n);
  for (int64_t i = 0; i < n; ++i) {
    double *ai = a + i * n;
    for (int64_t j = 0; j < n; ++j)
      row[j] = ai[perm[j]];
    std::copy(row.begin(), row.end(), ai);
  }
  std::vector<bool> placed(n, false);
  for (int64_t start = 0; start < n; ++start) {
    if (placed[start] || perm[start] == start)
      continue;
    std::copy(a + start * n, a + (start + 1) * n, row.begin());
    int64_t i = start;
    while (perm[i] != start) {
      std::copy(a + perm[i] * n, a + (perm[i] + 1) * n, a + i * n);
      placed[i] = true;
      i = perm[i];
    }
    std::copy(row.begin(), row.end(), a + i * n);
    placed[i] = true;
  }
}

/// Cholesky factorisation of the matrix in the lower triangle and diagonal:
/// A = L Lᵀ with L there afterwards (LAPACK's column-major upper factor,
/// read row-major). The strict upper triangle is not referenced.
bool choleskyLower(double *a, int64_t n) {
  return LAPACKE_dpotrf(LAPACK_COL_MAJOR, 'U', n, a, n) == 0;
}

/// (L Lᵀ)⁻¹ from the lower factor L, in the lower triangle and diagonal.
bool choleskyInverseLower(double *a, int64_t n) {
  return LAPACKE_dpotri(LAPACK_COL_MAJOR, 'U', n, a, n) == 0;
}

/// The rows of an upper triangular f32 matrix stored packed (row i holds
/// columns i..n-1): n (n + 1) / 2 values instead of n².
class PackedUpper {
public:
  explicit PackedUpper(int64_t n) : n(n), values(n * (n + 1) / 2) {}
  /// A pointer p with p[j] = U[i][j] for j >= i.
  float *row(int64_t i) { return values.data() + i * n - i * (i - 1) / 2 - i; }
  const float *row(int64_t i) const {
    return values.data() + i * n - i * (i - 1) / 2 - i;
  }

private:
  int64_t n;
  std::vector<float> values;
};

/// The upper Cholesky factor U of (H + damping)⁻¹ = Uᵀ U, in f32, from H
/// in `h` (strict upper triangle; `diag` is H's diagonal with dead inputs
/// at 1, whose mean is `meanDiag`). Damping starts at `percDamp` · meanDiag
/// and rises in steps of
/// 1% while the factorisation fails, each failed try undone from the strict
/// upper triangle. The lower triangle and diagonal are left as scratch.
bool factorInverseHessian(double *h, int64_t n, const std::vector<double> &diag,
                          double meanDiag, float percDamp, PackedUpper &u,
                          GPTQResult &result, std::string &error) {
  double damp = percDamp;
  for (bool first = true;; first = false) {
    if (!first)
      mirrorUpperToLower(h, n);
    for (int64_t i = 0; i < n; ++i)
      h[i * n + i] = diag[i] + damp * meanDiag;
    if (choleskyLower(h, n))
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
  // Hinv = (L Lᵀ)⁻¹, then Hinv = Uᵀ U with U upper: LAPACK's column-major
  // upper factor of Hinv, so U[i][j] = h[j][i] for j >= i.
  if (!choleskyInverseLower(h, n) || !choleskyLower(h, n)) {
    error = "the inverse Hessian is not positive definite";
    return false;
  }
  constexpr int64_t kTile = 64;
  for (int64_t i0 = 0; i0 < n; i0 += kTile)
    for (int64_t j0 = i0; j0 < n; j0 += kTile)
      for (int64_t i = i0; i < std::min(n, i0 + kTile); ++i) {
        float *urow = u.row(i);
        for (int64_t j = std::max(i, j0); j < std::min(n, j0 + kTile); ++j)
          urow[j] = float(h[j * n + i]);
      }
  return true;
}

/// tr(D H Dᵀ) / tr(W H Wᵀ) with D = W - Q, the undamped H (full, original
/// order) and Q dequantized from the result's codes: products [D; W] · H
/// over chunks of rows and blocks of H's columns (converted to f32 one
/// block at a time), then row-wise dot products.
double relativeOutputError(const float *w, int64_t rows, int64_t cols,
                           const std::vector<double> &h,
                           const GPTQResult &result, int64_t groupSize) {
  auto groupOf = [&](int64_t j) -> int64_t {
    if (groupSize <= 0)
      return 0;
    if (!result.groupIndex.empty())
      return result.groupIndex[j];
    return j / groupSize;
  };
  std::vector<int64_t> groups(cols);
  for (int64_t j = 0; j < cols; ++j)
    groups[j] = groupOf(j);
  constexpr int64_t kBlock = 256;
  int64_t chunk = std::clamp<int64_t>(
      (int64_t(8) << 20) / std::max<int64_t>(1, cols), 1, rows);
  std::vector<float> stacked(2 * chunk * cols), block(cols * kBlock),
      product(2 * chunk * kBlock);
  double num = 0.0, den = 0.0;
  for (int64_t r0 = 0; r0 < rows; r0 += chunk) {
    int64_t nr = std::min(chunk, rows - r0);
    for (int64_t r = 0; r < nr; ++r) {
      const float *scales = result.scales.data() + (r0 + r) * result.groups;
      const int32_t *zeros = result.zeros.data() + (r0 + r) * result.groups;
      for (int64_t j = 0; j < cols; ++j) {
        int64_t at = (r0 + r) * cols + j;
        float q = scales[groups[j]] *
                  (float(result.codes[at]) - float(zeros[groups[j]]));
        stacked[r * cols + j] = w[at] - q;
        stacked[(nr + r) * cols + j] = w[at];
      }
    }
    for (int64_t c0 = 0; c0 < cols; c0 += kBlock) {
      int64_t nc = std::min(kBlock, cols - c0);
      for (int64_t i = 0; i < cols; ++i)
        for (int64_t c = 0; c < nc; ++c)
          block[i * nc + c] = float(h[i * cols + c0 + c]);
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, int(2 * nr),
                  int(nc), int(cols), 1.0f, stacked.data(), int(cols),
                  block.data(), int(nc), 0.0f, product.data(), int(nc));
      for (int64_t r = 0; r < 2 * nr; ++r) {
        double sum = 0.0;
        for (int64_t c = 0; c < nc; ++c)
          sum += double(stacked[r * cols + c0 + c]) * product[r * nc + c];
        (r < nr ? num : den) += sum;
      }
    }
  }
  return den > 0 ? num / den : 0.0;
}
} // namespace

bool quantopt::numerics::gptqQuantize(const float *wIn, int64_t rows,
                                      int64_t cols,
                                      std::vector<double> &hessian,
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

  RowParams channel;
  if (g == -1)
    channel = findParams(w, rows, cols, 0, cols, o);
  // Dead inputs: H[i, i] = 1 and W[:, i] = 0.
  std::vector<double> originalDiag(cols), diag(cols);
  for (int64_t i = 0; i < cols; ++i) {
    originalDiag[i] = diag[i] = hessian[i * cols + i];
    if (diag[i] == 0.0) {
      diag[i] = 1.0;
      for (int64_t r = 0; r < rows; ++r)
        w[r * cols + i] = 0.0f;
    }
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
    std::stable_sort(perm.begin(), perm.end(),
                     [&](int64_t a, int64_t b) { return diag[a] > diag[b]; });
    std::vector<float> wp(w.size());
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t j = 0; j < cols; ++j)
        wp[r * cols + j] = w[r * cols + perm[j]];
    w.swap(wp);
  }

  // H, permuted in place, is the workspace of the factorisation and is put
  // back as soon as U is out of it.
  double *h = hessian.data();
  if (o.actOrder)
    permuteSymmetric(h, cols, perm);
  std::vector<double> permutedDiag(cols);
  for (int64_t i = 0; i < cols; ++i)
    permutedDiag[i] = diag[perm[i]];
  double meanDiag = 0.0;
  for (double d : diag)
    meanDiag += d;
  meanDiag /= double(cols);
  PackedUpper u(cols);
  bool factored = factorInverseHessian(h, cols, permutedDiag, meanDiag,
                                       o.percDamp, u, result, error);
  mirrorUpperToLower(h, cols);
  for (int64_t i = 0; i < cols; ++i)
    h[i * cols + i] = originalDiag[perm[i]];
  if (o.actOrder) {
    std::vector<int64_t> inverse(cols);
    for (int64_t i = 0; i < cols; ++i)
      inverse[perm[i]] = i;
    permuteSymmetric(h, cols, inverse);
  }
  if (!factored)
    return false;

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
      const float *urow = u.row(col) + i1;
      float d = urow[i];
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
        codesPerm[r * cols + col] = uint8_t(code);
        loss += double(wv - qv) * double(wv - qv) / (double(d) * d) / 2.0;
        float e = (wv - qv) / d;
        err1[r * count + i] = e;
        float *row = w1.data() + r * count;
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
        // Tiles of 8 rows x 512 columns keep the block of U in cache; for
        // every element the products are still added in column order j.
        constexpr int64_t kRows = 8, kCols = 512;
        std::vector<float> update(kRows * kCols);
        std::vector<const float *> uRows(count);
        for (int64_t c0 = i2; c0 < cols; c0 += kCols) {
          int64_t nc = std::min(kCols, cols - c0);
          for (int64_t j = 0; j < count; ++j)
            uRows[j] = u.row(i1 + j) + c0;
          for (int64_t r0 = rowBegin; r0 < rowEnd; r0 += kRows) {
            int64_t nr = std::min(kRows, rowEnd - r0);
            lazyUpdateTile(update.data(), kCols, err1.data() + r0 * count,
                           count, uRows.data(), nr, nc,
                           w.data() + r0 * cols + c0, cols);
          }
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
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t j = 0; j < cols; ++j)
      result.codes[r * cols + perm[j]] = codesPerm[r * cols + j];
  std::vector<uint8_t>().swap(codesPerm);
  result.groupIndex.clear();
  if (g > 0 && o.actOrder && !o.staticGroups) {
    result.groupIndex.resize(cols);
    for (int64_t j = 0; j < cols; ++j)
      result.groupIndex[perm[j]] = int32_t(j / g);
  }
  result.loss = loss;
  if (o.outputError)
    result.relativeOutputError =
        relativeOutputError(wIn, rows, cols, hessian, result, g);
  return true;
}
