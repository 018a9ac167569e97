// RUN: infer-opt %s -canonicalize -split-input-file | FileCheck %s
// RUN: infer-opt %s -canonicalize -cse -split-input-file | FileCheck %s --check-prefix=CSE

// x + (-0.0) is x for every x (including -0.0 and NaN), so the add folds away,
// with the constant on either side.

// CHECK-LABEL: func.func @add_neg_zero_rhs
// CHECK-SAME: (%[[X:.*]]: tensor<4x128xbf16>)
// CHECK-NOT: decode.add
// CHECK: return %[[X]]
func.func @add_neg_zero_rhs(%x: tensor<4x128xbf16>) -> tensor<4x128xbf16> {
  %z = arith.constant dense<-0.0> : tensor<4x128xbf16>
  %0 = decode.add %x, %z : tensor<4x128xbf16>
  return %0 : tensor<4x128xbf16>
}

// -----

// CHECK-LABEL: func.func @add_neg_zero_lhs
// CHECK-SAME: (%[[X:.*]]: tensor<4x128xf32>)
// CHECK-NOT: decode.add
// CHECK: return %[[X]]
func.func @add_neg_zero_lhs(%x: tensor<4x128xf32>) -> tensor<4x128xf32> {
  %z = arith.constant dense<-0.0> : tensor<4x128xf32>
  %0 = decode.add %z, %x : tensor<4x128xf32>
  return %0 : tensor<4x128xf32>
}

// -----

// x + (+0.0) is not x: for x = -0.0 the sum is +0.0 (round to nearest), so
// folding it would flip the sign of zero. The add must stay.

// CHECK-LABEL: func.func @add_pos_zero_kept
// CHECK-SAME: (%[[X:.*]]: tensor<4x128xbf16>)
// CHECK: %[[Z:.*]] = arith.constant dense<0.000000e+00> : tensor<4x128xbf16>
// CHECK: %[[S:.*]] = decode.add %[[X]], %[[Z]] : tensor<4x128xbf16>
// CHECK: return %[[S]]
func.func @add_pos_zero_kept(%x: tensor<4x128xbf16>) -> tensor<4x128xbf16> {
  %z = arith.constant dense<0.0> : tensor<4x128xbf16>
  %0 = decode.add %z, %x : tensor<4x128xbf16>
  return %0 : tensor<4x128xbf16>
}

// -----

// Only a splat of -0.0 is an identity; a constant with one other element is not.

// CHECK-LABEL: func.func @add_mixed_constant_kept
// CHECK: decode.add
func.func @add_mixed_constant_kept(%x: tensor<1x2xf32>) -> tensor<1x2xf32> {
  %z = arith.constant dense<[[-0.0, 1.0]]> : tensor<1x2xf32>
  %0 = decode.add %x, %z : tensor<1x2xf32>
  return %0 : tensor<1x2xf32>
}

// -----

// A slice of the whole width is its input.

// CHECK-LABEL: func.func @slice_full_width
// CHECK-SAME: (%[[X:.*]]: tensor<?x128xbf16>)
// CHECK-NOT: decode.slice
// CHECK: return %[[X]]
func.func @slice_full_width(%x: tensor<?x128xbf16>) -> tensor<?x128xbf16> {
  %0 = decode.slice %x[0] : tensor<?x128xbf16> -> tensor<?x128xbf16>
  return %0 : tensor<?x128xbf16>
}

// -----

// A slice of a slice is one slice at the sum of the offsets.

// CHECK-LABEL: func.func @slice_of_slice
// CHECK-SAME: (%[[X:.*]]: tensor<?x512xbf16>)
// CHECK-NEXT: %[[S:.*]] = decode.slice %[[X]][320] : tensor<?x512xbf16> -> tensor<?x64xbf16>
// CHECK-NEXT: return %[[S]]
func.func @slice_of_slice(%x: tensor<?x512xbf16>) -> tensor<?x64xbf16> {
  %0 = decode.slice %x[256] : tensor<?x512xbf16> -> tensor<?x128xbf16>
  %1 = decode.slice %0[64] : tensor<?x128xbf16> -> tensor<?x64xbf16>
  return %1 : tensor<?x64xbf16>
}

// -----

// Three levels compose too; the outer slice of a full-width inner slice
// remains a real slice.

// CHECK-LABEL: func.func @slice_chain
// CHECK-SAME: (%[[X:.*]]: tensor<?x512xbf16>)
// CHECK-NEXT: %[[S:.*]] = decode.slice %[[X]][100] : tensor<?x512xbf16> -> tensor<?x8xbf16>
// CHECK-NEXT: return %[[S]]
func.func @slice_chain(%x: tensor<?x512xbf16>) -> tensor<?x8xbf16> {
  %0 = decode.slice %x[0] : tensor<?x512xbf16> -> tensor<?x512xbf16>
  %1 = decode.slice %0[64] : tensor<?x512xbf16> -> tensor<?x128xbf16>
  %2 = decode.slice %1[32] : tensor<?x128xbf16> -> tensor<?x16xbf16>
  %3 = decode.slice %2[4] : tensor<?x16xbf16> -> tensor<?x8xbf16>
  return %3 : tensor<?x8xbf16>
}

// -----

// A slice at offset 0 that is narrower than its input is kept.

// CHECK-LABEL: func.func @slice_prefix_kept
// CHECK: decode.slice %{{.*}}[0] : tensor<?x128xbf16> -> tensor<?x64xbf16>
func.func @slice_prefix_kept(%x: tensor<?x128xbf16>) -> tensor<?x64xbf16> {
  %0 = decode.slice %x[0] : tensor<?x128xbf16> -> tensor<?x64xbf16>
  return %0 : tensor<?x64xbf16>
}

