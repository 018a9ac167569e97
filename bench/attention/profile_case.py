#!/usr/bin/env python3
"""Runs one attention benchmark case a few times, for a profiler:

  ncu --kernel-name regex:paged_attention --launch-skip 2 --launch-count 1 \
      python3 bench/attention/profile_case.py dec_32_8_128 1 32768

arguments: kernel name (bench/attention/out/NAME.cubin), batch, context,
[launches] (default 3); without arguments dec_32_8_128 at batch 128, context
512 (what bench/gpu-check.sh runs: a smoke test of the profiler target).
Harness helpers come from attn_bench.py.
"""
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import attn_bench as ab  # noqa: E402


def main():
    args = sys.argv[1:] or ['dec_32_8_128', '128', '512']
    if len(args) < 3:
        sys.exit(__doc__)
    name, batch, context = args[0], int(args[1]), int(args[2])
    launches = int(args[3]) if len(args) > 3 else 3
    own = os.path.exists(os.path.join(ab.OUT, name + '.launches.json'))
    mod = ab.Module(name, None if own else 'dec_32_8_128')
    contexts = [context] * batch
    pool, bt = ab.make_cache(contexts, 8, 128, extra_blocks=0)
    pool.nan_to_num_(0.0)
    q = torch.randn(batch, 32 * 128, device=ab.DEV, dtype=torch.bfloat16)
    out, (ctx, qs, ws, scal) = ab.run_attention(mod, q, pool, bt, contexts,
                                                [1] * batch)
    for _ in range(launches - 1):
        mod.run(0, [q, pool, bt, ctx, qs], [out], scal, ws)
    torch.cuda.synchronize()
    print(f'{name}: batch {batch}, context {context}, {launches} launches')
    return 0


if __name__ == '__main__':
    sys.exit(main())
