//===- JitExecutor.cpp - The CPU JIT executor -----------------------------===//
//
// Part of the quant-opt project, under the Apache License v2.0 with LLVM
// Exceptions.
//
//===----------------------------------------------------------------------===//

#include "quant/Execution/JitExecutor.h"
#include "quant/Conversion/Passes.h"
#include "quant/Runtime/CudaRuntime.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/ExecutionEngine/ExecutionEngine.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Target/LLVMIR/Dialect/Builtin/BuiltinToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Dialect/LLVMIR/LLVMToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Dialect/OpenMP/OpenMPToLLVMIRTranslation.h"
#include "llvm/ExecutionEngine/Orc/JITTargetMachineBuilder.h"
#include "llvm/IR/Module.h"
#include "llvm/Passes/PassBuilder.h"
#include "llvm/Support/TargetSelect.h"
#include "llvm/Target/TargetMachine.h"
#include "llvm/TargetParser/Host.h"

#include <cstdlib>
#include <malloc.h>
#include <mutex>

using namespace mlir;

/// The widest instruction set of the CPU kernels that this CPU runs.
static qtensor::KernelISA hostKernelISA() {
  llvm::StringMap<bool> features = llvm::sys::getHostCPUFeatures();
  if (features.lookup("avx512f"))
    return qtensor::KernelISA::AVX512;
  if (features.lookup("avx2"))
    return qtensor::KernelISA::AVX2;
  return qtensor::KernelISA::Generic;
}

/// An error when the kernels in `module` call x86 intrinsics whose CPU
/// features the host lacks (LLVM could not select them).
static llvm::Error checkHostFeatures(ModuleOp module) {
  llvm::StringMap<bool> features = llvm::sys::getHostCPUFeatures();
  llvm::Error error = llvm::Error::success();
  module.walk([&](LLVM::CallIntrinsicOp call) {
    StringRef name = call.getIntrin();
    SmallVector<StringRef, 2> needed;
    if (name.starts_with("llvm.x86.avx512."))
      needed.push_back("avx512f");
    if (name.contains("vpdpbusd"))
      needed.append({"avx512bw", "avx512vnni"});
    for (StringRef feature : needed) {
      if (features.lookup(feature))
        continue;
      error = llvm::createStringError(
          "the CPU kernels use " + name.str() + ", which needs " +
          feature.str() +
          ", and this CPU lacks it (--lowering=reference runs without it)");
      return WalkResult::interrupt();
    }
    return WalkResult::advance();
  });
  return error;
}
using namespace quantopt;

JitModule::~JitModule() = default;

static void initializeNativeTarget() {
  static std::once_flag once;
  std::call_once(once, [] {
    llvm::InitializeNativeTarget();
    llvm::InitializeNativeTargetAsmPrinter();
  });
}

void quantopt::keepFreedMemoryForRepeatedCalls() {
  static std::once_flag once;
  std::call_once(once, [] {
    // Compiled models allocate and free large activation buffers on every
    // call; keeping freed memory in the heap instead of returning it to the
    // kernel avoids a page fault per touched page on the next call.
    mallopt(M_MMAP_THRESHOLD, 1 << 30);
    mallopt(M_TRIM_THRESHOLD, 1 << 30);
    // Threads calling compiled code would otherwise get arenas of their
    // own, whose heaps glibc unmaps as soon as they empty, whatever the trim
    // threshold: every call then faults its buffers back in (a third of
    // the evaluation time of a quantized stories260K).
    mallopt(M_ARENA_MAX, 1);
  });
}

