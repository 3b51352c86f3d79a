"""The halfpipe's migrations build the schema of its models; halfpipe_0003 and 0004 keep and fill old rows."""

from __future__ import annotations

from sqlalchemy import text

from fermi_core import db as fdb
from fermi_core.migrations import runner


def _spec():
    (spec,) = [s for s in runner.discover() if s.name == "halfpipe"]
    return spec


def test_migrations_build_the_same_schema_as_the_models(db_url):
    engine = fdb.engine_for(fdb.normalize_url(db_url))
    runner.upgrade(engine, echo=None)
    assert [p for p in runner.check(engine) if p.startswith("fermi-halfpipe")] == []
    with engine.connect() as conn:
        assert runner.current(conn, _spec()) == runner.head(_spec()) == "halfpipe_0004"


def test_runs_and_files_of_an_older_database_get_revision_and_deadline(db_url):
    engine = fdb.engine_for(fdb.normalize_url(db_url))
    runner.upgrade(engine, {"halfpipe": "halfpipe_0002"}, echo=None)
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO halfpipe_run (run_id, status, reason, ground_id, n_delivered, n_held, n_late, "
                "n_duplicates, lock_owner, retired_by) VALUES "
                "(1, 'complete', '', 0, 5, 0, 0, 0, '', 'd1'), (2, 'open', '', 0, 3, 2, 0, 0, '', '')"
            )
        )
        conn.execute(
            text(
                "INSERT INTO halfpipe_delivery (delivery_id, state, summary_path, summary_sha256) VALUES "
                "('d1', 'done', '', ''), ('d2', 'done', '', '')"
            )
        )
        conn.execute(
            text(
                "INSERT INTO halfpipe_file (run_id, delivery_id, first_gem, last_gem, n_events, path, sha256) "
                "VALUES (1, 'd1', 0, 4, 5, 'runs/1/f.arrow', 'x')"
            )
        )
    fdb.forget_schema_check()
    runner.upgrade(engine, echo=None)
    with engine.connect() as conn:
        runs = conn.execute(
            text("SELECT run_id, revision, lost_events, last_data_delivery FROM halfpipe_run ORDER BY run_id")
        ).all()
        files = conn.execute(text("SELECT revision, replaced_in FROM halfpipe_file")).all()
        top = conn.execute(text("SELECT MAX(id) FROM halfpipe_delivery")).scalar()
    assert [tuple(r) for r in runs] == [(1, 1, 0, 0), (2, 0, 0, top)]
    assert [tuple(f) for f in files] == [(1, 0)]


def test_runs_of_an_older_database_get_unknown_configuration_keys(db_url):
    engine = fdb.engine_for(fdb.normalize_url(db_url))
    runner.upgrade(engine, {"halfpipe": "halfpipe_0003"}, echo=None)
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO halfpipe_run (run_id, status, reason, ground_id, n_delivered, n_held, n_late, "
                "n_duplicates, lock_owner, retired_by, revision, lost_events, last_data_delivery, "
                "deadline_deliveries) VALUES (7, 'complete', '', 0, 5, 0, 0, 0, '', 'd1', 1, 0, 0, 3)"
            )
        )
    fdb.forget_schema_check()
    runner.upgrade(engine, echo=None)
    with engine.connect() as conn:
        keys = conn.execute(text("SELECT hw_key, sw_key, moot_key FROM halfpipe_run")).all()
    assert [tuple(k) for k in keys] == [(0xFFFFFFFF,) * 3]
