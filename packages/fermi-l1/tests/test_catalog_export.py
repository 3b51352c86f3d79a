"""Data catalog (idempotent registration, queries) and FSSC outbox (atomic, idempotent export)."""

from __future__ import annotations

import json

import pytest

from fermi_core.checksum import sha256_file
from fermi_l1.catalog import CatalogError, query, register
from fermi_l1.db import session
from fermi_l1.export import MANIFEST, ExportError, export


@pytest.fixture
def db_url(tmp_path):
    return f"sqlite:///{tmp_path / 'fermi.db'}"


def _file(path, content: bytes):
    path.write_bytes(content)
    return path


def test_registration_is_idempotent_and_records_provenance(tmp_path, db_url):
    product = _file(tmp_path / "gll_ph_p305_r0000000100_v001.fit", b"photons")
    source = _file(tmp_path / "merit.parquet", b"merit")
    for _ in range(2):
        with session(db_url) as s:
            reg = register(s, product, data_type="ft1", version=1, met_start=100.0, met_stop=200.0, run=100,
                           inputs=[source], parameters={"evclass": 128})  # fmt: skip
    assert not reg.created
    with session(db_url) as s:
        rows = query(s, data_type="FT1")
        assert len(rows) == 1
        row = rows[0]
        assert row.logical_path == "/Data/Flight/Level1/LPA/FT1/r0000000100"
        assert row.checksum == sha256_file(product) and row.size == 7
        prov = json.loads(row.provenance)
        assert prov["inputs"] == [{"path": str(source), "sha256": sha256_file(source)}]
        assert "fermi-l1" in prov["packages"] and prov["parameters"] == {"evclass": 128}


def test_a_registered_version_cannot_change(tmp_path, db_url):
    product = _file(tmp_path / "a.fit", b"one")
    with session(db_url) as s:
        register(s, product, data_type="FT2", version=1, met_start=0.0, met_stop=1.0, run=5)
    product.write_bytes(b"two")
    with pytest.raises(CatalogError, match="already registered with checksum"), session(db_url) as s:
        register(s, product, data_type="FT2", version=1, met_start=0.0, met_stop=1.0, run=5)
    with session(db_url) as s:
        assert register(s, product, data_type="FT2", version=2, met_start=0.0, met_stop=1.0, run=5).created
        assert [r.version for r in query(s, data_type="FT2", latest_only=True)] == [2]


def test_query_by_met_range(tmp_path, db_url):
    with session(db_url) as s:
        for run in (100, 200, 300):
            f = _file(tmp_path / f"{run}.fit", str(run).encode())
            register(s, f, data_type="FT1", version=1, met_start=run, met_stop=run + 50.0, run=run)
        assert [r.run for r in query(s, data_type="FT1", met_min=160.0, met_max=310.0)] == [200, 300]
        assert [r.run for r in query(s, data_type="FT1", met_max=120.0)] == [100]
        assert query(s, data_type="FT2") == []


def test_export_is_atomic_idempotent_and_refuses_changes(tmp_path):
    a = _file(tmp_path / "gll_ph.fit", b"photons")
    b = _file(tmp_path / "gll_pt.fit", b"pointing")
    outbox = tmp_path / "outbox"
    first = export(outbox, "r0000000100_v001", [a, b])
    assert first.written
    manifest = json.loads((first.folder / MANIFEST).read_text())
    assert [f["name"] for f in manifest["files"]] == ["gll_ph.fit", "gll_pt.fit"]
    assert manifest["files"][0] == {"name": "gll_ph.fit", "size": 7, "sha256": sha256_file(a)}
    assert (first.folder / "gll_pt.fit").read_bytes() == b"pointing"
    assert not export(outbox, "r0000000100_v001", [a, b]).written
    assert sorted(p.name for p in outbox.iterdir()) == ["r0000000100_v001"]  # no temporary left
    b.write_bytes(b"changed")
    with pytest.raises(ExportError, match="already exported with different files"):
        export(outbox, "r0000000100_v001", [a, b])
    with pytest.raises(ExportError, match="no such file"):
        export(outbox, "x", [tmp_path / "missing.fit"])
