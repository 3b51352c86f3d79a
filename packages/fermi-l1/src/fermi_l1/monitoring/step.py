"""The monitoring part of the L1 run step: histograms -> MONITOR file -> catalog -> checks -> verdict -> plots.

:func:`monitor_run_version` makes it in one go; :func:`fermi_l1.pipeline.l1run.make_run_products`
calls its three parts apart: :func:`monitoring_state` (the database), :func:`prepare_monitoring`
(no database: run in a process of its own beside the products' writing) and
:func:`record_monitoring` once the products are made. It is idempotent: a MONITOR file already catalogued for the
run version is read back, never rewritten (a catalogued file never changes); the verdict row of
the run version is replaced by the new evaluation (the same unless the reference run or the check
configuration changed); the plots are redrawn.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from fermi_core.site import Site, run_version_folder
from fermi_l1.catalog.api import logical_path, product_path, register
from fermi_l1.catalog.models import Dataset

from .checks import Evaluation, evaluate
from .config import CheckConfig, load_config
from .fill import run_histograms
from .histograms import DATA_TYPE, Histogram, monitor_filename, read_histograms, write_histograms
from .models import Reference, Verdict
from .plots import make_plots

CREATOR = "fermi-l1 monitoring"


@dataclass(frozen=True)
class MonitorResult:
    """What the monitoring of one run version made."""

    path: Path
    evaluation: Evaluation
    plots: list[Path]


def monitor_dataset(session: Session, run: int, version: int | None = None) -> Dataset | None:
    """The catalogued MONITOR file of a run version (the latest version when ``version`` is None)."""
    stmt = select(Dataset).where(Dataset.logical_path == logical_path(DATA_TYPE, run))
    if version is not None:
        stmt = stmt.where(Dataset.version == int(version))
    return session.scalars(stmt.order_by(Dataset.version.desc()).limit(1)).one_or_none()


def reference_histograms(
    session: Session, site: Site
) -> tuple[Reference | None, dict[str, Histogram] | None]:
    """The reference run in force and its histograms (``(None, None)`` when none is set)."""
    ref = session.scalars(select(Reference).order_by(Reference.id.desc()).limit(1)).one_or_none()
    if ref is None:
        return None, None
    row = monitor_dataset(session, ref.run, ref.version)
    if row is None:
        return ref, None
    return ref, read_histograms(product_path(row, site))[0]


def crumb_files(site: Site, run: int, version: int) -> list[Path]:
    """The digi histogram files of a run version's crumbs (in its work folder)."""
    return sorted(site.l1_work_dir(run, version).glob("*.monitor.parquet"))


@dataclass(frozen=True)
class MonitorWork:
    """What :func:`prepare_monitoring` made of a run version, for :func:`record_monitoring` to record."""

    run: int
    version: int
    start: float
    stop: float
    merit_chunks: list[str | os.PathLike[str]]
    path: Path
    summary: dict[str, Any]
    made: bool
    crumbs: list[Path]
    evaluation: Evaluation
    reference: tuple[int, int] | None
    config: CheckConfig
    plots: list[Path]


@dataclass(frozen=True)
class MonitorState:
    """What the database says of a run version's monitoring before it is made (:func:`monitoring_state`)."""

    catalogued: Path | None
    reference: tuple[int, int] | None
    reference_hists: dict[str, Histogram] | None


def monitoring_state(session: Session, site: Site, run: int, version: int) -> MonitorState:
    """The MONITOR file catalogued for the run version (when its file is there) and the reference run in force."""
    row = monitor_dataset(session, run, version)
    catalogued = product_path(row, site) if row is not None else None
    ref, ref_hists = reference_histograms(session, site)
    reference = None if ref is None else (int(ref.run), int(ref.version))
    return MonitorState(
        catalogued if catalogued is not None and catalogued.is_file() else None, reference, ref_hists
    )


