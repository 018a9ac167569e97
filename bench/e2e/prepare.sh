#!/usr/bin/env bash
# bench/e2e/prepare.sh - makes the end-to-end case directories HERE (no GPU
# needed), for bench/e2e/hf_check.py and bench/decode.sh on the device:
#
#   bench/e2e/cases/<case>/config.json   HF config (weights are generated on
#                                        the device from it, hf_weights.py)
#   bench/e2e/cases/<case>/model.art     infer-compile --target cuda (cpu
#                                        with --target cpu or as a fallback)
#   bench/e2e/cases/bin/infer-run        the runtime driver (no LLVM/MLIR)
#
# Cases: tiny-llama (examples/tiny-llama), tiny-mistral (sliding window 64),
# tiny-qwen2 (q/k/v bias, tied embeddings), tiny-llama3-rope (llama3 rope
# scaling, theta 5e5), llama3-8b (examples/configs/llama-3-8b.json).
#
#   bash bench/e2e/prepare.sh [--compile PATH] [--infer-run PATH]
#                             [--target cuda|cpu] [--cases a,b] [--no-8b]
#
# bench/e2e/cases is git-ignored: carry it (run(..., carry=["bench/e2e/cases"])).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
COMPILE=${INFER_COMPILE:-}
INFER_RUN=${INFER_RUN:-}
TARGET=cuda
ONLY=
WITH_8B=1
while [ $# -gt 0 ]; do
  case "$1" in
  --compile) COMPILE=$2; shift ;;
  --infer-run) INFER_RUN=$2; shift ;;
  --target) TARGET=$2; shift ;;
  --cases) ONLY=$2; shift ;;
  --no-8b) WITH_8B=0 ;;
  -h | --help) sed -n '2,21p' "$0"; exit 0 ;;
  *) echo "prepare: unknown option '$1' (see --help)" >&2; exit 2 ;;
  esac
  shift
done

pick() { # first executable among the arguments
  for c in "$@"; do
    if [ -n "$c" ] && [ -x "$c" ]; then echo "$c"; return 0; fi
  done
  return 1
}
COMPILE=$(pick "$COMPILE" "$ROOT/build/bin/infer-compile") || {
  echo "prepare: no infer-compile (build it: ninja -C build infer-compile," \
    "or pass --compile PATH)" >&2
  exit 1
}
INFER_RUN=$(pick "$INFER_RUN" "$ROOT/build/bin/infer-run") || {
  echo "prepare: no infer-run (ninja -C build infer-run, or pass" \
    "--infer-run PATH)" >&2
  exit 1
}
"$INFER_RUN" --help | grep -q -- '--trace-output' || {
  echo "prepare: $INFER_RUN predates --bench/--trace-output: rebuild it" >&2
  exit 1
}

CASES="$ROOT/bench/e2e/cases"
mkdir -p "$CASES/bin"
cp -f "$INFER_RUN" "$CASES/bin/infer-run"
echo "infer-run: $INFER_RUN -> bench/e2e/cases/bin/infer-run"

# case name -> source config, and a python edit of it (may be empty).
declare -A SRC EDIT
SRC[tiny-llama]=examples/tiny-llama/config.json
SRC[tiny-mistral]=examples/configs/tiny-mistral.json
SRC[tiny-qwen2]=examples/configs/tiny-qwen2.json
SRC[tiny-llama3-rope]=examples/tiny-llama/config.json
EDIT[tiny-llama3-rope]='c.update(rope_theta=500000.0, max_position_embeddings=2048,
  rope_scaling={"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0,
                "high_freq_factor": 4.0, "original_max_position_embeddings": 256})'
SRC[llama3-8b]=examples/configs/llama-3-8b.json
NAMES="tiny-llama tiny-mistral tiny-qwen2 tiny-llama3-rope"
[ "$WITH_8B" = 0 ] || NAMES="$NAMES llama3-8b"
if [ -n "$ONLY" ]; then NAMES=${ONLY//,/ }; fi

failed=0
for name in $NAMES; do
  src=${SRC[$name]:-}
  if [ -z "$src" ]; then
    echo "prepare: unknown case '$name' (known: ${!SRC[*]})" >&2
    exit 2
  fi
  dir="$CASES/$name"
  mkdir -p "$dir"
  python3 - "$ROOT/$src" "$dir/config.json" "${EDIT[$name]:-}" <<'PY'
import json, sys
c = json.load(open(sys.argv[1]))
if sys.argv[3]:
    exec(sys.argv[3])
c.setdefault("torch_dtype", "bfloat16")
json.dump(c, open(sys.argv[2], "w"), indent=1)
PY
  t0=$(date +%s.%N)
  if "$COMPILE" "$dir" -o "$dir/model.art" --target "$TARGET" 2>"$dir/compile.log"; then
    used=$TARGET
  elif [ "$TARGET" = cuda ] &&
    "$COMPILE" "$dir" -o "$dir/model.art" --target cpu 2>>"$dir/compile.log"; then
    used="cpu (cuda FAILED, see $dir/compile.log)"
    failed=1
  else
    echo "prepare: infer-compile failed for $name:" >&2
    tail -n 20 "$dir/compile.log" >&2
    rm -f "$dir/model.art"
    failed=1
    continue
  fi
  t1=$(date +%s.%N)
  printf '%-18s %-8s %8s bytes  %6.1f s  (%s)\n' "$name" "$used" \
    "$(stat -c %s "$dir/model.art")" "$(echo "$t1 - $t0" | bc)" "$src"
done
size=$(du -sm "$CASES" | cut -f1)
echo "bench/e2e/cases: ${size} MiB (keep under ~30 MiB; the carry limit is 64 MiB)"
echo "next, on the device: run(command=\"python3 bench/e2e/hf_check.py\", carry=[\"bench/e2e/cases\"])"
exit $failed
