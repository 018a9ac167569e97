#!/usr/bin/env python3
"""Writes deterministic random weights for a Llama-family config.json as a
Hugging Face `model.safetensors` (BF16), using only the standard library.

  make_weights.py CONFIG [OUTPUT] [--seed N] [--list]

CONFIG is a config.json or a model directory holding one (model_type llama,
mistral or qwen2). OUTPUT is a file or a directory (default: next to the
config). Tensor names and shapes are those of LlamaForCausalLM (and its
Mistral/Qwen2 siblings): linears ~ N(0, 0.02), norms ~ N(1, 0.02). Each
tensor's values depend only on the seed and its name.
"""
import argparse
import json
import os
import random
import struct
import sys
from statistics import NormalDist

CHUNK = 1 << 24  # elements generated per step, bounds memory for big models


def bf16_tables(mean, std):
    """Two 256-entry byte maps (low, high byte) of 256 bf16 normal quantiles:
    a random byte picks one, so generation runs at bytes.translate speed."""
    dist = NormalDist(mean, std)
    lo, hi = bytearray(256), bytearray(256)
    for i in range(256):
        f32 = struct.unpack("<I", struct.pack("<f", dist.inv_cdf(
            (i + 0.5) / 256)))[0]
        bits = (f32 + 0x7FFF + ((f32 >> 16) & 1)) >> 16  # round to nearest even
        lo[i], hi[i] = bits & 0xFF, bits >> 8
    return bytes(lo), bytes(hi)


def need(config, key):
    if config.get(key) is None:
        sys.exit(f"make_weights: error: config field '{key}' is missing")
    return config[key]


def tensors(config):
    """(name, shape, kind) of every checkpoint tensor."""
    family = need(config, "model_type")
    if family not in ("llama", "mistral", "qwen2"):
        sys.exit(f"make_weights: error: config field 'model_type': "
                 f"unsupported value '{family}'; supported: llama, mistral, "
                 f"qwen2")
    hidden = need(config, "hidden_size")
    heads = need(config, "num_attention_heads")
    kv_heads = config.get("num_key_value_heads") or heads
    head_dim = config.get("head_dim") or hidden // heads
    inter = need(config, "intermediate_size")
    vocab = need(config, "vocab_size")
    layers = need(config, "num_hidden_layers")
    attention_bias = bool(config.get("attention_bias")) and family == "llama"
    qkv_bias = attention_bias or family == "qwen2"

    out = [("model.embed_tokens.weight", (vocab, hidden), "linear")]
    for i in range(layers):
        p = f"model.layers.{i}"
        out.append((f"{p}.input_layernorm.weight", (hidden,), "norm"))
        for proj, rows in (("q", heads * head_dim), ("k", kv_heads * head_dim),
                           ("v", kv_heads * head_dim)):
            out.append((f"{p}.self_attn.{proj}_proj.weight", (rows, hidden),
                        "linear"))
            if qkv_bias:
                out.append((f"{p}.self_attn.{proj}_proj.bias", (rows,),
                            "linear"))
        out.append((f"{p}.self_attn.o_proj.weight", (hidden, heads * head_dim),
                    "linear"))
        if attention_bias:
            out.append((f"{p}.self_attn.o_proj.bias", (hidden,), "linear"))
        out.append((f"{p}.post_attention_layernorm.weight", (hidden,), "norm"))
        out.append((f"{p}.mlp.gate_proj.weight", (inter, hidden), "linear"))
        out.append((f"{p}.mlp.up_proj.weight", (inter, hidden), "linear"))
        out.append((f"{p}.mlp.down_proj.weight", (hidden, inter), "linear"))
    out.append(("model.norm.weight", (hidden,), "norm"))
    if not config.get("tie_word_embeddings", False):
        out.append(("lm_head.weight", (vocab, hidden), "linear"))
    return out


def numel(shape):
    n = 1
    for d in shape:
        n *= d
    return n


def write(path, specs, seed):
    tables = {"linear": bf16_tables(0.0, 0.02), "norm": bf16_tables(1.0, 0.02)}
    header, offset = {"__metadata__": {"format": "pt"}}, 0
    for name, shape, _ in specs:
        size = 2 * numel(shape)
        header[name] = {"dtype": "BF16", "shape": list(shape),
                        "data_offsets": [offset, offset + size]}
        offset += size
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for name, shape, kind in specs:
            lo, hi = tables[kind]
            rng = random.Random(f"{seed}:{name}")
            left = numel(shape)
            while left:
                n = min(left, CHUNK)
                picks = rng.randbytes(n)
                chunk = bytearray(2 * n)
                chunk[0::2] = picks.translate(lo)
                chunk[1::2] = picks.translate(hi)
                f.write(chunk)
                left -= n
    os.replace(tmp, path)
    return offset


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("config", help="config.json or a model directory")
    p.add_argument("output", nargs="?",
                   help="output file or directory (default: beside config)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--list", action="store_true",
                   help="print each tensor's name and shape; write nothing")
    args = p.parse_args()
    config_path = args.config
    if os.path.isdir(config_path):
        config_path = os.path.join(config_path, "config.json")
    try:
        with open(config_path) as f:
            config = json.load(f)
    except (OSError, json.JSONDecodeError) as e:
        sys.exit(f"make_weights: error: cannot read '{config_path}': {e}")
    output = args.output or os.path.dirname(os.path.abspath(config_path))
    if os.path.isdir(output):
        output = os.path.join(output, "model.safetensors")
    specs = tensors(config)
    if args.list:
        for name, shape, _ in specs:
            print(name, "x".join(map(str, shape)))
        return
    size = write(output, specs, args.seed)
    print(f"wrote {output}: {len(specs)} tensors, {size} bytes of bf16")


if __name__ == "__main__":
    main()
