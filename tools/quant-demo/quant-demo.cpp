//===- quant-demo.cpp - Quantize the bundled model and report -------------===//
//
// Part of the quant-opt project, under the Apache License v2.0 with LLVM
// Exceptions.
//
//===----------------------------------------------------------------------===//
//
// The README's main job. For every weight matrix of a llama2.c checkpoint it
// builds a linear-layer module with the real weight, runs `--quant-rtn` with
// each configuration, JIT-compiles the lowered code, runs it on activations
// derived from real validation tokens, and reports the size and output error
// of every configuration. It also checks the lowered code against a C++
// reference of x · dequant(W)ᵀ computed from the same codes.
//
//===----------------------------------------------------------------------===//

#include "quant/Dialect/QTensor/IR/QTensorOps.h"
#include "quant/Execution/Evaluation.h"
#include "quant/Execution/JitExecutor.h"
#include "quant/Formats/Npy.h"
#include "quant/Import/Llama2cCheckpoint.h"
#include "quant/Import/Llama2cTokenizer.h"
#include "quant/Import/LlamaImporter.h"
#include "quant/InitAll.h"
#include "quant/Numerics/BLASKernels.h"
#include "quant/Numerics/Numerics.h"

#include "mlir/IR/DialectRegistry.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/Parser/Parser.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Pass/PassRegistry.h"
#include "llvm/Support/CommandLine.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/JSON.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/raw_ostream.h"

#include <chrono>
#include <cmath>

using namespace mlir;
using namespace quantopt;
namespace num = quantopt::numerics;

static llvm::cl::opt<std::string>
    modelDir(llvm::cl::Positional, llvm::cl::desc("<model directory>"),
             llvm::cl::init("examples/stories260K"));
static llvm::cl::opt<unsigned>
    numTokens("tokens", llvm::cl::desc("validation tokens used as inputs"),
              llvm::cl::init(256));
static llvm::cl::opt<bool> checkLowering(
    "check",
    llvm::cl::desc("exit with an error unless every lowered result is within "
                   "1e-5 (relative to max |y|) of the C++ reference"),
    llvm::cl::init(false));
static llvm::cl::opt<bool> layerCheck(
    "layer-check",
    llvm::cl::desc("instead of the model table: quantize each weight matrix "
                   "alone, run it on activations of real tokens, and check "
                   "the lowered code against the C++ reference"),
    llvm::cl::init(false));
static llvm::cl::opt<int64_t> windows(
    "windows",
    llvm::cl::desc("512-token evaluation windows (default 32; --full: all)"),
    llvm::cl::init(32));
static llvm::cl::opt<bool>
    fullStream("full", llvm::cl::desc("evaluate the whole validation stream"),
               llvm::cl::init(false));
static llvm::cl::opt<bool> emitJson("json",
                                    llvm::cl::desc("print the report as JSON"),
                                    llvm::cl::init(false));

namespace {
struct Config {
  const char *label;
  const char *options; // quant-rtn options
  num::RTNOptions reference;
};

struct Row {
  std::string label;
  double bitsPerWeight = 0, bytes = 0, meanError = 0, worstError = 0,
         loweringError = 0, seconds = 0;
  std::string worstName;
};
} // namespace

/// Reports `err` on stderr and returns the exit code of a failure.
static int fail(llvm::Error err) {
  llvm::errs() << "quant-demo: " << llvm::toString(std::move(err)) << "\n";
  return 1;
}

