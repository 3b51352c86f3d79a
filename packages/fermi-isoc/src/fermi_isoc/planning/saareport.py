"""Checks of the SAA reports delivered by flight operations.

A report is a CSV with one transit per line: start time, start orbit, stop time, stop orbit,
duration (header ``start,start_orbit,stop,stop_orbit,duration_s``; times as UTC ISO
``2017-08-17T01:02:03`` or day-of-year ``2017:229:01:02:03``). The checks operations run on each
new report against the previous one: transits matched by orbit number with entry/exit shifts
flagged above 30, 60, 90 and 120 s; transits that appear or disappear; duplicate orbit numbers;
transits shorter than 30 s; an entry or exit within 60 s of a mission-week boundary; a duration
column that disagrees with stop − start. TLE predictions cross-check a report.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from astropy.time import Time

from fermi_core.errors import BadInput
from fermi_isoc.planning.orbit import Tle
from fermi_isoc.planning.passages import predict_saa_passages
from fermi_sciencetools_shim.time import met_to_utc_iso, mission_week, mission_week_bounds, time_to_met

SHIFT_LEVELS_S = (30.0, 60.0, 90.0, 120.0)
SHORT_TRANSIT_S = 30.0
BOUNDARY_S = 60.0
_COLUMNS = ("start", "start_orbit", "stop", "stop_orbit", "duration_s")


class SaaReportError(BadInput, ValueError):
    """An SAA report that cannot be read: file, line and reason."""


@dataclass(frozen=True)
class Transit:
    """One SAA transit of a report (times in MET)."""

    start: float
    start_orbit: int
    stop: float
    stop_orbit: int
    duration: float
    line: int


@dataclass(frozen=True)
class ReportFinding:
    """One check result: severity ``warning`` or ``error``, the orbit (or -1), the message."""

    severity: str
    orbit: int
    message: str


def _time(text: str, where: str) -> float:
    text = text.strip()
    try:
        fmt = "yday" if text.count(":") >= 3 and "-" not in text[:5] else "isot"
        return float(time_to_met(Time(text, format=fmt, scale="utc")))
    except ValueError as exc:
        raise SaaReportError(f"{where}: time {text!r} is neither UTC ISO nor YYYY:DDD:hh:mm:ss") from exc


def read_saa_report(path: str | Path) -> list[Transit]:
    """Read a flight-operations SAA report CSV."""
    path = Path(path)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise SaaReportError(f"{path}: cannot read: {exc}") from exc
    reader = csv.reader(lines)
    header = next(reader, None)
    if header is None:
        raise SaaReportError(f"{path}: empty file")
    names = tuple(h.strip().lower().replace(" ", "_") for h in header)
    if names != _COLUMNS:
        raise SaaReportError(f"{path}: line 1: header must be {','.join(_COLUMNS)}, got {','.join(names)}")
    out = []
    for number, row in enumerate(reader, start=2):
        if not row or not "".join(row).strip():
            continue
        where = f"{path}: line {number}"
        if len(row) != 5:
            raise SaaReportError(f"{where}: expected 5 fields, got {len(row)}")
        try:
            start_orbit, stop_orbit, duration = int(row[1]), int(row[3]), float(row[4])
        except ValueError as exc:
            raise SaaReportError(
                f"{where}: orbit numbers must be integers and the duration a number"
            ) from exc
        start, stop = _time(row[0], where), _time(row[2], where)
        if stop < start:
            raise SaaReportError(f"{where}: stop is before start")
        out.append(Transit(start, start_orbit, stop, stop_orbit, duration, number))
    return out


def _fmt(met: float) -> str:
    return str(met_to_utc_iso(met, 1))


def check_report(report: list[Transit], previous: list[Transit] | None = None) -> list[ReportFinding]:
    """Run the operations checks on a report (and against the previous one when given)."""
    findings: list[ReportFinding] = []
    orbits = [t.start_orbit for t in report]
    for orbit in sorted({o for o in orbits if orbits.count(o) > 1}):
        findings.append(ReportFinding("error", orbit, f"orbit {orbit} appears {orbits.count(orbit)} times"))
    for t in report:
        if t.stop - t.start < SHORT_TRANSIT_S:
            findings.append(
                ReportFinding("warning", t.start_orbit,
                              f"orbit {t.start_orbit}: transit of {t.stop - t.start:.1f} s is shorter than {SHORT_TRANSIT_S:g} s")
            )  # fmt: skip
        if abs(t.duration - (t.stop - t.start)) > 1.0:
            findings.append(
                ReportFinding("error", t.start_orbit,
                              f"orbit {t.start_orbit}: duration {t.duration:g} s but stop − start is {t.stop - t.start:.1f} s")
            )  # fmt: skip
        for edge, label in ((t.start, "entry"), (t.stop, "exit")):
            week_start, week_stop = mission_week_bounds(int(mission_week(edge)))
            for boundary in (week_start, week_stop):
                if abs(edge - boundary) < BOUNDARY_S:
                    findings.append(
                        ReportFinding("warning", t.start_orbit,
                                      f"orbit {t.start_orbit}: SAA {label} {_fmt(edge)} is {edge - boundary:+.1f} s "
                                      f"from the mission-week boundary {_fmt(boundary)}")
                    )  # fmt: skip
    if previous is None:
        return findings
    old = {t.start_orbit: t for t in previous}
    new = {t.start_orbit: t for t in report}
    # only the time span both reports cover can be compared for appearing/disappearing transits
    lo = max(min(t.start for t in report), min(t.start for t in previous)) if report and previous else 0.0
    hi = min(max(t.stop for t in report), max(t.stop for t in previous)) if report and previous else -1.0
    for orbit in sorted(set(old) | set(new)):
        a, b = old.get(orbit), new.get(orbit)
        if a is None or b is None:
            t = a or b
            if lo <= t.start <= hi:
                what = "appears" if a is None else "disappears"
                findings.append(
                    ReportFinding("warning", orbit, f"orbit {orbit}: transit at {_fmt(t.start)} {what}")
                )
            continue
        for label, shift in (("entry", b.start - a.start), ("exit", b.stop - a.stop)):
            level = max((lv for lv in SHIFT_LEVELS_S if abs(shift) > lv), default=None)
            if level is not None:
                findings.append(
                    ReportFinding("error" if level >= 120 else "warning", orbit,
                                  f"orbit {orbit}: {label} moved {shift:+.1f} s (more than {level:g} s)")
                )  # fmt: skip
    return findings


def cross_check_with_tle(report: list[Transit], tle: Tle, tolerance_s: float = 120.0) -> list[ReportFinding]:
    """Compare report transits with sgp4 predictions: unmatched transits and large shifts."""
    if not report:
        return []
    start = min(t.start for t in report) - 3600
    stop = max(t.stop for t in report) + 3600
    predicted = predict_saa_passages(tle, start, stop)
    entries = np.array([p.entry for p in predicted])
    findings = []
    for t in report:
        if entries.size == 0:
            findings.append(ReportFinding("warning", t.start_orbit, "no predicted passage at all"))
            continue
        i = int(np.argmin(np.abs(entries - t.start)))
        p = predicted[i]
        d_entry, d_exit = t.start - p.entry, t.stop - p.exit
        if abs(d_entry) > tolerance_s or abs(d_exit) > tolerance_s:
            findings.append(
                ReportFinding("warning", t.start_orbit,
                              f"orbit {t.start_orbit}: report differs from the TLE prediction by "
                              f"{d_entry:+.0f} s at entry, {d_exit:+.0f} s at exit")
            )  # fmt: skip
    return findings
