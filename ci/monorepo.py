"""List the monorepo's packages: name, version, path, import name and internal dependencies.

The model built here (read from each ``packages/<name>/pyproject.toml``, its ``_version.py``
and its ``CHANGELOG.md``, never by importing the package) is shared by the other CI scripts.

Usage::

    python ci/monorepo.py            # table, in dependency order
    python ci/monorepo.py --json     # the same as JSON
    python ci/monorepo.py --dependencies-of fermi-l1   # its internal dependencies, in build order
"""

from __future__ import annotations

import argparse
import ast
import json
import re
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import tomllib
from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10 (requirements-dev.txt installs tomli there)
    import tomli as tomllib

ROOT = Path(__file__).resolve().parent.parent

# PyPI names whose conda-forge package has another name. Every other dependency keeps its
# (normalized) PyPI name on conda-forge.
PYPI_TO_CONDA: dict[str, str] = {
    "matplotlib": "matplotlib-base",  # the library without the Qt GUI stack (conda-forge convention)
    "psycopg2-binary": "psycopg2",
    "tables": "pytables",
}

# PyPI extras whose conda-forge package already provides what the extra adds (conda has no
# extras; the pairs come from whl2conda's known_extras table). Other extras are refused by
# ci/check_recipes.py.
KNOWN_EXTRAS: dict[tuple[str, str], str] = {
    ("psycopg", "binary"): "psycopg",
    ("psycopg", "c"): "psycopg",
    ("uvicorn", "standard"): "uvicorn-standard",
}

_CHANGELOG_HEADING = re.compile(r"^##\s+(\S+)")


class MonorepoError(Exception):
    """A package's metadata is missing or malformed (the message names the file and the reason)."""


@dataclass(frozen=True)
class PackageInfo:
    """What the CI scripts need to know about one package of ``packages/``."""

    name: str
    version: str
    path: Path
    import_name: str
    description: str
    requires_python: str
    dependencies: tuple[str, ...]
    scripts: dict[str, str] = field(default_factory=dict)
    internal: tuple[str, ...] = ()
    changelog_version: str | None = None

    def requirements(self) -> list[Requirement]:
        """The run dependencies as parsed PEP 508 requirements."""
        return [Requirement(d) for d in self.dependencies]

    def to_json(self, root: Path = ROOT) -> dict[str, object]:
        """A JSON-ready dict (the path is relative to ``root`` when possible)."""
        try:
            path = str(self.path.relative_to(root))
        except ValueError:
            path = str(self.path)
        return {
            "name": self.name,
            "version": self.version,
            "path": path,
            "import_name": self.import_name,
            "internal_dependencies": list(self.internal),
            "dependencies": list(self.dependencies),
            "scripts": dict(self.scripts),
            "requires_python": self.requires_python,
            "changelog_version": self.changelog_version,
        }


def conda_name(pypi_name: str) -> str:
    """The conda-forge package name of the PyPI distribution ``pypi_name``."""
    canonical = canonicalize_name(pypi_name)
    return PYPI_TO_CONDA.get(canonical, canonical)


def unknown_extras(requirement: Requirement) -> list[str]:
    """The extras of ``requirement`` that no conda package is known to provide."""
    name = canonicalize_name(requirement.name)
    return sorted(e for e in requirement.extras if (name, e) not in KNOWN_EXTRAS)


def conda_spec(requirement: Requirement) -> str:
    """A conda match spec (``name >=1,<2``) equivalent to a PEP 508 requirement (marker ignored).

    A known extra selects its conda package (``psycopg[binary]`` -> ``psycopg``).
    """
    name = canonicalize_name(requirement.name)
    targets = {KNOWN_EXTRAS[(name, e)] for e in requirement.extras if (name, e) in KNOWN_EXTRAS}
    conda = targets.pop() if len(targets) == 1 else conda_name(requirement.name)
    spec = ",".join(sorted(str(s) for s in requirement.specifier))
    return f"{conda} {spec}".strip()


def read_version(version_file: Path) -> str:
    """The ``__version__`` string literal assigned in ``version_file`` (parsed, not imported)."""
    try:
        tree = ast.parse(version_file.read_text(encoding="utf-8"), filename=str(version_file))
    except (OSError, SyntaxError) as exc:
        raise MonorepoError(f"{version_file}: cannot read the version file: {exc}") from exc
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == "__version__" for t in node.targets
        ):
            if isinstance(node.value, ast.Constant) and isinstance(node.value.value, str):
                return node.value.value
            raise MonorepoError(f"{version_file}, line {node.lineno}: __version__ is not a string literal")
    raise MonorepoError(f"{version_file}: no __version__ assignment")


def read_changelog_version(changelog: Path) -> str | None:
    """The version of the first ``## <version> ...`` heading of ``changelog`` (None when absent)."""
    if not changelog.is_file():
        return None
    for line in changelog.read_text(encoding="utf-8").splitlines():
        match = _CHANGELOG_HEADING.match(line)
        if match:
            return match.group(1)
    return None


