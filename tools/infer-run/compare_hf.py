#!/usr/bin/env python3
"""Checks infer-run against Hugging Face transformers (needs torch, a GPU).

  compare_hf.py INFER_RUN MODEL_DIR... [--tokens N] [--device cpu|cuda]

Each MODEL_DIR holds config.json, the safetensors and model.art (from
infer-compile). Runs a 91-token prompt greedily through infer-run and through
transformers (eager and sdpa attention, bf16), and prints whether the greedy
tokens are identical and how far the logits are apart.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

import numpy as np
import torch
from transformers import AutoModelForCausalLM


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("infer_run")
    ap.add_argument("models", nargs="+")
    ap.add_argument("--tokens", type=int, default=24)
    ap.add_argument("--device", default="cpu")
    args = ap.parse_args()
    n = args.tokens
    failed = False
    for d in args.models:
        vocab = json.load(open(os.path.join(d, "config.json")))["vocab_size"]
        prompt = [1] + [(i * 37 + 11) % (vocab - 12) + 3 for i in range(90)]
        dump = os.path.join(tempfile.mkdtemp(), "logits.bin")
        r = subprocess.run(
            [args.infer_run, os.path.join(d, "model.art"), "--weights", d,
             "--device", args.device, "--prompt-ids",
             ",".join(map(str, prompt)), "--max-tokens", str(n),
             "--ignore-eos", "--dump-logits", dump],
            capture_output=True, text=True)
        if r.returncode:
            print(d, "infer-run failed:", r.stderr.strip())
            failed = True
            continue
        ours = [int(x) for x in r.stdout.strip().split(",")]
        got = np.fromfile(dump, dtype=np.float32).reshape(-1, vocab)
        for attn in ["eager", "sdpa"]:
            model = AutoModelForCausalLM.from_pretrained(
                d, dtype=torch.bfloat16,
                attn_implementation=attn).cuda().eval()
            with torch.no_grad():
                ids = torch.tensor([prompt + ours], device="cuda")
                ref = model(ids).logits[0].float().cpu().numpy()
                ref = ref[len(prompt) - 1:len(prompt) - 1 + n]
                gen = model.generate(
                    torch.tensor([prompt], device="cuda"), max_new_tokens=n,
                    min_new_tokens=n, do_sample=False, top_k=None,
                    top_p=None, temperature=None)[0, len(prompt):].tolist()
            diff = np.abs(ref - got)
            same = gen == ours
            failed |= not same
            print(f"{os.path.basename(d.rstrip('/')):10s} {attn:5s} "
                  f"greedy-identical={same} max|dlogit|={diff.max():.4f} "
                  f"mean|dlogit|={diff.mean():.5f} "
                  f"max|logit|={np.abs(ref).max():.3f}")
            if not same:
                print("  infer-run", ours, "\n  hf       ", gen)
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
