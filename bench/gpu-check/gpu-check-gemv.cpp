//===- gpu-check-gemv.cpp - Correctness and speed of the GPU GEMV ---------===//
//
// Part of the quant-opt project, under the Apache License v2.0 with LLVM
// Exceptions.
//
//===----------------------------------------------------------------------===//
//
// Runs the functions of gemv.mlir (compiled ahead of time by quant-compile)
// on a GPU: every layout and shape at M = 1, 4, 16, 64 and 256 rows, checked
// against a double-precision CPU product of the decoded weights (max |error|
// / max |reference| <= 1e-5), then timed; and those of gemv-f16.mlir (the
// tensor-core opt-in, rows "<layout>+tc") at M = 16, 64 and 256 (<= 3e-3).
// Layouts: int4 groups of 128, int8 per channel, ggml q4_0 / q4_K / q6_K,
// and W8A8 (int8 activations and weights; mma.sync from 9 rows).
// Figures: microseconds per product, the weight stream's bandwidth as a share
// of the device-to-device copy bandwidth measured in the same run, and the time
// of cuBLAS's f16 GEMM of the same shape (loaded with dlopen; skipped when
// absent) over ours.
//
// --smoke runs each layout once (first shape, M = 1) without checking
// numbers (the fake driver of the tests executes no kernel). Exit status: 0
// all correct, 1 a mismatch, 2 a runtime error.
//
//===----------------------------------------------------------------------===//

#include "GpuCheckSupport.h"
#include "quant/Numerics/GGUFQuants.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <dlfcn.h>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

using namespace gpucheck;

using D2 = Descriptor<2>;

extern "C" {
#define QUANT_GEMV(prefix, name)                                               \
  void _mlir_ciface_##prefix##q4g128_##name(D2 *, D2 *, D2 *, D2 *, D2 *);     \
  void _mlir_ciface_##prefix##q4g128_##name##_x20(D2 *, D2 *, D2 *, D2 *,      \
                                                  D2 *);                       \
  void _mlir_ciface_##prefix##s8_##name(D2 *, D2 *, D2 *, D2 *);               \
  void _mlir_ciface_##prefix##s8_##name##_x20(D2 *, D2 *, D2 *, D2 *);         \
  void _mlir_ciface_##prefix##q4_0_##name(D2 *, D2 *, D2 *);                   \
  void _mlir_ciface_##prefix##q4_0_##name##_x20(D2 *, D2 *, D2 *);
#define QUANT_GEMV_K(name)                                                     \
  void _mlir_ciface_w8a8_##name(D2 *, D2 *, D2 *, D2 *, D2 *);                 \
  void _mlir_ciface_w8a8_##name##_x20(D2 *, D2 *, D2 *, D2 *, D2 *);           \
  void _mlir_ciface_q4_K_##name(D2 *, D2 *, D2 *);                             \
  void _mlir_ciface_q4_K_##name##_x20(D2 *, D2 *, D2 *);                       \
  void _mlir_ciface_q6_K_##name(D2 *, D2 *, D2 *);                             \
  void _mlir_ciface_q6_K_##name##_x20(D2 *, D2 *, D2 *);
#define QUANT_GEMV_SHAPE(name)                                                 \
  QUANT_GEMV(, name) QUANT_GEMV(f16_, name) QUANT_GEMV_K(name)
QUANT_GEMV_SHAPE(4096x4096)
QUANT_GEMV_SHAPE(14336x4096)
QUANT_GEMV_SHAPE(4096x14336)
#undef QUANT_GEMV_SHAPE
#undef QUANT_GEMV_K
#undef QUANT_GEMV
}

