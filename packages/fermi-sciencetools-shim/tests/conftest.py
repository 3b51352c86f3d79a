"""Shim tests never read or write the developer's ~/pfiles: each test gets its own PFILES."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def private_pfiles(tmp_path_factory, monkeypatch):
    """Point ``PFILES`` at a fresh user folder (learned values start from the shipped defaults)."""
    folder = tmp_path_factory.mktemp("pfiles")
    monkeypatch.setenv("PFILES", f"{folder};")
    return folder
