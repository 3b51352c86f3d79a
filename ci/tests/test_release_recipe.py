"""Tests of ci/release_recipe.py: the release form of a recipe builds from the tagged sdist."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import check_environment
import check_recipes
import pytest
import release_recipe

from .conftest import ROOT


def test_release_recipe_has_url_and_sha256_of_the_sdist(repo_copy: Path, tmp_path: Path):
    sdist = tmp_path / "fermi_l1-0.1.0.dev0.tar.gz"
    sdist.write_bytes(b"not really a tarball, only hashed here")
    out = release_recipe.write_release_recipe(repo_copy, "fermi-l1/v0.1.0.dev0", sdist, tmp_path / "out")
    rendered = check_recipes.render_recipe(out, check_recipes.default_variants(repo_copy))
    (source,) = rendered["source"]
    assert source["url"] == (
        "https://github.com/fermi-lat/fermi-ground/releases/download/fermi-l1/v0.1.0.dev0/fermi_l1-0.1.0.dev0.tar.gz"
    )
    assert source["sha256"] == hashlib.sha256(sdist.read_bytes()).hexdigest()
    assert "path" not in source
    # everything else is the recipe as it is (comments, tests, about, maintainers)
    original = (repo_copy / "recipes" / "fermi-l1" / "recipe.yaml").read_text()
    assert re.sub(r"source:\n(  .*\n)+", "", out.read_text()) == re.sub(r"source:\n(  .*\n)+", "", original)
    # the local recipe keeps its path source
    assert "  path: ../../packages/fermi-l1\n" in original


def test_release_recipe_refuses_a_wrong_sdist_or_tag(repo_copy: Path, tmp_path: Path):
    sdist = tmp_path / "fermi_l1-0.2.0.tar.gz"
    sdist.write_bytes(b"x")
    with pytest.raises(
        release_recipe.ReleaseRecipeError, match=re.escape("not the sdist of fermi-l1 0.1.0.dev0")
    ):
        release_recipe.write_release_recipe(repo_copy, "fermi-l1/v0.1.0.dev0", sdist, tmp_path / "out")
    with pytest.raises(
        release_recipe.ReleaseRecipeError, match=re.escape("version '0.1.0.dev0' != tag version '0.2.0'")
    ):
        release_recipe.write_release_recipe(repo_copy, "fermi-l1/v0.2.0", sdist, tmp_path / "out")
    with pytest.raises(release_recipe.ReleaseRecipeError, match="needs --sdist"):
        release_recipe.write_release_recipe(repo_copy, "fermi-l1/v0.1.0.dev0", None, tmp_path / "out")
    assert release_recipe.main(["--root", str(repo_copy), "--tag", "l1-0.2"]) == 1


def test_recipe_without_a_path_source_block_is_refused():
    with pytest.raises(release_recipe.ReleaseRecipeError, match="found 0"):
        release_recipe.render_release_text("package:\n  name: x\n", "https://e/x.tar.gz", "a" * 64, "r.yaml")


def test_metapackage_release_recipe_is_the_recipe(repo_copy: Path, tmp_path: Path):
    out = release_recipe.write_release_recipe(repo_copy, "fermi-ground/v0.1.0.dev0", None, tmp_path / "out")
    assert out.read_text() == (repo_copy / "recipes" / "fermi-ground" / "recipe.yaml").read_text()
    assert (out.parent / "LICENSE").read_bytes() == (ROOT / "LICENSE").read_bytes()


def test_release_workflow_publishes_to_the_channel_the_environments_name():
    workflow = (ROOT / ".github" / "workflows" / "release.yml").read_text()
    name = check_environment.PUBLISH_CHANNEL_URL.rsplit("/", 1)[-1]
    assert f"PUBLISH_CHANNEL: {name} " in workflow
    assert 'rattler-build upload prefix --channel "$PUBLISH_CHANNEL"' in workflow
    assert "PREFIX_API_KEY: ${{ secrets.PREFIX_API_KEY }}" in workflow
    assert "python ci/release_recipe.py --tag" in workflow
    assert check_environment.PUBLISH_CHANNEL_URL in (ROOT / "README.md").read_text()
