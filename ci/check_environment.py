"""Check the conda environments against the packages and the pip development setup.

Cheap consistency checks (no solve: conda-forge cannot be reached from the CI machines),
each problem one line naming the file:

* ``environment.yml`` (development): every run dependency of every package (read from its
  pyproject, with the PyPI -> conda name mapping of ``ci/monorepo.py``) and every entry of
  ``requirements-dev.txt`` (what ``make venv`` installs with pip) is listed, as a conda
  package or in its ``pip:`` list; the python floor is the packages' ``requires-python``;
  channels start with conda-forge and hold ``nodefaults``; none of our own packages.
* ``envs/farm.yml`` (farm): the same channel rules plus our publishing channel; runtime
  packages only (python, ``fermi-ground`` pinned ``==`` its current version, run
  dependencies of the packages and of their ``farm`` extras); no ``pip:`` list.
* ``envs/farm-linux-64.lock``: an explicit lock file naming our packages at their current
  versions (``ci/farm_lock.py``).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import bootstrap_channel
import farm_lock
import monorepo
import yaml
from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

DEV_REQUIREMENTS = "requirements-dev.txt"
# Installed by `make venv` with --no-deps (a pin of theirs conflicts with ours); conda cannot do
# that, so environment.yml must say the same pip command as an after-create step.
NO_DEPS_REQUIREMENTS = ("requirements-fermipy.txt",)
METAPACKAGE = "fermi-ground"
# Our publishing channel (.github/workflows/release.yml uploads there; the README names it).
PUBLISH_CHANNEL_URL = "https://repo.prefix.dev/fermi-ground"


def _spec_parts(spec: str) -> tuple[str, str]:
    name, _, rest = spec.strip().partition(" ")
    return canonicalize_name(name.split("=")[0].split(">")[0].split("<")[0]), rest.replace(" ", "")


def _load(path: Path, where: str) -> tuple[dict | None, list[str]]:
    """The parsed environment file and the problems of its channel list."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        return None, [f"{where}: cannot read: {exc}"]
    if not isinstance(data, dict) or not isinstance(data.get("dependencies"), list):
        return None, [f"{where}: no 'dependencies' list"]
    problems: list[str] = []
    channels = data.get("channels") or []
    if not channels or channels[0] != "conda-forge":
        problems.append(f"{where}: channels must start with conda-forge, got {channels}")
    if "nodefaults" not in channels:
        problems.append(f"{where}: channels lack 'nodefaults' (the defaults channel must not mix in)")
    return data, problems


def dev_requirements(root: Path) -> list[Requirement]:
    """The entries of ``requirements-dev.txt`` (comments and blank lines skipped)."""
    reqs = []
    path = root / DEV_REQUIREMENTS
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        try:
            reqs.append(Requirement(line))
        except InvalidRequirement as exc:
            raise ValueError(f"{DEV_REQUIREMENTS}: line {number}: {exc}") from exc
    return reqs


def check(root: Path) -> list[str]:
    """Problems of the environment files under ``root`` (empty when all are consistent)."""
    return check_dev(root) + check_farm(root) + farm_lock.check_lock(root)


def check_dev(root: Path) -> list[str]:
    """Problems of ``root/environment.yml`` (empty when consistent with the packages)."""
    path = root / "environment.yml"
    where = "environment.yml"
    data, problems = _load(path, where)
    if data is None:
        return problems
    listed: dict[str, str] = {}
    pip_listed: set[str] = set()
    for i, dep in enumerate(data["dependencies"]):
        if isinstance(dep, str):
            name, spec = _spec_parts(dep)
            listed[name] = spec
        elif isinstance(dep, dict) and set(dep) == {"pip"} and isinstance(dep["pip"], list):
            pip_listed |= {canonicalize_name(Requirement(p).name) for p in dep["pip"]}
        else:
            problems.append(f"{where}: dependencies[{i}] {dep!r} is neither a match spec nor a pip list")
    try:
        pkgs = monorepo.discover(root)
    except monorepo.MonorepoError as exc:
        return [*problems, str(exc)]
    try:
        for req in dev_requirements(root):
            conda = canonicalize_name(monorepo.conda_name(req.name))
            if conda not in listed and canonicalize_name(req.name) not in pip_listed:
                problems.append(
                    f"{where}: '{req.name}' of {DEV_REQUIREMENTS} (the pip development setup) is missing"
                )
    except (OSError, ValueError) as exc:
        problems.append(str(exc))
    text = (root / "environment.yml").read_text(encoding="utf-8")
    for extra in NO_DEPS_REQUIREMENTS:
        command = f"pip install --no-deps -r {extra}"
        if (root / extra).is_file() and command not in text:
            problems.append(
                f"{where}: does not say '{command}' ({extra} is part of the pip development setup)"
            )
    internal = {canonicalize_name(p.name) for p in pkgs}
    for name in sorted(internal & listed.keys()):
        problems.append(
            f"{where}: lists our own package {name!r}; install it from the checkout or as fermi-ground"
        )
    floors = {p.requires_python for p in pkgs}
    if "python" not in listed:
        problems.append(f"{where}: python is not listed")
    elif len(floors) == 1 and listed["python"] != next(iter(floors)).replace(" ", ""):
        problems.append(
            f"{where}: python {listed['python']!r} != the packages' requires-python {next(iter(floors))!r}"
        )
    for pkg in pkgs:
        for req in pkg.requirements():
            if canonicalize_name(req.name) in internal:
                continue
            conda = canonicalize_name(monorepo.conda_name(req.name))
            if conda not in listed:
                problems.append(
                    f"{where}: run dependency '{monorepo.conda_spec(req)}' of {pkg.name} is missing"
                )
    return problems


