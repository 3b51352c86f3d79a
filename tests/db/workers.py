"""Work done by the database tests, in process or in subprocesses (``python workers.py ACTION ...``).

Subprocesses get their database and data tree from ``FERMI_DB_URL`` and ``FERMI_HOME``.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import numpy as np

RUN0 = 600_000_000
#: datagrams per EPU per delivery in the ingest tests
N_DATAGRAMS = 6
SEQ_MODULUS = 16384


def write_deliveries(directory: Path, n: int) -> list[Path]:
    """``n`` deliveries that continue one another (packet counters and time), one run each."""
    from fermi_ingest import synthetic as sy

    counts = {956: 100, 957: 7, 1020: 0}
    paths = []
    for i in range(n):
        t0 = float(RUN0 + i * N_DATAGRAMS)  # continuous in time: datagrams 1 s apart
        parts = [
            sy.event_stream(956, int(t0), N_DATAGRAMS, t0, first_count=counts[956], body_bytes=2000, seed=i),
            sy.event_stream(957, int(t0), N_DATAGRAMS, t0 + 0.3, first_count=counts[957], body_bytes=2000, seed=50 + i),
            sy.spacecraft_stream(t0, N_DATAGRAMS, first_count=counts[1020]),
        ]  # fmt: skip
        for apid, cols in zip((956, 957, 1020), parts, strict=True):
            counts[apid] = (counts[apid] + len(cols)) % SEQ_MODULUS
        cols = sy.interleave(parts)
        half = len(cols) // 2
        path = directory / f"dl{i:02d}"
        sy.write_delivery(
            path, f"2304010{i:02d}", [cols.take(np.arange(half)), cols.take(np.arange(half, len(cols)))]
        )
        paths.append(path)
    return paths


def ingest(path: str) -> dict:
    """Ingest one delivery; return what was done."""
    from fermi_ingest.ingest import ingest as run_ingest

    res = run_ingest(path)
    return {"delivery": res.delivery_id, "packets": res.n_packets, "again": res.already_ingested}


def halfpipe_run(seed: int = 21, n_events: int = 90):
    """The synthetic run merged by the halfpipe tests (the same in every process for one seed)."""
    from fermi_halfpipe.synthetic import make_run

    return make_run(np.random.default_rng(seed), n_events, events_per_datagram=6)


def halfpipe_parts(run, which: str):
    """Packet parts of delivery ``which``: ``a`` = first half of EPU 956 and all of 957, ``b`` = the rest."""
    from fermi_halfpipe.testing import datagram_packets

    n0 = len(run.datagrams[956])
    if which == "a":
        return [datagram_packets(run, 956, range(n0 // 2)), run.packets(957)]
    return [datagram_packets(run, 956, range(n0 // 2, n0))]


def merge(delivery_id: str, which: str, seed: int = 21) -> dict:
    """Merge one delivery of :func:`halfpipe_run` with the halfpipe; return its summary."""
    from fermi_halfpipe.testing import deliver

    return deliver(delivery_id, halfpipe_parts(halfpipe_run(seed), which))


def hold_run_lock(run_id: int) -> None:
    """Take the halfpipe's merge lock on ``run_id``, say so on stdout, then wait to be killed."""
    from fermi_core.db import session_scope
    from fermi_halfpipe.locks import lock_run

    with session_scope() as session:
        lock_run(session, run_id, "test-holder")
        print("locked", flush=True)
        time.sleep(600)


def main(argv: list[str]) -> int:
    """``ingest PATH`` | ``merge DELIVERY a|b`` | ``hold-run-lock RUN``; prints a JSON result."""
    action, *args = argv
    if action == "ingest":
        print(json.dumps(ingest(args[0])))
    elif action == "merge":
        summary = merge(args[0], args[1])
        print(json.dumps({"delivery": args[0], "retired": summary["retired_runs"]}))
    elif action == "hold-run-lock":
        hold_run_lock(int(args[0]))
    else:
        print(f"workers.py: unknown action {action!r}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
