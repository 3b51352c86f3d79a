"""The whole chain run through the public commands, in-process, on a simulated delivery set."""

from __future__ import annotations

import contextlib
import io
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from fermi_halfpipe.cli import main as halfpipe
from fermi_ingest.cli import main as ingest
from fermi_l1.cli import main as l1
from fermi_latsim.simulate import SimulationConfig, simulate
from fermi_sciencetools_shim.io.ft1 import read_events

HOURS = 0.1


@dataclass
class Chain:
    """What the operator sees after a simulated set of deliveries went through the chain."""

    home: Path
    summary: dict
    truth: dict[str, np.ndarray]
    rc: dict[str, list[int]]
    ingest_status: str
    ingest_gaps: str
    halfpipe_status: str
    pipeline_out: str

    def ft1_keys(self) -> set[tuple[int, int]]:
        """(run, GEM sequence) of every event in the FT1 extended files (gll_xp)."""
        keys: set[tuple[int, int]] = set()
        for f in sorted((self.home / "l1" / "products").glob("r*/gll_xp_*.fit")):
            ev, _ = read_events(f, ["RUN_ID", "EVENT_ID"])
            keys |= set(zip(ev["RUN_ID"].tolist(), ev["EVENT_ID"].tolist(), strict=True))
        return keys

    def runs(self) -> dict[int, dict]:
        """``fermi-halfpipe status`` per run: state, delivered, held back, held and missing lines."""
        out: dict[int, dict] = {}
        cur = None
        for line in self.halfpipe_status.splitlines():
            m = re.match(r"run (\d+): (\w+)(?: — .*?)?; delivered (\d+), held back (\d+)", line)  # (— reason)
            if m:
                cur = int(m[1])
                out[cur] = {"state": m[2], "delivered": int(m[3]), "held": int(m[4]), "missing": []}
                continue
            m = re.match(r"\s+missing: APID (\d+): datagrams (\d+)-(\d+) missing", line)
            if m and cur is not None:
                out[cur]["missing"].append((int(m[1]), int(m[2]), int(m[3])))
            m = re.match(r"\s+missing: APID (\d+): run end missing \(last datagram (\d+)", line)
            if m and cur is not None:  # everything after the last datagram seen
                out[cur]["missing"].append((int(m[1]), int(m[2]) + 1, 2**62))
        return out


def _capture(fn, argv: list[str]) -> tuple[int, str]:
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf), contextlib.redirect_stderr(buf):
        rc = fn(argv)
    return int(rc or 0), buf.getvalue()


def run_chain(home: Path, faults: tuple[str, ...], monkeypatch: pytest.MonkeyPatch) -> Chain:
    """Simulate, ingest and merge each delivery, run L1, and read the operator's reports."""
    monkeypatch.setenv("FERMI_HOME", str(home))
    monkeypatch.delenv("FERMI_DB_URL", raising=False)
    summary = simulate(home / "latsim", SimulationConfig(hours=HOURS, seed=5, faults=faults))
    truth = {
        k: np.asarray(v)
        for k, v in pq.read_table(home / "latsim" / "truth" / "events.parquet").to_pydict().items()
    }
    rc: dict[str, list[int]] = {"ingest": [], "merge": [], "pipeline": []}
    ids = [d["delivery_id"] for d in summary["deliveries"]]
    for did in ids:
        rc["ingest"].append(_capture(ingest, ["ingest", str(home / "latsim" / "deliveries" / did)])[0])
    for did in ids:
        rc["merge"].append(_capture(halfpipe, ["merge", did])[0])
    code, pipeline_out = _capture(l1, ["pipeline", "--from-halfpipe", "--no-progress", "--workers", "1"])
    rc["pipeline"].append(code)
    return Chain(
        home=home,
        summary=summary,
        truth=truth,
        rc=rc,
        ingest_status=_capture(ingest, ["status"])[1],
        ingest_gaps=_capture(ingest, ["gaps"])[1],
        halfpipe_status=_capture(halfpipe, ["status"])[1],
        pipeline_out=pipeline_out,
    )
