"""The L1 work of one run version: FT2 (1 s, 30 s), FT1 (extended, photon, LS1), catalog, outbox, monitoring.

Every step is idempotent: products are made in a hidden staging folder beside their final
place with the run's fixed processing date, so a repeated or interrupted run gives the same
bytes; catalog registration and export are no-ops when already done.

A catalogued file is never changed: before any product is renamed into place, each is compared
with the catalog. A product whose version is catalogued with other bytes (the software changed
since, and a re-run of the same version was asked for) stops the run with one line naming the
file and how to make the next version (``fermi-l1 reprocess``), with every file left as it is.
Which version is made, with which processing version, halfpipe revision and loss, is recorded
by the planner in the input folder's ``run.json`` (:mod:`fermi_l1.versions`); input folders
without it (made by hand) make version 1.

The run version's data-quality monitoring (:mod:`fermi_l1.monitoring.step`): the MONITOR file
(catalogued, not exported), the checks' verdict and the plots. Its histograms, checks and plots
need none of the products: they are made in a forked process beside the FT2/FT1 writing (it
touches no database and dies with the task's process), and recorded last.
"""

from __future__ import annotations

import multiprocessing
import os
import shutil
import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import select

from fermi_core.checksum import sha256_file
from fermi_core.engine.executors import die_with_parent
from fermi_core.site import Site, run_folder
from fermi_l1.catalog.api import CatalogError, logical_path, register
from fermi_l1.catalog.models import Dataset
from fermi_l1.db import session
from fermi_l1.export.outbox import export
from fermi_l1.fitsdate import product_work_dir
from fermi_l1.ft1.make import CREATOR as FT1_CREATOR
from fermi_l1.ft1.make import make_run_ft1
from fermi_l1.ft1.merit_input import ft1_columns
from fermi_l1.ft2.make import CREATOR as FT2_CREATOR
from fermi_l1.ft2.make import make_ft2_rows, write_ft2_products
from fermi_l1.ft2.quality import apply_bad_times
from fermi_l1.monitoring.histograms import DATA_TYPE as MONITOR
from fermi_l1.monitoring.step import monitoring_state, prepare_monitoring, record_monitoring
from fermi_l1.naming import KINDS, ProductName
from fermi_l1.pipeline.inputs import read_run_inputs


def export_name(run: int, version: int) -> str:
    """Name of the FSSC export of one version of a run's products (``r<run10>_v001``)."""
    return f"{run_folder(run)}_v{int(version):03d}"


def _check_unchanged(s: Any, staged: list[Path], final_dir: Path, run: int, version: int) -> None:
    """Refuse (before anything moves) when a staged product differs from its catalogued version."""
    for path in staged:
        name = ProductName.parse(path.name)
        row = s.scalars(
            select(Dataset).where(Dataset.logical_path == logical_path(name.data_type, run),
                                  Dataset.version == int(version))
        ).one_or_none()  # fmt: skip
        if row is not None and row.checksum != sha256_file(path):
            raise CatalogError(
                f"{final_dir / path.name}: version {version} of {run_folder(run)} is catalogued with other "
                f"bytes (SHA-256 {row.checksum[:12]}...) and is never changed; make the next version with "
                f"'fermi-l1 reprocess --runs {run} --why ...' (every file left as it is)"
            )


def _place(staged: Path, final: Path) -> Path:
    """Rename a staged product into place, unless the same bytes are there already."""
    if final.is_file() and sha256_file(final) == sha256_file(staged):
        return final
    shutil.move(staged, final)  # same file system: an atomic rename (never over a catalogued file)
    return final


