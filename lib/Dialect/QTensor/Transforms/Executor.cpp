//===- Executor.cpp - How calibrated passes run modules -------------------===//
//
// Part of the quant-opt project, under the Apache License v2.0 with LLVM
// Exceptions.
//
//===----------------------------------------------------------------------===//

#include "quant/Dialect/QTensor/Transforms/Executor.h"
#include "quant/Dialect/QTensor/IR/QTensorDialect.h"

#include "mlir/IR/DialectRegistry.h"
#include "mlir/IR/MLIRContext.h"

using namespace mlir;
using namespace mlir::qtensor;

int64_t HostArray::numElements() const {
  int64_t n = 1;
  for (int64_t d : shape)
    n *= d;
  return n;
}

int64_t HostArray::elementBytes() const {
  switch (kind) {
  case Kind::I8:
    return 1;
  case Kind::F16:
  case Kind::BF16:
    return 2;
  case Kind::F32:
  case Kind::I32:
    return 4;
  }
  return 4;
}

ExecutableModule::~ExecutableModule() = default;
ModuleExecutor::~ModuleExecutor() = default;

bool ModuleExecutor::readsOperandsAsArguments(Operation *) const {
  return false;
}

llvm::Expected<HostArray>
ExecutableModule::callSingle(StringRef name, ArrayRef<const HostArray *> args) {
  auto results = call(name, args);
  if (!results)
    return results.takeError();
  if (results->size() != 1)
    return llvm::createStringError("@" + name.str() + " returned " +
                                   std::to_string(results->size()) +
                                   " results; one was expected");
  return std::move(results->front());
}

namespace mlir {
namespace qtensor {
namespace detail {
/// The executor, attached to the qtensor dialect of a context.
class ExecutorDialectInterface
    : public DialectInterface::Base<ExecutorDialectInterface> {
public:
  ExecutorDialectInterface(Dialect *dialect,
                           std::shared_ptr<ModuleExecutor> executor)
      : Base(dialect), executor(std::move(executor)) {}

  std::shared_ptr<ModuleExecutor> executor;
};

/// Loads the executor's dialects and attaches the executor when the qtensor
/// dialect is loaded.
class ExecutorExtension
    : public DialectExtension<ExecutorExtension, QTensorDialect> {
public:
  ExecutorExtension(std::shared_ptr<ModuleExecutor> executor,
                    std::vector<std::string> dialects)
      : executor(std::move(executor)), dialects(std::move(dialects)) {}

  void apply(MLIRContext *context, QTensorDialect *dialect) const final {
    for (const std::string &name : dialects)
      context->getOrLoadDialect(name);
    if (!dialect->getRegisteredInterface<ExecutorDialectInterface>())
      dialect->addInterface<ExecutorDialectInterface>(executor);
  }

private:
  std::shared_ptr<ModuleExecutor> executor;
  std::vector<std::string> dialects;
};
} // namespace detail
} // namespace qtensor
} // namespace mlir

MLIR_DECLARE_EXPLICIT_TYPE_ID(mlir::qtensor::detail::ExecutorDialectInterface)
MLIR_DEFINE_EXPLICIT_TYPE_ID(mlir::qtensor::detail::ExecutorDialectInterface)
MLIR_DECLARE_EXPLICIT_TYPE_ID(mlir::qtensor::detail::ExecutorExtension)
MLIR_DEFINE_EXPLICIT_TYPE_ID(mlir::qtensor::detail::ExecutorExtension)

void mlir::qtensor::registerModuleExecutor(
    DialectRegistry &registry, std::shared_ptr<ModuleExecutor> executor) {
  DialectRegistry dependent;
  executor->getDependentDialects(dependent);
  registry.insert<QTensorDialect>();
  dependent.appendTo(registry);
  std::vector<std::string> names;
  for (StringRef name : dependent.getDialectNames())
    names.push_back(name.str());
  registry.addExtension(TypeID::get<detail::ExecutorExtension>(),
                        std::make_unique<detail::ExecutorExtension>(
                            std::move(executor), std::move(names)));
}

ModuleExecutor *mlir::qtensor::getModuleExecutor(MLIRContext *context) {
  auto *dialect = context->getLoadedDialect<QTensorDialect>();
  if (!dialect)
    return nullptr;
  auto *interface =
      dialect->getRegisteredInterface<detail::ExecutorDialectInterface>();
  return interface ? interface->executor.get() : nullptr;
}
