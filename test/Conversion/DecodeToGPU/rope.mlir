// RUN: infer-opt --convert-decode-to-gpu %s | FileCheck %s

// rope_append, rope and kv_append: one 128-thread block per token (the
// activations after the step's arguments count tokens). The
// inverse frequencies are a compile-time f32 table (HF's order of
// operations; llama3 scaling divides the low frequencies by `factor`); each
// block fills cos/sin of its position in shared memory once.

!cache = !decode.kv_cache<layers = 2, kv_heads = 8, head_dim = 128, block_size = 16, dtype = bf16>

// CHECK-LABEL: func.func @step
// CHECK: decode.rope_append
// CHECK-SAME: decode.launches = [{args = ["operand0", "operand1", "operand2", "operand3", "result0", "layer"], block = array<i64: 128, 1, 1>, grid = array<i64: 1, 1, 1>, grid_scale = ["tokens", "one", "one"], kernel = @decode_kernels::@rope_append_0
// CHECK: = decode.rope %
// CHECK-SAME: decode.launches = [{args = ["operand0", "operand1", "result0"], block = array<i64: 128, 1, 1>, grid = array<i64: 1, 1, 1>, grid_scale = ["tokens", "one", "one"], kernel = @decode_kernels::@rope_1
// CHECK: = decode.kv_append %
// CHECK-SAME: decode.launches = [{args = ["operand0", "operand1", "operand2", "operand3", "layer"], block = array<i64: 128, 1, 1>, grid = array<i64: 1, 1, 1>, grid_scale = ["tokens", "one", "one"], kernel = @decode_kernels::@kv_append_2
// CHECK: decode.rope_append
// CHECK-SAME: kernel = @decode_kernels::@rope_append_0,

// CHECK: gpu.module @decode_kernels
// Llama 3: inv_freq[0] = 1, and the lowest frequency 500000^(-126/128) / 8.
// CHECK: memref.global "private" constant @rope_append_0_inv_freq : memref<64xf32> = dense<[1.000000e+00, {{.*}}, 3.06892588E-7]> {alignment = 16 : i64}
// CHECK: gpu.func @rope_append_0(%{{.*}}: memref<16777216x2x2x8x16x128xbf16> {llvm.noalias}, %[[QKV:.*]]: memref<16777216x6144xbf16> {llvm.noalias}, %{{.*}}: memref<16777216xi32> {llvm.noalias}, %[[SLOTS:.*]]: memref<16777216xi32> {llvm.noalias}, %[[Q:.*]]: memref<16777216x4096xbf16> {llvm.noalias}, %[[LAYER:.*]]: i32)
// CHECK-SAME: workgroup(%[[COS:.*]] : memref<64xf32, #gpu.address_space<workgroup>> {llvm.align = 16 : i64}, %[[SIN:.*]] : memref<64xf32, #gpu.address_space<workgroup>> {llvm.align = 16 : i64})
// CHECK: math.cos
// CHECK: math.sin
// CHECK: gpu.barrier
// A negative slot skips the cache writes. The position, cos/sin and slot
// are step inputs: they load before the wait for the previous kernel.
// CHECK: %[[SLOT:.*]] = memref.load %[[SLOTS]]
// CHECK: %[[VALID:.*]] = arith.cmpi sge, %[[SLOT]]
// CHECK-NOT: vector.load %[[QKV]]
// CHECK: nvvm.griddepcontrol wait
// CHECK: vector.load %[[QKV]]{{.*}} {alignment = 16 : i64} : memref<16777216x6144xbf16>, vector<8xbf16>
// CHECK: vector.store %{{.*}}, %[[Q]]
// CHECK: scf.if %[[VALID]]
// The cache layer is the `layer` parameter.
// CHECK: %[[L:.*]] = arith.index_castui %[[LAYER]] : i32 to index
// CHECK: vector.store %{{.*}}, %{{.*}}[%{{.*}}, %[[L]], %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}]
// CHECK: memref.global "private" constant @rope_1_inv_freq : memref<64xf32> = dense<[1.000000e+00, 0.865964353,
// CHECK: gpu.func @rope_1(
// CHECK-NOT: memref.global
// CHECK: gpu.func @kv_append_2(
// The same rope_append in another layer reuses the kernel and its table.
// CHECK-NOT: rope_append_3
func.func @step(%tokens: tensor<?xi32>, %pos: tensor<?xi32>, %slots: tensor<?xi32>, %bt: tensor<?x?xi32>, %cl: tensor<?xi32>, %qs: tensor<?xi32>, %li: tensor<?xi32>, %temp: tensor<?xf32>, %topk: tensor<?xi32>, %topp: tensor<?xf32>, %seeds: tensor<?xi64>, %cache: !cache, %qkv: tensor<?x6144xbf16>, %k: tensor<?x1024xbf16>, %v: tensor<?x1024xbf16>) -> (tensor<?x4096xbf16>, !cache) attributes {decode.role = #decode.role<prefill>} {
  %q, %c1 = decode.rope_append %cache[%slots], %qkv, %pos {layer = 1 : i64, num_heads = 32 : i64, theta = 500000.0 : f32, scaling = #decode.rope_scaling<kind = llama3, factor = 8.0, low_freq_factor = 1.0, high_freq_factor = 4.0, original_max_position = 8192>} : !cache, tensor<?xi32>, tensor<?x6144xbf16>, tensor<?xi32> -> tensor<?x4096xbf16>
  %kr = decode.rope %k, %pos {head_dim = 128 : i64, theta = 10000.0 : f32} : tensor<?x1024xbf16>, tensor<?xi32>
  %c2 = decode.kv_append %c1[%slots], %kr, %v {layer = 0 : i64} : !cache, tensor<?xi32>, tensor<?x1024xbf16>, tensor<?x1024xbf16>
  %q0, %c3 = decode.rope_append %c2[%slots], %qkv, %pos {layer = 0 : i64, num_heads = 32 : i64, theta = 500000.0 : f32, scaling = #decode.rope_scaling<kind = llama3, factor = 8.0, low_freq_factor = 1.0, high_freq_factor = 4.0, original_max_position = 8192>} : !cache, tensor<?xi32>, tensor<?x6144xbf16>, tensor<?xi32> -> tensor<?x4096xbf16>
  return %q0, %c3 : tensor<?x4096xbf16>, !cache
}
