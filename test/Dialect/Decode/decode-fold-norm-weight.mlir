// RUN: infer-opt %s --decode-fold-norm-weight --split-input-file | FileCheck %s

// The norm weight moves into the weight's columns; the RMS scale stays.

// CHECK-LABEL: func.func @qkv
// CHECK-SAME: (%[[H:.*]]: tensor<?x256xbf16>
// CHECK-NOT: "l0.input_layernorm.weight"] :
// CHECK: %[[W:.*]] = decode.weight ["l0.q_proj.weight", "l0.k_proj.weight"] scaled_by "l0.input_layernorm.weight" : tensor<384x256xbf16>
// CHECK-NEXT: decode.linear %[[H]], %[[W]] {norm_epsilon = 9.99999974E-6 : f32} : (tensor<?x256xbf16>, tensor<384x256xbf16>) -> tensor<?x384xbf16>
func.func @qkv(%h: tensor<?x256xbf16>) -> tensor<?x384xbf16> {
  %g = decode.weight ["l0.input_layernorm.weight"] : tensor<256xbf16>
  %w = decode.weight ["l0.q_proj.weight", "l0.k_proj.weight"] : tensor<384x256xbf16>
  %y = decode.linear %h, %w norm(%g : tensor<256xbf16>) {norm_epsilon = 1.0e-05 : f32} : (tensor<?x256xbf16>, tensor<384x256xbf16>) -> tensor<?x384xbf16>
  return %y : tensor<?x384xbf16>
}

// -----

// A tied embedding keeps its unscaled table; lm_head gets a scaled copy.

// CHECK-LABEL: func.func @tied
// CHECK-DAG: %[[E:.*]] = decode.weight ["model.embed_tokens.weight"] : tensor<512x256xbf16>
// CHECK-DAG: %[[S:.*]] = decode.weight ["model.embed_tokens.weight"] scaled_by "model.norm.weight" : tensor<512x256xbf16>
// CHECK: decode.embed %{{.*}}, %[[E]]
// CHECK: decode.linear %{{.*}}, %[[S]] {norm_epsilon
func.func @tied(%t: tensor<?xi32>) -> tensor<?x512xf32> {
  %e = decode.weight ["model.embed_tokens.weight"] : tensor<512x256xbf16>
  %g = decode.weight ["model.norm.weight"] : tensor<256xbf16>
  %x = decode.embed %t, %e : (tensor<?xi32>, tensor<512x256xbf16>) -> tensor<?x256xbf16>
  %y = decode.linear %x, %e norm(%g : tensor<256xbf16>) {norm_epsilon = 1.0e-05 : f32} : (tensor<?x256xbf16>, tensor<512x256xbf16>) -> tensor<?x512xf32>
  return %y : tensor<?x512xf32>
}

// -----

// Left alone: the norm weight is a function argument, the weight is int8 or
// already scaled.

// CHECK-LABEL: func.func @unchanged
// CHECK: decode.linear %{{.*}}, %{{.*}} norm(%{{.*}} : tensor<256xbf16>)
// CHECK: decode.linear %{{.*}}, %{{.*}} norm(%{{.*}} : tensor<256xbf16>)
// CHECK: decode.linear %{{.*}}, %{{.*}} norm(%{{.*}} : tensor<256xbf16>)
func.func @unchanged(%h: tensor<?x256xbf16>, %arg: tensor<256xbf16>) -> (tensor<?x128xbf16>, tensor<?x128xbf16>, tensor<?x128xbf16>) {
  %g = decode.weight ["n.weight"] : tensor<256xbf16>
  %w = decode.weight ["a.weight"] : tensor<128x256xbf16>
  %q = decode.weight ["q.weight"] : tensor<128x256xi8>
  %s = decode.weight ["s.weight"] scaled_by "other.weight" : tensor<128x256xbf16>
  %0 = decode.linear %h, %w norm(%arg : tensor<256xbf16>) {norm_epsilon = 1.0e-05 : f32} : (tensor<?x256xbf16>, tensor<128x256xbf16>) -> tensor<?x128xbf16>
  %1 = decode.linear %h, %q norm(%g : tensor<256xbf16>) {norm_epsilon = 1.0e-05 : f32} : (tensor<?x256xbf16>, tensor<128x256xi8>) -> tensor<?x128xbf16>
  %2 = decode.linear %h, %s norm(%g : tensor<256xbf16>) {norm_epsilon = 1.0e-05 : f32} : (tensor<?x256xbf16>, tensor<128x256xbf16>) -> tensor<?x128xbf16>
  return %0, %1, %2 : tensor<?x128xbf16>, tensor<?x128xbf16>, tensor<?x128xbf16>
}
