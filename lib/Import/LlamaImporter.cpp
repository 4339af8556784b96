//===- LlamaImporter.cpp - Llama models as linalg-on-tensors --------------===//
//
// Part of the quant-opt project, under the Apache License v2.0 with LLVM
// Exceptions.
//
//===----------------------------------------------------------------------===//

#include "quant/Import/LlamaImporter.h"
#include "quant/Dialect/QTensor/IR/QTensorOps.h"
#include "quant/Import/Llama2cCheckpoint.h"
#include "quant/Numerics/GGUFQuants.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/AsmState.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinAttributes.h"
#include "llvm/Support/FormatVariadic.h"

#include <cmath>

using namespace mlir;
using namespace quantopt;

namespace {
using BodyFn = function_ref<Value(OpBuilder &, Location, ValueRange)>;

/// Small helpers that emit linalg.generic ops on static f32 tensors.
class GraphBuilder {
public:
  GraphBuilder(OpBuilder &builder, Location loc)
      : b(builder), loc(loc), ctx(builder.getContext()),
        f32(builder.getF32Type()) {}

  OpBuilder &b;
  Location loc;
  MLIRContext *ctx;
  Type f32;

  AffineExpr dim(unsigned i) const { return getAffineDimExpr(i, ctx); }

  Value constF32(float v) {
    return arith::ConstantOp::create(b, loc, b.getF32FloatAttr(v));
  }

  Value filled(ArrayRef<int64_t> shape, float value) {
    Value empty = tensor::EmptyOp::create(b, loc, shape, f32);
    return linalg::FillOp::create(b, loc, constF32(value), empty).getResult(0);
  }

  /// A weight constant referencing the caller's memory (no copy).
  Value weight(const LlamaWeight &w) {
    auto type = RankedTensorType::get(w.shape, f32);
    auto blob = UnmanagedAsmResourceBlob::allocateInferAlign(w.data);
    auto attr = DenseResourceElementsAttr::get(type, w.name, std::move(blob));
    return arith::ConstantOp::create(b, NameLoc::get(b.getStringAttr(w.name)),
                                     attr);
  }

  /// The i8 constant [rows, row bytes] of a weight's ggml blocks, named as
  /// --quant-gguf names them.
  Value blocks(const LlamaWeight &w) {
    int64_t rowBytes = numerics::ggmlRowBytes(*w.ggmlType, w.shape[1]);
    auto type = RankedTensorType::get({w.shape[0], rowBytes}, b.getI8Type());
    ArrayRef<char> bytes(reinterpret_cast<const char *>(w.blocks.data()),
                         w.blocks.size());
    auto blob = UnmanagedAsmResourceBlob::allocateInferAlign(bytes);
    auto attr = DenseResourceElementsAttr::get(type, w.name + ".qweight",
                                               std::move(blob));
    return arith::ConstantOp::create(b, NameLoc::get(b.getStringAttr(w.name)),
                                     attr);
  }

  /// A constant tensor holding a copy of `values`.
  Value table(ArrayRef<int64_t> shape, ArrayRef<float> values) {
    auto type = RankedTensorType::get(shape, f32);
    return arith::ConstantOp::create(b, loc,
                                     DenseElementsAttr::get(type, values));
  }

  /// linalg.generic over `numLoops` loops. `inputMaps` give the input maps'
  /// results; the output map is `outputExprs` on an `init` of `outShape`.
  Value generic(unsigned numLoops, ValueRange inputs,
                ArrayRef<SmallVector<AffineExpr>> inputMaps,
                ArrayRef<AffineExpr> outputExprs, Value init,
                ArrayRef<utils::IteratorType> iterators, BodyFn body) {
    SmallVector<AffineMap> maps;
    for (const auto &exprs : inputMaps)
      maps.push_back(AffineMap::get(numLoops, 0, exprs, ctx));
    maps.push_back(AffineMap::get(numLoops, 0, outputExprs, ctx));
    auto op = linalg::GenericOp::create(
        b, loc, init.getType(), inputs, init, maps, iterators,
        [&](OpBuilder &nb, Location l, ValueRange args) {
          linalg::YieldOp::create(nb, l, ValueRange{body(nb, l, args)});
        });
    return op.getResult(0);
  }

