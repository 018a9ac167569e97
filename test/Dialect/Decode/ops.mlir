// RUN: infer-opt %s | infer-opt | FileCheck %s
// RUN: infer-opt %s --mlir-print-op-generic | infer-opt | FileCheck %s
// RUN: infer-opt %s --mlir-print-op-generic | FileCheck %s --check-prefix=GENERIC

// Round trip of every decode op, type and attribute, in custom form and
// through the generic form.

// CHECK-LABEL: func.func @weights
// CHECK: decode.weight ["model.layers.0.mlp.down_proj.weight"] : tensor<128x256xbf16>
// CHECK: decode.weight ["model.norm.weight"] : tensor<128xf16>
// CHECK: decode.weight ["q.weight", "k.weight", "v.weight"] : tensor<256x128xf32>
// CHECK: decode.weight ["fp8.weight"] : tensor<64x128xf8E4M3FN>
// CHECK: decode.weight ["int8.weight"] : tensor<64x128xi8>
// CHECK: decode.weight ["q.bias", "k.bias", "v.bias"] : tensor<512xbf16>
// CHECK: decode.weight ["gate.weight", "up.weight"] scaled_by "post_norm.weight" : tensor<256x128xbf16>
// GENERIC-LABEL: sym_name = "weights"
// GENERIC: "decode.weight"() <{names = ["model.layers.0.mlp.down_proj.weight"]}> : () -> tensor<128x256xbf16>
// GENERIC: "decode.weight"() <{column_scale = "post_norm.weight", names = ["gate.weight", "up.weight"]}> : () -> tensor<256x128xbf16>
func.func @weights() -> (tensor<128x256xbf16>, tensor<128xf16>, tensor<256x128xf32>, tensor<64x128xf8E4M3FN>, tensor<64x128xi8>, tensor<512xbf16>, tensor<256x128xbf16>) {
  %0 = decode.weight ["model.layers.0.mlp.down_proj.weight"] : tensor<128x256xbf16>
  %1 = decode.weight ["model.norm.weight"] : tensor<128xf16>
  %2 = decode.weight ["q.weight", "k.weight", "v.weight"] : tensor<256x128xf32>
  %3 = decode.weight ["fp8.weight"] : tensor<64x128xf8E4M3FN>
  %4 = decode.weight ["int8.weight"] : tensor<64x128xi8>
  %5 = decode.weight ["q.bias", "k.bias", "v.bias"] : tensor<512xbf16>
  %6 = decode.weight ["gate.weight", "up.weight"] scaled_by "post_norm.weight" : tensor<256x128xbf16>
  return %0, %1, %2, %3, %4, %5, %6 : tensor<128x256xbf16>, tensor<128xf16>, tensor<256x128xf32>, tensor<64x128xf8E4M3FN>, tensor<64x128xi8>, tensor<512xbf16>, tensor<256x128xbf16>
}

