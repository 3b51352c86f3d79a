"""``make image``: the farm container image, built offline from the local conda channel.

Steps (each timed; the table and the sizes are printed at the end):

1. the local channel of our packages (``make conda``'s, reused while the sources are
   unchanged, see ``ci/channel.py``) and the farm lock resolved from it (``envs/farm.yml``);
2. install exactly the lock's packages (rattler, no solve) into a staging folder, with
   ``/opt/fermi`` patched into every file as its prefix;
3. find the system libraries those binaries need that the prefix does not hold (``ldd``)
   and the Debian packages providing them (``dpkg -S``; this builder is Debian bookworm too);
4. ``mmdebstrap --variant=minbase`` a Debian bookworm root file system from the Debian
   registry with those packages, and move the prefix to ``/opt/fermi`` in it;
5. check it with ``chroot``: ``gtselect --help`` and ``fermi-latsim demo`` (its summary is
   printed), and that no library is missing inside;
6. write it as an OCI image archive (two gzip layers, Debian base and ``/opt/fermi``,
   compressed in parallel) and an Apptainer definition file that builds the same image from
   it (``apptainer build fermi-ground.sif fermi-ground.def``), then report the sizes.

Needs root (``mmdebstrap --mode=root``, ``chroot``) and ``mmdebstrap`` (``apt-get install
mmdebstrap``). The python in the image is the bootstrap channel's relocatable copy of the
builder's CPython (conda-forge's python where conda-forge can be reached): its extension
modules use the Debian libraries found in step 3.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import gzip
import hashlib
import io
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tarfile
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import channel as local_channel
import check_recipes
import conda_build
import farm_lock
import monorepo

PREFIX = "/opt/fermi"
SUITE = "bookworm"
MIRRORS = (
    "deb http://deb.debian.org/debian bookworm main",
    "deb http://deb.debian.org/debian bookworm-updates main",
    "deb http://deb.debian.org/debian-security bookworm-security main",
)
# Documentation is not needed on the farm; the copyright files stay (licences).
DPKG_OPTIONS = (
    "path-exclude=/usr/share/man/*",
    "path-exclude=/usr/share/info/*",
    "path-exclude=/usr/share/locale/*",
    "path-exclude=/usr/share/doc/*",
    "path-include=/usr/share/doc/*/copyright",
)
IMAGE_ENV = {
    "PATH": f"{PREFIX}/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    "LANG": "C.UTF-8",
    "HOME": "/root",
}
SIZE_AIM = 1 << 30  # the seeds' "~1 GB images best"
_ELF = b"\x7fELF"
_LDD_LINE = re.compile(r"^\s*(\S+)\s+=>\s+(not found|\S+)")

APPTAINER_DEF = """\
# Apptainer (Singularity) image of the Fermi LAT ground software {version}, built from the OCI
# archive beside this file (ci/image.py writes both):
#
#   apptainer build fermi-ground.sif fermi-ground.def      (in this folder)
#   apptainer exec fermi-ground.sif fermi-l1 --version
#
# On the farm: command_prefix = "apptainer exec --bind /sdf /path/to/fermi-ground.sif"
Bootstrap: oci-archive
From: {archive}

%environment
    export PATH={path}
    export LANG=C.UTF-8

%runscript
    exec "$@"

%test
    gtselect --help >/dev/null
    fermi-latsim --version

%labels
    org.opencontainers.image.title fermi-ground
    org.opencontainers.image.version {version}
    org.opencontainers.image.source {source}
"""


class ImageError(Exception):
    """The image cannot be built or fails its check (the message says which step and why)."""


def _run(cmd: Sequence[str], what: str, timeout: float = 1800, env: dict | None = None) -> str:
    proc = subprocess.run(list(cmd), capture_output=True, text=True, check=False, timeout=timeout, env=env)
    if proc.returncode != 0:
        tail = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-25:])
        raise ImageError(f"{what} failed (exit {proc.returncode}): {' '.join(cmd)}\n{tail}")
    return proc.stdout + proc.stderr


def install_prefix(lock: Path, stage: Path, channels: Sequence[Path]) -> int:
    """Install the lock's packages into ``stage`` with ``/opt/fermi`` as their prefix; the package count."""
    import rattler

    by_url = farm_lock._channel_records(channels)
    records = []
    for pkg in farm_lock.read_lock(lock):
        if pkg.url not in by_url:
            raise ImageError(f"{lock}: {pkg.url} is in none of the local channels")
        records.append(by_url[pkg.url])
    if stage.exists():
        shutil.rmtree(stage)
    cache_dir = os.environ.get("RATTLER_CACHE_DIR")
    asyncio.run(
        rattler.install(
            records,
            stage,
            show_progress=False,
            cache_dir=Path(cache_dir) / "pkgs" if cache_dir else None,
            alternative_target_prefix=PREFIX,
        )
    )
    return len(records)


