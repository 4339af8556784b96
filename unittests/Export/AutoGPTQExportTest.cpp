//===- AutoGPTQExportTest.cpp - AutoGPTQ packing --------------------------===//
//
// Part of the quant-opt project, under the Apache License v2.0 with LLVM
// Exceptions.
//
//===----------------------------------------------------------------------===//
//
// The AutoGPTQ tensors are checked word by word against an independent
// reading of the format: code k of output n sits at bits [k*b, k*b + b) of
// the little-endian bit stream formed by column n of qweight (words along
// K), and zero-point - 1 of output n at bits [n*b, n*b + b) of row g of
// qzeros.
//
//===----------------------------------------------------------------------===//

#include "quant/Export/AutoGPTQExport.h"
#include "quant/InitAll.h"

#include "mlir/IR/DialectRegistry.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/Parser/Parser.h"

#include <gtest/gtest.h>

#include <cstring>
#include <random>

using namespace quantopt;

namespace {
/// Bits [bit, bit + width) of the little-endian stream `words`.
uint32_t streamBits(const std::vector<uint32_t> &words, uint64_t bit,
                    unsigned width) {
  uint32_t value = 0;
  for (unsigned i = 0; i < width; ++i, ++bit)
    value |= ((words[bit / 32] >> (bit % 32)) & 1u) << i;
  return value;
}

std::vector<uint32_t> words(const SafetensorsTensor &t) {
  std::vector<uint32_t> out(t.bytes.size() / 4);
  std::memcpy(out.data(), t.bytes.data(), t.bytes.size());
  return out;
}

UnpackedWeight randomWeight(int64_t rows, int64_t cols, int64_t groupSize,
                            unsigned bits, unsigned seed) {
  std::mt19937 rng(seed);
  UnpackedWeight w;
  w.name = "layer.weight";
  w.rows = rows;
  w.cols = cols;
  w.bits = bits;
  w.groups = (cols + groupSize - 1) / groupSize;
  for (int64_t i = 0; i < rows * cols; ++i)
    w.codes.push_back(uint8_t(rng() % (1u << bits)));
  for (int64_t i = 0; i < rows * w.groups; ++i) {
    w.scales.push_back(0.01f * float(1 + rng() % 100));
    // Zero-point 0 exercises the v1 "- 1" wrap-around to 2^b - 1.
    w.zeros.push_back(int64_t(rng() % (1u << bits)));
  }
  for (int64_t c = 0; c < cols; ++c)
    w.groupIndex.push_back(int32_t(c / groupSize));
  return w;
}
} // namespace

class AutoGPTQPacking : public ::testing::TestWithParam<unsigned> {};

TEST_P(AutoGPTQPacking, WordsHoldTheCodesAndZeros) {
  unsigned bits = GetParam();
  // 3-bit codes straddle words; K and N are multiples of 32.
  const int64_t rows = 64, cols = 96, groupSize = 32;
  UnpackedWeight w = randomWeight(rows, cols, groupSize, bits, 7 + bits);
  SafetensorsFile out;
  ASSERT_FALSE(bool(addAutoGPTQTensors(w, "layer", out)));
  const SafetensorsTensor &qweight = out.at("layer.qweight");
  const SafetensorsTensor &qzeros = out.at("layer.qzeros");
  const SafetensorsTensor &scales = out.at("layer.scales");
  const SafetensorsTensor &gidx = out.at("layer.g_idx");
  int64_t kWords = cols * bits / 32, nWords = rows * bits / 32;
  EXPECT_EQ(qweight.dtype, "I32");
  EXPECT_EQ(qweight.shape, (std::vector<int64_t>{kWords, rows}));
  EXPECT_EQ(qzeros.shape, (std::vector<int64_t>{w.groups, nWords}));
  EXPECT_EQ(scales.dtype, "F16");
  EXPECT_EQ(scales.shape, (std::vector<int64_t>{w.groups, rows}));
  EXPECT_EQ(gidx.shape, (std::vector<int64_t>{cols}));

  std::vector<uint32_t> qw = words(qweight), qz = words(qzeros);
  for (int64_t n = 0; n < rows; ++n) {
    std::vector<uint32_t> column(kWords);
    for (int64_t i = 0; i < kWords; ++i)
      column[i] = qw[i * rows + n];
    for (int64_t k = 0; k < cols; ++k)
      ASSERT_EQ(streamBits(column, uint64_t(k) * bits, bits),
                w.codes[n * cols + k])
          << "output " << n << ", input " << k;
  }
  uint32_t mask = (1u << bits) - 1;
  for (int64_t g = 0; g < w.groups; ++g) {
    std::vector<uint32_t> row(qz.begin() + g * nWords,
                              qz.begin() + (g + 1) * nWords);
    for (int64_t n = 0; n < rows; ++n)
      ASSERT_EQ(streamBits(row, uint64_t(n) * bits, bits),
                uint32_t(w.zeros[n * w.groups + g] - 1) & mask)
          << "group " << g << ", output " << n;
  }
}

