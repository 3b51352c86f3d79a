"""Peak memory of the merge: a fixed working set, growing neither with the span merged nor with
the size of one delivery (issue 18).

Measured with :mod:`tracemalloc` (numpy reports its buffers to it), never timed. One run's
datagrams are cut into deliveries of the same size; a span of 2 deliveries and a span of 4 are
merged into fresh homes, and the largest peak of one delivery's merge is compared: the longer
span may not raise it. Then one delivery three times larger than another is merged with the
same working pieces (``piece_bytes``) and merged-file size (``max_events``): its peak may not
be much larger either (the merge reads, stores and merges a delivery piece by piece; before,
its peak was about 6 times the delivery's bytes).
"""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest

from fermi_core.site import Site
from fermi_halfpipe.options import HalfpipeOptions
from fermi_halfpipe.stitch import merge_packets
from fermi_halfpipe.synthetic import make_run
from fermi_halfpipe.testing import deliver
from fermi_ingest.ccsds.encode import concatenate
from fermi_ingest.published import AcceptedPackets

DATAGRAMS_PER_DELIVERY = 16
EVENTS_PER_DATAGRAM = 100


@pytest.fixture(scope="module")
def long_run():
    """A run of 4 deliveries' worth of datagrams per EPU, left open (close action continue)."""
    n = 4 * DATAGRAMS_PER_DELIVERY * EVENTS_PER_DATAGRAM * 2
    return make_run(np.random.default_rng(18), n, events_per_datagram=EVENTS_PER_DATAGRAM, close_action=3)


def _span_peak(run, n_deliveries: int, home, monkeypatch) -> tuple[int, int]:
    """Merge the first ``n_deliveries`` deliveries into ``home``; (largest peak of one merge, its bytes)."""
    monkeypatch.setenv("FERMI_HOME", str(home))
    monkeypatch.setenv("FERMI_DB_URL", f"sqlite:///{home / 'fermi.db'}")
    worst, size = 0, 0
    counts = {apid: 0 for apid in run.apids}
    for k in range(n_deliveries):
        lo, hi = k * DATAGRAMS_PER_DELIVERY, (k + 1) * DATAGRAMS_PER_DELIVERY
        parts = []
        for apid in run.apids:
            cols = run.packets(apid, lo, hi, first_count=counts[apid])
            counts[apid] += len(cols)
            parts.append(cols)
        tracemalloc.start()
        try:
            summary = deliver(f"2304010{k + 1:02d}", parts)
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        assert summary["problems"] == []
        worst = max(worst, peak)
        size = max(size, sum(int(p.payload.size) for p in parts))
    return worst, size


def test_peak_memory_of_a_longer_span_is_that_of_one_delivery(long_run, tmp_path, monkeypatch):
    deliver_warm = make_run(np.random.default_rng(1), 40, events_per_datagram=5)
    monkeypatch.setenv("FERMI_HOME", str(tmp_path / "warm"))
    monkeypatch.setenv("FERMI_DB_URL", f"sqlite:///{tmp_path / 'warm' / 'fermi.db'}")
    deliver("230331001", [deliver_warm.packets(956), deliver_warm.packets(957)])  # numba, imports

    short, size = _span_peak(long_run, 2, tmp_path / "short", monkeypatch)
    long, _ = _span_peak(long_run, 4, tmp_path / "long", monkeypatch)
    print(f"delivery {size / 1e6:.1f} MB; peak {short / 1e6:.1f} MB (2 deliveries), {long / 1e6:.1f} MB (4)")
    assert long / short < 1.25
    assert short / size < 10


def test_peak_memory_of_a_three_times_larger_delivery_is_about_the_same(long_run, tmp_path):
    options = HalfpipeOptions(piece_bytes=256 * 1024, max_events=1000)
    peaks, sizes = {}, {}
    for k in (1, 3):
        n = k * DATAGRAMS_PER_DELIVERY
        pk = AcceptedPackets.from_columns(
            concatenate([long_run.packets(a, 0, n) for a in long_run.apids]), f"23040200{k}/f_000.pkt"
        )  # built before the measurement: the merge's own memory is measured
        warm = Site(tmp_path / f"warm{k}", f"sqlite:///{tmp_path / f'warm{k}.db'}")
        merge_packets("230402000", pk.select(slice(0, 40)), options, site=warm)  # numba, imports, caches
        site = Site(tmp_path / f"home{k}", f"sqlite:///{tmp_path / f'home{k}.db'}")
        tracemalloc.start()
        try:
            summary = merge_packets(f"23040200{k}", pk, options, site=site)
            peaks[k] = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        assert summary["problems"] == [] and summary["runs"][0]["files"]
        sizes[k] = int(pk.payload.size)
    print(
        f"deliveries {sizes[1] / 1e6:.1f} / {sizes[3] / 1e6:.1f} MB: "
        f"peak {peaks[1] / 1e6:.2f} / {peaks[3] / 1e6:.2f} MB"
    )
    assert sizes[3] > 2.9 * sizes[1]
    assert peaks[3] / peaks[1] <= 1.3
