//===- CPUKernelsTest.cpp - CPU kernels against the reference lowering ----===//
//
// Part of the quant-opt project, under the Apache License v2.0 with LLVM
// Exceptions.
//
//===----------------------------------------------------------------------===//
//
// Every layout the dequant_matmul kernel supports, with random codes,
// scales, zero-points and activations, is compiled twice, with
// mode=reference and mode=cpu-kernels (1 and 2 threads), and run on row
// counts that exercise every register tile and tail: results agree to 1e-5
// of the largest output (the kernels sum in a different order). The test
// also checks that the kernel replaced the product, so a silent fallback to
// the reference lowering cannot pass it.
//
//===----------------------------------------------------------------------===//

#include "quant/Conversion/Passes.h"
#include "quant/Dialect/QTensor/IR/QTensorOps.h"
#include "quant/Execution/JitExecutor.h"
#include "quant/InitAll.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Linalg/IR/LinalgInterfaces.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/DialectRegistry.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/Parser/Parser.h"
#include "mlir/Pass/PassManager.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/TargetParser/Host.h"

#include <gtest/gtest.h>

#include <cmath>
#include <numeric>
#include <random>

using namespace quantopt;

namespace {

struct KernelCase {
  const char *name;
  const char *format;  // "ui4", "si8", ...
  const char *packing; // "lsb_first", "msb_first", "none"
  int64_t bits;
  int64_t n, k;
  int64_t rowBlock, group; // block = [rowBlock, group]
  const char *scaleType;   // "f32", "f16", "bf16"
  const char *zeroType;    // nullptr: no zero-points
  bool leadingDims;        // input [2, M, K] instead of [M, K]
  bool flat = false;       // bitsandbytes' flat stream: block = [group]
  bool actOrder = false;   // a random group_index (GPTQ act-order)
};

const KernelCase kCases[] = {
    {"ui4_g32_zp", "ui4", "lsb_first", 4, 40, 128, 1, 32, "f32", "i8", false},
    {"si4_g128", "si4", "lsb_first", 4, 33, 256, 1, 128, "f32", nullptr, false},
    {"ui4_msb_channel_f16", "ui4", "msb_first", 4, 21, 96, 1, 0, "f16", "i8",
     true},
    {"si8_channel", "si8", "none", 8, 19, 48, 1, 0, "f32", nullptr, false},
    {"ui8_g64_fzero", "ui8", "none", 8, 24, 192, 1, 64, "bf16", "f32", false},
    {"ui2_g64_zp", "ui2", "lsb_first", 2, 17, 128, 1, 64, "f32", "i8", false},
    {"si2_msb_tensor", "si2", "msb_first", 2, 20, 64, 0, 0, "bf16", nullptr,
     false},
    // Ragged K: a shorter last group and a last partial load.
    {"ui4_g32_k172", "ui4", "lsb_first", 4, 64, 172, 1, 32, "f32", "i8", false},
    {"si4_channel_k100", "si4", "lsb_first", 4, 18, 100, 1, 0, "f16", nullptr,
     true},
    {"si8_channel_k172", "si8", "none", 8, 23, 172, 1, 0, "f32", nullptr,
     false},
    {"ui2_g64_k200", "ui2", "msb_first", 2, 9, 200, 1, 64, "f32", "i8", false},
    // Lookup codes (no int8 kernel).
    {"nf4_g64_msb", "nf4", "msb_first", 4, 40, 128, 1, 64, "f32", nullptr,
     false},
    {"fp4_channel_k100", "fp4", "lsb_first", 4, 18, 100, 1, 0, "bf16", nullptr,
     true},
    {"nf4_flat_g32", "nf4", "msb_first", 4, 21, 96, 1, 32, "f32", nullptr,
     false, true},
    {"ui4_flat_g64_zp", "ui4", "lsb_first", 4, 9, 192, 1, 64, "f32", "i8",
     false, true},
    // Codes repacked at compile time: act-order columns sorted into their
    // groups (the activations gathered to match), 3-, 5-, 6- and 7-bit
    // codes widened.
    {"ui4_g32_act_order", "ui4", "lsb_first", 4, 40, 160, 1, 32, "f16", "i8",
     true, false, true},
    {"si4_g64_act_order_k200", "si4", "msb_first", 4, 21, 200, 1, 64, "f32",
     nullptr, false, false, true},
    {"ui3_g32_zp", "ui3", "lsb_first", 3, 24, 128, 1, 32, "f32", "i8", false},
    {"si3_g64_act_order", "si3", "lsb_first", 3, 33, 192, 1, 64, "bf16",
     nullptr, false, false, true},
    {"ui2_unpacked_g32", "ui2", "none", 2, 17, 96, 1, 32, "f32", "i8", false},
    {"si2_g32", "si2", "lsb_first", 2, 18, 128, 1, 32, "f32", nullptr, false},
    {"ui4_msb_g16_zp", "ui4", "msb_first", 4, 20, 80, 1, 16, "f32", "i8",
     false},
    {"si5_channel_k100", "si5", "lsb_first", 5, 18, 100, 1, 0, "f32", nullptr,
     false},
    {"ui6_g64_zp", "ui6", "lsb_first", 6, 20, 128, 1, 64, "f16", "i8", true},
    {"si7_g32", "si7", "lsb_first", 7, 16, 96, 1, 32, "f32", nullptr, false},
    // FP8 codes (converted) and dynamic8 codes (a 256-entry table); no
    // int8 kernel.
    {"f8E4M3FN_channel", "f8E4M3FN", "none", 8, 24, 96, 1, 0, "f32", nullptr,
     false},
    {"f8E5M2_g32_k80", "f8E5M2", "none", 8, 19, 80, 1, 32, "bf16", nullptr,
     true},
    {"dynamic8_flat_g64", "dynamic8", "none", 8, 9, 128, 1, 64, "f32", nullptr,
     false, true},
};

bool isLookupFormat(const KernelCase &tc) {
  return !llvm::StringRef(tc.format).starts_with("ui") &&
         !llvm::StringRef(tc.format).starts_with("si");
}

/// The random act-order permutation of a case: the group of column
/// order[j] is j / group.
std::vector<int32_t> actOrderColumns(const KernelCase &tc) {
  std::vector<int32_t> order(tc.k);
  std::iota(order.begin(), order.end(), 0);
  std::mt19937 rng(unsigned(tc.k) * 31 + unsigned(tc.n));
  std::shuffle(order.begin(), order.end(), rng);
  return order;
}

std::string matrix(int64_t rows, int64_t cols,
                   llvm::function_ref<std::string(int64_t, int64_t)> value) {
  std::string s = "[";
  for (int64_t r = 0; r < rows; ++r) {
    s += r ? ", [" : "[";
    for (int64_t c = 0; c < cols; ++c)
      s += (c ? ", " : "") + value(r, c);
    s += "]";
  }
  return s + "]";
}

/// What compute=int8 multiplies instead of `x`: each row's groups of
/// `group` activations rounded to int8 (d = max|x| / 127, q = roundeven(x *
/// (127 / max|x|)) clamped to [-127, 127]) and scaled back, d * q.
/// With `order` (act-order), the groups are runs of the activations taken
/// in that column order.
HostArray roundedToInt8(const HostArray &x, int64_t k, int64_t group,
                        llvm::ArrayRef<int32_t> order = {}) {
  HostArray rounded = x;
  auto column = [&](int64_t i) { return order.empty() ? i : order[i]; };
  for (size_t row = 0; row < x.f32.size(); row += k) {
    for (int64_t begin = 0; begin < k; begin += group) {
      int64_t end = std::min(k, begin + group);
      float amax = 0.0f;
      for (int64_t i = begin; i < end; ++i)
        amax = std::max(amax, std::fabs(x.f32[row + column(i)]));
      float inverse = amax > 0.0f ? 127.0f / amax : 0.0f;
      float scale = amax / 127.0f;
      for (int64_t i = begin; i < end; ++i) {
        float q = std::nearbyint(x.f32[row + column(i)] * inverse);
        q = std::min(127.0f, std::max(-127.0f, q));
        rounded.f32[row + column(i)] = scale * q;
      }
    }
  }
  return rounded;
}

/// True when this host runs the compute=int8 kernels.
bool hostHasVNNI() {
  llvm::StringMap<bool> features = llvm::sys::getHostCPUFeatures();
  return features.lookup("avx512vnni") && features.lookup("avx512bw");
}

/// `rows` x `k` activations drawn from N(0, 1).
HostArray normalRows(int64_t rows, int64_t k, std::mt19937 &rng) {
  HostArray input;
  input.shape = {rows, k};
  input.f32.resize(rows * k);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  for (float &v : input.f32)
    v = normal(rng);
  return input;
}

/// Largest |expected| and largest |actual - expected| of one result.
std::pair<float, float> largestAndWorst(const HostArray &expected,
                                        const HostArray &actual) {
  float largest = 0.0f, worst = 0.0f;
  for (size_t e = 0; e < expected.f32.size(); ++e) {
    largest = std::max(largest, std::fabs(expected.f32[e]));
    worst = std::max(worst, std::fabs(actual.f32[e] - expected.f32[e]));
  }
  return {largest, worst};
}

/// A function @f(x: [rows?, K]) -> [rows?, N] holding one product with
/// random constant codes, scales and zero-points.
std::string buildModule(const KernelCase &tc, unsigned seed, float initValue) {
  std::mt19937 rng(seed);
  int64_t storageCols = (tc.k * tc.bits + 7) / 8;
  if (llvm::StringRef(tc.packing) == "none")
    storageCols = tc.k;
  std::string bytes(tc.n * storageCols, '\0');
  llvm::StringRef format(tc.format);
  for (char &c : bytes) {
    uint8_t byte = uint8_t(rng() & 0xff);
    // No NaN or infinite FP8 codes.
    if (format == "f8E4M3FN" && (byte & 0x7f) == 0x7f)
      byte ^= 1;
    if (format == "f8E5M2" && (byte & 0x7c) == 0x7c)
      byte &= 0xbf;
    // Unpacked sub-byte codes: the code in the low bits, the rest zero.
    if (llvm::StringRef(tc.packing) == "none" && tc.bits < 8)
      byte &= uint8_t((1u << tc.bits) - 1);
    c = char(byte);
  }
  int64_t scaleRows = tc.rowBlock == 0 ? 1 : tc.n;
  int64_t groups = tc.group == 0 ? 1 : (tc.k + tc.group - 1) / tc.group;
  std::uniform_real_distribution<float> scaleDist(0.01f, 0.1f);
  std::string scales = matrix(scaleRows, groups, [&](int64_t, int64_t) {
    return llvm::formatv("{0:e}", scaleDist(rng)).str();
  });
  std::string groupIndexOperand, groupIndexConst;
  if (tc.actOrder) {
    std::vector<int32_t> order = actOrderColumns(tc), groupOf(tc.k);
    for (int64_t j = 0; j < tc.k; ++j)
      groupOf[order[j]] = int32_t(j / tc.group);
    std::string values;
    for (int32_t g : groupOf)
      values += (values.empty() ? "" : ", ") + std::to_string(g);
    groupIndexOperand =
        llvm::formatv("group_index(%gi : tensor<{0}xi32>)", tc.k).str();
    groupIndexConst = llvm::formatv("%gi = arith.constant dense<[{0}]> : "
                                    "tensor<{1}xi32>",
                                    values, tc.k)
                          .str();
  }
  int64_t maxZero = (int64_t(1) << tc.bits) - 1;
  if (maxZero > 127)
    maxZero = 127;
  std::string zeros;
  if (tc.zeroType)
    zeros = matrix(scaleRows, groups, [&](int64_t, int64_t) {
      int64_t z = int64_t(rng() % (maxZero + 1));
      return std::string(tc.zeroType[0] == 'f' ? std::to_string(z) + ".0"
                                               : std::to_string(z));
    });
  // Any number of rows: one compilation serves every row count.
  std::string in = tc.leadingDims ? llvm::formatv("2x?x{0}xf32", tc.k).str()
                                  : llvm::formatv("?x{0}xf32", tc.k).str();
  std::string out = tc.leadingDims ? llvm::formatv("2x?x{0}xf32", tc.n).str()
                                   : llvm::formatv("?x{0}xf32", tc.n).str();
  std::string zeroOperand =
      tc.zeroType ? llvm::formatv("zero_points(%z : tensor<{0}x{1}x{2}>)",
                                  scaleRows, groups, tc.zeroType)
                        .str()
                  : std::string();
  std::string zeroConst =
      tc.zeroType ? llvm::formatv("%z = arith.constant dense<{0}> : "
                                  "tensor<{1}x{2}x{3}>",
                                  zeros, scaleRows, groups, tc.zeroType)
                        .str()
                  : std::string();
  // The flat stream of bitsandbytes: 1-D storage, scales and zero-points.
  std::string storageType = llvm::formatv("{0}x{1}xi8", tc.n, storageCols);
  std::string paramShape = llvm::formatv("{0}x{1}", scaleRows, groups);
  std::string block = llvm::formatv("{0}, {1}", tc.rowBlock, tc.group);
  if (tc.flat) {
    storageType = llvm::formatv("{0}xi8", tc.n * storageCols);
    paramShape = std::to_string(scaleRows * groups);
    block = std::to_string(tc.group);
    for (std::string *text : {&scales, &zeros}) {
      // Drop the inner brackets: [[a, b], [c, d]] -> [a, b, c, d].
      std::string flatText;
      for (char c : *text)
        if (c != '[' && c != ']')
          flatText += c;
      *text = text->empty() ? flatText : "[" + flatText + "]";
    }
    if (tc.zeroType) {
      zeroOperand = llvm::formatv("zero_points(%z : tensor<{0}x{1}>)",
                                  paramShape, tc.zeroType);
      zeroConst = llvm::formatv("%z = arith.constant dense<{0}> : "
                                "tensor<{1}x{2}>",
                                zeros, paramShape, tc.zeroType);
    }
  }
  zeroConst += "\n  " + groupIndexConst;
  zeroOperand += " " + groupIndexOperand;
  return llvm::formatv(R"(
func.func @f(%x: tensor<{0}>) -> tensor<{1}> {
  %q = arith.constant dense<"0x{2}"> : tensor<{3}>
  %s = arith.constant dense<{5}> : tensor<{6}x{8}>
  {9}
  %c0 = arith.constant {15:e} : f32
  %rowDim = arith.constant {16} : index
  %m = tensor.dim %x, %rowDim : tensor<{0}>
  %e = tensor.empty(%m) : tensor<{1}>
  %init = linalg.fill ins(%c0 : f32) outs(%e : tensor<{1}>) -> tensor<{1}>
  %y = qtensor.dequant_matmul %x, %q scales(%s : tensor<{6}x{8}>) {10}
         layout <{11}, block = [{12}], packing = {14}>
         outs(%init : tensor<{1}>) : tensor<{0}>, tensor<{3}>
         -> tensor<{1}>
  return %y : tensor<{1}>
}
)",
                       in, out, llvm::toHex(bytes), storageType, storageCols,
                       scales, paramShape, groups, tc.scaleType, zeroConst,
                       zeroOperand, tc.format, block, tc.group, tc.packing,
                       initValue, tc.leadingDims ? 1 : 0)
      .str();
}

