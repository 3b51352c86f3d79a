"""A data home copied elsewhere works on its own files, never on the original's.

Every path the stages record (archive, quarantine, chunk manifests, merged files) is relative
to the data home, so a copy of the home (database included) reads and verifies its own
archive: damaging an archived file in the copy makes the copy's merge refuse it, naming the
file, while the original still merges.
"""

from __future__ import annotations

import contextlib
import io
import json
import shutil
from pathlib import Path

from sqlalchemy import create_engine, text

from fermi_halfpipe.cli import main as halfpipe
from fermi_ingest.cli import main as ingest
from fermi_l1.cli import main as l1
from fermi_latsim.simulate import SimulationConfig, simulate


def _run(fn, argv: list[str]) -> tuple[int, str]:
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf), contextlib.redirect_stderr(buf):
        rc = fn(argv)
    return int(rc or 0), buf.getvalue()


def _site_args(home: Path) -> list[str]:
    return ["--home", str(home), "--db-url", f"sqlite:///{home / 'fermi.db'}"]


def test_copied_home_reads_its_own_archive(tmp_path, monkeypatch):
    monkeypatch.delenv("FERMI_HOME", raising=False)
    monkeypatch.delenv("FERMI_DB_URL", raising=False)
    original = tmp_path / "original"
    summary = simulate(tmp_path / "latsim", SimulationConfig(hours=0.05, seed=3))
    deliveries = [d["delivery_id"] for d in summary["deliveries"]]
    first = deliveries[0]
    for d in deliveries:
        rc, out = _run(ingest, [*_site_args(original), "ingest", str(tmp_path / "latsim" / "deliveries" / d)])
        assert rc == 0, out

    # every path recorded by ingest is relative to the data home
    with create_engine(f"sqlite:///{original / 'fermi.db'}").connect() as conn:
        stored = [r[0] for r in conn.execute(text("SELECT archive_path FROM ingest_file"))]
        stored += [r[0] for r in conn.execute(text("SELECT json_path FROM ingest_chunk"))]
    assert stored and not [p for p in stored if Path(p).is_absolute()]
    manifest = next((original / "chunks" / first).glob("chunk-*.json"))
    assert not Path(json.loads(manifest.read_text())["archive"]).is_absolute()

    copy = tmp_path / "copy"
    shutil.copytree(original, copy)
    archived = sorted((copy / "archive" / "level0" / first).iterdir())[0]
    data = bytearray(archived.read_bytes())
    data[len(data) // 2] ^= 0xFF
    archived.write_bytes(bytes(data))

    rc, out = _run(halfpipe, [*_site_args(copy), "merge", first])
    assert rc != 0, out
    assert archived.name in out and str(copy) in out, out
    assert len([line for line in out.splitlines() if line.strip()]) == 1, out  # one line, no traceback

    for d in deliveries:
        rc, out = _run(halfpipe, [*_site_args(original), "merge", d])
        assert rc == 0, out
    assert list((original / "runs").rglob("*.arrow"))
    assert not (copy / "runs").exists() or not list((copy / "runs").rglob("*.arrow"))

    # Level 1 records task parameters, attempt logs and catalogued products relative to the home
    rc, out = _run(l1, [*_site_args(original), "pipeline", "--from-halfpipe", "--no-progress"])
    assert rc == 0, out
    with create_engine(f"sqlite:///{original / 'fermi.db'}").connect() as conn:
        params = [r[0] for r in conn.execute(text("SELECT params FROM pipeline_run"))]
        logs = [r[0] for r in conn.execute(text("SELECT log_path FROM pipeline_attempt"))]
        products = [r[0] for r in conn.execute(text("SELECT file_path FROM l1_catalog_dataset"))]
        provenance = [r[0] for r in conn.execute(text("SELECT provenance FROM l1_catalog_dataset"))]
    assert params and logs and products
    assert str(tmp_path) not in "".join(params + logs + products + provenance)
    assert all((original / p).is_file() for p in products + logs)
