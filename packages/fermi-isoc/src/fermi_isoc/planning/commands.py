"""Command timelines: read them and flag commands that straddle a mission-week boundary.

Weekly command loads cover half-open mission weeks ``[Thursday 00:00 UTC, next Thursday)``.
A command (or a command sequence with a duration, like a stop/start pair) that starts in one
week and ends in the next splits across two loads, and one at exactly the boundary belongs to
the later week only; both cases are what the ISOC flags.

Timeline files are CSV with a header ``name,start[,duration_s]`` or JSON (a list of objects
with the same keys); ``start`` is a UTC ISO time or MET seconds.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from fermi_core.errors import BadInput
from fermi_sciencetools_shim.time import met_to_utc_iso, mission_week, mission_week_bounds, utc_to_met


class TimelineError(BadInput, ValueError):
    """A command timeline that cannot be read: names the file, the entry and the reason."""


@dataclass(frozen=True)
class Command:
    """One timeline entry: a name, a start (MET) and a duration (seconds, >= 0)."""

    name: str
    start: float
    duration: float = 0.0

    @property
    def stop(self) -> float:
        """End of the command (MET)."""
        return self.start + self.duration


@dataclass(frozen=True)
class BoundaryFinding:
    """A command touching a mission-week boundary."""

    command: Command
    week: int
    boundary_met: float
    kind: str  # "straddles" or "at-boundary"
    message: str


def _parse_time(value: object, where: str) -> float:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    text = str(value).strip()
    try:
        return float(text)
    except ValueError:
        pass
    try:
        return float(utc_to_met(text))
    except ValueError as exc:
        raise TimelineError(f"{where}: start {text!r} is neither MET seconds nor a UTC ISO time") from exc


def _entry(raw: dict, where: str) -> Command:
    name = str(raw.get("name", "")).strip()
    if not name:
        raise TimelineError(f"{where}: missing command name")
    if raw.get("start") in (None, ""):
        raise TimelineError(f"{where}: command {name!r} has no start")
    start = _parse_time(raw["start"], where)
    duration_raw = raw.get("duration_s", 0) or 0
    try:
        duration = float(duration_raw)
    except ValueError as exc:
        raise TimelineError(f"{where}: duration_s {duration_raw!r} is not a number") from exc
    if not np.isfinite(duration) or duration < 0:
        raise TimelineError(f"{where}: duration_s must be finite and >= 0, got {duration}")
    return Command(name, start, duration)


def read_timeline(path: str | Path) -> list[Command]:
    """Read a command timeline (``.csv`` or ``.json``), sorted by start time."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise TimelineError(f"{path}: cannot read: {exc}") from exc
    commands = []
    if path.suffix.lower() == ".json":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise TimelineError(f"{path}: not valid JSON at line {exc.lineno}: {exc.msg}") from exc
        if not isinstance(data, list):
            raise TimelineError(f"{path}: expected a JSON list of commands, got {type(data).__name__}")
        for i, raw in enumerate(data):
            if not isinstance(raw, dict):
                raise TimelineError(f"{path}: entry {i} is not an object")
            commands.append(_entry(raw, f"{path}: entry {i}"))
    elif path.suffix.lower() == ".csv":
        reader = csv.DictReader(text.splitlines())
        if reader.fieldnames is None or not {"name", "start"} <= set(reader.fieldnames):
            raise TimelineError(f"{path}: CSV header must contain 'name' and 'start'")
        for line, raw in enumerate(reader, start=2):
            commands.append(_entry(raw, f"{path}: line {line}"))
    else:
        raise TimelineError(f"{path}: unknown timeline format {path.suffix!r} (use .csv or .json)")
    return sorted(commands, key=lambda c: c.start)


def check_week_boundaries(commands: list[Command], margin_s: float = 0.0) -> list[BoundaryFinding]:
    """Flag commands that cross a mission-week boundary or start exactly on one.

    Parameters
    ----------
    commands : list of Command
        The timeline.
    margin_s : float
        Also flag commands that start or end within this many seconds of a boundary.
    """
    findings = []
    for cmd in commands:
        week = int(mission_week(cmd.start))
        start, stop = mission_week_bounds(week)
        at_start = cmd.start == start
        if at_start:
            findings.append(
                BoundaryFinding(
                    cmd, week, start, "at-boundary",
                    f"{cmd.name} at {met_to_utc_iso(cmd.start, 3)} starts exactly on the start of week "
                    f"{week}: it belongs to week {week} only, not to the load of week {week - 1}",
                )
            )  # fmt: skip
        if cmd.stop > stop or (cmd.duration > 0 and cmd.stop == stop):
            findings.append(
                BoundaryFinding(
                    cmd, week, stop, "straddles",
                    f"{cmd.name} from {met_to_utc_iso(cmd.start, 3)} to {met_to_utc_iso(cmd.stop, 3)} "
                    f"crosses the boundary between weeks {week} and {week + 1}",
                )
            )  # fmt: skip
        elif not at_start and margin_s > 0 and (stop - cmd.stop < margin_s or cmd.start - start < margin_s):
            boundary = stop if stop - cmd.stop < margin_s else start
            findings.append(
                BoundaryFinding(
                    cmd, week, boundary, "near-boundary",
                    f"{cmd.name} at {met_to_utc_iso(cmd.start, 3)} is within {margin_s:g} s of a week boundary",
                )
            )  # fmt: skip
    return findings
