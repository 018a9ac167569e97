// A fused step with kernels: every decode attribute and the `gpu.binary`
// objects are serialized generically (artifact-launches.mlir adds launches).
// RUN: infer-compile %s -o %t.art
// RUN: %python %infer_src/utils/inspect_artifact.py %t.art | FileCheck %s
// RUN: %python %infer_src/utils/inspect_artifact.py %t.art --header \
// RUN:   | FileCheck %s --check-prefix=HEADER
// RUN: %python %infer_src/utils/inspect_artifact.py %t.art --kernel decode_kernels \
// RUN:   --format ptx | FileCheck %s --check-prefix=PTX
// RUN: %python %infer_src/utils/inspect_artifact.py %t.art --kernel decode_kernels \
// RUN:   --format cubin | FileCheck %s --check-prefix=CUBIN

// CHECK: keys: graph, kernels, kv_cache, model
// CHECK: model: {"eos_token_ids": [], "family": "unknown", "head_dim": 32, "hidden_size": 128, "num_heads": 4, "num_kv_heads": 2, "num_layers": 1, "tie_word_embeddings": false, "vocab_size": 512}
// CHECK: kv_cache: {"block_size": 16, "dtype": "bf16", "head_dim": 32, "kv_heads": 2, "layers": 1}
// CHECK: graph: role=verify values=29 nodes=16
// CHECK: ops: embed=1, gather_tokens=1, linear=4, paged_attention=1, rope_append=1, sample=1, silu_mul=1, weight=6
// CHECK: kernels: 1 (nodes with launches: 0)
// CHECK-NEXT: decode_kernels [sm_90]: cubin 10 B @ {{[0-9]+}}, ptx 22 B @ {{[0-9]+}}

// The qkv projection: norm prologue, bias and kernel variants.
// HEADER:         "norm_epsilon": 9.99999974{{[0-9]*}}e-06,
// HEADER-NEXT:    "variants": [
// HEADER-NEXT:     {
// HEADER-NEXT:      "k_split": 1,
// HEADER-NEXT:      "kind": "gemv",
// HEADER-NEXT:      "max_tokens": 8
// HEADER-NEXT:     },
// HEADER-NEXT:     {
// HEADER-NEXT:      "k_split": 2,
// HEADER-NEXT:      "kind": "mma",
// HEADER-NEXT:      "max_tokens": 256
// HEADER-NEXT:     }
// HEADER-NEXT:    ]
// HEADER-NEXT:   },
// HEADER-NEXT:   "op": "linear",
// HEADER-NEXT:   "operand_roles": {
// HEADER-NEXT:    "bias": 15,
// HEADER-NEXT:    "norm_weight": 14
// HEADER-NEXT:   },
// HEADER-NEXT:   "operands": [
// HEADER-NEXT:    13,
// HEADER-NEXT:    16,
// HEADER-NEXT:    15,
// HEADER-NEXT:    14
// HEADER-NEXT:   ],

// rope_append: two results and a rope_scaling object.
// HEADER:         "scaling": {
// HEADER-NEXT:     "factor": 8,
// HEADER-NEXT:     "high_freq_factor": 4,
// HEADER-NEXT:     "kind": "llama3",
// HEADER-NEXT:     "low_freq_factor": 1,
// HEADER-NEXT:     "original_max_position": 8192
// HEADER-NEXT:    },
// HEADER-NEXT:    "theta": 500000
// HEADER-NEXT:   },
// HEADER:        "op": "rope_append",
// HEADER:        "results": [
// HEADER-NEXT:    18,
// HEADER-NEXT:    19
// HEADER-NEXT:   ]

// HEADER:         "scale": 0.17677669{{[0-9]*}},
// HEADER-NEXT:    "sliding_window": 4096,
// HEADER-NEXT:    "split_kv": 4
// HEADER-NEXT:   },
// HEADER-NEXT:   "op": "paged_attention",

// The residual epilogue is named.
// HEADER:        "operand_roles": {
// HEADER-NEXT:    "residual": 13
// HEADER-NEXT:   },
// HEADER-NEXT:   "operands": [
// HEADER-NEXT:    20,
// HEADER-NEXT:    21,
// HEADER-NEXT:    13
// HEADER-NEXT:   ],

// Only optional operands have roles.
// HEADER:        "op": "silu_mul",
// HEADER-NEXT:   "operands": [
// HEADER-NEXT:    24
// HEADER-NEXT:   ],

// HEADER:      "outputs": {
// HEADER-NEXT:   "kv_cache": 19,
// HEADER-NEXT:   "logits": 27,
// HEADER-NEXT:   "tokens": 28
// HEADER-NEXT:  },
// HEADER-NEXT:  "role": "verify",

// HEADER:      "kernels": [
// HEADER-NEXT:  {
// HEADER-NEXT:   "arch": "sm_90",
// HEADER-NEXT:   "cubin": {
// HEADER-NEXT:    "offset": {{[0-9]+}},
// HEADER-NEXT:    "size": 10
// HEADER-NEXT:   },
// HEADER-NEXT:   "name": "decode_kernels",
// HEADER-NEXT:   "ptx": {
// HEADER-NEXT:    "offset": {{[0-9]+}},
// HEADER-NEXT:    "size": 22
// HEADER-NEXT:   },
// HEADER-NEXT:   "target": "#nvvm.target<chip = \"sm_90\">"
// HEADER-NEXT:  }
// HEADER-NEXT: ],

// PTX: .version 8.0
// CUBIN: CUBINBYTES

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
                     #decode.variant<max_tokens = 256, kind = mma, k_split = 2>]}
        : (tensor<?x128xbf16>, tensor<256x128xbf16>) -> tensor<?x256xbf16>
    %q, %cache1 = decode.rope_append %cache[%slots], %qkv, %positions
        {layer = 0 : i64, num_heads = 4 : i64, theta = 5.0e5 : f32,
         scaling = #decode.rope_scaling<kind = llama3, factor = 8.0>}
        : !cache, tensor<?xi32>, tensor<?x256xbf16>, tensor<?xi32> -> tensor<?x128xbf16>
    %attn = decode.paged_attention %q, %cache1[%block_tables, %context_lens, %query_start]
        {layer = 0 : i64, num_heads = 4 : i64, scale = 0.176776695 : f32,
         sliding_window = 4096 : i64, split_kv = 4 : i64}
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
