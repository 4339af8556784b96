//===- quant-bench-scale.cpp - Import and quantize at real model sizes ----===//
//
// Part of the quant-opt project, under the Apache License v2.0 with LLVM
// Exceptions.
//
//===----------------------------------------------------------------------===//
//
// Writes synthetic Hugging Face Llama checkpoints (config.json and a BF16
// model.safetensors with weights from a fixed seed) at several sizes, then
// runs the project's tools on each as a user would (import, RTN, GPTQ with
// 32 windows of 512 calibration ids, GGUF Q4_K_M, GGUF export) and reports
// each step's wall time and peak resident memory (from the kernel's
// accounting of the child process), with bytes per parameter and seconds
// per million parameters. Not a test: nothing is asserted.
//
//===----------------------------------------------------------------------===//

#include "SplitMix.h"
#include "quant/Formats/Safetensors.h"
#include "quant/Numerics/Numerics.h"

#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/CommandLine.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/JSON.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/Program.h"
#include "llvm/Support/raw_ostream.h"

#include <chrono>
#include <fstream>
#include <optional>

using namespace quantopt;
namespace cl = llvm::cl;

static cl::list<std::string>
    sizes("size",
          cl::desc("model sizes to run (repeatable): 50M, 300M, 700M (two "
                   "layers of Llama-2-7B's shapes), 1.9B (eight such "
                   "layers); default: all"));
static cl::list<std::string>
    steps("step",
          cl::desc("steps to run (repeatable): import, rtn, gptq, "
                   "gptq-torch (the same GPTQ through the PyTorch "
                   "reference driver, when python3-torch is installed), "
                   "gguf, export; default: all"));
static cl::opt<std::string> workDir("work",
                                    cl::desc("directory for checkpoints and "
                                             "outputs (reused between runs)"),
                                    cl::init("bench-scale"));
static cl::opt<std::string>
    toolDir("tools", cl::desc("directory of quant-import, quant-opt and "
                              "quant-export (default: this program's)"));
static cl::opt<std::string> calibrationIds(
    "calibration",
    cl::desc("token ids for GPTQ (default: the bundled TinyStories ids)"),
    cl::init(QUANT_SOURCE_DIR
             "/examples/stories260K/tinystories_val.tok512.i32"));
static cl::opt<int64_t> windows("windows",
                                cl::desc("GPTQ calibration windows of 512 ids"),
                                cl::init(32));
static cl::opt<bool> json("json", cl::desc("print the results as JSON"));

namespace {

struct ModelSize {
  const char *name;
  int64_t dim, hidden, layers, heads, kvHeads, vocab;

