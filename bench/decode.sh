#!/usr/bin/env bash
# bench/decode.sh - issue 5's decode benchmark on the device (H100):
# Llama-3-8B shape, bf16, random weights, context 512, batch 1/16/64/128,
# infer (infer-run --bench) and torch (bench/e2e/torch_decode.py:
# torch.compile + static cache, eager + CUDA graph) on the same weights in
# the same session, one JSON summary, a table last.
#
# Prepare HERE (compiles the artifact, copies infer-run):
#   bash bench/e2e/prepare.sh            # or: --cases llama3-8b
# On the device, from the repository root:
#   run(command="bash bench/decode.sh", carry=["bench/e2e/cases"], timeout_s=600)
# If one call is not enough, split it (state persists in --state on the
# machine while it stays warm; every call rewrites the JSON from all of it):
#   bash bench/decode.sh --only weights,infer
#   bash bench/decode.sh --only torch
#
# Phases: weights  HF save_pretrained of LlamaForCausalLM from
#                  bench/e2e/cases/llama3-8b/config.json (hf_weights.py;
#                  reused when present, shared with hf_check.py), ~1-2 min
#         infer    infer-run --device cuda --bench (copy bandwidth measured)
#         torch    torch_decode.py --model-dir <the same weights>
#         profile  (not by default) infer-run --bench --bench-kernels: each
#                  kernel's time per step at --profile-batches, eagerly and
#                  one kernel at a time (state/infer_kernels.json)
#         (merge   always, last: JSON + table from whatever exists)
#
# Options:
#   --json PATH        summary (default $INFER_BENCH_JSON, else $OUT/decode.json,
#                      else ./decode.json)
#   --only LIST        phases to run (default weights,infer,torch)
#   --batches LIST     default 1,16,64,128
#   --profile-batches LIST  default 1,64,128 (phase profile)
#   --context N        default 512
#   --steps N          timed decode steps per batch (default 50)
#   --torch-modes LIST default compile,graph
#   --case DIR         default bench/e2e/cases/llama3-8b
#   --weights DIR      default /tmp/infer-e2e/llama3-8b
#   --infer-run PATH   default bench/e2e/cases/bin/infer-run
#   --state DIR        default /tmp/infer-decode
set -euo pipefail

if [ ! -d bench ] || [ ! -d runtime ]; then
  echo "decode.sh: run me from the repository root" >&2
  exit 2
fi
JSON=${INFER_BENCH_JSON:-}
ONLY=weights,infer,torch
BATCHES=1,16,64,128
CONTEXT=512
STEPS=50
TORCH_MODES=compile,graph
CASE=bench/e2e/cases/llama3-8b
WEIGHTS=/tmp/infer-e2e/llama3-8b
INFER_RUN=bench/e2e/cases/bin/infer-run
STATE=/tmp/infer-decode
PROFILE_BATCHES=1,64,128
while [ $# -gt 0 ]; do
  case "$1" in
  --json) JSON=$2; shift ;;
  --only) ONLY=$2; shift ;;
  --batches) BATCHES=$2; shift ;;
  --profile-batches) PROFILE_BATCHES=$2; shift ;;
  --context) CONTEXT=$2; shift ;;
  --steps) STEPS=$2; shift ;;
  --torch-modes) TORCH_MODES=$2; shift ;;
  --case) CASE=$2; shift ;;
  --weights) WEIGHTS=$2; shift ;;
  --infer-run) INFER_RUN=$2; shift ;;
  --state) STATE=$2; shift ;;
  -h | --help) sed -n '2,44p' "$0"; exit 0 ;;
  *) echo "decode.sh: unknown option '$1' (see --help)" >&2; exit 2 ;;
  esac
  shift
done
if [ -z "$JSON" ]; then
  if [ -n "${OUT:-}" ]; then JSON=$OUT/decode.json; else JSON=decode.json; fi
