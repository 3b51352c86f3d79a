"""Tests of ci/check_recipes.py: recipes, pyprojects, versions and CHANGELOGs must agree."""

from __future__ import annotations

from pathlib import Path

import check_recipes

from .conftest import ROOT


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new, 1))


def test_real_recipes_agree_with_packages(capsys):
    assert check_recipes.check(ROOT) == []
    assert check_recipes.main(["--root", str(ROOT)]) == 0
    assert "OK: 8 recipes agree" in capsys.readouterr().out


def test_unaltered_copy_passes(repo_copy: Path):
    assert check_recipes.check(repo_copy) == []


def test_wrong_recipe_version_is_caught(repo_copy: Path, capsys):
    _edit(repo_copy / "recipes" / "fermi-l1" / "recipe.yaml", 'version: "0.1.0.dev0"', 'version: "0.2.0"')
    assert check_recipes.main(["--root", str(repo_copy)]) == 1
    err = capsys.readouterr().err
    assert (
        "recipes/fermi-l1/recipe.yaml: version '0.2.0' != '0.1.0.dev0' in "
        "packages/fermi-l1/src/fermi_l1/_version.py"
    ) in err
    # the metapackage still pins 0.1.0.dev0, which is right: only the l1 recipe drifted
    assert "fermi-ground" not in err


def test_missing_entry_point_is_caught(repo_copy: Path):
    _edit(
        repo_copy / "recipes" / "fermi-sciencetools-shim" / "recipe.yaml",
        "      - gtbin = fermi_sciencetools_shim.bin.gtbin:main\n",
        "",
    )
    problems = check_recipes.check(repo_copy)
    assert problems == [
        "recipes/fermi-sciencetools-shim/recipe.yaml: entry point missing from build.python.entry_points: "
        "'gtbin = fermi_sciencetools_shim.bin.gtbin:main' (declared in pyproject)"
    ]


def test_changelog_heading_mismatch_is_caught(repo_copy: Path):
    _edit(repo_copy / "packages" / "fermi-ingest" / "CHANGELOG.md", "## 0.1.0.dev0", "## 0.1.0")
    problems = check_recipes.check(repo_copy)
    assert problems == [
        "packages/fermi-ingest/CHANGELOG.md: top heading version '0.1.0' != '0.1.0.dev0' in "
        "packages/fermi-ingest/src/fermi_ingest/_version.py"
    ]


def test_version_bump_without_recipe_and_pin_is_caught(repo_copy: Path):
    _edit(
        repo_copy / "packages" / "fermi-halfpipe" / "src" / "fermi_halfpipe" / "_version.py",
        "0.1.0.dev0",
        "0.2.0",
    )
    problems = "\n".join(check_recipes.check(repo_copy))
    assert "recipes/fermi-halfpipe/recipe.yaml: version '0.1.0.dev0' != '0.2.0'" in problems
    assert "CHANGELOG.md: top heading version '0.1.0.dev0' != '0.2.0'" in problems
    assert "pin 'fermi-halfpipe ==0.1.0.dev0' != current version '==0.2.0'" in problems


def test_run_dependency_drift_is_caught(repo_copy: Path):
    _edit(
        repo_copy / "packages" / "fermi-ingest" / "pyproject.toml",
        '"sqlalchemy>=2.0",',
        '"sqlalchemy>=2.0",\n    "pyarrow>=14",',
    )
    _edit(repo_copy / "recipes" / "fermi-l1" / "recipe.yaml", "numba >=0.58", "numba >=0.57")
    problems = check_recipes.check(repo_copy)
    assert (
        "recipes/fermi-ingest/recipe.yaml: run dependency missing: 'pyarrow >=14' (from the pyproject)"
        in problems
    )
    assert (
        "recipes/fermi-l1/recipe.yaml: run dependency 'numba': recipe spec '>=0.57' != pyproject spec '>=0.58'"
        in problems
    )


