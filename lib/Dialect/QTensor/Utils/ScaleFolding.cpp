//===- ScaleFolding.cpp - Fold per-channel scales into producers ----------===//
//
// Part of the quant-opt project, under the Apache License v2.0 with LLVM
// Exceptions.
//
//===----------------------------------------------------------------------===//

#include "quant/Dialect/QTensor/Utils/ScaleFolding.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/Matchers.h"
#include "llvm/ADT/SmallPtrSet.h"

#include <numeric>

using namespace mlir;
using namespace mlir::qtensor;

std::string InputGroup::names() const {
  std::string out;
  for (const ConstantWeightMatmul &linear : linears)
    out += (out.empty() ? "" : ", ") + linear.name;
  return out;
}

bool mlir::qtensor::isOutputHead(Operation *op) {
  return llvm::any_of(op->getUsers(), [](Operation *user) {
    return isa<func::ReturnOp>(user);
  });
}

SmallVector<InputGroup> mlir::qtensor::collectInputGroups(Operation *root,
                                                          WeightFilter filter) {
  SmallVector<InputGroup> groups;
  DenseMap<Value, unsigned> groupOf;
  filter.skipBatched = true;
  filter.skipNonF32Input = true;
  filter.skipNonF32Weight = true;
  filter.requireFinite = false;
  (void)forEachConstantWeightMatmul(
      root, filter, [&](ConstantWeightMatmul &match) {
        auto [it, inserted] = groupOf.try_emplace(match.input, groups.size());
        if (inserted)
          groups.push_back(InputGroup{match.input, {}});
        groups[it->second].linears.push_back(std::move(match));
        return success();
      });
  return groups;
}

namespace {
/// Divisors over some dimensions of a value: element [i0, .., in] is to be
/// divided by `divisors` at the indices of `dims` (ascending), row-major.
struct ChannelDivisors {
  SmallVector<int64_t> dims;
  SmallVector<int64_t> sizes;
  std::vector<float> divisors;
};

/// Walks producers backwards; with `mutate` false it only checks, with
/// `mutate` true it rewrites (after a successful check, so it cannot fail
/// half-way).
class ScaleTracer {
public:
  explicit ScaleTracer(bool mutate) : mutate(mutate) {}

  LogicalResult traceValue(Value value, OpOperand *use,
                           const ChannelDivisors &divisors);

  std::string reason;
  std::string description;
  ChannelScaleFold::Absorber absorber =
      ChannelScaleFold::Absorber::ElementwiseConstant;

private:
  LogicalResult absorbInConstant(Value value, OpOperand *use,
                                 const ChannelDivisors &divisors);
  LogicalResult traceCollapse(tensor::CollapseShapeOp op,
                              const ChannelDivisors &divisors);
  LogicalResult traceExpand(tensor::ExpandShapeOp op,
                            const ChannelDivisors &divisors);
  LogicalResult traceLinalg(linalg::LinalgOp op,
                            const ChannelDivisors &divisors);
  LogicalResult appendDivision(linalg::GenericOp op,
                               const ChannelDivisors &divisors);
  void note(const Twine &text, ChannelScaleFold::Absorber kind) {
    if (!description.empty())
      return;
    description = text.str();
    absorber = kind;
  }

  bool mutate;
};
} // namespace

/// Element-wise divisor of a full tensor of `shape` (broadcast over the
/// dimensions not in `d.dims`).
static std::vector<float> expandDivisors(ArrayRef<int64_t> shape,
                                         const ChannelDivisors &d) {
  int64_t total = 1;
  for (int64_t s : shape)
    total *= s;
  std::vector<float> out(total);
  SmallVector<int64_t> index(shape.size(), 0);
  for (int64_t flat = 0; flat < total; ++flat) {
    int64_t at = 0;
    for (auto [i, dim] : llvm::enumerate(d.dims))
      at = at * d.sizes[i] + index[dim];
    out[flat] = d.divisors[at];
    for (int64_t k = int64_t(shape.size()) - 1; k >= 0; --k) {
      if (++index[k] < shape[k])
        break;
      index[k] = 0;
    }
  }
  return out;
}

