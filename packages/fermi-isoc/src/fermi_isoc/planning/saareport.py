"""Checks of the SAA reports delivered by flight operations.

Two formats are read, one transit per line (start time, start orbit, stop time, stop orbit,
duration):

* the flight-operations report as delivered: no header, UTC as ``DOY/YYYY hh:mm:ss.sss``, orbit
  numbers in double quotes, the duration in **minutes**, e.g.
  ``365/2014 20:46:21.642,"36134",365/2014 20:56:22.845,"36134",10.020``. The files are named
  ``L<YYYY><DOY>SAA…`` and the report's own date comes from the name (:func:`report_date`); a
  report spans New Year when its transits run into the next year (each time carries its year);
* the CSV of this project: header ``start,start_orbit,stop,stop_orbit,duration_s``, times as UTC
  ISO ``2017-08-17T01:02:03`` or day-of-year ``2017:229:01:02:03``, the duration in seconds.

The checks operations run on each new report against the previous one: transits matched by
orbit number with entry/exit shifts flagged above 30, 60, 90 and 120 s; transits that appear or
disappear; duplicate orbit numbers; transits shorter than 30 s; an entry or exit within 60 s of
a mission-week boundary; a duration column that disagrees with stop − start. TLE predictions
cross-check a report.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import numpy as np
from astropy.time import Time

from fermi_core.atomic import atomic_write_text
from fermi_core.errors import BadInput
from fermi_isoc.planning.orbit import Tle
from fermi_isoc.planning.passages import predict_saa_passages
from fermi_sciencetools_shim.time import (
    met_to_time,
    met_to_utc_iso,
    mission_week,
    mission_week_bounds,
    time_to_met,
)

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


#: A flight-operations time: ``DOY/YYYY hh:mm:ss[.sss]`` (UTC; 23:59:60 in a leap second).
_FOT_TIME = re.compile(r"^(\d{1,3})/(\d{4}) (\d{2}):(\d{2}):(\d{2}(?:\.\d+)?)$")
#: The report's name: ``L<YYYY><DOY>SAA...``.
_FOT_NAME = re.compile(r"^L(\d{4})(\d{3})SAA", re.IGNORECASE)
#: Tolerance of the duration column against stop − start: the minutes are rounded to 3 decimals.
DURATION_TOLERANCE_S = 1.0


def _time(text: str, where: str) -> float:
    text = text.strip()
    try:
        fmt = "yday" if text.count(":") >= 3 and "-" not in text[:5] else "isot"
        return float(time_to_met(Time(text, format=fmt, scale="utc")))
    except ValueError as exc:
        raise SaaReportError(f"{where}: time {text!r} is neither UTC ISO nor YYYY:DDD:hh:mm:ss") from exc


def _fot_time(text: str, where: str) -> float:
    """MET of a flight-operations time ``DOY/YYYY hh:mm:ss.sss`` (UTC)."""
    m = _FOT_TIME.match(text.strip())
    if m is None:
        raise SaaReportError(f"{where}: time {text.strip()!r} is not DOY/YYYY hh:mm:ss.sss")
    doy, year, hh, mm, ss = int(m[1]), int(m[2]), m[3], m[4], m[5]
    days = (date(year + 1, 1, 1) - date(year, 1, 1)).days
    if not 1 <= doy <= days:
        raise SaaReportError(f"{where}: day of year {doy} outside 1..{days} in {year}")
    try:
        return float(time_to_met(Time(f"{year:04d}:{doy:03d}:{hh}:{mm}:{ss}", format="yday", scale="utc")))
    except ValueError as exc:
        raise SaaReportError(f"{where}: time {text.strip()!r}: {exc}") from exc


def report_date(path: str | Path) -> date | None:
    """The report's own date from a flight-operations name ``L<YYYY><DOY>SAA…`` (None otherwise)."""
    m = _FOT_NAME.match(Path(path).name)
    if m is None:
        return None
    year, doy = int(m[1]), int(m[2])
    if not 1 <= doy <= (date(year + 1, 1, 1) - date(year, 1, 1)).days:
        raise SaaReportError(f"{path}: file name gives day of year {doy}, outside {year}")
    return date(year, 1, 1) + timedelta(days=doy - 1)


