//===- QuantGGUF.cpp - llama.cpp quantization types and mixes -------------===//
//
// Part of the quant-opt project, under the Apache License v2.0 with LLVM
// Exceptions.
//
//===----------------------------------------------------------------------===//
//
// Quantizes constant matmul weights to ggml blocks the way llama.cpp's
// llama-quantize does: one type everywhere (`type`, like --pure) or a file
// type's mix (`mix`), with the shape fallbacks of `tensor_type_fallback`
// and an optional importance matrix from calibration. The per-tensor rules
// follow `llama_tensor_get_type_impl` (ggml-org/llama.cpp
// src/llama-quant.cpp) for a dense Llama.
//
//===----------------------------------------------------------------------===//

#include "quant/Dialect/QTensor/Transforms/Calibration.h"
#include "quant/Dialect/QTensor/Transforms/Passes.h"
#include "quant/Dialect/QTensor/Utils/ProgressRemarks.h"
#include "quant/Dialect/QTensor/Utils/WeightMatching.h"
#include "quant/Formats/LlamaTensorNames.h"
#include "quant/Numerics/GGUFQuants.h"
#include "quant/Numerics/Numerics.h"

#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/ScopeExit.h"
#include "llvm/Support/Regex.h"

#include <cmath>
#include <memory>

namespace mlir {
namespace qtensor {
#define GEN_PASS_DEF_QUANTGGUFPASS
#include "quant/Dialect/QTensor/Transforms/Passes.h.inc"
} // namespace qtensor
} // namespace mlir

using namespace mlir;
using namespace mlir::qtensor;
namespace num = quantopt::numerics;
using num::GGMLType;

//===----------------------------------------------------------------------===//
// Tensor roles from weight names
//===----------------------------------------------------------------------===//

namespace {
/// A weight's role (none for names that are not Llama matrices), layer (-1
/// outside the layers) and llama.cpp name (`blk.3.attn_v.weight`,
/// `output.weight`).
struct TensorRole {
  std::optional<quantopt::LlamaTensorRole> role;
  int64_t layer = -1;
  std::string ggufName;
};
} // namespace

using quantopt::LlamaTensorRole;

/// The role of a weight from its name in any of the three conventions
/// (quant/Formats/LlamaTensorNames.h). A product whose weight is named as
/// the token embedding is the tied classifier: llama.cpp's output category.
static TensorRole classifyWeight(StringRef name) {
  std::optional<quantopt::LlamaTensorId> id =
      quantopt::parseLlamaTensorName(name);
  if (!id)
    return {};
  LlamaTensorRole role = id->role == LlamaTensorRole::TokenEmbedding
                             ? LlamaTensorRole::Output
                             : id->role;
  return {role, id->layer,
          quantopt::getLlamaTensorName(quantopt::LlamaNaming::GGUF, id->role,
                                       id->layer)};
}

//===----------------------------------------------------------------------===//
// Type choice: llama_tensor_get_type_impl and tensor_type_fallback
//===----------------------------------------------------------------------===//

namespace {
/// A llama.cpp file type (`llama_ftype`) whose rules are implemented.
struct MixInfo {
  GGUFMix mix;
  /// llama_ftype_get_default_type.
  GGMLType base;
  /// The `llama_ftype` id, which GGUF files record as general.file_type.
  uint32_t fileType;
};

/// What the mix rules need to know about the model.
struct ModelInfo {
  /// Highest layer index + 1, number of attn_v tensors, and
  /// n_head / n_head_kv.
  int64_t layers = 0, attnV = 0, gqa = 1;
  bool imatrix = false;
};
} // namespace

static constexpr MixInfo kMixes[] = {
    {GGUFMix::Q2_K, GGMLType::Q2_K, 10},
    {GGUFMix::Q3_K_S, GGMLType::Q3_K, 11},
    {GGUFMix::Q3_K_M, GGMLType::Q3_K, 12},
    {GGUFMix::Q3_K_L, GGMLType::Q3_K, 13},
    {GGUFMix::Q4_K_S, GGMLType::Q4_K, 14},
    {GGUFMix::Q4_K_M, GGMLType::Q4_K, 15},
    {GGUFMix::Q5_K_S, GGMLType::Q5_K, 16},
    {GGUFMix::Q5_K_M, GGMLType::Q5_K, 17},
    {GGUFMix::Q6_K, GGMLType::Q6_K, 18},
    {GGUFMix::Q4_0, GGMLType::Q4_0, 2},
    {GGUFMix::Q4_1, GGMLType::Q4_1, 3},
    {GGUFMix::Q5_0, GGMLType::Q5_0, 8},
    {GGUFMix::Q5_1, GGMLType::Q5_1, 9},
    {GGUFMix::Q8_0, GGMLType::Q8_0, 7},
};

