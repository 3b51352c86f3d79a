"""The mission-planning table of the LAT configuration, and the configuration-key check of a run.

The table (TOML; the shipped default is ``data/mission_planning_keys.toml`` beside this module,
described in its own comments and in ``docs/formats/telemetry.md`` §11) lists the planned
configuration changes: from each change's ``start`` (UTC) the LAT is expected to run with its
hardware, software and MOOT keys (:class:`fermi_halfpipe.keys.ConfigKeys`) until the next
change. :func:`check_keys` compares the keys a run's datagrams carry with the entry in force at
the run start; any difference is a *mismatch* (the reason names both keys of each difference),
which the halfpipe holds until an operator accepts it (``fermi-halfpipe accept``). This is the
historical "halt on MOOT key mismatch" of May 2010, turned into an early, named hold.

The table in use is the halfpipe option ``planning_table``
(:class:`fermi_halfpipe.options.HalfpipeOptions`; environment ``FERMI_HALFPIPE_PLANNING_TABLE``,
``--planning-table``); the simulator reads the same table (:func:`load_table` with no path), so a
clean simulated run matches.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from pathlib import Path

import numpy as np

from fermi_halfpipe.errors import HalfpipeError
from fermi_halfpipe.format import KEY_NAMES
from fermi_halfpipe.keys import ConfigKeys, format_key

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

__all__ = [
    "DEFAULT_TABLE",
    "TABLE_FORMAT",
    "PlannedChange",
    "PlanningTable",
    "check_keys",
    "load_table",
]

#: The shipped mission-planning table.
DEFAULT_TABLE = Path(__file__).with_name("data") / "mission_planning_keys.toml"
#: ``format`` of a planning-table file (``format_version`` 1).
TABLE_FORMAT = "fermi-lat-config-plan"
TABLE_VERSION = 1


@dataclass(frozen=True)
class PlannedChange:
    """One planned configuration change: in force from ``start_met`` until the next one."""

    start_utc: str
    start_met: float
    keys: ConfigKeys
    comment: str = ""


@dataclass(frozen=True)
class PlanningTable:
    """The planned configuration changes of one table file, in time order."""

    path: str
    changes: tuple[PlannedChange, ...]

    def in_force(self, met: float) -> PlannedChange | None:
        """The change in force at MET ``met`` (the last starting at or before it), or None."""
        starts = np.array([c.start_met for c in self.changes])
        k = int(np.searchsorted(starts, float(met), side="right")) - 1
        return self.changes[k] if k >= 0 else None

    def expected(self, met: float) -> ConfigKeys | None:
        """The keys planned for a run started at MET ``met`` (None before the first change)."""
        change = self.in_force(met)
        return None if change is None else change.keys


def _key(path: str, k: int, entry: dict, name: str) -> int:
    value = entry.get(name)
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 0xFFFFFFFF:
        raise HalfpipeError(
            f"{path}: change {k + 1} ({entry.get('start', 'no start')}): {name} {value!r} is not an "
            "unsigned 32-bit integer"
        )
    return value


@lru_cache(maxsize=8)
def _load(path: str, mtime_ns: int, size: int) -> PlanningTable:
    try:
        data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise HalfpipeError(f"{path}: cannot read the mission-planning table: {exc}") from None
    if data.get("format") != TABLE_FORMAT or data.get("format_version") != TABLE_VERSION:
        raise HalfpipeError(
            f"{path}: not a mission-planning table (format {data.get('format')!r} version "
            f"{data.get('format_version')!r}; expected {TABLE_FORMAT!r} version {TABLE_VERSION})"
        )
    entries = data.get("change")
    if not isinstance(entries, list) or not entries:
        raise HalfpipeError(f"{path}: the mission-planning table has no [[change]] entry")
    from fermi_sciencetools_shim.time import utc_to_met  # astropy.time: imported only when a table is read

    changes = []
    for k, entry in enumerate(entries):
        start = entry.get("start")
        try:
            datetime.fromisoformat(str(start))  # the form first: astropy's own message is many lines
            met = float(utc_to_met(str(start).replace(" ", "T")))
        except (TypeError, ValueError):
            raise HalfpipeError(
                f"{path}: change {k + 1}: bad start {start!r} (expected UTC as YYYY-MM-DDThh:mm:ss)"
            ) from None
        keys = ConfigKeys(*(_key(path, k, entry, n) for n in KEY_NAMES))
        if changes and met <= changes[-1].start_met:
            raise HalfpipeError(
                f"{path}: change {k + 1} ({start}) does not start after change {k} ({changes[-1].start_utc})"
            )
        changes.append(PlannedChange(str(start), met, keys, str(entry.get("comment", ""))))
    return PlanningTable(path, tuple(changes))


def load_table(path: str | Path | None = None) -> PlanningTable:
    """Read a mission-planning table (default :data:`DEFAULT_TABLE`); cached until the file changes.

    Raises
    ------
    HalfpipeError
        A missing or unreadable file, a wrong ``format``, an entry with a bad time or key, or
        entries out of time order (one line naming the file and the entry).
    """
    p = Path(path) if path is not None else DEFAULT_TABLE
    try:
        st = p.stat()
    except OSError as exc:
        raise HalfpipeError(f"{p}: cannot read the mission-planning table: {exc.strerror or exc}") from None
    return _load(str(p), st.st_mtime_ns, st.st_size)


def check_keys(table: PlanningTable, run_id: int, keys: ConfigKeys) -> str | None:
    """Why the run's keys do not match the planning table, or None when they match.

    The reason names, for every differing key, the value in the data and the planned value,
    and the table entry they were compared with.
    """
    change = table.in_force(run_id)
    name = Path(table.path).name
    if change is None:
        return (
            f"configuration keys {keys} of run {run_id}: no planned configuration in {name} before "
            f"{table.changes[0].start_utc}"
        )
    diff = keys.differences(change.keys)
    if not diff:
        return None
    parts = [
        f"{n} {format_key(getattr(keys, n))} in the data, {format_key(getattr(change.keys, n))} planned"
        for n in diff
    ]
    return (
        f"configuration key mismatch: {'; '.join(parts)} (mission-planning table {name}, change of "
        f"{change.start_utc}: {change.comment or 'no comment'})"
    )
