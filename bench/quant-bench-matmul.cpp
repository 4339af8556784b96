//===- quant-bench-matmul.cpp - Quantized matmul kernels vs baselines -----===//
//
// Part of the quant-opt project, under the Apache License v2.0 with LLVM
// Exceptions.
//
//===----------------------------------------------------------------------===//
//
// Times qtensor.dequant_matmul compiled by the project (mode=cpu-kernels and
// mode=reference) against, in the same run, the machine's streaming read
// bandwidth and oneDNN's f32, bf16 and s8 matmuls of the same shape. Weights
// are function arguments rotated over copies larger than the last-level
// cache, so every call streams its weights from memory; compute=int8 rows
// of formats whose constant weights the kernels prepack make the weights
// constants (prepacked at compile time, as in a model) and evict the caches
// before each timed call instead. Prints minimum and
// median times, weight GB/s, GFLOP/s and the ratios; --json for machines.
// Not a test: nothing is asserted.
//
//===----------------------------------------------------------------------===//

#include "quant/Execution/JitExecutor.h"
#include "quant/InitAll.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/AsmState.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/DialectResourceBlobManager.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/Parser/Parser.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/raw_ostream.h"

#ifdef QUANT_BENCH_HAVE_DNNL
#include "oneapi/dnnl/dnnl.h"
extern "C" void omp_set_num_threads(int);
#endif

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <map>
#include <numeric>
#include <random>
#include <string>
#include <thread>
#include <vector>

using namespace quantopt;

