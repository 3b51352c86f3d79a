"""Build the BOOTSTRAP conda channel of the offline CI harness (not a release channel).

conda-forge cannot be reached from the CI machines, so the recipes are built and tested
against a local channel holding what they need:

* ``python`` and ``python_abi``, packed with ``rattler_build.assemble_package`` as a
  venv-style prefix of the local CPython (a copy of its executable and a ``pyvenv.cfg``
  whose ``home`` points at the local installation: machine-specific);
* every other package (pip, hatchling, setuptools and the run dependencies of the six
  packages with their own dependencies, read from the pyprojects and from the installed
  distributions of the CI virtualenv), converted from PyPI wheels with whl2conda.

Passing against this channel proves that our recipes, package metadata and inter-package
pins are consistent; it does not prove that the environment solves on conda-forge (its
packages carry wheel metadata, not conda-forge's). The channel is cached, keyed on the
list of wheels and the interpreter, so a second run with the same dependencies skips it.
"""

from __future__ import annotations

import asyncio
import datetime
import email.parser
import hashlib
import importlib.metadata as md
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import monorepo
from packaging.markers import default_environment
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name

# Bump when the layout of the channel changes, so that cached channels are rebuilt.
FORMAT = 3
# What the recipes' host environments need besides the run dependencies.
HOST_TOOLS = ("pip", "hatchling", "setuptools")

README = """\
BOOTSTRAP CHANNEL OF THE OFFLINE CI HARNESS -- NOT A RELEASE CHANNEL.

Made by ci/conda_build.py on {host} for Python {python}. Never upload or install from it
anywhere else.

* python / python_abi: a venv-style prefix of the local CPython ({executable}); it only
  works on this machine.
* everything else: PyPI wheels converted with whl2conda; the dependency metadata is the
  wheels', not conda-forge's (no libgcc, openmp or BLAS packages, other build strings).

Building and testing our recipes against it proves that the recipes, the package metadata
and the pins between our packages are consistent. It does NOT prove that the environment
solves on conda-forge: only the release workflow (GitHub Actions) checks that.

Wheels ({count}):
{wheels}
"""


class BootstrapError(Exception):
    """The bootstrap channel cannot be built (the message says which package and why)."""


def _requirement_applies(req: Requirement, env: dict[str, str]) -> bool:
    return req.marker is None or req.marker.evaluate({**env, "extra": ""})


def wheel_closure(roots: Iterable[Requirement]) -> dict[str, str]:
    """``{canonical name: version specifier}`` of the wheels needed for ``roots``.

    A root installed in the running interpreter's environment (the CI virtualenv, where
    ``make venv`` installed every package's dependencies) is pinned at its installed version
    (``==x.y``) with all its dependencies. A root whose environment marker excludes this
    interpreter (``tomli; python_version < "3.11"``) and that is not installed keeps its own
    specifier: the noarch recipes still list it, so the channel must hold it.
    """
    env = default_environment()
    found: dict[str, str] = {}
    todo = [(r, "the monorepo") for r in roots]
    while todo:
        req, wanted_by = todo.pop()
        name = canonicalize_name(req.name)
        if name in found:
            continue
        try:
            dist = md.distribution(name)
        except md.PackageNotFoundError:
            if not _requirement_applies(req, env):
                found[name] = str(req.specifier)
                continue
            raise BootstrapError(
                f"{name} (required by {wanted_by}) is not installed in {sys.prefix}: run 'make venv'"
            ) from None
        found[name] = f"=={dist.version}"
        for text in dist.requires or []:
            dep = Requirement(text)
            if _requirement_applies(dep, env):
                todo.append((dep, name))
    return dict(sorted(found.items()))


def required_wheels(root: Path) -> dict[str, str]:
    """The wheel closure of every external run dependency of the packages plus the host tools."""
    pkgs = monorepo.discover(root)
    internal = {canonicalize_name(p.name) for p in pkgs}
    roots = [Requirement(t) for t in HOST_TOOLS]
    for pkg in pkgs:
        roots += [r for r in pkg.requirements() if canonicalize_name(r.name) not in internal]
    return wheel_closure(roots)


def cache_key(wheels: dict[str, str]) -> str:
    """Key of a bootstrap channel: the wheel list, the interpreter and the channel format."""
    text = json.dumps(
        {"format": FORMAT, "python": sys.version, "executable": _python_executable(), "wheels": wheels},
        sort_keys=True,
    )
    return hashlib.sha256(text.encode()).hexdigest()


def _python_executable() -> str:
    return os.path.realpath(getattr(sys, "_base_executable", sys.executable))


def _run(cmd: list[str], what: str) -> None:
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        tail = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-15:])
        raise BootstrapError(f"{what} failed (exit {proc.returncode}): {' '.join(cmd)}\n{tail}")


