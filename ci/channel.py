"""``make channel``: the local conda channel of our packages, its farm lock, and a prefix from the lock.

Steps (each timed; the table is printed at the end):

1. reuse ``make conda``'s local channel (``$CACHE/channel``) when it was built from the
   current sources (its ``SOURCE_KEY``), else build it (``ci/conda_build.py`` steps 2-4);
2. check that its repodata is what ``conda index`` writes and ``conda install -c file://...``
   reads (:func:`repodata_problems`), and that the rattler solver resolves ``fermi-ground``
   from it (plus the bootstrap channel, which stands in for conda-forge here);
3. resolve ``envs/farm.yml`` offline into an explicit lock (``$CACHE/farm-linux-64.lock``;
   ``--update-lock`` also rewrites the committed ``envs/farm-linux-64.lock``), and check the
   committed lock names our packages at their current versions;
4. install a fresh prefix (``$CACHE/farm-prefix``) with only the lock's packages, no solve,
   and run ``fermi-latsim demo`` in it; print its summary.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import re
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import bootstrap_channel
import check_recipes
import conda_build
import farm_lock
import monorepo

# Keys conda reads from every repodata entry (conda index writes them all).
_ENTRY_KEYS = ("name", "version", "build", "build_number", "depends", "subdir", "md5", "sha256", "size")


def ensure_channel(root: Path, cache: Path, timer: conda_build.Timer) -> Path:
    """``make conda``'s local channel, rebuilt only when the sources changed since."""
    channel = cache / "channel"
    boot_key = cache / "bootstrap-channel" / "CACHE_KEY"
    wheels = bootstrap_channel.required_wheels(root)
    if (
        conda_build.channel_is_current(root, channel)
        and boot_key.is_file()
        and boot_key.read_text().strip() == bootstrap_channel.cache_key(wheels)
    ):
        with timer.step("local channel") as note:
            note.append("current (built by make conda from these sources)")
            os.environ["RATTLER_CACHE_DIR"] = str(cache / "rattler-cache")
        return channel
    return conda_build.build_channel(root, cache, False, timer)


