//===- TinyModel.h - A hand-built Llama-shaped artifact for tests -*- C++
//-*-===//

#ifndef INFER_RUNTIME_UNITTESTS_TINYMODEL_H
#define INFER_RUNTIME_UNITTESTS_TINYMODEL_H

#include "TestUtil.h"

#include <map>

namespace infer::runtime::test {

struct TinyConfig {
  int64_t vocab = 64, hidden = 32, heads = 4, kvHeads = 2, headDim = 8,
          inter = 48, layers = 2, blockSize = 16;
  bool fused = false;
  bool qkvBias = true;
  int64_t slidingWindow = 0;
  bool llama3 = false;
  double theta = 10000.0, eps = 1e-5;
};

/// HF-named random bf16 weights of a Llama-shaped model.
inline std::vector<SafeTensorsEntry> tinyWeights(const TinyConfig &c,
                                                 unsigned seed) {
  std::mt19937 rng(seed);
  std::vector<SafeTensorsEntry> w;
  auto norm = [&](const std::string &name) {
    SafeTensorsEntry e = randomBf16(name, {c.hidden}, 0.2f, rng);
    for (int64_t i = 0; i < c.hidden; ++i) {
      uint16_t b;
      std::memcpy(&b, e.bytes.data() + 2 * i, 2);
      b = floatToBf16(1.0f + bf16ToFloat(b));
      std::memcpy(e.bytes.data() + 2 * i, &b, 2);
    }
    w.push_back(e);
  };
  const int64_t q = c.heads * c.headDim, kv = c.kvHeads * c.headDim;
  w.push_back(
      randomBf16("model.embed_tokens.weight", {c.vocab, c.hidden}, 1.0f, rng));
  for (int64_t l = 0; l < c.layers; ++l) {
    std::string p = "model.layers." + std::to_string(l) + ".";
    norm(p + "input_layernorm.weight");
    float s = 1.0f / std::sqrt(float(c.hidden));
    w.push_back(
        randomBf16(p + "self_attn.q_proj.weight", {q, c.hidden}, 2 * s, rng));
    w.push_back(
        randomBf16(p + "self_attn.k_proj.weight", {kv, c.hidden}, 2 * s, rng));
    w.push_back(
        randomBf16(p + "self_attn.v_proj.weight", {kv, c.hidden}, 2 * s, rng));
    if (c.qkvBias) {
      w.push_back(randomBf16(p + "self_attn.q_proj.bias", {q}, 0.1f, rng));
      w.push_back(randomBf16(p + "self_attn.k_proj.bias", {kv}, 0.1f, rng));
      w.push_back(randomBf16(p + "self_attn.v_proj.bias", {kv}, 0.1f, rng));
    }
    w.push_back(
        randomBf16(p + "self_attn.o_proj.weight", {c.hidden, q}, s, rng));
    norm(p + "post_attention_layernorm.weight");
    w.push_back(randomBf16(p + "mlp.gate_proj.weight", {c.inter, c.hidden},
                           2 * s, rng));
    w.push_back(
        randomBf16(p + "mlp.up_proj.weight", {c.inter, c.hidden}, 2 * s, rng));
    w.push_back(randomBf16(p + "mlp.down_proj.weight", {c.hidden, c.inter},
                           1.0f / std::sqrt(float(c.inter)), rng));
  }
  norm("model.norm.weight");
  w.push_back(randomBf16("lm_head.weight", {c.vocab, c.hidden}, 1.0f, rng));
  return w;
}

inline json ropeAttrs(const TinyConfig &c) {
  json a = {{"theta", c.theta}};
  if (c.llama3)
    a["scaling"] = {{"kind", "llama3"},
                    {"factor", 8.0},
                    {"low_freq_factor", 1.0},
                    {"high_freq_factor", 4.0},
                    {"original_max_position", 64}};
  return a;
}

/// The header of a tiny artifact: fused (rope_append, norm prologue, residual
/// epilogue, packed gate/up) or unfused (rms_norm, slice, rope, kv_append,
/// add, two-operand silu_mul).
inline json tinyHeader(const TinyConfig &c) {
  GraphBuilder g;
  g.standardInputs();
  auto in = [&](const char *n) { return g.inputs[n].get<int>(); };
  const int64_t q = c.heads * c.headDim, kv = c.kvHeads * c.headDim;
  const std::string bf = "bf16";
  int cache = in("kv_cache");
  int h = g.value({-1, c.hidden}, bf);
  g.node("embed",
         {in("tokens"),
          g.weight({"model.embed_tokens.weight"}, {c.vocab, c.hidden})},
         {h});
  for (int64_t l = 0; l < c.layers; ++l) {
    std::string p = "model.layers." + std::to_string(l) + ".";
    int ln1 = g.weight({p + "input_layernorm.weight"}, {c.hidden});
    int ln2 = g.weight({p + "post_attention_layernorm.weight"}, {c.hidden});
    int wqkv =
        g.weight({p + "self_attn.q_proj.weight", p + "self_attn.k_proj.weight",
                  p + "self_attn.v_proj.weight"},
                 {q + 2 * kv, c.hidden});
    int bqkv = -1;
    if (c.qkvBias) // Packed by the loader like the rank-2 weights.
      bqkv = g.weight({p + "self_attn.q_proj.bias", p + "self_attn.k_proj.bias",
                       p + "self_attn.v_proj.bias"},
                      {q + 2 * kv});
    int wo = g.weight({p + "self_attn.o_proj.weight"}, {c.hidden, q});
    int wd = g.weight({p + "mlp.down_proj.weight"}, {c.hidden, c.inter});
    json attn = {{"layer", l},
                 {"num_heads", c.heads},
                 {"scale", 1.0 / std::sqrt(double(c.headDim))}};
    if (c.slidingWindow)
      attn["sliding_window"] = c.slidingWindow;
    int a = g.value({-1, q}, bf), h2 = g.value({-1, c.hidden}, bf),
        h3 = g.value({-1, c.hidden}, bf), s = g.value({-1, c.inter}, bf);
    int cacheOut = g.value({}, "kv_cache");
    if (c.fused) {
      int qkv = g.value({-1, q + 2 * kv}, bf), qr = g.value({-1, q}, bf);
      json roles = {{"norm_weight", ln1}};
      if (bqkv >= 0)
        roles["bias"] = bqkv;
      g.node("linear", {h, wqkv}, {qkv}, {{"norm_epsilon", c.eps}}, roles);
      json ra = ropeAttrs(c);
      ra["layer"] = l;
      ra["num_heads"] = c.heads;
      g.node("rope_append", {cache, qkv, in("positions"), in("slots")},
             {qr, cacheOut}, ra);
      g.node("paged_attention",
             {qr, cacheOut, in("block_tables"), in("context_lens"),
              in("query_start")},
             {a}, attn);
      g.node("linear", {a, wo}, {h2}, json::object(), {{"residual", h}});
      int wgu = g.weight({p + "mlp.gate_proj.weight", p + "mlp.up_proj.weight"},
                         {2 * c.inter, c.hidden});
      int gu = g.value({-1, 2 * c.inter}, bf);
      g.node("linear", {h2, wgu}, {gu}, {{"norm_epsilon", c.eps}},
             {{"norm_weight", ln2}});
      g.node("silu_mul", {gu}, {s});
      g.node("linear", {s, wd}, {h3}, json::object(), {{"residual", h2}});
    } else {
      int x = g.value({-1, c.hidden}, bf), qkv = g.value({-1, q + 2 * kv}, bf);
      g.node("rms_norm", {h, ln1}, {x}, {{"epsilon", c.eps}});
      json roles = json();
      if (bqkv >= 0)
        roles = {{"bias", bqkv}};
      g.node("linear", {x, wqkv}, {qkv}, json::object(), roles);
      int qs = g.value({-1, q}, bf), ks = g.value({-1, kv}, bf),
          vs = g.value({-1, kv}, bf), qr = g.value({-1, q}, bf),
          kr = g.value({-1, kv}, bf);
      g.node("slice", {qkv}, {qs}, {{"offset", 0}});
      g.node("slice", {qkv}, {ks}, {{"offset", q}});
      g.node("slice", {qkv}, {vs}, {{"offset", q + kv}});
      json ra = ropeAttrs(c);
      ra["head_dim"] = c.headDim;
      g.node("rope", {qs, in("positions")}, {qr}, ra);
      g.node("rope", {ks, in("positions")}, {kr}, ra);
      g.node("kv_append", {cache, kr, vs, in("slots")}, {cacheOut},
             {{"layer", l}});
      g.node("paged_attention",
             {qr, cacheOut, in("block_tables"), in("context_lens"),
              in("query_start")},
             {a}, attn);
      int o = g.value({-1, c.hidden}, bf);
      g.node("linear", {a, wo}, {o});
      g.node("add", {h, o}, {h2});
      int x2 = g.value({-1, c.hidden}, bf), gt = g.value({-1, c.inter}, bf),
          up = g.value({-1, c.inter}, bf), d = g.value({-1, c.hidden}, bf);
      g.node("rms_norm", {h2, ln2}, {x2}, {{"epsilon", c.eps}});
      g.node("linear",
             {x2, g.weight({p + "mlp.gate_proj.weight"}, {c.inter, c.hidden})},
             {gt});
      g.node("linear",
             {x2, g.weight({p + "mlp.up_proj.weight"}, {c.inter, c.hidden})},
             {up});
      g.node("silu_mul", {gt, up}, {s});
      g.node("linear", {s, wd}, {d});
      g.node("add", {h2, d}, {h3});
    }
    h = h3;
    cache = cacheOut;
  }
  int hs = g.value({-1, c.hidden}, bf), hn = g.value({-1, c.hidden}, bf),
      logits = g.value({-1, c.vocab}, "f32"), tokens = g.value({-1}, "i32");
  g.node("gather_tokens", {h, in("logits_indices")}, {hs});
  g.node("rms_norm", {hs, g.weight({"model.norm.weight"}, {c.hidden})}, {hn},
         {{"epsilon", c.eps}});
  g.node("linear", {hn, g.weight({"lm_head.weight"}, {c.vocab, c.hidden})},
         {logits});
  g.node("sample",
         {logits, in("temperature"), in("top_k"), in("top_p"), in("seeds")},
         {tokens});
  g.outputs = {{"tokens", tokens}, {"logits", logits}, {"kv_cache", cache}};
  return {{"model",
           {{"family", "llama"},
            {"vocab_size", c.vocab},
            {"hidden_size", c.hidden},
            {"num_layers", c.layers},
            {"num_heads", c.heads},
            {"num_kv_heads", c.kvHeads},
            {"head_dim", c.headDim},
            {"intermediate_size", c.inter},
            {"max_position", 4096},
            {"bos_token_id", 1},
            {"eos_token_ids", {2}}}},
          {"kv_cache",
           {{"layers", c.layers},
            {"kv_heads", c.kvHeads},
            {"head_dim", c.headDim},
            {"block_size", c.blockSize},
            {"dtype", "bf16"}}},
          {"graph", g.build()}};
}

} // namespace infer::runtime::test

#endif // INFER_RUNTIME_UNITTESTS_TINYMODEL_H