class CPUKernelsTest : public ::testing::TestWithParam<KernelCase> {
protected:
  CPUKernelsTest() {
    mlir::DialectRegistry registry;
    quantopt::registerAllDialects(registry);
    quantopt::registerUpstreamDialects(registry);
    context.appendDialectRegistry(registry);
    context.loadAllAvailableDialects();
  }
  mlir::MLIRContext context;

  /// Quantized products left after --convert-qtensor-to-cpu-kernels on a
  /// clone of `module` (-1 if the pass fails).
  /// Quantized products left after the pass, and the number of int8
  /// kernel functions it created.
  int productsLeftByKernelPass(
      mlir::ModuleOp module,
      mlir::qtensor::KernelCompute compute = mlir::qtensor::KernelCompute::F32,
      int *int8Kernels = nullptr, int *prepackedKernels = nullptr) {
    mlir::OwningOpRef<mlir::ModuleOp> clone(module.clone());
    mlir::PassManager pm(&context);
    mlir::qtensor::ConvertQTensorToCPUKernelsPassOptions options;
    options.compute = compute;
    pm.addPass(mlir::qtensor::createConvertQTensorToCPUKernelsPass(options));
    if (mlir::failed(pm.run(*clone)))
      return -1;
    int remaining = 0;
    clone->walk([&](mlir::Operation *op) {
      remaining +=
          mlir::isa<mlir::qtensor::DequantMatmulOp, mlir::qtensor::GGMLMatmulOp,
                    mlir::qtensor::QuantizedMatmulOp>(op);
      if (auto func = mlir::dyn_cast<mlir::func::FuncOp>(op)) {
        bool entry = !func.getSymName().ends_with("_task") &&
                     !func.getSymName().ends_with("_pack");
        if (entry && int8Kernels)
          *int8Kernels += func.getSymName().contains("_int8");
        if (entry && prepackedKernels)
          *prepackedKernels += func.getSymName().contains("_int8_prepacked");
      }
    });
    return remaining;
  }

