"""What the monitoring publishes (read by fermi-isoc): run verdicts, histograms, plots; and its actions.

Readers: :func:`run_verdicts`, :func:`verdict_counts`, :func:`histograms`, :func:`plot_paths`.
Actions: :func:`set_reference` (the reference run of the ``reference`` checks from the next run
step on), :func:`sign_off` (an operator's good/bad on a run, kept beside the checks' verdict).
A run's verdict is that of its latest evaluated version. See ``docs/lifecycle/monitoring.md``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from fermi_core.errors import BadInput
from fermi_core.site import Site
from fermi_l1.catalog.api import product_path

from .checks import VERDICTS
from .histograms import read_histograms
from .models import Reference, SignOff, Verdict
from .plots import PLOTS
from .step import monitor_dataset

__all__ = [
    "VERDICTS",
    "MonitoringError",
    "RunVerdict",
    "histograms",
    "plot_paths",
    "reference_run",
    "run_verdicts",
    "set_reference",
    "sign_off",
    "verdict_counts",
]

SIGNOFFS = ("good", "bad")


class MonitoringError(BadInput, ValueError):
    """An action that cannot be done (a run without monitoring, a bad sign-off): one line saying why."""


@dataclass(frozen=True)
class RunVerdict:
    """The data-quality verdict of one run (its latest evaluated version).

    ``checks`` are the failed checks (``quantity``, ``check``, ``severity`` 'warning'|'error',
    ``value``, ``limit``, ``detail``, ``element``, ``n_failed``); ``excepted`` the failures set
    aside by known exceptions, ``skipped`` the checks that could not be evaluated (with the
    reason). ``signoff`` is the operator's ``good``/``bad`` (None until signed), with
    ``signed_by``, ``signed_at`` and ``reason``.
    """

    run: int
    version: int
    verdict: str
    checks: list[dict[str, Any]]
    signoff: str | None
    signed_by: str | None
    signed_at: datetime | None
    reason: str | None
    evaluated_at: datetime | None = None
    reference_run: int | None = None
    excepted: list[dict[str, Any]] = field(default_factory=list)
    skipped: list[dict[str, Any]] = field(default_factory=list)


def _latest_versions():
    return (
        select(Verdict.run.label("run"), func.max(Verdict.version).label("version"))
        .group_by(Verdict.run)
        .subquery()
    )


def run_verdicts(
    session: Session,
    *,
    runs: list[int] | None = None,
    verdicts: list[str] | None = None,
    limit: int | None = None,
    offset: int = 0,
) -> list[RunVerdict]:
    """The verdicts of the runs (latest version each), newest run first.

    Parameters
    ----------
    runs
        Only these LAT runs.
    verdicts
        Only runs whose checks' verdict is one of these (``good``, ``warning``, ``bad``).
    limit, offset
        A page of the list.
    """
    latest = _latest_versions()
    stmt = select(Verdict).join(latest, (Verdict.run == latest.c.run) & (Verdict.version == latest.c.version))
    if runs is not None:
        stmt = stmt.where(Verdict.run.in_([int(r) for r in runs]))
    if verdicts is not None:
        stmt = stmt.where(Verdict.verdict.in_(list(verdicts)))
    stmt = stmt.order_by(Verdict.run.desc()).offset(int(offset))
    if limit is not None:
        stmt = stmt.limit(int(limit))
    rows = list(session.scalars(stmt))
    signs: dict[tuple[int, int], SignOff] = {}
    if rows:
        newest = (
            select(func.max(SignOff.id))
            .where(SignOff.run.in_([r.run for r in rows]))
            .group_by(SignOff.run, SignOff.version)
        )
        for so in session.scalars(select(SignOff).where(SignOff.id.in_(newest))):
            signs[(so.run, so.version)] = so
    out = []
    for r in rows:
        doc = json.loads(r.checks)
        so = signs.get((r.run, r.version))
        out.append(RunVerdict(
            run=int(r.run), version=int(r.version), verdict=r.verdict, checks=doc.get("failed", []),
            signoff=so.verdict if so else None, signed_by=so.signed_by if so else None,
            signed_at=so.signed_at if so else None, reason=so.reason if so else None,
            evaluated_at=r.evaluated_at, reference_run=r.reference_run,
            excepted=doc.get("excepted", []), skipped=doc.get("skipped", []),
        ))  # fmt: skip
    return out


def verdict_counts(session: Session) -> dict[str, int]:
    """Runs per verdict of their latest version (one SQL aggregate; every verdict key present)."""
    latest = _latest_versions()
    stmt = (
        select(Verdict.verdict, func.count())
        .join(latest, (Verdict.run == latest.c.run) & (Verdict.version == latest.c.version))
        .group_by(Verdict.verdict)
    )
    counts = dict.fromkeys(VERDICTS, 0)
    counts.update({v: int(n) for v, n in session.execute(stmt)})
    return counts


def _version(session: Session, run: int, version: int | None) -> int:
    row = monitor_dataset(session, run, version)
    if row is None:
        what = f"version {version} of run {run}" if version is not None else f"run {run}"
        raise MonitoringError(
            f"{what} has no monitoring file in the catalog (not made by the L1 run step yet)"
        )
    return int(row.version)


def histograms(
    session: Session, site: Site, run: int, version: int | None = None
) -> dict[str, tuple[np.ndarray | tuple[np.ndarray, ...], np.ndarray, dict[str, Any]]]:
    """A run version's histograms (latest version by default): ``name -> (edges, counts, meta)``.

    ``edges`` is the array of bin edges of a 1-D histogram, a tuple of them (one per axis) of an
    N-D one; ``meta`` has ``axes``, ``labels``, ``title``, ``unit``, ``kind``; the run summary is
    under the name ``summary`` as ``(None, None, summary)``.

    Raises
    ------
    MonitoringError
        No monitoring file is catalogued for the run (version).
    """
    row = monitor_dataset(session, run, _version(session, run, version))
    hists, summary = read_histograms(product_path(row, site))
    out: dict[str, Any] = {
        name: (h.edges[0] if len(h.edges) == 1 else tuple(h.edges), h.counts, h.meta)
        for name, h in hists.items()
    }
    out["summary"] = (None, None, summary)
    return out


def plot_paths(session: Session, site: Site, run: int, version: int | None = None) -> list[Path]:
    """The PNG plots of a run version (latest by default) that exist, in a fixed order."""
    try:
        v = _version(session, run, version)
    except MonitoringError:
        return []
    folder = site.monitor_plot_dir(run, v)
    return [folder / name for name in PLOTS if (folder / name).is_file()]


def reference_run(session: Session) -> tuple[int, int] | None:
    """The reference run in force and its version (None if none is set)."""
    ref = session.scalars(select(Reference).order_by(Reference.id.desc()).limit(1)).one_or_none()
    return None if ref is None else (int(ref.run), int(ref.version))


def set_reference(session: Session, run: int, who: str) -> int:
    """Make ``run`` (its latest monitored version) the reference of the ``reference`` checks; return that version.

    Runs evaluated from then on are compared with it (verdicts already stored are not changed).

    Raises
    ------
    MonitoringError
        No name given, or the run has no monitoring file.
    """
    if not who or not who.strip():
        raise MonitoringError("set_reference needs who sets it")
    version = _version(session, int(run), None)
    session.add(
        Reference(run=int(run), version=version, set_by=who.strip(), set_at=datetime.now(timezone.utc))
    )
    session.flush()
    return version


def sign_off(session: Session, run: int, verdict: str, who: str, reason: str) -> RunVerdict:
    """Record an operator's sign-off of a run (its latest evaluated version) as ``good`` or ``bad``.

    Every sign-off is kept; the newest is the run's. Returns the run's verdict with it.

    Raises
    ------
    MonitoringError
        A verdict other than good/bad, no name or reason, or a run without a verdict.
    """
    if verdict not in SIGNOFFS:
        raise MonitoringError(f"sign-off verdict {verdict!r}: use good or bad")
    if not who or not who.strip() or not reason or not reason.strip():
        raise MonitoringError("a sign-off needs who signs and the reason")
    found = run_verdicts(session, runs=[int(run)])
    if not found:
        raise MonitoringError(f"run {run} has no data-quality verdict (not through the L1 run step yet)")
    session.add(SignOff(run=int(run), version=found[0].version, verdict=verdict, signed_by=who.strip(),
                        reason=reason.strip(), signed_at=datetime.now(timezone.utc)))  # fmt: skip
    session.flush()
    return run_verdicts(session, runs=[int(run)])[0]
