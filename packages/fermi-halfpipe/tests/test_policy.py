"""The completion policy on a database (SQLite and PostgreSQL): settle, accept, published states."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pytest

from fermi_core.db import session_scope
from fermi_core.site import Site
from fermi_halfpipe.errors import HalfpipeError
from fermi_halfpipe.options import HalfpipeOptions
from fermi_halfpipe.policy import accept_run, settle_runs
from fermi_halfpipe.published import STATES, retired_runs, run_states, state_counts
from fermi_halfpipe.states import utcnow
from fermi_halfpipe.stitch import run_status
from fermi_halfpipe.synthetic import make_run
from fermi_halfpipe.testing import datagram_packets, deliver, events_of

A, B = 956, 957


def _states(site, now=None):
    with session_scope(site.db_url) as s:
        return state_counts(s, now=now), run_states(s, now=now)


def test_a_run_missing_a_datagram_is_held_then_completed_at_the_deadline_with_its_loss(db_url):
    site = Site.from_env()
    run = make_run(np.random.default_rng(3), 80, events_per_datagram=5)
    n = len(run.datagrams[A])
    gone = [n // 2]
    deliver("230401001", [datagram_packets(run, A, [d for d in range(n) if d not in gone]), run.packets(B)])
    counts, (st,) = _states(site)
    assert counts == {**dict.fromkeys(STATES, 0), "held": 1}
    assert st.state == "held" and st.deliveries_left == 3 and st.revision == 0 and st.held_events > 0
    assert st.deadline_utc - st.last_data_utc == timedelta(hours=12)
    assert _states(site, now=utcnow() + timedelta(hours=13))[0]["overdue"] == 1  # published, not settled

    for k, did in enumerate(("230401002", "230401003")):  # deliveries bringing it nothing
        deliver(did, [])
        assert settle_runs(site) == []
        assert _states(site)[1][0].deliveries_left == 2 - k
    deliver("230401004", [])
    assert _states(site)[0]["overdue"] == 1
    (done,) = settle_runs(site)
    lost = events_of(run, A, gone)
    assert (done.state, done.lost_events) == ("incomplete", lost)  # synthetic runs filter: "about"
    assert (
        "3 later deliveries brought no data" in done.reason
        and f"{lost} events lost" in done.reason.replace("about ", "")
    )
    assert settle_runs(site) == []  # idempotent
    counts, (st,) = _states(site)
    assert counts["incomplete"] == 1 and (st.revision, st.lost_events, st.deadline_utc) == (1, lost, None)
    with session_scope(site.db_url) as s:
        (rr,) = retired_runs(s, site)
    assert (rr.completion, rr.revision, rr.lost_events) == ("incomplete", 1, lost)
    assert sum(f.n_events for f in rr.files) == 80 - lost

    # the missing datagram arrives: revision 2 with every event, complete
    deliver("230401005", [datagram_packets(run, A, gone)])
    with session_scope(site.db_url) as s:
        (rr,) = retired_runs(s, site)
    assert (rr.completion, rr.revision, rr.lost_events) == ("complete", 2, 0)
    assert sum(f.n_events for f in rr.files) == 80 and (run_status(run.run)[0]["delivered"]) == 80


def test_a_one_epu_run_is_rejected_at_the_deadline_and_an_operator_accepts_it(db_url):
    site = Site.from_env()
    run = make_run(np.random.default_rng(4), 40, events_per_datagram=5)
    deliver("230401001", [run.packets(A)])
    assert settle_runs(site, options=HalfpipeOptions(deadline_deliveries=5)) == []
    (done,) = settle_runs(site, now=utcnow() + timedelta(hours=12, seconds=1))
    assert done.state == "rejected" and "APID 957 (EPU1)" in done.reason
    with session_scope(site.db_url) as s:
        assert retired_runs(s, site) == [] and [r.state for r in run_states(s, states=["rejected"])] == [
            "rejected"
        ]
        assert run_states(s, states=["held"]) == []
        with pytest.raises(ValueError, match="unknown state 'open'"):
            run_states(s, states=["open"])
    with pytest.raises(HalfpipeError, match="needs a reason"):
        accept_run(site, run.run, reason=" ", who="ops")
    rep = accept_run(site, run.run, reason="EPU1 was off", who="ops")
    assert rep["state"] == "accepted" and "accepted by ops: EPU1 was off" in rep["reason"]
    with pytest.raises(HalfpipeError, match="only rejected or mismatched runs"):
        accept_run(site, run.run, reason="again", who="ops")
    with session_scope(site.db_url) as s:
        (rr,) = retired_runs(s, site)
    epu_a = sum(events_of(run, A, [d]) for d in range(len(run.datagrams[A])))
    assert rr.completion == "accepted" and sum(f.n_events for f in rr.files) == epu_a


def test_run_states_pages_by_run_id(db_url):
    site = Site.from_env()
    for k in range(3):
        run = make_run(np.random.default_rng(10 + k), 20, run=700000000 + 1000 * k)
        deliver(f"23040100{k}", [run.packets(A), run.packets(B)])
    with session_scope(site.db_url) as s:
        assert [r.run_id for r in run_states(s, limit=2, offset=1)] == [700001000, 700002000]
        assert state_counts(s)["complete"] == 3
