"""Fixtures of the CI-script tests: the ci/ scripts are imported as modules, in-process."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

CI_DIR = Path(__file__).resolve().parent.parent
ROOT = CI_DIR.parent
if str(CI_DIR) not in sys.path:
    sys.path.insert(0, str(CI_DIR))

# The files of a package that the recipe checks read (the build is not exercised here).
_METADATA = ("pyproject.toml", "CHANGELOG.md", "LICENSE", "README.md")


@pytest.fixture
def repo_copy(tmp_path: Path) -> Path:
    """A copy of the monorepo's package metadata and recipes under tmp_path, safe to alter."""
    for pkg in sorted((ROOT / "packages").iterdir()):
        if not (pkg / "pyproject.toml").is_file():
            continue
        dest = tmp_path / "packages" / pkg.name
        dest.mkdir(parents=True)
        for name in _METADATA:
            if (pkg / name).is_file():
                shutil.copy2(pkg / name, dest / name)
        for version_file in (pkg / "src").glob("*/_version.py"):
            target = dest / version_file.relative_to(pkg)
            target.parent.mkdir(parents=True)
            shutil.copy2(version_file, target)
    shutil.copytree(ROOT / "recipes", tmp_path / "recipes")
    shutil.copy2(ROOT / "LICENSE", tmp_path / "LICENSE")
    return tmp_path
