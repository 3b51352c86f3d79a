"""The automatic bad-time check: an event-rate excursion far outside its expectation.

For each run, the latest version's extended FT1 (every event class: the downlinked event rate)
and 1 s FT2 are read; the FT2 rows are grouped into bins of :data:`BIN_S` seconds (whole rows,
so a flagged bin is flagged to the row) and each bin's rate is ``counts / LIVETIME``. A bin's
expectation is the lower quartile (:data:`QUANTILE`) of the rates of the other bins of the run
within :data:`WINDOW_S` seconds of it: a robust running estimate of the quiet rate. The orbital
modulation of the rate with McIlwain L changes over the ~96 min orbit, slowly across the window,
and a quartile is not pulled up by an excursion covering up to three quarters of the window (a
median would be by one covering half of it: the simulator's ``rate-excursion`` burst lasts 5 of
a run's 9 minutes in the short test simulations). A bin is an excursion when both

* its counts exceed the expected counts ``mu = median_rate * LIVETIME`` by more than
  :data:`SIGMA` Poisson standard deviations (``n > mu + SIGMA * sqrt(mu)``), and
* its rate is at least :data:`FACTOR` times the expectation (so a long, very bright run does
  not flag percent-level fluctuations).

Consecutive excursion bins make one bad time interval ``[first START, last STOP)``, recorded
with source ``auto``, the rates in its ``detail``. A bin needs :data:`MIN_REFERENCE` reference
bins with livetime, else it is not judged (short runs are not checked). An interval already
recorded by this check with the same span -- active or removed by an operator -- is not recorded
again, so re-running the check is idempotent and an operator's removal sticks.
Thresholds are documented in ``docs/lifecycle/bad-time-intervals.md``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from fermi_core.engine import State, states_of
from fermi_core.site import Site
from fermi_l1.catalog.api import product_path, query
from fermi_l1.db import session as l1_session
from fermi_l1.quality.intervals import flag
from fermi_l1.quality.models import QualityInterval
from fermi_sciencetools_shim.io.ft1 import read_events
from fermi_sciencetools_shim.io.ft2 import read_ft2

#: width of a rate bin, s (whole 1 s FT2 rows)
BIN_S = 30.0
#: half-width of the running window, s
WINDOW_S = 900.0
#: quantile of the window's rates taken as the expected (quiet) rate
QUANTILE = 0.25
#: an excursion is more than this many Poisson sigmas above the expected counts ...
SIGMA = 8.0
#: ... and at least this factor above the expected rate
FACTOR = 2.0
#: reference bins (with livetime) a bin needs to be judged
MIN_REFERENCE = 6
#: who the automatic check records intervals as
WHO = "fermi-l1 quality check"


@dataclass(frozen=True)
class RateBins:
    """Event counts and livetime per bin of FT2 rows."""

    start: np.ndarray
    stop: np.ndarray
    counts: np.ndarray
    livetime: np.ndarray

    @property
    def rate(self) -> np.ndarray:
        """Counts per second of livetime (0 where there is no livetime)."""
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(
                self.livetime > 0, self.counts / np.where(self.livetime > 0, self.livetime, 1.0), 0.0
            )


def rate_bins(rows: Mapping[str, np.ndarray], event_times: np.ndarray, bin_s: float = BIN_S) -> RateBins:
    """Group the FT2 rows (``START``, ``STOP``, ``LIVETIME``) into bins of ``bin_s`` s and count events.

    A bin starts at a row and takes the following rows while they are contiguous (``START`` equal
    to the previous ``STOP``) and end within ``bin_s`` of its start.
    """
    start = np.asarray(rows["START"], dtype=np.float64)
    stop = np.asarray(rows["STOP"], dtype=np.float64)
    live = np.asarray(rows["LIVETIME"], dtype=np.float64)
    first = []
    t0 = None
    for i in range(start.size):
        if t0 is None or stop[i] - t0 > bin_s + 1e-9 or start[i] != stop[i - 1]:
            first.append(i)
            t0 = start[i]
    idx = np.asarray(first, dtype=np.int64)
    last = np.append(idx[1:], start.size) - 1
    b_start, b_stop = start[idx], stop[last]
    b_live = np.add.reduceat(live, idx) if idx.size else np.empty(0)
    t = np.sort(np.asarray(event_times, dtype=np.float64))
    counts = np.searchsorted(t, b_stop, side="left") - np.searchsorted(t, b_start, side="left")
    return RateBins(b_start, b_stop, counts.astype(np.int64), b_live)


@dataclass(frozen=True)
class Excursion:
    """One run of consecutive excursion bins: the bad time interval to record and its evidence."""

    start: float
    stop: float
    counts: int
    expected: float
    rate: float
    expected_rate: float

    @property
    def sigma(self) -> float:
        """How many Poisson sigmas the counts are above the expectation."""
        return (self.counts - self.expected) / max(np.sqrt(self.expected), 1e-9)

    def reason(self) -> str:
        """The reason recorded with the interval."""
        return (f"rate excursion: {self.rate:.1f} Hz vs {self.expected_rate:.1f} Hz expected "
                f"(running lower quartile), {self.sigma:.0f} sigma")  # fmt: skip

    def detail(self) -> dict[str, float | int | str]:
        """The evidence recorded with the interval."""
        return {"check": "rate-excursion", "counts": self.counts, "expected_counts": round(self.expected, 3),
                "rate_hz": round(self.rate, 4), "expected_rate_hz": round(self.expected_rate, 4),
                "sigma": round(self.sigma, 2), "bin_s": BIN_S, "window_s": WINDOW_S, "quantile": QUANTILE, "threshold_sigma": SIGMA,
                "threshold_factor": FACTOR}  # fmt: skip


def find_excursions(
    bins: RateBins,
    *,
    window_s: float = WINDOW_S,
    sigma: float = SIGMA,
    factor: float = FACTOR,
    min_reference: int = MIN_REFERENCE,
) -> list[Excursion]:
    """The excursions of a run's rate bins (see the module documentation)."""
    rate = bins.rate
    mid = 0.5 * (bins.start + bins.stop)
    usable = bins.livetime > 0
    expected_rate = np.full(rate.size, np.nan)
    for i in np.flatnonzero(usable):
        ref = usable & (np.abs(mid - mid[i]) <= window_s)
        ref[i] = False
        if ref.sum() >= min_reference:
            expected_rate[i] = float(np.quantile(rate[ref], QUANTILE))
    judged = np.isfinite(expected_rate)
    mu = np.where(judged, expected_rate, 0.0) * bins.livetime
    bad = (
        judged
        & (bins.counts > mu + sigma * np.sqrt(mu))
        & (rate >= factor * np.where(judged, expected_rate, 0.0))
    )
    bad &= mu > 0
    out = []
    i = 0
    while i < bad.size:
        if not bad[i]:
            i += 1
            continue
        j = i
        while j + 1 < bad.size and bad[j + 1] and bins.start[j + 1] == bins.stop[j]:
            j += 1
        sl = slice(i, j + 1)
        n, m, live = int(bins.counts[sl].sum()), float(mu[sl].sum()), float(bins.livetime[sl].sum())
        out.append(Excursion(float(bins.start[i]), float(bins.stop[j]), n, m, n / live, m / live))
        i = j + 1
    return out


