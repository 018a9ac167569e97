#!/usr/bin/env python3
"""Print one Llama-family decode step in the `decode` dialect.

The step follows the fixed signature of docs/artifact.md: twelve arguments
(tokens, positions, slots, block_tables, context_lens, query_start,
logits_indices, temperature, top_k, top_p, seeds, kv_cache) and three results
(sampled tokens, f32 logits, updated cache). Projections are emitted unfused
(separate q/k/v and gate/up linears), as a frontend would; the decode passes
fuse them. Weight names are those of Hugging Face checkpoints.

Examples:
  llama_step.py --preset tiny
  llama_step.py --preset llama3-8b > llama3-8b-step.mlir
  llama_step.py --preset tiny --qkv-bias --sliding-window 64 --tied
  llama_step.py --config path/to/config.json

Only the Python standard library is used.
"""

import argparse
import json
import math
import sys

PRESETS = {
    "tiny": dict(layers=2, hidden=128, heads=4, kv_heads=2, head_dim=32,
                 intermediate=256, vocab=512, theta=10000.0, eps=1e-5),
    "llama3-8b": dict(layers=32, hidden=4096, heads=32, kv_heads=8,
                      head_dim=128, intermediate=14336, vocab=128256,
                      theta=500000.0, eps=1e-5,
                      rope_scaling="llama3", rope_factor=8.0,
                      rope_low_freq=1.0, rope_high_freq=4.0,
                      rope_orig_max_pos=8192),
}

DEFAULTS = dict(layers=None, hidden=None, heads=None, kv_heads=None,
                head_dim=None, intermediate=None, vocab=None, theta=10000.0,
                eps=1e-5, rope_scaling="none", rope_factor=None,
                rope_low_freq=1.0, rope_high_freq=4.0,
                rope_orig_max_pos=8192, sliding_window=None, qkv_bias=False,
                tied=False, block_size=16, kv_dtype="bf16", role="decode",
                dtype="bf16")


def config_from_hf(path):
    """Reads the fields this script needs from a Hugging Face config.json."""
    with open(path) as f:
        c = json.load(f)
    heads = c["num_attention_heads"]
    out = dict(layers=c["num_hidden_layers"], hidden=c["hidden_size"],
               heads=heads, kv_heads=c.get("num_key_value_heads", heads),
               head_dim=c.get("head_dim") or c["hidden_size"] // heads,
               intermediate=c["intermediate_size"], vocab=c["vocab_size"],
               theta=float(c.get("rope_theta", 10000.0)),
               eps=float(c.get("rms_norm_eps", 1e-5)),
               tied=bool(c.get("tie_word_embeddings", False)),
               qkv_bias=bool(c.get("attention_bias", False))
               or c.get("model_type") == "qwen2")
    rs = c.get("rope_scaling")
    if rs:
        kind = rs.get("rope_type", rs.get("type"))
        if kind not in ("linear", "llama3"):
            sys.exit(f"llama_step.py: unsupported rope_scaling type {kind!r}")
        out["rope_scaling"] = kind
        out["rope_factor"] = float(rs["factor"])
        if kind == "llama3":
            out["rope_low_freq"] = float(rs.get("low_freq_factor", 1.0))
            out["rope_high_freq"] = float(rs.get("high_freq_factor", 4.0))
            out["rope_orig_max_pos"] = int(
                rs.get("original_max_position_embeddings", 8192))
    sw = c.get("sliding_window")
    if sw and c.get("use_sliding_window", True):
        out["sliding_window"] = int(sw)
    return out


def parse_args(argv):
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--preset", choices=sorted(PRESETS))
    p.add_argument("--config", help="a Hugging Face config.json")
    p.add_argument("--layers", type=int)
    p.add_argument("--hidden", type=int)
    p.add_argument("--heads", type=int)
    p.add_argument("--kv-heads", type=int)
    p.add_argument("--head-dim", type=int,
                   help="default: hidden / heads")
    p.add_argument("--intermediate", type=int)
    p.add_argument("--vocab", type=int)
    p.add_argument("--theta", type=float, help="rope theta")
    p.add_argument("--eps", type=float, help="rms_norm epsilon")
    p.add_argument("--rope-scaling", choices=["none", "linear", "llama3"])
    p.add_argument("--rope-factor", type=float)
    p.add_argument("--rope-low-freq", type=float)
    p.add_argument("--rope-high-freq", type=float)
    p.add_argument("--rope-orig-max-pos", type=int)
    p.add_argument("--sliding-window", type=int,
                   help="attend to the last N positions in every layer")
    p.add_argument("--qkv-bias", action="store_true", default=None,
                   help="q/k/v projections have a bias (Qwen2)")
    p.add_argument("--tied", action="store_true", default=None,
                   help="lm_head reuses model.embed_tokens.weight")
    p.add_argument("--block-size", type=int)
    p.add_argument("--kv-dtype", choices=["bf16", "f16", "f8E4M3FN", "i8"])
    p.add_argument("--role", choices=["prefill", "decode", "verify", "draft"])
    p.add_argument("--func-name", default="step")
    a = p.parse_args(argv)

    cfg = dict(DEFAULTS)
    if a.preset:
        cfg.update(PRESETS[a.preset])
    if a.config:
        cfg.update(config_from_hf(a.config))
    for key in DEFAULTS:
        value = getattr(a, key, None)
        if value is not None:
            cfg[key] = value
    if cfg["head_dim"] is None and cfg["hidden"] and cfg["heads"]:
        cfg["head_dim"] = cfg["hidden"] // cfg["heads"]
    missing = [k for k in ("layers", "hidden", "heads", "kv_heads", "head_dim",
                           "intermediate", "vocab") if cfg[k] is None]
    if missing:
        p.error("missing " + ", ".join("--" + m.replace("_", "-")
                                       for m in missing)
                + " (or use --preset / --config)")
    if cfg["rope_scaling"] != "none" and cfg["rope_factor"] is None:
        p.error("--rope-scaling needs --rope-factor")
    if cfg["heads"] % cfg["kv_heads"]:
        p.error("--heads must be a multiple of --kv-heads")
    cfg["func_name"] = a.func_name
    return cfg


