#!/usr/bin/env python3
"""Summarizes `infer-run --bench --timeline out.jsonl` (one decode step per
batch; kernels compiled with --target-options=timeline=1).

  python3 bench/e2e/timeline_report.py out.jsonl [more.jsonl ...] [--batch B]

For each file and batch: the step's span; per op (linear kernels split by
their kernel name) the launches, the time from a launch's first block start
to its last block end ("busy", summed: with programmatic launch it includes
blocks waiting for the previous kernel), the step time it accounts for
("own": from the previous launch's end, or its own start if later, to its
end; the launches' own times sum to the span), and the time until the next
launch started ("to next": negative where programmatic launch overlapped
them). Then the largest gaps.
"""
import argparse
import collections
import json


def load(path):
    by_batch = collections.defaultdict(list)
    for line in open(path):
        if line.strip():
            row = json.loads(line)
            by_batch[row['batch']].append(row)
    for rows in by_batch.values():
        rows.sort(key=lambda r: r['start_us'])
    return by_batch


def family(row):
    """The op, with the linear's kernel family (gemv, wgmma, reduce...)."""
    if row['op'] != 'linear':
        return row['op']
    kernel = row['kernel'].rsplit('_', 1)[0]
    return f'linear:{kernel}'


def report(path, batch, rows):
    span = rows[-1]['end_us'] - rows[0]['start_us']
    busy = collections.defaultdict(float)
    own = collections.defaultdict(float)
    to_next = collections.defaultdict(float)
    count = collections.Counter()
    gaps = []
    for i, r in enumerate(rows):
        f = family(r)
        count[f] += 1
        busy[f] += r['end_us'] - r['start_us']
        since = r['start_us'] if i == 0 else max(rows[i - 1]['end_us'],
                                                 r['start_us'])
        own[f] += r['end_us'] - since
        if i + 1 < len(rows):
            nxt = rows[i + 1]
            to_next[f] += nxt['start_us'] - r['end_us']
            gaps.append((nxt['start_us'] - r['end_us'], r, nxt))
    print(f'{path} batch {batch}: {len(rows)} launches, span {span:.1f} us, '
          f'busy {sum(busy.values()):.1f} us, to next '
          f'{sum(to_next.values()):+.1f} us')
    print(f'  {"op / kernel":34s} {"n":>4s} {"own us":>9s} {"per launch":>10s} '
          f'{"busy us":>9s} {"to next us":>10s}')
    for f in sorted(own, key=lambda k: -own[k]):
        print(f'  {f:34s} {count[f]:4d} {own[f]:9.1f} {own[f] / count[f]:10.2f} '
              f'{busy[f]:9.1f} {to_next[f]:+10.1f}')
    gaps.sort(key=lambda g: -g[0])
    print('  largest gaps (us): ' + ', '.join(
        f'{g:.1f} {family(a)}->{family(b)}' for g, a, b in gaps[:5]))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('files', nargs='+')
    ap.add_argument('--batch', type=int)
    args = ap.parse_args()
    for path in args.files:
        for batch, rows in sorted(load(path).items()):
            if args.batch is None or batch == args.batch:
                report(path, batch, rows)
                print()


if __name__ == '__main__':
    main()
