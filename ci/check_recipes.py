"""Check every conda recipe against its package's pyproject, version file and CHANGELOG.

Each ``recipes/<name>/recipe.yaml`` is rendered offline with py-rattler-build (target
linux-64, ``python_min`` from ``recipes/variants.yaml``) and compared with
``packages/<name>``: name, version (``_version.py`` == CHANGELOG top heading == recipe),
source path, run dependencies (names and version specs, internal ones included), entry
points, imports test, summary, license, ``about.homepage`` / ``repository`` /
``documentation`` (the values of :data:`PROJECT_URLS`) and ``extra.recipe-maintainers``
(:data:`RECIPE_MAINTAINERS`), as conda-forge's linter requires. Every dependency on a sibling
package, in the pyproject (``dependencies`` and every optional-dependency list) and in the
recipe, must follow :func:`sibling_bounds`: ``>=<lower>,<<next breaking release>>``. The
``fermi-ground`` metapackage must pin every package at exactly its current version. With ``--tag <package>/v<version>`` (the release tag
format) the tag must name a package (or the metapackage) at that version, with a released
CHANGELOG heading.

Exit status 0 when everything agrees, 1 with one line per mismatch otherwise.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import monorepo
from packaging.markers import Marker
from packaging.requirements import Requirement
from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10 (requirements-dev.txt installs tomli there)
    import tomli as tomllib

METAPACKAGE = "fermi-ground"
# A dependency whose marker only tests the Python version (``tomli; python_version < "3.11"``)
# is listed unconditionally in a noarch recipe, as conda-forge does.
_PYTHON_MARKERS = {"python_version", "python_full_version"}
# Where the project lives: every recipe's ``about`` must carry exactly these (one definition;
# the README names the same repository). ``{docs}`` is the package's folder (``packages/<name>``),
# or nothing for the metapackage, whose documentation is the repository README.
REPOSITORY = "https://github.com/fermi-lat/fermi-ground"
PROJECT_URLS = {
    "homepage": REPOSITORY,
    "repository": REPOSITORY,
    "documentation": REPOSITORY + "{docs}#readme",
}
# GitHub accounts that maintain the conda recipes (conda-forge's ``extra.recipe-maintainers``).
RECIPE_MAINTAINERS = ("fermi-lat-ground",)
TAG_PATTERN = re.compile(r"^(?:refs/tags/)?(?P<name>[a-z0-9][a-z0-9-]*)/v(?P<version>[^/\s]+)$")


def default_variants(root: Path) -> Path:
    """The shared variants file of the recipes."""
    return root / "recipes" / "variants.yaml"


def render_recipe(recipe: Path, variants: Path, overrides: dict[str, str] | None = None) -> dict:
    """Render ``recipe`` offline for linux-64 and return the stage-1 recipe as a dict.

    Raises
    ------
    ValueError
        When the recipe or the variants file cannot be parsed or rendered, or when it renders
        into more or fewer than one variant (each of our recipes must give exactly one).
    """
    import rattler_build as rb

    try:
        config = rb.VariantConfig.from_file(variants)
        if overrides:
            config = config.merge(rb.VariantConfig({k: [v] for k, v in overrides.items()}))
        rendered = rb.Stage0Recipe.from_file(recipe).render(
            config, rb.RenderConfig(platform=rb.PlatformConfig(target_platform="linux-64"))
        )
    except Exception as exc:  # rattler-build raises several unrelated exception types
        raise ValueError(f"{recipe}: cannot render: {type(exc).__name__}: {exc}") from exc
    if len(rendered) != 1:
        raise ValueError(f"{recipe}: renders into {len(rendered)} variants, expected exactly 1")
    return rendered[0].recipe.to_dict()


def marker_variables(marker: Marker) -> set[str]:
    """Names of the environment variables a PEP 508 marker tests (``python_version``, ...)."""
    found: set[str] = set()

    def walk(node: object) -> None:
        if isinstance(node, (list, tuple)):
            for item in node:
                walk(item)
        elif type(node).__name__ == "Variable":
            found.add(str(node.value))

    walk(marker._markers)  # packaging keeps the parsed marker there; it has no public accessor
    return found


def _norm_spec(spec: str) -> str:
    """Version part of a match spec with spaces removed and comma-separated parts sorted."""
    return ",".join(sorted(p for p in spec.replace(" ", "").split(",") if p))


def parse_match_spec(spec: str) -> tuple[str, str]:
    """``(name, normalized version spec)`` of a simple conda match spec ``name [version]``."""
    name, _, rest = spec.strip().partition(" ")
    return canonicalize_name(name), _norm_spec(rest)


def sibling_upper_bound(version: str) -> str:
    """The next breaking release after ``version``: ``0.2`` for ``0.1.x``, ``3`` for ``2.x``.

    While the major version is 0 a minor release may break its users (SemVer); from 1.0 on,
    only a major release does.
    """
    release = Version(version).release
    major = release[0]
    minor = release[1] if len(release) > 1 else 0
    return f"{major}.{minor + 1}" if major == 0 else f"{major + 1}"


def sibling_bounds(version: str) -> str:
    """The dependency specifier the policy gives for a sibling now at ``version``.

    Policy (the one rule for every dependency between our packages, in pyprojects and
    recipes alike): a lower bound ``>=L`` with ``L`` no newer than the sibling's current
    version (the oldest release the dependent is known to work with; the current version
    when in doubt), and an upper bound ``<U`` at the sibling's next breaking release
    (:func:`sibling_upper_bound`), e.g. ``fermi-ingest >=0.1.0.dev0,<0.2``. A sibling's
    breaking release therefore makes every dependent's pin fail this check until its upper
    bound is raised on purpose.
    """
    return f">={version},<{sibling_upper_bound(version)}"


def sibling_spec_problem(spec: str, sibling_version: str) -> str | None:
    """Why ``spec`` (PEP 440 or conda, comma-separated) breaks the sibling policy; None when it follows it."""
    try:
        parts = SpecifierSet(spec.replace(" ", ""))
    except InvalidSpecifier:
        return f"cannot parse the version spec {spec!r}"
    ops = sorted(s.operator for s in parts)
    if ops != ["<", ">="]:
        return "needs exactly a lower bound '>=' and an upper bound '<'"
    lower = next(s.version for s in parts if s.operator == ">=")
    upper = next(s.version for s in parts if s.operator == "<")
    try:
        if Version(lower) > Version(sibling_version):
            return f"lower bound {lower} is newer than the sibling's current version {sibling_version}"
    except InvalidVersion:
        return f"cannot parse the lower bound {lower!r}"
    if upper != sibling_upper_bound(sibling_version):
        return (
            f"upper bound <{upper} is not the next breaking release <{sibling_upper_bound(sibling_version)} "
            f"of the sibling's current version {sibling_version}"
        )
    return None


def check_sibling_pins(
    pkg: monorepo.PackageInfo, versions: dict[str, str], recipe_path: Path, recipe_run: list[str]
) -> list[str]:
    """Sibling dependencies of ``pkg`` (pyproject lists and recipe run list) that break the policy."""
    problems: list[str] = []
    pyproject = pkg.path / "pyproject.toml"
    project = tomllib.loads(pyproject.read_text(encoding="utf-8")).get("project", {})
    lists = {"dependencies": project.get("dependencies", [])}
    for extra, deps in sorted((project.get("optional-dependencies") or {}).items()):
        lists[f"optional-dependencies.{extra}"] = deps
    for where, deps in lists.items():
        for dep in deps:
            req = Requirement(dep)
            sibling = canonicalize_name(req.name)
            if sibling not in versions:
                continue
            problem = sibling_spec_problem(str(req.specifier), versions[sibling])
            if problem:
                problems.append(
                    f"{pyproject}: [project] {where}: sibling {dep!r} {problem} "
                    f"(policy: '{req.name}{sibling_bounds(versions[sibling])}', see ci/README.md)"
                )
    for spec in recipe_run:
        name, version = parse_match_spec(spec)
        if name in versions:
            problem = sibling_spec_problem(version, versions[name])
            if problem:
                problems.append(
                    f"{recipe_path}: run dependency {spec!r}: unpinned sibling: {problem} "
                    f"(policy: '{name} {sibling_bounds(versions[name])}', see ci/README.md)"
                )
    return problems


def check_about(name: str, recipe_path: Path, rendered: dict) -> list[str]:
    """conda-forge metadata of one recipe: the project URLs and the recipe maintainers."""
    problems: list[str] = []
    about = rendered.get("about", {})
    for key, template in PROJECT_URLS.items():
        want = template.format(docs="" if name == METAPACKAGE else f"/tree/main/packages/{name}")
        got = about.get(key)
        if not got:
            problems.append(f"{recipe_path}: about.{key} is missing (expected {want!r})")
        elif got != want:
            problems.append(
                f"{recipe_path}: about.{key} {got!r} != {want!r} (PROJECT_URLS in ci/check_recipes.py)"
            )
    maintainers = (rendered.get("extra") or {}).get("recipe-maintainers")
    if not maintainers:
        problems.append(
            f"{recipe_path}: extra.recipe-maintainers is missing or empty (expected {list(RECIPE_MAINTAINERS)})"
        )
    elif list(maintainers) != list(RECIPE_MAINTAINERS):
        problems.append(
            f"{recipe_path}: extra.recipe-maintainers {list(maintainers)} != {list(RECIPE_MAINTAINERS)} "
            "(RECIPE_MAINTAINERS in ci/check_recipes.py)"
        )
    return problems


def _norm_entry_point(ep: str) -> str:
    name, _, target = ep.partition("=")
    return f"{name.strip()} = {target.strip()}"


def _python_floor(requires_python: str) -> str | None:
    """``3.10`` for ``>=3.10`` (None when requires-python has no single ``>=`` floor)."""
    floors = [s.version for s in Requirement(f"python{requires_python}").specifier if s.operator == ">="]
    return floors[0] if len(floors) == 1 else None


def check_package_recipe(
    pkg: monorepo.PackageInfo, recipe_path: Path, rendered: dict, python_min: str
) -> list[str]:
    """Mismatches between one package and its rendered recipe (empty when consistent)."""
    problems: list[str] = []
    where = str(recipe_path)

    def bad(msg: str) -> None:
        problems.append(f"{where}: {msg}")

    version_file = f"{pkg.path}/src/{pkg.import_name}/_version.py"
    package = rendered.get("package", {})
    if package.get("name") != pkg.name:
        bad(f"package name {package.get('name')!r} != pyproject name {pkg.name!r}")
    if package.get("version") != pkg.version:
        bad(f"version {package.get('version')!r} != {pkg.version!r} in {version_file}")
    if pkg.changelog_version is None:
        problems.append(f"{pkg.path}/CHANGELOG.md: no '## <version>' heading")
    elif pkg.changelog_version != pkg.version:
        problems.append(
            f"{pkg.path}/CHANGELOG.md: top heading version {pkg.changelog_version!r} "
            f"!= {pkg.version!r} in {version_file}"
        )

    sources = rendered.get("source", [])
    source_paths = [(recipe_path.parent / s["path"]).resolve() for s in sources if "path" in s]
    if source_paths != [pkg.path]:
        bad(f"source path {[str(p) for p in source_paths]} is not the package directory {pkg.path}")

    build = rendered.get("build", {})
    if build.get("noarch") != "python":
        bad(f"build.noarch is {build.get('noarch')!r}, expected 'python'")
    listed_eps = [_norm_entry_point(e) for e in build.get("python", {}).get("entry_points", [])]
    for ep in sorted({e for e in listed_eps if listed_eps.count(e) > 1}):
        bad(f"entry point '{ep}' is listed {listed_eps.count(ep)} times in build.python.entry_points")
    recipe_eps = set(listed_eps)
    project_eps = {f"{k} = {v}" for k, v in pkg.scripts.items()}
    for ep in sorted(project_eps - recipe_eps):
        bad(f"entry point missing from build.python.entry_points: '{ep}' (declared in pyproject)")
    for ep in sorted(recipe_eps - project_eps):
        bad(f"entry point '{ep}' is not in the pyproject [project.scripts]")

    floor = _python_floor(pkg.requires_python)
    if floor != python_min:
        bad(f"python_min {python_min!r} != requires-python floor {pkg.requires_python!r} of the pyproject")
    expected: dict[str, str] = {"python": _norm_spec(f">={python_min}")}
    for req in pkg.requirements():
        if req.marker is not None and not marker_variables(req.marker) <= _PYTHON_MARKERS:
            bad(
                f"dependency {str(req)!r} has a platform marker, which a noarch recipe cannot express "
                "(only python_version markers are allowed: the recipe then lists the dependency unconditionally)"
            )
        if monorepo.unknown_extras(req):
            bad(
                f"dependency {str(req)!r} asks for extras {monorepo.unknown_extras(req)}, which conda packages "
                "do not have (add the conda package providing them to KNOWN_EXTRAS in ci/monorepo.py)"
            )
        expected[parse_match_spec(monorepo.conda_spec(req))[0]] = _norm_spec(str(req.specifier))
    run = rendered.get("requirements", {}).get("run", [])
    actual: dict[str, str] = {}
    for spec in run:
        name, version = parse_match_spec(spec)
        if name in actual:
            bad(f"run dependency {name!r} is listed twice")
        actual[name] = version
    for name in sorted(expected.keys() - actual.keys()):
        bad(f"run dependency missing: '{f'{name} {expected[name]}'.strip()}' (from the pyproject)")
    for name in sorted(actual.keys() - expected.keys()):
        bad(f"run dependency {name!r} is not a dependency in the pyproject")
    for name in sorted(expected.keys() & actual.keys()):
        if expected[name] != actual[name]:
            bad(f"run dependency {name!r}: recipe spec {actual[name]!r} != pyproject spec {expected[name]!r}")

    host = {parse_match_spec(s)[0] for s in rendered.get("requirements", {}).get("host", [])}
    for needed in ("python", "pip", "hatchling"):
        if needed not in host:
            bad(f"host requirements lack {needed!r}")

    imports = [i for t in rendered.get("tests", []) for i in t.get("python", {}).get("imports", [])]
    if pkg.import_name not in imports:
        bad(f"no python imports test of {pkg.import_name!r}")

    about = rendered.get("about", {})
    if " ".join(str(about.get("summary", "")).split()) != " ".join(pkg.description.split()):
        bad(f"about.summary {about.get('summary')!r} != pyproject description {pkg.description!r}")
    if about.get("license") != "BSD-3-Clause":
        bad(f"about.license {about.get('license')!r} != 'BSD-3-Clause'")
    return problems


def check_metapackage(packages: list[monorepo.PackageInfo], recipe_path: Path, rendered: dict) -> list[str]:
    """Mismatches between the metapackage pins and the packages' current versions."""
    problems: list[str] = []
    if rendered.get("build", {}).get("noarch") != "generic":
        problems.append(f"{recipe_path}: build.noarch is not 'generic'")
    license_copy = recipe_path.parent / "LICENSE"
    root_license = recipe_path.parent.parent.parent / "LICENSE"
    if not license_copy.is_file() or license_copy.read_bytes() != root_license.read_bytes():
        problems.append(f"{license_copy}: missing or different from the repository {root_license}")
    pins = {}
    for spec in rendered.get("requirements", {}).get("run", []):
        name, version = parse_match_spec(spec)
        pins[name] = version
    for pkg in packages:
        want = f"=={pkg.version}"
        got = pins.pop(pkg.name, None)
        if got is None:
            problems.append(f"{recipe_path}: {pkg.name} is not pinned (expected '{pkg.name} {want}')")
        elif got != want:
            problems.append(
                f"{recipe_path}: pin '{pkg.name} {got}' != current version '{want}' "
                f"({pkg.path}/src/{pkg.import_name}/_version.py)"
            )
    for name in sorted(pins):
        problems.append(f"{recipe_path}: pins {name!r}, which is not a package of packages/")
    return problems