def test_unknown_recipe_and_bad_yaml_are_reported(repo_copy: Path):
    (repo_copy / "recipes" / "fermi-extra").mkdir()
    (repo_copy / "recipes" / "fermi-extra" / "recipe.yaml").write_text(
        (ROOT / "recipes" / "fermi-ground" / "recipe.yaml").read_text().replace("fermi-ground", "fermi-extra")
    )
    _edit(repo_copy / "recipes" / "fermi-isoc" / "recipe.yaml", "requirements:", "requirement:")
    problems = check_recipes.check(repo_copy)
    assert (
        "recipes/fermi-extra/recipe.yaml: no package 'fermi-extra' in packages/ for this recipe" in problems
    )
    isoc = [p for p in problems if p.startswith("recipes/fermi-isoc/recipe.yaml: cannot render")]
    assert len(isoc) == 1 and "requirement" in isoc[0]


def test_release_tag_must_match_version_and_released_changelog(repo_copy: Path):
    assert check_recipes.check(repo_copy, tag="fermi-ground/v0.1.0.dev0") == []
    problems = check_recipes.check(repo_copy, tag="fermi-l1/v0.2.0")
    assert (
        "tag 'fermi-l1/v0.2.0': version '0.2.0' != '0.1.0.dev0' in packages/fermi-l1/src/fermi_l1/_version.py"
        in problems
    )
    assert check_recipes.check(repo_copy, tag="v0.2.0") == [
        "tag 'v0.2.0': not of the form <package>/v<version> (e.g. fermi-l1/v0.2.0)"
    ]
    changelog = repo_copy / "packages" / "fermi-l1" / "CHANGELOG.md"
    _edit(changelog, "## 0.1.0.dev0 (unreleased)", "## 0.1.0.dev0 (2026-11-23)")
    assert check_recipes.check(repo_copy, tag="refs/tags/fermi-l1/v0.1.0.dev0") == []


def test_python_version_marker_is_listed_unconditionally_but_platform_marker_is_refused(repo_copy: Path):
    pyproject = repo_copy / "packages" / "fermi-halfpipe" / "pyproject.toml"
    _edit(
        pyproject, '"numba>=0.58",', '"numba>=0.58",\n    "exceptiongroup>=1.1; python_version < \'3.11\'",'
    )
    assert check_recipes.check(repo_copy) == [
        "recipes/fermi-halfpipe/recipe.yaml: run dependency missing: 'exceptiongroup >=1.1' (from the pyproject)"
    ]
    _edit(
        repo_copy / "recipes" / "fermi-halfpipe" / "recipe.yaml",
        "    - numba >=0.58\n",
        "    - numba >=0.58\n    - exceptiongroup >=1.1\n",
    )
    assert check_recipes.check(repo_copy) == []
    _edit(pyproject, "python_version < '3.11'", "sys_platform == 'win32'")
    (problem,) = check_recipes.check(repo_copy)
    assert "has a platform marker, which a noarch recipe cannot express" in problem


def test_metapackage_license_copy_must_match_the_repository(repo_copy: Path):
    (repo_copy / "recipes" / "fermi-ground" / "LICENSE").write_text("MIT\n")
    (problem,) = check_recipes.check(repo_copy)
    assert problem.startswith("recipes/fermi-ground/LICENSE: missing or different from the repository")


def test_recipe_without_homepage_or_maintainers_is_caught(repo_copy: Path, capsys):
    recipe = repo_copy / "recipes" / "fermi-halfpipe" / "recipe.yaml"
    _edit(recipe, "  homepage: https://github.com/fermi-lat/fermi-ground\n", "")
    _edit(recipe, "extra:\n  recipe-maintainers:\n    - fermi-lat-ground\n", "")
    meta = repo_copy / "recipes" / "fermi-ground" / "recipe.yaml"
    _edit(meta, "fermi-ground#readme", "fermi-ground/wiki")
    assert check_recipes.main(["--root", str(repo_copy)]) == 1
    err = capsys.readouterr().err
    assert (
        "recipes/fermi-halfpipe/recipe.yaml: about.homepage is missing "
        "(expected 'https://github.com/fermi-lat/fermi-ground')"
    ) in err
    assert (
        "recipes/fermi-halfpipe/recipe.yaml: extra.recipe-maintainers is missing or empty "
        "(expected ['fermi-lat-ground'])"
    ) in err
    assert (
        "recipes/fermi-ground/recipe.yaml: about.documentation 'https://github.com/fermi-lat/fermi-ground/wiki' "
        "!= 'https://github.com/fermi-lat/fermi-ground#readme'"
    ) in err
    assert err.count("  - ") == 3