namespace {

struct Options {
  std::vector<std::pair<int64_t, int64_t>> shapes{{4096, 4096}};
  std::vector<int64_t> rows{1, 4, 16, 128, 512};
  std::vector<std::string> formats{"f32", "int4-g32", "int4-g128", "int8"};
  std::vector<unsigned> threads{1, 2};
  /// How the kernels compute integer-weight products.
  std::vector<mlir::qtensor::KernelCompute> computes{
      mlir::qtensor::KernelCompute::F32, mlir::qtensor::KernelCompute::Int8};
  /// Largest M the (slow) reference lowering is timed at.
  int64_t referenceMaxRows = 4;
  /// Bytes of weight copies rotated through, per operand set.
  int64_t rotateBytes = 1024ll << 20;
  double secondsPerCase = 0.4;
  bool json = false;
};

/// A weight format of the benchmark and its qtensor layout.
struct Format {
  std::string name, layout, element;
  int64_t bits, group;
  bool zeroPoints;
  /// The float product of the importers (f32 [N, K] weights, a
  /// matmul-shaped linalg.generic with reassociated sums): the baseline the
  /// quantized kernels replace.
  bool isFloat = false;
  /// The float product as torch-mlir emits it: linalg.matmul with an f32
  /// [K, N] weight.
  bool weightKN = false;
  /// ggml blocks of 32 codes (`q4_0`, `q8_0`): bytes per block, an f16
  /// scale first.
  int64_t ggmlBlockBytes = 0;
  /// Codes per ggml block (256 for the K-quants).
  int64_t ggmlBlockCodes = 32;
  /// W8A8: dynamic_quantize of the activations (per token) and
  /// quantized_matmul with int8 weights and per-channel scales; int8 only.
  bool w8a8 = false;
  /// GPTQ act-order: a random group_index (groups are runs of the group
  /// size in a random column order).
  bool actOrder = false;
  /// The kernels read these codes only as constants, repacked at compile
  /// time (act-order, 3-bit codes).
  bool needsConstants = false;
};

std::optional<Format> lookupFormat(const std::string &name) {
  if (name == "int4-g32")
    return Format{
        name, "ui4, block = [1, 32], packing = lsb_first", "ui4", 4, 32, true};
  if (name == "int4-g128")
    return Format{name,  "ui4, block = [1, 128], packing = lsb_first",
                  "ui4", 4,
                  128,   true};
  if (name == "int4-sym-g128")
    return Format{name,  "si4, block = [1, 128], packing = lsb_first",
                  "si4", 4,
                  128,   false};
  if (name == "int8")
    return Format{name, "si8, block = [1, 0]", "si8", 8, 0, false};
  if (name == "nf4-g64")
    return Format{
        name, "nf4, block = [1, 64], packing = msb_first", "nf4", 4, 64, false};
  if (name == "f32")
    return Format{name, "", "f32", 32, 0, false, true};
  if (name == "f32-kn")
    return Format{name, "", "f32", 32, 0, false, true, true};
  if (name == "q4_0")
    return Format{name, "", "q4_0", 4, 32, false, false, false, 18};
  if (name == "q8_0")
    return Format{name, "", "q8_0", 8, 32, false, false, false, 34};
  if (name == "q4_1")
    return Format{name, "", "q4_1", 4, 32, false, false, false, 20};
  if (name == "q5_0")
    return Format{name, "", "q5_0", 5, 32, false, false, false, 22};
  if (name == "q6_K")
    return Format{name, "", "q6_K", 6, 16, false, false, false, 210, 256};
  if (name == "q4_K")
    return Format{name, "", "q4_K", 4, 32, false, false, false, 144, 256};
  if (name == "q5_K")
    return Format{name, "", "q5_K", 5, 32, false, false, false, 176, 256};
  if (name == "q3_K")
    return Format{name, "", "q3_K", 3, 16, false, false, false, 110, 256};
  if (name == "q2_K")
    return Format{name, "", "q2_K", 2, 16, false, false, false, 84, 256};
  if (name == "w8a8") {
    Format format{name, "", "w8a8", 8, 0, false};
    format.w8a8 = true;
    return format;
  }
  if (name == "int4-g128-act") {
    Format format{name,  "ui4, block = [1, 128], packing = lsb_first",
                  "ui4", 4,
                  128,   true};
    format.actOrder = format.needsConstants = true;
    return format;
  }
  if (name == "int3-g128") {
    Format format{name,  "ui3, block = [1, 128], packing = lsb_first",
                  "ui3", 3,
                  128,   true};
    format.needsConstants = true;
    return format;
  }
  if (name == "fp8-e4m3")
    return Format{name, "f8E4M3FN, block = [1, 0], packing = none", "fp8", 8, 0,
                  false};
  if (name == "int2-g64")
    return Format{
        name, "ui2, block = [1, 64], packing = lsb_first", "ui2", 2, 64, true};
  return std::nullopt;
}

struct Timing {
  double minUs = 0, medianUs = 0;
};

/// Calls `run(i)` with a rotating copy index until `seconds` have passed
/// (at least 3 and at most 200 timed calls, after one warm-up call).
Timing measure(double seconds, int copies, const std::function<void(int)> &run,
               const std::function<void()> &beforeEach = nullptr) {
  using clock = std::chrono::steady_clock;
  run(0);
  std::vector<double> samples;
  auto start = clock::now();
  // Evicting calls take longer between samples: more of them.
  size_t minSamples = beforeEach ? 15 : 3;
  int i = 1;
  while (
      samples.size() < minSamples ||
      (samples.size() < 200 &&
       std::chrono::duration<double>(clock::now() - start).count() < seconds)) {
    if (beforeEach)
      beforeEach();
    auto t0 = clock::now();
    run(i++ % copies);
    samples.push_back(
        std::chrono::duration<double, std::micro>(clock::now() - t0).count());
  }
  std::sort(samples.begin(), samples.end());
  return {samples.front(), samples[samples.size() / 2]};
}

typedef long long Vector64 __attribute__((vector_size(64)));

/// Sums `count` 64-byte vectors read as `Streams` interleaved sequential
/// streams (several streams keep more cache-line requests in flight).
template <int Streams>
long long readStreams(const Vector64 *data, int64_t count) {
  Vector64 acc[Streams] = {};
  int64_t part = count / Streams;
  for (int64_t i = 0; i < part; ++i)
    for (int s = 0; s < Streams; ++s)
      acc[s] += data[s * part + i];
  long long total = 0;
  for (int s = 0; s < Streams; ++s)
    for (int l = 0; l < 8; ++l)
      total += acc[s][l];
  return total;
}
template <int Streams>
__attribute__((target("avx512f"))) long long
readStreamsAVX512(const Vector64 *data, int64_t count) {
  return readStreams<Streams>(data, count);
}

/// Streaming read bandwidth in GB/s over `bytes` with `threads` threads:
/// the best of 1 to 16 streams per thread, with 512-bit loads where the
/// CPU has them, over 5 repetitions.
double readBandwidth(int64_t bytes, unsigned threads) {
  int64_t count = bytes / sizeof(Vector64);
  std::vector<Vector64> buffer(count);
  std::memset(static_cast<void *>(buffer.data()), 1, count * sizeof(Vector64));
  bool avx512 = __builtin_cpu_supports("avx512f");
  std::atomic<long long> sink{0};
  double best = 1e30;
  for (int streams : {1, 4, 8, 16}) {
    for (int rep = 0; rep < 5; ++rep) {
      auto t0 = std::chrono::steady_clock::now();
      std::vector<std::thread> pool;
      int64_t part = count / threads;
      for (unsigned t = 0; t < threads; ++t)
        pool.emplace_back([&, t] {
          const Vector64 *data = buffer.data() + t * part;
          long long r = 0;
          switch (streams) {
          case 1:
            r = avx512 ? readStreamsAVX512<1>(data, part)
                       : readStreams<1>(data, part);
            break;
          case 4:
            r = avx512 ? readStreamsAVX512<4>(data, part)
                       : readStreams<4>(data, part);
            break;
          case 8:
            r = avx512 ? readStreamsAVX512<8>(data, part)
                       : readStreams<8>(data, part);
            break;
          default:
            r = avx512 ? readStreamsAVX512<16>(data, part)
                       : readStreams<16>(data, part);
          }
          sink += r;
        });
      for (std::thread &th : pool)
        th.join();
      best = std::min(best, std::chrono::duration<double>(
                                std::chrono::steady_clock::now() - t0)
                                .count());
    }
  }
  return double((count / threads) * threads * sizeof(Vector64)) / best / 1e9;
}

/// The zero-filled [?, N] accumulator of every benchmarked function.
std::string zeroInit(int64_t n, int64_t k) {
  return llvm::formatv(R"(
  %c0 = arith.constant 0 : index
  %m = tensor.dim %x, %c0 : tensor<?x{1}xf32>
  %zero = arith.constant 0.0 : f32
  %e = tensor.empty(%m) : tensor<?x{0}xf32>
  %init = linalg.fill ins(%zero : f32) outs(%e : tensor<?x{0}xf32>)
            -> tensor<?x{0}xf32>
)",
                       n, k)
      .str();
}

