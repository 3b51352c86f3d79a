"""Build the BOOTSTRAP conda channel of the offline CI harness (not a release channel).

conda-forge cannot be reached from the CI machines, so the recipes are built and tested
against a local channel holding what they need:

* ``python`` and ``python_abi``, packed with ``rattler_build.assemble_package`` from a
  relocatable copy of the local CPython (executable, ``libpython``, standard library, run
  paths rewritten to ``$ORIGIN``): it works in any prefix, but its extension modules use
  this Debian system's shared libraries (libssl, libsqlite3, libffi, ...);
* every other package (pip, hatchling, setuptools, the run dependencies of the packages and
  the external packages of their ``farm`` extras, with all their own dependencies, read from
  the pyprojects and from the installed distributions of the CI virtualenv), converted from
  PyPI wheels with whl2conda.

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
FORMAT = 5
# What the recipes' host environments need besides the run dependencies.
HOST_TOOLS = ("pip", "hatchling", "setuptools")
# Optional-dependency lists of the packages that the farm environment installs (envs/farm.yml):
# their external packages (parsl and its dependencies) are in the channel too.
FARM_EXTRAS = ("farm",)

README = """\
BOOTSTRAP CHANNEL OF THE OFFLINE CI HARNESS -- NOT A RELEASE CHANNEL.

Made by ci/conda_build.py on {host} for Python {python}. Never upload or install from it
anywhere else.

* python / python_abi: a relocatable copy of the local CPython ({executable}); its
  extension modules use this Debian system's shared libraries.
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
        roots += [r for r in farm_requirements(pkg.path) if canonicalize_name(r.name) not in internal]
    return wheel_closure(roots)


