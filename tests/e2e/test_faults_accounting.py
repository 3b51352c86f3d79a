"""With each fault injected, nothing delivered is lost: every simulated event is in the FT1
extended file, held back by the halfpipe, or counted by the halfpipe as held by a missing (or
unreadable) datagram — numbers an operator reads from ``fermi-halfpipe status``, checked against
the simulation truth; and each fault is reported where an operator looks (fermi-ingest
status/gaps, fermi-halfpipe status).
"""

from __future__ import annotations

import json

import pytest

from fermi_halfpipe.cli import main as halfpipe
from fermi_ingest.ccsds import decode_file
from fermi_ingest.ccsds.constants import SEQ_LAST, SEQ_UNSEGMENTED
from fermi_latsim.simulate import FAULTS

from .conftest import _capture, run_chain


def _truth_in_missing(truth, runs) -> dict[int, int]:
    """Per run, the simulated events in the datagrams ``fermi-halfpipe status`` reports missing."""
    out: dict[int, int] = {}
    for run, r in runs.items():
        mine = truth["run"] == run
        n = 0
        for apid, lo, hi in r["missing"]:
            n += int(
                (mine & (truth["apid"] == apid) & (truth["datagram"] >= lo) & (truth["datagram"] <= hi)).sum()
            )
        out[run] = n
    return out


def _dropped_a_datagram_start(chain) -> bool:
    """Whether a packet the dropped-packets fault removed was the first packet of a datagram.

    It was exactly when the packet sent before it on its APID (delivered) ended a datagram.
    """
    flags: dict[tuple[int, int], int] = {}
    for d in sorted((chain.home / "latsim" / "deliveries").iterdir()):
        for f in json.loads((d / "manifest.json").read_text())["files"]:
            t = decode_file(d / f["name"])
            flags.update(
                zip(
                    zip(t.apid.tolist(), t.seq_count.tolist(), strict=True), t.seq_flags.tolist(), strict=True
                )
            )
    dropped = chain.summary["faults"]["dropped-packets"]
    return any(
        flags.get((a, (n - 1) % 16384)) in (SEQ_LAST, SEQ_UNSEGMENTED)
        for a, n in zip(dropped["apid"], dropped["seq_count"], strict=True)
    )


@pytest.mark.parametrize("fault", ["none", *sorted(FAULTS)])
def test_every_event_is_accounted_for_and_every_fault_reported(fault, tmp_path, monkeypatch):
    faults = () if fault == "none" else (fault,)
    chain = run_chain(tmp_path, faults, monkeypatch)
    truth = chain.truth
    runs = chain.runs()
    simulated = list(zip(truth["run"].tolist(), truth["gem_seq"].tolist(), strict=True))
    assert len(simulated) == chain.summary["events"] > 100

    # halfpipe level, operator-visible numbers only: delivered + held back + the events the halfpipe
    # counts in missing or unreadable datagrams = simulated, run by run
    rc, out = _capture(halfpipe, ["status", "--json"])
    assert rc == 0
    status = {r["run_id"]: r for r in json.loads(out)}
    assert set(status) == set(runs) == set(truth["run"].tolist())
    truth_missing = _truth_in_missing(truth, runs)
    for run, r in status.items():
        simulated_run = int((truth["run"] == run).sum())
        counted = r["lost_in_missing"] + r["lost_in_malformed"]
        accounted = r["delivered"] + r["held_back"] + counted
        if r["lost_lower_bound"]:  # events after the highest GEM number seen cannot be counted
            assert counted <= truth_missing[run] and accounted <= simulated_run, (fault, r)
        else:  # every GEM number reaches the ground in the simulation: the count is exact
            assert r["lost_exact"] and r["downlink_fraction"] == 1.0, (fault, r)
            assert counted == truth_missing[run] and accounted == simulated_run, (fault, simulated_run, r)
        assert bool(r["holes"]) == bool(r["missing"]), r
    # The operator's numbers add up to every simulated event, except, in a run whose count is a
    # lower bound, exactly the events after the highest GEM number the halfpipe has seen.
    total = sum(
        r["delivered"] + r["held_back"] + r["lost_in_missing"] + r["lost_in_malformed"]
        for r in status.values()
    )
    beyond = 0
    for run, r in status.items():
        if r["lost_lower_bound"]:
            seen = [f["last_gem"] for f in r["files"]] + [h["gem"][1] for h in r["held"]]
            seen += [h["gem"][1] for h in r["holes"]]
            gem = truth["gem_seq"][truth["run"] == run]
            beyond += int((gem > max(seen, default=-1)).sum())
    assert total + beyond == len(simulated), (fault, total, beyond, len(simulated))
    if fault == "dropped-packets":
        assert sum(r["lost_in_missing"] for r in status.values()) > 0
    if fault in ("truncated-file", "one-epu-run"):
        assert any(r["lost_lower_bound"] for r in status.values())
    assert sum(r["delivered"] for r in status.values()) == sum(r["delivered"] for r in runs.values())

    # FT1 level: every event of a run the halfpipe retired is in the extended FT1 of that run
    ft1 = chain.ft1_keys()
    assert ft1 <= set(simulated)  # nothing invented
    for run, r in runs.items():
        mine = {k for k in simulated if k[0] == run}
        got = {k for k in ft1 if k[0] == run}
        if r["state"] == "complete":
            assert len(got) == r["delivered"], (run, r)
            assert not r["missing"] and r["held"] == 0
            assert got == mine
        else:  # an open run waits for data: no products yet, its events are held or delivered
            assert not got

    # each fault where an operator looks
    if fault == "none":
        assert all(r["state"] == "complete" for r in runs.values())
        assert "open" not in chain.ingest_gaps
    elif fault == "dropped-packets":
        assert "sequence" in chain.ingest_gaps
        # Level 0 sees a datagram gap only when a dropped packet began a datagram (which of the
        # packets the random drop hits depends on the seed); the halfpipe sees every loss
        assert ("datagram" in chain.ingest_gaps) == _dropped_a_datagram_start(chain)
        assert any(r["missing"] for r in runs.values())
    elif fault == "corrupted-bytes":
        d = chain.summary["faults"][fault]
        assert d["file"] in chain.ingest_status  # quarantined bytes, by file
    elif fault == "truncated-file":
        d = chain.summary["faults"][fault]
        assert d["file"] in chain.ingest_status and "truncated" in chain.ingest_status
    elif fault == "duplicated-datagrams":
        assert len(ft1) == len(set(ft1))  # re-sent datagrams do not duplicate events
        assert all(r["state"] == "complete" for r in runs.values())
    elif fault == "late-epu":
        assert all(r["state"] == "complete" for r in runs.values())  # late data is merged once it comes
    elif fault == "one-epu-run":
        run = chain.summary["faults"][fault]["run"]
        assert run in runs
    elif fault == "counters-near-wrap":
        assert "open" not in chain.ingest_gaps  # the wrap is not a gap
        assert all(r["state"] == "complete" for r in runs.values())
    assert all(c == 0 for c in chain.rc["merge"]), chain.rc