/// The benchmarked function: @f(x [?, K], storage, scales[, zeros]), @f(x,
/// blocks) for ggml, or @f(x, w [N, K] / [K, N]) for the float products.
std::string buildModule(const Format &format, int64_t n, int64_t k) {
  if (format.ggmlBlockBytes)
    return llvm::formatv(R"(
func.func @f(%x: tensor<?x{1}xf32>, %q: tensor<{0}x{2}xi8>)
    -> tensor<?x{0}xf32> {{{4}
  %y = qtensor.ggml_matmul %x, %q as {3} outs(%init : tensor<?x{0}xf32>)
         : tensor<?x{1}xf32>, tensor<{0}x{2}xi8> -> tensor<?x{0}xf32>
  return %y : tensor<?x{0}xf32>
}
)",
                         n, k,
                         k / format.ggmlBlockCodes * format.ggmlBlockBytes,
                         format.name, zeroInit(n, k))
        .str();
  if (format.weightKN)
    return llvm::formatv(R"(
func.func @f(%x: tensor<?x{1}xf32>, %w: tensor<{1}x{0}xf32>)
    -> tensor<?x{0}xf32> {{{2}
  %y = linalg.matmul ins(%x, %w : tensor<?x{1}xf32>, tensor<{1}x{0}xf32>)
                     outs(%init : tensor<?x{0}xf32>) -> tensor<?x{0}xf32>
  return %y : tensor<?x{0}xf32>
}
)",
                         n, k, zeroInit(n, k))
        .str();
  if (format.isFloat)
    return llvm::formatv(R"(
#map_x = affine_map<(m, n, k) -> (m, k)>
#map_w = affine_map<(m, n, k) -> (n, k)>
#map_y = affine_map<(m, n, k) -> (m, n)>
func.func @f(%x: tensor<?x{1}xf32>, %w: tensor<{0}x{1}xf32>)
    -> tensor<?x{0}xf32> {{{2}
  %y = linalg.generic {{
         indexing_maps = [#map_x, #map_w, #map_y],
         iterator_types = ["parallel", "parallel", "reduction"]}
         ins(%x, %w : tensor<?x{1}xf32>, tensor<{0}x{1}xf32>)
         outs(%init : tensor<?x{0}xf32>) {{
  ^bb0(%a: f32, %b: f32, %acc: f32):
    %p = arith.mulf %a, %b : f32
    %s = arith.addf %acc, %p fastmath<reassoc> : f32
    linalg.yield %s : f32
  } -> tensor<?x{0}xf32>
  return %y : tensor<?x{0}xf32>
}
)",
                         n, k, zeroInit(n, k))
        .str();
  if (format.w8a8)
    return llvm::formatv(R"(
func.func @f(%x: tensor<?x{1}xf32>, %w: tensor<{0}x{1}xi8>,
             %ws: tensor<{0}x1xf32>) -> tensor<?x{0}xf32> {{{2}
  %q, %s = qtensor.dynamic_quantize %x
             : tensor<?x{1}xf32> -> tensor<?x{1}xi8>, tensor<?x1xf32>
  %y = qtensor.quantized_matmul %q, %s, %w, %ws outs(%init : tensor<?x{0}xf32>)
         : tensor<?x{1}xi8>, tensor<?x1xf32>, tensor<{0}x{1}xi8>,
           tensor<{0}x1xf32> -> tensor<?x{0}xf32>
  return %y : tensor<?x{0}xf32>
}
)",
                         n, k, zeroInit(n, k))
        .str();
  int64_t storageCols = k * format.bits / 8;
  int64_t groups = format.group ? (k + format.group - 1) / format.group : 1;
  std::string zeroArg, zeroOperand;
  if (format.zeroPoints) {
    zeroArg = llvm::formatv(", %z: tensor<{0}x{1}xi8>", n, groups);
    zeroOperand =
        llvm::formatv("zero_points(%z : tensor<{0}x{1}xi8>)", n, groups);
  }
  std::string init = zeroInit(n, k);
  if (format.actOrder) {
    std::vector<int32_t> order(k), groupOf(k);
    std::iota(order.begin(), order.end(), 0);
    std::mt19937 rng(11);
    std::shuffle(order.begin(), order.end(), rng);
    for (int64_t j = 0; j < k; ++j)
      groupOf[order[j]] = int32_t(j / format.group);
    std::string values;
    for (int32_t g : groupOf)
      values += (values.empty() ? "" : ", ") + std::to_string(g);
    init += llvm::formatv("\n  %gi = arith.constant dense<[{0}]> : "
                          "tensor<{1}xi32>",
                          values, k)
                .str();
    zeroOperand +=
        llvm::formatv(" group_index(%gi : tensor<{0}xi32>)", k).str();
  }
  return llvm::formatv(R"(
func.func @f(%x: tensor<?x{1}xf32>, %q: tensor<{0}x{2}xi8>,
             %s: tensor<{0}x{3}xf32>{4}) -> tensor<?x{0}xf32> {{{7}
  %y = qtensor.dequant_matmul %x, %q scales(%s : tensor<{0}x{3}xf32>) {5}
         layout <{6}> outs(%init : tensor<?x{0}xf32>)
         : tensor<?x{1}xf32>, tensor<{0}x{2}xi8> -> tensor<?x{0}xf32>
  return %y : tensor<?x{0}xf32>
}
)",
                       n, k, storageCols, groups, zeroArg, zeroOperand,
                       format.layout, init)
      .str();
}

struct WeightCopy {
  HostArray storage, scales, zeros;
};

/// Formats whose compute=int8 kernel prepacks constant weights.
bool prepacksInt8(const Format &format) {
  // All the integer formats the bench has (every ggml block format in it).
  return !format.isFloat && format.element != "nf4" && format.element != "fp8";
}

/// A copy of `module` whose @f takes only the activations: the weight
/// arguments become constants over `weights`' memory (not copied).
mlir::OwningOpRef<mlir::ModuleOp> withConstantWeights(mlir::ModuleOp module,
                                                      const WeightCopy &w) {
  mlir::OwningOpRef<mlir::ModuleOp> copy(module.clone());
  auto f = copy->lookupSymbol<mlir::func::FuncOp>("f");
  mlir::OpBuilder b = mlir::OpBuilder::atBlockBegin(&f.front());
  const HostArray *arrays[] = {&w.storage, &w.scales, &w.zeros};
  llvm::BitVector weightArgs(f.getNumArguments());
  for (unsigned i = 1; i < f.getNumArguments(); ++i) {
    const HostArray &array = *arrays[i - 1];
    mlir::Value arg = f.getArgument(i);
    auto type = mlir::cast<mlir::RankedTensorType>(arg.getType());
    llvm::ArrayRef<char> bytes =
        array.kind == HostArray::Kind::I8
            ? llvm::ArrayRef<char>(
                  reinterpret_cast<const char *>(array.i8.data()),
                  array.i8.size())
            : llvm::ArrayRef<char>(
                  reinterpret_cast<const char *>(array.f32.data()),
                  array.f32.size() * sizeof(float));
    auto attr = mlir::DenseResourceElementsAttr::get(
        type, "bench_weight_" + std::to_string(i),
        mlir::UnmanagedAsmResourceBlob::allocateInferAlign(bytes));
    arg.replaceAllUsesWith(
        mlir::arith::ConstantOp::create(b, f.getLoc(), attr));
    weightArgs.set(i);
  }
  if (mlir::failed(f.eraseArguments(weightArgs)))
    return nullptr;
  return copy;
}

/// Reads `buffer` once: what the kernel touched before leaves the caches.
void evictCaches(const std::vector<Vector64> &buffer) {
  static volatile long long sink;
  sink = sink + readStreams<8>(buffer.data(), int64_t(buffer.size()));
}

std::vector<WeightCopy> makeWeights(const Format &format, int64_t n, int64_t k,
                                    int copies) {
  std::mt19937 rng(42);
  int64_t storageCols = k * format.bits / 8;
  int64_t groups = format.group ? (k + format.group - 1) / format.group : 1;
  // One copy is generated; the others repeat it in their own memory (the
  // rotation over copies defeats the caches, the values need not differ).
  std::vector<WeightCopy> result(1);
  if (format.ggmlBlockBytes) {
    int64_t rowBytes = k / format.ggmlBlockCodes * format.ggmlBlockBytes;
    // The block's f16 scale (q3_K's and q6_K's at its end, q2_K's before
    // its dmin at the end), and the f16 min after it (q4_1, q4_K, q5_K,
    // q2_K).
    const std::map<std::string, int64_t> scaleAtOf{
        {"q6_K", 208}, {"q3_K", 108}, {"q2_K", 80}};
    auto scaleEntry = scaleAtOf.find(format.element);
    int64_t scaleAt = scaleEntry == scaleAtOf.end() ? 0 : scaleEntry->second;
    bool hasMin = format.element == "q4_K" || format.element == "q5_K" ||
                  format.element == "q4_1" || format.element == "q2_K";
    int64_t minAt = hasMin ? scaleAt + 2 : scaleAt;
    for (WeightCopy &copy : result) {
      copy.storage.kind = HostArray::Kind::I8;
      copy.storage.shape = {n, rowBytes};
      copy.storage.i8.resize(n * rowBytes);
      for (int64_t i = 0; i < n * rowBytes; ++i) {
        int64_t inBlock = i % rowBytes % format.ggmlBlockBytes;
        if (inBlock == scaleAt || inBlock == minAt) {
          // A normal f16 near 2^-6.
          uint16_t half = uint16_t((9 << 10) | (rng() & 0x3ff));
          copy.storage.i8[i] = int8_t(half & 0xff);
          copy.storage.i8[++i] = int8_t(half >> 8);
          continue;
        }
        copy.storage.i8[i] = int8_t(rng());
      }
    }
    return std::vector<WeightCopy>(copies, result[0]);
  }
  if (format.isFloat) {
    std::normal_distribution<float> normal(0.0f, 0.02f);
    for (WeightCopy &copy : result) {
      copy.storage.shape = {n, k};
      if (format.weightKN)
        copy.storage.shape = {k, n};
      copy.storage.f32.resize(n * k);
      for (float &w : copy.storage.f32)
        w = normal(rng);
    }
    return std::vector<WeightCopy>(copies, result[0]);
  }
  for (WeightCopy &copy : result) {
    copy.storage.kind = HostArray::Kind::I8;
    copy.storage.shape = {n, storageCols};
    copy.storage.i8.resize(n * storageCols);
    for (int8_t &b : copy.storage.i8)
      b = int8_t(rng());
    copy.scales.shape = {n, groups};
    copy.scales.f32.assign(n * groups, 0.01f);
    for (float &s : copy.scales.f32)
      s = 0.005f + float(rng() % 1000) * 1e-5f;
    if (format.zeroPoints) {
      copy.zeros.kind = HostArray::Kind::I8;
      copy.zeros.shape = {n, groups};
      copy.zeros.i8.resize(n * groups);
      for (int8_t &z : copy.zeros.i8)
        z = int8_t(rng() % (1u << format.bits));
    }
  }
  return std::vector<WeightCopy>(copies, result[0]);
}

int64_t weightBytes(const Format &format, int64_t n, int64_t k) {
  if (format.isFloat)
    return n * k * 4;
  if (format.ggmlBlockBytes)
    return n * (k / format.ggmlBlockCodes) * format.ggmlBlockBytes;
  int64_t groups = format.group ? (k + format.group - 1) / format.group : 1;
  return n * k * format.bits / 8 + n * groups * 4 +
         (format.zeroPoints ? n * groups : 0);
}

#ifdef QUANT_BENCH_HAVE_DNNL
/// oneDNN's matmul of [M, K] x [K, N] -> f32 with `src`/`wei` element types,
/// weights in oneDNN's preferred layout (reordered once, outside timing).
class DnnlMatmul {
public:
  DnnlMatmul(int64_t m, int64_t n, int64_t k, dnnl_data_type_t src,
             dnnl_data_type_t wei, int copies) {
    dnnl_engine_create(&engine, dnnl_cpu, 0);
    dnnl_stream_create(&stream, engine, dnnl_stream_default_flags);
    dnnl_dims_t srcDims = {m, k}, weiDims = {k, n}, dstDims = {m, n};
    dnnl_memory_desc_t srcMd, weiAnyMd, dstMd, weiPlainMd;
    dnnl_memory_desc_init_by_tag(&srcMd, 2, srcDims, src, dnnl_ab);
    dnnl_memory_desc_init_by_tag(&weiAnyMd, 2, weiDims, wei,
                                 dnnl_format_tag_any);
    dnnl_memory_desc_init_by_tag(&weiPlainMd, 2, weiDims, wei, dnnl_ba);
    dnnl_memory_desc_init_by_tag(&dstMd, 2, dstDims, dnnl_f32, dnnl_ab);
    dnnl_matmul_desc_t desc;
    dnnl_matmul_desc_init(&desc, &srcMd, &weiAnyMd, nullptr, &dstMd);
    if (dnnl_primitive_desc_create(&pd, &desc, nullptr, engine, nullptr) !=
        dnnl_success) {
      pd = nullptr;
      return;
    }
    dnnl_primitive_create(&primitive, pd);
    const dnnl_memory_desc_t *weiMd =
        dnnl_primitive_desc_query_md(pd, dnnl_query_weights_md, 0);
    dnnl_memory_create(&srcMem, &srcMd, engine, DNNL_MEMORY_ALLOCATE);
    dnnl_memory_create(&dstMem, &dstMd, engine, DNNL_MEMORY_ALLOCATE);
    fill(srcMem, dnnl_memory_desc_get_size(&srcMd));
    dnnl_primitive_desc_t reorderPd;
    dnnl_reorder_primitive_desc_create(&reorderPd, &weiPlainMd, engine, weiMd,
                                       engine, nullptr);
    dnnl_primitive_t reorder;
    dnnl_primitive_create(&reorder, reorderPd);
    dnnl_memory_t plain;
    dnnl_memory_create(&plain, &weiPlainMd, engine, DNNL_MEMORY_ALLOCATE);
    fill(plain, dnnl_memory_desc_get_size(&weiPlainMd));
    for (int c = 0; c < copies; ++c) {
      dnnl_memory_t w;
      dnnl_memory_create(&w, weiMd, engine, DNNL_MEMORY_ALLOCATE);
      dnnl_exec_arg_t args[] = {{DNNL_ARG_FROM, plain}, {DNNL_ARG_TO, w}};
      dnnl_primitive_execute(reorder, stream, 2, args);
      weights.push_back(w);
    }
    dnnl_stream_wait(stream);
    dnnl_memory_destroy(plain);
    dnnl_primitive_destroy(reorder);
    dnnl_primitive_desc_destroy(reorderPd);
  }
  ~DnnlMatmul() {
    for (dnnl_memory_t w : weights)
      dnnl_memory_destroy(w);
    if (srcMem)
      dnnl_memory_destroy(srcMem);
    if (dstMem)
      dnnl_memory_destroy(dstMem);
    if (primitive)
      dnnl_primitive_destroy(primitive);
    if (pd)
      dnnl_primitive_desc_destroy(pd);
    dnnl_stream_destroy(stream);
    dnnl_engine_destroy(engine);
  }
  bool valid() const { return primitive != nullptr; }
  void run(int copy) {
    dnnl_exec_arg_t args[] = {{DNNL_ARG_SRC, srcMem},
                              {DNNL_ARG_WEIGHTS, weights[copy]},
                              {DNNL_ARG_DST, dstMem}};
    dnnl_primitive_execute(primitive, stream, 3, args);
    dnnl_stream_wait(stream);
  }

private:
  static void fill(dnnl_memory_t mem, size_t bytes) {
    void *data = nullptr;
    dnnl_memory_get_data_handle(mem, &data);
    // Small positive bytes are valid values of every element type used.
    std::memset(data, 0x11, bytes);
  }
  dnnl_engine_t engine = nullptr;
  dnnl_stream_t stream = nullptr;
  dnnl_primitive_desc_t pd = nullptr;
  dnnl_primitive_t primitive = nullptr;
  dnnl_memory_t srcMem = nullptr, dstMem = nullptr;
  std::vector<dnnl_memory_t> weights;
};

/// oneDNN's best time for an [m, k] x [k, n] product of `src` x `wei`.
double timeDnnl(int64_t m, int64_t n, int64_t k, const Options &options,
                dnnl_data_type_t src, dnnl_data_type_t wei,
                int64_t elementBytes) {
  int copies = int(
      std::max<int64_t>(2, (options.rotateBytes + n * k * elementBytes - 1) /
                               (n * k * elementBytes)));
  DnnlMatmul matmul(m, n, k, src, wei, copies);
  if (!matmul.valid())
    return 0.0;
  return measure(options.secondsPerCase, copies, [&](int c) { matmul.run(c); })
      .minUs;
}
#endif

struct Row {
  int64_t n, k, m;
  /// The format, with "/int8" for compute=int8.
  std::string format;
  unsigned threads;
  Timing kernel, reference;
  bool haveReference = false;
  double dnnlF32 = 0, dnnlBf16 = 0, dnnlS8 = 0; // min µs, 0 = not measured
  int64_t bytes;
  double bandwidth; // GB/s of the same thread count
};

std::vector<int64_t> parseList(const std::string &text) {
  std::vector<int64_t> values;
  for (llvm::StringRef item : llvm::split(text, ','))
    values.push_back(std::atoll(item.str().c_str()));
  return values;
}

void usage() {
  std::fprintf(
      stderr,
      "usage: quant-bench-matmul [options]\n"
      "  --shapes NxK,...     weight shapes (default 4096x4096)\n"
      "  --m 1,4,...          activation rows (default 1,4,16,128,512)\n"
      "  --formats a,b        int4-g32, int4-g128, int4-sym-g128, int8, "
      "int2-g64,\n"
      "                       int3-g128, int4-g128-act (GPTQ act-order),\n"
      "                       nf4-g64 (bitsandbytes NormalFloat4), fp8-e4m3,\n"
      "                       q4_0, q4_1, q5_0, q8_0, q2_K .. q6_K (ggml\n"
      "                       blocks), f32 (the importers' float product,\n"
      "                       [N, K] weights), f32-kn (linalg.matmul with\n"
      "                       [K, N] weights), w8a8 (dynamic_quantize +\n"
      "                       quantized_matmul, per-channel int8 weights;\n"
      "                       compute=int8 only)\n"
      "  --threads 1,2        thread counts (default 1,2)\n"
      "  --compute f32,int8   exact f32 kernels and/or int8-activation VNNI\n"
      "                       kernels (default both; int8 needs avx512vnni)\n"
      "  --reference-max-m M  largest M the reference lowering is timed at "
      "(default 4)\n"
      "  --rotate-mb MB       weight copies rotated per case, and the "
      "bandwidth\n"
      "                       buffer (default 1024: larger than this\n"
      "                       machine's last-level cache)\n"
      "  --seconds S          time per measurement (default 0.4)\n"
      "  --json               one JSON object instead of the table\n");
}

} // namespace

int main(int argc, char **argv) {
  keepFreedMemoryForRepeatedCalls();
  Options options;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "quant-bench-matmul: %s needs a value\n",
                     a.c_str());
        std::exit(2);
      }
      return argv[++i];
    };
    if (a == "--shapes") {
      options.shapes.clear();
      std::string list = next();
      for (llvm::StringRef item : llvm::split(list, ',')) {
        auto [n, k] = item.split('x');
        options.shapes.push_back(
            {std::atoll(n.str().c_str()), std::atoll(k.str().c_str())});
      }
    } else if (a == "--m") {
      options.rows = parseList(next());
    } else if (a == "--formats") {
      options.formats.clear();
      std::string list = next();
      for (llvm::StringRef item : llvm::split(list, ','))
        options.formats.push_back(item.str());
    } else if (a == "--threads") {
      options.threads.clear();
      for (int64_t t : parseList(next()))
        options.threads.push_back(unsigned(t));
    } else if (a == "--compute") {
      options.computes.clear();
      std::string list = next();
      for (llvm::StringRef item : llvm::split(list, ',')) {
        if (item == "f32") {
          options.computes.push_back(mlir::qtensor::KernelCompute::F32);
        } else if (item == "int8") {
          options.computes.push_back(mlir::qtensor::KernelCompute::Int8);
        } else {
          std::fprintf(stderr,
                       "quant-bench-matmul: --compute: unknown '%s' (f32 or "
                       "int8)\n",
                       item.str().c_str());
          return 2;
        }
      }
    } else if (a == "--reference-max-m") {
      options.referenceMaxRows = std::atoll(next().c_str());
    } else if (a == "--rotate-mb") {
      options.rotateBytes = std::atoll(next().c_str()) << 20;
    } else if (a == "--seconds") {
      options.secondsPerCase = std::atof(next().c_str());
    } else if (a == "--json") {
      options.json = true;
    } else if (a == "--help" || a == "-h") {
      usage();
      return 0;
    } else {
      std::fprintf(stderr, "quant-bench-matmul: unknown option '%s'\n",
                   a.c_str());
      usage();
      return 2;
    }
  }
  for (unsigned t : options.threads)
    if (t == 0) {
      std::fprintf(stderr, "quant-bench-matmul: --threads: a thread count "
                           "must be at least 1, got 0\n");
      return 2;
    }
  for (const std::string &name : options.formats)
    if (!lookupFormat(name)) {
      std::fprintf(stderr, "quant-bench-matmul: unknown format '%s'\n",
                   name.c_str());
      return 2;
    }
  for (auto [n, k] : options.shapes)
    if (n <= 0 || k <= 0) {
      std::fprintf(stderr,
                   "quant-bench-matmul: shape %lldx%lld: N and K must be "
                   "positive\n",
                   (long long)n, (long long)k);
      return 2;
    }
  for (auto [n, k] : options.shapes)
    for (const std::string &name : options.formats)
      if (int64_t blockCodes = lookupFormat(name)->ggmlBlockCodes;
          lookupFormat(name)->ggmlBlockBytes && k % blockCodes != 0) {
        std::fprintf(stderr,
                     "quant-bench-matmul: %s needs K a multiple of %lld\n",
                     name.c_str(), (long long)blockCodes);
        return 2;
      }
  for (int64_t m : options.rows)
    if (m <= 0) {
      std::fprintf(stderr, "quant-bench-matmul: --m: rows must be positive\n");
      return 2;
    }

  mlir::DialectRegistry registry;
  registerAllDialects(registry);
  registerUpstreamDialects(registry);
  mlir::MLIRContext context(registry);
  context.loadAllAvailableDialects();

  std::map<unsigned, double> bandwidth;
  for (unsigned t : options.threads) {
    bandwidth[t] = readBandwidth(options.rotateBytes, t);
    std::fprintf(stderr, "read bandwidth, %u thread(s): %.1f GB/s\n", t,
                 bandwidth[t]);
  }

  std::vector<Row> rows;
  std::vector<Vector64> evictionBuffer;
  for (auto [n, k] : options.shapes) {
    for (const std::string &name : options.formats) {
      Format format = *lookupFormat(name);
      int64_t bytes = weightBytes(format, n, k);
      int copies =
          int(std::max<int64_t>(2, (options.rotateBytes + bytes - 1) / bytes));
      std::vector<WeightCopy> weights = makeWeights(format, n, k, copies);
      auto module = mlir::parseSourceString<mlir::ModuleOp>(
          buildModule(format, n, k), &context);
      if (!module) {
        std::fprintf(stderr, "quant-bench-matmul: internal IR error\n");
        return 1;
      }
      JitOptions referenceOptions;
      referenceOptions.products = mlir::qtensor::ProductLowering::Reference;
      std::unique_ptr<JitModule> reference;
      std::vector<std::pair<mlir::qtensor::KernelCompute, unsigned>> variants;
      for (mlir::qtensor::KernelCompute compute : options.computes)
        for (unsigned threads : options.threads)
          variants.push_back({compute, threads});
      for (auto [compute, threads] : variants) {
        bool int8 = compute == mlir::qtensor::KernelCompute::Int8;
        // The float product has no int8 path; W8A8 only has it.
        if ((int8 && format.isFloat) || (!int8 && format.w8a8))
          continue;
        std::string label = int8 ? name + "/int8" : name;
        JitOptions kernelOptions;
        kernelOptions.threads = threads;
        kernelOptions.compute = compute;
        auto kernel = JitModule::compile(*module, kernelOptions);
        if (!kernel) {
          std::fprintf(stderr, "quant-bench-matmul: %s\n",
                       llvm::toString(kernel.takeError()).c_str());
          return 1;
        }
        // int8 kernels of constant, prepacked weights, as in a model; the
        // formats whose codes are repacked at compile time, and the
        // K-quants, whose sub-block parameters are unpacked at compile time.
        std::optional<std::unique_ptr<JitModule>> constantKernel;
        if ((int8 && prepacksInt8(format)) || format.needsConstants ||
            format.ggmlBlockCodes == 256) {
          mlir::OwningOpRef<mlir::ModuleOp> constantModule =
              withConstantWeights(*module, weights[0]);
          auto compiled =
              constantModule
                  ? JitModule::compile(*constantModule, kernelOptions)
                  : llvm::Expected<std::unique_ptr<JitModule>>(
                        llvm::createStringError("internal IR "
                                                "error"));
          if (!compiled) {
            std::fprintf(stderr, "quant-bench-matmul: %s\n",
                         llvm::toString(compiled.takeError()).c_str());
            return 1;
          }
          constantKernel = std::move(*compiled);
        }
        for (int64_t m : options.rows) {
          std::fprintf(stderr, "%lldx%lld %s M=%lld threads=%u\n", (long long)n,
                       (long long)k, label.c_str(), (long long)m, threads);
          HostArray x;
          x.shape = {m, k};
          x.f32.resize(m * k);
          std::mt19937 rng(7);
          std::normal_distribution<float> normal(0.0f, 1.0f);
          for (float &v : x.f32)
            v = normal(rng);
          auto callWith = [&](JitModule &jit, int copy) {
            const WeightCopy &w = weights[copy];
            std::vector<const HostArray *> args{&x, &w.storage};
            if (!format.isFloat && !format.ggmlBlockBytes)
              args.push_back(&w.scales);
            if (format.zeroPoints)
              args.push_back(&w.zeros);
            auto result = jit.call("f", args);
            if (!result) {
              std::fprintf(stderr, "quant-bench-matmul: %s\n",
                           llvm::toString(result.takeError()).c_str());
              std::exit(1);
            }
          };
          Row row{n, k, m, label, threads,           {}, {}, false,
                  0, 0, 0, bytes, bandwidth[threads]};
          if (constantKernel) {
            if (evictionBuffer.empty())
              evictionBuffer.resize(options.rotateBytes / sizeof(Vector64));
            row.kernel = measure(
                options.secondsPerCase, 1,
                [&](int) {
                  auto result = (*constantKernel)->call("f", {&x});
                  if (!result) {
                    std::fprintf(stderr, "quant-bench-matmul: %s\n",
                                 llvm::toString(result.takeError()).c_str());
                    std::exit(1);
                  }
                },
                [&] { evictCaches(evictionBuffer); });
          } else {
            row.kernel = measure(options.secondsPerCase, copies,
                                 [&](int c) { callWith(**kernel, c); });
          }
          // The reference lowering is single-threaded: time it once.
          if (m <= options.referenceMaxRows && threads == options.threads[0] &&
              compute == options.computes[0]) {
            if (!reference) {
              auto compiled = JitModule::compile(*module, referenceOptions);
              if (!compiled) {
                std::fprintf(stderr, "quant-bench-matmul: %s\n",
                             llvm::toString(compiled.takeError()).c_str());
                return 1;
              }
              reference = std::move(*compiled);
            }
            row.reference = measure(options.secondsPerCase, copies,
                                    [&](int c) { callWith(*reference, c); });
            row.haveReference = true;
          }
#ifdef QUANT_BENCH_HAVE_DNNL
          omp_set_num_threads(int(threads));
          row.dnnlF32 = timeDnnl(m, n, k, options, dnnl_f32, dnnl_f32, 4);
          row.dnnlBf16 = timeDnnl(m, n, k, options, dnnl_bf16, dnnl_bf16, 2);
          row.dnnlS8 = timeDnnl(m, n, k, options, dnnl_u8, dnnl_s8, 1);
#endif
          rows.push_back(row);
        }
      }
    }
  }

  // The VM's bandwidth drifts: measured again after the kernels, the
  // better of the two is the reference of every row.
  for (unsigned t : options.threads) {
    double again = readBandwidth(options.rotateBytes, t);
    bandwidth[t] = std::max(bandwidth[t], again);
    std::fprintf(stderr,
                 "read bandwidth, %u thread(s), after the kernels: %.1f GB/s "
                 "(using %.1f)\n",
                 t, again, bandwidth[t]);
  }
  for (Row &r : rows)
    r.bandwidth = bandwidth[r.threads];

  auto gflops = [](const Row &r, double us) {
    return 2.0 * r.m * r.n * r.k / (us * 1e3);
  };
  if (options.json) {
    llvm::outs() << "{\"bandwidth_gbps\": {";
    bool first = true;
    for (auto [t, bw] : bandwidth) {
      llvm::outs() << (first ? "" : ", ") << "\"" << t
                   << "\": " << llvm::formatv("{0:f2}", bw);
      first = false;
    }
    llvm::outs() << "}, \"results\": [\n";
    for (size_t i = 0; i < rows.size(); ++i) {
      const Row &r = rows[i];
      llvm::outs() << llvm::formatv(
          "  {{\"n\": {0}, \"k\": {1}, \"m\": {2}, \"format\": \"{3}\", "
          "\"threads\": {4}, \"weight_bytes\": {5}, \"kernel_min_us\": "
          "{6:f1}, \"kernel_median_us\": {7:f1}, \"weight_gbps\": {8:f2}, "
          "\"fraction_of_bandwidth\": {9:f3}, \"gflops\": {10:f2}",
          r.n, r.k, r.m, r.format, r.threads, r.bytes, r.kernel.minUs,
          r.kernel.medianUs, r.bytes / (r.kernel.minUs * 1e3),
          r.bytes / (r.kernel.minUs * 1e3) / r.bandwidth,
          gflops(r, r.kernel.minUs));
      if (r.haveReference)
        llvm::outs() << llvm::formatv(", \"reference_min_us\": {0:f1}",
                                      r.reference.minUs);
      if (r.dnnlF32 > 0)
        llvm::outs() << llvm::formatv(", \"onednn_f32_min_us\": {0:f1}",
                                      r.dnnlF32);
      if (r.dnnlBf16 > 0)
        llvm::outs() << llvm::formatv(", \"onednn_bf16_min_us\": {0:f1}",
                                      r.dnnlBf16);
      if (r.dnnlS8 > 0)
        llvm::outs() << llvm::formatv(", \"onednn_s8_min_us\": {0:f1}",
                                      r.dnnlS8);
      llvm::outs() << "}" << (i + 1 < rows.size() ? "," : "") << "\n";
    }
    llvm::outs() << "]}\n";
    return 0;
  }

  llvm::outs() << llvm::formatv(
      "{0,-10} {1,-10} {2,4} {3,2} | {4,9} {5,9} {6,7} {7,6} {8,8} | {9,10} "
      "{10,7} | {11,9} {12,9} {13,9} {14,6} {15,6}\n",
      "shape", "format", "M", "t", "min us", "med us", "GB/s", "of BW",
      "GFLOP/s", "ref us", "x ref", "dnnl f32", "dnnl bf16", "dnnl s8", "/f32",
      "/s8");
  for (const Row &r : rows) {
    double gbps = r.bytes / (r.kernel.minUs * 1e3);
    auto ratio = [&](double us) {
      return us > 0 ? llvm::formatv("{0:f2}", us / r.kernel.minUs).str()
                    : std::string("-");
    };
    auto micro = [](double us) {
      return us > 0 ? llvm::formatv("{0:f1}", us).str() : std::string("-");
    };
    llvm::outs() << llvm::formatv(
        "{0,-10} {1,-10} {2,4} {3,2} | {4,9:f1} {5,9:f1} {6,7:f1} {7,6:f2} "
        "{8,8:f1} | {9,10} {10,7} | {11,9} {12,9} {13,9} {14,6} {15,6}\n",
        llvm::formatv("{0}x{1}", r.n, r.k).str(), r.format, r.m, r.threads,
        r.kernel.minUs, r.kernel.medianUs, gbps, gbps / r.bandwidth,
        gflops(r, r.kernel.minUs),
        r.haveReference ? micro(r.reference.minUs) : std::string("-"),
        r.haveReference ? ratio(r.reference.minUs) : std::string("-"),
        micro(r.dnnlF32), micro(r.dnnlBf16), micro(r.dnnlS8), ratio(r.dnnlF32),
        ratio(r.dnnlS8));
  }
  llvm::outs() << "GB/s counts weight bytes (codes, scales, zero-points); "
                  "'of BW' is that over the streaming read bandwidth of the "
                  "same thread count; '/f32' and '/s8' are oneDNN's time over "
                  "the kernel's (above 1: the kernel is faster).\n";
  return 0;
}
