#!/usr/bin/env python3
"""Random-weight Hugging Face models for the end-to-end checks (needs torch
and transformers; runs on the device machine).

  hf_weights.py CASE_DIR OUT_DIR [--seed N] [--init-std X|auto]
                [--lm-head-scale S] [--device cuda|cpu]

Builds the model class of CASE_DIR/config.json (LlamaForCausalLM,
MistralForCausalLM, Qwen2ForCausalLM through AutoModelForCausalLM.from_config)
with seeded random weights in bf16 and saves it with
save_pretrained(safe_serialization=True) into OUT_DIR. An existing OUT_DIR
with the same recipe (OUT_DIR/infer_recipe.json) is reused.

Initialization (the choice, and why):
  * every Linear and the embedding ~ N(0, init_std), init_std =
    1/sqrt(hidden_size) by default ("auto": 0.088 for hidden 128, 0.0156 for
    hidden 4096). Each projection's inputs are RMS-normalized, so its outputs
    have about unit variance at every size: attention scores have std ~1
    (neither uniform attention, as with HF's 0.02 on a 128-wide model, nor
    one-hot attention whose bf16-rounded scores would dominate the error), and
    the residual stream carries real signal through every layer.
  * norms = 1 (as HF); biases (Qwen2 q/k/v) ~ N(0, init_std) so they matter.
  * lm_head is multiplied by --lm-head-scale (default 4): logits span about
    +-20 instead of +-5. Note that a scale does not change the relative gaps
    between logits, so it does not remove near-ties under bf16 rounding;
    hf_check.py reports every divergence with both sides' top-2 gap so that
    a bf16 tie is told apart from a kernel bug.
"""
import argparse
import hashlib
import json
import math
import os
import sys
import time

RECIPE = "infer_recipe.json"


def recipe_of(case_dir, seed, init_std, lm_head_scale):
    with open(os.path.join(case_dir, "config.json"), "rb") as f:
        digest = hashlib.sha256(f.read()).hexdigest()
    return {"config_sha256": digest, "seed": seed, "init_std": init_std,
            "lm_head_scale": lm_head_scale, "dtype": "bfloat16"}


def resolve_init_std(case_dir, init_std):
    if init_std not in (None, "auto"):
        return float(init_std)
    with open(os.path.join(case_dir, "config.json")) as f:
        hidden = json.load(f)["hidden_size"]
    return 1.0 / math.sqrt(hidden)


def build(case_dir, seed=0, init_std="auto", lm_head_scale=4.0,
          device="cuda", attn="eager"):
    """The seeded random model of case_dir's config (bf16, eval mode)."""
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM

    std = resolve_init_std(case_dir, init_std)
    config = AutoConfig.from_pretrained(case_dir)
    config.initializer_range = std
    torch.manual_seed(seed)
    with torch.device(device):
        try:
            model = AutoModelForCausalLM.from_config(
                config, dtype=torch.bfloat16, attn_implementation=attn)
        except TypeError:  # transformers 4.x
            model = AutoModelForCausalLM.from_config(
                config, torch_dtype=torch.bfloat16, attn_implementation=attn)
    model = model.to(device=device, dtype=torch.bfloat16).eval()
    gen = torch.Generator(device=device).manual_seed(seed)
    with torch.no_grad():
        # Re-draw explicitly: from_config's init differs across versions
        # (and may skip tensors), the recipe must not.
        for name, p in sorted(model.named_parameters()):
            if name.endswith("norm.weight") or "layernorm" in name:
                p.fill_(1.0)
            else:
                p.copy_(torch.randn(p.shape, generator=gen, device=device,
                                    dtype=torch.float32) * std)
        head = model.get_output_embeddings()
        tied = getattr(config, "tie_word_embeddings", False)
        if head is not None and not tied and lm_head_scale != 1.0:
            head.weight.mul_(lm_head_scale)
    return model


def make(case_dir, out_dir, seed=0, init_std="auto", lm_head_scale=4.0,
         device="cuda"):
    """Saves the model into out_dir unless the same recipe is there."""
    std = resolve_init_std(case_dir, init_std)
    recipe = recipe_of(case_dir, seed, std, lm_head_scale)
    marker = os.path.join(out_dir, RECIPE)
    if os.path.exists(marker):
        try:
            with open(marker) as f:
                if json.load(f) == recipe:
                    print(f"hf_weights: reusing {out_dir}")
                    return recipe
        except (OSError, ValueError):
            pass
    t0 = time.time()
    model = build(case_dir, seed, std, lm_head_scale, device)
    os.makedirs(out_dir, exist_ok=True)
    if os.path.exists(marker):
        os.remove(marker)
    model.save_pretrained(out_dir, safe_serialization=True)
    with open(marker, "w") as f:
        json.dump(recipe, f)
    n = sum(p.numel() for p in model.parameters())
    print(f"hf_weights: saved {n / 1e9:.3f} B parameters to {out_dir} in "
          f"{time.time() - t0:.1f} s (init_std {std:.4g}, lm_head x"
          f"{lm_head_scale}, seed {seed})")
    del model
    return recipe


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("case_dir")
    ap.add_argument("out_dir")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--init-std", default="auto")
    ap.add_argument("--lm-head-scale", type=float, default=4.0)
    ap.add_argument("--device", default="cuda")
    args = ap.parse_args()
    if not os.path.isfile(os.path.join(args.case_dir, "config.json")):
        sys.exit(f"hf_weights: error: no config.json in '{args.case_dir}'")
    make(args.case_dir, args.out_dir, args.seed, args.init_std,
         args.lm_head_scale, args.device)


if __name__ == "__main__":
    main()