static int64_t blockElements(GGMLType type) {
  return num::getGGMLTypeTraits(type).blockElements;
}

/// The type's name as the IR prints it (`q4_K`, `f16`).
static StringRef typeName(GGMLType type) {
  return num::stringifyGGMLType(type);
}

static bool isFloatType(GGMLType type) {
  return type == GGMLType::F16 || type == GGMLType::BF16;
}

/// llama.cpp's `use_more_bits`: the first and last eighth of the layers and
/// every third one in between.
static bool useMoreBits(int64_t i, int64_t n) {
  return i < n / 8 || i >= 7 * n / 8 || (i - n / 8) % 3 == 2;
}

/// The type `mix` gives a tensor: `llama_tensor_get_type_impl` for a dense
/// Llama (one expert, not Falcon, not the 70B attn_v bump), restricted to
/// the file types of Mix.
static GGMLType mixType(GGUFMix mix, GGMLType base, TensorRole t,
                        const ModelInfo &model, int64_t cols) {
  if (!t.role)
    return base;
  switch (*t.role) {
  case LlamaTensorRole::Output:
    // Classifier (and the tied token embedding).
    if (cols % blockElements(base) != 0)
      return GGMLType::Q8_0;
    return base == GGMLType::Q8_0 ? base : GGMLType::Q6_K;
  case LlamaTensorRole::AttnV:
    switch (mix) {
    case GGUFMix::Q2_K:
      return model.gqa >= 4 ? GGMLType::Q4_K : GGMLType::Q3_K;
    case GGUFMix::Q3_K_M:
      return t.layer < 2 ? GGMLType::Q5_K : GGMLType::Q4_K;
    case GGUFMix::Q3_K_L:
      return GGMLType::Q5_K;
    case GGUFMix::Q4_K_M:
    case GGUFMix::Q5_K_M:
      return useMoreBits(t.layer, model.attnV) ? GGMLType::Q6_K : base;
    case GGUFMix::Q4_K_S:
      return t.layer < 4 ? GGMLType::Q5_K : base;
    default:
      return base;
    }
  case LlamaTensorRole::FfnDown: {
    int64_t i = t.layer, n = model.layers;
    switch (mix) {
    case GGUFMix::Q2_K:
      return GGMLType::Q3_K;
    case GGUFMix::Q3_K_M:
      return i < n / 16 ? GGMLType::Q5_K : GGMLType::Q4_K;
    case GGUFMix::Q3_K_L:
      return GGMLType::Q5_K;
    case GGUFMix::Q4_K_M:
    case GGUFMix::Q5_K_M:
      return useMoreBits(i, n) ? GGMLType::Q6_K : base;
    case GGUFMix::Q4_K_S:
      return i < n / 8 ? GGMLType::Q5_K : base;
    case GGUFMix::Q4_0:
    case GGUFMix::Q5_0:
      // Guard for the first ffn_down layers, only with an imatrix.
      if (model.imatrix && i < n / 8)
        return mix == GGUFMix::Q4_0 ? GGMLType::Q4_1 : GGMLType::Q5_1;
      return base;
    default:
      return base;
    }
  }
  case LlamaTensorRole::AttnOutput:
    switch (mix) {
    case GGUFMix::Q2_K:
      return GGMLType::Q3_K;
    case GGUFMix::Q3_K_M:
      return GGMLType::Q4_K;
    case GGUFMix::Q3_K_L:
      return GGMLType::Q5_K;
    default:
      return base;
    }
  default:
    return base;
  }
}

/// `tensor_type_fallback`: a type whose block divides `cols`, or F16.
static GGMLType fallbackType(GGMLType type, int64_t cols) {
  if (cols % blockElements(type) == 0)
    return type;
  GGMLType next = GGMLType::F16;
  switch (type) {
  case GGMLType::Q2_K:
  case GGMLType::Q3_K:
    next = GGMLType::Q4_0; // llama.cpp's non-IQ choice
    break;
  case GGMLType::Q4_K:
    next = GGMLType::Q5_0;
    break;
  case GGMLType::Q5_K:
    next = GGMLType::Q5_1;
    break;
  case GGMLType::Q6_K:
    next = GGMLType::Q8_0;
    break;
  default:
    // 32-element types: llama.cpp stops here; F16 is what it uses when its
    // fallback does not fit either.
    break;
  }
  return cols % blockElements(next) == 0 ? next : GGMLType::F16;
}