  /// Compiles `module` with the reference lowering and with the kernels at
  /// 1 and 2 threads.
  void compileWithAndWithoutKernels(
      mlir::ModuleOp module, std::unique_ptr<JitModule> &reference,
      std::vector<std::unique_ptr<JitModule>> &kernels) {
    JitOptions referenceOptions;
    referenceOptions.products = mlir::qtensor::ProductLowering::Reference;
    auto compiledReference = JitModule::compile(module, referenceOptions);
    ASSERT_TRUE(bool(compiledReference))
        << llvm::toString(compiledReference.takeError());
    reference = std::move(*compiledReference);
    for (unsigned threads : {1u, 2u}) {
      JitOptions options;
      options.threads = threads;
      auto kernel = JitModule::compile(module, options);
      ASSERT_TRUE(bool(kernel)) << llvm::toString(kernel.takeError());
      kernels.push_back(std::move(*kernel));
    }
  }

  /// Compiles `module` with compute=int8 (1 and 2 threads, and without
  /// prepacking unless only the prepacked weights have an int8 kernel) and
  /// checks it against the reference lowering run on the int8-rounded
  /// activations.
  void checkInt8Kernels(mlir::ModuleOp module, int64_t k, int64_t actGroup,
                        llvm::ArrayRef<int64_t> rowCounts, bool leadingDims,
                        bool prepacked = true, bool onlyPrepacked = false,
                        llvm::ArrayRef<int32_t> actOrder = {}) {
    int int8Kernels = 0, prepackedKernels = 0;
    EXPECT_EQ(productsLeftByKernelPass(module,
                                       mlir::qtensor::KernelCompute::Int8,
                                       &int8Kernels, &prepackedKernels),
              0);
    EXPECT_EQ(int8Kernels, 1) << "the int8 kernel did not take the product";
    EXPECT_EQ(prepackedKernels, prepacked ? 1 : 0)
        << "constant weights not prepacked as expected";
    JitOptions referenceOptions;
    referenceOptions.products = mlir::qtensor::ProductLowering::Reference;
    auto reference = JitModule::compile(module, referenceOptions);
    ASSERT_TRUE(bool(reference)) << llvm::toString(reference.takeError());
    std::vector<std::unique_ptr<JitModule>> kernels;
    for (auto [threads, prepack] :
         {std::pair{1u, true}, std::pair{2u, true}, std::pair{2u, false}}) {
      if (onlyPrepacked && !prepack)
        continue;
      JitOptions options;
      options.threads = threads;
      options.compute = mlir::qtensor::KernelCompute::Int8;
      options.prepackInt8 = prepack;
      auto kernel = JitModule::compile(module, options);
      ASSERT_TRUE(bool(kernel)) << llvm::toString(kernel.takeError());
      kernels.push_back(std::move(*kernel));
    }
    for (int64_t rows : rowCounts) {
      SCOPED_TRACE(llvm::formatv("int8, {0} rows", rows).str());
      HostArray input;
      input.shape = {rows, k};
      if (leadingDims)
        input.shape.insert(input.shape.begin(), 2);
      input.f32.resize(input.numElements());
      std::mt19937 rng(unsigned(rows) * 104729);
      std::normal_distribution<float> normal(0.0f, 1.0f);
      for (float &v : input.f32)
        v = normal(rng);
      // One all-zero group (scale 0, codes 0), while other outputs stay
      // nonzero.
      if (actGroup < k || rows > 1)
        std::fill_n(input.f32.begin(), std::min(actGroup, k), 0.0f);
      HostArray rounded = roundedToInt8(input, k, actGroup, actOrder);
      auto expected = (*reference)->call("f", {&rounded});
      ASSERT_TRUE(bool(expected)) << llvm::toString(expected.takeError());
      for (auto [i, kernel] : llvm::enumerate(kernels)) {
        SCOPED_TRACE(llvm::formatv("int8 build {0}", i).str());
        auto actual = kernel->call("f", {&input});
        ASSERT_TRUE(bool(actual)) << llvm::toString(actual.takeError());
        auto [largest, worst] = largestAndWorst((*expected)[0], (*actual)[0]);
        ASSERT_GT(largest, 0.0f);
        EXPECT_LE(worst, 1e-5f * largest);
      }
    }
  }
};

