// RUN: infer-opt %s --decode-fuse-projections --split-input-file | FileCheck %s

// Q/K/V of one input: one linear on the packed weight, sliced in program
// order (q: 4 heads x 64, k/v: 2 kv heads x 64).

// CHECK-LABEL: func.func @qkv
// CHECK-SAME: (%[[H:.*]]: tensor<?x256xbf16>
// CHECK-NOT: decode.linear
// CHECK: %[[W:.*]] = decode.weight ["l0.q_proj.weight", "l0.k_proj.weight", "l0.v_proj.weight"] : tensor<512x256xbf16>
// CHECK-NEXT: %[[QKV:.*]] = decode.linear %[[H]], %[[W]] : (tensor<?x256xbf16>, tensor<512x256xbf16>) -> tensor<?x512xbf16>
// CHECK-NEXT: %[[Q:.*]] = decode.slice %[[QKV]][0] : tensor<?x512xbf16> -> tensor<?x256xbf16>
// CHECK-NEXT: %[[K:.*]] = decode.slice %[[QKV]][256] : tensor<?x512xbf16> -> tensor<?x128xbf16>
// CHECK-NEXT: %[[V:.*]] = decode.slice %[[QKV]][384] : tensor<?x512xbf16> -> tensor<?x128xbf16>
// CHECK-NOT: decode.linear
// CHECK: return %[[Q]], %[[K]], %[[V]]
func.func @qkv(%h: tensor<?x256xbf16>) -> (tensor<?x256xbf16>, tensor<?x128xbf16>, tensor<?x128xbf16>) {
  %wq = decode.weight ["l0.q_proj.weight"] : tensor<256x256xbf16>
  %wk = decode.weight ["l0.k_proj.weight"] : tensor<128x256xbf16>
  %wv = decode.weight ["l0.v_proj.weight"] : tensor<128x256xbf16>
  %q = decode.linear %h, %wq : (tensor<?x256xbf16>, tensor<256x256xbf16>) -> tensor<?x256xbf16>
  %k = decode.linear %h, %wk : (tensor<?x256xbf16>, tensor<128x256xbf16>) -> tensor<?x128xbf16>
  %v = decode.linear %h, %wv : (tensor<?x256xbf16>, tensor<128x256xbf16>) -> tensor<?x128xbf16>
  return %q, %k, %v : tensor<?x256xbf16>, tensor<?x128xbf16>, tensor<?x128xbf16>
}

// -----

// gate/up feeding silu_mul: one packed [gate | up] linear and a one-operand
// silu_mul, without slices.

// CHECK-LABEL: func.func @gate_up
// CHECK-SAME: (%[[H:.*]]: tensor<?x256xbf16>
// CHECK: %[[W:.*]] = decode.weight ["l0.gate_proj.weight", "l0.up_proj.weight"] : tensor<1024x256xbf16>
// CHECK-NEXT: %[[GU:.*]] = decode.linear %[[H]], %[[W]] : (tensor<?x256xbf16>, tensor<1024x256xbf16>) -> tensor<?x1024xbf16>
// CHECK-NEXT: %[[A:.*]] = decode.silu_mul %[[GU]] : tensor<?x1024xbf16> -> tensor<?x512xbf16>
// CHECK-NOT: decode.slice
// CHECK-NOT: decode.linear
// CHECK: return %[[A]]
func.func @gate_up(%h: tensor<?x256xbf16>) -> tensor<?x512xbf16> {
  %wg = decode.weight ["l0.gate_proj.weight"] : tensor<512x256xbf16>
  %wu = decode.weight ["l0.up_proj.weight"] : tensor<512x256xbf16>
  %g = decode.linear %h, %wg : (tensor<?x256xbf16>, tensor<512x256xbf16>) -> tensor<?x512xbf16>
  %u = decode.linear %h, %wu : (tensor<?x256xbf16>, tensor<512x256xbf16>) -> tensor<?x512xbf16>
  %a = decode.silu_mul %g, %u : tensor<?x512xbf16>, tensor<?x512xbf16> -> tensor<?x512xbf16>
  return %a : tensor<?x512xbf16>
}

// -----

// up computed before gate: the packing follows silu_mul's (gate, up) order.