// -----

// Identical weights (same names, same type) are one value after CSE; a
// different name or a different type is not merged.

// CSE-LABEL: func.func @weight_cse
// CSE: %[[A:.*]] = decode.weight ["model.embed_tokens.weight"] : tensor<512x128xbf16>
// CSE: %[[B:.*]] = decode.weight ["lm_head.weight"] : tensor<512x128xbf16>
// CSE: %[[C:.*]] = decode.weight ["model.embed_tokens.weight"] : tensor<512x128xf32>
// CSE-NOT: decode.weight
// CSE: return %[[A]], %[[A]], %[[B]], %[[C]]
func.func @weight_cse() -> (tensor<512x128xbf16>, tensor<512x128xbf16>, tensor<512x128xbf16>, tensor<512x128xf32>) {
  %0 = decode.weight ["model.embed_tokens.weight"] : tensor<512x128xbf16>
  %1 = decode.weight ["model.embed_tokens.weight"] : tensor<512x128xbf16>
  %2 = decode.weight ["lm_head.weight"] : tensor<512x128xbf16>
  %3 = decode.weight ["model.embed_tokens.weight"] : tensor<512x128xf32>
  return %0, %1, %2, %3 : tensor<512x128xbf16>, tensor<512x128xbf16>, tensor<512x128xbf16>, tensor<512x128xf32>
}

// -----

// Identical pure ops on the same operands (two rms_norms) are CSE'd too.

// CSE-LABEL: func.func @pure_op_cse
// CSE: %[[N:.*]] = decode.rms_norm
// CSE-NOT: decode.rms_norm
// CSE: return %[[N]], %[[N]]
func.func @pure_op_cse(%x: tensor<?x128xbf16>) -> (tensor<?x128xbf16>, tensor<?x128xbf16>) {
  %w = decode.weight ["model.norm.weight"] : tensor<128xbf16>
  %0 = decode.rms_norm %x, %w {epsilon = 1.0e-05 : f32} : tensor<?x128xbf16>, tensor<128xbf16>
  %1 = decode.rms_norm %x, %w {epsilon = 1.0e-05 : f32} : tensor<?x128xbf16>, tensor<128xbf16>
  return %0, %1 : tensor<?x128xbf16>, tensor<?x128xbf16>
}

// -----

// Every decode op is pure: results nobody uses are erased, a dead
// kv_append included (the cache is an SSA value, so an unused update has no
// effect).

// CHECK-LABEL: func.func @dead_ops
// CHECK-SAME: (%[[C:[^:]*]]: !decode.kv_cache
// CHECK-NEXT: return %[[C]]
func.func @dead_ops(%c: !decode.kv_cache<layers = 1, kv_heads = 2, head_dim = 64, block_size = 16, dtype = bf16>,
                    %tokens: tensor<?xi32>, %slots: tensor<?xi32>, %bt: tensor<?x?xi32>,
                    %lens: tensor<?xi32>, %starts: tensor<?xi32>)
    -> !decode.kv_cache<layers = 1, kv_heads = 2, head_dim = 64, block_size = 16, dtype = bf16> {
  %e = decode.weight ["model.embed_tokens.weight"] : tensor<512x256xbf16>
  %x = decode.embed %tokens, %e : (tensor<?xi32>, tensor<512x256xbf16>) -> tensor<?x256xbf16>
  %nw = decode.weight ["model.norm.weight"] : tensor<256xbf16>
  %n = decode.rms_norm %x, %nw {epsilon = 1.0e-05 : f32} : tensor<?x256xbf16>, tensor<256xbf16>
  %wk = decode.weight ["k.weight"] : tensor<128x256xbf16>
  %k = decode.linear %n, %wk : (tensor<?x256xbf16>, tensor<128x256xbf16>) -> tensor<?x128xbf16>
  %r = decode.rope %k, %tokens {head_dim = 64 : i64, theta = 1.0e+04 : f32} : tensor<?x128xbf16>, tensor<?xi32>
  %c1 = decode.kv_append %c[%slots], %r, %k {layer = 0 : i64} : !decode.kv_cache<layers = 1, kv_heads = 2, head_dim = 64, block_size = 16, dtype = bf16>, tensor<?xi32>, tensor<?x128xbf16>, tensor<?x128xbf16>
  %a = decode.paged_attention %n, %c1[%bt, %lens, %starts] {layer = 0 : i64, num_heads = 4 : i64, scale = 0.125 : f32} : tensor<?x256xbf16>, !decode.kv_cache<layers = 1, kv_heads = 2, head_dim = 64, block_size = 16, dtype = bf16>, tensor<?x?xi32>, tensor<?xi32>, tensor<?xi32> -> tensor<?x256xbf16>
  %s = decode.silu_mul %a : tensor<?x256xbf16> -> tensor<?x128xbf16>
  %sum = decode.add %x, %a : tensor<?x256xbf16>
  return %c : !decode.kv_cache<layers = 1, kv_heads = 2, head_dim = 64, block_size = 16, dtype = bf16>
}

// -----

// Live ops are kept: the result chain feeding the return survives.

// CHECK-LABEL: func.func @live_ops_kept
// CHECK: decode.weight
// CHECK-NEXT: decode.rms_norm
// CHECK-NEXT: return
func.func @live_ops_kept(%x: tensor<?x128xbf16>) -> tensor<?x128xbf16> {
  %w = decode.weight ["model.norm.weight"] : tensor<128xbf16>
  %n = decode.rms_norm %x, %w {epsilon = 1.0e-05 : f32} : tensor<?x128xbf16>, tensor<128xbf16>
  %dead = decode.add %x, %n : tensor<?x128xbf16>
  return %n : tensor<?x128xbf16>
}
