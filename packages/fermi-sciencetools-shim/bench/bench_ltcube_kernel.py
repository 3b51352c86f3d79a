#!/usr/bin/env python
"""Time the gtltcube livetime kernel alone, in ns per (pixel, FT2 row) pair.

Rows are consecutive rows of the real weekly 30 s FT2 ``pint/lat_spacecraft_weekly_w323_p202_v001.fits``
(so the pointing moves as in survey mode); the grid is NSIDE 64 (binsz 1 deg), 40 cos-theta
bins (dcostheta 0.025), zmax 105 deg, as in the fermipy run the real-tool figures come from.
The real gtltcube does about 9 ns per pixel-row (7722 s for 16.8 M rows x 49152 pixels).

Prints the best of ``--repeat`` wall times and the process CPU time per pixel-row (the CPU
figure is the one to compare between kernel versions on a shared machine), for 1 thread and
for the default number of threads, with the load average. Not a test.

Usage: ``python bench_ltcube_kernel.py [--rows 4000] [--data ../shared/data]``.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

REAL_NS_PER_PIXEL_ROW = 7722.0 / (16.8e6 * 49152) * 1e9
ROOT = Path(__file__).resolve().parents[3]


def main(argv: list[str] | None = None) -> int:
    """Time the kernel; return 0."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=4000, help="FT2 rows to accumulate (default 4000)")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument(
        "--data",
        type=Path,
        default=Path(os.environ.get("FERMI_SHARED_DATA", ROOT.parent / "shared" / "data")),
    )
    args = parser.parse_args(argv)
    source = args.data / "pint" / "lat_spacecraft_weekly_w323_p202_v001.fits"
    if not source.is_file():
        print(f"bench_ltcube_kernel: error: {source} not found (set --data)", file=sys.stderr)
        return 1
    from fermi_sciencetools_shim.gti import Gti
    from fermi_sciencetools_shim.io.ft2 import read_ft2
    from fermi_sciencetools_shim.ltcube.grid import LivetimeGrid
    from fermi_sciencetools_shim.ltcube.livetime import default_threads, livetime_cube

    names = ("START", "STOP", "LIVETIME", "RA_SCZ", "DEC_SCZ", "RA_ZENITH", "DEC_ZENITH")
    ft2 = {k: v[: args.rows] for k, v in read_ft2(source, names).items()}
    nrows = ft2["START"].size
    gti = Gti.from_intervals([ft2["START"][0]], [ft2["STOP"][-1]])
    grid = LivetimeGrid.build(64)
    small = {k: v[:50] for k, v in ft2.items()}
    livetime_cube(grid, gti, small, 40, zmax=105.0, threads=1)  # compile or load the cache
    print(f"{nrows} FT2 rows x {grid.npix} pixels, 40 bins, zmax 105; load average "
          f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}")  # fmt: skip
    print(
        f"{'threads':>7} {'wall ns/pix-row':>16} {'cpu ns/pix-row':>15} {'s per M rows':>13} {'vs real':>8}"
    )
    for threads in sorted({1, default_threads()}):
        best_wall, best_cpu = float("inf"), float("inf")
        for _ in range(args.repeat):
            wall, cpu = time.perf_counter(), time.process_time()
            livetime_cube(grid, gti, ft2, 40, zmax=105.0, threads=threads)
            best_wall = min(best_wall, time.perf_counter() - wall)
            best_cpu = min(best_cpu, time.process_time() - cpu)
        pairs = nrows * grid.npix
        ns = best_wall / pairs * 1e9
        print(f"{threads:>7} {ns:16.3f} {best_cpu / pairs * 1e9:15.3f} {best_wall / nrows * 1e6:13.1f} "
              f"{REAL_NS_PER_PIXEL_ROW / ns:7.1f}x")  # fmt: skip
    print(f"real gtltcube: {REAL_NS_PER_PIXEL_ROW:.2f} ns per pixel-row")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
