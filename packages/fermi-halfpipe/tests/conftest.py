"""Fixtures of the fermi-halfpipe tests: a fresh FERMI_HOME and database per test."""

from __future__ import annotations

import pytest


@pytest.fixture
def home(tmp_path, monkeypatch):
    """A fresh ``FERMI_HOME`` with its own SQLite database."""
    monkeypatch.setenv("FERMI_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("FERMI_DB_URL", f"sqlite:///{tmp_path / 'home' / 'fermi.db'}")
    return tmp_path / "home"
