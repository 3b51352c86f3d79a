"""Products do not depend on how the work was cut: the number of workers and the crumb size.

The same merged inputs (a small light-profile span, simulated, ingested and merged once) are
processed by ``fermi-l1 pipeline --from-halfpipe`` in three copies of the data home: one worker
with crumbs of 1500 events, two workers with the same crumbs, two workers with crumbs four
times smaller (``--min-crumb``: more and shorter crumbs per merged file), all with the same
``--processing-date``. Every catalogued product (FT1, FT2, the MONITOR parquet), every other file
of the products folder (the monitoring plots), every outbox file and the run inputs' merit
chunks must be the same bytes in all three (same host, same software).
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import shutil
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import select

from fermi_core.site import Site
from fermi_halfpipe.cli import main as halfpipe
from fermi_ingest.cli import main as ingest
from fermi_l1.catalog.models import Dataset
from fermi_l1.cli import main as l1
from fermi_l1.db import session
from fermi_latsim.simulate import SimulationConfig, simulate

HOURS = 0.1
DATE = "2024-05-01T12:00:00"
#: (label, extra pipeline options)
#: crumbs of this span's size (a few per merged file; the default crumb is larger than its files)
CRUMB = 1500
VARIANTS = {
    "1 worker": ["--workers", "1", "--min-crumb", str(CRUMB)],
    "2 workers": ["--workers", "2", "--min-crumb", str(CRUMB)],
    "2 workers, small crumbs": ["--workers", "2", "--min-crumb", str(CRUMB // 4)],
}


def _quiet(fn, argv: list[str]) -> int:
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf), contextlib.redirect_stderr(buf):
        rc = int(fn(argv) or 0)
    assert rc == 0, f"{argv}: exit {rc}\n{buf.getvalue()}"
    return rc


def _warm_worker_state() -> None:
    """Load, in this process, what every forked pool worker would otherwise load again (test cost only).

    The IERS table of the FT2 geometry and matplotlib: the local pool forks this process, so its
    workers inherit them. Products do not depend on it.
    """
    import matplotlib

    matplotlib.use("Agg", force=False)
    from matplotlib.figure import Figure  # noqa: F401

    from fermi_l1.ft2.geometry import earth_fixed

    earth_fixed(np.array([5.2e8]), np.array([[7.0e6, 0.0, 0.0]]))


def _digests(home: Path) -> dict[str, str]:
    out = {}
    for sub in ("l1/products", "outbox", "l1/inputs"):
        for p in sorted((home / sub).rglob("*")):
            if p.is_file():
                out[p.relative_to(home).as_posix()] = hashlib.sha256(p.read_bytes()).hexdigest()
    return out


def _catalog(home: Path) -> list[tuple]:
    site = Site(home)
    with session(site.db_url) as s:
        rows = s.execute(
            select(Dataset.logical_path, Dataset.version, Dataset.file_path, Dataset.size, Dataset.checksum)
            .order_by(Dataset.logical_path, Dataset.version)
        ).all()  # fmt: skip
    return [tuple(r) for r in rows]


@pytest.fixture(scope="module")
def homes(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The data home of each variant after its pipeline pass, from one simulated and merged span."""
    root = tmp_path_factory.mktemp("identity")
    base = root / "base"
    summary = simulate(root / "latsim", SimulationConfig(hours=HOURS, seed=5))
    ids = [d["delivery_id"] for d in summary["deliveries"]]
    for did in ids:
        _quiet(ingest, ["--home", str(base), "ingest", str(root / "latsim" / "deliveries" / did)])
    for did in ids:
        _quiet(halfpipe, ["--home", str(base), "merge", did])
    _warm_worker_state()
    out = {}
    for i, (label, extra) in enumerate(VARIANTS.items()):
        home = root / f"v{i}"
        shutil.copytree(base, home)
        _quiet(l1, ["--home", str(home), "pipeline", "--from-halfpipe", "--no-progress",
                    "--processing-date", DATE, *extra])  # fmt: skip
        out[label] = home
    return out


def test_the_variants_cut_the_work_differently(homes):
    """The variants are not the same pass three times: the small crumbs make more recon crumbs."""
    crumbs = {label: sorted(p.name for p in (home / "l1" / "work").rglob("c*-k*.parquet")
                            if not p.name.endswith(".monitor.parquet"))
              for label, home in homes.items()}  # fmt: skip
    assert crumbs["1 worker"] == crumbs["2 workers"]
    assert len(crumbs["2 workers, small crumbs"]) > len(crumbs["2 workers"]) >= 2


def test_products_identical_whatever_workers_and_crumb_size(homes):
    reference = _digests(homes["1 worker"])
    catalog = _catalog(homes["1 worker"])
    kinds = {Path(p).name.split("_")[1] for p in reference if p.startswith("l1/products/") and "/gll_" in p}
    assert {"ev", "ph", "xp", "pt", "pt1s", "mon"} <= kinds  # FT1 x3, FT2 x2, MONITOR
    assert any(p.endswith(".png") for p in reference) and any(p.startswith("outbox/") for p in reference)
    assert {Path(f).name for _, _, f, _, _ in catalog} == {
        Path(p).name for p in reference if p.startswith("l1/products/") and "/gll_" in p
    }  # every catalogued product is compared, and every product file is catalogued
    for label, home in homes.items():
        digests = _digests(home)
        assert sorted(digests) == sorted(reference), label
        differ = sorted(p for p in reference if digests[p] != reference[p])
        assert differ == [], f"{label}: differs from 1 worker: {differ}"
        assert _catalog(home) == catalog, label