TEST_P(CPUKernelsTest, MatchesReferenceLowering) {
  const KernelCase &tc = GetParam();
  // A nonzero init, which the kernels add to, and a zero one, which they
  // overwrite.
  for (float initValue : {0.25f, 0.0f}) {
    SCOPED_TRACE(llvm::formatv("init {0}", initValue).str());
    std::string text = buildModule(tc, /*seed=*/1, initValue);
    auto module = mlir::parseSourceString<mlir::ModuleOp>(text, &context);
    ASSERT_TRUE(module) << text;

    // The kernel pass must take the product.
    EXPECT_EQ(productsLeftByKernelPass(*module), 0)
        << "no kernel for " << tc.name;

    std::unique_ptr<JitModule> reference;
    std::vector<std::unique_ptr<JitModule>> kernels;
    ASSERT_NO_FATAL_FAILURE(
        compileWithAndWithoutKernels(*module, reference, kernels));
    if (isLookupFormat(tc)) {
      // The portable gather next to the host's vpermps.
      JitOptions options;
      options.isa = mlir::qtensor::KernelISA::Generic;
      auto generic = JitModule::compile(*module, options);
      ASSERT_TRUE(bool(generic)) << llvm::toString(generic.takeError());
      kernels.push_back(std::move(*generic));
    }

    // Rows exercising every register tile and tail of both the streaming
    // (< 48 rows) and the panel kernels.
    for (int64_t rows : {1, 3, 4, 9, 37, 49, 64}) {
      SCOPED_TRACE(llvm::formatv("{0} rows", rows).str());
      std::vector<int64_t> inShape{rows, tc.k};
      if (tc.leadingDims)
        inShape.insert(inShape.begin(), 2);
      HostArray input;
      input.shape = inShape;
      input.f32.resize(input.numElements());
      std::mt19937 rng(unsigned(rows) * 7919);
      std::normal_distribution<float> normal(0.0f, 1.0f);
      for (float &v : input.f32)
        v = normal(rng);

      auto expected = reference->call("f", {&input});
      ASSERT_TRUE(bool(expected)) << llvm::toString(expected.takeError());
      float largest = 0.0f;
      for (float v : (*expected)[0].f32)
        largest = std::max(largest, std::fabs(v));
      ASSERT_GT(largest, 0.0f);

      for (auto [i, kernel] : llvm::enumerate(kernels)) {
        SCOPED_TRACE(llvm::formatv("kernel build {0}", i).str());
        auto actual = kernel->call("f", {&input});
        ASSERT_TRUE(bool(actual)) << llvm::toString(actual.takeError());
        ASSERT_EQ((*actual)[0].shape, (*expected)[0].shape);
        float worst = 0.0f;
        for (size_t e = 0; e < (*actual)[0].f32.size(); ++e)
          worst = std::max(
              worst, std::fabs((*actual)[0].f32[e] - (*expected)[0].f32[e]));
        EXPECT_LE(worst, 1e-5f * largest) << tc.name;
      }
    }
    if (hostHasVNNI() && !isLookupFormat(tc))
      checkInt8Kernels(*module, tc.k, tc.group == 0 ? tc.k : tc.group,
                       {1, 3, 4, 9, 49, 64}, tc.leadingDims,
                       /*prepacked=*/!tc.flat, /*onlyPrepacked=*/false,
                       tc.actOrder ? actOrderColumns(tc)
                                   : std::vector<int32_t>());
  }
}

INSTANTIATE_TEST_SUITE_P(Layouts, CPUKernelsTest, ::testing::ValuesIn(kCases),
                         [](const auto &info) {
                           return std::string(info.param.name);
                         });

/// ggml q4_0 / q8_0 / q4_K blocks with random codes and finite random f16
/// scales.
struct GGMLCase {
  const char *type;
  int64_t blockBytes, n, k;
};

