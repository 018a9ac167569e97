// RUN: infer-opt %s -split-input-file -verify-diagnostics

// One case per verifier rule of the decode dialect: op verifiers
// (DecodeOps.cpp), the `decode.role` attribute (DecodeDialect.cpp), the type
// and attribute verifiers, and a few ODS constraints.

//===----------------------------------------------------------------------===//
// decode.weight
//===----------------------------------------------------------------------===//

func.func @weight_no_names() {
  // expected-error @+1 {{'decode.weight' op expects at least one checkpoint tensor name}}
  %0 = decode.weight [] : tensor<4x4xbf16>
  return
}

// -----

func.func @weight_empty_name() {
  // expected-error @+1 {{'decode.weight' op expects non-empty checkpoint tensor names}}
  %0 = decode.weight ["a.weight", ""] : tensor<4x4xbf16>
  return
}

// -----

func.func @weight_column_scale_rank1() {
  // expected-error @+1 {{'decode.weight' op expects column_scale on a rank-2 weight, got 'tensor<4xbf16>'}}
  %0 = decode.weight ["a.bias"] scaled_by "n.weight" : tensor<4xbf16>
  return
}

// -----

func.func @weight_column_scale_empty() {
  // expected-error @+1 {{'decode.weight' op expects a non-empty column_scale tensor name}}
  %0 = decode.weight ["a.weight"] scaled_by "" : tensor<4x4xbf16>
  return
}

// -----

func.func @weight_dynamic_shape() {
  // expected-error @+1 {{'decode.weight' op expects a static weight shape, got 'tensor<?x4xbf16>'}}
  %0 = decode.weight ["a.weight"] : tensor<?x4xbf16>
  return
}

// -----

func.func @weight_rank3() {
  // expected-error @+1 {{'decode.weight' op result #0 must be 1D/2D tensor of bfloat16 type or 16-bit float or 32-bit float or f8E4M3FN type or 8-bit signless integer values, but got 'tensor<2x4x4xbf16>'}}
  %0 = decode.weight ["a.weight"] : tensor<2x4x4xbf16>
  return
}

// -----

func.func @weight_element_type() {
  // expected-error @+1 {{'decode.weight' op result #0 must be 1D/2D tensor of bfloat16 type or 16-bit float or 32-bit float or f8E4M3FN type or 8-bit signless integer values, but got 'tensor<4x4xi32>'}}
  %0 = decode.weight ["a.weight"] : tensor<4x4xi32>
  return
}

//===----------------------------------------------------------------------===//
// decode.embed
//===----------------------------------------------------------------------===//

// -----

func.func @embed_rows(%t: tensor<4xi32>, %table: tensor<512x128xbf16>) {
  // expected-error @+1 {{'decode.embed' op expects the result to have one row per token (4), got 3}}
  %0 = decode.embed %t, %table : (tensor<4xi32>, tensor<512x128xbf16>) -> tensor<3x128xbf16>
  return
}

// -----

func.func @embed_width(%t: tensor<?xi32>, %table: tensor<512x128xbf16>) {
  // expected-error @+1 {{'decode.embed' op expects result dimension 1 to be 128 (the embedding width), got 64}}
  %0 = decode.embed %t, %table : (tensor<?xi32>, tensor<512x128xbf16>) -> tensor<?x64xbf16>
  return
}

// -----

func.func @embed_element_type(%t: tensor<?xi32>, %table: tensor<512x128xbf16>) {
  // expected-error @+1 {{'decode.embed' op expects the result element type to match the table's ('bf16')}}
  %0 = decode.embed %t, %table : (tensor<?xi32>, tensor<512x128xbf16>) -> tensor<?x128xf32>
  return
}

// -----

func.func @embed_token_type(%t: tensor<?xi64>, %table: tensor<512x128xbf16>) {
  // expected-error @+1 {{'decode.embed' op operand #0 must be 1D tensor of 32-bit signless integer values, but got 'tensor<?xi64>'}}
  %0 = decode.embed %t, %table : (tensor<?xi64>, tensor<512x128xbf16>) -> tensor<?x128xbf16>
  return
}

//===----------------------------------------------------------------------===//
// decode.rms_norm
//===----------------------------------------------------------------------===//

// -----

func.func @rms_norm_width(%x: tensor<?x128xbf16>, %w: tensor<64xbf16>) {
  // expected-error @+1 {{'decode.rms_norm' op expects input dimension 1 to be 64 (the norm weight's length), got 128}}
  %0 = decode.rms_norm %x, %w {epsilon = 1.0e-05 : f32} : tensor<?x128xbf16>, tensor<64xbf16>
  return
}

// -----

func.func @rms_norm_epsilon(%x: tensor<?x128xbf16>, %w: tensor<128xbf16>) {
  // expected-error @+1 {{'decode.rms_norm' op expects a positive epsilon}}
  %0 = decode.rms_norm %x, %w {epsilon = 0.0 : f32} : tensor<?x128xbf16>, tensor<128xbf16>
  return
}

// -----

func.func @rms_norm_epsilon_f64(%x: tensor<?x128xbf16>, %w: tensor<128xbf16>) {
  // expected-error @+1 {{'decode.rms_norm' op attribute 'epsilon' failed to satisfy constraint: 32-bit float attribute}}
  %0 = decode.rms_norm %x, %w {epsilon = 1.0e-05 : f64} : tensor<?x128xbf16>, tensor<128xbf16>
  return
}

// -----

func.func @rms_norm_rank(%x: tensor<?x4x128xbf16>, %w: tensor<128xbf16>) {
  // expected-error @+1 {{'decode.rms_norm' op operand #0 must be 2D tensor of bfloat16 type or 16-bit float or 32-bit float values, but got 'tensor<?x4x128xbf16>'}}
  %0 = decode.rms_norm %x, %w {epsilon = 1.0e-05 : f32} : tensor<?x4x128xbf16>, tensor<128xbf16>
  return
}

//===----------------------------------------------------------------------===//
// decode.add
//===----------------------------------------------------------------------===//

// -----

func.func @add_element_type(%x: tensor<?x128xi32>) {
  // expected-error @+1 {{'decode.add' op operand #0 must be 2D tensor of bfloat16 type or 16-bit float or 32-bit float values, but got 'tensor<?x128xi32>'}}
  %0 = decode.add %x, %x : tensor<?x128xi32>
  return
}

// -----

func.func @add_types_differ(%x: tensor<?x128xbf16>, %y: tensor<?x128xf32>) {
  // expected-error @+1 {{'decode.add' op failed to verify that all of {lhs, rhs, result} have same type}}
  %0 = "decode.add"(%x, %y) : (tensor<?x128xbf16>, tensor<?x128xf32>) -> tensor<?x128xbf16>
  return
}

//===----------------------------------------------------------------------===//
// decode.silu_mul
//===----------------------------------------------------------------------===//

// -----

