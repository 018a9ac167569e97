#!/usr/bin/env bash
# Compiles the attention / rope kernels the H100 harness (attn_bench.py) runs:
# one decode-IR module per configuration -> convert-decode-to-gpu -> cubin
# (ptxas from the CUDA toolkit) + PTX + launch list, into bench/attention/out.
# usage: build_kernels.sh [infer-opt]   (no GPU needed)
# ATTN_OUT=DIR writes elsewhere; ATTN_OPTIONS="..." adds pipeline options to
# every kernel (attn_bench.py reads INFER_ATTN_OUT).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
opt=${1:-$here/../../build/bin/infer-opt}
cuda=${CUDA_ROOT:-/usr/local/cuda}
out=${ATTN_OUT:-$here/out}
mkdir -p "$out"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

lower() { # name format [extra pipeline options [output name]]
  local dst=${4:-$1}
  "$opt" "$tmp/$1.mlir" \
    --infer-decode-to-cuda-pipeline="format=$2 toolkit=$cuda optimize=false ${ATTN_OPTIONS:-} ${3:-}" \
    -o "$tmp/$dst.$2.mlir"
  python3 "$here/extract.py" "$tmp/$dst.$2.mlir" "$out/$dst"
}

# attention NAME ROLE HQ HKV HD SPLIT [WINDOW] [KERNEL (mma|simt, default
# what decode-select-kernels picks: mma for GQA)]
attention() {
  local name=$1 role=$2 hq=$3 hkv=$4 hd=$5 split=$6 window=${7:-}
  local kernel=${8:-mma}
  local n=$((hq * hd))
  local scale
  scale=$(python3 -c "print(1/$hd**0.5)")
  local extra=""
  [ -n "$window" ] && extra=", sliding_window = $window : i64"
  cat > "$tmp/$name.mlir" <<MLIR
!cache = !decode.kv_cache<layers = 2, kv_heads = $hkv, head_dim = $hd, block_size = 16, dtype = bf16>
func.func @step(%q: tensor<?x${n}xbf16>, %cache: !cache, %bt: tensor<?x?xi32>,
                %ctx: tensor<?xi32>, %qs: tensor<?xi32>) -> tensor<?x${n}xbf16>
    attributes {decode.role = #decode.role<$role>} {
  %o = decode.paged_attention %q, %cache[%bt, %ctx, %qs]
      {layer = 1 : i64, num_heads = $hq : i64, scale = $scale : f32,
       split_kv = $split : i64$extra,
       kernel = #decode.attention_kernel<$kernel>}
      : tensor<?x${n}xbf16>, !cache, tensor<?x?xi32>, tensor<?xi32>,
        tensor<?xi32> -> tensor<?x${n}xbf16>
  return %o : tensor<?x${n}xbf16>
}
MLIR
  lower "$name" bin
  lower "$name" isa
}

attention dec_32_8_128 decode 32 8 128 64
attention dec_28_4_128 decode 28 4 128 64
attention dec_64_8_128 decode 64 8 128 64
attention dec_32_8_64 decode 32 8 64 64
attention dec_32_8_128_w decode 32 8 128 64 1000
attention ver_32_8_128 verify 32 8 128 8
attention ver_28_4_64 prefill 28 4 64 1
# The CUDA-core kernel, for comparison (attn_bench.py --variants).
attention dec_32_8_128_simt decode 32 8 128 64 "" simt
# Register caps of the tensor-core kernel (3 and 4 resident blocks per SM).
for bps in 3 4; do
  lower dec_32_8_128 bin "attention-blocks-per-sm=$bps" dec_32_8_128_bps$bps
done
# Blocks of 1 and 2 warps (default 4), with the default split budget of 8
# warps per SM and with 4.
for w in 1 2; do
  lower dec_32_8_128 bin "attention-warps=$w" dec_32_8_128_w$w
  lower dec_32_8_128 bin "attention-warps=$w attention-split-warps-per-sm=4" \
    dec_32_8_128_w${w}s4
done
# K/V loads without the L2 prefetch-size hint, or with 64 or 128 bytes
# (default 256: a whole K/V row).
for l2 in 0 64 128; do
  lower dec_32_8_128 bin "attention-l2-prefetch=$l2" dec_32_8_128_l2p$l2
done
# The ring kernel (K/V chunks by cp.async.bulk through shared memory; by
# default from 65 tokens, 3 chunks per warp) at every step, 2 to 4 chunks per
# warp, and no ring kernel (the next chunk in registers at every step).
for st in 2 3 4; do
  lower dec_32_8_128 bin "attention-stages=$st attention-ring-min-tokens=1" \
    dec_32_8_128_ring$st
done
lower dec_32_8_128 bin "attention-stages=0" dec_32_8_128_noring

# rope_append + rope + kv_append, Llama-3 scaling, 32/8 heads of 128.
cat > "$tmp/rope.mlir" <<'MLIR'
!cache = !decode.kv_cache<layers = 2, kv_heads = 8, head_dim = 128, block_size = 16, dtype = bf16>
func.func @step(%qkv: tensor<?x6144xbf16>, %pos: tensor<?xi32>, %slots: tensor<?xi32>,
                %cache: !cache, %k: tensor<?x1024xbf16>, %v: tensor<?x1024xbf16>)
    -> (tensor<?x4096xbf16>, !cache, tensor<?x1024xbf16>, !cache)
    attributes {decode.role = #decode.role<prefill>} {
  %q, %c1 = decode.rope_append %cache[%slots], %qkv, %pos
      {layer = 1 : i64, num_heads = 32 : i64, theta = 500000.0 : f32,
       scaling = #decode.rope_scaling<kind = llama3, factor = 8.0,
                 low_freq_factor = 1.0, high_freq_factor = 4.0,
                 original_max_position = 8192>}
      : !cache, tensor<?xi32>, tensor<?x6144xbf16>, tensor<?xi32> -> tensor<?x4096xbf16>
  %kr = decode.rope %k, %pos {head_dim = 128 : i64, theta = 10000.0 : f32}
      : tensor<?x1024xbf16>, tensor<?xi32>
  %c2 = decode.kv_append %c1[%slots], %kr, %v {layer = 0 : i64}
      : !cache, tensor<?xi32>, tensor<?x1024xbf16>, tensor<?x1024xbf16>
  return %q, %c1, %kr, %c2 : tensor<?x4096xbf16>, !cache, tensor<?x1024xbf16>, !cache
}
MLIR
lower rope bin
lower rope isa
ls -la "$out"
