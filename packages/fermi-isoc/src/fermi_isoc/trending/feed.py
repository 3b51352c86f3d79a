"""Feed trending from what the pipeline produced: merged event files and FT2 files.

Sources and the quantities recorded (``isoc_metric_sample``):

* the halfpipe's merged event files (table ``halfpipe_file``): from the GEM counters of each time
  bin, ``trigger_rate_hz`` (Δ GEM sequence / Δ elapsed) and ``livetime_fraction`` key ``GEM``
  (Δ livetime / Δ elapsed); from the decoded records (digi), per tower (key ``tower N``)
  ``tkr_occupancy`` (strip hits per event), ``tkr_bad_strips`` (hot + dead strips) and
  ``cal_mean_log_energy_mev`` (mean energy of the logs that fired);
* the 1 s FT2 files of the data catalog (``FT2SECONDS``, newest version): ``livetime_fraction``
  key ``FT2`` (Σ LIVETIME / Σ duration per time bin).

Every sample carries its source (``halfpipe:<path>`` or ``catalog:<logical path>@v<version>``);
a source already recorded is skipped, so ingesting again adds nothing, and a newer version of a
catalog file replaces the samples of the older one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from fermi_core.site import Site
from fermi_halfpipe.outputs import read_merged
from fermi_halfpipe.published import all_merged_files
from fermi_isoc.models import MetricSample
from fermi_isoc.trending.inputs import N_TOWERS, STRIPS_PER_TOWER, Series, record
from fermi_l1.catalog.api import product_path, query
from fermi_l1.digi.decode import TICKS_PER_SECOND, decode_events
from fermi_sciencetools_shim.io.ft2 import read_ft2

#: default width of the time bins of rates and livetime (s)
BIN_S = 60.0
#: a strip is hot when it fires more than this many times the mean of its layer ...
HOT_FACTOR = 10.0
#: ... and at least this many times (few events cannot single out a hot strip)
HOT_MIN_HITS = 20
#: strips that never fire are called dead only when their layer's mean count is at least this
#: (Poisson chance of no hit e^-15 ≈ 3e-7: < 1 false dead strip over the whole tracker)
DEAD_MIN_EXPECTED = 15.0
STRIPS_PER_LAYER = 1536


@dataclass
class IngestSummary:
    """What one :func:`ingest` did: files read or skipped and samples recorded per quantity."""

    files_read: list[str] = field(default_factory=list)
    files_skipped: list[str] = field(default_factory=list)
    samples: dict[str, int] = field(default_factory=dict)

    def add(self, n: int, quantity: str) -> None:
        self.samples[quantity] = self.samples.get(quantity, 0) + n


def _bins(met: np.ndarray, bin_s: float) -> np.ndarray:
    """Bin number of each time, bins aligned on multiples of ``bin_s`` MET seconds."""
    return np.floor(met / bin_s).astype(np.int64)


def counter_series(columns: dict[str, np.ndarray], bin_s: float = BIN_S) -> tuple[Series, Series]:
    """Trigger rate (Hz) and livetime fraction per time bin from the GEM counters of one run span.

    Within a bin the rate is (GEM sequence of the last event − of the first) / (elapsed of the
    last − of the first); the counters run from the run start, so a span never straddles a reset.
    Bins with fewer than 2 events are left out. Sample time: the first event of the bin.
    """
    met = np.asarray(columns["event_time"], dtype=np.float64)
    seq = np.asarray(columns["gem_seq"], dtype=np.int64)
    elapsed = np.asarray(columns["elapsed"], dtype=np.int64)
    live = np.asarray(columns["livetime"], dtype=np.int64)
    if met.size == 0:
        empty = np.zeros(0)
        return Series("trigger_rate_hz", empty, empty, unit="Hz"), Series(
            "livetime_fraction", empty, empty, key="GEM"
        )
    b = _bins(met, bin_s)
    # events are in GEM order; bins are contiguous runs of equal bin numbers
    starts = np.flatnonzero(np.r_[True, b[1:] != b[:-1]])
    stops = np.r_[starts[1:], b.size] - 1
    d_el = elapsed[stops] - elapsed[starts]
    ok = d_el > 0
    first, last, d_el = starts[ok], stops[ok], d_el[ok]
    rate = (seq[last] - seq[first]) * TICKS_PER_SECOND / d_el.astype(np.float64)
    frac = (live[last] - live[first]) / d_el.astype(np.float64)
    return (
        Series("trigger_rate_hz", met[first], rate, unit="Hz"),
        Series("livetime_fraction", met[first], frac, key="GEM"),
    )


def ft2_livetime_series(path: str | Path, bin_s: float = BIN_S) -> Series:
    """Σ LIVETIME / Σ (STOP − START) of the FT2 rows starting in each time bin."""
    t = read_ft2(path)
    start = np.asarray(t["START"], dtype=np.float64)
    dur = np.asarray(t["STOP"], dtype=np.float64) - start
    if np.any(dur <= 0):
        raise ValueError(f"{path}: SC_DATA row {int(np.flatnonzero(dur <= 0)[0])} has STOP <= START")
    live = np.asarray(t["LIVETIME"], dtype=np.float64)
    b = _bins(start, bin_s)
    keys, inverse = np.unique(b, return_inverse=True)
    first = np.full(keys.size, np.inf)
    np.minimum.at(first, inverse, start)
    frac = np.bincount(inverse, live) / np.bincount(inverse, dur)
    return Series("livetime_fraction", first, frac, key="FT2")


def bad_strip_counts(strip_hits: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Hot and dead strips per tower (16,) from hit counts per strip (16 × 55296).

    Each layer (tower, plane, view; 1536 strips) is judged on its own: hot = more than
    :data:`HOT_FACTOR` × the layer's mean count and at least :data:`HOT_MIN_HITS`; dead = no hit
    in a layer whose mean count is at least :data:`DEAD_MIN_EXPECTED` (else not judged).
    """
    hits = np.asarray(strip_hits, dtype=np.float64).reshape(N_TOWERS, -1, STRIPS_PER_LAYER)
    mean = hits.mean(axis=2, keepdims=True)
    hot = (hits > HOT_FACTOR * mean) & (hits >= HOT_MIN_HITS)
    dead = (hits == 0) & (mean >= DEAD_MIN_EXPECTED)
    return hot.sum(axis=(1, 2)), dead.sum(axis=(1, 2))