def repodata_problems(channel: Path) -> list[str]:
    """Differences between ``channel`` and a ``conda index``-compatible channel (empty: compatible).

    Every subdir (``noarch`` always) has a ``repodata.json`` whose ``info.subdir`` names it,
    whose ``packages`` / ``packages.conda`` list exactly the archives present, each entry with
    the keys conda reads and the archive's true size, md5 and sha256.
    """
    problems: list[str] = []
    if not (channel / "noarch" / "repodata.json").is_file():
        problems.append(f"{channel}/noarch/repodata.json: missing (conda requires a noarch subdir)")
    for repodata in sorted(channel.glob("*/repodata.json")):
        subdir = repodata.parent
        try:
            data = json.loads(repodata.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            problems.append(f"{repodata}: cannot read: {exc}")
            continue
        if (data.get("info") or {}).get("subdir") != subdir.name:
            problems.append(f"{repodata}: info.subdir {data.get('info')!r} is not {subdir.name!r}")
        listed = {**data.get("packages", {}), **data.get("packages.conda", {})}
        for fn in sorted(data.get("packages", {})):
            if not fn.endswith(".tar.bz2"):
                problems.append(f"{repodata}: 'packages' lists {fn}, which is not a .tar.bz2")
        for fn in sorted(data.get("packages.conda", {})):
            if not fn.endswith(".conda"):
                problems.append(f"{repodata}: 'packages.conda' lists {fn}, which is not a .conda")
        present = {p.name for p in subdir.iterdir() if p.name.endswith((".conda", ".tar.bz2"))}
        for fn in sorted(present - listed.keys()):
            problems.append(f"{repodata}: {fn} is in the subdir but not in the repodata")
        for fn in sorted(listed.keys() - present):
            problems.append(f"{repodata}: lists {fn}, which is not in the subdir")
        for fn in sorted(present & listed.keys()):
            entry = listed[fn]
            missing = [k for k in _ENTRY_KEYS if k not in entry]
            if missing:
                problems.append(f"{repodata}: {fn}: entry lacks {missing}")
                continue
            blob = (subdir / fn).read_bytes()
            if entry["size"] != len(blob):
                problems.append(f"{repodata}: {fn}: size {entry['size']} != {len(blob)} bytes on disk")
            if entry["md5"] != hashlib.md5(blob).hexdigest():
                problems.append(f"{repodata}: {fn}: md5 differs from the archive's")
            if entry["sha256"] != hashlib.sha256(blob).hexdigest():
                problems.append(f"{repodata}: {fn}: sha256 differs from the archive's")
            if entry["subdir"] != subdir.name:
                problems.append(f"{repodata}: {fn}: subdir {entry['subdir']!r} != {subdir.name!r}")
    return problems


def solver_accepts(channels: Sequence[Path], spec: str) -> int:
    """Resolve ``spec`` from the local ``channels`` with the rattler solver; the number of packages."""
    import rattler

    try:
        records = asyncio.run(
            rattler.solve(
                [c.resolve().as_uri() for c in channels],
                [spec],
                platforms=[bootstrap_channel.platform_subdir(), "noarch"],
                virtual_packages=farm_lock.farm_virtual_packages(),
            )
        )
    except Exception as exc:
        raise conda_build.CondaBuildError(
            f"the rattler solver rejects {spec!r} from {channels}: {exc}"
        ) from exc
    return len(records)


def demo_command(fermi_latsim: str, home: str, hours: str = "0.05") -> list[str]:
    """The argv of a short ``fermi-latsim demo`` (``hours`` of simulated data into ``home``).

    The light profile: this checks that an installed prefix runs every stage, and a fresh prefix
    compiles its kernels first (the flight-profile hour is ``make demo``'s job).
    """
    return [fermi_latsim, "demo", "--home", home, "--hours", hours, "--profile", "light"]


def demo_summary(cmd: Sequence[str]) -> str:
    """Run a ``fermi-latsim demo`` command and return its summary (every event accounted for)."""
    proc = subprocess.run(list(cmd), capture_output=True, text=True, check=False, timeout=900)
    out = proc.stdout + proc.stderr
    if proc.returncode != 0:
        raise conda_build.CondaBuildError(f"{' '.join(cmd)} exited {proc.returncode}:\n{out}")
    events_in = re.search(r"events in  : (\d+)", out)
    events_out = re.search(r"events out : (\d+)", out)
    if not (events_in and events_out) or events_in.group(1) != events_out.group(1):
        raise conda_build.CondaBuildError(f"{' '.join(cmd)} did not account for every event:\n{out}")
    return proc.stdout.rstrip()


def run(root: Path, cache: Path, update_lock: bool, timer: conda_build.Timer) -> None:
    """All the steps; raises on the first failure."""
    channel = ensure_channel(root, cache, timer)
    boot = cache / "bootstrap-channel"
    meta = check_recipes.render_recipe(
        root / "recipes" / check_recipes.METAPACKAGE / "recipe.yaml", check_recipes.default_variants(root)
    )["package"]
    with timer.step("repodata (conda index layout) + rattler solve") as note:
        problems = repodata_problems(channel)
        if problems:
            raise conda_build.CondaBuildError(
                "the channel is not conda-index compatible:\n  - " + "\n  - ".join(problems)
            )
        n = solver_accepts([channel, boot], f"{meta['name']} =={meta['version']}")
        files = sum(1 for _ in channel.glob("*/*.conda"))
        note.append(f"{files} packages in {channel}; {meta['name']} solves to {n} packages")
    lock = cache / "farm-linux-64.lock"
    with timer.step("farm lock (offline)") as note:
        try:
            records = farm_lock.write_lock(root, lock, offline=True, cache=cache)
            if update_lock:
                farm_lock.write_lock(root, root / farm_lock.LOCK, offline=True, cache=cache)
        except farm_lock.LockError as exc:
            raise conda_build.CondaBuildError(str(exc)) from exc
        problems = farm_lock.check_lock(root)
        if problems:
            raise conda_build.CondaBuildError("\n".join(problems))
        note.append(f"{len(records)} packages; {farm_lock.LOCK} current")
    prefix = cache / "farm-prefix"
    with timer.step("install the lock into a fresh prefix (no solve)") as note:
        try:
            installed = farm_lock.install_from_lock(lock, prefix, farm_lock.offline_channels(cache))
        except farm_lock.LockError as exc:
            raise conda_build.CondaBuildError(str(exc)) from exc
        note.append(f"{len(installed)} packages in {prefix}")
    with timer.step("fermi-latsim demo in the prefix") as note:
        with tempfile.TemporaryDirectory(prefix="fermi-channel-demo-") as home:
            summary = demo_summary(demo_command(str(prefix / "bin" / "fermi-latsim"), home))
        print(summary)
        note.append("every event in the FT1 files")


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``make channel``; print the timing table; return 0 on success, 1 on failure."""
    parser = argparse.ArgumentParser(prog="ci/channel.py", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--root", type=Path, default=monorepo.ROOT, help="monorepo root (default: %(default)s)"
    )
    parser.add_argument(
        "--cache", type=Path, help="CI cache (default: $FERMI_CI_CACHE, else ~/.cache/fermi-ground-ci)"
    )
    parser.add_argument(
        "--update-lock",
        action="store_true",
        help=f"also rewrite the committed {farm_lock.LOCK} (offline resolution)",
    )
    args = parser.parse_args(argv)
    root = args.root.resolve()
    cache = (args.cache or farm_lock.default_cache()).resolve()
    timer = conda_build.Timer()
    try:
        run(root, cache, args.update_lock, timer)
    except (conda_build.CondaBuildError, monorepo.MonorepoError, ValueError) as exc:
        print(f"\nERROR: {exc}", file=sys.stderr)
        print("\n" + timer.table())
        return 1
    print("\n" + timer.table())
    print(
        f"\nOK: local channel {cache / 'channel'} (use: conda install -c file://{cache / 'channel'} "
        f"-c conda-forge fermi-ground); farm lock {cache / 'farm-linux-64.lock'}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
