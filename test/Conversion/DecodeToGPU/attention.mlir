// RUN: infer-opt --convert-decode-to-gpu --split-input-file %s | FileCheck %s
// RUN: infer-opt --convert-decode-to-gpu=attention-split-warps-per-sm=4 --split-input-file %s | FileCheck %s --check-prefix=BUDGET1
// RUN: infer-opt --convert-decode-to-gpu=attention-warps=2 --split-input-file %s | FileCheck %s --check-prefix=WARPS2
// RUN: not infer-opt --convert-decode-to-gpu=attention-warps=3 --split-input-file %s 2>&1 | FileCheck %s --check-prefix=BADWARPS
// RUN: not infer-opt --convert-decode-to-gpu=attention-l2-prefetch=32 --split-input-file %s 2>&1 | FileCheck %s --check-prefix=BADL2
// RUN: not infer-opt --convert-decode-to-gpu="attention-ring-min-tokens=65 attention-ring-max-tokens=64" --split-input-file %s 2>&1 | FileCheck %s --check-prefix=BADRING
// RUN: not infer-opt --convert-decode-to-gpu=attention-stages=5 --split-input-file %s 2>&1 | FileCheck %s --check-prefix=BADRING

// Decode step, 32/8 heads: a split-KV kernel over (splits, kv_heads, tokens)
// that reads each page once per kv head, where the step's tokens share a
// budget of min(split_kv, ceil(2 * 132 / 8)) = 32 split blocks per kv head
// (grid x = ceil(32 / tokens), `per_tokens`). Split partials go to the
// op's workspace (items x heads x splits x (head_dim + 4) f32 = 32 * 32 *
// 132 * 4 bytes per token) and the last split of an item to arrive (one
// `counters` word per item and kv head) merges them. The cache layer is the
// `layer` scalar, so the same op in another layer reuses the kernel.

!cache = !decode.kv_cache<layers = 2, kv_heads = 8, head_dim = 128, block_size = 16, dtype = bf16>

// A decode-role step may also carry prefill chunks (continuous batching), so
// items are query tokens; only draft steps index items by sequence.
// With a budget of one block per SM: ceil(132 / 8) = 17 splits.
// BUDGET1-LABEL: func.func @decode
// BUDGET1: grid = array<i64: 17, 8, 1>, grid_scale = ["per_tokens", "one", "tokens"]
// Blocks of 2 warps (attention-warps): 64 threads, a combine buffer per warp,
// and a split budget of 8 warps per SM, min(32, ceil(8 * 132 / (2 * 8))).
// WARPS2-LABEL: func.func @decode
// WARPS2: block = array<i64: 64, 1, 1>, counter_words_per_token = 8 : i64, grid = array<i64: 32, 8, 1>
// WARPS2: gpu.func @paged_attention_0(
// WARPS2-SAME: workgroup(%{{.*}} : memref<2x4x128xf32, #gpu.address_space<workgroup>> {llvm.align = 16 : i64}, %{{.*}} : memref<2x4x2xf32, #gpu.address_space<workgroup>>
// BADWARPS: error: {{.*}}attention-warps 1, 2 or 4
// BADL2: error: {{.*}}attention-l2-prefetch 0, 64, 128 or 256
// BADRING: error: {{.*}}attention-ring-max-tokens 0 or at least attention-ring-min-tokens{{.*}}attention-stages 0, 2, 3 or 4
// CHECK-LABEL: func.func @decode
// CHECK: decode.paged_attention
// CHECK-SAME: decode.launches = [
// CHECK-SAME: {args = ["operand0", "operand1", "operand2", "operand3", "operand4", "result0", "workspace", "counters", "tokens", "seqs", "block_table_width", "layer"], block = array<i64: 128, 1, 1>, counter_words_per_token = 8 : i64, grid = array<i64: 32, 8, 1>, grid_scale = ["per_tokens", "one", "tokens"], kernel = @decode_kernels::@paged_attention_0, max_tokens = 0 : i64, programmatic = true, shared_bytes = 0 : i64, workspace_bytes = 0 : i64, workspace_bytes_per_token = 540672 : i64}]
// CHECK: decode.paged_attention
// CHECK-SAME: kernel = @decode_kernels::@paged_attention_0,
func.func @decode(%q: tensor<?x4096xbf16>, %c: !cache, %bt: tensor<?x?xi32>, %cl: tensor<?xi32>, %qs: tensor<?xi32>) -> tensor<?x4096xbf16> attributes {decode.role = #decode.role<decode>} {
  %o = decode.paged_attention %q, %c[%bt, %cl, %qs] {layer = 1 : i64, num_heads = 32 : i64, scale = 0.0883883461 : f32, split_kv = 32 : i64} : tensor<?x4096xbf16>, !cache, tensor<?x?xi32>, tensor<?xi32>, tensor<?xi32> -> tensor<?x4096xbf16>
  %o0 = decode.paged_attention %o, %c[%bt, %cl, %qs] {layer = 0 : i64, num_heads = 32 : i64, scale = 0.0883883461 : f32, split_kv = 32 : i64} : tensor<?x4096xbf16>, !cache, tensor<?x?xi32>, tensor<?xi32>, tensor<?xi32> -> tensor<?x4096xbf16>
  return %o0 : tensor<?x4096xbf16>
}