def walk(top: Path) -> Iterator[Path]:
    """``top`` and everything under it, sorted, symbolic links listed but never followed."""
    yield top
    if top.is_symlink() or not top.is_dir():
        return
    for dirpath, dirnames, filenames in os.walk(top):
        dirnames.sort()
        base = Path(dirpath)
        for name in sorted(dirnames + filenames):
            yield base / name


def elf_files(top: Path) -> list[Path]:
    """Regular files under ``top`` that are ELF objects (executables and shared libraries)."""
    found = []
    for path in walk(top):
        if path.is_file() and not path.is_symlink():
            with path.open("rb") as f:
                if f.read(4) == _ELF:
                    found.append(path)
    return found


def outside_libraries(
    files: Sequence[Path], inside: Path, ldd: Sequence[str] = ("ldd",)
) -> tuple[set[str], set[str]]:
    """``(system libraries needed from outside inside, sonames not found)`` of ``files`` per ``ldd``."""
    needed: set[str] = set()
    missing: set[str] = set()
    for i in range(0, len(files), 200):
        chunk = [str(f) for f in files[i : i + 200]]
        proc = subprocess.run([*ldd, *chunk], capture_output=True, text=True, check=False)
        for line in proc.stdout.splitlines():
            match = _LDD_LINE.match(line)
            if not match:
                continue
            soname, where = match.groups()
            if where == "not found":
                missing.add(soname)
            elif not Path(where).resolve().is_relative_to(inside.resolve()):
                needed.add(where)
    return needed, missing


def debian_packages(libraries: Iterable[str]) -> list[str]:
    """The Debian packages (``dpkg -S``) that install ``libraries`` on this builder."""
    libraries = sorted(set(libraries))
    if not libraries:
        return []
    proc = subprocess.run(["dpkg", "-S", *libraries], capture_output=True, text=True, check=False)
    owners: dict[str, str] = {}
    for line in proc.stdout.splitlines():
        pkgs, _, path = line.partition(": ")
        owners[path.strip()] = pkgs.split(",")[0].split(":")[0].strip()
    unowned = [lib for lib in libraries if lib not in owners]
    # merged /usr: dpkg may know the file under the other spelling
    retry = [lib.replace("/lib/", "/usr/lib/", 1) if lib.startswith("/lib/") else lib for lib in unowned]
    if retry:
        proc = subprocess.run(["dpkg", "-S", *retry], capture_output=True, text=True, check=False)
        for line in proc.stdout.splitlines():
            pkgs, _, path = line.partition(": ")
            owners[path.strip()] = pkgs.split(",")[0].split(":")[0].strip()
    still = [lib for lib, alt in zip(unowned, retry, strict=True) if lib not in owners and alt not in owners]
    if still:
        raise ImageError(
            f"the prefix needs libraries no Debian package provides on this builder: {', '.join(still)}"
        )
    return sorted(set(owners.values()))


def mmdebstrap(rootfs: Path, packages: Sequence[str], deb_cache: Path) -> None:
    """A Debian ``SUITE`` minbase root file system with ``packages`` at ``rootfs``.

    The downloaded ``.deb`` files are kept in ``deb_cache`` and offered to the next build
    (mmdebstrap's documented ``sync-in`` / ``sync-out`` hooks); they are removed from the image.
    """
    if shutil.which("mmdebstrap") is None:
        raise ImageError("mmdebstrap is not installed: apt-get install mmdebstrap (root)")
    if rootfs.exists():
        shutil.rmtree(rootfs)
    deb_cache.mkdir(parents=True, exist_ok=True)
    archives = "/var/cache/apt/archives/"
    cmd = ["mmdebstrap", "--quiet", "--mode=root", "--variant=minbase", "--format=directory"]
    if packages:
        cmd.append(f"--include={','.join(packages)}")
    cmd += [f"--dpkgopt={o}" for o in DPKG_OPTIONS]
    cmd += ["--skip=download/empty", "--skip=essential/unlink"]
    cmd += [f'--setup-hook=mkdir -p "$1"{archives}', f"--setup-hook=sync-in {deb_cache} {archives}"]
    cmd += [
        f"--customize-hook=sync-out {archives} {deb_cache}",
        f'--customize-hook=rm -f "$1"{archives}*.deb',
    ]
    cmd += [SUITE, str(rootfs), *MIRRORS]
    _run(cmd, "mmdebstrap")