namespace {

constexpr int kRepeats = 20;

uint16_t toHalf(float value) {
  uint32_t bits;
  std::memcpy(&bits, &value, 4);
  uint32_t sign = (bits >> 16) & 0x8000;
  int32_t exponent = int32_t((bits >> 23) & 0xFF) - 127 + 15;
  uint32_t mantissa = bits & 0x7FFFFF;
  if (exponent <= 0)
    return uint16_t(sign); // The check's values are never subnormal.
  if (exponent >= 31)
    return uint16_t(sign | 0x7C00);
  // Round half to even on the 13 dropped bits.
  uint32_t half = sign | (uint32_t(exponent) << 10) | (mantissa >> 13);
  uint32_t rest = mantissa & 0x1FFF;
  if (rest > 0x1000 || (rest == 0x1000 && (half & 1)))
    ++half;
  return uint16_t(half);
}

float fromHalf(uint16_t half) {
  uint32_t sign = uint32_t(half & 0x8000) << 16;
  uint32_t exponent = (half >> 10) & 0x1F, mantissa = half & 0x3FF;
  uint32_t bits = sign;
  if (exponent != 0)
    bits |= ((exponent - 15 + 127) << 23) | (mantissa << 13);
  float value;
  std::memcpy(&value, &bits, 4);
  return value;
}

enum class Kind { Q4G128, S8, Q4_0, Q4_K, Q6_K, W8A8 };

/// The ggml block type of `kind`, if any.
std::optional<quantopt::numerics::GGMLType> ggmlTypeOf(Kind kind) {
  switch (kind) {
  case Kind::Q4_0:
    return quantopt::numerics::GGMLType::Q4_0;
  case Kind::Q4_K:
    return quantopt::numerics::GGMLType::Q4_K;
  case Kind::Q6_K:
    return quantopt::numerics::GGMLType::Q6_K;
  default:
    return std::nullopt;
  }
}

/// A ggml product function: (result, x, blocks).
using GGMLFunction = void (*)(D2 *, D2 *, D2 *);
struct GGMLFunctions {
  GGMLFunction once, repeated;
};

struct Layout {
  const char *name;
  Kind kind;
};

/// The product functions of one layout family at one shape.
struct Functions {
  void (*q4)(D2 *, D2 *, D2 *, D2 *, D2 *);
  void (*q4Repeat)(D2 *, D2 *, D2 *, D2 *, D2 *);
  void (*s8)(D2 *, D2 *, D2 *, D2 *);
  void (*s8Repeat)(D2 *, D2 *, D2 *, D2 *);
  GGMLFunctions q40, q4K, q6K;
  /// (result, int8 x, per-row x scales, int8 weights, channel scales).
  void (*w8a8)(D2 *, D2 *, D2 *, D2 *, D2 *);
  void (*w8a8Repeat)(D2 *, D2 *, D2 *, D2 *, D2 *);

  GGMLFunctions ggml(Kind kind) const {
    return kind == Kind::Q4_0 ? q40 : kind == Kind::Q4_K ? q4K : q6K;
  }
};

struct Shape {
  int64_t n, k;
  /// The exact-f32 kernels (gemv.mlir) and the tensor-core opt-in
  /// (gemv-f16.mlir: q4g128, s8 and q4_0 only).
  Functions exact, f16;
};

/// A device copy of host bytes.
struct DeviceBuffer {
  void *pointer = nullptr;
  DeviceBuffer(const void *host, size_t bytes, void *stream) {
    pointer = mgpuMemAlloc(bytes, stream, false);
    mgpuMemcpy(pointer, const_cast<void *>(host), bytes, stream);
    mgpuStreamSynchronize(stream);
    checkRuntime("uploading an input");
  }
  ~DeviceBuffer() { mgpuMemFree(pointer, nullptr); }
};

/// The weights of one layout and shape, on the host.
struct Weights {
  int64_t n, k;
  Kind kind;
  /// Codes (ggml: whole blocks with their scales).
  std::vector<int8_t> codes, zeros;
  std::vector<float> scales;
  std::vector<uint16_t> halfScales;
  /// The [n, k] weights as the reference lowering decodes them.
  std::vector<double> decoded;