class CPUKernelsGGMLTest : public CPUKernelsTest {};

TEST_F(CPUKernelsGGMLTest, BlocksMatchReferenceLowering) {
  // blockBytes 0: 16-bit float weights (K need not be a multiple of 32).
  const GGMLCase cases[] = {
      {"q4_0", 18, 37, 64},   {"q4_0", 18, 70, 160},  {"q8_0", 34, 37, 96},
      {"q4_K", 144, 37, 256}, {"q4_1", 20, 41, 96},   {"q4_K", 144, 70, 512},
      {"q6_K", 210, 35, 512}, {"q5_0", 22, 33, 128},  {"q5_1", 24, 34, 96},
      {"q5_K", 176, 36, 512}, {"q3_K", 110, 35, 512}, {"q2_K", 84, 34, 256},
      {"f16", 0, 40, 172},    {"bf16", 0, 33, 100}};
  for (const GGMLCase &tc : cases) {
    SCOPED_TRACE(llvm::formatv("{0} {1}x{2}", tc.type, tc.n, tc.k).str());
    std::mt19937 rng(5);
    bool half = tc.blockBytes == 0;
    int64_t blockCodes = tc.type[3] == 'K' ? 256 : 32;
    int64_t rowBytes = half ? 2 * tc.k : tc.k / blockCodes * tc.blockBytes;
    std::string bytes(tc.n * rowBytes, '\0');
    for (int64_t i = 0; half && i < tc.n * rowBytes; i += 2) {
      // Normal values of either sign, about 2^-7 .. 2^3.
      uint16_t bits =
          tc.type[0] == 'f'
              ? uint16_t(((8 + rng() % 11) << 10) | (rng() & 0x3ff))
              : uint16_t(((120 + rng() % 11) << 7) | (rng() & 0x7f));
      if (rng() & 1)
        bits |= 0x8000;
      bytes[i] = char(bits & 0xff);
      bytes[i + 1] = char(bits >> 8);
    }
    for (int64_t i = 0; !half && i < tc.n * rowBytes; ++i) {
      int64_t inBlock = i % rowBytes % tc.blockBytes;
      // Where each block keeps its f16 scales (and mins): q4_K, q5_K,
      // q4_1 and q5_1 start with two, q2_K ends with two, q3_K and q6_K
      // end with one, the others start with one.
      llvm::StringRef type(tc.type);
      std::vector<int64_t> halvesAt{0};
      if (llvm::is_contained({"q4_K", "q5_K", "q4_1", "q5_1"}, type))
        halvesAt = {0, 2};
      else if (type == "q2_K")
        halvesAt = {80, 82};
      else if (type == "q3_K" || type == "q6_K")
        halvesAt = {tc.blockBytes - 2};
      if (llvm::is_contained(halvesAt, inBlock)) {
        // An f16 of exponent field 5..20: normal, about 2^-10 .. 2^5.
        uint16_t half = uint16_t(((5 + rng() % 16) << 10) | (rng() & 0x3ff));
        if (rng() & 1)
          half |= 0x8000;
        bytes[i] = char(half & 0xff);
        bytes[i + 1] = char(half >> 8);
        ++i;
        continue;
      }
      bytes[i] = char(rng() & 0xff);
    }
    for (float initValue : {0.5f, 0.0f}) {
      std::string text = llvm::formatv(R"(
func.func @f(%x: tensor<?x{0}xf32>) -> tensor<?x{1}xf32> {
  %q = arith.constant dense<"0x{2}"> : tensor<{1}x{3}xi8>
  %c0 = arith.constant 0 : index
  %m = tensor.dim %x, %c0 : tensor<?x{0}xf32>
  %v = arith.constant {4:e} : f32
  %e = tensor.empty(%m) : tensor<?x{1}xf32>
  %init = linalg.fill ins(%v : f32) outs(%e : tensor<?x{1}xf32>) -> tensor<?x{1}xf32>
  %y = qtensor.ggml_matmul %x, %q as {5} outs(%init : tensor<?x{1}xf32>)
         : tensor<?x{0}xf32>, tensor<{1}x{3}xi8> -> tensor<?x{1}xf32>
  return %y : tensor<?x{1}xf32>
}
)",
                                       tc.k, tc.n, llvm::toHex(bytes), rowBytes,
                                       initValue, tc.type)
                             .str();
      auto module = mlir::parseSourceString<mlir::ModuleOp>(text, &context);
      ASSERT_TRUE(module);
      EXPECT_EQ(productsLeftByKernelPass(*module), 0)
          << "no kernel for " << tc.type;
      JitOptions referenceOptions;
      referenceOptions.products = mlir::qtensor::ProductLowering::Reference;
      auto reference = JitModule::compile(*module, referenceOptions);
      ASSERT_TRUE(bool(reference)) << llvm::toString(reference.takeError());
      JitOptions kernelOptions;
      kernelOptions.threads = 2;
      auto kernel = JitModule::compile(*module, kernelOptions);
      ASSERT_TRUE(bool(kernel)) << llvm::toString(kernel.takeError());
      // K-quant blocks also passed in as an argument: the kernel unpacks
      // constant q4_K / q5_K sub-block parameters at compile time, others
      // in the kernel.
      bool kQuant = tc.type[3] == 'K';
      std::unique_ptr<JitModule> blocksPassedIn;
      HostArray blocks;
      if (kQuant) {
        std::string argText = text;
        size_t at = argText.find("  %q = arith.constant");
        argText.erase(at, argText.find('\n', at) + 1 - at);
        std::string signature =
            llvm::formatv("(%x: tensor<?x{0}xf32>", tc.k).str();
        argText.replace(
            argText.find(signature), signature.size(),
            llvm::formatv("(%x: tensor<?x{0}xf32>, %q: tensor<{1}x{2}xi8>",
                          tc.k, tc.n, rowBytes)
                .str());
        auto argModule =
            mlir::parseSourceString<mlir::ModuleOp>(argText, &context);
        ASSERT_TRUE(argModule) << argText;
        EXPECT_EQ(productsLeftByKernelPass(*argModule), 0);
        auto compiled = JitModule::compile(*argModule, kernelOptions);
        ASSERT_TRUE(bool(compiled)) << llvm::toString(compiled.takeError());
        blocksPassedIn = std::move(*compiled);
        blocks.kind = HostArray::Kind::I8;
        blocks.shape = {tc.n, rowBytes};
        blocks.i8.assign(bytes.begin(), bytes.end());
      }
      for (int64_t rows : {1, 5, 50}) {
        SCOPED_TRACE(llvm::formatv("{0} rows", rows).str());
        HostArray input = normalRows(rows, tc.k, rng);
        auto expected = (*reference)->call("f", {&input});
        auto actual = (*kernel)->call("f", {&input});
        ASSERT_TRUE(bool(expected) && bool(actual));
        if (blocksPassedIn) {
          auto unpacked = blocksPassedIn->call("f", {&input, &blocks});
          ASSERT_TRUE(bool(unpacked)) << llvm::toString(unpacked.takeError());
          auto [largest, worst] =
              largestAndWorst((*expected)[0], (*unpacked)[0]);
          EXPECT_LE(worst, 1e-5f * largest) << "blocks passed in";
        }
        float largest = 0.0f, worst = 0.0f;
        for (size_t i = 0; i < (*expected)[0].f32.size(); ++i) {
          largest = std::max(largest, std::fabs((*expected)[0].f32[i]));
          worst = std::max(
              worst, std::fabs((*actual)[0].f32[i] - (*expected)[0].f32[i]));
        }
        ASSERT_GT(largest, 0.0f);
        EXPECT_LE(worst, 1e-5f * largest)
            << "first outputs: reference " << (*expected)[0].f32[0] << ", "
            << (*expected)[0].f32[1] << "; kernel " << (*actual)[0].f32[0]
            << ", " << (*actual)[0].f32[1];
      }
      // q4_0 and q8_0 have an int8 kernel; the others only with prepacked
      // weights (their int8 groups are the blocks or sub-blocks: 32 codes,
      // 16 for q2_K, q3_K and q6_K).
      llvm::StringRef type(tc.type);
      bool onlyPrepacked = llvm::is_contained(
          {"q4_1", "q5_0", "q5_1", "q2_K", "q3_K", "q4_K", "q5_K", "q6_K"},
          type);
      bool sixteen = llvm::is_contained({"q2_K", "q3_K", "q6_K"}, type);
      if (hostHasVNNI() && (type == "q4_0" || type == "q8_0" || onlyPrepacked))
        checkInt8Kernels(*module, tc.k, sixteen ? 16 : 32, {1, 5, 50}, false,
                         /*prepacked=*/true, onlyPrepacked);
    }
  }
}

