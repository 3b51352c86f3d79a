"""isoc's tables are versioned by its own Alembic migrations, which match the models."""

from sqlalchemy import create_engine, inspect

from fermi_ingest.migrations import runner
from fermi_isoc.migrations import SPEC


def test_isoc_schema_is_discovered_and_owns_its_tables():
    assert SPEC in runner.discover()
    assert sorted(t.name for t in SPEC.tables()) == [
        "isoc_archive_copy",
        "isoc_metric_sample",
        "isoc_rerun_request",
    ]


def test_migrations_build_the_same_schema_as_the_models(tmp_path):
    engine = create_engine(f"sqlite:///{tmp_path / 'migrated.db'}")
    runner.upgrade(engine, echo=lambda line: None)
    names = set(inspect(engine).get_table_names())
    assert {"isoc_rerun_request", "isoc_metric_sample", "isoc_archive_copy", "alembic_version_isoc"} <= names
    assert [p for p in runner.check(engine) if p.startswith("fermi-isoc")] == []
    with engine.connect() as conn:
        assert runner.current(conn, SPEC) == runner.head(SPEC) == "isoc_0001"
