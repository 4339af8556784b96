//===- HuggingFaceTest.cpp - HF Llama import against a reference ----------===//
//
// Part of the quant-opt project, under the Apache License v2.0 with LLVM
// Exceptions.
//
//===----------------------------------------------------------------------===//
//
// Writes small random Llama checkpoints in the Hugging Face layout
// (config.json + model.safetensors, F32/F16/BF16), imports them, runs the
// JIT-compiled module, and compares the logits with a plain double-precision
// implementation of the Hugging Face forward written here (rotate-half RoPE,
// GQA, tied or separate lm_head), also after a round trip through a GGUF
// file (rows of q and k permuted to llama.cpp's adjacent-pair RoPE, imported
// back with it). Also checks the error paths on corrupt
// files, and that per-channel scale folding (SmoothQuant / AWQ) leaves the
// imported model's function unchanged.
//
//===----------------------------------------------------------------------===//

#include "quant/Dialect/QTensor/Utils/ScaleFolding.h"
#include "quant/Execution/JitExecutor.h"
#include "quant/Export/GGUFExport.h"
#include "quant/Import/GGUFLlama.h"
#include "quant/Import/HuggingFaceCheckpoint.h"
#include "quant/InitAll.h"
#include "quant/Numerics/Numerics.h"

#include "mlir/IR/DialectRegistry.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/IR/Verifier.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/raw_ostream.h"

#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <map>
#include <random>

using namespace quantopt;