/// W8A8: dynamic_quantize of the activations (per token or per tensor)
/// and quantized_matmul with constant int8 weights and per-channel or
/// grouped scales. The int8 kernel computes the reference's integer sums
/// and its epilogue in the same order: the results are bit-identical.
TEST_F(CPUKernelsGGMLTest, W8A8MatchesReferenceBitForBit) {
  if (!hostHasVNNI())
    GTEST_SKIP() << "needs avx512vnni";
  struct Case {
    int64_t n, k, groups;
    bool perToken;
  };
  for (Case tc : {Case{40, 128, 1, true}, Case{33, 256, 4, true},
                  Case{20, 96, 3, false}}) {
    SCOPED_TRACE(llvm::formatv("{0}x{1}, {2} groups, per {3}", tc.n, tc.k,
                               tc.groups, tc.perToken ? "token" : "tensor")
                     .str());
    std::mt19937 rng(11);
    std::string weights(tc.n * tc.k, '\0');
    for (char &c : weights)
      c = char(int(rng() % 255) - 127);
    std::uniform_real_distribution<float> scaleDist(0.001f, 0.02f);
    std::string scales = matrix(tc.n, tc.groups, [&](int64_t, int64_t) {
      return llvm::formatv("{0:e}", scaleDist(rng)).str();
    });
    std::string scaleType = tc.perToken ? "?x1xf32" : "1x1xf32";
    for (float initValue : {0.5f, 0.0f}) {
      std::string text = llvm::formatv(R"(
func.func @f(%x: tensor<?x{0}xf32>) -> tensor<?x{1}xf32> {
  %q, %s = qtensor.dynamic_quantize %x : tensor<?x{0}xf32> -> tensor<?x{0}xi8>, tensor<{5}>
  %w = arith.constant dense<"0x{2}"> : tensor<{1}x{0}xi8>
  %ws = arith.constant dense<{3}> : tensor<{1}x{6}xf32>
  %c0 = arith.constant 0 : index
  %m = tensor.dim %x, %c0 : tensor<?x{0}xf32>
  %v = arith.constant {4:e} : f32
  %e = tensor.empty(%m) : tensor<?x{1}xf32>
  %init = linalg.fill ins(%v : f32) outs(%e : tensor<?x{1}xf32>) -> tensor<?x{1}xf32>
  %y = qtensor.quantized_matmul %q, %s, %w, %ws outs(%init : tensor<?x{1}xf32>)
         : tensor<?x{0}xi8>, tensor<{5}>, tensor<{1}x{0}xi8>, tensor<{1}x{6}xf32>
           -> tensor<?x{1}xf32>
  return %y : tensor<?x{1}xf32>
}
)",
                                       tc.k, tc.n, llvm::toHex(weights), scales,
                                       initValue, scaleType, tc.groups)
                             .str();
      auto module = mlir::parseSourceString<mlir::ModuleOp>(text, &context);
      ASSERT_TRUE(module) << text;
      int int8Kernels = 0;
      EXPECT_EQ(productsLeftByKernelPass(
                    *module, mlir::qtensor::KernelCompute::Int8, &int8Kernels),
                0);
      EXPECT_EQ(int8Kernels, 1) << "the int8 kernel did not take the product";
      JitOptions referenceOptions;
      referenceOptions.products = mlir::qtensor::ProductLowering::Reference;
      auto reference = JitModule::compile(*module, referenceOptions);
      ASSERT_TRUE(bool(reference)) << llvm::toString(reference.takeError());
      for (unsigned threads : {1u, 2u}) {
        JitOptions options;
        options.threads = threads;
        options.compute = mlir::qtensor::KernelCompute::Int8;
        auto kernel = JitModule::compile(*module, options);
        ASSERT_TRUE(bool(kernel)) << llvm::toString(kernel.takeError());
        for (int64_t rows : {1, 5, 50}) {
          SCOPED_TRACE(
              llvm::formatv("{0} rows, {1} threads", rows, threads).str());
          HostArray input = normalRows(rows, tc.k, rng);
          auto expected = (*reference)->call("f", {&input});
          auto actual = (*kernel)->call("f", {&input});
          ASSERT_TRUE(bool(expected) && bool(actual));
          int mismatches = 0;
          for (size_t i = 0; i < (*expected)[0].f32.size(); ++i)
            mismatches += (*expected)[0].f32[i] != (*actual)[0].f32[i];
          EXPECT_EQ(mismatches, 0)
              << "first outputs: reference " << (*expected)[0].f32[0]
              << ", kernel " << (*actual)[0].f32[0];
        }
      }
    }
  }
}

