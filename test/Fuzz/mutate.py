#!/usr/bin/env python3
"""Mutation fuzzer for infer-opt's decode dialect parser and verifiers.

Usage: mutate.py INFER_OPT FILE... [-n N] [--seed S] [--timeout T]
                 [--opt-args ARGS] [--save-dir DIR]

For every input file, makes N mutants (each one to three stacked mutations
drawn from: truncate, delete an SSA name, swap a type, change a number,
delete a line, duplicate a line, flip a byte, rename an op) and runs
`INFER_OPT [ARGS] mutant`. Each run must
  - finish within the timeout,
  - exit with 0 or 1 (a signal, an abort or any other code is a crash),
  - print an `error:` diagnostic when it exits with 1,
  - when it exits with 0, print IR that infer-opt parses again.
Failing mutants are written to --save-dir (if given) and summarized; the
script exits with 1 if any run failed. Only the Python standard library is
used; the same seed gives the same mutants.
"""

import argparse
import os
import random
import re
import shlex
import subprocess
import sys
import tempfile

SSA_NAME = re.compile(rb"%[A-Za-z0-9_.$#-]+")
NUMBER = re.compile(rb"(?<![A-Za-z_%#])-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?")
TENSOR = re.compile(rb"tensor<([^<>]*)>")
ELEMENT = re.compile(rb"\b(bf16|f16|f32|f64|i1|i8|i32|i64|f8E4M3FN|f8E5M2|index)\b")
OP_NAME = re.compile(rb"\bdecode\.[a-z_]+\b")
ATTR_NAMES = [b"layer", b"num_heads", b"head_dim", b"theta", b"scale",
              b"epsilon", b"norm_epsilon", b"offset", b"sliding_window",
              b"split_kv", b"variants", b"scaling", b"kind", b"factor",
              b"layers", b"kv_heads", b"block_size", b"dtype", b"max_tokens",
              b"k_split"]
ATTR_NAME = re.compile(rb"\b(" + b"|".join(ATTR_NAMES) + rb")\b")

ELEMENT_TYPES = [b"bf16", b"f16", b"f32", b"f64", b"i1", b"i8", b"i32", b"i64",
                 b"f8E4M3FN", b"f8E5M2", b"index", b"complex<f32>",
                 b"vector<4xf32>", b"!decode.kv_cache<layers = 1, kv_heads = 1,"
                 b" head_dim = 8, block_size = 1, dtype = bf16>"]
DECODE_OPS = [b"decode.weight", b"decode.embed", b"decode.rms_norm",
              b"decode.add", b"decode.silu_mul", b"decode.slice",
              b"decode.gather_tokens", b"decode.linear", b"decode.rope",
              b"decode.kv_append", b"decode.rope_append",
              b"decode.paged_attention", b"decode.sample",
              b"decode.spec_accept", b"decode.role", b"decode.launches",
              b"decode.rope_scaling", b"decode.variant", b"decode.kv_cache",
              b"decode.nonexistent"]
NUMBERS = [b"0", b"1", b"-1", b"2", b"3", b"7", b"8", b"15", b"17", b"63",
           b"64", b"65", b"127", b"1024", b"4294967295", b"4294967296",
           b"9223372036854775807", b"-9223372036854775808",
           b"9223372036854775808", b"4611686018427387904",
           b"99999999999999999999999", b"0.0", b"-0.0", b"1.0e+39",
           b"-1.0e-45", b"1.5", b"nan", b"0x7FC00000"]


def pick(rng, regex, data):
    matches = list(regex.finditer(data))
    return rng.choice(matches) if matches else None


def splice(data, match, replacement, group=0):
    return data[:match.start(group)] + replacement + data[match.end(group):]


def truncate(rng, data):
    return data[:rng.randrange(len(data) + 1)]


def delete_ssa_name(rng, data):
    m = pick(rng, SSA_NAME, data)
    return splice(data, m, b"") if m else data


def swap_type(rng, data):
    if rng.random() < 0.5:
        m = pick(rng, ELEMENT, data)
        if m:
            return splice(data, m, rng.choice(ELEMENT_TYPES))
    m = pick(rng, TENSOR, data)
    if not m:
        return data
    parts = m.group(1).split(b"x")
    dims, elem = parts[:-1], parts[-1:]
    choice = rng.randrange(5)
    if choice == 0 and dims:              # drop a dimension: rank - 1
        del dims[rng.randrange(len(dims))]
    elif choice == 1:                     # add a dimension: rank + 1
        dims.insert(rng.randrange(len(dims) + 1),
                    rng.choice([b"?", b"1", b"4", b"256"]))
    elif choice == 2 and dims:            # static <-> dynamic
        i = rng.randrange(len(dims))
        dims[i] = b"7" if dims[i] == b"?" else b"?"
    elif choice == 3:                     # element type
        elem = [rng.choice(ELEMENT_TYPES)]
    else:                                 # rank 0
        dims = []
    return splice(data, m, b"tensor<" + b"x".join(dims + elem) + b">")


