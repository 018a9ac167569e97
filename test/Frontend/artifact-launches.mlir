// `decode.launches` (docs/launch-plan.md) is copied into each node as
// "launches"; symbol references become "module::function" strings.
// RUN: infer-compile %s -o %t.art
// RUN: %python %infer_src/utils/inspect_artifact.py %t.art | FileCheck %s
// RUN: %python %infer_src/utils/inspect_artifact.py %t.art --header \
// RUN:   | FileCheck %s --check-prefix=HEADER

// CHECK: kernels: 1 (nodes with launches: 2)

// HEADER:         "norm_epsilon": 9.99999974{{[0-9]*}}e-06,
// HEADER:        "launches": [
// HEADER-NEXT:    {
// HEADER-NEXT:     "args": [
// HEADER-NEXT:      "operand0",
// HEADER-NEXT:      "operand1",
// HEADER-NEXT:      "result0",
// HEADER-NEXT:      "tokens"
// HEADER-NEXT:     ],
// HEADER-NEXT:     "block": [
// HEADER-NEXT:      128,
// HEADER-NEXT:      1,
// HEADER-NEXT:      1
// HEADER-NEXT:     ],
// HEADER-NEXT:     "grid": [
// HEADER-NEXT:      32,
// HEADER-NEXT:      1,
// HEADER-NEXT:      1
// HEADER-NEXT:     ],
// HEADER-NEXT:     "grid_scale": [
// HEADER-NEXT:      "one",
// HEADER-NEXT:      "one",
// HEADER-NEXT:      "one"
// HEADER-NEXT:     ],
// HEADER-NEXT:     "kernel": "decode_kernels::linear_gemv_0",
// HEADER-NEXT:     "max_tokens": 8,
// HEADER-NEXT:     "shared_bytes": 0
// HEADER-NEXT:    }
// HEADER-NEXT:   ],
// HEADER-NEXT:   "op": "linear",

// HEADER:         "split_kv": 4
// HEADER-NEXT:   },
// HEADER-NEXT:   "launches": [],
// HEADER-NEXT:   "op": "paged_attention",

// Launches never leak into "attrs".
// HEADER-NOT: decode.launches

!cache = !decode.kv_cache<layers = 1, kv_heads = 2, head_dim = 32, block_size = 16, dtype = bf16>
module attributes {gpu.container_module} {
  func.func @step(%tokens: tensor<?xi32>, %positions: tensor<?xi32>,
                  %slots: tensor<?xi32>, %block_tables: tensor<?x?xi32>,
                  %context_lens: tensor<?xi32>, %query_start: tensor<?xi32>,
                  %logits_indices: tensor<?xi32>, %temperature: tensor<?xf32>,
                  %top_k: tensor<?xi32>, %top_p: tensor<?xf32>,
                  %seeds: tensor<?xi64>, %cache: !cache)
      -> (tensor<?xi32>, tensor<?x512xf32>, !cache)
      attributes {decode.role = #decode.role<verify>} {
    %table = decode.weight ["model.embed_tokens.weight"] : tensor<512x128xbf16>
    %x = decode.embed %tokens, %table : (tensor<?xi32>, tensor<512x128xbf16>) -> tensor<?x128xbf16>
    %ln = decode.weight ["model.layers.0.input_layernorm.weight"] : tensor<128xbf16>
    %bias = decode.weight ["b.qkv"] : tensor<256xbf16>
    %wqkv = decode.weight ["w.q", "w.k", "w.v"] : tensor<256x128xbf16>
    %qkv = decode.linear %x, %wqkv bias(%bias : tensor<256xbf16>) norm(%ln : tensor<128xbf16>)
        {norm_epsilon = 1.0e-5 : f32,
         variants = [#decode.variant<max_tokens = 8, kind = gemv>,
                     #decode.variant<max_tokens = 256, kind = mma, k_split = 2>],
         decode.launches = [{kernel = @decode_kernels::@linear_gemv_0, max_tokens = 8 : i64,
                             grid = array<i64: 32, 1, 1>, grid_scale = ["one", "one", "one"],
                             block = array<i64: 128, 1, 1>, shared_bytes = 0 : i64,
                             args = ["operand0", "operand1", "result0", "tokens"]}]}
        : (tensor<?x128xbf16>, tensor<256x128xbf16>) -> tensor<?x256xbf16>
    %q, %cache1 = decode.rope_append %cache[%slots], %qkv, %positions
        {layer = 0 : i64, num_heads = 4 : i64, theta = 5.0e5 : f32,
         scaling = #decode.rope_scaling<kind = llama3, factor = 8.0>}
        : !cache, tensor<?xi32>, tensor<?x256xbf16>, tensor<?xi32> -> tensor<?x128xbf16>
    %attn = decode.paged_attention %q, %cache1[%block_tables, %context_lens, %query_start]
        {layer = 0 : i64, num_heads = 4 : i64, scale = 0.176776695 : f32,
         sliding_window = 4096 : i64, split_kv = 4 : i64, decode.launches = []}
        : tensor<?x128xbf16>, !cache, tensor<?x?xi32>, tensor<?xi32>, tensor<?xi32> -> tensor<?x128xbf16>
    %wo = decode.weight ["model.layers.0.self_attn.o_proj.weight"] : tensor<128x128xbf16>
    %h = decode.linear %attn, %wo residual(%x : tensor<?x128xbf16>)
        : (tensor<?x128xbf16>, tensor<128x128xbf16>) -> tensor<?x128xbf16>
    %wgu = decode.weight ["w.gate", "w.up"] : tensor<512x128xbf16>
    %gu = decode.linear %h, %wgu : (tensor<?x128xbf16>, tensor<512x128xbf16>) -> tensor<?x512xbf16>
    %act = decode.silu_mul %gu : tensor<?x512xbf16> -> tensor<?x256xbf16>
    %last = decode.gather_tokens %h[%logits_indices] : tensor<?x128xbf16>, tensor<?xi32> -> tensor<?x128xbf16>
    %logits = decode.linear %last, %table : (tensor<?x128xbf16>, tensor<512x128xbf16>) -> tensor<?x512xf32>
    %next = decode.sample %logits, %temperature, %top_k, %top_p, %seeds
        : tensor<?x512xf32>, tensor<?xf32>, tensor<?xi32>, tensor<?xf32>, tensor<?xi64> -> tensor<?xi32>
    return %next, %logits, %cache1 : tensor<?xi32>, tensor<?x512xf32>, !cache
  }
  gpu.binary @decode_kernels [
    #gpu.object<#nvvm.target<chip = "sm_90">, bin = "CUBINBYTES">,
    #gpu.object<#nvvm.target<chip = "sm_90">, assembly = ".version 8.0\0A.target x">]
}
