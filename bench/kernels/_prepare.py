#!/usr/bin/env python3
"""Compiles the kernel-harness cases HERE (MLIR is not on the GPU machine).

  python3 bench/kernels/_prepare.py [--infer-opt build-gpu/bin/infer-opt]

Writes bench/kernels/out/:
  cases.mlir      one step function per case (decode ops with fixed variants)
  kernels.cubin   the gpu.binary of `infer-decode-to-cuda-pipeline{format=bin}`
  kernels.ptx     the same kernels as PTX (format=isa)
  manifest.json   per case: the op, its shapes and attributes, and the
                  `decode.launches` the compiler recorded (docs/launch-plan.md)

bench/kernels/kernels.py runs them on the device (cupy + torch).
"""
import argparse
import json
import os
import re
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
OUT = os.path.join(HERE, 'out')
sys.path.insert(0, os.path.join(ROOT, 'utils'))


def linear_case(name, n, k, bucket, *, kind='gemv', k_split=1, out='bf16',
                bias=False, residual=False, norm=False, rms=False,
                act=False, bench=False):
    """A decode.linear step; bucket=0 means no variants (any T). `rms`: the
    RMS scale alone (the norm weight folded into W, as decode-optimize
    emits it). `act`: silu_mul fused, rows [gate | up], N/2 outputs."""
    n_out = n // 2 if act else n
    args = [f'%x: tensor<?x{k}xbf16>']
    extra = ''
    if residual:
        args.append(f'%r: tensor<?x{n}x{out}>')
        extra += f' residual(%r : tensor<?x{n}x{out}>)'
    scaled = ' scaled_by "g"' if rms else ''
    body = [f'  %w = decode.weight ["w"]{scaled} : tensor<{n}x{k}xbf16>']
    if bias:
        body.append(f'  %b = decode.weight ["b"] : tensor<{n}xbf16>')
        extra = f' bias(%b : tensor<{n}xbf16>)' + extra
    if norm:
        body.append(f'  %g = decode.weight ["g"] : tensor<{k}xbf16>')
        extra += f' norm(%g : tensor<{k}xbf16>)'
    attrs = []
    if norm or rms:
        attrs.append('norm_epsilon = 1.0e-05 : f32')
    if act:
        attrs.append('activation = #decode.activation<silu_mul>')
    if bucket:
        attrs.append(f'variants = [#decode.variant<max_tokens = {bucket}, '
                     f'kind = {kind}, k_split = {k_split}>]')
    attr = ' {' + ', '.join(attrs) + '}' if attrs else ''
    body.append(f'  %y = decode.linear %x, %w{extra}{attr} : '
                f'(tensor<?x{k}xbf16>, tensor<{n}x{k}xbf16>) -> '
                f'tensor<?x{n_out}x{out}>')
    mlir = (f'func.func @{name}({", ".join(args)}) -> '
            f'tensor<?x{n_out}x{out}> {{\n' + '\n'.join(body) +
            f'\n  return %y : tensor<?x{n_out}x{out}>\n}}\n')
    meta = dict(op='linear', n=n, k=k, bucket=bucket, kind=kind,
                k_split=k_split, out=out, bias=bias, residual=residual,
                norm=norm, rms=norm or rms, eps=1e-5, bench=bench,
                n_out=n_out, act=act)
    return name, mlir, meta


def simple_case(name, op, mlir, **meta):
    meta['op'] = op
    return name, mlir, meta


