"""Late packets through the commands (issue 12, "Must show" 1), on SQLite and PostgreSQL.

A block of EPU0 datagrams from the middle of delivery 1 arrives later: (a) as a delivery of its
own, at (b) the start, (c) the middle, (d) the end of a file of delivery 3, or (e) as an extra
file of delivery 3. Each delivery goes through ``fermi-ingest ingest``, ``fermi-halfpipe merge``
and an L1 pipeline pass, as in operations. Then every simulated event is in the latest extended
FT1 of its run, no gap is open, nothing of the late block is quarantined, the only gaps ever
recorded are the block's sequence and datagram gap, filled by the delivery that brought it, and
``fermi-l1 catalog verify`` passes after every pass.
"""

from __future__ import annotations

import pytest
from sqlalchemy import select

from fermi_core.db import session_scope
from fermi_core.site import Site
from fermi_halfpipe.cli import main as halfpipe
from fermi_ingest.cli import main as ingest
from fermi_ingest.models import Delivery, Gap, QuarantinedSpan
from fermi_l1.catalog.api import query
from fermi_l1.cli import main as l1
from fermi_latsim.late import LATE_PLACEMENTS
from fermi_latsim.simulate import SimulationConfig, simulate
from fermi_sciencetools_shim.io.ft1 import read_events

from .conftest import _capture

HOURS = 0.1


def _run(fn, argv: list[str]) -> str:
    rc, out = _capture(fn, argv)
    assert rc == 0, (argv, out)
    return out


# Both deadline settings on SQLite; on PostgreSQL the one that exercises more of the database
# (retired runs, revisions, superseded versions): the default deadline adds nothing backend-specific.
CASES = [("default", "sqlite"), ("retire-at-once", "sqlite"), ("retire-at-once", "postgresql")]


@pytest.mark.parametrize(("deadline", "db_url"), CASES, indirect=["db_url"])
@pytest.mark.parametrize("fault", sorted(LATE_PLACEMENTS))
def test_late_packets_end_in_the_latest_products(fault, deadline, db_url, tmp_path, monkeypatch):
    """With the default deadline the late block comes before the run is due; with a deadline of
    0 h every run missing data is completed (and gets products) at each pass, so the late block
    reaches a retired run and the products must be re-made as the next version."""
    if deadline == "retire-at-once":
        monkeypatch.setenv("FERMI_HALFPIPE_DEADLINE_HOURS", "0")
    site = Site.from_env()
    summary = simulate(tmp_path / "latsim", SimulationConfig(hours=HOURS, seed=5, faults=(fault,)))
    info = summary["faults"][fault]
    assert info["packets"] > 0
    for d in summary["deliveries"]:
        _run(ingest, ["ingest", str(tmp_path / "latsim" / "deliveries" / d["delivery_id"])])
        _run(halfpipe, ["merge", d["delivery_id"]])
        _run(l1, ["pipeline", "--from-halfpipe", "--no-progress", "--workers", "1"])
        # nothing catalogued changed in place (a re-made run is a new version beside the old)
        assert " 0 problem(s)" in _run(l1, ["catalog", "verify"])

    # ingest: the block's two gaps, filled by the delivery that brought it; nothing else
    with session_scope(site.db_url) as s:
        names = {d.id: d.delivery_id for d in s.scalars(select(Delivery))}
        gaps = [
            (g.apid, g.kind, names[g.found_by_pk], g.status, names.get(g.filled_by_pk))
            for g in s.scalars(select(Gap).order_by(Gap.id))
        ]
        quarantined = s.scalars(select(QuarantinedSpan)).all()
    assert gaps == [
        (956, "sequence", info["from"], "filled", info["to"]),
        (956, "datagram", info["from"], "filled", info["to"]),
    ]
    assert quarantined == []
    open_gaps = _run(ingest, ["gaps", "--open"])
    assert "sequence" not in open_gaps and "datagram" not in open_gaps, open_gaps

    # L1: every simulated event in the latest extended FT1 of its run (the catalog's latest)
    truth = {(int(r), int(g)) for r, g in _truth_keys(tmp_path)}
    with session_scope(site.db_url) as s:
        latest = query(s, data_type="EXTENDEDFT1", latest_only=True)
        files: dict[int, list] = {}
        versions: dict[int, int] = {}
        for row in latest:
            files.setdefault(row.run, []).append(site.resolve(row.file_path))
            versions[row.run] = max(versions.get(row.run, 0), row.version)
    runs = {r for r, _ in truth}
    # HALFPIPE/L1 part: a run missing here was never retired (late data not merged, or no next version)
    assert set(files) == runs, (sorted(files), sorted(runs), _run(halfpipe, ["status"]))
    got: set[tuple[int, int]] = set()
    for run, paths in files.items():
        for path in paths:
            ev, _ = read_events(path, ["RUN_ID", "EVENT_ID"])
            mine = set(zip(ev["RUN_ID"].tolist(), ev["EVENT_ID"].tolist(), strict=True))
            assert {r for r, _ in mine} <= {run}, path
            got |= mine
    assert got == truth, (len(truth - got), "simulated events missing from the latest extended FT1")
    if deadline == "retire-at-once":  # the block's run had products before the block came: re-made
        (block_run,) = [r["run"] for r in summary["runs"] if r["start"] <= info["met"][0] < r["stop"]]
        assert versions[block_run] > 1, (versions, _run(halfpipe, ["status"]))


def _truth_keys(root):
    import pyarrow.parquet as pq

    t = pq.read_table(root / "latsim" / "truth" / "events.parquet", columns=["run", "gem_seq"]).to_pydict()
    return zip(t["run"], t["gem_seq"], strict=True)
