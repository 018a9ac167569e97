// RUN: infer-opt --convert-decode-to-gpu --split-input-file --verify-diagnostics %s | FileCheck %s

// The module becomes a GPU container with one kernels module; weights get
// no launches; spec_accept runs on the host (an empty launch list); the
// step's ops are otherwise unchanged.

// CHECK-LABEL: module attributes {gpu.container_module}
// CHECK: func.func @verify
// CHECK: %[[W:.*]] = decode.weight ["lm_head.weight"] : tensor<1000x64xbf16>
// CHECK-NOT: decode.launches
// CHECK: decode.linear {{.*}}decode.launches = [{{.*}}kernel = @decode_kernels::@linear_gemv_0
// CHECK: decode.spec_accept <greedy> {{.*}}{decode.launches = []}
// CHECK: gpu.module @decode_kernels
// CHECK-COUNT-1: gpu.func
// CHECK-NOT: gpu.func
func.func @verify(%x: tensor<?x64xbf16>, %draft: tensor<?x?xi32>, %logits: tensor<?x?x1000xf32>) -> (tensor<?x1000xf32>, tensor<?xi32>, tensor<?xi32>) attributes {decode.role = #decode.role<verify>} {
  %w = decode.weight ["lm_head.weight"] : tensor<1000x64xbf16>
  %y = decode.linear %x, %w : (tensor<?x64xbf16>, tensor<1000x64xbf16>) -> tensor<?x1000xf32>
  %a, %b = decode.spec_accept <greedy> %logits, %draft : tensor<?x?x1000xf32>, tensor<?x?xi32> -> tensor<?xi32>, tensor<?xi32>
  return %y, %a, %b : tensor<?x1000xf32>, tensor<?xi32>, tensor<?xi32>
}

// -----

// A module without decode ops is left alone.
// CHECK-LABEL: module {
// CHECK-NOT: gpu.module
func.func @plain(%a: i32) -> i32 {
  return %a : i32
}

// -----

// Weights the GEMV cannot stream are rejected with the reason.
func.func @fp8(%x: tensor<?x64xbf16>) -> tensor<?x32xbf16> {
  %w = decode.weight ["w"] : tensor<32x64xf8E4M3FN>
  // expected-error @+1 {{GPU lowering supports bf16/f16 weights with inputs of the same type, got 'f8E4M3FN' weights and 'bf16' inputs}}
  %y = decode.linear %x, %w : (tensor<?x64xbf16>, tensor<32x64xf8E4M3FN>) -> tensor<?x32xbf16>
  return %y : tensor<?x32xbf16>
}