  Weights(int64_t n, int64_t k, Kind kind, quantopt::SplitMix &random)
      : n(n), k(k), kind(kind) {
    codes.resize(n * storageColumns());
    for (int8_t &c : codes)
      c = int8_t(random.nextBits());
    switch (kind) {
    case Kind::Q4G128:
      scales.resize(n * (k / 128));
      zeros.resize(scales.size());
      for (float &s : scales)
        s = random.uniform(0.002f, 0.02f);
      for (int8_t &z : zeros)
        z = int8_t(random.nextBits() % 16);
      break;
    case Kind::S8:
      halfScales.resize(n);
      for (uint16_t &s : halfScales)
        s = toHalf(random.uniform(0.002f, 0.02f));
      break;
    case Kind::Q4_0:
      setHalves(18, {0}, 0.002f, 0.02f, random);
      break;
    case Kind::Q4_K:
      // d and dmin; the 6-bit scales and mins are any bits.
      setHalves(144, {0, 2}, 0.0002f, 0.002f, random);
      break;
    case Kind::Q6_K:
      setHalves(210, {208}, 0.00002f, 0.0002f, random);
      break;
    case Kind::W8A8:
      scales.resize(n);
      for (float &s : scales)
        s = random.uniform(0.002f, 0.02f);
      break;
    }
    decode();
  }

  /// Writes f16 scales drawn from [low, high) at `offsets` of every block.
  void setHalves(int64_t blockBytes, std::initializer_list<int64_t> offsets,
                 float low, float high, quantopt::SplitMix &random) {
    for (int64_t block = 0; block < int64_t(codes.size()) / blockBytes;
         ++block) {
      for (int64_t offset : offsets) {
        uint16_t d = toHalf(random.uniform(low, high));
        codes[block * blockBytes + offset] = int8_t(d & 0xFF);
        codes[block * blockBytes + offset + 1] = int8_t(d >> 8);
      }
    }
  }

  /// Fills `decoded`: ggml blocks through the project's ggml decoder (the
  /// reference lowering's), the others here.
  void decode() {
    decoded.resize(n * k);
    if (std::optional<quantopt::numerics::GGMLType> type = ggmlTypeOf(kind)) {
      std::vector<float> values(n * k);
      std::string error;
      if (!quantopt::numerics::dequantizeGGMLRows(
              *type, reinterpret_cast<const uint8_t *>(codes.data()), n, k,
              values.data(), &error)) {
        std::fprintf(stderr, "decoding the reference: %s\n", error.c_str());
        std::exit(2);
      }
      std::copy(values.begin(), values.end(), decoded.begin());
      return;
    }
    for (int64_t row = 0; row < n; ++row)
      for (int64_t j = 0; j < k; ++j)
        decoded[row * k + j] = weight(row, j);
  }

  int64_t storageColumns() const {
    switch (kind) {
    case Kind::Q4G128:
      return k / 2;
    case Kind::S8:
      return k;
    case Kind::Q4_0:
      return k / 32 * 18;
    case Kind::Q4_K:
      return k / 256 * 144;
    case Kind::Q6_K:
      return k / 256 * 210;
    case Kind::W8A8:
      return k;
    }
    return 0;
  }

  /// Weight (n, j) of the non-ggml layouts as the reference lowering decodes
  /// it, in double.
  double weight(int64_t row, int64_t j) const {
    switch (kind) {
    case Kind::Q4G128: {
      uint8_t byte = uint8_t(codes[row * (k / 2) + j / 2]);
      int code = (j % 2 == 0) ? (byte & 15) : (byte >> 4);
      int64_t g = row * (k / 128) + j / 128;
      return double(scales[g]) * double(code - zeros[g]);
    }
    case Kind::S8:
      return double(fromHalf(halfScales[row])) * double(codes[row * k + j]);
    case Kind::W8A8:
      return double(scales[row]) * double(codes[row * k + j]);
    default:
      return 0;
    }
  }