func.func @silu_mul_three_operands(%x: tensor<?x128xbf16>) {
  // expected-error @+1 {{'decode.silu_mul' op expects (gate, up) or one packed [gate | up] operand, got 3 operands}}
  %0 = decode.silu_mul %x, %x, %x : tensor<?x128xbf16>, tensor<?x128xbf16>, tensor<?x128xbf16> -> tensor<?x128xbf16>
  return
}

// -----

func.func @silu_mul_no_operands() {
  // expected-error @+1 {{'decode.silu_mul' op expects (gate, up) or one packed [gate | up] operand, got 0 operands}}
  %0 = "decode.silu_mul"() : () -> tensor<?x128xbf16>
  return
}

// -----

func.func @silu_mul_element_type(%g: tensor<?x128xbf16>, %u: tensor<?x128xf16>) {
  // expected-error @+1 {{'decode.silu_mul' op expects operand and result element types to match}}
  %0 = decode.silu_mul %g, %u : tensor<?x128xbf16>, tensor<?x128xf16> -> tensor<?x128xbf16>
  return
}

// -----

func.func @silu_mul_rows(%g: tensor<4x128xbf16>, %u: tensor<4x128xbf16>) {
  // expected-error @+1 {{'decode.silu_mul' op expects each operand to have one row per result row (2), got 4}}
  %0 = decode.silu_mul %g, %u : tensor<4x128xbf16>, tensor<4x128xbf16> -> tensor<2x128xbf16>
  return
}

// -----

func.func @silu_mul_width(%g: tensor<?x128xbf16>, %u: tensor<?x64xbf16>) {
  // expected-error @+1 {{'decode.silu_mul' op expects operand dimension 1 to be 128 (the result width), got 64}}
  %0 = decode.silu_mul %g, %u : tensor<?x128xbf16>, tensor<?x64xbf16> -> tensor<?x128xbf16>
  return
}

// -----

func.func @silu_mul_packed_odd(%gu: tensor<?x255xbf16>) {
  // expected-error @+1 {{'decode.silu_mul' op expects the packed [gate | up] operand to have an even width, got 255}}
  %0 = decode.silu_mul %gu : tensor<?x255xbf16> -> tensor<?x?xbf16>
  return
}

// -----

func.func @silu_mul_packed_width(%gu: tensor<?x256xbf16>) {
  // expected-error @+1 {{'decode.silu_mul' op expects packed operand dimension 1 to be 512 (twice the result width), got 256}}
  %0 = decode.silu_mul %gu : tensor<?x256xbf16> -> tensor<?x256xbf16>
  return
}

// -----

// 2 * width does not fit in int64_t (it once wrapped to the dynamic marker
// and the op verified).
func.func @silu_mul_packed_width_overflow(%gu: tensor<?x256xbf16>) {
  // expected-error @+1 {{'decode.silu_mul' op expects packed operand dimension 1 to be 9223372036854775808 (twice the result width), got 256}}
  %0 = decode.silu_mul %gu : tensor<?x256xbf16> -> tensor<?x4611686018427387904xbf16>
  return
}

//===----------------------------------------------------------------------===//
// decode.slice
//===----------------------------------------------------------------------===//

// -----

func.func @slice_dynamic_input(%x: tensor<?x?xbf16>) {
  // expected-error @+1 {{'decode.slice' op expects the input to have a static feature dimension}}
  %0 = decode.slice %x[0] : tensor<?x?xbf16> -> tensor<?x64xbf16>
  return
}

// -----

func.func @slice_dynamic_result(%x: tensor<?x128xbf16>) {
  // expected-error @+1 {{'decode.slice' op expects the result to have a static feature dimension}}
  %0 = decode.slice %x[0] : tensor<?x128xbf16> -> tensor<?x?xbf16>
  return
}

// -----

func.func @slice_rows(%x: tensor<4x128xbf16>) {
  // expected-error @+1 {{'decode.slice' op expects the result to have one row per input row (4), got 8}}
  %0 = decode.slice %x[0] : tensor<4x128xbf16> -> tensor<8x64xbf16>
  return
}

// -----

func.func @slice_element_type(%x: tensor<?x128xbf16>) {
  // expected-error @+1 {{'decode.slice' op expects matching element types}}
  %0 = decode.slice %x[0] : tensor<?x128xbf16> -> tensor<?x64xf16>
  return
}

// -----

func.func @slice_out_of_bounds(%x: tensor<?x128xbf16>) {
  // expected-error @+1 {{'decode.slice' op slice [96, 160) exceeds the input width 128}}
  %0 = decode.slice %x[96] : tensor<?x128xbf16> -> tensor<?x64xbf16>
  return
}

// -----

// offset + width must not wrap around (it once did, and the slice verified).
func.func @slice_offset_wraps(%x: tensor<?x128xbf16>) {
  // expected-error @+1 {{'decode.slice' op slice [9223372036854775800, 9223372036854775864) exceeds the input width 128}}
  %0 = decode.slice %x[9223372036854775800] : tensor<?x128xbf16> -> tensor<?x64xbf16>
  return
}

// -----

func.func @slice_negative_offset(%x: tensor<?x128xbf16>) {
  // expected-error @+1 {{'decode.slice' op attribute 'offset' failed to satisfy constraint: 64-bit signless integer attribute whose value is non-negative}}
  %0 = decode.slice %x[-1] : tensor<?x128xbf16> -> tensor<?x64xbf16>
  return
}

//===----------------------------------------------------------------------===//
// decode.gather_tokens
//===----------------------------------------------------------------------===//

// -----

func.func @gather_width(%x: tensor<?x128xbf16>, %i: tensor<?xi32>) {
  // expected-error @+1 {{'decode.gather_tokens' op expects the result rows to have the input's width and element type}}
  %0 = decode.gather_tokens %x[%i] : tensor<?x128xbf16>, tensor<?xi32> -> tensor<?x64xbf16>
  return
}

// -----

func.func @gather_rows(%x: tensor<?x128xbf16>, %i: tensor<2xi32>) {
  // expected-error @+1 {{'decode.gather_tokens' op expects the result to have one row per index (2), got 3}}
  %0 = decode.gather_tokens %x[%i] : tensor<?x128xbf16>, tensor<2xi32> -> tensor<3x128xbf16>
  return
}

//===----------------------------------------------------------------------===//
// decode.linear
//===----------------------------------------------------------------------===//

// -----

func.func @linear_k(%x: tensor<?x64xbf16>, %w: tensor<256x128xbf16>) {
  // expected-error @+1 {{'decode.linear' op expects input dimension 1 to be 128 (the weight is [N, K]), got 64}}
  %0 = decode.linear %x, %w : (tensor<?x64xbf16>, tensor<256x128xbf16>) -> tensor<?x256xbf16>
  return
}

// -----

func.func @linear_rows(%x: tensor<4x128xbf16>, %w: tensor<256x128xbf16>) {
  // expected-error @+1 {{'decode.linear' op expects the result to have one row per input row (4), got 5}}
  %0 = decode.linear %x, %w : (tensor<4x128xbf16>, tensor<256x128xbf16>) -> tensor<5x256xbf16>
  return
}