/// Re-orders divisors over `dims` (in that order) into ascending dimension
/// order.
static ChannelDivisors sortDims(SmallVector<int64_t> dims,
                                SmallVector<int64_t> sizes,
                                const std::vector<float> &divisors) {
  SmallVector<unsigned> order(dims.size());
  std::iota(order.begin(), order.end(), 0);
  llvm::sort(order, [&](unsigned a, unsigned b) { return dims[a] < dims[b]; });
  ChannelDivisors out;
  for (unsigned o : order) {
    out.dims.push_back(dims[o]);
    out.sizes.push_back(sizes[o]);
  }
  out.divisors.resize(divisors.size());
  SmallVector<int64_t> index(dims.size(), 0);
  for (size_t flat = 0; flat < divisors.size(); ++flat) {
    int64_t at = 0;
    for (unsigned o : order)
      at = at * sizes[o] + index[o];
    out.divisors[at] = divisors[flat];
    for (int64_t k = int64_t(dims.size()) - 1; k >= 0; --k) {
      if (++index[k] < sizes[k])
        break;
      index[k] = 0;
    }
  }
  return out;
}

LogicalResult ScaleTracer::traceValue(Value value, OpOperand *use,
                                      const ChannelDivisors &divisors) {
  if (isConstantTensor(value))
    return absorbInConstant(value, use, divisors);
  if (use && !value.hasOneUse()) {
    reason = "an intermediate value on the path has other users";
    return failure();
  }
  Operation *def = value.getDefiningOp();
  if (!def) {
    reason = "the input comes from a function argument";
    return failure();
  }
  if (auto collapse = dyn_cast<tensor::CollapseShapeOp>(def))
    return traceCollapse(collapse, divisors);
  if (auto expand = dyn_cast<tensor::ExpandShapeOp>(def))
    return traceExpand(expand, divisors);
  if (auto linalgOp = dyn_cast<linalg::LinalgOp>(def))
    return traceLinalg(linalgOp, divisors);
  reason = ("its producer '" + def->getName().getStringRef() +
            "' cannot absorb a per-channel scale")
               .str();
  return failure();
}

LogicalResult ScaleTracer::absorbInConstant(Value value, OpOperand *use,
                                            const ChannelDivisors &divisors) {
  std::optional<FloatConstant> constant = readFloatConstant(value);
  if (!use || !constant || !constant->type.getElementType().isF32()) {
    reason = "the scaled value is a constant that is not f32";
    return failure();
  }
  auto owner = dyn_cast<linalg::LinalgOp>(use->getOwner());
  bool inReduction = owner && owner.getNumReductionLoops() > 0;
  note((inReduction ? "rows of the constant '" : "the constant '") +
           constant->name + "' of '" +
           use->getOwner()->getName().getStringRef() + "'",
       inReduction ? ChannelScaleFold::Absorber::ReductionConstant
                   : ChannelScaleFold::Absorber::ElementwiseConstant);
  if (!mutate)
    return success();
  std::vector<float> expanded =
      expandDivisors(constant->type.getShape(), divisors);
  for (size_t i = 0; i < expanded.size(); ++i)
    constant->values[i] /= expanded[i];
  OpBuilder builder(use->getOwner());
  Location loc = value.getDefiningOp() ? value.getDefiningOp()->getLoc()
                                       : use->getOwner()->getLoc();
  if (!constant->name.empty())
    loc = NameLoc::get(builder.getStringAttr(constant->name), loc);
  use->set(
      createF32Constant(builder, loc, constant->type.getShape(),
                        constant->values, constant->fromResource,
                        constant->name.empty() ? "scaled" : constant->name));
  eraseIfDeadConstant(value);
  return success();
}

LogicalResult ScaleTracer::traceCollapse(tensor::CollapseShapeOp op,
                                         const ChannelDivisors &divisors) {
  auto srcType = op.getSrcType();
  if (!srcType.hasStaticShape()) {
    reason = "a reshape on the path has a dynamic shape";
    return failure();
  }
  // Collapse is row-major: a result dimension's divisors cover its group of
  // source dimensions in the same order.
  SmallVector<ReassociationIndices> groups = op.getReassociationIndices();
  ChannelDivisors src;
  for (int64_t d : divisors.dims)
    for (int64_t s : groups[d]) {
      src.dims.push_back(s);
      src.sizes.push_back(srcType.getDimSize(s));
    }
  src.divisors = divisors.divisors;
  return traceValue(op.getSrc(), &op->getOpOperand(0), src);
}

