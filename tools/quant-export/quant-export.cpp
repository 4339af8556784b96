//===- quant-export.cpp - Write quantized weights as checkpoints ----------===//
//
// Part of the quant-opt project, under the Apache License v2.0 with LLVM
// Exceptions.
//
//===----------------------------------------------------------------------===//
//
// Exports the constant quantized weights of a module's
// qtensor.dequant_matmul ops:
//   --format=autogptq  AutoGPTQ "gptq" (v1) checkpoint tensors: per weight
//                      PREFIX.qweight (I32 [K*bits/32, N], codes packed
//                      LSB-first along K), PREFIX.qzeros (I32 [G, N*bits/32],
//                      zero-point - 1 packed along N), PREFIX.scales (F16
//                      [G, N]) and PREFIX.g_idx (I32 [K]); PREFIX is the
//                      weight's name without ".weight".
//   --format=unpacked  for inspection: PREFIX.codes (U8 [N, K]),
//                      PREFIX.scales and PREFIX.zeros (F32 [N, G]),
//                      PREFIX.g_idx (I32 [K]) when present.
//   --format=gguf      the whole Llama model as a llama.cpp GGUF v3 file
//                      (quant/Import/GGUFLlama.h): float weights as F32,
//                      qtensor.ggml_matmul weights as their ggml blocks;
//                      --tokenizer adds a llama2.c vocabulary.
// --list prints the tensors of a safetensors file, or the metadata and the
// tensors of a GGUF file with a checksum of each tensor's bytes.
//
//===----------------------------------------------------------------------===//

#include "quant/Dialect/QTensor/IR/QTensorOps.h"
#include "quant/Dialect/QTensor/Transforms/WeightMatching.h"
#include "quant/Import/GGUFLlama.h"
#include "quant/Import/Llama2cTokenizer.h"
#include "quant/InitAll.h"
#include "quant/Numerics/Numerics.h"
#include "quant/Runtime/GGUF.h"
#include "quant/Runtime/Safetensors.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/IR/DialectRegistry.h"
#include "mlir/IR/DialectResourceBlobManager.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/IR/Matchers.h"
#include "mlir/Parser/Parser.h"
#include "llvm/Support/CommandLine.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/SourceMgr.h"
#include "llvm/Support/raw_ostream.h"
#include "llvm/Support/xxhash.h"

#include <cstring>

using namespace mlir;
using namespace quantopt;
namespace num = quantopt::numerics;

static llvm::cl::OptionCategory category("quant-export options");
static llvm::cl::opt<std::string> inputFile(llvm::cl::Positional,
                                            llvm::cl::desc("<module.mlir>"),
                                            llvm::cl::init(""),
                                            llvm::cl::cat(category));
static llvm::cl::opt<std::string>
    format("format", llvm::cl::desc("autogptq, unpacked or gguf"),
           llvm::cl::init("autogptq"), llvm::cl::cat(category));
static llvm::cl::opt<std::string>
    outputFile("o", llvm::cl::desc("output .safetensors or .gguf file"),
               llvm::cl::init(""), llvm::cl::cat(category));
static llvm::cl::opt<bool>
    list("list",
         llvm::cl::desc("print the tensors of the safetensors or GGUF file "
                        "given as the positional argument"),
         llvm::cl::init(false), llvm::cl::cat(category));
static llvm::cl::opt<std::string> tokenizerFile(
    "tokenizer",
    llvm::cl::desc("with --format=gguf: llama2.c tokenizer to include"),
    llvm::cl::init(""), llvm::cl::cat(category));
static llvm::cl::opt<std::string> modelName(
    "name",
    llvm::cl::desc("with --format=gguf: general.name (default: the module "
                   "file's name without extension)"),
    llvm::cl::init(""), llvm::cl::cat(category));

static int fail(const llvm::Twine &message) {
  llvm::errs() << "quant-export: " << message << "\n";
  return 1;
}

/// Float values of a constant f32/f16/bf16 tensor.
static std::optional<std::vector<float>> constantFloats(Value v) {
  auto bytes = qtensor::readConstantBytes(v);
  if (!bytes)
    return std::nullopt;
  Type type = cast<ShapedType>(v.getType()).getElementType();
  std::vector<float> out;
  if (type.isF32()) {
    out.resize(bytes->size() / 4);
    std::memcpy(out.data(), bytes->data(), bytes->size());
    return out;
  }
  for (size_t i = 0; i + 1 < bytes->size(); i += 2) {
    uint16_t b;
    std::memcpy(&b, bytes->data() + i, 2);
    out.push_back(type.isF16() ? num::fromF16Bits(b) : num::fromBF16Bits(b));
  }
  return out;
}

