"""A run's data quality as the ISOC shows it: monitoring verdict, sign-off, plots, bad time intervals
and configuration keys, gathered from the stages' public modules.

Nothing here reads another package's tables: verdicts, sign-offs and plots come from
:mod:`fermi_l1.monitoring.published`, bad time intervals from :mod:`fermi_l1.quality.intervals`,
the run's span from the data catalog (:func:`fermi_l1.catalog.api.query`), and the halfpipe's
state and configuration keys from :mod:`fermi_halfpipe.published` (through
:func:`fermi_isoc.queries.halfpipe_runs`). The ``fermi-isoc dq`` commands, the run's
data-quality page and the alarms ``run-quality`` and ``config-key-mismatch`` all read this module,
so they show the same facts.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from fermi_core.site import Site
from fermi_halfpipe.keys import format_key
from fermi_halfpipe.published import RunState
from fermi_isoc import queries
from fermi_l1.catalog.api import query
from fermi_l1.monitoring import published as monitoring
from fermi_l1.quality import intervals as badtime

#: the verdicts of the monitoring checks, best first
VERDICTS = tuple(monitoring.VERDICTS)
#: the sign-offs an operator can give
SIGNOFFS = tuple(monitoring.SIGNOFFS)
#: the halfpipe state of a run whose configuration keys disagree with the mission-planning table
MISMATCH = "mismatch"
#: the configuration keys a run carries, in display order
KEY_NAMES = ("hw_key", "sw_key", "moot_key")
_RUN = re.compile(r"^r?0*(\d{1,10})$")
#: the tables of the monitoring's verdicts and sign-offs, of the bad time intervals, of the catalog
#: (absent in a data home where Level 1 never ran: then there is nothing to show)
MONITOR_TABLES = ("l1_monitor_verdict", "l1_monitor_signoff")
INTERVAL_TABLES = ("l1_quality_interval",)
CATALOG_TABLES = ("l1_catalog_dataset",)


class DataQualityError(ValueError):
    """A request that cannot be done (unknown run, bad argument), with the reason."""


def parse_run(text: str | int) -> int:
    """The LAT run id of ``796000000``, ``r0796000000`` (or an int).

    Raises
    ------
    DataQualityError
        Not a run id.
    """
    if isinstance(text, int):
        return text
    m = _RUN.match(str(text).strip())
    if not m:
        raise DataQualityError(f"{text!r} is not a LAT run (give e.g. 796000000 or r0796000000)")
    return int(m[1])


def check_text(check: Mapping[str, Any]) -> str:
    """One line for a failed check: ``quantity check (severity): value vs limit; detail``."""
    value, limit, detail = (check.get(k) for k in ("value", "limit", "detail"))
    text = f"{check.get('quantity')} {check.get('check')} ({check.get('severity')})"
    if value is not None:
        text += f": {_number(value)}"
        if limit is not None:
            text += f" vs limit {_number(limit)}"
    if detail:
        text += f"; {detail}"
    return text


def _number(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_number(v) for v in value) + "]"
    return str(value)


def keys_text(keys: dict[str, int] | None) -> str:
    """``hw_key=0x… sw_key=0x… moot_key=0x…`` of a run's configuration keys ('' without any), as the
    halfpipe writes them (:func:`fermi_halfpipe.keys.format_key`)."""
    if not keys:
        return ""
    names = [k for k in KEY_NAMES if k in keys] + sorted(set(keys) - set(KEY_NAMES))
    return " ".join(f"{k}={format_key(keys[k])}" for k in names)


#: a bad time interval as :func:`fermi_l1.quality.intervals.list_intervals` gives it
Interval = badtime.BadTimeInterval


def intervals(session: Session, *, active_only: bool = True) -> list[Interval]:
    """The bad time intervals (the active ones by default), by start."""
    if not queries.has_tables(session, *INTERVAL_TABLES):
        return []
    return badtime.list_intervals(session, active_only=active_only)


def overlapping(session: Session, span: tuple[float, float] | None) -> list[Interval]:
    """The active bad time intervals overlapping ``span`` (none without a span)."""
    if span is None or not queries.has_tables(session, *INTERVAL_TABLES):
        return []
    return badtime.overlapping(session, *span)


def run_span(session: Session, run: int) -> tuple[float, float] | None:
    """``(start, stop)`` MET of a run from its latest catalogued products (None when it has none)."""
    if not queries.has_tables(session, *CATALOG_TABLES):
        return None
    rows = query(session, run=run, latest_only=True)
    if not rows:
        return None
    return min(r.met_start for r in rows), max(r.met_stop for r in rows)


@dataclass(frozen=True)
class RunQuality:
    """Everything the ISOC shows about one run's data quality.

    ``verdict`` is the monitoring's :class:`fermi_l1.monitoring.published.RunVerdict` of the run's
    latest version (None before L1 evaluated it); ``halfpipe`` the run's
    :class:`fermi_halfpipe.published.RunState` (None when the halfpipe does not know it);
    ``plots`` the run's monitoring plots (PNG); ``intervals`` the active bad time intervals
    overlapping the run's span.
    """

    run: int
    verdict: monitoring.RunVerdict | None
    halfpipe: RunState | None
    plots: list[Path] = field(default_factory=list)
    intervals: list[Interval] = field(default_factory=list)
    span: tuple[float, float] | None = None

    @property
    def config_keys(self) -> dict[str, int]:
        """The run's configuration keys as the halfpipe recorded them (empty when unknown)."""
        return dict(self.halfpipe.config_keys) if self.halfpipe is not None else {}

    @property
    def state(self) -> str:
        """What the run's data quality is, in one word: the sign-off, else the verdict, else why none."""
        if self.verdict is not None and self.verdict.signoff:
            return f"signed off {self.verdict.signoff}"
        if self.verdict is not None:
            return str(self.verdict.verdict)
        if self.halfpipe is not None and self.halfpipe.state == MISMATCH:
            return "held: configuration key mismatch"
        return "not evaluated"


