# Thin wrappers over MLIR's CMake functions, in the manner of CIRCT's
# AddCIRCT.cmake.

# Generates Markdown documentation from a .td file into build/docs/<dir>
# and attaches it to the `quant-doc` target.
#   add_quant_doc(<td file stem> <output name> <output dir> <tblgen flags...>)
function(add_quant_doc td_filename output_file output_directory command)
  add_mlir_doc(${td_filename} ${output_file} ${output_directory} ${command} ${ARGN})
  add_dependencies(quant-doc ${output_file}DocGen)
endfunction()

# A project library: add_mlir_library's build rules, installed by the
# project's own export set (QuantTargets, see QuantInstall.cmake) instead of
# MLIR's, with its headers found from the build and the install tree.
#   add_quant_library(<name> <sources>... [DEPENDS ...] [LINK_COMPONENTS ...])
function(add_quant_library name)
  add_mlir_library(${name} ${ARGN} DISABLE_INSTALL EXCLUDE_FROM_LIBMLIR)
  quant_export_library(${name})
endfunction()

# Registers a library target for installation and export.
function(quant_export_library name)
  target_include_directories(${name} PUBLIC
    $<BUILD_INTERFACE:${PROJECT_SOURCE_DIR}/include>
    $<BUILD_INTERFACE:${PROJECT_BINARY_DIR}/include>
    $<INSTALL_INTERFACE:${CMAKE_INSTALL_INCLUDEDIR}>)
  set_property(GLOBAL APPEND PROPERTY QUANT_LIBRARIES ${name})
endfunction()