// The attention kernel: the whole pool as one memref, 16-byte K/V loads at
// [block, layer, k|v, kv head, slot, dim], the page loop carrying the
// (m, l, acc) of the 4 query heads, butterflies within the 16 lanes of a
// token, exp2 in the log2 domain, and shared memory for the warp merge.
// CHECK: gpu.module @decode_kernels
// CHECK: gpu.func @paged_attention_0(%{{.*}}: memref<16777216x4096xbf16> {llvm.noalias}, %[[POOL:.*]]: memref<16777216x2x2x8x16x128xbf16> {llvm.noalias}, %{{.*}}: memref<16777216xi32> {llvm.noalias}, %{{.*}}: memref<16777216xi32> {llvm.noalias}, %{{.*}}: memref<16777216xi32> {llvm.noalias}, %{{.*}}: memref<16777216x4096xbf16> {llvm.noalias}, %[[WS:.*]]: memref<16777216x32x32x132xf32> {llvm.noalias}, %[[CNT:.*]]: memref<16777216xi32> {llvm.noalias}, {{.*}}%{{.*}}: i32, %{{.*}}: i32, %[[LAYER:.*]]: i32)
// CHECK-SAME: workgroup(%[[SO:.*]] : memref<4x4x128xf32, #gpu.address_space<workgroup>> {llvm.align = 16 : i64}, %[[SML:.*]] : memref<4x4x2xf32, #gpu.address_space<workgroup>> {llvm.align = 16 : i64}, %[[FLAG:.*]] : memref<1xi32, #gpu.address_space<workgroup>> {llvm.align = 16 : i64})
// CHECK-SAME: known_block_size = array<i32: 128, 1, 1>
// CHECK: scf.for {{.*}} iter_args(
// CHECK-COUNT-16: vector.load %[[POOL]]{{.*}} {alignment = 16 : i64} : memref<16777216x2x2x8x16x128xbf16>, vector<8xbf16>
// CHECK: gpu.shuffle xor {{.*}}, %{{.*}} : f32
// CHECK: math.exp2
// CHECK: scf.yield
// CHECK: gpu.barrier
// CHECK: vector.store {{.*}}, %[[WS]]
// CHECK: nvvm.memory.barrier <gpu>
// CHECK: gpu.barrier
// CHECK: memref.atomic_rmw addi {{.*}}, %[[CNT]]
// CHECK: gpu.barrier
// CHECK: vector.load %[[WS]]
// CHECK-NOT: gpu.func @paged_attention_merge

// -----

// Verify chunks: one item per query token (grid over tokens) whose sequence
// comes from a binary search of query_start; no split: a single kernel that
// writes the output, without workspace.

!cache = !decode.kv_cache<layers = 1, kv_heads = 4, head_dim = 64, block_size = 16, dtype = bf16>

// CHECK-LABEL: func.func @verify
// CHECK: decode.launches = [{args = ["operand0", "operand1", "operand2", "operand3", "operand4", "result0", "tokens", "seqs", "block_table_width", "layer"], block = array<i64: 128, 1, 1>, grid = array<i64: 1, 4, 1>, grid_scale = ["one", "one", "tokens"], kernel = @decode_kernels::@paged_attention_0, max_tokens = 0 : i64, programmatic = true, shared_bytes = 0 : i64, workspace_bytes = 0 : i64, workspace_bytes_per_token = 0 : i64}]
// CHECK: gpu.func @paged_attention_0(
// CHECK: scf.while
// CHECK: scf.condition
// CHECK-NOT: gpu.func @paged_attention_merge
func.func @verify(%q: tensor<?x1792xbf16>, %c: !cache, %bt: tensor<?x?xi32>, %cl: tensor<?xi32>, %qs: tensor<?xi32>) -> tensor<?x1792xbf16> attributes {decode.role = #decode.role<verify>} {
  %o = decode.paged_attention %q, %c[%bt, %cl, %qs] {layer = 0 : i64, num_heads = 28 : i64, scale = 0.125 : f32} : tensor<?x1792xbf16>, !cache, tensor<?x?xi32>, tensor<?xi32>, tensor<?xi32> -> tensor<?x1792xbf16>
  return %o : tensor<?x1792xbf16>
}

// -----

// A sliding window clips the first key: kvBegin = select(kvEnd > W, kvEnd - W, 0).

!cache = !decode.kv_cache<layers = 1, kv_heads = 8, head_dim = 128, block_size = 16, dtype = bf16>