  size_t bytes() const {
    return codes.size() + scales.size() * 4 + zeros.size() +
           halfScales.size() * 2;
  }
};

/// cuBLAS's f16 GEMM, loaded at run time.
struct Cublas {
  void *handle = nullptr;
  int (*create)(void **) = nullptr;
  int (*setStream)(void *, void *) = nullptr;
  int (*gemmEx)(void *, int, int, int, int, int, const void *, const void *,
                int, int, const void *, int, int, const void *, void *, int,
                int, int, int) = nullptr;

  bool load() {
    for (const char *name : {"libcublas.so.13", "libcublas.so.12",
                             "libcublas.so.11", "libcublas.so"}) {
      void *library = dlopen(name, RTLD_NOW | RTLD_LOCAL);
      if (!library)
        continue;
      create =
          reinterpret_cast<decltype(create)>(dlsym(library, "cublasCreate_v2"));
      setStream = reinterpret_cast<decltype(setStream)>(
          dlsym(library, "cublasSetStream_v2"));
      gemmEx =
          reinterpret_cast<decltype(gemmEx)>(dlsym(library, "cublasGemmEx"));
      if (create && setStream && gemmEx && create(&handle) == 0)
        return true;
    }
    return false;
  }

  /// Y[M, N] = X[M, K] W[N, K]^T in f16 with f32 accumulation; seconds per
  /// product over `repeats` back-to-back calls.
  double time(void *w, void *x, void *y, int64_t m, int64_t n, int64_t k,
              void *stream, int repeats) {
    setStream(handle, stream);
    float alpha = 1.0f, beta = 0.0f;
    constexpr int kF16 = 2, kCompute32F = 68, kOpN = 0, kOpT = 1,
                  kDefaultAlgo = -1;
    auto run = [&] {
      return gemmEx(handle, kOpT, kOpN, int(n), int(m), int(k), &alpha, w, kF16,
                    int(k), x, kF16, int(k), &beta, y, kF16, int(n),
                    kCompute32F, kDefaultAlgo);
    };
    if (run() != 0)
      return -1;
    mgpuStreamSynchronize(stream);
    double start = now();
    for (int i = 0; i < repeats; ++i)
      run();
    mgpuStreamSynchronize(stream);
    return (now() - start) / repeats;
  }
};

/// Device-to-device copy bandwidth (bytes read + written per second).
double copyBandwidth(void *stream) {
  const size_t bytes = size_t(512) << 20;
  void *a = mgpuMemAlloc(bytes, stream, false);
  void *b = mgpuMemAlloc(bytes, stream, false);
  mgpuMemcpy(b, a, bytes, stream);
  mgpuStreamSynchronize(stream);
  const int repeats = 10;
  double start = now();
  for (int i = 0; i < repeats; ++i)
    mgpuMemcpy(b, a, bytes, stream);
  mgpuStreamSynchronize(stream);
  double seconds = now() - start;
  mgpuMemFree(a, stream);
  mgpuMemFree(b, stream);
  mgpuStreamSynchronize(stream);
  checkRuntime("measuring the copy bandwidth");
  return 2.0 * double(bytes) * repeats / seconds;
}

/// The double-precision products of `rows` of x with every channel,
/// [rows.size(), n], on all host cores.
std::vector<double> referenceProduct(const Weights &weights,
                                     const std::vector<float> &x,
                                     const std::vector<int64_t> &rows) {
  int64_t n = weights.n, k = weights.k;
  std::vector<double> result(rows.size() * n);
  unsigned workers = std::max(1u, std::thread::hardware_concurrency());
  std::vector<std::thread> threads;
  for (unsigned t = 0; t < workers; ++t) {
    threads.emplace_back([&, t] {
      for (int64_t c = t; c < n; c += workers) {
        const double *w = &weights.decoded[c * k];
        for (size_t i = 0; i < rows.size(); ++i) {
          const float *xRow = &x[rows[i] * k];
          double sum = 0;
          for (int64_t j = 0; j < k; ++j)
            sum += double(xRow[j]) * w[j];
          result[i * n + c] = sum;
        }
      }
    });
  }
  for (std::thread &thread : threads)
    thread.join();
  return result;
}

double median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  return values[values.size() / 2];
}

} // namespace