/// A float product shape: the importers' generic (weight [N, K], input
/// [2, rows, K]), linalg.matmul with a constant [K, N] weight (transposed
/// at compile time), the same with the weight a transpose of [N, K], and a
/// matmul whose [K, N] weight is an argument (read through a panel copy).
/// ImporterGenericBF16 is the importers' generic over a bf16 weight widened
/// in its body (a Hugging Face BF16 matrix as the weight passes expand it).
enum class FloatForm {
  ImporterGeneric,
  ImporterGenericBF16,
  MatmulKN,
  MatmulTransposed,
  Argument
};

std::string floatProductModule(FloatForm form, int64_t n, int64_t k,
                               float initValue, unsigned seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  bool kn = form == FloatForm::MatmulKN;
  std::string weights = matrix(kn ? k : n, kn ? n : k, [&](int64_t, int64_t) {
    return llvm::formatv("{0:e}", normal(rng)).str();
  });
  std::string body;
  switch (form) {
  case FloatForm::ImporterGeneric:
  case FloatForm::ImporterGenericBF16: {
    bool bf16 = form == FloatForm::ImporterGenericBF16;
    return llvm::formatv(R"(
func.func @f(%x: tensor<2x?x{1}xf32>) -> tensor<2x?x{0}xf32> {
  %w = arith.constant dense<{2}> : tensor<{0}x{1}x{4}>
  %c1 = arith.constant 1 : index
  %m = tensor.dim %x, %c1 : tensor<2x?x{1}xf32>
  %v = arith.constant {3:e} : f32
  %e = tensor.empty(%m) : tensor<2x?x{0}xf32>
  %init = linalg.fill ins(%v : f32) outs(%e : tensor<2x?x{0}xf32>) -> tensor<2x?x{0}xf32>
  %y = linalg.generic {{indexing_maps = [affine_map<(b, s, n, k) -> (b, s, k)>,
                                        affine_map<(b, s, n, k) -> (n, k)>,
                                        affine_map<(b, s, n, k) -> (b, s, n)>],
                       iterator_types = ["parallel", "parallel", "parallel", "reduction"]}
      ins(%x, %w : tensor<2x?x{1}xf32>, tensor<{0}x{1}x{4}>) outs(%init : tensor<2x?x{0}xf32>) {{
  ^bb0(%a: f32, %b: {4}, %o: f32):
    {5}
    %s = arith.addf %o, %p : f32
    linalg.yield %s : f32
  } -> tensor<2x?x{0}xf32>
  return %y : tensor<2x?x{0}xf32>
}
)",
                         n, k, weights, initValue, bf16 ? "bf16" : "f32",
                         bf16 ? "%bw = arith.extf %b : bf16 to f32\n"
                                "    %p = arith.mulf %a, %bw : f32"
                              : "%p = arith.mulf %a, %b : f32")
        .str();
  }
  case FloatForm::MatmulKN:
    body = llvm::formatv("%w = arith.constant dense<{0}> : tensor<{1}x{2}xf32>",
                         weights, k, n);
    break;
  case FloatForm::MatmulTransposed:
    body =
        llvm::formatv(R"(%nk = arith.constant dense<{0}> : tensor<{2}x{1}xf32>
  %te = tensor.empty() : tensor<{1}x{2}xf32>
  %w = linalg.transpose ins(%nk : tensor<{2}x{1}xf32>) outs(%te : tensor<{1}x{2}xf32>) permutation = [1, 0])",
                      weights, k, n);
    break;
  case FloatForm::Argument:
    break;
  }
  std::string weightArg =
      form == FloatForm::Argument
          ? llvm::formatv(", %w: tensor<{0}x{1}xf32>", k, n).str()
          : "";
  return llvm::formatv(R"(
func.func @f(%x: tensor<?x{1}xf32>{4}) -> tensor<?x{0}xf32> {
  {2}
  %c0 = arith.constant 0 : index
  %m = tensor.dim %x, %c0 : tensor<?x{1}xf32>
  %v = arith.constant {3:e} : f32
  %e = tensor.empty(%m) : tensor<?x{0}xf32>
  %init = linalg.fill ins(%v : f32) outs(%e : tensor<?x{0}xf32>) -> tensor<?x{0}xf32>
  %y = linalg.matmul ins(%x, %w : tensor<?x{1}xf32>, tensor<{1}x{0}xf32>)
                     outs(%init : tensor<?x{0}xf32>) -> tensor<?x{0}xf32>
  return %y : tensor<?x{0}xf32>
}
)",
                       n, k, body, initValue, weightArg)
      .str();
}

