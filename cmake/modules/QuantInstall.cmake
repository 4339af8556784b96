# Installation: libraries (static, with an exported CMake package), headers
# (sources and generated .inc files), tools, the mlir-opt plugin and the
# documentation. A downstream project finds it with
#   find_package(Quant REQUIRED CONFIG)
# and links Quant::QuantQTensorTransforms (the passes, no JIT), or
# Quant::QuantExecution (the CPU JIT executor) as well.

include(CMakePackageConfigHelpers)

get_property(QUANT_LIBRARIES GLOBAL PROPERTY QUANT_LIBRARIES)
install(TARGETS ${QUANT_LIBRARIES}
  EXPORT QuantTargets
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
  COMPONENT quant-libraries)

install(TARGETS quant-opt quant-import quant-run quant-export quant-demo
                quant-compile
                quant-bench-gptq
  RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR}
  COMPONENT quant-tools)
install(TARGETS QuantPlugin
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
  COMPONENT quant-tools)

install(DIRECTORY ${PROJECT_SOURCE_DIR}/include/quant
  DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}
  COMPONENT quant-headers
  FILES_MATCHING PATTERN "*.h" PATTERN "*.td")
install(DIRECTORY ${PROJECT_BINARY_DIR}/include/quant
  DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}
  COMPONENT quant-headers
  FILES_MATCHING PATTERN "*.inc" PATTERN "*.h"
  PATTERN "CMakeFiles" EXCLUDE)

install(DIRECTORY ${PROJECT_SOURCE_DIR}/docs/
  DESTINATION ${CMAKE_INSTALL_DOCDIR}
  COMPONENT quant-docs
  FILES_MATCHING PATTERN "*.md")
install(DIRECTORY ${PROJECT_BINARY_DIR}/docs/
  DESTINATION ${CMAKE_INSTALL_DOCDIR}/generated
  COMPONENT quant-docs
  FILES_MATCHING PATTERN "*.md")

set(QUANT_INSTALL_CMAKEDIR ${CMAKE_INSTALL_LIBDIR}/cmake/quant)
install(EXPORT QuantTargets
  NAMESPACE Quant::
  DESTINATION ${QUANT_INSTALL_CMAKEDIR}
  COMPONENT quant-libraries)
configure_package_config_file(
  ${PROJECT_SOURCE_DIR}/cmake/QuantConfig.cmake.in
  ${PROJECT_BINARY_DIR}/lib/cmake/quant/QuantConfig.cmake
  INSTALL_DESTINATION ${QUANT_INSTALL_CMAKEDIR}
  PATH_VARS CMAKE_INSTALL_INCLUDEDIR)
write_basic_package_version_file(
  ${PROJECT_BINARY_DIR}/lib/cmake/quant/QuantConfigVersion.cmake
  VERSION ${PROJECT_VERSION}
  COMPATIBILITY SameMinorVersion)
install(FILES
  ${PROJECT_BINARY_DIR}/lib/cmake/quant/QuantConfig.cmake
  ${PROJECT_BINARY_DIR}/lib/cmake/quant/QuantConfigVersion.cmake
  DESTINATION ${QUANT_INSTALL_CMAKEDIR}
  COMPONENT quant-libraries)