def prepare_monitoring(
    state: MonitorState,
    site: Site,
    run: int,
    version: int,
    start: float,
    stop: float,
    merit_chunks: Sequence[str | os.PathLike[str]],
    *,
    config: CheckConfig | None = None,
) -> MonitorWork:
    """The part of :func:`monitor_run_version` without the database: histograms, MONITOR file, checks, plots.

    The MONITOR file is written (not registered) unless ``state`` says it is catalogued; the plots
    are drawn. It can run beside the rest of the run step; :func:`record_monitoring` records it.
    """
    cfg = config or load_config()
    crumbs: list[Path] = []
    if state.catalogued is not None:
        path = state.catalogued
        hists, summary = read_histograms(path)
    else:
        crumbs = crumb_files(site, run, version)
        hists, summary = run_histograms(merit_chunks, start, stop, crumbs)
        path = site.products_dir(run) / monitor_filename(run, version)
        path.parent.mkdir(parents=True, exist_ok=True)
        write_histograms(path, hists, summary, extra_meta={"fermi.run": str(int(run)),
                                                           "fermi.version": str(int(version))})  # fmt: skip
    ev = evaluate(run, hists, summary, cfg, state.reference_hists)
    title = f"{run_version_folder(run, version)}: {ev.verdict}" + (
        f" (reference r{state.reference[0]})" if state.reference is not None else ""
    )
    plots = make_plots(site.monitor_plot_dir(run, version), title, hists, state.reference_hists, ev.failed)
    return MonitorWork(run, version, start, stop, list(merit_chunks), path, summary, state.catalogued is None,
                       crumbs, ev, state.reference, cfg, plots)  # fmt: skip


def record_monitoring(
    session: Session,
    site: Site,
    work: MonitorWork,
    *,
    lost_events: int | None = None,
    provenance: Mapping[str, Any] | None = None,
) -> MonitorResult:
    """Register the MONITOR file :func:`prepare_monitoring` wrote (when it wrote one) and store the verdict."""
    run, version, start, stop, merit_chunks = work.run, work.version, work.start, work.stop, work.merit_chunks
    if work.made:
        register(session, work.path, data_type=DATA_TYPE, version=version, met_start=start, met_stop=stop,
                 run=run, creator=CREATOR, inputs=[*merit_chunks, *work.crumbs], site=site,
                 lost_events=lost_events,
                 extra_provenance={**dict(provenance or {}), "digi": work.summary.get("digi")})  # fmt: skip
    ev = work.evaluation
    verdict = session.scalars(
        select(Verdict).where(Verdict.run == int(run), Verdict.version == int(version))
    ).one_or_none()
    if verdict is None:
        verdict = Verdict(run=int(run), version=int(version))
        session.add(verdict)
    verdict.verdict = ev.verdict
    verdict.checks = json.dumps(ev.as_json(), sort_keys=True)
    verdict.n_checks = ev.n_checks
    verdict.reference_run = None if work.reference is None else work.reference[0]
    verdict.reference_version = None if work.reference is None else work.reference[1]
    verdict.config_digest = work.config.digest
    verdict.evaluated_at = datetime.now(timezone.utc)
    session.flush()
    return MonitorResult(work.path, ev, work.plots)


def monitor_run_version(
    session: Session,
    site: Site,
    run: int,
    version: int,
    start: float,
    stop: float,
    merit_chunks: Sequence[str | os.PathLike[str]],
    *,
    config: CheckConfig | None = None,
    lost_events: int | None = None,
    provenance: Mapping[str, Any] | None = None,
) -> MonitorResult:
    """Make (or read back) a run version's MONITOR file, register it, evaluate the checks, store the verdict, plot.

    Parameters
    ----------
    session
        Database session (committed by the caller).
    site
        The data home (products folder, crumbs' work folder, plot folder).
    run, version, start, stop
        The run version and its span (MET s).
    merit_chunks
        The run input's merit chunk files.
    config
        Check configuration (default: the shipped :data:`fermi_l1.monitoring.config.DEFAULT_CONFIG`).
    lost_events
        Events the run lost (catalogued with the MONITOR file, as with the run's products).
    provenance
        More provenance of the run version (halfpipe revision, sources, campaign), as its products have.
    """
    state = monitoring_state(session, site, run, version)
    work = prepare_monitoring(state, site, run, version, start, stop, merit_chunks, config=config)
    return record_monitoring(session, site, work, lost_events=lost_events, provenance=provenance)
