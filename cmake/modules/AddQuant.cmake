# Thin wrappers over MLIR's CMake functions, in the manner of CIRCT's
# AddCIRCT.cmake.

# Generates Markdown documentation from a .td file into build/docs/<dir>
# and attaches it to the `quant-doc` target.
#   add_quant_doc(<td file stem> <output name> <output dir> <tblgen flags...>)
function(add_quant_doc td_filename output_file output_directory command)
  add_mlir_doc(${td_filename} ${output_file} ${output_directory} ${command} ${ARGN})
  add_dependencies(quant-doc ${output_file}DocGen)
endfunction()
