"""Site: the data tree from the environment, stored paths relative to the home."""

from __future__ import annotations

from pathlib import Path

import pytest

from fermi_core.site import Site, run_folder


def test_from_env_reads_home_and_url_and_options_win(tmp_path):
    env = {"FERMI_HOME": str(tmp_path / "h"), "FERMI_DB_URL": "postgresql://db/fermi"}
    site = Site.from_env(env)
    assert site.home == (tmp_path / "h").resolve() and site.db_url == "postgresql://db/fermi"
    other = Site.from_env(env, home=tmp_path / "o", db_url="sqlite:///x.db")
    assert other.home == (tmp_path / "o").resolve() and other.db_url == "sqlite:///x.db"


def test_default_database_is_sqlite_in_the_home(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    site = Site.from_env({})
    assert site.home == (tmp_path / "fermi-data").resolve()
    assert site.db_url == f"sqlite:///{tmp_path.resolve() / 'fermi-data' / 'fermi.db'}"


def test_relative_and_resolve_round_trip(tmp_path):
    site = Site(tmp_path / "home")
    path = site.archive_dir("170817001") / "a.pkt"
    stored = site.relative(path)
    assert stored == "archive/level0/170817001/a.pkt"
    assert site.resolve(stored) == path
    moved = Site(tmp_path / "elsewhere")
    assert moved.resolve(stored) == moved.home / stored
    assert site.resolve("/abs/old.pkt") == Path("/abs/old.pkt")  # recorded by older software
    with pytest.raises(ValueError, match="not inside the data home"):
        site.relative(tmp_path / "outside.pkt")


def test_layout(tmp_path):
    site = Site(tmp_path)
    assert run_folder(524669480) == "r0524669480"
    assert site.products_dir(524669480) == site.home / "l1" / "products" / "r0524669480"
    assert site.run_dir(524669480) == site.home / "runs" / "524669480"
    assert site.halfpipe_store(7) == site.home / "halfpipe" / "store" / "r0000000007"
    assert site.environ() == {"FERMI_HOME": str(site.home), "FERMI_DB_URL": site.db_url}