// CHECK-LABEL: func.func @up_before_gate
// CHECK: decode.weight ["l0.gate_proj.weight", "l0.up_proj.weight"] : tensor<1024x256xbf16>
// CHECK: decode.silu_mul %{{.*}} : tensor<?x1024xbf16> -> tensor<?x512xbf16>
func.func @up_before_gate(%h: tensor<?x256xbf16>) -> tensor<?x512xbf16> {
  %wu = decode.weight ["l0.up_proj.weight"] : tensor<512x256xbf16>
  %wg = decode.weight ["l0.gate_proj.weight"] : tensor<512x256xbf16>
  %u = decode.linear %h, %wu : (tensor<?x256xbf16>, tensor<512x256xbf16>) -> tensor<?x512xbf16>
  %g = decode.linear %h, %wg : (tensor<?x256xbf16>, tensor<512x256xbf16>) -> tensor<?x512xbf16>
  %a = decode.silu_mul %g, %u : tensor<?x512xbf16>, tensor<?x512xbf16> -> tensor<?x512xbf16>
  return %a : tensor<?x512xbf16>
}

// -----

// gate also escapes: packed in program order with slices; silu_mul keeps two
// operands.

// CHECK-LABEL: func.func @gate_escapes
// CHECK: %[[GU:.*]] = decode.linear
// CHECK-SAME: -> tensor<?x1024xbf16>
// CHECK-NEXT: %[[G:.*]] = decode.slice %[[GU]][0] : tensor<?x1024xbf16> -> tensor<?x512xbf16>
// CHECK-NEXT: %[[U:.*]] = decode.slice %[[GU]][512] : tensor<?x1024xbf16> -> tensor<?x512xbf16>
// CHECK-NEXT: %[[A:.*]] = decode.silu_mul %[[G]], %[[U]]
// CHECK: return %[[A]], %[[G]]
func.func @gate_escapes(%h: tensor<?x256xbf16>) -> (tensor<?x512xbf16>, tensor<?x512xbf16>) {
  %wg = decode.weight ["l0.gate_proj.weight"] : tensor<512x256xbf16>
  %wu = decode.weight ["l0.up_proj.weight"] : tensor<512x256xbf16>
  %g = decode.linear %h, %wg : (tensor<?x256xbf16>, tensor<512x256xbf16>) -> tensor<?x512xbf16>
  %u = decode.linear %h, %wu : (tensor<?x256xbf16>, tensor<512x256xbf16>) -> tensor<?x512xbf16>
  %a = decode.silu_mul %g, %u : tensor<?x512xbf16>, tensor<?x512xbf16> -> tensor<?x512xbf16>
  return %a, %g : tensor<?x512xbf16>, tensor<?x512xbf16>
}

// -----

// Negative: different inputs do not share a pass over the activation.

// CHECK-LABEL: func.func @different_inputs
// CHECK-NOT: decode.slice
// CHECK: decode.linear %{{.*}}, %{{.*}} : (tensor<?x256xbf16>, tensor<256x256xbf16>)
// CHECK: decode.linear %{{.*}}, %{{.*}} : (tensor<?x256xbf16>, tensor<128x256xbf16>)
// CHECK-NOT: decode.slice
func.func @different_inputs(%a: tensor<?x256xbf16>, %b: tensor<?x256xbf16>) -> (tensor<?x256xbf16>, tensor<?x128xbf16>) {
  %wq = decode.weight ["l0.q_proj.weight"] : tensor<256x256xbf16>
  %wk = decode.weight ["l0.k_proj.weight"] : tensor<128x256xbf16>
  %q = decode.linear %a, %wq : (tensor<?x256xbf16>, tensor<256x256xbf16>) -> tensor<?x256xbf16>
  %k = decode.linear %b, %wk : (tensor<?x256xbf16>, tensor<128x256xbf16>) -> tensor<?x128xbf16>
  return %q, %k : tensor<?x256xbf16>, tensor<?x128xbf16>
}

// -----

// Negative: a linear with a norm prologue or a residual is not plain; the
// remaining one has no sibling.