def load_package(path: Path) -> PackageInfo:
    """Read the package in the directory ``path`` (internal dependencies are filled by :func:`discover`)."""
    pyproject = path / "pyproject.toml"
    try:
        data = tomllib.loads(pyproject.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise MonorepoError(f"{pyproject}: cannot read: {exc}") from exc
    project = data.get("project")
    if not isinstance(project, dict) or "name" not in project:
        raise MonorepoError(f"{pyproject}: no [project] table with a name")
    name = str(project["name"])
    hatch = data.get("tool", {}).get("hatch", {})
    version_path = hatch.get("version", {}).get("path")
    if "version" in project:
        version = str(project["version"])
    elif version_path:
        version = read_version(path / version_path)
    else:
        raise MonorepoError(f"{pyproject}: no static version and no [tool.hatch.version] path")
    wheel_packages = hatch.get("build", {}).get("targets", {}).get("wheel", {}).get("packages", [])
    import_name = Path(wheel_packages[0]).name if wheel_packages else name.replace("-", "_")
    dependencies = tuple(project.get("dependencies", []))
    for i, dep in enumerate(dependencies):
        try:
            Requirement(dep)
        except InvalidRequirement as exc:
            raise MonorepoError(f"{pyproject}: [project] dependencies[{i}] {dep!r}: {exc}") from exc
    return PackageInfo(
        name=name,
        version=version,
        path=path.resolve(),
        import_name=import_name,
        description=str(project.get("description", "")),
        requires_python=str(project.get("requires-python", "")),
        dependencies=dependencies,
        scripts=dict(project.get("scripts", {})),
        changelog_version=read_changelog_version(path / "CHANGELOG.md"),
    )


def _dependency_order(packages: dict[str, PackageInfo]) -> list[PackageInfo]:
    """Topological order (dependencies first; ties broken by name); raises on a cycle."""
    ordered: list[PackageInfo] = []
    done: set[str] = set()
    visiting: list[str] = []

    def visit(name: str) -> None:
        if name in done:
            return
        if name in visiting:
            cycle = " -> ".join([*visiting[visiting.index(name) :], name])
            raise MonorepoError(f"dependency cycle between packages: {cycle}")
        visiting.append(name)
        for dep in sorted(packages[name].internal):
            visit(dep)
        visiting.pop()
        done.add(name)
        ordered.append(packages[name])

    for name in sorted(packages):
        visit(name)
    return ordered


def discover(root: Path = ROOT) -> list[PackageInfo]:
    """Every package under ``root/packages``, in dependency order (dependencies first)."""
    base = root / "packages"
    dirs = sorted(p for p in base.iterdir() if (p / "pyproject.toml").is_file()) if base.is_dir() else []
    if not dirs:
        raise MonorepoError(f"{base}: no package directory with a pyproject.toml")
    loaded = [load_package(d) for d in dirs]
    names = {canonicalize_name(p.name): p.name for p in loaded}
    packages: dict[str, PackageInfo] = {}
    for pkg in loaded:
        internal = tuple(
            names[canonicalize_name(r.name)] for r in pkg.requirements() if canonicalize_name(r.name) in names
        )
        packages[pkg.name] = PackageInfo(**{**pkg.__dict__, "internal": internal})
    return _dependency_order(packages)


def internal_closure(packages: list[PackageInfo], name: str) -> list[PackageInfo]:
    """The internal dependencies of ``name``, direct and indirect, in dependency order.

    ``name`` may also be ``fermi-ground`` (the metapackage): all packages.
    """
    by_name = {p.name: p for p in packages}
    if name == "fermi-ground":
        return list(packages)
    if name not in by_name:
        raise MonorepoError(f"no package {name!r} in packages/ (known: {', '.join(sorted(by_name))})")
    needed: set[str] = set()
    todo = list(by_name[name].internal)
    while todo:
        dep = todo.pop()
        if dep not in needed:
            needed.add(dep)
            todo += by_name[dep].internal
    return [p for p in packages if p.name in needed]


def main(argv: Sequence[str] | None = None) -> int:
    """List the packages (``--json`` for machine-readable output); return the exit code."""
    parser = argparse.ArgumentParser(prog="ci/monorepo.py", description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, default=ROOT, help="monorepo root (default: %(default)s)")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parser.add_argument(
        "--dependencies-of",
        metavar="NAME",
        help="print the names of NAME's internal dependencies (direct and indirect), one a line, build order",
    )
    args = parser.parse_args(argv)
    try:
        packages = discover(args.root)
        if args.dependencies_of:
            for p in internal_closure(packages, args.dependencies_of):
                print(p.name)
            return 0
    except MonorepoError as exc:
        print(f"ERROR: {exc}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps([p.to_json(args.root) for p in packages], indent=2))
        return 0
    rows = [("package", "version", "import name", "path", "internal dependencies")]
    for p in packages:
        rel = p.to_json(args.root)["path"]
        rows.append((p.name, p.version, p.import_name, str(rel), ", ".join(p.internal) or "-"))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]) - 1)]
    for row in rows:
        print("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=False)) + "  " + row[-1])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
