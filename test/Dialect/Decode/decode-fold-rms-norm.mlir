// RUN: infer-opt %s --decode-fold-rms-norm --split-input-file | FileCheck %s

// The input norm of a layer feeds q/k/v: each linear normalizes in its
// prologue and the norm disappears.

// CHECK-LABEL: func.func @input_norm
// CHECK-SAME: (%[[X:.*]]: tensor<?x256xbf16>
// CHECK-NOT: decode.rms_norm
// CHECK: %[[LN:.*]] = decode.weight ["l0.input_layernorm.weight"]
// CHECK: decode.linear %[[X]], %{{.*}} norm(%[[LN]] : tensor<256xbf16>) {norm_epsilon = 9.99999974E-6 : f32} : (tensor<?x256xbf16>, tensor<256x256xbf16>)
// CHECK: decode.linear %[[X]], %{{.*}} norm(%[[LN]] : tensor<256xbf16>) {norm_epsilon = 9.99999974E-6 : f32} : (tensor<?x256xbf16>, tensor<128x256xbf16>)
// CHECK: decode.linear %[[X]], %{{.*}} norm(%[[LN]] : tensor<256xbf16>) {norm_epsilon = 9.99999974E-6 : f32} : (tensor<?x256xbf16>, tensor<128x256xbf16>)
// CHECK-NOT: decode.rms_norm
func.func @input_norm(%x: tensor<?x256xbf16>) -> (tensor<?x256xbf16>, tensor<?x128xbf16>, tensor<?x128xbf16>) {
  %ln = decode.weight ["l0.input_layernorm.weight"] : tensor<256xbf16>
  %h = decode.rms_norm %x, %ln {epsilon = 1.0e-05 : f32} : tensor<?x256xbf16>, tensor<256xbf16>
  %wq = decode.weight ["l0.q_proj.weight"] : tensor<256x256xbf16>
  %wk = decode.weight ["l0.k_proj.weight"] : tensor<128x256xbf16>
  %wv = decode.weight ["l0.v_proj.weight"] : tensor<128x256xbf16>
  %q = decode.linear %h, %wq : (tensor<?x256xbf16>, tensor<256x256xbf16>) -> tensor<?x256xbf16>
  %k = decode.linear %h, %wk : (tensor<?x256xbf16>, tensor<128x256xbf16>) -> tensor<?x128xbf16>
  %v = decode.linear %h, %wv : (tensor<?x256xbf16>, tensor<128x256xbf16>) -> tensor<?x128xbf16>
  return %q, %k, %v : tensor<?x256xbf16>, tensor<?x128xbf16>, tensor<?x128xbf16>
}

// -----

// The post-attention norm feeding the packed [gate | up] projection, with the
// epilogue's residual left untouched.

// CHECK-LABEL: func.func @packed_gate_up
// CHECK-SAME: (%[[X:.*]]: tensor<?x256xbf16>
// CHECK-NOT: decode.rms_norm
// CHECK: %[[GU:.*]] = decode.linear %[[X]], %{{.*}} norm(%{{.*}} : tensor<256xbf16>) {norm_epsilon = 9.99999997E-7 : f32} : (tensor<?x256xbf16>, tensor<1024x256xbf16>) -> tensor<?x1024xbf16>
// CHECK: decode.silu_mul %[[GU]]
func.func @packed_gate_up(%x: tensor<?x256xbf16>) -> tensor<?x512xbf16> {
  %ln = decode.weight ["l0.post_attention_layernorm.weight"] : tensor<256xbf16>
  %h = decode.rms_norm %x, %ln {epsilon = 1.0e-06 : f32} : tensor<?x256xbf16>, tensor<256xbf16>
  %w = decode.weight ["l0.gate_proj.weight", "l0.up_proj.weight"] : tensor<1024x256xbf16>
  %gu = decode.linear %h, %w : (tensor<?x256xbf16>, tensor<1024x256xbf16>) -> tensor<?x1024xbf16>
  %a = decode.silu_mul %gu : tensor<?x1024xbf16> -> tensor<?x512xbf16>
  return %a : tensor<?x512xbf16>
}

// -----

// Negative: the normalized activation is also returned (the final norm before
// lm_head, say), so it must still be computed.

// CHECK-LABEL: func.func @non_linear_user
// CHECK: %[[H:.*]] = decode.rms_norm
// CHECK: decode.linear %[[H]], %{{.*}} :
// CHECK-NOT: norm(
// CHECK: return
func.func @non_linear_user(%x: tensor<?x256xbf16>) -> (tensor<?x256xbf16>, tensor<?x256xbf16>) {
  %ln = decode.weight ["model.norm.weight"] : tensor<256xbf16>
  %h = decode.rms_norm %x, %ln {epsilon = 1.0e-05 : f32} : tensor<?x256xbf16>, tensor<256xbf16>
  %w = decode.weight ["l0.q_proj.weight"] : tensor<256x256xbf16>
  %q = decode.linear %h, %w : (tensor<?x256xbf16>, tensor<256x256xbf16>) -> tensor<?x256xbf16>
  return %q, %h : tensor<?x256xbf16>, tensor<?x256xbf16>
}

