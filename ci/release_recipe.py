"""Render the release form of one recipe: ``source: url`` + ``sha256`` of the tagged source archive.

The recipes in ``recipes/`` build from the checkout (``source: path: ../../packages/<name>``),
which is what ``make conda`` and local builds need. A release (and a conda-forge
staged-recipes submission) must build from a published archive instead: the release workflow
builds the package's sdist from the tag, attaches it to the GitHub release, and runs this
script, which writes ``<output>/<name>/recipe.yaml`` with the ``path:`` source replaced by::

    source:
      url: https://github.com/<org>/<repo>/releases/download/<name>/v<version>/<sdist>
      sha256: <sha256 of the sdist>

Everything else in the recipe (comments included) is kept, and the other files of the recipe
folder are copied. The metapackage has no source and is copied unchanged. The written recipe
is rendered with rattler-build to check it.

Usage::

    python ci/release_recipe.py --tag fermi-l1/v0.2.0 --sdist dist/fermi_l1-0.2.0.tar.gz --output release-recipe
    python ci/release_recipe.py --print-repository   # the repository the URLs point to
"""

from __future__ import annotations

import argparse
import hashlib
import re
import shutil
import sys
from collections.abc import Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import check_recipes
import monorepo

_PATH_SOURCE = re.compile(r"^source:\n  path: (?P<path>\S+)\n", re.MULTILINE)


class ReleaseRecipeError(Exception):
    """The release recipe cannot be rendered (the message names the file and the reason)."""


def release_url(tag: str, sdist_name: str, repository: str = check_recipes.REPOSITORY) -> str:
    """Where the release workflow publishes the sdist of ``tag``: the GitHub release's asset."""
    return f"{repository}/releases/download/{tag}/{sdist_name}"


def render_release_text(recipe_text: str, url: str, sha256: str, where: str) -> str:
    """``recipe_text`` with its ``source: path:`` block replaced by ``url`` + ``sha256``."""
    if not re.fullmatch(r"[0-9a-f]{64}", sha256):
        raise ReleaseRecipeError(f"{where}: {sha256!r} is not a sha256 hex digest")
    matches = list(_PATH_SOURCE.finditer(recipe_text))
    if len(matches) != 1:
        raise ReleaseRecipeError(
            f"{where}: expected exactly one 'source:' block of the form 'source:\\n  path: ...', found {len(matches)}"
        )
    return _PATH_SOURCE.sub(f"source:\n  url: {url}\n  sha256: {sha256}\n", recipe_text, count=1)


def write_release_recipe(
    root: Path, tag: str, sdist: Path | None, output: Path, repository: str = check_recipes.REPOSITORY
) -> Path:
    """Write the release recipe of ``tag``'s package under ``output``; return its path."""
    match = check_recipes.TAG_PATTERN.match(tag)
    if not match:
        raise ReleaseRecipeError(f"tag {tag!r}: not of the form <package>/v<version> (e.g. fermi-l1/v0.2.0)")
    name, version = match["name"], match["version"]
    recipe_dir = root / "recipes" / name
    recipe = recipe_dir / "recipe.yaml"
    if not recipe.is_file():
        raise ReleaseRecipeError(f"{recipe}: missing (tag {tag!r} names no recipe)")
    dest = output / name
    if dest.exists():
        shutil.rmtree(dest)
    shutil.copytree(recipe_dir, dest)
    text = recipe.read_text(encoding="utf-8")
    if name != check_recipes.METAPACKAGE:
        if sdist is None:
            raise ReleaseRecipeError(f"{recipe}: a package release needs --sdist (the tagged source archive)")
        stem = re.sub(r"[-_.]+", "_", name)
        if not sdist.name.startswith(f"{stem}-{version}."):
            raise ReleaseRecipeError(
                f"{sdist}: not the sdist of {name} {version} (expected {stem}-{version}.tar.gz)"
            )
        sha256 = hashlib.sha256(sdist.read_bytes()).hexdigest()
        text = render_release_text(text, release_url(tag, sdist.name, repository), sha256, str(recipe))
    (dest / "recipe.yaml").write_text(text, encoding="utf-8")
    rendered = check_recipes.render_recipe(dest / "recipe.yaml", check_recipes.default_variants(root))
    if rendered["package"]["version"] != version:
        raise ReleaseRecipeError(
            f"{recipe}: version {rendered['package']['version']!r} != tag version {version!r}"
        )
    return dest / "recipe.yaml"


def main(argv: Sequence[str] | None = None) -> int:
    """Write the release recipe; print its path; 0 on success, 1 with one line on failure."""
    parser = argparse.ArgumentParser(prog="ci/release_recipe.py", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--root", type=Path, default=monorepo.ROOT, help="monorepo root (default: %(default)s)"
    )
    parser.add_argument("--tag", help="release tag <package>/v<version>")
    parser.add_argument("--sdist", type=Path, help="the package's sdist built from the tag")
    parser.add_argument("--output", type=Path, default=Path("release-recipe"), help="output folder")
    parser.add_argument("--print-repository", action="store_true", help="print the repository URL and exit")
    args = parser.parse_args(argv)
    if args.print_repository:
        print(check_recipes.REPOSITORY)
        return 0
    if not args.tag:
        parser.error("--tag is required")
    try:
        path = write_release_recipe(
            args.root.resolve(), args.tag.removeprefix("refs/tags/"), args.sdist, args.output
        )
    except (ReleaseRecipeError, ValueError, OSError) as exc:
        print(f"ERROR: {exc}", file=sys.stderr)
        return 1
    print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
