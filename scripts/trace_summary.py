#!/usr/bin/env python3
"""Tabulate a Chrome trace written by `fedkseed bench --trace DIR`.

    scripts/trace_summary.py DIR/decode_b64.json [--top 25]

With GPU kernels in the trace: the span from the first kernel's start to the last one's end, the
time at least one kernel ran (busy) and the idle rest, then each kernel name's count, total time,
share of busy time and mean. On a CPU-only trace: the same table for the CPU operators
(inclusive times, so nested operators count in their parents too).
"""
import argparse
import collections
import json
import sys


def busy_time(intervals):
    """Length of the union of [start, end) intervals."""
    total, reach = 0.0, None
    for start, end in sorted(intervals):
        if reach is None or start > reach:
            total += end - start
            reach = end
        elif end > reach:
            total += end - reach
            reach = end
    return total


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('trace')
    parser.add_argument('--top', type=int, default=25, help='names listed (default 25)')
    args = parser.parse_args()
    try:
        with open(args.trace) as f:
            trace = json.load(f)
    except (OSError, ValueError) as error:
        sys.exit(f'trace_summary: {args.trace}: {error}')
    events = trace.get('traceEvents', []) if isinstance(trace, dict) else trace
    timed = [e for e in events if e.get('ph') == 'X' and 'dur' in e]
    device = [e for e in timed if e.get('cat') in ('kernel', 'gpu_memcpy', 'gpu_memset')]
    rows = device or [e for e in timed if e.get('cat') == 'cpu_op']
    if not rows:
        sys.exit(f'trace_summary: {args.trace}: no kernels or CPU operators in the trace')
    intervals = [(e['ts'], e['ts'] + e['dur']) for e in rows]
    span = max(end for _, end in intervals) - min(start for start, _ in intervals)
    busy = busy_time(intervals)
    kind = 'kernels' if device else 'CPU operators'
    print(f'{args.trace}: {len(rows)} {kind}; span {span / 1e3:.3f} ms, busy {busy / 1e3:.3f} ms '
          f'({100 * busy / span:.1f} %), idle {(span - busy) / 1e3:.3f} ms')
    totals, counts = collections.defaultdict(float), collections.Counter()
    for e in rows:
        totals[e['name']] += e['dur']
        counts[e['name']] += 1
    print(f'{"count":>7} {"total ms":>10} {"% busy":>7} {"mean us":>9}  name')
    for name, total in sorted(totals.items(), key=lambda item: -item[1])[:args.top]:
        short = name if len(name) <= 110 else name[:107] + '...'
        print(f'{counts[name]:>7} {total / 1e3:>10.3f} {100 * total / busy:>7.1f} {total / counts[name]:>9.2f}  {short}')


if __name__ == '__main__':
    main()
