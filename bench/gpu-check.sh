#!/usr/bin/env bash
# bench/gpu-check.sh - every GPU check of infer in one device call.
#
# The device machine (the `run` tool, kind nvidia-h100-x1) has the NVIDIA
# driver, nvcc, compute-sanitizer, cmake, ninja and python3 with torch, but
# no LLVM/MLIR and no network. So the binaries and the compiled artifacts
# are built HERE and carried in one git-ignored folder:
#
#   build-gpucheck/
#     bin/infer-runtime-tests     runtime unit tests (GPU tests included)
#     bin/infer-run               end to end driver (when it exists)
#     models/<name>.art           artifacts compiled with --target cuda
#     models/<name>/              their weights (make_weights.py)
#
# Prepare it here (no GPU needed; reuses existing builds, builds nothing big):
#
#   bash bench/gpu-check.sh --prepare [--build DIR] [--runtime-build DIR]
#
#   --build DIR          where bin/infer-compile and bin/infer-run are
#                        (default: build)
#   --runtime-build DIR  where bin/infer-runtime-tests is (default: the
#                        first of DIR, build-cuda that has it)
#
# then, from the repository root, one device call:
#
#   run(command="bash bench/gpu-check.sh", carry=["build-gpucheck"],
#       kind="nvidia-h100-x1", timeout_s=600)
#
# Total carried size must stay under 64 MiB (--prepare prints it). On the
# device the script runs: the environment check, all runtime unit tests
# (the compiled-model tests get INFER_TEST_CUDA_ARTIFACT/_WEIGHTS), the GPU
# tests under compute-sanitizer (memcheck, racecheck, synccheck, initcheck),
# infer-run cpu vs cuda greedy generation when infer-run exists, the decode
# latency benchmark, and the python harnesses in bench/kernels/ and
# bench/attention/ when present (bench/e2e/torch_decode.py with --with-torch;
# a harness is a script there that imports torch or cupy and whose name does
# not start with '_'; it runs with no arguments and must print its own
# table).
# Everything is logged to $OUT/gpu-check.log; a summary table is printed last
# and written to $OUT/summary.txt.
#
# Options (device mode):
#   --with-torch        also run the torch e2e baseline
#   --quick             skip compute-sanitizer runs
#   --sanitizers LIST   compute-sanitizer tools (default
#                       memcheck,racecheck,synccheck,initcheck)
#   --no-harness        skip the python harnesses
#   --budget S          stop starting steps after S seconds (default 540, so
#                       the summary prints inside run's 600 s limit)
#   --with-8b           (also for --prepare) a Llama-3-8B-shaped artifact:
#                       --prepare compiles examples/configs/llama-3-8b.json
#                       into $CARRY/models-big/ (kernels only, ~1 MiB); on
#                       the device its bf16 weights are generated (~16 GB,
#                       a few minutes) and the decode latency bench runs on it
#   --dir DIR           carried folder (default build-gpucheck)

set -uo pipefail

MODE=device
BUILD=build
RT_BUILD=
CARRY=build-gpucheck
WITH_TORCH=0
QUICK=0
HARNESS=1
WITH_8B=0
SANITIZERS=memcheck,racecheck,synccheck,initcheck
BUDGET=540
while [ $# -gt 0 ]; do
  case "$1" in
  --prepare) MODE=prepare ;;
  --build) BUILD=$2; shift ;;
  --runtime-build) RT_BUILD=$2; shift ;;
  --dir) CARRY=$2; shift ;;
  --with-torch) WITH_TORCH=1 ;;
  --quick) QUICK=1 ;;
  --no-harness) HARNESS=0 ;;
  --sanitizers) SANITIZERS=$2; shift ;;
  --budget) BUDGET=$2; shift ;;
  --with-8b) WITH_8B=1 ;;
  -h | --help) sed -n '2,56p' "$0"; exit 0 ;;
  *) echo "gpu-check: unknown option '$1' (see --help)" >&2; exit 2 ;;
  esac
  shift
done

if [ ! -d runtime ] || [ ! -d bench ]; then
  echo "gpu-check: run me from the repository root" >&2
  exit 2
fi