static std::vector<Config> configs() {
  auto make = [](num::ElementFormat format, int64_t group, bool sym) {
    num::RTNOptions o;
    o.format = format;
    o.groupSize = group;
    o.symmetric = sym;
    return o;
  };
  using F = num::ElementFormat;
  return {
      {"FP32 (lowered float path)", "", {}},
      {"RTN int8 per-channel asym", "bits=8", make(F::ui8, -1, false)},
      {"RTN int4 per-channel asym", "bits=4", make(F::ui4, -1, false)},
      {"RTN int4 g32 asym", "bits=4 group-size=32", make(F::ui4, 32, false)},
      {"RTN int4 g32 sym", "bits=4 group-size=32 sym=true",
       make(F::si4, 32, true)},
      {"RTN int3 g32 asym", "bits=3 group-size=32", make(F::ui3, 32, false)},
      {"RTN int2 g32 asym", "bits=2 group-size=32", make(F::ui2, 32, false)},
      {"RTN NF4 g64", "format=nf4 group-size=64", make(F::nf4, 64, false)},
      {"RTN FP4 g64", "format=fp4 group-size=64", make(F::fp4, 64, false)},
      {"RTN FP8 E4M3 per-channel", "format=f8E4M3FN",
       make(F::f8E4M3FN, -1, false)},
  };
}

