// RUN: infer-opt %s --decode-optimize | FileCheck %s
// RUN: infer-opt %s --decode-optimize="num-sms=16 buckets=4,64" | FileCheck %s --check-prefix=OPT
// RUN: infer-opt %s --decode-optimize="buckets=4,64 wgmma=1 gemv-max-tokens=4" | FileCheck %s --check-prefix=WGMMA
// RUN: infer-opt %s --decode-optimize="attention-mma=0" | FileCheck %s --check-prefix=SIMT
// RUN: infer-opt %s --decode-optimize="fold-norm-weights=0 fuse-silu-mul=0" | FileCheck %s --check-prefix=NOFOLD

// One complete Llama layer (hidden 256, 4 heads, 2 kv heads of 64,
// intermediate 512) with the embedding, the final norm and lm_head, as the
// frontend emits it. The final norm moves below the row gather and folds into
// lm_head. The norm weights move into the linear weights' columns; silu_mul
// becomes the gate/up linear's activation.

!cache = !decode.kv_cache<layers = 1, kv_heads = 2, head_dim = 64, block_size = 16, dtype = bf16>

// CHECK-LABEL: func.func @llama_step
// CHECK-SAME: (%[[TOK:[^:]*]]: tensor<?xi32>, %[[POS:[^:]*]]: tensor<?xi32>, %[[SLOTS:[^:]*]]: tensor<?xi32>, %[[BT:[^:]*]]: tensor<?x?xi32>, %[[CL:[^:]*]]: tensor<?xi32>, %[[QS:[^:]*]]: tensor<?xi32>, %[[LI:[^:]*]]: tensor<?xi32>, %[[C:[^:]*]]: !decode.kv_cache
// CHECK: %[[EMB:.*]] = decode.weight ["model.embed_tokens.weight"]
// CHECK-NEXT: %[[X:.*]] = decode.embed %[[TOK]], %[[EMB]]
// CHECK-NEXT: %[[WQKV:.*]] = decode.weight ["model.layers.0.self_attn.q_proj.weight", "model.layers.0.self_attn.k_proj.weight", "model.layers.0.self_attn.v_proj.weight"] scaled_by "model.layers.0.input_layernorm.weight" : tensor<512x256xbf16>
// CHECK-NEXT: %[[QKV:.*]] = decode.linear %[[X]], %[[WQKV]] {norm_epsilon = 9.99999974E-6 : f32, variants = [#decode.variant<max_tokens = 1, kind = gemv>, #decode.variant<max_tokens = 4, kind = gemv>, #decode.variant<max_tokens = 16, kind = mma>, #decode.variant<max_tokens = 64, kind = mma>, #decode.variant<max_tokens = 128, kind = mma>, #decode.variant<max_tokens = 256, kind = mma>]} : (tensor<?x256xbf16>, tensor<512x256xbf16>) -> tensor<?x512xbf16>
// CHECK-NEXT: %[[Q:.*]], %[[C1:.*]] = decode.rope_append %[[C]][%[[SLOTS]]], %[[QKV]], %[[POS]] {layer = 0 : i64, num_heads = 4 : i64, theta = 5.000000e+05 : f32}
// CHECK-NEXT: %[[ATTN:.*]] = decode.paged_attention %[[Q]], %[[C1]][%[[BT]], %[[CL]], %[[QS]]] {kernel = #decode.attention_kernel<mma>, layer = 0 : i64, num_heads = 4 : i64, scale = 1.250000e-01 : f32, split_kv = 64 : i64}
// CHECK-NEXT: %[[WO:.*]] = decode.weight ["model.layers.0.self_attn.o_proj.weight"]
// CHECK-NEXT: %[[H:.*]] = decode.linear %[[ATTN]], %[[WO]] residual(%[[X]] : tensor<?x256xbf16>) {variants = [{{.*}}]} : (tensor<?x256xbf16>, tensor<256x256xbf16>) -> tensor<?x256xbf16>
// CHECK-NEXT: %[[WGU:.*]] = decode.weight ["model.layers.0.mlp.gate_proj.weight", "model.layers.0.mlp.up_proj.weight"] scaled_by "model.layers.0.post_attention_layernorm.weight" : tensor<1024x256xbf16>
// CHECK-NEXT: %[[ACT:.*]] = decode.linear %[[H]], %[[WGU]] {activation = #decode.activation<silu_mul>, norm_epsilon = 9.99999974E-6 : f32, variants = [{{.*}}]} : (tensor<?x256xbf16>, tensor<1024x256xbf16>) -> tensor<?x512xbf16>
// CHECK-NEXT: %[[WD:.*]] = decode.weight ["model.layers.0.mlp.down_proj.weight"]
// CHECK-NEXT: %[[OUT:.*]] = decode.linear %[[ACT]], %[[WD]] residual(%[[H]] : tensor<?x256xbf16>) {variants = [{{.*}}]} : (tensor<?x512xbf16>, tensor<256x512xbf16>) -> tensor<?x256xbf16>
// CHECK-NEXT: %[[LAST:.*]] = decode.gather_tokens %[[OUT]][%[[LI]]]
// CHECK-NEXT: %[[WLM:.*]] = decode.weight ["lm_head.weight"] scaled_by "model.norm.weight"
// CHECK-NEXT: %[[LOGITS:.*]] = decode.linear %[[LAST]], %[[WLM]] {norm_epsilon = 9.99999974E-6 : f32, variants = [{{.*}}]} : (tensor<?x256xbf16>, tensor<1024x256xbf16>) -> tensor<?x1024xf32>
// CHECK-NEXT: return %[[LOGITS]], %[[C1]]