def cases():
    out = []
    # Llama-3-8B projections at 1 token (the performance targets).
    for n, k, tag, dt in [(6144, 4096, 'qkv', 'bf16'),
                          (28672, 4096, 'gate_up', 'bf16'),
                          (4096, 14336, 'down', 'bf16'),
                          (4096, 4096, 'o', 'bf16'),
                          (128256, 4096, 'lm_head', 'f32')]:
        name, mlir, meta = linear_case(f'lin_{tag}_t1', n, k, 1, out=dt,
                                       bench=True)
        meta['variant'] = True
        out.append((name, mlir, meta))
    # K-split of the small-N shape, and 8-token buckets.
    for s in (2, 4):
        out.append(linear_case(f'lin_down_t1_ks{s}', 4096, 14336, 1,
                               k_split=s, bench=True))
    out.append(linear_case('lin_qkv_t8', 6144, 4096, 8, bench=True))
    out.append(linear_case('lin_down_t8_ks2', 4096, 14336, 8, k_split=2,
                           bench=True))
    # Fused epilogues / prologue and edge shapes (correctness).
    out.append(linear_case('lin_norm_bias_t4', 6144, 4096, 4, bias=True,
                           norm=True))
    out.append(linear_case('lin_norm_res_ks7_t2', 4096, 14336, 2, k_split=7,
                           residual=True, norm=True))
    out.append(linear_case('lin_odd_t3', 1003, 520, 4, bias=True,
                           residual=True))
    out.append(linear_case('lin_any_t5', 1024, 2048, 0, norm=True))
    # Tensor-core buckets.
    out.append(linear_case('lin_mma_t64', 4096, 4096, 64, kind='mma',
                           bench=True))
    for n, k, tag in [(6144, 4096, 'qkv'), (28672, 4096, 'gate_up'),
                      (4096, 14336, 'down')]:
        out.append(linear_case(f'lin_{tag}_mma_t64', n, k, 64, kind='mma',
                               bench=True))
    out.append(linear_case('lin_qkv_mma_t8', 6144, 4096, 8, kind='mma',
                           bench=True))
    out.append(linear_case('lin_qkv_mma_t16', 6144, 4096, 16, kind='mma',
                           bench=True))
    for n, k, tag, dt in [(28672, 4096, 'gate_up', 'bf16'),
                          (4096, 14336, 'down', 'bf16'),
                          (128256, 4096, 'lm_head', 'f32')]:
        out.append(linear_case(f'lin_{tag}_mma_t16', n, k, 16, kind='mma',
                               out=dt, bench=True))
    out.append(linear_case('lin_lm_head_mma_t64', 128256, 4096, 64,
                           kind='mma', out='f32', bench=True))
    out.append(linear_case('lin_mma_fused_t16', 6144, 4096, 16, kind='mma',
                           bias=True, residual=True, norm=True))
    out.append(linear_case('lin_mma_odd_t256', 1003, 544, 256, kind='mma',
                           bias=True))
    # sm_90a warpgroup MMA (the default tensor-core kernel on the H100, from
    # the 4-token bucket up: an 8-token tile).
    for t in (4, 16, 64, 128, 256):
        for n, k, tag, dt in [(6144, 4096, 'qkv', 'bf16'),
                              (28672, 4096, 'gate_up', 'bf16'),
                              (4096, 14336, 'down', 'bf16'),
                              (4096, 4096, 'o', 'bf16')]:
            out.append(linear_case(f'lin_{tag}_wgmma_t{t}', n, k, t,
                                   kind='wgmma', out=dt, bench=True))
    # As in the model: the RMSNorm folded into qkv and gate_up, its weight
    # in W's columns (rms), or in the kernel's prologue (norm).
    for t in (4, 16, 64, 128, 256):
        for n, k, tag in [(6144, 4096, 'qkv'), (28672, 4096, 'gate_up')]:
            out.append(linear_case(f'lin_{tag}_rms_wgmma_t{t}', n, k, t,
                                   kind='wgmma', rms=True, bench=True))
            out.append(linear_case(f'lin_{tag}_norm_wgmma_t{t}', n, k, t,
                                   kind='wgmma', norm=True, bench=True))
    # The sums of x^2 of the RMS scale: by mma.sync (16-token groups; one or
    # two per warp; K splits in a cluster) or, at 8 tokens, CUDA cores.
    out.append(linear_case('lin_wgmma_rms_odd_ks3_t64', 1003, 1536, 64,
                           kind='wgmma', k_split=3, bias=True, residual=True,
                           rms=True))
    out.append(linear_case('lin_wgmma_rms_t256', 4096, 4096, 256,
                           kind='wgmma', rms=True))
    out.append(linear_case('lin_wgmma_rms_t8', 1000, 1088, 8, kind='wgmma',
                           rms=True))
    # silu_mul in the gate/up epilogue: the GEMV (partials + reduce), wgmma
    # alone (one block: gate rows and the matching up rows), in a cluster
    # (odd width: scalar stores), and split through the workspace.
    for t, kind in ((1, 'gemv'), (4, 'wgmma'), (16, 'wgmma'), (64, 'wgmma'),
                    (128, 'wgmma'), (256, 'wgmma')):
        out.append(linear_case(f'lin_gate_up_act_{kind}_t{t}', 28672, 4096, t,
                               kind=kind, rms=True, act=True, bench=True))
    # Without the RMS scale: what the fused gate/up would take if the sums
    # of x^2 came from elsewhere.
    for t in (64, 128):
        out.append(linear_case(f'lin_gate_up_act_plain_wgmma_t{t}', 28672,
                               4096, t, kind='wgmma', act=True, bench=True))
    out.append(linear_case('lin_act_odd_ks3_t64', 2004, 1536, 64,
                           kind='wgmma', k_split=3, bias=True, rms=True,
                           act=True))
    out.append(linear_case('lin_act_ks10_t16', 2048, 2560, 16, kind='wgmma',
                           k_split=10, act=True))
    out.append(linear_case('lin_act_mma_t16', 1024, 512, 16, kind='mma',
                           rms=True, act=True))
    out.append(linear_case('lin_act_gemv_ks2_t4', 1000, 1024, 4, k_split=2,
                           act=True))
    out.append(linear_case('lin_qkv_rms_t1', 6144, 4096, 1, rms=True,
                           bench=True))
    out.append(linear_case('lin_rms_mma_t16', 6144, 4096, 16, kind='mma',
                           rms=True, residual=True))
    out.append(linear_case('lin_rms_ks4_t8', 4096, 4096, 8, k_split=4,
                           rms=True))
    for t in (64, 128):
        out.append(linear_case(f'lin_lm_head_wgmma_t{t}', 128256, 4096, t,
                               kind='wgmma', out='f32', bench=True))
    out.append(linear_case('lin_wgmma_fused_t64', 6144, 4096, 64,
                           kind='wgmma', bias=True, residual=True, norm=True))
    out.append(linear_case('lin_wgmma_norm_t256', 4096, 4096, 256,
                           kind='wgmma', norm=True))
    out.append(linear_case('lin_wgmma_odd_t256', 1003, 576, 256,
                           kind='wgmma', bias=True))
    out.append(linear_case('lin_wgmma_odd_t4', 1003, 576, 4, kind='wgmma',
                           bias=True, residual=True, norm=True))
    out.append(linear_case('lin_wgmma_ks2_t16', 1000, 1088, 16,
                           kind='wgmma', k_split=2, residual=True, norm=True))
    # In-cluster K reduce (wgmma-cluster-reduce, the default): N not a
    # multiple of 4 (scalar epilogue) with every epilogue part, and an f32
    # output over a cluster of 8.
    out.append(linear_case('lin_wgmma_odd_ks3_t64', 1003, 1536, 64,
                           kind='wgmma', k_split=3, bias=True, residual=True,
                           norm=True))
    out.append(linear_case('lin_wgmma_f32_ks8_t16', 4096, 4096, 16,
                           kind='wgmma', k_split=8, out='f32',
                           residual=True))
    # Norm and elementwise.
    out.append(simple_case('rms_norm', 'rms_norm', '''
func.func @rms_norm(%x: tensor<?x4096xbf16>) -> tensor<?x4096xbf16> {
  %g = decode.weight ["g"] : tensor<4096xbf16>
  %y = decode.rms_norm %x, %g {epsilon = 1.0e-05 : f32} : tensor<?x4096xbf16>, tensor<4096xbf16>
  return %y : tensor<?x4096xbf16>
}
''', n=4096, eps=1e-5))
    out.append(simple_case('rms_norm_odd', 'rms_norm', '''
func.func @rms_norm_odd(%x: tensor<?x1000xbf16>) -> tensor<?x1000xbf16> {
  %g = decode.weight ["g"] : tensor<1000xbf16>
  %y = decode.rms_norm %x, %g {epsilon = 1.0e-06 : f32} : tensor<?x1000xbf16>, tensor<1000xbf16>
  return %y : tensor<?x1000xbf16>
}
''', n=1000, eps=1e-6))
    out.append(simple_case('add', 'add', '''
func.func @add(%a: tensor<?x4096xbf16>, %b: tensor<?x4096xbf16>) -> tensor<?x4096xbf16> {
  %y = decode.add %a, %b : tensor<?x4096xbf16>
  return %y : tensor<?x4096xbf16>
}
''', n=4096))
    out.append(simple_case('silu_mul_packed', 'silu_mul_packed', '''
func.func @silu_mul_packed(%gu: tensor<?x28672xbf16>) -> tensor<?x14336xbf16> {
  %y = decode.silu_mul %gu : tensor<?x28672xbf16> -> tensor<?x14336xbf16>
  return %y : tensor<?x14336xbf16>
}
''', n=14336))
    out.append(simple_case('silu_mul', 'silu_mul', '''
func.func @silu_mul(%g: tensor<?x1000xbf16>, %u: tensor<?x1000xbf16>) -> tensor<?x1000xbf16> {
  %y = decode.silu_mul %g, %u : tensor<?x1000xbf16>, tensor<?x1000xbf16> -> tensor<?x1000xbf16>
  return %y : tensor<?x1000xbf16>
}
''', n=1000))
    out.append(simple_case('embed', 'embed', '''
func.func @embed(%t: tensor<?xi32>) -> tensor<?x4096xbf16> {
  %e = decode.weight ["e"] : tensor<5000x4096xbf16>
  %y = decode.embed %t, %e : (tensor<?xi32>, tensor<5000x4096xbf16>) -> tensor<?x4096xbf16>
  return %y : tensor<?x4096xbf16>
}
''', n=4096, vocab=5000))
    out.append(simple_case('slice', 'slice', '''
func.func @slice(%x: tensor<?x6144xbf16>) -> tensor<?x1024xbf16> {
  %y = decode.slice %x[4096] : tensor<?x6144xbf16> -> tensor<?x1024xbf16>
  return %y : tensor<?x1024xbf16>
}
''', n=1024, width=6144, offset=4096))
    out.append(simple_case('gather_tokens', 'gather_tokens', '''
func.func @gather_tokens(%x: tensor<?x4096xbf16>, %i: tensor<?xi32>) -> tensor<?x4096xbf16> {
  %y = decode.gather_tokens %x[%i] : tensor<?x4096xbf16>, tensor<?xi32> -> tensor<?x4096xbf16>
  return %y : tensor<?x4096xbf16>
}
''', n=4096))
    out.append(simple_case('sample', 'sample', '''
func.func @sample(%l: tensor<?x128256xf32>, %t: tensor<?xf32>, %k: tensor<?xi32>, %p: tensor<?xf32>, %s: tensor<?xi64>) -> tensor<?xi32> {
  %y = decode.sample %l, %t, %k, %p, %s : tensor<?x128256xf32>, tensor<?xf32>, tensor<?xi32>, tensor<?xf32>, tensor<?xi64> -> tensor<?xi32>
  return %y : tensor<?xi32>
}
''', vocab=128256, bench=True))
    # A vocabulary that is not a multiple of the 16-byte vector.
    out.append(simple_case('sample_odd', 'sample', '''
func.func @sample_odd(%l: tensor<?x1001xf32>, %t: tensor<?xf32>, %k: tensor<?xi32>, %p: tensor<?xf32>, %s: tensor<?xi64>) -> tensor<?xi32> {
  %y = decode.sample %l, %t, %k, %p, %s : tensor<?x1001xf32>, tensor<?xf32>, tensor<?xi32>, tensor<?xf32>, tensor<?xi64> -> tensor<?xi32>
  return %y : tensor<?xi32>
}
''', vocab=1001))
    return out


