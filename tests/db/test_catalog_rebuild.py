"""The data catalog is rebuilt from the product files when the database lost it."""

from __future__ import annotations

from sqlalchemy import select, text

from fermi_core.db import get_engine
from fermi_l1 import synthetic
from fermi_l1.catalog.models import Dataset
from fermi_l1.cli import main as l1_main
from fermi_l1.db import session as l1_session
from fermi_l1.pipeline.inputs import write_run_inputs

RUNS = (239557414, 239560000)
COLUMNS = ("logical_path", "file_path", "data_type", "version", "run", "met_start", "met_stop", "size",
           "checksum", "creator")  # fmt: skip


def _catalog() -> list[tuple]:
    """The catalog: the FITS products and the monitoring's MONITOR files."""
    with l1_session() as s:
        rows = s.scalars(select(Dataset)).all()
        return sorted(tuple(getattr(r, c) for c in COLUMNS) for r in rows)


def test_catalog_tables_dropped_then_rebuilt_from_the_products_are_the_same(db_url, tmp_path, capsys):
    home = tmp_path / "home"
    for run in RUNS:
        samples = synthetic.spacecraft_samples(run - 5.0, 70.0)
        merit = synthetic.merit_table(samples, run + 0.5, run + 60.0, 60, seed=run % 97)
        write_run_inputs(
            home / "l1" / "inputs" / f"r{run:010d}", run, run + 0.5, run + 60.0, samples, [merit]
        )
    base = ["--home", str(home), "--db-url", db_url]
    assert (
        l1_main(
            [*base, "pipeline", "--workers", "1", "--no-progress", "--processing-date", "2024-05-01T12:00:00"]
        )
        == 0
    )
    original = _catalog()
    assert len(original) == 6 * len(RUNS)  # FT1 x3, FT2 x2 and the MONITOR file per run
    assert sum(r[2] == "MONITOR" for r in original) == len(RUNS)

    # a killed attempt's work folder (fitsdate.product_work_dir) holds a finished-looking copy
    product_dir = home / "l1" / "products" / f"r{RUNS[0]:010d}"
    leftover = product_dir / f".ft1-r{RUNS[0]:010d}-v001-dead" / f"gll_xp_p305_r{RUNS[0]:010d}_v001.fit"
    leftover.parent.mkdir()
    leftover.write_bytes((product_dir / leftover.name).read_bytes())

    with get_engine().begin() as conn:  # the catalog is lost
        conn.execute(text("DROP TABLE l1_catalog_dataset"))
    capsys.readouterr()
    assert l1_main([*base, "catalog", "rebuild"]) == 0
    assert "12 added, 0 already catalogued, 0 conflicting, 0 skipped" in capsys.readouterr().out
    assert _catalog() == original  # row for row: names, paths, types, versions, spans, sizes, checksums
    with l1_session() as s:
        assert all('"rebuilt_from"' in r.provenance for r in s.scalars(select(Dataset)))

    # a second rebuild changes nothing; a product whose bytes changed is reported, never re-registered
    assert l1_main([*base, "catalog", "rebuild"]) == 0
    assert "0 added, 12 already catalogued" in capsys.readouterr().out
    leftover.unlink()
    victim = home / "l1" / "products" / f"r{RUNS[0]:010d}" / f"gll_ph_p305_r{RUNS[0]:010d}_v001.fit"
    victim.write_bytes(victim.read_bytes()[:-2880] + b"\0" * 2880)
    (home / "l1" / "products" / "notes.fit").write_text("not a product")
    assert l1_main([*base, "catalog", "rebuild"]) == 1
    out = capsys.readouterr().out
    assert f"{victim}: /Data/Flight/Level1/LPA/FT1/r{RUNS[0]:010d} v1 is catalogued with checksum" in out
    assert "notes.fit" in out and "is not an L1 product name" in out
    assert _catalog() == original