/// LLVM's default pipeline with vectorisation and interleaving but without
/// loop unrolling: the lowered models are hundreds of static loop nests, and
/// fully unrolled bodies made code generation take 10x longer than the
/// evaluation they speed up.
static llvm::Error optimizeModule(llvm::Module &module,
                                  llvm::TargetMachine *machine,
                                  unsigned optLevel) {
  if (optLevel == 0)
    return llvm::Error::success();
  // LLVM tunes Intel server cores to prefer 256-bit vectors (a clock
  // throttling heuristic); the model's loops run faster with 512-bit ones,
  // which the kernels use anyway.
  if (machine->getTargetFeatureString().contains("+avx512f"))
    for (llvm::Function &function : module)
      if (!function.isDeclaration() &&
          !function.hasFnAttribute("prefer-vector-width"))
        function.addFnAttr("prefer-vector-width", "512");
  llvm::LoopAnalysisManager lam;
  llvm::FunctionAnalysisManager fam;
  llvm::CGSCCAnalysisManager cgam;
  llvm::ModuleAnalysisManager mam;
  llvm::PipelineTuningOptions tuning;
  tuning.LoopUnrolling = false;
  tuning.LoopInterleaving = true;
  tuning.LoopVectorization = true;
  tuning.SLPVectorization = true;
  llvm::PassBuilder builder(machine, tuning);
  builder.registerModuleAnalyses(mam);
  builder.registerCGSCCAnalyses(cgam);
  builder.registerFunctionAnalyses(fam);
  builder.registerLoopAnalyses(lam);
  builder.crossRegisterProxies(lam, fam, cgam, mam);
  llvm::OptimizationLevel level = optLevel == 1   ? llvm::OptimizationLevel::O1
                                  : optLevel == 2 ? llvm::OptimizationLevel::O2
                                                  : llvm::OptimizationLevel::O3;
  llvm::ModulePassManager pipeline =
      builder.buildPerModuleDefaultPipeline(level);
  pipeline.run(module, mam);
  return llvm::Error::success();
}

/// JIT-compiles a module in the LLVM dialect for this host.
static llvm::Expected<std::unique_ptr<ExecutionEngine>>
createEngine(ModuleOp lowered, unsigned optLevel,
             ArrayRef<StringRef> sharedLibraries) {
  // The optimizer needs the host target machine: without it LLVM's cost
  // model knows no vector registers and vectorises nothing.
  auto machineBuilder = llvm::orc::JITTargetMachineBuilder::detectHost();
  if (!machineBuilder)
    return machineBuilder.takeError();
  machineBuilder->setCodeGenOptLevel(
      static_cast<llvm::CodeGenOptLevel>(std::min(optLevel, 3u)));
  auto machine = machineBuilder->createTargetMachine();
  if (!machine)
    return machine.takeError();
  ExecutionEngineOptions options;
  llvm::TargetMachine *targetMachine = machine->get();
  auto transformer = [&](llvm::Module *m) {
    return optimizeModule(*m, targetMachine, optLevel);
  };
  options.transformer = transformer;
  options.sharedLibPaths = sharedLibraries;
  options.jitCodeGenOptLevel =
      static_cast<llvm::CodeGenOptLevel>(std::min(optLevel, 3u));
  return ExecutionEngine::create(lowered, options, std::move(*machine));
}

