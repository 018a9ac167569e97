// REQUIRES: cuda-toolkit
// RUN: infer-opt %s --infer-decode-to-cuda-pipeline="format=isa toolkit=%cuda_root" -o %t.mlir
// RUN: %python %infer_src/bench/attention/extract.py %t.mlir %t
// RUN: FileCheck %s < %t.ptx
// RUN: not grep -E "\.local|__nv_[a-z0-9_]+;" %t.ptx
// RUN: %ptxas -arch=sm_90a -v %t.ptx -o %t.cubin 2>&1 | FileCheck %s --check-prefix=PTXAS

// The decode attention kernel in PTX: 16-byte K/V loads, lane butterflies,
// exp2 on the SFU; the merge kernel
// after it. No local memory, and ptxas spills nothing.

!cache = !decode.kv_cache<layers = 2, kv_heads = 8, head_dim = 128, block_size = 16, dtype = bf16>

func.func @decode(%q: tensor<?x4096xbf16>, %c: !cache, %bt: tensor<?x?xi32>, %cl: tensor<?xi32>, %qs: tensor<?xi32>) -> tensor<?x4096xbf16> attributes {decode.role = #decode.role<decode>} {
  %o = decode.paged_attention %q, %c[%bt, %cl, %qs] {layer = 1 : i64, num_heads = 32 : i64, scale = 0.0883883461 : f32, split_kv = 32 : i64} : tensor<?x4096xbf16>, !cache, tensor<?x?xi32>, tensor<?xi32>, tensor<?xi32> -> tensor<?x4096xbf16>
  return %o : tensor<?x4096xbf16>
}

// CHECK-LABEL: .entry paged_attention_0(
// CHECK: .maxntid 128, 1, 1
// CHECK: ld.global{{(.nc)?}}.v4.b32
// CHECK: shfl.sync.bfly.b32
// CHECK: ex2.approx
// CHECK: bar.sync 0
// CHECK-LABEL: .entry paged_attention_merge_1(
// CHECK: ex2.approx

// PTXAS: Compiling entry function 'paged_attention_{{(merge_1|0)}}' for 'sm_90a'
// PTXAS-NEXT: Function properties for
// PTXAS-NEXT: 0 bytes stack frame, 0 bytes spill stores, 0 bytes spill loads
// PTXAS: Compiling entry function 'paged_attention_{{(merge_1|0)}}' for 'sm_90a'
// PTXAS-NEXT: Function properties for
// PTXAS-NEXT: 0 bytes stack frame, 0 bytes spill stores, 0 bytes spill loads
