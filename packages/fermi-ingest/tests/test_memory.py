"""Peak memory of an ingest: one file's bytes at a time, not the delivery's (issue 18).

Measured with :mod:`tracemalloc` (numpy reports its buffers to it), never timed. Two deliveries
made of files of the same size, one with three times as many files as the other, are ingested
into fresh homes: the larger one's peak may not be much larger (each file is read, verified,
archived and decoded, then only its packet columns are kept; before, every file of the delivery
was held in memory until the end).
"""

from __future__ import annotations

import tracemalloc

import numpy as np

from fermi_core.site import Site
from fermi_ingest import synthetic as sy
from fermi_ingest.ingest import ingest

RUN = 600_000_000
PACKETS_PER_FILE = 900


def test_peak_memory_of_a_delivery_of_three_times_more_files_is_about_the_same(tmp_path):
    n = 6 * PACKETS_PER_FILE // 3
    cols = sy.interleave(
        [
            sy.event_stream(956, RUN, n, float(RUN), seed=1, body_bytes=2000),
            sy.event_stream(957, RUN, n, RUN + 0.3, seed=2, body_bytes=2000),
            sy.spacecraft_stream(float(RUN), n),
        ]
    )
    files = [cols.take(np.arange(k * PACKETS_PER_FILE, (k + 1) * PACKETS_PER_FILE)) for k in range(6)]
    warm = Site(tmp_path / "warm", f"sqlite:///{tmp_path / 'warm.db'}")
    sy.write_delivery(tmp_path / "d0", "230401000", files[:1])
    ingest(tmp_path / "d0", site=warm)  # numba, imports, schema
    peaks, sizes = {}, {}
    for k, delivery_id in ((2, "230401001"), (6, "230401002")):
        site = Site(tmp_path / f"home{k}", f"sqlite:///{tmp_path / f'home{k}.db'}")
        sy.write_delivery(tmp_path / f"d{k}", delivery_id, files[:k])
        sizes[k] = sum(p.stat().st_size for p in (tmp_path / f"d{k}").glob("*.pkt"))
        tracemalloc.start()
        try:
            result = ingest(tmp_path / f"d{k}", site=site)
            peaks[k] = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        assert result.n_packets == k * PACKETS_PER_FILE and not result.quarantined
    print(
        f"deliveries {sizes[2] / 1e6:.1f} / {sizes[6] / 1e6:.1f} MB: "
        f"peak {peaks[2] / 1e6:.2f} / {peaks[6] / 1e6:.2f} MB"
    )
    assert sizes[6] > 2.9 * sizes[2]
    assert peaks[6] / peaks[2] <= 1.3
