"""Benchmark (not a test): the ``fermi-halfpipe merge`` stage again, on deliveries a chain bench kept.

``ci/bench_chain.py --home DIR`` keeps the simulated deliveries in ``DIR/latsim/deliveries``
(simulating them is most of that bench's time). This script takes them, makes a fresh data home
(``--work``, removed first if it holds an earlier run of this script), ingests them untimed and
runs the merge of every delivery in a process of its own, exactly as the chain bench does
(``ci/bench_chain.py``'s ``run_child``; ``--profile`` runs it under cProfile), then measures the
merge kernel floor on the same data (``merge_order`` + ``gather_records`` of every run) and
prints the chain bench's merge line: wall, events/s, MB/s, peak RSS, floor, ratio.

Usage: ``python bench_merge_stage.py --from DIR [--work DIR2] [--profile] [--repeat R]``.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import shutil
import sys
from pathlib import Path

MARKER = ".bench-merge-stage"


def _bench_chain():  # type: ignore[no-untyped-def]
    """The chain bench module (``ci/bench_chain.py`` of this checkout)."""
    path = Path(__file__).resolve().parents[3] / "ci" / "bench_chain.py"
    spec = importlib.util.spec_from_file_location("bench_chain", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules["bench_chain"] = module
    spec.loader.exec_module(module)
    return module


def main(argv: list[str] | None = None) -> int:
    """Run the merge stage on the deliveries of ``--from`` (module docstring); return 0 or 1."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--from", dest="source", type=Path, required=True, help="a kept bench-chain home")
    parser.add_argument("--work", type=Path, default=Path("/tmp/bench-merge-stage"), help="fresh data home")
    parser.add_argument("--profile", action="store_true", help="cProfile the merge process")
    parser.add_argument("--repeat", type=int, default=3, help="kernel floor: best of")
    args = parser.parse_args(argv)
    bc = _bench_chain()
    source = args.source.resolve()
    summary = json.loads((source / ".bench" / "summary.json").read_text(encoding="utf-8"))
    ids = [d["delivery_id"] for d in summary["deliveries"]]
    work = args.work.resolve()
    if work.exists():
        if not (work / MARKER).is_file():
            parser.error(f"--work {work}: exists and was not made by this script")
        shutil.rmtree(work)
    (work / ".bench").mkdir(parents=True)
    (work / MARKER).write_text("made by bench_merge_stage.py\n", encoding="utf-8")
    workdir, log = work / ".bench", work / ".bench" / "stages.log"
    db_url = f"sqlite:///{work / 'fermi.db'}"
    base = {"home": str(work), "db_url": db_url}
    print(f"merge stage on {len(ids)} deliveries of {source} (load average {os.getloadavg()[0]:.1f})")
    try:
        bc.run_child({**base, "kind": "db"}, workdir, log)
        deliveries = [str(source / "latsim" / "deliveries" / d) for d in ids]
        bc.run_child({**base, "kind": "ingest", "deliveries": deliveries}, workdir, log)
        merge = bc.run_child(
            {**base, "kind": "merge", "delivery_ids": ids, "profile": args.profile}, workdir, log
        )
    except RuntimeError as exc:
        print(f"bench_merge_stage: error: {exc}")
        print(log.read_text(encoding="utf-8", errors="replace")[-4000:])
        return 1
    from fermi_core.site import Site

    runs = bc.merged_inputs(Site(work, db_url))
    t_merge, n_events, n_bytes = bc.merge_floor(runs, args.repeat)
    row = {"stage": "merge", **merge, "events": n_events, "bytes": n_bytes,
           "kernel": "merge_order + gather_records per run", "floor": t_merge}  # fmt: skip
    for line in bc.format_table([row]):
        print(line)
    print(f"load average at the end: {os.getloadavg()[0]:.1f}; {n_events:,} events in {len(runs)} runs")
    if merge.get("profile"):
        print(merge["profile"])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
