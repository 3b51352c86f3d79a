"""With each fault injected, nothing delivered is lost: every simulated event is in the FT1
extended file, held back by the halfpipe (and reported), or in a datagram reported missing; and
each fault is reported where an operator looks (fermi-ingest status/gaps, fermi-halfpipe status).
"""

from __future__ import annotations

import numpy as np
import pytest

from fermi_latsim.simulate import FAULTS

from .conftest import run_chain


def _in_missing(truth, rows, runs) -> np.ndarray:
    """Whether each truth row is in a datagram ``fermi-halfpipe status`` reports missing."""
    out = np.zeros(rows.size, bool)
    for k, i in enumerate(rows):
        for apid, lo, hi in runs.get(int(truth["run"][i]), {}).get("missing", []):
            if truth["apid"][i] == apid and lo <= truth["datagram"][i] <= hi:
                out[k] = True
    return out


@pytest.mark.parametrize("fault", ["none", *sorted(FAULTS)])
def test_every_event_is_accounted_for_and_every_fault_reported(fault, tmp_path, monkeypatch):
    faults = () if fault == "none" else (fault,)
    chain = run_chain(tmp_path, faults, monkeypatch)
    truth = chain.truth
    runs = chain.runs()
    simulated = list(zip(truth["run"].tolist(), truth["gem_seq"].tolist(), strict=True))
    assert len(simulated) == chain.summary["events"] > 100

    # halfpipe level: delivered + held back + in reported-missing datagrams = simulated
    delivered = sum(r["delivered"] for r in runs.values())
    held = sum(r["held"] for r in runs.values())
    missing_rows = np.flatnonzero(np.ones(len(simulated), bool))
    lost_reported = int(_in_missing(truth, missing_rows, runs).sum())
    assert set(runs) == set(truth["run"].tolist())
    assert delivered + held + lost_reported == len(simulated), (fault, delivered, held, lost_reported, runs)

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
        assert "sequence" in chain.ingest_gaps and "datagram" in chain.ingest_gaps
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
