# -*- Python -*-
# lit configuration of the quant-opt regression tests.

import os

import lit.formats
from lit.llvm import llvm_config
from lit.llvm.subst import ToolSubst

config.name = "QUANT"
config.test_format = lit.formats.ShTest(not llvm_config.use_lit_shell)
config.suffixes = [".mlir", ".test"]
config.test_source_root = os.path.dirname(__file__)
config.test_exec_root = os.path.join(config.quant_obj_root, "test")
# Unit is its own suite (test/Unit/lit.cfg.py), run through its site config.
config.excludes = ["CMakeLists.txt", "README.md", "lit.cfg.py", "lit.site.cfg.py", "Inputs", "Unit", "Consumer"]

config.substitutions.append(("%PATH%", config.environment["PATH"]))
config.substitutions.append(("%shlibext", config.llvm_shlib_ext))
config.substitutions.append(("%quant_lib_dir", config.quant_lib_dir))
config.substitutions.append(("%fake_cuda_driver", config.fake_cuda_driver))
config.substitutions.append(("%llvm_lib_dir", config.llvm_lib_dir))
config.substitutions.append(("%quant_src_root", config.quant_src_root))
config.substitutions.append(("%quant_obj_root", config.quant_obj_root))
config.substitutions.append(("%cmake", config.cmake_command))
config.substitutions.append(("%ninja", config.ninja_command))
config.substitutions.append(("%mlir_cmake_dir", config.mlir_cmake_dir))
config.substitutions.append(
    ("%mlir_runner_utils",
     os.path.join(config.llvm_lib_dir, "libmlir_runner_utils" + config.llvm_shlib_ext)))
config.substitutions.append(
    ("%mlir_c_runner_utils",
     os.path.join(config.llvm_lib_dir, "libmlir_c_runner_utils" + config.llvm_shlib_ext)))

llvm_config.use_default_substitutions()

# Round-trip every printed module through the parser when asked to.
if os.environ.get("QUANT_OPT_CHECK_IR_ROUNDTRIP"):
    quant_opt = ToolSubst("quant-opt", extra_args=["--verify-roundtrip"], unresolved="fatal")
else:
    quant_opt = "quant-opt"

# Cross-checks with numpy run only where Debian's python3-numpy is
# installed; they are skipped (UNSUPPORTED) elsewhere.
import subprocess
python = "/usr/bin/python3"
try:
    if subprocess.run([python, "-c", "import numpy"], capture_output=True).returncode == 0:
        config.available_features.add("numpy")
except OSError:
    pass
config.substitutions.append(("%python", python))

# compute=int8 kernels need AVX-512 VNNI (and BW) on the host.
try:
    with open("/proc/cpuinfo") as cpuinfo:
        flags = set()
        for line in cpuinfo:
            if line.startswith("flags"):
                flags.update(line.split(":", 1)[1].split())
    if {"avx512_vnni", "avx512bw"} <= flags:
        config.available_features.add("avx512vnni")
except OSError:
    pass

# A CUDA toolkit's ptxas (these machines have one; CI images do not): the
# generated PTX is assembled for real GPUs where it exists.
import os
import shutil
ptxas = shutil.which("ptxas")
for root in [os.environ.get("CUDA_HOME"), os.environ.get("CUDA_PATH"), "/usr/local/cuda"]:
    if not ptxas and root and os.path.exists(os.path.join(root, "bin", "ptxas")):
        ptxas = os.path.join(root, "bin", "ptxas")
if ptxas:
    config.available_features.add("ptxas")
    config.substitutions.append(("%ptxas", ptxas))

# Sanitized builds: the plugin cannot load into the uninstrumented mlir-opt.
if config.quant_sanitizers.upper() in ("ON", "1", "TRUE", "YES"):
    config.available_features.add("sanitizers")

tools = [quant_opt, "quant-demo", "quant-import", "quant-run", "quant-export", "quant-compile", "mlir-opt", "mlir-runner", "mlir-translate", "llc", "not", "llvm-nm"]
tool_dirs = [config.quant_tools_dir, config.llvm_tools_dir]
llvm_config.add_tool_substitutions(tools, tool_dirs)
