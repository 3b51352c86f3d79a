"""A planning week: its bounds, predicted SAA passages, leap seconds and boundary warnings.

Weeks are half-open ``[start, stop)`` and each passage belongs to exactly one week, the one of
its entry, so a passage that runs over Thursday 00:00 is planned once.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from fermi_core.mission.saa import SaaPolygon, polygon_for
from fermi_isoc.planning.leapseconds import LeapSecond, LeapTableStatus, leap_seconds_in_window, table_status
from fermi_isoc.planning.orbit import Tle, default_tle
from fermi_isoc.planning.passages import Passage, passages_per_day, predict_saa_passages
from fermi_sciencetools_shim.time import met_to_utc_iso, mission_week_bounds

#: An SAA entry or exit this close (seconds) to a week boundary is worth a warning.
BOUNDARY_WARNING_S = 60.0
#: Warn when the leap-second table expires within this many days.
LEAP_TABLE_WARNING_DAYS = 60


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


def plan_week(week: int, tle: Tle | None = None, step: float = 20.0) -> WeekPlan:
    """Predict the SAA passages of mission week ``week`` and collect the warnings.

    Warnings: an SAA entry or exit within :data:`BOUNDARY_WARNING_S` of a week boundary; a
    leap second inside the week; a leap-second table expiring within
    :data:`LEAP_TABLE_WARNING_DAYS`; a TLE more than 30 days from the week.
    """
    tle = tle or default_tle()
    start, stop = mission_week_bounds(week)
    polygon = polygon_for(str(met_to_utc_iso(start, 0)))
    margin = 3600.0  # predict past the edges to see passages that run over them
    around = predict_saa_passages(tle, start - margin, stop + margin, polygon=polygon, step=step)
    passages = [p for p in around if start <= p.entry < stop and not p.starts_inside]
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
    if stop < tle.epoch_met - 30 * 86400 or start > tle.epoch_met + 30 * 86400:
        days = (0.5 * (start + stop) - tle.epoch_met) / 86400
        warnings.append(
            f"TLE epoch {met_to_utc_iso(tle.epoch_met, 0)} is {days:+.0f} days from the week: "
            "passage times drift; get a current TLE"
        )
    return WeekPlan(week, start, stop, tle, polygon, passages, leaps, status, warnings)
