"""The run completion policy through the commands, on SQLite and PostgreSQL.

(a) Dropped packets that arrive later: the run is completed at its deadline with exactly the
events of its missing datagrams counted lost (catalog and FT1 header); the late packets then
make the run's next version with every event, the first version stays on disk unchanged and
superseded. (b) A run taken with one EPU: rejected at its deadline with the reason and the
``run-rejected`` alarm of ``fermi-isoc alarms``; an operator accepts it and it gets products.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
from astropy.io import fits

from fermi_core.checksum import sha256_file
from fermi_core.site import run_folder
from fermi_halfpipe.cli import main as halfpipe
from fermi_ingest.cli import main as ingest
from fermi_isoc.cli import main as isoc
from fermi_l1.catalog.api import query, superseded_by
from fermi_l1.cli import main as l1
from fermi_l1.db import session as l1_session
from fermi_latsim.simulate import FAULTS, SimulationConfig, simulate
from fermi_sciencetools_shim.io.ft1 import read_events

from .conftest import _capture

HOURS = 0.1
REDELIVERED = "dropped-packets-redelivered" if "dropped-packets-redelivered" in FAULTS else "dropped-packets"


def _simulate(home: Path, fault: str) -> tuple[dict, dict[str, np.ndarray]]:
    summary = simulate(home / "latsim", SimulationConfig(hours=HOURS, seed=5, faults=(fault,)))
    table = pq.read_table(home / "latsim" / "truth" / "events.parquet").to_pydict()
    return summary, {k: np.asarray(v) for k, v in table.items()}


def _deliver(home: Path, delivery_id: str) -> None:
    assert _capture(ingest, ["ingest", str(home / "latsim" / "deliveries" / delivery_id)])[0] == 0
    rc, out = _capture(halfpipe, ["merge", delivery_id])
    assert rc == 0, out


def _pipeline() -> str:
    rc, out = _capture(l1, ["pipeline", "--from-halfpipe", "--no-progress", "--workers", "1"])
    assert rc == 0, out
    return out


def _status() -> dict[int, dict]:
    rc, out = _capture(halfpipe, ["status", "--json"])
    assert rc == 0, out
    return {r["run_id"]: r for r in json.loads(out)}


def _xp_gems(home: Path, run: int, version: int) -> np.ndarray:
    path = home / "l1" / "products" / f"r{run:010d}" / f"gll_xp_p305_r{run:010d}_v{version:03d}.fit"
    ev, _ = read_events(path, ["RUN_ID", "EVENT_ID"])
    assert set(ev["RUN_ID"].tolist()) <= {run}
    return np.sort(ev["EVENT_ID"])


def _verify_catalog() -> None:
    rc, out = _capture(l1, ["catalog", "verify"])
    assert rc == 0, out


def _rejected_alarm(run: int) -> dict | None:
    """The ``run-rejected`` item of ``run`` in ``fermi-isoc alarms --all --json`` (None when absent)."""
    _rc, out = _capture(isoc, ["alarms", "--all", "--json"])
    items = [r for r in json.loads(out) if r["alarm"] == "run-rejected" and r["key"] == run_folder(run)]
    assert len(items) <= 1, items
    return items[0] if items else None


def _in_missing(truth: dict[str, np.ndarray], run: int, report: dict) -> int:
    """Simulated events of ``run`` in the datagrams the halfpipe reports missing."""
    n = 0
    mine = truth["run"] == run
    for line in report["missing"]:
        m = re.match(r"APID (\d+): datagrams (\d+)-(\d+) missing", line)
        assert m, line  # dropped packets leave datagram gaps, not a missing run start or end
        apid, lo, hi = (int(x) for x in m.groups())
        n += int(
            (mine & (truth["apid"] == apid) & (truth["datagram"] >= lo) & (truth["datagram"] <= hi)).sum()
        )
    return n


def test_dropped_packets_completed_at_the_deadline_then_remade_with_the_late_packets(db_url):
    home = Path(os.environ["FERMI_HOME"])  # fresh, set by db_url
    summary, truth = _simulate(home, REDELIVERED)
    late = [d["delivery_id"] for d in summary["deliveries"] if d.get("late")]
    for d in summary["deliveries"]:
        if d["delivery_id"] not in late:
            _deliver(home, d["delivery_id"])
    held = {run: r for run, r in _status().items() if r["state"] == "held"}
    assert held and all(r["deadline_utc"] and r["deliveries_left"] == 3 for r in held.values())
    (run,) = held
    lost_truth = _in_missing(truth, run, held[run])
    assert lost_truth > 0

    # the deadline (0 h: due now); a second settle finds nothing due
    rc, out = _capture(halfpipe, ["--deadline-hours", "0", "settle"])
    assert rc == 0 and f"run {run}: incomplete" in out and f"{lost_truth} events lost" in out, out
    assert _capture(halfpipe, ["--deadline-hours", "0", "settle"])[1].startswith("settled 0 runs")
    r = _status()[run]
    assert (r["state"], r["revision"], r["lost_events"], r["held_back"]) == ("incomplete", 1, lost_truth, 0)

    _pipeline()
    _verify_catalog()
    mine = np.sort(truth["gem_seq"][truth["run"] == run])
    v1 = _xp_gems(home, run, 1)
    assert v1.size == mine.size - lost_truth and set(v1.tolist()) <= set(mine.tolist())
    ft1_v1 = home / "l1" / "products" / f"r{run:010d}" / f"gll_ph_p305_r{run:010d}_v001.fit"
    assert fits.getheader(ft1_v1, "EVENTS")["NLOSTEVT"] == lost_truth
    with l1_session(db_url) as s:
        (cat_v1,) = query(s, data_type="FT1", run=run)
        assert cat_v1.lost_events == lost_truth
    made_v1 = {p: sha256_file(p) for p in ft1_v1.parent.glob("*_v001.fit")}

    if REDELIVERED == "dropped-packets":  # the simulator cannot re-deliver yet: nothing more to check
        return
    # the dropped packets arrive: the run's next halfpipe revision, complete, then FT1 v002
    for did in late:
        _deliver(home, did)
    r = _status()[run]
    assert (r["state"], r["revision"], r["lost_events"]) == ("complete", 2, 0), r
    _pipeline()
    _verify_catalog()
    assert np.array_equal(_xp_gems(home, run, 2), mine)  # every simulated event
    ft1_v2 = ft1_v1.with_name(ft1_v1.name.replace("_v001", "_v002"))
    assert fits.getheader(ft1_v2, "EVENTS")["NLOSTEVT"] == 0
    assert {p: sha256_file(p) for p in made_v1} == made_v1  # v001 still there, unchanged
    with l1_session(db_url) as s:
        old, new = query(s, data_type="FT1", run=run)
        assert (old.version, new.version, new.supersedes, new.lost_events) == (1, 2, 1, 0)
        assert superseded_by(s, old) == 2
        (latest,) = query(s, data_type="FT1", run=run, latest_only=True)
        assert latest.version == 2
    # the FSSC export of v002 says what it supersedes; v001's export is still there
    manifest = json.loads((home / "outbox" / f"r{run:010d}_v002" / "manifest.json").read_text())
    assert manifest["supersedes"]["export"] == f"r{run:010d}_v001", manifest
    assert (home / "outbox" / f"r{run:010d}_v001" / ft1_v1.name).is_file()


def test_one_epu_run_rejected_at_the_deadline_then_accepted(db_url):
    home = Path(os.environ["FERMI_HOME"])  # fresh, set by db_url
    summary, truth = _simulate(home, "one-epu-run")
    run = summary["faults"]["one-epu-run"]["run"]
    for d in summary["deliveries"]:
        _deliver(home, d["delivery_id"])
    assert _status()[run]["state"] == "held"

    rc, out = _capture(halfpipe, ["--deadline-hours", "0", "settle"])
    assert rc == 0 and f"run {run}: rejected" in out, out
    r = _status()[run]
    assert r["state"] == "rejected" and "APID 957 (EPU1)" in r["reason"] and "exactly the two" in r["reason"]
    alarm = _rejected_alarm(run)  # the on-call alarm for a rejected run fires, naming the reason
    assert alarm and alarm["firing"] and alarm["severity"] in ("warning", "error"), alarm
    assert "APID 957 (EPU1)" in alarm["message"], alarm
    _pipeline()
    _verify_catalog()
    assert not list((home / "l1" / "products").glob(f"r{run:010d}/*.fit"))  # L1 leaves it alone

    rc, out = _capture(halfpipe, ["accept", str(run), "--reason", "EPU1 off for a test", "--who", "ops"])
    assert rc == 0 and f"run {run}: accepted" in out, out
    r = _status()[run]
    assert r["state"] == "accepted" and "accepted by ops: EPU1 off for a test" in r["reason"]
    assert _capture(halfpipe, ["accept", str(run), "--reason", "again", "--who", "ops"])[0] == 1
    assert (_rejected_alarm(run) or {"firing": False})["firing"] is False  # accepted: no longer rejected
    _pipeline()
    _verify_catalog()
    assert np.array_equal(_xp_gems(home, run, 1), np.sort(truth["gem_seq"][truth["run"] == run]))