// -----

// Negative: the norm is a linear's residual, not its input.

// CHECK-LABEL: func.func @norm_as_residual
// CHECK: %[[H:.*]] = decode.rms_norm
// CHECK: decode.linear %{{.*}}, %{{.*}} residual(%[[H]] : tensor<?x256xbf16>) :
func.func @norm_as_residual(%x: tensor<?x256xbf16>, %y: tensor<?x256xbf16>) -> tensor<?x256xbf16> {
  %ln = decode.weight ["l0.input_layernorm.weight"] : tensor<256xbf16>
  %h = decode.rms_norm %x, %ln {epsilon = 1.0e-05 : f32} : tensor<?x256xbf16>, tensor<256xbf16>
  %w = decode.weight ["l0.o_proj.weight"] : tensor<256x256xbf16>
  %o = decode.linear %y, %w residual(%h : tensor<?x256xbf16>) : (tensor<?x256xbf16>, tensor<256x256xbf16>) -> tensor<?x256xbf16>
  return %o : tensor<?x256xbf16>
}

// -----

// Negative: the linear already normalizes its input; two norms do not fold.

// CHECK-LABEL: func.func @linear_has_norm
// CHECK: %[[H:.*]] = decode.rms_norm
// CHECK: decode.linear %[[H]], %{{.*}} norm(
func.func @linear_has_norm(%x: tensor<?x256xbf16>) -> tensor<?x256xbf16> {
  %ln = decode.weight ["l0.input_layernorm.weight"] : tensor<256xbf16>
  %h = decode.rms_norm %x, %ln {epsilon = 1.0e-05 : f32} : tensor<?x256xbf16>, tensor<256xbf16>
  %ln2 = decode.weight ["l0.q_norm.weight"] : tensor<256xbf16>
  %w = decode.weight ["l0.q_proj.weight"] : tensor<256x256xbf16>
  %q = decode.linear %h, %w norm(%ln2 : tensor<256xbf16>) {norm_epsilon = 1.0e-05 : f32} : (tensor<?x256xbf16>, tensor<256x256xbf16>) -> tensor<?x256xbf16>
  return %q : tensor<?x256xbf16>
}

// -----

// The final norm before the logits row gather: the norm is row-wise, so it
// moves below the gather and folds into lm_head.

// CHECK-LABEL: func.func @final_norm_gather
// CHECK-SAME: (%[[X:[^:]*]]: tensor<?x256xbf16>, %[[IDX:[^:]*]]: tensor<?xi32>
// CHECK-NOT: decode.rms_norm
// CHECK: %[[LNF:.*]] = decode.weight ["model.norm.weight"]
// CHECK: %[[LAST:.*]] = decode.gather_tokens %[[X]][%[[IDX]]]
// CHECK: decode.linear %[[LAST]], %{{.*}} norm(%[[LNF]] : tensor<256xbf16>) {norm_epsilon = 9.99999974E-6 : f32} : (tensor<?x256xbf16>, tensor<1024x256xbf16>) -> tensor<?x1024xf32>
// CHECK-NOT: decode.rms_norm
func.func @final_norm_gather(%x: tensor<?x256xbf16>, %idx: tensor<?xi32>) -> tensor<?x1024xf32> {
  %lnf = decode.weight ["model.norm.weight"] : tensor<256xbf16>
  %h = decode.rms_norm %x, %lnf {epsilon = 1.0e-05 : f32} : tensor<?x256xbf16>, tensor<256xbf16>
  %last = decode.gather_tokens %h[%idx] : tensor<?x256xbf16>, tensor<?xi32> -> tensor<?x256xbf16>
  %w = decode.weight ["lm_head.weight"] : tensor<1024x256xbf16>
  %logits = decode.linear %last, %w : (tensor<?x256xbf16>, tensor<1024x256xbf16>) -> tensor<?x1024xf32>
  return %logits : tensor<?x1024xf32>
}

// -----

// Negative: the normalized rows are also returned whole, so the norm stays
// above the gather.

// CHECK-LABEL: func.func @norm_gather_other_use
// CHECK: %[[H:.*]] = decode.rms_norm
// CHECK: decode.gather_tokens %[[H]]
// CHECK: return
func.func @norm_gather_other_use(%x: tensor<?x256xbf16>, %idx: tensor<?xi32>) -> (tensor<?x256xbf16>, tensor<?x256xbf16>) {
  %lnf = decode.weight ["model.norm.weight"] : tensor<256xbf16>
  %h = decode.rms_norm %x, %lnf {epsilon = 1.0e-05 : f32} : tensor<?x256xbf16>, tensor<256xbf16>
  %last = decode.gather_tokens %h[%idx] : tensor<?x256xbf16>, tensor<?xi32> -> tensor<?x256xbf16>
  return %last, %h : tensor<?x256xbf16>, tensor<?x256xbf16>
}