def fmt(x):
    """A float literal MLIR parses: it needs a '.' before any exponent."""
    text = repr(float(x))
    if "e" in text and "." not in text:
        mantissa, exponent = text.split("e")
        text = f"{mantissa}.0e{exponent}"
    return text


class Emitter:
    def __init__(self, cfg):
        self.c = cfg
        self.lines = []
        self.dt = cfg["dtype"]

    def act(self, width, dtype=None):
        return f"tensor<?x{width}x{dtype or self.dt}>"

    def emit(self, line):
        self.lines.append("    " + line)

    def weight(self, name, shape, value):
        dims = "x".join(str(d) for d in shape)
        self.emit(f'%{value} = decode.weight ["{name}"] : '
                  f"tensor<{dims}x{self.dt}>")
        return f"%{value}", f"tensor<{dims}x{self.dt}>"

    def rms_norm(self, x, width, wname, value):
        w, wt = self.weight(wname, [width], value + "_w")
        self.emit(f"%{value} = decode.rms_norm {x}, {w} "
                  f"{{epsilon = {fmt(self.c['eps'])} : f32}} : "
                  f"{self.act(width)}, {wt}")
        return f"%{value}"

    def linear(self, x, k, n, prefix, value, bias=False, weight=None,
               out_dtype=None):
        if weight is None:
            w, wt = self.weight(prefix + ".weight", [n, k], value + "_w")
        else:
            w, wt = weight
        extra = ""
        if bias:
            b, bt = self.weight(prefix + ".bias", [n], value + "_b")
            extra = f" bias({b} : {bt})"
        self.emit(f"%{value} = decode.linear {x}, {w}{extra} : "
                  f"({self.act(k)}, {wt}) -> {self.act(n, out_dtype)}")
        return f"%{value}"

    def rope(self, x, width, value):
        c = self.c
        attrs = [f"head_dim = {c['head_dim']} : i64",
                 f"theta = {fmt(c['theta'])} : f32"]
        if c["rope_scaling"] == "linear":
            attrs.append("scaling = #decode.rope_scaling<kind = linear, "
                         f"factor = {fmt(c['rope_factor'])}>")
        elif c["rope_scaling"] == "llama3":
            attrs.append(
                "scaling = #decode.rope_scaling<kind = llama3, "
                f"factor = {fmt(c['rope_factor'])}, "
                f"low_freq_factor = {fmt(c['rope_low_freq'])}, "
                f"high_freq_factor = {fmt(c['rope_high_freq'])}, "
                f"original_max_position = {c['rope_orig_max_pos']}>")
        self.emit(f"%{value} = decode.rope {x}, %positions "
                  f"{{{', '.join(attrs)}}} : {self.act(width)}, tensor<?xi32>")
        return f"%{value}"

    def cache_type(self):
        c = self.c
        return (f"!decode.kv_cache<layers = {c['layers']}, "
                f"kv_heads = {c['kv_heads']}, head_dim = {c['head_dim']}, "
                f"block_size = {c['block_size']}, dtype = {c['kv_dtype']}>")

    def layer(self, i, hidden, cache):
        c = self.c
        h, hd = c["hidden"], c["head_dim"]
        qw, kvw = c["heads"] * hd, c["kv_heads"] * hd
        p = f"model.layers.{i}"
        attn = p + ".self_attn"
        mlp = p + ".mlp"
        ct = self.cache_type()

        self.lines.append(f"    // Layer {i}.")
        x = self.rms_norm(hidden, h, p + ".input_layernorm.weight",
                          f"l{i}_attn_norm")
        q = self.linear(x, h, qw, attn + ".q_proj", f"l{i}_q", c["qkv_bias"])
        k = self.linear(x, h, kvw, attn + ".k_proj", f"l{i}_k", c["qkv_bias"])
        v = self.linear(x, h, kvw, attn + ".v_proj", f"l{i}_v", c["qkv_bias"])
        q = self.rope(q, qw, f"l{i}_q_rot")
        k = self.rope(k, kvw, f"l{i}_k_rot")
        new_cache = f"%cache_{i + 1}"
        self.emit(f"{new_cache} = decode.kv_append {cache}[%slots], {k}, {v} "
                  f"{{layer = {i} : i64}} : {ct}, tensor<?xi32>, "
                  f"{self.act(kvw)}, {self.act(kvw)}")
        attrs = [f"layer = {i} : i64", f"num_heads = {c['heads']} : i64",
                 f"scale = {fmt(1.0 / math.sqrt(hd))} : f32"]
        if c["sliding_window"]:
            attrs.append(f"sliding_window = {c['sliding_window']} : i64")
        self.emit(f"%l{i}_attn = decode.paged_attention {q}, {new_cache}"
                  "[%block_tables, %context_lens, %query_start] "
                  f"{{{', '.join(attrs)}}} : {self.act(qw)}, {ct}, "
                  f"tensor<?x?xi32>, tensor<?xi32>, tensor<?xi32> -> "
                  f"{self.act(qw)}")
        o = self.linear(f"%l{i}_attn", qw, h, attn + ".o_proj", f"l{i}_o")
        self.emit(f"%l{i}_h = decode.add {hidden}, {o} : {self.act(h)}")
        x = self.rms_norm(f"%l{i}_h", h, p + ".post_attention_layernorm.weight",
                          f"l{i}_mlp_norm")
        inter = c["intermediate"]
        g = self.linear(x, h, inter, mlp + ".gate_proj", f"l{i}_gate")
        u = self.linear(x, h, inter, mlp + ".up_proj", f"l{i}_up")
        self.emit(f"%l{i}_act = decode.silu_mul {g}, {u} : {self.act(inter)}, "
                  f"{self.act(inter)} -> {self.act(inter)}")
        d = self.linear(f"%l{i}_act", inter, h, mlp + ".down_proj",
                        f"l{i}_down")
        self.emit(f"%l{i}_out = decode.add %l{i}_h, {d} : {self.act(h)}")
        return f"%l{i}_out", new_cache

    def step(self):
        c = self.c
        h, vocab = c["hidden"], c["vocab"]
        ct = self.cache_type()
        logits_t = f"tensor<?x{vocab}xf32>"
        args = ["%tokens: tensor<?xi32>", "%positions: tensor<?xi32>",
                "%slots: tensor<?xi32>", "%block_tables: tensor<?x?xi32>",
                "%context_lens: tensor<?xi32>", "%query_start: tensor<?xi32>",
                "%logits_indices: tensor<?xi32>",
                "%temperature: tensor<?xf32>", "%top_k: tensor<?xi32>",
                "%top_p: tensor<?xf32>", "%seeds: tensor<?xi64>",
                f"%cache_0: {ct}"]
        out = []
        out.append(f"// Generated by examples/llama_step.py: {c['layers']} "
                   f"layers, hidden {h}, {c['heads']}/{c['kv_heads']} heads "
                   f"of {c['head_dim']}, intermediate {c['intermediate']}, "
                   f"vocab {vocab}.")
        out.append(f"func.func @{c['func_name']}(" + ",\n    ".join(args)
                   + f")\n    -> (tensor<?xi32>, {logits_t}, {ct})\n"
                   f"    attributes {{decode.role = #decode.role<{c['role']}>}}"
                   " {")
        emb = self.weight("model.embed_tokens.weight", [vocab, h], "embed_w")
        self.emit(f"%embed = decode.embed %tokens, {emb[0]} : "
                  f"(tensor<?xi32>, {emb[1]}) -> {self.act(h)}")
        hidden, cache = "%embed", "%cache_0"
        for i in range(c["layers"]):
            hidden, cache = self.layer(i, hidden, cache)
        self.lines.append("    // Head.")
        x = self.rms_norm(hidden, h, "model.norm.weight", "final_norm")
        self.emit(f"%last = decode.gather_tokens {x}[%logits_indices] : "
                  f"{self.act(h)}, tensor<?xi32> -> {self.act(h)}")
        head = emb if c["tied"] else None
        logits = self.linear("%last", h, vocab, "lm_head", "logits",
                             weight=head, out_dtype="f32")
        self.emit(f"%next = decode.sample {logits}, %temperature, %top_k, "
                  f"%top_p, %seeds : {logits_t}, tensor<?xf32>, "
                  "tensor<?xi32>, tensor<?xf32>, tensor<?xi64> -> "
                  "tensor<?xi32>")
        self.emit(f"return %next, {logits}, {cache} : tensor<?xi32>, "
                  f"{logits_t}, {ct}")
        return "\n".join(out + self.lines + ["}"]) + "\n"


def main(argv):
    cfg = parse_args(argv)
    sys.stdout.write(Emitter(cfg).step())


if __name__ == "__main__":
    main(sys.argv[1:])