//===----------------------------------------------------------------------===//
// The pass
//===----------------------------------------------------------------------===//

namespace {
/// A product to convert and what it becomes.
struct Planned {
  ConstantWeightMatmul match;
  GGMLType type;
  /// Index into the calibration inputs (products sharing an input share
  /// it).
  unsigned input = 0;
};

/// One `tensor-type` entry: weights whose name matches get `type`.
struct TypeOverride {
  std::string entry;
  /// Shared so that the pass stays copyable.
  std::shared_ptr<llvm::Regex> pattern;
  GGMLType type;
};

struct QuantGGUFPass : qtensor::impl::QuantGGUFPassBase<QuantGGUFPass> {
  using Base::Base;
  void runOnOperation() override;

private:
  /// The pass proper; runOnOperation reports what it quantized.
  LogicalResult quantize();
  LogicalResult parseOptions(GGUFMix &mixKind, GGMLType &base,
                             std::optional<uint32_t> &fileType);
  /// The last `tensor-type` entry matching the weight's own or GGUF name.
  const TypeOverride *findOverride(StringRef name, TensorRole role) const;
  /// The type a product gets, or failure (diagnosed) when an override does
  /// not fit its rows.
  FailureOr<GGMLType> chooseType(const ConstantWeightMatmul &match,
                                 GGUFMix mixKind, GGMLType base,
                                 const ModelInfo &model);
  /// E[x^2] per input column of every planned product (empty vectors
  /// without an importance matrix).
  FailureOr<std::vector<std::vector<float>>> importance(ArrayRef<Planned> plan,
                                                        ArrayRef<Value> inputs);
  LogicalResult convert(RewriterBase &rewriter, Planned &p,
                        ArrayRef<float> imatrix);

  std::vector<TypeOverride> overrides;
};
} // namespace

/// A ggml quantization type by name (`q4_K`, any case), or `f16` / `bf16`
/// when `allowFloat`.
static std::optional<GGMLType> parseQuantType(StringRef name, bool allowFloat) {
  std::optional<num::GGMLTypeTraits> traits =
      num::getGGMLTypeTraitsByName(name.str());
  if (!traits || traits->type == GGMLType::F32)
    return std::nullopt;
  if (isFloatType(traits->type) && !allowFloat)
    return std::nullopt;
  return traits->type;
}

LogicalResult QuantGGUFPass::parseOptions(GGUFMix &mixKind, GGMLType &base,
                                          std::optional<uint32_t> &fileType) {
  ModuleOp module = getOperation();
  base = type;
  mixKind = mix;
  if (mix != GGUFMix::None) {
    const MixInfo *info =
        llvm::find_if(kMixes, [&](const MixInfo &m) { return m.mix == mix; });
    if (type.hasValue() && base != info->base)
      return module.emitError("quant-gguf: type=")
             << typeName(base)
             << " conflicts with mix=" << stringifyOptionEnum(GGUFMix(mix))
             << ", whose base type is " << typeName(info->base)
             << "; give one of them";
    mixKind = info->mix;
    base = info->base;
    fileType = info->fileType;
  }
  if (!calibration.empty() && !statistics.empty())
    return module.emitError("quant-gguf: give the importance matrix either "
                            "as calibration=FILE or as statistics=FILE, not "
                            "both");
  overrides.clear();
  for (const std::string &entry : tensorTypes) {
    auto [pattern, name] = StringRef(entry).rsplit('=');
    if (pattern.empty() || name.empty())
      return module.emitError("quant-gguf: tensor-type '")
             << entry << "' is not PATTERN=TYPE";
    std::optional<GGMLType> overrideType =
        parseQuantType(name, /*allowFloat=*/true);
    if (!overrideType)
      return module.emitError("quant-gguf: tensor-type '")
             << entry << "': unknown type '" << name
             << "'; expected f16, bf16, q4_0, q4_1, q5_0, q5_1, q8_0, q2_K, "
                "q3_K, q4_K, q5_K or q6_K";
    auto regex = std::make_shared<llvm::Regex>(pattern);
    std::string why;
    if (!regex->isValid(why))
      return module.emitError("quant-gguf: tensor-type '")
             << entry << "': invalid regular expression '" << pattern
             << "': " << why;
    overrides.push_back({entry, std::move(regex), *overrideType});
  }
  return success();
}

