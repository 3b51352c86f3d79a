"""Benchmark of the CCSDS decoder: packets/s and MB/s against numpy alone and a per-packet loop.

Run: ``python packages/fermi-ingest/bench/bench_decode.py [--mbytes 64]``. Writes one packet file
of event datagrams (two EPUs) and spacecraft records to a temporary directory, then times
(best of ``--repeat``):

* ``numpy.fromfile`` of the file: the floor (reading the bytes, nothing else);
* :func:`fermi_ingest.ccsds.decode_file`: read + numba boundary walk + numpy field extraction;
* a naive decoder: ``struct.unpack_from`` per packet in a Python loop, same checks.

The file is read from the page cache in every case (it was just written), so the numbers compare
CPU cost, not the disk.
"""

from __future__ import annotations

import argparse
import struct
import tempfile
import time
from pathlib import Path

import numpy as np

from fermi_ingest import synthetic as sy
from fermi_ingest.ccsds import decode_file, encode_packets


def naive_decode(path: Path) -> int:
    """Per-packet Python loop with the same header checks and columns; returns the packet count."""
    data = path.read_bytes()
    n, p = len(data), 0
    apids = {955, 956, 957, 958, 1020}
    cols: tuple[list[int], ...] = ([], [], [], [], [], [], [])
    while p + 14 <= n:
        w0, w1, dlen, sec, usec = struct.unpack_from(">HHHII", data, p)
        total = dlen + 7
        if w0 >> 11 != 1 or (w0 & 0x7FF) not in apids or usec >= 1_000_000 or p + total > n:
            p += 1
            continue
        for col, v in zip(cols, (p, total, w0 & 0x7FF, w1 >> 14, w1 & 0x3FFF, sec, usec), strict=True):
            col.append(v)
        p += total
    arrays = [np.asarray(c, dtype=np.int64) for c in cols]
    return int(arrays[0].size)


def best(fn, repeat: int) -> tuple[float, object]:
    times, out = [], None
    for _ in range(repeat):
        out = None  # free the previous result first: every run allocates from the same state
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return min(times), out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mbytes", type=float, default=64.0, help="file size, MB (default 64)")
    parser.add_argument("--body-bytes", type=int, default=1500, help="datagram size, bytes (default 1500)")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    body = args.body_bytes
    n_dgm = max(1, int(args.mbytes * 1e6 / 2 / (body + 46)))
    cols = sy.interleave(
        [
            sy.event_stream(956, 600_000_000, n_dgm, 6e8, cadence=0.05, body_bytes=body, seed=1),
            sy.event_stream(957, 600_000_000, n_dgm, 6e8 + 0.01, cadence=0.05, body_bytes=body, seed=2),
            sy.spacecraft_stream(6e8, int(n_dgm * 0.05) + 1),
        ]
    )
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench.pkt"
        encode_packets(cols).tofile(path)
        size_mb = path.stat().st_size / 1e6
        decode_file(path)  # compile the kernel (or load it from the cache) before timing
        t_np, _ = best(lambda: np.fromfile(path, dtype=np.uint8), args.repeat)
        t_dec, table = best(lambda: decode_file(path), args.repeat)
        t_naive, n_naive = best(lambda: naive_decode(path), 1)
    n = len(table)
    assert n == n_naive == len(cols) and not table.malformed
    print(f"file: {size_mb:.1f} MB, {n} packets (mean {size_mb * 1e6 / n:.0f} B/packet)")
    print(f"{'method':<34}{'time s':>10}{'MB/s':>10}{'packets/s':>14}")
    for name, t in (
        ("numpy.fromfile (floor)", t_np),
        ("fermi_ingest decode_file", t_dec),
        ("per-packet Python loop", t_naive),
    ):
        print(f"{name:<34}{t:>10.4f}{size_mb / t:>10.0f}{n / t:>14.3g}")
    print(
        f"decode_file / floor: {t_dec / t_np:.2f}x the time; speed-up over the loop: {t_naive / t_dec:.1f}x"
    )


if __name__ == "__main__":
    main()
