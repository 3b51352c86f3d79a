"""The farm environment (``envs/farm.yml``) and its explicit linux-64 lock file.

The farm never solves on a node: it creates its environment from an explicit lock file
(``conda create --file envs/farm-linux-64.lock``), the way rubin-env pins its farm
environments. This script resolves ``envs/farm.yml`` for linux-64 with the rattler solver
and writes that file (``@EXPLICIT``, one ``<url>#<md5>`` line per package, topologically
ordered), and installs a prefix from such a file *without solving*.

Usage::

    python ci/farm_lock.py                    # resolve against the channels of envs/farm.yml
    python ci/farm_lock.py --offline          # against `make channel`'s local channels instead
    python ci/farm_lock.py --check            # the lock names our packages at their current versions

conda-forge cannot be reached from the CI machines: there, only ``--offline`` works. It
resolves against the local channel of our packages and the bootstrap channel of the CI
harness (``ci/README.md``); the lock file then says so in its header and its ``file://``
URLs only exist on the machine that made it: a test artifact, not a farm deployment.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import monorepo
import yaml

FARM_ENV = Path("envs") / "farm.yml"
LOCK = Path("envs") / "farm-linux-64.lock"
PLATFORM = "linux-64"
# The oldest system the farm image and hosts may have: lock for it, not for this machine's
# CPU and kernel (generic x86_64, glibc 2.28 = RHEL 8 / the conda-forge baseline).
FARM_VIRTUAL_PACKAGES = (
    ("__unix", "0", "0"),
    ("__linux", "4.18", "0"),
    ("__glibc", "2.28", "0"),
    ("__archspec", "1", "x86_64"),
)
REGENERATE = ".venv/bin/python ci/farm_lock.py"


class LockError(Exception):
    """The farm environment cannot be read, resolved or installed (the message says why)."""


@dataclass(frozen=True)
class LockedPackage:
    """One line of an explicit lock file."""

    url: str
    md5: str

    @property
    def file_name(self) -> str:
        """The package archive's file name (``<name>-<version>-<build>.conda``)."""
        return self.url.rsplit("/", 1)[-1]

    @property
    def name_version(self) -> tuple[str, str]:
        """``(name, version)`` parsed from the file name (name may contain ``-``)."""
        stem = self.file_name.removesuffix(".conda").removesuffix(".tar.bz2")
        name, version, _build = stem.rsplit("-", 2)
        return name, version


