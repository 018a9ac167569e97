#!/usr/bin/env python3
"""End-to-end correctness of infer against Hugging Face transformers.

Runs on the device machine (torch + transformers, a GPU, no MLIR). The case
directories (config.json + model.art) are made here by bench/e2e/prepare.sh
and carried; the weights are generated on the device (hf_weights.py: seeded
random bf16, save_pretrained) into WORK/<case>.

  python3 bench/e2e/hf_check.py [--cases-dir bench/e2e/cases]
      [--cases tiny-llama,...] [--infer-run PATH] [--device cuda]
      [--tokens 256] [--prompts 3] [--json PATH] [--work /tmp/infer-e2e]
      [--budget SECONDS] [--no-control] [--dry-run]

For every case:
  (a) greedy: each prompt alone through `infer-run --prompt-ids`, N new
      tokens (--ignore-eos), against a greedy loop over the HF model (eager
      attention, bf16: argmax of the f32 copy of HF's bf16 logits, as
      generate() does): tokens identical;
  (b) first-step logits: ||ours - ref|| / ||ref|| < 1e-2 (every prompt);
  (c) a trace of mixed prompt lengths (staggered arrivals, a small token
      budget so that prefill is chunked and mixed with decodes) through
      `infer-run --trace --trace-output`: every request identical to HF;
  (d) shared-prefix prompts with --prefix-caching on: identical to HF, and
      the cache is hit (num_cached_prompt_tokens > 0 somewhere).
  control: HF sdpa against HF eager on the (a) prompts (the noise floor of
      the reference itself; --no-control skips it): greedy tokens, and the
      first-step logits of sdpa against eager and of ours against sdpa
      (transformers' default attention): `logits_rel_err_sdpa_vs_eager_max`,
      `logits_rel_err_vs_sdpa_max`.
Every divergence is reported with the top-2 gap of HF's logits (and ours in
(a)) at that step: a gap within one bf16 ulp is a rounding tie, not a bug.

The JSON summary (--json, else $INFER_BENCH_JSON, else $OUT/hf_check.json,
else ./hf_check.json) is rewritten after every case, so a run cut short
still leaves its results; `greedy_identical_all` is true only if every
checked case matched everywhere. Cases of earlier calls on the same machine
(WORK/hf_check.json) are kept, so the tiny cases and the 8B one may run in
two device calls and the second JSON holds both (--fresh forgets them).
Weights stay in WORK/<case> and are reused (bench/decode.sh reuses the 8B
ones). A table is printed last.
"""
import argparse
import array
import json
import math
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
LOGIT_TOL = 1e-2


def read_art_header(path):
    with open(path, "rb") as f:
        head = f.read(24)
        if len(head) < 24 or head[:8] != b"INFERART":
            raise ValueError(f"{path}: not an infer artifact")
        n = struct.unpack("<Q", head[16:24])[0]
        return json.loads(f.read(n))


def lcg_tokens(n, vocab, seed):
    """Deterministic pseudo-random ids in [3, vocab)."""
    out, x = [], seed * 2654435761 + 12345
    for _ in range(n):
        x = (x * 6364136223846793005 + 1442695040888963407) % (1 << 64)
        out.append(3 + (x >> 33) % max(1, vocab - 3))
    return out


def make_prompts(config, count, max_len):
    """(a): lengths 1, 17, 91, 200, 5, 64, ... clipped to max_len."""
    vocab = config["vocab_size"]
    bos = config.get("bos_token_id")
    bos = bos if isinstance(bos, int) else None
    lens = [1, 17, 91, 200, 5, 64, 130, 33]
    prompts = []
    for i in range(count):
        n = max(1, min(lens[i % len(lens)], max_len))
        body = lcg_tokens(n, vocab, 100 + i)
        if bos is not None:
            body = [bos] + body[:-1] if n > 1 else [bos]
        prompts.append(body)
    return prompts