INSTANTIATE_TEST_SUITE_P(Bits, AutoGPTQPacking, ::testing::Values(2, 3, 4, 8),
                         [](const auto &info) {
                           return "w" + std::to_string(info.param);
                         });

TEST(AutoGPTQExport, RejectsShapesAutoGPTQCannotPack) {
  UnpackedWeight w = randomWeight(8, 172, 32, 4, 1);
  SafetensorsFile out;
  llvm::Error err = addAutoGPTQTensors(w, "w2", out);
  ASSERT_TRUE(bool(err));
  EXPECT_NE(llvm::toString(std::move(err)).find("multiples of 32"),
            std::string::npos);
  EXPECT_TRUE(out.empty());
}

TEST(AutoGPTQExport, ReadsTheWeightsOfAModule) {
  mlir::DialectRegistry registry;
  registerAllDialects(registry);
  registerUpstreamDialects(registry);
  mlir::MLIRContext ctx(registry);
  // Two outputs, K = 4, one group; codes 0..7 packed LSB-first as 4 bits.
  auto module = mlir::parseSourceString<mlir::ModuleOp>(R"mlir(
func.func @f(%x: tensor<1x4xf32>, %init: tensor<1x2xf32>) -> tensor<1x2xf32> {
  %q = arith.constant dense<[[16, 50], [84, 118]]> : tensor<2x2xi8>
  %s = arith.constant dense<[[0.5], [0.25]]> : tensor<2x1xf32>
  %z = arith.constant dense<[[3], [0]]> : tensor<2x1xi8>
  %y = qtensor.dequant_matmul %x, %q scales(%s : tensor<2x1xf32>) zero_points(%z : tensor<2x1xi8>) layout <ui4, block = [1, 0], packing = lsb_first> outs(%init : tensor<1x2xf32>) {qtensor.weight_name = "fc.weight"} : tensor<1x4xf32>, tensor<2x2xi8> -> tensor<1x2xf32>
  return %y : tensor<1x2xf32>
}
)mlir",
                                                        &ctx);
  ASSERT_TRUE(bool(module));
  auto weights = collectUnpackedWeights(*module);
  ASSERT_TRUE(bool(weights)) << llvm::toString(weights.takeError());
  ASSERT_EQ(weights->size(), 1u);
  const UnpackedWeight &w = weights->front();
  EXPECT_EQ(w.name, "fc.weight");
  EXPECT_EQ(w.rows, 2);
  EXPECT_EQ(w.cols, 4);
  EXPECT_EQ(w.groups, 1);
  EXPECT_EQ(w.codes, (std::vector<uint8_t>{0, 1, 2, 3, 4, 5, 6, 7}));
  EXPECT_EQ(w.scales, (std::vector<float>{0.5f, 0.25f}));
  EXPECT_EQ(w.zeros, (std::vector<int64_t>{3, 0}));
  EXPECT_EQ(w.groupIndex, (std::vector<int32_t>{0, 0, 0, 0}));
}