def make_run_products(
    input_dir: str | os.PathLike[str],
    products_dir: str | os.PathLike[str],
    outbox: str | os.PathLike[str],
    *,
    date: str,
    version: int = 1,
    db_url: str | None = None,
    site: Site | None = None,
) -> list[str]:
    """Make, register and export the products of one LAT run from its input folder; return their paths.

    Parameters
    ----------
    input_dir
        The run input folder (:mod:`fermi_l1.pipeline.inputs`).
    products_dir, outbox
        Where products go (one folder per run) and the FSSC outbox.
    date
        ``DATE`` of the products (the task run's fixed processing date).
    version
        Product version when the input folder does not record one (made by hand).
    db_url
        Database of the data catalog (default ``FERMI_DB_URL``).
    site
        The data home: the catalog records product and input paths relative to it.
    """
    info, samples, chunks = read_run_inputs(input_dir)
    run, start, stop = int(info["run"]), float(info["start"]), float(info["stop"])
    sources = dict(info.get("provenance") or {})
    made = dict(sources.pop("pass", None) or {})
    version = int(made.get("version", version))
    proc_ver = made.get("proc_ver")
    lost = made.get("lost_events")
    out = Path(products_dir) / run_folder(run)
    merits = [ft1_columns(c) for c in chunks]
    times = np.concatenate([m["TIME"] for m in merits])
    live = np.concatenate([m["LIVETIME"] for m in merits])
    order = np.argsort(times, kind="stable")
    rows = make_ft2_rows(samples, times[order], live[order], start, stop)
    rows = apply_bad_times(rows, made.get("bad_times") or ())  # DATA_QUAL of the version's bad times
    inputs = [*chunks, Path(input_dir) / "spacecraft.parquet"]
    extra: dict[str, Any] = {"sources": sources} if sources else {}
    if made:
        extra["halfpipe"] = {k: made.get(k) for k in ("halfpipe_revision", "completion", "lost_events")}
        extra["campaign"] = made.get("campaign")
        if made.get("bad_times"):
            extra["bad_times"] = made["bad_times"]  # the quality flags this version was made with
    keys = made.get("config_keys")  # the run's configuration keys (fermi_l1.configkeys)
    if keys:
        extra["config_keys"] = dict(keys)
    # the monitoring's histograms, checks and plots need none of the products: they are made by a
    # process of their own beside the FT2/FT1 writing (a thread would wait for the GIL) and recorded last
    monitoring = None
    with _monitoring_pool() as pool:
        if site is not None:
            with session(db_url) as s:
                state = monitoring_state(s, site, run, version)
            monitoring = pool.submit(prepare_monitoring, state, site, run, version, start, stop, chunks)
        with product_work_dir(out, f".l1-{run:010d}-v{version:03d}-") as stage:
            ft2 = write_ft2_products(stage, run, rows, version=version, date=date, config_keys=keys)
            ft1 = make_run_ft1(stage, run, merits, ft2.seconds, version=version, date=date,
                               proc_ver=int(proc_ver or KINDS["ft1"][1]), lost_events=lost,
                               config_keys=keys)  # fmt: skip
            staged = [ft2.seconds, ft2.merged, *ft1.all()]
            with session(db_url) as s:
                _check_unchanged(s, staged, out, run, version)
            products = [_place(p, out / p.name) for p in staged]
        supersedes = None
        with session(db_url) as s:
            for path in products:
                name = ProductName.parse(path.name)
                creator = FT2_CREATOR if name.kind.startswith("ft2") else FT1_CREATOR
                reg = register(
                    s, path, data_type=name.data_type, version=version, met_start=start, met_stop=stop, run=run,
                    creator=creator, inputs=inputs if name.kind.startswith("ft2") else chunks,
                    parameters={"processing_date": date}, site=site, proc_ver=name.proc_ver,
                    lost_events=lost, extra_provenance=extra,
                )  # fmt: skip
                supersedes = reg.dataset.supersedes if supersedes is None else supersedes
            if supersedes is not None:
                old = s.scalars(
                    select(Dataset.file_path).where(Dataset.run == run, Dataset.version == supersedes,
                                                    Dataset.data_type != MONITOR)
                )  # fmt: skip
                replaced = {"export": export_name(run, supersedes), "version": int(supersedes),
                            "files": sorted(Path(f).name for f in old)}  # fmt: skip
        export(outbox, export_name(run, version), products, replaced if supersedes is not None else None)
    if monitoring is not None:  # data-quality monitoring of the run version (not exported: ISOC-internal)
        work = monitoring.result()
        with session(db_url) as s:
            record_monitoring(s, site, work, lost_events=lost, provenance=extra)
    return [str(p) for p in products]


def _monitoring_pool() -> ProcessPoolExecutor:
    """One forked process for the monitoring (it touches no database); it dies with this process."""
    context = multiprocessing.get_context("fork") if sys.platform.startswith("linux") else None
    return ProcessPoolExecutor(1, mp_context=context, initializer=die_with_parent, initargs=(os.getpid(),))