def check_tag(tag: str, packages: list[monorepo.PackageInfo], meta_version: str | None) -> list[str]:
    """Mismatches between a release tag ``<package>/v<version>`` and the repository."""
    match = TAG_PATTERN.match(tag)
    if not match:
        return [f"tag {tag!r}: not of the form <package>/v<version> (e.g. fermi-l1/v0.2.0)"]
    name, version = match["name"], match["version"]
    if name == METAPACKAGE:
        if meta_version != version:
            return [f"tag {tag!r}: recipes/{METAPACKAGE}/recipe.yaml has version {meta_version!r}"]
        return []
    by_name = {p.name: p for p in packages}
    if name not in by_name:
        return [f"tag {tag!r}: no package {name!r} in packages/ (known: {', '.join(sorted(by_name))})"]
    pkg = by_name[name]
    problems = []
    if pkg.version != version:
        problems.append(
            f"tag {tag!r}: version {version!r} != {pkg.version!r} in "
            f"{pkg.path}/src/{pkg.import_name}/_version.py"
        )
    changelog = pkg.path / "CHANGELOG.md"
    heading = next(
        (ln for ln in changelog.read_text(encoding="utf-8").splitlines() if ln.startswith("## ")), ""
    )
    if "unreleased" in heading.lower():
        problems.append(f"{changelog}: top heading {heading!r} is still marked unreleased for tag {tag!r}")
    return problems