const TypeOverride *QuantGGUFPass::findOverride(StringRef name,
                                                TensorRole role) const {
  const std::string &gguf = role.ggufName;
  const TypeOverride *found = nullptr;
  for (const TypeOverride &o : overrides)
    if (o.pattern->match(name) || (!gguf.empty() && o.pattern->match(gguf)))
      found = &o;
  return found;
}

FailureOr<GGMLType> QuantGGUFPass::chooseType(const ConstantWeightMatmul &match,
                                              GGUFMix mixKind, GGMLType base,
                                              const ModelInfo &model) {
  TensorRole role = classifyWeight(match.name);
  GGMLType wanted = mixKind == GGUFMix::None
                        ? base
                        : mixType(mixKind, base, role, model, match.cols);
  GGMLType chosen = fallbackType(wanted, match.cols);
  const TypeOverride *override = findOverride(match.name, role);
  if (chosen != wanted) {
    emitRemark(match.op->getLoc(), "quant-gguf: weight '")
        << match.name << "': row length " << match.cols
        << " is not a multiple of the " << blockElements(wanted)
        << "-element blocks of " << typeName(wanted) << "; using "
        << typeName(chosen);
    // As llama-quantize: overrides apply only where no fallback was needed.
    if (override)
      emitRemark(match.op->getLoc(), "quant-gguf: weight '")
          << match.name << "': tensor-type '" << override->entry
          << "' is not applied to a tensor that needed a fallback";
    return chosen;
  }
  if (!override)
    return chosen;
  if (match.cols % blockElements(override->type) != 0)
    return match.op->emitError("quant-gguf: tensor-type '")
           << override->entry << "' gives weight '" << match.name << "' type "
           << typeName(override->type) << ", whose "
           << blockElements(override->type)
           << "-element blocks do not divide its row length " << match.cols;
  return override->type;
}

FailureOr<std::vector<std::vector<float>>>
QuantGGUFPass::importance(ArrayRef<Planned> plan, ArrayRef<Value> inputs) {
  ModuleOp module = getOperation();
  std::vector<std::vector<float>> result(plan.size());
  auto toFloat = [](const std::vector<double> &v) {
    return std::vector<float>(v.begin(), v.end());
  };
  if (!statistics.empty()) {
    auto named = readStatistics(statistics, module);
    if (failed(named))
      return failure();
    for (auto [i, p] : llvm::enumerate(plan)) {
      if (isFloatType(p.type))
        continue;
      auto it = named->find(p.match.name);
      if (it == named->end() || it->second.columns() != p.match.cols)
        return p.match.op->emitError("quant-gguf: ")
               << statistics << " has no statistics of " << p.match.cols
               << " channels for weight '" << p.match.name << "'";
      result[i] = toFloat(it->second.meanSquare());
    }
  } else if (!calibration.empty()) {
    CalibrationOptions calib = CalibrationOptions::fromPassOptions(
        calibration, calibrationFunction, calibrationWindows, calibrationOffset,
        calibrationSeed, segmented);
    auto stats = collectActivationStatistics(module, inputs, calib);
    if (failed(stats))
      return failure();
    for (auto [i, p] : llvm::enumerate(plan))
      result[i] = toFloat((*stats)[p.input].meanSquare());
  }
  for (auto [i, p] : llvm::enumerate(plan))
    if (!llvm::all_of(result[i], [](float v) { return std::isfinite(v); }))
      return p.match.op->emitError("quant-gguf: the importance matrix of "
                                   "weight '")
             << p.match.name << "' has a non-finite value";
  return result;
}

LogicalResult QuantGGUFPass::convert(RewriterBase &builder, Planned &p,
                                     ArrayRef<float> imatrix) {
  ConstantWeightMatmul &match = p.match;
  if (failed(readMatchedWeight(match, "quant-gguf")))
    return failure();
  llvm::scope_exit release([&] { releaseMatchedWeight(match); });
  int64_t rowBytes = num::ggmlRowBytes(p.type, match.cols);
  std::vector<uint8_t> blocks(match.rows * rowBytes);
  std::string error;
  bool ok = num::quantizeGGMLRows(
      p.type, match.weight.data(), match.rows, match.cols,
      imatrix.empty() ? nullptr : imatrix.data(), blocks.data(), &error);
  assert(ok && "the type was chosen to fit the row length");
  (void)ok;

  MLIRContext *ctx = builder.getContext();
  Location loc =
      NameLoc::get(builder.getStringAttr(match.name), match.op->getLoc());
  builder.setInsertionPoint(match.op);
  auto storageType =
      RankedTensorType::get({match.rows, rowBytes}, IntegerType::get(ctx, 8));
  Value storage = createRawConstant(
      builder, loc, storageType,
      ArrayRef<char>(reinterpret_cast<const char *>(blocks.data()),
                     blocks.size()),
      match.fromResource, match.name + ".qweight");
  // ggml's products take f32 activations.
  replaceMatchedProduct(
      builder, match, /*f32Input=*/true,
      [&](OpBuilder &b, Location, Value input, Value init) {
        auto op = GGMLMatmulOp::create(b, loc, init.getType(), input, storage,
                                       GGMLTypeAttr::get(ctx, p.type), init);
        op->setAttr(kWeightNameAttr, b.getStringAttr(match.name));
        return op.getResult();
      });
  return success();
}

