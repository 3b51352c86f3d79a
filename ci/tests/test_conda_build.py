"""Tests of ci/conda_build.py that run no build: failing early with a clear message, the timing table.

The build itself (minutes) is `make conda`, not part of the test suite.
"""

from __future__ import annotations

from pathlib import Path

import conda_build


def test_recipe_mismatch_stops_before_any_build(repo_copy: Path, capsys):
    recipe = repo_copy / "recipes" / "fermi-l1" / "recipe.yaml"
    recipe.write_text(recipe.read_text().replace('version: "0.1.0.dev0"', 'version: "9.9.9"'))
    cache = repo_copy / "cache"
    assert conda_build.main(["--root", str(repo_copy), "--cache", str(cache)]) == 1
    captured = capsys.readouterr()
    assert "recipes/fermi-l1/recipe.yaml: version '9.9.9' != '0.1.0.dev0'" in captured.err
    assert "check recipes vs pyprojects" in captured.out and "FAILED" in captured.out
    assert not cache.exists()  # nothing was downloaded or built


def test_timer_table_lists_steps_notes_and_total():
    timer = conda_build.Timer()
    with timer.step("first") as note:
        note.append("3 packages")
    try:
        with timer.step("second"):
            raise RuntimeError("boom")
    except RuntimeError:
        pass
    lines = timer.table().splitlines()
    assert lines[0].split() == ["step", "time", "note"]
    assert lines[2].startswith("first") and lines[2].endswith("3 packages")
    assert lines[3].startswith("second") and lines[3].endswith("FAILED")
    assert lines[4].startswith("total")
