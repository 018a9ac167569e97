#!/usr/bin/env python3
"""First-step logits of infer and of HF bf16, both against HF in float32.

With random weights a bf16 model's logits drift from the float32 model by an
amount set by bf16 rounding; this separates that drift from kernel error:

  logits_vs_fp32.py INFER_RUN CASE_DIR WEIGHTS_DIR [--prompt-lens 1,17,91]
"""
import argparse
import json
import os
import subprocess
import tempfile

import numpy as np
import torch
from transformers import AutoModelForCausalLM


def rel(a, b):
    return float(np.linalg.norm(a - b) / np.linalg.norm(b))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("infer_run")
    ap.add_argument("case")
    ap.add_argument("weights")
    ap.add_argument("--prompt-lens", default="1,17,91")
    ap.add_argument("--json", default=None)
    args = ap.parse_args()
    vocab = json.load(open(os.path.join(args.case, "config.json")))["vocab_size"]
    rng = np.random.default_rng(0)
    prompts = [[1] + rng.integers(3, vocab - 1, n - 1).tolist()
               for n in map(int, args.prompt_lens.split(","))]
    ours = []
    for p in prompts:
        dump = os.path.join(tempfile.mkdtemp(), "logits.bin")
        subprocess.run([args.infer_run, os.path.join(args.case, "model.art"),
                        "--weights", args.weights, "--device", "cuda",
                        "--prompt-ids", ",".join(map(str, p)),
                        "--max-tokens", "1", "--ignore-eos",
                        "--dump-logits", dump], check=True,
                       capture_output=True)
        ours.append(np.fromfile(dump, dtype=np.float32)[:vocab])
    results = []
    refs = {}
    for dtype in (torch.bfloat16, torch.float32):
        model = AutoModelForCausalLM.from_pretrained(
            args.weights, dtype=dtype, attn_implementation="eager").cuda()
        with torch.no_grad():
            refs[dtype] = [model(torch.tensor([p], device="cuda")).logits[
                0, -1].float().cpu().numpy() for p in prompts]
        del model
        torch.cuda.empty_cache()
    for p, o, hb, hf in zip(prompts, ours, refs[torch.bfloat16],
                            refs[torch.float32]):
        r = {"prompt_len": len(p), "infer_vs_fp32": rel(o, hf),
             "hf_bf16_vs_fp32": rel(hb, hf), "infer_vs_hf_bf16": rel(o, hb)}
        results.append(r)
        print(f"prompt {len(p):4d}: infer vs fp32 {r['infer_vs_fp32']:.3e}  "
              f"HF bf16 vs fp32 {r['hf_bf16_vs_fp32']:.3e}  "
              f"infer vs HF bf16 {r['infer_vs_hf_bf16']:.3e}")
    if args.json:
        json.dump(results, open(args.json, "w"), indent=1)


if __name__ == "__main__":
    main()