def halfpipe_state(session: Session, run: int) -> RunState | None:
    """The halfpipe's published state of ``run`` (None when it does not know the run)."""
    for r in queries.halfpipe_runs(session):
        if r.run_id == run:
            return r
    return None


def verdict_of(session: Session, run: int) -> monitoring.RunVerdict | None:
    """The monitoring verdict of ``run`` (its latest evaluated version; None before any)."""
    if not queries.has_tables(session, *MONITOR_TABLES):
        return None
    rows = monitoring.run_verdicts(session, runs=[run])
    return rows[0] if rows else None


def run_quality(session: Session, site: Site, run: int) -> RunQuality:
    """Everything about ``run``'s data quality (:class:`RunQuality`)."""
    verdict = verdict_of(session, run)
    version = verdict.version if verdict is not None else None
    plots = list(monitoring.plot_paths(session, site, run, version)) if verdict is not None else []
    span = run_span(session, run)
    return RunQuality(
        run=run,
        verdict=verdict,
        halfpipe=halfpipe_state(session, run),
        plots=plots,
        intervals=overlapping(session, span),
        span=span,
    )


def verdicts(
    session: Session, *, verdict: str | None = None, limit: int | None = None, offset: int = 0
) -> list[monitoring.RunVerdict]:
    """The runs' monitoring verdicts (latest version each, newest run first), all or those of ``verdict``.

    Raises
    ------
    DataQualityError
        ``verdict`` is not one of :data:`VERDICTS`.
    """
    if verdict is not None and verdict not in VERDICTS:
        raise DataQualityError(f"verdict {verdict!r} is not one of {', '.join(VERDICTS)}")
    if not queries.has_tables(session, *MONITOR_TABLES):
        return []
    return monitoring.run_verdicts(
        session, verdicts=[verdict] if verdict else None, limit=limit, offset=offset
    )


def verdicts_by_run(session: Session, runs: Iterable[int]) -> dict[int, monitoring.RunVerdict]:
    """``{run: verdict}`` of ``runs`` (runs not evaluated are absent)."""
    wanted = sorted({int(r) for r in runs})
    if not wanted or not queries.has_tables(session, *MONITOR_TABLES):
        return {}
    return {v.run: v for v in monitoring.run_verdicts(session, runs=wanted)}


def verdict_counts(session: Session) -> dict[str, int]:
    """``{verdict: number of run versions}`` as the monitoring counts them."""
    if not queries.has_tables(session, *MONITOR_TABLES):
        return dict.fromkeys(VERDICTS, 0)
    return dict(monitoring.verdict_counts(session))


def mismatched_runs(session: Session, *, now: datetime | None = None) -> list[RunState]:
    """The halfpipe runs held in state ``mismatch`` (configuration keys not as planned), by run."""
    return queries.halfpipe_runs(session, [MISMATCH], now=now)


def set_reference(session: Session, run: int, who: str) -> int:
    """Make ``run`` the reference of the histogram comparisons; the version made reference.

    Raises
    ------
    fermi_l1.monitoring.published.MonitoringError
        No ``who``, or the run has no monitoring file (:func:`fermi_l1.monitoring.published.set_reference`).
    """
    return monitoring.set_reference(session, run, who)


def sign_off(session: Session, run: int, verdict: str, who: str, reason: str) -> monitoring.RunVerdict:
    """Sign ``run`` off as ``good`` or ``bad`` with who and why; the run's verdict with it.

    Raises
    ------
    fermi_l1.monitoring.published.MonitoringError
        A verdict not in :data:`SIGNOFFS`, no ``who`` or ``reason``, or a run without a verdict
        (:func:`fermi_l1.monitoring.published.sign_off`).
    """
    return monitoring.sign_off(session, run, verdict, who, reason)


def flag(session: Session, start_met: float, stop_met: float, *, reason: str, who: str) -> int:
    """Record the bad time interval ``[start, stop)`` (MET) by an operator; its id.

    Raises
    ------
    fermi_l1.quality.intervals.QualityError
        A reversed span, no ``who`` or no ``reason`` (:func:`fermi_l1.quality.intervals.flag`).
    """
    return int(badtime.flag(session, start_met, stop_met, reason=reason, who=who, source="operator"))


def unflag(session: Session, interval_id: int, *, who: str, reason: str) -> Interval:
    """Remove the bad time interval ``interval_id`` with who and why; the interval as removed.

    Raises
    ------
    fermi_l1.quality.intervals.QualityError
        No such interval, already removed, no ``who`` or no ``reason``.
    """
    return badtime.unflag(session, interval_id, who=who, reason=reason)
