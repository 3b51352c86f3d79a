"""The cheap schema check of every process: revision heads read from the files, Alembic only when needed."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest
from sqlalchemy import text

from fermi_core import db as fdb
from fermi_core.migrations import runner
from fermi_core.migrations.runner import MigrationSpec


def test_file_heads_are_alembics_heads_for_every_installed_package():
    specs = runner.discover()
    assert len(specs) >= 5
    for spec in specs:
        assert runner.file_heads(spec) == (runner.head(spec),), spec.name


def _spec(tmp_path, monkeypatch, files: dict[str, str]) -> MigrationSpec:
    pkg = tmp_path / "fake_migrations"
    (pkg / "versions").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    for name, body in files.items():
        (pkg / "versions" / name).write_text(textwrap.dedent(body))
    monkeypatch.syspath_prepend(str(tmp_path))
    return MigrationSpec("fake", "fake-dist", "fake_migrations", (), ("fake_",))


def test_file_heads_follow_the_down_revisions_and_give_up_on_what_is_not_a_literal(tmp_path, monkeypatch):
    spec = _spec(tmp_path, monkeypatch, {
        "0001_a.py": 'revision = "a"\ndown_revision = None\n',
        "0002_b.py": 'revision: str = "b"\ndown_revision: str | None = "a"\n',
        "0003_c.py": 'revision = "c"\ndown_revision = "a"\n',  # a second branch from a
        "__init__.py": "",
    })  # fmt: skip
    assert runner.file_heads(spec) == ("b", "c")
    (tmp_path / "fake_migrations" / "versions" / "0004_m.py").write_text(
        'revision = "m"\ndown_revision = ("b", "c")\n'
    )
    runner.file_heads.cache_clear()
    assert runner.file_heads(spec) == ("m",)
    (tmp_path / "fake_migrations" / "versions" / "0005_x.py").write_text(
        'revision = NAME\ndown_revision = "m"\n'
    )
    runner.file_heads.cache_clear()
    assert runner.file_heads(spec) is None  # only Alembic can tell: the check takes its path
    runner.file_heads.cache_clear()


_OPEN = """
import sys
from fermi_core.db import SchemaVersionError, session_scope
try:
    with session_scope() as s:
        pass
except SchemaVersionError as exc:
    print("refused:", exc)
print("alembic imported:", "alembic" in sys.modules)
"""


def _open_in_new_process() -> str:
    proc = subprocess.run([sys.executable, "-c", _OPEN], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def test_a_current_schema_is_checked_without_alembic_and_a_behind_one_still_refused(db_url):
    with fdb.session_scope():  # makes every schema at head
        pass
    assert _open_in_new_process().splitlines() == ["alembic imported: False"]
    engine = fdb.engine_for(fdb.normalize_url(db_url))
    with engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version_ingest SET version_num = 'ingest_0001'"))
    out = _open_in_new_process()
    assert "refused:" in out and "fermi-ingest is at revision ingest_0001, older" in out
    assert "db upgrade" in out and "alembic imported: True" in out
    with engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version_ingest SET version_num = 'ingest_9999'"))
    out = _open_in_new_process()
    assert "fermi-ingest is at revision ingest_9999, newer than this software knows" in out


@pytest.mark.parametrize("drop", ["alembic_version_l1"])
def test_an_unversioned_schema_is_still_refused(db_url, drop):
    with fdb.session_scope():
        pass
    engine = fdb.engine_for(fdb.normalize_url(db_url))
    with engine.begin() as conn:
        conn.execute(text(f"DROP TABLE {drop}"))
    assert "tables of fermi-l1 exist but carry no schema revision" in _open_in_new_process()
