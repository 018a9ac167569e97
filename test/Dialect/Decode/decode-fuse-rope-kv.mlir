// RUN: infer-opt %s --decode-fuse-rope-kv --split-input-file | FileCheck %s

// x = [q | k | v] of 4 heads and 2 kv heads of 64 (256 + 128 + 128): the
// query rope, the key rope and the append become one rope_append.

!cache = !decode.kv_cache<layers = 2, kv_heads = 2, head_dim = 64, block_size = 16, dtype = bf16>

// CHECK-LABEL: func.func @packed_qkv
// CHECK-SAME: (%[[X:[^:]*]]: tensor<?x512xbf16>, %[[POS:[^:]*]]: tensor<?xi32>, %[[SLOTS:[^:]*]]: tensor<?xi32>, %[[BT:[^:]*]]: tensor<?x?xi32>, %[[CL:[^:]*]]: tensor<?xi32>, %[[QS:[^:]*]]: tensor<?xi32>, %[[C:[^:]*]]: !decode.kv_cache
// CHECK-NOT: decode.rope %
// CHECK-NOT: decode.kv_append
// CHECK: %[[Q:.*]], %[[C1:.*]] = decode.rope_append %[[C]][%[[SLOTS]]], %[[X]], %[[POS]] {layer = 1 : i64, num_heads = 4 : i64, theta = 5.000000e+05 : f32} : !decode.kv_cache<{{.*}}>, tensor<?xi32>, tensor<?x512xbf16>, tensor<?xi32> -> tensor<?x256xbf16>
// CHECK-NEXT: %[[A:.*]] = decode.paged_attention %[[Q]], %[[C1]][%[[BT]], %[[CL]], %[[QS]]]
// CHECK-NOT: decode.rope %
// CHECK-NOT: decode.kv_append
// CHECK: return %[[A]], %[[C1]]
func.func @packed_qkv(%x: tensor<?x512xbf16>, %pos: tensor<?xi32>, %slots: tensor<?xi32>, %bt: tensor<?x?xi32>, %cl: tensor<?xi32>, %qs: tensor<?xi32>, %cache: !cache) -> (tensor<?x256xbf16>, !cache) {
  %q = decode.slice %x[0] : tensor<?x512xbf16> -> tensor<?x256xbf16>
  %k = decode.slice %x[256] : tensor<?x512xbf16> -> tensor<?x128xbf16>
  %v = decode.slice %x[384] : tensor<?x512xbf16> -> tensor<?x128xbf16>
  %qr = decode.rope %q, %pos {head_dim = 64 : i64, theta = 5.0e+05 : f32} : tensor<?x256xbf16>, tensor<?xi32>
  %kr = decode.rope %k, %pos {head_dim = 64 : i64, theta = 5.0e+05 : f32} : tensor<?x128xbf16>, tensor<?xi32>
  %c1 = decode.kv_append %cache[%slots], %kr, %v {layer = 1 : i64} : !cache, tensor<?xi32>, tensor<?x128xbf16>, tensor<?x128xbf16>
  %a = decode.paged_attention %qr, %c1[%bt, %cl, %qs] {layer = 1 : i64, num_heads = 4 : i64, scale = 0.125 : f32} : tensor<?x256xbf16>, !cache, tensor<?x?xi32>, tensor<?xi32>, tensor<?xi32> -> tensor<?x256xbf16>
  return %a, %c1 : tensor<?x256xbf16>, !cache
}

// -----

// Llama 3 scaling carries over; the query is used before the append, so the
// fused op takes the query rope's place.

!cache = !decode.kv_cache<layers = 2, kv_heads = 2, head_dim = 64, block_size = 16, dtype = bf16>

