"""CUDA-event timing shared by the GPU harnesses (bench/kernels/kernels.py,
bench/attention/attn_bench.py).

Each timed region is queued behind a spin kernel (torch.cuda._sleep), so the
host has queued the events and launches before the GPU reaches them: the
events time the GPU alone, not python's launch path.
"""
import statistics

import torch

SLEEP_CYCLES_PER_US = 2000  # a little above the H100's 1.98 GHz boost clock


def _events():
    return (torch.cuda.Event(enable_timing=True),
            torch.cuda.Event(enable_timing=True))


def single_ms(fn, iters, before=None, warmup=5):
    """Median ms of `iters` single launches fn(i), each after before() (an L2
    flush, say) and 100 us of spin."""
    for i in range(warmup):
        fn(i)
    torch.cuda.synchronize()
    times = []
    for i in range(iters):
        if before is not None:
            before()
        start, end = _events()
        torch.cuda._sleep(100 * SLEEP_CYCLES_PER_US)
        start.record()
        fn(i)
        end.record()
        end.synchronize()
        times.append(start.elapsed_time(end))
    return statistics.median(times)


def back_to_back_ms(fn, iters, warmup=5):
    """Per-launch ms of fn(0), ..., fn(iters - 1) queued back to back, as a
    CUDA graph of a decode step runs kernels: a launch overlaps the previous
    one's tail."""
    for i in range(warmup):
        fn(i)
    torch.cuda.synchronize()
    start, end = _events()
    torch.cuda._sleep((100 + 50 * iters) * SLEEP_CYCLES_PER_US)
    start.record()
    for i in range(iters):
        fn(i)
    end.record()
    end.synchronize()
    return start.elapsed_time(end) / iters


def launch_floor_ms(iters=100, before=None):
    """Median ms of single launches of a one-element kernel, timed as
    single_ms times every kernel: launch and completion overhead that no
    single-launch figure can go below."""
    t = torch.zeros(1, device='cuda')
    return single_ms(lambda i: t.add_(1), iters, before)


def copy_tbps(before=None):
    """Device-to-device copy of 1 GiB: (bytes read + written) / time, TB/s."""
    n = 1 << 30
    src = torch.empty(n, dtype=torch.uint8, device='cuda')
    dst = torch.empty_like(src)
    src.random_(0, 255)
    ms = single_ms(lambda i: dst.copy_(src), 20, before)
    return 2 * n / ms / 1e9