LogicalResult ScaleTracer::traceExpand(tensor::ExpandShapeOp op,
                                       const ChannelDivisors &divisors) {
  auto srcType = op.getSrcType();
  auto resultType = op.getResultType();
  if (!resultType.hasStaticShape()) {
    reason = "a reshape on the path has a dynamic shape";
    return failure();
  }
  // Every group of result dimensions must be wholly scaled or not at all;
  // a partly scaled group is broadcast over its other dimensions first.
  SmallVector<ReassociationIndices> groups = op.getReassociationIndices();
  ChannelDivisors src;
  SmallVector<int64_t> resultDims;
  for (auto [s, group] : llvm::enumerate(groups)) {
    bool any = llvm::any_of(
        group, [&](int64_t d) { return llvm::is_contained(divisors.dims, d); });
    if (!any)
      continue;
    src.dims.push_back(s);
    src.sizes.push_back(srcType.getDimSize(s));
    resultDims.append(group.begin(), group.end());
  }
  // Divisors over the covered result dims, broadcast where not scaled.
  SmallVector<int64_t> coveredShape;
  for (int64_t d : resultDims)
    coveredShape.push_back(resultType.getDimSize(d));
  ChannelDivisors local;
  for (auto [i, d] : llvm::enumerate(divisors.dims)) {
    local.dims.push_back(llvm::find(resultDims, d) - resultDims.begin());
    local.sizes.push_back(divisors.sizes[i]);
  }
  local.divisors = divisors.divisors;
  src.divisors = expandDivisors(coveredShape, local);
  return traceValue(op.getSrc(), &op->getOpOperand(0), src);
}

/// Block arguments of `body` that `value` depends on.
static void collectArgDependencies(Value value, Block *body,
                                   llvm::SmallPtrSetImpl<Value> &seen,
                                   SmallVectorImpl<unsigned> &args) {
  if (!seen.insert(value).second)
    return;
  if (auto arg = dyn_cast<BlockArgument>(value)) {
    if (arg.getOwner() == body)
      args.push_back(arg.getArgNumber());
    return;
  }
  Operation *def = value.getDefiningOp();
  if (!def || def->getBlock() != body)
    return;
  for (Value operand : def->getOperands())
    collectArgDependencies(operand, body, seen, args);
}

static bool dependsOnAny(Value value, Block *body, ArrayRef<unsigned> args) {
  llvm::SmallPtrSet<Value, 16> seen;
  SmallVector<unsigned> deps;
  collectArgDependencies(value, body, seen, deps);
  return llvm::any_of(deps,
                      [&](unsigned a) { return llvm::is_contained(args, a); });
}

/// The ways to divide `value` (computed in `body`) by a factor by dividing
/// block arguments: each alternative lists the arguments to divide. Only
/// operations linear in the chosen arguments are followed.
static SmallVector<SmallVector<unsigned>> linearArguments(Value value,
                                                          Block *body) {
  if (auto arg = dyn_cast<BlockArgument>(value))
    return arg.getOwner() == body
               ? SmallVector<SmallVector<unsigned>>{{arg.getArgNumber()}}
               : SmallVector<SmallVector<unsigned>>{};
  Operation *def = value.getDefiningOp();
  if (!def || def->getBlock() != body)
    return {};
  SmallVector<SmallVector<unsigned>> out;
  if (isa<arith::MulFOp, arith::DivFOp>(def)) {
    // A product is linear in either factor when the other does not depend
    // on what is divided; a quotient only in its numerator.
    unsigned sides = isa<arith::MulFOp>(def) ? 2 : 1;
    for (unsigned side = 0; side < sides; ++side) {
      Value other = def->getOperand(1 - side);
      for (SmallVector<unsigned> &alt :
           linearArguments(def->getOperand(side), body))
        if (!dependsOnAny(other, body, alt))
          out.push_back(alt);
    }
    return out;
  }
  if (isa<arith::AddFOp, arith::SubFOp>(def)) {
    for (SmallVector<unsigned> &lhs : linearArguments(def->getOperand(0), body))
      for (SmallVector<unsigned> &rhs :
           linearArguments(def->getOperand(1), body)) {
        SmallVector<unsigned> both = lhs;
        for (unsigned a : rhs)
          if (!llvm::is_contained(both, a))
            both.push_back(a);
        out.push_back(both);
      }
    return out;
  }
  if (isa<arith::NegFOp>(def))
    return linearArguments(def->getOperand(0), body);
  return {};
}