# Tuning variants: (tag, convert-decode-to-gpu options, cases it applies
# to). kernels.py checks and times each against the default kernels.
VARIANTS = [
    ('r2u4', 'gemv-rows-per-warp=2 gemv-unroll=4',
     lambda meta: meta.get('variant')),
] + [(tag, opts, lambda meta: meta.get('variant'))
     for tag, opts in (('early0', 'gemv-early-slabs=0'),
                       ('early4', 'gemv-early-slabs=4'))] + [(tag, opts, lambda meta: meta.get('kind') == 'wgmma' and meta.get('bench'))
     for tag, opts in (('cpasync', 'wgmma-cp-async=1'),
                       ('wg1', 'wgmma-warpgroups=1'),
                       ('wg2', 'wgmma-warpgroups=2'),
                       ('wg3', 'wgmma-warpgroups=3'),
                       ('nodeep', 'wgmma-deep-ring=0'),
                       ('n128', 'wgmma-n-tile=128'),
                       # the K split through a workspace and a reduce launch
                       ('noclu', 'wgmma-cluster-reduce=0'),
                       # the reduce launch instead of the last split
                       ('noserial', 'wgmma-serial-reduce=0'),
                       ('bps1', 'wgmma-blocks-per-sm=1'),
                       ('bps2', 'wgmma-blocks-per-sm=2'),
                       ('tt2', 'wgmma-token-tiles=2'),
                       ('tt2wg1', 'wgmma-token-tiles=2 wgmma-warpgroups=1'),
                       ('tt4wg1', 'wgmma-token-tiles=4 wgmma-warpgroups=1'),
                       ('k128', 'wgmma-k-tile=128'),
                       # one stage further ahead, each stage's wgmmas waited
                       ('wait0', 'wgmma-wait-groups=0'))] + [
    # Clusters of two blocks sharing x or W by TMA multicast (not the
    # default; every wgmma case).
    ('mc', 'wgmma-multicast=1', lambda meta: meta.get('kind') == 'wgmma'),
    # Tokens as M, W rows as N, one wave of row tiles (every wgmma case).
    ('onn', 'wgmma-weights-on-n=1', lambda meta: meta.get('kind') == 'wgmma'),
    ('onn128', 'wgmma-weights-on-n=1 wgmma-k-tile=128',
     lambda meta: meta.get('kind') == 'wgmma'),
    # The RMS-scaled wgmma linears from 128 tokens (the grid's sums of
    # x^2): every block summing its tile's tokens itself (the fallback
    # path), or the sums per stage on the tensor cores (W on M for qkv).
    ('ownsums', 'wgmma-grid-sums=2',
     lambda meta: meta.get('kind') == 'wgmma' and meta.get('rms')
     and meta.get('bucket', 0) >= 128),
    ('stagesums', 'wgmma-grid-sums=0',
     lambda meta: meta.get('kind') == 'wgmma' and meta.get('rms')
     and meta.get('bucket', 0) >= 128)]