/// Integer values of a constant integer tensor (sign-extended).
static std::optional<std::vector<int64_t>> constantInts(Value v) {
  auto bytes = qtensor::readConstantBytes(v);
  if (!bytes)
    return std::nullopt;
  unsigned width = cast<ShapedType>(v.getType()).getElementTypeBitWidth();
  std::vector<int64_t> out;
  for (size_t i = 0; i < bytes->size(); i += width / 8) {
    if (width == 8)
      out.push_back(int8_t((*bytes)[i]));
    else if (width == 16) {
      int16_t x;
      std::memcpy(&x, bytes->data() + i, 2);
      out.push_back(x);
    } else {
      int32_t x;
      std::memcpy(&x, bytes->data() + i, 4);
      out.push_back(x);
    }
  }
  return out;
}

template <typename T>
static SafetensorsTensor tensorOf(const std::vector<T> &values,
                                  std::vector<int64_t> shape,
                                  const char *dtype) {
  SafetensorsTensor t{dtype, std::move(shape), {}};
  t.bytes.resize(values.size() * sizeof(T));
  std::memcpy(t.bytes.data(), values.data(), t.bytes.size());
  return t;
}

/// Packs `values` (each < 2^bits) LSB-first into 32-bit words.
static void packWords(const std::vector<uint32_t> &values, unsigned bits,
                      uint32_t *words) {
  for (size_t i = 0; i < values.size(); ++i) {
    uint64_t bit = uint64_t(i) * bits;
    uint64_t word = bit / 32;
    unsigned shift = bit % 32;
    words[word] |= values[i] << shift;
    if (shift + bits > 32)
      words[word + 1] |= values[i] >> (32 - shift);
  }
}

/// A metadata value as text; long arrays are summarised.
static std::string describeValue(const GGUFValue &value) {
  std::string text;
  llvm::raw_string_ostream os(text);
  std::visit(
      [&](const auto &v) {
        using T = std::decay_t<decltype(v)>;
        if constexpr (std::is_same_v<T, std::string>) {
          os << '"' << v << '"';
        } else if constexpr (std::is_same_v<T, uint8_t> ||
                             std::is_same_v<T, int8_t>) {
          os << int(v);
        } else if constexpr (std::is_same_v<T, bool>) {
          os << (v ? "true" : "false");
        } else if constexpr (std::is_arithmetic_v<T>) {
          os << v;
        } else {
          os << "[" << v.size() << " elements]";
        }
      },
      value.getStorage());
  return text;
}

/// Metadata, then per tensor its type, ggml-order shape and an xxh3 of its
/// bytes, so that two files can be compared tensor by tensor.
static int listGGUF() {
  auto file = GGUFFile::read(inputFile);
  if (!file)
    return fail(llvm::toString(file.takeError()));
  for (const GGUFKeyValue &kv : file->getMetadata())
    llvm::outs() << kv.key << " " << kv.value.getTypeName() << " "
                 << describeValue(kv.value) << "\n";
  for (const GGUFTensorInfo &tensor : file->getTensors()) {
    llvm::outs() << tensor.name << " "
                 << num::getGGMLTypeTraits(tensor.type).name << " [";
    llvm::interleaveComma(tensor.shape, llvm::outs());
    llvm::outs() << llvm::formatv(
        "] {0:x16}\n", llvm::xxh3_64bits(file->getTensorData(tensor)));
  }
  return 0;
}

static int listFile() {
  if (llvm::StringRef(inputFile).ends_with(".gguf"))
    return listGGUF();
  auto file = readSafetensors(inputFile);
  if (!file)
    return fail(llvm::toString(file.takeError()));
  for (const auto &[name, t] : *file) {
    llvm::outs() << name << " " << t.dtype << " [";
    llvm::interleaveComma(t.shape, llvm::outs());
    llvm::outs() << "]\n";
  }
  return 0;
}

