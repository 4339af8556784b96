//===- quant-compile.cpp - Ahead-of-time compilation of models ------------===//
//
// Part of the quant-opt project, under the Apache License v2.0 with LLVM
// Exceptions.
//
//===----------------------------------------------------------------------===//
//
// Lowers a tensor-level module (qtensor ops allowed) for a CPU or an NVIDIA
// GPU and writes what a machine without LLVM needs: the kernels' PTX, the
// host code as LLVM IR, or a relocatable object file to link with
// QuantCudaRuntime (GPU) and a caller. Public functions get C interface
// wrappers (`_mlir_ciface_<name>`), as in the JIT.
//
//===----------------------------------------------------------------------===//

#include "quant/Conversion/Passes.h"
#include "quant/InitAll.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/IR/DialectRegistry.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Pass/PassRegistry.h"
#include "mlir/Support/FileUtilities.h"
#include "mlir/Target/LLVMIR/Dialect/Builtin/BuiltinToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Dialect/LLVMIR/LLVMToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Dialect/OpenMP/OpenMPToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Export.h"
#include "llvm/IR/LegacyPassManager.h"
#include "llvm/IR/Module.h"
#include "llvm/MC/TargetRegistry.h"
#include "llvm/Support/CommandLine.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/SourceMgr.h"
#include "llvm/Support/TargetSelect.h"
#include "llvm/Support/ToolOutputFile.h"
#include "llvm/Target/TargetMachine.h"
#include "llvm/TargetParser/Host.h"

using namespace mlir;

namespace {
enum class Emit { PTX, LLVM, Object };
enum class Device { CPU, CUDA };

llvm::cl::OptionCategory category("quant-compile options");
llvm::cl::opt<std::string> inputFile(llvm::cl::Positional,
                                     llvm::cl::desc("<model.mlir|.mlirbc>"),
                                     llvm::cl::Required,
                                     llvm::cl::cat(category));
llvm::cl::opt<std::string> outputFile("o", llvm::cl::desc("output file"),
                                      llvm::cl::init("-"),
                                      llvm::cl::cat(category));
llvm::cl::opt<Device> device(
    "device", llvm::cl::desc("where the compiled code runs"),
    llvm::cl::init(Device::CUDA),
    llvm::cl::values(clEnumValN(Device::CUDA, "cuda",
                                "an NVIDIA GPU (quant-lower-to-nvvm; default)"),
                     clEnumValN(Device::CPU, "cpu",
                                "a CPU (quant-lower-to-llvm)")),
    llvm::cl::cat(category));
llvm::cl::opt<Emit>
    emit("emit", llvm::cl::desc("what to write"), llvm::cl::init(Emit::Object),
         llvm::cl::values(
             clEnumValN(Emit::PTX, "ptx",
                        "the kernels' PTX (--device=cuda with format=isa)"),
             clEnumValN(Emit::LLVM, "llvm", "the host code as LLVM IR text"),
             clEnumValN(Emit::Object, "object",
                        "the host code as an object file (default)")),
         llvm::cl::cat(category));
llvm::cl::opt<std::string> loweringOptions(
    "lowering-options",
    llvm::cl::desc("options of the lowering pipeline, e.g. 'chip=sm_80' "
                   "(quant-lower-to-nvvm) or 'threads=2' "
                   "(quant-lower-to-llvm)"),
    llvm::cl::init(""), llvm::cl::cat(category));
llvm::cl::opt<std::string>
    passPipeline("pass-pipeline",
                 llvm::cl::desc("passes to run before lowering, e.g. "
                                "'quant-rtn{bits=4 group-size=32}'"),
                 llvm::cl::init(""), llvm::cl::cat(category));
llvm::cl::opt<std::string> targetCPU(
    "cpu",
    llvm::cl::desc("host CPU the object is compiled for (default x86-64-v3 "
                   "for GPU host code, this host's CPU otherwise)"),
    llvm::cl::init(""), llvm::cl::cat(category));

int fail(const llvm::Twine &message) {
  llvm::errs() << "quant-compile: " << message << "\n";
  return 1;
}

/// Public functions get `_mlir_ciface_` wrappers taking memref descriptors.
void requestCInterfaces(ModuleOp module) {
  for (auto func : module.getOps<func::FuncOp>())
    if (func.isPublic() && !func.isExternal())
      func->setAttr(LLVM::LLVMDialect::getEmitCWrapperAttrName(),
                    UnitAttr::get(module.getContext()));
}

LogicalResult lower(ModuleOp module) {
  PassManager pm(module.getContext());
  auto errorHandler = [](const llvm::Twine &message) {
    llvm::errs() << "quant-compile: " << message << "\n";
    return failure();
  };
  std::string errors;
  llvm::raw_string_ostream errorStream(errors);
  if (device == Device::CUDA) {
    qtensor::LowerToNVVMOptions options;
    if (failed(options.parseFromString(loweringOptions, errorStream)))
      return errorHandler("invalid --lowering-options: " + errors);
    if (failed(qtensor::checkLowerToNVVMOptions(options, errorHandler)))
      return failure();
    qtensor::buildLowerToNVVMPipeline(pm, options);
  } else {
    qtensor::LowerToLLVMOptions options;
    if (failed(options.parseFromString(loweringOptions, errorStream)))
      return errorHandler("invalid --lowering-options: " + errors);
    qtensor::buildLowerToLLVMPipeline(pm, options);
  }
  return pm.run(module);
}

int writePTX(ModuleOp module, llvm::raw_ostream &os) {
  unsigned written = 0;
  WalkResult result = module.walk([&](gpu::BinaryOp binary) {
    for (Attribute attr : binary.getObjects()) {
      auto object = cast<gpu::ObjectAttr>(attr);
      if (object.getFormat() != gpu::CompilationTarget::Assembly) {
        binary.emitError("--emit=ptx needs the kernels as PTX text "
                         "(format=isa in --lowering-options)");
        return WalkResult::interrupt();
      }
      os << "// gpu.binary @" << binary.getName() << "\n"
         << object.getObject().getValue();
      ++written;
    }
    return WalkResult::advance();
  });
  if (result.wasInterrupted())
    return 1;
  if (written == 0)
    return fail("the lowered module has no kernels");
  return 0;
}

int writeHostCode(ModuleOp module, llvm::ToolOutputFile &output) {
  llvm::LLVMContext llvmContext;
  std::unique_ptr<llvm::Module> llvmModule =
      translateModuleToLLVMIR(module, llvmContext);
  if (!llvmModule)
    return fail("translation to LLVM IR failed");
  std::string triple = llvm::sys::getDefaultTargetTriple();
  std::string cpu = targetCPU;
  if (cpu.empty())
    cpu = device == Device::CUDA ? "x86-64-v3"
                                 : llvm::sys::getHostCPUName().str();
  std::string error;
  const llvm::Target *target =
      llvm::TargetRegistry::lookupTarget(llvm::Triple(triple), error);
  if (!target)
    return fail("no LLVM target for " + triple + ": " + error);
  llvm::TargetOptions targetOptions;
  std::unique_ptr<llvm::TargetMachine> machine(target->createTargetMachine(
      llvm::Triple(triple), cpu, "", targetOptions, llvm::Reloc::PIC_,
      std::nullopt, llvm::CodeGenOptLevel::Aggressive));
  if (!machine)
    return fail("cannot create a target machine for " + triple + " " + cpu);
  llvmModule->setTargetTriple(llvm::Triple(triple));
  llvmModule->setDataLayout(machine->createDataLayout());
  if (emit == Emit::LLVM) {
    llvmModule->print(output.os(), nullptr);
    return 0;
  }
  llvm::legacy::PassManager codegen;
  if (machine->addPassesToEmitFile(codegen, output.os(), nullptr,
                                   llvm::CodeGenFileType::ObjectFile))
    return fail("the target cannot emit object files");
  codegen.run(*llvmModule);
  return 0;
}
} // namespace

