"""Simulator benchmark (not a test): flight-profile throughput and peak memory, against baselines
measured in the same run.

Each configuration runs in a fresh process (``python bench_simulate.py --one ...``) on the same
span and seed and prints wall time, events/s, the peak RSS of the process and of its workers,
and the digest of the deliveries:

* ``numba, N workers``: the simulator as it runs (``SimulationConfig(workers=N)``);
* ``numpy twins``: the same with every detector and record kernel of
  :mod:`fermi_latsim._kernels` replaced by its numpy twin in :mod:`fermi_latsim._reference`
  (same bytes: the digests must agree).

* with ``--compare-src DIR`` (a ``src`` directory of another version of fermi-latsim, e.g. from
  ``git archive``), the numba configurations of that version too, in the same run.

The wall time includes the fixed start-up of a simulation (orbit and IERS tables, a few seconds);
``--hours`` longer than the default dilutes it. A day is extrapolated from the events/s. The CPU
time (user + system, the process and its workers) is printed beside the wall time: on a machine
shared with other work the wall time of the pool says little, the CPU time per event does.

    python packages/fermi-latsim/bench/bench_simulate.py --hours 0.25
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

#: downlinked events in a day at the flight profile's orbit mean (docs/simulation/flight-profile.md)
EVENTS_PER_DAY = 450.0 * 86400 * 0.85  # 0.85 of the day outside the SAA


def _digest(root: Path) -> str:
    h = hashlib.sha256()
    for p in sorted(q for q in (root / "deliveries").rglob("*") if q.is_file()):
        h.update(p.name.encode() + p.read_bytes())
    return h.hexdigest()[:16]


def _one(hours: float, seed: int, workers: int, twins: bool) -> dict:
    from fermi_latsim import _kernels, _reference
    from fermi_latsim.simulate import SimulationConfig, simulate

    if twins:  # the numpy formulation of every kernel the detector and the records use
        for name in ("trigger_vectors", "cal_entries", "track_hits", "dead_time", "cut_datagrams",
                     "contribution_sizes", "write_records", "gather_records", "sync_point",
                     "patch_records", "interleave_packets"):  # fmt: skip
            setattr(_kernels, name, getattr(_reference, name))
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    main0 = me.ru_utime + me.ru_stime
    cpu0 = main0 + kids.ru_utime + kids.ru_stime
    with tempfile.TemporaryDirectory(prefix="bench-latsim-") as tmp:
        t = time.perf_counter()
        summary = simulate(
            Path(tmp), SimulationConfig(hours=hours, seed=seed, profile="flight", workers=workers)
        )
        wall = time.perf_counter() - t
        digest = _digest(Path(tmp))
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    own, children = me.ru_maxrss / 1024, kids.ru_maxrss / 1024
    return {
        "wall": wall,
        "cpu": me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime - cpu0,
        "main_cpu": me.ru_utime + me.ru_stime - main0,
        "events": summary["events"],
        "rss_mb": own,
        "worker_rss_mb": children,
        "digest": digest,
    }


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; return 0 if every configuration gave the same bytes."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--hours", type=float, default=0.1, help="span simulated (default 0.1 h)")
    p.add_argument("--seed", type=int, default=5)
    p.add_argument("--no-twins", action="store_true", help="skip the numpy-twin baseline (slow)")
    p.add_argument("--compare-src", metavar="DIR", help="also run another fermi-latsim's src directory")
    p.add_argument("--one", nargs=2, metavar=("WORKERS", "TWINS"), help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.one:
        print(json.dumps(_one(args.hours, args.seed, int(args.one[0]), args.one[1] == "1")))
        return 0
    configs = [("numba, 1 worker", 1, 0, None), ("numba, 2 workers", 2, 0, None)]
    if args.compare_src:
        configs += [
            ("compared, 1 worker", 1, 0, args.compare_src),
            ("compared, 2 workers", 2, 0, args.compare_src),
        ]
    if not args.no_twins:
        configs.append(("numpy twins, 1 worker", 1, 1, None))
    rows = []
    for label, workers, twins, src in configs:
        env = dict(os.environ)
        if src:
            env["PYTHONPATH"] = os.pathsep.join([str(Path(src).resolve()), env.get("PYTHONPATH", "")])
        out = subprocess.run(
            [sys.executable, __file__, "--hours", str(args.hours), "--seed", str(args.seed),
             "--one", str(workers), str(twins)],
            check=True, capture_output=True, text=True, env=env,
        ).stdout  # fmt: skip
        r = json.loads(out.strip().splitlines()[-1])
        rows.append((label, r))
    base = rows[-1][1] if not args.no_twins else rows[0][1]
    print(f"flight profile, {args.hours} h, seed {args.seed}")
    for label, r in rows:
        rate = r["events"] / r["wall"]
        print(
            f"{label:<22} {r['wall']:7.1f} s  {r['events']:>9,} events  {rate:8,.0f} ev/s  "
            f"CPU {r['cpu']:6.1f} s ({1e6 * r['cpu'] / r['events']:4.0f} us/event, main "
            f"{1e6 * r['main_cpu'] / r['events']:4.0f})  "
            f"x{base['wall'] / r['wall']:4.2f} wall, x{base['cpu'] / r['cpu']:4.2f} CPU "
            f"vs {rows[-1][0] if not args.no_twins else rows[0][0]}  "
            f"peak RSS {r['rss_mb']:,.0f} MB (workers {r['worker_rss_mb']:,.0f} MB)  "
            f"a day ~{EVENTS_PER_DAY / rate / 60:5.1f} min  {r['digest']}"
        )
    same = len({r["digest"] for _, r in rows}) == 1
    print("same bytes in every configuration" if same else "DIFFERENT BYTES between configurations")
    return 0 if same else 1


if __name__ == "__main__":
    raise SystemExit(main())