def test_unpinned_sibling_is_caught_in_recipe_and_pyproject(repo_copy: Path):
    _edit(
        repo_copy / "recipes" / "fermi-l1" / "recipe.yaml", "fermi-ingest >=0.1.0.dev0,<0.2", "fermi-ingest"
    )
    _edit(
        repo_copy / "packages" / "fermi-l1" / "pyproject.toml",
        '"fermi-ingest>=0.1.0.dev0,<0.2"',
        '"fermi-ingest"',
    )
    problems = check_recipes.check(repo_copy)
    assert problems == [
        "packages/fermi-l1/pyproject.toml: [project] dependencies: sibling 'fermi-ingest' needs exactly a "
        "lower bound '>=' and an upper bound '<' (policy: 'fermi-ingest>=0.1.0.dev0,<0.2', see ci/README.md)",
        "recipes/fermi-l1/recipe.yaml: run dependency 'fermi-ingest': unpinned sibling: needs exactly a lower "
        "bound '>=' and an upper bound '<' (policy: 'fermi-ingest >=0.1.0.dev0,<0.2', see ci/README.md)",
    ]


def test_lower_bound_only_sibling_in_recipe_is_caught_even_when_pyproject_agrees(repo_copy: Path):
    _edit(repo_copy / "recipes" / "fermi-core" / "recipe.yaml", "shim >=0.1.0.dev0,<0.2", "shim >=0.1.0.dev0")
    problems = "\n".join(check_recipes.check(repo_copy))
    assert (
        "recipes/fermi-core/recipe.yaml: run dependency 'fermi-sciencetools-shim >=0.1.0.dev0': unpinned"
        in problems
    )
    # and the recipe no longer matches the pyproject either
    assert "recipe spec '>=0.1.0.dev0' != pyproject spec '<0.2,>=0.1.0.dev0'" in problems


def test_sibling_in_optional_dependencies_follows_the_policy(repo_copy: Path):
    _edit(
        repo_copy / "packages" / "fermi-l1" / "pyproject.toml",
        '"fermi-core[farm]>=0.1.0.dev0,<0.2"',
        '"fermi-core[farm]>=0.1.0.dev0,<1"',
    )
    (problem,) = check_recipes.check(repo_copy)
    assert problem.startswith(
        "packages/fermi-l1/pyproject.toml: [project] optional-dependencies.farm: sibling "
        "'fermi-core[farm]>=0.1.0.dev0,<1' upper bound <1 is not the next breaking release <0.2"
    )


def test_sibling_policy_bounds():
    assert check_recipes.sibling_bounds("0.1.0.dev0") == ">=0.1.0.dev0,<0.2"
    assert check_recipes.sibling_bounds("0.9.3") == ">=0.9.3,<0.10"
    assert check_recipes.sibling_bounds("2.4.1") == ">=2.4.1,<3"
    assert check_recipes.sibling_spec_problem(">=0.1.0,<0.2", "0.1.4") is None
    assert check_recipes.sibling_spec_problem(">=0.1.0.dev0, <0.2", "0.1.0.dev0") is None
    assert "newer than the sibling's current version" in check_recipes.sibling_spec_problem(
        ">=0.2,<0.2", "0.1.0"
    )
    assert "exactly a lower bound" in check_recipes.sibling_spec_problem("==0.1.0", "0.1.0")
    assert "cannot parse" in check_recipes.sibling_spec_problem(">=>0.1", "0.1.0")


def test_duplicate_entry_point_is_caught(repo_copy: Path):
    line = "      - gtbin = fermi_sciencetools_shim.bin.gtbin:main\n"
    _edit(repo_copy / "recipes" / "fermi-sciencetools-shim" / "recipe.yaml", line, line + line)
    assert check_recipes.check(repo_copy) == [
        "recipes/fermi-sciencetools-shim/recipe.yaml: entry point 'gtbin = fermi_sciencetools_shim.bin.gtbin:main' "
        "is listed 2 times in build.python.entry_points"
    ]