  SmallVector<AffineExpr> dims(ArrayRef<unsigned> positions) const {
    SmallVector<AffineExpr> exprs;
    for (unsigned p : positions)
      exprs.push_back(dim(p));
    return exprs;
  }

  static SmallVector<utils::IteratorType> parallel(unsigned n) {
    return SmallVector<utils::IteratorType>(n, utils::IteratorType::parallel);
  }

  /// Fast-math flags of the accumulations: allowing reassociation lets LLVM
  /// vectorise the reductions; products are not contracted into FMAs.
  arith::FastMathFlagsAttr reassoc() const {
    return arith::FastMathFlagsAttr::get(ctx, arith::FastMathFlags::reassoc);
  }

  /// y[b, s, n] = sum_k x[b, s, k] * W[n, k]: the matmul-shaped generic the
  /// weight quantization passes recognise.
  Value linear(Value x, Value w) {
    auto xType = cast<RankedTensorType>(x.getType());
    auto wType = cast<RankedTensorType>(w.getType());
    int64_t batch = xType.getDimSize(0), seq = xType.getDimSize(1);
    int64_t n = wType.getDimSize(0);
    SmallVector<utils::IteratorType> iterators = parallel(4);
    iterators[3] = utils::IteratorType::reduction;
    return generic(4, {x, w}, {dims({0, 1, 3}), dims({2, 3})}, dims({0, 1, 2}),
                   filled({batch, seq, n}, 0.0f), iterators,
                   [&](OpBuilder &nb, Location l, ValueRange a) -> Value {
                     Value m = arith::MulFOp::create(nb, l, a[0], a[1]);
                     return arith::AddFOp::create(nb, l, a[2], m, reassoc());
                   });
  }

  /// x · Wᵀ for a weight given as floats or as ggml blocks. `floatWeight`,
  /// when given, is the already emitted float constant of `w`.
  Value linear(Value x, const LlamaWeight &w, Value floatWeight = {}) {
    if (!w.ggmlType)
      return linear(x, floatWeight ? floatWeight : weight(w));
    auto xType = cast<RankedTensorType>(x.getType());
    Value init =
        filled({xType.getDimSize(0), xType.getDimSize(1), w.shape[0]}, 0.0f);
    auto op = qtensor::GGMLMatmulOp::create(
        b, NameLoc::get(b.getStringAttr(w.name)), init.getType(), x, blocks(w),
        qtensor::GGMLTypeAttr::get(ctx, *w.ggmlType), init);
    op->setAttr(qtensor::kWeightNameAttr, b.getStringAttr(w.name));
    return op.getResult();
  }

  /// llama2.c's rmsnorm: o = w * (x / sqrt(mean(x^2) + eps)).
  Value rmsNorm(Value x, Value w, float eps) {
    auto type = cast<RankedTensorType>(x.getType());
    int64_t batch = type.getDimSize(0), seq = type.getDimSize(1),
            d = type.getDimSize(2);
    SmallVector<utils::IteratorType> reduce = parallel(3);
    reduce[2] = utils::IteratorType::reduction;
    Value sumSq = generic(
        3, {x}, {dims({0, 1, 2})}, dims({0, 1}), filled({batch, seq}, 0.0f),
        reduce, [&](OpBuilder &nb, Location l, ValueRange a) -> Value {
          Value sq = arith::MulFOp::create(nb, l, a[0], a[0]);
          return arith::AddFOp::create(nb, l, a[1], sq, reassoc());
        });
    Value init = tensor::EmptyOp::create(b, loc, type.getShape(), f32);
    return generic(
        3, {x, sumSq, w}, {dims({0, 1, 2}), dims({0, 1}), dims({2})},
        dims({0, 1, 2}), init, parallel(3),
        [&](OpBuilder &nb, Location l, ValueRange a) -> Value {
          Value mean = arith::DivFOp::create(
              nb, l, a[1],
              arith::ConstantOp::create(nb, l, nb.getF32FloatAttr(float(d))));
          Value shifted = arith::AddFOp::create(
              nb, l, mean,
              arith::ConstantOp::create(nb, l, nb.getF32FloatAttr(eps)));
          Value inv = arith::DivFOp::create(
              nb, l, arith::ConstantOp::create(nb, l, nb.getF32FloatAttr(1.0f)),
              math::SqrtOp::create(nb, l, shifted));
          Value scaled = arith::MulFOp::create(nb, l, inv, a[0]);
          return arith::MulFOp::create(nb, l, a[2], scaled);
        });
  }

