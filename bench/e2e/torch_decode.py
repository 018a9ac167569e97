#!/usr/bin/env python3
"""Torch decode baselines on a Llama-3-8B-shaped model with random weights.

Measures ms per decode step at context 512 for several batch sizes with
(a) torch.compile over a static KV cache and (b) eager + one captured CUDA
graph, and the device copy bandwidth in the same run. Writes a JSON summary.

  python3 bench/e2e/torch_decode.py --json out.json [--batches 1,16,64,128]
      [--model-dir DIR]

--model-dir loads a saved checkpoint (bench/decode.sh passes the weights
infer-run uses) instead of building a random Llama-3-8B-shaped model.
"""
import argparse
import json
import time

import torch


def copy_bandwidth():
    n = 1 << 30
    src = torch.empty(n, dtype=torch.uint8, device="cuda")
    dst = torch.empty_like(src)
    for _ in range(3):
        dst.copy_(src)
    torch.cuda.synchronize()
    start, end = torch.cuda.Event(True), torch.cuda.Event(True)
    times = []
    for _ in range(20):
        start.record()
        dst.copy_(src)
        end.record()
        end.synchronize()
        times.append(start.elapsed_time(end))
    times.sort()
    return 2 * n / (times[len(times) // 2] * 1e-3) / 1e12


def llama3_8b_config(layers):
    from transformers import LlamaConfig
    return LlamaConfig(vocab_size=128256, hidden_size=4096,
                       intermediate_size=14336, num_hidden_layers=layers,
                       num_attention_heads=32, num_key_value_heads=8,
                       max_position_embeddings=8192, rope_theta=500000.0,
                       rms_norm_eps=1e-5, torch_dtype="bfloat16",
                       rope_scaling={"rope_type": "llama3", "factor": 8.0,
                                     "low_freq_factor": 1.0,
                                     "high_freq_factor": 4.0,
                                     "original_max_position_embeddings": 8192})


def build_model(layers, model_dir=None):
    from transformers import LlamaForCausalLM
    if model_dir:
        try:
            model = LlamaForCausalLM.from_pretrained(model_dir,
                                                     dtype=torch.bfloat16)
        except TypeError:  # transformers 4.x
            model = LlamaForCausalLM.from_pretrained(
                model_dir, torch_dtype=torch.bfloat16)
        return model.to("cuda").eval()
    config = llama3_8b_config(layers)
    with torch.device("cuda"):
        model = LlamaForCausalLM(config).to(torch.bfloat16)
    model.eval()
    return model


def weight_bytes(model):
    total = sum(p.numel() * p.element_size() for p in model.parameters())
    # The tied-free lm_head and the embedding are both counted; decode reads
    # one embedding row, so drop the embedding table.
    emb = model.model.embed_tokens.weight
    return total - emb.numel() * emb.element_size()


def median_ms(fn, iters=30):
    for _ in range(5):
        fn()
    torch.cuda.synchronize()
    start, end = torch.cuda.Event(True), torch.cuda.Event(True)
    times = []
    for _ in range(iters):
        start.record()
        fn()
        end.record()
        end.synchronize()
        times.append(start.elapsed_time(end))
    times.sort()
    return times[len(times) // 2]


def make_static_cache(model, batch, max_len):
    from transformers import StaticCache
    try:
        return StaticCache(config=model.config, max_batch_size=batch,
                           max_cache_len=max_len, device="cuda",
                           dtype=torch.bfloat16)
    except TypeError:
        return StaticCache(config=model.config, max_cache_len=max_len)


def decode_step_fn(model, batch, context, compiled):
    cache = make_static_cache(model, batch, context + 64)
    prompt = torch.randint(0, model.config.vocab_size, (batch, context),
                           device="cuda")
    with torch.no_grad():
        pos = torch.arange(context, device="cuda")
        model(input_ids=prompt, past_key_values=cache, cache_position=pos,
              use_cache=True)
    token = torch.randint(0, model.config.vocab_size, (batch, 1), device="cuda")
    position = torch.tensor([context], device="cuda")
    fwd = model.forward
    if compiled:
        fwd = torch.compile(model.forward, mode="reduce-overhead",
                            fullgraph=True)

    def step():
        # Re-writes the same cache slot each time: a steady-state step.
        with torch.no_grad():
            return fwd(input_ids=token, past_key_values=cache,
                       cache_position=position, use_cache=True).logits

    if compiled:
        return step
    step()
    graph = torch.cuda.CUDAGraph()
    stream = torch.cuda.Stream()
    stream.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(stream):
        step()
    torch.cuda.current_stream().wait_stream(stream)
    with torch.cuda.graph(graph):
        step()
    return graph.replay


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--json", default=None)
    parser.add_argument("--batches", default="1,16,64,128")
    parser.add_argument("--context", type=int, default=512)
    parser.add_argument("--layers", type=int, default=32)
    parser.add_argument("--modes", default="compile,graph")
    parser.add_argument("--model-dir", default=None,
                        help="load this checkpoint (default: random weights)")
    args = parser.parse_args()
    torch.manual_seed(0)
    copy = copy_bandwidth()
    model = build_model(args.layers, args.model_dir)
    args.layers = model.config.num_hidden_layers
    kv_heads = model.config.num_key_value_heads
    head_dim = getattr(model.config, "head_dim", None) or (
        model.config.hidden_size // model.config.num_attention_heads)
    wbytes = weight_bytes(model)
    results = {"copy_TBps": copy, "weight_bytes": wbytes,
               "context": args.context, "layers": args.layers}
    kv_per_token = 2 * args.layers * kv_heads * head_dim * 2
    if args.model_dir:
        results["model_dir"] = args.model_dir
    for mode in args.modes.split(","):
        for b in [int(x) for x in args.batches.split(",")]:
            try:
                fn = decode_step_fn(model, b, args.context, mode == "compile")
                ms = median_ms(fn)
            except Exception as e:  # report, keep measuring the rest
                print(f"torch {mode} B={b}: failed: {type(e).__name__}: {e}")
                continue
            floor_ms = (wbytes + b * args.context * kv_per_token) / (
                copy * 1e12) * 1e3
            results[f"torch_{mode}_b{b}_ms"] = ms
            if args.json:  # partial results survive a later failure
                with open(args.json, "w") as f:
                    json.dump(results, f, indent=1)
            print(f"torch {mode:7s} B={b:3d}: {ms:7.3f} ms/step "
                  f"({b / ms * 1e3:8.0f} tok/s), floor {floor_ms:.3f} ms, "
                  f"{floor_ms / ms * 100:5.1f}% of roofline")
            torch._dynamo.reset()
    print(f"copy bandwidth {copy:.3f} TB/s")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=1)


if __name__ == "__main__":
    main()