@dataclass
class CheckReport:
    """What :func:`check_runs` did: runs checked, runs too short to judge, intervals recorded."""

    checked: list[int] = field(default_factory=list)
    too_short: list[int] = field(default_factory=list)
    flagged: list[int] = field(default_factory=list)
    known: list[int] = field(default_factory=list)
    excursions: dict[int, list[Excursion]] = field(default_factory=dict)


def _latest_files(session: Session, site: Site, run: int) -> tuple[object, object] | None:
    ext = query(session, data_type="EXTENDEDFT1", run=run, latest_only=True)
    ft2 = query(session, data_type="FT2SECONDS", run=run, latest_only=True)
    if not ext or not ft2:
        return None
    return product_path(ext[-1], site), product_path(ft2[-1], site)


def _known(session: Session, start: float, stop: float) -> int | None:
    """Id of an interval this check recorded with this span before (active or removed), if any."""
    return session.scalar(
        select(QualityInterval.id).where(QualityInterval.source == "auto", QualityInterval.start_met == start,
                                         QualityInterval.stop_met == stop)
    )  # fmt: skip


def check_runs(session: Session, site: Site, runs: Iterable[int]) -> CheckReport:
    """Run the rate-excursion check on the latest products of ``runs``; record what it finds (source ``auto``).

    Runs without catalogued extended FT1 and 1 s FT2 are skipped; the caller commits.
    """
    report = CheckReport()
    for run in sorted({int(r) for r in runs}):
        files = _latest_files(session, site, run)
        if files is None:
            continue
        ext, ft2 = files
        events, _ = read_events(ext, columns=["TIME"])
        rows = read_ft2(ft2, columns=["START", "STOP", "LIVETIME", "DATA_QUAL"])
        # time flagged already has no events in the FT1 (its GTIs follow DATA_QUAL): not judged
        rows["LIVETIME"] = np.where(rows["DATA_QUAL"] > 0, rows["LIVETIME"], 0.0)
        bins = rate_bins(rows, events["TIME"])
        report.checked.append(run)
        if bins.counts.size < MIN_REFERENCE + 1:
            report.too_short.append(run)
            continue
        found = find_excursions(bins)
        report.excursions[run] = found
        for exc in found:
            known = _known(session, exc.start, exc.stop)
            if known is not None:
                report.known.append(int(known))
                continue
            report.flagged.append(flag(session, exc.start, exc.stop, reason=exc.reason(), who=WHO, source="auto",
                                       detail={**exc.detail(), "run": run}))  # fmt: skip
    return report


def check_pass(site: Site, versions: Sequence[object]) -> CheckReport:
    """The check after an L1 pass: the runs of ``versions`` (:class:`fermi_l1.versions.PlannedVersion`)
    whose ``l1run`` is done. What it records is re-issued by the next pass."""
    keys = {str(v.key): int(v.run) for v in versions}  # type: ignore[attr-defined]
    if not keys:
        return CheckReport()
    states = states_of(site.db_url, "l1run", list(keys))
    runs = [run for key, run in keys.items() if states.get(key) == State.DONE]
    with l1_session(site.db_url) as s:
        return check_runs(s, site, runs)