// CHECK-LABEL: func.func @elementwise
// CHECK-SAME: (%[[TOK:.*]]: tensor<?xi32>, %[[TABLE:.*]]: tensor<512x128xbf16>, %[[NW:.*]]: tensor<128xbf16>, %[[IDX:.*]]: tensor<?xi32>)
// CHECK: %[[E:.*]] = decode.embed %[[TOK]], %[[TABLE]] : (tensor<?xi32>, tensor<512x128xbf16>) -> tensor<?x128xbf16>
// CHECK: %[[N:.*]] = decode.rms_norm %[[E]], %[[NW]] {epsilon = 9.99999974E-6 : f32} : tensor<?x128xbf16>, tensor<128xbf16>
// CHECK: %[[A:.*]] = decode.add %[[E]], %[[N]] : tensor<?x128xbf16>
// CHECK: %[[S:.*]] = decode.slice %[[A]][32] : tensor<?x128xbf16> -> tensor<?x64xbf16>
// CHECK: %[[G:.*]] = decode.gather_tokens %[[A]][%[[IDX]]] : tensor<?x128xbf16>, tensor<?xi32> -> tensor<?x128xbf16>
// CHECK: return %[[S]], %[[G]]
// GENERIC-LABEL: sym_name = "elementwise"
// GENERIC: "decode.slice"(%{{.*}}) <{offset = 32 : i64}> : (tensor<?x128xbf16>) -> tensor<?x64xbf16>
func.func @elementwise(%tokens: tensor<?xi32>, %table: tensor<512x128xbf16>, %nw: tensor<128xbf16>, %idx: tensor<?xi32>) -> (tensor<?x64xbf16>, tensor<?x128xbf16>) {
  %e = decode.embed %tokens, %table : (tensor<?xi32>, tensor<512x128xbf16>) -> tensor<?x128xbf16>
  %n = decode.rms_norm %e, %nw {epsilon = 1.0e-05 : f32} : tensor<?x128xbf16>, tensor<128xbf16>
  %a = decode.add %e, %n : tensor<?x128xbf16>
  %s = decode.slice %a[32] : tensor<?x128xbf16> -> tensor<?x64xbf16>
  %g = decode.gather_tokens %a[%idx] : tensor<?x128xbf16>, tensor<?xi32> -> tensor<?x128xbf16>
  return %s, %g : tensor<?x64xbf16>, tensor<?x128xbf16>
}

// CHECK-LABEL: func.func @silu_mul
// CHECK: decode.silu_mul %{{.*}}, %{{.*}} : tensor<?x256xbf16>, tensor<?x256xbf16> -> tensor<?x256xbf16>
// CHECK: decode.silu_mul %{{.*}} : tensor<?x512xf16> -> tensor<?x256xf16>
func.func @silu_mul(%g: tensor<?x256xbf16>, %u: tensor<?x256xbf16>, %gu: tensor<?x512xf16>) -> (tensor<?x256xbf16>, tensor<?x256xf16>) {
  %0 = decode.silu_mul %g, %u : tensor<?x256xbf16>, tensor<?x256xbf16> -> tensor<?x256xbf16>
  %1 = decode.silu_mul %gu : tensor<?x512xf16> -> tensor<?x256xf16>
  return %0, %1 : tensor<?x256xbf16>, tensor<?x256xf16>
}