def read_environment(path: Path) -> tuple[list[str], list[str]]:
    """``(channels, specs)`` of a conda environment file (its ``pip:`` list is refused)."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise LockError(f"{path}: cannot read: {exc}") from exc
    if not isinstance(data, dict) or not isinstance(data.get("dependencies"), list):
        raise LockError(f"{path}: no 'dependencies' list")
    specs = []
    for i, dep in enumerate(data["dependencies"]):
        if not isinstance(dep, str):
            raise LockError(
                f"{path}: dependencies[{i}] {dep!r}: the farm environment takes conda packages only"
            )
        specs.append(dep)
    channels = [c for c in data.get("channels") or [] if c != "nodefaults"]
    return channels, specs


def farm_virtual_packages() -> list:
    """The virtual packages of the oldest farm host (:data:`FARM_VIRTUAL_PACKAGES`)."""
    import rattler

    return [
        rattler.GenericVirtualPackage(rattler.PackageName(n), rattler.Version(v), rattler.BuildString(b))
        for n, v, b in FARM_VIRTUAL_PACKAGES
    ]


def resolve(specs: Sequence[str], channels: Sequence[str]) -> list:
    """Solve ``specs`` for linux-64 against ``channels``; the records, in installation order."""
    import rattler

    try:
        records = asyncio.run(
            rattler.solve(
                list(channels),
                list(specs),
                platforms=[PLATFORM, "noarch"],
                virtual_packages=farm_virtual_packages(),
            )
        )
    except Exception as exc:  # the gateway and the solver raise unrelated exception types
        raise LockError(f"cannot resolve {list(specs)} against {list(channels)}: {exc}") from exc
    # sort_topologically gives PackageRecords: keep the RepoDataRecords (URLs), in that order
    by_name = {str(r.name.normalized): r for r in records}
    return [by_name[str(r.name.normalized)] for r in rattler.PackageRecord.sort_topologically(records)]


def explicit_text(records: Sequence, header: Sequence[str]) -> str:
    """The explicit lock file (conda's ``@EXPLICIT`` format) of ``records``."""
    lines = [f"# {h}" if h else "#" for h in header]
    lines += [f"# platform: {PLATFORM}", "@EXPLICIT"]
    lines += [f"{r.url}#{_hex(r.md5)}" for r in records]
    return "\n".join(lines) + "\n"


def _hex(digest: object) -> str:
    return bytes(digest).hex() if isinstance(digest, (bytes, bytearray, list)) else str(digest)


def read_lock(path: Path) -> list[LockedPackage]:
    """The packages of an explicit lock file, in order; one clear line on a malformed file."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise LockError(f"{path}: cannot read: {exc}") from exc
    packages: list[LockedPackage] = []
    explicit = False
    offset = 0
    for number, line in enumerate(text.splitlines(True), start=1):
        here, offset = offset, offset + len(line.encode())
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if line == "@EXPLICIT":
            explicit = True
            continue
        if not explicit:
            raise LockError(f"{path}: line {number} (byte {here}): package line before '@EXPLICIT'")
        url, sep, md5 = line.partition("#")
        if not sep or len(md5) != 32 or not url.endswith((".conda", ".tar.bz2")):
            raise LockError(
                f"{path}: line {number} (byte {here}): expected '<url>.conda#<md5>', got {line!r}"
            )
        packages.append(LockedPackage(url, md5))
    if not explicit:
        raise LockError(f"{path}: no '@EXPLICIT' line: not an explicit lock file")
    return packages


def check_lock(root: Path, lock: Path | None = None) -> list[str]:
    """Problems of the committed lock: malformed, or our packages not at their current versions."""
    lock = lock or root / LOCK
    where = lock.relative_to(root) if lock.is_relative_to(root) else lock
    try:
        packages = read_lock(lock)
    except LockError as exc:
        return [str(exc).replace(str(lock), str(where), 1)]
    locked = dict(p.name_version for p in packages)
    problems = []
    for pkg in monorepo.discover(root):
        if locked.get(pkg.name) != pkg.version:
            problems.append(
                f"{where}: locks {pkg.name} {locked.get(pkg.name, '(absent)')}, current version is "
                f"{pkg.version}: regenerate it with '{REGENERATE}' (ci/README.md)"
            )
    return problems


def _channel_records(channel_dirs: Sequence[Path]) -> dict[str, object]:
    """Every record of the local channels, by URL."""
    import rattler

    found: dict[str, object] = {}
    for channel in channel_dirs:
        for repodata in sorted(channel.glob("*/repodata.json")):
            chan = rattler.Channel(channel.resolve().as_uri())
            for record in rattler.RepoData.from_path(repodata).into_repo_data(chan):
                found[str(record.url)] = record
    return found


def install_from_lock(lock: Path, prefix: Path, channel_dirs: Sequence[Path]) -> list:
    """Install exactly the packages of ``lock`` into a fresh ``prefix``, with no solve.

    Every package must come from one of the local ``channel_dirs`` and its archive's md5 must
    equal the lock's. Returns the installed records.
    """
    import rattler

    by_url = _channel_records(channel_dirs)
    records = []
    for pkg in read_lock(lock):
        record = by_url.get(pkg.url)
        if record is None:
            raise LockError(f"{lock}: {pkg.url} is in none of the channels {[str(c) for c in channel_dirs]}")
        archive = Path(pkg.url.removeprefix("file://"))
        actual = hashlib.md5(archive.read_bytes()).hexdigest()
        if actual != pkg.md5:
            raise LockError(f"{lock}: {pkg.file_name}: md5 {actual} != {pkg.md5} in the lock (stale lock)")
        records.append(record)
    if prefix.exists():
        import shutil

        shutil.rmtree(prefix)
    cache_dir = os.environ.get("RATTLER_CACHE_DIR")
    try:
        asyncio.run(
            rattler.install(
                records,
                prefix,
                show_progress=False,
                cache_dir=Path(cache_dir) / "pkgs" if cache_dir else None,
            )
        )
    except Exception as exc:
        raise LockError(f"cannot install {lock} into {prefix}: {exc}") from exc
    return records


def offline_channels(cache: Path) -> list[Path]:
    """The local channels ``make channel`` leaves: our packages, then the bootstrap channel."""
    return [cache / "channel", cache / "bootstrap-channel"]


def default_cache() -> Path:
    """``$FERMI_CI_CACHE``, else ``~/.cache/fermi-ground-ci`` (as ``ci/conda_build.py``)."""
    return Path(os.environ.get("FERMI_CI_CACHE") or Path.home() / ".cache" / "fermi-ground-ci").resolve()


def write_lock(root: Path, output: Path, offline: bool, cache: Path) -> list:
    """Resolve ``envs/farm.yml`` and write the explicit lock to ``output``; return the records."""
    declared, specs = read_environment(root / FARM_ENV)
    if offline:
        missing = [c for c in offline_channels(cache) if not (c / "noarch" / "repodata.json").is_file()]
        if missing:
            raise LockError(f"no local channel at {missing[0]}: run 'make channel' first")
        channels = [c.as_uri() for c in offline_channels(cache)]
        note = [
            "RESOLVED OFFLINE against the local CI channels (conda-forge cannot be reached here):",
            *(f"  {c}" for c in channels),
            "The file:// URLs exist only on the machine that made them: a test artifact of",
            "`make channel`, NOT a farm deployment. Regenerate against the real channels with",
            f"  {REGENERATE}",
        ]
    else:
        channels = declared
        note = ["Resolved against the channels of envs/farm.yml:", *(f"  {c}" for c in channels)]
    records = resolve(specs, channels)
    header = [
        f"Explicit {PLATFORM} lock file of {FARM_ENV} (fermi-farm): install with",
        f"  conda create -n fermi-farm --file {LOCK}",
        f"Generated by: {REGENERATE}{' --offline' if offline else ''}  -- do not edit by hand.",
        f"Virtual packages assumed: {', '.join(f'{n}={v}={b}' for n, v, b in FARM_VIRTUAL_PACKAGES)}",
        *note,
        f"Specs: {', '.join(specs)}",
        f"{len(records)} packages.",
    ]
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(explicit_text(records, header), encoding="utf-8")
    return records


def main(argv: Sequence[str] | None = None) -> int:
    """Write (or ``--check``) the farm lock file; return 0 on success, 1 with one line per problem."""
    parser = argparse.ArgumentParser(prog="ci/farm_lock.py", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--root", type=Path, default=monorepo.ROOT, help="monorepo root (default: %(default)s)"
    )
    parser.add_argument("--output", type=Path, help=f"lock file to write (default: <root>/{LOCK})")
    parser.add_argument(
        "--offline", action="store_true", help="resolve against the local channels of `make channel`"
    )
    parser.add_argument(
        "--cache", type=Path, help="CI cache of the local channels (default: $FERMI_CI_CACHE)"
    )
    parser.add_argument("--check", action="store_true", help="only check the committed lock file")
    args = parser.parse_args(argv)
    root = args.root.resolve()
    if args.check:
        problems = check_lock(root, args.output)
        for p in problems:
            print(f"ERROR: {p}", file=sys.stderr)
        if not problems:
            print(f"OK: {args.output or LOCK} locks every package at its current version")
        return 1 if problems else 0
    output = args.output or root / LOCK
    try:
        records = write_lock(root, output, args.offline, (args.cache or default_cache()).resolve())
    except LockError as exc:
        print(f"ERROR: {exc}", file=sys.stderr)
        return 1
    print(f"wrote {output} ({len(records)} packages, {PLATFORM}{', offline' if args.offline else ''})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
