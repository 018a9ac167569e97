#!/usr/bin/env python3
"""Checks and times the compiler's kernels on the GPU (run on the device).

The kernels are compiled HERE by bench/kernels/_prepare.py into
bench/kernels/out/ (kernels.cubin, manifest.json with each case's
`decode.launches`); this script needs only torch and cupy:

  python3 bench/kernels/kernels.py [JSON] [--check-only] [--cases a,b] [--variants t,u]

The tuning variants (bench/kernels/out/kernels_<tag>.cubin) are checked and
timed on the cases they apply to when named with --variants (`--variants
all` for every one); by default only the variants in CHECKED_VARIANTS are
checked (not timed), and `--variants none` skips them too.

For every case it launches the kernels exactly as docs/launch-plan.md says
(grid x grid_scale, block, args resolved to operands/results/workspace/
scalars), with outputs poisoned (NaN, or -7 for tokens) first, and compares
against a float64 (linear, norm) or torch (elementwise) reference, checking
that rows past T stay untouched. Then, unless --check-only, it times the
`bench` cases with CUDA events (weights rotated over > 150 MB, median of 100
single launches, plus 100 back-to-back launches, each timed region queued
behind a spin kernel so that python's launch overhead stays out), and torch
F.linear
(cuBLAS) and a device-to-device copy in the same run. The JSON summary goes
to JSON, $INFER_BENCH_JSON, $OUT/kernels.json or bench/kernels/out/bench.json.
"""
import json
import math
import os
import sys

import cupy as cp
import numpy as np
import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..'))
import gpu_timing  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
OUT_DIR = os.environ.get('INFER_KERNELS_DIR') or os.path.join(HERE, 'out')
DT = {'bf16': torch.bfloat16, 'f32': torch.float32}
L2_BYTES = 50 * 2**20


def ptr(t):
    return np.uint64(t.data_ptr())


_TENSOR_MAPS = {}


def release_tensor_maps():
    """Drops the cached tensor maps and with them the tensors they keep
    alive (every rotated weight copy of a benchmarked case): call between
    cases, or a run over many cases and variants runs out of memory."""
    _TENSOR_MAPS.clear()


def tensor_map(t, rows, cols):
    """Device copy of a CUtensorMap for 2-D bf16/f16 tensor `t`: boxes of
    rows x cols elements, 128-byte swizzle, zero fill (the `tma:` kernel
    argument of docs/launch-plan.md)."""
    import ctypes
    key = (t.data_ptr(), tuple(t.shape), rows, cols)
    if key in _TENSOR_MAPS:
        return _TENSOR_MAPS[key][0]
    lib = ctypes.CDLL('libcuda.so.1')
    fn = lib.cuTensorMapEncodeTiled
    fn.restype = ctypes.c_int
    out = (ctypes.c_uint64 * 16)()
    u64x2, u32x2 = ctypes.c_uint64 * 2, ctypes.c_uint32 * 2
    dims = u64x2(t.shape[1], t.shape[0])
    strides = (ctypes.c_uint64 * 1)(t.shape[1] * t.element_size())
    dtype = 9 if t.dtype == torch.bfloat16 else 6
    rc = fn(ctypes.byref(out), dtype, 2, ctypes.c_void_p(t.data_ptr()), dims,
            strides, u32x2(cols, rows), u32x2(1, 1), 0, 3, 3, 0)
    assert rc == 0, f'cuTensorMapEncodeTiled failed ({rc})'
    dev = torch.tensor(np.frombuffer(bytes(out), dtype=np.uint8),
                       device='cuda')
    _TENSOR_MAPS[key] = (dev, t)
    return dev


class Module:
    def __init__(self, path):
        self.module = cp.RawModule(path=path)
        self.functions = {}

    def function(self, name):
        if name not in self.functions:
            self.functions[name] = self.module.get_function(name)
        return self.functions[name]


_COUNTERS = []


