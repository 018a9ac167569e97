// RUN: infer-opt --convert-decode-to-gpu %s | FileCheck %s
// RUN: infer-opt --convert-decode-to-gpu=programmatic-launch=0 %s | FileCheck %s --check-prefix=NOPDL

// One launch group per #decode.variant; k_split > 1 adds a reduce kernel
// that shares the op's workspace (docs/launch-plan.md).

// Without it, no griddepcontrol and no `programmatic` launches.
// NOPDL-NOT: programmatic
// NOPDL-NOT: griddepcontrol

// CHECK-LABEL: func.func @qkv
// CHECK: decode.linear
// CHECK-SAME: decode.launches = [
// The 1-token GEMV with a norm: 8 warps per block (one row each).
// CHECK-SAME: {args = ["operand0", "operand1", "operand2", "operand3", "result0", "tokens"], block = array<i64: 256, 1, 1>, grid = array<i64: 768, 1, 1>, grid_scale = ["one", "one", "one"], kernel = @decode_kernels::@linear_gemv_0, max_tokens = 1 : i64, programmatic = true, shared_bytes = 0 : i64, workspace_bytes = 0 : i64, workspace_bytes_per_token = 0 : i64}
// CHECK-SAME: {args = ["operand0", "operand1", "operand3", "workspace", "tokens"], block = array<i64: 128, 1, 1>, grid = array<i64: 768, 2, 1>, grid_scale = ["one", "one", "one"], kernel = @decode_kernels::@linear_gemv_split_1, max_tokens = 8 : i64, programmatic = true, shared_bytes = 0 : i64, workspace_bytes = 0 : i64, workspace_bytes_per_token = 49160 : i64}
// CHECK-SAME: {args = ["operand2", "result0", "workspace"], block = array<i64: 256, 1, 1>, grid = array<i64: 24, 1, 1>, grid_scale = ["one", "tokens", "one"], kernel = @decode_kernels::@linear_reduce_2, max_tokens = 8 : i64
func.func @qkv(%x: tensor<?x4096xbf16>, %r: tensor<?x6144xbf16>) -> tensor<?x6144xbf16> {
  %w = decode.weight ["w"] : tensor<6144x4096xbf16>
  %g = decode.weight ["g"] : tensor<4096xbf16>
  %y = decode.linear %x, %w residual(%r : tensor<?x6144xbf16>) norm(%g : tensor<4096xbf16>) {norm_epsilon = 1.0e-05 : f32, variants = [#decode.variant<max_tokens = 1, kind = gemv>, #decode.variant<max_tokens = 8, kind = gemv, k_split = 2>]} : (tensor<?x4096xbf16>, tensor<6144x4096xbf16>) -> tensor<?x6144xbf16>
  return %y : tensor<?x6144xbf16>
}

// An op without variants gets one launch for any token count.
// CHECK-LABEL: func.func @lm_head
// CHECK: decode.linear
// CHECK-SAME: kernel = @decode_kernels::@linear_gemv_3, max_tokens = 0 : i64
// CHECK-SAME: -> tensor<?x128256xf32>
func.func @lm_head(%x: tensor<?x4096xbf16>) -> tensor<?x128256xf32> {
  %w = decode.weight ["lm_head.weight"] : tensor<128256x4096xbf16>
  %y = decode.linear %x, %w : (tensor<?x4096xbf16>, tensor<128256x4096xbf16>) -> tensor<?x128256xf32>
  return %y : tensor<?x128256xf32>
}

// The norm weight folded into W (decode-fold-norm-weight): the RMS scale
// alone, no norm weight argument.
// CHECK-LABEL: func.func @gate_up_rms
// CHECK: decode.linear
// CHECK-SAME: args = ["operand0", "operand1", "result0", "tokens"]{{.*}}kernel = @decode_kernels::@linear_gemv_4
func.func @gate_up_rms(%x: tensor<?x4096xbf16>) -> tensor<?x28672xbf16> {
  %w = decode.weight ["w"] scaled_by "g" : tensor<28672x4096xbf16>
  %y = decode.linear %x, %w {norm_epsilon = 1.0e-05 : f32, variants = [#decode.variant<max_tokens = 1, kind = gemv>]} : (tensor<?x4096xbf16>, tensor<28672x4096xbf16>) -> tensor<?x28672xbf16>
  return %y : tensor<?x28672xbf16>
}

// silu_mul fused (activation): a gate row and its up row sit in different
// warps, so the GEMV writes partials and the reduce launch, over the N/2
// outputs, pairs them.
// CHECK-LABEL: func.func @gate_up_silu
// CHECK: decode.linear
// CHECK-SAME: grid = array<i64: 1024, 1, 1>{{.*}}kernel = @decode_kernels::@linear_gemv_split_5
// CHECK-SAME: grid = array<i64: 8, 1, 1>, grid_scale = ["one", "tokens", "one"], kernel = @decode_kernels::@linear_reduce_6
func.func @gate_up_silu(%x: tensor<?x4096xbf16>) -> tensor<?x2048xbf16> {
  %w = decode.weight ["gate", "up"] : tensor<4096x4096xbf16>
  %y = decode.linear %x, %w {activation = #decode.activation<silu_mul>, variants = [#decode.variant<max_tokens = 1, kind = gemv>]} : (tensor<?x4096xbf16>, tensor<4096x4096xbf16>) -> tensor<?x2048xbf16>
  return %y : tensor<?x2048xbf16>
}

// CHECK: gpu.module @decode_kernels

// The 1-token GEMV: x staged in 16-byte aligned shared memory, 16-byte
// weight loads (8 slabs of one row in flight), f32 FMAs, butterfly shuffles,
// the RMSNorm scale and the residual in the epilogue.
// CHECK-LABEL: gpu.func @linear_gemv_0(
// CHECK-SAME: %[[X:.*]]: memref<16777216x4096xbf16> {llvm.noalias}, %[[W:.*]]: memref<6144x4096xbf16> {llvm.noalias}, %[[R:.*]]: memref<16777216x6144xbf16> {llvm.noalias}, %[[G:.*]]: memref<4096xbf16> {llvm.noalias}, %[[Y:.*]]: memref<16777216x6144xbf16> {llvm.noalias}, %{{.*}}: i32)
// CHECK-SAME: workgroup(%[[XS:.*]] : memref<1x4096xbf16, #gpu.address_space<workgroup>> {llvm.align = 16 : i64}
// CHECK-SAME: kernel attributes {known_block_size = array<i32: 256, 1, 1>}
// Programmatic dependent launch: the next kernel may be scheduled at once,
// and the first group of weight loads goes out before the wait for the
// previous grid (x is its result).
// CHECK-NEXT: nvvm.griddepcontrol launch_dependents
// CHECK-NOT: vector.load %[[X]]
// CHECK-COUNT-8: vector.load %[[W]]
// CHECK-NOT: vector.load %[[X]]
// CHECK: nvvm.griddepcontrol wait
// CHECK: vector.load %[[X]]{{.*}} {alignment = 16 : i64} : memref<16777216x4096xbf16>, vector<8xbf16>
// CHECK: vector.load %[[G]]
// CHECK: vector.store %{{.*}}, %[[XS]]
// CHECK: gpu.barrier
// CHECK-COUNT-8: vector.load %[[W]]{{.*}} {alignment = 16 : i64} : memref<6144x4096xbf16>, vector<8xbf16>
// CHECK: vector.load %[[XS]]{{.*}} {alignment = 16 : i64}
// CHECK: vector.fma {{.*}} : vector<8xf32>
// CHECK: math.rsqrt
// CHECK: vector.reduction <add>
// CHECK-COUNT-5: gpu.shuffle  xor
// CHECK: memref.load %[[R]]
// CHECK: memref.store %{{.*}}, %[[Y]]
// CHECK: gpu.return

// The split kernel writes f32 partials and partial sums of squares.
// CHECK-LABEL: gpu.func @linear_gemv_split_1(
// CHECK-SAME: %{{.*}}: memref<16777216x12290xf32> {llvm.noalias}, %{{.*}}: i32)
// CHECK-SAME: workgroup(%{{.*}} : memref<8x2048xbf16, #gpu.address_space<workgroup>>
// CHECK: gpu.block_id  y
// CHECK-LABEL: gpu.func @linear_reduce_2(
// CHECK-NOT: gpu.barrier
// CHECK: math.rsqrt
// CHECK: gpu.return

// Sums of x^2 while staging, no norm weight loaded, the scale in the
// epilogue.
// CHECK-LABEL: gpu.func @linear_gemv_4(
// CHECK-SAME: %[[X4:.*]]: memref<16777216x4096xbf16> {llvm.noalias}, %{{.*}}: memref<28672x4096xbf16> {llvm.noalias}, %{{.*}}: memref<16777216x28672xbf16> {llvm.noalias}, %{{.*}}: i32)
// CHECK: vector.load %[[X4]]
// CHECK-NOT: memref<4096xbf16>
// CHECK: vector.reduction <add>
// CHECK: gpu.barrier
// CHECK: math.rsqrt
// CHECK: gpu.return

// CHECK-LABEL: gpu.func @linear_reduce_6(
// CHECK: math.exp
// CHECK: arith.divf
// CHECK: memref.store