// -----

func.func @linear_n(%x: tensor<?x128xbf16>, %w: tensor<256x128xbf16>) {
  // expected-error @+1 {{'decode.linear' op expects result dimension 1 to be 256 (the weight's row count N), got 128}}
  %0 = decode.linear %x, %w : (tensor<?x128xbf16>, tensor<256x128xbf16>) -> tensor<?x128xbf16>
  return
}

// -----

func.func @linear_bias(%x: tensor<?x128xbf16>, %w: tensor<256x128xbf16>, %b: tensor<128xbf16>) {
  // expected-error @+1 {{'decode.linear' op expects the bias length to be N = 256, got 128}}
  %0 = decode.linear %x, %w bias(%b : tensor<128xbf16>) : (tensor<?x128xbf16>, tensor<256x128xbf16>) -> tensor<?x256xbf16>
  return
}

// -----

func.func @linear_residual(%x: tensor<?x128xbf16>, %w: tensor<256x128xbf16>, %r: tensor<?x256xf32>) {
  // expected-error @+1 {{'decode.linear' op expects the residual to have the result type 'tensor<?x256xbf16>', got 'tensor<?x256xf32>'}}
  %0 = decode.linear %x, %w residual(%r : tensor<?x256xf32>) : (tensor<?x128xbf16>, tensor<256x128xbf16>) -> tensor<?x256xbf16>
  return
}

// -----

func.func @linear_norm_without_epsilon(%x: tensor<?x128xbf16>, %w: tensor<256x128xbf16>, %n: tensor<128xbf16>) {
  // expected-error @+1 {{'decode.linear' op expects 'norm_epsilon' with a norm weight}}
  %0 = decode.linear %x, %w norm(%n : tensor<128xbf16>) : (tensor<?x128xbf16>, tensor<256x128xbf16>) -> tensor<?x256xbf16>
  return
}

// -----

