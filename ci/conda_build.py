"""``make conda``: build, test, index and install every conda package of the monorepo, offline.

Steps (each timed; the table is printed at the end, also after a failure):

1. check the recipes against the pyprojects (``ci/check_recipes.py``), the GitHub
   workflows against their schema (``ci/check_workflows.py``) and ``environment.yml``
   against the recipes (``ci/check_environment.py``);
2. make (or reuse from the cache) the BOOTSTRAP channel of the CI harness
   (``ci/bootstrap_channel.py``: local CPython + PyPI wheels converted with whl2conda);
3. build every recipe, in dependency order, into a genuine noarch ``.conda`` with
   py-rattler-build, running the recipe tests natively against bootstrap + outputs;
4. index a local channel of our outputs with py-rattler ``index_fs``;
5. solve ``fermi-ground`` (hence all six packages) against that channel + bootstrap with
   py-rattler and install it into a fresh prefix;
6. run every package's command with ``--version`` in that prefix and check the printed
   version, ``fermi-shim --help``, every declared entry point's script and ``pip check``.

The recipes keep ``python_min`` from ``recipes/variants.yaml`` on conda-forge; here it is
overridden with the local interpreter's ``major.minor`` (the only python of the bootstrap
channel), so the built packages depend on ``python >=<local>``. They are CI artifacts that
prove our recipes, metadata and pins are consistent, not release packages.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import bootstrap_channel
import check_environment
import check_recipes
import check_workflows
import monorepo

_INDEX_NOISE = re.compile(
    r"^(Adding \d+ packages|Successfully added|Writing repodata|Could not find \w+/repodata)"
)


class CondaBuildError(Exception):
    """A step of the conda build failed (the message says which and why)."""


class Timer:
    """Wall-clock time of each named step."""

    def __init__(self) -> None:
        self.rows: list[tuple[str, float, str]] = []

    @contextlib.contextmanager
    def step(self, name: str) -> Iterator[list[str]]:
        """Time the block; the yielded list may receive a short note for the table."""
        note: list[str] = []
        start = time.perf_counter()
        print(f"== {name}", flush=True)
        status = "FAILED"
        try:
            yield note
            status = ""
        finally:
            self.rows.append((name, time.perf_counter() - start, status or " ".join(note)))

    def table(self) -> str:
        """The timing table as aligned text."""
        width = max([len(r[0]) for r in self.rows] + [4])
        lines = [f"{'step'.ljust(width)}  {'time':>8}  note", f"{'-' * width}  {'-' * 8}  ----"]
        lines += [f"{n.ljust(width)}  {t:7.2f}s  {note}" for n, t, note in self.rows]
        lines.append(f"{'total'.ljust(width)}  {sum(r[1] for r in self.rows):7.2f}s")
        return "\n".join(lines)


def _channel_url(path: Path) -> str:
    return path.resolve().as_uri()


def local_python_min() -> str:
    """``major.minor`` of the running interpreter: the only python in the bootstrap channel."""
    return f"{sys.version_info.major}.{sys.version_info.minor}"


def build_recipes(root: Path, out_dir: Path, channels: list[str], python_min: str) -> list[Path]:
    """Build and test every recipe in dependency order; return the ``.conda`` files written."""
    import rattler_build as rb

    pkgs = monorepo.discover(root)
    recipes = [root / "recipes" / p.name / "recipe.yaml" for p in pkgs]
    recipes.append(root / "recipes" / check_recipes.METAPACKAGE / "recipe.yaml")
    variants = rb.VariantConfig.from_file(check_recipes.default_variants(root)).merge(
        rb.VariantConfig({"python_min": [python_min]})
    )
    render_config = rb.RenderConfig(
        platform=rb.PlatformConfig(target_platform=bootstrap_channel.platform_subdir())
    )
    tool = rb.ToolConfiguration(test_strategy="native", use_sharded=False)
    built: list[Path] = []
    for recipe in recipes:
        start = time.perf_counter()
        # The other packages keep changing while a long build runs: say so plainly, not via pip check.
        drift = check_recipes.check(root)
        if drift:
            raise CondaBuildError(
                "a pyproject or recipe changed during the build:\n  - " + "\n  - ".join(drift)
            )
        try:
            (variant,) = rb.Stage0Recipe.from_file(recipe).render(variants, render_config)
            result = variant.run_build(
                tool_config=tool, output_dir=out_dir, channels=channels, no_build_id=True
            )
        except Exception as exc:  # rattler-build raises several unrelated exception types
            lines = [str(line) for line in (getattr(exc, "log", None) or [])]
            log_file = out_dir / f"{recipe.parent.name}-failure.log"
            log_file.write_text("\n".join(lines) + "\n")
            # the last lines are rattler-build re-indexing the output folder: show what failed
            shown = [ln for ln in lines if not _INDEX_NOISE.match(ln)][-30:]
            raise CondaBuildError(
                f"{recipe.relative_to(root)}: build or test failed: {type(exc).__name__}: {exc}\n"
                + "\n".join(shown)
                + f"\n{explain_test_failure(out_dir, channels, recipe)}\nFull log: {log_file}"
            ) from exc
        files = [Path(p) for p in result.packages]
        log = [str(line) for line in result.log or []]
        if not any("all tests passed" in line for line in log):
            raise CondaBuildError(f"{recipe.relative_to(root)}: rattler-build reported no passing test run")
        passed = sum(
            1 for line in log if line.startswith("\u2714") and "passed" in line and "all tests" not in line
        )
        built += files
        print(
            f"   built and tested {', '.join(f.name for f in files)} in {time.perf_counter() - start:.1f} s "
            f"(imports + pip check: {passed} passed; all tests passed)"
        )
    return built


def explain_test_failure(out_dir: Path, channels: list[str], recipe: Path) -> str:
    """A readable reason when a recipe's test environment does not solve.

    rattler-build moves a package whose tests failed to ``<out>/broken`` and does not pass the
    solver's explanation to Python; solving the test specs again with py-rattler gives it.
    """
    import rattler

    broken = sorted((out_dir / "broken").glob("*.conda"))
    if not broken:
        return "(no package was written: the build itself failed, see the log above)"
    name = recipe.parent.name
    with tempfile.TemporaryDirectory() as tmp:
        chan = Path(tmp)
        (chan / "noarch").mkdir()
        for f in broken:
            shutil.copy2(f, chan / "noarch" / f.name)
        bootstrap_channel.index_channel(chan)
        try:
            asyncio.run(
                rattler.solve(
                    [chan.as_uri(), *channels],
                    ["python", name, "pip"],
                    platforms=[bootstrap_channel.platform_subdir(), "noarch"],
                    virtual_packages=rattler.VirtualPackage.detect(),
                )
            )
        except Exception as exc:
            return f"The test environment of {name} does not solve: {exc}"
    return f"The test environment of {name} solves: a test command failed (see the log above)."


def make_release_channel(files: list[Path], channel: Path) -> None:
    """Copy our packages into a fresh ``channel`` and index it with py-rattler."""
    if channel.exists():
        shutil.rmtree(channel)
    for f in files:
        subdir = channel / f.parent.name
        subdir.mkdir(parents=True, exist_ok=True)
        shutil.copy2(f, subdir / f.name)
    bootstrap_channel.index_channel(channel)


def solve_and_install(channels: list[str], spec: str, prefix: Path) -> list:
    """Solve ``spec`` (+ pip, for ``pip check``) against ``channels`` and install it into a fresh ``prefix``."""
    import rattler

    try:
        records = asyncio.run(
            rattler.solve(
                channels,
                [spec, "pip"],
                platforms=[bootstrap_channel.platform_subdir(), "noarch"],
                virtual_packages=rattler.VirtualPackage.detect(),
            )
        )
    except Exception as exc:
        raise CondaBuildError(f"cannot solve {spec!r} against {channels}: {exc}") from exc
    if prefix.exists():
        shutil.rmtree(prefix)
    try:
        cache_dir = os.environ.get("RATTLER_CACHE_DIR")
        asyncio.run(
            rattler.install(
                records,
                prefix,
                show_progress=False,
                cache_dir=Path(cache_dir) / "pkgs" if cache_dir else None,
            )
        )
    except Exception as exc:
        raise CondaBuildError(f"cannot install {spec!r} into {prefix}: {exc}") from exc
    return records


def _run(cmd: list[str]) -> str:
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False, timeout=300)
    if proc.returncode != 0:
        raise CondaBuildError(f"{' '.join(cmd)} exited {proc.returncode}:\n{proc.stdout}{proc.stderr}")
    return proc.stdout + proc.stderr


def smoke_test(prefix: Path, pkgs: list[monorepo.PackageInfo]) -> int:
    """Run the installed commands and check what they print; return the number of checks."""
    checks = 0
    for pkg in pkgs:
        for script in pkg.scripts:
            if not (prefix / "bin" / script).is_file():
                raise CondaBuildError(f"{prefix}/bin/{script}: entry point of {pkg.name} was not installed")
            checks += 1
        command = next(iter(pkg.scripts))
        out = _run([str(prefix / "bin" / command), "--version"]).strip()
        if out != f"{command} {pkg.version}":
            raise CondaBuildError(f"{command} --version printed {out!r}, expected '{command} {pkg.version}'")
        print(f"   {out}")
        checks += 1
    if "usage: fermi-shim" not in _run([str(prefix / "bin" / "fermi-shim"), "--help"]):
        raise CondaBuildError("fermi-shim --help printed no usage line")
    for tool in ("gtselect", "gtmktime", "gtbin", "gtltcube"):
        if f"usage: {tool}" not in _run([str(prefix / "bin" / tool), "--help"]):
            raise CondaBuildError(f"{tool} --help printed no usage line")
    checks += 4
    # the end-to-end demo runs in `make channel`, in a prefix made from the farm lock alone
    out = _run([str(prefix / "bin" / "python"), "-m", "pip", "check"])
    if "No broken requirements found" not in out:
        raise CondaBuildError(f"pip check in {prefix}: {out}")
    return checks + 2


# What goes into a package (the recipes build ``packages/<name>`` with hatchling, which takes
# ``src/`` and the metadata files): tests, benchmarks and caches are not part of the key.
_PACKAGE_FILES = ("pyproject.toml", "README.md", "CHANGELOG.md", "LICENSE")
SOURCE_KEY = "SOURCE_KEY"


def source_key(root: Path) -> str:
    """Hash of every file the conda packages are built from (package sources, recipes) and of the harness."""
    files = [Path(__file__), Path(bootstrap_channel.__file__)]
    files += sorted(p for p in (root / "recipes").rglob("*") if p.is_file())
    for pkg in sorted((root / "packages").iterdir()):
        files += [pkg / name for name in _PACKAGE_FILES if (pkg / name).is_file()]
        files += sorted(
            p
            for p in (pkg / "src").rglob("*")
            if p.is_file() and "__pycache__" not in p.parts and not p.name.endswith(".pyc")
        )
    digest = hashlib.sha256()
    for path in files:
        digest.update(
            str(path.relative_to(root) if path.is_relative_to(root) else path.name).encode() + b"\0"
        )
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


def channel_is_current(root: Path, channel: Path) -> bool:
    """True when ``channel`` (``make conda``'s local channel) was built from the current sources."""
    key = channel / SOURCE_KEY
    return key.is_file() and key.read_text().strip() == source_key(root)


def build_channel(root: Path, cache: Path, force_bootstrap: bool, timer: Timer) -> Path:
    """Steps 2-4: bootstrap channel, build + test every recipe, index the local channel; return it.

    The channel (``<cache>/channel``) records the :func:`source_key` it was built from, so that
    ``make channel`` and ``make image`` reuse it while the sources are unchanged.
    """
    key = source_key(root)  # before the build: an edit during it makes the channel stale, not "current"
    # A private package cache: our packages are rebuilt under the same file names at every run,
    # and they must not linger in (or come from) the user's shared rattler cache.
    pkg_cache = cache / "rattler-cache"
    os.environ["RATTLER_CACHE_DIR"] = str(pkg_cache)
    for stale in (pkg_cache / "pkgs").glob("fermi-*"):
        shutil.rmtree(stale) if stale.is_dir() else stale.unlink()
    boot = cache / "bootstrap-channel"
    with timer.step("bootstrap channel (CI harness)") as note:
        try:
            rebuilt = bootstrap_channel.ensure_bootstrap_channel(
                root, boot, cache / "wheels", force_bootstrap
            )
        except bootstrap_channel.BootstrapError as exc:
            raise CondaBuildError(str(exc)) from exc
        note.append("rebuilt" if rebuilt else "cached")

    out_dir = cache / "build"
    if out_dir.exists():
        shutil.rmtree(out_dir)
    (out_dir / "noarch").mkdir(parents=True)
    bootstrap_channel.index_channel(out_dir)
    with timer.step("build + test recipes") as note:
        files = build_recipes(root, out_dir, [_channel_url(out_dir), _channel_url(boot)], local_python_min())
        note.append(f"{len(files)} packages")

    release = cache / "channel"
    with timer.step("index local channel") as note:
        make_release_channel(files, release)
        (release / SOURCE_KEY).write_text(key + "\n")
        note.append(str(release.relative_to(root) if release.is_relative_to(root) else release))
    return release


def run(root: Path, cache: Path, force_bootstrap: bool, timer: Timer) -> None:
    """All the steps; raises :class:`CondaBuildError` (or a checker's error) on the first failure."""
    with timer.step("check recipes vs pyprojects") as note:
        problems = check_recipes.check(root)
        if problems:
            raise CondaBuildError("recipe mismatches:\n  - " + "\n  - ".join(problems))
        note.append(f"{len(list((root / 'recipes').glob('*/recipe.yaml')))} recipes")
    with timer.step("check GitHub workflows (schema)") as note:
        problems = check_workflows.check(root)
        if problems:
            raise CondaBuildError("workflow errors:\n  - " + "\n  - ".join(problems))
        note.append(f"{len(check_workflows.workflow_files(root))} workflows")
    with timer.step("check environment.yml, envs/farm.yml vs packages") as note:
        # the farm lock is checked by `make channel`, which resolves it from this build's channel
        problems = check_environment.check_dev(root) + check_environment.check_farm(root)
        if problems:
            raise CondaBuildError("environment.yml problems:\n  - " + "\n  - ".join(problems))
        note.append("consistent")

    release = build_channel(root, cache, force_bootstrap, timer)
    boot = cache / "bootstrap-channel"

    pkgs = monorepo.discover(root)
    meta = check_recipes.render_recipe(
        root / "recipes" / check_recipes.METAPACKAGE / "recipe.yaml", check_recipes.default_variants(root)
    )["package"]
    prefix = cache / "prefix"
    with timer.step("solve + install fermi-ground") as note:
        records = solve_and_install(
            [_channel_url(release), _channel_url(boot)], f"{meta['name']} =={meta['version']}", prefix
        )
        got = {str(r.name.normalized): str(r.version) for r in records}
        for pkg in pkgs:
            if got.get(pkg.name) != pkg.version:
                raise CondaBuildError(
                    f"the solution has {pkg.name} {got.get(pkg.name)}, expected {pkg.version}"
                )
        note.append(f"{len(records)} packages")
    with timer.step("smoke tests in the prefix") as note:
        note.append(f"{smoke_test(prefix, pkgs)} checks")


def main(argv: Sequence[str] | None = None) -> int:
    """Run the offline conda build; print the timing table; return 0 on success, 1 on failure."""
    parser = argparse.ArgumentParser(prog="ci/conda_build.py", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--root", type=Path, default=monorepo.ROOT, help="monorepo root (default: %(default)s)"
    )
    parser.add_argument(
        "--cache",
        type=Path,
        help="work directory (default: $FERMI_CI_CACHE, else ~/.cache/fermi-ground-ci: outside the "
        "checkout, so fresh clones on one machine reuse the bootstrap channel)",
    )
    parser.add_argument("--force-bootstrap", action="store_true", help="rebuild the bootstrap channel")
    args = parser.parse_args(argv)
    root = args.root.resolve()
    default_cache = os.environ.get("FERMI_CI_CACHE") or Path.home() / ".cache" / "fermi-ground-ci"
    cache = Path(args.cache or default_cache).resolve()
    timer = Timer()
    try:
        run(root, cache, args.force_bootstrap, timer)
    except (CondaBuildError, monorepo.MonorepoError, ValueError) as exc:
        print(f"\nERROR: {exc}", file=sys.stderr)
        print("\n" + timer.table())
        return 1
    print("\n" + timer.table())
    print(f"\nOK: every recipe built, tested and installed offline (outputs in {cache / 'channel'})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
