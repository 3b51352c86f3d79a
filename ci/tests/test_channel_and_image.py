"""Tests of ci/channel.py (repodata layout) and ci/image.py (tree walk, OCI archive) on small inputs."""

from __future__ import annotations

import asyncio
import hashlib
import json
import shutil
import subprocess
import tarfile
from pathlib import Path

import channel
import image
import pytest


def _channel(tmp_path: Path) -> Path:
    rattler = pytest.importorskip("rattler")
    rb = pytest.importorskip("rattler_build")
    chan = tmp_path / "chan"
    (chan / "noarch").mkdir(parents=True)
    files = tmp_path / "files"
    files.mkdir()
    (files / "a.txt").write_text("a\n")
    rb.assemble_package("demo", "1.0", "noarch", "0", chan / "noarch", files_dir=files)
    asyncio.run(rattler.index.index_fs(chan, force=True))
    return chan


def test_indexed_channel_is_conda_index_compatible(tmp_path: Path):
    chan = _channel(tmp_path)
    assert channel.repodata_problems(chan) == []
    data = json.loads((chan / "noarch" / "repodata.json").read_text())
    assert data["info"]["subdir"] == "noarch"


def test_repodata_drift_is_reported(tmp_path: Path):
    chan = _channel(tmp_path)
    (archive,) = (chan / "noarch").glob("demo-1.0-0.*")
    shutil.copy2(archive, chan / "noarch" / archive.name.replace("demo-1.0", "demo-2.0"))
    archive.write_bytes(archive.read_bytes() + b"\0")
    problems = channel.repodata_problems(chan)
    assert any("demo-2.0-0" in p and "not in the repodata" in p for p in problems)
    assert any("size" in p for p in problems) and any("md5 differs" in p for p in problems)


def _tree(tmp_path: Path) -> Path:
    root = tmp_path / "rootfs"
    (root / "usr" / "bin").mkdir(parents=True)
    (root / "usr" / "bin" / "tool").write_text("#!/bin/sh\necho hi\n")
    (root / "bin").symlink_to("usr/bin")  # merged /usr: must not be followed
    (root / "opt" / "fermi" / "bin").mkdir(parents=True)
    (root / "opt" / "fermi" / "bin" / "python").write_bytes(b"\x7fELF fake")
    (root / "opt" / "fermi" / "bin" / "python3").symlink_to("python")
    return root


def test_walk_lists_symlinks_without_following_them(tmp_path: Path):
    root = _tree(tmp_path)
    names = [str(p.relative_to(root)) for p in image.walk(root)]
    assert "bin" in names and "bin/tool" not in names
    assert names == sorted(names, key=lambda n: n.split("/")) or names[0] == "."
    assert image.elf_files(root) == [root / "opt" / "fermi" / "bin" / "python"]


def test_oci_archive_has_two_layers_with_true_digests(tmp_path: Path):
    root = _tree(tmp_path)
    archive = tmp_path / "img.oci.tar"
    layers = image.write_oci_archive(root, archive, "0.1.0.dev0", level=1)
    with tarfile.open(archive) as tar:
        index = json.load(tar.extractfile("index.json"))
        (desc,) = index["manifests"]
        assert desc["annotations"]["org.opencontainers.image.ref.name"] == "0.1.0.dev0"
        manifest = json.load(tar.extractfile(f"blobs/sha256/{desc['digest'].split(':')[1]}"))
        config = json.load(tar.extractfile(f"blobs/sha256/{manifest['config']['digest'].split(':')[1]}"))
        assert config["rootfs"]["diff_ids"] == [layer["diff_id"] for layer in layers]
        names = []
        for layer in manifest["layers"]:
            blob = tar.extractfile(f"blobs/sha256/{layer['digest'].split(':')[1]}").read()
            assert hashlib.sha256(blob).hexdigest() == layer["digest"].split(":")[1]
            assert len(blob) == layer["size"]
            with tarfile.open(fileobj=__import__("io").BytesIO(blob), mode="r:gz") as inner:
                names.append(sorted(inner.getnames()))
    assert (
        "bin" in names[0] and "usr/bin/tool" in names[0] and not any(n.startswith("opt/") for n in names[0])
    )
    assert names[1] == ["opt/fermi", "opt/fermi/bin", "opt/fermi/bin/python", "opt/fermi/bin/python3"]
    if shutil.which("skopeo"):
        out = subprocess.run(
            ["skopeo", "inspect", f"oci-archive:{archive}"], capture_output=True, text=True, check=True
        ).stdout
        assert len(json.loads(out)["Layers"]) == 2


def test_debian_package_of_a_system_library():
    if shutil.which("dpkg") is None or not Path("/lib/x86_64-linux-gnu/libz.so.1").exists():
        pytest.skip("needs a Debian x86_64 system with zlib (dpkg -S)")
    assert image.debian_packages(["/lib/x86_64-linux-gnu/libz.so.1"]) == ["zlib1g"]
    with pytest.raises(image.ImageError, match="no Debian package provides"):
        image.debian_packages(["/nonexistent/libnothing.so.1"])


def test_chroot_command_quotes_every_argument():
    import shlex

    cmd = image.chroot_command(
        Path("/tmp/root fs"), "/opt/fermi/bin/fermi-latsim", "demo", "--home", "/tmp/a b"
    )
    assert cmd[:5] == ["unshare", "--mount", "--fork", "sh", "-c"]
    mount, _, inner = cmd[5].partition(" && exec ")
    assert shlex.split(mount) == ["mount", "-t", "proc", "proc", "/tmp/root fs/proc"]
    argv = shlex.split(inner)
    assert argv[:5] == ["chroot", "/tmp/root fs", "/usr/bin/env", "-i", "PATH=" + image.IMAGE_ENV["PATH"]]
    assert argv[-4:] == ["/opt/fermi/bin/fermi-latsim", "demo", "--home", "/tmp/a b"]
