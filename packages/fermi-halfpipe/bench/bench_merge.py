"""Benchmark (not a test): merge throughput of the two EPU streams, in events per second.

Compares, on the same input in one run:

* the numba kernel :func:`fermi_halfpipe._kernels.merge_gather` (two-pointer merge by GEM
  sequence + copy of every record into merged order),
* its numpy reference :func:`fermi_halfpipe._reference.merge_gather` (concatenate + stable
  argsort + fancy-index gather),
* a plain memory copy of the same number of bytes (the physical floor).

Targets (issue 5): kernel ≥ 10× the reference, and within 3× of the copy.

Usage: ``python bench_merge.py [--events N] [--repeat R]``.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from fermi_halfpipe import _kernels, _reference
from fermi_halfpipe.synthetic import make_events


def build(n_events: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Two EPU streams of ``n_events`` real-format event records (tiled from a 4000-event template)."""
    rng = np.random.default_rng(seed)
    template, tlen, _ = make_events(rng, 4000)
    toff = np.cumsum(tlen) - tlen
    reps = -(-n_events // tlen.size)
    lengths = np.tile(tlen, reps)[:n_events]
    epu = rng.integers(0, 2, n_events)
    gem = np.cumsum(rng.integers(1, 4, n_events)).astype(np.uint64)
    # the records of EPU a, then those of EPU b, as they sit in the per-EPU datagram stores
    order = np.r_[np.flatnonzero(epu == 0), np.flatnonzero(epu == 1)]
    lengths = lengths[order]
    src_off = np.tile(toff, reps)[:n_events][order]
    offsets = np.cumsum(lengths) - lengths
    buf = np.empty(int(lengths.sum()), dtype=np.uint8)
    gather = np.arange(buf.size, dtype=np.int64) + np.repeat(src_off - offsets, lengths)
    buf[:] = template[gather]
    return gem[epu == 0], gem[epu == 1], offsets.astype(np.int64), lengths.astype(np.int64), buf


def best(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=500_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    a, b, off, ln, buf = build(args.events)
    n = a.size + b.size
    # compile (and check the two implementations agree) on a small slice first
    out = np.zeros_like(buf)  # preallocated and touched once, for all three
    out_ref = np.zeros_like(buf)
    _kernels.merge_gather(a, b, off, ln, buf, out)
    _reference.merge_gather(a, b, off, ln, buf, out_ref)
    assert np.array_equal(out, out_ref), "kernel and reference disagree"
    t_kernel = best(lambda: _kernels.merge_gather(a, b, off, ln, buf, out), args.repeat)
    t_ref = best(lambda: _reference.merge_gather(a, b, off, ln, buf, out_ref), args.repeat)
    t_copy = best(lambda: np.copyto(out, buf), args.repeat)
    print(f"{n} events, {buf.size / 1e6:.1f} MB of records ({buf.size / n:.0f} bytes/event)")
    for name, t in (("numba kernel", t_kernel), ("numpy reference", t_ref), ("memory copy", t_copy)):
        print(
            f"  {name:16s} {t * 1e3:9.2f} ms  {n / t / 1e6:8.2f} M events/s  {buf.size / t / 1e9:6.2f} GB/s"
        )
    print(f"  kernel vs reference: {t_ref / t_kernel:.1f}x faster (target >= 10x)")
    print(f"  kernel vs copy:      {t_kernel / t_copy:.1f}x slower (target <= 3x)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
