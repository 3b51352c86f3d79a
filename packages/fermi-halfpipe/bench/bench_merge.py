"""Benchmark (not a test): merge throughput of the two EPU streams, in events per second.

Measures, on the same input in one run, exactly the code a merge runs in production
(:func:`fermi_halfpipe.release.deliver_run` → :func:`fermi_halfpipe.release.merge_order` and
:func:`fermi_halfpipe.release.gather_records`):

* the merge order by GEM sequence with the numba kernel (:func:`fermi_halfpipe.merge.merge_streams`,
  ``engine="numba"``: :func:`fermi_halfpipe._kernels.merge_order`, a two-pointer merge), and with
  its numpy reference (``engine="reference"``: concatenate + stable argsort);
* the production merge of a span, :func:`fermi_halfpipe.release.merge_order` (per-EPU sort,
  repeated-number check, kernel merge);
* the gather of every record into merged order (:func:`fermi_halfpipe.release.gather_records`:
  the numba kernel :func:`fermi_halfpipe._kernels.gather_records`, and its numpy twin);
* a plain memory copy of the same number of bytes (the physical floor of the gather).

Targets (issue 5): kernel ≥ 10× the reference, and the gather within 3× of the copy.

Usage: ``python bench_merge.py [--events N] [--repeat R]``.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from fermi_halfpipe.merge import merge_streams
from fermi_halfpipe.release import gather_records, merge_order
from fermi_halfpipe.synthetic import make_events


def build(n_events: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Events of two EPUs, as a decoded store holds them (tiled from a 4000-event template).

    Returns ``(gem, apid_is_a, offsets, lengths, buffer)``: per event its GEM number, whether it
    is of the first EPU, and where its record lies in ``buffer`` (EPU a's records, then EPU b's).
    """
    rng = np.random.default_rng(seed)
    template, tlen, _ = make_events(rng, 4000)
    toff = np.cumsum(tlen) - tlen
    reps = -(-n_events // tlen.size)
    lengths = np.tile(tlen, reps)[:n_events]
    epu = rng.integers(0, 2, n_events)
    gem = np.cumsum(rng.integers(1, 4, n_events)).astype(np.uint64)
    order = np.r_[np.flatnonzero(epu == 0), np.flatnonzero(epu == 1)]
    lengths = lengths[order].astype(np.int64)
    src_off = np.tile(toff, reps)[:n_events][order]
    offsets = np.cumsum(lengths) - lengths
    buf = np.empty(int(lengths.sum()), dtype=np.uint8)
    buf[:] = template[np.arange(buf.size, dtype=np.int64) + np.repeat(src_off - offsets, lengths)]
    return gem[order], epu[order] == 0, offsets.astype(np.int64), lengths, buf


def best(fn, repeat: int) -> float:
    """Best wall time of ``repeat`` calls of ``fn`` (s)."""
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
    gem, is_a, off, ln, buf = build(args.events)
    n = gem.size
    a_sel, b_sel = np.flatnonzero(is_a), np.flatnonzero(~is_a)
    a, b = gem[a_sel], gem[b_sel]
    # compile, and check the kernel against its reference and the production path, first
    kern, ref = merge_streams(a, b, engine="numba"), merge_streams(a, b, engine="reference")
    assert np.array_equal(kern.order, ref.order), "kernel and reference disagree"
    out, dup = merge_order(gem, a_sel, b_sel)
    assert dup == 0 and np.array_equal(out, np.concatenate([a_sel, b_sel])[kern.order])
    records, _ = gather_records(buf, off[out], ln[out])
    assert records.size == buf.size
    copy_out = np.zeros_like(buf)
    t_kernel = best(lambda: merge_streams(a, b, engine="numba"), args.repeat)
    t_ref = best(lambda: merge_streams(a, b, engine="reference"), args.repeat)
    t_span = best(lambda: merge_order(gem, a_sel, b_sel), args.repeat)
    t_gather = best(lambda: gather_records(buf, off[out], ln[out]), args.repeat)
    t_gather_ref = best(lambda: gather_records(buf, off[out], ln[out], engine="reference"), args.repeat)
    t_copy = best(lambda: np.copyto(copy_out, buf), args.repeat)
    print(f"{n} events, {buf.size / 1e6:.1f} MB of records ({buf.size / n:.0f} bytes/event)")
    for name, t in (
        ("merge, numba kernel", t_kernel),
        ("merge, numpy reference", t_ref),
        ("span merge (production)", t_span),
        ("record gather, kernel", t_gather),
        ("record gather, reference", t_gather_ref),
        ("memory copy", t_copy),
    ):
        print(
            f"  {name:24s} {t * 1e3:9.2f} ms  {n / t / 1e6:8.2f} M events/s  {buf.size / t / 1e9:6.2f} GB/s"
        )
    print(f"  kernel vs reference: {t_ref / t_kernel:.1f}x faster (target >= 10x)")
    print(f"  gather kernel vs reference: {t_gather_ref / t_gather:.1f}x faster")
    print(f"  gather vs copy:      {t_gather / t_copy:.1f}x slower (target <= 3x)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