// CHECK-LABEL: func.func @window
// CHECK: gpu.func @paged_attention_0(
// CHECK: %[[W:.*]] = arith.constant 4096 : index
// CHECK: arith.cmpi ugt, %{{.*}}, %[[W]] : index
// CHECK: arith.subi %{{.*}}, %[[W]] : index
func.func @window(%q: tensor<?x4096xbf16>, %c: !cache, %bt: tensor<?x?xi32>, %cl: tensor<?xi32>, %qs: tensor<?xi32>) -> tensor<?x4096xbf16> attributes {decode.role = #decode.role<decode>} {
  %o = decode.paged_attention %q, %c[%bt, %cl, %qs] {layer = 0 : i64, num_heads = 32 : i64, scale = 0.0883883461 : f32, sliding_window = 4096 : i64, split_kv = 8 : i64} : tensor<?x4096xbf16>, !cache, tensor<?x?xi32>, tensor<?xi32>, tensor<?xi32> -> tensor<?x4096xbf16>
  return %o : tensor<?x4096xbf16>
}

// -----

// A draft step has one query per sequence: items are sequences.
!cache = !decode.kv_cache<layers = 2, kv_heads = 8, head_dim = 128, block_size = 16, dtype = bf16>
// CHECK-LABEL: func.func @draft
// CHECK: decode.paged_attention
// CHECK-SAME: grid_scale = ["per_seqs", "one", "seqs"], kernel = @decode_kernels::@paged_attention_0
func.func @draft(%q: tensor<?x4096xbf16>, %c: !cache, %bt: tensor<?x?xi32>, %cl: tensor<?xi32>, %qs: tensor<?xi32>) -> tensor<?x4096xbf16> attributes {decode.role = #decode.role<draft>} {
  %o = decode.paged_attention %q, %c[%bt, %cl, %qs] {layer = 0 : i64, num_heads = 32 : i64, scale = 0.0883883461 : f32, split_kv = 32 : i64} : tensor<?x4096xbf16>, !cache, tensor<?x?xi32>, tensor<?xi32>, tensor<?xi32> -> tensor<?x4096xbf16>
  return %o : tensor<?x4096xbf16>
}

// -----

// `kernel = mma` selects the tensor-core kernel; launch, workspace and the
// merge by the last split are those of the CUDA-core one.
!cache = !decode.kv_cache<layers = 2, kv_heads = 8, head_dim = 128, block_size = 16, dtype = bf16>
// CHECK-LABEL: func.func @decode_mma
// CHECK: decode.paged_attention
// CHECK-SAME: grid = array<i64: 32, 8, 1>, grid_scale = ["per_tokens", "one", "tokens"], kernel = @decode_kernels::@paged_attention_mma_0
// Step inputs load before the wait for the previous kernel: the item's
// range (the guess that decode rows come first, one round trip; a binary
// search of query_start on a miss) and the block ids of the warp's first
// two chunks. So does the warp's first chunk when all of its keys precede
// the sequence's new rows (earlier steps wrote them; rope_append writes
// only the new ones), under `scf.if`; else it loads after the wait. The
// query (written by rope_append) always loads after it.
// CHECK: gpu.func @paged_attention_mma_0(%[[Q:[^:]*]]: memref<16777216x4096xbf16> {llvm.noalias}, %[[POOL:[^:]*]]: memref<16777216x2x2x8x16x128xbf16> {llvm.noalias}, %[[BT:[^:]*]]: memref<16777216xi32> {llvm.noalias}, %[[CL:[^:]*]]: memref<16777216xi32> {llvm.noalias}, %[[QS:[^:]*]]: memref<16777216xi32> {llvm.noalias}
// CHECK: nvvm.griddepcontrol launch_dependents
// CHECK: memref.load %[[QS]]
// CHECK: memref.load %[[QS]]
// CHECK: memref.load %[[CL]]
// CHECK: scf.if
// CHECK: scf.while
// CHECK: memref.load %[[BT]]
// CHECK: memref.load %[[BT]]
// K/V loads ask L2 for whole 256-byte rows (`attention-l2-prefetch`).
// CHECK-NOT: vector.load %[[Q]]
// CHECK: scf.if
// CHECK-NOT: vector.load %[[Q]]
// CHECK: memref.extract_aligned_pointer_as_index %[[POOL]]
// CHECK-NOT: vector.load %[[Q]]
// CHECK: llvm.inline_asm has_side_effects "ld.global.nc.L2::256B.v4.b32
// CHECK-NOT: vector.load %[[Q]]
// CHECK: nvvm.griddepcontrol wait
// CHECK: scf.if
// CHECK: llvm.inline_asm has_side_effects "ld.global.nc.L2::256B.v4.b32
// CHECK: vector.load %[[Q]]
// CHECK: nvvm.mma.sync
func.func @decode_mma(%q: tensor<?x4096xbf16>, %c: !cache, %bt: tensor<?x?xi32>, %cl: tensor<?xi32>, %qs: tensor<?xi32>) -> tensor<?x4096xbf16> attributes {decode.role = #decode.role<decode>} {
  %o = decode.paged_attention %q, %c[%bt, %cl, %qs] {layer = 1 : i64, num_heads = 32 : i64, scale = 0.0883883461 : f32, split_kv = 32 : i64, kernel = #decode.attention_kernel<mma>} : tensor<?x4096xbf16>, !cache, tensor<?x?xi32>, tensor<?xi32>, tensor<?xi32> -> tensor<?x4096xbf16>
  return %o : tensor<?x4096xbf16>
}
