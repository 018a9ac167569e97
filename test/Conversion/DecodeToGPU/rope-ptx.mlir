// REQUIRES: cuda-toolkit
// RUN: infer-opt %s --infer-decode-to-cuda-pipeline="format=isa toolkit=%cuda_root" -o %t.mlir
// RUN: %python %infer_src/bench/attention/extract.py %t.mlir %t
// RUN: FileCheck %s < %t.ptx
// RUN: %ptxas -arch=sm_90a -v %t.ptx -o %t.cubin 2>&1 | FileCheck %s --check-prefix=PTXAS

// rope_append in PTX: the inverse-frequency table is a global constant, the
// libdevice sin/cos are linked (no unresolved __nv_ externs), the packed row
// is read and the cache written with 16-byte accesses.

!cache = !decode.kv_cache<layers = 2, kv_heads = 8, head_dim = 128, block_size = 16, dtype = bf16>

func.func @step(%tokens: tensor<?xi32>, %pos: tensor<?xi32>, %slots: tensor<?xi32>, %bt: tensor<?x?xi32>, %cl: tensor<?xi32>, %qs: tensor<?xi32>, %li: tensor<?xi32>, %temp: tensor<?xf32>, %topk: tensor<?xi32>, %topp: tensor<?xf32>, %seeds: tensor<?xi64>, %cache: !cache, %qkv: tensor<?x6144xbf16>) -> (tensor<?x4096xbf16>, !cache) attributes {decode.role = #decode.role<decode>} {
  %q, %c1 = decode.rope_append %cache[%slots], %qkv, %pos {layer = 1 : i64, num_heads = 32 : i64, theta = 500000.0 : f32} : !cache, tensor<?xi32>, tensor<?x6144xbf16>, tensor<?xi32> -> tensor<?x4096xbf16>
  return %q, %c1 : tensor<?x4096xbf16>, !cache
}

// CHECK-NOT: .extern .func
// CHECK: .global .align 16 .b8 rope_append_0_inv_freq[256]
// CHECK-LABEL: .entry rope_append_0(
// CHECK: ld.global{{(.nc)?}}.v4.b32
// CHECK: st.global.v4.b32

// PTXAS: Compiling entry function 'rope_append_0' for 'sm_90a'
// PTXAS-NEXT: Function properties for
// PTXAS-NEXT: 0 bytes stack frame, 0 bytes spill stores, 0 bytes spill loads