/// True for `linalg.fill` of +0.0: dividing it changes nothing.
static bool isZeroFill(Value value) {
  auto fill = value.getDefiningOp<linalg::FillOp>();
  if (!fill)
    return false;
  FloatAttr zero;
  return matchPattern(fill.value(), m_Constant(&zero)) &&
         zero.getValue().isZero();
}

LogicalResult ScaleTracer::traceLinalg(linalg::LinalgOp op,
                                       const ChannelDivisors &divisors) {
  if (!op.hasPureTensorSemantics() || op->getNumResults() != 1 ||
      op.getNumDpsInits() != 1 || op->getNumRegions() != 1) {
    reason = "its producer is a linalg op with several results";
    return failure();
  }
  // Loop dimensions of the scaled result dimensions.
  AffineMap outMap = op.getIndexingMapMatchingResult(op->getResult(0));
  SmallVector<unsigned> loops;
  for (int64_t d : divisors.dims) {
    auto dimExpr = dyn_cast<AffineDimExpr>(outMap.getResult(d));
    if (!dimExpr) {
      reason = "the producer's result is not indexed by plain loop dims";
      return failure();
    }
    loops.push_back(dimExpr.getPosition());
  }
  Block *body = op.getBlock();
  Value yielded = body->getTerminator()->getOperand(0);

  // Divisors of operand `operandNumber`, or failure when one of the scaled
  // loop dims does not index it directly.
  auto operandDivisors = [&](OpOperand &operand) -> FailureOr<ChannelDivisors> {
    AffineMap map = op.getMatchingIndexingMap(&operand);
    SmallVector<int64_t> dims, sizes;
    auto type = dyn_cast<RankedTensorType>(operand.get().getType());
    if (!type || !type.hasStaticShape())
      return failure();
    for (unsigned loop : loops) {
      std::optional<unsigned> at =
          map.getResultPosition(getAffineDimExpr(loop, op->getContext()));
      if (!at)
        return failure();
      dims.push_back(*at);
      sizes.push_back(type.getDimSize(*at));
    }
    return sortDims(dims, sizes, divisors.divisors);
  };

  // Try the ways the body is linear in its operands; constants first, so a
  // norm's weight is preferred to its (multi-use) input.
  SmallVector<SmallVector<unsigned>> alternatives =
      linearArguments(yielded, body);
  auto constantCount = [&](const SmallVector<unsigned> &alt) {
    return llvm::count_if(alt, [&](unsigned a) {
      return isConstantTensor(op->getOpOperand(a).get());
    });
  };
  llvm::stable_sort(alternatives, [&](const auto &a, const auto &b) {
    return constantCount(a) * b.size() > constantCount(b) * a.size();
  });
  std::string firstReason;
  for (const SmallVector<unsigned> &alt : alternatives) {
    bool ok = true;
    SmallVector<std::pair<OpOperand *, ChannelDivisors>> plan;
    for (unsigned a : alt) {
      OpOperand &operand = op->getOpOperand(a);
      // Another operand slot holding the same value would see it scaled.
      for (OpOperand &other : op->getOpOperands())
        if (other.get() == operand.get() &&
            !llvm::is_contained(alt, other.getOperandNumber()))
          ok = false;
      if (op.isDpsInit(&operand) && isZeroFill(operand.get()))
        continue;
      FailureOr<ChannelDivisors> d = operandDivisors(operand);
      if (!ok || failed(d)) {
        ok = false;
        break;
      }
      plan.emplace_back(&operand, std::move(*d));
    }
    if (!ok)
      continue;
    // Check the whole alternative before changing anything.
    ScaleTracer check(false);
    for (auto &[operand, d] : plan)
      if (failed(check.traceValue(operand->get(), operand, d))) {
        ok = false;
        if (firstReason.empty())
          firstReason = check.reason;
        break;
      }
    if (!ok)
      continue;
    note(check.description, check.absorber);
    if (mutate)
      for (auto &[operand, d] : plan)
        (void)traceValue(operand->get(), operand, d);
    return success();
  }

  // An elementwise op that is not linear in anything: divide its result in
  // its own body.
  auto generic = dyn_cast<linalg::GenericOp>(op.getOperation());
  if (generic && generic.getNumReductionLoops() == 0 &&
      outMap.isPermutation()) {
    note("a division appended to an elementwise producer",
         ChannelScaleFold::Absorber::AppendedDivision);
    return mutate ? appendDivision(generic, divisors) : success();
  }
  reason = firstReason.empty()
               ? "its producer is a reduction that is not linear in any "
                 "operand indexed by the channel"
               : firstReason;
  return failure();
}