llvm::Expected<std::unique_ptr<JitModule>>
JitModule::compile(ModuleOp module, const JitOptions &jitOptions) {
  unsigned optLevel = jitOptions.optLevel;
  if (jitOptions.threads == 0)
    return llvm::createStringError("the JIT's thread count must be at least "
                                   "1, got 0");
  initializeNativeTarget();
  MLIRContext *ctx = module.getContext();
  DialectRegistry registry;
  registerBuiltinDialectTranslation(registry);
  registerLLVMDialectTranslation(registry);
  registerOpenMPDialectTranslation(registry);
  ctx->appendDialectRegistry(registry);

  OwningOpRef<ModuleOp> lowered(cast<ModuleOp>(module->clone()));
  llvm::StringMap<std::vector<unsigned>> resultRanks;
  lowered->walk([&](func::FuncOp func) {
    if (!func.isPublic() || func.isExternal())
      return;
    func->setAttr(LLVM::LLVMDialect::getEmitCWrapperAttrName(),
                  UnitAttr::get(ctx));
    // Results other than ranked f32 tensors get rank ~0u: calling the
    // function is then an error.
    std::vector<unsigned> ranks;
    for (Type type : func.getFunctionType().getResults()) {
      auto ranked = dyn_cast<RankedTensorType>(type);
      ranks.push_back(ranked && ranked.getElementType().isF32()
                          ? unsigned(ranked.getRank())
                          : ~0u);
    }
    resultRanks[func.getSymName()] = std::move(ranks);
  });
  if (jitOptions.device == JitDevice::CUDA)
    return compileForCUDA(std::move(lowered), std::move(resultRanks),
                          jitOptions);
  PassManager pm(ctx);
  qtensor::LowerToLLVMOptions lowering;
  lowering.mode = jitOptions.products;
  lowering.threads = jitOptions.threads;
  lowering.compute = jitOptions.compute;
  lowering.isa = jitOptions.isa.value_or(hostKernelISA());
  lowering.prepackInt8 = jitOptions.prepackInt8;
  lowering.fuseEpilogue = jitOptions.fuseEpilogue;
  lowering.fuseHorizontal = jitOptions.fuseHorizontal;
  lowering.attentionBlockSize = jitOptions.attentionBlockSize;
  if (jitOptions.compute == qtensor::KernelCompute::Int8 &&
      jitOptions.products == qtensor::ProductLowering::CPUKernels) {
    llvm::StringMap<bool> features = llvm::sys::getHostCPUFeatures();
    for (StringRef needed : {"avx512bw", "avx512vnni"})
      if (!features.lookup(needed))
        return llvm::createStringError(
            "compute=int8 kernels need AVX-512 VNNI (avx512bw, avx512vnni), "
            "and this CPU lacks " +
            needed.str());
  }
  qtensor::buildLowerToLLVMPipeline(pm, lowering);
  if (failed(pm.run(*lowered)))
    return llvm::createStringError("lowering to the LLVM dialect failed");
  if (llvm::Error error = checkHostFeatures(*lowered))
    return error;

  // Kernels written for several threads call the OpenMP runtime.
  SmallVector<StringRef, 1> sharedLibraries;
  if (jitOptions.threads > 1) {
#ifdef QUANT_LIBOMP_PATH
    sharedLibraries.push_back(QUANT_LIBOMP_PATH);
#else
    return llvm::createStringError("threads > 1 needs the OpenMP runtime "
                                   "(libomp), which this build did not find");
#endif
  }
  auto engine = createEngine(*lowered, optLevel, sharedLibraries);
  if (!engine)
    return engine.takeError();
  std::unique_ptr<JitModule> result(new JitModule());
  result->engine = std::move(*engine);
  result->resultRanks = std::move(resultRanks);
  return std::move(result);
}