/// Module text of `y = x · Wᵀ` with W [N, K] stored as a dense_resource.
static std::string linearModule(const CheckpointTensor &w, int64_t tokens) {
  int64_t n = w.shape[0], k = w.shape[1];
  std::string text;
  llvm::raw_string_ostream os(text);
  os << llvm::formatv(R"(
func.func @linear(%x: tensor<{0}x{2}xf32>) -> tensor<{0}x{1}xf32> {{
  %w = arith.constant dense_resource<{3}> : tensor<{1}x{2}xf32> loc("{3}")
  %zero = arith.constant 0.0 : f32
  %empty = tensor.empty() : tensor<{0}x{1}xf32>
  %init = linalg.fill ins(%zero : f32) outs(%empty : tensor<{0}x{1}xf32>) -> tensor<{0}x{1}xf32>
  %y = linalg.matmul indexing_maps = [affine_map<(m, n, k) -> (m, k)>,
                                      affine_map<(m, n, k) -> (n, k)>,
                                      affine_map<(m, n, k) -> (m, n)>]
         ins(%x, %w : tensor<{0}x{2}xf32>, tensor<{1}x{2}xf32>)
         outs(%init : tensor<{0}x{1}xf32>) -> tensor<{0}x{1}xf32>
  return %y : tensor<{0}x{1}xf32>
}
{{-# dialect_resources: {{ builtin: {{ {3}: "0x04000000)",
                      tokens, n, k, w.name);
  // Blob: 4-byte alignment word, then little-endian f32 data.
  const auto *bytes = reinterpret_cast<const uint8_t *>(w.data.data());
  for (size_t i = 0; i < w.data.size() * sizeof(float); ++i)
    os << llvm::format_hex_no_prefix(bytes[i], 2, /*Upper=*/true);
  os << "\" } } #-}\n";
  return text;
}

static std::vector<float> rmsNorm(llvm::ArrayRef<float> x, int64_t rows,
                                  int64_t dim, llvm::ArrayRef<float> weight) {
  std::vector<float> out(rows * dim);
  for (int64_t r = 0; r < rows; ++r) {
    double ss = 0;
    for (int64_t i = 0; i < dim; ++i)
      ss += double(x[r * dim + i]) * x[r * dim + i];
    float inv = float(1.0 / std::sqrt(ss / dim + 1e-5));
    for (int64_t i = 0; i < dim; ++i)
      out[r * dim + i] = x[r * dim + i] * inv * weight[i];
  }
  return out;
}

/// y = x · Wᵀ in double.
static std::vector<double> matmulRef(const std::vector<float> &x, int64_t t,
                                     const std::vector<float> &w, int64_t n,
                                     int64_t k) {
  std::vector<double> y(t * n);
  for (int64_t i = 0; i < t; ++i)
    for (int64_t j = 0; j < n; ++j) {
      double acc = 0;
      for (int64_t c = 0; c < k; ++c)
        acc += double(x[i * k + c]) * w[j * k + c];
      y[i * n + j] = acc;
    }
  return y;
}

/// The dequantized weight of the C++ reference quantizer.
static std::vector<float> referenceDequant(llvm::ArrayRef<float> w, int64_t n,
                                           int64_t k,
                                           const num::RTNOptions &o) {
  num::RTNResult r = num::quantizeRTN(w.data(), n, k, o);
  int64_t group = o.groupSize > 0 ? o.groupSize : k;
  std::vector<float> out(n * k);
  for (int64_t i = 0; i < n; ++i)
    for (int64_t c = 0; c < k; ++c) {
      int64_t p = o.groupSize == 0 ? 0 : i * r.groups + c / group;
      uint8_t code = r.codes[i * k + c];
      float s = r.scales[p];
      if (!num::isIntegerFormat(o.format)) {
        out[i * k + c] = num::decodeNonInteger(o.format, code) * s;
        continue;
      }
      unsigned bits = num::getBitWidth(o.format);
      int32_t q = num::isSignedIntegerFormat(o.format)
                      ? int32_t(int8_t(code << (8 - bits)) >> (8 - bits))
                      : int32_t(code);
      float z = r.zeros.empty() ? 0.0f : float(r.zeros[p]);
      out[i * k + c] = num::dequantizeAffine(q, s, z);
    }
  return out;
}

static double relError(const std::vector<float> &y,
                       const std::vector<double> &ref) {
  double num = 0, den = 0;
  for (size_t i = 0; i < y.size(); ++i) {
    num += (y[i] - ref[i]) * (y[i] - ref[i]);
    den += ref[i] * ref[i];
  }
  return den == 0 ? 0 : num / den;
}

static double maxRelDiff(const std::vector<float> &y,
                         const std::vector<double> &ref) {
  double scale = 0, worst = 0;
  for (double v : ref)
    scale = std::max(scale, std::fabs(v));
  for (size_t i = 0; i < y.size(); ++i)
    worst = std::max(worst, std::fabs(y[i] - ref[i]));
  return scale == 0 ? worst : worst / scale;
}

/// --layer-check: every weight matrix quantized alone, run on proxy
/// activations, and compared with the C++ reference of the lowering.
static int runLayerCheck() {
  std::string ckptPath = modelDir + "/stories260K.bin";
  auto ckpt = Llama2cCheckpoint::open(ckptPath);
  if (!ckpt) {
    return fail(ckpt.takeError());
  }
  const Llama2cConfig &cfg = (*ckpt)->getConfig();
  auto ids = llvm::MemoryBuffer::getFile(
      modelDir + "/tinystories_val.tok512.i32", false, false);
  if (!ids) {
    llvm::errs() << "quant-demo: cannot read the token ids: "
                 << ids.getError().message() << "\n";
    return 1;
  }
  int64_t t = std::min<int64_t>(numTokens, (*ids)->getBufferSize() / 4);
  const auto *tok = reinterpret_cast<const int32_t *>((*ids)->getBufferStart());

  // Proxy activations from real tokens: normalised embeddings (and, for w2,
  // the SwiGLU hidden state of the same layer).
  const CheckpointTensor *emb = (*ckpt)->lookup("token_embedding");
  std::vector<float> embedded(t * cfg.dim);
  for (int64_t i = 0; i < t; ++i) {
    int32_t id = tok[i];
    if (id < 0 || id >= cfg.vocabSize) {
      llvm::errs() << "quant-demo: token id " << id << " at position " << i
                   << " is outside the vocabulary\n";
      return 1;
    }
    std::copy_n(emb->data.begin() + int64_t(id) * cfg.dim, cfg.dim,
                embedded.begin() + i * cfg.dim);
  }
  auto activationFor = [&](llvm::StringRef name) {
    auto [kind, layer] = name.split('.');
    bool ffn = kind == "w1" || kind == "w2" || kind == "w3";
    auto *norm = (*ckpt)->lookup((ffn ? "rms_ffn." : "rms_att.") + layer.str());
    std::vector<float> x = rmsNorm(embedded, t, cfg.dim, norm->data);
    if (kind != "w2")
      return x;
    auto *w1 = (*ckpt)->lookup(("w1." + layer).str());
    auto *w3 = (*ckpt)->lookup(("w3." + layer).str());
    std::vector<float> w1v(w1->data.begin(), w1->data.end());
    std::vector<float> w3v(w3->data.begin(), w3->data.end());
    auto a = matmulRef(x, t, w1v, cfg.hiddenDim, cfg.dim);
    auto b = matmulRef(x, t, w3v, cfg.hiddenDim, cfg.dim);
    std::vector<float> h(t * cfg.hiddenDim);
    for (size_t i = 0; i < h.size(); ++i)
      h[i] = float(a[i] / (1.0 + std::exp(-a[i])) * b[i]);
    return h;
  };

  DialectRegistry registry;
  quantopt::registerAllDialects(registry);
  quantopt::registerUpstreamDialects(registry);
  quantopt::registerCPUJitExecutor(registry);
  quantopt::registerAllPasses();
  MLIRContext ctx(registry);
  ctx.loadAllAvailableDialects();
  ctx.getDiagEngine().registerHandler([](Diagnostic &diag) {
    if (diag.getSeverity() != DiagnosticSeverity::Remark)
      llvm::errs() << diag.getLocation() << ": " << diag << "\n";
    return success();
  });

  std::vector<Row> rows;
  for (const Config &config : configs()) {
    Row row;
    row.label = config.label;
    auto start = std::chrono::steady_clock::now();
    double totalBits = 0, totalWeights = 0, errorSum = 0;
    unsigned matrices = 0;
    for (const CheckpointTensor &w : (*ckpt)->getTensors()) {
      if (w.shape.size() != 2 || w.name == "token_embedding" ||
          w.name == "wcls")
        continue;
      int64_t n = w.shape[0], k = w.shape[1];
      OwningOpRef<ModuleOp> module =
          parseSourceString<ModuleOp>(linearModule(w, t), &ctx);
      if (!module)
        return 1;
      bool quantized = config.options[0] != '\0';
      if (quantized) {
        PassManager pm(&ctx);
        // The pass manager is anchored on builtin.module already.
        std::string pipeline = std::string("quant-rtn{") + config.options + "}";
        if (failed(parsePassPipeline(pipeline, pm)) || failed(pm.run(*module)))
          return 1;
      }
      // Bits per weight from the IR the pass produced.
      double bits = 32.0 * n * k;
      module->walk([&](qtensor::DequantMatmulOp op) {
        bits = 0;
        for (Value v : op->getOperands().drop_front().drop_back()) {
          auto type = cast<RankedTensorType>(v.getType());
          bits += double(type.getNumElements()) * type.getElementTypeBitWidth();
        }
      });
      totalBits += bits;
      totalWeights += double(n) * k;

      auto jit = JitModule::compile(*module);
      if (!jit) {
        return fail(jit.takeError());
      }
      HostArray x;
      x.shape = {t, k};
      x.f32 = activationFor(w.name);
      auto y = (*jit)->callSingle("linear", {&x});
      if (!y) {
        return fail(y.takeError());
      }
      std::vector<float> wf(w.data.begin(), w.data.end());
      auto reference = matmulRef(x.f32, t, wf, n, k);
      double err = relError(y->f32, reference);
      errorSum += err;
      ++matrices;
      if (err >= row.worstError) {
        row.worstError = err;
        row.worstName = w.name;
      }
      // The lowered code must compute x · dequant(W)ᵀ of the reference codes.
      std::vector<float> deq =
          quantized ? referenceDequant(w.data, n, k, config.reference) : wf;
      row.loweringError =
          std::max(row.loweringError,
                   maxRelDiff(y->f32, matmulRef(x.f32, t, deq, n, k)));
    }
    row.seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
            .count();
    row.bitsPerWeight = totalBits / totalWeights;
    row.bytes = totalBits / 8;
    row.meanError = errorSum / matrices;
    rows.push_back(row);
    if (!emitJson)
      llvm::errs() << "  done: " << row.label << "\n";
  }

  double worstLowering = 0;
  for (const Row &r : rows)
    worstLowering = std::max(worstLowering, r.loweringError);
  bool loweringOk = worstLowering <= 1e-5;

  if (emitJson) {
    llvm::json::Array array;
    for (const Row &r : rows)
      array.push_back(
          llvm::json::Object{{"method", r.label},
                             {"bits_per_weight", r.bitsPerWeight},
                             {"weight_bytes", r.bytes},
                             {"mean_rel_output_error", r.meanError},
                             {"worst_rel_output_error", r.worstError},
                             {"worst_matrix", r.worstName},
                             {"max_lowering_vs_reference", r.loweringError},
                             {"seconds", r.seconds}});
    llvm::outs() << llvm::formatv("{0:2}", llvm::json::Value(std::move(array)))
                 << "\n";
    return checkLowering && !loweringOk ? 1 : 0;
  }
  llvm::outs() << llvm::formatv(
      "\nstories260K: {0} weight matrices (wq wk wv wo w1 w2 w3 of {1} "
      "layers), inputs from {2} validation tokens\n"
      "rel. error = ||x·Wqᵀ - x·Wᵀ||² / ||x·Wᵀ||² (mean / worst matrix); "
      "lowering check = max |JIT - C++ x·dequant(W)ᵀ| / max|y|\n\n",
      7 * cfg.numLayers, cfg.numLayers, t);
  llvm::outs() << llvm::formatv("{0,-28} {1,9} {2,11} {3,11} {4,11} {5,-6} "
                                "{6,10} {7,8}\n",
                                "method", "bits/w", "weights kB", "mean err",
                                "worst err", "(of)", "lowering", "time s");
  for (const Row &r : rows)
    llvm::outs() << llvm::formatv(
        "{0,-28} {1,9:f3} {2,11:f1} {3,11:e2} {4,11:e2} {5,-6} {6,10:e1} "
        "{7,8:f2}\n",
        r.label, r.bitsPerWeight, r.bytes / 1024, r.meanError, r.worstError,
        r.worstName, r.loweringError, r.seconds);
  llvm::outs() << llvm::formatv(
      "\nlowering check: worst {0:e1} relative to max |y|, {1}\n",
      worstLowering, loweringOk ? "within 1e-5" : "ABOVE 1e-5");
  return checkLowering && !loweringOk ? 1 : 0;
}

namespace {
struct Method {
  const char *label;
  const char *pipeline; // empty: the float model
};

struct ModelRow {
  std::string label;
  double bitsPerWeight = 0, kilobytes = 0;
  EvalResult eval;
  double compileSeconds = 0;
};
} // namespace

/// Bits a quantized operand stores: a constant's elements, or for a value
/// computed at run time (double-quantized scales: a dequantize of 8-bit
/// codes plus an offset) the constants it is computed from. Each constant
/// counts once; `counted` collects them.
static double storedBits(Value value, llvm::DenseSet<Operation *> &counted) {
  Operation *def = value.getDefiningOp();
  if (!def)
    return 0;
  if (isa<arith::ConstantOp>(def)) {
    if (!counted.insert(def).second)
      return 0;
    auto type = cast<RankedTensorType>(value.getType());
    return double(type.getNumElements()) * type.getElementTypeBitWidth();
  }
  double bits = 0;
  for (Value operand : def->getOperands())
    bits += storedBits(operand, counted);
  return bits;
}

/// Bits of every weight the model stores: float constants at 32 bits, and
/// the storage, scales and zero-points of each quantized matmul. Returns
/// {bits of quantized matrices / their weights, total bytes}.
static std::pair<double, double> measureSize(ModuleOp module) {
  double quantBits = 0, quantWeights = 0, totalBits = 0;
  llvm::DenseSet<Operation *> counted;
  // A weight shared by two products (LLM.int8()'s outlier and int8 parts)
  // counts once.
  module->walk([&](qtensor::DequantMatmulOp op) {
    bool newWeight = !counted.contains(op.getStorage().getDefiningOp());
    for (Value v : op->getOperands().drop_front().drop_back())
      quantBits += storedBits(v, counted);
    if (!newWeight)
      return;
    SmallVector<int64_t> shape = op.getWeightShape();
    double n = 1;
    for (int64_t d : shape)
      n *= double(d);
    quantWeights += n;
  });
  // W8A8 products: int8 weights and their scales.
  module->walk([&](qtensor::QuantizedMatmulOp op) {
    bool newWeight = !counted.contains(op.getWeight().getDefiningOp());
    for (Value v : {op.getWeight(), op.getWeightScales()})
      quantBits += storedBits(v, counted);
    if (newWeight)
      quantWeights += double(op.getWeight().getType().getNumElements());
  });
  // ggml blocks: storage bytes over N * K (the scales are in the blocks).
  // F16/BF16 fallbacks are not quantized: they count in the size only.
  double ggmlFloatBits = 0;
  module->walk([&](qtensor::GGMLMatmulOp op) {
    double bits = 8.0 * double(op.getStorage().getType().getNumElements());
    if (op.hasFloatStorage()) {
      ggmlFloatBits += bits;
      return;
    }
    quantBits += bits;
    quantWeights += double(op.getStorage().getType().getDimSize(0)) *
                    double(op.getInput().getType().getShape().back());
  });
  totalBits += quantBits + ggmlFloatBits;
  module->walk([&](arith::ConstantOp op) {
    auto type = dyn_cast<RankedTensorType>(op.getType());
    if (!type || !isa<DenseResourceElementsAttr>(op.getValue()) ||
        op->use_empty() || counted.contains(op))
      return;
    // Float weights the model still uses (quantized ones lost their uses).
    if (type.getElementType().isF32())
      totalBits += 32.0 * double(type.getNumElements());
  });
  return {quantWeights > 0 ? quantBits / quantWeights : 32.0, totalBits / 8};
}

static int runModelTable() {
  using llvm::formatv;
  std::string ckptPath = modelDir + "/stories260K.bin";
  auto ckpt = Llama2cCheckpoint::open(ckptPath);
  if (!ckpt) {
    return fail(ckpt.takeError());
  }
  auto ids = loadTokenIds(modelDir + "/tinystories_val.tok512.i32",
                          (*ckpt)->getConfig().vocabSize);
  if (!ids) {
    return fail(ids.takeError());
  }
  DialectRegistry registry;
  quantopt::registerAllDialects(registry);
  quantopt::registerUpstreamDialects(registry);
  quantopt::registerCPUJitExecutor(registry);
  quantopt::registerAllPasses();
  MLIRContext ctx(registry);
  ctx.loadAllAvailableDialects();

  const int64_t seq = 512;
  LlamaImportOptions importOptions;
  importOptions.seqLen = seq;
  std::string error;
  OwningOpRef<ModuleOp> floatModel =
      importLlama2c(&ctx, **ckpt, importOptions, error);
  if (!floatModel) {
    llvm::errs() << "quant-demo: " << ckptPath << ": " << error << "\n";
    return 1;
  }
  auto signature = getModelSignature(*floatModel, "forward");
  if (!signature) {
    return fail(signature.takeError());
  }
  auto reference = JitModule::compile(*floatModel);
  if (!reference) {
    return fail(reference.takeError());
  }
  EvalOptions evalOptions;
  evalOptions.maxTokens = fullStream ? -1 : windows * seq + 1;

  const Method methods[] = {
      {"FP32", ""},
      {"RTN int8 per-channel asym", "quant-rtn{bits=8}"},
      {"RTN int4 g32 asym", "quant-rtn{bits=4 group-size=32}"},
      {"RTN int4 g32 sym", "quant-rtn{bits=4 group-size=32 sym=true}"},
      {"RTN int4 per-channel asym", "quant-rtn{bits=4}"},
      {"RTN int3 g32 asym", "quant-rtn{bits=3 group-size=32}"},
      {"RTN NF4 g64", "quant-rtn{format=nf4 group-size=64}"},
      {"RTN FP4 g64", "quant-rtn{format=fp4 group-size=64}"},
      {"RTN FP8 E4M3 per-channel", "quant-rtn{format=f8E4M3FN}"},
      // Calibrated on 16 windows far from the evaluation windows.
      {"GPTQ int4 g32 asym", "gptq-quantize{bits=4 group-size=32 %CALIB}"},
      {"GPTQ int3 g32 asym", "gptq-quantize{bits=3 group-size=32 %CALIB}"},
      {"GPTQ int4 pc act-order", "gptq-quantize{bits=4 act-order=true %CALIB}"},
      {"AWQ int4 g32 asym", "quant-awq{bits=4 group-size=32 %CALIB}"},
      // llama.cpp types; K = 64 and 172 fall back (q4_K -> q5_0,
      // q6_K -> q8_0, f16 where 32 does not divide K).
      {"GGUF Q8_0", "quant-gguf{type=q8_0}"},
      {"GGUF Q6_K", "quant-gguf{type=q6_K}"},
      {"GGUF Q4_K", "quant-gguf{type=q4_K}"},
      {"GGUF Q4_0", "quant-gguf{type=q4_0}"},
      {"GGUF Q4_0 imatrix", "quant-gguf{type=q4_0 %CALIB}"},
      {"GGUF Q4_K_M mix", "quant-gguf{mix=Q4_K_M}"},
      {"GGUF Q4_K_M imatrix", "quant-gguf{mix=Q4_K_M %CALIB}"},
      // bitsandbytes: blocks of the flattened weight (K = 172 straddles
      // rows), absmax double-quantized with the 8-bit dynamic map.
      {"bnb NF4 b64", "quant-bnb{format=nf4 blocksize=64}"},
      {"bnb NF4 b64 + DQ",
       "quant-bnb{format=nf4 blocksize=64 double-quant=true}"},
      {"bnb FP4 b64", "quant-bnb{format=fp4 blocksize=64}"},
      {"W8A8 per-token, no smooth", "quant-smoothquant{smooth=false}"},
      {"SmoothQuant W8A8 O1", "quant-smoothquant{alpha=0.5 %CALIB}"},
      {"SmoothQuant W8A8 O3", "quant-smoothquant{activations=static %CALIB}"},
      {"LLM.int8() threshold 6", "quant-llm-int8"},
  };
  std::vector<ModelRow> rows;
  std::unique_ptr<JitModule> sampleModel;
  for (const Method &method : methods) {
    ModelRow row;
    row.label = method.label;
    auto start = std::chrono::steady_clock::now();
    OwningOpRef<ModuleOp> model(cast<ModuleOp>((*floatModel)->clone()));
    if (method.pipeline[0] != '\0') {
      PassManager pm(&ctx);
      std::string pipeline = method.pipeline;
      size_t at = pipeline.find("%CALIB");
      if (at != std::string::npos)
        pipeline.replace(at, 6,
                         "calibration=" + modelDir +
                             "/tinystories_val.tok512.i32 "
                             "calibration-offset=200000 "
                             "calibration-windows=16");
      if (failed(parsePassPipeline(pipeline, pm)) || failed(pm.run(*model))) {
        llvm::errs() << "quant-demo: " << method.pipeline << " failed\n";
        return 1;
      }
    }
    std::tie(row.bitsPerWeight, row.kilobytes) = measureSize(*model);
    row.kilobytes /= 1024;
    auto compiled = JitModule::compile(*model);
    if (!compiled) {
      return fail(compiled.takeError());
    }
    row.compileSeconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
            .count();
    evalOptions.progressLabel = emitJson ? "" : row.label;
    bool isReference = method.pipeline[0] == '\0';
    auto result = evaluate(**compiled, isReference ? nullptr : reference->get(),
                           *signature, *ids, evalOptions);
    if (!result) {
      return fail(result.takeError());
    }
    row.eval = *result;
    rows.push_back(row);
    if (StringRef(method.label) == "RTN int4 g32 asym")
      sampleModel = std::move(*compiled);
  }

  double basePpl = rows.front().eval.perplexity;
  if (emitJson) {
    llvm::json::Array array;
    for (const ModelRow &r : rows) {
      llvm::json::Object o = r.eval.toJSON();
      o["method"] = r.label;
      o["bits_per_weight"] = r.bitsPerWeight;
      o["model_kib"] = r.kilobytes;
      o["delta_perplexity"] = r.eval.perplexity - basePpl;
      o["compile_seconds"] = r.compileSeconds;
      array.push_back(std::move(o));
    }
    llvm::outs() << formatv("{0:2}", llvm::json::Value(std::move(array)))
                 << "\n";
    return 0;
  }
  const EvalResult &first = rows.front().eval;
  llvm::outs() << formatv(
      "\nstories260K, {0} windows of 512 tokens ({1} scored) of the bundled "
      "TinyStories validation ids; KLD etc. against the FP32 model\n"
      "bits/w: of the quantized matrices (codes + scales + zero-points); "
      "size: all weights the model keeps\n\n",
      first.windows, first.tokens);
  llvm::outs() << formatv("{0,-26} {1,7} {2,9} {3,9} {4,8} {5,9} {6,9} "
                          "{7,8} {8,7}\n",
                          "method", "bits/w", "size KiB", "PPL", "dPPL",
                          "mean KLD", "same top", "RMS dp", "time s");
  for (const ModelRow &r : rows) {
    const EvalResult &e = r.eval;
    std::string kld = e.hasReference ? formatv("{0:f5}", e.meanKld).str() : "-";
    std::string same =
        e.hasReference ? formatv("{0:f2}%", e.sameTopPercent).str() : "-";
    std::string dp =
        e.hasReference ? formatv("{0:f2}%", e.rmsDeltaPPercent).str() : "-";
    llvm::outs() << formatv("{0,-26} {1,7:f3} {2,9:f1} {3,9:f4} {4,8:f4} "
                            "{5,9} {6,9} {7,8} {8,7:f1}\n",
                            r.label, r.bitsPerWeight, r.kilobytes, e.perplexity,
                            e.perplexity - basePpl, kld, same, dp,
                            r.compileSeconds + e.seconds);
  }
  if (sampleModel) {
    // A greedy sample needs a batch-1 module as long as the sample.
    importOptions.seqLen = 64;
    OwningOpRef<ModuleOp> shortModel =
        importLlama2c(&ctx, **ckpt, importOptions, error);
    PassManager pm(&ctx);
    auto tokenizer =
        Llama2cTokenizer::open(modelDir + "/tok512.bin", signature->vocabSize);
    if (shortModel && tokenizer &&
        succeeded(parsePassPipeline("quant-rtn{bits=4 group-size=32}", pm)) &&
        succeeded(pm.run(*shortModel))) {
      auto jit = JitModule::compile(*shortModel);
      auto shortSig = getModelSignature(*shortModel, "forward");
      if (jit && shortSig) {
        auto tokens = greedyDecode(**jit, *shortSig, {1}, 64);
        if (tokens) {
          llvm::outs() << "\ngreedy sample, RTN int4 g32 asym: ";
          for (size_t i = 1; i < tokens->size(); ++i)
            llvm::outs()
                << (*tokenizer)->decode((*tokens)[i - 1], (*tokens)[i]);
          llvm::outs() << "\n";
        } else {
          llvm::consumeError(tokens.takeError());
        }
      } else {
        if (!jit)
          llvm::consumeError(jit.takeError());
        if (!shortSig)
          llvm::consumeError(shortSig.takeError());
      }
    } else if (!tokenizer) {
      llvm::consumeError(tokenizer.takeError());
    }
  }
  return 0;
}

int main(int argc, char **argv) {
  quantopt::numerics::reexecWithNativeBLASKernels(argv);
  quantopt::registerVersionPrinter();
  llvm::cl::ParseCommandLineOptions(
      argc, argv,
      "quant-demo: import the bundled llama2.c model, quantize it with each "
      "method of quant-opt, run every variant through the JIT and report "
      "perplexity and KL divergence against FP32\n");
  return layerCheck ? runLayerCheck() : runModelTable();
}