// CHECK-LABEL: func.func @llama3_query_used_first
// CHECK: %[[Q:.*]], %[[C1:.*]] = decode.rope_append %{{.*}} {layer = 0 : i64, num_heads = 4 : i64, scaling = #decode.rope_scaling<kind = llama3, factor = 8{{.*}}>, theta = 5.000000e+05 : f32}
// CHECK-NEXT: %[[G:.*]] = decode.gather_tokens %[[Q]]
// CHECK: return %[[G]], %[[C1]]
func.func @llama3_query_used_first(%x: tensor<?x512xbf16>, %pos: tensor<?xi32>, %slots: tensor<?xi32>, %idx: tensor<?xi32>, %cache: !cache) -> (tensor<?x256xbf16>, !cache) {
  %q = decode.slice %x[0] : tensor<?x512xbf16> -> tensor<?x256xbf16>
  %qr = decode.rope %q, %pos {head_dim = 64 : i64, theta = 5.0e+05 : f32, scaling = #decode.rope_scaling<kind = llama3, factor = 8.0>} : tensor<?x256xbf16>, tensor<?xi32>
  %g = decode.gather_tokens %qr[%idx] : tensor<?x256xbf16>, tensor<?xi32> -> tensor<?x256xbf16>
  %k = decode.slice %x[256] : tensor<?x512xbf16> -> tensor<?x128xbf16>
  %v = decode.slice %x[384] : tensor<?x512xbf16> -> tensor<?x128xbf16>
  %kr = decode.rope %k, %pos {head_dim = 64 : i64, theta = 5.0e+05 : f32, scaling = #decode.rope_scaling<kind = llama3, factor = 8.0>} : tensor<?x128xbf16>, tensor<?xi32>
  %c1 = decode.kv_append %cache[%slots], %kr, %v {layer = 0 : i64} : !cache, tensor<?xi32>, tensor<?x128xbf16>, tensor<?x128xbf16>
  return %g, %c1 : tensor<?x256xbf16>, !cache
}

// -----

// Negative: x is [q | v | k]; the offsets do not match the rope_append layout.

!cache = !decode.kv_cache<layers = 2, kv_heads = 2, head_dim = 64, block_size = 16, dtype = bf16>

// CHECK-LABEL: func.func @swapped_kv
// CHECK-NOT: decode.rope_append
// CHECK: decode.kv_append
func.func @swapped_kv(%x: tensor<?x512xbf16>, %pos: tensor<?xi32>, %slots: tensor<?xi32>, %cache: !cache) -> (tensor<?x256xbf16>, !cache) {
  %q = decode.slice %x[0] : tensor<?x512xbf16> -> tensor<?x256xbf16>
  %v = decode.slice %x[256] : tensor<?x512xbf16> -> tensor<?x128xbf16>
  %k = decode.slice %x[384] : tensor<?x512xbf16> -> tensor<?x128xbf16>
  %qr = decode.rope %q, %pos {head_dim = 64 : i64, theta = 5.0e+05 : f32} : tensor<?x256xbf16>, tensor<?xi32>
  %kr = decode.rope %k, %pos {head_dim = 64 : i64, theta = 5.0e+05 : f32} : tensor<?x128xbf16>, tensor<?xi32>
  %c1 = decode.kv_append %cache[%slots], %kr, %v {layer = 0 : i64} : !cache, tensor<?xi32>, tensor<?x128xbf16>, tensor<?x128xbf16>
  return %qr, %c1 : tensor<?x256xbf16>, !cache
}

// -----

// Negative: the query is narrower than the gap before k (a hole in x).

!cache = !decode.kv_cache<layers = 2, kv_heads = 2, head_dim = 64, block_size = 16, dtype = bf16>

// CHECK-LABEL: func.func @query_width_mismatch
// CHECK-NOT: decode.rope_append
// CHECK: decode.kv_append
func.func @query_width_mismatch(%x: tensor<?x512xbf16>, %pos: tensor<?xi32>, %slots: tensor<?xi32>, %cache: !cache) -> (tensor<?x128xbf16>, !cache) {
  %q = decode.slice %x[0] : tensor<?x512xbf16> -> tensor<?x128xbf16>
  %k = decode.slice %x[256] : tensor<?x512xbf16> -> tensor<?x128xbf16>
  %v = decode.slice %x[384] : tensor<?x512xbf16> -> tensor<?x128xbf16>
  %qr = decode.rope %q, %pos {head_dim = 64 : i64, theta = 5.0e+05 : f32} : tensor<?x128xbf16>, tensor<?xi32>
  %kr = decode.rope %k, %pos {head_dim = 64 : i64, theta = 5.0e+05 : f32} : tensor<?x128xbf16>, tensor<?xi32>
  %c1 = decode.kv_append %cache[%slots], %kr, %v {layer = 0 : i64} : !cache, tensor<?xi32>, tensor<?x128xbf16>, tensor<?x128xbf16>
  return %qr, %c1 : tensor<?x128xbf16>, !cache
}

// -----

// Negative: the query rotates with other positions (or theta).

!cache = !decode.kv_cache<layers = 2, kv_heads = 2, head_dim = 64, block_size = 16, dtype = bf16>

// CHECK-LABEL: func.func @different_rotation
// CHECK-NOT: decode.rope_append
// CHECK: decode.kv_append
func.func @different_rotation(%x: tensor<?x512xbf16>, %pos: tensor<?xi32>, %pos2: tensor<?xi32>, %slots: tensor<?xi32>, %cache: !cache) -> (tensor<?x256xbf16>, tensor<?x256xbf16>, !cache) {
  %q = decode.slice %x[0] : tensor<?x512xbf16> -> tensor<?x256xbf16>
  %k = decode.slice %x[256] : tensor<?x512xbf16> -> tensor<?x128xbf16>
  %v = decode.slice %x[384] : tensor<?x512xbf16> -> tensor<?x128xbf16>
  %qr = decode.rope %q, %pos2 {head_dim = 64 : i64, theta = 5.0e+05 : f32} : tensor<?x256xbf16>, tensor<?xi32>
  %qr2 = decode.rope %q, %pos {head_dim = 64 : i64, theta = 1.0e+04 : f32} : tensor<?x256xbf16>, tensor<?xi32>
  %kr = decode.rope %k, %pos {head_dim = 64 : i64, theta = 5.0e+05 : f32} : tensor<?x128xbf16>, tensor<?xi32>
  %c1 = decode.kv_append %cache[%slots], %kr, %v {layer = 0 : i64} : !cache, tensor<?xi32>, tensor<?x128xbf16>, tensor<?x128xbf16>
  return %qr, %qr2, %c1 : tensor<?x256xbf16>, tensor<?x256xbf16>, !cache
}

// -----

// Negative: k and v come from separate projections, not one packed x.

!cache = !decode.kv_cache<layers = 2, kv_heads = 2, head_dim = 64, block_size = 16, dtype = bf16>

// CHECK-LABEL: func.func @unpacked
// CHECK-NOT: decode.rope_append
// CHECK: decode.kv_append
func.func @unpacked(%q: tensor<?x256xbf16>, %k: tensor<?x128xbf16>, %v: tensor<?x128xbf16>, %pos: tensor<?xi32>, %slots: tensor<?xi32>, %cache: !cache) -> (tensor<?x256xbf16>, !cache) {
  %qr = decode.rope %q, %pos {head_dim = 64 : i64, theta = 5.0e+05 : f32} : tensor<?x256xbf16>, tensor<?xi32>
  %kr = decode.rope %k, %pos {head_dim = 64 : i64, theta = 5.0e+05 : f32} : tensor<?x128xbf16>, tensor<?xi32>
  %c1 = decode.kv_append %cache[%slots], %kr, %v {layer = 0 : i64} : !cache, tensor<?xi32>, tensor<?x128xbf16>, tensor<?x128xbf16>
  return %qr, %c1 : tensor<?x256xbf16>, !cache
}
