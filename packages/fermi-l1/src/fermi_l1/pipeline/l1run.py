"""The L1 work of one run: FT2 (1 s, 30 s), FT1 (extended, photon, LS1), catalog, outbox.

Every step is idempotent: products are written under temporary names and renamed, with the
run's fixed processing date, so a repeated or interrupted run gives the same bytes; catalog
registration and export are no-ops when already done.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from fermi_core.site import Site, run_folder
from fermi_l1.catalog.api import register
from fermi_l1.db import session
from fermi_l1.export.outbox import export
from fermi_l1.ft1.make import CREATOR as FT1_CREATOR
from fermi_l1.ft1.make import make_run_ft1
from fermi_l1.ft1.merit_input import ft1_columns
from fermi_l1.ft2.make import CREATOR as FT2_CREATOR
from fermi_l1.ft2.make import make_ft2_rows, write_ft2_products
from fermi_l1.naming import ProductName
from fermi_l1.pipeline.inputs import read_run_inputs


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
        Product version.
    db_url
        Database of the data catalog (default ``FERMI_DB_URL``).
    site
        The data home: the catalog records product and input paths relative to it.
    """
    info, samples, chunks = read_run_inputs(input_dir)
    run, start, stop = int(info["run"]), float(info["start"]), float(info["stop"])
    out = Path(products_dir) / run_folder(run)
    merits = [ft1_columns(c) for c in chunks]
    times = np.concatenate([m["TIME"] for m in merits])
    live = np.concatenate([m["LIVETIME"] for m in merits])
    order = np.argsort(times, kind="stable")
    rows = make_ft2_rows(samples, times[order], live[order], start, stop)
    ft2 = write_ft2_products(out, run, rows, version=version, date=date)
    ft1 = make_run_ft1(out, run, chunks, ft2.seconds, version=version, date=date)
    products = [ft2.seconds, ft2.merged, *ft1.all()]
    inputs = [*chunks, Path(input_dir) / "spacecraft.parquet"]
    with session(db_url) as s:
        for path in products:
            name = ProductName.parse(path.name)
            creator = FT2_CREATOR if name.kind.startswith("ft2") else FT1_CREATOR
            register(
                s, path, data_type=name.data_type, version=version, met_start=start, met_stop=stop, run=run,
                creator=creator, inputs=inputs if name.kind.startswith("ft2") else chunks,
                parameters={"processing_date": date}, site=site,
            )  # fmt: skip
    export(outbox, f"{run_folder(run)}_v{version:03d}", products)
    return [str(p) for p in products]