llvm::Expected<std::unique_ptr<JitModule>>
JitModule::compileForCUDA(OwningOpRef<ModuleOp> lowered,
                          llvm::StringMap<std::vector<unsigned>> resultRanks,
                          const JitOptions &jitOptions) {
  MLIRContext *ctx = lowered->getContext();
  DialectRegistry registry;
  qtensor::registerLowerToNVVMDialects(registry);
  ctx->appendDialectRegistry(registry);
  qtensor::LowerToNVVMOptions nvvm;
  std::string parseErrors;
  llvm::raw_string_ostream parseStream(parseErrors);
  if (failed(nvvm.parseFromString(jitOptions.nvvmOptions, parseStream)))
    return llvm::createStringError("invalid GPU lowering options '" +
                                   jitOptions.nvvmOptions +
                                   "': " + parseErrors);
  std::string invalid;
  if (failed(qtensor::checkLowerToNVVMOptions(nvvm, [&](const Twine &message) {
        invalid = message.str();
        return failure();
      })))
    return llvm::createStringError(invalid);
  // A missing driver or GPU is reported before any compilation.
  if (quantGpuInitialize() != 0)
    return llvm::createStringError(quantGpuTakeError());

  PassManager pm(ctx);
  qtensor::buildLowerToNVVMPipeline(pm, nvvm);
  if (failed(pm.run(*lowered)))
    return llvm::createStringError("lowering to NVVM kernels failed");
  auto engine = createEngine(*lowered, jitOptions.optLevel, {});
  if (!engine)
    return engine.takeError();
  // Host code calls the runtime linked into this process.
  (*engine)->registerSymbols([](llvm::orc::MangleAndInterner interner) {
    struct Collector {
      llvm::orc::MangleAndInterner &interner;
      llvm::orc::SymbolMap symbols;
    } collector{interner, llvm::orc::SymbolMap()};
    forEachCudaRuntimeSymbol(
        [](const char *name, void *address, void *user) {
          auto &c = *static_cast<Collector *>(user);
          c.symbols[c.interner(name)] = {
              llvm::orc::ExecutorAddr::fromPtr(address),
              llvm::JITSymbolFlags::Exported};
        },
        &collector);
    return collector.symbols;
  });
  // Runs the module constructors: the kernels' module is loaded here.
  (*engine)->initialize();
  std::string loadError = quantGpuTakeError();
  if (!loadError.empty())
    return llvm::createStringError(loadError);
  std::unique_ptr<JitModule> result(new JitModule());
  result->engine = std::move(*engine);
  result->resultRanks = std::move(resultRanks);
  result->onGPU = true;
  return std::move(result);
}

namespace {
/// A memref descriptor of any rank, laid out as the C interface expects:
/// {allocated, aligned, offset, sizes[rank], strides[rank]}.
struct Descriptor {
  std::vector<int64_t> words;

  Descriptor(void *data, const std::vector<int64_t> &shape) {
    unsigned rank = shape.size();
    words.resize(3 + 2 * rank);
    words[0] = reinterpret_cast<int64_t>(data);
    words[1] = reinterpret_cast<int64_t>(data);
    words[2] = 0;
    int64_t stride = 1;
    for (int i = int(rank) - 1; i >= 0; --i) {
      words[3 + i] = shape[i];
      words[3 + rank + i] = stride;
      stride *= shape[i];
    }
  }
  explicit Descriptor(unsigned rank) : words(3 + 2 * rank, 0) {}
};
} // namespace

llvm::Expected<void (*)(void **)>
JitModule::lookupFunction(llvm::StringRef name) {
  // Looked up once; the compiled code itself is reentrant, so threads may
  // call it concurrently.
  std::lock_guard<std::mutex> lock(lookupMutex);
  auto it = functions.find(name);
  if (it == functions.end()) {
    auto found = engine->lookupPacked(("_mlir_ciface_" + name).str());
    if (!found)
      return found.takeError();
    it = functions.try_emplace(name, *found).first;
  }
  return it->second;
}

llvm::Error JitModule::materialize(llvm::StringRef name) {
  auto function = lookupFunction(name);
  if (!function)
    return function.takeError();
  return llvm::Error::success();
}