def farm_requirements(package_dir: Path) -> list[Requirement]:
    """The requirements of the :data:`FARM_EXTRAS` optional-dependency lists of one package."""
    data = monorepo.tomllib.loads((package_dir / "pyproject.toml").read_text(encoding="utf-8"))
    extras = data.get("project", {}).get("optional-dependencies") or {}
    return [Requirement(d) for e in FARM_EXTRAS for d in extras.get(e, [])]


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
    so wherever the two tables disagree for a package of the channel, ours wins. A name that
    whl2conda's table lacks is kept *as the wheel's metadata spells it* (``requests`` asks for
    ``charset_normalizer``, the package is ``charset-normalizer``): every such name with a
    ``-`` gets a rename too (the pattern is matched against the normalized name).
    """
    from whl2conda.api.stdrename import load_std_renames

    std = load_std_renames()
    return {
        n: _channel_name(n)
        for n in wheels
        if std.get(n, n) != _channel_name(n) or (n not in std and "-" in n)
    }


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


# Parts of the local CPython installation left out of the python package: the test suite,
# the GUI stack (Tk is not on the farm), and the static library.
_STDLIB_SKIP = ("site-packages", "test", "idlelib", "tkinter", "turtledemo", "__phello__")
_FILE_SKIP = ("libpython{short}.a", "_tkinter.cpython-", "_test", "xxlimited", "_xxtestfuzz")


def relocate_runpath(elf: Path, old: str, new: str) -> bool:
    """Rewrite the ``DT_RUNPATH`` string ``old`` of ``elf`` in place to ``new`` (no longer than ``old``).

    The string is replaced inside ``.dynstr`` and padded with NUL bytes, the way conda's binary
    prefix replacement works, so no tool is needed. Returns False when ``elf`` does not hold
    ``old`` (nothing to do); raises :class:`BootstrapError` when it holds it more than once.
    """
    data = elf.read_bytes()
    needle = old.encode() + b"\0"
    count = data.count(needle)
    if count == 0:
        return False
    if count > 1 or len(new) > len(old):
        raise BootstrapError(f"{elf}: cannot relocate the run path {old!r} ({count} copies) to {new!r}")
    elf.write_bytes(data.replace(needle, new.encode().ljust(len(needle), b"\0")))
    return True


def stage_relocatable_python(stage: Path) -> None:
    """Copy the running CPython installation (executable, libpython, stdlib) into ``stage``.

    The copy finds its standard library relative to its executable (CPython's ``getpath``
    landmark search) and its ``libpython`` through ``$ORIGIN`` run paths, so it works in any
    prefix, e.g. ``/opt/fermi`` of the farm image, like conda-forge's python. Its extension
    modules still need the system's shared libraries (libssl, libsqlite3, libffi, ...): the
    image takes them from Debian (``ci/image.py``).
    """
    v = sys.version_info
    short = f"{v.major}.{v.minor}"
    base = Path(sys.base_prefix)
    libdir = base / "lib"
    stdlib = libdir / f"python{short}"
    if not (stdlib / "os.py").is_file():
        raise BootstrapError(f"{stdlib}: no standard library next to {_python_executable()}")
    skip_files = tuple(s.format(short=short) for s in _FILE_SKIP)
    (stage / "bin").mkdir(parents=True)
    shutil.copy2(_python_executable(), stage / "bin" / f"python{short}")
    (stage / "bin" / "python3").symlink_to(f"python{short}")
    (stage / "bin" / "python").symlink_to(f"python{short}")
    (stage / "lib").mkdir()
    for lib in sorted(libdir.glob(f"libpython{v.major}*.so*")):
        if lib.is_symlink():
            (stage / "lib" / lib.name).symlink_to(os.readlink(lib))
        else:
            shutil.copy2(lib, stage / "lib" / lib.name)
    shutil.copytree(
        stdlib,
        stage / "lib" / f"python{short}",
        symlinks=True,
        ignore=lambda d, names: [
            n
            for n in names
            if (Path(d) == stdlib and n in _STDLIB_SKIP) or n.startswith(skip_files) or n.endswith(skip_files)
        ],
    )
    (stage / "lib" / f"python{short}" / "site-packages").mkdir()
    _compile_stdlib(stage / "lib" / f"python{short}")
    old = str(libdir)
    relocate_runpath(stage / "bin" / f"python{short}", old, "$ORIGIN/../lib")
    for lib in (stage / "lib").glob("libpython*.so*"):
        if not lib.is_symlink():
            relocate_runpath(lib, old, "$ORIGIN")
    for ext in (stage / "lib" / f"python{short}" / "lib-dynload").glob("*.so"):
        relocate_runpath(ext, old, "$ORIGIN/../..")


def _compile_stdlib(stdlib: Path) -> None:
    """Byte-compile ``stdlib`` with hash-checked ``.pyc`` files, replacing the copied ones.

    The copied ``.pyc`` files record their source's mtime, which packing and installing change:
    they would be stale in every prefix, and with ``PYTHONDONTWRITEBYTECODE`` (or a read-only
    image) the standard library would be compiled again at every start. Hash-checked ``.pyc``
    files stay valid wherever the files land.
    """
    for cache in sorted(stdlib.rglob("__pycache__"), reverse=True):
        shutil.rmtree(cache)
    cmd = [sys.executable, "-m", "compileall", "-q", "-j", "0", "--invalidation-mode", "checked-hash"]
    _run(
        [*cmd, "-x", r"lib2to3/tests|bad_coding|badsyntax", str(stdlib)], "byte-compiling the python package"
    )


def make_python_packages(channel: Path) -> None:
    """Pack ``python`` (a relocatable copy of the running CPython) and ``python_abi``."""
    import rattler_build as rb

    v = sys.version_info
    short = f"{v.major}.{v.minor}"
    version = f"{v.major}.{v.minor}.{v.micro}"
    subdir = channel / _conda_subdir()
    subdir.mkdir(parents=True, exist_ok=True)
    now = datetime.datetime.now(datetime.timezone.utc)
    with tempfile.TemporaryDirectory() as tmp:
        stage = Path(tmp) / "python"
        stage_relocatable_python(stage)
        abi_tag = f"cp{v.major}{v.minor}"
        rb.assemble_package(
            "python",
            version,
            _conda_subdir(),
            f"0_bootstrap_{abi_tag}",
            subdir,
            files_dir=stage,
            summary=f"CI harness python: a relocatable copy of {_python_executable()}; NOT a release package",
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