int main(int argc, char **argv) {
  llvm::InitLLVM init(argc, argv);
  llvm::InitializeNativeTarget();
  llvm::InitializeNativeTargetAsmPrinter();
  quantopt::registerAllPasses();
  llvm::cl::HideUnrelatedOptions(category);
  llvm::cl::ParseCommandLineOptions(
      argc, argv,
      "quant-compile: lower a model for a CPU or an NVIDIA GPU and write its "
      "PTX, LLVM IR or object file\n");

  DialectRegistry registry;
  quantopt::registerAllDialects(registry);
  quantopt::registerUpstreamDialects(registry);
  registerBuiltinDialectTranslation(registry);
  registerLLVMDialectTranslation(registry);
  registerOpenMPDialectTranslation(registry);
  MLIRContext ctx(registry);
  auto sourceMgr = std::make_shared<llvm::SourceMgr>();
  SourceMgrDiagnosticHandler handler(*sourceMgr, &ctx);
  OwningOpRef<ModuleOp> module =
      quantopt::parseModuleFile(inputFile, sourceMgr, &ctx);
  if (!module)
    return fail("cannot parse " + inputFile);
  if (!passPipeline.empty()) {
    PassManager pm(&ctx);
    if (failed(parsePassPipeline(passPipeline, pm, llvm::errs())))
      return fail("invalid --pass-pipeline '" + passPipeline + "'");
    if (failed(pm.run(*module)))
      return fail("--pass-pipeline failed");
  }
  if (emit == Emit::PTX && device != Device::CUDA)
    return fail("--emit=ptx needs --device=cuda");
  requestCInterfaces(*module);
  if (failed(lower(*module)))
    return fail("lowering failed");

  std::string error;
  auto output = openOutputFile(outputFile, &error);
  if (!output)
    return fail(error);
  int status = emit == Emit::PTX ? writePTX(*module, output->os())
                                 : writeHostCode(*module, *output);
  if (status != 0)
    return status;
  output->keep();
  return 0;
}