#===------------------------------------------------------------------------===#
# Prepare (here)
#===------------------------------------------------------------------------===#
if [ "$MODE" = prepare ]; then
  set -e
  mkdir -p "$CARRY/bin" "$CARRY/models"
  if [ -z "$RT_BUILD" ]; then
    for d in "$BUILD" build-cuda; do
      if [ -x "$d/bin/infer-runtime-tests" ]; then RT_BUILD=$d; break; fi
    done
  fi
  if [ -z "$RT_BUILD" ] || [ ! -x "$RT_BUILD/bin/infer-runtime-tests" ]; then
    echo "gpu-check: no infer-runtime-tests; build the runtime first:" >&2
    echo "  cmake -G Ninja -S runtime -B build-cuda -DCMAKE_BUILD_TYPE=Release && ninja -C build-cuda" >&2
    exit 1
  fi
  cp -f "$RT_BUILD/bin/infer-runtime-tests" "$CARRY/bin/"
  echo "runtime tests: $RT_BUILD/bin/infer-runtime-tests"
  if [ -x "$BUILD/bin/infer-run" ]; then
    cp -f "$BUILD/bin/infer-run" "$CARRY/bin/"
    echo "infer-run: $BUILD/bin/infer-run"
  elif [ -f "$RT_BUILD/libinfer_runtime.a" ] && [ -f tools/infer-run/infer-run.cpp ]; then
    # infer-run needs only the runtime: build it against the runtime library.
    CXX=${CXX:-$(command -v clang++-22 || command -v c++)}
    echo "infer-run: building with $CXX against $RT_BUILD/libinfer_runtime.a"
    "$CXX" -std=c++17 -O2 -DINFER_RUNTIME_HAS_CUDA_BACKEND -Iruntime/include \
      tools/infer-run/infer-run.cpp "$RT_BUILD/libinfer_runtime.a" \
      -lpthread -ldl -o "$CARRY/bin/infer-run"
  else
    echo "infer-run: not built in $BUILD (end-to-end step will be skipped)"
  fi
  if [ -x "$BUILD/bin/infer-compile" ]; then
    for cfg in examples/*/config.json; do
      [ -f "$cfg" ] || continue
      dir=$(dirname "$cfg")
      name=$(basename "$dir")
      echo "compiling $dir for cuda"
      if "$BUILD/bin/infer-compile" "$dir" -o "$CARRY/models/$name.art" \
        --target cuda; then
        if [ -f "$dir/make_weights.py" ]; then
          mkdir -p "$CARRY/models/$name"
          python3 "$dir/make_weights.py" "$cfg" "$CARRY/models/$name"
        fi
        # The same kernels recording their start and end times.
        "$BUILD/bin/infer-compile" "$dir" -o "$CARRY/models/$name.timeline.art" \
          --target cuda --target-options=timeline=1 ||
          rm -f "$CARRY/models/$name.timeline.art"
      else
        echo "  infer-compile failed for $dir (skipped)"
        rm -f "$CARRY/models/$name.art"
      fi
    done
    if [ "$WITH_8B" = 1 ]; then
      mkdir -p "$CARRY/models-big"
      echo "compiling examples/configs/llama-3-8b.json for cuda"
      "$BUILD/bin/infer-compile" examples/configs/llama-3-8b.json \
        -o "$CARRY/models-big/llama-3-8b.art" --target cuda ||
        rm -f "$CARRY/models-big/llama-3-8b.art"
    fi
  else
    echo "infer-compile: not built in $BUILD (no compiled models; only the"
    echo "  synthetic-artifact GPU tests will run)"
  fi
  ls -la "$CARRY/bin" "$CARRY/models"
  size=$(du -sm "$CARRY" | cut -f1)
  echo "carry size: ${size} MiB (limit 64 MiB for the whole working tree)"
  [ "$size" -lt 60 ] || echo "WARNING: $CARRY is too large to carry"
  echo "next: run(command=\"bash bench/gpu-check.sh\", carry=[\"$CARRY\"])"
  exit 0
fi

#===------------------------------------------------------------------------===#
# Device mode
#===------------------------------------------------------------------------===#
OUT=${OUT:-/tmp/gpu-check-out}
mkdir -p "$OUT"
export PATH="$PATH:/usr/local/cuda/bin"
LOG="$OUT/gpu-check.log"
: >"$LOG"
SUMMARY=()
FAILS=0
BIN="$CARRY/bin"
[ -x "$BIN/infer-runtime-tests" ] || BIN=build/bin

log() { echo "$*" | tee -a "$LOG"; }

# step NAME TIMEOUT_S CMD... : runs CMD with a time limit, appends its output
# to the log, records PASS/FAIL/TIMEOUT with the duration and a note (the
# last line matching $NOTE_RE, if set).
NOTE_RE=
step() {
  local name=$1 limit=$2
  shift 2
  local left=$((BUDGET - SECONDS))
  if [ "$left" -lt 20 ]; then
    skip "$name" "time budget (--budget $BUDGET) spent"
    NOTE_RE=
    return 0
  fi
  [ "$limit" -le $((left - 10)) ] || limit=$((left - 10))
  log ""
  log "=== $name: $* (limit ${limit}s)"
  local start=$SECONDS tmp
  tmp=$(mktemp)
  timeout --kill-after=10 "$limit" "$@" >"$tmp" 2>&1
  local rc=$?
  cat "$tmp" >>"$LOG"
  local status=PASS
  if [ $rc -eq 124 ] || [ $rc -eq 137 ]; then
    status=TIMEOUT
  elif [ $rc -ne 0 ]; then
    status="FAIL($rc)"
  fi
  [ "$status" = PASS ] || FAILS=$((FAILS + 1))
  local note=""
  if [ -n "$NOTE_RE" ]; then
    note=$(grep -E "$NOTE_RE" "$tmp" | tail -n 3 | tr '\n' ' ' | cut -c1-110)
  fi
  [ "$status" = PASS ] || tail -n 15 "$tmp"
  rm -f "$tmp"
  SUMMARY+=("$(printf '%-34s %-9s %5ds  %s' "$name" "$status" $((SECONDS - start)) "$note")")
  NOTE_RE=
  return 0
}
skip() {
  log ""
  log "=== $1: SKIP ($2)"
  SUMMARY+=("$(printf '%-34s %-9s %5s   %s' "$1" SKIP - "$2")")
}

log "gpu-check $(date -u +%FT%TZ) in $(pwd), binaries from $BIN"
GPU_FILTER='CudaDriverTest.*:CudaBackendTest.*:KernelSource/*:Graphs/*'

# 1. Environment.
NOTE_RE='NVIDIA|release'
step env 60 bash -c 'nvidia-smi --query-gpu=name,driver_version,memory.total,memory.used --format=csv,noheader; nvcc --version | tail -n 2; command -v compute-sanitizer'

if [ ! -x "$BIN/infer-runtime-tests" ]; then
  skip unit-tests "no $CARRY/bin/infer-runtime-tests: run --prepare here and carry $CARRY"
else
  # The first compiled model feeds the compiled-model tests.
  ART=""
  WEIGHTS=""
  for a in "$CARRY"/models/*.art; do
    [ -f "$a" ] || continue
    w="${a%.art}"
    if [ -d "$w" ] || [ -f "$w.safetensors" ]; then
      ART=$a
      WEIGHTS=$w
      [ -d "$w" ] || WEIGHTS="$w.safetensors"
      break
    fi
  done
  if [ -n "$ART" ]; then
    export INFER_TEST_CUDA_ARTIFACT="$ART" INFER_TEST_CUDA_WEIGHTS="$WEIGHTS"
    log "compiled model: $ART with weights $WEIGHTS"
    if [ -f "${ART%.art}.timeline.art" ]; then
      export INFER_TEST_CUDA_TIMELINE_ARTIFACT="${ART%.art}.timeline.art"
    fi
  else
    log "no compiled model in $CARRY/models: compiled-model tests skip"
  fi

  # 2. All runtime unit tests (CPU ones too: same binary, same machine).
  NOTE_RE='\[ +(PASSED|SKIPPED|FAILED) +\] [0-9]+ test'
  step unit-tests 240 "$BIN/infer-runtime-tests" --gtest_color=no \
    --gtest_filter='-CompiledModelBench.*'

  # 3. Decode latency (graphs vs eager) on the compiled model.
  if [ -n "$ART" ]; then
    NOTE_RE='^BENCH'
    step bench-decode-latency 180 "$BIN/infer-runtime-tests" --gtest_color=no \
      --gtest_filter='CompiledModelBench.*'
    grep '^BENCH' "$LOG" | sed 's/^/  /' >"$OUT/bench.txt" || true
  else
    skip bench-decode-latency "no compiled model"
  fi
fi

# 4. The same benchmark on a Llama-3-8B-shaped model (opt-in).
BIG="$CARRY/models-big/llama-3-8b.art"
if [ "$WITH_8B" = 1 ] && [ -f "$BIG" ] && [ -x "$BIN/infer-runtime-tests" ]; then
  NOTE_RE='wrote|error'
  step llama3-8b-weights 300 python3 examples/tiny-llama/make_weights.py \
    examples/configs/llama-3-8b.json /tmp/llama-3-8b
  NOTE_RE='^BENCH'
  step bench-decode-latency-8b 240 env INFER_TEST_CUDA_ARTIFACT="$BIG" \
    INFER_TEST_CUDA_WEIGHTS=/tmp/llama-3-8b "$BIN/infer-runtime-tests" \
    --gtest_color=no --gtest_filter='CompiledModelBench.*'
  grep '^BENCH' "$LOG" | sed 's/^/  /' >"$OUT/bench.txt" || true
elif [ "$WITH_8B" = 1 ]; then
  skip bench-decode-latency-8b "no $BIG (prepare with --with-8b)"
fi

# 5. End to end through infer-run (createBackend -> createCudaBackend):
#    greedy generation on cpu and cuda must print the same token ids, then a
#    serving trace on cuda (64 requests at t=0) for throughput and TPOT.
if [ -x "$BIN/infer-run" ] && [ -n "${ART:-}" ]; then
  # compare NAME ARGS: cpu and cuda must print the same token ids. "sampled"
  # uses the GPU sampler (top-k 40); "host-sampled" (top-k off) the host
  # fallback for rows the GPU sampler leaves at -1.
  # Sampled runs are informational: on this tiny model the distribution is
  # nearly flat, so sub-percent logit differences reorder the candidates and
  # change draws (the sampler itself is checked on identical logits by
  # bench/kernels/kernels.py); they must still produce valid tokens.
  compare_devices() {
    local name=$1 args=$2 strict=${3:-strict}
    for dev in cpu cuda; do
      NOTE_RE='infer-run:|error'
      step "infer-run-$name-$dev" 120 bash -c "\"$BIN/infer-run\" \"$ART\" --weights \"$WEIGHTS\" --device $dev $args > \"$OUT/infer-run-$name-$dev.txt\""
      log "ids ($name, $dev): $(cat "$OUT/infer-run-$name-$dev.txt" 2>/dev/null)"
    done
    if [ -s "$OUT/infer-run-$name-cpu.txt" ] &&
      cmp -s "$OUT/infer-run-$name-cpu.txt" "$OUT/infer-run-$name-cuda.txt"; then
      SUMMARY+=("$(printf '%-34s %-9s %5s   %s' "infer-run-$name-cpu-vs-cuda" PASS - "same $(tr ',' '\n' <"$OUT/infer-run-$name-cpu.txt" | wc -l) tokens")")
    elif [ "$strict" != strict ] && [ -s "$OUT/infer-run-$name-cuda.txt" ] &&
      ! grep -q -- '-' "$OUT/infer-run-$name-cuda.txt"; then
      same=$(paste -d' ' <(tr ',' '\n' <"$OUT/infer-run-$name-cpu.txt") \
        <(tr ',' '\n' <"$OUT/infer-run-$name-cuda.txt") |
        awk '$1 != $2 { print NR - 1; exit } END { if (!NR) print 0 }')
      SUMMARY+=("$(printf '%-34s %-9s %5s   %s' "infer-run-$name-cpu-vs-cuda" INFO - "valid tokens; first ${same:-all} identical")")
    else
      SUMMARY+=("$(printf '%-34s %-9s %5s   %s' "infer-run-$name-cpu-vs-cuda" FAIL - 'token ids differ or missing (see log)')")
      FAILS=$((FAILS + 1))
    fi
  }
  E2E_ARGS=${INFER_RUN_ARGS:-"--prompt-ids 1,15,27,300,42,7 --max-tokens 32 --ignore-eos"}
  compare_devices greedy "$E2E_ARGS"
  compare_devices sampled "$E2E_ARGS --temperature 0.8 --top-k 40 --seed 7" info
  compare_devices host-sampled "$E2E_ARGS --temperature 0.8 --top-p 0.9 --seed 7" info
  TRACE="$OUT/trace.jsonl"
  python3 - "$ART" "$TRACE" <<'PY'
import json, random, struct, sys
with open(sys.argv[1], 'rb') as f:
    head = f.read(24)
    header = json.loads(f.read(struct.unpack('<Q', head[16:24])[0]))
vocab = int(header['model']['vocab_size'])
rng = random.Random(0)
with open(sys.argv[2], 'w') as out:
    for i in range(64):
        prompt = [rng.randrange(3, vocab) for _ in range(rng.randrange(16, 129))]
        out.write(json.dumps({'id': i, 'prompt_ids': prompt, 'max_tokens': 64,
                              'arrival_s': 0, 'stop_ids': []}) + '\n')
PY
  NOTE_RE='Output token throughput|Median TPOT'
  step infer-run-cuda-trace64 180 "$BIN/infer-run" "$ART" --weights "$WEIGHTS" \
    --device cuda --trace "$TRACE" --ignore-eos
  rm -f "$TRACE"
else
  skip infer-run-cpu-vs-cuda "no infer-run binary or no compiled model"
fi

# 6. GPU tests under compute-sanitizer (after the functional checks, which
#    matter most when the time budget runs short).
if [ ! -x "$BIN/infer-runtime-tests" ]; then
  skip compute-sanitizer "no infer-runtime-tests"
elif [ "$QUICK" = 1 ]; then
  skip compute-sanitizer "--quick"
elif ! command -v compute-sanitizer >/dev/null; then
  skip compute-sanitizer "compute-sanitizer not found"
else
  for tool in ${SANITIZERS//,/ }; do
    NOTE_RE='ERROR SUMMARY|\[ +(PASSED|FAILED) +\] [0-9]+ test'
    step "sanitizer-$tool" 240 compute-sanitizer --tool "$tool" \
      --error-exitcode 86 --report-api-errors no --target-processes all \
      "$BIN/infer-runtime-tests" --gtest_color=no \
      --gtest_filter="$GPU_FILTER"
  done
fi

# 7. Python harnesses of the kernel and attention engineers.
found=0
[ "$HARNESS" = 1 ] || found=2
for f in bench/kernels/*.py bench/attention/*.py; do
  [ "$HARNESS" = 1 ] || break
  [ -f "$f" ] || continue
  case "$(basename "$f")" in _* | common*.py | util*.py) continue ;; esac
  # Device harnesses use torch or cupy; the rest run here (extractors).
  grep -qE '^(import|from) (torch|cupy)' "$f" || continue
  found=1
  NOTE_RE='%|GB/s|TB/s|us|ms|PASS|FAIL|rel'
  # kernels.py checks and times 102 cases and their variants (~200 s).
  limit=180
  [ "$(basename "$f")" = kernels.py ] && limit=300
  step "py:$(basename "$(dirname "$f")")/$(basename "$f")" $limit \
    env PYTHONUNBUFFERED=1 python3 "$f"
done
[ $found != 2 ] || skip python-harnesses "--no-harness"
[ $found != 0 ] || skip python-harnesses "no bench/kernels or bench/attention scripts"

# 8. Torch end-to-end baseline (opt-in: builds an 8B-shaped model).
if [ "$WITH_TORCH" = 1 ] && [ -f bench/e2e/torch_decode.py ]; then
  NOTE_RE='ms|TB/s'
  step torch-e2e 420 env PYTHONUNBUFFERED=1 python3 bench/e2e/torch_decode.py \
    --json "$OUT/torch_decode.json" --batches 1,64 --modes graph
else
  skip torch-e2e "opt-in: --with-torch"
fi

# Summary, last.
{
  echo ""
  echo "==================== gpu-check summary ===================="
  printf '%-34s %-9s %6s  %s\n' step status time note
  for row in "${SUMMARY[@]}"; do echo "$row"; done
  if grep -q '^\[ info \]' "$LOG"; then
    echo "-- compiled model vs CPU backend --"
    grep '^\[ info \]' "$LOG" | sort -u | cut -c1-200
  fi
  if [ -s "$OUT/bench.txt" ]; then
    echo "-- decode step latency (host wall ms, median) --"
    cat "$OUT/bench.txt"
  fi
  echo "failures: $FAILS   (full log: \$OUT/gpu-check.log)"
} | tee "$OUT/summary.txt" | tee -a "$LOG"
[ "$FAILS" -eq 0 ]