int main(int argc, char **argv) {
  bool smoke = false;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--smoke") == 0) {
      smoke = true;
    } else {
      std::fprintf(stderr, "usage: %s [--smoke]\n", argv[0]);
      return 2;
    }
  }
  if (quantGpuInitialize() != 0) {
    checkRuntime("initialising the GPU");
    return 2;
  }
  std::printf("device: %s\n", quantGpuDeviceDescription());
  void *stream = mgpuStreamCreate();
  double copy = smoke ? 0.0 : copyBandwidth(stream);
  if (!smoke)
    std::printf("copy bandwidth (device to device, read + write): %.1f GB/s\n",
                copy / 1e9);
  Cublas cublas;
  bool haveCublas = !smoke && cublas.load();
  if (!smoke)
    std::printf("f16 baseline: %s\n",
                haveCublas ? "cuBLAS GemmEx (f16 in/out, f32 accumulation)"
                           : "cuBLAS not found, no ratio");

  // clang-format off
#define QUANT_FUNCTIONS(prefix, name)                                          \
  {_mlir_ciface_##prefix##q4g128_##name,                                       \
   _mlir_ciface_##prefix##q4g128_##name##_x20,                                 \
   _mlir_ciface_##prefix##s8_##name,                                           \
   _mlir_ciface_##prefix##s8_##name##_x20,                                     \
   {_mlir_ciface_##prefix##q4_0_##name,                                        \
    _mlir_ciface_##prefix##q4_0_##name##_x20},                                 \
   {_mlir_ciface_q4_K_##name, _mlir_ciface_q4_K_##name##_x20},                 \
   {_mlir_ciface_q6_K_##name, _mlir_ciface_q6_K_##name##_x20},                 \
   _mlir_ciface_w8a8_##name,                                                   \
   _mlir_ciface_w8a8_##name##_x20}
// clang-format on
#define QUANT_SHAPE(n, k)                                                      \
  {                                                                            \
    n, k, QUANT_FUNCTIONS(, n##x##k), QUANT_FUNCTIONS(f16_, n##x##k)           \
  }
  const Shape shapes[] = {QUANT_SHAPE(4096, 4096), QUANT_SHAPE(14336, 4096),
                          QUANT_SHAPE(4096, 14336)};
#undef QUANT_SHAPE
#undef QUANT_FUNCTIONS
  const Layout layouts[] = {{"q4g128", Kind::Q4G128}, {"s8", Kind::S8},
                            {"q4_0", Kind::Q4_0},     {"q4_K", Kind::Q4_K},
                            {"q6_K", Kind::Q6_K},     {"w8a8", Kind::W8A8}};
  const int64_t rowCounts[] = {1, 4, 16, 64, 256};
  // The tensor-core opt-in's tolerance: weights and activations rounded to
  // f16 once each (relative 2^-11), accumulated in f32.
  constexpr double kF16Tolerance = 3e-3;
  int failures = 0;
  quantopt::SplitMix random(20261207);
  std::printf("%-10s %-12s %4s %10s %10s %8s %9s %10s\n", "layout", "N x K",
              "M", "max err", "us", "GB/s", "% copy", "f16 / ours");
  for (const Shape &shape : shapes) {
    for (const Layout &layout : layouts) {
      Weights weights(shape.n, shape.k, layout.kind, random);
      bool int4 = layout.kind == Kind::Q4G128;
      bool w8a8 = layout.kind == Kind::W8A8;
      bool floatScales = int4 || w8a8;
      DeviceBuffer codes(weights.codes.data(), weights.codes.size(), stream);
      std::unique_ptr<DeviceBuffer> scales, zeros;
      bool ggml = ggmlTypeOf(layout.kind).has_value();
      if (!ggml)
        scales = std::make_unique<DeviceBuffer>(
            floatScales ? (void *)weights.scales.data()
                        : (void *)weights.halfScales.data(),
            floatScales ? weights.scales.size() * 4
                        : weights.halfScales.size() * 2,
            stream);
      if (int4)
        zeros = std::make_unique<DeviceBuffer>(weights.zeros.data(),
                                               weights.zeros.size(), stream);
      int64_t groups = int4 ? shape.k / 128 : 1;
      D2 codesDesc =
          describe<2>(codes.pointer, {shape.n, weights.storageColumns()});
      D2 scalesDesc =
          scales ? describe<2>(scales->pointer, {shape.n, groups}) : D2();
      D2 zerosDesc =
          zeros ? describe<2>(zeros->pointer, {shape.n, groups}) : D2();
      // The baseline multiplies the same (decoded) weights in f16.
      std::unique_ptr<DeviceBuffer> weightsHalf;
      if (haveCublas) {
        std::vector<uint16_t> wHalf(shape.n * shape.k);
        for (int64_t i = 0; i < shape.n * shape.k; ++i)
          wHalf[i] = toHalf(float(weights.decoded[i]));
        weightsHalf = std::make_unique<DeviceBuffer>(wHalf.data(),
                                                     wHalf.size() * 2, stream);
      }
      // Every row count on the exact kernels; from 16 rows, the tensor-core
      // opt-in too where it reads the layout.
      bool tensorCoreLayout = layout.kind == Kind::Q4G128 ||
                              layout.kind == Kind::S8 ||
                              layout.kind == Kind::Q4_0;
      std::vector<std::pair<int64_t, bool>> runs;
      // (W8A8's tensor-core kernel is exact: the default from 9 rows.)
      for (int64_t m : rowCounts)
        if (!smoke || m == 1 || (w8a8 && m == 16))
          runs.push_back({m, false});
      for (int64_t m : rowCounts)
        if (tensorCoreLayout && m >= 16 && (!smoke || m == 16))
          runs.push_back({m, true});
      for (auto [m, tensorCores] : runs) {
        const Functions &functions = tensorCores ? shape.f16 : shape.exact;
        // W8A8 takes int8 activations with a scale per row; the reference
        // multiplies their values.
        std::vector<float> x(m * shape.k), rowScales;
        std::vector<int8_t> xCodes;
        if (w8a8) {
          xCodes.resize(x.size());
          rowScales.resize(m);
          for (float &s : rowScales)
            s = random.uniform(0.002f, 0.02f);
          for (size_t i = 0; i < x.size(); ++i) {
            xCodes[i] = int8_t(int(random.nextBits() % 255) - 127);
            x[i] = float(xCodes[i]) * rowScales[i / shape.k];
          }
        } else {
          for (float &v : x)
            v = random.uniform(-1.0f, 1.0f);
        }
        DeviceBuffer xDevice(w8a8 ? (void *)xCodes.data() : (void *)x.data(),
                             w8a8 ? xCodes.size() : x.size() * 4, stream);
        D2 xDesc = describe<2>(xDevice.pointer, {m, shape.k});
        std::unique_ptr<DeviceBuffer> rowScalesDevice;
        if (w8a8)
          rowScalesDevice = std::make_unique<DeviceBuffer>(
              rowScales.data(), rowScales.size() * 4, stream);
        D2 rowScalesDesc =
            w8a8 ? describe<2>(rowScalesDevice->pointer, {m, 1}) : D2();
        auto call = [&](bool repeated) {
          D2 result;
          switch (layout.kind) {
          case Kind::Q4G128:
            (repeated ? functions.q4Repeat : functions.q4)(
                &result, &xDesc, &codesDesc, &scalesDesc, &zerosDesc);
            break;
          case Kind::S8:
            (repeated ? functions.s8Repeat
                      : functions.s8)(&result, &xDesc, &codesDesc, &scalesDesc);
            break;
          case Kind::W8A8:
            (repeated ? functions.w8a8Repeat : functions.w8a8)(
                &result, &xDesc, &rowScalesDesc, &codesDesc, &scalesDesc);
            break;
          default: {
            GGMLFunctions ggml = functions.ggml(layout.kind);
            (repeated ? ggml.repeated : ggml.once)(&result, &xDesc, &codesDesc);
            break;
          }
          }
          checkRuntime(layout.name);
          return result;
        };
        D2 result = call(false);
        auto *y = static_cast<float *>(result.aligned);
        double maxError = 0, maxReference = 0;
        if (!smoke) {
          // Every row for small M, three rows beyond.
          std::vector<int64_t> rows;
          for (int64_t r = 0; r < m; ++r)
            if (m <= 16 || r == 0 || r == m / 2 || r == m - 1)
              rows.push_back(r);
          std::vector<double> reference = referenceProduct(weights, x, rows);
          for (size_t i = 0; i < rows.size(); ++i) {
            for (int64_t c = 0; c < shape.n; ++c) {
              double sum = reference[i * shape.n + c];
              maxError = std::max(
                  maxError, std::fabs(sum - double(y[rows[i] * shape.n + c])));
              maxReference = std::max(maxReference, std::fabs(sum));
            }
          }
        }
        std::free(result.allocated);
        double relative = maxReference > 0 ? maxError / maxReference : 0;
        bool correct =
            smoke || relative <= (tensorCores ? kF16Tolerance : 1e-5);
        failures += !correct;
        std::vector<double> once, repeated;
        for (int t = 0; t < (smoke ? 1 : 5); ++t) {
          double start = now();
          std::free(call(false).allocated);
          once.push_back(now() - start);
          start = now();
          std::free(call(true).allocated);
          repeated.push_back(now() - start);
        }
        double seconds =
            std::max(1e-9, (median(repeated) - median(once)) / (kRepeats - 1));
        double bandwidth = double(weights.bytes()) / seconds;
        double ratio = 0;
        if (haveCublas) {
          std::vector<uint16_t> xHalf(m * shape.k);
          for (size_t i = 0; i < xHalf.size(); ++i)
            xHalf[i] = toHalf(x[i]);
          DeviceBuffer x16(xHalf.data(), xHalf.size() * 2, stream);
          void *y16 = mgpuMemAlloc(m * shape.n * 2, stream, false);
          double f16 = cublas.time(weightsHalf->pointer, x16.pointer, y16, m,
                                   shape.n, shape.k, stream, 20);
          mgpuMemFree(y16, stream);
          mgpuStreamSynchronize(stream);
          ratio = f16 > 0 ? f16 / seconds : 0;
        }
        char shapeName[32];
        std::snprintf(shapeName, sizeof(shapeName), "%ldx%ld", long(shape.n),
                      long(shape.k));
        std::string name =
            std::string(layout.name) + (tensorCores ? "+tc" : "");
        std::printf("%-10s %-12s %4ld %10.2e %10.2f %8.1f %9.1f %10.2f %s\n",
                    name.c_str(), shapeName, long(m), relative, seconds * 1e6,
                    bandwidth / 1e9, copy > 0 ? 100.0 * bandwidth / copy : 0.0,
                    ratio, correct ? "" : "MISMATCH");
        std::fflush(stdout);
      }
    }
    if (smoke)
      break;
  }
  mgpuStreamDestroy(stream);
  std::printf("gemv: %s\n", failures ? "FAIL" : "PASS");
  return failures ? 1 : 0;
}