// CHECK-LABEL: func.func @linear
// CHECK-SAME: (%[[X:[^:]*]]: tensor<?x128xbf16>, %[[W:[^:]*]]: tensor<256x128xbf16>, %[[B:[^:]*]]: tensor<256xbf16>, %[[R:[^:]*]]: tensor<?x256xbf16>, %[[NW:[^:]*]]: tensor<128xbf16>, %[[W8:[^:]*]]: tensor<256x128xi8>, %[[WF8:[^:]*]]: tensor<256x128xf8E4M3FN>)
// CHECK: decode.linear %[[X]], %[[W]] : (tensor<?x128xbf16>, tensor<256x128xbf16>) -> tensor<?x256xbf16>
// CHECK: decode.linear %[[X]], %[[W]] bias(%[[B]] : tensor<256xbf16>) : (tensor<?x128xbf16>, tensor<256x128xbf16>) -> tensor<?x256xbf16>
// CHECK: decode.linear %[[X]], %[[W]] residual(%[[R]] : tensor<?x256xbf16>) : (tensor<?x128xbf16>, tensor<256x128xbf16>) -> tensor<?x256xbf16>
// CHECK: decode.linear %[[X]], %[[W]] norm(%[[NW]] : tensor<128xbf16>) {norm_epsilon = 9.99999997E-7 : f32} : (tensor<?x128xbf16>, tensor<256x128xbf16>) -> tensor<?x256xbf16>
// CHECK: decode.linear %[[X]], %[[W]] bias(%[[B]] : tensor<256xbf16>) residual(%[[R]] : tensor<?x256xbf16>) norm(%[[NW]] : tensor<128xbf16>) {norm_epsilon = 9.99999974E-6 : f32} : (tensor<?x128xbf16>, tensor<256x128xbf16>) -> tensor<?x256xbf16>
// CHECK: decode.linear %[[X]], %[[W]] {variants = [#decode.variant<max_tokens = 8, kind = gemv>, #decode.variant<max_tokens = 64, kind = gemv, k_split = 4>, #decode.variant<max_tokens = 256, kind = wgmma, k_split = 2>, #decode.variant<max_tokens = 4096, kind = mma>]} : (tensor<?x128xbf16>, tensor<256x128xbf16>) -> tensor<?x256xbf16>
// CHECK: decode.linear %[[X]], %[[W8]] : (tensor<?x128xbf16>, tensor<256x128xi8>) -> tensor<?x256xbf16>
// CHECK: decode.linear %[[X]], %[[WF8]] : (tensor<?x128xbf16>, tensor<256x128xf8E4M3FN>) -> tensor<?x256xf32>
// CHECK: decode.linear %[[X]], %[[W]] {norm_epsilon = 9.99999974E-6 : f32} : (tensor<?x128xbf16>, tensor<256x128xbf16>) -> tensor<?x256xbf16>
// CHECK: decode.linear %[[X]], %[[W]] {activation = #decode.activation<silu_mul>} : (tensor<?x128xbf16>, tensor<256x128xbf16>) -> tensor<?x128xbf16>
// GENERIC-LABEL: sym_name = "linear"
// GENERIC: "decode.linear"(%{{.*}}, %{{.*}}, %{{.*}}) <{operandSegmentSizes = array<i32: 1, 1, 1, 0, 0>}>
// GENERIC: "decode.linear"(%{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}) <{norm_epsilon = 9.99999974E-6 : f32, operandSegmentSizes = array<i32: 1, 1, 1, 1, 1>}>
func.func @linear(%x: tensor<?x128xbf16>, %w: tensor<256x128xbf16>, %b: tensor<256xbf16>, %r: tensor<?x256xbf16>, %nw: tensor<128xbf16>, %w8: tensor<256x128xi8>, %wf8: tensor<256x128xf8E4M3FN>) -> (tensor<?x256xbf16>, tensor<?x256xbf16>, tensor<?x256xbf16>, tensor<?x256xbf16>, tensor<?x256xbf16>, tensor<?x256xbf16>, tensor<?x256xbf16>, tensor<?x256xf32>, tensor<?x256xbf16>, tensor<?x128xbf16>) {
  %0 = decode.linear %x, %w : (tensor<?x128xbf16>, tensor<256x128xbf16>) -> tensor<?x256xbf16>
  %1 = decode.linear %x, %w bias(%b : tensor<256xbf16>) : (tensor<?x128xbf16>, tensor<256x128xbf16>) -> tensor<?x256xbf16>
  %2 = decode.linear %x, %w residual(%r : tensor<?x256xbf16>) : (tensor<?x128xbf16>, tensor<256x128xbf16>) -> tensor<?x256xbf16>
  %3 = decode.linear %x, %w norm(%nw : tensor<128xbf16>) {norm_epsilon = 1.0e-06 : f32} : (tensor<?x128xbf16>, tensor<256x128xbf16>) -> tensor<?x256xbf16>
  %4 = decode.linear %x, %w bias(%b : tensor<256xbf16>) residual(%r : tensor<?x256xbf16>) norm(%nw : tensor<128xbf16>) {norm_epsilon = 1.0e-05 : f32} : (tensor<?x128xbf16>, tensor<256x128xbf16>) -> tensor<?x256xbf16>
  %5 = decode.linear %x, %w {variants = [#decode.variant<max_tokens = 8, kind = gemv, k_split = 1>, #decode.variant<max_tokens = 64, kind = gemv, k_split = 4>, #decode.variant<max_tokens = 256, kind = wgmma, k_split = 2>, #decode.variant<max_tokens = 4096, kind = mma>]} : (tensor<?x128xbf16>, tensor<256x128xbf16>) -> tensor<?x256xbf16>
  %6 = decode.linear %x, %w8 : (tensor<?x128xbf16>, tensor<256x128xi8>) -> tensor<?x256xbf16>
  %7 = decode.linear %x, %wf8 : (tensor<?x128xbf16>, tensor<256x128xf8E4M3FN>) -> tensor<?x256xf32>
  // The RMS scale alone (the norm weight folded into the weight's columns).
  %8 = decode.linear %x, %w {norm_epsilon = 1.0e-05 : f32} : (tensor<?x128xbf16>, tensor<256x128xbf16>) -> tensor<?x256xbf16>
  // [gate | up] rows with silu_mul in the epilogue: N/2 outputs.
  %9 = decode.linear %x, %w {activation = #decode.activation<silu_mul>} : (tensor<?x128xbf16>, tensor<256x128xbf16>) -> tensor<?x128xbf16>
  return %0, %1, %2, %3, %4, %5, %6, %7, %8, %9 : tensor<?x256xbf16>, tensor<?x256xbf16>, tensor<?x256xbf16>, tensor<?x256xbf16>, tensor<?x256xbf16>, tensor<?x256xbf16>, tensor<?x256xbf16>, tensor<?x256xf32>, tensor<?x256xbf16>, tensor<?x128xbf16>
}

// CHECK-LABEL: func.func @rope
// CHECK: decode.rope %{{.*}}, %{{.*}} {head_dim = 64 : i64, theta = 1.000000e+04 : f32} : tensor<?x256xbf16>, tensor<?xi32>
// CHECK: decode.rope %{{.*}}, %{{.*}} {head_dim = 128 : i64, scaling = #decode.rope_scaling<kind = llama3, factor = 8.000000e+00>, theta = 5.000000e+05 : f32} : tensor<?x1024xbf16>, tensor<?xi32>
// CHECK: decode.rope %{{.*}}, %{{.*}} {head_dim = 128 : i64, scaling = #decode.rope_scaling<kind = llama3, factor = 3.200000e+01, low_freq_factor = 2.000000e+00, high_freq_factor = 8.000000e+00, original_max_position = 4096>, theta = 5.000000e+05 : f32} : tensor<?x1024xbf16>, tensor<?xi32>
// CHECK: decode.rope %{{.*}}, %{{.*}} {head_dim = 64 : i64, scaling = #decode.rope_scaling<kind = linear, factor = 2.000000e+00>, theta = 1.000000e+04 : f32} : tensor<?x256xf32>, tensor<?xi32>
func.func @rope(%q: tensor<?x256xbf16>, %k: tensor<?x1024xbf16>, %f: tensor<?x256xf32>, %pos: tensor<?xi32>) -> (tensor<?x256xbf16>, tensor<?x1024xbf16>, tensor<?x1024xbf16>, tensor<?x256xf32>) {
  %0 = decode.rope %q, %pos {head_dim = 64 : i64, theta = 10000.0 : f32} : tensor<?x256xbf16>, tensor<?xi32>
  %1 = decode.rope %k, %pos {head_dim = 128 : i64, theta = 500000.0 : f32, scaling = #decode.rope_scaling<kind = llama3, factor = 8.0, low_freq_factor = 1.0, high_freq_factor = 4.0, original_max_position = 8192>} : tensor<?x1024xbf16>, tensor<?xi32>
  %2 = decode.rope %k, %pos {head_dim = 128 : i64, theta = 500000.0 : f32, scaling = #decode.rope_scaling<kind = llama3, factor = 32.0, low_freq_factor = 2.0, high_freq_factor = 8.0, original_max_position = 4096>} : tensor<?x1024xbf16>, tensor<?xi32>
  %3 = decode.rope %f, %pos {head_dim = 64 : i64, theta = 10000.0 : f32, scaling = #decode.rope_scaling<kind = linear, factor = 2.0>} : tensor<?x256xf32>, tensor<?xi32>
  return %0, %1, %2, %3 : tensor<?x256xbf16>, tensor<?x1024xbf16>, tensor<?x1024xbf16>, tensor<?x256xf32>
}

// The cache with each element type, kv_append into it and attention over it.

// CHECK-LABEL: func.func @kv_cache_types
// CHECK-SAME: !decode.kv_cache<layers = 2, kv_heads = 2, head_dim = 64, block_size = 16, dtype = bf16>
// CHECK-SAME: !decode.kv_cache<layers = 32, kv_heads = 8, head_dim = 128, block_size = 32, dtype = f8E4M3FN>
// CHECK-SAME: !decode.kv_cache<layers = 1, kv_heads = 1, head_dim = 8, block_size = 1, dtype = i8>
// CHECK-SAME: !decode.kv_cache<layers = 4, kv_heads = 4, head_dim = 256, block_size = 64, dtype = f16>
func.func @kv_cache_types(%a: !decode.kv_cache<layers = 2, kv_heads = 2, head_dim = 64, block_size = 16, dtype = bf16>,
                          %b: !decode.kv_cache<layers = 32, kv_heads = 8, head_dim = 128, block_size = 32, dtype = f8E4M3FN>,
                          %c: !decode.kv_cache<layers = 1, kv_heads = 1, head_dim = 8, block_size = 1, dtype = i8>,
                          %d: !decode.kv_cache<layers = 4, kv_heads = 4, head_dim = 256, block_size = 64, dtype = f16>) {
  return
}

// CHECK-LABEL: func.func @kv_append
// CHECK-SAME: (%[[C:[^:]*]]: !decode.kv_cache<{{.*}}dtype = i8>, %[[S:[^:]*]]: tensor<?xi32>, %[[K:[^:]*]]: tensor<?x128xbf16>, %[[V:[^:]*]]: tensor<?x128xbf16>)
// CHECK: %[[C1:.*]] = decode.kv_append %[[C]][%[[S]]], %[[K]], %[[V]] {layer = 0 : i64} : !decode.kv_cache<layers = 2, kv_heads = 2, head_dim = 64, block_size = 16, dtype = i8>, tensor<?xi32>, tensor<?x128xbf16>, tensor<?x128xbf16>
// CHECK: %[[C2:.*]] = decode.kv_append %[[C1]][%[[S]]], %[[K]], %[[V]] {layer = 1 : i64}
// CHECK: return %[[C2]]
func.func @kv_append(%c: !decode.kv_cache<layers = 2, kv_heads = 2, head_dim = 64, block_size = 16, dtype = i8>, %slots: tensor<?xi32>, %k: tensor<?x128xbf16>, %v: tensor<?x128xbf16>) -> !decode.kv_cache<layers = 2, kv_heads = 2, head_dim = 64, block_size = 16, dtype = i8> {
  %0 = decode.kv_append %c[%slots], %k, %v {layer = 0 : i64} : !decode.kv_cache<layers = 2, kv_heads = 2, head_dim = 64, block_size = 16, dtype = i8>, tensor<?xi32>, tensor<?x128xbf16>, tensor<?x128xbf16>
  %1 = decode.kv_append %0[%slots], %k, %v {layer = 1 : i64} : !decode.kv_cache<layers = 2, kv_heads = 2, head_dim = 64, block_size = 16, dtype = i8>, tensor<?xi32>, tensor<?x128xbf16>, tensor<?x128xbf16>
  return %1 : !decode.kv_cache<layers = 2, kv_heads = 2, head_dim = 64, block_size = 16, dtype = i8>
}

// qkv of 4 query heads and 2 kv heads of 64: 256 + 2 * 128 = 512 columns.

// CHECK-LABEL: func.func @rope_append
// CHECK: %[[Q:.*]], %[[C:.*]] = decode.rope_append %{{.*}}[%{{.*}}], %{{.*}}, %{{.*}} {layer = 1 : i64, num_heads = 4 : i64, theta = 1.000000e+04 : f32} : !decode.kv_cache<layers = 2, kv_heads = 2, head_dim = 64, block_size = 16, dtype = bf16>, tensor<?xi32>, tensor<?x512xbf16>, tensor<?xi32> -> tensor<?x256xbf16>
// CHECK: decode.rope_append {{.*}} {layer = 0 : i64, num_heads = 4 : i64, scaling = #decode.rope_scaling<kind = llama3, factor = 8.000000e+00>, theta = 5.000000e+05 : f32}
// CHECK: return %[[Q]], %[[C]]
// GENERIC-LABEL: sym_name = "rope_append"
// GENERIC: "decode.rope_append"(%{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}) <{layer = 1 : i64, num_heads = 4 : i64, theta = 1.000000e+04 : f32}> : (!decode.kv_cache<{{.*}}>, tensor<?x512xbf16>, tensor<?xi32>, tensor<?xi32>) -> (tensor<?x256xbf16>, !decode.kv_cache<{{.*}}>)
func.func @rope_append(%c: !decode.kv_cache<layers = 2, kv_heads = 2, head_dim = 64, block_size = 16, dtype = bf16>, %slots: tensor<?xi32>, %qkv: tensor<?x512xbf16>, %pos: tensor<?xi32>) -> (tensor<?x256xbf16>, !decode.kv_cache<layers = 2, kv_heads = 2, head_dim = 64, block_size = 16, dtype = bf16>) {
  %q, %c1 = decode.rope_append %c[%slots], %qkv, %pos {layer = 1 : i64, num_heads = 4 : i64, theta = 10000.0 : f32} : !decode.kv_cache<layers = 2, kv_heads = 2, head_dim = 64, block_size = 16, dtype = bf16>, tensor<?xi32>, tensor<?x512xbf16>, tensor<?xi32> -> tensor<?x256xbf16>
  %q2, %c2 = decode.rope_append %c[%slots], %qkv, %pos {layer = 0 : i64, num_heads = 4 : i64, theta = 500000.0 : f32, scaling = #decode.rope_scaling<kind = llama3, factor = 8.0>} : !decode.kv_cache<layers = 2, kv_heads = 2, head_dim = 64, block_size = 16, dtype = bf16>, tensor<?xi32>, tensor<?x512xbf16>, tensor<?xi32> -> tensor<?x256xbf16>
  return %q, %c1 : tensor<?x256xbf16>, !decode.kv_cache<layers = 2, kv_heads = 2, head_dim = 64, block_size = 16, dtype = bf16>
}

// CHECK-LABEL: func.func @paged_attention
// CHECK-SAME: (%[[Q:[^:]*]]: tensor<?x256xbf16>, %[[C:[^:]*]]: !decode.kv_cache<{{.*}}>, %[[BT:[^:]*]]: tensor<?x?xi32>, %[[CL:[^:]*]]: tensor<?xi32>, %[[QS:[^:]*]]: tensor<?xi32>,
// CHECK: decode.paged_attention %[[Q]], %[[C]][%[[BT]], %[[CL]], %[[QS]]] {layer = 0 : i64, num_heads = 4 : i64, scale = 1.250000e-01 : f32} : tensor<?x256xbf16>, !decode.kv_cache<layers = 2, kv_heads = 2, head_dim = 64, block_size = 16, dtype = bf16>, tensor<?x?xi32>, tensor<?xi32>, tensor<?xi32> -> tensor<?x256xbf16>
// CHECK: decode.paged_attention {{.*}} {layer = 1 : i64, num_heads = 4 : i64, scale = 1.250000e-01 : f32, sliding_window = 4096 : i64}
// CHECK: decode.paged_attention {{.*}} {kernel = #decode.attention_kernel<mma>, layer = 1 : i64, num_heads = 4 : i64, scale = 1.250000e-01 : f32, split_kv = 8 : i64}
// CHECK: decode.paged_attention {{.*}} {layer = 1 : i64, num_heads = 4 : i64, scale = 1.250000e-01 : f32, sliding_window = 128 : i64, split_kv = 2 : i64}
// CHECK-SAME: tensor<?x256xbf16>, !decode.kv_cache<{{.*}}>, tensor<4x?xi32>, tensor<4xi32>, tensor<5xi32> -> tensor<?x256xbf16>
func.func @paged_attention(%q: tensor<?x256xbf16>, %c: !decode.kv_cache<layers = 2, kv_heads = 2, head_dim = 64, block_size = 16, dtype = bf16>, %bt: tensor<?x?xi32>, %cl: tensor<?xi32>, %qs: tensor<?xi32>, %bt4: tensor<4x?xi32>, %cl4: tensor<4xi32>, %qs5: tensor<5xi32>) -> (tensor<?x256xbf16>, tensor<?x256xbf16>, tensor<?x256xbf16>, tensor<?x256xbf16>) {
  %0 = decode.paged_attention %q, %c[%bt, %cl, %qs] {layer = 0 : i64, num_heads = 4 : i64, scale = 0.125 : f32} : tensor<?x256xbf16>, !decode.kv_cache<layers = 2, kv_heads = 2, head_dim = 64, block_size = 16, dtype = bf16>, tensor<?x?xi32>, tensor<?xi32>, tensor<?xi32> -> tensor<?x256xbf16>
  %1 = decode.paged_attention %q, %c[%bt, %cl, %qs] {layer = 1 : i64, num_heads = 4 : i64, scale = 0.125 : f32, sliding_window = 4096 : i64} : tensor<?x256xbf16>, !decode.kv_cache<layers = 2, kv_heads = 2, head_dim = 64, block_size = 16, dtype = bf16>, tensor<?x?xi32>, tensor<?xi32>, tensor<?xi32> -> tensor<?x256xbf16>
  %2 = decode.paged_attention %q, %c[%bt, %cl, %qs] {layer = 1 : i64, num_heads = 4 : i64, scale = 0.125 : f32, split_kv = 8 : i64, kernel = #decode.attention_kernel<mma>} : tensor<?x256xbf16>, !decode.kv_cache<layers = 2, kv_heads = 2, head_dim = 64, block_size = 16, dtype = bf16>, tensor<?x?xi32>, tensor<?xi32>, tensor<?xi32> -> tensor<?x256xbf16>
  %3 = decode.paged_attention %q, %c[%bt4, %cl4, %qs5] {layer = 1 : i64, num_heads = 4 : i64, scale = 0.125 : f32, sliding_window = 128 : i64, split_kv = 2 : i64} : tensor<?x256xbf16>, !decode.kv_cache<layers = 2, kv_heads = 2, head_dim = 64, block_size = 16, dtype = bf16>, tensor<4x?xi32>, tensor<4xi32>, tensor<5xi32> -> tensor<?x256xbf16>
  return %0, %1, %2, %3 : tensor<?x256xbf16>, tensor<?x256xbf16>, tensor<?x256xbf16>, tensor<?x256xbf16>
}

// CHECK-LABEL: func.func @sample
// CHECK: decode.sample %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}} : tensor<?x512xf32>, tensor<?xf32>, tensor<?xi32>, tensor<?xf32>, tensor<?xi64> -> tensor<?xi32>
// CHECK: decode.sample %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}} : tensor<2x512xbf16>, tensor<2xf32>, tensor<2xi32>, tensor<2xf32>, tensor<2xi64> -> tensor<2xi32>
func.func @sample(%logits: tensor<?x512xf32>, %t: tensor<?xf32>, %k: tensor<?xi32>, %p: tensor<?xf32>, %s: tensor<?xi64>,
                  %l2: tensor<2x512xbf16>, %t2: tensor<2xf32>, %k2: tensor<2xi32>, %p2: tensor<2xf32>, %s2: tensor<2xi64>) -> (tensor<?xi32>, tensor<2xi32>) {
  %0 = decode.sample %logits, %t, %k, %p, %s : tensor<?x512xf32>, tensor<?xf32>, tensor<?xi32>, tensor<?xf32>, tensor<?xi64> -> tensor<?xi32>
  %1 = decode.sample %l2, %t2, %k2, %p2, %s2 : tensor<2x512xbf16>, tensor<2xf32>, tensor<2xi32>, tensor<2xf32>, tensor<2xi64> -> tensor<2xi32>
  return %0, %1 : tensor<?xi32>, tensor<2xi32>
}

// CHECK-LABEL: func.func @spec_accept
// CHECK-SAME: (%[[L:[^:]*]]: tensor<?x5x512xf32>, %[[D:[^:]*]]: tensor<?x4xi32>, %[[P:[^:]*]]: tensor<?x4x512xf32>, %[[S:[^:]*]]: tensor<?xi64>)
// CHECK: %{{.*}}, %{{.*}} = decode.spec_accept <greedy> %[[L]], %[[D]] : tensor<?x5x512xf32>, tensor<?x4xi32> -> tensor<?xi32>, tensor<?xi32>
// CHECK: %{{.*}}, %{{.*}} = decode.spec_accept <rejection> %[[L]], %[[D]] probs(%[[P]] : tensor<?x4x512xf32>) seeds(%[[S]] : tensor<?xi64>) : tensor<?x5x512xf32>, tensor<?x4xi32> -> tensor<?xi32>, tensor<?xi32>
// GENERIC-LABEL: sym_name = "spec_accept"
// GENERIC: "decode.spec_accept"(%{{.*}}, %{{.*}}) <{mode = #decode.accept_mode<greedy>, operandSegmentSizes = array<i32: 1, 1, 0, 0>}>
// GENERIC: "decode.spec_accept"(%{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}) <{mode = #decode.accept_mode<rejection>, operandSegmentSizes = array<i32: 1, 1, 1, 1>}>
func.func @spec_accept(%logits: tensor<?x5x512xf32>, %draft: tensor<?x4xi32>, %probs: tensor<?x4x512xf32>, %seeds: tensor<?xi64>) -> (tensor<?xi32>, tensor<?xi32>, tensor<?xi32>, tensor<?xi32>) {
  %a, %b = decode.spec_accept <greedy> %logits, %draft : tensor<?x5x512xf32>, tensor<?x4xi32> -> tensor<?xi32>, tensor<?xi32>
  %c, %d = decode.spec_accept <rejection> %logits, %draft probs(%probs : tensor<?x4x512xf32>) seeds(%seeds : tensor<?xi64>) : tensor<?x5x512xf32>, tensor<?x4xi32> -> tensor<?xi32>, tensor<?xi32>
  return %a, %b, %c, %d : tensor<?xi32>, tensor<?xi32>, tensor<?xi32>, tensor<?xi32>
}

// Every role on a step function, and on an external declaration.

// CHECK-LABEL: func.func @prefill()
// CHECK-SAME: attributes {decode.role = #decode.role<prefill>}
// CHECK-LABEL: func.func @decode()
// CHECK-SAME: attributes {decode.role = #decode.role<decode>}
// CHECK-LABEL: func.func @verify()
// CHECK-SAME: attributes {decode.role = #decode.role<verify>}
// CHECK-LABEL: func.func private @draft()
// CHECK-SAME: attributes {decode.role = #decode.role<draft>}
func.func @prefill() attributes {decode.role = #decode.role<prefill>} {
  return
}
func.func @decode() attributes {decode.role = #decode.role<decode>} {
  return
}
func.func @verify() attributes {decode.role = #decode.role<verify>} {
  return
}
func.func private @draft() attributes {decode.role = #decode.role<draft>}
