// RUN: infer-opt %s --decode-fuse-residual --split-input-file | FileCheck %s

// o_proj (add(x, linear)) and down_proj (add(linear, h)): both orders fuse.

// CHECK-LABEL: func.func @o_and_down_proj
// CHECK-SAME: (%[[X:[^:]*]]: tensor<?x256xbf16>, %[[ATTN:[^:]*]]: tensor<?x256xbf16>, %[[ACT:[^:]*]]: tensor<?x512xbf16>
// CHECK-NOT: decode.add
// CHECK: %[[H:.*]] = decode.linear %[[ATTN]], %{{.*}} residual(%[[X]] : tensor<?x256xbf16>) : (tensor<?x256xbf16>, tensor<256x256xbf16>)
// CHECK: %[[OUT:.*]] = decode.linear %[[ACT]], %{{.*}} residual(%[[H]] : tensor<?x256xbf16>) : (tensor<?x512xbf16>, tensor<256x512xbf16>)
// CHECK-NOT: decode.add
// CHECK: return %[[OUT]]
func.func @o_and_down_proj(%x: tensor<?x256xbf16>, %attn: tensor<?x256xbf16>, %act: tensor<?x512xbf16>) -> tensor<?x256xbf16> {
  %wo = decode.weight ["l0.o_proj.weight"] : tensor<256x256xbf16>
  %o = decode.linear %attn, %wo : (tensor<?x256xbf16>, tensor<256x256xbf16>) -> tensor<?x256xbf16>
  %h = decode.add %x, %o : tensor<?x256xbf16>
  %wd = decode.weight ["l0.down_proj.weight"] : tensor<256x512xbf16>
  %d = decode.linear %act, %wd : (tensor<?x512xbf16>, tensor<256x512xbf16>) -> tensor<?x256xbf16>
  %out = decode.add %d, %h : tensor<?x256xbf16>
  return %out : tensor<?x256xbf16>
}

// -----

// Negative: the projection is also used on its own, so its value without the
// residual must still exist.

// CHECK-LABEL: func.func @two_uses
// CHECK: %[[O:.*]] = decode.linear %{{.*}}, %{{.*}} : (tensor<?x256xbf16>, tensor<256x256xbf16>)
// CHECK: decode.add %{{.*}}, %[[O]]
func.func @two_uses(%x: tensor<?x256xbf16>, %attn: tensor<?x256xbf16>) -> (tensor<?x256xbf16>, tensor<?x256xbf16>) {
  %wo = decode.weight ["l0.o_proj.weight"] : tensor<256x256xbf16>
  %o = decode.linear %attn, %wo : (tensor<?x256xbf16>, tensor<256x256xbf16>) -> tensor<?x256xbf16>
  %h = decode.add %x, %o : tensor<?x256xbf16>
  return %h, %o : tensor<?x256xbf16>, tensor<?x256xbf16>
}

// -----

// Negative: the other operand is computed after the linear, so the linear
// cannot read it.

// CHECK-LABEL: func.func @residual_after_linear
// CHECK: %[[O:.*]] = decode.linear %{{.*}}, %{{.*}} : (tensor<?x256xbf16>, tensor<256x256xbf16>)
// CHECK: %[[E:.*]] = decode.embed
// CHECK: decode.add %[[O]], %[[E]]
func.func @residual_after_linear(%attn: tensor<?x256xbf16>, %tokens: tensor<?xi32>) -> tensor<?x256xbf16> {
  %wo = decode.weight ["l0.o_proj.weight"] : tensor<256x256xbf16>
  %o = decode.linear %attn, %wo : (tensor<?x256xbf16>, tensor<256x256xbf16>) -> tensor<?x256xbf16>
  %emb = decode.weight ["model.embed_tokens.weight"] : tensor<1024x256xbf16>
  %e = decode.embed %tokens, %emb : (tensor<?xi32>, tensor<1024x256xbf16>) -> tensor<?x256xbf16>
  %h = decode.add %o, %e : tensor<?x256xbf16>
  return %h : tensor<?x256xbf16>
}

// -----

// Negative: the linear already has a residual epilogue.

// CHECK-LABEL: func.func @has_residual
// CHECK: %[[O:.*]] = decode.linear %{{.*}}, %{{.*}} residual(
// CHECK: decode.add %{{.*}}, %[[O]]
func.func @has_residual(%x: tensor<?x256xbf16>, %y: tensor<?x256xbf16>, %attn: tensor<?x256xbf16>) -> tensor<?x256xbf16> {
  %wo = decode.weight ["l0.o_proj.weight"] : tensor<256x256xbf16>
  %o = decode.linear %attn, %wo residual(%y : tensor<?x256xbf16>) : (tensor<?x256xbf16>, tensor<256x256xbf16>) -> tensor<?x256xbf16>
  %h = decode.add %x, %o : tensor<?x256xbf16>
  return %h : tensor<?x256xbf16>
}