  Value add(Value x, Value y) {
    auto type = cast<RankedTensorType>(x.getType());
    unsigned rank = type.getRank();
    SmallVector<unsigned> all = llvm::to_vector(llvm::seq<unsigned>(0, rank));
    Value init = tensor::EmptyOp::create(b, loc, type.getShape(), f32);
    return generic(rank, {x, y}, {dims(all), dims(all)}, dims(all), init,
                   parallel(rank),
                   [&](OpBuilder &nb, Location l, ValueRange a) -> Value {
                     return arith::AddFOp::create(nb, l, a[0], a[1]);
                   });
  }
};
} // namespace

/// cos/sin tables [maxSeqLen, headDim/2] computed in f32 as llama2.c does.
static void ropeTables(const LlamaConfig &config, int64_t seqLen,
                       std::vector<float> &cosTable,
                       std::vector<float> &sinTable) {
  int64_t half = config.headDim() / 2;
  cosTable.resize(seqLen * half);
  sinTable.resize(seqLen * half);
  for (int64_t pos = 0; pos < seqLen; ++pos)
    for (int64_t i = 0; i < half; ++i) {
      float freq = 1.0f / std::pow(config.ropeTheta,
                                   float(2 * i) / float(config.headDim()));
      float val = float(pos) * freq;
      cosTable[pos * half + i] = std::cos(val);
      sinTable[pos * half + i] = std::sin(val);
    }
}

/// Rotary embedding of x [B, S, heads*hd] (in place of the pairs).
static Value applyRope(GraphBuilder &g, Value x, Value cosT, Value sinT,
                       const LlamaConfig &config) {
  auto type = cast<RankedTensorType>(x.getType());
  int64_t hd = config.headDim(), half = hd / 2;
  AffineExpr i = g.dim(2);
  // Element i of a head pairs with its partner: adjacent (2j, 2j+1) or
  // rotate-half (j, j + hd/2).
  AffineExpr first, second, freqIndex;
  if (config.ropeAdjacentPairs) {
    first = i.floorDiv(2) * 2;
    second = i.floorDiv(2) * 2 + 1;
    freqIndex = (i % hd).floorDiv(2);
  } else {
    AffineExpr head = i.floorDiv(hd) * hd;
    first = head + (i % hd) % half;
    second = head + (i % hd) % half + half;
    freqIndex = (i % hd) % half;
  }
  Value init = tensor::EmptyOp::create(g.b, g.loc, type.getShape(), g.f32);
  return g.generic(
      3, {x, x, cosT, sinT},
      {{g.dim(0), g.dim(1), first},
       {g.dim(0), g.dim(1), second},
       {g.dim(1), freqIndex},
       {g.dim(1), freqIndex}},
      g.dims({0, 1, 2}), init, GraphBuilder::parallel(3),
      [&](OpBuilder &nb, Location l, ValueRange a) -> Value {
        // first' = first*cos - second*sin; second' = first*sin + second*cos.
        Value v0 = a[0], v1 = a[1], c = a[2], s = a[3];
        Value idx = linalg::IndexOp::create(nb, l, 2);
        Value inHead = arith::RemUIOp::create(
            nb, l, idx, arith::ConstantIndexOp::create(nb, l, hd));
        Value isSecond;
        if (config.ropeAdjacentPairs)
          isSecond = arith::CmpIOp::create(
              nb, l, arith::CmpIPredicate::eq,
              arith::RemUIOp::create(nb, l, inHead,
                                     arith::ConstantIndexOp::create(nb, l, 2)),
              arith::ConstantIndexOp::create(nb, l, 1));
        else
          isSecond = arith::CmpIOp::create(
              nb, l, arith::CmpIPredicate::sge, inHead,
              arith::ConstantIndexOp::create(nb, l, half));
        Value r0 =
            arith::SubFOp::create(nb, l, arith::MulFOp::create(nb, l, v0, c),
                                  arith::MulFOp::create(nb, l, v1, s));
        Value r1 =
            arith::AddFOp::create(nb, l, arith::MulFOp::create(nb, l, v0, s),
                                  arith::MulFOp::create(nb, l, v1, c));
        return arith::SelectOp::create(nb, l, isSecond, r1, r0);
      });
}