def check(root: Path, variants: Path | None = None, tag: str | None = None) -> list[str]:
    """Every mismatch between recipes and packages under ``root`` (empty list: all consistent)."""
    variants = variants or default_variants(root)
    try:
        packages = monorepo.discover(root)
    except monorepo.MonorepoError as exc:
        return [str(exc)]
    try:
        import yaml

        python_min = str(yaml.safe_load(variants.read_text(encoding="utf-8"))["python_min"][0])
    except Exception as exc:
        return [f"{variants}: cannot read python_min: {type(exc).__name__}: {exc}"]

    problems: list[str] = []
    recipes_dir = root / "recipes"
    recipe_dirs = {p.parent.name: p for p in sorted(recipes_dir.glob("*/recipe.yaml"))}
    meta_version = None
    for pkg in packages:
        recipe = recipe_dirs.pop(pkg.name, None)
        if recipe is None:
            problems.append(
                f"{recipes_dir / pkg.name / 'recipe.yaml'}: missing (package {pkg.name} has no recipe)"
            )
            continue
        try:
            rendered = render_recipe(recipe, variants)
        except ValueError as exc:
            problems.append(str(exc))
            continue
        problems += check_package_recipe(pkg, recipe, rendered, python_min)
        problems += check_about(pkg.name, recipe, rendered)
        problems += check_sibling_pins(
            pkg,
            {canonicalize_name(p.name): p.version for p in packages},
            recipe,
            rendered.get("requirements", {}).get("run", []),
        )
    meta = recipe_dirs.pop(METAPACKAGE, None)
    if meta is None:
        problems.append(f"{recipes_dir / METAPACKAGE / 'recipe.yaml'}: missing (the farm metapackage)")
    else:
        try:
            rendered = render_recipe(meta, variants)
            meta_version = rendered.get("package", {}).get("version")
            problems += check_metapackage(packages, meta, rendered)
            problems += check_about(METAPACKAGE, meta, rendered)
        except ValueError as exc:
            problems.append(str(exc))
    for name, recipe in sorted(recipe_dirs.items()):
        problems.append(f"{recipe}: no package {name!r} in packages/ for this recipe")
    if tag is not None:
        problems += check_tag(tag, packages, meta_version)
    prefix = f"{root.resolve()}/"
    return [p.replace(prefix, "") for p in problems]


def main(argv: Sequence[str] | None = None) -> int:
    """Run the recipe checks; print every mismatch and return 1 if there is any."""
    parser = argparse.ArgumentParser(prog="ci/check_recipes.py", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--root", type=Path, default=monorepo.ROOT, help="monorepo root (default: %(default)s)"
    )
    parser.add_argument("--variants", type=Path, help="variants file (default: <root>/recipes/variants.yaml)")
    parser.add_argument("--tag", help="release tag <package>/v<version> to verify against the repository")
    args = parser.parse_args(argv)
    problems = check(args.root, args.variants, args.tag)
    if problems:
        print(f"ERROR: {len(problems)} recipe mismatch(es):", file=sys.stderr)
        for p in problems:
            print(f"  - {p}", file=sys.stderr)
        return 1
    n = len(list((args.root / "recipes").glob("*/recipe.yaml")))
    print(f"OK: {n} recipes agree with their packages" + (f" and tag {args.tag}" if args.tag else ""))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