def chroot_command(rootfs: Path, *argv: str) -> list[str]:
    """``chroot`` into ``rootfs`` with the image's environment only; ``/proc`` is mounted in a private namespace."""
    env = [f"{k}={v}" for k, v in IMAGE_ENV.items()]
    inner = shlex.join(["chroot", str(rootfs), "/usr/bin/env", "-i", *env, *argv])
    return [
        "unshare",
        "--mount",
        "--fork",
        "sh",
        "-c",
        f"mount -t proc proc {shlex.quote(str(rootfs))}/proc && exec {inner}",
    ]


def check_rootfs(rootfs: Path, hours: str) -> tuple[str, str, int, set[str]]:
    """Run the checks inside ``rootfs``: ``(gtselect usage line, demo summary, ELF files, sonames not found)``."""
    before = {d: set(os.listdir(rootfs / d)) for d in ("tmp", "root")}
    usage = _run(chroot_command(rootfs, f"{PREFIX}/bin/gtselect", "--help"), "gtselect --help in the image")
    if "usage: gtselect" not in usage:
        raise ImageError(f"gtselect --help in the image printed no usage line:\n{usage}")
    files = elf_files(rootfs / PREFIX.lstrip("/"))
    inner_paths = [f"/{f.relative_to(rootfs)}" for f in files]
    missing: set[str] = set()
    for i in range(0, len(inner_paths), 200):
        out = subprocess.run(
            chroot_command(rootfs, "ldd", *inner_paths[i : i + 200]),
            capture_output=True,
            text=True,
            check=False,
        ).stdout
        missing |= {
            m.group(1) for m in map(_LDD_LINE.match, out.splitlines()) if m and m.group(2) == "not found"
        }
    demo = local_channel.demo_command(f"{PREFIX}/bin/fermi-latsim", "/tmp/fermi-demo", hours)
    summary = local_channel.demo_summary(chroot_command(rootfs, *demo))
    for top, names in before.items():  # what the checks wrote (demo home, numba cache) is not shipped
        for child in sorted(set(os.listdir(rootfs / top)) - names):
            path = rootfs / top / child
            shutil.rmtree(path) if path.is_dir() and not path.is_symlink() else path.unlink()
    return usage.splitlines()[0], summary, len(files), missing


class _Sha256Writer(io.RawIOBase):
    """A write-only stream that hashes and counts what goes through it into ``target``."""

    def __init__(self, target: io.BufferedIOBase) -> None:
        self.target, self.sha, self.size = target, hashlib.sha256(), 0

    def writable(self) -> bool:
        return True

    def write(self, data: bytes) -> int:
        self.sha.update(data)
        self.size += len(data)
        self.target.write(data)
        return len(data)


def write_layer(rootfs: Path, members: Sequence[Path], blob_dir: Path, level: int) -> dict:
    """A gzip tar layer of ``members`` (paths under ``rootfs``, recursively); its OCI descriptor + diff id."""
    tmp = blob_dir / f"layer-{os.getpid()}-{id(members)}.tmp"
    with tmp.open("wb") as raw:
        compressed = _Sha256Writer(raw)
        with gzip.GzipFile(fileobj=compressed, mode="wb", compresslevel=level, mtime=0) as gz:
            plain = _Sha256Writer(gz)
            with tarfile.open(fileobj=plain, mode="w|", format=tarfile.PAX_FORMAT) as tar:
                for top in members:
                    for path in walk(top):
                        info = tar.gettarinfo(str(path), arcname=str(path.relative_to(rootfs)))
                        if info is None or info.type in (tarfile.CHRTYPE, tarfile.BLKTYPE, tarfile.FIFOTYPE):
                            continue
                        info.uname = info.gname = ""
                        if info.isreg():
                            with path.open("rb") as f:
                                tar.addfile(info, f)
                        else:
                            tar.addfile(info)
    digest = compressed.sha.hexdigest()
    tmp.rename(blob_dir / digest)
    return {
        "mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
        "digest": f"sha256:{digest}",
        "size": compressed.size,
        "diff_id": f"sha256:{plain.sha.hexdigest()}",
        "uncompressed": plain.size,
    }


def _blob(blob_dir: Path, data: bytes, media_type: str) -> dict:
    digest = hashlib.sha256(data).hexdigest()
    (blob_dir / digest).write_bytes(data)
    return {"mediaType": media_type, "digest": f"sha256:{digest}", "size": len(data)}