def change_number(rng, data):
    m = pick(rng, NUMBER, data)
    if not m:
        return data
    if rng.random() < 0.7:
        new = rng.choice(NUMBERS)
    else:
        new = str(int(m.group(0).split(b".")[0] or 0) +
                  rng.choice([-1, 1, 2])).encode()
    return splice(data, m, new)


def lines_of(data):
    return data.splitlines(keepends=True)


def delete_line(rng, data):
    lines = lines_of(data)
    if lines:
        del lines[rng.randrange(len(lines))]
    return b"".join(lines)


def duplicate_line(rng, data):
    lines = lines_of(data)
    if lines:
        i = rng.randrange(len(lines))
        lines.insert(rng.randrange(len(lines) + 1), lines[i])
    return b"".join(lines)


def flip_byte(rng, data):
    if not data:
        return data
    i = rng.randrange(len(data))
    b = bytearray(data)
    b[i] ^= 1 << rng.randrange(8)
    return bytes(b)


def rename(rng, data):
    """Renames an op (or a decode attribute / type mnemonic) or an attribute."""
    if rng.random() < 0.6:
        m = pick(rng, OP_NAME, data)
        return splice(data, m, rng.choice(DECODE_OPS)) if m else data
    m = pick(rng, ATTR_NAME, data)
    if not m:
        return data
    return splice(data, m, rng.choice(ATTR_NAMES))


MUTATIONS = [truncate, delete_ssa_name, swap_type, change_number, delete_line,
             duplicate_line, flip_byte, rename]


def run(cmd, data, timeout):
    with tempfile.NamedTemporaryFile(suffix=".mlir", delete=False) as f:
        f.write(data)
        path = f.name
    try:
        return subprocess.run(cmd + [path], capture_output=True,
                              timeout=timeout)
    finally:
        os.unlink(path)


def check(cmd, data, timeout):
    """Returns ("accepted" | "rejected", None), or (None, what went wrong)."""
    try:
        r = run(cmd, data, timeout)
    except subprocess.TimeoutExpired:
        return None, f"timed out after {timeout} s"
    if r.returncode < 0:
        return None, f"killed by signal {-r.returncode}"
    if r.returncode not in (0, 1):
        return None, f"exit code {r.returncode}"
    if r.returncode == 1:
        if b"error:" not in r.stderr:
            return None, "failed without an error: diagnostic"
        return "rejected", None
    # Valid input: what was printed must parse and verify again.
    try:
        again = run(cmd[:1], r.stdout, timeout)
    except subprocess.TimeoutExpired:
        return None, "re-parsing the output timed out"
    if again.returncode != 0:
        return None, ("the printed output does not parse again: " +
                      again.stderr.decode(errors="replace")[:300])
    return "accepted", None


def main(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("infer_opt")
    p.add_argument("inputs", nargs="+")
    p.add_argument("-n", type=int, default=300, help="mutants per input")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--timeout", type=float, default=20.0)
    p.add_argument("--opt-args", default="",
                   help="extra infer-opt arguments, e.g. '-canonicalize'")
    p.add_argument("--save-dir", help="where failing mutants are written")
    a = p.parse_args(argv)

    cmd = [a.infer_opt] + shlex.split(a.opt_args)
    failures = []
    counts = {"accepted": 0, "rejected": 0}
    for input_path in a.inputs:
        with open(input_path, "rb") as f:
            original = f.read()
        status, problem = check(cmd, original, a.timeout)
        if status != "accepted":
            sys.exit(f"mutate.py: the unmutated {input_path} must be valid: "
                     f"{problem or 'infer-opt rejects it'}")
        # One generator per input, so each input's mutants do not depend on
        # the other inputs.
        rng = random.Random(f"{a.seed}:{os.path.basename(input_path)}")
        for i in range(a.n):
            data = original
            applied = []
            for _ in range(rng.choice([1, 1, 1, 2, 3])):
                mutation = rng.choice(MUTATIONS)
                data = mutation(rng, data)
                applied.append(mutation.__name__)
            status, problem = check(cmd, data, a.timeout)
            if status:
                counts[status] += 1
                continue
            name = f"{os.path.basename(input_path)}.{i}.mlir"
            failures.append((name, "+".join(applied), problem))
            if a.save_dir:
                os.makedirs(a.save_dir, exist_ok=True)
                with open(os.path.join(a.save_dir, name), "wb") as f:
                    f.write(data)
    total = a.n * len(a.inputs)
    print(f"mutate.py: {total} mutants of {len(a.inputs)} inputs: "
          f"{counts['accepted']} accepted, {counts['rejected']} rejected with "
          f"a diagnostic, {len(failures)} failures")
    for name, applied, problem in failures:
        print(f"FAIL {name} ({applied}): {problem}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