def check_farm(root: Path) -> list[str]:
    """Problems of ``root/envs/farm.yml``: runtime packages only, fermi-ground pinned, our channel."""
    where = str(farm_lock.FARM_ENV)
    data, problems = _load(root / farm_lock.FARM_ENV, where)
    if data is None:
        return problems
    if PUBLISH_CHANNEL_URL not in (data.get("channels") or []):
        problems.append(f"{where}: channels lack our channel {PUBLISH_CHANNEL_URL}")
    try:
        pkgs = monorepo.discover(root)
    except monorepo.MonorepoError as exc:
        return [*problems, str(exc)]
    internal = {canonicalize_name(p.name) for p in pkgs}
    runtime: set[str] = set()
    for pkg in pkgs:
        for req in pkg.requirements() + bootstrap_channel.farm_requirements(pkg.path):
            if canonicalize_name(req.name) not in internal:
                runtime.add(canonicalize_name(monorepo.conda_name(req.name)))
    meta_version = _metapackage_version(root)
    listed: dict[str, str] = {}
    for i, dep in enumerate(data["dependencies"]):
        if not isinstance(dep, str):
            problems.append(
                f"{where}: dependencies[{i}] {dep!r}: the farm environment takes conda packages only"
            )
            continue
        name, spec = _spec_parts(dep)
        listed[name] = spec
        if name in internal:
            problems.append(f"{where}: lists {name!r}; the farm takes our packages through {METAPACKAGE}")
        elif name not in runtime | {"python", METAPACKAGE}:
            problems.append(
                f"{where}: {name!r} is not a runtime dependency of any package (development tool?)"
            )
    if listed.get(METAPACKAGE) != f"=={meta_version}":
        problems.append(
            f"{where}: needs '{METAPACKAGE} =={meta_version}' (recipes/{METAPACKAGE}/recipe.yaml), "
            f"got {listed.get(METAPACKAGE)!r}"
        )
    floors = {p.requires_python for p in pkgs}
    if len(floors) == 1 and listed.get("python") != next(iter(floors)).replace(" ", ""):
        problems.append(
            f"{where}: python {listed.get('python')!r} != the packages' requires-python {next(iter(floors))!r}"
        )
    for pkg in pkgs:
        for req in bootstrap_channel.farm_requirements(pkg.path):
            conda = canonicalize_name(monorepo.conda_name(req.name))
            if conda not in internal and conda not in listed:
                problems.append(f"{where}: '{req}' of the farm extra of {pkg.name} is missing")
    return problems


def _metapackage_version(root: Path) -> str | None:
    recipe = root / "recipes" / METAPACKAGE / "recipe.yaml"
    try:
        return str(yaml.safe_load(recipe.read_text(encoding="utf-8"))["context"]["version"])
    except (OSError, yaml.YAMLError, KeyError, TypeError):
        return None


def main(argv: Sequence[str] | None = None) -> int:
    """Check environment.yml; print the problems and return 1 if there is any."""
    parser = argparse.ArgumentParser(prog="ci/check_environment.py", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--root", type=Path, default=monorepo.ROOT, help="monorepo root (default: %(default)s)"
    )
    args = parser.parse_args(argv)
    problems = check(args.root)
    if problems:
        print("ERROR: the environment files are inconsistent with the packages:", file=sys.stderr)
        for p in problems:
            print(f"  - {p}", file=sys.stderr)
        return 1
    print(
        "OK: environment.yml holds every run dependency and requirements-dev.txt entry; "
        "envs/farm.yml is runtime-only and its lock current"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