  int64_t layerParameters() const {
    int64_t headDim = dim / heads;
    return dim * dim * 2 + 2 * dim * kvHeads * headDim + 3 * dim * hidden +
           2 * dim;
  }
  int64_t parameters() const {
    return layers * layerParameters() + 2 * vocab * dim + dim;
  }
};

constexpr ModelSize kSizes[] = {
    {"50M", 512, 1408, 8, 8, 8, 32000},
    {"300M", 1024, 2816, 16, 16, 16, 32000},
    {"700M", 4096, 11008, 2, 32, 32, 32000},
    {"1.9B", 4096, 11008, 8, 32, 32, 32000},
};

/// Uniform weights with standard deviation 0.02 (norms: 1) from splitmix64.
class Generator {
public:
  std::vector<char> bf16(int64_t count, bool norm) {
    std::vector<char> bytes(2 * count);
    float bound = 0.02f * std::sqrt(3.0f);
    for (int64_t i = 0; i < count; ++i) {
      float v = norm ? 1.0f : bound * (2.0f * next() - 1.0f);
      uint16_t bits = numerics::toBF16Bits(v);
      std::memcpy(bytes.data() + 2 * i, &bits, 2);
    }
    return bytes;
  }

private:
  SplitMix random;
  float next() { return random.next(); }
};

llvm::Error writeCheckpoint(const ModelSize &size, llvm::StringRef dir) {
  if (std::error_code ec = llvm::sys::fs::create_directories(dir))
    return llvm::createStringError(ec, "cannot create " + dir.str());
  // Written tensor by tensor: the benchmark's own peak memory is one
  // tensor, far below what it measures (a child's peak counts its parent's
  // memory at the spawn).
  std::vector<SafetensorsTensorSpec> specs;
  std::vector<bool> isNorm;
  auto add = [&](const std::string &name, std::vector<int64_t> shape,
                 bool norm) {
    specs.push_back({name, "BF16", std::move(shape)});
    isNorm.push_back(norm);
  };
  int64_t headDim = size.dim / size.heads, kv = size.kvHeads * headDim;
  add("model.embed_tokens.weight", {size.vocab, size.dim}, false);
  for (int64_t l = 0; l < size.layers; ++l) {
    std::string p = "model.layers." + std::to_string(l) + ".";
    add(p + "input_layernorm.weight", {size.dim}, true);
    add(p + "self_attn.q_proj.weight", {size.dim, size.dim}, false);
    add(p + "self_attn.k_proj.weight", {kv, size.dim}, false);
    add(p + "self_attn.v_proj.weight", {kv, size.dim}, false);
    add(p + "self_attn.o_proj.weight", {size.dim, size.dim}, false);
    add(p + "post_attention_layernorm.weight", {size.dim}, true);
    add(p + "mlp.gate_proj.weight", {size.hidden, size.dim}, false);
    add(p + "mlp.up_proj.weight", {size.hidden, size.dim}, false);
    add(p + "mlp.down_proj.weight", {size.dim, size.hidden}, false);
  }
  add("model.norm.weight", {size.dim}, true);
  add("lm_head.weight", {size.vocab, size.dim}, false);
  Generator generator;
  if (llvm::Error error =
          writeSafetensorsStreamed((dir + "/model.safetensors").str(), specs,
                                   {{"format", "pt"}}, [&](size_t i) {
                                     int64_t count = 1;
                                     for (int64_t d : specs[i].shape)
                                       count *= d;
                                     return generator.bf16(count, isNorm[i]);
                                   }))
    return error;
  std::error_code ec;
  llvm::raw_fd_ostream config((dir + "/config.json").str(), ec);
  if (ec)
    return llvm::createStringError(ec, "cannot write config.json");
  config << llvm::formatv(
      "{{\"architectures\": [\"LlamaForCausalLM\"], \"model_type\": "
      "\"llama\", \"hidden_size\": {0}, \"intermediate_size\": {1}, "
      "\"num_hidden_layers\": {2}, \"num_attention_heads\": {3}, "
      "\"num_key_value_heads\": {4}, \"vocab_size\": {5}, "
      "\"max_position_embeddings\": 512, \"rms_norm_eps\": 1e-05, "
      "\"rope_theta\": 10000.0, \"tie_word_embeddings\": false, "
      "\"torch_dtype\": \"bfloat16\"}\n",
      size.dim, size.hidden, size.layers, size.heads, size.kvHeads, size.vocab);
  return llvm::Error::success();
}

struct StepResult {
  std::string size, step;
  int64_t parameters = 0, checkpointBytes = 0, outputBytes = 0;
  double seconds = 0, peakMiB = 0;
  int exitCode = 0;
};

int64_t fileSize(llvm::StringRef path) {
  uint64_t bytes = 0;
  return llvm::sys::fs::file_size(path, bytes) ? -1 : int64_t(bytes);
}

} // namespace