DICT = re.compile(r'\{args = \[(?P<args>[^\]]*)\], block = array<i64: (?P<block>[^>]*)>, '
                  r'(?:counter_words_per_token = (?P<cw>\d+) : i64, )?'
                  r'grid = array<i64: (?P<grid>[^>]*)>, grid_scale = \[(?P<scale>[^\]]*)\], '
                  r'kernel = @decode_kernels::@(?P<kernel>\w+), max_tokens = (?P<max>\d+) : i64, (?:programmatic = true, )?'
                  r'shared_bytes = (?P<shared>\d+) : i64, workspace_bytes = (?P<ws>\d+) : i64, '
                  r'workspace_bytes_per_token = (?P<wst>\d+) : i64\}')


def parse_launches(converted, names):
    """decode.launches of the single compute op of each case function."""
    result = {}
    for name in names:
        m = re.search(r'func\.func @' + name + r'\(.*?\n  \}', converted, re.S)
        assert m, name
        launches = []
        for d in DICT.finditer(m.group(0)):
            launches.append(dict(
                kernel=d['kernel'], max_tokens=int(d['max']),
                grid=[int(v) for v in d['grid'].split(',')],
                grid_scale=[s.strip().strip('"') for s in d['scale'].split(',')],
                block=[int(v) for v in d['block'].split(',')],
                shared_bytes=int(d['shared']), workspace_bytes=int(d['ws']),
                workspace_bytes_per_token=int(d['wst']),
                counter_words_per_token=int(d['cw'] or 0),
                args=[a.strip().strip('"') for a in d['args'].split(',')]))
        assert launches, f'no decode.launches in {name}'
        result[name] = launches
    return result


