"""A planning week: its bounds, predicted SAA passages, orbit commands, leap seconds, warnings.

Weeks are half-open ``[start, stop)`` and each passage belongs to exactly one week, the one of
its entry, so a passage that runs over Thursday 00:00 is planned once; each orbit command
belongs to the week of its start.

A TLE whose epoch lies more than :data:`MAX_TLE_AGE_DAYS` days from the week is refused
(:class:`StaleTle`): sgp4 predictions drift by minutes within weeks (planning a 2017 week with a
2026 TLE gives passages that never happened). ``allow_old_tle=True`` (``fermi-isoc plan
--allow-old-tle``) plans anyway and keeps a warning; ``max_tle_age_days`` (``--max-tle-age
DAYS``) changes the limit.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from fermi_core.errors import BadInput
from fermi_core.mission.saa import SaaPolygon, polygon_for
from fermi_isoc.planning.commands import Command
from fermi_isoc.planning.leapseconds import LeapSecond, LeapTableStatus, leap_seconds_in_window, table_status
from fermi_isoc.planning.load import orbit_commands
from fermi_isoc.planning.nodes import OrbitNumbering, orbit_numbering
from fermi_isoc.planning.orbit import Tle, default_tle
from fermi_isoc.planning.passages import Passage, passages_per_day, predict_saa_passages
from fermi_sciencetools_shim.time import met_to_utc_iso, mission_week_bounds

#: An SAA entry or exit this close (seconds) to a week boundary is worth a warning.
BOUNDARY_WARNING_S = 60.0
#: Warn when the leap-second table expires within this many days.
LEAP_TABLE_WARNING_DAYS = 60
#: A TLE whose epoch is further than this (days) from the planned week is an error by default.
MAX_TLE_AGE_DAYS = 30.0


class StaleTle(BadInput, ValueError):
    """The TLE's epoch is too far from the planned week (see :data:`MAX_TLE_AGE_DAYS`)."""


def tle_distance_days(tle: Tle, met_start: float, met_stop: float) -> float:
    """Days from the TLE epoch to the nearest edge of ``[met_start, met_stop)`` (0 inside), signed.

    Positive when the week is after the epoch, negative when before.
    """
    if tle.epoch_met < met_start:
        return (met_start - tle.epoch_met) / 86400.0
    if tle.epoch_met > met_stop:
        return -(tle.epoch_met - met_stop) / 86400.0
    return 0.0


@dataclass
class WeekPlan:
    """Planning facts for one mission week."""

    week: int
    met_start: float
    met_stop: float
    tle: Tle
    polygon: SaaPolygon
    passages: list[Passage]
    leap_seconds: list[LeapSecond]
    leap_table: LeapTableStatus
    warnings: list[str] = field(default_factory=list)
    commands: list[Command] = field(default_factory=list)
    orbits: OrbitNumbering | None = None
    tle_distance_days: float = 0.0

    @property
    def utc_start(self) -> str:
        """UTC of the week start."""
        return str(met_to_utc_iso(self.met_start, 0))

    @property
    def utc_stop(self) -> str:
        """UTC of the week end (exclusive)."""
        return str(met_to_utc_iso(self.met_stop, 0))

    def summary(self) -> dict[str, float]:
        """Passage statistics over the week."""
        return passages_per_day(self.passages, self.met_start, self.met_stop)


def plan_week(
    week: int,
    tle: Tle | None = None,
    step: float = 20.0,
    *,
    max_tle_age_days: float = MAX_TLE_AGE_DAYS,
    allow_old_tle: bool = False,
    polygons: tuple[SaaPolygon, ...] | None = None,
) -> WeekPlan:
    """Predict the SAA passages and orbit commands of mission week ``week``; collect the warnings.

    Parameters
    ----------
    week : int
        Mission week number.
    tle : Tle, optional
        Orbit elements (default: the built-in ones).
    step : float
        Sampling step of the ground track (s).
    max_tle_age_days : float
        Largest allowed distance of the TLE epoch from the week, days.
    allow_old_tle : bool
        Plan with a TLE beyond that limit anyway (a warning says so).
    polygons : tuple of SaaPolygon, optional
        Polygon versions to choose from by the week's start date (default: the shipped ones).

    Raises
    ------
    StaleTle
        When the TLE is too far from the week and ``allow_old_tle`` is false.

    Notes
    -----
    Warnings: an SAA entry or exit within :data:`BOUNDARY_WARNING_S` of a week boundary; a
    leap second inside the week; a leap-second table expiring within
    :data:`LEAP_TABLE_WARNING_DAYS`; an old TLE planned with anyway.
    """
    tle = tle or default_tle()
    start, stop = mission_week_bounds(week)
    distance = tle_distance_days(tle, start, stop)
    if abs(distance) > max_tle_age_days and not allow_old_tle:
        raise StaleTle(
            f"{tle.source}: TLE epoch {met_to_utc_iso(tle.epoch_met, 0)} is {abs(distance):.0f} days "
            f"{'before' if distance > 0 else 'after'} week {week} ({met_to_utc_iso(start, 0)}), more than "
            f"{max_tle_age_days:g}: get a TLE of the week from flight dynamics, or pass --allow-old-tle"
        )
    polygon = polygon_for(str(met_to_utc_iso(start, 0)), polygons)
    margin = 1.5 * tle.period_s  # past the edges: passages that run over them, the orbit after the last node
    around = predict_saa_passages(tle, start - margin, stop + margin, polygon=polygon, step=step)
    passages = [p for p in around if start <= p.entry < stop and not p.starts_inside]
    orbits = orbit_numbering(tle, start, stop + margin)
    commands = orbit_commands(around, orbits.nodes, start, stop)
    warnings = []
    for p in around:
        for edge, label in ((p.entry, "entry"), (p.exit, "exit")):
            for boundary in (start, stop):
                if abs(edge - boundary) < BOUNDARY_WARNING_S:
                    warnings.append(
                        f"SAA {label} at {met_to_utc_iso(edge, 1)} is {edge - boundary:+.1f} s from the "
                        f"week boundary {met_to_utc_iso(boundary, 0)}"
                    )
    leaps = leap_seconds_in_window(start, stop)
    for leap in leaps:
        warnings.append(
            f"leap second inserted before {leap.effective_utc} (MET {leap.met_start:.0f}) falls in week {week}"
        )
    status = table_status()
    if status.days_left < LEAP_TABLE_WARNING_DAYS:
        warnings.append(
            f"leap-second table {status.source} expires on {status.expires} ({status.days_left} days)"
        )
    if abs(distance) > max_tle_age_days:
        warnings.append(
            f"TLE epoch {met_to_utc_iso(tle.epoch_met, 0)} is {abs(distance):.0f} days from the week "
            f"(limit {max_tle_age_days:g}, overridden): passage times drift; get a current TLE"
        )
    return WeekPlan(
        week, start, stop, tle, polygon, passages, leaps, status, warnings,
        commands=commands, orbits=orbits, tle_distance_days=float(np.round(distance, 3)),
    )  # fmt: skip
