// REQUIRES: cuda-toolkit
// RUN: infer-opt %s --infer-decode-to-cuda-pipeline="format=isa toolkit=%cuda_root" -o %t.mlir
// RUN: %python %infer_src/bench/attention/extract.py %t.mlir %t
// RUN: FileCheck %s < %t.ptx
// RUN: not grep -E "\.local|__nv_[a-z0-9_]+;" %t.ptx
// RUN: %ptxas -arch=sm_90a -v %t.ptx -o %t.cubin 2>&1 | FileCheck %s --check-prefix=PTXAS
// RUN: FileCheck %s --check-prefix=LAUNCH < %t.mlir
// RUN: infer-opt %s --infer-decode-to-cuda-pipeline="format=isa toolkit=%cuda_root attention-l2-prefetch=0" -o %t.plain.mlir
// RUN: %python %infer_src/bench/attention/extract.py %t.plain.mlir %t.plain
// RUN: FileCheck %s --check-prefix=PLAIN < %t.plain.ptx

// The decode attention kernels in PTX. CUDA cores (`simt`): 16-byte K/V
// loads, lane butterflies, exp2 on the SFU. Tensor cores (`mma`, chosen by
// decode-select-kernels for GQA): m16n8k16 bf16 mma.sync for Q K^T and P V,
// quad shuffles for the row max. With several splits the last one to arrive
// (an atomic counter) merges them. No local memory, and ptxas spills
// nothing.

!cache = !decode.kv_cache<layers = 2, kv_heads = 8, head_dim = 128, block_size = 16, dtype = bf16>

func.func @decode_simt(%q: tensor<?x4096xbf16>, %c: !cache, %bt: tensor<?x?xi32>, %cl: tensor<?xi32>, %qs: tensor<?xi32>) -> tensor<?x4096xbf16> attributes {decode.role = #decode.role<decode>} {
  %o = decode.paged_attention %q, %c[%bt, %cl, %qs] {layer = 1 : i64, num_heads = 32 : i64, scale = 0.0883883461 : f32, split_kv = 32 : i64, kernel = #decode.attention_kernel<simt>} : tensor<?x4096xbf16>, !cache, tensor<?x?xi32>, tensor<?xi32>, tensor<?xi32> -> tensor<?x4096xbf16>
  return %o : tensor<?x4096xbf16>
}

func.func @decode_mma(%q: tensor<?x4096xbf16>, %c: !cache, %bt: tensor<?x?xi32>, %cl: tensor<?xi32>, %qs: tensor<?xi32>) -> tensor<?x4096xbf16> attributes {decode.role = #decode.role<decode>} {
  %o = decode.paged_attention %q, %c[%bt, %cl, %qs] {layer = 1 : i64, num_heads = 32 : i64, scale = 0.0883883461 : f32, split_kv = 32 : i64} : tensor<?x4096xbf16>, !cache, tensor<?x?xi32>, tensor<?xi32>, tensor<?xi32> -> tensor<?x4096xbf16>
  return %o : tensor<?x4096xbf16>
}

// CHECK-LABEL: .entry paged_attention_0(
// CHECK: .maxntid 128, 1, 1
// CHECK: ld.global{{(.nc)?}}.v4.b32
// CHECK: shfl.sync.bfly.b32
// CHECK: ex2.approx
// CHECK: bar.sync 0
// CHECK: membar.gl
// CHECK: atom.global.add.u32
// CHECK: ex2.approx

// The mma kernel's K and V loads read 64 or 128 bytes of a 256-byte row
// each; they ask L2 to fetch the whole row (`attention-l2-prefetch`).
// CHECK-LABEL: .entry paged_attention_mma_1(
// CHECK: .maxntid 128, 1, 1
// CHECK: ld.global.nc.L2::256B.v4.b32
// CHECK: mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32
// CHECK: shfl.sync.bfly.b32
// CHECK: ex2.approx
// CHECK: mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32
// CHECK: bar.sync 0

// PLAIN-LABEL: .entry paged_attention_mma_1(
// PLAIN-NOT: L2::
// PLAIN: ld.global.nc.v4.b32
// PLAIN-NOT: L2::
// PLAIN: mma.sync.aligned.m16n8k16

// Steps of 65 to 128 tokens (attention-ring-{min,max}-tokens) run the ring
// kernel, the others the one above: three launch groups, two kernels.
// LAUNCH-LABEL: func.func @decode_mma
// LAUNCH: kernel = @decode_kernels::@paged_attention_mma_1, max_tokens = 64
// LAUNCH-SAME: shared_bytes = 0
// LAUNCH: kernel = @decode_kernels::@paged_attention_mma_ring_2, max_tokens = 128
// LAUNCH-SAME: shared_bytes = 98304
// LAUNCH: kernel = @decode_kernels::@paged_attention_mma_1, max_tokens = 0

// The ring kernel: lane 0 of each warp initializes its 3 slots' mbarriers;
// a slot's chunk is two 4 KB cp.async.bulk copies (K rows, V rows) armed
// with their 8192 bytes, the first before griddepcontrol.wait; every lane
// spins on the slot's phase, then reads its fragments from shared memory.
// CHECK-LABEL: .entry paged_attention_mma_ring_2(
// CHECK: mbarrier.init.shared.b64
// CHECK: fence.mbarrier_init.release.cluster;
// CHECK: bar.sync 0;
// CHECK: mbarrier.arrive.expect_tx.shared::cta.b64 _, [%r{{[0-9]+}}], %r{{[0-9]+}};
// CHECK: cp.async.bulk.shared::cluster.global.mbarrier::complete_tx::bytes
// CHECK: cp.async.bulk.shared::cluster.global.mbarrier::complete_tx::bytes
// CHECK: griddepcontrol.wait;
// CHECK: cp.async.bulk.shared::cluster.global.mbarrier::complete_tx::bytes
// CHECK: wait_phase:
// CHECK-NEXT: mbarrier.try_wait.parity.shared::cta.b64
// CHECK: ld.shared.v4.b32
// CHECK: mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32

// PTXAS-COUNT-3: 0 bytes stack frame, 0 bytes spill stores, 0 bytes spill loads
