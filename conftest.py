"""Repository-wide pytest configuration: the ``requires_data`` marker.

Tests marked ``@pytest.mark.requires_data`` read real Fermi flight data from the
shared folder (``FERMI_SHARED_DATA``, default ``../shared/data`` beside the
checkout). They are skipped, with the reason, when that folder is absent; the
files are never copied into the project.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent
SHARED_DATA = Path(os.environ.get("FERMI_SHARED_DATA", ROOT.parent / "shared" / "data"))


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if SHARED_DATA.is_dir():
        return
    skip = pytest.mark.skip(reason=f"real Fermi data folder {SHARED_DATA} is absent")
    for item in items:
        if "requires_data" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """Path of the real Fermi data folder (tests using it must be marked requires_data)."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"real Fermi data folder {SHARED_DATA} is absent")
    return SHARED_DATA