def make_mixed_trace(config, tokens, max_len):
    """(c): mixed lengths, half at t=0 and half arriving while they run."""
    vocab = config["vocab_size"]
    lens = [3, 150, 16, 47, 1, 90, 31, 17]
    reqs = []
    for i, n in enumerate(lens):
        n = max(1, min(n, max_len))
        reqs.append({"id": i, "prompt_ids": lcg_tokens(n, vocab, 500 + i),
                     "max_tokens": tokens, "arrival_s": 0.0 if i % 2 == 0
                     else 0.002 * i, "temperature": 0.0})
    return reqs


def make_prefix_trace(config, tokens, max_len):
    """(d): a 40-token shared prefix (two full blocks and a partial one),
    suffixes of several lengths, one prompt equal to the prefix, one to a
    block boundary; later arrivals find the prefix cached."""
    vocab = config["vocab_size"]
    prefix = lcg_tokens(min(40, max_len - 8), vocab, 900)
    suffixes = [[], lcg_tokens(1, vocab, 901), lcg_tokens(9, vocab, 902),
                lcg_tokens(30, vocab, 903), None, lcg_tokens(5, vocab, 905)]
    reqs = []
    for i, s in enumerate(suffixes):
        prompt = prefix[:32] if s is None else prefix + s
        reqs.append({"id": i, "prompt_ids": prompt, "max_tokens": tokens,
                     "arrival_s": 0.0 if i == 0 else 0.05 * i,
                     "temperature": 0.0})
    return reqs


def first_divergence(ref, ours):
    for i, (a, b) in enumerate(zip(ref, ours)):
        if a != b:
            return i
    return None if len(ref) == len(ours) else min(len(ref), len(ours))


def bf16_ulp(x):
    x = abs(x)
    if x == 0:
        return 2.0 ** -133
    return 2.0 ** (math.floor(math.log2(x)) - 7)


class Summary:
    def __init__(self, path, args, state=None):
        self.path, self.state = path, state
        self.data = {"tool": "bench/e2e/hf_check.py",
                     "started": time.strftime("%Y-%m-%dT%H:%M:%SZ",
                                              time.gmtime()),
                     "device": args.device, "tokens": args.tokens,
                     "logit_rel_err_tol": LOGIT_TOL, "cases": {},
                     "greedy_identical_all": False}
        # Cases of earlier calls (one device call may not fit them all).
        if state and os.path.exists(state):
            try:
                with open(state) as f:
                    old = json.load(f)
                if old.get("tokens") == args.tokens and old.get(
                        "device") == args.device:
                    self.data["cases"] = old.get("cases", {})
            except (OSError, ValueError):
                pass

    def case(self, name, result):
        self.data["cases"][name] = result
        checked = [c for c in self.data["cases"].values()
                   if c.get("status") != "skipped"]
        self.data["greedy_identical_all"] = bool(checked) and all(
            c.get("greedy_identical") is True for c in checked) and all(
            c.get("status") == "ok" for c in checked)
        self.data["logits_ok_all"] = bool(checked) and all(
            c.get("logits_ok") is True for c in checked)
        self.write()

    def write(self):
        for path in (self.path, self.state):
            if not path:
                continue
            os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
            tmp = path + ".tmp"
            with open(tmp, "w") as f:
                json.dump(self.data, f, indent=1)
            os.replace(tmp, path)


class LogitsFile:
    """Rows of an infer-run --dump-logits file (f32, vocab wide), read on
    demand."""

    def __init__(self, path, vocab):
        self.path, self.vocab = path, vocab
        self.rows = os.path.getsize(path) // (4 * vocab)

    def __len__(self):
        return self.rows

    def row(self, i):
        a = array.array("f")
        with open(self.path, "rb") as f:
            f.seek(4 * self.vocab * i)
            a.fromfile(f, self.vocab)
        if sys.byteorder != "little":
            a.byteswap()
        return a


class TorchRows:
    """Rows of a [n, V] torch tensor (HF's bf16 logits), as f32 lists."""

    def __init__(self, t):
        self.t = t

    def __len__(self):
        return self.t.shape[0]

    def row(self, i):
        return self.t[i].float().tolist()


def rel_err(ours, ref):
    num = math.sqrt(sum((a - b) ** 2 for a, b in zip(ours, ref)))
    den = math.sqrt(sum(b * b for b in ref))
    return num / max(den, 1e-30)


