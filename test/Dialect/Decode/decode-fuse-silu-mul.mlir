// RUN: infer-opt %s --decode-fuse-silu-mul --split-input-file | FileCheck %s

// The packed silu_mul becomes the gate/up linear's activation; the linear
// takes the activation's (half as wide) result type.

// CHECK-LABEL: func.func @gate_up
// CHECK: %[[A:.*]] = decode.linear %{{.*}}, %{{.*}} {activation = #decode.activation<silu_mul>, norm_epsilon = 9.99999974E-6 : f32} : (tensor<?x256xbf16>, tensor<1024x256xbf16>) -> tensor<?x512xbf16>
// CHECK-NOT: decode.silu_mul
// CHECK: return %[[A]]
func.func @gate_up(%h: tensor<?x256xbf16>) -> tensor<?x512xbf16> {
  %w = decode.weight ["gate", "up"] scaled_by "norm" : tensor<1024x256xbf16>
  %gu = decode.linear %h, %w {norm_epsilon = 1.0e-05 : f32} : (tensor<?x256xbf16>, tensor<1024x256xbf16>) -> tensor<?x1024xbf16>
  %a = decode.silu_mul %gu : tensor<?x1024xbf16> -> tensor<?x512xbf16>
  return %a : tensor<?x512xbf16>
}

// -----

// Left alone: the [gate | up] output has another use, the linear has a
// residual, or silu_mul takes two operands.

// CHECK-LABEL: func.func @unchanged
// CHECK-NOT: activation
// CHECK-COUNT-3: decode.silu_mul
func.func @unchanged(%h: tensor<?x256xbf16>, %r: tensor<?x1024xbf16>, %g: tensor<?x512xbf16>, %u: tensor<?x512xbf16>) -> (tensor<?x512xbf16>, tensor<?x1024xbf16>, tensor<?x512xbf16>, tensor<?x512xbf16>) {
  %w = decode.weight ["gate", "up"] : tensor<1024x256xbf16>
  %gu = decode.linear %h, %w : (tensor<?x256xbf16>, tensor<1024x256xbf16>) -> tensor<?x1024xbf16>
  %a = decode.silu_mul %gu : tensor<?x1024xbf16> -> tensor<?x512xbf16>
  %res = decode.linear %h, %w residual(%r : tensor<?x1024xbf16>) : (tensor<?x256xbf16>, tensor<1024x256xbf16>) -> tensor<?x1024xbf16>
  %b = decode.silu_mul %res : tensor<?x1024xbf16> -> tensor<?x512xbf16>
  %c = decode.silu_mul %g, %u : tensor<?x512xbf16>, tensor<?x512xbf16> -> tensor<?x512xbf16>
  return %a, %gu, %b, %c : tensor<?x512xbf16>, tensor<?x1024xbf16>, tensor<?x512xbf16>, tensor<?x512xbf16>
}
