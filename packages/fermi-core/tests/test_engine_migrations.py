"""The task engine's tables: fermi-core's schema ``engine``, adopted from databases made by fermi-l1."""

from __future__ import annotations

from sqlalchemy import create_engine, inspect, text

from fermi_core.engine.migrations import SPEC
from fermi_core.migrations import runner


def test_the_engine_schema_is_discovered_and_owns_the_pipeline_tables():
    assert SPEC in runner.discover()
    assert sorted(t.name for t in SPEC.tables()) == [
        "pipeline_attempt", "pipeline_driver", "pipeline_rerun_request", "pipeline_rerun_target", "pipeline_run",
        "pipeline_task",
    ]  # fmt: skip
    assert not [
        s.name for s in runner.discover() if s is not SPEC and any(s.owns(t.name) for t in SPEC.tables())
    ]


def test_migrations_build_the_same_engine_schema_as_the_models(tmp_path):
    engine = create_engine(f"sqlite:///{tmp_path / 'fresh.db'}")
    runner.upgrade(engine, echo=None)
    assert [p for p in runner.check(engine) if p.startswith("fermi-core")] == []
    with engine.connect() as conn:
        assert runner.current(conn, SPEC) == runner.head(SPEC) == "engine_0003"


def test_tables_made_by_an_older_fermi_l1_are_adopted_with_their_rows(tmp_path):
    engine = create_engine(f"sqlite:///{tmp_path / 'old.db'}")
    runner.upgrade(engine, echo=None)
    with engine.begin() as conn:  # what fermi-l1 (l1_0002) left: no engine version, no outputs column
        conn.execute(text("DROP TABLE alembic_version_engine"))
        conn.execute(text("DROP TABLE pipeline_driver"))  # engine_0003, after the move
        conn.execute(text("ALTER TABLE pipeline_attempt DROP COLUMN outputs"))
        conn.execute(text("INSERT INTO pipeline_task (id, name, max_attempts) VALUES (1, 'l1run', 3)"))
        conn.execute(
            text(
                "INSERT INTO pipeline_run (id, task_pk, key, state, params, processing_date, created_at, updated_at)"
                " VALUES (1, 1, 'r0239557414', 'done', '{\"input_dir\": \"/x\"}', '2024-05-01T12:00:00', :t, :t)"
            ),
            {"t": "2024-05-01 12:00:00"},
        )
        conn.execute(
            text(
                "INSERT INTO pipeline_attempt (id, run_pk, number, state, executor, driver_host, driver_pid,"
                " submitted_at) VALUES (1, 1, 1, 'done', 'local', 'h', 1, :t)"
            ),
            {"t": "2024-05-01 12:00:00"},
        )
    with engine.connect() as conn:
        (st,) = runner.status(conn, [SPEC])
        assert st.state == "unversioned"
    lines: list[str] = []
    runner.upgrade(engine, echo=lines.append)
    assert any(
        "fermi-core" in line and "engine_0001 (stamped" in line and "engine_0003" in line for line in lines
    )
    assert "outputs" in {c["name"] for c in inspect(engine).get_columns("pipeline_attempt")}
    with engine.connect() as conn:
        assert conn.execute(text("SELECT key, state, params FROM pipeline_run")).all() == [
            ("r0239557414", "done", '{"input_dir": "/x"}')
        ]
        assert conn.execute(text("SELECT id, outputs FROM pipeline_attempt")).all() == [(1, None)]
    assert [p for p in runner.check(engine) if p.startswith("fermi-core")] == []
