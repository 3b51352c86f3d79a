"""A bounded load on a loopback server: 200 requests, 20 at a time, over 8 pages, on each backend.

The regression test of the pool deadlock (a request holding a pooled connection while table
inspection checked out a second one: with 20 clients the pool ran dry and requests failed with
``QueuePool limit ... timed out``). The cache is off, so every request reads the database; the
assertion is on errors only (timing is ``ci/load_test.py``'s, on a quiet machine).
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

from fermi_isoc.web.app import Settings, create_app

from ._pageworld import populate_many_lat_runs
from ._serve import serve
from .conftest import NOW

LOAD_TEST = Path(__file__).resolve().parents[3] / "ci" / "load_test.py"


def _load_module():
    spec = importlib.util.spec_from_file_location("isoc_load_test", LOAD_TEST)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def server(db_url, tmp_path, monkeypatch):
    from fermi_core.db import get_engine

    monkeypatch.setenv("FERMI_HOME", str(tmp_path))
    get_engine(db_url)
    populate_many_lat_runs(db_url, NOW, 12, crumbs=5)
    app = create_app(Settings(db_url=db_url, cache_seconds=0))
    with serve(app) as url:
        yield url


def test_200_requests_20_at_a_time_all_answered(server, db_url):
    load = _load_module()
    run = 797000000 + 3600 * 6
    pages = [
        "/", "/?state=done", "/?page=2", "/fragments/lat-runs?hp=complete", f"/lat-runs/{run}",
        "/deliveries/270000006", "/alarms", "/metrics",
    ]  # fmt: skip
    figures = load.load(server, pages, 200, 20, timeout=60.0, backend=db_url.split(":")[0])
    print(figures.line())
    assert figures.count == 200
    assert figures.errors == 0, figures.first_errors
    assert set(figures.by_page) == set(pages)
