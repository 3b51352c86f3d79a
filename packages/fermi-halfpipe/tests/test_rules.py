"""The completeness rules on plain arrays: no database, no files, no FERMI_HOME."""

from __future__ import annotations

import numpy as np
import pytest

from fermi_halfpipe import intervals as ivl
from fermi_halfpipe import rules
from fermi_halfpipe.format import (
    CLOSE_ABORT,
    CLOSE_CONTINUE,
    CLOSE_PAUSE,
    CLOSE_STOP,
    OPEN_CONTINUE,
    OPEN_START,
)

A, B = 956, 957


def rows(*datagrams):
    """DatagramRows from ``(apid, seq, open, close, first_gem, last_gem)`` tuples (sorted as stored)."""
    cols = ("apid", "seq", "open_action", "close_action", "first_gem", "last_gem")
    table = sorted(datagrams)
    return {c: np.array([d[i] for d in table], dtype=np.int64).reshape(-1) for i, c in enumerate(cols)}


def epu(apid, *gems, start=True, close=CLOSE_STOP, first_seq=0, skip=()):
    """One EPU's datagrams, each holding the GEM range ``gems[k]``; datagram numbers in ``skip`` absent."""
    out = []
    for k, (g0, g1) in enumerate(gems):
        seq = first_seq + k
        if seq in skip:
            continue
        op = OPEN_START if (k == 0 and start) else OPEN_CONTINUE
        cl = close if k == len(gems) - 1 else CLOSE_CONTINUE
        out.append((apid, seq, op, cl, g0, g1))
    return out


def test_segments_split_a_sorted_sequence_at_every_break():
    assert rules.segments(np.array([], np.int64)) == []
    assert rules.segments(np.array([0, 1, 2, 5, 6, 9])) == [(0, 2), (3, 4), (5, 5)]


def test_a_run_is_complete_only_with_both_epus_from_start_to_an_end_action():
    full = rows(*epu(A, (0, 10), (12, 20)), *epu(B, (1, 11), (13, 21)))
    assert rules.completeness(full, [A, B]) == []
    for close in (CLOSE_ABORT, CLOSE_PAUSE):
        assert rules.completeness(rows(*epu(A, (0, 10), close=close), *epu(B, (1, 11))), [A, B]) == []


def test_completeness_is_judged_against_the_expected_epus_not_those_present():
    one = rows(*epu(A, (0, 10), (12, 20)))
    assert rules.completeness(one, [A, B]) == ["APID 957: no datagram received"]


def test_completeness_names_a_missing_start_gap_and_end():
    r = rows(*epu(A, (0, 1), (2, 3), (4, 5), (6, 7), start=False, close=CLOSE_CONTINUE, skip=(2,)),
             *epu(B, (0, 9)))  # fmt: skip
    assert rules.completeness(r, [A, B]) == [
        "APID 956: run start missing (first datagram 0)",
        "APID 956: datagrams 2-2 missing",
        "APID 956: run end missing (last datagram 3 closes with continue)",
    ]


def test_coverage_extends_to_the_run_start_and_end_and_stops_at_a_gap():
    r = rows(*epu(A, (5, 10), (11, 20), (21, 30), (31, 40), skip=(2,)))
    # datagram 0 opens with start: from GEM 0; the last closes with stop: to the end of the run
    assert rules.coverage(r, A) == [(0, 20), (31, ivl.INF)]
    open_end = rows(*epu(A, (5, 10), (11, 20), close=CLOSE_CONTINUE, start=False))
    assert rules.coverage(open_end, A) == [(5, 20)]


def test_events_are_deliverable_only_where_both_epus_cover_them():
    r = rows(*epu(A, (0, 10), (11, 20), close=CLOSE_CONTINUE), *epu(B, (1, 30)))
    assert rules.deliverable_spans(r, [A, B], []) == [(0, 20)]  # EPU0 may still send beyond 20
    assert rules.deliverable_spans(r, [A, B], [(0, 9)]) == [(10, 20)]  # delivered spans never again
    assert rules.deliverable_spans(r, [A, B], [(0, 9)], force=True) == [(10, ivl.INF)]
    only_a = rows(*epu(A, (0, 10)))
    assert rules.deliverable_spans(only_a, [A, B], []) == []


def test_the_epu_rule_names_a_foreign_apid_and_a_crate_on_the_wrong_apid():
    epus = {A: 0, B: 1}
    assert rules.epu_violation(np.array([A, B, A]), np.array([0, 1, 0]), epus) is None
    foreign = rules.epu_violation(np.array([A, 958]), np.array([0, 2]), epus)
    assert "APID(s) [958] (crate [2]), outside the expected EPU set" in foreign
    swapped = rules.epu_violation(np.array([A, B]), np.array([1, 0]), epus)
    assert swapped == "APID 956 carries datagrams of crate [1], expected EPU0"