fi
mkdir -p "$STATE" "$(dirname "$JSON")"
LOG=${OUT:-$STATE}/decode.log
: >"$LOG"
has() { [[ ",$ONLY," == *",$1,"* ]]; }
FAILED=()

merge() {
  python3 - "$STATE" "$JSON" "$BATCHES" "$CONTEXT" "${FAILED[*]:-}" <<'PY' || echo "decode.sh: merging the results failed" >&2
import json, os, sys
state, out, batches, context, failed = sys.argv[1:6]
batches = [int(b) for b in batches.split(",")]
def load(name):
    try:
        with open(os.path.join(state, name)) as f:
            return json.load(f)
    except (OSError, ValueError):
        return {}
ours, torch = load("infer_bench.json"), load("torch_decode.json")
res = {"tool": "bench/decode.sh", "context": int(context),
       "batches": batches, "failed_phases": failed.split() if failed else [],
       "gpu": ours.get("gpu"), "weight_bytes": ours.get("weight_bytes"),
       "kv_bytes_per_token": ours.get("kv_bytes_per_token")}
copy = ours.get("copy_TBps") or torch.get("copy_TBps")
res["copy_TBps"] = copy
res["copy_source"] = ("infer-run" if ours.get("copy_TBps") else
                      "torch_decode.py" if torch.get("copy_TBps") else None)
res["torch_copy_TBps"] = torch.get("copy_TBps")
targets = {1: 5.8, 64: 8.0, 128: 9.6}
per = {b.get("batch"): b for b in ours.get("batches", [])}
rows = []
for b in batches:
    r = per.get(b, {})
    ms = r.get("ms_median")
    res[f"b{b}_ms"] = ms
    if ms:
        res[f"b{b}_tok_s"] = b * 1e3 / ms
        if r.get("device_ms_median"):
            res[f"b{b}_device_ms"] = r["device_ms_median"]
        if copy and r.get("bytes_per_step"):
            floor = r["bytes_per_step"] / (copy * 1e12) * 1e3
            res[f"b{b}_floor_ms"] = floor
            res[f"b{b}_roofline_frac"] = floor / ms
        res[f"b{b}_mean_context"] = r.get("mean_context")
    elif r.get("error"):
        res[f"b{b}_error"] = r["error"]
    for mode in ("compile", "graph"):
        t = torch.get(f"torch_{mode}_b{b}_ms")
        res[f"torch_{mode}_b{b}_ms"] = t
        if t and ms:
            res[f"speedup_vs_torch_{mode}_b{b}"] = t / ms
    if b in targets:
        res[f"b{b}_target_ms"] = targets[b]
        res[f"b{b}_target_met"] = bool(ms) and ms <= targets[b]
tmp = out + ".tmp"
with open(tmp, "w") as f:
    json.dump(res, f, indent=1)
os.replace(tmp, out)

def f(v, fmt):
    return format(v, fmt) if isinstance(v, (int, float)) else "-"
print("")
print("================ decode benchmark (Llama-3-8B shape, bf16, context "
      f"{context}) ================")
print(f"copy bandwidth: {f(copy, '.3f')} TB/s ({res['copy_source']})"
      f"{'   GPU: ' + res['gpu'] if res.get('gpu') else ''}")
print(f"{'batch':>5s} {'ms/step':>9s} {'tok/s':>9s} {'floor ms':>9s} "
      f"{'roofline':>9s} {'torch.cmp':>9s} {'torch.gr':>9s} {'x cmp':>6s} "
      f"{'x graph':>7s} {'target':>7s}")
for b in batches:
    ms = res.get(f"b{b}_ms")
    frac = res.get(f"b{b}_roofline_frac")
    tgt = res.get(f"b{b}_target_ms")
    met = res.get(f"b{b}_target_met")
    print(f"{b:5d} {f(ms, '9.3f'):>9s} {f(res.get(f'b{b}_tok_s'), '9.0f'):>9s} "
          f"{f(res.get(f'b{b}_floor_ms'), '9.3f'):>9s} "
          f"{(f(frac * 100, '8.1f') + '%') if frac else '-':>9s} "
          f"{f(res.get(f'torch_compile_b{b}_ms'), '9.3f'):>9s} "
          f"{f(res.get(f'torch_graph_b{b}_ms'), '9.3f'):>9s} "
          f"{f(res.get(f'speedup_vs_torch_compile_b{b}'), '6.2f'):>6s} "
          f"{f(res.get(f'speedup_vs_torch_graph_b{b}'), '7.2f'):>7s} "
          f"{('<=' + format(tgt, 'g') + (' ok' if met else ' MISS')) if tgt else '':>7s}")
if res["failed_phases"]:
    print("failed phases: " + " ".join(res["failed_phases"]) +
          " (see decode.log)")
print(f"json: {out}")
PY
}
trap merge EXIT