class Checker:
    """One case on the device. The reference is HF transformers (default) or
    `infer-run --device cpu` (--reference cpu: the CPU oracle; no torch)."""

    def __init__(self, args, name, case_dir, weights_dir, tmp):
        self.args, self.name = args, name
        self.case_dir, self.weights = case_dir, weights_dir
        self.tmp = tmp
        with open(os.path.join(case_dir, "config.json")) as f:
            self.config = json.load(f)
        self.art = os.path.join(case_dir, "model.art")
        self.vocab = self.config["vocab_size"]
        self.models = {}
        self.ref_cache = {}
        self.first_rows = {}  # prompt -> our first-step logits
        self.dumps = 0

    # ---- HF side -----------------------------------------------------------
    def hf(self, attn="eager"):
        if attn not in self.models:
            import torch
            from transformers import AutoModelForCausalLM
            kw = dict(attn_implementation=attn)
            try:
                m = AutoModelForCausalLM.from_pretrained(
                    self.weights, dtype=torch.bfloat16, **kw)
            except TypeError:
                m = AutoModelForCausalLM.from_pretrained(
                    self.weights, torch_dtype=torch.bfloat16, **kw)
            self.models[attn] = m.to("cuda").eval()
        return self.models[attn]

    def drop(self, attn):
        import torch
        self.models.pop(attn, None)
        torch.cuda.empty_cache()

    def reference(self, prompt, n, attn="eager"):
        """(tokens, rows) of the reference's greedy continuation."""
        key = (tuple(prompt), n, attn)
        if key not in self.ref_cache:
            if self.args.reference == "cpu":
                self.ref_cache[key] = self.run_alone(prompt, n, "cpu")
            else:
                self.ref_cache[key] = self.hf_greedy(prompt, n, attn)
        return self.ref_cache[key]

    def hf_greedy(self, prompt, n, attn):
        """HF's greedy loop: argmax of the f32 copy of its bf16 logits (as
        generate() does), no logits processors (EOS is not special)."""
        import torch
        model = self.hf(attn)
        toks, rows = [], []
        with torch.inference_mode():
            ids = torch.tensor([prompt], device="cuda")
            out = model(input_ids=ids, use_cache=True)
            for i in range(n):
                logits = out.logits[:, -1, :]  # bf16, as HF computes it
                rows.append(logits[0].to("cpu"))
                tok = int(torch.argmax(logits.float(), dim=-1)[0])
                toks.append(tok)
                if i + 1 < n:
                    out = model(input_ids=torch.tensor([[tok]], device="cuda"),
                                past_key_values=out.past_key_values,
                                use_cache=True)
        return toks, TorchRows(torch.stack(rows))

    # ---- infer side --------------------------------------------------------
    def infer_run(self, extra, label, device=None):
        cmd = [self.args.infer_run, self.art, "--weights", self.weights,
               "--device", device or self.args.device] + extra
        t0 = time.time()
        r = subprocess.run(cmd, capture_output=True, text=True)
        if r.returncode:
            raise RuntimeError(f"infer-run ({label}) exited {r.returncode}: "
                               f"{r.stderr.strip()[-800:]}")
        return r.stdout, time.time() - t0

    def run_alone(self, prompt, n, device=None):
        """(tokens, LogitsFile) of one prompt alone through infer-run."""
        self.dumps += 1
        dump = os.path.join(self.tmp, f"{self.name}-{self.dumps}.logits")
        out, secs = self.infer_run(
            ["--prompt-ids", ",".join(map(str, prompt)), "--max-tokens",
             str(n), "--ignore-eos", "--dump-logits", dump],
            f"prompt of {len(prompt)} tokens", device)
        toks = [int(x) for x in out.strip().split(",") if x]
        return toks, LogitsFile(dump, self.vocab)

    # ---- comparisons -------------------------------------------------------
    def divergence(self, ref_toks, ref_rows, ours, ours_rows=None):
        i = first_divergence(ref_toks, ours)
        if i is None:
            return None
        d = {"index": i}
        if i < len(ref_toks) and i < len(ours):
            h, o = ref_toks[i], ours[i]
            row = ref_rows.row(i)
            d.update(ref_token=h, ours_token=o,
                     ref_gap=float(row[h] - row[o]),
                     ref_ulp=bf16_ulp(float(row[h])))
            d["bf16_tie"] = d["ref_gap"] <= d["ref_ulp"]
            if ours_rows is not None and i < len(ours_rows):
                orow = ours_rows.row(i)
                d["ours_gap"] = float(orow[o] - orow[h])
        else:
            d["length"] = [len(ref_toks), len(ours)]
        return d

    def check_single(self, prompts, res):
        n = self.args.tokens
        rows = []
        for prompt in prompts:
            t0 = time.time()
            ours, got = self.run_alone(prompt, n)
            secs = time.time() - t0
            ref, ref_rows = self.reference(prompt, n)
            ref0 = ref_rows.row(0)
            self.first_rows[tuple(prompt)] = got.row(0)
            div = self.divergence(ref, ref_rows, ours, got)
            rows.append({"prompt_len": len(prompt), "identical": div is None,
                         "logits_rel_err": rel_err(got.row(0), ref0),
                         "divergence": div, "infer_run_s": round(secs, 2),
                         "max_abs_logit": max(abs(x) for x in ref0)})
            os.remove(got.path)
        res["single"] = rows
        return all(r["identical"] for r in rows), max(
            r["logits_rel_err"] for r in rows)

    def check_trace(self, reqs, key, res, extra):
        path = os.path.join(self.tmp, f"{self.name}-{key}.jsonl")
        outp = os.path.join(self.tmp, f"{self.name}-{key}.out.jsonl")
        with open(path, "w") as f:
            for r in reqs:
                f.write(json.dumps(r) + "\n")
        _, secs = self.infer_run(["--trace", path, "--trace-output", outp,
                                  "--ignore-eos"] + extra, key)
        with open(outp) as f:
            got = {r["id"]: r for r in map(json.loads, f)}
        rows = []
        for r in reqs:
            ref, ref_rows = self.reference(r["prompt_ids"], r["max_tokens"])
            g = got.get(r["id"])
            ours = g["output_ids"] if g else []
            div = self.divergence(ref, ref_rows, ours)
            rows.append({"id": r["id"], "prompt_len": len(r["prompt_ids"]),
                         "identical": g is not None and div is None,
                         "divergence": div,
                         "cached_prompt_tokens":
                             g.get("num_cached_prompt_tokens") if g else None,
                         "preemptions": g.get("num_preemptions") if g else None,
                         "ttft_s": g.get("ttft_s") if g else None,
                         "tpot_s": g.get("tpot_s") if g else None})
        res[key] = {"requests": rows, "infer_run_s": round(secs, 2),
                    "args": extra}
        return all(r["identical"] for r in rows), rows

    def control(self, prompts, res):
        n = self.args.tokens
        rows = []
        for prompt in prompts:
            a, a_rows = self.reference(prompt, n, "eager")
            b, b_rows = self.reference(prompt, n, "sdpa")
            div = self.divergence(b, b_rows, a)
            row = {"prompt_len": len(prompt), "identical": div is None,
                   "divergence": div,
                   # First-step logits: HF's two attention paths against
                   # each other (the reference's own noise), and ours
                   # against HF's default (sdpa).
                   "logits_rel_err_sdpa_vs_eager":
                       rel_err(b_rows.row(0), a_rows.row(0))}
            ours = self.first_rows.get(tuple(prompt))
            if ours is not None:
                row["logits_rel_err_ours_vs_sdpa"] = rel_err(ours,
                                                             b_rows.row(0))
            rows.append(row)
        self.drop("sdpa")
        res["control_sdpa_vs_eager"] = rows
        vs = [r["logits_rel_err_ours_vs_sdpa"] for r in rows
              if "logits_rel_err_ours_vs_sdpa" in r]
        if vs:
            res["logits_rel_err_vs_sdpa_max"] = max(vs)
        res["logits_rel_err_sdpa_vs_eager_max"] = max(
            r["logits_rel_err_sdpa_vs_eager"] for r in rows)
        return all(r["identical"] for r in rows)

    def cleanup(self):
        for _, rows in self.ref_cache.values():
            if isinstance(rows, LogitsFile) and os.path.exists(rows.path):
                os.remove(rows.path)
        self.ref_cache.clear()
        self.models.clear()

    def run(self, res):
        a = self.args
        max_len = min(self.config.get("max_position_embeddings", 4096),
                      4096) - a.tokens - 1
        if max_len < 2:
            raise RuntimeError(f"max_position_embeddings leaves no room for "
                               f"{a.tokens} new tokens")
        res["reference"] = ("hf-eager-bf16" if a.reference == "hf" else
                            "infer-run --device cpu")
        prompts = make_prompts(self.config, a.prompts, max_len)
        same, rel = self.check_single(prompts, res)
        res["single_identical"] = same
        res["logits_rel_err_max"] = rel
        res["logits_ok"] = rel < LOGIT_TOL
        mixed_ok, _ = self.check_trace(
            make_mixed_trace(self.config, a.tokens, max_len), "mixed", res,
            ["--max-batched-tokens", str(a.max_batched_tokens),
             "--prefix-caching", "off"])
        res["mixed_identical"] = mixed_ok
        prefix_ok, rows = self.check_trace(
            make_prefix_trace(self.config, a.tokens, max_len), "prefix", res,
            ["--max-batched-tokens", str(a.max_batched_tokens),
             "--prefix-caching", "on"])
        hits = sum(r["cached_prompt_tokens"] or 0 for r in rows)
        res["prefix_identical"] = prefix_ok
        res["prefix_cache_hit_tokens"] = hits
        res["greedy_identical"] = same and mixed_ok and prefix_ok
        if not a.no_control and a.reference == "hf":
            res["control_identical"] = self.control(prompts, res)
        divs = [r["divergence"] for r in res.get("single", [])
                if r["divergence"]]
        for part in ("mixed", "prefix"):
            divs += [r["divergence"] for r in res.get(part, {}).get(
                "requests", []) if r["divergence"]]
        res["divergences"] = len(divs)
        res["divergences_all_bf16_ties"] = bool(divs) and all(
            d.get("bf16_tie") for d in divs)
        res["status"] = "ok"