func.func @linear_activation_width(%x: tensor<?x128xbf16>, %w: tensor<256x128xbf16>) {
  // expected-error @+1 {{'decode.linear' op expects result dimension 1 to be 128 (N / 2 with an activation), got 256}}
  %0 = decode.linear %x, %w {activation = #decode.activation<silu_mul>} : (tensor<?x128xbf16>, tensor<256x128xbf16>) -> tensor<?x256xbf16>
  return
}

// -----

func.func @linear_activation_odd(%x: tensor<?x128xbf16>, %w: tensor<255x128xbf16>) {
  // expected-error @+1 {{'decode.linear' op expects an even weight row count N with an activation ([gate | up] halves), got 255}}
  %0 = decode.linear %x, %w {activation = #decode.activation<silu_mul>} : (tensor<?x128xbf16>, tensor<255x128xbf16>) -> tensor<?x127xbf16>
  return
}

// -----

func.func @linear_activation_residual(%x: tensor<?x128xbf16>, %w: tensor<256x128xbf16>, %r: tensor<?x128xbf16>) {
  // expected-error @+1 {{'decode.linear' op expects no residual with an activation}}
  %0 = decode.linear %x, %w residual(%r : tensor<?x128xbf16>) {activation = #decode.activation<silu_mul>} : (tensor<?x128xbf16>, tensor<256x128xbf16>) -> tensor<?x128xbf16>
  return
}

// -----

func.func @linear_rms_scale_epsilon(%x: tensor<?x128xbf16>, %w: tensor<256x128xbf16>) {
  // expected-error @+1 {{'decode.linear' op expects a positive norm_epsilon}}
  %0 = decode.linear %x, %w {norm_epsilon = 0.0 : f32} : (tensor<?x128xbf16>, tensor<256x128xbf16>) -> tensor<?x256xbf16>
  return
}

// -----

func.func @linear_norm_length(%x: tensor<?x128xbf16>, %w: tensor<256x128xbf16>, %n: tensor<256xbf16>) {
  // expected-error @+1 {{'decode.linear' op expects the norm weight length to be K = 128, got 256}}
  %0 = decode.linear %x, %w norm(%n : tensor<256xbf16>) {norm_epsilon = 1.0e-05 : f32} : (tensor<?x128xbf16>, tensor<256x128xbf16>) -> tensor<?x256xbf16>
  return
}

// -----

func.func @linear_norm_epsilon(%x: tensor<?x128xbf16>, %w: tensor<256x128xbf16>, %n: tensor<128xbf16>) {
  // expected-error @+1 {{'decode.linear' op expects a positive norm_epsilon}}
  %0 = decode.linear %x, %w norm(%n : tensor<128xbf16>) {norm_epsilon = -1.0e-05 : f32} : (tensor<?x128xbf16>, tensor<256x128xbf16>) -> tensor<?x256xbf16>
  return
}

// -----

func.func @linear_variants_unsorted(%x: tensor<?x128xbf16>, %w: tensor<256x128xbf16>) {
  // expected-error @+1 {{'decode.linear' op expects kernel variants sorted by strictly increasing max_tokens}}
  %0 = decode.linear %x, %w {variants = [#decode.variant<max_tokens = 64, kind = gemv>, #decode.variant<max_tokens = 64, kind = mma>]} : (tensor<?x128xbf16>, tensor<256x128xbf16>) -> tensor<?x256xbf16>
  return
}

// -----

func.func @linear_k_split(%x: tensor<?x128xbf16>, %w: tensor<256x128xbf16>) {
  // expected-error @+1 {{'decode.linear' op k_split 3 does not divide K = 128}}
  %0 = decode.linear %x, %w {variants = [#decode.variant<max_tokens = 1, kind = gemv, k_split = 3>]} : (tensor<?x128xbf16>, tensor<256x128xbf16>) -> tensor<?x256xbf16>
  return
}

// -----

func.func @linear_variants_not_variants(%x: tensor<?x128xbf16>, %w: tensor<256x128xbf16>) {
  // expected-error @+1 {{'decode.linear' op attribute 'variants' failed to satisfy constraint: kernel variants}}
  %0 = decode.linear %x, %w {variants = [1, 2]} : (tensor<?x128xbf16>, tensor<256x128xbf16>) -> tensor<?x256xbf16>
  return
}

// -----

func.func @linear_weight_rank(%x: tensor<?x128xbf16>, %w: tensor<128xbf16>) {
  // expected-error @+1 {{'decode.linear' op operand #1 must be 2D tensor of bfloat16 type or 16-bit float or 32-bit float or f8E4M3FN type or 8-bit signless integer values, but got 'tensor<128xbf16>'}}
  %0 = decode.linear %x, %w : (tensor<?x128xbf16>, tensor<128xbf16>) -> tensor<?x256xbf16>
  return
}

//===----------------------------------------------------------------------===//
// decode.rope
//===----------------------------------------------------------------------===//

// -----

func.func @rope_odd_head_dim(%x: tensor<?x126xbf16>, %p: tensor<?xi32>) {
  // expected-error @+1 {{'decode.rope' op expects an even head_dim, got 63}}
  %0 = decode.rope %x, %p {head_dim = 63 : i64, theta = 1.0e+04 : f32} : tensor<?x126xbf16>, tensor<?xi32>
  return
}

// -----

func.func @rope_partial_head(%x: tensor<?x96xbf16>, %p: tensor<?xi32>) {
  // expected-error @+1 {{'decode.rope' op input width 96 is not a whole number of heads of head_dim 64}}
  %0 = decode.rope %x, %p {head_dim = 64 : i64, theta = 1.0e+04 : f32} : tensor<?x96xbf16>, tensor<?xi32>
  return
}

// -----

func.func @rope_rows(%x: tensor<4x128xbf16>, %p: tensor<3xi32>) {
  // expected-error @+1 {{'decode.rope' op expects the input to have one row per position (3), got 4}}
  %0 = decode.rope %x, %p {head_dim = 64 : i64, theta = 1.0e+04 : f32} : tensor<4x128xbf16>, tensor<3xi32>
  return
}

// -----

func.func @rope_theta(%x: tensor<?x128xbf16>, %p: tensor<?xi32>) {
  // expected-error @+1 {{'decode.rope' op expects a positive rope theta, got -1.000000e+04}}
  %0 = decode.rope %x, %p {head_dim = 64 : i64, theta = -1.0e+04 : f32} : tensor<?x128xbf16>, tensor<?xi32>
  return
}

// -----

func.func @rope_zero_head_dim(%x: tensor<?x128xbf16>, %p: tensor<?xi32>) {
  // expected-error @+1 {{'decode.rope' op attribute 'head_dim' failed to satisfy constraint: 64-bit signless integer attribute whose value is positive}}
  %0 = decode.rope %x, %p {head_dim = 0 : i64, theta = 1.0e+04 : f32} : tensor<?x128xbf16>, tensor<?xi32>
  return
}

// -----

func.func @rope_missing_theta(%x: tensor<?x128xbf16>, %p: tensor<?xi32>) {
  // expected-error @+1 {{'decode.rope' op requires attribute 'theta'}}
  %0 = decode.rope %x, %p {head_dim = 64 : i64} : tensor<?x128xbf16>, tensor<?xi32>
  return
}

//===----------------------------------------------------------------------===//
// #decode.rope_scaling
//===----------------------------------------------------------------------===//

// -----

func.func @rope_scaling_factor(%x: tensor<?x128xbf16>, %p: tensor<?xi32>) {
  // expected-error @+1 {{rope_scaling factor must be positive, got 0}}
  %0 = decode.rope %x, %p {head_dim = 64 : i64, theta = 1.0e+04 : f32, scaling = #decode.rope_scaling<kind = linear, factor = 0.0>} : tensor<?x128xbf16>, tensor<?xi32>
  return
}

// -----

func.func @rope_scaling_low_high(%x: tensor<?x128xbf16>, %p: tensor<?xi32>) {
  // expected-error @+1 {{llama3 rope_scaling needs 0 < low_freq_factor < high_freq_factor}}
  %0 = decode.rope %x, %p {head_dim = 64 : i64, theta = 1.0e+04 : f32, scaling = #decode.rope_scaling<kind = llama3, factor = 8.0, low_freq_factor = 4.0, high_freq_factor = 1.0>} : tensor<?x128xbf16>, tensor<?xi32>
  return
}

// -----

func.func @rope_scaling_low_zero(%x: tensor<?x128xbf16>, %p: tensor<?xi32>) {
  // expected-error @+1 {{llama3 rope_scaling needs 0 < low_freq_factor < high_freq_factor}}
  %0 = decode.rope %x, %p {head_dim = 64 : i64, theta = 1.0e+04 : f32, scaling = #decode.rope_scaling<kind = llama3, factor = 8.0, low_freq_factor = 0.0>} : tensor<?x128xbf16>, tensor<?xi32>
  return
}

// -----

func.func @rope_scaling_original_max_position(%x: tensor<?x128xbf16>, %p: tensor<?xi32>) {
  // expected-error @+1 {{llama3 rope_scaling needs a positive original_max_position}}
  %0 = decode.rope %x, %p {head_dim = 64 : i64, theta = 1.0e+04 : f32, scaling = #decode.rope_scaling<kind = llama3, factor = 8.0, original_max_position = 0>} : tensor<?x128xbf16>, tensor<?xi32>
  return
}

// -----

func.func @rope_scaling_kind(%x: tensor<?x128xbf16>, %p: tensor<?xi32>) {
  // expected-error @+2 {{expected ::mlir::decode::RopeScalingKind to be one of: linear, llama3}}
  // expected-error @+1 {{failed to parse Decode_RopeScalingAttr parameter 'kind' which is to be a `::mlir::decode::RopeScalingKind`}}
  %0 = decode.rope %x, %p {head_dim = 64 : i64, theta = 1.0e+04 : f32, scaling = #decode.rope_scaling<kind = yarn, factor = 8.0>} : tensor<?x128xbf16>, tensor<?xi32>
  return
}

//===----------------------------------------------------------------------===//
// #decode.variant
//===----------------------------------------------------------------------===//

// -----

func.func @variant_max_tokens(%x: tensor<?x128xbf16>, %w: tensor<256x128xbf16>) {
  // expected-error @+1 {{kernel variant max_tokens must be positive}}
  %0 = decode.linear %x, %w {variants = [#decode.variant<max_tokens = 0, kind = gemv>]} : (tensor<?x128xbf16>, tensor<256x128xbf16>) -> tensor<?x256xbf16>
  return
}

// -----

func.func @variant_k_split(%x: tensor<?x128xbf16>, %w: tensor<256x128xbf16>) {
  // expected-error @+1 {{kernel variant k_split must be at least 1}}
  %0 = decode.linear %x, %w {variants = [#decode.variant<max_tokens = 8, kind = gemv, k_split = 0>]} : (tensor<?x128xbf16>, tensor<256x128xbf16>) -> tensor<?x256xbf16>
  return
}

//===----------------------------------------------------------------------===//
// !decode.kv_cache
//===----------------------------------------------------------------------===//

// -----

// expected-error @+1 {{kv_cache layers must be positive, got 0}}
func.func @cache_layers(%c: !decode.kv_cache<layers = 0, kv_heads = 2, head_dim = 64, block_size = 16, dtype = bf16>)

// -----

// expected-error @+1 {{kv_cache kv_heads must be positive, got -2}}
func.func @cache_kv_heads(%c: !decode.kv_cache<layers = 2, kv_heads = -2, head_dim = 64, block_size = 16, dtype = bf16>)

// -----

// expected-error @+1 {{kv_cache head_dim must be a positive multiple of 8 (16-byte rows), got 60}}
func.func @cache_head_dim(%c: !decode.kv_cache<layers = 2, kv_heads = 2, head_dim = 60, block_size = 16, dtype = bf16>)

// -----

// expected-error @+1 {{kv_cache kv_heads * head_dim (1152921504606846976 * 8) is too large}}
func.func @cache_row_overflow(%c: !decode.kv_cache<layers = 2, kv_heads = 1152921504606846976, head_dim = 8, block_size = 16, dtype = bf16>)

// -----

// expected-error @+1 {{kv_cache block_size must be a power of two, got 24}}
func.func @cache_block_size(%c: !decode.kv_cache<layers = 2, kv_heads = 2, head_dim = 64, block_size = 24, dtype = bf16>)

// -----

// expected-error @+1 {{kv_cache dtype must be bf16, f16, f8E4M3FN or i8 (with per-row scales), got 'f32'}}
func.func @cache_dtype(%c: !decode.kv_cache<layers = 2, kv_heads = 2, head_dim = 64, block_size = 16, dtype = f32>)

// -----

// expected-error @+1 {{kv_cache dtype must be bf16, f16, f8E4M3FN or i8 (with per-row scales), got 'f8E5M2'}}
func.func @cache_dtype_e5m2(%c: !decode.kv_cache<layers = 2, kv_heads = 2, head_dim = 64, block_size = 16, dtype = f8E5M2>)

//===----------------------------------------------------------------------===//
// decode.kv_append
//===----------------------------------------------------------------------===//

// -----

func.func @kv_append_layer(%c: !decode.kv_cache<layers = 2, kv_heads = 2, head_dim = 64, block_size = 16, dtype = bf16>, %s: tensor<?xi32>, %k: tensor<?x128xbf16>) {
  // expected-error @+1 {{'decode.kv_append' op layer 2 is out of range: the cache has 2 layers}}
  %0 = decode.kv_append %c[%s], %k, %k {layer = 2 : i64} : !decode.kv_cache<layers = 2, kv_heads = 2, head_dim = 64, block_size = 16, dtype = bf16>, tensor<?xi32>, tensor<?x128xbf16>, tensor<?x128xbf16>
  return
}

// -----

func.func @kv_append_width(%c: !decode.kv_cache<layers = 2, kv_heads = 2, head_dim = 64, block_size = 16, dtype = bf16>, %s: tensor<?xi32>, %k: tensor<?x128xbf16>, %v: tensor<?x64xbf16>) {
  // expected-error @+1 {{'decode.kv_append' op expects value dimension 1 to be 128 (kv_heads * head_dim), got 64}}
  %0 = decode.kv_append %c[%s], %k, %v {layer = 0 : i64} : !decode.kv_cache<layers = 2, kv_heads = 2, head_dim = 64, block_size = 16, dtype = bf16>, tensor<?xi32>, tensor<?x128xbf16>, tensor<?x64xbf16>
  return
}

// -----

func.func @kv_append_rows(%c: !decode.kv_cache<layers = 2, kv_heads = 2, head_dim = 64, block_size = 16, dtype = bf16>, %s: tensor<3xi32>, %k: tensor<4x128xbf16>) {
  // expected-error @+1 {{'decode.kv_append' op expects key to have one row per slot (3), got 4}}
  %0 = decode.kv_append %c[%s], %k, %k {layer = 0 : i64} : !decode.kv_cache<layers = 2, kv_heads = 2, head_dim = 64, block_size = 16, dtype = bf16>, tensor<3xi32>, tensor<4x128xbf16>, tensor<4x128xbf16>
  return
}

// -----

func.func @kv_append_negative_layer(%c: !decode.kv_cache<layers = 2, kv_heads = 2, head_dim = 64, block_size = 16, dtype = bf16>, %s: tensor<?xi32>, %k: tensor<?x128xbf16>) {
  // expected-error @+1 {{'decode.kv_append' op attribute 'layer' failed to satisfy constraint: 64-bit signless integer attribute whose value is non-negative}}
  %0 = decode.kv_append %c[%s], %k, %k {layer = -1 : i64} : !decode.kv_cache<layers = 2, kv_heads = 2, head_dim = 64, block_size = 16, dtype = bf16>, tensor<?xi32>, tensor<?x128xbf16>, tensor<?x128xbf16>
  return
}

//===----------------------------------------------------------------------===//
// decode.rope_append
//===----------------------------------------------------------------------===//

// -----

func.func @rope_append_layer(%c: !decode.kv_cache<layers = 2, kv_heads = 2, head_dim = 64, block_size = 16, dtype = bf16>, %s: tensor<?xi32>, %qkv: tensor<?x512xbf16>) {
  // expected-error @+1 {{'decode.rope_append' op layer 5 is out of range: the cache has 2 layers}}
  %q, %c1 = decode.rope_append %c[%s], %qkv, %s {layer = 5 : i64, num_heads = 4 : i64, theta = 1.0e+04 : f32} : !decode.kv_cache<layers = 2, kv_heads = 2, head_dim = 64, block_size = 16, dtype = bf16>, tensor<?xi32>, tensor<?x512xbf16>, tensor<?xi32> -> tensor<?x256xbf16>
  return
}

// -----

func.func @rope_append_heads(%c: !decode.kv_cache<layers = 2, kv_heads = 2, head_dim = 64, block_size = 16, dtype = bf16>, %s: tensor<?xi32>, %qkv: tensor<?x448xbf16>) {
  // expected-error @+1 {{'decode.rope_append' op num_heads (3) must be a multiple of the cache's kv_heads (2) for GQA}}
  %q, %c1 = decode.rope_append %c[%s], %qkv, %s {layer = 0 : i64, num_heads = 3 : i64, theta = 1.0e+04 : f32} : !decode.kv_cache<layers = 2, kv_heads = 2, head_dim = 64, block_size = 16, dtype = bf16>, tensor<?xi32>, tensor<?x448xbf16>, tensor<?xi32> -> tensor<?x192xbf16>
  return
}

// -----

func.func @rope_append_theta(%c: !decode.kv_cache<layers = 2, kv_heads = 2, head_dim = 64, block_size = 16, dtype = bf16>, %s: tensor<?xi32>, %qkv: tensor<?x512xbf16>) {
  // expected-error @+1 {{'decode.rope_append' op expects a positive rope theta, got 0.000000e+00}}
  %q, %c1 = decode.rope_append %c[%s], %qkv, %s {layer = 0 : i64, num_heads = 4 : i64, theta = 0.0 : f32} : !decode.kv_cache<layers = 2, kv_heads = 2, head_dim = 64, block_size = 16, dtype = bf16>, tensor<?xi32>, tensor<?x512xbf16>, tensor<?xi32> -> tensor<?x256xbf16>
  return
}

// -----

func.func @rope_append_qkv_width(%c: !decode.kv_cache<layers = 2, kv_heads = 2, head_dim = 64, block_size = 16, dtype = bf16>, %s: tensor<?xi32>, %qkv: tensor<?x384xbf16>) {
  // expected-error @+1 {{'decode.rope_append' op expects qkv dimension 1 to be 512 ([q | k | v] of num_heads and 2 * kv_heads heads), got 384}}
  %q, %c1 = decode.rope_append %c[%s], %qkv, %s {layer = 0 : i64, num_heads = 4 : i64, theta = 1.0e+04 : f32} : !decode.kv_cache<layers = 2, kv_heads = 2, head_dim = 64, block_size = 16, dtype = bf16>, tensor<?xi32>, tensor<?x384xbf16>, tensor<?xi32> -> tensor<?x256xbf16>
  return
}

// -----

func.func @rope_append_query_width(%c: !decode.kv_cache<layers = 2, kv_heads = 2, head_dim = 64, block_size = 16, dtype = bf16>, %s: tensor<?xi32>, %qkv: tensor<?x512xbf16>) {
  // expected-error @+1 {{'decode.rope_append' op expects query dimension 1 to be 256 (num_heads * head_dim), got 128}}
  %q, %c1 = decode.rope_append %c[%s], %qkv, %s {layer = 0 : i64, num_heads = 4 : i64, theta = 1.0e+04 : f32} : !decode.kv_cache<layers = 2, kv_heads = 2, head_dim = 64, block_size = 16, dtype = bf16>, tensor<?xi32>, tensor<?x512xbf16>, tensor<?xi32> -> tensor<?x128xbf16>
  return
}

// -----

func.func @rope_append_slot_rows(%c: !decode.kv_cache<layers = 2, kv_heads = 2, head_dim = 64, block_size = 16, dtype = bf16>, %s: tensor<2xi32>, %p: tensor<?xi32>, %qkv: tensor<4x512xbf16>) {
  // expected-error @+1 {{'decode.rope_append' op expects qkv to have one row per slot (2), got 4}}
  %q, %c1 = decode.rope_append %c[%s], %qkv, %p {layer = 0 : i64, num_heads = 4 : i64, theta = 1.0e+04 : f32} : !decode.kv_cache<layers = 2, kv_heads = 2, head_dim = 64, block_size = 16, dtype = bf16>, tensor<2xi32>, tensor<4x512xbf16>, tensor<?xi32> -> tensor<4x256xbf16>
  return
}

// -----

func.func @rope_append_position_rows(%c: !decode.kv_cache<layers = 2, kv_heads = 2, head_dim = 64, block_size = 16, dtype = bf16>, %s: tensor<?xi32>, %p: tensor<3xi32>, %qkv: tensor<4x512xbf16>) {
  // expected-error @+1 {{'decode.rope_append' op expects qkv to have one row per position (3), got 4}}
  %q, %c1 = decode.rope_append %c[%s], %qkv, %p {layer = 0 : i64, num_heads = 4 : i64, theta = 1.0e+04 : f32} : !decode.kv_cache<layers = 2, kv_heads = 2, head_dim = 64, block_size = 16, dtype = bf16>, tensor<?xi32>, tensor<4x512xbf16>, tensor<3xi32> -> tensor<4x256xbf16>
  return
}

// -----

func.func @rope_append_query_rows(%c: !decode.kv_cache<layers = 2, kv_heads = 2, head_dim = 64, block_size = 16, dtype = bf16>, %s: tensor<?xi32>, %qkv: tensor<4x512xbf16>) {
  // expected-error @+1 {{'decode.rope_append' op expects query to have one row per qkv row (4), got 5}}
  %q, %c1 = decode.rope_append %c[%s], %qkv, %s {layer = 0 : i64, num_heads = 4 : i64, theta = 1.0e+04 : f32} : !decode.kv_cache<layers = 2, kv_heads = 2, head_dim = 64, block_size = 16, dtype = bf16>, tensor<?xi32>, tensor<4x512xbf16>, tensor<?xi32> -> tensor<5x256xbf16>
  return
}

//===----------------------------------------------------------------------===//
// decode.paged_attention
//===----------------------------------------------------------------------===//

// -----

func.func @attention_layer(%q: tensor<?x256xbf16>, %c: !decode.kv_cache<layers = 2, kv_heads = 2, head_dim = 64, block_size = 16, dtype = bf16>, %bt: tensor<?x?xi32>, %l: tensor<?xi32>) {
  // expected-error @+1 {{'decode.paged_attention' op layer 2 is out of range: the cache has 2 layers}}
  %0 = decode.paged_attention %q, %c[%bt, %l, %l] {layer = 2 : i64, num_heads = 4 : i64, scale = 0.125 : f32} : tensor<?x256xbf16>, !decode.kv_cache<layers = 2, kv_heads = 2, head_dim = 64, block_size = 16, dtype = bf16>, tensor<?x?xi32>, tensor<?xi32>, tensor<?xi32> -> tensor<?x256xbf16>
  return
}

// -----

func.func @attention_mma_head_dim(%q: tensor<?x384xbf16>, %c: !decode.kv_cache<layers = 2, kv_heads = 2, head_dim = 96, block_size = 16, dtype = bf16>, %bt: tensor<?x?xi32>, %l: tensor<?xi32>) {
  // expected-error @+1 {{'decode.paged_attention' op kernel `mma` needs head_dim % 64 == 0, block_size % 16 == 0 and at most 16 query heads per kv head; use `simt`}}
  %0 = decode.paged_attention %q, %c[%bt, %l, %l] {layer = 0 : i64, num_heads = 4 : i64, scale = 0.125 : f32, kernel = #decode.attention_kernel<mma>} : tensor<?x384xbf16>, !decode.kv_cache<layers = 2, kv_heads = 2, head_dim = 96, block_size = 16, dtype = bf16>, tensor<?x?xi32>, tensor<?xi32>, tensor<?xi32> -> tensor<?x384xbf16>
  return
}

// -----

func.func @attention_gqa(%q: tensor<?x320xbf16>, %c: !decode.kv_cache<layers = 2, kv_heads = 2, head_dim = 64, block_size = 16, dtype = bf16>, %bt: tensor<?x?xi32>, %l: tensor<?xi32>) {
  // expected-error @+1 {{'decode.paged_attention' op num_heads (5) must be a multiple of the cache's kv_heads (2) for GQA}}
  %0 = decode.paged_attention %q, %c[%bt, %l, %l] {layer = 0 : i64, num_heads = 5 : i64, scale = 0.125 : f32} : tensor<?x320xbf16>, !decode.kv_cache<layers = 2, kv_heads = 2, head_dim = 64, block_size = 16, dtype = bf16>, tensor<?x?xi32>, tensor<?xi32>, tensor<?xi32> -> tensor<?x320xbf16>
  return
}

// -----

// num_heads * head_dim wraps to 0 in int64_t (it once matched a zero-width
// query and verified).
func.func @attention_heads_overflow(%q: tensor<?x0xbf16>, %c: !decode.kv_cache<layers = 2, kv_heads = 2, head_dim = 64, block_size = 16, dtype = bf16>, %bt: tensor<?x?xi32>, %l: tensor<?xi32>) {
  // expected-error @+1 {{'decode.paged_attention' op num_heads (4611686018427387904) is too large: its heads' width overflows}}
  %0 = decode.paged_attention %q, %c[%bt, %l, %l] {layer = 0 : i64, num_heads = 4611686018427387904 : i64, scale = 0.125 : f32} : tensor<?x0xbf16>, !decode.kv_cache<layers = 2, kv_heads = 2, head_dim = 64, block_size = 16, dtype = bf16>, tensor<?x?xi32>, tensor<?xi32>, tensor<?xi32> -> tensor<?x0xbf16>
  return
}

// -----

func.func @attention_query_width(%q: tensor<?x128xbf16>, %c: !decode.kv_cache<layers = 2, kv_heads = 2, head_dim = 64, block_size = 16, dtype = bf16>, %bt: tensor<?x?xi32>, %l: tensor<?xi32>) {
  // expected-error @+1 {{'decode.paged_attention' op expects query dimension 1 to be 256 (num_heads * head_dim), got 128}}
  %0 = decode.paged_attention %q, %c[%bt, %l, %l] {layer = 0 : i64, num_heads = 4 : i64, scale = 0.125 : f32} : tensor<?x128xbf16>, !decode.kv_cache<layers = 2, kv_heads = 2, head_dim = 64, block_size = 16, dtype = bf16>, tensor<?x?xi32>, tensor<?xi32>, tensor<?xi32> -> tensor<?x128xbf16>
  return
}

// -----

func.func @attention_result_type(%q: tensor<?x256xbf16>, %c: !decode.kv_cache<layers = 2, kv_heads = 2, head_dim = 64, block_size = 16, dtype = bf16>, %bt: tensor<?x?xi32>, %l: tensor<?xi32>) {
  // expected-error @+1 {{'decode.paged_attention' op expects the result type to match the query type 'tensor<?x256xbf16>'}}
  %0 = decode.paged_attention %q, %c[%bt, %l, %l] {layer = 0 : i64, num_heads = 4 : i64, scale = 0.125 : f32} : tensor<?x256xbf16>, !decode.kv_cache<layers = 2, kv_heads = 2, head_dim = 64, block_size = 16, dtype = bf16>, tensor<?x?xi32>, tensor<?xi32>, tensor<?xi32> -> tensor<?x256xf32>
  return
}

// -----

func.func @attention_block_table_rows(%q: tensor<?x256xbf16>, %c: !decode.kv_cache<layers = 2, kv_heads = 2, head_dim = 64, block_size = 16, dtype = bf16>, %bt: tensor<3x?xi32>, %l: tensor<2xi32>, %s: tensor<3xi32>) {
  // expected-error @+1 {{'decode.paged_attention' op expects block_tables to have one row per sequence (2), got 3}}
  %0 = decode.paged_attention %q, %c[%bt, %l, %s] {layer = 0 : i64, num_heads = 4 : i64, scale = 0.125 : f32} : tensor<?x256xbf16>, !decode.kv_cache<layers = 2, kv_heads = 2, head_dim = 64, block_size = 16, dtype = bf16>, tensor<3x?xi32>, tensor<2xi32>, tensor<3xi32> -> tensor<?x256xbf16>
  return
}

// -----

func.func @attention_query_start(%q: tensor<?x256xbf16>, %c: !decode.kv_cache<layers = 2, kv_heads = 2, head_dim = 64, block_size = 16, dtype = bf16>, %bt: tensor<?x?xi32>, %l: tensor<2xi32>) {
  // expected-error @+1 {{'decode.paged_attention' op expects query_start to hold num_seqs + 1 = 3 offsets, got 2}}
  %0 = decode.paged_attention %q, %c[%bt, %l, %l] {layer = 0 : i64, num_heads = 4 : i64, scale = 0.125 : f32} : tensor<?x256xbf16>, !decode.kv_cache<layers = 2, kv_heads = 2, head_dim = 64, block_size = 16, dtype = bf16>, tensor<?x?xi32>, tensor<2xi32>, tensor<2xi32> -> tensor<?x256xbf16>
  return
}

// -----

func.func @attention_scale(%q: tensor<?x256xbf16>, %c: !decode.kv_cache<layers = 2, kv_heads = 2, head_dim = 64, block_size = 16, dtype = bf16>, %bt: tensor<?x?xi32>, %l: tensor<?xi32>) {
  // expected-error @+1 {{'decode.paged_attention' op expects a positive softmax scale}}
  %0 = decode.paged_attention %q, %c[%bt, %l, %l] {layer = 0 : i64, num_heads = 4 : i64, scale = 0.0 : f32} : tensor<?x256xbf16>, !decode.kv_cache<layers = 2, kv_heads = 2, head_dim = 64, block_size = 16, dtype = bf16>, tensor<?x?xi32>, tensor<?xi32>, tensor<?xi32> -> tensor<?x256xbf16>
  return
}

// -----

func.func @attention_sliding_window(%q: tensor<?x256xbf16>, %c: !decode.kv_cache<layers = 2, kv_heads = 2, head_dim = 64, block_size = 16, dtype = bf16>, %bt: tensor<?x?xi32>, %l: tensor<?xi32>) {
  // expected-error @+1 {{'decode.paged_attention' op attribute 'sliding_window' failed to satisfy constraint: 64-bit signless integer attribute whose value is positive}}
  %0 = decode.paged_attention %q, %c[%bt, %l, %l] {layer = 0 : i64, num_heads = 4 : i64, scale = 0.125 : f32, sliding_window = 0 : i64} : tensor<?x256xbf16>, !decode.kv_cache<layers = 2, kv_heads = 2, head_dim = 64, block_size = 16, dtype = bf16>, tensor<?x?xi32>, tensor<?xi32>, tensor<?xi32> -> tensor<?x256xbf16>
  return
}

// -----

func.func @attention_block_tables_rank(%q: tensor<?x256xbf16>, %c: !decode.kv_cache<layers = 2, kv_heads = 2, head_dim = 64, block_size = 16, dtype = bf16>, %bt: tensor<?xi32>, %l: tensor<?xi32>) {
  // expected-error @+1 {{'decode.paged_attention' op operand #2 must be 2D tensor of 32-bit signless integer values, but got 'tensor<?xi32>'}}
  %0 = decode.paged_attention %q, %c[%bt, %l, %l] {layer = 0 : i64, num_heads = 4 : i64, scale = 0.125 : f32} : tensor<?x256xbf16>, !decode.kv_cache<layers = 2, kv_heads = 2, head_dim = 64, block_size = 16, dtype = bf16>, tensor<?xi32>, tensor<?xi32>, tensor<?xi32> -> tensor<?x256xbf16>
  return
}

//===----------------------------------------------------------------------===//
// decode.sample
//===----------------------------------------------------------------------===//

// -----

func.func @sample_rows(%l: tensor<2x512xf32>, %t: tensor<3xf32>, %k: tensor<?xi32>, %p: tensor<?xf32>, %s: tensor<?xi64>) {
  // expected-error @+1 {{'decode.sample' op expects temperature to have one row per logits row (2), got 3}}
  %0 = decode.sample %l, %t, %k, %p, %s : tensor<2x512xf32>, tensor<3xf32>, tensor<?xi32>, tensor<?xf32>, tensor<?xi64> -> tensor<?xi32>
  return
}

// -----

func.func @sample_seed_type(%l: tensor<?x512xf32>, %t: tensor<?xf32>, %k: tensor<?xi32>, %p: tensor<?xf32>, %s: tensor<?xi32>) {
  // expected-error @+1 {{'decode.sample' op operand #4 must be 1D tensor of 64-bit signless integer values, but got 'tensor<?xi32>'}}
  %0 = decode.sample %l, %t, %k, %p, %s : tensor<?x512xf32>, tensor<?xf32>, tensor<?xi32>, tensor<?xf32>, tensor<?xi32> -> tensor<?xi32>
  return
}

//===----------------------------------------------------------------------===//
// decode.spec_accept
//===----------------------------------------------------------------------===//

// -----

func.func @spec_draft_rows(%l: tensor<2x5x512xf32>, %d: tensor<3x4xi32>) {
  // expected-error @+1 {{'decode.spec_accept' op expects draft_tokens to have one row per sequence (2), got 3}}
  %a, %b = decode.spec_accept <greedy> %l, %d : tensor<2x5x512xf32>, tensor<3x4xi32> -> tensor<?xi32>, tensor<?xi32>
  return
}

// -----

func.func @spec_accepted_rows(%l: tensor<2x5x512xf32>, %d: tensor<2x4xi32>) {
  // expected-error @+1 {{'decode.spec_accept' op expects accepted to have one row per sequence (2), got 1}}
  %a, %b = decode.spec_accept <greedy> %l, %d : tensor<2x5x512xf32>, tensor<2x4xi32> -> tensor<1xi32>, tensor<?xi32>
  return
}

// -----

func.func @spec_bonus_rows(%l: tensor<2x5x512xf32>, %d: tensor<2x4xi32>) {
  // expected-error @+1 {{'decode.spec_accept' op expects bonus to have one row per sequence (2), got 4}}
  %a, %b = decode.spec_accept <greedy> %l, %d : tensor<2x5x512xf32>, tensor<2x4xi32> -> tensor<?xi32>, tensor<4xi32>
  return
}

// -----

func.func @spec_k_plus_one(%l: tensor<?x4x512xf32>, %d: tensor<?x4xi32>) {
  // expected-error @+1 {{'decode.spec_accept' op expects target_logits dimension 1 to be 5 (K + 1 target predictions for K drafts), got 4}}
  %a, %b = decode.spec_accept <greedy> %l, %d : tensor<?x4x512xf32>, tensor<?x4xi32> -> tensor<?xi32>, tensor<?xi32>
  return
}

// -----

func.func @spec_rejection_needs_probs(%l: tensor<?x5x512xf32>, %d: tensor<?x4xi32>, %s: tensor<?xi64>) {
  // expected-error @+1 {{'decode.spec_accept' op rejection mode needs draft probs and seeds}}
  %a, %b = decode.spec_accept <rejection> %l, %d seeds(%s : tensor<?xi64>) : tensor<?x5x512xf32>, tensor<?x4xi32> -> tensor<?xi32>, tensor<?xi32>
  return
}

// -----

func.func @spec_greedy_takes_no_probs(%l: tensor<?x5x512xf32>, %d: tensor<?x4xi32>, %p: tensor<?x4x512xf32>) {
  // expected-error @+1 {{'decode.spec_accept' op greedy mode takes no draft probs or seeds}}
  %a, %b = decode.spec_accept <greedy> %l, %d probs(%p : tensor<?x4x512xf32>) : tensor<?x5x512xf32>, tensor<?x4xi32> -> tensor<?xi32>, tensor<?xi32>
  return
}

// -----

func.func @spec_probs_shape(%l: tensor<?x5x512xf32>, %d: tensor<?x4xi32>, %p: tensor<?x4x256xf32>, %s: tensor<?xi64>) {
  // expected-error @+1 {{'decode.spec_accept' op expects draft probs of shape [num_seqs, K, vocab] matching the drafts and logits}}
  %a, %b = decode.spec_accept <rejection> %l, %d probs(%p : tensor<?x4x256xf32>) seeds(%s : tensor<?xi64>) : tensor<?x5x512xf32>, tensor<?x4xi32> -> tensor<?xi32>, tensor<?xi32>
  return
}

// -----

func.func @spec_seed_rows(%l: tensor<2x5x512xf32>, %d: tensor<2x4xi32>, %p: tensor<2x4x512xf32>, %s: tensor<3xi64>) {
  // expected-error @+1 {{'decode.spec_accept' op expects seeds to have one row per sequence (2), got 3}}
  %a, %b = decode.spec_accept <rejection> %l, %d probs(%p : tensor<2x4x512xf32>) seeds(%s : tensor<3xi64>) : tensor<2x5x512xf32>, tensor<2x4xi32> -> tensor<?xi32>, tensor<?xi32>
  return
}

// -----

func.func @spec_logits_rank(%l: tensor<?x512xf32>, %d: tensor<?x4xi32>) {
  // expected-error @+1 {{'decode.spec_accept' op operand #0 must be 3D tensor of 32-bit float values, but got 'tensor<?x512xf32>'}}
  %a, %b = decode.spec_accept <greedy> %l, %d : tensor<?x512xf32>, tensor<?x4xi32> -> tensor<?xi32>, tensor<?xi32>
  return
}

//===----------------------------------------------------------------------===//
// decode.role and other decode.* attributes
//===----------------------------------------------------------------------===//

// -----

// expected-error @+1 {{'decode.role' must be #decode.role<prefill|decode|verify|draft>, got "decode"}}
func.func @role_not_a_role() attributes {decode.role = "decode"} {
  return
}

// -----

// expected-error @+2 {{expected ::mlir::decode::StepRole to be one of: prefill, decode, verify, draft}}
// expected-error @+1 {{failed to parse Decode_RoleAttr parameter 'value' which is to be a `::mlir::decode::StepRole`}}
func.func @role_unknown_value() attributes {decode.role = #decode.role<train>} {
  return
}

// -----

func.func @role_not_on_function(%x: tensor<?x128xbf16>) {
  // expected-error @+1 {{'decode.role' belongs on a function, not on 'decode.add'}}
  %0 = decode.add %x, %x {decode.role = #decode.role<decode>} : tensor<?x128xbf16>
  return
}

// -----

// expected-error @+1 {{unknown decode dialect attribute 'decode.rol'; the known ones are 'decode.role' and 'decode.launches'}}
func.func @unknown_decode_attr() attributes {decode.rol = #decode.role<decode>} {
  return
}

// -----

// expected-error @+1 {{'decode.launches' must be an array of dictionaries, got [1]}}
func.func @launches_not_dictionaries() attributes {decode.launches = [1]} {
  return
}
