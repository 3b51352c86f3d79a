"""Upgrading a database filled by an older schema: every row is kept and read by the current code."""

from __future__ import annotations

import numpy as np
import pytest
from sqlalchemy import inspect, select, text

from fermi_core import db as fdb
from fermi_core.db import Base, SchemaVersionError, get_engine, session_scope
from fermi_core.migrations import runner
from fermi_core.site import Site
from fermi_halfpipe.stitch import run_status
from fermi_halfpipe.testing import merged_outputs
from fermi_ingest.cli import main as ingest_main
from fermi_ingest.models import Gap
from fermi_l1.catalog.api import query, register
from fermi_l1.db import session as l1_session

OLD = "ingest_0001"  # before the gap-finder indexes of ingest_0002


def _snapshot(engine) -> dict[str, list[tuple]]:
    """Every row of every table of the packages, in primary-key order."""
    specs = runner.discover()
    out = {}
    with engine.connect() as conn:
        for table in Base.metadata.sorted_tables:
            if any(s.owns(table.name) for s in specs):
                pk = list(table.primary_key.columns)
                out[table.name] = [tuple(r) for r in conn.execute(select(table).order_by(*pk))]
    return out


def _as_old_software(monkeypatch) -> None:
    """Make the installed code believe ingest's newest revision is OLD (the software of then)."""
    newest = runner.head

    def head(spec):
        return OLD if spec.name == "ingest" else newest(spec)

    monkeypatch.setattr(runner, "head", head)
    fdb.forget_schema_check()


def test_a_database_filled_at_an_older_revision_upgrades_with_every_row_kept(
    db_url, tmp_path, workers, monkeypatch, capsys
):
    engine = fdb.engine_for(fdb.normalize_url(db_url))
    runner.upgrade(engine, {"ingest": OLD}, echo=None)  # the schema as the old software made it
    assert "ix_ingest_gap_apid_status" not in {ix["name"] for ix in inspect(engine).get_indexes("ingest_gap")}
    with monkeypatch.context() as m:
        _as_old_software(m)
        paths = workers.write_deliveries(tmp_path / "in", 4)
        for p in (paths[0], paths[2], paths[1]):
            workers.ingest(str(p))
        s1, s2 = workers.merge("230401001", "a"), workers.merge("230401002", "b")
        product = tmp_path / "gll_ph_p305_r0600000000_v001.fit"
        product.write_bytes(b"FT1 bytes" * 100)
        with l1_session() as s:
            register(s, product, data_type="FT1", version=1, met_start=6e8, met_stop=6e8 + 18, run=600000000)
    before = _snapshot(engine)
    assert sum(len(rows) for rows in before.values()) > 50 and all(
        before[t] for t in ("ingest_delivery", "ingest_gap", "halfpipe_datagram", "l1_catalog_dataset")
    )

    fdb.forget_schema_check()
    with pytest.raises(SchemaVersionError, match=f"fermi-ingest is at revision {OLD}, older .*db upgrade"):
        get_engine()
    assert ingest_main(["db", "upgrade"]) == 0
    assert f"{OLD:<14} -> ingest_0003" in capsys.readouterr().out
    assert _snapshot(engine) == before  # every row still there, unchanged
    assert "ix_ingest_gap_apid_status" in {ix["name"] for ix in inspect(engine).get_indexes("ingest_gap")}
    assert ingest_main(["db", "check"]) == 0

    # ... and read and extended by the current code
    run = workers.halfpipe_run()
    seq, recs = merged_outputs(Site.from_env().home, [s1, s2])
    assert np.array_equal(seq, run.gem_seq) and recs == run.records
    assert run_status()[0]["status"] == "complete"
    with l1_session() as s:
        (row,) = query(s, data_type="FT1")
        assert row.size == 900 and row.run == 600000000
    assert workers.ingest(str(paths[1]))["again"] is True
    assert workers.ingest(str(paths[3]))["again"] is False
    with session_scope() as s:
        assert [g.status for g in s.scalars(select(Gap))] == ["filled"] * 3
    assert ingest_main(["status"]) == 0


def test_tables_made_before_migrations_existed_are_recorded_then_upgraded(db_url, capsys):
    engine = fdb.engine_for(fdb.normalize_url(db_url))
    runner.upgrade(engine, {"ingest": OLD}, echo=None)
    with engine.begin() as conn:  # what create_all made before this issue: no version table
        conn.execute(text("DROP TABLE alembic_version_ingest"))
    fdb.forget_schema_check()
    with pytest.raises(SchemaVersionError, match="tables of fermi-ingest exist but carry no schema revision"):
        get_engine()
    assert ingest_main(["db", "upgrade"]) == 0
    assert "(stamped: tables predate migrations) -> ingest_0003" in capsys.readouterr().out
    assert ingest_main(["db", "check"]) == 0