def plan_case(case_dir, args):
    """Checks a case directory; returns (config, header) or raises."""
    cfg_path = os.path.join(case_dir, "config.json")
    art = os.path.join(case_dir, "model.art")
    if not os.path.isfile(cfg_path):
        raise ValueError(f"{case_dir}: no config.json (run bench/e2e/"
                         f"prepare.sh here and carry bench/e2e/cases)")
    if not os.path.isfile(art):
        raise ValueError(f"{case_dir}: no model.art (run bench/e2e/"
                         f"prepare.sh here and carry bench/e2e/cases)")
    with open(cfg_path) as f:
        config = json.load(f)
    header = read_art_header(art)
    if header["model"]["vocab_size"] != config["vocab_size"]:
        raise ValueError(f"{art}: vocab_size {header['model']['vocab_size']}"
                         f" does not match config.json's "
                         f"{config['vocab_size']}: recompile")
    if args.device == "cuda" and not header.get("kernels"):
        raise ValueError(f"{art}: compiled without kernels (target cpu); "
                         f"--device cuda needs `prepare.sh` with a cuda "
                         f"target")
    return config, header


def print_table(summary):
    print("")
    print("=================== hf_check summary ===================")
    print(f"{'case':16s} {'status':8s} {'single':7s} {'mixed':6s} "
          f"{'prefix':7s} {'hits':>5s} {'rel err':>9s} {'vs sdpa':>9s} "
          f"{'hf noise':>9s} {'ctrl':5s} {'divs':>4s} {'ties':5s}")
    yn = {True: "yes", False: "NO", None: "-"}
    for name, c in summary.data["cases"].items():
        rel = c.get("logits_rel_err_max")

        def num(key):
            v = c.get(key)
            return "-" if v is None else format(v, ".2e")
        print(f"{name:16s} {c.get('status', '?')[:8]:8s} "
              f"{yn[c.get('single_identical')]:7s} "
              f"{yn[c.get('mixed_identical')]:6s} "
              f"{yn[c.get('prefix_identical')]:7s} "
              f"{c.get('prefix_cache_hit_tokens', '-')!s:>5s} "
              f"{'-' if rel is None else format(rel, '.2e'):>9s} "
              f"{num('logits_rel_err_vs_sdpa_max'):>9s} "
              f"{num('logits_rel_err_sdpa_vs_eager_max'):>9s} "
              f"{yn[c.get('control_identical')]:5s} "
              f"{c.get('divergences', '-')!s:>4s} "
              f"{yn[c.get('divergences_all_bf16_ties') if c.get('divergences') else None]:5s}")
        if c.get("error"):
            print(f"  error: {c['error'][:300]}")
    print(f"greedy_identical_all: {summary.data['greedy_identical_all']}   "
          f"logits_ok_all: {summary.data.get('logits_ok_all')}   "
          f"(json: {summary.path})")


