"""The same code on SQLite and PostgreSQL: ingest, halfpipe merge, catalog, schema checks, retries."""

from __future__ import annotations

import threading

import numpy as np
import pytest
from sqlalchemy import func, select, text

from fermi_core import db as fdb
from fermi_core.db import SchemaVersionError, get_engine, retrying_transaction, session_scope
from fermi_core.migrations import runner
from fermi_core.site import Site
from fermi_halfpipe import models as H
from fermi_halfpipe.stitch import run_status
from fermi_halfpipe.testing import merged_outputs
from fermi_ingest.cli import main as ingest_main
from fermi_ingest.models import ApidSpan, Chunk, Delivery, DeliveryFile, Gap
from fermi_l1.catalog.api import CatalogError, query, register
from fermi_l1.db import session as l1_session


def test_ingest_of_deliveries_out_of_order_finds_then_fills_the_gaps(db_url, tmp_path, workers):
    paths = workers.write_deliveries(tmp_path / "in", 3)
    results = [workers.ingest(str(p)) for p in (paths[0], paths[2], paths[1])]
    assert [r["again"] for r in results] == [False] * 3
    assert workers.ingest(str(paths[0]))["again"] is True  # idempotent
    with session_scope() as s:
        deliveries = s.scalars(select(Delivery).order_by(Delivery.delivery_id)).all()
        assert [d.delivery_id for d in deliveries] == ["230401000", "230401001", "230401002"]
        assert [d.n_packets for d in deliveries] == [
            r["packets"] for r in (results[0], results[2], results[1])
        ]
        assert s.scalar(select(func.count()).select_from(DeliveryFile)) == 6
        assert s.scalar(select(func.count()).select_from(ApidSpan)) == 3 * 2 * 3  # deliveries x files x APIDs
        assert s.scalar(select(func.count()).select_from(Chunk)) >= 3
        gaps = s.scalars(select(Gap).order_by(Gap.apid)).all()
        # delivery 2 found the packets of delivery 1 missing on each APID; delivery 1 filled them
        assert [(g.apid, g.kind, g.missing, g.status) for g in gaps] == [
            (apid, "sequence", workers.N_DATAGRAMS, "filled") for apid in (956, 957, 1020)
        ]
        by_pk = {d.id: d.delivery_id for d in deliveries}
        assert {(by_pk[g.found_by_pk], by_pk[g.filled_by_pk]) for g in gaps} == {("230401002", "230401001")}
    assert ingest_main(["gaps", "--open"]) == 0


def test_halfpipe_merge_of_two_deliveries_retires_the_run_with_every_event(db_url, workers):
    run = workers.halfpipe_run()
    s1 = workers.merge("230401001", "a")
    assert s1["retired_runs"] == []
    s2 = workers.merge("230401002", "b")
    assert s2["retired_runs"] == [{"run_id": run.run, "status": "complete"}]
    seq, recs = merged_outputs(Site.from_env().home, [s1, s2])
    assert np.array_equal(seq, run.gem_seq) and recs == run.records
    (status,) = run_status()
    assert status["status"] == "complete" and status["held"] == []
    with session_scope() as s:
        n_dgm = s.scalar(select(func.count()).select_from(H.HalfpipeDatagram))
    assert n_dgm == len(run.datagrams[956]) + len(run.datagrams[957])


def test_catalog_registration_is_idempotent_and_queried_by_range(db_url, tmp_path):
    product = tmp_path / "gll_ph_p305_r0600000000_v001.fit"
    product.write_bytes(b"SIMPLE  =                    T" + b" " * 2850)
    with l1_session() as s:
        first = register(
            s, product, data_type="ft1", version=1, met_start=6e8, met_stop=6e8 + 100, run=600000000
        )
        again = register(
            s, product, data_type="FT1", version=1, met_start=6e8, met_stop=6e8 + 100, run=600000000
        )
    assert first.created and not again.created
    product.write_bytes(b"other bytes")
    with pytest.raises(CatalogError, match="version 1 is already registered"), l1_session() as s:
        register(s, product, data_type="FT1", version=1, met_start=6e8, met_stop=6e8 + 100, run=600000000)
    with l1_session() as s:
        rows = query(s, data_type="FT1", met_min=6e8 + 50, met_max=6e8 + 60)
        assert [(r.logical_path, r.version, r.run) for r in rows] == [
            ("/Data/Flight/Level1/LPA/FT1/r0600000000", 1, 600000000)
        ]
        assert query(s, data_type="FT1", met_min=6e8 + 101) == []


def test_a_schema_newer_than_the_software_is_refused_naming_package_and_revisions(db_url):
    engine = get_engine()
    with engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version_halfpipe SET version_num = 'halfpipe_0042'"))
    fdb.forget_schema_check()
    with pytest.raises(SchemaVersionError) as err:
        get_engine()
    msg = str(err.value)
    assert "fermi-halfpipe" in msg and "halfpipe_0042" in msg and "newer than this software" in msg
    (halfpipe,) = [spec for spec in runner.discover() if spec.name == "halfpipe"]
    assert f"its newest is {runner.head(halfpipe)}" in msg
    with pytest.raises(SchemaVersionError), session_scope() as s:  # every user of the database stops
        s.execute(select(1))
    assert ingest_main(["status"]) == 1  # the command says why and fails; nothing is written
    assert ingest_main(["db", "upgrade"]) == 1
    fdb.forget_schema_check()


def test_migrations_from_scratch_give_the_schema_of_the_models(db_url, capsys):
    assert ingest_main(["db", "upgrade"]) == 0  # empty database: every revision applied in order
    assert ingest_main(["db", "check"]) == 0
    assert "package schemas current, tables match the models" in capsys.readouterr().out
    with get_engine().connect() as conn:
        statuses = runner.status(conn)
    names = [st.spec.name for st in statuses]
    assert {"ingest", "halfpipe", "l1"} <= set(names) and all(st.state == "current" for st in statuses)
    for st in statuses:  # dependencies first
        assert all(names.index(dep) < names.index(st.spec.name) for dep in st.spec.depends)


def test_retrying_transaction_runs_again_after_a_conflict(db_url):
    get_engine()
    with session_scope() as s:
        s.add(H.HalfpipeLock(name="counter", owner="0"))
    other_done, tries = threading.Event(), []

    def bump_elsewhere():
        def work(session):
            row = session.get(H.HalfpipeLock, "counter", with_for_update=False)
            row.owner = str(int(row.owner) + 1)

        retrying_transaction(work, isolation_level="SERIALIZABLE")
        other_done.set()

    def work(session):
        tries.append(1)
        row = session.get(H.HalfpipeLock, "counter")  # read the counter ...
        if len(tries) == 1:  # ... then another process commits a change to it before we write
            threads.append(threading.Thread(target=bump_elsewhere))
            threads[0].start()
            if db_url.startswith("postgresql"):  # SQLite: the other writer waits for our lock
                assert other_done.wait(20)
        row.owner = str(int(row.owner) + 1)
        return row.owner

    threads: list[threading.Thread] = []
    result = retrying_transaction(work, isolation_level="SERIALIZABLE")
    threads[0].join()
    with session_scope() as s:
        final = s.get(H.HalfpipeLock, "counter").owner
    assert final == "2"  # no lost update
    if db_url.startswith("postgresql"):  # the other commit made ours fail; run again, it counts 2
        assert (result, len(tries)) == ("2", 2)
    else:  # SQLite: we held the write lock from the start, the other writer came after
        assert (result, len(tries)) == ("1", 1)