def test_first_copies_keep_the_first_and_flag_a_different_copy():
    c = rules.first_copies([4, 5, 5, 6, 7], ["a", "b", "b", "x", "y"], known={6: "c"})
    assert c.first.tolist() == [True, True, False, False, True]
    assert c.n_duplicates == 2 and c.conflicts == [3]  # datagram 6 differs from the stored copy


def test_held_and_late_events_are_told_apart():
    gem = np.array([1, 5, 8, 12, 20, 25])
    is_new = np.array([True, True, False, True, True, False])
    acc = rules.account_events(gem, is_new, delivered=[(0, 6)], new_spans=[(7, 15)])
    assert acc.span.tolist() == [-1, -1, 0, 0, -1, -1]
    assert acc.held.tolist() == [False, False, False, False, True, True]
    # late: new datagram, GEM inside a span delivered by an earlier step
    assert acc.late.tolist() == [True, True, False, False, False, False]


def test_event_gaps_lie_between_delivered_spans():
    assert rules.event_gaps([(0, 9), (20, 30), (31, 40)]) == [[10, 19]]


def test_first_of_each_gem_keeps_one_of_a_repeated_number():
    assert rules.first_of_each_gem(np.array([1, 2, 2, 3])).tolist() == [True, True, False, True]
    assert rules.first_of_each_gem(np.array([], np.int64)).tolist() == []


@pytest.mark.parametrize("close", [CLOSE_STOP, CLOSE_ABORT, CLOSE_PAUSE])
def test_a_complete_run_is_deliverable_to_its_end(close):
    r = rows(*epu(A, (0, 10), close=close), *epu(B, (1, 11), close=close))
    assert rules.completeness(r, [A, B]) == [] and rules.deliverable_spans(r, [A, B], []) == [(0, ivl.INF)]


# --- the completion deadline (pure: facts and options in, decision out) ---------------------

from datetime import UTC, datetime, timedelta  # noqa: E402

from fermi_halfpipe.options import HalfpipeOptions  # noqa: E402

T0 = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def decide(waited=0, hours_after=0.0, apids=(A, B), last=T0, **opts):
    facts = rules.RunFacts(last, waited, apids)
    return rules.decide_at_deadline(facts, HalfpipeOptions(**opts), T0 + timedelta(hours=hours_after))


def test_a_run_waits_until_the_first_of_the_two_deadlines():
    d = decide(waited=2, hours_after=11.9)
    assert (d.action, d.deliveries_left, d.deadline_utc) == (rules.WAIT, 1, T0 + timedelta(hours=12))
    assert decide(waited=3, hours_after=0.1).action == rules.COMPLETE_AT_DEADLINE  # by deliveries
    by_time = decide(waited=0, hours_after=12.0)
    assert by_time.action == rules.COMPLETE_AT_DEADLINE and "12.0 h" in by_time.why
    assert decide(waited=1, deadline_deliveries=1, deadline_hours=100).action == rules.COMPLETE_AT_DEADLINE
    assert decide(deadline_hours=0).action == rules.COMPLETE_AT_DEADLINE  # 0 h: due at once


def test_without_a_last_data_time_only_deliveries_count():
    assert decide(waited=2, hours_after=1000, last=None).action == rules.WAIT
    assert decide(waited=3, last=None).deadline_utc is None


def test_a_due_run_with_one_epu_is_rejected_with_the_reason():
    d = decide(waited=3, apids=(A,))
    assert d.action == rules.REJECT_AT_DEADLINE
    assert "APID 957 (EPU1)" in d.reason and "exactly the two expected EPUs" in d.reason
    assert decide(waited=2, apids=(A,)).action == rules.WAIT  # not before its deadline
    assert rules.epu_rule_at_deadline([A, B], {A: 0, B: 1}) is None


def test_deadline_options_are_checked_and_read_from_the_environment():
    with pytest.raises(ValueError, match="deadline_deliveries"):
        HalfpipeOptions(deadline_deliveries=-1)
    with pytest.raises(ValueError, match="deadline_hours"):
        HalfpipeOptions(deadline_hours=float("nan"))
    env = {"FERMI_HALFPIPE_DEADLINE_DELIVERIES": "5", "FERMI_HALFPIPE_DEADLINE_HOURS": "1.5"}
    o = HalfpipeOptions.from_env(env)
    assert (o.deadline_deliveries, o.deadline_hours) == (5, 1.5)
    assert HalfpipeOptions.from_env(env, deadline_hours=2.0).deadline_hours == 2.0
    assert HalfpipeOptions.from_env({}).deadline_deliveries == 3
    with pytest.raises(ValueError, match="FERMI_HALFPIPE_DEADLINE_HOURS='soon'"):
        HalfpipeOptions.from_env({"FERMI_HALFPIPE_DEADLINE_HOURS": "soon"})