void QuantGGUFPass::runOnOperation() {
  if (failed(runWeightPass(
          getOperation(), getArgument(), [&] { return quantize(); },
          numQuantized, numLeftInFloat)))
    signalPassFailure();
}

LogicalResult QuantGGUFPass::quantize() {
  ModuleOp module = getOperation();
  GGUFMix mixKind;
  GGMLType base;
  std::optional<uint32_t> fileType;
  if (failed(parseOptions(mixKind, base, fileType)))
    return failure();
  // A mix names the file type, as llama-quantize records it; without one
  // (or over an imported file's), exporters guess it from the types.
  if (fileType)
    module->setAttr(
        kGGUFFileTypeAttr,
        IntegerAttr::get(IntegerType::get(&getContext(), 32), *fileType));
  else
    module->removeAttr(kGGUFFileTypeAttr);

  // The products, and what the names say about the model. (Skipped weights
  // are not counted; the rules they would change are those of their own
  // role.)
  std::vector<ConstantWeightMatmul> matches;
  ModelInfo model;
  model.imatrix = !calibration.empty() || !statistics.empty();
  int64_t qRows = 0, vRows = 0;
  WeightFilter filter;
  filter.passName = "quant-gguf";
  filter.explainSkips = reportSkipped;
  filter.skip = skip;
  filter.skipBatched = true;
  // Each weight is read again at its turn in convert: one f32 weight at a
  // time, not the model.
  filter.readWeights = false;
  if (!calibration.empty() &&
      !(filter.scope = findCalibrationFunction(
            module, CalibrationOptions::fromPassOptions(
                        calibration, calibrationFunction, calibrationWindows,
                        calibrationOffset, calibrationSeed, segmented))))
    return failure();
  auto collect = [&](ConstantWeightMatmul &match) -> LogicalResult {
    TensorRole role = classifyWeight(match.name);
    model.layers = std::max(model.layers, role.layer + 1);
    if (role.role == LlamaTensorRole::AttnV) {
      ++model.attnV;
      if (role.layer == 0)
        vRows = match.rows;
    }
    if (role.role == LlamaTensorRole::AttnQ && role.layer == 0)
      qRows = match.rows;
    matches.push_back(std::move(match));
    return success();
  };
  if (failed(forEachConstantWeightMatmul(module, filter, collect)))
    return failure();
  // Like llama-quantize without --allow-requantize, blocks stay as they are.
  module.walk([&](GGMLMatmulOp op) {
    if (op.hasFloatStorage())
      return; // skipped (or not constant)
    emitRemark(op.getLoc(), "quant-gguf: weight '")
        << getWeightName(op) << "' is already in "
        << num::stringifyGGMLType(op.getGgmlType())
        << " blocks and is left as it is";
  });
  if (qRows > 0 && vRows > 0 && qRows % vRows == 0)
    model.gqa = qRows / vRows;

  // Types, fallbacks and calibration inputs, before the module changes.
  std::vector<Planned> plan;
  SmallVector<Value> inputs;
  for (ConstantWeightMatmul &match : matches) {
    FailureOr<GGMLType> chosen = chooseType(match, mixKind, base, model);
    if (failed(chosen))
      return failure();
    auto it = llvm::find(inputs, match.input);
    unsigned index = it - inputs.begin();
    if (it == inputs.end())
      inputs.push_back(match.input);
    plan.push_back({std::move(match), *chosen, index});
  }
  if (plan.empty())
    return success();

  auto imatrix = importance(plan, inputs);
  if (failed(imatrix))
    return failure();
  IRRewriter builder(&getContext());
  ProgressRemarks progress(module.getLoc(), "quant-gguf", plan.size());
  for (auto [i, p, w] : llvm::enumerate(plan, *imatrix)) {
    if (failed(convert(builder, p, w)))
      return failure();
    progress.finished(i + 1, p.match.name);
  }
  return success();
}