def counters():
    """The zeroed i32 `counters` buffer every launch shares (each kernel
    must leave it zero, as the runtime's)."""
    if not _COUNTERS:
        _COUNTERS.append(torch.zeros(1 << 20, dtype=torch.int32,
                                     device='cuda'))
    return _COUNTERS[0]


def run_launches(mod, launches, operands, results, scalars, workspace):
    """Runs one op's launch group (docs/launch-plan.md)."""
    for launch in launches:
        scale = {'one': 1, 'tokens': scalars['tokens'],
                 'seqs': scalars.get('seqs', 0),
                 'sampled': scalars.get('sampled', scalars['tokens'])}
        grid = tuple((-(-g // scale[s[4:]]) if scale[s[4:]] > 0 else 0)
                     if s.startswith('per_') else g * scale[s]
                     for g, s in zip(launch['grid'], launch['grid_scale']))
        if 0 in grid:
            continue
        args = []
        for a in launch['args']:
            if a.startswith('tma:operand'):
                _, which, box = a.split(':')
                rows, cols = (int(v) for v in box.split('x'))
                args.append(ptr(tensor_map(operands[int(which[7:])], rows,
                                           cols)))
            elif a.startswith('operand'):
                args.append(ptr(operands[int(a[7:])]))
            elif a.startswith('result'):
                args.append(ptr(results[int(a[6:])]))
            elif a == 'workspace':
                args.append(ptr(workspace))
            elif a == 'counters':
                need = launch.get('counter_words_per_token', 0) * \
                    scalars['tokens']
                assert need <= counters().numel(), need
                args.append(ptr(counters()))
            else:
                args.append(np.int32(scalars[a]))
        fn = mod.function(launch['kernel'])
        if launch['shared_bytes'] > 0:
            # As the runtime: static + dynamic past 48 KB must be opted into.
            fn.max_dynamic_shared_size_bytes = launch['shared_bytes']
        fn(grid, tuple(launch['block']), tuple(args),
           shared_mem=launch['shared_bytes'])


def workspace_for(launches, tokens):
    need = max([l['workspace_bytes'] + l['workspace_bytes_per_token'] * tokens
                for l in launches] + [16])
    return torch.empty(need, dtype=torch.uint8, device='cuda')


def rel_err(out, ref):
    out = out.double()
    ref = ref.double()
    return ((out - ref).norm() / ref.norm().clamp_min(1e-30)).item()


#===----------------------------------------------------------------------===#
# Cases
#===----------------------------------------------------------------------===#

def linear_tensors(case, tokens, rows, gen):
    n, k = case['n'], case['k']
    bf = torch.bfloat16
    x = torch.randn(rows, k, generator=gen, device='cuda').to(bf)
    w = (torch.randn(n, k, generator=gen, device='cuda') / math.sqrt(k)).to(bf)
    operands = [x, w]
    extra = {}
    if case['bias']:
        extra['bias'] = torch.randn(n, generator=gen, device='cuda').to(bf)
        operands.append(extra['bias'])
    if case['residual']:
        extra['residual'] = torch.randn(rows, n, generator=gen,
                                        device='cuda').to(DT[case['out']])
        operands.append(extra['residual'])
    if case['norm']:
        extra['norm'] = (1 + 0.1 * torch.randn(k, generator=gen,
                                               device='cuda')).to(bf)
        operands.append(extra['norm'])
    out = torch.full((rows, case.get('n_out', n)), float('nan'),
                     dtype=DT[case['out']], device='cuda')
    return operands, [out], extra


def linear_reference(case, operands, extra, tokens):
    x = operands[0][:tokens].double()
    w = operands[1].double()
    if case.get('rms', case['norm']):
        x = x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + case['eps'])
    if case['norm']:
        x = x * extra['norm'].double()
    y = x @ w.t()
    if case['bias']:
        y = y + extra['bias'].double()
    if case['residual']:
        y = y + extra['residual'][:tokens].double()
    if case.get('act'):
        # silu_mul of the rounded [gate | up] output, as the unfused ops.
        y = y.to(DT[case['out']]).double()
        gate, up = y[:, :y.shape[1] // 2], y[:, y.shape[1] // 2:]
        y = gate / (1 + torch.exp(-gate)) * up
    return y


def check_untouched(out, tokens, name):
    rest = out[tokens:]
    if rest.numel() == 0:
        return True
    if rest.dtype in (torch.int32, torch.int64):
        ok = bool((rest == -7).all())
    else:
        ok = bool(torch.isnan(rest.float()).all())
    if not ok:
        print(f'  {name}: rows past T={tokens} were written')
    return ok


def check_linear(mod, case, tokens, gen):
    rows = max(tokens, case['bucket']) + 2
    operands, results, extra = linear_tensors(case, tokens, rows, gen)
    ws = workspace_for(case['launches'], tokens)
    ref = linear_reference(case, operands, extra, tokens)
    # What bf16 rounding of the output alone costs (the floor).
    floor = rel_err(ref.to(DT[case['out']]), ref)
    # A linear that counts through `counters` (the grid's sums of x^2, the
    # last K split) runs twice: the same bits both times, the words left
    # zero.
    shares = any('counters' in l['args'] and l['kernel'].startswith('linear')
                 for l in case['launches'])
    notes, ok, first = [], True, None
    for _ in range(2 if shares else 1):
        results[0].fill_(float('nan'))
        run_launches(mod, case['launches'], operands, results,
                     {'tokens': tokens}, ws)
        torch.cuda.synchronize()
        out = results[0]
        got = out[:tokens]
        finite = bool(torch.isfinite(got.float()).all())
        err = rel_err(got, ref)
        left = int(counters().count_nonzero())
        if left:
            counters().zero_()
        same = first is None or torch.equal(got, first)
        first = got.clone() if first is None else first
        ok = ok and finite and err < max(4 * floor, 2e-3) and check_untouched(
            out, tokens, case['name']) and left == 0 and same
        if not notes:
            notes.append(f'rel_err {err:.2e} (bf16 output rounding {floor:.1e})')
        if left:
            notes.append(f'{left} counters left nonzero')
        if not same:
            notes.append('the second run differs')
    if shares and ok:
        notes.append('counters: same bits twice')
    return ok, ', '.join(notes)


def check_rms_norm(mod, case, tokens, gen):
    n, eps = case['n'], case['eps']
    rows = tokens + 2
    x = (3 * torch.randn(rows, n, generator=gen, device='cuda')).to(torch.bfloat16)
    g = (1 + 0.1 * torch.randn(n, generator=gen, device='cuda')).to(torch.bfloat16)
    out = torch.full((rows, n), float('nan'), dtype=torch.bfloat16, device='cuda')
    run_launches(mod, case['launches'], [x, g], [out], {'tokens': tokens}, None)
    torch.cuda.synchronize()
    x32 = x[:tokens].float()
    h = x32 * torch.rsqrt(x32.pow(2).mean(-1, keepdim=True) + eps)
    ref = g * h.to(torch.bfloat16)  # LlamaRMSNorm
    got = out[:tokens]
    diff = (got.float() - ref.float()).abs()
    ulps = (diff / ref.float().abs().clamp_min(1e-30) * 128).max().item()
    ok = bool(torch.isfinite(got.float()).all()) and ulps <= 2 and \
        check_untouched(out, tokens, case['name'])
    return ok, f'max {ulps:.2f} bf16 ulp vs HF LlamaRMSNorm'


def check_elementwise(mod, case, tokens, gen):
    op, n = case['op'], case['n']
    rows = tokens + 2
    bf = torch.bfloat16

    def rnd(*shape):
        return (2 * torch.randn(*shape, generator=gen, device='cuda')).to(bf)

    scalars = {'tokens': tokens}
    if op == 'add':
        a, b = rnd(rows, n), rnd(rows, n)
        operands, ref = [a, b], (a[:tokens] + b[:tokens])
    elif op == 'silu_mul_packed':
        gu = rnd(rows, 2 * n)
        operands = [gu]
        ref = torch.nn.functional.silu(gu[:tokens, :n]) * gu[:tokens, n:]
    elif op == 'silu_mul':
        g, u = rnd(rows, n), rnd(rows, n)
        operands = [g, u]
        ref = torch.nn.functional.silu(g[:tokens]) * u[:tokens]
    elif op == 'embed':
        table = rnd(case['vocab'], n)
        ids = torch.randint(0, case['vocab'], (rows,), generator=gen,
                            device='cuda', dtype=torch.int32)
        operands, ref = [ids, table], table[ids[:tokens].long()]
    elif op == 'slice':
        x = rnd(rows, case['width'])
        operands = [x]
        ref = x[:tokens, case['offset']:case['offset'] + n]
    elif op == 'gather_tokens':
        x = rnd(rows + 5, n)
        idx = torch.randint(0, rows + 5, (rows,), generator=gen,
                            device='cuda', dtype=torch.int32)
        operands, ref = [x, idx], x[idx[:tokens].long()]
    else:
        raise ValueError(op)
    out = torch.full((rows, n), float('nan'), dtype=bf, device='cuda')
    run_launches(mod, case['launches'], operands, [out], scalars, None)
    torch.cuda.synchronize()
    got = out[:tokens]
    mismatched = (got.float() != ref.float()).sum().item()
    # silu's expf may differ from torch's in the last bit before rounding.
    tolerance = 0 if op not in ('silu_mul', 'silu_mul_packed') else got.numel() // 1000
    ok = mismatched <= tolerance and check_untouched(out, tokens, case['name'])
    return ok, f'{mismatched} of {got.numel()} elements differ from torch'


def splitmix64(z):
    m = (1 << 64) - 1
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & m
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & m
    return z ^ (z >> 31)


def cpu_sample(logits, temperature, top_k, top_p, seed):
    """runtime/lib/Sampling.cpp's sampleRow in float32."""
    f32 = np.float32
    v = len(logits)
    if not temperature > 0 or v <= 1:
        row = np.where(np.isnan(logits), -np.inf, logits)
        return int(np.argmax(row)) if not np.isnan(logits).all() else 0
    x = (logits / f32(temperature)).astype(f32)
    x = np.where(np.isnan(x), f32(-np.inf), x)
    order = np.lexsort((np.arange(v), -x))
    if 0 < top_k < v:
        order = order[:top_k]
    xs = x[order]
    maxx = xs[0]
    w = np.ones_like(xs) if maxx == -np.inf else np.exp(xs - maxx).astype(f32)
    total = f32(0)
    for val in w:
        total = f32(total + val)
    p = (w / total).astype(f32)
    kept = len(p)
    if top_p < 1:
        cum, kept = f32(0), 0
        while kept < len(p):
            cum = f32(cum + p[kept])
            kept += 1
            if cum >= f32(top_p):
                break
        kept = max(kept, 1)
    mass = f32(0)
    for val in p[:kept]:
        mass = f32(mass + val)
    u = f32(splitmix64(seed % (1 << 64)) >> 40) * f32(1.0 / 16777216.0)
    target = f32(u * mass)
    cum = f32(0)
    for i in range(kept):
        cum = f32(cum + p[i])
        if cum > target:
            return int(order[i])
    return int(order[kept - 1])


def check_sample(mod, case, tokens, gen):
    v = case['vocab']
    rows = tokens + 2
    logits = 3 * torch.randn(rows, v, generator=gen, device='cuda')
    logits[0, 5] = logits[0, 100] = logits[0].max() + 1  # tie: lowest wins
    logits[1, 7] = float('nan')
    if rows > 7:
        # Every logit equal: the top-k threshold collects the whole row,
        # more than fits, so the kernel falls back to one pass per pick.
        logits[7] = 0.25
    temp = torch.tensor([0.0, 0.0, 0.8, 1.0, 0.7, 1.2, 0.9, 1.0][:rows] +
                        [1.0] * max(0, rows - 8), device='cuda')
    top_k = torch.tensor([0, 0, 40, 1, 64, 20, 0, 50][:rows] +
                         [10] * max(0, rows - 8), device='cuda',
                         dtype=torch.int32)
    top_p = torch.tensor([1.0, 1.0, 0.9, 1.0, 0.5, 1.0, 0.9, 0.95][:rows] +
                         [1.0] * max(0, rows - 8), device='cuda')
    seeds = torch.randint(0, 2**62, (rows,), generator=gen, device='cuda',
                          dtype=torch.int64)
    out = torch.full((rows,), -7, dtype=torch.int32, device='cuda')
    run_launches(mod, case['launches'], [logits, temp, top_k, top_p, seeds],
                 [out], {'tokens': tokens, 'sampled': tokens}, None)
    torch.cuda.synchronize()
    got = out[:tokens].tolist()
    ref = []
    cpu = logits.cpu().numpy()
    for r in range(tokens):
        t, k = temp[r].item(), top_k[r].item()
        if t > 0 and not (0 < min(k, v) <= 64):
            ref.append(-1)  # left to the host sampler
        else:
            ref.append(cpu_sample(cpu[r], t, k, top_p[r].item(),
                                  seeds[r].item()))
    ok = got == ref and check_untouched(out, tokens, case['name'])
    return ok, f'tokens {got} (reference {ref})'


CHECKS = {'linear': check_linear, 'rms_norm': check_rms_norm,
          'sample': check_sample}


def check_tokens(case):
    if case['op'] == 'linear':
        b = case['bucket']
        if b == 0:
            return [5, 1]
        if b > 64:
            return [b, b - 56, 3]
        return sorted({b, max(1, b - 3)})
    if case['op'] == 'sample':
        return [8]
    return [7, 1]


#===----------------------------------------------------------------------===#
# Timing
#===----------------------------------------------------------------------===#

def time_launches(fn, iters=100):
    """(median single-launch ms, back-to-back ms per launch) of fn(i)."""
    return (gpu_timing.single_ms(fn, iters),
            gpu_timing.back_to_back_ms(fn, iters))


def copy_bandwidth():
    """Copy bandwidth in bytes/s."""
    return gpu_timing.copy_tbps() * 1e12


def bench_linear(mod, case, gen):
    n, k, tokens = case['n'], case['k'], max(1, case['bucket'])
    wbytes = n * k * 2
    nbuf = max(2, math.ceil(3 * L2_BYTES / wbytes) + 1)
    operands, results, _ = linear_tensors(case, tokens, tokens, gen)
    weights = [operands[1]] + [torch.randn_like(operands[1], dtype=torch.float32)
                               .to(torch.bfloat16) for _ in range(nbuf - 1)]
    ws = workspace_for(case['launches'], tokens)
    outbytes = 4 if case['out'] == 'f32' else 2

    def ours(i):
        ops = list(operands)
        ops[1] = weights[i % nbuf]
        run_launches(mod, case['launches'], ops, results, {'tokens': tokens}, ws)

    x = operands[0]

    def cublas(i):
        torch.nn.functional.linear(x, weights[i % nbuf])

    bytes_ours = wbytes + tokens * k * 2 + tokens * case.get('n_out', n) * outbytes
    bytes_cublas = wbytes + tokens * k * 2 + tokens * n * 2
    t_ours, t_ours_b2b = time_launches(ours)
    t_cublas, t_cublas_b2b = time_launches(cublas)
    return dict(tokens=tokens, us=t_ours * 1e3, us_back_to_back=t_ours_b2b * 1e3,
                cublas_us=t_cublas * 1e3, cublas_us_back_to_back=t_cublas_b2b * 1e3,
                bytes=bytes_ours, bw=bytes_ours / (t_ours * 1e-3),
                bw_back_to_back=bytes_ours / (t_ours_b2b * 1e-3),
                cublas_bw=bytes_cublas / (t_cublas * 1e-3),
                cublas_bw_back_to_back=bytes_cublas / (t_cublas_b2b * 1e-3))


def bench_sample(mod, case, gen):
    """Single-launch us of the sampler over f32 logits rows (as the lm_head
    writes them): greedy, and top-k 50 at temperature 1."""
    v = case['vocab']
    out = {}
    for rows in (1, 128):
        logits = 3 * torch.randn(rows, v, generator=gen, device='cuda')
        seeds = torch.arange(rows, device='cuda', dtype=torch.int64)
        top_p = torch.ones(rows, device='cuda')
        res = torch.empty(rows, dtype=torch.int32, device='cuda')
        for mode, t, k in (('greedy', 0.0, 0), ('top_k50', 1.0, 50)):
            temp = torch.full((rows,), t, device='cuda')
            top_k = torch.full((rows,), k, dtype=torch.int32, device='cuda')

            def run(i):
                run_launches(mod, case['launches'],
                             [logits, temp, top_k, top_p, seeds], [res],
                             {'tokens': rows, 'sampled': rows}, None)
            out[f'{mode}_rows{rows}_us'] = gpu_timing.single_ms(run, 50) * 1e3
    return out


#===----------------------------------------------------------------------===#
# Main
#===----------------------------------------------------------------------===#

# Variants checked by default: the grid's sums of x^2 with every block
# summing its own tokens (the path a block takes when a sum is missing).
CHECKED_VARIANTS = ('ownsums', 'mc')

def main():
    argv = [a for a in sys.argv[1:]]
    check_only = '--check-only' in argv
    argv = [a for a in argv if a != '--check-only']
    only = None
    if '--cases' in argv:
        i = argv.index('--cases')
        only = set(argv[i + 1].split(','))
        del argv[i:i + 2]
    variants = None
    if '--variants' in argv:
        i = argv.index('--variants')
        variants = set(argv[i + 1].split(','))
        del argv[i:i + 2]
    json_path = (argv[0] if argv else os.environ.get('INFER_BENCH_JSON') or
                 (os.path.join(os.environ['OUT'], 'kernels.json')
                  if os.environ.get('OUT') else os.path.join(OUT_DIR, 'bench.json')))
    manifest = json.load(open(os.path.join(OUT_DIR, 'manifest.json')))
    mod = Module(os.path.join(OUT_DIR, 'kernels.cubin'))
    props = torch.cuda.get_device_properties(0)
    print(f'device: {props.name}, {props.multi_processor_count} SMs; '
          f'torch {torch.__version__}, cupy {cp.__version__}')
    gen = torch.Generator(device='cuda')
    gen.manual_seed(1234)

    failures = 0
    checks = {}
    for case in manifest:
        if only and case['name'] not in only:
            continue
        check = CHECKS.get(case['op'], check_elementwise)
        for tokens in check_tokens(case):
            ok, note = check(mod, case, tokens, gen)
            release_tensor_maps()
            failures += not ok
            checks[f"{case['name']}@T={tokens}"] = dict(ok=ok, note=note)
            print(f"{'PASS' if ok else 'FAIL'} {case['name']:22s} T={tokens:<3d} {note}")

    summary = dict(device=props.name, checks=checks, failures=failures)
    if not check_only:
        copy = copy_bandwidth()
        summary['copy_TBps'] = copy / 1e12
        print(f'\ncopy bandwidth (device-to-device, read+write): {copy / 1e12:.3f} TB/s')
        summary['launch_floor_us'] = gpu_timing.launch_floor_ms() * 1e3
        print(f"single-launch floor (one-element kernel): "
              f"{summary['launch_floor_us']:.1f} us")
        rows = []
        for case in manifest:
            if not case.get('bench') or (only and case['name'] not in only):
                continue
            if case['op'] == 'sample':
                r = bench_sample(mod, case, gen)
                summary['sample'] = r
                print('sample (single launch, us): ' + ', '.join(
                    f'{k[:-3]} {v:.1f}' for k, v in r.items()))
                continue
            r = bench_linear(mod, case, gen)
            release_tensor_maps()
            r['frac'] = r['bw'] / copy
            r['frac_back_to_back'] = r['bw_back_to_back'] / copy
            r['cublas_frac'] = r['cublas_bw'] / copy
            r['cublas_frac_back_to_back'] = r['cublas_bw_back_to_back'] / copy
            summary.setdefault('linear', {})[case['name']] = r
            rows.append((case, r))
        print(f"\n{'case':22s} {'NxK':>13s} T  {'us':>7s} {'of copy':>8s} "
              f"{'b2b':>6s} | {'cuBLAS us':>9s} {'of copy':>8s} {'b2b':>6s}")
        for case, r in rows:
            print(f"{case['name']:22s} {case['n']:>6d}x{case['k']:<6d} {r['tokens']:<2d} "
                  f"{r['us']:7.1f} {100 * r['frac']:7.1f}% {100 * r['frac_back_to_back']:5.1f}% | "
                  f"{r['cublas_us']:9.1f} {100 * r['cublas_frac']:7.1f}% "
                  f"{100 * r['cublas_frac_back_to_back']:5.1f}%")
        # Tuning variants, checked first; timed only when named.
        timed = variants is not None
        tags = sorted({t for c in manifest for t in c.get('variants', {})
                       if (t in CHECKED_VARIANTS if variants is None else
                           'all' in variants or t in variants)})
        if tags and timed:
            print(f"\n{'variant':30s} {'us':>7s} {'of copy':>8s} {'b2b':>6s}")
        for tag in tags:
            vmod = Module(os.path.join(OUT_DIR, f'kernels_{tag}.cubin'))
            for case in manifest:
                if tag not in case.get('variants', {}) or (
                        only and case['name'] not in only):
                    continue
                vcase = dict(case, launches=case['variants'][tag])
                ok, note = True, ''
                for tokens in check_tokens(case):
                    t_ok, t_note = check_linear(vmod, vcase, tokens, gen)
                    release_tensor_maps()
                    failures += not t_ok
                    checks[f"{case['name']}[{tag}]@T={tokens}"] = dict(
                        ok=t_ok, note=t_note)
                    if not t_ok:
                        ok, note = False, f'T={tokens}: {t_note}'
                    elif ok:
                        note = t_note
                if not timed:
                    if not ok:
                        print(f"{case['name'] + '[' + tag + ']':30s} FAIL {note}")
                    continue
                r = bench_linear(vmod, vcase, gen)
                release_tensor_maps()
                r['frac'] = r['bw'] / copy
                r['frac_back_to_back'] = r['bw_back_to_back'] / copy
                summary.setdefault('variants', {})[f"{case['name']}[{tag}]"] = r
                print(f"{case['name'] + '[' + tag + ']':30s} {r['us']:7.1f} "
                      f"{100 * r['frac']:7.1f}% {100 * r['frac_back_to_back']:5.1f}%"
                      f"{'' if ok else '  FAIL ' + note}")
        if tags and not timed:
            vchecks = [v for k, v in checks.items() if '[' in k]
            print(f"\nvariants {', '.join(tags)}: {len(vchecks)} checks, "
                  f"{sum(not v['ok'] for v in vchecks)} failing (not timed: "
                  "name them with --variants)")
        target = [r for c, r in rows if c['name'] in
                  ('lin_qkv_t1', 'lin_gate_up_t1', 'lin_down_t1', 'lin_lm_head_t1')]
        if target:
            summary['linear_min_frac'] = min(r['frac'] for r in target)
            summary['linear_min_frac_back_to_back'] = min(
                r['frac_back_to_back'] for r in target)
            summary['linear_fracs'] = {c['name']: r['frac'] for c, r in rows}
            summary['cublas_fracs'] = {c['name']: r['cublas_frac'] for c, r in rows}
    os.makedirs(os.path.dirname(os.path.abspath(json_path)), exist_ok=True)
    with open(json_path, 'w') as f:
        json.dump(summary, f, indent=1)
    print(f'\n{failures} failing checks; summary in {json_path}')
    return 1 if failures else 0


if __name__ == '__main__':
    sys.exit(main())