def write_oci_archive(rootfs: Path, archive: Path, version: str, level: int = 6) -> list[dict]:
    """Write ``rootfs`` as an OCI image archive (``oci-archive:`` of skopeo/podman/apptainer); the layers."""
    prefix_dir = rootfs / PREFIX.lstrip("/")
    base = [p for p in sorted(rootfs.iterdir()) if p.name != "opt"]
    base += [p for p in sorted((rootfs / "opt").iterdir()) if p != prefix_dir]
    base.insert(0, rootfs / "opt")
    with tempfile.TemporaryDirectory(dir=archive.parent, prefix=".oci-") as tmp:
        layout = Path(tmp)
        blob_dir = layout / "blobs" / "sha256"
        blob_dir.mkdir(parents=True)
        # /opt itself goes with the base layer (as a directory entry only), /opt/fermi in the second
        with ThreadPoolExecutor(max_workers=2) as pool:
            base_layer = pool.submit(write_layer, rootfs, base[1:], blob_dir, level)
            opt_layer = pool.submit(write_layer, rootfs, [prefix_dir], blob_dir, level)
            layers = [base_layer.result(), opt_layer.result()]
        created = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        config = {
            "created": created,
            "architecture": "amd64",
            "os": "linux",
            "config": {
                "Env": [f"{k}={v}" for k, v in IMAGE_ENV.items()],
                "Cmd": [f"{PREFIX}/bin/fermi-l1", "--help"],
                "WorkingDir": "/",
                "Labels": {
                    "org.opencontainers.image.title": "fermi-ground",
                    "org.opencontainers.image.version": version,
                    "org.opencontainers.image.source": check_recipes.REPOSITORY,
                },
            },
            "rootfs": {"type": "layers", "diff_ids": [layer["diff_id"] for layer in layers]},
            "history": [
                {"created": created, "created_by": f"mmdebstrap --variant=minbase {SUITE} (ci/image.py)"},
                {
                    "created": created,
                    "created_by": f"rattler install of envs/farm-linux-64.lock into {PREFIX}",
                },
            ],
        }
        config_desc = _blob(
            blob_dir, json.dumps(config, sort_keys=True).encode(), "application/vnd.oci.image.config.v1+json"
        )
        manifest = {
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": config_desc,
            "layers": [{k: layer[k] for k in ("mediaType", "digest", "size")} for layer in layers],
        }
        manifest_desc = _blob(
            blob_dir,
            json.dumps(manifest, sort_keys=True).encode(),
            "application/vnd.oci.image.manifest.v1+json",
        )
        manifest_desc["annotations"] = {"org.opencontainers.image.ref.name": version}
        (layout / "oci-layout").write_text(json.dumps({"imageLayoutVersion": "1.0.0"}))
        (layout / "index.json").write_text(json.dumps({"schemaVersion": 2, "manifests": [manifest_desc]}))
        with tarfile.open(archive, "w", format=tarfile.PAX_FORMAT) as tar:
            for name in ("oci-layout", "index.json", "blobs"):
                tar.add(layout / name, arcname=name)
    return layers


def tree_size(top: Path) -> int:
    """Bytes of the files under ``top`` (hard links counted once, symlinks not followed)."""
    seen: set[tuple[int, int]] = set()
    total = 0
    for dirpath, _dirs, names in os.walk(top):
        for name in names:
            st = os.lstat(os.path.join(dirpath, name))
            if (st.st_dev, st.st_ino) not in seen:
                seen.add((st.st_dev, st.st_ino))
                total += st.st_size
    return total


def _mib(n: int) -> str:
    return f"{n / (1 << 20):.0f} MiB"