namespace {
struct TinyConfig {
  int64_t dim = 32, hidden = 48, layers = 2, heads = 4, kvHeads = 2, vocab = 64,
          maxPos = 16;
  double eps = 1e-6, theta = 500.0;
  bool tied = false;
  std::string dtype = "F32";
};

using Tensors =
    std::map<std::string, std::pair<std::vector<int64_t>, std::vector<float>>>;

/// Random weights, already rounded to the storage dtype.
Tensors makeWeights(const TinyConfig &c, unsigned seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  Tensors t;
  auto add = [&](const std::string &name, std::vector<int64_t> shape,
                 float scale, float offset = 0.0f) {
    int64_t n = 1;
    for (int64_t d : shape)
      n *= d;
    std::vector<float> v(n);
    for (float &x : v) {
      x = offset + scale * normal(rng);
      if (c.dtype == "F16")
        x = numerics::roundToF16(x);
      else if (c.dtype == "BF16")
        x = numerics::roundToBF16(x);
    }
    t[name] = {shape, v};
  };
  int64_t hd = c.dim / c.heads, kv = hd * c.kvHeads;
  add("model.embed_tokens.weight", {c.vocab, c.dim}, 1.0f);
  for (int64_t l = 0; l < c.layers; ++l) {
    std::string p = "model.layers." + std::to_string(l) + ".";
    add(p + "input_layernorm.weight", {c.dim}, 0.1f, 1.0f);
    add(p + "self_attn.q_proj.weight", {c.dim, c.dim}, 0.2f);
    add(p + "self_attn.k_proj.weight", {kv, c.dim}, 0.2f);
    add(p + "self_attn.v_proj.weight", {kv, c.dim}, 0.2f);
    add(p + "self_attn.o_proj.weight", {c.dim, c.dim}, 0.2f);
    add(p + "post_attention_layernorm.weight", {c.dim}, 0.1f, 1.0f);
    add(p + "mlp.gate_proj.weight", {c.hidden, c.dim}, 0.2f);
    add(p + "mlp.up_proj.weight", {c.hidden, c.dim}, 0.2f);
    add(p + "mlp.down_proj.weight", {c.dim, c.hidden}, 0.2f);
  }
  add("model.norm.weight", {c.dim}, 0.1f, 1.0f);
  if (!c.tied)
    add("lm_head.weight", {c.vocab, c.dim}, 0.2f);
  return t;
}

void writeFile(const std::string &path, const std::string &bytes) {
  std::ofstream out(path, std::ios::binary);
  out.write(bytes.data(), bytes.size());
}

/// The safetensors bytes of `t` in `dtype`.
std::string safetensors(const Tensors &t, const std::string &dtype) {
  std::string header = "{", data;
  bool first = true;
  for (const auto &[name, entry] : t) {
    size_t begin = data.size();
    for (float x : entry.second) {
      if (dtype == "F32") {
        data.append(reinterpret_cast<const char *>(&x), 4);
        continue;
      }
      uint16_t bits =
          dtype == "F16" ? numerics::toF16Bits(x) : numerics::toBF16Bits(x);
      data.append(reinterpret_cast<const char *>(&bits), 2);
    }
    std::string shape;
    for (size_t i = 0; i < entry.first.size(); ++i)
      shape += (i ? "," : "") + std::to_string(entry.first[i]);
    header +=
        llvm::formatv("{0}\"{1}\":{{\"dtype\":\"{2}\",\"shape\":[{3}],"
                      "\"data_offsets\":[{4},{5}]}",
                      first ? "" : ",", name, dtype, shape, begin, data.size())
            .str();
    first = false;
  }
  header += "}";
  while ((8 + header.size()) % 8)
    header += ' ';
  uint64_t size = header.size();
  return std::string(reinterpret_cast<const char *>(&size), 8) + header + data;
}

std::string configJson(const TinyConfig &c) {
  return llvm::formatv(
             "{{\"model_type\": \"llama\", \"hidden_size\": {0}, "
             "\"intermediate_size\": {1}, \"num_hidden_layers\": {2}, "
             "\"num_attention_heads\": {3}, \"num_key_value_heads\": {4}, "
             "\"vocab_size\": {5}, \"max_position_embeddings\": {6}, "
             "\"rms_norm_eps\": {7:e}, \"rope_theta\": {8:e}, "
             "\"tie_word_embeddings\": {9}}",
             c.dim, c.hidden, c.layers, c.heads, c.kvHeads, c.vocab, c.maxPos,
             c.eps, c.theta, c.tied ? "true" : "false")
      .str();
}

/// Writes a checkpoint directory and returns its path.
std::string writeCheckpoint(const TinyConfig &c, const Tensors &t,
                            const std::string &tag) {
  llvm::SmallString<128> dir;
  llvm::sys::fs::createUniqueDirectory("quant-hf-" + tag, dir);
  writeFile((dir + "/config.json").str(), configJson(c));
  writeFile((dir + "/model.safetensors").str(), safetensors(t, c.dtype));
  return dir.str().str();
}

/// Hugging Face LlamaForCausalLM forward in double precision.
std::vector<double> referenceForward(const TinyConfig &c, const Tensors &t,
                                     const std::vector<int32_t> &tokens) {
  int64_t s = tokens.size(), d = c.dim, hd = d / c.heads, half = hd / 2;
  auto W = [&](const std::string &n) -> const std::vector<float> & {
    return t.at(n).second;
  };
  auto linear = [&](const std::vector<double> &x, const std::vector<float> &w,
                    int64_t in, int64_t out) {
    std::vector<double> y(s * out, 0.0);
    for (int64_t i = 0; i < s; ++i)
      for (int64_t o = 0; o < out; ++o) {
        double acc = 0;
        for (int64_t k = 0; k < in; ++k)
          acc += x[i * in + k] * w[o * in + k];
        y[i * out + o] = acc;
      }
    return y;
  };
  auto rms = [&](const std::vector<double> &x, const std::vector<float> &w) {
    std::vector<double> y(x.size());
    for (int64_t i = 0; i < s; ++i) {
      double ss = 0;
      for (int64_t k = 0; k < d; ++k)
        ss += x[i * d + k] * x[i * d + k];
      double inv = 1.0 / std::sqrt(ss / d + c.eps);
      for (int64_t k = 0; k < d; ++k)
        y[i * d + k] = w[k] * (x[i * d + k] * inv);
    }
    return y;
  };
  auto rope = [&](std::vector<double> &x, int64_t nHeads) {
    for (int64_t p = 0; p < s; ++p)
      for (int64_t h = 0; h < nHeads; ++h)
        for (int64_t i = 0; i < half; ++i) {
          double freq = 1.0 / std::pow(c.theta, double(2 * i) / double(hd));
          double cs = std::cos(p * freq), sn = std::sin(p * freq);
          double &a = x[p * nHeads * hd + h * hd + i];
          double &b = x[p * nHeads * hd + h * hd + i + half];
          double na = a * cs - b * sn, nb = b * cs + a * sn;
          a = na;
          b = nb;
        }
  };
  std::vector<double> x(s * d);
  for (int64_t i = 0; i < s; ++i)
    for (int64_t k = 0; k < d; ++k)
      x[i * d + k] = W("model.embed_tokens.weight")[tokens[i] * d + k];
  int64_t kv = hd * c.kvHeads, group = c.heads / c.kvHeads;
  for (int64_t l = 0; l < c.layers; ++l) {
    std::string p = "model.layers." + std::to_string(l) + ".";
    auto h = rms(x, W(p + "input_layernorm.weight"));
    auto q = linear(h, W(p + "self_attn.q_proj.weight"), d, d);
    auto k = linear(h, W(p + "self_attn.k_proj.weight"), d, kv);
    auto v = linear(h, W(p + "self_attn.v_proj.weight"), d, kv);
    rope(q, c.heads);
    rope(k, c.kvHeads);
    std::vector<double> att(s * d, 0.0);
    for (int64_t head = 0; head < c.heads; ++head) {
      int64_t kvh = head / group;
      for (int64_t i = 0; i < s; ++i) {
        std::vector<double> sc(i + 1);
        double mx = -INFINITY;
        for (int64_t j = 0; j <= i; ++j) {
          double dot = 0;
          for (int64_t e = 0; e < hd; ++e)
            dot += q[i * d + head * hd + e] * k[j * kv + kvh * hd + e];
          sc[j] = dot / std::sqrt(double(hd));
          mx = std::max(mx, sc[j]);
        }
        double sum = 0;
        for (double &z : sc)
          sum += (z = std::exp(z - mx));
        for (int64_t j = 0; j <= i; ++j)
          for (int64_t e = 0; e < hd; ++e)
            att[i * d + head * hd + e] +=
                sc[j] / sum * v[j * kv + kvh * hd + e];
      }
    }
    auto o = linear(att, W(p + "self_attn.o_proj.weight"), d, d);
    for (size_t i = 0; i < x.size(); ++i)
      x[i] += o[i];
    auto h2 = rms(x, W(p + "post_attention_layernorm.weight"));
    auto g = linear(h2, W(p + "mlp.gate_proj.weight"), d, c.hidden);
    auto u = linear(h2, W(p + "mlp.up_proj.weight"), d, c.hidden);
    for (size_t i = 0; i < g.size(); ++i)
      g[i] = g[i] / (1.0 + std::exp(-g[i])) * u[i];
    auto down = linear(g, W(p + "mlp.down_proj.weight"), c.hidden, d);
    for (size_t i = 0; i < x.size(); ++i)
      x[i] += down[i];
  }
  auto xf = rms(x, W("model.norm.weight"));
  return linear(xf, W(c.tied ? "model.embed_tokens.weight" : "lm_head.weight"),
                d, c.vocab);
}

class HuggingFaceImport : public ::testing::TestWithParam<TinyConfig> {};

TEST_P(HuggingFaceImport, MatchesReferenceForward) {
  TinyConfig c = GetParam();
  Tensors t = makeWeights(c, 1234);
  std::string dir = writeCheckpoint(c, t, c.dtype);
  auto ckpt = HuggingFaceCheckpoint::open(dir);
  ASSERT_TRUE(bool(ckpt)) << llvm::toString(ckpt.takeError());
  EXPECT_EQ((*ckpt)->storedType("model.norm.weight"), c.dtype);

  mlir::DialectRegistry registry;
  registerAllDialects(registry);
  registerUpstreamDialects(registry);
  quantopt::registerCPUJitExecutor(registry);
  mlir::MLIRContext ctx(registry);
  LlamaImportOptions options;
  options.seqLen = c.maxPos;
  std::string error;
  auto module = importHuggingFace(&ctx, **ckpt, options, error);
  ASSERT_TRUE(bool(module)) << error;

  std::vector<int32_t> tokens(c.maxPos);
  std::mt19937 rng(7);
  for (int32_t &id : tokens)
    id = int32_t(rng() % c.vocab);
  std::vector<double> expected = referenceForward(c, t, tokens);
  auto check = [&](mlir::ModuleOp module, const char *what) {
    auto jit = JitModule::compile(module);
    ASSERT_TRUE(bool(jit)) << llvm::toString(jit.takeError());
    HostArray input;
    input.kind = HostArray::Kind::I32;
    input.shape = {1, c.maxPos};
    input.i32 = tokens;
    auto logits = (*jit)->callSingle("forward", {&input});
    ASSERT_TRUE(bool(logits)) << llvm::toString(logits.takeError());
    ASSERT_EQ(logits->f32.size(), expected.size());
    double scale = 0, worst = 0;
    for (double e : expected)
      scale = std::max(scale, std::fabs(e));
    for (size_t i = 0; i < expected.size(); ++i)
      worst = std::max(worst, std::fabs(logits->f32[i] - expected[i]));
    EXPECT_GT(scale, 1.0);
    EXPECT_LE(worst / scale, 1e-4)
        << what << ": max |JIT - reference| / max |logit|";
  };
  check(*module, "imported");

  std::string gguf = dir + "/model.gguf";
  llvm::Error exported = exportGGUFLlama(*module, gguf, GGUFExportOptions());
  ASSERT_FALSE(bool(exported)) << llvm::toString(std::move(exported));
  auto model = GGUFLlamaModel::open(gguf);
  ASSERT_TRUE(bool(model)) << llvm::toString(model.takeError());
  EXPECT_TRUE((*model)->getConfig().ropeAdjacentPairs);
  EXPECT_EQ((*model)->getConfig().tiedEmbeddings, c.tied);
  auto reimported = importGGUFLlama(&ctx, **model, options, error);
  ASSERT_TRUE(bool(reimported)) << error;
  check(*reimported, "through GGUF");
  llvm::sys::fs::remove_directories(dir);
}

TinyConfig variant(std::string dtype, bool tied) {
  TinyConfig c;
  c.dtype = dtype;
  c.tied = tied;
  return c;
}

INSTANTIATE_TEST_SUITE_P(Storage, HuggingFaceImport,
                         ::testing::Values(variant("F32", false),
                                           variant("F16", true),
                                           variant("BF16", false)),
                         [](const ::testing::TestParamInfo<TinyConfig> &info) {
                           return info.param.dtype +
                                  (info.param.tied ? "Tied" : "Separate");
                         });

/// Folds random per-channel scales into every foldable group of an imported
/// model and compares the logits with the unscaled model's. Returns the
/// fold descriptions (one per group, "-" when not foldable).
std::vector<std::string> foldAndCompare(const TinyConfig &c, double &worst) {
  Tensors t = makeWeights(c, 4321);
  std::string dir = writeCheckpoint(c, t, "fold");
  auto ckpt = HuggingFaceCheckpoint::open(dir);
  EXPECT_TRUE(bool(ckpt));
  mlir::DialectRegistry registry;
  registerAllDialects(registry);
  registerUpstreamDialects(registry);
  quantopt::registerCPUJitExecutor(registry);
  mlir::MLIRContext ctx(registry);
  LlamaImportOptions options;
  options.seqLen = c.maxPos;
  std::string error;
  auto module = importHuggingFace(&ctx, **ckpt, options, error);
  EXPECT_TRUE(bool(module)) << error;
  llvm::sys::fs::remove_directories(dir);

  HostArray input;
  input.kind = HostArray::Kind::I32;
  input.shape = {1, c.maxPos};
  std::mt19937 rng(11);
  for (int64_t i = 0; i < c.maxPos; ++i)
    input.i32.push_back(int32_t(rng() % c.vocab));
  auto run = [&]() {
    auto jit = JitModule::compile(*module);
    EXPECT_TRUE(bool(jit));
    auto logits = (*jit)->callSingle("forward", {&input});
    EXPECT_TRUE(bool(logits));
    return logits->f32;
  };
  std::vector<float> before = run();

  std::vector<std::string> folds;
  std::uniform_real_distribution<float> factor(0.25f, 4.0f);
  auto groups = mlir::qtensor::collectInputGroups(*module, {});
  for (auto &group : groups) {
    std::string reason;
    auto fold = mlir::qtensor::ChannelScaleFold::find(group, reason);
    if (mlir::failed(fold)) {
      folds.push_back("-");
      continue;
    }
    folds.push_back(fold->getDescription());
    std::vector<float> s(group.channels());
    for (float &v : s)
      v = factor(rng);
    fold->apply(group, s);
  }
  EXPECT_TRUE(mlir::succeeded(mlir::verify(*module)));
  std::vector<float> after = run();
  double scale = 0;
  worst = 0;
  for (size_t i = 0; i < before.size(); ++i) {
    scale = std::max(scale, double(std::fabs(before[i])));
    worst = std::max(worst, double(std::fabs(before[i] - after[i])));
  }
  worst /= scale;
  return folds;
}

TEST(ScaleFolding, MultiHeadAttentionFoldsEveryGroup) {
  TinyConfig c;
  c.kvHeads = c.heads;
  double worst = 0;
  std::vector<std::string> folds = foldAndCompare(c, worst);
  // Per layer: norm -> q,k,v; v -> o (through the attention); norm ->
  // gate,up; up -> down; then final norm -> lm_head.
  ASSERT_EQ(folds.size(), size_t(4 * c.layers + 1));
  for (const std::string &f : folds)
    EXPECT_NE(f, "-");
  EXPECT_NE(folds[0].find("input_layernorm"), std::string::npos) << folds[0];
  EXPECT_NE(folds[1].find("rows of the constant 'model.layers.0.self_attn."
                          "v_proj.weight'"),
            std::string::npos)
      << folds[1];
  EXPECT_NE(folds[3].find("rows of the constant 'model.layers.0.mlp.up_proj."
                          "weight'"),
            std::string::npos)
      << folds[3];
  EXPECT_LE(worst, 1e-5) << "max |logit change| / max |logit|";
}

TEST(ScaleFolding, GroupedQueryAttentionSkipsValueToOutput) {
  TinyConfig c; // 4 heads sharing 2 key/value heads
  double worst = 0;
  std::vector<std::string> folds = foldAndCompare(c, worst);
  ASSERT_EQ(folds.size(), size_t(4 * c.layers + 1));
  for (size_t i = 0; i < folds.size(); ++i)
    EXPECT_EQ(folds[i] == "-", i % 4 == 1 && i + 1 < folds.size()) << i;
  EXPECT_LE(worst, 1e-5) << "max |logit change| / max |logit|";
}

/// Opens a checkpoint whose files were altered by `mutate`, and returns the
/// error text (empty if it opened and imported).
std::string
errorAfter(const std::function<void(std::string &config, std::string &tensors)>
               &mutate) {
  TinyConfig c;
  Tensors t = makeWeights(c, 99);
  std::string config = configJson(c), tensors = safetensors(t, "F32");
  mutate(config, tensors);
  llvm::SmallString<128> dir;
  llvm::sys::fs::createUniqueDirectory("quant-hf-bad", dir);
  writeFile((dir + "/config.json").str(), config);
  writeFile((dir + "/model.safetensors").str(), tensors);
  std::string message;
  auto ckpt = HuggingFaceCheckpoint::open(dir);
  if (!ckpt) {
    message = llvm::toString(ckpt.takeError());
  } else {
    mlir::DialectRegistry registry;
    registerUpstreamDialects(registry);
    quantopt::registerCPUJitExecutor(registry);
    mlir::MLIRContext ctx(registry);
    std::string error;
    if (!importHuggingFace(&ctx, **ckpt, {}, error))
      message = error;
  }
  llvm::sys::fs::remove_directories(dir);
  return message;
}

TEST(HuggingFaceErrors, CorruptFiles) {
  EXPECT_NE(errorAfter([](std::string &, std::string &t) {
              t.resize(5);
            }).find("too small for the 8-byte safetensors header length"),
            std::string::npos);
  EXPECT_NE(errorAfter([](std::string &, std::string &t) {
              t.resize(t.size() - 100);
            }).find("data_offsets outside"),
            std::string::npos);
  EXPECT_NE(errorAfter([](std::string &, std::string &t) {
              uint64_t huge = uint64_t(1) << 40;
              std::memcpy(t.data(), &huge, 8);
            }).find("runs past the end"),
            std::string::npos);
  EXPECT_NE(errorAfter([](std::string &, std::string &t) {
              t[9] = '!';
            }).find("invalid JSON header"),
            std::string::npos);
  EXPECT_NE(errorAfter([](std::string &, std::string &t) {
              size_t at = t.find("\"F32\"");
              t.replace(at, 5, "\"I32\"");
            }).find("unsupported dtype I32"),
            std::string::npos);
  EXPECT_NE(errorAfter([](std::string &c, std::string &) {
              c.replace(c.find("\"hidden_size\": 32"), 17,
                        "\"hidden_size\": 16");
            }).find("has shape"),
            std::string::npos);
  EXPECT_NE(errorAfter([](std::string &c, std::string &) {
              c.replace(c.find("\"num_hidden_layers\": 2"), 22,
                        "\"num_hidden_layers\": 3");
            }).find("missing tensor 'model.layers.2.input_layernorm.weight'"),
            std::string::npos);
  EXPECT_NE(errorAfter([](std::string &c, std::string &) {
              c = "{";
            }).find("invalid JSON"),
            std::string::npos);
  EXPECT_NE(errorAfter([](std::string &c, std::string &) {
              c.replace(c.find("\"vocab_size\": 64"), 16, "\"vocab_size\": -4");
            }).find("'vocab_size' = -4 is out of range"),
            std::string::npos);
  // Real-valued keys, checked as the f32 the model computes with.
  auto withValue = [](const char *key, const char *value) {
    return errorAfter([=](std::string &c, std::string &) {
      std::string field = "\"" + std::string(key) + "\": ";
      size_t at = c.find(field) + field.size();
      c.replace(at, c.find(',', at) - at, value);
    });
  };
  EXPECT_NE(withValue("rope_theta", "0")
                .find("'rope_theta' = 0.000000e+00 is out of range"),
            std::string::npos);
  EXPECT_NE(withValue("rms_norm_eps", "-1e-5")
                .find("'rms_norm_eps' = -1.000000e-05 is out of range"),
            std::string::npos);
  EXPECT_NE(withValue("rope_theta", "1e300")
                .find("'rope_theta' = 1.000000e+300 is out of range"),
            std::string::npos);
  EXPECT_EQ(withValue("rms_norm_eps", "0"), "");
}
} // namespace
