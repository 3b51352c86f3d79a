"""Check that ``environment.yml`` can run every package: each recipe run dependency is listed.

A cheap consistency check (no solve: conda-forge cannot be reached from the CI machines).
It reports, naming the file, a run dependency of a package (read from its pyproject, with
the PyPI -> conda name mapping of ``ci/monorepo.py``) absent from the environment, a python
floor different from the packages' ``requires-python``, a channel list that does not start
with conda-forge, and one of our own packages listed as a conda dependency (they are
installed from the checkout or as ``fermi-ground``).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import monorepo
import yaml
from packaging.utils import canonicalize_name


def _spec_parts(spec: str) -> tuple[str, str]:
    name, _, rest = spec.strip().partition(" ")
    return canonicalize_name(name.split("=")[0].split(">")[0].split("<")[0]), rest.replace(" ", "")


def check(root: Path) -> list[str]:
    """Problems of ``root/environment.yml`` (empty when consistent with the packages)."""
    path = root / "environment.yml"
    where = "environment.yml"
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        return [f"{where}: cannot read: {exc}"]
    if not isinstance(data, dict) or not isinstance(data.get("dependencies"), list):
        return [f"{where}: no 'dependencies' list"]
    problems: list[str] = []
    channels = data.get("channels") or []
    if not channels or channels[0] != "conda-forge":
        problems.append(f"{where}: channels must start with conda-forge, got {channels}")
    if "nodefaults" not in channels:
        problems.append(f"{where}: channels lack 'nodefaults' (the defaults channel must not mix in)")
    listed: dict[str, str] = {}
    for i, dep in enumerate(data["dependencies"]):
        if isinstance(dep, str):
            name, spec = _spec_parts(dep)
            listed[name] = spec
        elif not (isinstance(dep, dict) and set(dep) == {"pip"}):
            problems.append(f"{where}: dependencies[{i}] {dep!r} is neither a match spec nor a pip list")
    try:
        pkgs = monorepo.discover(root)
    except monorepo.MonorepoError as exc:
        return [*problems, str(exc)]
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


def main(argv: Sequence[str] | None = None) -> int:
    """Check environment.yml; print the problems and return 1 if there is any."""
    parser = argparse.ArgumentParser(prog="ci/check_environment.py", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--root", type=Path, default=monorepo.ROOT, help="monorepo root (default: %(default)s)"
    )
    args = parser.parse_args(argv)
    problems = check(args.root)
    if problems:
        print("ERROR: environment.yml is inconsistent with the packages:", file=sys.stderr)
        for p in problems:
            print(f"  - {p}", file=sys.stderr)
        return 1
    print("OK: environment.yml lists every run dependency of the packages")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