// CHECK-LABEL: func.func @not_plain
// CHECK-NOT: decode.slice
// CHECK-COUNT-3: decode.linear
// CHECK-NOT: decode.slice
func.func @not_plain(%h: tensor<?x256xbf16>, %r: tensor<?x256xbf16>, %n: tensor<256xbf16>) -> (tensor<?x256xbf16>, tensor<?x256xbf16>, tensor<?x128xbf16>) {
  %wq = decode.weight ["l0.q_proj.weight"] : tensor<256x256xbf16>
  %wo = decode.weight ["l0.o_proj.weight"] : tensor<256x256xbf16>
  %wk = decode.weight ["l0.k_proj.weight"] : tensor<128x256xbf16>
  %q = decode.linear %h, %wq norm(%n : tensor<256xbf16>) {norm_epsilon = 1.0e-05 : f32} : (tensor<?x256xbf16>, tensor<256x256xbf16>) -> tensor<?x256xbf16>
  %o = decode.linear %h, %wo residual(%r : tensor<?x256xbf16>) : (tensor<?x256xbf16>, tensor<256x256xbf16>) -> tensor<?x256xbf16>
  %k = decode.linear %h, %wk : (tensor<?x256xbf16>, tensor<128x256xbf16>) -> tensor<?x128xbf16>
  return %q, %o, %k : tensor<?x256xbf16>, tensor<?x256xbf16>, tensor<?x128xbf16>
}

// -----

// Biased projections (Qwen2 q/k/v) pack their biases the same way.

// CHECK-LABEL: func.func @biased
// CHECK-DAG: %[[W:.*]] = decode.weight ["l0.q_proj.weight", "l0.k_proj.weight"] : tensor<384x256xbf16>
// CHECK-DAG: %[[B:.*]] = decode.weight ["l0.q_proj.bias", "l0.k_proj.bias"] : tensor<384xbf16>
// CHECK: %[[P:.*]] = decode.linear %{{.*}}, %[[W]] bias(%[[B]] : tensor<384xbf16>)
// CHECK-SAME: -> tensor<?x384xbf16>
// CHECK: decode.slice %[[P]][0] : tensor<?x384xbf16> -> tensor<?x256xbf16>
// CHECK: decode.slice %[[P]][256] : tensor<?x384xbf16> -> tensor<?x128xbf16>
// CHECK-NOT: decode.linear
func.func @biased(%h: tensor<?x256xbf16>) -> (tensor<?x256xbf16>, tensor<?x128xbf16>) {
  %wq = decode.weight ["l0.q_proj.weight"] : tensor<256x256xbf16>
  %bq = decode.weight ["l0.q_proj.bias"] : tensor<256xbf16>
  %wk = decode.weight ["l0.k_proj.weight"] : tensor<128x256xbf16>
  %bk = decode.weight ["l0.k_proj.bias"] : tensor<128xbf16>
  %q = decode.linear %h, %wq bias(%bq : tensor<256xbf16>) : (tensor<?x256xbf16>, tensor<256x256xbf16>) -> tensor<?x256xbf16>
  %k = decode.linear %h, %wk bias(%bk : tensor<128xbf16>) : (tensor<?x256xbf16>, tensor<128x256xbf16>) -> tensor<?x128xbf16>
  return %q, %k : tensor<?x256xbf16>, tensor<?x128xbf16>
}

// -----

// Negative: weights that are already packed, or of other element types, are
// not repacked.

// CHECK-LABEL: func.func @incompatible_weights
// CHECK-NOT: decode.slice
// CHECK-COUNT-3: decode.linear
// CHECK-NOT: decode.slice
func.func @incompatible_weights(%h: tensor<?x256xbf16>) -> (tensor<?x512xbf16>, tensor<?x128xbf16>, tensor<?x128xbf16>) {
  %wqk = decode.weight ["l0.q_proj.weight", "l0.k_proj.weight"] : tensor<512x256xbf16>
  %wv = decode.weight ["l0.v_proj.weight"] : tensor<128x256xi8>
  %wx = decode.weight ["l0.x_proj.weight"] : tensor<128x256xbf16>
  %qk = decode.linear %h, %wqk : (tensor<?x256xbf16>, tensor<512x256xbf16>) -> tensor<?x512xbf16>
  %v = decode.linear %h, %wv : (tensor<?x256xbf16>, tensor<128x256xi8>) -> tensor<?x128xbf16>
  %x = decode.linear %h, %wx : (tensor<?x256xbf16>, tensor<128x256xbf16>) -> tensor<?x128xbf16>
  return %qk, %v, %x : tensor<?x512xbf16>, tensor<?x128xbf16>, tensor<?x128xbf16>
}