/// Iterators of a 5-loop contraction reducing over the innermost loop.
static SmallVector<utils::IteratorType> scoreIters5() {
  SmallVector<utils::IteratorType> iters(5, utils::IteratorType::parallel);
  iters[4] = utils::IteratorType::reduction;
  return iters;
}

/// Causal multi-head attention with grouped KV heads. q [B,S,H*hd],
/// k/v [B,S,KVH*hd] -> [B,S,H*hd].
static Value attention(GraphBuilder &g, Value q, Value k, Value v,
                       const LlamaConfig &config, int64_t batch, int64_t seq) {
  int64_t heads = config.numHeads, hd = config.headDim();
  int64_t group = config.numHeads / config.numKVHeads;
  using IT = utils::IteratorType;
  // Split the heads: [B, S, n*hd] -> [B, S, n, hd].
  SmallVector<ReassociationIndices> split{{0}, {1}, {2, 3}};
  // The split and the final join carry `qtensor.attention`, so that
  // --quant-decode-step can find the attention between them.
  auto splitHeads = [&](Value x, int64_t n, StringRef role) -> Value {
    auto type = RankedTensorType::get({batch, seq, n, hd}, g.f32);
    auto op = tensor::ExpandShapeOp::create(g.b, g.loc, type, x, split);
    op->setAttr(qtensor::kAttentionAttr, g.b.getStringAttr(role));
    return op;
  };
  q = splitHeads(q, heads, "query");
  k = splitHeads(k, config.numKVHeads, "key");
  v = splitHeads(v, config.numKVHeads, "value");
  // [b, t, kvh, d] -> [b, kvh, d, t], so loops over t read contiguously.
  auto transposeToDimMajor = [&](Value x) -> Value {
    return g.generic(
        4, {x}, {g.dims({0, 3, 1, 2})}, g.dims({0, 1, 2, 3}),
        tensor::EmptyOp::create(
            g.b, g.loc, ArrayRef<int64_t>{batch, config.numKVHeads, hd, seq},
            g.f32),
        GraphBuilder::parallel(4),
        [&](OpBuilder &, Location, ValueRange a) -> Value { return a[0]; });
  };
  // scores[b, h, s, t] = sum_d q[b, s, h, d] * k[b, t, h / G, d], with
  // loops (b, h, s, d, t): the innermost loop runs over t, contiguous in
  // the scores and in k transposed to [b, h / G, d, t], so it vectorises.
  Value kT = transposeToDimMajor(k);
  AffineExpr bb = g.dim(0), h = g.dim(1), s = g.dim(2), d = g.dim(3),
             t = g.dim(4);
  SmallVector<IT> scoreIters{IT::parallel, IT::parallel, IT::parallel,
                             IT::reduction, IT::parallel};
  Value scores = g.generic(
      5, {q, kT}, {{bb, s, h, d}, {bb, h.floorDiv(group), d, t}}, {bb, h, s, t},
      g.filled({batch, heads, seq, seq}, 0.0f), scoreIters,
      [&](OpBuilder &nb, Location l, ValueRange a) -> Value {
        Value m = arith::MulFOp::create(nb, l, a[0], a[1]);
        return arith::AddFOp::create(nb, l, a[2], m, g.reassoc());
      });
  // Scale and causal mask, then softmax over t (llama2.c order: max,
  // exp(x - max), sum, divide).
  float sqrtHd = std::sqrt(float(hd));
  Value masked = g.generic(
      4, {scores}, {g.dims({0, 1, 2, 3})}, g.dims({0, 1, 2, 3}),
      tensor::EmptyOp::create(g.b, g.loc,
                              ArrayRef<int64_t>{batch, heads, seq, seq}, g.f32),
      GraphBuilder::parallel(4),
      [&](OpBuilder &nb, Location l, ValueRange a) -> Value {
        Value sIdx = linalg::IndexOp::create(nb, l, 2);
        Value tIdx = linalg::IndexOp::create(nb, l, 3);
        Value future =
            arith::CmpIOp::create(nb, l, arith::CmpIPredicate::ugt, tIdx, sIdx);
        Value scaled = arith::DivFOp::create(
            nb, l, a[0],
            arith::ConstantOp::create(nb, l, nb.getF32FloatAttr(sqrtHd)));
        Value negInf = arith::ConstantOp::create(
            nb, l, nb.getF32FloatAttr(-std::numeric_limits<float>::infinity()));
        return arith::SelectOp::create(nb, l, future, negInf, scaled);
      });
  SmallVector<IT> rowReduce{IT::parallel, IT::parallel, IT::parallel,
                            IT::reduction};
  float negInf = -std::numeric_limits<float>::infinity();
  auto maximum = [](OpBuilder &nb, Location l, ValueRange a) -> Value {
    return arith::MaximumFOp::create(nb, l, a[0], a[1]);
  };
  Value rowMax;
  constexpr int64_t kMaxLanes = 16;
  if (seq % kMaxLanes == 0 && seq > kMaxLanes) {
    // In two steps, so that it vectorises: 16 running maxima per row, each
    // step an elementwise max with the next 16 contiguous scores, then the
    // max of those 16 (a loop-carried max over t stays scalar). The maximum
    // is exact in any order.
    Value slices = tensor::ExpandShapeOp::create(
        g.b, g.loc,
        RankedTensorType::get({batch, heads, seq, seq / kMaxLanes, kMaxLanes},
                              g.f32),
        masked, SmallVector<ReassociationIndices>{{0}, {1}, {2}, {3, 4}});
    Value lanes = g.generic(
        5, {slices}, {g.dims({0, 1, 2, 3, 4})}, g.dims({0, 1, 2, 4}),
        g.filled({batch, heads, seq, kMaxLanes}, negInf),
        {IT::parallel, IT::parallel, IT::parallel, IT::reduction, IT::parallel},
        maximum);
    rowMax =
        g.generic(4, {lanes}, {g.dims({0, 1, 2, 3})}, g.dims({0, 1, 2}),
                  g.filled({batch, heads, seq}, negInf), rowReduce, maximum);
  } else {
    rowMax =
        g.generic(4, {masked}, {g.dims({0, 1, 2, 3})}, g.dims({0, 1, 2}),
                  g.filled({batch, heads, seq}, negInf), rowReduce, maximum);
  }
  // Elementwise over [b, h, s, t] with one value per row [b, h, s].
  auto withRow =
      [&](Value x, Value row,
          function_ref<Value(OpBuilder &, Location, Value, Value)> fn)
      -> Value {
    return g.generic(
        4, {x, row}, {g.dims({0, 1, 2, 3}), g.dims({0, 1, 2})},
        g.dims({0, 1, 2, 3}),
        tensor::EmptyOp::create(
            g.b, g.loc, ArrayRef<int64_t>{batch, heads, seq, seq}, g.f32),
        GraphBuilder::parallel(4),
        [&](OpBuilder &nb, Location l, ValueRange a) -> Value {
          return fn(nb, l, a[0], a[1]);
        });
  };
  Value expd =
      withRow(masked, rowMax, [](OpBuilder &nb, Location l, Value x, Value m) {
        return math::ExpOp::create(nb, l, arith::SubFOp::create(nb, l, x, m))
            .getResult();
      });
  Value rowSum =
      g.generic(4, {expd}, {g.dims({0, 1, 2, 3})}, g.dims({0, 1, 2}),
                g.filled({batch, heads, seq}, 0.0f), rowReduce,
                [&](OpBuilder &nb, Location l, ValueRange a) -> Value {
                  return arith::AddFOp::create(nb, l, a[1], a[0], g.reassoc());
                });
  Value probs =
      withRow(expd, rowSum, [](OpBuilder &nb, Location l, Value e, Value sum) {
        return arith::DivFOp::create(nb, l, e, sum).getResult();
      });
  // out[b, s, h, d] = sum_t probs[b, h, s, t] * v[b, t, h / G, d], with
  // loops (b, s, h, d, t) over v transposed to [b, h / G, d, t]: the
  // innermost loop is a dot product over t, contiguous in both operands.
  Value vT = transposeToDimMajor(v);
  AffineExpr ob = g.dim(0), os = g.dim(1), oh = g.dim(2), od = g.dim(3),
             ot = g.dim(4);
  Value out = g.generic(
      5, {probs, vT}, {{ob, oh, os, ot}, {ob, oh.floorDiv(group), od, ot}},
      {ob, os, oh, od}, g.filled({batch, seq, heads, hd}, 0.0f), scoreIters5(),
      [&](OpBuilder &nb, Location l, ValueRange a) -> Value {
        Value m = arith::MulFOp::create(nb, l, a[0], a[1]);
        return arith::AddFOp::create(nb, l, a[2], m, g.reassoc());
      });
  auto joined = tensor::CollapseShapeOp::create(g.b, g.loc, out, split);
  joined->setAttr(qtensor::kAttentionAttr, g.b.getStringAttr("output"));
  return joined;
}