def main():
    global OUT
    parser = argparse.ArgumentParser()
    parser.add_argument('--infer-opt',
                        default=os.path.join(ROOT, 'build-gpu/bin/infer-opt'))
    parser.add_argument('--out', default=OUT,
                        help='output folder (kernels.py reads '
                             'INFER_KERNELS_DIR, default bench/kernels/out)')
    args = parser.parse_args()
    OUT = args.out
    os.makedirs(OUT, exist_ok=True)
    all_cases = cases()
    src = os.path.join(OUT, 'cases.mlir')
    with open(src, 'w') as f:
        for _, mlir, _ in all_cases:
            f.write(mlir.strip() + '\n\n')
    converted = subprocess.run([args.infer_opt, '--convert-decode-to-gpu', src],
                               check=True, capture_output=True, text=True).stdout
    launches = parse_launches(converted, [c[0] for c in all_cases])
    import importlib.util
    spec = importlib.util.spec_from_file_location(
        'extract_ptx', os.path.join(ROOT, 'utils', 'extract-ptx.py'))
    extract = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(extract)
    def compile_to(path, fmt, opts=''):
        text = subprocess.run(
            [args.infer_opt,
             f'--infer-decode-to-cuda-pipeline=format={fmt} optimize=false '
             f'{opts}', src], check=True, capture_output=True, text=True).stdout
        (_, _, data), = list(extract.objects(text))
        with open(path, 'wb') as f:
            f.write(data)

    for fmt, ext in (('bin', 'cubin'), ('isa', 'ptx')):
        compile_to(os.path.join(OUT, f'kernels.{ext}'), fmt)
    # Tuning variants (same kernel names; grids, launches and kernels may
    # differ): kernels.py checks and times each on the cases it applies to.
    variants = {}
    for stale in os.listdir(OUT):
        if stale.startswith('kernels_') and stale.endswith('.cubin'):
            os.remove(os.path.join(OUT, stale))
    for tag, opts, applies in VARIANTS:
        conv = subprocess.run(
            [args.infer_opt, f'--convert-decode-to-gpu={opts}', src],
            check=True, capture_output=True, text=True).stdout
        compile_to(os.path.join(OUT, f'kernels_{tag}.cubin'), 'bin', opts)
        variants[tag] = parse_launches(
            conv, [c[0] for c in all_cases if applies(c[2])])
    manifest = [dict(name=name, launches=launches[name],
                     variants={tag: v[name] for tag, v in variants.items()
                               if name in v}, **meta)
                for name, _, meta in all_cases]
    with open(os.path.join(OUT, 'manifest.json'), 'w') as f:
        json.dump(manifest, f, indent=1)
    size = sum(os.path.getsize(os.path.join(OUT, p)) for p in os.listdir(OUT))
    print(f'{len(manifest)} cases, {size / 1e6:.1f} MB in {OUT}')


if __name__ == '__main__':
    main()