def digi_series(merged, source: str) -> list[Series]:  # type: ignore[no-untyped-def]
    """Per-tower tracker occupancy, bad strips and calorimeter mean log energy of one merged file."""
    ev = decode_events(merged.records_buffer, merged.offsets, merged.lengths, errors="flag", source=source)
    good = ev.status == 0
    n = int(good.sum())
    if n == 0:
        return []
    met = np.array([float(np.min(merged.columns["event_time"]))])
    tower = ev.tkr_tower.astype(np.int64)
    strip = tower * STRIPS_PER_TOWER + (ev.tkr_plane.astype(np.int64) * 2 + ev.tkr_view) * STRIPS_PER_LAYER
    strip = strip + ev.tkr_strip
    strip_hits = np.bincount(strip, minlength=N_TOWERS * STRIPS_PER_TOWER)
    occupancy = strip_hits.reshape(N_TOWERS, -1).sum(axis=1) / n
    hot, dead = bad_strip_counts(strip_hits)
    cal_t = ev.cal_tower.astype(np.int64)
    e = np.asarray(ev.cal_energy, dtype=np.float64)
    fin = np.isfinite(e)
    n_logs = np.bincount(cal_t[fin], minlength=N_TOWERS)
    e_sum = np.bincount(cal_t[fin], e[fin], minlength=N_TOWERS)
    out: list[Series] = []
    for t in range(N_TOWERS):
        key = f"tower {t}"
        out.append(Series("tkr_occupancy", met, np.array([occupancy[t]]), key=key))
        out.append(Series("tkr_bad_strips", met, np.array([float(hot[t] + dead[t])]), key=key))
        if n_logs[t]:
            out.append(
                Series("cal_mean_log_energy_mev", met, np.array([e_sum[t] / n_logs[t]]), key=key, unit="MeV")
            )
    return out


def _recorded(session: Session, source: str) -> bool:
    return session.scalar(select(MetricSample.id).where(MetricSample.source == source).limit(1)) is not None


def ingest(
    session: Session, since: float | None = None, bin_s: float = BIN_S, home: str | Path | None = None
) -> IngestSummary:
    """Record trending samples from the merged event files and FT2 files not recorded yet.

    Parameters
    ----------
    session
        Database session (halfpipe, catalog and isoc tables).
    since
        Only sources whose data end at or after this MET (default: all).
    bin_s
        Width of the time bins of rates and livetime fractions (s).
    home
        Root of relative merged-file paths (default ``$FERMI_HOME``).
    """
    if not bin_s > 0:
        raise ValueError(f"trend ingest: bin width must be > 0 s, got {bin_s}")
    site = Site(home) if home is not None else Site.from_env()
    summary = IngestSummary()
    for _, f in all_merged_files(session, site):
        source = f"halfpipe:{f.relpath}"
        if _recorded(session, source):
            summary.files_skipped.append(f.relpath)
            continue
        path = Path(f.path)
        merged = read_merged(path, f.sha256)
        met = merged.columns["event_time"]
        if since is not None and (met.size == 0 or float(met.max()) < since):
            continue
        for s in (*counter_series(merged.columns, bin_s), *digi_series(merged, str(path))):
            summary.add(record(session, s, source), s.quantity)
        summary.files_read.append(str(path))
    for d in query(session, data_type="FT2SECONDS", met_min=since, latest_only=True):
        source = f"catalog:{d.logical_path}@v{d.version}"
        if _recorded(session, source):
            summary.files_skipped.append(d.file_path)
            continue
        # an older version of the same file is superseded: its samples go
        session.execute(
            delete(MetricSample).where(
                MetricSample.source.startswith(f"catalog:{d.logical_path}@v", autoescape=True),
                MetricSample.source != source,
            )
        )
        ft2 = product_path(d, site)
        s = ft2_livetime_series(ft2, bin_s)
        summary.add(record(session, s, source), s.quantity)
        summary.files_read.append(str(ft2))
    session.flush()
    return summary
