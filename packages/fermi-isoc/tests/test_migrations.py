"""isoc's tables are versioned by its own Alembic migrations, which match the models."""

from sqlalchemy import create_engine, inspect

from fermi_core.migrations import runner
from fermi_isoc.migrations import SPEC


def test_isoc_schema_is_discovered_and_owns_its_tables():
    assert SPEC in runner.discover()
    assert sorted(t.name for t in SPEC.tables()) == [
        "isoc_alarm_ack",
        "isoc_archive_copy",
        "isoc_job",
        "isoc_metric_sample",
    ]


def test_migrations_build_the_same_schema_as_the_models(tmp_path):
    engine = create_engine(f"sqlite:///{tmp_path / 'migrated.db'}")
    runner.upgrade(engine, echo=lambda line: None)
    names = set(inspect(engine).get_table_names())
    assert {
        "isoc_alarm_ack",
        "isoc_job",
        "isoc_metric_sample",
        "isoc_archive_copy",
        "alembic_version_isoc",
    } <= names
    assert "isoc_rerun_request" not in names
    assert [p for p in runner.check(engine) if p.startswith("fermi-isoc")] == []
    with engine.connect() as conn:
        assert runner.current(conn, SPEC) == runner.head(SPEC) == "isoc_0002"


def test_old_isoc_rerun_requests_are_kept_in_l1s_table_as_superseded(tmp_path):
    from datetime import datetime, timezone

    from sqlalchemy import text

    engine = create_engine(f"sqlite:///{tmp_path / 'old.db'}")
    runner.upgrade(engine, revisions={"isoc": "isoc_0001"}, echo=lambda line: None)
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO isoc_rerun_request (run_key, step, requested_by, reason, origin, state, requested_at)"
                " VALUES ('L1Proc/r0796003600', NULL, 'alice', 'EPU stream re-delivered', 'web', 'requested', :t)"
            ),
            {"t": datetime(2026, 11, 20, tzinfo=timezone.utc)},
        )
    runner.upgrade(engine, echo=lambda line: None)
    assert "isoc_rerun_request" not in inspect(engine).get_table_names()
    with engine.connect() as conn:
        rows = conn.execute(
            text("SELECT run, step, requested_by, reason, origin, state, outcome FROM pipeline_rerun_request")
        ).all()
        assert runner.current(conn, SPEC) == "isoc_0002"
    assert len(rows) == 1
    assert tuple(rows[0])[:6] == (
        "L1Proc/r0796003600",
        None,
        "alice",
        "EPU stream re-delivered",
        "web",
        "superseded",
    )
    assert "not acted on" in rows[0].outcome