OwningOpRef<ModuleOp> quantopt::importLlama(
    MLIRContext *ctx, const LlamaConfig &config, const LlamaWeightNames &names,
    const std::function<const LlamaWeight *(llvm::StringRef)> &lookup,
    const LlamaImportOptions &options, std::string &error) {
  ctx->loadDialect<arith::ArithDialect, func::FuncDialect,
                   linalg::LinalgDialect, math::MathDialect,
                   qtensor::QTensorDialect, tensor::TensorDialect>();
  int64_t batch = options.batch;
  int64_t seq = options.seqLen ? options.seqLen : config.maxSeqLen;
  if (batch <= 0 || seq <= 0 || seq > config.maxSeqLen) {
    error = llvm::formatv("batch {0} and sequence length {1} must be positive "
                          "and the length at most the model's {2}",
                          batch, seq, config.maxSeqLen)
                .str();
    return nullptr;
  }
  if (config.headDim() % 2 != 0) {
    error = "head dimension must be even for rotary embeddings";
    return nullptr;
  }
  int64_t d = config.dim, kvDim = config.headDim() * config.numKVHeads;

  // Resolve and check every weight before emitting anything.
  // `needsValues`: the weight is read element by element (norms, the
  // embedding gather), so ggml blocks alone do not do.
  auto require = [&](const std::string &name, std::vector<int64_t> shape,
                     bool needsValues = false) -> const LlamaWeight * {
    if (!error.empty())
      return nullptr;
    const LlamaWeight *w = lookup(name);
    if (!w) {
      error = "missing tensor '" + name + "'";
      return nullptr;
    }
    if (w->shape != shape) {
      auto str = [](const std::vector<int64_t> &s) {
        std::string r;
        for (size_t i = 0; i < s.size(); ++i)
          r += (i ? "x" : "") + std::to_string(s[i]);
        return r;
      };
      error = "tensor '" + name + "' has shape " + str(w->shape) +
              ", expected " + str(shape);
      return nullptr;
    }
    if ((needsValues || !w->ggmlType) && w->data.empty()) {
      error = "tensor '" + name + "' must be given as float values";
      return nullptr;
    }
    return w;
  };
  const LlamaWeight *emb =
      require(names.tokenEmbedding, {config.vocabSize, d}, true);
  const LlamaWeight *finalNorm = require(names.finalNorm, {d}, true);
  const LlamaWeight *cls = require(names.classifier, {config.vocabSize, d});
  struct Layer {
    const LlamaWeight *attnNorm, *wq, *wk, *wv, *wo, *ffnNorm, *w1, *w2, *w3;
  };
  std::vector<Layer> layers;
  for (int64_t l = 0; l < config.numLayers; ++l) {
    Layer layer;
    layer.attnNorm = require(names.attnNorm[l], {d}, true);
    layer.wq = require(names.wq[l], {d, d});
    layer.wk = require(names.wk[l], {kvDim, d});
    layer.wv = require(names.wv[l], {kvDim, d});
    layer.wo = require(names.wo[l], {d, d});
    layer.ffnNorm = require(names.ffnNorm[l], {d}, true);
    layer.w1 = require(names.w1[l], {config.hiddenDim, d});
    layer.w2 = require(names.w2[l], {d, config.hiddenDim});
    layer.w3 = require(names.w3[l], {config.hiddenDim, d});
    layers.push_back(layer);
  }
  if (!error.empty())
    return nullptr;

  OpBuilder b(ctx);
  Location loc = UnknownLoc::get(ctx);
  OwningOpRef<ModuleOp> module = ModuleOp::create(loc);
  LlamaConfig recorded = config;
  recorded.tiedEmbeddings = names.classifier == names.tokenEmbedding;
  setLlamaConfigAttr(*module, recorded);
  b.setInsertionPointToEnd(module->getBody());
  auto tokensType = RankedTensorType::get({batch, seq}, b.getI32Type());
  auto logitsType =
      RankedTensorType::get({batch, seq, config.vocabSize}, b.getF32Type());
  auto func =
      func::FuncOp::create(b, loc, options.functionName,
                           b.getFunctionType({tokensType}, {logitsType}));
  Block *entry = func.addEntryBlock();
  b.setInsertionPointToStart(entry);
  GraphBuilder g(b, loc);
  Value tokens = entry->getArgument(0);

  // Embedding gather; out-of-range ids are clamped so reads stay in bounds.
  Value table = g.weight(*emb);
  Value x = g.generic(
      3, {tokens}, {g.dims({0, 1})}, g.dims({0, 1, 2}),
      tensor::EmptyOp::create(b, loc, ArrayRef<int64_t>{batch, seq, d}, g.f32),
      GraphBuilder::parallel(3),
      [&](OpBuilder &nb, Location l, ValueRange a) -> Value {
        Value id = arith::IndexCastOp::create(nb, l, nb.getIndexType(), a[0]);
        Value hi = arith::ConstantIndexOp::create(nb, l, config.vocabSize - 1);
        Value lo = arith::ConstantIndexOp::create(nb, l, 0);
        id = arith::MaxSIOp::create(nb, l,
                                    arith::MinSIOp::create(nb, l, id, hi), lo);
        Value col = linalg::IndexOp::create(nb, l, 2);
        return tensor::ExtractOp::create(nb, l, table, ValueRange{id, col});
      });

  std::vector<float> cosValues, sinValues;
  ropeTables(config, seq, cosValues, sinValues);
  int64_t half = config.headDim() / 2;
  Value cosT = g.table({seq, half}, cosValues);
  Value sinT = g.table({seq, half}, sinValues);

  for (const Layer &layer : layers) {
    Value xn = g.rmsNorm(x, g.weight(*layer.attnNorm), config.rmsNormEps);
    Value q = applyRope(g, g.linear(xn, *layer.wq), cosT, sinT, config);
    Value k = applyRope(g, g.linear(xn, *layer.wk), cosT, sinT, config);
    Value v = g.linear(xn, *layer.wv);
    Value att = attention(g, q, k, v, config, batch, seq);
    x = g.add(x, g.linear(att, *layer.wo));

    Value hn = g.rmsNorm(x, g.weight(*layer.ffnNorm), config.rmsNormEps);
    Value h1 = g.linear(hn, *layer.w1);
    Value h3 = g.linear(hn, *layer.w3);
    Value act = g.generic(
        3, {h1, h3}, {g.dims({0, 1, 2}), g.dims({0, 1, 2})}, g.dims({0, 1, 2}),
        tensor::EmptyOp::create(
            b, loc, ArrayRef<int64_t>{batch, seq, config.hiddenDim}, g.f32),
        GraphBuilder::parallel(3),
        [&](OpBuilder &nb, Location l, ValueRange a) -> Value {
          // silu(h1) * h3 = h1 * (1 / (1 + exp(-h1))) * h3
          Value one =
              arith::ConstantOp::create(nb, l, nb.getF32FloatAttr(1.0f));
          Value e =
              math::ExpOp::create(nb, l, arith::NegFOp::create(nb, l, a[0]));
          Value sig = arith::DivFOp::create(
              nb, l, one, arith::AddFOp::create(nb, l, one, e));
          Value silu = arith::MulFOp::create(nb, l, a[0], sig);
          return arith::MulFOp::create(nb, l, silu, a[1]);
        });
    x = g.add(x, g.linear(act, *layer.w2));
  }
  Value xf = g.rmsNorm(x, g.weight(*finalNorm), config.rmsNormEps);
  // A tied float classifier reuses the gather's table.
  Value logits = g.linear(xf, *cls, cls == emb ? table : Value());
  func::ReturnOp::create(b, loc, logits);
  return module;
}