// NOFOLD-LABEL: func.func @llama_step
// NOFOLD: %[[LN1:.*]] = decode.weight ["model.layers.0.input_layernorm.weight"]
// NOFOLD-NOT: scaled_by
// NOFOLD: decode.linear %{{.*}}, %{{.*}} norm(%[[LN1]] : tensor<256xbf16>)
// NOFOLD: decode.silu_mul

// OPT-LABEL: func.func @llama_step
// OPT: decode.linear {{.*}}variants = [#decode.variant<max_tokens = 4, kind = gemv>, #decode.variant<max_tokens = 64, kind = mma>]{{.*}}tensor<512x256xbf16>
// OPT: decode.paged_attention {{.*}}split_kv = 16 : i64

// gemv-max-tokens is forwarded: the 4-token bucket keeps the GEMV.
// WGMMA-LABEL: func.func @llama_step
// WGMMA: decode.linear {{.*}}variants = [#decode.variant<max_tokens = 4, kind = gemv>, #decode.variant<max_tokens = 64, kind = wgmma>]{{.*}}tensor<512x256xbf16>
func.func @llama_step(%tokens: tensor<?xi32>, %positions: tensor<?xi32>, %slots: tensor<?xi32>, %block_tables: tensor<?x?xi32>, %context_lens: tensor<?xi32>, %query_start: tensor<?xi32>, %logits_indices: tensor<?xi32>, %cache: !cache) -> (tensor<?x1024xf32>, !cache) attributes {decode.role = #decode.role<decode>} {
  %emb = decode.weight ["model.embed_tokens.weight"] : tensor<1024x256xbf16>
  %x = decode.embed %tokens, %emb : (tensor<?xi32>, tensor<1024x256xbf16>) -> tensor<?x256xbf16>
  %ln1 = decode.weight ["model.layers.0.input_layernorm.weight"] : tensor<256xbf16>
  %h = decode.rms_norm %x, %ln1 {epsilon = 1.0e-05 : f32} : tensor<?x256xbf16>, tensor<256xbf16>
  %wq = decode.weight ["model.layers.0.self_attn.q_proj.weight"] : tensor<256x256xbf16>
  %wk = decode.weight ["model.layers.0.self_attn.k_proj.weight"] : tensor<128x256xbf16>
  %wv = decode.weight ["model.layers.0.self_attn.v_proj.weight"] : tensor<128x256xbf16>
  %q = decode.linear %h, %wq : (tensor<?x256xbf16>, tensor<256x256xbf16>) -> tensor<?x256xbf16>
  %k = decode.linear %h, %wk : (tensor<?x256xbf16>, tensor<128x256xbf16>) -> tensor<?x128xbf16>
  %v = decode.linear %h, %wv : (tensor<?x256xbf16>, tensor<128x256xbf16>) -> tensor<?x128xbf16>
  %qr = decode.rope %q, %positions {head_dim = 64 : i64, theta = 5.0e+05 : f32} : tensor<?x256xbf16>, tensor<?xi32>
  %kr = decode.rope %k, %positions {head_dim = 64 : i64, theta = 5.0e+05 : f32} : tensor<?x128xbf16>, tensor<?xi32>
  %c1 = decode.kv_append %cache[%slots], %kr, %v {layer = 0 : i64} : !cache, tensor<?xi32>, tensor<?x128xbf16>, tensor<?x128xbf16>
  %attn = decode.paged_attention %qr, %c1[%block_tables, %context_lens, %query_start] {layer = 0 : i64, num_heads = 4 : i64, scale = 0.125 : f32} : tensor<?x256xbf16>, !cache, tensor<?x?xi32>, tensor<?xi32>, tensor<?xi32> -> tensor<?x256xbf16>
  %wo = decode.weight ["model.layers.0.self_attn.o_proj.weight"] : tensor<256x256xbf16>
  %o = decode.linear %attn, %wo : (tensor<?x256xbf16>, tensor<256x256xbf16>) -> tensor<?x256xbf16>
  %x1 = decode.add %x, %o : tensor<?x256xbf16>
  %ln2 = decode.weight ["model.layers.0.post_attention_layernorm.weight"] : tensor<256xbf16>
  %h2 = decode.rms_norm %x1, %ln2 {epsilon = 1.0e-05 : f32} : tensor<?x256xbf16>, tensor<256xbf16>
  %wg = decode.weight ["model.layers.0.mlp.gate_proj.weight"] : tensor<512x256xbf16>
  %wu = decode.weight ["model.layers.0.mlp.up_proj.weight"] : tensor<512x256xbf16>
  %g = decode.linear %h2, %wg : (tensor<?x256xbf16>, tensor<512x256xbf16>) -> tensor<?x512xbf16>
  %u = decode.linear %h2, %wu : (tensor<?x256xbf16>, tensor<512x256xbf16>) -> tensor<?x512xbf16>
  %a = decode.silu_mul %g, %u : tensor<?x512xbf16>, tensor<?x512xbf16> -> tensor<?x512xbf16>
  %wd = decode.weight ["model.layers.0.mlp.down_proj.weight"] : tensor<256x512xbf16>
  %d = decode.linear %a, %wd : (tensor<?x512xbf16>, tensor<256x512xbf16>) -> tensor<?x256xbf16>
  %x2 = decode.add %x1, %d : tensor<?x256xbf16>
  %lnf = decode.weight ["model.norm.weight"] : tensor<256xbf16>
  %hf = decode.rms_norm %x2, %lnf {epsilon = 1.0e-05 : f32} : tensor<?x256xbf16>, tensor<256xbf16>
  %last = decode.gather_tokens %hf[%logits_indices] : tensor<?x256xbf16>, tensor<?xi32> -> tensor<?x256xbf16>
  %wlm = decode.weight ["lm_head.weight"] : tensor<1024x256xbf16>
  %logits = decode.linear %last, %wlm : (tensor<?x256xbf16>, tensor<1024x256xbf16>) -> tensor<?x1024xf32>
  return %logits, %c1 : tensor<?x1024xf32>, !cache
}

// SIMT-LABEL: func.func @llama_step
// SIMT: decode.paged_attention {{.*}}{kernel = #decode.attention_kernel<simt>,