/// Every FP8 code, NaN and infinities included, decodes as the format's
/// table says: channel c holds code c throughout, and one-hot activation
/// rows pick single weights (1 * w plus zeros, exact in any order).
TEST_F(CPUKernelsTest, EveryFP8CodeDecodesAsItsTable) {
  constexpr int64_t kChannels = 256, kDepth = 16;
  std::string codes;
  for (int64_t c = 0; c < kChannels; ++c)
    for (int64_t i = 0; i < kDepth; ++i)
      codes += llvm::formatv("{0:X-2}", c).str();
  for (const char *format : {"f8E4M3FN", "f8E5M2"}) {
    SCOPED_TRACE(format);
    std::string text = llvm::formatv(R"(
func.func @f(%x: tensor<?x16xf32>) -> tensor<?x256xf32> {
  %q = arith.constant dense<"0x{0}"> : tensor<256x16xi8>
  %s = arith.constant dense<1.0> : tensor<256x1xf32>
  %c0 = arith.constant 0 : index
  %zero = arith.constant 0.0 : f32
  %m = tensor.dim %x, %c0 : tensor<?x16xf32>
  %e = tensor.empty(%m) : tensor<?x256xf32>
  %init = linalg.fill ins(%zero : f32) outs(%e : tensor<?x256xf32>) -> tensor<?x256xf32>
  %y = qtensor.dequant_matmul %x, %q scales(%s : tensor<256x1xf32>)
         layout <{1}, block = [1, 0], packing = none>
         outs(%init : tensor<?x256xf32>) : tensor<?x16xf32>, tensor<256x16xi8>
         -> tensor<?x256xf32>
  return %y : tensor<?x256xf32>
}
)",
                                     codes, format)
                           .str();
    auto module = mlir::parseSourceString<mlir::ModuleOp>(text, &context);
    ASSERT_TRUE(module);
    EXPECT_EQ(productsLeftByKernelPass(*module), 0);
    std::unique_ptr<JitModule> reference;
    std::vector<std::unique_ptr<JitModule>> kernels;
    ASSERT_NO_FATAL_FAILURE(
        compileWithAndWithoutKernels(*module, reference, kernels));
    // The streaming kernel (1 row) and the panel (49 rows).
    for (int64_t rows : {1, 49}) {
      HostArray input;
      input.shape = {rows, kDepth};
      input.f32.assign(rows * kDepth, 0.0f);
      for (int64_t r = 0; r < rows; ++r)
        input.f32[r * kDepth + r % kDepth] = 1.0f;
      auto expected = reference->call("f", {&input});
      ASSERT_TRUE(bool(expected)) << llvm::toString(expected.takeError());
      for (auto &kernel : kernels) {
        auto actual = kernel->call("f", {&input});
        ASSERT_TRUE(bool(actual)) << llvm::toString(actual.takeError());
        int nans = 0;
        for (size_t e = 0; e < (*expected)[0].f32.size(); ++e) {
          float want = (*expected)[0].f32[e], got = (*actual)[0].f32[e];
          nans += std::isnan(want);
          ASSERT_EQ(std::isnan(want), std::isnan(got)) << "element " << e;
          if (!std::isnan(want))
            ASSERT_EQ(want, got) << "element " << e;
        }
        EXPECT_GT(nans, 0) << "no NaN code was exercised";
      }
    }
  }
}

TEST_F(CPUKernelsTest, FloatProductsMatchLinalgLoops) {
  struct Shape {
    int64_t n, k;
  };
  // N not a multiple of the 32-channel task, K not of the 16-lane load.
  for (Shape shape : {Shape{40, 100}, Shape{64, 48}}) {
    for (FloatForm form : {FloatForm::ImporterGeneric,
                           FloatForm::ImporterGenericBF16, FloatForm::MatmulKN,
                           FloatForm::MatmulTransposed, FloatForm::Argument}) {
      for (float initValue : {0.25f, 0.0f}) {
        SCOPED_TRACE(llvm::formatv("{0}x{1}, form {2}, init {3}", shape.n,
                                   shape.k, int(form), initValue)
                         .str());
        std::string text =
            floatProductModule(form, shape.n, shape.k, initValue, 3);
        auto module = mlir::parseSourceString<mlir::ModuleOp>(text, &context);
        ASSERT_TRUE(module);
        // The kernel pass must take the product.
        mlir::OwningOpRef<mlir::ModuleOp> clone(module->clone());
        mlir::PassManager pm(&context);
        pm.addPass(mlir::qtensor::createConvertFloatMatmulToCPUKernelsPass());
        ASSERT_TRUE(mlir::succeeded(pm.run(*clone)));
        int contractions = 0;
        clone->walk([&](mlir::linalg::LinalgOp op) {
          contractions += mlir::linalg::isaContractionOpInterface(op);
        });
        EXPECT_EQ(contractions, 0);

        std::unique_ptr<JitModule> reference;
        std::vector<std::unique_ptr<JitModule>> kernels;
        ASSERT_NO_FATAL_FAILURE(
            compileWithAndWithoutKernels(*module, reference, kernels));
        bool generic = form == FloatForm::ImporterGeneric ||
                       form == FloatForm::ImporterGenericBF16;
        for (int64_t rows : {1, 3, 4, 5, 9, 37, 49, 53, 64}) {
          SCOPED_TRACE(llvm::formatv("{0} rows", rows).str());
          std::mt19937 rng(unsigned(rows) * 31);
          std::normal_distribution<float> normal(0.0f, 1.0f);
          HostArray input, weight;
          input.shape = {rows, shape.k};
          if (generic)
            input.shape.insert(input.shape.begin(), 2);
          input.f32.resize(input.numElements());
          for (float &v : input.f32)
            v = normal(rng);
          weight.shape = {shape.k, shape.n};
          weight.f32.resize(weight.numElements());
          for (float &v : weight.f32)
            v = normal(rng);
          std::vector<const HostArray *> args{&input};
          if (form == FloatForm::Argument)
            args.push_back(&weight);
          auto expected = reference->call("f", args);
          ASSERT_TRUE(bool(expected)) << llvm::toString(expected.takeError());
          for (auto [i, kernel] : llvm::enumerate(kernels)) {
            SCOPED_TRACE(llvm::formatv("{0} threads", i + 1).str());
            auto actual = kernel->call("f", args);
            ASSERT_TRUE(bool(actual)) << llvm::toString(actual.takeError());
            ASSERT_EQ((*actual)[0].shape, (*expected)[0].shape);
            auto [largest, worst] =
                largestAndWorst((*expected)[0], (*actual)[0]);
            ASSERT_GT(largest, 0.0f);
            EXPECT_LE(worst, 1e-5f * largest);
          }
        }
      }
    }
  }
}

TEST(CPUKernelsOptions, ZeroThreadsIsAnError) {
  mlir::DialectRegistry registry;
  quantopt::registerAllDialects(registry);
  quantopt::registerUpstreamDialects(registry);
  mlir::MLIRContext context(registry);
  context.loadAllAvailableDialects();
  auto module = mlir::parseSourceString<mlir::ModuleOp>(
      "func.func @f(%x: tensor<2xf32>) -> tensor<2xf32> { return %x : "
      "tensor<2xf32> }",
      &context);
  ASSERT_TRUE(module);
  JitOptions options;
  options.threads = 0;
  auto compiled = JitModule::compile(*module, options);
  ASSERT_FALSE(bool(compiled));
  EXPECT_NE(llvm::toString(compiled.takeError()).find("at least 1, got 0"),
            std::string::npos);
}

} // namespace