OwningOpRef<ModuleOp>
quantopt::importLlama2c(MLIRContext *ctx, const Llama2cCheckpoint &checkpoint,
                        const LlamaImportOptions &options, std::string &error) {
  const Llama2cConfig &c = checkpoint.getConfig();
  LlamaConfig config;
  config.dim = c.dim;
  config.hiddenDim = c.hiddenDim;
  config.numLayers = c.numLayers;
  config.numHeads = c.numHeads;
  config.numKVHeads = c.numKVHeads;
  config.vocabSize = c.vocabSize;
  config.maxSeqLen = c.seqLen;
  config.rmsNormEps = 1e-5f;
  config.ropeTheta = 10000.0f;
  config.ropeAdjacentPairs = true;

  std::vector<LlamaWeight> weights;
  for (const CheckpointTensor &t : checkpoint.getTensors())
    weights.push_back({t.name, t.shape, t.data});
  LlamaWeightNames names = LlamaWeightNames::get(
      LlamaNaming::Llama2c, c.numLayers, c.sharedClassifier);
  auto lookup = [&](llvm::StringRef name) -> const LlamaWeight * {
    for (const LlamaWeight &w : weights)
      if (w.name == name)
        return &w;
    return nullptr;
  };
  return importLlama(ctx, config, names, lookup, options, error);
}

