"""A pg_dump of a working database restores into one the software uses as it was."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.engine import make_url

from fermi_core.db import Base, get_engine
from fermi_core.migrations import runner
from fermi_halfpipe.stitch import run_status


def _tool(name: str) -> str:
    found = shutil.which(name) or next(iter(sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{name}"))), None)
    if found is None:
        pytest.skip(f"{name} is not installed")
    return str(found)


def _libpq(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def _rows(url: str) -> dict[str, list[tuple]]:
    specs = runner.discover()
    with get_engine(url).connect() as conn:
        return {
            t.name: [tuple(r) for r in conn.execute(select(t).order_by(*t.primary_key.columns))]
            for t in Base.metadata.sorted_tables
            if any(s.owns(t.name) for s in specs)
        }


def test_pg_dump_and_pg_restore_give_back_every_row_and_the_schema_versions(
    pg_url, pg_database, tmp_path, workers
):
    workers.write_deliveries(tmp_path / "in", 1)
    workers.ingest(str(tmp_path / "in" / "dl00"))
    workers.merge("230401001", "a")
    dump = tmp_path / "fermi.dump"
    subprocess.run(
        [_tool("pg_dump"), "--format=custom", "--no-owner", f"--file={dump}", _libpq(pg_url)], check=True
    )
    restored = pg_database()
    subprocess.run([_tool("pg_restore"), "--no-owner", f"--dbname={_libpq(restored)}", str(dump)], check=True)
    with get_engine(restored).connect() as conn:  # accepted: the version tables came along
        assert {st.state for st in runner.status(conn)} == {"current"}
    assert _rows(restored) == _rows(pg_url)
    assert run_status(url=restored) == run_status(url=pg_url)
