// RUN: infer-opt %s --decode-plan-split-kv --split-input-file | FileCheck %s
// RUN: infer-opt %s --decode-plan-split-kv="num-sms=16 min-chunk=128" --split-input-file | FileCheck %s --check-prefix=SMALL
// RUN: not infer-opt %s --decode-plan-split-kv="num-sms=0" --split-input-file 2>&1 | FileCheck %s --check-prefix=ERR

// ERR: decode-plan-split-kv: num-sms and min-chunk must be positive

// 2 kv heads on 132 SMs: ceil(264 / 2) = 132 -> 128 -> capped at 64.
// On 16 SMs: ceil(32 / 2) = 16.

!cache = !decode.kv_cache<layers = 2, kv_heads = 2, head_dim = 64, block_size = 16, dtype = bf16>

// CHECK-LABEL: func.func @small_llama
// CHECK: decode.paged_attention {{.*}}split_kv = 64 : i64
// SMALL-LABEL: func.func @small_llama
// SMALL: decode.paged_attention {{.*}}split_kv = 16 : i64
func.func @small_llama(%q: tensor<?x256xbf16>, %c: !cache, %bt: tensor<?x?xi32>, %cl: tensor<?xi32>, %qs: tensor<?xi32>) -> tensor<?x256xbf16> {
  %a = decode.paged_attention %q, %c[%bt, %cl, %qs] {layer = 0 : i64, num_heads = 4 : i64, scale = 0.125 : f32} : tensor<?x256xbf16>, !cache, tensor<?x?xi32>, tensor<?xi32>, tensor<?xi32> -> tensor<?x256xbf16>
  return %a : tensor<?x256xbf16>
}

// -----

// Llama-3-8B: 8 kv heads: ceil(264 / 8) = 33 -> 32 (two waves at most).
// On 16 SMs: ceil(32 / 8) = 4. A previous plan is replaced.

!cache = !decode.kv_cache<layers = 32, kv_heads = 8, head_dim = 128, block_size = 16, dtype = bf16>

// CHECK-LABEL: func.func @llama3_8b
// CHECK: decode.paged_attention {{.*}}split_kv = 32 : i64
// SMALL-LABEL: func.func @llama3_8b
// SMALL: decode.paged_attention {{.*}}split_kv = 4 : i64
func.func @llama3_8b(%q: tensor<?x4096xbf16>, %c: !cache, %bt: tensor<?x?xi32>, %cl: tensor<?xi32>, %qs: tensor<?xi32>) -> tensor<?x4096xbf16> {
  %a = decode.paged_attention %q, %c[%bt, %cl, %qs] {layer = 31 : i64, num_heads = 32 : i64, scale = 0.0883883 : f32, split_kv = 1 : i64} : tensor<?x4096xbf16>, !cache, tensor<?x?xi32>, tensor<?xi32>, tensor<?xi32> -> tensor<?x4096xbf16>
  return %a : tensor<?x4096xbf16>
}

// -----

// A sliding window of 1024 bounds the keys: at most ceil(1024 / 256) = 4
// splits of min-chunk tokens (8 with min-chunk=128, then 16 SMs allow 16).

!cache = !decode.kv_cache<layers = 2, kv_heads = 2, head_dim = 64, block_size = 16, dtype = bf16>

// CHECK-LABEL: func.func @sliding_window
// CHECK: decode.paged_attention {{.*}}split_kv = 4 : i64
// SMALL-LABEL: func.func @sliding_window
// SMALL: decode.paged_attention {{.*}}split_kv = 8 : i64
func.func @sliding_window(%q: tensor<?x256xbf16>, %c: !cache, %bt: tensor<?x?xi32>, %cl: tensor<?xi32>, %qs: tensor<?xi32>) -> tensor<?x256xbf16> {
  %a = decode.paged_attention %q, %c[%bt, %cl, %qs] {layer = 0 : i64, num_heads = 4 : i64, scale = 0.125 : f32, sliding_window = 1024 : i64} : tensor<?x256xbf16>, !cache, tensor<?x?xi32>, tensor<?xi32>, tensor<?xi32> -> tensor<?x256xbf16>
  return %a : tensor<?x256xbf16>
}

// -----

// A window shorter than one chunk is not split.

!cache = !decode.kv_cache<layers = 2, kv_heads = 2, head_dim = 64, block_size = 16, dtype = bf16>

// CHECK-LABEL: func.func @short_window
// CHECK: decode.paged_attention {{.*}}split_kv = 1 : i64
// SMALL-LABEL: func.func @short_window
// SMALL: decode.paged_attention {{.*}}split_kv = 1 : i64
func.func @short_window(%q: tensor<?x256xbf16>, %c: !cache, %bt: tensor<?x?xi32>, %cl: tensor<?xi32>, %qs: tensor<?xi32>) -> tensor<?x256xbf16> {
  %a = decode.paged_attention %q, %c[%bt, %cl, %qs] {layer = 0 : i64, num_heads = 4 : i64, scale = 0.125 : f32, sliding_window = 100 : i64} : tensor<?x256xbf16>, !cache, tensor<?x?xi32>, tensor<?xi32>, tensor<?xi32> -> tensor<?x256xbf16>
  return %a : tensor<?x256xbf16>
}