def _orbit(text: str, where: str, name: str) -> int:
    raw = text.strip()
    if len(raw) >= 2 and raw[0] == raw[-1] == '"':
        raw = raw[1:-1].strip()
    try:
        return int(raw)
    except ValueError as exc:
        raise SaaReportError(f"{where}: {name} {text.strip()!r} is not an orbit number") from exc


def _number(text: str, where: str) -> float:
    try:
        value = float(text)
    except ValueError as exc:
        raise SaaReportError(f"{where}: duration {text.strip()!r} is not a number") from exc
    if not np.isfinite(value) or value < 0:
        raise SaaReportError(f"{where}: duration {text.strip()!r} must be finite and >= 0")
    return value


def read_saa_report(path: str | Path) -> list[Transit]:
    """Read an SAA report: the flight-operations format or this project's CSV (see the module).

    Returns
    -------
    list of Transit
        In file order; durations in seconds whatever the format.

    Raises
    ------
    SaaReportError
        On the first line that cannot be read, naming the file, the line and the reason.
    """
    path = Path(path)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise SaaReportError(f"{path}: cannot read: {exc}") from exc
    rows = [(n, row) for n, row in enumerate(csv.reader(lines), start=1) if row and "".join(row).strip()]
    if not rows:
        raise SaaReportError(f"{path}: empty file")
    first_line, first = rows[0]
    names = tuple(h.strip().lower().replace(" ", "_") for h in first)
    if names == _COLUMNS:
        fot, rows = False, rows[1:]
    elif _FOT_TIME.match(first[0].strip()):
        fot = True
    else:
        raise SaaReportError(
            f'{path}: line {first_line}: neither a flight-operations transit (DOY/YYYY hh:mm:ss.sss,"orbit",...) '
            f"nor the header {','.join(_COLUMNS)}"
        )
    out = []
    for number, row in rows:
        where = f"{path}: line {number}"
        if len(row) != 5:
            raise SaaReportError(f"{where}: expected 5 fields, got {len(row)}")
        start_orbit = _orbit(row[1], where, "start orbit")
        stop_orbit = _orbit(row[3], where, "stop orbit")
        if fot:
            start, stop = _fot_time(row[0], where), _fot_time(row[2], where)
            duration = 60.0 * _number(row[4], where)
        else:
            start, stop = _time(row[0], where), _time(row[2], where)
            duration = _number(row[4], where)
        if stop < start:
            raise SaaReportError(f"{where}: stop is before start")
        if stop_orbit < start_orbit:
            raise SaaReportError(f"{where}: stop orbit {stop_orbit} is before start orbit {start_orbit}")
        out.append(Transit(start, start_orbit, stop, stop_orbit, duration, number))
    return out


def format_fot_time(met: float) -> str:
    """A MET as flight operations write it: ``DOY/YYYY hh:mm:ss.sss`` (UTC)."""
    t = met_to_time(float(met)).utc
    t.precision = 3
    yday = str(t.yday)
    year, doy, rest = yday.split(":", 2)
    return f"{doy}/{year} {rest}"


def write_fot_report(transits: list[Transit], path: str | Path) -> Path:
    """Write transits in the flight-operations format (no header, quoted orbits, minutes)."""
    lines = [
        f'{format_fot_time(t.start)},"{t.start_orbit}",{format_fot_time(t.stop)},"{t.stop_orbit}",'
        f"{(t.stop - t.start) / 60.0:.3f}"
        for t in transits
    ]
    path = Path(path)
    atomic_write_text(path, "".join(line + "\n" for line in lines))
    return path


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
        if abs(t.duration - (t.stop - t.start)) > DURATION_TOLERANCE_S:
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
