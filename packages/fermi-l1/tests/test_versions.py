"""Product versions: v002 beside v001, supersedes, lost events in catalog and FT1 header, never in place."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from astropy.io import fits

from fermi_core.checksum import sha256_file
from fermi_core.site import Site
from fermi_l1 import synthetic
from fermi_l1.catalog import CatalogError, query
from fermi_l1.catalog.verify import verify
from fermi_l1.db import session
from fermi_l1.ft1.make import LOST_EVENTS_KEYWORD
from fermi_l1.pipeline.inputs import write_run_inputs
from fermi_l1.pipeline.l1run import make_run_products
from fermi_sciencetools_shim.io.ft1 import read_events

RUN = 239557414
DATE = "2024-05-01T12:00:00"


def _inputs(site: Site, version: int, lost: int, n: int = 200) -> Path:
    samples = synthetic.spacecraft_samples(RUN - 5.0, 130.0)
    merit = synthetic.merit_table(samples, RUN + 0.5, RUN + 120.0, n, seed=7)
    info = {"version": version, "proc_ver": 305, "halfpipe_revision": version, "completion": "incomplete",
            "lost_events": lost, "campaign": None}  # fmt: skip
    return write_run_inputs(site.l1_input_dir(RUN, version), RUN, RUN + 0.5, RUN + 120.0, samples, [merit],
                            provenance={"merged_files": [], "spacecraft_files": [], "pass": info})  # fmt: skip


def _make(site: Site, folder: Path, date: str = DATE) -> list[Path]:
    made = make_run_products(folder, site.products, site.outbox, date=date, db_url=site.db_url, site=site)
    return [Path(p) for p in made]


def test_next_version_goes_beside_the_old_one_with_its_loss_and_what_it_supersedes(tmp_path):
    site = Site(tmp_path, f"sqlite:///{tmp_path / 'fermi.db'}")
    v1 = _make(site, _inputs(site, 1, lost=37))
    before = {p: sha256_file(p) for p in v1}
    ft1 = next(p for p in v1 if p.name.startswith("gll_ph_"))
    for hdu in (0, "EVENTS"):
        header = fits.getheader(ft1, hdu)
        assert header[LOST_EVENTS_KEYWORD] == 37 and "lost" in header.comments[LOST_EVENTS_KEYWORD]
    events, _ = read_events(ft1, ["TIME", "ENERGY"])  # the shim's reader takes the keyword in its stride
    assert events["TIME"].size > 0

    v2 = _make(site, _inputs(site, 2, lost=0, n=240), date="2024-06-01T00:00:00")
    assert {p.name.replace("_v002", "_v001") for p in v2} == {p.name for p in v1}
    assert {p: sha256_file(p) for p in v1} == before  # v001 untouched
    with session(site.db_url) as s:
        rows = query(s, run=RUN)
        assert sorted({(r.version, r.supersedes, r.lost_events) for r in rows}) == [(1, None, 37), (2, 1, 0)]
        assert {r.version for r in query(s, run=RUN, latest_only=True)} == {2}
        prov = json.loads(next(r for r in rows if r.version == 2).provenance)
        assert prov["halfpipe"] == {"halfpipe_revision": 2, "completion": "incomplete", "lost_events": 0}
        assert verify(s, site).ok
    manifest = json.loads((site.outbox / "r0239557414_v002" / "manifest.json").read_text())
    assert manifest["supersedes"] == {"export": "r0239557414_v001", "version": 1,
                                      "files": sorted(p.name for p in v1)}  # fmt: skip

    # the same version re-made with other bytes is refused before any file moves
    folder = site.l1_input_dir(RUN, 1)
    (folder / "run.json").unlink()
    _inputs(site, 1, lost=36)
    with pytest.raises(CatalogError, match="version 1 of r0239557414 is catalogued with other bytes"):
        _make(site, folder)
    assert {p: sha256_file(p) for p in v1} == before
    with session(site.db_url) as s:
        assert verify(s, site).ok


def test_verify_reports_each_missing_or_changed_file_on_one_line(tmp_path):
    site = Site(tmp_path, f"sqlite:///{tmp_path / 'fermi.db'}")
    made = _make(site, _inputs(site, 1, lost=0))
    made[0].unlink()
    made[1].write_bytes(made[1].read_bytes() + b"x")
    exported = site.outbox / "r0239557414_v001" / made[2].name
    exported.unlink()
    with session(site.db_url) as s:
        report = verify(s, site)
    assert not report.ok and report.products == 6 and report.exports == 1  # 5 products + MONITOR
    # made[1] is hard-linked into the outbox: its export copy differs too
    assert len(report.problems) == 4, report.problems
    assert any(str(made[0]) in p and "missing" in p for p in report.problems)
    assert any(str(made[1]) in p and "differs" in p for p in report.problems)
    assert any(str(exported) in p and "missing" in p for p in report.problems)
