"""The headline property: a run split into deliveries in any way is merged exactly once, event for event.

A run's two-EPU packet stream is cut at arbitrary packet positions (datagrams may be cut in two)
into 1–5 parts; one EPU's part ``i`` arrives with delivery ``i + 1`` (a delivery late); some
datagrams are sent again in another delivery; the deliveries are merged in arbitrary order.
After every delivery each received event is either delivered or reported held back, and nothing
is delivered twice; after the last one the union of all merged files equals the merge of the
unsplit run, event for event.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fermi_halfpipe.stitch import run_status
from fermi_halfpipe.synthetic import make_run
from fermi_halfpipe.testing import deliver, merged_outputs, part
from fermi_ingest.ccsds.constants import SEQ_FIRST, SEQ_UNSEGMENTED

RUN = make_run(np.random.default_rng(5), 150, events_per_datagram=18)
APIDS = (956, 957)
PACKETS = {a: RUN.packets(a) for a in APIDS}
# datagram index of every packet, and events per datagram (header bytes 28-31)
DGM_OF = {a: np.cumsum(np.isin(PACKETS[a].seq_flags, (SEQ_FIRST, SEQ_UNSEGMENTED))) - 1 for a in APIDS}
EVENTS_IN = {a: np.array([int.from_bytes(d[28:32], "big") for d in RUN.datagrams[a]]) for a in APIDS}


@st.composite
def plans(draw):
    k = draw(st.integers(1, 5))
    cuts = {
        a: sorted(draw(st.lists(st.integers(0, len(PACKETS[a])), min_size=k - 1, max_size=k - 1)))
        for a in APIDS
    }
    late = draw(st.sampled_from(APIDS))
    n_deliveries = k + 1
    dups = draw(
        st.lists(
            st.tuples(st.sampled_from(APIDS), st.integers(0, 100), st.integers(0, n_deliveries - 1)),
            max_size=3,
        )
    )
    order = draw(st.permutations(range(n_deliveries)))
    return k, cuts, late, dups, order


def _build(k, cuts, late, dups):
    deliveries = [[] for _ in range(k + 1)]
    members = [{a: np.empty(0, np.int64) for a in APIDS} for _ in range(k + 1)]
    for a in APIDS:
        bounds = [0, *cuts[a], len(PACKETS[a])]
        for i in range(k):
            d = i + 1 if a == late else i
            deliveries[d].append(part(PACKETS[a], bounds[i], bounds[i + 1]))
            members[d][a] = np.concatenate([members[d][a], np.arange(bounds[i], bounds[i + 1])])
    for a, dgm, d in dups:
        dgm %= len(RUN.datagrams[a])
        idx = np.flatnonzero(DGM_OF[a] == dgm)
        deliveries[d].append(PACKETS[a].take(idx))
        members[d][a] = np.concatenate([members[d][a], idx])
    return deliveries, members


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(plans())
def test_any_split_into_deliveries_merges_every_event_exactly_once(plan):
    k, cuts, late, dups, order = plan
    deliveries, members = _build(k, cuts, late, dups)
    tmp = Path(tempfile.mkdtemp(prefix="hp-prop-"))
    saved = {v: os.environ.get(v) for v in ("FERMI_HOME", "FERMI_DB_URL")}
    os.environ["FERMI_HOME"] = str(tmp)
    os.environ["FERMI_DB_URL"] = f"sqlite:///{tmp / 'fermi.db'}"
    try:
        received = {a: np.zeros(len(PACKETS[a]), bool) for a in APIDS}
        summaries = []
        for step, d in enumerate(order):
            summaries.append(deliver(f"2304010{d:02d}", deliveries[d]))
            assert summaries[-1]["problems"] == []
            for a in APIDS:
                received[a][members[d][a]] = True
            # events of datagrams whose packets have all arrived
            expected = sum(
                int(EVENTS_IN[a][np.bincount(DGM_OF[a], weights=~received[a]) == 0].sum()) for a in APIDS
            )
            status = run_status()
            seq, _ = merged_outputs(tmp, summaries)
            assert np.unique(seq).size == seq.size, f"step {step}: an event was delivered twice"
            if status:
                (st_run,) = status
                assert st_run["late"] == 0
                assert st_run["delivered"] == seq.size
                assert st_run["delivered"] + st_run["held_back"] == expected, (
                    f"step {step}: events unaccounted"
                )
            else:
                assert expected == 0
        seq, recs = merged_outputs(tmp, summaries)
        assert np.array_equal(seq, RUN.gem_seq)
        assert recs == RUN.records
        assert run_status()[0]["status"] == "complete"
    finally:
        for v, val in saved.items():
            if val is None:
                os.environ.pop(v, None)
            else:
                os.environ[v] = val
        shutil.rmtree(tmp, ignore_errors=True)