int main(int argc, char **argv) {
  cl::ParseCommandLineOptions(
      argc, argv,
      "quant-bench-scale: import and quantize synthetic BF16 Llama "
      "checkpoints of real sizes; wall time and peak RSS of each step\n");
  std::string tools = toolDir;
  if (tools.empty())
    tools = llvm::sys::path::parent_path(
                llvm::sys::fs::getMainExecutable(argv[0], (void *)&main))
                .str();
  std::vector<std::string> wantedSteps(steps.begin(), steps.end());
  if (wantedSteps.empty())
    wantedSteps = {"import", "rtn", "gptq", "gptq-torch", "gguf", "export"};
  // The PyTorch baseline needs Debian's python3-torch.
  std::optional<std::string> python;
  if (llvm::is_contained(wantedSteps, "gptq-torch")) {
    // Debian's interpreter first: the one its python3-torch installs into.
    if (auto found = llvm::sys::findProgramByName("python3", {"/usr/bin"})) {
      std::vector<llvm::StringRef> probe{*found, "-c", "import torch"};
      std::optional<llvm::StringRef> quiet[] = {std::nullopt, "", ""};
      if (llvm::sys::ExecuteAndWait(*found, probe, std::nullopt, quiet) == 0)
        python = *found;
    }
    if (!python)
      llvm::errs() << "gptq-torch: skipped (python3 with torch, Debian's "
                      "python3-torch, is not installed)\n";
  }
  std::vector<const ModelSize *> wantedSizes;
  for (const ModelSize &size : kSizes)
    if (sizes.empty() || llvm::is_contained(sizes, size.name))
      wantedSizes.push_back(&size);

  std::vector<StepResult> results;
  for (const ModelSize *size : wantedSizes) {
    std::string dir = workDir + "/" + size->name;
    std::string checkpoint = dir + "/model.safetensors";
    if (fileSize(checkpoint) < 0) {
      llvm::errs() << "writing the " << size->name << " checkpoint to " << dir
                   << "\n";
      if (llvm::Error error = writeCheckpoint(*size, dir)) {
        llvm::errs() << "quant-bench-scale: "
                     << llvm::toString(std::move(error)) << "\n";
        return 1;
      }
    }
    std::string model = dir + "/model.mlirbc";
    std::string tokens = calibrationIds;
    struct Step {
      const char *name;
      std::string tool, output;
      std::vector<std::string> args;
    };
    std::vector<Step> plan = {
        {"import",
         "quant-import",
         model,
         {"--hf", dir, "--seq-len", "512", "-o", model}},
        {"rtn",
         "quant-opt",
         dir + "/rtn.mlirbc",
         {model, "--quant-rtn=bits=4 group-size=128", "--emit-bytecode", "-o",
          dir + "/rtn.mlirbc"}},
        {"gptq",
         "quant-opt",
         dir + "/gptq.mlirbc",
         {model,
          "--gptq-quantize=bits=4 group-size=128 calibration=" + tokens +
              " calibration-windows=" + std::to_string(windows),
          "--emit-bytecode", "-o", dir + "/gptq.mlirbc"}},
        {"gptq-torch",
         python.value_or(""),
         "",
         {QUANT_SOURCE_DIR "/bench/gptq_llama_reference.py", dir, tokens,
          std::to_string(windows), "4", "128"}},
        {"gguf",
         "quant-opt",
         dir + "/q4km.mlirbc",
         {model, "--quant-gguf=mix=Q4_K_M", "--emit-bytecode", "-o",
          dir + "/q4km.mlirbc"}},
        {"export",
         "quant-export",
         dir + "/q4km.gguf",
         {dir + "/q4km.mlirbc", "--format=gguf", "-o", dir + "/q4km.gguf"}},
    };
    for (const Step &step : plan) {
      if (!llvm::is_contained(wantedSteps, step.name) || step.tool.empty())
        continue;
      std::string program = llvm::sys::path::is_absolute(step.tool)
                                ? step.tool
                                : tools + "/" + step.tool;
      std::vector<llvm::StringRef> args{program};
      for (const std::string &arg : step.args)
        args.push_back(arg);
      llvm::errs() << size->name << " " << step.name << ": "
                   << llvm::join(args, " ") << "\n";
      std::optional<llvm::sys::ProcessStatistics> stats;
      std::string error;
      auto start = std::chrono::steady_clock::now();
      int rc = llvm::sys::ExecuteAndWait(program, args, std::nullopt, {}, 0, 0,
                                         &error, nullptr, &stats);
      StepResult result;
      result.size = size->name;
      result.step = step.name;
      result.parameters = size->parameters();
      result.checkpointBytes = fileSize(checkpoint);
      result.outputBytes = fileSize(step.output);
      result.seconds = std::chrono::duration<double>(
                           std::chrono::steady_clock::now() - start)
                           .count();
      result.peakMiB = stats ? double(stats->PeakMemory) / 1024.0 : -1;
      result.exitCode = rc;
      if (rc != 0)
        llvm::errs() << "  exit " << rc << (error.empty() ? "" : ": ") << error
                     << "\n";
      results.push_back(result);
    }
  }

  if (json) {
    llvm::json::Array array;
    for (const StepResult &r : results)
      array.push_back(
          llvm::json::Object{{"size", r.size},
                             {"step", r.step},
                             {"parameters", r.parameters},
                             {"checkpoint_bytes", r.checkpointBytes},
                             {"output_bytes", r.outputBytes},
                             {"seconds", r.seconds},
                             {"peak_rss_mib", r.peakMiB},
                             {"exit_code", r.exitCode}});
    llvm::outs() << llvm::formatv("{0:2}", llvm::json::Value(std::move(array)))
                 << "\n";
    return 0;
  }
  llvm::outs() << llvm::formatv(
      "{0,-6} {1,-10} {2,8} {3,9} {4,9} {5,10} {6,9} {7,9} {8,10} {9,5}\n",
      "model", "step", "params", "ckpt MiB", "time s", "s/Mparam", "peak MiB",
      "RSS/ckpt", "output MiB", "exit");
  for (const StepResult &r : results) {
    std::string output =
        r.outputBytes < 0
            ? "-"
            : llvm::formatv("{0:f0}", r.outputBytes / 1048576.0).str();
    llvm::outs() << llvm::formatv(
        "{0,-6} {1,-10} {2,7:f0}M {3,9:f0} {4,9:f1} {5,10:f4} {6,9:f0} "
        "{7,9:f2} {8,10} {9,5}\n",
        r.size, r.step, r.parameters / 1e6, r.checkpointBytes / 1048576.0,
        r.seconds, r.seconds / (r.parameters / 1e6), r.peakMiB,
        r.peakMiB * 1048576.0 / r.checkpointBytes, output, r.exitCode);
  }
  return 0;
}