llvm::Expected<std::vector<HostArray>>
JitModule::call(llvm::StringRef name, llvm::ArrayRef<const HostArray *> args) {
  auto signature = resultRanks.find(name);
  if (signature == resultRanks.end())
    return llvm::createStringError("the compiled module has no public "
                                   "function @" +
                                   name.str());
  llvm::ArrayRef<unsigned> ranks = signature->second;
  if (llvm::is_contained(ranks, ~0u))
    return llvm::createStringError("@" + name.str() +
                                   " returns a value that is not a ranked "
                                   "f32 tensor");
  std::vector<Descriptor> inputs;
  inputs.reserve(args.size());
  for (const HostArray *arg : args) {
    void *data = nullptr;
    switch (arg->kind) {
    case HostArray::Kind::F32:
      data = const_cast<float *>(arg->f32.data());
      break;
    case HostArray::Kind::I32:
      data = const_cast<int32_t *>(arg->i32.data());
      break;
    case HostArray::Kind::I8:
      data = const_cast<int8_t *>(arg->i8.data());
      break;
    case HostArray::Kind::F16:
    case HostArray::Kind::BF16:
      data = const_cast<uint16_t *>(arg->halves.data());
      break;
    }
    if (arg->external)
      data = const_cast<void *>(arg->external);
    inputs.emplace_back(data, arg->shape);
  }
  // One result: a descriptor. Several: a struct of descriptors, which the
  // C interface lays out back to back (all fields are 8 bytes).
  size_t words = 0;
  for (unsigned rank : ranks)
    words += 3 + 2 * rank;
  std::vector<int64_t> resultWords(words, 0);
  std::vector<void *> pointers;
  pointers.push_back(resultWords.data());
  for (Descriptor &d : inputs)
    pointers.push_back(d.words.data());
  std::vector<void *> packed;
  for (void *&p : pointers)
    packed.push_back(&p);
  auto function = lookupFunction(name);
  if (!function)
    return function.takeError();
  (*function)(packed.data());
  if (onGPU) {
    std::string error = quantGpuTakeError();
    if (!error.empty())
      return llvm::createStringError("@" + name.str() +
                                     " failed on the GPU: " + error);
  }

  std::vector<HostArray> outputs;
  std::vector<int64_t> freed;
  size_t at = 0;
  for (unsigned rank : ranks) {
    const int64_t *w = resultWords.data() + at;
    at += 3 + 2 * rank;
    HostArray out;
    out.shape.assign(w + 3, w + 3 + rank);
    int64_t count = out.numElements();
    auto *aligned = reinterpret_cast<float *>(w[1]);
    out.f32.resize(count);
    // Copy honouring strides (a result may be a strided view).
    std::vector<int64_t> index(rank, 0);
    for (int64_t linear = 0; linear < count; ++linear) {
      int64_t position = w[2];
      for (unsigned d = 0; d < rank; ++d)
        position += index[d] * w[3 + rank + d];
      out.f32[linear] = aligned[position];
      for (int d = int(rank) - 1; d >= 0; --d) {
        if (++index[d] < out.shape[d])
          break;
        index[d] = 0;
      }
    }
    outputs.push_back(std::move(out));
    // Results are malloc'ed by the lowered code, except returned globals
    // (marked 0xdeadbeef by the memref lowering) and returned arguments;
    // two results may share one allocation.
    int64_t allocated = w[0];
    bool owned = allocated != 0 && allocated != 0xdeadbeef &&
                 llvm::find(freed, allocated) == freed.end();
    for (const Descriptor &d : inputs)
      owned = owned && d.words[0] != allocated;
    if (owned) {
      std::free(reinterpret_cast<void *>(allocated));
      freed.push_back(allocated);
    }
  }
  return outputs;
}

void CPUJitExecutor::getDependentDialects(DialectRegistry &registry) const {
  qtensor::registerLowerToLLVMDialects(registry);
}

llvm::Expected<std::unique_ptr<qtensor::ExecutableModule>>
CPUJitExecutor::compile(ModuleOp module) const {
  auto compiled = JitModule::compile(module);
  if (!compiled)
    return compiled.takeError();
  return std::unique_ptr<qtensor::ExecutableModule>(std::move(*compiled));
}

bool CPUJitExecutor::readsOperandsAsArguments(Operation *product) const {
  return qtensor::cpuKernelReadsOperandsAsStored(product);
}

void quantopt::registerCPUJitExecutor(DialectRegistry &registry) {
  qtensor::registerModuleExecutor(registry, std::make_shared<CPUJitExecutor>());
}
