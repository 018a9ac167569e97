#!/usr/bin/env bash
# Sets up, builds, compiles the tiny example model ahead of time and generates
# tokens: on the GPU when one is present, otherwise on the CPU reference
# backend.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD_DIR:-$root/build}
bash "$root/utils/setup-debian.sh"
bash "$root/utils/build.sh" infer-compile infer-run
model=$root/examples/tiny-llama
work=$build/example
mkdir -p "$work"
python3 "$model/make_weights.py" "$model/config.json" "$work/model.safetensors"
device=cpu
target=cpu
if command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L >/dev/null 2>&1; then
  device=cuda
  target=cuda
fi
"$build/bin/infer-compile" "$model" --target "$target" -o "$work/tiny.art"
echo "compiled $model -> $work/tiny.art (target $target)"
"$build/bin/infer-run" "$work/tiny.art" --weights "$work/model.safetensors" \
  --device "$device" --prompt-ids 1,15,27,99,3 --max-tokens 16