static int exportGGUF(ModuleOp module) {
  GGUFExportOptions options;
  options.modelName = modelName.empty() ? llvm::sys::path::stem(inputFile).str()
                                        : modelName.getValue();
  std::unique_ptr<Llama2cTokenizer> tokenizer;
  if (!tokenizerFile.empty()) {
    auto config = getLlamaConfigAttr(module);
    if (!config)
      return fail(inputFile + ": " + llvm::toString(config.takeError()));
    auto opened =
        Llama2cTokenizer::open(tokenizerFile, int32_t(config->vocabSize));
    if (!opened)
      return fail(llvm::toString(opened.takeError()));
    tokenizer = std::move(*opened);
    options.tokenizer = tokenizer.get();
  }
  if (llvm::Error err = exportGGUFLlama(module, outputFile, options))
    return fail(inputFile + ": " + llvm::toString(std::move(err)));
  return 0;
}

int main(int argc, char **argv) {
  llvm::InitLLVM init(argc, argv);
  llvm::cl::HideUnrelatedOptions(category);
  llvm::cl::ParseCommandLineOptions(
      argc, argv,
      "quant-export: write the quantized weights of a module as a "
      "safetensors checkpoint (AutoGPTQ or unpacked), or the model as GGUF\n");
  if (inputFile.empty())
    return fail("give a module (or, with --list, a safetensors file)");
  if (list)
    return listFile();
  if (outputFile.empty())
    return fail("give the output file with -o");
  if (format != "autogptq" && format != "unpacked" && format != "gguf")
    return fail("unknown --format '" + format +
                "'; expected autogptq, unpacked or gguf");
  DialectRegistry registry;
  quantopt::registerAllDialects(registry);
  quantopt::registerUpstreamDialects(registry);
  MLIRContext ctx(registry);
  llvm::SourceMgr sourceMgr;
  SourceMgrDiagnosticHandler handler(sourceMgr, &ctx);
  OwningOpRef<ModuleOp> module =
      parseSourceFile<ModuleOp>(inputFile, sourceMgr, &ctx);
  if (!module)
    return fail("cannot parse " + inputFile);
  if (format == "gguf")
    return exportGGUF(*module);

  SafetensorsFile out;
  std::string error;
  unsigned exported = 0;
  module->walk([&](qtensor::DequantMatmulOp op) {
    if (!error.empty())
      return;
    std::string name;
    if (auto attr = op->getAttrOfType<StringAttr>("qtensor.weight_name"))
      name = attr.str();
    else if (auto named = dyn_cast<NameLoc>(op.getLoc()))
      name = named.getName().str();
    if (name.empty())
      name = "matmul_" + std::to_string(exported);
    StringRef prefix = StringRef(name);
    prefix.consume_back(".weight");
    qtensor::LayoutAttr layout = op.getLayout();
    SmallVector<int64_t> shape = op.getWeightShape();
    if (shape.size() != 2 || !layout.isInteger() || layout.isSignedInteger()) {
      error = "weight '" + name +
              "': only [N, K] weights with unsigned "
              "integer codes can be exported";
      return;
    }
    int64_t n = shape[0], k = shape[1];
    unsigned bits = layout.getBitWidth();
    auto storage = qtensor::readConstantBytes(op.getStorage());
    auto scales = constantFloats(op.getScales());
    std::optional<std::vector<int64_t>> zeros;
    if (op.getZeroPoints())
      zeros = constantInts(op.getZeroPoints());
    std::optional<std::vector<int64_t>> gidx;
    if (op.getGroupIndex())
      gidx = constantInts(op.getGroupIndex());
    if (!storage || !scales || (op.getZeroPoints() && !zeros) ||
        (op.getGroupIndex() && !gidx) || !op.getZeroPoints() ||
        (op.getZeroPoints() &&
         !isa<IntegerType>(cast<ShapedType>(op.getZeroPoints().getType())
                               .getElementType()))) {
      error = "weight '" + name +
              "': storage, scales, integer zero-points "
              "and group index must be constants";
      return;
    }
    if (layout.getBlock()[0] > 1) {
      error = "weight '" + name + "': scales must be per output channel";
      return;
    }
    int64_t groups = cast<ShapedType>(op.getScales().getType()).getDimSize(1);
    int64_t groupSize = layout.getBlock()[1] == 0 ? k : layout.getBlock()[1];
    // Codes [N, K].
    num::PackOrder order =
        layout.getPacking() == qtensor::PackOrder::lsb_first
            ? num::PackOrder::LsbFirst
        : layout.getPacking() == qtensor::PackOrder::msb_first
            ? num::PackOrder::MsbFirst
            : num::PackOrder::None;
    int64_t rowBytes = num::packedSize(k, bits, order);
    std::vector<uint8_t> codes(n * k);
    for (int64_t r = 0; r < n; ++r)
      num::unpackCodes(reinterpret_cast<const uint8_t *>(storage->data()) +
                           r * rowBytes,
                       k, bits, order, codes.data() + r * k);
    std::vector<int32_t> groupIndex(k);
    for (int64_t c = 0; c < k; ++c)
      groupIndex[c] = gidx ? int32_t((*gidx)[c]) : int32_t(c / groupSize);

    if (format == "unpacked") {
      out[(prefix + ".codes").str()] = tensorOf(codes, {n, k}, "U8");
      out[(prefix + ".scales").str()] = tensorOf(*scales, {n, groups}, "F32");
      std::vector<float> z(zeros->begin(), zeros->end());
      out[(prefix + ".zeros").str()] = tensorOf(z, {n, groups}, "F32");
      out[(prefix + ".g_idx").str()] = tensorOf(groupIndex, {k}, "I32");
      ++exported;
      return;
    }
    if ((k * bits) % 32 != 0 || (n * bits) % 32 != 0) {
      error = llvm::formatv("weight '{0}' ({1}x{2}, {3} bits): AutoGPTQ "
                            "packing needs in_features*bits and "
                            "out_features*bits to be multiples of 32",
                            name, n, k, bits)
                  .str();
      return;
    }
    // qweight [K*bits/32, N]: column n is the code stream of output n.
    int64_t kWords = k * bits / 32;
    std::vector<uint32_t> column(k), words(kWords);
    std::vector<int32_t> qweight(kWords * n, 0);
    for (int64_t r = 0; r < n; ++r) {
      for (int64_t c = 0; c < k; ++c)
        column[c] = codes[r * k + c];
      std::fill(words.begin(), words.end(), 0u);
      packWords(column, bits, words.data());
      for (int64_t w = 0; w < kWords; ++w)
        qweight[w * n + r] = int32_t(words[w]);
    }
    // qzeros [G, N*bits/32]: zero - 1 (format v1), packed along N.
    int64_t nWords = n * bits / 32;
    uint32_t mask = (1u << bits) - 1;
    std::vector<int32_t> qzeros(groups * nWords, 0);
    std::vector<uint32_t> row(n), zw(nWords);
    for (int64_t g = 0; g < groups; ++g) {
      for (int64_t r = 0; r < n; ++r)
        row[r] = uint32_t((*zeros)[r * groups + g] - 1) & mask;
      std::fill(zw.begin(), zw.end(), 0u);
      packWords(row, bits, zw.data());
      for (int64_t w = 0; w < nWords; ++w)
        qzeros[g * nWords + w] = int32_t(zw[w]);
    }
    std::vector<uint16_t> scalesF16(groups * n);
    for (int64_t g = 0; g < groups; ++g)
      for (int64_t r = 0; r < n; ++r)
        scalesF16[g * n + r] = num::toF16Bits((*scales)[r * groups + g]);
    out[(prefix + ".qweight").str()] = tensorOf(qweight, {kWords, n}, "I32");
    out[(prefix + ".qzeros").str()] = tensorOf(qzeros, {groups, nWords}, "I32");
    out[(prefix + ".scales").str()] = tensorOf(scalesF16, {groups, n}, "F16");
    out[(prefix + ".g_idx").str()] = tensorOf(groupIndex, {k}, "I32");
    ++exported;
  });
  if (!error.empty())
    return fail(inputFile + ": " + error);
  if (exported == 0)
    return fail(inputFile + ": no qtensor.dequant_matmul with constant "
                            "weights to export");
  std::map<std::string, std::string> metadata{{"format", "pt"},
                                              {"quant_method", "gptq"},
                                              {"checkpoint_format", "gptq"}};
  if (format == "unpacked")
    metadata = {{"format", "quant-opt-unpacked"}};
  if (llvm::Error err = writeSafetensors(outputFile, out, metadata))
    return fail(llvm::toString(std::move(err)));
  return 0;
}