LogicalResult ScaleTracer::appendDivision(linalg::GenericOp op,
                                          const ChannelDivisors &divisors) {
  OpBuilder builder(op);
  Location loc = op.getLoc();
  Value constant = createF32Constant(builder, loc, divisors.sizes,
                                     divisors.divisors, false, "");
  AffineMap outMap = op.getIndexingMapMatchingResult(op->getResult(0));
  SmallVector<AffineExpr> exprs;
  for (int64_t d : divisors.dims)
    exprs.push_back(outMap.getResult(d));
  AffineMap divisorMap =
      AffineMap::get(op.getNumLoops(), 0, exprs, op.getContext());
  SmallVector<Value> inputs(op.getInputs());
  inputs.push_back(constant);
  SmallVector<AffineMap> maps = op.getIndexingMapsArray();
  maps.insert(maps.begin() + op.getNumDpsInputs(), divisorMap);
  auto replacement = linalg::GenericOp::create(
      builder, loc, op->getResultTypes(), inputs, op.getOutputs(), maps,
      op.getIteratorTypesArray());
  replacement.getRegion().takeBody(op.getRegion());
  Block *body = replacement.getBlock();
  BlockArgument divisor =
      body->insertArgument(op.getNumDpsInputs(), builder.getF32Type(), loc);
  Operation *yield = body->getTerminator();
  builder.setInsertionPoint(yield);
  Value divided =
      arith::DivFOp::create(builder, loc, yield->getOperand(0), divisor);
  yield->setOperand(0, divided);
  op->replaceAllUsesWith(replacement->getResults());
  op->erase();
  return success();
}

FailureOr<ChannelScaleFold> ChannelScaleFold::find(const InputGroup &group,
                                                   std::string &reason) {
  Value input = group.input;
  llvm::SmallPtrSet<Operation *, 8> members;
  for (const ConstantWeightMatmul &linear : group.linears)
    members.insert(linear.op);
  for (OpOperand &use : input.getUses())
    if (!members.contains(use.getOwner())) {
      reason = "the input is also used by '" +
               use.getOwner()->getName().getStringRef().str() +
               "', which is not one of the scaled linears";
      return failure();
    }
  auto type = cast<RankedTensorType>(input.getType());
  if (!type.hasStaticShape()) {
    reason = "the input has a dynamic shape";
    return failure();
  }
  ChannelDivisors ones{{type.getRank() - 1},
                       {type.getShape().back()},
                       std::vector<float>(type.getShape().back(), 1.0f)};
  ScaleTracer check(false);
  if (failed(check.traceValue(input, nullptr, ones))) {
    reason = check.reason;
    return failure();
  }
  ChannelScaleFold fold;
  fold.description = check.description;
  fold.absorber = check.absorber;
  return fold;
}

LogicalResult mlir::qtensor::refreshInputGroup(InputGroup &group) {
  for (ConstantWeightMatmul &linear : group.linears) {
    std::string reason;
    FailureOr<ConstantWeightMatmul> match =
        matchConstantWeightMatmul(linear.op, reason, 0);
    if (failed(match))
      return failure();
    std::string name = linear.name;
    linear = std::move(*match);
    linear.name = name;
  }
  group.input = group.linears.front().input;
  return success();
}

void ChannelScaleFold::apply(InputGroup &group, ArrayRef<float> s) {
  (void)refreshInputGroup(group);
  auto type = cast<RankedTensorType>(group.input.getType());
  ChannelDivisors divisors{{type.getRank() - 1},
                           {type.getShape().back()},
                           std::vector<float>(s.begin(), s.end())};
  ScaleTracer rewrite(true);
  (void)rewrite.traceValue(group.input, nullptr, divisors);
  OpBuilder builder(group.linears.front().op);
  for (ConstantWeightMatmul &linear : group.linears) {
    for (int64_t r = 0; r < linear.rows; ++r)
      for (int64_t c = 0; c < linear.cols; ++c)
        linear.weight[r * linear.cols + c] *= s[c];
    updateFloatWeight(builder, linear);
  }
  // The producer may have been replaced (a division appended to it).
  group.input =
      group.linears.front()
          .op.getDpsInputOperand(1 - group.linears.front().weightOperand)
          ->get();
}
