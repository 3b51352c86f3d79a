"""Sequence-count continuity per APID: wrap, loss, duplicates, out-of-order packets, time gaps."""

import numpy as np

from fermi_ingest.gaps import ACCEPTED, DUPLICATE, OUT_OF_ORDER, analyse_stream, unwrap_steps


def test_wrap_at_16383_is_not_a_gap():
    seq = np.array([16381, 16382, 16383, 0, 1, 2])
    report = analyse_stream(seq, np.arange(6.0))
    assert report.gaps == []
    assert report.accepted.all()
    np.testing.assert_array_equal(unwrap_steps(seq, np.arange(6.0)), [1, 1, 1, 1, 1])


def test_dropped_packets_across_the_wrap_are_counted():
    report = analyse_stream(np.array([16380, 16381, 2, 3]), np.array([0.0, 1.0, 6.0, 7.0]))
    (gap,) = report.gaps
    # 16382, 16383, 0, 1 are missing
    assert (gap.kind, gap.missing, gap.seq_before, gap.seq_after) == ("sequence", 4, 16381, 2)
    assert (gap.met_before, gap.met_after) == (1.0, 6.0)


def test_duplicates_and_late_packets_are_set_aside():
    seq = np.array([10, 11, 11, 13, 12, 14])
    t = np.array([0.0, 1.0, 1.0, 3.0, 2.0, 4.0])
    report = analyse_stream(seq, t)
    assert report.status.tolist() == [ACCEPTED, ACCEPTED, DUPLICATE, ACCEPTED, OUT_OF_ORDER, ACCEPTED]
    (gap,) = report.gaps  # packet 12 arrived late: counted missing from the accepted stream
    assert (gap.seq_before, gap.seq_after, gap.missing) == (11, 13, 1)


def test_time_gap_with_contiguous_counter():
    report = analyse_stream(np.array([1, 2, 3]), np.array([0.0, 1.0, 500.0]), max_time_step=60.0)
    (gap,) = report.gaps
    assert (gap.kind, gap.missing, gap.met_before, gap.met_after) == ("time", 0, 1.0, 500.0)


def test_previous_and_following_packets_from_other_deliveries():
    report = analyse_stream(
        np.array([101, 102]), np.array([10.0, 11.0]), previous=(16383, 5.0), following=(106, 20.0)
    )
    first, second = report.gaps
    assert (first.before, first.after, first.missing) == (-1, 0, 101)  # 0..100 missing after 16383
    assert (second.before, second.after, second.missing) == (1, 2, 3)
