#!/usr/bin/env python3
"""Checks and times the emitted attention and rope kernels on a GPU.

Runs on the GPU machine (torch + cupy, no MLIR). The cubins and launch lists
come from bench/attention/build_kernels.sh (run where MLIR is), in
bench/attention/out/. Kernels are launched from their `decode.launches`
entries exactly as the runtime would (grid = constant x step quantity,
parameters by name, bare pointers and i32 scalars).

usage: attn_bench.py [--check-only] [--small] [--flush write|read]
                     [--json PATH]
  --check-only  correctness only (for compute-sanitizer)
  --small       skip the 32k-token correctness cases
  --flush       how the L2 is emptied before each single launch: by reading
                256 MB (default: clean lines), or by writing them (sessions
                1-9: the L2 is then full of dirty lines whose write-back the
                timed kernel's misses pay for, ~10 us at B=1 L=32k)
The JSON summary goes to --json, else $INFER_BENCH_JSON, else stdout only.
"""
import argparse
import json
import math
import os
import sys

import cupy
import numpy as np
import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..'))
import gpu_timing  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.environ.get('INFER_ATTN_OUT', os.path.join(HERE, 'out'))
DEV = torch.device('cuda')
BLOCK = 16
LAYERS = 2
LAYER = 1


def grid_extent(g, scale, scalars):
    """One grid dimension of a launch (docs/launch-plan.md, grid_scale)."""
    if scale.startswith('per_'):
        n = scalars[scale[4:]]
        return -(-g // n) if n > 0 else 0
    return g * {'one': 1, 'tokens': scalars['tokens'],
                'seqs': scalars['seqs'],
                'sampled': scalars.get('sampled', 0)}[scale]


COUNTERS = None


def counters():
    """The runtime's `counters` buffer: zeroed once, kernels leave it zero."""
    global COUNTERS
    if COUNTERS is None:
        COUNTERS = torch.zeros(1 << 20, dtype=torch.int32, device=DEV)
    return COUNTERS


class Module:
    """A cubin and the launch lists of its ops."""

    def __init__(self, name, launches=None):
        self.mod = cupy.RawModule(path=os.path.join(OUT, name + '.cubin'))
        self.ops = json.load(open(os.path.join(
            OUT, (launches or name) + '.launches.json')))
        self.opted = {}

    def group(self, op_index, tokens):
        """The launches of op `op_index` the runtime would pick for a step of
        `tokens` tokens: the group of the smallest max_tokens >= tokens, the
        group of max_tokens = 0 ("any") last."""
        launches = self.ops[op_index]['launches']
        bounds = sorted({l.get('max_tokens', 0) for l in launches},
                        key=lambda m: m or float('inf'))
        pick = next(m for m in bounds if m == 0 or tokens <= m)
        return [l for l in launches if l.get('max_tokens', 0) == pick]

    def run(self, op_index, operands, results, scalars, workspace=None):
        """Runs the launches of op `op_index` for the step's `tokens` (its
        group). The `layer` scalar is the op's `layer` attribute."""
        scalars = dict(scalars, layer=self.ops[op_index].get('layer'))
        for launch in self.group(op_index, scalars['tokens']):
            args = []
            for a in launch['args']:
                if a.startswith('operand'):
                    t = operands[int(a[7:])]
                elif a.startswith('result'):
                    t = results[int(a[6:])]
                elif a == 'workspace':
                    t = workspace
                elif a == 'counters':
                    t = counters()
                else:
                    args.append(np.int32(scalars[a]))
                    continue
                args.append(np.uint64(t.data_ptr()))
            grid = tuple(grid_extent(g, s, scalars) for g, s in
                         zip(launch['grid'], launch['grid_scale']))
            if 0 in grid:
                continue
            fn = self.mod.get_function(launch['kernel'])
            # As the runtime: static + dynamic past 48 KB must be opted into,
            # once per kernel (setting it costs host time at every launch).
            if launch['shared_bytes'] > 0 and \
                    self.opted.get(launch['kernel'], -1) < launch['shared_bytes']:
                fn.max_dynamic_shared_size_bytes = launch['shared_bytes']
                self.opted[launch['kernel']] = launch['shared_bytes']
            fn(grid, tuple(launch['block']), tuple(args),
               shared_mem=launch['shared_bytes'])

    def workspace_bytes(self, op_index, tokens):
        return max([l['workspace_bytes'] + l['workspace_bytes_per_token'] *
                    tokens for l in self.ops[op_index]['launches']] + [16])


#===------------------------------------------------------------------------===#
# Paged attention
#===------------------------------------------------------------------------===#

def make_cache(contexts, hkv, hd, extra_blocks=7, gen=None):
    """A pool with shuffled pages; slots past each context hold NaN."""
    pages = [math.ceil(c / BLOCK) for c in contexts]
    num_blocks = sum(pages) + extra_blocks
    pool = torch.randn(num_blocks, LAYERS, 2, hkv, BLOCK, hd, device=DEV,
                       dtype=torch.bfloat16, generator=gen)
    perm = torch.randperm(num_blocks, device='cpu', generator=None)
    width = max(pages) + 3
    bt = torch.full((len(contexts), width), -1, dtype=torch.int32)
    at = 0
    for b, n in enumerate(pages):
        bt[b, :n] = perm[at:at + n].to(torch.int32)
        at += n
        tail = contexts[b] % BLOCK
        if tail:
            pool[int(bt[b, n - 1]), :, :, :, tail:, :] = float('nan')
    return pool, bt.to(DEV)


def reference(q, pool, bt, contexts, qlens, hq, hkv, hd, scale, window=None):
    """float64 attention over the gathered pages."""
    out = torch.empty(q.shape[0], hq * hd, dtype=torch.float64, device=DEV)
    g = hq // hkv
    row = 0
    for b, (ctx, n) in enumerate(zip(contexts, qlens)):
        pages = bt[b, :math.ceil(ctx / BLOCK)].long()
        kv = pool[pages, LAYER].double()  # [p, 2, hkv, bs, hd]
        k = kv[:, 0].permute(1, 0, 2, 3).reshape(hkv, -1, hd)[:, :ctx]
        v = kv[:, 1].permute(1, 0, 2, 3).reshape(hkv, -1, hd)[:, :ctx]
        qq = q[row:row + n].double().view(n, hkv, g, hd)
        s = torch.einsum('nhgd,hkd->hgnk', qq, k) * scale
        pos = torch.arange(ctx, device=DEV)
        qpos = ctx - n + torch.arange(n, device=DEV)
        mask = pos[None, :] > qpos[:, None]
        if window:
            mask |= pos[None, :] <= qpos[:, None] - window
        s = s.masked_fill(mask, float('-inf'))
        p = torch.softmax(s, dim=-1)
        o = torch.einsum('hgnk,hkd->nhgd', p, v)
        out[row:row + n] = o.reshape(n, hq * hd)
        row += n
    return out


def run_attention(mod, q, pool, bt, contexts, qlens, out=None, ws=None):
    B = len(contexts)
    T = sum(qlens)
    qs = torch.tensor([0] + list(np.cumsum(qlens)), dtype=torch.int32,
                      device=DEV)
    ctx = torch.tensor(contexts, dtype=torch.int32, device=DEV)
    if out is None:
        out = torch.full_like(q, float('nan'))
    if ws is None:
        ws = torch.empty(mod.workspace_bytes(0, T), dtype=torch.uint8,
                         device=DEV)
    scalars = {'tokens': T, 'seqs': B, 'block_table_width': bt.shape[1]}
    mod.run(0, [q, pool, bt, ctx, qs], [out], scalars, ws)
    return out, (ctx, qs, ws, scalars)


def check_attention(name, hq, hkv, hd, contexts, qlens, window=None):
    mod = Module(name)
    scale = 1 / math.sqrt(hd)
    pool, bt = make_cache(contexts, hkv, hd)
    q = torch.randn(sum(qlens), hq * hd, device=DEV, dtype=torch.bfloat16)
    out, _ = run_attention(mod, q, pool, bt, contexts, qlens)
    torch.cuda.synchronize()
    ref = reference(q, pool, bt, contexts, qlens, hq, hkv, hd, scale, window)
    nan = int(torch.isnan(out).sum())
    err = float((out.double() - ref).norm() / ref.norm())
    dirty = int(counters().count_nonzero())  # must be left zero
    ok = nan == 0 and err < 1e-2 and dirty == 0
    def brief(v):
        return str(v) if len(v) <= 8 else f'{len(v)} x [{min(v)}, {max(v)}]'
    print(f'{"ok  " if ok else "FAIL"} {name:16s} heads {hq}/{hkv} hd {hd} '
          f'ctx {brief(contexts)} qlen {brief(qlens)}'
          f'{" window " + str(window) if window else ""}: '
          f'rel err {err:.2e}, unwritten {nan}, counters left {dirty}')
    return ok


#===------------------------------------------------------------------------===#
# Rope
#===------------------------------------------------------------------------===#

def hf_inv_freq(hd, theta, llama3=None):
    """transformers' rope init (default, then _compute_llama3_parameters)."""
    inv = 1.0 / (theta ** (torch.arange(0, hd, 2, dtype=torch.int64)
                           .float() / hd))
    if llama3:
        factor, low, high, old = llama3
        low_wl, high_wl = old / low, old / high
        wl = 2 * math.pi / inv
        il = torch.where(wl > low_wl, inv / factor, inv)
        smooth = (old / wl - low) / (high - low)
        smoothed = (1 - smooth) * il / factor + smooth * il
        medium = ~(wl < high_wl) * ~(wl > low_wl)
        inv = torch.where(medium, smoothed, il)
    return inv


def hf_rope(x, pos, hd, inv):
    """HF Llama apply_rotary_pos_emb on [T, H*hd] bf16."""
    T = x.shape[0]
    freqs = pos.float()[:, None] * inv.to(DEV)[None, :]
    emb = torch.cat((freqs, freqs), dim=-1)
    cos, sin = emb.cos().to(x.dtype), emb.sin().to(x.dtype)
    xh = x.view(T, -1, hd)
    rot = torch.cat((-xh[..., hd // 2:], xh[..., :hd // 2]), dim=-1)
    return (xh * cos[:, None] + rot * sin[:, None]).view(T, -1)


def check_rope():
    mod = Module('rope')
    hq, hkv, hd, T = 32, 8, 128, 37
    pool = torch.randn(40, LAYERS, 2, hkv, BLOCK, hd, device=DEV,
                       dtype=torch.bfloat16)
    before = pool.clone()
    qkv = torch.randn(T, (hq + 2 * hkv) * hd, device=DEV, dtype=torch.bfloat16)
    pos = torch.randint(0, 130000, (T,), dtype=torch.int32, device=DEV)
    slots = torch.randperm(40 * BLOCK, device=DEV)[:T].to(torch.int32)
    slots[3] = -1
    slots[20] = -1
    q = torch.full((T, hq * hd), float('nan'), device=DEV, dtype=torch.bfloat16)
    scal = {'tokens': T, 'seqs': T}
    mod.run(0, [pool, qkv, pos, slots], [q], scal)
    k = torch.randn(T, hkv * hd, device=DEV, dtype=torch.bfloat16)
    v = torch.randn(T, hkv * hd, device=DEV, dtype=torch.bfloat16)
    kr = torch.full_like(k, float('nan'))
    mod.run(1, [k, pos], [kr], scal)
    mod.run(2, [pool, kr, v, slots], [], scal)
    torch.cuda.synchronize()

    inv3 = hf_inv_freq(hd, 500000.0, (8.0, 1.0, 4.0, 8192))
    qref = hf_rope(qkv[:, :hq * hd], pos, hd, inv3)
    kref = hf_rope(qkv[:, hq * hd:(hq + hkv) * hd], pos, hd, inv3)
    vref = qkv[:, (hq + hkv) * hd:]
    krope = hf_rope(k, pos, hd, hf_inv_freq(hd, 10000.0))
    exp = before.clone()
    for t in range(T):
        s = int(slots[t])
        if s < 0:
            continue
        exp[s // BLOCK, 1, 0, :, s % BLOCK] = kref[t].view(hkv, hd)
        exp[s // BLOCK, 1, 1, :, s % BLOCK] = vref[t].view(hkv, hd)
        exp[s // BLOCK, 0, 0, :, s % BLOCK] = krope[t].view(hkv, hd)
        exp[s // BLOCK, 0, 1, :, s % BLOCK] = v[t].view(hkv, hd)

    def cmp(name, a, b):
        diff = (a.float() - b.float()).abs()
        mism = float((diff > 0).float().mean())
        ok = not torch.isnan(a).any() and mism < 0.01 and \
            float(diff.max()) <= 2 ** -6 * float(b.float().abs().max())
        print(f'{"ok  " if ok else "FAIL"} {name:16s} vs HF bf16: '
              f'{mism * 100:.3f}% elements differ, max |diff| '
              f'{float(diff.max()):.3g}')
        return ok
    return all([cmp('rope_append q', q, qref), cmp('rope (k)', kr, krope),
                cmp('cache after', pool, exp)])


#===------------------------------------------------------------------------===#
# Timing
#===------------------------------------------------------------------------===#

FLUSH = None
FLUSH_BY_READING = True


def flush_l2():
    """Evicts the 50 MB L2 by reading 256 MB (or, --flush write, by writing
    them, which leaves dirty lines for the timed kernel to write back)."""
    global FLUSH
    if FLUSH is None:
        FLUSH = torch.zeros(256 << 20, dtype=torch.uint8, device=DEV)
    if FLUSH_BY_READING:
        FLUSH.max()
    else:
        FLUSH.zero_()


def time_ms(fn, iters=50):
    """Median of single launches of fn(), each after an L2 flush."""
    return gpu_timing.single_ms(lambda i: fn(), iters, before=flush_l2,
                                warmup=3)


def time_back_to_back_ms(fn, copies, iters=60):
    """Per-launch time of `iters` launches queued back to back, launch i on
    input copy i mod copies (copies together well past the 50 MB L2), as
    decode runs kernels: launch latency overlaps the previous launch."""
    return gpu_timing.back_to_back_ms(lambda i: fn(i % copies), iters,
                                      warmup=copies)


def copy_tbps():
    return gpu_timing.copy_tbps(before=flush_l2)


def bench_attention(name, B, L, hq=32, hkv=8, hd=128, launches=None):
    """Achieved bytes/s of the kernel and of torch SDPA (contiguous KV):
    single launches after an L2 flush, and back to back over copies of the
    inputs. Returns {'ours', 'ours_b2b', 'sdpa', 'sdpa_b2b'}: (ms, bytes/s)."""
    mod = Module(name, launches)
    contexts, qlens = [L] * B, [1] * B
    kv_bytes = B * L * hkv * hd * 2 * 2
    copies = max(2, -(-(200 << 20) // kv_bytes))
    q = torch.randn(B, hq * hd, device=DEV, dtype=torch.bfloat16)
    pools = []
    for _ in range(copies):
        pool, bt = make_cache(contexts, hkv, hd, extra_blocks=0)
        pools.append((pool.nan_to_num_(0.0), bt))
    out, (ctx, qs, ws, scal) = run_attention(mod, q, *pools[0], contexts, qlens)

    def ours(i=0):
        mod.run(0, [q, *pools[i], ctx, qs], [out], scal, ws)
    moved = kv_bytes + 2 * q.numel() * 2 + pools[0][1].numel() * 4
    qd = q.view(B, hq, 1, hd)
    kvs = [(torch.randn(B, hkv, L, hd, device=DEV, dtype=torch.bfloat16),
            torch.randn(B, hkv, L, hd, device=DEV, dtype=torch.bfloat16))
           for _ in range(copies)]
    f = torch.nn.functional.scaled_dot_product_attention

    def sdpa(i=0):
        f(qd, *kvs[i], enable_gqa=True)
    result = {}
    for key, fn in (('ours', ours), ('sdpa', sdpa)):
        for suffix, ms in (('', time_ms(fn)),
                           ('_b2b', time_back_to_back_ms(fn, copies))):
            result[key + suffix] = (ms, moved / ms / 1e9)
    return result


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--check-only', action='store_true')
    ap.add_argument('--small', action='store_true')
    ap.add_argument('--variants', default='',
                    help='comma-separated cubins (out/NAME.cubin) of 32/8 hd128 '
                    'decode kernels to time as well (launches from '
                    'out/NAME.launches.json, else dec_32_8_128\'s)')
    ap.add_argument('--json', default=os.environ.get('INFER_BENCH_JSON'))
    ap.add_argument('--flush', choices=('read', 'write'), default='read')
    args = ap.parse_args()
    global FLUSH_BY_READING
    FLUSH_BY_READING = args.flush == 'read'
    torch.manual_seed(0)
    print(torch.cuda.get_device_name(), 'torch', torch.__version__)

    long_ctx = [] if args.small else [32768]
    mixed = [1, 15, 16, 17, 4097] + long_ctx
    ok = True
    for name, hq, hkv, hd in [('dec_32_8_128', 32, 8, 128),
                              ('dec_28_4_128', 28, 4, 128),
                              ('dec_64_8_128', 64, 8, 128),
                              ('dec_32_8_64', 32, 8, 64)]:
        ok &= check_attention(name, hq, hkv, hd, mixed, [1] * len(mixed))
        ok &= check_attention(name, hq, hkv, hd, [4097 if args.small else 32768],
                              [1])
    ok &= check_attention('dec_32_8_128', 32, 8, 128, [300 + 37 * i for i in
                                                       range(64)], [1] * 64)
    ok &= check_attention('dec_32_8_128_w', 32, 8, 128, mixed,
                          [1] * len(mixed), window=1000)
    ok &= check_attention('ver_32_8_128', 32, 8, 128, [17, 40, 300, 4097, 5],
                          [1, 5, 16, 3, 5])
    ok &= check_attention('ver_28_4_64', 28, 4, 64, [17, 64, 1000], [17, 7, 33])
    # More items than one wave of resident blocks holds (33 per kv head for
    # 32/8, 66 for 28/4), of uneven lengths.
    uneven = [1 + (97 * i) % 1500 for i in range(150)]
    for name, hq, hkv in [('dec_32_8_128', 32, 8), ('dec_28_4_128', 28, 4)]:
        ok &= check_attention(name, hq, hkv, 128, uneven, [1] * len(uneven))
    # 65-128 sequences: the launch group of the shared-memory ring kernel.
    ring = [1 + (89 * i) % 1200 for i in range(100)]
    for name, hq, hkv, hd in [('dec_32_8_128', 32, 8, 128),
                              ('dec_28_4_128', 28, 4, 128),
                              ('dec_32_8_64', 32, 8, 64)]:
        ok &= check_attention(name, hq, hkv, hd, ring, [1] * len(ring))
    ok &= check_attention('ver_32_8_128', 32, 8, 128, [17, 300, 90, 4097],
                          [17, 64, 40, 3])
    ok &= check_rope()
    # Variants with their own launch lists are checked like the kernel they
    # would replace (32/8, head_dim 128, decode).
    for var in filter(None, args.variants.split(',')):
        if os.path.exists(os.path.join(OUT, var + '.launches.json')):
            ok &= check_attention(var, 32, 8, 128, mixed, [1] * len(mixed))
            ok &= check_attention(var, 32, 8, 128, [300 + 37 * i for i in
                                                    range(64)], [1] * 64)
    print('correctness:', 'PASS' if ok else 'FAIL')
    summary = {'correct': bool(ok), 'device': torch.cuda.get_device_name()}
    if not args.check_only:
        summary['copy_TBps'] = copy_tbps()
        summary['flush'] = args.flush
        summary['launch_floor_us'] = gpu_timing.launch_floor_ms(
            before=flush_l2) * 1e3
        how = {'read': 'reading', 'write': 'writing'}[args.flush]
        print(f'copy bandwidth {summary["copy_TBps"]:.3f} TB/s; L2 flushed '
              f'by {how} 256 MB; single-launch floor (one-element '
              f'kernel) {summary["launch_floor_us"]:.1f} us')
        for key, B, L in [('b1_l32k', 1, 32768), ('b1_l4k', 1, 4096),
                          ('b64_l4k', 64, 4096), ('b64_l512', 64, 512),
                          ('b128_l512', 128, 512)]:
            r = bench_attention('dec_32_8_128', B, L)
            copy = summary['copy_TBps']
            for who, name in (('ours', 'attn'), ('sdpa', 'sdpa')):
                for suffix, tag in (('', ''), ('_b2b', '_back_to_back')):
                    ms, tbps = r[who + suffix]
                    summary[f'{name}_{key}{tag}_us'] = ms * 1e3
                    summary[f'{name}_{key}{tag}_frac'] = tbps / copy
            print(f'attention 32/8 hd128 B={B} L={L}: '
                  f'{r["ours"][0] * 1e3:8.1f} us = {r["ours"][1] / copy:.1%} '
                  f'of copy (back to back {r["ours_b2b"][1] / copy:.1%}); '
                  f'SDPA (contiguous) {r["sdpa"][0] * 1e3:8.1f} us = '
                  f'{r["sdpa"][1] / copy:.1%} (back to back '
                  f'{r["sdpa_b2b"][1] / copy:.1%})')
        for var in filter(None, args.variants.split(',')):
            row = []
            for B, L in [(1, 32768), (1, 4096), (64, 4096), (64, 512),
                         (128, 512)]:
                own = os.path.exists(os.path.join(OUT, var + '.launches.json'))
                ms, tbps = bench_attention(
                    var, B, L, launches=None if own else 'dec_32_8_128')['ours']
                row.append(f'B={B} L={L} {ms * 1e3:7.1f} us '
                           f'{tbps / summary["copy_TBps"]:.1%}')
                summary[f'variant_{var}_b{B}_l{L}_frac'] = \
                    tbps / summary['copy_TBps']
            print(f'variant {var:14s}', ' | '.join(row))
    print(json.dumps(summary))
    if args.json:
        json.dump(summary, open(args.json, 'w'), indent=1)
    return 0 if ok else 1


if __name__ == '__main__':
    sys.exit(main())