def download_wheels(wheels: dict[str, str], dest: Path) -> list[Path]:
    """Download (or take from pip's cache) one wheel per ``name<specifier>`` into ``dest``."""
    dest.mkdir(parents=True, exist_ok=True)
    pins = [f"{n}{spec}" for n, spec in wheels.items()]
    cmd = [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--only-binary=:all:"]
    _run([*cmd, "-d", str(dest), *pins], "pip download of the bootstrap wheels")
    by_name: dict[str, Path] = {}
    for whl in sorted(dest.glob("*.whl")):
        name, version = whl.name.split("-")[:2]
        spec = wheels.get(canonicalize_name(name))
        if spec is not None and SpecifierSet(spec).contains(version, prereleases=True):
            by_name[canonicalize_name(name)] = whl
    missing = sorted(set(wheels) - set(by_name))
    if missing:
        raise BootstrapError(f"pip download left no wheel in {dest} for: {', '.join(missing)}")
    return [by_name[n] for n in wheels]


def _is_pure(wheel: Path) -> bool:
    return wheel.name.endswith("-none-any.whl")


def dependency_renames(wheels: dict[str, str]) -> dict[str, str]:
    """``-R`` renames making whl2conda's dependency names agree with our conda names.

    whl2conda renames dependencies with its own PyPI -> conda table; the packages of the
    bootstrap channel are named with :func:`packages.conda_name` (the names our recipes use),
    so wherever the two tables disagree for a package of the channel, ours wins.
    """
    from whl2conda.api.stdrename import load_std_renames

    std = load_std_renames()
    return {n: _channel_name(n) for n in wheels if std.get(n, n) != _channel_name(n)}


def _channel_name(pypi_name: str) -> str:
    """Name of the converted package: our conda name, as whl2conda normalizes it (``_`` -> ``-``)."""
    return re.sub(r"[-_.]+", "-", monorepo.conda_name(pypi_name)).lower()


def compatible_release_fixes(wheel: Path) -> list[str]:
    """whl2conda options replacing the dependencies of ``wheel`` that use ``~=``.

    whl2conda 26.7 turns ``mdurl~=0.1`` into the unsatisfiable ``mdurl >=0.1,==0``; conda
    match specs understand ``~=`` themselves, so those dependencies are dropped (``-D``) and
    added back verbatim (``-A``).
    """
    with zipfile.ZipFile(wheel) as zf:
        meta_name = next((n for n in zf.namelist() if n.endswith(".dist-info/METADATA")), None)
        if meta_name is None:
            raise BootstrapError(f"{wheel}: no .dist-info/METADATA in the wheel")
        metadata = email.parser.Parser().parsestr(zf.read(meta_name).decode("utf-8"))
    env = default_environment()
    options: list[str] = []
    for text in metadata.get_all("Requires-Dist") or []:
        req = Requirement(text)
        if _requirement_applies(req, env) and any(s.operator == "~=" for s in req.specifier):
            spec = ",".join(sorted(str(s) for s in req.specifier))
            options += ["-D", req.name, "-A", f"{_channel_name(req.name)} {spec}"]
    return options


def convert_wheel(wheel: Path, channel: Path, renames: dict[str, str]) -> Path:
    """Convert one wheel to a conda package in ``channel/<subdir>`` with whl2conda (tar.bz2: fast)."""
    subdir = channel / ("noarch" if _is_pure(wheel) else _conda_subdir())
    subdir.mkdir(parents=True, exist_ok=True)
    name = canonicalize_name(wheel.name.split("-")[0])
    cmd = [str(Path(sys.executable).with_name("whl2conda")), "convert", str(wheel), "--out-dir", str(subdir)]
    cmd += ["--batch", "--yes", "--overwrite", "--format", "tar.bz2", "--no-update-stdrenames"]
    # -K keeps the wheel's METADATA as it is: whl2conda's rewrite of Requires-Dist folds long
    # markers onto two lines (astropy 8), which pip then cannot parse and `pip check` fails.
    cmd += ["--name", _channel_name(name), "--keep-pip-dependencies"]
    for pypi, conda in sorted(renames.items()):
        cmd += ["-R", pypi, conda]
    cmd += compatible_release_fixes(wheel)
    if not _is_pure(wheel):
        cmd.append("--allow-impure")
    _run(cmd, f"whl2conda conversion of {wheel.name}")
    made = sorted(subdir.glob(f"{_channel_name(name)}-*.tar.bz2"))
    if not made:
        raise BootstrapError(f"whl2conda wrote no {_channel_name(name)} package into {subdir}")
    return made[-1]


def _conda_subdir() -> str:
    machine = os.uname().machine
    return {"x86_64": "linux-64", "aarch64": "linux-aarch64"}.get(machine, f"linux-{machine}")


def make_python_packages(channel: Path) -> None:
    """Pack ``python`` and ``python_abi`` as a venv-style prefix of the running CPython."""
    import rattler_build as rb

    v = sys.version_info
    short = f"{v.major}.{v.minor}"
    version = f"{v.major}.{v.minor}.{v.micro}"
    subdir = channel / _conda_subdir()
    subdir.mkdir(parents=True, exist_ok=True)
    exe = _python_executable()
    now = datetime.datetime.now(datetime.timezone.utc)
    with tempfile.TemporaryDirectory() as tmp:
        stage = Path(tmp) / "python"
        bindir = stage / "bin"
        bindir.mkdir(parents=True)
        shutil.copy2(exe, bindir / f"python{short}")
        (bindir / "python3").symlink_to(f"python{short}")
        (bindir / "python").symlink_to(f"python{short}")
        (stage / "pyvenv.cfg").write_text(
            f"home = {Path(exe).parent}\ninclude-system-site-packages = false\nversion = {version}\n"
        )
        site = stage / "lib" / f"python{short}" / "site-packages"
        site.mkdir(parents=True)
        (site / "README.bootstrap-python.txt").write_text(
            f"CI harness python: a venv over {exe}; not a conda-forge python.\n"
        )
        abi_tag = f"cp{v.major}{v.minor}"
        rb.assemble_package(
            "python",
            version,
            _conda_subdir(),
            f"0_bootstrap_{abi_tag}",
            subdir,
            files_dir=stage,
            summary="CI harness python (venv over the local CPython); NOT a release package",
            depends=[f"python_abi {short}.* *_{abi_tag}"],
            archive_type=rb.ArchiveType.TarBz2,
            detect_prefix=False,
            timestamp=now,
        )
        empty = Path(tmp) / "empty"
        empty.mkdir()
        rb.assemble_package(
            "python_abi",
            short,
            _conda_subdir(),
            f"8_{abi_tag}",
            subdir,
            files_dir=empty,
            summary="CI harness python_abi; NOT a release package",
            constrains=[f"python {short}.* *_{abi_tag}"],
            archive_type=rb.ArchiveType.TarBz2,
            timestamp=now,
        )


def index_channel(channel: Path) -> None:
    """Write ``repodata.json`` for every subdir of ``channel`` with py-rattler's ``index_fs``."""
    from rattler.index import index_fs

    (channel / "noarch").mkdir(parents=True, exist_ok=True)
    asyncio.run(index_fs(channel, force=True))


def verify_channel(channel: Path, wheels: dict[str, str]) -> None:
    """Solve every package of the channel together, so a broken converted dependency shows here."""
    import rattler

    specs = ["python", *(f"{_channel_name(n)} {spec}".strip() for n, spec in wheels.items())]
    try:
        asyncio.run(
            rattler.solve(
                [channel.resolve().as_uri()],
                specs,
                platforms=[_conda_subdir(), "noarch"],
                virtual_packages=rattler.VirtualPackage.detect(),
            )
        )
    except Exception as exc:
        raise BootstrapError(f"{channel}: the bootstrap packages do not install together: {exc}") from exc


def ensure_bootstrap_channel(root: Path, channel: Path, wheel_dir: Path, force: bool = False) -> bool:
    """Make the bootstrap channel unless a cached one has the same key; True when it was (re)built."""
    wheels = required_wheels(root)
    key = cache_key(wheels)
    key_file = channel / "CACHE_KEY"
    if not force and key_file.is_file() and key_file.read_text().strip() == key:
        if (channel / "noarch" / "repodata.json").is_file():
            return False
    if channel.exists():
        shutil.rmtree(channel)
    channel.mkdir(parents=True)
    files = download_wheels(wheels, wheel_dir)
    # Slow impure wheels first so the two workers stay busy until the end.
    files.sort(key=lambda w: (_is_pure(w), -w.stat().st_size))
    renames = dependency_renames(wheels)
    with ThreadPoolExecutor(max_workers=max(1, min(4, os.cpu_count() or 1))) as pool:
        list(pool.map(lambda w: convert_wheel(w, channel, renames), files))
    make_python_packages(channel)
    index_channel(channel)
    verify_channel(channel, wheels)
    (channel / "README.txt").write_text(
        README.format(
            host=os.uname().nodename,
            python=sys.version.split()[0],
            executable=_python_executable(),
            count=len(wheels),
            wheels="\n".join(f"  {n}{spec}" for n, spec in wheels.items()),
        )
    )
    key_file.write_text(key + "\n")
    return True


def platform_subdir() -> str:
    """The conda subdir of this machine (``linux-64`` on x86_64)."""
    return _conda_subdir()


__all__ = [
    "BootstrapError",
    "ensure_bootstrap_channel",
    "index_channel",
    "platform_subdir",
    "required_wheels",
]