phase() { # phase NAME CMD...: runs, logs, records failure, never exits
  local name=$1
  shift
  echo "=== $name: $*" | tee -a "$LOG"
  local start=$SECONDS rc=0
  "$@" 2>&1 | tee -a "$LOG" || rc=${PIPESTATUS[0]}
  echo "=== $name: exit $rc after $((SECONDS - start)) s" | tee -a "$LOG"
  if [ "$rc" -ne 0 ]; then FAILED+=("$name"); fi
  return 0
}

if ! command -v nvidia-smi >/dev/null || ! nvidia-smi -L >/dev/null 2>&1; then
  echo "decode.sh: no GPU here (nvidia-smi -L fails): run it on the device" >&2
  FAILED+=(no-gpu)
  exit 1
fi
for f in "$CASE/config.json" "$CASE/model.art" "$INFER_RUN"; do
  if [ ! -e "$f" ]; then
    echo "decode.sh: missing $f: run 'bash bench/e2e/prepare.sh' here and" \
      "carry bench/e2e/cases" >&2
    FAILED+=(missing-inputs)
    exit 1
  fi
done

if has weights; then
  phase weights python3 bench/e2e/hf_weights.py "$CASE" "$WEIGHTS"
fi
if has infer; then
  if [ -f "$WEIGHTS/infer_recipe.json" ]; then
    rm -f "$STATE/infer_bench.json"
    phase infer "$INFER_RUN" "$CASE/model.art" --weights "$WEIGHTS" \
      --device cuda --bench --batch "$BATCHES" --context "$CONTEXT" \
      --bench-steps "$STEPS" --bench-json "$STATE/infer_bench.json"
  else
    echo "decode.sh: no weights in $WEIGHTS (phase 'weights' first)" | tee -a "$LOG"
    FAILED+=(infer)
  fi
fi
if has profile; then
  if [ -f "$WEIGHTS/infer_recipe.json" ]; then
    phase profile "$INFER_RUN" "$CASE/model.art" --weights "$WEIGHTS" \
      --device cuda --bench --bench-kernels --batch "$PROFILE_BATCHES" \
      --context "$CONTEXT" --bench-steps 5 \
      --bench-json "${OUT:-$STATE}/infer_kernels.json"
  else
    echo "decode.sh: no weights in $WEIGHTS (phase 'weights' first)" | tee -a "$LOG"
    FAILED+=(profile)
  fi
fi
if has torch; then
  model_args=()
  if [ -f "$WEIGHTS/infer_recipe.json" ]; then
    model_args=(--model-dir "$WEIGHTS")
  else
    echo "decode.sh: torch on its own random weights (no $WEIGHTS)" | tee -a "$LOG"
  fi
  rm -f "$STATE/torch_decode.json"
  phase torch env PYTHONUNBUFFERED=1 python3 bench/e2e/torch_decode.py \
    --json "$STATE/torch_decode.json" --batches "$BATCHES" \
    --context "$CONTEXT" --modes "$TORCH_MODES" "${model_args[@]}"
fi
[ ${#FAILED[@]} -eq 0 ]
