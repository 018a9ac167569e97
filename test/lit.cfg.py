# -*- Python -*-
import os
import shutil
import subprocess

import lit.formats
from lit.llvm import llvm_config

config.name = "infer"
config.test_format = lit.formats.ShTest(not llvm_config.use_lit_shell)
config.suffixes = [".mlir", ".test"]
config.excludes = ["Inputs", "CMakeLists.txt", "lit.cfg.py", "lit.site.cfg.py"]
config.test_source_root = os.path.dirname(__file__)
config.test_exec_root = os.path.join(config.infer_obj_root, "test")

config.substitutions.append(("%PATH%", config.environment["PATH"]))
config.substitutions.append(("%infer_src", config.infer_src_root))
config.substitutions.append(("%python", config.python_executable))
config.substitutions.append(("%cuda_root", config.cuda_root))

llvm_config.with_system_environment(["HOME", "INCLUDE", "LIB", "TMP", "TEMP"])
llvm_config.use_default_substitutions()
llvm_config.with_environment("PATH", config.llvm_tools_dir, append_path=True)

tools = ["infer-opt", "infer-compile", "infer-run"]
llvm_config.add_tool_substitutions(
    [t for t in tools
     if os.path.exists(os.path.join(config.infer_tools_dir, t))],
    [config.infer_tools_dir])

# ptxas and libdevice come from the CUDA toolkit (no GPU needed).
ptxas = os.path.join(config.cuda_root, "bin", "ptxas")
if os.path.exists(ptxas) and os.path.exists(
        os.path.join(config.cuda_root, "nvvm", "libdevice")):
    config.available_features.add("cuda-toolkit")
    config.substitutions.append(("%ptxas", ptxas))


def has_gpu():
    smi = shutil.which("nvidia-smi")
    if not smi:
        return False
    try:
        return subprocess.run([smi, "-L"], capture_output=True,
                              timeout=20).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


if has_gpu():
    config.available_features.add("cuda")