def main():
    ap = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=__doc__.split("\n\n", 1)[1])
    ap.add_argument("--cases-dir", default=os.path.join(HERE, "cases"))
    ap.add_argument("--cases", default="",
                    help="comma-separated case names (default: all in "
                         "--cases-dir, the 8B one last)")
    ap.add_argument("--infer-run", default=None,
                    help="default: CASES_DIR/bin/infer-run, then "
                         "build*/bin/infer-run")
    ap.add_argument("--device", default="cuda", choices=["cuda", "cpu"])
    ap.add_argument("--tokens", type=int, default=256)
    ap.add_argument("--prompts", type=int, default=3)
    ap.add_argument("--max-batched-tokens", type=int, default=64,
                    help="token budget of the trace runs (small: chunked "
                         "prefill mixed with decodes)")
    ap.add_argument("--json", default=None)
    ap.add_argument("--work", default="/tmp/infer-e2e",
                    help="where the weights are generated (reused)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--init-std", default="auto")
    ap.add_argument("--lm-head-scale", type=float, default=4.0)
    ap.add_argument("--budget", type=float, default=0,
                    help="seconds; start no case after this (0: no limit)")
    ap.add_argument("--no-control", action="store_true")
    ap.add_argument("--reference", default="hf", choices=["hf", "cpu"],
                    help="hf: transformers (needs torch); cpu: infer-run "
                         "--device cpu alone per prompt (the CPU oracle; "
                         "tiny cases only: slow for 8B)")
    ap.add_argument("--weights-from", default=None,
                    help="with --reference cpu and no torch: a script "
                         "writing CASE weights, called as SCRIPT CONFIG "
                         "OUT_DIR (e.g. examples/tiny-llama/make_weights.py)")
    ap.add_argument("--fresh", action="store_true",
                    help="forget the cases of earlier calls (WORK/"
                         "hf_check.json)")
    ap.add_argument("--dry-run", action="store_true",
                    help="check the cases and print the plan; no torch")
    args = ap.parse_args()
    if args.tokens < 1 or args.prompts < 1:
        ap.error("--tokens and --prompts must be >= 1")

    json_path = args.json or os.environ.get("INFER_BENCH_JSON") or (
        os.path.join(os.environ["OUT"], "hf_check.json")
        if os.environ.get("OUT") else "hf_check.json")
    if not os.path.isdir(args.cases_dir):
        sys.exit(f"hf_check: error: no cases directory '{args.cases_dir}': "
                 f"run `bash bench/e2e/prepare.sh` here and carry "
                 f"bench/e2e/cases")
    names = [n for n in args.cases.split(",") if n] or sorted(
        (d for d in os.listdir(args.cases_dir)
         if os.path.isfile(os.path.join(args.cases_dir, d, "config.json"))),
        key=lambda d: (json.load(open(os.path.join(
            args.cases_dir, d, "config.json")))["hidden_size"], d))
    if not names:
        sys.exit(f"hf_check: error: no case in '{args.cases_dir}'")
    if args.infer_run is None:
        for c in [os.path.join(args.cases_dir, "bin", "infer-run"),
                  os.path.join(REPO, "build-e2e", "bin", "infer-run"),
                  os.path.join(REPO, "build", "bin", "infer-run")]:
            if os.access(c, os.X_OK):
                args.infer_run = c
                break
    if not args.infer_run or not os.access(args.infer_run, os.X_OK):
        sys.exit("hf_check: error: no infer-run binary (pass --infer-run; "
                 "prepare.sh copies one into CASES_DIR/bin)")

    state = None if args.dry_run else os.path.join(args.work,
                                                   "hf_check.json")
    if state and args.fresh and os.path.exists(state):
        os.remove(state)
    summary = Summary(json_path, args, state)
    summary.data["infer_run"] = args.infer_run
    summary.data["weights_recipe"] = {"seed": args.seed,
                                      "init_std": args.init_std,
                                      "lm_head_scale": args.lm_head_scale}
    planned = []
    for name in names:
        case_dir = os.path.join(args.cases_dir, name)
        try:
            config, header = plan_case(case_dir, args)
            planned.append((name, case_dir, config))
        except (ValueError, OSError, KeyError) as e:
            summary.case(name, {"status": "error", "error": str(e)})

    if args.dry_run:
        for name, case_dir, config in planned:
            max_len = min(config.get("max_position_embeddings", 4096),
                          4096) - args.tokens - 1
            p = make_prompts(config, args.prompts, max_len)
            m = make_mixed_trace(config, args.tokens, max_len)
            x = make_prefix_trace(config, args.tokens, max_len)
            print(f"{name}: {config.get('architectures', ['?'])[0]}, "
                  f"hidden {config['hidden_size']}, "
                  f"{config['num_hidden_layers']} layers, weights -> "
                  f"{os.path.join(args.work, name)}")
            print(f"  (a,b) {len(p)} prompts of lengths "
                  f"{[len(q) for q in p]}, {args.tokens} tokens each")
            print(f"  (c) mixed trace: lengths {[len(r['prompt_ids']) for r in m]}")
            print(f"  (d) prefix trace: lengths "
                  f"{[len(r['prompt_ids']) for r in x]}")
            summary.case(name, {"status": "skipped", "reason": "dry run",
                                "prompt_lengths": [len(q) for q in p]})
        summary.data["dry_run"] = True
        summary.write()
        print_table(summary)
        return 0

    have_torch = True
    try:
        import torch  # noqa: F401
    except ImportError:
        have_torch = False
    if not have_torch and (args.reference == "hf" or not args.weights_from):
        sys.exit("hf_check: error: torch is not installed (this runs on the "
                 "device machine; here use --dry-run, or --reference cpu "
                 "--device cpu --weights-from examples/tiny-llama/"
                 "make_weights.py)")
    sys.path.insert(0, HERE)
    import hf_weights

    t_start = time.time()
    tmp = tempfile.mkdtemp(prefix="hf_check-")
    for name, case_dir, config in planned:
        if args.budget and time.time() - t_start > args.budget:
            summary.case(name, {"status": "skipped",
                                "reason": f"budget {args.budget} s spent"})
            continue
        res = {"status": "running"}
        t0 = time.time()
        weights = os.path.join(args.work, name)
        try:
            print(f"== {name}", flush=True)
            if args.weights_from:
                os.makedirs(weights, exist_ok=True)
                subprocess.run([sys.executable, args.weights_from,
                                os.path.join(case_dir, "config.json"),
                                weights, "--seed", str(args.seed)],
                               check=True, capture_output=True)
                res["weights"] = {"script": args.weights_from,
                                  "seed": args.seed}
            else:
                res["weights"] = hf_weights.make(
                    case_dir, weights, args.seed, args.init_std,
                    args.lm_head_scale)
            checker = Checker(args, name, case_dir, weights, tmp)
            try:
                checker.run(res)
            finally:
                checker.cleanup()
        except Exception as e:  # report, go on with the next case
            res["status"] = "error"
            res["error"] = f"{type(e).__name__}: {e}"
            print(f"  {name}: {res['error']}", flush=True)
        finally:
            import gc
            gc.collect()
            if have_torch:
                import torch
                torch.cuda.empty_cache()
        res["seconds"] = round(time.time() - t0, 1)
        summary.case(name, res)
    shutil.rmtree(tmp, ignore_errors=True)
    print_table(summary)
    return 0 if summary.data["greedy_identical_all"] else 1


if __name__ == "__main__":
    sys.exit(main())