def run(root: Path, cache: Path, out: Path, hours: str, level: int, timer: conda_build.Timer) -> None:
    """All the steps; raises on the first failure."""
    if os.geteuid() != 0:
        raise ImageError("make image needs root (mmdebstrap --mode=root and chroot)")
    meta = check_recipes.render_recipe(
        root / "recipes" / check_recipes.METAPACKAGE / "recipe.yaml", check_recipes.default_variants(root)
    )["package"]
    version = meta["version"]
    local_channel.ensure_channel(root, cache, timer)
    out.mkdir(parents=True, exist_ok=True)
    lock = out / "farm-linux-64.lock"
    with timer.step("farm lock (offline)") as note:
        records = farm_lock.write_lock(root, lock, offline=True, cache=cache)
        note.append(f"{len(records)} packages")
    stage = out / "stage" / "fermi"
    with timer.step(f"install the lock into {PREFIX} (staging)") as note:
        n = install_prefix(lock, stage, farm_lock.offline_channels(cache))
        note.append(f"{n} packages, {_mib(tree_size(stage))}")
    with timer.step("system libraries the prefix needs (ldd, dpkg -S)") as note:
        files = elf_files(stage)
        needed, missing_on_host = outside_libraries(files, stage)
        debs = debian_packages(needed)
        note.append(f"{len(files)} ELF files -> {len(debs)} Debian packages")
        print(f"   Debian packages for the prefix: {' '.join(debs)}")
        if missing_on_host:
            print(
                f"   not found on the builder either (optional, e.g. numba's TBB layer): {sorted(missing_on_host)}"
            )
    rootfs = out / "rootfs"
    with timer.step(f"mmdebstrap {SUITE} minbase") as note:
        mmdebstrap(rootfs, debs, cache / "debs")
        note.append(f"{_mib(tree_size(rootfs))} Debian")
        (rootfs / "opt").mkdir(exist_ok=True)
        stage.rename(rootfs / PREFIX.lstrip("/"))
        shutil.rmtree(out / "stage")
        (rootfs / "etc" / "profile.d" / "fermi.sh").write_text(f'export PATH="{PREFIX}/bin:$PATH"\n')
    with timer.step("check in chroot (gtselect --help, fermi-latsim demo)") as note:
        usage, summary, checked, missing = check_rootfs(rootfs, hours)
        print(f"   chroot {rootfs} gtselect --help: {usage}")
        print(f"   chroot {rootfs} fermi-latsim demo --hours {hours}:")
        print("\n".join(f"   | {line}" for line in summary.splitlines()))
        unexpected = missing - missing_on_host
        if unexpected:
            raise ImageError(
                f"libraries missing inside the image (found on the builder): {sorted(unexpected)}"
            )
        note.append(f"demo OK, {checked} ELF files resolve")
    archive = out / f"fermi-ground-{version}-linux-64.oci.tar"
    with timer.step("OCI image archive (2 gzip layers in parallel)") as note:
        layers = write_oci_archive(rootfs, archive, version, level)
        (out / "fermi-ground.def").write_text(
            APPTAINER_DEF.format(
                version=version, archive=archive.name, path=IMAGE_ENV["PATH"], source=check_recipes.REPOSITORY
            )
        )
        note.append(f"{_mib(archive.stat().st_size)}")
    if shutil.which("skopeo"):
        with timer.step("skopeo inspect oci-archive:") as note:
            info = json.loads(_run(["skopeo", "inspect", f"oci-archive:{archive}"], "skopeo inspect"))
            if len(info.get("Layers", [])) != 2:
                raise ImageError(
                    f"skopeo reads {len(info.get('Layers', []))} layers from {archive}, expected 2"
                )
            note.append(f"{info.get('Architecture')}/{info.get('Os')}, {len(info['Layers'])} layers")
    unpacked = sum(layer["uncompressed"] for layer in layers)
    print(
        f"\nimage: {archive}\n"
        f"  size: {_mib(archive.stat().st_size)} archive (gzip), {_mib(unpacked)} unpacked "
        f"(Debian base {_mib(layers[0]['uncompressed'])}, {PREFIX} {_mib(layers[1]['uncompressed'])}); "
        f"aim <= {_mib(SIZE_AIM)}: {'met' if unpacked <= SIZE_AIM else 'NOT met'}\n"
        f"  apptainer definition: {out / 'fermi-ground.def'}\n"
        f"  root file system (chroot-able): {rootfs}"
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Build and check the image; print the timing table and the sizes; 0 on success, 1 on failure."""
    parser = argparse.ArgumentParser(prog="ci/image.py", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--root", type=Path, default=monorepo.ROOT, help="monorepo root (default: %(default)s)"
    )
    parser.add_argument(
        "--cache", type=Path, help="CI cache (default: $FERMI_CI_CACHE, else ~/.cache/fermi-ground-ci)"
    )
    parser.add_argument("--output", type=Path, help="output folder (default: <cache>/image)")
    parser.add_argument(
        "--hours", default="0.05", help="hours simulated by the demo in the image (default: 0.05)"
    )
    parser.add_argument(
        "--gzip-level",
        type=int,
        default=1,
        help="layer compression level 1-9 (default: 1: half the time of 6, +12%% size)",
    )
    args = parser.parse_args(argv)
    root = args.root.resolve()
    cache = (args.cache or farm_lock.default_cache()).resolve()
    out = (args.output or cache / "image").resolve()
    timer = conda_build.Timer()
    try:
        run(root, cache, out, args.hours, args.gzip_level, timer)
    except (
        ImageError,
        conda_build.CondaBuildError,
        farm_lock.LockError,
        monorepo.MonorepoError,
        ValueError,
    ) as exc:
        print(f"\nERROR: {exc}", file=sys.stderr)
        print("\n" + timer.table())
        return 1
    print("\n" + timer.table())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