LlamaWeightNames LlamaWeightNames::get(LlamaNaming naming, int64_t numLayers,
                                       bool tied) {
  LlamaWeightNames names;
  using Role = LlamaTensorRole;
  std::pair<std::vector<std::string> *, Role> perLayer[] = {
      {&names.attnNorm, Role::AttnNorm}, {&names.wq, Role::AttnQ},
      {&names.wk, Role::AttnK},          {&names.wv, Role::AttnV},
      {&names.wo, Role::AttnOutput},     {&names.ffnNorm, Role::FfnNorm},
      {&names.w1, Role::FfnGate},        {&names.w2, Role::FfnDown},
      {&names.w3, Role::FfnUp}};
  for (int64_t l = 0; l < numLayers; ++l)
    for (auto [list, role] : perLayer)
      list->push_back(getLlamaTensorName(naming, role, l));
  names.tokenEmbedding = getLlamaTensorName(naming, Role::TokenEmbedding);
  names.finalNorm = getLlamaTensorName(naming, Role::FinalNorm);
  names.classifier =
      tied ? names.tokenEmbedding : getLlamaTensorName(naming, Role::Output);
  return names;
}

void quantopt::setLlamaConfigAttr(ModuleOp module, const LlamaConfig &config) {
  Builder b(module.getContext());
  auto attr = qtensor::LlamaConfigAttr::get(
      module.getContext(), config.dim, config.hiddenDim, config.numLayers,
      config.numHeads, config.numKVHeads, config.vocabSize, config.maxSeqLen,
      b.getF32FloatAttr(config.ropeTheta), b.getF32FloatAttr(config.rmsNormEps),
      b.getStringAttr(config.ropeAdjacentPairs ? "adjacent" : "rotate_half"),
      b.getBoolAttr(config.tiedEmbeddings));
  module->setAttr(qtensor::kLlamaConfigAttr, attr);
}

llvm::Expected<LlamaConfig> quantopt::getLlamaConfigAttr(ModuleOp module) {
  auto attr = module->getAttrOfType<qtensor::LlamaConfigAttr>(
      qtensor::kLlamaConfigAttr);
  if (!attr)
    return llvm::createStringError(
        llvm::Twine("the module has no '") + qtensor::kLlamaConfigAttr +
        "' attribute (import the model with quant-import)");
  // The attribute's verifier has checked the values.
  LlamaConfig config;
  config.dim = attr.getDim();
  config.hiddenDim = attr.getHiddenDim();
  config.numLayers = attr.getNLayers();
  config.numHeads = attr.getNHeads();
  config.numKVHeads = attr.getNKvHeads();
  config.vocabSize = attr.getVocabSize();
  config.maxSeqLen = attr.getSeqLen();
  config.ropeTheta = float(attr.getRopeTheta().getValueAsDouble());
  config.rmsNormEps = float(attr.getNormEps().getValueAsDouble());
  config.ropeAdjacentPairs = attr.getRope().getValue() == "adjacent";
  config.tiedEmbeddings = attr.getTiedEmbeddings().getValue();
  return config;
}
