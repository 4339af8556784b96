//===- MapParallelLoopsToGPU.cpp - Tile and map loops for the GPU --------===//
//
// Part of the quant-opt project, under the Apache License v2.0 with LLVM
// Exceptions.
//
//===----------------------------------------------------------------------===//

#include "quant/Conversion/Passes.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/GPU/Transforms/ParallelLoopMapper.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Linalg/Transforms/Transforms.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/SCF/Transforms/Transforms.h"
#include "mlir/IR/PatternMatch.h"

namespace mlir {
namespace qtensor {
#define GEN_PASS_DEF_MAPPARALLELLOOPSTOGPUPASS
#include "quant/Conversion/Passes.h.inc"
} // namespace qtensor
} // namespace mlir

using namespace mlir;
using gpu::Processor;

namespace {

/// Grid dimensions y and z have at most this many blocks.
constexpr int64_t kMaxGridYZ = 65535;

/// The static trip count of dimension `dim` of `loop`, or nullopt.
static std::optional<int64_t> getTripCount(scf::ParallelOp loop, unsigned dim) {
  std::optional<int64_t> lb = getConstantIntValue(loop.getLowerBound()[dim]);
  std::optional<int64_t> ub = getConstantIntValue(loop.getUpperBound()[dim]);
  std::optional<int64_t> step = getConstantIntValue(loop.getStep()[dim]);
  if (!lb || !ub || !step || *step <= 0)
    return std::nullopt;
  return std::max<int64_t>(0, (*ub - *lb + *step - 1) / *step);
}

static gpu::ParallelLoopDimMappingAttr mapTo(MLIRContext *ctx,
                                             Processor processor) {
  AffineMap identity = AffineMap::get(1, 0, getAffineDimExpr(0, ctx));
  return gpu::ParallelLoopDimMappingAttr::get(ctx, processor, identity,
                                              identity);
}

/// Replaces `loop` (without reductions) with a nest of scf.for loops:
/// convert-parallel-loops-to-gpu maps no parallel loop nested in a
/// sequential one.
static void convertToSequentialLoops(scf::ParallelOp loop) {
  OpBuilder builder(loop);
  Location loc = loop.getLoc();
  SmallVector<Value> inductionVars;
  for (auto [lower, upper, step] :
       llvm::zip(loop.getLowerBound(), loop.getUpperBound(), loop.getStep())) {
    auto sequential = scf::ForOp::create(builder, loc, lower, upper, step);
    inductionVars.push_back(sequential.getInductionVar());
    builder.setInsertionPointToStart(sequential.getBody());
  }
  Block *innermost = builder.getInsertionBlock();
  Block *body = loop.getBody();
  for (auto [argument, inductionVar] :
       llvm::zip(body->getArguments(), inductionVars))
    argument.replaceAllUsesWith(inductionVar);
  body->getTerminator()->erase();
  innermost->getOperations().splice(innermost->getTerminator()->getIterator(),
                                    body->getOperations());
  loop.erase();
}

struct MapParallelLoopsToGPUPass
    : qtensor::impl::MapParallelLoopsToGPUPassBase<MapParallelLoopsToGPUPass> {
  using Base::Base;

  void runOnOperation() override;

private:
  LogicalResult mapLoop(scf::ParallelOp loop);
};

LogicalResult MapParallelLoopsToGPUPass::mapLoop(scf::ParallelOp loop) {
  MLIRContext *ctx = loop.getContext();
  unsigned rank = loop.getNumLoops();
  // Threads go to the innermost dimensions first: dimension rank-1 gets as
  // many as it has iterations (up to the block size), the one before it
  // what is left, and so on for at most three dimensions.
  SmallVector<int64_t> tileSizes(rank, 1);
  SmallVector<std::optional<int64_t>> trips;
  for (unsigned dim = 0; dim < rank; ++dim)
    trips.push_back(getTripCount(loop, dim));
  int64_t threadsLeft = blockSize;
  for (unsigned i = 0; i < std::min(rank, 3u) && threadsLeft > 1; ++i) {
    unsigned dim = rank - 1 - i;
    int64_t tile = threadsLeft;
    if (trips[dim])
      tile = std::min<int64_t>(
          llvm::PowerOf2Ceil(std::max<int64_t>(1, *trips[dim])), threadsLeft);
    tileSizes[dim] = tile;
    threadsLeft /= tile;
  }
  // tileParallelLoop guards the tile's body with an scf.if when the tiles
  // do not divide the extent (noMinMaxBounds): min/max bounds would make
  // convert-parallel-loops-to-gpu leave the loop on the host.
  auto [grid, block] = scf::tileParallelLoop(loop, tileSizes,
                                             /*noMinMaxBounds=*/true);

  const Processor blockIds[] = {Processor::BlockX, Processor::BlockY,
                                Processor::BlockZ};
  const Processor threadIds[] = {Processor::ThreadX, Processor::ThreadY,
                                 Processor::ThreadZ};
  SmallVector<gpu::ParallelLoopDimMappingAttr> gridMapping, blockMapping;
  for (unsigned dim = 0; dim < rank; ++dim) {
    unsigned fromInner = rank - 1 - dim;
    Processor gridId = Processor::Sequential;
    if (fromInner < 3) {
      gridId = blockIds[fromInner];
      if (fromInner > 0 &&
          (!trips[dim] ||
           llvm::divideCeil(*trips[dim], tileSizes[dim]) > kMaxGridYZ))
        gridId = Processor::Sequential;
    }
    gridMapping.push_back(mapTo(ctx, gridId));
    blockMapping.push_back(mapTo(ctx, fromInner < 3 ? threadIds[fromInner]
                                                    : Processor::Sequential));
  }
  if (failed(gpu::setMappingAttr(grid, gridMapping)) ||
      failed(gpu::setMappingAttr(block, blockMapping)))
    return failure();
  // Parallel loops nested in the tile's body (after a reduction loop) run
  // in their thread.
  SmallVector<scf::ParallelOp> nested;
  block.getBody()->walk(
      [&](scf::ParallelOp inner) { nested.push_back(inner); });
  for (scf::ParallelOp inner : nested) {
    if (inner.getNumReductions() != 0)
      return inner.emitError("parallel loops with reductions are not mapped "
                             "to the GPU");
    convertToSequentialLoops(inner);
  }
  return success();
}

void MapParallelLoopsToGPUPass::runOnOperation() {
  func::FuncOp func = getOperation();
  if (blockSize < 32 || blockSize > 1024 || !llvm::isPowerOf2_32(blockSize)) {
    func.emitError() << "block-size must be a power of two in 32..1024, got "
                     << unsigned(blockSize);
    return signalPassFailure();
  }
  IRRewriter rewriter(&getContext());
  // Copies between buffers become parallel loops, mapped like the rest.
  SmallVector<memref::CopyOp> copies;
  func.walk([&](memref::CopyOp copy) { copies.push_back(copy); });
  for (memref::CopyOp copy : copies) {
    rewriter.setInsertionPoint(copy);
    auto loops = linalg::CopyOp::create(rewriter, copy.getLoc(),
                                        copy.getSource(), copy.getTarget());
    rewriter.eraseOp(copy);
    if (failed(linalg::linalgOpToParallelLoops(rewriter, loops))) {
      loops.emitError("could not turn this copy into parallel loops");
      return signalPassFailure();
    }
    rewriter.eraseOp(loops);
  }

  SmallVector<scf::ParallelOp> outermost;
  func.walk([&](scf::ParallelOp loop) {
    if (!loop->getParentOfType<scf::ParallelOp>() &&
        !loop->hasAttr(gpu::getMappingAttrName()))
      outermost.push_back(loop);
  });
  for (scf::ParallelOp loop : outermost) {
    if (loop.getNumReductions() != 0) {
      loop.emitError("parallel loops with reductions are not mapped to the "
                     "GPU");
      return signalPassFailure();
    }
    if (failed(mapLoop(loop))) {
      loop.emitError("could not map this loop nest to GPU blocks and threads");
      return signalPassFailure();
    }
  }
}

} // namespace
